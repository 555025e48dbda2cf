//! The admin console (`/admin`) in a real headless Chromium, at phone (360×640) and
//! desktop (1280×800) size: the first-run admin signs in, creates a confidential
//! client through the console, reads its secret (shown once) from the page, and
//! that client then introspects a token over HTTP with basic auth. Plus, over
//! plain HTTP: a signed-in non-admin gets 403, no session is sent to sign in, and
//! a form post without its CSRF token is refused and changes nothing.
//!
//! Screenshots go to `tests/artifacts/admin-*.png` (and `docs/screenshots/` with
//! `AUTHGATE_UPDATE_SCREENSHOTS=1`). `AUTHGATE_SKIP_BROWSER=1` skips the browser part.

use authgate_tests::ops::cli;
use authgate_tests::webdriver::Chrome;
use authgate_tests::{ADMIN_PASSWORD, ADMIN_USER, TestServer, csrf_token};
use serde_json::{Value, json};

/// Checks what every console page must be (no script, no sideways scrolling,
/// labelled fields, one heading, tap targets of 40 px), then screenshots it.
#[track_caller]
fn check(c: &Chrome, name: &str) {
    let (scroll, client) = c.widths();
    assert!(
        scroll <= client,
        "{name}: scrolls sideways ({scroll} > {client})"
    );
    let v = c.exec(
        r#"
        const unlabelled = [...document.querySelectorAll('input, select, textarea')]
            .filter(e => e.type !== 'hidden')
            .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label'))
            .map(e => e.name);
        const tiny = [...document.querySelectorAll('main button, main a.button, main input, main label.check')]
            .filter(e => e.type !== 'hidden' && e.type !== 'checkbox' && e.getBoundingClientRect().height < 40)
            .map(e => e.outerHTML);
        return {
            scripts: document.scripts.length,
            unlabelled, tiny,
            h1: document.querySelectorAll('h1').length,
            forms_without_csrf: [...document.querySelectorAll('form[method=post]')]
                .filter(f => !f.querySelector('input[name=csrf_token]')).length,
        };
    "#,
        json!([]),
    );
    assert_eq!(v["scripts"], json!(0), "{name}: no script");
    assert_eq!(v["unlabelled"], json!([]), "{name}: fields without a label");
    assert_eq!(v["tiny"], json!([]), "{name}: tap targets under 40 px");
    assert_eq!(v["h1"], json!(1), "{name}: one heading");
    assert_eq!(
        v["forms_without_csrf"],
        json!(0),
        "{name}: every form has CSRF"
    );
    c.screenshot(name);
}

/// Toggles a checkbox (a click that loads no page).
fn tick(c: &Chrome, css: &str) {
    c.exec(
        "document.querySelector(arguments[0]).click();",
        json!([css]),
    );
}

fn chrome(make: fn() -> Chrome) -> Option<Chrome> {
    if std::env::var("AUTHGATE_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("AUTHGATE_SKIP_BROWSER=1: browser test skipped");
        return None;
    }
    assert!(Chrome::available(), "Chromium and chromedriver are needed");
    Some(make())
}

