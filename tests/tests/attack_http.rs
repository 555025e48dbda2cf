//! Adversarial tests of the HTTP layer (issue 11, items 4, 5, 8, 10, 13 and 14):
//! bounded form and query parsing, the body deadline, connection caps, `next`
//! redirects, trusted proxies, cookie names and HSTS, and protocol details
//! (bare Bearer challenge, empty Basic secret, `scopes_supported`, `HEAD`).
//!
//! Everything talks to the real binary over loopback only (127.0.0.1 and, as a
//! second client address, 127.0.0.2, which is loopback on Linux). Addresses such as
//! 198.51.100.7 appear only inside headers.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use authgate_tests::ops::{browser_with_client, spawn};
use authgate_tests::{
    ADMIN_PASSWORD, ADMIN_USER, DEFAULT_CLIENT, DataDir, Reply, TestServer, csrf_token,
    form_encode, hidden_value, paths,
};

// ---------------------------------------------------------------- helpers

/// The server's socket address, from its base URL.
fn addr(server: &TestServer) -> SocketAddr {
    server
        .base_url()
        .strip_prefix("http://")
        .expect("http base URL")
        .parse()
        .expect("socket address")
}

/// A TCP connection to `to` from the loopback address `from` (any port).
fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).expect("socket");
    s.bind(&SocketAddr::V4(SocketAddrV4::new(from, 0)).into())
        .expect("bind a loopback source address");
    s.connect_timeout(&to.into(), Duration::from_secs(2))
        .expect("connect");
    s.into()
}

