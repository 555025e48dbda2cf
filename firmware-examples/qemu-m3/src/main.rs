//! `authgate-device` on an emulated Cortex-M3 (QEMU `mps2-an385`, `thumbv7m-none-eabi`)
//! or Cortex-M0 (QEMU `microbit`, `thumbv6m-none-eabi`: the Pico's ISA, and only 16 KiB
//! of RAM), with semihosting.
//!
//! There is no network here: a scripted "server" answers each request the flow makes
//! with captured bodies from `device-client/fixtures`, and the firmware checks every
//! request, event and deadline against what RFC 8628 requires. The clock is fake and
//! jumps to the flow's next deadline. Any mismatch prints what differed and exits
//! QEMU with a failure status, so `scripts/qemu-test.sh` can gate on it.
//!
//! The stack is painted at start and measured at the end, so the run also reports the
//! stack high-water mark next to the statics: on the micro:bit both must fit 16 KiB.
#![no_std]
#![no_main]

use authgate_device::{
    Config, DeviceFlow, Duration, Error, Event, Instant, Malformed, QR_BUFFER_LEN, Qr, RequestKind,
    TOKENS_MAX_BYTES, TextStyle, Tokens,
};
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m as _;
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprint, hprintln};

const DEVICE_AUTHORIZATION: &[u8] =
    include_bytes!("../../../device-client/fixtures/device_authorization.json");
const DEVICE_AUTHORIZATION_RENEWED: &[u8] =
    include_bytes!("../../../device-client/fixtures/device_authorization_renewed.json");
const PENDING: &[u8] = include_bytes!("../../../device-client/fixtures/authorization_pending.json");
const SLOW_DOWN: &[u8] = include_bytes!("../../../device-client/fixtures/slow_down.json");
const UNAVAILABLE: &[u8] =
    include_bytes!("../../../device-client/fixtures/temporarily_unavailable.json");
const TOKEN: &[u8] = include_bytes!("../../../device-client/fixtures/token.json");
const TOKEN_REFRESHED: &[u8] =
    include_bytes!("../../../device-client/fixtures/token_refreshed.json");
const INVALID_GRANT: &[u8] = include_bytes!("../../../device-client/fixtures/invalid_grant.json");
const DENIED: &[u8] = include_bytes!("../../../device-client/fixtures/access_denied.json");

/// Stops the emulator with a failure status after saying what went wrong.
fn fail(what: &str, line: u32) -> ! {
    hprintln!("qemu-m3: FAILED at line {}: {}", line, what);
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}

/// Checks passed so far.
static CHECKS: AtomicU32 = AtomicU32::new(0);

/// Counts a passed check, or stops the emulator with a failure.
fn ok(cond: bool, what: &str, line: u32) {
    if cond {
        // Load and store, not `fetch_add`: ARMv6-M has no atomic read-modify-write, and
        // this firmware has a single thread.
        CHECKS.store(CHECKS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    } else {
        fail(what, line);
    }
}

/// Drives one scripted exchange: the due request must be `kind` and its body must
/// contain `expect_in_body`; the "server" answers `status`/`body`.
struct Rig {
    flow: DeviceFlow<'static>,
    now: Instant,
    buf: [u8; 2048],
}

impl Rig {
    /// The rig in a static, built outside `main`'s frame: on the 16 KiB micro:bit the
    /// flow and its buffer must not sit on the stack under every call the checks make.
    #[inline(never)]
    fn new_static(start: Instant) -> &'static mut Rig {
        let mut config = Config::new("authgate-firmware");
        config.scope = Some("read");
        let rig = cortex_m::singleton!(: Rig = Rig {
            flow: DeviceFlow::new(config, start),
            now: start,
            buf: [0; 2048],
        });
        rig.unwrap_or_else(|| fail("rig built twice", line!()))
    }

    fn exchange(
        &mut self,
        kind: RequestKind,
        expect_in_body: &str,
        status: u16,
        body: &[u8],
        line: u32,
    ) -> Result<(), Error> {
        let t = match self.flow.poll_transmit(self.now, &mut self.buf) {
            Ok(Some(t)) => t,
            Ok(None) => fail("expected a request, none due", line),
            Err(_) => fail("poll_transmit failed", line),
        };
        ok(t.kind == kind, "wrong request kind", line);
        let sent = core::str::from_utf8(t.body(&self.buf)).unwrap_or("");
        ok(
            sent.contains(expect_in_body),
            "request body lacks expected text",
            line,
        );
        // The input only fails on API misuse; what the answer meant is an event, and
        // `last_error` keeps the reason for logs (and for these checks).
        if self.flow.handle_response(self.now, status, body).is_err() {
            fail("handle_response: no request in flight", line);
        }
        self.flow.last_error().map_or(Ok(()), Err)
    }

    /// Jumps the fake clock to the next deadline; returns how far it moved.
    fn advance(&mut self, line: u32) -> Duration {
        let Some(at) = self.flow.poll_timeout() else {
            fail("no timer armed", line)
        };
        let moved = at - self.now;
        self.now = at;
        self.flow.handle_timeout(at);
        moved
    }

    fn nothing_due(&mut self, line: u32) {
        let due = matches!(
            self.flow.poll_transmit(self.now, &mut self.buf),
            Ok(Some(_))
        );
        ok(!due, "unexpected request", line);
    }
}

