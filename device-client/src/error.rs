//! Everything that can go wrong, as one `Copy` enum a device can log and match on.

use core::fmt;

use authgate_proto::ErrorCode;

/// What went wrong with one input to [`crate::DeviceFlow`], or one output request.
///
/// The flow has always reacted already when it returns an `Error` (it scheduled a
/// retry, started over, or stopped and queued an [`crate::Event`]); the error tells the
/// caller *why*, for logs and screens. Variants follow the three kinds of fault:
/// the server said no ([`Error::Server`]), the server's bytes made no sense
/// ([`Error::Malformed`]), or the caller broke the API contract ([`Error::ApiMisuse`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an OAuth error (RFC 6749 §5.2 / RFC 8628 §3.5).
    Server(OAuthError),
    /// The server answered with an HTTP status but no OAuth error body (a proxy's 502
    /// page, a 404 from a wrong path). Retried with backoff.
    Http {
        /// The HTTP status code.
        status: u16,
    },
    /// The body was not the JSON the RFC promises: garbage, truncated, missing a field,
    /// or longer than this crate's fixed buffers. [`Malformed::Truncated`] and
    /// [`Malformed::Syntax`] are retried with backoff (a cut connection, a captive
    /// portal's page); the others are permanent (see [`Error::is_transient`]).
    Malformed(Malformed),
    /// The request never got an answer (connection refused, DNS, TLS, timeout), as
    /// reported through [`crate::DeviceFlow::handle_transport_error`].
    Transport,
    /// The caller's buffer cannot hold the request; nothing was written or consumed.
    /// Call again with a buffer of at least `required` bytes.
    BufferTooSmall {
        /// Bytes the request needs.
        required: usize,
    },
    /// Retries were exhausted ([`crate::Backoff::max_attempts`]); the flow stopped.
    RetriesExhausted,
    /// The caller used the API in a way its documentation rules out.
    ApiMisuse(ApiMisuse),
}

impl Error {
    /// Whether trying again later may succeed. The flow retries transient errors
    /// with backoff ([`crate::Event::Retrying`]) and stops on the others
    /// ([`crate::Event::Failed`], once): a board should show a permanent error and
    /// wait for a person or a firmware update instead of hammering the server.
    ///
    /// Transient: no answer ([`Error::Transport`]), an HTTP status without an OAuth
    /// body ([`Error::Http`], e.g. a proxy's 502), OAuth `server_error`,
    /// `temporarily_unavailable`, any 5xx or 429, and bodies that are cut short or not
    /// JSON at all ([`Malformed::Truncated`], [`Malformed::Syntax`]).
    ///
    /// Permanent: every other OAuth error (a rejected client or scope), and well-formed
    /// answers this build cannot use — a value longer than its fixed buffer
    /// ([`Malformed::TooLong`]), an unusable value ([`Malformed::InvalidValue`]) or a
    /// token type other than Bearer ([`Malformed::UnsupportedTokenType`]). The same
    /// server sends the same answer again, so retrying them would loop forever (on a
    /// poll: approve, fail to store, `invalid_grant`, new code, …).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Server(o) => {
                // `use_dpop_nonce` a second time in a row: the server will hand a
                // nonce again, so back off and retry rather than stop.
                matches!(
                    o.code,
                    ErrorCode::ServerError
                        | ErrorCode::TemporarilyUnavailable
                        | ErrorCode::UseDpopNonce
                ) || o.status >= 500
                    || o.status == 429
            }
            Error::Malformed(m) => matches!(m, Malformed::Truncated | Malformed::Syntax),
            Error::Http { .. } | Error::Transport => true,
            Error::BufferTooSmall { .. } | Error::RetriesExhausted | Error::ApiMisuse(_) => false,
        }
    }
}

/// An OAuth error answer: the code and the HTTP status it came with.
///
/// The `error_description` is not kept: it is free text for developers, and keeping it
/// would cost a buffer on every device for something only a log would show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OAuthError {
    /// The `error` member.
    pub code: ErrorCode,
    /// The HTTP status of the response.
    pub status: u16,
}

