//! Device authorization requests (RFC 8628): the storage trait and its outcomes.
//! The rules (what a poll finds, who may decide, what redeeming yields) are
//! `crate::grant`'s; each backend persists what they decided.

use super::{Decision, DeviceAuth, StoreError};
use crate::grant::{Approved, Issue, NewTokens, Poll, Presenter, Redo, Refusal};

/// Device codes stay this long after expiry so a late poll still gets
/// `expired_token` rather than `invalid_grant`.
pub(crate) const DEVICE_CODE_GRACE_SECS: u64 = 3600;

/// A device code as presented for redemption: the key inside it, the hash of
/// the whole code, and the request as the caller just read it approved, if it
/// did (a hint: a store may write at once when the request is still so;
/// PostgreSQL then needs one statement and no read). The outcome never depends
/// on the hint.
#[derive(Clone, Debug)]
pub struct PresentedCode {
    /// The request's key (inside the device code).
    pub id: [u8; 16],
    /// SHA-256 of the device code, compared in constant time with the stored one.
    pub code_hash: [u8; 32],
    /// The request as just read, approved.
    pub seen: Option<DeviceAuth>,
}

impl PresentedCode {
    /// A code presented with no request read beforehand (the store tests').
    #[cfg(test)]
    pub fn new(id: [u8; 16], code_hash: [u8; 32]) -> Self {
        PresentedCode {
            id,
            code_hash,
            seen: None,
        }
    }
}

/// How many requests await a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Server-wide.
    pub total: usize,
    /// Of the client asked about.
    pub client: usize,
}

/// Result of recording a decision.
#[derive(Clone, Debug, PartialEq)]
pub enum DecideOutcome {
    /// Recorded; here is the request as it now stands.
    Done(Box<DeviceAuth>),
    /// No request waiting for a decision has this user code.
    NotFound,
    /// The request expired before the decision.
    Expired,
    /// Someone already approved or denied it.
    AlreadyDecided,
}

/// Result of redeeming an approved device code.
#[derive(Debug, PartialEq)]
pub enum RedeemOutcome {
    /// Redeemed: the new grant is stored and its tokens may be issued.
    Issued(Box<Issue>),
    /// The redeemed code came back within the retry window while its tokens were
    /// unused: they are retired and the new ones, durable, may be issued.
    Retried(Box<Issue>),
    /// The redeemed code came back too late or after its tokens were used: the
    /// grant it yielded has been revoked (RFC 6749 §4.1.2 for authorization
    /// codes, applied to device codes). Answered `invalid_grant`.
    Replayed,
    /// Not approved (yet): the caller read it approved, so this only happens if
    /// the record changed in between; answered like a pending poll.
    Pending,
    /// Not redeemable; here is why.
    Refused(Refusal),
    /// No such device code.
    Unknown,
}

impl RedeemOutcome {
    /// The approved request a poll read inside a redemption's write, or the outcome
    /// to answer when it is not approved: one mapping for every backend.
    pub(crate) fn approved(poll: Poll) -> Result<Approved, RedeemOutcome> {
        match poll {
            Poll::Approved(approved) => Ok(approved),
            Poll::Pending(_) => Err(RedeemOutcome::Pending),
            Poll::Redeemed(_) => Err(RedeemOutcome::Refused(Refusal::Redeemed)),
            Poll::Refused(why) => Err(RedeemOutcome::Refused(why)),
        }
    }

    /// The outcome of a redeemed code presented again, once `redo` is persisted
    /// (what to persist for each is the backend's): one mapping for every backend.
    pub(crate) fn of_redo(redo: &Redo) -> Self {
        match redo {
            Redo::Retried(r) => RedeemOutcome::Retried(Box::new(r.issue.clone())),
            Redo::Replayed(_) => RedeemOutcome::Replayed,
            Redo::UserInactive(_) | Redo::Spent => RedeemOutcome::Refused(Refusal::Redeemed),
        }
    }
}

/// Device authorization requests: creation, the polling read, decisions and redemption (RFC 8628). Part of the storage interface: the handlers call
/// these; [`RedbStore`](super::RedbStore) and [`PgStore`](super::PgStore) implement them.
pub trait DeviceRequests {
    /// Stores a new device authorization under `id` (the key inside its device
    /// code). Returns `false` (and stores nothing) if the user code is already taken
    /// by a live request; the caller draws another.
    ///
    /// The user code is claimed in memory before the write joins a batch (so two
    /// requests can't both take it) and given up again if the write fails.
    fn create_device_auth(
        &self,
        id: [u8; 16],
        auth: DeviceAuth,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The device authorization with key `id`, if `code_hash` (of the presented
    /// device code) matches it: the polling path, a read.
    fn device_auth(
        &self,
        id: &[u8; 16],
        code_hash: &[u8; 32],
    ) -> impl Future<Output = Result<Option<DeviceAuth>, StoreError>> + Send;

    /// The device authorization a user code points at.
    fn device_auth_by_user_code(
        &self,
        user_code: &str,
    ) -> impl Future<Output = Result<Option<DeviceAuth>, StoreError>> + Send;

    /// Records Approve or Deny for the pending request with this user code: the
    /// one whose [`DeviceAuth::reference`] is `shown`, when given (the consent
    /// page's), in the same write, so a decision never lands on a request that
    /// took the code after the page was shown ([`DecideOutcome::NotFound`]).
    fn decide(
        &self,
        user_code: String,
        shown: Option<String>,
        decision: Decision,
        now: u64,
    ) -> impl Future<Output = Result<DecideOutcome, StoreError>> + Send;

    /// Exchanges an approved device code for a new grant, exactly once: the check and
    /// the `Redeemed` mark happen in the same serialized write, so two racing polls
    /// can't both win. A code already redeemed by `who` is presented again
    /// ([`crate::grant::Redeemed::redo`]): within the retry window (`window`
    /// seconds) and with its tokens unused, a fresh pair retires them; too late or
    /// once used, the grant is revoked. The tokens drawn in `new` may be handed out
    /// only if this returns [`RedeemOutcome::Issued`] or [`RedeemOutcome::Retried`],
    /// once it is durable.
    fn redeem(
        &self,
        code: PresentedCode,
        who: Presenter,
        now: u64,
        window: u64,
        new: NewTokens,
    ) -> impl Future<Output = Result<RedeemOutcome, StoreError>> + Send;

    /// How many device codes expired in `(from, to]` without being redeemed or
    /// denied, for the `expired` device-code metric (a read of the expiry index
    /// over that window; the sweeper calls it).
    fn device_codes_expired_between(
        &self,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Device requests awaiting a decision at `now` (entered, not decided, not
    /// expired), server-wide and of `client_id`: the inputs of the pending-code caps.
    fn pending_codes(
        &self,
        client_id: &str,
        now: u64,
    ) -> impl Future<Output = Result<Pending, StoreError>> + Send;
}
