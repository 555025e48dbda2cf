//! Entering a user code, and the consent decision (RFC 8628 §3.3).

use askama::Template;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use authgate_proto::{CodeFormat, UserCode, UserCodeError};
use hyper::{Request, StatusCode};

use super::session::Browser;
use super::{PageError, guess, query, read_post, retry_after, to_login};
use crate::http::body::RequestBody;
use crate::http::form::Form;
use crate::http::response::Resp;
use crate::secrets::{ct_eq, hex, sha256};
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{DecideOutcome, Decision, DeviceAuth, Session};
use crate::views::{CodeProblem, ConsentPage, DevicePage, Message, Outcome, ResultPage, ago, when};

/// `GET /device[?user_code=…]`: the code form, or straight to consent when the link
/// (or QR code) carried a valid code.
pub async fn page<B: RequestBody>(
    state: &AppState,
    req: &Request<B>,
    ip: IpAddr,
    now: u64,
) -> Result<Resp, PageError> {
    let browser = Browser::from_headers(state, req.headers(), now).await?;
    if browser.session.is_none() {
        let target = match req.uri().query() {
            Some(q) => format!("/device?{q}"),
            None => "/device".to_string(),
        };
        return Ok(to_login(&target));
    }
    let q = query(req);
    match q.get("user_code") {
        Some(typed) => Ok(lookup_and_consent(state, &browser, typed, ip, now).await?),
        None => Ok(code_form(state, &browser, StatusCode::OK, "", None)),
    }
}

/// `POST /device`: looks up a typed code.
pub async fn submit<B: RequestBody>(
    state: &AppState,
    req: Request<B>,
    ip: IpAddr,
    now: u64,
) -> Result<Resp, PageError> {
    let (browser, form) = read_post(state, req, now).await?;
    if browser.session.is_none() {
        return Ok(to_login("/device"));
    }
    let typed = form.get("user_code").unwrap_or("");
    lookup_and_consent(state, &browser, typed, ip, now).await
}

fn code_form(
    state: &AppState,
    browser: &Browser,
    status: StatusCode,
    typed: &str,
    problem: Option<CodeProblem>,
) -> Resp {
    browser.page(state, status, |csrf| {
        DevicePage {
            lang: browser.lang,
            username: browser.session.as_ref().map(|s| s.username.as_str()),
            csrf,
            user_code: typed,
            error: problem,
            throttled: matches!(problem, Some(CodeProblem::Throttled(_))),
        }
        .render()
    })
}

async fn lookup_and_consent(
    state: &AppState,
    browser: &Browser,
    typed: &str,
    ip: IpAddr,
    now: u64,
) -> Result<Resp, PageError> {
    let t = Instant::now();
    let user_id = browser
        .session
        .as_ref()
        .map(|s| s.user_id.as_str())
        .unwrap_or("");
    let keys = guess::GuessKeys::new(ip, browser.session_hash.as_ref(), user_id);
    if let Some(wait) = guess::blocked(&state.throttles, &keys, t).await? {
        return Ok(throttled(state, browser, typed, wait));
    }
    let parsed = UserCode::parse(typed);
    let found = match &parsed {
        Ok(code) => state
            .store
            .device_auth_by_user_code(code.as_str())
            .await?
            .filter(|a| a.awaits_decision(now)),
        Err(_) => None,
    };
    let Some(auth) = found else {
        let problem = match parsed {
            // A typo of the wrong shape is not a guess: it is not counted.
            Err(UserCodeError::InvalidCharacter) => CodeProblem::InvalidCharacter,
            Err(_) => CodeProblem::Shape,
            Ok(code) => {
                guess::wrong(&state.throttles, &keys, code.format(), t).await?;
                CodeProblem::Wrong
            }
        };
        let status = StatusCode::BAD_REQUEST;
        return Ok(code_form(state, browser, status, typed, Some(problem)));
    };
    consent_page(state, browser, &auth, ip, now).await
}

