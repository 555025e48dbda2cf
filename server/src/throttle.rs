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
    /// A throttle allowing `max` attempts per key in each `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        Throttle {
            max,
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// If `key` is over its limit, how long until it may try again.
    pub fn blocked_for(&self, key: &str, now: Instant) -> Option<Duration> {
        let map = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let (start, n) = map.get(key)?;
        let end = *start + self.window;
        (*n >= self.max && now < end).then(|| end - now)
    }

    /// Counts one (failed) attempt by `key`.
    pub fn hit(&self, key: &str, now: Instant) {
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
    }
}
