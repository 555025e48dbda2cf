//! Host tests of the `DeviceFlow` state machine with a fake clock that jumps to the
//! flow's next deadline (nothing sleeps), fed the server bodies in `fixtures/`.

use authgate_device::{
    ACCESS_TOKEN_CAP, ApiMisuse, Backoff, Config, DeviceFlow, Duration, Error, ErrorCode, Event,
    Field, Instant, Malformed, OAuthError, Outcome, RequestKind, TOKENS_MAX_BYTES, Tokens,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixture_json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture(name)).expect("fixture is JSON")
}

/// Events copied out of the flow, so tests can keep them.
#[derive(Clone, Debug, PartialEq)]
enum Ev {
    ShowCode {
        user_code: String,
        uri: String,
        complete: Option<String>,
        expires_at: Instant,
    },
    SlowDown(Duration),
    Retrying {
        error: Error,
        attempt: u16,
        retry_at: Instant,
    },
    CodeExpired {
        restarting: bool,
    },
    Denied,
    Authorized {
        access: String,
        refresh: Option<String>,
    },
    Refreshed {
        access: String,
        refresh: Option<String>,
    },
    TokensDiscarded,
    LoggedOut {
        confirmed: bool,
    },
    Failed(Error),
}

struct Harness {
    flow: DeviceFlow<'static>,
    now: Instant,
    buf: Vec<u8>,
}

impl Harness {
    fn new(config: Config<'static>) -> Self {
        let now = Instant::from_millis(1_000_000);
        Harness {
            flow: DeviceFlow::new(config, now),
            now,
            buf: vec![0; 2048],
        }
    }

    fn default() -> Self {
        let mut c = Config::new("authgate-cli");
        c.scope = Some("read write");
        Self::new(c)
    }

    fn secs(&self) -> u64 {
        (self.now - Instant::from_millis(1_000_000)).as_secs()
    }

    fn events(&mut self) -> Vec<Ev> {
        let mut out = Vec::new();
        while let Some(e) = self.flow.poll_event() {
            out.push(match e {
                Event::ShowCode {
                    user_code,
                    verification_uri,
                    verification_uri_complete,
                    expires_at,
                } => Ev::ShowCode {
                    user_code: user_code.into(),
                    uri: verification_uri.into(),
                    complete: verification_uri_complete.map(Into::into),
                    expires_at,
                },
                Event::SlowDown { interval } => Ev::SlowDown(interval),
                Event::Retrying {
                    error,
                    attempt,
                    retry_at,
                } => Ev::Retrying {
                    error,
                    attempt,
                    retry_at,
                },
                Event::CodeExpired { restarting } => Ev::CodeExpired { restarting },
                Event::Denied => Ev::Denied,
                Event::Authorized(t) => Ev::Authorized {
                    access: t.access_token().into(),
                    refresh: t.refresh_token().map(Into::into),
                },
                Event::Refreshed(t) => Ev::Refreshed {
                    access: t.access_token().into(),
                    refresh: t.refresh_token().map(Into::into),
                },
                Event::TokensDiscarded => Ev::TokensDiscarded,
                Event::LoggedOut { confirmed } => Ev::LoggedOut { confirmed },
                Event::Failed(e) => Ev::Failed(e),
                other => panic!("unexpected event {other:?}"),
            });
        }
        out
    }

    /// The due request, if any: its kind and body as text.
    fn transmit(&mut self) -> Option<(RequestKind, String)> {
        let t = self
            .flow
            .poll_transmit(self.now, &mut self.buf)
            .expect("buffer is big enough")?;
        assert_eq!(t.method.as_str(), "POST");
        assert_eq!(t.path, self.flow.config().path(t.endpoint));
        let body = String::from_utf8(t.body(&self.buf).to_vec()).expect("form bodies are ASCII");
        Some((t.kind, body))
    }

    fn expect_transmit(&mut self, kind: RequestKind) -> String {
        match self.transmit() {
            Some((k, body)) if k == kind => body,
            other => panic!("at {}s expected {kind:?}, got {other:?}", self.secs()),
        }
    }

    /// Hands in an answer; `Err` is the flow's [`DeviceFlow::last_error`] (the input
    /// itself only fails on API misuse).
    fn respond(&mut self, status: u16, body: &[u8]) -> Result<(), Error> {
        self.flow.handle_response(self.now, status, body)?;
        self.flow.last_error().map_or(Ok(()), Err)
    }

    fn respond_fixture(&mut self, status: u16, name: &str) -> Result<(), Error> {
        let body = fixture(name);
        self.respond(status, &body)
    }