#[entry]
fn main() -> ! {
    stack::paint();
    hprintln!(
        "qemu-m3: authgate-device on an emulated {}",
        env!("QEMU_BOARD")
    );
    hprintln!(
        "qemu-m3: DeviceFlow takes {} bytes of RAM",
        core::mem::size_of::<DeviceFlow<'static>>()
    );
    let start = Instant::from_millis(10_000);
    let r = Rig::new_static(start);

    // 1. Device authorization; the code is shown with a QR of the complete URI.
    let res = r.exchange(
        RequestKind::DeviceAuthorization,
        "client_id=authgate-firmware&scope=read",
        200,
        DEVICE_AUTHORIZATION,
        line!(),
    );
    ok(res.is_ok(), "device authorization answer rejected", line!());
    let mut shown = false;
    while let Some(ev) = r.flow.poll_event() {
        if let Event::ShowCode {
            user_code,
            verification_uri,
            verification_uri_complete,
            expires_at,
        } = ev
        {
            shown = user_code == "BCDF-GHJK"
                && verification_uri == "http://127.0.0.1:8080/device"
                && expires_at == start + Duration::from_secs(900);
            hprintln!(
                "qemu-m3: visit {} and enter {}",
                verification_uri,
                user_code
            );
            if let Some(uri) = verification_uri_complete {
                shown &= print_qr(uri) >= 21;
            }
        }
    }
    ok(shown, "ShowCode event missing or wrong", line!());
    r.nothing_due(line!());

    // 2. Polls at the interval; slow_down adds 5 s for good.
    ok(
        r.advance(line!()) == Duration::from_secs(5),
        "first poll not after 5 s",
        line!(),
    );
    let res = r.exchange(
        RequestKind::PollToken,
        "device_code=Gm0xSPu0bS8d2yQ9x4Z3k2N7vYt1LqRwE5aHcJfUo6I",
        400,
        PENDING,
        line!(),
    );
    ok(res.is_ok(), "pending rejected", line!());
    ok(
        r.advance(line!()) == Duration::from_secs(5),
        "pending did not keep 5 s",
        line!(),
    );
    let res = r.exchange(
        RequestKind::PollToken,
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code",
        400,
        SLOW_DOWN,
        line!(),
    );
    ok(res.is_ok(), "slow_down rejected", line!());
    ok(
        matches!(r.flow.poll_event(), Some(Event::SlowDown { interval }) if interval == Duration::from_secs(10)),
        "no SlowDown(10 s)",
        line!(),
    );
    ok(
        r.advance(line!()) == Duration::from_secs(10),
        "slow_down did not add 5 s",
        line!(),
    );

    // 3. Server trouble and garbage: retried, never fatal, never a panic.
    let res = r.exchange(
        RequestKind::PollToken,
        "client_id=authgate-firmware",
        503,
        UNAVAILABLE,
        line!(),
    );
    ok(res.is_err(), "503 not reported", line!());
    ok(
        r.advance(line!()) == Duration::from_secs(10),
        "retry not at the poll interval",
        line!(),
    );
    let res = r.exchange(
        RequestKind::PollToken,
        "device_code=",
        200,
        &TOKEN[..TOKEN.len() / 2],
        line!(),
    );
    ok(
        res == Err(Error::Malformed(Malformed::Truncated)),
        "truncated body not reported as such",
        line!(),
    );
    r.advance(line!());
    let res = r.exchange(
        RequestKind::PollToken,
        "device_code=",
        200,
        b"\xff\xfe<garbage>",
        line!(),
    );
    ok(
        matches!(res, Err(Error::Malformed(_))),
        "garbage not reported",
        line!(),
    );
    r.advance(line!());
    let t = r.flow.poll_transmit(r.now, &mut r.buf);
    ok(matches!(t, Ok(Some(_))), "no retry after garbage", line!());
    ok(
        r.flow.handle_transport_error(r.now).is_ok(),
        "transport error not accepted",
        line!(),
    );
    while r.flow.poll_event().is_some() {}

    // 4. Approved: tokens arrive, persist and reload from "flash".
    r.advance(line!());
    let res = r.exchange(RequestKind::PollToken, "device_code=", 200, TOKEN, line!());
    ok(res.is_ok(), "token answer rejected", line!());
    let mut authorized = false;
    while let Some(ev) = r.flow.poll_event() {
        if let Event::Authorized(t) = ev {
            authorized = t.access_token().starts_with("v4.public.") && t.refresh_token().is_some();
        }
    }
    ok(authorized, "no Authorized event", line!());
    flash_round_trip(r.flow.tokens());

    // 5. Refresh 60 s before the 900 s expiry; a rejected refresh starts over.
    let logged_in = r.now;
    r.advance(line!());
    ok(
        r.now - logged_in == Duration::from_secs(840),
        "refresh not at expiry - 60 s",
        line!(),
    );
    let res = r.exchange(
        RequestKind::Refresh,
        "grant_type=refresh_token&refresh_token=q3ZbT1x2",
        200,
        TOKEN_REFRESHED,
        line!(),
    );
    ok(res.is_ok(), "refresh answer rejected", line!());
    ok(
        matches!(r.flow.poll_event(), Some(Event::Refreshed(t)) if t.refresh_token() == Some("N8mB7vC6xZ5aS4dF3gH2jK1lP0oI9uY8tR7eW6qQ5wE")),
        "rotation not kept",
        line!(),
    );
    r.advance(line!());
    let res = r.exchange(
        RequestKind::Refresh,
        "refresh_token=N8mB7vC6",
        400,
        INVALID_GRANT,
        line!(),
    );
    ok(res.is_err(), "invalid_grant not reported", line!());
    ok(
        matches!(r.flow.poll_event(), Some(Event::TokensDiscarded)),
        "tokens not discarded",
        line!(),
    );
    ok(r.flow.tokens().is_none(), "tokens still held", line!());

    // 6. The new flow: a new code, then the person denies.
    let res = r.exchange(
        RequestKind::DeviceAuthorization,
        "client_id=authgate-firmware",
        200,
        DEVICE_AUTHORIZATION_RENEWED,
        line!(),
    );
    ok(res.is_ok(), "renewed code rejected", line!());
    ok(
        matches!(
            r.flow.poll_event(),
            Some(Event::ShowCode {
                user_code: "LMNP-QRST",
                ..
            })
        ),
        "new code not shown",
        line!(),
    );
    r.advance(line!());
    let res = r.exchange(
        RequestKind::PollToken,
        "device_code=Zq9wXv8u",
        400,
        DENIED,
        line!(),
    );
    ok(res.is_ok(), "denial rejected", line!());
    ok(
        matches!(r.flow.poll_event(), Some(Event::Denied)),
        "no Denied event",
        line!(),
    );
    ok(
        r.flow.poll_timeout().is_none(),
        "timers left after denial",
        line!(),
    );
    r.nothing_due(line!());

    board_checks(r);

    #[cfg(feature = "dpop")]
    dpop_checks(r);

    let (used, room) = stack::high_water();
    hprintln!(
        "qemu-m3: RAM: statics {} B, stack high-water {} B of {} B free for the stack",
        stack::statics(),
        used,
        room
    );
    ok(
        used + 1024 <= room,
        "stack came within 1 KiB of the statics",
        line!(),
    );
    let checks = CHECKS.load(Ordering::Relaxed);
    ok(checks > 40, "too few checks ran", line!());
    hprintln!("qemu-m3: all {} checks passed", checks + 1);
    debug::exit(debug::EXIT_SUCCESS);
    #[allow(clippy::empty_loop)]
    loop {}
}

