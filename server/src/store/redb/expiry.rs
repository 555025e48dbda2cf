//! The expiry index: when each short-lived record stops mattering.
//!
//! Every device request, refresh token and access-token entry gets one entry here,
//! keyed by (time, kind, record key) in big-endian bytes so the table sorts by time.
//! The sweeper removes what is due from the front, a bounded chunk per write
//! transaction: its cost follows what expires, not the size of the tables, and a
//! sweep never holds the writer for long. (Scanning whole tables in one transaction
//! made RSS step up at every sweep in the soak run.)

use redb::{ReadableTable, WriteTransaction};

use super::StoreError;
use super::tables::EXPIRIES;

/// What an index entry points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A device request (`DEVICE_CODES`), due an hour after it expires.
    DeviceRequest = 1,
    /// A refresh token entry (`REFRESH_TOKENS`).
    RefreshToken = 2,
    /// An access token entry (`ACCESS_TOKENS`, key is the jti's bytes).
    AccessToken = 3,
    /// A grant (`GRANTS`, key is its id), due when its refresh token expires or as
    /// soon as it is revoked; the sweep deletes it only if it is dead by then (a
    /// refresh schedules a later entry).
    Grant = 4,
    /// An authorization code (`AUTH_CODES`), due a while after it expires.
    AuthCode = 5,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Kind::DeviceRequest),
            2 => Some(Kind::RefreshToken),
            3 => Some(Kind::AccessToken),
            4 => Some(Kind::Grant),
            5 => Some(Kind::AuthCode),
            _ => None,
        }
    }
}

/// One entry that has come due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    /// The whole index key, to remove it.
    pub entry: Vec<u8>,
    /// What it points at (`None` for a kind this build doesn't know: just dropped).
    pub kind: Option<Kind>,
    /// The record's key in its table.
    pub key: Vec<u8>,
}

/// The index key: time (8 bytes, big-endian), kind (1 byte), record key.
pub fn entry_key(at: u64, kind: Kind, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + key.len());
    out.extend_from_slice(&at.to_be_bytes());
    out.push(kind as u8);
    out.extend_from_slice(key);
    out
}

/// Records that the record `key` of `kind` may be removed from time `at` on.
pub fn schedule(txn: &WriteTransaction, at: u64, kind: Kind, key: &[u8]) -> Result<(), StoreError> {
    txn.open_table(EXPIRIES)?
        .insert(entry_key(at, kind, key).as_slice(), ())?;
    Ok(())
}

/// Up to `limit` entries due at or before `now`, oldest first.
pub fn due(
    table: &impl ReadableTable<&'static [u8], ()>,
    now: u64,
    limit: usize,
) -> Result<Vec<Due>, StoreError> {
    let end = now.saturating_add(1).to_be_bytes();
    let mut out = Vec::new();
    for entry in table.range::<&[u8]>(..end.as_slice())?.take(limit) {
        let (k, _) = entry?;
        let bytes = k.value();
        out.push(Due {
            entry: bytes.to_vec(),
            kind: bytes.get(8).copied().and_then(Kind::from_byte),
            key: bytes.get(9..).unwrap_or_default().to_vec(),
        });
    }
    Ok(out)
}

/// Entries of `kind` due in `(from, to]`, for counting without removing.
pub fn due_between(
    table: &impl ReadableTable<&'static [u8], ()>,
    from: u64,
    to: u64,
    kind: Kind,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let start = from.saturating_add(1).to_be_bytes();
    let end = to.saturating_add(1).to_be_bytes();
    let mut out = Vec::new();
    for entry in table.range::<&[u8]>(start.as_slice()..end.as_slice())? {
        let (k, _) = entry?;
        let bytes = k.value();
        if bytes.get(8).copied() == Some(kind as u8) {
            out.push(bytes.get(9..).unwrap_or_default().to_vec());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_time_first() {
        let a = entry_key(5, Kind::AccessToken, b"zzz");
        let b = entry_key(6, Kind::DeviceRequest, b"aaa");
        let c = entry_key(256, Kind::DeviceRequest, b"");
        assert!(a < b && b < c);
        assert_eq!(a[8], Kind::AccessToken as u8);
        assert_eq!(&a[9..], b"zzz");
    }
}
