//! Offline verification of access tokens with `pasetors` from the published PASERK
//! document only, and the RFC 8414 metadata that points at it.

mod support;

use authgate_tests::{DEFAULT_CLIENT, TestServer, now_unix, params, paths, scope_set};
use pasetors::claims::ClaimsValidationRules;
use pasetors::keys::{AsymmetricKeyPair, AsymmetricPublicKey, Generate};
use pasetors::paserk::FormatAsPaserk;
use pasetors::token::UntrustedToken;
use pasetors::version4::V4;
use pasetors::{Public, public};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn rfc3339(v: &Value, claim: &str) -> i64 {
    let s = v[claim]
        .as_str()
        .unwrap_or_else(|| panic!("claim {claim} must be an RFC 3339 string (PASETO): {v}"));
    OffsetDateTime::parse(s, &Rfc3339)
        .unwrap_or_else(|e| panic!("claim {claim}={s:?} is not RFC 3339: {e}"))
        .unix_timestamp()
}

#[test]
fn access_token_verifies_offline_with_published_paserk() {
    let server = TestServer::start_with(&["--access-token-ttl", "120"], &[]);
    let base = server.base_url().to_owned();
    let t = server.obtain_tokens(Some("read profile"));
    assert_eq!(t.expires_in, Some(120));

    // The document: every key is k4.public with its own k4.pid id.
    let keys = support::published_keys(&server);
    assert!(!keys.is_empty());
    for (kid, paserk) in &keys {
        assert!(kid.starts_with("k4.pid."), "{kid}");
        assert!(paserk.starts_with("k4.public."), "{paserk}");
        let pk = AsymmetricPublicKey::<V4>::try_from(paserk.as_str()).expect("PASERK parses");
        assert_eq!(
            &support::key_id(&pk),
            kid,
            "kid is the PASERK id of the key"
        );
        let mut again = String::new();
        pk.fmt(&mut again).unwrap();
        assert_eq!(&again, paserk, "PASERK round-trips");
    }

    // Footer is exactly {"kid":"k4.pid…"}.
    let untrusted = UntrustedToken::<Public, V4>::try_from(t.access_token.as_str()).unwrap();
    let footer: Value = serde_json::from_slice(untrusted.untrusted_footer()).unwrap();
    let kid = footer["kid"].as_str().expect("kid in footer").to_owned();
    assert!(kid.starts_with("k4.pid."));
    assert_eq!(footer.as_object().unwrap().len(), 1, "footer {footer}");

    // Verifies with pasetors (signature + exp/nbf/iat + iss).
    let verified =
        support::verify_with(&keys, &t.access_token, Some(&base)).expect("token verifies");
    assert_eq!(verified.kid, kid);
    let c = &verified.claims;
    assert_eq!(c["iss"], base.as_str(), "{c}");
    assert!(c["sub"].as_str().is_some_and(|s| !s.is_empty()), "{c}");
    match &c["aud"] {
        Value::String(s) => assert!(!s.is_empty()),
        Value::Array(a) => assert!(!a.is_empty()),
        other => panic!("aud missing or odd: {other}"),
    }
    assert!(c["jti"].as_str().is_some_and(|s| s.len() >= 16), "{c}");
    assert_eq!(c["client_id"], DEFAULT_CLIENT, "{c}");
    assert_eq!(
        scope_set(c["scope"].as_str().expect("scope claim")),
        scope_set("read profile")
    );
    let (exp, iat, nbf) = (rfc3339(c, "exp"), rfc3339(c, "iat"), rfc3339(c, "nbf"));
    let now = now_unix() as i64;
    assert_eq!(exp - iat, 120, "exp - iat is --access-token-ttl");
    assert!(
        nbf <= now && iat <= now && iat > now - 60,
        "iat {iat} nbf {nbf} now {now}"
    );

    // Every token has its own jti.
    let t2 = server.refresh(t.refresh()).tokens();
    let c2 = support::verify_with(&keys, &t2.access_token, Some(&base))
        .expect("refreshed token verifies")
        .claims;
    assert_ne!(c2["jti"], c["jti"]);
    assert_eq!(c2["sub"], c["sub"]);

    // A tampered payload does not verify.
    let mut parts: Vec<String> = t.access_token.split('.').map(str::to_owned).collect();
    let mid = parts[2].len() / 2;
    let flipped = if &parts[2][mid..=mid] == "A" {
        "B"
    } else {
        "A"
    };
    parts[2].replace_range(mid..=mid, flipped);
    let tampered = parts.join(".");
    assert!(support::verify_with(&keys, &tampered, None).is_err());

    // Nor does it verify under a key that is not ours.
    let foreign = AsymmetricKeyPair::<V4>::generate().unwrap();
    let rules = ClaimsValidationRules::new();
    assert!(public::verify(&foreign.public, &untrusted, &rules, None, None).is_err());
}

