//! The audit log: every security event (sign-ins, approvals, denials, revocations,
//! refresh-token reuse, admin changes), kept in the database for the configured
//! retention and read or exported with `authgate audit`.
//!
//! Keys are Unix microseconds made unique inside the writer's transaction, so the
//! table iterates in time order and an export can resume from a timestamp. Events
//! from request handlers are queued without waiting ([`Store::audit_detached`]): they
//! ride in the next group commit, and the request is never slowed by the log.

use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

use super::records::{Record, encode};
use super::tables::AUDIT;
use super::{Store, StoreError, Tx};

/// What an audit event records. Stored and shown as its snake_case name (the
/// audit CLI's text and JSON output use that name), so the encoding is the string
/// it always was; a name this build doesn't know reads back as [`AuditKind::Other`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// A successful sign-in.
    LoginOk,
    /// A failed sign-in (unknown user, wrong password, disabled account).
    LoginFailed,
    /// A person approved a device.
    DeviceApproved,
    /// A person denied a device.
    DeviceDenied,
    /// A rotated refresh token came back; its grant was revoked.
    RefreshReuse,
    /// A client revoked a token (RFC 7009).
    TokenRevoked,
    /// A person revoked grants from the account page.
    GrantRevoked,
    /// `authgate user add`.
    UserAdded,
    /// `authgate user passwd`.
    UserPasswordSet,
    /// `authgate user disable`.
    UserDisabled,
    /// `authgate user enable`.
    UserEnabled,
    /// `authgate user delete`.
    UserDeleted,
    /// `authgate client add`.
    ClientAdded,
    /// `authgate client disable`.
    ClientDisabled,
    /// `authgate client enable`.
    ClientEnabled,
    /// `authgate client delete`.
    ClientDeleted,
    /// `authgate client rotate-secret`.
    ClientSecretRotated,
    /// `authgate keys rotate`.
    KeyRotated,
    /// A kind written by another build.
    Other(String),
}

impl AuditKind {
    /// The stored name, e.g. `login_ok`.
    pub fn as_str(&self) -> &str {
        match self {
            AuditKind::LoginOk => "login_ok",
            AuditKind::LoginFailed => "login_failed",
            AuditKind::DeviceApproved => "device_approved",
            AuditKind::DeviceDenied => "device_denied",
            AuditKind::RefreshReuse => "refresh_reuse",
            AuditKind::TokenRevoked => "token_revoked",
            AuditKind::GrantRevoked => "grant_revoked",
            AuditKind::UserAdded => "user_added",
            AuditKind::UserPasswordSet => "user_password_set",
            AuditKind::UserDisabled => "user_disabled",
            AuditKind::UserEnabled => "user_enabled",
            AuditKind::UserDeleted => "user_deleted",
            AuditKind::ClientAdded => "client_added",
            AuditKind::ClientDisabled => "client_disabled",
            AuditKind::ClientEnabled => "client_enabled",
            AuditKind::ClientDeleted => "client_deleted",
            AuditKind::ClientSecretRotated => "client_secret_rotated",
            AuditKind::KeyRotated => "key_rotated",
            AuditKind::Other(s) => s,
        }
    }

    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Self {
        match name {
            "login_ok" => AuditKind::LoginOk,
            "login_failed" => AuditKind::LoginFailed,
            "device_approved" => AuditKind::DeviceApproved,
            "device_denied" => AuditKind::DeviceDenied,
            "refresh_reuse" => AuditKind::RefreshReuse,
            "token_revoked" => AuditKind::TokenRevoked,
            "grant_revoked" => AuditKind::GrantRevoked,
            "user_added" => AuditKind::UserAdded,
            "user_password_set" => AuditKind::UserPasswordSet,
            "user_disabled" => AuditKind::UserDisabled,
            "user_enabled" => AuditKind::UserEnabled,
            "user_deleted" => AuditKind::UserDeleted,
            "client_added" => AuditKind::ClientAdded,
            "client_disabled" => AuditKind::ClientDisabled,
            "client_enabled" => AuditKind::ClientEnabled,
            "client_deleted" => AuditKind::ClientDeleted,
            "client_secret_rotated" => AuditKind::ClientSecretRotated,
            "key_rotated" => AuditKind::KeyRotated,
            other => AuditKind::Other(other.to_string()),
        }
    }
}

impl std::fmt::Display for AuditKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AuditKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AuditKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(AuditKind::parse(&name))
    }
}

/// One security event.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuditEvent {
    /// Unix microseconds (unique, increasing).
    #[serde(default)]
    pub seq: u64,
    /// Unix seconds.
    pub at: u64,
    /// What happened.
    pub kind: AuditKind,
    /// Who did it: a user name, a client id, or `cli uid=N`.
    pub actor: String,
    /// What it was done to (a user, a client, a key id, a user code).
    pub subject: String,
    /// The client IP, when it came over HTTP.
    pub ip: String,
    /// Anything else worth keeping (scopes, counts).
    pub detail: String,
}
impl Record for AuditEvent {
    const VERSION: u8 = 1;
}

