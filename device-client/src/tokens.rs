//! Tokens held in fixed buffers, and their versioned postcard form for flash.

use heapless::String;
use serde::{Deserialize, Serialize};

use crate::time::{Duration, Instant};

/// Capacity of the access token buffer, in bytes.
///
/// AuthGate's access tokens are PASETO v4.public: about 400–700 bytes with the claims
/// and the `{"kid":"k4.pid…"}` footer. 1024 leaves room for longer scopes and user ids
/// and for other servers' JWTs of similar size; a longer token is rejected as
/// [`crate::Malformed::TooLong`] rather than truncated.
pub const ACCESS_TOKEN_CAP: usize = 1024;

/// Capacity of the refresh token buffer, in bytes. AuthGate's are 43 characters
/// (256 bits, base64url); 256 fits other servers' opaque tokens too.
pub const REFRESH_TOKEN_CAP: usize = 256;

/// Capacity of the granted-scope buffer, in bytes.
pub const SCOPE_CAP: usize = 128;

/// Format version written as the first byte of [`Tokens::to_bytes`].
pub const TOKENS_FORMAT_VERSION: u8 = 1;

/// Upper bound of [`Tokens::to_bytes`]'s output: size a flash record with this.
///
/// One version byte, each string as a varint length (at most 2 bytes for these
/// capacities) plus its bytes, one tag byte per `Option`, and a varint `u64` (≤ 10).
pub const TOKENS_MAX_BYTES: usize =
    1 + (2 + ACCESS_TOKEN_CAP) + (1 + 2 + REFRESH_TOKEN_CAP) + (1 + 2 + SCOPE_CAP) + (1 + 10);

/// The tokens a successful flow or refresh produced.
///
/// Held by value in fixed-size buffers (see the `*_CAP` constants) so a device needs no
/// heap; persisted with [`Tokens::to_bytes`] so a reboot does not mean a new login.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    pub(crate) access_token: String<ACCESS_TOKEN_CAP>,
    pub(crate) refresh_token: Option<String<REFRESH_TOKEN_CAP>>,
    pub(crate) scope: Option<String<SCOPE_CAP>>,
    pub(crate) expires_at: Option<Instant>,
    /// Set by [`Tokens::forget_expiry`] (never persisted): the expiry was known but
    /// measured on another boot's clock, so the token's age is unknown. A resumed flow
    /// refreshes such tokens at once, or logs in again if it cannot refresh them.
    pub(crate) expiry_forgotten: bool,
}

/// Why stored token bytes could not be read back (or written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PersistError {
    /// The record was written by a format version this build does not know; ignore
    /// it and log in again rather than misreading it.
    UnknownVersion(u8),
    /// The record is empty, cut short or corrupted.
    Corrupt,
    /// The output buffer is smaller than the record; [`TOKENS_MAX_BYTES`] always fits.
    BufferTooSmall {
        /// Bytes the record needs.
        required: usize,
    },
}

impl core::fmt::Display for PersistError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PersistError::UnknownVersion(v) => write!(f, "unknown token record version {v}"),
            PersistError::Corrupt => f.write_str("corrupt token record"),
            PersistError::BufferTooSmall { required } => {
                write!(f, "token record needs {required} bytes")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PersistError {}

/// On-flash layout, version 1, as written (borrowing, so saving copies nothing).
/// Must serialize exactly like [`RecordV1`]. A new layout gets a new struct and
/// version byte, and `from_bytes` keeps reading the old one.
#[derive(Serialize)]
struct RecordV1Ref<'a> {
    access_token: &'a str,
    refresh_token: Option<&'a str>,
    scope: Option<&'a str>,
    expires_at_ms: Option<u64>,
}

/// On-flash layout, version 1, as read back: borrowed from the record and copied once
/// into the fixed buffers. Deserializing straight into `heapless::String`s moved the
/// 1.4 KiB value through several temporaries: 6.5 KiB of stack on a Cortex-M0, more
/// than a third of a 16 KiB part's RAM.
#[derive(Deserialize)]
struct RecordV1<'a> {
    access_token: &'a str,
    refresh_token: Option<&'a str>,
    scope: Option<&'a str>,
    expires_at_ms: Option<u64>,
}

