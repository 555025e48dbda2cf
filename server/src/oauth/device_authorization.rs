//! The device authorization endpoint (RFC 8628 §3.1–3.2).

use std::time::Instant;

use authgate_proto::{DeviceAuthorizationResponse, ErrorCode, UserCode, params, paths};
use hyper::StatusCode;

use super::client_auth::authenticate;
use super::error::OAuthError;
use super::{OAuthRequest, split_scope};
use crate::http::response::{self, Resp};
use crate::secrets::{fill_random, keyed_token, sha256, time_ordered_id};
use crate::state::AppState;
use crate::store::{DeviceAuth, DeviceStatus};

/// How many times to draw a new user code when one is taken by a live request;
/// with 2.56 × 10^10 codes a second collision is already astronomically unlikely.
const USER_CODE_ATTEMPTS: usize = 5;

/// `POST /oauth/device/code`: issues a device code and a user code.
pub async fn handle(state: &AppState, req: OAuthRequest, now: u64) -> Result<Resp, OAuthError> {
    let ip_key = crate::throttle::client_key(req.ip);
    if let Some(wait) = state
        .throttles
        .device_auth_ip
        .blocked_for(&ip_key, Instant::now())
    {
        crate::events::throttled("device_auth");
        return Err(OAuthError {
            status: Some(StatusCode::TOO_MANY_REQUESTS),
            ..OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                format!(
                    "too many device authorizations; retry in {} s",
                    wait.as_secs() + 1
                ),
            )
        });
    }
    state.throttles.device_auth_ip.hit(&ip_key, Instant::now());

    let client = authenticate(state, &req.headers, &req.form)?.client;
    if !client.grant_types.iter().any(|g| g == "device_code") {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the device flow",
        ));
    }
    let scope = match req.form.get(params::SCOPE) {
        Some(asked) => {
            let asked = split_scope(asked);
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
