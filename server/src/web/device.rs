//! Entering a user code, and the consent decision (RFC 8628 §3.3).

use askama::Template;
use std::net::IpAddr;
use std::time::Instant;

use authgate_proto::{UserCode, UserCodeError};
use hyper::Request;
use hyper::StatusCode;
use hyper::body::Incoming;

use super::session::Browser;
use super::{PageError, guess, query, read_post, retry_after, to_login};
use crate::http::response::Resp;
use crate::state::{AppState, describe_scope};
use crate::store::{DecideOutcome, Decision, DeviceAuth, DeviceStatus};
use crate::views::{ConsentPage, DevicePage, ResultPage, ago, when};

/// `GET /device[?user_code=…]`: the code form, or straight to consent when the link
/// (or QR code) carried a valid code.
pub fn page(
    state: &AppState,
    req: &Request<Incoming>,
    ip: IpAddr,
    now: u64,
) -> Result<Resp, PageError> {
    let browser = Browser::from_headers(state, req.headers(), now)?;
    if browser.session.is_none() {
        let target = match req.uri().query() {
            Some(q) => format!("/device?{q}"),
            None => "/device".to_string(),
        };
        return Ok(to_login(&target));
    }
    let q = query(req);
    match q.get("user_code") {
        Some(typed) => Ok(lookup_and_consent(state, &browser, typed, ip, now)?),
        None => Ok(code_form(state, &browser, StatusCode::OK, "", None)),
    }
}

/// `POST /device`: looks up a typed code.
pub async fn submit(
    state: &AppState,
    req: Request<Incoming>,
    ip: IpAddr,
    now: u64,
) -> Result<Resp, PageError> {
    let (browser, form) = read_post(state, req, now).await?;
    if browser.session.is_none() {
        return Ok(to_login("/device"));
    }
    let typed = form.get("user_code").unwrap_or("");
    lookup_and_consent(state, &browser, typed, ip, now)
}

fn code_form(
    state: &AppState,
    browser: &Browser,
    status: StatusCode,
    typed: &str,
    error: Option<&str>,
) -> Resp {
    browser.page(state, status, |csrf| {
        DevicePage {
            username: browser.session.as_ref().map(|s| s.username.as_str()),
            csrf,
            user_code: typed,
            error,
            throttled: status == StatusCode::TOO_MANY_REQUESTS,
        }
        .render()
    })
}

fn lookup_and_consent(
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
    if let Some(wait) = guess::blocked(&state.throttles, &keys, t) {
        crate::events::throttled("user_code");
        let secs = wait.as_secs() + 1;
        let msg = format!(
            "Too many wrong codes. For your safety, codes can't be checked for a moment. \
             Try again in {secs} s."
        );
        let mut resp = code_form(
            state,
            browser,
            StatusCode::TOO_MANY_REQUESTS,
            typed,
            Some(&msg),
        );
        retry_after(&mut resp, secs);
        return Ok(resp);
    }
    let parsed = UserCode::parse(typed);
    let found = match &parsed {
        Ok(code) => state
            .store
            .device_auth_by_user_code(code.as_str())?
            .filter(|a| a.expires_at > now && a.status == DeviceStatus::Pending),
        Err(_) => None,
    };
    let Some(auth) = found else {
        let msg = match parsed {
            // A typo of the wrong shape is not a guess: it is not counted.
            Err(UserCodeError::InvalidCharacter) => {
                "A code has only the letters shown on your device (no vowels or digits). \
                 Check it and try again."
            }
            Err(_) => "A code has 8 letters, like BCDF-GHJK. Check it and try again.",
            Ok(_) => {
                guess::wrong(&state.throttles, &keys, t);
                "That code is wrong, expired or already used. Check the code on your device; \
                 if it has expired, start again there."
            }
        };
        return Ok(code_form(
            state,
            browser,
            StatusCode::BAD_REQUEST,
            typed,
            Some(msg),
        ));
    };
    consent_page(state, browser, &auth, ip, now)
}

