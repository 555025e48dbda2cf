//! The sweep on PostgreSQL: removing what can no longer matter, by one instance at a
//! time, a bounded chunk per statement.
//!
//! Every instance runs the sweeper on its timer. A sweep first takes a session-level
//! advisory lock with `pg_try_advisory_lock`: if another instance holds it (it is
//! sweeping now), this sweep is skipped, not queued; the next tick tries again. Each
//! chunk is its own statement (and transaction), so a sweep never holds row locks
//! for long, and the lock is released at the end (or with the connection, should the
//! instance die mid-sweep).

use super::migrate::MIGRATION_LOCK;
use super::{PgError, PgStore, to_i64};
use crate::store::auth_codes::AUTH_CODE_GRACE_SECS;
use crate::store::devices::DEVICE_CODE_GRACE_SECS;
use crate::store::sweep::SweepStats;
use crate::store::{StoreError, Sweeper};

/// The advisory lock one sweeper at a time holds; distinct from every other lock
/// of ours.
pub const SWEEP_LOCK: i64 = MIGRATION_LOCK + 1;

/// Most rows one statement deletes, so a sweep never holds many row locks at once.
pub(super) const SWEEP_CHUNK: usize = 1024;

/// One kind of row the sweep removes: the statement deleting up to `$2` rows due at
/// `$1`, and the unit of `$1`.
struct Target {
    sql: &'static str,
    millis: bool,
}

/// Device requests an hour past expiry (their user codes go with them, by cascade).
const DEVICE_REQUESTS: Target = Target {
    sql: "DELETE FROM device_requests WHERE id IN (
              SELECT id FROM device_requests WHERE expires_at <= $1 LIMIT $2)",
    millis: false,
};

/// Authorization codes past expiry and their grace (`$1` is already `now - grace`).
const AUTH_CODES: Target = Target {
    sql: "DELETE FROM authorization_codes WHERE id IN (
              SELECT id FROM authorization_codes WHERE expires_at <= $1 LIMIT $2)",
    millis: false,
};

/// Access-token entries past expiry.
const ACCESS_TOKENS: Target = Target {
    sql: "DELETE FROM access_tokens WHERE jti IN (
              SELECT jti FROM access_tokens WHERE expires_at <= $1 LIMIT $2)",
    millis: false,
};

/// Refresh tokens past expiry (superseded ones stay until then, for reuse detection).
const REFRESH_TOKENS: Target = Target {
    sql: "DELETE FROM refresh_tokens WHERE id IN (
              SELECT id FROM refresh_tokens WHERE expires_at <= $1 LIMIT $2)",
    millis: false,
};

/// Dead grants: revoked, or both their refresh expiry and their newest access token
/// passed (as the redb backend's `grants::delete_if_dead`). Their remaining token
/// rows go with them, by cascade.
const GRANTS: Target = Target {
    sql: "DELETE FROM grants WHERE id IN (
              SELECT g.id FROM grants g LEFT JOIN access_tokens a ON a.jti = g.jti
               WHERE g.revoked
                  OR (g.expires_at <= $1 AND COALESCE(a.expires_at, 0) <= $1)
               LIMIT $2)",
    millis: false,
};

/// Sessions past their absolute or idle timeout.
const SESSIONS: Target = Target {
    sql: "DELETE FROM sessions WHERE id IN (
              SELECT id FROM sessions
               WHERE expires_at <= $1 OR last_seen_at + idle_secs <= $1 LIMIT $2)",
    millis: false,
};

/// DPoP proofs whose replay window has passed (`expires_at` in Unix seconds, see
/// `dpop`).
const DPOP_JTIS: Target = Target {
    sql: "DELETE FROM dpop_jtis WHERE key IN (
              SELECT key FROM dpop_jtis WHERE expires_at <= $1 LIMIT $2)",
    millis: false,
};

