//! The pages over plain HTTP: security headers, cookie flags, a new session id at
//! every sign-in, the sessions list with sign-out, and the change-password rules.

use authgate_tests::{ADMIN_PASSWORD, ADMIN_USER, Reply, TestServer, csrf_token};

fn header(r: &Reply, name: &str) -> String {
    r.header(name)
        .unwrap_or_else(|| panic!("no {name} header; got {:?}", r.headers))
}

fn set_cookie(r: &Reply, name: &str) -> String {
    r.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie set; headers {:?}", r.headers))
}

#[test]
fn pages_send_strict_headers_and_cookies() {
    let server = TestServer::start();
    let mut b = server.browser();
    let r = b.get("/login");
    assert_eq!(r.status, 200);
    let csp = header(&r, "content-security-policy");
    for part in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "CSP lacks {part}: {csp}");
    }
    assert!(
        !csp.contains("script-src") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    assert_eq!(header(&r, "referrer-policy"), "no-referrer");
    assert_eq!(header(&r, "cache-control"), "no-store");
    assert!(!r.text().contains("<script"), "pages carry no script");
    let csrf = set_cookie(&r, "authgate_csrf");
    assert!(
        csrf.contains("HttpOnly") && csrf.contains("SameSite=Strict"),
        "{csrf}"
    );
    assert!(
        !csrf.contains("Secure"),
        "no Secure over plain http: {csrf}"
    );

    // Sign in: an HttpOnly, SameSite session cookie.
    let token = csrf_token(&r.text()).expect("csrf");
    let r = b.post_form(
        "/login",
        &[
            ("username", ADMIN_USER),
            ("password", ADMIN_PASSWORD),
            ("csrf_token", &token),
            ("next", "/device"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let session = set_cookie(&r, "authgate_session");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    let first = b.cookies()["authgate_session"].clone();

    // The device page shows codes: never cached.
    let r = b.get("/device");
    assert_eq!(r.status, 200);
    assert_eq!(header(&r, "cache-control"), "no-store");

    // Signing in again gives a new session id, and the old one stops working.
    let token = b.csrf_of("/device");
    let r = b.post_form(
        "/login",
        &[
            ("username", ADMIN_USER),
            ("password", ADMIN_PASSWORD),
            ("csrf_token", &token),
            ("next", "/device"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let second = b.cookies()["authgate_session"].clone();
    assert_ne!(first, second, "a new session id at every sign-in");
    let mut old = server.browser();
    old.set_cookie("authgate_session", &first);
    assert_eq!(
        old.get("/account").status,
        303,
        "the replaced session ended"
    );
}

#[test]
fn sessions_can_be_signed_out_and_passwords_changed() {
    let server = TestServer::start();
    let mut phone = server.browser();
    phone.login(ADMIN_USER, ADMIN_PASSWORD);
    let mut laptop = server.browser();
    laptop.login(ADMIN_USER, ADMIN_PASSWORD);

    let html = phone.get("/account").text();
    assert_eq!(
        html.matches(r#"action="/account/sessions""#).count(),
        3,
        "{html}"
    );
    assert!(html.contains("This browser"), "{html}");
    // Sign the laptop out by its id: the session that is not "this browser".
    let ids: Vec<&str> = html
        .split(r#"name="session" value=""#)
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|v| *v != "others")
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    let csrf = csrf_token(&html).expect("csrf");
    let mine = phone.cookies()["authgate_session"].clone();
    // The first card is this browser (listed first); sign out the other one.
    let r = phone.post_form(
        "/account/sessions",
        &[("session", ids[1]), ("csrf_token", &csrf)],
    );
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/account?notice=signed-out")
    );
    assert_eq!(
        laptop.get("/account").status,
        303,
        "the laptop was signed out"
    );
    assert_eq!(phone.get("/account").status, 200, "the phone was not");
    assert_eq!(phone.cookies()["authgate_session"], mine);

    // Someone else's (or a made-up) session id changes nothing.
    let r = phone.post_form(
        "/account/sessions",
        &[("session", &"ab".repeat(32)), ("csrf_token", &csrf)],
    );
    assert_eq!(r.status, 303);
    assert_eq!(phone.get("/account").status, 200);

    // Change password: the rules, then success.
    let csrf = phone.csrf_of("/account/password");
    let change = |b: &mut authgate_tests::Browser, cur: &str, new: &str, again: &str| {
        b.post_form(
            "/account/password",
            &[
                ("current_password", cur),
                ("new_password", new),
                ("confirm_password", again),
                ("csrf_token", &csrf),
            ],
        )
    };
    assert_eq!(
        change(&mut phone, ADMIN_PASSWORD, "short", "short").status,
        400
    );
    assert_eq!(
        change(&mut phone, ADMIN_PASSWORD, "long enough 1", "long enough 2").status,
        400
    );
    assert_eq!(
        change(&mut phone, "wrong current", "long enough", "long enough").status,
        401
    );
    laptop.login(ADMIN_USER, ADMIN_PASSWORD);
    let r = change(&mut phone, ADMIN_PASSWORD, "long enough", "long enough");
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(laptop.get("/account").status, 303, "other sessions end");
    assert_eq!(phone.get("/account").status, 200, "this one stays");
    assert_eq!(
        server
            .browser()
            .try_login(ADMIN_USER, ADMIN_PASSWORD)
            .status,
        401
    );
    server.browser().login(ADMIN_USER, "long enough");
}
