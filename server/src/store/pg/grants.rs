//! Grants and their tokens on PostgreSQL: the counterpart of the redb backend's
//! `Grants` (same operations, same outcomes), safe when several instances race on
//! one grant.
//!
//! A refresh token row never changes once written (whether it is current is the
//! grant's `current_refresh`), so it is read without a lock; the grant, the family
//! every rotation of one token fights over, is read `FOR UPDATE` and
//! `crate::grant::Refresh` decides on it as read under that lock. Of two instances
//! rotating one token at once, the second waits for the first's commit, then reads
//! the grant with the new current token: its token is superseded, which is reuse,
//! and the whole grant is revoked, exactly as the redb backend's single writer
//! would have it.
//!
//! Lock order, shared with every writer of this backend: the user's row (`users`),
//! then grants, then token rows. A rotation reads the user's standing `FOR SHARE`
//! before it locks the grant, so a `user disable` (which updates the user row, then
//! revokes that user's grants) either commits first and is seen, or waits for the
//! rotation and then revokes the grant it left.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::users::standing;
use super::{PgError, PgStore, to_array, to_i64, to_u64};
use crate::grant::{
    Exchange, Grant, Issue, IssuedFor, NewTokens, Presenter, Refresh, RefreshToken, Retried,
    Revoked,
};
use crate::secrets::ct_eq;
use crate::store::records::AccessToken;
use crate::store::{Grants, RevokeOutcome, RotateOutcome, StoreError};

/// A transaction of the pool (deadpool's wrapper derefs to it).
type Tx<'a> = deadpool_postgres::Transaction<'a>;

/// The columns a [`Grant`] is read from, in [`grant_from_row`]'s order.
const GRANT_COLUMNS: &str = "g.id, g.user_id, g.username, g.client_id, g.scope, \
     g.created_at, g.last_refreshed_at, g.expires_at, g.current_refresh, g.revoked, \
     g.device_ip, g.refresh_id, g.jti, g.dpop_jkt, g.issued_for_at, g.issued_for_previous";

/// How many columns [`GRANT_COLUMNS`] has: the offset of whatever follows them.
const GRANT_WIDTH: usize = 16;

/// [`IssuedFor`] as its two columns (`issued_for_at`, `issued_for_previous`).
fn issued_for_columns(i: &IssuedFor) -> Result<(Option<i64>, Option<&[u8]>), PgError> {
    Ok(match i {
        IssuedFor::Unknown => (None, None),
        IssuedFor::DeviceCode { at } => (Some(to_i64(*at, "redemption time")?), None),
        IssuedFor::Refresh { previous, at } => (
            Some(to_i64(*at, "rotation time")?),
            Some(previous.as_slice()),
        ),
    })
}

/// [`IssuedFor`] from its two columns.
fn issued_for_of(at: Option<i64>, previous: Option<&[u8]>) -> Result<IssuedFor, PgError> {
    const T: &str = "grants";
    Ok(match (at, previous) {
        (None, _) => IssuedFor::Unknown,
        (Some(at), None) => IssuedFor::DeviceCode { at: to_u64(at, T)? },
        (Some(at), Some(p)) => IssuedFor::Refresh {
            previous: to_array(p, T)?,
            at: to_u64(at, T)?,
        },
    })
}

/// A grant from the [`GRANT_COLUMNS`] of `row`, starting at column `at`.
fn grant_from_row(row: &Row, at: usize) -> Result<Grant, PgError> {
    const T: &str = "grants";
    let last: Option<i64> = row.try_get(at + 6)?;
    Ok(Grant {
        id: to_array(row.try_get(at)?, T)?,
        user_id: row.try_get(at + 1)?,
        username: row.try_get(at + 2)?,
        client_id: row.try_get(at + 3)?,
        scope: row.try_get(at + 4)?,
        created_at: to_u64(row.try_get(at + 5)?, T)?,
        last_refreshed_at: last.map(|t| to_u64(t, T)).transpose()?,
        expires_at: to_u64(row.try_get(at + 7)?, T)?,
        current_refresh: to_array(row.try_get(at + 8)?, T)?,
        revoked: row.try_get(at + 9)?,
        device_ip: row.try_get(at + 10)?,
        refresh_id: to_array(row.try_get(at + 11)?, T)?,
        jti: row.try_get(at + 12)?,
        dpop_jkt: row.try_get(at + 13)?,
        issued_for: issued_for_of(row.try_get(at + 14)?, row.try_get(at + 15)?)?,
    })
}

