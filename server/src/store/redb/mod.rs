//! The redb backend: one file in the data directory, the zero-setup default.
//!
//! [`RedbStore`] implements every storage trait of `super`. Each write runs in the
//! group-committed transaction of [`writer`] and returns only once it is durable.
//! Reads open a fresh read transaction and never block on the writer (they run
//! inline: redb answers them from memory-mapped pages). Tables are typed by their
//! record ([`tables`]). redb allows one process per file, so the in-memory state
//! here (the user code lookup, the client cache) is the whole truth.

mod admin;
mod audit;
mod auth_codes;
mod client_cache;
mod clients;
mod devices;
mod dump;
mod expiry;
mod grants;
mod keys;
mod sessions;
mod sweep;
mod tables;
#[cfg(test)]
mod tests;
mod user_codes;
mod users;
mod writer;

use std::borrow::Borrow;
use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, TableDefinition, WriteTransaction};

use super::records::{self, Record, encode};
use super::{AuditKind, DeviceStatus, StoreError};
pub use dump::RedbDump;
pub use writer::BatchStats;

use client_cache::ClientCache;
use tables::Table;
use user_codes::UserCodes;
use writer::Writer;

/// redb's in-process page cache. Enough for the hot tables of a small deployment;
/// the kernel's page cache holds the rest of the file.
const PAGE_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// The AuthGate database: one redb file plus its writer thread.
#[derive(Clone)]
pub struct RedbStore {
    db: Arc<Database>,
    writer: Writer,
    user_codes: Arc<UserCodes>,
    clients: Arc<ClientCache>,
}

impl RedbStore {
    /// Opens (or creates) the database file and starts the writer.
    ///
    /// Fails with a clear error if another process holds the file: redb allows one.
    pub fn open(
        path: &Path,
        on_batch: impl Fn(BatchStats) + Send + 'static,
    ) -> Result<Self, StoreError> {
        // redb caches pages it reads and writes, by default up to 1 GiB: the RSS
        // would follow the file's growth. Bounded, reads past it are a pread from
        // the OS page cache (the soak test showed ~600 bytes of RSS per flow before).
        let db = Arc::new(
            Database::builder()
                .set_cache_size(PAGE_CACHE_BYTES)
                .create(path)?,
        );
        let store = RedbStore {
            writer: Writer::start(db.clone(), on_batch),
            db,
            user_codes: Arc::default(),
            clients: Arc::default(),
        };
        store.create_tables()?;
        grants::build_once(&store.db)?;
        sessions::build_index_once(&store.db)?;
        store.load_user_codes()?;
        Ok(store)
    }

    fn create_tables(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        for name in tables::RETIRED {
            let retired: TableDefinition<&[u8], &[u8]> = TableDefinition::new(name);
            if txn.delete_table(retired)? {
                tracing::info!("dropped table `{name}` of the earlier storage format");
            }
        }
        txn.open_table(tables::EXPIRIES)?;
        txn.open_table(tables::USERS.def())?;
        txn.open_table(tables::CLIENTS.def())?;
        txn.open_table(tables::DEVICE_REQUESTS.def())?;
        txn.open_table(tables::AUTH_CODES.def())?;
        txn.open_table(tables::GRANTS.def())?;
        txn.open_table(tables::GRANTS_BY_USER)?;
        txn.open_table(tables::REFRESH_TOKENS.def())?;
        txn.open_table(tables::ACCESS_TOKENS.def())?;
        txn.open_table(tables::SESSIONS.def())?;
        txn.open_table(tables::SESSION_META.def())?;
        txn.open_table(tables::SESSIONS_BY_USER)?;
        txn.open_table(tables::META)?;
        txn.open_table(tables::AUDIT.def())?;
        txn.commit()?;
        Ok(())
    }

