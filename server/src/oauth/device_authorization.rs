//! The device authorization endpoint (RFC 8628 §3.1–3.2).

use std::time::Instant;

use authgate_proto::{DeviceAuthorizationResponse, ErrorCode, UserCode, params, paths};
use hyper::StatusCode;
use hyper::header::{HeaderValue, RETRY_AFTER};

use super::client_auth::authenticate;
use super::error::OAuthError;
use super::{OAuthRequest, split_scope};
use crate::http::response::{self, Resp};
use crate::secrets::{fill_random, keyed_token, sha256, time_ordered_id};
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{DeviceAuth, DeviceStatus};

/// How many times to draw a new user code when one is taken by a live request;
/// with 2.56 × 10^10 codes a second collision is already astronomically unlikely.
const USER_CODE_ATTEMPTS: usize = 5;

/// What a client refused for the pending caps is told to wait: slots free up as
/// people answer requests, so a short wait is honest.
const PENDING_RETRY_SECS: u64 = 10;

/// A 429 `temporarily_unavailable` with `Retry-After` (RFC 6749 has no error code
/// for rate limits; this is the one the endpoint has always used, with RFC 6585's
/// status and header).
fn too_many(description: String, secs: u64) -> Resp {
    let mut resp = OAuthError {
        status: Some(StatusCode::TOO_MANY_REQUESTS),
        ..OAuthError::new(ErrorCode::TemporarilyUnavailable, description)
    }
    .into_response();
    resp.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(secs));
    resp
}

/// The refusal when too many requests await a decision, server-wide or from this
/// client (checked in O(log n) against the in-memory lookup). Concurrent requests
/// may overshoot a cap by at most the number in flight at that moment.
fn over_pending_cap(state: &AppState, client_id: &str, now: u64) -> Option<Resp> {
    let pending = state.store.pending_codes(client_id, now);
    let s = &state.settings;
    let which = if pending.total >= s.max_pending_codes {
        "on this server"
    } else if pending.client >= s.max_pending_codes_per_client {
        "for this client"
    } else {
        return None;
    };
    crate::events::throttled("pending_codes");
    Some(too_many(
        format!("too many device requests await a decision {which}; retry later"),
        PENDING_RETRY_SECS,
    ))
}

/// `POST /oauth/device/code`: issues a device code and a user code.
pub async fn handle(state: &AppState, req: OAuthRequest, now: u64) -> Result<Resp, OAuthError> {
    // Per address (IPv6: per /64, like every other throttle).
    let ip_key = crate::throttle::client_key(req.ip);
    if let Some(wait) = state
        .throttles
        .device_auth_ip
        .blocked_for(&ip_key, Instant::now())
    {
        crate::events::throttled("device_auth");
        let secs = wait.as_secs() + 1;
        return Ok(too_many(
            format!("too many device authorizations; retry in {secs} s"),
            secs,
        ));
    }
    state.throttles.device_auth_ip.hit(&ip_key, Instant::now());

    let client = authenticate(state, &req.headers, &req.form)?.client;
    if !client.grant_types.iter().any(|g| g == "device_code") {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the device flow",
        ));
    }
    if let Some(refused) = over_pending_cap(state, &client.id, now) {
        return Ok(refused);
    }
    let scope = match req.form.get(params::SCOPE) {
        Some(asked) => {
            let asked = split_scope(asked)?;
            if let Some(bad) = asked
                .iter()
                .find(|s| !client.scopes.iter().any(|c| c == *s))
            {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!("scope `{bad}` is not allowed for this client"),
                ));
            }
            asked.join(" ")
        }
        None => client.scopes.join(" "),
    };

    let id = time_ordered_id();
    let device_code = keyed_token(&id);
    let code_hash = sha256(device_code.as_bytes());
    let interval = u32::try_from(state.settings.poll_interval.as_secs()).unwrap_or(5);
    let mut issued = None;
    for _ in 0..USER_CODE_ATTEMPTS {
        let user_code = UserCode::generate(fill_random);
        let auth = DeviceAuth {
            code_hash,
            client_id: client.id.clone(),
            scope: scope.clone(),
            user_code: user_code.as_str().to_string(),
            created_at: now,
            expires_at: now + state.settings.device_code_ttl,
            interval,
            status: DeviceStatus::Pending,
            requester_ip: req.ip.to_string(),
            user_agent: req.user_agent(),
        };
        if state.store.create_device_auth(id, auth).await? {
            issued = Some(user_code);
            break;
        }
    }
    let user_code = issued.ok_or_else(|| {
        OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "no free user code; retry",
        )
    })?;

    crate::events::device_code_issued();
    let base = &state.settings.base_url;
    let verification_uri = format!("{base}{}", paths::DEVICE_PAGE);
    let complete = format!("{verification_uri}?user_code={}", user_code.as_str());
    Ok(response::json(
        StatusCode::OK,
        &DeviceAuthorizationResponse {
            device_code: &device_code,
            user_code: user_code.display().as_str(),
            verification_uri: &verification_uri,
            verification_uri_complete: Some(&complete),
            expires_in: u32::try_from(state.settings.device_code_ttl).unwrap_or(u32::MAX),
            interval: Some(interval),
        },
    ))
}
