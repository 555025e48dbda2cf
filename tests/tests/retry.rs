//! The retry window (issue 15): a token answer lost on the way to the device (Wi-Fi
//! drop, timeout, power loss before the flash write) must not cost the grant. The
//! device retries with the credential it still holds: the refresh token just
//! superseded, or the device code just redeemed. Within the window, from the same
//! client (and DPoP key), while the newer tokens are unused, that yields a fresh
//! pair and retires the unused one; otherwise it is reuse, as before.
//!
//! Every answer "lost" here was sent by the server and read by the test, then
//! thrown away unseen ([`lose`]): from the device's side exactly a lost response,
//! and the server has committed whatever it answered. Against the server before
//! the window, the retries got `invalid_grant` and the grant was revoked.

use std::time::Duration;

use authgate_proto::{params, paths};
use authgate_tests::{
    ADMIN_PASSWORD, ADMIN_USER, DEFAULT_CLIENT, DataDir, DeviceAuth, Reply, TestServer, Tokens,
    now_unix,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{Value, json};

const RS_ID: &str = "resource-server";
const OTHER_CLIENT: &str = "other-device";

/// A server with a resource server (to introspect with) and a second public
/// client, with `args`.
fn server(args: &[&str]) -> (TestServer, String) {
    let dir = DataDir::new();
    let secret = dir.add_confidential_client(RS_ID, "Resource server", "read write");
    dir.add_public_client(OTHER_CLIENT, "Other device", "read");
    (TestServer::start_in(dir, args, &[]), secret)
}

/// Throws away an answer the server gave: the device never saw it. It must have
/// been a success, or there would be nothing to lose.
#[track_caller]
fn lose(r: Reply) {
    r.assert_status(200);
}

/// Whether `token` introspects active.
fn active(server: &TestServer, secret: &str, token: &str) -> bool {
    let v = server.introspect(RS_ID, secret, token).json();
    v["active"] == Value::Bool(true)
}

/// A device code for `DEFAULT_CLIENT`, approved by the admin.
fn approved_code(server: &TestServer) -> DeviceAuth {
    let code = server.device_code(Some("read"));
    let mut b = server.browser();
    b.login(ADMIN_USER, ADMIN_PASSWORD);
    b.approve(&code.user_code);
    code
}

/// The `--json` audit log's kinds, waiting up to 5 s for `want` (events ride in
/// the next group commit).
fn audit_kinds(server: &TestServer, want: &str) -> Vec<String> {
    let mut kinds = Vec::new();
    for _ in 0..50 {
        let out = authgate_tests::run_admin(server.data_dir(), &["audit", "--json"]);
        assert!(out.success, "{out:?}");
        kinds = out
            .stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v["kind"].as_str().map(str::to_owned))
            .collect();
        if kinds.iter().any(|k| k == want) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    kinds
}

#[test]
fn a_lost_redemption_answer_is_retried_and_the_first_pair_dies() {
    let (server, secret) = server(&[]);
    let code = approved_code(&server);
    let first = server.poll(&code.device_code).tokens();
    // The device never saw `first`; its next poll presents the same code.
    let second = server.poll(&code.device_code);
    second.assert_no_store();
    let second = second.tokens();
    assert_ne!(second.refresh(), first.refresh());
    // One live pair: the retry's. The first pair's access token is revoked (its
    // refresh token is no longer current: see the end).
    assert!(active(&server, &secret, &second.access_token));
    assert!(!active(&server, &secret, &first.access_token));
    // A double loss: the retry's answer is lost too; still on time, still unused.
    let third = server.poll(&code.device_code).tokens();
    assert!(!active(&server, &secret, &second.access_token));
    // The device signs in with the last answer and refreshes normally.
    let fourth = server.refresh(third.refresh()).tokens();
    assert!(active(&server, &secret, &fourth.access_token));
    // Once its tokens were used, the code is spent: a replay is refused and, as
    // for a reused authorization code (RFC 6749 §4.1.2), revokes the grant.
    server
        .poll(&code.device_code)
        .assert_error(400, "invalid_grant");
    assert!(!active(&server, &secret, &fourth.access_token));
    server
        .refresh(fourth.refresh())
        .assert_error(400, "invalid_grant");
    let kinds = audit_kinds(&server, "device_code_replay");
    assert!(kinds.iter().any(|k| k == "device_code_retry"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "device_code_replay"), "{kinds:?}");
}

#[test]
fn the_pair_a_redemption_retry_retired_is_dead_and_its_return_is_reuse() {
    let (server, secret) = server(&[]);
    let code = approved_code(&server);
    let first = server.poll(&code.device_code).tokens();
    let second = server.poll(&code.device_code).tokens();
    // The first refresh token, retired unused, comes back: someone else holds
    // this grant's tokens. Refused, and the family is revoked.
    server
        .refresh(first.refresh())
        .assert_error(400, "invalid_grant");
    assert!(!active(&server, &secret, &second.access_token));
    server
        .refresh(second.refresh())
        .assert_error(400, "invalid_grant");
    let kinds = audit_kinds(&server, "refresh_reuse");
    assert!(kinds.iter().any(|k| k == "device_code_retry"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "refresh_reuse"), "{kinds:?}");
}

#[test]
fn a_lost_refresh_answer_is_retried_without_revoking_the_family() {
    let (server, secret) = server(&[]);
    let t1 = server.obtain_tokens(Some("read"));
    // The refresh answer is lost: the device still holds rt1.
    let t2 = server.refresh(t1.refresh()).tokens();
    let t3 = server.refresh(t1.refresh());
    t3.assert_no_store();
    let t3 = t3.tokens();
    // The unused pair is retired; the family lives.
    assert!(!active(&server, &secret, &t2.access_token));
    assert!(active(&server, &secret, &t3.access_token));
    // Twice in a row (the retry's answer lost as well).
    let t4 = server.refresh(t1.refresh()).tokens();
    assert!(!active(&server, &secret, &t3.access_token));
    let t5 = server.refresh(t4.refresh()).tokens();
    assert!(active(&server, &secret, &t5.access_token));
    // A retired token coming back is reuse: two parties hold this family.
    server
        .refresh(t2.refresh())
        .assert_error(400, "invalid_grant");
    assert!(!active(&server, &secret, &t5.access_token));
    let kinds = audit_kinds(&server, "refresh_reuse");
    assert!(kinds.iter().any(|k| k == "refresh_retry"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "refresh_reuse"), "{kinds:?}");
}

#[test]
fn once_the_newer_token_was_used_the_old_one_revokes_the_family() {
    let (server, secret) = server(&[]);
    let t1 = server.obtain_tokens(Some("read"));
    let t2 = server.refresh(t1.refresh()).tokens();
    let t3 = server.refresh(t2.refresh()).tokens();
    // Well within the window, but rt2 was used: rt1 is reuse.
    server
        .refresh(t1.refresh())
        .assert_error(400, "invalid_grant");
    assert!(!active(&server, &secret, &t3.access_token));
    server
        .refresh(t3.refresh())
        .assert_error(400, "invalid_grant");
}

#[test]
fn after_the_window_a_lost_answer_is_reuse() {
    let (server, secret) = server(&["--retry-window", "1"]);
    let t1 = server.obtain_tokens(Some("read"));
    lose(server.refresh(t1.refresh()));
    let code = approved_code(&server);
    lose(server.poll(&code.device_code));
    std::thread::sleep(Duration::from_millis(2100));
    // The refresh token: reuse, the family is revoked.
    server
        .refresh(t1.refresh())
        .assert_error(400, "invalid_grant");
    let t = server.obtain_tokens(Some("read"));
    assert!(active(&server, &secret, &t.access_token), "others unharmed");
    // The device code: refused, and the grant it yielded is revoked (its tokens
    // never reached anyone who should hold them).
    server
        .poll(&code.device_code)
        .assert_error(400, "invalid_grant");
    let kinds = audit_kinds(&server, "device_code_replay");
    assert!(kinds.iter().any(|k| k == "device_code_replay"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "refresh_reuse"), "{kinds:?}");
    assert!(!kinds.iter().any(|k| k.ends_with("_retry")), "{kinds:?}");
}

#[test]
fn another_client_cannot_retry_and_spoils_nothing() {
    let (server, secret) = server(&[]);
    let code = approved_code(&server);
    lose(server.poll(&code.device_code));
    server
        .poll_as(OTHER_CLIENT, &code.device_code)
        .assert_error(400, "invalid_grant");
    let t1 = server.poll(&code.device_code).tokens();
    lose(server.refresh(t1.refresh()));
    server
        .refresh_as(OTHER_CLIENT, t1.refresh(), None)
        .assert_error(400, "invalid_grant");
    // The right client's retries still work: the other client revoked nothing.
    let t = server.refresh(t1.refresh()).tokens();
    assert!(active(&server, &secret, &t.access_token));
}

/// A device's DPoP key (RFC 9449), signing proofs with ed25519-dalek.
struct Key(SigningKey);

impl Key {
    fn new(seed: u8) -> Self {
        Key(SigningKey::from_bytes(&[seed; 32]))
    }

    /// A proof for `POST url`.
    fn proof(&self, url: &str) -> String {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let x = b64(self.0.verifying_key().as_bytes());
        let header = json!({"typ": "dpop+jwt", "alg": "EdDSA",
            "jwk": {"kty": "OKP", "crv": "Ed25519", "x": x}});
        let jti = format!("retry-{}-{}", now_unix(), rand_suffix());
        let claims = json!({"jti": jti, "htm": "POST", "htu": url, "iat": now_unix()});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self.0.sign(input.as_bytes());
        format!("{input}.{}", b64(&sig.to_bytes()))
    }
}

/// A distinct suffix per proof (their `jti` must never repeat).
fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// POSTs `pairs` to the token endpoint with a proof by `key`.
fn token_with(server: &TestServer, key: &Key, pairs: &[(&str, &str)]) -> Reply {
    server.raw(
        "POST",
        paths::TOKEN,
        Some("application/x-www-form-urlencoded"),
        authgate_tests::encode_form(pairs).into_bytes(),
        &[("DPoP", &key.proof(&server.url(paths::TOKEN)))],
    )
}

fn poll_with(server: &TestServer, key: &Key, code: &str) -> Reply {
    token_with(
        server,
        key,
        &[
            (params::GRANT_TYPE, params::GRANT_TYPE_DEVICE_CODE),
            (params::DEVICE_CODE, code),
            (params::CLIENT_ID, DEFAULT_CLIENT),
        ],
    )
}

fn refresh_with(server: &TestServer, key: &Key, token: &str) -> Reply {
    token_with(
        server,
        key,
        &[
            (params::GRANT_TYPE, params::GRANT_TYPE_REFRESH_TOKEN),
            (params::REFRESH_TOKEN, token),
            (params::CLIENT_ID, DEFAULT_CLIENT),
        ],
    )
}

#[test]
fn a_dpop_bound_grant_is_retried_only_with_its_key() {
    let (server, secret) = server(&[]);
    let (device, thief) = (Key::new(21), Key::new(22));
    // The code is asked for without a proof; the grant is bound at redemption.
    let code = approved_code(&server);
    lose(poll_with(&server, &device, &code.device_code));
    poll_with(&server, &thief, &code.device_code).assert_error(400, "invalid_grant");
    server
        .poll(&code.device_code)
        .assert_error(400, "invalid_grant");
    let t1: Tokens = poll_with(&server, &device, &code.device_code).tokens();
    assert_eq!(t1.token_type, "DPoP");
    lose(refresh_with(&server, &device, t1.refresh()));
    refresh_with(&server, &thief, t1.refresh()).assert_error(400, "invalid_grant");
    server
        .refresh(t1.refresh())
        .assert_error(400, "invalid_grant");
    // Neither attempt revoked anything: the device's own retry works.
    let t2 = refresh_with(&server, &device, t1.refresh()).tokens();
    assert!(active(&server, &secret, &t2.access_token));
}

/// `authgate export` of `dir` into `file`, then `authgate import` of it into
/// `into` (a fresh data directory or database).
fn move_to(dir: &std::path::Path, file: &std::path::Path, into: &DataDir) {
    let f = file.display().to_string();
    let out = authgate_tests::run_admin(dir, &["export", "--out", &f]);
    assert!(out.success, "export: {out:?}");
    let out = authgate_tests::run_admin(into.path(), &["import", &f]);
    assert!(out.success, "import: {out:?}");
}

#[test]
fn the_retry_window_moves_with_the_dump_between_backends() {
    let files = tempfile::tempdir().unwrap();
    // On redb: the device's refresh answer is lost, then the server is moved.
    let dir = DataDir::with_database_url(None);
    let secret = dir.add_confidential_client(RS_ID, "Resource server", "read");
    let mut pi = TestServer::start_in(dir, &[], &[]);
    let base = pi.base_url().to_owned();
    let t1 = pi.obtain_tokens(Some("read"));
    lose(pi.refresh(t1.refresh()));
    assert!(pi.stop());
    let pg = DataDir::with_database_url(Some(authgate_tests::backend::fresh_database()));
    move_to(pi.data_dir(), &files.path().join("pi.dump"), &pg);
    // On PostgreSQL the device retries rt1: the window came along.
    let mut server = TestServer::start_in(pg, &["--base-url", &base], &[]);
    let t2 = server.refresh(t1.refresh()).tokens();
    assert!(active(&server, &secret, &t2.access_token));
    lose(server.refresh(t1.refresh()));
    assert!(server.stop());
    // And back to redb: still within the window, still a retry.
    let back = DataDir::with_database_url(None);
    move_to(server.data_dir(), &files.path().join("pg.dump"), &back);
    let server = TestServer::start_in(back, &["--base-url", &base], &[]);
    let t3 = server.refresh(t1.refresh()).tokens();
    assert!(active(&server, &secret, &t3.access_token));
    // The pair retired on PostgreSQL stays retired: t2's access token is revoked.
    assert!(!active(&server, &secret, &t2.access_token));
}
