//! SQLite reads without a thread per connection.
//!
//! sqlx runs every SQLite connection on a thread of its own: each statement is a pool
//! checkout, a message to that thread and a wake-up each way. `jiesu-bench sqlite-calls`
//! measured a point read by key at 111 µs of CPU that way against 36 µs through rusqlite behind
//! one `spawn_blocking` hop and 5.5 µs on the calling thread. The store's reads on SQLite go
//! through [`Readers`]: read-only rusqlite connections kept in a small pool, each statement
//! prepared once per connection and run on a blocking thread of the runtime (or on the caller's
//! own thread where the store says the read is short, [`Reader::quick`]). Rows come back as
//! [`Row`]s, read by column name like sea-orm's `QueryResult` (see [`Cols`]); PostgreSQL keeps
//! sqlx and its rows.

use crate::{Result, StoreError};
use rusqlite::types::{Value as LiteValue, ValueRef};
use rusqlite::{Connection, OpenFlags};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, QueryResult, Statement, Value};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Read-only connections to one SQLite file, opened as needed; at most `keep` stay open idle.
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Conn>>,
    keep: usize,
    cache_kib: u32,
    busy_timeout: Duration,
    /// Statements (by a hash of their text) that ran past [`QUICK`] on the caller's thread,
    /// and when: they go to a blocking thread for [`SLOW_FOR`] (a list's statement is slow for
    /// some filters' values and quick for others, so none is marked for good).
    slow: Mutex<HashMap<u64, Instant>>,
    counts: Counts,
}

#[derive(Default)]
struct Counts {
    quick: AtomicU64,
    interrupted: AtomicU64,
    blocking: AtomicU64,
    opened: AtomicU64,
}

/// What the SQLite readers did since the store opened (all zero on PostgreSQL).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReaderStats {
    /// Statements that ran to their end on the calling thread.
    pub quick: u64,
    /// Statements stopped when past their CPU budget on the calling thread (each then ran on a
    /// blocking thread).
    pub interrupted: u64,
    /// Statements run on a blocking thread (the interrupted ones, those known to be slow,
    /// `VACUUM INTO`).
    pub blocking: u64,
    /// Connections opened (more than the pool keeps means reads waited for none).
    pub opened: u64,
}

/// How much CPU time a statement may take on the calling thread (a runtime worker) before it
/// is interrupted and run again on a blocking thread. A point read takes a few microseconds.
const QUICK: Duration = Duration::from_millis(1);

/// How long a statement that ran past [`QUICK`] keeps to the blocking threads.
const SLOW_FOR: Duration = Duration::from_secs(60);

/// How many slow statements are remembered (the lists' statements vary with their filters).
const SLOW_KEPT: usize = 4096;

/// Prepared statements a connection keeps (the store has a few hundred distinct statements;
/// the lists' are built from their filters).
const STATEMENT_CACHE: usize = 256;

/// A reader connection and the budget its progress handler enforces.
struct Conn {
    conn: Connection,
    budget: Arc<Budget>,
}

/// The CPU time a statement may take on the calling thread. Counted in the thread's own CPU
/// time, not the clock's, so that a worker preempted on a busy machine does not send a quick
/// statement to the blocking threads. The clock is first read at the handler's first call
/// (after 1,000 steps), so a point read never reads it.
#[derive(Default)]
struct Budget {
    armed: AtomicBool,
    /// The thread's CPU time at the handler's first call, in nanoseconds (0: not yet).
    start: AtomicU64,
}

impl Budget {
    fn arm(&self, on: bool) {
        self.start.store(0, Ordering::Relaxed);
        self.armed.store(on, Ordering::Relaxed);
    }

    /// True when the statement is to stop.
    fn spent(&self) -> bool {
        if !self.armed.load(Ordering::Relaxed) {
            return false;
        }
        let now = thread_cpu_nanos().max(1);
        match self.start.load(Ordering::Relaxed) {
            0 => {
                self.start.store(now, Ordering::Relaxed);
                false
            }
            start => now.saturating_sub(start) > QUICK.as_nanos() as u64,
        }
    }
}

fn thread_cpu_nanos() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

