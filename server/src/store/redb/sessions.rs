//! Browser sessions as the account page sees them: where and when each signed in,
//! when it was last active (for the idle timeout), signing sessions out, and
//! changing a password.
//!
//! The session record itself (`SESSIONS`) predates this module and stays as it is;
//! what a person needs to recognise a session lives beside it in `SESSION_META`,
//! keyed by the same cookie hash. A session without metadata (signed in before this
//! table existed) is shown as "unknown" and has no idle timeout.

use redb::{ReadableDatabase, ReadableTable};

use super::records::Session;
use super::tables::{META, SESSION_META, SESSIONS, SESSIONS_BY_USER, USERS};
use super::users::standing;
use super::{RedbStore, StoreError, Tx};
use crate::grant::Standing;
use crate::store::{EndSessions, PasswordChange, SessionInfo, SessionMeta, SessionStart, Sessions};

/// `META` key marking that `SESSIONS_BY_USER` was built for this database.
const INDEX_BUILT: &str = "session_index";

/// The `SESSIONS_BY_USER` key of a session.
fn user_key(user_id: &str, hash: &[u8]) -> Vec<u8> {
    let mut out = super::grants::user_prefix(user_id);
    out.extend_from_slice(hash);
    out
}

/// The cookie hashes of a user's sessions: one range read of the index.
fn user_session_hashes(
    index: &impl ReadableTable<&'static [u8], ()>,
    user_id: &str,
) -> Result<Vec<[u8; 32]>, StoreError> {
    let prefix = super::grants::user_prefix(user_id);
    let mut start = prefix.clone();
    start.extend_from_slice(&[0; 32]);
    let mut end = prefix.clone();
    end.extend_from_slice(&[0xff; 32]);
    let mut out = Vec::new();
    for entry in index.range::<&[u8]>(start.as_slice()..=end.as_slice())? {
        let (k, _) = entry?;
        if let Some(h) = k
            .value()
            .get(prefix.len()..)
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
        {
            out.push(h);
        }
    }
    Ok(out)
}

/// Removes a session, its metadata and its index entry; returns whether it
/// existed.
pub(super) fn remove_session(tx: &Tx<'_>, hash: &[u8]) -> Result<bool, StoreError> {
    let Some(session) = tx.get(SESSIONS, hash)? else {
        tx.remove(SESSION_META, hash)?;
        return Ok(false);
    };
    tx.remove(SESSIONS, hash)?;
    tx.remove(SESSION_META, hash)?;
    unindex(tx.txn(), &session.user_id, hash)?;
    Ok(true)
}

/// Removes the index entry of a session already removed from `SESSIONS`.
pub(super) fn unindex(
    t: &redb::WriteTransaction,
    user_id: &str,
    hash: &[u8],
) -> Result<(), StoreError> {
    t.open_table(SESSIONS_BY_USER)?
        .remove(user_key(user_id, hash).as_slice())?;
    Ok(())
}

/// Ends every session of `user_id` that `pick` selects (by hash), through the
/// index; returns how many ended.
pub(super) fn end_user_sessions_where(
    tx: &Tx<'_>,
    user_id: &str,
    pick: impl Fn(&[u8; 32]) -> bool,
) -> Result<usize, StoreError> {
    let hashes = user_session_hashes(&tx.txn().open_table(SESSIONS_BY_USER)?, user_id)?;
    let mut n = 0;
    for h in hashes.iter().filter(|h| pick(h)) {
        n += usize::from(remove_session(tx, h)?);
    }
    Ok(n)
}

/// Builds `SESSIONS_BY_USER` once for a database written before it existed.
pub fn build_index_once(db: &redb::Database) -> Result<(), StoreError> {
    {
        let txn = db.begin_read()?;
        if txn.open_table(META)?.get(INDEX_BUILT)?.is_some() {
            return Ok(());
        }
    }
    let t = db.begin_write()?;
    {
        let sessions = t.open_table(SESSIONS.def())?;
        let mut index = t.open_table(SESSIONS_BY_USER)?;
        for entry in sessions.iter()? {
            let (k, v) = entry?;
            let s: Session = SESSIONS.decode(v.value())?;
            index.insert(user_key(&s.user_id, k.value()).as_slice(), ())?;
        }
    }
    t.open_table(META)?.insert(INDEX_BUILT, [1u8].as_slice())?;
    t.commit()?;
    Ok(())
}

fn live(session: &Session, meta: Option<&SessionMeta>, now: u64) -> bool {
    session.expires_at > now && !meta.is_some_and(|m| m.idle_expired(now))
}

