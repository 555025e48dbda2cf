//! Test harness: runs the real `authgate` binary and talks to it over loopback HTTP.
//!
//! Every [`TestServer`] has its own process, its own fresh data directory and its own
//! port, so tests run in parallel without sharing state. The binary is found through
//! env `AUTHGATE_BIN`, else `$CARGO_TARGET_DIR/debug/authgate`, else
//! `<workspace>/target/debug/authgate` (build it with `cargo build -p authgate-server`).
//!
//! ```no_run
//! use authgate_tests::{TestServer, ADMIN_USER, ADMIN_PASSWORD};
//!
//! let server = TestServer::start();
//! let code = server.device_code(Some("read"));
//! let mut browser = server.browser();
//! browser.login(ADMIN_USER, ADMIN_PASSWORD);
//! browser.approve(&code.user_code);
//! let tokens = server.poll(&code.device_code).tokens();
//! assert!(tokens.access_token.starts_with("v4.public."));
//! ```

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub use authgate_proto::params;
pub use authgate_proto::paths;
use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use serde_json::Value;

pub mod backend;
pub mod ops;
pub mod pg;
pub mod webdriver;

/// User name of the administrator created on first run.
pub const ADMIN_USER: &str = "admin";
/// Password given to the server in `AUTHGATE_ADMIN_PASSWORD` for user `admin`.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
/// The public client every fresh data directory has (contract: scopes
/// `profile read write`, grants device_code + refresh_token).
pub const DEFAULT_CLIENT: &str = "authgate-cli";
/// The polling interval [`TestServer::start_with`] gives the server unless the test
/// names its own `--poll-interval`.
pub const TEST_POLL_INTERVAL_SECS: u64 = 1;

/// How long to wait for the `listening on` line (a debug build hashes the admin
/// password with Argon2 on first run, which is slow).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Path of the `authgate` binary under test.
///
/// # Panics
/// When the binary does not exist, with a message saying how to build it.
pub fn authgate_bin() -> PathBuf {
    let path = if let Some(p) = std::env::var_os("AUTHGATE_BIN") {
        PathBuf::from(p)
    } else if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        PathBuf::from(t).join("debug").join("authgate")
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target")
            .join("debug")
            .join("authgate")
    };
    if !path.is_file() {
        panic!(
            "the authgate binary is missing at {}.\n\
             Build it first: `cargo build -p authgate-server` \
             (with the same CARGO_TARGET_DIR), or point env AUTHGATE_BIN at it.",
            path.display()
        );
    }
    path
}

/// Removes every inherited `AUTHGATE_*` variable so a developer's environment
/// cannot change the server under test.
fn clear_authgate_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AUTHGATE_") {
            cmd.env_remove(k);
        }
    }
}

/// What an admin subcommand printed.
#[derive(Debug)]
pub struct AdminOutput {
    /// Whether the process exited with status 0.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl AdminOutput {
    /// The value of the first stdout line `KEY: VALUE`.
    pub fn field(&self, key: &str) -> Option<String> {
        let prefix = format!("{key}:");
        self.stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(&prefix).map(|v| v.trim().to_owned()))
    }
}

