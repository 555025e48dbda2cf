//! PLACEHOLDER (helper "pgops"): the NOTIFY side of cross-instance cache
//! invalidation, declared here so the admin operations can call it. Helper "pgdata"
//! owns this module (LISTEN and the caches); on merge, keep theirs and adapt the
//! calls in `admin.rs` if the signature differs.
//!
//! A change is announced with `pg_notify` inside the transaction that makes it:
//! PostgreSQL delivers it to every listening instance when (and only if) that
//! transaction commits, so no instance hears of a change that was rolled back.

use tokio_postgres::Transaction;

use super::PgError;

/// The channel every instance listens on.
pub const CHANNEL: &str = "authgate_changes";

/// What changed, so a listening instance drops just that from its caches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The client with this id was added, changed or deleted.
    Client(String),
    /// The user with this login name was added, changed or deleted.
    User(String),
}

impl Change {
    /// The notification payload: `client:<id>` or `user:<name>`.
    pub fn payload(&self) -> String {
        match self {
            Change::Client(id) => format!("client:{id}"),
            Change::User(name) => format!("user:{name}"),
        }
    }
}

/// Announces `change` to every instance when `tx` commits.
pub async fn notify_change(tx: &Transaction<'_>, change: Change) -> Result<(), PgError> {
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &change.payload()])
        .await?;
    Ok(())
}
