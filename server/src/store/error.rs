//! The one error type the rest of the server sees from storage.

/// A storage failure. Handlers never see raw redb errors: anything here is an
/// internal fault (disk, corruption, a writer that went away), answered with a 500
/// and logged, never a client mistake.
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
    redb::StorageError,
    redb::CommitError
);
