//! The account page: the devices holding access (revoke one or all), the browsers
//! signed in (sign out one or all others), and changing the password.

use askama::Template;
use std::net::IpAddr;

use hyper::Request;
use hyper::StatusCode;
use hyper::body::Incoming;

use super::attempt::{PasswordAttempt, Purpose};
use super::session::Browser;
use super::{PageError, query, read_post, retry_after, to_login};
use crate::http::response::{self, Resp};
use crate::secrets::{hex, unhex};
use crate::state::{AppState, describe_scope};
use crate::store::prelude::*;
use crate::store::{EndSessions, PasswordChange};
use crate::views::{AccountPage, DeviceRow, PasswordPage, SessionRow, ago, browser_name, when};

/// Shortest password the change form accepts.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Confirmations shown after a redirect back to the account page: the query names
/// one of these, so no text from the URL is ever shown.
const NOTICES: &[(&str, &str)] = &[
    (
        "revoked",
        "Device revoked. It can no longer refresh, and its access token stopped working.",
    ),
    (
        "revoked-all",
        "All devices revoked. None of them can use your account any more.",
    ),
    ("signed-out", "That browser was signed out."),
    ("signed-out-others", "Every other browser was signed out."),
    (
        "password",
        "Password changed. Every other browser was signed out; devices keep their access.",
    ),
];

/// `GET /account`.
pub fn page(state: &AppState, req: &Request<Incoming>, now: u64) -> Result<Resp, PageError> {
    let browser = Browser::from_headers(state, req.headers(), now)?;
    let Some(session) = &browser.session else {
        return Ok(to_login("/account"));
    };
    let q = query(req);
    let notice = q
        .get("notice")
        .and_then(|n| NOTICES.iter().find(|(k, _)| *k == n))
        .map(|(_, text)| *text);
    let devices = state
        .store
        .grants_of_user(&session.user_id)?
        .into_iter()
        .filter(|g| !g.revoked && g.expires_at > now)
        .map(|g| DeviceRow {
            id: hex(&g.id),
            client_name: state
                .store
                .client(&g.client_id)
                .ok()
                .flatten()
                .map(|c| c.name.clone())
                .unwrap_or_else(|| g.client_id.clone()),
            scopes: g
                .scope
                .split(' ')
                .map(describe_scope)
                .collect::<Vec<_>>()
                .join(", "),
            approved_at: when(g.created_at),
            last_refreshed: g
                .last_refreshed_at
                .map(when)
                .unwrap_or_else(|| "never".into()),
            expires_at: when(g.expires_at),
            device_ip: g.device_ip,
        })
        .collect();
    let mut sessions = state.store.sessions_of_user(&session.user_id, now)?;
    // This browser first, then the most recently active.
    sessions.sort_by_key(|s| browser.session_hash != Some(s.hash));
    let sessions = sessions
        .into_iter()
        .map(|s| {
            let current = browser.session_hash == Some(s.hash);
            SessionRow {
                id: hex(&s.hash),
                browser: s
                    .meta
                    .as_ref()
                    .map_or_else(|| "Unknown browser".into(), |m| browser_name(&m.user_agent)),
                ip: s.meta.as_ref().map_or_else(String::new, |m| m.ip.clone()),
                signed_in: when(s.session.created_at),
                last_active: match &s.meta {
                    _ if current => "now".into(),
                    Some(m) => format!("{} ago", ago(now, m.last_seen_at)),
                    None => "unknown".into(),
                },
                current,
            }
        })
        .collect();
    Ok(browser.page(state, StatusCode::OK, |csrf| {
        AccountPage {
            username: Some(&session.username),
            csrf,
            notice,
            devices,
            sessions,
        }
        .render()
    }))
}

fn bad(heading: &'static str, text: &'static str) -> PageError {
    PageError::new(StatusCode::BAD_REQUEST, heading, text)
}

/// `POST /account/revoke` with `grant` = a grant id or `all`: stops refreshes and
/// makes the grant's access tokens inactive at introspection.
pub async fn revoke(state: &AppState, req: Request<Incoming>, now: u64) -> Result<Resp, PageError> {
    let (browser, form) = read_post(state, req, now).await?;
    let Some(session) = browser.session else {
        return Ok(to_login("/account"));
    };
    let target = match form.get("grant") {
        Some("all") => None,
        Some(id) => Some(
            unhex::<16>(id).ok_or_else(|| bad("Unknown device", "That device was not found."))?,
        ),
        None => return Err(bad("Unknown device", "No device was chosen.")),
    };
    let n = state
        .store
        .revoke_user_grants(session.user_id.clone(), target, now)
        .await?;
    tracing::info!(user = %session.username, revoked = n, "grants revoked from the account page");
    crate::events::grants_revoked(state, &session.username, n);
    Ok(response::see_other(match target {
        Some(_) => "/account?notice=revoked",
        None => "/account?notice=revoked-all",
    }))
}

