//! Years of records written straight into a server database, and the queue queries timed over
//! them (`fieldsim history`). The sites come in through `patrol-server site import` (generated
//! site files); issues with their audit trails — hash-chained as `core::evidence` computes it,
//! accepted fixes signed off with the server's evidence key — and finished rounds with their
//! visits, answers and seals are inserted in batched transactions (on PostgreSQL, one
//! `INSERT … SELECT FROM UNNEST` of arrays per table and batch), so `verify-audit` still passes.
//! Mostly closed; the last month's issues at every stage, and a few older ones left open and
//! overdue, as a real estate has them.
//!
//! Then the queries the queue and the console run (`Store::issues` with the console's and the
//! API's filters: overdue, due within a day, a team's open jobs, the open counts by team, a
//! technician's jobs) are each run many times, p50 / p99 / max reported.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use patrol_core::audit::{AuditEntry, AuditKind};
use patrol_core::evidence::{self as ev, ServerKey};
use patrol_core::ids::{AuditId, CheckpointId, IssueId, ResultId, RouteId, RunId, UserId, VisitId};
use patrol_core::issue::{Category, Issue, Severity, Source, Status};
use patrol_core::patrol::{ItemResult, Outcome, PatrolRun, Visit, VisitMethod};
use serde_json::Value;

use super::estate;
use crate::faults::Rng;
use crate::faults::reconcile::ServerDb;
use crate::latency::{Latency, Percentiles};
use crate::{SharedDatabase, admin_on};

/// `fieldsim history`'s options.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Issues to write (the issue's benchmark: 10,000,000).
    #[arg(long, default_value_t = 100_000)]
    pub issues: u64,
    /// Finished rounds to write (default: one per 20 issues), each with its visits and answers.
    #[arg(long)]
    pub rounds: Option<u64>,
    /// Sites.
    #[arg(long, default_value_t = 50)]
    pub sites: u32,
    /// Years the history spans, up to now.
    #[arg(long, default_value_t = 3)]
    pub years: u32,
    /// Rows per transaction.
    #[arg(long, default_value_t = 20_000)]
    pub batch: usize,
    /// PostgreSQL server URL: a new database is made on it (kept with --keep). Default: SQLite.
    #[arg(long)]
    pub database_url: Option<String>,
    /// The data folder (SQLite file); default a new temp folder (kept with --keep).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Keep the database afterwards (and say where it is).
    #[arg(long)]
    pub keep: bool,
    /// Times each queue query runs in the benchmark (0: no benchmark).
    #[arg(long, default_value_t = 200)]
    pub bench_runs: u32,
    /// Run `verify-audit` over the whole history afterwards (slow at millions of issues).
    #[arg(long, conflicts_with = "issues_only")]
    pub verify: bool,
    /// Write the issues alone: no audit trails, sign-offs or rounds. For the queue queries at
    /// tens of millions of issues, which read the issues table only; the full history's other
    /// rows (about seven an issue, each signed or hashed) take hours and tens of gigabytes
    /// there. `verify-audit` cannot pass over such a history.
    #[arg(long)]
    pub issues_only: bool,
    /// The seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// One value of a row.
#[derive(Debug, Clone)]
enum Cell {
    Text(Option<String>),
    Int(i64),
}

fn t(s: impl Into<String>) -> Cell {
    Cell::Text(Some(s.into()))
}

fn opt(s: Option<String>) -> Cell {
    Cell::Text(s)
}

/// Rows for one table, in insertion order.
struct Table {
    name: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<Cell>>,
}

