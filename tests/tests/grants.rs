//! Issue 16 against the real binary: the client credentials grant (RFC 6749 §4.4)
//! and JWT access tokens (RFC 9068) verified from `/.well-known/jwks.json`, with
//! introspection, revocation, tokeninfo and DPoP as for PASETO tokens; and
//! third-party libraries (requests-oauthlib, PyJWT) doing the same.

use std::process::Command;

use authgate_proto::{params, paths};
use authgate_tests::ops::cli;
use authgate_tests::{ADMIN_PASSWORD, ADMIN_USER, DataDir, Reply, TestServer, now_unix};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The resource server that introspects, and the audience the services' tokens name.
const RS: &str = "rs";
const API: &str = "https://api.example";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Runs `client add` (the server not yet running); the secret for a confidential one.
fn add(dir: &DataDir, args: &[&str]) -> Option<String> {
    let out = dir.run_admin(&[&["client", "add"][..], args].concat());
    assert!(out.success, "{args:?}: {out:?}");
    out.field("client_secret")
}

/// Adds the confidential service client `svc` (client credentials, audience
/// [`API`]) with `extra` flags; returns its secret.
fn add_service(dir: &DataDir, extra: &[&str]) -> String {
    let mut args = vec![
        "svc",
        "--confidential",
        "--grant-type",
        "client_credentials",
        "--audience",
        API,
    ];
    args.extend_from_slice(extra);
    add(dir, &args).expect("a confidential client has a secret")
}

/// The client credentials grant with HTTP Basic authentication.
fn client_credentials(server: &TestServer, id: &str, secret: &str, scope: Option<&str>) -> Reply {
    let mut pairs = vec![(params::GRANT_TYPE, "client_credentials")];
    if let Some(s) = scope {
        pairs.push((params::SCOPE, s));
    }
    server.post_form_basic(paths::TOKEN, &pairs, Some((id, secret)))
}

/// A JWT's decoded header and claims.
fn jwt_parts(token: &str) -> (Value, Value) {
    let part = |i: usize| -> Value {
        let raw = URL_SAFE_NO_PAD
            .decode(token.split('.').nth(i).expect("three parts"))
            .expect("base64url");
        serde_json::from_slice(&raw).expect("JSON")
    };
    (part(0), part(1))
}

