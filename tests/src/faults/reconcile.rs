//! The check after the storm: what the devices' own records say they did (each engine's outbox
//! with every op it made, its runs, visits, answers and cached issues) against what the
//! server's database holds, read directly — the SQLite file in the data folder, or the
//! PostgreSQL database.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use jiff::Timestamp;
use patrol_core::audit::{AuditEntry, AuditKind};
use patrol_core::ids::{IssueId, SiteId};
use patrol_core::issue::Issue;
use patrol_core::lifecycle;
use patrol_core::patrol::PatrolRun;
use patrol_core::site::Site;
use patrol_core::user::Actor;

use super::fleet::{Contested, Device};
use crate::Server;

/// Where the server keeps its data.
#[derive(Debug, Clone)]
pub enum ServerDb {
    /// `patrol.db` in the data folder.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(String),
}

impl ServerDb {
    /// The database of a running (or stopped) server.
    pub fn of(server: &Server) -> ServerDb {
        match server.database_url() {
            Some(url) => ServerDb::Postgres(url),
            None => ServerDb::Sqlite(server.data_dir().join("patrol.db")),
        }
    }

    /// Every row of a query whose columns are all text (cast in the query), as strings.
    pub fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        match self {
            ServerDb::Sqlite(path) => {
                let conn = rusqlite::Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
                let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
                let n = stmt.column_count();
                let rows = stmt
                    .query_map([], |r| {
                        (0..n)
                            .map(|i| r.get::<_, String>(i))
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                rows.map(|r| r.unwrap_or_else(|e| panic!("{sql}: {e}")))
                    .collect()
            }
            ServerDb::Postgres(url) => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap_or_else(|e| panic!("runtime: {e}"));
                rt.block_on(async {
                    use sqlx::{Connection as _, Row as _};
                    let mut conn = sqlx::PgConnection::connect(url)
                        .await
                        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                        .fetch_all(&mut conn)
                        .await
                        .unwrap_or_else(|e| panic!("{sql}: {e}"));
                    let out = rows
                        .iter()
                        .map(|r| {
                            (0..r.len())
                                .map(|i| {
                                    r.try_get::<String, _>(i)
                                        .unwrap_or_else(|e| panic!("{sql}: {e}"))
                                })
                                .collect()
                        })
                        .collect();
                    let _ = conn.close().await;
                    out
                })
            }
        }
    }

    fn ids(&self, table: &str) -> HashSet<String> {
        self.rows(&format!("SELECT id FROM {table}"))
            .into_iter()
            .map(|mut r| r.swap_remove(0))
            .collect()
    }
}

/// What was on the server before the devices started (the demo's history), left out of the
/// comparison.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    ops: HashSet<String>,
    audit: HashSet<String>,
    issues: HashSet<String>,
    runs: HashSet<String>,
    visits: HashSet<String>,
    results: HashSet<String>,
}

impl Baseline {
    /// The server's records now.
    pub fn take(db: &ServerDb) -> Baseline {
        Baseline {
            ops: db
                .rows("SELECT op_id FROM ops")
                .into_iter()
                .map(|mut r| r.swap_remove(0))
                .collect(),
            audit: db.ids("audit"),
            issues: db.ids("issues"),
            runs: db.ids("runs"),
            visits: db.ids("visits"),
            results: db.ids("results"),
        }
    }
}

/// One op as a device's outbox has it.
#[derive(Debug, Clone)]
struct DeviceOp {
    seq: u64,
    op_id: String,
    kind: String,
    at: Timestamp,
    body: serde_json::Value,
    state: String,
    code: String,
}

impl DeviceOp {
    fn issue_id(&self) -> Option<IssueId> {
        self.body["issue_id"].as_str().and_then(|s| s.parse().ok())
    }

    fn field(&self, name: &str) -> String {
        self.body[name].as_str().unwrap_or_default().to_owned()
    }
}

/// A device's own records, read from its database.
struct DeviceRecords {
    name: String,
    device_id: String,
    actor: Actor,
    ops: Vec<DeviceOp>,
    runs: HashMap<String, bool>,
    visits: HashSet<String>,
    results: HashSet<String>,
    issues: HashMap<IssueId, Issue>,
}