impl AuditEvent {
    /// An event of `kind` by `actor` on `subject`, now.
    pub fn new(kind: AuditKind, actor: &str, subject: &str) -> Self {
        AuditEvent {
            seq: 0,
            at: crate::clock::now(),
            kind,
            actor: actor.into(),
            subject: subject.into(),
            ip: String::new(),
            detail: String::new(),
        }
    }

    /// With the client's IP.
    pub fn ip(mut self, ip: impl ToString) -> Self {
        self.ip = ip.to_string();
        self
    }

    /// With a detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Appends `event` inside a write transaction (used by admin operations, so the
/// change and its audit record commit together).
pub(super) fn append(tx: &Tx<'_>, mut event: AuditEvent) -> Result<(), StoreError> {
    let mut table = tx.txn().open_table(AUDIT.def())?;
    let last = table.last()?.map(|(k, _)| k.value()).unwrap_or(0);
    let seq = now_micros().max(last + 1);
    event.seq = seq;
    table.insert(seq, encode(&event).as_slice())?;
    tx.audited(event.kind);
    Ok(())
}

/// The audit log: appending, reading, retention. Part of the storage interface: the handlers call
/// these, the redb [`Store`] implements them, and another backend would too.
pub trait AuditLog {
    /// Queues an audit event for the next group commit without waiting for it.
    fn audit_detached(&self, event: AuditEvent);

    /// Records an audit event and waits until it is durable.
    fn audit(&self, event: AuditEvent) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Events at or after `since` (Unix seconds), oldest first; at most `limit`, the
    /// newest ones when there are more.
    fn audit_events(
        &self,
        since: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AuditEvent>, StoreError>> + Send;

    /// Removes events older than `before` (Unix seconds); returns how many.
    fn sweep_audit(&self, before: u64) -> impl Future<Output = Result<usize, StoreError>> + Send;
}

impl AuditLog for Store {
    /// Queues an audit event for the next group commit without waiting for it.
    fn audit_detached(&self, event: AuditEvent) {
        let (tx, _rx) = tokio::sync::oneshot::channel::<Result<(), StoreError>>();
        let op = move |tx: &Tx<'_>| append(tx, event.clone());
        if let Err(e) = self.writer.submit(op, tx, |_| {}) {
            tracing::warn!("audit event dropped: {e}");
        }
    }

    /// Records an audit event and waits until it is durable.
    async fn audit(&self, event: AuditEvent) -> Result<(), StoreError> {
        self.writer.write(move |tx| append(tx, event.clone())).await
    }

    /// Events at or after `since` (Unix seconds), oldest first; at most `limit`, the
    /// newest ones when there are more.
    async fn audit_events(&self, since: u64, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(AUDIT.def())?;
        let mut out = Vec::new();
        for entry in table.range(since.saturating_mul(1_000_000)..)?.rev() {
            let (_, v) = entry?;
            out.push(AUDIT.decode(v.value())?);
            if out.len() >= limit {
                break;
            }
        }
        out.reverse();
        Ok(out)
    }

    /// Removes events older than `before` (Unix seconds); returns how many.
    async fn sweep_audit(&self, before: u64) -> Result<usize, StoreError> {
        self.writer
            .write(move |tx| {
                let mut table = tx.txn().open_table(AUDIT.def())?;
                let cutoff = before.saturating_mul(1_000_000);
                let mut n = 0;
                table.retain_in(..cutoff, |_, _| {
                    n += 1;
                    false
                })?;
                Ok(n)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_are_ordered_limited_and_swept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), |_| {}).unwrap();
        for i in 0..5 {
            store
                .audit(AuditEvent::new(
                    AuditKind::LoginFailed,
                    "x",
                    &format!("u{i}"),
                ))
                .await
                .unwrap();
        }
        let all = store.audit_events(0, 100).await.unwrap();
        assert_eq!(all.len(), 5);
        assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
        let last2 = store.audit_events(0, 2).await.unwrap();
        assert_eq!(last2[1].subject, "u4");
        assert_eq!(last2[0].subject, "u3");
        assert_eq!(store.sweep_audit(0).await.unwrap(), 0);
        assert_eq!(store.sweep_audit(u64::MAX / 2_000_000).await.unwrap(), 5);
        assert!(store.audit_events(0, 100).await.unwrap().is_empty());
    }

    #[test]
    fn kinds_are_stored_as_the_names_they_always_had() {
        let ev = AuditEvent::new(AuditKind::DeviceApproved, "a", "s");
        let mut old = ev.clone();
        old.kind = AuditKind::parse("device_approved");
        assert_eq!(old, ev);
        #[derive(Serialize)]
        struct V1<'a> {
            seq: u64,
            at: u64,
            kind: &'a str,
            actor: &'a str,
            subject: &'a str,
            ip: &'a str,
            detail: &'a str,
        }
        let v1 = V1 {
            seq: ev.seq,
            at: ev.at,
            kind: "device_approved",
            actor: "a",
            subject: "s",
            ip: "",
            detail: "",
        };
        let mut bytes = vec![1u8];
        bytes.extend(postcard::to_allocvec(&v1).unwrap());
        assert_eq!(encode(&ev), bytes);
        let json = serde_json::to_value(&ev.kind).unwrap();
        assert_eq!(json, serde_json::json!("device_approved"));
        assert_eq!(AuditKind::parse("new_kind").as_str(), "new_kind");
    }
}
