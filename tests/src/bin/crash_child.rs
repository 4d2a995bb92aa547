//! The crash test's worker: walks rounds on the device engine as fast as it can, with photos,
//! faults and reports — a fault's photo, sometimes a second one, a report with the fault's
//! photos and sometimes a wider shot, and problems seen on the way reported on their own with
//! photos of their own — until the test kills it with SIGKILL. It is not a tool for people.
//!
//! Usage: patrol-crash-child <database path> <seed>

use std::process::ExitCode;

use patrol_core::checklist::{Answer, ItemKind};
use patrol_core::engine::{Engine, ReportDraft};
use patrol_core::issue::{Category, Source};
use patrol_core::patrol::{Missed, Outcome};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(db), Some(seed)) = (args.next(), args.next()) else {
        eprintln!("usage: patrol-crash-child <database path> <seed>");
        return ExitCode::from(2);
    };
    let seed: u64 = seed.parse().unwrap_or(1);
    match walk_forever(std::path::Path::new(&db), seed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash child: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A tiny deterministic generator; the test needs variety, not quality.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn chance(&mut self, one_in: u64) -> bool {
        // The high half: xorshift's low bits follow each other from one draw to the next (with
        // them a fault was hardly ever followed by a second photo).
        (self.next() >> 32).is_multiple_of(one_in)
    }
}

fn photo(rng: &mut Rng) -> Vec<u8> {
    let tint = rng.next();
    let img = image::RgbImage::from_fn(320, 240, |x, y| {
        image::Rgb([
            (x as u64 ^ tint) as u8,
            (y as u64 + tint) as u8,
            (tint >> 8) as u8,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    // Encoding a picture this small cannot fail; an empty photo would be refused anyway.
    let _ = img.write_to(&mut out, image::ImageFormat::Jpeg);
    out.into_inner()
}

fn walk_forever(db: &std::path::Path, seed: u64) -> patrol_core::Result<()> {
    let engine = Engine::open(db)?;
    let mut rng = Rng(seed.max(1));
    let routes = engine.routes()?;
    loop {
        let route = &routes[(rng.next() % routes.len() as u64) as usize];
        let run = match engine.start_round(route.id) {
            Ok(run) => run,
            Err(patrol_core::Error::Flow(patrol_core::engine::FlowError::RoundUnderWay {
                run_id,
            })) => run_id,
            Err(e) => return Err(e),
        };
        let progress = engine.progress(run)?;
        let mut missed = Vec::new();
        for cp in progress.remaining {
            if rng.chance(7) {
                missed.push(Missed {
                    checkpoint_id: cp.id,
                    reason: "门禁故障无法进入".into(),
                });
                continue;
            }
            // A problem seen on the way there, not on any checklist: reported on its own.
            if rng.chance(3) {
                // A close-up and a wider shot.
                let photos = (0..2)
                    .map(|_| engine.add_photo(&photo(&mut rng)))
                    .collect::<patrol_core::Result<Vec<_>>>()?;
                engine.report(ReportDraft {
                    site_id: Some(cp.site_id),
                    visit_id: None,
                    item_key: None,
                    zone_id: Some(cp.zone_id),
                    category: Some(Category::Facility),
                    severity: None,
                    title: format!("{}附近：楼道灯不亮", cp.name),
                    note: Some("巡查途中发现".into()),
                    photos,
                    fixed_on_spot: false,
                    source: Source::Patrol,
                })?;
            }
            let scan = engine.scan(run, &cp.qr_token)?;
            for item in &scan.template.items {
                let fault = rng.chance(6);
                let mut answer = match &item.kind {
                    ItemKind::Reading { normal_min, .. } => Answer {
                        reading: Some(normal_min.unwrap_or(0.0) + if fault { 5.0 } else { 0.0 }),
                        ..Answer::default()
                    },
                    ItemKind::Text => Answer {
                        note: Some("正常".into()),
                        ..Answer::default()
                    },
                    ItemKind::Check => Answer {
                        outcome: Some(if fault { Outcome::Fault } else { Outcome::Ok }),
                        ..Answer::default()
                    },
                };
                if fault {
                    answer.photos = vec![engine.add_photo(&photo(&mut rng))?];
                    if rng.chance(2) {
                        answer.photos.push(engine.add_photo(&photo(&mut rng))?);
                    }
                }
                let mut photos = answer.photos.clone();
                engine.answer(scan.visit_id, &item.key, answer)?;
                if fault && rng.chance(2) {
                    if rng.chance(2) {
                        photos.push(engine.add_photo(&photo(&mut rng))?);
                    }
                    engine.report(ReportDraft {
                        site_id: None,
                        visit_id: Some(scan.visit_id),
                        item_key: Some(item.key.clone()),
                        zone_id: None,
                        category: None,
                        severity: None,
                        title: format!("{}：{}", cp.name, item.text.zh),
                        note: None,
                        photos,
                        fixed_on_spot: rng.chance(4),
                        source: Source::Patrol,
                    })?;
                }
            }
        }
        engine.finish_round(run, missed)?;
    }
}
