//! Walking a round: the routes due today, start, scan, answer, report, finish.

use std::collections::BTreeSet;

use rusqlite::{OptionalExtension, Transaction, params};

use super::reference::{all, one, put_issue, template_in};
use super::{Engine, actor_in, enqueue, ms};
use crate::checklist::{Answer, Template};
use crate::error::{Error, FlowError, Result};
use crate::ids::{CheckpointId, IssueId, ResultId, RouteId, RunId, SiteId, VisitId, ZoneId};
use crate::issue::{Category, Issue, Severity, Source};
use crate::lifecycle::{self, Found, Report, RuleError};
use crate::patrol::{ItemResult, Missed, PatrolRun, Visit, VisitMethod};
use crate::plausibility::ScanFlag;
use crate::round::{self, How, Round, RoundError, Spot};
use crate::route::Route;
use crate::site::{Checkpoint, Site, Zone};
use crate::wire::{IssueReport, OpBody, PatrolFinish, PatrolResult, PatrolStart, PatrolVisit};

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
    /// Scanned or entered by hand.
    pub method: VisitMethod,
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
    pub remaining: Vec<Checkpoint>,
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
    .ok_or_else(|| RoundError::UnknownRun.into())
}

/// A round with its route and site, read on `c`.
fn round_parts_in(c: &rusqlite::Connection, run_id: RunId) -> Result<(PatrolRun, Route, Site)> {
    let run = load_run(c, run_id)?;
    let route: Route = one(
        c,
        "SELECT data FROM routes WHERE id = ?1",
        &run.route_id.to_string(),
    )?
    .ok_or(RoundError::UnknownRoute)?;
    let site: Site = one(
        c,
        "SELECT data FROM sites WHERE id = ?1",
        &run.site_id.to_string(),
    )?
    .ok_or(FlowError::NoSuchSite)?;
    Ok((run, route, site))
}

/// The zone of a checkpoint, read on `c` in one statement.
fn checkpoint_zone(c: &rusqlite::Connection, checkpoint: CheckpointId) -> Result<Zone> {
    let row: Option<Option<String>> = c
        .prepare_cached(
            "SELECT z.data FROM checkpoints c LEFT JOIN zones z ON z.id = c.zone_id
             WHERE c.id = ?1",
        )?
        .query_row([checkpoint.to_string()], |r| r.get(0))
        .optional()?;
    let json = row
        .ok_or(RoundError::UnknownCheckpoint)?
        .ok_or(FlowError::NoSuchSite)?;
    Ok(serde_json::from_str(&json)?)
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
    .ok_or_else(|| RoundError::UnknownVisit.into())
}

