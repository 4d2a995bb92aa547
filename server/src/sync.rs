//! Applying pushed operations (DESIGN.md §6): each op is checked against the bounds of §7, its
//! times corrected by the device's clock offset and checked, the reference data it names looked
//! up on the server, and then decided by core's rulebooks — [`patrol_core::round`] for rounds,
//! [`patrol_core::lifecycle`] for issues — on the state inside its transaction, exactly once
//! and in its device's order. Nothing the phone decided is taken on trust.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use patrol_core::alert::{self, AlertError};
use patrol_core::audit::AuditEntry;
use patrol_core::blob::{BlobInfo, BlobUse};
use patrol_core::checklist::{Answer, Template};
use patrol_core::ids::{CheckpointId, DeviceId, RouteId, RunId, SiteId, VisitId, ZoneId};
use patrol_core::issue::Issue;
use patrol_core::lifecycle::{self, Action, Assignee, Found, Report, RuleError, Transition};
use patrol_core::patrol::{PatrolRun, Visit, VisitMethod};
use patrol_core::round::{self, How, Round, RoundError, Spot};
use patrol_core::route::Route;
use patrol_core::site::{Checkpoint, Site, Zone, ZoneKind};
use patrol_core::user::Actor;
use patrol_core::wire::{Op, OpBody, OpResult, OpStatus};

use crate::store::{
    Decision, Keys, OpBatch, OpMeta, OpOutcome, Reference, Refusal, Snapshot, Store, StoreError,
    Write,
};

fn refuse_rule(e: &RuleError) -> Decision {
    Decision::Reject(Refusal::new(e.code(), e.to_string()))
}

fn refuse_round(e: &RoundError) -> Decision {
    Decision::Reject(Refusal::new(e.code(), e.to_string()))
}

fn refuse_alert(e: &AlertError) -> Decision {
    Decision::Reject(Refusal::new(e.code(), e.to_string()))
}

/// A push's ops applied in one write transaction (group commit), with the rounds and visits
/// they wrote: the rounds and visits an op names are read before its turn (for a round's
/// route, a visit's checklist) on the batch's own connection, which sees what the batch
/// wrote before the commit ([`OpBatch::run`]). Every other read goes to the store it derefs to.
pub struct Batch<'a> {
    store: &'a dyn Store,
    /// The reference data, read once a batch (no op changes it).
    reference: Arc<Reference>,
    ops: tokio::sync::Mutex<Box<dyn OpBatch + 'a>>,
    written: std::sync::Mutex<Written>,
}

#[derive(Default)]
struct Written {
    runs: HashMap<RunId, PatrolRun>,
    visits: HashMap<VisitId, Visit>,
}

impl<'a> Batch<'a> {
    /// Begin a batch on `store`.
    pub async fn begin(store: &'a dyn Store) -> Result<Batch<'a>, StoreError> {
        Ok(Batch {
            store,
            reference: store.reference().await?,
            ops: tokio::sync::Mutex::new(store.begin_ops().await?),
            written: std::sync::Mutex::new(Written::default()),
        })
    }

    /// Begin a push's batch on `store` ([`Store::begin_push`]: if it fails with a unique-key
    /// error, apply the push again in [`Batch::begin`]).
    pub async fn begin_push(
        store: &'a dyn Store,
        reference: Arc<Reference>,
        heard: &crate::store::Heard,
    ) -> Result<Batch<'a>, StoreError> {
        Ok(Batch {
            store,
            ops: tokio::sync::Mutex::new(store.begin_push(heard, reference.clone()).await?),
            reference,
            written: std::sync::Mutex::new(Written::default()),
        })
    }

