//! The phone-side pages in a real headless Chromium at 360×640: sign in, approve a
//! device, deny one, revoke one from the account page and see its token turn
//! inactive, sign other browsers out, change the password, a wrong code and a
//! throttled one. Every page is checked for sideways scrolling, scripts, foreign
//! resources and labels, and screenshotted into `tests/artifacts/` (and into
//! `docs/screenshots/` with `AUTHGATE_UPDATE_SCREENSHOTS=1`).
//!
//! Needs `chromium` and `chromium-driver` (`scripts/test-all.sh` installs them); set
//! `AUTHGATE_SKIP_BROWSER=1` to skip these tests on a machine without them.

use std::time::Duration;

use authgate_tests::webdriver::Chrome;
use authgate_tests::{ADMIN_PASSWORD, ADMIN_USER, DataDir, TestServer};
use serde_json::{Value, json};

const RS_ID: &str = "resource-server";

/// A Chromium, or `None` when the browser tests are skipped on purpose.
fn chrome(make: fn() -> Chrome) -> Option<Chrome> {
    if std::env::var("AUTHGATE_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("AUTHGATE_SKIP_BROWSER=1: browser test skipped");
        return None;
    }
    assert!(
        Chrome::available(),
        "Chromium and chromedriver are needed: `apt-get install chromium chromium-driver` \
         (scripts/test-all.sh does it), or set AUTHGATE_SKIP_BROWSER=1"
    );
    Some(make())
}

/// Checks what every (English) page must be, then saves its screenshot.
#[track_caller]
fn audit(c: &Chrome, name: &str) {
    audit_in(c, name, "en");
}

/// Checks what every page in `lang` must be, then saves its screenshot.
#[track_caller]
fn audit_in(c: &Chrome, name: &str, lang: &str) {
    let (scroll, client) = c.widths();
    assert!(
        scroll <= client,
        "{name}: the page scrolls sideways ({scroll} > {client}) at {}",
        c.url()
    );
    let v = c.exec(
        r#"
        const origin = location.origin;
        const foreign = performance.getEntriesByType('resource')
            .map(e => e.name).filter(n => !n.startsWith(origin) && !n.startsWith('data:'));
        const unlabelled = [...document.querySelectorAll('input, select, textarea')]
            .filter(e => e.type !== 'hidden')
            .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label'))
            .map(e => e.name);
        const nameless = [...document.querySelectorAll('button, a')]
            .filter(e => e.textContent.trim() === '' && !e.getAttribute('aria-label'))
            .map(e => e.outerHTML);
        const tiny = [...document.querySelectorAll('main button, main a.button, main input')]
            .filter(e => e.type !== 'hidden' && e.getBoundingClientRect().height < 40)
            .map(e => e.outerHTML);
        return {
            scripts: document.scripts.length,
            foreign, unlabelled, nameless, tiny,
            lang: document.documentElement.lang,
            h1: document.querySelectorAll('h1').length,
            stylesheet: [...document.styleSheets].some(s => s.href && s.href.endsWith('/assets/style.css')),
        };
    "#,
        json!([]),
    );
    assert_eq!(v["scripts"], json!(0), "{name}: pages carry no script");
    assert_eq!(v["foreign"], json!([]), "{name}: resources from elsewhere");
    assert_eq!(v["unlabelled"], json!([]), "{name}: fields without a label");
    assert_eq!(
        v["nameless"],
        json!([]),
        "{name}: buttons or links without text"
    );
    assert_eq!(v["tiny"], json!([]), "{name}: tap targets under 40 px");
    assert_eq!(v["lang"], json!(lang), "{name}");
    assert_eq!(v["h1"], json!(1), "{name}: one heading per page");
    assert_eq!(
        v["stylesheet"],
        json!(true),
        "{name}: the embedded stylesheet loaded"
    );
    c.screenshot(name);
}

fn active(server: &TestServer, secret: &str, token: &str) -> bool {
    server.introspect(RS_ID, secret, token).json()["active"] == Value::Bool(true)
}

