//! Two `authgate` instances on one PostgreSQL database, as behind a load balancer
//! (issue 13): whatever one instance acknowledged or decided, the other sees, and
//! every limit counts across both. Both run with the same `--base-url` (the
//! balancer's), so tokens carry one issuer and audience.
//!
//! These need the PostgreSQL backend and run in the `AUTHGATE_TEST_BACKEND=postgres`
//! pass (`scripts/test-all.sh`); on redb (one process per file) they skip.

mod support;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use authgate_tests::ops::cli;
use authgate_tests::{
    ADMIN_PASSWORD, ADMIN_USER, DEFAULT_CLIENT, DataDir, Reply, TestServer, needs_postgres, paths,
};
use serde_json::Value;

/// The load balancer's URL: the issuer and audience of both instances.
const BASE_URL: &str = "http://lb.authgate.test";
/// A resource server that introspects.
const RS_ID: &str = "multi-rs";

/// Instance A (with a confidential resource-server client registered beforehand),
/// instance B on the same database, and the resource server's secret.
fn pair(extra: &[&str]) -> (TestServer, TestServer, String) {
    let dir = DataDir::new();
    let secret = dir.add_confidential_client(RS_ID, "Multi RS", "profile read write");
    let mut args = vec!["--base-url", BASE_URL];
    args.extend_from_slice(extra);
    let a = TestServer::start_in(dir, &args, &[]);
    let b = a.start_peer(&args, &[]);
    (a, b, secret)
}

/// A logged-in browser session on `server`.
fn logged_in(server: &TestServer) -> authgate_tests::Browser {
    let mut browser = server.browser();
    browser.login(ADMIN_USER, ADMIN_PASSWORD);
    browser
}

/// Waits just over the test poll interval (1 s), so the next poll is not too fast.
fn wait_interval() {
    thread::sleep(Duration::from_millis(1100));
}

fn active(server: &TestServer, secret: &str, token: &str) -> bool {
    let v = server.introspect(RS_ID, secret, token).json();
    v["active"] == Value::Bool(true)
}

#[test]
fn authorized_on_a_approved_on_b_redeemed_on_either() {
    needs_postgres!();
    let (a, b, secret) = pair(&[]);
    let code = a.device_code(Some("read"));
    // The user code made by A is found by B, and the approval on B is seen by A.
    logged_in(&b).approve(&code.user_code);
    let tokens = a.poll(&code.device_code).tokens();
    assert_eq!(tokens.scope.as_deref(), Some("read"));
    // The tokens A issued are known to B.
    assert!(active(&b, &secret, &tokens.access_token));
    let refreshed = b.refresh(tokens.refresh()).tokens();
    assert!(active(&a, &secret, &refreshed.access_token));

    // A denial on A is seen by B's token endpoint.
    let denied = b.device_code(None);
    logged_in(&a).deny(&denied.user_code);
    b.poll(&denied.device_code)
        .assert_error(400, "access_denied");
}

#[test]
fn polls_alternating_between_instances_too_fast_get_slow_down() {
    needs_postgres!();
    let (a, b, _) = pair(&[]);
    // At the interval, alternating is fine.
    let paced = a.device_code(None);
    a.poll(&paced.device_code)
        .assert_error(400, "authorization_pending");
    wait_interval();
    b.poll(&paced.device_code)
        .assert_error(400, "authorization_pending");

    // Faster than the interval, A then B at once: slow_down from B.
    let code = b.device_code(None);
    a.poll(&code.device_code)
        .assert_error(400, "authorization_pending");
    let r = b.poll(&code.device_code);
    r.assert_error(400, "slow_down");
    r.assert_no_store();
    // The interval grew to 6 s for that code on both instances: 2 s later, A says
    // slow_down too.
    thread::sleep(Duration::from_secs(2));
    a.poll(&code.device_code).assert_error(400, "slow_down");
    // The other code kept its interval.
    wait_interval();
    a.poll(&paced.device_code)
        .assert_error(400, "authorization_pending");
}

