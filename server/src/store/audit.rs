//! The audit log: every security event (sign-ins, approvals, denials, revocations,
//! refresh-token reuse, admin changes), kept for the configured retention and read
//! or exported with `authgate audit`. The event types and the storage trait.

use serde::{Deserialize, Serialize};

use super::StoreError;
use super::records::Record;

/// What an audit event records. Stored and shown as its snake_case name (the
/// audit CLI's text and JSON output use that name), so the encoding is the string
/// it always was; a name this build doesn't know reads back as [`AuditKind::Other`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// A successful sign-in.
    LoginOk,
    /// A failed sign-in (unknown user, wrong password, disabled account).
    LoginFailed,
    /// A person approved a device.
    DeviceApproved,
    /// A person denied a device.
    DeviceDenied,
    /// A rotated refresh token came back; its grant was revoked.
    RefreshReuse,
    /// A superseded refresh token came back within the retry window while its
    /// successor was unused: a lost answer retried, the unused pair retired.
    RefreshRetry,
    /// A redeemed device code came back within the retry window while its tokens
    /// were unused: a lost answer retried, the unused pair retired.
    DeviceCodeRetry,
    /// A redeemed device code came back too late or after its tokens were used;
    /// the grant it yielded was revoked.
    DeviceCodeReplay,
    /// A client revoked a token (RFC 7009).
    TokenRevoked,
    /// A person revoked grants from the account page.
    GrantRevoked,
    /// `authgate user add`.
    UserAdded,
    /// `authgate user passwd`.
    UserPasswordSet,
    /// `authgate user disable`.
    UserDisabled,
    /// `authgate user enable`.
    UserEnabled,
    /// `authgate user delete`.
    UserDeleted,
    /// `authgate client add`.
    ClientAdded,
    /// `authgate client disable`.
    ClientDisabled,
    /// `authgate client enable`.
    ClientEnabled,
    /// `authgate client delete`.
    ClientDeleted,
    /// `authgate client rotate-secret`.
    ClientSecretRotated,
    /// `authgate keys rotate`.
    KeyRotated,
    /// The admin role was granted or withdrawn (console or `user add --admin`).
    UserRoleSet,
    /// A client's scopes, grant types or lifetimes were edited in the console.
    ClientUpdated,
    /// A confidential client got an access token for itself (RFC 6749 §4.4).
    ClientCredentialsIssued,
    /// A person approved an app's authorization request (RFC 6749 §4.1).
    AuthorizationApproved,
    /// A person denied an app's authorization request.
    AuthorizationDenied,
    /// A redeemed authorization code came back; what it issued was revoked.
    CodeReuse,
    /// A kind written by another build.
    Other(String),
}

