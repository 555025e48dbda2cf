//! The pages in every language, over HTTP against the real binary: each page the
//! suite can reach, in each language, carries the right `<html lang>`, a switch to
//! every other language, its own language's sentences and no English one; the
//! switch sets a validated cookie that wins over `Accept-Language`, and without
//! it `Accept-Language` (q-values, zh-HK → zh-TW) picks the language.

use std::collections::BTreeMap;
use std::time::Duration;

use authgate_tests::{ADMIN_PASSWORD, ADMIN_USER, Browser, Reply, TestServer, csrf_token};

/// Every language: (tag, locale file).
const LANGS: [(&str, &str); 6] = [
    ("en", include_str!("../../server/locales/en/main.ftl")),
    ("de", include_str!("../../server/locales/de/main.ftl")),
    ("es", include_str!("../../server/locales/es/main.ftl")),
    ("fr", include_str!("../../server/locales/fr/main.ftl")),
    ("zh-TW", include_str!("../../server/locales/zh-TW/main.ftl")),
    ("ja", include_str!("../../server/locales/ja/main.ftl")),
];

/// Single English words that are distinctive enough to be wrong on their own in a
/// translated page (whole words, case-sensitive).
const ENGLISH_WORDS: &[&str] = &[
    "Approve", "Deny", "Continue", "Revoke", "Password", "Expires", "Approved", "Asked",
];

/// The texts of a locale file: id → every variant's text (placeables kept).
fn messages(ftl: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = String::new();
    for line in ftl.lines() {
        if line.starts_with('#') || line.trim().is_empty() || line.trim() == "}" {
            continue;
        }
        if !line.starts_with(' ') {
            let (id, value) = line.split_once(" = ").expect("`id = value`");
            current = id.trim().to_owned();
            let entry = out.entry(current.clone()).or_default();
            if !value.trim().starts_with('{') || value.trim().ends_with('}') {
                entry.push(value.trim().to_owned());
            }
        } else if let Some((_, text)) = line.split_once("] ") {
            out.entry(current.clone())
                .or_default()
                .push(text.trim().to_owned());
        }
    }
    out
}

/// The pieces of a message between its placeables (`{ $x }`), trimmed.
fn fragments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in text.chars() {
        match c {
            '{' => {
                depth += 1;
                out.push(std::mem::take(&mut cur));
            }
            '}' => depth -= 1,
            c if depth == 0 => cur.push(c),
            _ => {}
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|f| {
            f.trim_matches(|c: char| c.is_whitespace() || ",.;:?()".contains(c))
                .to_owned()
        })
        .filter(|f| !f.is_empty())
        .collect()
}

/// English sentences (two words or more) that must not appear in another language.
fn english_phrases() -> Vec<String> {
    let mut phrases: Vec<String> = messages(LANGS[0].1)
        .values()
        .flatten()
        .flat_map(|t| fragments(t))
        .filter(|f| f.split_whitespace().count() >= 2)
        .collect();
    phrases.sort();
    phrases.dedup();
    assert!(phrases.len() > 100, "{} English phrases", phrases.len());
    phrases
}

