//! The common device-code redemption in one round trip instead of seven: the
//! request as the poll just read it (or an unlocked read), the pure rule
//! (`crate::grant`) deciding on it as if the approver still stood, then ONE statement ([`REDEEM_SQL`]) that writes
//! the whole redemption (the request spent, the grant, its first refresh and
//! access tokens) only if the request is still approved and the approver still
//! stands. When it writes nothing, `DeviceRequests::redeem` decides again under
//! row locks (the locked path), which gives every other outcome.
//!
//! Why: a flow's redemption was `BEGIN`, the request `FOR UPDATE`, the user
//! `FOR SHARE`, three writes and `COMMIT`, each a round trip whose overhead in
//! PostgreSQL (~35 µs of its CPU, measured with `pg_stat_statements` against the
//! process's CPU) cost more than the work.
//!
//! Correctness: an approval is final (an approved request only becomes redeemed
//! or, if the approver stopped standing, denied), so "still approved" under the
//! row lock means "as read". The statement takes the request's row lock first,
//! then the user's share lock (the locked path's order), so it never deadlocks
//! with it; of two instances redeeming one code, the second finds the request no
//! longer approved, writes nothing, and takes the locked path, which answers it
//! from the first's redemption.

use tokio_postgres::types::ToSql;

use super::devices::{COLUMNS, StatusColumns, from_row};
use super::grants::GrantColumns;
use super::{PgError, PgStore, to_i64};
use crate::grant::{DeviceAuth, NewTokens, Presenter, Redemption, Standing};
use crate::secrets::ct_eq;
use crate::store::RedeemOutcome;

/// The whole redemption of request `$1`, approved by user `$2` (login `$3`), if
/// it still is and they still stand; the count of grants written (0 or 1).
/// `$4`–`$8`: the request's new status columns; `$9`–`$24`: the grant
/// ([`GrantColumns`], `$9` its id); `$25`–`$29`: its first tokens.
const REDEEM_SQL: &str = "WITH locked AS (
         SELECT id FROM device_requests
          WHERE id = $1 AND status = 'approved' AND approver_id = $2
          FOR UPDATE
     ), approver AS (
         SELECT 1 FROM users
          WHERE username = $3 AND id = $2 AND NOT disabled
            AND EXISTS (SELECT 1 FROM locked)
          FOR SHARE
     ), spent AS (
         UPDATE device_requests
            SET status = $4, approver_id = $5, approver_name = $6, status_at = $7,
                grant_id = $8
          WHERE id = $1 AND EXISTS (SELECT 1 FROM approver)
         RETURNING id
     ), g AS (
         INSERT INTO grants (id, user_id, username, client_id, scope, created_at,
                             last_refreshed_at, expires_at, current_refresh, revoked,
                             device_ip, refresh_id, jti, dpop_jkt, issued_for_at,
                             issued_for_previous)
         SELECT $9::bytea, $10::text, $11::text, $12::text, $13::text, $14::bigint,
                $15::bigint, $16::bigint, $17::bytea, $18::boolean, $19::text,
                $20::bytea, $21::text, $22::text, $23::bigint, $24::bytea
           FROM spent
         RETURNING id
     ), refresh AS (
         INSERT INTO refresh_tokens (id, token_hash, grant_id, expires_at)
         SELECT $25::bytea, $26::bytea, id, $27::bigint FROM g
     ), access AS (
         INSERT INTO access_tokens (jti, grant_id, expires_at, revoked)
         SELECT $28::text, id, $29::bigint, false FROM g
     )
     SELECT count(*) FROM g";

impl PgStore {
    /// Redeems request `id` in [`REDEEM_SQL`] if it is approved and its approver
    /// stands: one round trip when the caller `seen` it approved (the poll that
    /// leads here read it), two otherwise (an unlocked read first). `None` when
    /// the locked path must decide (any other state, a race lost, or the approver
    /// no longer standing).
    pub(super) async fn redeem_at_once(
        &self,
        id: &[u8; 16],
        code_hash: &[u8; 32],
        seen: Option<DeviceAuth>,
        who: &Presenter,
        now: u64,
        new: &NewTokens,
    ) -> Result<Option<RedeemOutcome>, PgError> {
        let client = self.conn().await?;
        let auth = match seen {
            Some(seen) => Some(seen),
            None => client
                .query_opt(
                    &client
                        .prepare_cached(&format!(
                            "SELECT {COLUMNS} FROM device_requests r WHERE r.id = $1"
                        ))
                        .await?,
                    &[&id.as_slice()],
                )
                .await?
                .as_ref()
                .map(from_row)
                .transpose()?,
        };
        let Some(auth) = auth.filter(|d| ct_eq(&d.code_hash, code_hash)) else {
            return Ok(None);
        };
        let Ok(approved) = RedeemOutcome::approved(auth.poll(&who.client_id, now)) else {
            return Ok(None);
        };
        let (user_id, username) = approved.approver();
        let (user_id, username) = (user_id.to_string(), username.to_string());
        let Redemption::Issued { device, issue } = approved.redeem(Standing::Active, now, new)
        else {
            return Ok(None);
        };
        let device = device.into_record();
        let status = StatusColumns::of(&device.status)?;
        let grant = GrantColumns::of(issue.grant())?;
        let refresh_expires = to_i64(new.refresh_expires_at, "refresh token expiry")?;
        let access_expires = to_i64(new.access_expires_at, "access token expiry")?;
        let (id, refresh_id, refresh_hash) = (
            id.as_slice(),
            new.refresh_id.as_slice(),
            new.refresh_hash.as_slice(),
        );
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &id,
            &user_id,
            &username,
            &status.status,
            &status.approver_id,
            &status.approver_name,
            &status.at,
            &status.grant_id,
        ];
        params.extend(grant.params());
        params.extend_from_slice(&[
            &refresh_id,
            &refresh_hash,
            &refresh_expires,
            &new.jti,
            &access_expires,
        ]);
        let written: i64 = client
            .query_one(&client.prepare_cached(REDEEM_SQL).await?, &params)
            .await?
            .try_get(0)?;
        Ok((written == 1).then_some(RedeemOutcome::Issued(issue)))
    }
}
