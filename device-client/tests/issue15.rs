//! Regression tests for the four device-flow bugs of issue 15. Each was written
//! against the code before the fix and failed there (see the report on branch
//! `h-board`); they use only API that existed then, so they compile on both.

use authgate_device::{
    Config, DeviceFlow, Duration, Error, Event, Instant, Malformed, RequestKind, Tokens,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Event names only; enough for these tests.
fn drain(flow: &mut DeviceFlow<'_>) -> Vec<&'static str> {
    let mut out = Vec::new();
    while let Some(e) = flow.poll_event() {
        out.push(match e {
            Event::ShowCode { .. } => "ShowCode",
            Event::SlowDown { .. } => "SlowDown",
            Event::Retrying { .. } => "Retrying",
            Event::CodeExpired { .. } => "CodeExpired",
            Event::Denied => "Denied",
            Event::Authorized(_) => "Authorized",
            Event::Refreshed(_) => "Refreshed",
            Event::TokensDiscarded => "TokensDiscarded",
            Event::LoggedOut { .. } => "LoggedOut",
            Event::Failed(_) => "Failed",
            _ => "other",
        });
    }
    out
}

fn transmit(flow: &mut DeviceFlow<'_>, now: Instant) -> Option<RequestKind> {
    let mut buf = [0u8; 2048];
    flow.poll_transmit(now, &mut buf)
        .expect("buffer fits")
        .map(|t| t.kind)
}

/// Logs in with `token_body` as the token answer; returns the time of login.
fn login(flow: &mut DeviceFlow<'_>, mut now: Instant, token_body: &[u8]) -> Instant {
    assert_eq!(transmit(flow, now), Some(RequestKind::DeviceAuthorization));
    assert!(
        flow.handle_response(now, 200, &fixture("device_authorization.json"))
            .is_ok()
    );
    assert_eq!(drain(flow), ["ShowCode"]);
    now = flow.poll_timeout().unwrap();
    flow.handle_timeout(now);
    assert_eq!(transmit(flow, now), Some(RequestKind::PollToken));
    assert!(flow.handle_response(now, 200, token_body).is_ok());
    assert_eq!(drain(flow), ["Authorized"]);
    now
}

const NO_EXPIRY: &[u8] = br#"{"access_token":"a","token_type":"Bearer","refresh_token":"r"}"#;

/// Bug 1: tokens without `expires_in` but with a refresh token were refreshed at once,
/// and every refresh answer without `expires_in` scheduled the next one at once.
#[test]
fn bug1_no_expires_in_does_not_cause_a_refresh_storm() {
    let start = Instant::from_millis(1_000_000);
    let mut flow = DeviceFlow::new(Config::new("authgate-cli"), start);
    let mut now = login(&mut flow, start, NO_EXPIRY);
    let mut refreshes = 0;
    for _ in 0..5 {
        assert_eq!(
            transmit(&mut flow, now),
            None,
            "no refresh right after tokens"
        );
        let at = flow.poll_timeout().expect("a refresh is scheduled");
        assert!(
            at.saturating_duration_since(now).as_secs() >= 30 * 60,
            "next refresh only {:?} after the last tokens",
            at.saturating_duration_since(now)
        );
        now = at;
        flow.handle_timeout(now);
        assert_eq!(transmit(&mut flow, now), Some(RequestKind::Refresh));
        assert!(flow.handle_response(now, 200, NO_EXPIRY).is_ok());
        assert_eq!(drain(&mut flow), ["Refreshed"]);
        refreshes += 1;
    }
    assert_eq!(refreshes, 5);
}

/// Bug 2: after a reboot (`forget_expiry`) tokens without a refresh token left the
/// flow idle forever; it must start a new device flow.
#[test]
fn bug2_resume_without_refresh_token_after_forget_expiry_starts_a_new_login() {
    let mut tokens = Tokens::new("a", None, None, Some(Instant::from_millis(900_000))).unwrap();
    tokens.forget_expiry();
    let mut flow = DeviceFlow::resume(Config::new("authgate-cli"), tokens, Instant::ZERO);
    assert_eq!(drain(&mut flow), ["TokensDiscarded"]);
    assert!(flow.tokens().is_none());
    assert_eq!(
        transmit(&mut flow, Instant::ZERO),
        Some(RequestKind::DeviceAuthorization)
    );
}

/// Bug 3: a token answer that cannot be stored (too long, wrong type) was retried
/// forever; it is permanent, surfaces once as `Failed` and stops the flow.
#[test]
fn bug3_permanent_malformed_answers_fail_once_and_stop() {
    let too_long = format!(
        r#"{{"access_token":"{}","token_type":"Bearer","expires_in":900}}"#,
        "a".repeat(authgate_device::ACCESS_TOKEN_CAP + 1)
    );
    for body in [too_long.into_bytes(), fixture("token_mac.json")] {
        let mut now = Instant::from_millis(1_000_000);
        let mut flow = DeviceFlow::new(Config::new("authgate-cli"), now);
        transmit(&mut flow, now);
        let _ = flow.handle_response(now, 200, &fixture("device_authorization.json"));
        drain(&mut flow);
        now = flow.poll_timeout().unwrap();
        flow.handle_timeout(now);
        assert_eq!(transmit(&mut flow, now), Some(RequestKind::PollToken));
        let _ = flow.handle_response(now, 200, &body);
        assert_eq!(drain(&mut flow), ["Failed"]);
        assert!(matches!(
            flow.outcome(),
            Some(authgate_device::Outcome::Failed(Error::Malformed(
                Malformed::TooLong { .. } | Malformed::UnsupportedTokenType
            )))
        ));
        assert_eq!(transmit(&mut flow, now), None);
        assert_eq!(flow.poll_timeout(), None, "nothing is retried");
    }
    // A truncated body is still transient: retried.
    let mut now = Instant::from_millis(1_000_000);
    let mut flow = DeviceFlow::new(Config::new("authgate-cli"), now);
    transmit(&mut flow, now);
    let _ = flow.handle_response(now, 200, &fixture("device_authorization.json"));
    drain(&mut flow);
    now = flow.poll_timeout().unwrap();
    flow.handle_timeout(now);
    transmit(&mut flow, now);
    let _ = flow.handle_response(now, 200, br#"{"access_token":"abc"#);
    assert_eq!(drain(&mut flow), ["Retrying"]);
    assert!(flow.poll_timeout().is_some());
}

/// Bug 4a: a driver that polls events late must still get `Authorized`; the queue used
/// to drop the oldest of 8 events silently.
#[test]
fn bug4_authorized_is_never_dropped_from_the_event_queue() {
    let mut now = Instant::from_millis(1_000_000);
    let mut flow = DeviceFlow::new(Config::new("authgate-cli"), now);
    let mut seen = Vec::new();
    let mut buf = [0u8; 2048];
    let mut authorized = false;
    // A careless driver: it reads events only when the flow refuses to go on.
    for _ in 0..40 {
        match flow.poll_transmit(now, &mut buf) {
            Ok(Some(t)) => match t.kind {
                RequestKind::DeviceAuthorization => {
                    let _ = flow.handle_response(now, 200, &fixture("device_authorization.json"));
                }
                RequestKind::PollToken if !authorized => {
                    authorized = true;
                    let _ = flow.handle_response(now, 200, &fixture("token.json"));
                    // Lose the connection on every refresh from now on.
                    let _ = flow.refresh(now);
                }
                _ => {
                    let _ = flow.handle_transport_error(now);
                }
            },
            Ok(None) => {
                now = flow.poll_timeout().expect("armed");
                flow.handle_timeout(now);
            }
            Err(_) => seen.extend(drain(&mut flow)),
        }
    }
    seen.extend(drain(&mut flow));
    assert!(seen.len() > 8, "{seen:?}");
    assert_eq!(
        seen.iter().filter(|e| **e == "Authorized").count(),
        1,
        "{seen:?}"
    );
    // The ShowCode queued first is skipped as stale: its code was redeemed before the
    // driver looked (by design, `poll_event` never shows a dead code).
    assert_eq!(seen[0], "Authorized", "{seen:?}");
}

/// Bug 4b: an answer the flow already turned into an event (here `Retrying`) must not
/// also come back as `Err`.
#[test]
fn bug4_handled_answers_are_events_not_errors() {
    let now = Instant::from_millis(1_000_000);
    let mut flow = DeviceFlow::new(Config::new("authgate-cli"), now);
    transmit(&mut flow, now);
    assert!(
        flow.handle_response(now, 503, &fixture("temporarily_unavailable.json"))
            .is_ok()
    );
    assert_eq!(drain(&mut flow), ["Retrying"]);
    let now = flow.poll_timeout().unwrap();
    flow.handle_timeout(now);
    transmit(&mut flow, now);
    assert!(
        flow.handle_response(now, 502, b"<html>bad gateway</html>")
            .is_ok()
    );
    assert!(
        flow.handle_transport_error(now).is_err(),
        "nothing in flight"
    );
    assert_eq!(drain(&mut flow), ["Retrying"]);
}

/// Fails the device authorization `n` times with transport errors and returns the
/// waits between attempts, in ms.
fn transport_failure_waits(config: Config<'static>, n: usize) -> Vec<u64> {
    let mut now = Instant::from_millis(1_000_000);
    let mut flow = DeviceFlow::new(config, now);
    let mut waits = Vec::new();
    for _ in 0..n {
        assert_eq!(
            transmit(&mut flow, now),
            Some(RequestKind::DeviceAuthorization)
        );
        flow.handle_transport_error(now).unwrap();
        drain(&mut flow);
        let at = flow.poll_timeout().unwrap();
        waits.push(at.saturating_duration_since(now).as_millis());
        now = at;
        flow.handle_timeout(now);
    }
    waits
}

#[test]
fn backoff_jitter_is_seeded_bounded_and_deterministic() {
    let plain = transport_failure_waits(Config::new("authgate-cli"), 8);
    assert_eq!(
        plain,
        [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000],
        "no seed, no jitter"
    );
    let seeded = |seed| {
        let mut c = Config::new("authgate-cli");
        c.jitter_seed = Some(seed);
        transport_failure_waits(c, 8)
    };
    let a = seeded(7);
    assert_eq!(a, seeded(7), "same seed, same waits");
    assert_ne!(a, seeded(8), "another seed spreads differently");
    assert_ne!(a, plain);
    for (got, full) in a.iter().zip(&plain) {
        assert!(
            *got >= full / 2 && got <= full,
            "{got} not in [{}, {full}]",
            full / 2
        );
    }
    // Seed 0 is a valid seed too (not "off").
    assert_ne!(seeded(0), plain);
}

#[test]
fn retry_after_is_honoured_and_capped() {
    let wait_after = |status: u16, header: &[u8]| {
        let now = Instant::from_millis(1_000_000);
        let mut flow = DeviceFlow::new(Config::new("authgate-cli"), now);
        transmit(&mut flow, now);
        flow.handle_retry_after(header).unwrap();
        flow.handle_response(now, status, br#"{"error":"temporarily_unavailable"}"#)
            .unwrap();
        assert_eq!(drain(&mut flow), ["Retrying"]);
        flow.poll_timeout()
            .unwrap()
            .saturating_duration_since(now)
            .as_secs()
    };
    assert_eq!(wait_after(503, b"120"), 120);
    assert_eq!(wait_after(429, b" 30 "), 30);
    assert_eq!(wait_after(503, b"0"), 1, "never below the backoff");
    assert_eq!(wait_after(503, b"99999999"), 3600, "capped");
    assert_eq!(
        wait_after(503, b"Wed, 21 Oct 2015 07:28:00 GMT"),
        1,
        "dates ignored"
    );
    assert_eq!(wait_after(503, b"-5"), 1);
    // Only for the answer it came with.
    let now = Instant::from_millis(1_000_000);
    let mut flow = DeviceFlow::new(Config::new("authgate-cli"), now);
    assert!(flow.handle_retry_after(b"5").is_err(), "nothing in flight");
    transmit(&mut flow, now);
    flow.handle_retry_after(b"120").unwrap();
    flow.handle_response(now, 200, &fixture("device_authorization.json"))
        .unwrap();
    drain(&mut flow);
    let at = flow.poll_timeout().unwrap();
    flow.handle_timeout(at);
    transmit(&mut flow, at);
    flow.handle_transport_error(at).unwrap();
    assert_eq!(
        flow.poll_timeout()
            .unwrap()
            .saturating_duration_since(at)
            .as_secs(),
        5,
        "the poll interval, not the old Retry-After"
    );
}

/// Bug 1 again, from a boot: resumed tokens of unknown age are refreshed once, and a
/// refresh answer without `expires_in` then waits the assumed lifetime.
#[test]
fn resume_refreshes_once_then_waits() {
    let mut tokens = Tokens::new("a", Some("r"), None, Some(Instant::from_millis(5))).unwrap();
    tokens.forget_expiry();
    let mut flow = DeviceFlow::resume(Config::new("authgate-cli"), tokens, Instant::ZERO);
    assert_eq!(
        transmit(&mut flow, Instant::ZERO),
        Some(RequestKind::Refresh)
    );
    flow.handle_response(Instant::ZERO, 200, NO_EXPIRY).unwrap();
    assert_eq!(drain(&mut flow), ["Refreshed"]);
    assert_eq!(transmit(&mut flow, Instant::ZERO), None);
    assert_eq!(
        flow.poll_timeout(),
        Some(Instant::from_millis(
            authgate_device::DEFAULT_ASSUMED_LIFETIME.as_millis()
                - Duration::from_secs(60).as_millis()
        ))
    );
    // A tiny expires_in is floored at the minimum refresh delay.
    let now = flow.poll_timeout().unwrap();
    flow.handle_timeout(now);
    transmit(&mut flow, now);
    flow.handle_response(
        now,
        200,
        br#"{"access_token":"b","token_type":"Bearer","expires_in":1}"#,
    )
    .unwrap();
    assert_eq!(
        flow.poll_timeout(),
        Some(now + authgate_device::DEFAULT_MIN_REFRESH_DELAY)
    );
}
