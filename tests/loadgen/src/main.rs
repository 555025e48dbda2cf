//! `loadgen`: measures AuthGate's throughput and latency per endpoint, with the
//! server's CPU time and peak RSS, and prints a table and JSON.
//!
//! ```sh
//! cargo build --release -p authgate-server -p authgate-loadgen
//! target/release/loadgen --connections 32 --duration 10 --json perf.json
//! ```
//!
//! By default it starts `authgate` (the binary next to its own) on a free loopback
//! port in a fresh data directory and runs, in order: idle RSS; creating
//! `--codes` device codes (RSS with that many live codes); pending polls over those
//! codes; device authorizations; complete flows (device code → pending poll →
//! approve in a logged-in browser session → token); refreshes; introspections.
//! Every scenario keeps `--connections` keep-alive connections busy for
//! `--duration` seconds after a warm-up, or paces them to `--rate` requests/s.
//!
//! On PostgreSQL: `--postgres` starts a throwaway cluster for the run
//! (`authgate_tests::pg::PgCluster`, fsync on, removed afterwards) and reports its
//! CPU (postmaster and children) apart from the servers'; `--database-url URL` uses
//! a database of yours (`--postmaster-pid` for its CPU). `--instances N` starts N
//! servers on that database and spreads the connections over them round-robin;
//! server CPU and RSS are then the sum over the N processes:
//!
//! ```sh
//! target/release/loadgen --postgres --instances 2 --connections 32 --duration 5 \
//!     --codes 100000 --json perf-pg.json
//! ```
//!
//! The `account` scenario (not in the default list) measures one person's account
//! page and device revocations while the database holds `--seed-grants` grants of
//! other users, written before the server starts by the `seed_grants` example:
//!
//! ```sh
//! cargo build --release -p authgate-server -p authgate-loadgen --bins --example seed_grants
//! target/release/loadgen --scenarios account --seed-grants 100000 --connections 4 \
//!     --duration 5 --account-grants 100
//! ```
//!
//! `seed_grants` writes a redb file: on PostgreSQL the account scenario runs only
//! with `--seed-grants 0` and is skipped (with a message) otherwise.
//!
//! `--dpop` makes the device-authorization, poll, flow and refresh scenarios
//! DPoP-bound (RFC 9449): every request to those endpoints carries a fresh Ed25519
//! proof, every issued token must come back as `token_type: DPoP`, and the rows are
//! named with a `(DPoP)` suffix. Run it beside a run without it to see what proof
//! verification costs per request:
//!
//! ```sh
//! target/release/loadgen --scenarios poll,device-auth,flow,refresh --dpop --duration 5
//! ```

mod conn;
mod dpop;
mod hist;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use clap::Parser;
use hyper::header::{AUTHORIZATION, COOKIE, HeaderName, HeaderValue, SET_COOKIE};
use hyper::{Method, Uri};
use serde::{Deserialize, Serialize};

use conn::{Answer, Conn};
use hist::Histogram;
use server::Server;

/// Password the started server gives user `admin`.
const ADMIN_PASSWORD: &str = "loadgen password 1234";
/// The public URL several started instances share (`--instances`), as behind one
/// load balancer; never resolved (`.invalid`), only compared.
const SHARED_BASE_URL: &str = "http://authgate.loadgen.invalid";
/// The public client every fresh data directory has.
const CLIENT_ID: &str = "authgate-cli";

#[derive(Parser, Debug)]
#[command(name = "loadgen", about = "AuthGate load generator")]
struct Args {
    /// The `authgate` binary to start (default: next to this binary).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Target a running server at this address instead of starting one
    /// (`127.0.0.1:8080`); its rate limit for device authorizations must be off.
    #[arg(long)]
    target: Option<SocketAddr>,
    /// Pid of the targeted server, to read its CPU and RSS.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Password of user `admin` on a targeted server.
    #[arg(long, default_value = ADMIN_PASSWORD)]
    admin_password: String,
    /// `ID:SECRET` of a confidential client on a targeted server (introspection).
    #[arg(long)]
    introspect_client: Option<String>,
    /// Where the started server's data directory goes (default: the system temp dir;
    /// it must be a real disk for durable numbers, not tmpfs).
    #[arg(long)]
    data_parent: Option<PathBuf>,
    /// Run the started servers on this PostgreSQL database instead of redb in their
    /// data directories (`postgres://user@host:port/db`); it should be empty.
    #[arg(long, conflicts_with = "postgres")]
    database_url: Option<String>,
    /// Start a throwaway PostgreSQL cluster for the run (`authgate_tests::pg`:
    /// initdb in a temp dir, a free loopback port, fsync on), run the servers on it,
    /// report its CPU apart from the servers', and remove it afterwards.
    #[arg(long)]
    postgres: bool,
    /// With `--postgres`: the servers reach the cluster over its Unix-domain socket
    /// instead of loopback TCP (as a server on the database's own machine would).
    #[arg(long, requires = "postgres")]
    unix_socket: bool,
    /// Pid of the PostgreSQL postmaster of `--database-url` (on this host), to report
    /// the database's CPU (it and its children); `--postgres` knows its own.
    #[arg(long)]
    postmaster_pid: Option<u32>,
    /// Servers to start on the one database (more than one needs PostgreSQL);
    /// connections are spread over them round-robin, CPU and RSS are summed.
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// Extra arguments for `authgate serve`.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds each scenario is measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of warm-up before each measurement.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Device codes created (and left pending) for the polling scenario.
    #[arg(long, default_value_t = 100_000)]
    codes: usize,
    /// Grants of other users written into the fresh data directory before the
    /// server starts (the `account` scenario's background).
    #[arg(long, default_value_t = 0)]
    seed_grants: usize,
    /// The `seed_grants` example binary (default: `examples/seed_grants` next to
    /// this binary).
    #[arg(long)]
    seed_bin: Option<PathBuf>,
    /// Devices the `account` scenario's user approves (listed on the page, then
    /// revoked one by one).
    #[arg(long, default_value_t = 20)]
    account_grants: usize,
    /// Comma-separated scenarios: device-auth, poll, flow, refresh, introspect, soak,
    /// account.
    #[arg(
        long,
        default_value = "device-auth,poll,flow,refresh,introspect",
        value_delimiter = ','
    )]
    scenarios: Vec<String>,
    /// Pace every scenario to this many operations/s in total (0: as fast as it goes).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Client runtime worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Send a fresh DPoP proof with every device authorization, poll and token
    /// request (the module `dpop`).
    #[arg(long)]
    dpop: bool,
}

