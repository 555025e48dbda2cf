//! The token endpoint (RFC 6749 §3.2): authenticates the client and dispatches on
//! `grant_type`, one module per grant. A DPoP proof, when sent (or required), is
//! checked once here for every grant.

use super::client_auth::authenticate;
use super::error::OAuthError;
use super::grant_type::GrantType;
use super::{OAuthRequest, client_credentials, code_grant, device_grant, dpop, refresh_grant};
use crate::http::response::Resp;
use crate::state::AppState;
use authgate_proto::paths;

/// `POST /oauth/token`.
pub async fn handle(state: &AppState, req: OAuthRequest, now: u64) -> Result<Resp, OAuthError> {
    let asked = GrantType::from_form(&req.form)?;
    let client = authenticate(state, &req.headers, &req.form).await?.client;
    let grant = asked?;
    if !grant.allowed_for(&client) {
        return Err(grant.refused());
    }
    let proof = dpop::endpoint_proof(state, &req.headers, paths::TOKEN, &client, now).await?;
    let proof = proof.as_ref();
    match grant {
        GrantType::DeviceCode => device_grant::handle(state, &client, &req, proof, now).await,
        GrantType::RefreshToken => refresh_grant::handle(state, &client, &req, proof, now).await,
        GrantType::ClientCredentials => {
            client_credentials::handle(state, &client, &req, proof, now).await
        }
        GrantType::AuthorizationCode => code_grant::handle(state, &client, &req, proof, now).await,
    }
}
