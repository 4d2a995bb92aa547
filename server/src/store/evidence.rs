//! The evidence rows of DESIGN.md §12, written once for both databases: the hash chain of each
//! issue's audit trail (linked as each entry is stored, inside the op's transaction), the
//! sign-offs and round seals signed with the server's current Ed25519 key, and the checks
//! `verify-audit` runs over all of them. The rules themselves are core's (`patrol_core::evidence`).

use jiff::Timestamp;
use patrol_core::evidence::Fault;

/// One of the server's evidence keys. Only the current one still has its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceKey {
    /// Its id (the first 16 hex digits of SHA-256 of the public key).
    pub key_id: String,
    /// The public key, base64url.
    pub public_key: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it was replaced; `None` for the current key.
    pub retired_at: Option<Timestamp>,
}

/// What `verify-audit` checked, and the first thing that did not verify.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditCheck {
    /// Issues whose trail was checked.
    pub issues: usize,
    /// Audit entries checked.
    pub entries: usize,
    /// Sign-offs checked.
    pub signoffs: usize,
    /// Sealed rounds checked.
    pub seals: usize,
    /// The first failure, if any.
    pub fault: Option<Fault>,
    /// Every photo and signature image the checked records name, each once, with the first
    /// record that names it: the caller checks the blobs' bytes against their names.
    pub photos: Vec<(String, String)>,
}

impl AuditCheck {
    pub(super) fn photo(&mut self, subject: &str, sha: &str) {
        if !self.photos.iter().any(|(_, s)| s == sha) {
            self.photos.push((subject.to_owned(), sha.to_owned()));
        }
    }
}

/// A round's stored rows as its seal covers them, column by column (each backend reads them its
/// own way: `read_round`).
#[derive(Debug, Default)]
pub(super) struct RoundRecords {
    /// `id, site_id, route_id, patroller_id, started_at_ms, data` (none or one).
    pub(super) runs: Vec<(String, String, String, String, i64, String)>,
    /// `id, run_id, checkpoint_id, at_ms, data`, by `at_ms, id`.
    pub(super) visits: Vec<(String, String, String, i64, String)>,
    /// `id, visit_id, item_key, data`, by their visit's `at_ms, id`, then `item_key, id`.
    pub(super) results: Vec<(String, String, String, String)>,
}

/// The statements behind [`RoundRecords`], in the dialect both databases share.
pub(super) const ROUND_RUN: &str =
    "SELECT id, site_id, route_id, patroller_id, started_at_ms, data FROM runs WHERE id = $1";
pub(super) const ROUND_VISITS: &str = "SELECT id, run_id, checkpoint_id, at_ms, data FROM visits WHERE run_id = $1 ORDER BY at_ms, id";
pub(super) const ROUND_RESULTS: &str =
    "SELECT x.id, x.visit_id, x.item_key, x.data FROM results x JOIN visits v ON v.id = x.visit_id
     WHERE v.run_id = $1 ORDER BY v.at_ms, v.id, x.item_key, x.id";

/// Free functions and store methods over one backend's connection type, expanded inside
/// `sql_store!` so both backends share them.
macro_rules! evidence_sql {
    ($store:ident, $db:ty, $conn:ty, $migrations:literal) => {
use patrol_core::evidence as ev;

/// The hash at the head of an issue's trail (the issue id when it has none), linking any
/// entries a server from before the chain wrote first.
async fn chain_head(conn: &mut $conn, issue: &str) -> Result<String> {
    let last: Option<(Option<String>,)> =
        sqlx::query_as("SELECT hash FROM audit WHERE issue_id = $1 ORDER BY seq DESC LIMIT 1")
            .bind(issue)
            .fetch_optional(&mut *conn)
            .await?;
    match last {
        None => Ok(issue.to_owned()),
        Some((Some(hash),)) => Ok(hash),
        // An entry without its hash column after the upgrade was tampered with: it is not
        // linked again (that would hide it from `verify-audit`); the next entry links to what
        // its hash is or should be, so the chain breaks at that entry and nowhere else.
        Some((None,)) => {
            let (data,): (String,) = sqlx::query_as(
                "SELECT data FROM audit WHERE issue_id = $1 ORDER BY seq DESC LIMIT 1",
            )
            .bind(issue)
            .fetch_one(&mut *conn)
            .await?;
            let value: serde_json::Value =
                serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data));
            match value.get("hash").and_then(|h| h.as_str()) {
                Some(h) => Ok(h.to_owned()),
                None => Ok(ev::entry_hash(&value)?),
            }
        }
    }
}

