//! The pages a person uses on a phone: sign in, enter a code, approve or deny, and
//! review devices. Handlers here deal in HTML and forms; the decisions are the
//! store's.

pub mod account;
pub mod attempt;
pub mod device;
pub mod guess;
pub mod login;
pub mod session;

use askama::Template;
use hyper::Request;
use hyper::StatusCode;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};

use crate::http::body::{BodyError, FORM_LIMIT, is_form, read_limited};
use crate::http::form::Form;
use crate::http::response::{self, Resp};
use crate::state::AppState;
use crate::store::StoreError;
use crate::views::MessagePage;
use session::Browser;

/// A failure on a page, answered with an HTML page and the right status.
#[derive(Debug)]
pub struct PageError {
    /// HTTP status.
    pub status: StatusCode,
    /// Heading.
    pub heading: &'static str,
    /// Sentence.
    pub text: String,
}

impl PageError {
    /// A page error.
    pub fn new(status: StatusCode, heading: &'static str, text: impl Into<String>) -> Self {
        PageError {
            status,
            heading,
            text: text.into(),
        }
    }

    /// The CSRF failure page.
    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form is no longer valid. Go back, reload the page and try again.",
        )
    }

    /// Renders the error page (a 503 says when to retry).
    pub fn into_response(self) -> Resp {
        let busy = self.status == StatusCode::SERVICE_UNAVAILABLE;
        let mut resp = render(
            self.status,
            &MessagePage {
                username: None,
                csrf: "",
                heading: self.heading,
                text: &self.text,
                link: Some(("/device", "Start again")),
            },
        );
        if busy {
            retry_after(&mut resp, 1);
        }
        resp
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        if e.is_busy() {
            tracing::warn!("storage busy: {e}");
            return PageError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Busy",
                "The server is busy. Please try again in a moment.",
            );
        }
        tracing::error!("storage failure: {e}");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The server could not complete this request. Please try again.",
        )
    }
}

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
pub async fn read_post(
    state: &AppState,
    req: Request<Incoming>,
    now: u64,
) -> Result<(Browser, Form), PageError> {
    let (parts, body) = req.into_parts();
    let browser = Browser::from_headers(state, &parts.headers, now)?;
    if !is_form(&parts.headers) {
        return Err(PageError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported form",
            "This page accepts only HTML form submissions.",
        ));
    }
    let bytes = read_limited(
        &parts.headers,
        body,
        FORM_LIMIT,
        state.settings.body_timeout,
    )
    .await
    .map_err(|e| match e {
        BodyError::TooLarge => PageError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Too much data",
            "The form was larger than allowed.",
        ),
        BodyError::Io => PageError::new(
            StatusCode::BAD_REQUEST,
            "Incomplete form",
            "The form could not be read.",
        ),
        BodyError::TimedOut => PageError::new(
            StatusCode::REQUEST_TIMEOUT,
            "Too slow",
            "The form took too long to arrive. Please try again.",
        ),
    })?;
    let form = Form::parse(&bytes)
        .map_err(|e| PageError::new(StatusCode::BAD_REQUEST, "Invalid form", e.to_string()))?;
    if !browser.csrf_ok(state, form.get("csrf_token")) {
        return Err(PageError::csrf());
    }
    Ok((browser, form))
}

/// Reads the query string of a GET as a form.
pub fn query(req: &Request<Incoming>) -> Form {
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
