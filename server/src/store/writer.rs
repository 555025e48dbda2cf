//! The single database writer and its group commit.
//!
//! redb allows one write transaction at a time and a durable commit costs an fsync
//! (~220 µs, see `../shared/limits.md`). So every write in the server goes to one
//! thread, which takes whatever has queued up, runs it all in one transaction, commits
//! once with `Durability::Immediate`, and only then answers each caller. Under load a
//! single fsync covers hundreds of requests; when idle a lone write commits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};

use redb::{Database, WriteTransaction};
use tokio::sync::oneshot;

use super::StoreError;

/// Most operations one transaction carries; bounds a batch's latency.
const MAX_BATCH: usize = 512;

/// What an operation asks of the writer once its batch has committed (or failed).
type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;
/// An operation: runs inside the shared transaction, returns whether it succeeded and
/// how to answer its caller.
type Job = Box<dyn FnOnce(&WriteTransaction) -> (bool, Reply) + Send>;

/// Handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: Sender<Job>,
    /// Set by the writer thread while it runs; cleared when it ends for any reason
    /// (a panic included), so `/health` can tell a server that can no longer write.
    alive: Arc<AtomicBool>,
}

/// Clears the liveness flag when the writer thread's loop ends, by return or by
/// unwinding.
struct AliveGuard(Arc<AtomicBool>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// Statistics of one committed batch, for metrics and tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct BatchStats {
    /// Number of operations in the batch.
    pub size: usize,
    /// Time from `begin_write` to durable commit.
    pub commit_micros: u64,
}

impl Writer {
    /// Starts the writer thread. It stops when every `Writer` handle is dropped,
    /// after finishing what was queued.
    pub fn start(db: Arc<Database>, on_batch: impl Fn(BatchStats) + Send + 'static) -> Self {
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let alive = Arc::new(AtomicBool::new(true));
        let guard = AliveGuard(alive.clone());
        std::thread::Builder::new()
            .name("authgate-db-writer".into())
            .spawn(move || {
                let _guard = guard;
                run(&db, &rx, &on_batch);
            })
            .map(|_| ())
            .unwrap_or_else(|e| {
                // The closure (and the guard in it) was dropped: `alive` is false.
                tracing::error!("cannot start the database writer: {e}");
            });
        Writer { jobs, alive }
    }

    /// Whether the writer thread is still running: false once it has stopped or
    /// panicked, when every write would fail with [`StoreError::WriterGone`].
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    /// Runs `op` in the next group-committed transaction and returns its result once
    /// the transaction is durable. If any operation in the batch fails, the whole
    /// transaction is rolled back and every caller in it gets an error, so nothing is
    /// ever acknowledged that is not on disk.
    pub async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.submit(op, tx, || {})?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Like [`Writer::write`], and runs `after` on the writer thread once the batch
    /// has committed (or failed), before anyone is answered: for clearing an
    /// in-memory cache of what `op` wrote, so the cache is cleared exactly after the
    /// write became visible, even if the caller stops waiting.
    pub fn write_then<T, F, A>(
        &self,
        op: F,
        after: A,
    ) -> impl Future<Output = Result<T, StoreError>> + use<T, F, A>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
        A: FnOnce() + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let queued = self.submit(op, tx, after);
        async move {
            queued?;
            rx.await.map_err(|_| StoreError::WriterGone)?
        }
    }

    /// Blocking variant of [`Writer::write`] for startup and offline admin commands.
    pub fn write_blocking<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.submit(op, tx, || {})?;
        rx.blocking_recv().map_err(|_| StoreError::WriterGone)?
    }

    /// Queues `op` for the next batch; its result is sent to `tx` once durable (a
    /// caller that doesn't wait may drop the receiver: fire-and-forget audit events),
    /// right after `after` has run.
    pub(super) fn submit<T, F, A>(
        &self,
        op: F,
        tx: oneshot::Sender<Result<T, StoreError>>,
        after: A,
    ) -> Result<(), StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
        A: FnOnce() + Send + 'static,
    {
        let job: Job = Box::new(move |txn| {
            let result = op(txn);
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit| {
                let answer = match (result, commit) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(reason)) => Err(StoreError::Corrupt {
                        table: "(batch)".into(),
                        reason,
                    }),
                };
                after();
                let _ = tx.send(answer);
            });
            (ok, reply)
        });
        self.jobs.send(job).map_err(|_| StoreError::WriterGone)
    }
}

fn run(db: &Database, rx: &Receiver<Job>, on_batch: &dyn Fn(BatchStats)) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let started = std::time::Instant::now();
        let txn = match db.begin_write() {
            Ok(txn) => txn,
            Err(e) => {
                tracing::error!("cannot begin a write transaction: {e}");
                // Dropping the jobs drops their reply channels: callers see WriterGone.
                continue;
            }
        };
        let mut all_ok = true;
        let replies: Vec<Reply> = batch
            .into_iter()
            .map(|job| {
                let (ok, reply) = job(&txn);
                all_ok &= ok;
                reply
            })
            .collect();
        let outcome = if all_ok {
            txn.commit().map_err(|e| e.to_string())
        } else {
            let _ = txn.abort();
            Err("another operation in the same transaction failed; nothing was written".into())
        };
        if let Err(e) = &outcome {
            tracing::error!("write batch of {} failed: {e}", replies.len());
        }
        on_batch(BatchStats {
            size: replies.len(),
            commit_micros: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        });
        for reply in replies {
            reply(outcome.clone());
        }
    }
}