/// How a response body failed to be the JSON the RFCs describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// The body ended in the middle of a JSON value (a cut connection or a short read).
    Truncated,
    /// The body is not JSON, or not the JSON object expected (wrong types, missing
    /// required members, bad escapes).
    Syntax,
    /// A string member is longer than the fixed buffer this crate keeps it in.
    TooLong {
        /// Which member overflowed.
        field: Field,
        /// The buffer's capacity in bytes.
        capacity: usize,
    },
    /// A member is present but its value is unusable (an empty token, a zero expiry).
    InvalidValue {
        /// Which member.
        field: Field,
    },
    /// `token_type` is not `Bearer` (nor `DPoP`, when the flow has a DPoP key).
    UnsupportedTokenType,
}

/// A response member, named in [`Malformed`] errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// `device_code`.
    DeviceCode,
    /// `user_code`.
    UserCode,
    /// `verification_uri`.
    VerificationUri,
    /// `verification_uri_complete`.
    VerificationUriComplete,
    /// `expires_in`.
    ExpiresIn,
    /// `access_token`.
    AccessToken,
    /// `refresh_token`.
    RefreshToken,
    /// `scope`.
    Scope,
}

/// A call the documentation of [`crate::DeviceFlow`] rules out. These are bugs in the
/// driver, not in the server, and are reported instead of panicking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// A response or transport error was handed in while no request was outstanding.
    NoRequestInFlight,
    /// A command needs tokens (refresh, revoke) but the flow holds none.
    NoTokens,
    /// A command was given while a request is outstanding; deliver its answer first.
    RequestInFlight,
    /// [`crate::DeviceFlow::poll_transmit`] was called while the event queue is more
    /// than half full: drain [`crate::DeviceFlow::poll_event`] first (the documented
    /// order). The flow starts no request until then, so no event is ever dropped.
    EventsPending,
    /// A DPoP proof was asked for, but [`crate::Config`] has no DPoP key (feature
    /// `dpop`).
    NoDpopKey,
}

impl Field {
    /// The member's name on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Field::DeviceCode => "device_code",
            Field::UserCode => "user_code",
            Field::VerificationUri => "verification_uri",
            Field::VerificationUriComplete => "verification_uri_complete",
            Field::ExpiresIn => "expires_in",
            Field::AccessToken => "access_token",
            Field::RefreshToken => "refresh_token",
            Field::Scope => "scope",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Server(e) => write!(f, "server answered {} (HTTP {})", e.code, e.status),
            Error::Http { status } => {
                write!(f, "server answered HTTP {status} without an OAuth error")
            }
            Error::Malformed(m) => write!(f, "malformed response: {m}"),
            Error::Transport => f.write_str("no answer from the server"),
            Error::BufferTooSmall { required } => {
                write!(f, "request buffer too small: {required} bytes needed")
            }
            Error::RetriesExhausted => f.write_str("gave up after repeated failures"),
            Error::ApiMisuse(m) => write!(f, "API misuse: {m}"),
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::Truncated => f.write_str("body ends mid-JSON"),
            Malformed::Syntax => f.write_str("body is not the expected JSON object"),
            Malformed::TooLong { field, capacity } => {
                write!(f, "`{}` longer than {capacity} bytes", field.as_str())
            }
            Malformed::InvalidValue { field } => {
                write!(f, "`{}` has an unusable value", field.as_str())
            }
            Malformed::UnsupportedTokenType => f.write_str("token_type is not Bearer"),
        }
    }
}

impl fmt::Display for ApiMisuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApiMisuse::NoRequestInFlight => "no request is outstanding",
            ApiMisuse::NoTokens => "the flow holds no tokens",
            ApiMisuse::RequestInFlight => "a request is still outstanding",
            ApiMisuse::EventsPending => "events are waiting to be polled",
            ApiMisuse::NoDpopKey => "no DPoP key is configured",
        })
    }
}

impl From<Malformed> for Error {
    fn from(m: Malformed) -> Self {
        Error::Malformed(m)
    }
}

impl From<ApiMisuse> for Error {
    fn from(m: ApiMisuse) -> Self {
        Error::ApiMisuse(m)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

#[cfg(feature = "std")]
impl std::error::Error for ApiMisuse {}
