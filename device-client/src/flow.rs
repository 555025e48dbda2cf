//! [`DeviceFlow`]: the sans-IO device authorization grant client.

use authgate_proto::{ErrorCode, SLOW_DOWN_INCREMENT_SECS, params, paths};
use heapless::Deque;

#[cfg(feature = "dpop")]
use crate::dpop::{DpopConfig, DpopState, JTI_BYTES, Proof};
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
/// less than the poll interval while polling, nor less than a `Retry-After` the server
/// sent, see [`DeviceFlow::handle_retry_after`]). Any well-formed answer resets the
/// count. With [`Config::jitter_seed`] set, each wait is drawn from `[d/2, d]`, so a
/// fleet of boards that lost the same server does not come back in lockstep.
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
    /// Seed for the backoff jitter; `None` waits exactly [`Backoff::delay`]. A board
    /// passes a value from its hardware RNG, a CLI something like its pid and the
    /// time; tests pass a constant and get the same waits every run. The generator is
    /// not cryptographic: it only spreads retries.
    pub jitter_seed: Option<u64>,
    /// The access-token lifetime assumed when a token answer has no `expires_in`
    /// (RFC 6749 §5.1 makes it optional). The refresh is scheduled as if the token
    /// lived this long: without an assumption, "unknown expiry" meant "refresh now",
    /// and every refresh answer without `expires_in` triggered the next one at once
    /// (a refresh storm that wore out a board's flash). Default 1 hour.
    pub assumed_lifetime: Duration,
    /// The shortest wait between receiving tokens and refreshing them, whatever
    /// `expires_in` says (a server sending `expires_in: 1` must not make a board
    /// refresh, and write flash, twice a second). Default 10 s.
    pub min_refresh_delay: Duration,
    /// DPoP (RFC 9449, feature `dpop`): with a key, every device authorization and
    /// token request carries a proof and the tokens are bound to the key. `None`
    /// (the default) sends plain bearer requests.
    #[cfg(feature = "dpop")]
    pub dpop: Option<DpopConfig<'c>>,
}