#[test]
fn a_phone_approves_denies_revokes_and_is_throttled() {
    let dir = DataDir::new();
    let secret = dir.add_confidential_client(RS_ID, "Resource server", "profile read write");
    let server = TestServer::start_in(dir, &[], &[]);
    let Some(c) = chrome(Chrome::phone) else {
        return;
    };

    // Arriving from verification_uri_complete: sign in, then straight to consent.
    let a = server.device_code(Some("profile read"));
    let complete = a
        .verification_uri_complete
        .clone()
        .expect("verification_uri_complete");
    c.goto(&complete);
    c.wait_for("input#username");
    assert_eq!(c.focused_id(), "username", "the first field has focus");
    audit(&c, "01-sign-in");
    c.type_into("#username", "admin");
    c.type_into("#password", "not the password");
    c.click("main button[type=submit]");
    c.wait_text(".alert-error", "Wrong user name or password");
    audit(&c, "01b-sign-in-failed");
    c.type_into("#password", ADMIN_PASSWORD);
    c.click("main button[type=submit]");
    let h1 = c.wait_text("h1", "to your account");
    assert!(
        h1.contains("AuthGate CLI"),
        "consent names the client: {h1}"
    );
    let page = c.text(&c.find("main"));
    assert!(page.contains(&a.user_code), "the code is shown: {page}");
    assert!(
        page.contains("Only approve a device you are holding that is showing this code"),
        "{page}"
    );
    assert!(page.contains("See your user name") && page.contains("Read your data"));
    assert!(page.contains("127.0.0.1"), "the device's address: {page}");
    assert!(page.contains("ago"), "when the device asked: {page}");
    audit(&c, "03-consent");
    c.set_dark(true);
    c.screenshot("03-consent-dark");
    c.set_dark(false);
    c.click("button[value=approve]");
    c.wait_text("h1", "Device approved");
    audit(&c, "04-approved");
    let tokens_a = server.poll_until_done(&a, Duration::from_secs(20)).tokens();

    // Typing a code: lower case with a space works; Deny.
    let b = server.device_code(Some("read"));
    c.goto(&server.url("/device"));
    c.wait_for("input#user_code");
    assert_eq!(c.focused_id(), "user_code", "the code field has focus");
    audit(&c, "02-enter-code");
    let typed = b.user_code.to_lowercase().replace('-', " ");
    c.type_into("#user_code", &typed);
    c.click("main form button[type=submit]");
    c.wait_text("h1", "to your account");
    c.click("button[value=deny]");
    c.wait_text("h1", "Request denied");
    audit(&c, "05-denied");
    server
        .poll_until_done(&b, Duration::from_secs(20))
        .assert_error(400, "access_denied");

    // Upper case without the dash works too; approve a second device.
    let d = server.device_code(Some("read write"));
    c.goto(&server.url("/device"));
    c.type_into("#user_code", &d.user_code.replace('-', ""));
    c.click("main form button[type=submit]");
    c.wait_text("h1", "to your account");
    c.click("button[value=approve]");
    c.wait_text("h1", "Device approved");
    let tokens_d = server.poll_until_done(&d, Duration::from_secs(20)).tokens();
    assert!(active(&server, &secret, &tokens_a.access_token));
    assert!(active(&server, &secret, &tokens_d.access_token));

    // A second browser signs in; the account page lists both devices and sessions.
    let mut other = server.browser();
    other.login(ADMIN_USER, ADMIN_PASSWORD);
    c.goto(&server.url("/account"));
    c.wait_text("h1", "Your account");
    let devices = c.find_all("section[aria-labelledby=devices-h] li.card");
    assert_eq!(devices.len(), 2, "two devices hold access");
    let sessions = c.find_all("section[aria-labelledby=sessions-h] li.card");
    assert_eq!(sessions.len(), 2, "two browsers are signed in");
    let account = c.text(&c.find("main"));
    assert!(account.contains("This browser") && account.contains("Chrome on Android"));
    assert!(account.contains("Last refreshed") && account.contains("Device address"));
    audit(&c, "06-account");
    c.set_dark(true);
    c.screenshot("06-account-dark");
    c.set_dark(false);

    // Revoke device A (the one that may see the user name): its token turns inactive.
    let card_a = devices
        .iter()
        .find(|e| c.text(e).contains("See your user name"))
        .expect("device A on the account page");
    let revoke = c
        .find_all_in(card_a, "button")
        .into_iter()
        .next()
        .expect("a Revoke button");
    c.click_element(&revoke);
    c.wait_text(".alert-ok", "Device revoked");
    audit(&c, "07-revoked");
    assert_eq!(
        c.find_all("section[aria-labelledby=devices-h] li.card")
            .len(),
        1
    );
    assert!(
        !active(&server, &secret, &tokens_a.access_token),
        "a revoked device's access token is inactive"
    );
    server
        .refresh(tokens_a.refresh())
        .assert_error(400, "invalid_grant");
    assert!(
        active(&server, &secret, &tokens_d.access_token),
        "the other device keeps its access"
    );

    // Sign the other browser out from here.
    c.click("form[action='/account/sessions'] input[value=others] ~ button");
    c.wait_text(".alert-ok", "Every other browser was signed out");
    assert_eq!(
        c.find_all("section[aria-labelledby=sessions-h] li.card")
            .len(),
        1
    );
    let r = other.get("/account");
    assert_eq!(r.status, 303, "the other browser is signed out");

    // Change the password: the old one stops working, the new one signs in.
    c.goto(&server.url("/account/password"));
    c.wait_for("#current_password");
    audit(&c, "08-change-password");
    let new_password = "a brand new long passphrase";
    c.type_into("#current_password", ADMIN_PASSWORD);
    c.type_into("#new_password", new_password);
    c.type_into("#confirm_password", new_password);
    c.click("main form button[type=submit]");
    c.wait_text(".alert-ok", "Password changed");
    assert_eq!(
        server
            .browser()
            .try_login(ADMIN_USER, ADMIN_PASSWORD)
            .status,
        401
    );
    server.browser().login(ADMIN_USER, new_password);

    // A wrong code: a clear message, and the field keeps what was typed.
    c.goto(&server.url("/device"));
    c.type_into("#user_code", "bbbb-bbbb");
    c.click("main form button[type=submit]");
    c.wait_text(".alert-error", "wrong, expired or already used");
    assert_eq!(
        c.property(&c.find("#user_code"), "value"),
        json!("bbbb-bbbb")
    );
    audit(&c, "09-wrong-code");

    // Keep guessing: stopped after a handful, with "try again in N s".
    let mut tries = 1;
    loop {
        c.type_into("#user_code", "CCCC-DDDD");
        c.click("main form button[type=submit]");
        c.wait_for(".alert");
        if !c.find_all(".alert-wait").is_empty() {
            break;
        }
        tries += 1;
        assert!(
            tries <= 10,
            "more than 10 wrong codes a minute were looked up"
        );
    }
    assert!(tries >= 5, "throttled after only {tries} wrong codes");
    let msg = c.text(&c.find(".alert-wait"));
    let secs: u64 = msg
        .split("Try again in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `Try again in N s` in {msg:?}"));
    assert!((1..=60).contains(&secs), "{msg}");
    audit(&c, "10-throttled");
}

