//! The PostgreSQL backend: many instances on one database.
//!
//! A connection pool ([`PgStore::connect`]), the embedded versioned schema applied
//! at start under an advisory lock ([`migrate`]), and one file per storage domain,
//! each `impl <Trait> for PgStore` of `super`'s traits: every transition is decided
//! by the pure `crate::grant` rules (as the redb backend does) and persisted in the
//! transaction that acknowledges it, with row locks settling races between
//! instances.
//!
//! Clients are cached per instance ([`cache`]) and kept in step across instances by
//! LISTEN/NOTIFY ([`notify`]): every change to a client or a user notifies in its
//! own transaction, and each store keeps one listening connection. The signing key
//! ring shared by every instance is [`signing`] (used by
//! `crate::keys::KeySource::Shared`).
//!
//! Lock order, for every writer (so two transactions never wait on each other in a
//! cycle): a device request, then the user's row (`FOR SHARE` to read a standing,
//! `FOR UPDATE` to change the user), then that user's sessions and grants, then
//! token rows; a client's row before its grants. Statements go through deadpool's
//! per-connection statement cache (`prepare_cached`): one round trip each after
//! the first use on a connection.
//!
//! Driver: `tokio-postgres` with `deadpool-postgres` for pooling: async on the same
//! tokio runtime, no database needed at compile time (unlike sqlx's checked queries),
//! few dependencies, and plain SQL strings that are tested against a real server
//! (`authgate_tests::pg`).

pub mod admin;
pub mod audit;
pub mod auth_codes;
mod batch;
pub mod cache;
pub mod clients;
pub mod devices;
pub mod dpop;
mod dump;
pub mod grants;
pub mod keys;
pub mod migrate;
pub mod notify;
pub mod pacing;
pub mod rates;
mod redemption;
mod rotation;
pub mod sessions;
pub mod signing;
pub mod sweep;
pub mod users;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_data;
#[cfg(test)]
mod tests_ops;
#[cfg(test)]
mod tests_shared;

use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

