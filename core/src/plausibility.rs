//! Flags for scans that a person could not plausibly have made by walking (DESIGN.md §4). Flags
//! travel with the records and show on the supervisor's view; they never block the guard.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::CheckpointId;
use crate::route::Route;
use crate::text::Text;

/// Something implausible about a scan or a round.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "flag", rename_all = "snake_case")]
pub enum ScanFlag {
    /// Reached from the previous checkpoint faster than the route's shortest walk.
    TooFast {
        /// The checkpoint scanned before.
        from: CheckpointId,
        /// Seconds it took.
        secs: u32,
        /// Seconds the walk takes at least.
        min_secs: u32,
    },
    /// The same label scanned again within a minute.
    RepeatScan {
        /// Seconds since the previous scan of it.
        secs: u32,
    },
    /// The round finished faster than its minimum time.
    RoundTooShort {
        /// Seconds the round took.
        secs: u32,
        /// Seconds it takes at least.
        min_secs: u32,
    },
}

impl ScanFlag {
    /// What it says, for people: the kind and its numbers.
    pub fn label(&self) -> Text {
        match self {
            ScanFlag::TooFast { secs, min_secs, .. } => Text::new(
                format!("到点过快（{secs} 秒，至少 {min_secs} 秒）"),
                format!("too fast ({secs} s, at least {min_secs} s)"),
            ),
            ScanFlag::RepeatScan { secs } => Text::new(
                format!("重复扫码（间隔 {secs} 秒）"),
                format!("scanned again after {secs} s"),
            ),
            ScanFlag::RoundTooShort { secs, min_secs } => Text::new(
                format!("巡查用时过短（{secs} 秒，至少 {min_secs} 秒）"),
                format!("round too short ({secs} s, at least {min_secs} s)"),
            ),
        }
    }
}

/// A label scanned again within this many seconds is flagged.
pub const REPEAT_WINDOW_SECS: u32 = 60;

fn secs_between(from: Timestamp, to: Timestamp) -> i64 {
    from.duration_until(to).as_secs()
}

fn clamp_secs(s: i64) -> u32 {
    u32::try_from(s.max(0)).unwrap_or(u32::MAX)
}

/// Flags for a scan of `checkpoint` at `at`, given the round's earlier scans in order. The
/// shortest plausible walk between two checkpoints is the route's `min_walk_secs` for each
/// step between them in walking order (a checkpoint off the route counts as one step). A clock
/// that went backwards counts as too fast.
pub fn check_scan(
    route: &Route,
    earlier: &[(CheckpointId, Timestamp)],
    checkpoint: CheckpointId,
    at: Timestamp,
) -> Vec<ScanFlag> {
    let mut flags = Vec::new();
    if let Some(&(prev, prev_at)) = earlier.last()
        && prev != checkpoint
    {
        let steps = match (route.position(prev), route.position(checkpoint)) {
            (Some(a), Some(b)) => a.abs_diff(b).max(1),
            _ => 1,
        };
        let min_secs = route
            .min_walk_secs
            .saturating_mul(u32::try_from(steps).unwrap_or(u32::MAX));
        let took = secs_between(prev_at, at);
        if took < i64::from(min_secs) {
            flags.push(ScanFlag::TooFast {
                from: prev,
                secs: clamp_secs(took),
                min_secs,
            });
        }
    }
    if let Some(&(_, last_at)) = earlier.iter().rev().find(|(c, _)| *c == checkpoint) {
        let since = secs_between(last_at, at);
        if since < i64::from(REPEAT_WINDOW_SECS) {
            flags.push(ScanFlag::RepeatScan {
                secs: clamp_secs(since),
            });
        }
    }
    flags
}

