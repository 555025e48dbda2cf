//! Storage: the only module that touches redb.
//!
//! The rest of the server calls operations shaped like the domain ("approve this
//! code", "rotate this refresh token"); each write runs in the group-committed
//! transaction of [`writer`] and returns only once it is durable. Reads open a fresh
//! read transaction and never block on the writer. A PostgreSQL backend could later
//! implement the same operations.

mod admin;
mod audit;
mod client_cache;
mod error;
mod expiry;
mod grants;
mod ops;
mod records;
mod sessions;
mod tables;
mod user_codes;
mod writer;

use std::borrow::Borrow;
use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, TableDefinition, TableHandle, WriteTransaction};

pub use admin::ClientChange;
pub use audit::AuditEvent;
pub use error::StoreError;
pub use ops::{DecideOutcome, Decision, NewTokens, RedeemOutcome, RevokeOutcome, RotateOutcome};
pub use records::{
    Client, DeviceAuth, DeviceStatus, Grant, PollCheck, RefreshToken, Session, User,
};
pub use sessions::{EndSessions, PasswordChange, SessionMeta, SessionStart};
pub use writer::BatchStats;

use client_cache::ClientCache;
use records::{Record, decode, encode};
pub use user_codes::Pending;
use user_codes::UserCodes;
use writer::Writer;

/// redb's in-process page cache. Enough for the hot tables of a small deployment;
/// the kernel's page cache holds the rest of the file.
const PAGE_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// The AuthGate database: one redb file plus its writer thread.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    writer: Writer,
    user_codes: Arc<UserCodes>,
    clients: Arc<ClientCache>,
}

impl Store {
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
        let store = Store {
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
        txn.open_table(tables::USERS)?;
        txn.open_table(tables::CLIENTS)?;
        txn.open_table(tables::DEVICE_CODES)?;
        txn.open_table(tables::GRANTS)?;
        txn.open_table(tables::GRANTS_BY_USER)?;
        txn.open_table(tables::REFRESH_TOKENS)?;
        txn.open_table(tables::ACCESS_TOKENS)?;
        txn.open_table(tables::SESSIONS)?;
        txn.open_table(tables::SESSION_META)?;
        txn.open_table(tables::SESSIONS_BY_USER)?;
        txn.open_table(tables::META)?;
        txn.open_table(tables::AUDIT)?;
        txn.commit()?;
        Ok(())
    }

    /// Rebuilds the in-memory user code lookup from the device requests on disk.
    fn load_user_codes(&self) -> Result<(), StoreError> {
        use redb::ReadableTable;
        let txn = self.db.begin_read()?;
        let table = txn.open_table(tables::DEVICE_CODES)?;
        for entry in table.iter()? {
            let (k, v) = entry?;
            let auth: DeviceAuth = decode(tables::DEVICE_CODES.name(), v.value())?;
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

    /// Device requests awaiting a decision at `now` (entered, not decided, not
    /// expired), server-wide and of `client_id`: O(log n), from the in-memory lookup.
    pub fn pending_codes(&self, client_id: &str, now: u64) -> Pending {
        self.user_codes.pending(client_id, now)
    }

    /// Checks that the database answers a read and that the writer thread still
    /// runs, for `/health`: without the writer no login, approval or token exchange
    /// can succeed, so the server must not look healthy.
    pub fn check(&self) -> Result<(), StoreError> {
        if !self.writer.is_alive() {
            return Err(StoreError::WriterGone);
        }
        let txn = self.db.begin_read()?;
        txn.open_table(tables::META)?;
        Ok(())
    }

    /// Reads one record in a fresh read transaction.
    fn get<'k, K, T>(
        &self,
        def: TableDefinition<K, &'static [u8]>,
        key: impl Borrow<K::SelfType<'k>>,
    ) -> Result<Option<T>, StoreError>
    where
        K: redb::Key + 'static,
        T: Record,
    {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(def)?;
        let value = table.get(key)?;
        value.map(|v| decode(def.name(), v.value())).transpose()
    }

    /// Reads a raw value (bytes) in a fresh read transaction.
    fn get_raw<'k, K>(
        &self,
        def: TableDefinition<K, &'static [u8]>,
        key: impl Borrow<K::SelfType<'k>>,
    ) -> Result<Option<Vec<u8>>, StoreError>
    where
        K: redb::Key + 'static,
    {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(def)?;
        let value = table.get(key)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    /// Every record of a table, for small tables (listings, admin).
    fn scan<K, T>(&self, def: TableDefinition<K, &'static [u8]>) -> Result<Vec<T>, StoreError>
    where
        K: redb::Key + 'static,
        T: Record,
    {
        use redb::ReadableTable;
        let txn = self.db.begin_read()?;
        let table = txn.open_table(def)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (_, v) = entry?;
            out.push(decode(def.name(), v.value())?);
        }
        Ok(out)
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
        + one::<records::RefreshToken>(bytes)
        + one::<records::AccessToken>(bytes)
        + one::<Session>(bytes)
        + one::<SessionMeta>(bytes)
        + one::<AuditEvent>(bytes)
}

/// Typed access to the tables inside a write transaction.
struct Tx<'a>(&'a WriteTransaction);

impl Tx<'_> {
    fn get<'k, K, T>(
        &self,
        def: TableDefinition<K, &'static [u8]>,
        key: impl Borrow<K::SelfType<'k>>,
    ) -> Result<Option<T>, StoreError>
    where
        K: redb::Key + 'static,
        T: Record,
    {
        use redb::ReadableTable;
        let table = self.0.open_table(def)?;
        let value = table.get(key)?;
        value.map(|v| decode(def.name(), v.value())).transpose()
    }

    fn put<'k, K, T>(
        &self,
        def: TableDefinition<K, &'static [u8]>,
        key: impl Borrow<K::SelfType<'k>>,
        value: &T,
    ) -> Result<(), StoreError>
    where
        K: redb::Key + 'static,
        T: Record,
    {
        let mut table = self.0.open_table(def)?;
        table.insert(key, encode(value).as_slice())?;
        Ok(())
    }

    fn put_raw<'k, K>(
        &self,
        def: TableDefinition<K, &'static [u8]>,
        key: impl Borrow<K::SelfType<'k>>,
        value: &[u8],
    ) -> Result<(), StoreError>
    where
        K: redb::Key + 'static,
    {
        let mut table = self.0.open_table(def)?;
        table.insert(key, value)?;
        Ok(())
    }

    fn get_raw<'k, K>(
        &self,
        def: TableDefinition<K, &'static [u8]>,
        key: impl Borrow<K::SelfType<'k>>,
    ) -> Result<Option<Vec<u8>>, StoreError>
    where
        K: redb::Key + 'static,
    {
        use redb::ReadableTable;
        let table = self.0.open_table(def)?;
        let value = table.get(key)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn remove<'k, K>(
        &self,
        def: TableDefinition<K, &'static [u8]>,
        key: impl Borrow<K::SelfType<'k>>,
    ) -> Result<(), StoreError>
    where
        K: redb::Key + 'static,
    {
        let mut table = self.0.open_table(def)?;
        table.remove(key)?;
        Ok(())
    }
}
