//! Why a request was refused, and the `WWW-Authenticate` challenge that says so
//! (RFC 6750 §3 for Bearer, RFC 9449 §7.1 for DPoP).

use authgate_proto::ErrorCode;

use crate::dpop::{self, DpopError};

/// The authentication scheme a challenge is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `Bearer` (RFC 6750): an unbound token.
    Bearer,
    /// `DPoP` (RFC 9449): a token bound to a key, with a proof.
    DPoP,
}

/// Why a request's token was not accepted. Each maps to an HTTP status and a
/// `WWW-Authenticate` challenge ([`VerifyError::status`], [`VerifyError::www_authenticate`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// No `Authorization` header with a Bearer or DPoP token (RFC 6750 §3.1: a bare
    /// challenge, no error code).
    #[error("no access token")]
    MissingToken,
    /// An `Authorization` header that is not `Bearer <token>` or `DPoP <token>`.
    #[error("malformed Authorization header")]
    BadAuthorization,
    /// Not a PASETO v4.public token of the expected shape (footer with a `kid`).
    #[error("the token is malformed")]
    Malformed,
    /// The token names a key the issuer does not publish (even after a refetch).
    #[error("the token's signing key is unknown")]
    UnknownKey,
    /// The signature does not verify, or the payload is not an access token.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// Issued by another issuer.
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    /// Not meant for this resource server.
    #[error("the token is not meant for this audience")]
    WrongAudience,
    /// Past its `exp` (plus the leeway).
    #[error("the token has expired")]
    Expired,
    /// Before its `nbf` (minus the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// A DPoP-bound token sent as a Bearer token (RFC 9449 §7.2): refused, or a copy
    /// of the token would work without the key.
    #[error("the token is DPoP-bound; send it with the DPoP scheme and a proof")]
    BoundTokenAsBearer,
    /// The DPoP scheme with a token that is not bound to a key.
    #[error("the token is not DPoP-bound; send it as a Bearer token")]
    UnboundTokenAsDpop,
    /// The proof is signed by another key than the token's `cnf.jkt`.
    #[error("the DPoP proof is not signed by the token's key")]
    ProofKeyMismatch,
    /// The DPoP proof is missing or invalid.
    #[error(transparent)]
    Proof(#[from] DpopError),
    /// The token lacks a scope the resource requires ([`VerifyError::www_authenticate`]
    /// names it; status 403).
    #[error("the token lacks a required scope")]
    InsufficientScope,
}

impl VerifyError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            VerifyError::BadAuthorization => 400,
            VerifyError::InsufficientScope => 403,
            _ => 401,
        }
    }

    /// The OAuth error code of the challenge; `None` when the request simply had no
    /// token (RFC 6750 §3.1).
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            VerifyError::MissingToken => None,
            VerifyError::BadAuthorization => Some(ErrorCode::InvalidRequest.as_str()),
            VerifyError::InsufficientScope => Some("insufficient_scope"),
            VerifyError::Proof(e) => Some(e.code().as_str()),
            VerifyError::ProofKeyMismatch => Some(ErrorCode::InvalidDpopProof.as_str()),
            _ => Some(ErrorCode::InvalidToken.as_str()),
        }
    }

    /// The scheme whose challenge carries the error: DPoP for proof and binding
    /// errors, Bearer otherwise.
    pub fn scheme(&self) -> Scheme {
        match self {
            VerifyError::BoundTokenAsBearer
            | VerifyError::UnboundTokenAsDpop
            | VerifyError::ProofKeyMismatch
            | VerifyError::Proof(_) => Scheme::DPoP,
            _ => Scheme::Bearer,
        }
    }

    /// The `WWW-Authenticate` value: both schemes are offered (RFC 9449 §7.1), the
    /// error on the one it concerns. `required_scope` is named on
    /// [`VerifyError::InsufficientScope`]; it must be a valid scope token (no quotes).
    /// Descriptions are this crate's fixed texts, so nothing needs escaping.
    pub fn www_authenticate(&self, required_scope: Option<&str>) -> String {
        let algs = dpop::SUPPORTED_ALGS.join(" ");
        let Some(code) = self.error_code() else {
            return format!(r#"Bearer, DPoP algs="{algs}""#);
        };
        let mut params = format!(r#"error="{code}", error_description="{self}""#);
        if let (VerifyError::InsufficientScope, Some(s)) = (self, required_scope) {
            params.push_str(&format!(r#", scope="{s}""#));
        }
        match self.scheme() {
            Scheme::Bearer => format!(r#"Bearer {params}, DPoP algs="{algs}""#),
            Scheme::DPoP => format!(r#"DPoP {params}, algs="{algs}", Bearer"#),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_follow_rfc6750_and_rfc9449() {
        assert_eq!(
            VerifyError::MissingToken.www_authenticate(None),
            r#"Bearer, DPoP algs="EdDSA ES256""#
        );
        assert_eq!(
            VerifyError::Expired.www_authenticate(None),
            r#"Bearer error="invalid_token", error_description="the token has expired", DPoP algs="EdDSA ES256""#
        );
        let e = VerifyError::Proof(DpopError::Replayed);
        assert_eq!(e.status(), 401);
        assert!(
            e.www_authenticate(None)
                .starts_with(r#"DPoP error="invalid_dpop_proof""#)
        );
        assert!(
            VerifyError::BoundTokenAsBearer
                .www_authenticate(None)
                .starts_with(r#"DPoP error="invalid_token""#)
        );
        let s = VerifyError::InsufficientScope;
        assert_eq!(s.status(), 403);
        assert!(
            s.www_authenticate(Some("write"))
                .contains(r#"scope="write""#)
        );
    }
}
