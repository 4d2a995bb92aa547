//! Evidence that holds in a dispute (DESIGN.md §12): each issue's audit trail is a hash chain,
//! sign-offs and finished rounds are signed by the server's Ed25519 key, and everything can be
//! checked offline with any SHA-256, JCS (RFC 8785) and Ed25519 implementation.
//!
//! The rules here are the whole contract: the server uses them to write evidence and
//! `verify-audit` to check it, so both agree by construction. What is hashed or signed is always
//! the JSON value as stored, never a struct serialised again, so a field added later does not
//! change the hash of an entry written before it.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::blob::sha256_hex;

/// Why evidence could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// A value does not serialise to JSON.
    #[error("evidence JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A stored key does not read back.
    #[error("证据签名密钥格式错误 / the evidence signing key is not 32 base64url bytes")]
    MalformedKey,
    /// The system's random source failed.
    #[error("无法生成随机密钥 / no randomness for a new key: {0}")]
    Random(String),
}

/// The RFC 8785 canonical form of a JSON value.
///
/// Most of what the server hashes — its own records — is written by `serde_json` in canonical
/// form already: objects are `BTreeMap`s whose keys come out sorted, and strings are escaped
/// the way RFC 8785 says (`\b \t \n \f \r`, other controls as lowercase `\u00xx`, nothing
/// else). Only two things can differ, and a value that has either goes through
/// `serde_json_canonicalizer`: a number that is not an integer of at most 2⁵³ (JCS writes every
/// number as ECMAScript writes a double), and a key with a character beyond U+FFFF (JCS sorts
/// keys by UTF-16 code units, where such characters sort before U+E000–U+FFFF, not after).
/// Both are tested against the library on generated values.
pub fn canonical(value: &Value) -> Result<String, EvidenceError> {
    if written_canonical(value) {
        return Ok(serde_json::to_string(value)?);
    }
    Ok(serde_json_canonicalizer::to_string(value)?)
}

/// Whether `serde_json` writes this value exactly as RFC 8785 does (see [`canonical`]).
fn written_canonical(value: &Value) -> bool {
    /// Integers a double holds exactly: ECMAScript writes them as plain digits.
    const EXACT: u64 = 1 << 53;
    match value {
        Value::Null | Value::Bool(_) | Value::String(_) => true,
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u <= EXACT,
            (None, Some(i)) => i.unsigned_abs() <= EXACT,
            _ => false,
        },
        Value::Array(items) => items.iter().all(written_canonical),
        Value::Object(map) => map
            .iter()
            .all(|(k, v)| k.chars().all(|c| c <= '\u{FFFF}') && written_canonical(v)),
    }
}

/// SHA-256 (lowercase hex) of the canonical form of a value.
pub fn value_hash(value: &Value) -> Result<String, EvidenceError> {
    Ok(sha256_hex(canonical(value)?.as_bytes()))
}

/// The hash an audit entry must carry: SHA-256 of the JCS of the entry without its `hash`.
pub fn entry_hash(entry: &Value) -> Result<String, EvidenceError> {
    let mut without = entry.clone();
    if let Some(obj) = without.as_object_mut() {
        obj.remove("hash");
    }
    value_hash(&without)
}

/// An entry linked onto `prev`: its stored text (canonical JSON, `prev` and `hash` in it) and
/// its hash.
pub fn chain_entry(entry: &Value, prev: &str) -> Result<(String, String), EvidenceError> {
    let mut entry = entry.clone();
    let obj = object_mut(&mut entry);
    obj.remove("hash");
    obj.insert("prev".into(), Value::String(prev.to_owned()));
    let hash = value_hash(&entry)?;
    object_mut(&mut entry).insert("hash".into(), Value::String(hash.clone()));
    Ok((canonical(&entry)?, hash))
}

fn object_mut(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}

/// What failed, and where: enough for a person to find the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The record: `issue <id>, audit entry 3 (<entry id>)`, `round <id>, visit <id>`…
    pub subject: String,
    /// What did not verify.
    pub what: String,
}

impl Fault {
    /// A fault of `subject`.
    pub fn new(subject: impl Into<String>, what: impl Into<String>) -> Fault {
        Fault {
            subject: subject.into(),
            what: what.into(),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.subject, self.what)
    }
}

impl std::error::Error for Fault {}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The subject naming entry `index` (0-based) of an issue's trail, counted from 1 for people.
pub fn entry_subject(issue_id: &str, index: usize, entry: &Value) -> String {
    let id = str_field(entry, "id").unwrap_or("?");
    format!("issue {issue_id}, audit entry {} ({id})", index + 1)
}

