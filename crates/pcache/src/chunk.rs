//! The database file grown in chunks (`SQLITE_FCNTL_CHUNK_SIZE`), for which rusqlite has no
//! safe call.
//!
//! A checkpoint that copies pages past the end of the file makes it longer, and syncing a file
//! whose length changed commits the filesystem's journal (ext4): that commit also writes out
//! every other file's data waiting in it, here the order index's new segments, and one
//! checkpoint's sync then took up to half a second while the writer waited for it. A file
//! grown a chunk at a time keeps its length between most checkpoints, so their sync
//! (`fdatasync`, SQLite built with `HAVE_FDATASYNC`) writes the database's own pages only.

use rusqlite::{Connection, ffi};
use std::ffi::c_int;

/// Makes the connection's main database file grow (and shrink) in steps of `bytes`: SQLite
/// extends it to the next multiple before it writes past its end. The setting belongs to this
/// connection's handle of the file, so it is set on the connection that checkpoints.
pub fn set_chunk_size(conn: &Connection, bytes: c_int) -> rusqlite::Result<()> {
    let mut size = bytes;
    // SAFETY: the handle is the open connection's, used on this thread for the duration of
    // the call (the `Connection` is borrowed); `SQLITE_FCNTL_CHUNK_SIZE` reads one `int`
    // through the pointer, which points at a live local; "main" is a NUL-terminated name.
    let rc = unsafe {
        ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_CHUNK_SIZE,
            (&raw mut size).cast(),
        )
    };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_grows_by_whole_chunks() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("chunks.db");
        let c = Connection::open(&path)?;
        c.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        let chunk: c_int = 1 << 20;
        set_chunk_size(&c, chunk)?;
        let chunk = i64::from(chunk);
        c.execute_batch(
            "CREATE TABLE t (x BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
             INSERT INTO t SELECT randomblob(4000) FROM n;",
        )?;
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        let len = i64::try_from(std::fs::metadata(&path)?.len())?;
        let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        // ~1.2 MB of pages in a file of whole chunks (without the setting: the pages' length).
        assert!(pages * page > chunk, "{pages} pages");
        assert_eq!(len % chunk, 0, "length {len}");
        assert!(len >= pages * page, "length {len}");
        let n: i64 = c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
        assert_eq!(n, 300);
        Ok(())
    }
}