impl Readers {
    pub(crate) fn new(path: PathBuf, keep: usize, cache_kib: u32, busy_timeout: Duration) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
            keep: keep.max(1),
            cache_kib,
            busy_timeout,
            slow: Mutex::new(HashMap::new()),
            counts: Counts::default(),
        }
    }

    fn open(&self) -> rusqlite::Result<Conn> {
        self.counts.opened.fetch_add(1, Ordering::Relaxed);
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "cache_size", -i64::from(self.cache_kib))?;
        conn.pragma_update(None, "temp_store", "memory")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let budget = Arc::new(Budget::default());
        let b = budget.clone();
        // Every 1,000 virtual machine steps (a few microseconds): past the budget, stop.
        conn.progress_handler(1000, Some(move || b.spent()))?;
        Ok(Conn { conn, budget })
    }

    /// Runs `f` on an idle connection (a new one if none is idle) and keeps the connection;
    /// `quick`: SQLite stops the statement once it has taken [`QUICK`] of the thread's CPU.
    fn with<T>(
        &self,
        quick: bool,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let idle = self.idle.lock().map(|mut v| v.pop()).unwrap_or_default();
        let conn = match idle {
            Some(c) => c,
            None => self.open()?,
        };
        conn.budget.arm(quick);
        let out = f(&conn.conn);
        conn.budget.arm(false);
        if let Ok(mut v) = self.idle.lock()
            && v.len() < self.keep
        {
            v.push(conn);
        }
        Ok(out?)
    }

    /// Runs `stmt` and reads at most `max` rows: on the calling thread if it finishes within
    /// [`QUICK`], else (and from then on for this statement's text) on a blocking thread, so
    /// that a long scan never holds a runtime worker.
    async fn run(self: &Arc<Self>, stmt: Statement, max: usize) -> Result<Vec<LiteRow>> {
        let key = {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            stmt.sql.hash(&mut h);
            h.finish()
        };
        let known_slow = self
            .slow
            .lock()
            .map(|s| s.get(&key).is_some_and(|at| at.elapsed() < SLOW_FOR))
            .unwrap_or(true);
        if !known_slow {
            match self.with(true, |c| query(c, &stmt, max)) {
                Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
                    if e.code == rusqlite::ErrorCode::OperationInterrupted =>
                {
                    self.counts.interrupted.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut s) = self.slow.lock() {
                        if s.len() >= SLOW_KEPT {
                            s.clear();
                        }
                        s.insert(key, Instant::now());
                    }
                }
                done => {
                    self.counts.quick.fetch_add(1, Ordering::Relaxed);
                    // A loop of quick reads still lets the worker's other tasks run.
                    tokio::task::coop::consume_budget().await;
                    return done;
                }
            }
        }
        self.counts.blocking.fetch_add(1, Ordering::Relaxed);
        let me = self.clone();
        blocking(move || me.with(false, |c| query(c, &stmt, max))).await
    }

    fn stats(&self) -> ReaderStats {
        let c = &self.counts;
        ReaderStats {
            quick: c.quick.load(Ordering::Relaxed),
            interrupted: c.interrupted.load(Ordering::Relaxed),
            blocking: c.blocking.load(Ordering::Relaxed),
            opened: c.opened.load(Ordering::Relaxed),
        }
    }

    /// Closes the idle connections (those in use close when they come back past `keep`).
    fn close(&self) {
        if let Ok(mut v) = self.idle.lock() {
            v.clear();
        }
    }
}

/// Runs `f` on one of the runtime's blocking threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::ReadStopped(e.to_string()))?
}

/// The column names of one statement's rows, shared by its rows.
type Names = Arc<[String]>;

/// One row read through rusqlite: its values by column.
#[derive(Debug, Clone)]
pub struct LiteRow {
    names: Names,
    values: Vec<LiteValue>,
}

impl LiteRow {
    fn get<T: FromLite>(&self, name: &str) -> std::result::Result<T, DbErr> {
        let i = self
            .names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| DbErr::Type(format!("no column {name} in the row")))?;
        T::from_lite(&self.values[i]).map_err(|why| DbErr::Type(format!("column {name}: {why}")))
    }
}