#[test]
fn racing_redemptions_on_two_instances_exactly_one_wins() {
    needs_postgres!();
    let (a, b, secret) = pair(&[]);
    let (a, b) = (Arc::new(a), Arc::new(b));
    let mut browser = logged_in(&a);
    let mut both_answered = 0;
    for round in 0..4 {
        let code = a.device_code(Some("read"));
        browser.approve(&code.user_code);
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = [Arc::clone(&a), Arc::clone(&b)]
            .into_iter()
            .map(|server| {
                let (barrier, dc) = (Arc::clone(&barrier), code.device_code.clone());
                thread::spawn(move || {
                    barrier.wait();
                    server.poll(&dc)
                })
            })
            .collect();
        let replies: Vec<Reply> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let texts: Vec<String> = replies.iter().map(Reply::text).collect();
        let winners: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
        assert!(!winners.is_empty(), "round {round}: a winner: {texts:?}");
        // A second answer is the other poll, serialized behind the redemption by
        // the row lock, finding the code redeemed and its tokens unused: a retry
        // of a lost answer (tests/retry.rs), which retires the first pair. Else
        // the other poll was paced first (slow_down).
        for loser in replies.iter().filter(|r| r.status != 200) {
            let why = loser.error().unwrap_or_default();
            assert!(
                why == "invalid_grant" || why == "slow_down",
                "round {round}: the loser got {texts:?}"
            );
        }
        both_answered += usize::from(winners.len() == 2);
        // Exactly one pair is live, on both instances.
        let live: Vec<_> = winners
            .iter()
            .map(|r| r.tokens())
            .filter(|t| active(&a, &secret, &t.access_token))
            .collect();
        assert_eq!(live.len(), 1, "round {round}: one live pair: {texts:?}");
        assert!(active(&b, &secret, &live[0].access_token));
    }
    // And a used code stays used, on both.
    let code = b.device_code(None);
    browser.approve(&code.user_code);
    let tokens = b.poll(&code.device_code).tokens();
    b.refresh(tokens.refresh()).tokens();
    wait_interval();
    let again = a.poll(&code.device_code);
    assert_eq!(again.status, 400, "{}", again.text());
    assert_eq!(again.error().as_deref(), Some("invalid_grant"));
    eprintln!("in {both_answered} of 4 races both polls were answered (the second a retry)");
}

#[test]
fn a_refresh_token_rotated_on_a_and_reused_on_b_revokes_the_family() {
    needs_postgres!();
    // Retry window off: the rotated token replayed at once is reuse (within the
    // window it would be a retry of a lost answer; see tests/retry.rs).
    let (a, b, secret) = pair(&["--retry-window", "0"]);
    let t1 = a.obtain_tokens(Some("read"));
    let t2 = a.refresh(t1.refresh()).tokens();
    assert!(active(&b, &secret, &t2.access_token));

    // The rotated token replayed on B: refused, and the whole family is revoked.
    let r = b.refresh(t1.refresh());
    r.assert_error(400, "invalid_grant");
    r.assert_no_store();
    a.refresh(t2.refresh()).assert_error(400, "invalid_grant");
    b.refresh(t2.refresh()).assert_error(400, "invalid_grant");
    for at in [&t1.access_token, &t2.access_token] {
        assert!(
            !active(&a, &secret, at),
            "family's access token active on A"
        );
        assert!(
            !active(&b, &secret, at),
            "family's access token active on B"
        );
    }
}