#[test]
fn pages_fit_a_desktop_window_too() {
    let server = TestServer::start();
    let Some(c) = chrome(Chrome::desktop) else {
        return;
    };
    c.goto(&server.url("/login"));
    c.wait_for("#username");
    audit(&c, "desktop-01-sign-in");
    c.type_into("#username", ADMIN_USER);
    c.type_into("#password", ADMIN_PASSWORD);
    c.click("main button[type=submit]");
    c.wait_text("h1", "Your account");
    let code = server.device_code(Some("profile read write"));
    c.goto(&server.url("/device"));
    c.wait_for("#user_code");
    audit(&c, "desktop-02-enter-code");
    c.type_into("#user_code", &code.user_code);
    c.click("main form button[type=submit]");
    c.wait_text("h1", "to your account");
    audit(&c, "desktop-03-consent");
    c.click("button[value=approve]");
    c.wait_text("h1", "Device approved");
    server
        .poll_until_done(&code, Duration::from_secs(20))
        .tokens();
    c.goto(&server.url("/account"));
    c.wait_text("h1", "Your account");
    audit(&c, "desktop-04-account");
}

#[test]
fn consent_in_german_and_japanese_through_the_switch() {
    let server = TestServer::start();
    let Some(c) = chrome(Chrome::phone) else {
        return;
    };
    let a = server.device_code(Some("profile read"));
    let complete = a
        .verification_uri_complete
        .clone()
        .expect("verification_uri_complete");
    c.goto(&complete);
    c.wait_for("input#username");
    // Switch on the sign-in page: the language is remembered and `next` kept.
    c.click("footer a[hreflang=de]");
    c.wait_text("h1", "Anmelden");
    c.type_into("#username", ADMIN_USER);
    c.type_into("#password", ADMIN_PASSWORD);
    c.click("main button[type=submit]");
    c.wait_text("h1", "mit Ihrem Konto verbinden");
    let page = c.text(&c.find("main"));
    assert!(page.contains(&a.user_code), "{page}");
    assert!(
        page.contains("Lassen Sie nur ein Gerät zu, das Sie gerade in der Hand halten"),
        "{page}"
    );
    assert!(page.contains("Ihren Benutzernamen sehen") && page.contains("Ihre Daten lesen"));
    audit_in(&c, "03-consent-de", "de");

    c.click("footer a[hreflang=ja]");
    c.wait_text("h1", "アカウントに接続しますか");
    let page = c.text(&c.find("main"));
    assert!(page.contains(&a.user_code), "{page}");
    assert!(page.contains("承認するのは、いま手元にあり"), "{page}");
    assert!(page.contains("ユーザー名の参照"), "{page}");
    audit_in(&c, "03-consent-ja", "ja");
    c.click("button[value=approve]");
    c.wait_text("h1", "デバイスを承認しました");
    audit_in(&c, "04-approved-ja", "ja");
    server.poll_until_done(&a, Duration::from_secs(20)).tokens();
}
