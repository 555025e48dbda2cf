//! DPoP (RFC 9449) at our endpoints: reading the `DPoP` header, checking a proof for
//! the device-authorization and token endpoints (§5) and for protected resources
//! (§7), and the rule that a credential bound to a key is only good with a proof by
//! that key. The proof checks themselves are `crate::dpop`'s.

use authgate_proto::ErrorCode;
use hyper::StatusCode;
use hyper::header::{AUTHORIZATION, HeaderMap};

use super::error::OAuthError;
use crate::dpop::{self, Cnf, DpopError, Expected, FreshError, NonceCheck, Proof};
use crate::state::AppState;
use crate::store::{Client, DpopMode};

/// The request header carrying a proof.
pub const DPOP: &str = "dpop";

/// The response header carrying a fresh server nonce (RFC 9449 §8).
pub const DPOP_NONCE: &str = "dpop-nonce";

/// The request's proof: `None` without a `DPoP` header; refused when there are
/// several or it is not visible ASCII.
pub fn proof_header(headers: &HeaderMap) -> Result<Option<&str>, DpopError> {
    let mut all = headers.get_all(DPOP).iter();
    let Some(first) = all.next() else {
        return Ok(None);
    };
    if all.next().is_some() {
        return Err(DpopError::NotOneHeader);
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| DpopError::NotOneHeader)
}

/// The OAuth error for a refused proof at the token or device-authorization
/// endpoint (400, RFC 9449 §5), or for the replay store being down (503).
fn token_endpoint_error(e: FreshError) -> OAuthError {
    match e {
        FreshError::Proof(e) => OAuthError::new(e.code(), e.to_string()),
        FreshError::Store(e) => e.into(),
    }
}

/// Checks the proof `client` sent to the endpoint at `path` (device authorization
/// or token). `Ok(None)`: no proof, and the client may go without. A client whose
/// DPoP is [`DpopMode::Required`] must send one, carrying a nonce this server (any
/// instance) issued in the last five minutes.
pub async fn endpoint_proof(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    client: &Client,
    now: u64,
) -> Result<Option<Proof>, OAuthError> {
    let required = client.dpop == DpopMode::Required;
    let Some(header) = proof_header(headers).map_err(|e| token_endpoint_error(e.into()))? else {
        return if required {
            Err(OAuthError::new(
                ErrorCode::InvalidDpopProof,
                "this client must send a DPoP proof",
            ))
        } else {
            Ok(None)
        };
    };
    let uri = format!("{}{path}", state.settings.base_url);
    let nonces: &dyn NonceCheck = &state.dpop.nonces;
    let expected = Expected {
        method: "POST",
        uri: &uri,
        now,
        nonce: required.then_some(nonces),
        access_token: None,
    };
    dpop::verify_fresh(header, &expected, &state.dpop.replays)
        .await
        .map(Some)
        .map_err(token_endpoint_error)
}

/// A credential bound to a key (`bound`: a device code or a refresh token's grant)
/// is only good with a proof by that key; an unbound one with or without any.
///
/// Refused with `invalid_grant`, not `invalid_dpop_proof`: the proof, if any, is
/// valid; what fails is the grant, which belongs to someone else's key, as RFC 6749
/// §5.2 has `invalid_grant` for a grant "issued to another client". Nothing is
/// changed: a thief without the key cannot spend the code or revoke the grant.
pub fn check_bound(
    bound: Option<&str>,
    proof: Option<&Proof>,
    what: &'static str,
) -> Result<(), OAuthError> {
    let Some(jkt) = bound else {
        return Ok(());
    };
    let cnf = Cnf { jkt: jkt.into() };
    match proof {
        Some(p) if cnf.matches(p) => Ok(()),
        Some(_) => Err(OAuthError::invalid_grant(format!(
            "the {what} is bound to another DPoP key"
        ))),
        None => Err(OAuthError::invalid_grant(format!(
            "the {what} is bound to a DPoP key; send a DPoP proof signed with it"
        ))),
    }
}

