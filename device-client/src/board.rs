//! A board's sign-out button and status LED, as pure decisions the firmware only wires
//! to pins.
//!
//! - [`Debouncer`] turns raw samples of a push button into one press per push.
//! - [`SignOutButton`] decides what a press does to a [`DeviceFlow`]: signed in, it
//!   signs out (RFC 7009 revocation of the refresh token, then the access token, by
//!   [`DeviceFlow::logout`]) and then starts a new device flow; waiting for approval
//!   or stopped, it asks for a fresh code at once.
//! - [`Indicator`] says what one LED shows for the flow's state, and
//!   [`Indicator::is_lit`] whether it is lit at a given instant.
//!
//! Everything takes `now`, like the flow: the same rules run on a board and in host
//! tests with a fake clock.

use crate::flow::{DeviceFlow, Outcome};
use crate::time::{Duration, Instant};

/// How long a button must read the same before a change counts: longer than contact
/// bounce (a few ms), shorter than a deliberate tap.
pub const BUTTON_DEBOUNCE: Duration = Duration::from_millis(30);

/// Turns samples of a push button (`true`: pressed) into presses, one per push.
///
/// A change counts once the button has read the same for [`BUTTON_DEBOUNCE`]; a press is a
/// settled change from released to pressed. A button held down at start-up is not a
/// press until it has been released once.
#[derive(Clone, Copy, Debug)]
pub struct Debouncer {
    /// The settled level.
    stable: bool,
    /// The level of the latest sample, and since when it has read so.
    raw: bool,
    since: Instant,
    /// Whether the button has been seen released (settled) since start-up.
    armed: bool,
}

impl Debouncer {
    /// A button assumed released; the first samples settle it.
    pub const fn new(now: Instant) -> Self {
        Debouncer {
            stable: false,
            raw: false,
            since: now,
            armed: false,
        }
    }

    /// Feeds one sample taken at `now`; returns `true` exactly once per press.
    /// Sample every few milliseconds (10–20 ms suits [`BUTTON_DEBOUNCE`]).
    pub fn sample(&mut self, now: Instant, pressed: bool) -> bool {
        if pressed != self.raw {
            self.raw = pressed;
            self.since = now;
            return false;
        }
        if now.saturating_duration_since(self.since) < BUTTON_DEBOUNCE {
            return false;
        }
        // Settled at `pressed`.
        if !pressed {
            self.armed = true;
        }
        if pressed == self.stable {
            return false;
        }
        self.stable = pressed;
        pressed && self.armed
    }
}

/// What [`SignOutButton::apply`] did to the flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ButtonAction {
    /// Started signing out: revocation requests follow, then [`crate::Event::LoggedOut`]
    /// (erase the stored tokens then), then a new device flow.
    SignOut,
    /// Asked for a new device code: the sign-out finished, or the person pressed while
    /// a code was shown or after the flow stopped.
    NewCode,
}

/// The sign-out button's rules: a press is remembered until the flow can take a
/// command (no request outstanding), then signs out or asks for a new code.
#[derive(Clone, Copy, Debug, Default)]
pub struct SignOutButton {
    pending: bool,
    restart_after_logout: bool,
}

impl SignOutButton {
    /// No press pending.
    pub const fn new() -> Self {
        SignOutButton {
            pending: false,
            restart_after_logout: false,
        }
    }

    /// Records a press (from [`Debouncer::sample`]); [`SignOutButton::apply`] acts on it.
    pub fn press(&mut self) {
        self.pending = true;
    }

    /// Whether a press waits for the flow to become free.
    pub fn is_pending(&self) -> bool {
        self.pending
    }

    /// Acts on a pending press, or starts the new flow after a sign-out this button
    /// began. Call it in the driver loop after draining [`DeviceFlow::poll_event`]
    /// (so a [`crate::Event::LoggedOut`] has erased the tokens from flash) and before
    /// the next request. Does nothing while a request is outstanding.
    pub fn apply(&mut self, flow: &mut DeviceFlow<'_>, now: Instant) -> Option<ButtonAction> {
        if flow.in_flight().is_some() {
            return None;
        }
        if core::mem::take(&mut self.pending) {
            if flow.tokens().is_some() && flow.logout(now).is_ok() {
                self.restart_after_logout = true;
                return Some(ButtonAction::SignOut);
            }
            self.restart_after_logout = false;
            return flow.restart(now).ok().map(|()| ButtonAction::NewCode);
        }
        if self.restart_after_logout && flow.outcome() == Some(Outcome::LoggedOut) {
            self.restart_after_logout = false;
            return flow.restart(now).ok().map(|()| ButtonAction::NewCode);
        }
        None
    }
}

