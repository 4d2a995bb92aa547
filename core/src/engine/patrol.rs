//! Walking a round: the routes due today, start, scan, answer, report, finish.

use std::collections::BTreeSet;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Transaction, params};

use super::reference::{all, one, put_issue};
use super::{Engine, enqueue, ms};
use crate::checklist::{Answer, Template};
use crate::error::{Error, Result};
use crate::ids::{CheckpointId, IssueId, ResultId, RouteId, RunId, SiteId, VisitId, ZoneId};
use crate::issue::{Category, Issue, Severity, Source};
use crate::labels::LabelError;
use crate::lifecycle::{self, Report};
use crate::patrol::{ItemResult, Missed, PatrolRun, Visit, VisitMethod};
use crate::plausibility::ScanFlag;
use crate::route::Route;
use crate::site::{Checkpoint, Site, Zone};
use crate::user::Role;
use crate::wire::{IssueReport, OpBody, PatrolFinish, PatrolResult, PatrolStart, PatrolVisit};

/// Why a step of the round cannot be taken. Shown to the guard: Chinese, then English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// The route is not in this phone's data.
    #[error("找不到该路线，请先同步 / route not found on this phone; sync first")]
    NoSuchRoute,
    /// The site is not in this phone's data.
    #[error("找不到该小区的资料，请先同步 / this site's data is not on this phone; sync first")]
    NoSuchSite,
    /// No such round.
    #[error("找不到该巡查记录 / round not found")]
    NoSuchRound,
    /// No such visit.
    #[error("找不到该巡查点记录 / visit not found")]
    NoSuchVisit,
    /// No such issue.
    #[error("找不到该问题 / issue not found")]
    NoSuchIssue,
    /// The checklist has no such item.
    #[error("检查表中没有此项：{0} / no such checklist item: {0}")]
    NoSuchItem(String),
    /// No checklist for this zone kind.
    #[error("该区域没有检查表 / no checklist for this kind of place")]
    NoChecklist,
    /// Another round is still open.
    #[error("还有未结束的巡查，请先完成 / finish the round already under way first")]
    RoundUnderWay {
        /// The open round.
        run_id: RunId,
    },
    /// The scanned checkpoint is not on the route.
    #[error("该巡查点不在本路线上：{name} / this checkpoint is not on the route: {name}")]
    NotOnRoute {
        /// The checkpoint's name.
        name: String,
    },
    /// A checkpoint was skipped without a reason.
    #[error("未巡查的点需要说明原因：{name} / give a reason for the missed checkpoint {name}")]
    MissedWithoutReason {
        /// The checkpoint's name.
        name: String,
    },
    /// This role does not walk rounds.
    #[error("你的岗位不需要巡查 / your role does not walk rounds")]
    NotAPatrolRole,
}

/// A route due today, for the home screen.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteToday {
    /// The route.
    pub route: Route,
    /// Its site.
    pub site: Site,
    /// Rounds this user finished on it today.
    pub rounds_done: u32,
    /// A round of it under way, if any.
    pub under_way: Option<RunId>,
}

/// What a scan found.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanResult {
    /// The new visit.
    pub visit_id: VisitId,
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Its zone.
    pub zone: Zone,
    /// Plausibility flags raised (they never block).
    pub flags: Vec<ScanFlag>,
    /// The checklist to answer there.
    pub template: Template,
}

/// A visit's checklist with the answers given so far.
#[derive(Debug, Clone, PartialEq)]
pub struct VisitChecklist {
    /// The visit.
    pub visit: Visit,
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Its zone.
    pub zone: Zone,
    /// The checklist.
    pub template: Template,
    /// Answers given so far.
    pub results: Vec<ItemResult>,
}

/// How far a round has got.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The round.
    pub run: PatrolRun,
    /// Checkpoints on the route.
    pub total: u32,
    /// Checkpoints visited.
    pub visited: u32,
    /// Route checkpoints not yet visited, in walking order.
    pub remaining: Vec<CheckpointId>,
    /// Items answered.
    pub answered: u32,
    /// Of those, faults.
    pub faults: u32,
    /// Visits with plausibility flags.
    pub flagged: u32,
}

