//! The whole RFC 8628 device flow over HTTP against the real binary.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use authgate_tests::{
    ADMIN_PASSWORD, ADMIN_USER, DEFAULT_CLIENT, DataDir, TestServer, csrf_token, now_unix, params,
    paths, scope_set,
};
use serde_json::Value;

const RS_ID: &str = "resource-server";

/// A server whose data directory has a confidential client for introspection.
fn server_with_rs(args: &[&str]) -> (TestServer, String) {
    let dir = DataDir::new();
    let secret = dir.add_confidential_client(RS_ID, "Resource server", "read write");
    (TestServer::start_in(dir, args, &[]), secret)
}

fn is_user_code(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 9
        && b[4] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || b"BCDFGHJKLMNPQRSTVWXZ".contains(c))
}

fn wait_interval() {
    thread::sleep(Duration::from_millis(1150));
}

#[test]
fn full_flow_token_introspect_refresh_revoke() {
    let (server, secret) = server_with_rs(&[]);
    let base = server.base_url().to_owned();

    // RFC 8628 §3.2 device authorization response.
    let code = server.device_code(Some("read profile"));
    assert!(
        is_user_code(&code.user_code),
        "user code {:?} is not XXXX-XXXX from the RFC 8628 §6.1 alphabet",
        code.user_code
    );
    assert_eq!(code.verification_uri, format!("{base}/device"));
    let complete = code
        .verification_uri_complete
        .clone()
        .expect("verification_uri_complete");
    assert!(
        complete.starts_with(&code.verification_uri),
        "{complete} should extend {}",
        code.verification_uri
    );
    assert!(
        complete.contains(&code.user_code) || complete.contains(&code.user_code.replace('-', "")),
        "{complete} should carry the user code {}",
        code.user_code
    );
    assert!(code.expires_in > 0);
    assert_eq!(code.interval, Some(1), "--poll-interval 1 is the interval");
    assert!(
        code.device_code.len() >= 20,
        "device code too short to be secret"
    );

    // Pending before the user acts.
    let pending = server.poll(&code.device_code);
    pending.assert_error(400, "authorization_pending");
    pending.assert_no_store();

    let mut browser = server.browser();
    browser.login(ADMIN_USER, ADMIN_PASSWORD);
    let done = browser.approve(&code.user_code);
    assert!(!done.text().is_empty());
    wait_interval();

    let r = server.poll(&code.device_code);
    r.assert_no_store();
    let t1 = r.tokens();
    assert!(
        t1.access_token.starts_with("v4.public."),
        "access token is not PASETO v4.public: {}",
        t1.access_token
    );
    assert!(t1.token_type.eq_ignore_ascii_case("bearer"));
    assert_eq!(t1.token_type, "Bearer");
    let expires_in = t1.expires_in.expect("expires_in");
    assert!((1..=900).contains(&expires_in), "expires_in {expires_in}");
    let rt1 = t1.refresh().to_owned();
    assert!(rt1.len() >= 32, "refresh token too short for 256 bits");
    assert_eq!(
        scope_set(t1.scope.as_deref().expect("scope")),
        scope_set("read profile")
    );

    // RFC 7662 introspection, client_secret_basic.
    let now = now_unix();
    let i = server.introspect(RS_ID, &secret, &t1.access_token);
    i.assert_status(200);
    let v = i.json();
    assert_eq!(v["active"], Value::Bool(true), "{v}");
    assert_eq!(v["client_id"], DEFAULT_CLIENT, "{v}");
    assert_eq!(
        scope_set(v["scope"].as_str().expect("scope")),
        scope_set("read profile")
    );
    assert_eq!(v["username"], ADMIN_USER, "{v}");
    assert_eq!(v["iss"], base.as_str(), "{v}");
    assert!(v["sub"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    assert!(v["jti"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    let exp = v["exp"].as_u64().expect("numeric exp");
    let iat = v["iat"].as_u64().expect("numeric iat");
    assert!(exp > now && exp <= now + 901, "exp {exp} now {now}");
    assert!(iat <= now + 1 && iat + 60 > now, "iat {iat} now {now}");
    if let Some(tt) = v.get("token_type") {
        assert_eq!(tt, "Bearer", "RFC 7662 token_type is the access token type");
    }

    // client_secret_post works too.
    let i = server.post_form(
        paths::INTROSPECTION,
        &[
            (params::TOKEN, &t1.access_token),
            (params::CLIENT_ID, RS_ID),
            (params::CLIENT_SECRET, &secret),
        ],
    );
    i.assert_status(200);
    assert_eq!(i.json()["active"], Value::Bool(true));

    // tokeninfo with the bearer token.
    let ti = server.get_bearer(paths::TOKENINFO, &t1.access_token);
    ti.assert_status(200);
    let tv = ti.json();
    assert_eq!(tv["client_id"], DEFAULT_CLIENT, "{tv}");
    assert_eq!(
        scope_set(tv["scope"].as_str().expect("scope in tokeninfo")),
        scope_set("read profile")
    );

    // Refresh with rotation.
    let r = server.refresh(&rt1);
    r.assert_no_store();
    let t2 = r.tokens();
    assert!(t2.access_token.starts_with("v4.public."));
    assert_ne!(t2.access_token, t1.access_token);
    let rt2 = t2.refresh().to_owned();
    assert_ne!(rt2, rt1, "refresh token must rotate");
    assert_eq!(
        scope_set(t2.scope.as_deref().unwrap_or("read profile")),
        scope_set("read profile")
    );
    let i = server.introspect(RS_ID, &secret, &t2.access_token);
    assert_eq!(i.json()["active"], Value::Bool(true));

    // RFC 7009 revocation of the access token.
    server
        .revoke(&t2.access_token, Some(params::HINT_ACCESS_TOKEN))
        .assert_status(200);
    let i = server.introspect(RS_ID, &secret, &t2.access_token);
    i.assert_status(200);
    assert_eq!(i.json(), serde_json::json!({"active": false}));
    let ti = server.get_bearer(paths::TOKENINFO, &t2.access_token);
    ti.assert_status(401);
    assert!(
        ti.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer")),
        "RFC 6750 §3: WWW-Authenticate: Bearer"
    );

    // Revoking the refresh token ends the refresh grant.
    server
        .revoke(&rt2, Some(params::HINT_REFRESH_TOKEN))
        .assert_status(200);
    server.refresh(&rt2).assert_error(400, "invalid_grant");

    // RFC 7009 §2.2: unknown tokens answer 200 too.
    server
        .revoke("not-a-token-we-issued", None)
        .assert_status(200);
}

#[test]
fn deny_gives_access_denied() {
    let server = TestServer::start();
    let code = server.device_code(Some("read"));
    let mut browser = server.browser();
    browser.login(ADMIN_USER, ADMIN_PASSWORD);
    browser.deny(&code.user_code);
    let r = server.poll(&code.device_code);
    r.assert_error(400, "access_denied");
    r.assert_no_store();
    // A denied code never turns into tokens later.
    wait_interval();
    let r = server.poll(&code.device_code);
    assert_eq!(r.status, 400);
    assert!(
        matches!(
            r.error().as_deref(),
            Some("access_denied" | "invalid_grant" | "expired_token")
        ),
        "{}",
        r.text()
    );
}

#[test]
fn expired_device_code_gives_expired_token() {
    let server = TestServer::start_with(&["--device-code-ttl", "2"], &[]);
    let code = server.device_code(None);
    assert!(code.expires_in <= 2, "expires_in {}", code.expires_in);
    thread::sleep(Duration::from_millis(2600));
    server
        .poll(&code.device_code)
        .assert_error(400, "expired_token");

    // The user can no longer enter it either.
    let mut browser = server.browser();
    browser.login(ADMIN_USER, ADMIN_PASSWORD);
    let r = browser.enter_code(&code.user_code);
    assert_eq!(r.status, 400, "expired code must be rejected: {}", r.text());
}

#[test]
fn slow_down_is_enforced_and_interval_grows() {
    let server = TestServer::start();

    // Polling at the interval is fine.
    let paced = server.device_code(None);
    server
        .poll(&paced.device_code)
        .assert_error(400, "authorization_pending");
    wait_interval();
    server
        .poll(&paced.device_code)
        .assert_error(400, "authorization_pending");

    // Polling faster is slow_down (RFC 8628 §3.5).
    let code = server.device_code(None);
    server
        .poll(&code.device_code)
        .assert_error(400, "authorization_pending");
    let r = server.poll(&code.device_code);
    r.assert_error(400, "slow_down");
    r.assert_no_store();

    // The interval is now 1 + 5 = 6 s: a poll 2 s later is still too fast.
    thread::sleep(Duration::from_secs(2));
    server
        .poll(&code.device_code)
        .assert_error(400, "slow_down");

    // The other code's interval did not grow.
    server
        .poll(&paced.device_code)
        .assert_error(400, "authorization_pending");
}

#[test]
fn device_code_is_single_use_under_racing_polls() {
    let server = Arc::new(TestServer::start());
    let code = server.device_code(Some("read"));
    let mut browser = server.browser();
    browser.login(ADMIN_USER, ADMIN_PASSWORD);
    browser.approve(&code.user_code);

    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (server, barrier, dc) = (
                Arc::clone(&server),
                Arc::clone(&barrier),
                code.device_code.clone(),
            );
            thread::spawn(move || {
                barrier.wait();
                server.poll(&dc)
            })
        })
        .collect();
    let replies: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        ok.len(),
        1,
        "exactly one poll may get tokens: {:?}",
        replies.iter().map(|r| r.text()).collect::<Vec<_>>()
    );
    let other = replies.iter().find(|r| r.status != 200).unwrap();
    other.assert_error(400, "invalid_grant");

    // And it stays used.
    wait_interval();
    server
        .poll(&code.device_code)
        .assert_error(400, "invalid_grant");
}

#[test]
fn another_clients_device_code_is_invalid_grant() {
    let dir = DataDir::new();
    dir.add_public_client("other-device", "Other device", "read");
    let server = TestServer::start_in(dir, &[], &[]);

    let code = server.device_code(Some("read"));
    server
        .poll_as("other-device", &code.device_code)
        .assert_error(400, "invalid_grant");

    let mut browser = server.browser();
    browser.login(ADMIN_USER, ADMIN_PASSWORD);
    browser.approve(&code.user_code);
    wait_interval();
    server
        .poll_as("other-device", &code.device_code)
        .assert_error(400, "invalid_grant");
}

#[test]
fn refresh_token_is_bound_to_its_client() {
    let dir = DataDir::new();
    dir.add_public_client("other-device", "Other device", "read");
    let server = TestServer::start_in(dir, &[], &[]);
    let t = server.obtain_tokens(Some("read"));
    server
        .refresh_as("other-device", t.refresh(), None)
        .assert_error(400, "invalid_grant");
}

#[test]
fn pages_prefill_normalize_and_require_login() {
    let server = TestServer::start();
    let code = server.device_code(Some("read"));
    let complete = code
        .verification_uri_complete
        .clone()
        .expect("complete URI");

    // Not logged in: the device page sends to the login page, keeping where to return.
    let mut browser = server.browser();
    let r = browser.get(&complete);
    assert_eq!(r.status, 303, "{}", r.text());
    let loc = r.header("location").expect("Location");
    assert!(loc.contains("/login?next="), "{loc}");

    // Wrong password: 401 with the form again.
    let r = browser.try_login(ADMIN_USER, "wrong password");
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(
        csrf_token(&r.text()).is_some(),
        "401 page shows the form again"
    );
    assert!(!browser.cookies().contains_key("authgate_session"));

    browser.login(ADMIN_USER, ADMIN_PASSWORD);
    // Logged in, the complete URI goes straight to the consent page.
    let r = browser.get(&complete);
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    assert!(html.contains(r#"action="/device/consent""#), "{html}");
    assert!(html.contains(r#"value="approve""#) && html.contains(r#"value="deny""#));

    // Typed in lower case without the dash, the code still matches.
    let typed = code.user_code.replace('-', "").to_ascii_lowercase();
    let r = browser.enter_code(&typed);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(r#"action="/device/consent""#));

    // Logout needs its CSRF token and ends the session.
    let csrf = browser.csrf_of("/account");
    let r = browser.post_form("/logout", &[("csrf_token", &csrf)]);
    assert_eq!(r.status, 303);
    assert!(
        r.header("location")
            .is_some_and(|l| l.ends_with("/login") || l.contains("/login")),
        "{:?}",
        r.header("location")
    );
    let r = browser.get("/device");
    assert_eq!(r.status, 303, "logged out: device page asks to log in");
}

/// Issue 16: a client's own device-code lifetime, poll interval and digit user
/// codes, end to end.
#[test]
fn a_pin_pad_client_gets_its_own_interval_lifetime_and_digit_codes() {
    let dir = DataDir::new();
    let out = dir.run_admin(&[
        "client",
        "add",
        "pinpad",
        "--scopes",
        "read",
        "--user-code-format",
        "digits",
        "--poll-interval",
        "3",
        "--device-code-ttl",
        "2m",
    ]);
    assert!(out.success, "{out:?}");
    let server = TestServer::start_in(dir, &[], &[]);
    let code = server.device_code_as("pinpad", Some("read"));
    assert_eq!(code.interval, Some(3), "{:?}", code.raw);
    assert_eq!(code.expires_in, 120);
    let shown = code.user_code.as_bytes();
    assert!(
        shown.len() == 11
            && shown[5] == b'-'
            && shown
                .iter()
                .enumerate()
                .all(|(i, c)| i == 5 || c.is_ascii_digit()),
        "{}",
        code.user_code
    );
    let canonical = code.user_code.replace('-', "");
    assert!(
        code.verification_uri_complete
            .as_deref()
            .is_some_and(|u| u.ends_with(&format!("user_code={canonical}"))),
        "{:?}",
        code.raw
    );
    // Other clients keep the server's settings.
    let other = server.device_code(None);
    assert_eq!(other.interval, Some(1));
    assert!(is_user_code(&other.user_code), "{}", other.user_code);

    // The 3 s interval is enforced: a poll 1.15 s after the first, fine at the
    // server's 1 s, is too fast for this client.
    server
        .poll_as("pinpad", &code.device_code)
        .assert_error(400, "authorization_pending");
    wait_interval();
    server
        .poll_as("pinpad", &code.device_code)
        .assert_error(400, "slow_down");

    // Typed on a PIN pad: digits with spaces instead of the dash.
    let typed = format!(
        "{} {} {}",
        &canonical[..3],
        &canonical[3..7],
        &canonical[7..]
    );
    let mut b = server.browser();
    b.login(ADMIN_USER, ADMIN_PASSWORD);
    b.approve(&typed);
    // After slow_down the interval is 3 + 5 s (RFC 8628 §3.5).
    thread::sleep(Duration::from_millis(8200));
    let r = server.poll_as("pinpad", &code.device_code);
    r.assert_status(200);
    assert_eq!(r.json()["scope"], "read");
}
