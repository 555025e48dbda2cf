//! `authgate-login` (device-client/cli) against the real server: log in through the
//! device flow with an admin approving in a "browser", then `status`, `token` (with
//! refresh), `logout` (with revocation), and a denied login.
//!
//! Needs both binaries built with the same target dir:
//! `cargo build -p authgate-server -p authgate-login` (or set `AUTHGATE_BIN` and
//! `AUTHGATE_LOGIN_BIN`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use authgate_tests::{ADMIN_PASSWORD, ADMIN_USER, TestServer};

/// Path of the `authgate-login` binary, found like the harness finds `authgate`.
fn login_bin() -> PathBuf {
    let path = if let Some(p) = std::env::var_os("AUTHGATE_LOGIN_BIN") {
        PathBuf::from(p)
    } else if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        PathBuf::from(t).join("debug").join("authgate-login")
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/authgate-login")
    };
    assert!(
        path.is_file(),
        "authgate-login is missing at {}; build it first: `cargo build -p authgate-login` \
         (same CARGO_TARGET_DIR), or set AUTHGATE_LOGIN_BIN",
        path.display()
    );
    path
}

fn cli(config_dir: &Path) -> Command {
    let mut cmd = Command::new(login_bin());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AUTHGATE_") {
            cmd.env_remove(k);
        }
    }
    // The login mode depends on these (browser or device flow): a test names the
    // ones it wants. Without a display, Linux means the device flow.
    for var in [
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "BROWSER",
        "SSH_CONNECTION",
        "SSH_TTY",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AUTHGATE_LOGIN_CONFIG_DIR", config_dir)
        .stdin(Stdio::null());
    cmd
}

fn run(config_dir: &Path, args: &[&str]) -> Output {
    let out = cli(config_dir)
        .args(args)
        .output()
        .expect("run authgate-login");
    eprintln!(
        "authgate-login {args:?} → {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A running `authgate-login login` whose stdout lines arrive on a channel.
struct LoginProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl LoginProcess {
    fn start(config_dir: &Path, server: &TestServer, extra: &[&str]) -> Self {
        Self::start_env(config_dir, server, extra, &[])
    }

    fn start_env(
        config_dir: &Path,
        server: &TestServer,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let mut child = cli(config_dir)
            .args(["login", "--server", server.base_url()])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn authgate-login login");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        LoginProcess {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads stdout until the line that carries the user code.
    fn user_code(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Some(code) = line.trim().strip_prefix("and enter the code: ") {
                        return code.trim().to_owned();
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no user code printed; stdout so far: {:#?}", self.seen);
    }

    /// Waits for the process to exit; returns (success, rest of stdout, stderr).
    fn finish(mut self) -> (bool, String, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "authgate-login login did not finish in 60 s; stdout: {:#?}",
                    self.seen
                );
            }
            thread::sleep(Duration::from_millis(100));
        };
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        let mut out = self.seen.join("\n");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            out.push('\n');
            out.push_str(&line);
        }
        (status.success(), out, stderr)
    }
}

impl Drop for LoginProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[cfg(unix)]
fn assert_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .expect("cache file exists")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "{} has mode {:o}",
        path.display(),
        mode & 0o777
    );
}

#[cfg(not(unix))]
fn assert_private(path: &Path) {
    assert!(path.is_file());
}