/// Runs `stmt` on `conn` and reads its rows, at most `max`.
pub(crate) fn query(
    conn: &Connection,
    stmt: &Statement,
    max: usize,
) -> rusqlite::Result<Vec<LiteRow>> {
    let mut st = conn.prepare_cached(&stmt.sql)?;
    bind(&mut st, stmt)?;
    let n = st.column_count();
    let names: Names = st.column_names().into_iter().map(String::from).collect();
    let mut rows = st.raw_query();
    let mut out = Vec::new();
    while out.len() < max
        && let Some(row) = rows.next()?
    {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(owned(row.get_ref(i)?, i)?);
        }
        out.push(LiteRow {
            names: names.clone(),
            values,
        });
    }
    Ok(out)
}

fn owned(v: ValueRef<'_>, column: usize) -> rusqlite::Result<LiteValue> {
    Ok(match v {
        ValueRef::Null => LiteValue::Null,
        ValueRef::Integer(i) => LiteValue::Integer(i),
        ValueRef::Real(f) => LiteValue::Real(f),
        ValueRef::Text(t) => LiteValue::Text(
            String::from_utf8(t.to_vec())
                .map_err(|e| rusqlite::Error::Utf8Error(column, e.utf8_error()))?,
        ),
        ValueRef::Blob(b) => LiteValue::Blob(b.to_vec()),
    })
}

/// Binds a sea-orm statement's values: `$N` and `?N` take the N-th value, anonymous `?`s the
/// values in order (what `orders::Sql` writes on SQLite).
pub(crate) fn bind(
    st: &mut rusqlite::CachedStatement<'_>,
    stmt: &Statement,
) -> rusqlite::Result<()> {
    let values: &[Value] = stmt.values.as_ref().map(|v| v.0.as_slice()).unwrap_or(&[]);
    let count = st.parameter_count();
    for i in 1..=count {
        let at = match st.parameter_name(i) {
            Some(name) => name[1..]
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1))
                .ok_or_else(|| {
                    rusqlite::Error::InvalidParameterName(format!("{name}: not $N or ?N"))
                })?,
            None => i - 1,
        };
        let v = values
            .get(at)
            .ok_or(rusqlite::Error::InvalidParameterCount(values.len(), count))?;
        bind_one(st, i, v)?;
    }
    Ok(())
}

fn bind_one(st: &mut rusqlite::CachedStatement<'_>, i: usize, v: &Value) -> rusqlite::Result<()> {
    use rusqlite::types::Null;
    macro_rules! opt {
        ($x:expr) => {
            match $x {
                Some(x) => st.raw_bind_parameter(i, x),
                None => st.raw_bind_parameter(i, Null),
            }
        };
    }
    match v {
        Value::Bool(x) => opt!(x),
        Value::TinyInt(x) => opt!(x),
        Value::SmallInt(x) => opt!(x),
        Value::Int(x) => opt!(x),
        Value::BigInt(x) => opt!(x),
        Value::TinyUnsigned(x) => opt!(x),
        Value::SmallUnsigned(x) => opt!(x),
        Value::Unsigned(x) => opt!(x),
        Value::BigUnsigned(x) => opt!(x.map(|x| x as i64)),
        Value::Float(x) => opt!(x),
        Value::Double(x) => opt!(x),
        Value::String(x) => opt!(x.as_deref()),
        Value::Char(x) => opt!(x.map(String::from)),
        Value::Bytes(x) => opt!(x.as_deref()),
        Value::Json(x) => opt!(x.as_ref().map(|j| j.to_string())),
        other => Err(rusqlite::Error::ToSqlConversionFailure(
            format!("a value the store does not bind on SQLite: {other:?}").into(),
        )),
    }
}

/// A column's value as the type asked for, with SQLite's own leniency: integers read as
/// booleans and floats, text as bytes.
pub trait FromLite: Sized {
    fn from_lite(v: &LiteValue) -> std::result::Result<Self, String>;
}

fn wrong(v: &LiteValue, want: &str) -> String {
    let got = match v {
        LiteValue::Null => "NULL",
        LiteValue::Integer(_) => "an integer",
        LiteValue::Real(_) => "a real",
        LiteValue::Text(_) => "text",
        LiteValue::Blob(_) => "a blob",
    };
    format!("{got}, not {want}")
}

macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl FromLite for $t {
            fn from_lite(v: &LiteValue) -> std::result::Result<Self, String> {
                match v {
                    LiteValue::Integer(i) => <$t>::try_from(*i).map_err(|e| e.to_string()),
                    other => Err(wrong(other, stringify!($t))),
                }
            }
        }
    )*};
}
from_integer!(i8, i16, i32, i64, u8, u16, u32, u64);