/// Runs `authgate ARGS... --data-dir DIR` (an admin subcommand such as
/// `client add ID --name N --confidential --scopes "read write"`) and waits for it.
/// The server using `DIR` must be stopped.
pub fn run_admin(data_dir: &Path, args: &[&str]) -> AdminOutput {
    let mut cmd = Command::new(authgate_bin());
    clear_authgate_env(&mut cmd);
    let out = cmd
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .args(backend::database_args_for(data_dir, args))
        .env("AUTHGATE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdin(Stdio::null())
        .output()
        .expect("run authgate admin command");
    AdminOutput {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A fresh, empty data directory, deleted when dropped (or when the [`TestServer`]
/// that took it is dropped). Use it to run admin commands before the first start.
///
/// On the PostgreSQL backend ([`backend`]) it also names a fresh database of the
/// shared cluster: servers started in it and admin commands run on it get that
/// `--database-url`.
pub struct DataDir {
    dir: tempfile::TempDir,
    database_url: Option<String>,
}

impl Drop for DataDir {
    fn drop(&mut self) {
        if self.database_url.is_some() {
            backend::unregister(self.dir.path());
        }
    }
}

impl Default for DataDir {
    fn default() -> Self {
        Self::new()
    }
}

impl DataDir {
    /// Creates a new empty directory (and, on PostgreSQL, a new empty database).
    pub fn new() -> Self {
        let url = backend::is_postgres().then(backend::fresh_database);
        Self::with_database_url(url)
    }

    /// A new empty directory whose servers and admin commands use `url` (another
    /// instance on the same database, for the multi-instance tests), or redb when
    /// `None`.
    pub fn with_database_url(url: Option<String>) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("authgate-test-")
            .tempdir()
            .expect("create temp data dir");
        if let Some(u) = &url {
            backend::register(dir.path(), u);
        }
        DataDir {
            dir,
            database_url: url,
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The PostgreSQL database this directory's servers use, if any.
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_deref()
    }

    /// See [`run_admin`].
    pub fn run_admin(&self, args: &[&str]) -> AdminOutput {
        run_admin(self.path(), args)
    }

    /// `authgate client add ID --name NAME --confidential --scopes SCOPES`; returns
    /// the printed `client_secret`.
    pub fn add_confidential_client(&self, id: &str, name: &str, scopes: &str) -> String {
        let out = self.run_admin(&[
            "client",
            "add",
            id,
            "--name",
            name,
            "--confidential",
            "--scopes",
            scopes,
        ]);
        assert!(out.success, "client add failed: {out:?}");
        out.field("client_secret")
            .unwrap_or_else(|| panic!("no `client_secret:` line in {out:?}"))
    }

    /// `authgate client add ID --name NAME --scopes SCOPES` (a public client).
    pub fn add_public_client(&self, id: &str, name: &str, scopes: &str) {
        let out = self.run_admin(&["client", "add", id, "--name", name, "--scopes", scopes]);
        assert!(out.success, "client add (public) failed: {out:?}");
    }
}

/// An HTTP response, fully read.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Raw body.
    pub body: Vec<u8>,
}

impl Reply {
    fn read(resp: reqwest::blocking::Response) -> Reply {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().map(|b| b.to_vec()).unwrap_or_default();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, if it is JSON.
    pub fn try_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as JSON. Panics (showing the body) if it is not.
    pub fn json(&self) -> Value {
        self.try_json().unwrap_or_else(|| {
            panic!(
                "expected a JSON body, status {}: {:?}",
                self.status,
                self.text()
            )
        })
    }

    /// The `error` member of a JSON body.
    pub fn error(&self) -> Option<String> {
        self.try_json()?
            .get("error")?
            .as_str()
            .map(ToOwned::to_owned)
    }

    /// A header value as a string.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    /// Panics unless the status is `status`.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            self.text()
        );
        self
    }

    /// Panics unless this is an OAuth error response with this status and `error`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, error: &str) -> &Self {
        assert_eq!(
            (self.status, self.error().as_deref()),
            (status, Some(error)),
            "unexpected answer; body: {}",
            self.text()
        );
        self
    }

    /// Panics unless `Cache-Control` contains `no-store` (RFC 6749 §5.1).
    #[track_caller]
    pub fn assert_no_store(&self) -> &Self {
        let cc = self.header("cache-control").unwrap_or_default();
        assert!(
            cc.to_ascii_lowercase().contains("no-store"),
            "Cache-Control must contain no-store, got {cc:?}"
        );
        self
    }

    /// A successful token response (200) parsed. Panics otherwise.
    #[track_caller]
    pub fn tokens(&self) -> Tokens {
        self.assert_status(200);
        let v = self.json();
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(ToOwned::to_owned);
        Tokens {
            access_token: s("access_token").expect("access_token"),
            token_type: s("token_type").expect("token_type"),
            expires_in: v.get("expires_in").and_then(Value::as_u64),
            refresh_token: s("refresh_token"),
            scope: s("scope"),
            raw: v.clone(),
        }
    }
}

/// A parsed token response (RFC 6749 §5.1).
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The access token.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: Option<u64>,
    /// The refresh token.
    pub refresh_token: Option<String>,
    /// The granted scope.
    pub scope: Option<String>,
    /// The whole JSON body.
    pub raw: Value,
}