/// What the status LED shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Indicator {
    /// No network yet: a short flash every 2 s.
    JoiningWifi,
    /// Talking to the server without a code or tokens yet, or signing out: 250 ms on,
    /// 250 ms off.
    Working,
    /// A code is shown and waits for the person: slow blink, 1 s on, 1 s off.
    WaitingForApproval,
    /// Signed in: steady on.
    SignedIn,
    /// The flow stopped (denied, expired, a permanent error) or the server is failing
    /// and being retried: fast blink, 100 ms on, 100 ms off.
    Error,
}

impl Indicator {
    /// The indicator for `flow`'s state; `link_up` is whether the network is up.
    pub fn for_flow(flow: &DeviceFlow<'_>, link_up: bool) -> Indicator {
        if !link_up {
            return Indicator::JoiningWifi;
        }
        match flow.outcome() {
            Some(Outcome::LoggedOut) => return Indicator::Working,
            Some(_) => return Indicator::Error,
            None => {}
        }
        if flow.is_authorized() {
            Indicator::SignedIn
        } else if flow.last_error().is_some() {
            Indicator::Error
        } else if flow.code().is_some() {
            Indicator::WaitingForApproval
        } else {
            Indicator::Working
        }
    }

    /// Whether the LED is lit at `now` (any clock; patterns repeat from instant zero).
    pub fn is_lit(self, now: Instant) -> bool {
        let (on, period) = match self {
            Indicator::SignedIn => return true,
            Indicator::JoiningWifi => (100, 2_000),
            Indicator::Working => (250, 500),
            Indicator::WaitingForApproval => (1_000, 2_000),
            Indicator::Error => (100, 200),
        };
        now.as_millis() % period < on
    }

    /// A number for an atomic shared between the task that computes the state and
    /// the one that blinks the LED ([`Indicator::from_u8`] reads it back).
    pub const fn to_u8(self) -> u8 {
        match self {
            Indicator::JoiningWifi => 0,
            Indicator::Working => 1,
            Indicator::WaitingForApproval => 2,
            Indicator::SignedIn => 3,
            Indicator::Error => 4,
        }
    }

