//! Every redb table AuthGate has. Keys are plain bytes or strings; values are
//! versioned postcard records (see `records`).

use redb::TableDefinition;

/// username → [`super::User`].
pub const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// client_id → [`super::Client`].
pub const CLIENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("clients");
/// SHA-256(device_code) → [`super::DeviceAuth`].
pub const DEVICE_CODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("device_codes");
/// canonical user code → SHA-256(device_code).
pub const USER_CODES: TableDefinition<&str, &[u8]> = TableDefinition::new("user_codes");
/// grant id → [`super::Grant`].
pub const GRANTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("grants");
/// SHA-256(refresh token) → [`super::RefreshToken`].
pub const REFRESH_TOKENS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("refresh_tokens");
/// jti → [`super::AccessToken`].
pub const ACCESS_TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("access_tokens");
/// SHA-256(session cookie) → [`super::Session`].
pub const SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sessions");
/// Server-wide settings and secrets (schema version, CSRF key).
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// SHA-256(session cookie) → `sessions::SessionMeta`: where and when a browser
/// session signed in and was last active (account page, idle timeout).
pub const SESSION_META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("session_meta");
/// Audit log: sequence (Unix microseconds, made unique) → [`super::AuditEvent`].
pub const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