#[test]
fn racing_refreshes_of_one_token_on_two_instances_rotate_it_once() {
    needs_postgres!();
    let (a, b, secret) = pair(&[]);
    let t = a.obtain_tokens(Some("read"));
    let (a, b) = (Arc::new(a), Arc::new(b));
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = [Arc::clone(&a), Arc::clone(&b)]
        .into_iter()
        .map(|server| {
            let (barrier, rt) = (Arc::clone(&barrier), t.refresh().to_owned());
            thread::spawn(move || {
                barrier.wait();
                server.refresh(&rt)
            })
        })
        .collect();
    let replies: Vec<Reply> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let texts: Vec<String> = replies.iter().map(Reply::text).collect();
    // Two presentations of one refresh token: one rotation, then (serialized
    // behind it by the grant's row lock) a retry of a lost answer that retires
    // the first successor. Never two live successors.
    let winners: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    for r in replies.iter().filter(|r| r.status != 200) {
        r.assert_error(400, "invalid_grant");
    }
    let live: Vec<_> = winners
        .iter()
        .map(|r| r.tokens())
        .filter(|t| active(&a, &secret, &t.access_token))
        .collect();
    assert_eq!(live.len(), 1, "one live successor: {texts:?}");
    a.refresh(live[0].refresh()).tokens();
}

#[test]
fn wrong_user_codes_spread_over_both_instances_are_throttled_as_one() {
    needs_postgres!();
    let (a, b, _) = pair(&[]);
    let victim = a.device_code(None);
    let mut browser = logged_in(&a);
    // One session guessing, alternating A and B: one instance alone allows 10 wrong
    // codes, so with separate counters 12 guesses (6 on each) would never be refused.
    let mut refused_at = None;
    for i in 0..12 {
        let target = if i % 2 == 0 { &a } else { &b };
        browser.set_base_url(target.base_url());
        let last = char::from(b"MNPQRSTVWXZ"[i % 11]);
        let r = browser.enter_code(&format!("BCDF-GHJ{last}"));
        if r.status == 429 {
            assert!(r.header("retry-after").is_some(), "429 without Retry-After");
            refused_at = Some(i);
            break;
        }
        assert_eq!(r.status, 400, "wrong code {i}: {}", r.text());
    }
    let refused_at =
        refused_at.expect("12 wrong codes over A and B: the shared guess limit never refused");
    assert!(refused_at <= 10, "refused only at guess {refused_at}");
    // Both instances refuse now, even the real code.
    for server in [&a, &b] {
        browser.set_base_url(server.base_url());
        let r = browser.enter_code(&victim.user_code);
        assert_eq!(r.status, 429, "{}: {}", server.base_url(), r.text());
    }
}

