//! Poll pacing for device codes (RFC 8628 §3.5), kept in memory.
//!
//! Polling is the hottest path — every waiting device, every few seconds — so it
//! must not write to disk. The last poll time and the current interval of each code
//! live here; a restart forgets them, which only means a device is not told to slow
//! down once more.

use std::collections::hash_map::RandomState;
use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;

use authgate_proto::SLOW_DOWN_INCREMENT_SECS;

/// A poll that arrives this much early is still accepted, for network jitter.
const SLACK: Duration = Duration::from_millis(500);

/// Shards keep lock contention low with thousands of devices polling.
const SHARDS: usize = 16;

/// Codes tracked at most, over all shards: above the default cap on pending
/// device requests (100,000), so with the default caps no live code is ever
/// forgotten. Past it, the least recently polled code of a shard is forgotten (O(1));
/// the only effect is that its next poll counts as a first one. ~8 MiB at most.
pub const CAPACITY: usize = 131_072;

type Shard = Mutex<LruCache<[u8; 32], Pace, RandomState>>;

#[derive(Clone, Copy)]
struct Pace {
    last: Instant,
    interval: Duration,
}

/// Last poll and current interval per device code.
pub struct PollTracker {
    shards: Vec<Shard>,
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
        Self::with_capacity(CAPACITY)
    }
}

impl PollTracker {
    /// A tracker holding at most about `capacity` codes.
    pub fn with_capacity(capacity: usize) -> Self {
        let per_shard = NonZeroUsize::new(capacity.div_ceil(SHARDS)).unwrap_or(NonZeroUsize::MIN);
        PollTracker {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::with_hasher(per_shard, RandomState::new())))
                .collect(),
        }
    }

    fn shard(&self, code: &[u8; 32]) -> MutexGuard<'_, LruCache<[u8; 32], Pace, RandomState>> {
        self.shards[usize::from(code[0]) % SHARDS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a poll of `code` at `now` and judges it against the interval
    /// (`initial` the first time). A poll earlier than the interval allows raises the
    /// interval by 5 s for every later poll of that code.
    pub fn record(&self, code: &[u8; 32], initial: Duration, now: Instant) -> Pacing {
        let mut map = self.shard(code);
        let pace = map.get_or_insert_mut(*code, || Pace {
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
        self.shard(code).pop(code);
    }

    /// Drops codes not polled for `idle` (the sweeper's periodic clean-up, not a
    /// request path; the capacity bounds the maps in between).
    pub fn prune(&self, now: Instant, idle: Duration) {
        for shard in &self.shards {
            let mut map = shard.lock().unwrap_or_else(PoisonError::into_inner);
            // Least recently polled first: stop at the first code still in use.
            while map
                .peek_lru()
                .is_some_and(|(_, p)| now.saturating_duration_since(p.last) >= idle)
            {
                map.pop_lru();
            }
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

    #[test]
    fn bounded_by_capacity() {
        let t = PollTracker::with_capacity(SHARDS);
        let t0 = Instant::now();
        for i in 0..10u8 {
            // All in one shard (same first byte).
            t.record(
                &[
                    0, i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    0, 0, 0, 0, 0, 0,
                ],
                Duration::from_secs(5),
                t0,
            );
        }
        assert_eq!(t.shards[0].lock().unwrap().len(), 1);
    }
}
