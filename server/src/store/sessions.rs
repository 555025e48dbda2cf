//! Browser sessions as the account page sees them: the storage trait and the
//! session metadata (where and when each signed in, when it was last active).

use serde::{Deserialize, Serialize};

use super::records::Record;
use super::{Session, StoreError};

/// What a session looks like to its owner, keyed by the session's cookie hash.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SessionMeta {
    /// The session's user (to list a user's sessions without decoding every one).
    pub user_id: String,
    /// Unix seconds of the sign-in.
    pub created_at: u64,
    /// Unix seconds of the last recorded activity; updated at most every few
    /// minutes (see [`Sessions::touch_session`]).
    pub last_seen_at: u64,
    /// The session ends after this many seconds without activity.
    pub idle_secs: u64,
    /// Address the browser signed in from.
    pub ip: String,
    /// The browser's `User-Agent` at sign-in (truncated).
    pub user_agent: String,
}

impl Record for SessionMeta {
    const VERSION: u8 = 1;
}

impl SessionMeta {
    /// Whether the idle timeout has passed at `now`.
    pub fn idle_expired(&self, now: u64) -> bool {
        self.last_seen_at.saturating_add(self.idle_secs) <= now
    }
}

/// One live browser session of a user, for the account page.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionInfo {
    /// SHA-256 of the session cookie: the record key, and the id the sign-out
    /// form posts (it can't be turned back into a cookie).
    pub hash: [u8; 32],
    /// The session record.
    pub session: Session,
    /// Where and when, if known.
    pub meta: Option<SessionMeta>,
}

/// Which of a user's sessions to end.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EndSessions {
    /// The one with this hash (only if it belongs to the user).
    One([u8; 32]),
    /// Every session of the user except this one (the browser asking).
    AllExcept([u8; 32]),
}

/// Result of a password change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PasswordChange {
    /// Changed; this many other sessions were signed out.
    Changed {
        /// Sessions ended.
        signed_out: usize,
    },
    /// The user no longer exists (or was renamed) since the session began.
    UnknownUser,
}

/// Whether a sign-in got its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStart {
    /// The session was recorded.
    Started,
    /// The user was disabled or deleted before the write: nothing was recorded,
    /// so a cookie for it names no session. (A password check and a `user
    /// disable` can race; the disable wins because this is checked in the write.)
    UserInactive,
}

/// Browser sessions: sign-in, idle timeout, signing out, password changes. Part of the storage interface: the handlers call
/// these; [`RedbStore`](super::RedbStore) and [`PgStore`](super::PgStore) implement them.
pub trait Sessions {
    /// Records a new sign-in: the session and its metadata in one transaction, and
    /// ends the browser's previous session (`replaces`) so every login gets a new id.
    /// Only while the user is still enabled, checked in the same transaction.
    fn start_session(
        &self,
        hash: [u8; 32],
        session: Session,
        meta: SessionMeta,
        replaces: Option<[u8; 32]>,
    ) -> impl Future<Output = Result<SessionStart, StoreError>> + Send;

    /// The session with this cookie hash if it is live at `now`: before its
    /// absolute expiry and not idle for longer than its idle timeout.
    fn live_session(
        &self,
        hash: &[u8; 32],
        now: u64,
    ) -> impl Future<Output = Result<Option<(Session, Option<SessionMeta>)>, StoreError>> + Send;

    /// Records activity of a session at `now`, unless it was recorded less than
    /// `min_gap` seconds ago: the check is repeated inside the write, so a burst of
    /// requests costs at most one update per `min_gap`.
    fn touch_session(
        &self,
        hash: [u8; 32],
        now: u64,
        min_gap: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The live sessions of a user, most recently active first.
    fn sessions_of_user(
        &self,
        user_id: &str,
        now: u64,
    ) -> impl Future<Output = Result<Vec<SessionInfo>, StoreError>> + Send;

    /// Ends one session (sign-out), with its metadata.
    fn end_session(&self, hash: [u8; 32]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Ends sessions of `user_id` as `which` says; returns how many ended.
    fn end_user_sessions(
        &self,
        user_id: String,
        which: EndSessions,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Replaces the password hash of the user `username` (whose id must still be
    /// `user_id`) and signs out every other session of theirs, in one transaction.
    fn change_password(
        &self,
        user_id: String,
        username: String,
        new_hash: String,
        keep: [u8; 32],
    ) -> impl Future<Output = Result<PasswordChange, StoreError>> + Send;
}
