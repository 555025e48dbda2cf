//! Every refusal of issue 14's list gets its own error; proofs from our device client
//! (EdDSA) and from the `p256` crate (ES256) verify.

use authgate_device::{DpopKey, JTI_BYTES, Proof as DeviceProof};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use serde_json::{Value, json};

use super::*;
use authgate_proto::ErrorCode;
use authgate_verify::dpop::{IAT_WINDOW_SECS, MAX_PROOF_BYTES, ed25519_thumbprint};
use sha2::{Digest, Sha256};

const URI: &str = "https://auth.example.com/oauth/token";
const NOW: u64 = 1_795_990_860;

fn expected() -> Expected<'static> {
    Expected {
        method: "POST",
        uri: URI,
        now: NOW,
        nonce: None,
        access_token: None,
    }
}

fn device_key() -> DpopKey {
    DpopKey::from_seed([11; 32])
}

/// A proof signed by `authgate-device`.
fn device_proof(iat: u64, nonce: Option<&str>, access_token: Option<&str>, jti: u8) -> String {
    let mut buf = [0u8; 2048];
    let n = device_key()
        .write_proof(
            &DeviceProof {
                htm: "POST",
                htu: URI,
                iat,
                jti: &[jti; JTI_BYTES],
                nonce,
                access_token,
            },
            &mut buf,
        )
        .expect("proof fits");
    String::from_utf8(buf[..n].to_vec()).expect("ascii")
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// A hand-made Ed25519 proof over any header and claims, for malformed cases.
fn ed_proof(header: &Value, claims: &Value) -> String {
    let key = ed25519_dalek::SigningKey::from_bytes(&[11; 32]);
    let input = format!("{}.{}", b64(header), b64(claims));
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

fn ed_jwk() -> Value {
    let key = ed25519_dalek::SigningKey::from_bytes(&[11; 32]);
    json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes())})
}

fn good_header() -> Value {
    json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": ed_jwk()})
}

fn good_claims() -> Value {
    json!({"jti": "abcdefghijklmnopqrstuv", "htm": "POST", "htu": URI, "iat": NOW})
}

fn es256_proof(header_typ: &str, claims: &Value) -> (String, String) {
    use p256::ecdsa::{Signature, SigningKey, signature::Signer as _};
    let key = SigningKey::from_slice(&[7; 32]).expect("valid scalar");
    let point = key.verifying_key().to_encoded_point(false);
    let (x, y) = (
        URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        URL_SAFE_NO_PAD.encode(point.y().unwrap()),
    );
    let header = json!({"typ": header_typ, "alg": "ES256", "jwk": {"kty": "EC", "crv": "P-256", "x": x, "y": y}});
    let input = format!("{}.{}", b64(&header), b64(claims));
    let sig: Signature = key.sign(input.as_bytes());
    let thumb_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let jkt = URL_SAFE_NO_PAD.encode(Sha256::digest(thumb_input.as_bytes()));
    (
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes())),
        jkt,
    )
}