fn read_device(d: &Device) -> DeviceRecords {
    let session = d
        .engine
        .session()
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("{} is not signed in", d.person.username));
    let actor = Actor {
        user_id: session.id,
        role: session.role,
        team: session.team,
        site_ids: session.sites,
    };
    let conn = rusqlite::Connection::open_with_flags(
        &d.db_path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap_or_else(|e| panic!("open {}: {e}", d.db_path.display()));
    let q = |sql: &str| -> Vec<Vec<String>> {
        let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| r.get::<_, String>(i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.map(|r| r.unwrap_or_else(|e| panic!("{sql}: {e}")))
            .collect()
    };
    let ops = q(
        "SELECT CAST(seq AS TEXT), op_id, kind, at, body, state, COALESCE(code, '')
                 FROM outbox ORDER BY seq",
    )
    .into_iter()
    .map(|r| DeviceOp {
        seq: r[0].parse().unwrap_or_default(),
        op_id: r[1].clone(),
        kind: r[2].clone(),
        at: r[3]
            .parse()
            .unwrap_or_else(|e| panic!("op time {}: {e}", r[3])),
        body: serde_json::from_str(&r[4]).unwrap_or_default(),
        state: r[5].clone(),
        code: r[6].clone(),
    })
    .collect();
    let runs = q("SELECT id, CAST(finished AS TEXT) FROM runs")
        .into_iter()
        .map(|r| (r[0].clone(), r[1] == "1"))
        .collect();
    let visits = q("SELECT id FROM visits")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let results = q("SELECT id FROM results")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let issues = q("SELECT data FROM issues")
        .into_iter()
        .map(|r| {
            let i: Issue = serde_json::from_str(&r[0])
                .unwrap_or_else(|e| panic!("a cached issue of {}: {e}", d.person.username));
            (i.id, i)
        })
        .collect();
    DeviceRecords {
        name: d.person.username.clone(),
        device_id: d.engine.device_id().to_string(),
        actor,
        ops,
        runs,
        visits,
        results,
        issues,
    }
}

/// One op as the server's `ops` table has it.
struct ServerOp {
    device_id: String,
    seq: u64,
    kind: String,
    status: String,
    code: String,
}

/// The server's records.
struct ServerRecords {
    ops: HashMap<String, ServerOp>,
    last_seq: HashMap<String, u64>,
    audit: Vec<(String, AuditEntry)>,
    issues: HashMap<IssueId, Issue>,
    runs: HashMap<String, PatrolRun>,
    visits: HashMap<String, String>,
    results: HashMap<String, (String, String)>,
    sites: HashMap<SiteId, Site>,
}

fn read_server(db: &ServerDb) -> ServerRecords {
    let ops = db
        .rows(
            "SELECT op_id, device_id, CAST(seq AS TEXT), kind, status, COALESCE(code, '') FROM ops",
        )
        .into_iter()
        .map(|r| {
            (
                r[0].clone(),
                ServerOp {
                    device_id: r[1].clone(),
                    seq: r[2].parse().unwrap_or_default(),
                    kind: r[3].clone(),
                    status: r[4].clone(),
                    code: r[5].clone(),
                },
            )
        })
        .collect();
    let last_seq = db
        .rows("SELECT id, CAST(last_seq AS TEXT) FROM devices")
        .into_iter()
        .map(|r| (r[0].clone(), r[1].parse().unwrap_or_default()))
        .collect();
    let audit = db
        .rows("SELECT id, data FROM audit ORDER BY seq")
        .into_iter()
        .map(|r| {
            let e: AuditEntry =
                serde_json::from_str(&r[1]).unwrap_or_else(|e| panic!("audit {}: {e}", r[0]));
            (r[0].clone(), e)
        })
        .collect();
    let issues = db
        .rows("SELECT data FROM issues")
        .into_iter()
        .map(|r| {
            let i: Issue =
                serde_json::from_str(&r[0]).unwrap_or_else(|e| panic!("server issue: {e}"));
            (i.id, i)
        })
        .collect();
    let runs = db
        .rows("SELECT id, data FROM runs")
        .into_iter()
        .map(|r| {
            let run: PatrolRun =
                serde_json::from_str(&r[1]).unwrap_or_else(|e| panic!("run {}: {e}", r[0]));
            (r[0].clone(), run)
        })
        .collect();
    let visits = db
        .rows("SELECT id, run_id FROM visits")
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    let results = db
        .rows("SELECT id, visit_id, item_key FROM results")
        .into_iter()
        .map(|r| (r[0].clone(), (r[1].clone(), r[2].clone())))
        .collect();
    let sites = db
        .rows("SELECT data FROM sites")
        .into_iter()
        .map(|r| {
            let s: Site = serde_json::from_str(&r[0]).unwrap_or_else(|e| panic!("site: {e}"));
            (s.id, s)
        })
        .collect();
    ServerRecords {
        ops,
        last_seq,
        audit,
        issues,
        runs,
        visits,
        results,
        sites,
    }
}

/// What the check found.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// Ops the devices made, in all.
    pub ops: u64,
    /// Of those, applied on the server.
    pub applied: u64,
    /// Of those, refused by the rules on a contested issue (and shown as refused on the device).
    pub refused_in_races: u64,
    /// Issues the devices reported.
    pub reported: u64,
    /// Rounds, visits and answers the devices made (answers given again counted once).
    pub runs: u64,
    /// Visits.
    pub visits: u64,
    /// Answers.
    pub results: u64,
    /// Ops (or their effect) a device made that the server does not hold.
    pub lost: u64,
    /// Ops or effects the server holds twice, or holds and no device made.
    pub duplicated: u64,
    /// Issues in another team's queue than the site's routing gives, or not exactly once.
    pub misrouted: u64,
    /// Ops on which device and server disagree (applied on one, refused on the other; another
    /// refusal code; refused where nobody raced).
    pub disagreeing: u64,
    /// Issues a device shows otherwise than the server after the last pull.
    pub stale: u64,
    /// What each of the above is, in words (the first few hundred).
    pub problems: Vec<String>,
}

