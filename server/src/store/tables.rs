//! Every redb table AuthGate has. Keys are plain bytes or strings; values are
//! versioned postcard records (see `records`).
//!
//! Keys of the tables that grow with traffic (device requests, grants, tokens) are
//! time-ordered ids (`secrets::time_ordered_id`), so a group commit's inserts land in
//! the same few B-tree leaves instead of one leaf each.

use redb::TableDefinition;

/// username → [`super::User`].
pub const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// client_id → [`super::Client`].
pub const CLIENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("clients");
/// Device request id (the key inside the device code) → [`super::DeviceAuth`]. The
/// user code → id lookup is kept in memory (`user_codes`), rebuilt from this table.
pub const DEVICE_CODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("device_requests");
/// grant id → [`super::Grant`].
pub const GRANTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("grants");
/// `grants::user_key(user_id, grant_id)` → nothing: a user's grants, so the
/// account page, revoking and disabling read one user's range instead of every
/// grant. Written with the grant, removed when the grant is deleted.
pub const GRANTS_BY_USER: TableDefinition<&[u8], ()> = TableDefinition::new("grants_by_user");
/// Refresh token id (the key inside the token) → [`super::RefreshToken`].
pub const REFRESH_TOKENS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("refresh_keys");
/// jti (time-ordered) → [`super::AccessToken`].
pub const ACCESS_TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("access_jtis");
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
/// SHA-256(session cookie) → [`super::Session`].
pub const SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sessions");
/// `grants::user_key`-style key (user id, then the 32-byte session hash) →
/// nothing: a user's browser sessions, so the account page and signing out read
/// one user's range instead of every session.
pub const SESSIONS_BY_USER: TableDefinition<&[u8], ()> = TableDefinition::new("sessions_by_user");
/// Server-wide settings and secrets (schema version, CSRF key).
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// SHA-256(session cookie) → `sessions::SessionMeta`: where and when a browser
/// session signed in and was last active (account page, idle timeout).
pub const SESSION_META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("session_meta");
/// Audit log: sequence (Unix microseconds, made unique) → [`super::AuditEvent`].
pub const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
