//! The `cnf` (confirmation) claim that binds a token to a DPoP key (RFC 9449 §6,
//! RFC 7800): `"cnf": {"jkt": "<thumbprint>"}` in the PASETO claims and in
//! introspection answers.

use serde::{Deserialize, Serialize};

/// `cnf` with the RFC 7638 thumbprint of the key a token is bound to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cnf {
    /// The key's thumbprint, base64url ([`super::Proof::jkt`]).
    pub jkt: String,
}

impl Cnf {
    /// The confirmation for a verified proof's key.
    pub fn for_proof(proof: &super::Proof) -> Self {
        Cnf {
            jkt: proof.jkt.clone(),
        }
    }

    /// Whether `proof` was signed by the key this token is bound to (RFC 9449 §7.1:
    /// a bound token is only good with a proof from its key). Constant-time: the
    /// thumbprint of the legitimate key is not secret, but this costs nothing.
    pub fn matches(&self, proof: &super::Proof) -> bool {
        use subtle::ConstantTimeEq as _;
        bool::from(self.jkt.as_bytes().ct_eq(proof.jkt.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_rfc9449_section6_shows() {
        let cnf = Cnf {
            jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into(),
        };
        assert_eq!(
            serde_json::to_string(&cnf).unwrap(),
            r#"{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}"#
        );
        let proof = crate::dpop::Proof {
            jkt: cnf.jkt.clone(),
            jti: "j".into(),
            iat: 1,
        };
        assert!(cnf.matches(&proof));
        assert!(!cnf.matches(&crate::dpop::Proof {
            jkt: "other".into(),
            ..proof
        }));
    }
}
