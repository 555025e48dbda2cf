//! Opening the storage backend (redb in the data directory, or PostgreSQL), and
//! the first-run accounts.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::config::DatabaseUrl;
use crate::password::hash_blocking;
use crate::secrets::{random_bytes, random_token};
use crate::store::pg::PgError;
use crate::store::prelude::*;
use crate::store::{BatchStats, Client, PgStore, Store, StoreError, User};

/// Why the data directory could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Creating or securing the directory failed.
    #[error("data directory {0}: {1}")]
    Dir(String, std::io::Error),
    /// The database could not be opened (often: the server is already running).
    #[error("database: {0} (is another authgate process using this data directory?)")]
    Store(#[from] StoreError),
    /// PostgreSQL could not be reached or migrated (the URL is shown without its
    /// password).
    #[error("PostgreSQL at {url}: {source}")]
    Postgres {
        /// The database URL, redacted.
        url: String,
        /// Why.
        source: PgError,
    },
    /// The first-run admin password could not be hashed.
    #[error(transparent)]
    Hash(#[from] crate::password::HashError),
    /// The signing keys could not be loaded or created.
    #[error(transparent)]
    Keys(#[from] crate::tokens::KeyError),
}

/// Id of the public client every installation starts with.
pub const CLI_CLIENT_ID: &str = "authgate-cli";
/// The loopback redirect `authgate-login` listens on in its browser mode (any
/// port matches, RFC 8252 §7.3).
pub const CLI_REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// Creates the data directory (mode 0700) and opens the store in it.
pub fn open_store(
    data_dir: &Path,
    on_batch: impl Fn(BatchStats) + Send + 'static,
) -> Result<Store, OpenError> {
    create_data_dir(data_dir)?;
    Ok(Store::open(&data_dir.join("authgate.redb"), on_batch)?)
}

/// Creates the data directory (mode 0700): it holds the redb file, and with either
/// backend the admin socket.
fn create_data_dir(data_dir: &Path) -> Result<(), OpenError> {
    let show = data_dir.display().to_string();
    fs::create_dir_all(data_dir).map_err(|e| OpenError::Dir(show.clone(), e))?;
    fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| OpenError::Dir(show, e))
}

/// Opens the backend the configuration selects: PostgreSQL at `database_url`
/// (pool of at most `max_connections`, schema migrated under a lock) when set,
/// otherwise redb in `data_dir` as [`open_store`] does.
pub async fn open_backend(
    data_dir: &Path,
    database_url: Option<&DatabaseUrl>,
    max_connections: usize,
    on_batch: impl Fn(BatchStats) + Send + 'static,
) -> Result<Store, OpenError> {
    let Some(url) = database_url else {
        return open_store(data_dir, on_batch);
    };
    // No database file here, but the admin socket is.
    create_data_dir(data_dir)?;
    let pg = PgStore::connect(url.expose(), max_connections)
        .await
        .map_err(|source| OpenError::Postgres {
            url: url.redacted(),
            source,
        })?;
    Ok(Store::Postgres(pg))
}

/// What the first run created, to print once.
pub struct FirstRun {
    /// The admin's password (generated unless given by the environment).
    pub admin_password: Option<String>,
}

/// On first run (no users yet), creates `admin` and the public `authgate-cli` client.
/// Safe when several instances share one database and start together: the check
/// and the creation are one [`Users::bootstrap`] transaction, so one instance
/// creates them and the others see it done (and print nothing).
/// The admin password comes from `password` (`admin_password` in the
/// configuration: `AUTHGATE_ADMIN_PASSWORD` or the config file) or is generated.
pub async fn first_run(
    store: &Store,
    now: u64,
    password: Option<String>,
) -> Result<Option<FirstRun>, OpenError> {
    if !store.users().await?.is_empty() {
        return Ok(None);
    }
    let from_env = password.filter(|p| !p.is_empty());
    let password = from_env
        .clone()
        .unwrap_or_else(|| random_token()[..20].to_string());
    let admin = User {
        id: crate::secrets::hex(&random_bytes::<8>()),
        username: "admin".into(),
        password_hash: hash_blocking(&password)?,
        disabled: false,
        created_at: now,
        admin: true,
    };
    let cli = Client {
        id: CLI_CLIENT_ID.into(),
        name: "AuthGate CLI".into(),
        secret_hash: None,
        scopes: vec!["profile".into(), "read".into(), "write".into()],
        // The device flow anywhere; the authorization code flow with a loopback
        // redirect where `authgate-login` can open a browser (RFC 8252 §7.3).
        grant_types: vec![
            "device_code".into(),
            "refresh_token".into(),
            "authorization_code".into(),
        ],
        disabled: false,
        access_ttl: None,
        refresh_ttl: None,
        created_at: now,
        audiences: Vec::new(),
        dpop: crate::store::DpopMode::Optional,
        redirect_uris: vec![CLI_REDIRECT_URI.into()],
        access_token_format: Default::default(),
        device_code_ttl: None,
        poll_interval: None,
        user_code_format: Default::default(),
    };
    let created = store.bootstrap(admin, vec![cli]).await?;
    Ok(created.then_some(FirstRun {
        admin_password: if from_env.is_some() {
            None
        } else {
            Some(password)
        },
    }))
}
