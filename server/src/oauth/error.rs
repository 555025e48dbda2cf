//! OAuth error responses (RFC 6749 §5.2) — the only way an OAuth endpoint fails.

use std::borrow::Cow;

use authgate_proto::{ErrorCode, ErrorResponse};
use hyper::StatusCode;
use hyper::header::{HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};

use crate::http::body::BodyError;
use crate::http::form::FormError;
use crate::http::response::{self, Resp};
use crate::store::StoreError;

/// An error answered as `{"error": …, "error_description": …}`.
#[derive(Debug)]
pub struct OAuthError {
    /// The RFC code.
    pub code: ErrorCode,
    /// A human-readable hint for the client's developer; never secret.
    pub description: Cow<'static, str>,
    /// Overrides the status the code implies (413 for an oversized body).
    pub status: Option<StatusCode>,
    /// Seconds for a `Retry-After` header (429 answers).
    pub retry_after: Option<u64>,
    /// A `WWW-Authenticate` challenge replacing the one the code implies (a DPoP
    /// challenge at a protected resource, RFC 9449 §7.1).
    pub challenge: Option<String>,
}

impl OAuthError {
    /// An error with a fixed description.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        OAuthError {
            code,
            description: description.into(),
            status: None,
            retry_after: None,
            challenge: None,
        }
    }

    /// `429` with `temporarily_unavailable` and `Retry-After: secs`.
    pub fn too_many(description: impl Into<Cow<'static, str>>, secs: u64) -> Self {
        OAuthError {
            status: Some(StatusCode::TOO_MANY_REQUESTS),
            retry_after: Some(secs),
            ..Self::new(ErrorCode::TemporarilyUnavailable, description)
        }
    }

    /// Shorthand for `invalid_request`.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// Shorthand for `invalid_grant`.
    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// Shorthand for `invalid_client` (401).
    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    /// The JSON response, with the status RFC 6749 §5.2 prescribes and, for 401s, the
    /// `WWW-Authenticate` challenge it requires.
    pub fn into_response(self) -> Resp {
        let status = self.status.unwrap_or_else(|| {
            StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
        });
        let body = ErrorResponse {
            error: self.code,
            error_description: Some(&self.description),
            error_uri: None,
        };
        let mut resp = response::json(status, &body);
        let challenge = match self.code {
            ErrorCode::InvalidClient => Some("Basic realm=\"authgate\""),
            ErrorCode::InvalidToken => Some("Bearer realm=\"authgate\", error=\"invalid_token\""),
            _ => None,
        };
        if let Some(c) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            resp.headers_mut().insert(WWW_AUTHENTICATE, c);
        } else if let Some(c) = challenge {
            resp.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// `401` for a request to a bearer-protected resource that carried no token at
/// all: a bare `WWW-Authenticate: Bearer realm` with no `error` attribute and no
/// error body, as RFC 6750 §3.1 asks ("SHOULD NOT include an error code").
pub fn bearer_challenge() -> Resp {
    let mut resp = response::empty(StatusCode::UNAUTHORIZED);
    resp.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"authgate\""),
    );
    resp
}

impl From<FormError> for OAuthError {
    fn from(e: FormError) -> Self {
        OAuthError::invalid_request(e.to_string())
    }
}

impl From<BodyError> for OAuthError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => OAuthError {
                status: Some(StatusCode::PAYLOAD_TOO_LARGE),
                ..OAuthError::invalid_request("the request body is too large")
            },
            BodyError::Io => OAuthError::invalid_request("the request body could not be read"),
            BodyError::TimedOut => OAuthError {
                status: Some(StatusCode::REQUEST_TIMEOUT),
                ..OAuthError::invalid_request("the request body took too long to arrive")
            },
        }
    }
}

/// `Retry-After` for a 503 when the store's write queue is full.
const STORE_BUSY_RETRY_SECS: u64 = 1;

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        if e.is_busy() {
            tracing::warn!("storage busy: {e}");
            return OAuthError {
                status: Some(StatusCode::SERVICE_UNAVAILABLE),
                retry_after: Some(STORE_BUSY_RETRY_SECS),
                ..OAuthError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "the server is busy; retry shortly",
                )
            };
        }
        if e.is_unavailable() {
            tracing::warn!("database unavailable: {e}");
            return OAuthError {
                status: Some(StatusCode::SERVICE_UNAVAILABLE),
                retry_after: Some(STORE_BUSY_RETRY_SECS),
                ..OAuthError::new(
                    ErrorCode::ServerError,
                    "the database is unavailable; retry shortly",
                )
            };
        }
        tracing::error!("storage failure: {e}");
        OAuthError::new(ErrorCode::ServerError, "internal storage error")
    }
}
