//! Token introspection (RFC 7662) and the bearer `tokeninfo` view.

use authgate_proto::{ErrorCode, IntrospectionResponse, params, paths};
use hyper::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Method, StatusCode};
use serde::Serialize;

use super::OAuthRequest;
use super::client_auth::authenticate;
use super::dpop::{self, Presented};
use super::error::OAuthError;
use crate::http::response::{self, Resp};
use crate::secrets::{keyed_token_id, sha256};
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{Grant, RefreshToken};
use crate::tokens::AccessClaims;

/// The claims of an access token that is valid right now: signed by one of our
/// keys, issued by us, within `nbf..exp`, not revoked and from an unrevoked grant;
/// with the grant, which names the user.
pub async fn active_access_token(
    state: &AppState,
    token: &str,
    now: u64,
) -> Option<(AccessClaims, Grant)> {
    let claims = state.keys.verify(token)?;
    if claims.iss != state.settings.base_url || claims.nbf > now || claims.exp <= now {
        return None;
    }
    let (record, grant) = state.store.access_token(&claims.jti).await.ok()??;
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
/// servers) may ask (RFC 7662 §2.1), so tokens can't be probed anonymously, and
/// each learns only about tokens meant for it (RFC 7662 §4): an access token whose
/// `aud` names none of the caller's audiences, or another client's refresh token,
/// is `{"active":false}`, exactly like an unknown one.
pub async fn handle(state: &AppState, req: OAuthRequest, now: u64) -> Result<Resp, OAuthError> {
    let caller = authenticate(state, &req.headers, &req.form).await?;
    if !caller.confidential {
        return Err(OAuthError::invalid_client(
            "introspection requires client authentication",
        ));
    }
    let token = req.form.require(params::TOKEN)?;
    let mine = caller.client.audiences_or(&state.settings.audience);
    if let Some((c, grant)) = active_access_token(state, token, now).await
        && let Some(aud) = c.aud.iter().find(|a| mine.contains(&a.as_str()))
    {
        return Ok(response::json(
            StatusCode::OK,
            &WithCnf {
                answer: access_answer(&c, &grant, aud),
                cnf: c.cnf.as_ref(),
            },
        ));
    }
    if let Some((rt, grant)) = active_refresh_token(state, token, now).await?
        && grant.client_id == caller.client.id
    {
        let cnf = grant.dpop_jkt.clone().map(|jkt| crate::dpop::Cnf { jkt });
        return Ok(response::json(
            StatusCode::OK,
            &WithCnf {
                answer: refresh_answer(&rt, &grant, &state.settings.base_url),
                cnf: cnf.as_ref(),
            },
        ));
    }
    Ok(response::json(StatusCode::OK, &inactive()))
}

/// An introspection answer with the token's confirmation (RFC 9449 §6.2): a
/// resource server learns which key must sign the proofs that come with it.
#[derive(Serialize)]
struct WithCnf<'a> {
    #[serde(flatten)]
    answer: IntrospectionResponse<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<&'a crate::dpop::Cnf>,
}

/// What a resource server learns about an active access token meant for it.
fn access_answer<'a>(
    c: &'a AccessClaims,
    grant: &'a Grant,
    aud: &'a str,
) -> IntrospectionResponse<'a> {
    IntrospectionResponse {
        active: true,
        scope: Some(&c.scope),
        client_id: Some(&c.client_id),
        // A client-credentials token has no user.
        username: Some(grant.username.as_str()).filter(|u| !u.is_empty()),
        token_type: Some(token_type(c)),
        exp: Some(c.exp),
        iat: Some(c.iat),
        nbf: Some(c.nbf),
        sub: Some(&c.sub),
        // The caller's own audience: the others the token may carry are other
        // resource servers' business.
        aud: Some(aud),
        iss: Some(&c.iss),
        jti: Some(&c.jti),
    }
}

