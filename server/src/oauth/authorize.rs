//! The authorization request (RFC 6749 §4.1.1 with PKCE, RFC 7636 §4.3) and
//! response (§4.1.2, RFC 9207 `iss`), as values: which client, which redirect,
//! and, once a redirect is safe, any error to send there.
//!
//! The order of the checks is the RFC's (§4.1.2.1): the client and the redirect
//! URI are checked first, and their failures never redirect (the caller shows a
//! page), so this endpoint can't be made to send a browser to an address the
//! client did not register. Everything after that is answered at the registered
//! redirect URI.

use std::sync::Arc;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::device_authorization::requested_scope;
use super::grant_type::GrantType;
use super::redirect_uri;
use crate::grant::authorization_code::is_s256_challenge;
use crate::http::form::Form;
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{Client, StoreError};

/// The error codes of the authorization endpoint (RFC 6749 §4.1.2.1), sent to
/// the redirect URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthorizeErrorCode {
    /// Missing, invalid or repeated parameter; a missing or non-`S256` PKCE
    /// challenge (RFC 7636 §4.4.1).
    InvalidRequest,
    /// The client may not use the authorization code grant.
    UnauthorizedClient,
    /// The person pressed Deny.
    AccessDenied,
    /// `response_type` other than `code`.
    UnsupportedResponseType,
    /// A scope the client does not hold.
    InvalidScope,
}

impl AuthorizeErrorCode {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
        }
    }
}

/// Why an authorization request can't be answered at a redirect URI: shown as
/// an error page instead (RFC 6749 §4.1.2.1 "MUST NOT automatically redirect").
#[derive(Debug, thiserror::Error)]
pub enum NoRedirect {
    /// Missing, unknown or disabled `client_id`.
    #[error("unknown or disabled client")]
    UnknownClient,
    /// `redirect_uri` missing (with several registered) or not registered.
    #[error("redirect_uri is missing or not registered for this client")]
    BadRedirect,
    /// The query string is not a valid form (a repeated parameter, bad UTF-8):
    /// not even the redirect URI can be trusted.
    #[error("invalid authorization request: {0}")]
    Form(crate::http::form::FormError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crate::http::form::FormError> for NoRedirect {
    fn from(e: crate::http::form::FormError) -> Self {
        NoRedirect::Form(e)
    }
}

/// A valid authorization request, ready for consent.
#[derive(Clone, Debug)]
pub struct Authorization {
    /// The client asking.
    pub client: Arc<Client>,
    /// Where the answer goes.
    pub redirect_uri: String,
    /// Whether the request carried `redirect_uri` (else the token request must
    /// not, RFC 6749 §4.1.3).
    pub redirect_sent: bool,
    /// The scope to grant.
    pub scope: String,
    /// Echoed back untouched.
    pub state: Option<String>,
    /// The S256 challenge.
    pub code_challenge: String,
}

/// The parameters of an authorization request, in the order they are posted back
/// by the consent form.
pub const PARAMS: [&str; 7] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
];

/// An answer to send to the client's redirect URI: an error or a code.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The redirect URI.
    pub redirect_uri: String,
    /// `(name, value)` pairs added to its query.
    pub params: Vec<(&'static str, String)>,
}

impl Answer {
    /// An error response (§4.1.2.1) with `state` and `iss` (RFC 9207 §2).
    pub fn error(
        redirect_uri: &str,
        code: AuthorizeErrorCode,
        description: &str,
        state: Option<&str>,
        iss: &str,
    ) -> Self {
        let mut params = vec![
            ("error", code.as_str().to_string()),
            ("error_description", description.to_string()),
        ];
        params.extend(state.map(|s| ("state", s.to_string())));
        params.push(("iss", iss.to_string()));
        Answer {
            redirect_uri: redirect_uri.to_string(),
            params,
        }
    }

    /// A successful response (§4.1.2) with `state` and `iss`.
    pub fn code(redirect_uri: &str, code: String, state: Option<&str>, iss: &str) -> Self {
        let mut params = vec![("code", code)];
        params.extend(state.map(|s| ("state", s.to_string())));
        params.push(("iss", iss.to_string()));
        Answer {
            redirect_uri: redirect_uri.to_string(),
            params,
        }
    }

