//! The route table: (method, path) → endpoint, in one place.
//!
//! [`ROUTES`] is the only list of routes. It drives matching, the `Allow` header of
//! a `405` answer, and the `route` label of the request metrics, so adding a route
//! is one line here plus one arm in the dispatch `match` of its kind (which the
//! compiler checks is exhaustive). A route that answers JSON is also described in
//! `server/openapi.json` ([`OPENAPI`]); a test fails until it is.
//!
//! `HEAD` is answered wherever `GET` is, by the same handler: hyper sends the
//! headers (`Content-Length` included) and leaves the body out. Query strings over
//! [`QUERY_LIMIT`] are refused with 414 before anything parses them.
//!
//! [`App`] is what the accept loop (`http::serve`) calls for each request; the
//! router is generic over the request body, so tests drive it in-process with
//! `http_body_util::Full<Bytes>` (see [`route`]) and no socket.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use authgate_proto::paths;
use hyper::body::Incoming;
use hyper::header::{
    ALLOW, AUTHORIZATION, CONNECTION, HeaderMap, HeaderValue, STRICT_TRANSPORT_SECURITY,
};
use hyper::{Method, Request, StatusCode};
use tracing::Instrument;

use crate::http::body::RequestBody;
use crate::http::response::{self, Resp, harden};
use crate::http::serve::Handler;
use crate::i18n::{self, Lang};
use crate::oauth::error::{OAuthError, bearer_challenge};
use crate::oauth::{OAuthRequest, device_authorization, introspect, metadata, revoke, token};
use crate::secrets::{ct_eq, sha256};
use crate::state::AppState;
use crate::web::admin::View as AdminView;
use crate::web::{PageError, account, admin, authorize, device, language, login};
use crate::{clock, metrics};

/// Which methods a route answers. `Get` answers `HEAD` too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// `GET` and `HEAD`.
    Get,
    /// `POST`.
    Post,
}

/// The OAuth endpoints: clients call them, and their errors are RFC 6749 JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// RFC 8628 §3.1.
    DeviceAuthorization,
    /// RFC 6749 §3.2, device-code and refresh grants.
    Token,
    /// RFC 7009.
    Revocation,
    /// RFC 7662.
    Introspection,
    /// Bearer-authenticated token information.
    TokenInfo,
    /// RFC 8414 metadata.
    Metadata,
    /// Public verification keys (PASERK).
    Keys,
    /// Public verification keys as a JWK Set (JWT access tokens).
    Jwks,
}

/// The pages people use: their errors are HTML pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// The sign-in form.
    Login,
    /// Signing in.
    LoginSubmit,
    /// The sign-out confirmation.
    LogoutPrompt,
    /// Signing out.
    Logout,
    /// The code entry form (or consent, with `?user_code=`).
    Device,
    /// A typed code.
    DeviceSubmit,
    /// Approve or deny.
    Consent,
    /// An authorization request (RFC 6749 §4.1.1): sign-in, then consent.
    Authorize,
    /// The decision on an authorization request's consent page.
    AuthorizeDecision,
    /// Devices and browsers of the account.
    Account,
    /// Revoking a device.
    RevokeGrant,
    /// Signing browsers out.
    SignOut,
    /// The change-password form.
    PasswordForm,
    /// Changing the password.
    ChangePassword,
    /// The language switch.
    Language,
    /// A page of the admin console.
    Admin(AdminView),
    /// A change made in the admin console.
    AdminAction,
}

/// Everything else: liveness, metrics, the stylesheet, the root redirect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plain {
    /// `/health`.
    Health,
    /// `/metrics`.
    Metrics,
    /// The one stylesheet.
    Style,
    /// `/` → `/device`.
    Root,
    /// The OpenAPI document of the JSON endpoints.
    OpenApi,
}

/// What answers a route, grouped by how its errors look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// An OAuth endpoint (errors as JSON).
    Api(Api),
    /// A page (errors as HTML).
    Page(Page),
    /// Neither.
    Plain(Plain),
}

/// One row of the route table.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// The methods it answers.
    pub verb: Verb,
    /// The exact path (also its metric label).
    pub path: &'static str,
    /// What answers it.
    pub endpoint: Endpoint,
}

const fn r(verb: Verb, path: &'static str, endpoint: Endpoint) -> Route {
    Route {
        verb,
        path,
        endpoint,
    }
}

use Endpoint::{Api as A, Page as P, Plain as N};
use Verb::{Get, Post};

