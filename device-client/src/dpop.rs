//! DPoP (RFC 9449): the device's Ed25519 key, its RFC 7638 thumbprint, and proofs
//! signed into the caller's buffer (feature `dpop`).
//!
//! A proof is a compact JWS: header `{"typ":"dpop+jwt","alg":"EdDSA","jwk":{…}}` with
//! the public key only, claims `jti`, `htm`, `htu`, `iat` and, when they apply,
//! `nonce` and `ath`. Nothing here allocates or reads a clock or an RNG: the caller
//! hands in the key seed, the `jti` bytes and the time. [`crate::DeviceFlow`] does
//! that for its own requests once [`crate::Config::dpop`] is set; these functions are
//! public for resource requests and for tests against other implementations.
//!
//! Boards have no wall clock, so `iat` comes from the server: [`parse_http_date`]
//! reads its `Date` header (RFC 9110 IMF-fixdate, strictly).

use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::tokens::PersistError;

/// Version byte that starts [`DpopKey::to_bytes`]; a later layout gets a new one.
pub const DPOP_KEY_FORMAT_VERSION: u8 = 1;

/// Bytes of a stored key ([`DpopKey::to_bytes`]): the version byte and the 32-byte
/// Ed25519 seed. Keep it in flash beside [`crate::Tokens::to_bytes`]; it is secret.
pub const DPOP_KEY_BYTES: usize = 33;

/// Characters of an RFC 7638 SHA-256 thumbprint in base64url (32 bytes → 43).
pub const JKT_LEN: usize = 43;

/// Random bytes in each `jti`: 128 bits (22 base64url characters), well above the
/// 96 bits RFC 9449 §4.2 asks for.
pub const JTI_BYTES: usize = 16;

/// The longest `DPoP-Nonce` kept, in bytes. Nonces are opaque server strings; ours
/// are far shorter. A longer one is ignored (and the server's `use_dpop_nonce` then
/// ends in the flow's usual error handling).
pub const NONCE_CAP: usize = 128;

/// The `typ` of a DPoP proof's JOSE header (RFC 9449 §4.2).
pub const DPOP_JWT_TYPE: &str = "dpop+jwt";

/// The HTTP header carrying a proof, and the one carrying a server nonce.
pub const DPOP_HEADER: &str = "DPoP";

/// The response header with a server-provided nonce (RFC 9449 §8).
pub const DPOP_NONCE_HEADER: &str = "DPoP-Nonce";

/// The device's DPoP key: an Ed25519 key pair made from 32 random bytes.
///
/// A board makes it once, from its hardware RNG on first boot ([`DpopKey::from_seed`]),
/// and stores [`DpopKey::to_bytes`] in flash beside its tokens: tokens bound to it
/// are worthless without it. `Debug` shows the thumbprint, never the secret.
#[derive(Clone)]
pub struct DpopKey {
    signing: SigningKey,
}

impl DpopKey {
    /// The key whose secret is `seed` (RFC 8032 §5.1.5). `seed` must come from a
    /// cryptographic RNG, or a stored key.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        DpopKey {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// The key as [`DPOP_KEY_BYTES`] bytes to persist: [`DPOP_KEY_FORMAT_VERSION`]
    /// then the seed. Secret: store it like a password.
    pub fn to_bytes(&self) -> [u8; DPOP_KEY_BYTES] {
        let mut out = [0u8; DPOP_KEY_BYTES];
        out[0] = DPOP_KEY_FORMAT_VERSION;
        out[1..].copy_from_slice(self.signing.as_bytes());
        out
    }