/// Sends `GET /health` on `stream` and reads until the server closes or 2 s pass;
/// returns what came back (empty if the connection was closed or reset).
fn health_over(mut stream: TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let _ = stream.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// `POST /oauth/device/code` for the default client with extra headers.
fn device_auth_with(server: &TestServer, headers: &[(&str, &str)]) -> Reply {
    server.raw(
        "POST",
        paths::DEVICE_AUTHORIZATION,
        Some("application/x-www-form-urlencoded"),
        format!("client_id={DEFAULT_CLIENT}").into_bytes(),
        headers,
    )
}

fn device_auth_body(server: &TestServer, body: String) -> Reply {
    server.raw(
        "POST",
        paths::DEVICE_AUTHORIZATION,
        Some("application/x-www-form-urlencoded"),
        body.into_bytes(),
        &[],
    )
}

/// All `Set-Cookie` values of a reply.
fn set_cookies(r: &Reply) -> Vec<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

/// Whether `v` has the shape of the CSRF seed the server issues: 43 base64url chars.
fn is_seed(v: &str) -> bool {
    v.len() == 43
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

// ---------------------------------------------------------------- item 4

/// A form with more than 64 parameters is refused with `invalid_request` instead of
/// being parsed (the old parser rescanned every earlier name for each new one:
/// quadratic). At exactly 64 it still works. Before the fix the 65-parameter
/// request got 200 (unknown parameters are ignored).
#[test]
fn forms_with_too_many_parameters_are_refused() {
    let server = TestServer::start();
    let extras = |n: usize| -> String { (0..n).map(|i| format!("&{i}")).collect() };
    // client_id + 63 extras = 64 parameters: fine.
    let ok = device_auth_body(&server, format!("client_id={DEFAULT_CLIENT}{}", extras(63)));
    ok.assert_status(200);
    let over = device_auth_body(&server, format!("client_id={DEFAULT_CLIENT}{}", extras(64)));
    over.assert_error(400, "invalid_request");
    // Well over a thousand names (as many as fit the 8 KiB body limit): refused fast.
    let body = format!("client_id={DEFAULT_CLIENT}{}", extras(1500));
    assert!(body.len() < 8192, "{}", body.len());
    let started = Instant::now();
    let flood = device_auth_body(&server, body);
    flood.assert_error(400, "invalid_request");
    assert!(
        flood.text().contains("more than 64 parameters"),
        "{}",
        flood.text()
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// `scope` with more than 32 values is refused with `invalid_scope` before any is
/// compared (the old split deduplicated by rescanning: quadratic). Before the fix
/// 1000 repeats of `read` were accepted as `read`.
#[test]
fn scope_lists_are_capped() {
    let server = TestServer::start();
    let many = vec!["read"; 1000].join("+");
    device_auth_body(&server, format!("client_id={DEFAULT_CLIENT}&scope={many}"))
        .assert_error(400, "invalid_scope");
    let fine = vec!["read"; 32].join("+");
    let r = device_auth_body(&server, format!("client_id={DEFAULT_CLIENT}&scope={fine}"));
    r.assert_status(200);
}

/// A 60 KB query string on `GET /login` is refused with 414 before it is parsed;
/// one of 2 KiB still works. Before the fix it was parsed (250 ms of CPU in
/// release on an async worker) and answered 200.
#[test]
fn huge_query_strings_are_refused() {
    let server = TestServer::start();
    let query: String = (0..8000).map(|i| format!("a{i}=1&")).collect();
    assert!(query.len() > 50_000);
    let started = Instant::now();
    let r = server.get(&format!("/login?{query}"));
    assert_eq!(r.status, 414, "{}", r.text());
    assert!(r.text().contains("longer than 2048"), "{}", r.text());
    assert!(started.elapsed() < Duration::from_secs(2));
    // The limit is on the query, exactly 2048 bytes pass.
    let pad = "x".repeat(2048 - "next=/device&pad=".len());
    server
        .get(&format!("/login?next=/device&pad={pad}"))
        .assert_status(200);
    server
        .get(&format!("/login?next=/device&pad={pad}x"))
        .assert_status(414);
    // OAuth paths answer in JSON.
    let r = server.get(&format!("{}?{query}", paths::METADATA));
    r.assert_error(414, "invalid_request");
}

// ---------------------------------------------------------------- item 5

/// A body dripped one byte at a time is cut off at the body deadline with 408
/// and the connection closed. Before the fix only headers had a deadline and the
/// connection stayed open indefinitely (and `--body-timeout` did not exist).
#[test]
fn slow_bodies_hit_the_deadline() {
    let server = TestServer::start_with(&["--body-timeout", "2s"], &[]);
    let mut s = TcpStream::connect(addr(&server)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(250)))
        .unwrap();
    s.write_all(
        format!(
            "POST {} HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: 100\r\n\r\n",
            paths::DEVICE_AUTHORIZATION
        )
        .as_bytes(),
    )
    .unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(6) {
        // One byte every 250 ms (the server may already have closed: ignore errors).
        let _ = s.write_all(b"a");
        let mut buf = [0u8; 1024];
        match s.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 408"),
        "no 408 within {elapsed:?}: {text:?}"
    );
    assert!(closed, "the connection stayed open after the 408");
    assert!(
        elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_secs(5),
        "cut off after {elapsed:?}, want about 2 s"
    );
}

/// Over the per-address cap a new connection is closed at once, while another
/// address still gets in; closing one connection frees its place. Before the fix
/// nothing capped connections (and the flags did not exist).
#[test]
fn connections_are_capped_per_address() {
    let server = TestServer::start_with(&["--max-connections-per-ip", "4"], &[]);
    let to = addr(&server);
    let local = Ipv4Addr::new(127, 0, 0, 1);
    let mut held: Vec<TcpStream> = (0..4).map(|_| connect_from(local, to)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let refused = health_over(connect_from(local, to));
    assert!(
        !refused.contains("200 OK"),
        "a fifth connection from 127.0.0.1 was served: {refused:?}"
    );
    let other = health_over(connect_from(Ipv4Addr::new(127, 0, 0, 2), to));
    assert!(
        other.starts_with("HTTP/1.1 200"),
        "127.0.0.2 was refused: {other:?}"
    );
    // Closing one of the four frees a place for 127.0.0.1.
    drop(held.pop());
    let mut served = false;
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(100));
        if health_over(connect_from(local, to)).starts_with("HTTP/1.1 200") {
            served = true;
            break;
        }
    }
    assert!(served, "the freed place was not given back");
}

/// Over the global cap every new connection is closed, whatever its address.
#[test]
fn connections_are_capped_globally() {
    let server = TestServer::start_with(
        &["--max-connections", "3", "--max-connections-per-ip", "0"],
        &[],
    );
    let to = addr(&server);
    let _held: Vec<TcpStream> = (0..3)
        .map(|_| connect_from(Ipv4Addr::new(127, 0, 0, 1), to))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let refused = health_over(connect_from(Ipv4Addr::new(127, 0, 0, 2), to));
    assert!(
        !refused.contains("200 OK"),
        "a fourth connection was served: {refused:?}"
    );
}

// ---------------------------------------------------------------- item 8

/// Hostile `next` values: each as a query value on `GET /login` (signed out: the
/// form's hidden field; signed in: the redirect) and as the login form's field.
const HOSTILE_NEXT: &[&str] = &[
    "/\t/evil.example/x",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil",
    "https://evil.example",
    "/%2F%2Fevil.example",
    "/%2fevil.example",
    "/%5Cevil",
    "/%09/evil.example",
    "/x\r\nLocation: https://evil.example",
    "/\rx",
    "/\nx",
    "javascript:alert(1)",
    " /x",
    "/\x7f",
    "evil.example",
];

/// The rule every followed `next` must pass: a same-origin path.
#[track_caller]
fn assert_local(what: &str, v: &str) {
    assert!(
        v.starts_with('/')
            && !v.starts_with("//")
            && !v.contains('\\')
            && !v.bytes().any(|b| b < 0x20 || b == 0x7f)
            && !v.to_ascii_lowercase().starts_with("/%2f")
            && !v.to_ascii_lowercase().starts_with("/%5c"),
        "{what}: {v:?} is not a local path"
    );
}

/// Before the fix `next=/%09/evil.example/x` was followed as `/\t/evil.example/x`,
/// which browsers resolve to `https://evil.example/x`.
#[test]
fn next_never_leaves_the_site() {
    let server = TestServer::start();
    let mut anon = server.browser();
    let mut signed_in = server.browser();
    signed_in.login(ADMIN_USER, ADMIN_PASSWORD);
    let extra = ["%2F%09%2Fevil.example", "%2F%252F%252Fevil.example"];
    let encoded: Vec<String> = HOSTILE_NEXT
        .iter()
        .map(|v| form_encode(v))
        .chain(extra.iter().map(|s| s.to_string()))
        .collect();
    for enc in &encoded {
        let page = anon.get(&format!("/login?next={enc}"));
        page.assert_status(200);
        let hidden = hidden_value(&page.text(), "next").expect("hidden next");
        assert_local(&format!("hidden next for {enc}"), &hidden);
        let r = signed_in.get(&format!("/login?next={enc}"));
        assert_eq!(r.status, 303, "{enc}: {}", r.text());
        assert_local(
            &format!("redirect for {enc}"),
            &r.header("location").unwrap(),
        );
    }
    // A successful login POST with each hostile value (raw in the form).
    for next in HOSTILE_NEXT.iter().take(8) {
        let mut b = server.browser();
        let csrf = b.csrf_of("/login");
        let r = b.post_form(
            "/login",
            &[
                ("username", ADMIN_USER),
                ("password", ADMIN_PASSWORD),
                ("csrf_token", &csrf),
                ("next", next),
            ],
        );
        assert_eq!(r.status, 303, "{next:?}: {}", r.text());
        assert_local(
            &format!("login POST {next:?}"),
            &r.header("location").unwrap(),
        );
    }
    let mut b = server.browser();
    let csrf = b.csrf_of("/login");
    let r = b.post_form(
        "/login",
        &[
            ("username", ADMIN_USER),
            ("password", ADMIN_PASSWORD),
            ("csrf_token", &csrf),
            ("next", "/%09/evil.example/x"),
        ],
    );
    assert_eq!(r.header("location").as_deref(), Some("/account"));
}

/// A legitimate `next` survives the trip: signed-out `/device?user_code=…` →
/// `/login?next=…` → the form's hidden field → back to `/device?user_code=…`.
#[test]
fn next_round_trips_a_device_link() {
    let server = TestServer::start();
    let mut b = server.browser();
    let r = b.get("/device?user_code=ABCD-EFGH");
    assert_eq!(r.status, 303, "{}", r.text());
    let to_login = r.header("location").unwrap();
    assert!(to_login.starts_with("/login?next="), "{to_login}");
    let page = b.get(&to_login);
    let html = page.text();
    let next = hidden_value(&html, "next").unwrap();
    assert_eq!(next, "/device?user_code=ABCD-EFGH");
    let csrf = csrf_token(&html).unwrap();
    let r = b.post_form(
        "/login",
        &[
            ("username", ADMIN_USER),
            ("password", ADMIN_PASSWORD),
            ("csrf_token", &csrf),
            ("next", &next),
        ],
    );
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/device?user_code=ABCD-EFGH")
    );
}

// ---------------------------------------------------------------- item 10

/// Behind a trusted proxy (here: the loopback peer) the forwarded address is the
/// client: one forwarded address trips the per-IP device-authorization limit while
/// another still passes; the audit log records the forwarded address. Before the
/// fix `--trusted-proxies` did not exist.
#[test]
fn trusted_proxy_forwards_the_client_address() {
    let mut server = TestServer::start_with(
        &[
            "--trusted-proxies",
            "127.0.0.1/32",
            "--device-auth-rate-per-ip",
            "3",
        ],
        &[],
    );
    let xff = |ip: &'static str| [("x-forwarded-for", ip)];
    for _ in 0..3 {
        device_auth_with(&server, &xff("198.51.100.7")).assert_status(200);
    }
    let r = device_auth_with(&server, &xff("198.51.100.7"));
    assert_eq!(r.status, 429, "{}", r.text());
    // Another client behind the same proxy is not affected.
    device_auth_with(&server, &xff("198.51.100.8")).assert_status(200);
    // Right-most untrusted hop: a client-written left part can't pick the key.
    let r = device_auth_with(&server, &[("x-forwarded-for", "203.0.113.1, 198.51.100.7")]);
    assert_eq!(r.status, 429, "{}", r.text());
    // RFC 7239 `Forwarded` is read too.
    device_auth_with(&server, &[("forwarded", "for=\"198.51.100.9:4711\"")]).assert_status(200);

    // Throttles and audit see the same address: a failed login is logged under it.
    let mut b = server.browser();
    let csrf = b.csrf_of("/login");
    let r = server.raw(
        "POST",
        "/login",
        Some("application/x-www-form-urlencoded"),
        format!("username={ADMIN_USER}&password=wrong&csrf_token={csrf}&next=%2Fdevice")
            .into_bytes(),
        &[
            ("x-forwarded-for", "198.51.100.44"),
            (
                "cookie",
                &format!("authgate_csrf={}", b.cookies()["authgate_csrf"]),
            ),
        ],
    );
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(server.stop());
    let audit = server.run_admin(&["audit"]);
    assert!(audit.stdout.contains("198.51.100.44"), "{audit:?}");
}

/// With no trusted proxies (the default), `X-Forwarded-For` is ignored: spoofed
/// distinct values don't escape the per-IP limit.
#[test]
fn forwarded_headers_are_ignored_by_default() {
    let server = TestServer::start_with(&["--device-auth-rate-per-ip", "3"], &[]);
    for i in 1..=3 {
        let ip = format!("198.51.100.{i}");
        device_auth_with(&server, &[("x-forwarded-for", &ip)]).assert_status(200);
    }
    let r = device_auth_with(&server, &[("x-forwarded-for", "198.51.100.99")]);
    assert_eq!(r.status, 429, "{}", r.text());
    let r = device_auth_with(&server, &[("forwarded", "for=198.51.100.98")]);
    assert_eq!(r.status, 429, "{}", r.text());
}

/// A trusted network that does not contain our peer: headers are still ignored.
#[test]
fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    let server = TestServer::start_with(
        &[
            "--trusted-proxies",
            "10.0.0.0/8",
            "--device-auth-rate-per-ip",
            "3",
        ],
        &[],
    );
    for i in 1..=3 {
        let ip = format!("198.51.100.{i}");
        device_auth_with(&server, &[("x-forwarded-for", &ip)]).assert_status(200);
    }
    let r = device_auth_with(&server, &[("x-forwarded-for", "198.51.100.99")]);
    assert_eq!(r.status, 429, "{}", r.text());
}