    /// Commit every op applied in the batch.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.ops.into_inner().commit().await
    }

    fn written(&self) -> std::sync::MutexGuard<'_, Written> {
        self.written.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A round, as this batch left it (or as first read in the batch: these reads only find
    /// the reference data an op names, and the op is decided on the round as its transaction
    /// reads it).
    async fn run(&self, id: RunId) -> Result<Option<PatrolRun>, StoreError> {
        let mine = self.written().runs.get(&id).cloned();
        match mine {
            Some(run) => Ok(Some(run)),
            None => {
                let run = self.ops.lock().await.run(id).await?;
                if let Some(r) = &run {
                    self.written().runs.entry(id).or_insert_with(|| r.clone());
                }
                Ok(run)
            }
        }
    }

    /// A visit, as this batch left it or first read it (a visit never changes once made).
    async fn visit(&self, id: VisitId) -> Result<Option<Visit>, StoreError> {
        let mine = self.written().visits.get(&id).cloned();
        match mine {
            Some(visit) => Ok(Some(visit)),
            None => {
                let visit = self.ops.lock().await.visit(id).await?;
                if let Some(v) = &visit {
                    self.written().visits.entry(id).or_insert_with(|| v.clone());
                }
                Ok(visit)
            }
        }
    }

    /// A route.
    async fn route(&self, id: RouteId) -> Result<Option<Route>, StoreError> {
        self.reference.route(self.store, id).await
    }

    /// A checkpoint.
    async fn checkpoint(&self, id: CheckpointId) -> Result<Option<Checkpoint>, StoreError> {
        self.reference.checkpoint(self.store, id).await
    }

    /// A zone.
    async fn zone(&self, id: ZoneId) -> Result<Option<Zone>, StoreError> {
        self.reference.zone(self.store, id).await
    }

    /// A site's checkpoints.
    async fn site_checkpoints(&self, site: SiteId) -> Result<Arc<Vec<Checkpoint>>, StoreError> {
        self.reference.site_checkpoints(self.store, site).await
    }

    /// The checklist for a kind of place: the server's newest, else the standard catalogue's
    /// (as on the phone).
    async fn template(&self, kind: ZoneKind) -> Result<Option<Arc<Template>>, StoreError> {
        self.reference.template(self.store, kind).await
    }

    /// Apply one op in the batch, keeping the rounds and visits it wrote.
    async fn apply(
        &self,
        meta: &OpMeta,
        keys: Keys,
        decide: crate::store::Decide<'_>,
        next: bool,
    ) -> Result<OpOutcome, StoreError> {
        let wrote = std::sync::Mutex::new(Vec::new());
        let keep = |s: &Snapshot| {
            let d = decide(s);
            if let Decision::Apply(writes) = &d {
                let rounds = writes
                    .iter()
                    .filter(|w| matches!(w, Write::Run(_) | Write::Visit(_)));
                wrote
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(rounds.cloned());
            }
            d
        };
        let mut ops = self.ops.lock().await;
        let outcome = if next {
            ops.apply_op_next(meta, keys, &keep).await?
        } else {
            ops.apply_op(meta, keys, &keep).await?
        };
        if outcome == OpOutcome::Applied {
            let mut written = self.written();
            for w in wrote.into_inner().unwrap_or_else(|e| e.into_inner()) {
                match w {
                    Write::Run(r) => {
                        written.runs.insert(r.id, r);
                    }
                    Write::Visit(v) => {
                        written.visits.insert(v.id, v);
                    }
                    _ => {}
                }
            }
        }
        Ok(outcome)
    }
}

impl<'a> std::ops::Deref for Batch<'a> {
    type Target = dyn Store + 'a;

    fn deref(&self) -> &Self::Target {
        self.store
    }
}

/// What a push knows about where its ops come from, and what it has looked up so far.
pub struct PushContext {
    /// The caller.
    pub actor: Actor,
    /// The device.
    pub device_id: DeviceId,
    /// Server time at receipt.
    pub server_at: Timestamp,
    /// Server clock minus device clock.
    pub offset: SignedDuration,
    /// The caller's sites.
    pub sites: Vec<Site>,
    /// The blobs the push names that the server has, with what their headers said.
    pub blobs: HashMap<String, Option<BlobInfo>>,
    checkpoints: HashMap<SiteId, Arc<BTreeSet<CheckpointId>>>,
    numbered_here: bool,
}

