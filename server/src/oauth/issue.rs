//! Minting the tokens of a successful exchange: identifiers are drawn before the
//! write ([`draw`]), tokens are signed only from the [`Issue`] a durable grant
//! transition returned ([`token_response`]).

use authgate_proto::TokenResponse;
use hyper::StatusCode;

use super::error::OAuthError;
use crate::dpop::{Cnf, Proof};
use crate::grant::{Issue, NewTokens};
use crate::http::response::{self, Resp};
use crate::secrets::{keyed_token, new_jti, sha256, time_ordered_id};
use crate::state::AppState;
use crate::store::Client;
use crate::tokens::AccessClaims;

/// Fresh token identifiers for an exchange, plus the refresh token itself (which is
/// only ever stored hashed). Handed out only with an [`Issue`].
pub struct Drawn {
    /// What the store records.
    pub new: NewTokens,
    /// The refresh token to hand out.
    pub refresh_token: String,
}

/// Draws identifiers and computes lifetimes for `client` at `now`.
pub fn draw(state: &AppState, client: &Client, now: u64, device_ip: String) -> Drawn {
    let refresh_id = time_ordered_id();
    let refresh_token = keyed_token(&refresh_id);
    let access_ttl = client.access_ttl.unwrap_or(state.settings.access_ttl);
    let refresh_ttl = client.refresh_ttl.unwrap_or(state.settings.refresh_ttl);
    Drawn {
        new: NewTokens {
            grant_id: time_ordered_id(),
            refresh_id,
            refresh_hash: sha256(refresh_token.as_bytes()),
            refresh_expires_at: now + refresh_ttl,
            jti: new_jti(),
            access_expires_at: now + access_ttl,
            device_ip,
            dpop_jkt: None,
        },
        refresh_token,
    }
}

/// The key a new grant's refresh tokens are bound to: the proof's, for a public
/// client (RFC 9449 §5). A confidential client's refresh tokens are already bound
/// to its secret and stay unbound; its access tokens are bound all the same.
pub fn refresh_binding(client: &Client, proof: Option<&Proof>) -> Option<String> {
    proof
        .filter(|_| client.secret_hash.is_none())
        .map(|p| p.jkt.clone())
}

/// Signs the access token and builds the RFC 6749 §5.1 response, for the grant a
/// redemption or rotation just made durable (`issue`), with the tokens drawn for it.
/// With a DPoP `proof` the access token is bound to its key (`cnf.jkt`) and its
/// `token_type` is `DPoP` (RFC 9449 §5).
pub fn token_response(
    state: &AppState,
    client: &Client,
    issue: &Issue,
    drawn: &Drawn,
    scope: &str,
    proof: Option<&Proof>,
) -> Result<Resp, OAuthError> {
    debug_assert_eq!(issue.refresh_id(), &drawn.new.refresh_id);
    let sub = issue.grant().user_id.clone();
    let claims = access_claims(state, client, issue, sub, scope, proof);
    respond(state, client, issue, &claims, Some(&drawn.refresh_token))
}

/// The response of the client credentials grant: the client is the subject, and
/// there is no refresh token (RFC 6749 §4.4.3).
pub fn client_token_response(
    state: &AppState,
    client: &Client,
    issue: &Issue,
    scope: &str,
    proof: Option<&Proof>,
) -> Result<Resp, OAuthError> {
    let claims = access_claims(state, client, issue, client.id.clone(), scope, proof);
    respond(state, client, issue, &claims, None)
}

/// The claims of the access token `issue` allows, for subject `sub`.
fn access_claims(
    state: &AppState,
    client: &Client,
    issue: &Issue,
    sub: String,
    scope: &str,
    proof: Option<&Proof>,
) -> AccessClaims {
    AccessClaims {
        iss: state.settings.base_url.clone(),
        sub,
        aud: client
            .audiences_or(&state.settings.audience)
            .into_iter()
            .map(str::to_string)
            .collect(),
        exp: issue.access_expires_at(),
        iat: issue.now(),
        nbf: issue.now(),
        jti: issue.jti().to_string(),
        client_id: issue.grant().client_id.clone(),
        scope: scope.to_string(),
        cnf: proof.map(Cnf::for_proof),
    }
}

/// Signs `claims` in the client's token format and answers with them.
fn respond(
    state: &AppState,
    client: &Client,
    issue: &Issue,
    claims: &AccessClaims,
    refresh_token: Option<&str>,
) -> Result<Resp, OAuthError> {
    let access_token = state
        .keys
        .sign_as(client.access_token_format, claims)
        .map_err(|e| {
            tracing::error!("signing failed: {e}");
            OAuthError::new(authgate_proto::ErrorCode::ServerError, "signing failed")
        })?;
    let expires_in = u32::try_from(issue.access_expires_at() - issue.now()).unwrap_or(u32::MAX);
    Ok(response::json(
        StatusCode::OK,
        &TokenResponse {
            access_token: &access_token,
            token_type: if claims.cnf.is_some() {
                authgate_proto::TOKEN_TYPE_DPOP
            } else {
                authgate_proto::TOKEN_TYPE_BEARER
            },
            expires_in: Some(expires_in),
            refresh_token,
            scope: Some(&claims.scope),
        },
    ))
}