    /// Jumps the clock to the next deadline and fires it; returns the new time in
    /// seconds since the start.
    fn advance(&mut self) -> u64 {
        let at = self.flow.poll_timeout().expect("a timer is armed");
        assert!(at >= self.now, "deadline in the past");
        self.now = at;
        self.flow.handle_timeout(self.now);
        self.secs()
    }

    /// Runs the device authorization step with the standard fixture.
    fn get_code(&mut self) {
        self.expect_transmit(RequestKind::DeviceAuthorization);
        self.respond_fixture(200, "device_authorization.json")
            .unwrap();
        assert!(matches!(self.events().as_slice(), [Ev::ShowCode { .. }]));
    }

    /// Full login to tokens from `token.json`.
    fn login(&mut self) {
        self.get_code();
        self.advance();
        self.expect_transmit(RequestKind::PollToken);
        self.respond_fixture(200, "token.json").unwrap();
        assert!(matches!(self.events().as_slice(), [Ev::Authorized { .. }]));
    }
}

#[test]
fn happy_path_shows_code_polls_at_interval_and_authorizes() {
    let mut h = Harness::default();
    assert_eq!(
        h.flow.poll_timeout(),
        None,
        "the first request is due at once"
    );
    let body = h.expect_transmit(RequestKind::DeviceAuthorization);
    assert_eq!(body, "client_id=authgate-cli&scope=read+write");
    assert_eq!(h.transmit(), None, "one request at a time");

    h.respond_fixture(200, "device_authorization.json").unwrap();
    let expires_at = h.now + Duration::from_secs(900);
    assert_eq!(
        h.events(),
        vec![Ev::ShowCode {
            user_code: "BCDF-GHJK".into(),
            uri: "http://127.0.0.1:8080/device".into(),
            complete: Some("http://127.0.0.1:8080/device?user_code=BCDFGHJK".into()),
            expires_at,
        }]
    );
    assert_eq!(h.flow.interval(), Duration::from_secs(5));
    assert_eq!(h.flow.code().map(|c| c.user_code), Some("BCDF-GHJK"));
    assert_eq!(h.transmit(), None, "no poll before the interval");

    // An early timeout does nothing.
    h.flow.handle_timeout(h.now + Duration::from_secs(4));
    assert_eq!(h.transmit(), None);

    assert_eq!(h.advance(), 5);
    let body = h.expect_transmit(RequestKind::PollToken);
    assert_eq!(
        body,
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code\
         &device_code=Gm0xSPu0bS8d2yQ9x4Z3k2N7vYt1LqRwE5aHcJfUo6I&client_id=authgate-cli"
    );
    h.respond_fixture(400, "authorization_pending.json")
        .unwrap();
    assert_eq!(h.events(), vec![]);
    assert_eq!(h.advance(), 10);
    h.expect_transmit(RequestKind::PollToken);
    h.respond_fixture(200, "token.json").unwrap();

    let token = fixture_json("token.json");
    let access = token["access_token"].as_str().unwrap();
    assert!(
        (400..=700).contains(&access.len()),
        "fixture looks like our PASETO tokens"
    );
    assert_eq!(
        h.events(),
        vec![Ev::Authorized {
            access: access.into(),
            refresh: Some(token["refresh_token"].as_str().unwrap().into()),
        }]
    );
    assert!(h.flow.is_authorized());
    assert_eq!(h.flow.code(), None);
    assert_eq!(h.flow.access_token(h.now), Some(access));
    let t = h.flow.tokens().unwrap();
    assert_eq!(t.scope(), Some("read write"));
    // Expiry counts from when the poll was sent (here the same instant).
    assert_eq!(t.expires_at(), Some(h.now + Duration::from_secs(900)));
}

#[test]
fn slow_down_adds_five_seconds_each_time_and_keeps_it() {
    let mut h = Harness::default();
    h.get_code();
    let mut polls = Vec::new();
    let answers = [
        "slow_down",
        "slow_down",
        "authorization_pending",
        "slow_down",
        "authorization_pending",
    ];
    for a in answers {
        polls.push(h.advance());
        h.expect_transmit(RequestKind::PollToken);
        h.respond_fixture(400, &format!("{a}.json")).unwrap();
        if a == "slow_down" {
            assert_eq!(h.events(), vec![Ev::SlowDown(h.flow.interval())]);
        }
    }
    polls.push(h.advance());
    // Interval 5 → 10 → 15 (pending keeps 15) → 20 (pending keeps 20).
    assert_eq!(polls, vec![5, 15, 30, 45, 65, 85]);
    assert_eq!(h.flow.interval(), Duration::from_secs(20));
}