/// Checks a JWT's signature with the key its `kid` names in the server's JWKS only.
fn verify_with_jwks(server: &TestServer, token: &str) -> Value {
    let (header, claims) = jwt_parts(token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "EdDSA");
    let jwks = server.get(paths::JWKS).json();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap_or_else(|| panic!("kid {} not in {jwks}", header["kid"]));
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    let x: [u8; 32] = URL_SAFE_NO_PAD
        .decode(jwk["x"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let (signed, sig) = token.rsplit_once('.').unwrap();
    let sig: [u8; 64] = URL_SAFE_NO_PAD.decode(sig).unwrap().try_into().unwrap();
    VerifyingKey::from_bytes(&x)
        .unwrap()
        .verify_strict(signed.as_bytes(), &Signature::from_bytes(&sig))
        .expect("signature verifies with the JWKS key");
    claims
}

#[test]
fn client_credentials_gives_a_scoped_token_without_refresh_and_refuses_the_rest() {
    let dir = DataDir::new();
    let svc = add_service(&dir, &["--scopes", "read write"]);
    let rs = add(&dir, &[RS, "--confidential", "--audience", API]).unwrap();
    let plain = add(&dir, &["plain", "--confidential", "--scopes", "read"]).unwrap();
    add(&dir, &["tv", "--scopes", "read"]);
    let busy = add(
        &dir,
        &[
            "busy",
            "--confidential",
            "--grant-type",
            "client_credentials",
        ],
    )
    .unwrap();
    let server = TestServer::start_in(dir, &[], &[]);

    let meta = server.get(paths::METADATA).json();
    let grants = meta["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&json!("client_credentials")), "{meta}");
    assert_eq!(
        meta["jwks_uri"],
        format!("{}{}", server.base_url(), paths::JWKS)
    );

    let r = client_credentials(&server, "svc", &svc, Some("read"));
    r.assert_no_store();
    let t = r.tokens();
    assert_eq!(
        (t.token_type.as_str(), t.scope.as_deref()),
        ("Bearer", Some("read"))
    );
    assert!(
        t.refresh_token.is_none(),
        "no refresh token (RFC 6749 §4.4.3): {}",
        t.raw
    );
    assert!(
        t.access_token.starts_with("v4.public."),
        "PASETO by default"
    );
    let info = server.introspect(RS, &rs, &t.access_token).json();
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(
        (info["sub"].as_str(), info["client_id"].as_str()),
        (Some("svc"), Some("svc"))
    );
    assert_eq!(
        (info["scope"].as_str(), info["aud"].as_str()),
        (Some("read"), Some(API))
    );
    assert!(info.get("username").is_none(), "no user: {info}");
    // No scope asked: all of the client's.
    let all = client_credentials(&server, "svc", &svc, None).tokens();
    assert_eq!(all.scope.as_deref(), Some("read write"));

    // Refusals, each with RFC 6749 §5.2's error.
    client_credentials(&server, "svc", &svc, Some("read admin")).assert_error(400, "invalid_scope");
    client_credentials(&server, "svc", "wrong-secret", None).assert_error(401, "invalid_client");
    client_credentials(&server, "nobody", "x", None).assert_error(401, "invalid_client");
    client_credentials(&server, "plain", &plain, None).assert_error(400, "unauthorized_client");
    server
        .post_form(
            paths::TOKEN,
            &[
                (params::GRANT_TYPE, "client_credentials"),
                (params::CLIENT_ID, "tv"),
            ],
        )
        .assert_error(400, "unauthorized_client");

    // Revoked by its owner: inactive at once.
    server
        .post_form_basic(
            paths::REVOCATION,
            &[(params::TOKEN, t.access_token.as_str())],
            Some(("svc", &svc)),
        )
        .assert_status(200);
    let info = server.introspect(RS, &rs, &t.access_token).json();
    assert_eq!(info["active"], false, "{info}");

    // Rate limited per client: 120 a minute, then 429 with Retry-After; another
    // client is not affected.
    let mut answered = 0;
    let refused = loop {
        let r = client_credentials(&server, "busy", &busy, None);
        if r.status != 200 {
            break r;
        }
        answered += 1;
        assert!(answered <= 120, "no limit");
    };
    assert_eq!(answered, 120);
    refused.assert_error(429, "temporarily_unavailable");
    assert!(refused.header("retry-after").is_some());
    client_credentials(&server, "svc", &svc, None).assert_status(200);

    // Audited.
    let audit = cli(server.data_dir(), &["audit"], None, &[]);
    assert!(
        audit.stdout.contains("client_credentials_issued"),
        "{audit:?}"
    );
}

/// A device's DPoP key (RFC 9449), as in tests/tests/dpop.rs.
struct Key(SigningKey);

impl Key {
    fn jkt(&self) -> String {
        let x = b64(self.0.verifying_key().as_bytes());
        b64(&Sha256::digest(
            format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#).as_bytes(),
        ))
    }

    fn proof(&self, htm: &str, htu: &str, token: Option<&str>) -> String {
        let jwk =
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64(self.0.verifying_key().as_bytes())});
        let header = json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": jwk});
        let mut claims = json!({"jti": format!("g-{}-{htm}-{}", now_unix(), token.is_some()), "htm": htm, "htu": htu, "iat": now_unix()});
        if let Some(t) = token {
            claims["ath"] = json!(b64(&Sha256::digest(t.as_bytes())));
        }
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self.0.sign(input.as_bytes());
        format!("{input}.{}", b64(&sig.to_bytes()))
    }
}

#[test]
fn jwt_access_tokens_verify_from_the_jwks_and_introspect_revoke_refresh_and_bind() {
    let dir = DataDir::new();
    add(
        &dir,
        &[
            "gw-tv",
            "--scopes",
            "read",
            "--access-token-format",
            "jwt",
            "--audience",
            API,
        ],
    );
    let rs = add(&dir, &[RS, "--confidential", "--audience", API]).unwrap();
    let svc = add_service(&dir, &["--access-token-format", "jwt"]);
    let server = TestServer::start_in(dir, &[], &[]);

    // A device flow whose client wants JWTs.
    let code = server.device_code_as("gw-tv", Some("read"));
    let mut b = server.browser();
    b.login(ADMIN_USER, ADMIN_PASSWORD);
    b.approve(&code.user_code);
    let t = server.poll_as("gw-tv", &code.device_code).tokens();
    let claims = verify_with_jwks(&server, &t.access_token);
    assert_eq!(claims["iss"], server.base_url());
    assert_eq!(claims["aud"], API);
    assert_eq!(
        (claims["client_id"].as_str(), claims["scope"].as_str()),
        (Some("gw-tv"), Some("read"))
    );
    let now = now_unix();
    let exp = claims["exp"].as_u64().unwrap();
    assert!(
        claims["iat"].as_u64().unwrap() <= now && exp > now,
        "{claims}"
    );
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    // The same kid names the key at /oauth/keys (one ring, one rotation).
    let (header, _) = jwt_parts(&t.access_token);
    let paserk = server.get(paths::KEYS).json();
    assert!(
        paserk["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == header["kid"])
    );

    // Introspection and tokeninfo treat it like a PASETO token.
    let info = server.introspect(RS, &rs, &t.access_token).json();
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(info["username"], ADMIN_USER);
    let bearer = format!("Bearer {}", t.access_token);
    server
        .raw(
            "GET",
            paths::TOKENINFO,
            None,
            Vec::new(),
            &[("Authorization", &bearer)],
        )
        .assert_status(200);
    // A refresh gives a new JWT.
    let refreshed = server
        .post_form(
            paths::TOKEN,
            &[
                (params::GRANT_TYPE, params::GRANT_TYPE_REFRESH_TOKEN),
                (params::REFRESH_TOKEN, t.refresh_token.as_deref().unwrap()),
                (params::CLIENT_ID, "gw-tv"),
            ],
        )
        .tokens();
    verify_with_jwks(&server, &refreshed.access_token);
    // Revoked (RFC 7009, keyed by jti as for PASETO): inactive everywhere.
    server
        .post_form(
            paths::REVOCATION,
            &[
                (params::TOKEN, t.access_token.as_str()),
                (params::CLIENT_ID, "gw-tv"),
            ],
        )
        .assert_status(200);
    assert_eq!(
        server.introspect(RS, &rs, &t.access_token).json()["active"],
        false
    );
    server
        .raw(
            "GET",
            paths::TOKENINFO,
            None,
            Vec::new(),
            &[("Authorization", &bearer)],
        )
        .assert_status(401);
    // A forged JWT (claims changed under the original signature) is not ours.
    let (h, rest) = refreshed.access_token.split_once('.').unwrap();
    let (_, sig) = rest.rsplit_once('.').unwrap();
    let mut forged_claims = jwt_parts(&refreshed.access_token).1;
    forged_claims["scope"] = json!("read admin");
    let forged = format!("{h}.{}.{sig}", b64(forged_claims.to_string().as_bytes()));
    assert_eq!(server.introspect(RS, &rs, &forged).json()["active"], false);

    // DPoP-bound JWT by the client credentials grant: cnf.jkt, DPoP token type,
    // and only good with a proof by that key.
    let key = Key(SigningKey::from_bytes(&[7; 32]));
    let token_url = server.url(paths::TOKEN);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("svc:{svc}"))
    );
    let r = server.raw(
        "POST",
        paths::TOKEN,
        Some("application/x-www-form-urlencoded"),
        b"grant_type=client_credentials".to_vec(),
        &[
            ("DPoP", &key.proof("POST", &token_url, None)),
            ("Authorization", &basic),
        ],
    );
    let bound = r.tokens();
    assert_eq!(bound.token_type, "DPoP");
    let claims = verify_with_jwks(&server, &bound.access_token);
    assert_eq!(claims["cnf"]["jkt"], key.jkt());
    assert_eq!(claims["sub"], "svc");
    let info = server.introspect(RS, &rs, &bound.access_token).json();
    assert_eq!(info["cnf"]["jkt"], key.jkt(), "{info}");
    let info_url = server.url(paths::TOKENINFO);
    let dpop_auth = format!("DPoP {}", bound.access_token);
    server
        .raw(
            "GET",
            paths::TOKENINFO,
            None,
            Vec::new(),
            &[
                ("Authorization", &dpop_auth),
                (
                    "DPoP",
                    &key.proof("GET", &info_url, Some(&bound.access_token)),
                ),
            ],
        )
        .assert_status(200);
    let as_bearer = format!("Bearer {}", bound.access_token);
    server
        .raw(
            "GET",
            paths::TOKENINFO,
            None,
            Vec::new(),
            &[("Authorization", &as_bearer)],
        )
        .assert_status(401);
}

