//! OAuth clients on PostgreSQL, read through this instance's cache.
//!
//! Every OAuth request looks up its client, so the hot token path must not pay a
//! round trip for it: lookups are served from [`super::cache::ClientCache`], which
//! the instance's listener ([`super::notify`]) keeps in step with changes made
//! through any instance (LISTEN/NOTIFY), and bypasses whenever it cannot vouch for
//! it (its listening connection is down).

use std::sync::Arc;

use tokio_postgres::Row;

use super::{PgError, PgStore, to_array, to_i64, to_u64};
use crate::store::records::{AccessTokenFormat, Client, DpopMode, UserCodeFormat};
use crate::store::{Clients, StoreError};

/// The columns a [`Client`] is read from, in [`client_from_row`]'s order (the
/// dump's export query lists the same).
const CLIENT_COLUMNS: &str = "id, name, secret_hash, scopes, grant_types, disabled, \
     access_ttl, refresh_ttl, created_at, audiences, dpop, redirect_uris, \
     access_token_format, device_code_ttl, poll_interval, user_code_format";

/// A client from a row selected with [`CLIENT_COLUMNS`].
pub(super) fn client_from_row(row: &Row) -> Result<Client, PgError> {
    const T: &str = "clients";
    let secret: Option<&[u8]> = row.try_get(2)?;
    let access: Option<i64> = row.try_get(6)?;
    let refresh: Option<i64> = row.try_get(7)?;
    let device_ttl: Option<i64> = row.try_get(13)?;
    let interval: Option<i64> = row.try_get(14)?;
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
        redirect_uris: row.try_get(11)?,
        access_token_format: named(row.try_get(12)?, AccessTokenFormat::parse)?,
        device_code_ttl: device_ttl.map(|t| to_u64(t, T)).transpose()?,
        poll_interval: interval.map(|t| to_u64(t, T)).transpose()?,
        user_code_format: named(row.try_get(15)?, UserCodeFormat::parse)?,
    })
}

/// Client `id` read inside `tx`, its row locked (`FOR UPDATE`) until it commits.
pub(super) async fn select_client_in(
    tx: &deadpool_postgres::Transaction<'_>,
    id: &str,
) -> Result<Option<Client>, PgError> {
    let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE id = $1 FOR UPDATE");
    let row = tx.query_opt(&sql, &[&id]).await?;
    row.as_ref().map(client_from_row).transpose()
}

/// Writes every editable setting of `c` to its row (the caller notifies).
pub(super) async fn update_client_settings(
    tx: &deadpool_postgres::Transaction<'_>,
    c: &Client,
) -> Result<(), PgError> {
    let ttl = |t: Option<u64>, what| t.map(|t| to_i64(t, what)).transpose();
    tx.execute(
        "UPDATE clients SET name = $2, scopes = $3, grant_types = $4, access_ttl = $5,
                refresh_ttl = $6, dpop = $7, redirect_uris = $8, access_token_format = $9,
                device_code_ttl = $10, poll_interval = $11, user_code_format = $12
          WHERE id = $1",
        &[
            &c.id,
            &c.name,
            &c.scopes,
            &c.grant_types,
            &ttl(c.access_ttl, "access ttl")?,
            &ttl(c.refresh_ttl, "refresh ttl")?,
            &c.dpop.as_str(),
            &c.redirect_uris,
            &c.access_token_format.as_str(),
            &ttl(c.device_code_ttl, "device code ttl")?,
            &ttl(c.poll_interval, "poll interval")?,
            &c.user_code_format.as_str(),
        ],
    )
    .await?;
    Ok(())
}

/// A text column holding one of an enum's names.
fn named<T>(column: &str, parse: fn(&str) -> Option<T>) -> Result<T, PgError> {
    parse(column).ok_or_else(|| PgError::Corrupt {
        table: "clients",
        reason: format!("unknown setting {column:?}"),
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
