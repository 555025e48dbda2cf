//! Storage: one typed interface, two backends.
//!
//! The rest of the server calls operations shaped like the domain ("approve this
//! code", "rotate this refresh token"), declared as one trait per domain
//! ([`DeviceRequests`], [`AuthorizationCodes`], [`Grants`], [`Users`], [`Clients`], [`Sessions`],
//! [`Secrets`], [`AuditLog`], [`Admin`], [`Sweeper`]; all in [`prelude`]). The
//! protocol rules are not here: a backend asks `crate::grant` what a poll, a
//! redemption or a refresh means and persists what it decided.
//!
//! Two backends implement every trait: [`RedbStore`] (one file in the data
//! directory, the zero-setup default; [`redb`]) and [`PgStore`] (PostgreSQL, shared
//! by many instances; [`pg`]). [`Store`] is an enum over the two that dispatches
//! each method (static dispatch through [`dispatch!`], no boxed futures, no generic
//! parameter threaded through `AppState` and every handler). Every method is async
//! and returns `impl Future + Send`, so handlers' futures stay `Send`; the one
//! exception is [`AuditLog::audit_detached`], fire and forget.

mod admin;
mod audit;
mod auth_codes;
mod clients;
mod devices;
pub mod dump;
mod error;
mod grants;
mod keys;
pub mod pg;
mod records;
pub mod redb;
mod sessions;
mod sweep;
mod users;

use std::sync::Arc;

pub use crate::grant::Decision;
pub use admin::{ClientChange, ClientPatch, Consequences};
pub use audit::{AuditEvent, AuditKind};
pub use auth_codes::CodeOutcome;
pub use devices::{DecideOutcome, Pending, PresentedCode, RedeemOutcome};
pub use dump::DumpError;
pub use error::StoreError;
pub use grants::{RevokeOutcome, RotateOutcome};
pub use pg::PgStore;
pub use records::{
    AccessToken, AccessTokenFormat, Client, DeviceAuth, DeviceStatus, DpopMode, Grant,
    RefreshToken, Session, User, UserCodeFormat,
};
pub use redb::{BatchStats, RedbDump, RedbStore};
pub use sessions::{EndSessions, PasswordChange, SessionInfo, SessionMeta, SessionStart};
pub use sweep::SweepStats;

pub use admin::Admin;
pub use audit::AuditLog;
pub use auth_codes::AuthorizationCodes;
pub use clients::Clients;
pub use devices::DeviceRequests;
pub use grants::Grants;
pub use keys::Secrets;
pub use sessions::Sessions;
pub use sweep::Sweeper;
pub use users::Users;

use crate::grant::{AuthCode, Issue, NewTokens, Presented, Presenter};
use records::{Record, decode, encode};

/// The storage interface in one import (`use crate::store::prelude::*`), for code
/// that calls the store.
pub mod prelude {
    pub use super::{
        Admin, AuditLog, AuthorizationCodes, Clients, DeviceRequests, Grants, Secrets, Sessions,
        Sweeper, Users,
    };
}

/// The database of this instance: redb in the data directory, or PostgreSQL when
/// `database_url` is set. Cheap to clone (both variants share their state).
#[derive(Clone)]
pub enum Store {
    /// One redb file, one process (the default).
    Redb(RedbStore),
    /// A PostgreSQL database, shared by every instance pointed at it.
    Postgres(PgStore),
}

impl Store {
    /// Opens (or creates) a redb database file; see [`RedbStore::open`].
    pub fn open(
        path: &std::path::Path,
        on_batch: impl Fn(BatchStats) + Send + 'static,
    ) -> Result<Self, StoreError> {
        Ok(Store::Redb(RedbStore::open(path, on_batch)?))
    }

    /// Whether the database answers right now, for `/health`: a read (and, for
    /// redb, a live writer thread); for PostgreSQL, a round trip on a pooled
    /// connection, so a database that is down reports unhealthy and one that came
    /// back reports healthy again without a restart.
    pub async fn check(&self) -> Result<(), StoreError> {
        match self {
            Store::Redb(s) => s.check().await,
            Store::Postgres(s) => Ok(s.check().await?),
        }
    }