/// A refresh token from `rt.token_hash, rt.grant_id, rt.expires_at` at `at`.
fn refresh_from_row(row: &Row, at: usize) -> Result<RefreshToken, PgError> {
    const T: &str = "refresh_tokens";
    Ok(RefreshToken {
        token_hash: to_array(row.try_get(at)?, T)?,
        grant_id: to_array(row.try_get(at + 1)?, T)?,
        expires_at: to_u64(row.try_get(at + 2)?, T)?,
    })
}

/// Stores a new grant with its first refresh and access tokens (the redb
/// backend's `grants::create` and `record_new_tokens`), in the caller's
/// transaction: device-code redemption calls it in the transaction that marks the
/// request redeemed, so a redemption is acknowledged with all its rows or none.
pub(super) async fn create(tx: &Tx<'_>, grant: &Grant, new: &NewTokens) -> Result<(), PgError> {
    let columns = GrantColumns::of(grant)?;
    tx.execute(
        &tx.prepare_cached(
            "INSERT INTO grants (id, user_id, username, client_id, scope, created_at,
                             last_refreshed_at, expires_at, current_refresh, revoked,
                             device_ip, refresh_id, jti, dpop_jkt, issued_for_at,
                             issued_for_previous)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .await?,
        &columns.params(),
    )
    .await?;
    record_new_tokens(tx, &grant.id, new).await
}

/// A [`Grant`] as the 16 columns of a `grants` row, in the table's order (the
/// statements that insert one bind [`GrantColumns::params`]).
pub(super) struct GrantColumns<'a> {
    grant: &'a Grant,
    id: &'a [u8],
    current_refresh: &'a [u8],
    refresh_id: &'a [u8],
    created_at: i64,
    last_refreshed: Option<i64>,
    expires_at: i64,
    issued_at: Option<i64>,
    previous: Option<&'a [u8]>,
}

impl<'a> GrantColumns<'a> {
    /// `grant`'s columns (its times as PostgreSQL's `bigint`).
    pub(super) fn of(grant: &'a Grant) -> Result<Self, PgError> {
        let (issued_at, previous) = issued_for_columns(&grant.issued_for)?;
        Ok(GrantColumns {
            grant,
            id: grant.id.as_slice(),
            current_refresh: grant.current_refresh.as_slice(),
            refresh_id: grant.refresh_id.as_slice(),
            created_at: to_i64(grant.created_at, "grant creation time")?,
            last_refreshed: grant
                .last_refreshed_at
                .map(|t| to_i64(t, "refresh time"))
                .transpose()?,
            expires_at: to_i64(grant.expires_at, "grant expiry")?,
            issued_at,
            previous,
        })
    }

    /// The columns as statement parameters, `id` first.
    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 16] {
        let g = self.grant;
        [
            &self.id,
            &g.user_id,
            &g.username,
            &g.client_id,
            &g.scope,
            &self.created_at,
            &self.last_refreshed,
            &self.expires_at,
            &self.current_refresh,
            &g.revoked,
            &g.device_ip,
            &self.refresh_id,
            &g.jti,
            &g.dpop_jkt,
            &self.issued_at,
            &self.previous,
        ]
    }
}

