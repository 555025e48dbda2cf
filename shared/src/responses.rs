//! JSON bodies of the device authorization, token, error and introspection responses.
//!
//! Every string borrows from the input buffer, so a device parses a response with
//! `serde_json_core::from_slice` into these types without a heap.

use serde::{Deserialize, Serialize};

use crate::ErrorCode;

/// The device authorization response (RFC 8628 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAuthorizationResponse<'a> {
    /// Secret the device polls the token endpoint with; never shown to the user.
    pub device_code: &'a str,
    /// Short code the user types at `verification_uri`.
    pub user_code: &'a str,
    /// Page where the user enters the code.
    pub verification_uri: &'a str,
    /// The same page with the code filled in, for a QR code or a link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_uri_complete: Option<&'a str>,
    /// Seconds until `device_code` and `user_code` expire.
    pub expires_in: u32,
    /// Minimum seconds between polls; [`crate::DEFAULT_INTERVAL_SECS`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u32>,
}

/// A successful access token response (RFC 6749 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse<'a> {
    /// The access token (for AuthGate a PASETO v4.public token).
    pub access_token: &'a str,
    /// Always `Bearer` from AuthGate; compare case-insensitively (RFC 6749 §7.1).
    pub token_type: &'a str,
    /// Seconds until the access token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u32>,
    /// Opaque token to obtain the next access token (RFC 6749 §6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<&'a str>,
    /// The scopes granted, space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'a str>,
}

/// An error response (RFC 6749 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse<'a> {
    /// What went wrong, as a machine-readable code.
    pub error: ErrorCode,
    /// Human-readable detail for a developer; never shown to be parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<&'a str>,
    /// A page that explains the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<&'a str>,
}

/// The introspection response (RFC 7662 §2.2). Only `active` is required; the rest
/// are present when the token is active.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntrospectionResponse<'a> {
    /// Whether the token is currently valid: signed by us, unexpired, unrevoked.
    pub active: bool,
    /// Granted scopes, space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'a str>,
    /// The client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<&'a str>,
    /// The resource owner's user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<&'a str>,
    /// `access_token` or `refresh_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'a str>,
    /// Expiry, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    /// Issue time, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Not-before time, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// The subject (user id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<&'a str>,
    /// The intended audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<&'a str>,
    /// The issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<&'a str>,
    /// The token's unique id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_response_parses_without_heap() {
        let body = br#"{"device_code":"abc","user_code":"BCDF-GHJK","verification_uri":"http://x/device","verification_uri_complete":"http://x/device?user_code=BCDFGHJK","expires_in":900,"interval":5}"#;
        let (r, _): (DeviceAuthorizationResponse, _) =
            serde_json_core::from_slice(body).expect("parses");
        assert_eq!(r.user_code, "BCDF-GHJK");
        assert_eq!(r.interval, Some(5));
        let minimal =
            br#"{"device_code":"a","user_code":"b","verification_uri":"c","expires_in":1}"#;
        let (r, _): (DeviceAuthorizationResponse, _) =
            serde_json_core::from_slice(minimal).expect("parses");
        assert_eq!(r.interval, None);
        assert_eq!(r.verification_uri_complete, None);
    }

    #[test]
    fn error_response_accepts_unknown_codes() {
        let (r, _): (ErrorResponse, _) =
            serde_json_core::from_slice(br#"{"error":"slow_down"}"#).expect("parses");
        assert_eq!(r.error, ErrorCode::SlowDown);
        let (r, _): (ErrorResponse, _) =
            serde_json_core::from_slice(br#"{"error":"teapot","error_description":"x"}"#)
                .expect("parses");
        assert_eq!(r.error, ErrorCode::Other);
        assert_eq!(r.error_description, Some("x"));
    }

    #[test]
    fn token_response_serializes_like_rfc6749() {
        let t = TokenResponse {
            access_token: "v4.public.x",
            token_type: "Bearer",
            expires_in: Some(900),
            refresh_token: None,
            scope: Some("read"),
        };
        let json = serde_json::to_string(&t).expect("serializes");
        assert_eq!(
            json,
            r#"{"access_token":"v4.public.x","token_type":"Bearer","expires_in":900,"scope":"read"}"#
        );
    }
}
