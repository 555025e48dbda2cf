//! Issue 15, "a lost answer must not cost the grant": the flow against a fake
//! server that loses its answer at every step (device authorization, a pending
//! poll, the redeeming poll and its retry, a refresh and its retry). The server
//! commits what it answered; the device only sees a transport error. The flow must
//! retry with the credential it still holds (the same device code, the same
//! refresh token), never start over, and end signed in with one live family.
//!
//! The fake applies AuthGate's retry-window rules (`server/src/grant/refresh.rs`,
//! `device.rs`) in miniature; with the window at 0 it is the server before them,
//! and the same lost answer costs the approval.

use std::collections::HashSet;

use authgate_device::{Config, DeviceFlow, Event, Instant, RequestKind};

/// What a grant's current refresh token answered (the server's `IssuedFor`).
#[derive(Clone, Debug, PartialEq)]
enum IssuedFor {
    DeviceCode { at: u64 },
    Refresh { previous: String, at: u64 },
}

#[derive(Debug)]
struct Grant {
    current: String,
    issued_for: IssuedFor,
    revoked: bool,
}

#[derive(Debug, Default)]
struct Code {
    polls: u32,
    /// The grant it yielded.
    redeemed: Option<usize>,
}

/// A token endpoint and device authorization endpoint with the retry window.
struct Fake {
    window: u64,
    codes: Vec<Code>,
    grants: Vec<Grant>,
    minted: u32,
    /// Answers of these steps are lost the first time each is given.
    lose: HashSet<&'static str>,
}

/// The value of `key` in a form body (the flow writes no escapes for these).
fn field<'a>(body: &'a str, key: &str) -> &'a str {
    body.split('&')
        .find_map(|p| p.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in {body}"))
}