impl Table {
    fn new(name: &'static str, columns: &'static [&'static str]) -> Table {
        Table {
            name,
            columns,
            rows: Vec::new(),
        }
    }
}

/// A batch for every table, written in one transaction, parents first.
struct Batch {
    tables: Vec<Table>,
}

const ISSUES: usize = 0;
const AUDIT: usize = 1;
const SIGNOFFS: usize = 2;
const RUNS: usize = 3;
const VISITS: usize = 4;
const RESULTS: usize = 5;
const SEALS: usize = 6;

impl Batch {
    fn new() -> Batch {
        Batch {
            tables: vec![
                Table::new(
                    "issues",
                    &[
                        "id",
                        "site_id",
                        "team",
                        "status",
                        "assignee_id",
                        "due_at_ms",
                        "data",
                        "severity",
                        "source",
                    ],
                ),
                Table::new("audit", &["id", "issue_id", "data", "hash"]),
                Table::new(
                    "signoffs",
                    &["issue_id", "audit_id", "signed", "signature", "key_id"],
                ),
                Table::new(
                    "runs",
                    &[
                        "id",
                        "site_id",
                        "route_id",
                        "patroller_id",
                        "started_at_ms",
                        "data",
                    ],
                ),
                Table::new(
                    "visits",
                    &["id", "run_id", "checkpoint_id", "at_ms", "data"],
                ),
                Table::new("results", &["id", "visit_id", "item_key", "data"]),
                Table::new(
                    "seals",
                    &[
                        "run_id",
                        "site_id",
                        "signed",
                        "signature",
                        "key_id",
                        "records",
                    ],
                ),
            ],
        }
    }

    fn rows(&self) -> usize {
        self.tables.iter().map(|t| t.rows.len()).sum()
    }

    fn clear(&mut self) {
        for t in &mut self.tables {
            t.rows.clear();
        }
    }
}

/// Where batches go.
enum Sink {
    Sqlite(rusqlite::Connection),
    Postgres {
        rt: tokio::runtime::Runtime,
        conn: sqlx::PgConnection,
    },
}

impl Sink {
    fn open(db: &ServerDb) -> Sink {
        match db {
            ServerDb::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path)
                    .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
                Sink::Sqlite(conn)
            }
            ServerDb::Postgres(url) => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap_or_else(|e| panic!("runtime: {e}"));
                let conn = rt.block_on(async {
                    use sqlx::Connection as _;
                    sqlx::PgConnection::connect(url)
                        .await
                        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
                });
                Sink::Postgres { rt, conn }
            }
        }
    }

    fn write(&mut self, batch: &Batch) {
        match self {
            Sink::Sqlite(conn) => {
                let tx = conn
                    .transaction()
                    .unwrap_or_else(|e| panic!("begin: {e}"));
                for table in &batch.tables {
                    if table.rows.is_empty() {
                        continue;
                    }
                    let marks: Vec<String> =
                        (1..=table.columns.len()).map(|i| format!("?{i}")).collect();
                    let sql = format!(
                        "INSERT INTO {} ({}) VALUES ({})",
                        table.name,
                        table.columns.join(", "),
                        marks.join(", ")
                    );
                    let mut stmt = tx
                        .prepare_cached(&sql)
                        .unwrap_or_else(|e| panic!("{sql}: {e}"));
                    for row in &table.rows {
                        let params: Vec<rusqlite::types::Value> = row
                            .iter()
                            .map(|c| match c {
                                Cell::Text(Some(s)) => rusqlite::types::Value::Text(s.clone()),
                                Cell::Text(None) => rusqlite::types::Value::Null,
                                Cell::Int(n) => rusqlite::types::Value::Integer(*n),
                            })
                            .collect();
                        stmt.execute(rusqlite::params_from_iter(params))
                            .unwrap_or_else(|e| panic!("{sql}: {e}"));
                    }
                }
                tx.commit().unwrap_or_else(|e| panic!("commit: {e}"));
            }
            Sink::Postgres { rt, conn } => rt.block_on(async {
                use sqlx::Connection as _;
                let mut tx = conn
                    .begin()
                    .await
                    .unwrap_or_else(|e| panic!("begin: {e}"));
                for table in &batch.tables {
                    if table.rows.is_empty() {
                        continue;
                    }
                    // One statement per table: each column an array, unnested in order.
                    let kinds: Vec<bool> = table.rows[0]
                        .iter()
                        .map(|c| matches!(c, Cell::Int(_)))
                        .collect();
                    let arrays: Vec<String> = kinds
                        .iter()
                        .enumerate()
                        .map(|(i, int)| {
                            format!("${}::{}[]", i + 1, if *int { "bigint" } else { "text" })
                        })
                        .collect();
                    let sql = format!(
                        "INSERT INTO {} ({}) SELECT {} FROM UNNEST({}) WITH ORDINALITY AS u({}, ord) ORDER BY ord",
                        table.name,
                        table.columns.join(", "),
                        table.columns.join(", "),
                        arrays.join(", "),
                        table.columns.join(", "),
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                    for (i, int) in kinds.iter().enumerate() {
                        if *int {
                            let col: Vec<i64> = table
                                .rows
                                .iter()
                                .map(|r| match &r[i] {
                                    Cell::Int(n) => *n,
                                    Cell::Text(_) => 0,
                                })
                                .collect();
                            q = q.bind(col);
                        } else {
                            let col: Vec<Option<String>> = table
                                .rows
                                .iter()
                                .map(|r| match &r[i] {
                                    Cell::Text(s) => s.clone(),
                                    Cell::Int(n) => Some(n.to_string()),
                                })
                                .collect();
                            q = q.bind(col);
                        }
                    }
                    q.execute(&mut *tx)
                        .await
                        .unwrap_or_else(|e| panic!("{sql}: {e}"));
                }
                tx.commit().await.unwrap_or_else(|e| panic!("commit: {e}"));
            }),
        }
    }
}