/// What a client learns about its own active refresh token.
fn refresh_answer<'a>(
    rt: &RefreshToken,
    grant: &'a Grant,
    iss: &'a str,
) -> IntrospectionResponse<'a> {
    IntrospectionResponse {
        active: true,
        scope: Some(&grant.scope),
        client_id: Some(&grant.client_id),
        username: Some(&grant.username),
        // RFC 7662 §2.2's token_type names an access-token type (RFC 6749 §7.1);
        // a refresh token has none, so it is left out.
        token_type: None,
        exp: Some(rt.expires_at),
        iat: Some(grant.last_refreshed_at.unwrap_or(grant.created_at)),
        nbf: None,
        sub: Some(&grant.user_id),
        aud: None,
        iss: Some(iss),
        jti: None,
    }
}

/// The current, unexpired refresh token `token` of an unrevoked grant, with it.
async fn active_refresh_token(
    state: &AppState,
    token: &str,
    now: u64,
) -> Result<Option<(RefreshToken, Grant)>, OAuthError> {
    let hash = sha256(token.as_bytes());
    let Some(id) = keyed_token_id(token) else {
        return Ok(None);
    };
    Ok(state
        .store
        .refresh_token(&id, &hash)
        .await?
        .filter(|(rt, grant)| crate::grant::refresh_is_live(rt, grant, &hash, now)))
}

/// `GET /oauth/tokeninfo`: an access token describes itself (RFC 6750 errors, and
/// RFC 9449 §7 for DPoP): a bearer token as `Authorization: Bearer`, a DPoP-bound
/// one only as `Authorization: DPoP` with a proof for this request.
pub async fn tokeninfo(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    now: u64,
) -> Result<Resp, OAuthError> {
    let (token, scheme_is_dpop) = match dpop::presented(headers) {
        // No credentials: bare challenges, no error attribute (RFC 6750 §3.1).
        Presented::Nothing => return Ok(both_challenges()),
        Presented::Bearer(t) => (t, false),
        Presented::Dpop(t) => (t, true),
    };
    let (c, _) = active_access_token(state, token, now)
        .await
        .ok_or_else(|| {
            if scheme_is_dpop {
                dpop::resource_error(
                    ErrorCode::InvalidToken,
                    "the token is expired, revoked or invalid",
                )
            } else {
                OAuthError::new(
                    ErrorCode::InvalidToken,
                    "the token is expired, revoked or invalid",
                )
            }
        })?;
    dpop::check_resource(
        state,
        headers,
        (method.as_str(), paths::TOKENINFO),
        (token, scheme_is_dpop),
        c.cnf.as_ref(),
        now,
    )
    .await?;
    let mut info = serde_json::json!({
            "active": true,
            "sub": c.sub,
            "client_id": c.client_id,
            "scope": c.scope,
            "iss": c.iss,
            "aud": crate::tokens::AudClaim::of(&c.aud),
            "exp": c.exp,
            "iat": c.iat,
            "jti": c.jti,
            "expires_in": c.exp.saturating_sub(now),
            "token_type": token_type(&c),
    });
    if let Some(cnf) = &c.cnf {
        info["cnf"] = serde_json::json!(cnf);
    }
    Ok(response::json(StatusCode::OK, &info))
}

/// The 401 for a request without credentials: the Bearer challenge, and the DPoP
/// one with the accepted algorithms (RFC 9449 §7.1).
fn both_challenges() -> Resp {
    let mut resp = super::error::bearer_challenge();
    if let Ok(v) = HeaderValue::from_str(&crate::dpop::www_authenticate(None)) {
        resp.headers_mut().append(WWW_AUTHENTICATE, v);
    }
    resp
}

/// `DPoP` for a bound access token, `Bearer` otherwise.
fn token_type(c: &AccessClaims) -> &'static str {
    if c.cnf.is_some() {
        authgate_proto::TOKEN_TYPE_DPOP
    } else {
        authgate_proto::TOKEN_TYPE_BEARER
    }
}
