//! Group commit: one task takes every pending write job, runs each in its own savepoint inside
//! one transaction, commits once, then answers every caller. A job that fails is rolled back to
//! its savepoint without disturbing the others; if the commit fails, every caller hears so.
//! No caller is answered before its data is durable (on SQLite by the log's syncer, see
//! [`wal`]). New orders, and on SQLite changes of existing orders, are written in bulk: one
//! statement per table for all of a batch's.

pub(crate) mod tx;
pub(crate) mod wal;

use crate::orders::{
    AppendJob, NewOrderWrite, StoredOrder, TAKE_SHARD, append_one, append_together, insert_new,
};
use crate::{Result, StoreError};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, TransactionTrait};
use sqlx::SqlitePool;
use sqlx::pool::PoolConnection;
use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;
pub(crate) use tx::{LiteWriter, Tx};
use wal::Wal;

type Output = Box<dyn Any + Send>;
pub(crate) type JobFuture<'a> = Pin<Box<dyn Future<Output = Result<Output>> + Send + 'a>>;
type JobFn = Box<dyn for<'a> FnOnce(Tx<'a>) -> JobFuture<'a> + Send>;

enum Job {
    /// Any write, run in its own savepoint.
    Run {
        run: JobFn,
        reply: oneshot::Sender<Result<Output>>,
    },
    /// Changes of existing orders: on SQLite all of a batch's are applied together (see
    /// `append_together`), elsewhere each in its own savepoint.
    Append {
        changes: Arc<AppendJob>,
        reply: oneshot::Sender<Result<Output>>,
    },
    /// A new order: all of a batch's new orders are stored together with multi-row statements.
    Create {
        item: Box<NewOrderWrite>,
        reply: oneshot::Sender<Result<StoredOrder>>,
    },
}

impl Job {
    /// Tells the caller that the job was not written.
    fn fail(self, e: &StoreError) {
        let e = e.dup();
        match self {
            Job::Run { reply, .. } | Job::Append { reply, .. } => {
                let _ = reply.send(Err(e));
            }
            Job::Create { reply, .. } => {
                let _ = reply.send(Err(e));
            }
        }
    }
}

/// What a caller is told once the batch's fate is known.
enum Answer {
    Run(oneshot::Sender<Result<Output>>, Result<Output>),
    Create(
        oneshot::Sender<Result<StoredOrder>>,
        Box<Result<StoredOrder>>,
    ),
}

