//! Guess, login and device-authorization counters shared by every instance, in the
//! UNLOGGED `rate_counters` table (as poll pacing, `super::pacing`): ten wrong user
//! codes spread over instances A and B are throttled as ten on one.
//!
//! Each change is one atomic statement (an upsert), so concurrent hits on several
//! instances are all counted; reads are one `SELECT` and judged in Rust by the same
//! pure functions as the in-memory counters (`crate::throttle`), so the rules live
//! in one place. The semantics are those of the in-memory counters exactly (fixed
//! windows for [`crate::throttle::Throttle`], the exponential backoff of
//! [`crate::throttle::Backoff`]), so a deployment behaves the same on one instance
//! or many. A PostgreSQL crash or restart empties the table (UNLOGGED): every
//! counter starts over, as a restart of a single instance does.
//!
//! Row semantics, per `scope` ([`crate::limits::Scope`]): `key` the throttled
//! source, `window_start` (Unix ms) the window's start for a fixed window, the last
//! failure for a backoff; `count` the attempts in that window / the failures;
//! `expires_at` (Unix ms) the time after which the row no longer matters (window
//! over, backoff forgotten) and may be deleted.

use std::time::Duration;

use tokio_postgres::types::ToSql;

use super::{PgError, PgStore, to_i64};

/// A counter row: its `window_start` (Unix ms) and `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counter {
    /// Window start or last failure, Unix ms.
    pub start_ms: u64,
    /// Attempts or failures.
    pub count: u32,
}

/// Counter reads as a batch (`super::batch`): a read is a scope and a key; reads
/// never conflict, so any may share a batch.
pub(super) struct CounterReads;

/// [`CounterReads`]' statement: `$1` the scopes, `$2` the keys.
const READ_SQL: &str = "SELECT q.n, c.window_start, c.count
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(scope, key, n)
       CROSS JOIN LATERAL (
            SELECT window_start, count FROM rate_counters c
             WHERE c.scope = q.scope AND c.key = q.key LIMIT 1) c";

impl super::batch::Batch for CounterReads {
    type Item = (String, String);
    type Key = ();
    const IN_FLIGHT: usize = 2;

    fn key(_: &Self::Item) -> Option<()> {
        None
    }

    fn run<'a>(
        client: &'a deadpool_postgres::Client,
        items: &'a [Self::Item],
    ) -> std::pin::Pin<
        Box<dyn Future<Output = Result<Vec<tokio_postgres::Row>, PgError>> + Send + 'a>,
    > {
        Box::pin(async move {
            let scopes: Vec<&str> = items.iter().map(|(s, _)| s.as_str()).collect();
            let keys: Vec<&str> = items.iter().map(|(_, k)| k.as_str()).collect();
            let stmt = client.prepare_cached(READ_SQL).await?;
            Ok(client.query(&stmt, &[&scopes, &keys]).await?)
        })
    }
}

fn ms(d: Duration, what: &'static str) -> Result<i64, PgError> {
    i64::try_from(d.as_millis()).map_err(|_| PgError::OutOfRange(what))
}

impl PgStore {
    /// The counter of `key` in `scope`, if any: one statement with whatever other
    /// reads are waiting ([`CounterReads`]).
    pub async fn rate_counter(&self, scope: &str, key: &str) -> Result<Option<Counter>, PgError> {
        let row = self
            .shared
            .counters
            .run((scope.to_string(), key.to_string()))
            .await?;
        row.map(|r| {
            Ok(Counter {
                start_ms: u64::try_from(r.try_get::<_, i64>("window_start")?).unwrap_or(0),
                count: u32::try_from(r.try_get::<_, i32>("count")?).unwrap_or(0),
            })
        })
        .transpose()
    }

    /// Counts one attempt by `key` at `now_ms` in a fixed window of `window`: the
    /// count grows within the window, and a hit after it starts a new one.
    pub async fn rate_hit(
        &self,
        scope: &str,
        key: &str,
        window: Duration,
        now_ms: u64,
    ) -> Result<(), PgError> {
        self.restart_after(scope, key, window, now_ms, false).await
    }

    /// Counts one failure by `key` at `now_ms` for a backoff forgotten after
    /// `forget`: the failure time moves to now, and the count grows unless the last
    /// failure is older than `forget`.
    pub async fn rate_fail(
        &self,
        scope: &str,
        key: &str,
        forget: Duration,
        now_ms: u64,
    ) -> Result<(), PgError> {
        self.restart_after(scope, key, forget, now_ms, true).await
    }

