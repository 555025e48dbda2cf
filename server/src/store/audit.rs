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

use super::records::{Record, decode, encode};
use super::tables::AUDIT;
use super::{Store, StoreError, Tx};

/// One security event.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuditEvent {
    /// Unix microseconds (unique, increasing).
    #[serde(default)]
    pub seq: u64,
    /// Unix seconds.
    pub at: u64,
    /// What happened: `login_ok`, `login_failed`, `device_approved`, `device_denied`,
    /// `grant_revoked`, `token_revoked`, `refresh_reuse`, `user_added`, …
    pub kind: String,
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
    pub fn new(kind: &str, actor: &str, subject: &str) -> Self {
        AuditEvent {
            seq: 0,
            at: crate::clock::now(),
            kind: kind.into(),
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
    let mut table = tx.0.open_table(AUDIT)?;
    let last = table.last()?.map(|(k, _)| k.value()).unwrap_or(0);
    let seq = now_micros().max(last + 1);
    event.seq = seq;
    table.insert(seq, encode(&event).as_slice())?;
    crate::metrics::Metrics::kind(&crate::metrics::get().audit_events, &event.kind);
    Ok(())
}

impl Store {
    /// Queues an audit event for the next group commit without waiting for it.
    pub fn audit_detached(&self, event: AuditEvent) {
        let (tx, _rx) = tokio::sync::oneshot::channel::<Result<(), StoreError>>();
        let op = move |t: &redb::WriteTransaction| append(&Tx(t), event);
        if self.writer.submit(op, tx, || {}).is_err() {
            tracing::warn!("audit event dropped: the database writer is gone");
        }
    }

    /// Records an audit event and waits until it is durable.
    pub async fn audit(&self, event: AuditEvent) -> Result<(), StoreError> {
        self.writer.write(move |t| append(&Tx(t), event)).await
    }

    /// Events at or after `since` (Unix seconds), oldest first; at most `limit`, the
    /// newest ones when there are more.
    pub fn audit_events(&self, since: u64, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(AUDIT)?;
        let mut out = Vec::new();
        for entry in table.range(since.saturating_mul(1_000_000)..)?.rev() {
            let (_, v) = entry?;
            out.push(decode::<AuditEvent>("audit", v.value())?);
            if out.len() >= limit {
                break;
            }
        }
        out.reverse();
        Ok(out)
    }

    /// Removes events older than `before` (Unix seconds); returns how many.
    pub async fn sweep_audit(&self, before: u64) -> Result<usize, StoreError> {
        self.writer
            .write(move |t| {
                let mut table = t.open_table(AUDIT)?;
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
                .audit(AuditEvent::new("login_failed", "x", &format!("u{i}")))
                .await
                .unwrap();
        }
        let all = store.audit_events(0, 100).unwrap();
        assert_eq!(all.len(), 5);
        assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
        let last2 = store.audit_events(0, 2).unwrap();
        assert_eq!(last2[1].subject, "u4");
        assert_eq!(last2[0].subject, "u3");
        assert_eq!(store.sweep_audit(0).await.unwrap(), 0);
        assert_eq!(store.sweep_audit(u64::MAX / 2_000_000).await.unwrap(), 5);
        assert!(store.audit_events(0, 100).unwrap().is_empty());
    }
}