/// A problem to report, from a checklist fault or on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportDraft {
    /// Site; taken from the visit when there is one.
    pub site_id: Option<SiteId>,
    /// The visit it was found on.
    pub visit_id: Option<VisitId>,
    /// The checklist item that failed; its rule gives the category and severity.
    pub item_key: Option<String>,
    /// Zone, when not found at a visit.
    pub zone_id: Option<ZoneId>,
    /// Category; defaults to the item's.
    pub category: Option<Category>,
    /// Severity; defaults to the item's (and may only be raised above it).
    pub severity: Option<Severity>,
    /// Short title.
    pub title: String,
    /// Description.
    pub note: Option<String>,
    /// Photos (ids from `add_photo`).
    pub photos: Vec<String>,
    /// Fixed on the spot by the reporter.
    pub fixed_on_spot: bool,
    /// Patrol or desk.
    pub source: Source,
}

fn load_run(c: &rusqlite::Connection, run_id: RunId) -> Result<PatrolRun> {
    one(
        c,
        "SELECT data FROM runs WHERE id = ?1",
        &run_id.to_string(),
    )?
    .ok_or_else(|| FlowError::NoSuchRound.into())
}

fn load_visits(c: &rusqlite::Connection, run_id: RunId) -> Result<Vec<Visit>> {
    all(
        c,
        "SELECT data FROM visits WHERE run_id = ?1 ORDER BY at_ms, rowid",
        [run_id.to_string()],
    )
}

fn load_visit(c: &rusqlite::Connection, visit_id: VisitId) -> Result<Visit> {
    one(
        c,
        "SELECT data FROM visits WHERE id = ?1",
        &visit_id.to_string(),
    )?
    .ok_or_else(|| FlowError::NoSuchVisit.into())
}

fn load_results(c: &rusqlite::Connection, visit_id: VisitId) -> Result<Vec<ItemResult>> {
    all(
        c,
        "SELECT data FROM results WHERE visit_id = ?1 ORDER BY rowid",
        [visit_id.to_string()],
    )
}

fn save_run(tx: &Transaction<'_>, run: &PatrolRun) -> Result<()> {
    tx.execute(
        "INSERT INTO runs (id, route_id, site_id, patroller_id, started_at_ms, finished, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET finished = excluded.finished, data = excluded.data",
        params![
            run.id.to_string(),
            run.route_id.to_string(),
            run.site_id.to_string(),
            run.patroller_id.to_string(),
            ms(run.started_at),
            run.finished_at.is_some(),
            serde_json::to_string(run)?
        ],
    )?;
    Ok(())
}

impl Engine {
    fn site_required(&self, id: SiteId) -> Result<Site> {
        Ok(self.site(id)?.ok_or(FlowError::NoSuchSite)?)
    }

    /// The signed-in user's routes that run today (in each site's local date), with what has
    /// been done on them today.
    pub fn routes_today(&self) -> Result<Vec<RouteToday>> {
        let actor = self.actor()?;
        let now = self.now();
        let mut out = Vec::new();
        for route in self.routes()? {
            if !actor.works_on(route.site_id) {
                continue;
            }
            let Some(site) = self.site(route.site_id)? else {
                continue;
            };
            let today = now.to_zoned(site.tz()?);
            if !route.schedule.runs_on(today.date()) {
                continue;
            }
            let day_start = today.start_of_day().map_err(|_| Error::TimeOutOfRange)?;
            let (rounds_done, under_way) = self.store.read(|c| {
                let done: u32 = c.query_row(
                    "SELECT count(*) FROM runs WHERE route_id = ?1 AND patroller_id = ?2
                       AND finished = 1 AND started_at_ms >= ?3",
                    params![
                        route.id.to_string(),
                        actor.user_id.to_string(),
                        ms(day_start.timestamp())
                    ],
                    |r| r.get(0),
                )?;
                let open: Option<String> = c
                    .query_row(
                        "SELECT id FROM runs WHERE route_id = ?1 AND patroller_id = ?2 AND finished = 0",
                        params![route.id.to_string(), actor.user_id.to_string()],
                        |r| r.get(0),
                    )
                    .optional()?;
                let open = open
                    .map(|s| s.parse::<RunId>().map_err(|_| Error::Corrupt("run id")))
                    .transpose()?;
                Ok((done, open))
            })?;
            out.push(RouteToday {
                route,
                site,
                rounds_done,
                under_way,
            });
        }
        out.sort_by(|a, b| {
            let first = |r: &RouteToday| r.route.schedule.times.iter().min().copied();
            first(a)
                .cmp(&first(b))
                .then_with(|| a.route.name.cmp(&b.route.name))
        });
        Ok(out)
    }