    /// The `Location`: the redirect URI with the parameters appended to its query
    /// (§3.1.2: "MUST retain" an existing query).
    pub fn location(&self) -> String {
        let mut out = self.redirect_uri.clone();
        let mut sep = if out.contains('?') { '&' } else { '?' };
        for (name, value) in &self.params {
            out.push(sep);
            out.push_str(name);
            out.push('=');
            out.extend(utf8_percent_encode(value, QUERY_VALUE));
            sep = '&';
        }
        out
    }
}

/// What is escaped in a query value: everything but the unreserved characters.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The checks of an authorization request whose failures go back to the client's
/// redirect URI (RFC 6749 §4.1.2.1), in order: the response type, the client's
/// grant, PKCE (`S256` only, RFC 7636 §4.2) and the scope. Gives the challenge and
/// the granted scope.
fn redirectable_checks<'f>(
    client: &Client,
    form: &'f Form,
) -> Result<(&'f str, String), (AuthorizeErrorCode, String)> {
    use AuthorizeErrorCode as E;
    let refuse = |code, description: &str| Err((code, description.to_string()));
    match form.get("response_type") {
        Some("code") => {}
        Some(_) => {
            return refuse(
                E::UnsupportedResponseType,
                "only response_type=code is supported",
            );
        }
        None => return refuse(E::InvalidRequest, "response_type is required"),
    }
    if !GrantType::AuthorizationCode.allowed_for(client) {
        return refuse(
            E::UnauthorizedClient,
            "this client may not use the authorization_code grant",
        );
    }
    let Some(challenge) = form.get("code_challenge") else {
        return refuse(
            E::InvalidRequest,
            "code_challenge is required (PKCE, RFC 7636)",
        );
    };
    if form.get("code_challenge_method") != Some("S256") {
        return refuse(E::InvalidRequest, "code_challenge_method must be S256");
    }
    if !is_s256_challenge(challenge) {
        return refuse(
            E::InvalidRequest,
            "code_challenge is not a base64url SHA-256",
        );
    }
    let scope = requested_scope(client, form.get("scope"))
        .map_err(|e| (E::InvalidScope, e.description.into_owned()))?;
    Ok((challenge, scope))
}

/// Checks an authorization request. `Err(NoRedirect)`: show an error page.
/// `Ok(Err(answer))`: redirect the error to the (registered) redirect URI.
pub async fn check(
    state: &AppState,
    form: &Form,
) -> Result<Result<Authorization, Answer>, NoRedirect> {
    let client = match form.get("client_id") {
        Some(id) => state.store.client(id).await?,
        None => None,
    }
    .filter(|c| !c.disabled)
    .ok_or(NoRedirect::UnknownClient)?;
    let sent = form.get("redirect_uri");
    let redirect_uri = redirect_uri::resolve(redirect_uri::registered(&client), sent)
        .ok_or(NoRedirect::BadRedirect)?;
    let (challenge, scope) = match redirectable_checks(&client, form) {
        Ok(checked) => checked,
        Err((code, description)) => {
            let iss = state.settings.base_url.as_str();
            let answer = Answer::error(&redirect_uri, code, &description, form.get("state"), iss);
            return Ok(Err(answer));
        }
    };
    Ok(Ok(Authorization {
        redirect_sent: sent.is_some(),
        redirect_uri,
        scope,
        state: form.get("state").map(str::to_string),
        code_challenge: challenge.to_string(),
        client,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_keep_the_redirect_query_and_escape_values() {
        let a = Answer::error(
            "https://app.example/cb?x=1",
            AuthorizeErrorCode::AccessDenied,
            "the user denied access",
            Some("a b&c"),
            "https://auth.example",
        );
        assert_eq!(
            a.location(),
            "https://app.example/cb?x=1&error=access_denied&error_description=the%20user%20denied%20access&state=a%20b%26c&iss=https%3A%2F%2Fauth.example"
        );
        let c = Answer::code("http://127.0.0.1:9/cb", "abc".into(), None, "https://i");
        assert_eq!(
            c.location(),
            "http://127.0.0.1:9/cb?code=abc&iss=https%3A%2F%2Fi"
        );
    }
}
