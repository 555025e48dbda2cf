//! `authgate-verify` against the real `authgate` binary: tokens from real device
//! flows verified offline with keys fetched from the running server. DPoP proofs are
//! signed here with ed25519-dalek, independently of the verifier's code.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use authgate_proto::{params, paths};
use authgate_tests::{ADMIN_PASSWORD, ADMIN_USER, DEFAULT_CLIENT, TestServer, now_unix};
use authgate_verify::dpop::DpopError;
use authgate_verify::{Verifier, VerifierConfig, VerifyError};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey};
use hyper::header::{AUTHORIZATION, HeaderValue};
use hyper::{HeaderMap, Method};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The resource the proofs are for (any URL: the verifier compares `htu` to it).
const RESOURCE: &str = "https://api.example/things";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

static JTI: AtomicU64 = AtomicU64::new(0);

/// A DPoP proof by `key` for `htm` `htu`, with `ath` over `ath_of` when given.
fn proof(key: &SigningKey, htm: &str, htu: &str, ath_of: Option<&str>) -> String {
    let header = json!({"typ": "dpop+jwt", "alg": "EdDSA",
        "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(key.verifying_key().as_bytes())}});
    let n = JTI.fetch_add(1, Ordering::Relaxed);
    let mut claims = json!({"jti": format!("rs-{}-{n}", now_unix()), "htm": htm, "htu": htu,
        "iat": now_unix()});
    if let Some(t) = ath_of {
        claims["ath"] = json!(b64(&Sha256::digest(t.as_bytes())));
    }
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

fn headers(authorization: &str, dpop: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(AUTHORIZATION, HeaderValue::from_str(authorization).unwrap());
    if let Some(p) = dpop {
        h.insert("dpop", HeaderValue::from_str(p).unwrap());
    }
    h
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn verifier(rt: &tokio::runtime::Runtime, server: &TestServer, audience: &str) -> Verifier {
    let config = VerifierConfig::new(server.base_url(), audience);
    rt.block_on(Verifier::discover(config))
        .expect("keys fetched")
}

#[test]
fn an_unbound_token_is_accepted_as_bearer_and_its_claims_checked() {
    let server = TestServer::start();
    let rt = runtime();
    let tokens = server.obtain_tokens(Some("read"));
    let token = &tokens.access_token;
    let v = verifier(&rt, &server, server.base_url());
    let get = |h: &HeaderMap, now: u64| rt.block_on(v.authorize_at(h, &Method::GET, RESOURCE, now));
    let now = now_unix();

    let claims = get(&headers(&format!("Bearer {token}"), None), now).expect("accepted");
    assert_eq!(claims.iss, server.base_url());
    // The same user the server itself reports for this token.
    let info = server.get_bearer(paths::TOKENINFO, token).json();
    assert_eq!(json!(claims.sub), info["sub"]);
    assert_eq!(claims.client_id, DEFAULT_CLIENT);
    assert!(claims.has_scope("read"));
    assert_eq!(claims.cnf, None);
    assert_eq!(Some(claims.exp - claims.iat), tokens.expires_in);

    // Expired, past the 5 s leeway (the clock is moved, nothing sleeps); within it,
    // still good.
    let bearer = headers(&format!("Bearer {token}"), None);
    assert!(get(&bearer, claims.exp + 4).is_ok());
    let e = get(&bearer, claims.exp + 5).unwrap_err();
    assert_eq!(e, VerifyError::Expired);
    assert_eq!(e.status(), 401);
    assert!(
        e.www_authenticate(None)
            .starts_with(r#"Bearer error="invalid_token""#)
    );
    assert_eq!(
        get(&bearer, claims.nbf - 6).unwrap_err(),
        VerifyError::NotYetValid
    );

    // Another resource server's audience, another issuer's verifier.
    let other = verifier(&rt, &server, "https://other-api.example");
    let e = rt
        .block_on(other.authorize_at(&bearer, &Method::GET, RESOURCE, now))
        .unwrap_err();
    assert_eq!(e, VerifyError::WrongAudience);

    // An unbound token with the DPoP scheme; garbage; a tampered signature; none.
    let key = SigningKey::from_bytes(&[7; 32]);
    let p = proof(&key, "GET", RESOURCE, Some(token));
    let e = get(&headers(&format!("DPoP {token}"), Some(&p)), now).unwrap_err();
    assert_eq!(e, VerifyError::UnboundTokenAsDpop);
    let e = get(&headers("Bearer v4.public.nonsense", None), now).unwrap_err();
    assert_eq!(e, VerifyError::Malformed);
    let mut forged = token.clone().into_bytes();
    let i = forged.iter().position(|&b| b == b'.').unwrap() + 12;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let e = get(&headers(&format!("Bearer {forged}"), None), now).unwrap_err();
    assert!(
        matches!(e, VerifyError::BadSignature | VerifyError::Malformed),
        "{e:?}"
    );
    let e = get(&HeaderMap::new(), now).unwrap_err();
    assert_eq!(e, VerifyError::MissingToken);
    assert_eq!(
        e.www_authenticate(None),
        r#"Bearer, DPoP algs="EdDSA ES256""#
    );
}

/// A device flow whose tokens are bound to `key` at the token endpoint.
fn bound_tokens(server: &TestServer, key: &SigningKey) -> String {
    let code = server.device_code(None);
    let mut b = server.browser();
    b.login(ADMIN_USER, ADMIN_PASSWORD);
    b.approve(&code.user_code);
    let p = proof(key, "POST", &server.url(paths::TOKEN), None);
    let pairs = [
        (params::GRANT_TYPE, params::GRANT_TYPE_DEVICE_CODE),
        (params::DEVICE_CODE, code.device_code.as_str()),
        (params::CLIENT_ID, DEFAULT_CLIENT),
    ];
    let r = server.raw(
        "POST",
        paths::TOKEN,
        Some("application/x-www-form-urlencoded"),
        authgate_tests::encode_form(&pairs).into_bytes(),
        &[("DPoP", &p)],
    );
    let tokens = r.tokens();
    assert_eq!(tokens.token_type, "DPoP");
    tokens.access_token
}

fn jkt(key: &SigningKey) -> String {
    authgate_verify::dpop::ed25519_thumbprint(&key.verifying_key())
}

#[test]
fn a_bound_token_needs_a_fresh_proof_by_its_key() {
    let server = TestServer::start();
    let rt = runtime();
    let device = SigningKey::from_bytes(&[1; 32]);
    let thief = SigningKey::from_bytes(&[2; 32]);
    let token = bound_tokens(&server, &device);
    let v = verifier(&rt, &server, server.base_url());
    let get = |h: &HeaderMap| rt.block_on(v.authorize(h, &Method::GET, RESOURCE));
    let dpop = |p: &str| headers(&format!("DPoP {token}"), Some(p));

    // With its key's proof: accepted, cnf says which key.
    let p = proof(&device, "GET", RESOURCE, Some(&token));
    let claims = get(&dpop(&p)).expect("accepted");
    assert_eq!(claims.cnf.map(|c| c.jkt), Some(jkt(&device)));
    // The same proof again: a replay.
    let e = get(&dpop(&p)).unwrap_err();
    assert_eq!(e, VerifyError::Proof(DpopError::Replayed));
    assert!(
        e.www_authenticate(None)
            .starts_with(r#"DPoP error="invalid_dpop_proof""#)
    );
    // As a bearer token, even with a proof: refused.
    let p = proof(&device, "GET", RESOURCE, Some(&token));
    let e = get(&headers(&format!("Bearer {token}"), Some(&p))).unwrap_err();
    assert_eq!(e, VerifyError::BoundTokenAsBearer);
    assert!(
        e.www_authenticate(None)
            .starts_with(r#"DPoP error="invalid_token""#)
    );
    // A proof whose ath is another token's hash, or has none.
    let p = proof(&device, "GET", RESOURCE, Some("v4.public.another"));
    let e = get(&dpop(&p)).unwrap_err();
    assert_eq!(e, VerifyError::Proof(DpopError::AthMismatch));
    let p = proof(&device, "GET", RESOURCE, None);
    assert_eq!(
        get(&dpop(&p)).unwrap_err(),
        VerifyError::Proof(DpopError::AthMismatch)
    );
    // Another key's proof; another method or URL; no proof at all.
    let p = proof(&thief, "GET", RESOURCE, Some(&token));
    assert_eq!(get(&dpop(&p)).unwrap_err(), VerifyError::ProofKeyMismatch);
    let p = proof(&device, "POST", RESOURCE, Some(&token));
    assert_eq!(
        get(&dpop(&p)).unwrap_err(),
        VerifyError::Proof(DpopError::MethodMismatch)
    );
    let p = proof(&device, "GET", "https://api.example/other", Some(&token));
    assert_eq!(
        get(&dpop(&p)).unwrap_err(),
        VerifyError::Proof(DpopError::UriMismatch)
    );
    let e = get(&headers(&format!("DPoP {token}"), None)).unwrap_err();
    assert_eq!(e, VerifyError::Proof(DpopError::NotOneHeader));
    // The refusals did not spend the device's next proof.
    let p = proof(&device, "GET", RESOURCE, Some(&token));
    assert!(get(&dpop(&p)).is_ok());
}

fn kid_of(token: &str) -> String {
    let footer = token.rsplit('.').next().unwrap();
    let v: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(footer).unwrap()).unwrap();
    v["kid"].as_str().unwrap().to_owned()
}

#[test]
fn a_rotated_key_is_fetched_when_a_token_names_it_at_most_every_interval() {
    let server = TestServer::start();
    let rt = runtime();
    let tokens = server.obtain_tokens(None);
    let eager = {
        let mut config = VerifierConfig::new(server.base_url(), server.base_url());
        config.refresh_min_interval = Duration::ZERO;
        rt.block_on(Verifier::discover(config)).unwrap()
    };
    // The default: at most one refetch per 30 s, and it has just fetched.
    let patient = verifier(&rt, &server, server.base_url());
    let bearer = |t: &str| headers(&format!("Bearer {t}"), None);
    for v in [&eager, &patient] {
        assert!(
            rt.block_on(v.authorize(&bearer(&tokens.access_token), &Method::GET, RESOURCE))
                .is_ok()
        );
    }

    // Through the admin socket: the running server reloads its keys and signs with the new one.
    let out = authgate_tests::run_admin(server.data_dir(), &["key", "rotate"]);
    assert!(out.success, "{out:?}");
    let new_kid = out.field("kid").expect("kid");
    let r = server.refresh(tokens.refresh());
    let fresh = r.tokens().access_token;
    assert_eq!(kid_of(&fresh), new_kid);
    assert!(!eager.kids().contains(&new_kid));

    let claims = rt
        .block_on(eager.authorize(&bearer(&fresh), &Method::GET, RESOURCE))
        .expect("new key fetched");
    assert_eq!(claims.client_id, DEFAULT_CLIENT);
    assert!(eager.kids().contains(&new_kid));
    // The old key is still published, so older tokens keep verifying.
    assert!(
        rt.block_on(eager.authorize(&bearer(&tokens.access_token), &Method::GET, RESOURCE))
            .is_ok()
    );
    // Within its interval the other verifier does not refetch: an unknown key.
    let e = rt
        .block_on(patient.authorize(&bearer(&fresh), &Method::GET, RESOURCE))
        .unwrap_err();
    assert_eq!(e, VerifyError::UnknownKey);
    assert!(!patient.kids().contains(&new_kid));
}

/// The `protect` example (built by `cargo test` with the tests), run as a process.
struct Example(std::process::Child);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_protect_example_serves_a_token_holder_and_challenges_everyone_else() {
    use std::io::{BufRead as _, BufReader};
    use std::process::{Command, Stdio};

    let server = TestServer::start();
    let tokens = server.obtain_tokens(Some("read"));
    // The example in the profile directory this test binary runs from
    // (target/debug/deps/e2e-… → target/debug/examples/protect), wherever the authgate
    // binary under test comes from (AUTHGATE_BIN). `cargo test` only checks examples:
    // build it first (`cargo build -p authgate-verify --examples`, as test-all does).
    let exe = std::env::current_exe()
        .expect("the test binary's path")
        .parent()
        .and_then(|deps| deps.parent())
        .expect("a cargo profile directory")
        .join("examples")
        .join("protect");
    let mut child = Command::new(exe)
        .args(["--issuer", server.base_url(), "--listen", "127.0.0.1:0"])
        .args(["--scope", "read"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("the protect example: cargo build -p authgate-verify --examples");
    let stderr = child.stderr.take().unwrap();
    let example = Example(child);
    let base = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("protecting ").map(str::to_owned))
        .expect("the example's address");
    let url = format!("{}hello", base);

    let r = server
        .http()
        .get(&url)
        .bearer_auth(&tokens.access_token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
    assert_eq!(v["client_id"], json!(DEFAULT_CLIENT));
    assert_eq!(v["dpop_bound"], json!(false));

    let r = server.http().get(&url).send().unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        r#"Bearer, DPoP algs="EdDSA ES256""#
    );
    let r = server
        .http()
        .get(&url)
        .bearer_auth("v4.public.forged")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_token""#),
        "{challenge}"
    );
    drop(example);
}
