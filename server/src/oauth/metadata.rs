//! Authorization server metadata (RFC 8414) and the PASERK key document.

use authgate_proto::paths;
use hyper::StatusCode;

use super::grant_type::GrantType;
use crate::http::response::{self, Resp};
use crate::state::AppState;
use crate::store::prelude::*;

/// The scopes a client of this server can actually be granted: the union of the
/// scopes of enabled clients, sorted. Clients are few and admin-made, so reading
/// them all is cheap; a built-in list would advertise scopes no client may ask for
/// and omit ones an admin added.
async fn scopes_supported(state: &AppState) -> Vec<String> {
    let clients = state.store.clients().await.unwrap_or_else(|e| {
        tracing::error!("cannot list clients for metadata: {e}");
        Vec::new()
    });
    let set: std::collections::BTreeSet<String> = clients
        .into_iter()
        .filter(|c| !c.disabled)
        .flat_map(|c| c.scopes)
        .collect();
    set.into_iter().collect()
}

/// `GET /.well-known/oauth-authorization-server`.
pub async fn metadata(state: &AppState) -> Resp {
    let base = &state.settings.base_url;
    let url = |p: &str| format!("{base}{p}");
    let scopes = scopes_supported(state).await;
    let grants = GrantType::ALL.map(GrantType::param);
    response::json(
        StatusCode::OK,
        &serde_json::json!({
            "issuer": base,
            "authorization_endpoint": url(paths::AUTHORIZATION),
            "device_authorization_endpoint": url(paths::DEVICE_AUTHORIZATION),
            "token_endpoint": url(paths::TOKEN),
            "revocation_endpoint": url(paths::REVOCATION),
            "introspection_endpoint": url(paths::INTROSPECTION),
            "grant_types_supported": grants,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": scopes,
            "paserk_uri": url(paths::KEYS),
            "jwks_uri": url(paths::JWKS),
            "tokeninfo_endpoint": url(paths::TOKENINFO),
            "dpop_signing_alg_values_supported": crate::dpop::SUPPORTED_ALGS,
        }),
    )
}

/// `GET /oauth/keys`: the public keys that verify our tokens, as PASERK.
pub fn keys(state: &AppState) -> Resp {
    cached_json(&state.keys.paserk_document())
}

/// `GET /.well-known/jwks.json`: the same keys as a JWK Set, for JWT verifiers.
pub fn jwks(state: &AppState) -> Resp {
    cached_json(&state.keys.jwks_document())
}

/// A public key document, cacheable for five minutes.
fn cached_json(doc: &serde_json::Value) -> Resp {
    let mut resp = response::json(StatusCode::OK, doc);
    // Public and safe to cache briefly; rotation keeps old keys published.
    resp.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("public, max-age=300"),
    );
    resp
}
