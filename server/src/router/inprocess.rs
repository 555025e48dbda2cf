//! The router driven in-process, without a socket (axum's `oneshot` style): a
//! real store on a temporary directory, requests built with `Full<Bytes>`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{ALLOW, CONTENT_TYPE, COOKIE, SET_COOKIE};
use hyper::{Method, Request, StatusCode};

use super::route;
use crate::http::client_ip::TrustedProxies;
use crate::http::response::Resp;
use crate::state::{AppState, Settings, Throttles};
use crate::store::prelude::*;
use crate::{bootstrap, clock, keys, password, polls, tokens};

const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
const FORM: &str = "application/x-www-form-urlencoded";

/// A server state on a fresh data directory; [`run`] adds the first-run admin and
/// the public `authgate-cli` client.
fn state() -> (tempfile::TempDir, Arc<AppState>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = bootstrap::open_store(dir.path(), |_| {}).expect("store");
    let ring = tokens::KeyRing::load_or_create(dir.path()).expect("keys");
    let settings = Settings {
        base_url: "http://authgate.test".into(),
        audience: "http://authgate.test".into(),
        device_code_ttl: 600,
        authorization_code_ttl: 60,
        poll_interval: Duration::from_secs(5),
        access_ttl: 600,
        refresh_ttl: 86_400,
        retry_window: 60,
        session_ttl: 3600,
        secure_cookies: false,
        body_timeout: Duration::from_secs(5),
        trusted_proxies: TrustedProxies::default(),
        max_pending_codes: 100,
        max_pending_codes_per_client: 100,
        metrics_token: None,
    };
    let state = AppState {
        store,
        keys: keys::Keys::new(ring),
        settings,
        polls: crate::pacer::Pacer::Memory(polls::PollTracker::default()),
        csrf_key: [7; 32],
        passwords: password::Passwords::new(1),
        throttles: Throttles::default(),
        dpop: crate::dpop::DpopState::in_memory([9; 32]),
        data_dir: dir.path().to_path_buf(),
    };
    (dir, Arc::new(state))
}

/// Runs a test body on a runtime started after the state was built (opening the
/// store blocks, which a runtime thread must not).
pub(super) fn run<F: std::future::Future<Output = ()>>(test: impl FnOnce(Arc<AppState>) -> F) {
    let (_dir, state) = state();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async move {
            let password = Some("correct horse battery".into());
            bootstrap::first_run(&state.store, clock::now(), password)
                .await
                .expect("first run");
            test(state).await
        });
}

pub(super) fn request(method: Method, uri: &str, body: &str) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(Bytes::from(body.to_string())));
    *req.method_mut() = method;
    *req.uri_mut() = uri.parse().expect("uri");
    if !body.is_empty() {
        req.headers_mut()
            .insert(CONTENT_TYPE, FORM.parse().expect("header"));
    }
    req
}

pub(super) async fn send(state: &AppState, req: Request<Full<Bytes>>) -> (Resp, String) {
    let resp = route(state, req, IP).await;
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    let text = String::from_utf8(bytes.to_vec()).expect("utf-8");
    (Resp::from_parts(parts, Full::new(bytes)), text)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("json")
}

async fn device_code(state: &AppState) -> String {
    let req = request(
        Method::POST,
        "/oauth/device/code",
        "client_id=authgate-cli&scope=read",
    );
    let (resp, text) = send(state, req).await;
    assert_eq!(resp.status(), StatusCode::OK, "{text}");
    let body = json(&text);
    assert_eq!(body["interval"], 5);
    assert!(
        body["verification_uri_complete"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://authgate.test/device?user_code="))
    );
    body["device_code"]
        .as_str()
        .expect("device_code")
        .to_string()
}

#[test]
fn device_authorization_then_polls_pending_and_slow_down() {
    run(|state| async move {
        let code = device_code(&state).await;
        let poll = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code\
             &client_id=authgate-cli&device_code={code}"
        );
        let (resp, text) = send(&state, request(Method::POST, "/oauth/token", &poll)).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json(&text)["error"], "authorization_pending");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let (resp, text) = send(&state, request(Method::POST, "/oauth/token", &poll)).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json(&text)["error"], "slow_down");
    });
}

