//! What a device keeps across reboots, as one record (a flash item, a file): its
//! tokens and, with feature `dpop`, its DPoP key.
//!
//! Tokens bound to a key are worthless without it, so the key lives in the same
//! record and is written before the first request it signs. Layout:
//!
//! ```text
//! 0x80 | flags (bit 0: key, bit 1: tokens) | key (DPOP_KEY_BYTES) | Tokens::to_bytes
//! ```
//!
//! A record whose first byte is below `0x80` is a bare [`Tokens::to_bytes`] record
//! written before this layout existed (its first byte is
//! [`crate::TOKENS_FORMAT_VERSION`]): it still loads, as tokens without a key.

use crate::tokens::{PersistError, TOKENS_MAX_BYTES, Tokens};
#[cfg(feature = "dpop")]
use crate::{DPOP_KEY_BYTES, DpopKey};

/// First byte of a [`RecordRef::to_bytes`] record. Token format versions stay below
/// `0x80`, so a reader tells the two apart by this byte.
pub const DEVICE_RECORD_VERSION: u8 = 0x80;

/// Stored key size (`DPOP_KEY_BYTES`), known even without feature `dpop` so such a
/// build can skip the key of a record a `dpop` build wrote.
const KEY_BYTES: usize = 33;

#[cfg(feature = "dpop")]
const _: () = assert!(KEY_BYTES == DPOP_KEY_BYTES);

const HAS_KEY: u8 = 1;
const HAS_TOKENS: u8 = 2;

/// Upper bound of [`RecordRef::to_bytes`]'s output: size a flash record with this.
pub const DEVICE_RECORD_MAX_BYTES: usize = 2 + KEY_BYTES + TOKENS_MAX_BYTES;

/// A device record as read back ([`DeviceRecord::from_bytes`]).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The saved tokens, if the device was signed in.
    pub tokens: Option<Tokens>,
    /// The device's DPoP key (feature `dpop`); `None` in a record from before DPoP:
    /// make one from the hardware RNG and save it before the first request.
    #[cfg(feature = "dpop")]
    pub dpop_key: Option<DpopKey>,
}

impl core::fmt::Debug for DeviceRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut d = f.debug_struct("DeviceRecord");
        d.field("tokens", &self.tokens.is_some());
        #[cfg(feature = "dpop")]
        d.field("dpop_key", &self.dpop_key);
        d.finish()
    }
}

impl DeviceRecord {
    /// Reads a record written by [`RecordRef::to_bytes`], or an older bare
    /// [`Tokens::to_bytes`] record (tokens, no key). Without feature `dpop` a stored
    /// key is skipped.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PersistError> {
        let (&version, rest) = bytes.split_first().ok_or(PersistError::Corrupt)?;
        if version < DEVICE_RECORD_VERSION {
            // `dpop_key` exists only with feature `dpop`.
            #[allow(clippy::needless_update)]
            return Ok(DeviceRecord {
                tokens: Some(Tokens::from_bytes(bytes)?),
                ..DeviceRecord::default()
            });
        }
        if version != DEVICE_RECORD_VERSION {
            return Err(PersistError::UnknownVersion(version));
        }
        let (&flags, mut rest) = rest.split_first().ok_or(PersistError::Corrupt)?;
        if flags & !(HAS_KEY | HAS_TOKENS) != 0 {
            return Err(PersistError::Corrupt);
        }
        let mut record = DeviceRecord::default();
        if flags & HAS_KEY != 0 {
            let (key, after) = rest
                .split_at_checked(KEY_BYTES)
                .ok_or(PersistError::Corrupt)?;
            #[cfg(feature = "dpop")]
            {
                record.dpop_key = Some(DpopKey::from_bytes(key)?);
            }
            #[cfg(not(feature = "dpop"))]
            let _ = key;
            rest = after;
        }
        if flags & HAS_TOKENS != 0 {
            record.tokens = Some(Tokens::from_bytes(rest)?);
        } else if !rest.is_empty() {
            return Err(PersistError::Corrupt);
        }
        Ok(record)
    }

    /// A borrowing view of this record, to write it back.
    pub fn as_ref(&self) -> RecordRef<'_> {
        let r = RecordRef::default().with_tokens(self.tokens.as_ref());
        #[cfg(feature = "dpop")]
        let r = r.with_dpop_key(self.dpop_key.as_ref());
        r
    }
}

/// A device record to write, borrowing its parts (saving copies nothing).
#[derive(Clone, Copy, Default)]
pub struct RecordRef<'a> {
    tokens: Option<&'a Tokens>,
    #[cfg(feature = "dpop")]
    dpop_key: Option<&'a DpopKey>,
}

impl<'a> RecordRef<'a> {
    /// Sets the tokens (`None`: signed out; the key stays).
    pub fn with_tokens(mut self, tokens: Option<&'a Tokens>) -> Self {
        self.tokens = tokens;
        self
    }

    /// Sets the DPoP key (feature `dpop`).
    #[cfg(feature = "dpop")]
    pub fn with_dpop_key(mut self, dpop_key: Option<&'a DpopKey>) -> Self {
        self.dpop_key = dpop_key;
        self
    }