// ---------------------------------------------------------------- item 13

/// Writes a self-signed certificate for 127.0.0.1; returns its PEM.
fn self_signed(cert: &Path, key: &Path) -> String {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    std::fs::write(cert, ck.cert.pem()).unwrap();
    std::fs::write(key, ck.signing_key.serialize_pem()).unwrap();
    ck.cert.pem()
}

/// Under https: `__Host-` cookie names with `Secure`, `Path=/` and no `Domain`, and
/// HSTS on every response. Before the fix the names were plain and no HSTS was sent.
#[test]
fn https_cookies_are_host_prefixed_and_hsts_is_sent() {
    let dir = DataDir::new();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let pem = self_signed(&cert, &key);
    let data = dir.path().join("data");
    let mut server = spawn(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    )
    .expect("starts with TLS");
    let client = reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let base = server.url.clone();
    for path in ["/health", "/login", paths::METADATA, "/nowhere"] {
        let r = client.get(format!("{base}{path}")).send().unwrap();
        assert_eq!(
            r.headers()
                .get("strict-transport-security")
                .map(|v| v.to_str().unwrap()),
            Some("max-age=31536000"),
            "{path}"
        );
    }
    let mut browser = browser_with_client(&base, client);
    let login = browser.try_login(ADMIN_USER, ADMIN_PASSWORD);
    assert_eq!(login.status, 303, "{}", login.text());
    let cookies = set_cookies(&login);
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Host-authgate_session=")),
        "{cookies:?}"
    );
    assert!(
        browser.cookies().contains_key("__Host-authgate_csrf"),
        "{:?}",
        browser.cookies()
    );
    for c in &cookies {
        assert!(c.starts_with("__Host-"), "{c}");
        assert!(c.contains("; Secure") && c.contains("Path=/"), "{c}");
        assert!(!c.to_ascii_lowercase().contains("domain="), "{c}");
    }
    // The prefixed session works: the account page is served.
    assert_eq!(browser.get("/account").status, 200);
    server.signal("TERM");
    assert!(server.wait(Duration::from_secs(20)).success());
}

