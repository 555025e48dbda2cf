//! The common refresh-token rotation in two round trips instead of eight: an
//! unlocked read of the token and its grant, the pure rule (`crate::grant`)
//! deciding on them as if the grant's user still stood, then ONE statement
//! ([`ROTATE_SQL`]) that rotates the grant and inserts the new tokens only if the
//! grant's current refresh token is still the presented one, it is not revoked,
//! and its user still stands. When it writes nothing, `Grants::rotate_refresh`
//! decides again under row locks (the locked path), which gives every other
//! outcome: reuse, a retry within the window, an inactive user.
//!
//! Correctness: every write to a grant that matters to the rule either replaces
//! its current refresh token (a rotation, a retry) or revokes it (reuse, a
//! revocation, a disabled user or client), so "current token unchanged and not
//! revoked" under the row lock means "as read". The statement takes the user's
//! share lock, then the grant's row lock: the backend's lock order.

use tokio_postgres::types::ToSql;

use super::grants::RotationColumns;
use super::{PgError, PgStore, to_i64};
use crate::grant::{Exchange, NewTokens, Presenter, Refresh, Standing};
use crate::store::prelude::*;
use crate::store::{RotateOutcome, StoreError};

/// The rotation of grant `$1` whose current refresh token has hash `$2`, if it
/// still has and is not revoked, and its user (`$3` id, `$4` login) stands; the
/// count of grants rotated (0 or 1). `$5`–`$12`: the grant's new columns
/// ([`RotationColumns`]); `$13`–`$17`: the new tokens.
const ROTATE_SQL: &str = "WITH owner AS (
         SELECT 1 FROM users WHERE username = $4 AND id = $3 AND NOT disabled FOR SHARE
     ), rotated AS (
         UPDATE grants
            SET current_refresh = $5, refresh_id = $6, jti = $7, last_refreshed_at = $8,
                expires_at = $9, revoked = $10, issued_for_at = $11,
                issued_for_previous = $12
          WHERE id = $1 AND current_refresh = $2 AND NOT revoked
            AND EXISTS (SELECT 1 FROM owner)
         RETURNING id
     ), refresh AS (
         INSERT INTO refresh_tokens (id, token_hash, grant_id, expires_at)
         SELECT $13::bytea, $14::bytea, id, $15::bigint FROM rotated
     ), access AS (
         INSERT INTO access_tokens (jti, grant_id, expires_at, revoked)
         SELECT $16::text, id, $17::bigint, false FROM rotated
     )
     SELECT count(*) FROM rotated";

impl PgStore {
    /// Rotates the presented refresh token in [`ROTATE_SQL`] if the rule, on an
    /// unlocked read, issues new tokens; `None` when the locked path must decide
    /// (any other outcome, a race lost, or the user no longer standing).
    pub(super) async fn rotate_at_once(
        &self,
        presented_id: &[u8; 16],
        presented: &[u8; 32],
        who: &Presenter,
        now: u64,
        window: u64,
        new: &NewTokens,
    ) -> Result<Option<RotateOutcome>, StoreError> {
        let Some((token, grant)) = self.refresh_token(presented_id, presented).await? else {
            return Ok(None);
        };
        let (user_id, username) = (grant.user_id.clone(), grant.username.clone());
        let Exchange::Issued(issue) = Refresh::of(&token, grant, presented, now).exchange(
            who,
            Standing::Active,
            now,
            window,
            new,
        ) else {
            return Ok(None);
        };
        let columns = RotationColumns::of(issue.grant())?;
        let refresh_expires = to_i64(new.refresh_expires_at, "refresh token expiry")?;
        let access_expires = to_i64(new.access_expires_at, "access token expiry")?;
        let (grant_id, presented, refresh_id, refresh_hash) = (
            issue.grant().id.as_slice(),
            presented.as_slice(),
            new.refresh_id.as_slice(),
            new.refresh_hash.as_slice(),
        );
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&grant_id, &presented, &user_id, &username];
        params.extend(columns.params());
        params.extend_from_slice(&[
            &refresh_id,
            &refresh_hash,
            &refresh_expires,
            &new.jti,
            &access_expires,
        ]);
        let client = self.conn().await?;
        let rotated: i64 = client
            .query_one(
                &client
                    .prepare_cached(ROTATE_SQL)
                    .await
                    .map_err(PgError::from)?,
                &params,
            )
            .await
            .map_err(PgError::from)?
            .try_get(0)
            .map_err(PgError::from)?;
        Ok((rotated == 1).then(|| RotateOutcome::Rotated(Box::new(issue))))
    }
}
