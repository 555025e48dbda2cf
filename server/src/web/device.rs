//! Entering a user code, and the consent decision (RFC 8628 §3.3).

use std::net::IpAddr;
use std::time::Instant;

use authgate_proto::UserCode;
use hyper::Request;
use hyper::StatusCode;
use hyper::body::Incoming;

use super::session::Browser;
use super::{PageError, query, read_post, render, to_login};
use crate::http::response::Resp;
use crate::state::{AppState, describe_scope};
use crate::store::{DecideOutcome, Decision, DeviceAuth, DeviceStatus};
use crate::views::{ConsentPage, DevicePage, MessagePage, when};

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
    let csrf = browser.csrf_token(state);
    let mut resp = render(
        status,
        &DevicePage {
            username: browser.session.as_ref().map(|s| s.username.as_str()),
            csrf: &csrf,
            user_code: typed,
            error,
        },
    );
    browser.finish(state, &mut resp);
    resp
}

/// Throttle keys for this browser: its IP, its session, and everyone together.
fn guess_keys(browser: &Browser, ip: IpAddr) -> (String, String) {
    let session = browser
        .session_hash
        .map(|h| crate::secrets::hex(&h[..8]))
        .unwrap_or_default();
    (ip.to_string(), session)
}

fn lookup_and_consent(
    state: &AppState,
    browser: &Browser,
    typed: &str,
    ip: IpAddr,
    now: u64,
) -> Result<Resp, PageError> {
    let t = Instant::now();
    let (ip_key, session_key) = guess_keys(browser, ip);
    let th = &state.throttles;
    let blocked = th
        .user_code_ip
        .blocked_for(&ip_key, t)
        .or_else(|| th.user_code_session.blocked_for(&session_key, t))
        .or_else(|| th.user_code_global.blocked_for("all", t));
    if let Some(wait) = blocked {
        let msg = format!(
            "Too many wrong codes. Try again in {} s.",
            wait.as_secs() + 1
        );
        return Ok(code_form(
            state,
            browser,
            StatusCode::TOO_MANY_REQUESTS,
            typed,
            Some(&msg),
        ));
    }
    let found = match UserCode::parse(typed) {
        Ok(code) => state
            .store
            .device_auth_by_user_code(code.as_str())?
            .filter(|a| a.expires_at > now && a.status == DeviceStatus::Pending),
        Err(_) => None,
    };
    let Some(auth) = found else {
        th.user_code_ip.hit(&ip_key, t);
        th.user_code_session.hit(&session_key, t);
        th.user_code_global.hit("all", t);
        let msg = match UserCode::parse(typed) {
            Err(e) => format!("That is not a valid code: {e}."),
            Ok(_) => {
                "That code is wrong, expired or already used. Check the code on your device.".into()
            }
        };
        return Ok(code_form(
            state,
            browser,
            StatusCode::BAD_REQUEST,
            typed,
            Some(&msg),
        ));
    };
    consent_page(state, browser, &auth)
}

fn consent_page(state: &AppState, browser: &Browser, auth: &DeviceAuth) -> Result<Resp, PageError> {
    let client_name = state
        .store
        .client(&auth.client_id)?
        .map(|c| c.name)
        .unwrap_or_else(|| auth.client_id.clone());
    let code = UserCode::parse(&auth.user_code).map_err(|_| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "Invalid code",
            "This code is not valid.",
        )
    })?;
    let csrf = browser.csrf_token(state);
    let mut resp = render(
        StatusCode::OK,
        &ConsentPage {
            username: browser.session.as_ref().map(|s| s.username.as_str()),
            csrf: &csrf,
            client_name: &client_name,
            user_code: code.as_str(),
            display_code: code.display().as_str(),
            scopes: auth
                .scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(describe_scope)
                .collect(),
            requested_at: when(auth.created_at),
            requester_ip: &auth.requester_ip,
            user_agent: &auth.user_agent,
        },
    );
    browser.finish(state, &mut resp);
    Ok(resp)
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
    let (status, heading, text) = match outcome {
        DecideOutcome::Done(_) if approving => {
            tracing::info!(user = %session.username, "device approved");
            (
                StatusCode::OK,
                "Device approved",
                "Your device is now connected. You can return to it.",
            )
        }
        DecideOutcome::Done(_) => {
            tracing::info!(user = %session.username, "device denied");
            (
                StatusCode::OK,
                "Request denied",
                "The device was not given access. Nothing else is needed.",
            )
        }
        DecideOutcome::NotFound => (
            StatusCode::BAD_REQUEST,
            "Unknown code",
            "This code does not exist.",
        ),
        DecideOutcome::Expired => (
            StatusCode::BAD_REQUEST,
            "Code expired",
            "This code has expired. Start again on your device.",
        ),
        DecideOutcome::AlreadyDecided => (
            StatusCode::CONFLICT,
            "Already answered",
            "This request was already approved or denied.",
        ),
    };
    let csrf = browser.csrf_token(state);
    let mut resp = render(
        status,
        &MessagePage {
            username: Some(&session.username),
            csrf: &csrf,
            heading,
            text,
            link: Some(("/account", "Your devices")),
        },
    );
    browser.finish(state, &mut resp);
    Ok(resp)
}
