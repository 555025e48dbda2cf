//! Wire types and rules shared by the AuthGate server and the `no_std` device client.
//!
//! Both sides of the OAuth 2.0 Device Authorization Grant (RFC 8628) compile against
//! this crate, so a parameter name, an error code or a user-code rule can never drift
//! between the server that issues codes and the microcontroller that shows them.
//! It is `#![no_std]` without `alloc`: every response type borrows `&str` from the
//! buffer it was parsed from, which is what `serde-json-core` needs on a device.
//!
//! ```
//! use authgate_proto::{ErrorCode, UserCode};
//!
//! let code = UserCode::parse("bcdf-ghjk").unwrap();
//! assert_eq!(code.as_str(), "BCDFGHJK");
//! assert_eq!(code.display().as_str(), "BCDF-GHJK");
//! assert_eq!("slow_down".parse::<ErrorCode>(), Ok(ErrorCode::SlowDown));
//! ```
#![no_std]
#![forbid(unsafe_code, unused_must_use)]
#![warn(missing_docs)]

mod error_code;
pub mod params;
pub mod paths;
mod responses;
mod user_code;

pub use error_code::{ErrorCode, UnknownErrorCode};
pub use responses::{
    DeviceAuthorizationResponse, ErrorResponse, IntrospectionResponse, TokenResponse,
};
pub use user_code::{CodeFormat, DisplayCode, UserCode, UserCodeError};

/// Seconds a device waits between polls when the server names no `interval`
/// (RFC 8628 §3.2 says 5).
pub const DEFAULT_INTERVAL_SECS: u32 = 5;

/// Seconds added to the polling interval on every `slow_down` answer (RFC 8628 §3.5).
pub const SLOW_DOWN_INCREMENT_SECS: u32 = 5;

/// The token type of an unbound access token (RFC 6750).
pub const TOKEN_TYPE_BEARER: &str = "Bearer";

/// The `token_type` of an access token bound to a DPoP key (RFC 9449 §5).
pub const TOKEN_TYPE_DPOP: &str = "DPoP";
