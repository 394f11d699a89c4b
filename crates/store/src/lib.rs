//! Persistence for Jiesu on SQLite (embedded default) and PostgreSQL (server), chosen at run time
//! from the database URL. One code path serves both through SeaORM's connection; the SQL text is
//! shared (`$1` placeholders work on both), and the schema lives in [`migration`].
//!
//! Writes of work orders go through a group-commit writer ([`writer`]): concurrent requests are
//! batched into one transaction and one fsync, each in its own savepoint, which is what lets one
//! SQLite file take thousands of durable orders a second.

pub mod attachments;
/// SQLite's page cache as the store installs it (see `Store::connect`).
pub use jiesu_pcache as pcache;
pub mod audit;
pub mod catalog;
pub mod copy;
pub mod dispatch;
pub mod evaluations;
pub mod insight;
pub mod kb;
mod lite;
pub mod migration;
pub mod ops;
pub mod orders;
pub mod org;
pub mod packed;
pub mod pii;
pub mod settings;
pub mod stats;
pub mod telephony;
pub mod tenants;
pub mod transfers;
pub mod users;
pub mod webhooks;
mod writer;

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, RuntimeErr, Statement, Value,
};
use sea_orm_migration::MigratorTrait;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

pub use lite::ReaderStats;
pub use writer::WriterStats;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A read's blocking thread panicked or the runtime is shutting down.
    #[error("a database read stopped: {0}")]
    ReadStopped(String),
    #[error("invalid database URL “{0}”: use sqlite://PATH or postgres://USER@HOST/DB")]
    BadUrl(String),
    /// Another writer changed the record first; reload and try again.
    #[error("the record was changed concurrently")]
    Concurrent,
    /// A unique key already holds this value.
    #[error("{0} already exists")]
    Duplicate(&'static str),
    /// `jiesu copy` refused or its check failed.
    #[error("copy: {0}")]
    Copy(String),
    #[error("not found")]
    NotFound,
    /// Stored data that cannot be read back: a bug or tampering.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    #[error("the database writer has stopped")]
    WriterGone,
    /// Personal data that cannot be sealed or opened with this node's keys.
    #[error("{0}")]
    Pii(#[from] pii::PiiError),
}

impl StoreError {
    fn corrupt(e: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(e.to_string())
    }

    /// The same error for another caller (the writer tells every caller of a failed batch):
    /// what [`Self::unavailable`], [`Self::locked`] and the unique-key check read of it is
    /// kept; a driver error that cannot be copied keeps its text.
    pub(crate) fn dup(&self) -> StoreError {
        use rusqlite::Error as L;
        match self {
            StoreError::Db(e) => StoreError::Db(e.clone()),
            StoreError::Sqlx(e) => {
                StoreError::Db(DbErr::Conn(RuntimeErr::SqlxError(Arc::new(match e {
                    sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
                    sqlx::Error::Io(io) => {
                        sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string()))
                    }
                    other => sqlx::Error::Protocol(other.to_string()),
                }))))
            }
            StoreError::Sqlite(L::SqliteFailure(code, msg)) => {
                StoreError::Sqlite(L::SqliteFailure(*code, msg.clone()))
            }
            StoreError::Sqlite(other) => StoreError::Sqlite(L::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
                Some(other.to_string()),
            )),
            StoreError::ReadStopped(s) => StoreError::ReadStopped(s.clone()),
            StoreError::BadUrl(s) => StoreError::BadUrl(s.clone()),
            StoreError::Concurrent => StoreError::Concurrent,
            StoreError::Duplicate(f) => StoreError::Duplicate(f),
            StoreError::Copy(s) => StoreError::Copy(s.clone()),
            StoreError::NotFound => StoreError::NotFound,
            StoreError::Corrupt(s) => StoreError::Corrupt(s.clone()),
            StoreError::WriterGone => StoreError::WriterGone,
            StoreError::Pii(e) => StoreError::Corrupt(e.to_string()),
        }
    }

    /// A unique key already held the value written (on either backend).
    pub(crate) fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Db(e) => is_unique_violation(e),
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            _ => false,
        }
    }

    /// When the database refused for a condition of the machine, not of the request or the
    /// code: the disk is full, another process holds the database, or it is read-only. The
    /// request changed nothing (its transaction rolled back) and can be repeated later.
    pub fn unavailable(&self) -> Option<Unavailable> {
        if let StoreError::Sqlite(_) = self {
            return self.database_condition();
        }
        let e = self.sqlx()?;
        match e {
            sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
                Some(Unavailable::Full)
            }
            sqlx::Error::PoolTimedOut => Some(Unavailable::Busy),
            _ => self.database_condition(),
        }
    }

    /// The condition the database itself answered with (its error code), if any.
    fn database_condition(&self) -> Option<Unavailable> {
        if let StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) = self {
            return Unavailable::of_code(&e.extended_code.to_string(), true);
        }
        let db = self.sqlx()?.as_database_error()?;
        let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
        Unavailable::of_code(&db.code()?, sqlite)
    }

    /// The database itself answered that it is locked (SQLite `SQLITE_BUSY`/`SQLITE_LOCKED`
    /// past the busy timeout, PostgreSQL not taking connections) — not a wait for one of
    /// this process's own connections (`PoolTimedOut`, also [`Unavailable::Busy`]).
    pub(crate) fn locked(&self) -> bool {
        self.database_condition() == Some(Unavailable::Busy)
    }

    /// PostgreSQL chose this statement's transaction to end a deadlock (SQLSTATE 40P01): two
    /// transactions locked the same rows in opposite orders. Nothing of it is kept once its
    /// savepoint is rolled back; tried again on fresh state, it goes through.
    pub(crate) fn deadlocked(&self) -> bool {
        self.sqlx()
            .and_then(|e| e.as_database_error())
            .and_then(|d| d.code())
            .is_some_and(|c| c == "40P01")
    }

    fn sqlx(&self) -> Option<&sqlx::Error> {
        match self {
            StoreError::Sqlx(e) => Some(e),
            StoreError::Db(
                DbErr::Conn(RuntimeErr::SqlxError(e))
                | DbErr::Exec(RuntimeErr::SqlxError(e))
                | DbErr::Query(RuntimeErr::SqlxError(e)),
            ) => Some(e),
            _ => None,
        }
    }
}

