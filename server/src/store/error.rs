//! The one error type the rest of the server sees from storage.

/// A storage failure. Handlers never see raw redb errors: anything here is an
/// internal fault (disk, corruption, a writer that went away), answered with a 500
/// and logged, never a client mistake; except [`StoreError::Busy`], a full write
/// queue, answered with a 503 and `Retry-After` (see [`StoreError::is_busy`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb failed (I/O, corruption, a full disk).
    #[error("database error: {0}")]
    Database(#[from] redb::Error),
    /// A stored record could not be decoded (unknown version or corrupt bytes).
    #[error("corrupt record in table {table}: {reason}")]
    Corrupt {
        /// The table holding the bad record.
        table: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The writer thread stopped (the server is shutting down or it panicked).
    #[error("the database writer is not running")]
    WriterGone,
    /// The write queue is full: the disk can't keep up. Nothing was written; the
    /// client may retry shortly.
    #[error("the database writer is busy; try again shortly")]
    Busy,
    /// The group commit this write was part of failed: nothing of it is on disk.
    #[error("commit failed: {0}")]
    Commit(#[source] std::sync::Arc<redb::CommitError>),
    /// The PostgreSQL backend failed; [`StoreError::is_unavailable`] tells a
    /// database that is down or restarting (503) from a fault (500).
    #[error(transparent)]
    Postgres(#[from] super::pg::PgError),
}

impl StoreError {
    /// Whether this is a temporary overload (answer 503 with `Retry-After`) rather
    /// than a fault (500).
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Busy)
    }

    /// Whether the database can't be reached right now (PostgreSQL down or
    /// restarting, the pool exhausted): answer 503 and let the client retry.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Postgres(e) if e.is_unavailable())
    }
}

impl From<redb::CommitError> for StoreError {
    fn from(e: redb::CommitError) -> Self {
        StoreError::Commit(std::sync::Arc::new(e))
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Database(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError
);

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::Postgres(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::Postgres(e.into())
    }
}
