//! Response bodies → typed answers, copied out of the body into fixed buffers.
//!
//! Bodies are parsed with `serde-json-core` into `authgate-proto`'s borrowing types,
//! then every string is unescaped into a `heapless::String` of documented capacity, so
//! the flow keeps nothing that borrows the transport's buffer. Nothing here panics on
//! any input: garbage and truncated bodies become [`Malformed`] errors.

use authgate_proto::{
    DEFAULT_INTERVAL_SECS, DeviceAuthorizationResponse, ErrorResponse, TOKEN_TYPE_BEARER,
    TokenResponse,
};
use heapless::String;
use serde_json_core::str::{EscapedStr, EscapedStringFragment};

use crate::error::{Error, Field, Malformed, OAuthError};
use crate::time::{Duration, Instant};
use crate::tokens::Tokens;

/// Capacity of the device code buffer, in bytes. AuthGate's device codes are 43
/// characters (256 bits, base64url); 128 fits the other servers we know of.
pub const DEVICE_CODE_CAP: usize = 128;

/// Capacity of the user code buffer, in bytes. AuthGate's are `XXXX-XXXX` (9);
/// RFC 8628 §6.1 suggests short codes, 32 leaves room for other formats.
pub const USER_CODE_CAP: usize = 32;

/// Capacity of `verification_uri` and `verification_uri_complete`, in bytes each.
/// Ours are the base URL plus `/device?user_code=XXXXXXXX`; 256 fits long host names.
pub const URI_CAP: usize = 256;

/// A device authorization answer (RFC 8628 §3.2), owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CodeGrant {
    pub(crate) device_code: String<DEVICE_CODE_CAP>,
    pub(crate) user_code: String<USER_CODE_CAP>,
    pub(crate) verification_uri: String<URI_CAP>,
    pub(crate) verification_uri_complete: Option<String<URI_CAP>>,
    pub(crate) expires_in: Duration,
    pub(crate) interval: Duration,
}

/// How one HTTP answer classifies.
pub(crate) enum Reply<T> {
    /// 2xx with the expected body.
    Success(T),
    /// An OAuth error body (any non-2xx status).
    OAuth(OAuthError),
    /// Neither: a malformed 2xx body, or a non-2xx status without an OAuth body.
    Bad(Error),
}

impl<T> Reply<T> {
    /// Classifies `status`/`body`, parsing a 2xx body with `parse`.
    pub(crate) fn classify(
        status: u16,
        body: &[u8],
        parse: impl FnOnce(&[u8]) -> Result<T, Malformed>,
    ) -> Self {
        if (200..300).contains(&status) {
            return match parse(body) {
                Ok(v) => Reply::Success(v),
                // Some servers send OAuth errors with a 200; honour the body.
                Err(m) => match serde_json_core::from_slice::<ErrorResponse>(body) {
                    Ok((e, _)) => Reply::OAuth(OAuthError {
                        code: e.error,
                        status,
                    }),
                    Err(_) => Reply::Bad(Error::Malformed(m)),
                },
            };
        }
        match serde_json_core::from_slice::<ErrorResponse>(body) {
            Ok((e, _)) => Reply::OAuth(OAuthError {
                code: e.error,
                status,
            }),
            Err(_) => Reply::Bad(Error::Http { status }),
        }
    }
}

fn map_json(e: serde_json_core::de::Error) -> Malformed {
    use serde_json_core::de::Error as J;
    match e {
        J::EofWhileParsingList
        | J::EofWhileParsingObject
        | J::EofWhileParsingString
        | J::EofWhileParsingNumber
        | J::EofWhileParsingValue => Malformed::Truncated,
        _ => Malformed::Syntax,
    }
}

/// Unescapes a raw JSON string (as `serde-json-core` hands it out without a scratch
/// buffer) into a fixed buffer.
fn own<const N: usize>(raw: &str, field: Field) -> Result<String<N>, Malformed> {
    let mut out = String::new();
    let too_long = Malformed::TooLong { field, capacity: N };
    for frag in EscapedStr(raw).fragments() {
        match frag.map_err(|_| Malformed::Syntax)? {
            EscapedStringFragment::NotEscaped(s) => out.push_str(s).map_err(|_| too_long)?,
            EscapedStringFragment::Escaped(c) => out.push(c).map_err(|_| too_long)?,
        }
    }
    Ok(out)
}

