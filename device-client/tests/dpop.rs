//! DPoP (RFC 9449) on the device: proofs checked by an independent JOSE library
//! (`jsonwebtoken`, ring's Ed25519), and the flow's nonce, clock and retry rules
//! driven with a fake clock and scripted server answers.
#![cfg(feature = "dpop")]

use authgate_device::{
    Config, DeviceFlow, DpopConfig, DpopKey, Error, ErrorCode, Event, Instant, JTI_BYTES,
    OAuthError, Proof, RequestKind, access_token_hash,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;

const DEVICE_URL: &str = "https://auth.example.com/oauth/device/code";
const TOKEN_URL: &str = "https://auth.example.com/oauth/token";

const CODE: &[u8] = br#"{"device_code":"dc","user_code":"BCDF-GHJK","verification_uri":"https://a.example/device","expires_in":600,"interval":5}"#;
const TOKENS: &[u8] =
    br#"{"access_token":"v4.public.x","token_type":"DPoP","expires_in":900,"refresh_token":"r"}"#;
const USE_NONCE: &[u8] = br#"{"error":"use_dpop_nonce","error_description":"nonce required"}"#;
const BAD_PROOF: &[u8] = br#"{"error":"invalid_dpop_proof","error_description":"stale"}"#;

#[derive(Debug, Deserialize)]
struct Claims {
    jti: String,
    htm: String,
    htu: String,
    iat: u64,
    nonce: Option<String>,
    ath: Option<String>,
}

/// Verifies `jws` with `jsonwebtoken` against the key in its own header, as a server
/// would, and returns the claims.
fn verify(jws: &str, key: &DpopKey) -> Claims {
    let header = decode_header(jws).expect("header");
    assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
    assert_eq!(header.alg, Algorithm::EdDSA);
    let jwk = header.jwk.expect("jwk in header");
    let json = serde_json::to_value(&jwk).unwrap();
    assert_eq!(json["kty"], "OKP");
    assert_eq!(json["crv"], "Ed25519");
    assert!(json.get("d").is_none(), "private key leaked: {json}");
    let decoding = DecodingKey::from_jwk(&jwk).expect("usable jwk");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let claims = decode::<Claims>(jws, &decoding, &validation)
        .expect("signature verifies")
        .claims;
    // The embedded key is the device's.
    let x = json["x"].as_str().unwrap();
    let mut want = [0u8; 43];
    let n = authgate_device::base64url(&key.public_key(), &mut want).unwrap();
    assert_eq!(x.as_bytes(), &want[..n]);
    claims
}

fn key() -> DpopKey {
    DpopKey::from_seed([42; 32])
}

fn config(key: &DpopKey) -> Config<'_> {
    let mut c = Config::new("authgate-cli");
    c.dpop = Some(DpopConfig {
        key,
        jti_seed: [9; 32],
        device_authorization_url: DEVICE_URL,
        token_url: TOKEN_URL,
    });
    c
}

/// Sends the due request and returns its kind and proof (if any) as owned text.
fn transmit(flow: &mut DeviceFlow<'_>, now: Instant) -> (RequestKind, Option<String>) {
    while flow.poll_event().is_some() {}
    let mut buf = [0u8; 2048];
    let t = flow
        .poll_transmit(now, &mut buf)
        .expect("transmit")
        .expect("a request is due");
    (t.kind, t.dpop_proof(&buf).map(str::to_owned))
}

