//! DPoP proof verification (RFC 9449 §4.3), pure: a `DPoP` header value and what the
//! request was in, out a [`Proof`] (the key's thumbprint, `jti`, `iat`) or a typed
//! [`DpopError`] that names its RFC 9449 error code. No I/O and no clock: `now` comes
//! in. `jti` replay is the caller's separate step (the server keeps proofs in its
//! store, a resource server in [`crate::ReplayCache`]), keyed by [`Proof::replay_key`].
//!
//! It lives here rather than in the server so the AuthGate server and every resource
//! server check proofs with the same code; the server re-exports it.
//!
//! Accepted algorithms are EdDSA (Ed25519, what `authgate-device` signs with) and
//! ES256 (P-256, what browsers' WebCrypto and most libraries default to); never
//! `none`, never a MAC. The order of the checks is chosen for clockless devices: a
//! missing nonce is reported (`use_dpop_nonce`) before a stale `iat`, so a board
//! that learns both the nonce and the server's `Date` from one answer needs one retry.

mod cnf;
mod htu;
mod nonce;

use authgate_proto::ErrorCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use cnf::Cnf;
pub use htu::normalize_htu;
pub use nonce::{NonceCheck, NonceIssuer};

/// The largest `DPoP` header accepted: an Ed25519 proof with a nonce is about 450
/// bytes, an ES256 one about 600; anything near 4 KiB is an attack or a bug.
pub const MAX_PROOF_BYTES: usize = 4096;

/// How far `iat` may be from the server's clock, either way, in seconds (RFC 9449
/// §11.1 leaves the window to the server; a minute absorbs clock steps and slow links
/// and keeps a captured proof short-lived).
pub const IAT_WINDOW_SECS: u64 = 60;

/// The longest `jti` accepted (RFC 9449 asks for at least 96 bits of randomness;
/// ours are 22 characters, UUIDs 36).
pub const MAX_JTI_LEN: usize = 64;

/// The `typ` every proof's header carries (RFC 9449 §4.2).
pub const DPOP_JWT_TYPE: &str = "dpop+jwt";

/// The algorithms this verifier accepts, for `dpop_signing_alg_values_supported`
/// (RFC 9449 §5.1) and the `algs` of `WWW-Authenticate: DPoP` (§7.1).
pub const SUPPORTED_ALGS: [&str; 2] = ["EdDSA", "ES256"];

/// JWK members that hold private or symmetric key material (RFC 7518 §6.2.2, §6.3.2,
/// §6.4; RFC 8037 §2): a proof carrying one is refused, never used.
const PRIVATE_MEMBERS: [&str; 9] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k", "r"];

/// What the request the proof came with was, and what the server expects in it.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The request's HTTP method (`htm`).
    pub method: &'a str,
    /// The server's canonical URI of the endpoint (`htu` must equal it after RFC 9449
    /// §4.3 normalisation).
    pub uri: &'a str,
    /// The server's time, Unix seconds.
    pub now: u64,
    /// How the proof's nonce is judged, when the server requires nonces: one exact
    /// value (`&"…"`) or a [`NonceIssuer`]'s time-stamped ones.
    pub nonce: Option<&'a dyn NonceCheck>,
    /// The access token presented with the proof (resource requests): `ath` must be
    /// its SHA-256.
    pub access_token: Option<&'a str>,
}

/// A verified proof: what the server binds and remembers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// RFC 7638 thumbprint of the proof's public key (base64url): the `cnf.jkt` a
    /// token is bound to.
    pub jkt: String,
    /// The proof's `jti`, for replay detection.
    pub jti: String,
    /// The proof's `iat`, Unix seconds.
    pub iat: u64,
}

impl Proof {
    /// The replay-cache key of this proof: its `jti` per key, hashed to a fixed size
    /// (a `jti` only has to be unique per key).
    pub fn replay_key(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.jkt.as_bytes());
        h.update([0]);
        h.update(self.jti.as_bytes());
        h.finalize().into()
    }

    /// Until when (Unix seconds) this proof's `jti` must be remembered: after that its
    /// `iat` can no longer pass [`verify_proof`].
    pub fn remember_until(&self, now: u64) -> u64 {
        self.iat.max(now).saturating_add(IAT_WINDOW_SECS)
    }
}

/// The RFC 7638 thumbprint (base64url) of an Ed25519 public key, as [`Proof::jkt`]
/// gives it for a proof signed by that key (tests and clients that pin a key).
pub fn ed25519_thumbprint(key: &ed25519_dalek::VerifyingKey) -> String {
    PublicKey::Ed25519(*key).thumbprint()
}

