#![allow(clippy::unwrap_used)]
//! The wrapped page cache on real SQLite databases: truncations with nothing to drop are
//! skipped, also after a rebalance moved a page through the lock-byte page's key, and every
//! truncation that drops pages still happens (a rolled-back growth, a vacuum). Each test
//! installs the wrapper first: this binary opens no connection before.

use jiesu_pcache::{Status, counts, install};
use rusqlite::Connection;

fn open(path: &std::path::Path) -> Connection {
    let c = Connection::open(path).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536;
         CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v BLOB NOT NULL);
         CREATE INDEX IF NOT EXISTS t_k ON t (k);",
    )
    .unwrap();
    c
}

/// Keys in no order (a linear congruential sequence), so inserts split pages all over the
/// index and rebalance them.
fn key(i: u64) -> String {
    format!(
        "{:016x}",
        i.wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407)
    )
}

fn insert(c: &mut Connection, from: u64, rows: u64) {
    let tx = c.transaction().unwrap();
    {
        let mut s = tx
            .prepare_cached("INSERT INTO t (id, k, v) VALUES (?1, ?2, ?3)")
            .unwrap();
        for i in from..from + rows {
            s.execute(rusqlite::params![
                i as i64,
                key(i),
                vec![(i % 251) as u8; 300]
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

/// Row count, and a checksum over every row, read on a fresh connection; and the integrity
/// check's verdict.
fn contents(path: &std::path::Path) -> (i64, i64, String) {
    let c = Connection::open(path).unwrap();
    let (n, sum): (i64, i64) = c
        .query_row(
            "SELECT count(*), coalesce(sum(id * length(k) + unicode(k) + length(v) + unicode(v)), 0) FROM t",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let check: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    (n, sum, check)
}

#[test]
fn truncations_with_nothing_to_drop_are_skipped_and_the_data_stays() {
    assert_eq!(install(), Status::Active);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let mut c = open(&path);
    let before = counts();
    for round in 0..200 {
        insert(&mut c, round * 100, 100);
    }
    let after = counts();
    assert!(
        after.moved_up > before.moved_up,
        "no rebalance moved a page above the cache's keys: {before:?} → {after:?}"
    );
    assert!(
        after.skipped >= before.skipped + 150,
        "commits' truncations were not skipped: {before:?} → {after:?}"
    );
    drop(c);
    let (n, _, check) = contents(&path);
    assert_eq!((n, check.as_str()), (20_000, "ok"));
}

#[test]
fn truncations_that_drop_pages_still_happen() {
    assert_eq!(install(), Status::Active);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    let mut c = open(&path);
    insert(&mut c, 0, 2_000);
    let (_, sum_before, _) = contents(&path);

    // A transaction that grows the file by hundreds of pages, rolled back: its pages above
    // the old end must leave the cache, or the next growth would reuse their content.
    let passed = counts().passed;
    c.execute_batch("BEGIN").unwrap();
    {
        let mut s = c
            .prepare("INSERT INTO t (id, k, v) VALUES (?1, ?2, ?3)")
            .unwrap();
        for i in 1_000_000..1_005_000u64 {
            s.execute(rusqlite::params![i as i64, key(i), vec![7u8; 300]])
                .unwrap();
        }
    }
    c.execute_batch("ROLLBACK").unwrap();
    assert!(
        counts().passed > passed,
        "the rollback's truncation was skipped"
    );
    let (n, sum, check) = contents(&path);
    assert_eq!((n, sum, check.as_str()), (2_000, sum_before, "ok"));

    // Grow again, through the pages the rolled-back transaction had made.
    insert(&mut c, 2_000, 5_000);
    let (n, _, check) = contents(&path);
    assert_eq!((n, check.as_str()), (7_000, "ok"));

    // Shrink the file: the pages beyond its new end leave the cache.
    c.execute("DELETE FROM t WHERE id % 3 <> 0", []).unwrap();
    c.execute_batch("VACUUM").unwrap();
    insert(&mut c, 10_000, 3_000);
    let (n, _, check) = contents(&path);
    assert_eq!((n, check.as_str()), (2_334 + 3_000, "ok"));
    let ids: i64 = c
        .query_row(
            "SELECT count(*) FROM t WHERE id % 3 = 0 AND id < 7000",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(ids, 2_334);
}
