//! Device engine benchmarks, each as a ratio to a baseline measured in the same run, at 1×, 10×
//! and 100× the data (BENCHMARKS.md has the figures):
//!
//! 1. One recorded checklist answer (its checks, the result row and its outbox op in one
//!    transaction, WAL, synchronous=FULL) against a bare rusqlite insert with the same
//!    durability settings, into databases that already hold 1,000, 10,000 and 100,000 answers
//!    (the bare table as many rows).
//! 2. The photo pipeline on 12-megapixel camera JPEGs (orientation, strip, DCT-scaled decode,
//!    resize to 1600 px, the 320 px thumbnail from that, encode) against `vipsthumbnail`
//!    (Debian's libvips-tools) on the same files: making the 1600 px JPEG alone (the strict
//!    baseline), and the 1600 px JPEG then the 320 px one from it (the same outputs as ours).
//!    One photo, then ten in sequence (one `vipsthumbnail` process for all ten).
//!
//! The label rate (QR, signing, the printed PDF sheet) is measured in the server, which prints
//! the sheets: `./scripts/bench labels`.
//!
//! Run with `./scripts/bench [answer|photo]` (installs libvips-tools if missing). The machines
//! here are noisy: every figure is the median of several runs, each the median of rounds that
//! interleave ours and the baseline, so drift in load hits both alike; compare the ratios.
//! `PATROL_BENCH_RUNS` sets the number of runs (default 5).

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use std::path::{Path, PathBuf};
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