/// Every route the server answers.
pub static ROUTES: &[Route] = &[
    r(
        Post,
        paths::DEVICE_AUTHORIZATION,
        A(Api::DeviceAuthorization),
    ),
    r(Post, paths::TOKEN, A(Api::Token)),
    r(Post, paths::REVOCATION, A(Api::Revocation)),
    r(Post, paths::INTROSPECTION, A(Api::Introspection)),
    r(Get, paths::TOKENINFO, A(Api::TokenInfo)),
    r(Get, paths::KEYS, A(Api::Keys)),
    r(Get, paths::JWKS, A(Api::Jwks)),
    r(Get, paths::METADATA, A(Api::Metadata)),
    r(Get, "/health", N(Plain::Health)),
    r(Get, "/openapi.json", N(Plain::OpenApi)),
    r(Get, "/metrics", N(Plain::Metrics)),
    r(Get, "/login", P(Page::Login)),
    r(Post, "/login", P(Page::LoginSubmit)),
    r(Get, "/logout", P(Page::LogoutPrompt)),
    r(Post, "/logout", P(Page::Logout)),
    r(Get, paths::DEVICE_PAGE, P(Page::Device)),
    r(Post, paths::DEVICE_PAGE, P(Page::DeviceSubmit)),
    r(Post, "/device/consent", P(Page::Consent)),
    r(Get, authorize::PATH, P(Page::Authorize)),
    r(Post, authorize::PATH, P(Page::AuthorizeDecision)),
    r(Get, "/account", P(Page::Account)),
    r(Post, "/account/revoke", P(Page::RevokeGrant)),
    r(Post, "/account/sessions", P(Page::SignOut)),
    r(Get, "/account/password", P(Page::PasswordForm)),
    r(Post, "/account/password", P(Page::ChangePassword)),
    r(Get, "/language", P(Page::Language)),
    r(Get, "/admin", P(Page::Admin(AdminView::Users))),
    r(Get, "/admin/user", P(Page::Admin(AdminView::User))),
    r(Get, "/admin/clients", P(Page::Admin(AdminView::Clients))),
    r(Get, "/admin/client", P(Page::Admin(AdminView::Client))),
    r(Get, "/admin/grants", P(Page::Admin(AdminView::Grants))),
    r(Get, "/admin/audit", P(Page::Admin(AdminView::Audit))),
    r(
        Get,
        "/admin/audit.jsonl",
        P(Page::Admin(AdminView::AuditExport)),
    ),
    r(Get, "/admin/keys", P(Page::Admin(AdminView::Keys))),
    r(Post, "/admin/action", P(Page::AdminAction)),
    r(Get, "/assets/style.css", N(Plain::Style)),
    r(Get, "/", N(Plain::Root)),
];

/// The metric label of a path: the route's path when known, else `other`, so a
/// scanner can't blow up the number of series.
pub fn label(path: &str) -> &'static str {
    ROUTES
        .iter()
        .find(|r| r.path == path)
        .map_or("other", |r| r.path)
}

/// The `Allow` value of a known path (`GET, HEAD, POST` order), or `None` when no
/// route has this path.
pub fn allowed(path: &str) -> Option<String> {
    let has = |v| ROUTES.iter().any(|r| r.path == path && r.verb == v);
    let (get, post) = (has(Get), has(Post));
    let methods: &[&str] = match (get, post) {
        (true, true) => &["GET", "HEAD", "POST"],
        (true, false) => &["GET", "HEAD"],
        (false, true) => &["POST"],
        (false, false) => return None,
    };
    Some(methods.join(", "))
}

/// Whether errors on `path` are OAuth JSON: an OAuth route's, or (for paths not
/// in the table) any path under the OAuth prefixes.
fn is_api(path: &str) -> bool {
    match ROUTES.iter().find(|r| r.path == path) {
        Some(r) => matches!(r.endpoint, Endpoint::Api(_)),
        None => path.starts_with("/oauth/") || path.starts_with("/.well-known/"),
    }
}

/// Longest query string accepted. The longest legitimate one is `/login?next=`
/// carrying an encoded `/device?user_code=…` (under 100 bytes).
pub const QUERY_LIMIT: usize = 2048;

/// HSTS for https deployments: a year, this host only (no `includeSubDomains`: other
/// hosts under the domain are not ours to decide for).
const HSTS: &str = "max-age=31536000";

/// The application as the accept loop sees it: resolves the client address,
/// gives each request an id and a log span, routes it, and counts it.
#[derive(Clone)]
pub struct App {
    state: Arc<AppState>,
}

impl App {
    /// The application over `state`.
    pub fn new(state: Arc<AppState>) -> Self {
        App { state }
    }