/// The code form, refused for `wait` because of too many wrong codes.
fn throttled(state: &AppState, browser: &Browser, typed: &str, wait: Duration) -> Resp {
    crate::events::throttled("user_code");
    let secs = wait.as_secs() + 1;
    let status = StatusCode::TOO_MANY_REQUESTS;
    let problem = Some(CodeProblem::Throttled(secs));
    let mut resp = code_form(state, browser, status, typed, problem);
    retry_after(&mut resp, secs);
    resp
}

/// The consent binding: an HMAC (keyed by a key derived from the CSRF key) over the
/// session, the request reference and the user code. Only the consent page, reached
/// through the throttled code lookup, hands it out; `decide` checks it before it
/// touches the store, so `POST /device/consent` can't be used to guess codes.
fn consent_tag(state: &AppState, session_hash: &[u8; 32], request: &str, code: &str) -> String {
    let mut key_input = b"authgate consent key\0".to_vec();
    key_input.extend_from_slice(&state.csrf_key);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&sha256(&key_input))
        .expect("HMAC accepts keys of any length");
    mac.update(session_hash);
    for part in [request, code] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    hex(&mac.finalize().into_bytes())
}

async fn consent_page(
    state: &AppState,
    browser: &Browser,
    auth: &DeviceAuth,
    ip: IpAddr,
    now: u64,
) -> Result<Resp, PageError> {
    let client_name = client_name(state, &auth.client_id).await?;
    let code = UserCode::parse(&auth.user_code).map_err(|_| PageError::InvalidCode)?;
    let request = auth.reference();
    let consent = browser
        .session_hash
        .map(|h| consent_tag(state, &h, &request, code.as_str()))
        .unwrap_or_default();
    Ok(browser.page(state, StatusCode::OK, |csrf| {
        ConsentPage {
            lang: browser.lang,
            username: browser.session.as_ref().map(|s| s.username.as_str()),
            csrf,
            client_name: &client_name,
            client_id: &auth.client_id,
            user_code: code.as_str(),
            request: &request,
            consent: &consent,
            display_code: code.display().as_str(),
            scopes: auth.scope.split(' ').filter(|s| !s.is_empty()).collect(),
            requested_at: when(auth.created_at),
            requested_ago: ago(now, auth.created_at),
            expires_in: ago(auth.expires_at, now),
            requester_ip: &auth.requester_ip,
            same_network: auth.requester_ip == ip.to_string(),
            user_agent: &auth.user_agent,
        }
        .render()
    }))
}

/// `POST /device/consent`: records Approve or Deny.
///
/// The form must carry the binding the consent page issued for this session,
/// request and code; anything else is refused *before* any lookup and counted as a
/// wrong code (RFC 8628 §5.1), so this endpoint can only answer requests the
/// browser was shown through the throttled code entry.
pub async fn decide<B: RequestBody>(
    state: &AppState,
    req: Request<B>,
    ip: IpAddr,
    now: u64,
) -> Result<Resp, PageError> {
    let (browser, form) = read_post(state, req, now).await?;
    let (Some(session), Some(session_hash)) = (browser.session.clone(), browser.session_hash)
    else {
        return Ok(to_login("/device"));
    };
    let code = match bound_code(state, &browser, &form, &session_hash, ip).await? {
        Ok(code) => code,
        Err(refused) => return Ok(*refused),
    };
    let decision = decision_of(&form, &session)?;
    let approving = matches!(decision, Decision::Approve { .. });
    // Only the request the page showed: the code may have passed to a new one.
    let shown = form.get("request").unwrap_or("").to_string();
    let result = state
        .store
        .decide(code.as_str().to_string(), Some(shown), decision, now)
        .await?;
    let (outcome, auth) = match result {
        DecideOutcome::Done(auth) if approving => (Outcome::Approved, Some(auth)),
        DecideOutcome::Done(auth) => (Outcome::Denied, Some(auth)),
        DecideOutcome::NotFound => (Outcome::NotFound, None),
        DecideOutcome::Expired => (Outcome::Expired, None),
        DecideOutcome::AlreadyDecided => (Outcome::AlreadyDecided, None),
    };
    decided_page(state, &browser, &session.username, outcome, auth.as_deref()).await
}

