//! DPoP proof verification of attacker headers: any string is refused with a typed
//! error or was signed by the key it names; never a panic. Half the inputs are built
//! around a genuine proof from our device client (bytes overwritten at a fuzzed
//! offset) so the fuzzer gets past base64 and JSON into keys, signatures and claims.
#![no_main]

use std::sync::OnceLock;

use authgate_device::{DpopKey, JTI_BYTES, Proof};
use authgate_server::{DpopExpected, verify_dpop_proof};
use libfuzzer_sys::fuzz_target;

const URI: &str = "https://auth.example.com/oauth/token";
const NOW: u64 = 1_795_990_860;

fn genuine() -> &'static str {
    static G: OnceLock<String> = OnceLock::new();
    G.get_or_init(|| {
        let mut buf = [0u8; 2048];
        let proof = Proof {
            htm: "POST",
            htu: URI,
            iat: NOW,
            jti: &[1; JTI_BYTES],
            nonce: Some("n"),
            access_token: Some("v4.public.t"),
        };
        let n = DpopKey::from_seed([3; 32])
            .write_proof(&proof, &mut buf)
            .expect("proof fits");
        String::from_utf8(buf[..n].to_vec()).expect("ascii")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let proof = if mode & 1 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let mut t = genuine().as_bytes().to_vec();
        let at = usize::from(mode >> 1) * t.len() / 128;
        for (i, b) in rest.iter().enumerate() {
            if let Some(slot) = t.get_mut(at + i) {
                *slot = *b;
            } else {
                t.push(*b);
            }
        }
        String::from_utf8_lossy(&t).into_owned()
    };
    let expected = DpopExpected {
        method: "POST",
        uri: URI,
        now: NOW,
        nonce: Some(&"n"),
        access_token: Some("v4.public.t"),
    };
    let result = verify_dpop_proof(&proof, &expected);
    if proof == genuine() {
        assert!(result.is_ok(), "{result:?}");
    }
    if let Err(e) = result {
        // Every refusal maps to an RFC 9449 code and a fixed description.
        let _ = (e.code(), e.to_string());
    }
});