/// What an op ended as: its result, or the device's order broken (nothing done).
#[derive(Debug)]
pub enum Applied {
    /// The op's result.
    Result(OpResult),
    /// An earlier op of the device is missing; this `seq` is expected next.
    OutOfOrder(u64),
}

impl PushContext {
    /// A push from `actor` on `device_id`, received at `server_at` with the device's clock
    /// `offset` behind.
    pub fn new(
        actor: Actor,
        device_id: DeviceId,
        server_at: Timestamp,
        offset: SignedDuration,
        sites: Vec<Site>,
        blobs: HashMap<String, Option<BlobInfo>>,
    ) -> PushContext {
        PushContext {
            actor,
            device_id,
            server_at,
            offset,
            sites,
            blobs,
            checkpoints: HashMap::new(),
            numbered_here: false,
        }
    }

    /// Ops of one of the server's own devices (a web console session): each is numbered next
    /// in its device's sequence when it is applied, since they are made where they are applied.
    pub fn numbered_here(mut self) -> PushContext {
        self.numbered_here = true;
        self
    }

    /// Apply an op in the batch, numbered as its device numbers them.
    async fn commit(
        &self,
        store: &Batch<'_>,
        meta: &OpMeta,
        keys: Keys,
        decide: crate::store::Decide<'_>,
    ) -> Result<OpOutcome, StoreError> {
        store.apply(meta, keys, decide, self.numbered_here).await
    }

    fn site(&self, id: SiteId) -> Option<&Site> {
        self.sites.iter().find(|s| s.id == id)
    }

    fn others(&self, id: SiteId) -> Vec<Site> {
        self.sites.iter().filter(|s| s.id != id).cloned().collect()
    }

    /// Patrol records are kept as long as the caller's sites keep them.
    fn keep_days(&self) -> u32 {
        self.sites
            .iter()
            .map(|s| s.retention_days)
            .max()
            .unwrap_or(patrol_core::site::DEFAULT_RETENTION_DAYS)
    }

    /// Stamp an audit entry with where and when the server got it.
    fn stamp(&self, mut audit: AuditEntry, device_at: Timestamp) -> AuditEntry {
        audit.server_at = Some(self.server_at);
        audit.device_at = Some(device_at);
        audit.device_id = Some(self.device_id);
        audit
    }

    fn writes(&self, t: Transition, device_at: Timestamp) -> Vec<Write> {
        vec![
            Write::Issue(t.issue),
            Write::Audit(self.stamp(t.audit, device_at)),
        ]
    }

    /// The ids of a site's checkpoints.
    async fn known(
        &mut self,
        store: &Batch<'_>,
        site: SiteId,
    ) -> Result<Arc<BTreeSet<CheckpointId>>, StoreError> {
        if let Some(ids) = self.checkpoints.get(&site) {
            return Ok(ids.clone());
        }
        let list = store.site_checkpoints(site).await?;
        let ids = Arc::new(list.iter().map(|c| c.id).collect::<BTreeSet<_>>());
        self.checkpoints.insert(site, ids.clone());
        Ok(ids)
    }