/// The visible text of a page: tags removed, entities decoded, spaces collapsed.
fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let mut decoded = String::new();
    let mut rest = out.as_str();
    while let Some(i) = rest.find('&') {
        decoded.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e < 10) else {
            decoded.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => decoded.push(c),
            None => decoded.push_str(&rest[..=end]),
        }
        rest = &rest[end + 1..];
    }
    decoded.push_str(rest);
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whitespace (NBSP included) collapsed to single spaces, as in [`text_of`].
fn spaced(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn html_lang(html: &str) -> &str {
    let start = html.find("<html lang=\"").expect("<html lang>") + 12;
    let len = html[start..].find('"').expect("closing quote");
    &html[start..start + len]
}

/// Checks one page in `lang`: the lang attribute, the switch, no English left,
/// and (when given) sentences of that language that must be on it.
#[track_caller]
fn check(name: &str, lang: &str, r: &Reply, must: &[&str], english: &[String]) {
    let html = r.text();
    assert_eq!(html_lang(&html), lang, "{name} in {lang}: <html lang>");
    let decoded = html.replace("&#38;", "&").replace("&amp;", "&");
    for (other, _) in LANGS.iter().filter(|(t, _)| *t != lang) {
        assert!(
            decoded.contains(&format!("href=\"/language?set={other}&next=")),
            "{name} in {lang}: no switch to {other}: {html}"
        );
    }
    let text = text_of(&html);
    let own = messages(LANGS.iter().find(|(t, _)| *t == lang).expect("lang").1);
    for id in must {
        let variants = &own[*id];
        assert!(
            variants
                .iter()
                .any(|v| fragments(v).iter().all(|f| text.contains(&spaced(f)))),
            "{name} in {lang}: `{id}` ({variants:?}) is not on the page: {text}"
        );
    }
    if lang == "en" {
        return;
    }
    for phrase in english {
        assert!(
            !text.contains(phrase.as_str()),
            "{name} in {lang}: English left: {phrase:?} in {text}"
        );
    }
    for word in ENGLISH_WORDS {
        let found = text
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w == *word);
        assert!(!found, "{name} in {lang}: English word {word:?} in {text}");
    }
}

/// Every page the suite reaches, in `lang` (chosen by the cookie), on its own
/// server so the wrong-code guesses of one language don't throttle the next.
fn every_page_in(lang: &str, english: &[String]) {
    let server = TestServer::start();
    let mut b = server.browser();
    b.set_cookie("lang", lang);
    let page = |name: &str, r: &Reply, must: &[&str]| check(name, lang, r, must, english);

    let r = b.get("/login");
    assert_eq!(r.status, 200);
    page(
        "sign-in",
        &r,
        &["login-title", "login-lead", "login-username"],
    );
    let csrf = csrf_token(&r.text()).expect("csrf");
    let r = b.post_form(
        "/login",
        &[
            ("username", ADMIN_USER),
            ("password", "wrong"),
            ("csrf_token", &csrf),
            ("next", "/account"),
        ],
    );
    assert_eq!(r.status, 401);
    page("sign-in failed", &r, &["login-wrong"]);
    let r = b.post_form("/login", &[("username", ADMIN_USER), ("password", "x")]);
    assert_eq!(r.status, 403);
    page(
        "form expired",
        &r,
        &["error-csrf-text", "error-start-again"],
    );
    b.login(ADMIN_USER, ADMIN_PASSWORD);

    let r = b.get("/device");
    assert_eq!(r.status, 200);
    page(
        "enter code",
        &r,
        &[
            "device-title",
            "device-lead",
            "device-code-help",
            "device-aside",
        ],
    );
    let r = b.enter_code("BBBB-BBBB");
    assert_eq!(r.status, 400);
    page("wrong code", &r, &["code-wrong", "device-check"]);
    let r = b.enter_code("BCD");
    page("short code", &r, &["code-shape"]);
    let r = b.enter_code("AEIO-UAEI");
    page("vowels", &r, &["code-invalid-character"]);

    let a = server.device_code(Some("profile read write"));
    let r = b.enter_code(&a.user_code);
    assert_eq!(r.status, 200, "{}", r.text());
    page(
        "consent",
        &r,
        &[
            "consent-warning-strong",
            "consent-warning",
            "consent-eyebrow",
            "scope-profile",
            "scope-read",
            "scope-write",
            "consent-approve",
            "consent-deny",
        ],
    );
    let r = b.approve(&a.user_code);
    page(
        "approved",
        &r,
        &["outcome-approved", "outcome-approved-text", "result-it-can"],
    );
    server.poll_until_done(&a, Duration::from_secs(20)).tokens();
    let d = server.device_code(Some("read"));
    let r = b.deny(&d.user_code);
    page("denied", &r, &["outcome-denied", "outcome-denied-text"]);

    let csrf = b.csrf_of("/device");
    let r = b.post_form(
        "/device/consent",
        &[
            ("user_code", "BCDFGHJK"),
            ("request", "x"),
            ("consent", "forged"),
            ("decision", "approve"),
            ("csrf_token", &csrf),
        ],
    );
    assert_eq!(r.status, 403);
    page("consent expired", &r, &["message-consent-expired-text"]);
    let csrf = b.csrf_of("/device");
    let r = b.post_form("/device/consent", &[("csrf_token", &csrf)]);
    page("consent without a binding", &r, &[]);

    // A second browser, so the sessions list has another one to sign out.
    server.browser().login(ADMIN_USER, ADMIN_PASSWORD);
    let r = b.get("/account");
    assert_eq!(r.status, 200);
    page(
        "account",
        &r,
        &[
            "account-title",
            "account-revoke-hint",
            "account-this-browser",
            "account-sign-out-others",
        ],
    );
    let r = b.get("/account?notice=revoked");
    page("account notice", &r, &["notice-revoked"]);
    let r = b.get("/account/password");
    page(
        "change password",
        &r,
        &["password-title", "password-lead", "password-new-help"],
    );
    let csrf = csrf_token(&r.text()).expect("csrf");
    let r = b.post_form(
        "/account/password",
        &[
            ("current_password", ADMIN_PASSWORD),
            ("new_password", "short"),
            ("confirm_password", "short"),
            ("csrf_token", &csrf),
        ],
    );
    assert_eq!(r.status, 400);
    page("password too short", &r, &["password-too-short"]);
    let r = b.get("/logout");
    page(
        "sign out?",
        &r,
        &["message-sign-out", "message-sign-out-text"],
    );
    let r = b.get("/no-such-page");
    assert_eq!(r.status, 404);
    page(
        "not found",
        &r,
        &["error-not-found", "error-not-found-text"],
    );
    let r = b.get("/device/consent");
    assert_eq!(r.status, 405);
    page("method not allowed", &r, &["error-not-allowed"]);
    let csrf = b.csrf_of("/account");
    let r = b.post_form("/account/revoke", &[("csrf_token", &csrf)]);
    assert_eq!(r.status, 400);
    page("no device chosen", &r, &["error-no-device-text"]);
    admin_pages_in(&server, &mut b, lang, &page);
}

