//! argon2id password hashing, off the async workers.
//!
//! One argon2id hash costs ~15 ms of CPU (`../shared/limits.md`). Run on the async
//! workers, a burst of logins would stall every device's polling; so hashes run on
//! the blocking pool behind a small semaphore, and login is the one slow endpoint.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::Semaphore;

/// Bounded argon2 work.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// A real hash to verify against when the user doesn't exist, so a missing
    /// account takes as long as a wrong password.
    dummy_hash: Arc<str>,
}

impl Passwords {
    /// At most `concurrency` hashes at once.
    pub fn new(concurrency: usize) -> Self {
        Passwords {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: hash_blocking("not a real password")
                .unwrap_or_default()
                .into(),
        }
    }

    /// Verifies a password against a PHC hash (or the dummy when `hash` is `None`).
    pub async fn verify(&self, password: String, hash: Option<String>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let real = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let ok = tokio::task::spawn_blocking(move || verify_blocking(&password, &hash))
            .await
            .unwrap_or(false);
        ok && real
    }

    /// Hashes a new password with argon2id, on the blocking pool behind the same
    /// semaphore as [`Passwords::verify`]. `None` only if hashing itself failed.
    pub async fn hash(&self, password: String) -> Option<String> {
        let _permit = self.permits.acquire().await.ok()?;
        tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .ok()
            .flatten()
    }
}

/// Hashes with argon2id and a random salt (for startup and offline commands).
pub fn hash_blocking(password: &str) -> Option<String> {
    let salt = SaltString::encode_b64(&crate::secrets::random_bytes::<16>()).ok()?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .ok()
        .map(|h| h.to_string())
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
        assert!(p.verify("correct horse".into(), Some(h.clone())).await);
        assert!(!p.verify("wrong".into(), Some(h)).await);
        assert!(!p.verify("not a real password".into(), None).await);
        let h2 = p.hash("new one".into()).await.unwrap();
        assert!(p.verify("new one".into(), Some(h2)).await);
    }
}
