//! Operations behind the `authgate user|client` admin commands.
//!
//! Each change commits together with its audit record, and takes the security
//! consequences with it in the same transaction: a new password, a disabled or
//! deleted user ends that user's browser sessions; disabling or deleting a user or
//! a client revokes their grants (refresh stops, access tokens introspect inactive).

use redb::ReadableTable;

use super::audit::append;
use super::records::{Client, User};
use super::tables::{CLIENTS, GRANTS, USERS};
use super::{RedbStore, StoreError, Tx};
use crate::store::{Admin, AuditEvent, ClientChange, Clients, Consequences};

fn end_sessions(tx: &Tx<'_>, user_id: &str) -> Result<usize, StoreError> {
    super::sessions::end_user_sessions_where(tx, user_id, |_| true)
}

/// Revokes every unrevoked grant of client `client_id`, in the caller's
/// transaction. A scan of the grants table: only the `client disable|delete` admin
/// commands use it (users' grants go through the by-user index).
fn revoke_client_grants(tx: &Tx<'_>, client_id: &str, now: u64) -> Result<usize, StoreError> {
    let mut targets = Vec::new();
    {
        let table = tx.txn().open_table(GRANTS.def())?;
        for entry in table.iter()? {
            let (_, v) = entry?;
            let g = GRANTS.decode(v.value())?;
            if !g.revoked && g.client_id == client_id {
                targets.push(g);
            }
        }
    }
    let n = targets.len();
    for g in targets {
        super::grants::revoke(tx, g, now)?;
    }
    Ok(n)
}

impl Admin for RedbStore {
    /// Adds a user unless the name is taken; returns whether it did.
    async fn admin_add_user(&self, user: User, event: AuditEvent) -> Result<bool, StoreError> {
        self.writer
            .write(move |tx| {
                if tx.get(USERS, user.username.as_str())?.is_some() {
                    return Ok(false);
                }
                tx.put(USERS, user.username.as_str(), &user)?;
                append(tx, event.clone())?;
                Ok(true)
            })
            .await
    }

    /// Sets a user's password hash and ends their sessions. `None`: no such user.
    async fn admin_set_password(
        &self,
        username: String,
        hash: String,
        event: AuditEvent,
    ) -> Result<Option<Consequences>, StoreError> {
        self.writer
            .write(move |tx| {
                let Some(mut user) = tx.get(USERS, username.as_str())? else {
                    return Ok(None);
                };
                user.password_hash = hash.clone();
                tx.put(USERS, username.as_str(), &user)?;
                let sessions = end_sessions(tx, &user.id)?;
                append(tx, event.clone())?;
                Ok(Some(Consequences {
                    sessions,
                    grants: 0,
                }))
            })
            .await
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
        self.writer
            .write(move |tx| {
                let Some(mut user) = tx.get(USERS, username.as_str())? else {
                    return Ok(None);
                };
                let mut done = Consequences::default();
                if disabled || delete {
                    done.sessions = end_sessions(tx, &user.id)?;
                    done.grants = super::grants::revoke_user(tx, &user.id, event.at)?;
                }
                if delete {
                    tx.remove(USERS, username.as_str())?;
                } else {
                    user.disabled = disabled;
                    tx.put(USERS, username.as_str(), &user)?;
                }
                append(tx, event.clone())?;
                Ok(Some(done))
            })
            .await
    }

    /// Grants or withdraws the admin role; returns whether the user exists.
    async fn admin_set_role(
        &self,
        username: String,
        admin: bool,
        event: AuditEvent,
    ) -> Result<bool, StoreError> {
        self.writer
            .write(move |tx| {
                let Some(mut user) = tx.get(USERS, username.as_str())? else {
                    return Ok(false);
                };
                user.admin = admin;
                tx.put(USERS, username.as_str(), &user)?;
                append(tx, event.clone())?;
                Ok(true)
            })
            .await
    }

    /// Registers a client unless the id is taken; returns whether it did.
    async fn admin_add_client(
        &self,
        client: Client,
        event: AuditEvent,
    ) -> Result<bool, StoreError> {
        let clients = self.clients.clone();
        self.writer
            .write_then(
                move |tx| {
                    if tx.get(CLIENTS, client.id.as_str())?.is_some() {
                        return Ok(false);
                    }
                    tx.put(CLIENTS, client.id.as_str(), &client)?;
                    append(tx, event.clone())?;
                    Ok(true)
                },
                move |_| clients.invalidate(),
            )
            .await
    }

    /// Applies `change` to client `id`; returns the grants revoked, `None` if there
    /// is no such client.
    async fn admin_change_client(
        &self,
        id: String,
        change: ClientChange,
        event: AuditEvent,
    ) -> Result<Option<usize>, StoreError> {
        let clients = self.clients.clone();
        self.writer
            .write_then(
                move |tx| {
                    let Some(mut client) = tx.get(CLIENTS, id.as_str())? else {
                        return Ok(None);
                    };
                    let mut revoked = 0;
                    match change {
                        ClientChange::Disable | ClientChange::Delete => {
                            revoked = revoke_client_grants(tx, &id, event.at)?;
                            client.disabled = true;
                        }
                        ClientChange::Enable => client.disabled = false,
                        ClientChange::SetSecret(hash) => client.secret_hash = Some(hash),
                        ClientChange::Update(ref patch) => patch.apply(&mut client),
                    }
                    if matches!(change, ClientChange::Delete) {
                        tx.remove(CLIENTS, id.as_str())?;
                    } else {
                        tx.put(CLIENTS, id.as_str(), &client)?;
                    }
                    append(tx, event.clone())?;
                    Ok(Some(revoked))
                },
                move |_| clients.invalidate(),
            )
            .await
    }

    /// Waits until every write queued before this call is durable (shutdown).
    async fn flush(&self) -> Result<(), StoreError> {
        self.writer.write(|_| Ok(())).await
    }

    /// The longest access-token lifetime any client can get, given the default:
    /// how long a retired signing key must stay published.
    async fn max_access_ttl(&self, default: u64) -> Result<u64, StoreError> {
        Ok(self
            .clients()
            .await?
            .iter()
            .filter_map(|c| c.access_ttl)
            .fold(default, u64::max))
    }
}
