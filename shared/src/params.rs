//! Request parameter names and grant-type identifiers, as the RFCs spell them.
//!
//! Kept as constants so the server's decoder and the device's form encoder use the
//! same bytes; a typo here would be a silent interoperability bug.

/// `grant_type` value of the device-code grant (RFC 8628 §3.4).
pub const GRANT_TYPE_DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// `grant_type` value of the refresh grant (RFC 6749 §6).
pub const GRANT_TYPE_REFRESH_TOKEN: &str = "refresh_token";

/// The grant being requested at the token endpoint (RFC 6749 §4).
pub const GRANT_TYPE: &str = "grant_type";
/// The client's identifier (RFC 6749 §2.2).
pub const CLIENT_ID: &str = "client_id";
/// A confidential client's secret when sent in the body (RFC 6749 §2.3.1).
pub const CLIENT_SECRET: &str = "client_secret";
/// Space-separated scopes (RFC 6749 §3.3).
pub const SCOPE: &str = "scope";
/// The device code being redeemed (RFC 8628 §3.4).
pub const DEVICE_CODE: &str = "device_code";
/// The refresh token being exchanged (RFC 6749 §6).
pub const REFRESH_TOKEN: &str = "refresh_token";
/// The token to revoke or introspect (RFC 7009 §2.1, RFC 7662 §2.1).
pub const TOKEN: &str = "token";
/// Optional hint of which kind `token` is (RFC 7009 §2.1).
pub const TOKEN_TYPE_HINT: &str = "token_type_hint";
/// The user code, as carried in `verification_uri_complete` (RFC 8628 §3.3.1).
pub const USER_CODE: &str = "user_code";

/// `token_type_hint` value naming an access token (RFC 7009 §2.1).
pub const HINT_ACCESS_TOKEN: &str = "access_token";
/// `token_type_hint` value naming a refresh token (RFC 7009 §2.1).
pub const HINT_REFRESH_TOKEN: &str = "refresh_token";