/// `scripts/grants-interop.sh` (in the test command) sets up the Python libraries
/// and runs this with `AUTHGATE_REQUIRE_GRANTS_PYTHON=1`; without that, it is
/// skipped where they are absent.
#[test]
fn third_party_libraries_get_a_token_and_verify_the_jwt() {
    let python = std::env::var("GRANTS_PYTHON")
        .unwrap_or_else(|_| "/tmp/authgate-grants-venv/bin/python".to_owned());
    let present = Command::new(&python)
        .args(["-c", "import jwt, requests_oauthlib, cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        assert!(
            std::env::var_os("AUTHGATE_REQUIRE_GRANTS_PYTHON").is_none(),
            "PyJWT and requests-oauthlib are required but {python} cannot import them"
        );
        eprintln!(
            "skipped: no PyJWT/requests-oauthlib at {python} (scripts/grants-interop.sh sets them up)"
        );
        return;
    }
    let dir = DataDir::new();
    let svc = add_service(
        &dir,
        &["--scopes", "read write", "--access-token-format", "jwt"],
    );
    let rs = add(&dir, &[RS, "--confidential", "--audience", API]).unwrap();
    let server = TestServer::start_in(dir, &[], &[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/grants_interop.py");
    let out = Command::new(&python)
        .args([script, "cc", server.base_url(), "svc", &svc, API])
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = stdout
        .lines()
        .find_map(|l| l.strip_prefix("OK "))
        .unwrap_or_else(|| panic!("no OK line: {stdout}"));
    // The token the library got is live at introspection.
    let info = server.introspect(RS, &rs, token).json();
    assert_eq!(
        (info["active"].as_bool(), info["sub"].as_str()),
        (Some(true), Some("svc"))
    );
}