/// Link the entries of an issue that carry no hash yet (written before the chain existed),
/// oldest first, onto the chain before them. Returns the new head.
async fn link_unchained(conn: &mut $conn, issue: &str) -> Result<String> {
    let rows: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT seq, data, hash FROM audit WHERE issue_id = $1 ORDER BY seq")
            .bind(issue)
            .fetch_all(&mut *conn)
            .await?;
    let mut prev = issue.to_owned();
    for (seq, data, hash) in rows {
        if let Some(hash) = hash {
            prev = hash;
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(&data)?;
        let (text, hash) = ev::chain_entry(&value, &prev)?;
        sqlx::query("UPDATE audit SET data = $1, hash = $2 WHERE seq = $3")
            .bind(text)
            .bind(&hash)
            .bind(seq)
            .execute(&mut *conn)
            .await?;
        prev = hash;
    }
    Ok(prev)
}

/// Store an audit entry linked onto its issue's chain; an accepting verification is signed.
async fn append_audit(conn: &mut $conn, a: &AuditEntry) -> Result<()> {
    let issue = a.issue_id.to_string();
    let prev = chain_head(conn, &issue).await?;
    let (text, hash) = ev::chain_entry(&serde_json::to_value(a)?, &prev)?;
    sqlx::query("INSERT INTO audit (id, issue_id, data, hash) VALUES ($1, $2, $3, $4)")
        .bind(a.id.to_string())
        .bind(&issue)
        .bind(text)
        .bind(hash)
        .execute(&mut *conn)
        .await?;
    if a.kind == patrol_core::audit::AuditKind::Verify && a.accepted == Some(true) {
        sign_off(conn, &issue, &a.id.to_string()).await?;
    }
    Ok(())
}

/// The stored trail of an issue, entries as JSON values, oldest first.
async fn trail(conn: &mut $conn, issue: &str) -> Result<Vec<serde_json::Value>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT data FROM audit WHERE issue_id = $1 ORDER BY seq")
            .bind(issue)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter().map(|(d,)| parse(d)).collect()
}

/// Sign the trail up to its newest entry, the accepting verification `audit_id`.
async fn sign_off(conn: &mut $conn, issue: &str, audit_id: &str) -> Result<()> {
    let trail = trail(conn, issue).await?;
    let Some(claim) = ev::signoff_claim(issue, &trail) else {
        return Ok(());
    };
    let signed = current_key(conn).await?.sign(claim)?;
    sqlx::query(
        "INSERT INTO signoffs (issue_id, audit_id, signed, signature, key_id) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(issue)
    .bind(audit_id)
    .bind(ev::canonical(&signed.signed)?)
    .bind(signed.signature)
    .bind(signed.key_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The key evidence is signed with now, made on first use.
async fn current_key(conn: &mut $conn) -> Result<ev::ServerKey> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT secret FROM evidence_keys WHERE secret IS NOT NULL ORDER BY created_ms DESC, key_id LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some((secret,)) => Ok(ev::ServerKey::from_secret_base64(&secret)?),
        None => new_key(conn).await,
    }
}

async fn new_key(conn: &mut $conn) -> Result<ev::ServerKey> {
    let key = ev::ServerKey::generate()?;
    sqlx::query(
        "INSERT INTO evidence_keys (key_id, public_key, secret, created_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(key.key_id())
    .bind(key.public_base64())
    .bind(key.secret_base64())
    .bind(ms(Timestamp::now()))
    .execute(&mut *conn)
    .await?;
    Ok(key)
}

/// Every key's public half, as evidence files carry them.
async fn public_keys(conn: &mut $conn) -> Result<std::collections::BTreeMap<String, String>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT key_id, public_key FROM evidence_keys ORDER BY created_ms, key_id")
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().collect())
}