/// The console walk at one screen size; `size` names the screenshots.
fn console_walk(make: fn() -> Chrome, size: &str) {
    let server = TestServer::start();
    let Some(c) = chrome(make) else {
        return;
    };
    let client_id = format!("rs-{size}");
    c.goto(&server.url("/admin"));
    c.wait_for("input#username");
    c.type_into("#username", ADMIN_USER);
    c.type_into("#password", ADMIN_PASSWORD);
    c.click("main button[type=submit]");
    c.wait_text("h1", "Users");
    check(&c, &format!("admin-users-{size}"));

    // A confidential client, introspection only: no grant types.
    c.goto(&server.url("/admin/clients"));
    c.wait_text("h1", "Clients");
    check(&c, &format!("admin-clients-{size}"));
    c.type_into("#id", &client_id);
    c.type_into("#name", "Console resource server");
    tick(&c, "input[name=grant_device_code]");
    tick(&c, "input[name=grant_refresh_token]");
    tick(&c, "input[name=confidential]");
    c.click("form input[name=op][value=client_add] ~ button[type=submit]");
    c.wait_text("h1", "Client secret");
    let secret = c.text(&c.find("#client-secret"));
    assert_eq!(secret.len(), 43, "a 256-bit secret: {secret:?}");
    check(&c, &format!("admin-secret-{size}"));

    // The secret works at introspection for a token the CLI client got.
    let tokens = server.obtain_tokens(Some("profile read"));
    let r = server.introspect(&client_id, &secret, &tokens.access_token);
    r.assert_status(200);
    assert_eq!(r.json()["active"], Value::Bool(true), "{}", r.text());
    let wrong = server.introspect(&client_id, "not-the-secret", &tokens.access_token);
    assert_eq!(wrong.status, 401, "{}", wrong.text());

    // Shown once: the client's page has no secret on it.
    c.click(".actions a.button");
    c.wait_text("h1", &client_id);
    assert!(
        !c.source().contains(&secret),
        "the secret is not shown again"
    );
    check(&c, &format!("admin-client-{size}"));

    c.goto(&server.url("/admin/grants"));
    c.wait_text("h1", "Active grants");
    assert!(c.text(&c.find("main")).contains("authgate-cli"));
    check(&c, &format!("admin-grants-{size}"));

    c.goto(&server.url("/admin/audit?kind=client_added"));
    c.wait_text("h1", "Audit log");
    let log = c.text(&c.find("main"));
    assert!(
        log.contains(&client_id) && log.contains(ADMIN_USER),
        "{log}"
    );
    check(&c, &format!("admin-audit-{size}"));

    c.goto(&server.url("/admin/keys"));
    c.wait_text("h1", "Signing keys");
    assert_eq!(c.find_all(".badge").len(), 1, "one key signs");
    check(&c, &format!("admin-keys-{size}"));

    c.goto(&server.url(&format!("/admin/user?name={ADMIN_USER}")));
    c.wait_text("h1", ADMIN_USER);
    check(&c, &format!("admin-user-{size}"));
}

#[test]
fn an_admin_creates_a_confidential_client_on_a_phone() {
    console_walk(Chrome::phone, "phone");
}

#[test]
fn an_admin_creates_a_confidential_client_on_a_desktop() {
    console_walk(Chrome::desktop, "desktop");
}

