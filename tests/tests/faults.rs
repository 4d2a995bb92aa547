//! The fault-injection harness, bounded: ten phones — the real engine and sync client, each
//! with its own database — walk rounds, report, assign, fix, verify and decide extensions for
//! forty seconds against the real server through a proxy that drops requests, drops answers
//! after the server committed, delivers twice, delays, reorders and cuts uploads, while the
//! server is SIGKILLed every few seconds and started again. Then the faults stop, every outbox
//! drains, and the server must hold exactly what the phones made: nothing lost, nothing twice,
//! every issue in its team's queue once, every phone showing what the server holds. Once on
//! SQLite and once on PostgreSQL. `PATROL_FAULT_SEED` replays a run; `scripts/faults` is the
//! long version.

use patrol_e2e::Backend;
use patrol_e2e::faults::proxy::FaultKind;
use patrol_e2e::faults::{FaultRun, run, seed_from_env};

fn storm(backend: Backend) {
    let seed = seed_from_env();
    eprintln!("fault run seed {seed} (PATROL_FAULT_SEED={seed} replays it)");
    let summary = run(&FaultRun::bounded(backend, seed));
    eprintln!("{summary}");
    assert!(summary.clean(), "{summary}");
    let f = &summary.findings;
    assert_eq!((f.lost, f.duplicated, f.misrouted), (0, 0, 0), "{summary}");
    // A run that met no storm proves nothing.
    for kind in FaultKind::ALL {
        assert!(
            summary.proxy.of(kind) > 0,
            "no {} fault injected: {summary}",
            kind.name()
        );
    }
    assert!(summary.kills >= 3, "{summary}");
    assert!(f.ops >= 300 && f.reported >= 5 && f.runs >= 3, "{summary}");
    assert!(
        summary.answered_in_storm * 2 >= f.ops,
        "most ops must go up through the faults, not in the drain: {summary}"
    );
}

#[test]
fn phones_through_a_storm_leave_exactly_their_ops_on_sqlite() {
    storm(Backend::Sqlite);
}

#[test]
fn phones_through_a_storm_leave_exactly_their_ops_on_postgres() {
    let Some(backend) = Backend::postgres() else {
        eprintln!("PATROL_TEST_DATABASE_URL is not set: the PostgreSQL storm is left to CI");
        return;
    };
    storm(backend);
}
