//! Signing in and out.

use std::net::IpAddr;
use std::time::Instant;

use hyper::Request;
use hyper::StatusCode;
use hyper::body::Incoming;

use super::session::{Browser, SESSION_COOKIE, cookie_string};
use super::{PageError, query, read_post, render};
use crate::http::response::{self, Resp, set_cookie};
use crate::secrets::{random_token, sha256};
use crate::state::AppState;
use crate::store::Session;
use crate::views::{LoginPage, MessagePage};

/// Only local paths are followed after login, so `next` can't bounce a user to
/// another site (an open redirect).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/account",
    }
}

/// `GET /login`.
pub fn page(state: &AppState, req: &Request<Incoming>, now: u64) -> Result<Resp, PageError> {
    let browser = Browser::from_headers(state, req.headers(), now)?;
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
    error: Option<&str>,
) -> Resp {
    let csrf = browser.csrf_token(state);
    let mut resp = render(
        status,
        &LoginPage {
            username: None,
            csrf: &csrf,
            next,
            username_value: username,
            error,
        },
    );
    browser.finish(state, &mut resp);
    resp
}

/// `POST /login`: checks the password (argon2id, off the async workers), with
/// per-IP and per-account limits on failures, and starts a fresh session.
pub async fn submit(
    state: &AppState,
    req: Request<Incoming>,
    ip: IpAddr,
    now: u64,
) -> Result<Resp, PageError> {
    let (browser, form) = read_post(state, req, now).await?;
    let next = safe_next(form.get("next")).to_string();
    let username = form.get("username").unwrap_or("").trim().to_string();
    let password = form.get("password").unwrap_or("").to_string();
    let t = Instant::now();
    let ip_key = ip.to_string();
    let account_key = username.to_lowercase();
    let blocked = state
        .throttles
        .login_ip
        .blocked_for(&ip_key, t)
        .or_else(|| state.throttles.login_account.blocked_for(&account_key, t));
    if let Some(wait) = blocked {
        let msg = format!(
            "Too many failed sign-ins. Try again in {} s.",
            wait.as_secs() + 1
        );
        return Ok(login_form(
            state,
            &browser,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            &username,
            Some(&msg),
        ));
    }
    let user = state.store.user(&username)?.filter(|u| !u.disabled);
    let ok = state
        .passwords
        .verify(password, user.as_ref().map(|u| u.password_hash.clone()))
        .await;
    let Some(user) = user.filter(|_| ok) else {
        state.throttles.login_ip.hit(&ip_key, t);
        state.throttles.login_account.hit(&account_key, t);
        tracing::info!(%ip, "failed sign-in");
        return Ok(login_form(
            state,
            &browser,
            StatusCode::UNAUTHORIZED,
            &next,
            &username,
            Some("Wrong user name or password."),
        ));
    };
    // A new session id at every login (no session fixation).
    if let Some(old) = browser.session_hash {
        state.store.delete_session(old).await?;
    }
    let secret = random_token();
    state
        .store
        .create_session(
            sha256(secret.as_bytes()),
            Session {
                user_id: user.id.clone(),
                username: user.username.clone(),
                created_at: now,
                expires_at: now + state.settings.session_ttl,
            },
        )
        .await?;
    tracing::info!(user = %user.username, %ip, "signed in");
    let mut resp = response::see_other(&next);
    set_cookie(
        &mut resp,
        &cookie_string(
            state,
            SESSION_COOKIE,
            &secret,
            "Lax",
            Some(state.settings.session_ttl),
        ),
    );
    Ok(resp)
}

/// `GET /logout`: a page with the sign-out button (sign-out is a POST with CSRF).
pub fn logout_page(state: &AppState, req: &Request<Incoming>, now: u64) -> Result<Resp, PageError> {
    let browser = Browser::from_headers(state, req.headers(), now)?;
    let Some(session) = &browser.session else {
        return Ok(response::see_other("/login"));
    };
    let csrf = browser.csrf_token(state);
    let mut resp = render(
        StatusCode::OK,
        &MessagePage {
            username: Some(&session.username),
            csrf: &csrf,
            heading: "Sign out?",
            text: "Use the Sign out button at the top of the page.",
            link: None,
        },
    );
    browser.finish(state, &mut resp);
    Ok(resp)
}

/// `POST /logout`: ends the session on the server and clears the cookie.
pub async fn logout(state: &AppState, req: Request<Incoming>, now: u64) -> Result<Resp, PageError> {
    let (browser, _) = read_post(state, req, now).await?;
    if let Some(h) = browser.session_hash {
        state.store.delete_session(h).await?;
    }
    let mut resp = response::see_other("/login");
    set_cookie(
        &mut resp,
        &cookie_string(state, SESSION_COOKIE, "", "Lax", Some(0)),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(
            safe_next(Some("/device?user_code=X")),
            "/device?user_code=X"
        );
        assert_eq!(safe_next(Some("//evil.example")), "/account");
        assert_eq!(safe_next(Some("https://evil.example")), "/account");
        assert_eq!(safe_next(Some("/\\evil.example")), "/account");
        assert_eq!(safe_next(None), "/account");
    }
}