/// A site as the history needs it.
struct SiteInfo {
    site: patrol_core::site::Site,
    checkpoints: Vec<(CheckpointId, patrol_core::ids::ZoneId)>,
    routes: Vec<(RouteId, Vec<CheckpointId>)>,
    people: Vec<UserId>,
}

fn read_sites(db: &ServerDb) -> Vec<SiteInfo> {
    let sites: Vec<patrol_core::site::Site> = db
        .rows("SELECT data FROM sites ORDER BY code")
        .into_iter()
        .map(|r| serde_json::from_str(&r[0]).unwrap_or_else(|e| panic!("site: {e}")))
        .collect();
    let checkpoints: Vec<patrol_core::site::Checkpoint> = db
        .rows("SELECT data FROM checkpoints")
        .into_iter()
        .map(|r| serde_json::from_str(&r[0]).unwrap_or_else(|e| panic!("checkpoint: {e}")))
        .collect();
    let routes: Vec<patrol_core::route::Route> = db
        .rows("SELECT data FROM routes")
        .into_iter()
        .map(|r| serde_json::from_str(&r[0]).unwrap_or_else(|e| panic!("route: {e}")))
        .collect();
    sites
        .into_iter()
        .map(|site| SiteInfo {
            checkpoints: checkpoints
                .iter()
                .filter(|c| c.site_id == site.id)
                .map(|c| (c.id, c.zone_id))
                .collect(),
            routes: routes
                .iter()
                .filter(|r| r.site_id == site.id)
                .map(|r| (r.id, r.checkpoint_ids.clone()))
                .collect(),
            // The history's people are ids only: the queue needs no account behind them.
            people: (0..12).map(|_| UserId::new()).collect(),
            site,
        })
        .collect()
}

/// The server's current evidence key, made here (as the server makes one at its first
/// sign-off) when there is none yet.
fn evidence_key(db: &ServerDb, sink: &mut Sink) -> ServerKey {
    let current = db.rows("SELECT secret FROM evidence_keys WHERE secret IS NOT NULL");
    if let Some(row) = current.first() {
        return ServerKey::from_secret_base64(&row[0])
            .unwrap_or_else(|e| panic!("the server's evidence key: {e}"));
    }
    let key = ServerKey::generate().unwrap_or_else(|e| panic!("a new evidence key: {e}"));
    let mut batch = Batch {
        tables: vec![Table {
            name: "evidence_keys",
            columns: &["key_id", "public_key", "secret", "created_ms"],
            rows: vec![vec![
                t(key.key_id()),
                t(key.public_base64()),
                t(key.secret_base64()),
                Cell::Int(Timestamp::now().as_millisecond()),
            ]],
        }],
    };
    sink.write(&batch);
    batch.clear();
    key
}

fn json_of(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or_else(|e| panic!("to JSON: {e}"))
}

fn text_of(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| panic!("to JSON: {e}"))
}

/// What the writer made.
#[derive(Debug, Default, Clone, Copy)]
struct Written {
    issues: u64,
    open: u64,
    overdue: u64,
    audit: u64,
    signoffs: u64,
    rounds: u64,
    visits: u64,
    results: u64,
    rows: u64,
}