fn median_f(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// One figure over several runs: ours and the baseline per run (medians of its rounds).
#[derive(Default)]
struct Figure {
    ours: Vec<Duration>,
    base: Vec<Duration>,
}

impl Figure {
    fn push(&mut self, ours: Duration, base: Duration) {
        self.ours.push(ours);
        self.base.push(base);
    }

    fn report(&self, what: &str, ours: &str, base: &str) {
        let ratios: Vec<f64> = self
            .ours
            .iter()
            .zip(&self.base)
            .map(|(o, b)| o.as_secs_f64() / b.as_secs_f64())
            .collect();
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(0.0, f64::max);
        println!(
            "{what:<28} {ours} {:>9.1?}  {base} {:>9.1?}  ratio {:.2} (runs {}: {lo:.2}–{hi:.2})",
            median(self.ours.clone()),
            median(self.base.clone()),
            median_f(ratios.clone()),
            ratios.len(),
        );
    }
}

fn runs() -> usize {
    std::env::var("PATROL_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(5)
}

/// Answers already in the engine's database at 1×.
const ANSWERS_1X: u32 = 1_000;

/// A device that has walked rounds for a while: `n` answers (checklist results and their
/// acknowledged outbox ops) on `n / 5` visits of `n / 50` finished rounds, copied from a real
/// round's rows so they are what the engine writes.
fn fill_engine(db: &Path, n: u32) {
    let c = rusqlite::Connection::open(db).expect("open engine db");
    c.busy_timeout(Duration::from_secs(10)).expect("busy");
    c.execute_batch(&format!(
        "BEGIN;
         CREATE TEMP TABLE n AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
             WHERE i < {n}) SELECT i FROM n;
         INSERT INTO runs (id, route_id, site_id, patroller_id, started_at_ms, finished, data)
             SELECT printf('fill-run-%d', i), route_id, site_id, patroller_id,
                    started_at_ms - i * 3600000, 1, data
             FROM temp.n, (SELECT * FROM runs LIMIT 1) WHERE i % 50 = 0;
         INSERT INTO visits (id, run_id, checkpoint_id, at_ms, data)
             SELECT printf('fill-visit-%d', i), printf('fill-run-%d', ((i - 1) / 50 + 1) * 50),
                    checkpoint_id, at_ms - i * 60000, data
             FROM temp.n, (SELECT * FROM visits LIMIT 1) WHERE i % 5 = 0;
         INSERT INTO results (id, visit_id, item_key, answered, outcome, data)
             SELECT printf('fill-result-%d', i), printf('fill-visit-%d', ((i - 1) / 5 + 1) * 5),
                    printf('item-%d', i % 5), i, outcome, data
             FROM temp.n, (SELECT * FROM results LIMIT 1);
         INSERT INTO outbox (seq, op_id, kind, at, body, state)
             SELECT (SELECT MAX(seq) FROM outbox) + i, printf('fill-op-%d', i), kind, at, body,
                    'acked'
             FROM temp.n, (SELECT * FROM outbox WHERE kind = 'patrol.result' LIMIT 1);
         COMMIT;"
    ))
    .expect("fill engine db");
}

fn answer_scale(dir: &Path, scale: u32, runs: usize) -> Figure {
    let n = ANSWERS_1X * scale;
    let dir = dir.join(format!("answers-{scale}x"));
    std::fs::create_dir_all(&dir).expect("dir");
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
    let answer = |i: usize, note: String| {
        let item = &items[i % items.len()];
        engine
            .answer(
                scan.visit_id,
                &item.key,
                Answer {
                    outcome: Some(Outcome::Ok),
                    note: Some(note),
                    ..Answer::default()
                },
            )
            .expect("answer");
    };
    answer(0, "首次".to_owned());
    fill_engine(&dir.join("bench.db"), n);

    let bare = rusqlite::Connection::open(dir.join("bare.db")).expect("bare db");
    bare.pragma_update(None, "journal_mode", "WAL")
        .expect("wal");
    bare.pragma_update(None, "synchronous", "FULL")
        .expect("sync");
    bare.execute_batch(&format!(
        "CREATE TABLE t (id TEXT PRIMARY KEY, data TEXT NOT NULL);
         BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
             INSERT INTO t (id, data) SELECT printf('fill-%d', i), '{{\"outcome\":\"ok\",\"note\":\"x\"}}' FROM n;
         COMMIT;"
    ))
    .expect("bare table");

    const BATCH: u32 = 50;
    let mut figure = Figure::default();
    let mut k = 0u64;
    for run in 0..runs {
        let (mut ours, mut base) = (Vec::new(), Vec::new());
        for round in 0..7u32 {
            // Interleave the two so drift in machine load hits both alike.
            let t = Instant::now();
            for i in 0..BATCH {
                answer(i as usize, format!("第{run}次第{round}轮"));
            }
            ours.push(t.elapsed() / BATCH);
            let t = Instant::now();
            for _ in 0..BATCH {
                k += 1;
                bare.execute(
                    "INSERT INTO t (id, data) VALUES (?1, ?2)",
                    (format!("{k}"), r#"{"outcome":"ok","note":"x"}"#),
                )
                .expect("insert");
            }
            base.push(t.elapsed() / BATCH);
        }
        figure.push(median(ours), median(base));
    }
    figure
}

/// A camera-like 4000 × 3000 JPEG: detail and noise everywhere, as a sensor gives, so the
/// encoder and decoder do real work. `seed` makes each one different.
fn camera_jpeg(path: &Path, seed: u32) {
    let mut state: u32 = 12345 + seed * 7919;
    let img = image::RgbImage::from_fn(4000, 3000, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (state & 31) as u8;
        let base = ((x / 7 + y / 5 + seed) % 200) as u8;
        image::Rgb([
            base.wrapping_add(n),
            (y % 256) as u8 ^ n,
            ((x * y) % 251) as u8,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    std::fs::write(path, out.into_inner()).expect("write test photo");
}

/// `vipsthumbnail` on `inputs`, all in one process, writing `<name>.<suffix>.jpg` beside each.
fn vips(inputs: &[PathBuf], size: u32, quality: u8, suffix: &str) -> Option<Duration> {
    let t = Instant::now();
    let status = Command::new("vipsthumbnail")
        .args(inputs)
        .args(["--size", &size.to_string()])
        .arg("-o")
        .arg(format!("%s.{suffix}.jpg[Q={quality},strip]"))
        .status();
    match status {
        Ok(s) if s.success() => Some(t.elapsed()),
        _ => None,
    }
}

/// Where `vips(_, _, _, suffix)` wrote its output for `input`.
fn vips_output(input: &Path, suffix: &str) -> PathBuf {
    let stem = input
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("file stem");
    input.with_file_name(format!("{stem}.{suffix}.jpg"))
}

struct PhotoFigures {
    strict: Figure,
    same_outputs: Figure,
}

fn photo_scale(inputs: &[PathBuf], runs: usize) -> Option<PhotoFigures> {
    let big: Vec<PathBuf> = inputs.iter().map(|p| vips_output(p, "big")).collect();
    // Warm the page cache and the library.
    vips(inputs, 1600, 80, "big")?;
    let mut figures = PhotoFigures {
        strict: Figure::default(),
        same_outputs: Figure::default(),
    };
    for _ in 0..runs {
        let (mut ours, mut strict, mut same) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            let t = Instant::now();
            for input in inputs {
                let photo = patrol_core::photo::normalise(&std::fs::read(input).expect("read"))
                    .expect("normalise");
                assert_eq!(photo.width.max(photo.height), 1600);
            }
            ours.push(t.elapsed());
            let one = vips(inputs, 1600, 80, "big")?;
            strict.push(one);
            same.push(one + vips(&big, 320, 75, "thumb")?);
        }
        let ours = median(ours);
        figures.strict.push(ours, median(strict));
        figures.same_outputs.push(ours, median(same));
    }
    Some(figures)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument picks one benchmark.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let runs = runs();
    let dir = tempfile::tempdir().expect("temp dir");
    println!("device benchmarks: medians of {runs} runs, ratio = ours / baseline");
    if wanted("answer") {
        for scale in [1, 10, 100] {
            let figure = answer_scale(dir.path(), scale, runs);
            figure.report(
                &format!("answer, {} in db", ANSWERS_1X * scale),
                "recorded answer",
                "bare insert",
            );
        }
    }
    if wanted("photo") {
        let inputs: Vec<PathBuf> = (0..10)
            .map(|i| {
                let p = dir.path().join(format!("camera-{i}.jpg"));
                camera_jpeg(&p, i);
                p
            })
            .collect();
        let size = std::fs::metadata(&inputs[0]).map_or(0, |m| m.len());
        println!("  (each input 4000 × 3000, {:.1} MB)", size as f64 / 1e6);
        for count in [1, 10] {
            match photo_scale(&inputs[..count], runs) {
                Some(f) => {
                    f.strict
                        .report(&format!("photo ×{count}"), "normalise", "vips 1600");
                    f.same_outputs
                        .report(&format!("photo ×{count}"), "normalise", "vips 1600+320");
                }
                None => println!(
                    "photo: vipsthumbnail not found; run ./scripts/bench, which installs libvips-tools"
                ),
            }
        }
    }
}
