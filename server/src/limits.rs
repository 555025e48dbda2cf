//! Where guess, login and device-authorization counters live: in this process
//! (redb, one instance; `crate::throttle` exactly as before) or in PostgreSQL's
//! UNLOGGED `rate_counters`, shared by every instance (`store::pg::rates`), chosen
//! once at start.
//!
//! Same rules on both (the pure [`WindowRule`] and [`Backoff`] of
//! `crate::throttle`), same semantics: fixed windows for the guess and
//! device-authorization limits, exponential backoff for logins. Keeping today's
//! semantics (rather than, say, a sliding window) means one instance and many answer
//! alike, and the tests of the rules cover both.
//!
//! The methods are `async` and fallible because the shared counters are a database
//! round trip; the in-memory arm is a plain call inside the future (no allocation, no
//! await point), so it costs what it did. Shared counters run on the wall clock
//! (instances share no monotonic one); the in-memory ones on the `Instant` passed in.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::store::StoreError;
use crate::store::pg::PgStore;
use crate::store::pg::rates::Counter;
use crate::throttle::{Backoff, Throttle, WindowRule};

/// What a counter limits: its `scope` in the shared table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Wrong user codes per client address.
    UserCodeIp,
    /// Wrong user codes per browser session.
    UserCodeSession,
    /// Wrong user codes server-wide.
    UserCodeGlobal,
    /// Wrong user codes per account.
    UserCodeAccount,
    /// Failed logins per client address.
    LoginIp,
    /// Failed logins per account.
    LoginAccount,
    /// Device authorizations per client address.
    DeviceAuthIp,
    /// Client-credentials tokens per client.
    ClientCredentials,
}

impl Scope {
    /// The `scope` column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::UserCodeIp => "user_code_ip",
            Scope::UserCodeSession => "user_code_session",
            Scope::UserCodeGlobal => "user_code_global",
            Scope::UserCodeAccount => "user_code_account",
            Scope::LoginIp => "login_ip",
            Scope::LoginAccount => "login_account",
            Scope::DeviceAuthIp => "device_auth_ip",
            Scope::ClientCredentials => "client_credentials",
        }
    }
}

/// The wall clock in Unix milliseconds, the shared counters' time.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// How long ago a shared counter's time was.
fn since(c: &Counter, now: u64) -> Duration {
    Duration::from_millis(now.saturating_sub(c.start_ms))
}

/// A fixed-window limit ([`Throttle`]) in memory or shared.
pub enum WindowLimit {
    /// This process's counters.
    Memory(Throttle),
    /// Counters in PostgreSQL, shared by every instance.
    Shared {
        /// The rule.
        rule: WindowRule,
        /// The database.
        pg: PgStore,
        /// The counters' scope.
        scope: Scope,
    },
}

impl WindowLimit {
    /// If `key` is over its limit, how long until it may try again.
    pub async fn blocked_for(
        &self,
        key: &str,
        now: Instant,
    ) -> Result<Option<Duration>, StoreError> {
        match self {
            WindowLimit::Memory(t) => Ok(t.blocked_for(key, now)),
            WindowLimit::Shared { rule, .. } if rule.is_off() => Ok(None),
            WindowLimit::Shared { rule, pg, scope } => {
                let at = now_ms();
                let c = pg.rate_counter(scope.as_str(), key).await?;
                Ok(c.and_then(|c| rule.wait(since(&c, at), c.count)))
            }
        }
    }

    /// Counts one (failed) attempt by `key`.
    pub async fn hit(&self, key: &str, now: Instant) -> Result<(), StoreError> {
        match self {
            WindowLimit::Memory(t) => {
                t.hit(key, now);
                Ok(())
            }
            WindowLimit::Shared { rule, .. } if rule.is_off() => Ok(()),
            WindowLimit::Shared { rule, pg, scope } => Ok(pg
                .rate_hit(scope.as_str(), key, rule.window, now_ms())
                .await?),
        }
    }

    /// How many attempts `key` has made in its current window.
    pub async fn failures(&self, key: &str, now: Instant) -> Result<u32, StoreError> {
        match self {
            WindowLimit::Memory(t) => Ok(t.failures(key, now)),
            WindowLimit::Shared { rule, pg, scope } => {
                let at = now_ms();
                let c = pg.rate_counter(scope.as_str(), key).await?;
                Ok(c.map_or(0, |c| rule.in_window(since(&c, at), c.count)))
            }
        }
    }
}

/// An exponential backoff ([`Backoff`]) in memory or shared.
pub enum BackoffLimit {
    /// This process's counters.
    Memory(Backoff),
    /// Counters in PostgreSQL, shared by every instance.
    Shared {
        /// The rule (its own map unused).
        rule: Backoff,
        /// The database.
        pg: PgStore,
        /// The counters' scope.
        scope: Scope,
    },
}

impl BackoffLimit {
    /// If `key` must still wait, for how long.
    pub async fn blocked_for(
        &self,
        key: &str,
        now: Instant,
    ) -> Result<Option<Duration>, StoreError> {
        match self {
            BackoffLimit::Memory(b) => Ok(b.blocked_for(key, now)),
            BackoffLimit::Shared { rule, pg, scope } => {
                let at = now_ms();
                let c = pg.rate_counter(scope.as_str(), key).await?;
                Ok(c.and_then(|c| rule.wait_since(since(&c, at), c.count)))
            }
        }
    }

    /// Whether `key` failed recently.
    pub async fn failed_recently(&self, key: &str, now: Instant) -> Result<bool, StoreError> {
        match self {
            BackoffLimit::Memory(b) => Ok(b.failed_recently(key, now)),
            BackoffLimit::Shared { rule, pg, scope } => {
                let at = now_ms();
                let c = pg.rate_counter(scope.as_str(), key).await?;
                Ok(c.is_some_and(|c| rule.is_recent(since(&c, at))))
            }
        }
    }

    /// Counts one failure by `key`.
    pub async fn fail(&self, key: &str, now: Instant) -> Result<(), StoreError> {
        match self {
            BackoffLimit::Memory(b) => {
                b.fail(key, now);
                Ok(())
            }
            BackoffLimit::Shared { rule, pg, scope } => Ok(pg
                .rate_fail(scope.as_str(), key, rule.forget(), now_ms())
                .await?),
        }
    }

    /// Check-and-count in one step ([`Backoff::reserve`]), atomic across instances
    /// when shared.
    pub async fn reserve(
        &self,
        key: &str,
        now: Instant,
    ) -> Result<Result<(), Duration>, StoreError> {
        match self {
            BackoffLimit::Memory(b) => Ok(b.reserve(key, now)),
            BackoffLimit::Shared { rule, pg, scope } => Ok(pg
                .rate_reserve(scope.as_str(), key, &rule.waits(), rule.forget(), now_ms())
                .await?),
        }
    }

    /// Gives back one reserved attempt that turned out to succeed.
    pub async fn refund(&self, key: &str) -> Result<(), StoreError> {
        match self {
            BackoffLimit::Memory(b) => {
                b.refund(key);
                Ok(())
            }
            BackoffLimit::Shared { pg, scope, .. } => {
                Ok(pg.rate_refund(scope.as_str(), key).await?)
            }
        }
    }
}

/// The output of a future that completes without waiting, as every in-memory limit
/// does: a test helper that also proves the in-memory arm has no await point.
#[cfg(test)]
pub(crate) fn ready<F: std::future::Future>(f: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(f).poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("an in-memory limit waited"),
    }
}
