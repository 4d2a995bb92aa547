//! `serve --demo`: a demo estate from the standard catalogue, one user of each role, and a
//! history that shows every state a supervisor meets — overdue, due soon, escalated, waiting for
//! sign-off, signed off with photos, an extension to decide, residents' reports; today's rounds
//! done, late and missed; a finished month for the report. Everything after the reference data
//! goes in as ops of the demo people's own devices, through the same rules as a phone's, so the
//! demo can only show what the product allows. Loaded once; a restart keeps what was done.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp, ToSpan};
use patrol_core::checklist::{Catalogue, ItemKind};
use patrol_core::ids::{DeviceId, IssueId, OpId, ResultId, RunId, VisitId};
use patrol_core::issue::{Category, Severity, Source};
use patrol_core::labels::SiteKey;
use patrol_core::patrol::{Missed, Outcome, VisitMethod};
use patrol_core::route::Route;
use patrol_core::site::{Checkpoint, Site, ZoneKind};
use patrol_core::user::{Actor, User};
use patrol_core::wire::{
    ExtensionRequestOp, IssueAssign, IssueFollowUp, IssueReport, IssueResolve, IssueStart,
    IssueVerify, Op, OpBody, OpStatus, PatrolFinish, PatrolResult, PatrolStart, PatrolVisit,
};

use crate::auth::hash_password;
use crate::blobs::Blobs;
use crate::error::ApiError;
use crate::store::Store;
use crate::sync::{Applied, PushContext};

/// The demo site's code.
pub const CODE: &str = "demo";
/// Every demo user's password.
pub const PASSWORD: &str = "demo";

/// Load the demo estate unless it is there already. Returns whether it was loaded now.
pub async fn load(store: &dyn Store, blobs: &Blobs) -> Result<bool, ApiError> {
    if store.site_by_code(CODE).await?.is_some() {
        return Ok(false);
    }
    let key = SiteKey::generate().map_err(|e| ApiError::internal(&e))?;
    let mut estate = patrol_core::demo::estate(CODE, "阳光花园（演示）", &key);
    let now = Timestamp::now();
    let tz = estate.site.tz().map_err(|e| ApiError::internal(&e))?;
    // Today's building rounds fall a few hours before the demo starts, so that one is done, one
    // late and one missed whenever it is started (at night, fewer of them fit into today).
    let local = now.to_zoned(tz.clone());
    let hour = local.hour();
    let slots: Vec<jiff::civil::Time> = [5i8, 3, 1]
        .into_iter()
        .filter(|h| hour >= *h)
        .map(|h| jiff::civil::Time::constant(hour - h, 0, 0, 0))
        .collect();
    if !slots.is_empty() {
        estate.routes[0].schedule.times = slots.clone();
    }
    for t in &Catalogue::standard().templates {
        store.put_template(t).await?;
    }
    store.put_site(&estate.site, &key.secret_base64()).await?;
    for z in &estate.zones {
        store.put_zone(z).await?;
    }
    for c in &estate.checkpoints {
        store.put_checkpoint(c).await?;
    }
    for r in &estate.routes {
        store.put_route(r).await?;
    }
    let hash = hash_password(PASSWORD)?;
    for u in &estate.users {
        store.add_user(u, &hash).await?;
    }
    let demo = Demo::new(store, blobs, &estate).await?;
    demo.history(now, &tz, &slots).await?;
    Ok(true)
}

/// The demo people acting through the rules.
struct Demo<'a> {
    store: &'a dyn Store,
    blobs: &'a Blobs,
    estate: &'a patrol_core::demo::Estate,
    /// Each person's device, with what it has looked up so far.
    devices: tokio::sync::Mutex<HashMap<String, PushContext>>,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(&e)
}

