#![allow(clippy::unwrap_used)]
//! One schema on both backends (issue 9): after the migrations, SQLite and PostgreSQL have the
//! same tables, the same columns with the same types and NOT NULL rules, and the same
//! indexes — apart from the differences the dialect placeholders make on purpose, listed here.

mod common;

use common::{PgDb, postgres_url};
use jiesu_store::{Store, StoreOptions};
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};

/// Table → column → (type, not null).
type Columns = BTreeMap<String, BTreeMap<String, (String, bool)>>;

/// A declared SQLite type in PostgreSQL's words.
fn pg_type(sqlite: &str) -> String {
    match sqlite.to_ascii_uppercase().as_str() {
        "BIGINT" => "bigint",
        "INTEGER" => "integer",
        "TEXT" => "text",
        "BOOLEAN" => "boolean",
        "BLOB" => "bytea",
        "DOUBLE PRECISION" | "DOUBLE" | "REAL" => "double precision",
        other => return format!("unknown {other}"),
    }
    .to_string()
}

async fn sqlite_schema(path: &std::path::Path) -> (Columns, BTreeSet<String>) {
    let url = format!("sqlite://{}", path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut cols = Columns::new();
    for t in tables {
        let rows = sqlx::query("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)")
            .bind(&t)
            .fetch_all(&pool)
            .await
            .unwrap();
        let mut m = BTreeMap::new();
        for r in rows {
            let name: String = r.get("name");
            let ty: String = r.get("type");
            let not_null: i64 = r.get("notnull");
            let pk: i64 = r.get("pk");
            // `id INTEGER PRIMARY KEY` is the rowid: a 64-bit integer that is never NULL.
            let (ty, not_null) = if pk == 1 && name == "id" && ty.eq_ignore_ascii_case("INTEGER") {
                ("bigint".to_string(), true)
            } else {
                (pg_type(&ty), not_null == 1 || pk > 0)
            };
            m.insert(name, (ty, not_null));
        }
        cols.insert(t, m);
    }
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex_%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    (cols, indexes.into_iter().collect())
}

async fn postgres_schema(url: &str) -> (Columns, BTreeSet<String>) {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let rows = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS ty, is_nullable::text AS n \
         FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut cols = Columns::new();
    for r in rows {
        cols.entry(r.get("t")).or_default().insert(
            r.get("c"),
            (r.get::<String, _>("ty"), r.get::<String, _>("n") == "NO"),
        );
    }
    // Indexes made by CREATE INDEX, not by key constraints.
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT i.indexname::text FROM pg_indexes i WHERE i.schemaname = 'public' \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    (cols, indexes.into_iter().collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgresql_have_one_schema() {
    let Some(base) = postgres_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jiesu.db");
    let s = Store::open(
        &format!("sqlite://{}", file.display()),
        &StoreOptions::default(),
    )
    .await
    .unwrap();
    s.close().await;
    let pg = PgDb::create(&base).await;
    let p = Store::open(&pg.url, &StoreOptions::default())
        .await
        .unwrap();
    p.close().await;

    let (lite_cols, lite_idx) = sqlite_schema(&file).await;
    let (pg_cols, pg_idx) = postgres_schema(&pg.url).await;
    assert!(lite_cols.len() > 30, "{} tables", lite_cols.len());
    assert_eq!(
        lite_cols.keys().collect::<Vec<_>>(),
        pg_cols.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    // (The migration log is SeaORM's, in each backend's own types.)
    for (table, cols) in lite_cols.iter().filter(|t| t.0 != "jiesu_migrations") {
        assert_eq!(cols, &pg_cols[table], "columns of {table}");
    }
    // Ready to be distributed by tenant (Citus): every table but the nodes' own has
    // `tenant_id`, and every primary key and unique key contains it.
    let node_tables = ["tenants", "index_nodes", "pii_keys", "jiesu_migrations"];
    for (table, cols) in pg_cols
        .iter()
        .filter(|t| !node_tables.contains(&t.0.as_str()))
    {
        assert!(cols.contains_key("tenant_id"), "{table} has no tenant_id");
    }
    let pool = sqlx::PgPool::connect(&pg.url).await.unwrap();
    let keys: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT t.relname::text, i.relname::text, pg_get_indexdef(x.indexrelid) \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = 'public' AND x.indisunique",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert!(keys.len() > 30, "{keys:?}");
    for (table, index, def) in keys.iter().filter(|k| !node_tables.contains(&k.0.as_str())) {
        let cols = def.split_once(" USING ").map_or("", |d| d.1);
        assert!(
            cols.contains("tenant_id"),
            "unique key {index} of {table} lacks tenant_id: {def}"
        );
    }
    // PostgreSQL reads the search outbox in id order across tenants through an index of its
    // own; SQLite's id is the rowid.
    let pg_only: BTreeSet<String> = ["search_outbox_seq".to_string()].into();
    assert_eq!(
        lite_idx,
        pg_idx.difference(&pg_only).cloned().collect(),
        "the same indexes"
    );
}
