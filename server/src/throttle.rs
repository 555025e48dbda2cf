//! Fixed-window attempt counters, for everything an attacker might guess.
//!
//! RFC 8628 §5.1: user codes are short, so guesses must be throttled. The same
//! counters slow down password guessing. All in memory: a restart resets them, which
//! costs an attacker a restart they cannot cause.

use std::collections::hash_map::RandomState;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;

/// Keys each counter map holds at most. A full map forgets its least recently
/// *used* key (O(1), no sweep under the lock). An attacker can only make us forget
/// his own counter by touching more than this many other keys after his last
/// attempt: 65,536 distinct addresses (IPv6: /64 networks) or sessions. For logins
/// each such touch is a counted password check, and the server checks at most ~130
/// passwords a second, so that takes over 8 minutes, longer than the longest
/// backoff (5 minutes): eviction buys nothing that waiting doesn't.
///
/// Memory: at most ~65k × ~150 bytes ≈ 10 MiB per map.
pub const MAP_CAPACITY: usize = 65_536;

/// A bounded map from key to counter, least recently used out first.
type Counters = Mutex<LruCache<String, (Instant, u32), RandomState>>;

fn counters(capacity: usize) -> Counters {
    let cap = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
    // SipHash with a random key: keys come from clients.
    Mutex::new(LruCache::with_hasher(cap, RandomState::new()))
}

fn lock(map: &Counters) -> MutexGuard<'_, LruCache<String, (Instant, u32), RandomState>> {
    // Every change is a single insert or update, so a poisoned map is consistent.
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The key a client address is throttled under: the address itself for IPv4, its
/// /64 network for IPv6 (one subscriber usually holds a whole /64, so keying by the
/// full address would give him 2^64 fresh counters).
pub fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The fixed-window rule: at most `max` attempts per key in each `window`; `max` 0
/// turns it off. Pure, shared by the in-memory [`Throttle`] and the PostgreSQL
/// counters (`crate::limits`).
#[derive(Clone, Copy, Debug)]
pub struct WindowRule {
    /// Attempts allowed per window (0: no limit).
    pub max: u32,
    /// The window length.
    pub window: Duration,
}

impl WindowRule {
    /// With `n` attempts counted in a window that started `elapsed` ago, how long
    /// until the key may try again (`None`: it may now).
    pub fn wait(&self, elapsed: Duration, n: u32) -> Option<Duration> {
        (self.max != 0 && n >= self.max && elapsed < self.window).then(|| self.window - elapsed)
    }

    /// The attempts in a window that started `elapsed` ago with `n` counted (0 once
    /// it is over).
    pub fn in_window(&self, elapsed: Duration, n: u32) -> u32 {
        if elapsed < self.window { n } else { 0 }
    }

    /// Whether the limit is off: nothing is counted or blocked.
    pub fn is_off(&self) -> bool {
        self.max == 0
    }
}

/// A limit of `max` attempts per `window` for each key, counted in memory.
pub struct Throttle {
    rule: WindowRule,
    counts: Counters,
}

impl Throttle {
    /// A throttle allowing `max` attempts per key in each `window`; `max` 0 turns it
    /// off (nothing is counted, nothing is blocked).
    pub fn new(max: u32, window: Duration) -> Self {
        Throttle {
            rule: WindowRule { max, window },
            counts: counters(MAP_CAPACITY),
        }
    }

    /// If `key` is over its limit, how long until it may try again.
    pub fn blocked_for(&self, key: &str, now: Instant) -> Option<Duration> {
        if self.rule.is_off() {
            return None;
        }
        let map = lock(&self.counts);
        let (start, n) = map.peek(key)?;
        self.rule.wait(now.saturating_duration_since(*start), *n)
    }

    /// Counts one (failed) attempt by `key`.
    pub fn hit(&self, key: &str, now: Instant) {
        if self.rule.is_off() {
            return;
        }
        let mut map = lock(&self.counts);
        match map.get_mut(key) {
            Some(entry) if now.saturating_duration_since(entry.0) < self.rule.window => {
                entry.1 = entry.1.saturating_add(1);
            }
            Some(entry) => *entry = (now, 1),
            None => {
                map.push(key.to_string(), (now, 1));
            }
        }
    }

    /// How many attempts `key` has made in its current window (0 once it is over).
    pub fn failures(&self, key: &str, now: Instant) -> u32 {
        let map = lock(&self.counts);
        map.peek(key).map_or(0, |(start, n)| {
            self.rule
                .in_window(now.saturating_duration_since(*start), *n)
        })
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
    state: Counters,
}

impl Backoff {
    /// `free` failures without delay, then doubling waits up to `max_wait`;
    /// forgotten after `forget` without a failure.
    pub fn new(free: u32, max_wait: Duration, forget: Duration) -> Self {
        Backoff {
            free,
            max_wait,
            forget,
            state: counters(MAP_CAPACITY),
        }
    }