struct Writer<'a> {
    rng: Rng,
    /// Each issue's audit trail (and sign-off) written with it.
    trails: bool,
    key: &'a ServerKey,
    now: Timestamp,
    span: SignedDuration,
    written: Written,
}

const CATEGORIES: [Category; 8] = [
    Category::Facility,
    Category::Fire,
    Category::Cleaning,
    Category::Landscaping,
    Category::Security,
    Category::Renovation,
    Category::ResidentViolation,
    Category::Staff,
];

impl Writer<'_> {
    fn at_random(&mut self) -> Timestamp {
        let secs = self.span.as_secs().max(1) as u64;
        self.now - SignedDuration::from_secs(self.rng.below(secs) as i64)
    }

    fn entry(
        &mut self,
        issue: &Issue,
        kind: AuditKind,
        actor: UserId,
        at: Timestamp,
        from: Option<Status>,
        to: Status,
    ) -> AuditEntry {
        AuditEntry {
            id: AuditId::new(),
            issue_id: issue.id,
            kind,
            actor_id: Some(actor),
            at,
            server_at: Some(at + SignedDuration::from_secs(5)),
            device_at: Some(at),
            device_id: None,
            from_status: from,
            to_status: to,
            assignee_id: None,
            accepted: None,
            note: None,
            photos: Vec::new(),
            signature: None,
            due_before: None,
            due_after: None,
            escalation: None,
            prev: None,
            hash: None,
        }
    }

    /// One issue with its whole trail (and its sign-off when accepted).
    fn issue(&mut self, site: &SiteInfo, batch: &mut Batch) {
        let observed = self.at_random();
        let age = self.now.duration_since(observed);
        let category = CATEGORIES[self.rng.below(CATEGORIES.len() as u64) as usize];
        let severity = match self.rng.below(20) {
            0 => Severity::Urgent,
            1..=4 => Severity::Major,
            _ => Severity::Routine,
        };
        let hours = site.site.sla_hours.hours(severity);
        let due = observed + SignedDuration::from_hours(i64::from(hours));
        // Older than a month: closed, but one in forty left open (overdue, forgotten). The last
        // month: every stage.
        let target = if age > SignedDuration::from_hours(24 * 30) {
            if self.rng.chance(40) {
                [Status::Open, Status::Assigned, Status::InProgress][self.rng.below(3) as usize]
            } else {
                Status::Closed
            }
        } else {
            [
                Status::Open,
                Status::Assigned,
                Status::InProgress,
                Status::Resolved,
                Status::Closed,
                Status::Closed,
            ][self.rng.below(6) as usize]
        };
        let (cp, zone) = site.checkpoints[self.rng.below(site.checkpoints.len() as u64) as usize];
        let people = &site.people;
        let reporter = people[self.rng.below(people.len() as u64) as usize];
        let worker = people[self.rng.below(people.len() as u64) as usize];
        let supervisor = people[self.rng.below(people.len() as u64) as usize];
        let mut issue = Issue {
            id: IssueId::new(),
            site_id: site.site.id,
            zone_id: Some(zone),
            checkpoint_id: Some(cp),
            visit_id: None,
            category,
            severity,
            team: site.site.routing.team_for(category),
            title: format!("历史记录 / history: {}", category.as_str()),
            note: None,
            photos: Vec::new(),
            source: if self.rng.chance(6) {
                Source::Desk
            } else {
                Source::Patrol
            },
            observed_at: observed,
            due_at: due,
            status: Status::Open,
            reported_by: reporter,
            assignee_id: None,
            resolved_by: None,
            verified_by: None,
            fixed_on_spot: false,
            extension: None,
            escalations: Vec::new(),
            follow_up: None,
        };
        let mut trail: Vec<AuditEntry> = vec![self.entry(
            &issue,
            AuditKind::Report,
            reporter,
            observed,
            None,
            Status::Open,
        )];
        // Steps a few hours apart, the fix mostly within the SLA.
        let step = SignedDuration::from_secs(i64::from(hours) * 3600 / 5);
        let mut at = observed;
        let order = [
            Status::Assigned,
            Status::InProgress,
            Status::Resolved,
            Status::Closed,
        ];
        for next in order {
            if issue.status == target {
                break;
            }
            at = (at + step).min(self.now);
            let (kind, actor) = match next {
                Status::Assigned => (AuditKind::Assign, supervisor),
                Status::InProgress => (AuditKind::Start, worker),
                Status::Resolved => (AuditKind::Resolve, worker),
                _ => (AuditKind::Verify, supervisor),
            };
            let mut e = self.entry(&issue, kind, actor, at, Some(issue.status), next);
            match next {
                Status::Assigned => {
                    e.assignee_id = Some(worker);
                    issue.assignee_id = Some(worker);
                }
                Status::Resolved => {
                    e.note = Some("已修复 / fixed".into());
                    issue.resolved_by = Some(worker);
                }
                Status::Closed => {
                    e.accepted = Some(true);
                    e.note = Some("验收合格 / verified".into());
                    issue.verified_by = Some(supervisor);
                }
                _ => {}
            }
            issue.status = next;
            trail.push(e);
        }
        self.written.issues += 1;
        if issue.status != Status::Closed {
            self.written.open += 1;
            if issue.due_at < self.now {
                self.written.overdue += 1;
            }
        }
        batch.tables[ISSUES].rows.push(vec![
            t(issue.id.to_string()),
            t(issue.site_id.to_string()),
            t(issue.team.as_str()),
            t(issue.status.as_str()),
            opt(issue.assignee_id.map(|a| a.to_string())),
            Cell::Int(issue.due_at.as_millisecond()),
            t(text_of(&issue)),
            t(issue.severity.as_str()),
            t(match issue.source {
                Source::Patrol => "patrol",
                Source::Desk => "desk",
            }),
        ]);
        if !self.trails {
            return;
        }
        let mut prev = issue.id.to_string();
        let mut chained: Vec<Value> = Vec::with_capacity(trail.len());
        for e in &trail {
            let (text, hash) = ev::chain_entry(&json_of(e), &prev)
                .unwrap_or_else(|err| panic!("chain an entry: {err}"));
            chained.push(serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}")));
            batch.tables[AUDIT].rows.push(vec![
                t(e.id.to_string()),
                t(issue.id.to_string()),
                t(text),
                t(hash.clone()),
            ]);
            prev = hash;
            self.written.audit += 1;
            if e.kind == AuditKind::Verify && e.accepted == Some(true) {
                let claim = ev::signoff_claim(&issue.id.to_string(), &chained)
                    .unwrap_or_else(|| panic!("an accepted verification has a claim"));
                let signed = self
                    .key
                    .sign(claim)
                    .unwrap_or_else(|err| panic!("sign: {err}"));
                batch.tables[SIGNOFFS].rows.push(vec![
                    t(issue.id.to_string()),
                    t(e.id.to_string()),
                    t(ev::canonical(&signed.signed).unwrap_or_else(|err| panic!("{err}"))),
                    t(signed.signature),
                    t(signed.key_id),
                ]);
                self.written.signoffs += 1;
            }
        }
    }

    /// One finished round of a route with every checkpoint visited and one answer each, sealed.
    fn round(&mut self, site: &SiteInfo, batch: &mut Batch) {
        let Some((route_id, checkpoints)) = site
            .routes
            .get(self.rng.below(site.routes.len() as u64) as usize)
            .cloned()
        else {
            return;
        };
        let started = self.at_random() - SignedDuration::from_hours(2);
        let patroller = site.people[self.rng.below(site.people.len() as u64) as usize];
        let run_id = RunId::new();
        let walk = SignedDuration::from_secs(90);
        let finished = started + walk * (checkpoints.len() as i32 + 1);
        let run = PatrolRun {
            id: run_id,
            site_id: site.site.id,
            route_id,
            patroller_id: patroller,
            started_at: started,
            finished_at: Some(finished),
            missed: Vec::new(),
            flags: Vec::new(),
        };
        let run_text = text_of(&run);
        let mut rows: Vec<(&'static str, String, Value)> = vec![(
            "runs",
            run_id.to_string(),
            serde_json::json!({"id": run_id.to_string(), "site_id": site.site.id.to_string(),
                "route_id": route_id.to_string(), "patroller_id": patroller.to_string(),
                "started_at_ms": started.as_millisecond(), "data": json_of(&run)}),
        )];
        batch.tables[RUNS].rows.push(vec![
            t(run_id.to_string()),
            t(site.site.id.to_string()),
            t(route_id.to_string()),
            t(patroller.to_string()),
            Cell::Int(started.as_millisecond()),
            t(run_text),
        ]);
        let mut results = Vec::new();
        for (i, cp) in checkpoints.iter().enumerate() {
            let at = started + walk * (i as i32 + 1);
            let visit = Visit {
                id: VisitId::new(),
                run_id,
                checkpoint_id: *cp,
                method: VisitMethod::Qr,
                token: None,
                reason: None,
                at,
                flags: Vec::new(),
            };
            rows.push((
                "visits",
                visit.id.to_string(),
                serde_json::json!({"id": visit.id.to_string(), "run_id": run_id.to_string(),
                    "checkpoint_id": cp.to_string(), "at_ms": at.as_millisecond(),
                    "data": json_of(&visit)}),
            ));
            batch.tables[VISITS].rows.push(vec![
                t(visit.id.to_string()),
                t(run_id.to_string()),
                t(cp.to_string()),
                Cell::Int(at.as_millisecond()),
                t(text_of(&visit)),
            ]);
            let result = ItemResult {
                id: ResultId::new(),
                visit_id: visit.id,
                item_key: "condition".to_owned(),
                outcome: Outcome::Ok,
                reading: None,
                note: None,
                photos: Vec::new(),
            };
            results.push((
                "results",
                result.id.to_string(),
                serde_json::json!({"id": result.id.to_string(), "visit_id": visit.id.to_string(),
                    "item_key": "condition", "data": json_of(&result)}),
            ));
            batch.tables[RESULTS].rows.push(vec![
                t(result.id.to_string()),
                t(visit.id.to_string()),
                t("condition"),
                t(text_of(&result)),
            ]);
            self.written.visits += 1;
            self.written.results += 1;
        }
        // The seal lists runs, then visits by time, then answers by their visit's time: the
        // order the server's verify reads them in.
        rows.extend(results);
        let records: Vec<ev::RecordRef> = rows
            .iter()
            .map(|(table, id, row)| ev::RecordRef {
                table: (*table).to_owned(),
                id: id.clone(),
                hash: ev::value_hash(row).unwrap_or_else(|e| panic!("{e}")),
            })
            .collect();
        let claim = ev::seal_claim(&rows[0].2, &records, &finished.to_string())
            .unwrap_or_else(|e| panic!("seal claim: {e}"));
        let signed = self.key.sign(claim).unwrap_or_else(|e| panic!("sign: {e}"));
        batch.tables[SEALS].rows.push(vec![
            t(run_id.to_string()),
            t(site.site.id.to_string()),
            t(ev::canonical(&signed.signed).unwrap_or_else(|e| panic!("{e}"))),
            t(signed.signature),
            t(signed.key_id),
            t(text_of(&records)),
        ]);
        self.written.rounds += 1;
    }
}

