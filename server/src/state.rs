//! Everything a request handler may use, built once at startup.

use std::time::Duration;

use crate::keys::Keys;
use crate::limits::{BackoffLimit, Scope, WindowLimit};
use crate::pacer::Pacer;
use crate::password::Passwords;
use crate::polls::PollTracker;
use crate::store::Store;
use crate::store::pg::PgStore;
use crate::throttle::{Backoff, Throttle, WindowRule};

/// Settings derived from the configuration, in the units handlers use.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Public base URL without a trailing slash; also the issuer.
    pub base_url: String,
    /// Audience written into access tokens.
    pub audience: String,
    /// Device code lifetime, seconds.
    pub device_code_ttl: u64,
    /// Authorization code lifetime, seconds (RFC 6749 §4.1.2).
    pub authorization_code_ttl: u64,
    /// Announced polling interval.
    pub poll_interval: Duration,
    /// Default access-token lifetime, seconds.
    pub access_ttl: u64,
    /// Default refresh-token lifetime, seconds.
    pub refresh_ttl: u64,
    /// How long a lost token answer may be retried with the credential it
    /// answered (the superseded refresh token, the redeemed device code), seconds;
    /// 0: never.
    pub retry_window: u64,
    /// Browser session lifetime, seconds.
    pub session_ttl: u64,
    /// When the base URL is https: cookies get `Secure` and `__Host-` names, and
    /// every response carries HSTS.
    pub secure_cookies: bool,
    /// Total time a client has to send a request body.
    pub body_timeout: Duration,
    /// Peers whose `Forwarded` / `X-Forwarded-For` name the client.
    pub trusted_proxies: crate::http::client_ip::TrustedProxies,
    /// Device requests awaiting a decision, server-wide (see `store::UserCodes`).
    pub max_pending_codes: usize,
    /// Device requests awaiting a decision, per client.
    pub max_pending_codes_per_client: usize,
    /// SHA-256 of the bearer token `/metrics` requires; `None`: open. Hashed so the
    /// constant-time comparison doesn't depend on the presented token's length.
    pub metrics_token: Option<[u8; 32]>,
}

/// Default cap on device requests awaiting a decision, server-wide. A pending
/// request costs ~300 bytes on disk and ~150 in memory, so 100,000 of them are
/// ~45 MB at most; legitimate load is far below (one person, one code, minutes).
pub const MAX_PENDING_CODES: usize = 100_000;

/// Default cap on device requests awaiting a decision, per client.
pub const MAX_PENDING_CODES_PER_CLIENT: usize = 10_000;

/// Guess limits (RFC 8628 §5.1 for user codes; passwords likewise), in memory or
/// shared by every instance (`crate::limits`).
pub struct Throttles {
    /// Wrong user codes per client IP: 10 a minute.
    pub user_code_ip: WindowLimit,
    /// Wrong user codes per browser session.
    pub user_code_session: WindowLimit,
    /// Wrong user codes server-wide, against a distributed attack. Over this limit
    /// only sources (IP, session or account) that already guessed wrong in the
    /// current minute are refused, so an attacker can't lock everyone out
    /// (see `web::guess`).
    pub user_code_global: WindowLimit,
    /// Wrong user codes per account; consulted only while the global limit is
    /// exceeded, to refuse accounts that already guessed wrong.
    pub user_code_account: WindowLimit,
    /// Failed logins per client IP: exponential backoff after 10.
    pub login_ip: BackoffLimit,
    /// Failed logins per account: exponential backoff after 5, applied to addresses
    /// that failed recently (so an attacker can't lock the owner out).
    pub login_account: BackoffLimit,
    /// Device authorization requests per IP (each creates a record).
    pub device_auth_ip: WindowLimit,
    /// Client-credentials tokens per client (each creates a grant record):
    /// [`CLIENT_CREDENTIALS_PER_MINUTE`].
    pub client_credentials: WindowLimit,
}

