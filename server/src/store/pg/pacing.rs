//! Poll pacing (RFC 8628 §3.5 `slow_down`) shared by every instance, in the
//! UNLOGGED `rate_counters` table: a device polling instance A, then B, too fast
//! is told to slow down, as it would be by one instance (`crate::polls`).
//!
//! One statement per poll, no WAL for the row (UNLOGGED), no fsync at commit: the
//! cost measured with pgbench on the 2-core test machine was ~18,000 such upserts/s
//! against ~3,700/s for the same upsert on a logged table (fsync=on), and ~40 bytes
//! of WAL per poll (the commit record) against ~200. After a PostgreSQL crash or
//! restart the table comes back empty: every device's next poll counts as a first
//! one, as after a restart of the single-instance server.
//!
//! The rule is `crate::polls::judge`; here it is applied inside the statement (the
//! `CASE` of [`PACE`]), because a read in Rust and a write back would take two round
//! trips and a row lock held across them. The tests (`tests_shared`) run the rule's
//! case table `crate::polls::cases::ALL` against this statement. Times are
//! wall-clock milliseconds, since instances share no monotonic clock.
//!
//! Row semantics, scope `poll`: `key` the hex SHA-256 of the device code,
//! `window_start` the last poll (Unix ms), `count` the current interval (s),
//! `expires_at` (Unix ms) the time after which the row may be deleted.
//!
//! [`PgStore::poll_device_auth`] is the whole polling path in one round trip: the
//! request's read and, while it is pending, the pacing update, as one prepared
//! statement cached per connection.

use std::sync::LazyLock;

use authgate_proto::SLOW_DOWN_INCREMENT_SECS;
use tokio_postgres::types::ToSql;

use super::devices::{COLUMNS, from_row};
use super::{PgError, PgStore, to_i64};
use crate::grant::DeviceAuth;
use crate::polls::{Pacing, SLACK};
use crate::secrets::ct_eq;

/// Pacing rows outlive the last poll by this long (the sweeper removes older ones),
/// past any device code's lifetime.
const KEEP_MS: u64 = 3_600_000;

/// The `ON CONFLICT` arm applying `crate::polls::judge` to the row: `$3` is the poll
/// time, `$5` the slack (ms), `$6` the increment (s).
const PACE: &str = "ON CONFLICT (scope, key) DO UPDATE SET
         window_start = EXCLUDED.window_start,
         count = CASE
             WHEN GREATEST(EXCLUDED.window_start - c.window_start, 0) + $5
                  < c.count::bigint * 1000
             THEN c.count + $6 ELSE c.count END,
         expires_at = EXCLUDED.expires_at
     RETURNING c.key, c.count";

/// [`PgStore::record_poll`]'s statement, built once.
static RECORD_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH prev AS (
             SELECT count FROM rate_counters WHERE scope = 'poll' AND key = $1
         ), up AS (
             INSERT INTO rate_counters AS c (scope, key, window_start, count, expires_at)
             VALUES ('poll', $1, $3, $2, $4)
             {PACE}
         )
         SELECT up.count, COALESCE((SELECT count FROM prev), $2) FROM up"
    )
});

/// The polling path's statement ([`PgStore::poll_device_auth`]), built once: a
/// batch of polls (`poll_batch`) in one round trip, one result row per poll whose
/// request exists, numbered `n` (1-based) in the order of the arrays. Per poll: `$1`
/// the request key, `$2` the pacing key, `$3` the poll time, `$7` the presented
/// code's hash; `$4` how long a pacing row is kept (ms), `$5` and `$6` as in
/// [`PACE`]. The pacing keys of one batch must be distinct: `ON CONFLICT DO UPDATE`
/// cannot touch a row twice in one statement, and a second poll of a code must be
/// judged against the first (the batcher defers it to the next batch). Rows are
/// upserted in key order, so two instances' batches sharing codes lock them in one
/// order and never deadlock.
#[doc(hidden)]
pub static POLL_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH q AS (
             SELECT * FROM unnest($1::bytea[], $2::text[], $3::bigint[], $7::bytea[])
                 WITH ORDINALITY AS q(id, key, at, presented, n)
         ), r AS (
             SELECT {COLUMNS}, q.n, q.key, q.at, q.presented
               FROM q CROSS JOIN LATERAL (
                    SELECT * FROM device_requests d WHERE d.id = q.id LIMIT 1) r
         ), prev AS (
             SELECT q.key, p.count
               FROM q CROSS JOIN LATERAL (
                    SELECT c.count FROM rate_counters c
                     WHERE c.scope = 'poll' AND c.key = q.key LIMIT 1) p
         ), up AS (
             INSERT INTO rate_counters AS c (scope, key, window_start, count, expires_at)
             SELECT 'poll', r.key, r.at, r.interval, r.at + $4 FROM r
              WHERE r.status = 'pending' AND r.code_hash = r.presented
              ORDER BY r.key
             {PACE}
         )
         SELECT {COLUMNS}, r.n, up.count AS pace_after,
                COALESCE(prev.count, r.interval) AS pace_before
           FROM r LEFT JOIN up ON up.key = r.key LEFT JOIN prev ON prev.key = r.key"
    )
});

