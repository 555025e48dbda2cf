//! The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636, RFC 9207)
//! against the real binary: the happy path through the pages, and every refusal
//! the RFCs name, each answered with the RFC's error and never with a redirect to
//! an address the client did not register.
//!
//! The pages are driven with plain HTTP here (a cookie jar, no redirects
//! followed, so every `Location` is checked); `authorization_code_browser.rs`
//! runs the same flow in Chromium with a third-party client library.

use std::thread;
use std::time::Duration;

use authgate_tests::{
    ADMIN_PASSWORD, ADMIN_USER, Browser, DataDir, Reply, TestServer, csrf_token, form_encode,
    run_admin,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A public web/native app with the authorization code grant.
const APP: &str = "webapp";
/// Its registered redirect URIs.
const APP_URI: &str = "https://app.example/cb";
const APP_LOOPBACK: &str = "http://127.0.0.1/cb";
/// A client with one redirect URI only (so `redirect_uri` may be omitted).
const SOLO: &str = "solo";
const SOLO_URI: &str = "https://solo.example/return";
/// A client with a redirect URI but without the authorization code grant.
const DEVICE_ONLY: &str = "device-only";
/// A confidential resource server, to introspect.
const RS: &str = "resource-server";

struct Setup {
    server: TestServer,
    rs_secret: String,
}

fn add_client(dir: &DataDir, id: &str, grants: &str, uris: &[&str]) {
    let mut args = vec![
        "client",
        "add",
        id,
        "--name",
        "Example App",
        "--scopes",
        "read write",
        "--grant-types",
        grants,
    ];
    for uri in uris {
        args.extend(["--redirect-uri", uri]);
    }
    let out = dir.run_admin(&args);
    assert!(out.success, "client add {id}: {out:?}");
}

fn setup(extra: &[&str]) -> Setup {
    let dir = DataDir::new();
    let grants = "authorization_code refresh_token";
    add_client(&dir, APP, grants, &[APP_URI, APP_LOOPBACK]);
    add_client(&dir, SOLO, grants, &[SOLO_URI]);
    add_client(&dir, DEVICE_ONLY, "device_code refresh_token", &[APP_URI]);
    let rs_secret = dir.add_confidential_client(RS, "Resource server", "read write");
    Setup {
        server: TestServer::start_in(dir, extra, &[]),
        rs_secret,
    }
}

/// A PKCE verifier and its S256 challenge.
fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(std::array::from_fn::<u8, 32, _>(|i| {
        (i as u8).wrapping_mul(37).wrapping_add(rand_byte())
    }));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// A byte that differs between calls (the verifiers only need to differ).
fn rand_byte() -> u8 {
    use std::sync::atomic::{AtomicU8, Ordering};
    static N: AtomicU8 = AtomicU8::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (nanos as u8) ^ N.fetch_add(17, Ordering::Relaxed)
}

/// `/oauth/authorize?…` from `(name, value)` pairs.
fn authorize_path(pairs: &[(&str, &str)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect();
    format!("/oauth/authorize?{}", q.join("&"))
}

/// A complete, valid request for `client` to `redirect_uri` with `challenge`.
fn request<'a>(
    client: &'a str,
    redirect_uri: &'a str,
    challenge: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", redirect_uri),
        ("scope", "read"),
        ("state", "xyz 123"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// The query parameters of a `Location` (after `?`), decoded.
fn query_of(location: &str) -> Vec<(String, String)> {
    let q = location.split_once('?').map_or("", |(_, q)| q);
    q.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), decode(v)))
        .collect()
}

fn decode(v: &str) -> String {
    let mut out = Vec::new();
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).expect("hex"));
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf8")
}

fn param(location: &str, name: &str) -> Option<String> {
    query_of(location)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Asserts an error page: 400, HTML, and no `Location` at all.
#[track_caller]
fn assert_error_page(r: &Reply, why: &str) {
    assert_eq!(r.status, 400, "{why}: {}", r.text());
    assert_eq!(r.header("location"), None, "{why}: must not redirect");
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{why}: an HTML page"
    );
}

