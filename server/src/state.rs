//! Everything a request handler may use, built once at startup.

use std::time::Duration;

use crate::keys::Keys;
use crate::password::Passwords;
use crate::polls::PollTracker;
use crate::store::Store;
use crate::throttle::{Backoff, Throttle};

/// Settings derived from the configuration, in the units handlers use.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Public base URL without a trailing slash; also the issuer.
    pub base_url: String,
    /// Audience written into access tokens.
    pub audience: String,
    /// Device code lifetime, seconds.
    pub device_code_ttl: u64,
    /// Announced polling interval.
    pub poll_interval: Duration,
    /// Default access-token lifetime, seconds.
    pub access_ttl: u64,
    /// Default refresh-token lifetime, seconds.
    pub refresh_ttl: u64,
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

/// Guess limits (RFC 8628 §5.1 for user codes; passwords likewise).
pub struct Throttles {
    /// Wrong user codes per client IP: 10 a minute.
    pub user_code_ip: Throttle,
    /// Wrong user codes per browser session.
    pub user_code_session: Throttle,
    /// Wrong user codes server-wide, against a distributed attack. Over this limit
    /// only sources (IP, session or account) that already guessed wrong in the
    /// current minute are refused, so an attacker can't lock everyone out
    /// (see `web::guess`).
    pub user_code_global: Throttle,
    /// Wrong user codes per account; consulted only while the global limit is
    /// exceeded, to refuse accounts that already guessed wrong.
    pub user_code_account: Throttle,
    /// Failed logins per client IP: exponential backoff after 10.
    pub login_ip: Backoff,
    /// Failed logins per account: exponential backoff after 5, applied to addresses
    /// that failed recently (so an attacker can't lock the owner out).
    pub login_account: Backoff,
    /// Device authorization requests per IP (each creates a record).
    pub device_auth_ip: Throttle,
}

impl Default for Throttles {
    fn default() -> Self {
        let minute = Duration::from_secs(60);
        Throttles {
            user_code_ip: Throttle::new(10, minute),
            user_code_session: Throttle::new(10, minute),
            user_code_global: Throttle::new(600, minute),
            user_code_account: Throttle::new(600, minute),
            login_ip: Backoff::new(10, Duration::from_secs(300), Duration::from_secs(900)),
            login_account: Backoff::new(5, Duration::from_secs(300), Duration::from_secs(900)),
            device_auth_ip: Throttle::new(DEVICE_AUTH_PER_IP_PER_MINUTE, minute),
        }
    }
}

/// Default limit of device authorizations per IP and minute.
pub const DEVICE_AUTH_PER_IP_PER_MINUTE: u32 = 600;

impl Throttles {
    /// The defaults, with `per_minute` device authorizations per IP (0: no limit,
    /// for load tests or when a proxy in front already limits).
    pub fn with_device_auth_rate(per_minute: u32) -> Self {
        Throttles {
            device_auth_ip: Throttle::new(per_minute, Duration::from_secs(60)),
            ..Throttles::default()
        }
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
    /// In-memory poll pacing.
    pub polls: PollTracker,
    /// Key for CSRF tokens.
    pub csrf_key: [u8; 32],
    /// argon2 off the async workers.
    pub passwords: Passwords,
    /// Guess limits.
    pub throttles: Throttles,
    /// DPoP proof replay cache and nonces.
    pub dpop: crate::dpop::DpopState,
}
