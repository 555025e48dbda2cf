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
    let invalid = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    let id = keyed_token_id(token).ok_or_else(invalid)?;
    let presented = sha256(token.as_bytes());
    // RFC 6749 §6: a narrower scope may be asked for, never a wider one. Checked
    // before rotating, so a bad request never costs the client its refresh token.
    // The grant keeps its full scope for later refreshes.
    // (Looked up only when a scope is asked for: most refreshes don't.)
    let asked_scope = req.form.get(params::SCOPE);
    let current = match asked_scope {
        Some(_) => state.store.refresh_token(&id, &presented)?,
        None => None,
    };
    let narrowed = match (asked_scope, current) {
        (Some(asked), Some((_, grant))) => {
            // The grant's own scope was checked when it was made: a set, not capped.
            let granted: std::collections::HashSet<&str> = grant.scope.split(' ').collect();
            let asked = split_scope(asked)?;
            if let Some(bad) = asked.iter().find(|s| !granted.contains(*s)) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!("scope `{bad}` was not granted"),
                ));
            }
            Some(asked.join(" "))
        }
        _ => None,
    };
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
