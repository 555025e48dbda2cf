//! The device client's response parsing (serde-json-core, fixed buffers), reached
//! through its public state machine: the fuzz input is a script of HTTP answers
//! (status + body) fed to whatever request the flow sends next, with time moving
//! on between them; the stored-token bytes of `Tokens::from_bytes` are fuzzed too.
//! Nothing may panic, and the flow must keep asking for a sane next step.
#![no_main]

use authgate_device::{Config, DeviceFlow, Duration, Instant, Tokens};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Tokens::from_bytes(data);

    let mut now = Instant::ZERO;
    let mut flow = DeviceFlow::new(Config::new("authgate-cli"), now);
    let mut buf = [0u8; 2048];
    let mut rest = data;
    // Each answer: 1 byte status selector, 2 bytes length, then the body.
    for _ in 0..16 {
        while flow.poll_event().is_some() {}
        match flow.poll_transmit(now, &mut buf) {
            Ok(Some(_)) => {}
            Ok(None) => match flow.poll_timeout() {
                Some(at) => {
                    now = at;
                    flow.handle_timeout(now);
                    continue;
                }
                None => break,
            },
            Err(_) => break,
        }
        let Some((&sel, tail)) = rest.split_first() else {
            let _ = flow.handle_transport_error(now);
            break;
        };
        let status = match sel % 8 {
            0 | 1 | 2 => 200,
            3 | 4 => 400,
            5 => 401,
            6 => 429,
            _ => 500 + u16::from(sel >> 3),
        };
        let (len, tail) = match tail {
            [a, b, t @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), t),
            t => (t.len(), &[][..]),
        };
        let len = len.min(tail.len());
        let (body, next) = tail.split_at(len);
        rest = next;
        let _ = flow.handle_response(now, status, body);
        let _ = flow.access_token(now);
        let _ = flow.code();
        now = now.saturating_add(Duration::from_secs(1));
    }
});
