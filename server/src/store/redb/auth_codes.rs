//! Authorization codes: storing them at consent and redeeming them once. The
//! rules are `crate::grant::authorization_code`'s; this module persists what they
//! decided.

use super::expiry::{self, Kind};
use super::grants;
use super::tables::{AUTH_CODES, GRANTS};
use super::users::standing;
use super::{RedbStore, StoreError};
use crate::grant::authorization_code::revoke_reused;
use crate::grant::{AuthCode, CodeRedemption, CodeRefusal, NewTokens, Presented};
use crate::secrets::ct_eq;
use crate::store::auth_codes::AUTH_CODE_GRACE_SECS;
use crate::store::{AuthorizationCodes, CodeOutcome};

impl AuthorizationCodes for RedbStore {
    async fn create_auth_code(&self, id: [u8; 16], code: AuthCode) -> Result<(), StoreError> {
        self.writer
            .write(move |tx| {
                tx.put(AUTH_CODES, id.as_slice(), &code)?;
                let due = code.expires_at + AUTH_CODE_GRACE_SECS;
                expiry::schedule(tx.txn(), due, Kind::AuthCode, &id)
            })
            .await
    }

    async fn redeem_auth_code(
        &self,
        id: [u8; 16],
        code_hash: [u8; 32],
        presented: Presented,
        now: u64,
        new: NewTokens,
    ) -> Result<CodeOutcome, StoreError> {
        self.writer
            .write(move |tx| {
                let Some(code) = tx
                    .get(AUTH_CODES, id.as_slice())?
                    .filter(|c| ct_eq(&c.code_hash, &code_hash))
                else {
                    return Ok(CodeOutcome::Unknown);
                };
                let standing = standing(tx, &code.user_id, &code.username)?;
                match code.redeem(&presented, standing, now, &new) {
                    CodeRedemption::Issued { code, issue } => {
                        tx.put(AUTH_CODES, id.as_slice(), &code)?;
                        let sweep_at = new.refresh_expires_at.max(new.access_expires_at);
                        grants::create(tx, issue.grant(), sweep_at)?;
                        grants::record_new_tokens(tx, issue.grant().id, &new)?;
                        Ok(CodeOutcome::Issued(issue))
                    }
                    CodeRedemption::Reused { grant_id } => {
                        if let Some(grant) = tx.get(GRANTS, grant_id.as_slice())?
                            && !grant.revoked
                        {
                            grants::persist_revoked(tx, &revoke_reused(grant, now), now)?;
                        }
                        Ok(CodeOutcome::Refused(CodeRefusal::Reused))
                    }
                    CodeRedemption::Refused(why) => Ok(CodeOutcome::Refused(why)),
                }
            })
            .await
    }
}