impl<'a> Demo<'a> {
    async fn new(
        store: &'a dyn Store,
        blobs: &'a Blobs,
        estate: &'a patrol_core::demo::Estate,
    ) -> Result<Demo<'a>, ApiError> {
        let mut devices = HashMap::new();
        for u in &estate.users {
            let device = DeviceId::new();
            store
                .touch_device(device, u.id, 0, Timestamp::now())
                .await?;
            let ctx = PushContext::new(
                Actor::from(u),
                device,
                Timestamp::now(),
                SignedDuration::ZERO,
                vec![estate.site.clone()],
                HashMap::new(),
            )
            .numbered_here();
            devices.insert(u.username.clone(), ctx);
        }
        Ok(Demo {
            store,
            blobs,
            estate,
            devices: tokio::sync::Mutex::new(devices),
        })
    }

    fn user(&self, username: &str) -> Result<&User, ApiError> {
        self.estate
            .user(username)
            .ok_or_else(|| internal(format!("no demo user {username}")))
    }

    fn site(&self) -> &Site {
        &self.estate.site
    }

    /// One op by `username`, made at `at`; it must be applied (the demo shows only what the
    /// rules allow).
    async fn op(&self, username: &str, at: Timestamp, body: OpBody) -> Result<(), ApiError> {
        let named: Vec<String> = body.blobs().into_iter().map(str::to_owned).collect();
        let known = self.store.blobs(&named).await?;
        let mut devices = self.devices.lock().await;
        let ctx = devices
            .get_mut(username)
            .ok_or_else(|| internal(format!("no demo user {username}")))?;
        ctx.blobs.extend(known);
        let kind = body.kind();
        let op = Op::new(OpId::new(), 0, at, &body);
        let batch = crate::sync::Batch::begin(self.store).await?;
        let applied = crate::sync::apply(&batch, ctx, &op).await?;
        batch.commit().await?;
        match applied {
            Applied::Result(r) if r.status == OpStatus::Applied => Ok(()),
            Applied::Result(r) => Err(internal(format!(
                "demo {kind} by {username} refused: {} {}",
                r.code.unwrap_or_default(),
                r.message.unwrap_or_default()
            ))),
            Applied::OutOfOrder(_) => Err(internal("demo op out of order")),
        }
    }

    /// A picture stored as a blob: a photo (JPEG) or a signature (PNG).
    async fn blob(&self, bytes: Vec<u8>) -> Result<String, ApiError> {
        let sha = patrol_core::blob::sha256_hex(&bytes);
        let info = patrol_core::blob::check_upload(&bytes, &sha).map_err(internal)?;
        let size = bytes.len() as u64;
        self.blobs.put(&sha, bytes).await.map_err(internal)?;
        self.store
            .add_blob(&sha, size, &info, Timestamp::now())
            .await?;
        Ok(sha)
    }

    async fn photo(&self, seed: u8) -> Result<String, ApiError> {
        self.blob(photo(seed)).await
    }

    async fn signature(&self, seed: u8) -> Result<String, ApiError> {
        self.blob(signature(seed)).await
    }

    fn checkpoint(&self, kind: ZoneKind) -> Result<&Checkpoint, ApiError> {
        let zone = self
            .estate
            .zones
            .iter()
            .find(|z| z.kind == kind)
            .ok_or_else(|| internal("demo zone"))?;
        self.estate
            .checkpoints
            .iter()
            .find(|c| c.zone_id == zone.id)
            .ok_or_else(|| internal("demo checkpoint"))
    }

    /// Walk `route` from `start`: every checkpoint scanned a couple of minutes apart and every
    /// item answered; `skip` checkpoints are left out with a reason; a fault of the first
    /// photographed item at `fault_at` (a checkpoint index) is reported. Returns the report's
    /// issue, if any.
    async fn walk(
        &self,
        route: &Route,
        start: Timestamp,
        skip: &[usize],
        fault_at: Option<usize>,
    ) -> Result<Option<IssueId>, ApiError> {
        let who = "demo-patrol";
        let run_id = RunId::new();
        self.op(
            who,
            start,
            OpBody::PatrolStart(PatrolStart {
                run_id,
                route_id: route.id,
            }),
        )
        .await?;
        let mut at = start;
        let mut missed = Vec::new();
        let mut reported = None;
        for (n, cp_id) in route.checkpoint_ids.iter().enumerate() {
            if skip.contains(&n) {
                missed.push(Missed {
                    checkpoint_id: *cp_id,
                    reason: "天台门维修中，工程部已封闭".to_owned(),
                });
                continue;
            }
            let cp = self
                .estate
                .checkpoints
                .iter()
                .find(|c| c.id == *cp_id)
                .ok_or_else(|| internal("demo route checkpoint"))?;
            let zone = self
                .estate
                .zone_of(*cp_id)
                .ok_or_else(|| internal("demo zone of checkpoint"))?;
            let template = Catalogue::standard()
                .for_zone(zone.kind)
                .ok_or_else(|| internal("demo checklist"))?;
            at += SignedDuration::from_secs(150);
            let visit_id = VisitId::new();
            self.op(
                who,
                at,
                OpBody::PatrolVisit(PatrolVisit {
                    visit_id,
                    run_id,
                    checkpoint_id: cp.id,
                    method: VisitMethod::Qr,
                    token: Some(cp.qr_token.clone()),
                    reason: None,
                    flags: vec![],
                }),
            )
            .await?;
            let faulty = (fault_at == Some(n))
                .then(|| {
                    template
                        .items
                        .iter()
                        .find(|i| i.photo_on_fault && matches!(i.kind, ItemKind::Check))
                })
                .flatten();
            for item in &template.items {
                at += SignedDuration::from_secs(10);
                let is_fault = faulty.is_some_and(|f| f.key == item.key);
                let photos = if is_fault {
                    vec![self.photo(n as u8).await?]
                } else {
                    vec![]
                };
                let (outcome, reading, note) = match &item.kind {
                    ItemKind::Reading {
                        normal_min,
                        normal_max,
                        ..
                    } => (
                        Outcome::Ok,
                        Some(match (normal_min, normal_max) {
                            (Some(lo), Some(hi)) => (lo + hi) / 2.0,
                            (Some(lo), None) => *lo,
                            (None, Some(hi)) => *hi,
                            (None, None) => 0.0,
                        }),
                        None,
                    ),
                    ItemKind::Text => (Outcome::Ok, None, Some("正常".to_owned())),
                    ItemKind::Check if is_fault => {
                        (Outcome::Fault, None, Some("灯具不亮".to_owned()))
                    }
                    ItemKind::Check => (Outcome::Ok, None, None),
                };
                self.op(
                    who,
                    at,
                    OpBody::PatrolResult(PatrolResult {
                        result_id: ResultId::new(),
                        visit_id,
                        item_key: item.key.clone(),
                        outcome,
                        reading,
                        note,
                        photos: photos.clone(),
                    }),
                )
                .await?;
                if is_fault {
                    let issue_id = IssueId::new();
                    self.op(
                        who,
                        at,
                        OpBody::IssueReport(IssueReport {
                            issue_id,
                            site_id: self.site().id,
                            zone_id: Some(zone.id),
                            checkpoint_id: Some(cp.id),
                            visit_id: Some(visit_id),
                            item_key: Some(item.key.clone()),
                            category: item.fault.category,
                            severity: item.fault.severity,
                            title: format!("{}：{}", cp.name, item.text.zh),
                            note: Some("巡查时发现，已拍照".to_owned()),
                            photos,
                            observed_at: at,
                            source: Source::Patrol,
                            fixed_on_spot: false,
                        }),
                    )
                    .await?;
                    reported = Some(issue_id);
                }
            }
        }
        at += SignedDuration::from_secs(120);
        self.op(
            who,
            at,
            OpBody::PatrolFinish(PatrolFinish {
                run_id,
                missed,
                flags: vec![],
            }),
        )
        .await?;
        Ok(reported)
    }

    /// Report a problem by `who` at `at`.
    #[allow(clippy::too_many_arguments)]
    async fn report(
        &self,
        who: &str,
        at: Timestamp,
        kind: ZoneKind,
        category: Category,
        severity: Severity,
        title: &str,
        source: Source,
        photos: Vec<String>,
    ) -> Result<IssueId, ApiError> {
        let cp = self.checkpoint(kind)?;
        let issue_id = IssueId::new();
        self.op(
            who,
            at,
            OpBody::IssueReport(IssueReport {
                issue_id,
                site_id: self.site().id,
                zone_id: Some(cp.zone_id),
                checkpoint_id: (source == Source::Patrol).then_some(cp.id),
                visit_id: None,
                item_key: None,
                category,
                severity,
                title: title.to_owned(),
                note: (source == Source::Desk)
                    .then(|| "住户来电：5栋2单元1203 王女士，电话 138****6621".to_owned()),
                photos,
                observed_at: at,
                source,
                fixed_on_spot: false,
            }),
        )
        .await?;
        Ok(issue_id)
    }

    /// A job taken from report to `until`: assigned to the team's technician, started,
    /// resolved with a photo, verified (accepted or not) with a signature.
    async fn work(
        &self,
        issue: IssueId,
        at: Timestamp,
        until: Stage,
        tech: &str,
    ) -> Result<(), ApiError> {
        let h = |n: i64| at + SignedDuration::from_mins(n * 60);
        let assignee = self.user(tech)?.id;
        self.op(
            "demo-super",
            h(1),
            OpBody::IssueAssign(IssueAssign {
                issue_id: issue,
                assignee_id: assignee,
            }),
        )
        .await?;
        if until == Stage::Assigned {
            return Ok(());
        }
        self.op(
            tech,
            h(2),
            OpBody::IssueStart(IssueStart { issue_id: issue }),
        )
        .await?;
        if until == Stage::Started {
            return Ok(());
        }
        let fix = self.photo(200).await?;
        self.op(
            tech,
            h(5),
            OpBody::IssueResolve(IssueResolve {
                issue_id: issue,
                note: Some("已更换灯管并试亮".to_owned()),
                photos: vec![fix],
            }),
        )
        .await?;
        match until {
            Stage::Rejected => {
                self.op(
                    "demo-super",
                    h(6),
                    OpBody::IssueVerify(IssueVerify {
                        issue_id: issue,
                        accepted: false,
                        note: Some("仍有闪烁，请重新检查线路".to_owned()),
                        signature: None,
                        photos: vec![],
                    }),
                )
                .await?;
                let again = self.photo(201).await?;
                self.op(
                    tech,
                    h(9),
                    OpBody::IssueResolve(IssueResolve {
                        issue_id: issue,
                        note: Some("更换镇流器，已正常".to_owned()),
                        photos: vec![again],
                    }),
                )
                .await?;
                self.sign_off(issue, h(10)).await
            }
            Stage::Closed => self.sign_off(issue, h(6)).await,
            _ => Ok(()),
        }
    }

    async fn sign_off(&self, issue: IssueId, at: Timestamp) -> Result<(), ApiError> {
        let sig = self.signature(1).await?;
        let seen = self.photo(202).await?;
        self.op(
            "demo-super",
            at,
            OpBody::IssueVerify(IssueVerify {
                issue_id: issue,
                accepted: true,
                note: Some("现场验收合格".to_owned()),
                signature: Some(sig),
                photos: vec![seen],
            }),
        )
        .await
    }

    async fn history(
        &self,
        now: Timestamp,
        tz: &jiff::tz::TimeZone,
        slots: &[jiff::civil::Time],
    ) -> Result<(), ApiError> {
        let ago = |hours: i64| now - SignedDuration::from_hours(hours);
        let building = &self.estate.routes[0];
        let grounds = &self.estate.routes[1];
        let today = now.to_zoned(tz.clone()).date();
        let at_local = |date: jiff::civil::Date, t: jiff::civil::Time, mins: i64| {
            date.to_datetime(t)
                .to_zoned(tz.clone())
                .map(|z| z.timestamp() + SignedDuration::from_mins(mins))
                .map_err(internal)
        };

        // Last month: rounds walked, jobs closed in time and late, a fix rejected once, a
        // resident's report called back — the month the report shows.
        let first_of_month = today.first_of_month();
        let last_month = first_of_month.checked_sub(1.month()).map_err(internal)?;
        for day in [3i8, 10, 17, 24] {
            let date = last_month.with().day(day).build().map_err(internal)?;
            let start = at_local(date, jiff::civil::Time::constant(9, 5, 0, 0), 0)?;
            let fault = (day == 10).then_some(3);
            if let Some(issue) = self.walk(building, start, &[], fault).await? {
                self.work(issue, start, Stage::Rejected, "demo-tech")
                    .await?;
            }
            if day % 2 == 1 {
                let start = at_local(date, jiff::civil::Time::constant(10, 20, 0, 0), 0)?;
                self.walk(grounds, start, &[], None).await?;
            }
        }
        let date = last_month.with().day(12).build().map_err(internal)?;
        let found = at_local(date, jiff::civil::Time::constant(14, 0, 0, 0), 0)?;
        let late = self
            .report(
                "demo-patrol",
                found,
                ZoneKind::Garage,
                Category::Facility,
                Severity::Routine,
                "车库B1排水沟盖板破损",
                Source::Patrol,
                vec![self.photo(30).await?],
            )
            .await?;
        self.work(
            late,
            found + SignedDuration::from_hours(90),
            Stage::Closed,
            "demo-tech",
        )
        .await?;
        let date = last_month.with().day(20).build().map_err(internal)?;
        let call = at_local(date, jiff::civil::Time::constant(9, 30, 0, 0), 0)?;
        let desk = self
            .report(
                "demo-super",
                call,
                ZoneKind::Corridor,
                Category::Facility,
                Severity::Routine,
                "住户反映：5栋12楼走廊灯不亮",
                Source::Desk,
                vec![],
            )
            .await?;
        self.work(desk, call, Stage::Closed, "demo-tech").await?;
        self.op(
            "demo-super",
            call + SignedDuration::from_hours(30),
            OpBody::IssueFollowUp(IssueFollowUp {
                issue_id: desk,
                satisfied: true,
                note: Some("王女士表示灯已修好，满意".to_owned()),
            }),
        )
        .await?;

        // Today: the building round done on time, late (one rooftop left out, a fault found),
        // and missed.
        if let Some(slot) = slots.first() {
            self.walk(building, at_local(today, *slot, 4)?, &[], None)
                .await?;
        }
        if let Some(slot) = slots.get(1) {
            let start = at_local(today, *slot, 50)?;
            if let Some(issue) = self.walk(building, start, &[9], Some(2)).await? {
                self.work(issue, start, Stage::Assigned, "demo-tech")
                    .await?;
            }
        }

        // The queue as a supervisor finds it.
        self.report(
            "demo-patrol",
            ago(30),
            ZoneKind::Stairwell,
            Category::Facility,
            Severity::Routine,
            "1栋18楼楼梯灯不亮",
            Source::Patrol,
            vec![self.photo(40).await?],
        )
        .await?;
        self.report(
            "demo-patrol",
            ago(50),
            ZoneKind::Rooftop,
            Category::Fire,
            Severity::Major,
            "2栋逃生天台门被上锁",
            Source::Patrol,
            vec![],
        )
        .await?;
        self.report(
            "demo-patrol",
            ago(5),
            ZoneKind::Garage,
            Category::Cleaning,
            Severity::Routine,
            "车库B1入口地面油污",
            Source::Patrol,
            vec![],
        )
        .await?;
        self.report(
            "demo-patrol",
            ago(62),
            ZoneKind::Amenities,
            Category::Facility,
            Severity::Major,
            "儿童滑梯扶手松动",
            Source::Patrol,
            vec![self.photo(41).await?],
        )
        .await?;
        let overdue = self
            .report(
                "demo-patrol",
                ago(80),
                ZoneKind::Elevator,
                Category::Facility,
                Severity::Routine,
                "1栋电梯轿厢照明闪烁",
                Source::Patrol,
                vec![self.photo(42).await?],
            )
            .await?;
        self.work(overdue, ago(80), Stage::Started, "demo-tech")
            .await?;
        self.report(
            "demo-patrol",
            ago(1),
            ZoneKind::Utilities,
            Category::Security,
            Severity::Urgent,
            "燃气调压箱附近有异味",
            Source::Patrol,
            vec![],
        )
        .await?;
        let waiting = self
            .report(
                "demo-patrol",
                ago(20),
                ZoneKind::Lobby,
                Category::Facility,
                Severity::Routine,
                "2栋大堂门禁读卡器失灵",
                Source::Patrol,
                vec![self.photo(43).await?],
            )
            .await?;
        self.work(waiting, ago(20), Stage::Resolved, "demo-tech")
            .await?;
        let signed = self
            .report(
                "demo-patrol",
                ago(48),
                ZoneKind::Corridor,
                Category::Facility,
                Severity::Routine,
                "1栋6楼消防通道指示灯不亮",
                Source::Patrol,
                vec![self.photo(44).await?],
            )
            .await?;
        self.work(signed, ago(48), Stage::Closed, "demo-tech")
            .await?;
        let longer = self
            .report(
                "demo-patrol",
                ago(40),
                ZoneKind::Roads,
                Category::Facility,
                Severity::Routine,
                "东侧道路井盖松动",
                Source::Patrol,
                vec![],
            )
            .await?;
        self.work(longer, ago(40), Stage::Started, "demo-tech")
            .await?;
        let current_due = self
            .store
            .issue(longer)
            .await?
            .map(|i| i.due_at)
            .ok_or_else(|| internal("demo issue"))?;
        self.op(
            "demo-tech",
            ago(30),
            OpBody::ExtensionRequest(ExtensionRequestOp {
                issue_id: longer,
                reason: "井盖需定制，厂家 5 天后到货".to_owned(),
                due_at: current_due + SignedDuration::from_hours(5 * 24),
            }),
        )
        .await?;
        self.report(
            "demo-super",
            ago(3),
            ZoneKind::Lobby,
            Category::Cleaning,
            Severity::Routine,
            "住户反映：1栋大堂地面湿滑",
            Source::Desk,
            vec![],
        )
        .await?;
        Ok(())
    }
}

