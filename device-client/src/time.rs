//! Millisecond time for the state machine.
//!
//! The core never reads a clock: every input carries `now`. Microcontrollers count
//! milliseconds since boot, a CLI can count since the Unix epoch; both fit a `u64` of
//! milliseconds, which keeps the core free of `std::time` and of any timer driver.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A point in time, in milliseconds since an epoch the caller chooses.
///
/// The state machine only compares instants and adds durations to them, so any
/// monotonic millisecond counter works (boot time on a device, Unix time on Linux).
/// Instants stored with tokens keep their meaning across restarts only if the epoch
/// does: see [`crate::Tokens::forget_expiry`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The epoch itself, useful for tests and for clocks that start at zero.
    pub const ZERO: Instant = Instant(0);

    /// An instant `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms)
    }

    /// Milliseconds since the epoch, to hand back to a timer driver.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, or zero if `earlier` is later (time never goes
    /// backwards in this crate's arithmetic, so a clock glitch cannot underflow).
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, saturating at the far future instead of overflowing.
    pub const fn saturating_add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }

    /// `self - d`, saturating at the epoch.
    pub const fn saturating_sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(d.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        self.saturating_add(rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = self.saturating_add(rhs);
    }
}

impl Sub for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

/// A span of time in milliseconds.
///
/// Our own type rather than `core::time::Duration` so it is a single `u64`, cheap to
/// store in flash records and to compare, with saturating arithmetic only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration(0);

    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Duration(ms)
    }

    /// A duration of `s` seconds (OAuth counts `interval` and `expires_in` in seconds).
    pub const fn from_secs(s: u64) -> Self {
        Duration(s.saturating_mul(1000))
    }

    /// Whole milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Whole seconds, rounded down.
    pub const fn as_secs(self) -> u64 {
        self.0 / 1000
    }

    /// Whole seconds, rounded up: what a countdown should show.
    pub const fn as_secs_ceil(self) -> u64 {
        self.0.div_ceil(1000)
    }

    /// `self * 2^exp`, saturating; used by the retry backoff.
    pub const fn saturating_shl(self, exp: u32) -> Duration {
        if exp >= 64 || self.0.leading_zeros() < exp {
            Duration(u64::MAX)
        } else {
            Duration(self.0 << exp)
        }
    }

    /// Half of this duration.
    pub const fn half(self) -> Duration {
        Duration(self.0 / 2)
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Duration {
    fn add_assign(&mut self, rhs: Duration) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}

impl Sub for Duration {
    type Output = Duration;
    fn sub(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_sub(rhs.0))
    }
}

impl From<Duration> for core::time::Duration {
    fn from(d: Duration) -> Self {
        core::time::Duration::from_millis(d.0)
    }
}

impl From<core::time::Duration> for Duration {
    fn from(d: core::time::Duration) -> Self {
        Duration(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1000) {
            write!(f, "{}s", self.0 / 1000)
        } else {
            write!(f, "{}ms", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_millis(1_000);
        assert_eq!(t + Duration::from_secs(2), Instant::from_millis(3_000));
        assert_eq!(Instant::ZERO - t, Duration::ZERO);
        assert_eq!(
            Instant::from_millis(u64::MAX) + Duration::from_millis(5),
            Instant::from_millis(u64::MAX)
        );
        assert_eq!(
            Duration::from_secs(1).saturating_shl(3),
            Duration::from_secs(8)
        );
        assert_eq!(
            Duration::from_secs(1).saturating_shl(70),
            Duration::from_millis(u64::MAX)
        );
        assert_eq!(Duration::from_millis(1_001).as_secs_ceil(), 2);
    }
}