impl Tokens {
    /// The refresh token; panics if none was issued.
    pub fn refresh(&self) -> &str {
        self.refresh_token.as_deref().expect("a refresh_token")
    }
}

/// A parsed device authorization response (RFC 8628 §3.2).
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    /// The secret the device polls with.
    pub device_code: String,
    /// What the user types.
    pub user_code: String,
    /// The page to type it on.
    pub verification_uri: String,
    /// The page with the code filled in.
    pub verification_uri_complete: Option<String>,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// Poll interval in seconds.
    pub interval: Option<u64>,
    /// The whole JSON body.
    pub raw: Value,
}

fn http_client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("build HTTP client")
}

/// A running `authgate serve` process with its own data directory.
///
/// The process is killed when this is dropped; if the test is panicking, the
/// server's stderr is printed to help debugging.
pub struct TestServer {
    child: Option<Child>,
    dir: DataDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    base_url: String,
    addr: Option<SocketAddr>,
    stderr: Arc<Mutex<String>>,
    http: Client,
}

impl TestServer {
    /// Starts a server with default options (plus `--poll-interval 1`) in a fresh
    /// data directory.
    pub fn start() -> Self {
        Self::start_with(&[], &[])
    }

    /// Starts `authgate serve --listen 127.0.0.1:0 --data-dir <fresh dir> ARGS...`
    /// with env `AUTHGATE_ADMIN_PASSWORD` = [`ADMIN_PASSWORD`] and the extra `env`.
    /// Unless `args` contain `--poll-interval`, `--poll-interval 1` is added so
    /// tests can poll once a second.
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_in(DataDir::new(), args, env)
    }

    /// Like [`TestServer::start_with`] in a data directory prepared beforehand (for
    /// example with clients added by [`DataDir::add_confidential_client`]).
    pub fn start_in(dir: DataDir, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if !args.iter().any(|a| a.starts_with("--poll-interval")) {
            args.push("--poll-interval".into());
            args.push(TEST_POLL_INTERVAL_SECS.to_string());
        }
        let mut server = TestServer {
            child: None,
            dir,
            args,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            base_url: String::new(),
            addr: None,
            stderr: Arc::new(Mutex::new(String::new())),
            http: http_client(),
        };
        server.spawn("127.0.0.1:0", None);
        if server.database_url().is_some() {
            assert!(
                !server.data_dir().join("authgate.redb").exists(),
                "started with --database-url, the server still made a redb file"
            );
        }
        server
    }

    fn spawn(&mut self, listen: &str, base_url: Option<&str>) -> bool {
        let mut cmd = Command::new(authgate_bin());
        clear_authgate_env(&mut cmd);
        cmd.arg("serve")
            .arg("--listen")
            .arg(listen)
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(&self.args);
        if let Some(url) = self.dir.database_url()
            && !self.args.iter().any(|a| a.starts_with("--database-url"))
        {
            cmd.arg("--database-url").arg(url);
        }
        if let Some(b) = base_url {
            cmd.arg("--base-url").arg(b);
        }
        cmd.env("AUTHGATE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn authgate");

        let (tx, rx) = mpsc::channel::<String>();
        let stdout = child.stdout.take().expect("stdout");
        thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.trim().strip_prefix("listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(url.trim().trim_end_matches('/').to_owned());
                }
            }
        });
        let mut stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&self.stderr);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match stderr.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
        });

        // With a fixed port the server may not print the line; then /health tells.
        let fixed: Option<SocketAddr> = listen.parse().ok().filter(|a: &SocketAddr| a.port() != 0);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(url) => {
                    self.base_url = base_url.map(str::to_owned).unwrap_or(url.clone());
                    self.addr = url
                        .strip_prefix("http://")
                        .and_then(|hp| hp.parse().ok())
                        .or(fixed);
                    self.child = Some(child);
                    return true;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // stdout closed: the process is exiting; fall through to try_wait.
                    thread::sleep(Duration::from_millis(100));
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                thread::sleep(Duration::from_millis(100));
                if fixed.is_some() {
                    return false;
                }
                panic!(
                    "authgate exited ({status}) before printing `listening on`; stderr:\n{}",
                    self.stderr()
                );
            }
            if let Some(addr) = fixed
                && TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
            {
                let url = format!("http://{addr}");
                if self
                    .http
                    .get(format!("{url}/health"))
                    .send()
                    .is_ok_and(|r| r.status().is_success())
                {
                    self.base_url = base_url.map(str::to_owned).unwrap_or(url);
                    self.addr = Some(addr);
                    self.child = Some(child);
                    return true;
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "authgate did not print `listening on` within {START_TIMEOUT:?}; stderr:\n{}",
                    self.stderr()
                );
            }
        }
    }

    /// The server's base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `base_url() + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The PostgreSQL database the server uses, if it runs on PostgreSQL.
    pub fn database_url(&self) -> Option<&str> {
        self.dir.database_url()
    }

    /// Another instance on the same database (PostgreSQL only): its own process,
    /// port and data directory, the same `args` as given here.
    ///
    /// # Panics
    /// When this server runs on redb (one process per redb file).
    pub fn start_peer(&self, args: &[&str], env: &[(&str, &str)]) -> TestServer {
        let url = self
            .database_url()
            .expect("a second instance needs the PostgreSQL backend")
            .to_owned();
        TestServer::start_in(DataDir::with_database_url(Some(url)), args, env)
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after 10 s) and waits for it.
    /// Returns whether it exited on its own after SIGTERM with status 0 (`true` too
    /// when it was not running).
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// Kills the server with SIGKILL (a crash) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same data directory, with the same options.
    /// It tries to keep the port (so the issuer URL stays the same); if the port is
    /// taken it takes a new one and keeps the old URL as `--base-url`.
    pub fn start_again(&mut self) {
        assert!(
            self.child.is_none(),
            "server is still running; stop() first"
        );
        let addr = self.addr.expect("address of the previous run");
        if !self.spawn(&addr.to_string(), None) {
            let base = self.base_url.clone();
            let user_gave_base = self.args.iter().any(|a| a.starts_with("--base-url"));
            self.spawn("127.0.0.1:0", (!user_gave_base).then_some(base.as_str()));
        }
    }

    /// [`TestServer::stop`] then [`TestServer::start_again`]: same data directory.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Runs an admin subcommand against this server's data directory (see
    /// [`run_admin`]). The server must be stopped ([`TestServer::stop`]).
    pub fn run_admin(&self, args: &[&str]) -> AdminOutput {
        assert!(
            self.child.is_none(),
            "run_admin needs the server stopped (it holds the database)"
        );
        run_admin(self.data_dir(), args)
    }

    /// The server process id while it runs (to read `/proc/<pid>/status`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// The shared non-redirecting HTTP client.
    pub fn http(&self) -> &Client {
        &self.http
    }

    /// A new browser-like session (own cookie jar, no redirects followed).
    pub fn browser(&self) -> Browser {
        Browser::new(&self.base_url)
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Reply {
        Reply::read(self.http.get(self.url(path)).send().expect("GET"))
    }

    /// `GET path` with `Authorization: Bearer TOKEN`.
    pub fn get_bearer(&self, path: &str, token: &str) -> Reply {
        Reply::read(
            self.http
                .get(self.url(path))
                .bearer_auth(token)
                .send()
                .expect("GET"),
        )
    }

    /// `POST path` with a form-encoded body (pairs may repeat names).
    pub fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> Reply {
        self.post_form_basic(path, pairs, None)
    }

    /// `POST path` with a form body and optional HTTP Basic client credentials
    /// (`client_secret_basic`, RFC 6749 §2.3.1: both parts form-urlencoded first).
    pub fn post_form_basic(
        &self,
        path: &str,
        pairs: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Reply {
        let mut req = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_form(pairs));
        if let Some((id, secret)) = basic {
            req = req.basic_auth(form_encode(id), Some(form_encode(secret)));
        }
        Reply::read(req.send().expect("POST"))
    }

    /// Sends any request: method, path, optional content type, raw body, extra headers.
    /// Panics if the request fails at the transport level.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.try_raw(method, path, content_type, body, headers)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Like [`TestServer::raw`], returning transport errors (with their causes).
    pub fn try_raw(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, String> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, self.url(path));
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        match req.body(body).send() {
            Ok(resp) => Ok(Reply::read(resp)),
            Err(e) => {
                let mut msg = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg.push_str(&format!(": {s}"));
                    src = s.source();
                }
                Err(msg)
            }
        }
    }

    /// Starts a device flow for [`DEFAULT_CLIENT`]; panics unless it succeeds.
    pub fn device_code(&self, scope: Option<&str>) -> DeviceAuth {
        self.device_code_as(DEFAULT_CLIENT, scope)
    }

    /// Starts a device flow for `client_id`; panics unless it succeeds.
    #[track_caller]
    pub fn device_code_as(&self, client_id: &str, scope: Option<&str>) -> DeviceAuth {
        let mut pairs = vec![(params::CLIENT_ID, client_id)];
        if let Some(s) = scope {
            pairs.push((params::SCOPE, s));
        }
        let r = self.post_form(paths::DEVICE_AUTHORIZATION, &pairs);
        r.assert_status(200);
        let v = r.json();
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(ToOwned::to_owned);
        DeviceAuth {
            device_code: s("device_code").expect("device_code"),
            user_code: s("user_code").expect("user_code"),
            verification_uri: s("verification_uri").expect("verification_uri"),
            verification_uri_complete: s("verification_uri_complete"),
            expires_in: v
                .get("expires_in")
                .and_then(Value::as_u64)
                .expect("expires_in"),
            interval: v.get("interval").and_then(Value::as_u64),
            raw: v.clone(),
        }
    }

    /// One poll of the token endpoint with the device code, as [`DEFAULT_CLIENT`].
    pub fn poll(&self, device_code: &str) -> Reply {
        self.poll_as(DEFAULT_CLIENT, device_code)
    }

    /// One poll of the token endpoint with the device code, as `client_id`.
    pub fn poll_as(&self, client_id: &str, device_code: &str) -> Reply {
        self.post_form(
            paths::TOKEN,
            &[
                (params::GRANT_TYPE, params::GRANT_TYPE_DEVICE_CODE),
                (params::DEVICE_CODE, device_code),
                (params::CLIENT_ID, client_id),
            ],
        )
    }

    /// Refresh grant as [`DEFAULT_CLIENT`].
    pub fn refresh(&self, refresh_token: &str) -> Reply {
        self.refresh_as(DEFAULT_CLIENT, refresh_token, None)
    }

    /// Refresh grant as `client_id`, optionally asking for `scope`.
    pub fn refresh_as(&self, client_id: &str, refresh_token: &str, scope: Option<&str>) -> Reply {
        let mut pairs = vec![
            (params::GRANT_TYPE, params::GRANT_TYPE_REFRESH_TOKEN),
            (params::REFRESH_TOKEN, refresh_token),
            (params::CLIENT_ID, client_id),
        ];
        if let Some(s) = scope {
            pairs.push((params::SCOPE, s));
        }
        self.post_form(paths::TOKEN, &pairs)
    }

    /// RFC 7662 introspection with `client_secret_basic`.
    pub fn introspect(&self, client_id: &str, secret: &str, token: &str) -> Reply {
        self.post_form_basic(
            paths::INTROSPECTION,
            &[(params::TOKEN, token)],
            Some((client_id, secret)),
        )
    }

    /// RFC 7009 revocation as [`DEFAULT_CLIENT`] (a public client names itself).
    pub fn revoke(&self, token: &str, hint: Option<&str>) -> Reply {
        let mut pairs = vec![(params::TOKEN, token), (params::CLIENT_ID, DEFAULT_CLIENT)];
        if let Some(h) = hint {
            pairs.push((params::TOKEN_TYPE_HINT, h));
        }
        self.post_form(paths::REVOCATION, &pairs)
    }

    /// The whole device flow as [`DEFAULT_CLIENT`]: code, log in as admin, approve,
    /// redeem. Returns the token response.
    pub fn obtain_tokens(&self, scope: Option<&str>) -> Tokens {
        let code = self.device_code(scope);
        let mut b = self.browser();
        b.login(ADMIN_USER, ADMIN_PASSWORD);
        b.approve(&code.user_code);
        let r = self.poll(&code.device_code);
        r.assert_no_store();
        r.tokens()
    }

    /// Polls like a well-behaved device (waiting `interval`, +5 s on `slow_down`)
    /// until the answer is not pending, for at most `max` time.
    pub fn poll_until_done(&self, code: &DeviceAuth, max: Duration) -> Reply {
        let mut interval = Duration::from_secs(code.interval.unwrap_or(5));
        let deadline = Instant::now() + max;
        loop {
            let r = self.poll(&code.device_code);
            match r.error().as_deref() {
                Some("authorization_pending") => {}
                Some("slow_down") => interval += Duration::from_secs(5),
                _ => return r,
            }
            if Instant::now() + interval > deadline {
                return r;
            }
            thread::sleep(interval);
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
        if thread::panicking() {
            eprintln!(
                "---- authgate stderr ({}) ----\n{}\n---- end ----",
                self.base_url,
                self.stderr()
            );
        }
    }
}

