//! The audit log on PostgreSQL: the counterpart of the redb backend's `AuditLog`.
//!
//! Every instance appends to one `audit` table whose `seq` comes from an identity
//! column (a sequence): events of all instances get distinct, increasing numbers
//! without the race of `max(seq) + 1`. An event's `seq` is therefore a position in
//! the log, not Unix microseconds as on redb; listings select by `at` (seconds) and
//! order by `seq`, as the redb backend's do by its time-ordered key.
//!
//! Admin changes append their event with [`append`] inside their own transaction,
//! so the change and its record commit together. Handlers' events go through
//! [`PgStore::audit_detached`] to one writer task per store ([`AuditQueue`]),
//! which never blocks the request and writes what queued while its last write ran
//! as one statement and one commit (group commit: one fsync for many events).

use tokio::sync::mpsc;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row};

use super::{PgError, PgStore, to_i64, to_u64};
use crate::store::{AuditEvent, AuditKind, AuditLog, StoreError};

const TABLE: &str = "audit";

/// Most detached events waiting for the writer. Past this, for instance while the
/// database is down, further events are dropped with a warning rather than pile up
/// in memory.
const MAX_DETACHED: usize = 1024;

/// Most detached events one statement writes.
const MAX_BATCH: usize = 256;

/// The detached events' writer of one store: it stops with the last clone of its
/// store (when this is dropped).
pub(super) struct AuditQueue {
    tx: mpsc::Sender<AuditEvent>,
}

impl AuditQueue {
    /// Starts the writer task on `pool` (needs a tokio runtime).
    pub(super) fn spawn(pool: deadpool_postgres::Pool) -> Self {
        let (tx, mut rx) = mpsc::channel(MAX_DETACHED);
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while let Some(first) = rx.recv().await {
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    let Ok(event) = rx.try_recv() else { break };
                    batch.push(event);
                }
                if let Err(e) = append_all(&pool, &batch).await {
                    tracing::warn!(events = batch.len(), "audit events dropped: {e}");
                }
                batch.clear();
            }
        });
        AuditQueue { tx }
    }
}

/// [`append_all`]'s statement: the events in the arrays' order, so their `seq`
/// follow it.
const APPEND_ALL: &str = "INSERT INTO audit (at, kind, actor, subject, ip, detail)
     SELECT at, kind, actor, subject, ip, detail
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
            WITH ORDINALITY AS e(at, kind, actor, subject, ip, detail, n)
      ORDER BY n";

/// Appends `events` in one statement (one commit) and counts them once committed.
async fn append_all(pool: &deadpool_postgres::Pool, events: &[AuditEvent]) -> Result<(), PgError> {
    let at = events
        .iter()
        .map(|e| to_i64(e.at, "audit time"))
        .collect::<Result<Vec<_>, _>>()?;
    let kind: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let actor: Vec<&str> = events.iter().map(|e| e.actor.as_str()).collect();
    let subject: Vec<&str> = events.iter().map(|e| e.subject.as_str()).collect();
    let ip: Vec<&str> = events.iter().map(|e| e.ip.as_str()).collect();
    let detail: Vec<&str> = events.iter().map(|e| e.detail.as_str()).collect();
    let client = pool.get().await?;
    let params: [&(dyn ToSql + Sync); 6] = [&at, &kind, &actor, &subject, &ip, &detail];
    client
        .execute(&client.prepare_cached(APPEND_ALL).await?, &params)
        .await?;
    for event in events {
        counted(&event.kind);
    }
    Ok(())
}

/// Appends `event` in the caller's transaction (or on a plain connection); its
/// `seq` is drawn from the table's sequence. Returns the event's kind, for the
/// metric the caller counts once the transaction has committed.
pub(super) async fn append(
    db: &impl GenericClient,
    event: &AuditEvent,
) -> Result<AuditKind, PgError> {
    db.execute(
        "INSERT INTO audit (at, kind, actor, subject, ip, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &to_i64(event.at, "audit time")?,
            &event.kind.as_str(),
            &event.actor,
            &event.subject,
            &event.ip,
            &event.detail,
        ],
    )
    .await?;
    Ok(event.kind.clone())
}

