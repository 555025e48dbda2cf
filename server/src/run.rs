//! `authgate serve`: everything from a checked configuration to a clean exit.
//!
//! Order matters for operators: every configuration value (including the TLS files)
//! is checked before the database is opened or a port is bound, so a mistake stops
//! startup with a message naming the key and nothing listening. On SIGTERM/SIGINT
//! the accept loop stops, in-flight requests finish, then one last empty write
//! passes through the group-commit queue so every queued write (audit events
//! included) is durable before the process exits 0.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::config::{self, ConfigError, LogFormat, ServeArgs, Sources};
use crate::keys::{KeySource, Keys};
use crate::metrics::{self, Metrics};
use crate::state::{AppState, Settings};
use crate::store::prelude::*;
use crate::{admin, bootstrap, clock, http, password, secrets, tokens};

/// Why the server could not start (it never stops with an error once serving).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A configuration value was refused (the message names the key).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The TLS certificate or key could not be loaded.
    #[error(transparent)]
    Tls(#[from] crate::http::tls::TlsError),
    /// The data directory or database could not be opened.
    #[error(transparent)]
    Open(#[from] bootstrap::OpenError),
    /// The signing keys could not be loaded or created.
    #[error(transparent)]
    Keys(#[from] tokens::KeyError),
    /// The database failed during startup.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The stored CSRF key is not 32 bytes.
    #[error("corrupt csrf_key in the database")]
    CorruptCsrfKey,
    /// The stored DPoP nonce key is not 32 bytes.
    #[error("corrupt dpop_nonce_key in the database")]
    CorruptDpopNonceKey,
    /// The tokio runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// The admin socket could not be bound.
    #[error(transparent)]
    AdminSocket(#[from] admin::socket::SocketError),
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The configured address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The bound address could not be read back.
    #[error("cannot read the listening address: {0}")]
    LocalAddr(std::io::Error),
}

fn init_logs(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // journald and log files get no colour escape sequences; a terminal does.
        .with_ansi(std::io::stderr().is_terminal());
    if format == LogFormat::Json {
        // The request span (with its id) is attached to every line of a request.
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
}

/// `authgate config`: checks the configuration and prints it, secrets redacted.
pub fn print_config(args: &ServeArgs, sources: &Sources) -> Result<(), ConfigError> {
    config::validate(args)?;
    print!("{}", config::print_effective(args, sources));
    Ok(())
}

/// Runs the server until SIGTERM or SIGINT.
pub fn serve(args: ServeArgs) -> Result<(), RunError> {
    config::validate(&args)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(http::tls::acceptor(cert, key).map_err(RunError::Tls)?),
        _ => None,
    };
    init_logs(args.log_format, &args.log_level);
    metrics::ENABLED.store(args.metrics, Ordering::Relaxed);
    // The page languages are parsed once, here, not on the first page view.
    crate::i18n::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    runtime.block_on(async move {
        let store = bootstrap::open_backend(
            &args.data_dir,
            args.database_url.as_ref(),
            args.database_max_connections,
            on_batch,
        )
        .await?;
        tracing::info!(backend = store.backend().as_str(), "storage open");
        let first =
            bootstrap::first_run(&store, clock::now(), args.admin_password.clone()).await?;
        let csrf_key: [u8; 32] = store
            .meta_secret("csrf_key", secrets::random_bytes::<32>().to_vec())
            .await?
            .try_into()
            .map_err(|_| RunError::CorruptCsrfKey)?;
        // The data directory's files with redb; the shared table with PostgreSQL.
        let key_source = KeySource::of(&store, &args.data_dir);
        let keys = key_source.load().await?;
        let dpop_nonce_key: [u8; 32] = store
            .meta_secret(
                crate::dpop::NONCE_KEY_SECRET,
                secrets::random_bytes::<32>().to_vec(),
            )
            .await?
            .try_into()
            .map_err(|_| RunError::CorruptDpopNonceKey)?;
        let admin_socket = admin::socket::bind(&args.data_dir)?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|source| RunError::Listen {
                addr: args.listen,
                source,
            })?;
        let bound = listener.local_addr().map_err(RunError::LocalAddr)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = match &args.base_url {
            Some(url) => config::validate_base_url(url).map_err(|source| {
                ConfigError::Invalid {
                    key: "base_url",
                    source,
                }
            })?,
            None => config::default_base_url(bound).replacen("http://", &format!("{scheme}://"), 1),
        };
        if let Some(first) = first {
            print_first_run(&first, &base_url);
        }
        let settings = Settings {
            audience: base_url.clone(),
            secure_cookies: base_url.starts_with("https://"),
            max_pending_codes: args.max_pending_codes,
            max_pending_codes_per_client: args.max_pending_codes_per_client,
            base_url,
            device_code_ttl: args.device_code_ttl.as_secs(),
            authorization_code_ttl: args.authorization_code_ttl.as_secs(),
            poll_interval: args.poll_interval,
            access_ttl: args.access_token_ttl.as_secs(),
            refresh_ttl: args.refresh_token_ttl.as_secs(),
            retry_window: args.retry_window.as_secs(),
            session_ttl: args.session_ttl.as_secs(),
            body_timeout: args.body_timeout,
            trusted_proxies: args.trusted_proxies.clone(),
            metrics_token: args
                .metrics_token
                .as_deref()
                .map(|t| secrets::sha256(t.as_bytes())),
        };
        // What other instances must see (poll pacing, guess and login limits) is
        // chosen from the backend: shared in PostgreSQL, in memory beside redb.
        let (polls, throttles) = crate::state::ephemeral(&store, args.device_auth_rate_per_ip);
        let dpop = crate::dpop::DpopState::for_store(&store, dpop_nonce_key);
        let state = Arc::new(AppState {
            store,
            keys: Keys::new(keys),
            settings,
            polls,
            csrf_key,
            passwords: password::Passwords::new(2),
            throttles,
            dpop,
            data_dir: args.data_dir.clone(),
        });
        if let KeySource::Shared { store, .. } = &key_source {
            // Rotations and retirements made through any instance sign here too.
            let (store, state) = (store.clone(), state.clone());
            tokio::spawn(async move {
                crate::keys::follow_shared(store, &state.keys, crate::keys::FOLLOW_PERIOD).await
            });
        }
        tokio::spawn(sweeper(
            state.clone(),
            key_source,
            args.sweep_interval,
            args.audit_retention,
        ));
        let admin_task = tokio::spawn(admin::socket::serve(
            admin_socket,
            state.clone(),
            args.data_dir.clone(),
        ));
        let acceptor = tls.map(|(acceptor, reloader)| {
            tokio::spawn(http::tls::reload_on_sighup(reloader));
            acceptor
        });
        tracing::info!(base_url = %state.settings.base_url, kid = %state.keys.signing_kid(), "serving");
        println!("listening on {scheme}://{bound}");
        let limits = http::serve::ConnLimits {
            max_connections: args.max_connections,
            max_per_ip: args.max_connections_per_ip,
        };
        let app = crate::router::App::new(state.clone());
        let trusted = state.settings.trusted_proxies.clone();
        http::serve::run(listener, app, trusted, acceptor, limits).await;
        admin_task.abort();
        let _ = std::fs::remove_file(admin::socket::path(&args.data_dir));
        // Everything queued before this empty write commits before it answers.
        if let Err(e) = state.store.flush().await {
            tracing::error!("final commit failed: {e}");
        }
        tracing::info!("stopped");
        Ok::<(), RunError>(())
    })
}

/// Metrics of each redb group commit.
fn on_batch(b: crate::store::BatchStats) {
    let m = metrics::get();
    m.batch_size.observe(b.size as f64);
    m.commit_latency.observe(b.commit_micros as f64 / 1e6);
    for kind in &b.audited {
        metrics::Metrics::kind(&m.audit_events, kind.as_str());
    }
    tracing::trace!(size = b.size, micros = b.commit_micros, "group commit");
}

fn print_first_run(first: &bootstrap::FirstRun, base_url: &str) {
    println!(
        "AuthGate first run: created user `admin` and public client `{}`.",
        bootstrap::CLI_CLIENT_ID
    );
    match &first.admin_password {
        Some(p) => println!("  admin password (shown once): {p}"),
        None => println!("  admin password: taken from AUTHGATE_ADMIN_PASSWORD"),
    }
    println!(
        "  try it: curl -d client_id={} {base_url}/oauth/device/code",
        bootstrap::CLI_CLIENT_ID
    );
}

/// Every `interval`: removes expired codes, tokens and sessions, audit events past
/// retention, retires signing keys no live token can name, counts device codes that
/// expired unused, and forgets idle poll state.
async fn sweeper(
    state: Arc<AppState>,
    key_source: KeySource,
    interval: Duration,
    retention: Duration,
) {
    let mut tick = tokio::time::interval(interval);
    let mut last = clock::now();
    let m = metrics::get();
    loop {
        tick.tick().await;
        let now = clock::now();
        match state.store.device_codes_expired_between(last, now).await {
            Ok(n) => Metrics::kind_by(&m.device_codes, "expired", n),
            Err(e) => tracing::warn!("cannot count expired device codes: {e}"),
        }
        last = now;
        match state.store.sweep(now).await {
            Ok(stats) => {
                m.sweeps.inc();
                Metrics::kind_by(&m.swept, "device_codes", stats.device_codes as u64);
                Metrics::kind_by(&m.swept, "access_tokens", stats.access_tokens as u64);
                Metrics::kind_by(&m.swept, "refresh_tokens", stats.refresh_tokens as u64);
                Metrics::kind_by(&m.swept, "sessions", stats.sessions as u64);
                Metrics::kind_by(&m.swept, "grants", stats.grants as u64);
                Metrics::kind_by(&m.swept, "authorization_codes", stats.auth_codes as u64);
                tracing::debug!(?stats, "swept");
            }
            Err(e) => tracing::warn!("sweep failed: {e}"),
        }
        match state
            .store
            .sweep_audit(now.saturating_sub(retention.as_secs()))
            .await
        {
            Ok(n) => Metrics::kind_by(&m.swept, "audit_events", n as u64),
            Err(e) => tracing::warn!("audit sweep failed: {e}"),
        }
        let max_ttl = state
            .store
            .max_access_ttl(state.settings.access_ttl)
            .await
            .unwrap_or(state.settings.access_ttl);
        match key_source
            .retire_and_reload(&state.keys, max_ttl, now)
            .await
        {
            Ok(0) => {}
            Ok(n) => {
                Metrics::kind_by(&m.swept, "signing_keys", n as u64);
                tracing::info!(retired = n, "retired signing keys no live token uses");
            }
            Err(e) => tracing::warn!("key retirement failed: {e}"),
        }
        // A client may set a longer device-code lifetime than the server's.
        let longest = *crate::admin::rules::DEVICE_CODE_TTL_RANGE.end();
        let idle = Duration::from_secs(state.settings.device_code_ttl.max(longest) + 60);
        state.polls.prune(Instant::now(), idle);
    }
}
