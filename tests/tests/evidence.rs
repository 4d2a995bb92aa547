//! Evidence that holds in a dispute (DESIGN.md §12), against the real server and its CLI.
//!
//! - One byte changed with plain SQL in any audit entry, sign-off, seal or sealed record makes
//!   `patrol-server verify-audit` exit 1 naming that row; the untouched database exits 0. Row by
//!   row, on SQLite and on PostgreSQL.
//! - An exported `evidence.json` verifies with a Python script that uses only `hashlib`, `json`
//!   and `cryptography` (tests/evidence/verify_evidence.py), and with `verify-audit --file`; a
//!   byte changed in any entry of the file fails both.
//! - The console's printable record carries the chain head, and downloads the same file.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

use patrol_e2e::{
    Backend, ConsoleClient, Http, OTHER_SITE_PASSWORD, Server, add_other_site, server_binary,
};

/// The demo's database, read and changed with plain SQL.
enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(tokio::runtime::Runtime, sqlx::PgPool),
}

impl Db {
    fn open(data: &Path, url: Option<String>) -> Db {
        match url {
            None => Db::Sqlite(rusqlite::Connection::open(data.join("patrol.db")).unwrap()),
            Some(url) => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let pool = rt.block_on(sqlx::PgPool::connect(&url)).unwrap();
                Db::Postgres(rt, pool)
            }
        }
    }

    /// Rows of two text columns.
    fn rows(&self, sql: &str) -> Vec<(String, String)> {
        match self {
            Db::Sqlite(c) => c
                .prepare(sql)
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect(),
            Db::Postgres(rt, pool) => rt
                .block_on(sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned())).fetch_all(pool))
                .unwrap(),
        }
    }

    /// `UPDATE table SET column = value WHERE key = id`.
    fn set(&self, table: &str, column: &str, key: &str, id: &str, value: &str) {
        let sql = format!("UPDATE {table} SET {column} = $1 WHERE CAST({key} AS TEXT) = $2");
        let changed = match self {
            Db::Sqlite(c) => c.execute(&sql, [value, id]).unwrap() as u64,
            Db::Postgres(rt, pool) => rt
                .block_on(
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(value)
                        .bind(id)
                        .execute(pool),
                )
                .unwrap()
                .rows_affected(),
        };
        assert_eq!(changed, 1, "{table} {id}");
    }
}

/// The text with one byte changed: a letter or digit in the middle becomes another.
fn one_byte_changed(text: &str) -> String {
    let bytes = text.as_bytes();
    let mid = bytes.len() / 2;
    let at = (mid..bytes.len())
        .chain(0..mid)
        .find(|&i| bytes[i].is_ascii_alphanumeric())
        .expect("a letter or digit to change");
    let mut out = bytes.to_vec();
    out[at] = match bytes[at] {
        b'9' => b'0',
        b'z' => b'a',
        b'Z' => b'A',
        b => b + 1,
    };
    String::from_utf8(out).unwrap()
}