/// Asserts a redirect to `redirect_uri` carrying `error`, our state and `iss`.
#[track_caller]
fn assert_error_redirect(r: &Reply, server: &TestServer, redirect_uri: &str, error: &str) {
    assert_eq!(r.status, 303, "{}", r.text());
    let loc = r.header("location").expect("a Location");
    assert!(
        loc.starts_with(&format!("{redirect_uri}?")),
        "redirected to {loc}, not {redirect_uri}"
    );
    assert_eq!(param(&loc, "error").as_deref(), Some(error), "{loc}");
    assert_eq!(param(&loc, "state").as_deref(), Some("xyz 123"), "{loc}");
    assert_eq!(
        param(&loc, "iss").as_deref(),
        Some(server.base_url()),
        "{loc}"
    );
    assert!(param(&loc, "code").is_none());
}

/// Signs in, asks for a code and approves; returns the redirect's `Location`.
fn approve(b: &mut Browser, pairs: &[(&str, &str)]) -> String {
    let page = b.get(&authorize_path(pairs));
    assert_eq!(page.status, 200, "consent page: {}", page.text());
    b.decide_authorization(&page, "approve")
}

fn signed_in(server: &TestServer) -> Browser {
    let mut b = server.browser();
    b.login(ADMIN_USER, ADMIN_PASSWORD);
    b
}

/// The token request (RFC 6749 §4.1.3) as `client`.
fn redeem(
    server: &TestServer,
    client: &str,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: &str,
) -> Reply {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", client),
        ("code_verifier", verifier),
    ];
    if let Some(uri) = redirect_uri {
        form.push(("redirect_uri", uri));
    }
    server.post_form("/oauth/token", &form)
}

/// Waits (up to 5 s: audit events ride in the next group commit) until the audit
/// log holds an event of each of `kinds`.
#[track_caller]
fn assert_audited(server: &TestServer, kinds: &[&str]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let out = run_admin(server.data_dir(), &["audit", "--json", "--since", "1h"]);
        assert!(out.success, "{out:?}");
        let missing: Vec<&&str> = kinds
            .iter()
            .filter(|k| !out.stdout.contains(&format!("\"kind\":\"{k}\"")))
            .collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "audit events {missing:?} missing: {}",
            out.stdout
        );
        thread::sleep(Duration::from_millis(200));
    }
}

fn active(setup: &Setup, token: &str) -> bool {
    let r = setup.server.introspect(RS, &setup.rs_secret, token);
    r.assert_status(200);
    r.json()["active"] == serde_json::json!(true)
}

#[test]
fn a_code_with_pkce_becomes_tokens_once_and_its_reuse_revokes_them() {
    let setup = setup(&[]);
    let server = &setup.server;
    let meta = server.get("/.well-known/oauth-authorization-server").json();
    assert_eq!(
        meta["authorization_endpoint"],
        server.url("/oauth/authorize")
    );
    assert_eq!(
        meta["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert_eq!(
        meta["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    assert!(
        meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("authorization_code"))
    );

    let (verifier, challenge) = pkce();
    let redirect = "http://127.0.0.1:43123/cb";
    let pairs = request(APP, redirect, &challenge);
    // Signed out: to the sign-in page, which comes back to the request.
    let mut b = server.browser();
    let r = b.get(&authorize_path(&pairs));
    assert_eq!(r.status, 303);
    let login = r.header("location").unwrap();
    assert!(
        login.starts_with("/login?next=%2Foauth%2Fauthorize%3F"),
        "{login}"
    );
    b.login(ADMIN_USER, ADMIN_PASSWORD);
    let page = b.get(&authorize_path(&pairs));
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("Example App") && html.contains("http://127.0.0.1:43123"),
        "{html}"
    );
    // The consent form may end at the client's origin, and only there.
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:43123"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");

    let loc = b.decide_authorization(&page, "approve");
    assert!(loc.starts_with("http://127.0.0.1:43123/cb?code="), "{loc}");
    assert_eq!(param(&loc, "state").as_deref(), Some("xyz 123"));
    assert_eq!(param(&loc, "iss").as_deref(), Some(server.base_url()));
    let code = param(&loc, "code").unwrap();

    // A wrong verifier is refused and does not spend the code.
    let (other_verifier, _) = pkce();
    redeem(server, APP, &code, Some(redirect), &other_verifier).assert_error(400, "invalid_grant");
    // Another registered redirect (port aside) is still another URI.
    redeem(server, APP, &code, Some("http://127.0.0.1:9/cb"), &verifier)
        .assert_error(400, "invalid_grant");
    redeem(server, APP, &code, None, &verifier).assert_error(400, "invalid_grant");
    // Another client can't redeem it.
    redeem(server, SOLO, &code, Some(redirect), &verifier).assert_error(400, "invalid_grant");

    let r = redeem(server, APP, &code, Some(redirect), &verifier);
    r.assert_no_store();
    let tokens = r.tokens();
    assert_eq!(r.json()["scope"], "read");
    assert!(active(&setup, &tokens.access_token));

    // Reuse: invalid_grant, and what the code issued is revoked (§4.1.2).
    redeem(server, APP, &code, Some(redirect), &verifier).assert_error(400, "invalid_grant");
    assert!(
        !active(&setup, &tokens.access_token),
        "reuse revokes the access token"
    );
    server
        .refresh_as(APP, tokens.refresh(), None)
        .assert_error(400, "invalid_grant");
    assert_audited(server, &["authorization_approved", "code_reuse"]);
}

