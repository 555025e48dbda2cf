//! One password check under the login limits, shared by sign-in and the
//! change-password form.
//!
//! Order matters, and every step is O(1):
//! 1. refused while the address (or, for an address that failed recently, the
//!    account) is in backoff;
//! 2. admitted by [`crate::password::Passwords::admit`]: one check per address in
//!    flight, a bounded queue server-wide;
//! 3. counted as a failure *before* the hash runs (check-and-reserve in one step,
//!    so 25 concurrent attempts can't all pass the check), and given back only
//!    when the password was right;
//! 4. the hash runs with the permit and the admission ticket moved into the
//!    blocking task, and a failure is audited there, so a client that hangs up
//!    is still counted and logged.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hyper::StatusCode;

use super::client_key;
use crate::password::{Refused, Ticket};
use crate::state::AppState;
use crate::store::StoreError;
use crate::views::Wait;

/// What a password is being checked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// `POST /login`: failures go to the audit log as `login_failed`.
    SignIn,
    /// The current password on the change-password form.
    ChangePassword,
}

/// An admitted, already counted password check.
pub struct PasswordAttempt {
    ticket: Ticket,
    ip: IpAddr,
    ip_key: String,
    account_key: String,
    username: String,
    purpose: Purpose,
}

/// Why a check was refused before it ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures: wait this many seconds (429).
    Backoff(u64),
    /// This address already has a check in flight (429, retry in 1 s).
    InFlight,
    /// The server's password queue is full (503, retry in 1 s).
    Busy,
}

/// The login counters could not be read or written (the shared database is down):
/// refused as busy (503, retry in 1 s), never let through uncounted.
fn down(e: StoreError) -> Refusal {
    tracing::warn!(error = %e, "login throttle unavailable");
    Refusal::Busy
}

impl Refusal {
    fn backoff(wait: Duration) -> Self {
        crate::events::throttled("login");
        Refusal::Backoff(wait.as_secs() + 1)
    }

    /// The HTTP status to answer with.
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Backoff(_) | Refusal::InFlight => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The `Retry-After` value, seconds.
    pub fn secs(self) -> u64 {
        match self {
            Refusal::Backoff(secs) => secs,
            Refusal::InFlight | Refusal::Busy => 1,
        }
    }

    /// What the form says about it (each form words it in the page's language).
    pub fn wait(self) -> Wait {
        match self {
            Refusal::Backoff(secs) => Wait::Backoff(secs),
            Refusal::InFlight => Wait::InFlight,
            Refusal::Busy => Wait::Busy,
        }
    }
}

impl PasswordAttempt {
    /// Admits and counts one check of `username`'s password from `ip`.
    pub async fn begin(
        state: &AppState,
        ip: IpAddr,
        username: &str,
        purpose: Purpose,
    ) -> Result<Self, Refusal> {
        let t = Instant::now();
        let th = &state.throttles;
        let ip_key = client_key(ip);
        let account_key = username.to_lowercase();
        if th
            .login_ip
            .failed_recently(&ip_key, t)
            .await
            .map_err(down)?
            && let Some(wait) = th
                .login_account
                .blocked_for(&account_key, t)
                .await
                .map_err(down)?
        {
            return Err(Refusal::backoff(wait));
        }
        if let Some(wait) = th.login_ip.blocked_for(&ip_key, t).await.map_err(down)? {
            return Err(Refusal::backoff(wait));
        }
        let ticket = state.passwords.admit(&ip_key).map_err(|r| match r {
            Refused::InFlight => Refusal::InFlight,
            Refused::Busy => Refusal::Busy,
        })?;
        th.login_ip
            .reserve(&ip_key, t)
            .await
            .map_err(down)?
            .map_err(Refusal::backoff)?;
        th.login_account.fail(&account_key, t).await.map_err(down)?;
        Ok(PasswordAttempt {
            ticket,
            ip,
            ip_key,
            account_key,
            username: username.to_string(),
            purpose,
        })
    }

    /// Runs the check against `hash` (`None`: no such user, checked against a dummy
    /// so it takes as long). A success gives the counted failure back.
    pub async fn verify(self, state: &AppState, password: String, hash: Option<String>) -> bool {
        let PasswordAttempt {
            ticket,
            ip,
            ip_key,
            account_key,
            username,
            purpose,
        } = self;
        let store = state.store.clone();
        let on_done = move |ok: bool| {
            if !ok && purpose == Purpose::SignIn {
                crate::events::login_failed(&store, &username, ip);
            }
        };
        let ok = state
            .passwords
            .verify(ticket, password, hash, on_done)
            .await;
        if ok {
            // A refund lost to a database failure only costs the person one counted
            // failure, which the backoff forgives after its free ones.
            for (limit, key) in [
                (&state.throttles.login_ip, &ip_key),
                (&state.throttles.login_account, &account_key),
            ] {
                if let Err(e) = limit.refund(key).await {
                    tracing::warn!(error = %e, "login refund not recorded");
                }
            }
        }
        ok
    }
}