#[test]
fn a_proof_verifies_with_an_independent_jose_library() {
    let key = key();
    let access_token = "v4.public.eyJzdWIiOiJib2FyZCJ9";
    let proof = Proof {
        htm: "GET",
        htu: "https://api.example.com/v1/things?page=2",
        iat: 1_795_990_860,
        jti: &[5; JTI_BYTES],
        nonce: Some("eyJ7S_zG.eyJH0-Z.HX4w-7v"),
        access_token: Some(access_token),
    };
    let mut buf = [0u8; 1024];
    let n = key.write_proof(&proof, &mut buf).unwrap();
    let claims = verify(std::str::from_utf8(&buf[..n]).unwrap(), &key);
    assert_eq!(claims.htm, "GET");
    assert_eq!(claims.htu, "https://api.example.com/v1/things");
    assert_eq!(claims.iat, 1_795_990_860);
    assert_eq!(claims.jti, "BQUFBQUFBQUFBQUFBQUFBQ");
    assert_eq!(claims.nonce.as_deref(), Some("eyJ7S_zG.eyJH0-Z.HX4w-7v"));
    // ath = base64url(SHA-256(token)), computed independently.
    use sha2::Digest;
    let digest = sha2::Sha256::digest(access_token.as_bytes());
    let mut want = [0u8; 43];
    authgate_device::base64url(&digest, &mut want).unwrap();
    assert_eq!(claims.ath.as_deref().map(str::as_bytes), Some(&want[..]));
    assert_eq!(access_token_hash(access_token), want);

    // A flipped signature bit fails the same verifier.
    let mut tampered = buf[..n].to_vec();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let header = decode_header(std::str::from_utf8(&tampered).unwrap()).unwrap();
    let decoding = DecodingKey::from_jwk(&header.jwk.unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    assert!(
        decode::<Claims>(
            std::str::from_utf8(&tampered).unwrap(),
            &decoding,
            &validation
        )
        .is_err()
    );
}

#[test]
fn every_device_and_token_request_carries_a_fresh_proof() {
    let key = key();
    let mut now = Instant::from_millis(1_795_990_860_000);
    let mut flow = DeviceFlow::new(config(&key), now);

    let (kind, proof) = transmit(&mut flow, now);
    assert_eq!(kind, RequestKind::DeviceAuthorization);
    let first = verify(&proof.expect("proof on device authorization"), &key);
    assert_eq!(
        (first.htm.as_str(), first.htu.as_str()),
        ("POST", DEVICE_URL)
    );
    // No Date yet: the driver's Instant is taken as Unix time.
    assert_eq!(first.iat, 1_795_990_860);
    assert_eq!(first.nonce, None);
    assert_eq!(first.ath, None);
    flow.handle_response(now, 200, CODE).unwrap();

    now = flow.poll_timeout().unwrap();
    flow.handle_timeout(now);
    let (kind, proof) = transmit(&mut flow, now);
    assert_eq!(kind, RequestKind::PollToken);
    let poll = verify(&proof.expect("proof on the token poll"), &key);
    assert_eq!(poll.htu, TOKEN_URL);
    assert_ne!(poll.jti, first.jti, "jti must never repeat");
    flow.handle_response(now, 200, TOKENS).unwrap();
    assert!(
        flow.is_authorized(),
        "token_type DPoP is accepted with a key"
    );

    // A refresh carries one; a logout's revocations do not (RFC 9449 has none there).
    flow.refresh(now).unwrap();
    let (kind, proof) = transmit(&mut flow, now);
    assert_eq!(kind, RequestKind::Refresh);
    assert_eq!(verify(&proof.unwrap(), &key).htu, TOKEN_URL);
    flow.handle_response(now, 200, TOKENS).unwrap();
    flow.logout(now).unwrap();
    let (kind, proof) = transmit(&mut flow, now);
    assert_eq!(kind, RequestKind::RevokeRefreshToken);
    assert_eq!(proof, None);
}

#[test]
fn without_a_key_dpop_tokens_are_refused_and_no_proof_is_sent() {
    let now = Instant::ZERO;
    let mut flow = DeviceFlow::new(Config::new("authgate-cli"), now);
    assert_eq!(transmit(&mut flow, now).1, None);
    flow.handle_response(now, 200, CODE).unwrap();
    let now = flow.poll_timeout().unwrap();
    flow.handle_timeout(now);
    transmit(&mut flow, now);
    flow.handle_response(now, 200, TOKENS).unwrap();
    assert!(!flow.is_authorized());
    assert_eq!(
        flow.last_error(),
        Some(Error::Malformed(
            authgate_device::Malformed::UnsupportedTokenType
        ))
    );
}

#[test]
fn iat_follows_the_servers_date_not_the_boards_boot_clock() {
    let key = key();
    // A board: milliseconds since boot.
    let mut now = Instant::from_millis(3_000);
    let mut flow = DeviceFlow::new(config(&key), now);
    let (_, proof) = transmit(&mut flow, now);
    assert_eq!(
        verify(&proof.unwrap(), &key).iat,
        3,
        "no server time known yet"
    );
    flow.handle_date(b"Sun, 29 Nov 2026 22:21:00 GMT").unwrap();
    flow.handle_response(now, 200, CODE).unwrap();
    assert_eq!(flow.server_time(now), Some(1_795_990_860));

    now = flow.poll_timeout().unwrap(); // 5 s later
    flow.handle_timeout(now);
    let (_, proof) = transmit(&mut flow, now);
    assert_eq!(verify(&proof.unwrap(), &key).iat, 1_795_990_865);
}

#[test]
fn a_stale_proof_is_resent_once_with_the_servers_time() {
    let key = key();
    let now = Instant::from_millis(3_000);
    let mut flow = DeviceFlow::new(config(&key), now);
    transmit(&mut flow, now);
    flow.handle_date(b"Sun, 29 Nov 2026 22:21:00 GMT").unwrap();
    flow.handle_response(now, 400, BAD_PROOF).unwrap();
    assert_eq!(
        flow.last_error(),
        Some(Error::Server(OAuthError {
            code: ErrorCode::InvalidDpopProof,
            status: 400
        }))
    );
    // Due again at once, with the corrected iat.
    let (kind, proof) = transmit(&mut flow, now);
    assert_eq!(kind, RequestKind::DeviceAuthorization);
    assert_eq!(verify(&proof.unwrap(), &key).iat, 1_795_990_860);
    // Rejected again although the clock is right: that is a real error, not retried.
    flow.handle_date(b"Sun, 29 Nov 2026 22:21:00 GMT").unwrap();
    flow.handle_response(now, 400, BAD_PROOF).unwrap();
    let mut failed = false;
    while let Some(e) = flow.poll_event() {
        failed |=
            matches!(e, Event::Failed(Error::Server(o)) if o.code == ErrorCode::InvalidDpopProof);
    }
    assert!(
        failed,
        "invalid_dpop_proof with a correct clock is permanent"
    );
}

#[test]
fn use_dpop_nonce_takes_the_nonce_and_retries_once() {
    let key = key();
    let now = Instant::from_millis(1_795_990_860_000);
    let mut flow = DeviceFlow::new(config(&key), now);
    transmit(&mut flow, now);
    flow.handle_dpop_nonce(b"n0nce-1").unwrap();
    flow.handle_response(now, 400, USE_NONCE).unwrap();
    assert_eq!(flow.dpop_nonce(), Some("n0nce-1"));
    let (kind, proof) = transmit(&mut flow, now);
    assert_eq!(kind, RequestKind::DeviceAuthorization);
    assert_eq!(
        verify(&proof.unwrap(), &key).nonce.as_deref(),
        Some("n0nce-1")
    );
    // The same nonce refused again: no second immediate retry, a backoff instead.
    flow.handle_dpop_nonce(b"n0nce-1").unwrap();
    flow.handle_response(now, 400, USE_NONCE).unwrap();
    let mut buf = [0u8; 2048];
    while flow.poll_event().is_some() {}
    assert_eq!(flow.poll_transmit(now, &mut buf).unwrap(), None);
    let retry_at = flow.poll_timeout().expect("a backoff retry");
    assert!(retry_at > now);
    // A later success resets the allowance; a new nonce then gets its own retry.
    flow.handle_timeout(retry_at);
    transmit(&mut flow, retry_at);
    flow.handle_dpop_nonce(b"n0nce-2").unwrap();
    flow.handle_response(retry_at, 200, CODE).unwrap();
    let at = flow.poll_timeout().unwrap();
    flow.handle_timeout(at);
    let (_, proof) = transmit(&mut flow, at);
    assert_eq!(
        verify(&proof.unwrap(), &key).nonce.as_deref(),
        Some("n0nce-2")
    );
    flow.handle_dpop_nonce(b"n0nce-3").unwrap();
    flow.handle_response(at, 400, USE_NONCE).unwrap();
    let (kind, proof) = transmit(&mut flow, at);
    assert_eq!(kind, RequestKind::PollToken);
    assert_eq!(
        verify(&proof.unwrap(), &key).nonce.as_deref(),
        Some("n0nce-3")
    );
}

#[test]
fn bad_nonces_and_dates_are_ignored() {
    let key = key();
    let now = Instant::from_millis(5_000);
    let mut flow = DeviceFlow::new(config(&key), now);
    transmit(&mut flow, now);
    flow.handle_dpop_nonce(b"has \"quote\"").unwrap();
    flow.handle_date(b"Sunday, 06-Nov-94 08:49:37 GMT").unwrap();
    flow.handle_response(now, 200, CODE).unwrap();
    assert_eq!(flow.dpop_nonce(), None);
    assert_eq!(flow.server_time(now), None);
    assert_eq!(
        flow.handle_date(b"x"),
        Err(authgate_device::ApiMisuse::NoRequestInFlight)
    );
}

#[test]
fn resource_proofs_carry_ath_and_need_tokens() {
    let key = key();
    let now = Instant::from_millis(1_795_990_860_000);
    let mut flow = DeviceFlow::new(config(&key), now);
    let mut buf = [0u8; 1024];
    assert_eq!(
        flow.write_resource_proof(now, "GET", "https://api.example.com/x", &mut buf),
        Err(Error::ApiMisuse(authgate_device::ApiMisuse::NoTokens))
    );
    transmit(&mut flow, now);
    flow.handle_response(now, 200, CODE).unwrap();
    let now = flow.poll_timeout().unwrap();
    flow.handle_timeout(now);
    transmit(&mut flow, now);
    flow.handle_response(now, 200, TOKENS).unwrap();
    let n = flow
        .write_resource_proof(now, "GET", "https://api.example.com/x", &mut buf)
        .unwrap();
    let claims = verify(std::str::from_utf8(&buf[..n]).unwrap(), &key);
    assert_eq!(claims.htm, "GET");
    assert_eq!(
        claims.ath.as_deref().map(str::as_bytes),
        Some(&access_token_hash("v4.public.x")[..])
    );
    assert_eq!(
        flow.write_resource_proof(now, "GET", "https://api.example.com/x", &mut buf[..10]),
        Err(Error::BufferTooSmall { required: n })
    );
    let mut plain = DeviceFlow::new(Config::new("c"), now);
    assert_eq!(
        plain.write_resource_proof(now, "GET", "https://x", &mut buf),
        Err(Error::ApiMisuse(authgate_device::ApiMisuse::NoDpopKey))
    );
}

#[test]
fn a_short_buffer_gets_the_size_of_body_and_proof() {
    let key = key();
    let now = Instant::from_millis(1_795_990_860_000);
    let mut flow = DeviceFlow::new(config(&key), now);
    let mut big = [0u8; 2048];
    let t = flow.poll_transmit(now, &mut big).unwrap().unwrap();
    let need = t.len + t.dpop_len;
    assert!(t.dpop_len > 300, "{}", t.dpop_len);
    let mut flow = DeviceFlow::new(config(&key), now);
    let mut small = vec![0u8; need - 1];
    assert_eq!(
        flow.poll_transmit(now, &mut small),
        Err(Error::BufferTooSmall { required: need })
    );
    let mut exact = vec![0u8; need];
    let t = flow.poll_transmit(now, &mut exact).unwrap().unwrap();
    assert_eq!(t.len + t.dpop_len, need);
}

/// RFC 8037 Appendix A.1's private key (`d`), decoded.
const RFC8037_SEED: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];

