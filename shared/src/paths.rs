//! The paths AuthGate serves its endpoints at.
//!
//! Clients should discover endpoints from the RFC 8414 metadata document; these
//! defaults let a device with no room for discovery talk to AuthGate directly.

/// RFC 8414 authorization server metadata.
pub const METADATA: &str = "/.well-known/oauth-authorization-server";
/// RFC 8628 device authorization endpoint.
pub const DEVICE_AUTHORIZATION: &str = "/oauth/device/code";
/// RFC 6749 token endpoint.
pub const TOKEN: &str = "/oauth/token";
/// Authorization endpoint (RFC 6749 §3.1): the authorization code flow's pages.
pub const AUTHORIZATION: &str = "/oauth/authorize";
/// RFC 7009 revocation endpoint.
pub const REVOCATION: &str = "/oauth/revoke";
/// RFC 7662 introspection endpoint.
pub const INTROSPECTION: &str = "/oauth/introspect";
/// Bearer-authenticated view of one's own access token.
pub const TOKENINFO: &str = "/oauth/tokeninfo";
/// PASERK public keys that verify our access tokens.
pub const KEYS: &str = "/oauth/keys";
/// The same keys as a JWK Set (RFC 7517), for JWT access tokens (RFC 9068).
pub const JWKS: &str = "/.well-known/jwks.json";
/// The page where a person types the user code (the `verification_uri`).
pub const DEVICE_PAGE: &str = "/device";