/// Percent-encodes one form value (`application/x-www-form-urlencoded`).
pub fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Encodes pairs as a form body; names may repeat.
pub fn encode_form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The attributes of every `<input ...>` tag in `html`, in order.
pub fn inputs(html: &str) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<input") {
        rest = &rest[i + 6..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        let mut attrs = BTreeMap::new();
        let mut t = tag;
        while let Some(eq) = t.find("=\"") {
            let name = t[..eq]
                .rsplit(|c: char| c.is_whitespace())
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            let after = &t[eq + 2..];
            let close = after.find('"').unwrap_or(after.len());
            attrs.insert(name, html_unescape(&after[..close]));
            t = &after[(close + 1).min(after.len())..];
        }
        out.push(attrs);
        rest = &rest[end..];
    }
    out
}

fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The value of the input (hidden or not) named `name` in `html`.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    hidden_value(html, name)
}

/// The value of the hidden input named `name` in `html`.
pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    inputs(html)
        .into_iter()
        .find(|a| a.get("name").map(String::as_str) == Some(name))
        .and_then(|a| a.get("value").cloned())
}

/// The CSRF token of the first form: the contract promises exactly
/// `<input type="hidden" name="csrf_token" value="TOKEN">`.
pub fn csrf_token(html: &str) -> Option<String> {
    const MARK: &str = r#"<input type="hidden" name="csrf_token" value=""#;
    let start = html.find(MARK)? + MARK.len();
    let len = html[start..].find('"')?;
    Some(html_unescape(&html[start..start + len]))
}