/// `verify-audit` on the server's database: whether it passed, and what it said.
fn verify_audit(data: &Path, url: Option<&str>, extra: &[&str]) -> (i32, String) {
    let mut cmd = Command::new(server_binary());
    cmd.arg("--data-dir").arg(data);
    if let Some(url) = url {
        cmd.args(["--database-url", url]);
    }
    let out = cmd
        .arg("verify-audit")
        .args(extra)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// One row to change, and what `verify-audit` must name when it is.
struct Target {
    table: &'static str,
    column: &'static str,
    key: &'static str,
    id: String,
    names: String,
}

fn targets(db: &Db) -> Vec<Target> {
    let mut out = Vec::new();
    let mut position = std::collections::HashMap::<String, usize>::new();
    for (id, issue) in db.rows("SELECT id, issue_id FROM audit ORDER BY seq") {
        let n = position.entry(issue.clone()).or_default();
        *n += 1;
        out.push(Target {
            table: "audit",
            column: "data",
            key: "id",
            names: format!("issue {issue}, audit entry {n} ({id})"),
            id,
        });
    }
    // The hash column of the first entry, too.
    let (first, issue) = db.rows("SELECT id, issue_id FROM audit ORDER BY seq LIMIT 1")[0].clone();
    out.push(Target {
        table: "audit",
        column: "hash",
        key: "id",
        id: first.clone(),
        names: format!("issue {issue}, audit entry 1 ({first})"),
    });
    for (audit_id, issue) in db.rows("SELECT audit_id, issue_id FROM signoffs ORDER BY seq") {
        for column in ["signed", "signature"] {
            out.push(Target {
                table: "signoffs",
                column,
                key: "audit_id",
                id: audit_id.clone(),
                names: format!("issue {issue}, sign-off"),
            });
        }
    }
    for (run, _) in db.rows("SELECT run_id, site_id FROM seals ORDER BY sealed_seq") {
        for column in ["signed", "signature", "records"] {
            out.push(Target {
                table: "seals",
                column,
                key: "run_id",
                id: run.clone(),
                names: format!("round {run}"),
            });
        }
        out.push(Target {
            table: "runs",
            column: "data",
            key: "id",
            id: run.clone(),
            names: format!("round {run}"),
        });
        // The first and the last visit and answer of each round (every row would be hundreds
        // of runs of the CLI; the rule is the same for each).
        let visits = db.rows(&format!(
            "SELECT id, run_id FROM visits WHERE run_id = '{run}' ORDER BY at_ms, id"
        ));
        for (visit, _) in [visits.first(), visits.last()].into_iter().flatten() {
            out.push(Target {
                table: "visits",
                column: "data",
                key: "id",
                id: visit.clone(),
                names: format!("round {run}, visit {visit}"),
            });
        }
        let results = db.rows(&format!(
            "SELECT x.id, x.visit_id FROM results x JOIN visits v ON v.id = x.visit_id
             WHERE v.run_id = '{run}' ORDER BY v.at_ms, x.id"
        ));
        for (result, _) in [results.first(), results.last()].into_iter().flatten() {
            out.push(Target {
                table: "results",
                column: "data",
                key: "id",
                id: result.clone(),
                names: format!("round {run}, result {result}"),
            });
        }
    }
    out
}

fn every_changed_byte_is_named(backend: &Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let mut server = Server::start_demo_on(backend, &data);
    server.kill();
    let url = server.database_url();
    let db = Db::open(&data, url.clone());

    let (code, out) = verify_audit(&data, url.as_deref(), &[]);
    assert_eq!(code, 0, "the untouched database verifies: {out}");
    let targets = targets(&db);
    let count = |table: &str| targets.iter().filter(|t| t.table == table).count();
    assert!(
        count("audit") > 20
            && count("signoffs") >= 2
            && count("seals") >= 3
            && count("results") > 0,
        "the demo has trails, sign-offs and sealed rounds to change"
    );
    for t in &targets {
        let (before,): (String,) = {
            let sql = format!(
                "SELECT {}, {} FROM {} WHERE CAST({} AS TEXT) = '{}'",
                t.column, t.key, t.table, t.key, t.id
            );
            let rows = db.rows(&sql);
            (rows[0].0.clone(),)
        };
        db.set(t.table, t.column, t.key, &t.id, &one_byte_changed(&before));
        let (code, out) = verify_audit(&data, url.as_deref(), &[]);
        assert_eq!(
            code, 1,
            "{}.{} of {} changed: {out}",
            t.table, t.column, t.id
        );
        assert!(
            out.contains(&t.names),
            "{}.{} of {} changed: `{}` is not named in: {out}",
            t.table,
            t.column,
            t.id,
            t.names
        );
        db.set(t.table, t.column, t.key, &t.id, &before);
    }
    let (code, out) = verify_audit(&data, url.as_deref(), &[]);
    assert_eq!(code, 0, "restored, it verifies again: {out}");

    // A photo or signature image changed or lost in the blob store is found too.
    let (_, photos) = db
        .rows("SELECT id, data FROM audit WHERE data LIKE '%\"photos\":[\"%' ORDER BY seq LIMIT 1")
        [0]
    .clone();
    let entry: serde_json::Value = serde_json::from_str(&photos).unwrap();
    let sha = entry["photos"][0].as_str().unwrap().to_owned();
    let file = data
        .join("blobs")
        .join(&sha[..2])
        .join(format!("{sha}.jpg"));
    let bytes = std::fs::read(&file).unwrap();
    let mut changed = bytes.clone();
    let mid = changed.len() / 2;
    changed[mid] ^= 0x01;
    std::fs::write(&file, &changed).unwrap();
    let (code, out) = verify_audit(&data, url.as_deref(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("photo {sha} was changed")), "{out}");
    std::fs::remove_file(&file).unwrap();
    let (code, out) = verify_audit(&data, url.as_deref(), &[]);
    assert!(
        code == 1 && out.contains(&format!("photo {sha} is missing")),
        "{out}"
    );
    std::fs::write(&file, &bytes).unwrap();
    let (code, out) = verify_audit(&data, url.as_deref(), &[]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn every_changed_byte_is_named_on_sqlite() {
    every_changed_byte_is_named(&Backend::Sqlite);
}

#[test]
fn every_changed_byte_is_named_on_postgres() {
    let Some(backend) = Backend::postgres() else {
        eprintln!("PATROL_TEST_DATABASE_URL is not set: the PostgreSQL half is left to CI");
        return;
    };
    every_changed_byte_is_named(&backend);
}

fn python_verifies(file: &Path) -> (i32, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/evidence/verify_evidence.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed for the independent check: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn write(dir: &Path, name: &str, v: &serde_json::Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    path
}

#[test]
fn an_exported_evidence_file_verifies_with_python_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    add_other_site(&data);
    let server = Server::start_demo(&data);
    let http = Http::new(&server.base_url);
    let token = http.token("demo-super", "demo");
    let (status, list) = http.get("/api/v1/issues?limit=1000", Some(&token));
    assert_eq!(status, 200, "{list}");
    let issues = list["issues"].as_array().unwrap();
    // The queue lists what is open; the signed-off ones are found through their evidence.
    let conn = rusqlite::Connection::open(data.join("patrol.db")).unwrap();
    let signed: Vec<String> = conn
        .prepare("SELECT DISTINCT issue_id FROM signoffs")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!signed.is_empty(), "the demo has signed-off issues");
    let mut ids: Vec<String> = issues
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    ids.extend(signed.iter().cloned());

    let mut with_signoff = None;
    for id in &ids {
        let (status, evidence) =
            http.get(&format!("/api/v1/issues/{id}/evidence.json"), Some(&token));
        assert_eq!(status, 200, "{evidence}");
        let file = write(dir.path(), &format!("{id}.json"), &evidence);
        let (code, out) = python_verifies(&file);
        assert_eq!(code, 0, "{id}: {out}");
        let (code, out) = verify_audit(&data, None, &["--file", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{id}: {out}");
        if !evidence["signoffs"].as_array().unwrap().is_empty() {
            with_signoff = Some(evidence);
        }
    }
    let evidence = with_signoff.expect("an issue with a sign-off");
    let id = evidence["issue"]["id"].as_str().unwrap().to_owned();
    let audit = evidence["audit"].as_array().unwrap();
    assert_eq!(audit[0]["prev"], id.as_str());

    // Any entry changed in the file: both checks fail and name it.
    for (n, entry) in audit.iter().enumerate() {
        let mut changed = evidence.clone();
        let text = serde_json::to_string(entry).unwrap();
        changed["audit"][n] = serde_json::from_str(&one_byte_changed(&text))
            .unwrap_or_else(|_| serde_json::json!({"id": entry["id"], "broken": text}));
        let file = write(dir.path(), "changed.json", &changed);
        let (code, out) = python_verifies(&file);
        assert_eq!(code, 1, "entry {} changed: {out}", n + 1);
        let (code, rust) = verify_audit(&data, None, &["--file", file.to_str().unwrap()]);
        assert_eq!(code, 1, "entry {} changed: {rust}", n + 1);
        let entry_named = format!("audit entry {}", n + 1);
        let next_named = format!("audit entry {}", n + 2);
        for said in [&out, &rust] {
            assert!(
                said.contains(&entry_named)
                    || said.contains(&next_named)
                    || said.contains("sign-off"),
                "entry {} changed: {said}",
                n + 1
            );
        }
    }
    // A sign-off re-signed by another key, or its claim changed, fails.
    let mut changed = evidence.clone();
    changed["signoffs"][0]["signed"]["note"] = "另一种说法".into();
    let file = write(dir.path(), "changed.json", &changed);
    assert_eq!(python_verifies(&file).0, 1);
    assert_eq!(
        verify_audit(&data, None, &["--file", file.to_str().unwrap()]).0,
        1
    );
    let mut changed = evidence.clone();
    changed["signoffs"] = serde_json::json!([]);
    let file = write(dir.path(), "changed.json", &changed);
    assert_eq!(
        python_verifies(&file).0,
        1,
        "an accepted fix without its sign-off"
    );

    // The console's printable record carries the chain head and downloads the same file.
    let mut console = ConsoleClient::sign_in(&server.base_url, "demo-super", "demo");
    let page = console.get(&format!("/console/issues/{id}?print=1"));
    let head = audit.last().unwrap()["hash"].as_str().unwrap();
    assert!(page.body.contains(head), "the chain head is printed");
    assert!(page.body.contains("verify-audit"), "and how to verify it");
    let (status, _, bytes) = console.bytes(&format!("/console/issues/{id}/evidence.json"));
    assert_eq!(status, 200);
    let downloaded: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(downloaded["audit"], evidence["audit"]);
    assert_eq!(downloaded["signoffs"], evidence["signoffs"]);

    // Nobody signed out, and nobody of another site, sees it.
    let (status, _) = http.get(&format!("/api/v1/issues/{id}/evidence.json"), None);
    assert_eq!(status, 401);
    let other = http.token("cuihu-super", OTHER_SITE_PASSWORD);
    let (status, body) = http.get(&format!("/api/v1/issues/{id}/evidence.json"), Some(&other));
    assert_eq!(status, 404, "{body}");
    let mut console = ConsoleClient::sign_in(&server.base_url, "cuihu-super", OTHER_SITE_PASSWORD);
    assert_eq!(
        console
            .get(&format!("/console/issues/{id}/evidence.json"))
            .status,
        404
    );
}