impl FromLite for bool {
    fn from_lite(v: &LiteValue) -> std::result::Result<Self, String> {
        match v {
            LiteValue::Integer(i) => Ok(*i != 0),
            other => Err(wrong(other, "a boolean")),
        }
    }
}

impl FromLite for f64 {
    fn from_lite(v: &LiteValue) -> std::result::Result<Self, String> {
        match v {
            LiteValue::Real(f) => Ok(*f),
            LiteValue::Integer(i) => Ok(*i as f64),
            other => Err(wrong(other, "a number")),
        }
    }
}

impl FromLite for f32 {
    fn from_lite(v: &LiteValue) -> std::result::Result<Self, String> {
        f64::from_lite(v).map(|f| f as f32)
    }
}

impl FromLite for String {
    fn from_lite(v: &LiteValue) -> std::result::Result<Self, String> {
        match v {
            LiteValue::Text(s) => Ok(s.clone()),
            other => Err(wrong(other, "text")),
        }
    }
}

impl FromLite for Vec<u8> {
    fn from_lite(v: &LiteValue) -> std::result::Result<Self, String> {
        match v {
            LiteValue::Blob(b) => Ok(b.clone()),
            LiteValue::Text(s) => Ok(s.as_bytes().to_vec()),
            other => Err(wrong(other, "bytes")),
        }
    }
}

impl FromLite for serde_json::Value {
    fn from_lite(v: &LiteValue) -> std::result::Result<Self, String> {
        match v {
            LiteValue::Text(s) => serde_json::from_str(s).map_err(|e| e.to_string()),
            other => Err(wrong(other, "JSON text")),
        }
    }
}

impl<T: FromLite> FromLite for Option<T> {
    fn from_lite(v: &LiteValue) -> std::result::Result<Self, String> {
        match v {
            LiteValue::Null => Ok(None),
            v => T::from_lite(v).map(Some),
        }
    }
}

/// A type the store reads from a column on either backend.
pub(crate) trait Column: sea_orm::TryGetable + FromLite {}
impl<T: sea_orm::TryGetable + FromLite> Column for T {}

/// A row read by column name: sea-orm's `QueryResult` (PostgreSQL, and SQLite inside the
/// writer's transactions) or a [`Row`] of the readers.
pub(crate) trait Cols {
    /// Like `QueryResult::try_get` (the first argument, a column prefix, is always "").
    fn try_get<T: Column>(&self, pre: &str, name: &str) -> std::result::Result<T, DbErr>;
}

impl Cols for QueryResult {
    fn try_get<T: Column>(&self, pre: &str, name: &str) -> std::result::Result<T, DbErr> {
        QueryResult::try_get(self, pre, name)
    }
}

/// A row from [`Reader`].
#[derive(Debug)]
pub(crate) enum Row {
    Sea(QueryResult),
    Lite(LiteRow),
}

impl Cols for Row {
    fn try_get<T: Column>(&self, pre: &str, name: &str) -> std::result::Result<T, DbErr> {
        match self {
            Row::Sea(r) => r.try_get(pre, name),
            Row::Lite(r) => r.get(name),
        }
    }
}

/// Every row of `stmt` through sea-orm (a pool or a transaction).
pub(crate) async fn sea_rows(c: &impl ConnectionTrait, stmt: Statement) -> Result<Vec<Row>> {
    Ok(c.query_all_raw(stmt)
        .await?
        .into_iter()
        .map(Row::Sea)
        .collect())
}

/// Where the store's reads go: sqlx's pool on PostgreSQL, [`Readers`] on SQLite.
#[derive(Clone)]
pub(crate) enum Reader {
    Sea(DatabaseConnection),
    Lite(Arc<Readers>),
}

impl Reader {
    /// Every row of `stmt`.
    pub(crate) async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<Row>> {
        match self {
            Reader::Sea(db) => sea_rows(db, stmt).await,
            Reader::Lite(r) => Ok(r
                .run(stmt, usize::MAX)
                .await?
                .into_iter()
                .map(Row::Lite)
                .collect()),
        }
    }

