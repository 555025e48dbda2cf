//! Poll pacing for device codes (RFC 8628 §3.5), kept in memory.
//!
//! Polling is the hottest path — every waiting device, every few seconds — so it
//! must not write to disk. The last poll time and the current interval of each code
//! live here; a restart forgets them, which only means a device is not told to slow
//! down once more.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use authgate_proto::SLOW_DOWN_INCREMENT_SECS;

/// A poll that arrives this much early is still accepted, for network jitter.
const SLACK: Duration = Duration::from_millis(500);

/// Shards keep lock contention low with thousands of devices polling.
const SHARDS: usize = 16;

#[derive(Clone, Copy)]
struct Pace {
    last: Instant,
    interval: Duration,
}

/// Last poll and current interval per device code.
pub struct PollTracker {
    shards: Vec<Mutex<HashMap<[u8; 32], Pace>>>,
}

/// Whether a poll respected the interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pacing {
    /// On time.
    Ok,
    /// Too fast: answer `slow_down`; the code's interval is now this many seconds.
    SlowDown(u64),
}

impl Default for PollTracker {
    fn default() -> Self {
        PollTracker {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl PollTracker {
    /// Records a poll of `code` at `now` and judges it against the interval
    /// (`initial` the first time). A poll earlier than the interval allows raises the
    /// interval by 5 s for every later poll of that code.
    pub fn record(&self, code: &[u8; 32], initial: Duration, now: Instant) -> Pacing {
        let shard = &self.shards[usize::from(code[0]) % SHARDS];
        let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
        let pace = map.entry(*code).or_insert(Pace {
            // The first poll is always on time.
            last: now.checked_sub(initial).unwrap_or(now),
            interval: initial,
        });
        let elapsed = now.saturating_duration_since(pace.last);
        pace.last = now;
        if elapsed + SLACK < pace.interval {
            pace.interval += Duration::from_secs(u64::from(SLOW_DOWN_INCREMENT_SECS));
            Pacing::SlowDown(pace.interval.as_secs())
        } else {
            Pacing::Ok
        }
    }

    /// Forgets a code (redeemed or expired).
    pub fn forget(&self, code: &[u8; 32]) {
        let shard = &self.shards[usize::from(code[0]) % SHARDS];
        shard.lock().unwrap_or_else(|p| p.into_inner()).remove(code);
    }

    /// Drops codes not polled for `idle`, so the map doesn't grow without bound.
    pub fn prune(&self, now: Instant, idle: Duration) {
        for shard in &self.shards {
            shard
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|_, p| now.saturating_duration_since(p.last) < idle);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_polls_slow_down_cumulatively() {
        let t = PollTracker::default();
        let code = [7u8; 32];
        let five = Duration::from_secs(5);
        let t0 = Instant::now();
        assert_eq!(t.record(&code, five, t0), Pacing::Ok);
        assert_eq!(
            t.record(&code, five, t0 + Duration::from_secs(1)),
            Pacing::SlowDown(10)
        );
        // 9.6 s later is within slack of 10 s: fine.
        assert_eq!(
            t.record(&code, five, t0 + Duration::from_millis(10_600)),
            Pacing::Ok
        );
        assert_eq!(
            t.record(&code, five, t0 + Duration::from_secs(12)),
            Pacing::SlowDown(15)
        );
        assert_eq!(
            t.record(&code, five, t0 + Duration::from_secs(30)),
            Pacing::Ok
        );
        // Another code is unaffected.
        assert_eq!(
            t.record(&[8u8; 32], five, t0 + Duration::from_secs(30)),
            Pacing::Ok
        );
        t.forget(&code);
        t.prune(t0 + Duration::from_secs(100), Duration::from_secs(10));
        assert!(t.shards.iter().all(|s| s.lock().unwrap().is_empty()));
    }
}
