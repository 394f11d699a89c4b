//! The writer's transaction as its jobs see it ([`Tx`]): sea-orm's on PostgreSQL, and on
//! SQLite a connection the writer owns ([`LiteWriter`]), run through rusqlite on the writer's
//! own thread.
//!
//! sqlx runs each SQLite connection on a thread of its own, so every statement of a group
//! commit was a message to that thread and a wake-up back (profiled in session 56: the
//! hand-back alone 11% of the write connection's thread, futex waits 8%), and a batch's
//! statements were joined into one script whose text differed from batch to batch, prepared
//! afresh each time (~1,070 preparations a second at 150 orders/s). Here each statement is
//! prepared once per text and kept, BEGIN, COMMIT and the savepoints included, and runs on
//! the thread that asked for it.

use crate::lite::{self, Row};
use crate::{Result, StoreError};
use rusqlite::{Connection, OpenFlags};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};
use std::cell::Cell;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// A write transaction: where a write job's statements go.
#[derive(Clone, Copy)]
pub(crate) enum Tx<'a> {
    /// A sea-orm transaction (the writer on PostgreSQL; tests on either backend).
    Sea(&'a DatabaseTransaction),
    /// The SQLite writer's own connection, inside its batch's transaction.
    Lite(&'a LiteWriter),
}

impl Tx<'_> {
    pub(crate) fn backend(self) -> DbBackend {
        match self {
            Tx::Sea(t) => t.get_database_backend(),
            Tx::Lite(_) => DbBackend::Sqlite,
        }
    }

    /// Runs one statement (its rows, if it returns any, are read and dropped); the number of
    /// rows it changed.
    pub(crate) async fn execute(self, stmt: Statement) -> Result<u64> {
        match self {
            Tx::Sea(t) => Ok(t.execute_raw(stmt).await?.rows_affected()),
            Tx::Lite(w) => w.with(|c| {
                let mut st = c.prepare_cached(&stmt.sql)?;
                lite::bind(&mut st, &stmt)?;
                let mut rows = st.raw_query();
                while rows.next()?.is_some() {}
                Ok(c.changes())
            }),
        }
    }

    /// Runs statements without values, `;`-separated.
    #[cfg(test)]
    pub(crate) async fn execute_unprepared(self, sql: &str) -> Result<()> {
        match self {
            Tx::Sea(t) => {
                t.execute_unprepared(sql).await?;
                Ok(())
            }
            Tx::Lite(w) => w.with(|c| c.execute_batch(sql)),
        }
    }

    /// Every row of `stmt`.
    pub(crate) async fn query_all(self, stmt: Statement) -> Result<Vec<Row>> {
        match self {
            Tx::Sea(t) => lite::sea_rows(t, stmt).await,
            Tx::Lite(w) => Ok(w
                .with(|c| lite::query(c, &stmt, usize::MAX))?
                .into_iter()
                .map(Row::Lite)
                .collect()),
        }
    }
}

/// The log is copied into the database file once it holds this many pages: SQLite's own
/// default for the checkpoints it would make inside COMMIT (see [`LiteWriter::checkpoint`]).
pub(crate) const CHECKPOINT_PAGES: i32 = 1_000;

thread_local! {
    /// The pages in the log after the last commit made on this thread (set by [`log_pages`],
    /// the hook of the writer's connection; each store's writer has a thread of its own).
    static LOG_PAGES: Cell<i32> = const { Cell::new(0) };
}

/// SQLite's log hook on the writer's connection: notes how many pages the log holds after a
/// commit. Setting it replaces SQLite's automatic checkpoint, which the writer makes itself.
fn log_pages(_: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
    LOG_PAGES.with(|p| p.set(pages));
    Ok(())
}

/// The step in which the database file grows (see `jiesu_pcache::set_chunk_size`): ~10 s of
/// growth at 200 orders/s, and at most this much unused at the file's end.
pub(crate) const CHUNK_BYTES: std::ffi::c_int = 16 << 20;