/// Why the database cannot take a write just now (see [`StoreError::unavailable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// No space left on the disk (SQLite `SQLITE_FULL`, PostgreSQL `disk_full`).
    Full,
    /// Locked by another process past the busy timeout (SQLite `SQLITE_BUSY`/`SQLITE_LOCKED`),
    /// or PostgreSQL not taking connections (starting up, shutting down).
    Busy,
    /// The database file or server is read-only.
    ReadOnly,
}

impl Unavailable {
    /// From a driver's error code: SQLite's numeric result code (extended codes keep the
    /// primary one in the low byte) or PostgreSQL's SQLSTATE.
    fn of_code(code: &str, sqlite: bool) -> Option<Self> {
        if sqlite {
            return match code.parse::<i32>().ok()? & 0xff {
                13 => Some(Self::Full),
                5 | 6 => Some(Self::Busy),
                8 => Some(Self::ReadOnly),
                _ => None,
            };
        }
        match code {
            "53100" => Some(Self::Full),
            "25006" => Some(Self::ReadOnly),
            "57P03" | "53300" => Some(Self::Busy),
            _ => None,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Connection settings beyond the URL.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections in total (PostgreSQL); on SQLite, twice this many read connections are
    /// kept open (a read on a request's thread and one on a blocking thread each hold one).
    pub max_connections: u32,
    /// SQLite page cache per read connection, in KiB. A reader's cache is emptied whenever
    /// another connection has written since its last read (in WAL mode), so under load it
    /// holds little more than one request's pages.
    pub sqlite_cache_kib: u32,
    /// SQLite page cache of the one write connection, in KiB. The writer's cache survives
    /// its own commits: the index pages every group commit moves stay in it instead of being
    /// read again from the file.
    pub sqlite_writer_cache_kib: u32,
    /// Largest group commit.
    pub max_batch: usize,
    /// SQLite: how long a write waits for a lock another process holds before it fails with
    /// "database busy".
    pub sqlite_busy_timeout: Duration,
    /// The keys that seal citizens' phone and ID numbers (none: stored as given).
    pub pii: Arc<pii::PiiKeys>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 4,
            sqlite_cache_kib: 2 * 1024,
            sqlite_writer_cache_kib: 64 * 1024,
            max_batch: 256,
            sqlite_busy_timeout: Duration::from_secs(10),
            pii: Arc::new(pii::PiiKeys::none()),
        }
    }
}