#[test]
fn malformed_oauth_requests_get_invalid_request_json() {
    run(|state| async move {
        let repeated = "grant_type=x&grant_type=y&client_id=authgate-cli";
        let (resp, text) = send(&state, request(Method::POST, "/oauth/token", repeated)).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json(&text)["error"], "invalid_request");

        let mut req = request(Method::POST, "/oauth/device/code", "client_id=authgate-cli");
        req.headers_mut()
            .insert(CONTENT_TYPE, "text/plain".parse().expect("header"));
        let (resp, text) = send(&state, req).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json(&text)["error"], "invalid_request");

        let unknown = "grant_type=password&client_id=authgate-cli";
        let (resp, text) = send(&state, request(Method::POST, "/oauth/token", unknown)).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json(&text)["error"], "unsupported_grant_type");

        let big = format!("client_id={}", "a".repeat(9000));
        let (resp, _) = send(&state, request(Method::POST, "/oauth/device/code", &big)).await;
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    });
}

#[test]
fn wrong_method_gets_405_with_allow_from_the_table() {
    run(|state| async move {
        let (resp, text) = send(&state, request(Method::GET, "/oauth/token", "")).await;
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(resp.headers()[ALLOW], "POST");
        assert_eq!(json(&text)["error"], "invalid_request");

        let (resp, text) = send(&state, request(Method::DELETE, "/login", "")).await;
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(resp.headers()[ALLOW], "GET, HEAD, POST");
        assert!(text.contains("This address accepts GET, HEAD, POST only."));

        let (resp, _) = send(&state, request(Method::POST, "/health", "a=b")).await;
        assert_eq!(resp.headers()[ALLOW], "GET, HEAD");
        let (resp, _) = send(&state, request(Method::GET, "/nowhere", "")).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    });
}

fn csrf_of(html: &str) -> &str {
    let field = "name=\"csrf_token\" value=\"";
    let at = html.find(field).expect("csrf field") + field.len();
    &html[at..at + 64]
}

#[test]
fn login_page_carries_a_csrf_token_and_its_cookie() {
    run(|state| async move {
        let (resp, html) = send(&state, request(Method::GET, "/login", "")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(csrf_of(&html).bytes().all(|b| b.is_ascii_hexdigit()));
        let cookie = resp.headers()[SET_COOKIE].to_str().expect("ascii");
        assert!(cookie.starts_with("authgate_csrf="), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(!cookie.contains("Secure"));
    });
}

#[test]
fn login_post_without_csrf_is_403_and_with_it_is_checked() {
    run(|state| async move {
        let form = "username=admin&password=wrong";
        let (resp, html) = send(&state, request(Method::POST, "/login", form)).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert!(html.contains("Form expired"));

        // With the seed cookie and its token, the password is what fails.
        let (resp, html) = send(&state, request(Method::GET, "/login", "")).await;
        let seed = resp.headers()[SET_COOKIE].to_str().expect("ascii");
        let seed = seed.split(';').next().expect("pair").to_string();
        let form = format!("csrf_token={}&{form}", csrf_of(&html));
        let mut req = request(Method::POST, "/login", &form);
        req.headers_mut()
            .insert(COOKIE, seed.parse().expect("header"));
        let (resp, html) = send(&state, req).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(html.contains("Wrong user name or password."));
    });
}

#[test]
fn head_answers_like_get() {
    run(|state| async move {
        for path in ["/login", "/health", "/assets/style.css", "/device"] {
            let (get, _) = send(&state, request(Method::GET, path, "")).await;
            let (head, _) = send(&state, request(Method::HEAD, path, "")).await;
            assert_eq!(get.status(), head.status(), "{path}");
            assert_eq!(get.headers()[CONTENT_TYPE], head.headers()[CONTENT_TYPE]);
        }
    });
}

/// The value of the hidden input `name` on a page.
fn hidden<'a>(html: &'a str, name: &str) -> &'a str {
    let field = format!("name=\"{name}\" value=\"");
    let at = html.find(&field).expect("hidden field") + field.len();
    let len = html[at..].find('"').expect("closing quote");
    &html[at..at + len]
}

