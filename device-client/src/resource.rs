//! Using the token: the headers of one request to a resource server (RFC 6750 §2.1
//! `Authorization: Bearer`, or RFC 9449 §7 `Authorization: DPoP` plus a `DPoP` proof),
//! written into the caller's buffer like every request this crate builds.

use crate::error::{ApiMisuse, Error};
use crate::flow::DeviceFlow;
use crate::time::Instant;

/// RFC 6750's authentication scheme.
const BEARER: &str = "Bearer ";
/// RFC 9449 §7.1's authentication scheme for DPoP-bound tokens.
#[cfg(feature = "dpop")]
const DPOP: &str = "DPoP ";

/// Where [`DeviceFlow::write_resource_auth`] put the header values in the caller's
/// buffer: send `Authorization: <authorization>` and, when present, `DPoP: <dpop>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "the headers must go out with the request"]
pub struct ResourceAuth {
    /// Bytes of the `Authorization` value at the start of the buffer.
    pub authorization_len: usize,
    /// Bytes of the `DPoP` proof right after it; 0 without DPoP.
    pub dpop_len: usize,
}

impl ResourceAuth {
    /// The `Authorization` header value, within the buffer given to
    /// [`DeviceFlow::write_resource_auth`].
    pub fn authorization<'b>(&self, buf: &'b [u8]) -> &'b str {
        buf.get(..self.authorization_len)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    /// The `DPoP` header value, if the request carries a proof.
    pub fn dpop<'b>(&self, buf: &'b [u8]) -> Option<&'b str> {
        if self.dpop_len == 0 {
            return None;
        }
        let end = self.authorization_len.checked_add(self.dpop_len)?;
        core::str::from_utf8(buf.get(self.authorization_len..end)?).ok()
    }
}