/// How a request to a protected resource presented its access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presented<'a> {
    /// No (usable) `Authorization` header.
    Nothing,
    /// `Authorization: Bearer <token>` (RFC 6750).
    Bearer(&'a str),
    /// `Authorization: DPoP <token>` with a proof (RFC 9449 §7.1).
    Dpop(&'a str),
}

/// The token in the `Authorization` header, and its scheme.
pub fn presented(headers: &HeaderMap) -> Presented<'_> {
    let Some((scheme, token)) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
    else {
        return Presented::Nothing;
    };
    let token = token.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Presented::Bearer(token)
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Presented::Dpop(token)
    } else {
        Presented::Nothing
    }
}

/// A 401 at a protected resource with a DPoP challenge naming `code` (RFC 9449
/// §7.1: `invalid_token` or `invalid_dpop_proof`, with `algs`).
pub fn resource_error(code: ErrorCode, description: &'static str) -> OAuthError {
    let algs = dpop::SUPPORTED_ALGS.join(" ");
    OAuthError {
        status: Some(StatusCode::UNAUTHORIZED),
        challenge: Some(format!(
            r#"DPoP error="{}", error_description="{description}", algs="{algs}""#,
            code.as_str()
        )),
        ..OAuthError::new(code, description)
    }
}

/// Checks that the request presents `token` (whose confirmation is `cnf`) as its
/// binding demands, at the resource `method` `path`: a bound token only with the
/// DPoP scheme and a fresh proof by its key whose `ath` is the token's hash; the
/// DPoP scheme only with a bound token. A bound token sent as a bearer token is
/// refused (RFC 9449 §7.2), which is what makes a copied token worthless.
pub async fn check_resource(
    state: &AppState,
    headers: &HeaderMap,
    (method, path): (&str, &str),
    (token, scheme_is_dpop): (&str, bool),
    cnf: Option<&Cnf>,
    now: u64,
) -> Result<(), OAuthError> {
    let Some(cnf) = cnf else {
        return if scheme_is_dpop {
            Err(resource_error(
                ErrorCode::InvalidToken,
                "the token is not DPoP-bound; send it as a Bearer token",
            ))
        } else {
            Ok(())
        };
    };
    if !scheme_is_dpop {
        return Err(resource_error(
            ErrorCode::InvalidToken,
            "the token is DPoP-bound; send it with the DPoP scheme and a proof",
        ));
    }
    let bad_proof = |e: DpopError| resource_error(e.code(), dpop_description(e));
    let header = proof_header(headers)
        .map_err(bad_proof)?
        .ok_or_else(|| bad_proof(DpopError::NotCompactJws))?;
    let uri = format!("{}{path}", state.settings.base_url);
    let expected = Expected {
        method,
        uri: &uri,
        now,
        nonce: None,
        access_token: Some(token),
    };
    let proof = dpop::verify_fresh(header, &expected, &state.dpop.replays)
        .await
        .map_err(|e| match e {
            FreshError::Proof(e) => bad_proof(e),
            FreshError::Store(e) => e.into(),
        })?;
    if !cnf.matches(&proof) {
        return Err(resource_error(
            ErrorCode::InvalidDpopProof,
            "the DPoP proof is not signed by the key the token is bound to",
        ));
    }
    Ok(())
}

/// A fixed description for a refused proof (a `&'static str`, so it can go into a
/// challenge without escaping).
fn dpop_description(e: DpopError) -> &'static str {
    match e {
        DpopError::Replayed => "DPoP proof was already used",
        DpopError::AthMismatch => "DPoP proof ath does not match the access token",
        DpopError::StaleIat => "DPoP proof iat is not within the acceptable window",
        DpopError::UriMismatch | DpopError::MethodMismatch => {
            "DPoP proof htm or htu does not match the request"
        }
        DpopError::NotCompactJws | DpopError::NotOneHeader => {
            "send exactly one DPoP header holding a proof"
        }
        _ => "DPoP proof is invalid",
    }
}

impl crate::grant::Presenter {
    /// `client`, with the key of its `proof` if it sent one: who presents a
    /// credential at the token endpoint.
    pub fn of(client: &Client, proof: Option<&Proof>) -> Self {
        crate::grant::Presenter {
            client_id: client.id.clone(),
            jkt: proof.map(|p| p.jkt.clone()),
        }
    }
}