#[test]
fn login_status_token_refresh_logout_against_the_real_server() {
    // Access tokens live 30 s, under the CLI's 60 s minimum, so `token` must refresh.
    let server = TestServer::start_with(&["--access-token-ttl", "30"], &[]);
    let config = tempfile::tempdir().expect("temp config dir");

    // Bearer tokens (`--no-dpop`); the DPoP default is the next test.
    let mut login = LoginProcess::start(
        config.path(),
        &server,
        &["--scope", "read write", "--no-dpop"],
    );
    let code = login.user_code();
    assert!(
        login
            .seen
            .iter()
            .any(|l| l.contains(&format!("{}/device", server.base_url()))),
        "verification URI not printed: {:#?}",
        login.seen
    );
    let mut browser = server.browser();
    browser.login(ADMIN_USER, ADMIN_PASSWORD);
    browser.approve(&code);
    let (ok, out, err) = login.finish();
    assert!(ok, "login failed\nstdout: {out}\nstderr: {err}");
    assert!(out.contains("Logged in to"), "{out}");

    assert_private(&config.path().join("tokens.bin"));
    assert_private(&config.path().join("session.json"));

    let status = run(config.path(), &["status"]);
    assert!(status.status.success());
    let text = stdout(&status);
    assert!(
        text.contains(&format!("Logged in to {}", server.base_url())),
        "{text}"
    );
    assert!(text.contains("authgate-cli"), "{text}");
    assert!(text.contains("Refresh token: present"), "{text}");

    // `token` refreshes (30 s < 60 s) and prints a token the server accepts.
    let first = run(config.path(), &["token"]);
    assert!(first.status.success());
    let first = stdout(&first).trim().to_owned();
    assert!(first.starts_with("v4.public."), "{first}");
    server
        .get_bearer("/oauth/tokeninfo", &first)
        .assert_status(200);
    let second = run(config.path(), &["token"]);
    assert!(second.status.success());
    let second = stdout(&second).trim().to_owned();
    assert_ne!(first, second, "each `token` call refreshed (and rotated)");
    server
        .get_bearer("/oauth/tokeninfo", &second)
        .assert_status(200);

    let logout = run(config.path(), &["logout"]);
    assert!(logout.status.success());
    assert!(
        stdout(&logout).contains("the tokens were revoked"),
        "{}",
        stdout(&logout)
    );
    assert!(!config.path().join("tokens.bin").exists());
    assert!(!config.path().join("session.json").exists());
    // The grant is gone: the last access token no longer works.
    let info = server.get_bearer("/oauth/tokeninfo", &second);
    assert_eq!(
        info.status,
        401,
        "revoked token still accepted: {}",
        info.text()
    );

    let status = run(config.path(), &["status"]);
    assert!(!status.status.success());
    assert!(stdout(&status).contains("Not logged in"));
    let token = run(config.path(), &["token"]);
    assert!(!token.status.success());
}

/// DPoP by default (the server advertises EdDSA): the key is made and kept beside
/// the tokens (0600), the tokens are bound to it (worthless as bearer tokens),
/// refreshing signs proofs, and `proof` signs a resource request the server accepts.
#[test]
fn login_binds_tokens_to_a_dpop_key_by_default() {
    let server = TestServer::start_with(&["--access-token-ttl", "30"], &[]);
    let config = tempfile::tempdir().expect("temp config dir");
    let mut login = LoginProcess::start(config.path(), &server, &[]);
    let code = login.user_code();
    let mut browser = server.browser();
    browser.login(ADMIN_USER, ADMIN_PASSWORD);
    browser.approve(&code);
    let (ok, out, err) = login.finish();
    assert!(ok, "login failed\nstdout: {out}\nstderr: {err}");
    assert_private(&config.path().join("dpop.key"));
    let status = stdout(&run(config.path(), &["status"]));
    assert!(status.contains("DPoP: tokens bound"), "{status}");

    // `token` refreshes (30 s < 60 s) with a proof; the token is bound.
    let token = run(config.path(), &["token"]);
    assert!(token.status.success());
    let token = stdout(&token).trim().to_owned();
    server
        .get_bearer("/oauth/tokeninfo", &token)
        .assert_error(401, "invalid_token");
    let url = server.url("/oauth/tokeninfo");
    let proof = run(config.path(), &["proof", "--url", &url]);
    assert!(proof.status.success());
    let proof = stdout(&proof).trim().to_owned();
    let r = server.raw(
        "GET",
        "/oauth/tokeninfo",
        None,
        Vec::new(),
        &[
            ("Authorization", &format!("DPoP {token}")),
            ("DPoP", &proof),
        ],
    );
    r.assert_status(200);
    assert!(r.json()["cnf"]["jkt"].is_string(), "{}", r.text());

    let logout = run(config.path(), &["logout"]);
    assert!(logout.status.success());
    assert!(
        !config.path().join("dpop.key").exists(),
        "the key goes with the session"
    );
}