#[test]
fn non_admins_get_403_and_forms_need_csrf_and_confirmation() {
    let server = TestServer::start();
    // No session: to the sign-in page, coming back here.
    let r = server.browser().get("/admin/clients");
    assert_eq!(r.status, 303, "{}", r.text());
    let to = r.header("location").unwrap_or_default();
    assert!(to.starts_with("/login?next="), "{to}");

    let mut admin = server.browser();
    admin.login(ADMIN_USER, ADMIN_PASSWORD);
    let page = admin.get("/admin").text();
    let csrf = csrf_token(&page).expect("csrf on /admin");

    // Without the CSRF token: refused, nothing created.
    let r = admin.post_form(
        "/admin/action",
        &[
            ("op", "user_add"),
            ("username", "bob"),
            ("password", "bob password 1"),
        ],
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(!admin.get("/admin").text().contains(">bob<"));

    // With it: bob exists, not an admin.
    let r = admin.post_form(
        "/admin/action",
        &[
            ("csrf_token", &csrf),
            ("op", "user_add"),
            ("username", "bob"),
            ("password", "bob password 1"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());

    // A destructive change without its confirmation box is refused.
    let r = admin.post_form(
        "/admin/action",
        &[
            ("csrf_token", &csrf),
            ("op", "user_disable"),
            ("username", "bob"),
        ],
    );
    assert_eq!(r.status, 400, "{}", r.text());

    let mut bob = server.browser();
    bob.login("bob", "bob password 1");
    assert!(admin.get("/account").text().contains("href=\"/admin\""));
    assert!(!bob.get("/account").text().contains("href=\"/admin\""));
    for path in [
        "/admin",
        "/admin/clients",
        "/admin/audit.jsonl",
        "/admin/keys",
    ] {
        assert_eq!(bob.get(path).status, 403, "{path}");
    }
    let bob_csrf = csrf_token(&bob.get("/account").text()).expect("csrf");
    let r = bob.post_form(
        "/admin/action",
        &[
            ("csrf_token", &bob_csrf),
            ("op", "key_rotate"),
            ("confirm", "yes"),
        ],
    );
    assert_eq!(r.status, 403, "{}", r.text());

    // The role toggle: bob becomes an admin and gets in.
    let r = admin.post_form(
        "/admin/action",
        &[
            ("csrf_token", &csrf),
            ("op", "user_role"),
            ("username", "bob"),
            ("admin", "yes"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(bob.get("/admin").status, 200);

    // The export: JSON lines, the console's changes with the admin as actor.
    let export = admin.get("/admin/audit.jsonl?user=bob").text();
    let kinds: Vec<(String, String)> = export
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .map(|v| {
            (
                v["kind"].as_str().unwrap_or_default().to_string(),
                v["actor"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("user_added".into(), ADMIN_USER.into())),
        "{export}"
    );
    assert!(
        kinds.contains(&("user_role_set".into(), ADMIN_USER.into())),
        "{export}"
    );

    // `authgate user add --admin` (through the running server's socket) makes an
    // admin; without the flag, not.
    for (name, flag, status) in [("carol", true, 200), ("dave", false, 403)] {
        let mut args = vec!["user", "add", name, "--password-stdin"];
        if flag {
            args.push("--admin");
        }
        let out = cli(server.data_dir(), &args, Some("a long password\n"), &[]);
        assert!(out.success, "{out:?}");
        let mut b = server.browser();
        b.login(name, "a long password");
        assert_eq!(b.get("/admin").status, status, "{name}");
    }

    // `authgate user admin NAME` gives an existing user the role (how a deployment
    // older than the role names its first console admin); `--revoke` takes it.
    let mut dave = server.browser();
    dave.login("dave", "a long password");
    for (args, status) in [
        (&["user", "admin", "dave"][..], 200),
        (&["user", "admin", "dave", "--revoke"][..], 403),
    ] {
        let out = cli(server.data_dir(), args, None, &[]);
        assert!(out.success, "{out:?}");
        assert_eq!(dave.get("/admin").status, status, "{args:?}");
    }
    let out = cli(server.data_dir(), &["user", "admin", "nobody"], None, &[]);
    assert!(!out.success, "an unknown user is refused: {out:?}");
}

/// The console on PostgreSQL: the first-run admin has the role (migration 0003),
/// creates a confidential client whose secret then introspects, and the key page
/// shows the shared ring after a rotation.
#[test]
fn the_console_works_on_postgres() {
    let pg = authgate_tests::pg::PgCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let server = TestServer::start_with(&["--database-url", &pg.url()], &[]);
    let mut admin = server.browser();
    admin.login(ADMIN_USER, ADMIN_PASSWORD);
    let csrf = csrf_token(&admin.get("/admin/clients").text()).expect("csrf");
    let r = admin.post_form(
        "/admin/action",
        &[
            ("csrf_token", &csrf),
            ("op", "client_add"),
            ("id", "rs-pg"),
            ("scopes", "profile read"),
            ("confidential", "yes"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    let at = html.find("id=\"client-secret\">").expect("the secret") + 19;
    let secret = &html[at..at + 43];
    let tokens = server.obtain_tokens(Some("read"));
    let r = server.introspect("rs-pg", secret, &tokens.access_token);
    assert_eq!(r.json()["active"], Value::Bool(true), "{}", r.text());

    let before = admin.get("/admin/keys").text();
    let r = admin.post_form(
        "/admin/action",
        &[
            ("csrf_token", &csrf),
            ("op", "key_rotate"),
            ("confirm", "yes"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let after = admin.get("/admin/keys").text();
    assert_eq!(after.matches("<li class=\"card").count(), 2, "{after}");
    assert_ne!(before, after);
    assert_eq!(
        pg.psql("SELECT admin FROM users WHERE username = 'admin'")
            .unwrap(),
        "t"
    );
}