fn consent_page(
    state: &AppState,
    browser: &Browser,
    auth: &DeviceAuth,
    ip: IpAddr,
    now: u64,
) -> Result<Resp, PageError> {
    let client_name = state
        .store
        .client(&auth.client_id)?
        .map(|c| c.name.clone())
        .unwrap_or_else(|| auth.client_id.clone());
    let code = UserCode::parse(&auth.user_code).map_err(|_| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "Invalid code",
            "This code is not valid.",
        )
    })?;
    Ok(browser.page(state, StatusCode::OK, |csrf| {
        ConsentPage {
            username: browser.session.as_ref().map(|s| s.username.as_str()),
            csrf,
            client_name: &client_name,
            client_id: &auth.client_id,
            user_code: code.as_str(),
            display_code: code.display().as_str(),
            scopes: auth
                .scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(|s| (s, describe_scope(s)))
                .collect(),
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
pub async fn decide(state: &AppState, req: Request<Incoming>, now: u64) -> Result<Resp, PageError> {
    let (browser, form) = read_post(state, req, now).await?;
    let Some(session) = browser.session.clone() else {
        return Ok(to_login("/device"));
    };
    let code = UserCode::parse(form.get("user_code").unwrap_or("")).map_err(|_| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "Invalid code",
            "The code in this form is not valid.",
        )
    })?;
    let decision = match form.get("decision") {
        Some("approve") => Decision::Approve {
            user_id: session.user_id.clone(),
            username: session.username.clone(),
        },
        Some("deny") => Decision::Deny,
        _ => {
            return Err(PageError::new(
                StatusCode::BAD_REQUEST,
                "No decision",
                "Choose Approve or Deny.",
            ));
        }
    };
    let approving = matches!(decision, Decision::Approve { .. });
    let outcome = state
        .store
        .decide(code.as_str().to_string(), decision, now)
        .await?;
    let (status, kind, heading, text) = match &outcome {
        DecideOutcome::Done(_) if approving => {
            tracing::info!(user = %session.username, "device approved");
            crate::events::device_decided(
                state,
                &session.username,
                code.as_str(),
                true,
                &device_detail(&outcome),
            );
            (
                StatusCode::OK,
                "approved",
                "Device approved",
                "Go back to your device: it connects within a few seconds. \
                 Changed your mind? Revoke it under Your devices.",
            )
        }
        DecideOutcome::Done(_) => {
            tracing::info!(user = %session.username, "device denied");
            crate::events::device_decided(
                state,
                &session.username,
                code.as_str(),
                false,
                &device_detail(&outcome),
            );
            (
                StatusCode::OK,
                "denied",
                "Request denied",
                "The device was not given access, and its code can't be used again. \
                 Nothing else is needed.",
            )
        }
        DecideOutcome::NotFound => (
            StatusCode::BAD_REQUEST,
            "problem",
            "Unknown code",
            "No request is waiting with this code: it does not exist or was already \
             answered. Check the code on your device.",
        ),
        DecideOutcome::Expired => (
            StatusCode::BAD_REQUEST,
            "problem",
            "Code expired",
            "This code has expired. Start again on your device to get a new one.",
        ),
        DecideOutcome::AlreadyDecided => (
            StatusCode::CONFLICT,
            "problem",
            "Already answered",
            "This request was already approved or denied.",
        ),
    };
    let (client_name, scopes) = match &outcome {
        DecideOutcome::Done(auth) => (
            state
                .store
                .client(&auth.client_id)?
                .map(|c| c.name.clone())
                .unwrap_or_else(|| auth.client_id.clone()),
            auth.scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(describe_scope)
                .collect(),
        ),
        _ => (String::new(), Vec::new()),
    };
    Ok(browser.page(state, status, |csrf| {
        ResultPage {
            username: Some(&session.username),
            csrf,
            kind,
            heading,
            text,
            client_name: &client_name,
            scopes,
        }
        .render()
    }))
}

/// What the audit log keeps about a decided request: client, scopes, device IP.
fn device_detail(outcome: &DecideOutcome) -> String {
    match outcome {
        DecideOutcome::Done(a) => format!(
            "client={} scope={} device_ip={}",
            a.client_id, a.scope, a.requester_ip
        ),
        _ => String::new(),
    }
}
