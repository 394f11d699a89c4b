//! SQLite: a group commit's fsync, off the write connection.
//!
//! With `synchronous=FULL` SQLite fsyncs the write-ahead log inside every commit, and the
//! one write connection waits for the disk (about 1 ms of the 2.6 ms a group commit took at
//! 200 orders/s, with the writer busy ~90% of the time). The writer's own transactions now
//! commit with `synchronous=NORMAL` — the log is written, not synced — and hand their
//! callers' answers to a thread of their own, which fsyncs the log and only then answers
//! them: the writer goes on with the next batch while the disk syncs the last one, and one
//! fsync covers every commit written before it began.
//!
//! Nothing acknowledged can be lost: an answer is sent only after an fsync that began after
//! its commit had been written, and SQLite's recovery keeps the log's frames up to the first
//! one missing, so a commit that survives a power loss brings every earlier commit with it.
//! Writes outside the writer (administration, set-up, migrations) go through another
//! connection, with `synchronous=FULL` (see `Store::connect`).
//!
//! Readers may see a commit a moment (the fsync, ~1 ms) before it is durable. Whatever
//! leaves the process on such a read — a webhook, a message, a transfer, the order index —
//! first waits for [`Wal::durable`], so a power loss cannot leave the world knowing of a
//! change the database lost; a page shown to a user in that moment can.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;
use tokio::sync::watch;

/// A written commit waiting for its fsync, with what its callers are to be told.
struct Written<A> {
    seq: u64,
    answers: Vec<A>,
}

/// The log's syncer: commits are numbered as they start; `synced` is the highest number
/// whose commit is on disk.
pub(crate) struct Wal<A> {
    started: AtomicU64,
    tx: std::sync::Mutex<Option<mpsc::Sender<Written<A>>>>,
    synced: watch::Receiver<u64>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    counters: Arc<SyncCounters>,
}

/// What the syncer has done, for `/metrics`.
#[derive(Default)]
struct SyncCounters {
    syncs: AtomicU64,
    sync_us: AtomicU64,
}

