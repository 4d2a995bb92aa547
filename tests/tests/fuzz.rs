//! The fuzz crate (`tests/fuzz/`) stays in step with the workspace. Its seed corpus is made of
//! real inputs: genuine labels of the fuzz estate and the ways a scan is refused, push bodies of
//! every op kind, the cursors a server hands out, a photo and a signature the server accepts and
//! a JPEG that lies about its size, site files that import and one that is refused. Seeds that
//! stopped meaning what they say would leave the fuzzer starting from refusals only, so each is
//! checked here; and its lock file must pin the workspace's versions, one of each dependency.
//!
//! `PATROL_WRITE_FUZZ_SEEDS=1 cargo test -p patrol-e2e --test fuzz` writes the seeds again
//! (after a change to a format), then checks them.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

#[path = "../fuzz/src/lib.rs"]
mod fixture;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::PathBuf;

use image::ImageFormat;
use jiff::Timestamp;
use patrol_core::blob::{self, BlobKind, PhotoError};
use patrol_core::bounds;
use patrol_core::ids::{
    CheckpointId, DeviceId, IssueId, OpId, ResultId, RouteId, RunId, UserId, VisitId, ZoneId,
};
use patrol_core::issue::{Category, Severity, Source};
use patrol_core::labels::{self, LabelError};
use patrol_core::patrol::{Missed, Outcome, VisitMethod};
use patrol_core::plausibility::ScanFlag;
use patrol_core::round::{self, RoundError};
use patrol_core::sitefile::{self, SiteFileError};
use patrol_core::wire::{self, Op, OpBody, PushRequest, QueueCursor};
use uuid::Uuid;

/// The committed seeds of a target, by file name. With `PATROL_WRITE_FUZZ_SEEDS` set, `made` is
/// written first; `kept` are seeds made elsewhere, committed as they are. The names must be
/// exactly those, so a seed lost or renamed is noticed.
fn committed(target: &str, made: Vec<(&str, Vec<u8>)>, kept: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    if std::env::var_os("PATROL_WRITE_FUZZ_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in &made {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        // What a hand-run `cargo fuzz run` adds (SHA-1 names, ignored by git) is not a seed.
        if name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        files.insert(name, std::fs::read(entry.path()).unwrap());
    }
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    let mut expected: Vec<&str> = made
        .iter()
        .map(|(n, _)| *n)
        .chain(kept.iter().copied())
        .collect();
    expected.sort_unstable();
    assert_eq!(
        names, expected,
        "seeds of {target} differ from what this test makes; PATROL_WRITE_FUZZ_SEEDS=1 rewrites them"
    );
    files
}

fn text(files: &BTreeMap<String, Vec<u8>>, name: &str) -> String {
    String::from_utf8(files[name].clone()).unwrap()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0000 | n)
}