#[test]
fn a_denied_login_fails_and_caches_nothing() {
    let server = TestServer::start();
    let config = tempfile::tempdir().expect("temp config dir");
    let mut login = LoginProcess::start(config.path(), &server, &["--qr", "always"]);
    let code = login.user_code();
    let mut browser = server.browser();
    browser.login(ADMIN_USER, ADMIN_PASSWORD);
    browser.deny(&code);
    let (ok, out, err) = login.finish();
    assert!(!ok, "a denied login must fail\nstdout: {out}");
    assert!(err.contains("denied"), "{err}");
    // `--qr always` drew the code with half blocks.
    assert!(out.contains('█') || out.contains('▀'), "{out}");
    assert!(!config.path().join("tokens.bin").exists());
}

/// A fake `$BROWSER`: a script that writes the URL it is given to `url.txt` in
/// `dir`; the test then plays the browser with HTTP requests.
fn fake_browser(dir: &Path) -> (PathBuf, PathBuf) {
    let script = dir.join("browser.sh");
    let url_file = dir.join("url.txt");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s' \"$1\" > '{}.tmp' && mv '{0}.tmp' '{0}'\n",
            url_file.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (script, url_file)
}

fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(s) = std::fs::read_to_string(path) {
            return s;
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!("the fake browser was never started ({})", path.display());
}

/// Signs in and presses `decision` on the consent page of `url` (the
/// authorization request the CLI opened); returns the redirect `Location`.
fn consent_as_admin(server: &TestServer, url: &str, decision: &str) -> String {
    let path = url
        .strip_prefix(server.base_url())
        .unwrap_or_else(|| panic!("{url} is not on {}", server.base_url()));
    let mut b = server.browser();
    b.login(ADMIN_USER, ADMIN_PASSWORD);
    let page = b.get(path);
    assert_eq!(page.status, 200, "consent page: {}", page.text());
    b.decide_authorization(&page, decision)
}

/// The bootstrap `authgate-cli` client has the authorization code grant and the
/// loopback redirect `http://127.0.0.1/callback`: the browser mode works out of
/// the box.
#[test]
fn browser_mode_logs_in_with_a_code_and_pkce_over_a_loopback_redirect() {
    let server = TestServer::start();
    let config = tempfile::tempdir().expect("temp config dir");
    let (browser, url_file) = fake_browser(config.path());
    let browser = browser.display().to_string();
    let login = LoginProcess::start_env(
        config.path(),
        &server,
        &["--browser", "--scope", "read"],
        &[("BROWSER", browser.as_str())],
    );
    let url = wait_for_file(&url_file);
    assert!(
        url.starts_with(&format!("{}/oauth/authorize?", server.base_url())),
        "{url}"
    );
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    assert!(
        url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"),
        "{url}"
    );
    let location = consent_as_admin(&server, &url, "approve");
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
    // The browser follows the redirect to the CLI's loopback listener.
    let page = reqwest::blocking::get(&location).expect("the CLI answers the redirect");
    assert_eq!(page.status(), 200);
    assert!(page.text().unwrap().contains("close this tab"));
    let (ok, out, err) = login.finish();
    assert!(ok, "login failed\nstdout: {out}\nstderr: {err}");
    assert!(out.contains("Logged in to"), "{out}");
    assert!(out.contains(&url), "the URL is printed too: {out}");
    assert_private(&config.path().join("tokens.bin"));

    let status = stdout(&run(config.path(), &["status"]));
    assert!(status.contains("Refresh token: present"), "{status}");
    assert!(
        status.contains("DPoP: tokens bound"),
        "bound by default: {status}"
    );
    // The same cache and refresh as the device flow: `token` works, `logout` revokes.
    let token = run(config.path(), &["token"]);
    assert!(token.status.success());
    assert!(stdout(&token).trim().starts_with("v4.public."));
    assert!(run(config.path(), &["logout"]).status.success());
}