fn non_empty<const N: usize>(raw: &str, field: Field) -> Result<String<N>, Malformed> {
    let s = own::<N>(raw, field)?;
    if s.is_empty() {
        Err(Malformed::InvalidValue { field })
    } else {
        Ok(s)
    }
}

pub(crate) fn parse_code_grant(body: &[u8]) -> Result<CodeGrant, Malformed> {
    let (r, _): (DeviceAuthorizationResponse, _) =
        serde_json_core::from_slice(body).map_err(map_json)?;
    if r.expires_in == 0 {
        return Err(Malformed::InvalidValue {
            field: Field::ExpiresIn,
        });
    }
    Ok(CodeGrant {
        device_code: non_empty(r.device_code, Field::DeviceCode)?,
        user_code: non_empty(r.user_code, Field::UserCode)?,
        verification_uri: non_empty(r.verification_uri, Field::VerificationUri)?,
        verification_uri_complete: match r.verification_uri_complete {
            Some(u) if !u.is_empty() => Some(own(u, Field::VerificationUriComplete)?),
            _ => None,
        },
        expires_in: Duration::from_secs(u64::from(r.expires_in)),
        // An interval of 0 would mean polling in a busy loop; one second is the floor.
        interval: Duration::from_secs(u64::from(
            r.interval.unwrap_or(DEFAULT_INTERVAL_SECS).max(1),
        )),
    })
}

/// Parses a token answer. `sent_at` is when the request left: counting `expires_in`
/// from then, not from the answer, errs on the early side. `dpop`: the request carried
/// a DPoP proof, so `token_type: DPoP` (RFC 9449 §5) is as good as `Bearer`.
pub(crate) fn parse_tokens(body: &[u8], sent_at: Instant, dpop: bool) -> Result<Tokens, Malformed> {
    let (r, _): (TokenResponse, _) = serde_json_core::from_slice(body).map_err(map_json)?;
    let bound = dpop && r.token_type.eq_ignore_ascii_case("DPoP");
    if !bound && !r.token_type.eq_ignore_ascii_case(TOKEN_TYPE_BEARER) {
        return Err(Malformed::UnsupportedTokenType);
    }
    Ok(Tokens {
        access_token: non_empty(r.access_token, Field::AccessToken)?,
        refresh_token: match r.refresh_token {
            Some(t) => Some(non_empty(t, Field::RefreshToken)?),
            None => None,
        },
        scope: match r.scope {
            Some(s) => Some(own(s, Field::Scope)?),
            None => None,
        },
        expires_at: r
            .expires_in
            .map(|s| sent_at + Duration::from_secs(u64::from(s))),
        expiry_forgotten: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_into_owned_buffers() {
        let body = br#"{"device_code":"d","user_code":"BCDF-GHJK","verification_uri":"https:\/\/a.example\/device","expires_in":600}"#;
        let g = parse_code_grant(body).unwrap();
        assert_eq!(g.verification_uri.as_str(), "https://a.example/device");
        assert_eq!(g.interval, Duration::from_secs(5));
        assert_eq!(g.verification_uri_complete, None);
    }

    #[test]
    fn every_prefix_of_a_valid_body_is_an_error_not_a_panic() {
        let body = br#"{"device_code":"d","user_code":"BCDF-GHJK","verification_uri":"https://a/device","expires_in":600,"interval":5}"#;
        for n in 0..body.len() {
            assert!(parse_code_grant(&body[..n]).is_err(), "prefix {n}");
        }
        assert_eq!(parse_code_grant(&body[..20]), Err(Malformed::Truncated));
        assert_eq!(
            parse_code_grant(b"<html>502</html>"),
            Err(Malformed::Syntax)
        );
    }
}