#[test]
fn a_refresh_token_from_a_code_rotates_like_any_other() {
    let setup = setup(&[]);
    let server = &setup.server;
    let mut b = signed_in(server);
    let (verifier, challenge) = pkce();
    // One registered URI: the request may leave it out, and then the token
    // request must too (RFC 6749 §3.1.2.3, §4.1.3).
    let mut pairs = request(SOLO, SOLO_URI, &challenge);
    pairs.retain(|(k, _)| *k != "redirect_uri");
    let loc = approve(&mut b, &pairs);
    assert!(loc.starts_with(&format!("{SOLO_URI}?code=")), "{loc}");
    let code = param(&loc, "code").unwrap();
    redeem(server, SOLO, &code, Some(SOLO_URI), &verifier).assert_error(400, "invalid_grant");
    let tokens = redeem(server, SOLO, &code, None, &verifier).tokens();
    let again = server.refresh_as(SOLO, tokens.refresh(), None);
    again.assert_status(200);
    assert!(active(&setup, &again.tokens().access_token));
}

#[test]
fn deny_sends_access_denied_to_the_registered_uri() {
    let setup = setup(&[]);
    let server = &setup.server;
    let mut b = signed_in(server);
    let (_, challenge) = pkce();
    let pairs = request(APP, APP_URI, &challenge);
    let page = b.get(&authorize_path(&pairs));
    let loc = b.decide_authorization(&page, "deny");
    assert!(
        loc.starts_with(&format!("{APP_URI}?error=access_denied")),
        "{loc}"
    );
    assert_eq!(param(&loc, "state").as_deref(), Some("xyz 123"));
    assert_eq!(param(&loc, "iss").as_deref(), Some(server.base_url()));
    assert_audited(server, &["authorization_denied"]);
}

#[test]
fn a_confidential_client_authenticates_to_redeem_and_gets_its_token_format() {
    let dir = DataDir::new();
    let out = dir.run_admin(&[
        "client",
        "add",
        "backend",
        "--name",
        "Web backend",
        "--confidential",
        "--scopes",
        "read",
        "--grant-types",
        "authorization_code",
        "--redirect-uri",
        APP_URI,
        "--access-token-format",
        "jwt",
    ]);
    assert!(out.success, "{out:?}");
    let secret = out.field("client_secret").expect("a secret");
    let server = TestServer::start_in(dir, &[], &[]);
    let (verifier, challenge) = pkce();
    let mut b = signed_in(&server);
    let loc = approve(&mut b, &request("backend", APP_URI, &challenge));
    let code = param(&loc, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", APP_URI),
        ("code_verifier", verifier.as_str()),
    ];
    server
        .post_form_basic("/oauth/token", &form, Some(("backend", "wrong secret")))
        .assert_error(401, "invalid_client");
    let mut public = form.to_vec();
    public.push(("client_id", "backend"));
    server
        .post_form("/oauth/token", &public)
        .assert_error(401, "invalid_client");
    let r = server.post_form_basic("/oauth/token", &form, Some(("backend", &secret)));
    r.assert_status(200);
    // The common issuing path: this client's access tokens are JWTs (RFC 9068).
    let access = r.json()["access_token"].as_str().unwrap().to_owned();
    let header = access.split('.').next().unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    assert_eq!(header["typ"], "at+jwt", "{header}");
}