/// Check an issue's trail, oldest first: every entry belongs to the issue, links to the one
/// before (the first to the issue id) and carries its own hash. Returns the chain head.
pub fn verify_chain(issue_id: &str, entries: &[Value]) -> Result<String, Fault> {
    let mut prev = issue_id.to_owned();
    for (i, entry) in entries.iter().enumerate() {
        let fault = |what: &str| Fault::new(entry_subject(issue_id, i, entry), what);
        if !entry.is_object() {
            return Err(fault("not a JSON object"));
        }
        if str_field(entry, "issue_id") != Some(issue_id) {
            return Err(fault("names another issue"));
        }
        let Some(claimed) = str_field(entry, "hash") else {
            return Err(fault("has no hash (not chained)"));
        };
        match str_field(entry, "prev") {
            None => return Err(fault("has no prev (not chained)")),
            Some(p) if p != prev => {
                return Err(fault(
                    "prev does not match the hash of the entry before (an entry was changed, removed or moved)",
                ));
            }
            Some(_) => {}
        }
        let actual = entry_hash(entry).map_err(|e| fault(&e.to_string()))?;
        if actual != claimed {
            return Err(fault(
                "hash does not match its contents (the entry was changed)",
            ));
        }
        prev = claimed.to_owned();
    }
    Ok(prev)
}

/// What the server signs when a supervisor accepts a fix: built from the trail up to and
/// including the accepting `issue.verify` entry, so a verifier rebuilds it from the trail and
/// compares. `photos` are every photo of the trail up to the sign-off (the fault's and the
/// fix's), in order, each once.
pub fn signoff_claim(issue_id: &str, trail: &[Value]) -> Option<Value> {
    let last = trail.last()?;
    if str_field(last, "kind") != Some("issue.verify")
        || last.get("accepted") != Some(&Value::Bool(true))
    {
        return None;
    }
    let mut photos: Vec<Value> = Vec::new();
    for entry in trail {
        for p in entry
            .get("photos")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !photos.contains(p) {
                photos.push(p.clone());
            }
        }
    }
    let field = |k: &str| last.get(k).cloned().unwrap_or(Value::Null);
    Some(json!({
        "kind": "signoff",
        "issue_id": issue_id,
        "chain_head": field("hash"),
        "photos": photos,
        "signature": field("signature"),
        "note": field("note"),
        "actor_id": field("actor_id"),
        "at": field("at"),
        "device_at": field("device_at"),
        "server_at": field("server_at"),
    }))
}

/// A signed object as evidence carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signed {
    /// What was signed (its JCS is the message).
    pub signed: Value,
    /// Ed25519 signature, base64url without padding.
    pub signature: String,
    /// Which server key signed it.
    pub key_id: String,
}

/// The key id of a public key: the first 16 hex digits of SHA-256 of its 32 bytes.
pub fn key_id_of(public: &[u8; 32]) -> String {
    sha256_hex(public)[..16].to_owned()
}

/// The server's evidence signing key. Its secret lives in the server's database beside the JWT
/// secret; when rotated, the secret is dropped and the public half kept.
#[derive(Clone)]
pub struct ServerKey(SigningKey);

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerKey({})", self.key_id())
    }
}

impl ServerKey {
    /// A new random key.
    pub fn generate() -> Result<ServerKey, EvidenceError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| EvidenceError::Random(e.to_string()))?;
        Ok(ServerKey(SigningKey::from_bytes(&secret)))
    }

    /// The key from its stored form (base64url of the 32 secret bytes).
    pub fn from_secret_base64(s: &str) -> Result<ServerKey, EvidenceError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s.trim())
            .map_err(|_| EvidenceError::MalformedKey)?;
        let secret: [u8; 32] = bytes.try_into().map_err(|_| EvidenceError::MalformedKey)?;
        Ok(ServerKey(SigningKey::from_bytes(&secret)))
    }

    /// The stored form of the secret. Keep it out of logs.
    pub fn secret_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.to_bytes())
    }

    /// The public key, base64url.
    pub fn public_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.verifying_key().to_bytes())
    }

    /// The key's id.
    pub fn key_id(&self) -> String {
        key_id_of(&self.0.verifying_key().to_bytes())
    }

    /// Sign the JCS of `claim`.
    pub fn sign(&self, claim: Value) -> Result<Signed, EvidenceError> {
        let sig = self.0.sign(canonical(&claim)?.as_bytes());
        Ok(Signed {
            signed: claim,
            signature: URL_SAFE_NO_PAD.encode(sig.to_bytes()),
            key_id: self.key_id(),
        })
    }
}