/// The decision a consent form carries, on behalf of the signed-in user.
fn decision_of(form: &Form, session: &Session) -> Result<Decision, PageError> {
    match form.get("decision") {
        Some("approve") => Ok(Decision::Approve {
            user_id: session.user_id.clone(),
            username: session.username.clone(),
        }),
        Some("deny") => Ok(Decision::Deny),
        _ => Err(PageError::NoDecision),
    }
}

/// The user code of a consent form, if the form carries the binding the consent
/// page issued to this session; otherwise the refusal to send (counted as a wrong
/// code, or 429 while this source is blocked).
async fn bound_code(
    state: &AppState,
    browser: &Browser,
    form: &Form,
    session_hash: &[u8; 32],
    ip: IpAddr,
) -> Result<Result<UserCode, Box<Resp>>, PageError> {
    let typed = form.get("user_code").unwrap_or("");
    let request = form.get("request").unwrap_or("");
    let expected = consent_tag(state, session_hash, request, typed);
    let bound = form
        .get("consent")
        .is_some_and(|c| ct_eq(c.as_bytes(), expected.as_bytes()));
    if let (true, Ok(code)) = (bound, UserCode::parse(typed)) {
        return Ok(Ok(code));
    }
    let t = Instant::now();
    let user_id = browser.session.as_ref().map_or("", |s| s.user_id.as_str());
    let keys = guess::GuessKeys::new(ip, Some(session_hash), user_id);
    if let Some(wait) = guess::blocked(&state.throttles, &keys, t).await? {
        return Ok(Err(Box::new(throttled(state, browser, "", wait))));
    }
    let format = UserCode::parse(typed).map_or(CodeFormat::Letters, |c| c.format());
    guess::wrong(&state.throttles, &keys, format, t).await?;
    tracing::info!(%ip, "consent form without a valid binding");
    let username = browser.session.as_ref().map(|s| s.username.as_str());
    Ok(Err(Box::new(browser.page(
        state,
        StatusCode::FORBIDDEN,
        |csrf| {
            Message::ConsentExpired
                .page(browser.lang, username, csrf)
                .render()
        },
    ))))
}

/// The result page after a decision, and the decision's log line and audit
/// event when one was recorded (`auth` is the decided request).
async fn decided_page(
    state: &AppState,
    browser: &Browser,
    username: &str,
    outcome: Outcome,
    auth: Option<&DeviceAuth>,
) -> Result<Resp, PageError> {
    let (client_name, scopes) = match auth {
        Some(auth) => {
            let approved = outcome == Outcome::Approved;
            if approved {
                tracing::info!(user = %username, "device approved");
            } else {
                tracing::info!(user = %username, "device denied");
            }
            let detail = device_detail(auth);
            crate::events::device_decided(state, username, &auth.user_code, approved, &detail);
            (
                client_name(state, &auth.client_id).await?,
                auth.scope.as_str(),
            )
        }
        None => (String::new(), ""),
    };
    let scopes = scopes.split(' ').filter(|s| !s.is_empty()).collect();
    Ok(browser.page(state, outcome.status(), |csrf| {
        ResultPage {
            lang: browser.lang,
            username: Some(username),
            csrf,
            outcome,
            client_name: &client_name,
            scopes,
        }
        .render()
    }))
}

/// A client's display name, or its id when it has none (or is gone).
async fn client_name(state: &AppState, client_id: &str) -> Result<String, PageError> {
    Ok(state
        .store
        .client(client_id)
        .await?
        .map_or_else(|| client_id.to_string(), |c| c.name.clone()))
}

/// What the audit log keeps about a decided request: client, scopes, device IP.
fn device_detail(a: &DeviceAuth) -> String {
    format!(
        "client={} scope={} device_ip={}",
        a.client_id, a.scope, a.requester_ip
    )
}