/// A browser-like session against the pages: its own cookie jar, redirects not
/// followed (tests look at the `303`s), CSRF tokens taken from the forms.
pub struct Browser {
    http: Client,
    base: String,
    cookies: BTreeMap<String, String>,
    headers: Vec<(String, String)>,
}

impl Browser {
    /// A session with an empty cookie jar against `base_url`.
    pub fn new(base_url: &str) -> Self {
        Browser {
            http: http_client(),
            base: base_url.trim_end_matches('/').to_owned(),
            cookies: BTreeMap::new(),
            headers: Vec::new(),
        }
    }

    /// Points the session at another base URL (after a restart on a new port),
    /// keeping its cookies.
    pub fn set_base_url(&mut self, base_url: &str) {
        self.base = base_url.trim_end_matches('/').to_owned();
    }

    /// The cookies held now (name → value).
    pub fn cookies(&self) -> &BTreeMap<String, String> {
        &self.cookies
    }

    /// Sets or replaces a cookie by hand.
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    /// Sends `name: value` with every later request (e.g. `Accept-Language`).
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    /// Removes a cookie.
    pub fn remove_cookie(&mut self, name: &str) {
        self.cookies.remove(name);
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    fn send(&mut self, req: reqwest::blocking::RequestBuilder) -> Reply {
        let req = self
            .headers
            .iter()
            .fold(req, |req, (n, v)| req.header(n.as_str(), v.as_str()));
        let req = if self.cookies.is_empty() {
            req
        } else {
            let c = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            req.header("cookie", c)
        };
        let reply = Reply::read(req.send().expect("browser request"));
        for v in reply.headers.get_all("set-cookie") {
            let v = String::from_utf8_lossy(v.as_bytes());
            let mut parts = v.split(';');
            let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim().trim_matches('"'));
            let expired = parts.any(|a| {
                let a = a.trim().to_ascii_lowercase();
                a == "max-age=0" || a.starts_with("max-age=-")
            });
            if expired || value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        reply
    }

    /// `GET path` (or an absolute `http://` URL).
    pub fn get(&mut self, path: &str) -> Reply {
        let req = self.http.get(self.url(path));
        self.send(req)
    }

    /// `POST path` with a form body.
    pub fn post_form(&mut self, path: &str, pairs: &[(&str, &str)]) -> Reply {
        let req = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode_form(pairs));
        self.send(req)
    }