/// Write the history; what was written and how long it took.
fn write_history(db: &ServerDb, args: &HistoryArgs) -> (Written, Duration) {
    let sites = read_sites(db);
    assert!(!sites.is_empty(), "no sites to write a history for");
    let mut sink = Sink::open(db);
    let key = evidence_key(db, &mut sink);
    let mut w = Writer {
        rng: Rng::new(args.seed),
        trails: !args.issues_only,
        key: &key,
        now: Timestamp::now(),
        span: SignedDuration::from_hours(24 * 365 * i64::from(args.years.max(1))),
        written: Written::default(),
    };
    let rounds = if args.issues_only {
        0
    } else {
        args.rounds.unwrap_or(args.issues / 20)
    };
    let started = Instant::now();
    let mut next_progress = started + Duration::from_secs(3);
    let mut batch = Batch::new();
    let total = args.issues + rounds;
    let mut rows = 0u64;
    for i in 0..total {
        let site = &sites[(i % sites.len() as u64) as usize];
        // Issues and rounds interleaved, so every batch holds both.
        if i * args.issues / total.max(1) < (i + 1) * args.issues / total.max(1)
            || w.written.rounds >= rounds
        {
            w.issue(site, &mut batch);
        } else {
            w.round(site, &mut batch);
        }
        if batch.rows() >= args.batch.max(1) {
            rows += batch.rows() as u64;
            sink.write(&batch);
            batch.clear();
            if Instant::now() >= next_progress {
                let secs = started.elapsed().as_secs_f64();
                eprintln!(
                    "[{secs:>6.0} s] issues {} of {}, rounds {} of {rounds}; {rows} rows, {:.0} rows/s",
                    w.written.issues,
                    args.issues,
                    w.written.rounds,
                    rows as f64 / secs.max(1e-9)
                );
                next_progress += Duration::from_secs(3);
            }
        }
    }
    rows += batch.rows() as u64;
    sink.write(&batch);
    w.written.rows = rows;
    (w.written, started.elapsed())
}

