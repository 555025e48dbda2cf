//! The `authgate user|client` admin operations on PostgreSQL: the counterpart of
//! the redb backend's `Admin`.
//!
//! Each change commits in one transaction with its audit record and its security
//! consequences (sessions ended, grants revoked), and announces itself with
//! `pg_notify` in that same transaction ([`notify`]), so every instance drops its
//! cached copy of the user or client when, and only when, the change commits.

use tokio_postgres::Transaction;
use tokio_postgres::types::ToSql;

use super::audit::{append, counted};
use super::notify::{self, Change};
use super::{PgError, PgStore, to_i64, to_u64};
use crate::store::admin::Consequences;
use crate::store::{Admin, AuditEvent, AuditKind, Client, ClientChange, StoreError, User};

/// Ends every browser session of `user_id`; returns how many.
async fn end_sessions(tx: &Transaction<'_>, user_id: &str) -> Result<usize, PgError> {
    let n = tx
        .execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
        .await?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Revokes every unrevoked grant whose `column` (`user_id` or `client_id`) is
/// `value`; returns how many. Refresh stops at once and their access tokens
/// introspect inactive, as on the redb backend.
async fn revoke_grants(
    tx: &Transaction<'_>,
    column: GrantOwner,
    value: &str,
) -> Result<usize, PgError> {
    let sql = match column {
        GrantOwner::User => "UPDATE grants SET revoked = true WHERE user_id = $1 AND NOT revoked",
        GrantOwner::Client => {
            "UPDATE grants SET revoked = true WHERE client_id = $1 AND NOT revoked"
        }
    };
    let n = tx.execute(sql, &[&value]).await?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Whose grants to revoke.
#[derive(Clone, Copy)]
enum GrantOwner {
    User,
    Client,
}

/// Commits `tx` after appending `event`, then counts the event.
async fn commit_with(
    tx: deadpool_postgres::Transaction<'_>,
    event: &AuditEvent,
) -> Result<(), PgError> {
    let kind: AuditKind = append(&*tx, event).await?;
    tx.commit().await?;
    counted(&kind);
    Ok(())
}

/// An optional `bigint` column from a `u64`.
fn opt_i64(v: Option<u64>, what: &'static str) -> Result<Option<i64>, PgError> {
    v.map(|v| to_i64(v, what)).transpose()
}

/// Adds a user unless the name is taken; returns whether it did.
async fn admin_add_user(db: &PgStore, user: User, event: AuditEvent) -> Result<bool, PgError> {
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    let added = tx
        .execute(
            "INSERT INTO users (id, username, password_hash, disabled, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[
                &user.id,
                &user.username,
                &user.password_hash,
                &user.disabled,
                &to_i64(user.created_at, "user creation time")?,
            ],
        )
        .await?
        == 1;
    if !added {
        return Ok(false);
    }
    notify::notify_change(&tx, Change::User(user.username.clone())).await?;
    commit_with(tx, &event).await?;
    Ok(true)
}

/// Sets a user's password hash and ends their sessions. `None`: no such user.
async fn admin_set_password(
    db: &PgStore,
    username: String,
    hash: String,
    event: AuditEvent,
) -> Result<Option<Consequences>, PgError> {
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    let Some(row) = tx
        .query_opt(
            "UPDATE users SET password_hash = $2 WHERE username = $1 RETURNING id",
            &[&username, &hash],
        )
        .await?
    else {
        return Ok(None);
    };
    let user_id: String = row.try_get(0)?;
    let sessions = end_sessions(&tx, &user_id).await?;
    notify::notify_change(&tx, Change::User(username)).await?;
    commit_with(tx, &event).await?;
    Ok(Some(Consequences {
        sessions,
        grants: 0,
    }))
}

/// Disables (ending sessions and revoking grants) or enables a user, or deletes
/// one (`delete`, same consequences). `None`: no such user.
async fn admin_change_user(
    db: &PgStore,
    username: String,
    disabled: bool,
    delete: bool,
    event: AuditEvent,
) -> Result<Option<Consequences>, PgError> {
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    // The row lock orders this against a redemption reading the approver's
    // standing (`FOR SHARE`) on another instance.
    let Some(row) = tx
        .query_opt(
            "SELECT id FROM users WHERE username = $1 FOR UPDATE",
            &[&username],
        )
        .await?
    else {
        return Ok(None);
    };
    let user_id: String = row.try_get(0)?;
    let mut done = Consequences::default();
    if disabled || delete {
        done.sessions = end_sessions(&tx, &user_id).await?;
        done.grants = revoke_grants(&tx, GrantOwner::User, &user_id).await?;
    }
    if delete {
        tx.execute("DELETE FROM users WHERE id = $1", &[&user_id])
            .await?;
    } else {
        tx.execute(
            "UPDATE users SET disabled = $2 WHERE id = $1",
            &[&user_id, &disabled],
        )
        .await?;
    }
    notify::notify_change(&tx, Change::User(username)).await?;
    commit_with(tx, &event).await?;
    Ok(Some(done))
}

/// Registers a client unless the id is taken; returns whether it did.
async fn admin_add_client(
    db: &PgStore,
    client: Client,
    event: AuditEvent,
) -> Result<bool, PgError> {
    let mut db = db.client().await?;
    let tx = db.transaction().await?;
    let secret = client.secret_hash.as_ref().map(|h| h.as_slice());
    let access_ttl = opt_i64(client.access_ttl, "access token lifetime")?;
    let refresh_ttl = opt_i64(client.refresh_ttl, "refresh token lifetime")?;
    let created_at = to_i64(client.created_at, "client creation time")?;
    let params: [&(dyn ToSql + Sync); 10] = [
        &client.id,
        &client.name,
        &secret,
        &client.scopes,
        &client.grant_types,
        &client.disabled,
        &access_ttl,
        &refresh_ttl,
        &created_at,
        &client.audiences,
    ];
    let added = tx
        .execute(
            "INSERT INTO clients (id, name, secret_hash, scopes, grant_types, disabled,
                                  access_ttl, refresh_ttl, created_at, audiences)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (id) DO NOTHING",
            &params,
        )
        .await?
        == 1;
    if !added {
        return Ok(false);
    }
    notify::notify_change(&tx, Change::Client(client.id.clone())).await?;
    commit_with(tx, &event).await?;
    Ok(true)
}