impl Tokens {
    /// Builds tokens from parts, e.g. when migrating from another store. Returns `None`
    /// if a part exceeds its buffer or the access token is empty.
    pub fn new(
        access_token: &str,
        refresh_token: Option<&str>,
        scope: Option<&str>,
        expires_at: Option<Instant>,
    ) -> Option<Self> {
        if access_token.is_empty() {
            return None;
        }
        Some(Tokens {
            access_token: String::try_from(access_token).ok()?,
            refresh_token: match refresh_token {
                Some(r) => Some(String::try_from(r).ok()?),
                None => None,
            },
            scope: match scope {
                Some(s) => Some(String::try_from(s).ok()?),
                None => None,
            },
            expires_at,
            expiry_forgotten: false,
        })
    }

    /// The bearer token to send as `Authorization: Bearer …` (check
    /// [`Tokens::is_expired`] first, or use [`crate::DeviceFlow::access_token`]).
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// The refresh token, if the server issued one.
    pub fn refresh_token(&self) -> Option<&str> {
        self.refresh_token.as_deref()
    }

    /// The scopes the server granted, if it said.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// When the access token expires, in the clock of the `now` it was received at;
    /// `None` if the server gave no `expires_in` or the expiry was forgotten.
    pub fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }

    /// Whether the access token is past its expiry at `now` (unknown expiry: not expired).
    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|e| now >= e)
    }

    /// Time left on the access token at `now`, if its expiry is known.
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        self.expires_at.map(|e| e - now)
    }

    /// Drops the expiry, so [`crate::DeviceFlow::resume`] refreshes before use.
    ///
    /// Call this after loading tokens on a device whose clock restarts at boot: an
    /// expiry measured from the previous boot means nothing now.
    ///
    /// Tokens whose expiry was forgotten and that have no refresh token cannot be
    /// checked or renewed: [`crate::DeviceFlow::resume`] discards them and starts a
    /// new device flow ([`crate::Event::TokensDiscarded`]) instead of sitting idle.
    pub fn forget_expiry(&mut self) {
        self.expires_at = None;
        self.expiry_forgotten = true;
    }

    /// Writes the versioned record (`[version][postcard]`) into `buf` and returns the
    /// bytes written; [`TOKENS_MAX_BYTES`] is always enough.
    pub fn to_bytes<'b>(&self, buf: &'b mut [u8]) -> Result<&'b mut [u8], PersistError> {
        let record = RecordV1Ref {
            access_token: &self.access_token,
            refresh_token: self.refresh_token.as_deref(),
            scope: self.scope.as_deref(),
            expires_at_ms: self.expires_at.map(Instant::as_millis),
        };
        let required = 1 + postcard::experimental::serialized_size(&record)
            .map_err(|_| PersistError::Corrupt)?;
        if buf.len() < required {
            return Err(PersistError::BufferTooSmall { required });
        }
        let (first, rest) = buf.split_at_mut(1);
        first[0] = TOKENS_FORMAT_VERSION;
        let n = postcard::to_slice(&record, rest)
            .map_err(|_| PersistError::BufferTooSmall { required })?
            .len();
        Ok(&mut buf[..1 + n])
    }

    /// Reads a record written by [`Tokens::to_bytes`], rejecting unknown versions,
    /// trailing bytes and records that are cut short.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PersistError> {
        let (&version, rest) = bytes.split_first().ok_or(PersistError::Corrupt)?;
        match version {
            1 => {
                let (r, tail): (RecordV1<'_>, _) =
                    postcard::take_from_bytes(rest).map_err(|_| PersistError::Corrupt)?;
                if !tail.is_empty() {
                    return Err(PersistError::Corrupt);
                }
                // `new` refuses an empty access token and parts longer than their buffers.
                Tokens::new(
                    r.access_token,
                    r.refresh_token,
                    r.scope,
                    r.expires_at_ms.map(Instant::from_millis),
                )
                .ok_or(PersistError::Corrupt)
            }
            v => Err(PersistError::UnknownVersion(v)),
        }
    }
}

