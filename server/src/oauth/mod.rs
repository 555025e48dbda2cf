//! The OAuth endpoints: RFC 8628 device authorization, the RFC 6749 token endpoint
//! with the device-code and refresh grants, RFC 7009 revocation, RFC 7662
//! introspection, and RFC 8414 metadata. Handlers decode, call the store, and map
//! outcomes to RFC answers; nothing here knows about redb or HTML.

pub mod authorize;
pub mod client_auth;
mod client_credentials;
mod code_grant;
pub mod device_authorization;
mod device_grant;
pub mod dpop;
pub mod error;
pub mod grant_type;
pub mod introspect;
mod issue;
pub mod metadata;
pub mod redirect_uri;
mod refresh_grant;
pub mod revoke;
pub mod token;

use std::net::IpAddr;

use hyper::Request;
use hyper::header::{HeaderMap, USER_AGENT};

use crate::http::body::{FORM_LIMIT, RequestBody, is_form, read_limited};
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
    /// The body must arrive within `body_timeout` (408 otherwise).
    pub async fn read<B: RequestBody>(
        req: Request<B>,
        ip: IpAddr,
        body_timeout: std::time::Duration,
    ) -> Result<Self, OAuthError> {
        let (parts, body) = req.into_parts();
        if !is_form(&parts.headers) {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let bytes = read_limited(&parts.headers, body, FORM_LIMIT, body_timeout).await?;
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

/// Most scope values one `scope` parameter may name (repeats counted). Clients
/// here hold a handful; the cap keeps the per-request work of checking them fixed.
pub const MAX_SCOPES: usize = 32;

/// Splits a scope parameter into its distinct values (RFC 6749 §3.3), in order.
/// Linear (a hash set finds repeats); more than [`MAX_SCOPES`] values are refused
/// with `invalid_scope` before any is compared.
pub fn split_scope(scope: &str) -> Result<Vec<&str>, OAuthError> {
    let mut out: Vec<&str> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, s) in scope.split(' ').filter(|s| !s.is_empty()).enumerate() {
        if i == MAX_SCOPES {
            return Err(OAuthError::new(
                authgate_proto::ErrorCode::InvalidScope,
                format!("more than {MAX_SCOPES} scope values"),
            ));
        }
        if seen.insert(s) {
            out.push(s);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_deduplicated_in_order_and_capped() {
        assert_eq!(split_scope("b a  b c").unwrap(), vec!["b", "a", "c"]);
        let many = vec!["x"; MAX_SCOPES].join(" ");
        assert_eq!(split_scope(&many).unwrap(), vec!["x"]);
        let over = vec!["x"; MAX_SCOPES + 1].join(" ");
        assert!(split_scope(&over).is_err());
    }
}