    /// `GET path` and the CSRF token of its form; panics if there is none.
    #[track_caller]
    pub fn csrf_of(&mut self, path: &str) -> String {
        let r = self.get(path);
        csrf_token(&r.text()).unwrap_or_else(|| {
            panic!(
                "no csrf_token input on GET {path} (status {}): {}",
                r.status,
                r.text()
            )
        })
    }

    /// Submits the login form; returns the answer without judging it.
    pub fn try_login(&mut self, user: &str, password: &str) -> Reply {
        let csrf = self.csrf_of("/login");
        self.post_form(
            "/login",
            &[
                ("username", user),
                ("password", password),
                ("csrf_token", &csrf),
                ("next", "/account"),
            ],
        )
    }

    /// Logs in; panics unless the server answers `303` and sets `authgate_session`
    /// (`__Host-authgate_session` under an https base URL).
    #[track_caller]
    pub fn login(&mut self, user: &str, password: &str) {
        let r = self.try_login(user, password);
        assert_eq!(r.status, 303, "login failed: {}", r.text());
        assert!(
            self.cookies.contains_key("authgate_session")
                || self.cookies.contains_key("__Host-authgate_session"),
            "login set no authgate_session cookie; cookies: {:?}",
            self.cookies
        );
    }

    /// Submits a user code on the device page (`POST /device`); returns the answer
    /// (the consent page on success).
    pub fn enter_code(&mut self, user_code: &str) -> Reply {
        let csrf = self.csrf_of(paths::DEVICE_PAGE);
        self.post_form(
            paths::DEVICE_PAGE,
            &[("user_code", user_code), ("csrf_token", &csrf)],
        )
    }