/// Check a signature against the public keys known (key id → base64url public key).
pub fn verify_signed(s: &Signed, public_keys: &BTreeMap<String, String>) -> Result<(), String> {
    let Some(public) = public_keys.get(&s.key_id) else {
        return Err(format!("signed by an unknown key {}", s.key_id));
    };
    let public: [u8; 32] = URL_SAFE_NO_PAD
        .decode(public)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("public key {} is not 32 base64url bytes", s.key_id))?;
    if key_id_of(&public) != s.key_id {
        return Err(format!("public key does not have the id {}", s.key_id));
    }
    let key = VerifyingKey::from_bytes(&public)
        .map_err(|_| format!("public key {} is not an Ed25519 key", s.key_id))?;
    let sig: [u8; 64] = URL_SAFE_NO_PAD
        .decode(&s.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("the signature is not 64 base64url bytes")?;
    let message = canonical(&s.signed).map_err(|e| e.to_string())?;
    key.verify(message.as_bytes(), &Signature::from_bytes(&sig))
        .map_err(|_| "the signature does not verify (the signed record was changed)".to_owned())
}

/// One sign-off as the trail and the signature must agree on: the sign-off at `index` (0-based)
/// of the issue.
pub fn verify_signoff(
    issue_id: &str,
    index: usize,
    signoff: &Signed,
    trail: &[Value],
    public_keys: &BTreeMap<String, String>,
) -> Result<(), Fault> {
    let fault =
        |what: String| Fault::new(format!("issue {issue_id}, sign-off {}", index + 1), what);
    verify_signed(signoff, public_keys).map_err(fault)?;
    let head = str_field(&signoff.signed, "chain_head").unwrap_or_default();
    let Some(at) = trail
        .iter()
        .position(|e| str_field(e, "hash") == Some(head))
    else {
        return Err(fault("its chain head is not an entry of the trail".into()));
    };
    match signoff_claim(issue_id, &trail[..=at]) {
        Some(claim) if claim == signoff.signed => Ok(()),
        Some(_) => Err(fault(
            "what it signed differs from the trail's sign-off entry".into(),
        )),
        None => Err(fault(
            "its chain head is not an accepted verification".into(),
        )),
    }
}

/// One record of a sealed round, as the seal lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    /// `runs`, `visits` or `results`.
    pub table: String,
    /// The row's id.
    pub id: String,
    /// SHA-256 of the JCS of the row (every column, `data` as JSON).
    pub hash: String,
}

/// The hash over a round's records: SHA-256 of the JCS of the list.
pub fn records_hash(records: &[RecordRef]) -> Result<String, EvidenceError> {
    value_hash(&serde_json::to_value(records)?)
}

/// The claim a round's seal signs: its identity, counts, and the hash of its records.
pub fn seal_claim(
    run: &Value,
    records: &[RecordRef],
    server_at: &str,
) -> Result<Value, EvidenceError> {
    let data = run.get("data").cloned().unwrap_or(Value::Null);
    let count = |table: &str| records.iter().filter(|r| r.table == table).count();
    let field = |k: &str| data.get(k).cloned().unwrap_or(Value::Null);
    let missed = data
        .get("missed")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    Ok(json!({
        "kind": "round_seal",
        "run_id": field("id"),
        "site_id": field("site_id"),
        "route_id": field("route_id"),
        "patroller_id": field("patroller_id"),
        "started_at": field("started_at"),
        "finished_at": field("finished_at"),
        "visits": count("visits"),
        "results": count("results"),
        "missed": missed,
        "records_hash": records_hash(records)?,
        "server_at": server_at,
    }))
}

/// A sealed round: the signature, and the records it covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seal {
    /// The signed claim.
    #[serde(flatten)]
    pub signed: Signed,
    /// The records whose list hashes to the claim's `records_hash`.
    pub records: Vec<RecordRef>,
}

