//! The refresh-token grant (RFC 6749 §6) with rotation and reuse detection.

use authgate_proto::{ErrorCode, params};

use super::error::OAuthError;
use super::issue::{draw, token_response};
use super::{OAuthRequest, split_scope};
use crate::http::response::Resp;
use crate::secrets::{keyed_token_id, sha256};
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{Client, RotateOutcome};

/// Exchanges a refresh token for a new access token and a new refresh token.
pub async fn handle(
    state: &AppState,
    client: &Client,
    req: &OAuthRequest,
    now: u64,
) -> Result<Resp, OAuthError> {
    let token = req.form.require(params::REFRESH_TOKEN)?;
    let id = keyed_token_id(token).ok_or_else(invalid)?;
    let presented = sha256(token.as_bytes());
    let narrowed = narrowed_scope(state, req, &id, &presented).await?;
    // Identifiers only: nothing is signed until the rotation is durable.
    let drawn = draw(state, client, now, req.ip.to_string());
    match state
        .store
        .rotate_refresh(id, presented, client.id.clone(), now, drawn.new.clone())
        .await?
    {
        RotateOutcome::Rotated(issue) => {
            let scope = narrowed.unwrap_or_else(|| issue.grant().scope.clone());
            crate::events::tokens_refreshed();
            token_response(state, client, &issue, &drawn, &scope)
        }
        RotateOutcome::ReuseDetected => {
            tracing::warn!(client = %client.id, "refresh token reuse detected; grant revoked");
            crate::events::refresh_reuse(state, &client.id, req.ip);
            Err(OAuthError::invalid_grant(
                "refresh token already used; the grant has been revoked",
            ))
        }
        RotateOutcome::Invalid => Err(invalid()),
    }
}

/// The refusal of a refresh token that is unknown, expired or revoked.
fn invalid() -> OAuthError {
    OAuthError::invalid_grant("the refresh token is invalid, expired or revoked")
}

/// The narrower scope asked for, if any (RFC 6749 §6: narrower, never wider). Checked
/// before rotating, so a bad request never costs the client its refresh token; the
/// grant keeps its full scope for later refreshes. The token is looked up only when a
/// scope is asked for: most refreshes don't.
async fn narrowed_scope(
    state: &AppState,
    req: &OAuthRequest,
    id: &[u8; 16],
    presented: &[u8; 32],
) -> Result<Option<String>, OAuthError> {
    let Some(asked) = req.form.get(params::SCOPE) else {
        return Ok(None);
    };
    let Some((_, grant)) = state.store.refresh_token(id, presented).await? else {
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
