//! The authorization code grant at the token endpoint (RFC 6749 §4.1.3–4.1.4,
//! RFC 7636 §4.5–4.6): a code, its PKCE verifier and the same `redirect_uri`
//! become an access token and a refresh token, once.

use authgate_proto::ErrorCode;

use super::OAuthRequest;
use super::error::OAuthError;
use super::issue::{draw, refresh_binding, token_response};
use crate::dpop::Proof;
use crate::grant::{CodeRefusal, Presented};
use crate::http::response::Resp;
use crate::secrets::{keyed_token_id, sha256};
use crate::state::AppState;
use crate::store::prelude::*;
use crate::store::{Client, CodeOutcome};

/// Exchanges an authorization code for tokens.
pub async fn handle(
    state: &AppState,
    client: &Client,
    req: &OAuthRequest,
    proof: Option<&Proof>,
    now: u64,
) -> Result<Resp, OAuthError> {
    let code = req.form.require("code")?;
    let verifier = req.form.get("code_verifier").ok_or_else(|| {
        OAuthError::new(
            ErrorCode::InvalidRequest,
            "code_verifier is required (PKCE, RFC 7636)",
        )
    })?;
    let id = keyed_token_id(code).ok_or_else(unknown)?;
    let presented = Presented {
        client_id: client.id.clone(),
        redirect_uri: req.form.get("redirect_uri").map(str::to_string),
        code_verifier: verifier.to_string(),
    };
    // Identifiers only: nothing is signed until the redemption is durable.
    let mut drawn = draw(state, client, now, req.ip.to_string());
    drawn.new.dpop_jkt = refresh_binding(client, proof);
    let hash = sha256(code.as_bytes());
    match state
        .store
        .redeem_auth_code(id, hash, presented, now, drawn.new.clone())
        .await?
    {
        CodeOutcome::Issued(issue) => {
            crate::events::tokens_issued();
            token_response(state, client, &issue, &drawn, &issue.grant().scope, proof)
        }
        CodeOutcome::Refused(CodeRefusal::Reused) => {
            tracing::warn!(client = %client.id, "authorization code reused; its grant revoked");
            crate::events::code_reuse(state, &client.id, req.ip);
            Err(OAuthError::invalid_grant(
                "the authorization code was already used; what it issued has been revoked",
            ))
        }
        CodeOutcome::Refused(why) => Err(refusal(why)),
        CodeOutcome::Unknown => Err(unknown()),
    }
}

fn unknown() -> OAuthError {
    OAuthError::invalid_grant("unknown authorization code")
}

/// `invalid_grant` (RFC 6749 §5.2, RFC 7636 §4.6), with a hint for the developer.
fn refusal(why: CodeRefusal) -> OAuthError {
    OAuthError::invalid_grant(match why {
        CodeRefusal::WrongClient => "the authorization code was issued to another client",
        CodeRefusal::Reused => "the authorization code was already used",
        CodeRefusal::Expired => "the authorization code has expired",
        CodeRefusal::RedirectMismatch => {
            "redirect_uri differs from the one in the authorization request"
        }
        CodeRefusal::WrongVerifier => "code_verifier does not match the code_challenge",
        CodeRefusal::UserInactive => "the user may no longer sign in",
    })
}
