//! The account page: the devices holding access (revoke one or all), the browsers
//! signed in (sign out one or all others), and changing the password.

use askama::Template;
use std::net::IpAddr;

use hyper::{Request, StatusCode};

use super::attempt::{PasswordAttempt, Purpose};
use super::session::Browser;
use super::{PageError, query, read_post, retry_after, to_login};
use crate::http::body::RequestBody;
use crate::http::response::{self, Resp};
use crate::secrets::{hex, unhex};
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{EndSessions, PasswordChange, Session};
use crate::views::{
    AccountPage, BrowserName, DeviceRow, LastActive, Notice, PasswordPage, PasswordProblem,
    SessionRow, ago, browser_name, when,
};

/// Shortest password the change form accepts.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// `GET /account`.
pub async fn page<B: RequestBody>(
    state: &AppState,
    req: &Request<B>,
    now: u64,
) -> Result<Resp, PageError> {
    let browser = Browser::from_headers(state, req.headers(), now).await?;
    let Some(session) = &browser.session else {
        return Ok(to_login("/account"));
    };
    let notice = query(req).get("notice").and_then(Notice::from_key);
    let devices = device_rows(state, &session.user_id, now).await?;
    let sessions = session_rows(state, &browser, &session.user_id, now).await?;
    let admin = state
        .store
        .user(&session.username)
        .await?
        .is_some_and(|u| u.admin && u.id == session.user_id);
    Ok(browser.page(state, StatusCode::OK, |csrf| {
        AccountPage {
            lang: browser.lang,
            username: Some(&session.username),
            csrf,
            notice,
            devices,
            sessions,
            admin,
        }
        .render()
    }))
}

/// The user's live grants, as rows of the account page.
async fn device_rows(
    state: &AppState,
    user_id: &str,
    now: u64,
) -> Result<Vec<DeviceRow>, PageError> {
    let grants = state.store.grants_of_user(user_id).await?;
    let mut rows = Vec::with_capacity(grants.len());
    for g in grants
        .into_iter()
        .filter(|g| !g.revoked && g.expires_at > now)
    {
        let client = state.store.client(&g.client_id).await.ok().flatten();
        let client_name = client.map_or_else(|| g.client_id.clone(), |c| c.name.clone());
        rows.push(DeviceRow {
            id: hex(&g.id),
            client_name,
            scopes: g
                .scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            approved_at: when(g.created_at),
            last_refreshed: g.last_refreshed_at.map(when),
            expires_at: when(g.expires_at),
            device_ip: g.device_ip,
        });
    }
    Ok(rows)
}

/// The user's live browser sessions, this one first, then the most recently active.
async fn session_rows(
    state: &AppState,
    browser: &Browser,
    user_id: &str,
    now: u64,
) -> Result<Vec<SessionRow>, PageError> {
    let mut sessions = state.store.sessions_of_user(user_id, now).await?;
    sessions.sort_by_key(|s| browser.session_hash != Some(s.hash));
    Ok(sessions
        .into_iter()
        .map(|s| {
            let current = browser.session_hash == Some(s.hash);
            SessionRow {
                id: hex(&s.hash),
                browser: s
                    .meta
                    .as_ref()
                    .map_or(BrowserName::UNKNOWN, |m| browser_name(&m.user_agent)),
                ip: s.meta.as_ref().map_or_else(String::new, |m| m.ip.clone()),
                signed_in: when(s.session.created_at),
                last_active: match &s.meta {
                    _ if current => LastActive::Now,
                    Some(m) => LastActive::Ago(ago(now, m.last_seen_at)),
                    None => LastActive::Unknown,
                },
                current,
            }
        })
        .collect())
}

/// `POST /account/revoke` with `grant` = a grant id or `all`: stops refreshes and
/// makes the grant's access tokens inactive at introspection.
pub async fn revoke<B: RequestBody>(
    state: &AppState,
    req: Request<B>,
    now: u64,
) -> Result<Resp, PageError> {
    let (browser, form) = read_post(state, req, now).await?;
    let Some(session) = browser.session else {
        return Ok(to_login("/account"));
    };
    let target = match form.get("grant") {
        Some("all") => None,
        Some(id) => Some(unhex::<16>(id).ok_or(PageError::UnknownDevice)?),
        None => return Err(PageError::NoDevice),
    };
    let n = state
        .store
        .revoke_user_grants(session.user_id.clone(), target, now)
        .await?;
    tracing::info!(user = %session.username, revoked = n, "grants revoked from the account page");
    crate::events::grants_revoked(state, &session.username, n);
    Ok(response::see_other(match target {
        Some(_) => Notice::Revoked.location(),
        None => Notice::RevokedAll.location(),
    }))
}