#[test]
fn browser_mode_refuses_a_redirect_with_another_state() {
    let server = TestServer::start();
    let config = tempfile::tempdir().expect("temp config dir");
    let (browser, url_file) = fake_browser(config.path());
    let browser = browser.display().to_string();
    let login = LoginProcess::start_env(
        config.path(),
        &server,
        &["--browser", "--no-dpop"],
        &[("BROWSER", browser.as_str())],
    );
    let url = wait_for_file(&url_file);
    let location = consent_as_admin(&server, &url, "approve");
    // A forged redirect (a page in the browser racing the real one) with a
    // state of its own: refused, and nothing is cached.
    let (target, _) = location.split_once('?').unwrap();
    let forged = format!(
        "{target}?code=forged&state=not-ours&iss={}",
        server.base_url()
    );
    let _ = reqwest::blocking::get(&forged);
    let (ok, out, err) = login.finish();
    assert!(
        !ok,
        "a forged state must fail\nstdout: {out}\nstderr: {err}"
    );
    assert!(err.contains("state"), "{err}");
    assert!(!config.path().join("tokens.bin").exists());
}

#[test]
fn over_ssh_login_uses_the_device_flow_even_with_a_display() {
    let server = TestServer::start();
    let config = tempfile::tempdir().expect("temp config dir");
    let mut login = LoginProcess::start_env(
        config.path(),
        &server,
        &["--no-dpop"],
        &[
            ("SSH_CONNECTION", "192.0.2.1 50000 192.0.2.2 22"),
            ("DISPLAY", ":0"),
            ("BROWSER", "/bin/false"),
        ],
    );
    let code = login.user_code();
    let mut browser = server.browser();
    browser.login(ADMIN_USER, ADMIN_PASSWORD);
    browser.approve(&code);
    let (ok, out, err) = login.finish();
    assert!(ok, "login failed\nstdout: {out}\nstderr: {err}");
    assert!(
        !out.contains("/oauth/authorize"),
        "no browser over SSH: {out}"
    );
}

#[test]
fn device_flag_and_a_desktop_still_give_the_device_flow() {
    let server = TestServer::start();
    let config = tempfile::tempdir().expect("temp config dir");
    let mut login = LoginProcess::start_env(
        config.path(),
        &server,
        &["--device", "--no-dpop"],
        &[("DISPLAY", ":0"), ("BROWSER", "/bin/false")],
    );
    let code = login.user_code();
    let mut browser = server.browser();
    browser.login(ADMIN_USER, ADMIN_PASSWORD);
    browser.approve(&code);
    let (ok, out, err) = login.finish();
    assert!(ok, "login failed\nstdout: {out}\nstderr: {err}");
}

/// A client not registered for the browser login (no authorization_code grant,
/// no loopback redirect): the CLI checks the request before opening a browser,
/// falls back to the device flow on a desktop, and with `--browser` fails at once
/// instead of leaving an error page in a browser and waiting.
#[test]
fn a_client_without_the_browser_login_falls_back_to_the_device_flow() {
    let dir = authgate_tests::DataDir::new();
    dir.add_public_client("tv", "Living room TV", "read");
    let server = TestServer::start_in(dir, &[], &[]);
    let config = tempfile::tempdir().expect("temp config dir");
    let desktop = [("DISPLAY", ":0"), ("BROWSER", "/bin/false")];
    let login = LoginProcess::start_env(
        config.path(),
        &server,
        &["--client-id", "tv", "--browser", "--no-dpop"],
        &desktop,
    );
    let (ok, out, err) = login.finish();
    assert!(!ok, "--browser must fail\nstdout: {out}\nstderr: {err}");
    assert!(err.contains("refuses this client's browser login"), "{err}");
    assert!(
        !out.contains("/oauth/authorize"),
        "no browser was opened: {out}"
    );

    let mut login = LoginProcess::start_env(
        config.path(),
        &server,
        &["--client-id", "tv", "--no-dpop"],
        &desktop,
    );
    let code = login.user_code();
    let mut browser = server.browser();
    browser.login(ADMIN_USER, ADMIN_PASSWORD);
    browser.approve(&code);
    let (ok, out, err) = login.finish();
    assert!(ok, "login failed\nstdout: {out}\nstderr: {err}");
    assert!(err.contains("using the device flow"), "{err}");
}