#[test]
fn requests_that_cannot_be_trusted_get_a_page_never_a_redirect() {
    let setup = setup(&[]);
    let server = &setup.server;
    let (_, challenge) = pkce();
    for signed_in_too in [false, true] {
        let mut b = if signed_in_too {
            signed_in(server)
        } else {
            server.browser()
        };
        let mut unknown = request("nobody", APP_URI, &challenge);
        assert_error_page(&b.get(&authorize_path(&unknown)), "unregistered client");
        unknown.retain(|(k, _)| *k != "client_id");
        assert_error_page(&b.get(&authorize_path(&unknown)), "no client_id");
        for evil in [
            "https://evil.example/cb",
            "https://app.example/other",
            "https://app.example/cb/",
            "https://app.example/cb?x=1",
            "https://app.example@evil.example/cb",
            "https://app.example/cb@evil.example",
            "https://app.example/cb#fragment",
            "http://app.example/cb",
            "HTTPS://app.example/cb",
            "https://app.example:443/cb",
            "//evil.example/cb",
            "/cb",
            "http://127.0.0.1:4444/other",
            "http://127.0.0.1:4444/cb/x",
            "http://127.0.0.1:80@evil.example/cb",
            "http://127.0.0.1.evil.example/cb",
            "http://localhost:4444/cb",
            "https://127.0.0.1:4444/cb",
            "javascript:alert(1)",
        ] {
            let r = b.get(&authorize_path(&request(APP, evil, &challenge)));
            assert_error_page(&r, evil);
        }
        // Several registered: redirect_uri may not be left out.
        let mut none = request(APP, APP_URI, &challenge);
        none.retain(|(k, _)| *k != "redirect_uri");
        assert_error_page(&b.get(&authorize_path(&none)), "omitted redirect_uri");
        // A repeated parameter makes the whole request untrustworthy.
        let twice = format!(
            "{}&redirect_uri={}",
            authorize_path(&request(APP, APP_URI, &challenge)),
            form_encode("https://evil.example/cb")
        );
        assert_error_page(&b.get(&twice), "repeated redirect_uri");
    }
    // A disabled client gets the page too.
    let mut server = setup.server;
    server.stop();
    let out = server.run_admin(&["client", "disable", APP]);
    assert!(out.success, "{out:?}");
    server.start_again();
    let r = server
        .browser()
        .get(&authorize_path(&request(APP, APP_URI, &challenge)));
    assert_error_page(&r, "disabled client");
}

#[test]
fn other_errors_go_to_the_registered_uri_with_the_rfc_code() {
    let setup = setup(&[]);
    let server = &setup.server;
    let (_, challenge) = pkce();
    let b = &mut server.browser();
    let with = |pairs: &[(&str, &str)], name: &str, value: Option<&str>| -> String {
        let mut v: Vec<(&str, &str)> = pairs.iter().filter(|(k, _)| *k != name).copied().collect();
        if let Some(value) = value {
            v.push((name, value));
        }
        authorize_path(&v)
    };
    let base = request(APP, APP_URI, &challenge);
    let cases = [
        (
            with(&base, "code_challenge_method", Some("plain")),
            "invalid_request",
        ),
        (
            with(&base, "code_challenge_method", None),
            "invalid_request",
        ),
        (with(&base, "code_challenge", None), "invalid_request"),
        (
            with(&base, "code_challenge", Some("short")),
            "invalid_request",
        ),
        (
            with(&base, "response_type", Some("token")),
            "unsupported_response_type",
        ),
        (with(&base, "response_type", None), "invalid_request"),
        (with(&base, "scope", Some("read admin")), "invalid_scope"),
    ];
    for (path, error) in cases {
        assert_error_redirect(&b.get(&path), server, APP_URI, error);
    }
    // `plain` with the verifier as challenge: still refused, never downgraded.
    let (verifier, _) = pkce();
    let mut plain = base.clone();
    plain.retain(|(k, _)| !k.starts_with("code_challenge"));
    plain.extend([
        ("code_challenge", verifier.as_str()),
        ("code_challenge_method", "plain"),
    ]);
    let plain = authorize_path(&plain);
    assert_error_redirect(&b.get(&plain), server, APP_URI, "invalid_request");
    // A client without the grant: unauthorized_client, at its registered URI.
    let device_only = request(DEVICE_ONLY, APP_URI, &challenge);
    assert_error_redirect(
        &b.get(&authorize_path(&device_only)),
        server,
        APP_URI,
        "unauthorized_client",
    );
    // The same rules hold for the consent POST (its parameters are not trusted).
    let mut s = signed_in(server);
    let page = s.get(&authorize_path(&base));
    let csrf = csrf_token(&page.text()).unwrap();
    let mut forged = request(APP, "https://evil.example/cb", &challenge);
    forged.extend([("csrf_token", csrf.as_str()), ("decision", "approve")]);
    let r = s.post_form("/oauth/authorize", &forged);
    assert_error_page(&r, "forged consent redirect_uri");
    let mut no_csrf = base.clone();
    no_csrf.push(("decision", "approve"));
    let r = s.post_form("/oauth/authorize", &no_csrf);
    assert_eq!(r.status, 403, "consent without CSRF: {}", r.text());
    assert_eq!(r.header("location"), None);
}