impl Answer {
    fn send(self) {
        match self {
            Answer::Run(tx, r) => {
                let _ = tx.send(r);
            }
            Answer::Create(tx, r) => {
                let _ = tx.send(*r);
            }
        }
    }
    fn fail(self, e: &StoreError) {
        match self {
            Answer::Run(tx, _) => {
                let _ = tx.send(Err(e.dup()));
            }
            Answer::Create(tx, _) => {
                let _ = tx.send(Err(e.dup()));
            }
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct WriterStats {
    pub jobs: u64,
    pub commits: u64,
    /// Time the committed batches spent, in microseconds: beginning their transaction
    /// (waiting for the database's write lock), running their statements, committing.
    pub begin_us: u64,
    pub work_us: u64,
    pub commit_us: u64,
    /// Batches that took longer than [`SLOW_BATCH`] from begin to commit.
    pub slow: u64,
    /// SQLite: fsyncs of the log by its syncer (each covers every commit written before it
    /// began) and the time they took, in microseconds.
    pub syncs: u64,
    pub sync_us: u64,
    /// SQLite: checkpoints (the log copied into the database file) the writer made after a
    /// commit, and the microseconds they took.
    pub checkpoints: u64,
    pub checkpoint_us: u64,
}

/// A batch that takes longer is counted and logged with its phases.
pub const SLOW_BATCH: std::time::Duration = std::time::Duration::from_millis(100);

/// A checkpoint (the next batch waited for it) or a sync of the log (the callers of its
/// commits waited for it) that takes longer is logged: both wait for the disk.
const SLOW_DISK: std::time::Duration = std::time::Duration::from_millis(50);

#[derive(Default)]
struct Counters {
    jobs: AtomicU64,
    commits: AtomicU64,
    begin_us: AtomicU64,
    work_us: AtomicU64,
    commit_us: AtomicU64,
    slow: AtomicU64,
    checkpoints: AtomicU64,
    checkpoint_us: AtomicU64,
}

/// When each phase of a batch ended, from its start.
struct Phases {
    start: std::time::Instant,
    begun: std::time::Duration,
    worked: std::time::Duration,
}

/// A duration in whole microseconds, for the counters.
pub(crate) fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Counters {
    /// Counts a checkpoint that took `took`; logs it if it was slow.
    fn checkpointed(&self, took: std::time::Duration) {
        self.checkpoints.fetch_add(1, Ordering::Relaxed);
        self.checkpoint_us
            .fetch_add(micros(took), Ordering::Relaxed);
        if took > SLOW_DISK {
            tracing::warn!(ms = took.as_secs_f64() * 1e3, "slow checkpoint");
        }
    }

    /// Counts a committed batch of `jobs` and its phases; logs it if it was slow.
    fn committed(&self, jobs: u64, p: &Phases) {
        let done = p.start.elapsed();
        let (begin, work, commit) = (p.begun, p.worked - p.begun, done - p.worked);
        self.jobs.fetch_add(jobs, Ordering::Relaxed);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.begin_us.fetch_add(micros(begin), Ordering::Relaxed);
        self.work_us.fetch_add(micros(work), Ordering::Relaxed);
        self.commit_us.fetch_add(micros(commit), Ordering::Relaxed);
        if done > SLOW_BATCH {
            self.slow.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                jobs,
                begin_ms = begin.as_secs_f64() * 1e3,
                work_ms = work.as_secs_f64() * 1e3,
                commit_ms = commit.as_secs_f64() * 1e3,
                "slow group commit"
            );
        }
    }
}

#[derive(Clone)]
pub(crate) struct Handle {
    tx: Arc<RwLock<Option<mpsc::Sender<Job>>>>,
    /// Fires when the writer thread has stopped.
    done: Arc<Mutex<Option<oneshot::Receiver<()>>>>,
    counters: Arc<Counters>,
    /// SQLite: the log's syncer, which answers the callers of each commit.
    wal: Option<Arc<Wal<Answer>>>,
}

/// Where the writers write.
#[derive(Clone)]
pub(crate) enum Target {
    /// PostgreSQL: each batch a transaction on a connection of the pool.
    Sea(DatabaseConnection),
    /// SQLite: the writer's own connection. `pool` is the store's write pool: each batch holds
    /// its one connection while it writes, so that writes outside the queue (administration,
    /// the report generator) wait their turn there instead of meeting SQLite's lock and
    /// polling for it in its busy handler.
    Lite {
        conn: Arc<LiteWriter>,
        pool: SqlitePool,
    },
}

/// Starts the writers; `sqlite` is the SQLite database's file, whose log's syncer answers
/// the callers (see [`wal`]). SQLite has one writer whatever `writers` says.
pub(crate) fn spawn(
    target: Target,
    writers: usize,
    max_batch: usize,
    sqlite: Option<&std::path::Path>,
) -> std::io::Result<Handle> {
    let wal = match sqlite {
        Some(path) => Some(Wal::start(path, Answer::send)?),
        None => None,
    };
    let writers = match target {
        Target::Sea(_) => writers.max(1),
        Target::Lite { .. } => 1,
    };
    // Bounded: when the disk falls behind, callers wait instead of memory growing.
    let (tx, rx) = mpsc::channel::<Job>(max_batch * 8);
    let rx = Arc::new(Mutex::new(rx));
    let counters = Arc::new(Counters::default());
    let loops = {
        let counters = counters.clone();
        let wal = wal.clone();
        move || {
            let handles: Vec<JoinHandle<()>> = (0..writers)
                .map(|_| {
                    tokio::spawn(run(
                        target.clone(),
                        rx.clone(),
                        max_batch.max(1),
                        counters.clone(),
                        wal.clone(),
                    ))
                })
                .collect();
            async move {
                for h in handles {
                    let _ = h.await;
                }
            }
        }
    };
    // The writers get a thread and runtime of their own: on SQLite a batch's statements run
    // on it (see `tx`); on PostgreSQL each waits for the server, and on the shared runtime
    // every such wake-up would queue behind request handling, stretching each batch and so
    // every caller's wait.
    let (done_tx, done_rx) = oneshot::channel::<()>();
    let closing = wal.clone();
    let spawned = std::thread::Builder::new()
        .name("jiesu-writer".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(async move { loops().await }),
                Err(e) => tracing::error!(error = %e, "cannot start the writer runtime"),
            }
            // The last commits' callers are answered once their fsync is done.
            if let Some(w) = closing {
                w.close();
            }
            let _ = done_tx.send(());
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the writer thread");
    }
    Ok(Handle {
        tx: Arc::new(RwLock::new(Some(tx))),
        done: Arc::new(Mutex::new(Some(done_rx))),
        counters,
        wal,
    })
}

/// Times a job that PostgreSQL chose to end a deadlock with is run again.
const DEADLOCK_RETRIES: usize = 5;

impl Handle {
    /// Runs `f` inside the next group commit and returns its result once committed.
    ///
    /// On PostgreSQL several writers' batches may take the same rows' locks in opposite
    /// orders; the job chosen to end the deadlock is rolled back to its savepoint (the rest of
    /// its batch goes on) and runs again in a later batch, so that its caller does not fail for
    /// a race it had no part in.
    pub(crate) async fn submit<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> Fn(Tx<'a>) -> Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>
            + Send
            + Sync
            + 'static,
    {
        let f = Arc::new(f);
        let mut tries = 0;
        loop {
            tries += 1;
            let (reply, rx) = oneshot::channel();
            let g = f.clone();
            let run: JobFn = Box::new(move |txn| {
                let fut = g(txn);
                Box::pin(async move { fut.await.map(|v| Box::new(v) as Output) })
            });
            self.send(Job::Run { run, reply }).await?;
            match rx.await.map_err(|_| StoreError::WriterGone)? {
                Ok(out) => {
                    return out.downcast::<T>().map(|b| *b).map_err(|_| {
                        StoreError::Corrupt("writer returned a value of the wrong type".into())
                    });
                }
                Err(e) if e.deadlocked() && tries <= DEADLOCK_RETRIES => {
                    tracing::debug!(tries, "a write job ended a deadlock; running it again");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Applies order changes in the next group commit; [`StoreError::Concurrent`] if an order
    /// moved on since it was read.
    pub(crate) async fn append(&self, changes: AppendJob) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Append {
            changes: Arc::new(changes),
            reply,
        })
        .await?;
        rx.await.map_err(|_| StoreError::WriterGone)?.map(|_| ())
    }

    /// Stores a new order in the next group commit.
    pub(crate) async fn create(&self, item: NewOrderWrite) -> Result<StoredOrder> {
        let (reply, rx) = oneshot::channel();
        self.send(Job::Create {
            item: Box::new(item),
            reply,
        })
        .await?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    async fn send(&self, job: Job) -> Result<()> {
        let sender = self
            .tx
            .read()
            .map_err(|_| StoreError::WriterGone)?
            .clone()
            .ok_or(StoreError::WriterGone)?;
        sender.send(job).await.map_err(|_| StoreError::WriterGone)
    }

    pub(crate) fn stats(&self) -> WriterStats {
        let c = &self.counters;
        let (syncs, sync_us) = self.wal.as_ref().map_or((0, 0), |w| w.syncs());
        WriterStats {
            jobs: c.jobs.load(Ordering::Relaxed),
            commits: c.commits.load(Ordering::Relaxed),
            begin_us: c.begin_us.load(Ordering::Relaxed),
            work_us: c.work_us.load(Ordering::Relaxed),
            commit_us: c.commit_us.load(Ordering::Relaxed),
            slow: c.slow.load(Ordering::Relaxed),
            syncs,
            sync_us,
            checkpoints: c.checkpoints.load(Ordering::Relaxed),
            checkpoint_us: c.checkpoint_us.load(Ordering::Relaxed),
        }
    }

    /// Waits until every commit that had started when it was called is durable (see
    /// [`Wal::durable`]); at once where commits are durable when made (PostgreSQL).
    pub(crate) async fn durable(&self) -> Result<()> {
        match &self.wal {
            Some(w) => w.durable().await,
            None => Ok(()),
        }
    }

    /// Refuses new jobs, lets the queued ones commit, and waits for the writers to stop.
    pub(crate) async fn close(&self) {
        if let Ok(mut g) = self.tx.write() {
            g.take();
        }
        if let Some(done) = self.done.lock().await.take() {
            let _ = done.await;
        }
    }
}

async fn run(
    target: Target,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    max_batch: usize,
    counters: Arc<Counters>,
    wal: Option<Arc<Wal<Answer>>>,
) {
    let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
    let mut last_batch = 0;
    loop {
        {
            let mut rx = rx.lock().await;
            match rx.recv().await {
                Some(job) => batch.push(job),
                None => return,
            }
            drain(&mut rx, &mut batch, max_batch);
            // Under concurrent load a commit costs about the same for a few orders as for
            // twice as many (it rewrites the same index pages), so when more writers are
            // evidently on their way, linger a moment for them. This thread serves only the
            // writer, so the wait holds up nothing else; an idle system never waits.
            if last_batch > 1 && batch.len() < last_batch {
                std::thread::sleep(LINGER);
                drain(&mut rx, &mut batch, max_batch);
            }
        }
        last_batch = batch.len();
        if let Some(failed) = commit_batch(&target, &mut batch, &counters, wal.as_deref()).await {
            if let Some(e) = failed.locked {
                // The database is locked by another process. The jobs that queued while that
                // batch waited out the busy timeout would each wait it out again for the same
                // answer: they hear it now, and their callers can answer "try again" at once.
                // Only those: the jobs that come while the connection is replaced below (it
                // may wait for the report generator, which writes outside this queue) were
                // sent after the answer and may find the lock gone.
                let mut waiting = Vec::new();
                drain(&mut *rx.lock().await, &mut waiting, usize::MAX);
                if !waiting.is_empty() {
                    tracing::warn!(
                        jobs = waiting.len(),
                        "writes refused: the database is locked"
                    );
                }
                for job in waiting {
                    job.fail(&e);
                }
            }
            replace_connection(&target);
        }
    }
}

/// A batch that failed as a whole: on SQLite its connection is to be replaced (see
/// `abandon`); `locked` is the error when the database answered that it is locked.
struct Failed {
    locked: Option<StoreError>,
}

impl Failed {
    fn by(e: &StoreError) -> Option<Failed> {
        Some(Failed {
            locked: e.locked().then(|| e.dup()),
        })
    }
}

/// How long the writer waits for stragglers of a busy moment.
const LINGER: std::time::Duration = std::time::Duration::from_micros(250);

fn drain(rx: &mut mpsc::Receiver<Job>, batch: &mut Vec<Job>, max_batch: usize) {
    while batch.len() < max_batch {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// A batch's open transaction.
enum Open<'a> {
    Sea(DatabaseTransaction),
    /// The SQLite writer's connection inside BEGIN, and the write pool's connection, held
    /// until the batch ends (see [`Target::Lite`]).
    Lite(&'a LiteWriter, PoolConnection<sqlx::Sqlite>),
}

impl Open<'_> {
    fn tx(&self) -> Tx<'_> {
        match self {
            Open::Sea(t) => Tx::Sea(t),
            Open::Lite(w, _) => Tx::Lite(w),
        }
    }

    async fn commit(self) -> Result<()> {
        match self {
            Open::Sea(t) => Ok(t.commit().await?),
            Open::Lite(w, _held) => w.run("COMMIT"),
        }
    }

    async fn rollback(self) -> Result<()> {
        match self {
            Open::Sea(t) => Ok(t.rollback().await?),
            Open::Lite(w, _held) if w.in_transaction() => w.run("ROLLBACK"),
            Open::Lite(..) => Ok(()),
        }
    }
}

/// Begins a batch's transaction; on PostgreSQL with `shard`, it first takes its aggregate
/// shard.
async fn begin(target: &Target, shard: bool) -> Result<Open<'_>> {
    match target {
        Target::Sea(db) => {
            let txn = db
                .begin()
                .await
                .inspect_err(|e| tracing::error!(error = %e, "cannot begin a write transaction"))?;
            if shard && let Err(e) = take_shard(&txn).await {
                tracing::error!(error = %e, "cannot take an aggregate shard");
                let _ = txn.rollback().await;
                return Err(e.into());
            }
            Ok(Open::Sea(txn))
        }
        Target::Lite { conn, pool } => {
            let held = pool.acquire().await.inspect_err(|e| {
                tracing::error!(error = %e, "cannot take the write connection");
            })?;
            conn.run("BEGIN")
                .inspect_err(|e| tracing::error!(error = %e, "cannot begin a write transaction"))?;
            Ok(Open::Lite(conn, held))
        }
    }
}

type Creating = (NewOrderWrite, oneshot::Sender<Result<StoredOrder>>);
type Running = (JobFn, oneshot::Sender<Result<Output>>);

/// Tells every caller of a batch that nothing of it was written.
fn fail_all(e: &StoreError, creates: Vec<Creating>, runs: Vec<Running>, appends: Vec<Appending>) {
    for (_, reply) in creates {
        let _ = reply.send(Err(e.dup()));
    }
    let replies = runs.into_iter().map(|(_, r)| r);
    for reply in replies.chain(appends.into_iter().map(|(_, r)| r)) {
        let _ = reply.send(Err(e.dup()));
    }
}

/// Commits a batch and answers its callers; [`Failed`] when the batch failed as a whole.
async fn commit_batch(
    target: &Target,
    batch: &mut Vec<Job>,
    counters: &Counters,
    wal: Option<&Wal<Answer>>,
) -> Option<Failed> {
    let mut creates = Vec::new();
    let mut runs = Vec::new();
    let mut appends = Vec::new();
    for job in batch.drain(..) {
        match job {
            Job::Create { item, reply } => creates.push((*item, reply)),
            Job::Run { run, reply } => runs.push((run, reply)),
            Job::Append { changes, reply } => appends.push((changes, reply)),
        }
    }
    let n = (creates.len() + runs.len() + appends.len()) as u64;
    let pg = matches!(target, Target::Sea(_));
    // New orders go first and together, on PostgreSQL only when nothing else is to be done:
    // the day's counter they lock for every node is held until the commit (see below).
    let creates_first = !creates.is_empty() && (!pg || (runs.is_empty() && appends.is_empty()));
    // On PostgreSQL a transaction first takes its aggregate shard: in a statement of its own,
    // or, where new orders go first, in theirs.
    let start = std::time::Instant::now();
    let mut open = match begin(target, pg && !creates_first).await {
        Ok(t) => t,
        Err(e) => {
            fail_all(&e, creates, runs, appends);
            return Failed::by(&e);
        }
    };
    let begun = start.elapsed();
    let mut answers: Vec<Answer> = Vec::with_capacity(n as usize);
    let items: Vec<NewOrderWrite> = creates.iter().map(|(i, _)| i.clone()).collect();
    // Set when the batch is to be abandoned (see `in_savepoint` and `abandon`).
    let mut broken: Option<StoreError> = None;
    if creates_first {
        // New orders go first and together, without a savepoint: nothing else has run yet,
        // so if one of them is bad the whole transaction can be thrown away and redone.
        match insert_new(open.tx(), &items, pg).await {
            Ok(stored) => answer_stored(creates, stored, &mut answers),
            Err(e) => {
                if e.unavailable().is_some() || !still_open(open.tx()) {
                    fail_all(&e, creates, runs, appends);
                    return abandon(open, &e, Vec::new()).await;
                }
                // One bad order (say a duplicate source id) must not fail the others: start
                // again and store them one at a time, each in a savepoint, to find it.
                if let Err(e) = open.rollback().await {
                    fail_all(&e, creates, runs, appends);
                    return Failed::by(&e);
                }
                open = match begin(target, pg).await {
                    Ok(t) => t,
                    Err(e) => {
                        fail_all(&e, creates, runs, appends);
                        return Failed::by(&e);
                    }
                };
                creates_one_by_one(open.tx(), creates, &mut answers, &mut broken).await;
            }
        }
        run_jobs(open.tx(), runs, &mut answers, &mut broken).await;
        run_appends(open.tx(), appends, &mut answers, &mut broken).await;
    } else {
        run_jobs(open.tx(), runs, &mut answers, &mut broken).await;
        run_appends(open.tx(), appends, &mut answers, &mut broken).await;
        // PostgreSQL: new orders after the other jobs, so that the day's counter they lock
        // for every node is held only for the rest of their own statements and the commit.
        if !creates.is_empty() {
            match create_in_savepoint(open.tx(), items, &mut broken).await {
                Ok(stored) => answer_stored(creates, stored, &mut answers),
                Err(_) => creates_one_by_one(open.tx(), creates, &mut answers, &mut broken).await,
            }
        }
    }
    if let Some(e) = broken {
        return abandon(open, &e, answers).await;
    }
    let worked = start.elapsed();
    let seq = wal.map(Wal::starting);
    let committed = open.commit().await;
    let answers = match committed {
        Ok(()) => {
            counters.committed(
                n,
                &Phases {
                    start,
                    begun,
                    worked,
                },
            );
            answers
        }
        Err(ref e) => {
            tracing::error!(error = %e, jobs = n, "group commit failed");
            for a in answers {
                a.fail(e);
            }
            Vec::new()
        }
    };
    match (wal, seq) {
        (Some(w), Some(seq)) => w.written(seq, answers),
        _ => answers.into_iter().for_each(Answer::send),
    }
    if committed.is_ok() {
        checkpoint(target, counters);
    }
    committed.err().and_then(|e| Failed::by(&e))
}

/// SQLite: the checkpoint the last commit made due, once its callers are in the syncer's
/// hands (see [`LiteWriter::checkpoint`]). One that fails is made again after the next
/// commit; the log keeps every commit meanwhile.
fn checkpoint(target: &Target, counters: &Counters) {
    let Target::Lite { conn, .. } = target else {
        return;
    };
    let t = std::time::Instant::now();
    match conn.checkpoint() {
        Ok(false) => {}
        Ok(true) => counters.checkpointed(t.elapsed()),
        Err(e) => {
            tracing::warn!(error = %e, "checkpoint failed; tried again after the next commit")
        }
    }
}

/// Whether `tx`'s transaction is still open: SQLite rolls a transaction back by itself on
/// some errors (see [`LiteWriter::in_transaction`]); sea-orm's transactions are taken to be.
fn still_open(tx: Tx<'_>) -> bool {
    match tx {
        Tx::Sea(_) => true,
        Tx::Lite(w) => w.in_transaction(),
    }
}

/// Gives up a batch that met a condition of the machine (disk full, database locked or
/// read-only) or whose savepoints could not be taken, released or rolled back: every caller
/// hears the error, nothing is committed, and on SQLite the connection is then replaced (by
/// `run`), so that the next batch starts from a known state (closing a connection rolls back
/// whatever it still had open).
async fn abandon(open: Open<'_>, e: &StoreError, answers: Vec<Answer>) -> Option<Failed> {
    tracing::error!(error = %e, jobs = answers.len(), "group commit abandoned");
    for a in answers {
        a.fail(e);
    }
    let _ = open.rollback().await;
    Failed::by(e)
}

/// SQLite: closes the writer's connection, so that the next batch opens a fresh one (see
/// `abandon`). PostgreSQL keeps its transaction state straight by itself.
fn replace_connection(target: &Target) {
    if let Target::Lite { conn, .. } = target {
        conn.reset();
        tracing::warn!("write connection replaced after a failed group commit");
    }
}

/// Runs `f` in a savepoint of `tx`: released if `f` succeeds, rolled back if it fails.
/// `broken` is set, and the batch is abandoned, when a savepoint could not be taken, released
/// or rolled back, when SQLite ended the transaction by itself (its state is then unknown) or
/// when `f` met a condition of the machine (see `StoreError::unavailable`). Once it is set,
/// the batch's later jobs are not run: on SQLite a job's first write statement takes the
/// write lock, so with the database locked by another process each would wait out the busy
/// timeout again for the same answer.
async fn in_savepoint<T>(
    tx: Tx<'_>,
    broken: &mut Option<StoreError>,
    f: impl for<'a> FnOnce(Tx<'a>) -> Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>,
) -> Result<T> {
    if let Some(e) = broken {
        return Err(e.dup());
    }
    let mark = |broken: &mut Option<StoreError>, e: &StoreError| {
        broken.get_or_insert_with(|| e.dup());
    };
    let r = match tx {
        Tx::Sea(txn) => {
            let sp = txn
                .begin()
                .await
                .map_err(StoreError::from)
                .inspect_err(|e| {
                    mark(broken, e);
                })?;
            match f(Tx::Sea(&sp)).await {
                Ok(v) => {
                    sp.commit()
                        .await
                        .map_err(StoreError::from)
                        .inspect_err(|e| {
                            mark(broken, e);
                        })?;
                    Ok(v)
                }
                Err(e) => {
                    if let Err(re) = sp.rollback().await {
                        mark(broken, &re.into());
                    }
                    Err(e)
                }
            }
        }
        Tx::Lite(w) => {
            w.run("SAVEPOINT job").inspect_err(|e| mark(broken, e))?;
            match f(tx).await {
                Ok(v) => {
                    w.run("RELEASE job").inspect_err(|e| mark(broken, e))?;
                    Ok(v)
                }
                Err(e) => {
                    if !still_open(tx) {
                        mark(broken, &e);
                    } else if let Err(re) =
                        w.run("ROLLBACK TO job").and_then(|()| w.run("RELEASE job"))
                    {
                        mark(broken, &re);
                    }
                    Err(e)
                }
            }
        }
    };
    if let Err(e) = &r
        && e.unavailable().is_some()
    {
        mark(broken, e);
    }
    r
}

/// Runs each job in a savepoint of its own.
async fn run_jobs(
    tx: Tx<'_>,
    runs: Vec<Running>,
    answers: &mut Vec<Answer>,
    broken: &mut Option<StoreError>,
) {
    for (run, reply) in runs {
        let r = in_savepoint(tx, broken, run).await;
        answers.push(Answer::Run(reply, r));
    }
}

type Appending = (Arc<AppendJob>, oneshot::Sender<Result<Output>>);

/// Applies the batch's order changes. SQLite: all together in one savepoint; if that fails
/// for one caller's statements, one caller a savepoint, to fail that caller alone — as
/// PostgreSQL always does.
async fn run_appends(
    tx: Tx<'_>,
    appends: Vec<Appending>,
    answers: &mut Vec<Answer>,
    broken: &mut Option<StoreError>,
) {
    let done = |r: Result<()>| r.map(|()| Box::new(()) as Output);
    if tx.backend() == sea_orm::DbBackend::Sqlite && appends.len() > 1 {
        let jobs: Vec<_> = appends.iter().map(|(c, _)| c.clone()).collect();
        match in_savepoint(tx, broken, move |sp| {
            Box::pin(async move { append_together(sp, &jobs).await })
        })
        .await
        {
            Ok(results) => {
                for ((_, reply), r) in appends.into_iter().zip(results) {
                    answers.push(Answer::Run(reply, done(r)));
                }
                return;
            }
            Err(e) if broken.is_some() || e.unavailable().is_some() => {
                // The batch is abandoned: every caller hears this error.
                for (_, reply) in appends {
                    answers.push(Answer::Run(reply, Err(e.dup())));
                }
                return;
            }
            Err(e) => tracing::debug!(error = %e, "order changes retried one caller at a time"),
        }
    }
    for (changes, reply) in appends {
        let r = in_savepoint(tx, broken, move |sp| {
            Box::pin(async move { append_one(sp, &changes).await })
        })
        .await
        // PostgreSQL: several writers' batches may lock the same orders in opposite orders;
        // the change chosen to end the deadlock is rolled back to its savepoint and told, like
        // any change that lost a race, to decide again on fresh state.
        .map_err(|e| {
            if e.deadlocked() {
                StoreError::Concurrent
            } else {
                e
            }
        });
        answers.push(Answer::Run(reply, done(r)));
    }
}

/// Answers each caller of a batch of new orders with its stored order.
fn answer_stored(creates: Vec<Creating>, stored: Vec<StoredOrder>, answers: &mut Vec<Answer>) {
    for ((_, reply), s) in creates.into_iter().zip(stored) {
        answers.push(Answer::Create(reply, Box::new(Ok(s))));
    }
}

/// Stores new orders one at a time, each in a savepoint, so that a bad one fails alone.
async fn creates_one_by_one(
    tx: Tx<'_>,
    creates: Vec<Creating>,
    answers: &mut Vec<Answer>,
    broken: &mut Option<StoreError>,
) {
    for (item, reply) in creates {
        let r = create_in_savepoint(tx, vec![item], broken)
            .await
            .and_then(|mut v| v.pop().ok_or(StoreError::NotFound));
        answers.push(Answer::Create(reply, Box::new(r)));
    }
}

/// PostgreSQL: gives the transaction an aggregate shard (`orders::SHARD`) that no concurrent
/// transaction of any node has: the first of 64 transaction-scoped advisory locks that is
/// free. The aggregate rows a transaction moves are then its own until it commits, so writers
/// never wait for one another there (nor deadlock); readers add the shards up.
async fn take_shard(txn: &DatabaseTransaction) -> std::result::Result<(), sea_orm::DbErr> {
    txn.execute_unprepared(&format!("SELECT {TAKE_SHARD}"))
        .await
        .map(|_| ())
}

/// Stores new orders in a savepoint of `tx`, rolling back to it on error.
async fn create_in_savepoint(
    tx: Tx<'_>,
    items: Vec<NewOrderWrite>,
    broken: &mut Option<StoreError>,
) -> Result<Vec<StoredOrder>> {
    in_savepoint(tx, broken, move |sp| {
        Box::pin(async move { insert_new(sp, &items, false).await })
    })
    .await
}

#[cfg(test)]
mod tests {
    use crate::orders::tests::sqlite_store_with;
    use crate::{StoreOptions, Unavailable};
    use sqlx::Connection;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Another process's connection holding the write lock of the test database in `dir`.
    async fn lock(dir: &std::path::Path) -> sqlx::SqliteConnection {
        let url = format!("sqlite://{}", dir.join("t.db").display());
        let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .unwrap();
        other
    }

    /// Starts a write (`spawn`) until one is running — its job has started, so its batch holds
    /// the write connection against the lock — and returns the count of jobs run before it and
    /// its task. Under load a batch on a freshly replaced connection can fail before its job
    /// starts (the connection's own set-up meets the lock): that write heard "busy" and is
    /// started again.
    async fn running(
        spawn: impl Fn() -> tokio::task::JoinHandle<crate::Result<()>>,
        ran: &AtomicUsize,
    ) -> (usize, tokio::task::JoinHandle<crate::Result<()>>) {
        loop {
            let before = ran.load(Ordering::SeqCst);
            let task = spawn();
            while ran.load(Ordering::SeqCst) == before && !task.is_finished() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if ran.load(Ordering::SeqCst) != before {
                return (before, task);
            }
            let e = task
                .await
                .unwrap()
                .expect_err("finished without its job running, so not stored");
            assert_eq!(e.unavailable(), Some(Unavailable::Busy), "{e}");
        }
    }

    /// With the database locked by another process, a batch of several jobs fails once, after
    /// one busy timeout: the jobs after the first that met the lock are not run (each would
    /// wait out the timeout again), nor those that queued meanwhile; every caller hears
    /// "busy", and nothing is written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_locked_database_fails_a_batch_once_not_once_per_job() {
        let opts = StoreOptions {
            sqlite_busy_timeout: Duration::from_millis(500),
            ..StoreOptions::default()
        };
        let (dir, store) = sqlite_store_with(&opts).await;
        let ran = Arc::new(AtomicUsize::new(0));
        let write = |store: &crate::Store, ran: &Arc<AtomicUsize>| {
            let ran = ran.clone();
            let writer = store.writer.clone();
            async move {
                writer
                    .submit(move |txn| {
                        ran.fetch_add(1, Ordering::SeqCst);
                        Box::pin(async move {
                            txn.execute_unprepared("INSERT INTO scratch VALUES (1)")
                                .await?;
                            Ok(())
                        })
                    })
                    .await
            }
        };
        store
            .writer
            .submit(|txn| {
                Box::pin(async move {
                    txn.execute_unprepared("CREATE TABLE scratch (x INTEGER)")
                        .await?;
                    Ok(())
                })
            })
            .await
            .unwrap();

        let mut other = lock(dir.path()).await;
        const JOBS: usize = 8;
        let mut jobs = tokio::task::JoinSet::new();
        for _ in 0..JOBS {
            jobs.spawn(write(&store, &ran));
        }
        let results = jobs.join_all().await;
        for r in &results {
            let e = r
                .as_ref()
                .expect_err("written while another process held the lock");
            assert_eq!(e.unavailable(), Some(Unavailable::Busy), "{e}");
        }
        // The jobs were sent together while the first batch waited: at most two batches,
        // each stopped at its first job.
        let tried = ran.load(Ordering::SeqCst);
        assert!(
            (1..=2).contains(&tried),
            "{tried} of {JOBS} jobs ran against the lock"
        );

        // The connection was replaced after the failed batch; the new one meets the lock too.
        let e = write(&store, &ran)
            .await
            .expect_err("written through the lock");
        assert_eq!(e.unavailable(), Some(Unavailable::Busy), "{e}");

        // Jobs that queue while a batch waits out the lock hear its answer with it, instead
        // of forming a batch that waits out the timeout once more.
        let (before, first) = running(|| tokio::spawn(write(&store, &ran)), &ran).await;
        let mut queued = tokio::task::JoinSet::new();
        for _ in 0..JOBS {
            queued.spawn(write(&store, &ran));
        }
        for r in queued
            .join_all()
            .await
            .iter()
            .chain([&first.await.unwrap()])
        {
            let e = r.as_ref().expect_err("written through the lock");
            assert_eq!(e.unavailable(), Some(Unavailable::Busy), "{e}");
        }
        assert_eq!(
            ran.load(Ordering::SeqCst),
            before + 1,
            "only the batch that met the lock ran"
        );
        sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
        other.close().await.unwrap();
        write(&store, &ran).await.unwrap();
        let row = store
            .read
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "SELECT COUNT(*) AS n FROM scratch",
            ))
            .await
            .unwrap()
            .unwrap();
        let n = crate::col::<i64>(&row, "n").unwrap();
        assert_eq!(n, 1, "only the write after the lock was released is stored");

        // A job sent after a batch failed on the lock is not failed with it, even while the
        // failed connection's replacement waits for the connection (held here, as the report
        // generator, which writes outside the queue, may hold it): once the lock is gone, it
        // is stored.
        let mut other = lock(dir.path()).await;
        let pool = store.write.get_sqlite_connection_pool().clone();
        let (_, first) = running(|| tokio::spawn(write(&store, &ran)), &ran).await;
        // Waits behind the batch holding the connection, ahead of the replacement.
        let held = tokio::spawn(async move { pool.acquire().await.unwrap() });
        let e = first.await.unwrap().expect_err("written through the lock");
        assert_eq!(e.unavailable(), Some(Unavailable::Busy), "{e}");
        let held = held.await.unwrap();
        let late = tokio::spawn(write(&store, &ran));
        tokio::time::sleep(Duration::from_millis(100)).await;
        sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
        other.close().await.unwrap();
        drop(held);
        late.await
            .unwrap()
            .expect("a write sent after the failure is stored once the lock is gone");
    }
}
