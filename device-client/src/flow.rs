//! [`DeviceFlow`]: the sans-IO device authorization grant client.

use authgate_proto::{ErrorCode, SLOW_DOWN_INCREMENT_SECS, params, paths};
use heapless::Deque;

use crate::error::{ApiMisuse, Error};
use crate::event::Event;
use crate::request::{Endpoint, FormWriter, Method, RequestKind, Transmit};
use crate::response::{self, CodeGrant, Reply};
use crate::time::{Duration, Instant};
use crate::timer::{Timer, TimerTable};
use crate::tokens::Tokens;

/// Retry policy for server and transport failures: exponential backoff with a cap.
///
/// The n-th consecutive failure waits `initial · 2^(n-1)`, at most `max` (and never
/// less than the poll interval while polling). Any well-formed answer resets the count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Wait after the first failure.
    pub initial: Duration,
    /// Longest wait between attempts.
    pub max: Duration,
    /// Give up ([`Error::RetriesExhausted`]) after this many consecutive failures;
    /// `None` retries for as long as the device code (or the session) lives, which is
    /// what an unattended device wants.
    pub max_attempts: Option<u16>,
}

impl Backoff {
    /// 1 s doubling to 60 s, retrying indefinitely.
    pub const DEFAULT: Backoff = Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(60),
        max_attempts: None,
    };

    /// The wait after the `attempt`-th consecutive failure (1-based).
    pub fn delay(&self, attempt: u16) -> Duration {
        let d = self
            .initial
            .saturating_shl(u32::from(attempt.saturating_sub(1)));
        if d > self.max { self.max } else { d }
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::DEFAULT
    }
}

/// How a [`DeviceFlow`] talks to one server as one client.
///
/// Borrowed strings, so a device can keep its configuration in `static`s and a CLI in
/// the `String`s it discovered, without copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config<'c> {
    /// The registered client id (`authgate-cli` on a fresh AuthGate).
    pub client_id: &'c str,
    /// A confidential client's secret, sent as `client_secret` in the body (RFC 6749
    /// §2.3.1). Devices are public clients and leave this `None`.
    pub client_secret: Option<&'c str>,
    /// Space-separated scopes to ask for; `None` for the client's default.
    pub scope: Option<&'c str>,
    /// Path of the device authorization endpoint.
    pub device_authorization_path: &'c str,
    /// Path of the token endpoint.
    pub token_path: &'c str,
    /// Path of the revocation endpoint.
    pub revocation_path: &'c str,
    /// On code expiry, request a new code by itself (a device with a display that
    /// waits for its owner) instead of stopping.
    pub restart_on_expiry: bool,
    /// Refresh the access token this long before it expires (at most half its life).
    pub refresh_margin: Duration,
    /// Retry policy for failures.
    pub backoff: Backoff,
}

impl<'c> Config<'c> {
    /// AuthGate's default paths, no scope, stop on expiry, refresh 60 s early.
    pub const fn new(client_id: &'c str) -> Self {
        Config {
            client_id,
            client_secret: None,
            scope: None,
            device_authorization_path: paths::DEVICE_AUTHORIZATION,
            token_path: paths::TOKEN,
            revocation_path: paths::REVOCATION,
            restart_on_expiry: false,
            refresh_margin: Duration::from_secs(60),
            backoff: Backoff::DEFAULT,
        }
    }

    /// The configured path of `endpoint`.
    pub const fn path(&self, endpoint: Endpoint) -> &'c str {
        match endpoint {
            Endpoint::DeviceAuthorization => self.device_authorization_path,
            Endpoint::Token => self.token_path,
            Endpoint::Revocation => self.revocation_path,
        }
    }
}

/// How a finished flow ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The person denied the request.
    Denied,
    /// The code expired and `restart_on_expiry` was off.
    Expired,
    /// Logout completed.
    LoggedOut,
    /// Stopped because of this error.
    Failed(Error),
}

