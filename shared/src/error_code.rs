//! OAuth error codes from RFC 6749 §5.2, RFC 8628 §3.5, RFC 7009 §2.2.1, RFC 6750 §3.1
//! and RFC 9449 §5/§8.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An OAuth error code, carried as the `error` member of an error response.
///
/// A device branches on these (keep polling, slow down, start over, stop), so they
/// are an enum rather than strings; unknown codes from other servers still parse,
/// as [`ErrorCode::Other`], so one odd answer never breaks a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest,
    /// Client authentication failed, or the client is unknown (status 401).
    InvalidClient,
    /// The grant (device code, refresh token) is invalid, expired, used or foreign.
    InvalidGrant,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// The server does not support this grant type.
    UnsupportedGrantType,
    /// A requested scope is unknown or not allowed for this client.
    InvalidScope,
    /// RFC 8628: the user has not yet approved or denied; poll again after `interval`.
    AuthorizationPending,
    /// RFC 8628: polling too fast; add 5 seconds to the interval from now on.
    SlowDown,
    /// RFC 8628: the user denied the request; stop polling.
    AccessDenied,
    /// RFC 8628: the device code expired; start a new flow if the user still wants one.
    ExpiredToken,
    /// RFC 7009: the server cannot revoke this token type.
    UnsupportedTokenType,
    /// RFC 6750: the bearer token is missing, expired, revoked or malformed.
    InvalidToken,
    /// The server failed; the request may be retried later.
    ServerError,
    /// The server is overloaded or throttling this caller; retry later.
    TemporarilyUnavailable,
    /// RFC 9449 §5: the DPoP proof is missing, malformed, badly signed, stale or
    /// replayed.
    InvalidDpopProof,
    /// RFC 9449 §8: the server wants a nonce in the DPoP proof; retry with the one in
    /// its `DPoP-Nonce` header.
    UseDpopNonce,
    /// A code this crate does not know. Treat it as a failure.
    Other,
}

/// The error returned when parsing a string that is not a known error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownErrorCode;

impl fmt::Display for UnknownErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown OAuth error code")
    }
}

const ALL: [(ErrorCode, &str); 16] = [
    (ErrorCode::InvalidRequest, "invalid_request"),
    (ErrorCode::InvalidClient, "invalid_client"),
    (ErrorCode::InvalidGrant, "invalid_grant"),
    (ErrorCode::UnauthorizedClient, "unauthorized_client"),
    (ErrorCode::UnsupportedGrantType, "unsupported_grant_type"),
    (ErrorCode::InvalidScope, "invalid_scope"),
    (ErrorCode::AuthorizationPending, "authorization_pending"),
    (ErrorCode::SlowDown, "slow_down"),
    (ErrorCode::AccessDenied, "access_denied"),
    (ErrorCode::ExpiredToken, "expired_token"),
    (ErrorCode::UnsupportedTokenType, "unsupported_token_type"),
    (ErrorCode::InvalidToken, "invalid_token"),
    (ErrorCode::ServerError, "server_error"),
    (ErrorCode::TemporarilyUnavailable, "temporarily_unavailable"),
    (ErrorCode::InvalidDpopProof, "invalid_dpop_proof"),
    (ErrorCode::UseDpopNonce, "use_dpop_nonce"),
];

impl ErrorCode {
    /// Every code this crate knows (all but [`ErrorCode::Other`]), in RFC order: the
    /// vocabulary a server's published API description must match.
    pub fn known() -> impl Iterator<Item = ErrorCode> {
        ALL.iter().map(|(code, _)| *code)
    }

    /// The code exactly as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::Other => "other",
        }
    }

    /// The HTTP status a token endpoint answers this error with (RFC 6749 §5.2:
    /// 401 for a failed client authentication, 400 for the rest).
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => 401,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }

    /// Whether a polling device should keep waiting (RFC 8628 §3.5) rather than stop.
    pub const fn is_pending(self) -> bool {
        matches!(self, ErrorCode::AuthorizationPending | ErrorCode::SlowDown)
    }
}

impl FromStr for ErrorCode {
    type Err = UnknownErrorCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL.iter()
            .find(|(_, name)| *name == s)
            .map(|(code, _)| *code)
            .ok_or(UnknownErrorCode)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ErrorCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an OAuth error code string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ErrorCode, E> {
                Ok(v.parse().unwrap_or(ErrorCode::Other))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_string() {
        for (code, name) in ALL {
            assert_eq!(code.as_str(), name);
            assert_eq!(name.parse::<ErrorCode>(), Ok(code));
        }
        assert_eq!("nope".parse::<ErrorCode>(), Err(UnknownErrorCode));
    }

    #[test]
    fn statuses_follow_rfc6749() {
        assert_eq!(ErrorCode::InvalidClient.http_status(), 401);
        assert_eq!(ErrorCode::InvalidGrant.http_status(), 400);
        assert_eq!(ErrorCode::AuthorizationPending.http_status(), 400);
        assert!(ErrorCode::SlowDown.is_pending());
        assert!(!ErrorCode::AccessDenied.is_pending());
    }
}