/// Without TLS the names stay plain and no HSTS is sent.
#[test]
fn plain_http_has_plain_cookie_names_and_no_hsts() {
    let server = TestServer::start();
    let r = server.get("/login");
    assert!(r.header("strict-transport-security").is_none());
    let cookies = set_cookies(&r);
    assert!(
        cookies.iter().any(|c| c.starts_with("authgate_csrf=")),
        "{cookies:?}"
    );
    assert!(cookies.iter().all(|c| !c.contains("Secure")), "{cookies:?}");
}

/// A CSRF seed cookie not in the server's own format (43 base64url characters) is
/// treated as absent: a fresh seed is issued and a form posted with the odd one is
/// refused. Before the fix any 43-character value was accepted and used.
#[test]
fn malformed_csrf_seeds_are_replaced() {
    let server = TestServer::start();
    for bad in ["!".repeat(43), "a".repeat(5000), "é".repeat(21) + "a"] {
        let mut b = server.browser();
        b.set_cookie("authgate_csrf", &bad);
        let page = b.get("/login");
        page.assert_status(200);
        let fresh = set_cookies(&page)
            .into_iter()
            .find_map(|c| {
                c.strip_prefix("authgate_csrf=")
                    .map(|v| v.split(';').next().unwrap_or("").to_owned())
            })
            .unwrap_or_else(|| panic!("no new seed for a {}-byte cookie", bad.len()));
        assert!(is_seed(&fresh), "{fresh}");
        // The token on that page is bound to the new seed, not the odd one: sent
        // with the odd cookie, the form is refused.
        let csrf = csrf_token(&page.text()).unwrap();
        let r = server.raw(
            "POST",
            "/login",
            Some("application/x-www-form-urlencoded"),
            format!(
                "username={ADMIN_USER}&password={}&csrf_token={csrf}",
                form_encode(ADMIN_PASSWORD)
            )
            .into_bytes(),
            &[("cookie", &format!("authgate_csrf={bad}"))],
        );
        assert_eq!(r.status, 403, "{}: {}", bad.len(), r.text());
    }
}