/// One queue query of the benchmark.
struct QueueQuery {
    name: &'static str,
    sql: String,
}

/// The SQL `Store::issues` builds for the queue's filters (server/src/store/sql.rs), over one
/// site as a supervisor or a technician sees it, `now` fixed.
fn queue_queries(site: &SiteInfo, now: Timestamp, postgres: bool) -> Vec<QueueQuery> {
    let s = site.site.id;
    let now = now.as_millisecond();
    let day = now + 24 * 3600 * 1000;
    let tech = site.people[0];
    let base = format!("SELECT data FROM issues WHERE site_id IN ('{s}')");
    let order = " ORDER BY due_at_ms, id LIMIT";
    let _ = postgres;
    vec![
        QueueQuery {
            name: "overdue (API ?overdue=true, page of 200)",
            sql: format!("{base} AND status <> 'closed' AND due_at_ms <= {now}{order} 201"),
        },
        QueueQuery {
            name: "due within a day, open (API ?due_before, console)",
            sql: format!("{base} AND due_at_ms < {day} AND status <> 'closed'{order} 201"),
        },
        QueueQuery {
            name: "a team's open queue (console ?team=engineering, page of 50)",
            sql: format!("{base} AND team = 'engineering' AND status <> 'closed'{order} 51"),
        },
        QueueQuery {
            name: "open counts by team (console: every open issue, grouped)",
            sql: format!(
                "SELECT team, COUNT(*), COALESCE(SUM(CASE WHEN due_at_ms <= {now} THEN 1 ELSE 0 END), 0) FROM issues WHERE site_id IN ('{s}') AND status <> 'closed' GROUP BY team ORDER BY team"
            ),
        },
        QueueQuery {
            name: "a technician's jobs (team or assigned)",
            sql: format!(
                "{base} AND (team = 'engineering' OR assignee_id = '{tech}') AND status <> 'closed'{order} 201"
            ),
        },
    ]
}

