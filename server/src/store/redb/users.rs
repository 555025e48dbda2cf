//! Users: lookups, listings, first-run bootstrap, and the standing rule's input.

use redb::ReadableTableMetadata;

use super::records::{Client, User};
use super::tables::{CLIENTS, USERS};
use super::{RedbStore, StoreError, Tx};
use crate::grant::Standing;
use crate::store::Users;

/// The standing of user `user_id` (login `username`), read inside the write that
/// would hand that user tokens or a session, so a disable committed first always
/// wins. The rule itself is [`Standing::of`].
pub(super) fn standing(tx: &Tx<'_>, user_id: &str, username: &str) -> Result<Standing, StoreError> {
    let user = tx.get(USERS, username)?;
    Ok(Standing::of(
        user_id,
        user.as_ref().map(|u| (u.id.as_str(), u.disabled)),
    ))
}

impl Users for RedbStore {
    /// The user with this login name.
    async fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.get(USERS, username)
    }

    /// Every user, for admin listings.
    async fn users(&self) -> Result<Vec<User>, StoreError> {
        self.scan(USERS)
    }

    /// Creates a user and a client together if no user exists yet (first run), in
    /// one transaction so a crash can't leave half a bootstrap. Returns whether it did.
    async fn bootstrap(&self, admin: User, clients: Vec<Client>) -> Result<bool, StoreError> {
        let cache = self.clients.clone();
        let created = self
            .writer
            .write(move |tx| {
                if tx.txn().open_table(USERS.def())?.len()? > 0 {
                    return Ok(false);
                }
                tx.put(USERS, admin.username.as_str(), &admin)?;
                for c in &clients {
                    if tx.get(CLIENTS, c.id.as_str())?.is_none() {
                        tx.put(CLIENTS, c.id.as_str(), c)?;
                    }
                }
                Ok(true)
            })
            .await;
        // Startup, before anything serves: nothing can race this.
        cache.invalidate();
        created
    }
}
