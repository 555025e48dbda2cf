//! Poll pacing for device codes (RFC 8628 §3.5): the rule ([`judge`]), and its
//! in-memory tracker for the single-instance (redb) server.
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
pub const SLACK: Duration = Duration::from_millis(500);

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

/// The pacing rule of RFC 8628 §3.5, the one place it is written: given the time
/// since a code's last poll and its current interval (`None`: its first poll), the
/// code's interval from now on and whether this poll was on time. A poll earlier than
/// the interval allows, less [`SLACK`], raises the interval by
/// `SLOW_DOWN_INCREMENT_SECS` for every later poll; the first poll is always on time.
///
/// The in-memory tracker applies it directly; the PostgreSQL backend
/// (`store::pg::pacing`) applies the same rule inside its single atomic statement
/// (what makes a read-modify-write across instances one round trip), and its tests
/// run [`cases::ALL`] against both.
pub fn judge(seen: Option<(Duration, Duration)>, initial: Duration) -> (Duration, Pacing) {
    let Some((elapsed, interval)) = seen else {
        return (initial, Pacing::Ok);
    };
    if elapsed + SLACK < interval {
        let slower = interval + Duration::from_secs(u64::from(SLOW_DOWN_INCREMENT_SECS));
        (slower, Pacing::SlowDown(slower.as_secs()))
    } else {
        (interval, Pacing::Ok)
    }
}

/// Poll sequences with the answers [`judge`] must give, shared by the tests of every
/// implementation of the rule (in memory here, PostgreSQL in `store::pg`).
#[cfg(test)]
pub(crate) mod cases {
    use super::Pacing::{self, Ok, SlowDown};

    /// One code's polls: the initial interval (s), then (ms after the first poll,
    /// expected answer) per poll.
    pub(crate) type Case = (u32, &'static [(u64, Pacing)]);

    /// Every case.
    pub(crate) const ALL: &[Case] = &[
        // Cumulative slow-downs, slack of 500 ms, recovery.
        (
            5,
            &[
                (0, Ok),
                (1_000, SlowDown(10)),
                // 9.6 s after the last poll is within slack of 10 s.
                (10_600, Ok),
                (12_000, SlowDown(15)),
                (30_000, Ok),
            ],
        ),
        // Exactly at the slack boundary: on time; 1 ms earlier: too fast.
        (5, &[(0, Ok), (4_500, Ok), (8_999, SlowDown(10))]),
        // Back-to-back polls keep raising the interval.
        (
            1,
            &[(0, Ok), (0, SlowDown(6)), (0, SlowDown(11)), (20_000, Ok)],
        ),
    ];
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
    /// (`initial` the first time) by [`judge`].
    pub fn record(&self, code: &[u8; 32], initial: Duration, now: Instant) -> Pacing {
        let mut map = self.shard(code);
        let mut first = false;
        let pace = map.get_or_insert_mut(*code, || {
            first = true;
            Pace {
                last: now,
                interval: initial,
            }
        });
        let seen = (!first).then(|| (now.saturating_duration_since(pace.last), pace.interval));
        let (interval, pacing) = judge(seen, initial);
        *pace = Pace {
            last: now,
            interval,
        };
        pacing
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
    fn the_tracker_follows_every_case() {
        let t0 = Instant::now();
        for (n, (initial, polls)) in cases::ALL.iter().enumerate() {
            let t = PollTracker::default();
            let code = [u8::try_from(n).unwrap(); 32];
            for (at, want) in *polls {
                let got = t.record(
                    &code,
                    Duration::from_secs(u64::from(*initial)),
                    t0 + Duration::from_millis(*at),
                );
                assert_eq!(got, *want, "case {n}, poll at {at} ms");
            }
        }
    }

    #[test]
    fn codes_are_independent_forgotten_and_pruned() {
        let t = PollTracker::default();
        let five = Duration::from_secs(5);
        let t0 = Instant::now();
        assert_eq!(t.record(&[7; 32], five, t0), Pacing::Ok);
        assert_eq!(t.record(&[8; 32], five, t0), Pacing::Ok);
        t.forget(&[7; 32]);
        assert_eq!(
            t.record(&[7; 32], five, t0),
            Pacing::Ok,
            "a first poll again"
        );
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