/// Applies `change` to client `id`; returns the grants revoked, `None` if there
/// is no such client.
async fn admin_change_client(
    db: &PgStore,
    id: String,
    change: ClientChange,
    event: AuditEvent,
) -> Result<Option<usize>, PgError> {
    let mut db = db.client().await?;
    let tx = db.transaction().await?;
    if tx
        .query_opt("SELECT 1 FROM clients WHERE id = $1 FOR UPDATE", &[&id])
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let mut revoked = 0;
    match &change {
        ClientChange::Disable => {
            revoked = revoke_grants(&tx, GrantOwner::Client, &id).await?;
            tx.execute("UPDATE clients SET disabled = true WHERE id = $1", &[&id])
                .await?;
        }
        ClientChange::Delete => {
            revoked = revoke_grants(&tx, GrantOwner::Client, &id).await?;
            tx.execute("DELETE FROM clients WHERE id = $1", &[&id])
                .await?;
        }
        ClientChange::Enable => {
            tx.execute("UPDATE clients SET disabled = false WHERE id = $1", &[&id])
                .await?;
        }
        ClientChange::SetSecret(hash) => {
            tx.execute(
                "UPDATE clients SET secret_hash = $2 WHERE id = $1",
                &[&id, &hash.as_slice()],
            )
            .await?;
        }
    }
    notify::notify_change(&tx, Change::Client(id)).await?;
    commit_with(tx, &event).await?;
    Ok(Some(revoked))
}

/// The longest access-token lifetime any client can get, given the default:
/// how long a retired signing key must stay published.
async fn max_access_ttl(db: &PgStore, default: u64) -> Result<u64, PgError> {
    let client = db.client().await?;
    let row = client
        .query_one("SELECT max(access_ttl) FROM clients", &[])
        .await?;
    let longest: Option<i64> = row.try_get(0)?;
    Ok(match longest {
        Some(v) => default.max(to_u64(v, "clients")?),
        None => default,
    })
}

impl Admin for PgStore {
    /// Adds a user unless the name is taken; returns whether it did.
    async fn admin_add_user(&self, user: User, event: AuditEvent) -> Result<bool, StoreError> {
        Ok(admin_add_user(self, user, event).await?)
    }

    /// Sets a user's password hash and ends their sessions. `None`: no such user.
    async fn admin_set_password(
        &self,
        username: String,
        hash: String,
        event: AuditEvent,
    ) -> Result<Option<Consequences>, StoreError> {
        Ok(admin_set_password(self, username, hash, event).await?)
    }

    /// Disables (ending sessions and revoking grants) or enables a user, or deletes
    /// one (`delete`, same consequences). `None`: no such user.
    async fn admin_change_user(
        &self,
        username: String,
        disabled: bool,
        delete: bool,
        event: AuditEvent,
    ) -> Result<Option<Consequences>, StoreError> {
        Ok(admin_change_user(self, username, disabled, delete, event).await?)
    }

    /// Registers a client unless the id is taken; returns whether it did.
    async fn admin_add_client(
        &self,
        client: Client,
        event: AuditEvent,
    ) -> Result<bool, StoreError> {
        Ok(admin_add_client(self, client, event).await?)
    }

    /// Applies `change` to client `id`; returns the grants revoked, `None` if there
    /// is no such client.
    async fn admin_change_client(
        &self,
        id: String,
        change: ClientChange,
        event: AuditEvent,
    ) -> Result<Option<usize>, StoreError> {
        Ok(admin_change_client(self, id, change, event).await?)
    }

    /// Nothing to wait for: every write above returned only once committed.
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The longest access-token lifetime any client can get, given the default:
    /// how long a retired signing key must stay published.
    async fn max_access_ttl(&self, default: u64) -> Result<u64, StoreError> {
        Ok(max_access_ttl(self, default).await?)
    }
}
