//! The `authgate user|client` admin operations: the storage trait and its types.
//! Each change commits together with its audit record and its security
//! consequences (ended sessions, revoked grants).

use super::audit::AuditEvent;
use super::{Client, StoreError, User};

/// A change to an existing client.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum ClientChange {
    /// Refuse it everywhere (`invalid_client`) and revoke its grants.
    Disable,
    /// Accept it again.
    Enable,
    /// Remove it and revoke its grants.
    Delete,
    /// Replace its secret (SHA-256 of the new one).
    SetSecret([u8; 32]),
    /// Replace what it may ask for and how long its tokens live (the console's
    /// edit form); tokens already issued keep theirs.
    Settings(ClientSettings),
}

/// The editable part of a client, as the console's edit form sets it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClientSettings {
    /// Display name.
    pub name: String,
    /// Scopes it may ask for.
    pub scopes: Vec<String>,
    /// Grant types it may use.
    pub grant_types: Vec<String>,
    /// Access-token lifetime override, seconds.
    pub access_ttl: Option<u64>,
    /// Refresh-token lifetime override, seconds.
    pub refresh_ttl: Option<u64>,
}

impl ClientSettings {
    /// Writes these settings into `client`.
    pub fn apply(&self, client: &mut Client) {
        client.name.clone_from(&self.name);
        client.scopes.clone_from(&self.scopes);
        client.grant_types.clone_from(&self.grant_types);
        client.access_ttl = self.access_ttl;
        client.refresh_ttl = self.refresh_ttl;
    }
}

/// What a user change swept along.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Consequences {
    /// Browser sessions ended.
    pub sessions: usize,
    /// Grants revoked.
    pub grants: usize,
}

/// The `authgate user|client` admin commands, each committed with its audit record. Part of the storage interface: the handlers call
/// these; [`RedbStore`](super::RedbStore) and [`PgStore`](super::PgStore) implement them.
pub trait Admin {
    /// Adds a user unless the name is taken; returns whether it did.
    fn admin_add_user(
        &self,
        user: User,
        event: AuditEvent,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Sets a user's password hash and ends their sessions. `None`: no such user.
    fn admin_set_password(
        &self,
        username: String,
        hash: String,
        event: AuditEvent,
    ) -> impl Future<Output = Result<Option<Consequences>, StoreError>> + Send;

    /// Disables (ending sessions and revoking grants) or enables a user, or deletes
    /// one (`delete`, same consequences). `None`: no such user.
    fn admin_change_user(
        &self,
        username: String,
        disabled: bool,
        delete: bool,
        event: AuditEvent,
    ) -> impl Future<Output = Result<Option<Consequences>, StoreError>> + Send;

    /// Grants (`true`) or withdraws the admin role of a user; returns whether the
    /// user exists. Withdrawing it ends nothing else: the next console request is
    /// refused because the role is read per request.
    fn admin_set_role(
        &self,
        username: String,
        admin: bool,
        event: AuditEvent,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Registers a client unless the id is taken; returns whether it did.
    fn admin_add_client(
        &self,
        client: Client,
        event: AuditEvent,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Applies `change` to client `id`; returns the grants revoked, `None` if there
    /// is no such client.
    fn admin_change_client(
        &self,
        id: String,
        change: ClientChange,
        event: AuditEvent,
    ) -> impl Future<Output = Result<Option<usize>, StoreError>> + Send;

    /// Waits until every write queued before this call is durable (shutdown).
    fn flush(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The longest access-token lifetime any client can get, given the default:
    /// how long a retired signing key must stay published.
    fn max_access_ttl(&self, default: u64) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
