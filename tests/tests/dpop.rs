//! DPoP (RFC 9449, issue 14) end to end against the real binary: a device code
//! bound at device authorization, tokens bound at the token endpoint, bound
//! refresh, `tokeninfo` with the DPoP scheme, nonces, and every kind of bad proof.
//! Proofs are made here with ed25519-dalek (an independent signer, not the
//! server's code), and by Python's jwcrypto in
//! `a_third_party_jwcrypto_client_completes_a_bound_flow`.
//!
//! Every attack here succeeds against a server that ignores DPoP: a stolen device
//! code or refresh token redeems, a bound token works as a bearer token, a proof
//! replays.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use authgate_proto::{params, paths};
use authgate_tests::{
    ADMIN_PASSWORD, ADMIN_USER, AdminOutput, DEFAULT_CLIENT, DataDir, Reply, TestServer, now_unix,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A device's DPoP key, and the proofs it signs.
struct Key(SigningKey);

static JTI: AtomicU64 = AtomicU64::new(0);

impl Key {
    fn new(seed: u8) -> Self {
        Key(SigningKey::from_bytes(&[seed; 32]))
    }

    fn jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(self.0.verifying_key().as_bytes())})
    }

    /// RFC 7638 thumbprint.
    fn jkt(&self) -> String {
        let x = b64(self.0.verifying_key().as_bytes());
        b64(&Sha256::digest(
            format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#).as_bytes(),
        ))
    }

    /// Signs any header and claims (for malformed proofs too).
    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self.0.sign(input.as_bytes());
        format!("{input}.{}", b64(&sig.to_bytes()))
    }

    fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": self.jwk()})
    }

    fn claims(htm: &str, htu: &str, iat: u64) -> Value {
        let n = JTI.fetch_add(1, Ordering::Relaxed);
        json!({"jti": format!("e2e-{}-{n}", now_unix()), "htm": htm, "htu": htu, "iat": iat})
    }

    /// A valid proof for `htm` `htu` now, with an optional nonce and access token.
    fn proof(&self, htm: &str, htu: &str, nonce: Option<&str>, token: Option<&str>) -> String {
        let mut claims = Self::claims(htm, htu, now_unix());
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        if let Some(t) = token {
            claims["ath"] = json!(b64(&Sha256::digest(t.as_bytes())));
        }
        self.sign(&self.header(), &claims)
    }
}

fn form_with_proof(server: &TestServer, path: &str, pairs: &[(&str, &str)], proof: &str) -> Reply {
    server.raw(
        "POST",
        path,
        Some("application/x-www-form-urlencoded"),
        authgate_tests::encode_form(pairs).into_bytes(),
        &[("DPoP", proof)],
    )
}

fn device_code(server: &TestServer, client: &str, proof: Option<&str>) -> Reply {
    let pairs = [(params::CLIENT_ID, client)];
    match proof {
        Some(p) => form_with_proof(server, paths::DEVICE_AUTHORIZATION, &pairs, p),
        None => server.post_form(paths::DEVICE_AUTHORIZATION, &pairs),
    }
}

fn poll(server: &TestServer, client: &str, code: &str, proof: Option<&str>) -> Reply {
    let pairs = [
        (params::GRANT_TYPE, params::GRANT_TYPE_DEVICE_CODE),
        (params::DEVICE_CODE, code),
        (params::CLIENT_ID, client),
    ];
    match proof {
        Some(p) => form_with_proof(server, paths::TOKEN, &pairs, p),
        None => server.post_form(paths::TOKEN, &pairs),
    }
}

fn refresh(server: &TestServer, token: &str, proof: Option<&str>) -> Reply {
    let pairs = [
        (params::GRANT_TYPE, params::GRANT_TYPE_REFRESH_TOKEN),
        (params::REFRESH_TOKEN, token),
        (params::CLIENT_ID, DEFAULT_CLIENT),
    ];
    match proof {
        Some(p) => form_with_proof(server, paths::TOKEN, &pairs, p),
        None => server.post_form(paths::TOKEN, &pairs),
    }
}

fn tokeninfo_dpop(server: &TestServer, token: &str, proof: &str) -> Reply {
    server.raw(
        "GET",
        paths::TOKENINFO,
        None,
        Vec::new(),
        &[("Authorization", &format!("DPoP {token}")), ("DPoP", proof)],
    )
}

