//! What the flow tells its driver to do.

use crate::error::Error;
use crate::time::{Duration, Instant};
use crate::tokens::Tokens;

/// An instruction from [`crate::DeviceFlow::poll_event`]. Each variant says what the
/// driver should do now; data borrows from the flow, so copy what you keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Display this code: show `user_code` and `verification_uri` (and a QR code of
    /// `verification_uri_complete` when present) until `expires_at`, or until the next
    /// event replaces it.
    ShowCode {
        /// The code the person types, e.g. `BCDF-GHJK`.
        user_code: &'a str,
        /// Where they type it.
        verification_uri: &'a str,
        /// The same page with the code filled in, for a QR code or a link.
        verification_uri_complete: Option<&'a str>,
        /// When the code stops working.
        expires_at: Instant,
    },
    /// The server asked to poll more slowly (RFC 8628 §3.5); polls now wait `interval`.
    /// Nothing to do; worth a log line, as it means a clock or a proxy misbehaves.
    SlowDown {
        /// The new interval between polls.
        interval: Duration,
    },
    /// A request failed for a reason that may pass (server error, no connection,
    /// garbage body); it is retried at `retry_at`. Show "retrying" if you like.
    Retrying {
        /// Why the request failed.
        error: Error,
        /// Consecutive failures so far.
        attempt: u16,
        /// When the request is sent again.
        retry_at: Instant,
    },
    /// The code expired before anyone approved it. Take it off the display; if
    /// `restarting`, a new [`Event::ShowCode`] follows, otherwise the flow has stopped
    /// (start again with [`crate::DeviceFlow::restart`] if the person asks).
    CodeExpired {
        /// Whether a new code is being requested.
        restarting: bool,
    },
    /// The person pressed Deny. Stop, and say so on the display.
    Denied,
    /// Logged in: persist these tokens ([`Tokens::to_bytes`]) and use the access token.
    Authorized(&'a Tokens),
    /// The access token was refreshed: persist these tokens, replacing the old ones
    /// (the refresh token may have rotated, and the old one is now void).
    Refreshed(&'a Tokens),
    /// The stored tokens are dead (the refresh token was rejected, or there was none
    /// and the access token expired): erase them. A new device flow starts, so an
    /// [`Event::ShowCode`] follows; drop the flow instead if no one can approve it.
    TokensDiscarded,
    /// Logout finished: erase the stored tokens. `confirmed` is false if the server
    /// could not be told (the tokens are forgotten here anyway).
    LoggedOut {
        /// Whether the server acknowledged the revocation.
        confirmed: bool,
    },
    /// The flow stopped for good because of a permanent `Error`
    /// ([`Error::is_transient`] is false: a rejected client or scope, a token too long
    /// for its buffer or of another type than Bearer) or because retries ran out.
    /// Emitted once; nothing is retried. Show it; a person, a config change or a
    /// firmware update must intervene (the example boards show it, then reset).
    Failed(Error),
}
