//! OAuth clients: lookups and listings.

use std::sync::Arc;

use super::{Client, StoreError};

/// OAuth clients, read through the in-memory cache. Part of the storage interface: the handlers call
/// these; [`RedbStore`](super::RedbStore) and [`PgStore`](super::PgStore) implement them.
pub trait Clients {
    /// The client with this id (from memory after the first lookup).
    fn client(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Arc<Client>>, StoreError>> + Send;

    /// Every client, for admin listings.
    fn clients(&self) -> impl Future<Output = Result<Vec<Client>, StoreError>> + Send;
}
