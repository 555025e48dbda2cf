//! The polling path's read and pacing, from wherever the deployment keeps them:
//! the store's read plus the in-memory tracker (redb, one instance; exactly as
//! before), or one PostgreSQL statement that reads the request and records the poll
//! in the shared `rate_counters` (many instances; `store::pg::pacing`).
//!
//! The rule is `crate::polls::judge` on both.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::grant::DeviceAuth;
use crate::polls::{Pacing, PollTracker};
use crate::store::StoreError;
use crate::store::pg::PgStore;
use crate::store::prelude::*;

/// Where poll pacing lives, chosen at start with the store.
pub enum Pacer {
    /// In this process, beside the redb store.
    Memory(PollTracker),
    /// In PostgreSQL, shared by every instance (the store is this database).
    Shared(PgStore),
}

/// A poll's pacing, judged when the caller knows the request is pending.
pub enum PollPace<'a> {
    /// Already recorded by the read (PostgreSQL); `None` when the request was not
    /// pending.
    Recorded(Option<Pacing>),
    /// To be recorded in memory now, only if the request is pending.
    Deferred {
        /// The tracker.
        tracker: &'a PollTracker,
        /// The device code's hash.
        code: [u8; 32],
    },
}

impl PollPace<'_> {
    /// This poll judged against the interval (`initial` the first time).
    pub fn judge(self, initial: Duration) -> Pacing {
        match self {
            PollPace::Recorded(p) => p.unwrap_or(Pacing::Ok),
            PollPace::Deferred { tracker, code } => tracker.record(&code, initial, Instant::now()),
        }
    }
}

impl Pacer {
    /// The device authorization with key `id` if `code_hash` matches it, with this
    /// poll's pacing: one PostgreSQL round trip when shared.
    pub async fn poll<S: DeviceRequests>(
        &self,
        store: &S,
        id: &[u8; 16],
        code_hash: &[u8; 32],
    ) -> Result<Option<(DeviceAuth, PollPace<'_>)>, StoreError> {
        match self {
            Pacer::Memory(tracker) => Ok(store.device_auth(id, code_hash).await?.map(|auth| {
                let pace = PollPace::Deferred {
                    tracker,
                    code: *code_hash,
                };
                (auth, pace)
            })),
            Pacer::Shared(pg) => Ok(pg
                .poll_device_auth(id, code_hash, now_ms())
                .await?
                .map(|(auth, pacing)| (auth, PollPace::Recorded(pacing)))),
        }
    }

    /// Forgets a redeemed code (in memory; a shared row expires by itself).
    pub fn forget(&self, code: &[u8; 32]) {
        if let Pacer::Memory(tracker) = self {
            tracker.forget(code);
        }
    }

    /// Drops codes not polled for `idle` (in memory; the sweeper deletes expired
    /// shared rows).
    pub fn prune(&self, now: Instant, idle: Duration) {
        if let Pacer::Memory(tracker) = self {
            tracker.prune(now, idle);
        }
    }
}

/// The wall clock in Unix milliseconds: instances share no monotonic clock.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