    /// Enters the code and presses `decision` (`approve` or `deny`) on the consent
    /// page. Panics unless both steps answer `200`. Must be logged in.
    #[track_caller]
    pub fn decide(&mut self, user_code: &str, decision: &str) -> Reply {
        let consent = self.enter_code(user_code);
        assert_eq!(
            consent.status,
            200,
            "POST /device with {user_code:?} did not show the consent page: {}",
            consent.text()
        );
        let html = consent.text();
        let csrf = csrf_token(&html)
            .unwrap_or_else(|| panic!("no csrf_token on the consent page: {html}"));
        let code = hidden_value(&html, "user_code").unwrap_or_else(|| user_code.to_owned());
        let request = hidden_value(&html, "request").unwrap_or_default();
        let binding = hidden_value(&html, "consent").unwrap_or_default();
        let r = self.post_form(
            "/device/consent",
            &[
                ("user_code", &code),
                ("request", &request),
                ("consent", &binding),
                ("decision", decision),
                ("csrf_token", &csrf),
            ],
        );
        assert_eq!(
            r.status,
            200,
            "POST /device/consent ({decision}) failed: {}",
            r.text()
        );
        r
    }

    /// Approves the device showing `user_code` (log in first with [`Browser::login`]).
    #[track_caller]
    pub fn approve(&mut self, user_code: &str) -> Reply {
        self.decide(user_code, "approve")
    }