/// The database: a writer (one connection on SQLite) and readers.
#[derive(Clone)]
pub struct Store {
    write: DatabaseConnection,
    read: lite::Reader,
    backend: DbBackend,
    writer: writer::Handle,
    sqlite_path: Option<PathBuf>,
    pii: Arc<pii::PiiKeys>,
    decoded: Arc<orders::DecodedOrders>,
    /// Totals of large lists counted a moment ago (see [`orders::ListTotals`]).
    totals: Arc<orders::ListTotals>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects (creating a SQLite file if missing) and applies pending migrations.
    pub async fn open(url: &str, opts: &StoreOptions) -> Result<Store> {
        let store = Self::connect(url, opts).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating.
    pub async fn connect(url: &str, opts: &StoreOptions) -> Result<Store> {
        if url.starts_with("sqlite:") {
            // Before the process's first SQLite connection: the page cache that skips the
            // truncations with nothing to drop (`jiesu-pcache`; later calls change nothing).
            let cache = jiesu_pcache::install();
            tracing::debug!(?cache, "SQLite page cache wrapper");
            let base = SqliteConnectOptions::from_str(url)
                .map_err(|_| StoreError::BadUrl(redact(url)))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: every commit is fsynced, so an acknowledged order survives power loss;
                // group commit pays for it.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(opts.sqlite_busy_timeout)
                // Statement journals (a multi-row insert that may hit a unique key, a
                // savepoint of the writer) stay in memory instead of spilling to a temp file.
                .pragma("temp_store", "memory");
            let path = base.get_filename().to_path_buf();
            // One connection for the writes outside the group-commit writer (migrations,
            // administration, the report generator), committing with `synchronous=FULL`. The
            // writer has a connection of its own (`writer::LiteWriter`) and holds this one
            // while it writes, so the two never wait for each other's lock inside SQLite.
            // Kept for the process's life: its thread keeps the priority of the thread that
            // opened it (see `jiesu serve`). No ping before each use (sqlx's default): a
            // connection to a local file does not hang up.
            let write_pool = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .min_connections(1)
                .max_lifetime(None)
                .idle_timeout(None)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(
                    base.clone()
                        .pragma("cache_size", format!("-{}", opts.sqlite_cache_kib)),
                )
                .await?;
            let read = lite::Reader::Lite(Arc::new(lite::Readers::new(
                path.clone(),
                opts.max_connections.max(1) as usize * 2,
                opts.sqlite_cache_kib,
                opts.sqlite_busy_timeout,
            )));
            let target = writer::Target::Lite {
                conn: Arc::new(writer::LiteWriter::new(
                    path.clone(),
                    opts.sqlite_writer_cache_kib,
                    opts.sqlite_busy_timeout,
                )),
                pool: write_pool.clone(),
            };
            let write = sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(write_pool);
            let writer = writer::spawn(target, 1, opts.max_batch, Some(&path))
                .map_err(|e| StoreError::Sqlx(sqlx::Error::Io(e)))?;
            Ok(Store {
                write,
                read,
                backend: DbBackend::Sqlite,
                writer,
                sqlite_path: Some(path),
                pii: opts.pii.clone(),
                decoded: Arc::new(orders::decoded_orders()),
                totals: Arc::new(orders::list_totals()),
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(opts.max_connections.max(2))
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await
                .map_err(|e| match e {
                    sqlx::Error::Configuration(_) => StoreError::BadUrl(redact(url)),
                    e => StoreError::Sqlx(e),
                })?;
            let conn = sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
            // Several writers: PostgreSQL commits concurrently and groups fsyncs itself.
            let writers = (opts.max_connections / 2).clamp(1, 4) as usize;
            let writer = writer::spawn(
                writer::Target::Sea(conn.clone()),
                writers,
                opts.max_batch,
                None,
            )
            .map_err(|e| StoreError::Sqlx(sqlx::Error::Io(e)))?;
            Ok(Store {
                write: conn.clone(),
                read: lite::Reader::Sea(conn),
                backend: DbBackend::Postgres,
                writer,
                sqlite_path: None,
                pii: opts.pii.clone(),
                decoded: Arc::new(orders::decoded_orders()),
                totals: Arc::new(orders::list_totals()),
            })
        } else {
            Err(StoreError::BadUrl(redact(url)))
        }
    }

    /// The keys that seal citizens' personal data.
    pub fn pii(&self) -> &Arc<pii::PiiKeys> {
        &self.pii
    }

    pub async fn migrate(&self) -> Result<()> {
        migration::Migrator::up(&self.write, None).await?;
        Ok(())
    }

    /// Names of the migrations applied so far.
    pub async fn applied_migrations(&self) -> Result<Vec<String>> {
        let rows = self
            .read
            .query_all_raw(Statement::from_string(
                self.backend,
                "SELECT version FROM jiesu_migrations ORDER BY version",
            ))
            .await?;
        rows.iter().map(|r| col::<String>(r, "version")).collect()
    }

    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    pub fn is_sqlite(&self) -> bool {
        self.backend == DbBackend::Sqlite
    }

    pub fn writer_stats(&self) -> WriterStats {
        self.writer.stats()
    }

    pub fn reader_stats(&self) -> ReaderStats {
        self.read.stats()
    }

    /// A cheap round trip, for readiness probes.
    pub async fn ping(&self) -> Result<()> {
        self.read.execute_unprepared("SELECT 1").await?;
        Ok(())
    }

    /// An online, consistent copy of a SQLite database (`VACUUM INTO`), taken while the server
    /// keeps writing. PostgreSQL is backed up with its own tools (`pg_dump`).
    pub async fn backup_to(&self, dest: &std::path::Path) -> Result<u64> {
        if self.backend != DbBackend::Sqlite {
            return Err(StoreError::BadUrl(
                "online backup is built in for SQLite; for PostgreSQL use pg_dump".into(),
            ));
        }
        let dest_s = dest.to_string_lossy().replace('\'', "''");
        self.read
            .execute_unprepared(&format!("VACUUM INTO '{dest_s}'"))
            .await?;
        Ok(std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0))
    }

    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        self.sqlite_path.as_deref()
    }

    /// Stops accepting writes and waits for the writer to drain.
    pub async fn close(&self) {
        self.writer.close().await;
        let _ = self.write.clone().close().await;
        self.read.close().await;
    }

    /// Waits until whatever this process has read so far is durable: on SQLite a reader may
    /// see a group commit a moment before its fsync (see `writer::wal`), and what is to leave
    /// the process (a webhook, a message, the order index) waits for that first.
    pub(crate) async fn durable(&self) -> Result<()> {
        self.writer.durable().await
    }

    /// Runs `stmts` in order, all or none, inside the writer's next group commit. Background
    /// passes write this way rather than through a transaction of their own: on SQLite there
    /// is one write connection, and a pass holding it while its task waited its turn between
    /// statements on the busy request threads kept the order writer waiting about half the
    /// time; in the writer they also share its fsync.
    pub(crate) async fn write_all(&self, stmts: Vec<Statement>) -> Result<()> {
        if stmts.is_empty() {
            return Ok(());
        }
        self.writer
            .submit(move |tx| {
                let stmts = stmts.clone();
                Box::pin(async move {
                    for s in stmts {
                        tx.execute(s).await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    fn stmt(&self, sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, values)
    }

    /// Takes the `(tenant, id)` rows of `table` (a queue with `next_at`) that this node's
    /// background pass read as due. Several nodes on one PostgreSQL run the same passes: a row
    /// still due (`next_at <= now`) gets `next_at = now + lease`, atomically, so the other nodes
    /// pass over it until this node records the outcome (which sets `next_at` again) or, if the
    /// node died mid-pass, the lease runs out and another node takes it. Returns the rows this
    /// node got. SQLite serves one node: all of them, without a write.
    pub(crate) async fn claim(
        &self,
        table: &'static str,
        rows: &[(i64, i64)],
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<std::collections::HashSet<(i64, i64)>> {
        if rows.is_empty() {
            return Ok(std::collections::HashSet::new());
        }
        if self.is_sqlite() {
            // What is claimed is about to leave the process: on SQLite it may have been read
            // in the moment before its commit's fsync (see `writer::wal`).
            self.durable().await?;
            return Ok(rows.iter().copied().collect());
        }
        // Leases are minutes; an unrepresentable one is held for an hour.
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::hours(1));
        let mut got = std::collections::HashSet::new();
        for chunk in rows.chunks(500) {
            let mut q = orders::Sql::new(&format!("UPDATE {table} SET next_at = "));
            let u = q.param(to_ms(until));
            q.push(&u);
            let n = q.param(to_ms(now));
            q.push(&format!(" WHERE next_at <= {n} AND (tenant_id, id) IN ("));
            for (i, (t, id)) in chunk.iter().enumerate() {
                let t = q.param(*t);
                let id = q.param(*id);
                q.push(&format!("{}({t}, {id})", if i == 0 { "" } else { ", " }));
            }
            q.push(") RETURNING tenant_id, id");
            for r in self.write.query_all_raw(q.build(self.backend)).await? {
                got.insert((col(&r, "tenant_id")?, col(&r, "id")?));
            }
        }
        Ok(got)
    }
}

fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((head, tail)) => match head.rsplit_once(':') {
            Some((user, _)) if user.contains("//") => format!("{user}:***@{tail}"),
            _ => format!("{head}@{tail}"),
        },
        None => url.to_string(),
    }
}

/// UTC epoch milliseconds: how every timestamp is stored.
pub fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Reads a column, naming it in the error.
fn col<T: lite::Column>(row: &impl lite::Cols, name: &str) -> Result<T> {
    lite::Cols::try_get::<T>(row, "", name).map_err(StoreError::Db)
}

/// True when `e` is a unique-key violation on either backend.
fn is_unique_violation(e: &DbErr) -> bool {
    let s = e.to_string();
    s.contains("UNIQUE constraint failed")
        || s.contains("duplicate key value violates unique constraint")
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn database_conditions_are_told_from_their_codes() {
        use super::Unavailable;
        let sqlite = |c| Unavailable::of_code(c, true);
        let pg = |c| Unavailable::of_code(c, false);
        assert_eq!(sqlite("13"), Some(Unavailable::Full));
        assert_eq!(sqlite("517"), Some(Unavailable::Busy)); // SQLITE_BUSY_SNAPSHOT
        assert_eq!(sqlite("1032"), Some(Unavailable::ReadOnly)); // READONLY_DBMOVED
        assert_eq!(sqlite("2067"), None); // a unique key: the request's fault
        assert_eq!(pg("53100"), Some(Unavailable::Full));
        assert_eq!(pg("25006"), Some(Unavailable::ReadOnly));
        assert_eq!(pg("23505"), None);
        assert_eq!(pg("40P01"), None); // a deadlock: retried, not the machine
        // Waiting for one of this process's own connections is "busy" for the caller, but
        // the database did not say it was locked.
        let waited = super::StoreError::Sqlx(sqlx::Error::PoolTimedOut);
        assert_eq!(waited.unavailable(), Some(Unavailable::Busy));
        assert!(!waited.locked());
    }

    /// `.cargo/config.toml` compiles the bundled SQLite with a stable query planner (else a
    /// statement with `LIMIT ?` is prepared again on every execution) and without the global
    /// allocation statistics' mutex. A build without those flags fails here.
    #[tokio::test]
    async fn sqlite_is_built_with_a_stable_planner_and_no_allocation_statistics() {
        use sea_orm::{DbBackend, Statement};
        let (_dir, store) = crate::orders::tests::sqlite_store().await;
        let rows = store
            .read
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT compile_options FROM pragma_compile_options",
            ))
            .await
            .unwrap();
        let options: Vec<String> = rows
            .iter()
            .map(|r| super::col::<String>(r, "compile_options").unwrap())
            .collect();
        for wanted in [
            "ENABLE_QPSG",
            "DEFAULT_MEMSTATUS=0",
            "DEFAULT_PCACHE_INITSZ=512",
        ] {
            assert!(
                options.iter().any(|o| o == wanted),
                "SQLite is built without {wanted}: {options:?}"
            );
        }
        // SQLite does not list `HAVE_*` settings among its options; the flags it was compiled
        // with are those this crate was (both from `.cargo/config.toml`).
        let flags = option_env!("LIBSQLITE3_FLAGS").unwrap_or_default();
        assert!(
            flags.split_whitespace().any(|f| f == "-DHAVE_FDATASYNC=1"),
            "SQLite is built without HAVE_FDATASYNC: {flags:?}"
        );
    }

    /// The group-commit writer's connection keeps a large page cache; the readers, and the
    /// connection for writes outside the writer, a small one each.
    #[tokio::test]
    async fn the_writer_keeps_its_own_page_cache() {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        let (_dir, store) = crate::orders::tests::sqlite_store().await;
        let opts = super::StoreOptions::default();
        let sql = || {
            Statement::from_string(
                DbBackend::Sqlite,
                "SELECT cache_size FROM pragma_cache_size",
            )
        };
        let writer = store
            .writer
            .submit(move |tx| {
                Box::pin(async move {
                    let rows = tx.query_all(sql()).await?;
                    super::col::<i64>(
                        rows.first().ok_or(super::StoreError::NotFound)?,
                        "cache_size",
                    )
                })
            })
            .await
            .unwrap();
        let other = store.write.query_one_raw(sql()).await.unwrap().unwrap();
        let reader = store.read.query_one_raw(sql()).await.unwrap().unwrap();
        let small = -i64::from(opts.sqlite_cache_kib);
        assert_eq!(writer, -i64::from(opts.sqlite_writer_cache_kib));
        assert_eq!(super::col::<i64>(&other, "cache_size").unwrap(), small);
        assert_eq!(super::col::<i64>(&reader, "cache_size").unwrap(), small);
        assert!(opts.sqlite_writer_cache_kib > opts.sqlite_cache_kib);
    }

    #[test]
    fn database_urls_are_logged_without_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