impl Findings {
    fn problem(&mut self, counter: fn(&mut Findings) -> &mut u64, text: String) {
        *counter(self) += 1;
        if self.problems.len() < 300 {
            self.problems.push(text);
        }
    }

    /// Whether nothing is wrong.
    pub fn clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.misrouted == 0
            && self.disagreeing == 0
            && self.stale == 0
            && self.problems.is_empty()
    }
}

/// The issues a device shows otherwise than the server: missing, extra or different, in words.
pub fn stale_issues(devices: &[std::sync::Arc<Device>], db: &ServerDb) -> Vec<String> {
    let server = read_server(db);
    let mut out = Vec::new();
    for d in devices {
        let rec = read_device(d);
        compare_issues(&rec, &server, &mut |s| out.push(s));
    }
    out
}

fn compare_issues(rec: &DeviceRecords, server: &ServerRecords, out: &mut dyn FnMut(String)) {
    let visible: BTreeMap<IssueId, &Issue> = server
        .issues
        .values()
        .filter(|i| lifecycle::may_see(&rec.actor, i))
        .map(|i| (i.id, i))
        .collect();
    for (id, theirs) in &visible {
        match rec.issues.get(id) {
            None => out(format!("{} does not have issue {id}", rec.name)),
            Some(mine) if mine != *theirs => out(format!(
                "{} shows issue {id} as {} (assignee {:?}, due {}, extension {}), the server as {} (assignee {:?}, due {}, extension {})",
                rec.name,
                mine.status.as_str(),
                mine.assignee_id.map(|a| a.to_string()),
                mine.due_at,
                mine.extension.is_some(),
                theirs.status.as_str(),
                theirs.assignee_id.map(|a| a.to_string()),
                theirs.due_at,
                theirs.extension.is_some(),
            )),
            Some(_) => {}
        }
    }
    for id in rec.issues.keys() {
        if !visible.contains_key(id) {
            out(format!(
                "{} shows issue {id}, which the server {}",
                rec.name,
                if server.issues.contains_key(id) {
                    "does not let them see"
                } else {
                    "does not have"
                }
            ));
        }
    }
}

