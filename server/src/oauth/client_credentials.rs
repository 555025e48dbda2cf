//! The client credentials grant (RFC 6749 §4.4): a confidential client asks for an
//! access token for itself, to call an API as a service.
//!
//! Only a client that authenticated with its secret and was registered with the
//! grant gets one (`unauthorized_client` otherwise, §5.2), with at most its
//! registered scopes (`invalid_scope`), no refresh token (§4.4.3), the client as
//! `sub`, rate limited per client and audited. A DPoP proof, when sent (or
//! required by the client), binds the token (RFC 9449 §5).

use std::time::Instant;

use authgate_proto::{ErrorCode, params};

use super::OAuthRequest;
use super::device_authorization::requested_scope;
use super::error::OAuthError;
use super::issue::{client_token_response, draw};
use crate::dpop::Proof;
use crate::http::response::Resp;
use crate::state::AppState;
use crate::store::Client;
use crate::store::prelude::*;

/// Issues an access token to the authenticated confidential `client`.
pub async fn handle(
    state: &AppState,
    client: &Client,
    req: &OAuthRequest,
    proof: Option<&Proof>,
    now: u64,
) -> Result<Resp, OAuthError> {
    if client.secret_hash.is_none() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the client_credentials grant is for confidential clients only",
        ));
    }
    check_rate(state, client).await?;
    let scope = requested_scope(client, req.form.get(params::SCOPE))?;
    let drawn = draw(state, client, now, req.ip.to_string());
    let issue = crate::grant::client::issue(&client.id, scope, &drawn.new, now);
    state.store.create_client_grant(issue.clone()).await?;
    let scope = issue.grant().scope.as_str();
    crate::events::client_credentials_issued(state, &client.id, scope, req.ip);
    client_token_response(state, client, &issue, scope, proof)
}

/// The per-client limit (each token creates a grant record).
async fn check_rate(state: &AppState, client: &Client) -> Result<(), OAuthError> {
    let limit = &state.throttles.client_credentials;
    if let Some(wait) = limit.blocked_for(&client.id, Instant::now()).await? {
        crate::events::throttled("client_credentials");
        let secs = wait.as_secs() + 1;
        return Err(OAuthError::too_many(
            format!("too many client_credentials requests; retry in {secs} s"),
            secs,
        ));
    }
    limit.hit(&client.id, Instant::now()).await?;
    Ok(())
}
