//! Times that come from outside — a device's clock, a pushed op, a site's time zone — handled so
//! that nothing a client sends can panic the arithmetic (DESIGN.md §7): every shift is checked,
//! and a corrected time must fall in the window the server accepts.

use jiff::{SignedDuration, Timestamp};

/// How far past the server's clock a corrected time may be: a device clock set right between
/// recording and sending is honest, an hour more is not.
pub const MAX_AHEAD: SignedDuration = SignedDuration::from_hours(1);

/// Why a time cannot be used. Shown to staff: Chinese, then English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// A site names a time zone this build does not know.
    #[error("未知时区 / unknown time zone `{name}`")]
    UnknownTimeZone {
        /// The name given.
        name: String,
    },
    /// A calculation left the range times can have.
    #[error("时间超出范围 / time out of range")]
    OutOfRange,
    /// Later than the server's clock allows.
    #[error(
        "时间晚于服务器时间，请检查手机时钟 / the time is in the future; check the phone's clock"
    )]
    InFuture,
    /// Older than the site keeps records.
    #[error("时间早于记录保存期限 / the time is older than records are kept")]
    TooOld,
}

impl TimeError {
    /// The machine-readable code of a refused op.
    pub fn code(&self) -> &'static str {
        match self {
            TimeError::UnknownTimeZone { .. } => "unknown_time_zone",
            TimeError::OutOfRange | TimeError::InFuture | TimeError::TooOld => "time_out_of_range",
        }
    }
}

/// `t` moved by `by`, or an error where that leaves the range of times.
pub fn shift(t: Timestamp, by: SignedDuration) -> Result<Timestamp, TimeError> {
    t.checked_add(by).map_err(|_| TimeError::OutOfRange)
}

/// The clock offset of a device: server time minus device time. Never fails: any two
/// timestamps are less than 20,000 years apart, which a signed duration holds.
pub fn offset(device: Timestamp, server: Timestamp) -> SignedDuration {
    device.duration_until(server)
}

/// The oldest time a site keeping records `keep_days` still keeps at `now`: what is older is
/// refused when it arrives and purged once archived. A retention longer than recorded time
/// reaches back to its start.
pub fn retention_start(now: Timestamp, keep_days: u32) -> Timestamp {
    shift(now, -SignedDuration::from_hours(i64::from(keep_days) * 24)).unwrap_or(Timestamp::MIN)
}

/// Whether a corrected time is one the server accepts at `now`: no later than [`MAX_AHEAD`]
/// after it, and no earlier than `keep_days` before it (the site's retention).
pub fn check_window(t: Timestamp, now: Timestamp, keep_days: u32) -> Result<(), TimeError> {
    let latest = shift(now, MAX_AHEAD)?;
    let earliest = retention_start(now, keep_days);
    if t > latest {
        Err(TimeError::InFuture)
    } else if t < earliest {
        Err(TimeError::TooOld)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifting_past_the_end_of_time_is_an_error_not_a_panic() {
        let last: Timestamp = "9999-12-30T00:00:00Z".parse().unwrap();
        let first: Timestamp = "0001-01-01T00:00:00Z".parse().unwrap();
        let now: Timestamp = "2026-12-01T08:00:00Z".parse().unwrap();
        // The device says it is year 1; its op says year 9999.
        let off = offset(first, now);
        assert_eq!(shift(last, off), Err(TimeError::OutOfRange));
        assert_eq!(shift(Timestamp::MIN, -off), Err(TimeError::OutOfRange));
        assert_eq!(shift(now, SignedDuration::ZERO), Ok(now));
        assert_eq!(
            offset(Timestamp::MAX, Timestamp::MIN),
            Timestamp::MAX.duration_until(Timestamp::MIN)
        );
    }

    #[test]
    fn the_window_is_an_hour_ahead_and_the_retention_back() {
        let now: Timestamp = "2026-12-01T08:00:00Z".parse().unwrap();
        let h = |n: i64| shift(now, SignedDuration::from_hours(n)).unwrap();
        assert_eq!(check_window(now, now, 730), Ok(()));
        assert_eq!(check_window(h(1), now, 730), Ok(()));
        assert_eq!(check_window(h(2), now, 730), Err(TimeError::InFuture));
        assert_eq!(check_window(h(-24 * 730), now, 730), Ok(()));
        assert_eq!(check_window(h(-24 * 731), now, 730), Err(TimeError::TooOld));
        let far: Timestamp = "2999-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            check_window(far, now, 730).unwrap_err().code(),
            "time_out_of_range"
        );
        let early: Timestamp = "1971-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(check_window(early, now, 730), Err(TimeError::TooOld));
        // A retention reaching before the start of time keeps everything.
        assert_eq!(check_window(early, now, u32::MAX), Ok(()));
    }
}