/// What one scenario measured.
#[derive(Serialize, Clone, Debug)]
struct Row {
    scenario: String,
    /// Operations per second (a flow is one operation of four requests).
    ops_per_sec: f64,
    /// HTTP requests per second.
    requests_per_sec: f64,
    /// Per-request latency, milliseconds.
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// Per-operation latency (differs from per-request for flows), milliseconds.
    op_p50_ms: f64,
    op_p99_ms: f64,
    operations: u64,
    errors: u64,
    /// Server CPU (every instance summed): cores busy on average, and CPU
    /// microseconds per operation.
    server_cpu_cores: f64,
    server_cpu_us_per_op: f64,
    /// PostgreSQL's CPU (postmaster and children), when it is known: cores and
    /// microseconds per operation. `null` on redb.
    pg_cpu_cores: Option<f64>,
    pg_cpu_us_per_op: Option<f64>,
    /// The load generator's own CPU per operation: on a shared 2-core machine,
    /// what the client costs is CPU the server does not get.
    client_cpu_us_per_op: f64,
    /// Server resident set at the end, and its peak during the scenario, MiB.
    server_rss_mib: f64,
    server_peak_rss_mib: f64,
    /// Notes (answer mix, sizes).
    note: String,
}

#[derive(Serialize)]
struct Report {
    machine: String,
    load_before: String,
    /// `redb` or `postgres`.
    backend: &'static str,
    /// Servers the load was spread over.
    instances: usize,
    connections: usize,
    duration_secs: f64,
    client_threads: usize,
    server_binary_bytes: Option<u64>,
    idle_rss_mib: Option<f64>,
    rss_with_codes_mib: Option<f64>,
    live_codes: usize,
    rows: Vec<Row>,
    soak_rss_mib: Vec<f64>,
}

/// What each worker of a scenario does per operation.
#[derive(Clone)]
enum Work {
    /// `POST /oauth/device/code`.
    DeviceAuth,
    /// A pending poll of the next code in a shared rotation.
    Poll {
        bodies: Arc<Vec<Bytes>>,
        next: Arc<AtomicUsize>,
    },
    /// A complete flow in a logged-in browser session.
    Flow { browser: Arc<BrowserSession> },
    /// `refresh_token` grant; each worker rotates its own tokens.
    Refresh,
    /// `GET /account` in a logged-in browser session.
    Account { browser: Arc<BrowserSession> },
    /// `POST /oauth/introspect` of the next token in a shared rotation.
    Introspect {
        bodies: Arc<Vec<Bytes>>,
        next: Arc<AtomicUsize>,
        auth: HeaderValue,
    },
}

/// A browser that is logged in: its cookies and CSRF token.
struct BrowserSession {
    cookie: HeaderValue,
    csrf: String,
}

/// One worker's results.
#[derive(Default)]
struct Tally {
    req: Histogram,
    op: Histogram,
    ops: u64,
    requests: u64,
    errors: u64,
    first_errors: Vec<String>,
    pending: u64,
    slow_down: u64,
    /// (access token, refresh token) pairs from flows.
    issued: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct DeviceCodeJson<'a> {
    device_code: &'a str,
    user_code: &'a str,
}

#[derive(Deserialize)]
struct TokensJson<'a> {
    token_type: &'a str,
    access_token: &'a str,
    refresh_token: &'a str,
}

fn form_encode(out: &mut String, s: &str) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
}

fn form(pairs: &[(&str, &str)]) -> Bytes {
    let mut s = String::with_capacity(256);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push('&');
        }
        form_encode(&mut s, k);
        s.push('=');
        form_encode(&mut s, v);
    }
    Bytes::from(s)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

const DEVICE_CODE_PATH: &str = "/oauth/device/code";
const TOKEN_PATH: &str = "/oauth/token";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The request header carrying a DPoP proof (RFC 9449 §4.1).
const DPOP: HeaderName = HeaderName::from_static("dpop");

/// A per-request error, with the answer that caused it.
fn bad(what: &str, a: &Answer) -> String {
    format!(
        "{what}: {} {}",
        a.status,
        String::from_utf8_lossy(&a.body[..a.body.len().min(200)])
    )
}

/// Sends a request, timing it into `t.req`.
async fn timed(
    conn: &mut Conn,
    t: &mut Tally,
    method: Method,
    path: &'static str,
    body: Option<Bytes>,
    headers: &[(HeaderName, &HeaderValue)],
) -> Result<Answer, String> {
    timed_uri(conn, t, method, Uri::from_static(path), body, headers).await
}

