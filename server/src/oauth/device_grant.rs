//! The device-code grant (RFC 8628 §3.4–3.5).
//!
//! A pending poll is a read plus a pacing check (`crate::pacer`: in memory, or one
//! PostgreSQL statement on an unlogged table): nothing durable is written until the
//! code is approved and redeemed, once.

use std::time::Duration;

use authgate_proto::{ErrorCode, params};

use super::OAuthRequest;
use super::dpop::check_bound;
use super::error::OAuthError;
use super::issue::{draw, refresh_binding, token_response};
use crate::dpop::Proof;
use crate::grant::{Poll, Refusal};
use crate::http::response::Resp;
use crate::polls::Pacing;
use crate::secrets::{keyed_token_id, sha256};
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{Client, RedeemOutcome};

/// Exchanges a device code, or tells the device to keep waiting.
pub async fn handle(
    state: &AppState,
    client: &Client,
    req: &OAuthRequest,
    proof: Option<&Proof>,
    now: u64,
) -> Result<Resp, OAuthError> {
    let device_code = req.form.require(params::DEVICE_CODE)?;
    let unknown = || OAuthError::invalid_grant("unknown device code");
    let id = keyed_token_id(device_code).ok_or_else(unknown)?;
    let hash = sha256(device_code.as_bytes());
    let (auth, pace) = state
        .polls
        .poll(&state.store, &id, &hash)
        .await?
        .ok_or_else(unknown)?;
    // Before anything else: without the key, a stolen code learns nothing and
    // spends nothing (the binding never changes, so checking before the write holds).
    check_bound(auth.dpop_jkt.as_deref(), proof, "device code")?;
    let approved = match auth.poll(&client.id, now) {
        Poll::Approved(approved) => approved,
        Poll::Pending(pending) => {
            let initial = Duration::from_secs(u64::from(pending.interval()));
            return Err(match pace.judge(initial) {
                Pacing::Ok => not_yet(),
                Pacing::SlowDown(secs) => OAuthError::new(
                    ErrorCode::SlowDown,
                    format!("polling too fast; wait at least {secs} s between polls"),
                ),
            });
        }
        Poll::Refused(why) => return Err(refusal(why)),
    };
    // Identifiers only: nothing is signed until the redemption is durable.
    let mut drawn = draw(state, client, now, approved.device_ip().to_string());
    drawn.new.dpop_jkt = refresh_binding(client, proof);
    match state
        .store
        .redeem(id, hash, client.id.clone(), now, drawn.new.clone())
        .await?
    {
        RedeemOutcome::Issued(issue) => {
            state.polls.forget(&hash);
            crate::events::tokens_issued();
            token_response(state, client, &issue, &drawn, &issue.grant().scope, proof)
        }
        RedeemOutcome::Pending => Err(not_yet()),
        RedeemOutcome::Refused(why) => Err(refusal(why)),
        RedeemOutcome::Unknown => Err(unknown()),
    }
}

/// `authorization_pending`: the person has not decided yet.
fn not_yet() -> OAuthError {
    OAuthError::new(
        ErrorCode::AuthorizationPending,
        "the user has not yet approved this device",
    )
}

/// The error that ends a device's polling (RFC 8628 §3.5).
fn refusal(why: Refusal) -> OAuthError {
    match why {
        Refusal::Expired => OAuthError::new(
            ErrorCode::ExpiredToken,
            "the device code has expired; start a new authorization",
        ),
        Refusal::Denied => OAuthError::new(ErrorCode::AccessDenied, "the user denied access"),
        Refusal::Redeemed => OAuthError::invalid_grant("the device code has already been used"),
        Refusal::WrongClient => {
            OAuthError::invalid_grant("the device code was issued to another client")
        }
    }
}