/// A round's records as the seal covers them: each row with every column, `data` as JSON (a
/// `data` that no longer reads as JSON is kept as its text, so it still fails to match).
async fn round_rows(conn: &mut $conn, run: &str) -> Result<Vec<(String, String, serde_json::Value)>> {
    let data = |d: String| serde_json::from_str(&d).unwrap_or(serde_json::Value::String(d));
    let stored = read_round(conn, run).await?;
    let mut out = Vec::with_capacity(stored.runs.len() + stored.visits.len() + stored.results.len());
    for (id, site_id, route_id, patroller_id, started_at_ms, d) in stored.runs {
        let row = serde_json::json!({"id": id, "site_id": site_id, "route_id": route_id,
            "patroller_id": patroller_id, "started_at_ms": started_at_ms, "data": data(d)});
        out.push(("runs".to_owned(), id, row));
    }
    for (id, run_id, checkpoint_id, at_ms, d) in stored.visits {
        let row = serde_json::json!({"id": id, "run_id": run_id, "checkpoint_id": checkpoint_id,
            "at_ms": at_ms, "data": data(d)});
        out.push(("visits".to_owned(), id, row));
    }
    for (id, visit_id, item_key, d) in stored.results {
        let row = serde_json::json!({"id": id, "visit_id": visit_id, "item_key": item_key,
            "data": data(d)});
        out.push(("results".to_owned(), id, row));
    }
    Ok(out)
}

/// Seal a finished round: hash each of its records, sign the list's hash. A round sealed once
/// keeps its seal (a finished round takes no more records). A round is finished once, so it
/// is not looked up first: a second seal (a round written finished again) is not stored.
async fn seal_round(conn: &mut $conn, run: &str, site: &str) -> Result<()> {
    let rows = round_rows(conn, run).await?;
    let records = rows
        .iter()
        .map(|(table, id, row)| {
            Ok(ev::RecordRef {
                table: table.clone(),
                id: id.clone(),
                hash: ev::value_hash(row)?,
            })
        })
        .collect::<std::result::Result<Vec<_>, ev::EvidenceError>>()?;
    let Some((_, _, run_row)) = rows.iter().find(|(t, _, _)| t == "runs") else {
        return Ok(());
    };
    let claim = ev::seal_claim(run_row, &records, &Timestamp::now().to_string())?;
    let signed = current_key(conn).await?.sign(claim)?;
    sqlx::query(
        "INSERT INTO seals (run_id, site_id, signed, signature, key_id, records) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (run_id) DO NOTHING",
    )
    .bind(run)
    .bind(site)
    .bind(ev::canonical(&signed.signed)?)
    .bind(signed.signature)
    .bind(signed.key_id)
    .bind(json(&records)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn read_seal(signed: &str, signature: String, key_id: String, records: &str) -> Result<ev::Seal> {
    Ok(ev::Seal {
        signed: ev::Signed {
            signed: parse(signed)?,
            signature,
            key_id,
        },
        records: parse(records)?,
    })
}

/// A stored JSON text that is not its own canonical form was edited by hand.
fn canonical_text(text: &str) -> std::result::Result<serde_json::Value, &'static str> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| "its stored text is not valid JSON (it was changed)")?;
    match ev::canonical(&value) {
        Ok(c) if c == text => Ok(value),
        _ => Err("its stored text is not in canonical form (it was changed)"),
    }
}

/// Check one issue's trail and sign-offs as stored.
async fn check_issue(
    conn: &mut $conn,
    issue: &str,
    keys: &std::collections::BTreeMap<String, String>,
    check: &mut super::AuditCheck,
) -> Result<Option<ev::Fault>> {
    let rows: Vec<(String, Option<String>, String)> =
        sqlx::query_as("SELECT id, hash, data FROM audit WHERE issue_id = $1 ORDER BY seq")
            .bind(issue)
            .fetch_all(&mut *conn)
            .await?;
    let mut entries = Vec::with_capacity(rows.len());
    for (i, (id, hash, data)) in rows.iter().enumerate() {
        let subject = format!("issue {issue}, audit entry {} ({id})", i + 1);
        let value = match canonical_text(data) {
            Ok(v) => v,
            Err(what) => return Ok(Some(ev::Fault::new(subject, what))),
        };
        if value.get("id").and_then(|v| v.as_str()) != Some(id.as_str()) {
            return Ok(Some(ev::Fault::new(subject, "its id column differs from the entry")));
        }
        if value.get("hash").and_then(|v| v.as_str()) != hash.as_deref() {
            return Ok(Some(ev::Fault::new(subject, "its hash column differs from the entry")));
        }
        let named = value
            .get("photos")
            .and_then(|p| p.as_array())
            .into_iter()
            .flatten()
            .chain(value.get("signature"))
            .filter_map(|p| p.as_str());
        for sha in named {
            check.photo(&subject, sha);
        }
        entries.push(value);
    }
    if let Err(f) = ev::verify_chain(issue, &entries) {
        return Ok(Some(f));
    }
    check.entries += entries.len();
    let signoffs: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT audit_id, signed, signature, key_id FROM signoffs WHERE issue_id = $1 ORDER BY seq",
    )
    .bind(issue)
    .fetch_all(&mut *conn)
    .await?;
    for (i, (audit_id, signed, signature, key_id)) in signoffs.into_iter().enumerate() {
        let subject = format!("issue {issue}, sign-off {} (of entry {audit_id})", i + 1);
        let signed = match canonical_text(&signed) {
            Ok(v) => v,
            Err(what) => return Ok(Some(ev::Fault::new(subject, what))),
        };
        let s = ev::Signed { signed, signature, key_id };
        if let Err(mut f) = ev::verify_signoff(issue, i, &s, &entries, keys) {
            f.subject = subject;
            return Ok(Some(f));
        }
        let of_entry = entries.iter().find(|e| e.get("id").and_then(|v| v.as_str()) == Some(audit_id.as_str()));
        if of_entry.and_then(|e| e.get("hash")) != s.signed.get("chain_head") {
            return Ok(Some(ev::Fault::new(subject, "it is not the sign-off of the entry it names")));
        }
        check.signoffs += 1;
    }
    let accepted: Vec<&str> = entries
        .iter()
        .filter(|e| {
            e.get("kind").and_then(|v| v.as_str()) == Some("issue.verify")
                && e.get("accepted") == Some(&serde_json::Value::Bool(true))
        })
        .filter_map(|e| e.get("id").and_then(|v| v.as_str()))
        .collect();
    for id in accepted {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM signoffs WHERE audit_id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
        if n == 0 {
            return Ok(Some(ev::Fault::new(
                format!("issue {issue}, entry {id}"),
                "an accepted verification has no signed sign-off (it was removed)",
            )));
        }
    }
    Ok(None)
}