impl Sessions for RedbStore {
    /// Records a new sign-in: the session and its metadata in one transaction, and
    /// ends the browser's previous session (`replaces`) so every login gets a new id.
    /// Only while the user is still enabled, checked in the same transaction.
    async fn start_session(
        &self,
        hash: [u8; 32],
        session: Session,
        meta: SessionMeta,
        replaces: Option<[u8; 32]>,
    ) -> Result<SessionStart, StoreError> {
        self.writer
            .write(move |tx| {
                if let Some(old) = replaces {
                    remove_session(tx, old.as_slice())?;
                }
                let standing = standing(tx, &session.user_id, &session.username)?;
                if standing != Standing::Active {
                    return Ok(SessionStart::UserInactive);
                }
                tx.put(SESSIONS, hash.as_slice(), &session)?;
                tx.put(SESSION_META, hash.as_slice(), &meta)?;
                tx.txn()
                    .open_table(SESSIONS_BY_USER)?
                    .insert(user_key(&session.user_id, &hash).as_slice(), ())?;
                Ok(SessionStart::Started)
            })
            .await
    }

    /// The session with this cookie hash if it is live at `now`: before its
    /// absolute expiry and not idle for longer than its idle timeout.
    async fn live_session(
        &self,
        hash: &[u8; 32],
        now: u64,
    ) -> Result<Option<(Session, Option<SessionMeta>)>, StoreError> {
        let txn = self.db.begin_read()?;
        let sessions = txn.open_table(SESSIONS.def())?;
        let Some(v) = sessions.get(hash.as_slice())? else {
            return Ok(None);
        };
        let session: Session = SESSIONS.decode(v.value())?;
        let metas = txn.open_table(SESSION_META.def())?;
        let meta = match metas.get(hash.as_slice())? {
            Some(v) => Some(SESSION_META.decode(v.value())?),
            None => None,
        };
        Ok(live(&session, meta.as_ref(), now).then_some((session, meta)))
    }

    /// Records activity of a session at `now`, unless it was recorded less than
    /// `min_gap` seconds ago: the check is repeated inside the write, so a burst of
    /// requests costs at most one update per `min_gap`.
    async fn touch_session(
        &self,
        hash: [u8; 32],
        now: u64,
        min_gap: u64,
    ) -> Result<(), StoreError> {
        self.writer
            .write(move |tx| {
                let Some(mut meta) = tx.get(SESSION_META, hash.as_slice())? else {
                    return Ok(());
                };
                if meta.last_seen_at.saturating_add(min_gap) <= now {
                    meta.last_seen_at = now;
                    tx.put(SESSION_META, hash.as_slice(), &meta)?;
                }
                Ok(())
            })
            .await
    }