    /// The inverse of [`Indicator::to_u8`]; an unknown number reads as `JoiningWifi`.
    pub const fn from_u8(n: u8) -> Indicator {
        match n {
            1 => Indicator::Working,
            2 => Indicator::WaitingForApproval,
            3 => Indicator::SignedIn,
            4 => Indicator::Error,
            _ => Indicator::JoiningWifi,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Config;
    use crate::request::RequestKind;
    use crate::tokens::Tokens;
    use crate::{Event, Transmit};

    const CODE: &[u8] = include_bytes!("../fixtures/device_authorization.json");
    const TOKEN: &[u8] = include_bytes!("../fixtures/token.json");
    const PENDING: &[u8] = include_bytes!("../fixtures/authorization_pending.json");

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    /// Feeds `levels` one every 10 ms from `start`; returns the presses reported.
    fn presses(d: &mut Debouncer, start: u64, levels: &[bool]) -> usize {
        levels
            .iter()
            .enumerate()
            .filter(|&(i, &l)| d.sample(ms(start + 10 * i as u64), l))
            .count()
    }

    #[test]
    fn one_press_per_push_despite_bounce() {
        let mut d = Debouncer::new(ms(0));
        assert_eq!(presses(&mut d, 0, &[false; 5]), 0);
        // Bounce, then held for 200 ms, bounce on release, then released.
        let mut push = [true; 30];
        push[1] = false;
        push[3] = false;
        push[25] = false;
        push[27] = false;
        push[29] = false;
        assert_eq!(presses(&mut d, 50, &push), 1);
        assert_eq!(presses(&mut d, 350, &[false; 10]), 0);
        assert_eq!(presses(&mut d, 450, &[true; 10]), 1, "second push");
    }

    #[test]
    fn a_blip_shorter_than_debounce_is_no_press() {
        let mut d = Debouncer::new(ms(0));
        assert_eq!(presses(&mut d, 0, &[false; 5]), 0);
        assert_eq!(presses(&mut d, 50, &[true, true, false, false, false]), 0);
    }

    #[test]
    fn held_at_start_up_is_no_press_until_released() {
        let mut d = Debouncer::new(ms(0));
        assert_eq!(presses(&mut d, 0, &[true; 20]), 0);
        assert_eq!(presses(&mut d, 200, &[false; 5]), 0);
        assert_eq!(presses(&mut d, 250, &[true; 5]), 1);
    }

    fn signed_in(now: Instant) -> DeviceFlow<'static> {
        let tokens = Tokens::new(
            "v4.public.x",
            Some("r"),
            None,
            Some(now + Duration::from_secs(900)),
        );
        DeviceFlow::resume(Config::new("c"), tokens.unwrap(), now)
    }

    fn drain(flow: &mut DeviceFlow<'_>) -> Option<&'static str> {
        let mut last = None;
        while let Some(e) = flow.poll_event() {
            last = Some(match e {
                Event::ShowCode { .. } => "show",
                Event::LoggedOut { .. } => "logged-out",
                Event::Authorized(_) => "authorized",
                _ => "other",
            });
        }
        last
    }

    fn send<'f>(flow: &mut DeviceFlow<'f>, now: Instant, buf: &mut [u8]) -> Transmit<'f> {
        match flow.poll_transmit(now, buf) {
            Ok(Some(t)) => t,
            other => panic!("no request: {other:?}"),
        }
    }

    #[test]
    fn press_when_signed_in_revokes_forgets_and_starts_a_new_flow() {
        let now = ms(1_000);
        let mut flow = signed_in(now);
        assert_eq!(Indicator::for_flow(&flow, true), Indicator::SignedIn);
        let mut button = SignOutButton::new();
        button.press();
        assert_eq!(button.apply(&mut flow, now), Some(ButtonAction::SignOut));
        assert_eq!(Indicator::for_flow(&flow, true), Indicator::Working);
        let mut buf = [0u8; 2048];
        let t = send(&mut flow, now, &mut buf);
        assert_eq!(t.kind, RequestKind::RevokeRefreshToken);
        let body = core::str::from_utf8(t.body(&buf)).unwrap();
        assert!(
            body.contains("token=r&token_type_hint=refresh_token"),
            "{body}"
        );
        assert_eq!(button.apply(&mut flow, now), None, "request outstanding");
        flow.handle_response(now, 200, b"").unwrap();
        let t = send(&mut flow, now, &mut buf);
        assert_eq!(t.kind, RequestKind::RevokeAccessToken);
        flow.handle_response(now, 200, b"").unwrap();
        assert_eq!(drain(&mut flow), Some("logged-out"));
        assert!(flow.tokens().is_none());
        assert_eq!(button.apply(&mut flow, now), Some(ButtonAction::NewCode));
        assert_eq!(button.apply(&mut flow, now), None, "restarts once");
        let t = send(&mut flow, now, &mut buf);
        assert_eq!(t.kind, RequestKind::DeviceAuthorization);
    }

    #[test]
    fn press_during_a_request_waits_for_its_answer() {
        let now = ms(1_000);
        let mut flow = DeviceFlow::new(Config::new("c"), now);
        let mut buf = [0u8; 2048];
        let _ = send(&mut flow, now, &mut buf);
        let mut button = SignOutButton::new();
        button.press();
        assert_eq!(button.apply(&mut flow, now), None);
        assert!(button.is_pending());
        flow.handle_response(now, 200, CODE).unwrap();
        assert_eq!(drain(&mut flow), Some("show"));
        assert_eq!(
            Indicator::for_flow(&flow, true),
            Indicator::WaitingForApproval
        );
        // Waiting for approval, nothing to revoke: a fresh code at once.
        assert_eq!(button.apply(&mut flow, now), Some(ButtonAction::NewCode));
        assert!(!button.is_pending());
        assert!(flow.code().is_none());
        assert_eq!(
            send(&mut flow, now, &mut buf).kind,
            RequestKind::DeviceAuthorization
        );
    }

