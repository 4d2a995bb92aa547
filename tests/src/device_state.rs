//! What a phone's database and photo folder hold, read behind the engine's back, and the rules
//! between them that nothing may break — an app killed, a disk gone full, a write that failed:
//! each record has its outbox op and each op its record, `seq` has no gap, every photo a record
//! or an op names is queued and whole on disk, and no temp file lingers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use patrol_core::blob::sha256_hex;
use rusqlite::{Connection, OpenFlags};

/// A photo's SHA-256 hex id.
pub type PhotoId = String;

/// The records, ops and photos found on a phone.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeviceState {
    /// Every op's `seq`, in order.
    pub seqs: Vec<i64>,
    /// Every op's id, in `seq` order.
    pub op_ids: Vec<String>,
    /// Rounds started.
    pub runs: BTreeSet<String>,
    /// Rounds finished.
    pub finished: BTreeSet<String>,
    /// Checkpoint visits.
    pub visits: BTreeSet<String>,
    /// Checklist answers.
    pub results: BTreeSet<String>,
    /// Issues reported (the demo reference data brings none of its own).
    pub issues: BTreeSet<String>,
    /// Photos queued for upload (rows of the `photos` table).
    pub photos: BTreeSet<PhotoId>,
    /// Whole photo files on disk without a row: left by a step that stopped between writing the
    /// file and committing its row.
    pub unqueued_photo_files: BTreeSet<PhotoId>,
    /// Thumbnails of photos that have neither a file nor a row: left by a step that stopped
    /// between the thumbnail and the photo.
    pub stray_thumbnails: BTreeSet<PhotoId>,
    /// Temp files in the photo folder.
    pub temp_files: BTreeSet<String>,
    /// Everything that breaks a rule, in words.
    pub problems: Vec<String>,
}

/// What a step the engine acknowledged (returned `Ok` for) must have left on the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// A round started.
    Run(String),
    /// A checkpoint visited.
    Visit(String),
    /// A checklist item answered.
    Result(String),
    /// A photo kept and queued.
    Photo(PhotoId),
    /// An issue reported.
    Issue(String),
    /// A round finished.
    Finished(String),
}

impl Saved {
    /// Whether it is there.
    pub fn is_in(&self, state: &DeviceState) -> bool {
        match self {
            Saved::Run(id) => state.runs.contains(id),
            Saved::Visit(id) => state.visits.contains(id),
            Saved::Result(id) => state.results.contains(id),
            Saved::Photo(id) => state.photos.contains(id),
            Saved::Issue(id) => state.issues.contains(id),
            Saved::Finished(id) => state.finished.contains(id),
        }
    }

    /// Whether the step queued an op (a photo is queued as a blob, not as an op).
    pub fn has_op(&self) -> bool {
        !matches!(self, Saved::Photo(_))
    }
}

/// Record tables and the op kind that carries each, with the body field naming the row.
const PAIRS: [(&str, &str, &str); 4] = [
    ("runs", "patrol.start", "run_id"),
    ("visits", "patrol.visit", "visit_id"),
    ("results", "patrol.result", "result_id"),
    ("issues", "issue.report", "issue_id"),
];

