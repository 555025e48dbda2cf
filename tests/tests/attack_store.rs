//! Adversarial tests of storage-backed authorization (issue 11, items 7, 9, 12),
//! against the real binary over HTTP.
//!
//! - A user disabled or deleted after approving a device gets nothing more: the
//!   approved code is refused (`access_denied`), the grant stops refreshing and its
//!   access token introspects inactive.
//! - A revoked grant is deleted by the sweep (not kept forever).
//! - A resource server learns only about tokens meant for it.

use std::time::{Duration, Instant};

use authgate_tests::ops::cli;
use authgate_tests::{
    ADMIN_PASSWORD, ADMIN_USER, DEFAULT_CLIENT, DataDir, TestServer, hidden_value, paths,
};
use serde_json::{Value, json};

fn ok(out: &authgate_tests::AdminOutput) {
    assert!(out.success, "command failed: {out:?}");
}

/// A server with user `carol` (password `carol-password`) and resource server
/// `rs`; returns the server and `rs`'s secret.
fn server_with_carol() -> (TestServer, String) {
    let dir = DataDir::new();
    let secret = dir.add_confidential_client("rs", "Resource server", "read");
    ok(&cli(
        dir.path(),
        &["user", "add", "carol", "--password-stdin"],
        Some("carol-password\n"),
        &[],
    ));
    (TestServer::start_in(dir, &[], &[]), secret)
}

/// Item 9: approve as carol, then `authgate user disable|delete carol` through the
/// admin socket: the next poll must not get tokens. RFC 8628 §3.5 `access_denied`
/// ("the authorization request was denied"): the approval no longer stands, and
/// the device should stop polling and tell its user, as after a Deny. (Before the
/// fix the poll got tokens that introspected active and refreshed.)
#[test]
fn an_approved_code_of_a_disabled_or_deleted_user_is_denied() {
    for change in ["disable", "delete"] {
        let (server, secret) = server_with_carol();
        let mut carol = server.browser();
        carol.login("carol", "carol-password");
        let code = server.device_code(Some("read"));
        carol.approve(&code.user_code).assert_status(200);
        ok(&cli(
            server.data_dir(),
            &["user", change, "carol"],
            None,
            &[],
        ));
        let r = server.poll(&code.device_code);
        if r.status == 200 {
            // The old behaviour: show how far the tokens got, then fail.
            let t = r.tokens();
            let active = server.introspect("rs", &secret, &t.access_token).json();
            let refreshed = server.refresh(t.refresh()).status;
            panic!("{change}: the poll got tokens; introspection {active}, refresh {refreshed}");
        }
        r.assert_error(400, "access_denied");
        // And it stays denied.
        std::thread::sleep(Duration::from_millis(1100));
        server
            .poll(&code.device_code)
            .assert_error(400, "access_denied");
    }
}

/// Item 9, after redemption: approve → redeem → disable (or delete) → refresh is
/// `invalid_grant` and the access token introspects `{"active":false}`.
#[test]
fn disabling_or_deleting_after_redeem_ends_refresh_and_introspection() {
    for change in ["disable", "delete"] {
        let (server, secret) = server_with_carol();
        let mut carol = server.browser();
        carol.login("carol", "carol-password");
        let code = server.device_code(Some("read"));
        carol.approve(&code.user_code).assert_status(200);
        let t = server.poll(&code.device_code).tokens();
        let before = server.introspect("rs", &secret, &t.access_token).json();
        assert_eq!(before["active"], true, "{before}");
        ok(&cli(
            server.data_dir(),
            &["user", change, "carol"],
            None,
            &[],
        ));
        server
            .refresh(t.refresh())
            .assert_error(400, "invalid_grant");
        let after = server.introspect("rs", &secret, &t.access_token).json();
        assert_eq!(after, json!({"active": false}), "{change}");
        let info = server.get_bearer(paths::TOKENINFO, &t.access_token);
        assert_eq!(info.status, 401, "{change}: tokeninfo {}", info.text());
    }
}

