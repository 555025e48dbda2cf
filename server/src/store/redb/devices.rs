//! Device authorization requests: creating them, the polling read, decisions and
//! redemption. The rules (what a poll finds, who may decide, what redeeming
//! yields) are `crate::grant`'s; this module persists what they decided.

use redb::ReadableDatabase;

use super::expiry::{self, Kind};
use super::grants;
use super::records::{DeviceAuth, DeviceStatus};
use super::tables::{DEVICE_REQUESTS, EXPIRIES, GRANTS};
use super::users::standing;
use super::{RedbStore, StoreError};
use crate::grant::{
    DecideRefusal, Decision, NewTokens, Poll, Presenter, Redemption, Redo, Refusal,
};
use crate::secrets::ct_eq;
use crate::store::PresentedCode;
use crate::store::devices::DEVICE_CODE_GRACE_SECS;
use crate::store::{DecideOutcome, DeviceRequests, Pending, RedeemOutcome};

impl DeviceRequests for RedbStore {
    /// Stores a new device authorization under `id` (the key inside its device
    /// code). Returns `false` (and stores nothing) if the user code is already taken
    /// by a live request; the caller draws another.
    ///
    /// The user code is claimed in memory before the write joins a batch (so two
    /// requests can't both take it) and given up again if the write fails.
    async fn create_device_auth(&self, id: [u8; 16], auth: DeviceAuth) -> Result<bool, StoreError> {
        if !self.user_codes.claim(
            &auth.user_code,
            id,
            &auth.client_id,
            auth.expires_at,
            auth.created_at,
        ) {
            return Ok(false);
        }
        let codes = self.user_codes.clone();
        let user_code = auth.user_code.clone();
        self.writer
            .write_then(
                move |tx| {
                    tx.put(DEVICE_REQUESTS, id.as_slice(), &auth)?;
                    expiry::schedule(
                        tx.txn(),
                        auth.expires_at + DEVICE_CODE_GRACE_SECS,
                        Kind::DeviceRequest,
                        &id,
                    )?;
                    Ok(true)
                },
                move |committed| {
                    if !committed {
                        codes.release(&user_code, &id);
                    }
                },
            )
            .await
    }

    /// The device authorization with key `id`, if `code_hash` (of the presented
    /// device code) matches it: the polling path, a read.
    async fn device_auth(
        &self,
        id: &[u8; 16],
        code_hash: &[u8; 32],
    ) -> Result<Option<DeviceAuth>, StoreError> {
        Ok(self
            .get(DEVICE_REQUESTS, id.as_slice())?
            .filter(|d| ct_eq(&d.code_hash, code_hash)))
    }

    /// The device authorization a user code points at.
    async fn device_auth_by_user_code(
        &self,
        user_code: &str,
    ) -> Result<Option<DeviceAuth>, StoreError> {
        match self.user_codes.lookup(user_code) {
            Some(id) => Ok(self
                .get(DEVICE_REQUESTS, id.as_slice())?
                .filter(|d| d.user_code == user_code)),
            None => Ok(None),
        }
    }

    /// Records Approve or Deny for the pending request with this user code.
    async fn decide(
        &self,
        user_code: String,
        shown: Option<String>,
        decision: Decision,
        now: u64,
    ) -> Result<DecideOutcome, StoreError> {
        let Some(id) = self.user_codes.lookup(&user_code) else {
            return Ok(DecideOutcome::NotFound);
        };
        let code = user_code.clone();
        let outcome = self
            .writer
            .write(move |tx| {
                let Some(auth) = tx
                    .get(DEVICE_REQUESTS, id.as_slice())?
                    .filter(|d| d.user_code == user_code && d.is_shown(shown.as_deref()))
                else {
                    return Ok(DecideOutcome::NotFound);
                };
                match auth.decide(decision.clone(), now) {
                    Ok(decided) => {
                        tx.put(DEVICE_REQUESTS, id.as_slice(), &decided)?;
                        Ok(DecideOutcome::Done(Box::new(decided)))
                    }
                    Err(DecideRefusal::Expired) => Ok(DecideOutcome::Expired),
                    Err(DecideRefusal::AlreadyDecided) => Ok(DecideOutcome::AlreadyDecided),
                }
            })
            .await?;
        if matches!(outcome, DecideOutcome::Done(_)) {
            // Only pending requests are looked up by user code, so a decided one
            // leaves the in-memory lookup now (after the commit) rather than at the
            // sweep, an hour after it expires: the lookup holds what people can
            // still approve.
            self.user_codes.release(&code, &id);
        }
        Ok(outcome)
    }