    /// Reads bytes written by [`DpopKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PersistError> {
        match bytes.split_first() {
            Some((&DPOP_KEY_FORMAT_VERSION, seed)) => {
                let seed: [u8; 32] = seed.try_into().map_err(|_| PersistError::Corrupt)?;
                Ok(DpopKey::from_seed(seed))
            }
            Some((&v, _)) => Err(PersistError::UnknownVersion(v)),
            None => Err(PersistError::Corrupt),
        }
    }

    /// The 32-byte Ed25519 public key (the JWK's `x`, decoded).
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The RFC 7638 thumbprint of the public JWK: the `jkt` a server binds tokens to
    /// (`cnf.jkt`, the `dpop_jkt` parameter).
    pub fn thumbprint(&self) -> Jkt {
        thumbprint(&self.public_key())
    }

    /// Signs `message` (exposed for test vectors: RFC 8037 §A.4).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// Writes the compact JWS of `proof` into `buf` and returns its length.
    ///
    /// A `buf` too small gives [`Error::BufferTooSmall`] with the exact size needed
    /// and leaves `buf` untouched, never a truncated proof.
    pub fn write_proof(&self, proof: &Proof<'_>, buf: &mut [u8]) -> Result<usize, Error> {
        let x = b64_32(&self.public_key());
        let required = signing_input(&x, proof, &mut Out::new(&mut [])) + 1 + SIG_B64_LEN;
        if required > buf.len() {
            return Err(Error::BufferTooSmall { required });
        }
        let mut out = Out::new(buf);
        let n = signing_input(&x, proof, &mut out);
        let sig = self.signing.sign(out.written()).to_bytes();
        out.byte(b'.');
        let mut b = B64::new(&mut out);
        b.push(&sig);
        b.finish();
        debug_assert_eq!(out.len, required);
        debug_assert_eq!(n + 1 + SIG_B64_LEN, required);
        Ok(out.len)
    }
}

impl PartialEq for DpopKey {
    fn eq(&self, other: &Self) -> bool {
        self.public_key() == other.public_key()
    }
}

impl Eq for DpopKey {}

impl core::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DpopKey")
            .field("jkt", &self.thumbprint().as_str())
            .finish_non_exhaustive()
    }
}

/// What one proof says (RFC 9449 §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proof<'a> {
    /// The HTTP method of the request (`htm`), e.g. `POST`.
    pub htm: &'a str,
    /// The target URI (`htu`); any query or fragment is left out, as §4.2 requires.
    pub htu: &'a str,
    /// Creation time (`iat`), Unix seconds, from the server's clock.
    pub iat: u64,
    /// Random bytes for `jti` (at least [`JTI_BYTES`] from a good source; they are
    /// base64url-encoded as they are).
    pub jti: &'a [u8],
    /// The server's latest `DPoP-Nonce`, if it gave one.
    pub nonce: Option<&'a str>,
    /// The access token the request presents (resource requests): its SHA-256 goes
    /// in `ath`.
    pub access_token: Option<&'a str>,
}

/// An RFC 7638 JWK SHA-256 thumbprint, base64url without padding.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Jkt([u8; JKT_LEN]);

