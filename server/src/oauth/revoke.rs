//! Token revocation (RFC 7009).

use authgate_proto::{ErrorCode, params};
use hyper::StatusCode;

use super::OAuthRequest;
use super::client_auth::authenticate;
use super::error::OAuthError;
use crate::http::response::{self, Resp};
use crate::secrets::{keyed_token_id, sha256};
use crate::state::AppState;
use crate::store::RevokeOutcome;
use crate::store::prelude::*;

/// `POST /oauth/revoke`: revokes an access token (by its `jti`, remembered until it
/// expires) or a refresh token (its whole grant, RFC 7009 §2.1). Unknown and
/// already-invalid tokens get 200 too (§2.2), so the answer reveals nothing.
pub async fn handle(state: &AppState, req: OAuthRequest, now: u64) -> Result<Resp, OAuthError> {
    let client = authenticate(state, &req.headers, &req.form).await?.client;
    let token = req.form.require(params::TOKEN)?;
    let outcome = match state.keys.verify(token) {
        Some(claims) if claims.exp > now => {
            state
                .store
                .revoke_access(claims.jti, client.id.clone())
                .await?
        }
        Some(_) => RevokeOutcome::Unknown,
        None => match keyed_token_id(token) {
            Some(id) => {
                state
                    .store
                    .revoke_refresh(id, sha256(token.as_bytes()), client.id.clone(), now)
                    .await?
            }
            None => RevokeOutcome::Unknown,
        },
    };
    if outcome == RevokeOutcome::Revoked {
        let kind = if state.keys.verify(token).is_some() {
            "access_token"
        } else {
            "refresh_token"
        };
        crate::events::token_revoked(state, &client.id, kind, req.ip);
    }
    match outcome {
        RevokeOutcome::Revoked | RevokeOutcome::Unknown => Ok(response::empty(StatusCode::OK)),
        // §2.1: a token issued to another client is refused, and the client told so.
        RevokeOutcome::WrongClient => Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the token was issued to another client",
        )),
    }
}
