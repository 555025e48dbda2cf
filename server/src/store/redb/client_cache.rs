//! Clients, cached in memory.
//!
//! Every OAuth request looks up its client, and clients change only through the
//! admin commands, so the lookup is served from memory: a pending poll then reads
//! the database once (its device request) instead of twice. Every write to the
//! clients table clears the cache after it commits; a generation counter keeps a
//! read that raced with such a write from putting the old record back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::records::Client;

/// Clients by id; only clients that exist are cached, so unknown ids sent by
/// anyone can't grow it.
#[derive(Default)]
pub struct ClientCache {
    generation: AtomicU64,
    map: RwLock<HashMap<String, Arc<Client>>>,
}

impl ClientCache {
    /// The cached client, and the generation to pass to [`ClientCache::fill`].
    pub fn get(&self, id: &str) -> (Option<Arc<Client>>, u64) {
        let generation = self.generation.load(Ordering::Acquire);
        let map = self
            .map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (map.get(id).cloned(), generation)
    }

    /// Caches a client read from the database, unless a write happened since
    /// `generation` was taken (then the record read may already be stale).
    pub fn fill(&self, client: Arc<Client>, generation: u64) {
        let mut map = self
            .map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.generation.load(Ordering::Acquire) == generation {
            map.insert(client.id.clone(), client);
        }
    }

    /// Forgets everything; called after every committed (or failed) client write.
    pub fn invalidate(&self) {
        let mut map = self
            .map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(name: &str) -> Arc<Client> {
        Arc::new(Client {
            id: "c".into(),
            name: name.into(),
            secret_hash: None,
            scopes: vec![],
            grant_types: vec![],
            disabled: false,
            access_ttl: None,
            refresh_ttl: None,
            created_at: 0,
            audiences: Vec::new(),
            dpop: crate::store::DpopMode::Optional,
            redirect_uris: Vec::new(),
            access_token_format: Default::default(),
            device_code_ttl: None,
            poll_interval: None,
            user_code_format: Default::default(),
        })
    }

    #[test]
    fn a_read_that_raced_a_write_is_not_cached() {
        let cache = ClientCache::default();
        let (none, generation) = cache.get("c");
        assert!(none.is_none());
        // A write commits between the database read and the fill.
        cache.invalidate();
        cache.fill(client("old"), generation);
        assert!(cache.get("c").0.is_none());
        let (_, generation) = cache.get("c");
        cache.fill(client("new"), generation);
        assert_eq!(cache.get("c").0.map(|c| c.name.clone()), Some("new".into()));
        cache.invalidate();
        assert!(cache.get("c").0.is_none());
    }
}
