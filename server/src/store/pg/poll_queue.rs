//! Polls grouped into one statement, as the redb writer groups commits: each
//! instance sends its pending polls to PostgreSQL through one task, and the polls
//! that arrive while a batch is in flight go together in the next one, as ONE
//! statement over arrays (`pacing::POLL_SQL`), each caller answered from its row.
//!
//! Why: a poll's own work in PostgreSQL is tiny; what it cost was the statement
//! around it (round trip, backend wake-up, executor start, transaction), 77–113 µs
//! of PostgreSQL CPU each. A batch pays that once.
//!
//! - No added latency when idle: the first poll is sent at once; the next batch
//!   forms while it runs.
//! - Bounded: at most [`MAX_QUEUED`] polls wait (past that a poll fails as
//!   unavailable, the 503 path) and at most [`MAX_BATCH`] go in one statement.
//! - Exact pacing: two polls of one code never share a batch (the second would not
//!   see the first, and `ON CONFLICT DO UPDATE` cannot touch a row twice); the
//!   later one waits for the next batch and is judged against the earlier, as when
//!   two statements meet on the row lock. The rule stays in the statement.
//! - Nothing WAL-logged: the statement reads `device_requests` and upserts the
//!   UNLOGGED `rate_counters`, as one poll did.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Row;

use super::PgError;
use super::pacing::poll_batch;

/// Most polls one statement carries.
pub(crate) const MAX_BATCH: usize = 128;

/// Most polls waiting for their batch, per instance (about a second of polls at
/// the rates measured; past it the database is not keeping up).
pub(crate) const MAX_QUEUED: usize = 4096;

/// One poll's answer: its row, if its request exists.
type Reply = Result<Option<Row>, Arc<PgError>>;

/// One poll waiting for its batch.
struct Poll {
    /// The request key.
    id: [u8; 16],
    /// The presented device code's hash (also the pacing key).
    hash: [u8; 32],
    /// The poll time, Unix ms.
    at: i64,
    /// Where its row goes.
    reply: oneshot::Sender<Reply>,
}

/// The queue of one instance's polls; the batching task stops with the last
/// clone of its store (when this is dropped).
pub(crate) struct PollQueue {
    tx: mpsc::Sender<Poll>,
}

impl PollQueue {
    /// Starts the batching task on `pool` (needs a tokio runtime).
    pub(crate) fn spawn(pool: Pool) -> Self {
        let (tx, rx) = mpsc::channel(MAX_QUEUED);
        tokio::spawn(drive(pool, rx));
        PollQueue { tx }
    }

    /// Queues a poll and waits for its row (see `PgStore::poll_device_auth`).
    pub(crate) async fn poll(
        &self,
        id: [u8; 16],
        hash: [u8; 32],
        at: i64,
    ) -> Result<Option<Row>, PgError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .try_send(Poll {
                id,
                hash,
                at,
                reply,
            })
            .map_err(|_| PgError::Busy)?;
        match answer.await {
            Ok(Ok(row)) => Ok(row),
            Ok(Err(e)) => Err(PgError::Batch(e)),
            // The task stopped (only with the store, or by a panic).
            Err(_) => Err(PgError::Busy),
        }
    }
}

/// The batching task: one batch in flight at a time, until every sender is gone.
async fn drive(pool: Pool, mut rx: mpsc::Receiver<Poll>) {
    let mut held = VecDeque::new();
    loop {
        if held.is_empty() {
            match rx.recv().await {
                Some(poll) => held.push_back(poll),
                None => return,
            }
        }
        let batch = gather(&mut held, &mut rx);
        run(&pool, batch).await;
    }
}

/// The next batch: held polls first (in arrival order), then whatever has queued,
/// at most [`MAX_BATCH`] looked at; a second poll of a code already in the batch
/// is held for the next one. `held` stays below [`MAX_BATCH`] polls.
fn gather(held: &mut VecDeque<Poll>, rx: &mut mpsc::Receiver<Poll>) -> Vec<Poll> {
    let mut batch = Vec::new();
    let mut codes = HashSet::new();
    let mut later = VecDeque::new();
    for _ in 0..MAX_BATCH {
        let Some(poll) = held.pop_front().or_else(|| rx.try_recv().ok()) else {
            break;
        };
        if codes.insert(poll.hash) {
            batch.push(poll);
        } else {
            later.push_back(poll);
        }
    }
    // Held polls not looked at came before everything looked at from the channel,
    // and after those looked at from `held`: arrival order is kept.
    later.extend(held.drain(..));
    *held = later;
    batch
}

/// Runs one batch and answers each poll from its row (or with the batch's error).
async fn run(pool: &Pool, batch: Vec<Poll>) {
    let keys: Vec<_> = batch.iter().map(|p| (p.id, p.hash, p.at)).collect();
    let rows = match pool.get().await {
        Ok(client) => poll_batch(&client, &keys).await,
        Err(e) => Err(PgError::from(e)),
    };
    let rows = rows.and_then(|rows| place(rows, batch.len()));
    match rows {
        Ok(rows) => {
            for (poll, row) in batch.into_iter().zip(rows) {
                // A caller that gave up (its request was cancelled) needs no answer.
                let _ = poll.reply.send(Ok(row));
            }
        }
        Err(e) => {
            let e = Arc::new(e);
            for poll in batch {
                let _ = poll.reply.send(Err(e.clone()));
            }
        }
    }
}

/// The rows of a batch of `len` polls in the polls' order (`None`: no request).
fn place(rows: Vec<Row>, len: usize) -> Result<Vec<Option<Row>>, PgError> {
    let mut placed: Vec<Option<Row>> = (0..len).map(|_| None).collect();
    for row in rows {
        let n: i64 = row.try_get("n")?;
        let slot = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| placed.get_mut(i))
            .ok_or(PgError::OutOfRange("poll number"))?;
        *slot = Some(row);
    }
    Ok(placed)
}
