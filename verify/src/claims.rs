//! The claims of an AuthGate access token, as a resource server uses them.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::dpop::Cnf;

/// What a verified token says: who (`sub`), what they may do (`scope`), through which
/// client, until when, and the DPoP key it is bound to. Times are Unix seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// The issuer (the AuthGate base URL); already checked.
    pub iss: String,
    /// The user the token was issued for.
    pub sub: String,
    /// The audiences; the verifier's audience is among them.
    pub aud: Vec<String>,
    /// Expiry.
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// Not before.
    pub nbf: u64,
    /// The token's unique id (for logs and revocation lists).
    pub jti: String,
    /// The OAuth client the token was issued to.
    pub client_id: String,
    /// Granted scopes, space-separated (see [`Claims::has_scope`]).
    pub scope: String,
    /// The DPoP key the token is bound to; `Some` only when a proof by that key was
    /// checked with this request.
    pub cnf: Option<Cnf>,
}

impl Claims {
    /// Whether `scope` is one of the granted scopes (exact, space-separated list).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }
}

/// `aud` is a string for one audience, an array for several.
#[derive(Deserialize)]
#[serde(untagged)]
enum Aud {
    One(String),
    Many(Vec<String>),
}

/// The token payload on the wire: PASETO's registered times are RFC 3339.
#[derive(Deserialize)]
struct Payload {
    iss: String,
    sub: String,
    aud: Aud,
    exp: String,
    iat: String,
    nbf: String,
    jti: String,
    client_id: String,
    scope: String,
    #[serde(default)]
    cnf: Option<Cnf>,
}

fn unix(rfc3339: &str) -> Option<u64> {
    let t = OffsetDateTime::parse(rfc3339, &Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp()).ok()
}

impl Claims {
    /// The claims of a payload whose signature has been checked; `None` if it is
    /// not an AuthGate access token payload.
    pub(crate) fn from_payload(payload: &[u8]) -> Option<Self> {
        let p: Payload = serde_json::from_slice(payload).ok()?;
        Some(Claims {
            iss: p.iss,
            sub: p.sub,
            aud: match p.aud {
                Aud::One(a) => vec![a],
                Aud::Many(v) => v,
            },
            exp: unix(&p.exp)?,
            iat: unix(&p.iat)?,
            nbf: unix(&p.nbf)?,
            jti: p.jti,
            client_id: p.client_id,
            scope: p.scope,
            cnf: p.cnf,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_one_or_many_audiences_and_cnf() {
        let one = br#"{"iss":"i","sub":"u","aud":"a","exp":"2026-01-01T00:00:10Z","iat":"2026-01-01T00:00:00Z","nbf":"2026-01-01T00:00:00Z","jti":"j","client_id":"c","scope":"read write"}"#;
        let c = Claims::from_payload(one).expect("claims");
        assert_eq!(c.aud, vec!["a".to_string()]);
        assert_eq!(c.exp - c.iat, 10);
        assert!(c.has_scope("write") && !c.has_scope("wri"));
        assert_eq!(c.cnf, None);
        let many = br#"{"iss":"i","sub":"u","aud":["a","b"],"exp":"2026-01-01T00:00:10Z","iat":"2026-01-01T00:00:00Z","nbf":"2026-01-01T00:00:00Z","jti":"j","client_id":"c","scope":"","cnf":{"jkt":"x"}}"#;
        let c = Claims::from_payload(many).expect("claims");
        assert_eq!(c.aud.len(), 2);
        assert_eq!(c.cnf, Some(Cnf { jkt: "x".into() }));
        assert!(Claims::from_payload(b"{}").is_none());
    }
}