/// The current code, for a countdown or a redraw (same data as [`Event::ShowCode`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeView<'a> {
    /// The code the person types.
    pub user_code: &'a str,
    /// Where they type it.
    pub verification_uri: &'a str,
    /// The page with the code filled in, if the server gave one.
    pub verification_uri_complete: Option<&'a str>,
    /// When the code stops working.
    pub expires_at: Instant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Getting a device code.
    Authorizing,
    /// Polling the token endpoint with `code`.
    Polling,
    /// Holding tokens, refreshing them ahead of expiry.
    Authorized,
    /// Logging out: revoke the refresh token, then the access token.
    Revoking {
        step: RequestKind,
        attempts: u16,
        confirmed: bool,
    },
    /// Done; only a command starts it again.
    Finished(Outcome),
}

/// Events without borrowed data; [`DeviceFlow::poll_event`] attaches it.
#[derive(Clone, Copy, Debug)]
enum Queued {
    ShowCode,
    SlowDown(Duration),
    Retrying {
        error: Error,
        attempt: u16,
        retry_at: Instant,
    },
    CodeExpired {
        restarting: bool,
    },
    Denied,
    Authorized,
    Refreshed,
    TokensDiscarded,
    LoggedOut {
        confirmed: bool,
    },
    Failed(Error),
}

/// Revocations worth retrying before logging out unconfirmed: logout should not hang.
const REVOKE_MAX_ATTEMPTS: u16 = 3;

/// Events held between polls; the oldest is dropped if a driver never polls.
const EVENT_QUEUE: usize = 8;

/// A deterministic OAuth 2.0 Device Authorization Grant client (RFC 8628), with
/// refresh (RFC 6749 §6) and revocation (RFC 7009). It performs no I/O and reads no
/// clock: a driver feeds it time and bytes and carries out what it asks.
///
/// Methods come in four kinds:
/// - **getters** ([`DeviceFlow::tokens`], [`DeviceFlow::access_token`],
///   [`DeviceFlow::code`], [`DeviceFlow::outcome`], …) never change anything;
/// - **inputs** `handle_*`: [`DeviceFlow::handle_response`] with each answer,
///   [`DeviceFlow::handle_transport_error`] when none came, and
///   [`DeviceFlow::handle_timeout`] when [`DeviceFlow::poll_timeout`]'s instant passed;
/// - **commands**: [`DeviceFlow::restart`], [`DeviceFlow::refresh`],
///   [`DeviceFlow::logout`];
/// - **outputs** `poll_*`, to call after every input or command, in this order:
///   [`DeviceFlow::poll_event`] until `None`, then [`DeviceFlow::poll_transmit`]
///   (send it, hand back the answer, start over), then [`DeviceFlow::poll_timeout`]
///   (sleep until then and call `handle_timeout`; `None` means nothing is left to do).
///
/// At most one request is outstanding; while it is, timers wait for its answer.
/// `now` must not go backwards; an earlier `now` is treated as the latest one seen.
#[derive(Clone, Debug)]
pub struct DeviceFlow<'c> {
    config: Config<'c>,
    phase: Phase,
    code: Option<CodeGrant>,
    code_expires_at: Instant,
    interval: Duration,
    tokens: Option<Tokens>,
    timers: TimerTable,
    /// A request is due and waits for `poll_transmit`.
    due: bool,
    in_flight: Option<(RequestKind, Instant)>,
    failures: u16,
    events: Deque<Queued, EVENT_QUEUE>,
    now: Instant,
}

impl<'c> DeviceFlow<'c> {
    /// Starts a new login: the first `poll_transmit` asks for a device code.
    pub fn new(config: Config<'c>, now: Instant) -> Self {
        let mut flow = Self::idle(config, now);
        flow.start_authorization();
        flow
    }

    /// Continues a session from stored tokens (e.g. [`Tokens::from_bytes`] after a
    /// reboot). The access token is refreshed ahead of its expiry; with no known expiry
    /// and a refresh token, it is refreshed right away.
    pub fn resume(config: Config<'c>, tokens: Tokens, now: Instant) -> Self {
        let mut flow = Self::idle(config, now);
        flow.tokens = Some(tokens);
        flow.phase = Phase::Authorized;
        flow.schedule_refresh(now);
        flow
    }