#[test]
fn a_device_client_proof_verifies() {
    let proof = device_proof(NOW, None, None, 1);
    let p = verify_proof(&proof, &expected()).expect("verifies");
    assert_eq!(p.jkt, device_key().thumbprint().as_str());
    assert_eq!(p.iat, NOW);
    assert_eq!(p.jti.len(), 22);
    // The same key's RFC 8037 A.3 vector, through the server's own thumbprint code.
    let rfc_d = URL_SAFE_NO_PAD
        .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
        .unwrap();
    let rfc_key = ed25519_dalek::SigningKey::from_bytes(&rfc_d.try_into().unwrap());
    assert_eq!(
        ed25519_thumbprint(&rfc_key.verifying_key()),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}

#[test]
fn an_es256_proof_from_the_p256_crate_verifies() {
    let (proof, jkt) = es256_proof("dpop+jwt", &good_claims());
    let p = verify_proof(&proof, &expected()).expect("verifies");
    assert_eq!(p.jkt, jkt);
    assert_eq!(Cnf::for_proof(&p).jkt, jkt);
    assert_eq!(SUPPORTED_ALGS, ["EdDSA", "ES256"]);
    // ... and its signature is checked.
    let (other, _) = es256_proof(
        "dpop+jwt",
        &json!({"jti": "x", "htm": "GET", "htu": URI, "iat": NOW}),
    );
    let forged = format!(
        "{}.{}",
        proof.rsplit_once('.').unwrap().0,
        other.rsplit_once('.').unwrap().1
    );
    assert_eq!(
        verify_proof(&forged, &expected()),
        Err(DpopError::BadSignature)
    );
}

#[test]
fn malformed_proofs_get_their_errors() {
    let good = ed_proof(&good_header(), &good_claims());
    assert!(verify_proof(&good, &expected()).is_ok());
    let (h, rest) = good.split_once('.').unwrap();
    let cases: Vec<(String, DpopError)> = vec![
        // Bad base64: a character outside the alphabet, and padding.
        (format!("*{}.{rest}", &h[1..]), DpopError::BadBase64),
        // The signature is checked before the claims are even decoded.
        (format!("{h}.*{}", &rest[1..]), DpopError::BadSignature),
        (format!("{h}=.{rest}"), DpopError::BadBase64),
        ("onlyone".into(), DpopError::NotCompactJws),
        (format!("{h}.{rest}.extra"), DpopError::NotCompactJws),
        (format!(".{rest}"), DpopError::NotCompactJws),
        (
            format!("{}.{rest}", URL_SAFE_NO_PAD.encode("not json")),
            DpopError::BadJson("header"),
        ),
        ("x".repeat(MAX_PROOF_BYTES + 1), DpopError::TooLarge),
    ];
    for (proof, want) in cases {
        assert_eq!(verify_proof(&proof, &expected()), Err(want), "{proof:.60}");
    }
}

#[test]
fn header_rules() {
    let claims = good_claims();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut h = good_header();
        f(&mut h);
        verify_proof(&ed_proof(&h, &claims), &expected())
    };
    assert_eq!(
        with(&|h| h["typ"] = json!("JWT")),
        Err(DpopError::WrongType)
    );
    assert_eq!(
        with(&|h| {
            h.as_object_mut().unwrap().remove("typ");
        }),
        Err(DpopError::WrongType)
    );
    for alg in ["none", "HS256", "RS256", "ES384", "eddsa"] {
        assert_eq!(
            with(&|h| h["alg"] = json!(alg)),
            Err(DpopError::UnsupportedAlg),
            "{alg}"
        );
    }
    // alg none with an empty signature, as an attacker would send it.
    let none = format!(
        "{}.{}.",
        b64(&json!({"typ": "dpop+jwt", "alg": "none", "jwk": ed_jwk()})),
        b64(&claims)
    );
    assert_eq!(
        verify_proof(&none, &expected()),
        Err(DpopError::NotCompactJws)
    );
    let none_sig = format!("{none}AAAA");
    assert_eq!(
        verify_proof(&none_sig, &expected()),
        Err(DpopError::UnsupportedAlg)
    );
    for member in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        assert_eq!(
            with(&|h| h["jwk"][member] = json!("AAAA")),
            Err(DpopError::PrivateKey),
            "{member}"
        );
    }
    assert_eq!(
        with(&|h| h["jwk"]["kty"] = json!("EC")),
        Err(DpopError::BadKey)
    );
    assert_eq!(
        with(&|h| h["jwk"]["x"] = json!("AAAA")),
        Err(DpopError::BadKey)
    );
    assert_eq!(
        with(&|h| {
            h.as_object_mut().unwrap().remove("jwk");
        }),
        Err(DpopError::BadKey)
    );
    assert_eq!(
        with(&|h| h["crit"] = json!(["exp"])),
        Err(DpopError::Critical)
    );
    // Another key than the one that signed.
    let other = ed25519_dalek::SigningKey::from_bytes(&[12; 32]);
    assert_eq!(
        with(&|h| h["jwk"]["x"] = json!(URL_SAFE_NO_PAD.encode(other.verifying_key().as_bytes()))),
        Err(DpopError::BadSignature)
    );
}