    /// Start a round of a route.
    pub fn start_round(&self, route_id: RouteId) -> Result<RunId> {
        let actor = self.actor()?;
        if matches!(actor.role, Role::Admin | Role::Technician) {
            return Err(FlowError::NotAPatrolRole.into());
        }
        let route = self.route(route_id)?.ok_or(FlowError::NoSuchRoute)?;
        if !actor.works_on(route.site_id) {
            return Err(crate::lifecycle::RuleError::OtherSite.into());
        }
        let now = self.now();
        let run = PatrolRun {
            id: RunId::new(),
            site_id: route.site_id,
            route_id,
            patroller_id: actor.user_id,
            started_at: now,
            finished_at: None,
            missed: Vec::new(),
            flags: Vec::new(),
        };
        self.store.write(|tx| {
            let open: Option<String> = tx
                .query_row(
                    "SELECT id FROM runs WHERE patroller_id = ?1 AND finished = 0",
                    [actor.user_id.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(open) = open {
                let run_id = open.parse().map_err(|_| Error::Corrupt("run id"))?;
                return Err(FlowError::RoundUnderWay { run_id }.into());
            }
            save_run(tx, &run)?;
            enqueue(
                tx,
                now,
                &OpBody::PatrolStart(PatrolStart {
                    run_id: run.id,
                    route_id,
                }),
            )?;
            Ok(run.id)
        })
    }

    fn open_run(&self, run_id: RunId) -> Result<(PatrolRun, Route)> {
        let actor = self.actor()?;
        let run = self.store.read(|c| load_run(c, run_id))?;
        run.check_open_for(actor.user_id)?;
        let route = self.route(run.route_id)?.ok_or(FlowError::NoSuchRoute)?;
        Ok((run, route))
    }

    /// Scan a checkpoint label during a round. The label is verified offline; a label of another
    /// site, a forged or damaged one, or a code that is not ours is refused with its reason.
    pub fn scan(&self, run_id: RunId, token: &str) -> Result<ScanResult> {
        let (run, route) = self.open_run(run_id)?;
        let site = self.site_required(run.site_id)?;
        let others: Vec<Site> = self
            .sites()?
            .into_iter()
            .filter(|s| s.id != site.id)
            .collect();
        let known: BTreeSet<CheckpointId> =
            self.checkpoints(site.id)?.iter().map(|c| c.id).collect();
        let checkpoint_id = crate::labels::verify_for_site(token, &site, &others, &known)?;
        self.record_visit(
            run,
            route,
            checkpoint_id,
            VisitMethod::Qr,
            Some(token),
            None,
        )
    }

    /// Record a visit without a scan (label missing or unreadable), with the reason.
    pub fn visit_manually(
        &self,
        run_id: RunId,
        checkpoint_id: CheckpointId,
        reason: &str,
    ) -> Result<ScanResult> {
        crate::patrol::check_visit_reason(VisitMethod::Manual, Some(reason))?;
        let (run, route) = self.open_run(run_id)?;
        self.record_visit(
            run,
            route,
            checkpoint_id,
            VisitMethod::Manual,
            None,
            Some(reason),
        )
    }

    fn record_visit(
        &self,
        run: PatrolRun,
        route: Route,
        checkpoint_id: CheckpointId,
        method: VisitMethod,
        token: Option<&str>,
        reason: Option<&str>,
    ) -> Result<ScanResult> {
        let checkpoint = self
            .checkpoint(checkpoint_id)?
            .filter(|c| c.site_id == run.site_id)
            .ok_or(Error::Label(LabelError::UnknownCheckpoint))?;
        if route.position(checkpoint_id).is_none() {
            return Err(FlowError::NotOnRoute {
                name: checkpoint.name.clone(),
            }
            .into());
        }
        let zone = self
            .zone(checkpoint.zone_id)?
            .ok_or(FlowError::NoSuchSite)?;
        let template = self
            .template_for(zone.kind)?
            .ok_or(FlowError::NoChecklist)?;
        let now = self.now();
        self.store.write(|tx| {
            let earlier: Vec<(CheckpointId, Timestamp)> = load_visits(tx, run.id)?
                .into_iter()
                .map(|v| (v.checkpoint_id, v.at))
                .collect();
            let flags = crate::plausibility::check_scan(&route, &earlier, checkpoint_id, now);
            let visit = Visit {
                id: VisitId::new(),
                run_id: run.id,
                checkpoint_id,
                method,
                token: token.map(str::to_owned),
                reason: reason.map(str::to_owned),
                at: now,
                flags: flags.clone(),
            };
            tx.execute(
                "INSERT INTO visits (id, run_id, checkpoint_id, at_ms, data) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    visit.id.to_string(),
                    run.id.to_string(),
                    checkpoint_id.to_string(),
                    ms(now),
                    serde_json::to_string(&visit)?
                ],
            )?;
            enqueue(
                tx,
                now,
                &OpBody::PatrolVisit(PatrolVisit {
                    visit_id: visit.id,
                    run_id: run.id,
                    checkpoint_id,
                    method,
                    token: visit.token.clone(),
                    reason: visit.reason.clone(),
                    flags: flags.clone(),
                }),
            )?;
            Ok(ScanResult {
                visit_id: visit.id,
                checkpoint: checkpoint.clone(),
                zone: zone.clone(),
                flags,
                template: template.clone(),
            })
        })
    }

    /// A visit's checklist and the answers so far.
    pub fn checklist(&self, visit_id: VisitId) -> Result<VisitChecklist> {
        let (visit, results) = self
            .store
            .read(|c| Ok((load_visit(c, visit_id)?, load_results(c, visit_id)?)))?;
        let checkpoint = self
            .checkpoint(visit.checkpoint_id)?
            .ok_or(Error::Label(LabelError::UnknownCheckpoint))?;
        let zone = self
            .zone(checkpoint.zone_id)?
            .ok_or(FlowError::NoSuchSite)?;
        let template = self
            .template_for(zone.kind)?
            .ok_or(FlowError::NoChecklist)?;
        Ok(VisitChecklist {
            visit,
            checkpoint,
            zone,
            template,
            results,
        })
    }

    /// Answer a checklist item. The rules judge it (a reading out of range is a fault; a fault
    /// that needs a photo is refused without one). Answering again replaces the answer.
    pub fn answer(&self, visit_id: VisitId, item_key: &str, answer: Answer) -> Result<ItemResult> {
        let sheet = self.checklist(visit_id)?;
        self.open_run(sheet.visit.run_id)?;
        let item = sheet
            .template
            .item(item_key)
            .ok_or_else(|| FlowError::NoSuchItem(item_key.to_owned()))?;
        let outcome = item.judge(&answer)?;
        let result = ItemResult {
            id: ResultId::new(),
            visit_id,
            item_key: item_key.to_owned(),
            outcome,
            reading: answer.reading,
            note: answer.note.filter(|n| !n.trim().is_empty()),
            photos: answer.photos,
        };
        let now = self.now();
        self.store.write(|tx| {
            tx.execute(
                "DELETE FROM results WHERE visit_id = ?1 AND item_key = ?2",
                params![visit_id.to_string(), item_key],
            )?;
            tx.execute(
                "INSERT INTO results (id, visit_id, item_key, outcome, data) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    result.id.to_string(),
                    visit_id.to_string(),
                    item_key,
                    serde_json::to_value(outcome)?.as_str().unwrap_or("ok"),
                    serde_json::to_string(&result)?
                ],
            )?;
            enqueue(
                tx,
                now,
                &OpBody::PatrolResult(PatrolResult {
                    result_id: result.id,
                    visit_id,
                    item_key: result.item_key.clone(),
                    outcome,
                    reading: result.reading,
                    note: result.note.clone(),
                    photos: result.photos.clone(),
                }),
            )?;
            Ok(result.clone())
        })
    }