    #[test]
    fn press_after_the_flow_stopped_starts_again() {
        let now = ms(1_000);
        let mut flow = DeviceFlow::new(Config::new("c"), now);
        let mut buf = [0u8; 2048];
        let _ = send(&mut flow, now, &mut buf);
        flow.handle_response(now, 400, br#"{"error":"invalid_client"}"#)
            .unwrap();
        drain(&mut flow);
        assert!(matches!(flow.outcome(), Some(Outcome::Failed(_))));
        assert_eq!(Indicator::for_flow(&flow, true), Indicator::Error);
        let mut button = SignOutButton::new();
        button.press();
        assert_eq!(button.apply(&mut flow, now), Some(ButtonAction::NewCode));
        assert_eq!(
            send(&mut flow, now, &mut buf).kind,
            RequestKind::DeviceAuthorization
        );
    }

    #[test]
    fn no_press_changes_nothing() {
        let now = ms(1_000);
        let mut flow = signed_in(now);
        let mut button = SignOutButton::new();
        assert_eq!(button.apply(&mut flow, now), None);
        assert!(flow.is_authorized());
    }

    #[test]
    fn indicator_follows_the_flow() {
        let now = ms(0);
        let mut flow = DeviceFlow::new(Config::new("c"), now);
        assert_eq!(Indicator::for_flow(&flow, false), Indicator::JoiningWifi);
        assert_eq!(Indicator::for_flow(&flow, true), Indicator::Working);
        let mut buf = [0u8; 2048];
        let _ = send(&mut flow, now, &mut buf);
        flow.handle_response(now, 200, CODE).unwrap();
        drain(&mut flow);
        assert_eq!(
            Indicator::for_flow(&flow, true),
            Indicator::WaitingForApproval
        );
        let at = flow.poll_timeout().unwrap();
        flow.handle_timeout(at);
        let _ = send(&mut flow, at, &mut buf);
        flow.handle_response(at, 503, b"down").unwrap();
        assert_eq!(
            Indicator::for_flow(&flow, true),
            Indicator::Error,
            "retrying"
        );
        drain(&mut flow);
        let at = flow.poll_timeout().unwrap();
        flow.handle_timeout(at);
        let _ = send(&mut flow, at, &mut buf);
        flow.handle_response(at, 400, PENDING).unwrap();
        assert_eq!(
            Indicator::for_flow(&flow, true),
            Indicator::WaitingForApproval,
            "recovered"
        );
        drain(&mut flow);
        let at = flow.poll_timeout().unwrap();
        flow.handle_timeout(at);
        let _ = send(&mut flow, at, &mut buf);
        flow.handle_response(at, 200, TOKEN).unwrap();
        assert_eq!(drain(&mut flow), Some("authorized"));
        assert_eq!(Indicator::for_flow(&flow, true), Indicator::SignedIn);
        assert_eq!(Indicator::for_flow(&flow, false), Indicator::JoiningWifi);
    }

    #[test]
    fn patterns_blink_at_their_rates() {
        let lit = |i: Indicator, t: u64| i.is_lit(ms(t));
        assert!((0..5_000).step_by(50).all(|t| lit(Indicator::SignedIn, t)));
        assert!(lit(Indicator::WaitingForApproval, 0) && lit(Indicator::WaitingForApproval, 999));
        assert!(
            !lit(Indicator::WaitingForApproval, 1_000)
                && !lit(Indicator::WaitingForApproval, 1_999)
        );
        assert!(
            lit(Indicator::Error, 50) && !lit(Indicator::Error, 150) && lit(Indicator::Error, 250)
        );
        assert!(lit(Indicator::JoiningWifi, 50) && !lit(Indicator::JoiningWifi, 1_000));
        assert!(lit(Indicator::Working, 100) && !lit(Indicator::Working, 300));
        for i in [
            Indicator::JoiningWifi,
            Indicator::Working,
            Indicator::WaitingForApproval,
            Indicator::SignedIn,
            Indicator::Error,
        ] {
            assert_eq!(Indicator::from_u8(i.to_u8()), i);
        }
    }
}