#[test]
fn a_key_rotated_through_a_signs_on_b_and_both_publish_the_same_keys() {
    needs_postgres!();
    let (a, b, _) = pair(&[]);
    let before = support::published_keys(&b);
    let t = b.obtain_tokens(Some("read"));
    let old_kid = support::footer_kid(&t.access_token);

    // `authgate key rotate` on A's data directory and database.
    let out = cli(a.data_dir(), &["key", "rotate"], None, &[]);
    assert!(out.success, "key rotate: {out:?}");
    let new_kid = out.field("kid").expect("key rotate prints the new kid");
    assert_ne!(new_kid, old_kid);

    // B signs with the new key within seconds.
    let started = Instant::now();
    let mut rt = t.refresh().to_owned();
    let signed_by = loop {
        let fresh = b.refresh(&rt).tokens();
        rt = fresh.refresh().to_owned();
        let kid = support::footer_kid(&fresh.access_token);
        if kid == new_kid || started.elapsed() > Duration::from_secs(10) {
            break (kid, fresh);
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        signed_by.0,
        new_kid,
        "B still signs with the old key after {:?}",
        started.elapsed()
    );
    eprintln!(
        "B signed with the rotated key after {:?}",
        started.elapsed()
    );
    // The token B signed verifies offline with A's published keys.
    support::verify(&a, &signed_by.1.access_token, Some(BASE_URL))
        .unwrap_or_else(|e| panic!("B's token does not verify with A's keys: {e}"));

    // Both publish the same set: the new key and the old one (its tokens live on).
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut on_a, mut on_b);
    loop {
        on_a = support::published_keys(&a);
        on_b = support::published_keys(&b);
        on_a.sort();
        on_b.sort();
        if on_a == on_b || Instant::now() > deadline {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(on_a, on_b, "A and B publish different key sets");
    for kid in [&old_kid, &new_kid] {
        assert!(
            on_a.iter().any(|(k, _)| k == kid),
            "{kid} missing: {on_a:?}"
        );
    }
    assert_eq!(
        on_a.len(),
        before.len() + 1,
        "before {before:?}, after {on_a:?}"
    );
}

#[test]
fn a_client_disabled_through_a_is_refused_by_b_at_once() {
    needs_postgres!();
    let (a, b, _) = pair(&[]);
    // Both instances know the client (and may have it cached).
    let t = b.obtain_tokens(Some("read"));
    a.device_code(None);
    b.device_code(None);

    let out = cli(
        a.data_dir(),
        &["client", "disable", DEFAULT_CLIENT],
        None,
        &[],
    );
    assert!(out.success, "client disable: {out:?}");
    let done = Instant::now();

    // B refuses the client at once: a new device authorization is invalid_client.
    // "At once" is the time NOTIFY takes to reach B's listening connection (it is
    // sent at the CLI's commit): milliseconds, so a bounded 1 s covers a busy host.
    let r = loop {
        let r = b.post_form(
            paths::DEVICE_AUTHORIZATION,
            &[("client_id", DEFAULT_CLIENT)],
        );
        if r.status == 401 || done.elapsed() > Duration::from_secs(1) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = done.elapsed();
    assert_eq!(
        (r.status, r.error().as_deref()),
        (401, Some("invalid_client")),
        "B still serves the disabled client ({took:?} after the command): {}",
        r.text()
    );
    // Its refresh tokens no longer work on B (nor on A).
    for server in [&b, &a] {
        let r = server.refresh(t.refresh());
        assert!(
            r.status == 400 || r.status == 401,
            "refresh for a disabled client: {}",
            r.text()
        );
        assert!(
            matches!(
                r.error().as_deref(),
                Some("invalid_client" | "invalid_grant")
            ),
            "{}",
            r.text()
        );
    }
}

#[test]
fn a_browser_session_made_on_a_works_on_b_csrf_included() {
    needs_postgres!();
    let (a, b, _) = pair(&[]);
    let code = b.device_code(Some("read"));
    let mut browser = logged_in(&a);
    // The device page's CSRF token comes from A; the form is posted to B.
    let csrf = browser.csrf_of(paths::DEVICE_PAGE);
    browser.set_base_url(b.base_url());
    let consent = browser.post_form(
        paths::DEVICE_PAGE,
        &[("user_code", &code.user_code), ("csrf_token", &csrf)],
    );
    assert_eq!(
        consent.status,
        200,
        "B refused A's session: {}",
        consent.text()
    );
    // The consent page came from B; its decision goes back to A.
    let html = consent.text();
    let csrf = authgate_tests::csrf_token(&html).expect("consent page CSRF");
    let field = |name: &str| authgate_tests::hidden_value(&html, name).unwrap_or_default();
    browser.set_base_url(a.base_url());
    let r = browser.post_form(
        "/device/consent",
        &[
            ("user_code", &field("user_code")),
            ("request", &field("request")),
            ("consent", &field("consent")),
            ("decision", "approve"),
            ("csrf_token", &csrf),
        ],
    );
    assert_eq!(r.status, 200, "approval on A: {}", r.text());
    b.poll(&code.device_code).tokens();

    // A wrong CSRF token is refused on B too: the check is real, not skipped.
    browser.set_base_url(b.base_url());
    let r = browser.post_form(
        paths::DEVICE_PAGE,
        &[("user_code", &code.user_code), ("csrf_token", "forged")],
    );
    assert_eq!(r.status, 403, "{}", r.text());
    // Logging out on B ends the session on A, even for a copy of the old cookies.
    let cookies = browser.cookies().clone();
    let csrf = browser.csrf_of("/account");
    let out = browser.post_form("/logout", &[("csrf_token", &csrf)]);
    assert_eq!(out.status, 303, "{}", out.text());
    browser.set_base_url(a.base_url());
    for (name, value) in &cookies {
        browser.set_cookie(name, value);
    }
    let after = browser.get(paths::DEVICE_PAGE);
    assert_eq!(
        after.status, 303,
        "the session still works on A after logout on B"
    );
}
