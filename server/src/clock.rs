//! The time the server's background work goes by (escalation, alerts, the monthly archive):
//! the system clock, or — for tests, and only when asked for with `--test-clock FILE` (or
//! `PATROL_TEST_CLOCK`) — the RFC 3339 instant written in a file, read again at every pass, so
//! that a test can say "it is now 08:31 in Shanghai" to a running server and move on later.
//! Requests (sync, sign-in, the console) always use the system clock.

use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;

/// Where background work reads "now".
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// The instant in this file (`2026-12-01T08:31:00+08:00`), re-read at each call.
    File(Arc<PathBuf>),
}

impl Clock {
    /// The clock of a file, as `--test-clock` names it.
    pub fn file(path: PathBuf) -> Clock {
        Clock::File(Arc::new(path))
    }

    /// Now. A test clock file that cannot be read or does not hold an instant is said in the
    /// log, and the system clock is used for that pass.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::File(path) => match read(path) {
                Ok(t) => t,
                Err(why) => {
                    tracing::error!(file = %path.display(), %why, "test clock unreadable; using the system clock");
                    Timestamp::now()
                }
            },
        }
    }
}

fn read(path: &std::path::Path) -> Result<Timestamp, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    text.trim()
        .parse::<Timestamp>()
        .map_err(|e| format!("not an RFC 3339 instant: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_clock_reads_its_file_at_every_call() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("now");
        std::fs::write(&path, "2026-12-01T08:31:00+08:00\n").unwrap();
        let clock = Clock::file(path.clone());
        assert_eq!(
            clock.now(),
            "2026-12-01T00:31:00Z".parse::<Timestamp>().unwrap()
        );
        std::fs::write(&path, "2026-12-01T08:45:00+08:00").unwrap();
        assert_eq!(
            clock.now(),
            "2026-12-01T00:45:00Z".parse::<Timestamp>().unwrap()
        );
        // A broken file falls back to the system clock rather than stopping the work.
        std::fs::write(&path, "tomorrow").unwrap();
        let before = Timestamp::now();
        assert!(clock.now() >= before);
    }
}
