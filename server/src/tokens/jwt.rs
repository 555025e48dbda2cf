//! JWT access tokens (RFC 9068) for clients whose `access_token_format` is `jwt`:
//! API gateways (Envoy, Kong, cloud gateways) verify JWTs only.
//!
//! A token is a compact JWS (RFC 7515) with the header
//! `{"alg":"EdDSA","typ":"at+jwt","kid":"k4.pid…"}`, signed with the same Ed25519
//! key ring as the PASETO tokens (RFC 8037 `EdDSA`), so one rotation covers both and
//! `kid` is the key's PASERK id everywhere. The public keys are published as a JWK
//! Set (RFC 7517, `OKP`/`Ed25519`) at `/.well-known/jwks.json`.
//!
//! Signing and verifying use ed25519-dalek, already in the tree for PASETO, rather
//! than a JWT crate: a compact JWS with one fixed algorithm is three base64url
//! parts, and accepting exactly `EdDSA` (never `none`, never an HMAC with a public
//! key) is simplest when nothing else is implemented.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{AccessClaims, AudClaim};

/// The `typ` of an RFC 9068 access token (§2.1).
pub const TYP: &str = "at+jwt";

/// The only algorithm signed and accepted (RFC 8037 §3.1).
pub const ALG: &str = "EdDSA";

/// The JOSE header.
#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

/// The claims on the wire (RFC 9068 §2.2): times as NumericDate.
#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: AudClaim,
    exp: u64,
    iat: u64,
    nbf: u64,
    jti: String,
    client_id: String,
    scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cnf: Option<crate::dpop::Cnf>,
}

/// Whether `token` looks like a JWT rather than a PASETO token (three parts, not
/// the `v4.public.` header).
pub fn is_jwt(token: &str) -> bool {
    !token.starts_with("v4.") && token.split('.').count() == 3
}