/// Prepared statements the writer's connection keeps: a batch's multi-row statements have
/// one text for each number of rows.
const STATEMENT_CACHE: usize = 256;

/// The SQLite writer's connection. Only the writer's thread uses it (the mutex is never
/// contended; it makes the connection shareable with the jobs' futures). It is opened when a
/// batch needs it and dropped after a batch that had to be abandoned, so that the next one
/// starts from a known state (closing a connection rolls back whatever it still had open).
pub(crate) struct LiteWriter {
    path: PathBuf,
    cache_kib: u32,
    busy_timeout: Duration,
    conn: Mutex<Option<Connection>>,
}

impl LiteWriter {
    pub(crate) fn new(path: PathBuf, cache_kib: u32, busy_timeout: Duration) -> Self {
        LiteWriter {
            path,
            cache_kib,
            busy_timeout,
            conn: Mutex::new(None),
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let c = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        c.busy_timeout(self.busy_timeout)?;
        // The log is synced by the writer's syncer before any caller is answered (see
        // `wal`): the commits themselves only write it.
        c.pragma_update(None, "synchronous", "NORMAL")?;
        c.pragma_update(None, "foreign_keys", true)?;
        // Statement journals (a multi-row insert that may hit a unique key, a job's
        // savepoint) stay in memory instead of spilling to a temporary file.
        c.pragma_update(None, "temp_store", "memory")?;
        // The writer's cache survives its own commits: the index pages every group commit
        // moves stay in it instead of being read again from the file.
        c.pragma_update(None, "cache_size", -i64::from(self.cache_kib))?;
        c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        c.wal_hook(Some(log_pages));
        // The file grows a chunk at a time, so that most checkpoints leave its length as it
        // was and their sync writes the database's pages without a journal commit.
        jiesu_pcache::set_chunk_size(&c, CHUNK_BYTES)?;
        Ok(c)
    }

    /// Runs `f` on the connection, opening it first if there is none.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut g = self
            .conn
            .lock()
            .map_err(|_| StoreError::Corrupt("the write connection's lock is poisoned".into()))?;
        let c = match g.as_mut() {
            Some(c) => c,
            None => g.insert(self.open()?),
        };
        Ok(f(c)?)
    }

    /// Runs a statement without values, prepared once (BEGIN, COMMIT, the savepoints).
    pub(crate) fn run(&self, sql: &str) -> Result<()> {
        self.with(|c| c.prepare_cached(sql)?.execute([]).map(|_| ()))
    }

    /// Whether a transaction is open: SQLite rolls one back by itself on some errors (disk
    /// full, I/O errors, out of memory), after which the batch's later statements would run
    /// outside any transaction.
    pub(crate) fn in_transaction(&self) -> bool {
        self.conn
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|c| !c.is_autocommit()))
            .unwrap_or(false)
    }

    /// Copies the log into the database file if the last commit left it holding
    /// [`CHECKPOINT_PAGES`] or more; whether it did. SQLite would make the same checkpoint
    /// inside that COMMIT, before the writer could hand the batch's callers to the log's
    /// syncer: every ~15th batch then waited for a copy and the database file's fsync (7 ms
    /// on average at 200 orders/s). Made after the hand-over, only the next batch waits. A
    /// checkpoint that readers keep from copying everything is made again after the next
    /// commit, as SQLite's own would be.
    pub(crate) fn checkpoint(&self) -> Result<bool> {
        if LOG_PAGES.with(Cell::get) < CHECKPOINT_PAGES {
            return Ok(false);
        }
        LOG_PAGES.with(|p| p.set(0));
        self.with(|c| c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())))?;
        Ok(true)
    }

    /// Closes the connection; the next batch opens a new one.
    pub(crate) fn reset(&self) {
        if let Ok(mut g) = self.conn.lock() {
            g.take();
        }
    }
}