    /// Writes the record into `buf` and returns the written part.
    /// [`DEVICE_RECORD_MAX_BYTES`] always fits; a smaller `buf` that does not gives
    /// [`PersistError::BufferTooSmall`].
    pub fn to_bytes<'b>(&self, buf: &'b mut [u8]) -> Result<&'b mut [u8], PersistError> {
        #[cfg(feature = "dpop")]
        let key = self.dpop_key.map(DpopKey::to_bytes);
        #[cfg(not(feature = "dpop"))]
        let key: Option<[u8; KEY_BYTES]> = None;
        let head = 2 + if key.is_some() { KEY_BYTES } else { 0 };
        let tokens_len = match self.tokens.map(|t| t.to_bytes(&mut [])) {
            None => 0,
            Some(Err(PersistError::BufferTooSmall { required })) => required,
            Some(Ok(written)) => written.len(),
            Some(Err(e)) => return Err(e),
        };
        let required = head + tokens_len;
        if buf.len() < required {
            return Err(PersistError::BufferTooSmall { required });
        }
        let mut flags = 0;
        if let Some(key) = &key {
            flags |= HAS_KEY;
            buf[2..head].copy_from_slice(key);
        }
        let mut len = head;
        if let Some(tokens) = self.tokens {
            flags |= HAS_TOKENS;
            len += tokens.to_bytes(&mut buf[head..])?.len();
        }
        buf[0] = DEVICE_RECORD_VERSION;
        buf[1] = flags;
        Ok(&mut buf[..len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new("v4.public.access", Some("refresh"), Some("read"), None).unwrap()
    }

    #[test]
    fn a_bare_tokens_record_from_before_still_loads() {
        let mut buf = [0u8; TOKENS_MAX_BYTES];
        let old = tokens().to_bytes(&mut buf).unwrap();
        let record = DeviceRecord::from_bytes(old).unwrap();
        assert_eq!(record.tokens, Some(tokens()));
        #[cfg(feature = "dpop")]
        assert!(record.dpop_key.is_none());
    }

    #[test]
    fn tokens_only_round_trip() {
        let t = tokens();
        let mut buf = [0u8; DEVICE_RECORD_MAX_BYTES];
        let bytes = RecordRef::default()
            .with_tokens(Some(&t))
            .to_bytes(&mut buf)
            .unwrap();
        assert_eq!(bytes[0], DEVICE_RECORD_VERSION);
        let back = DeviceRecord::from_bytes(bytes).unwrap();
        assert_eq!(back.tokens, Some(t));
    }

    #[test]
    fn an_empty_record_round_trips() {
        let mut buf = [0u8; 2];
        let bytes = RecordRef::default().to_bytes(&mut buf).unwrap();
        assert_eq!(
            DeviceRecord::from_bytes(bytes).unwrap(),
            DeviceRecord::default()
        );
    }

    #[test]
    fn unknown_versions_and_garbage_are_refused() {
        assert_eq!(
            DeviceRecord::from_bytes(&[0x81, 0]),
            Err(PersistError::UnknownVersion(0x81))
        );
        assert_eq!(DeviceRecord::from_bytes(&[]), Err(PersistError::Corrupt));
        assert_eq!(
            DeviceRecord::from_bytes(&[0x80]),
            Err(PersistError::Corrupt)
        );
        assert_eq!(
            DeviceRecord::from_bytes(&[0x80, 4]),
            Err(PersistError::Corrupt)
        );
        assert_eq!(
            DeviceRecord::from_bytes(&[0x80, 0, 1]),
            Err(PersistError::Corrupt)
        );
        assert_eq!(
            DeviceRecord::from_bytes(&[0x80, 1, 1, 2]),
            Err(PersistError::Corrupt)
        );
    }

    #[test]
    fn a_small_buffer_says_how_much_is_needed() {
        let t = tokens();
        let record = RecordRef::default().with_tokens(Some(&t));
        let mut big = [0u8; DEVICE_RECORD_MAX_BYTES];
        let need = record.to_bytes(&mut big).unwrap().len();
        let mut small = [0u8; 8];
        assert_eq!(
            record.to_bytes(&mut small),
            Err(PersistError::BufferTooSmall { required: need })
        );
    }

    #[cfg(feature = "dpop")]
    #[test]
    fn key_and_tokens_round_trip_and_the_key_survives_sign_out() {
        let key = DpopKey::from_seed([7; 32]);
        let t = tokens();
        let mut buf = [0u8; DEVICE_RECORD_MAX_BYTES];
        let bytes = RecordRef::default()
            .with_tokens(Some(&t))
            .with_dpop_key(Some(&key))
            .to_bytes(&mut buf)
            .unwrap();
        let back = DeviceRecord::from_bytes(bytes).unwrap();
        assert_eq!(back.tokens, Some(t));
        assert_eq!(back.dpop_key.as_ref(), Some(&key));
        let mut buf2 = [0u8; DEVICE_RECORD_MAX_BYTES];
        let signed_out = RecordRef::default()
            .with_dpop_key(Some(&key))
            .to_bytes(&mut buf2)
            .unwrap();
        assert_eq!(signed_out.len(), 2 + DPOP_KEY_BYTES);
        let back = DeviceRecord::from_bytes(signed_out).unwrap();
        assert_eq!((back.tokens, back.dpop_key), (None, Some(key)));
    }
}
