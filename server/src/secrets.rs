//! Random secrets, their at-rest hashes, and constant-time comparison.
//!
//! Device codes, refresh tokens, session cookies and client secrets are 256-bit
//! random values; the database only ever stores their SHA-256, so a stolen database
//! file yields nothing that can be presented back to the server.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `N` bytes from the operating system's CSPRNG (via rand's thread RNG, reseeded
/// from the OS).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    rand::rng().fill_bytes(&mut buf);
    buf
}

/// Fills a buffer with CSPRNG bytes (for `UserCode::generate`).
pub fn fill_random(buf: &mut [u8]) {
    rand::rng().fill_bytes(buf);
}

/// A new 256-bit secret as 43 base64url characters.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// A 16-byte storage key that sorts by creation time: 8 bytes of Unix microseconds
/// (big-endian), then 8 random bytes.
///
/// Why: redb's B-tree is copy-on-write, so every insert rewrites the leaf it lands
/// in. Random keys scatter a group commit over hundreds of leaves; time-ordered keys
/// put a whole batch in the last one or two, which made durable inserts ~2–4× faster
/// (see the README's performance section). The random half keeps keys unique.
pub fn time_ordered_id() -> [u8; 16] {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    let mut id = random_bytes::<16>();
    id[..8].copy_from_slice(&micros.to_be_bytes());
    id
}

/// A bearer secret that carries its own storage key: base64url of the 16-byte
/// [`time_ordered_id`] followed by 32 random bytes (64 characters).
///
/// The server finds the record by the key and then checks the SHA-256 of the whole
/// token in constant time, so only hashes are stored and lookups stay ordered.
/// Used for device codes and refresh tokens.
pub fn keyed_token(id: &[u8; 16]) -> String {
    let mut raw = [0u8; 48];
    raw[..16].copy_from_slice(id);
    raw[16..].copy_from_slice(&random_bytes::<32>());
    URL_SAFE_NO_PAD.encode(raw)
}

/// The storage key inside a [`keyed_token`]; `None` for anything not shaped like
/// one (which the caller answers as an unknown token).
pub fn keyed_token_id(token: &str) -> Option<[u8; 16]> {
    if token.len() != 64 {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    raw.get(..16)?.try_into().ok()
}

/// An access token's `jti`: a [`time_ordered_id`] as 22 base64url characters.
pub fn new_jti() -> String {
    URL_SAFE_NO_PAD.encode(time_ordered_id())
}

/// SHA-256 of a secret: the form in which secrets are stored and looked up.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Compares two secrets without leaking, through timing, where they differ.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Lower-case hex, for ids shown in pages and URLs.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Parses what [`hex`] produced.
pub fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N * 2 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_distinct() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        assert!(ct_eq(&sha256(a.as_bytes()), &sha256(a.as_bytes())));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn keyed_tokens_carry_their_key_and_sort_by_time() {
        let a = time_ordered_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = time_ordered_id();
        assert!(a < b, "later ids sort after earlier ones");
        let token = keyed_token(&a);
        assert_eq!(token.len(), 64);
        assert_eq!(keyed_token_id(&token), Some(a));
        assert_ne!(keyed_token(&a), token, "the secret half is random");
        assert_eq!(keyed_token_id(&token[..63]), None);
        assert_eq!(keyed_token_id(&"!".repeat(64)), None);
        assert_eq!(keyed_token_id(""), None);
        assert_eq!(new_jti().len(), 22);
    }

    #[test]
    fn hex_round_trips() {
        let id = random_bytes::<16>();
        assert_eq!(unhex::<16>(&hex(&id)), Some(id));
        assert_eq!(unhex::<16>("zz"), None);
        assert_eq!(unhex::<2>("é1é"), None);
    }
}
