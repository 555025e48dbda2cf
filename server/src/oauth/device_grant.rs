//! The device-code grant (RFC 8628 §3.4–3.5).
//!
//! A pending poll is a read plus an in-memory pacing check: nothing is written until
//! the code is approved and redeemed, once.

use std::time::{Duration, Instant};

use authgate_proto::{ErrorCode, params};

use super::OAuthRequest;
use super::error::OAuthError;
use super::issue::{mint, token_response};
use crate::http::response::Resp;
use crate::polls::Pacing;
use crate::secrets::{keyed_token_id, sha256};
use crate::state::AppState;
use crate::store::{Client, PollCheck, RedeemOutcome};

/// Exchanges a device code, or tells the device to keep waiting.
pub async fn handle(
    state: &AppState,
    client: &Client,
    req: &OAuthRequest,
    now: u64,
) -> Result<Resp, OAuthError> {
    let device_code = req.form.require(params::DEVICE_CODE)?;
    let unknown = || OAuthError::invalid_grant("unknown device code");
    let id = keyed_token_id(device_code).ok_or_else(unknown)?;
    let hash = sha256(device_code.as_bytes());
    let auth = state.store.device_auth(&id, &hash)?.ok_or_else(unknown)?;
    match auth.poll_check(&client.id, now) {
        PollCheck::Approved { .. } => {}
        PollCheck::Pending => {
            let initial = Duration::from_secs(u64::from(auth.interval));
            return Err(match state.polls.record(&hash, initial, Instant::now()) {
                Pacing::Ok => OAuthError::new(
                    ErrorCode::AuthorizationPending,
                    "the user has not yet approved this device",
                ),
                Pacing::SlowDown(secs) => OAuthError::new(
                    ErrorCode::SlowDown,
                    format!("polling too fast; wait at least {secs} s between polls"),
                ),
            });
        }
        other => return Err(refusal(other)),
    }
    let minted = mint(state, client, now, auth.requester_ip.clone());
    match state
        .store
        .redeem(id, hash, client.id.clone(), now, minted.new.clone())
        .await?
    {
        RedeemOutcome::Issued(grant) => {
            state.polls.forget(&hash);
            crate::events::tokens_issued();
            token_response(state, client, &grant, &minted, &grant.scope)
        }
        RedeemOutcome::Refused(other) => Err(refusal(other)),
        RedeemOutcome::Unknown => Err(unknown()),
    }
}

fn refusal(check: PollCheck) -> OAuthError {
    match check {
        PollCheck::Expired => OAuthError::new(
            ErrorCode::ExpiredToken,
            "the device code has expired; start a new authorization",
        ),
        PollCheck::Denied => OAuthError::new(ErrorCode::AccessDenied, "the user denied access"),
        PollCheck::Redeemed => OAuthError::invalid_grant("the device code has already been used"),
        PollCheck::WrongClient => {
            OAuthError::invalid_grant("the device code was issued to another client")
        }
        PollCheck::Pending => OAuthError::new(
            ErrorCode::AuthorizationPending,
            "the user has not yet approved this device",
        ),
        PollCheck::Approved { .. } => OAuthError::invalid_grant("the device code was not redeemed"),
    }
}