/// [`timed`] for a URI built at run time.
async fn timed_uri(
    conn: &mut Conn,
    t: &mut Tally,
    method: Method,
    uri: Uri,
    body: Option<Bytes>,
    headers: &[(HeaderName, &HeaderValue)],
) -> Result<Answer, String> {
    let start = Instant::now();
    let r = conn.send(method, uri, body, headers, false).await;
    t.req.record(start.elapsed().as_micros() as u64);
    t.requests += 1;
    r.map_err(|e| e.0)
}

/// Creates a device code: (device_code, user_code).
async fn device_code(conn: &mut Conn, t: &mut Tally) -> Result<(String, String), String> {
    static BODY: &str = "client_id=authgate-cli&scope=read";
    let proof = dpop_header(dpop::Endpoint::DeviceAuthorization)?;
    let a = timed(
        conn,
        t,
        Method::POST,
        DEVICE_CODE_PATH,
        Some(Bytes::from_static(BODY.as_bytes())),
        &headers_with(&proof),
    )
    .await?;
    if a.status != 200 {
        return Err(bad("device code", &a));
    }
    let j: DeviceCodeJson = serde_json::from_slice(&a.body).map_err(|e| e.to_string())?;
    Ok((j.device_code.to_string(), j.user_code.to_string()))
}

/// A fresh proof for `endpoint` under `--dpop`.
fn dpop_header(endpoint: dpop::Endpoint) -> Result<Option<HeaderValue>, String> {
    dpop::proof(endpoint).transpose()
}

/// The request headers carrying `proof`, if any.
fn headers_with(proof: &Option<HeaderValue>) -> Vec<(HeaderName, &HeaderValue)> {
    proof.iter().map(|p| (DPOP, p)).collect()
}

/// `POST` to the token endpoint, with a fresh proof under `--dpop`.
async fn token_request(conn: &mut Conn, t: &mut Tally, body: Bytes) -> Result<Answer, String> {
    let proof = dpop_header(dpop::Endpoint::Token)?;
    timed(
        conn,
        t,
        Method::POST,
        TOKEN_PATH,
        Some(body),
        &headers_with(&proof),
    )
    .await
}

/// Parses a token response; under `--dpop` the tokens must be bound (RFC 9449 §5).
fn issued_tokens<'a>(a: &'a Answer) -> Result<TokensJson<'a>, String> {
    let j: TokensJson = serde_json::from_slice(&a.body).map_err(|e| e.to_string())?;
    let want = if dpop::enabled() { "DPoP" } else { "Bearer" };
    if j.token_type != want {
        return Err(bad(
            &format!("token_type {} (want {want})", j.token_type),
            a,
        ));
    }
    Ok(j)
}

fn poll_body(device_code: &str) -> Bytes {
    form(&[
        ("grant_type", DEVICE_GRANT),
        ("device_code", device_code),
        ("client_id", CLIENT_ID),
    ])
}

/// One operation of `work`.
async fn op(
    conn: &mut Conn,
    work: &Work,
    t: &mut Tally,
    own: &mut [String],
    turn: usize,
) -> Result<(), String> {
    match work {
        Work::DeviceAuth => device_code(conn, t).await.map(|_| ()),
        Work::Poll { bodies, next } => {
            let i = next.fetch_add(1, Ordering::Relaxed) % bodies.len();
            let a = token_request(conn, t, bodies[i].clone()).await?;
            if a.status == 400 && contains(&a.body, b"\"authorization_pending\"") {
                t.pending += 1;
                Ok(())
            } else if a.status == 400 && contains(&a.body, b"\"slow_down\"") {
                t.slow_down += 1;
                Ok(())
            } else {
                Err(bad("pending poll", &a))
            }
        }
        Work::Flow { browser } => {
            let (dc, uc) = device_code(conn, t).await?;
            let poll = poll_body(&dc);
            let a = token_request(conn, t, poll.clone()).await?;
            if !(a.status == 400 && contains(&a.body, b"\"authorization_pending\"")) {
                return Err(bad("first poll", &a));
            }
            // The person opens the device's link: the consent page carries the
            // binding (`request`, `consent`) that the Approve button must send back.
            let page_uri: Uri = format!("/device?user_code={uc}")
                .parse()
                .map_err(|e: hyper::http::uri::InvalidUri| e.to_string())?;
            let page = timed_uri(
                conn,
                t,
                Method::GET,
                page_uri,
                None,
                &[(COOKIE, &browser.cookie)],
            )
            .await?;
            if page.status != 200 {
                return Err(bad("consent page", &page));
            }
            let request = hidden_input(&page.body, "request")?;
            let binding = hidden_input(&page.body, "consent")?;
            let shown_code = hidden_input(&page.body, "user_code")?;
            let consent = form(&[
                ("user_code", &shown_code),
                ("decision", "approve"),
                ("csrf_token", &browser.csrf),
                ("request", &request),
                ("consent", &binding),
            ]);
            let a = timed(
                conn,
                t,
                Method::POST,
                "/device/consent",
                Some(consent),
                &[(COOKIE, &browser.cookie)],
            )
            .await?;
            if a.status != 200 {
                return Err(bad("approve", &a));
            }
            let a = token_request(conn, t, poll).await?;
            if a.status != 200 {
                return Err(bad("token", &a));
            }
            let j = issued_tokens(&a)?;
            if t.issued.len() < 4096 {
                t.issued
                    .push((j.access_token.to_string(), j.refresh_token.to_string()));
            }
            Ok(())
        }
        Work::Refresh => {
            if own.is_empty() {
                return Err("no refresh tokens for this worker".into());
            }
            let slot = turn % own.len();
            let body = form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &own[slot]),
                ("client_id", CLIENT_ID),
            ]);
            let a = token_request(conn, t, body).await?;
            if a.status != 200 {
                return Err(bad("refresh", &a));
            }
            let j = issued_tokens(&a)?;
            own[slot] = j.refresh_token.to_string();
            Ok(())
        }
        Work::Account { browser } => {
            let a = timed(
                conn,
                t,
                Method::GET,
                "/account",
                None,
                &[(COOKIE, &browser.cookie)],
            )
            .await?;
            if a.status == 200 && contains(&a.body, b"name=\"grant\"") {
                Ok(())
            } else {
                Err(bad("account page", &a))
            }
        }
        Work::Introspect { bodies, next, auth } => {
            let i = next.fetch_add(1, Ordering::Relaxed) % bodies.len();
            let a = timed(
                conn,
                t,
                Method::POST,
                "/oauth/introspect",
                Some(bodies[i].clone()),
                &[(AUTHORIZATION, auth)],
            )
            .await?;
            if a.status == 200 && contains(&a.body, b"\"active\":true") {
                Ok(())
            } else {
                Err(bad("introspect", &a))
            }
        }
    }
}