/// Encodes `uri` as a QR code and draws it on the console; returns its size in modules.
/// Out of line, so its two work buffers are on the stack only while it runs.
#[inline(never)]
fn print_qr(uri: &str) -> u16 {
    let (mut out, mut temp) = ([0u8; QR_BUFFER_LEN], [0u8; QR_BUFFER_LEN]);
    match Qr::encode(uri, &mut out, &mut temp) {
        Ok(qr) => {
            if qr
                .render_text(&mut Console, TextStyle::Ascii, 2, false)
                .is_err()
            {
                fail("QR rendering failed", line!());
            }
            qr.size()
        }
        Err(_) => fail("QR encoding failed", line!()),
    }
}

/// Tokens persist to a "flash" record and reload equal; an unknown version is refused.
#[inline(never)]
fn flash_round_trip(tokens: Option<&Tokens>) {
    let mut flash = [0xffu8; TOKENS_MAX_BYTES];
    let stored = match tokens.map(|t| t.to_bytes(&mut flash).map(|b| b.len())) {
        Some(Ok(n)) => n,
        _ => fail("to_bytes failed", line!()),
    };
    let reloaded = Tokens::from_bytes(&flash[..stored]);
    ok(
        reloaded.as_ref().ok() == tokens,
        "flash round trip differs",
        line!(),
    );
    flash[0] = 9;
    ok(
        Tokens::from_bytes(&flash[..stored]).is_err(),
        "unknown version accepted",
        line!(),
    );
}