/// Check a seal against the round's records as they are now (`rows`: table, id, row value).
pub fn verify_seal(
    run_id: &str,
    seal: &Seal,
    rows: &[(String, String, Value)],
    public_keys: &BTreeMap<String, String>,
) -> Result<(), Fault> {
    let subject = format!("round {run_id}");
    let fault = |what: String| Fault::new(subject.clone(), what);
    verify_signed(&seal.signed, public_keys).map_err(|e| fault(format!("seal: {e}")))?;
    let listed = records_hash(&seal.records).map_err(|e| fault(e.to_string()))?;
    if str_field(&seal.signed.signed, "records_hash") != Some(listed.as_str()) {
        return Err(fault(
            "the seal's list of records does not match what was signed".into(),
        ));
    }
    for r in &seal.records {
        let name = |what: &str| {
            Fault::new(
                format!("round {run_id}, {} {}", singular(&r.table), r.id),
                what,
            )
        };
        let Some((_, _, row)) = rows.iter().find(|(t, id, _)| *t == r.table && *id == r.id) else {
            return Err(name("was sealed but is no longer there"));
        };
        let hash = value_hash(row).map_err(|e| name(&e.to_string()))?;
        if hash != r.hash {
            return Err(name("differs from the sealed record (it was changed)"));
        }
    }
    if let Some((table, id, _)) = rows
        .iter()
        .find(|(t, id, _)| !seal.records.iter().any(|r| r.table == *t && r.id == *id))
    {
        return Err(Fault::new(
            format!("round {run_id}, {} {id}", singular(table)),
            "was added after the round was sealed",
        ));
    }
    let Some((_, _, run)) = rows.iter().find(|(t, _, _)| t == "runs") else {
        return Err(fault("the round's own record is missing".into()));
    };
    let server_at = str_field(&seal.signed.signed, "server_at").unwrap_or_default();
    let claim = seal_claim(run, &seal.records, server_at).map_err(|e| fault(e.to_string()))?;
    if claim != seal.signed.signed {
        return Err(fault(
            "the seal's claim differs from the round's record".into(),
        ));
    }
    Ok(())
}

fn singular(table: &str) -> &str {
    match table {
        "runs" => "run",
        "visits" => "visit",
        "results" => "result",
        other => other,
    }
}

/// One record of a sealed round as an archive carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedRow {
    /// `runs`, `visits` or `results`.
    pub table: String,
    /// The row's id.
    pub id: String,
    /// Every column of the row, `data` as JSON.
    pub row: Value,
}

/// A sealed round with the records it covers, as the month's archive carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedRound {
    /// The round.
    pub run_id: String,
    /// Its seal.
    pub seal: Seal,
    /// Its records as stored when archived.
    pub rows: Vec<SealedRow>,
}

/// A month's round seals, as `archive/<SITE>/<YYYY-MM>/seals.json` holds them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealsFile {
    /// The site's code.
    pub site: String,
    /// The month, `YYYY-MM`.
    pub month: String,
    /// Its sealed rounds, in the order they started.
    pub seals: Vec<SealedRound>,
    /// Key id → base64url Ed25519 public key.
    pub public_keys: BTreeMap<String, String>,
}

/// Check an archived month's seals offline: every round's records against its seal.
pub fn verify_seals_file(f: &SealsFile) -> Result<usize, Fault> {
    for r in &f.seals {
        let rows: Vec<(String, String, Value)> = r
            .rows
            .iter()
            .map(|x| (x.table.clone(), x.id.clone(), x.row.clone()))
            .collect();
        verify_seal(&r.run_id, &r.seal, &rows, &f.public_keys)?;
    }
    Ok(f.seals.len())
}

/// An issue's evidence, exported (`GET /api/v1/issues/{id}/evidence.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The issue as it is now.
    pub issue: Value,
    /// Its audit trail, oldest first, each entry as stored (with `prev` and `hash`).
    pub audit: Vec<Value>,
    /// Its sign-offs, oldest first.
    pub signoffs: Vec<Signed>,
    /// Key id → base64url Ed25519 public key, for every key the server has signed with.
    pub public_keys: BTreeMap<String, String>,
}

/// What a verified evidence file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The issue.
    pub issue_id: String,
    /// Entries checked.
    pub entries: usize,
    /// Sign-offs checked.
    pub signoffs: usize,
    /// The chain head.
    pub head: String,
}