#[test]
fn code_expiry_stops_when_not_configured_to_restart() {
    let mut h = Harness::default();
    h.expect_transmit(RequestKind::DeviceAuthorization);
    h.respond(
        200,
        br#"{"device_code":"d","user_code":"BCDF-GHJK","verification_uri":"http://x/device","expires_in":20,"interval":5}"#,
    )
    .unwrap();
    h.events();
    for expected in [5, 10, 15] {
        assert_eq!(h.advance(), expected);
        h.expect_transmit(RequestKind::PollToken);
        h.respond_fixture(400, "authorization_pending.json")
            .unwrap();
    }
    // At 20 s both the poll and the expiry are due: the expiry wins, nothing is sent.
    assert_eq!(h.advance(), 20);
    assert_eq!(h.transmit(), None);
    assert_eq!(h.events(), vec![Ev::CodeExpired { restarting: false }]);
    assert_eq!(h.flow.outcome(), Some(Outcome::Expired));
    assert_eq!(h.flow.poll_timeout(), None);
    assert_eq!(h.flow.code(), None);

    // "Asked" to start over: a fresh code.
    h.flow.restart(h.now).unwrap();
    h.expect_transmit(RequestKind::DeviceAuthorization);
    h.respond_fixture(200, "device_authorization_renewed.json")
        .unwrap();
    assert!(
        matches!(&h.events()[..], [Ev::ShowCode { user_code, .. }] if user_code == "LMNP-QRST")
    );
}

#[test]
fn expired_token_answer_starts_over_with_a_new_code_when_configured() {
    let mut c = Config::new("authgate-cli");
    c.restart_on_expiry = true;
    let mut h = Harness::new(c);
    h.get_code();
    h.advance();
    h.expect_transmit(RequestKind::PollToken);
    h.respond_fixture(400, "expired_token.json").unwrap();
    assert_eq!(h.events(), vec![Ev::CodeExpired { restarting: true }]);
    assert_eq!(h.flow.code(), None);
    let body = h.expect_transmit(RequestKind::DeviceAuthorization);
    assert_eq!(body, "client_id=authgate-cli");
    h.respond_fixture(200, "device_authorization_renewed.json")
        .unwrap();
    let ev = h.events();
    assert!(
        matches!(&ev[..], [Ev::ShowCode { user_code, .. }] if user_code == "LMNP-QRST"),
        "{ev:?}"
    );
    // The new code is polled with the new device code.
    h.advance();
    let body = h.expect_transmit(RequestKind::PollToken);
    assert!(
        body.contains("device_code=Zq9wXv8uTs7rQp6oNm5lKj4iHg3fEd2cBa1ZyXwVuTs"),
        "{body}"
    );
}

#[test]
fn expiry_timer_restarts_too_when_configured() {
    let mut c = Config::new("authgate-cli");
    c.restart_on_expiry = true;
    let mut h = Harness::new(c);
    h.get_code();
    let mut n = 0;
    loop {
        h.advance();
        if let Some((kind, _)) = h.transmit() {
            if kind == RequestKind::DeviceAuthorization {
                break;
            }
            h.respond_fixture(400, "authorization_pending.json")
                .unwrap();
        }
        n += 1;
        assert!(n < 1000);
    }
    assert_eq!(h.secs(), 900);
    assert_eq!(n, 900 / 5 - 1, "polled every 5 s until the code died");
    assert_eq!(h.events(), vec![Ev::CodeExpired { restarting: true }]);
}

#[test]
fn access_denied_stops_for_good() {
    let mut h = Harness::default();
    h.get_code();
    h.advance();
    h.expect_transmit(RequestKind::PollToken);
    h.respond_fixture(400, "access_denied.json").unwrap();
    assert_eq!(h.events(), vec![Ev::Denied]);
    assert_eq!(h.flow.outcome(), Some(Outcome::Denied));
    assert_eq!(h.flow.poll_timeout(), None);
    assert_eq!(h.transmit(), None);
    assert_eq!(h.flow.tokens(), None);
}

#[test]
fn server_and_transport_errors_back_off_exponentially_up_to_the_cap() {
    let mut h = Harness::default();
    let mut delays = Vec::new();
    let mut prev = h.now;
    for i in 0..9 {
        h.expect_transmit(RequestKind::DeviceAuthorization);
        let err = match i % 4 {
            0 => h.respond_fixture(502, "gateway_error.html").unwrap_err(),
            1 => h.respond_fixture(500, "server_error.json").unwrap_err(),
            2 => h
                .respond_fixture(503, "temporarily_unavailable.json")
                .unwrap_err(),
            _ => {
                h.flow.handle_transport_error(h.now).unwrap();
                Error::Transport
            }
        };
        let ev = h.events();
        let Ev::Retrying {
            error,
            attempt,
            retry_at,
        } = ev[0].clone()
        else {
            panic!("{ev:?}")
        };
        assert_eq!(error, err);
        assert_eq!(attempt, i + 1);
        assert_eq!(Some(retry_at), h.flow.poll_timeout());
        h.advance();
        delays.push((h.now - prev).as_secs());
        prev = h.now;
    }
    assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);

    // A good answer resets the count: the next failure waits the initial delay again,
    // raised to the poll interval while polling.
    h.expect_transmit(RequestKind::DeviceAuthorization);
    h.respond_fixture(200, "device_authorization.json").unwrap();
    h.events();
    h.advance();
    h.expect_transmit(RequestKind::PollToken);
    assert_eq!(
        h.respond_fixture(500, "server_error.json"),
        Err(Error::Server(OAuthError {
            code: ErrorCode::ServerError,
            status: 500
        }))
    );
    let before = h.now;
    h.advance();
    assert_eq!(h.now - before, Duration::from_secs(5));
}

