//! Why a page request failed, and the one place such a failure becomes an HTML
//! page (the OAuth endpoints' counterpart is `oauth::error::OAuthError`).
//!
//! Each variant's `Display` is an English sentence for logs; the page says it in
//! the person's language through [`PageError::words`], and [`PageError::status`]
//! gives the rest. Internal failures (storage) are logged
//! where they are converted and shown only as a generic sentence.

use hyper::StatusCode;

use super::render;
use crate::http::body::BodyError;
use crate::http::form::FormError;
use crate::http::response::Resp;
use crate::store::StoreError;
use crate::views::{Lang, MessagePage};

/// A failure on a page, answered with an HTML page and the right status.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No route has this path.
    #[error("There is no page at this address.")]
    NotFound,
    /// A known path asked with another method; holds the `Allow` value.
    #[error("This address accepts {0} only.")]
    MethodNotAllowed(String),
    /// The query string is over the router's limit.
    #[error("The query string is longer than {0} bytes.")]
    UriTooLong(usize),
    /// The CSRF token is missing or wrong.
    #[error("This form is no longer valid. Go back, reload the page and try again.")]
    Csrf,
    /// The body is not `application/x-www-form-urlencoded`.
    #[error("This page accepts only HTML form submissions.")]
    NotAForm,
    /// The body is over the form limit.
    #[error("The form was larger than allowed.")]
    TooLarge,
    /// The connection failed mid-body.
    #[error("The form could not be read.")]
    Incomplete,
    /// The body missed its deadline.
    #[error("The form took too long to arrive. Please try again.")]
    TooSlow,
    /// The body is not a valid form.
    #[error("{0}")]
    InvalidForm(FormError),
    /// The store failed (already logged).
    #[error("The server could not complete this request. Please try again.")]
    Storage,
    /// The store's write queue is full: retry in a moment (503, `Retry-After`).
    #[error("The server is busy. Please try again in a moment.")]
    Busy,
    /// A consent form without a decision.
    #[error("Choose Approve or Deny.")]
    NoDecision,
    /// A stored user code that no longer parses.
    #[error("This code is not valid.")]
    InvalidCode,
    /// A device id that is not one.
    #[error("That device was not found.")]
    UnknownDevice,
    /// A revoke form without a device.
    #[error("No device was chosen.")]
    NoDevice,
    /// A session id that is not one.
    #[error("That session was not found.")]
    UnknownSession,
    /// A sign-out form without a session.
    #[error("No session was chosen.")]
    NoSession,
    /// Hashing the new password failed.
    #[error("The new password could not be stored. Please try again.")]
    PasswordNotStored,
    /// The account changed between the check and the write.
    #[error("This account was changed meanwhile. Sign in again.")]
    AccountChanged,
    /// A console page asked by a user without the admin role.
    #[error("This page is for administrators only.")]
    Forbidden,
    /// The console named a user that does not exist.
    #[error("There is no such user.")]
    NoSuchUser,
    /// The console named a client that does not exist.
    #[error("There is no such client.")]
    NoSuchClient,
    /// A destructive console form without its confirmation ticked.
    #[error("Tick the confirmation box to do this.")]
    NotConfirmed,
    /// A console form with an unknown `op`.
    #[error("Unknown action.")]
    UnknownAction,
    /// A password set in the console is too short.
    #[error("The password is too short.")]
    PasswordTooShort,
    /// An admin tried to disable, delete or demote themselves.
    #[error("You cannot do this to your own account.")]
    NotYourself,
    /// A lifetime that does not parse (`900`, `15m`, `30d`).
    #[error("A lifetime is not valid.")]
    BadLifetime,
    /// An audit filter time that does not parse.
    #[error("A date is not valid.")]
    BadTime,
    /// A user name or client id outside the allowed characters.
    #[error("Names are 1 to 64 letters, digits and - _ . @ only.")]
    BadName,
    /// A user name or client id already taken.
    #[error("That name is already taken.")]
    NameTaken,
    /// Rotating the secret of a public client.
    #[error("A public client has no secret.")]
    PublicClient,
    /// A client setting the rules refuse (client_credentials on a public client,
    /// a redirect URI, a device-code lifetime or poll interval out of range).
    #[error("A client setting is not allowed.")]
    BadClientSetting,
    /// An authorization request from an unknown or disabled client (never
    /// redirected, RFC 6749 §4.1.2.1).
    #[error("This app is not registered here, or it is disabled.")]
    UnknownClient,
    /// An authorization request whose `redirect_uri` is missing or not registered
    /// (never redirected, RFC 6749 §4.1.2.1).
    #[error("The app's return address is not registered.")]
    BadRedirect,
}

