//! Authorization codes on PostgreSQL: the counterpart of the redb backend's
//! `AuthorizationCodes`. A redemption reads the code under a row lock
//! (`SELECT … FOR UPDATE`) in the transaction that then persists what
//! `crate::grant` decided, so of two instances redeeming one code the second
//! waits, then reads it redeemed and revokes what the first issued.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::users::standing;
use super::{PgError, PgStore, grants, to_array, to_i64, to_u64};
use crate::grant::authorization_code::{RedeemedWith, revoke_reused};
use crate::grant::{AuthCode, CodeRedemption, CodeRefusal, NewTokens, Presented};
use crate::secrets::ct_eq;
use crate::store::{AuthorizationCodes, CodeOutcome, StoreError};

const TABLE: &str = "authorization_codes";

/// The columns an [`AuthCode`] is read from, in [`from_row`]'s order.
const COLUMNS: &str = "code_hash, client_id, redirect_uri, code_challenge, scope, user_id, \
     username, created_at, expires_at, redeemed_at, grant_id";

fn from_row(row: &Row) -> Result<AuthCode, PgError> {
    let redeemed_at: Option<i64> = row.try_get(9)?;
    let grant_id: Option<&[u8]> = row.try_get(10)?;
    let redeemed = match (redeemed_at, grant_id) {
        (Some(at), Some(id)) => Some(RedeemedWith {
            at: to_u64(at, TABLE)?,
            grant_id: to_array(id, TABLE)?,
        }),
        _ => None,
    };
    Ok(AuthCode {
        code_hash: to_array(row.try_get(0)?, TABLE)?,
        client_id: row.try_get(1)?,
        redirect_uri: row.try_get(2)?,
        code_challenge: row.try_get(3)?,
        scope: row.try_get(4)?,
        user_id: row.try_get(5)?,
        username: row.try_get(6)?,
        created_at: to_u64(row.try_get(7)?, TABLE)?,
        expires_at: to_u64(row.try_get(8)?, TABLE)?,
        redeemed,
    })
}

impl AuthorizationCodes for PgStore {
    async fn create_auth_code(&self, id: [u8; 16], code: AuthCode) -> Result<(), StoreError> {
        let client = self.conn().await?;
        let params: [&(dyn ToSql + Sync); 10] = [
            &id.as_slice(),
            &code.code_hash.as_slice(),
            &code.client_id,
            &code.redirect_uri,
            &code.code_challenge,
            &code.scope,
            &code.user_id,
            &code.username,
            &to_i64(code.created_at, "code creation time")?,
            &to_i64(code.expires_at, "code expiry")?,
        ];
        client
            .execute(
                &client
                    .prepare_cached(
                        "INSERT INTO authorization_codes (id, code_hash, client_id, redirect_uri,
                             code_challenge, scope, user_id, username, created_at, expires_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .await
                    .map_err(PgError::from)?,
                &params,
            )
            .await
            .map_err(PgError::from)?;
        Ok(())
    }

    async fn redeem_auth_code(
        &self,
        id: [u8; 16],
        code_hash: [u8; 32],
        presented: Presented,
        now: u64,
        new: NewTokens,
    ) -> Result<CodeOutcome, StoreError> {
        let mut client = self.conn().await?;
        let tx = client.transaction().await.map_err(PgError::from)?;
        let row = tx
            .query_opt(
                &tx.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM authorization_codes WHERE id = $1 FOR UPDATE"
                ))
                .await
                .map_err(PgError::from)?,
                &[&id.as_slice()],
            )
            .await
            .map_err(PgError::from)?;
        let Some(code) = row
            .as_ref()
            .map(from_row)
            .transpose()?
            .filter(|c| ct_eq(&c.code_hash, &code_hash))
        else {
            return Ok(CodeOutcome::Unknown);
        };
        let standing = standing(&tx, &code.user_id, &code.username).await?;
        let outcome = match code.redeem(&presented, standing, now, &new) {
            CodeRedemption::Issued { code, issue } => {
                let done = code.redeemed.ok_or(PgError::Corrupt {
                    table: TABLE,
                    reason: "issued without a redemption".into(),
                })?;
                tx.execute(
                    &tx.prepare_cached(
                        "UPDATE authorization_codes SET redeemed_at = $2, grant_id = $3
                          WHERE id = $1",
                    )
                    .await
                    .map_err(PgError::from)?,
                    &[
                        &id.as_slice(),
                        &to_i64(done.at, "redemption time")?,
                        &done.grant_id.as_slice(),
                    ],
                )
                .await
                .map_err(PgError::from)?;
                grants::create(&tx, issue.grant(), &new).await?;
                CodeOutcome::Issued(issue)
            }
            CodeRedemption::Reused { grant_id } => {
                if let Some(grant) = grants::lock(&tx, &grant_id).await?
                    && !grant.revoked
                {
                    grants::persist_revoked(&tx, &revoke_reused(grant, now)).await?;
                }
                CodeOutcome::Refused(CodeRefusal::Reused)
            }
            CodeRedemption::Refused(why) => CodeOutcome::Refused(why),
        };
        tx.commit().await.map_err(PgError::from)?;
        Ok(outcome)
    }
}