/// A server whose data directory first got these admin commands (run while it is
/// not running); their outputs.
fn server_after(admin: &[&[&str]]) -> (TestServer, Vec<AdminOutput>) {
    let dir = DataDir::new();
    let outs = admin
        .iter()
        .map(|args| {
            let out = dir.run_admin(args);
            assert!(out.success, "{args:?}: {out:?}");
            out
        })
        .collect();
    (TestServer::start_in(dir, &[], &[]), outs)
}

fn approve(server: &TestServer, user_code: &str) {
    let mut b = server.browser();
    b.login(ADMIN_USER, ADMIN_PASSWORD);
    b.approve(user_code);
}

fn str_of(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("no {k} in {v}"))
        .to_owned()
}

#[test]
fn a_bound_device_flow_refuses_thieves_and_serves_the_key_holder() {
    let (server, outs) =
        server_after(&[&["client", "add", "rs", "--confidential", "--scopes", "read"]]);
    let secret = outs[0].field("client_secret").expect("client_secret");
    let token_url = server.url(paths::TOKEN);
    let tokeninfo_url = server.url(paths::TOKENINFO);
    let device = Key::new(1);
    let thief = Key::new(2);

    // The metadata advertises DPoP.
    let meta = server.get(paths::METADATA).json();
    assert_eq!(
        meta["dpop_signing_alg_values_supported"],
        json!(["EdDSA", "ES256"])
    );

    // Device authorization with a proof binds the code; the answer carries a nonce.
    let proof = device.proof("POST", &server.url(paths::DEVICE_AUTHORIZATION), None, None);
    let r = device_code(&server, DEFAULT_CLIENT, Some(&proof));
    r.assert_status(200);
    assert!(r.header("dpop-nonce").is_some_and(|n| n.len() == 32));
    let v = r.json();
    let (code, user_code) = (str_of(&v, "device_code"), str_of(&v, "user_code"));
    approve(&server, &user_code);

    // A stolen device code: without a proof, or with another key's, it is refused
    // (and not spent).
    poll(&server, DEFAULT_CLIENT, &code, None).assert_error(400, "invalid_grant");
    let p = thief.proof("POST", &token_url, None, None);
    poll(&server, DEFAULT_CLIENT, &code, Some(&p)).assert_error(400, "invalid_grant");

    // The device redeems it with its key: a DPoP-bound access token.
    let p = device.proof("POST", &token_url, None, None);
    let r = poll(&server, DEFAULT_CLIENT, &code, Some(&p));
    let tokens = r.tokens();
    assert_eq!(tokens.token_type, "DPoP");
    assert!(r.header("dpop-nonce").is_some());
    // cnf.jkt is in the PASETO claims (the payload is readable without the key).
    let body = tokens.access_token.trim_start_matches("v4.public.");
    let body = body.split('.').next().unwrap();
    let raw = URL_SAFE_NO_PAD.decode(body).unwrap();
    let claims: Value = serde_json::from_slice(&raw[..raw.len() - 64]).unwrap();
    assert_eq!(claims["cnf"]["jkt"], json!(device.jkt()));

    // Introspection tells a resource server which key must sign.
    let i = server
        .introspect("rs", &secret, &tokens.access_token)
        .json();
    assert_eq!(i["active"], json!(true));
    assert_eq!(i["token_type"], json!("DPoP"));
    assert_eq!(i["cnf"]["jkt"], json!(device.jkt()));

    // tokeninfo: the bound token as a bearer token is worthless...
    let r = server.get_bearer(paths::TOKENINFO, &tokens.access_token);
    r.assert_error(401, "invalid_token");
    let challenge = r.header("www-authenticate").unwrap();
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(challenge.contains(r#"algs="EdDSA ES256""#), "{challenge}");
    // ... with the DPoP scheme and a proof by the thief's key too ...
    let p = thief.proof("GET", &tokeninfo_url, None, Some(&tokens.access_token));
    tokeninfo_dpop(&server, &tokens.access_token, &p).assert_error(401, "invalid_dpop_proof");
    // ... and with the device's proof but no ath.
    let p = device.proof("GET", &tokeninfo_url, None, None);
    let r = tokeninfo_dpop(&server, &tokens.access_token, &p);
    r.assert_error(401, "invalid_dpop_proof");
    assert!(r.header("www-authenticate").unwrap().contains("algs="));
    // The device's proof with ath works, once.
    let p = device.proof("GET", &tokeninfo_url, None, Some(&tokens.access_token));
    let r = tokeninfo_dpop(&server, &tokens.access_token, &p);
    r.assert_status(200);
    assert_eq!(r.json()["cnf"]["jkt"], json!(device.jkt()));
    assert_eq!(r.json()["token_type"], json!("DPoP"));
    let r = tokeninfo_dpop(&server, &tokens.access_token, &p);
    r.assert_error(401, "invalid_dpop_proof");
    assert!(r.text().contains("already used"), "{}", r.text());

    // The refresh token is bound too: without a proof or with the thief's, refused
    // and NOT rotated (nor the grant revoked) ...
    refresh(&server, tokens.refresh(), None).assert_error(400, "invalid_grant");
    let p = thief.proof("POST", &token_url, None, None);
    refresh(&server, tokens.refresh(), Some(&p)).assert_error(400, "invalid_grant");
    // ... so the device's next refresh, with its proof, still works.
    let p = device.proof("POST", &token_url, None, None);
    let again = refresh(&server, tokens.refresh(), Some(&p)).tokens();
    assert_eq!(again.token_type, "DPoP");
    assert_ne!(again.refresh(), tokens.refresh(), "rotated now");
    let i = server.introspect("rs", &secret, &again.access_token).json();
    assert_eq!(i["cnf"]["jkt"], json!(device.jkt()));
}

#[test]
fn an_unbound_flow_stays_bearer_and_a_replayed_proof_is_refused() {
    let server = TestServer::start();
    // Without DPoP nothing changes: Bearer tokens, no cnf, bearer tokeninfo.
    let tokens = server.obtain_tokens(None);
    assert_eq!(tokens.token_type, "Bearer");
    let r = server.get_bearer(paths::TOKENINFO, &tokens.access_token);
    r.assert_status(200);
    assert!(r.json().get("cnf").is_none());
    // An unbound token sent with the DPoP scheme is refused.
    let key = Key::new(3);
    let p = key.proof(
        "GET",
        &server.url(paths::TOKENINFO),
        None,
        Some(&tokens.access_token),
    );
    tokeninfo_dpop(&server, &tokens.access_token, &p).assert_error(401, "invalid_token");
    // No credentials: both challenges.
    let r = server.get(paths::TOKENINFO);
    r.assert_status(401);
    let challenges: Vec<String> = r
        .headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        challenges.iter().any(|c| c.starts_with("Bearer")),
        "{challenges:?}"
    );
    assert!(
        challenges.iter().any(|c| c.starts_with("DPoP algs=")),
        "{challenges:?}"
    );

    // The same proof twice at the device authorization endpoint.
    let p = key.proof("POST", &server.url(paths::DEVICE_AUTHORIZATION), None, None);
    device_code(&server, DEFAULT_CLIENT, Some(&p)).assert_status(200);
    let r = device_code(&server, DEFAULT_CLIENT, Some(&p));
    r.assert_error(400, "invalid_dpop_proof");
    assert!(r.text().contains("already used"), "{}", r.text());
    assert!(r.header("dpop-nonce").is_some());
}

#[test]
fn a_client_that_requires_dpop_gets_a_nonce_round_trip() {
    let (server, outs) = server_after(&[
        &["client", "add", "strict-tv", "--dpop", "required"],
        &["client", "show", "strict-tv"],
    ]);
    assert_eq!(
        outs[1].field("dpop").as_deref(),
        Some("required"),
        "{:?}",
        outs[1]
    );
    let url = server.url(paths::DEVICE_AUTHORIZATION);
    let key = Key::new(4);

    // No proof at all: refused.
    device_code(&server, "strict-tv", None).assert_error(400, "invalid_dpop_proof");
    // A proof without a nonce: use_dpop_nonce, with the nonce to use.
    let r = device_code(
        &server,
        "strict-tv",
        Some(&key.proof("POST", &url, None, None)),
    );
    r.assert_error(400, "use_dpop_nonce");
    let nonce = r.header("dpop-nonce").expect("DPoP-Nonce");
    // A forged nonce: the same.
    let forged = key.proof("POST", &url, Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), None);
    device_code(&server, "strict-tv", Some(&forged)).assert_error(400, "use_dpop_nonce");
    // With the nonce: accepted, and a fresh nonce comes back.
    let r = device_code(
        &server,
        "strict-tv",
        Some(&key.proof("POST", &url, Some(&nonce), None)),
    );
    r.assert_status(200);
    assert!(r.header("dpop-nonce").is_some());
    let code = str_of(&r.json(), "device_code");
    // A device whose clock is a day off but holds the nonce: its proof is refused
    // as stale (invalid_dpop_proof) and the answer's Date gives it the time.
    let mut claims = Key::claims("POST", &server.url(paths::TOKEN), now_unix() - 86_400);
    claims["nonce"] = json!(nonce);
    let stale = key.sign(&key.header(), &claims);
    let r = poll(&server, "strict-tv", &code, Some(&stale));
    r.assert_error(400, "invalid_dpop_proof");
    assert!(r.header("date").is_some());
    // Polling with the nonce works (pending: nobody approved yet).
    let p = key.proof("POST", &server.url(paths::TOKEN), Some(&nonce), None);
    poll(&server, "strict-tv", &code, Some(&p)).assert_error(400, "authorization_pending");
    // Another instance's nonce would be accepted too: the key is the shared meta
    // secret, so it survives a restart.
    let mut server = server;
    server.restart();
    let url = server.url(paths::DEVICE_AUTHORIZATION);
    let r = device_code(
        &server,
        "strict-tv",
        Some(&key.proof("POST", &url, Some(&nonce), None)),
    );
    r.assert_status(200);
}