#[test]
fn retries_are_bounded_when_configured() {
    let mut c = Config::new("authgate-cli");
    c.backoff = Backoff {
        initial: Duration::from_millis(500),
        max: Duration::from_secs(2),
        max_attempts: Some(3),
    };
    let mut h = Harness::new(c);
    let start = h.now;
    for _ in 0..2 {
        h.expect_transmit(RequestKind::DeviceAuthorization);
        h.flow.handle_transport_error(h.now).unwrap();
        h.advance();
    }
    assert_eq!(h.now - start, Duration::from_millis(1500));
    h.expect_transmit(RequestKind::DeviceAuthorization);
    assert_eq!(h.respond(429, b""), Err(Error::RetriesExhausted));
    let retry = |attempt, ms| Ev::Retrying {
        error: Error::Transport,
        attempt,
        retry_at: start + Duration::from_millis(ms),
    };
    assert_eq!(
        h.events(),
        vec![
            retry(1, 500),
            retry(2, 1500),
            Ev::Failed(Error::RetriesExhausted)
        ]
    );
    assert_eq!(
        h.flow.outcome(),
        Some(Outcome::Failed(Error::RetriesExhausted))
    );
    assert_eq!(h.flow.poll_timeout(), None);
}

#[test]
fn truncated_bodies_are_errors_and_retried_never_panics() {
    let token = fixture("token.json");
    let mut h = Harness::default();
    h.get_code();
    let mut saw_truncated = 0;
    for cut in 0..token.len() - 1 {
        h.advance();
        h.expect_transmit(RequestKind::PollToken);
        match h.respond(200, &token[..cut]) {
            Err(Error::Malformed(Malformed::Truncated)) => saw_truncated += 1,
            Err(Error::Malformed(_)) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
        assert!(!h.flow.is_authorized());
        assert!(h.flow.poll_timeout().is_some(), "a retry is scheduled");
        h.events();
        // Keep the code alive across hundreds of retries.
        if h.flow.code().is_none() {
            panic!("code expired during the test");
        }
        // Reset the backoff by a normal answer so timing stays short.
        h.advance();
        h.expect_transmit(RequestKind::PollToken);
        h.respond_fixture(400, "authorization_pending.json")
            .unwrap();
        if h.secs() > 800 {
            // Start a new code well before expiry.
            h.flow.restart(h.now).unwrap();
            h.get_code();
        }
    }
    assert!(saw_truncated > token.len() / 2, "{saw_truncated}");
    h.advance();
    h.expect_transmit(RequestKind::PollToken);
    h.respond(200, &token).unwrap();
    assert!(h.flow.is_authorized());
}

#[test]
fn garbage_in_every_phase_is_an_error_not_a_panic() {
    // Deterministic pseudo-random garbage plus hand-picked nasties.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{}".to_vec(),
        b"{\"error\":5}".to_vec(),
        b"{\"access_token\":\"\",\"token_type\":\"Bearer\"}".to_vec(),
        b"{\"access_token\":\"a\\u12\",\"token_type\":\"Bearer\"}".to_vec(),
        b"{\"device_code\":\"d\",\"user_code\":\"u\",\"verification_uri\":\"v\",\"expires_in\":-1}"
            .to_vec(),
        b"{\"device_code\":\"d\",\"user_code\":\"u\",\"verification_uri\":\"v\",\"expires_in\":0}"
            .to_vec(),
        vec![0xff; 64],
        fixture("gateway_error.html"),
    ];
    for _ in 0..200 {
        let len = (rnd() % 300) as usize;
        bodies.push((0..len).map(|_| rnd() as u8).collect());
    }
    for status in [200u16, 400, 401, 500] {
        for body in &bodies {
            // Authorizing.
            let mut h = Harness::default();
            h.expect_transmit(RequestKind::DeviceAuthorization);
            assert!(h.respond(status, body).is_err(), "{status} {body:?}");
            assert!(h.flow.poll_timeout().is_some() || h.flow.outcome().is_some());
            // Polling.
            let mut h = Harness::default();
            h.get_code();
            h.advance();
            h.expect_transmit(RequestKind::PollToken);
            assert!(h.respond(status, body).is_err(), "{status} {body:?}");
            assert!(!h.flow.is_authorized());
            // Refreshing.
            let mut h = Harness::default();
            h.login();
            h.advance();
            h.expect_transmit(RequestKind::Refresh);
            assert!(h.respond(status, body).is_err(), "{status} {body:?}");
            assert!(h.flow.tokens().is_some(), "garbage never discards tokens");
        }
    }
}