/// Counts a committed audit event in `authgate_audit_events_total{kind}`, as the
/// redb backend does after its group commit.
pub(super) fn counted(kind: &AuditKind) {
    let m = crate::metrics::get();
    crate::metrics::Metrics::kind(&m.audit_events, kind.as_str());
}

fn from_row(row: &Row) -> Result<AuditEvent, PgError> {
    Ok(AuditEvent {
        seq: to_u64(row.try_get(0)?, TABLE)?,
        at: to_u64(row.try_get(1)?, TABLE)?,
        kind: AuditKind::parse(row.try_get(2)?),
        actor: row.try_get(3)?,
        subject: row.try_get(4)?,
        ip: row.try_get(5)?,
        detail: row.try_get(6)?,
    })
}

/// Records an audit event and waits until it is committed.
async fn audit(db: &PgStore, event: AuditEvent) -> Result<(), PgError> {
    let client = db.conn().await?;
    let kind = append(&**client, &event).await?;
    counted(&kind);
    Ok(())
}

/// Events at or after `since` (Unix seconds), oldest first; at most `limit`, the
/// newest ones when there are more.
async fn audit_events(db: &PgStore, since: u64, limit: usize) -> Result<Vec<AuditEvent>, PgError> {
    let client = db.conn().await?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            "SELECT seq, at, kind, actor, subject, ip, detail FROM audit
              WHERE at >= $1 ORDER BY seq DESC LIMIT $2",
            &[&i64::try_from(since).unwrap_or(i64::MAX), &limit],
        )
        .await?;
    let mut out = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    out.reverse();
    Ok(out)
}

/// Removes events older than `before` (Unix seconds), a bounded chunk per
/// statement; returns how many.
async fn sweep_audit(db: &PgStore, before: u64) -> Result<usize, PgError> {
    let client = db.conn().await?;
    let before = i64::try_from(before).unwrap_or(i64::MAX);
    let chunk = i64::try_from(super::sweep::SWEEP_CHUNK).unwrap_or(i64::MAX);
    let mut total = 0;
    loop {
        let n = client
            .execute(
                "DELETE FROM audit WHERE seq IN (
                     SELECT seq FROM audit WHERE at < $1 LIMIT $2)",
                &[&before, &chunk],
            )
            .await?;
        total += usize::try_from(n).unwrap_or(usize::MAX);
        if n < chunk.unsigned_abs() {
            return Ok(total);
        }
    }
}

impl AuditLog for PgStore {
    /// Records an audit event without waiting: this store's writer task writes it
    /// (with whatever else queued meanwhile). Never blocks and never panics; an event
    /// that cannot be written (too many waiting, the database down) is dropped with a
    /// warning, like a full queue on the redb backend.
    fn audit_detached(&self, event: AuditEvent) {
        if let Err(e) = self.shared.audit.tx.try_send(event) {
            let (mpsc::error::TrySendError::Full(event) | mpsc::error::TrySendError::Closed(event)) =
                e;
            tracing::warn!(kind = %event.kind, "audit event dropped: too many waiting");
        }
    }

    /// Records an audit event and waits until it is committed.
    async fn audit(&self, event: AuditEvent) -> Result<(), StoreError> {
        Ok(audit(self, event).await?)
    }

    /// Events at or after `since` (Unix seconds), oldest first; at most `limit`, the
    /// newest ones when there are more.
    async fn audit_events(&self, since: u64, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(audit_events(self, since, limit).await?)
    }

    /// Removes events older than `before` (Unix seconds), a bounded chunk per
    /// statement; returns how many.
    async fn sweep_audit(&self, before: u64) -> Result<usize, StoreError> {
        Ok(sweep_audit(self, before).await?)
    }
}