    /// Answers one request from the TCP peer `peer`, whatever its body type.
    pub async fn call<B: RequestBody>(&self, req: Request<B>, peer: SocketAddr) -> Resp {
        let started = Instant::now();
        let id = crate::secrets::hex(&crate::secrets::random_bytes::<8>());
        let method = req.method().clone();
        let label = label(req.uri().path());
        let span = tracing::info_span!("request", id = %id, method = %method, path = %label);
        let client = self
            .state
            .settings
            .trusted_proxies
            .client_ip(peer.ip(), req.headers());
        let mut resp = route(&self.state, req, client).instrument(span).await;
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-request-id", v);
        }
        let status = resp.status().as_u16();
        metrics::get().request(method.as_str(), label, status, started.elapsed());
        resp
    }
}

impl Handler for App {
    async fn handle(&self, req: Request<Incoming>, peer: SocketAddr) -> Resp {
        self.call(req, peer).await
    }
}

/// Answers one request from client address `ip` (already resolved through any
/// trusted proxy): the router proper, callable in tests without a socket.
pub async fn route<B: RequestBody>(state: &AppState, req: Request<B>, ip: IpAddr) -> Resp {
    let mut resp = if req.uri().query().is_some_and(|q| q.len() > QUERY_LIMIT) {
        too_long(state, &req)
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

async fn dispatch<B: RequestBody>(state: &AppState, req: Request<B>, ip: IpAddr) -> Resp {
    let verb = match *req.method() {
        Method::GET | Method::HEAD => Some(Get),
        Method::POST => Some(Post),
        _ => None,
    };
    let path = req.uri().path();
    let Some(found) = ROUTES
        .iter()
        .find(|r| Some(r.verb) == verb && r.path == path)
    else {
        return refused(state, &req);
    };
    let now = clock::now();
    match found.endpoint {
        Endpoint::Api(api) => {
            let proof_sent = req.headers().contains_key(crate::oauth::dpop::DPOP);
            let mut resp = call_api(api, state, req, ip, now)
                .await
                .unwrap_or_else(OAuthError::into_response);
            if proof_sent && matches!(api, Api::Token | Api::DeviceAuthorization) {
                add_dpop_nonce(state, &mut resp, now);
            }
            resp
        }
        Endpoint::Page(page) => {
            let lang = page_lang(state, &req);
            call_page(page, state, req, ip, now)
                .await
                .unwrap_or_else(|e| e.into_response(lang))
        }
        Endpoint::Plain(plain) => call_plain(plain, state, &req).await,
    }
}

async fn call_api<B: RequestBody>(
    api: Api,
    state: &AppState,
    req: Request<B>,
    ip: IpAddr,
    now: u64,
) -> Result<Resp, OAuthError> {
    let read = |req| OAuthRequest::read(req, ip, state.settings.body_timeout);
    match api {
        Api::DeviceAuthorization => {
            device_authorization::handle(state, read(req).await?, now).await
        }
        Api::Token => token::handle(state, read(req).await?, now).await,
        Api::Revocation => revoke::handle(state, read(req).await?, now).await,
        Api::Introspection => introspect::handle(state, read(req).await?, now).await,
        Api::TokenInfo => introspect::tokeninfo(state, req.method(), req.headers(), now).await,
        Api::Metadata => Ok(metadata::metadata(state).await),
        Api::Keys => Ok(metadata::keys(state)),
        Api::Jwks => Ok(metadata::jwks(state)),
    }
}

/// A fresh `DPoP-Nonce` on every answer to a request that carried a proof (RFC
/// 9449 §8): a client that must use nonces always holds a current one, and a device
/// without a clock learns the server's time from it (and from `Date`).
fn add_dpop_nonce(state: &AppState, resp: &mut Resp, now: u64) {
    if let Ok(v) = HeaderValue::from_str(&state.dpop.nonces.issue(now)) {
        resp.headers_mut().insert(crate::oauth::dpop::DPOP_NONCE, v);
    }
}

async fn call_page<B: RequestBody>(
    page: Page,
    state: &AppState,
    req: Request<B>,
    ip: IpAddr,
    now: u64,
) -> Result<Resp, PageError> {
    match page {
        Page::Login => login::page(state, &req, now).await,
        Page::LoginSubmit => login::submit(state, req, ip, now).await,
        Page::LogoutPrompt => login::logout_page(state, &req, now).await,
        Page::Logout => login::logout(state, req, now).await,
        Page::Device => device::page(state, &req, ip, now).await,
        Page::DeviceSubmit => device::submit(state, req, ip, now).await,
        Page::Consent => device::decide(state, req, ip, now).await,
        Page::Authorize => authorize::page(state, &req, now).await,
        Page::AuthorizeDecision => authorize::decide(state, req, now).await,
        Page::Account => account::page(state, &req, now).await,
        Page::RevokeGrant => account::revoke(state, req, now).await,
        Page::SignOut => account::sign_out(state, req, now).await,
        Page::PasswordForm => account::password_page(state, &req, now).await,
        Page::ChangePassword => account::change_password(state, req, ip, now).await,
        Page::Language => language::switch(state, &req),
        Page::Admin(view) => admin::page(state, &req, view, now).await,
        Page::AdminAction => admin::action(state, req, now).await,
    }
}

/// The language of a page (or page error) for this request.
fn page_lang<B>(state: &AppState, req: &Request<B>) -> Lang {
    i18n::pick(req.headers(), state.settings.secure_cookies)
}

async fn call_plain<B>(plain: Plain, state: &AppState, req: &Request<B>) -> Resp {
    let headers = req.headers();
    match plain {
        Plain::Health => health(state).await,
        Plain::Metrics if !metrics::enabled() => {
            PageError::NotFound.into_response(page_lang(state, req))
        }
        Plain::Metrics if !metrics_allowed(state, headers) => bearer_challenge(),
        Plain::Metrics => response::text(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics::get().render(),
        ),
        Plain::Style => response::asset(
            "text/css; charset=utf-8",
            include_bytes!("../assets/style.css"),
        ),
        Plain::Root => response::see_other(paths::DEVICE_PAGE),
        Plain::OpenApi => {
            let mut resp = response::asset("application/json", OPENAPI);
            resp.headers_mut().insert(
                hyper::header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            resp
        }
    }
}

/// The OpenAPI 3.1 description of every JSON route above, served at
/// `/openapi.json` for integrators to generate clients from. It is written by
/// hand and kept honest by tests: `openapi_check` compares its paths with
/// [`ROUTES`], its error codes with `authgate_proto::ErrorCode` and its metadata
/// keys with the metadata handler, and `scripts/api-fuzz.sh` fuzzes the running
/// binary against it.
pub const OPENAPI: &[u8] = include_bytes!("../openapi.json");

/// Whether a `/metrics` request may read the metrics: always when no
/// `metrics_token` is set, else only with `Authorization: Bearer <token>`,
/// compared in constant time (as digests, so the length leaks nothing either).
fn metrics_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(expected) = &state.settings.metrics_token else {
        return true;
    };
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    presented.is_some_and(|t| ct_eq(expected, &sha256(t.as_bytes())))
}

/// `404` for an unknown path, `405` with `Allow` for a known path and another
/// method.
fn refused<B>(state: &AppState, req: &Request<B>) -> Resp {
    let path = req.uri().path();
    let Some(allow) = allowed(path) else {
        return PageError::NotFound.into_response(page_lang(state, req));
    };
    let mut resp = if is_api(path) {
        let mut e = OAuthError::invalid_request(format!("use {allow} on this endpoint"));
        e.status = Some(StatusCode::METHOD_NOT_ALLOWED);
        e.into_response()
    } else {
        PageError::MethodNotAllowed(allow.clone()).into_response(page_lang(state, req))
    };
    if let Ok(v) = HeaderValue::from_str(&allow) {
        resp.headers_mut().insert(ALLOW, v);
    }
    resp
}

/// `414 URI Too Long`, as JSON on OAuth paths and as a page elsewhere.
fn too_long<B>(state: &AppState, req: &Request<B>) -> Resp {
    let path = req.uri().path();
    let text = format!("The query string is longer than {QUERY_LIMIT} bytes.");
    if is_api(path) {
        let mut e = OAuthError::invalid_request(text);
        e.status = Some(StatusCode::URI_TOO_LONG);
        e.into_response()
    } else {
        PageError::UriTooLong(QUERY_LIMIT).into_response(page_lang(state, req))
    }
}

async fn health(state: &AppState) -> Resp {
    match state.store.check().await {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_and_labels_come_from_the_table() {
        assert_eq!(allowed(paths::TOKEN).as_deref(), Some("POST"));
        assert_eq!(allowed("/account").as_deref(), Some("GET, HEAD"));
        assert_eq!(allowed("/login").as_deref(), Some("GET, HEAD, POST"));
        assert_eq!(allowed("/nope"), None);
        assert_eq!(label("/oauth/token"), "/oauth/token");
        assert_eq!(label("/wp-admin.php"), "other");
        assert!(is_api(paths::METADATA) && is_api("/oauth/nope") && !is_api("/health"));
    }
}

#[cfg(test)]
mod inprocess;

#[cfg(test)]
mod openapi_check;