fn load_results(c: &rusqlite::Connection, visit_id: VisitId) -> Result<Vec<ItemResult>> {
    all(
        c,
        "SELECT data FROM results WHERE visit_id = ?1 ORDER BY answered",
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
            let day_start = today
                .start_of_day()
                .map_err(|_| crate::time::TimeError::OutOfRange)?;
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
        let route = self.route(route_id)?.ok_or(RoundError::UnknownRoute)?;
        let now = self.now();
        let run = round::start(&actor, &route, RunId::new(), now)?;
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

    /// A round with its route and site, as the rules need it.
    fn round_parts(&self, run_id: RunId) -> Result<(PatrolRun, Route, Site)> {
        self.store.read(|c| round_parts_in(c, run_id))
    }

    /// Scan a checkpoint label during a round. The label is verified offline; a label of another
    /// site, a forged or damaged one, or a code that is not ours is refused with its reason.
    pub fn scan(&self, run_id: RunId, token: &str) -> Result<ScanResult> {
        let (run, route, site) = self.round_parts(run_id)?;
        Round {
            run: &run,
            route: &route,
            site: &site,
        }
        .check_open_for(&self.actor()?)?;
        let (others, known) = self.label_context(&site)?;
        let checkpoint_id = round::read_label(token, &site, &others, &known)?;
        self.record_visit(&run, &route, &site, checkpoint_id, How::Scanned(token))
    }

    /// Record a visit without a scan (label missing or unreadable), with the reason.
    pub fn visit_manually(
        &self,
        run_id: RunId,
        checkpoint_id: CheckpointId,
        reason: &str,
    ) -> Result<ScanResult> {
        let (run, route, site) = self.round_parts(run_id)?;
        self.record_visit(&run, &route, &site, checkpoint_id, How::ByHand(reason))
    }

    /// The signed-in person's other sites and the site's checkpoints: what a label is read with
    /// (the server reads it with the same, so both name a neighbour's label alike).
    fn label_context(&self, site: &Site) -> Result<(Vec<Site>, BTreeSet<CheckpointId>)> {
        let actor = self.actor()?;
        let others = self
            .sites()?
            .into_iter()
            .filter(|s| s.id != site.id && actor.works_on(s.id))
            .collect();
        let known = self.checkpoints(site.id)?.iter().map(|c| c.id).collect();
        Ok((others, known))
    }

    fn record_visit(
        &self,
        run: &PatrolRun,
        route: &Route,
        site: &Site,
        checkpoint_id: CheckpointId,
        how: How<'_>,
    ) -> Result<ScanResult> {
        let actor = self.actor()?;
        let checkpoint = self.checkpoint(checkpoint_id)?;
        let (others, known) = self.label_context(site)?;
        let now = self.now();
        self.store.write(|tx| {
            let earlier = load_visits(tx, run.id)?;
            let visit = Round { run, route, site }.visit(
                &actor,
                Spot {
                    checkpoint_id,
                    checkpoint: checkpoint.as_ref(),
                    others: &others,
                    known: &known,
                },
                how,
                &earlier,
                VisitId::new(),
                now,
            )?;
            let checkpoint = checkpoint.clone().ok_or(RoundError::UnknownCheckpoint)?;
            let zone = self.zone_in(tx, checkpoint.zone_id)?;
            let template = self
                .template_for(zone.kind)?
                .ok_or(FlowError::NoChecklist)?;
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
                    method: visit.method,
                    token: visit.token.clone(),
                    reason: visit.reason.clone(),
                    flags: visit.flags.clone(),
                }),
            )?;
            Ok(ScanResult {
                visit_id: visit.id,
                method: visit.method,
                checkpoint,
                zone,
                flags: visit.flags,
                template,
            })
        })
    }

    fn zone_in(&self, c: &rusqlite::Connection, id: ZoneId) -> Result<Zone> {
        one(c, "SELECT data FROM zones WHERE id = ?1", &id.to_string())?
            .ok_or_else(|| FlowError::NoSuchSite.into())
    }

    /// A visit's checklist and the answers so far.
    pub fn checklist(&self, visit_id: VisitId) -> Result<VisitChecklist> {
        let (visit, results) = self
            .store
            .read(|c| Ok((load_visit(c, visit_id)?, load_results(c, visit_id)?)))?;
        let checkpoint = self
            .checkpoint(visit.checkpoint_id)?
            .ok_or(RoundError::UnknownCheckpoint)?;
        let zone = self.store.read(|c| self.zone_in(c, checkpoint.zone_id))?;
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
        let now = self.now();
        // Everything the rules judge is read in the transaction that writes the answer and its
        // op, on its connection, with cached statements: nothing can change in between (a round
        // finished on another thread), and no more is read than the rules need.
        self.store.write(|tx| {
            let actor = actor_in(tx)?;
            let visit = load_visit(tx, visit_id)?;
            let zone = checkpoint_zone(tx, visit.checkpoint_id)?;
            let template = template_in(tx, zone.kind)?.ok_or(FlowError::NoChecklist)?;
            let (run, route, site) = round_parts_in(tx, visit.run_id)?;
            let result = Round {
                run: &run,
                route: &route,
                site: &site,
            }
            .answer(
                &actor,
                &visit,
                &template,
                item_key,
                &answer,
                ResultId::new(),
            )?;
            let visit_key = visit_id.to_string();
            // A re-answered item replaces its answer, which then comes last.
            tx.prepare_cached(
                "INSERT INTO results (id, visit_id, item_key, answered, outcome, data)
                 VALUES (?1, ?2, ?3,
                         (SELECT COALESCE(MAX(answered), 0) + 1 FROM results WHERE visit_id = ?2),
                         ?4, ?5)
                 ON CONFLICT (visit_id, item_key) DO UPDATE SET id = excluded.id,
                     answered = excluded.answered, outcome = excluded.outcome,
                     data = excluded.data",
            )?
            .execute(params![
                result.id.to_string(),
                visit_key,
                item_key,
                serde_json::to_value(result.outcome)?
                    .as_str()
                    .unwrap_or("ok"),
                serde_json::to_string(&result)?
            ])?;
            enqueue(
                tx,
                now,
                &OpBody::PatrolResult(PatrolResult {
                    result_id: result.id,
                    visit_id,
                    item_key: result.item_key.clone(),
                    outcome: result.outcome,
                    reading: result.reading,
                    note: result.note.clone(),
                    photos: result.photos.clone(),
                }),
            )?;
            Ok(result)
        })
    }

    /// Report a problem (or record one fixed on the spot). From a checklist fault the item's
    /// rule gives category and severity; the severity may be raised, never lowered.
    pub fn report(&self, draft: ReportDraft) -> Result<Issue> {
        let actor = self.actor()?;
        let sheet = draft.visit_id.map(|v| self.checklist(v)).transpose()?;
        let run = sheet
            .as_ref()
            .map(|s| self.store.read(|c| load_run(c, s.visit.run_id)))
            .transpose()?;
        let item = match (&sheet, &draft.item_key) {
            (Some(s), Some(key)) => Some(
                s.template
                    .item(key)
                    .cloned()
                    .ok_or_else(|| RuleError::UnknownItem { key: key.clone() })?,
            ),
            _ => None,
        };
        let site_id = sheet
            .as_ref()
            .map(|s| s.checkpoint.site_id)
            .or(draft.site_id)
            .ok_or(FlowError::NoSuchSite)?;
        let site = self.site_required(site_id)?;
        let zone = match (&sheet, draft.zone_id) {
            (Some(s), _) => Some(s.zone.clone()),
            (None, Some(z)) => self.zone(z)?,
            (None, None) => None,
        };
        let category = draft
            .category
            .or(item.as_ref().map(|i| i.fault.category))
            .unwrap_or(Category::Facility);
        let floor = item
            .as_ref()
            .map_or(Severity::Routine, |i| i.fault.severity);
        let severity = draft.severity.map_or(floor, |s| s.max(floor));
        let now = self.now();
        let report = Report {
            issue_id: IssueId::new(),
            site_id: site.id,
            zone_id: sheet.as_ref().map(|s| s.zone.id).or(draft.zone_id),
            checkpoint_id: sheet.as_ref().map(|s| s.checkpoint.id),
            visit_id: draft.visit_id,
            item_key: item.as_ref().map(|i| i.key.clone()),
            category,
            severity,
            title: draft.title,
            note: draft.note,
            photos: draft.photos,
            observed_at: now,
            source: draft.source,
            fixed_on_spot: draft.fixed_on_spot,
        };
        let found = Found {
            zone: zone.as_ref(),
            checkpoint: sheet.as_ref().map(|s| &s.checkpoint),
            visit: sheet.as_ref().zip(run.as_ref()).map(|(s, r)| (&s.visit, r)),
            item: item.as_ref(),
        };
        let t = lifecycle::report(&actor, &site, report.clone(), &found)?;
        self.store.write(|tx| {
            put_issue(tx, &t.issue)?;
            enqueue(
                tx,
                now,
                &OpBody::IssueReport(IssueReport {
                    issue_id: t.issue.id,
                    site_id: t.issue.site_id,
                    zone_id: report.zone_id,
                    checkpoint_id: report.checkpoint_id,
                    visit_id: report.visit_id,
                    item_key: report.item_key.clone(),
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
        let route = self.route(run.route_id)?.ok_or(RoundError::UnknownRoute)?;
        let seen: BTreeSet<CheckpointId> = visits.iter().map(|v| v.checkpoint_id).collect();
        let mut remaining = Vec::new();
        for id in route.checkpoint_ids.iter().filter(|c| !seen.contains(c)) {
            remaining.push(self.checkpoint(*id)?.ok_or(RoundError::UnknownCheckpoint)?);
        }
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
        let actor = self.actor()?;
        let (run, route, site) = self.round_parts(run_id)?;
        let visits = self.store.read(|c| load_visits(c, run_id))?;
        let names = self.checkpoints(site.id)?;
        let name_of = |id: CheckpointId| names.iter().find(|c| c.id == id).map(|c| c.name.clone());
        let now = self.now();
        let run = Round {
            run: &run,
            route: &route,
            site: &site,
        }
        .finish(&actor, &visits, &missed, now, &name_of)?;
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
