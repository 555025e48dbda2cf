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

use std::collections::HashMap;
use std::sync::Mutex;

/// Where a user code points, and until when it blocks reuse of the same code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    id: [u8; 16],
    expires_at: u64,
}

/// The in-memory user code index.
#[derive(Default)]
pub struct UserCodes {
    map: Mutex<HashMap<String, Entry>>,
}

impl UserCodes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic elsewhere while holding the lock can't leave the map half-updated
        // (every change is a single insert or remove), so a poisoned lock is usable.
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes `code` for request `id` unless a request that is still live at `now`
    /// holds it. Returns whether it did.
    pub fn claim(&self, code: &str, id: [u8; 16], expires_at: u64, now: u64) -> bool {
        let mut map = self.lock();
        if map.get(code).is_some_and(|e| e.expires_at > now) {
            return false;
        }
        map.insert(code.to_string(), Entry { id, expires_at });
        true
    }

    /// Records an existing request while rebuilding; a later request with the same
    /// (reused) code wins, as it did when it was created.
    pub fn restore(&self, code: &str, id: [u8; 16], expires_at: u64) {
        let mut map = self.lock();
        let newer = map.get(code).is_none_or(|e| e.id < id);
        if newer {
            map.insert(code.to_string(), Entry { id, expires_at });
        }
    }

    /// Forgets `code` if it still points at request `id` (and not at a newer request
    /// that reused the code).
    pub fn release(&self, code: &str, id: &[u8; 16]) {
        let mut map = self.lock();
        if map.get(code).is_some_and(|e| &e.id == id) {
            map.remove(code);
        }
    }

    /// The request `code` points at.
    pub fn lookup(&self, code: &str) -> Option<[u8; 16]> {
        self.lock().get(code).map(|e| e.id)
    }

    /// Number of entries, for tests and metrics.
    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_code_cannot_be_claimed_twice_but_an_expired_one_can() {
        let codes = UserCodes::default();
        assert!(codes.claim("BCDFGHJK", [1; 16], 100, 10));
        assert!(!codes.claim("BCDFGHJK", [2; 16], 200, 50));
        assert_eq!(codes.lookup("BCDFGHJK"), Some([1; 16]));
        assert!(codes.claim("BCDFGHJK", [2; 16], 200, 100));
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
        codes.restore("BCDFGHJK", [2; 16], 200);
        codes.restore("BCDFGHJK", [1; 16], 100);
        assert_eq!(codes.lookup("BCDFGHJK"), Some([2; 16]));
    }
}