/// Check every sealed round, and that every finished round is sealed.
async fn check_seals(
    conn: &mut $conn,
    keys: &std::collections::BTreeMap<String, String>,
    check: &mut super::AuditCheck,
) -> Result<Option<ev::Fault>> {
    let seals: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT run_id, signed, signature, key_id, records FROM seals ORDER BY sealed_seq",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (run, signed, signature, key_id, records) in seals {
        let subject = format!("round {run}, seal");
        if let Err(what) = canonical_text(&signed) {
            return Ok(Some(ev::Fault::new(subject, what)));
        }
        let seal = match read_seal(&signed, signature, key_id, &records) {
            Ok(s) => s,
            Err(_) => return Ok(Some(ev::Fault::new(subject, "its list of records does not read (it was changed)"))),
        };
        let rows = round_rows(conn, &run).await?;
        if let Err(f) = ev::verify_seal(&run, &seal, &rows, keys) {
            return Ok(Some(f));
        }
        for (table, id, row) in &rows {
            let photos = row.pointer("/data/photos").and_then(|p| p.as_array());
            for sha in photos.into_iter().flatten().filter_map(|p| p.as_str()) {
                check.photo(&format!("round {run}, {} {id}", table.trim_end_matches('s')), sha);
            }
        }
        check.seals += 1;
    }
    let unsealed: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM runs r WHERE data LIKE '%\"finished_at\":\"%'
           AND NOT EXISTS (SELECT 1 FROM seals s WHERE s.run_id = r.id) ORDER BY id LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((run,)) = unsealed {
        return Ok(Some(ev::Fault::new(
            format!("round {run}"),
            "the round is finished but has no seal (it was removed)",
        )));
    }
    Ok(None)
}