    /// Whether the op's blobs fit their use: photos are what the phone's pipeline makes,
    /// signatures PNG or JPEG line drawings.
    fn check_blobs(&self, body: &OpBody) -> Result<(), Refusal> {
        let (photos, signature): (&[String], Option<&String>) = match body {
            OpBody::PatrolResult(b) => (&b.photos, None),
            OpBody::IssueReport(b) => (&b.photos, None),
            OpBody::IssueResolve(b) => (&b.photos, None),
            OpBody::IssueVerify(b) => (&b.photos, b.signature.as_ref()),
            _ => (&[], None),
        };
        let uses = photos
            .iter()
            .map(|p| (p, BlobUse::Photo))
            .chain(signature.map(|s| (s, BlobUse::Signature)));
        for (sha, use_) in uses {
            // Blobs stored before their headers were kept passed the checks of their day.
            if let Some(Some(info)) = self.blobs.get(sha)
                && let Err(e) = info.check_use(use_)
            {
                return Err(Refusal::new(e.code(), e.to_string()));
            }
        }
        Ok(())
    }
}

/// An op's body as it reads, or why it does not.
pub fn decode(op: &Op) -> Result<OpBody, Refusal> {
    op.decode()
        .map_err(|e| Refusal::new(e.code(), e.to_string()))
}

/// What the checks every op passes before any rule looks at it found ([`check`]).
pub type Checked = Result<(OpBody, Timestamp), Refusal>;

/// Decide and apply one op in a batch.
pub async fn apply(
    store: &Batch<'_>,
    ctx: &mut PushContext,
    op: &Op,
) -> Result<Applied, StoreError> {
    let checked = check(ctx, op, decode(op));
    apply_checked(store, ctx, op, checked).await
}

/// [`apply`] for an op already checked ([`check`]): a push checks its ops before its
/// transaction begins, so that the work is not done while other pushes wait for the write.
pub async fn apply_checked(
    store: &Batch<'_>,
    ctx: &mut PushContext,
    op: &Op,
    checked: Checked,
) -> Result<Applied, StoreError> {
    let meta = OpMeta {
        op_id: op.op_id,
        device_id: ctx.device_id,
        seq: op.seq,
        kind: OpBody::known_kind(&op.kind).to_owned(),
        user_id: ctx.actor.user_id,
        device_at: op.at,
        server_at: ctx.server_at,
    };
    let outcome = match checked {
        Err(refusal) => {
            let decide = move |_: &Snapshot| Decision::Reject(refusal.clone());
            ctx.commit(store, &meta, Keys::default(), &decide).await?
        }
        Ok((body, at)) => apply_body(store, ctx, &meta, body, at).await?,
    };
    let result = |status, refusal: Option<Refusal>| {
        let (code, message) = refusal.map_or((None, None), |r| (Some(r.code), Some(r.message)));
        OpResult {
            op_id: op.op_id,
            status,
            code,
            message,
        }
    };
    Ok(Applied::Result(match outcome {
        OpOutcome::Applied => result(OpStatus::Applied, None),
        // A repeat of a refused op says so again, so a device whose first answer was lost
        // still shows the person why.
        OpOutcome::Duplicate(earlier) => result(OpStatus::Duplicate, earlier),
        OpOutcome::Rejected(r) => result(OpStatus::Rejected, Some(r)),
        OpOutcome::OutOfOrder { expected } => return Ok(Applied::OutOfOrder(expected)),
    }))
}

/// The checks every op passes before any rule looks at it: it reads as its kind (`body`, from
/// [`decode`]), stays within the bounds, names blobs fit for their use, and its time corrected
/// by the clock offset is one the server accepts. Returns the body and the corrected time.
pub fn check(ctx: &PushContext, op: &Op, body: Result<OpBody, Refusal>) -> Checked {
    let body = body?;
    patrol_core::bounds::check_op(&body).map_err(|e| Refusal::new(e.code(), e.to_string()))?;
    ctx.check_blobs(&body)?;
    let time = |e: patrol_core::time::TimeError| Refusal::new(e.code(), e.to_string());
    let at = patrol_core::time::shift(op.at, ctx.offset).map_err(time)?;
    patrol_core::time::check_window(at, ctx.server_at, ctx.keep_days()).map_err(time)?;
    Ok((body, at))
}