/// Runs `work` on `conns` connections until `until`, pacing each worker to
/// `rate_per_worker` operations/s when that is positive.
async fn worker(
    addr: SocketAddr,
    work: Work,
    mut own: Vec<String>,
    until: Instant,
    rate_per_worker: f64,
) -> (Tally, Vec<String>) {
    let mut conn = Conn::new(addr);
    let mut t = Tally::default();
    let gap = (rate_per_worker > 0.0).then(|| Duration::from_secs_f64(1.0 / rate_per_worker));
    let mut next_at = Instant::now();
    let mut turn = 0usize;
    while Instant::now() < until {
        if let Some(gap) = gap {
            tokio::time::sleep_until(next_at.into()).await;
            next_at += gap;
        }
        let start = Instant::now();
        match op(&mut conn, &work, &mut t, &mut own, turn).await {
            Ok(()) => {
                t.ops += 1;
                t.op.record(start.elapsed().as_micros() as u64);
            }
            Err(e) => {
                t.errors += 1;
                if t.first_errors.len() < 3 {
                    t.first_errors.push(e);
                }
            }
        }
        turn += 1;
    }
    (t, own)
}

/// Runs one measured phase; `own` gives each worker its private tokens.
async fn phase(
    addrs: &[SocketAddr],
    work: &Work,
    conns: usize,
    secs: f64,
    rate: f64,
    owns: Vec<Vec<String>>,
) -> (Tally, Vec<Vec<String>>, f64) {
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let per = if rate > 0.0 { rate / conns as f64 } else { 0.0 };
    let mut owns = owns.into_iter();
    let started = Instant::now();
    let handles: Vec<_> = (0..conns)
        .map(|i| {
            let own = owns.next().unwrap_or_default();
            let addr = addrs[i % addrs.len()];
            tokio::spawn(worker(addr, work.clone(), own, until, per))
        })
        .collect();
    let mut total = Tally::default();
    let mut back = Vec::new();
    for h in handles {
        let Ok((t, own)) = h.await else { continue };
        total.req.merge(&t.req);
        total.op.merge(&t.op);
        total.ops += t.ops;
        total.requests += t.requests;
        total.errors += t.errors;
        total.pending += t.pending;
        total.slow_down += t.slow_down;
        for e in t.first_errors {
            if total.first_errors.len() < 5 {
                total.first_errors.push(e);
            }
        }
        total.issued.extend(t.issued);
        back.push(own);
    }
    (total, back, started.elapsed().as_secs_f64())
}

/// The device authorization and token endpoint URLs from the server's metadata
/// (RFC 8414): what DPoP proofs name as `htu`.
async fn endpoints(conn: &mut Conn) -> Result<(String, String), String> {
    #[derive(Deserialize)]
    struct Metadata {
        device_authorization_endpoint: String,
        token_endpoint: String,
    }
    let uri = Uri::from_static("/.well-known/oauth-authorization-server");
    let a = conn
        .send(Method::GET, uri, None, &[], false)
        .await
        .map_err(|e| e.0)?;
    if a.status != 200 {
        return Err(bad("metadata", &a));
    }
    let m: Metadata = serde_json::from_slice(&a.body).map_err(|e| e.to_string())?;
    Ok((m.device_authorization_endpoint, m.token_endpoint))
}