/// Compare every device's records with the server's.
pub fn reconcile(
    devices: &[std::sync::Arc<Device>],
    db: &ServerDb,
    baseline: &Baseline,
    contested: &Contested,
) -> Findings {
    let server = read_server(db);
    let records: Vec<DeviceRecords> = devices.iter().map(|d| read_device(d)).collect();
    let mut f = Findings::default();

    // Every op a device made is on the server once, as that device's, numbered as the device
    // numbered it, and ended as the device was told.
    let mut made: HashSet<&str> = HashSet::new();
    for rec in &records {
        let mut last = 0;
        for op in &rec.ops {
            f.ops += 1;
            last = last.max(op.seq);
            made.insert(&op.op_id);
            let Some(s) = server.ops.get(&op.op_id) else {
                f.problem(
                    |f| &mut f.lost,
                    format!(
                        "{}: op {} #{} {} ({}) is not on the server",
                        rec.name, op.op_id, op.seq, op.kind, op.state
                    ),
                );
                continue;
            };
            if s.device_id != rec.device_id || s.seq != op.seq || s.kind != op.kind {
                f.problem(
                    |f| &mut f.disagreeing,
                    format!(
                        "{}: op {} is #{} {} of device {} on the server, #{} {} of {} here",
                        rec.name,
                        op.op_id,
                        s.seq,
                        s.kind,
                        s.device_id,
                        op.seq,
                        op.kind,
                        rec.device_id
                    ),
                );
            }
            let contested_issue = op.issue_id().is_some_and(|i| contested.contains(i));
            match (op.state.as_str(), s.status.as_str()) {
                ("acked", "applied") => f.applied += 1,
                ("rejected", "rejected") if op.code == s.code && contested_issue => {
                    f.refused_in_races += 1;
                }
                ("rejected", "rejected") if op.code == s.code => f.problem(
                    |f| &mut f.disagreeing,
                    format!(
                        "{}: op #{} {} was refused ({}) though nobody raced on it",
                        rec.name, op.seq, op.kind, s.code
                    ),
                ),
                (mine, theirs) => f.problem(
                    |f| &mut f.disagreeing,
                    format!(
                        "{}: op #{} {} is {mine} {} on the phone but {theirs} {} on the server",
                        rec.name, op.seq, op.kind, op.code, s.code
                    ),
                ),
            }
        }
        let server_last = server.last_seq.get(&rec.device_id).copied().unwrap_or(0);
        if server_last != last {
            f.problem(
                |f| &mut f.disagreeing,
                format!("{}: the phone made ops up to #{last}, the server has processed up to #{server_last}", rec.name),
            );
        }
    }
    for (op_id, s) in &server.ops {
        if !made.contains(op_id.as_str()) && !baseline.ops.contains(op_id) {
            f.problem(
                |f| &mut f.duplicated,
                format!(
                    "the server holds op {op_id} #{} {} of device {} that no device made",
                    s.seq, s.kind, s.device_id
                ),
            );
        }
    }

    // Each applied issue op left exactly one entry in its issue's audit trail, and a refused
    // one none; no other entry came from a device.
    let mut trail: HashMap<(IssueId, &str, String, Timestamp), Vec<&str>> = HashMap::new();
    for (id, e) in &server.audit {
        if baseline.audit.contains(id) || e.kind == AuditKind::Escalate {
            continue;
        }
        let key = (
            e.issue_id,
            e.kind.as_str(),
            e.device_id.map(|d| d.to_string()).unwrap_or_default(),
            e.device_at.unwrap_or_default(),
        );
        trail.entry(key).or_default().push(id);
    }
    for rec in &records {
        for op in rec.ops.iter().filter(|o| o.kind.starts_with("issue.")) {
            let Some(issue) = op.issue_id() else { continue };
            let key = (issue, op.kind.as_str(), rec.device_id.clone(), op.at);
            let entries = trail.remove(&key).unwrap_or_default();
            let applied = server
                .ops
                .get(&op.op_id)
                .is_some_and(|s| s.status == "applied");
            match (applied, entries.len()) {
                (true, 1) | (false, 0) => {}
                (true, 0) => f.problem(
                    |f| &mut f.lost,
                    format!(
                        "{}: applied op #{} {} left no audit entry on issue {issue}",
                        rec.name, op.seq, op.kind
                    ),
                ),
                (_, n) => f.problem(
                    |f| &mut f.duplicated,
                    format!(
                        "{}: op #{} {} left {n} audit entries on issue {issue}",
                        rec.name, op.seq, op.kind
                    ),
                ),
            }
        }
    }
    for ((issue, kind, device, _), ids) in &trail {
        f.problem(
            |f| &mut f.duplicated,
            format!("{} audit entries {kind} on issue {issue} from device {device} match no device's op: {ids:?}", ids.len()),
        );
    }

    // Every reported issue is there once, with one report in its trail, in the team the
    // site's routing gives its category.
    for rec in &records {
        for op in rec.ops.iter().filter(|o| o.kind == "issue.report") {
            let Some(id) = op.issue_id() else { continue };
            let applied = server
                .ops
                .get(&op.op_id)
                .is_some_and(|s| s.status == "applied");
            if !applied {
                continue;
            }
            f.reported += 1;
            let Some(issue) = server.issues.get(&id) else {
                f.problem(
                    |f| &mut f.lost,
                    format!("{}: issue {id} reported, not on the server", rec.name),
                );
                continue;
            };
            let reports = server
                .audit
                .iter()
                .filter(|(_, e)| e.issue_id == id && e.kind == AuditKind::Report)
                .count();
            if reports != 1 {
                f.problem(
                    |f| &mut f.misrouted,
                    format!(
                        "{}: issue {id} has {reports} issue.report entries",
                        rec.name
                    ),
                );
            }
            let category = op.field("category");
            let team = server
                .sites
                .get(&issue.site_id)
                .map(|s| s.routing.team_for(issue.category));
            if issue.category.as_str() != category || team != Some(issue.team) {
                f.problem(
                    |f| &mut f.misrouted,
                    format!(
                        "{}: issue {id} reported as {category} is {} in {}'s queue; routing gives {:?}",
                        rec.name,
                        issue.category.as_str(),
                        issue.team.as_str(),
                        team.map(|t| t.as_str())
                    ),
                );
            }
        }
    }

    // Rounds, visits and answers: the same on both sides, and each round finished where the
    // phone finished it, missing what it missed.
    let mut runs: HashMap<&str, bool> = HashMap::new();
    let mut visits: HashSet<&str> = HashSet::new();
    let mut results: HashSet<&str> = HashSet::new();
    for rec in &records {
        runs.extend(rec.runs.iter().map(|(k, v)| (k.as_str(), *v)));
        visits.extend(rec.visits.iter().map(String::as_str));
        results.extend(rec.results.iter().map(String::as_str));
        for op in rec.ops.iter().filter(|o| o.kind == "patrol.finish") {
            let run_id = op.field("run_id");
            let missed: HashSet<String> = op.body["missed"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["checkpoint_id"].as_str().map(str::to_owned))
                .collect();
            match server.runs.get(&run_id) {
                Some(run) if run.finished_at.is_some() => {
                    let theirs: HashSet<String> = run
                        .missed
                        .iter()
                        .map(|m| m.checkpoint_id.to_string())
                        .collect();
                    if theirs != missed {
                        f.problem(
                            |f| &mut f.disagreeing,
                            format!(
                                "{}: round {run_id} missed {} checkpoints here, {} on the server",
                                rec.name,
                                missed.len(),
                                theirs.len()
                            ),
                        );
                    }
                }
                _ => f.problem(
                    |f| &mut f.lost,
                    format!(
                        "{}: round {run_id} finished here, not on the server",
                        rec.name
                    ),
                ),
            }
        }
    }
    f.runs = runs.len() as u64;
    f.visits = visits.len() as u64;
    f.results = results.len() as u64;
    let compare = |what: &str, ours: &HashSet<&str>, theirs: HashSet<&str>, f: &mut Findings| {
        for id in ours.difference(&theirs) {
            f.problem(
                |f| &mut f.lost,
                format!("{what} {id} is on a phone, not on the server"),
            );
        }
        for id in theirs.difference(ours) {
            f.problem(
                |f| &mut f.duplicated,
                format!("{what} {id} is on the server, on no phone"),
            );
        }
    };
    let run_ids: HashSet<&str> = runs.keys().copied().collect();
    let server_runs = server
        .runs
        .keys()
        .map(String::as_str)
        .filter(|id| !baseline.runs.contains(*id))
        .collect();
    compare("round", &run_ids, server_runs, &mut f);
    let server_visits = server
        .visits
        .keys()
        .map(String::as_str)
        .filter(|id| !baseline.visits.contains(*id))
        .collect();
    compare("visit", &visits, server_visits, &mut f);
    let server_results = server
        .results
        .keys()
        .map(String::as_str)
        .filter(|id| !baseline.results.contains(*id))
        .collect();
    compare("answer", &results, server_results, &mut f);
    for (id, finished) in &runs {
        let theirs = server
            .runs
            .get(*id)
            .is_some_and(|r| r.finished_at.is_some());
        if theirs != *finished {
            f.problem(
                |f| &mut f.disagreeing,
                format!(
                    "round {id} is {} on the phone, {} on the server",
                    open_or(*finished),
                    open_or(theirs)
                ),
            );
        }
    }
    // Issues on the server that no device reported are the demo's.
    for id in server.issues.keys() {
        let s = id.to_string();
        let reported = records.iter().any(|r| {
            r.ops
                .iter()
                .any(|o| o.kind == "issue.report" && o.issue_id() == Some(*id))
        });
        if !reported && !baseline.issues.contains(&s) {
            f.problem(
                |f| &mut f.duplicated,
                format!("issue {id} is on the server, reported by no device"),
            );
        }
    }

    // After the last pull every phone shows every issue it may see as the server has it.
    for rec in &records {
        let mut stale = Vec::new();
        compare_issues(rec, &server, &mut |s| stale.push(s));
        for s in stale {
            f.problem(|f| &mut f.stale, s);
        }
    }
    f
}

fn open_or(finished: bool) -> &'static str {
    if finished { "finished" } else { "open" }
}