/// The boards' button and LED rules on the emulated core: a bouncing press counts
/// once; after the denial above the LED blinks "error" and a press asks for a new
/// code; no resource headers without a token; the LED patterns. (Signing out with
/// tokens is tested on the host and against the real server: a second flow would not
/// fit the micro:bit's stack next to a token answer being parsed.)
#[inline(never)]
fn board_checks(rig: &mut Rig) {
    use authgate_device::{ApiMisuse, ButtonAction, Debouncer, Indicator, SignOutButton};
    let at = Instant::from_millis;
    let mut debouncer = Debouncer::new(at(0));
    let samples = [
        false, false, false, false, true, false, true, true, true, true, true,
    ];
    let presses = (0u64..)
        .zip(samples)
        .filter(|&(i, pressed)| debouncer.sample(at(10 * i), pressed))
        .count();
    ok(presses == 1, "bouncing press not counted once", line!());

    ok(
        Indicator::for_flow(&rig.flow, true) == Indicator::Error,
        "denied flow not shown as an error",
        line!(),
    );
    ok(
        rig.flow
            .write_resource_auth(rig.now, "GET", "http://h/r", &mut rig.buf)
            == Err(Error::ApiMisuse(ApiMisuse::NoTokens)),
        "resource headers without a token",
        line!(),
    );
    let mut button = SignOutButton::new();
    button.press();
    ok(
        button.apply(&mut rig.flow, rig.now) == Some(ButtonAction::NewCode),
        "press after denial did not ask for a new code",
        line!(),
    );
    let sent = matches!(
        rig.flow.poll_transmit(rig.now, &mut rig.buf),
        Ok(Some(t)) if t.kind == RequestKind::DeviceAuthorization
    );
    ok(sent, "no device authorization after the press", line!());
    ok(
        Indicator::WaitingForApproval.is_lit(at(500))
            && !Indicator::WaitingForApproval.is_lit(at(1_500))
            && Indicator::SignedIn.is_lit(at(1_500)),
        "LED patterns",
        line!(),
    );
}

