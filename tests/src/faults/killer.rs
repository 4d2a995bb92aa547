//! Kills the server with SIGKILL at random moments and starts it again on the same data folder
//! and database. While it is down the proxy has no upstream and answers 502.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Rng;
use super::proxy::FaultProxy;
use crate::Server;

/// The killer at work; [`Killer::stop`] leaves the server up.
pub struct Killer {
    stop: Arc<AtomicBool>,
    kills: Arc<AtomicU64>,
    thread: JoinHandle<()>,
}

/// Sleep up to `d`, waking early when `stop` is set; whether it was.
fn nap(d: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.load(Ordering::Relaxed)
}

impl Killer {
    /// Kill the server every `every.0`..`every.1` (uniformly at random), keep it down up to
    /// `down`, and start it again.
    pub fn start(
        server: Arc<Mutex<Server>>,
        proxy: Arc<FaultProxy>,
        seed: u64,
        every: (Duration, Duration),
        down: Duration,
    ) -> Killer {
        let stop = Arc::new(AtomicBool::new(false));
        let kills = Arc::new(AtomicU64::new(0));
        let (stop_k, kills_k) = (stop.clone(), kills.clone());
        let thread = std::thread::spawn(move || {
            let mut rng = Rng::new(seed);
            let span = every.1.saturating_sub(every.0).as_millis() as u64;
            loop {
                let wait = every.0 + Duration::from_millis(rng.below(span.max(1)));
                if nap(wait, &stop_k) {
                    return;
                }
                let mut s = server
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                proxy.set_upstream(None);
                s.kill();
                kills_k.fetch_add(1, Ordering::Relaxed);
                // Down for a while (not interruptible: the server comes back either way).
                std::thread::sleep(Duration::from_millis(
                    rng.below(down.as_millis().max(1) as u64),
                ));
                s.restart();
                proxy.set_upstream(Some(&s.base_url));
            }
        });
        Killer {
            stop,
            kills,
            thread,
        }
    }

    /// Kills so far.
    pub fn kills(&self) -> u64 {
        self.kills.load(Ordering::Relaxed)
    }

    /// Stop killing; the server is up afterwards. Returns the kills, or why the server did
    /// not come back.
    pub fn stop(self) -> Result<u64, String> {
        self.stop.store(true, Ordering::Relaxed);
        let kills = self.kills();
        self.thread.join().map_err(|p| {
            format!(
                "the server did not come back after kill {kills}: {}",
                super::panic_text(&p)
            )
        })?;
        Ok(kills)
    }
}
