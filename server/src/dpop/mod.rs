//! DPoP proof verification (RFC 9449 §4.3). The pure proof check (parse, signature,
//! `htm`, `htu`, `iat`, nonce, `ath`) lives in `authgate_verify::dpop`, shared with
//! resource servers so both check proofs with the same code, and is re-exported here;
//! this module adds what only the server has: `jti` replay over a [`ReplayCache`]
//! (in memory, or the shared PostgreSQL table) and the nonce key state.

mod replay;

pub use authgate_verify::dpop::{
    Cnf, DpopError, Expected, NonceCheck, NonceIssuer, Proof, SUPPORTED_ALGS, verify_proof,
    www_authenticate,
};
pub use replay::{MemoryReplayCache, ReplayCache, Replays};

/// Why a proof was not accepted as fresh: the proof itself, or a shared replay
/// store that could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum FreshError {
    /// The proof is refused (RFC 9449 error).
    #[error(transparent)]
    Proof(#[from] DpopError),
    /// The replay store failed; the request is answered 503, never accepted.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl FreshError {
    /// The proof error, if that is why (for tests and logs).
    pub fn proof(&self) -> Option<DpopError> {
        match self {
            FreshError::Proof(e) => Some(*e),
            FreshError::Store(_) => None,
        }
    }
}

/// Records the proof's `jti` (per key) in `cache`; a second use within the window is
/// [`DpopError::Replayed`]. Entries live until the proof's `iat` could no longer pass
/// [`verify_proof`] (`iat + IAT_WINDOW_SECS`).
pub async fn check_replay<C: ReplayCache>(
    cache: &C,
    proof: &Proof,
    now: u64,
) -> Result<(), FreshError> {
    let until = proof.remember_until(now);
    if cache.insert_fresh(proof.replay_key(), now, until).await? {
        Ok(())
    } else {
        Err(DpopError::Replayed.into())
    }
}

/// [`verify_proof`] then [`check_replay`]: what an endpoint calls.
pub async fn verify_fresh<C: ReplayCache>(
    proof: &str,
    expected: &Expected<'_>,
    cache: &C,
) -> Result<Proof, FreshError> {
    let p = verify_proof(proof, expected)?;
    check_replay(cache, &p, expected.now).await?;
    Ok(p)
}

/// What the endpoints need to check proofs: where seen `jti`s go, and the nonce
/// key (the same on every instance, from the shared meta secret
/// [`NONCE_KEY_SECRET`]), so each instance accepts every other's nonces.
pub struct DpopState {
    /// The `jti` replay cache.
    pub replays: Replays,
    /// Issues and checks `DPoP-Nonce` values.
    pub nonces: NonceIssuer,
}

/// The name of the meta secret holding the 32-byte nonce key.
pub const NONCE_KEY_SECRET: &str = "dpop_nonce_key";

impl DpopState {
    /// The state for a server on `store`: proofs remembered in the database when it
    /// is shared by many instances (PostgreSQL), in memory for redb (one process).
    pub fn for_store(store: &crate::store::Store, key: [u8; 32]) -> Self {
        match store {
            crate::store::Store::Postgres(pg) => DpopState {
                replays: Replays::Postgres(pg.clone()),
                nonces: NonceIssuer::new(key, NonceIssuer::DEFAULT_LIFETIME_SECS),
            },
            crate::store::Store::Redb(_) => Self::in_memory(key),
        }
    }

    /// One instance's state: an in-memory replay cache and nonces under `key`.
    pub fn in_memory(key: [u8; 32]) -> Self {
        DpopState {
            replays: Replays::Memory(MemoryReplayCache::new(MemoryReplayCache::DEFAULT_CAPACITY)),
            nonces: NonceIssuer::new(key, NonceIssuer::DEFAULT_LIFETIME_SECS),
        }
    }
}

#[cfg(test)]
mod tests;
