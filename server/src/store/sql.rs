//! The store written once for both databases. The SQL is the common dialect of SQLite and
//! PostgreSQL (`$N` parameters, `ON CONFLICT`, `CAST`); each backend brings its pool, its
//! migrations and `begin_write`, which serialises writers so the change feed's order is the
//! commit order.

use std::collections::{HashMap, HashSet};

use patrol_core::ids::{RunId, VisitId};
use patrol_core::patrol::{PatrolRun, Visit};

/// What a write transaction of ops knows of the rows it has read and written, so that an op
/// does not ask the database again for what the transaction itself has decided (a device's
/// last `seq`, the locks it holds, the rounds and visits of a push). In a push
/// ([`Store::begin_push`](super::Store::begin_push)) the rows that are only ever inserted — op
/// records, visits, answers — are also held back and inserted together, a few statements for
/// the whole push, before anything reads them and at the commit.
#[derive(Default)]
pub struct TxRows {
    /// Insert-only rows are held back (a push); else every write goes out at once.
    pub(super) write_behind: bool,
    /// Each device's last `seq` as this transaction leaves it, and whether it changed.
    pub(super) seqs: HashMap<String, (u64, bool)>,
    /// The record locks this transaction holds.
    pub(super) locked: HashSet<String>,
    pub(super) runs: HashMap<RunId, PatrolRun>,
    pub(super) visits: HashMap<VisitId, Visit>,
    /// Every visit of a round, in the order they were made, as this transaction leaves it.
    pub(super) run_visits: HashMap<RunId, Vec<Visit>>,
    /// Visits this transaction inserted: every answer to them is its own.
    pub(super) new_visits: HashSet<VisitId>,
    /// Visits whose answers this transaction has inserted already (they are no longer held).
    pub(super) answered_visits: HashSet<String>,
    pub(super) pending: Pending,
    /// The reference data a push was checked against (sites and routes its writes read).
    pub(super) reference: Option<std::sync::Arc<super::Reference>>,
}

impl TxRows {
    /// A push's: insert-only rows held back, the reference data it was checked against at
    /// hand, and its device's last `seq` as the push found it.
    pub fn write_behind(
        reference: std::sync::Arc<super::Reference>,
        device: String,
        last_seq: i64,
    ) -> TxRows {
        TxRows {
            write_behind: true,
            reference: Some(reference),
            seqs: HashMap::from([(device, (last_seq.max(0) as u64, false))]),
            ..TxRows::default()
        }
    }

    /// A site, from the reference data if the push has it there, else read in `load`.
    pub(super) async fn site<F>(
        &self,
        id: patrol_core::ids::SiteId,
        load: F,
    ) -> super::Result<Option<patrol_core::site::Site>>
    where
        F: std::future::Future<Output = super::Result<Option<patrol_core::site::Site>>>,
    {
        match &self.reference {
            Some(r) => match r.known_site(id) {
                Some(site) => Ok(Some(site)),
                None => Ok(r.keep_site(id, load.await?)),
            },
            None => load.await,
        }
    }

    /// A route, from the reference data if the push has it there, else read in `load`.
    pub(super) async fn route<F>(
        &self,
        id: patrol_core::ids::RouteId,
        load: F,
    ) -> super::Result<Option<patrol_core::route::Route>>
    where
        F: std::future::Future<Output = super::Result<Option<patrol_core::route::Route>>>,
    {
        match &self.reference {
            Some(r) => match r.known_route(id) {
                Some(route) => Ok(Some(route)),
                None => Ok(r.keep_route(id, load.await?)),
            },
            None => load.await,
        }
    }

    /// Keep a round or visit this transaction wrote, and which visits it answered.
    pub(super) fn wrote(&mut self, w: &super::Write) {
        match w {
            super::Write::Run(r) => {
                self.runs.insert(r.id, r.clone());
            }
            super::Write::Visit(v) => {
                if let Some(list) = self.run_visits.get_mut(&v.run_id) {
                    let at = visit_order(v);
                    let i = list.partition_point(|o| visit_order(o) <= at);
                    list.insert(i, v.clone());
                }
                self.visits.insert(v.id, v.clone());
                self.new_visits.insert(v.id);
            }
            // Written at once (with an op's other writes), not held back.
            super::Write::Result(r) => {
                self.answered_visits.insert(r.visit_id.to_string());
            }
            _ => {}
        }
    }

    /// The held-back rows `pending` are inserted: the visits they answer are answered.
    pub(super) fn inserted(&mut self, pending: &Pending) {
        for r in &pending.results {
            if !self.answered_visits.contains(&r.visit_id) {
                self.answered_visits.insert(r.visit_id.clone());
            }
        }
    }

    /// Each device whose `seq` this transaction moved on, with that `seq`; they are then
    /// taken as written.
    pub(super) fn moved_seqs(&mut self) -> Vec<(String, i64)> {
        let mut moved = Vec::new();
        for (device, (seq, changed)) in &mut self.seqs {
            if *changed {
                moved.push((device.clone(), *seq as i64));
                *changed = false;
            }
        }
        moved
    }

    /// An op record held back: its status if it is one.
    pub(super) fn held_op(&self, op_id: &str) -> Option<&OpRow> {
        self.pending.ops.iter().find(|o| o.op_id == op_id)
    }
}

/// The order visits are read in (`ORDER BY at_ms, id`).
pub(super) fn visit_order(v: &Visit) -> (i64, String) {
    (v.at.as_millisecond(), v.id.to_string())
}

/// Rows held back for one insert at the end.
#[derive(Default)]
pub(super) struct Pending {
    pub(super) ops: Vec<OpRow>,
    pub(super) visits: Vec<(Visit, String)>,
    pub(super) results: Vec<ResultRow>,
    /// Stored answers (visit, item) that answers held here replace: deleted first.
    pub(super) replaced: Vec<(String, String)>,
}

impl Pending {
    pub(super) fn is_empty(&self) -> bool {
        self.replaced.is_empty()
            && self.visits.is_empty()
            && self.results.is_empty()
            && self.ops.is_empty()
    }
}

/// An op record.
pub(super) struct OpRow {
    pub(super) op_id: String,
    pub(super) device_id: String,
    pub(super) seq: i64,
    pub(super) kind: String,
    pub(super) user_id: String,
    pub(super) device_at: String,
    pub(super) server_at_ms: i64,
    pub(super) status: &'static str,
    pub(super) code: Option<String>,
    pub(super) message: Option<String>,
}

/// An answer.
pub(super) struct ResultRow {
    pub(super) id: String,
    pub(super) visit_id: String,
    pub(super) item_key: String,
    pub(super) data: String,
}

/// A device heard from (its user, clock offset and time), returning its last `seq`.
pub(super) const TOUCH: &str =
    "INSERT INTO devices (id, user_id, clock_offset_ms, last_seen_ms) VALUES ($1, $2, $3, $4)
     ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id,
       clock_offset_ms = excluded.clock_offset_ms, last_seen_ms = excluded.last_seen_ms
     RETURNING last_seq";

/// Rows a multi-row insert (PostgreSQL's held-back rows) takes at most, well below its limit on
/// parameters.
pub(super) const ROWS_PER_INSERT: usize = 500;

/// Implement [`super::Store`] for a backend type with a `pool`, `begin_write()` and the given
/// database, connection type and migrations folder.
macro_rules! sql_store {
    ($store:ident, $db:ty, $conn:ty, $migrations:literal) => {
/// A push's ops in one write transaction (group commit): each op is decided and answered on
/// its own, as [`Store::apply_op`] says, and all of them reach the disk with one commit.
pub struct OpTx<'a> {
    // Dropped after the transaction ends (fields drop in order): the slot after it. The
    // backend's batch holds its write lock, if it has one, until it ends.
    tx: BatchTx<'a>,
    rows: super::sql::TxRows,
    _slot: Option<tokio::sync::SemaphorePermit<'a>>,
    /// Told after the commit when an op raised an alert (its deliveries are enqueued with it).
    outbox: &'a tokio::sync::Notify,
    raised_alert: bool,
}

#[async_trait]
impl super::OpBatch for OpTx<'_> {
    async fn apply_op(&mut self, meta: &OpMeta, keys: Keys, decide: Decide<'_>) -> Result<OpOutcome> {
        apply_numbered(&mut self.tx, &mut self.rows, meta, keys, decide, false, &mut self.raised_alert).await
    }

    async fn apply_op_next(
        &mut self,
        meta: &OpMeta,
        keys: Keys,
        decide: Decide<'_>,
    ) -> Result<OpOutcome> {
        apply_numbered(&mut self.tx, &mut self.rows, meta, keys, decide, true, &mut self.raised_alert).await
    }

    async fn run(&mut self, id: RunId) -> Result<Option<PatrolRun>> {
        if KEEP_BATCH_READS {
            tx_run(&mut self.tx, &mut self.rows, id).await
        } else {
            load(&mut *self.tx, "runs", Some(id.to_string())).await
        }
    }

    async fn visit(&mut self, id: VisitId) -> Result<Option<Visit>> {
        if KEEP_BATCH_READS {
            tx_visit(&mut self.tx, &mut self.rows, id).await
        } else {
            load(&mut *self.tx, "visits", Some(id.to_string())).await
        }
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        finish_batch(&mut self.tx, &mut self.rows).await?;
        let OpTx { tx, outbox, raised_alert, .. } = *self;
        commit_batch(tx, raised_alert, outbox).await
    }
}