    /// Rebuilds the in-memory user code lookup from the device requests on disk.
    fn load_user_codes(&self) -> Result<(), StoreError> {
        use redb::ReadableTable;
        let txn = self.db.begin_read()?;
        let table = txn.open_table(tables::DEVICE_REQUESTS.def())?;
        for entry in table.iter()? {
            let (k, v) = entry?;
            let auth = tables::DEVICE_REQUESTS.decode(v.value())?;
            // Decided requests left the lookup when they were decided; only pending
            // ones come back (and count against the pending caps).
            let pending = auth.status == DeviceStatus::Pending;
            if let (true, Ok(id)) = (pending, <[u8; 16]>::try_from(k.value())) {
                self.user_codes
                    .restore(&auth.user_code, id, &auth.client_id, auth.expires_at);
            }
        }
        Ok(())
    }

    /// Checks that the database answers a read and that the writer thread still
    /// runs, for `/health`: without the writer no login, approval or token exchange
    /// can succeed, so the server must not look healthy.
    pub async fn check(&self) -> Result<(), StoreError> {
        if !self.writer.is_alive() {
            return Err(StoreError::WriterGone);
        }
        let txn = self.db.begin_read()?;
        txn.open_table(tables::META)?;
        Ok(())
    }

    /// Reads one record in a fresh read transaction.
    fn get<'k, K, V>(
        &self,
        table: Table<K, V>,
        key: impl Borrow<K::SelfType<'k>>,
    ) -> Result<Option<V>, StoreError>
    where
        K: redb::Key + 'static,
        V: Record,
    {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(table.def())?;
        let value = t.get(key)?;
        value.map(|v| table.decode(v.value())).transpose()
    }

    /// Every record of a table, for small tables (listings, admin).
    fn scan<K, V>(&self, table: Table<K, V>) -> Result<Vec<V>, StoreError>
    where
        K: redb::Key + 'static,
        V: Record,
    {
        use redb::ReadableTable;
        let txn = self.db.begin_read()?;
        let t = txn.open_table(table.def())?;
        let mut out = Vec::new();
        for entry in t.iter()? {
            let (_, v) = entry?;
            out.push(table.decode(v.value())?);
        }
        Ok(out)
    }
}

/// Typed access to the tables inside a write transaction, for one operation of
/// a group commit: it also collects what the operation audited, so the metrics are
/// counted only once the batch commits.
struct Tx<'a> {
    txn: &'a WriteTransaction,
    audited: RefCell<Vec<AuditKind>>,
}

impl<'a> Tx<'a> {
    /// One operation's view of the shared transaction.
    fn new(txn: &'a WriteTransaction) -> Self {
        Tx {
            txn,
            audited: RefCell::default(),
        }
    }

    /// The raw transaction, for index tables and range edits.
    fn txn(&self) -> &'a WriteTransaction {
        self.txn
    }

    /// Notes an audit event appended in this operation.
    fn audited(&self, kind: AuditKind) {
        self.audited.borrow_mut().push(kind);
    }

    /// The audit events this operation appended.
    fn into_audited(self) -> Vec<AuditKind> {
        self.audited.into_inner()
    }

    fn get<'k, K, V>(
        &self,
        table: Table<K, V>,
        key: impl Borrow<K::SelfType<'k>>,
    ) -> Result<Option<V>, StoreError>
    where
        K: redb::Key + 'static,
        V: Record,
    {
        use redb::ReadableTable;
        let t = self.txn.open_table(table.def())?;
        let value = t.get(key)?;
        value.map(|v| table.decode(v.value())).transpose()
    }

    fn put<'k, K, V>(
        &self,
        table: Table<K, V>,
        key: impl Borrow<K::SelfType<'k>>,
        value: &V,
    ) -> Result<(), StoreError>
    where
        K: redb::Key + 'static,
        V: Record,
    {
        let mut t = self.txn.open_table(table.def())?;
        t.insert(key, encode(value).as_slice())?;
        Ok(())
    }

    fn remove<'k, K, V>(
        &self,
        table: Table<K, V>,
        key: impl Borrow<K::SelfType<'k>>,
    ) -> Result<(), StoreError>
    where
        K: redb::Key + 'static,
        V: Record,
    {
        let mut t = self.txn.open_table(table.def())?;
        t.remove(key)?;
        Ok(())
    }
}