impl core::fmt::Debug for Tokens {
    /// Never prints token values: logs are not a place for bearer credentials.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tokens")
            .field(
                "access_token",
                &format_args!("<{} bytes>", self.access_token.len()),
            )
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("scope", &self.scope)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    fn sample() -> Tokens {
        let access = "v4.public.".repeat(60);
        Tokens::new(
            &access,
            Some("r".repeat(43).as_str()),
            Some("read write"),
            Some(Instant::from_millis(123_456)),
        )
        .unwrap()
    }

    #[test]
    fn round_trips_and_fits_the_documented_bound() {
        let t = sample();
        let mut buf = [0u8; TOKENS_MAX_BYTES];
        let bytes = t.to_bytes(&mut buf).unwrap();
        assert_eq!(bytes[0], TOKENS_FORMAT_VERSION);
        assert_eq!(Tokens::from_bytes(bytes).unwrap(), t);

        let full = Tokens::new(
            &"a".repeat(ACCESS_TOKEN_CAP),
            Some("b".repeat(REFRESH_TOKEN_CAP).as_str()),
            Some("c".repeat(SCOPE_CAP).as_str()),
            Some(Instant::from_millis(u64::MAX)),
        )
        .unwrap();
        let n = full.to_bytes(&mut buf).unwrap().len();
        assert!(n <= TOKENS_MAX_BYTES, "{n}");
        assert_eq!(Tokens::from_bytes(&buf[..n]).unwrap(), full);
    }

    #[test]
    fn rejects_records_whose_parts_exceed_their_buffers() {
        let access = "a".repeat(ACCESS_TOKEN_CAP + 1);
        let record = RecordV1Ref {
            access_token: &access,
            refresh_token: None,
            scope: None,
            expires_at_ms: None,
        };
        let mut buf = [0u8; TOKENS_MAX_BYTES + 16];
        buf[0] = TOKENS_FORMAT_VERSION;
        let n = 1 + postcard::to_slice(&record, &mut buf[1..]).unwrap().len();
        assert_eq!(Tokens::from_bytes(&buf[..n]), Err(PersistError::Corrupt));
        let empty = RecordV1Ref {
            access_token: "",
            ..record
        };
        let n = 1 + postcard::to_slice(&empty, &mut buf[1..]).unwrap().len();
        assert_eq!(Tokens::from_bytes(&buf[..n]), Err(PersistError::Corrupt));
    }

    #[test]
    fn rejects_unknown_versions_and_damage() {
        let mut buf = [0u8; TOKENS_MAX_BYTES];
        let n = sample().to_bytes(&mut buf).unwrap().len();
        let mut bad = buf;
        bad[0] = 2;
        assert_eq!(
            Tokens::from_bytes(&bad[..n]),
            Err(PersistError::UnknownVersion(2))
        );
        assert_eq!(Tokens::from_bytes(&[]), Err(PersistError::Corrupt));
        assert_eq!(
            Tokens::from_bytes(&buf[..n - 3]),
            Err(PersistError::Corrupt)
        );
        let mut long = [0u8; TOKENS_MAX_BYTES + 1];
        long[..n].copy_from_slice(&buf[..n]);
        assert_eq!(
            Tokens::from_bytes(&long[..n + 1]),
            Err(PersistError::Corrupt)
        );
        // Erased flash reads as 0xFF: an unknown version, not a panic.
        assert_eq!(
            Tokens::from_bytes(&[0xFF; 64]),
            Err(PersistError::UnknownVersion(0xFF))
        );
    }

    #[test]
    fn small_buffer_is_reported_not_truncated() {
        let mut buf = [0u8; 16];
        match sample().to_bytes(&mut buf) {
            Err(PersistError::BufferTooSmall { required }) => assert!(required > 16),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let s = format!("{:?}", sample());
        assert!(!s.contains("v4.public"), "{s}");
        assert!(!s.contains("rrrr"), "{s}");
    }
}