/// Time each query `runs` times (after one warm-up run); its percentiles and rows returned.
fn bench(db: &ServerDb, queries: &[QueueQuery], runs: u32) -> Vec<(String, Percentiles, usize)> {
    let mut out = Vec::new();
    match db {
        ServerDb::Sqlite(path) => {
            let conn = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
            for q in queries {
                let latency = Latency::default();
                let mut n = 0;
                for i in 0..=runs {
                    let started = Instant::now();
                    let mut stmt = conn
                        .prepare_cached(&q.sql)
                        .unwrap_or_else(|e| panic!("{}: {e}", q.sql));
                    let rows: Vec<String> = stmt
                        .query_map([], |r| r.get(0))
                        .and_then(|rows| rows.collect())
                        .unwrap_or_else(|e| panic!("{}: {e}", q.sql));
                    if i > 0 {
                        latency.record(started.elapsed());
                    }
                    n = rows.len();
                }
                out.push((q.name.to_owned(), latency.summary(), n));
            }
        }
        ServerDb::Postgres(url) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("runtime: {e}"));
            rt.block_on(async {
                use sqlx::Connection as _;
                let mut conn = sqlx::PgConnection::connect(url)
                    .await
                    .unwrap_or_else(|e| panic!("connect: {e}"));
                // Fresh statistics, as autovacuum would have them after a bulk load.
                sqlx::query("ANALYZE")
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("ANALYZE: {e}"));
                for q in queries {
                    let latency = Latency::default();
                    let mut n = 0;
                    for i in 0..=runs {
                        let started = Instant::now();
                        let rows: Vec<(String,)> =
                            sqlx::query_as(sqlx::AssertSqlSafe(q.sql.clone()))
                                .fetch_all(&mut conn)
                                .await
                                .unwrap_or_else(|e| panic!("{}: {e}", q.sql));
                        if i > 0 {
                            latency.record(started.elapsed());
                        }
                        n = rows.len();
                    }
                    out.push((q.name.to_owned(), latency.summary(), n));
                }
            });
        }
    }
    out
}

