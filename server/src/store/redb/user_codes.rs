//! The user code → device request lookup, kept in memory.
//!
//! User codes are random by necessity (they must be unguessable), so a table keyed
//! by them would put every insert of a group commit in a different B-tree leaf:
//! measured, that halved durable device authorizations. The lookup is only needed
//! while a request can still be approved or shown, it is small (one entry per live
//! request) and it is rebuilt from the device request table when the store opens.
//!
//! Only the writer thread adds and removes entries, inside the transaction that
//! writes the matching record, so it agrees with what is durable; readers may see an
//! entry a moment before its record commits, and then simply find no record.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Where a user code points, and until when it blocks reuse of the same code.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    id: [u8; 16],
    expires_at: u64,
    client: Arc<str>,
}

/// The lookup, and the counts of *pending* requests (entered, not yet decided, not
/// yet expired) server-wide and per client, kept in step with it so the device
/// authorization endpoint can cap them in O(log n) without a scan.
#[derive(Default)]
struct Index {
    map: HashMap<String, Entry>,
    /// The counted requests by expiry: `(expires_at, id)` → client. Expired ones are
    /// dropped from the front (each once, amortized O(log n)).
    live: BTreeMap<(u64, [u8; 16]), Arc<str>>,
    /// Counted requests per client (one entry per client that has any).
    per_client: HashMap<Arc<str>, usize>,
}

impl Index {
    fn count(&mut self, e: &Entry) {
        if self
            .live
            .insert((e.expires_at, e.id), e.client.clone())
            .is_none()
        {
            *self.per_client.entry(e.client.clone()).or_default() += 1;
        }
    }

    fn uncount(&mut self, expires_at: u64, id: [u8; 16]) {
        if let Some(client) = self.live.remove(&(expires_at, id)) {
            self.dec(&client);
        }
    }

    fn dec(&mut self, client: &Arc<str>) {
        if let Some(n) = self.per_client.get_mut(client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_client.remove(client);
            }
        }
    }

    /// Stops counting requests that expired by `now`.
    fn purge(&mut self, now: u64) {
        while let Some(entry) = self.live.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let client = entry.remove();
            self.dec(&client);
        }
    }
}

/// The in-memory user code index.
#[derive(Default)]
pub struct UserCodes {
    index: Mutex<Index>,
}

use crate::store::Pending;

impl UserCodes {
    fn lock(&self) -> MutexGuard<'_, Index> {
        // A panic elsewhere while holding the lock can't leave the index half-updated
        // in a way that matters (counts are advisory limits), so a poisoned lock is
        // usable.
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes `code` for request `id` of `client` unless a request that is still
    /// live at `now` holds it. Returns whether it did.
    pub fn claim(&self, code: &str, id: [u8; 16], client: &str, expires_at: u64, now: u64) -> bool {
        let mut ix = self.lock();
        ix.purge(now);
        if ix.map.get(code).is_some_and(|e| e.expires_at > now) {
            return false;
        }
        let entry = Entry {
            id,
            expires_at,
            client: client.into(),
        };
        ix.count(&entry);
        if let Some(old) = ix.map.insert(code.to_string(), entry) {
            ix.uncount(old.expires_at, old.id);
        }
        true
    }

    /// Records an existing request while rebuilding; a later request with the same
    /// (reused) code wins, as it did when it was created. Only pending requests are
    /// restored (decided ones left the lookup when they were decided).
    pub fn restore(&self, code: &str, id: [u8; 16], client: &str, expires_at: u64) {
        let mut ix = self.lock();
        let newer = ix.map.get(code).is_none_or(|e| e.id < id);
        if newer {
            let entry = Entry {
                id,
                expires_at,
                client: client.into(),
            };
            ix.count(&entry);
            if let Some(old) = ix.map.insert(code.to_string(), entry) {
                ix.uncount(old.expires_at, old.id);
            }
        }
    }

    /// Forgets `code` if it still points at request `id` (and not at a newer request
    /// that reused the code).
    pub fn release(&self, code: &str, id: &[u8; 16]) {
        let mut ix = self.lock();
        if ix.map.get(code).is_some_and(|e| &e.id == id)
            && let Some(old) = ix.map.remove(code)
        {
            ix.uncount(old.expires_at, old.id);
        }
    }

    /// The request `code` points at.
    pub fn lookup(&self, code: &str) -> Option<[u8; 16]> {
        self.lock().map.get(code).map(|e| e.id)
    }

    /// Requests awaiting a decision at `now`, server-wide and of `client`.
    pub fn pending(&self, client: &str, now: u64) -> Pending {
        let mut ix = self.lock();
        ix.purge(now);
        Pending {
            total: ix.live.len(),
            client: ix.per_client.get(client).copied().unwrap_or(0),
        }
    }

    /// Number of entries, for tests.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_code_cannot_be_claimed_twice_but_an_expired_one_can() {
        let codes = UserCodes::default();
        assert!(codes.claim("BCDFGHJK", [1; 16], "c", 100, 10));
        assert!(!codes.claim("BCDFGHJK", [2; 16], "c", 200, 50));
        assert_eq!(codes.lookup("BCDFGHJK"), Some([1; 16]));
        assert!(codes.claim("BCDFGHJK", [2; 16], "c", 200, 100));
        assert_eq!(codes.lookup("BCDFGHJK"), Some([2; 16]));
        // Releasing the old request must not drop the newer one.
        codes.release("BCDFGHJK", &[1; 16]);
        assert_eq!(codes.lookup("BCDFGHJK"), Some([2; 16]));
        codes.release("BCDFGHJK", &[2; 16]);
        assert_eq!(codes.lookup("BCDFGHJK"), None);
        assert_eq!(codes.len(), 0);
    }

    #[test]
    fn restore_keeps_the_newest_request_for_a_reused_code() {
        let codes = UserCodes::default();
        codes.restore("BCDFGHJK", [2; 16], "c", 200);
        codes.restore("BCDFGHJK", [1; 16], "c", 100);
        assert_eq!(codes.lookup("BCDFGHJK"), Some([2; 16]));
    }

    #[test]
    fn pending_counts_follow_claims_decisions_and_expiry() {
        let codes = UserCodes::default();
        assert!(codes.claim("AAAAAAAA", [1; 16], "tv", 100, 0));
        assert!(codes.claim("BBBBBBBB", [2; 16], "tv", 200, 0));
        assert!(codes.claim("CCCCCCCC", [3; 16], "cli", 300, 0));
        assert_eq!(
            codes.pending("tv", 50),
            Pending {
                total: 3,
                client: 2
            }
        );
        // Decided: released.
        codes.release("BBBBBBBB", &[2; 16]);
        assert_eq!(
            codes.pending("tv", 50),
            Pending {
                total: 2,
                client: 1
            }
        );
        // Expired: no longer counted, though still in the lookup until the sweep.
        assert_eq!(
            codes.pending("tv", 100),
            Pending {
                total: 1,
                client: 0
            }
        );
        assert_eq!(codes.len(), 2);
        // The sweep releasing an expired one doesn't count it twice.
        codes.release("AAAAAAAA", &[1; 16]);
        assert_eq!(
            codes.pending("cli", 100),
            Pending {
                total: 1,
                client: 1
            }
        );
        // An expired code reused by a new request counts the new one only.
        assert!(codes.claim("CCCCCCCC", [4; 16], "tv", 900, 400));
        assert_eq!(
            codes.pending("tv", 400),
            Pending {
                total: 1,
                client: 1
            }
        );
        assert_eq!(
            codes.pending("cli", 400),
            Pending {
                total: 1,
                client: 0
            }
        );
    }
}