/// DPoP on the emulated core: RFC 8037's Ed25519 vectors, and a flow's first proof
/// byte for byte equal to the one the host test signs (`fixtures/14-dpop-proof.txt`).
#[cfg(feature = "dpop")]
#[inline(never)]
fn dpop_checks(rig: &mut Rig) {
    use authgate_device::{DpopConfig, DpopKey, base64url};
    /// RFC 8037 Appendix A.1's private key (`d`), decoded.
    const SEED: [u8; 32] = [
        0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c,
        0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae,
        0x7f, 0x60,
    ];
    const PROOF: &str = include_str!("../../../device-client/fixtures/14-dpop-proof.txt");
    let key = DpopKey::from_seed(SEED);
    ok(
        key.thumbprint().as_str() == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
        "RFC 8037 A.3 thumbprint",
        line!(),
    );
    let sig = key.sign(b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc");
    let mut b64 = [0u8; 86];
    let n = base64url(&sig, &mut b64).unwrap_or(0);
    ok(
        &b64[..n]
            == b"hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
        "RFC 8037 A.4 signature",
        line!(),
    );
    let mut config = Config::new("authgate-firmware");
    config.dpop = Some(DpopConfig {
        key: &key,
        jti_seed: [0; 32],
        device_authorization_url: "https://auth.example.com/oauth/device/code",
        token_url: "https://auth.example.com/oauth/token",
    });
    let now = Instant::from_millis(1_795_990_860_000);
    let mut flow = DeviceFlow::new(config, now);
    // The main rig's request buffer is free again: reuse it rather than take 2 KiB more.
    let buf = &mut rig.buf;
    let proof = match flow.poll_transmit(now, buf) {
        Ok(Some(t)) => t.dpop_proof(buf),
        _ => None,
    };
    ok(
        proof == Some(PROOF.trim_end()),
        "DPoP proof differs from the host's",
        line!(),
    );
    hprintln!(
        "qemu-m3: DPoP proof signed on the {} matches the host's bytes",
        env!("QEMU_BOARD")
    );
}

/// Stack high-water measurement: paint the free RAM between the statics and the stack
/// pointer at start, and find the lowest word the run overwrote at the end.
mod stack {
    use core::ptr::{addr_of, read_volatile, write_volatile};

    const PAINT: u32 = 0x5a5a_a5a5;

    unsafe extern "C" {
        /// cortex-m-rt: first byte after `.bss`/`.data`/`.uninit` (where a heap would start).
        static __sheap: u32;
        /// cortex-m-rt: initial stack pointer (end of RAM).
        static _stack_start: u32;
        /// cortex-m-rt: start of `.data`, the first static in RAM.
        static __sdata: u32;
    }

    fn bottom() -> usize {
        addr_of!(__sheap) as usize
    }

    fn top() -> usize {
        addr_of!(_stack_start) as usize
    }

    /// Bytes of RAM taken by statics (`.data`, `.bss`, `.uninit`).
    pub fn statics() -> usize {
        bottom() - addr_of!(__sdata) as usize
    }

    /// Fills the unused stack (below this frame, with a margin) with a pattern.
    #[inline(never)]
    pub fn paint() {
        let sp = cortex_m::register::msp::read() as usize;
        let mut p = bottom();
        while p + 64 < sp {
            // SAFETY: `p` is in RAM between the statics and the live stack, which
            // nothing uses yet; word-aligned because cortex-m-rt aligns `__sheap` to 4.
            unsafe { write_volatile(p as *mut u32, PAINT) };
            p += 4;
        }
    }

    /// (deepest stack use so far, bytes between the statics and the stack top).
    pub fn high_water() -> (usize, usize) {
        let mut p = bottom();
        // SAFETY: reads words of RAM between the statics and the stack top.
        while p < top() && unsafe { read_volatile(p as *const u32) } == PAINT {
            p += 4;
        }
        (top() - p, top() - bottom())
    }
}

/// The semihosting console as a `core::fmt::Write`, for the QR renderer.
struct Console;

impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        hprint!("{}", s);
        Ok(())
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("qemu-m3: PANIC {}", info);
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}
