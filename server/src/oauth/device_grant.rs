//! The device-code grant (RFC 8628 §3.4–3.5).
//!
//! A pending poll is a read plus a pacing check (`crate::pacer`: in memory, or one
//! PostgreSQL statement on an unlogged table): nothing durable is written until the
//! code is approved and redeemed, once. A redeemed code presented again is
//! classified on a read of its grant first (`crate::grant::Redeemed::again`): only
//! a retry within the window (a fresh pair) or a replay (the grant revoked) writes.

use std::time::Duration;

use authgate_proto::{ErrorCode, params};

use super::OAuthRequest;
use super::dpop::check_bound;
use super::error::OAuthError;
use super::issue::{Drawn, draw, refresh_binding, token_response};
use crate::dpop::Proof;
use crate::grant::{Again, DeviceAuth, Poll, Presenter, Redeemed, Refusal};
use crate::http::response::Resp;
use crate::pacer::PollPace;
use crate::polls::Pacing;
use crate::secrets::{keyed_token_id, sha256};
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{AuditKind, Client, PresentedCode, RedeemOutcome};

/// Exchanges a device code, or tells the device to keep waiting.
pub async fn handle(
    state: &AppState,
    client: &Client,
    req: &OAuthRequest,
    proof: Option<&Proof>,
    now: u64,
) -> Result<Resp, OAuthError> {
    let device_code = req.form.require(params::DEVICE_CODE)?;
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
    let who = Presenter::of(client, proof);
    let (device_ip, seen) = redeemable(state, req, auth, pace, &who, now).await?;
    // Identifiers only: nothing is signed until the redemption is durable.
    let mut drawn = draw(state, client, now, device_ip);
    drawn.new.dpop_jkt = refresh_binding(client, proof);
    let window = state.settings.retry_window;
    let outcome = state
        .store
        .redeem(
            PresentedCode {
                id,
                code_hash: hash,
                seen,
            },
            who,
            now,
            window,
            drawn.new.clone(),
        )
        .await?;
    if matches!(outcome, RedeemOutcome::Issued(_)) {
        state.polls.forget(&hash);
    }
    respond(state, client, req, proof, &drawn, outcome)
}

/// The answer to a redemption (or a redeemed code presented again), once the
/// store persisted `outcome`.
fn respond(
    state: &AppState,
    client: &Client,
    req: &OAuthRequest,
    proof: Option<&Proof>,
    drawn: &Drawn,
    outcome: RedeemOutcome,
) -> Result<Resp, OAuthError> {
    match outcome {
        RedeemOutcome::Issued(issue) => {
            crate::events::tokens_issued();
            token_response(state, client, &issue, drawn, &issue.grant().scope, proof)
        }
        RedeemOutcome::Retried(issue) => {
            tracing::info!(client = %client.id, "lost token answer retried; unused pair retired");
            crate::events::lost_answer_retried(
                state,
                AuditKind::DeviceCodeRetry,
                &client.id,
                req.ip,
            );
            token_response(state, client, &issue, drawn, &issue.grant().scope, proof)
        }
        RedeemOutcome::Replayed => {
            tracing::warn!(client = %client.id, "redeemed device code replayed; grant revoked");
            crate::events::device_code_replay(state, &client.id, req.ip);
            Err(refusal(Refusal::Redeemed))
        }
        RedeemOutcome::Pending => Err(not_yet()),
        RedeemOutcome::Refused(why) => Err(refusal(why)),
        RedeemOutcome::Unknown => Err(unknown()),
    }
}

/// Whether the poll goes on to the redeeming write, and with which device IP: an
/// approved code (redemption; with the request as read, the store's hint), or a
/// redeemed one whose second presentation is a retry or a replay (decided on a
/// read first). Otherwise the answer that ends or paces the poll, with nothing
/// written.
async fn redeemable(
    state: &AppState,
    req: &OAuthRequest,
    auth: DeviceAuth,
    pace: PollPace<'_>,
    who: &Presenter,
    now: u64,
) -> Result<(String, Option<DeviceAuth>), OAuthError> {
    match auth.poll(&who.client_id, now) {
        Poll::Approved(approved) => Ok((
            approved.device_ip().to_string(),
            Some(approved.into_record()),
        )),
        Poll::Redeemed(redeemed) => match again(state, &redeemed, who, now).await? {
            Again::Spent => Err(refusal(Refusal::Redeemed)),
            Again::Retry | Again::Replay => Ok((req.ip.to_string(), None)),
        },
        Poll::Pending(pending) => {
            let initial = Duration::from_secs(u64::from(pending.interval()));
            Err(match pace.judge(initial) {
                Pacing::Ok => not_yet(),
                Pacing::SlowDown(secs) => slow_down(secs),
            })
        }
        Poll::Refused(why) => Err(refusal(why)),
    }
}

/// What presenting the redeemed code again would do, decided on a read of the
/// grant it yielded: a spent code costs no write.
async fn again(
    state: &AppState,
    redeemed: &Redeemed,
    who: &Presenter,
    now: u64,
) -> Result<Again, OAuthError> {
    let grant = match redeemed.grant_id() {
        Some(id) => state.store.grant(&id).await?,
        None => None,
    };
    Ok(redeemed.again(grant.as_ref(), who, now, state.settings.retry_window))
}

/// The refusal of a device code this server does not know.
fn unknown() -> OAuthError {
    OAuthError::invalid_grant("unknown device code")
}

/// `slow_down`: polled faster than the interval (RFC 8628 §3.5).
fn slow_down(secs: u64) -> OAuthError {
    OAuthError::new(
        ErrorCode::SlowDown,
        format!("polling too fast; wait at least {secs} s between polls"),
    )
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
