//! OAuth clients: lookups (through the in-memory cache) and listings.

use std::sync::Arc;

use super::records::Client;
use super::tables::CLIENTS;
use super::{RedbStore, StoreError};
use crate::store::Clients;

impl Clients for RedbStore {
    /// The client with this id (from memory after the first lookup).
    async fn client(&self, id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        let (cached, generation) = self.clients.get(id);
        if cached.is_some() {
            return Ok(cached);
        }
        let Some(client) = self.get(CLIENTS, id)? else {
            return Ok(None);
        };
        let client = Arc::new(client);
        self.clients.fill(client.clone(), generation);
        Ok(Some(client))
    }

    /// Every client, for admin listings.
    async fn clients(&self) -> Result<Vec<Client>, StoreError> {
        self.scan(CLIENTS)
    }
}