    /// Report a problem (or record one fixed on the spot). From a checklist fault the item's
    /// rule gives category and severity; the severity may be raised, never lowered.
    pub fn report(&self, draft: ReportDraft) -> Result<Issue> {
        let actor = self.actor()?;
        let mut zone_id = draft.zone_id;
        let mut checkpoint_id = None;
        let mut site_id = draft.site_id;
        let mut rule = None;
        if let Some(visit_id) = draft.visit_id {
            let sheet = self.checklist(visit_id)?;
            site_id = Some(sheet.checkpoint.site_id);
            zone_id = Some(sheet.zone.id);
            checkpoint_id = Some(sheet.checkpoint.id);
            if let Some(key) = &draft.item_key {
                let item = sheet
                    .template
                    .item(key)
                    .ok_or_else(|| FlowError::NoSuchItem(key.clone()))?;
                rule = Some(item.fault);
            }
        }
        let site = self.site_required(site_id.ok_or(FlowError::NoSuchSite)?)?;
        let category = draft
            .category
            .or(rule.map(|r| r.category))
            .unwrap_or(Category::Facility);
        let floor = rule.map_or(Severity::Routine, |r| r.severity);
        let severity = draft.severity.map_or(floor, |s| s.max(floor));
        let now = self.now();
        let report = Report {
            issue_id: IssueId::new(),
            site_id: site.id,
            zone_id,
            checkpoint_id,
            visit_id: draft.visit_id,
            category,
            severity,
            title: draft.title,
            note: draft.note.filter(|n| !n.trim().is_empty()),
            photos: draft.photos,
            observed_at: now,
            source: draft.source,
            fixed_on_spot: draft.fixed_on_spot,
        };
        let t = lifecycle::report(&actor, &site, report.clone())?;
        self.store.write(|tx| {
            put_issue(tx, &t.issue)?;
            enqueue(
                tx,
                now,
                &OpBody::IssueReport(IssueReport {
                    issue_id: report.issue_id,
                    site_id: report.site_id,
                    zone_id: report.zone_id,
                    checkpoint_id: report.checkpoint_id,
                    visit_id: report.visit_id,
                    category,
                    severity,
                    title: t.issue.title.clone(),
                    note: t.issue.note.clone(),
                    photos: t.issue.photos.clone(),
                    observed_at: now,
                    source: report.source,
                    fixed_on_spot: report.fixed_on_spot,
                }),
            )?;
            Ok(t.issue.clone())
        })
    }