#[test]
fn claim_rules() {
    let with = |f: &dyn Fn(&mut Value), exp: &Expected<'_>| {
        let mut c = good_claims();
        f(&mut c);
        verify_proof(&ed_proof(&good_header(), &c), exp)
    };
    let e = expected();
    for claim in ["jti", "htm", "htu", "iat"] {
        assert!(
            matches!(
                with(&|c| { c.as_object_mut().unwrap().remove(claim); }, &e),
                Err(DpopError::MissingClaim(name)) if name == claim
            ),
            "{claim}"
        );
    }
    assert_eq!(
        with(&|c| c["iat"] = json!(1.5), &e),
        Err(DpopError::BadJson("claims"))
    );
    assert_eq!(
        with(&|c| c["iat"] = json!("1795990860"), &e),
        Err(DpopError::BadJson("claims"))
    );
    assert_eq!(with(&|c| c["jti"] = json!(""), &e), Err(DpopError::BadJti));
    assert_eq!(
        with(&|c| c["jti"] = json!("j".repeat(65)), &e),
        Err(DpopError::BadJti)
    );
    assert!(with(&|c| c["jti"] = json!("j".repeat(64)), &e).is_ok());
    assert_eq!(
        with(&|c| c["htm"] = json!("GET"), &e),
        Err(DpopError::MethodMismatch)
    );
    assert_eq!(
        with(&|c| c["htm"] = json!("post"), &e),
        Err(DpopError::MethodMismatch)
    );
    for htu in [
        "https://auth.example.com/oauth/revoke",
        "https://evil.example/oauth/token",
        "http://auth.example.com/oauth/token",
        "https://auth.example.com:8443/oauth/token",
        "/oauth/token",
    ] {
        assert_eq!(
            with(&|c| c["htu"] = json!(htu), &e),
            Err(DpopError::UriMismatch),
            "{htu}"
        );
    }
    // Normalisation: case, default port, query, fragment, percent-encoding.
    for htu in [
        "HTTPS://AUTH.example.com:443/oauth/token?x=1#y",
        "https://auth.example.com/oauth/%74oken",
    ] {
        assert!(with(&|c| c["htu"] = json!(htu), &e).is_ok(), "{htu}");
    }
    for iat in [NOW - IAT_WINDOW_SECS - 1, NOW + IAT_WINDOW_SECS + 1, 0] {
        assert_eq!(
            with(&|c| c["iat"] = json!(iat), &e),
            Err(DpopError::StaleIat),
            "{iat}"
        );
    }
    for iat in [NOW - IAT_WINDOW_SECS, NOW + IAT_WINDOW_SECS] {
        assert!(with(&|c| c["iat"] = json!(iat), &e).is_ok(), "{iat}");
    }
}

#[test]
fn nonces_and_ath() {
    let want_nonce = Expected {
        nonce: Some(&"n-42"),
        ..expected()
    };
    let err = verify_proof(&device_proof(NOW, None, None, 1), &want_nonce).unwrap_err();
    assert_eq!(err, DpopError::NonceRequired);
    assert_eq!(err.code(), ErrorCode::UseDpopNonce);
    assert_eq!(
        verify_proof(&device_proof(NOW, Some("n-41"), None, 1), &want_nonce),
        Err(DpopError::NonceRequired)
    );
    assert!(verify_proof(&device_proof(NOW, Some("n-42"), None, 1), &want_nonce).is_ok());
    // A clockless device's first proof: stale and without nonce gets the nonce first.
    assert_eq!(
        verify_proof(&device_proof(3, None, None, 1), &want_nonce),
        Err(DpopError::NonceRequired)
    );

    let with_token = Expected {
        access_token: Some("v4.public.token"),
        ..expected()
    };
    assert!(
        verify_proof(
            &device_proof(NOW, None, Some("v4.public.token"), 1),
            &with_token
        )
        .is_ok()
    );
    let err = verify_proof(
        &device_proof(NOW, None, Some("v4.public.other"), 1),
        &with_token,
    )
    .unwrap_err();
    assert_eq!(err, DpopError::AthMismatch);
    assert_eq!(err.code(), ErrorCode::InvalidDpopProof);
    assert_eq!(
        verify_proof(&device_proof(NOW, None, None, 1), &with_token),
        Err(DpopError::AthMismatch)
    );
}

#[test]
fn issued_nonces_are_checked_by_time_and_mac() {
    let issuer = NonceIssuer::new([5; 32], 300);
    let nonce = issuer.issue(NOW - 10);
    let exp = Expected {
        nonce: Some(&issuer),
        ..expected()
    };
    assert!(verify_proof(&device_proof(NOW, Some(&nonce), None, 1), &exp).is_ok());
    let old = issuer.issue(NOW - 301);
    assert_eq!(
        verify_proof(&device_proof(NOW, Some(&old), None, 1), &exp),
        Err(DpopError::NonceRequired)
    );
    let foreign = NonceIssuer::new([6; 32], 300).issue(NOW);
    assert_eq!(
        verify_proof(&device_proof(NOW, Some(&foreign), None, 1), &exp),
        Err(DpopError::NonceRequired)
    );
}