/// Why a proof was refused. [`DpopError::code`] is the RFC 9449 error to answer with;
/// `Display` is the `error_description` (never echoes the proof).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// More than [`MAX_PROOF_BYTES`].
    #[error("DPoP proof is too large")]
    TooLarge,
    /// Not three base64url parts separated by dots.
    #[error("DPoP proof is not a compact JWS")]
    NotCompactJws,
    /// A part is not canonical base64url without padding.
    #[error("DPoP proof is not valid base64url")]
    BadBase64,
    /// The header or claims are not the JSON object expected.
    #[error("DPoP proof {0} is not a valid JSON object")]
    BadJson(&'static str),
    /// `typ` is not `dpop+jwt`.
    #[error("DPoP proof typ must be dpop+jwt")]
    WrongType,
    /// `alg` is not one of [`SUPPORTED_ALGS`] (`none` and MACs included).
    #[error("DPoP proof alg is not supported (EdDSA, ES256)")]
    UnsupportedAlg,
    /// The header has a `crit` member; no extension is understood.
    #[error("DPoP proof header has unsupported crit parameters")]
    Critical,
    /// The `jwk` holds private key material.
    #[error("DPoP proof jwk must be a public key")]
    PrivateKey,
    /// The `jwk` is missing, not of the `alg`'s key type, or not a valid key.
    #[error("DPoP proof jwk is missing or invalid for its alg")]
    BadKey,
    /// The signature does not verify with the embedded key.
    #[error("DPoP proof signature is invalid")]
    BadSignature,
    /// A required claim (`jti`, `htm`, `htu`, `iat`) is missing.
    #[error("DPoP proof lacks the {0} claim")]
    MissingClaim(&'static str),
    /// `jti` is empty or longer than [`MAX_JTI_LEN`].
    #[error("DPoP proof jti is empty or too long")]
    BadJti,
    /// `htm` is not the request's method.
    #[error("DPoP proof htm does not match the request method")]
    MethodMismatch,
    /// `htu` is not this endpoint's URI.
    #[error("DPoP proof htu does not match the request URI")]
    UriMismatch,
    /// `iat` is outside the window around the server's time.
    #[error("DPoP proof iat is not within the acceptable window")]
    StaleIat,
    /// `ath` is missing or not the hash of the access token presented.
    #[error("DPoP proof ath does not match the access token")]
    AthMismatch,
    /// The server requires a nonce and the proof has none, or an old one.
    #[error("DPoP proof must carry the server's current nonce")]
    NonceRequired,
    /// This `jti` was seen from this key within the window.
    #[error("DPoP proof was already used")]
    Replayed,
    /// The request carried more than one `DPoP` header, or one that is not text
    /// (RFC 9449 §4.3 step 1).
    #[error("exactly one DPoP header is allowed")]
    NotOneHeader,
}

impl DpopError {
    /// The OAuth error code to answer with: `use_dpop_nonce` for a missing or stale
    /// nonce (RFC 9449 §8, with a fresh `DPoP-Nonce` header), `invalid_dpop_proof`
    /// for everything else (§5; at resources, §7.1's `invalid_dpop_proof` too).
    pub fn code(&self) -> ErrorCode {
        match self {
            DpopError::NonceRequired => ErrorCode::UseDpopNonce,
            _ => ErrorCode::InvalidDpopProof,
        }
    }
}

/// The JOSE header members this verifier reads.
#[derive(Deserialize)]
struct Header {
    typ: Option<String>,
    alg: Option<String>,
    jwk: Option<Map<String, Value>>,
    crit: Option<Value>,
}

/// The claims this verifier reads; other members are ignored (RFC 9449 §4.2 allows
/// more).
#[derive(Deserialize)]
struct Claims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<u64>,
    nonce: Option<String>,
    ath: Option<String>,
}

/// Checks a `DPoP` header value against the request, RFC 9449 §4.3 steps 1–11 and
/// 12 where `ath` applies. Replay (`jti`) is the caller's next step:
/// [`check_replay`].
pub fn verify_proof(proof: &str, expected: &Expected<'_>) -> Result<Proof, DpopError> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(DpopError::TooLarge);
    }
    let mut parts = proof.split('.');
    let (Some(h64), Some(c64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(DpopError::NotCompactJws);
    };
    if h64.is_empty() || c64.is_empty() || s64.is_empty() {
        return Err(DpopError::NotCompactJws);
    }
    let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|_| DpopError::BadBase64);
    let header: Header =
        serde_json::from_slice(&decode(h64)?).map_err(|_| DpopError::BadJson("header"))?;
    if header.typ.as_deref() != Some(DPOP_JWT_TYPE) {
        return Err(DpopError::WrongType);
    }
    let alg = match header.alg.as_deref() {
        Some("EdDSA") => Alg::EdDsa,
        Some("ES256") => Alg::Es256,
        _ => return Err(DpopError::UnsupportedAlg),
    };
    if header.crit.is_some() {
        return Err(DpopError::Critical);
    }
    let jwk = header.jwk.ok_or(DpopError::BadKey)?;
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(DpopError::PrivateKey);
    }
    let key = PublicKey::from_jwk(alg, &jwk)?;
    let signature = decode(s64)?;
    let signing_input = &proof[..h64.len() + 1 + c64.len()];
    key.verify(signing_input.as_bytes(), &signature)?;

    let claims: Claims =
        serde_json::from_slice(&decode(c64)?).map_err(|_| DpopError::BadJson("claims"))?;
    let jti = claims.jti.ok_or(DpopError::MissingClaim("jti"))?;
    let htm = claims.htm.ok_or(DpopError::MissingClaim("htm"))?;
    let htu = claims.htu.ok_or(DpopError::MissingClaim("htu"))?;
    let iat = claims.iat.ok_or(DpopError::MissingClaim("iat"))?;
    if jti.is_empty() || jti.len() > MAX_JTI_LEN {
        return Err(DpopError::BadJti);
    }
    if htm != expected.method {
        return Err(DpopError::MethodMismatch);
    }
    match (normalize_htu(&htu), normalize_htu(expected.uri)) {
        (Some(a), Some(b)) if a == b => {}
        _ => return Err(DpopError::UriMismatch),
    }
    // Before `iat`: one answer then gives a clockless device both nonce and Date.
    if let Some(check) = expected.nonce
        && !claims
            .nonce
            .as_deref()
            .is_some_and(|n| check.accepts(n, expected.now))
    {
        return Err(DpopError::NonceRequired);
    }
    if iat.abs_diff(expected.now) > IAT_WINDOW_SECS {
        return Err(DpopError::StaleIat);
    }
    if let Some(token) = expected.access_token {
        let want = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
        if claims.ath.as_deref() != Some(want.as_str()) {
            return Err(DpopError::AthMismatch);
        }
    }
    Ok(Proof {
        jkt: key.thumbprint(),
        jti,
        iat,
    })
}