    /// How far a round has got.
    pub fn progress(&self, run_id: RunId) -> Result<Progress> {
        let (run, visits, answered, faults) = self.store.read(|c| {
            let run = load_run(c, run_id)?;
            let visits = load_visits(c, run_id)?;
            let (answered, faults): (u32, u32) = c.query_row(
                "SELECT count(*), COALESCE(SUM(r.outcome = 'fault'), 0)
                 FROM results r JOIN visits v ON v.id = r.visit_id WHERE v.run_id = ?1",
                [run_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok((run, visits, answered, faults))
        })?;
        let route = self.route(run.route_id)?.ok_or(FlowError::NoSuchRoute)?;
        let seen: BTreeSet<CheckpointId> = visits.iter().map(|v| v.checkpoint_id).collect();
        let remaining: Vec<CheckpointId> = route
            .checkpoint_ids
            .iter()
            .filter(|c| !seen.contains(c))
            .copied()
            .collect();
        Ok(Progress {
            total: route.checkpoint_ids.len() as u32,
            visited: (route.checkpoint_ids.len() - remaining.len()) as u32,
            remaining,
            answered,
            faults,
            flagged: visits.iter().filter(|v| !v.flags.is_empty()).count() as u32,
            run,
        })
    }

    /// Finish a round. Every checkpoint of the route not visited needs a reason.
    pub fn finish_round(&self, run_id: RunId, missed: Vec<Missed>) -> Result<PatrolRun> {
        let (mut run, route) = self.open_run(run_id)?;
        let progress = self.progress(run_id)?;
        let mut reasons = Vec::new();
        for checkpoint_id in &progress.remaining {
            let reason = missed
                .iter()
                .find(|m| m.checkpoint_id == *checkpoint_id)
                .map(|m| m.reason.trim())
                .filter(|r| !r.is_empty());
            let Some(reason) = reason else {
                let name = self
                    .checkpoint(*checkpoint_id)?
                    .map_or_else(|| checkpoint_id.to_string(), |c| c.name);
                return Err(FlowError::MissedWithoutReason { name }.into());
            };
            reasons.push(Missed {
                checkpoint_id: *checkpoint_id,
                reason: reason.to_owned(),
            });
        }
        let now = self.now();
        run.finished_at = Some(now);
        run.missed = reasons;
        run.flags = crate::plausibility::check_round(&route, run.started_at, now);
        self.store.write(|tx| {
            save_run(tx, &run)?;
            enqueue(
                tx,
                now,
                &OpBody::PatrolFinish(PatrolFinish {
                    run_id,
                    missed: run.missed.clone(),
                    flags: run.flags.clone(),
                }),
            )?;
            Ok(run.clone())
        })
    }

    /// The answers recorded at a visit.
    pub fn results_of(&self, visit_id: VisitId) -> Result<Vec<ItemResult>> {
        self.store.read(|c| load_results(c, visit_id))
    }
}
