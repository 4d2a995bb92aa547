//! Device engine benchmarks, each as a ratio to a baseline measured in the same run:
//!
//! 1. One recorded checklist answer (the result row and its outbox op in one transaction,
//!    WAL, synchronous=FULL) against a bare rusqlite insert with the same durability settings.
//! 2. The photo pipeline on a 12-megapixel camera JPEG (orientation, strip, resize to 1600 px
//!    and 320 px, encode) against `vipsthumbnail` (Debian's libvips-tools) making the 1600 px
//!    JPEG from the same file.
//!
//! Run with `./scripts/bench` (installs libvips-tools if missing). Machines here are noisy:
//! the figures are medians, and the ratios are what to compare.

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use patrol_core::checklist::{Answer, ItemKind};
use patrol_core::engine::Engine;
use patrol_core::labels::SiteKey;
use patrol_core::patrol::Outcome;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn per_op(total: Duration, n: u32) -> Duration {
    total / n
}

fn answer_bench(dir: &Path) -> (Duration, Duration) {
    let engine = Engine::open(&dir.join("bench.db")).expect("open engine");
    let estate = patrol_core::demo::estate("demo", "阳光花园", &SiteKey::generate().expect("key"));
    engine
        .apply_pull(&estate.reference_changes(), "1")
        .expect("pull");
    let u = estate.user("demo-patrol").expect("demo patroller");
    engine.set_session(&u.into()).expect("session");
    let route = &estate.routes[0];
    let run = engine.start_round(route.id).expect("start");
    let cp = estate
        .checkpoints
        .iter()
        .find(|c| c.id == route.checkpoint_ids[0])
        .expect("checkpoint");
    let scan = engine.scan(run, &cp.qr_token).expect("scan");
    let items: Vec<_> = scan
        .template
        .items
        .iter()
        .filter(|i| matches!(i.kind, ItemKind::Check))
        .cloned()
        .collect();

    let bare = rusqlite::Connection::open(dir.join("bare.db")).expect("bare db");
    bare.pragma_update(None, "journal_mode", "WAL")
        .expect("wal");
    bare.pragma_update(None, "synchronous", "FULL")
        .expect("sync");
    bare.execute_batch("CREATE TABLE t (id TEXT PRIMARY KEY, data TEXT NOT NULL)")
        .expect("table");

    const BATCH: u32 = 50;
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for round in 0..9u32 {
        // Interleave the two so drift in machine load hits both alike.
        let t = Instant::now();
        for i in 0..BATCH {
            let item = &items[(i as usize) % items.len()];
            engine
                .answer(
                    scan.visit_id,
                    &item.key,
                    Answer {
                        outcome: Some(Outcome::Ok),
                        note: Some(format!("第{round}轮")),
                        ..Answer::default()
                    },
                )
                .expect("answer");
        }
        ours.push(per_op(t.elapsed(), BATCH));
        let t = Instant::now();
        for i in 0..BATCH {
            bare.execute(
                "INSERT INTO t (id, data) VALUES (?1, ?2)",
                (format!("{round}-{i}"), r#"{"outcome":"ok","note":"x"}"#),
            )
            .expect("insert");
        }
        base.push(per_op(t.elapsed(), BATCH));
    }
    (median(ours), median(base))
}

/// A camera-like 4000 × 3000 JPEG: detail and noise everywhere, as a sensor gives, so the
/// encoder and decoder do real work.
fn camera_jpeg(path: &Path) -> Vec<u8> {
    let mut state: u32 = 12345;
    let img = image::RgbImage::from_fn(4000, 3000, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (state & 31) as u8;
        let base = ((x / 7 + y / 5) % 200) as u8;
        image::Rgb([
            base.wrapping_add(n),
            (y % 256) as u8 ^ n,
            ((x * y) % 251) as u8,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    let bytes = out.into_inner();
    std::fs::write(path, &bytes).expect("write test photo");
    bytes
}

fn photo_bench(dir: &Path) -> Option<(Duration, Duration)> {
    let input = dir.join("camera.jpg");
    let bytes = camera_jpeg(&input);
    let out = dir.join("vips.jpg");
    let vips = |_: ()| {
        let t = Instant::now();
        let status = Command::new("vipsthumbnail")
            .arg(&input)
            .args(["--size", "1600"])
            .arg("-o")
            .arg(format!("{}[Q=80,strip]", out.display()))
            .status();
        match status {
            Ok(s) if s.success() => Some(t.elapsed()),
            _ => None,
        }
    };
    vips(())?; // warm the page cache and the library
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let t = Instant::now();
        let photo = patrol_core::photo::normalise(&std::fs::read(&input).expect("read"))
            .expect("normalise");
        ours.push(t.elapsed());
        assert_eq!(photo.width.max(photo.height), 1600);
        base.push(vips(())?);
    }
    eprintln!("  (input {:.1} MB)", bytes.len() as f64 / 1e6);
    Some((median(ours), median(base)))
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let dir = tempfile::tempdir().expect("temp dir");
    println!("device engine benchmarks (medians)");
    let (ours, base) = answer_bench(dir.path());
    println!(
        "answer: {:>9.1?} per recorded answer vs {:>9.1?} per bare insert  -> ratio {:.2}",
        ours,
        base,
        ours.as_secs_f64() / base.as_secs_f64()
    );
    match photo_bench(dir.path()) {
        Some((ours, base)) => println!(
            "photo:  {:>9.1?} per 12 MP normalise   vs {:>9.1?} vipsthumbnail  -> ratio {:.2}",
            ours,
            base,
            ours.as_secs_f64() / base.as_secs_f64()
        ),
        None => println!(
            "photo:  vipsthumbnail not found; run ./scripts/bench, which installs libvips-tools"
        ),
    }
}
