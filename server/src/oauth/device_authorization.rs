//! The device authorization endpoint (RFC 8628 §3.1–3.2).

use std::time::Instant;

use authgate_proto::{CodeFormat, DeviceAuthorizationResponse, ErrorCode, UserCode, params, paths};
use hyper::StatusCode;

use super::client_auth::authenticate;
use super::error::OAuthError;
use super::grant_type::GrantType;
use super::{OAuthRequest, split_scope};
use crate::http::response::{self, Resp};
use crate::secrets::{fill_random, keyed_token, sha256, time_ordered_id};
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{Client, DeviceAuth, DeviceStatus, UserCodeFormat};

/// How many times to draw a new user code when one is taken by a live request;
/// with 2.56 × 10^10 codes (10^10 for digits) a second collision is already
/// astronomically unlikely.
const USER_CODE_ATTEMPTS: usize = 5;

/// What a client refused for the pending caps is told to wait: slots free up as
/// people answer requests, so a short wait is honest.
const PENDING_RETRY_SECS: u64 = 10;

/// The refusal when too many requests await a decision, server-wide or from this
/// client (checked in O(log n) against the in-memory lookup). Concurrent requests
/// may overshoot a cap by at most the number in flight at that moment.
async fn check_pending_cap(state: &AppState, client_id: &str, now: u64) -> Result<(), OAuthError> {
    let pending = state.store.pending_codes(client_id, now).await?;
    let s = &state.settings;
    let which = if pending.total >= s.max_pending_codes {
        "on this server"
    } else if pending.client >= s.max_pending_codes_per_client {
        "for this client"
    } else {
        return Ok(());
    };
    crate::events::throttled("pending_codes");
    Err(OAuthError::too_many(
        format!("too many device requests await a decision {which}; retry later"),
        PENDING_RETRY_SECS,
    ))
}

/// `POST /oauth/device/code`: issues a device code and a user code.
pub async fn handle(state: &AppState, req: OAuthRequest, now: u64) -> Result<Resp, OAuthError> {
    check_rate(state, &req).await?;
    let client = authenticate(state, &req.headers, &req.form).await?.client;
    if !GrantType::DeviceCode.allowed_for(&client) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the device flow",
        ));
    }
    check_pending_cap(state, &client.id, now).await?;
    // A proof binds the device code to its key (RFC 9449 §10): only that key redeems.
    let proof = super::dpop::endpoint_proof(
        state,
        &req.headers,
        paths::DEVICE_AUTHORIZATION,
        &client,
        now,
    )
    .await?;
    let scope = requested_scope(&client, req.form.get(params::SCOPE))?;
    let id = time_ordered_id();
    let device_code = keyed_token(&id);
    let (ttl, interval) = device_settings(state, &client);
    let auth = DeviceAuth {
        code_hash: sha256(device_code.as_bytes()),
        client_id: client.id.clone(),
        scope,
        user_code: String::new(),
        created_at: now,
        expires_at: now + ttl,
        interval,
        status: DeviceStatus::Pending,
        requester_ip: req.ip.to_string(),
        user_agent: req.user_agent(),
        dpop_jkt: proof.map(|p| p.jkt),
    };
    let format = code_format(client.user_code_format);
    let user_code = store_with_free_user_code(state, id, auth, format).await?;
    crate::events::device_code_issued();
    Ok(answer(state, &device_code, &user_code, ttl, interval))
}

/// The user-code alphabet of a client's setting.
fn code_format(setting: UserCodeFormat) -> CodeFormat {
    match setting {
        UserCodeFormat::Letters => CodeFormat::Letters,
        UserCodeFormat::Digits => CodeFormat::Digits,
    }
}

/// The RFC 8628 §3.2 answer for a stored request.
fn answer(
    state: &AppState,
    device_code: &str,
    user_code: &UserCode,
    ttl: u64,
    interval: u32,
) -> Resp {
    let base = &state.settings.base_url;
    let verification_uri = format!("{base}{}", paths::DEVICE_PAGE);
    let complete = format!("{verification_uri}?user_code={}", user_code.as_str());
    response::json(
        StatusCode::OK,
        &DeviceAuthorizationResponse {
            device_code,
            user_code: user_code.display().as_str(),
            verification_uri: &verification_uri,
            verification_uri_complete: Some(&complete),
            expires_in: u32::try_from(ttl).unwrap_or(u32::MAX),
            interval: Some(interval),
        },
    )
}

/// The device-code lifetime and poll interval (seconds) for `client`: its own
/// (bounded at registration by `admin::rules`), or the server's.
fn device_settings(state: &AppState, client: &Client) -> (u64, u32) {
    let s = &state.settings;
    let ttl = client.device_code_ttl.unwrap_or(s.device_code_ttl);
    let interval = client.poll_interval.unwrap_or(s.poll_interval.as_secs());
    (ttl, u32::try_from(interval).unwrap_or(5))
}

/// The per-address limit on device authorizations (each creates a record);
/// IPv6 is counted per /64, like every other throttle.
async fn check_rate(state: &AppState, req: &OAuthRequest) -> Result<(), OAuthError> {
    let ip_key = crate::throttle::client_key(req.ip);
    let limit = &state.throttles.device_auth_ip;
    if let Some(wait) = limit.blocked_for(&ip_key, Instant::now()).await? {
        crate::events::throttled("device_auth");
        let secs = wait.as_secs() + 1;
        return Err(OAuthError::too_many(
            format!("too many device authorizations; retry in {secs} s"),
            secs,
        ));
    }
    limit.hit(&ip_key, Instant::now()).await?;
    Ok(())
}

/// The scope to grant: the asked values when the client holds all of them, else
/// `invalid_scope`; everything the client holds when none is asked.
pub(crate) fn requested_scope(client: &Client, asked: Option<&str>) -> Result<String, OAuthError> {
    let Some(asked) = asked else {
        return Ok(client.scopes.join(" "));
    };
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
    Ok(asked.join(" "))
}

/// Stores `auth` under a freshly drawn user code, drawing again while the code is
/// held by a live request.
async fn store_with_free_user_code(
    state: &AppState,
    id: [u8; 16],
    auth: DeviceAuth,
    format: CodeFormat,
) -> Result<UserCode, OAuthError> {
    for _ in 0..USER_CODE_ATTEMPTS {
        let user_code = UserCode::generate_as(format, fill_random);
        let auth = DeviceAuth {
            user_code: user_code.as_str().to_string(),
            ..auth.clone()
        };
        if state.store.create_device_auth(id, auth).await? {
            return Ok(user_code);
        }
    }
    Err(OAuthError::new(
        ErrorCode::TemporarilyUnavailable,
        "no free user code; retry",
    ))
}
