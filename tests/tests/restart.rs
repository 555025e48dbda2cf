//! A restart (same data directory) keeps users, clients, signing keys, pending
//! approvals, refresh tokens and web sessions.

mod support;

use authgate_tests::{ADMIN_PASSWORD, ADMIN_USER, DataDir, TestServer, paths};
use serde_json::Value;

const RS_ID: &str = "resource-server";

#[test]
fn restart_keeps_users_clients_keys_approvals_and_refresh_tokens() {
    let dir = DataDir::new();
    let secret = dir.add_confidential_client(RS_ID, "Resource server", "read write");
    let mut server = TestServer::start_in(dir, &[], &[]);

    let tokens = server.obtain_tokens(Some("read"));
    let keys_before = support::published_keys(&server);
    let kid = support::footer_kid(&tokens.access_token);

    // Approved before the restart, redeemed after.
    let pending = server.device_code(Some("read write"));
    let mut browser = server.browser();
    browser.login(ADMIN_USER, ADMIN_PASSWORD);
    browser.approve(&pending.user_code);
    // Pending before the restart, approved after: the user code must still resolve
    // (its lookup is rebuilt from the data directory).
    let waiting = server.device_code(Some("read"));

    assert!(
        server.stop(),
        "SIGTERM must shut the server down cleanly (exit 0) within 10 s; stderr:\n{}",
        server.stderr()
    );
    server.start_again();
    browser.set_base_url(server.base_url());

    // Users: the admin can still log in.
    let mut fresh = server.browser();
    fresh.login(ADMIN_USER, ADMIN_PASSWORD);
    // Web sessions: the old browser is still logged in.
    let r = browser.get(paths::DEVICE_PAGE);
    assert_eq!(r.status, 200, "session lost over restart: {}", r.text());

    // Clients: the confidential client still authenticates (and a wrong secret does not).
    let v = server
        .introspect(RS_ID, &secret, &tokens.access_token)
        .json();
    assert_eq!(
        v["active"],
        Value::Bool(true),
        "old access token after restart: {v}"
    );
    server
        .introspect(RS_ID, "wrong-secret", &tokens.access_token)
        .assert_error(401, "invalid_client");

    // Keys: the old token verifies with the new PASERK document; the key is still there.
    let keys_after = support::published_keys(&server);
    assert!(
        keys_after.iter().any(|(k, _)| *k == kid),
        "signing key {kid} not published after restart: {keys_after:?} (before: {keys_before:?})"
    );
    support::verify(&server, &tokens.access_token, None).expect("old token verifies");
    // New tokens are signed with a published key as well.
    let t_new = server.obtain_tokens(Some("read"));
    support::verify(&server, &t_new.access_token, Some(server.base_url()))
        .expect("new token verifies");

    // Approvals: redeem the code approved before the restart.
    let r = server.poll(&pending.device_code);
    let t2 = r.tokens();
    assert!(t2.access_token.starts_with("v4.public."));

    // A user code issued before the restart can be approved after it.
    browser.approve(&waiting.user_code);
    let t4 = server.poll(&waiting.device_code).tokens();
    assert!(t4.access_token.starts_with("v4.public."));

    // Refresh tokens: refresh the grant from before the restart.
    let t3 = server.refresh(tokens.refresh()).tokens();
    assert_ne!(t3.refresh(), tokens.refresh());
}

#[test]
fn rotation_state_survives_restart() {
    let mut server = TestServer::start();
    let t1 = server.obtain_tokens(Some("read"));
    let t2 = server.refresh(t1.refresh()).tokens();

    server.restart();

    // The current token works; the rotated one is still known as rotated.
    let t3 = server.refresh(t2.refresh()).tokens();
    server
        .refresh(t1.refresh())
        .assert_error(400, "invalid_grant");
    // ... and its reuse revoked the family, including t3's refresh token.
    server
        .refresh(t3.refresh())
        .assert_error(400, "invalid_grant");
}

#[test]
fn an_acknowledged_approval_survives_a_crash() {
    let mut server = TestServer::start();
    let code = server.device_code(Some("read"));
    let mut browser = server.browser();
    browser.login(ADMIN_USER, ADMIN_PASSWORD);
    browser.approve(&code.user_code);

    // SIGKILL right after the 200: the approval must already be durable.
    server.kill();
    server.start_again();

    let t = server.poll(&code.device_code).tokens();
    assert!(t.access_token.starts_with("v4.public."));
}