    /// Denies the device showing `user_code` (log in first with [`Browser::login`]).
    #[track_caller]
    pub fn deny(&mut self, user_code: &str) -> Reply {
        self.decide(user_code, "deny")
    }

    /// Presses `decision` (`approve` or `deny`) on the authorization-code consent
    /// `page` this browser was shown: posts the request's hidden fields back with
    /// the page's CSRF token, as the form does. Returns the redirect `Location`.
    #[track_caller]
    pub fn decide_authorization(&mut self, page: &Reply, decision: &str) -> String {
        let html = page.text();
        let csrf = csrf_token(&html).expect("a CSRF token on the consent page");
        let names = [
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
        ];
        let values: Vec<(&str, String)> = names
            .iter()
            .filter_map(|n| hidden_value(&html, n).map(|v| (*n, v)))
            .collect();
        let mut form: Vec<(&str, &str)> = values.iter().map(|(n, v)| (*n, v.as_str())).collect();
        form.push(("csrf_token", &csrf));
        form.push(("decision", decision));
        let r = self.post_form("/oauth/authorize", &form);
        assert_eq!(r.status, 303, "decision: {}", r.text());
        r.header("location").expect("a Location")
    }
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Splits a space-separated scope string into a sorted list.
pub fn scope_set(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.split_whitespace().map(ToOwned::to_owned).collect();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_follows_urlencoded_rules() {
        assert_eq!(form_encode("read write"), "read+write");
        assert_eq!(form_encode("a:b/c=d&e"), "a%3Ab%2Fc%3Dd%26e");
        assert_eq!(
            encode_form(&[("scope", "read profile"), ("scope", "x")]),
            "scope=read+profile&scope=x"
        );
    }

    #[test]
    fn finds_csrf_and_hidden_inputs() {
        let html = r#"<form method="post" action="/device/consent">
            <input type="hidden" name="csrf_token" value="t0k&amp;en">
            <input type="hidden" name="user_code" value="BCDF-GHJK">
            <button name="decision" value="approve">Approve</button></form>"#;
        assert_eq!(csrf_token(html).as_deref(), Some("t0k&en"));
        assert_eq!(
            hidden_value(html, "user_code").as_deref(),
            Some("BCDF-GHJK")
        );
        assert_eq!(hidden_value(html, "nope"), None);
        assert_eq!(csrf_token("<p>no form</p>"), None);
        let typed = r#"<input name="user_code" value="&#60;b&#x3E;&quot;x&amp;">"#;
        assert_eq!(input_value(typed, "user_code").as_deref(), Some("<b>\"x&"));
    }

    #[test]
    fn admin_output_fields() {
        let out = AdminOutput {
            success: true,
            stdout: "client_id: rs\nclient_secret: s3cr3t\n".into(),
            stderr: String::new(),
        };
        assert_eq!(out.field("client_secret").as_deref(), Some("s3cr3t"));
        assert_eq!(out.field("missing"), None);
    }
}
