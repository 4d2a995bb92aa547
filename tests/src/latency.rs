//! Latencies recorded from many threads into one HDR histogram (microseconds, three significant
//! digits), read as p50 / p90 / p99 / max.

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

/// One kind of latency (pushes, whole syncs…), shared between threads.
#[derive(Debug)]
pub struct Latency(Mutex<Histogram<u64>>);

impl Default for Latency {
    fn default() -> Latency {
        // 1 µs to 10 minutes: anything longer is clamped to the top (a request that slow has
        // timed out long before).
        let h = Histogram::new_with_bounds(1, 600_000_000, 3)
            .unwrap_or_else(|e| panic!("histogram bounds: {e}"));
        Latency(Mutex::new(h))
    }
}

impl Latency {
    /// Record one.
    pub fn record(&self, d: Duration) {
        let us = (d.as_micros() as u64).clamp(1, 600_000_000);
        if let Ok(mut h) = self.0.lock() {
            h.saturating_record(us);
        }
    }

    /// What has been recorded so far.
    pub fn summary(&self) -> Percentiles {
        let Ok(h) = self.0.lock() else {
            return Percentiles::default();
        };
        if h.is_empty() {
            return Percentiles::default();
        }
        let at = |q: f64| Duration::from_micros(h.value_at_quantile(q));
        Percentiles {
            count: h.len(),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: Duration::from_micros(h.max()),
        }
    }
}

/// Percentiles of a [`Latency`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Percentiles {
    /// How many were recorded.
    pub count: u64,
    /// The median.
    pub p50: Duration,
    /// The 90th percentile.
    pub p90: Duration,
    /// The 99th percentile.
    pub p99: Duration,
    /// The slowest.
    pub max: Duration,
}

/// The median of some figures (the mean of the middle two when even) and their range:
/// `(median, lowest, highest)`; zeros when there are none.
pub fn median(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let (Some(lo), Some(hi)) = (v.first().copied(), v.last().copied()) else {
        return (0.0, 0.0, 0.0);
    };
    let mid = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    (mid, lo, hi)
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.0}")
    }
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={} p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
            self.count,
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_hundred_latencies() {
        let l = Latency::default();
        for i in 1..=100 {
            l.record(Duration::from_millis(i));
        }
        let p = l.summary();
        assert_eq!(p.count, 100);
        assert!(p.p50.abs_diff(Duration::from_millis(50)) < Duration::from_millis(1));
        assert!(p.p99.abs_diff(Duration::from_millis(99)) < Duration::from_millis(1));
        assert!(p.max.abs_diff(Duration::from_millis(100)) < Duration::from_millis(1));
        assert_eq!(Latency::default().summary(), Percentiles::default());
    }

    #[test]
    fn a_median_and_its_range() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), (2.0, 1.0, 3.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), (2.5, 1.0, 4.0));
        assert_eq!(median(&[]), (0.0, 0.0, 0.0));
    }
}
