//! Requests: form bodies written into the caller's buffer, described by [`Transmit`].

use crate::error::Error;

/// The `Content-Type` every request body has (RFC 6749 §4.1.3, RFC 8628 §3.1).
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// The HTTP method of a request. Every OAuth endpoint this client calls takes `POST`;
/// the enum exists so a transport never hard-codes that assumption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// `POST` with a form body.
    Post,
}

impl Method {
    /// The method as written in an HTTP request line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
        }
    }
}

/// Which server endpoint a request goes to, so a transport that discovered full URLs
/// (RFC 8414) can map it without parsing paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// RFC 8628 §3.1 device authorization endpoint.
    DeviceAuthorization,
    /// RFC 6749 §3.2 token endpoint (device-code polls and refreshes).
    Token,
    /// RFC 7009 revocation endpoint.
    Revocation,
}

/// What kind of request the flow sent, so a driver can log or count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestKind {
    /// Ask for a new device code and user code.
    DeviceAuthorization,
    /// Poll the token endpoint with the device code.
    PollToken,
    /// Exchange the refresh token for a new access token.
    Refresh,
    /// Revoke the refresh token (logout).
    RevokeRefreshToken,
    /// Revoke the access token (logout).
    RevokeAccessToken,
}

impl RequestKind {
    /// The endpoint this kind of request is sent to.
    pub const fn endpoint(self) -> Endpoint {
        match self {
            RequestKind::DeviceAuthorization => Endpoint::DeviceAuthorization,
            RequestKind::PollToken | RequestKind::Refresh => Endpoint::Token,
            RequestKind::RevokeRefreshToken | RequestKind::RevokeAccessToken => {
                Endpoint::Revocation
            }
        }
    }
}

/// One HTTP request to send: the body is already in the caller's buffer.
///
/// Send `method` to `path` (relative to the server's base URL) or to the full URL the
/// transport discovered for `endpoint`, with `Content-Type: `[`FORM_CONTENT_TYPE`] and
/// the first `len` bytes of the buffer as the body. With DPoP (feature `dpop`), the
/// `dpop_len` bytes right after the body are the proof: send them as the `DPoP`
/// header ([`Transmit::dpop_proof`]), and hand the answer's `Date` and `DPoP-Nonce`
/// headers to `handle_date` and `handle_dpop_nonce` first. Then hand the answer to
/// [`crate::DeviceFlow::handle_response`], or report
/// [`crate::DeviceFlow::handle_transport_error`] if none came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "the request must be sent and its answer handed back"]
pub struct Transmit<'c> {
    /// The HTTP method.
    pub method: Method,
    /// Which endpoint; `path` is its configured path.
    pub endpoint: Endpoint,
    /// The endpoint's path from [`crate::Config`].
    pub path: &'c str,
    /// What this request is for.
    pub kind: RequestKind,
    /// Bytes of form body written at the start of the caller's buffer.
    pub len: usize,
    /// Bytes of DPoP proof (a compact JWS) written right after the body; 0 when the
    /// request carries none.
    pub dpop_len: usize,
}

impl Transmit<'_> {
    /// The body within the buffer that was passed to `poll_transmit`.
    pub fn body<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        buf.get(..self.len).unwrap_or(buf)
    }

    /// The value of the `DPoP` header, within the buffer that was passed to
    /// `poll_transmit`; `None` when the request carries no proof.
    pub fn dpop_proof<'b>(&self, buf: &'b [u8]) -> Option<&'b str> {
        if self.dpop_len == 0 {
            return None;
        }
        let proof = buf.get(self.len..self.len.checked_add(self.dpop_len)?)?;
        core::str::from_utf8(proof).ok()
    }
}

/// Writes `application/x-www-form-urlencoded` pairs into a fixed buffer, counting
/// the full size even past the end so a short buffer reports exactly what it needs.
pub(crate) struct FormWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> FormWriter<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        FormWriter { buf, len: 0 }
    }

    fn byte(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
        }
        self.len += 1;
    }

    /// Appends `name=value` (with `&` before all but the first pair), percent-encoding
    /// the value. Names are our constants and need no encoding.
    pub(crate) fn pair(&mut self, name: &str, value: &str) {
        if self.len > 0 {
            self.byte(b'&');
        }
        for &b in name.as_bytes() {
            self.byte(b);
        }
        self.byte(b'=');
        for &b in value.as_bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'*') {
                self.byte(b);
            } else if b == b' ' {
                self.byte(b'+');
            } else {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                self.byte(b'%');
                self.byte(HEX[usize::from(b >> 4)]);
                self.byte(HEX[usize::from(b & 0xf)]);
            }
        }
    }

    /// The body length, or [`Error::BufferTooSmall`] if it did not fit.
    pub(crate) fn finish(self) -> Result<usize, Error> {
        if self.len > self.buf.len() {
            Err(Error::BufferTooSmall { required: self.len })
        } else {
            Ok(self.len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_a_browser_form() {
        let mut buf = [0u8; 64];
        let mut w = FormWriter::new(&mut buf);
        w.pair("scope", "read write");
        w.pair("x", "a/b:c&d=é");
        let n = w.finish().unwrap();
        assert_eq!(&buf[..n], b"scope=read+write&x=a%2Fb%3Ac%26d%3D%C3%A9");
    }

    #[test]
    fn short_buffer_reports_the_exact_size() {
        let mut buf = [0u8; 4];
        let mut w = FormWriter::new(&mut buf);
        w.pair("client_id", "abc");
        assert_eq!(w.finish(), Err(Error::BufferTooSmall { required: 13 }));
    }
}