/// `POST /account/sessions` with `session` = a session id or `others`: signs that
/// browser (or every other browser of this user) out.
pub async fn sign_out<B: RequestBody>(
    state: &AppState,
    req: Request<B>,
    now: u64,
) -> Result<Resp, PageError> {
    let (browser, form) = read_post(state, req, now).await?;
    let (Some(session), Some(mine)) = (browser.session, browser.session_hash) else {
        return Ok(to_login("/account"));
    };
    let which = match form.get("session") {
        Some("others") => EndSessions::AllExcept(mine),
        Some(id) => EndSessions::One(unhex::<32>(id).ok_or(PageError::UnknownSession)?),
        None => return Err(PageError::NoSession),
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
        EndSessions::One(_) => Notice::SignedOut.location(),
        EndSessions::AllExcept(_) => Notice::SignedOutOthers.location(),
    }))
}

/// `GET /account/password`.
pub async fn password_page<B: RequestBody>(
    state: &AppState,
    req: &Request<B>,
    now: u64,
) -> Result<Resp, PageError> {
    let browser = Browser::from_headers(state, req.headers(), now).await?;
    if browser.session.is_none() {
        return Ok(to_login("/account/password"));
    }
    Ok(password_form(state, &browser, StatusCode::OK, None))
}

fn password_form(
    state: &AppState,
    browser: &Browser,
    status: StatusCode,
    problem: Option<PasswordProblem>,
) -> Resp {
    browser.page(state, status, |csrf| {
        PasswordPage {
            lang: browser.lang,
            username: browser.session.as_ref().map(|s| s.username.as_str()),
            csrf,
            error: problem,
        }
        .render()
    })
}

/// `POST /account/password` (`current_password`, `new_password`,
/// `confirm_password`): checks the current password (counted like a failed sign-in
/// when wrong), hashes the new one with argon2id off the async workers, and signs
/// every other browser out.
pub async fn change_password<B: RequestBody>(
    state: &AppState,
    req: Request<B>,
    ip: IpAddr,
    now: u64,
) -> Result<Resp, PageError> {
    let (browser, form) = read_post(state, req, now).await?;
    let (Some(session), Some(mine)) = (browser.session.clone(), browser.session_hash) else {
        return Ok(to_login("/account/password"));
    };
    let new = form.get("new_password").unwrap_or("").to_string();
    if let Err(problem) = check_new(&new, form.get("confirm_password").unwrap_or("")) {
        return Ok(password_form(
            state,
            &browser,
            StatusCode::BAD_REQUEST,
            Some(problem),
        ));
    }
    let current = form.get("current_password").unwrap_or("").to_string();
    if let Some(refused) = verify_current(state, &browser, &session, current, ip).await? {
        return Ok(refused);
    }
    let Some(new_hash) = state.passwords.hash(new).await else {
        return Err(PageError::PasswordNotStored);
    };
    match state
        .store
        .change_password(session.user_id, session.username.clone(), new_hash, mine)
        .await?
    {
        PasswordChange::Changed { signed_out } => {
            tracing::info!(user = %session.username, signed_out, "password changed");
            Ok(response::see_other(Notice::Password.location()))
        }
        PasswordChange::UnknownUser => Err(PageError::AccountChanged),
    }
}

/// Whether a new password (and its confirmation) is acceptable.
fn check_new(new: &str, confirm: &str) -> Result<(), PasswordProblem> {
    if new.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordProblem::TooShort(MIN_PASSWORD_CHARS));
    }
    if new != confirm {
        return Err(PasswordProblem::Mismatch);
    }
    Ok(())
}

/// Checks the current password under the sign-in guess limits: `None` when
/// right, else the refused form to answer with.
async fn verify_current(
    state: &AppState,
    browser: &Browser,
    session: &Session,
    current: String,
    ip: IpAddr,
) -> Result<Option<Resp>, PageError> {
    let attempt =
        match PasswordAttempt::begin(state, ip, &session.username, Purpose::ChangePassword).await {
            Ok(attempt) => attempt,
            Err(no) => {
                let problem = PasswordProblem::Refused(no.wait());
                let mut resp = password_form(state, browser, no.status(), Some(problem));
                retry_after(&mut resp, no.secs());
                return Ok(Some(resp));
            }
        };
    let user = state.store.user(&session.username).await?;
    let hash = user
        .as_ref()
        .filter(|u| u.id == session.user_id)
        .map(|u| u.password_hash.clone());
    if attempt.verify(state, current, hash).await {
        return Ok(None);
    }
    let wrong = Some(PasswordProblem::WrongCurrent);
    Ok(Some(password_form(
        state,
        browser,
        StatusCode::UNAUTHORIZED,
        wrong,
    )))
}
