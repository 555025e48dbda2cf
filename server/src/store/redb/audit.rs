//! The audit log: every security event (sign-ins, approvals, denials, revocations,
//! refresh-token reuse, admin changes), kept in the database for the configured
//! retention and read or exported with `authgate audit`.
//!
//! Keys are Unix microseconds made unique inside the writer's transaction, so the
//! table iterates in time order and an export can resume from a timestamp. Events
//! from request handlers are queued without waiting ([`AuditLog::audit_detached`](crate::store::AuditLog::audit_detached)): they
//! ride in the next group commit, and the request is never slowed by the log.

use redb::{ReadableDatabase, ReadableTable};

use super::records::encode;
use super::tables::AUDIT;
use super::{RedbStore, StoreError, Tx};
use crate::store::{AuditEvent, AuditLog};

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

impl AuditLog for RedbStore {
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
    use crate::store::AuditKind;
    use serde::Serialize;

    #[tokio::test]
    async fn events_are_ordered_limited_and_swept() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("db"), |_| {}).unwrap();
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