    /// The live sessions of a user, most recently active first.
    async fn sessions_of_user(
        &self,
        user_id: &str,
        now: u64,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let txn = self.db.begin_read()?;
        let hashes = user_session_hashes(&txn.open_table(SESSIONS_BY_USER)?, user_id)?;
        let sessions = txn.open_table(SESSIONS.def())?;
        let metas = txn.open_table(SESSION_META.def())?;
        let mut out = Vec::new();
        for hash in hashes {
            let Some(v) = sessions.get(hash.as_slice())? else {
                continue;
            };
            let session: Session = SESSIONS.decode(v.value())?;
            if session.user_id != user_id {
                continue;
            }
            let meta = match metas.get(hash.as_slice())? {
                Some(v) => Some(SESSION_META.decode(v.value())?),
                None => None,
            };
            if live(&session, meta.as_ref(), now) {
                out.push(SessionInfo {
                    hash,
                    session,
                    meta,
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
        self.writer
            .write(move |tx| remove_session(tx, hash.as_slice()).map(|_| ()))
            .await
    }

    /// Ends sessions of `user_id` as `which` says; returns how many ended.
    async fn end_user_sessions(
        &self,
        user_id: String,
        which: EndSessions,
    ) -> Result<usize, StoreError> {
        self.writer
            .write(move |tx| end_sessions_in(tx, &user_id, which))
            .await
    }

    /// Replaces the password hash of the user `username` (whose id must still be
    /// `user_id`) and signs out every other session of theirs, in one transaction.
    async fn change_password(
        &self,
        user_id: String,
        username: String,
        new_hash: String,
        keep: [u8; 32],
    ) -> Result<PasswordChange, StoreError> {
        self.writer
            .write(move |tx| {
                let Some(mut user) = tx.get(USERS, username.as_str())? else {
                    return Ok(PasswordChange::UnknownUser);
                };
                if user.id != user_id {
                    return Ok(PasswordChange::UnknownUser);
                }
                user.password_hash = new_hash.clone();
                tx.put(USERS, username.as_str(), &user)?;
                let signed_out = end_sessions_in(tx, &user_id, EndSessions::AllExcept(keep))?;
                Ok(PasswordChange::Changed { signed_out })
            })
            .await
    }
}

fn end_sessions_in(tx: &Tx<'_>, user_id: &str, which: EndSessions) -> Result<usize, StoreError> {
    end_user_sessions_where(tx, user_id, |hash| match which {
        EndSessions::One(h) => h == *hash,
        EndSessions::AllExcept(h) => h != *hash,
    })
}

/// Inside the sweep's transaction: removes sessions idle past their timeout, and
/// metadata whose session is gone. Returns how many sessions it ended.
pub(super) fn sweep_session_meta(
    t: &redb::WriteTransaction,
    now: u64,
) -> Result<usize, StoreError> {
    let mut idle = Vec::new();
    {
        let sessions = t.open_table(SESSIONS.def())?;
        let mut metas = t.open_table(SESSION_META.def())?;
        metas.retain(|k, v| {
            let Ok(meta) = SESSION_META.decode(v) else {
                return true;
            };
            if meta.idle_expired(now) {
                idle.push((k.to_vec(), meta.user_id));
                return false;
            }
            sessions.get(k).map(|s| s.is_some()).unwrap_or(true)
        })?;
    }
    let mut n = 0;
    {
        let mut sessions = t.open_table(SESSIONS.def())?;
        for (k, _) in &idle {
            n += usize::from(sessions.remove(k.as_slice())?.is_some());
        }
    }
    for (k, user_id) in &idle {
        unindex(t, user_id, k)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::User;
    use redb::ReadableTableMetadata;

    fn store() -> (tempfile::TempDir, RedbStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RedbStore::open(&dir.path().join("t.redb"), |_| {}).expect("open");
        // Sessions are recorded only for users that exist and are enabled.
        for name in ["u1", "u2"] {
            let user = User {
                id: name.into(),
                username: name.into(),
                password_hash: String::new(),
                disabled: false,
                created_at: 1,
                admin: false,
            };
            let t = store.db.begin_write().expect("write");
            Tx::new(&t).put(USERS, name, &user).expect("user");
            t.commit().expect("commit");
        }
        (dir, store)
    }

    fn session(user: &str, now: u64) -> Session {
        Session {
            user_id: user.into(),
            username: user.into(),
            created_at: now,
            expires_at: now + 12 * 3600,
        }
    }

    fn meta(user: &str, now: u64) -> SessionMeta {
        SessionMeta {
            user_id: user.into(),
            created_at: now,
            last_seen_at: now,
            idle_secs: 3600,
            ip: "192.0.2.1".into(),
            user_agent: "test".into(),
        }
    }

    #[tokio::test]
    async fn idle_timeout_touch_and_sign_out_others() {
        let (_d, s) = store();
        let now = 1_000_000;
        let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        s.start_session(a, session("u1", now), meta("u1", now), None)
            .await
            .unwrap();
        s.start_session(b, session("u1", now), meta("u1", now), None)
            .await
            .unwrap();
        s.start_session(c, session("u2", now), meta("u2", now), None)
            .await
            .unwrap();
        assert!(s.live_session(&a, now + 3599).await.unwrap().is_some());
        assert!(
            s.live_session(&a, now + 3600).await.unwrap().is_none(),
            "idle"
        );

        // A touch inside the gap changes nothing; after it, it moves last_seen.
        s.touch_session(a, now + 60, 300).await.unwrap();
        assert_eq!(
            s.live_session(&a, now + 60)
                .await
                .unwrap()
                .unwrap()
                .1
                .unwrap()
                .last_seen_at,
            now
        );
        s.touch_session(a, now + 3000, 300).await.unwrap();
        assert!(
            s.live_session(&a, now + 6000).await.unwrap().is_some(),
            "touched"
        );
        assert_eq!(s.sessions_of_user("u1", now + 3000).await.unwrap().len(), 2);

        // The sweep ends b (idle) but not a (touched) nor c's user.
        let swept = s
            .writer
            .write(move |tx| sweep_session_meta(tx.txn(), now + 4000))
            .await
            .unwrap();
        assert_eq!(swept, 2, "b and c were idle");
        assert!(s.live_session(&a, now + 4000).await.unwrap().is_some());

        s.start_session(b, session("u1", now + 4000), meta("u1", now + 4000), None)
            .await
            .unwrap();
        let n = s
            .end_user_sessions("u1".into(), EndSessions::AllExcept(a))
            .await
            .unwrap();
        assert_eq!(n, 1);
        let left: Vec<_> = s
            .sessions_of_user("u1", now + 4000)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.hash)
            .collect();
        assert_eq!(left, vec![a]);
        // Someone else's session can't be ended by hash.
        let n = s
            .end_user_sessions("u2".into(), EndSessions::One(a))
            .await
            .unwrap();
        assert_eq!(n, 0);
        // The by-user index holds exactly the sessions left, after sign-outs and
        // sweeps alike; a logout removes the entry too.
        let count = |s: &RedbStore| {
            let r = s.db.begin_read().unwrap();
            let n = r.open_table(SESSIONS.def()).unwrap().len().unwrap();
            let i = r.open_table(SESSIONS_BY_USER).unwrap().len().unwrap();
            (n, i)
        };
        assert_eq!(count(&s), (1, 1));
        s.end_session(a).await.unwrap();
        assert_eq!(count(&s), (0, 0));
    }
}
