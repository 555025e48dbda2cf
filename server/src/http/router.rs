//! One `match` from (method, path) to handler.
//!
//! `HEAD` is answered wherever `GET` is, by the same handler: hyper sends the
//! headers (`Content-Length` included) and leaves the body out. Query strings over
//! [`QUERY_LIMIT`] are refused with 414 before anything parses them.

use std::net::IpAddr;
use std::sync::Arc;

use authgate_proto::paths;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONNECTION, HeaderValue, STRICT_TRANSPORT_SECURITY};
use hyper::{Method, Request, StatusCode};

use super::response::{self, Resp, harden};
use crate::clock;
use crate::oauth::error::OAuthError;
use crate::oauth::{OAuthRequest, device_authorization, introspect, metadata, revoke, token};
use crate::state::AppState;
use crate::web::{PageError, account, device, login};

/// Runs an OAuth POST handler: decode the form, call, map errors to RFC JSON.
macro_rules! oauth_post {
    ($state:expr, $req:expr, $ip:expr, $now:expr, $handler:path) => {
        match OAuthRequest::read($req, $ip, $state.settings.body_timeout).await {
            Ok(r) => $handler($state, r, $now).await,
            Err(e) => Err(e),
        }
        .unwrap_or_else(OAuthError::into_response)
    };
}

/// Longest query string accepted. The longest legitimate one is `/login?next=`
/// carrying an encoded `/device?user_code=…` (under 100 bytes).
pub const QUERY_LIMIT: usize = 2048;

/// HSTS for https deployments: a year, this host only (no `includeSubDomains`: other
/// hosts under the domain are not ours to decide for).
const HSTS: &str = "max-age=31536000";

/// Answers one request from client address `ip` (already resolved through any
/// trusted proxy).
pub async fn route(state: Arc<AppState>, req: Request<Incoming>, ip: IpAddr) -> Resp {
    let state = state.as_ref();
    let mut resp = if req.uri().query().is_some_and(|q| q.len() > QUERY_LIMIT) {
        too_long(req.uri().path())
    } else {
        dispatch(state, req, ip).await
    };
    harden(&mut resp);
    if state.settings.secure_cookies {
        resp.headers_mut()
            .insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    if resp.status() == StatusCode::REQUEST_TIMEOUT {
        // The rest of a body that came too slowly is not worth waiting for.
        resp.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

async fn dispatch(state: &AppState, req: Request<Incoming>, ip: IpAddr) -> Resp {
    let now = clock::now();
    let method = match req.method() {
        &Method::HEAD => Method::GET,
        m => m.clone(),
    };
    let path = req.uri().path().to_string();
    let page = |r: Result<Resp, PageError>| r.unwrap_or_else(PageError::into_response);
    match (&method, path.as_str()) {
        (&Method::POST, paths::DEVICE_AUTHORIZATION) => {
            oauth_post!(state, req, ip, now, device_authorization::handle)
        }
        (&Method::POST, paths::TOKEN) => oauth_post!(state, req, ip, now, token::handle),
        (&Method::POST, paths::REVOCATION) => oauth_post!(state, req, ip, now, revoke::handle),
        (&Method::POST, paths::INTROSPECTION) => {
            oauth_post!(state, req, ip, now, introspect::handle)
        }
        (&Method::GET, paths::TOKENINFO) => introspect::tokeninfo(state, req.headers(), now)
            .unwrap_or_else(OAuthError::into_response),
        (&Method::GET, paths::METADATA) => metadata::metadata(state),
        (&Method::GET, paths::KEYS) => metadata::keys(state),
        (&Method::GET, "/health") => health(state),
        (&Method::GET, "/metrics") => crate::metrics::respond(),
        (&Method::GET, "/assets/style.css") => response::asset(
            "text/css; charset=utf-8",
            include_bytes!("../../assets/style.css"),
        ),
        (&Method::GET, "/") => response::see_other("/device"),
        (&Method::GET, "/login") => page(login::page(state, &req, now)),
        (&Method::POST, "/login") => page(login::submit(state, req, ip, now).await),
        (&Method::GET, "/logout") => page(login::logout_page(state, &req, now)),
        (&Method::POST, "/logout") => page(login::logout(state, req, now).await),
        (&Method::GET, paths::DEVICE_PAGE) => page(device::page(state, &req, ip, now)),
        (&Method::POST, paths::DEVICE_PAGE) => page(device::submit(state, req, ip, now).await),
        (&Method::POST, "/device/consent") => page(device::decide(state, req, ip, now).await),
        (&Method::GET, "/account") => page(account::page(state, &req, now)),
        (&Method::POST, "/account/revoke") => page(account::revoke(state, req, now).await),
        (&Method::POST, "/account/sessions") => page(account::sign_out(state, req, now).await),
        (&Method::GET, "/account/password") => page(account::password_page(state, &req, now)),
        (&Method::POST, "/account/password") => {
            page(account::change_password(state, req, ip, now).await)
        }
        (_, p) => match allowed(p) {
            Some(allow) => method_not_allowed(p, allow),
            None => PageError::new(
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no page at this address.",
            )
            .into_response(),
        },
    }
}

/// `414 URI Too Long`, as JSON on OAuth paths and as a page elsewhere.
fn too_long(path: &str) -> Resp {
    let text = format!("The query string is longer than {QUERY_LIMIT} bytes.");
    if path.starts_with("/oauth/") || path.starts_with("/.well-known/") {
        let mut e = OAuthError::invalid_request(text);
        e.status = Some(StatusCode::URI_TOO_LONG);
        e.into_response()
    } else {
        PageError::new(StatusCode::URI_TOO_LONG, "Address too long", text).into_response()
    }
}

/// The methods a known path accepts, for `405` answers.
fn allowed(path: &str) -> Option<&'static str> {
    match path {
        paths::DEVICE_AUTHORIZATION
        | paths::TOKEN
        | paths::REVOCATION
        | paths::INTROSPECTION
        | "/device/consent"
        | "/account/revoke"
        | "/account/sessions" => Some("POST"),
        paths::TOKENINFO
        | paths::METADATA
        | paths::KEYS
        | "/health"
        | "/metrics"
        | "/"
        | "/assets/style.css" => Some("GET, HEAD"),
        "/login" | "/logout" | paths::DEVICE_PAGE | "/account/password" => Some("GET, HEAD, POST"),
        "/account" => Some("GET, HEAD"),
        _ => None,
    }
}

fn method_not_allowed(path: &str, allow: &'static str) -> Resp {
    let mut resp = if path.starts_with("/oauth/") || path.starts_with("/.well-known/") {
        let mut e = OAuthError::invalid_request(format!("use {allow} on this endpoint"));
        e.status = Some(StatusCode::METHOD_NOT_ALLOWED);
        e.into_response()
    } else {
        PageError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Not allowed",
            format!("This address accepts {allow} only."),
        )
        .into_response()
    };
    resp.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    resp
}

fn health(state: &AppState) -> Resp {
    match state.store.check() {
        Ok(()) => response::json(StatusCode::OK, &serde_json::json!({"status": "ok"})),
        Err(e) => {
            tracing::error!("health check failed: {e}");
            response::json(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({"status": "unavailable"}),
            )
        }
    }
}
