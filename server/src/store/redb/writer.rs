//! The single database writer and its group commit.
//!
//! redb allows one write transaction at a time and a durable commit costs an fsync
//! (~220 µs, see `../shared/limits.md`). So every write in the server goes to one
//! thread, which takes whatever has queued up, runs it all in one transaction, commits
//! once with `Durability::Immediate`, and only then answers each caller. Under load a
//! single fsync covers hundreds of requests; when idle a lone write commits at once.
//!
//! A failing operation does not fail its batch: the transaction is rolled back, the
//! failed operations get their own error, and the others run again in a new
//! transaction (operations are re-runnable closures for that reason). What an
//! operation does outside the database (releasing a cache entry, counting an audit
//! event) happens only after its transaction committed. The queue is bounded: when
//! it is full the caller gets [`StoreError::Busy`] at once instead of queueing
//! without limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};

use redb::Database;
use tokio::sync::oneshot;

use super::AuditKind;
use super::{StoreError, Tx};

/// Most operations one transaction carries; bounds a batch's latency.
const MAX_BATCH: usize = 512;

/// Most operations waiting for the writer; beyond it callers get `Busy`. Several
/// batches' worth, so bursts queue but a stalled disk can't grow memory unbounded.
pub(super) const QUEUE_BOUND: usize = 16 * MAX_BATCH;

/// One queued operation, type-erased for the writer thread.
trait Job: Send {
    /// Runs in `tx`; keeps its own result. Returns whether it succeeded.
    fn run(&mut self, tx: &Tx<'_>) -> bool;
    /// Answers the caller: with its kept result if `commit` is `Ok`, else with the
    /// commit error.
    fn finish(self: Box<Self>, commit: Result<(), Arc<redb::CommitError>>);
}

/// A typed operation, its last result and its caller.
struct Op<T, F, A> {
    op: F,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
    after: A,
}

impl<T, F, A> Job for Op<T, F, A>
where
    T: Send + 'static,
    F: FnMut(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    A: FnOnce(bool) + Send + 'static,
{
    fn run(&mut self, tx: &Tx<'_>) -> bool {
        let result = (self.op)(tx);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), Arc<redb::CommitError>>) {
        let answer = match (self.result, commit) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (Some(Ok(_)), Err(e)) => Err(StoreError::Commit(e)),
            (None, _) => Err(StoreError::WriterGone),
        };
        (self.after)(answer.is_ok());
        let _ = self.reply.send(answer);
    }
}

/// Handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: SyncSender<Box<dyn Job>>,
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

/// Statistics of one committed batch, for metrics and tests (the store records
/// no metrics itself: the caller of `RedbStore::open` does, from these).
#[derive(Clone, Debug, Default)]
pub struct BatchStats {
    /// Number of operations in the batch.
    pub size: usize,
    /// Time from `begin_write` to durable commit.
    pub commit_micros: u64,
    /// Kinds of the audit events the batch made durable.
    pub audited: Vec<AuditKind>,
}

impl Writer {
    /// Starts the writer thread. It stops when every `Writer` handle is dropped,
    /// after finishing what was queued.
    pub fn start(db: Arc<Database>, on_batch: impl Fn(BatchStats) + Send + 'static) -> Self {
        let (jobs, rx) = std::sync::mpsc::sync_channel::<Box<dyn Job>>(QUEUE_BOUND);
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
    /// the transaction is durable. `op` may run more than once (when another
    /// operation of its batch fails, the survivors run again in a new transaction),
    /// so it must not consume what it captures.
    pub async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_then(op, |_| {}).await
    }

    /// Like [`Writer::write`], and runs `after(committed)` on the writer thread
    /// once the batch has committed (or this operation failed), before anyone is
    /// answered: for in-memory effects of what `op` wrote (clearing a cache,
    /// releasing a claim), so they happen exactly after the write became visible,
    /// even if the caller stops waiting.
    pub fn write_then<T, F, A>(
        &self,
        op: F,
        after: A,
    ) -> impl Future<Output = Result<T, StoreError>> + use<T, F, A>
    where
        T: Send + 'static,
        F: FnMut(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
        A: FnOnce(bool) + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let queued = self.submit(op, tx, after);
        async move {
            queued?;
            rx.await.map_err(|_| StoreError::WriterGone)?
        }
    }

    /// Queues `op` for the next batch; its result is sent to `tx` once durable (a
    /// caller that doesn't wait may drop the receiver: fire-and-forget audit events),
    /// right after `after` has run. A full queue is [`StoreError::Busy`].
    pub(super) fn submit<T, F, A>(
        &self,
        op: F,
        reply: oneshot::Sender<Result<T, StoreError>>,
        after: A,
    ) -> Result<(), StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
        A: FnOnce(bool) + Send + 'static,
    {
        let job: Box<dyn Job> = Box::new(Op {
            op,
            result: None,
            reply,
            after,
        });
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => StoreError::Busy,
            TrySendError::Disconnected(_) => StoreError::WriterGone,
        })
    }
}

fn run(db: &Database, rx: &Receiver<Box<dyn Job>>, on_batch: &dyn Fn(BatchStats)) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        commit_isolated(db, batch, on_batch);
    }
}

/// Runs `jobs` in one transaction and commits; if some fail, rolls back, answers
/// those, and runs the rest again in a new transaction, until a transaction holds
/// only operations that succeeded.
fn commit_isolated(db: &Database, mut jobs: Vec<Box<dyn Job>>, on_batch: &dyn Fn(BatchStats)) {
    while !jobs.is_empty() {
        let started = std::time::Instant::now();
        let txn = match db.begin_write() {
            Ok(txn) => txn,
            Err(e) => {
                tracing::error!("cannot begin a write transaction: {e}");
                // Dropping the jobs drops their reply channels: callers see WriterGone.
                return;
            }
        };
        let mut ok = Vec::with_capacity(jobs.len());
        let mut failed = Vec::new();
        let mut audited = Vec::new();
        for mut job in jobs {
            let tx = Tx::new(&txn);
            if job.run(&tx) {
                audited.extend(tx.into_audited());
                ok.push(job);
            } else {
                failed.push(job);
            }
        }
        if !failed.is_empty() {
            let _ = txn.abort();
            tracing::warn!(
                failed = failed.len(),
                rerun = ok.len(),
                "write batch rolled back; running the other operations again"
            );
            for job in failed {
                // Its own error, kept by `run`; the commit result is not used.
                job.finish(Ok(()));
            }
            jobs = ok;
            continue;
        }
        let outcome = txn.commit().map_err(Arc::new);
        if let Err(e) = &outcome {
            tracing::error!("write batch of {} failed to commit: {e}", ok.len());
            audited.clear();
        }
        on_batch(BatchStats {
            size: ok.len(),
            commit_micros: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            audited,
        });
        for job in ok {
            job.finish(outcome.clone());
        }
        return;
    }
}
