//! Every redb table AuthGate has. Keys are plain bytes or strings; values are
//! versioned postcard records (see `records`).
//!
//! Record tables are [`Table`]s: the value type is part of the definition, so
//! reading or writing one encodes and decodes that type, and no caller names a value
//! type or a table name by hand. Index tables (no value) stay plain redb
//! definitions.
//!
//! Keys of the tables that grow with traffic (device requests, grants, tokens) are
//! time-ordered ids (`secrets::time_ordered_id`), so a group commit's inserts land in
//! the same few B-tree leaves instead of one leaf each.

use std::marker::PhantomData;

use redb::{TableDefinition, TableHandle};

use super::StoreError;
use super::records::{
    AccessToken, AuthCode, Client, DeviceAuth, Grant, Record, RefreshToken, Session, User, decode,
};
use crate::store::{AuditEvent, SessionMeta};

/// A table of `V` records keyed by `K`: a redb byte table whose values are decoded
/// and encoded as `V` by definition.
pub struct Table<K: redb::Key + 'static, V: Record> {
    def: TableDefinition<'static, K, &'static [u8]>,
    _value: PhantomData<fn() -> V>,
}

impl<K: redb::Key + 'static, V: Record> Clone for Table<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K: redb::Key + 'static, V: Record> Copy for Table<K, V> {}

impl<K: redb::Key + 'static, V: Record> Table<K, V> {
    /// The table called `name`.
    pub const fn new(name: &'static str) -> Self {
        Table {
            def: TableDefinition::new(name),
            _value: PhantomData,
        }
    }

    /// The underlying redb definition (for range scans and bulk edits).
    pub fn def(&self) -> TableDefinition<'static, K, &'static [u8]> {
        self.def
    }

    /// Decodes a value read from this table.
    pub fn decode(&self, bytes: &[u8]) -> Result<V, StoreError> {
        decode(self.def.name(), bytes)
    }
}

/// username → [`User`].
pub const USERS: Table<&str, User> = Table::new("users");
/// client_id → [`Client`].
pub const CLIENTS: Table<&str, Client> = Table::new("clients");
/// Device request id (the key inside the device code) → [`DeviceAuth`]. The
/// user code → id lookup is kept in memory (`user_codes`), rebuilt from this table.
pub const DEVICE_REQUESTS: Table<&[u8], DeviceAuth> = Table::new("device_requests");
/// Authorization code id (the key inside the code) → [`AuthCode`]: short-lived,
/// swept through the expiry index like device requests.
pub const AUTH_CODES: Table<&[u8], AuthCode> = Table::new("authorization_codes");
/// grant id → [`Grant`].
pub const GRANTS: Table<&[u8], Grant> = Table::new("grants");
/// `grants::user_key(user_id, grant_id)` → nothing: a user's grants, so the
/// account page, revoking and disabling read one user's range instead of every
/// grant. Written with the grant, removed when the grant is deleted.
pub const GRANTS_BY_USER: TableDefinition<&[u8], ()> = TableDefinition::new("grants_by_user");
/// Refresh token id (the key inside the token) → [`RefreshToken`].
pub const REFRESH_TOKENS: Table<&[u8], RefreshToken> = Table::new("refresh_keys");
/// jti (time-ordered) → [`AccessToken`].
pub const ACCESS_TOKENS: Table<&str, AccessToken> = Table::new("access_jtis");
/// When records stop mattering: `expiry::entry_key` (expiry time, kind, record key)
/// → nothing. The sweeper reads it from the front, so a sweep costs what it removes,
/// not the size of the tables.
pub const EXPIRIES: TableDefinition<&[u8], ()> = TableDefinition::new("expiries");
/// Tables of an earlier storage format (random keys, no expiry index), dropped at
/// open. They held only short-lived or re-obtainable state: device codes, token
/// lookups; grants, users, clients and sessions are kept.
pub const RETIRED: [&str; 4] = [
    "device_codes",
    "user_codes",
    "refresh_tokens",
    "access_tokens",
];
/// SHA-256(session cookie) → [`Session`].
pub const SESSIONS: Table<&[u8], Session> = Table::new("sessions");
/// `grants::user_key`-style key (user id, then the 32-byte session hash) →
/// nothing: a user's browser sessions, so the account page and signing out read
/// one user's range instead of every session.
pub const SESSIONS_BY_USER: TableDefinition<&[u8], ()> = TableDefinition::new("sessions_by_user");
/// Server-wide settings and secrets (schema version, CSRF key): raw bytes.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// SHA-256(session cookie) → [`SessionMeta`]: where and when a browser
/// session signed in and was last active (account page, idle timeout).
pub const SESSION_META: Table<&[u8], SessionMeta> = Table::new("session_meta");
/// Audit log: sequence (Unix microseconds, made unique) → [`AuditEvent`].
pub const AUDIT: Table<u64, AuditEvent> = Table::new("audit");
