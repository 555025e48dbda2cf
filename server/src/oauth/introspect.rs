//! Token introspection (RFC 7662) and the bearer `tokeninfo` view.

use authgate_proto::{ErrorCode, IntrospectionResponse, params};
use hyper::StatusCode;
use hyper::header::{AUTHORIZATION, HeaderMap};

use super::OAuthRequest;
use super::client_auth::authenticate;
use super::error::OAuthError;
use crate::http::response::{self, Resp};
use crate::secrets::{ct_eq, keyed_token_id, sha256};
use crate::state::AppState;
use crate::store::Grant;
use crate::tokens::AccessClaims;

/// The claims of an access token that is valid right now: signed by one of our
/// keys, issued by us, within `nbf..exp`, not revoked and from an unrevoked grant;
/// with the grant, which names the user.
pub fn active_access_token(
    state: &AppState,
    token: &str,
    now: u64,
) -> Option<(AccessClaims, Grant)> {
    let claims = state.keys.verify(token)?;
    if claims.iss != state.settings.base_url || claims.nbf > now || claims.exp <= now {
        return None;
    }
    let (record, grant) = state.store.access_token(&claims.jti).ok()??;
    (!record.revoked && !grant.revoked).then_some((claims, grant))
}

fn inactive() -> IntrospectionResponse<'static> {
    IntrospectionResponse {
        active: false,
        scope: None,
        client_id: None,
        username: None,
        token_type: None,
        exp: None,
        iat: None,
        nbf: None,
        sub: None,
        aud: None,
        iss: None,
        jti: None,
    }
}

/// `POST /oauth/introspect`: only authenticated confidential clients (resource
/// servers) may ask (RFC 7662 §2.1), so tokens can't be probed anonymously.
pub async fn handle(state: &AppState, req: OAuthRequest, now: u64) -> Result<Resp, OAuthError> {
    let caller = authenticate(state, &req.headers, &req.form)?;
    if !caller.confidential {
        return Err(OAuthError::invalid_client(
            "introspection requires client authentication",
        ));
    }
    let token = req.form.require(params::TOKEN)?;
    if let Some((c, grant)) = active_access_token(state, token, now) {
        return Ok(response::json(
            StatusCode::OK,
            &IntrospectionResponse {
                active: true,
                scope: Some(&c.scope),
                client_id: Some(&c.client_id),
                username: Some(&grant.username),
                token_type: Some("access_token"),
                exp: Some(c.exp),
                iat: Some(c.iat),
                nbf: Some(c.nbf),
                sub: Some(&c.sub),
                aud: Some(&c.aud),
                iss: Some(&c.iss),
                jti: Some(&c.jti),
            },
        ));
    }
    let hash = sha256(token.as_bytes());
    if let Some(id) = keyed_token_id(token)
        && let Some((rt, grant)) = state.store.refresh_token(&id, &hash)?
        && ct_eq(&grant.current_refresh, &hash)
        && !grant.revoked
        && rt.expires_at > now
    {
        return Ok(response::json(
            StatusCode::OK,
            &IntrospectionResponse {
                active: true,
                scope: Some(&grant.scope),
                client_id: Some(&grant.client_id),
                username: Some(&grant.username),
                token_type: Some("refresh_token"),
                exp: Some(rt.expires_at),
                iat: Some(grant.last_refreshed_at.unwrap_or(grant.created_at)),
                nbf: None,
                sub: Some(&grant.user_id),
                aud: None,
                iss: Some(&state.settings.base_url),
                jti: None,
            },
        ));
    }
    Ok(response::json(StatusCode::OK, &inactive()))
}

/// `GET /oauth/tokeninfo`: a bearer token describes itself (RFC 6750 errors).
pub fn tokeninfo(state: &AppState, headers: &HeaderMap, now: u64) -> Result<Resp, OAuthError> {
    let Some(token) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(token.trim())
        })
    else {
        // No credentials: a bare challenge, no error attribute (RFC 6750 §3.1).
        return Ok(super::error::bearer_challenge());
    };
    let (c, _) = active_access_token(state, token, now).ok_or_else(|| {
        OAuthError::new(
            ErrorCode::InvalidToken,
            "the token is expired, revoked or invalid",
        )
    })?;
    Ok(response::json(
        StatusCode::OK,
        &serde_json::json!({
            "active": true,
            "sub": c.sub,
            "client_id": c.client_id,
            "scope": c.scope,
            "iss": c.iss,
            "aud": c.aud,
            "exp": c.exp,
            "iat": c.iat,
            "jti": c.jti,
            "expires_in": c.exp.saturating_sub(now),
        }),
    ))
}
