//! The pages a person uses on a phone: sign in, enter a code, approve or deny, and
//! review devices. Handlers here deal in HTML and forms; the decisions are the
//! store's.

pub mod account;
pub mod admin;
pub mod attempt;
pub mod authorize;
pub mod device;
mod error;
pub mod guess;
pub mod language;
pub mod login;
pub mod session;

use askama::Template;
use hyper::Request;
use hyper::StatusCode;
use hyper::header::{HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};

use crate::http::body::{FORM_LIMIT, RequestBody, is_form, read_limited};
use crate::http::form::Form;
use crate::http::response::{self, Resp};
use crate::state::AppState;
use session::Browser;

pub use error::PageError;

/// Renders a template as an HTML response.
pub fn render(status: StatusCode, page: &impl Template) -> Resp {
    html_or_error(status, page.render())
}

/// Turns a rendered template into a response; a template failure is logged and
/// answered with a 500, never shown.
pub fn html_or_error(status: StatusCode, rendered: askama::Result<String>) -> Resp {
    match rendered {
        Ok(html) => response::html(status, html),
        Err(e) => {
            tracing::error!("template failed: {e}");
            response::html(StatusCode::INTERNAL_SERVER_ERROR, "template error".into())
        }
    }
}

/// A page's form POST: the browser, the form, and the checked CSRF token.
pub async fn read_post<B: RequestBody>(
    state: &AppState,
    req: Request<B>,
    now: u64,
) -> Result<(Browser, Form), PageError> {
    let (parts, body) = req.into_parts();
    let browser = Browser::from_headers(state, &parts.headers, now).await?;
    if !is_form(&parts.headers) {
        return Err(PageError::NotAForm);
    }
    let bytes = read_limited(
        &parts.headers,
        body,
        FORM_LIMIT,
        state.settings.body_timeout,
    )
    .await?;
    let form = Form::parse(&bytes)?;
    if !browser.csrf_ok(state, form.get("csrf_token")) {
        return Err(PageError::Csrf);
    }
    Ok((browser, form))
}

/// Reads the query string of a GET as a form.
pub fn query<B: RequestBody>(req: &Request<B>) -> Form {
    Form::parse(req.uri().query().unwrap_or("").as_bytes()).unwrap_or_default()
}

/// Sends a signed-out browser to the sign-in page, coming back to `next` afterwards.
pub fn to_login(next: &str) -> Resp {
    let encoded: String =
        percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC).collect();
    response::see_other(&format!("/login?next={encoded}"))
}

pub use crate::throttle::client_key;

/// Adds `Retry-After: secs` to a throttled answer.
pub fn retry_after(resp: &mut Resp, secs: u64) {
    resp.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(secs));
}

/// The request's `User-Agent`, at most 200 characters, for the session list and
/// consent page.
pub fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}