fn swept_grants(server: &TestServer) -> u64 {
    let text = server.get("/metrics").assert_status(200).text();
    text.lines()
        .find(|l| l.starts_with("authgate_swept_total{") && l.contains("kind=\"grants\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<f64>().ok())
        .map_or(0, |n| n as u64)
}

/// Item 7: revoking a device on `/account` works, and the sweep then deletes the
/// dead grant (counted in `authgate_swept_total{kind="grants"}`; before the fix
/// grants were never deleted and the metric had no such kind).
#[test]
fn a_grant_revoked_on_the_account_page_is_swept_away() {
    let server = TestServer::start_with(&["--sweep-interval", "1s"], &[]);
    let first = server.obtain_tokens(Some("read"));
    let second = server.obtain_tokens(Some("read"));
    let mut b = server.browser();
    b.login(ADMIN_USER, ADMIN_PASSWORD);
    let page = b.get("/account").assert_status(200).text();
    assert_eq!(page.matches("name=\"grant\"").count(), 3, "2 devices + all");
    let grant = hidden_value(&page, "grant").expect("a device to revoke");
    let csrf = b.csrf_of("/account");
    let r = b.post_form(
        "/account/revoke",
        &[("csrf_token", &csrf), ("grant", &grant)],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    // Exactly one of the two devices lost its grant (both were approved in the
    // same second, so which one the page lists first is not fixed).
    let answers = [
        server.refresh(first.refresh()),
        server.refresh(second.refresh()),
    ];
    let refused = answers
        .iter()
        .filter(|r| r.status == 400 && r.error().as_deref() == Some("invalid_grant"))
        .count();
    let refreshed = answers.iter().filter(|r| r.status == 200).count();
    assert_eq!((refused, refreshed), (1, 1), "{answers:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while swept_grants(&server) < 1 {
        assert!(
            Instant::now() < deadline,
            "the revoked grant was not swept: {}",
            server.get("/metrics").text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(swept_grants(&server), 1, "only the dead grant goes");
    let page = b.get("/account").assert_status(200).text();
    assert_eq!(page.matches("name=\"grant\"").count(), 2, "1 device + all");
}

/// Item 12: two resource servers A and B, a device client whose tokens are for A.
/// A sees the token active, with `token_type` `Bearer` and its own `aud`; B gets
/// exactly `{"active":false}` for the access token and for the device client's
/// refresh token. (Before the fix `--audience` did not exist, and every resource
/// server saw every token and every refresh token.)
#[test]
fn a_resource_server_learns_only_about_tokens_meant_for_it() {
    let dir = DataDir::new();
    let d = dir.path();
    let add_rs = |id: &str, extra: &[&str]| {
        let mut args = vec!["client", "add", id, "--confidential", "--scopes", "read"];
        args.extend_from_slice(extra);
        let out = cli(d, &args, None, &[]);
        ok(&out);
        out.field("client_secret").expect("secret")
    };
    let a = add_rs("rs-a", &["--audience", "https://a.example"]);
    let b = add_rs(
        "rs-b",
        &["--audiences", "https://b.example https://b2.example"],
    );
    let plain = add_rs("rs-plain", &[]);
    ok(&cli(
        d,
        &[
            "client",
            "add",
            "tv",
            "--scopes",
            "read",
            "--audience",
            "https://a.example",
        ],
        None,
        &[],
    ));
    let show = cli(d, &["client", "show", "rs-b"], None, &[]);
    assert!(
        show.stdout
            .contains("audiences: https://b.example https://b2.example"),
        "{show:?}"
    );
    let server = TestServer::start_in(dir, &[], &[]);
    let code = server.device_code_as("tv", Some("read"));
    let mut browser = server.browser();
    browser.login(ADMIN_USER, ADMIN_PASSWORD);
    browser.approve(&code.user_code).assert_status(200);
    let t = server.poll_as("tv", &code.device_code).tokens();

    let seen = server.introspect("rs-a", &a, &t.access_token).json();
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["token_type"], "Bearer", "{seen}");
    assert_eq!(seen["aud"], "https://a.example", "{seen}");
    assert_eq!(seen["client_id"], "tv", "{seen}");
    let inactive = json!({"active": false});
    for (who, secret) in [("rs-b", &b), ("rs-plain", &plain)] {
        let v: Value = server.introspect(who, secret, &t.access_token).json();
        assert_eq!(v, inactive, "{who} must not learn about A's token");
    }
    for (who, secret) in [("rs-a", &a), ("rs-b", &b)] {
        let v: Value = server.introspect(who, secret, t.refresh()).json();
        assert_eq!(v, inactive, "{who} must not learn about tv's refresh token");
    }
    // Without audiences configured, tokens carry the default audience and a
    // resource server without audiences sees them, as before.
    let t = server.obtain_tokens(Some("read"));
    let v = server
        .introspect("rs-plain", &plain, &t.access_token)
        .json();
    assert_eq!(v["active"], true, "{v}");
    assert_eq!(v["aud"], server.base_url(), "{v}");
    assert_eq!(v["client_id"], DEFAULT_CLIENT, "{v}");
    let v = server.introspect("rs-a", &a, &t.access_token).json();
    assert_eq!(v, inactive, "A answers to its own audience only");
}
