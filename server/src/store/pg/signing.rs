//! The signing key ring shared by every instance: the `signing_keys` table and the
//! one-row `signing_key_ring` version counter.
//!
//! Every change to the ring (the first keys, a rotation, a retirement) locks the
//! counter row `FOR UPDATE`, changes the keys and bumps the version in one
//! transaction: two instances creating the first key at once take turns (the second
//! finds the first's key and adds none), and an instance that sees a new version
//! reads the keys committed with it. Instances poll the version (one indexed row) to
//! learn when to reload (`crate::keys::follow_shared`).
//!
//! The secret is stored as the PASERK `k4.secret` text that the data directory's key
//! files hold, unencrypted like those files: whoever can read the database can sign
//! tokens, as whoever can read the data directory can today.

use tokio_postgres::{IsolationLevel, Transaction};

use super::{PgError, PgStore, to_i64, to_u64};

const TABLE: &str = "signing_keys";

/// A published key as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    /// Its position in the ring: the highest live one signs.
    pub seq: i64,
    /// `k4.pid…`.
    pub kid: String,
    /// The `k4.secret` PASERK text.
    pub secret: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// A key to add to the ring.
#[derive(Clone, Debug)]
pub struct NewKey {
    /// `k4.pid…` of `secret`.
    pub kid: String,
    /// The `k4.secret` PASERK text.
    pub secret: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// The published keys (oldest first) and the ring version, as of one snapshot.
#[derive(Clone, Debug, Default)]
pub struct RingSnapshot {
    /// Bumped by every change of the ring.
    pub version: i64,
    /// Unretired keys, oldest first; the last signs.
    pub keys: Vec<StoredKey>,
}

/// Locks the ring (the counter row) for a change in `tx`.
async fn lock_ring(tx: &Transaction<'_>) -> Result<(), PgError> {
    tx.execute(
        "SELECT version FROM signing_key_ring WHERE one FOR UPDATE",
        &[],
    )
    .await?;
    Ok(())
}

/// Bumps the ring version in `tx`, so every instance reloads once `tx` commits.
async fn bump(tx: &Transaction<'_>) -> Result<(), PgError> {
    tx.execute(
        "UPDATE signing_key_ring SET version = version + 1 WHERE one",
        &[],
    )
    .await?;
    Ok(())
}

async fn insert(tx: &Transaction<'_>, key: &NewKey) -> Result<(), PgError> {
    tx.execute(
        "INSERT INTO signing_keys (kid, secret, created_at) VALUES ($1, $2, $3)",
        &[
            &key.kid,
            &key.secret,
            &to_i64(key.created_at, "key creation time")?,
        ],
    )
    .await?;
    Ok(())
}

impl PgStore {
    /// The ring version alone: what every instance polls.
    pub async fn signing_key_version(&self) -> Result<i64, PgError> {
        let client = self.conn().await?;
        let row = client
            .query_one("SELECT version FROM signing_key_ring WHERE one", &[])
            .await?;
        Ok(row.try_get(0)?)
    }

    /// The published keys and the ring version, read in one snapshot.
    pub async fn signing_keys(&self) -> Result<RingSnapshot, PgError> {
        let mut client = self.conn().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let version: i64 = tx
            .query_one("SELECT version FROM signing_key_ring WHERE one", &[])
            .await?
            .try_get(0)?;
        let rows = tx
            .query(
                "SELECT seq, kid, secret, created_at FROM signing_keys
                  WHERE retired_at IS NULL ORDER BY seq",
                &[],
            )
            .await?;
        tx.commit().await?;
        let keys = rows
            .iter()
            .map(|r| {
                Ok(StoredKey {
                    seq: r.try_get(0)?,
                    kid: r.try_get(1)?,
                    secret: r.try_get(2)?,
                    created_at: to_u64(r.try_get(3)?, TABLE)?,
                })
            })
            .collect::<Result<Vec<_>, PgError>>()?;
        Ok(RingSnapshot { version, keys })
    }

    /// Stores `first` (keys imported from a data directory, or one new key) as the
    /// ring, unless the ring already has a key (another instance made it first).
    /// Returns whether it did.
    pub async fn init_signing_keys(&self, first: &[NewKey]) -> Result<bool, PgError> {
        let mut client = self.conn().await?;
        let tx = client.transaction().await?;
        lock_ring(&tx).await?;
        let live: i64 = tx
            .query_one(
                "SELECT count(*) FROM signing_keys WHERE retired_at IS NULL",
                &[],
            )
            .await?
            .try_get(0)?;
        if live > 0 || first.is_empty() {
            return Ok(false);
        }
        for key in first {
            insert(&tx, key).await?;
        }
        bump(&tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Adds `key` as the new signing key (`authgate key rotate`); the older keys stay
    /// published until retired.
    pub async fn add_signing_key(&self, key: &NewKey) -> Result<(), PgError> {
        let mut client = self.conn().await?;
        let tx = client.transaction().await?;
        lock_ring(&tx).await?;
        insert(&tx, key).await?;
        bump(&tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Retires every key whose successor has signed for longer than `max_token_ttl`
    /// (+60 s of clock skew) at `now`: no unexpired token can name it any more.
    /// The rows stay, unpublished. Returns how many; instances racing to retire the
    /// same keys take turns on the ring lock and the second retires none.
    pub async fn retire_signing_keys(
        &self,
        max_token_ttl: u64,
        now: u64,
    ) -> Result<usize, PgError> {
        let mut client = self.conn().await?;
        let tx = client.transaction().await?;
        lock_ring(&tx).await?;
        let rows = tx
            .query(
                "SELECT seq, created_at FROM signing_keys
                  WHERE retired_at IS NULL ORDER BY seq",
                &[],
            )
            .await?;
        let live = rows
            .iter()
            .map(|r| Ok((r.try_get::<_, i64>(0)?, to_u64(r.try_get(1)?, TABLE)?)))
            .collect::<Result<Vec<_>, PgError>>()?;
        let due: Vec<i64> = live
            .windows(2)
            .filter(|pair| {
                let successor_since = pair[1].1;
                successor_since > 0
                    && successor_since
                        .saturating_add(max_token_ttl)
                        .saturating_add(60)
                        < now
            })
            .map(|pair| pair[0].0)
            .collect();
        if due.is_empty() {
            return Ok(0);
        }
        tx.execute(
            "UPDATE signing_keys SET retired_at = $2 WHERE seq = ANY($1)",
            &[&due, &to_i64(now, "retirement time")?],
        )
        .await?;
        bump(&tx).await?;
        tx.commit().await?;
        Ok(due.len())
    }
}