    /// Which backend this is, for logs and the startup line.
    pub fn backend(&self) -> Backend {
        match self {
            Store::Redb(_) => Backend::Redb,
            Store::Postgres(_) => Backend::Postgres,
        }
    }
}

/// The storage backends, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// [`RedbStore`].
    Redb,
    /// [`PgStore`].
    Postgres,
}

impl Backend {
    /// The name logs use.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Redb => "redb",
            Backend::Postgres => "postgres",
        }
    }
}

/// Implements a storage trait for [`Store`] by forwarding each listed method to
/// the backend of the variant at hand. Calls are fully qualified so an inherent
/// method of the same name on a backend can never be picked instead.
macro_rules! dispatch {
    ($trait:ident { $( fn $m:ident(&self $(, $a:ident : $t:ty)*) -> $r:ty; )* }) => {
        impl $trait for Store {
            $(
                async fn $m(&self $(, $a: $t)*) -> $r {
                    match self {
                        Store::Redb(s) => <RedbStore as $trait>::$m(s $(, $a)*).await,
                        Store::Postgres(s) => <PgStore as $trait>::$m(s $(, $a)*).await,
                    }
                }
            )*
        }
    };
}

dispatch!(DeviceRequests {
    fn create_device_auth(&self, id: [u8; 16], auth: DeviceAuth) -> Result<bool, StoreError>;
    fn device_auth(&self, id: &[u8; 16], code_hash: &[u8; 32]) -> Result<Option<DeviceAuth>, StoreError>;
    fn device_auth_by_user_code(&self, user_code: &str) -> Result<Option<DeviceAuth>, StoreError>;
    fn decide(&self, user_code: String, shown: Option<String>, decision: Decision, now: u64) -> Result<DecideOutcome, StoreError>;
    fn redeem(&self, code: PresentedCode, who: Presenter, now: u64, window: u64, new: NewTokens) -> Result<RedeemOutcome, StoreError>;
    fn device_codes_expired_between(&self, from: u64, to: u64) -> Result<u64, StoreError>;
    fn pending_codes(&self, client_id: &str, now: u64) -> Result<Pending, StoreError>;
});

dispatch!(AuthorizationCodes {
    fn create_auth_code(&self, id: [u8; 16], code: AuthCode) -> Result<(), StoreError>;
    fn redeem_auth_code(&self, id: [u8; 16], code_hash: [u8; 32], presented: Presented, now: u64, new: NewTokens) -> Result<CodeOutcome, StoreError>;
});

dispatch!(Grants {
    fn rotate_refresh(&self, presented_id: [u8; 16], presented: [u8; 32], who: Presenter, now: u64, window: u64, new: NewTokens) -> Result<RotateOutcome, StoreError>;
    fn grant(&self, id: &[u8; 16]) -> Result<Option<Grant>, StoreError>;
    fn refresh_token(&self, id: &[u8; 16], hash: &[u8; 32]) -> Result<Option<(RefreshToken, Grant)>, StoreError>;
    fn access_token(&self, jti: &str) -> Result<Option<(AccessToken, Grant)>, StoreError>;
    fn create_client_grant(&self, issue: Issue) -> Result<(), StoreError>;
    fn revoke_refresh(&self, id: [u8; 16], hash: [u8; 32], client_id: String, now: u64) -> Result<RevokeOutcome, StoreError>;
    fn revoke_access(&self, jti: String, client_id: String) -> Result<RevokeOutcome, StoreError>;
    fn grants_of_user(&self, user_id: &str) -> Result<Vec<Grant>, StoreError>;
    fn revoke_user_grants(&self, user_id: String, grant_id: Option<[u8; 16]>, now: u64) -> Result<usize, StoreError>;
});

dispatch!(Users {
    fn user(&self, username: &str) -> Result<Option<User>, StoreError>;
    fn users(&self) -> Result<Vec<User>, StoreError>;
    fn bootstrap(&self, admin: User, clients: Vec<Client>) -> Result<bool, StoreError>;
});

dispatch!(Clients {
    fn client(&self, id: &str) -> Result<Option<Arc<Client>>, StoreError>;
    fn clients(&self) -> Result<Vec<Client>, StoreError>;
});

