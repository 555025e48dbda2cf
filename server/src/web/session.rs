//! Browser sessions and CSRF tokens.
//!
//! A login creates a server-side session: the cookie holds 256 random bits, the
//! database only their SHA-256. Every form carries a CSRF token that is an HMAC of
//! a per-browser cookie (`authgate_csrf`) and, once logged in, the session: a page
//! on another site can neither read nor forge it.
//!
//! Under an https base URL both cookies are named with the `__Host-` prefix: the
//! browser then accepts them only with `Secure`, `Path=/` and no `Domain`, so a
//! sibling subdomain (or a plain-http page) can't plant a CSRF seed or a session
//! for us. Cookie values are accepted only in the exact format we issue (43
//! base64url characters for 32 bytes); anything else counts as absent.

use cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use hyper::header::HeaderMap;
use sha2::Sha256;

use crate::http::response::{Resp, set_cookie};
use crate::secrets::{ct_eq, random_token, sha256};
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{Session, StoreError};

/// A session ends after this long without a page view (the absolute limit is the
/// configured session lifetime).
pub const IDLE_TIMEOUT_SECS: u64 = 3600;
/// Activity is written at most this often per session: page views are reads, and
/// only one in five minutes costs a write through the group-commit writer. OAuth
/// endpoints never look at sessions at all.
pub const TOUCH_GAP_SECS: u64 = 300;

/// Cookie holding the session secret (plain http).
pub const SESSION_COOKIE: &str = "authgate_session";
/// Cookie the CSRF tokens are bound to (plain http).
pub const CSRF_COOKIE: &str = "authgate_csrf";
/// The session cookie's name under https.
pub const HOST_SESSION_COOKIE: &str = "__Host-authgate_session";
/// The CSRF cookie's name under https.
pub const HOST_CSRF_COOKIE: &str = "__Host-authgate_csrf";

/// The session cookie's name for this deployment.
pub fn session_cookie(state: &AppState) -> &'static str {
    if state.settings.secure_cookies {
        HOST_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The CSRF cookie's name for this deployment.
pub fn csrf_cookie(state: &AppState) -> &'static str {
    if state.settings.secure_cookies {
        HOST_CSRF_COOKIE
    } else {
        CSRF_COOKIE
    }
}

/// Whether a cookie value has the exact shape of [`random_token`]: 32 bytes as
/// 43 canonical base64url characters.
fn well_formed(value: &str) -> bool {
    use base64::Engine;
    value.len() == 43
        && base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(value)
            .is_ok_and(|b| b.len() == 32)
}

/// What a page request knows about its browser.
pub struct Browser {
    /// The logged-in session, if any.
    pub session: Option<Session>,
    /// Hash of the session cookie, the key of the session record.
    pub session_hash: Option<[u8; 32]>,
    /// The language its pages speak (`lang` cookie, else `Accept-Language`).
    pub lang: crate::i18n::Lang,
    csrf_seed: String,
    new_csrf_seed: bool,
}

pub(crate) use crate::http::cookie::cookie;

impl Browser {
    /// Reads the cookies of a request and looks up its session.
    pub async fn from_headers(
        state: &AppState,
        headers: &HeaderMap,
        now: u64,
    ) -> Result<Self, StoreError> {
        let session_hash = cookie(headers, session_cookie(state))
            .filter(|v| well_formed(v))
            .map(|v| sha256(v.as_bytes()));
        let session = match &session_hash {
            Some(h) => match state.store.live_session(h, now).await? {
                Some((session, meta)) => {
                    if meta.is_some_and(|m| m.last_seen_at.saturating_add(TOUCH_GAP_SECS) <= now) {
                        touch_later(state, *h, now);
                    }
                    Some(session)
                }
                None => None,
            },
            None => None,
        };
        let (csrf_seed, new_csrf_seed) = match cookie(headers, csrf_cookie(state)) {
            Some(v) if well_formed(v) => (v.to_string(), false),
            _ => (random_token(), true),
        };
        Ok(Browser {
            lang: crate::i18n::pick(headers, state.settings.secure_cookies),
            session_hash: session.as_ref().and(session_hash),
            session,
            csrf_seed,
            new_csrf_seed,
        })
    }

    /// The CSRF token forms on this page must carry.
    pub fn csrf_token(&self, state: &AppState) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&state.csrf_key)
            .expect("HMAC accepts keys of any length");
        mac.update(self.csrf_seed.as_bytes());
        if let Some(h) = &self.session_hash {
            mac.update(h);
        }
        crate::secrets::hex(&mac.finalize().into_bytes())
    }

    /// Whether a submitted CSRF token is the right one (constant time).
    pub fn csrf_ok(&self, state: &AppState, submitted: Option<&str>) -> bool {
        !self.new_csrf_seed
            && submitted.is_some_and(|s| ct_eq(s.as_bytes(), self.csrf_token(state).as_bytes()))
    }

    /// Renders a page whose forms carry this browser's CSRF token, and sets the CSRF
    /// cookie the token is bound to if the browser had none: every page with a form
    /// goes through here, so no form can miss either half.
    pub fn page(
        &self,
        state: &AppState,
        status: hyper::StatusCode,
        build: impl FnOnce(&str) -> askama::Result<String>,
    ) -> Resp {
        let csrf = self.csrf_token(state);
        let mut resp = super::html_or_error(status, build(&csrf));
        self.finish(state, &mut resp);
        resp
    }

    /// Sets the CSRF cookie on a response if this browser didn't have one yet.
    pub fn finish(&self, state: &AppState, resp: &mut Resp) {
        if self.new_csrf_seed {
            set_cookie(
                resp,
                &cookie_string(
                    state,
                    csrf_cookie(state),
                    &self.csrf_seed,
                    SameSite::Strict,
                    None,
                ),
            );
        }
    }
}

/// Records a session's activity without making the page wait for the write.
fn touch_later(state: &AppState, hash: [u8; 32], now: u64) {
    let store = state.store.clone();
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move {
            if let Err(e) = store.touch_session(hash, now, TOUCH_GAP_SECS).await {
                tracing::warn!("could not record session activity: {e}");
            }
        });
    }
}

/// Builds a `Set-Cookie` value: HttpOnly, SameSite, Path=/, no Domain, and Secure
/// over https (which the `__Host-` names require). `max_age` 0 deletes the cookie;
/// `None` makes it last as long as the browser session.
pub fn cookie_string(
    state: &AppState,
    name: &str,
    value: &str,
    same_site: SameSite,
    max_age: Option<u64>,
) -> String {
    let mut c = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(same_site);
    if let Some(age) = max_age {
        let secs = i64::try_from(age).unwrap_or(i64::MAX);
        c = c.max_age(cookie::time::Duration::seconds(secs));
    }
    if state.settings.secure_cookies {
        c = c.secure(true);
    }
    c.build().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::{COOKIE, HeaderValue};

    #[test]
    fn reads_the_first_cookie_of_that_name_as_sent() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; authgate_csrf=x%20y"));
        h.append(
            COOKIE,
            HeaderValue::from_static("authgate_csrf=second; junk"),
        );
        assert_eq!(cookie(&h, "authgate_csrf"), Some("x%20y"));
        assert_eq!(cookie(&h, "a"), Some("1"));
        assert_eq!(cookie(&h, "missing"), None);
    }
}