/// The admin console's pages, signed in as the first-run admin.
fn admin_pages_in(
    server: &TestServer,
    b: &mut authgate_tests::Browser,
    lang: &str,
    page: &dyn Fn(&str, &Reply, &[&str]),
) {
    for (path, must) in [
        (
            "/admin?done=user-added",
            &["admin-users", "admin-user-add", "admin-done-user-added"][..],
        ),
        (
            "/admin/user?name=admin",
            &["admin-grants", "admin-sessions", "admin-password-reset"],
        ),
        (
            "/admin/clients",
            &["admin-client-add", "admin-scopes-help", "admin-ttl-help"],
        ),
        (
            "/admin/client?id=authgate-cli",
            &["admin-client-edit", "admin-save", "admin-confirm"],
        ),
        ("/admin/grants", &["admin-grants", "admin-revoke"]),
        (
            "/admin/audit",
            &["admin-audit", "admin-time-help", "admin-export"],
        ),
        (
            "/admin/keys",
            &["admin-keys-lead", "admin-signing", "admin-key-rotate"],
        ),
    ] {
        let r = b.get(path);
        assert_eq!(r.status, 200, "{path}");
        page(path, &r, must);
    }
    let csrf = b.csrf_of("/admin/keys");
    let r = b.post_form(
        "/admin/action",
        &[("csrf_token", &csrf), ("op", "key_rotate")],
    );
    assert_eq!(r.status, 400);
    page("admin: not confirmed", &r, &["error-not-confirmed-text"]);
    let r = b.post_form(
        "/admin/action",
        &[
            ("csrf_token", &csrf),
            ("op", "user_add"),
            ("username", "viewer"),
            ("password", "viewer password"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let mut viewer = server.browser();
    viewer.set_cookie("lang", lang);
    viewer.login("viewer", "viewer password");
    let r = viewer.get("/admin");
    assert_eq!(r.status, 403);
    page(
        "admin: forbidden",
        &r,
        &["error-forbidden", "error-forbidden-text"],
    );
}

#[test]
fn every_page_in_every_language() {
    let english = english_phrases();
    for (lang, _) in LANGS {
        every_page_in(lang, &english);
    }
}

#[test]
fn the_switch_sets_a_validated_cookie_that_beats_accept_language() {
    let server = TestServer::start();
    let mut b = server.browser();
    b.set_header("accept-language", "fr-FR,fr;q=0.9,en;q=0.5");
    assert_eq!(html_lang(&b.get("/login").text()), "fr");

    // The link on the page: back to the same page, in German, remembered.
    let html = b.get("/login?next=%2Fdevice%3Fuser_code%3DBCDFGHJK").text();
    let html = html.replace("&#38;", "&").replace("&amp;", "&");
    let href = html
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.starts_with("/language?set=de&"))
        .expect("a switch to German");
    let r = b.get(href);
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location")
            .map(|l| l.replace("%5F", "_"))
            .as_deref(),
        Some("/login?next=%2Fdevice%3Fuser_code%3DBCDFGHJK"),
        "back to the page, its `next` kept"
    );
    let cookie = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .find(|c| c.starts_with("lang="))
        .expect("a lang cookie");
    assert!(cookie.starts_with("lang=de;"), "{cookie}");
    assert!(
        cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(
        cookie.contains("Max-Age="),
        "remembered past the browser session: {cookie}"
    );
    let html = b.get("/login?next=%2Fdevice%3Fuser_code%3DBCDFGHJK").text();
    assert_eq!(
        html_lang(&html),
        "de",
        "the cookie wins over Accept-Language"
    );
    assert!(html.contains("Anmelden"), "{html}");
    assert!(
        html.contains(r#"name="next" value="/device?user_code=BCDFGHJK""#),
        "the login's next survived the switch: {html}"
    );

    // Nothing else is taken: an unknown language sets nothing, a foreign `next` is refused.
    let r = b.get("/language?set=xx&next=/device");
    assert_eq!(r.header("location").as_deref(), Some("/device"));
    assert!(r.header("set-cookie").is_none(), "{:?}", r.headers);
    for evil in [
        "//evil.example",
        "https://evil.example/",
        "/%2F%2Fevil.example",
        "/\\evil",
    ] {
        let r = b.get(&format!("/language?set=ja&next={evil}"));
        assert_eq!(r.status, 303);
        assert_eq!(r.header("location").as_deref(), Some("/account"), "{evil}");
    }
    assert_eq!(html_lang(&b.get("/login").text()), "ja");
    // A forged cookie value is ignored: Accept-Language decides again.
    b.set_cookie("lang", "klingon");
    assert_eq!(html_lang(&b.get("/login").text()), "fr");
}

#[test]
fn accept_language_picks_the_language() {
    let server = TestServer::start();
    let cases = [
        (None, "en"),
        (Some("de-DE,de;q=0.9"), "de"),
        (Some("es-419,es;q=0.9,en;q=0.8"), "es"),
        (Some("en;q=0.4,fr;q=0.8"), "fr"),
        (Some("zh-TW,zh;q=0.9"), "zh-TW"),
        (Some("zh-Hant"), "zh-TW"),
        (Some("zh-HK,en;q=0.5"), "zh-TW"),
        (Some("zh-CN,zh;q=0.9"), "en"),
        (Some("ja,en-US;q=0.7"), "ja"),
        (Some("ru,pt-BR;q=0.5"), "en"),
        (Some("de;q=0,ja;q=0.1"), "ja"),
    ];
    for (header, want) in cases {
        let mut b = Browser::new(server.base_url());
        if let Some(h) = header {
            b.set_header("accept-language", h);
        }
        let r = b.get("/login");
        assert_eq!(html_lang(&r.text()), want, "Accept-Language: {header:?}");
        // Error pages follow it too.
        assert_eq!(
            html_lang(&b.get("/nope").text()),
            want,
            "404 with {header:?}"
        );
    }
}
