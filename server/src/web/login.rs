//! Signing in and out.

use askama::Template;
use cookie::SameSite;
use percent_encoding::percent_decode_str;
use std::net::IpAddr;

use hyper::{Request, StatusCode};

use super::session::{Browser, IDLE_TIMEOUT_SECS, cookie_string, session_cookie};
use super::{PageError, query, read_post, retry_after, user_agent};
use crate::http::body::RequestBody;
use crate::http::response::{self, Resp, set_cookie};
use crate::names::is_valid_name;
use crate::secrets::{random_token, sha256};
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{Session, SessionMeta, SessionStart, User};
use crate::views::{LoginPage, LoginProblem, Message};
use crate::web::attempt::{PasswordAttempt, Purpose};

/// The one answer to a wrong user name or password (and to a name that can't exist).
const WRONG: LoginProblem = LoginProblem::Wrong;

/// Where a login goes when `next` is absent or refused.
const DEFAULT_NEXT: &str = "/account";
/// Longest `next` followed; real ones are a path and a user code, or an
/// authorization request (`/oauth/authorize?…` with a redirect URI, a state and a
/// PKCE challenge: a few hundred bytes).
const NEXT_LIMIT: usize = 1536;

/// Only local paths are followed after login, so `next` can't bounce a user to
/// another site (an open redirect). Browsers strip tab, CR and LF from URLs and
/// read `\` as `/`, so `/\t/evil.example` or `/\\evil.example` would become
/// `//evil.example`: the value must be printable ASCII without a backslash, start
/// with one `/` not followed by another, and the same must hold once
/// percent-decoded (no `/%2F…`, `/%5C…`, `%09`). Anything else is replaced.
pub(crate) fn safe_next(next: Option<&str>) -> &str {
    let raw_ok = |c: u8| (0x21..0x7f).contains(&c) && c != b'\\';
    // Once decoded, a space or a non-ASCII byte is harmless; control bytes aren't.
    let decoded_ok = |c: u8| c >= 0x20 && c != 0x7f && c != b'\\';
    match next {
        Some(n)
            if is_local_path(n.as_bytes(), raw_ok)
                && is_local_path(&percent_decode_str(n).collect::<Vec<u8>>(), decoded_ok) =>
        {
            n
        }
        _ => DEFAULT_NEXT,
    }
}

/// One leading `/`, not followed by `/` or a backslash, every byte `allowed`, not too long.
fn is_local_path(b: &[u8], allowed: impl Fn(u8) -> bool) -> bool {
    b.len() <= NEXT_LIMIT
        && b.first() == Some(&b'/')
        && !matches!(b.get(1), Some(b'/' | b'\\'))
        && b.iter().all(|&c| allowed(c))
}

/// `GET /login`.
pub async fn page<B: RequestBody>(
    state: &AppState,
    req: &Request<B>,
    now: u64,
) -> Result<Resp, PageError> {
    let browser = Browser::from_headers(state, req.headers(), now).await?;
    let q = query(req);
    let next = safe_next(q.get("next"));
    if browser.session.is_some() {
        return Ok(response::see_other(next));
    }
    Ok(login_form(state, &browser, StatusCode::OK, next, "", None))
}

fn login_form(
    state: &AppState,
    browser: &Browser,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<LoginProblem>,
) -> Resp {
    browser.page(state, status, |csrf| {
        LoginPage {
            lang: browser.lang,
            username: None,
            csrf,
            next,
            username_value: username,
            error,
        }
        .render()
    })
}

/// `POST /login`: checks the password (argon2id, off the async workers), with
/// per-IP and per-account backoff on failures, and starts a fresh session.
///
/// The account's backoff is applied only to addresses that failed a sign-in
/// recently: someone guessing `admin`'s password from elsewhere slows themselves
/// down, not the owner signing in from a clean address. Every attempt is counted
/// *before* its hash runs and given back only when it succeeds, so neither
/// concurrency nor hanging up escapes the count (see [`crate::password`]).
pub async fn submit<B: RequestBody>(
    state: &AppState,
    req: Request<B>,
    ip: IpAddr,
    now: u64,
) -> Result<Resp, PageError> {
    let agent = user_agent(req.headers());
    let (browser, form) = read_post(state, req, now).await?;
    let next = safe_next(form.get("next")).to_string();
    let username = form.get("username").unwrap_or("").trim().to_string();
    let password = form.get("password").unwrap_or("").to_string();
    let refuse = |status, msg: LoginProblem, wait: Option<u64>| {
        let mut resp = login_form(state, &browser, status, &next, &username, Some(msg));
        if let Some(secs) = wait {
            retry_after(&mut resp, secs);
        }
        Ok(resp)
    };
    // A name that can't exist touches no store, throttle or log.
    if !is_valid_name(&username) {
        return refuse(StatusCode::UNAUTHORIZED, WRONG, None);
    }
    let attempt = match PasswordAttempt::begin(state, ip, &username, Purpose::SignIn).await {
        Ok(attempt) => attempt,
        Err(no) => {
            let problem = LoginProblem::Refused(no.wait());
            return refuse(no.status(), problem, Some(no.secs()));
        }
    };
    let user = state.store.user(&username).await?.filter(|u| !u.disabled);
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let Some(user) = attempt
        .verify(state, password, hash)
        .await
        .then_some(user)
        .flatten()
    else {
        tracing::info!(%ip, "failed sign-in");
        return refuse(StatusCode::UNAUTHORIZED, WRONG, None);
    };
    signed_in(state, &browser, &user, ip, agent, &next, now).await
}