/// Flags for a round that started at `started` and finished at `finished`.
pub fn check_round(route: &Route, started: Timestamp, finished: Timestamp) -> Vec<ScanFlag> {
    let took = secs_between(started, finished);
    if route.min_round_secs > 0 && took < i64::from(route.min_round_secs) {
        vec![ScanFlag::RoundTooShort {
            secs: clamp_secs(took),
            min_secs: route.min_round_secs,
        }]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::*;
    use crate::ids::{RouteId, SiteId};
    use crate::route::Schedule;

    fn route(n: usize) -> Route {
        Route {
            id: RouteId::new(),
            site_id: SiteId::new(),
            name: "r".into(),
            checkpoint_ids: (0..n).map(|_| CheckpointId::new()).collect(),
            schedule: Schedule {
                times: vec![],
                days: vec![],
            },
            min_walk_secs: 30,
            min_round_secs: 600,
        }
    }

    fn t(secs: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH + SignedDuration::from_secs(1_800_000_000 + secs)
    }

    #[test]
    fn an_honest_walk_raises_nothing() {
        let r = route(4);
        let mut earlier = Vec::new();
        for (i, cp) in r.checkpoint_ids.iter().enumerate() {
            let at = t(i as i64 * 45);
            assert!(check_scan(&r, &earlier, *cp, at).is_empty());
            earlier.push((*cp, at));
        }
        assert!(check_round(&r, t(0), t(700)).is_empty());
    }

    #[test]
    fn faster_than_the_walk_is_flagged_with_the_numbers() {
        let r = route(5);
        let c = &r.checkpoint_ids;
        let earlier = [(c[0], t(0))];
        assert_eq!(
            check_scan(&r, &earlier, c[1], t(10)),
            [ScanFlag::TooFast {
                from: c[0],
                secs: 10,
                min_secs: 30
            }]
        );
        // Three steps along the route take three walks.
        assert_eq!(
            check_scan(&r, &earlier, c[3], t(80)),
            [ScanFlag::TooFast {
                from: c[0],
                secs: 80,
                min_secs: 90
            }]
        );
        assert!(check_scan(&r, &earlier, c[3], t(90)).is_empty());
        // A checkpoint off the route counts as one step.
        let off = CheckpointId::new();
        assert_eq!(check_scan(&r, &earlier, off, t(29)).len(), 1);
        assert!(check_scan(&r, &earlier, off, t(30)).is_empty());
    }

    #[test]
    fn a_clock_going_backwards_is_too_fast_not_a_panic() {
        let r = route(2);
        let c = &r.checkpoint_ids;
        let flags = check_scan(&r, &[(c[0], t(100))], c[1], t(40));
        assert_eq!(
            flags,
            [ScanFlag::TooFast {
                from: c[0],
                secs: 0,
                min_secs: 30
            }]
        );
        assert_eq!(check_round(&r, t(100), t(0)).len(), 1);
    }

    #[test]
    fn the_same_label_within_a_minute_is_flagged() {
        let r = route(3);
        let c = &r.checkpoint_ids;
        let earlier = [(c[0], t(0)), (c[1], t(40))];
        assert_eq!(
            check_scan(&r, &earlier, c[1], t(70)),
            [ScanFlag::RepeatScan { secs: 30 }]
        );
        assert!(check_scan(&r, &earlier, c[1], t(100)).is_empty());
        // Going back to an earlier checkpoint within a minute is both.
        let flags = check_scan(&r, &earlier, c[0], t(50));
        assert_eq!(flags.len(), 2, "{flags:?}");
    }

    #[test]
    fn a_round_shorter_than_its_minimum_is_flagged() {
        let r = route(3);
        assert_eq!(
            check_round(&r, t(0), t(300)),
            [ScanFlag::RoundTooShort {
                secs: 300,
                min_secs: 600
            }]
        );
        let mut no_min = r.clone();
        no_min.min_round_secs = 0;
        assert!(check_round(&no_min, t(0), t(1)).is_empty());
    }

    #[test]
    fn flags_travel_as_tagged_json() {
        let v = serde_json::to_value(ScanFlag::RepeatScan { secs: 12 }).unwrap();
        assert_eq!(v, serde_json::json!({"flag": "repeat_scan", "secs": 12}));
    }
}