impl From<crate::admin::exec::OpError> for PageError {
    fn from(e: crate::admin::exec::OpError) -> Self {
        use crate::admin::exec::OpError;
        match e {
            OpError::BadName(_) => PageError::BadName,
            OpError::UserExists(_) | OpError::ClientExists(_) => PageError::NameTaken,
            OpError::NoUser(_) => PageError::NoSuchUser,
            OpError::NoClient(_) => PageError::NoSuchClient,
            OpError::PublicClient(_) => PageError::PublicClient,
            OpError::Rule(_) => PageError::BadClientSetting,
            other => {
                tracing::error!("admin console operation failed: {other}");
                PageError::Storage
            }
        }
    }
}

impl PageError {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        use PageError::*;
        match self {
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            UriTooLong(_) => StatusCode::URI_TOO_LONG,
            Csrf => StatusCode::FORBIDDEN,
            NotAForm => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            TooSlow => StatusCode::REQUEST_TIMEOUT,
            Storage | PasswordNotStored => StatusCode::INTERNAL_SERVER_ERROR,
            Busy => StatusCode::SERVICE_UNAVAILABLE,
            AccountChanged | NameTaken => StatusCode::CONFLICT,
            Forbidden => StatusCode::FORBIDDEN,
            NoSuchUser | NoSuchClient => StatusCode::NOT_FOUND,
            NotConfirmed | UnknownAction | PasswordTooShort | NotYourself | BadLifetime
            | BadTime | BadName | PublicClient | BadClientSetting | UnknownClient | BadRedirect => {
                StatusCode::BAD_REQUEST
            }
            Incomplete | InvalidForm(_) | NoDecision | InvalidCode | UnknownDevice | NoDevice
            | UnknownSession | NoSession => StatusCode::BAD_REQUEST,
        }
    }

    /// The page heading and sentence, in `lang` (the `Display` above is the
    /// English sentence, for logs).
    pub fn words(&self, lang: Lang) -> (String, String) {
        use PageError::*;
        let (heading, text) = match self {
            NotFound => ("error-not-found", "error-not-found-text"),
            MethodNotAllowed(allow) => {
                let text = lang.t1("error-not-allowed-text", "methods", allow);
                return (lang.t("error-not-allowed"), text);
            }
            UriTooLong(limit) => {
                let text = lang.t1("error-uri-too-long-text", "limit", limit);
                return (lang.t("error-uri-too-long"), text);
            }
            Csrf => ("message-form-expired", "error-csrf-text"),
            NotAForm => ("error-not-a-form", "error-not-a-form-text"),
            TooLarge => ("error-too-large", "error-too-large-text"),
            Incomplete => ("error-incomplete", "error-incomplete-text"),
            TooSlow => ("error-too-slow", "error-too-slow-text"),
            InvalidForm(_) => ("error-invalid-form", "error-invalid-form-text"),
            Storage => ("error-storage", "error-storage-text"),
            Busy => ("error-busy", "error-busy-text"),
            PasswordNotStored => ("error-storage", "error-password-not-stored-text"),
            NoDecision => ("error-no-decision", "error-no-decision-text"),
            InvalidCode => ("error-invalid-code", "error-invalid-code-text"),
            UnknownDevice => ("error-unknown-device", "error-unknown-device-text"),
            NoDevice => ("error-unknown-device", "error-no-device-text"),
            UnknownSession => ("error-unknown-session", "error-unknown-session-text"),
            NoSession => ("error-unknown-session", "error-no-session-text"),
            AccountChanged => ("error-account-changed", "error-account-changed-text"),
            Forbidden => ("error-forbidden", "error-forbidden-text"),
            NoSuchUser => ("error-admin-refused", "error-no-such-user-text"),
            NoSuchClient => ("error-admin-refused", "error-no-such-client-text"),
            NotConfirmed => ("error-admin-refused", "error-not-confirmed-text"),
            UnknownAction => ("error-admin-refused", "error-unknown-action-text"),
            PasswordTooShort => ("error-admin-refused", "error-password-short-text"),
            NotYourself => ("error-admin-refused", "error-not-yourself-text"),
            BadLifetime => ("error-admin-refused", "error-bad-lifetime-text"),
            BadTime => ("error-admin-refused", "error-bad-time-text"),
            BadName => ("error-admin-refused", "error-bad-name-text"),
            NameTaken => ("error-admin-refused", "error-name-taken-text"),
            PublicClient => ("error-admin-refused", "error-public-client-text"),
            BadClientSetting => ("error-admin-refused", "error-client-setting-text"),
            UnknownClient => ("error-unknown-client", "error-unknown-client-text"),
            BadRedirect => ("error-bad-redirect", "error-bad-redirect-text"),
        };
        (lang.t(heading), lang.t(text))
    }

    /// Renders the error page in `lang`: the only place a page failure becomes a
    /// response.
    pub fn into_response(self, lang: Lang) -> Resp {
        let (heading, text) = self.words(lang);
        let busy = matches!(self, PageError::Busy);
        let mut resp = render(
            self.status(),
            &MessagePage {
                lang,
                username: None,
                csrf: "",
                heading,
                text,
                link: Some(("/device", lang.t("error-start-again"))),
                back: "/device",
            },
        );
        if busy {
            super::retry_after(&mut resp, STORE_BUSY_RETRY_SECS);
        }
        resp
    }
}

