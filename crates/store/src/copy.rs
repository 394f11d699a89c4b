//! `jiesu copy`: one tenant's data from the embedded SQLite database to PostgreSQL, when a
//! centre outgrows one machine. Every table that holds the tenant's rows is copied with its
//! ids (so order numbers, links and hash chains stay as they are) inside one PostgreSQL
//! transaction — all or nothing — read from one SQLite snapshot, so a server still running
//! on the source cannot tear the copy. The identity counters of PostgreSQL are moved past
//! the copied ids; the copy is then checked table by table and the orders' hash chains are
//! verified on the target.

use crate::{Result, Store, StoreError, StoreOptions};
use sqlx::{Connection, Row, ValueRef};

/// Rows written per INSERT (PostgreSQL takes at most 65,535 parameters a statement).
const ROWS_PER_INSERT: usize = 500;
/// Tables that are the nodes', not a tenant's.
const NODE_TABLES: [&str; 3] = ["jiesu_migrations", "index_nodes", "pii_keys"];

/// What the copy moved.
#[derive(Debug, Clone, Default)]
pub struct CopyReport {
    /// Rows per table, in the order they were copied.
    pub tables: Vec<(String, u64)>,
    pub rows: u64,
    /// Orders whose hash chains were verified on the target.
    pub orders_verified: u64,
}

/// Progress of a copy: the rows to copy, then each table as it is done.
pub trait CopyProgress {
    fn total(&mut self, rows: u64);
    fn table(&mut self, name: &str, rows: u64);
}

impl CopyProgress for () {
    fn total(&mut self, _: u64) {}
    fn table(&mut self, _: &str, _: u64) {}
}

/// SQL made of table and column names read from both databases' catalogues (checked to be
/// plain identifiers) and placeholders: no value is ever spliced in.
fn safe(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

fn plain_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn refused(message: String) -> StoreError {
    StoreError::Copy(message)
}

/// A column's PostgreSQL type, as the copy binds it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Big,
    Int,
    Text,
    Bool,
    Bytes,
    Float,
}

fn kind_of(pg_type: &str) -> Option<Kind> {
    Some(match pg_type {
        "bigint" => Kind::Big,
        "integer" => Kind::Int,
        "text" | "character varying" => Kind::Text,
        "boolean" => Kind::Bool,
        "bytea" => Kind::Bytes,
        "double precision" | "real" => Kind::Float,
        _ => return None,
    })
}

