//! Placeholders for the storage traits whose PostgreSQL implementation lands on
//! other branches (grants, users, clients, sessions; admin, audit, secrets, the
//! sweeper): each method answers [`PgError::NotYet`], a typed fault (500), never a
//! panic. The whole file is deleted when the real `impl <Trait> for PgStore`
//! files are merged.

use std::sync::Arc;

use super::{PgError, PgStore};
use crate::grant::NewTokens;
use crate::store::prelude::*;
use crate::store::{
    AccessToken, AuditEvent, Client, ClientChange, Consequences, EndSessions, Grant,
    PasswordChange, RefreshToken, RevokeOutcome, RotateOutcome, Session, SessionInfo, SessionMeta,
    SessionStart, StoreError, SweepStats, User,
};

/// Implements a storage trait for [`PgStore`] with every listed method answering
/// [`PgError::NotYet`] named `Trait::method`.
macro_rules! not_yet {
    ($trait:ident { $( fn $m:ident(&self $(, $a:ident : $t:ty)*) -> $r:ty; )* }) => {
        impl $trait for PgStore {
            $(
                async fn $m(&self $(, $a: $t)*) -> $r {
                    let _ = ($($a,)*);
                    Err(PgError::NotYet(concat!(stringify!($trait), "::", stringify!($m))).into())
                }
            )*
        }
    };
}

not_yet!(Grants {
    fn rotate_refresh(&self, presented_id: [u8; 16], presented: [u8; 32], client_id: String, now: u64, new: NewTokens) -> Result<RotateOutcome, StoreError>;
    fn refresh_token(&self, id: &[u8; 16], hash: &[u8; 32]) -> Result<Option<(RefreshToken, Grant)>, StoreError>;
    fn access_token(&self, jti: &str) -> Result<Option<(AccessToken, Grant)>, StoreError>;
    fn revoke_refresh(&self, id: [u8; 16], hash: [u8; 32], client_id: String, now: u64) -> Result<RevokeOutcome, StoreError>;
    fn revoke_access(&self, jti: String, client_id: String) -> Result<RevokeOutcome, StoreError>;
    fn grants_of_user(&self, user_id: &str) -> Result<Vec<Grant>, StoreError>;
    fn revoke_user_grants(&self, user_id: String, grant_id: Option<[u8; 16]>, now: u64) -> Result<usize, StoreError>;
});

not_yet!(Users {
    fn user(&self, username: &str) -> Result<Option<User>, StoreError>;
    fn users(&self) -> Result<Vec<User>, StoreError>;
    fn bootstrap(&self, admin: User, clients: Vec<Client>) -> Result<bool, StoreError>;
});

not_yet!(Clients {
    fn client(&self, id: &str) -> Result<Option<Arc<Client>>, StoreError>;
    fn clients(&self) -> Result<Vec<Client>, StoreError>;
});

not_yet!(Sessions {
    fn start_session(&self, hash: [u8; 32], session: Session, meta: SessionMeta, replaces: Option<[u8; 32]>) -> Result<SessionStart, StoreError>;
    fn live_session(&self, hash: &[u8; 32], now: u64) -> Result<Option<(Session, Option<SessionMeta>)>, StoreError>;
    fn touch_session(&self, hash: [u8; 32], now: u64, min_gap: u64) -> Result<(), StoreError>;
    fn sessions_of_user(&self, user_id: &str, now: u64) -> Result<Vec<SessionInfo>, StoreError>;
    fn end_session(&self, hash: [u8; 32]) -> Result<(), StoreError>;
    fn end_user_sessions(&self, user_id: String, which: EndSessions) -> Result<usize, StoreError>;
    fn change_password(&self, user_id: String, username: String, new_hash: String, keep: [u8; 32]) -> Result<PasswordChange, StoreError>;
});

not_yet!(Secrets {
    fn meta_secret(&self, name: &'static str, init: Vec<u8>) -> Result<Vec<u8>, StoreError>;
});

not_yet!(Admin {
    fn admin_add_user(&self, user: User, event: AuditEvent) -> Result<bool, StoreError>;
    fn admin_set_password(&self, username: String, hash: String, event: AuditEvent) -> Result<Option<Consequences>, StoreError>;
    fn admin_change_user(&self, username: String, disabled: bool, delete: bool, event: AuditEvent) -> Result<Option<Consequences>, StoreError>;
    fn admin_add_client(&self, client: Client, event: AuditEvent) -> Result<bool, StoreError>;
    fn admin_change_client(&self, id: String, change: ClientChange, event: AuditEvent) -> Result<Option<usize>, StoreError>;
    fn flush(&self) -> Result<(), StoreError>;
    fn max_access_ttl(&self, default: u64) -> Result<u64, StoreError>;
});

not_yet!(Sweeper {
    fn sweep(&self, now: u64) -> Result<SweepStats, StoreError>;
});

impl AuditLog for PgStore {
    fn audit_detached(&self, event: AuditEvent) {
        tracing::warn!(kind = %event.kind, "audit event dropped: AuditLog is not on PostgreSQL yet");
    }

    async fn audit(&self, event: AuditEvent) -> Result<(), StoreError> {
        let _ = event;
        Err(PgError::NotYet("AuditLog::audit").into())
    }

    async fn audit_events(&self, since: u64, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        let _ = (since, limit);
        Err(PgError::NotYet("AuditLog::audit_events").into())
    }

    async fn sweep_audit(&self, before: u64) -> Result<usize, StoreError> {
        let _ = before;
        Err(PgError::NotYet("AuditLog::sweep_audit").into())
    }
}
