//! The field simulator, bounded, as the test command runs it: eight phones over two generated
//! sites (imported with `site import`, people added with `user add`) at work for 25 seconds
//! — rounds with answers, faults with photos, reports, jobs, assignments, sign-offs — through a
//! round-robin proxy in front of THREE server processes on one PostgreSQL database sharing one
//! S3 bucket for photos, on moto's S3-compatible server (one process on SQLite when no
//! PostgreSQL is given). Correctness only, never
//! speed: every op acknowledged once, nothing lost, duplicated or misrouted, the evidence
//! verifies, and every process served requests. `PATROL_FAULT_SEED` replays the workload.

use std::time::Duration;

use patrol_e2e::Backend;
use patrol_e2e::fieldsim::{FieldSim, Servers, run};

fn field_day(servers: Servers, processes: usize) {
    let mut cfg = FieldSim::new(8, 2, Duration::from_secs(25), servers);
    // The processes share what several machines would: one database and one S3 bucket.
    cfg.s3 = true;
    eprintln!(
        "fieldsim seed {} (PATROL_FAULT_SEED={} replays it)",
        cfg.seed, cfg.seed
    );
    let report = run(&cfg);
    eprintln!("{report}");
    assert!(report.clean(), "{report}");
    let f = &report.findings;
    assert_eq!((f.lost, f.duplicated, f.misrouted), (0, 0, 0), "{report}");
    assert_eq!(
        f.applied + f.refused_in_races,
        f.ops,
        "every op acknowledged once: {report}"
    );
    assert!(report.evidence.starts_with("verified"), "{report}");
    assert_eq!(report.processes, processes, "{report}");
    assert_eq!(report.proxy.per_upstream.len(), processes, "{report}");
    assert!(
        report.proxy.per_upstream.iter().all(|n| *n > 0),
        "every process must have served requests: {report}"
    );
    // A run in which nothing happened proves nothing.
    assert!(
        f.ops >= 100 && f.runs >= 2 && f.reported >= 1 && report.photos >= 1,
        "{report}"
    );
}

#[test]
fn an_estate_at_work_on_three_server_processes_loses_nothing() {
    match Backend::postgres() {
        Some(Backend::Postgres(url)) => field_day(
            Servers::Start {
                processes: 3,
                postgres: Some(url),
            },
            3,
        ),
        _ => {
            eprintln!("PATROL_TEST_DATABASE_URL is not set: one process on SQLite");
            field_day(
                Servers::Start {
                    processes: 1,
                    postgres: None,
                },
                1,
            );
        }
    }
}
