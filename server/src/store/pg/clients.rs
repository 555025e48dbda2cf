//! OAuth clients on PostgreSQL, read through this instance's cache.
//!
//! Every OAuth request looks up its client, so the hot token path must not pay a
//! round trip for it: lookups are served from [`super::cache::ClientCache`], which
//! the instance's listener ([`super::notify`]) keeps in step with changes made
//! through any instance (LISTEN/NOTIFY), and bypasses whenever it cannot vouch for
//! it (its listening connection is down).

use std::sync::Arc;

use tokio_postgres::Row;

use super::{PgError, PgStore, to_array, to_u64};
use crate::store::records::{Client, DpopMode};
use crate::store::{Clients, StoreError};

/// The columns a [`Client`] is read from, in [`client_from_row`]'s order.
const CLIENT_COLUMNS: &str = "id, name, secret_hash, scopes, grant_types, disabled, \
     access_ttl, refresh_ttl, created_at, audiences, dpop";

/// A client from a row selected with [`CLIENT_COLUMNS`].
fn client_from_row(row: &Row) -> Result<Client, PgError> {
    const T: &str = "clients";
    let secret: Option<&[u8]> = row.try_get(2)?;
    let access: Option<i64> = row.try_get(6)?;
    let refresh: Option<i64> = row.try_get(7)?;
    Ok(Client {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        secret_hash: secret.map(|s| to_array(s, T)).transpose()?,
        scopes: row.try_get(3)?,
        grant_types: row.try_get(4)?,
        disabled: row.try_get(5)?,
        access_ttl: access.map(|t| to_u64(t, T)).transpose()?,
        refresh_ttl: refresh.map(|t| to_u64(t, T)).transpose()?,
        created_at: to_u64(row.try_get(8)?, T)?,
        audiences: row.try_get(9)?,
        dpop: dpop_mode(row.try_get(10)?)?,
    })
}

impl Clients for PgStore {
    /// The client with this id: from this instance's memory after the first lookup,
    /// while its listener is connected; a change committed through any instance
    /// evicts it everywhere as soon as the notification arrives.
    async fn client(&self, id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        let (cached, generation) = self.shared.clients.get(id);
        if cached.is_some() {
            return Ok(cached);
        }
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                &conn
                    .prepare_cached(&format!(
                        "SELECT {CLIENT_COLUMNS} FROM clients WHERE id = $1"
                    ))
                    .await?,
                &[&id],
            )
            .await?;
        let Some(client) = row.as_ref().map(client_from_row).transpose()? else {
            return Ok(None);
        };
        let client = Arc::new(client);
        if let Some(generation) = generation {
            self.shared.clients.fill(client.clone(), generation);
        }
        Ok(Some(client))
    }

    /// Every client, for admin listings, by id (the redb backend's order).
    async fn clients(&self) -> Result<Vec<Client>, StoreError> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                &conn
                    .prepare_cached(&format!("SELECT {CLIENT_COLUMNS} FROM clients ORDER BY id"))
                    .await?,
                &[],
            )
            .await?;
        Ok(rows.iter().map(client_from_row).collect::<Result<_, _>>()?)
    }
}

/// A `clients.dpop` column as the record's mode.
pub(super) fn dpop_mode(column: &str) -> Result<DpopMode, PgError> {
    match column {
        "optional" => Ok(DpopMode::Optional),
        "required" => Ok(DpopMode::Required),
        other => Err(PgError::Corrupt {
            table: "clients",
            reason: format!("unknown dpop mode {other:?}"),
        }),
    }
}
