//! The DPoP `jti` replay cache shared by every instance (RFC 9449 §11.1): the
//! UNLOGGED table `dpop_jtis` (migration 0002). One statement per proof: an insert
//! that also takes over an expired row, and returns nothing when an unexpired row
//! holds the key, which is a replay. Two instances inserting the same key at once
//! serialise on the primary key: exactly one gets its row back.

use super::{PgError, PgStore, to_i64};
use crate::dpop::ReplayCache;
use crate::store::StoreError;

impl PgStore {
    /// Remembers proof `key` until `until`; `false` when an unexpired row already
    /// holds it (a replay). `ON CONFLICT … DO UPDATE … WHERE expired` rather than
    /// `DO NOTHING`: a row left behind after its window (the sweep runs every few
    /// minutes) does not refuse a new proof, exactly as the in-memory cache behaves.
    pub async fn remember_dpop_jti(
        &self,
        key: [u8; 32],
        now: u64,
        until: u64,
    ) -> Result<bool, PgError> {
        let client = self.conn().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO dpop_jtis (key, expires_at) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at
                  WHERE dpop_jtis.expires_at <= $3
                 RETURNING 1",
            )
            .await?;
        let row = client
            .query_opt(
                &stmt,
                &[
                    &key.as_slice(),
                    &to_i64(until, "proof expiry")?,
                    &to_i64(now, "time")?,
                ],
            )
            .await?;
        Ok(row.is_some())
    }

    /// Deletes the proofs whose window has passed; returns how many. For the
    /// sweeper (the table is bounded by the proofs of one window in between).
    pub async fn sweep_dpop_jtis(&self, now: u64) -> Result<u64, PgError> {
        let client = self.conn().await?;
        Ok(client
            .execute(
                "DELETE FROM dpop_jtis WHERE expires_at <= $1",
                &[&to_i64(now, "time")?],
            )
            .await?)
    }
}

impl ReplayCache for PgStore {
    async fn insert_fresh(&self, key: [u8; 32], now: u64, until: u64) -> Result<bool, StoreError> {
        Ok(self.remember_dpop_jti(key, now, until).await?)
    }
}

#[cfg(test)]
mod tests {
    use authgate_tests::pg::PgCluster;

    use super::*;

    /// Two instances (two pools) share the cache: a proof accepted by one is a replay
    /// at the other until it expires, concurrent first uses accept exactly one, the
    /// table is UNLOGGED, and the sweep removes only expired rows.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_proof_is_accepted_once_across_instances() {
        let cluster = PgCluster::start().unwrap_or_else(|e| panic!("{e}"));
        let a = PgStore::connect(&cluster.url(), 8).await.unwrap();
        let b = PgStore::connect(&cluster.url(), 8).await.unwrap();
        assert!(a.insert_fresh([1; 32], 100, 160).await.unwrap());
        assert!(!b.insert_fresh([1; 32], 120, 180).await.unwrap(), "replay");
        assert!(!a.insert_fresh([1; 32], 159, 219).await.unwrap(), "replay");
        assert!(b.insert_fresh([1; 32], 160, 220).await.unwrap(), "expired");
        assert!(a.insert_fresh([2; 32], 100, 160).await.unwrap());

        let mut racers = Vec::new();
        for i in 0..16 {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            racers.push(tokio::spawn(async move {
                store.insert_fresh([3; 32], 100, 160).await.unwrap()
            }));
        }
        let mut accepted = 0;
        for r in racers {
            accepted += usize::from(r.await.unwrap());
        }
        assert_eq!(accepted, 1, "concurrent first uses: exactly one wins");

        let client = a.conn().await.unwrap();
        let persistence: i8 = client
            .query_one(
                "SELECT relpersistence::\"char\" FROM pg_class WHERE relname = 'dpop_jtis'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(persistence as u8, b'u', "UNLOGGED");
        // [1] expires at 220, [2] and [3] at 160.
        assert_eq!(a.sweep_dpop_jtis(200).await.unwrap(), 2);
        assert!(!a.insert_fresh([1; 32], 200, 260).await.unwrap());
    }
}