/// `POST /account/sessions` with `session` = a session id or `others`: signs that
/// browser (or every other browser of this user) out.
pub async fn sign_out(
    state: &AppState,
    req: Request<Incoming>,
    now: u64,
) -> Result<Resp, PageError> {
    let (browser, form) = read_post(state, req, now).await?;
    let (Some(session), Some(mine)) = (browser.session, browser.session_hash) else {
        return Ok(to_login("/account"));
    };
    let which = match form.get("session") {
        Some("others") => EndSessions::AllExcept(mine),
        Some(id) => EndSessions::One(
            unhex::<32>(id).ok_or_else(|| bad("Unknown session", "That session was not found."))?,
        ),
        None => return Err(bad("Unknown session", "No session was chosen.")),
    };
    let n = state
        .store
        .end_user_sessions(session.user_id.clone(), which)
        .await?;
    tracing::info!(user = %session.username, ended = n, "sessions signed out from the account page");
    if which == EndSessions::One(mine) {
        return Ok(response::see_other("/login"));
    }
    Ok(response::see_other(match which {
        EndSessions::One(_) => "/account?notice=signed-out",
        EndSessions::AllExcept(_) => "/account?notice=signed-out-others",
    }))
}

/// `GET /account/password`.
pub fn password_page(
    state: &AppState,
    req: &Request<Incoming>,
    now: u64,
) -> Result<Resp, PageError> {
    let browser = Browser::from_headers(state, req.headers(), now)?;
    if browser.session.is_none() {
        return Ok(to_login("/account/password"));
    }
    Ok(password_form(state, &browser, StatusCode::OK, None))
}

fn password_form(
    state: &AppState,
    browser: &Browser,
    status: StatusCode,
    error: Option<&str>,
) -> Resp {
    browser.page(state, status, |csrf| {
        PasswordPage {
            username: browser.session.as_ref().map(|s| s.username.as_str()),
            csrf,
            error,
        }
        .render()
    })
}

/// `POST /account/password` (`current_password`, `new_password`,
/// `confirm_password`): checks the current password (counted like a failed sign-in
/// when wrong), hashes the new one with argon2id off the async workers, and signs
/// every other browser out.
pub async fn change_password(
    state: &AppState,
    req: Request<Incoming>,
    ip: IpAddr,
    now: u64,
) -> Result<Resp, PageError> {
    let (browser, form) = read_post(state, req, now).await?;
    let (Some(session), Some(mine)) = (browser.session.clone(), browser.session_hash) else {
        return Ok(to_login("/account/password"));
    };
    let current = form.get("current_password").unwrap_or("").to_string();
    let new = form.get("new_password").unwrap_or("").to_string();
    let confirm = form.get("confirm_password").unwrap_or("");
    let fail = |status, msg: &str| Ok(password_form(state, &browser, status, Some(msg)));
    if new.chars().count() < MIN_PASSWORD_CHARS {
        return fail(
            StatusCode::BAD_REQUEST,
            "The new password is too short: use at least 8 characters.",
        );
    }
    if new != confirm {
        return fail(
            StatusCode::BAD_REQUEST,
            "The two new passwords are not the same.",
        );
    }
    let attempt =
        match PasswordAttempt::begin(state, ip, &session.username, Purpose::ChangePassword) {
            Ok(attempt) => attempt,
            Err(no) => {
                let mut resp = password_form(
                    state,
                    &browser,
                    no.status(),
                    Some(&no.message("wrong passwords")),
                );
                retry_after(&mut resp, no.secs());
                return Ok(resp);
            }
        };
    let user = state.store.user(&session.username)?;
    let hash = user
        .as_ref()
        .filter(|u| u.id == session.user_id)
        .map(|u| u.password_hash.clone());
    if !attempt.verify(state, current, hash).await {
        return fail(
            StatusCode::UNAUTHORIZED,
            "Your current password is not right.",
        );
    }
    let Some(new_hash) = state.passwords.hash(new).await else {
        return Err(PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The new password could not be stored. Please try again.",
        ));
    };
    match state
        .store
        .change_password(session.user_id, session.username.clone(), new_hash, mine)
        .await?
    {
        PasswordChange::Changed { signed_out } => {
            tracing::info!(user = %session.username, signed_out, "password changed");
            Ok(response::see_other("/account?notice=password"))
        }
        PasswordChange::UnknownUser => Err(PageError::new(
            StatusCode::CONFLICT,
            "Account changed",
            "This account was changed meanwhile. Sign in again.",
        )),
    }
}