/// Client-credentials tokens one client may get a minute: a service caches its
/// token for its lifetime, so even a fleet of instances of one service stays far
/// below; a leaked secret can't fill the store.
pub const CLIENT_CREDENTIALS_PER_MINUTE: u32 = 120;

impl Default for Throttles {
    fn default() -> Self {
        Throttles::with_device_auth_rate(DEVICE_AUTH_PER_IP_PER_MINUTE)
    }
}

/// Default limit of device authorizations per IP and minute.
pub const DEVICE_AUTH_PER_IP_PER_MINUTE: u32 = 600;

impl Throttles {
    /// The defaults in memory, with `per_minute` device authorizations per IP (0: no
    /// limit, for load tests or when a proxy in front already limits).
    pub fn with_device_auth_rate(per_minute: u32) -> Self {
        Throttles::build(
            per_minute,
            |rule, _| WindowLimit::Memory(Throttle::new(rule.max, rule.window)),
            |rule, _| BackoffLimit::Memory(rule),
        )
    }

    /// The same limits, counted in PostgreSQL and shared by every instance on it.
    pub fn shared(pg: &PgStore, per_minute: u32) -> Self {
        Throttles::build(
            per_minute,
            |rule, scope| WindowLimit::Shared {
                rule,
                pg: pg.clone(),
                scope,
            },
            |rule, scope| BackoffLimit::Shared {
                rule: rule.rule_only(),
                pg: pg.clone(),
                scope,
            },
        )
    }

    /// The limits, each made by `window` or `backoff` from its rule and scope.
    fn build(
        per_minute: u32,
        window: impl Fn(WindowRule, Scope) -> WindowLimit,
        backoff: impl Fn(Backoff, Scope) -> BackoffLimit,
    ) -> Self {
        let minute = Duration::from_secs(60);
        let per_minute_rule = |max| WindowRule {
            max,
            window: minute,
        };
        let login = |free| Backoff::new(free, Duration::from_secs(300), Duration::from_secs(900));
        Throttles {
            user_code_ip: window(per_minute_rule(10), Scope::UserCodeIp),
            user_code_session: window(per_minute_rule(10), Scope::UserCodeSession),
            user_code_global: window(per_minute_rule(600), Scope::UserCodeGlobal),
            user_code_account: window(per_minute_rule(600), Scope::UserCodeAccount),
            login_ip: backoff(login(10), Scope::LoginIp),
            login_account: backoff(login(5), Scope::LoginAccount),
            device_auth_ip: window(per_minute_rule(per_minute), Scope::DeviceAuthIp),
            client_credentials: window(
                per_minute_rule(CLIENT_CREDENTIALS_PER_MINUTE),
                Scope::ClientCredentials,
            ),
        }
    }
}

/// Poll pacing and guess limits where the store puts them: in this process beside
/// redb (one instance), in PostgreSQL's unlogged `rate_counters` beside a shared
/// database, so that every instance counts as one (issue 13).
pub fn ephemeral(store: &Store, device_auth_rate: u32) -> (Pacer, Throttles) {
    match store {
        Store::Redb(_) => (
            Pacer::Memory(PollTracker::default()),
            Throttles::with_device_auth_rate(device_auth_rate),
        ),
        Store::Postgres(pg) => (
            Pacer::Shared(pg.clone()),
            Throttles::shared(pg, device_auth_rate),
        ),
    }
}

/// Shared state of the running server.
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Token signing and verification keys.
    pub keys: Keys,
    /// Configuration.
    pub settings: Settings,
    /// Poll pacing, in memory or shared.
    pub polls: Pacer,
    /// Key for CSRF tokens.
    pub csrf_key: [u8; 32],
    /// argon2 off the async workers.
    pub passwords: Passwords,
    /// Guess limits.
    pub throttles: Throttles,
    /// DPoP proof replay cache and nonces.
    pub dpop: crate::dpop::DpopState,
    /// The data directory: where redb keeps the signing key files, for the
    /// console's key page (with PostgreSQL the keys are in the database).
    pub data_dir: std::path::PathBuf,
}