/// Stores a client-credentials grant (no refresh token) and its access token.
async fn create_client_grant(db: &PgStore, issue: &Issue) -> Result<(), PgError> {
    let grant = issue.grant();
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    tx.execute(
        &tx.prepare_cached(
            "WITH g AS (
                 INSERT INTO grants (id, user_id, username, client_id, scope, created_at,
                                     expires_at, current_refresh, revoked, device_ip,
                                     refresh_id, jti)
                 VALUES ($1, '', '', $2, $3, $4, $5, $6, false, $7, $8, $9)
             )
             INSERT INTO access_tokens (jti, grant_id, expires_at, revoked)
             VALUES ($9, $1, $5, false)",
        )
        .await?,
        &[
            &grant.id.as_slice(),
            &grant.client_id,
            &grant.scope,
            &to_i64(issue.now(), "grant creation time")?,
            &to_i64(issue.access_expires_at(), "access token expiry")?,
            &grant.current_refresh.as_slice(),
            &grant.device_ip,
            &grant.refresh_id.as_slice(),
            &issue.jti(),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Records the refresh token and the access token `jti` an exchange mints for a
/// grant; shared by redemption and rotation so both keep the same invariants.
async fn record_new_tokens(
    tx: &Tx<'_>,
    grant_id: &[u8; 16],
    new: &NewTokens,
) -> Result<(), PgError> {
    // One statement, one round trip, for both rows.
    tx.execute(
        &tx.prepare_cached(
            "WITH refresh AS (
                 INSERT INTO refresh_tokens (id, token_hash, grant_id, expires_at)
                 VALUES ($1, $2, $3, $4)
             )
             INSERT INTO access_tokens (jti, grant_id, expires_at, revoked)
             VALUES ($5, $3, $6, false)",
        )
        .await?,
        &[
            &new.refresh_id.as_slice(),
            &new.refresh_hash.as_slice(),
            &grant_id.as_slice(),
            &to_i64(new.refresh_expires_at, "refresh token expiry")?,
            &new.jti,
            &to_i64(new.access_expires_at, "access token expiry")?,
        ],
    )
    .await?;
    Ok(())
}

/// Writes what a transition may change of a grant (its current tokens, refresh
/// time, expiry, revocation, what its current token answered), as `grant` now
/// stands.
async fn update(tx: &Tx<'_>, grant: &Grant) -> Result<(), PgError> {
    let columns = RotationColumns::of(grant)?;
    let id = grant.id.as_slice();
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&id];
    params.extend(columns.params());
    tx.execute(
        &tx.prepare_cached(
            "UPDATE grants
            SET current_refresh = $2, refresh_id = $3, jti = $4, last_refreshed_at = $5,
                expires_at = $6, revoked = $7, issued_for_at = $8, issued_for_previous = $9
          WHERE id = $1",
        )
        .await?,
        &params,
    )
    .await?;
    Ok(())
}

/// What a transition may change of a grant, as the 8 columns its updates set in
/// this order: `current_refresh`, `refresh_id`, `jti`, `last_refreshed_at`,
/// `expires_at`, `revoked`, `issued_for_at`, `issued_for_previous`.
pub(super) struct RotationColumns<'a> {
    grant: &'a Grant,
    current_refresh: &'a [u8],
    refresh_id: &'a [u8],
    last_refreshed: Option<i64>,
    expires_at: i64,
    issued_at: Option<i64>,
    previous: Option<&'a [u8]>,
}

impl<'a> RotationColumns<'a> {
    /// `grant`'s changeable columns.
    pub(super) fn of(grant: &'a Grant) -> Result<Self, PgError> {
        let (issued_at, previous) = issued_for_columns(&grant.issued_for)?;
        Ok(RotationColumns {
            grant,
            current_refresh: grant.current_refresh.as_slice(),
            refresh_id: grant.refresh_id.as_slice(),
            last_refreshed: grant
                .last_refreshed_at
                .map(|t| to_i64(t, "refresh time"))
                .transpose()?,
            expires_at: to_i64(grant.expires_at, "grant expiry")?,
            issued_at,
            previous,
        })
    }

    /// The columns as statement parameters.
    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 8] {
        [
            &self.current_refresh,
            &self.refresh_id,
            &self.grant.jti,
            &self.last_refreshed,
            &self.expires_at,
            &self.grant.revoked,
            &self.issued_at,
            &self.previous,
        ]
    }
}

/// Persists a retry honoured (of a refresh token or a device code), in the
/// caller's transaction, which holds the grant's row lock: the grant with its
/// new current tokens, their rows, and the retired pair's access token revoked
/// (nobody received it). The retired refresh token's row stays: it is not
/// current, so presenting it later is reuse.
pub(super) async fn persist_retry(
    tx: &Tx<'_>,
    retried: &Retried,
    new: &NewTokens,
) -> Result<(), PgError> {
    let grant = retried.issue.grant();
    record_new_tokens(tx, &grant.id, new).await?;
    update(tx, grant).await?;
    tx.execute(
        &tx.prepare_cached("UPDATE access_tokens SET revoked = true WHERE jti = $1")
            .await?,
        &[&retried.retired_jti],
    )
    .await?;
    Ok(())
}

