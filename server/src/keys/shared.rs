//! Keys shared through PostgreSQL (issue 13). With `--database-url`, the ring lives
//! in the `signing_keys` table (`crate::store::pg::signing`) instead of
//! `DATA_DIR/keys`: every instance signs with the same newest key and publishes the
//! same PASERK set. A rotation or retirement bumps a version counter; every instance
//! polls it ([`follow_shared`]) and reloads within [`FOLLOW_PERIOD`]. The file
//! functions of `super` are unchanged and still serve redb deployments.
//!
//! `run.rs` builds a `KeySource` (files or shared), loads the ring from it, spawns
//! [`follow_shared`] on PostgreSQL, and retires old keys through the source on the
//! sweeper tick.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Keys, key_files, retire_old, rotate};
use crate::store::pg::PgStore;
use crate::store::pg::signing::{NewKey, RingSnapshot};
use crate::tokens::{KeyError, KeyRing};

/// How often an instance checks whether the shared ring changed: a rotation through
/// any instance (or `authgate key rotate --database-url`) signs everywhere within
/// about this long.
pub const FOLLOW_PERIOD: std::time::Duration = std::time::Duration::from_secs(2);

/// Where the signing keys live; what `run.rs` and the admin key commands act on.
#[derive(Clone)]
pub enum KeySource {
    /// Files in `DATA_DIR/keys` (the redb deployment, as before).
    Files(PathBuf),
    /// The `signing_keys` table shared by every instance. `data_dir` is read only
    /// when the table is empty, to import its key files (moving from one instance
    /// to many keeps the keys every device's tokens name).
    Shared {
        /// The database.
        store: PgStore,
        /// The data directory whose `keys/*.secret` files seed an empty table.
        data_dir: PathBuf,
    },
}

/// One published key, for `authgate key list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// `k4.pid…`.
    pub kid: String,
    /// Unix seconds it was created.
    pub created_at: u64,
    /// Whether it is the one that signs (the newest).
    pub signing: bool,
}

impl KeySource {
    /// Where the keys of a server using `store` live: the shared table with
    /// PostgreSQL, `data_dir`'s files with redb.
    pub fn of(store: &crate::store::Store, data_dir: &Path) -> Self {
        match store {
            crate::store::Store::Postgres(pg) => KeySource::Shared {
                store: pg.clone(),
                data_dir: data_dir.to_path_buf(),
            },
            crate::store::Store::Redb(_) => KeySource::Files(data_dir.to_path_buf()),
        }
    }

    /// The ring, created on first use: for files, as [`KeyRing::load_or_create`];
    /// shared, from the table, which is first filled (race-safe across instances)
    /// with the data directory's key files if there are any, else one new key.
    pub async fn load(&self) -> Result<KeyRing, KeyError> {
        match self {
            KeySource::Files(dir) => KeyRing::load_or_create(dir),
            KeySource::Shared { store, data_dir } => {
                let mut snapshot = store.signing_keys().await?;
                if snapshot.keys.is_empty() {
                    let first = first_keys(data_dir)?;
                    if store.init_signing_keys(&first).await? {
                        tracing::info!(keys = first.len(), "stored the first shared signing keys");
                    }
                    snapshot = store.signing_keys().await?;
                }
                ring_of(&snapshot)
            }
        }
    }

    /// Adds a new signing key and returns the ring with it. Older keys stay
    /// published until [`KeySource::retire_old`] retires them.
    pub async fn rotate(&self) -> Result<KeyRing, KeyError> {
        match self {
            KeySource::Files(dir) => {
                rotate(dir)?;
                KeyRing::load_or_create(dir)
            }
            KeySource::Shared { store, .. } => {
                store.add_signing_key(&new_key()?).await?;
                ring_of(&store.signing_keys().await?)
            }
        }
    }

    /// The published keys, oldest first.
    pub async fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let (kids, created): (Vec<String>, Vec<u64>) = match self {
            KeySource::Files(dir) => {
                let files = key_files(dir)?;
                let kids = KeyRing::load_or_create(dir)?.kids();
                (kids, files.iter().map(|f| f.created_at).collect())
            }
            KeySource::Shared { store, .. } => {
                let keys = store.signing_keys().await?.keys.into_iter();
                keys.map(|k| (k.kid, k.created_at)).unzip()
            }
        };
        let last = kids.len();
        Ok(kids
            .into_iter()
            .zip(created)
            .enumerate()
            .map(|(i, (kid, created_at))| KeyInfo {
                kid,
                created_at,
                signing: i + 1 == last,
            })
            .collect())
    }

    /// Retires the keys no unexpired token can name (see [`retire_old`]); returns how
    /// many. Shared: every instance may call it, the ring lock makes it happen once.
    pub async fn retire_old(&self, max_token_ttl: u64, now: u64) -> Result<usize, KeyError> {
        match self {
            KeySource::Files(dir) => retire_old(dir, max_token_ttl, now),
            KeySource::Shared { store, .. } => {
                Ok(store.retire_signing_keys(max_token_ttl, now).await?)
            }
        }
    }
}