fn error(code: &str) -> (u16, String) {
    (400, format!(r#"{{"error":"{code}"}}"#))
}

impl Fake {
    fn new(window: u64) -> Self {
        Fake {
            window,
            codes: Vec::new(),
            grants: Vec::new(),
            minted: 0,
            lose: [
                "device_authorization",
                "pending",
                "redeem",
                "redeem_retry",
                "refresh",
                "refresh_retry",
            ]
            .into_iter()
            .collect(),
        }
    }

    /// A new pair for grant `g`: the access token's body and the refresh token.
    fn mint(&mut self, g: usize) -> (String, String) {
        self.minted += 1;
        let rt = format!("rt-{g}-{}", self.minted);
        let body = format!(
            r#"{{"access_token":"at-{g}-{}","token_type":"Bearer","expires_in":600,"refresh_token":"{rt}"}}"#,
            self.minted
        );
        (body, rt)
    }

    /// Answers one request at `now` (seconds): the step it was, status and body.
    fn answer(&mut self, kind: RequestKind, body: &str, now: u64) -> (&'static str, u16, String) {
        match kind {
            RequestKind::DeviceAuthorization => {
                self.codes.push(Code::default());
                let n = self.codes.len() - 1;
                let body = format!(
                    r#"{{"device_code":"dc-{n}","user_code":"BCDF-GHJK","verification_uri":"http://192.0.2.1/device","expires_in":900,"interval":5}}"#
                );
                ("device_authorization", 200, body)
            }
            RequestKind::PollToken => self.poll(field(body, "device_code"), now),
            RequestKind::Refresh => self.refresh(field(body, "refresh_token"), now),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn poll(&mut self, code: &str, now: u64) -> (&'static str, u16, String) {
        let n: usize = code["dc-".len()..].parse().expect("our code");
        self.codes[n].polls += 1;
        if let Some(g) = self.codes[n].redeemed {
            let grant = &self.grants[g];
            return match grant.issued_for {
                IssuedFor::DeviceCode { at } if !grant.revoked && now < at + self.window => {
                    let (body, rt) = self.mint(g);
                    self.grants[g].current = rt;
                    ("redeem_retry", 200, body)
                }
                _ => {
                    // A replay: the grant it yielded is revoked.
                    self.grants[g].revoked = true;
                    let (s, b) = error("invalid_grant");
                    ("replay", s, b)
                }
            };
        }
        if self.codes[n].polls == 1 {
            // The person approves after this first poll.
            let (s, b) = error("authorization_pending");
            return ("pending", s, b);
        }
        let g = self.grants.len();
        let (body, rt) = self.mint(g);
        self.grants.push(Grant {
            current: rt,
            issued_for: IssuedFor::DeviceCode { at: now },
            revoked: false,
        });
        self.codes[n].redeemed = Some(g);
        ("redeem", 200, body)
    }

    fn refresh(&mut self, rt: &str, now: u64) -> (&'static str, u16, String) {
        let g: usize = rt
            .split('-')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("ours");
        let grant = &self.grants[g];
        if grant.revoked {
            let (s, b) = error("invalid_grant");
            return ("dead", s, b);
        }
        if grant.current == rt {
            let (body, new) = self.mint(g);
            let grant = &mut self.grants[g];
            grant.issued_for = IssuedFor::Refresh {
                previous: grant.current.clone(),
                at: now,
            };
            grant.current = new;
            return ("refresh", 200, body);
        }
        match &grant.issued_for {
            IssuedFor::Refresh { previous, at } if previous == rt && now < at + self.window => {
                let (body, new) = self.mint(g);
                self.grants[g].current = new;
                ("refresh_retry", 200, body)
            }
            _ => {
                self.grants[g].revoked = true;
                let (s, b) = error("invalid_grant");
                ("reuse", s, b)
            }
        }
    }
}

/// What happened to the device, in order.
#[derive(Debug, Default)]
struct Seen {
    codes_shown: u32,
    authorized: u32,
    refreshed: u32,
    discarded: u32,
    lost: Vec<&'static str>,
}

/// Runs the flow against `fake` until it has refreshed twice (or 300 steps).
fn run(fake: &mut Fake) -> (DeviceFlow<'static>, Seen) {
    let start = Instant::from_millis(1_000_000);
    let mut now = start;
    let mut flow = DeviceFlow::new(Config::new("authgate-cli"), now);
    let mut seen = Seen::default();
    let mut buf = vec![0u8; 2048];
    for _ in 0..300 {
        if seen.refreshed >= 2 {
            break;
        }
        let sent = flow
            .poll_transmit(now, &mut buf)
            .expect("buffer fits")
            .map(|t| {
                let body = String::from_utf8(t.body(&buf).to_vec()).expect("ASCII form");
                (t.kind, body)
            });
        if let Some((kind, body)) = sent {
            let secs = (now - start).as_secs();
            let (step, status, answer) = fake.answer(kind, &body, secs);
            if fake.lose.remove(step) {
                // The server committed and answered; the device never hears it.
                seen.lost.push(step);
                flow.handle_transport_error(now)
                    .expect("a request was in flight");
            } else {
                flow.handle_response(now, status, answer.as_bytes())
                    .expect("a request was in flight");
            }
        } else {
            // No timer: the flow has ended.
            let Some(at) = flow.poll_timeout() else {
                break;
            };
            now = at.max(now);
            flow.handle_timeout(now);
        }
        while let Some(e) = flow.poll_event() {
            match e {
                Event::ShowCode { .. } => seen.codes_shown += 1,
                Event::Authorized(_) => seen.authorized += 1,
                Event::Refreshed(_) => seen.refreshed += 1,
                Event::TokensDiscarded => seen.discarded += 1,
                _ => {}
            }
        }
    }
    (flow, seen)
}

#[test]
fn losing_the_answer_at_every_step_still_ends_signed_in_with_one_family() {
    let mut fake = Fake::new(60);
    let (flow, seen) = run(&mut fake);
    assert_eq!(
        seen.lost,
        [
            "device_authorization",
            "pending",
            "redeem",
            "redeem_retry",
            "refresh",
            "refresh_retry"
        ],
        "every step lost its answer once: {seen:?}"
    );
    // One code shown (the first, lost, was never seen), one approval, one grant.
    assert_eq!(seen.codes_shown, 1, "{seen:?}");
    assert_eq!(fake.codes.len(), 2);
    assert_eq!(seen.authorized, 1, "{seen:?}");
    assert_eq!(seen.discarded, 0, "{seen:?}");
    assert_eq!(seen.refreshed, 2, "{seen:?}");
    assert_eq!(fake.grants.len(), 1, "one family");
    let grant = &fake.grants[0];
    assert!(!grant.revoked, "{grant:?}");
    // The device holds the family's one live refresh token.
    let held = flow
        .tokens()
        .and_then(|t| t.refresh_token())
        .expect("signed in");
    assert_eq!(held, grant.current);
    // It kept polling the same code after the lost token answer.
    assert_eq!(fake.codes[1].polls, 4, "pending, redeem, two retries");
}

#[test]
fn without_the_window_a_lost_token_answer_costs_the_approval() {
    // The server before the retry window: after the lost token answer the same
    // code is refused, the device is not signed in, and the approval is lost.
    let mut fake = Fake::new(0);
    let (flow, seen) = run(&mut fake);
    assert_eq!(seen.authorized, 0, "{seen:?}");
    assert!(flow.tokens().is_none());
    assert!(fake.grants[0].revoked);
}
