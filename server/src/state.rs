//! Everything a request handler may use, built once at startup.

use std::time::Duration;

use crate::password::Passwords;
use crate::polls::PollTracker;
use crate::store::Store;
use crate::throttle::Throttle;
use crate::tokens::KeyRing;

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
    /// Cookies get `Secure` when the base URL is https.
    pub secure_cookies: bool,
}

/// Guess limits (RFC 8628 §5.1 for user codes; passwords likewise).
pub struct Throttles {
    /// Wrong user codes per client IP: 10 a minute.
    pub user_code_ip: Throttle,
    /// Wrong user codes per browser session.
    pub user_code_session: Throttle,
    /// Wrong user codes server-wide, against a distributed attack.
    pub user_code_global: Throttle,
    /// Failed logins per client IP.
    pub login_ip: Throttle,
    /// Failed logins per account.
    pub login_account: Throttle,
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
            login_ip: Throttle::new(20, minute),
            login_account: Throttle::new(10, minute),
            device_auth_ip: Throttle::new(600, minute),
        }
    }
}

/// Shared state of the running server.
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Token signing and verification keys.
    pub keys: KeyRing,
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
}

/// Plain-words descriptions of the scopes AuthGate knows, for the consent page.
pub const SCOPES: &[(&str, &str)] = &[
    ("profile", "See your user name"),
    ("read", "Read your data"),
    ("write", "Change your data"),
];

/// The description of a scope, or the scope itself when unknown.
pub fn describe_scope(scope: &str) -> &str {
    SCOPES
        .iter()
        .find(|(s, _)| *s == scope)
        .map(|(_, d)| *d)
        .unwrap_or(scope)
}
