//! Placeholders for the storage traits whose PostgreSQL implementation lands on
//! other branches (admin, audit, secrets, the sweeper): each method answers
//! [`PgError::NotYet`], a typed fault (500), never a panic. The whole file is
//! deleted when the real `impl <Trait> for PgStore` files are merged.

use super::{PgError, PgStore};
use crate::store::prelude::*;
use crate::store::{AuditEvent, Client, ClientChange, Consequences, StoreError, SweepStats, User};

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