/// `fieldsim history`.
pub fn main(args: &HistoryArgs) -> ExitCode {
    let temp =
        std::env::temp_dir().join(format!("patrol-history-{}", uuid::Uuid::now_v7().simple()));
    let data_dir = args.data_dir.clone().unwrap_or_else(|| temp.clone());
    let database = args.database_url.as_deref().map(SharedDatabase::create);
    let database_url = database.as_ref().map(SharedDatabase::url);
    let db = match &database_url {
        Some(url) => ServerDb::Postgres(url.clone()),
        None => ServerDb::Sqlite(data_dir.join("patrol.db")),
    };
    let admin = |a: &[&str]| admin_on(&data_dir, database_url.as_deref(), a, "", &[]);
    let setup = Instant::now();
    let files = estate::write_site_files(&data_dir.join("sites"), args.sites as usize, 3);
    for f in &files {
        let f = f.to_string_lossy();
        let (ok, out) = admin(&["site", "import", &f]);
        if !ok {
            eprintln!("fieldsim history: site import {f}: {out}");
            return ExitCode::FAILURE;
        }
    }
    eprintln!(
        "fieldsim history: {} sites imported in {:.1} s; writing {} issues over {} years on {}",
        files.len(),
        setup.elapsed().as_secs_f64(),
        args.issues,
        args.years,
        if database_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let (w, took) = write_history(&db, args);
    let secs = took.as_secs_f64().max(1e-9);
    let mut ok = true;
    let mut out = String::new();
    out.push_str(&format!(
        "history on {}: {} issues ({} open, {} overdue) with {} audit entries and {} sign-offs; {} rounds with {} visits and {} answers; {} rows in {:.1} s: {:.0} rows/s, {:.0} issues/s\n",
        if database_url.is_some() { "postgres" } else { "sqlite" },
        w.issues, w.open, w.overdue, w.audit, w.signoffs, w.rounds, w.visits, w.results,
        w.rows, secs, w.rows as f64 / secs, w.issues as f64 / secs
    ));
    if args.bench_runs > 0 {
        let sites = read_sites(&db);
        let queries = queue_queries(&sites[0], Timestamp::now(), database_url.is_some());
        out.push_str(&format!(
            "queue queries over {} issues ({} sites; one site's queue, {} runs each):\n",
            w.issues,
            sites.len(),
            args.bench_runs
        ));
        for (name, p, n) in bench(&db, &queries, args.bench_runs) {
            out.push_str(&format!("  {name}: {p}; {n} rows\n"));
        }
    }
    if args.verify {
        let started = Instant::now();
        match crate::faults::verify_evidence_of(admin(&["verify-audit"])) {
            Ok(said) => out.push_str(&format!(
                "evidence: {said} ({:.1} s)\n",
                started.elapsed().as_secs_f64()
            )),
            Err(e) => {
                out.push_str(&format!("evidence: FAILED: {e}\n"));
                ok = false;
            }
        }
    }
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.as_bytes());
        let _ = stdout.flush();
    }
    if args.keep {
        eprintln!(
            "kept: {}",
            database_url.as_deref().map_or_else(
                || data_dir.join("patrol.db").display().to_string(),
                str::to_owned
            )
        );
        std::mem::forget(database);
    } else {
        drop(database);
        if args.data_dir.is_none() {
            let _ = std::fs::remove_dir_all(&temp);
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