/// The `WWW-Authenticate` value for a DPoP challenge (RFC 9449 §7.1): the accepted
/// algorithms, and the error when a proof or a bound token was refused. Descriptions
/// are this module's fixed texts, so nothing needs escaping.
pub fn www_authenticate(error: Option<&DpopError>) -> String {
    let algs = SUPPORTED_ALGS.join(" ");
    match error {
        Some(e) => format!(
            r#"DPoP error="{}", error_description="{e}", algs="{algs}""#,
            e.code().as_str()
        ),
        None => format!(r#"DPoP algs="{algs}""#),
    }
}

#[derive(Clone, Copy)]
enum Alg {
    EdDsa,
    Es256,
}

/// A proof's public key, checked to be a valid key of its `alg`.
enum PublicKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
}

/// A JWK string member that must decode to exactly 32 bytes.
fn coord(jwk: &Map<String, Value>, name: &str) -> Result<[u8; 32], DpopError> {
    let s = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or(DpopError::BadKey)?;
    URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or(DpopError::BadKey)
}

impl PublicKey {
    fn from_jwk(alg: Alg, jwk: &Map<String, Value>) -> Result<Self, DpopError> {
        let member = |name: &str| jwk.get(name).and_then(Value::as_str);
        match alg {
            Alg::EdDsa => {
                if member("kty") != Some("OKP") || member("crv") != Some("Ed25519") {
                    return Err(DpopError::BadKey);
                }
                let x = coord(jwk, "x")?;
                ed25519_dalek::VerifyingKey::from_bytes(&x)
                    .map(PublicKey::Ed25519)
                    .map_err(|_| DpopError::BadKey)
            }
            Alg::Es256 => {
                if member("kty") != Some("EC") || member("crv") != Some("P-256") {
                    return Err(DpopError::BadKey);
                }
                let (x, y) = (coord(jwk, "x")?, coord(jwk, "y")?);
                let point =
                    p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
                p256::ecdsa::VerifyingKey::from_encoded_point(&point)
                    .map(PublicKey::P256)
                    .map_err(|_| DpopError::BadKey)
            }
        }
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), DpopError> {
        match self {
            PublicKey::Ed25519(key) => {
                let sig = ed25519_dalek::Signature::from_slice(signature)
                    .map_err(|_| DpopError::BadSignature)?;
                // Strict: no small-order keys, no malleable signatures.
                key.verify_strict(message, &sig)
                    .map_err(|_| DpopError::BadSignature)
            }
            PublicKey::P256(key) => {
                use p256::ecdsa::signature::Verifier as _;
                // JWS ES256 signatures are r‖s, 64 bytes (RFC 7518 §3.4), not DER.
                let sig = p256::ecdsa::Signature::from_slice(signature)
                    .map_err(|_| DpopError::BadSignature)?;
                key.verify(message, &sig)
                    .map_err(|_| DpopError::BadSignature)
            }
        }
    }

    /// RFC 7638: SHA-256 over the required members in lexicographic order.
    fn thumbprint(&self) -> String {
        let json = match self {
            PublicKey::Ed25519(key) => format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                URL_SAFE_NO_PAD.encode(key.as_bytes())
            ),
            PublicKey::P256(key) => {
                let point = key.to_encoded_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    // An uncompressed encoding always has both coordinates.
                    return String::new();
                };
                format!(
                    r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                    URL_SAFE_NO_PAD.encode(x),
                    URL_SAFE_NO_PAD.encode(y)
                )
            }
        };
        URL_SAFE_NO_PAD.encode(Sha256::digest(json.as_bytes()))
    }
}