/// Escalations that fire the moment an issue is reported (urgent → security, major → manager).
fn escalate_at_once(issue: Issue, now: Timestamp, out: &mut Vec<Write>) -> Issue {
    let mut issue = issue;
    for reason in patrol_core::sla::escalations_due(&issue, now) {
        if let Ok(t) = lifecycle::escalate(&issue, reason, now) {
            metrics::counter!("patrol_escalations_total", "reason" => crate::queue::reason_label(reason))
                .increment(1);
            let mut audit = t.audit;
            audit.server_at = Some(now);
            out.push(Write::Audit(audit));
            issue = t.issue;
        }
    }
    issue
}

/// The round an op belongs to and its route, looked up before the op's transaction (a round's
/// route never changes; whether it is still open is decided on the state inside it).
async fn route_of(store: &Batch<'_>, run: Option<&PatrolRun>) -> Result<Option<Route>, StoreError> {
    match run {
        Some(run) => store.route(run.route_id).await,
        None => Ok(None),
    }
}

async fn apply_body(
    store: &Batch<'_>,
    ctx: &mut PushContext,
    meta: &OpMeta,
    body: OpBody,
    at: Timestamp,
) -> Result<OpOutcome, StoreError> {
    let device_at = meta.device_at;
    let issue_keys = |id| Keys {
        issue: Some(id),
        ..Keys::default()
    };
    match body {
        OpBody::PatrolStart(b) => {
            let route = store.route(b.route_id).await?;
            let ctx = &*ctx;
            let decide = move |s: &Snapshot| {
                if s.run.is_some() {
                    return refuse_round(&RoundError::RunExists);
                }
                let Some(route) = &route else {
                    return refuse_round(&RoundError::UnknownRoute);
                };
                match round::start(&ctx.actor, route, b.run_id, at) {
                    Ok(run) => Decision::Apply(vec![Write::Run(run)]),
                    Err(e) => refuse_round(&e),
                }
            };
            let keys = Keys {
                run: Some(b.run_id),
                ..Keys::default()
            };
            ctx.commit(store, meta, keys, &decide).await
        }
        OpBody::PatrolVisit(b) => {
            let run = store.run(b.run_id).await?;
            let route = route_of(store, run.as_ref()).await?;
            let checkpoint = store.checkpoint(b.checkpoint_id).await?;
            let known = match &run {
                Some(run) => ctx.known(store, run.site_id).await?,
                None => Arc::default(),
            };
            let others = run
                .as_ref()
                .map_or_else(Vec::new, |r| ctx.others(r.site_id));
            let ctx = &*ctx;
            let decide = move |s: &Snapshot| {
                if s.visit.is_some() {
                    return refuse_round(&RoundError::VisitExists);
                }
                let Some(run) = &s.run else {
                    return refuse_round(&RoundError::UnknownRun);
                };
                let (Some(route), Some(site)) = (&route, ctx.site(run.site_id)) else {
                    return refuse_round(&RoundError::OtherSite);
                };
                let how = match b.method {
                    VisitMethod::Qr => How::Scanned(b.token.as_deref().unwrap_or("")),
                    VisitMethod::Manual => How::ByHand(b.reason.as_deref().unwrap_or("")),
                };
                let spot = Spot {
                    checkpoint_id: b.checkpoint_id,
                    checkpoint: checkpoint.as_ref(),
                    others: &others,
                    known: &known,
                };
                let round = Round { run, route, site };
                match round.visit(&ctx.actor, spot, how, &s.visits, b.visit_id, at) {
                    Ok(mut visit) => {
                        visit.flags = round::merge_flags(visit.flags, &b.flags);
                        Decision::Apply(vec![Write::Visit(visit)])
                    }
                    Err(e) => refuse_round(&e),
                }
            };
            let keys = Keys {
                run: Some(b.run_id),
                visit: Some(b.visit_id),
                run_visits: true,
                makes_visit: true,
                ..Keys::default()
            };
            ctx.commit(store, meta, keys, &decide).await
        }
        OpBody::PatrolResult(b) => {
            // The checklist is the one for the visited checkpoint's kind of place.
            let visit = store.visit(b.visit_id).await?;
            let run = match &visit {
                Some(v) => store.run(v.run_id).await?,
                None => None,
            };
            let route = route_of(store, run.as_ref()).await?;
            let template = match &visit {
                Some(v) => match zone_of(store, v.checkpoint_id).await? {
                    Some(zone) => store.template(zone.kind).await?,
                    None => None,
                },
                None => None,
            };
            let ctx = &*ctx;
            let decide = move |s: &Snapshot| {
                let (Some(visit), Some(run)) = (&s.visit, &s.run) else {
                    return refuse_round(&RoundError::UnknownVisit);
                };
                let (Some(route), Some(site)) = (&route, ctx.site(run.site_id)) else {
                    return refuse_round(&RoundError::OtherSite);
                };
                let Some(template) = &template else {
                    return refuse_round(&RoundError::UnknownItem {
                        key: b.item_key.clone(),
                    });
                };
                let answer = Answer {
                    outcome: Some(b.outcome),
                    reading: b.reading,
                    note: b.note.clone(),
                    photos: b.photos.clone(),
                };
                let round = Round { run, route, site };
                match round.answer(
                    &ctx.actor,
                    visit,
                    template,
                    &b.item_key,
                    &answer,
                    b.result_id,
                ) {
                    Ok(result) => Decision::Apply(vec![Write::Result(result)]),
                    Err(e) => refuse_round(&e),
                }
            };
            let keys = Keys {
                visit: Some(b.visit_id),
                ..Keys::default()
            };
            ctx.commit(store, meta, keys, &decide).await
        }
        OpBody::PatrolFinish(b) => {
            let run = store.run(b.run_id).await?;
            let route = route_of(store, run.as_ref()).await?;
            let names: HashMap<CheckpointId, String> = match &run {
                Some(run) => store
                    .site_checkpoints(run.site_id)
                    .await?
                    .iter()
                    .map(|c| (c.id, c.name.clone()))
                    .collect(),
                None => HashMap::new(),
            };
            let ctx = &*ctx;
            let decide = move |s: &Snapshot| {
                let Some(run) = &s.run else {
                    return refuse_round(&RoundError::UnknownRun);
                };
                let (Some(route), Some(site)) = (&route, ctx.site(run.site_id)) else {
                    return refuse_round(&RoundError::OtherSite);
                };
                let name_of = |id: CheckpointId| names.get(&id).cloned();
                let round = Round { run, route, site };
                match round.finish(&ctx.actor, &s.visits, &b.missed, at, &name_of) {
                    Ok(mut finished) => {
                        finished.flags = round::merge_flags(finished.flags, &b.flags);
                        // A round that left checkpoints out or was flagged is an alert, raised
                        // with the round so that the supervisor's pull never has one alone.
                        let tz = site.tz().unwrap_or(jiff::tz::TimeZone::UTC);
                        let incomplete =
                            alert::on_finish(&finished, route, &s.visits, &tz, ctx.server_at);
                        let mut writes = vec![Write::Run(finished)];
                        writes.extend(incomplete.inspect(crate::alerts::counted).map(Write::Alert));
                        Decision::Apply(writes)
                    }
                    Err(e) => refuse_round(&e),
                }
            };
            let keys = Keys {
                run: Some(b.run_id),
                run_visits: true,
                ..Keys::default()
            };
            ctx.commit(store, meta, keys, &decide).await
        }
        OpBody::IssueReport(b) => {
            let observed_at =
                match patrol_core::time::shift(b.observed_at, ctx.offset).and_then(|t| {
                    let keep = ctx
                        .site(b.site_id)
                        .map_or(ctx.keep_days(), |s| s.retention_days);
                    patrol_core::time::check_window(t, ctx.server_at, keep).map(|()| t)
                }) {
                    Ok(t) => t,
                    Err(e) => {
                        let refusal = Refusal::new(e.code(), e.to_string());
                        let decide = move |_: &Snapshot| Decision::Reject(refusal.clone());
                        return ctx.commit(store, meta, Keys::default(), &decide).await;
                    }
                };
            let refs = References::of_report(store, &b).await?;
            let report = Report {
                issue_id: b.issue_id,
                site_id: b.site_id,
                zone_id: b.zone_id,
                checkpoint_id: b.checkpoint_id,
                visit_id: b.visit_id,
                item_key: b.item_key,
                category: b.category,
                severity: b.severity,
                title: b.title,
                note: b.note,
                photos: b.photos,
                observed_at,
                source: b.source,
                fixed_on_spot: b.fixed_on_spot,
            };
            let ctx = &*ctx;
            let now = ctx.server_at;
            let decide = move |s: &Snapshot| {
                if s.issue.is_some() {
                    return refuse_rule(&RuleError::IssueExists);
                }
                let Some(site) = ctx.site(report.site_id) else {
                    return refuse_rule(&RuleError::OtherSite);
                };
                match lifecycle::report(&ctx.actor, site, report.clone(), &refs.found()) {
                    Ok(t) => {
                        let mut writes = vec![Write::Audit(ctx.stamp(t.audit, device_at))];
                        let issue = escalate_at_once(t.issue, now, &mut writes);
                        // Urgent and major issues raise their alert in the report's own
                        // transaction: never an issue without its alert, never twice.
                        let raised = alert::on_report(&issue, now);
                        writes.extend(raised.inspect(crate::alerts::counted).map(Write::Alert));
                        writes.insert(0, Write::Issue(issue));
                        Decision::Apply(writes)
                    }
                    Err(e) => refuse_rule(&e),
                }
            };
            ctx.commit(store, meta, issue_keys(b.issue_id), &decide)
                .await
        }
        OpBody::IssueAssign(b) => {
            let assignee = store.user(b.assignee_id).await?.map(|u| Assignee {
                user_id: u.id,
                role: u.role,
                team: u.team,
                site_ids: u.site_ids,
            });
            let Some(assignee) = assignee else {
                let decide = |_: &Snapshot| refuse_rule(&RuleError::AssigneeNotInTeam);
                return ctx.commit(store, meta, Keys::default(), &decide).await;
            };
            transition(
                store,
                ctx,
                meta,
                b.issue_id,
                Action::Assign { assignee },
                at,
            )
            .await
        }
        OpBody::IssueStart(b) => transition(store, ctx, meta, b.issue_id, Action::Start, at).await,
        OpBody::IssueResolve(b) => {
            let action = Action::Resolve {
                note: b.note,
                photos: b.photos,
            };
            transition(store, ctx, meta, b.issue_id, action, at).await
        }
        OpBody::IssueVerify(b) => {
            let action = Action::Verify {
                accepted: b.accepted,
                note: b.note,
                signature: b.signature,
                photos: b.photos,
            };
            transition(store, ctx, meta, b.issue_id, action, at).await
        }
        OpBody::ExtensionRequest(b) => {
            let action = Action::RequestExtension {
                reason: b.reason,
                due_at: b.due_at,
            };
            transition(store, ctx, meta, b.issue_id, action, at).await
        }
        OpBody::ExtensionDecide(b) => {
            let action = Action::DecideExtension {
                approved: b.approved,
                note: b.note,
            };
            transition(store, ctx, meta, b.issue_id, action, at).await
        }
        OpBody::IssueComment(b) => {
            let action = Action::Comment { text: b.text };
            transition(store, ctx, meta, b.issue_id, action, at).await
        }
        OpBody::IssueFollowUp(b) => {
            let action = Action::FollowUp {
                satisfied: b.satisfied,
                note: b.note,
            };
            transition(store, ctx, meta, b.issue_id, action, at).await
        }
        OpBody::AlertAck(b) => {
            let ctx = &*ctx;
            // Decided on the alert as it is inside the transaction: of two people acknowledging
            // at once (a phone and the console), the second is told it was done.
            let decide = move |s: &Snapshot| {
                let Some(stored) = &s.alert else {
                    return refuse_alert(&AlertError::UnknownAlert);
                };
                match alert::ack(&ctx.actor, stored, b.note.as_deref(), at) {
                    Ok(acked) => Decision::Apply(vec![Write::Alert(acked)]),
                    Err(e) => refuse_alert(&e),
                }
            };
            let keys = Keys {
                alert: Some(b.alert_id),
                ..Keys::default()
            };
            ctx.commit(store, meta, keys, &decide).await
        }
    }
}