/// The first proof of a fixed flow (RFC 8037's key, a zero `jti` seed, a fixed clock)
/// is byte for byte the one in `fixtures/14-dpop-proof.txt`, which the emulated
/// Cortex-M3 (`firmware-examples/qemu-m3`) checks too: same bytes on both cores.
#[test]
fn the_fixed_flow_proof_matches_the_fixture() {
    let key = DpopKey::from_seed(RFC8037_SEED);
    assert_eq!(
        key.thumbprint().as_str(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
    let mut config = Config::new("authgate-firmware");
    config.dpop = Some(DpopConfig {
        key: &key,
        jti_seed: [0; 32],
        device_authorization_url: DEVICE_URL,
        token_url: TOKEN_URL,
    });
    let now = Instant::from_millis(1_795_990_860_000);
    let proof = transmit(&mut DeviceFlow::new(config, now), now)
        .1
        .expect("a proof");
    let claims = verify(&proof, &key);
    assert_eq!(
        (claims.iat, claims.htu.as_str()),
        (1_795_990_860, DEVICE_URL)
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/14-dpop-proof.txt");
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        std::fs::write(path, format!("{proof}\n")).unwrap();
    }
    let fixture = std::fs::read_to_string(path).expect("fixture");
    assert_eq!(proof, fixture.trim_end());
}
