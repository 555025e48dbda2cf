//! `--dpop`: every device authorization, poll and token request carries a fresh
//! DPoP proof (RFC 9449), signed by `authgate-device`'s `no_std` signer, the code a
//! board runs. One Ed25519 key signs for the whole run, so a code created by one
//! worker can be polled by another; each proof has its own `jti`, so the server's
//! replay cache sees every proof once.
//!
//! The proof's `htu` is the endpoint URL the server publishes in its metadata
//! (RFC 8414), which is what it compares against, whatever address the load
//! generator connects to.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use authgate_device::{DpopKey, Proof};
use hyper::header::HeaderValue;

/// The run's signer, set once by [`enable`] before any scenario starts.
static PROVER: OnceLock<Prover> = OnceLock::new();

/// Signs proofs for the two endpoints the scenarios call.
struct Prover {
    key: DpopKey,
    device_authorization: String,
    token: String,
    /// Distinguishes this run's `jti`s from an earlier run's on the same server.
    run: u64,
    next: AtomicU64,
}

/// The endpoint a proof is for.
#[derive(Clone, Copy, Debug)]
pub enum Endpoint {
    /// `POST` to the device authorization endpoint.
    DeviceAuthorization,
    /// `POST` to the token endpoint.
    Token,
}

/// Turns proofs on for the run, with the endpoint URLs from the server's metadata.
pub fn enable(device_authorization: String, token: String) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let run = now.as_nanos() as u64;
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&run.to_le_bytes());
    seed[8..16].copy_from_slice(&u64::from(std::process::id()).to_le_bytes());
    let _ = PROVER.set(Prover {
        key: DpopKey::from_seed(seed),
        device_authorization,
        token,
        run,
        next: AtomicU64::new(0),
    });
}

/// Whether `--dpop` is on.
pub fn enabled() -> bool {
    PROVER.get().is_some()
}

/// A fresh `DPoP` header value for a request to `endpoint`, or `None` without `--dpop`.
pub fn proof(endpoint: Endpoint) -> Option<Result<HeaderValue, String>> {
    let p = PROVER.get()?;
    let htu = match endpoint {
        Endpoint::DeviceAuthorization => &p.device_authorization,
        Endpoint::Token => &p.token,
    };
    let mut jti = [0u8; 16];
    jti[..8].copy_from_slice(&p.run.to_le_bytes());
    jti[8..].copy_from_slice(&p.next.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let iat = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let proof = Proof {
        htm: "POST",
        htu,
        iat,
        jti: &jti,
        nonce: None,
        access_token: None,
    };
    let mut buf = [0u8; 512];
    Some(
        p.key
            .write_proof(&proof, &mut buf)
            .map_err(|e| format!("DPoP proof: {e:?}"))
            .and_then(|n| HeaderValue::from_bytes(&buf[..n]).map_err(|e| e.to_string())),
    )
}