/// A browser's cookies, as `name=value` pairs, kept from `Set-Cookie` answers.
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn keep(&mut self, resp: &Resp) {
        for v in resp.headers().get_all(SET_COOKIE) {
            let pair = v.to_str().expect("ascii").split(';').next().expect("pair");
            let (name, value) = pair.split_once('=').expect("name=value");
            self.0.retain(|(n, _)| n != name);
            self.0.push((name.to_string(), value.to_string()));
        }
    }

    async fn send(&mut self, state: &AppState, mut req: Request<Full<Bytes>>) -> (Resp, String) {
        let cookies: Vec<String> = self.0.iter().map(|(n, v)| format!("{n}={v}")).collect();
        if !cookies.is_empty() {
            let value = cookies.join("; ").parse().expect("header");
            req.headers_mut().insert(COOKIE, value);
        }
        let (resp, text) = send(state, req).await;
        self.keep(&resp);
        (resp, text)
    }
}

#[test]
fn sign_in_approve_and_redeem_without_a_socket() {
    run(|state| async move {
        let code = device_code(&state).await;
        let mut b = Jar::default();
        let (_, html) = b.send(&state, request(Method::GET, "/login", "")).await;
        let form = format!(
            "csrf_token={}&username=admin&password=correct+horse+battery&next=%2Fdevice",
            csrf_of(&html)
        );
        let (resp, _) = b.send(&state, request(Method::POST, "/login", &form)).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()["location"], "/device");

        // The user code is only on the device's screen; read it from the store.
        let id = crate::secrets::keyed_token_id(&code).expect("id");
        let hash = crate::secrets::sha256(code.as_bytes());
        let auth = state
            .store
            .device_auth(&id, &hash)
            .await
            .expect("read")
            .expect("auth");
        let uri = format!("/device?user_code={}", auth.user_code);
        let (resp, html) = b.send(&state, request(Method::GET, &uri, "")).await;
        assert_eq!(resp.status(), StatusCode::OK, "{html}");
        let consent = format!(
            "csrf_token={}&user_code={}&request={}&consent={}&decision=approve",
            hidden(&html, "csrf_token"),
            hidden(&html, "user_code"),
            hidden(&html, "request"),
            hidden(&html, "consent"),
        );
        let (resp, html) = b
            .send(&state, request(Method::POST, "/device/consent", &consent))
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "{html}");
        assert!(html.contains("Device approved") && html.contains("result-approved"));

        // Deciding again: the code no longer names a waiting request.
        let (resp, html) = b
            .send(&state, request(Method::POST, "/device/consent", &consent))
            .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert!(html.contains("Unknown code") && html.contains("result-problem"));

        let poll = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code\
             &client_id=authgate-cli&device_code={code}"
        );
        let (resp, text) = send(&state, request(Method::POST, "/oauth/token", &poll)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{text}");
        assert_eq!(json(&text)["token_type"], "Bearer");
        // Polled again at once, as after a lost answer: within the retry window
        // and with the tokens unused, a fresh pair.
        let (resp, text) = send(&state, request(Method::POST, "/oauth/token", &poll)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{text}");
        let refresh = json(&text)["refresh_token"]
            .as_str()
            .expect("a refresh token")
            .to_owned();
        let use_it = format!(
            "grant_type=refresh_token&client_id=authgate-cli&refresh_token={}",
            refresh.replace('+', "%2B")
        );
        let (resp, text) = send(&state, request(Method::POST, "/oauth/token", &use_it)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{text}");
        // Once its tokens were used, the code is spent.
        let (resp, text) = send(&state, request(Method::POST, "/oauth/token", &poll)).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json(&text)["error"], "invalid_grant");
    });
}