#[test]
fn oversized_and_unknown_values_are_clear_errors() {
    let mut h = Harness::default();
    h.get_code();
    h.advance();
    h.expect_transmit(RequestKind::PollToken);
    let huge = format!(
        r#"{{"access_token":"{}","token_type":"Bearer","expires_in":900}}"#,
        "a".repeat(ACCESS_TOKEN_CAP + 1)
    );
    let too_long = Error::Malformed(Malformed::TooLong {
        field: Field::AccessToken,
        capacity: ACCESS_TOKEN_CAP,
    });
    assert_eq!(h.respond(200, huge.as_bytes()), Err(too_long));
    // Permanent (issue 15): reported once, not retried.
    assert_eq!(h.events(), vec![Ev::Failed(too_long)]);
    assert_eq!(h.flow.poll_timeout(), None);
    let mut h = Harness::default();
    h.get_code();
    h.advance();
    h.expect_transmit(RequestKind::PollToken);
    assert_eq!(
        h.respond_fixture(200, "token_mac.json"),
        Err(Error::Malformed(Malformed::UnsupportedTokenType))
    );
    h.events();
    // An exactly full token fits.
    let mut h = Harness::default();
    h.get_code();
    h.advance();
    h.expect_transmit(RequestKind::PollToken);
    let full = format!(
        r#"{{"access_token":"{}","token_type":"bearer"}}"#,
        "a".repeat(ACCESS_TOKEN_CAP)
    );
    h.respond(200, full.as_bytes()).unwrap();
    assert_eq!(
        h.flow.tokens().unwrap().access_token().len(),
        ACCESS_TOKEN_CAP
    );
    // No expires_in: no expiry known, no refresh timer.
    assert_eq!(h.flow.poll_timeout(), None);
}

#[test]
fn escaped_json_and_defaults_are_understood() {
    let mut h = Harness::default();
    h.expect_transmit(RequestKind::DeviceAuthorization);
    h.respond_fixture(200, "device_authorization_escaped_minimal.json")
        .unwrap();
    let ev = h.events();
    assert_eq!(
        ev,
        vec![Ev::ShowCode {
            user_code: "WDJB-MJHT".into(),
            uri: "https://example.com/device".into(),
            complete: None,
            expires_at: h.now + Duration::from_secs(1800),
        }]
    );
    assert_eq!(
        h.flow.interval(),
        Duration::from_secs(5),
        "RFC 8628 default interval"
    );
    h.advance();
    let body = h.expect_transmit(RequestKind::PollToken);
    assert!(body.contains("device_code=abc%2Fdef"), "{body}");
}