#[test]
fn token_requests_without_pkce_or_with_garbage_are_refused() {
    let setup = setup(&[]);
    let server = &setup.server;
    let (verifier, challenge) = pkce();
    let mut b = signed_in(server);
    let loc = approve(&mut b, &request(APP, APP_URI, &challenge));
    let code = param(&loc, "code").unwrap();
    let r = server.post_form(
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", APP),
            ("redirect_uri", APP_URI),
        ],
    );
    r.assert_error(400, "invalid_request");
    redeem(server, APP, "not-a-code", Some(APP_URI), &verifier).assert_error(400, "invalid_grant");
    // The code with its last character changed (to one it is not: `x` alone
    // left the code intact once in 64 runs).
    let last = if code.ends_with('x') { 'y' } else { 'x' };
    redeem(
        server,
        APP,
        &format!("{}{last}", &code[..code.len() - 1]),
        Some(APP_URI),
        &verifier,
    )
    .assert_error(400, "invalid_grant");
    // The grant type is per client.
    redeem(server, DEVICE_ONLY, &code, Some(APP_URI), &verifier)
        .assert_error(400, "unauthorized_client");
    // After all that, the genuine request still works.
    redeem(server, APP, &code, Some(APP_URI), &verifier).assert_status(200);
}

#[test]
fn an_expired_code_is_refused() {
    let setup = setup(&["--authorization-code-ttl", "1"]);
    let server = &setup.server;
    let (verifier, challenge) = pkce();
    let mut b = signed_in(server);
    let loc = approve(&mut b, &request(APP, APP_URI, &challenge));
    let code = param(&loc, "code").unwrap();
    thread::sleep(Duration::from_millis(2100));
    redeem(server, APP, &code, Some(APP_URI), &verifier).assert_error(400, "invalid_grant");
}

#[test]
fn the_consent_page_is_a_hardened_page_in_every_language() {
    let setup = setup(&[]);
    let server = &setup.server;
    let (_, challenge) = pkce();
    let mut b = signed_in(server);
    for lang in ["en", "de", "es", "fr", "ja", "zh-TW"] {
        b.set_cookie("lang", lang);
        let page = b.get(&authorize_path(&request(APP, APP_URI, &challenge)));
        assert_eq!(page.status, 200);
        let html = page.text();
        assert!(html.contains(&format!("lang=\"{lang}\"")), "{lang}: {html}");
        assert!(
            html.contains("https://app.example"),
            "{lang}: the redirect host is shown"
        );
        assert_eq!(page.header("x-frame-options").as_deref(), Some("DENY"));
        assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
        let bad = b.get(&authorize_path(&request(
            APP,
            "https://evil.example/cb",
            &challenge,
        )));
        assert_error_page(&bad, lang);
        assert!(
            !bad.text().contains("error-bad-redirect"),
            "{lang}: a missing message id"
        );
    }
}
