//! `jti` replay detection (RFC 9449 §11.1): a bounded cache of recently seen proofs.

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

use crate::store::StoreError;

/// Where seen proofs are remembered. One instance keeps them in memory
/// ([`MemoryReplayCache`]); several instances behind a proxy share a database table
/// (`store::pg::dpop`, the same trait on `PgStore`), so a proof accepted by one is a
/// replay at every other. Async, so the shared one can do I/O.
pub trait ReplayCache: Send + Sync {
    /// Remembers `key` until `until` (Unix seconds) and returns `true`, unless it is
    /// already remembered and unexpired at `now`: then `false` (a replay). Fails only
    /// when a shared store cannot be reached (the request then gets a 503).
    fn insert_fresh(
        &self,
        key: [u8; 32],
        now: u64,
        until: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The replay cache a server runs with: in memory for one instance (redb), in the
/// shared database when instances share PostgreSQL. Static dispatch, like `Store`.
pub enum Replays {
    /// This process only.
    Memory(MemoryReplayCache),
    /// The `dpop_jtis` table every instance writes.
    Postgres(crate::store::pg::PgStore),
}

impl ReplayCache for Replays {
    async fn insert_fresh(&self, key: [u8; 32], now: u64, until: u64) -> Result<bool, StoreError> {
        match self {
            Replays::Memory(m) => m.insert_fresh(key, now, until).await,
            Replays::Postgres(pg) => pg.insert_fresh(key, now, until).await,
        }
    }
}

/// A fixed-capacity in-memory [`ReplayCache`]: O(1) per check, least recently seen
/// entries evicted first when full. Entries are inserted in time order, so the ones
/// evicted are the oldest; the capacity should exceed the proofs one window
/// (`authgate_verify::dpop::IAT_WINDOW_SECS` × 2) can bring, or a proof older than what the cache
/// holds could be replayed within its window.
pub struct MemoryReplayCache {
    seen: Mutex<LruCache<[u8; 32], u64>>,
}

impl MemoryReplayCache {
    /// A default size: 200 000 proofs (about 13 MB), 1 600 proofs/s over a 2-minute
    /// window.
    pub const DEFAULT_CAPACITY: usize = 200_000;

    /// A cache of at most `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> Self {
        MemoryReplayCache {
            seen: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// Entries held (expired ones included until evicted or overwritten).
    pub fn len(&self) -> usize {
        self.seen.lock().map_or(0, |s| s.len())
    }
}

impl MemoryReplayCache {
    /// The check and insert, synchronous (no I/O).
    fn insert_now(&self, key: [u8; 32], now: u64, until: u64) -> bool {
        // A poisoned lock only means another thread panicked mid-insert; the map is
        // still a valid map.
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.get(&key).is_some_and(|&exp| exp > now) {
            return false;
        }
        seen.put(key, until);
        true
    }
}

impl ReplayCache for MemoryReplayCache {
    async fn insert_fresh(&self, key: [u8; 32], now: u64, until: u64) -> Result<bool, StoreError> {
        Ok(self.insert_now(key, now, until))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_until_it_expires() {
        let c = MemoryReplayCache::new(4);
        assert!(c.insert_now([1; 32], 100, 160));
        assert!(!c.insert_now([1; 32], 159, 219));
        assert!(c.insert_now([1; 32], 160, 220));
        assert!(c.insert_now([2; 32], 100, 160));
    }

    #[test]
    fn capacity_is_bounded() {
        let c = MemoryReplayCache::new(3);
        for i in 0..10u8 {
            assert!(c.insert_now([i; 32], 100, 160));
        }
        assert_eq!(c.len(), 3);
        // The newest are still remembered.
        assert!(!c.insert_now([9; 32], 100, 160));
    }
}
