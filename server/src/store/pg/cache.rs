//! One instance's cache of OAuth clients, trusted only while its listener is
//! connected.
//!
//! Clients change only through the admin commands, and every such change sends a
//! notification in its transaction ([`super::notify`]); the listener evicts the
//! client on arrival. A notification can only be missed while the listening
//! connection is down, so the cache is "dark" then: lookups go to the database and
//! nothing is cached, and it starts empty once the listener is back.
//!
//! A generation counter keeps a database read that raced with a change from putting
//! the old record back: a read started before the change committed may return the
//! old row, but its fill is refused if an eviction happened since the read began.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::store::records::Client;

/// At most this many clients are held; past it lookups go to the database. Only
/// clients that exist are cached (unknown ids sent by anyone never are), so this
/// binds memory even for a deployment with an unusual number of clients.
const MAX_CACHED: usize = 10_000;

/// Clients by id, and whether the cache may be used.
#[derive(Default)]
pub(crate) struct ClientCache {
    state: RwLock<State>,
}

#[derive(Default)]
struct State {
    /// Bumped by every eviction and by the listener going up or down.
    generation: u64,
    /// The listener is connected and listening: notifications are being received.
    live: bool,
    /// How many times the listener has (re)started listening, for tests and logs.
    listens: u64,
    map: HashMap<String, Arc<Client>>,
}

impl ClientCache {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached client, and the generation to pass to [`ClientCache::fill`]
    /// (`None` while the listener is down: then nothing may be cached).
    pub(crate) fn get(&self, id: &str) -> (Option<Arc<Client>>, Option<u64>) {
        let state = self.read();
        if !state.live {
            return (None, None);
        }
        (state.map.get(id).cloned(), Some(state.generation))
    }

    /// Caches a client read from the database, unless the cache went dark or an
    /// eviction happened since `generation` was taken (the row read may be stale).
    pub(crate) fn fill(&self, client: Arc<Client>, generation: u64) {
        let mut state = self.write();
        if state.live && state.generation == generation && state.map.len() < MAX_CACHED {
            state.map.insert(client.id.clone(), client);
        }
    }

    /// Evicts client `id`, or every client when `None` (a change notified).
    pub(crate) fn evict(&self, id: Option<&str>) {
        let mut state = self.write();
        state.generation += 1;
        match id {
            Some(id) => {
                state.map.remove(id);
            }
            None => state.map.clear(),
        }
    }

    /// The listener is listening again: start from empty (what changed while it was
    /// away was not heard) and cache from now on.
    pub(crate) fn go_live(&self) {
        let mut state = self.write();
        state.generation += 1;
        state.map.clear();
        state.live = true;
        state.listens += 1;
    }

    /// The listener lost its connection: forget everything and cache nothing until
    /// it is back.
    pub(crate) fn go_dark(&self) {
        let mut state = self.write();
        state.generation += 1;
        state.map.clear();
        state.live = false;
    }

    /// Whether the listener is connected (the cache is in use).
    #[cfg(test)]
    pub(crate) fn is_live(&self) -> bool {
        self.read().live
    }

    /// How many times the listener has started listening (1 after the first
    /// connection, +1 per reconnection).
    #[cfg(test)]
    pub(crate) fn listens(&self) -> u64 {
        self.read().listens
    }

    /// Whether client `id` is held in memory now.
    #[cfg(test)]
    pub(crate) fn holds(&self, id: &str) -> bool {
        self.read().map.contains_key(id)
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
    fn nothing_is_cached_while_dark_and_a_raced_read_is_not_kept() {
        let cache = ClientCache::default();
        assert_eq!(cache.get("c").1, None, "dark until the listener is up");
        cache.go_live();
        let (none, generation) = cache.get("c");
        assert!(none.is_none());
        let generation = generation.expect("live");
        // A change is notified between the database read and the fill.
        cache.evict(Some("c"));
        cache.fill(client("old"), generation);
        assert!(!cache.holds("c"));
        let generation = cache.get("c").1.expect("live");
        cache.fill(client("new"), generation);
        assert_eq!(cache.get("c").0.map(|c| c.name.clone()), Some("new".into()));
        // The listener drops: everything goes, and a fill begun before is refused.
        cache.go_dark();
        cache.fill(client("late"), generation);
        assert!(!cache.holds("c"));
        assert_eq!(cache.get("c"), (None, None));
        cache.go_live();
        assert_eq!(cache.listens(), 2);
        assert!(
            cache.get("c").0.is_none(),
            "starts empty after a reconnection"
        );
    }
}