fn strings(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<String>> {
    conn.prepare(sql)?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()
}

impl DeviceState {
    /// Read the database at `db` (on the default VFS, read-only, beside a running engine if
    /// there is one) and the photo folder, and note every broken rule.
    pub fn read(db: &Path, photo_dir: &Path) -> DeviceState {
        let mut state = DeviceState::default();
        if let Err(e) = state.read_db(db) {
            state
                .problems
                .push(format!("the database does not read: {e}"));
        }
        state.read_photo_dir(photo_dir);
        state
    }

    fn read_db(&mut self, db: &Path) -> rusqlite::Result<()> {
        let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let integrity = strings(&conn, "PRAGMA integrity_check")?;
        if integrity != ["ok"] {
            self.problems
                .push(format!("integrity_check: {}", integrity.join("; ")));
        }
        let dangling = strings(&conn, "SELECT \"table\" FROM pragma_foreign_key_check")?;
        if !dangling.is_empty() {
            self.problems
                .push(format!("rows whose parent is missing in {dangling:?}"));
        }

        self.seqs = conn
            .prepare("SELECT seq FROM outbox ORDER BY seq")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        self.op_ids = strings(&conn, "SELECT op_id FROM outbox ORDER BY seq")?;
        if self.seqs != (1..=self.seqs.len() as i64).collect::<Vec<_>>() {
            self.problems
                .push(format!("seq has a gap: {:?}", self.seqs));
        }

        for (table, kind, field) in PAIRS {
            let rows: BTreeSet<String> = strings(&conn, &format!("SELECT id FROM {table}"))?
                .into_iter()
                .collect();
            let named = strings(
                &conn,
                &format!(
                    "SELECT json_extract(body, '$.{field}') FROM outbox WHERE kind = '{kind}'"
                ),
            )?;
            let ops: BTreeSet<String> = named.iter().cloned().collect();
            if ops.len() != named.len() {
                self.problems
                    .push(format!("two {kind} ops name the same {field}"));
            }
            for id in rows.difference(&ops) {
                self.problems
                    .push(format!("{table} row {id} has no {kind} op"));
            }
            for id in ops.difference(&rows) {
                self.problems
                    .push(format!("{kind} op names {field} {id}, which has no row"));
            }
            match table {
                "runs" => self.runs = rows,
                "visits" => self.visits = rows,
                "results" => self.results = rows,
                _ => self.issues = rows,
            }
        }
        self.finished = strings(&conn, "SELECT id FROM runs WHERE finished = 1")?
            .into_iter()
            .collect();
        let finishes: BTreeSet<String> = strings(
            &conn,
            "SELECT json_extract(body, '$.run_id') FROM outbox WHERE kind = 'patrol.finish'",
        )?
        .into_iter()
        .collect();
        if finishes != self.finished {
            self.problems.push(format!(
                "finished rounds {:?} but patrol.finish ops for {finishes:?}",
                self.finished
            ));
        }
        if self.runs.len() > self.finished.len() + 1 {
            self.problems.push("more than one round open".into());
        }

        self.photos = strings(&conn, "SELECT id FROM photos")?
            .into_iter()
            .collect();
        // The photos a record names must be the ones its op names, and all of them queued.
        let named = [
            (
                "results",
                "patrol.result",
                "result_id",
                "SELECT id, data FROM results",
            ),
            (
                "issues",
                "issue.report",
                "issue_id",
                "SELECT id, data FROM issues",
            ),
        ];
        for (table, kind, field, sql) in named {
            let records = photo_lists(&conn, sql)?;
            let ops = photo_lists(
                &conn,
                &format!(
                    "SELECT json_extract(body, '$.{field}'), body FROM outbox WHERE kind = '{kind}'"
                ),
            )?;
            for (id, photos) in &records {
                if let Some(sent) = ops.get(id).filter(|sent| *sent != photos) {
                    self.problems.push(format!(
                        "{table} row {id} has photos {photos:?}, its op {sent:?}"
                    ));
                }
            }
            for (id, photo) in records
                .iter()
                .chain(&ops)
                .flat_map(|(id, photos)| photos.iter().map(move |p| (id, p)))
            {
                if !self.photos.contains(photo) {
                    self.problems.push(format!(
                        "{table}/{kind} {id} names photo {photo}, which is not queued"
                    ));
                }
            }
        }
        Ok(())
    }

    fn read_photo_dir(&mut self, dir: &Path) {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                self.problems.push(format!("photo folder: {e}"));
                return;
            }
        };
        let mut jpegs = BTreeSet::new();
        let mut thumbnails = BTreeSet::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp-") {
                self.temp_files.insert(name);
            } else if let Some(id) = name.strip_suffix(".thumb.jpg") {
                thumbnails.insert(id.to_owned());
            } else if let Some(id) = name.strip_suffix(".jpg") {
                jpegs.insert(id.to_owned());
            }
        }
        for id in &self.photos {
            if !jpegs.contains(id) {
                self.problems
                    .push(format!("photo {id} is queued but has no file"));
            }
        }
        for id in &jpegs {
            match std::fs::read(dir.join(format!("{id}.jpg"))) {
                Ok(bytes) if sha256_hex(&bytes) == *id => {}
                Ok(_) => self
                    .problems
                    .push(format!("photo file {id}.jpg is not whole")),
                Err(e) => self.problems.push(format!("photo file {id}.jpg: {e}")),
            }
            match std::fs::read(dir.join(format!("{id}.thumb.jpg"))) {
                Ok(bytes) if bytes.ends_with(&[0xFF, 0xD9]) => {}
                Ok(_) => self
                    .problems
                    .push(format!("the thumbnail of {id} is not whole")),
                Err(_) => self.problems.push(format!("photo {id} has no thumbnail")),
            }
            if !self.photos.contains(id) {
                self.unqueued_photo_files.insert(id.clone());
            }
        }
        self.stray_thumbnails = thumbnails
            .difference(&jpegs)
            .filter(|id| !self.photos.contains(*id))
            .cloned()
            .collect();
    }

    /// Panic with every broken rule, saying when it was seen.
    pub fn assert_sound(&self, when: &str) {
        assert!(
            self.problems.is_empty(),
            "{when}:\n  {}",
            self.problems.join("\n  ")
        );
    }

    /// What of `saved` is not here.
    pub fn lost<'a>(&self, saved: &'a [Saved]) -> Vec<&'a Saved> {
        saved.iter().filter(|s| !s.is_in(self)).collect()
    }

    /// What of `saved` is not here, and, when the ops are not exactly those of `saved`, how
    /// many there are: a step that failed must not have queued one, one that succeeded must.
    pub fn misses(&self, saved: &[Saved]) -> Vec<String> {
        let mut out: Vec<String> = self
            .lost(saved)
            .iter()
            .map(|s| format!("acknowledged but gone: {s:?}"))
            .collect();
        let ops = saved.iter().filter(|s| s.has_op()).count();
        if self.op_ids.len() != ops {
            out.push(format!(
                "{} ops for {ops} acknowledged steps that queue one",
                self.op_ids.len()
            ));
        }
        let photos = saved.iter().filter(|s| !s.has_op()).count();
        if self.photos.len() != photos {
            out.push(format!(
                "{} photos queued for {photos} acknowledged",
                self.photos.len()
            ));
        }
        out
    }

    /// Every op, record and photo in `earlier` is here too.
    pub fn keeps(&self, earlier: &DeviceState) -> Vec<String> {
        let mut lost = Vec::new();
        let sets = [
            ("run", &earlier.runs, &self.runs),
            ("finished run", &earlier.finished, &self.finished),
            ("visit", &earlier.visits, &self.visits),
            ("result", &earlier.results, &self.results),
            ("issue", &earlier.issues, &self.issues),
            ("photo", &earlier.photos, &self.photos),
        ];
        for (what, before, now) in sets {
            lost.extend(before.difference(now).map(|id| format!("{what} {id}")));
        }
        if !self.op_ids.starts_with(&earlier.op_ids) {
            lost.push(format!(
                "the ops up to seq {} are not the same ops",
                earlier.op_ids.len()
            ));
        }
        lost
    }
}

/// `(id, photos)` of each row of a query that gives an id and a JSON text with `photos`.
fn photo_lists(conn: &Connection, sql: &str) -> rusqlite::Result<BTreeMap<String, Vec<PhotoId>>> {
    let mut out = BTreeMap::new();
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        let json: String = row.get(1)?;
        let photos = serde_json::from_str::<serde_json::Value>(&json)
            .ok()
            .and_then(|v| serde_json::from_value(v["photos"].clone()).ok())
            .unwrap_or_default();
        out.insert(id, photos);
    }
    Ok(out)
}