impl<'c> Config<'c> {
    /// AuthGate's default paths, no scope, stop on expiry, refresh 60 s early, no
    /// jitter, 1 h assumed token lifetime, at least 10 s between refreshes.
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
            jitter_seed: None,
            assumed_lifetime: DEFAULT_ASSUMED_LIFETIME,
            min_refresh_delay: DEFAULT_MIN_REFRESH_DELAY,
            #[cfg(feature = "dpop")]
            dpop: None,
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

impl Queued {
    /// Events that only inform a log or a status line; everything else changes what
    /// the device shows or stores.
    fn is_informational(&self) -> bool {
        matches!(self, Queued::Retrying { .. } | Queued::SlowDown(_))
    }
}

/// SplitMix64, to turn any seed (even 0 or 1) into a well-mixed xorshift state.
const fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// RFC 9110 delay-seconds: ASCII digits, optional surrounding whitespace.
fn parse_delay_seconds(value: &[u8]) -> Option<Duration> {
    let v = value.trim_ascii();
    if v.is_empty() || v.len() > 10 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let secs = v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    Some(Duration::from_secs(secs))
}

/// Revocations worth retrying before logging out unconfirmed: logout should not hang.
const REVOKE_MAX_ATTEMPTS: u16 = 3;

/// Events held between polls.
///
/// Nothing is ever dropped: between two requests the flow queues at most
/// [`EVENTS_PER_ROUND`] events (one per answer, one per fired timer), and
/// [`DeviceFlow::poll_transmit`] starts no request while fewer than that many slots
/// are free ([`ApiMisuse::EventsPending`]). A driver that follows the documented order
/// (drain `poll_event`, then `poll_transmit`) never sees that error.
const EVENT_QUEUE: usize = 8;

/// Upper bound of events one round (a request, its answer, the timers until the next
/// request) can queue; the real bound is 2, this leaves margin.
const EVENTS_PER_ROUND: usize = 4;

/// See [`Config::assumed_lifetime`].
pub const DEFAULT_ASSUMED_LIFETIME: Duration = Duration::from_secs(3600);

/// See [`Config::min_refresh_delay`].
pub const DEFAULT_MIN_REFRESH_DELAY: Duration = Duration::from_secs(10);

/// The longest `Retry-After` honoured: a misconfigured or hostile server must not be
/// able to park a device for days.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

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
    /// xorshift state for jitter; 0 means no jitter.
    rng: u64,
    /// `Retry-After` of the answer being handled, applied if it is retried.
    retry_after: Option<Duration>,
    /// Why the last input was not a normal protocol step (for logs).
    last_error: Option<Error>,
    /// The server's clock and nonce, and the `jti` counter.
    #[cfg(feature = "dpop")]
    dpop: DpopState,
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
    /// and a refresh token, it is refreshed right away (once: the answer's expiry, or
    /// [`Config::assumed_lifetime`], schedules the next). Tokens whose expiry was
    /// forgotten ([`Tokens::forget_expiry`]) and that have no refresh token cannot be
    /// trusted or renewed: they are discarded ([`Event::TokensDiscarded`]) and a new
    /// device flow starts.
    pub fn resume(config: Config<'c>, tokens: Tokens, now: Instant) -> Self {
        let mut flow = Self::idle(config, now);
        if tokens.expiry_forgotten && tokens.refresh_token.is_none() {
            flow.tokens = Some(tokens);
            flow.discard_tokens();
            return flow;
        }
        flow.tokens = Some(tokens);
        flow.phase = Phase::Authorized;
        flow.schedule_refresh(now, false);
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
            // Mix the seed so that 0 and small seeds still give a usable state.
            rng: config.jitter_seed.map_or(0, |s| splitmix64(s).max(1)),
            retry_after: None,
            last_error: None,
            #[cfg(feature = "dpop")]
            dpop: DpopState::default(),
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

    /// Why the last `handle_*` input was not a normal step of the protocol, or `None`
    /// if it was. For logs and a status line only: the flow has already reacted and
    /// queued the event that says what to do ([`Event::Retrying`],
    /// [`Event::Failed`], [`Event::CodeExpired`], …), which is why the inputs
    /// themselves return no protocol errors.
    pub fn last_error(&self) -> Option<Error> {
        self.last_error
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
    /// Undelivered events filling more than half the queue give
    /// [`ApiMisuse::EventsPending`]: drain [`DeviceFlow::poll_event`] and call again.
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
        if self.events.len() > EVENT_QUEUE - EVENTS_PER_ROUND {
            return Err(ApiMisuse::EventsPending.into());
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
        let proof = self.proof_len(kind);
        if required + proof > buf.len() {
            return Err(Error::BufferTooSmall {
                required: required + proof,
            });
        }
        let len = self.write_request(kind, buf)?;
        let dpop_len = self.write_proof(kind, buf.get_mut(len..).unwrap_or_default())?;
        self.due = false;
        self.in_flight = Some((kind, self.now));
        let endpoint = kind.endpoint();
        Ok(Some(Transmit {
            method: Method::Post,
            endpoint,
            path: self.config.path(endpoint),
            kind,
            len,
            dpop_len,
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
    /// stops) and says so through [`DeviceFlow::poll_event`]; whatever the server
    /// sent, this returns `Ok`. The only `Err` is a driver bug: no request was
    /// outstanding. [`DeviceFlow::last_error`] keeps the reason of an unusual answer
    /// for logs.
    pub fn handle_response(
        &mut self,
        now: Instant,
        status: u16,
        body: &[u8],
    ) -> Result<(), ApiMisuse> {
        self.observe(now);
        let (kind, sent_at) = self.in_flight.take().ok_or(ApiMisuse::NoRequestInFlight)?;
        #[cfg(feature = "dpop")]
        if let Some(retry) = self.dpop_answer(status, body) {
            self.retry_after = None;
            self.last_error = Some(retry);
            return Ok(());
        }
        let result = self.on_answer(kind, sent_at, status, body);
        self.retry_after = None;
        self.last_error = result.err();
        Ok(())
    }

    /// Hands in the `Retry-After` header of the answer about to be given to
    /// [`DeviceFlow::handle_response`] (RFC 9110 §10.2.3). If that answer is retried
    /// (a 429 or 503, typically), the retry waits at least this long, capped at
    /// [`RETRY_AFTER_CAP`]. Only delay-seconds are understood; an HTTP-date needs a
    /// wall clock the flow does not have and is ignored, as is anything unparsable.
    /// The only `Err` is a driver bug: no request is outstanding.
    pub fn handle_retry_after(&mut self, value: &[u8]) -> Result<(), ApiMisuse> {
        if self.in_flight.is_none() {
            return Err(ApiMisuse::NoRequestInFlight);
        }
        self.retry_after = parse_delay_seconds(value).map(|d| core::cmp::min(d, RETRY_AFTER_CAP));
        Ok(())
    }

    fn on_answer(
        &mut self,
        kind: RequestKind,
        sent_at: Instant,
        status: u16,
        body: &[u8],
    ) -> Result<(), Error> {
        match kind {
            RequestKind::DeviceAuthorization => {
                self.on_code_grant(Reply::classify(status, body, response::parse_code_grant))
            }
            RequestKind::PollToken => self.on_poll(Reply::classify(status, body, |b| {
                response::parse_tokens(b, sent_at, self.dpop_enabled())
            })),
            RequestKind::Refresh => self.on_refresh(Reply::classify(status, body, |b| {
                response::parse_tokens(b, sent_at, self.dpop_enabled())
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
    /// timeout failure). It is retried with backoff ([`Event::Retrying`]), or the flow
    /// stops if [`Backoff::max_attempts`] ran out ([`Event::Failed`]). The only `Err`
    /// is a driver bug: no request was outstanding.
    pub fn handle_transport_error(&mut self, now: Instant) -> Result<(), ApiMisuse> {
        self.observe(now);
        self.in_flight.take().ok_or(ApiMisuse::NoRequestInFlight)?;
        self.retry_after = None;
        #[cfg(feature = "dpop")]
        {
            self.dpop.apply_answer(self.now);
            self.dpop.nonce_changed = false;
        }
        let result = if let Phase::Revoking { .. } = self.phase {
            self.on_revoke(Reply::Bad(Error::Transport))
        } else {
            self.retry(Error::Transport)
        };
        self.last_error = result.err();
        Ok(())
    }

    /// Hands in the `Date` header of the answer about to be given to
    /// [`DeviceFlow::handle_response`] (feature `dpop`). The flow keeps the server's
    /// clock from it, as an offset from `now`, and signs later proofs' `iat` by that
    /// clock: a board without a wall clock still sends fresh proofs. A proof the
    /// server rejected because the flow's time was wrong is re-sent once at once,
    /// with the corrected time. Only an RFC 9110 IMF-fixdate is understood
    /// ([`crate::parse_http_date`]); anything else is ignored. The only `Err` is a
    /// driver bug: no request is outstanding.
    #[cfg(feature = "dpop")]
    pub fn handle_date(&mut self, value: &[u8]) -> Result<(), ApiMisuse> {
        if self.in_flight.is_none() {
            return Err(ApiMisuse::NoRequestInFlight);
        }
        self.dpop.set_answer_date(value);
        Ok(())
    }

    /// Hands in the `DPoP-Nonce` header of the answer about to be given to
    /// [`DeviceFlow::handle_response`] (RFC 9449 §8, feature `dpop`). Later proofs
    /// carry the latest nonce; an answer `use_dpop_nonce` with a new nonce is re-sent
    /// once at once. A value that is not a valid nonce, or longer than
    /// [`crate::NONCE_CAP`], is ignored. The only `Err` is a driver bug: no request is
    /// outstanding.
    #[cfg(feature = "dpop")]
    pub fn handle_dpop_nonce(&mut self, value: &[u8]) -> Result<(), ApiMisuse> {
        if self.in_flight.is_none() {
            return Err(ApiMisuse::NoRequestInFlight);
        }
        self.dpop.set_nonce(value);
        Ok(())
    }

    /// The server's latest `DPoP-Nonce` (feature `dpop`).
    #[cfg(feature = "dpop")]
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.dpop.nonce.as_deref()
    }

    /// The server's time at `now` in Unix seconds, once a `Date` header was handed in
    /// (feature `dpop`): the `iat` the next proof gets.
    #[cfg(feature = "dpop")]
    pub fn server_time(&self, now: Instant) -> Option<u64> {
        self.dpop
            .has_server_time()
            .then(|| self.dpop.unix_secs(now))
    }

    /// Writes a DPoP proof for a request to a resource server into `buf` (feature
    /// `dpop`): `method` and `url` of that request, `ath` of the current access token,
    /// the server's time and nonce as this flow knows them. Send it as the `DPoP`
    /// header with `Authorization: DPoP <access token>` (RFC 9449 §7).
    ///
    /// Errors: [`Error::BufferTooSmall`] with the size needed (`buf` untouched),
    /// [`ApiMisuse::NoDpopKey`] without [`Config::dpop`], [`ApiMisuse::NoTokens`]
    /// without a usable access token.
    #[cfg(feature = "dpop")]
    pub fn write_resource_proof(
        &mut self,
        now: Instant,
        method: &str,
        url: &str,
        buf: &mut [u8],
    ) -> Result<usize, Error> {
        self.observe(now);
        let Some(dpop) = self.config.dpop else {
            return Err(ApiMisuse::NoDpopKey.into());
        };
        let Some(token) = self.access_token(self.now) else {
            return Err(ApiMisuse::NoTokens.into());
        };
        let mut proof = Proof {
            htm: method,
            htu: url,
            iat: self.dpop.unix_secs(self.now),
            jti: &[0; JTI_BYTES],
            nonce: self.dpop.nonce.as_deref(),
            access_token: Some(token),
        };
        let required = match dpop.key.write_proof(&proof, &mut []) {
            Ok(n) | Err(Error::BufferTooSmall { required: n }) => n,
            Err(e) => return Err(e),
        };
        if required > buf.len() {
            return Err(Error::BufferTooSmall { required });
        }
        let mut state = self.dpop.clone();
        let jti = state.next_jti(&dpop.jti_seed);
        proof.jti = &jti;
        let n = dpop.key.write_proof(&proof, buf)?;
        self.dpop = state;
        Ok(n)
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
            // Unreachable while `poll_transmit` keeps EVENTS_PER_ROUND slots free (see
            // EVENT_QUEUE). Should it happen, lose a log-only event, never a state one.
            if q.is_informational() {
                return;
            }
            let mut kept: Deque<Queued, EVENT_QUEUE> = Deque::new();
            let mut evicted = false;
            while let Some(e) = self.events.pop_front() {
                if !evicted && e.is_informational() {
                    evicted = true;
                } else {
                    let _ = kept.push_back(e);
                }
            }
            if !evicted {
                // Only state events queued: the oldest is superseded by later ones.
                kept.pop_front();
            }
            self.events = kept;
        }
        // Cannot fail after making room; ignoring keeps this path panic-free.
        let _ = self.events.push_back(q);
    }

    /// The next jitter value (xorshift64); only called when jitter is on.
    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// `d` spread uniformly over `[d/2, d]` when jitter is on.
    fn jitter(&mut self, d: Duration) -> Duration {
        if self.rng == 0 {
            return d;
        }
        let ms = d.as_millis();
        let half = ms / 2;
        let spread = ms - half;
        let r = self.next_random() % (spread + 1);
        Duration::from_millis(half + r)
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
        let backoff = self.config.backoff.delay(self.failures);
        let mut delay = self.jitter(backoff);
        if self.phase == Phase::Polling && delay < self.interval {
            delay = self.interval;
        }
        if let Some(after) = self.retry_after.take()
            && delay < after
        {
            delay = after;
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
    ///
    /// `fresh` tokens just came from the server: without `expires_in` they are assumed
    /// to live [`Config::assumed_lifetime`], and no refresh comes sooner than
    /// [`Config::min_refresh_delay`]. Resumed tokens of unknown age (`fresh` false,
    /// no expiry) are refreshed at once: that happens once per boot.
    fn schedule_refresh(&mut self, now: Instant, fresh: bool) {
        self.timers.clear();
        let Some(t) = self.tokens.as_ref() else {
            return;
        };
        let expires_at = match t.expires_at {
            Some(exp) => Some(exp),
            None if fresh => Some(now + self.config.assumed_lifetime),
            None => None,
        };
        match (expires_at, t.refresh_token.is_some()) {
            (Some(exp), true) => {
                let left = exp - now;
                let lead = if self.config.refresh_margin < left.half() {
                    self.config.refresh_margin
                } else {
                    left.half()
                };
                let mut at = exp.saturating_sub(lead);
                if fresh {
                    let earliest = now.saturating_add(self.config.min_refresh_delay);
                    if at < earliest {
                        at = earliest;
                    }
                }
                self.timers.set(Timer::Poll, at);
            }
            (None, true) => self.due = true,
            // Only a known expiry ends a token that cannot be refreshed.
            (Some(exp), false) if t.expires_at.is_some() => self.timers.set(Timer::Poll, exp),
            (_, false) => {}
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
            Reply::Bad(e) => self.transient_or_fail(e),
        }
    }

    fn on_poll(&mut self, reply: Reply<Tokens>) -> Result<(), Error> {
        match reply {
            Reply::Success(tokens) => {
                self.failures = 0;
                self.code = None;
                self.tokens = Some(tokens);
                self.phase = Phase::Authorized;
                self.schedule_refresh(self.now, true);
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
            Reply::Bad(e) => self.transient_or_fail(e),
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
                self.schedule_refresh(self.now, true);
                self.push(Queued::Refreshed);
                Ok(())
            }
            Reply::OAuth(e) if e.code == ErrorCode::InvalidGrant => {
                self.discard_tokens();
                Err(Error::Server(e))
            }
            Reply::OAuth(e) => self.transient_or_fail(Error::Server(e)),
            Reply::Bad(e) => self.transient_or_fail(e),
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
        let transient = err.as_ref().is_some_and(Error::is_transient);
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

    /// Whether token answers may be `token_type: DPoP`.
    fn dpop_enabled(&self) -> bool {
        #[cfg(feature = "dpop")]
        {
            self.config.dpop.is_some()
        }
        #[cfg(not(feature = "dpop"))]
        {
            false
        }
    }

    /// The URL a proof for `kind` names (`htu`), if `kind` carries one.
    #[cfg(feature = "dpop")]
    fn proof_target(&self, kind: RequestKind) -> Option<(DpopConfig<'c>, &'c str)> {
        let dpop = self.config.dpop?;
        match kind.endpoint() {
            Endpoint::DeviceAuthorization => Some((dpop, dpop.device_authorization_url)),
            Endpoint::Token => Some((dpop, dpop.token_url)),
            Endpoint::Revocation => None,
        }
    }

    /// Bytes the proof for `kind` takes (0 without DPoP).
    fn proof_len(&self, kind: RequestKind) -> usize {
        #[cfg(feature = "dpop")]
        if let Some((dpop, htu)) = self.proof_target(kind) {
            let proof = Proof {
                htm: Method::Post.as_str(),
                htu,
                iat: self.dpop.unix_secs(self.now),
                jti: &[0; JTI_BYTES],
                nonce: self.dpop.nonce.as_deref(),
                access_token: None,
            };
            return match dpop.key.write_proof(&proof, &mut []) {
                Ok(n) | Err(Error::BufferTooSmall { required: n }) => n,
                Err(_) => 0,
            };
        }
        let _ = kind;
        0
    }

    /// Writes the proof for `kind` into `buf` (already checked to be big enough by
    /// [`Self::proof_len`]); returns its length, 0 without DPoP.
    fn write_proof(&mut self, kind: RequestKind, buf: &mut [u8]) -> Result<usize, Error> {
        #[cfg(feature = "dpop")]
        if let Some((dpop, htu)) = self.proof_target(kind) {
            let iat = self.dpop.unix_secs(self.now);
            let jti = self.dpop.next_jti(&dpop.jti_seed);
            let proof = Proof {
                htm: Method::Post.as_str(),
                htu,
                iat,
                jti: &jti,
                nonce: self.dpop.nonce.as_deref(),
                access_token: None,
            };
            let n = dpop.key.write_proof(&proof, buf)?;
            self.dpop.sent_iat = Some(iat);
            return Ok(n);
        }
        let _ = (kind, buf);
        Ok(0)
    }

    /// Applies the DPoP headers of an answer; if it rejected the proof for a reason
    /// one retry fixes (a new nonce, or a wrong clock now corrected), schedules that
    /// retry at once and returns the server's error, else `None`.
    #[cfg(feature = "dpop")]
    fn dpop_answer(&mut self, status: u16, body: &[u8]) -> Option<Error> {
        let clock_was_wrong = self.dpop.apply_answer(self.now);
        let nonce_changed = core::mem::take(&mut self.dpop.nonce_changed);
        self.dpop.sent_iat = None;
        self.config.dpop?;
        let code = match Reply::<()>::classify(status, body, |_| Err(crate::Malformed::Syntax)) {
            Reply::OAuth(e) => Some(e),
            _ => None,
        };
        let Some(e) = code.filter(|e| {
            matches!(
                e.code,
                ErrorCode::UseDpopNonce | ErrorCode::InvalidDpopProof
            )
        }) else {
            self.dpop.retried = false;
            return None;
        };
        let fixable = nonce_changed || (e.code == ErrorCode::InvalidDpopProof && clock_was_wrong);
        if self.dpop.retried || !fixable {
            return None;
        }
        self.dpop.retried = true;
        self.due = true;
        Some(Error::Server(e))
    }

    fn transient_or_fail(&mut self, e: Error) -> Result<(), Error> {
        if e.is_transient() {
            self.retry(e)
        } else {
            self.fail(e)
        }
    }
}