    /// The first row of `stmt`, if any.
    pub(crate) async fn query_one_raw(&self, stmt: Statement) -> Result<Option<Row>> {
        match self {
            Reader::Sea(db) => Ok(db.query_one_raw(stmt).await?.map(Row::Sea)),
            Reader::Lite(r) => Ok(r.run(stmt, 1).await?.pop().map(Row::Lite)),
        }
    }

    /// Runs statements without values (`VACUUM INTO`, a ping).
    pub(crate) async fn execute_unprepared(&self, sql: &str) -> Result<()> {
        match self {
            Reader::Sea(db) => {
                db.execute_unprepared(sql).await?;
            }
            Reader::Lite(r) => {
                let r = r.clone();
                let sql = sql.to_string();
                r.counts.blocking.fetch_add(1, Ordering::Relaxed);
                blocking(move || r.with(false, |c| c.execute_batch(&sql))).await?;
            }
        }
        Ok(())
    }

    pub(crate) fn stats(&self) -> ReaderStats {
        match self {
            Reader::Sea(_) => ReaderStats::default(),
            Reader::Lite(r) => r.stats(),
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Reader::Sea(db) => {
                let _ = db.clone().close().await;
            }
            Reader::Lite(r) => r.close(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::DbBackend;

    fn readers() -> (tempfile::TempDir, Arc<Readers>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let c = Connection::open(&path).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, flag INTEGER, data BLOB, score REAL);
             INSERT INTO t VALUES (1, 'one', 1, x'0102', 1.5), (2, '二', 0, NULL, NULL), (3, 'three', 1, NULL, 2);",
        )
        .unwrap();
        let r = Arc::new(Readers::new(path, 2, 1024, Duration::from_secs(1)));
        (dir, r)
    }

    fn stmt(sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
    }

    #[tokio::test]
    async fn numbered_and_anonymous_parameters_take_their_values() {
        let (_dir, r) = readers();
        let reader = Reader::Lite(r);
        // `$2` comes first in the text: SQLite numbers it 1, the value is still the second.
        let rows = reader
            .query_all_raw(stmt(
                "SELECT id FROM t WHERE name <> $2 AND id >= $1 ORDER BY id",
                vec![2i64.into(), "three".into()],
            ))
            .await
            .unwrap();
        let ids: Vec<i64> = rows.iter().map(|r| crate::col(r, "id").unwrap()).collect();
        assert_eq!(ids, vec![2]);
        let rows = reader
            .query_all_raw(stmt(
                "SELECT id FROM t WHERE id > ? AND flag = ? ORDER BY id",
                vec![1i64.into(), true.into()],
            ))
            .await
            .unwrap();
        let ids: Vec<i64> = rows.iter().map(|r| crate::col(r, "id").unwrap()).collect();
        assert_eq!(ids, vec![3]);
        let err = reader
            .query_all_raw(stmt(
                "SELECT id FROM t WHERE id = $1 AND name = $2",
                vec![1i64.into()],
            ))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("parameter"), "{err}");
    }

