//! A bounded in-memory cache of DPoP proofs seen, for `jti` replay detection at a
//! resource server (RFC 9449 §11.1).

use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

use crate::dpop::Proof;

/// Proofs seen within their window, per key and `jti`. Fixed capacity, least recently
/// seen evicted first; the capacity should exceed the proofs one window
/// (2 × [`crate::dpop::IAT_WINDOW_SECS`]) brings, or an evicted proof could replay.
pub struct ReplayCache {
    seen: Mutex<LruCache<[u8; 32], u64>>,
}

impl ReplayCache {
    /// 100 000 proofs (about 6 MB): over 800 requests/s over a 2-minute window.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A cache of at most `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> Self {
        ReplayCache {
            seen: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// Remembers `proof` and returns `true`, unless it was already seen and its
    /// window has not passed at `now`: then `false` (a replay).
    pub fn insert_fresh(&self, proof: &Proof, now: u64) -> bool {
        // A poisoned lock only means another thread panicked mid-insert; the map is
        // still a valid map.
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let key = proof.replay_key();
        if seen.get(&key).is_some_and(|&until| until > now) {
            return false;
        }
        seen.put(key, proof.remember_until(now));
        true
    }

    /// Entries held (expired ones included until evicted or overwritten).
    pub fn len(&self) -> usize {
        self.seen.lock().map_or(0, |s| s.len())
    }

    /// Whether no proof is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proof(jti: &str, iat: u64) -> Proof {
        Proof {
            jkt: "k".into(),
            jti: jti.into(),
            iat,
        }
    }

    #[test]
    fn a_jti_is_refused_until_its_window_ends_and_capacity_is_bounded() {
        let c = ReplayCache::new(3);
        assert!(c.insert_fresh(&proof("a", 100), 100));
        assert!(!c.insert_fresh(&proof("a", 100), 159));
        assert!(c.insert_fresh(&proof("a", 100), 160));
        for j in ["b", "c", "d", "e"] {
            assert!(c.insert_fresh(&proof(j, 100), 100));
        }
        assert_eq!(c.len(), 3);
        assert!(!c.insert_fresh(&proof("e", 100), 100));
    }
}
