//! The sweep: removing what can no longer matter.

use super::StoreError;

/// What a sweep removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepStats {
    /// Expiry-index entries processed.
    pub entries: usize,
    /// Expired device authorizations.
    pub device_codes: usize,
    /// Expired access-token entries.
    pub access_tokens: usize,
    /// Expired or superseded refresh tokens.
    pub refresh_tokens: usize,
    /// Expired sessions.
    pub sessions: usize,
    /// Dead grants (revoked or past their refresh expiry) deleted.
    pub grants: usize,
    /// Authorization codes past expiry (and its grace).
    pub auth_codes: usize,
}

/// Removing what can no longer matter. Part of the storage interface: the handlers call
/// these; [`RedbStore`](super::RedbStore) and [`PgStore`](super::PgStore) implement them.
pub trait Sweeper {
    /// Removes what can no longer matter: device codes an hour past expiry, access
    /// token entries and refresh tokens past expiry (from the expiry index, a chunk
    /// per transaction), and expired sessions.
    fn sweep(&self, now: u64) -> impl Future<Output = Result<SweepStats, StoreError>> + Send;
}