impl KeySource {
    /// The sweeper tick's retirement: retires what [`KeySource::retire_old`] would
    /// and, if any key went, swaps the smaller ring into `keys` at once (shared:
    /// other instances follow within [`FOLLOW_PERIOD`]). Returns how many.
    pub async fn retire_and_reload(
        &self,
        keys: &Keys,
        max_token_ttl: u64,
        now: u64,
    ) -> Result<usize, KeyError> {
        let n = self.retire_old(max_token_ttl, now).await?;
        if n > 0 {
            keys.replace(self.load().await?);
        }
        Ok(n)
    }
}

/// A ring of the keys in `snapshot`.
fn ring_of(snapshot: &RingSnapshot) -> Result<KeyRing, KeyError> {
    let secrets: Vec<(PathBuf, String)> = snapshot
        .keys
        .iter()
        .map(|k| {
            (
                PathBuf::from(format!("signing_keys/{}", k.kid)),
                k.secret.clone(),
            )
        })
        .collect();
    KeyRing::from_secrets(&secrets)
}

/// A new key, to be stored in the shared table.
fn new_key() -> Result<NewKey, KeyError> {
    let secret = KeyRing::new_secret()?;
    let kid = KeyRing::kid_of(&secret).ok_or(KeyError::Generate)?;
    Ok(NewKey {
        kid,
        secret,
        created_at: crate::clock::now(),
    })
}

/// What an empty shared table is filled with: the published key files of
/// `data_dir` (oldest first), or one new key when there are none.
fn first_keys(data_dir: &Path) -> Result<Vec<NewKey>, KeyError> {
    let files = match key_files(data_dir) {
        Ok(files) => files,
        Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let mut keys = Vec::new();
    for f in files {
        let secret = fs::read_to_string(&f.path).map_err(|source| KeyError::Io {
            path: f.path.clone(),
            source,
        })?;
        let secret = secret.trim().to_string();
        let kid = KeyRing::kid_of(&secret).ok_or_else(|| KeyError::Invalid(f.path.clone()))?;
        keys.push(NewKey {
            kid,
            secret,
            created_at: f.created_at,
        });
    }
    if keys.is_empty() {
        keys.push(new_key()?);
    }
    Ok(keys)
}

/// Keeps `keys` in step with the shared ring: every `period`, reads the ring
/// version and reloads when it changed. Never returns (spawn it, and drop or abort
/// it at shutdown). While the database is unreachable it keeps the ring it has (and
/// keeps signing with it) and tries again at the next tick.
pub async fn follow_shared(store: PgStore, keys: &Keys, period: std::time::Duration) {
    let mut seen: Option<i64> = None;
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match store.signing_key_version().await {
            Ok(v) if Some(v) == seen => continue,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("cannot check the shared signing keys: {e}");
                continue;
            }
        }
        let loaded = store
            .signing_keys()
            .await
            .map_err(KeyError::from)
            .and_then(|snapshot| Ok((snapshot.version, ring_of(&snapshot)?)));
        match loaded {
            Ok((version, ring)) => {
                if seen.is_some() {
                    tracing::info!(
                        kid = ring.signing_kid(),
                        version,
                        "reloaded the shared signing keys"
                    );
                }
                keys.replace(ring);
                seen = Some(version);
            }
            Err(e) => tracing::error!("cannot reload the shared signing keys: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_file_source_keeps_the_data_directory_behaviour() {
        let dir = tempfile::tempdir().unwrap();
        let source = KeySource::Files(dir.path().to_path_buf());
        let keys = Keys::new(source.load().await.unwrap());
        let old = keys.signing_kid();
        let ring = source.rotate().await.unwrap();
        let new = ring.signing_kid().to_string();
        keys.replace(ring);
        assert_ne!(old, new);
        assert_eq!(key_files(dir.path()).unwrap().len(), 2, "one file per key");
        let listed = source.list().await.unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|k| (k.kid.as_str(), k.signing))
                .collect::<Vec<_>>(),
            vec![(old.as_str(), false), (new.as_str(), true)]
        );
        let made = listed[1].created_at;
        assert_eq!(
            source
                .retire_and_reload(&keys, 900, made + 100)
                .await
                .unwrap(),
            0
        );
        assert_eq!(keys.ring().kids().len(), 2);
        assert_eq!(
            source
                .retire_and_reload(&keys, 900, made + 1000)
                .await
                .unwrap(),
            1
        );
        assert_eq!(keys.ring().kids(), vec![new]);
        assert!(dir.path().join("keys/retired").is_dir(), "moved, as before");
    }
}