    fn idle(config: Config<'c>, now: Instant) -> Self {
        DeviceFlow {
            config,
            phase: Phase::Authorizing,
            code: None,
            code_expires_at: now,
            interval: Duration::ZERO,
            tokens: None,
            timers: TimerTable::default(),
            due: false,
            in_flight: None,
            failures: 0,
            events: Deque::new(),
            now,
        }
    }

    // ----- getters -----

    /// The configuration this flow was made with.
    pub fn config(&self) -> &Config<'c> {
        &self.config
    }

    /// The tokens held, valid or not (to persist them, or to revoke elsewhere).
    pub fn tokens(&self) -> Option<&Tokens> {
        self.tokens.as_ref()
    }

    /// The access token if one is held and not expired at `now`: what to put in
    /// `Authorization: Bearer`.
    pub fn access_token(&self, now: Instant) -> Option<&str> {
        self.tokens
            .as_ref()
            .filter(|t| !t.is_expired(now))
            .map(Tokens::access_token)
    }

    /// The code being shown, while the flow waits for approval.
    pub fn code(&self) -> Option<CodeView<'_>> {
        self.code.as_ref().map(|c| CodeView {
            user_code: &c.user_code,
            verification_uri: &c.verification_uri,
            verification_uri_complete: c.verification_uri_complete.as_deref(),
            expires_at: self.code_expires_at,
        })
    }

    /// The current poll interval (grown by every `slow_down`), zero before a code.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// How the flow ended, once it has.
    pub fn outcome(&self) -> Option<Outcome> {
        match self.phase {
            Phase::Finished(o) => Some(o),
            _ => None,
        }
    }

    /// Whether the flow holds usable tokens and is not logging out.
    pub fn is_authorized(&self) -> bool {
        matches!(self.phase, Phase::Authorized)
    }

    /// The request waiting for its answer, if any.
    pub fn in_flight(&self) -> Option<RequestKind> {
        self.in_flight.map(|(k, _)| k)
    }

    // ----- outputs -----

    /// The next instruction for the driver, or `None` when there is nothing to do.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        // Skip events whose data was replaced before they were polled (a code that
        // expired and was renewed, tokens that were discarded).
        let q = loop {
            let q = self.events.pop_front()?;
            let live = match q {
                Queued::ShowCode => self.code.is_some(),
                Queued::Authorized | Queued::Refreshed => self.tokens.is_some(),
                _ => true,
            };
            if live {
                break q;
            }
        };
        Some(match q {
            Queued::ShowCode => {
                let c = self.code()?;
                Event::ShowCode {
                    user_code: c.user_code,
                    verification_uri: c.verification_uri,
                    verification_uri_complete: c.verification_uri_complete,
                    expires_at: c.expires_at,
                }
            }
            Queued::SlowDown(interval) => Event::SlowDown { interval },
            Queued::Retrying {
                error,
                attempt,
                retry_at,
            } => Event::Retrying {
                error,
                attempt,
                retry_at,
            },
            Queued::CodeExpired { restarting } => Event::CodeExpired { restarting },
            Queued::Denied => Event::Denied,
            Queued::Authorized => Event::Authorized(self.tokens.as_ref()?),
            Queued::Refreshed => Event::Refreshed(self.tokens.as_ref()?),
            Queued::TokensDiscarded => Event::TokensDiscarded,
            Queued::LoggedOut { confirmed } => Event::LoggedOut { confirmed },
            Queued::Failed(e) => Event::Failed(e),
        })
    }

    /// Writes the next due request's form body into `buf` and describes it, or
    /// returns `Ok(None)` if no request is due (or one is already outstanding).
    ///
    /// A `buf` too small for the body gives [`Error::BufferTooSmall`] with the exact
    /// size needed; nothing is consumed, so call again with a bigger buffer. 2 KiB
    /// fits every request this crate makes with the documented token capacities.
    #[must_use = "a due request must be sent"]
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        buf: &mut [u8],
    ) -> Result<Option<Transmit<'c>>, Error> {
        self.observe(now);
        if !self.due || self.in_flight.is_some() {
            return Ok(None);
        }
        let Some(kind) = self.due_request() else {
            self.due = false;
            return Ok(None);
        };
        // Measure first, so a short buffer is left untouched, not half-written.
        let required = match self.write_request(kind, &mut []) {
            Ok(n) | Err(Error::BufferTooSmall { required: n }) => n,
            Err(e) => return Err(e),
        };
        if required > buf.len() {
            return Err(Error::BufferTooSmall { required });
        }
        let len = self.write_request(kind, buf)?;
        self.due = false;
        self.in_flight = Some((kind, self.now));
        let endpoint = kind.endpoint();
        Ok(Some(Transmit {
            method: Method::Post,
            endpoint,
            path: self.config.path(endpoint),
            kind,
            len,
        }))
    }

    /// When to call [`DeviceFlow::handle_timeout`] next; `None` if no timer is armed
    /// (the flow has finished, or holds tokens it cannot or need not refresh).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ----- inputs -----

    /// Reports that the instant from [`DeviceFlow::poll_timeout`] has come. Calling it
    /// early, or while a request is outstanding, does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.observe(now);
        if self.in_flight.is_some() {
            return;
        }
        let now = self.now;
        if self.timers.expire(Timer::Expiry, now) && self.phase == Phase::Polling {
            self.code_expired();
        }
        if self.timers.expire(Timer::Poll, now) {
            if self.phase == Phase::Authorized
                && self
                    .tokens
                    .as_ref()
                    .is_some_and(|t| t.refresh_token.is_none())
            {
                // The access token expired and cannot be refreshed: log in again.
                self.discard_tokens();
            } else {
                self.due = true;
            }
        }
    }

    /// Hands in the answer to the outstanding request: its HTTP status and body.
    ///
    /// The flow reacts before returning (schedules the next poll, retries, restarts,
    /// stops); `Err` explains a response that was not a normal step of the protocol,
    /// for logging. `authorization_pending`, `slow_down`, `expired_token` and
    /// `access_denied` are normal steps: they give `Ok` and an [`Event`] if any.
    pub fn handle_response(&mut self, now: Instant, status: u16, body: &[u8]) -> Result<(), Error> {
        self.observe(now);
        let (kind, sent_at) = self.in_flight.take().ok_or(ApiMisuse::NoRequestInFlight)?;
        match kind {
            RequestKind::DeviceAuthorization => {
                self.on_code_grant(Reply::classify(status, body, response::parse_code_grant))
            }
            RequestKind::PollToken => self.on_poll(Reply::classify(status, body, |b| {
                response::parse_tokens(b, sent_at)
            })),
            RequestKind::Refresh => self.on_refresh(Reply::classify(status, body, |b| {
                response::parse_tokens(b, sent_at)
            })),
            RequestKind::RevokeRefreshToken | RequestKind::RevokeAccessToken => {
                // RFC 7009 §2.2: 200 with any (usually empty) body is success.
                let r = if (200..300).contains(&status) {
                    Reply::Success(())
                } else {
                    Reply::classify(status, body, |_| Ok(()))
                };
                self.on_revoke(r)
            }
        }
    }

    /// Reports that the outstanding request got no answer (connection, DNS, TLS or
    /// timeout failure). It is retried with backoff.
    pub fn handle_transport_error(&mut self, now: Instant) -> Result<(), Error> {
        self.observe(now);
        self.in_flight.take().ok_or(ApiMisuse::NoRequestInFlight)?;
        let result = if let Phase::Revoking { .. } = self.phase {
            self.on_revoke(Reply::Bad(Error::Transport))
        } else {
            self.retry(Error::Transport)
        };
        match result {
            Err(Error::Transport) => Ok(()),
            other => other,
        }
    }

    // ----- commands -----

    /// Abandons the current code or session and requests a new device code, e.g.
    /// when the person presses "new code" after an expiry or a denial.
    pub fn restart(&mut self, now: Instant) -> Result<(), Error> {
        self.observe(now);
        self.idle_check()?;
        self.tokens = None;
        self.start_authorization();
        Ok(())
    }

    /// Refreshes the access token now (e.g. a resource server answered 401).
    pub fn refresh(&mut self, now: Instant) -> Result<(), Error> {
        self.observe(now);
        self.idle_check()?;
        if self
            .tokens
            .as_ref()
            .is_none_or(|t| t.refresh_token.is_none())
        {
            return Err(ApiMisuse::NoTokens.into());
        }
        self.phase = Phase::Authorized;
        self.failures = 0;
        self.timers.clear();
        self.due = true;
        Ok(())
    }

    /// Logs out: revokes the refresh token (which, on AuthGate, ends the whole grant)
    /// and the access token (RFC 7009), then forgets both and emits
    /// [`Event::LoggedOut`]. Revocation failures are retried a few times, then
    /// logout completes unconfirmed rather than hanging.
    pub fn logout(&mut self, now: Instant) -> Result<(), Error> {
        self.observe(now);
        self.idle_check()?;
        let Some(tokens) = self.tokens.as_ref() else {
            return Err(ApiMisuse::NoTokens.into());
        };
        let step = if tokens.refresh_token.is_some() {
            RequestKind::RevokeRefreshToken
        } else {
            RequestKind::RevokeAccessToken
        };
        self.code = None;
        self.timers.clear();
        self.phase = Phase::Revoking {
            step,
            attempts: 0,
            confirmed: true,
        };
        self.due = true;
        Ok(())
    }

    // ----- internals -----

    fn observe(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    fn idle_check(&self) -> Result<(), Error> {
        if self.in_flight.is_some() {
            Err(ApiMisuse::RequestInFlight.into())
        } else {
            Ok(())
        }
    }

    fn push(&mut self, q: Queued) {
        if self.events.is_full() {
            self.events.pop_front();
        }
        // Cannot fail after making room; ignoring keeps this path panic-free.
        let _ = self.events.push_back(q);
    }

    fn start_authorization(&mut self) {
        self.phase = Phase::Authorizing;
        self.code = None;
        self.interval = Duration::ZERO;
        self.failures = 0;
        self.timers.clear();
        self.due = true;
    }

    fn finish(&mut self, outcome: Outcome) {
        self.phase = Phase::Finished(outcome);
        self.code = None;
        self.timers.clear();
        self.due = false;
    }

    fn fail(&mut self, error: Error) -> Result<(), Error> {
        self.finish(Outcome::Failed(error));
        self.push(Queued::Failed(error));
        Err(error)
    }

    fn code_expired(&mut self) {
        if self.config.restart_on_expiry {
            self.push(Queued::CodeExpired { restarting: true });
            self.start_authorization();
        } else {
            self.push(Queued::CodeExpired { restarting: false });
            self.finish(Outcome::Expired);
        }
    }

    fn discard_tokens(&mut self) {
        self.tokens = None;
        self.push(Queued::TokensDiscarded);
        self.start_authorization();
    }

    /// Schedules a retry of the current phase's request after a transient failure,
    /// or stops once the attempts are exhausted. Returns `Err(error)` for the caller.
    fn retry(&mut self, error: Error) -> Result<(), Error> {
        self.failures = self.failures.saturating_add(1);
        if self
            .config
            .backoff
            .max_attempts
            .is_some_and(|max| self.failures >= max)
        {
            self.fail(Error::RetriesExhausted)?;
        }
        let mut delay = self.config.backoff.delay(self.failures);
        if self.phase == Phase::Polling && delay < self.interval {
            delay = self.interval;
        }
        let retry_at = self.now + delay;
        self.timers.set(Timer::Poll, retry_at);
        self.push(Queued::Retrying {
            error,
            attempt: self.failures,
            retry_at,
        });
        Err(error)
    }

    fn due_request(&self) -> Option<RequestKind> {
        match self.phase {
            Phase::Authorizing => Some(RequestKind::DeviceAuthorization),
            Phase::Polling => Some(RequestKind::PollToken),
            Phase::Authorized => Some(RequestKind::Refresh),
            Phase::Revoking { step, .. } => Some(step),
            Phase::Finished(_) => None,
        }
    }

    fn write_request(&self, kind: RequestKind, buf: &mut [u8]) -> Result<usize, Error> {
        let mut w = FormWriter::new(buf);
        let missing = Error::ApiMisuse(ApiMisuse::NoTokens);
        match kind {
            RequestKind::DeviceAuthorization => {
                w.pair(params::CLIENT_ID, self.config.client_id);
                if let Some(scope) = self.config.scope {
                    w.pair(params::SCOPE, scope);
                }
            }
            RequestKind::PollToken => {
                let code = self.code.as_ref().ok_or(missing)?;
                w.pair(params::GRANT_TYPE, params::GRANT_TYPE_DEVICE_CODE);
                w.pair(params::DEVICE_CODE, &code.device_code);
                w.pair(params::CLIENT_ID, self.config.client_id);
            }
            RequestKind::Refresh => {
                let rt = self
                    .tokens
                    .as_ref()
                    .and_then(Tokens::refresh_token)
                    .ok_or(missing)?;
                w.pair(params::GRANT_TYPE, params::GRANT_TYPE_REFRESH_TOKEN);
                w.pair(params::REFRESH_TOKEN, rt);
                w.pair(params::CLIENT_ID, self.config.client_id);
            }
            RequestKind::RevokeRefreshToken | RequestKind::RevokeAccessToken => {
                let t = self.tokens.as_ref().ok_or(missing)?;
                let (token, hint) = if kind == RequestKind::RevokeRefreshToken {
                    (
                        t.refresh_token().ok_or(missing)?,
                        params::HINT_REFRESH_TOKEN,
                    )
                } else {
                    (t.access_token(), params::HINT_ACCESS_TOKEN)
                };
                w.pair(params::TOKEN, token);
                w.pair(params::TOKEN_TYPE_HINT, hint);
                w.pair(params::CLIENT_ID, self.config.client_id);
            }
        }
        if let Some(secret) = self.config.client_secret {
            w.pair(params::CLIENT_SECRET, secret);
        }
        w.finish()
    }

    /// Arms the refresh ahead of expiry: `margin` early, but at most half the time
    /// left, so a short-lived token is not refreshed in a loop.
    fn schedule_refresh(&mut self, now: Instant) {
        self.timers.clear();
        let Some(t) = self.tokens.as_ref() else {
            return;
        };
        match (t.expires_at, t.refresh_token.is_some()) {
            (Some(exp), true) => {
                let left = exp - now;
                let lead = if self.config.refresh_margin < left.half() {
                    self.config.refresh_margin
                } else {
                    left.half()
                };
                self.timers.set(Timer::Poll, exp.saturating_sub(lead));
            }
            (None, true) => self.due = true,
            (Some(exp), false) => self.timers.set(Timer::Poll, exp),
            (None, false) => {}
        }
    }

    fn on_code_grant(&mut self, reply: Reply<CodeGrant>) -> Result<(), Error> {
        match reply {
            Reply::Success(grant) => {
                self.failures = 0;
                self.interval = grant.interval;
                self.code_expires_at = self.now + grant.expires_in;
                self.code = Some(grant);
                self.phase = Phase::Polling;
                self.timers.set(Timer::Expiry, self.code_expires_at);
                self.timers.set(Timer::Poll, self.now + self.interval);
                self.push(Queued::ShowCode);
                Ok(())
            }
            Reply::OAuth(e) => self.transient_or_fail(Error::Server(e)),
            Reply::Bad(e) => self.retry(e),
        }
    }

    fn on_poll(&mut self, reply: Reply<Tokens>) -> Result<(), Error> {
        match reply {
            Reply::Success(tokens) => {
                self.failures = 0;
                self.code = None;
                self.tokens = Some(tokens);
                self.phase = Phase::Authorized;
                self.schedule_refresh(self.now);
                self.push(Queued::Authorized);
                Ok(())
            }
            Reply::OAuth(e) => match e.code {
                ErrorCode::AuthorizationPending => {
                    self.failures = 0;
                    self.timers.set(Timer::Poll, self.now + self.interval);
                    Ok(())
                }
                ErrorCode::SlowDown => {
                    self.failures = 0;
                    self.interval += Duration::from_secs(u64::from(SLOW_DOWN_INCREMENT_SECS));
                    self.timers.set(Timer::Poll, self.now + self.interval);
                    self.push(Queued::SlowDown(self.interval));
                    Ok(())
                }
                ErrorCode::AccessDenied => {
                    self.finish(Outcome::Denied);
                    self.push(Queued::Denied);
                    Ok(())
                }
                ErrorCode::ExpiredToken => {
                    self.code_expired();
                    Ok(())
                }
                // An unknown or already used device code: this code is dead, as if
                // expired, but the server said so in a non-standard way.
                ErrorCode::InvalidGrant => {
                    self.code_expired();
                    Err(Error::Server(e))
                }
                _ => self.transient_or_fail(Error::Server(e)),
            },
            Reply::Bad(e) => self.retry(e),
        }
    }

    fn on_refresh(&mut self, reply: Reply<Tokens>) -> Result<(), Error> {
        match reply {
            Reply::Success(mut fresh) => {
                self.failures = 0;
                // RFC 6749 §6: without a new refresh token, the old one stays valid.
                if fresh.refresh_token.is_none() {
                    fresh.refresh_token = self.tokens.as_mut().and_then(|t| t.refresh_token.take());
                }
                if fresh.scope.is_none() {
                    fresh.scope = self.tokens.as_mut().and_then(|t| t.scope.take());
                }
                self.tokens = Some(fresh);
                self.schedule_refresh(self.now);
                self.push(Queued::Refreshed);
                Ok(())
            }
            Reply::OAuth(e) if e.code == ErrorCode::InvalidGrant => {
                self.discard_tokens();
                Err(Error::Server(e))
            }
            Reply::OAuth(e) => self.transient_or_fail(Error::Server(e)),
            Reply::Bad(e) => self.retry(e),
        }
    }

    fn on_revoke(&mut self, reply: Reply<()>) -> Result<(), Error> {
        let Phase::Revoking {
            step,
            attempts,
            confirmed,
        } = self.phase
        else {
            return Ok(());
        };
        let (ok, err) = match reply {
            Reply::Success(()) => (true, None),
            // Many servers revoke only refresh tokens; the grant is gone either way.
            Reply::OAuth(e)
                if e.code == ErrorCode::UnsupportedTokenType
                    && step == RequestKind::RevokeAccessToken =>
            {
                (true, Some(Error::Server(e)))
            }
            Reply::OAuth(e) => (false, Some(Error::Server(e))),
            Reply::Bad(e) => (false, Some(e)),
        };
        let transient = err.as_ref().is_some_and(response::is_transient);
        if transient && attempts + 1 < REVOKE_MAX_ATTEMPTS {
            let attempts = attempts + 1;
            self.phase = Phase::Revoking {
                step,
                attempts,
                confirmed,
            };
            let retry_at = self.now + self.config.backoff.delay(attempts);
            self.timers.set(Timer::Poll, retry_at);
            if let Some(error) = err {
                self.push(Queued::Retrying {
                    error,
                    attempt: attempts,
                    retry_at,
                });
            }
            return err.map_or(Ok(()), Err);
        }
        let confirmed = confirmed && ok;
        if step == RequestKind::RevokeRefreshToken {
            self.phase = Phase::Revoking {
                step: RequestKind::RevokeAccessToken,
                attempts: 0,
                confirmed,
            };
            self.due = true;
        } else {
            self.tokens = None;
            self.finish(Outcome::LoggedOut);
            self.push(Queued::LoggedOut { confirmed });
        }
        err.map_or(Ok(()), Err)
    }

    fn transient_or_fail(&mut self, e: Error) -> Result<(), Error> {
        if response::is_transient(&e) {
            self.retry(e)
        } else {
            self.fail(e)
        }
    }
}