/// Persists a revoked grant: refresh stops, its access tokens introspect inactive;
/// the sweep deletes it (and, by cascade, its tokens).
pub(super) async fn persist_revoked(tx: &Tx<'_>, revoked: &Revoked) -> Result<(), PgError> {
    update(tx, revoked.grant()).await
}

/// The grant `id`, locked for this transaction.
pub(super) async fn lock(tx: &Tx<'_>, id: &[u8; 16]) -> Result<Option<Grant>, PgError> {
    let row = tx
        .query_opt(
            &tx.prepare_cached(&format!(
                "SELECT {GRANT_COLUMNS} FROM grants g WHERE g.id = $1 FOR UPDATE"
            ))
            .await?,
            &[&id.as_slice()],
        )
        .await?;
    row.as_ref().map(|r| grant_from_row(r, 0)).transpose()
}

/// Revokes, in the caller's transaction, every unrevoked grant of `user_id` (or
/// only grant `only`, if it is that user's) and returns how many. Each is locked
/// and revoked by [`Revoked::of`]. For the account page here, and for the admin
/// commands (`user disable|delete`), which call it after locking the user's row.
pub(crate) async fn revoke_user_in(
    tx: &Tx<'_>,
    user_id: &str,
    only: Option<[u8; 16]>,
    now: u64,
) -> Result<usize, PgError> {
    let only = only.map(|id| id.to_vec());
    let rows = tx
        .query(
            &tx.prepare_cached(&format!(
                "SELECT {GRANT_COLUMNS} FROM grants g
                  WHERE g.user_id = $1 AND NOT g.revoked AND ($2::bytea IS NULL OR g.id = $2)
                  ORDER BY g.id
                  FOR UPDATE"
            ))
            .await?,
            &[&user_id, &only],
        )
        .await?;
    revoke_rows(tx, &rows, now).await
}

/// Revokes, in the caller's transaction, every unrevoked grant of client
/// `client_id` (the admin commands `client disable|delete`); returns how many.
pub(crate) async fn revoke_client_in(
    tx: &Tx<'_>,
    client_id: &str,
    now: u64,
) -> Result<usize, PgError> {
    let rows = tx
        .query(
            &tx.prepare_cached(&format!(
                "SELECT {GRANT_COLUMNS} FROM grants g
                  WHERE g.client_id = $1 AND NOT g.revoked
                  ORDER BY g.id
                  FOR UPDATE"
            ))
            .await?,
            &[&client_id],
        )
        .await?;
    revoke_rows(tx, &rows, now).await
}

/// Revokes the locked grants in `rows` (read with [`GRANT_COLUMNS`]).
async fn revoke_rows(tx: &Tx<'_>, rows: &[Row], now: u64) -> Result<usize, PgError> {
    let mut ids = Vec::with_capacity(rows.len());
    for row in rows {
        let revoked = Revoked::of(grant_from_row(row, 0)?, now);
        ids.push(revoked.grant().id.to_vec());
    }
    // Every grant revoked the same way: one statement instead of one per grant.
    tx.execute(
        &tx.prepare_cached("UPDATE grants SET revoked = true WHERE id = ANY($1)")
            .await?,
        &[&ids],
    )
    .await?;
    Ok(ids.len())
}