    #[tokio::test]
    async fn columns_read_as_the_store_asks_and_name_themselves_when_they_cannot() {
        let (_dir, r) = readers();
        let reader = Reader::Lite(r);
        let rows = reader
            .query_all_raw(stmt("SELECT * FROM t ORDER BY id", vec![]))
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
        let first = &rows[0];
        assert_eq!(crate::col::<String>(first, "name").unwrap(), "one");
        assert!(crate::col::<bool>(first, "flag").unwrap());
        assert_eq!(crate::col::<i32>(first, "id").unwrap(), 1);
        assert_eq!(crate::col::<Vec<u8>>(first, "data").unwrap(), vec![1, 2]);
        assert_eq!(crate::col::<f64>(first, "score").unwrap(), 1.5);
        // Text reads as its bytes (packed order states are blobs, older ones text).
        assert_eq!(
            crate::col::<Vec<u8>>(&rows[1], "name").unwrap(),
            "二".as_bytes()
        );
        assert_eq!(
            crate::col::<Option<Vec<u8>>>(&rows[1], "data").unwrap(),
            None
        );
        assert_eq!(crate::col::<f64>(&rows[2], "score").unwrap(), 2.0);
        let err = crate::col::<String>(&rows[1], "data")
            .unwrap_err()
            .to_string();
        assert!(err.contains("data") && err.contains("NULL"), "{err}");
        let err = crate::col::<i64>(first, "name").unwrap_err().to_string();
        assert!(err.contains("name") && err.contains("text"), "{err}");
        let err = crate::col::<i64>(first, "missing").unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
        // One row asked for, one read.
        let one = reader
            .query_one_raw(stmt("SELECT id FROM t ORDER BY id DESC", vec![]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(crate::col::<i64>(&one, "id").unwrap(), 3);
        assert!(
            reader
                .query_one_raw(stmt("SELECT id FROM t WHERE id > 9", vec![]))
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn readers_cannot_write_and_keep_few_connections() {
        let (_dir, r) = readers();
        let reader = Reader::Lite(r.clone());
        let err = reader
            .execute_unprepared("DELETE FROM t")
            .await
            .unwrap_err();
        assert_eq!(
            err.unavailable(),
            Some(crate::Unavailable::ReadOnly),
            "{err}"
        );
        let rows = reader
            .query_all_raw(stmt("SELECT COUNT(*) AS n FROM t", vec![]))
            .await
            .unwrap();
        assert_eq!(crate::col::<i64>(&rows[0], "n").unwrap(), 3);
        // Eight reads at once open what they need; two stay open.
        let reads = (0..8).map(|_| {
            let reader = reader.clone();
            tokio::spawn(async move {
                reader
                    .query_all_raw(stmt("SELECT id FROM t", vec![]))
                    .await
                    .map(|rows| rows.len())
            })
        });
        for read in reads {
            assert_eq!(read.await.unwrap().unwrap(), 3);
        }
        assert!(r.idle.lock().unwrap().len() <= 2);
        reader.close().await;
        assert!(r.idle.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_long_read_leaves_the_calling_thread_and_still_answers() {
        let (_dir, r) = readers();
        let reader = Reader::Lite(r.clone());
        let long = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
                    SELECT COUNT(*) AS n FROM c";
        let caller = std::thread::current().id();
        let started = Instant::now();
        let rows = reader.query_all_raw(stmt(long, vec![])).await.unwrap();
        assert!(
            started.elapsed() > QUICK,
            "the statement is long enough to be interrupted"
        );
        assert_eq!(crate::col::<i64>(&rows[0], "n").unwrap(), 3_000_000);
        assert_eq!(
            r.slow.lock().unwrap().len(),
            1,
            "the long statement is remembered"
        );
        let after_long = reader.stats();
        assert_eq!((after_long.interrupted, after_long.blocking), (1, 1));
        // A quick statement runs on the caller's thread and is not remembered.
        let quick = "SELECT name FROM t WHERE id = 1";
        let rows = reader.query_all_raw(stmt(quick, vec![])).await.unwrap();
        assert_eq!(crate::col::<String>(&rows[0], "name").unwrap(), "one");
        assert_eq!(std::thread::current().id(), caller);
        assert_eq!(r.slow.lock().unwrap().len(), 1);
        assert_eq!(reader.stats().quick, after_long.quick + 1);
        // The budget is lifted once a read is done: the same connection runs the long
        // statement on a blocking thread to its end.
        let rows = reader.query_all_raw(stmt(long, vec![])).await.unwrap();
        assert_eq!(crate::col::<i64>(&rows[0], "n").unwrap(), 3_000_000);
        let end = reader.stats();
        assert_eq!(
            (end.interrupted, end.blocking),
            (1, 2),
            "known slow: straight to a blocking thread"
        );
        assert_eq!(end.opened, 1, "one read at a time needs one connection");
    }

    #[test]
    fn the_budget_counts_the_threads_cpu_not_the_clock() {
        let b = Budget::default();
        assert!(!b.spent(), "unarmed: never spent");
        b.arm(true);
        assert!(!b.spent(), "the first call only reads the clock");
        // Off the CPU (as a preempted worker would be) for ten times the budget: not spent.
        std::thread::sleep(QUICK * 10);
        assert!(!b.spent());
        // On the CPU past the budget: spent.
        let t0 = thread_cpu_nanos();
        let mut x = 0u64;
        while thread_cpu_nanos() - t0 < 2 * QUICK.as_nanos() as u64 {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(b.spent());
        b.arm(false);
        assert!(!b.spent());
    }
}