// ---------------------------------------------------------------- item 14

/// `tokeninfo` without credentials: 401 with a bare Bearer challenge, no `error`
/// (RFC 6750 §3.1); with a bad token, `error="invalid_token"`. Before the fix
/// both carried `error="invalid_token"`.
#[test]
fn tokeninfo_challenges_without_an_error_when_no_token_is_sent() {
    let server = TestServer::start();
    let r = server.get(paths::TOKENINFO);
    assert_eq!(r.status, 401);
    let challenge = r.header("www-authenticate").unwrap();
    assert!(challenge.starts_with("Bearer realm="), "{challenge}");
    assert!(!challenge.contains("error"), "{challenge}");
    assert!(r.error().is_none(), "{}", r.text());
    let r = server.get_bearer(paths::TOKENINFO, "v4.public.bogus");
    assert_eq!(r.status, 401);
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
}

/// A public client sending `Authorization: Basic base64(client_id:)` (empty
/// password) is that public client. Before the fix: 401 invalid_client.
#[test]
fn public_client_may_use_basic_with_an_empty_secret() {
    let server = TestServer::start();
    let r = server.post_form_basic(paths::DEVICE_AUTHORIZATION, &[], Some((DEFAULT_CLIENT, "")));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["device_code"].is_string());
    // A non-empty secret for a public client is still refused.
    let r = server.post_form_basic(
        paths::DEVICE_AUTHORIZATION,
        &[],
        Some((DEFAULT_CLIENT, "guess")),
    );
    r.assert_error(401, "invalid_client");
}

