//! Malformed and hostile requests, table-driven: every one gets the right status and
//! OAuth `error` code, none gets a 500, and the server stays healthy.

use authgate_tests::{
    ADMIN_PASSWORD, ADMIN_USER, Browser, DEFAULT_CLIENT, DataDir, Reply, TestServer, csrf_token,
    form_encode, input_value, params::GRANT_TYPE_DEVICE_CODE as URN, paths,
};

const FORM: &str = "application/x-www-form-urlencoded";
const RS_ID: &str = "resource-server";
const OTHER: &str = "other-device";

struct Case {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    /// Acceptable (status, error) answers; `None` error = no particular error required.
    expect: Vec<(u16, Option<&'static str>)>,
    /// `WWW-Authenticate` must be present and start with this.
    www_authenticate: Option<&'static str>,
    /// `Allow` must be present and name this method.
    allow: Option<&'static str>,
}

fn case(name: &'static str, path: &'static str, body: impl Into<Vec<u8>>) -> Case {
    Case {
        name,
        method: "POST",
        path,
        content_type: Some(FORM),
        body: body.into(),
        headers: vec![],
        expect: vec![],
        www_authenticate: None,
        allow: None,
    }
}

impl Case {
    fn expect(mut self, status: u16, error: &'static str) -> Self {
        self.expect.push((status, Some(error)));
        self
    }
    fn expect_status(mut self, status: u16) -> Self {
        self.expect.push((status, None));
        self
    }
    fn content_type(mut self, ct: Option<&'static str>) -> Self {
        self.content_type = ct;
        self
    }
    fn method(mut self, m: &'static str) -> Self {
        self.method = m;
        self
    }
    fn header(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.headers.push((k, v.into()));
        self
    }
    fn basic(self, id: &str, secret: &str) -> Self {
        let raw = format!("{}:{}", form_encode(id), form_encode(secret));
        self.header("authorization", format!("Basic {}", b64(raw.as_bytes())))
    }
    fn www_authenticate(mut self, prefix: &'static str) -> Self {
        self.www_authenticate = Some(prefix);
        self
    }
    fn allow(mut self, m: &'static str) -> Self {
        self.allow = Some(m);
        self
    }
}

fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().fold(0u32, |a, &b| (a << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn check(server: &TestServer, c: &Case) -> Result<(), String> {
    let headers: Vec<(&str, &str)> = c.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // No retry: the server drains an oversized body (up to 256 KiB) before its 413,
    // so the client always sees the answer rather than a reset (RFC 9112 §9.6).
    let r = server
        .try_raw(c.method, c.path, c.content_type, c.body.clone(), &headers)
        .map_err(|e| format!("transport error: {e}"))?;
    let err = r.error();
    let shown = format!(
        "{} {} -> {} {:?} body {:?}",
        c.method,
        c.path,
        r.status,
        err,
        r.text().chars().take(300).collect::<String>()
    );
    if r.status >= 500 {
        return Err(format!("server error: {shown}"));
    }
    let ok = c.expect.iter().any(|(status, error)| {
        r.status == *status && error.is_none_or(|e| err.as_deref() == Some(e))
    });
    if !ok {
        return Err(format!("expected one of {:?}, got {shown}", c.expect));
    }
    // A JSON error body always names its error.
    let is_json = r
        .header("content-type")
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json && r.status >= 400 && err.is_none() && c.path != paths::TOKENINFO {
        return Err(format!("JSON error body without `error`: {shown}"));
    }
    if let Some(prefix) = c.www_authenticate {
        let h = r.header("www-authenticate").unwrap_or_default();
        if !h.starts_with(prefix) {
            return Err(format!(
                "WWW-Authenticate {h:?} should start with {prefix:?}: {shown}"
            ));
        }
    }
    if let Some(m) = c.allow {
        let h = r.header("allow").unwrap_or_default();
        if !h.split(',').any(|x| x.trim().eq_ignore_ascii_case(m)) {
            return Err(format!(
                "405 must carry Allow naming {m} (RFC 9110 §15.5.6), got {h:?}: {shown}"
            ));
        }
    }
    Ok(())
}

fn assert_healthy(server: &TestServer) {
    let h = server.get("/health");
    h.assert_status(200);
    assert_eq!(h.json()["status"], "ok");
}

#[test]
fn malformed_api_requests() {
    let dir = DataDir::new();
    let secret = dir.add_confidential_client(RS_ID, "Resource server", "read write");
    dir.add_public_client(OTHER, "Other device", "read");
    let server = TestServer::start_in(dir, &[], &[]);
    let dc = server.device_code(Some("read")).device_code;
    let tokens = server.obtain_tokens(Some("read"));
    let rt = tokens.refresh().to_owned();
    let cli = DEFAULT_CLIENT;
    let t = paths::TOKEN;
    let d = paths::DEVICE_AUTHORIZATION;
    let i = paths::INTROSPECTION;
    let rv = paths::REVOCATION;
    let f = |s: String| s.into_bytes();

    let big = format!(
        "grant_type={URN}&client_id={cli}&device_code={}",
        "A".repeat(64 * 1024)
    );
    let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\n\
        urn:ietf:params:oauth:grant-type:device_code\r\n--XyZ\r\n\
        Content-Disposition: form-data; name=\"client_id\"\r\n\r\nauthgate-cli\r\n--XyZ--\r\n";

    let cases = vec![
        // --- token endpoint: missing / repeated parameters
        case(
            "token: missing grant_type",
            t,
            f(format!("client_id={cli}&device_code={dc}")),
        )
        .expect(400, "invalid_request"),
        case(
            "token: repeated grant_type",
            t,
            f(format!(
                "grant_type={URN}&grant_type={URN}&device_code={dc}&client_id={cli}"
            )),
        )
        .expect(400, "invalid_request"),
        case(
            "token: repeated device_code",
            t,
            f(format!(
                "grant_type={URN}&device_code={dc}&device_code={dc}&client_id={cli}"
            )),
        )
        .expect(400, "invalid_request"),
        case(
            "token: repeated client_id",
            t,
            f(format!(
                "grant_type={URN}&device_code={dc}&client_id={cli}&client_id={cli}"
            )),
        )
        .expect(400, "invalid_request"),
        case(
            "token: missing device_code",
            t,
            f(format!("grant_type={URN}&client_id={cli}")),
        )
        .expect(400, "invalid_request"),
        case(
            "token: empty device_code",
            t,
            f(format!("grant_type={URN}&device_code=&client_id={cli}")),
        )
        .expect(400, "invalid_request")
        .expect(400, "invalid_grant"),
        case(
            "token: missing refresh_token",
            t,
            f(format!("grant_type=refresh_token&client_id={cli}")),
        )
        .expect(400, "invalid_request"),
        case(
            "token: empty grant_type",
            t,
            f(format!("grant_type=&client_id={cli}")),
        )
        .expect(400, "invalid_request")
        .expect(400, "unsupported_grant_type"),
        case("token: garbage form", t, "&&&===&=&").expect(400, "invalid_request"),
        // --- token endpoint: content types and encodings
        case(
            "token: JSON body",
            t,
            f(format!(
                r#"{{"grant_type":"{URN}","device_code":"{dc}","client_id":"{cli}"}}"#
            )),
        )
        .content_type(Some("application/json"))
        .expect(400, "invalid_request")
        .expect(415, "invalid_request"),
        case("token: multipart body", t, multipart)
            .content_type(Some("multipart/form-data; boundary=XyZ"))
            .expect(400, "invalid_request")
            .expect(415, "invalid_request"),
        case(
            "token: no content type",
            t,
            f(format!("grant_type={URN}&device_code={dc}&client_id={cli}")),
        )
        .content_type(None)
        .expect(400, "invalid_request")
        .expect(415, "invalid_request"),
        case(
            "token: text/plain",
            t,
            f(format!("grant_type={URN}&device_code={dc}&client_id={cli}")),
        )
        .content_type(Some("text/plain"))
        .expect(400, "invalid_request")
        .expect(415, "invalid_request"),
        case("token: oversized body (64 KiB)", t, big)
            .expect_status(413)
            .expect(400, "invalid_request"),
        case(
            "token: non-UTF-8 body",
            t,
            b"grant_type=\xff\xfe\xfd&client_id=authgate-cli".to_vec(),
        )
        .expect(400, "invalid_request"),
        case(
            "token: percent-encoded invalid UTF-8",
            t,
            f(format!(
                "grant_type={URN}&device_code=%FF%FE%FD&client_id={cli}"
            )),
        )
        .expect(400, "invalid_request"),
        case(
            "token: charset parameter is fine",
            t,
            f(format!(
                "grant_type={URN}&device_code=nonsense&client_id={cli}"
            )),
        )
        .content_type(Some("application/x-www-form-urlencoded; charset=UTF-8"))
        .expect(400, "invalid_grant"),
        // --- token endpoint: grants, clients, codes
        case(
            "token: unknown grant_type",
            t,
            f(format!("grant_type=urn:example:nope&client_id={cli}")),
        )
        .expect(400, "unsupported_grant_type"),
        case(
            "token: password grant",
            t,
            f(format!(
                "grant_type=password&username=admin&password=x&client_id={cli}"
            )),
        )
        .expect(400, "unsupported_grant_type")
        .expect(400, "unauthorized_client"),
        case(
            "token: unknown client",
            t,
            f(format!(
                "grant_type={URN}&device_code={dc}&client_id=no-such-client"
            )),
        )
        .expect(401, "invalid_client"),
        case(
            "token: wrong client secret (basic)",
            t,
            f(format!("grant_type=refresh_token&refresh_token={rt}")),
        )
        .basic(RS_ID, "wrong-secret")
        .expect(401, "invalid_client")
        .www_authenticate("Basic"),
        case(
            "token: bogus device_code",
            t,
            f(format!(
                "grant_type={URN}&device_code=nonsense&client_id={cli}"
            )),
        )
        .expect(400, "invalid_grant"),
        case(
            "token: 4 KiB device_code",
            t,
            f(format!(
                "grant_type={URN}&device_code={}&client_id={cli}",
                "Z".repeat(4096)
            )),
        )
        .expect(400, "invalid_grant")
        .expect(400, "invalid_request"),
        case(
            "token: bad refresh token",
            t,
            f(format!(
                "grant_type=refresh_token&refresh_token=bogus-refresh&client_id={cli}"
            )),
        )
        .expect(400, "invalid_grant"),
        case(
            "token: refresh token of another client",
            t,
            f(format!(
                "grant_type=refresh_token&refresh_token={rt}&client_id={OTHER}"
            )),
        )
        .expect(400, "invalid_grant"),
        // --- methods and paths
        case("token: GET", t, "")
            .method("GET")
            .content_type(None)
            .expect_status(405)
            .allow("POST"),
        case("token: PUT", t, "")
            .method("PUT")
            .expect_status(405)
            .allow("POST"),
        case("device code: DELETE", d, "")
            .method("DELETE")
            .content_type(None)
            .expect_status(405)
            .allow("POST"),
        case("unknown path", "/oauth/nope", "")
            .method("GET")
            .content_type(None)
            .expect_status(404),
        case("unknown path (POST)", "/nope", "x=y").expect_status(404),
        // --- device authorization endpoint
        case(
            "device: unknown scope",
            d,
            f(format!("client_id={cli}&scope=read%20admin:everything")),
        )
        .expect(400, "invalid_scope"),
        case(
            "device: scope not allowed for client",
            d,
            f(format!("client_id={OTHER}&scope=write")),
        )
        .expect(400, "invalid_scope"),
        case(
            "device: unknown client",
            d,
            "client_id=no-such-client&scope=read",
        )
        .expect(401, "invalid_client"),
        case("device: missing client_id", d, "scope=read")
            .expect(400, "invalid_request")
            .expect(401, "invalid_client"),
        case(
            "device: repeated scope",
            d,
            f(format!("client_id={cli}&scope=read&scope=write")),
        )
        .expect(400, "invalid_request"),
        case(
            "device: JSON body",
            d,
            f(format!(r#"{{"client_id":"{cli}"}}"#)),
        )
        .content_type(Some("application/json"))
        .expect(400, "invalid_request")
        .expect(415, "invalid_request"),
        case("device: non-UTF-8 body", d, b"client_id=\xc3\x28".to_vec())
            .expect(400, "invalid_request"),
        // --- introspection (RFC 7662 §2.1 requires client authentication)
        case("introspect: no credentials", i, "token=abc")
            .expect(401, "invalid_client")
            .www_authenticate("Basic"),
        case("introspect: wrong secret (basic)", i, "token=abc")
            .basic(RS_ID, "wrong-secret")
            .expect(401, "invalid_client")
            .www_authenticate("Basic"),
        case("introspect: unknown client (basic)", i, "token=abc")
            .basic("no-such-client", "whatever")
            .expect(401, "invalid_client")
            .www_authenticate("Basic"),
        case(
            "introspect: wrong secret (post)",
            i,
            f(format!("token=abc&client_id={RS_ID}&client_secret=wrong")),
        )
        .expect(401, "invalid_client"),
        case(
            "introspect: public client cannot authenticate",
            i,
            f(format!("token=abc&client_id={cli}")),
        )
        .expect(401, "invalid_client"),
        case("introspect: malformed Basic header", i, "token=abc")
            .header("authorization", "Basic !!!not-base64!!!")
            .expect(401, "invalid_client")
            .expect(400, "invalid_request"),
        case("introspect: missing token", i, "")
            .basic(RS_ID, &secret)
            .expect(400, "invalid_request"),
        case(
            "introspect: two auth methods",
            i,
            f(format!(
                "token=abc&client_id={RS_ID}&client_secret={}",
                form_encode(&secret)
            )),
        )
        .basic(RS_ID, &secret)
        .expect(400, "invalid_request")
        .expect(401, "invalid_client"),
        // --- revocation (RFC 7009)
        case("revoke: missing token", rv, f(format!("client_id={cli}")))
            .expect(400, "invalid_request"),
        case(
            "revoke: repeated token",
            rv,
            f(format!("token=a&token=b&client_id={cli}")),
        )
        .expect(400, "invalid_request"),
        case(
            "revoke: unknown client",
            rv,
            "token=abc&client_id=no-such-client",
        )
        .expect(401, "invalid_client"),
        // --- tokeninfo (RFC 6750)
        case("tokeninfo: no Authorization", paths::TOKENINFO, "")
            .method("GET")
            .content_type(None)
            .expect_status(401)
            .www_authenticate("Bearer"),
        case("tokeninfo: garbage bearer", paths::TOKENINFO, "")
            .method("GET")
            .content_type(None)
            .header("authorization", "Bearer not.a.token")
            .expect(401, "invalid_token")
            .www_authenticate("Bearer"),
        case("tokeninfo: Basic scheme", paths::TOKENINFO, "")
            .method("GET")
            .content_type(None)
            .basic(RS_ID, &secret)
            .expect_status(401)
            .www_authenticate("Bearer"),
        case("tokeninfo: refresh token as bearer", paths::TOKENINFO, "")
            .method("GET")
            .content_type(None)
            .header("authorization", format!("Bearer {rt}"))
            .expect(401, "invalid_token")
            .www_authenticate("Bearer"),
    ];
    assert!(cases.len() >= 25);

    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| check(&server, c).err().map(|e| format!("[{}] {e}", c.name)))
        .collect();
    assert_healthy(&server);
    // The refresh token survived all that (none of the bad requests consumed it).
    server.refresh(&rt).tokens();
    assert!(
        failures.is_empty(),
        "{} of {} malformed requests answered wrongly:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn assert_page(r: &Reply, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{what}: an HTML page, got {:?}",
        r.header("content-type")
    );
}

#[test]
fn bad_user_codes_on_the_device_page() {
    let server = TestServer::start();
    let mut b = server.browser();
    b.login(ADMIN_USER, ADMIN_PASSWORD);

    for typed in [
        "AAAA-AAAA",
        "BCDF",
        "BCDF-GHJK-LMNP",
        "",
        "<script>x</script>",
    ] {
        let r = b.enter_code(typed);
        assert_page(&r, 400, &format!("user code {typed:?}"));
        let html = r.text();
        assert!(csrf_token(&html).is_some(), "the form is shown again");
        assert!(!html.contains("<script>x"), "user input must be escaped");
        assert_eq!(
            input_value(&html, "user_code").as_deref().unwrap_or(""),
            typed,
            "the field keeps its value: {html}"
        );
    }
    // Well-formed but unknown.
    let r = b.enter_code("BCDF-GHJK");
    assert_page(&r, 400, "unknown code");
    assert_healthy(&server);
}

#[test]
fn csrf_is_required_on_every_form() {
    let server = TestServer::start();
    let code = server.device_code(Some("read"));

    // /login
    let mut b = server.browser();
    let csrf = b.csrf_of("/login");
    assert!(
        b.cookies().contains_key("authgate_csrf"),
        "{:?}",
        b.cookies()
    );
    let login = |tok: Option<&str>| {
        let mut p = vec![("username", ADMIN_USER), ("password", ADMIN_PASSWORD)];
        if let Some(t) = tok {
            p.push(("csrf_token", t));
        }
        p.into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<Vec<_>>()
    };
    let post = |b: &mut Browser, path: &str, p: &[(String, String)]| {
        let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        b.post_form(path, &p)
    };
    assert_page(
        &post(&mut b, "/login", &login(None)),
        403,
        "login without csrf",
    );
    assert_page(
        &post(&mut b, "/login", &login(Some("forged"))),
        403,
        "login with wrong csrf",
    );
    assert!(!b.cookies().contains_key("authgate_session"));
    // The right token without its cookie is refused too.
    let mut cookieless = server.browser();
    assert_page(
        &post(&mut cookieless, "/login", &login(Some(&csrf))),
        403,
        "login without csrf cookie",
    );
    b.login(ADMIN_USER, ADMIN_PASSWORD);

    // A token from another session does not work for this one.
    let mut other = server.browser();
    let other_csrf = other.csrf_of("/login");

    // /device
    assert_page(
        &b.post_form("/device", &[("user_code", &code.user_code)]),
        403,
        "device without csrf",
    );
    assert_page(
        &b.post_form(
            "/device",
            &[("user_code", &code.user_code), ("csrf_token", "forged")],
        ),
        403,
        "device with wrong csrf",
    );

    // /device/consent: refused, and the device is still pending.
    assert_page(
        &b.post_form(
            "/device/consent",
            &[("user_code", &code.user_code), ("decision", "approve")],
        ),
        403,
        "consent without csrf",
    );
    assert_page(
        &b.post_form(
            "/device/consent",
            &[
                ("user_code", &code.user_code),
                ("decision", "approve"),
                ("csrf_token", &other_csrf),
            ],
        ),
        403,
        "consent with another session's csrf",
    );
    server
        .poll(&code.device_code)
        .assert_error(400, "authorization_pending");

    // /logout: refused, still logged in.
    assert_page(&b.post_form("/logout", &[]), 403, "logout without csrf");
    assert_page(
        &b.post_form("/logout", &[("csrf_token", "forged")]),
        403,
        "logout with wrong csrf",
    );
    assert_eq!(b.get("/device").status, 200, "still logged in");

    assert_healthy(&server);
}

#[test]
fn user_code_guessing_is_throttled() {
    // RFC 8628 §5.1: user codes are short, so guessing must be rate limited.
    let server = TestServer::start();
    let code = server.device_code(Some("read"));
    let mut b = server.browser();
    b.login(ADMIN_USER, ADMIN_PASSWORD);

    // Well-formed codes that are (with overwhelming probability) not issued.
    let wrong = [
        "BBBB-BBBB",
        "CCCC-CCCC",
        "DDDD-DDDD",
        "FFFF-FFFF",
        "GGGG-GGGG",
    ];
    let mut refused_at = None;
    for n in 0..40 {
        let guess = wrong[n % wrong.len()];
        if guess.replace('-', "") == code.user_code.replace('-', "") {
            continue;
        }
        let r = b.enter_code(guess);
        assert!(r.status < 500, "{}", r.text());
        assert_ne!(r.status, 200, "a wrong code was accepted");
        if r.status == 429 {
            refused_at = Some(n);
            break;
        }
        assert_page(&r, 400, "wrong code");
    }
    let n = refused_at.expect("40 wrong user codes in a row were never throttled (429)");
    assert!(n >= 3, "throttled after only {n} guesses");

    // While throttled, even the right code is not looked up from this session ...
    let r = b.enter_code(&code.user_code);
    assert_page(&r, 429, "right code while throttled");
    // ... nor from another session on the same address.
    let mut other = server.browser();
    other.login(ADMIN_USER, ADMIN_PASSWORD);
    let r = other.enter_code(&code.user_code);
    assert_page(
        &r,
        429,
        "right code from another session, same IP, while throttled",
    );
    server
        .poll(&code.device_code)
        .assert_error(400, "authorization_pending");
    assert_healthy(&server);
}
