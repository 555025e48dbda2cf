//! Authorization codes (RFC 6749 §4.1 with PKCE, RFC 7636): Issued → Redeemed,
//! and a redeemed code presented again revokes what it issued (§4.1.2).
//!
//! A code is created already approved (the person pressed Approve before it
//! existed), so its life is short: one redemption by the client it was issued
//! to, with the same `redirect_uri` it was asked with and the PKCE verifier of
//! its challenge, before it expires.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::{Grant, Issue, IssuedFor, NewTokens, Revoked, Standing};
use crate::secrets::{ct_eq, sha256};

/// An authorization code as stored, keyed by the id inside the code.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuthCode {
    /// SHA-256 of the whole code, checked in constant time.
    pub code_hash: [u8; 32],
    /// The client it was issued to.
    pub client_id: String,
    /// The `redirect_uri` of the authorization request, exactly as sent; `None`
    /// when the request left it out (RFC 6749 §4.1.3: then the token request must
    /// leave it out too).
    pub redirect_uri: Option<String>,
    /// The S256 code challenge (RFC 7636 §4.2), 43 base64url characters.
    pub code_challenge: String,
    /// Granted scopes (validated at the authorization request).
    pub scope: String,
    /// Who approved.
    pub user_id: String,
    /// Their login name at approval.
    pub username: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds; from then on the code is refused.
    pub expires_at: u64,
    /// Set once redeemed: the grant it issued, revoked if the code comes back.
    pub redeemed: Option<RedeemedWith>,
}

/// What a redeemed code issued.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RedeemedWith {
    /// Unix seconds.
    pub at: u64,
    /// The grant created by the redemption.
    pub grant_id: [u8; 16],
}

/// What the token request (RFC 6749 §4.1.3) presents with a code.
#[derive(Clone, Debug)]
pub struct Presented {
    /// The authenticated client.
    pub client_id: String,
    /// Its `redirect_uri` parameter, if any.
    pub redirect_uri: Option<String>,
    /// Its `code_verifier` (RFC 7636 §4.5).
    pub code_verifier: String,
}

/// Why a code was refused; every one is `invalid_grant` on the wire (RFC 6749 §5.2,
/// RFC 7636 §4.6), told apart for logs, audit and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeRefusal {
    /// Issued to another client.
    WrongClient,
    /// Already redeemed: what it issued is revoked.
    Reused,
    /// Past its lifetime.
    Expired,
    /// `redirect_uri` differs from the authorization request's (or is present
    /// when that one was left out, or the reverse).
    RedirectMismatch,
    /// The PKCE verifier does not match the challenge.
    WrongVerifier,
    /// The approver was disabled or deleted meanwhile.
    UserInactive,
}

/// The outcome of presenting a code.
#[derive(Debug)]
pub enum CodeRedemption {
    /// Tokens may be issued: persist the spent code and the new grant.
    Issued {
        /// The code, now marked redeemed with the new grant's id.
        code: Box<AuthCode>,
        /// The new grant and the permission to mint its tokens.
        issue: Box<Issue>,
    },
    /// A redeemed code came back: persist the revoked grant (when it still
    /// exists), and refuse.
    Reused {
        /// The grant the code issued.
        grant_id: [u8; 16],
    },
    /// Refused; nothing changes.
    Refused(CodeRefusal),
}

#[cfg(test)]
impl CodeRedemption {
    /// The refusal this outcome answers with, if it is one.
    pub fn refusal(&self) -> Option<CodeRefusal> {
        match self {
            CodeRedemption::Issued { .. } => None,
            CodeRedemption::Reused { .. } => Some(CodeRefusal::Reused),
            CodeRedemption::Refused(why) => Some(*why),
        }
    }
}