    /// The wait after each number of failures, from 0 up to the first that reaches
    /// the cap (which applies to every larger number): the rule as data, for the
    /// PostgreSQL counters' atomic check-and-count (`store::pg::rates`).
    pub fn waits(&self) -> Vec<Duration> {
        let mut waits = Vec::new();
        for n in 0..=self.free.saturating_add(64) {
            let w = self.wait_after(n);
            waits.push(w);
            if w >= self.max_wait {
                break;
            }
        }
        waits
    }

    /// The backoff rule: after `failures`, the last `elapsed` ago, how long the key
    /// must still wait (`None`: it may try now).
    pub fn wait_since(&self, elapsed: Duration, failures: u32) -> Option<Duration> {
        let wait = self.wait_after(failures);
        (elapsed < wait).then(|| wait - elapsed)
    }

    /// Whether a failure `elapsed` ago is recent (not yet forgotten).
    pub fn is_recent(&self, elapsed: Duration) -> bool {
        elapsed < self.forget
    }

    /// How long a quiet key takes to be forgotten.
    pub fn forget(&self) -> Duration {
        self.forget
    }

    /// The same rule with no map of its own, for counters kept elsewhere (the
    /// PostgreSQL backend's, `crate::limits`).
    pub fn rule_only(&self) -> Self {
        Backoff {
            state: counters(1),
            ..*self
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
        let map = lock(&self.state);
        let (last, n) = map.peek(key)?;
        self.wait(*last, *n, now)
    }

    fn wait(&self, last: Instant, failures: u32, now: Instant) -> Option<Duration> {
        self.wait_since(now.saturating_duration_since(last), failures)
    }

    /// Whether `key` failed recently (within `forget`).
    pub fn failed_recently(&self, key: &str, now: Instant) -> bool {
        let map = lock(&self.state);
        map.peek(key)
            .is_some_and(|(last, _)| self.is_recent(now.saturating_duration_since(*last)))
    }

    /// Counts one failure by `key`.
    pub fn fail(&self, key: &str, now: Instant) {
        let mut map = lock(&self.state);
        self.count(&mut map, key, now);
    }

    fn count(
        &self,
        map: &mut LruCache<String, (Instant, u32), RandomState>,
        key: &str,
        now: Instant,
    ) {
        match map.get_mut(key) {
            Some(entry) if now.saturating_duration_since(entry.0) < self.forget => {
                *entry = (now, entry.1.saturating_add(1));
            }
            Some(entry) => *entry = (now, 1),
            None => {
                map.push(key.to_string(), (now, 1));
            }
        }
    }

    /// Check-and-reserve in one step: if `key` must wait, for how long; otherwise
    /// the attempt is counted as a failure *now*, before it is evaluated, so
    /// concurrent attempts and attempts whose client hangs up are all counted.
    /// A success gives the reservation back with [`Backoff::refund`].
    pub fn reserve(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut map = lock(&self.state);
        if let Some(wait) = map
            .peek(key)
            .and_then(|(last, n)| self.wait(*last, *n, now))
        {
            return Err(wait);
        }
        self.count(&mut map, key, now);
        Ok(())
    }

    /// Gives back one reserved attempt that turned out to succeed.
    pub fn refund(&self, key: &str) {
        if let Some(entry) = lock(&self.state).peek_mut(key) {
            entry.1 = entry.1.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_eq!(client_key(a), "2001:db8:1:2::/64");
        let m: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(m), "192.0.2.7");
    }

    #[test]
    fn reserve_counts_before_and_refund_gives_back() {
        let b = Backoff::new(2, Duration::from_secs(8), Duration::from_secs(600));
        let t0 = Instant::now();
        assert!(b.reserve("k", t0).is_ok());
        assert!(b.reserve("k", t0).is_ok());
        // Two reserved (in flight, say): the third is counted too, then blocked.
        assert!(b.reserve("k", t0).is_ok());
        assert_eq!(b.reserve("k", t0), Err(Duration::from_secs(1)));
        b.refund("k");
        assert_eq!(b.blocked_for("k", t0), None);
    }

    #[test]
    fn maps_are_bounded_and_forget_the_least_recently_used() {
        let t = Throttle {
            rule: WindowRule {
                max: 2,
                window: Duration::from_secs(60),
            },
            counts: counters(3),
        };
        let t0 = Instant::now();
        t.hit("attacker", t0);
        t.hit("attacker", t0);
        for k in ["a", "b"] {
            t.hit(k, t0);
        }
        // The attacker's key is touched again, so it is not the one forgotten.
        t.hit("attacker", t0);
        t.hit("c", t0);
        assert_eq!(lock(&t.counts).len(), 3);
        assert!(t.blocked_for("attacker", t0).is_some());
        assert_eq!(t.failures("a", t0), 0, "least recently used went first");
    }

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