/// Copies tenant `code` from the SQLite database at `source` to the PostgreSQL database at
/// `target` (migrated first). Refuses, changing nothing, when the target already has the
/// tenant or rows with the ids to be copied.
pub async fn copy_tenant(
    source: &str,
    target: &str,
    code: &str,
    pii: std::sync::Arc<crate::pii::PiiKeys>,
    progress: &mut dyn CopyProgress,
) -> Result<CopyReport> {
    if !source.starts_with("sqlite:") {
        return Err(refused(
            "the source must be a SQLite database (sqlite://…)".into(),
        ));
    }
    if !(target.starts_with("postgres:") || target.starts_with("postgresql:")) {
        return Err(refused(
            "the target must be a PostgreSQL database (postgres://…)".into(),
        ));
    }
    // Both schemas current: the source is brought up to this version's, the target made.
    let opts = StoreOptions {
        pii,
        ..StoreOptions::default()
    };
    Store::open(source, &opts).await?.close().await;
    let target_store = Store::open(target, &opts).await?;
    // The copied personal data stays sealed: the target records the keys that open it.
    target_store.check_pii_keys().await?;

    let mut src = sqlx::SqliteConnection::connect(source).await?;
    // One snapshot for the whole copy (WAL): a server writing meanwhile is not seen.
    sqlx::raw_sql("BEGIN").execute(&mut src).await?;
    let tenant: Option<i64> = sqlx::query_scalar("SELECT id FROM tenants WHERE code = ?")
        .bind(code)
        .fetch_optional(&mut src)
        .await?;
    let Some(tenant_id) = tenant else {
        return Err(refused(format!("the source has no tenant “{code}”")));
    };

    let mut dst = sqlx::PgConnection::connect(target).await?;
    let taken: Option<String> =
        sqlx::query_scalar("SELECT code FROM tenants WHERE id = $1 OR code = $2")
            .bind(tenant_id)
            .bind(code)
            .fetch_optional(&mut dst)
            .await?;
    if let Some(c) = taken {
        return Err(refused(format!(
            "the target already has tenant “{c}” (code or id {tenant_id})"
        )));
    }

    // Tables in the order they were created: a table's foreign keys point at earlier ones.
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid",
    )
    .fetch_all(&mut src)
    .await?;
    let mut tables = Vec::new();
    for name in names
        .into_iter()
        .filter(|n| !NODE_TABLES.contains(&n.as_str()))
    {
        if !plain_identifier(&name) {
            return Err(refused(format!("unexpected table “{name}” in the source")));
        }
        let cols: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(&name)
        .fetch_all(&mut dst)
        .await?;
        let mut typed = Vec::new();
        for (c, t) in cols {
            if !plain_identifier(&c) {
                return Err(refused(format!("unexpected column “{c}” in {name}")));
            }
            let k = kind_of(&t)
                .ok_or_else(|| refused(format!("{name}.{c}: type {t} is not copied")))?;
            typed.push((c, k));
        }
        let key = if name == "tenants" { "id" } else { "tenant_id" };
        if !typed.iter().any(|(c, _)| c == key) {
            return Err(refused(format!("table {name} has no {key}")));
        }
        let n: i64 =
            sqlx::query_scalar(safe(format!("SELECT COUNT(*) FROM {name} WHERE {key} = ?")))
                .bind(tenant_id)
                .fetch_one(&mut src)
                .await?;
        // Ids are one counter per table on PostgreSQL: the copied ones must be free there.
        if name != "tenants" && typed.iter().any(|(c, _)| c == "id") && n > 0 {
            let (lo, hi): (i64, i64) = sqlx::query_as(safe(format!(
                "SELECT MIN(id), MAX(id) FROM {name} WHERE tenant_id = ?"
            )))
            .bind(tenant_id)
            .fetch_one(&mut src)
            .await?;
            let in_range: i64 = sqlx::query_scalar(safe(format!(
                "SELECT COUNT(*) FROM {name} WHERE id BETWEEN $1 AND $2"
            )))
            .bind(lo)
            .bind(hi)
            .fetch_one(&mut dst)
            .await?;
            // Tenants copied from one source never share an id; others might.
            if in_range > 0 {
                let ids: Vec<i64> =
                    sqlx::query_scalar(safe(format!("SELECT id FROM {name} WHERE tenant_id = ?")))
                        .bind(tenant_id)
                        .fetch_all(&mut src)
                        .await?;
                let clash: i64 = sqlx::query_scalar(safe(format!(
                    "SELECT COUNT(*) FROM {name} WHERE id = ANY($1)"
                )))
                .bind(&ids)
                .fetch_one(&mut dst)
                .await?;
                if clash > 0 {
                    return Err(refused(format!(
                        "the target's {name} already has {clash} rows with ids the copy needs (ids {lo}…{hi}); copy into a new database"
                    )));
                }
            }
        }
        tables.push((name, key, typed, n as u64));
    }
    progress.total(tables.iter().map(|t| t.3).sum());

    let mut report = CopyReport::default();
    let mut tx = dst.begin().await?;
    for (name, key, cols, expected) in &tables {
        let list = cols
            .iter()
            .map(|(c, _)| c.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let order = if cols.iter().any(|(c, _)| c == "id") {
            " ORDER BY id"
        } else {
            ""
        };
        let rows = sqlx::query(safe(format!(
            "SELECT {list} FROM {name} WHERE {key} = ?{order}"
        )))
        .bind(tenant_id)
        .fetch_all(&mut src)
        .await?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut sql = format!("INSERT INTO {name} ({list}) VALUES ");
            let mut p = 0;
            for (i, _) in chunk.iter().enumerate() {
                sql.push_str(if i == 0 { "(" } else { ", (" });
                for j in 0..cols.len() {
                    p += 1;
                    if j > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&format!("${p}"));
                }
                sql.push(')');
            }
            let mut q = sqlx::query(safe(sql));
            for r in chunk {
                for (j, (c, k)) in cols.iter().enumerate() {
                    let null = r.try_get_raw(j)?.is_null();
                    q = match k {
                        Kind::Big => q.bind(if null {
                            None
                        } else {
                            Some(r.try_get::<i64, _>(j)?)
                        }),
                        Kind::Int => q.bind(if null {
                            None
                        } else {
                            Some(i32::try_from(r.try_get::<i64, _>(j)?).map_err(|_| {
                                refused(format!("{name}.{c}: a value out of range"))
                            })?)
                        }),
                        // Read as bytes, as a text column of SQLite may hold a packed order
                        // state, which goes to PostgreSQL as its text.
                        Kind::Text => q.bind(if null {
                            None
                        } else {
                            Some(crate::packed::unpack(r.try_get::<Vec<u8>, _>(j)?)?)
                        }),
                        Kind::Bool => q.bind(if null {
                            None
                        } else {
                            Some(r.try_get::<i64, _>(j)? != 0)
                        }),
                        Kind::Bytes => q.bind(if null {
                            None
                        } else {
                            Some(r.try_get::<Vec<u8>, _>(j)?)
                        }),
                        Kind::Float => q.bind(if null {
                            None
                        } else {
                            Some(r.try_get::<f64, _>(j)?)
                        }),
                    };
                }
            }
            q.execute(&mut *tx).await?;
        }
        let n = rows.len() as u64;
        if n != *expected {
            return Err(refused(format!(
                "{name}: read {n} rows, counted {expected}"
            )));
        }
        if cols.iter().any(|(c, _)| c == "id") {
            // Identity columns continue after the highest id (never below what was there).
            sqlx::query(safe(format!(
                "SELECT setval(s, GREATEST((SELECT COALESCE(MAX(id), 0) FROM {name}), 1)) \
                 FROM pg_get_serial_sequence('{name}', 'id') AS s WHERE s IS NOT NULL"
            )))
            .execute(&mut *tx)
            .await?;
        }
        progress.table(name, n);
        report.rows += n;
        report.tables.push((name.clone(), n));
    }
    // Checked before it counts: the target holds as many rows of the tenant as the source,
    // table by table (a failed check rolls everything back).
    for (name, key, _, expected) in &tables {
        let n: i64 = sqlx::query_scalar(safe(format!(
            "SELECT COUNT(*) FROM {name} WHERE {key} = $1"
        )))
        .bind(tenant_id)
        .fetch_one(&mut *tx)
        .await?;
        if n as u64 != *expected {
            return Err(refused(format!(
                "check failed: {name} has {n} rows of the tenant on the target, {expected} on the source"
            )));
        }
    }
    tx.commit().await?;
    sqlx::raw_sql("COMMIT").execute(&mut src).await?;

    // The orders' hash chains, recomputed from the copied events.
    let verified = target_store.verify(|_| {}).await?;
    if let Some(p) = verified.problems.first() {
        return Err(refused(format!(
            "check failed: order {} does not verify on the target ({} problems)",
            p.number,
            verified.problems.len()
        )));
    }
    report.orders_verified = verified.orders;
    target_store.close().await;
    Ok(report)
}