/// Shared counters: poll pacing and the throttle windows. Every scope keeps
/// `expires_at` in Unix milliseconds (`pacing`, `rates`); past it a row no longer
/// matters.
const COUNTERS: Target = Target {
    sql: "DELETE FROM rate_counters WHERE (scope, key) IN (
              SELECT scope, key FROM rate_counters
               WHERE expires_at <= $1 LIMIT $2)",
    millis: true,
};

/// Deletes every row `target` selects at `at`, a chunk per statement; returns how
/// many.
async fn drain(
    client: &tokio_postgres::Client,
    target: &Target,
    at: i64,
) -> Result<usize, PgError> {
    let chunk = i64::try_from(SWEEP_CHUNK).unwrap_or(i64::MAX);
    let mut total = 0;
    loop {
        let n = client.execute(target.sql, &[&at, &chunk]).await?;
        total += usize::try_from(n).unwrap_or(usize::MAX);
        if n < chunk.unsigned_abs() {
            return Ok(total);
        }
    }
}

/// The sweep proper, under the lock.
async fn sweep_locked(client: &tokio_postgres::Client, now: u64) -> Result<SweepStats, PgError> {
    let secs = to_i64(now, "sweep time")?;
    let millis = to_i64(now.saturating_mul(1000), "sweep time")?;
    let at = |t: &Target| if t.millis { millis } else { secs };
    let grace = secs.saturating_sub(to_i64(DEVICE_CODE_GRACE_SECS, "grace")?);
    let mut stats = SweepStats {
        device_codes: drain(client, &DEVICE_REQUESTS, grace).await?,
        // Grants first: their token rows go with them, by cascade.
        grants: drain(client, &GRANTS, secs).await?,
        ..SweepStats::default()
    };
    let code_grace = secs.saturating_sub(to_i64(AUTH_CODE_GRACE_SECS, "grace")?);
    stats.auth_codes = drain(client, &AUTH_CODES, code_grace).await?;
    stats.access_tokens = drain(client, &ACCESS_TOKENS, secs).await?;
    stats.refresh_tokens = drain(client, &REFRESH_TOKENS, secs).await?;
    stats.sessions = drain(client, &SESSIONS, secs).await?;
    // Ephemeral counters are not in SweepStats: not records anyone could miss.
    drain(client, &COUNTERS, at(&COUNTERS)).await?;
    drain(client, &DPOP_JTIS, at(&DPOP_JTIS)).await?;
    stats.entries = stats.device_codes
        + stats.auth_codes
        + stats.grants
        + stats.access_tokens
        + stats.refresh_tokens
        + stats.sessions;
    Ok(stats)
}

impl PgStore {
    /// Sweeps if no other instance is sweeping: `None` when the sweep lock is held
    /// elsewhere.
    pub async fn try_sweep(&self, now: u64) -> Result<Option<SweepStats>, PgError> {
        let client = self.conn().await?;
        let locked: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&SWEEP_LOCK])
            .await?
            .try_get(0)?;
        if !locked {
            return Ok(None);
        }
        let swept = sweep_locked(&client, now).await;
        let unlocked = client
            .query_one("SELECT pg_advisory_unlock($1)", &[&SWEEP_LOCK])
            .await;
        if unlocked.is_err() {
            // The lock may still be held by this session: close the connection (which
            // releases it) rather than return it to the pool holding the lock.
            drop(deadpool_postgres::Object::take(client));
        }
        swept.map(Some)
    }
}

/// Removes what can no longer matter, unless another instance is sweeping right
/// now (then nothing, and the next tick tries again).
async fn sweep(db: &PgStore, now: u64) -> Result<SweepStats, PgError> {
    Ok(db.try_sweep(now).await?.unwrap_or_default())
}

impl Sweeper for PgStore {
    /// Removes what can no longer matter, unless another instance is sweeping right
    /// now (then nothing, and the next tick tries again).
    async fn sweep(&self, now: u64) -> Result<SweepStats, StoreError> {
        Ok(sweep(self, now).await?)
    }
}
