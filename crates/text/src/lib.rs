//! Chinese text analysis and full-text search: the jieba-based analyzer (with local words and
//! stop words) as a tantivy tokenizer, and the knowledge-base index built on it.

pub mod analyzer;
pub mod classify;
mod handle;
mod highlight;
pub mod hotspots;
pub mod kb;
pub mod orders;
pub mod regions;
mod top;

pub use analyzer::Analyzer;
pub use kb::{KbDoc, KbHit, KbHits, KbIndex, KbQuery};
pub use orders::{OrderDoc, OrderHit, OrderHits, OrderIndex, OrderQuery};
pub use tantivy::TantivyError;