/// A person's action on an issue, decided by the lifecycle on the issue as it is now.
async fn transition(
    store: &Batch<'_>,
    ctx: &PushContext,
    meta: &OpMeta,
    issue_id: patrol_core::ids::IssueId,
    action: Action,
    at: Timestamp,
) -> Result<OpOutcome, StoreError> {
    let device_at = meta.device_at;
    let decide = move |s: &Snapshot| match &s.issue {
        // An issue the person may not see does not exist for them (as on their phone).
        None => refuse_rule(&RuleError::UnknownIssue),
        Some(issue) if !lifecycle::may_see(&ctx.actor, issue) => {
            refuse_rule(&RuleError::UnknownIssue)
        }
        Some(issue) => match lifecycle::apply(issue, &ctx.actor, action.clone(), at) {
            Ok(t) => Decision::Apply(ctx.writes(t, device_at)),
            Err(e) => refuse_rule(&e),
        },
    };
    let keys = Keys {
        issue: Some(issue_id),
        ..Keys::default()
    };
    ctx.commit(store, meta, keys, &decide).await
}

async fn zone_of(store: &Batch<'_>, checkpoint: CheckpointId) -> Result<Option<Zone>, StoreError> {
    match store.checkpoint(checkpoint).await? {
        Some(c) => store.zone(c.zone_id).await,
        None => Ok(None),
    }
}

