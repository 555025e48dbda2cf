//! The `authgate user|client` admin operations on PostgreSQL: the counterpart of
//! the redb backend's `Admin`.
//!
//! Each change commits in one transaction with its audit record and its security
//! consequences (sessions ended, grants revoked), and announces itself with
//! `pg_notify` in that same transaction ([`notify`]), so every instance drops its
//! cached copy of the client when, and only when, the change commits. The row
//! writes and their consequences are the shared helpers of [`super::users`],
//! [`super::sessions`] and [`super::grants`], so the admin commands lock and revoke
//! exactly as the request handlers do.

use super::audit::{append, counted};
use super::clients::{select_client_in, update_client_settings};
use super::grants::{revoke_client_in, revoke_user_in};
use super::notify::{self, Change};
use super::sessions::end_user_sessions_in;
use super::users::{insert_client, insert_user};
use super::{PgError, PgStore, to_u64};
use crate::store::admin::Consequences;
use crate::store::{Admin, AuditEvent, Client, ClientChange, StoreError, User};

/// Commits `tx` after appending `event`, then counts the event.
async fn commit_with(
    tx: deadpool_postgres::Transaction<'_>,
    event: &AuditEvent,
) -> Result<(), PgError> {
    let kind = append(&*tx, event).await?;
    tx.commit().await?;
    counted(&kind);
    Ok(())
}

/// Adds a user unless the name is taken; returns whether it did.
async fn add_user(db: &PgStore, user: User, event: AuditEvent) -> Result<bool, PgError> {
    let mut client = db.conn().await?;
    let tx = client.transaction().await?;
    if !insert_user(&tx, &user).await? {
        return Ok(false);
    }
    commit_with(tx, &event).await?;
    Ok(true)
}

/// Sets a user's password hash and ends their sessions. `None`: no such user.
async fn set_password(
    db: &PgStore,
    username: String,
    hash: String,
    event: AuditEvent,
) -> Result<Option<Consequences>, PgError> {
    let mut client = db.conn().await?;
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
    let sessions = end_user_sessions_in(&tx, &user_id, None).await?;
    notify::notify_change(&tx, Change::User(&user_id)).await?;
    commit_with(tx, &event).await?;
    Ok(Some(Consequences {
        sessions,
        grants: 0,
    }))
}

/// Disables (ending sessions and revoking grants) or enables a user, or deletes
/// one (`delete`, same consequences). `None`: no such user.
async fn change_user(
    db: &PgStore,
    username: String,
    disabled: bool,
    delete: bool,
    event: AuditEvent,
) -> Result<Option<Consequences>, PgError> {
    let mut client = db.conn().await?;
    let tx = client.transaction().await?;
    // The row lock orders this against a redemption or a sign-in reading the
    // user's standing (`FOR SHARE`) on any instance.
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
        done.sessions = end_user_sessions_in(&tx, &user_id, None).await?;
        done.grants = revoke_user_in(&tx, &user_id, None, event.at).await?;
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
    notify::notify_change(&tx, Change::User(&user_id)).await?;
    commit_with(tx, &event).await?;
    Ok(Some(done))
}

/// Grants or withdraws the admin role; returns whether the user exists.
async fn set_role(
    db: &PgStore,
    username: String,
    admin: bool,
    event: AuditEvent,
) -> Result<bool, PgError> {
    let mut client = db.conn().await?;
    let tx = client.transaction().await?;
    let Some(row) = tx
        .query_opt(
            "UPDATE users SET admin = $2 WHERE username = $1 RETURNING id",
            &[&username, &admin],
        )
        .await?
    else {
        return Ok(false);
    };
    let user_id: String = row.try_get(0)?;
    notify::notify_change(&tx, Change::User(&user_id)).await?;
    commit_with(tx, &event).await?;
    Ok(true)
}

