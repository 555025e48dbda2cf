//! Building responses, and the headers every response carries.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use serde::Serialize;

/// The one response type of the server: small, fully buffered bodies.
pub type Resp = Response<Full<Bytes>>;

/// Pages may load only our own stylesheet and images; no scripts at all, no
/// framing, forms post only to us.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// [`CSP`] without its `form-action`, for a page whose form also ends at another
/// origin (the authorization consent page, redirecting to the client): that page
/// appends its own `form-action`.
pub const CSP_WITHOUT_FORM_ACTION: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

fn build(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A JSON body; `no-store` as RFC 6749 §5.1 requires of token responses and as
/// every OAuth endpoint here deserves.
pub fn json(status: StatusCode, value: &impl Serialize) -> Resp {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = build(status, "application/json", body);
    no_store(&mut resp);
    resp
}

/// An HTML page. Pages show codes and CSRF tokens, so they are never cached.
pub fn html(status: StatusCode, body: String) -> Resp {
    let mut resp = build(status, "text/html; charset=utf-8", body);
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    no_store(&mut resp);
    resp
}

/// A body of any other type, with no caching headers (the metrics exposition).
pub fn text(status: StatusCode, content_type: &'static str, body: String) -> Resp {
    build(status, content_type, body)
}

/// A static asset that may be cached.
pub fn asset(content_type: &'static str, body: &'static [u8]) -> Resp {
    let mut resp = build(StatusCode::OK, content_type, Bytes::from_static(body));
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    resp
}

/// `303 See Other` to a local path, the answer to a successful form post.
pub fn see_other(location: &str) -> Resp {
    let mut resp = build(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", "");
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    no_store(&mut resp);
    resp
}

/// An empty body with a status (revocation's 200).
pub fn empty(status: StatusCode) -> Resp {
    let mut resp = build(status, "text/plain; charset=utf-8", "");
    no_store(&mut resp);
    resp
}

/// Adds a `Set-Cookie` header.
pub fn set_cookie(resp: &mut Resp, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn no_store(resp: &mut Resp) {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// Headers every response gets, whatever produced it.
pub fn harden(resp: &mut Resp) {
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}
