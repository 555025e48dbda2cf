//! Users on PostgreSQL: lookups, listings, the first-run bootstrap, and the
//! standing rule's input read under a row lock.
//!
//! No cache, by choice: users are read at sign-in (where the argon2 check costs
//! tens of milliseconds, a read nothing), on account pages, and inside the writes
//! that hand out tokens or sessions, which must read the row under a lock anyway.
//! A cache would buy nothing measurable and would open a window in which a
//! disabled user is still accepted somewhere; without one, a disable committed on
//! any instance is refused on every instance by the next read.

use tokio_postgres::Row;

use super::notify::{Change, notify_change};
use super::{PgError, PgStore, to_i64, to_u64};
use crate::grant::Standing;
use crate::store::records::{Client, User};
use crate::store::{StoreError, Users};

/// The columns a [`User`] is read from, in [`user_from_row`]'s order.
const USER_COLUMNS: &str = "id, username, password_hash, disabled, created_at, admin";

/// Any constant key for `pg_advisory_xact_lock`: serializes first-run bootstraps
/// of instances starting together ("AGboot" in ASCII).
const BOOTSTRAP_LOCK: i64 = 0x4147_626f_6f74;

/// A user from a row selected with [`USER_COLUMNS`].
fn user_from_row(row: &Row) -> Result<User, PgError> {
    Ok(User {
        id: row.try_get(0)?,
        username: row.try_get(1)?,
        password_hash: row.try_get(2)?,
        disabled: row.try_get(3)?,
        created_at: to_u64(row.try_get(4)?, "users")?,
        admin: row.try_get(5)?,
    })
}

/// The standing of user `user_id` (login `username`), read under a share lock on
/// their row inside the write that would hand them tokens or a session: a disable
/// committed by any instance first is seen, and one committed later waits for
/// this transaction. The rule itself is [`Standing::of`].
pub(crate) async fn standing(
    tx: &deadpool_postgres::Transaction<'_>,
    user_id: &str,
    username: &str,
) -> Result<Standing, PgError> {
    let row = tx
        .query_opt(
            &tx.prepare_cached("SELECT id, disabled FROM users WHERE username = $1 FOR SHARE")
                .await?,
            &[&username],
        )
        .await?;
    let found = row
        .as_ref()
        .map(|r| -> Result<(String, bool), PgError> { Ok((r.try_get(0)?, r.try_get(1)?)) })
        .transpose()?;
    Ok(Standing::of(
        user_id,
        found
            .as_ref()
            .map(|(id, disabled)| (id.as_str(), *disabled)),
    ))
}

/// Inserts `client` unless its id is taken (the caller's transaction), and tells
/// every instance; returns whether it did. Shared with the admin commands.
pub(crate) async fn insert_client(
    tx: &deadpool_postgres::Transaction<'_>,
    c: &Client,
) -> Result<bool, PgError> {
    let secret = c.secret_hash.as_ref().map(|h| h.as_slice());
    let access_ttl = c.access_ttl.map(|t| to_i64(t, "access ttl")).transpose()?;
    let refresh_ttl = c
        .refresh_ttl
        .map(|t| to_i64(t, "refresh ttl"))
        .transpose()?;
    let device_ttl = c
        .device_code_ttl
        .map(|t| to_i64(t, "device code ttl"))
        .transpose()?;
    let interval = c
        .poll_interval
        .map(|t| to_i64(t, "poll interval"))
        .transpose()?;
    let n = tx
        .execute(
            &tx.prepare_cached(
                "INSERT INTO clients (id, name, secret_hash, scopes, grant_types, disabled,
                                  access_ttl, refresh_ttl, created_at, audiences, dpop,
                                  redirect_uris, access_token_format, device_code_ttl,
                                  poll_interval, user_code_format)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
             ON CONFLICT (id) DO NOTHING",
            )
            .await?,
            &[
                &c.id,
                &c.name,
                &secret,
                &c.scopes,
                &c.grant_types,
                &c.disabled,
                &access_ttl,
                &refresh_ttl,
                &to_i64(c.created_at, "client creation time")?,
                &c.audiences,
                &c.dpop.as_str(),
                &c.redirect_uris,
                &c.access_token_format.as_str(),
                &device_ttl,
                &interval,
                &c.user_code_format.as_str(),
            ],
        )
        .await?;
    if n > 0 {
        notify_change(tx, Change::Client(&c.id)).await?;
    }
    Ok(n > 0)
}

/// Inserts `user` unless the login name (or id) is taken (the caller's
/// transaction), and tells every instance; returns whether it did. Shared with
/// the admin commands.
pub(crate) async fn insert_user(
    tx: &deadpool_postgres::Transaction<'_>,
    u: &User,
) -> Result<bool, PgError> {
    let n = tx
        .execute(
            &tx.prepare_cached(
                "INSERT INTO users (id, username, password_hash, disabled, created_at, admin)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT DO NOTHING",
            )
            .await?,
            &[
                &u.id,
                &u.username,
                &u.password_hash,
                &u.disabled,
                &to_i64(u.created_at, "user creation time")?,
                &u.admin,
            ],
        )
        .await?;
    if n > 0 {
        notify_change(tx, Change::User(&u.id)).await?;
    }
    Ok(n > 0)
}

impl Users for PgStore {
    /// The user with this login name, as committed now (no cache: see the module).
    async fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        let client = self.conn().await?;
        let row = client
            .query_opt(
                &client
                    .prepare_cached(&format!(
                        "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
                    ))
                    .await?,
                &[&username],
            )
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    /// Every user, for admin listings, by login name (the redb backend's order).
    async fn users(&self) -> Result<Vec<User>, StoreError> {
        let client = self.conn().await?;
        let rows = client
            .query(
                &client
                    .prepare_cached(&format!(
                        "SELECT {USER_COLUMNS} FROM users ORDER BY username"
                    ))
                    .await?,
                &[],
            )
            .await?;
        Ok(rows.iter().map(user_from_row).collect::<Result<_, _>>()?)
    }

    /// Creates a user and clients together if no user exists yet (first run), in
    /// one transaction so a crash can't leave half a bootstrap. Instances starting
    /// together take an advisory lock first: exactly one bootstraps. Returns whether
    /// this one did.
    async fn bootstrap(&self, admin: User, clients: Vec<Client>) -> Result<bool, StoreError> {
        let mut client = self.conn().await?;
        let tx = client.transaction().await?;
        tx.execute(
            &tx.prepare_cached("SELECT pg_advisory_xact_lock($1)")
                .await?,
            &[&BOOTSTRAP_LOCK],
        )
        .await?;
        let any = tx
            .query_opt(
                &tx.prepare_cached("SELECT 1 FROM users LIMIT 1").await?,
                &[],
            )
            .await?
            .is_some();
        if any {
            return Ok(false);
        }
        insert_user(&tx, &admin).await?;
        for c in &clients {
            insert_client(&tx, c).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