#[cfg(test)]
impl PageError {
    /// One of each variant, for the i18n tests.
    pub fn all_for_tests() -> Vec<PageError> {
        use PageError::*;
        vec![
            NotFound,
            MethodNotAllowed("GET, HEAD".into()),
            UriTooLong(2048),
            Csrf,
            NotAForm,
            TooLarge,
            Incomplete,
            TooSlow,
            InvalidForm(FormError::NotUtf8),
            Storage,
            Busy,
            NoDecision,
            InvalidCode,
            UnknownDevice,
            NoDevice,
            UnknownSession,
            NoSession,
            PasswordNotStored,
            AccountChanged,
            Forbidden,
            NoSuchUser,
            NoSuchClient,
            NotConfirmed,
            UnknownAction,
            PasswordTooShort,
            NotYourself,
            BadLifetime,
            BadTime,
            BadName,
            NameTaken,
            PublicClient,
            BadClientSetting,
            UnknownClient,
            BadRedirect,
        ]
    }
}

/// `Retry-After` for a 503 when the store's write queue is full.
const STORE_BUSY_RETRY_SECS: u64 = 1;

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        if e.is_busy() || e.is_unavailable() {
            tracing::warn!("storage busy or unavailable: {e}");
            return PageError::Busy;
        }
        tracing::error!("storage failure: {e}");
        PageError::Storage
    }
}

impl From<FormError> for PageError {
    fn from(e: FormError) -> Self {
        PageError::InvalidForm(e)
    }
}

impl From<BodyError> for PageError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => PageError::TooLarge,
            BodyError::Io => PageError::Incomplete,
            BodyError::TimedOut => PageError::TooSlow,
        }
    }
}
