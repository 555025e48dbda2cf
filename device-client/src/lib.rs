//! A `no_std`, no-alloc, sans-IO client for the OAuth 2.0 Device Authorization Grant
//! (RFC 8628), with token refresh (RFC 6749 §6) and revocation (RFC 7009).
//!
//! A microcontroller with a small display, a serial console or a Linux CLI shows a
//! code, a person approves it on a phone, and the device gets tokens. The protocol
//! logic is [`DeviceFlow`], a deterministic state machine: it performs no I/O and never
//! reads a clock. Its driver hands it the current [`Instant`] and the bytes of each
//! answer, and it says what to send next, what to display, and how long to wait —
//! so the same tested core runs under embassy, under a blocking `std` transport, and
//! inside unit tests with a fake clock.
//!
//! Everything lives in fixed-size buffers whose capacities are documented constants
//! ([`ACCESS_TOKEN_CAP`], [`REFRESH_TOKEN_CAP`], [`DEVICE_CODE_CAP`],
//! [`USER_CODE_CAP`], [`URI_CAP`], [`SCOPE_CAP`]); tokens persist to flash as
//! versioned postcard bytes ([`Tokens::to_bytes`]); [`Qr`] draws the verification URI
//! as a QR code on a terminal or a display. The `std` feature adds a blocking HTTPS
//! transport (`blocking` module) with RFC 8414 endpoint discovery; `embassy` an async
//! one for firmware; `display` the 128×64 login screen (`display` module, drawn with
//! embedded-graphics on an SSD1306 or, on a PC, by the `display-preview` tool);
//! `dpop` binds tokens to an Ed25519 key the device holds (RFC 9449 DPoP, `no_std`,
//! see [`Config::dpop`](crate::Config) and [`DpopKey`](crate::DpopKey) when enabled).
//!
//! # Outcomes surface once
//!
//! Whatever a server answers, the inputs ([`DeviceFlow::handle_response`],
//! [`DeviceFlow::handle_transport_error`], [`DeviceFlow::handle_retry_after`]) return
//! `Ok`: the flow reacts and queues one [`Event`] saying what to do. Their only error
//! is [`ApiMisuse`], a driver bug. [`DeviceFlow::last_error`] keeps the reason of an
//! unusual answer for logs. Errors are either transient ([`Error::is_transient`]:
//! retried with exponential backoff, with seeded jitter ([`Config::jitter_seed`]) and
//! at least the server's `Retry-After`) or permanent: reported once as
//! [`Event::Failed`], and the flow stops. The event queue never drops an event:
//! [`DeviceFlow::poll_transmit`] starts no request while it is more than half full
//! ([`ApiMisuse::EventsPending`]). Tokens without `expires_in` are refreshed as if they
//! lived [`Config::assumed_lifetime`] (1 h), and never sooner than
//! [`Config::min_refresh_delay`] (10 s) after they arrived.
//!
//! # Driving the flow
//!
//! ```
//! use authgate_device::{Config, DeviceFlow, Event, Instant};
//!
//! // A scripted "server" standing in for HTTP.
//! let answers: [(u16, &[u8]); 3] = [
//!     (200, br#"{"device_code":"dc","user_code":"BCDF-GHJK","verification_uri":"https://a.example/device","expires_in":600,"interval":5}"#),
//!     (400, br#"{"error":"authorization_pending"}"#),
//!     (200, br#"{"access_token":"v4.public.x","token_type":"Bearer","expires_in":900,"refresh_token":"r"}"#),
//! ];
//! let mut answers = answers.iter();
//! let mut now = Instant::ZERO; // a device would read its monotonic clock
//! let mut flow = DeviceFlow::new(Config::new("authgate-cli"), now);
//! let mut buf = [0u8; 2048];
//! let mut shown = false;
//! loop {
//!     while let Some(event) = flow.poll_event() {
//!         match event {
//!             Event::ShowCode { user_code, .. } => { assert_eq!(user_code, "BCDF-GHJK"); shown = true }
//!             Event::Authorized(tokens) => assert_eq!(tokens.access_token(), "v4.public.x"),
//!             _ => {}
//!         }
//!     }
//!     if let Some(t) = flow.poll_transmit(now, &mut buf)? {
//!         // POST t.path with Content-Type: application/x-www-form-urlencoded,
//!         // body = t.body(&buf); then hand the answer back:
//!         let (status, body) = answers.next().expect("scripted answer");
//!         flow.handle_response(now, *status, body)?;
//!         continue;
//!     }
//!     if flow.is_authorized() { break; } // a device would keep going to refresh
//!     match flow.poll_timeout() {
//!         Some(at) => { now = at; flow.handle_timeout(now) } // sleep until `at`
//!         None => break,
//!     }
//! }
//! assert!(shown && flow.access_token(now).is_some());
//! # Ok::<(), authgate_device::Error>(())
//! ```
#![no_std]
#![forbid(unsafe_code, unused_must_use)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;

mod board;
#[cfg(feature = "dpop")]
mod dpop;
mod error;
mod event;
mod flow;
mod qr;
mod record;
mod request;
mod resource;
mod response;
mod time;
mod timer;
mod tokens;

#[cfg(feature = "std")]
pub mod blocking;
#[cfg(feature = "display")]
pub mod display;
#[cfg(feature = "embassy")]
pub mod embassy;

pub use board::{BUTTON_DEBOUNCE, ButtonAction, Debouncer, Indicator, SignOutButton};
#[cfg(feature = "dpop")]
pub use dpop::{
    DPOP_HEADER, DPOP_JWT_TYPE, DPOP_KEY_BYTES, DPOP_KEY_FORMAT_VERSION, DPOP_NONCE_HEADER,
    DpopConfig, DpopKey, JKT_LEN, JTI_BYTES, Jkt, NONCE_CAP, Proof, access_token_hash, base64url,
    parse_http_date, thumbprint,
};
pub use error::{ApiMisuse, Error, Field, Malformed, OAuthError};
pub use event::Event;
pub use flow::{
    Backoff, CodeView, Config, DEFAULT_ASSUMED_LIFETIME, DEFAULT_MIN_REFRESH_DELAY, DeviceFlow,
    Outcome, RETRY_AFTER_CAP,
};
pub use qr::{
    QR_BUFFER_LEN, QR_DEFAULT_QUIET_ZONE, QR_MAX_VERSION, Qr, QrCanvas, QrTooLong, TextStyle,
};
pub use record::{DEVICE_RECORD_MAX_BYTES, DEVICE_RECORD_VERSION, DeviceRecord, RecordRef};
pub use request::{Endpoint, FORM_CONTENT_TYPE, Method, RequestKind, Transmit};
pub use resource::ResourceAuth;
pub use response::{DEVICE_CODE_CAP, URI_CAP, USER_CODE_CAP};
pub use time::{Duration, Instant};
pub use tokens::{
    ACCESS_TOKEN_CAP, PersistError, REFRESH_TOKEN_CAP, SCOPE_CAP, TOKENS_FORMAT_VERSION,
    TOKENS_MAX_BYTES, Tokens,
};

/// Re-exported so drivers match on the same error codes the server sends.
pub use authgate_proto::ErrorCode;

/// A request buffer that holds every request this crate makes (the largest is a
/// revocation carrying a full [`ACCESS_TOKEN_CAP`] token, percent-encoded worst case
/// is 3 bytes per byte, but tokens are URL-safe base64 so 1 byte each).
pub const REQUEST_BUFFER_LEN: usize = 2048;
