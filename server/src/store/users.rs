//! Users: lookups, listings and the first-run bootstrap.

use super::{Client, StoreError, User};

/// Accounts: lookups and the first-run bootstrap. Part of the storage interface: the handlers call
/// these; [`RedbStore`](super::RedbStore) and [`PgStore`](super::PgStore) implement them.
pub trait Users {
    /// The user with this login name.
    fn user(&self, username: &str)
    -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    /// Every user, for admin listings.
    fn users(&self) -> impl Future<Output = Result<Vec<User>, StoreError>> + Send;

    /// Creates a user and a client together if no user exists yet (first run), in
    /// one transaction so a crash can't leave half a bootstrap. Returns whether it did.
    /// Atomic across instances too: of several bootstrapping one shared database at
    /// once, exactly one returns `true` (on PostgreSQL: the check and the inserts
    /// under one transaction-scoped advisory lock, or equivalent).
    fn bootstrap(
        &self,
        admin: User,
        clients: Vec<Client>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