/// `scopes_supported` lists what enabled clients may be granted, including scopes
/// an admin configured; before the fix it was a fixed built-in list.
#[test]
fn scopes_supported_follows_the_clients() {
    let dir = DataDir::new();
    dir.add_public_client("sensor", "Sensor", "read telemetry:upload");
    let server = TestServer::start_in(dir, &[], &[]);
    let meta = server.get(paths::METADATA).json();
    let scopes: Vec<&str> = meta["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(scopes.contains(&"telemetry:upload"), "{scopes:?}");
    assert!(scopes.contains(&"read"), "{scopes:?}");
    let mut sorted = scopes.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, scopes, "sorted and without repeats");
}

/// `HEAD` answers wherever `GET` does, with the same status and headers and no
/// body; `Allow` lists it. Before the fix `HEAD` got 405.
#[test]
fn head_works_wherever_get_does() {
    let server = TestServer::start();
    for path in [
        "/health",
        paths::METADATA,
        paths::KEYS,
        "/login",
        "/device",
        "/assets/style.css",
        "/",
    ] {
        let get = server.get(path);
        let head = server.raw("HEAD", path, None, vec![], &[]);
        assert_eq!(head.status, get.status, "{path}");
        assert!(head.body.is_empty(), "{path}");
        for h in ["content-type", "cache-control", "x-content-type-options"] {
            assert_eq!(head.header(h), get.header(h), "{path}: {h}");
        }
        if let Some(len) = head.header("content-length") {
            // Pages embed a fresh CSRF token, so compare lengths only where fixed.
            if !matches!(path, "/login" | "/device") {
                assert_eq!(len, get.body.len().to_string(), "{path}");
            }
        }
    }
    let r = server.raw("PUT", "/health", None, vec![], &[]);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow").as_deref(), Some("GET, HEAD"));
    let r = server.raw("PUT", "/login", None, vec![], &[]);
    assert_eq!(r.header("allow").as_deref(), Some("GET, HEAD, POST"));
    // HEAD on a POST-only endpoint is still 405.
    let r = server.raw("HEAD", paths::TOKEN, None, vec![], &[]);
    assert_eq!(r.status, 405);
}

/// Path of the `authgate-login` binary (built with the workspace's binaries).
fn login_bin() -> std::path::PathBuf {
    let path = if let Some(p) = std::env::var_os("AUTHGATE_LOGIN_BIN") {
        std::path::PathBuf::from(p)
    } else if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        std::path::PathBuf::from(t)
            .join("debug")
            .join("authgate-login")
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/authgate-login")
    };
    assert!(
        path.is_file(),
        "authgate-login is missing at {}; build it: `cargo build -p authgate-login`",
        path.display()
    );
    path
}

/// The device client refuses metadata whose `issuer` is not the server it asked
/// (RFC 8414 §3.3) instead of following the endpoints it names. The server here
/// claims issuer `http://127.0.0.1:1` (loopback, nothing listens) while the CLI
/// asks `http://127.0.0.1:PORT`. Before the fix the CLI went on to use the named
/// endpoints (and kept retrying the dead port).
#[test]
fn device_client_checks_the_metadata_issuer() {
    let server = TestServer::start_with(&["--base-url", "http://127.0.0.1:1"], &[]);
    let asked = format!("http://{}", addr(&server));
    let config = DataDir::new();
    let mut cmd = std::process::Command::new(login_bin());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AUTHGATE_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .env("AUTHGATE_LOGIN_CONFIG_DIR", config.path())
        .args(["login", "--server", &asked])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run authgate-login");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    let status = status.unwrap_or_else(|| panic!("authgate-login kept going: {stderr}"));
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("issuer") && stderr.contains("http://127.0.0.1:1"),
        "{stderr}"
    );
}
