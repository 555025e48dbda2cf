//! Browser sessions on PostgreSQL: the counterpart of the redb backend's
//! `Sessions` (same timeouts, same outcomes), shared by every instance, so a
//! browser signed in through one instance is signed in on all; the CSRF key is
//! shared too (`meta`), so its forms post to any of them.
//!
//! The redb backend keeps a session and its metadata in two tables; here they are
//! one row (`sessions`), so a session always has its metadata and therefore its
//! idle timeout.

use tokio_postgres::Row;

use super::notify::{Change, notify_change};
use super::users::standing;
use super::{PgError, PgStore, to_i64, to_u64};
use crate::grant::Standing;
use crate::store::records::Session;
use crate::store::sessions::SessionInfo;
use crate::store::{EndSessions, PasswordChange, SessionMeta, SessionStart, Sessions, StoreError};

/// The columns a session is read from, in [`from_row`]'s order.
const COLUMNS: &str =
    "id, user_id, username, created_at, expires_at, last_seen_at, idle_secs, ip, user_agent";

/// A session's cookie hash, record and metadata from a row selected with [`COLUMNS`].
fn from_row(row: &Row) -> Result<([u8; 32], Session, SessionMeta), PgError> {
    const T: &str = "sessions";
    let user_id: String = row.try_get(1)?;
    let created_at = to_u64(row.try_get(3)?, T)?;
    let session = Session {
        user_id: user_id.clone(),
        username: row.try_get(2)?,
        created_at,
        expires_at: to_u64(row.try_get(4)?, T)?,
    };
    let meta = SessionMeta {
        user_id,
        created_at,
        last_seen_at: to_u64(row.try_get(5)?, T)?,
        idle_secs: to_u64(row.try_get(6)?, T)?,
        ip: row.try_get(7)?,
        user_agent: row.try_get(8)?,
    };
    Ok((super::to_array(row.try_get(0)?, T)?, session, meta))
}

/// Whether a session is live at `now`: before its absolute expiry and not idle
/// past its timeout (the redb backend's rule).
fn live(session: &Session, meta: &SessionMeta, now: u64) -> bool {
    session.expires_at > now && !meta.idle_expired(now)
}