/// Starts a fresh session for `user` and redirects to `next`. A new session id at
/// every login (no session fixation); the browser's old session ends.
async fn signed_in(
    state: &AppState,
    browser: &Browser,
    user: &User,
    ip: IpAddr,
    agent: String,
    next: &str,
    now: u64,
) -> Result<Resp, PageError> {
    let secret = random_token();
    let (session, meta) = session_records(state, user, ip, agent, now);
    let started = state
        .store
        .start_session(
            sha256(secret.as_bytes()),
            session,
            meta,
            browser.session_hash,
        )
        .await?;
    if started == SessionStart::UserInactive {
        // A `user disable` won the race against this password check.
        tracing::info!(%ip, "sign-in refused: the account was disabled meanwhile");
        let status = StatusCode::UNAUTHORIZED;
        return Ok(login_form(
            state,
            browser,
            status,
            next,
            &user.username,
            Some(WRONG),
        ));
    }
    tracing::info!(user = %user.username, %ip, "signed in");
    crate::events::login_ok(state, &user.username, ip);
    let mut resp = response::see_other(next);
    let ttl = Some(state.settings.session_ttl);
    let cookie = cookie_string(state, session_cookie(state), &secret, SameSite::Lax, ttl);
    set_cookie(&mut resp, &cookie);
    Ok(resp)
}

/// The session record and its metadata for a sign-in of `user` at `now`.
fn session_records(
    state: &AppState,
    user: &User,
    ip: IpAddr,
    agent: String,
    now: u64,
) -> (Session, SessionMeta) {
    let session = Session {
        user_id: user.id.clone(),
        username: user.username.clone(),
        created_at: now,
        expires_at: now + state.settings.session_ttl,
    };
    let meta = SessionMeta {
        user_id: user.id.clone(),
        created_at: now,
        last_seen_at: now,
        idle_secs: IDLE_TIMEOUT_SECS.min(state.settings.session_ttl),
        ip: ip.to_string(),
        user_agent: agent,
    };
    (session, meta)
}

/// `GET /logout`: a page with the sign-out button (sign-out is a POST with CSRF).
pub async fn logout_page<B: RequestBody>(
    state: &AppState,
    req: &Request<B>,
    now: u64,
) -> Result<Resp, PageError> {
    let browser = Browser::from_headers(state, req.headers(), now).await?;
    let Some(session) = &browser.session else {
        return Ok(response::see_other("/login"));
    };
    Ok(browser.page(state, StatusCode::OK, |csrf| {
        Message::SignOutPrompt
            .page(browser.lang, Some(&session.username), csrf)
            .render()
    }))
}

/// `POST /logout`: ends the session on the server and clears the cookie.
pub async fn logout<B: RequestBody>(
    state: &AppState,
    req: Request<B>,
    now: u64,
) -> Result<Resp, PageError> {
    let (browser, _) = read_post(state, req, now).await?;
    if let Some(h) = browser.session_hash {
        state.store.end_session(h).await?;
    }
    let mut resp = response::see_other("/login");
    set_cookie(
        &mut resp,
        &cookie_string(state, session_cookie(state), "", SameSite::Lax, Some(0)),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::{DEFAULT_NEXT, safe_next};

    #[test]
    fn next_stays_on_this_site() {
        for ok in [
            "/device?user_code=ABCD-EFGH",
            "/account",
            "/",
            "/a%2Fb",
            "/x?y=%C3%A9",
        ] {
            assert_eq!(safe_next(Some(ok)), ok);
        }
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "\\\\evil",
            "/\t/evil.example/x",
            "/%09/evil.example/x",
            "/%2F%2Fevil.example",
            "/%2fevil.example",
            "/%5Cevil",
            "/x\r\nSet-Cookie: a=b",
            "/x%0d%0aSet-Cookie:%20a=b",
            "javascript:alert(1)",
            " /x",
            "/x y",
            "/é",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), DEFAULT_NEXT, "{bad:?}");
        }
        assert_eq!(
            safe_next(Some(&format!("/{}", "a".repeat(1600)))),
            DEFAULT_NEXT
        );
        assert_eq!(safe_next(None), DEFAULT_NEXT);
    }
}
