//! Offline verification of AuthGate access tokens with `pasetors`, using only the
//! published PASERK document at `/oauth/keys`.

use authgate_tests::{TestServer, paths};
use pasetors::claims::ClaimsValidationRules;
use pasetors::keys::AsymmetricPublicKey;
use pasetors::paserk::{FormatAsPaserk, Id};
use pasetors::token::UntrustedToken;
use pasetors::version4::V4;
use pasetors::{Public, public};
use serde_json::Value;

/// A token that verified.
#[derive(Debug)]
#[allow(dead_code)]
pub struct Verified {
    /// The JSON claims.
    pub claims: Value,
    /// The `kid` from the footer.
    pub kid: String,
    /// The PASERK public key that verified it.
    pub paserk: String,
}

/// The `k4.pid.` id of a public key, computed by pasetors.
pub fn key_id(pk: &AsymmetricPublicKey<V4>) -> String {
    let mut s = String::new();
    Id::from(pk).fmt(&mut s).expect("format id");
    s
}

/// The published `{"keys":[{"kid","paserk"}]}` document.
pub fn published_keys(server: &TestServer) -> Vec<(String, String)> {
    let r = server.get(paths::KEYS);
    r.assert_status(200);
    let v = r.json();
    v["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("no keys array in {v}"))
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().expect("kid").to_owned(),
                k["paserk"].as_str().expect("paserk").to_owned(),
            )
        })
        .collect()
}

/// The footer's `kid`, read without verifying.
pub fn footer_kid(token: &str) -> String {
    let untrusted =
        UntrustedToken::<Public, V4>::try_from(token).expect("parse as v4.public token");
    let footer: Value =
        serde_json::from_slice(untrusted.untrusted_footer()).expect("footer is JSON");
    footer["kid"]
        .as_str()
        .unwrap_or_else(|| panic!("footer has no kid: {footer}"))
        .to_owned()
}

/// Verifies `token` with the key named by its footer `kid` among `keys`, validating
/// `exp`/`nbf`/`iat` (and `iss` if given).
pub fn verify_with(
    keys: &[(String, String)],
    token: &str,
    issuer: Option<&str>,
) -> Result<Verified, String> {
    let untrusted = UntrustedToken::<Public, V4>::try_from(token).map_err(|e| e.to_string())?;
    let kid = footer_kid(token);
    let (_, paserk) = keys
        .iter()
        .find(|(k, _)| *k == kid)
        .ok_or_else(|| format!("kid {kid} is not published"))?;
    let pk = AsymmetricPublicKey::<V4>::try_from(paserk.as_str()).map_err(|e| e.to_string())?;
    let computed = key_id(&pk);
    if computed != kid {
        return Err(format!(
            "kid {kid} is not the PASERK id of its key ({computed})"
        ));
    }
    let mut rules = ClaimsValidationRules::new();
    if let Some(iss) = issuer {
        rules.validate_issuer_with(iss);
    }
    let trusted =
        public::verify(&pk, &untrusted, &rules, None, None).map_err(|e| format!("{e:?}"))?;
    let claims = serde_json::from_str(trusted.payload()).map_err(|e| e.to_string())?;
    Ok(Verified {
        claims,
        kid,
        paserk: paserk.clone(),
    })
}

/// [`verify_with`] using the server's published keys.
#[allow(dead_code)]
pub fn verify(server: &TestServer, token: &str, issuer: Option<&str>) -> Result<Verified, String> {
    verify_with(&published_keys(server), token, issuer)
}