impl AuthCode {
    /// Redeems this code for `presented` at `now`, with the tokens drawn in `new`,
    /// given the approver's `standing`.
    ///
    /// Order: another client's code is refused without touching it (a client
    /// can't revoke another's tokens by replaying its code); then reuse, which
    /// holds even after expiry while the record is kept; then expiry, the
    /// redirect URI, the verifier, and the approver. A wrong verifier does not
    /// spend the code: the genuine client holding the verifier can still redeem
    /// it, and a 256-bit verifier can't be guessed in the code's minute.
    pub fn redeem(
        self,
        presented: &Presented,
        standing: Standing,
        now: u64,
        new: &NewTokens,
    ) -> CodeRedemption {
        use CodeRefusal as R;
        let refused = CodeRedemption::Refused;
        if self.client_id != presented.client_id {
            return refused(R::WrongClient);
        }
        if let Some(done) = self.redeemed {
            return CodeRedemption::Reused {
                grant_id: done.grant_id,
            };
        }
        if now >= self.expires_at {
            return refused(R::Expired);
        }
        if self.redirect_uri != presented.redirect_uri {
            return refused(R::RedirectMismatch);
        }
        if !s256_matches(&presented.code_verifier, &self.code_challenge) {
            return refused(R::WrongVerifier);
        }
        if standing == Standing::Inactive {
            return refused(R::UserInactive);
        }
        self.issue(now, new)
    }

    fn issue(mut self, now: u64, new: &NewTokens) -> CodeRedemption {
        let grant = Grant {
            id: new.grant_id,
            user_id: self.user_id.clone(),
            username: self.username.clone(),
            client_id: self.client_id.clone(),
            scope: self.scope.clone(),
            created_at: now,
            last_refreshed_at: None,
            expires_at: new.refresh_expires_at,
            current_refresh: new.refresh_hash,
            revoked: false,
            device_ip: new.device_ip.clone(),
            refresh_id: new.refresh_id,
            jti: new.jti.clone(),
            dpop_jkt: new.dpop_jkt.clone(),
            // A lost code answer is not retried (the code is reuse, RFC 6749
            // §4.1.2); the refresh tokens it yields are, like any rotation.
            issued_for: IssuedFor::Unknown,
        };
        self.redeemed = Some(RedeemedWith {
            at: now,
            grant_id: new.grant_id,
        });
        CodeRedemption::Issued {
            code: Box::new(self),
            issue: Box::new(Issue::new(grant, new, now)),
        }
    }
}

/// Revokes the grant a reused code issued (RFC 6749 §4.1.2: "SHOULD revoke (when
/// possible) all tokens previously issued based on that authorization code").
pub fn revoke_reused(grant: Grant, now: u64) -> Revoked {
    Revoked::of(grant, now)
}

