//! Fixed-window attempt counters, for everything an attacker might guess.
//!
//! RFC 8628 §5.1: user codes are short, so guesses must be throttled. The same
//! counters slow down password guessing. All in memory: a restart resets them, which
//! costs an attacker a restart they cannot cause.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A limit of `max` attempts per `window` for each key.
pub struct Throttle {
    max: u32,
    window: Duration,
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Throttle {
    /// A throttle allowing `max` attempts per key in each `window`; `max` 0 turns it
    /// off (nothing is counted, nothing is blocked).
    pub fn new(max: u32, window: Duration) -> Self {
        Throttle {
            max,
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// If `key` is over its limit, how long until it may try again.
    pub fn blocked_for(&self, key: &str, now: Instant) -> Option<Duration> {
        if self.max == 0 {
            return None;
        }
        let map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let (start, n) = map.get(key)?;
        let end = *start + self.window;
        (*n >= self.max && now < end).then(|| end - now)
    }

    /// Counts one (failed) attempt by `key`.
    pub fn hit(&self, key: &str, now: Instant) {
        if self.max == 0 {
            return;
        }
        let mut map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, (start, _)| now.saturating_duration_since(*start) < window);
        }
        let entry = map.entry(key.to_string()).or_insert((now, 0));
        if now.saturating_duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }

    /// How many attempts `key` has made in its current window (0 once it is over).
    pub fn failures(&self, key: &str, now: Instant) -> u32 {
        let map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some((start, n)) if now.saturating_duration_since(*start) < self.window => *n,
            _ => 0,
        }
    }
}

/// Exponential backoff per key: the first `free` failures cost nothing, then each
/// further failure makes the key wait twice as long as the last (1 s, 2 s, 4 s, …,
/// at most `max_wait`). A key that stays quiet for `forget` starts over.
///
/// Used against password guessing: a person who mistypes a few times never notices,
/// a script trying thousands of passwords gets a handful an hour.
pub struct Backoff {
    free: u32,
    max_wait: Duration,
    forget: Duration,
    state: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Backoff {
    /// `free` failures without delay, then doubling waits up to `max_wait`;
    /// forgotten after `forget` without a failure.
    pub fn new(free: u32, max_wait: Duration, forget: Duration) -> Self {
        Backoff {
            free,
            max_wait,
            forget,
            state: Mutex::new(HashMap::new()),
        }
    }

    fn wait_after(&self, failures: u32) -> Duration {
        let over = failures.saturating_sub(self.free);
        if over == 0 {
            return Duration::ZERO;
        }
        let secs = 1u64.checked_shl(over - 1).unwrap_or(u64::MAX);
        Duration::from_secs(secs).min(self.max_wait)
    }

    /// If `key` must still wait, for how long.
    pub fn blocked_for(&self, key: &str, now: Instant) -> Option<Duration> {
        let map = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (last, n) = map.get(key)?;
        let until = *last + self.wait_after(*n);
        (now < until).then(|| until - now)
    }

    /// Whether `key` failed recently (within `forget`).
    pub fn failed_recently(&self, key: &str, now: Instant) -> bool {
        let map = self.state.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .is_some_and(|(last, _)| now.saturating_duration_since(*last) < self.forget)
    }

    /// Counts one failure by `key`.
    pub fn fail(&self, key: &str, now: Instant) {
        let mut map = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            let forget = self.forget;
            map.retain(|_, (last, _)| now.saturating_duration_since(*last) < forget);
        }
        let entry = map.entry(key.to_string()).or_insert((now, 0));
        if now.saturating_duration_since(entry.0) >= self.forget {
            entry.1 = 0;
        }
        *entry = (now, entry.1.saturating_add(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_until_the_window_ends() {
        let t = Throttle::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.blocked_for("ip", t0), None);
            t.hit("ip", t0);
        }
        assert_eq!(
            t.blocked_for("ip", t0 + Duration::from_secs(10)),
            Some(Duration::from_secs(50))
        );
        assert_eq!(t.blocked_for("other", t0), None);
        assert_eq!(t.blocked_for("ip", t0 + Duration::from_secs(60)), None);
        t.hit("ip", t0 + Duration::from_secs(61));
        assert_eq!(t.blocked_for("ip", t0 + Duration::from_secs(61)), None);
        assert_eq!(t.failures("ip", t0 + Duration::from_secs(62)), 1);
        assert_eq!(t.failures("ip", t0 + Duration::from_secs(122)), 0);
    }

    #[test]
    fn backoff_doubles_after_the_free_failures_and_forgets() {
        let b = Backoff::new(2, Duration::from_secs(8), Duration::from_secs(600));
        let t0 = Instant::now();
        b.fail("k", t0);
        b.fail("k", t0);
        assert_eq!(b.blocked_for("k", t0), None, "two free failures");
        b.fail("k", t0);
        assert_eq!(b.blocked_for("k", t0), Some(Duration::from_secs(1)));
        b.fail("k", t0);
        assert_eq!(b.blocked_for("k", t0), Some(Duration::from_secs(2)));
        for _ in 0..10 {
            b.fail("k", t0);
        }
        assert_eq!(
            b.blocked_for("k", t0),
            Some(Duration::from_secs(8)),
            "capped"
        );
        assert!(b.failed_recently("k", t0));
        let later = t0 + Duration::from_secs(601);
        assert!(!b.failed_recently("k", later));
        b.fail("k", later);
        assert_eq!(
            b.blocked_for("k", later),
            None,
            "forgotten after quiet time"
        );
    }
}