/// Signs `claims` as an RFC 9068 JWT with `key`, named `kid`.
pub fn sign(
    key: &SigningKey,
    kid: &str,
    claims: &AccessClaims,
) -> Result<String, serde_json::Error> {
    let header = serde_json::to_vec(&Header {
        alg: ALG.into(),
        typ: TYP.into(),
        kid: kid.into(),
    })?;
    let payload = serde_json::to_vec(&Claims {
        iss: claims.iss.clone(),
        sub: claims.sub.clone(),
        aud: AudClaim::of(&claims.aud),
        exp: claims.exp,
        iat: claims.iat,
        nbf: claims.nbf,
        jti: claims.jti.clone(),
        client_id: claims.client_id.clone(),
        scope: claims.scope.clone(),
        cnf: claims.cnf.clone(),
    })?;
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = key.sign(token.as_bytes()).to_bytes();
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// The `kid` of a JWT's header, if it is an `EdDSA` `at+jwt` token (the header is
/// not trusted yet: it only picks the key).
pub fn kid(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let header: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    let typ_ok = header.typ.eq_ignore_ascii_case(TYP)
        || header.typ.eq_ignore_ascii_case("application/at+jwt");
    (header.alg == ALG && typ_ok).then_some(header.kid)
}

/// Checks the signature of `token` with `key` (strict Ed25519: no malleable or
/// small-order signatures) and returns its claims.
pub fn verify(key: &VerifyingKey, token: &str) -> Option<AccessClaims> {
    let (signed, signature) = token.rsplit_once('.')?;
    let signature: [u8; 64] = URL_SAFE_NO_PAD.decode(signature).ok()?.try_into().ok()?;
    key.verify_strict(signed.as_bytes(), &Signature::from_bytes(&signature))
        .ok()?;
    claims_unverified(token)
}

/// The claims of a token whose signature was already checked (the verified cache).
pub fn claims_unverified(token: &str) -> Option<AccessClaims> {
    let payload = token.split('.').nth(1)?;
    let c: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    Some(AccessClaims {
        iss: c.iss,
        sub: c.sub,
        aud: c.aud.into_vec(),
        exp: c.exp,
        iat: c.iat,
        nbf: c.nbf,
        jti: c.jti,
        client_id: c.client_id,
        scope: c.scope,
        cnf: c.cnf,
    })
}

/// One public key as a JWK (RFC 8037 §2: `OKP`, `Ed25519`, `x`).
pub fn jwk(kid: &str, public: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(public),
        "kid": kid,
        "alg": ALG,
        "use": "sig",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AccessTokenFormat;
    use crate::tokens::KeyRing;

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: "http://x".into(),
            sub: "svc".into(),
            aud: vec!["http://api".into()],
            exp: 2_000_000_000,
            iat: 1_900_000_000,
            nbf: 1_900_000_000,
            jti: "j1".into(),
            client_id: "svc".into(),
            scope: "read".into(),
            cnf: Some(crate::dpop::Cnf { jkt: "k".into() }),
        }
    }

    fn ring() -> KeyRing {
        let secret = KeyRing::new_secret().unwrap();
        KeyRing::from_secrets(&[("mem".into(), secret)]).unwrap()
    }

    fn part(token: &str, i: usize) -> serde_json::Value {
        let raw = URL_SAFE_NO_PAD
            .decode(token.split('.').nth(i).unwrap())
            .unwrap();
        serde_json::from_slice(&raw).unwrap()
    }

    #[test]
    fn a_jwt_carries_the_rfc_9068_header_and_claims_and_verifies() {
        let ring = ring();
        let token = ring.sign_as(AccessTokenFormat::Jwt, &claims()).unwrap();
        assert!(is_jwt(&token));
        let header = part(&token, 0);
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["kid"], ring.signing_kid());
        let body = part(&token, 1);
        assert_eq!(
            (body["exp"].as_u64(), body["aud"].as_str()),
            (Some(2_000_000_000), Some("http://api"))
        );
        assert_eq!(body["cnf"]["jkt"], "k");
        assert_eq!(ring.verify(&token), Some(claims()));
        // Twice: the second answer comes from the verified cache.
        assert_eq!(ring.verify(&token), Some(claims()));
        let jwks = ring.jwks_document();
        assert_eq!(jwks["keys"][0]["kid"], ring.signing_kid());
        assert_eq!(jwks["keys"][0]["kty"], "OKP");
    }

    #[test]
    fn forged_jwts_are_refused() {
        let ring = ring();
        let token = ring.sign_as(AccessTokenFormat::Jwt, &claims()).unwrap();
        let (h, rest) = token.split_once('.').unwrap();
        let (p, s) = rest.split_once('.').unwrap();
        let enc = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let mut more = claims();
        more.scope = "read admin".into();
        let forged_body = sign(&ring.signing, ring.signing_kid(), &more).unwrap();
        let forged_p = forged_body.split('.').nth(1).unwrap();
        let kid = ring.signing_kid();
        for bad in [
            // Another payload under the original signature.
            format!("{h}.{forged_p}.{s}"),
            // alg none, no signature.
            format!(
                "{}.{p}.",
                enc(serde_json::json!({"alg":"none","typ":"at+jwt","kid":kid}))
            ),
            // An HMAC header (the public key as a secret).
            format!(
                "{}.{p}.{s}",
                enc(serde_json::json!({"alg":"HS256","typ":"at+jwt","kid":kid}))
            ),
            // Not an access token (an ID token's typ).
            format!(
                "{}.{p}.{s}",
                enc(serde_json::json!({"alg":"EdDSA","typ":"JWT","kid":kid}))
            ),
            // An unknown key.
            format!(
                "{}.{p}.{s}",
                enc(serde_json::json!({"alg":"EdDSA","typ":"at+jwt","kid":"k4.pid.x"}))
            ),
            format!("{h}.{p}"),
            format!("{h}.{p}.{s}x"),
        ] {
            assert_eq!(ring.verify(&bad), None, "{bad}");
        }
        // Another server's keys.
        assert_eq!(self::ring().verify(&token), None);
    }
}