/// The server's keys: each key's id must be its public key's.
async fn check_keys(conn: &mut $conn) -> Result<Option<ev::Fault>> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT key_id, public_key FROM evidence_keys")
        .fetch_all(&mut *conn)
        .await?;
    for (id, public) in rows {
        let bytes: Option<[u8; 32]> = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            &public,
        )
        .ok()
        .and_then(|b| b.try_into().ok());
        if bytes.map(|b| ev::key_id_of(&b)).as_deref() != Some(id.as_str()) {
            return Ok(Some(ev::Fault::new(
                format!("evidence key {id}"),
                "its public key does not match its id (it was changed)",
            )));
        }
    }
    Ok(None)
}

#[cfg(test)]
#[async_trait]
impl super::evidence_tests::Raw for $store {
    async fn migrate_to(&self, version: i64) {
        sqlx::migrate!($migrations)
            .run_to(version, &self.pool)
            .await
            .unwrap_or_else(|e| panic!("migrate to {version}: {e}"));
    }

    async fn raw(&self, sql: &str, binds: &[&str]) {
        let mut q = sqlx::query(AssertSqlSafe(sql.to_owned()));
        for b in binds {
            q = q.bind(b.to_string());
        }
        q.execute(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn strings(&self, sql: &str) -> Vec<(String, String)> {
        sqlx::query_as(AssertSqlSafe(sql.to_owned()))
            .fetch_all(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

impl $store {
    /// Link the trail of every issue that has entries from before the hash chain, and sign
    /// and seal what was accepted or finished before sign-offs and seals existed (the upgrade
    /// to schema 6). Each issue and round in a transaction of its own: safe to repeat.
    async fn upgrade_evidence(&self) -> Result<()> {
        const DONE: &str = "evidence_upgraded";
        let done: Option<(String,)> =
            sqlx::query_as("SELECT value FROM server_secrets WHERE name = $1")
                .bind(DONE)
                .fetch_optional(&self.pool)
                .await?;
        if done.is_some() {
            return Ok(());
        }
        let issues: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT issue_id FROM audit WHERE hash IS NULL ORDER BY issue_id")
                .fetch_all(&self.pool)
                .await?;
        for (issue,) in &issues {
            let (_guard, mut tx) = self.begin_write().await?;
            link_unchained(&mut tx, issue).await?;
            tx.commit().await?;
        }
        let unsigned: Vec<(String, String)> = sqlx::query_as(
            "SELECT a.issue_id, a.id FROM audit a
             WHERE a.data LIKE '%\"kind\":\"issue.verify\"%' AND a.data LIKE '%\"accepted\":true%'
               AND NOT EXISTS (SELECT 1 FROM signoffs s WHERE s.audit_id = a.id)
             ORDER BY a.seq",
        )
        .fetch_all(&self.pool)
        .await?;
        for (issue, audit_id) in &unsigned {
            let (_guard, mut tx) = self.begin_write().await?;
            let trail = trail(&mut tx, issue).await?;
            let upto = trail
                .iter()
                .position(|e| e.get("id").and_then(|v| v.as_str()) == Some(audit_id.as_str()));
            if let Some(claim) = upto.and_then(|at| ev::signoff_claim(issue, &trail[..=at])) {
                let signed = current_key(&mut tx).await?.sign(claim)?;
                sqlx::query(
                    "INSERT INTO signoffs (issue_id, audit_id, signed, signature, key_id) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (audit_id) DO NOTHING",
                )
                .bind(issue)
                .bind(audit_id)
                .bind(ev::canonical(&signed.signed)?)
                .bind(signed.signature)
                .bind(signed.key_id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
        let unsealed: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, site_id FROM runs r WHERE data LIKE '%\"finished_at\":\"%'
               AND NOT EXISTS (SELECT 1 FROM seals s WHERE s.run_id = r.id) ORDER BY started_at_ms, id",
        )
        .fetch_all(&self.pool)
        .await?;
        for (run, site) in &unsealed {
            let (_guard, mut tx) = self.begin_write().await?;
            seal_round(&mut tx, run, site).await?;
            tx.commit().await?;
        }
        sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(DONE)
            .bind(Timestamp::now().to_string())
            .execute(&self.pool)
            .await?;
        if !(issues.is_empty() && unsigned.is_empty() && unsealed.is_empty()) {
            tracing::info!(
                chained_issues = issues.len(),
                signed_off = unsigned.len(),
                sealed_rounds = unsealed.len(),
                "evidence: records from before the hash chain linked, signed and sealed"
            );
        }
        Ok(())
    }
}
    };
}

pub(crate) use evidence_sql;
