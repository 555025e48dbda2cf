//! The refresh-token grant (RFC 6749 §6) with rotation and reuse detection, and
//! the retry window for a lost answer (`crate::grant::Refresh::exchange`).

use authgate_proto::{ErrorCode, params};

use super::dpop::check_bound;
use super::error::OAuthError;
use super::issue::{draw, token_response};
use super::{OAuthRequest, split_scope};
use crate::dpop::Proof;
use crate::grant::Presenter;
use crate::http::response::Resp;
use crate::secrets::{keyed_token_id, sha256};
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{AuditKind, Client, Grant, RotateOutcome};

/// Exchanges a refresh token for a new access token and a new refresh token.
pub async fn handle(
    state: &AppState,
    client: &Client,
    req: &OAuthRequest,
    proof: Option<&Proof>,
    now: u64,
) -> Result<Resp, OAuthError> {
    let token = req.form.require(params::REFRESH_TOKEN)?;
    let id = keyed_token_id(token).ok_or_else(invalid)?;
    let presented = sha256(token.as_bytes());
    let found = state.store.refresh_token(&id, &presented).await?;
    let grant = found.as_ref().map(|(_, g)| g);
    // Before rotating (a grant's binding never changes): a bound refresh token
    // without a proof by its key is refused and stays usable by its owner, and a
    // thief without the key cannot trip reuse detection to revoke the grant.
    check_bound(
        grant.and_then(|g| g.dpop_jkt.as_deref()),
        proof,
        "refresh token",
    )?;
    let narrowed = narrowed_scope(req, grant)?;
    // Identifiers only: nothing is signed until the rotation is durable.
    let drawn = draw(state, client, now, req.ip.to_string());
    let who = Presenter::of(client, proof);
    let window = state.settings.retry_window;
    let outcome = state
        .store
        .rotate_refresh(id, presented, who, now, window, drawn.new.clone())
        .await?;
    record(state, client, req, &outcome);
    match outcome {
        RotateOutcome::Rotated(issue) | RotateOutcome::Retried(issue) => {
            let scope = narrowed.unwrap_or_else(|| issue.grant().scope.clone());
            token_response(state, client, &issue, &drawn, &scope, proof)
        }
        RotateOutcome::ReuseDetected => Err(OAuthError::invalid_grant(
            "refresh token already used; the grant has been revoked",
        )),
        RotateOutcome::Invalid => Err(invalid()),
    }
}

/// Counts and audits what the exchange came to: a rotation, a retry of a lost
/// answer (kept apart from reuse in the audit log), or reuse.
fn record(state: &AppState, client: &Client, req: &OAuthRequest, outcome: &RotateOutcome) {
    match outcome {
        RotateOutcome::Rotated(_) => crate::events::tokens_refreshed(),
        RotateOutcome::Retried(_) => {
            tracing::info!(client = %client.id, "lost refresh answer retried; unused pair retired");
            crate::events::lost_answer_retried(state, AuditKind::RefreshRetry, &client.id, req.ip);
        }
        RotateOutcome::ReuseDetected => {
            tracing::warn!(client = %client.id, "refresh token reuse detected; grant revoked");
            crate::events::refresh_reuse(state, &client.id, req.ip);
        }
        RotateOutcome::Invalid => {}
    }
}

/// The refusal of a refresh token that is unknown, expired or revoked.
fn invalid() -> OAuthError {
    OAuthError::invalid_grant("the refresh token is invalid, expired or revoked")
}

/// The narrower scope asked for, if any (RFC 6749 §6: narrower, never wider). Checked
/// before rotating, so a bad request never costs the client its refresh token; the
/// grant keeps its full scope for later refreshes. `grant`: the presented token's,
/// if it is genuine.
fn narrowed_scope(req: &OAuthRequest, grant: Option<&Grant>) -> Result<Option<String>, OAuthError> {
    let Some(asked) = req.form.get(params::SCOPE) else {
        return Ok(None);
    };
    let Some(grant) = grant else {
        return Ok(None);
    };
    // The grant's own scope was checked when it was made: a set, not capped.
    let granted: std::collections::HashSet<&str> = grant.scope.split(' ').collect();
    let asked = split_scope(asked)?;
    if let Some(bad) = asked.iter().find(|s| !granted.contains(*s)) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("scope `{bad}` was not granted"),
        ));
    }
    Ok(Some(asked.join(" ")))
}