/// Logs in through the pages and returns the browser's cookies and CSRF token.
async fn login(addr: SocketAddr, password: &str) -> Result<BrowserSession, String> {
    let mut conn = Conn::new(addr);
    let mut jar: Vec<(String, String)> = Vec::new();
    let absorb = |jar: &mut Vec<(String, String)>, a: &Answer| {
        for v in a.headers.iter().flat_map(|h| h.get_all(SET_COOKIE)) {
            let v = String::from_utf8_lossy(v.as_bytes());
            if let Some((k, val)) = v.split(';').next().and_then(|kv| kv.split_once('=')) {
                jar.retain(|(n, _)| n != k.trim());
                jar.push((k.trim().to_string(), val.trim().to_string()));
            }
        }
    };
    let cookie = |jar: &Vec<(String, String)>| {
        let s: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        HeaderValue::from_str(&s.join("; ")).map_err(|e| e.to_string())
    };
    let csrf_of = |body: &Bytes| -> Result<String, String> {
        const MARK: &str = r#"<input type="hidden" name="csrf_token" value=""#;
        let html = String::from_utf8_lossy(body);
        let start = html.find(MARK).ok_or("no csrf_token in page")? + MARK.len();
        let len = html[start..].find('"').ok_or("unterminated csrf_token")?;
        Ok(html[start..start + len]
            .replace("&#x3D;", "=")
            .replace("&amp;", "&"))
    };
    let a = conn
        .send(Method::GET, Uri::from_static("/login"), None, &[], true)
        .await
        .map_err(|e| e.0)?;
    absorb(&mut jar, &a);
    let csrf = csrf_of(&a.body)?;
    let body = form(&[
        ("username", "admin"),
        ("password", password),
        ("csrf_token", &csrf),
        ("next", "/account"),
    ]);
    let c = cookie(&jar)?;
    let a = conn
        .send(
            Method::POST,
            Uri::from_static("/login"),
            Some(body),
            &[(COOKIE, &c)],
            true,
        )
        .await
        .map_err(|e| e.0)?;
    if a.status != 303 {
        return Err(bad("login", &a));
    }
    absorb(&mut jar, &a);
    let c = cookie(&jar)?;
    let a = conn
        .send(
            Method::GET,
            Uri::from_static("/device"),
            None,
            &[(COOKIE, &c)],
            true,
        )
        .await
        .map_err(|e| e.0)?;
    if a.status != 200 {
        return Err(bad("device page", &a));
    }
    absorb(&mut jar, &a);
    Ok(BrowserSession {
        cookie: cookie(&jar)?,
        csrf: csrf_of(&a.body)?,
    })
}

fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

fn ms(us: u64) -> f64 {
    (us as f64 / 10.0).round() / 100.0
}

struct Ctx {
    /// Every server's address; connection `i` goes to `addrs[i % len]`.
    addrs: Vec<SocketAddr>,
    /// The first server (logins, the account scenario).
    addr: SocketAddr,
    server: Server,
    /// The PostgreSQL postmaster whose CPU is reported, if any.
    postmaster: Option<u32>,
    args: Args,
}

impl Ctx {
    /// Warm-up, then a measured phase with CPU and RSS accounting.
    async fn measure(
        &self,
        name: &str,
        work: &Work,
        owns: Vec<Vec<String>>,
        secs: f64,
    ) -> (Row, Tally, Vec<Vec<String>>) {
        let a = &self.args;
        let mut owns = owns;
        if a.warmup > 0.0 {
            let (_, back, _) =
                phase(&self.addrs, work, a.connections, a.warmup, a.rate, owns).await;
            owns = back;
        }
        self.server.reset_peak();
        let before = self.server.sample();
        let pg_before = self.pg_cpu();
        let client_before = server::sample(std::process::id());
        let (t, back, elapsed) = phase(&self.addrs, work, a.connections, secs, a.rate, owns).await;
        let after = self.server.sample();
        let pg_cpu = pg_before.zip(self.pg_cpu()).map(|(b, e)| e - b);
        let client_cpu = cpu_between(client_before, server::sample(std::process::id()));
        let cpu = cpu_between(before, after);
        let mut note = String::new();
        if t.pending + t.slow_down > 0 {
            note = format!(
                "authorization_pending {}, slow_down {}",
                t.pending, t.slow_down
            );
        }
        if !t.first_errors.is_empty() {
            note.push_str(&format!(" errors e.g. {:?}", t.first_errors));
        }
        let bound = [
            "pending polls",
            "device authorizations",
            "complete flows",
            "refreshes",
        ];
        let scenario = if dpop::enabled() && bound.contains(&name) {
            format!("{name} (DPoP)")
        } else {
            name.to_string()
        };
        let row = Row {
            scenario,
            ops_per_sec: (t.ops as f64 / elapsed).round(),
            requests_per_sec: (t.requests as f64 / elapsed).round(),
            p50_ms: ms(t.req.quantile(0.5)),
            p99_ms: ms(t.req.quantile(0.99)),
            max_ms: ms(t.req.max()),
            op_p50_ms: ms(t.op.quantile(0.5)),
            op_p99_ms: ms(t.op.quantile(0.99)),
            operations: t.ops,
            errors: t.errors,
            server_cpu_cores: (cpu / elapsed * 100.0).round() / 100.0,
            server_cpu_us_per_op: (cpu * 1e6 / t.ops.max(1) as f64).round(),
            pg_cpu_cores: pg_cpu.map(|c| (c / elapsed * 100.0).round() / 100.0),
            pg_cpu_us_per_op: pg_cpu.map(|c| (c * 1e6 / t.ops.max(1) as f64).round()),
            client_cpu_us_per_op: (client_cpu * 1e6 / t.ops.max(1) as f64).round(),
            server_rss_mib: after.map(|s| mib(s.rss_kib)).unwrap_or(f64::NAN),
            server_peak_rss_mib: after.map(|s| mib(s.hwm_kib)).unwrap_or(f64::NAN),
            note,
        };
        eprintln!(
            "  {name}: {} ops/s, p99 {} ms, errors {}",
            row.ops_per_sec, row.p99_ms, row.errors
        );
        (row, t, back)
    }

    /// PostgreSQL's CPU seconds so far, when we watch a postmaster.
    fn pg_cpu(&self) -> Option<f64> {
        self.postmaster.and_then(server::postgres_cpu_secs)
    }
}