/// The console in-process: the first-run admin edits a client's settings (the
/// store keeps them, the audit log names the admin), a rotation is refused
/// without its confirmation box, and a key rotation with it changes the signer.
#[test]
fn the_admin_console_edits_a_client_and_rotates_a_key() {
    run(|state| async move {
        let mut b = Jar::default();
        let (_, html) = b.send(&state, request(Method::GET, "/login", "")).await;
        let form = format!(
            "csrf_token={}&username=admin&password=correct+horse+battery&next=%2Fadmin",
            csrf_of(&html)
        );
        let (resp, _) = b.send(&state, request(Method::POST, "/login", &form)).await;
        assert_eq!(resp.headers()["location"], "/admin");
        let (resp, html) = b
            .send(
                &state,
                request(Method::GET, "/admin/client?id=authgate-cli", ""),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "{html}");
        let csrf = csrf_of(&html).to_string();

        let edit = format!(
            "csrf_token={csrf}&op=client_update&id=authgate-cli&name=CLI&scopes=read&\
             grant_device_code=yes&access_ttl=5m&refresh_ttl="
        );
        let (resp, _) = b
            .send(&state, request(Method::POST, "/admin/action", &edit))
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let c = state.store.client("authgate-cli").await.unwrap().unwrap();
        assert_eq!(
            (c.name.as_str(), c.scopes.clone()),
            ("CLI", vec!["read".to_string()])
        );
        assert_eq!(c.grant_types, vec!["device_code".to_string()]);
        assert_eq!((c.access_ttl, c.refresh_ttl), (Some(300), None));
        // Untouched selects keep their defaults (the form always sends them all).
        assert_eq!(
            c.access_token_format,
            crate::store::AccessTokenFormat::Paseto
        );

        // Issue 16's settings: shown on the client page, edited by the same form,
        // checked by the same rules as `authgate client update`.
        let (_, html) = b
            .send(
                &state,
                request(Method::GET, "/admin/client?id=authgate-cli", ""),
            )
            .await;
        for field in [
            "redirect_uris",
            "access_token_format",
            "user_code_format",
            "poll_interval",
        ] {
            assert!(html.contains(&format!("name=\"{field}\"")), "{field}");
        }
        let edit = format!(
            "csrf_token={csrf}&op=client_update&id=authgate-cli&name=CLI&scopes=read&\
             grant_device_code=yes&grant_authorization_code=yes&\
             redirect_uris=https%3A%2F%2Fapp.example%2Fcb%0D%0Ahttp%3A%2F%2F127.0.0.1%2Fcb&\
             access_token_format=jwt&dpop=required&user_code_format=digits&\
             device_code_ttl=5m&poll_interval=7"
        );
        let (resp, _) = b
            .send(&state, request(Method::POST, "/admin/action", &edit))
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let c = state.store.client("authgate-cli").await.unwrap().unwrap();
        assert_eq!(
            c.redirect_uris,
            vec![
                "https://app.example/cb".to_string(),
                "http://127.0.0.1/cb".to_string()
            ]
        );
        assert_eq!(c.access_token_format, crate::store::AccessTokenFormat::Jwt);
        assert_eq!(c.dpop, crate::store::DpopMode::Required);
        assert_eq!(c.user_code_format, crate::store::UserCodeFormat::Digits);
        assert_eq!((c.device_code_ttl, c.poll_interval), (Some(300), Some(7)));
        let (_, html) = b
            .send(
                &state,
                request(Method::GET, "/admin/client?id=authgate-cli", ""),
            )
            .await;
        assert!(
            html.contains("<code>https://app.example/cb</code>"),
            "{html}"
        );
        // A public client may not get client_credentials, nor a plain-http redirect.
        for bad in [
            "grant_client_credentials=yes",
            "redirect_uris=http%3A%2F%2Fevil.example%2Fcb",
            "poll_interval=0s",
            "user_code_format=hex",
        ] {
            let edit = format!(
                "csrf_token={csrf}&op=client_update&id=authgate-cli&name=CLI&scopes=read&{bad}"
            );
            let (resp, _) = b
                .send(&state, request(Method::POST, "/admin/action", &edit))
                .await;
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
        let after = state.store.client("authgate-cli").await.unwrap().unwrap();
        assert_eq!(after, c, "a refused edit changes nothing");
        let events = state.store.audit_events(0, 100).await.unwrap();
        assert!(
            events
                .iter()
                .any(|e| e.kind == crate::store::AuditKind::ClientUpdated
                    && e.actor == "admin"
                    && e.subject == "authgate-cli")
        );

        let before = state.keys.signing_kid();
        let rotate = format!("csrf_token={csrf}&op=key_rotate");
        let (resp, _) = b
            .send(&state, request(Method::POST, "/admin/action", &rotate))
            .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "needs confirmation");
        assert_eq!(state.keys.signing_kid(), before);
        let rotate = format!("{rotate}&confirm=yes");
        let (resp, _) = b
            .send(&state, request(Method::POST, "/admin/action", &rotate))
            .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_ne!(state.keys.signing_kid(), before);
        let (_, html) = b
            .send(&state, request(Method::GET, "/admin/keys", ""))
            .await;
        assert!(html.contains(&state.keys.signing_kid()), "{html}");
    });
}