/// A failure of the PostgreSQL backend.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The database URL could not be parsed, or the pool could not be built.
    #[error("database configuration: {0}")]
    Config(String),
    /// No connection could be had from the pool (the database is down, restarting,
    /// or every connection is busy past the timeout).
    #[error("database unavailable: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A statement failed (including a lost connection).
    #[error("database error: {0}")]
    Db(#[from] tokio_postgres::Error),
    /// A row does not hold a valid record (a hand-edited or damaged database).
    #[error("corrupt row in table {table}: {reason}")]
    Corrupt {
        /// The table holding the bad row.
        table: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// A value does not fit its column (a Unix time past `i64::MAX`).
    #[error("{0} is out of range for the database")]
    OutOfRange(&'static str),
    /// Too many polls are waiting for the database (`poll_queue`): it is not
    /// keeping up. Nothing was done; the client may retry shortly.
    #[error("too many polls waiting for the database")]
    Busy,
    /// The batch of polls this one went in failed (`poll_queue`): the failure is
    /// shared by every poll of the batch.
    #[error("{0}")]
    Batch(Arc<PgError>),
}

impl PgError {
    /// Whether the database could not be reached (answer 503 and retry later), as
    /// opposed to a fault in a statement or a row.
    pub fn is_unavailable(&self) -> bool {
        match self {
            PgError::Pool(_) | PgError::Busy => true,
            PgError::Db(e) => e.is_closed() || e.as_db_error().is_none(),
            PgError::Batch(e) => e.is_unavailable(),
            _ => false,
        }
    }
}

/// Connections to one PostgreSQL database, shared by the handlers of one instance.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    shared: Arc<Shared>,
}

/// What the clones of one instance's store share besides the pool.
struct Shared {
    /// This instance's client cache, kept in step by `_listener`.
    clients: Arc<cache::ClientCache>,
    /// Pending device codes counted at most once a second (see `devices`).
    pending: std::sync::Mutex<devices::PendingCounts>,
    /// Held by the one request counting them: the others answer from the last
    /// counts meanwhile rather than count too.
    counting: tokio::sync::Mutex<()>,
    /// This instance's polls, batched into one statement per round trip.
    polls: batch::Queue<pacing::Polls>,
    /// This instance's counter reads, batched likewise.
    counters: batch::Queue<rates::CounterReads>,
    /// This instance's device-authorization inserts, batched likewise.
    creates: batch::Queue<devices::Creates>,
    /// This instance's detached audit events, written in batches.
    audit: audit::AuditQueue,
    /// The listening connection's task; stops with the last clone.
    _listener: notify::Listener,
}

impl PgStore {
    /// A pool of at most `max_connections` connections to `url`
    /// (`postgres://user@host:port/db`), with the schema migrated to the newest
    /// version this build knows. Fails if the database cannot be reached.
    pub async fn connect(url: &str, max_connections: usize) -> Result<Self, PgError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| PgError::Config(e.to_string()))?;
        let manager = Manager::from_config(
            generic_plans(config.clone()),
            tokio_postgres::NoTls,
            ManagerConfig {
                // Reuse a connection unless it is known closed; no check query per
                // checkout (a round trip on every statement). A connection that died
                // with a database restart fails the one request that meets it (503),
                // and is then dropped.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(std::time::Duration::from_secs(5)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .build()
            .map_err(|e| PgError::Config(e.to_string()))?;
        let mut client = pool.get().await?;
        migrate::migrate(&mut client).await?;
        let clients = Arc::new(cache::ClientCache::default());
        let listener = notify::Listener::spawn(config, clients.clone());
        let polls = batch::Queue::spawn(pool.clone());
        let counters = batch::Queue::spawn(pool.clone());
        let creates = batch::Queue::spawn(pool.clone());
        let audit = audit::AuditQueue::spawn(pool.clone());
        Ok(PgStore {
            pool,
            shared: Arc::new(Shared {
                clients,
                pending: std::sync::Mutex::default(),
                counting: tokio::sync::Mutex::new(()),
                polls,
                counters,
                creates,
                audit,
                _listener: listener,
            }),
        })
    }

    /// This instance's client cache (its listener state, for the tests).
    #[cfg(test)]
    pub(crate) fn client_cache(&self) -> &cache::ClientCache {
        &self.shared.clients
    }

    /// Whether the database answers a round trip right now, for `/health`. A pooled
    /// connection that died with the server is recycled on the next try, so once
    /// PostgreSQL is back this succeeds again without a restart.
    pub async fn check(&self) -> Result<(), PgError> {
        let client = self.conn().await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// A pooled connection.
    pub(crate) async fn conn(&self) -> Result<deadpool_postgres::Object, PgError> {
        Ok(self.pool.get().await?)
    }
}

/// `config` with every prepared statement planned once (`plan_cache_mode =
/// force_generic_plan`) after the options the URL gave. The batch statements
/// (`batch`) take arrays: with a short array PostgreSQL judged a custom plan
/// cheaper and planned the statement anew on every execution, which cost more
/// than the batching saved; the other statements are key lookups, planned alike
/// either way.
fn generic_plans(mut config: tokio_postgres::Config) -> tokio_postgres::Config {
    const GENERIC: &str = "-c plan_cache_mode=force_generic_plan";
    let options = match config.get_options() {
        Some(given) => format!("{given} {GENERIC}"),
        None => GENERIC.to_string(),
    };
    config.options(&options);
    config
}

/// A Unix time or length as a `bigint` column.
fn to_i64(v: u64, what: &'static str) -> Result<i64, PgError> {
    i64::try_from(v).map_err(|_| PgError::OutOfRange(what))
}

/// A `bigint` column read back as the record's `u64`.
fn to_u64(v: i64, table: &'static str) -> Result<u64, PgError> {
    u64::try_from(v).map_err(|_| PgError::Corrupt {
        table,
        reason: format!("negative value {v}"),
    })
}

/// A `bytea` column of fixed length read back as an array.
fn to_array<const N: usize>(v: &[u8], table: &'static str) -> Result<[u8; N], PgError> {
    <[u8; N]>::try_from(v).map_err(|_| PgError::Corrupt {
        table,
        reason: format!("{} bytes where {N} belong", v.len()),
    })
}