/// Take a record's lock once a transaction.
async fn lock_once(tx: &mut $conn, rows: &mut super::sql::TxRows, kind: &str, id: &str) -> Result<()> {
    let key = format!("{kind}:{id}");
    if rows.locked.contains(&key) {
        return Ok(());
    }
    lock_key(&mut *tx, kind, id).await?;
    rows.locked.insert(key);
    Ok(())
}

/// Insert the rows held back, before anything reads them.
async fn flush_rows(tx: &mut $conn, rows: &mut super::sql::TxRows) -> Result<()> {
    let pending = std::mem::take(&mut rows.pending);
    insert_held(&mut *tx, &pending).await?;
    rows.inserted(&pending);
    Ok(())
}

/// Before the commit: the rows held back, and each device's `seq` moved on. (An op batch's
/// ends in the backend's `finish_batch`, which may do the same in fewer round trips.)
async fn finish_rows(tx: &mut $conn, rows: &mut super::sql::TxRows) -> Result<()> {
    flush_rows(&mut *tx, rows).await?;
    for (device, seq) in rows.moved_seqs() {
        sqlx::query("UPDATE devices SET last_seq = $2 WHERE id = $1")
            .bind(device)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Hold back a visit or an answer (a push's, whose other writes wait for nothing).
async fn hold(tx: &mut $conn, rows: &mut super::sql::TxRows, w: &Write) -> Result<()> {
    match w {
        Write::Visit(v) => {
            rows.pending.visits.push((v.clone(), json(v)?));
            rows.wrote(w);
        }
        Write::Result(r) => {
            // A re-answered item replaces the earlier answer of that visit: one held back
            // here (whose own replacement, if any, is already to be deleted), or one stored —
            // before this transaction (a visit it did not make) or by it (answers it inserted
            // when an op that writes at once went before this one).
            let visit = r.visit_id.to_string();
            let held = rows.pending.results.len();
            rows.pending
                .results
                .retain(|o| !(o.visit_id == visit && o.item_key == r.item_key));
            let was_held = rows.pending.results.len() < held;
            if !was_held
                && (!rows.new_visits.contains(&r.visit_id) || rows.answered_visits.contains(&visit))
            {
                rows.pending.replaced.push((visit.clone(), r.item_key.clone()));
            }
            rows.pending.results.push(super::sql::ResultRow {
                id: r.id.to_string(),
                visit_id: visit,
                item_key: r.item_key.clone(),
                data: json(r)?,
            });
        }
        // Nothing else is held back: written now.
        other => write(&mut *tx, rows, other).await?,
    }
    Ok(())
}

/// A round, as this transaction sees it.
async fn tx_run(tx: &mut $conn, rows: &mut super::sql::TxRows, id: RunId) -> Result<Option<PatrolRun>> {
    if let Some(run) = rows.runs.get(&id) {
        return Ok(Some(run.clone()));
    }
    let run: Option<PatrolRun> = load(&mut *tx, "runs", Some(id.to_string())).await?;
    if let Some(r) = &run {
        rows.runs.insert(id, r.clone());
    }
    Ok(run)
}

/// A visit, as this transaction sees it (visits are never changed once made).
async fn tx_visit(tx: &mut $conn, rows: &mut super::sql::TxRows, id: VisitId) -> Result<Option<Visit>> {
    if let Some(visit) = rows.visits.get(&id) {
        return Ok(Some(visit.clone()));
    }
    let visit: Option<Visit> = load(&mut *tx, "visits", Some(id.to_string())).await?;
    if let Some(v) = &visit {
        rows.visits.insert(id, v.clone());
    }
    Ok(visit)
}

/// The visits of a round, in the order they were made, as this transaction sees them.
async fn tx_run_visits(tx: &mut $conn, rows: &mut super::sql::TxRows, run: RunId) -> Result<Vec<Visit>> {
    if let Some(list) = rows.run_visits.get(&run) {
        return Ok(list.clone());
    }
    let mut list = run_visits(&mut *tx, run).await?;
    list.extend(rows.pending.visits.iter().filter(|(v, _)| v.run_id == run).map(|(v, _)| v.clone()));
    list.sort_by_key(super::sql::visit_order);
    rows.run_visits.insert(run, list.clone());
    Ok(list)
}

/// Whether an op id was processed before: `None` if not, else the refusal it met, if any.
async fn seen_op(tx: &mut $conn, rows: &super::sql::TxRows, op_id: &str) -> Result<Option<Option<Refusal>>> {
    let refusal = |status: &str, code: Option<String>, message: Option<String>| {
        (status == "rejected").then(|| Refusal::new(code.unwrap_or_default(), message.unwrap_or_default()))
    };
    if let Some(o) = rows.held_op(op_id) {
        return Ok(Some(refusal(o.status, o.code.clone(), o.message.clone())));
    }
    let seen: Option<(String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT status, code, message FROM ops WHERE op_id = $1")
            .bind(op_id)
            .fetch_optional(&mut *tx)
            .await?;
    Ok(seen.map(|(status, code, message)| refusal(&status, code, message)))
}

/// [`Store::apply_op`] inside a write transaction; with `next`, the op takes the next `seq` of
/// its device (the server's own devices, whose ops are numbered where they are made). Nothing
/// it writes is committed here: a refusal found before the writes writes only the op record,
/// and writes that meet another record's unique key roll back to the op's savepoint.
/// `raised_alert` is set when the op raised an alert, whose sender is to be told after the
/// commit.
///
/// Held back (a push, [`super::sql::TxRows::write_behind`]): an op whose `seq` is its device's
/// next is taken as new without looking its id up — a reused id meets the op records' key when
/// they are inserted, failing the push, which is then applied again op by op
/// ([`Store::begin_push`]); an op that only adds visits and answers takes no savepoint.
async fn apply_numbered(
    tx: &mut $conn,
    rows: &mut super::sql::TxRows,
    meta: &OpMeta,
    keys: Keys,
    decide: Decide<'_>,
    next: bool,
    raised_alert: &mut bool,
) -> Result<OpOutcome> {
    // One device's pushes take turns (another process may be applying its previous push).
    let device = meta.device_id.to_string();
    lock_once(&mut *tx, rows, "device", &device).await?;
    let last = match rows.seqs.get(&device) {
        Some((n, _)) => *n,
        None => {
            let last: Option<(i64,)> = sqlx::query_as("SELECT last_seq FROM devices WHERE id = $1")
                .bind(&device)
                .fetch_optional(&mut *tx)
                .await?;
            let n = last.map_or(0, |(n,)| n.max(0) as u64);
            rows.seqs.insert(device.clone(), (n, false));
            n
        }
    };
    let numbered;
    let meta = if next {
        numbered = OpMeta {
            seq: last + 1,
            ..meta.clone()
        };
        &numbered
    } else {
        meta
    };
    // Taken as new unread (a reused id meets a unique key at the insert).
    let taken_new = rows.write_behind && meta.seq == last + 1;
    if !taken_new {
        if let Some(earlier) = seen_op(&mut *tx, rows, &meta.op_id.to_string()).await? {
            return Ok(OpOutcome::Duplicate(earlier));
        }
    }
    // One device's ops are processed strictly in `seq` order.
    if meta.seq > last + 1 {
        return Ok(OpOutcome::OutOfOrder { expected: last + 1 });
    }
    if meta.seq <= last {
        let stale = Refusal::new(
            "stale_seq",
            "该设备的这一序号已处理过另一条操作 / this device already sent another op with this seq",
        );
        record_op(&mut *tx, rows, meta, Some(&stale)).await?;
        return Ok(OpOutcome::Rejected(stale));
    }
    let visit = match keys.visit {
        Some(v) if taken_new && keys.makes_visit && !rows.visits.contains_key(&v) => None,
        Some(v) => tx_visit(&mut *tx, rows, v).await?,
        None => None,
    };
    // An op on a visit is checked against the round the visit belongs to.
    let run_id = keys.run.or(visit.as_ref().map(|v| v.run_id));
    // The records the op is decided on are locked (PostgreSQL; SQLite has one writer): ops of
    // different sites never wait for each other, ops on one issue or round take turns.
    if let Some(run) = run_id {
        lock_once(&mut *tx, rows, "run", &run.to_string()).await?;
    }
    if let Some(issue) = keys.issue {
        lock_once(&mut *tx, rows, "issue", &issue.to_string()).await?;
    }
    if let Some(alert) = keys.alert {
        lock_once(&mut *tx, rows, "alert", &alert.to_string()).await?;
    }
    let visits = match run_id {
        Some(run) if keys.run_visits => tx_run_visits(&mut *tx, rows, run).await?,
        _ => Vec::new(),
    };
    let run = match run_id {
        Some(run) => tx_run(&mut *tx, rows, run).await?,
        None => None,
    };
    let snapshot = Snapshot {
        issue: load(&mut *tx, "issues", keys.issue.map(|i| i.to_string())).await?,
        run,
        visit,
        visits,
        alert: load(&mut *tx, "alerts", keys.alert.map(|a| a.to_string())).await?,
    };
    let outcome = match decide(&snapshot) {
        Decision::Apply(writes)
            if rows.write_behind
                && writes.iter().all(|w| matches!(w, Write::Visit(_) | Write::Result(_))) =>
        {
            for w in &writes {
                hold(&mut *tx, rows, w).await?;
            }
            OpOutcome::Applied
        }
        Decision::Apply(writes) => {
            // What was held back goes first: the writes below may read it (a round's seal).
            flush_rows(&mut *tx, rows).await?;
            // The writes go in a savepoint: a row that meets another record's unique key
            // (a reused result id) refuses the op and leaves nothing behind.
            let mut sp = sqlx::Acquire::begin(&mut *tx).await?;
            let mut failed = None;
            for w in &writes {
                if let Err(e) = write(&mut sp, rows, w).await {
                    failed = Some(e);
                    break;
                }
            }
            match failed {
                None => {
                    sp.commit().await?;
                    for w in &writes {
                        rows.wrote(w);
                    }
                    if writes.iter().any(|w| matches!(w, Write::Alert(a) if a.is_open())) {
                        *raised_alert = true;
                    }
                    OpOutcome::Applied
                }
                Some(e) if e.is_unique_violation() => {
                    sp.rollback().await?;
                    OpOutcome::Rejected(super::conflict())
                }
                Some(e) => return Err(e),
            }
        }
        Decision::Reject(refusal) => OpOutcome::Rejected(refusal),
    };
    let refusal = match &outcome {
        OpOutcome::Rejected(r) => Some(r),
        _ => None,
    };
    // The device changed its own copy of the issue before it asked; a refusal sends the
    // issue down the feed again, so its next pull brings the state it was refused against.
    if let (Some(_), Some(issue)) = (refusal, &snapshot.issue) {
        feed_issue(
            &mut *tx,
            "issue",
            &issue.id.to_string(),
            Some(issue.site_id),
            Some(issue.team.as_str()),
            issue.assignee_id,
            Some(source_name(issue.source)),
        )
        .await?;
    }
    record_op(&mut *tx, rows, meta, refusal).await?;
    Ok(outcome)
}

impl $store {
    /// One op in a transaction of its own.
    async fn apply_alone(&self, meta: &OpMeta, keys: Keys, decide: Decide<'_>, next: bool) -> Result<OpOutcome> {
        let (_guard, mut tx) = self.begin_write().await?;
        let mut rows = super::sql::TxRows::default();
        let mut raised_alert = false;
        let outcome =
            apply_numbered(&mut tx, &mut rows, meta, keys, decide, next, &mut raised_alert).await?;
        // Out of order changes nothing; anything else is recorded.
        if !matches!(outcome, OpOutcome::OutOfOrder { .. }) {
            finish_rows(&mut tx, &mut rows).await?;
            tx.commit().await?;
            if raised_alert {
                self.outbox.notify_one();
            }
        }
        Ok(outcome)
    }

    async fn one<T: DeserializeOwned>(&self, sql: &'static str, id: &str) -> Result<Option<T>> {
        let row: Option<(String,)> = sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|(d,)| parse(&d)).transpose()
    }
}

/// The `WHERE` of the queue's queries: what `f` asks for, among `sites`, as its viewer may see.
fn push_issue_filter(q: &mut QueryBuilder<$db>, f: &IssueFilter, sites: &[SiteId]) {
    q.push("site_id IN (");
    let mut list = q.separated(", ");
    for s in sites {
        list.push_bind(s.to_string());
    }
    q.push(")");
    if let Some((team, user)) = f.visibility.jobs_of {
        q.push(" AND (team = ")
            .push_bind(team.map(|t| t.as_str()).unwrap_or(""))
            .push(" OR assignee_id = ")
            .push_bind(user.to_string());
        if f.visibility.desk_reports() {
            q.push(" OR source = 'desk'");
        }
        q.push(")");
    }
    if let Some(s) = f.status {
        q.push(" AND status = ").push_bind(s.as_str());
    }
    if let Some(t) = f.team {
        q.push(" AND team = ").push_bind(t.as_str());
    }
    if let Some(s) = f.severity {
        q.push(" AND severity = ").push_bind(s.as_str());
    }
    if let Some(a) = f.assignee {
        q.push(" AND assignee_id = ").push_bind(a.to_string());
    }
    if let Some(d) = f.due_before {
        q.push(" AND due_at_ms < ").push_bind(ms(d));
    }
    if f.active {
        q.push(" AND status <> 'closed'");
    }
    if let Some(n) = f.overdue_at {
        q.push(" AND status <> 'closed' AND due_at_ms <= ").push_bind(ms(n));
    }
}

async fn feed(
    conn: &mut $conn,
    entity: &str,
    id: &str,
    site: Option<SiteId>,
    team: Option<&str>,
) -> Result<()> {
    feed_issue(conn, entity, id, site, team, None, None).await
}

async fn feed_issue(
    conn: &mut $conn,
    entity: &str,
    id: &str,
    site: Option<SiteId>,
    team: Option<&str>,
    assignee: Option<UserId>,
    source: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO changes (entity, entity_id, site_id, team, assignee_id, source) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(entity)
    .bind(id)
    .bind(site.map(|s| s.to_string()))
    .bind(team)
    .bind(assignee.map(|a| a.to_string()))
    .bind(source)
    .execute(conn)
    .await?;
    Ok(())
}

/// End every refresh token and console session of a user (a disabled account, a new password).
async fn end_sign_ins(conn: &mut $conn, user: UserId) -> Result<()> {
    sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = $1")
        .bind(user.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE console_sessions SET ended = 1 WHERE user_id = $1")
        .bind(user.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn load<T: DeserializeOwned>(
    conn: &mut $conn,
    table: &str,
    id: Option<String>,
) -> Result<Option<T>> {
    let Some(id) = id else { return Ok(None) };
    let row: Option<(String,)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT data FROM {table} WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(|(d,)| parse(&d)).transpose()
}

/// A round that reaches the server after a `round_missed` alert was raised for its slot, and
/// that had in fact started within the grace (recorded offline, synced late), answers that
/// alert: acknowledged by its patroller, with a note (core's
/// [`patrol_core::alert::answered_by_round`]). The slots it could claim are those of its local
/// day and the days beside it; each is looked up by its alert's once key.
async fn answer_missed_rounds(conn: &mut $conn, rows: &super::sql::TxRows, run: &PatrolRun) -> Result<()> {
    let route = rows.route(run.route_id, load::<Route>(&mut *conn, "routes", Some(run.route_id.to_string())));
    let Some(route) = route.await? else {
        return Ok(());
    };
    let site = rows.site(run.site_id, load::<Site>(&mut *conn, "sites", Some(run.site_id.to_string())));
    let Some(site) = site.await? else {
        return Ok(());
    };
    let Ok(tz) = site.tz() else { return Ok(()) };
    let now = jiff::Timestamp::now();
    let day = run.started_at.to_zoned(tz.clone()).date();
    let mut slots = Vec::new();
    for date in [day.yesterday().ok(), Some(day), day.tomorrow().ok()].into_iter().flatten() {
        for d in patrol_core::coverage::day(&tz, date, std::slice::from_ref(&route), std::slice::from_ref(run), &[], now) {
            slots.extend(
                d.slots
                    .iter()
                    .filter(|s| s.round.as_ref().is_some_and(|r| r.run.id == run.id))
                    .map(|s| s.scheduled),
            );
        }
    }
    for slot in slots {
        let key = patrol_core::alert::round_missed_key(route.id, slot);
        let row: Option<(String,)> =
            sqlx::query_as("SELECT data FROM alerts WHERE once_key = $1 AND acked_at_ms IS NULL")
                .bind(&key)
                .fetch_optional(&mut *conn)
                .await?;
        let Some((data,)) = row else { continue };
        let alert: patrol_core::alert::Alert = parse(&data)?;
        if let Some(answered) = patrol_core::alert::answered_by_round(&alert, &route, run, &tz, now) {
            put_alert(&mut *conn, &answered).await?;
        }
    }
    Ok(())
}

async fn write(conn: &mut $conn, rows: &super::sql::TxRows, w: &Write) -> Result<()> {
    match w {
        Write::Issue(i) => put_issue(conn, i).await,
        Write::Audit(a) => append_audit(conn, a).await,
        Write::Alert(a) => put_alert(conn, a).await.map(|_| ()),
        Write::Run(r) => {
            sqlx::query(
                "INSERT INTO runs (id, site_id, route_id, patroller_id, started_at_ms, data)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data",
            )
            .bind(r.id.to_string())
            .bind(r.site_id.to_string())
            .bind(r.route_id.to_string())
            .bind(r.patroller_id.to_string())
            .bind(ms(r.started_at))
            .bind(json(r)?)
            .execute(&mut *conn)
            .await?;
            if r.finished_at.is_some() {
                seal_round(conn, &r.id.to_string(), &r.site_id.to_string()).await?;
            } else {
                answer_missed_rounds(conn, rows, r).await?;
            }
            Ok(())
        }
        Write::Visit(v) => {
            sqlx::query(
                "INSERT INTO visits (id, run_id, checkpoint_id, at_ms, data) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(v.id.to_string())
            .bind(v.run_id.to_string())
            .bind(v.checkpoint_id.to_string())
            .bind(ms(v.at))
            .bind(json(v)?)
            .execute(conn)
            .await?;
            Ok(())
        }
        Write::Result(r) => {
            // A re-answered item replaces the earlier answer of that visit.
            sqlx::query("DELETE FROM results WHERE visit_id = $1 AND item_key = $2")
                .bind(r.visit_id.to_string())
                .bind(&r.item_key)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "INSERT INTO results (id, visit_id, item_key, data) VALUES ($1, $2, $3, $4)",
            )
            .bind(r.id.to_string())
            .bind(r.visit_id.to_string())
            .bind(&r.item_key)
            .bind(json(r)?)
            .execute(conn)
            .await?;
            Ok(())
        }
    }
}

async fn put_issue(conn: &mut $conn, i: &Issue) -> Result<()> {
    sqlx::query(
        "INSERT INTO issues (id, site_id, team, status, assignee_id, due_at_ms, data, severity, source)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (id) DO UPDATE SET team = excluded.team, status = excluded.status,
           assignee_id = excluded.assignee_id, due_at_ms = excluded.due_at_ms, data = excluded.data,
           severity = excluded.severity, source = excluded.source",
    )
    .bind(i.id.to_string())
    .bind(i.site_id.to_string())
    .bind(i.team.as_str())
    .bind(i.status.as_str())
    .bind(i.assignee_id.map(|a| a.to_string()))
    .bind(ms(i.due_at))
    .bind(json(i)?)
    .bind(i.severity.as_str())
    .bind(source_name(i.source))
    .execute(&mut *conn)
    .await?;
    feed_issue(
        conn,
        "issue",
        &i.id.to_string(),
        Some(i.site_id),
        Some(i.team.as_str()),
        i.assignee_id,
        Some(source_name(i.source)),
    )
    .await
}

fn source_name(s: patrol_core::issue::Source) -> &'static str {
    match s {
        patrol_core::issue::Source::Patrol => "patrol",
        patrol_core::issue::Source::Desk => "desk",
    }
}

/// The visits of a round, in the order they were made.
async fn run_visits(conn: &mut $conn, run: RunId) -> Result<Vec<Visit>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT data FROM visits WHERE run_id = $1 ORDER BY at_ms, id")
            .bind(run.to_string())
            .fetch_all(conn)
            .await?;
    rows.iter().map(|(d,)| parse(d)).collect()
}

/// Record a device as heard from.
/// Record a device as heard from; its last `seq`. The row stays locked to the end of the
/// transaction (PostgreSQL), so that `seq` is the device's until then.
async fn touch(conn: &mut $conn, heard: &super::Heard) -> Result<i64> {
    let (last_seq,): (i64,) = sqlx::query_as(super::sql::TOUCH)
    .bind(heard.device.to_string())
    .bind(heard.user.to_string())
    .bind(heard.offset_ms)
    .bind(ms(heard.at))
    .fetch_one(conn)
    .await?;
    Ok(last_seq)
}

/// Record an op as processed and move its device's `seq` on (written at the commit).
async fn record_op(
    conn: &mut $conn,
    rows: &mut super::sql::TxRows,
    meta: &OpMeta,
    refusal: Option<&Refusal>,
) -> Result<()> {
    let row = super::sql::OpRow {
        op_id: meta.op_id.to_string(),
        device_id: meta.device_id.to_string(),
        seq: meta.seq as i64,
        kind: meta.kind.clone(),
        user_id: meta.user_id.to_string(),
        device_at: meta.device_at.to_string(),
        server_at_ms: ms(meta.server_at),
        status: if refusal.is_some() { "rejected" } else { "applied" },
        code: refusal.map(|r| r.code.clone()),
        message: refusal.map(|r| r.message.clone()),
    };
    // A stale op (an old `seq` under a new id) is recorded without moving the device back.
    let last = rows.seqs.get(&row.device_id).map_or(0, |(n, _)| *n);
    rows.seqs.insert(row.device_id.clone(), (last.max(meta.seq), true));
    if rows.write_behind {
        rows.pending.ops.push(row);
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO ops (op_id, device_id, seq, kind, user_id, device_at, server_at_ms, status, code, message)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(row.op_id)
    .bind(row.device_id)
    .bind(row.seq)
    .bind(row.kind)
    .bind(row.user_id)
    .bind(row.device_at)
    .bind(row.server_at_ms)
    .bind(row.status)
    .bind(row.code)
    .bind(row.message)
    .execute(conn)
    .await?;
    Ok(())
}

#[async_trait]
impl Store for $store {
    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!($migrations)
            .run(&self.pool)
            .await?;
        self.upgrade_evidence().await
    }

    async fn secret(
        &self,
        name: &str,
        make: &(dyn Fn() -> String + Send + Sync),
    ) -> Result<String> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(make())
            .execute(&mut *tx)
            .await?;
        let (value,): (String,) =
            sqlx::query_as("SELECT value FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(value)
    }

    async fn put_site(&self, site: &Site, signing_key: &str) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sites (id, code, signing_key, data) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET code = excluded.code, signing_key = excluded.signing_key,
               data = excluded.data",
        )
        .bind(site.id.to_string())
        .bind(&site.code)
        .bind(signing_key)
        .bind(json(site)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(format!("site code {}", site.code))
            }
            other => other.into(),
        })?;
        feed(&mut tx, "site", &site.id.to_string(), Some(site.id), None).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reference(&self) -> Result<std::sync::Arc<super::Reference>> {
        let (n,): (i64,) = sqlx::query_as("SELECT n FROM reference_generation WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(self.reference.at(n))
    }

    async fn site(&self, id: SiteId) -> Result<Option<Site>> {
        self.one("SELECT data FROM sites WHERE id = $1", &id.to_string())
            .await
    }

    async fn site_by_code(&self, code: &str) -> Result<Option<Site>> {
        self.one("SELECT data FROM sites WHERE code = $1", code)
            .await
    }

    async fn site_signing_key(&self, id: SiteId) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT signing_key FROM sites WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(k,)| k))
    }

    async fn sites(&self) -> Result<Vec<Site>> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT data FROM sites ORDER BY code")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|(d,)| parse(d)).collect()
    }

    async fn put_zone(&self, zone: &Zone) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO zones (id, site_id, data) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET data = excluded.data",
        )
        .bind(zone.id.to_string())
        .bind(zone.site_id.to_string())
        .bind(json(zone)?)
        .execute(&mut *tx)
        .await?;
        feed(
            &mut tx,
            "zone",
            &zone.id.to_string(),
            Some(zone.site_id),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_checkpoint(&self, c: &Checkpoint) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO checkpoints (id, site_id, zone_id, data) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET zone_id = excluded.zone_id, data = excluded.data",
        )
        .bind(c.id.to_string())
        .bind(c.site_id.to_string())
        .bind(c.zone_id.to_string())
        .bind(json(c)?)
        .execute(&mut *tx)
        .await?;
        feed(
            &mut tx,
            "checkpoint",
            &c.id.to_string(),
            Some(c.site_id),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn checkpoints(&self, site: SiteId) -> Result<Vec<Checkpoint>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT data FROM checkpoints WHERE site_id = $1 ORDER BY id")
                .bind(site.to_string())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|(d,)| parse(d)).collect()
    }

    async fn checkpoint(&self, id: CheckpointId) -> Result<Option<Checkpoint>> {
        self.one(
            "SELECT data FROM checkpoints WHERE id = $1",
            &id.to_string(),
        )
        .await
    }

    async fn zones(&self, site: SiteId) -> Result<Vec<Zone>> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT data FROM zones WHERE site_id = $1")
            .bind(site.to_string())
            .fetch_all(&self.pool)
            .await?;
        let mut zones: Vec<Zone> = rows.iter().map(|(d,)| parse(d)).collect::<Result<_>>()?;
        zones.sort_by(|a, b| {
            (&a.building, &a.floor, &a.name).cmp(&(&b.building, &b.floor, &b.name))
        });
        Ok(zones)
    }

    async fn zone(&self, id: ZoneId) -> Result<Option<Zone>> {
        self.one("SELECT data FROM zones WHERE id = $1", &id.to_string())
            .await
    }

    async fn put_route(&self, route: &Route) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO routes (id, site_id, data) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET data = excluded.data",
        )
        .bind(route.id.to_string())
        .bind(route.site_id.to_string())
        .bind(json(route)?)
        .execute(&mut *tx)
        .await?;
        feed(
            &mut tx,
            "route",
            &route.id.to_string(),
            Some(route.site_id),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn route(&self, id: RouteId) -> Result<Option<Route>> {
        self.one("SELECT data FROM routes WHERE id = $1", &id.to_string())
            .await
    }

    async fn routes(&self, site: SiteId) -> Result<Vec<Route>> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT data FROM routes WHERE site_id = $1")
            .bind(site.to_string())
            .fetch_all(&self.pool)
            .await?;
        let mut routes: Vec<Route> = rows.iter().map(|(d,)| parse(d)).collect::<Result<_>>()?;
        routes.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
        Ok(routes)
    }

    async fn put_template(&self, t: &Template) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO templates (id, zone_kind, version, data) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET data = excluded.data",
        )
        .bind(t.id.to_string())
        .bind(t.zone_kind.as_str())
        .bind(i64::from(t.version))
        .bind(json(t)?)
        .execute(&mut *tx)
        .await?;
        feed(&mut tx, "template", &t.id.to_string(), None, None).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn template_for(&self, kind: ZoneKind) -> Result<Option<Template>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT data FROM templates WHERE zone_kind = $1 ORDER BY version DESC, id LIMIT 1",
        )
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(d,)| parse(&d)).transpose()
    }

    async fn add_user(&self, user: &User, password_hash: &str) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, team, data) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.id.to_string())
        .bind(&user.username)
        .bind(password_hash)
        .bind(user.role.as_str())
        .bind(user.team.map(|t| t.as_str()))
        .bind(json(user)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                StoreError::Conflict(format!("username {}", user.username))
            }
            other => other.into(),
        })?;
        for site in &user.site_ids {
            sqlx::query("INSERT INTO user_sites (user_id, site_id) VALUES ($1, $2)")
                .bind(user.id.to_string())
                .bind(site.to_string())
                .execute(&mut *tx)
                .await?;
            feed(&mut tx, "user", &user.id.to_string(), Some(*site), None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn account(&self, username: &str) -> Result<Option<Account>> {
        let row: Option<(String, String, i64)> = sqlx::query_as(
            "SELECT data, password_hash, disabled FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(d, h, off)| {
            Ok(Account {
                user: parse(&d)?,
                password_hash: h,
                disabled: off != 0,
            })
        })
        .transpose()
    }

    async fn user(&self, id: UserId) -> Result<Option<User>> {
        self.one("SELECT data FROM users WHERE id = $1", &id.to_string())
            .await
    }

    async fn account_of(&self, id: UserId) -> Result<Option<Account>> {
        let row: Option<(String, String, i64)> =
            sqlx::query_as("SELECT data, password_hash, disabled FROM users WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(d, h, off)| {
            Ok(Account {
                user: parse(&d)?,
                password_hash: h,
                disabled: off != 0,
            })
        })
        .transpose()
    }

    async fn site_accounts(&self, site: SiteId) -> Result<Vec<(User, bool)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT u.data, u.disabled FROM users u JOIN user_sites s ON s.user_id = u.id
             WHERE s.site_id = $1 ORDER BY u.username",
        )
        .bind(site.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|(d, off)| Ok((parse(d)?, *off != 0)))
            .collect()
    }

    async fn set_disabled(&self, user: UserId, disabled: bool) -> Result<bool> {
        let (_guard, mut tx) = self.begin_write().await?;
        let done = sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1")
            .bind(user.to_string())
            .bind(i64::from(disabled))
            .execute(&mut *tx)
            .await?;
        if disabled {
            end_sign_ins(&mut tx, user).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_password(&self, user: UserId, password_hash: &str) -> Result<bool> {
        let (_guard, mut tx) = self.begin_write().await?;
        let done = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(user.to_string())
            .bind(password_hash)
            .execute(&mut *tx)
            .await?;
        end_sign_ins(&mut tx, user).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_user_site(&self, user: UserId, site: SiteId) -> Result<bool> {
        let (_guard, mut tx) = self.begin_write().await?;
        let Some(mut u) = load::<User>(&mut tx, "users", Some(user.to_string())).await? else {
            return Ok(false);
        };
        if !u.site_ids.contains(&site) {
            u.site_ids.push(site);
            sqlx::query("UPDATE users SET data = $2 WHERE id = $1")
                .bind(user.to_string())
                .bind(json(&u)?)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO user_sites (user_id, site_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(user.to_string())
            .bind(site.to_string())
            .execute(&mut *tx)
            .await?;
            // Everyone who pulls the user sees the new site list.
            for s in &u.site_ids {
                feed(&mut tx, "user", &user.to_string(), Some(*s), None).await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn rekey_site(
        &self,
        site: &Site,
        signing_key: &str,
        checkpoints: &[Checkpoint],
    ) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query("UPDATE sites SET signing_key = $2, data = $3 WHERE id = $1")
            .bind(site.id.to_string())
            .bind(signing_key)
            .bind(json(site)?)
            .execute(&mut *tx)
            .await?;
        feed(&mut tx, "site", &site.id.to_string(), Some(site.id), None).await?;
        for c in checkpoints {
            sqlx::query("UPDATE checkpoints SET data = $2 WHERE id = $1 AND site_id = $3")
                .bind(c.id.to_string())
                .bind(json(c)?)
                .bind(site.id.to_string())
                .execute(&mut *tx)
                .await?;
            feed(&mut tx, "checkpoint", &c.id.to_string(), Some(site.id), None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn add_refresh_token(
        &self,
        hash: &str,
        user: UserId,
        expires_at: Timestamp,
    ) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, user_id, expires_at_ms) VALUES ($1, $2, $3)",
        )
        .bind(hash)
        .bind(user.to_string())
        .bind(ms(expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn use_refresh_token(&self, hash: &str, now: Timestamp) -> Result<Option<UserId>> {
        let (_guard, mut tx) = self.begin_write().await?;
        // A token used twice at once is used twice: the second sees the first's use.
        lock_key(&mut tx, "refresh", hash).await?;
        let row: Option<(String, i64, Option<i64>, i64)> = sqlx::query_as(
            "SELECT user_id, expires_at_ms, used_at_ms, revoked FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((user, expires, used, revoked)) = row else {
            return Ok(None);
        };
        if used.is_some() {
            // Replay of a rotated token: treat the family as stolen.
            sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = $1")
                .bind(&user)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(None);
        }
        if revoked != 0 || expires <= ms(now) {
            return Ok(None);
        }
        sqlx::query("UPDATE refresh_tokens SET used_at_ms = $2 WHERE token_hash = $1")
            .bind(hash)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(user.parse().ok())
    }

    async fn revoke_refresh_tokens(&self, user: UserId) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn touch_device(
        &self,
        device: DeviceId,
        user: UserId,
        offset_ms: i64,
        now: Timestamp,
    ) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        let heard = super::Heard { device, user, offset_ms, at: now };
        touch(&mut tx, &heard).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn apply_op(&self, meta: &OpMeta, keys: Keys, decide: Decide<'_>) -> Result<OpOutcome> {
        self.apply_alone(meta, keys, decide, false).await
    }

    async fn apply_op_next(
        &self,
        meta: &OpMeta,
        keys: Keys,
        decide: Decide<'_>,
    ) -> Result<OpOutcome> {
        self.apply_alone(meta, keys, decide, true).await
    }

    async fn job_lock(&self, job: super::Job) -> Result<Option<super::JobLock>> {
        self.try_job(job).await
    }

    async fn begin_ops(&self) -> Result<Box<dyn super::OpBatch + '_>> {
        // A batch reads outside its transaction while holding it: a slot first, so that open
        // batches never hold every connection of the pool and wait on each other for one.
        let slot = self.batch_slot().await?;
        let tx = self.begin_batch().await?;
        Ok(Box::new(OpTx {
            tx,
            rows: super::sql::TxRows::default(),
            _slot: slot,
            outbox: &self.outbox,
            raised_alert: false,
        }))
    }

    async fn begin_push(
        &self,
        heard: &super::Heard,
        reference: std::sync::Arc<super::Reference>,
    ) -> Result<Box<dyn super::OpBatch + '_>> {
        let slot = self.batch_slot().await?;
        // A push may share its commit with the pushes beside it (SQLite's group commit).
        let (tx, last_seq) = self.begin_push_batch(heard).await?;
        Ok(Box::new(OpTx {
            tx,
            rows: super::sql::TxRows::write_behind(reference, heard.device.to_string(), last_seq),
            _slot: slot,
            outbox: &self.outbox,
            raised_alert: false,
        }))
    }

    async fn apply_system(&self, issue: IssueId, decide: Decide<'_>) -> Result<bool> {
        let (_guard, mut tx) = self.begin_write().await?;
        lock_key(&mut tx, "issue", &issue.to_string()).await?;
        let snapshot = Snapshot {
            issue: load(&mut tx, "issues", Some(issue.to_string())).await?,
            ..Snapshot::default()
        };
        let Decision::Apply(writes) = decide(&snapshot) else {
            return Ok(false);
        };
        for w in &writes {
            write(&mut tx, &super::sql::TxRows::default(), w).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn issue(&self, id: IssueId) -> Result<Option<Issue>> {
        self.one("SELECT data FROM issues WHERE id = $1", &id.to_string())
            .await
    }

    async fn run(&self, id: RunId) -> Result<Option<PatrolRun>> {
        self.one("SELECT data FROM runs WHERE id = $1", &id.to_string())
            .await
    }

    async fn visit(&self, id: VisitId) -> Result<Option<Visit>> {
        self.one("SELECT data FROM visits WHERE id = $1", &id.to_string())
            .await
    }

    async fn issues(
        &self,
        f: &IssueFilter,
        after: Option<QueueCursor>,
        limit: u32,
    ) -> Result<Vec<Issue>> {
        let sites = f.sites();
        if sites.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<$db>::new("SELECT data FROM issues WHERE ");
        push_issue_filter(&mut q, f, &sites);
        if let Some(c) = after {
            q.push(" AND (due_at_ms > ")
                .push_bind(c.due_at_ms)
                .push(" OR (due_at_ms = ")
                .push_bind(c.due_at_ms)
                .push(" AND id > ")
                .push_bind(c.id.to_string())
                .push("))");
        }
        q.push(" ORDER BY due_at_ms, id LIMIT ").push_bind(i64::from(limit));
        let rows: Vec<(String,)> = q.build_query_as().fetch_all(&self.pool).await?;
        rows.iter().map(|(d,)| parse(d)).collect()
    }

    async fn open_counts(&self, f: &IssueFilter, now: Timestamp) -> Result<Vec<super::TeamCount>> {
        let sites = f.sites();
        if sites.is_empty() {
            return Ok(Vec::new());
        }
        // Overdue as `sla::issue_state` has it: not closed, and due by now.
        let mut q = QueryBuilder::<$db>::new("SELECT team, COUNT(*), COALESCE(SUM(CASE WHEN due_at_ms <= ");
        q.push_bind(ms(now))
            .push(" THEN 1 ELSE 0 END), 0) FROM issues WHERE ");
        push_issue_filter(&mut q, f, &sites);
        q.push(" AND status <> 'closed' GROUP BY team ORDER BY team");
        let rows: Vec<(String, i64, i64)> = q.build_query_as().fetch_all(&self.pool).await?;
        rows.into_iter()
            .map(|(team, open, overdue)| {
                Ok(super::TeamCount {
                    // The column holds the team's serde name; anything else is a stored fault.
                    team: serde_json::from_value(serde_json::Value::String(team))?,
                    open: u64::try_from(open).unwrap_or(0),
                    overdue: u64::try_from(overdue).unwrap_or(0),
                })
            })
            .collect()
    }

    async fn audit(&self, issue: IssueId) -> Result<Vec<AuditEntry>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT data FROM audit WHERE issue_id = $1 ORDER BY seq")
                .bind(issue.to_string())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|(d,)| parse(d)).collect()
    }

    async fn evidence(&self, issue: IssueId) -> Result<Option<patrol_core::evidence::Evidence>> {
        let mut conn = self.pool.acquire().await?;
        let row: Option<(String,)> = sqlx::query_as("SELECT data FROM issues WHERE id = $1")
            .bind(issue.to_string())
            .fetch_optional(&mut *conn)
            .await?;
        let Some((data,)) = row else { return Ok(None) };
        let id = issue.to_string();
        let audit = trail(&mut conn, &id).await?;
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT signed, signature, key_id FROM signoffs WHERE issue_id = $1 ORDER BY seq",
        )
        .bind(&id)
        .fetch_all(&mut *conn)
        .await?;
        let signoffs = rows
            .into_iter()
            .map(|(signed, signature, key_id)| {
                Ok(ev::Signed { signed: parse(&signed)?, signature, key_id })
            })
            .collect::<Result<_>>()?;
        Ok(Some(ev::Evidence {
            issue: parse(&data)?,
            audit,
            signoffs,
            public_keys: public_keys(&mut conn).await?,
        }))
    }

    async fn verify_audit(&self, issue: Option<IssueId>) -> Result<super::AuditCheck> {
        let mut conn = self.pool.acquire().await?;
        let mut check = super::AuditCheck::default();
        if let Some(f) = check_keys(&mut conn).await? {
            check.fault = Some(f);
            return Ok(check);
        }
        let keys = public_keys(&mut conn).await?;
        let issues: Vec<(String,)> = match issue {
            Some(id) => sqlx::query_as("SELECT id FROM issues WHERE id = $1")
                .bind(id.to_string())
                .fetch_all(&mut *conn)
                .await?,
            None => sqlx::query_as("SELECT id FROM issues ORDER BY id")
                .fetch_all(&mut *conn)
                .await?,
        };
        for (id,) in &issues {
            check.issues += 1;
            if let Some(f) = check_issue(&mut conn, id, &keys, &mut check).await? {
                check.fault = Some(f);
                return Ok(check);
            }
        }
        if issue.is_none() {
            check.fault = check_seals(&mut conn, &keys, &mut check).await?;
        }
        Ok(check)
    }

    async fn evidence_keys(&self) -> Result<Vec<super::EvidenceKey>> {
        let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT key_id, public_key, created_ms, retired_ms FROM evidence_keys ORDER BY created_ms, key_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(key_id, public_key, created, retired)| super::EvidenceKey {
                key_id,
                public_key,
                created_at: Timestamp::from_millisecond(created).unwrap_or_default(),
                retired_at: retired.and_then(|r| Timestamp::from_millisecond(r).ok()),
            })
            .collect())
    }

    async fn rotate_evidence_key(&self) -> Result<super::EvidenceKey> {
        let (_guard, mut tx) = self.begin_write().await?;
        let now = Timestamp::now();
        sqlx::query("UPDATE evidence_keys SET secret = NULL, retired_ms = $1 WHERE secret IS NOT NULL")
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
        let key = new_key(&mut tx).await?;
        tx.commit().await?;
        Ok(super::EvidenceKey {
            key_id: key.key_id(),
            public_key: key.public_base64(),
            created_at: now,
            retired_at: None,
        })
    }

    async fn sealed_rounds(
        &self,
        site: SiteId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ev::SealedRound>> {
        let mut conn = self.pool.acquire().await?;
        let seals: Vec<(String, String, String, String, String)> = sqlx::query_as(
            "SELECT s.run_id, s.signed, s.signature, s.key_id, s.records FROM seals s
             JOIN runs r ON r.id = s.run_id
             WHERE r.site_id = $1 AND r.started_at_ms >= $2 AND r.started_at_ms < $3
             ORDER BY r.started_at_ms, r.id",
        )
        .bind(site.to_string())
        .bind(ms(from))
        .bind(ms(to))
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::with_capacity(seals.len());
        for (run_id, signed, signature, key_id, records) in seals {
            let seal = read_seal(&signed, signature, key_id, &records)?;
            let rows = round_rows(&mut conn, &run_id)
                .await?
                .into_iter()
                .map(|(table, id, row)| ev::SealedRow { table, id, row })
                .collect();
            out.push(ev::SealedRound { run_id, seal, rows });
        }
        Ok(out)
    }

    async fn active_issues(&self) -> Result<Vec<Issue>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT data FROM issues WHERE status <> 'closed' ORDER BY due_at_ms")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|(d,)| parse(d)).collect()
    }

    async fn has_blob(&self, sha256: &str) -> Result<bool> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    async fn blobs(&self, sha256: &[String]) -> Result<HashMap<String, Option<BlobInfo>>> {
        let mut found = HashMap::new();
        if sha256.is_empty() {
            return Ok(found);
        }
        let mut q = QueryBuilder::<$db>::new("SELECT sha256, kind, width, height FROM blobs WHERE sha256 IN (");
        let mut list = q.separated(", ");
        for s in sha256 {
            list.push_bind(s.clone());
        }
        q.push(")");
        let rows: Vec<(String, Option<String>, Option<i64>, Option<i64>)> =
            q.build_query_as().fetch_all(&self.pool).await?;
        for (sha, kind, w, h) in rows {
            let info = match (kind.as_deref().and_then(BlobKind::parse), w, h) {
                (Some(kind), Some(w), Some(h)) => Some(BlobInfo {
                    kind,
                    width: u32::try_from(w).unwrap_or(u32::MAX),
                    height: u32::try_from(h).unwrap_or(u32::MAX),
                }),
                _ => None,
            };
            found.insert(sha, info);
        }
        Ok(found)
    }

    async fn add_blob(
        &self,
        sha256: &str,
        bytes: u64,
        info: &BlobInfo,
        now: Timestamp,
    ) -> Result<bool> {
        let (_guard, mut tx) = self.begin_write().await?;
        let done = sqlx::query(
            "INSERT INTO blobs (sha256, bytes, created_ms, kind, width, height) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(bytes as i64)
        .bind(ms(now))
        .bind(info.kind.as_str())
        .bind(i64::from(info.width))
        .bind(i64::from(info.height))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_console_session(&self, session: &ConsoleSession) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO console_sessions (token_hash, user_id, csrf, device_id, created_ms, seen_ms, expires_ms)
             VALUES ($1, $2, $3, $4, $5, $5, $6)",
        )
        .bind(&session.token_hash)
        .bind(session.user_id.to_string())
        .bind(&session.csrf)
        .bind(session.device_id.to_string())
        .bind(ms(session.created_at))
        .bind(ms(session.expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn console_session(
        &self,
        token_hash: &str,
        now: Timestamp,
        idle: jiff::SignedDuration,
    ) -> Result<Option<ConsoleSession>> {
        let (_guard, mut tx) = self.begin_write().await?;
        let row: Option<(String, String, String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT user_id, csrf, device_id, created_ms, seen_ms, expires_ms, ended
             FROM console_sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((user, csrf, device, created, seen, expires, ended)) = row else {
            return Ok(None);
        };
        let idle_ms = i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
        let now_ms = ms(now);
        if ended != 0 || now_ms >= expires || now_ms.saturating_sub(seen) >= idle_ms {
            return Ok(None);
        }
        sqlx::query("UPDATE console_sessions SET seen_ms = $2 WHERE token_hash = $1")
            .bind(token_hash)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let (Ok(user_id), Ok(device_id)) = (user.parse(), device.parse()) else {
            return Ok(None);
        };
        Ok(Some(ConsoleSession {
            token_hash: token_hash.to_owned(),
            user_id,
            csrf,
            device_id,
            created_at: Timestamp::from_millisecond(created).unwrap_or(now),
            expires_at: Timestamp::from_millisecond(expires).unwrap_or(now),
        }))
    }

    async fn end_console_session(&self, token_hash: &str) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query("UPDATE console_sessions SET ended = 1 WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn changes(
        &self,
        visibility: &Visibility,
        cursor: i64,
        limit: u32,
    ) -> Result<ChangePage> {
        if visibility.sites.is_empty() {
            return Ok(ChangePage {
                changes: Vec::new(),
                cursor,
                more: false,
            });
        }
        let horizon = self.feed_horizon().await?;
        let mut q = feed_after(cursor, horizon);
        q.push(" AND (site_id IS NULL OR site_id IN (");
        let mut list = q.separated(", ");
        for s in &visibility.sites {
            list.push_bind(s.to_string());
        }
        q.push("))");
        if let Some((team, user)) = visibility.jobs_of {
            // Rows of issues that were this person's to see when they changed; whether they
            // still are is asked of the issue itself below.
            q.push(" AND (entity <> 'issue' OR team = ")
                .push_bind(team.map(|t| t.as_str()).unwrap_or(""))
                .push(" OR assignee_id = ")
                .push_bind(user.to_string());
            if visibility.desk_reports() {
                q.push(" OR source = 'desk'");
            }
            q.push(")");
        }
        q.push(FEED_TAIL).push_bind(i64::from(limit) + 1);
        let rows = q.build().fetch_all(&self.pool).await?;
        let mut more = rows.len() > limit as usize;
        let mut listed: Vec<(String, String, i64)> = Vec::new();
        for row in rows.iter().take(limit as usize) {
            listed.push((row.try_get("entity")?, row.try_get("entity_id")?, row.try_get("last")?));
        }
        // The page's records, one query a table (in chunks of bounded size) rather than one a
        // change: a first pull of a large site is thousands of changes.
        const TABLES: [(&str, &str); 8] = [
            ("site", "SELECT id, data FROM sites WHERE id IN ("),
            ("zone", "SELECT id, data FROM zones WHERE id IN ("),
            ("checkpoint", "SELECT id, data FROM checkpoints WHERE id IN ("),
            ("route", "SELECT id, data FROM routes WHERE id IN ("),
            ("template", "SELECT id, data FROM templates WHERE id IN ("),
            ("user", "SELECT id, data FROM users WHERE id IN ("),
            ("issue", "SELECT id, data FROM issues WHERE id IN ("),
            ("alert", "SELECT id, data FROM alerts WHERE id IN ("),
        ];
        let mut found: HashMap<(String, String), String> = HashMap::new();
        for (entity, select) in TABLES {
            let ids: Vec<&str> = listed
                .iter()
                .filter(|(e, _, _)| e == entity)
                .map(|(_, id, _)| id.as_str())
                .collect();
            for chunk in ids.chunks(500) {
                let mut q = QueryBuilder::<$db>::new(select);
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(id.to_string());
                }
                q.push(")");
                let rows: Vec<(String, String)> = q.build_query_as().fetch_all(&self.pool).await?;
                for (id, data) in rows {
                    found.insert((entity.to_owned(), id), data);
                }
            }
        }
        let mut changes = Vec::new();
        let mut last = cursor;
        let mut bytes = 0;
        for (entity, id, seq) in listed {
            // A page is also bounded in size: a phone on a weak signal gets it whole.
            if bytes >= patrol_core::bounds::MAX_PULL_PAGE_BYTES {
                more = true;
                break;
            }
            last = seq;
            if !TABLES.iter().any(|(e, _)| *e == entity) {
                continue;
            }
            let data = found.remove(&(entity.clone(), id.clone())).map(|d| (d,));
            bytes += data.as_ref().map_or(0, |(d,)| d.len());
            let change = match (entity.as_str(), data) {
                (_, None) => Change::gone(&entity, &id),
                ("issue", Some((d,))) => {
                    let issue: Issue = parse(&d)?;
                    if visibility.contains(&issue) {
                        Change::of(&Entity::Issue(issue))
                    } else {
                        Change::gone(&entity, &id)
                    }
                }
                ("site", Some((d,))) => {
                    // The signing secret lives in its own column; the JSON is public data.
                    Change::of(&Entity::Site(parse(&d)?))
                }
                (_, Some((d,))) => Change {
                    entity: entity.clone(),
                    id: id.clone(),
                    data: Some(serde_json::from_str(&d)?),
                },
            };
            changes.push(change);
        }
        Ok(ChangePage {
            changes,
            cursor: last,
            more,
        })
    }

    // ---- reports and archive ----
    async fn site_users(&self, site: SiteId) -> Result<Vec<User>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT u.data FROM users u JOIN user_sites s ON s.user_id = u.id
             WHERE s.site_id = $1 ORDER BY u.username",
        )
        .bind(site.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|(d,)| parse(d)).collect()
    }

    async fn patrol_records(
        &self,
        site: SiteId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<super::PatrolRecords> {
        let month = "r.site_id = $1 AND r.started_at_ms >= $2 AND r.started_at_ms < $3";
        let rows = |sql: String| {
            sqlx::query_as::<_, (String,)>(AssertSqlSafe(sql))
                .bind(site.to_string())
                .bind(ms(from))
                .bind(ms(to))
                .fetch_all(&self.pool)
        };
        let runs: Vec<PatrolRun> = rows(format!(
            "SELECT r.data FROM runs r WHERE {month} ORDER BY r.started_at_ms, r.id"
        ))
        .await?
        .iter()
        .map(|(d,)| parse(d))
        .collect::<Result<_>>()?;
        let visits: Vec<Visit> = rows(format!(
            "SELECT v.data FROM visits v JOIN runs r ON r.id = v.run_id WHERE {month}
             ORDER BY v.at_ms, v.id"
        ))
        .await?
        .iter()
        .map(|(d,)| parse(d))
        .collect::<Result<_>>()?;
        let results: Vec<patrol_core::patrol::ItemResult> = rows(format!(
            "SELECT x.data FROM results x JOIN visits v ON v.id = x.visit_id
             JOIN runs r ON r.id = v.run_id WHERE {month} ORDER BY v.at_ms, v.id, x.item_key"
        ))
        .await?
        .iter()
        .map(|(d,)| parse(d))
        .collect::<Result<_>>()?;
        // Rows written between these reads belong to rounds or visits not read: left out, so
        // every visit has its round and every answer its visit.
        let run_ids: std::collections::HashSet<RunId> = runs.iter().map(|r| r.id).collect();
        let visits: Vec<Visit> = visits
            .into_iter()
            .filter(|v| run_ids.contains(&v.run_id))
            .collect();
        let visit_ids: std::collections::HashSet<VisitId> = visits.iter().map(|v| v.id).collect();
        let results = results
            .into_iter()
            .filter(|x| visit_ids.contains(&x.visit_id))
            .collect();
        Ok(super::PatrolRecords {
            runs,
            visits,
            results,
        })
    }

    async fn issues_found(
        &self,
        site: SiteId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(Issue, Vec<AuditEntry>)>> {
        // An issue is due no earlier than it was found (extensions only move the due time
        // later), so the due-time index narrows the search to issues found since `from`.
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT data FROM issues WHERE site_id = $1 AND due_at_ms >= $2 ORDER BY due_at_ms, id",
        )
        .bind(site.to_string())
        .bind(ms(from))
        .fetch_all(&self.pool)
        .await?;
        let mut issues: Vec<Issue> = rows
            .iter()
            .map(|(d,)| parse::<Issue>(d))
            .collect::<Result<Vec<_>>>()?;
        issues.retain(|i| i.observed_at >= from && i.observed_at < to);
        issues.sort_by_key(|i| (i.observed_at, i.id));
        let mut trails: HashMap<String, Vec<AuditEntry>> = HashMap::new();
        for chunk in issues.chunks(500) {
            let mut q = QueryBuilder::<$db>::new("SELECT issue_id, data FROM audit WHERE issue_id IN (");
            let mut list = q.separated(", ");
            for i in chunk {
                list.push_bind(i.id.to_string());
            }
            q.push(") ORDER BY seq");
            let rows: Vec<(String, String)> = q.build_query_as().fetch_all(&self.pool).await?;
            for (issue, data) in rows {
                trails.entry(issue).or_default().push(parse(&data)?);
            }
        }
        Ok(issues
            .into_iter()
            .map(|i| {
                let trail = trails.remove(&i.id.to_string()).unwrap_or_default();
                (i, trail)
            })
            .collect())
    }

    async fn first_round_at(&self, site: SiteId) -> Result<Option<Timestamp>> {
        let (first,): (Option<i64>,) =
            sqlx::query_as("SELECT MIN(started_at_ms) FROM runs WHERE site_id = $1")
                .bind(site.to_string())
                .fetch_one(&self.pool)
                .await?;
        Ok(first.and_then(|t| Timestamp::from_millisecond(t).ok()))
    }

    async fn record_counts(
        &self,
        site: SiteId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<super::RecordCounts> {
        let mut conn = self.pool.acquire().await?;
        month_counts(&mut *conn, site, ms(from), ms(to)).await
    }

    async fn record_archive(
        &self,
        site: SiteId,
        m: &super::ArchivedMonth,
        replaces: Option<u32>,
    ) -> Result<bool> {
        let (_guard, mut tx) = self.begin_write().await?;
        let month = m.month.to_string();
        let bind = |sql: &'static str| {
            sqlx::query(sql)
                .bind(site.to_string())
                .bind(month.clone())
                .bind(ms(m.from))
                .bind(ms(m.to))
                .bind(i64::from(m.version))
                .bind(m.archived.runs)
                .bind(m.archived.visits)
                .bind(m.archived.results)
                .bind(m.archived.chars)
                .bind(m.purged.runs)
                .bind(m.purged.visits)
                .bind(m.purged.results)
                .bind(m.purged.chars)
                .bind(ms(m.archived_at))
        };
        let done = match replaces {
            None => bind(
                "INSERT INTO archive_months (site_id, month, from_ms, to_ms, version, runs, visits,
                   results, chars, purged_runs, purged_visits, purged_results, purged_chars,
                   archived_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 ON CONFLICT (site_id, month) DO NOTHING",
            )
            .execute(&mut *tx)
            .await?,
            Some(version) => bind(
                "UPDATE archive_months SET from_ms = $3, to_ms = $4, version = $5, runs = $6,
                   visits = $7, results = $8, chars = $9, purged_runs = $10, purged_visits = $11,
                   purged_results = $12, purged_chars = $13, archived_at_ms = $14
                 WHERE site_id = $1 AND month = $2 AND version = $15",
            )
            .bind(i64::from(version))
            .execute(&mut *tx)
            .await?,
        };
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        for f in &m.files {
            sqlx::query(
                "INSERT INTO archive_files (site_id, month, name, bytes, sha256, written_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (site_id, month, name) DO UPDATE SET bytes = excluded.bytes,
                   sha256 = excluded.sha256, written_at_ms = excluded.written_at_ms",
            )
            .bind(site.to_string())
            .bind(&month)
            .bind(&f.name)
            .bind(i64::try_from(f.bytes).unwrap_or(i64::MAX))
            .bind(&f.sha256)
            .bind(ms(f.written_at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn archive(&self, site: SiteId) -> Result<Vec<super::ArchivedMonth>> {
        let months: Vec<(String, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)> =
            sqlx::query_as(
                "SELECT month, from_ms, to_ms, version, runs, visits, results, chars, purged_runs,
                   purged_visits, purged_results, purged_chars, archived_at_ms
                 FROM archive_months WHERE site_id = $1",
            )
            .bind(site.to_string())
            .fetch_all(&self.pool)
            .await?;
        let files: Vec<(String, String, i64, String, i64)> = sqlx::query_as(
            "SELECT month, name, bytes, sha256, written_at_ms FROM archive_files WHERE site_id = $1",
        )
        .bind(site.to_string())
        .fetch_all(&self.pool)
        .await?;
        let time = |t: i64| Timestamp::from_millisecond(t).unwrap_or(Timestamp::UNIX_EPOCH);
        let mut out = Vec::new();
        for (month, from, to, version, runs, visits, results, chars, p_runs, p_visits, p_results, p_chars, at) in months {
            // A row this code did not write is left out rather than failing the whole list.
            let Ok(parsed) = month.parse::<patrol_core::report::Month>() else {
                continue;
            };
            let mut month_files: Vec<super::ArchiveFile> = files
                .iter()
                .filter(|f| f.0 == month)
                .map(|(_, name, bytes, sha256, written)| super::ArchiveFile {
                    name: name.clone(),
                    bytes: u64::try_from(*bytes).unwrap_or(0),
                    sha256: sha256.clone(),
                    written_at: time(*written),
                })
                .collect();
            month_files.sort_by(|a, b| a.name.cmp(&b.name));
            out.push(super::ArchivedMonth {
                month: parsed,
                from: time(from),
                to: time(to),
                version: u32::try_from(version).unwrap_or(0),
                archived: super::RecordCounts { runs, visits, results, chars },
                purged: super::RecordCounts {
                    runs: p_runs,
                    visits: p_visits,
                    results: p_results,
                    chars: p_chars,
                },
                archived_at: time(at),
                files: month_files,
            });
        }
        out.sort_by_key(|m| m.month);
        Ok(out)
    }

    async fn purge_batch(
        &self,
        site: SiteId,
        month: patrol_core::report::Month,
        before: Timestamp,
        limit: u32,
    ) -> Result<super::Purge> {
        let (_guard, mut tx) = self.begin_exclusive().await?;
        let row: Option<(i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT from_ms, to_ms, runs, visits, results, chars, purged_runs, purged_visits,
               purged_results, purged_chars
             FROM archive_months WHERE site_id = $1 AND month = $2",
        )
        .bind(site.to_string())
        .bind(month.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((from, to, runs, visits, results, chars, p_runs, p_visits, p_results, p_chars)) = row
        else {
            return Ok(super::Purge::NotArchived);
        };
        let archived = super::RecordCounts { runs, visits, results, chars };
        let purged = super::RecordCounts {
            runs: p_runs,
            visits: p_visits,
            results: p_results,
            chars: p_chars,
        };
        // Checked under the write lock: nothing can arrive between this and the delete.
        let stored = month_counts(&mut *tx, site, from, to).await?;
        if stored + purged != archived {
            return Ok(super::Purge::Changed);
        }
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM runs WHERE site_id = $1 AND started_at_ms >= $2 AND started_at_ms < $3
             ORDER BY started_at_ms, id LIMIT $4",
        )
        .bind(site.to_string())
        .bind(from)
        .bind(to.min(ms(before)))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            return Ok(super::Purge::Purged(super::RecordCounts::default()));
        }
        // The month's archive carries the seals of its rounds (`seals.json`).
        for sql in [
            "DELETE FROM seals WHERE run_id IN (",
            "DELETE FROM results WHERE visit_id IN (SELECT id FROM visits WHERE run_id IN (",
            "DELETE FROM visits WHERE run_id IN (",
            "DELETE FROM runs WHERE id IN (",
        ] {
            let mut q = QueryBuilder::<$db>::new(sql);
            let mut list = q.separated(", ");
            for (id,) in &ids {
                list.push_bind(id.clone());
            }
            q.push(if sql.starts_with("DELETE FROM results") { "))" } else { ")" });
            q.build().execute(&mut *tx).await?;
        }
        let left = month_counts(&mut *tx, site, from, to).await?;
        let batch = super::RecordCounts {
            runs: stored.runs - left.runs,
            visits: stored.visits - left.visits,
            results: stored.results - left.results,
            chars: stored.chars - left.chars,
        };
        let now = purged + batch;
        sqlx::query(
            "UPDATE archive_months SET purged_runs = $3, purged_visits = $4, purged_results = $5,
               purged_chars = $6 WHERE site_id = $1 AND month = $2",
        )
        .bind(site.to_string())
        .bind(month.to_string())
        .bind(now.runs)
        .bind(now.visits)
        .bind(now.results)
        .bind(now.chars)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(super::Purge::Purged(batch))
    }
}

/// What a site stores of rounds started in `[from_ms, to_ms)`, with their visits and answers.
async fn month_counts(
    conn: &mut $conn,
    site: SiteId,
    from_ms: i64,
    to_ms: i64,
) -> Result<super::RecordCounts> {
    let month = "r.site_id = $1 AND r.started_at_ms >= $2 AND r.started_at_ms < $3";
    let visits = "visits v JOIN runs r ON r.id = v.run_id";
    let results = "results x JOIN visits v ON v.id = x.visit_id JOIN runs r ON r.id = v.run_id";
    let sql = format!(
        "SELECT
           (SELECT COUNT(*) FROM runs r WHERE {month}),
           (SELECT COUNT(*) FROM {visits} WHERE {month}),
           (SELECT COUNT(*) FROM {results} WHERE {month}),
           (SELECT COALESCE(SUM(LENGTH(r.data)), 0) FROM runs r WHERE {month})
             + (SELECT COALESCE(SUM(LENGTH(v.data)), 0) FROM {visits} WHERE {month})
             + (SELECT COALESCE(SUM(LENGTH(x.data)), 0) FROM {results} WHERE {month})"
    );
    let (runs, visits, results, chars): (i64, i64, i64, i64) =
        sqlx::query_as(AssertSqlSafe(sql))
            .bind(site.to_string())
            .bind(from_ms)
            .bind(to_ms)
            .fetch_one(conn)
            .await?;
    Ok(super::RecordCounts { runs, visits, results, chars })
}

super::evidence::evidence_sql!($store, $db, $conn, $migrations);
    };
}

pub(crate) use sql_store;