    /// Exchanges an approved device code for a new grant, exactly once: the check and
    /// the `Redeemed` mark happen in the same serialized write, so two racing polls
    /// can't both win. A redeemed code presented again is retried or replayed
    /// in the same writer, so two retries run one after the other. The tokens
    /// drawn in `new` may be handed out only if this returns
    /// [`RedeemOutcome::Issued`] or [`RedeemOutcome::Retried`], once durable.
    async fn redeem(
        &self,
        // The writer reads the request in its own transaction anyway: no hint.
        PresentedCode { id, code_hash, .. }: PresentedCode,
        who: Presenter,
        now: u64,
        window: u64,
        new: NewTokens,
    ) -> Result<RedeemOutcome, StoreError> {
        self.writer
            .write(move |tx| {
                let Some(auth) = tx
                    .get(DEVICE_REQUESTS, id.as_slice())?
                    .filter(|d| ct_eq(&d.code_hash, &code_hash))
                else {
                    return Ok(RedeemOutcome::Unknown);
                };
                let poll = auth.poll(&who.client_id, now);
                if let Poll::Redeemed(redeemed) = poll {
                    let grant = match redeemed.grant_id() {
                        Some(g) => tx.get(GRANTS, g.as_slice())?,
                        None => None,
                    };
                    let standing = match &grant {
                        Some(g) => standing(tx, &g.user_id, &g.username)?,
                        None => crate::grant::Standing::Inactive,
                    };
                    let redo = redeemed.redo(grant, &who, standing, now, window, &new);
                    match &redo {
                        Redo::Retried(r) => grants::persist_retry(tx, r, &new)?,
                        Redo::Replayed(revoked) | Redo::UserInactive(revoked) => {
                            grants::persist_revoked(tx, revoked, now)?;
                        }
                        Redo::Spent => {}
                    }
                    return Ok(RedeemOutcome::of_redo(&redo));
                }
                let approved = match RedeemOutcome::approved(poll) {
                    Ok(approved) => approved,
                    Err(outcome) => return Ok(outcome),
                };
                let (user_id, username) = approved.approver();
                let standing = standing(tx, user_id, username)?;
                match approved.redeem(standing, now, &new) {
                    Redemption::ApproverInactive(denied) => {
                        tx.put(DEVICE_REQUESTS, id.as_slice(), &denied.into_record())?;
                        Ok(RedeemOutcome::Refused(Refusal::Denied))
                    }
                    Redemption::Issued { device, issue } => {
                        tx.put(DEVICE_REQUESTS, id.as_slice(), &device.into_record())?;
                        let sweep_at = new.refresh_expires_at.max(new.access_expires_at);
                        grants::create(tx, issue.grant(), sweep_at)?;
                        grants::record_new_tokens(tx, issue.grant().id, &new)?;
                        Ok(RedeemOutcome::Issued(issue))
                    }
                }
            })
            .await
    }

    /// How many device codes expired in `(from, to]` without being redeemed or
    /// denied, for the `expired` device-code metric (a read of the expiry index
    /// over that window; the sweeper calls it).
    async fn device_codes_expired_between(&self, from: u64, to: u64) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        let index = txn.open_table(EXPIRIES)?;
        let codes = txn.open_table(DEVICE_REQUESTS.def())?;
        let g = DEVICE_CODE_GRACE_SECS;
        let mut n = 0;
        for key in expiry::due_between(&index, from + g, to + g, Kind::DeviceRequest)? {
            let Some(v) = redb::ReadableTable::get(&codes, key.as_slice())? else {
                continue;
            };
            let d = DEVICE_REQUESTS.decode(v.value())?;
            let unused = matches!(
                d.status,
                DeviceStatus::Pending | DeviceStatus::Approved { .. }
            );
            n += u64::from(unused);
        }
        Ok(n)
    }

    /// Device requests awaiting a decision at `now`, server-wide and of
    /// `client_id`: O(log n), from the in-memory user code lookup.
    async fn pending_codes(&self, client_id: &str, now: u64) -> Result<Pending, StoreError> {
        Ok(self.user_codes.pending(client_id, now))
    }
}

#[cfg(test)]
impl RedbStore {
    /// Live entries in the in-memory user code lookup.
    pub(crate) fn user_code_entries(&self) -> usize {
        self.user_codes.len()
    }
}