/// The parameters every pacing statement shares: poll time, row expiry, slack and
/// increment, as the database types them.
struct PaceParams {
    now: i64,
    expires: i64,
    slack: i64,
    step: i32,
}

impl PaceParams {
    fn at(now_ms: u64) -> Result<Self, PgError> {
        Ok(PaceParams {
            now: to_i64(now_ms, "poll time")?,
            expires: to_i64(now_ms.saturating_add(KEEP_MS), "poll time")?,
            slack: i64::try_from(SLACK.as_millis())
                .map_err(|_| PgError::OutOfRange("poll slack"))?,
            step: i32::try_from(SLOW_DOWN_INCREMENT_SECS)
                .map_err(|_| PgError::OutOfRange("slow_down increment"))?,
        })
    }
}

/// The judgement from the interval before and after the poll: the interval only
/// grows on a too-early poll, so it grew here iff it is now larger than it was in
/// the statement's snapshot (or than the initial one, when the row is new). Of two
/// concurrent polls, the one that waited for the other's row lock is judged against
/// the other's poll time, so it is too early and did raise the interval.
fn pacing(after: i32, before: i32) -> Pacing {
    if after > before {
        Pacing::SlowDown(u64::try_from(after).unwrap_or(0))
    } else {
        Pacing::Ok
    }
}

impl PgStore {
    /// Records a poll of the device code keyed `code` at `now_ms` (Unix
    /// milliseconds) and judges it against the interval (`initial_secs` the first
    /// time), atomically across instances.
    pub async fn record_poll(
        &self,
        code: &[u8; 32],
        initial_secs: u32,
        now_ms: u64,
    ) -> Result<Pacing, PgError> {
        let client = self.conn().await?;
        let key = hex(code);
        let p = PaceParams::at(now_ms)?;
        let initial = i32::try_from(initial_secs).map_err(|_| PgError::OutOfRange("interval"))?;
        let stmt = client.prepare_cached(&RECORD_SQL).await?;
        let params: [&(dyn ToSql + Sync); 6] =
            [&key, &initial, &p.now, &p.expires, &p.slack, &p.step];
        let row = client.query_one(&stmt, &params).await?;
        Ok(pacing(row.try_get(0)?, row.try_get(1)?))
    }

    /// The polling path in one round trip: the device authorization with key `id` if
    /// `code_hash` (of the presented device code) matches it, and, when it is still
    /// pending, this poll at `now_ms` recorded and judged (`None`: not pending, no
    /// pacing recorded). The request's own interval is the initial one.
    ///
    /// Polls arriving while another batch is in flight go together in the next
    /// statement (`poll_batch`); a full queue fails as unavailable (503).
    ///
    /// A pending request past its expiry or polled by another client is paced too;
    /// `crate::grant` refuses those polls whatever the pacing says. A wrong device
    /// code for a known key paces nothing (the statement compares the hashes; the
    /// answer is decided by the constant-time comparison here, and a hash compared in
    /// the database reveals nothing of the secret it hashes).
    pub async fn poll_device_auth(
        &self,
        id: &[u8; 16],
        code_hash: &[u8; 32],
        now_ms: u64,
    ) -> Result<Option<(DeviceAuth, Option<Pacing>)>, PgError> {
        let at = to_i64(now_ms, "poll time")?;
        let Some(row) = self.shared.polls.run((*id, *code_hash, at)).await? else {
            return Ok(None);
        };
        let auth = from_row(&row)?;
        if !ct_eq(&auth.code_hash, code_hash) {
            return Ok(None);
        }
        let after: Option<i32> = row.try_get("pace_after")?;
        let before: i32 = row.try_get("pace_before")?;
        Ok(Some((auth, after.map(|a| pacing(a, before)))))
    }
}

/// The polling statement as a batch (`super::batch`): a poll is the request key,
/// the presented code's hash and the poll time; two polls of one code never share
/// a batch, so the later is judged against the earlier.
pub(super) struct Polls;

impl super::batch::Batch for Polls {
    type Item = ([u8; 16], [u8; 32], i64);
    type Key = [u8; 32];
    const IN_FLIGHT: usize = 2;