impl Jkt {
    /// The thumbprint as text.
    pub fn as_str(&self) -> &str {
        // Only base64url characters are ever stored.
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl core::fmt::Debug for Jkt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::fmt::Display for Jkt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The RFC 7638 thumbprint of the Ed25519 public key `x`: SHA-256 over
/// `{"crv":"Ed25519","kty":"OKP","x":"…"}` (required members, sorted, no spaces).
pub fn thumbprint(x: &[u8; 32]) -> Jkt {
    let mut h = Sha256::new();
    h.update(br#"{"crv":"Ed25519","kty":"OKP","x":""#);
    h.update(b64_32(x));
    h.update(br#""}"#);
    Jkt(b64_32(&h.finalize().into()))
}

/// `base64url(SHA-256(access_token))`, the `ath` claim (RFC 9449 §4.2).
pub fn access_token_hash(access_token: &str) -> [u8; JKT_LEN] {
    b64_32(&Sha256::digest(access_token.as_bytes()).into())
}

/// DPoP for a [`crate::DeviceFlow`]: the key, and what the flow cannot know by itself.
///
/// Set [`crate::Config::dpop`] to it and every device authorization and token request
/// carries a `DPoP` header ([`crate::Transmit::dpop_proof`]); revocation requests
/// carry none (RFC 9449 defines none there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DpopConfig<'c> {
    /// The device's key, e.g. [`DpopKey::from_bytes`] of what it stored on first boot.
    pub key: &'c DpopKey,
    /// Fresh random bytes from the board's RNG, new at every boot: each proof's `jti`
    /// is derived from them and a counter (SHA-256), so a flow needs no RNG of its own
    /// and never repeats a `jti` unless the seed repeats.
    pub jti_seed: [u8; 32],
    /// The full URL of the device authorization endpoint, as the server knows it
    /// (the proof's `htu`; the path alone is not enough).
    pub device_authorization_url: &'c str,
    /// The full URL of the token endpoint.
    pub token_url: &'c str,
}

/// A `Date` further than this from the `iat` the flow sent means its time was wrong,
/// so a rejected proof is worth one immediate retry with the server's time.
pub(crate) const CLOCK_TOLERANCE_SECS: u64 = 30;

/// What a [`crate::DeviceFlow`] remembers for DPoP: the server's clock, its latest
/// nonce, and the `jti` counter.
#[derive(Clone, Debug, Default)]
pub(crate) struct DpopState {
    /// Server Unix milliseconds minus the flow's `now`, from the last `Date`.
    offset_ms: Option<i64>,
    /// The latest `DPoP-Nonce`.
    pub(crate) nonce: Option<heapless::String<NONCE_CAP>>,
    /// Proofs signed so far (the `jti` counter).
    counter: u64,
    /// `Date` of the answer being handed in, applied by `handle_response`.
    answer_date: Option<u64>,
    /// The answer being handed in brought a new nonce.
    pub(crate) nonce_changed: bool,
    /// `iat` of the proof of the request in flight.
    pub(crate) sent_iat: Option<u64>,
    /// A rejected proof was already retried at once; the next rejection is handled as
    /// an ordinary error.
    pub(crate) retried: bool,
}

impl DpopState {
    /// The server's time at `now`, Unix seconds: from its last `Date` if any, else
    /// `now` itself (right when the driver's `Instant` is Unix time, as in the `std`
    /// transport; a board's first proof is then stale and the retry fixes it).
    pub(crate) fn unix_secs(&self, now: crate::Instant) -> u64 {
        let now_ms = i64::try_from(now.as_millis()).unwrap_or(i64::MAX);
        match self.offset_ms {
            Some(off) => (now_ms.saturating_add(off).max(0) as u64) / 1000,
            None => now.as_millis() / 1000,
        }
    }

    /// Whether a server time is known.
    pub(crate) fn has_server_time(&self) -> bool {
        self.offset_ms.is_some()
    }

    /// Keeps the `Date` of the answer about to be handed in.
    pub(crate) fn set_answer_date(&mut self, value: &[u8]) {
        self.answer_date = parse_http_date(value);
    }

    /// Keeps a `DPoP-Nonce` if it is a valid RFC 9449 §8 nonce (1*NQCHAR) that fits.
    pub(crate) fn set_nonce(&mut self, value: &[u8]) {
        let v = value.trim_ascii();
        let nqchar = |c: &u8| matches!(c, 0x21 | 0x23..=0x5B | 0x5D..=0x7E);
        if v.is_empty() || !v.iter().all(nqchar) {
            return;
        }
        let Ok(s) = core::str::from_utf8(v) else {
            return;
        };
        let mut nonce = heapless::String::new();
        if nonce.push_str(s).is_err() {
            return;
        }
        if self.nonce.as_ref() != Some(&nonce) {
            self.nonce = Some(nonce);
            self.nonce_changed = true;
        }
    }

    /// Applies the answer's `Date` at `now`; returns whether the proof in flight had
    /// a wrong `iat` by the server's clock.
    pub(crate) fn apply_answer(&mut self, now: crate::Instant) -> bool {
        let Some(date) = self.answer_date.take() else {
            return false;
        };
        let server_ms = i64::try_from(date.saturating_mul(1000)).unwrap_or(i64::MAX);
        let now_ms = i64::try_from(now.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms = Some(server_ms.saturating_sub(now_ms));
        self.sent_iat
            .is_some_and(|iat| iat.abs_diff(date) > CLOCK_TOLERANCE_SECS)
    }

    /// The next proof's `jti` bytes: SHA-256 of the seed and the counter, truncated.
    pub(crate) fn next_jti(&mut self, seed: &[u8; 32]) -> [u8; JTI_BYTES] {
        let mut h = Sha256::new();
        h.update(b"authgate-dpop-jti");
        h.update(seed);
        h.update(self.counter.to_be_bytes());
        self.counter = self.counter.wrapping_add(1);
        let digest: [u8; 32] = h.finalize().into();
        let mut jti = [0u8; JTI_BYTES];
        jti.copy_from_slice(&digest[..JTI_BYTES]);
        jti
    }
}

/// Base64url length of a 64-byte Ed25519 signature.
const SIG_B64_LEN: usize = 86;

/// Writes `base64url(header) "." base64url(claims)`; returns the bytes it needs.
fn signing_input(x: &[u8; JKT_LEN], p: &Proof<'_>, out: &mut Out<'_>) -> usize {
    let mut b = B64::new(out);
    b.push(br#"{"typ":"dpop+jwt","alg":"EdDSA","jwk":{"kty":"OKP","crv":"Ed25519","x":""#);
    b.push(x);
    b.push(br#""}}"#);
    b.finish();
    out.byte(b'.');
    let mut b = B64::new(out);
    b.push(br#"{"jti":""#);
    // Base64url text inside the JSON, which is itself base64url-encoded: three bytes
    // at a time, whose four characters go through the outer encoder.
    for chunk in p.jti.chunks(3) {
        let mut chars = [0u8; 4];
        let n = base64url(chunk, &mut chars).unwrap_or(0);
        b.push(&chars[..n]);
    }
    b.push(br#"","htm":""#);
    json_str(&mut b, p.htm);
    b.push(br#"","htu":""#);
    let htu = p.htu.split(['?', '#']).next().unwrap_or("");
    json_str(&mut b, htu);
    b.push(br#"","iat":"#);
    let mut digits = [0u8; 20];
    b.push(decimal(p.iat, &mut digits));
    if let Some(nonce) = p.nonce {
        b.push(br#","nonce":""#);
        json_str(&mut b, nonce);
        b.push(b"\"");
    }
    if let Some(token) = p.access_token {
        b.push(br#","ath":""#);
        b.push(&access_token_hash(token));
        b.push(b"\"");
    }
    b.push(b"}");
    b.finish();
    out.len
}

/// `n` in decimal ASCII, in the tail of `digits`.
fn decimal(mut n: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &digits[i..]
}

/// Appends `s` as the inside of a JSON string (RFC 8259 §7 escapes).
fn json_str(b: &mut B64<'_, '_>, s: &str) {
    for &c in s.as_bytes() {
        match c {
            b'"' => b.push(b"\\\""),
            b'\\' => b.push(b"\\\\"),
            0..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                b.push(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(c >> 4)],
                    HEX[usize::from(c & 0xf)],
                ]);
            }
            _ => b.push(&[c]),
        }
    }
}

/// Writes into a fixed buffer, counting on past its end so a short buffer learns
/// exactly what it needs.
struct Out<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> Out<'b> {
    fn new(buf: &'b mut [u8]) -> Self {
        Out { buf, len: 0 }
    }

    fn byte(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
        }
        self.len += 1;
    }

    fn written(&self) -> &[u8] {
        let n = self.len.min(self.buf.len());
        &self.buf[..n]
    }
}

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A streaming base64url encoder without padding (RFC 7515 §2).
struct B64<'o, 'b> {
    out: &'o mut Out<'b>,
    acc: u32,
    bits: u32,
}

impl<'o, 'b> B64<'o, 'b> {
    fn new(out: &'o mut Out<'b>) -> Self {
        B64 {
            out,
            acc: 0,
            bits: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.acc = (self.acc << 8) | u32::from(byte);
            self.bits += 8;
            while self.bits >= 6 {
                self.bits -= 6;
                self.out
                    .byte(B64URL[((self.acc >> self.bits) & 63) as usize]);
            }
            self.acc &= (1 << self.bits) - 1;
        }
    }

    fn finish(self) {
        if self.bits > 0 {
            self.out
                .byte(B64URL[((self.acc << (6 - self.bits)) & 63) as usize]);
        }
    }
}

/// 32 bytes in base64url: 43 characters.
fn b64_32(bytes: &[u8; 32]) -> [u8; JKT_LEN] {
    let mut arr = [0u8; JKT_LEN];
    let mut out = Out::new(&mut arr);
    let mut b = B64::new(&mut out);
    b.push(bytes);
    b.finish();
    arr
}

/// Encodes `bytes` as base64url into `out`, returning the length written, or `None`
/// if `out` is too short.
pub fn base64url(bytes: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut o = Out::new(out);
    let mut b = B64::new(&mut o);
    b.push(bytes);
    b.finish();
    (o.len <= o.buf.len()).then_some(o.len)
}

/// Parses an RFC 9110 §5.6.7 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, what every
/// current server sends in `Date`) into Unix seconds. Strict: exactly that shape, a
/// real calendar date, the weekday that date falls on, 1970 or later. The obsolete
/// RFC 850 and asctime forms are refused (`None`): a wrong time is worse than none.
pub fn parse_http_date(value: &[u8]) -> Option<u64> {
    let v = value.trim_ascii();
    if v.len() != 29 || &v[3..5] != b", " || &v[25..] != b" GMT" {
        return None;
    }
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let sep = |i: usize, c: u8| v[i] == c;
    if !(sep(7, b' ') && sep(11, b' ') && sep(16, b' ') && sep(19, b':') && sep(22, b':')) {
        return None;
    }
    let num = |a: usize, b: usize| -> Option<u64> {
        let s = &v[a..b];
        s.iter()
            .all(u8::is_ascii_digit)
            .then(|| s.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
    };
    let day = num(5, 7)?;
    let month = MONTHS.iter().position(|m| &v[8..11] == *m)? as u64 + 1;
    let year = num(12, 16)?;
    let (hour, min, sec) = (num(17, 19)?, num(20, 22)?, num(23, 25)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_len = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if year < 1970 || day == 0 || day > month_len || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    // Days since 1970-01-01 (H. Hinnant's days_from_civil, for years ≥ 1970).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    if &v[..3] != DAYS[(days % 7) as usize] {
        return None;
    }
    Some(days * 86_400 + hour * 3600 + min * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64d(s: &str) -> std::vec::Vec<u8> {
        let mut v = std::vec::Vec::new();
        let (mut acc, mut bits) = (0u32, 0);
        for c in s.bytes() {
            let i = B64URL.iter().position(|&a| a == c).unwrap() as u32;
            acc = (acc << 6) | i;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                v.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        v
    }

    /// RFC 8037 Appendix A.1 private key.
    fn rfc8037_key() -> DpopKey {
        let d: [u8; 32] = b64d("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .try_into()
            .unwrap();
        DpopKey::from_seed(d)
    }

    #[test]
    fn rfc8037_a2_public_key_and_a3_thumbprint() {
        let key = rfc8037_key();
        assert_eq!(
            &b64_32(&key.public_key()),
            b"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        );
        assert_eq!(
            key.thumbprint().as_str(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn rfc8037_a4_signature() {
        let key = rfc8037_key();
        let input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        let mut out = [0u8; 86];
        let n = base64url(&key.sign(input), &mut out).unwrap();
        assert_eq!(
            core::str::from_utf8(&out[..n]).unwrap(),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
    }

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        let mut out = [0u8; 16];
        for (input, want) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            let n = base64url(input.as_bytes(), &mut out).unwrap();
            assert_eq!(&out[..n], want.as_bytes());
        }
        assert_eq!(
            base64url(b"\xfb\xff", &mut out).map(|n| &out[..n]),
            Some(&b"-_8"[..])
        );
        assert_eq!(base64url(b"foobar", &mut [0u8; 7]), None);
    }

    #[test]
    fn key_round_trips_and_refuses_other_versions() {
        let key = DpopKey::from_seed([7; 32]);
        let bytes = key.to_bytes();
        assert_eq!(bytes[0], DPOP_KEY_FORMAT_VERSION);
        assert_eq!(DpopKey::from_bytes(&bytes), Ok(key.clone()));
        let mut other = bytes;
        other[0] = 9;
        assert_eq!(
            DpopKey::from_bytes(&other),
            Err(PersistError::UnknownVersion(9))
        );
        assert_eq!(
            DpopKey::from_bytes(&bytes[..20]),
            Err(PersistError::Corrupt)
        );
        assert_eq!(DpopKey::from_bytes(&[]), Err(PersistError::Corrupt));
        let debug = std::format!("{key:?}");
        assert!(debug.contains(key.thumbprint().as_str()), "{debug}");
    }

    #[test]
    fn short_buffer_reports_exact_size_and_is_untouched() {
        let key = DpopKey::from_seed([1; 32]);
        let p = Proof {
            htm: "POST",
            htu: "https://a.example/oauth/token?x=1#f",
            iat: 1_700_000_000,
            jti: &[3; JTI_BYTES],
            nonce: Some("n-1"),
            access_token: Some("v4.public.abc"),
        };
        let mut big = [0u8; 1024];
        let n = key.write_proof(&p, &mut big).unwrap();
        let mut small = [0xAAu8; 100];
        assert_eq!(
            key.write_proof(&p, &mut small),
            Err(Error::BufferTooSmall { required: n })
        );
        assert!(small.iter().all(|&b| b == 0xAA));
        let mut exact = std::vec![0u8; n];
        assert_eq!(key.write_proof(&p, &mut exact), Ok(n));
        assert_eq!(exact[..], big[..n]);
        // The claims leave out the query and fragment.
        let jws = core::str::from_utf8(&big[..n]).unwrap();
        let claims = b64d(jws.split('.').nth(1).unwrap());
        let claims = core::str::from_utf8(&claims).unwrap();
        assert!(
            claims.contains(r#""htu":"https://a.example/oauth/token""#),
            "{claims}"
        );
        assert!(
            claims.contains(r#""iat":1700000000,"nonce":"n-1","ath":""#),
            "{claims}"
        );
    }

    #[test]
    fn http_dates_parse_strictly() {
        assert_eq!(
            parse_http_date(b"Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date(b"Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date(b"Tue, 29 Feb 2028 23:59:59 GMT"),
            Some(1_835_481_599)
        );
        assert_eq!(
            parse_http_date(b"Sun, 29 Nov 2026 22:21:00 GMT"),
            Some(1_795_990_860)
        );
        for bad in [
            &b"Mon, 06 Nov 1994 08:49:37 GMT"[..], // wrong weekday
            b"Sunday, 06-Nov-94 08:49:37 GMT",     // RFC 850
            b"Sun Nov  6 08:49:37 1994",           // asctime
            b"Sun, 06 Nov 1994 08:49:37 UTC",
            b"Sun, 31 Nov 1994 08:49:37 GMT",
            b"Thu, 29 Feb 2029 08:49:37 GMT",
            b"Sun, 06 Nov 1994 24:49:37 GMT",
            b"Sun, 06 Xyz 1994 08:49:37 GMT",
            b"Wed, 31 Dec 1969 23:59:59 GMT",
            b"Sun, 06 Nov 1994 08:4x:37 GMT",
            b"",
        ] {
            assert_eq!(
                parse_http_date(bad),
                None,
                "{}",
                std::string::String::from_utf8_lossy(bad)
            );
        }
    }
}
