//! The OAuth endpoints: RFC 8628 device authorization, the RFC 6749 token endpoint
//! with the device-code and refresh grants, RFC 7009 revocation, RFC 7662
//! introspection, and RFC 8414 metadata. Handlers decode, call the store, and map
//! outcomes to RFC answers; nothing here knows about redb or HTML.

pub mod client_auth;
pub mod device_authorization;
mod device_grant;
pub mod error;
pub mod introspect;
mod issue;
pub mod metadata;
mod refresh_grant;
pub mod revoke;
pub mod token;

use std::net::IpAddr;

use hyper::Request;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, USER_AGENT};

use crate::http::body::{FORM_LIMIT, is_form, read_limited};
use crate::http::form::Form;
use error::OAuthError;

/// A decoded OAuth POST: headers, the form, and who sent it.
pub struct OAuthRequest {
    /// Request headers (for client authentication).
    pub headers: HeaderMap,
    /// The form parameters.
    pub form: Form,
    /// The peer's IP.
    pub ip: IpAddr,
}

impl OAuthRequest {
    /// Reads and decodes a form POST, refusing other content types, oversized or
    /// non-UTF-8 bodies and repeated parameters with `invalid_request`.
    pub async fn read(req: Request<Incoming>, ip: IpAddr) -> Result<Self, OAuthError> {
        let (parts, body) = req.into_parts();
        if !is_form(&parts.headers) {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let bytes = read_limited(&parts.headers, body, FORM_LIMIT).await?;
        let form = Form::parse(&bytes)?;
        Ok(OAuthRequest {
            headers: parts.headers,
            form,
            ip,
        })
    }

    /// The `User-Agent`, shortened, for the consent page.
    pub fn user_agent(&self) -> String {
        self.headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(200).collect())
            .unwrap_or_default()
    }
}

/// Splits a scope parameter into its distinct values (RFC 6749 §3.3).
pub fn split_scope(scope: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}
