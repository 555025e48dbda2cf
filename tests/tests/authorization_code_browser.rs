//! The authorization code grant with PKCE through the real pages in headless
//! Chromium, redeemed by a third-party client library: Authlib's
//! `OAuth2Session(code_challenge_method='S256')` (Python, `scripts/
//! authcode_interop.py`) builds the authorization URL, Chromium signs in and
//! approves, the redirect lands on a loopback listener of this test, and Authlib
//! checks `state` and exchanges the code. Presenting the code again gets
//! `invalid_grant` and revokes the tokens it issued.
//!
//! Needs Chromium (`AUTHGATE_SKIP_BROWSER=1` skips) and Authlib in
//! `AUTHCODE_PYTHON` (default `/tmp/authgate-authcode-venv/bin/python`, set up by
//! `scripts/authcode-interop.sh`, which sets `AUTHGATE_REQUIRE_AUTHLIB=1`;
//! without it the test is skipped where Authlib is absent).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use authgate_tests::webdriver::Chrome;
use authgate_tests::{ADMIN_PASSWORD, ADMIN_USER, DataDir, TestServer};

const APP: &str = "authlib-app";
const RS: &str = "resource-server";

fn python_with_authlib() -> Option<String> {
    let python = std::env::var("AUTHCODE_PYTHON")
        .unwrap_or_else(|_| "/tmp/authgate-authcode-venv/bin/python".to_owned());
    let ok = Command::new(&python)
        .args(["-c", "import authlib, requests"])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var_os("AUTHGATE_REQUIRE_AUTHLIB").is_none(),
        "Authlib is required but {python} cannot import it"
    );
    eprintln!("skipped: no Authlib at {python} (scripts/authcode-interop.sh sets it up)");
    None
}

/// Accepts one browser request on `listener`, answers it, and sends its target
/// (path and query) on the channel.
fn answer_one(listener: TcpListener, tx: mpsc::Sender<String>) {
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let target = line.split(' ').nth(1).unwrap_or("").to_owned();
            let body = "<!doctype html><title>done</title><p>Back in the app.";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            if target.starts_with("/cb") {
                let _ = tx.send(target);
                return;
            }
        }
    });
}

#[test]
fn authlib_redeems_a_code_approved_in_chromium() {
    let Some(python) = python_with_authlib() else {
        return;
    };
    if std::env::var("AUTHGATE_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("AUTHGATE_SKIP_BROWSER=1: browser test skipped");
        return;
    }
    assert!(
        Chrome::available(),
        "Chromium and chromedriver are needed, or set AUTHGATE_SKIP_BROWSER=1"
    );
    let dir = DataDir::new();
    let out = dir.run_admin(&[
        "client",
        "add",
        APP,
        "--name",
        "Authlib App",
        "--scopes",
        "read",
        "--grant-types",
        "authorization_code refresh_token",
        "--redirect-uri",
        "http://127.0.0.1/cb",
    ]);
    assert!(out.success, "{out:?}");
    let rs_secret = dir.add_confidential_client(RS, "Resource server", "read");
    let server = TestServer::start_in(dir, &[], &[]);

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let redirect_uri = format!("http://127.0.0.1:{port}/cb");
    let (tx, rx) = mpsc::channel();
    answer_one(listener, tx);

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/authcode_interop.py"
    );
    let mut py = Command::new(&python)
        .args([script, server.base_url(), APP, &redirect_uri])
        // Authlib refuses plain http except to `localhost`; this server is on
        // 127.0.0.1 without TLS.
        .env("AUTHLIB_INSECURE_TRANSPORT", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python");
    let mut out = BufReader::new(py.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("AUTHORIZE ")
        .unwrap_or_else(|| panic!("expected AUTHORIZE, got {line:?}"))
        .to_owned();
    assert!(url.contains("code_challenge_method=S256"), "{url}");

    let c = Chrome::phone();
    c.goto(&url);
    c.wait_for("input#username");
    c.type_into("#username", ADMIN_USER);
    c.type_into("#password", ADMIN_PASSWORD);
    c.click("main button[type=submit]");
    let h1 = c.wait_text("h1", "to your account");
    assert!(h1.contains("Authlib App"), "{h1}");
    let main = c.text(&c.find("main"));
    assert!(
        main.contains(&format!("http://127.0.0.1:{port}")),
        "the redirect host is shown: {main}"
    );
    assert!(
        main.contains("Only approve if you just started signing in"),
        "{main}"
    );
    assert_eq!(
        c.exec("return document.scripts.length", serde_json::json!([])),
        serde_json::json!(0)
    );
    c.screenshot("authorize-consent");
    c.click("button[value=approve]");
    let target = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the browser came back to the redirect URI");
    assert!(
        target.contains("code=") && target.contains("iss="),
        "{target}"
    );
    let callback = format!("http://127.0.0.1:{port}{target}");
    writeln!(py.stdin.as_mut().unwrap(), "CALLBACK {callback}").unwrap();

    let mut token_line = String::new();
    out.read_line(&mut token_line).unwrap();
    let token: serde_json::Value = serde_json::from_str(
        token_line
            .trim()
            .strip_prefix("TOKEN ")
            .unwrap_or_else(|| panic!("expected TOKEN, got {token_line:?}")),
    )
    .unwrap();
    let access = token["access_token"].as_str().unwrap().to_owned();
    assert_eq!(token["token_type"], "Bearer");
    assert!(token["refresh_token"].is_string());
    let r = server.introspect(RS, &rs_secret, &access);
    assert_eq!(r.json()["active"], true, "{}", r.text());
    assert_eq!(r.json()["client_id"], APP);
    writeln!(py.stdin.as_mut().unwrap(), "AGAIN").unwrap();

    let mut reuse = String::new();
    out.read_to_string(&mut reuse).unwrap();
    assert_eq!(reuse.trim(), "REUSE invalid_grant");
    assert!(py.wait().unwrap().success());
    let r = server.introspect(RS, &rs_secret, &access);
    assert_eq!(
        r.json()["active"],
        false,
        "reuse revoked the token: {}",
        r.text()
    );
}
