//! Hot one-row statements grouped into one statement, as the redb writer groups
//! commits: each instance sends one kind of statement (polls: `pacing::POLL_SQL`;
//! counter reads: `rates::READ_SQL`) to PostgreSQL through one task per kind, and
//! those that arrive while a batch is in flight go together in the next one, as ONE
//! statement over arrays, each caller answered from its row.
//!
//! Why: a poll's own work in PostgreSQL is tiny; what it cost was the statement
//! around it (round trip, backend wake-up, executor start, transaction), 77–113 µs
//! of PostgreSQL CPU each. A batch pays that once.
//!
//! - No added latency when idle: the first item is sent at once; the next batch
//!   forms while it runs (a few batches may run at once: [`Batch::IN_FLIGHT`]).
//! - Bounded: at most [`MAX_QUEUED`] items wait (past that the caller fails as
//!   unavailable, the 503 path) and at most [`MAX_BATCH`] go in one statement.
//! - Every lookup in a batch statement is a `LATERAL (… LIMIT 1)` subquery: one
//!   index probe per item whatever the planner guesses of the arrays' length (a
//!   join let it pick hash joins over whole-table scans, ~6 ms per batch at 30,000
//!   rows).
//! - Items with the same [`Batch::key`] never share a batch: for polls, the second
//!   poll of a code would not see the first (and `ON CONFLICT DO UPDATE` cannot
//!   touch a row twice); the later one waits for the next batch and is judged
//!   against the earlier, as when two statements meet on the row lock. The rule
//!   stays in the statement.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::Arc;

use deadpool_postgres::{Client, Pool};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_postgres::Row;

use super::PgError;

/// One kind of batched statement.
pub(crate) trait Batch: Send + 'static {
    /// What one caller asks.
    type Item: Send + 'static;
    /// What two items of one batch must not share.
    type Key: Eq + Hash;
    /// Most batches in flight at once: more than one lets PostgreSQL use several
    /// cores, or overlap one batch's commit (fsync) with the next one's work. Items
    /// of concurrent batches meet on row locks as separate statements would.
    const IN_FLIGHT: usize;
    /// `item`'s key, if it has one (`None`: it may share a batch with anything).
    fn key(item: &Self::Item) -> Option<Self::Key>;
    /// Runs `items` as one statement on `client`: at most one row per item, with
    /// the item's place (from 1) in a `bigint` column `n`.
    fn run<'a>(
        client: &'a Client,
        items: &'a [Self::Item],
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Row>, PgError>> + Send + 'a>>;
}

/// Most items one statement carries.
pub(crate) const MAX_BATCH: usize = 128;

/// Most items waiting for their batch, per queue (about a second of polls at the
/// rates measured; past it the database is not keeping up).
pub(crate) const MAX_QUEUED: usize = 4096;

/// One item's answer: its row, if any.
type Reply = Result<Option<Row>, Arc<PgError>>;

/// One item waiting for its batch, and where its row goes.
struct Waiting<B: Batch> {
    item: B::Item,
    reply: oneshot::Sender<Reply>,
}

/// The queue of one instance's statements of kind `B`; the batching task stops
/// with the last clone of its store (when this is dropped).
pub(crate) struct Queue<B: Batch> {
    tx: mpsc::Sender<Waiting<B>>,
}

impl<B: Batch> Queue<B> {
    /// Starts the batching task on `pool` (needs a tokio runtime).
    pub(crate) fn spawn(pool: Pool) -> Self {
        let (tx, rx) = mpsc::channel(MAX_QUEUED);
        tokio::spawn(drive::<B>(pool, rx));
        Queue { tx }
    }

    /// Queues `item` and waits for its row, if any.
    pub(crate) async fn run(&self, item: B::Item) -> Result<Option<Row>, PgError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .try_send(Waiting { item, reply })
            .map_err(|_| PgError::Busy)?;
        match answer.await {
            Ok(Ok(row)) => Ok(row),
            Ok(Err(e)) => Err(PgError::Batch(e)),
            // The task stopped (only with the store, or by a panic).
            Err(_) => Err(PgError::Busy),
        }
    }
}

/// The batching task: at most [`Batch::IN_FLIGHT`] batches at a time, the next
/// one formed when a slot frees; until every sender is gone.
async fn drive<B: Batch>(pool: Pool, mut rx: mpsc::Receiver<Waiting<B>>) {
    let slots = Arc::new(Semaphore::new(B::IN_FLIGHT));
    let mut held = VecDeque::new();
    loop {
        if held.is_empty() {
            match rx.recv().await {
                Some(poll) => held.push_back(poll),
                None => return,
            }
        }
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let batch = gather::<B>(&mut held, &mut rx);
        let pool = pool.clone();
        tokio::spawn(async move {
            run::<B>(&pool, batch).await;
            drop(slot);
        });
    }
}

/// The next batch: held items first (in arrival order), then whatever has queued,
/// at most [`MAX_BATCH`] looked at; an item whose key is already in the batch is
/// held for the next one. `held` stays below [`MAX_BATCH`] items.
fn gather<B: Batch>(
    held: &mut VecDeque<Waiting<B>>,
    rx: &mut mpsc::Receiver<Waiting<B>>,
) -> Vec<Waiting<B>> {
    let mut batch = Vec::new();
    let mut keys = HashSet::new();
    let mut later = VecDeque::new();
    for _ in 0..MAX_BATCH {
        let Some(poll) = held.pop_front().or_else(|| rx.try_recv().ok()) else {
            break;
        };
        if B::key(&poll.item).is_none_or(|k| keys.insert(k)) {
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

/// Runs one batch and answers each item from its row (or with the batch's error).
async fn run<B: Batch>(pool: &Pool, batch: Vec<Waiting<B>>) {
    let (items, replies): (Vec<_>, Vec<_>) = batch.into_iter().map(|w| (w.item, w.reply)).unzip();
    let rows = match pool.get().await {
        Ok(client) => B::run(&client, &items).await,
        Err(e) => Err(PgError::from(e)),
    };
    let rows = rows.and_then(|rows| place(rows, replies.len()));
    match rows {
        Ok(rows) => {
            for (reply, row) in replies.into_iter().zip(rows) {
                // A caller that gave up (its request was cancelled) needs no answer.
                let _ = reply.send(Ok(row));
            }
        }
        Err(e) => {
            let e = Arc::new(e);
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

/// The rows of a batch of `len` items in the items' order (`None`: no row).
fn place(rows: Vec<Row>, len: usize) -> Result<Vec<Option<Row>>, PgError> {
    let mut placed: Vec<Option<Row>> = (0..len).map(|_| None).collect();
    for row in rows {
        let n: i64 = row.try_get("n")?;
        let slot = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| placed.get_mut(i))
            .ok_or(PgError::OutOfRange("batch row number"))?;
        *slot = Some(row);
    }
    Ok(placed)
}