#[test]
fn client_errors_stop_the_flow() {
    for (status, name, code) in [
        (401, "invalid_client.json", ErrorCode::InvalidClient),
        (400, "unknown", ErrorCode::Other),
        (400, "scope", ErrorCode::InvalidScope),
    ] {
        let mut h = Harness::default();
        h.expect_transmit(RequestKind::DeviceAuthorization);
        let r = match name {
            "unknown" => h.respond(status, br#"{"error":"teapot"}"#),
            "scope" => h.respond(
                status,
                br#"{"error":"invalid_scope","error_description":"no"}"#,
            ),
            n => h.respond_fixture(status, n),
        };
        let e = Error::Server(OAuthError { code, status });
        assert_eq!(r, Err(e));
        assert_eq!(h.events(), vec![Ev::Failed(e)]);
        assert_eq!(h.flow.outcome(), Some(Outcome::Failed(e)));
        assert_eq!(h.transmit(), None);
    }
}

#[test]
fn refreshes_before_expiry_and_persists_rotation() {
    let mut h = Harness::default();
    h.login();
    let logged_in = h.now;
    let t0 = h.flow.tokens().unwrap().clone();
    // 900 s token, 60 s margin → refresh at 840 s.
    h.advance();
    assert_eq!(h.now - logged_in, Duration::from_secs(840));
    assert_eq!(
        h.flow.access_token(h.now),
        Some(t0.access_token()),
        "still valid while refreshing"
    );
    let body = h.expect_transmit(RequestKind::Refresh);
    assert_eq!(
        body,
        format!(
            "grant_type=refresh_token&refresh_token={}&client_id=authgate-cli",
            t0.refresh_token().unwrap()
        )
    );
    h.respond_fixture(200, "token_refreshed.json").unwrap();
    let fresh = fixture_json("token_refreshed.json");
    assert_eq!(
        h.events(),
        vec![Ev::Refreshed {
            access: fresh["access_token"].as_str().unwrap().into(),
            refresh: Some(fresh["refresh_token"].as_str().unwrap().into()),
        }]
    );
    let refreshed_at = h.now;
    h.advance();
    assert_eq!(h.now - refreshed_at, Duration::from_secs(840));

    // A server that does not rotate: the old refresh token and scope are kept.
    let body = h.expect_transmit(RequestKind::Refresh);
    assert!(body.contains(fresh["refresh_token"].as_str().unwrap()));
    h.respond_fixture(200, "token_no_rotation.json").unwrap();
    let t = h.flow.tokens().unwrap();
    assert_eq!(t.refresh_token(), fresh["refresh_token"].as_str());
    assert_eq!(t.scope(), Some("read write"));
}

#[test]
fn short_lived_tokens_refresh_at_half_life() {
    let mut h = Harness::default();
    h.get_code();
    h.advance();
    h.expect_transmit(RequestKind::PollToken);
    h.respond(
        200,
        br#"{"access_token":"a","token_type":"Bearer","expires_in":30,"refresh_token":"r"}"#,
    )
    .unwrap();
    let start = h.now;
    h.advance();
    assert_eq!(h.now - start, Duration::from_secs(15));
    h.expect_transmit(RequestKind::Refresh);
}

#[test]
fn transient_refresh_failures_retry_and_keep_the_token() {
    let mut h = Harness::default();
    h.login();
    h.advance();
    h.expect_transmit(RequestKind::Refresh);
    h.flow.handle_transport_error(h.now).unwrap();
    assert!(matches!(
        h.events()[..],
        [Ev::Retrying {
            attempt: 1,
            error: Error::Transport,
            ..
        }]
    ));
    h.advance();
    h.expect_transmit(RequestKind::Refresh);
    h.respond_fixture(503, "temporarily_unavailable.json")
        .unwrap_err();
    assert!(h.flow.access_token(h.now).is_some());
    h.advance();
    h.expect_transmit(RequestKind::Refresh);
    h.respond_fixture(200, "token_refreshed.json").unwrap();
    assert!(matches!(
        h.events()[..],
        [Ev::Retrying { .. }, Ev::Refreshed { .. }]
    ));
}

#[test]
fn rejected_refresh_token_starts_a_new_device_flow() {
    let mut h = Harness::default();
    h.login();
    h.advance();
    h.expect_transmit(RequestKind::Refresh);
    assert_eq!(
        h.respond_fixture(400, "invalid_grant.json"),
        Err(Error::Server(OAuthError {
            code: ErrorCode::InvalidGrant,
            status: 400
        }))
    );
    assert_eq!(h.events(), vec![Ev::TokensDiscarded]);
    assert_eq!(h.flow.tokens(), None);
    assert_eq!(h.flow.access_token(h.now), None);
    h.expect_transmit(RequestKind::DeviceAuthorization);
    h.respond_fixture(200, "device_authorization_renewed.json")
        .unwrap();
    assert!(
        matches!(&h.events()[..], [Ev::ShowCode { user_code, .. }] if user_code == "LMNP-QRST")
    );
}

#[test]
fn without_a_refresh_token_expiry_means_a_new_login() {
    let mut h = Harness::default();
    h.get_code();
    h.advance();
    h.expect_transmit(RequestKind::PollToken);
    h.respond(
        200,
        br#"{"access_token":"a","token_type":"Bearer","expires_in":600}"#,
    )
    .unwrap();
    h.events();
    let start = h.now;
    h.advance();
    assert_eq!(h.now - start, Duration::from_secs(600));
    assert_eq!(h.events(), vec![Ev::TokensDiscarded]);
    h.expect_transmit(RequestKind::DeviceAuthorization);
}

#[test]
fn resume_from_flash_bytes() {
    let mut h = Harness::default();
    h.login();
    let mut flash = [0xffu8; TOKENS_MAX_BYTES];
    let n = h.flow.tokens().unwrap().to_bytes(&mut flash).unwrap().len();
    let stored = Tokens::from_bytes(&flash[..n]).unwrap();
    assert_eq!(&stored, h.flow.tokens().unwrap());

    // Same clock (e.g. Unix time on Linux): the refresh stays where it was.
    let later = h.now + Duration::from_secs(100);
    let resumed = DeviceFlow::resume(Config::new("authgate-cli"), stored.clone(), later);
    assert_eq!(resumed.poll_timeout(), h.flow.poll_timeout());
    assert!(resumed.is_authorized());
    assert_eq!(resumed.access_token(later), Some(stored.access_token()));
    assert_eq!(
        resumed.access_token(later + Duration::from_secs(900)),
        None,
        "expired"
    );

    // A clock that restarted at boot: forget the expiry, refresh at once.
    let mut boot = stored;
    boot.forget_expiry();
    let mut h2 = Harness {
        flow: DeviceFlow::resume(Config::new("authgate-cli"), boot, Instant::ZERO),
        now: Instant::ZERO,
        buf: vec![0; 2048],
    };
    h2.expect_transmit(RequestKind::Refresh);
    h2.respond_fixture(200, "token_refreshed.json").unwrap();
    assert!(matches!(h2.events()[..], [Ev::Refreshed { .. }]));
}

#[test]
fn logout_revokes_refresh_then_access_token() {
    let mut h = Harness::default();
    h.login();
    let t = h.flow.tokens().unwrap().clone();
    h.flow.logout(h.now).unwrap();
    let body = h.expect_transmit(RequestKind::RevokeRefreshToken);
    assert_eq!(
        body,
        format!(
            "token={}&token_type_hint=refresh_token&client_id=authgate-cli",
            t.refresh_token().unwrap()
        )
    );
    // A temporary failure is retried.
    h.respond_fixture(503, "temporarily_unavailable.json")
        .unwrap_err();
    h.advance();
    h.expect_transmit(RequestKind::RevokeRefreshToken);
    h.respond(200, b"").unwrap();
    let body = h.expect_transmit(RequestKind::RevokeAccessToken);
    assert!(body.starts_with(&format!(
        "token={}&token_type_hint=access_token",
        t.access_token()
    )));
    h.respond(400, br#"{"error":"unsupported_token_type"}"#)
        .unwrap_err();
    let ev = h.events();
    assert_eq!(
        ev.last(),
        Some(&Ev::LoggedOut { confirmed: true }),
        "{ev:?}"
    );
    assert_eq!(h.flow.tokens(), None);
    assert_eq!(h.flow.outcome(), Some(Outcome::LoggedOut));
    assert_eq!(h.flow.poll_timeout(), None);
}

#[test]
fn logout_completes_unconfirmed_when_the_server_is_unreachable() {
    let mut h = Harness::default();
    h.login();
    h.flow.logout(h.now).unwrap();
    let mut requests = 0;
    loop {
        if h.transmit().is_some() {
            requests += 1;
            h.flow.handle_transport_error(h.now).unwrap();
            continue;
        }
        if h.flow.poll_timeout().is_none() {
            break;
        }
        h.advance();
    }
    assert_eq!(requests, 6, "3 attempts for each token");
    assert_eq!(h.events().last(), Some(&Ev::LoggedOut { confirmed: false }));
    assert_eq!(h.flow.tokens(), None);
}

#[test]
fn small_buffers_get_the_required_size_and_nothing_is_lost() {
    let mut h = Harness::default();
    h.login();
    h.flow.logout(h.now).unwrap();
    let mut small = [0u8; 16];
    let Err(Error::BufferTooSmall { required }) = h.flow.poll_transmit(h.now, &mut small) else {
        panic!("expected BufferTooSmall");
    };
    assert_eq!(small, [0u8; 16], "nothing written");
    let mut exact = vec![0u8; required];
    let t = h.flow.poll_transmit(h.now, &mut exact).unwrap().unwrap();
    assert_eq!(t.len, required);
    assert_eq!(t.kind, RequestKind::RevokeRefreshToken);
}

#[test]
fn api_misuse_is_reported_not_panicked() {
    let mut h = Harness::default();
    assert_eq!(
        h.respond(200, b"{}"),
        Err(Error::ApiMisuse(ApiMisuse::NoRequestInFlight))
    );
    assert_eq!(
        h.flow.handle_transport_error(h.now),
        Err(ApiMisuse::NoRequestInFlight)
    );
    assert_eq!(
        h.flow.logout(h.now),
        Err(Error::ApiMisuse(ApiMisuse::NoTokens))
    );
    h.expect_transmit(RequestKind::DeviceAuthorization);
    assert_eq!(
        h.flow.restart(h.now),
        Err(Error::ApiMisuse(ApiMisuse::RequestInFlight))
    );
    h.respond_fixture(200, "device_authorization.json").unwrap();
    // Timers wait while a request is outstanding.
    h.advance();
    h.expect_transmit(RequestKind::PollToken);
    let deadline = h.now + Duration::from_secs(10_000);
    h.flow.handle_timeout(deadline);
    assert_eq!(h.flow.in_flight(), Some(RequestKind::PollToken));
    // Time going backwards is treated as the latest time seen.
    h.flow
        .handle_response(Instant::ZERO, 400, &fixture("authorization_pending.json"))
        .unwrap();
    // The code expired while the poll was out: that deadline is overdue and fires now.
    let overdue = h.flow.poll_timeout().unwrap();
    assert!(overdue < deadline);
    h.flow.handle_timeout(Instant::ZERO);
    assert_eq!(h.events(), vec![Ev::CodeExpired { restarting: false }]);
}

#[test]
fn confidential_clients_send_their_secret() {
    let mut c = Config::new("svc");
    c.client_secret = Some("s3cr&t");
    c.device_authorization_path = "/custom/device";
    let mut h = Harness::new(c);
    let t = h.flow.poll_transmit(h.now, &mut h.buf).unwrap().unwrap();
    assert_eq!(t.path, "/custom/device");
    assert_eq!(t.body(&h.buf), b"client_id=svc&client_secret=s3cr%26t");
}

/// Replays bodies captured from the real AuthGate server (`fixtures/authgate-*.json`,
/// one session: code, pending, slow_down, tokens, reused code, refresh, reused
/// refresh token) through the flow.
#[test]
fn replays_a_captured_authgate_session() {
    let mut h = Harness::default();
    h.expect_transmit(RequestKind::DeviceAuthorization);
    h.respond_fixture(200, "authgate-device_authorization.json")
        .unwrap();
    let dev = fixture_json("authgate-device_authorization.json");
    let ev = h.events();
    let [
        Ev::ShowCode {
            user_code,
            uri,
            complete,
            ..
        },
    ] = &ev[..]
    else {
        panic!("{ev:?}")
    };
    assert_eq!(user_code, dev["user_code"].as_str().unwrap());
    assert_eq!(uri, dev["verification_uri"].as_str().unwrap());
    assert_eq!(
        complete.as_deref(),
        dev["verification_uri_complete"].as_str()
    );
    let interval = Duration::from_secs(dev["interval"].as_u64().unwrap());
    assert_eq!(h.flow.interval(), interval);

    let before = h.now;
    h.advance();
    assert_eq!(h.now - before, interval);
    let body = h.expect_transmit(RequestKind::PollToken);
    assert!(body.contains(&format!(
        "device_code={}",
        dev["device_code"].as_str().unwrap()
    )));
    h.respond_fixture(400, "authgate-authorization_pending.json")
        .unwrap();
    h.advance();
    h.expect_transmit(RequestKind::PollToken);
    h.respond_fixture(400, "authgate-slow_down.json").unwrap();
    assert_eq!(
        h.events(),
        vec![Ev::SlowDown(interval + Duration::from_secs(5))]
    );
    h.advance();
    h.expect_transmit(RequestKind::PollToken);
    h.respond_fixture(200, "authgate-token.json").unwrap();
    let tok = fixture_json("authgate-token.json");
    let access = tok["access_token"].as_str().unwrap();
    assert!(
        access.starts_with("v4.public.") && (400..=700).contains(&access.len()),
        "{}",
        access.len()
    );
    assert_eq!(
        h.events(),
        vec![Ev::Authorized {
            access: access.into(),
            refresh: tok["refresh_token"].as_str().map(Into::into)
        }]
    );

    // Refresh with rotation, then the server's answer to a reused refresh token.
    h.advance();
    let body = h.expect_transmit(RequestKind::Refresh);
    assert!(body.contains(tok["refresh_token"].as_str().unwrap()));
    h.respond_fixture(200, "authgate-token_refreshed.json")
        .unwrap();
    let fresh = fixture_json("authgate-token_refreshed.json");
    assert_eq!(
        h.flow.tokens().unwrap().refresh_token(),
        fresh["refresh_token"].as_str()
    );
    h.events();
    h.advance();
    h.expect_transmit(RequestKind::Refresh);
    assert!(
        h.respond_fixture(400, "authgate-refresh_reuse.json")
            .is_err()
    );
    assert_eq!(h.events(), vec![Ev::TokensDiscarded]);

    // A used device code ends that code like an expiry.
    h.expect_transmit(RequestKind::DeviceAuthorization);
    h.respond_fixture(200, "authgate-device_authorization.json")
        .unwrap();
    h.events();
    h.advance();
    h.expect_transmit(RequestKind::PollToken);
    assert_eq!(
        h.respond_fixture(400, "authgate-device_code_used.json"),
        Err(Error::Server(OAuthError {
            code: ErrorCode::InvalidGrant,
            status: 400
        }))
    );
    assert_eq!(h.events(), vec![Ev::CodeExpired { restarting: false }]);
}