/// CPU seconds a process used between two samples (NaN when either is missing).
fn cpu_between(before: Option<server::ProcSample>, after: Option<server::ProcSample>) -> f64 {
    match (before, after) {
        (Some(b), Some(e)) => e.cpu_secs - b.cpu_secs,
        _ => f64::NAN,
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|k| k.parse::<u64>().ok())
        .map(|k| k / 1024 / 1024)
        .unwrap_or(0);
    format!("{cores} cores, {cpu}, {mem} GiB RAM")
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // A throwaway cluster outlives the run (declared first, dropped last: after
    // `run` has stopped the servers on it).
    let cluster = if args.postgres {
        eprintln!("loadgen: starting a throwaway PostgreSQL cluster");
        match authgate_tests::pg::PgCluster::start() {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("loadgen: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let database = match (&cluster, &args.database_url) {
        (Some(c), _) => Some(Database {
            url: if args.unix_socket {
                c.socket_url()
            } else {
                c.url()
            },
            postmaster: c.pid(),
        }),
        (None, Some(url)) => Some(Database {
            url: url.clone(),
            postmaster: args.postmaster_pid,
        }),
        (None, None) => None,
    };
    match rt.block_on(run(args, database)) {
        Ok(0) => std::process::ExitCode::SUCCESS,
        Ok(errors) => {
            eprintln!("loadgen: {errors} requests failed");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The database the started servers use, when it is PostgreSQL.
struct Database {
    url: String,
    /// Its postmaster, when it runs on this host and is known (CPU accounting).
    postmaster: Option<u32>,
}

async fn run(args: Args, database: Option<Database>) -> Result<u64, String> {
    let load_before = loadavg();
    let bin = match &args.server_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("authgate"),
    };
    let server = match args.target {
        Some(addr) => {
            let client = args
                .introspect_client
                .as_deref()
                .and_then(|s| s.split_once(':'))
                .map(|(a, b)| (a.to_string(), b.to_string()));
            Server::external(addr, args.server_pid, client)
        }
        None => {
            let parent = args.data_parent.clone().unwrap_or_else(std::env::temp_dir);
            let mut extra = vec![
                "--poll-interval".to_string(),
                "1".to_string(),
                "--device-auth-rate-per-ip".to_string(),
                "0".to_string(),
                // The scenarios keep hundreds of thousands of codes pending from
                // one client: far past the flood caps a real server keeps.
                "--max-pending-codes".to_string(),
                "10000000".to_string(),
                "--max-pending-codes-per-client".to_string(),
                "10000000".to_string(),
            ];
            // Instances behind one load balancer share one public URL, which is the
            // tokens' issuer: without it each names its own port, and one refuses
            // the other's tokens.
            if args.instances > 1 && !args.server_args.iter().any(|a| a.starts_with("--base-url")) {
                extra.extend(["--base-url".to_string(), SHARED_BASE_URL.to_string()]);
            }
            extra.extend(args.server_args.iter().cloned());
            let seed = match args.seed_grants {
                0 => None,
                // seed_grants writes a redb file; the account scenario is skipped below.
                _ if database.is_some() => None,
                n => Some((
                    args.seed_bin
                        .clone()
                        .unwrap_or_else(|| bin.with_file_name("examples").join("seed_grants")),
                    n,
                )),
            };
            Server::start(&server::StartOptions {
                bin: &bin,
                parent: &parent,
                admin_password: ADMIN_PASSWORD,
                extra_args: &extra,
                seed,
                database_url: database.as_ref().map(|d| d.url.as_str()),
                instances: args.instances,
            })?
        }
    };
    let binary_bytes = if args.target.is_none() {
        std::fs::metadata(&bin).ok().map(|m| m.len())
    } else {
        None
    };
    let backend = if database.is_some() {
        "postgres"
    } else {
        "redb"
    };
    let ctx = Ctx {
        addrs: server.addrs.clone(),
        addr: server.addr(),
        server,
        postmaster: database.as_ref().and_then(|d| d.postmaster),
        args,
    };
    let a = &ctx.args;
    let wants = |s: &str| a.scenarios.iter().any(|x| x == s);
    eprintln!(
        "loadgen: {} connections, {} s per scenario, {backend}, server(s) {:?} (load {load_before})",
        a.connections, a.duration, ctx.addrs
    );

    // Idle: a few requests so every lazy structure exists, then a pause.
    let mut warm = Conn::new(ctx.addr);
    for _ in 0..10 {
        let _ = warm
            .send(Method::GET, Uri::from_static("/health"), None, &[], false)
            .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = ctx.server.sample().map(|s| mib(s.rss_kib));
    if a.dpop {
        let (device_authorization, token) = endpoints(&mut warm).await?;
        dpop::enable(device_authorization, token);
    }

    let mut rows = Vec::new();
    let mut total_errors = 0u64;
    let mut rss_with_codes = None;
    let mut live_codes = 0;

    if wants("poll") {
        // Create the codes (as fast as the server goes), then poll them round-robin.
        let started = Instant::now();
        let per = a.codes.div_ceil(a.connections);
        let handles: Vec<_> = (0..a.connections)
            .map(|i| {
                let addr = ctx.addrs[i % ctx.addrs.len()];
                tokio::spawn(async move {
                    let mut conn = Conn::new(addr);
                    let mut t = Tally::default();
                    let mut out = Vec::with_capacity(per);
                    for _ in 0..per {
                        match device_code(&mut conn, &mut t).await {
                            Ok((dc, _)) => out.push(poll_body(&dc)),
                            Err(e) => return Err(e),
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        let mut bodies = Vec::with_capacity(a.codes);
        for h in handles {
            bodies.extend(h.await.map_err(|e| e.to_string())??);
        }
        live_codes = bodies.len();
        eprintln!(
            "  created {live_codes} device codes in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        rss_with_codes = ctx.server.sample().map(|s| mib(s.rss_kib));
        let work = Work::Poll {
            bodies: Arc::new(bodies),
            next: Arc::new(AtomicUsize::new(0)),
        };
        let (row, t, _) = ctx
            .measure("pending polls", &work, vec![], a.duration)
            .await;
        total_errors += t.errors;
        rows.push(row);
    }

    if wants("device-auth") {
        let (row, t, _) = ctx
            .measure(
                "device authorizations",
                &Work::DeviceAuth,
                vec![],
                a.duration,
            )
            .await;
        total_errors += t.errors;
        rows.push(row);
    }

    let mut issued = Vec::new();
    let needs_flows = wants("flow") || wants("refresh") || wants("introspect") || wants("soak");
    let mut browser = None;
    if needs_flows {
        browser = Some(Arc::new(login(ctx.addr, &a.admin_password).await?));
    }
    if let Some(b) = &browser
        && (wants("flow") || wants("refresh") || wants("introspect"))
    {
        let work = Work::Flow { browser: b.clone() };
        let secs = if wants("flow") { a.duration } else { 2.0 };
        let (row, t, _) = ctx.measure("complete flows", &work, vec![], secs).await;
        total_errors += t.errors;
        issued = t.issued;
        if wants("flow") {
            rows.push(row);
        }
    }

    if wants("refresh") && !issued.is_empty() {
        // Each worker rotates its own share of the grants.
        let n = a.connections;
        let mut owns: Vec<Vec<String>> = vec![Vec::new(); n];
        for (i, (_, r)) in issued.iter().enumerate() {
            owns[i % n].push(r.clone());
        }
        let (mut row, t, _) = ctx
            .measure("refreshes", &Work::Refresh, owns, a.duration)
            .await;
        row.note = format!("{} grants rotating{}", issued.len(), row.note);
        total_errors += t.errors;
        rows.push(row);
    }

    if wants("introspect") && !issued.is_empty() {
        let (id, secret) = ctx
            .server
            .introspect_client
            .clone()
            .ok_or("introspection needs --introspect-client ID:SECRET")?;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        let auth = HeaderValue::from_str(&format!("Basic {basic}")).map_err(|e| e.to_string())?;
        let bodies: Vec<Bytes> = issued
            .iter()
            .map(|(at, _)| form(&[("token", at)]))
            .collect();
        let distinct = bodies.len();
        let work = Work::Introspect {
            bodies: Arc::new(bodies),
            next: Arc::new(AtomicUsize::new(0)),
            auth,
        };
        let (mut row, t, _) = ctx
            .measure("introspections", &work, vec![], a.duration)
            .await;
        row.note = format!("{distinct} distinct access tokens in rotation{}", row.note);
        total_errors += t.errors;
        rows.push(row);
    }

    if wants("account") && backend == "postgres" && a.seed_grants > 0 {
        eprintln!(
            "  account: skipped: --seed-grants writes a redb file \
             (server/examples/seed_grants.rs) and cannot seed PostgreSQL; \
             run it with --seed-grants 0 for the page without other users' grants"
        );
    } else if wants("account") {
        let (page, revokes) = account(&ctx).await?;
        total_errors += page.errors + revokes.errors;
        rows.push(page);
        rows.push(revokes);
    }

    let mut soak_rss = Vec::new();
    if wants("soak") {
        let b = browser.clone().ok_or("no browser session")?;
        let work = Work::Flow { browser: b };
        // Sample RSS every 10 s while the flows run.
        let pids = ctx.server.pids.clone();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done2 = done.clone();
        let sampler = tokio::spawn(async move {
            let mut out = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tick.tick().await;
                match server::sample_all(&pids) {
                    Some(s) => out.push(mib(s.rss_kib)),
                    None => break,
                }
                if out.len() > 100_000 {
                    break;
                }
                if done2.load(Ordering::Relaxed) {
                    break;
                }
            }
            out
        });
        let (mut row, t, _) = ctx
            .measure("soak (complete flows)", &work, vec![], a.duration)
            .await;
        done.store(true, Ordering::Relaxed);
        soak_rss = sampler.await.unwrap_or_default();
        row.note = format!(
            "paced to {} flows/s; RSS every 10 s: first {:?}, max {:?}, last {:?}",
            a.rate,
            soak_rss.first(),
            soak_rss
                .iter()
                .cloned()
                .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v)))),
            soak_rss.last()
        );
        total_errors += t.errors;
        rows.push(row);
    }

    let report = Report {
        machine: machine(),
        load_before,
        backend,
        instances: ctx.addrs.len(),
        connections: a.connections,
        duration_secs: a.duration,
        client_threads: a.threads,
        server_binary_bytes: binary_bytes,
        idle_rss_mib: idle_rss,
        rss_with_codes_mib: rss_with_codes,
        live_codes,
        rows,
        soak_rss_mib: soak_rss,
    };
    print_table(&report);
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(total_errors)
}

/// The value of `<input type="hidden" name="NAME" value="…">` in a page.
fn hidden_input(body: &Bytes, name: &str) -> Result<String, String> {
    let mark = format!(r#"<input type="hidden" name="{name}" value=""#);
    let html = String::from_utf8_lossy(body);
    let start = html
        .find(&mark)
        .ok_or_else(|| format!("no {name} input in page"))?
        + mark.len();
    let len = html[start..]
        .find('"')
        .ok_or_else(|| format!("unterminated {name} input"))?;
    Ok(html[start..start + len]
        .replace("&#x3D;", "=")
        .replace("&amp;", "&"))
}

/// The `account` scenario: the user approves `--account-grants` devices, then
/// `GET /account` is measured like any scenario, then every device is revoked on
/// the page, one `POST /account/revoke` at a time, each timed.
async fn account(ctx: &Ctx) -> Result<(Row, Row), String> {
    let a = &ctx.args;
    let browser = Arc::new(login(ctx.addr, &a.admin_password).await?);
    let mut conn = Conn::new(ctx.addr);
    let mut t = Tally::default();
    let flow = Work::Flow {
        browser: browser.clone(),
    };
    for i in 0..a.account_grants {
        op(&mut conn, &flow, &mut t, &mut [], i).await?;
    }
    let work = Work::Account {
        browser: browser.clone(),
    };
    let (mut page, _, _) = ctx.measure("account page", &work, vec![], a.duration).await;
    page.note = format!(
        "{} devices of this user, {} grants of other users",
        a.account_grants, a.seed_grants
    );
    let html = conn
        .send(
            Method::GET,
            Uri::from_static("/account"),
            None,
            &[(COOKIE, &browser.cookie)],
            false,
        )
        .await
        .map_err(|e| e.0)?;
    let ids = grant_ids(&html.body);
    let mut revokes = Tally::default();
    let before = ctx.server.sample();
    let started = Instant::now();
    for id in &ids {
        let body = form(&[("csrf_token", &browser.csrf), ("grant", id)]);
        let r = timed(
            &mut conn,
            &mut revokes,
            Method::POST,
            "/account/revoke",
            Some(body),
            &[(COOKIE, &browser.cookie)],
        )
        .await?;
        if r.status == 303 {
            revokes.ops += 1;
        } else {
            revokes.errors += 1;
            if revokes.first_errors.len() < 3 {
                revokes.first_errors.push(bad("revoke", &r));
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_between(before, ctx.server.sample());
    let row = Row {
        scenario: "account revoke (one device)".into(),
        ops_per_sec: (revokes.ops as f64 / elapsed).round(),
        requests_per_sec: (revokes.requests as f64 / elapsed).round(),
        p50_ms: ms(revokes.req.quantile(0.5)),
        p99_ms: ms(revokes.req.quantile(0.99)),
        max_ms: ms(revokes.req.max()),
        op_p50_ms: ms(revokes.req.quantile(0.5)),
        op_p99_ms: ms(revokes.req.quantile(0.99)),
        operations: revokes.ops,
        errors: revokes.errors,
        server_cpu_cores: (cpu / elapsed * 100.0).round() / 100.0,
        server_cpu_us_per_op: (cpu * 1e6 / revokes.ops.max(1) as f64).round(),
        pg_cpu_cores: None,
        pg_cpu_us_per_op: None,
        client_cpu_us_per_op: f64::NAN,
        server_rss_mib: ctx
            .server
            .sample()
            .map(|s| mib(s.rss_kib))
            .unwrap_or(f64::NAN),
        server_peak_rss_mib: ctx
            .server
            .sample()
            .map(|s| mib(s.hwm_kib))
            .unwrap_or(f64::NAN),
        note: format!(
            "{} revocations, one connection, one at a time, {} grants of other users{}",
            ids.len(),
            a.seed_grants,
            if revokes.first_errors.is_empty() {
                String::new()
            } else {
                format!("; errors e.g. {:?}", revokes.first_errors)
            }
        ),
    };
    eprintln!(
        "  account revoke: p50 {} ms, p99 {} ms, errors {}",
        row.p50_ms, row.p99_ms, row.errors
    );
    Ok((page, row))
}

/// The grant ids of the revoke forms on an account page (not the `all` one).
fn grant_ids(body: &[u8]) -> Vec<String> {
    const MARK: &str = r#"name="grant" value=""#;
    let html = String::from_utf8_lossy(body);
    html.match_indices(MARK)
        .filter_map(|(at, _)| {
            let rest = &html[at + MARK.len()..];
            let id = &rest[..rest.find('"')?];
            (id != "all").then(|| id.to_string())
        })
        .collect()
}

fn print_table(r: &Report) {
    println!(
        "machine: {}; load average before: {}; {} connections, {} s each, {} client thread(s); \
         {}, {} instance(s)",
        r.machine,
        r.load_before,
        r.connections,
        r.duration_secs,
        r.client_threads,
        r.backend,
        r.instances
    );
    println!();
    println!(
        "| scenario | ops/s | req/s | p50 ms | p99 ms | op p99 ms | errors | server CPU (cores) | CPU µs/op | PG CPU (cores) | PG CPU µs/op | client CPU µs/op | peak RSS MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let opt = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |v| v.to_string());
    for row in &r.rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.scenario,
            row.ops_per_sec,
            row.requests_per_sec,
            row.p50_ms,
            row.p99_ms,
            row.op_p99_ms,
            row.errors,
            row.server_cpu_cores,
            row.server_cpu_us_per_op,
            opt(row.pg_cpu_cores),
            opt(row.pg_cpu_us_per_op),
            row.client_cpu_us_per_op,
            row.server_peak_rss_mib
        );
    }
    println!();
    if let Some(v) = r.idle_rss_mib {
        println!("idle RSS: {v} MiB");
    }
    if let Some(v) = r.rss_with_codes_mib {
        println!("RSS with {} live device codes: {v} MiB", r.live_codes);
    }
    if let Some(b) = r.server_binary_bytes {
        println!(
            "server binary: {:.1} MB ({b} bytes)",
            b as f64 / 1_000_000.0
        );
    }
    for row in &r.rows {
        if !row.note.is_empty() {
            println!("{}: {}", row.scenario, row.note);
        }
    }
}