#[test]
fn metadata_is_rfc8414_and_consistent() {
    let server = TestServer::start();
    let base = server.base_url().to_owned();
    let r = server.get(paths::METADATA);
    r.assert_status(200);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        r.header("content-type")
    );
    let m = r.json();
    assert_eq!(m["issuer"], base.as_str(), "{m}");

    let endpoint = |name: &str, path: &str| {
        let v = m[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} missing in {m}"));
        assert_eq!(v, format!("{base}{path}"), "{name}");
    };
    endpoint("token_endpoint", paths::TOKEN);
    endpoint("device_authorization_endpoint", paths::DEVICE_AUTHORIZATION);
    endpoint("revocation_endpoint", paths::REVOCATION);
    endpoint("introspection_endpoint", paths::INTROSPECTION);
    endpoint("paserk_uri", paths::KEYS);

    let list = |name: &str| -> Vec<String> {
        m[name]
            .as_array()
            .unwrap_or_else(|| panic!("{name} must be an array in {m}"))
            .iter()
            .map(|v| v.as_str().expect("string").to_owned())
            .collect()
    };
    let grants = list("grant_types_supported");
    assert!(
        grants.iter().any(|g| g == params::GRANT_TYPE_DEVICE_CODE),
        "{grants:?}"
    );
    assert!(grants.iter().any(|g| g == "refresh_token"), "{grants:?}");
    // RFC 8414 §2: REQUIRED.
    let _ = list("response_types_supported");
    if m.get("token_endpoint_auth_methods_supported").is_some() {
        let methods = list("token_endpoint_auth_methods_supported");
        assert!(
            methods.iter().any(|x| x == "none"),
            "public clients: {methods:?}"
        );
    }
    if m.get("introspection_endpoint_auth_methods_supported")
        .is_some()
    {
        let methods = list("introspection_endpoint_auth_methods_supported");
        for want in ["client_secret_basic", "client_secret_post"] {
            assert!(methods.iter().any(|x| x == want), "{methods:?}");
        }
    }
    if m.get("scopes_supported").is_some() {
        let scopes = list("scopes_supported");
        for want in ["profile", "read", "write"] {
            assert!(scopes.iter().any(|x| x == want), "{scopes:?}");
        }
    }

    // The advertised endpoints work, and the key document is where paserk_uri says.
    let keys_at = server
        .http()
        .get(m["paserk_uri"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(keys_at.status().as_u16(), 200);
    let doc: Value = serde_json::from_str(&keys_at.text().unwrap()).unwrap();
    assert!(doc["keys"].as_array().is_some_and(|k| !k.is_empty()));

    // Tokens are issued by the metadata's issuer.
    let t = server.obtain_tokens(Some("read"));
    let v = support::verify(
        &server,
        &t.access_token,
        Some(m["issuer"].as_str().unwrap()),
    )
    .expect("iss == metadata issuer");
    assert_eq!(v.claims["iss"], m["issuer"]);
}

#[test]
fn base_url_flag_sets_issuer_and_verification_uri() {
    let public = "https://auth.example.test";
    let server = TestServer::start_with(&["--base-url", public], &[]);
    let m = server.get(paths::METADATA).json();
    assert_eq!(m["issuer"], public);
    assert_eq!(m["token_endpoint"], format!("{public}{}", paths::TOKEN));
    let code = server.device_code(None);
    assert_eq!(code.verification_uri, format!("{public}/device"));
    let t = server.obtain_tokens(Some("read"));
    let v = support::verify(&server, &t.access_token, Some(public)).expect("iss is --base-url");
    assert_eq!(v.claims["iss"], public);
}