#[test]
fn www_authenticate_follows_rfc9449_section7() {
    assert_eq!(www_authenticate(None), r#"DPoP algs="EdDSA ES256""#);
    assert_eq!(
        www_authenticate(Some(&DpopError::NonceRequired)),
        r#"DPoP error="use_dpop_nonce", error_description="DPoP proof must carry the server's current nonce", algs="EdDSA ES256""#
    );
}

#[tokio::test]
async fn a_replayed_jti_is_refused_until_its_window_ends() {
    let cache = MemoryReplayCache::new(MemoryReplayCache::DEFAULT_CAPACITY);
    let proof = device_proof(NOW, None, None, 1);
    assert!(verify_fresh(&proof, &expected(), &cache).await.is_ok());
    assert_eq!(
        verify_fresh(&proof, &expected(), &cache)
            .await
            .unwrap_err()
            .proof(),
        Some(DpopError::Replayed)
    );
    // A new jti from the same key is fine.
    assert!(
        verify_fresh(&device_proof(NOW, None, None, 2), &expected(), &cache)
            .await
            .is_ok()
    );
    // The same jti from another key is another proof.
    let (es, _) = es256_proof(
        "dpop+jwt",
        &json!({"jti": "AQEBAQEBAQEBAQEBAQEBAQ", "htm": "POST", "htu": URI, "iat": NOW}),
    );
    assert!(verify_fresh(&es, &expected(), &cache).await.is_ok());
    // Once the window is over, the proof is stale anyway and the entry may go.
    let later = Expected {
        now: NOW + IAT_WINDOW_SECS + 1,
        ..expected()
    };
    assert_eq!(
        verify_fresh(&proof, &later, &cache)
            .await
            .unwrap_err()
            .proof(),
        Some(DpopError::StaleIat)
    );
}

#[test]
fn every_error_names_an_rfc9449_code_and_never_echoes_input() {
    for e in [
        DpopError::TooLarge,
        DpopError::NotCompactJws,
        DpopError::BadBase64,
        DpopError::BadJson("header"),
        DpopError::WrongType,
        DpopError::UnsupportedAlg,
        DpopError::Critical,
        DpopError::PrivateKey,
        DpopError::BadKey,
        DpopError::BadSignature,
        DpopError::MissingClaim("jti"),
        DpopError::BadJti,
        DpopError::MethodMismatch,
        DpopError::UriMismatch,
        DpopError::StaleIat,
        DpopError::AthMismatch,
        DpopError::Replayed,
    ] {
        assert_eq!(e.code(), ErrorCode::InvalidDpopProof, "{e}");
        assert!(e.to_string().starts_with("DPoP proof"), "{e}");
    }
    assert_eq!(DpopError::NonceRequired.code().as_str(), "use_dpop_nonce");
}

#[test]
fn mangled_proofs_are_errors_not_panics() {
    let good = device_proof(NOW, Some("n"), Some("t"), 1);
    let bytes = good.as_bytes();
    // Every other position (unoptimised signature checks are slow in debug builds).
    for i in (0..bytes.len()).step_by(2) {
        for b in [b'.', b'A', b'=', 0xff] {
            let mut m = bytes.to_vec();
            m[i] = b;
            let s = String::from_utf8_lossy(&m);
            let _ = verify_proof(&s, &expected());
        }
        let _ = verify_proof(&good[..i], &expected());
    }
}

/// Proofs signed by an independent library, Python's jwcrypto
/// (`scripts/dpop_interop.py sign`), one EdDSA and one ES256, each with the
/// thumbprint jwcrypto computes for its key.
#[test]
fn proofs_from_a_third_party_library_verify() {
    let fixtures = include_str!("fixtures/14-jwcrypto-proofs.txt");
    let expected = Expected {
        nonce: Some(&"n-42"),
        ..expected()
    };
    let mut algs = Vec::new();
    for line in fixtures.lines() {
        let mut fields = line.split(' ');
        let (Some(alg), Some(proof), Some(jkt)) = (fields.next(), fields.next(), fields.next())
        else {
            panic!("bad fixture line {line}");
        };
        let p = verify_proof(proof, &expected).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(
            p.jkt, jkt,
            "{alg}: RFC 7638 thumbprint differs from jwcrypto's"
        );
        assert!(p.jti.starts_with("jwcrypto-"));
        algs.push(alg);
    }
    assert_eq!(algs, SUPPORTED_ALGS);
}