/// How far a demo job goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Assigned,
    Started,
    Resolved,
    Rejected,
    Closed,
}

/// A photo as the phone's pipeline leaves it: a JPEG well under 1600 px, a scene of blocks and
/// a gradient that differs by `seed`.
fn photo(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(480, 360, |x, y| {
        let s = u32::from(seed);
        if (x / 48 + y / 48 + s) % 7 == 0 {
            image::Rgb([230, 200, 60])
        } else {
            image::Rgb([
                (x * 255 / 800) as u8 ^ seed,
                (y * 255 / 600) as u8,
                120 + (seed % 100),
            ])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    // Encoding an image made in memory does not fail.
    let _ = img.write_to(&mut out, image::ImageFormat::Jpeg);
    out.into_inner()
}

/// A signature as a signature pad draws it: dark strokes on white, PNG.
fn signature(seed: u8) -> Vec<u8> {
    let img = image::GrayImage::from_fn(900, 300, |x, y| {
        let xf = f64::from(x);
        let wave = 150.0 + (xf / 45.0 + f64::from(seed)).sin() * 70.0 * (1.0 - xf / 1200.0);
        let on = (f64::from(y) - wave).abs() < 3.5 && (60..840).contains(&x);
        image::Luma([if on { 20 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    let _ = img.write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}
