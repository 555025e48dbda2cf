//! Server nonces (RFC 9449 §8): stateless, so every instance sharing the key accepts
//! every other's, and so a nonce carries the server's time for a device without one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How a proof's `nonce` is judged ([`super::Expected::nonce`]).
pub trait NonceCheck: Send + Sync + core::fmt::Debug {
    /// Whether `nonce` is acceptable at `now` (Unix seconds).
    fn accepts(&self, nonce: &str, now: u64) -> bool;
}

/// One exact nonce (tests, and a server that keeps its current nonce).
impl NonceCheck for &str {
    fn accepts(&self, nonce: &str, _now: u64) -> bool {
        nonce == *self
    }
}

/// Bytes of the time stamp and of the (truncated) MAC in a nonce.
const STAMP: usize = 8;
const TAG: usize = 16;

/// A nonce from another instance whose clock runs this far ahead is still taken.
const SKEW_SECS: u64 = 5;

/// Issues and checks nonces `base64url(issued_at ‖ HMAC-SHA256(key, issued_at)[..16])`:
/// 32 characters, no state, valid for `lifetime` seconds after issue.
pub struct NonceIssuer {
    key: [u8; 32],
    lifetime: u64,
}

impl NonceIssuer {
    /// A default lifetime: long enough for a slow device's retry, short enough that a
    /// captured proof is soon useless (RFC 9449 §11.1).
    pub const DEFAULT_LIFETIME_SECS: u64 = 300;

    /// An issuer with a secret `key` (the same on every instance) and `lifetime`.
    pub fn new(key: [u8; 32], lifetime: u64) -> Self {
        NonceIssuer { key, lifetime }
    }

    fn tag(&self, stamp: &[u8; STAMP]) -> [u8; TAG] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(b"authgate-dpop-nonce");
        mac.update(stamp);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG];
        tag.copy_from_slice(&full[..TAG]);
        tag
    }

    /// A fresh nonce, for the `DPoP-Nonce` header.
    pub fn issue(&self, now: u64) -> String {
        let stamp = now.to_be_bytes();
        let mut raw = [0u8; STAMP + TAG];
        raw[..STAMP].copy_from_slice(&stamp);
        raw[STAMP..].copy_from_slice(&self.tag(&stamp));
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// When `nonce` was issued, if this issuer made it (MAC compared in constant
    /// time).
    pub fn issued_at(&self, nonce: &str) -> Option<u64> {
        use subtle::ConstantTimeEq as _;
        let raw = URL_SAFE_NO_PAD.decode(nonce).ok()?;
        let raw: [u8; STAMP + TAG] = raw.try_into().ok()?;
        let mut stamp = [0u8; STAMP];
        stamp.copy_from_slice(&raw[..STAMP]);
        bool::from(self.tag(&stamp).ct_eq(&raw[STAMP..])).then(|| u64::from_be_bytes(stamp))
    }
}

impl NonceCheck for NonceIssuer {
    fn accepts(&self, nonce: &str, now: u64) -> bool {
        self.issued_at(nonce).is_some_and(|t| {
            t <= now.saturating_add(SKEW_SECS) && now.saturating_sub(t) <= self.lifetime
        })
    }
}

impl core::fmt::Debug for NonceIssuer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NonceIssuer")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_live_for_their_lifetime_and_only_with_the_key() {
        let issuer = NonceIssuer::new([1; 32], NonceIssuer::DEFAULT_LIFETIME_SECS);
        let n = issuer.issue(1_000);
        assert_eq!(n.len(), 32);
        assert!(
            n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(issuer.issued_at(&n), Some(1_000));
        assert!(issuer.accepts(&n, 1_000));
        assert!(issuer.accepts(&n, 1_300));
        assert!(!issuer.accepts(&n, 1_301), "expired");
        assert!(
            issuer.accepts(&n, 995),
            "another instance's clock a little behind"
        );
        assert!(!issuer.accepts(&n, 990), "from the future");
        let other = NonceIssuer::new([2; 32], 300);
        assert!(!other.accepts(&n, 1_000), "another key");
        let mut forged = n.clone().into_bytes();
        forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
        assert!(!issuer.accepts(std::str::from_utf8(&forged).unwrap(), 1_000));
        assert!(!issuer.accepts("", 1_000));
        assert!(!issuer.accepts("not base64!", 1_000));
        assert!(!format!("{issuer:?}").contains("[1"), "key in Debug");
        assert!("n-1".accepts("n-1", 0) && !"n-1".accepts("n-2", 0));
    }
}