/// Check an exported evidence file offline.
pub fn verify_evidence(e: &Evidence) -> Result<Verified, Fault> {
    let Some(issue_id) = str_field(&e.issue, "id") else {
        return Err(Fault::new("evidence file", "the issue has no id"));
    };
    let head = verify_chain(issue_id, &e.audit)?;
    for (i, s) in e.signoffs.iter().enumerate() {
        verify_signoff(issue_id, i, s, &e.audit, &e.public_keys)?;
    }
    let accepted = e
        .audit
        .iter()
        .filter(|a| {
            str_field(a, "kind") == Some("issue.verify")
                && a.get("accepted") == Some(&Value::Bool(true))
        })
        .count();
    if accepted > e.signoffs.len() {
        return Err(Fault::new(
            format!("issue {issue_id}"),
            "an accepted verification has no signed sign-off",
        ));
    }
    Ok(Verified {
        issue_id: issue_id.to_owned(),
        entries: e.audit.len(),
        signoffs: e.signoffs.len(),
        head,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Any JSON value: numbers of every kind, keys and strings with controls, escapes, CJK,
    /// characters beyond U+FFFF and the private-use block they sort against.
    fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let text = "[a-z0-9\"\\\\/\u{0}-\u{1f}\u{7f}é漏水\u{e000}\u{fffd}\u{ffff}\u{10000}😀]{0,6}";
        let number = prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-(1i64 << 54)..(1i64 << 54)).prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            (-1000i32..1000).prop_map(|i| Value::from(f64::from(i) / 8.0)),
            Just(json!(1e21)),
            Just(json!(-0.0)),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number,
            text.prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(text, inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn the_canonical_form_is_the_libraries_for_any_value(value in any_json()) {
            proptest::prop_assert_eq!(
                canonical(&value).unwrap(),
                serde_json_canonicalizer::to_string(&value).unwrap()
            );
        }
    }

    #[test]
    fn values_serde_json_would_write_otherwise_go_through_the_library() {
        for (value, jcs) in [
            (json!({"n": 3.0}), r#"{"n":3}"#),
            (json!({"n": 1e21}), r#"{"n":1e+21}"#),
            (
                json!({"n": 9_007_199_254_740_993u64}),
                r#"{"n":9007199254740992}"#,
            ),
            (
                json!({"\u{e000}": 1, "\u{10000}": 2}),
                "{\"\u{10000}\":2,\"\u{e000}\":1}",
            ),
        ] {
            assert!(!written_canonical(&value), "{value}");
            assert_eq!(canonical(&value).unwrap(), jcs);
        }
        let record = json!({"id": "v1", "at": "2026-12-01T08:00:00Z", "n": -(1i64 << 53),
                            "note": "漏水\n\u{1}", "photos": [], "nested": {"b": 1, "a": null}});
        assert!(written_canonical(&record));
        assert_eq!(
            canonical(&record).unwrap(),
            serde_json_canonicalizer::to_string(&record).unwrap()
        );
    }

    fn trail(issue: &str) -> Vec<Value> {
        let mut prev = issue.to_owned();
        let mut out = Vec::new();
        let entries = [
            json!({"id": "a1", "issue_id": issue, "kind": "issue.report", "photos": ["f1"], "note": "漏水"}),
            json!({"id": "a2", "issue_id": issue, "kind": "issue.resolve", "photos": ["f2", "f1"], "note": null}),
            json!({"id": "a3", "issue_id": issue, "kind": "issue.verify", "accepted": true,
                   "photos": [], "signature": "s1", "note": "好了", "actor_id": "u",
                   "at": "2026-12-01T08:00:00Z", "device_at": "2026-12-01T08:00:00Z",
                   "server_at": "2026-12-01T08:00:01Z"}),
        ];
        for e in entries {
            let (text, hash) = chain_entry(&e, &prev).unwrap();
            out.push(serde_json::from_str(&text).unwrap());
            prev = hash;
        }
        out
    }

    fn evidence() -> Evidence {
        let key = ServerKey::generate().unwrap();
        let audit = trail("i1");
        let claim = signoff_claim("i1", &audit).unwrap();
        Evidence {
            issue: json!({"id": "i1"}),
            signoffs: vec![key.sign(claim).unwrap()],
            public_keys: BTreeMap::from([(key.key_id(), key.public_base64())]),
            audit,
        }
    }

    #[test]
    fn a_chained_trail_with_its_signoff_verifies() {
        let e = evidence();
        let v = verify_evidence(&e).unwrap();
        assert_eq!((v.entries, v.signoffs), (3, 1));
        assert_eq!(v.head, e.audit[2]["hash"].as_str().unwrap());
        assert_eq!(e.signoffs[0].signed["photos"], json!(["f1", "f2"]));
    }

    #[test]
    fn the_hash_is_over_the_canonical_form_without_the_hash() {
        let e = json!({"b": 1, "a": "é", "prev": "x"});
        let (text, hash) = chain_entry(&e, "x").unwrap();
        assert_eq!(
            text,
            format!(r#"{{"a":"é","b":1,"hash":"{hash}","prev":"x"}}"#)
        );
        assert_eq!(hash, sha256_hex(r#"{"a":"é","b":1,"prev":"x"}"#.as_bytes()));
    }

    #[test]
    fn a_changed_entry_is_named() {
        let mut e = evidence();
        e.audit[1]["note"] = json!("改了");
        let f = verify_evidence(&e).unwrap_err();
        assert!(f.subject.contains("audit entry 2 (a2)"), "{f}");
        assert!(f.what.contains("hash does not match"), "{f}");
    }

    #[test]
    fn a_rehashed_entry_breaks_the_next_link() {
        let mut e = evidence();
        e.audit[0]["note"] = json!("改了");
        let rehashed = entry_hash(&e.audit[0]).unwrap();
        e.audit[0]["hash"] = json!(rehashed);
        let f = verify_evidence(&e).unwrap_err();
        assert!(f.subject.contains("audit entry 2"), "{f}");
        assert!(f.what.contains("prev"), "{f}");
    }

    #[test]
    fn a_removed_entry_or_a_forged_signoff_is_caught() {
        let mut e = evidence();
        e.audit.remove(1);
        assert!(verify_evidence(&e).is_err());

        let mut e = evidence();
        e.signoffs[0].signed["note"] = json!("另一个说法");
        let f = verify_evidence(&e).unwrap_err();
        assert!(f.subject.contains("sign-off 1"), "{f}");

        let mut e = evidence();
        e.signoffs.clear();
        assert!(verify_evidence(&e).is_err(), "an unsigned acceptance");

        let mut e = evidence();
        let other = ServerKey::generate().unwrap();
        e.signoffs[0] = other.sign(e.signoffs[0].signed.clone()).unwrap();
        assert!(
            verify_evidence(&e)
                .unwrap_err()
                .what
                .contains("unknown key")
        );
    }

    #[test]
    fn a_seal_names_the_changed_record() {
        let key = ServerKey::generate().unwrap();
        let keys = BTreeMap::from([(key.key_id(), key.public_base64())]);
        let rows = vec![
            (
                "runs".to_owned(),
                "r1".to_owned(),
                json!({"id": "r1", "data": {"id": "r1", "missed": [{"checkpoint_id": "c"}]}}),
            ),
            (
                "visits".to_owned(),
                "v1".to_owned(),
                json!({"id": "v1", "at_ms": 5}),
            ),
            (
                "results".to_owned(),
                "x1".to_owned(),
                json!({"id": "x1", "data": {"reading": 1.5}}),
            ),
        ];
        let records: Vec<RecordRef> = rows
            .iter()
            .map(|(t, id, v)| RecordRef {
                table: t.clone(),
                id: id.clone(),
                hash: value_hash(v).unwrap(),
            })
            .collect();
        let claim = seal_claim(&rows[0].2, &records, "2026-12-01T08:00:00Z").unwrap();
        assert_eq!(
            (claim["visits"].clone(), claim["missed"].clone()),
            (json!(1), json!(1))
        );
        let seal = Seal {
            signed: key.sign(claim).unwrap(),
            records,
        };
        verify_seal("r1", &seal, &rows, &keys).unwrap();

        let mut changed = rows.clone();
        changed[2].2["data"]["reading"] = json!(2.5);
        let f = verify_seal("r1", &seal, &changed, &keys).unwrap_err();
        assert_eq!(f.subject, "round r1, result x1");

        let mut added = rows.clone();
        added.push(("visits".into(), "v2".into(), json!({"id": "v2"})));
        let f = verify_seal("r1", &seal, &added, &keys).unwrap_err();
        assert_eq!(f.subject, "round r1, visit v2");

        let f = verify_seal("r1", &seal, &rows[..2], &keys).unwrap_err();
        assert!(f.what.contains("no longer there"), "{f}");
    }

    #[test]
    fn a_key_reads_back_and_keeps_its_id() {
        let key = ServerKey::generate().unwrap();
        let again = ServerKey::from_secret_base64(&key.secret_base64()).unwrap();
        assert_eq!(key.key_id(), again.key_id());
        assert_eq!(key.key_id().len(), 16);
        assert!(ServerKey::from_secret_base64("short").is_err());
    }
}