#[test]
fn malformed_proofs_get_invalid_dpop_proof_and_never_a_500() {
    let server = TestServer::start();
    let key = Key::new(5);
    let url = server.url(paths::DEVICE_AUTHORIZATION);
    let good_claims = || Key::claims("POST", &url, now_unix());
    let mut jwk_with_d = key.jwk();
    jwk_with_d["d"] = json!(b64(&[7; 32]));
    let mut cases: Vec<(&str, String)> = vec![
        ("bad base64", "%%%.@@@.***".to_owned()),
        ("two parts", "eyJhIjoxfQ.eyJhIjoxfQ".to_owned()),
        (
            "wrong typ",
            key.sign(
                &json!({"typ": "JWT", "alg": "EdDSA", "jwk": key.jwk()}),
                &good_claims(),
            ),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk()})
                    .to_string()
                    .as_bytes()),
                b64(good_claims().to_string().as_bytes())
            ),
        ),
        (
            "alg none with a signature",
            key.sign(
                &json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk()}),
                &good_claims(),
            ),
        ),
        (
            "HS256",
            key.sign(
                &json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": key.jwk()}),
                &good_claims(),
            ),
        ),
        (
            "mismatched htu",
            key.sign(
                &key.header(),
                &Key::claims("POST", "https://evil.example/oauth/device/code", now_unix()),
            ),
        ),
        (
            "mismatched htm",
            key.sign(&key.header(), &Key::claims("GET", &url, now_unix())),
        ),
        (
            "oversized",
            format!("{}.{}.{}", "a".repeat(3000), "b".repeat(3000), "c"),
        ),
        (
            "private key in jwk",
            key.sign(
                &json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": jwk_with_d}),
                &good_claims(),
            ),
        ),
        (
            "stale iat",
            key.sign(&key.header(), &Key::claims("POST", &url, now_unix() - 3600)),
        ),
        (
            "iat in the future",
            key.sign(&key.header(), &Key::claims("POST", &url, now_unix() + 3600)),
        ),
        (
            "signed by another key",
            Key::new(6).sign(&key.header(), &good_claims()),
        ),
        (
            "no jti",
            key.sign(
                &key.header(),
                &json!({"htm": "POST", "htu": url, "iat": now_unix()}),
            ),
        ),
        ("not JSON", {
            let input = format!("{}.{}", b64(b"not json"), b64(b"{}"));
            format!("{input}.{}", b64(&key.0.sign(input.as_bytes()).to_bytes()))
        }),
    ];
    cases.push(("empty", String::new()));
    for (what, proof) in &cases {
        let r = device_code(&server, DEFAULT_CLIENT, Some(proof));
        assert_eq!(
            (r.status, r.error().as_deref()),
            (400, Some("invalid_dpop_proof")),
            "{what}: {}",
            r.text()
        );
    }
    // Two DPoP headers.
    let a = key.proof("POST", &url, None, None);
    let b = key.proof("POST", &url, None, None);
    let r = server.raw(
        "POST",
        paths::DEVICE_AUTHORIZATION,
        Some("application/x-www-form-urlencoded"),
        authgate_tests::encode_form(&[(params::CLIENT_ID, DEFAULT_CLIENT)]).into_bytes(),
        &[("DPoP", &a), ("DPoP", &b)],
    );
    r.assert_error(400, "invalid_dpop_proof");

    // At tokeninfo the same proofs are 401 with a DPoP challenge, never a 500.
    let code = device_code(
        &server,
        DEFAULT_CLIENT,
        Some(&key.proof("POST", &url, None, None)),
    );
    let code = code.json();
    approve(&server, &str_of(&code, "user_code"));
    let p = key.proof("POST", &server.url(paths::TOKEN), None, None);
    let tokens = poll(
        &server,
        DEFAULT_CLIENT,
        &str_of(&code, "device_code"),
        Some(&p),
    )
    .tokens();
    for (what, proof) in &cases {
        let r = tokeninfo_dpop(&server, &tokens.access_token, proof);
        assert_eq!(
            (r.status, r.error().as_deref()),
            (401, Some("invalid_dpop_proof")),
            "{what}: {}",
            r.text()
        );
        assert!(r.header("www-authenticate").unwrap().starts_with("DPoP "));
    }
    assert!(server.is_running());
}

