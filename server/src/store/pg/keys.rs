//! Server-wide secrets on PostgreSQL (the `meta` table): the counterpart of the redb
//! backend's `Secrets`. The CSRF key must be the same on every instance, or a form
//! rendered by one would be refused by another.

use super::{PgError, PgStore};
use crate::store::{Secrets, StoreError};

/// A server-wide secret, created with `init` on first use and stable afterwards,
/// the same on every instance: of instances starting together, the first insert
/// wins (`ON CONFLICT DO NOTHING`) and every one reads back the winner's value.
async fn meta_secret(db: &PgStore, name: &'static str, init: Vec<u8>) -> Result<Vec<u8>, PgError> {
    let client = db.conn().await?;
    client
        .execute(
            "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&name, &init],
        )
        .await?;
    let row = client
        .query_one("SELECT value FROM meta WHERE name = $1", &[&name])
        .await?;
    Ok(row.try_get(0)?)
}

impl Secrets for PgStore {
    /// A server-wide secret, created with `init` on first use and stable afterwards,
    /// the same on every instance: of instances starting together, the first insert
    /// wins (`ON CONFLICT DO NOTHING`) and every one reads back the winner's value.
    async fn meta_secret(&self, name: &'static str, init: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        Ok(meta_secret(self, name, init).await?)
    }
}