/// The reference data a report names, as the server has it.
struct References {
    zone: Option<Zone>,
    checkpoint: Option<Checkpoint>,
    visit: Option<(Visit, PatrolRun)>,
    item: Option<patrol_core::checklist::ChecklistItem>,
}

impl References {
    async fn of_report(
        store: &Batch<'_>,
        b: &patrol_core::wire::IssueReport,
    ) -> Result<References, StoreError> {
        let zone = match b.zone_id {
            Some(id) => store.zone(id).await?,
            None => None,
        };
        let checkpoint = match b.checkpoint_id {
            Some(id) => store.checkpoint(id).await?,
            None => None,
        };
        let visit = match b.visit_id {
            Some(id) => match store.visit(id).await? {
                Some(v) => store.run(v.run_id).await?.map(|r| (v, r)),
                None => None,
            },
            None => None,
        };
        // The item is looked up on the visited checkpoint's checklist.
        let item = match (&b.item_key, &visit) {
            (Some(key), Some((v, _))) => {
                let kind: Option<ZoneKind> = zone_of(store, v.checkpoint_id).await?.map(|z| z.kind);
                match kind {
                    Some(kind) => store
                        .template(kind)
                        .await?
                        .and_then(|t| t.item(key).cloned()),
                    None => None,
                }
            }
            _ => None,
        };
        Ok(References {
            zone,
            checkpoint,
            visit,
            item,
        })
    }

    fn found(&self) -> Found<'_> {
        Found {
            zone: self.zone.as_ref(),
            checkpoint: self.checkpoint.as_ref(),
            visit: self.visit.as_ref().map(|(v, r)| (v, r)),
            item: self.item.as_ref(),
        }
    }
}