/// Ends, in the caller's transaction, the sessions of `user_id` that `which`
/// selects, or all of them when `None`; returns how many ended. Shared with the
/// admin commands (a new password, a disabled or deleted user).
pub(crate) async fn end_user_sessions_in(
    tx: &deadpool_postgres::Transaction<'_>,
    user_id: &str,
    which: Option<EndSessions>,
) -> Result<usize, PgError> {
    let n = match which {
        None => {
            tx.execute(
                &tx.prepare_cached("DELETE FROM sessions WHERE user_id = $1")
                    .await?,
                &[&user_id],
            )
            .await?
        }
        Some(EndSessions::One(h)) => {
            tx.execute(
                &tx.prepare_cached("DELETE FROM sessions WHERE user_id = $1 AND id = $2")
                    .await?,
                &[&user_id, &h.as_slice()],
            )
            .await?
        }
        Some(EndSessions::AllExcept(h)) => {
            tx.execute(
                &tx.prepare_cached("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
                    .await?,
                &[&user_id, &h.as_slice()],
            )
            .await?
        }
    };
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

impl Sessions for PgStore {
    /// Records a new sign-in: the session with its metadata, and ends the browser's
    /// previous session (`replaces`) so every login gets a new id. Only while the
    /// user is still enabled, read under a share lock in the same transaction, so a
    /// disable committed first on any instance wins.
    async fn start_session(
        &self,
        hash: [u8; 32],
        session: Session,
        meta: SessionMeta,
        replaces: Option<[u8; 32]>,
    ) -> Result<SessionStart, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        // The user's row first, then session rows: the lock order of `user disable`
        // (user, then that user's sessions), so the two can't deadlock.
        let standing = standing(&tx, &session.user_id, &session.username).await?;
        if let Some(old) = replaces {
            tx.execute(
                &tx.prepare_cached("DELETE FROM sessions WHERE id = $1")
                    .await?,
                &[&old.as_slice()],
            )
            .await?;
        }
        if standing != Standing::Active {
            // The old session still ends, as in the redb backend.
            tx.commit().await?;
            return Ok(SessionStart::UserInactive);
        }
        tx.execute(
            &tx.prepare_cached(
                "INSERT INTO sessions (id, user_id, username, created_at, expires_at,
                                   last_seen_at, idle_secs, ip, user_agent)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (id) DO UPDATE
                SET user_id = EXCLUDED.user_id, username = EXCLUDED.username,
                    created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at,
                    last_seen_at = EXCLUDED.last_seen_at, idle_secs = EXCLUDED.idle_secs,
                    ip = EXCLUDED.ip, user_agent = EXCLUDED.user_agent",
            )
            .await?,
            &[
                &hash.as_slice(),
                &session.user_id,
                &session.username,
                &to_i64(session.created_at, "sign-in time")?,
                &to_i64(session.expires_at, "session expiry")?,
                &to_i64(meta.last_seen_at, "last activity")?,
                &to_i64(meta.idle_secs, "idle timeout")?,
                &meta.ip,
                &meta.user_agent,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(SessionStart::Started)
    }

    /// The session with this cookie hash if it is live at `now`: before its
    /// absolute expiry and not idle for longer than its idle timeout.
    async fn live_session(
        &self,
        hash: &[u8; 32],
        now: u64,
    ) -> Result<Option<(Session, Option<SessionMeta>)>, StoreError> {
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                &conn
                    .prepare_cached(&format!("SELECT {COLUMNS} FROM sessions WHERE id = $1"))
                    .await?,
                &[&hash.as_slice()],
            )
            .await?;
        let Some((_, session, meta)) = row.as_ref().map(from_row).transpose()? else {
            return Ok(None);
        };
        Ok(live(&session, &meta, now).then_some((session, Some(meta))))
    }

    /// Records activity of a session at `now`, unless it was recorded less than
    /// `min_gap` seconds ago: one conditional statement, so a burst of requests on
    /// any number of instances costs at most one row update per `min_gap`.
    async fn touch_session(
        &self,
        hash: [u8; 32],
        now: u64,
        min_gap: u64,
    ) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        let now = to_i64(now, "time")?;
        let gap = to_i64(min_gap, "touch gap")?;
        conn.execute(
            &conn
                .prepare_cached(
                    "UPDATE sessions SET last_seen_at = $2
              WHERE id = $1 AND last_seen_at + $3 <= $2",
                )
                .await?,
            &[&hash.as_slice(), &now, &gap],
        )
        .await?;
        Ok(())
    }

    /// The live sessions of a user, most recently active first.
    async fn sessions_of_user(
        &self,
        user_id: &str,
        now: u64,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                &conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM sessions WHERE user_id = $1"
                    ))
                    .await?,
                &[&user_id],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let (hash, session, meta) = from_row(row)?;
            if live(&session, &meta, now) {
                out.push(SessionInfo {
                    hash,
                    session,
                    meta: Some(meta),
                });
            }
        }
        out.sort_by_key(|s| {
            std::cmp::Reverse(
                s.meta
                    .as_ref()
                    .map_or(s.session.created_at, |m| m.last_seen_at),
            )
        });
        Ok(out)
    }

    /// Ends one session (sign-out), with its metadata.
    async fn end_session(&self, hash: [u8; 32]) -> Result<(), StoreError> {
        let conn = self.conn().await?;
        conn.execute(
            &conn
                .prepare_cached("DELETE FROM sessions WHERE id = $1")
                .await?,
            &[&hash.as_slice()],
        )
        .await?;
        Ok(())
    }

    /// Ends sessions of `user_id` as `which` says; returns how many ended.
    async fn end_user_sessions(
        &self,
        user_id: String,
        which: EndSessions,
    ) -> Result<usize, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let n = end_user_sessions_in(&tx, &user_id, Some(which)).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Replaces the password hash of the user `username` (whose id must still be
    /// `user_id`) and signs out every other session of theirs, in one transaction
    /// that tells every instance the user changed.
    async fn change_password(
        &self,
        user_id: String,
        username: String,
        new_hash: String,
        keep: [u8; 32],
    ) -> Result<PasswordChange, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let row = tx
            .query_opt(
                &tx.prepare_cached("SELECT id FROM users WHERE username = $1 FOR UPDATE")
                    .await?,
                &[&username],
            )
            .await?;
        let Some(found) = row.map(|r| r.try_get::<_, String>(0)).transpose()? else {
            return Ok(PasswordChange::UnknownUser);
        };
        if found != user_id {
            return Ok(PasswordChange::UnknownUser);
        }
        tx.execute(
            &tx.prepare_cached("UPDATE users SET password_hash = $2 WHERE id = $1")
                .await?,
            &[&user_id, &new_hash],
        )
        .await?;
        let signed_out =
            end_user_sessions_in(&tx, &user_id, Some(EndSessions::AllExcept(keep))).await?;
        notify_change(&tx, Change::User(&user_id)).await?;
        tx.commit().await?;
        Ok(PasswordChange::Changed { signed_out })
    }
}