    /// The one upsert of [`Self::rate_hit`] and [`Self::rate_fail`]: `count + 1`
    /// while `now` is within `span` of `window_start`, else a fresh row; the start
    /// moves to now on every hit when `slide` (backoff), only on a fresh row when not
    /// (fixed window).
    async fn restart_after(
        &self,
        scope: &str,
        key: &str,
        span: Duration,
        now_ms: u64,
        slide: bool,
    ) -> Result<(), PgError> {
        let client = self.conn().await?;
        let now = to_i64(now_ms, "counter time")?;
        let span = ms(span, "counter window")?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO rate_counters AS c (scope, key, window_start, count, expires_at)
                 VALUES ($1, $2, $3::bigint, 1, $3::bigint + $4::bigint)
                 ON CONFLICT (scope, key) DO UPDATE SET
                     count = CASE WHEN $3 - c.window_start < $4
                                  THEN LEAST(c.count, 2147483646) + 1 ELSE 1 END,
                     window_start = CASE WHEN $5 OR $3 - c.window_start >= $4
                                         THEN $3 ELSE c.window_start END,
                     expires_at = CASE WHEN $5 OR $3 - c.window_start >= $4
                                       THEN $3 ELSE c.window_start END + $4",
            )
            .await?;
        let params: [&(dyn ToSql + Sync); 5] = [&scope, &key, &now, &span, &slide];
        client.execute(&stmt, &params).await?;
        Ok(())
    }

    /// Check-and-count in one step for a backoff (`crate::throttle::Backoff::reserve`
    /// across instances): if `key` must still wait at `now_ms`, the row is left as it
    /// is and the wait is returned; else one failure is counted now. `waits[i]` is the
    /// wait after `i` failures (`Backoff::waits`), the last entry the cap.
    pub async fn rate_reserve(
        &self,
        scope: &str,
        key: &str,
        waits: &[Duration],
        forget: Duration,
        now_ms: u64,
    ) -> Result<Result<(), Duration>, PgError> {
        let client = self.conn().await?;
        let now = to_i64(now_ms, "counter time")?;
        let forget = ms(forget, "backoff forget")?;
        let waits = waits
            .iter()
            .map(|w| ms(*w, "backoff wait"))
            .collect::<Result<Vec<i64>, _>>()?;
        // Array subscripts start at 1: the wait after n failures is $4[n + 1], the
        // last entry past the end.
        let stmt = client
            .prepare_cached(
                "WITH up AS (
                     INSERT INTO rate_counters AS c (scope, key, window_start, count, expires_at)
                     VALUES ($1, $2, $3::bigint, 1, $3::bigint + $5::bigint)
                     ON CONFLICT (scope, key) DO UPDATE SET
                         count = CASE WHEN $3 - c.window_start < $5
                                      THEN LEAST(c.count, 2147483646) + 1 ELSE 1 END,
                         window_start = $3,
                         expires_at = $3 + $5
                     WHERE $3 >= c.window_start + COALESCE(
                         ($4::bigint[])[LEAST(c.count, 2147483646) + 1],
                         ($4::bigint[])[cardinality($4::bigint[])])
                     RETURNING 1
                 )
                 SELECT (SELECT count(*) FROM up),
                        (SELECT window_start + COALESCE(
                                    ($4::bigint[])[LEAST(count, 2147483646) + 1],
                                    ($4::bigint[])[cardinality($4::bigint[])]) - $3
                           FROM rate_counters WHERE scope = $1 AND key = $2)",
            )
            .await?;
        let params: [&(dyn ToSql + Sync); 5] = [&scope, &key, &now, &waits, &forget];
        let row = client.query_one(&stmt, &params).await?;
        if row.try_get::<_, i64>(0)? > 0 {
            return Ok(Ok(()));
        }
        // Refused: the wait as of the statement's snapshot (at least 1 ms).
        let left: Option<i64> = row.try_get(1)?;
        let left = u64::try_from(left.unwrap_or(1)).unwrap_or(1).max(1);
        Ok(Err(Duration::from_millis(left)))
    }

    /// Gives back one counted failure that turned out to be a success.
    pub async fn rate_refund(&self, scope: &str, key: &str) -> Result<(), PgError> {
        let client = self.conn().await?;
        let stmt = client
            .prepare_cached(
                "UPDATE rate_counters SET count = GREATEST(count - 1, 0)
                  WHERE scope = $1 AND key = $2",
            )
            .await?;
        client.execute(&stmt, &[&scope, &key]).await?;
        Ok(())
    }
}
