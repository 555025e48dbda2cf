//! argon2id password hashing, off the async workers, with bounded admission.
//!
//! One argon2id hash costs ~15 ms of CPU and ~19 MiB of memory
//! (`../shared/limits.md`). Run on the async workers, a burst of logins would stall
//! every device's polling; so hashes run on the blocking pool behind a small
//! semaphore, and login is the one slow endpoint.
//!
//! Three rules keep a hostile client from turning that into memory or CPU
//! exhaustion, or from escaping the login limits by hanging up:
//!
//! - the semaphore permit (and the caller's [`Ticket`]) *move into* the blocking
//!   closure, so they are held until the hash has really finished, even when the
//!   request future is dropped because the client closed the connection;
//! - admission is bounded: at most `permits × (1 + QUEUE_PER_PERMIT)` checks are
//!   running or waiting; beyond that [`Passwords::admit`] answers
//!   [`Refused::Busy`] (the page sends 503 + `Retry-After: 1`);
//! - one address (its [`crate::throttle::client_key`]) has at most one check
//!   running or waiting; a second concurrent one gets [`Refused::InFlight`]
//!   (429 + `Retry-After: 1`). The set of busy addresses holds one entry per
//!   admitted check, so it is bounded by the same admission limit.
//!
//! With the default 2 permits that is at most 10 admitted checks, i.e. at most
//! ~190 MiB of argon2 memory in the worst case and 2 cores of hashing; an attacker
//! with one address gets one check at a time, ~65 a second per core at most, and
//! every one of them is counted by the login backoff before it runs.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::Semaphore;

/// Checks that may wait per permit, beyond those running.
pub const QUEUE_PER_PERMIT: usize = 4;

/// Bounded argon2 work.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// Addresses with a check admitted (waiting or running); at most `max_admitted`.
    busy: Arc<Mutex<HashSet<String>>>,
    max_admitted: usize,
    /// A real hash to verify against when the user doesn't exist, so a missing
    /// account takes as long as a wrong password.
    dummy_hash: Arc<str>,
}

/// Why a password check was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// This address already has a check waiting or running.
    InFlight,
    /// The queue is full: the server is busy hashing.
    Busy,
}

/// An admitted password check for one address; frees its place when dropped,
/// which [`Ticket::verify`] delays until the hash has finished.
pub struct Ticket {
    busy: Arc<Mutex<HashSet<String>>>,
    key: String,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.busy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.key);
    }
}

impl Passwords {
    /// At most `concurrency` hashes at once, and `QUEUE_PER_PERMIT` waiting per
    /// permit.
    pub fn new(concurrency: usize) -> Self {
        let permits = concurrency.max(1);
        Passwords {
            permits: Arc::new(Semaphore::new(permits)),
            busy: Arc::default(),
            max_admitted: permits * (1 + QUEUE_PER_PERMIT),
            dummy_hash: hash_blocking("not a real password")
                .unwrap_or_default()
                .into(),
        }
    }

    /// Admits one check for the address keyed `key`, or says why not. O(1).
    pub fn admit(&self, key: &str) -> Result<Ticket, Refused> {
        let mut busy = self
            .busy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if busy.contains(key) {
            return Err(Refused::InFlight);
        }
        if busy.len() >= self.max_admitted {
            return Err(Refused::Busy);
        }
        busy.insert(key.to_string());
        Ok(Ticket {
            busy: Arc::clone(&self.busy),
            key: key.to_string(),
        })
    }

    /// Verifies a password against a PHC hash (or the dummy when `hash` is `None`).
    /// `on_done(ok)` runs on the blocking pool once the hash has finished, even if
    /// the caller stopped waiting (the client hung up): failures are recorded there.
    pub async fn verify(
        &self,
        ticket: Ticket,
        password: String,
        hash: Option<String>,
        on_done: impl FnOnce(bool) + Send + 'static,
    ) -> bool {
        let Ok(permit) = Arc::clone(&self.permits).acquire_owned().await else {
            return false;
        };
        let real = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        tokio::task::spawn_blocking(move || {
            let ok = verify_blocking(&password, &hash) && real;
            on_done(ok);
            drop(permit);
            drop(ticket);
            ok
        })
        .await
        .unwrap_or(false)
    }

    /// Hashes a new password with argon2id, on the blocking pool behind the same
    /// semaphore as [`Passwords::verify`] (the permit travels with the work). `None`
    /// only if hashing itself failed. Callers reach this only after a verified
    /// password, so it needs no admission of its own.
    pub async fn hash(&self, password: String) -> Option<String> {
        let permit = Arc::clone(&self.permits).acquire_owned().await.ok()?;
        tokio::task::spawn_blocking(move || {
            let hashed = hash_blocking(&password);
            drop(permit);
            hashed.ok()
        })
        .await
        .ok()
        .flatten()
    }
}

/// argon2 refused to hash (a parameter or salt error; not expected in practice).
#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct HashError(argon2::password_hash::Error);

/// Hashes with argon2id and a random salt (for startup and offline commands).
pub fn hash_blocking(password: &str) -> Result<String, HashError> {
    let salt = SaltString::encode_b64(&crate::secrets::random_bytes::<16>()).map_err(HashError)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(HashError)
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_only_the_right_password() {
        let p = Passwords::new(2);
        let h = hash_blocking("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        let t = || p.admit("a").unwrap();
        assert!(
            p.verify(t(), "correct horse".into(), Some(h.clone()), |_| {})
                .await
        );
        assert!(!p.verify(t(), "wrong".into(), Some(h), |_| {}).await);
        assert!(
            !p.verify(t(), "not a real password".into(), None, |_| {})
                .await
        );
        let h2 = p.hash("new one".into()).await.unwrap();
        assert!(p.verify(t(), "new one".into(), Some(h2), |_| {}).await);
    }

    #[test]
    fn one_check_per_address_and_a_bounded_queue() {
        let p = Passwords::new(1);
        let first = p.admit("192.0.2.1").unwrap();
        assert_eq!(p.admit("192.0.2.1").err(), Some(Refused::InFlight));
        let others: Vec<_> = (2..=5)
            .map(|i| p.admit(&format!("192.0.2.{i}")).unwrap())
            .collect();
        assert_eq!(p.admit("192.0.2.99").err(), Some(Refused::Busy));
        drop(first);
        assert!(p.admit("192.0.2.1").is_ok());
        drop(others);
        assert!(p.busy.lock().unwrap().is_empty());
    }
}
