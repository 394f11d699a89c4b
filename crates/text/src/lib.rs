//! Chinese text analysis and full-text search: the jieba-based analyzer (with local words and
//! stop words) as a tantivy tokenizer, and the knowledge-base index built on it.

pub mod analyzer;
pub mod classify;
mod handle;
mod highlight;
pub mod hotspots;
pub mod kb;
pub mod orders;
pub mod pace;
pub mod regions;
mod top;

pub use analyzer::Analyzer;
pub use kb::{KbDoc, KbHit, KbHits, KbIndex, KbQuery};
pub use orders::{OrderDoc, OrderHit, OrderHits, OrderIndex, OrderQuery};
pub use tantivy::TantivyError;

/// Whether `e` is the disk's trouble (full, over quota, read-only, no permission) rather than
/// the index's: such an index is kept and opened again later, not thrown away and rebuilt.
pub fn is_disk_error(e: &TantivyError) -> bool {
    use std::io::ErrorKind::{PermissionDenied, QuotaExceeded, ReadOnlyFilesystem, StorageFull};
    use tantivy::directory::error::{OpenDirectoryError, OpenReadError, OpenWriteError};
    let io = match e {
        TantivyError::IoError(io)
        | TantivyError::OpenWriteError(OpenWriteError::IoError { io_error: io, .. })
        | TantivyError::OpenReadError(OpenReadError::IoError { io_error: io, .. })
        | TantivyError::OpenDirectoryError(OpenDirectoryError::IoError { io_error: io, .. }) => io,
        _ => return false,
    };
    matches!(
        io.kind(),
        StorageFull | QuotaExceeded | ReadOnlyFilesystem | PermissionDenied
    )
}

#[cfg(test)]
mod disk_error_tests {
    use super::{TantivyError, is_disk_error};
    use std::io::{Error, ErrorKind};

    #[test]
    fn a_full_disk_is_told_from_a_damaged_index() {
        assert!(is_disk_error(&Error::from(ErrorKind::StorageFull).into()));
        let w = tantivy::directory::error::OpenWriteError::wrap_io_error(
            Error::from(ErrorKind::ReadOnlyFilesystem),
            "x".into(),
        );
        assert!(is_disk_error(&w.into()));
        assert!(!is_disk_error(&Error::from(ErrorKind::InvalidData).into()));
        assert!(!is_disk_error(&TantivyError::SchemaError("old".into())));
    }
}