impl AuditKind {
    /// The stored name, e.g. `login_ok`.
    pub fn as_str(&self) -> &str {
        match self {
            AuditKind::LoginOk => "login_ok",
            AuditKind::LoginFailed => "login_failed",
            AuditKind::DeviceApproved => "device_approved",
            AuditKind::DeviceDenied => "device_denied",
            AuditKind::RefreshReuse => "refresh_reuse",
            AuditKind::RefreshRetry => "refresh_retry",
            AuditKind::DeviceCodeRetry => "device_code_retry",
            AuditKind::DeviceCodeReplay => "device_code_replay",
            AuditKind::TokenRevoked => "token_revoked",
            AuditKind::GrantRevoked => "grant_revoked",
            AuditKind::UserAdded => "user_added",
            AuditKind::UserPasswordSet => "user_password_set",
            AuditKind::UserDisabled => "user_disabled",
            AuditKind::UserEnabled => "user_enabled",
            AuditKind::UserDeleted => "user_deleted",
            AuditKind::ClientAdded => "client_added",
            AuditKind::ClientDisabled => "client_disabled",
            AuditKind::ClientEnabled => "client_enabled",
            AuditKind::ClientDeleted => "client_deleted",
            AuditKind::ClientSecretRotated => "client_secret_rotated",
            AuditKind::KeyRotated => "key_rotated",
            AuditKind::UserRoleSet => "user_role_set",
            AuditKind::ClientUpdated => "client_updated",
            AuditKind::ClientCredentialsIssued => "client_credentials_issued",
            AuditKind::AuthorizationApproved => "authorization_approved",
            AuditKind::AuthorizationDenied => "authorization_denied",
            AuditKind::CodeReuse => "code_reuse",
            AuditKind::Other(s) => s,
        }
    }

    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Self {
        match name {
            "login_ok" => AuditKind::LoginOk,
            "login_failed" => AuditKind::LoginFailed,
            "device_approved" => AuditKind::DeviceApproved,
            "device_denied" => AuditKind::DeviceDenied,
            "refresh_reuse" => AuditKind::RefreshReuse,
            "refresh_retry" => AuditKind::RefreshRetry,
            "device_code_retry" => AuditKind::DeviceCodeRetry,
            "device_code_replay" => AuditKind::DeviceCodeReplay,
            "token_revoked" => AuditKind::TokenRevoked,
            "grant_revoked" => AuditKind::GrantRevoked,
            "user_added" => AuditKind::UserAdded,
            "user_password_set" => AuditKind::UserPasswordSet,
            "user_disabled" => AuditKind::UserDisabled,
            "user_enabled" => AuditKind::UserEnabled,
            "user_deleted" => AuditKind::UserDeleted,
            "client_added" => AuditKind::ClientAdded,
            "client_disabled" => AuditKind::ClientDisabled,
            "client_enabled" => AuditKind::ClientEnabled,
            "client_deleted" => AuditKind::ClientDeleted,
            "client_secret_rotated" => AuditKind::ClientSecretRotated,
            "key_rotated" => AuditKind::KeyRotated,
            "user_role_set" => AuditKind::UserRoleSet,
            "client_updated" => AuditKind::ClientUpdated,
            "client_credentials_issued" => AuditKind::ClientCredentialsIssued,
            "authorization_approved" => AuditKind::AuthorizationApproved,
            "authorization_denied" => AuditKind::AuthorizationDenied,
            "code_reuse" => AuditKind::CodeReuse,
            other => AuditKind::Other(other.to_string()),
        }
    }
}

impl std::fmt::Display for AuditKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AuditKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AuditKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(AuditKind::parse(&name))
    }
}

/// One security event.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuditEvent {
    /// Unix microseconds (unique, increasing).
    #[serde(default)]
    pub seq: u64,
    /// Unix seconds.
    pub at: u64,
    /// What happened.
    pub kind: AuditKind,
    /// Who did it: a user name, a client id, or `cli uid=N`.
    pub actor: String,
    /// What it was done to (a user, a client, a key id, a user code).
    pub subject: String,
    /// The client IP, when it came over HTTP.
    pub ip: String,
    /// Anything else worth keeping (scopes, counts).
    pub detail: String,
}

impl Record for AuditEvent {
    const VERSION: u8 = 1;
}

impl AuditEvent {
    /// An event of `kind` by `actor` on `subject`, now.
    pub fn new(kind: AuditKind, actor: &str, subject: &str) -> Self {
        AuditEvent {
            seq: 0,
            at: crate::clock::now(),
            kind,
            actor: actor.into(),
            subject: subject.into(),
            ip: String::new(),
            detail: String::new(),
        }
    }

    /// With the client's IP.
    pub fn ip(mut self, ip: impl ToString) -> Self {
        self.ip = ip.to_string();
        self
    }

    /// With a detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

/// The audit log: appending, reading, retention. Part of the storage interface: the handlers call
/// these; [`RedbStore`](super::RedbStore) and [`PgStore`](super::PgStore) implement them.
pub trait AuditLog {
    /// Queues an audit event for the next group commit without waiting for it.
    fn audit_detached(&self, event: AuditEvent);

    /// Records an audit event and waits until it is durable.
    fn audit(&self, event: AuditEvent) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Events at or after `since` (Unix seconds), oldest first; at most `limit`, the
    /// newest ones when there are more.
    fn audit_events(
        &self,
        since: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AuditEvent>, StoreError>> + Send;

    /// Removes events older than `before` (Unix seconds); returns how many.
    fn sweep_audit(&self, before: u64) -> impl Future<Output = Result<usize, StoreError>> + Send;
}