impl DeviceFlow<'_> {
    /// Writes the headers that authenticate a `method` request to `url` (the full URL
    /// the request goes to, without query or fragment, as RFC 9449 §4.2's `htu`).
    ///
    /// Without [`crate::Config`]'s DPoP key (or without the `dpop` feature) this is
    /// `Bearer <access token>`. With one it is `DPoP <access token>` and a fresh proof
    /// with `ath` (`DeviceFlow::write_resource_proof`, feature `dpop`): the token
    /// endpoint bound the tokens to that key, and a bound token sent as a bearer is
    /// refused.
    ///
    /// Errors: [`Error::BufferTooSmall`] with the size needed (nothing written),
    /// [`ApiMisuse::NoTokens`] without an unexpired access token at `now` (sign in or
    /// wait for the refresh first).
    pub fn write_resource_auth(
        &mut self,
        now: Instant,
        method: &str,
        url: &str,
        buf: &mut [u8],
    ) -> Result<ResourceAuth, Error> {
        let scheme = self.resource_scheme();
        let token_len = match self.access_token(now) {
            Some(token) => token.len(),
            None => return Err(ApiMisuse::NoTokens.into()),
        };
        let authorization_len = scheme.len() + token_len;
        let proof_len = self.resource_proof_len(now, method, url)?;
        let required = authorization_len + proof_len;
        if buf.len() < required {
            return Err(Error::BufferTooSmall { required });
        }
        let (auth, rest) = buf.split_at_mut(authorization_len);
        let (scheme_out, token_out) = auth.split_at_mut(scheme.len());
        scheme_out.copy_from_slice(scheme.as_bytes());
        if let Some(token) = self.access_token(now) {
            token_out.copy_from_slice(token.as_bytes());
        }
        let dpop_len = self.write_proof_into(now, method, url, rest, proof_len)?;
        Ok(ResourceAuth {
            authorization_len,
            dpop_len,
        })
    }

    /// `Bearer ` or, with a DPoP key, `DPoP `.
    fn resource_scheme(&self) -> &'static str {
        #[cfg(feature = "dpop")]
        if self.config().dpop.is_some() {
            return DPOP;
        }
        BEARER
    }

    /// Bytes of the proof [`Self::write_proof_into`] will write (0 without DPoP).
    #[cfg_attr(not(feature = "dpop"), allow(unused_variables, clippy::unused_self))]
    fn resource_proof_len(
        &mut self,
        now: Instant,
        method: &str,
        url: &str,
    ) -> Result<usize, Error> {
        #[cfg(feature = "dpop")]
        if self.config().dpop.is_some() {
            // HOOK(dpop): the proof's size, learnt from an empty buffer (nothing signed).
            return match self.write_resource_proof(now, method, url, &mut []) {
                Err(Error::BufferTooSmall { required }) => Ok(required),
                Ok(n) => Ok(n),
                Err(e) => Err(e),
            };
        }
        Ok(0)
    }

    /// Signs the proof into `buf` (which holds `len` bytes at least); 0 without DPoP.
    #[cfg_attr(not(feature = "dpop"), allow(unused_variables, clippy::unused_self))]
    fn write_proof_into(
        &mut self,
        now: Instant,
        method: &str,
        url: &str,
        buf: &mut [u8],
        len: usize,
    ) -> Result<usize, Error> {
        #[cfg(feature = "dpop")]
        if len > 0 {
            return self.write_resource_proof(now, method, url, buf);
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Config;
    use crate::time::Duration;
    use crate::tokens::Tokens;

    fn signed_in(config: Config<'_>, now: Instant) -> DeviceFlow<'_> {
        let expires = now + Duration::from_secs(900);
        let tokens = Tokens::new("v4.public.abc", Some("r"), None, Some(expires));
        DeviceFlow::resume(config, tokens.expect("valid tokens"), now)
    }

    #[test]
    fn bearer_header_without_dpop() {
        let now = Instant::from_millis(5_000);
        let mut flow = signed_in(Config::new("c"), now);
        let mut buf = [0u8; 64];
        let auth = flow
            .write_resource_auth(now, "GET", "http://h/oauth/tokeninfo", &mut buf)
            .unwrap();
        assert_eq!(auth.authorization(&buf), "Bearer v4.public.abc");
        assert_eq!(auth.dpop(&buf), None);
    }

    #[test]
    fn small_buffer_is_reported_not_truncated() {
        let now = Instant::from_millis(5_000);
        let mut flow = signed_in(Config::new("c"), now);
        // "Bearer " + "v4.public.abc": 20 bytes.
        let mut buf = [0xAAu8; 19];
        assert_eq!(
            flow.write_resource_auth(now, "GET", "http://h/r", &mut buf),
            Err(Error::BufferTooSmall { required: 20 })
        );
        assert_eq!(buf, [0xAA; 19], "nothing written");
        let mut exact = [0u8; 20];
        assert!(
            flow.write_resource_auth(now, "GET", "http://h/r", &mut exact)
                .is_ok()
        );
    }

    #[test]
    fn no_token_or_an_expired_one_is_api_misuse() {
        let now = Instant::from_millis(5_000);
        let mut buf = [0u8; 64];
        let mut flow = DeviceFlow::new(Config::new("c"), now);
        assert_eq!(
            flow.write_resource_auth(now, "GET", "http://h/r", &mut buf),
            Err(ApiMisuse::NoTokens.into())
        );
        let mut flow = signed_in(Config::new("c"), now);
        let later = now + Duration::from_secs(901);
        assert_eq!(
            flow.write_resource_auth(later, "GET", "http://h/r", &mut buf),
            Err(ApiMisuse::NoTokens.into())
        );
    }

    #[cfg(feature = "dpop")]
    #[test]
    fn dpop_scheme_and_a_proof_bound_to_the_token() {
        use crate::dpop::{DpopConfig, DpopKey, access_token_hash};
        let key = DpopKey::from_seed([7; 32]);
        let mut config = Config::new("c");
        config.dpop = Some(DpopConfig {
            key: &key,
            jti_seed: [1; 32],
            device_authorization_url: "http://h/oauth/device/code",
            token_url: "http://h/oauth/token",
        });
        let now = Instant::from_millis(5_000);
        let mut flow = signed_in(config, now);
        let mut buf = [0u8; 1024];
        let auth = flow
            .write_resource_auth(now, "GET", "http://h/oauth/tokeninfo", &mut buf)
            .unwrap();
        assert_eq!(auth.authorization(&buf), "DPoP v4.public.abc");
        let proof = auth.dpop(&buf).expect("a proof");
        let payload = proof.split('.').nth(1).expect("a JWS");
        let mut json = [0u8; 512];
        let n = base64_decode(payload, &mut json);
        let claims: serde_json::Value = serde_json::from_slice(&json[..n]).unwrap();
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], "http://h/oauth/tokeninfo");
        let ath = access_token_hash("v4.public.abc");
        assert_eq!(claims["ath"], core::str::from_utf8(&ath).unwrap());
        // Too small by one: the exact size is reported.
        let need = auth.authorization_len + auth.dpop_len;
        let mut short = std::vec![0u8; need - 1];
        assert_eq!(
            flow.write_resource_auth(now, "GET", "http://h/oauth/tokeninfo", &mut short),
            Err(Error::BufferTooSmall { required: need })
        );
    }

    /// base64url without padding, for reading the proof's claims back.
    #[cfg(feature = "dpop")]
    fn base64_decode(s: &str, out: &mut [u8]) -> usize {
        let val = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            _ => 63,
        };
        let (mut acc, mut bits, mut n) = (0u32, 0, 0);
        for c in s.bytes() {
            acc = (acc << 6) | u32::from(val(c));
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out[n] = (acc >> bits) as u8;
                n += 1;
            }
        }
        n
    }
}
