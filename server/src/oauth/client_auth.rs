//! Client authentication at the OAuth endpoints (RFC 6749 §2.3).
//!
//! Public clients (devices, CLIs) identify themselves with `client_id` alone.
//! Confidential clients authenticate with HTTP Basic (`client_secret_basic`) or body
//! parameters (`client_secret_post`), never both; secrets compare in constant time.

use std::sync::Arc;

use authgate_proto::params;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::header::{AUTHORIZATION, HeaderMap};
use percent_encoding::percent_decode_str;

use super::error::OAuthError;
use crate::http::form::Form;
use crate::secrets::{ct_eq, sha256};
use crate::state::AppState;
use crate::store::Client;
use crate::store::prelude::*;

/// An authenticated (or, for public clients, identified) client.
pub struct Authenticated {
    /// The client record (shared with the client cache).
    pub client: Arc<Client>,
    /// Whether it proved a secret.
    pub confidential: bool,
}

/// Identifies and authenticates the client of a request.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &Form,
) -> Result<Authenticated, OAuthError> {
    let (id, secret) = credentials(headers, form)?;
    let client = state
        .store
        .client(&id)
        .await?
        .filter(|c| !c.disabled)
        .ok_or_else(|| OAuthError::invalid_client("unknown or disabled client"))?;
    match (&client.secret_hash, secret) {
        (None, None) => Ok(Authenticated {
            client,
            confidential: false,
        }),
        (Some(expected), Some(given)) if ct_eq(expected, &sha256(given.as_bytes())) => {
            Ok(Authenticated {
                client,
                confidential: true,
            })
        }
        (None, Some(_)) => Err(OAuthError::invalid_client(
            "this is a public client; it has no secret",
        )),
        _ => Err(OAuthError::invalid_client("client authentication failed")),
    }
}

/// The client id and secret a request presents: HTTP Basic or the form
/// (`client_id`, `client_secret`), never both (RFC 6749 §2.3.1); a Basic id must
/// match any `client_id` in the form.
fn credentials(headers: &HeaderMap, form: &Form) -> Result<(String, Option<String>), OAuthError> {
    let basic = basic_credentials(headers)?;
    let body_secret = form.get(params::CLIENT_SECRET);
    Ok(match (basic, body_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        (Some((id, secret)), None) => {
            if form
                .get(params::CLIENT_ID)
                .is_some_and(|body_id| body_id != id)
            {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the Authorization header",
                ));
            }
            // `Basic base64(client_id:)`, an empty password, is how many libraries
            // send a public client's id (RFC 6749 §2.3.1 encodes both parts; an
            // empty secret is no secret).
            (id, Some(secret).filter(|s| !s.is_empty()))
        }
        (None, secret) => {
            let id = form
                .get(params::CLIENT_ID)
                .ok_or_else(|| OAuthError::invalid_client("client_id is missing"))?;
            (id.to_string(), secret.map(str::to_string))
        }
    })
}

/// Decodes `Authorization: Basic`, whose parts are form-urlencoded (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::invalid_client("malformed Basic credentials");
    let value = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| bad())
    };
    Ok(Some((unescape(id)?, unescape(secret)?)))
}