/// Whether `challenge` is a well-formed S256 code challenge: the base64url
/// (unpadded) SHA-256 of a verifier is always 43 characters (RFC 7636 §4.2).
pub fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `verifier` is a well-formed code verifier (RFC 7636 §4.1: 43 to 128
/// characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`).
pub fn is_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// RFC 7636 §4.6 for `S256`: `BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) ==
/// code_challenge`, compared in constant time. A malformed verifier never matches.
pub fn s256_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()));
    is_verifier(verifier) && ct_eq(computed.as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A verifier and its S256 challenge, computed independently with Python's
    /// `base64.urlsafe_b64encode(hashlib.sha256(v).digest())`.
    const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "ngF5GsXcbwljx6u133FFr3Xht9xooA_DuaX_3QwODtc";

    fn code() -> AuthCode {
        AuthCode {
            code_hash: [7; 32],
            client_id: "cli".into(),
            redirect_uri: Some("http://127.0.0.1:5000/cb".into()),
            code_challenge: CHALLENGE.into(),
            scope: "read".into(),
            user_id: "u1".into(),
            username: "alice".into(),
            created_at: 100,
            expires_at: 160,
            redeemed: None,
        }
    }

    fn presented() -> Presented {
        Presented {
            client_id: "cli".into(),
            redirect_uri: Some("http://127.0.0.1:5000/cb".into()),
            code_verifier: VERIFIER.into(),
        }
    }

    fn new_tokens() -> NewTokens {
        NewTokens {
            grant_id: [9; 16],
            refresh_id: [3; 16],
            refresh_hash: [4; 32],
            refresh_expires_at: 10_000,
            jti: "j".into(),
            access_expires_at: 700,
            device_ip: "127.0.0.1".into(),
            dpop_jkt: None,
        }
    }

    fn refusal(c: AuthCode, p: &Presented, s: Standing, now: u64) -> Option<CodeRefusal> {
        c.redeem(p, s, now, &new_tokens()).refusal()
    }

    #[test]
    fn a_verifier_matches_its_s256_challenge_only() {
        assert!(is_s256_challenge(CHALLENGE));
        assert!(s256_matches(VERIFIER, CHALLENGE));
        assert!(!s256_matches(CHALLENGE, CHALLENGE));
        // `plain` would send the verifier itself as the challenge: never a match.
        assert!(!s256_matches(VERIFIER, VERIFIER));
        assert!(!s256_matches("short", CHALLENGE));
        assert!(!is_verifier(&"a".repeat(129)) && is_verifier(&"a~.-_".repeat(9)));
        assert!(!is_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c="
        ));
    }

    #[test]
    fn a_fresh_code_redeems_once_and_its_reuse_names_the_grant() {
        let CodeRedemption::Issued { code: spent, issue } =
            code().redeem(&presented(), Standing::Active, 120, &new_tokens())
        else {
            panic!("should issue");
        };
        assert_eq!(issue.grant().id, [9; 16]);
        assert_eq!(issue.grant().user_id, "u1");
        assert_eq!(issue.grant().scope, "read");
        assert_eq!(
            spent.redeemed,
            Some(RedeemedWith {
                at: 120,
                grant_id: [9; 16]
            })
        );
        // Reuse is reuse even after expiry, while the record is kept.
        for now in [121, 1000] {
            match spent
                .clone()
                .redeem(&presented(), Standing::Active, now, &new_tokens())
            {
                CodeRedemption::Reused { grant_id } => assert_eq!(grant_id, [9; 16]),
                other => panic!("{other:?}"),
            }
        }
        let revoked = revoke_reused(issue.grant().clone(), 130);
        assert!(revoked.grant().revoked);
    }

    #[test]
    fn every_mismatch_is_refused_in_order() {
        use CodeRefusal as R;
        let a = Standing::Active;
        let mut p = presented();
        p.client_id = "other".into();
        assert_eq!(refusal(code(), &p, a, 120), Some(R::WrongClient));
        // Another client replaying a spent code revokes nothing.
        let mut spent = code();
        spent.redeemed = Some(RedeemedWith {
            at: 1,
            grant_id: [1; 16],
        });
        assert_eq!(refusal(spent, &p, a, 120), Some(R::WrongClient));
        assert_eq!(refusal(code(), &presented(), a, 160), Some(R::Expired));
        for uri in [
            None,
            Some("http://127.0.0.1:5001/cb"),
            Some("http://127.0.0.1:5000/cb/"),
        ] {
            let mut p = presented();
            p.redirect_uri = uri.map(str::to_string);
            assert_eq!(refusal(code(), &p, a, 120), Some(R::RedirectMismatch));
        }
        let mut omitted = code();
        omitted.redirect_uri = None;
        assert_eq!(
            refusal(omitted.clone(), &presented(), a, 120),
            Some(R::RedirectMismatch)
        );
        let mut p = presented();
        p.redirect_uri = None;
        assert_eq!(refusal(omitted, &p, a, 120), None);
        let mut p = presented();
        p.code_verifier = format!("{VERIFIER}x");
        assert_eq!(refusal(code(), &p, a, 120), Some(R::WrongVerifier));
        let inactive = Standing::Inactive;
        assert_eq!(
            refusal(code(), &presented(), inactive, 120),
            Some(R::UserInactive)
        );
    }
}