dispatch!(Secrets {
    fn meta_secret(&self, name: &'static str, init: Vec<u8>) -> Result<Vec<u8>, StoreError>;
});

dispatch!(Sessions {
    fn start_session(&self, hash: [u8; 32], session: Session, meta: SessionMeta, replaces: Option<[u8; 32]>) -> Result<SessionStart, StoreError>;
    fn live_session(&self, hash: &[u8; 32], now: u64) -> Result<Option<(Session, Option<SessionMeta>)>, StoreError>;
    fn touch_session(&self, hash: [u8; 32], now: u64, min_gap: u64) -> Result<(), StoreError>;
    fn sessions_of_user(&self, user_id: &str, now: u64) -> Result<Vec<SessionInfo>, StoreError>;
    fn end_session(&self, hash: [u8; 32]) -> Result<(), StoreError>;
    fn end_user_sessions(&self, user_id: String, which: EndSessions) -> Result<usize, StoreError>;
    fn change_password(&self, user_id: String, username: String, new_hash: String, keep: [u8; 32]) -> Result<PasswordChange, StoreError>;
});

dispatch!(Admin {
    fn admin_add_user(&self, user: User, event: AuditEvent) -> Result<bool, StoreError>;
    fn admin_set_password(&self, username: String, hash: String, event: AuditEvent) -> Result<Option<Consequences>, StoreError>;
    fn admin_change_user(&self, username: String, disabled: bool, delete: bool, event: AuditEvent) -> Result<Option<Consequences>, StoreError>;
    fn admin_set_role(&self, username: String, admin: bool, event: AuditEvent) -> Result<bool, StoreError>;
    fn admin_add_client(&self, client: Client, event: AuditEvent) -> Result<bool, StoreError>;
    fn admin_change_client(&self, id: String, change: ClientChange, event: AuditEvent) -> Result<Option<usize>, StoreError>;
    fn flush(&self) -> Result<(), StoreError>;
    fn max_access_ttl(&self, default: u64) -> Result<u64, StoreError>;
});

dispatch!(Sweeper {
    fn sweep(&self, now: u64) -> Result<SweepStats, StoreError>;
});

impl AuditLog for Store {
    fn audit_detached(&self, event: AuditEvent) {
        match self {
            Store::Redb(s) => <RedbStore as AuditLog>::audit_detached(s, event),
            Store::Postgres(s) => <PgStore as AuditLog>::audit_detached(s, event),
        }
    }

    async fn audit(&self, event: AuditEvent) -> Result<(), StoreError> {
        match self {
            Store::Redb(s) => <RedbStore as AuditLog>::audit(s, event).await,
            Store::Postgres(s) => <PgStore as AuditLog>::audit(s, event).await,
        }
    }

    async fn audit_events(&self, since: u64, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        match self {
            Store::Redb(s) => <RedbStore as AuditLog>::audit_events(s, since, limit).await,
            Store::Postgres(s) => <PgStore as AuditLog>::audit_events(s, since, limit).await,
        }
    }

    async fn sweep_audit(&self, before: u64) -> Result<usize, StoreError> {
        match self {
            Store::Redb(s) => <RedbStore as AuditLog>::sweep_audit(s, before).await,
            Store::Postgres(s) => <PgStore as AuditLog>::sweep_audit(s, before).await,
        }
    }
}

/// Decodes `bytes` as every stored record type, and re-encodes whatever decodes to
/// check that it round-trips. Returns how many types accepted the bytes. For the
/// fuzz targets: whatever a damaged or hostile database file holds, decoding must
/// fail cleanly, never panic or allocate without bound.
#[doc(hidden)]
pub fn check_record_bytes(bytes: &[u8]) -> usize {
    fn one<T: Record + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> usize {
        match decode::<T>("fuzz", bytes) {
            Ok(value) => {
                let again: T = decode("fuzz", &encode(&value)).expect("re-decodes");
                assert_eq!(again, value, "a record must round-trip");
                1
            }
            Err(_) => 0,
        }
    }
    one::<User>(bytes)
        + one::<Client>(bytes)
        + one::<DeviceAuth>(bytes)
        + one::<Grant>(bytes)
        + one::<RefreshToken>(bytes)
        + one::<AccessToken>(bytes)
        + one::<Session>(bytes)
        + one::<SessionMeta>(bytes)
        + one::<AuditEvent>(bytes)
}