    fn key(item: &Self::Item) -> Option<[u8; 32]> {
        Some(item.1)
    }

    fn run<'a>(
        client: &'a deadpool_postgres::Client,
        items: &'a [Self::Item],
    ) -> std::pin::Pin<
        Box<dyn Future<Output = Result<Vec<tokio_postgres::Row>, PgError>> + Send + 'a>,
    > {
        Box::pin(poll_batch(client, items))
    }
}

/// Runs one batch of polls ([`POLL_SQL`]) on `client`: the result rows, each
/// numbered by its poll's place (from 1) in `polls`.
async fn poll_batch(
    client: &deadpool_postgres::Client,
    polls: &[([u8; 16], [u8; 32], i64)],
) -> Result<Vec<tokio_postgres::Row>, PgError> {
    let keep = to_i64(KEEP_MS, "pacing row lifetime")?;
    let slack = i64::try_from(SLACK.as_millis()).map_err(|_| PgError::OutOfRange("poll slack"))?;
    let step = i32::try_from(SLOW_DOWN_INCREMENT_SECS)
        .map_err(|_| PgError::OutOfRange("slow_down increment"))?;
    let ids: Vec<&[u8]> = polls.iter().map(|(id, _, _)| id.as_slice()).collect();
    let keys: Vec<String> = polls.iter().map(|(_, hash, _)| hex(hash)).collect();
    let ats: Vec<i64> = polls.iter().map(|(_, _, at)| *at).collect();
    let hashes: Vec<&[u8]> = polls.iter().map(|(_, hash, _)| hash.as_slice()).collect();
    let stmt = client.prepare_cached(&POLL_SQL).await?;
    let params: [&(dyn ToSql + Sync); 7] = [&ids, &keys, &ats, &keep, &slack, &step, &hashes];
    Ok(client.query(&stmt, &params).await?)
}

/// A code key as the table's text key.
fn hex(bytes: &[u8]) -> String {
    crate::secrets::hex(bytes)
}

/// What [`bench_polls`] measures: the polling path's statements alone, with no HTTP.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum BenchOp {
    /// The request's read only (`device_auth`).
    Read,
    /// The read and the pacing update in one statement (`poll_device_auth`).
    Poll,
}

/// Runs `op` from `tasks` concurrent tasks over a pool of `connections` for
/// `duration` against `requests` pending device requests it creates first, and
/// returns the operations completed. For `examples/pg_polls.rs`, the measurement of
/// issue 13's "pending polls" on PostgreSQL without the HTTP server.
#[doc(hidden)]
pub async fn bench_polls(
    url: &str,
    connections: usize,
    tasks: usize,
    requests: u16,
    op: BenchOp,
    duration: std::time::Duration,
) -> Result<u64, crate::store::StoreError> {
    use std::sync::Arc;

    use crate::store::StoreError;
    use crate::store::prelude::*;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    let store = PgStore::connect(url, connections).await?;
    let key = |n: u16| {
        let mut id = [0u8; 16];
        id[..2].copy_from_slice(&n.to_be_bytes());
        let mut hash = [0u8; 32];
        hash[..2].copy_from_slice(&n.to_be_bytes());
        (id, hash)
    };
    let now = crate::clock::now();
    for n in 0..requests {
        let (id, hash) = key(n);
        if store.device_auth(&id, &hash).await?.is_some() {
            continue;
        }
        let auth = DeviceAuth {
            code_hash: hash,
            client_id: "bench".into(),
            scope: "read".into(),
            user_code: format!("B{n:07}"),
            created_at: now,
            expires_at: now + 3600,
            interval: 5,
            status: crate::grant::DeviceStatus::Pending,
            requester_ip: "192.0.2.1".into(),
            user_agent: "bench".into(),
            dpop_jkt: None,
        };
        store.create_device_auth(id, auth).await?;
    }
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (store, done, stop) = (store.clone(), done.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            let mut n = u16::try_from(t).unwrap_or(0);
            while !stop.load(Ordering::Relaxed) {
                n = (n + 1) % requests.max(1);
                let (id, hash) = key(n);
                let found = match op {
                    BenchOp::Read => store.device_auth(&id, &hash).await?.is_some(),
                    BenchOp::Poll => {
                        let ms = u64::try_from(
                            std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .unwrap_or_default()
                                .as_millis(),
                        )
                        .unwrap_or(0);
                        store.poll_device_auth(&id, &hash, ms).await?.is_some()
                    }
                };
                if found {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok::<(), StoreError>(())
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.await
            .map_err(|e| StoreError::from(PgError::Config(e.to_string())))??;
    }
    Ok(done.load(Ordering::Relaxed))
}
