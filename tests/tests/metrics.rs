//! `/metrics` after a real device flow: every counter the operator needs is present
//! and counts what happened.

use authgate_tests::{ADMIN_USER, TestServer, paths};

/// The value of the sample `name` (with its labels exactly as written), or 0.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

#[test]
fn metrics_count_a_device_flow() {
    let server = TestServer::start();
    let before = server.get("/metrics").assert_status(200).text();
    assert_eq!(
        sample(&before, r#"authgate_tokens_total{kind="issued"}"#),
        0.0
    );

    let tokens = server.obtain_tokens(Some("read"));
    server.refresh(tokens.refresh()).assert_status(200);
    let again = server.obtain_tokens(None);
    server.revoke(&again.access_token, None).assert_status(200);
    let denied = server.device_code(None);
    let mut b = server.browser();
    b.login(ADMIN_USER, authgate_tests::ADMIN_PASSWORD);
    b.deny(&denied.user_code);
    assert_eq!(server.browser().try_login(ADMIN_USER, "wrong").status, 401);
    server.poll(&denied.device_code);

    let r = server.get("/metrics");
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let m = r.text();
    let check = |name: &str, want: f64| {
        let got = sample(&m, name);
        assert!(got >= want, "{name} = {got}, want >= {want}\n{m}");
    };
    check(r#"authgate_device_codes_total{kind="issued"}"#, 3.0);
    check(r#"authgate_device_codes_total{kind="approved"}"#, 2.0);
    check(r#"authgate_device_codes_total{kind="denied"}"#, 1.0);
    check(r#"authgate_tokens_total{kind="issued"}"#, 2.0);
    check(r#"authgate_tokens_total{kind="refreshed"}"#, 1.0);
    check(r#"authgate_tokens_total{kind="revoked"}"#, 1.0);
    check("authgate_login_failures_total", 1.0);
    check(
        r#"authgate_http_requests_total{method="POST",route="/oauth/token",status="200"}"#,
        3.0,
    );
    check(
        r#"authgate_http_requests_total{method="POST",route="/oauth/token",status="400"}"#,
        1.0,
    );
    check(
        r#"authgate_http_request_duration_seconds_count{route="/oauth/token"}"#,
        4.0,
    );
    // The commit metrics are those of redb's single writer and its group commits;
    // on PostgreSQL each request commits its own transaction: no batches to count.
    if !authgate_tests::backend::is_postgres() {
        check("authgate_db_commit_duration_seconds_count", 5.0);
        check("authgate_db_commit_batch_size_sum", 5.0);
    }
    check(
        r#"authgate_audit_events_total{kind="device_approved"}"#,
        2.0,
    );
    check("authgate_sweeps_total", 1.0);
    for name in [
        "authgate_throttled_total",
        "authgate_refresh_reuse_total",
        "authgate_swept_total",
    ] {
        assert!(
            m.contains(&format!("# TYPE {}", name.trim_end_matches("_total"))),
            "{name} not declared\n{m}"
        );
    }
    // Unknown paths are folded into one label.
    server.get("/wp-login.php");
    let m = server.get("/metrics").text();
    assert!(m.contains(r#"route="other",status="404""#), "{m}");
    assert!(!m.contains("wp-login"));
    // Every answer carries its request id.
    assert_eq!(
        server
            .get(paths::METADATA)
            .header("x-request-id")
            .map(|v| v.len()),
        Some(16)
    );
}

#[test]
fn metrics_can_be_turned_off() {
    let server = TestServer::start_with(&["--metrics", "false"], &[]);
    assert_eq!(server.get("/metrics").status, 404);
}

/// With `metrics_token` set, `/metrics` answers only `Authorization: Bearer
/// <token>`; anything else is a bare 401 Bearer challenge with no metrics in it.
#[test]
fn metrics_token_guards_the_endpoint() {
    let token = "scrape-me-0123456789";
    let server = TestServer::start_with(&[], &[("AUTHGATE_METRICS_TOKEN", token)]);
    let refused = |r: authgate_tests::Reply| {
        r.assert_status(401);
        assert_eq!(
            r.header("www-authenticate").as_deref(),
            Some("Bearer realm=\"authgate\"")
        );
        assert!(!r.text().contains("authgate_"), "{}", r.text());
    };
    refused(server.get("/metrics"));
    refused(server.get_bearer("/metrics", "scrape-me-012345678"));
    refused(server.get_bearer("/metrics", &format!("{token}x")));
    let basic = server
        .http()
        .get(server.url("/metrics"))
        .basic_auth("x", Some(token))
        .send()
        .expect("GET");
    assert_eq!(basic.status().as_u16(), 401);
    let ok = server.get_bearer("/metrics", token);
    ok.assert_status(200);
    assert!(
        ok.text().contains("authgate_http_requests_total"),
        "{}",
        ok.text()
    );
    // Other endpoints don't care.
    server.get("/health").assert_status(200);
}