impl<A: Send + 'static> Wal<A> {
    /// Starts the syncer of the log of the database at `db`; `send` answers a caller once
    /// its commit is durable.
    pub(crate) fn start(db: &Path, send: fn(A)) -> std::io::Result<Arc<Self>> {
        let mut log = db.as_os_str().to_owned();
        log.push("-wal");
        let log = PathBuf::from(log);
        let (tx, rx) = mpsc::channel::<Written<A>>();
        let (synced_tx, synced) = watch::channel(0);
        let counters = Arc::new(SyncCounters::default());
        let counted = counters.clone();
        // Spawned from the thread that opens the store, so it keeps that thread's priority
        // (as the writer's does; see `jiesu serve`).
        let thread = std::thread::Builder::new()
            .name("jiesu-wal-sync".into())
            .spawn(move || sync_loop(&log, &rx, &synced_tx, send, &counted))?;
        Ok(Arc::new(Wal {
            started: AtomicU64::new(0),
            tx: std::sync::Mutex::new(Some(tx)),
            synced,
            thread: std::sync::Mutex::new(Some(thread)),
            counters,
        }))
    }

    /// The fsyncs made so far and the microseconds they took.
    pub(crate) fn syncs(&self) -> (u64, u64) {
        let c = &self.counters;
        (
            c.syncs.load(Ordering::Relaxed),
            c.sync_us.load(Ordering::Relaxed),
        )
    }

    /// Numbers a commit about to be made; every number taken is to be passed to
    /// [`Wal::written`], whether the commit succeeded or not.
    pub(crate) fn starting(&self) -> u64 {
        self.started.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Hands commit `seq`'s answers to the syncer (none if the commit failed: its number
    /// still has to pass). If the syncer is gone the answers are dropped and their callers
    /// hear that the writer is gone.
    pub(crate) fn written(&self, seq: u64, answers: Vec<A>) {
        if let Ok(g) = self.tx.lock()
            && let Some(tx) = g.as_ref()
            && tx.send(Written { seq, answers }).is_ok()
        {
            return;
        }
        tracing::error!(
            seq,
            "the log's syncer is gone; a group commit's callers are not answered"
        );
    }

    /// Waits until every commit that had started when it was called is on disk: whatever a
    /// reader saw before calling it is then durable.
    pub(crate) async fn durable(&self) -> crate::Result<()> {
        let upto = self.started.load(Ordering::SeqCst);
        let mut synced = self.synced.clone();
        synced
            .wait_for(|s| *s >= upto)
            .await
            .map(|_| ())
            .map_err(|_| crate::StoreError::WriterGone)
    }

    /// Lets the syncer finish what it was handed and waits for it to stop.
    pub(crate) fn close(&self) {
        if let Ok(mut g) = self.tx.lock() {
            g.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut g| g.take());
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

fn sync_loop<A>(
    log: &Path,
    rx: &mpsc::Receiver<Written<A>>,
    synced: &watch::Sender<u64>,
    send: fn(A),
    counters: &SyncCounters,
) {
    let mut file: Option<Open> = None;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let upto = batch.iter().map(|w| w.seq).max().unwrap_or(0);
        let t = Instant::now();
        if let Err(e) = sync(log, &mut file) {
            // After a failed fsync the kernel may have dropped the pages it could not write,
            // and a later fsync would succeed without them: the log on disk can no longer be
            // trusted, and only a restart (SQLite's recovery from what is on disk) can say
            // what is stored. No caller of these commits has been answered.
            tracing::error!(error = %e, log = %log.display(), "cannot sync the database's log; stopping");
            std::process::abort();
        }
        let took = t.elapsed();
        counters.syncs.fetch_add(1, Ordering::Relaxed);
        counters
            .sync_us
            .fetch_add(super::micros(took), Ordering::Relaxed);
        if took > super::SLOW_DISK {
            // Every caller of these commits waited for it: a soak's slow window that comes
            // with one waited for the disk (or the filesystem's journal), not for the CPU.
            tracing::warn!(
                ms = took.as_secs_f64() * 1e3,
                commits = batch.len(),
                "slow log sync"
            );
        }
        synced.send_if_modified(|s| {
            let moved = upto > *s;
            *s = (*s).max(upto);
            moved
        });
        for a in batch.into_iter().flat_map(|w| w.answers) {
            send(a);
        }
    }
}

/// The log file held open, and which file it is.
struct Open {
    file: File,
    id: (u64, u64),
}

/// Syncs the log file at `log`, opening it again if SQLite replaced it (the last connection
/// to close deletes it). A log that is not there holds nothing unsynced: SQLite deletes it
/// only after copying it into the database file and syncing that.
fn sync(log: &Path, file: &mut Option<Open>) -> std::io::Result<()> {
    let now = match std::fs::metadata(log) {
        Ok(m) => (m.dev(), m.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if file.as_ref().map(|f| f.id) != Some(now) {
        let opened = match File::open(log) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let m = opened.metadata()?;
        *file = Some(Open {
            file: opened,
            id: (m.dev(), m.ino()),
        });
    }
    match file {
        Some(f) => f.file.sync_data(),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::tests::sqlite_store;
    use crate::writer::Tx;
    use sea_orm::{ConnectionTrait, Statement};

    const SYNCHRONOUS: &str = "PRAGMA synchronous";

    /// `PRAGMA synchronous` as the connection outside the writer has it: 1 NORMAL, 2 FULL.
    async fn level(c: &impl ConnectionTrait) -> i64 {
        let row = c
            .query_one_raw(Statement::from_string(
                c.get_database_backend(),
                SYNCHRONOUS,
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }

    /// The same as the writer's transaction has it.
    async fn level_in(tx: Tx<'_>) -> crate::Result<i64> {
        let rows = tx
            .query_all(Statement::from_string(tx.backend(), SYNCHRONOUS))
            .await?;
        let row = rows.first().ok_or(crate::StoreError::NotFound)?;
        crate::col::<i64>(row, "synchronous")
    }

    /// The writer's batches commit without SQLite's fsync (their callers are answered by the
    /// syncer); every write outside the writer, before and after, commits with FULL.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_the_writer_commits_without_an_fsync() {
        let (_dir, store) = sqlite_store().await;
        assert_eq!(level(&store.write).await, 2, "set-up and migrations");
        for _ in 0..3 {
            let seen = store
                .writer
                .submit(|tx| Box::pin(level_in(tx)))
                .await
                .unwrap();
            assert_eq!(seen, 1, "inside a group commit");
            assert_eq!(level(&store.write).await, 2, "a write outside the writer");
        }
        store.close().await;
    }

    /// No caller hears "stored" before the log has been synced after its commit: every answer
    /// finds at least as many fsyncs made as it had predecessors' commits plus its own, and
    /// `durable` returns only once what was committed is synced.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_wait_for_the_fsync() {
        let (_dir, store) = sqlite_store().await;
        store
            .write
            .execute_unprepared("CREATE TABLE scratch (n INTEGER)")
            .await
            .unwrap();
        let wal = store.writer.wal.clone().expect("SQLite has a syncer");
        let before = store.writer_stats().syncs;
        let mut tasks = Vec::new();
        for n in 0..40 {
            let writer = store.writer.clone();
            let wal = wal.clone();
            tasks.push(tokio::spawn(async move {
                writer
                    .submit(move |tx| {
                        Box::pin(async move {
                            tx.execute_unprepared(&format!("INSERT INTO scratch VALUES ({n})"))
                                .await?;
                            Ok(())
                        })
                    })
                    .await
                    .unwrap();
                // Answered: the commit's number has been synced.
                *wal.synced.borrow()
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap() >= 1);
        }
        let stats = store.writer_stats();
        assert!(stats.syncs > before, "{stats:?}");
        assert!(
            stats.syncs <= stats.commits,
            "one fsync per commit at most: {stats:?}"
        );
        assert_eq!(*wal.synced.borrow(), wal.started.load(Ordering::SeqCst));
        store.durable().await.unwrap();
        store.close().await;
    }

    /// The writer's commits leave the checkpoint to the writer (SQLite's own, inside COMMIT,
    /// is replaced by the log hook), which makes it once the log holds 1,000 pages: the log
    /// then starts over instead of growing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_checkpoints_after_its_commits() {
        let (dir, store) = sqlite_store().await;
        store
            .write
            .execute_unprepared("CREATE TABLE scratch (b BLOB)")
            .await
            .unwrap();
        let log = dir.path().join("t.db-wal");
        let before = store.writer_stats();
        // ~26 pages a commit: 120 commits would leave ~3,100 pages in a log never copied.
        let mut largest = 0;
        for _ in 0..120 {
            store
                .writer
                .submit(|tx| {
                    Box::pin(async move {
                        tx.execute_unprepared("INSERT INTO scratch VALUES (randomblob(100000))")
                            .await?;
                        Ok(())
                    })
                })
                .await
                .unwrap();
            largest = largest.max(std::fs::metadata(&log).unwrap().len());
        }
        let stats = store.writer_stats();
        let made = stats.checkpoints - before.checkpoints;
        assert!((2..=4).contains(&made), "one per ~1,000 pages: {stats:?}");
        assert!(stats.checkpoint_us > before.checkpoint_us, "{stats:?}");
        // A frame is a 4 KiB page and a 24-byte header: the log never held much more than
        // 1,000 pages and one commit's.
        let frames = largest / (4096 + 24);
        assert!(
            frames < u64::try_from(super::super::tx::CHECKPOINT_PAGES).unwrap() + 100,
            "the log grew to {frames} frames"
        );
        // The checkpoints grew the database file by whole chunks (~8 MiB of pages copied).
        let file = std::fs::metadata(dir.path().join("t.db")).unwrap().len();
        let chunk = u64::try_from(super::super::tx::CHUNK_BYTES).unwrap();
        assert!(
            file >= chunk && file % chunk == 0,
            "the file is {file} bytes"
        );
        store.close().await;
    }

    /// The log is opened again when SQLite has replaced it, and a log that is not there has
    /// nothing to sync.
    #[test]
    fn a_replaced_log_is_opened_again() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("t.db-wal");
        let mut open = None;
        sync(&log, &mut open).unwrap();
        assert!(open.is_none(), "no log yet");
        std::fs::write(&log, b"one").unwrap();
        sync(&log, &mut open).unwrap();
        let first = open.as_ref().map(|o| o.id).unwrap();
        std::fs::remove_file(&log).unwrap();
        sync(&log, &mut open).unwrap();
        // A new file in its place (the old one, still held open, keeps its inode number).
        let new = dir.path().join("new");
        std::fs::write(&new, b"two").unwrap();
        std::fs::rename(&new, &log).unwrap();
        sync(&log, &mut open).unwrap();
        let second = open.as_ref().map(|o| o.id).unwrap();
        assert_ne!(first, second, "the new file is held");
        let meta = std::fs::metadata(&log).unwrap();
        assert_eq!(second, (meta.dev(), meta.ino()));
    }
}
