//! Authorization codes (RFC 6749 §4.1): the storage trait and its outcomes. The
//! rules (who may redeem, what reuse means) are `crate::grant::authorization_code`'s;
//! each backend persists what they decided.

use super::StoreError;
use crate::grant::{AuthCode, CodeRefusal, Issue, NewTokens, Presented};

/// Codes stay this long after expiry, so a code presented again soon after its
/// redemption still finds the grant to revoke (RFC 6749 §4.1.2) instead of being
/// merely unknown. The sweep removes them afterwards.
pub(crate) const AUTH_CODE_GRACE_SECS: u64 = 600;

/// Result of presenting an authorization code at the token endpoint.
#[derive(Debug, PartialEq)]
pub enum CodeOutcome {
    /// Redeemed and durable: the new tokens may be issued.
    Issued(Box<Issue>),
    /// Refused; for [`CodeRefusal::Reused`] the grant the code issued has been
    /// revoked in the same write.
    Refused(CodeRefusal),
    /// No such code.
    Unknown,
}

/// Authorization codes: created at consent, redeemed once at the token endpoint.
/// Part of the storage interface: the handlers call these;
/// [`RedbStore`](super::RedbStore) and [`PgStore`](super::PgStore) implement them.
pub trait AuthorizationCodes {
    /// Stores a new authorization code under `id` (the key inside the code).
    fn create_auth_code(
        &self,
        id: [u8; 16],
        code: AuthCode,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Redeems the code with key `id` (if `code_hash` matches) for `presented`,
    /// exactly once: the check, the `redeemed` mark and the new grant are one
    /// serialized write, so two racing requests can't both win. A code presented
    /// again revokes the grant it issued, in that same write. The tokens drawn in
    /// `new` may be handed out only on [`CodeOutcome::Issued`].
    fn redeem_auth_code(
        &self,
        id: [u8; 16],
        code_hash: [u8; 32],
        presented: Presented,
        now: u64,
        new: NewTokens,
    ) -> impl Future<Output = Result<CodeOutcome, StoreError>> + Send;
}
