//! PASETO verification of attacker tokens: any string is either rejected or was
//! signed by our key; never a panic. Half the inputs are built around a genuine
//! token (mutated payload, footer, signature) so the fuzzer gets past the format
//! checks into signature and claim parsing.
#![no_main]

use std::sync::OnceLock;

use authgate_server::{AccessClaims, KeyRing};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    ring: KeyRing,
    genuine: String,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let ring = KeyRing::load_or_create(dir.path()).expect("key ring");
        let claims = AccessClaims {
            iss: "http://127.0.0.1:8080".into(),
            sub: "u1".into(),
            aud: vec!["http://127.0.0.1:8080".into()],
            exp: 2_000_000_000,
            iat: 1_900_000_000,
            nbf: 1_900_000_000,
            jti: "jti".into(),
            client_id: "authgate-cli".into(),
            scope: "read".into(),
            cnf: None,
        };
        let genuine = ring.sign(&claims).expect("sign");
        Fixture {
            ring,
            genuine,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = if mode & 1 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        // Overwrite part of the genuine token with the fuzz bytes.
        let mut t = f.genuine.clone().into_bytes();
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
    if let Some(claims) = f.ring.verify(&token) {
        // Whatever verifies says exactly what we signed: no forged claims.
        assert_eq!(Some(claims), f.ring.verify(&f.genuine), "forged: {token:?}");
    }
});
