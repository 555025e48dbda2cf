//! The signing keys as the running server holds them, and their life cycle.
//!
//! [`Keys`] wraps the [`KeyRing`] in an `ArcSwap` so `authgate key rotate` (through
//! the admin socket) makes the running server sign with the new key at once, without
//! a lock on the signing path. Rotation keeps every older public key published until
//! the tokens it signed have expired: a key is retired (its file moved to
//! `keys/retired/`) only when its successor has been signing for longer than the
//! longest access-token lifetime, plus a minute of clock skew.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::tokens::{AccessClaims, KeyError, KeyRing};

mod shared;

#[allow(unused_imports)]
pub use shared::{FOLLOW_PERIOD, KeyInfo, KeySource, follow_shared};

/// The live key ring; cheap to read from every request.
pub struct Keys(ArcSwap<KeyRing>);

impl Keys {
    /// Wraps a loaded key ring.
    pub fn new(ring: KeyRing) -> Self {
        Keys(ArcSwap::from_pointee(ring))
    }

    /// The current ring (a snapshot; a rotation swaps in a new one).
    #[cfg(test)]
    pub fn ring(&self) -> Arc<KeyRing> {
        self.0.load_full()
    }

    /// Swaps in `ring` after a rotation or retirement (loaded from wherever the keys
    /// live: `KeySource`).
    pub fn replace(&self, ring: KeyRing) {
        self.0.store(Arc::new(ring));
    }

    /// Signs with the newest key, in `format` (PASETO or JWT).
    pub fn sign_as(
        &self,
        format: crate::store::AccessTokenFormat,
        claims: &AccessClaims,
    ) -> Result<String, pasetors::errors::Error> {
        self.0.load().sign_as(format, claims)
    }

    /// The JWK Set of every published key.
    pub fn jwks_document(&self) -> serde_json::Value {
        self.0.load().jwks_document()
    }

    /// Verifies against every published key.
    pub fn verify(&self, token: &str) -> Option<AccessClaims> {
        self.0.load().verify(token)
    }

    /// The PASERK document of every published key.
    pub fn paserk_document(&self) -> serde_json::Value {
        self.0.load().paserk_document()
    }

    /// The id of the signing key.
    pub fn signing_kid(&self) -> String {
        self.0.load().signing_kid().to_string()
    }
}

/// One key file, for `authgate key list`.
#[derive(Clone, Debug)]
pub struct KeyFile {
    /// Unix seconds the key was created (from its file name).
    pub created_at: u64,
    /// The file.
    pub path: PathBuf,
}

/// The key files in `DATA_DIR/keys`, oldest first.
pub fn key_files(data_dir: &Path) -> Result<Vec<KeyFile>, KeyError> {
    let dir = data_dir.join("keys");
    let entries = fs::read_dir(&dir).map_err(|source| KeyError::Io {
        path: dir.clone(),
        source,
    })?;
    let mut files: Vec<KeyFile> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "secret"))
        .map(|path| KeyFile {
            created_at: path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            path,
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Creates a new signing key. Key files are named by their creation second, so this
/// waits for the next second if a key was already made in this one.
pub fn rotate(data_dir: &Path) -> Result<(), KeyError> {
    let dir = data_dir.join("keys");
    fs::create_dir_all(&dir).map_err(|source| KeyError::Io {
        path: dir.clone(),
        source,
    })?;
    for _ in 0..30 {
        let now = crate::clock::now();
        if !dir.join(format!("{now:012}.secret")).exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    KeyRing::generate(&dir)?;
    Ok(())
}

/// Moves keys whose successor has signed for longer than `max_token_ttl` (+60 s) to
/// `keys/retired/`: no unexpired token can name them any more. Returns how many.
pub fn retire_old(data_dir: &Path, max_token_ttl: u64, now: u64) -> Result<usize, KeyError> {
    let files = key_files(data_dir)?;
    let retired = data_dir.join("keys").join("retired");
    let mut n = 0;
    for pair in files.windows(2) {
        let successor_since = pair[1].created_at;
        if successor_since > 0 && successor_since + max_token_ttl + 60 < now {
            fs::create_dir_all(&retired).map_err(|source| KeyError::Io {
                path: retired.clone(),
                source,
            })?;
            let name = pair[0]
                .path
                .file_name()
                .map(PathBuf::from)
                .unwrap_or_default();
            fs::rename(&pair[0].path, retired.join(name)).map_err(|source| KeyError::Io {
                path: pair[0].path.clone(),
                source,
            })?;
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_signs_with_the_new_key_and_keeps_the_old_published() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::new(KeyRing::load_or_create(dir.path()).unwrap());
        let old = keys.signing_kid();
        rotate(dir.path()).unwrap();
        keys.replace(KeyRing::load_or_create(dir.path()).unwrap());
        let new = keys.signing_kid();
        assert_ne!(old, new);
        assert_eq!(keys.ring().kids(), vec![old.clone(), new.clone()]);
        // Not yet: the old key's tokens may still be live.
        let files = key_files(dir.path()).unwrap();
        let made = files[1].created_at;
        assert_eq!(retire_old(dir.path(), 900, made + 100).unwrap(), 0);
        assert_eq!(retire_old(dir.path(), 900, made + 1000).unwrap(), 1);
        keys.replace(KeyRing::load_or_create(dir.path()).unwrap());
        assert_eq!(keys.ring().kids(), vec![new]);
    }
}
