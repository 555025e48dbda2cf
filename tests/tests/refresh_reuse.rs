//! Refresh-token rotation and reuse detection: presenting a rotated refresh token
//! again revokes the whole grant (OAuth 2.0 Security BCP, RFC 9700 §4.14.2).

use authgate_tests::{DataDir, TestServer, paths, scope_set};
use serde_json::Value;

const RS_ID: &str = "resource-server";

fn server_with_rs() -> (TestServer, String) {
    server_with_rs_and(&[])
}

/// With the retry window off (`--retry-window 0`): the superseded token presented
/// right after its rotation is reuse, as these tests want (within the window it
/// would be a retry of a lost answer: `tests/retry.rs`).
fn strict_server_with_rs() -> (TestServer, String) {
    server_with_rs_and(&["--retry-window", "0"])
}

fn server_with_rs_and(args: &[&str]) -> (TestServer, String) {
    let dir = DataDir::new();
    let secret = dir.add_confidential_client(RS_ID, "Resource server", "read write");
    (TestServer::start_in(dir, args, &[]), secret)
}

#[test]
fn reuse_of_rotated_refresh_token_revokes_the_family() {
    let (server, _) = server_with_rs();
    let t1 = server.obtain_tokens(Some("read write"));
    let rt1 = t1.refresh().to_owned();

    let t2 = server.refresh(&rt1).tokens();
    let rt2 = t2.refresh().to_owned();
    assert_ne!(rt1, rt2);
    let t3 = server.refresh(&rt2).tokens();
    let rt3 = t3.refresh().to_owned();
    assert_ne!(rt2, rt3);

    // An attacker (or a confused client) replays rt1.
    let r = server.refresh(&rt1);
    r.assert_error(400, "invalid_grant");
    r.assert_no_store();

    // The newest refresh token of the family stops working too.
    server.refresh(&rt3).assert_error(400, "invalid_grant");
    // And so do the other rotated ones.
    server.refresh(&rt2).assert_error(400, "invalid_grant");
}

#[test]
fn reuse_also_deactivates_the_grants_access_tokens() {
    let (server, secret) = strict_server_with_rs();
    let t1 = server.obtain_tokens(Some("read"));
    let rt1 = t1.refresh().to_owned();
    let t2 = server.refresh(&rt1).tokens();

    for at in [&t1.access_token, &t2.access_token] {
        let v = server.introspect(RS_ID, &secret, at).json();
        assert_eq!(v["active"], Value::Bool(true), "{v}");
    }

    server.refresh(&rt1).assert_error(400, "invalid_grant");

    for at in [&t1.access_token, &t2.access_token] {
        let v = server.introspect(RS_ID, &secret, at).json();
        assert_eq!(
            v["active"],
            Value::Bool(false),
            "access tokens of a revoked family must introspect inactive: {v}"
        );
        server.get_bearer(paths::TOKENINFO, at).assert_status(401);
    }
}

#[test]
fn a_second_grant_is_not_affected_by_anothers_reuse() {
    let (server, secret) = strict_server_with_rs();
    let a = server.obtain_tokens(Some("read"));
    let b = server.obtain_tokens(Some("read"));
    let a2 = server.refresh(a.refresh()).tokens();
    server
        .refresh(a.refresh())
        .assert_error(400, "invalid_grant");
    server
        .refresh(a2.refresh())
        .assert_error(400, "invalid_grant");

    // Grant b is independent.
    let v = server.introspect(RS_ID, &secret, &b.access_token).json();
    assert_eq!(v["active"], Value::Bool(true), "{v}");
    server.refresh(b.refresh()).tokens();
}

#[test]
fn refresh_may_narrow_but_not_widen_scope() {
    let server = TestServer::start();
    let t = server.obtain_tokens(Some("read"));
    // RFC 6749 §6: a scope not originally granted is invalid_scope.
    server
        .refresh_as(
            authgate_tests::DEFAULT_CLIENT,
            t.refresh(),
            Some("read write"),
        )
        .assert_error(400, "invalid_scope");
    // The failed attempt did not consume the refresh token.
    let t2 = server
        .refresh_as(authgate_tests::DEFAULT_CLIENT, t.refresh(), Some("read"))
        .tokens();
    assert_eq!(scope_set(t2.scope.as_deref().unwrap_or("read")), ["read"]);
}

#[test]
fn a_forged_token_with_a_real_key_is_refused_without_revoking_the_grant() {
    // A refresh token is the record's key followed by a secret. Someone who learns
    // the key part (or guesses it: it starts with a timestamp) but not the secret
    // must get `invalid_grant` and must not be able to revoke the family as "reuse".
    let (server, secret) = server_with_rs();
    let t1 = server.obtain_tokens(Some("read"));
    let rt1 = t1.refresh().to_owned();
    let mut forged = rt1[..40].to_owned();
    forged.push_str(&"A".repeat(rt1.len() - 40));
    assert_ne!(forged, rt1);
    server.refresh(&forged).assert_error(400, "invalid_grant");
    let v = server.introspect(RS_ID, &secret, &forged).json();
    assert_eq!(v["active"], Value::Bool(false), "{v}");
    // Revoking the forged token is a no-op (RFC 7009: 200 for unknown tokens)…
    assert_eq!(server.revoke(&forged, Some("refresh_token")).status, 200);
    // …and the real token still works.
    let t2 = server.refresh(&rt1).tokens();
    assert_ne!(t2.refresh(), rt1);
}