#[test]
fn qr_token_seeds_are_genuine_labels_and_each_kind_of_refusal() {
    let f = fixture::labels();
    let label = labels::sign(f.site.id, fixture::KNOWN[0], &f.key);
    let neighbours = labels::sign(fixture::OTHER_ID, CheckpointId(id(0x2_0001)), &f.other_key);
    let files = committed(
        "qr_token",
        vec![
            ("label", label.clone().into_bytes()),
            (
                "label-scanner-newline",
                format!("{}\r\n", labels::sign(f.site.id, fixture::KNOWN[1], &f.key)).into_bytes(),
            ),
            ("label-other-site", neighbours.into_bytes()),
            (
                "label-forged",
                labels::sign(f.site.id, fixture::KNOWN[2], &f.other_key).into_bytes(),
            ),
            (
                "label-not-pulled",
                labels::sign(f.site.id, fixture::NOT_PULLED, &f.key).into_bytes(),
            ),
            ("damaged", label.as_bytes()[..label.len() - 10].to_vec()),
            ("url", b"https://example.com/checkin?id=5".to_vec()),
        ],
        &[],
    );
    let read = |name: &str| round::read_label(&text(&files, name), &f.site, &f.others, &f.known);
    assert_eq!(read("label"), Ok(fixture::KNOWN[0]));
    assert_eq!(read("label-scanner-newline"), Ok(fixture::KNOWN[1]));
    let refused = |e: LabelError| Err(RoundError::Label(e));
    assert_eq!(
        read("label-other-site"),
        refused(LabelError::OtherSite {
            site: "Neighbour".into()
        })
    );
    assert_eq!(read("label-forged"), refused(LabelError::BadSignature));
    assert_eq!(
        read("label-not-pulled"),
        refused(LabelError::UnknownCheckpoint)
    );
    assert_eq!(read("damaged"), refused(LabelError::Malformed));
    assert_eq!(read("url"), refused(LabelError::NotPatrolLabel));
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn push(ops: Vec<Op>) -> Vec<u8> {
    let request = PushRequest {
        device_id: DeviceId(id(0x3_0001)),
        device_time: at("2026-11-22T09:15:00+08:00"),
        ops,
    };
    let mut value = serde_json::to_value(&request).unwrap();
    // As DESIGN §6 shows it: the phone's local time with its offset.
    value["device_time"] = "2026-11-22T09:15:00+08:00".into();
    let mut json = serde_json::to_vec_pretty(&value).unwrap();
    json.push(b'\n');
    json
}

fn ops(first_seq: u64, bodies: &[OpBody]) -> Vec<Op> {
    bodies
        .iter()
        .zip(first_seq..)
        .map(|(body, seq)| {
            let minutes = i64::try_from(seq).unwrap() * 60;
            let time = at("2026-11-22T09:00:00+08:00") + jiff::SignedDuration::from_secs(minutes);
            Op::new(OpId(id(0x4_0000 + u128::from(seq))), seq, time, body)
        })
        .collect()
}

#[test]
fn push_body_seeds_carry_every_op_kind_and_a_refusal_of_each_sort() {
    let f = fixture::labels();
    let photo = blob::sha256_hex(&photo_jpeg());
    let signature = blob::sha256_hex(&signature_png());
    let run_id = RunId(id(0x5_0001));
    let (visit, by_hand) = (VisitId(id(0x5_0002)), VisitId(id(0x5_0003)));
    let issue_id = IssueId(id(0x6_0001));
    let round = ops(
        41,
        &[
            OpBody::PatrolStart(wire::PatrolStart {
                run_id,
                route_id: RouteId(id(0x5_0010)),
            }),
            OpBody::PatrolVisit(wire::PatrolVisit {
                visit_id: visit,
                run_id,
                checkpoint_id: fixture::KNOWN[0],
                method: VisitMethod::Qr,
                token: Some(labels::sign(f.site.id, fixture::KNOWN[0], &f.key)),
                reason: None,
                flags: Vec::new(),
            }),
            OpBody::PatrolResult(wire::PatrolResult {
                result_id: ResultId(id(0x5_0020)),
                visit_id: visit,
                item_key: "lobby.lighting".into(),
                outcome: Outcome::Ok,
                reading: None,
                note: None,
                photos: Vec::new(),
            }),
            OpBody::PatrolResult(wire::PatrolResult {
                result_id: ResultId(id(0x5_0021)),
                visit_id: visit,
                item_key: "fire.extinguisher_pressure".into(),
                outcome: Outcome::Fault,
                reading: Some(0.62),
                note: Some("压力表指针在红区 / gauge in the red".into()),
                photos: vec![photo.clone()],
            }),
            OpBody::PatrolVisit(wire::PatrolVisit {
                visit_id: by_hand,
                run_id,
                checkpoint_id: fixture::KNOWN[1],
                method: VisitMethod::Manual,
                token: None,
                reason: Some("标签被遮挡 / label covered by a poster".into()),
                flags: vec![ScanFlag::TooFast {
                    from: fixture::KNOWN[0],
                    secs: 12,
                    min_secs: 30,
                }],
            }),
            OpBody::PatrolFinish(wire::PatrolFinish {
                run_id,
                missed: vec![Missed {
                    checkpoint_id: fixture::KNOWN[2],
                    reason: "天台门锁坏 / rooftop door jammed".into(),
                }],
                flags: vec![ScanFlag::RoundTooShort {
                    secs: 240,
                    min_secs: 300,
                }],
            }),
        ],
    );
    let issue = ops(
        47,
        &[
            OpBody::IssueReport(wire::IssueReport {
                issue_id,
                site_id: f.site.id,
                zone_id: Some(ZoneId(id(0x7_0001))),
                checkpoint_id: Some(fixture::KNOWN[0]),
                visit_id: Some(visit),
                item_key: Some("fire.extinguisher_pressure".into()),
                category: Category::Fire,
                severity: Severity::Major,
                title: "5栋大堂灭火器压力不足 / lobby extinguisher low".into(),
                note: Some("需更换 / needs replacing".into()),
                photos: vec![photo.clone()],
                observed_at: at("2026-11-22T09:03:00+08:00"),
                source: Source::Patrol,
                fixed_on_spot: false,
            }),
            OpBody::IssueAssign(wire::IssueAssign {
                issue_id,
                assignee_id: UserId(id(0x8_0001)),
            }),
            OpBody::IssueStart(wire::IssueStart { issue_id }),
            OpBody::IssueResolve(wire::IssueResolve {
                issue_id,
                note: Some("已更换 / replaced".into()),
                photos: vec![photo.clone()],
            }),
            OpBody::IssueVerify(wire::IssueVerify {
                issue_id,
                accepted: true,
                note: None,
                signature: Some(signature),
                photos: Vec::new(),
            }),
            OpBody::ExtensionRequest(wire::ExtensionRequestOp {
                issue_id,
                reason: "等配件 / waiting for a part".into(),
                due_at: at("2026-11-26T18:00:00+08:00"),
            }),
            OpBody::ExtensionDecide(wire::ExtensionDecideOp {
                issue_id,
                approved: true,
                note: None,
            }),
            OpBody::IssueComment(wire::IssueComment {
                issue_id,
                text: "住户已通知 / residents told".into(),
            }),
            OpBody::IssueFollowUp(wire::IssueFollowUp {
                issue_id,
                satisfied: false,
                note: Some("住户说灯还会闪 / the resident says it still flickers".into()),
            }),
            OpBody::AlertAck(wire::AlertAck {
                alert_id: patrol_core::ids::AlertId(id(0xA_0001)),
                note: Some("保安王师傅已到场 / security attended".into()),
            }),
        ],
    );
    let mut refused = ops(
        56,
        &[
            OpBody::IssueComment(wire::IssueComment {
                issue_id,
                text: "x".repeat(bounds::MAX_TEXT_CHARS + 1),
            }),
            OpBody::IssueResolve(wire::IssueResolve {
                issue_id,
                note: None,
                photos: vec!["../../etc/passwd".into()],
            }),
        ],
    );
    // A newer client's kind, and a body that lacks a field of its kind.
    let mut unknown = refused[1].clone();
    unknown.kind = "patrol.teleport".into();
    let mut incomplete = refused[1].clone();
    incomplete.kind = "issue.assign".into();
    refused.extend([unknown, incomplete]);
    let files = committed(
        "push_body",
        vec![
            ("round.json", push(round)),
            ("issue.json", push(issue)),
            ("refused.json", push(refused)),
        ],
        &[],
    );
    let read = |name: &str| serde_json::from_slice::<PushRequest>(&files[name]).unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for name in ["round.json", "issue.json"] {
        for op in read(name).ops {
            let body = op.decode().unwrap();
            assert_eq!(bounds::check_op(&body), Ok(()), "{}", op.kind);
            kinds.insert(body.kind());
        }
    }
    assert_eq!(kinds.len(), OpBody::KINDS.len(), "every kind is seeded");
    let refused = read("refused.json").ops;
    let bound = |op: &Op| bounds::check_op(&op.decode().unwrap()).unwrap_err().code();
    assert_eq!(bound(&refused[0]), "too_long");
    assert_eq!(bound(&refused[1]), "bad_photo_id");
    assert!(matches!(
        refused[2].decode(),
        Err(wire::OpDecodeError::UnknownKind(_))
    ));
    assert!(matches!(
        refused[3].decode(),
        Err(wire::OpDecodeError::InvalidBody { .. })
    ));
    assert!(files.values().all(|f| f.len() < bounds::MAX_PUSH_BYTES));
}

#[test]
fn cursor_seeds_are_what_the_server_hands_out_and_near_misses() {
    let queue = QueueCursor {
        due_at_ms: at("2026-11-25T09:03:00+08:00").as_millisecond(),
        id: IssueId(id(0x6_0001)),
    };
    let before_epoch = QueueCursor {
        due_at_ms: -86_400_000,
        id: IssueId(id(0x6_0002)),
    };
    let files = committed(
        "cursors",
        vec![
            ("pull-start", Vec::new()),
            ("pull-4711", b"4711".to_vec()),
            ("pull-max", i64::MAX.to_string().into_bytes()),
            ("pull-past-max", b"9223372036854775808".to_vec()),
            ("pull-negative", b"-1".to_vec()),
            ("queue", queue.encode().into_bytes()),
            ("queue-before-epoch", before_epoch.encode().into_bytes()),
            ("queue-not-base64", b"page=2&after=x".to_vec()),
        ],
        &[],
    );
    let pull = |name: &str| wire::pull_cursor(Some(&text(&files, name)));
    assert_eq!(pull("pull-start"), Some(0));
    assert_eq!(pull("pull-4711"), Some(4711));
    assert_eq!(pull("pull-max"), Some(i64::MAX));
    assert_eq!(pull("pull-past-max"), None);
    assert_eq!(pull("pull-negative"), None);
    let decode = |name: &str| QueueCursor::decode(&text(&files, name));
    assert_eq!(decode("queue"), Some(queue));
    assert_eq!(decode("queue-before-epoch"), Some(before_epoch));
    assert_eq!(decode("queue-not-base64"), None);
}

/// A small camera-like photo: a colour gradient.
fn photo_jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 120])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A signature as the pad saves it: a dark stroke on white.
fn signature_png() -> Vec<u8> {
    let img = image::GrayImage::from_fn(120, 40, |x, y| {
        let stroke = (i64::from(y) - 20 - (i64::from(x) % 24 - 12) / 2).abs() < 2;
        image::Luma([if stroke { 20 } else { 255 }])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A small real JPEG whose frame header claims 7000×7000: what a decompression bomb looks like.
fn lying_jpeg() -> Vec<u8> {
    let mut b = photo_jpeg();
    let sof = b
        .windows(2)
        .position(|m| m[0] == 0xFF && matches!(m[1], 0xC0 | 0xC2))
        .unwrap();
    b[sof + 5..sof + 7].copy_from_slice(&7000u16.to_be_bytes());
    b[sof + 7..sof + 9].copy_from_slice(&7000u16.to_be_bytes());
    b
}

/// A signature pad's export with a transparent background, in 8-bit RGBA.
fn signature_rgba_png() -> Vec<u8> {
    let img = image::RgbaImage::from_fn(80, 30, |x, y| {
        let stroke = (i64::from(y) - 15 - (i64::from(x) % 20 - 10) / 2).abs() < 2;
        image::Rgba(if stroke {
            [10, 10, 80, 255]
        } else {
            [0, 0, 0, 0]
        })
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A 16-bit greyscale PNG, as a scanner may save one.
fn gray16_png() -> Vec<u8> {
    let img = image::ImageBuffer::<image::Luma<u16>, _>::from_fn(24, 24, |x, y| {
        image::Luma([u16::try_from(x * y * 113).unwrap()])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Seeds the image crate cannot write, made once with Pillow 13 (`progressive=True` with an
/// EXIF orientation of 6; `convert("CMYK")`, which adds Adobe's APP14 marker; a `P`-mode image
/// with `transparency=0`), for the decoders' other paths: progressive scans, four components,
/// palettes.
const MADE_WITH_PILLOW: [&str; 3] = ["progressive-exif.jpg", "cmyk.jpg", "palette.png"];

#[test]
fn blob_seeds_are_accepted_pictures_and_a_bomb_refused_from_its_header() {
    let photo = photo_jpeg();
    let files = committed(
        "blob_check",
        vec![
            ("photo.jpg", photo.clone()),
            ("signature.png", signature_png()),
            ("signature-rgba.png", signature_rgba_png()),
            ("gray16.png", gray16_png()),
            ("lying-7000x7000.jpg", lying_jpeg()),
            ("truncated.jpg", photo[..photo.len() / 2].to_vec()),
        ],
        &MADE_WITH_PILLOW,
    );
    let check = |name: &str| {
        let bytes = &files[name];
        let info = blob::check_upload(bytes, &blob::sha256_hex(bytes))?;
        Ok::<_, PhotoError>((info.kind, info.width, info.height))
    };
    let (jpeg, png) = (BlobKind::Jpeg, BlobKind::Png);
    assert_eq!(check("photo.jpg").unwrap(), (jpeg, 64, 48));
    assert_eq!(check("signature.png").unwrap(), (png, 120, 40));
    assert_eq!(check("signature-rgba.png").unwrap(), (png, 80, 30));
    assert_eq!(check("gray16.png").unwrap(), (png, 24, 24));
    assert_eq!(check("progressive-exif.jpg").unwrap(), (jpeg, 48, 64));
    assert_eq!(check("cmyk.jpg").unwrap(), (jpeg, 48, 64));
    assert_eq!(check("palette.png").unwrap(), (png, 96, 32));
    let has = |name: &str, marker: &[u8]| files[name].windows(marker.len()).any(|w| w == marker);
    assert!(has("progressive-exif.jpg", &[0xFF, 0xC2]) && has("progressive-exif.jpg", b"Exif\0\0"));
    assert!(has("cmyk.jpg", b"Adobe"));
    assert!(has("palette.png", b"PLTE") && has("palette.png", b"tRNS"));
    assert!(matches!(
        check("lying-7000x7000.jpg"),
        Err(PhotoError::EdgeTooLong { edge: 7000, .. })
    ));
    assert!(matches!(check("truncated.jpg"), Err(PhotoError::Truncated)));
    assert!(files.values().all(|f| f.len() < 4096), "seeds stay small");
}

const MINIMAL_SITE: &str = "\
code: gate-only
name: 东门岗
zones:
  - kind: perimeter
    name: 东门
    checkpoints:
      - { key: east-gate, name: 东门岗亭 }
";

/// Routes sharing their times through a YAML anchor, as an office copying a block would write.
const ANCHORED_SITE: &str = "\
code: twin_towers
name: 双子座
time_zone: Asia/Hong_Kong
zones:
  - { kind: lobby, building: A, name: A座大堂, checkpoints: [{ key: a-lobby, name: A座大堂 }] }
  - { kind: lobby, building: B, name: B座大堂, checkpoints: [{ key: b-lobby, name: B座大堂 }] }
routes:
  - { name: A座, times: &shifts [\"07:00\", \"19:00\"], checkpoints: [a-lobby] }
  - { name: B座, times: *shifts, days: [sat, sun], min_walk_secs: 0, checkpoints: [b-lobby] }
";

/// Each of the mistakes that are reported together.
const SITE_WITH_PROBLEMS: &str = "\
code: 翠湖 苑
name: 翠湖苑
time_zone: Asia/Atlantis
zones:
  - { kind: garage, name: 车库, checkpoints: [] }
  - kind: lobby
    name: 大堂
    checkpoints:
      - { key: lobby, name: 大堂 }
      - { key: lobby, name: 大堂侧门 }
routes:
  - { name: 夜巡, times: [], checkpoints: [lobby, lobby, roof] }
";

#[test]
fn site_file_seeds_are_the_example_and_files_that_import_or_are_refused() {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../server/examples/site.yaml"
    ))
    .unwrap();
    let files = committed(
        "site_file",
        vec![
            ("site.yaml", example.clone().into_bytes()),
            ("minimal.yaml", MINIMAL_SITE.into()),
            ("anchors.yaml", ANCHORED_SITE.into()),
            ("problems.yaml", SITE_WITH_PROBLEMS.into()),
        ],
        &[],
    );
    assert_eq!(
        text(&files, "site.yaml"),
        example,
        "the seed is a copy of the example"
    );
    assert_eq!(sitefile::parse(&example).unwrap().checkpoints.len(), 6);
    assert_eq!(
        sitefile::parse(&text(&files, "minimal.yaml"))
            .unwrap()
            .zones
            .len(),
        1
    );
    let anchored = sitefile::parse(&text(&files, "anchors.yaml")).unwrap();
    assert_eq!(
        anchored.routes[1].schedule.times,
        anchored.routes[0].schedule.times
    );
    match sitefile::parse(&text(&files, "problems.yaml")) {
        Err(SiteFileError::Problems(problems)) => assert_eq!(problems.len(), 7, "{problems:#?}"),
        other => panic!("{other:?}"),
    }
}

/// `name version` of every package a lock file pins.
fn locked(path: &str) -> std::collections::BTreeSet<(String, String)> {
    let text =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap();
    let mut pins = std::collections::BTreeSet::new();
    let mut name = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_owned());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            pins.insert((n, v.trim_matches('"').to_owned()));
        }
    }
    pins
}

/// The fuzz crate's lock must hold every package core needs: a dependency added to core and
/// not to tests/fuzz/Cargo.lock fails `scripts/fuzz`'s `--locked` fetch long after the tests.
#[test]
fn the_fuzz_crates_lock_needs_no_update() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/Cargo.toml");
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--locked",
            "--offline",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tests/fuzz/Cargo.lock is out of date (run `cargo +nightly fetch --manifest-path tests/fuzz/Cargo.toml`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_fuzz_crate_builds_core_with_the_workspaces_versions() {
    let workspace = locked("../Cargo.lock");
    let fuzz = locked("fuzz/Cargo.lock");
    let workspace_names: std::collections::BTreeSet<&str> =
        workspace.iter().map(|(n, _)| n.as_str()).collect();
    let differ: Vec<_> = fuzz
        .iter()
        .filter(|(n, _)| workspace_names.contains(n.as_str()))
        .filter(|pin| !workspace.contains(*pin))
        .collect();
    assert!(
        differ.is_empty(),
        "tests/fuzz/Cargo.lock pins other versions than Cargo.lock: {differ:?}; copy Cargo.lock \
         into tests/fuzz/ and run scripts/fuzz to bring it in step"
    );
    // Only the fuzzing harness itself is the fuzz crate's own (`jobserver`, which libFuzzer's
    // build uses, is the workspace's too when one of its crates builds C with `cc`).
    let own: Vec<&str> = fuzz
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !workspace_names.contains(n))
        .collect();
    let harness = ["arbitrary", "jobserver", "libfuzzer-sys", "patrol-fuzz"];
    assert!(
        own.iter().all(|n| harness.contains(n)) && own.contains(&"patrol-fuzz"),
        "the fuzz crate's own dependencies are {own:?}; only the harness {harness:?} may be"
    );
}