impl Grants for PgStore {
    /// Rotates a refresh token: the presented one is superseded and a new one becomes
    /// current. Presenting a superseded token revokes the whole grant (RFC 6819
    /// §5.2.2.3 / OAuth 2.0 Security BCP §4.14), including its newest refresh token.
    /// Within the retry window the current token's unused predecessor yields a
    /// fresh pair instead. The rules are [`Refresh::exchange`]'s; this persists
    /// its outcome: the common rotation in one statement (`super::rotation`),
    /// otherwise deciding on the grant as read under its row lock: of two
    /// instances retrying one token at once, the second waits, then retries the
    /// first's (still unused) pair away, so one pair stays live.
    async fn rotate_refresh(
        &self,
        presented_id: [u8; 16],
        presented: [u8; 32],
        who: Presenter,
        now: u64,
        window: u64,
        new: NewTokens,
    ) -> Result<RotateOutcome, StoreError> {
        if let Some(outcome) = self
            .rotate_at_once(&presented_id, &presented, &who, now, window, &new)
            .await?
        {
            return Ok(outcome);
        }
        let mut client = self.conn().await?;
        let tx = client.transaction().await?;
        // The token row never changes: no lock. Its grant's owner, to lock in order.
        let row = tx
            .query_opt(
                &tx.prepare_cached(
                    "SELECT rt.token_hash, rt.grant_id, rt.expires_at, g.user_id, g.username
                   FROM refresh_tokens rt JOIN grants g ON g.id = rt.grant_id
                  WHERE rt.id = $1",
                )
                .await?,
                &[&presented_id.as_slice()],
            )
            .await?;
        let Some(row) = row else {
            return Ok(RotateOutcome::Invalid);
        };
        let old = refresh_from_row(&row, 0)?;
        if !ct_eq(&old.token_hash, &presented) {
            return Ok(RotateOutcome::Invalid);
        }
        let (user_id, username): (String, String) = (row.try_get(3)?, row.try_get(4)?);
        let standing = standing(&tx, &user_id, &username).await?;
        let Some(grant) = lock(&tx, &old.grant_id).await? else {
            return Ok(RotateOutcome::Invalid);
        };
        let outcome = match Refresh::of(&old, grant, &presented, now)
            .exchange(&who, standing, now, window, &new)
        {
            Exchange::Invalid => return Ok(RotateOutcome::Invalid),
            Exchange::UserInactive(revoked) => {
                persist_revoked(&tx, &revoked).await?;
                RotateOutcome::Invalid
            }
            Exchange::Reuse(revoked) => {
                persist_revoked(&tx, &revoked).await?;
                RotateOutcome::ReuseDetected
            }
            Exchange::Issued(issue) => {
                record_new_tokens(&tx, &issue.grant().id, &new).await?;
                update(&tx, issue.grant()).await?;
                RotateOutcome::Rotated(Box::new(issue))
            }
            Exchange::Retried(retried) => {
                persist_retry(&tx, &retried, &new).await?;
                RotateOutcome::Retried(Box::new(retried.issue))
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// The grant with key `id`, as stored (no lock).
    async fn grant(&self, id: &[u8; 16]) -> Result<Option<Grant>, StoreError> {
        let client = self.conn().await?;
        let row = client
            .query_opt(
                &client
                    .prepare_cached(&format!(
                        "SELECT {GRANT_COLUMNS} FROM grants g WHERE g.id = $1"
                    ))
                    .await?,
                &[&id.as_slice()],
            )
            .await?;
        Ok(row.as_ref().map(|r| grant_from_row(r, 0)).transpose()?)
    }

    /// A refresh token (key `id`, if `hash` matches) and its grant, for
    /// introspection and scope checks. Whether it is live is
    /// [`crate::grant::refresh_is_live`]'s to say.
    async fn refresh_token(
        &self,
        id: &[u8; 16],
        hash: &[u8; 32],
    ) -> Result<Option<(RefreshToken, Grant)>, StoreError> {
        let client = self.conn().await?;
        let row = client
            .query_opt(
                &client
                    .prepare_cached(&format!(
                        "SELECT {GRANT_COLUMNS}, rt.token_hash, rt.grant_id, rt.expires_at
                       FROM refresh_tokens rt JOIN grants g ON g.id = rt.grant_id
                      WHERE rt.id = $1"
                    ))
                    .await?,
                &[&id.as_slice()],
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let token = refresh_from_row(&row, GRANT_WIDTH)?;
        if !ct_eq(&token.token_hash, hash) {
            return Ok(None);
        }
        Ok(Some((token, grant_from_row(&row, 0)?)))
    }

    /// An issued access token's record and its grant, for introspection.
    /// Stores a client-credentials grant and its access token in one transaction.
    async fn create_client_grant(&self, issue: Issue) -> Result<(), StoreError> {
        Ok(create_client_grant(self, &issue).await?)
    }

    async fn access_token(&self, jti: &str) -> Result<Option<(AccessToken, Grant)>, StoreError> {
        let client = self.conn().await?;
        let row = client
            .query_opt(
                &client
                    .prepare_cached(&format!(
                        "SELECT {GRANT_COLUMNS}, a.expires_at, a.revoked
                       FROM access_tokens a JOIN grants g ON g.id = a.grant_id
                      WHERE a.jti = $1"
                    ))
                    .await?,
                &[&jti],
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let grant = grant_from_row(&row, 0)?;
        let token = AccessToken {
            grant_id: grant.id,
            expires_at: to_u64(row.try_get(GRANT_WIDTH)?, "access_tokens")?,
            revoked: row.try_get(GRANT_WIDTH + 1)?,
        };
        Ok(Some((token, grant)))
    }

    /// Revokes the grant a refresh token belongs to (RFC 7009 §2.1: revoking a
    /// refresh token also invalidates the access tokens of the same grant).
    async fn revoke_refresh(
        &self,
        id: [u8; 16],
        hash: [u8; 32],
        client_id: String,
        now: u64,
    ) -> Result<RevokeOutcome, StoreError> {
        let mut client = self.conn().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                &tx.prepare_cached(
                    "SELECT token_hash, grant_id, expires_at FROM refresh_tokens WHERE id = $1",
                )
                .await?,
                &[&id.as_slice()],
            )
            .await?;
        let Some(token) = row.as_ref().map(|r| refresh_from_row(r, 0)).transpose()? else {
            return Ok(RevokeOutcome::Unknown);
        };
        if !ct_eq(&token.token_hash, &hash) {
            return Ok(RevokeOutcome::Unknown);
        }
        let Some(grant) = lock(&tx, &token.grant_id).await? else {
            return Ok(RevokeOutcome::Unknown);
        };
        if grant.client_id != client_id {
            return Ok(RevokeOutcome::WrongClient);
        }
        if !grant.revoked {
            persist_revoked(&tx, &Revoked::of(grant, now)).await?;
            tx.commit().await?;
        }
        Ok(RevokeOutcome::Revoked)
    }

    /// Revokes one access token by `jti`; remembered until the token expires.
    async fn revoke_access(
        &self,
        jti: String,
        client_id: String,
    ) -> Result<RevokeOutcome, StoreError> {
        let client = self.conn().await?;
        // One statement: the token's owner, and the revocation if it is this client.
        let row = client
            .query_opt(
                &client
                    .prepare_cached(
                        "WITH target AS (
                     SELECT a.jti, g.client_id = $2 AS owned
                       FROM access_tokens a LEFT JOIN grants g ON g.id = a.grant_id
                      WHERE a.jti = $1
                 ), done AS (
                     UPDATE access_tokens SET revoked = true
                      WHERE jti = $1 AND (SELECT coalesce(owned, false) FROM target)
                 )
                 SELECT coalesce(owned, false) FROM target",
                    )
                    .await?,
                &[&jti, &client_id],
            )
            .await?;
        Ok(match row {
            None => RevokeOutcome::Unknown,
            Some(r) if r.try_get::<_, bool>(0)? => RevokeOutcome::Revoked,
            Some(_) => RevokeOutcome::WrongClient,
        })
    }

    /// The grants a user has given, newest first, for the account page: one range
    /// of the `grants_by_user` index, so the cost follows this user's grants only.
    async fn grants_of_user(&self, user_id: &str) -> Result<Vec<Grant>, StoreError> {
        let client = self.conn().await?;
        let rows = client
            .query(
                &client
                    .prepare_cached(&format!(
                        "SELECT {GRANT_COLUMNS} FROM grants g
                      WHERE g.user_id = $1
                      ORDER BY g.created_at DESC"
                    ))
                    .await?,
                &[&user_id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| grant_from_row(r, 0))
            .collect::<Result<_, _>>()?)
    }

    /// Revokes grants of one user: the one with `grant_id` (only if it is that
    /// user's), or all when `None`. Returns how many were revoked.
    async fn revoke_user_grants(
        &self,
        user_id: String,
        grant_id: Option<[u8; 16]>,
        now: u64,
    ) -> Result<usize, StoreError> {
        let mut client = self.conn().await?;
        let tx = client.transaction().await?;
        let n = revoke_user_in(&tx, &user_id, grant_id, now).await?;
        tx.commit().await?;
        Ok(n)
    }
}
