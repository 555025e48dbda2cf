//! The `authgate user|client` admin operations: the storage trait and its types.
//! Each change commits together with its audit record and its security
//! consequences (ended sessions, revoked grants).

use super::audit::AuditEvent;
use super::records::{AccessTokenFormat, DpopMode, UserCodeFormat};
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
    /// Change the settings it names (`authgate client update`, the console's edit
    /// form), read and written in one transaction so concurrent updates of other
    /// fields survive.
    Update(ClientPatch),
}

/// The settings `authgate client update` changes; `None` leaves one as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClientPatch {
    /// Display name.
    pub name: Option<String>,
    /// Scopes it may ask for.
    pub scopes: Option<Vec<String>>,
    /// Grant types it may use (short names).
    pub grant_types: Option<Vec<String>>,
    /// Registered redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// DPoP requirement.
    pub dpop: Option<DpopMode>,
    /// Access-token format.
    pub access_token_format: Option<AccessTokenFormat>,
    /// Device-code lifetime, seconds; `Some(None)`: back to the server's.
    pub device_code_ttl: Option<Option<u64>>,
    /// Poll interval, seconds; `Some(None)`: back to the server's.
    pub poll_interval: Option<Option<u64>>,
    /// User-code alphabet.
    pub user_code_format: Option<UserCodeFormat>,
    /// Access-token lifetime, seconds; `Some(None)`: back to the server's.
    #[serde(default)]
    pub access_ttl: Option<Option<u64>>,
    /// Refresh-token lifetime, seconds; `Some(None)`: back to the server's.
    #[serde(default)]
    pub refresh_ttl: Option<Option<u64>>,
}

impl ClientPatch {
    /// Writes the settings this patch names into `client`.
    pub fn apply(&self, client: &mut Client) {
        fn set<T: Clone>(field: &mut T, value: &Option<T>) {
            if let Some(v) = value {
                field.clone_from(v);
            }
        }
        set(&mut client.name, &self.name);
        set(&mut client.scopes, &self.scopes);
        set(&mut client.grant_types, &self.grant_types);
        set(&mut client.redirect_uris, &self.redirect_uris);
        set(&mut client.dpop, &self.dpop);
        set(&mut client.access_token_format, &self.access_token_format);
        set(&mut client.device_code_ttl, &self.device_code_ttl);
        set(&mut client.poll_interval, &self.poll_interval);
        set(&mut client.user_code_format, &self.user_code_format);
        set(&mut client.access_ttl, &self.access_ttl);
        set(&mut client.refresh_ttl, &self.refresh_ttl);
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == ClientPatch::default()
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