/// Registers a client unless the id is taken; returns whether it did.
async fn add_client(db: &PgStore, client: Client, event: AuditEvent) -> Result<bool, PgError> {
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    if !insert_client(&tx, &client).await? {
        return Ok(false);
    }
    commit_with(tx, &event).await?;
    Ok(true)
}

/// Applies `change` to client `id`; returns the grants revoked, `None` if there
/// is no such client.
async fn change_client(
    db: &PgStore,
    id: String,
    change: ClientChange,
    event: AuditEvent,
) -> Result<Option<usize>, PgError> {
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    if tx
        .query_opt("SELECT 1 FROM clients WHERE id = $1 FOR UPDATE", &[&id])
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let mut revoked = 0;
    match &change {
        ClientChange::Disable | ClientChange::Delete => {
            revoked = revoke_client_in(&tx, &id, event.at).await?;
            let sql = if matches!(change, ClientChange::Delete) {
                "DELETE FROM clients WHERE id = $1"
            } else {
                "UPDATE clients SET disabled = true WHERE id = $1"
            };
            tx.execute(sql, &[&id]).await?;
        }
        ClientChange::Enable => {
            tx.execute("UPDATE clients SET disabled = false WHERE id = $1", &[&id])
                .await?;
        }
        ClientChange::Update(patch) => {
            let mut client = select_client_in(&tx, &id)
                .await?
                .ok_or_else(|| PgError::Corrupt {
                    table: "clients",
                    reason: format!("client {id} vanished under its row lock"),
                })?;
            patch.apply(&mut client);
            update_client_settings(&tx, &client).await?;
        }
        ClientChange::SetSecret(hash) => {
            tx.execute(
                "UPDATE clients SET secret_hash = $2 WHERE id = $1",
                &[&id, &hash.as_slice()],
            )
            .await?;
        }
    }
    notify::notify_change(&tx, Change::Client(&id)).await?;
    commit_with(tx, &event).await?;
    Ok(Some(revoked))
}

impl Admin for PgStore {
    /// Adds a user unless the name is taken; returns whether it did.
    async fn admin_add_user(&self, user: User, event: AuditEvent) -> Result<bool, StoreError> {
        Ok(add_user(self, user, event).await?)
    }

    /// Sets a user's password hash and ends their sessions. `None`: no such user.
    async fn admin_set_password(
        &self,
        username: String,
        hash: String,
        event: AuditEvent,
    ) -> Result<Option<Consequences>, StoreError> {
        Ok(set_password(self, username, hash, event).await?)
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
        Ok(change_user(self, username, disabled, delete, event).await?)
    }

    /// Grants or withdraws the admin role; returns whether the user exists.
    async fn admin_set_role(
        &self,
        username: String,
        admin: bool,
        event: AuditEvent,
    ) -> Result<bool, StoreError> {
        Ok(set_role(self, username, admin, event).await?)
    }

    /// Registers a client unless the id is taken; returns whether it did.
    async fn admin_add_client(
        &self,
        client: Client,
        event: AuditEvent,
    ) -> Result<bool, StoreError> {
        Ok(add_client(self, client, event).await?)
    }

    /// Applies `change` to client `id`; returns the grants revoked, `None` if there
    /// is no such client.
    async fn admin_change_client(
        &self,
        id: String,
        change: ClientChange,
        event: AuditEvent,
    ) -> Result<Option<usize>, StoreError> {
        Ok(change_client(self, id, change, event).await?)
    }

    /// Nothing to wait for: every write above returned only once committed.
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The longest access-token lifetime any client can get, given the default:
    /// how long a retired signing key must stay published.
    async fn max_access_ttl(&self, default: u64) -> Result<u64, StoreError> {
        let client = self.conn().await?;
        let row = client
            .query_one("SELECT max(access_ttl) FROM clients", &[])
            .await
            .map_err(PgError::from)?;
        let longest: Option<i64> = row.try_get(0).map_err(PgError::from)?;
        Ok(match longest {
            Some(v) => default.max(to_u64(v, "clients")?),
            None => default,
        })
    }
}