/// A third-party client: Python's jwcrypto signs every proof of a whole bound flow
/// (device authorization, polls, tokeninfo with `ath`, refresh), driven by
/// `scripts/dpop_interop.py flow`; this test only approves in the browser.
/// `scripts/dpop-interop.sh` (in the test command) sets up jwcrypto and runs it with
/// `AUTHGATE_REQUIRE_JWCRYPTO=1`; without that, it is skipped where jwcrypto is absent.
#[test]
fn a_third_party_jwcrypto_client_completes_a_bound_flow() {
    let python = std::env::var("DPOP_PYTHON")
        .unwrap_or_else(|_| "/tmp/authgate-dpop-venv/bin/python".to_owned());
    let has_jwcrypto = Command::new(&python)
        .args(["-c", "import jwcrypto"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_jwcrypto {
        assert!(
            std::env::var_os("AUTHGATE_REQUIRE_JWCRYPTO").is_none(),
            "jwcrypto is required but {python} cannot import it"
        );
        eprintln!("skipped: no jwcrypto at {python} (scripts/dpop-interop.sh sets it up)");
        return;
    }
    let server = TestServer::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/dpop_interop.py");
    let mut child = Command::new(&python)
        .args([script, "flow", server.base_url(), DEFAULT_CLIENT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let user_code = line
        .trim()
        .strip_prefix("USER_CODE ")
        .unwrap_or_else(|| panic!("expected USER_CODE, got {line:?}"))
        .to_owned();
    approve(&server, &user_code);
    writeln!(child.stdin.as_mut().unwrap(), "approved").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "python flow failed:\n{rest}");
    assert!(
        rest.contains("dpop-interop: jwcrypto completed a bound flow"),
        "{rest}"
    );
}

/// Two instances on one PostgreSQL database behind one public URL: a device code
/// bound through A is bound on B, a proof used at A is a replay at B (the shared
/// `dpop_jtis` table), and the refresh binding holds across them.
#[test]
fn on_postgres_two_instances_share_bindings_and_replays() {
    let pg = authgate_tests::pg::PgCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let public = "http://authgate.test";
    let args = ["--database-url", &pg.url(), "--base-url", public];
    let a = TestServer::start_with(&args, &[]);
    let b = TestServer::start_with(&args, &[]);
    let device = Key::new(7);
    let htu = |path: &str| format!("{public}{path}");

    let p1 = device.proof("POST", &htu(paths::DEVICE_AUTHORIZATION), None, None);
    let r = device_code(&a, DEFAULT_CLIENT, Some(&p1));
    r.assert_status(200);
    let v = r.json();
    let (code, user_code) = (str_of(&v, "device_code"), str_of(&v, "user_code"));
    let r = device_code(&b, DEFAULT_CLIENT, Some(&p1));
    r.assert_error(400, "invalid_dpop_proof");
    assert!(r.text().contains("already used"), "{}", r.text());
    assert_eq!(pg.psql("SELECT count(*) > 0 FROM dpop_jtis").unwrap(), "t");

    approve(&a, &user_code);
    poll(&b, DEFAULT_CLIENT, &code, None).assert_error(400, "invalid_grant");
    let p = device.proof("POST", &htu(paths::TOKEN), None, None);
    let tokens = poll(&b, DEFAULT_CLIENT, &code, Some(&p)).tokens();
    assert_eq!(tokens.token_type, "DPoP");
    assert_eq!(
        pg.psql("SELECT count(*) FROM grants WHERE dpop_jkt IS NOT NULL")
            .unwrap(),
        "1"
    );
    refresh(&a, tokens.refresh(), None).assert_error(400, "invalid_grant");
    let p = device.proof("POST", &htu(paths::TOKEN), None, None);
    assert_eq!(
        refresh(&a, tokens.refresh(), Some(&p)).tokens().token_type,
        "DPoP"
    );
}
