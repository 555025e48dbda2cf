//! The language switch at the foot of every page: `GET /language?set=TAG&next=PATH`
//! remembers the language in a cookie and goes back to the page.
//!
//! A GET (no form, no script) that only sets a preference: `set` must name a
//! supported language exactly, else nothing is set, and `next` goes through the
//! same strict local-path check as login's `next`, so the link can't be turned
//! into an open redirect.

use cookie::SameSite;
use hyper::Request;

use super::login::safe_next;
use super::session::cookie_string;
use super::{PageError, query};
use crate::http::body::RequestBody;
use crate::http::response::{self, Resp, set_cookie};
use crate::i18n::{Lang, lang_cookie};
use crate::state::AppState;

/// How long the choice is remembered: a year.
const REMEMBER_SECS: u64 = 365 * 86_400;

/// `GET /language?set=de&next=/device`.
pub fn switch<B: RequestBody>(state: &AppState, req: &Request<B>) -> Result<Resp, PageError> {
    let q = query(req);
    let mut resp = response::see_other(safe_next(q.get("next")));
    if let Some(lang) = q.get("set").and_then(Lang::from_tag) {
        let name = lang_cookie(state.settings.secure_cookies);
        let cookie = cookie_string(state, name, lang.tag(), SameSite::Lax, Some(REMEMBER_SECS));
        set_cookie(&mut resp, &cookie);
    }
    Ok(resp)
}
