//! The board examples' rules against the real binary (issue 15): the headers
//! `DeviceFlow::write_resource_auth` builds are accepted by `/oauth/tokeninfo`
//! (`Bearer`, and `DPoP` with a proof for a bound token), and a press of the sign-out
//! button (`SignOutButton`) revokes the grant (RFC 7009), after which the old token is
//! refused and a new device code follows.
//!
//! The flow is `authgate-device`'s, sent with its blocking transport; its clock is
//! virtual (jumped to each deadline) while the server's is real, as in the flow tests.

use authgate_device::blocking::{Endpoints, HttpTransport};
use authgate_device::{
    ButtonAction, Config, DeviceFlow, DpopKey, Event, Indicator, Instant, RequestKind,
    SignOutButton,
};
use authgate_tests::{ADMIN_PASSWORD, ADMIN_USER, DEFAULT_CLIENT, Reply, TestServer};

/// What a turn of the driver loop saw.
#[derive(Debug, Default)]
struct Seen {
    authorized: bool,
    logged_out: Option<bool>,
    code: Option<String>,
}

/// Sends every due request and hands back the answers, jumping the virtual clock to
/// each deadline, until `done` says so (at most 20 requests).
fn drive(
    server: &TestServer,
    transport: &HttpTransport,
    flow: &mut DeviceFlow<'_>,
    now: &mut Instant,
    mut done: impl FnMut(&Seen) -> bool,
) -> Seen {
    let mut seen = Seen::default();
    let mut buf = vec![0u8; authgate_device::REQUEST_BUFFER_LEN];
    for _ in 0..20 {
        while let Some(event) = flow.poll_event() {
            match event {
                Event::ShowCode { user_code, .. } => {
                    seen.code = Some(user_code.to_owned());
                    let mut browser = server.browser();
                    browser.login(ADMIN_USER, ADMIN_PASSWORD);
                    browser.approve(user_code);
                }
                Event::Authorized(_) => seen.authorized = true,
                Event::LoggedOut { confirmed } => seen.logged_out = Some(confirmed),
                Event::Failed(e) => panic!("flow failed: {e}"),
                _ => {}
            }
        }
        if done(&seen) {
            return seen;
        }
        match flow.poll_transmit(*now, &mut buf).expect("poll_transmit") {
            Some(t) => {
                let answer = transport.send(&t, &buf).expect("an answer");
                if let Some(date) = &answer.date {
                    flow.handle_date(date).expect("date");
                }
                if let Some(nonce) = &answer.dpop_nonce {
                    flow.handle_dpop_nonce(nonce).expect("nonce");
                }
                flow.handle_response(*now, answer.status, &answer.body)
                    .expect("a request was in flight");
            }
            None => {
                let at = flow.poll_timeout().expect("a timer");
                *now = at;
                flow.handle_timeout(at);
            }
        }
    }
    panic!("not done after 20 requests: {seen:?}");
}

/// The `Authorization` and `DPoP` values the flow writes for `GET /oauth/tokeninfo`.
fn headers(
    server: &TestServer,
    flow: &mut DeviceFlow<'_>,
    now: Instant,
) -> (String, Option<String>) {
    let mut buf = [0u8; 2048];
    let auth = flow
        .write_resource_auth(now, "GET", &server.url("/oauth/tokeninfo"), &mut buf)
        .expect("resource headers");
    (
        auth.authorization(&buf).to_owned(),
        auth.dpop(&buf).map(str::to_owned),
    )
}

/// `GET /oauth/tokeninfo` with those headers.
fn tokeninfo(server: &TestServer, (authorization, proof): &(String, Option<String>)) -> Reply {
    let mut request = server
        .http()
        .get(server.url("/oauth/tokeninfo"))
        .header("Authorization", authorization);
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    let resp = request.send().expect("tokeninfo answered");
    Reply {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.bytes().map(|b| b.to_vec()).unwrap_or_default(),
    }
}

/// Signs in, uses the token, presses the button; checks the server's view at each step.
fn sign_in_use_and_sign_out(server: &TestServer, config: Config<'_>, scheme: &str) {
    let transport = HttpTransport::new(Endpoints::authgate_defaults(server.base_url()));
    let mut now = Instant::from_millis(1_000_000);
    let mut flow = DeviceFlow::new(config, now);
    let first = drive(server, &transport, &mut flow, &mut now, |s| s.authorized);
    assert_eq!(Indicator::for_flow(&flow, true), Indicator::SignedIn);

    let used = headers(server, &mut flow, now);
    let access = flow.tokens().expect("tokens").access_token().to_owned();
    assert_eq!(used.0, format!("{scheme} {access}"));
    assert_eq!(
        used.1.is_some(),
        scheme == "DPoP",
        "a proof exactly with DPoP"
    );
    let info = tokeninfo(server, &used);
    info.assert_status(200);
    assert_eq!(info.json()["active"], true, "{}", info.text());
    assert_eq!(info.json()["client_id"], DEFAULT_CLIENT);
    // Headers for one more request (a fresh proof), sent after the sign-out.
    let spare = headers(server, &mut flow, now);

    let mut button = SignOutButton::new();
    button.press();
    assert_eq!(button.apply(&mut flow, now), Some(ButtonAction::SignOut));
    let after = drive(server, &transport, &mut flow, &mut now, |s| {
        s.logged_out.is_some()
    });
    assert_eq!(after.logged_out, Some(true), "revocation confirmed");
    assert!(flow.tokens().is_none(), "tokens forgotten");

    // The server no longer accepts the token: the same request, with a fresh proof
    // when bound, is refused as an invalid token (it succeeded before the press).
    let refused = tokeninfo(server, &spare);
    assert_eq!(refused.status, 401, "{}", refused.text());
    let challenge = refused.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with(scheme) && challenge.contains("invalid_token"),
        "{challenge}"
    );

    // The button's next step is a new device flow with a new code.
    assert_eq!(button.apply(&mut flow, now), Some(ButtonAction::NewCode));
    let mut buf = [0u8; 2048];
    let t = flow
        .poll_transmit(now, &mut buf)
        .expect("poll_transmit")
        .expect("a request");
    assert_eq!(t.kind, RequestKind::DeviceAuthorization);
    let answer = transport.send(&t, &buf).expect("an answer");
    flow.handle_response(now, answer.status, &answer.body)
        .expect("in flight");
    let code = flow.code().expect("a new code").user_code.to_owned();
    assert_ne!(Some(code), first.code, "a fresh user code");
}

#[test]
fn bearer_board_uses_its_token_and_the_button_revokes_it() {
    let server = TestServer::start();
    sign_in_use_and_sign_out(&server, Config::new(DEFAULT_CLIENT), "Bearer");
}

#[test]
fn dpop_board_uses_its_bound_token_with_a_proof_and_the_button_revokes_it() {
    let server = TestServer::start();
    let transport = HttpTransport::new(Endpoints::authgate_defaults(server.base_url()));
    let key = DpopKey::from_seed([42; 32]);
    let mut config = Config::new(DEFAULT_CLIENT);
    config.dpop = Some(transport.dpop_config(&key, [7; 32]));
    sign_in_use_and_sign_out(&server, config, "DPoP");
}
