//! What every index here shares: a tantivy index on disk or in memory with the Chinese
//! tokenizer, one writer behind a lock, a reader reloaded after each commit, and a payload
//! committed with the documents (the caller's bookmark of what it has applied).

use crate::analyzer::{Analyzer, ZH, ZhTokenizer};
use std::path::Path;
use std::sync::Mutex;
use tantivy::indexer::LogMergePolicy;
use tantivy::schema::Schema;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher};

pub type Result<T> = std::result::Result<T, tantivy::TantivyError>;

pub(crate) struct Handle {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
}

impl Handle {
    /// Opens (or creates) the index in `dir`, or one in memory without a `dir`. Segments of a
    /// size are merged once there are `merge_at` of them.
    pub(crate) fn open(
        dir: Option<&Path>,
        schema: Schema,
        analyzer: &Analyzer,
        heap_bytes: usize,
        merge_at: usize,
    ) -> Result<Handle> {
        let index = match dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                let d = tantivy::directory::MmapDirectory::open(dir)?;
                Index::open_or_create(d, schema)?
            }
            None => Index::create_in_ram(schema),
        };
        index
            .tokenizers()
            .register(ZH, ZhTokenizer::new(analyzer.clone()));
        let writer: IndexWriter = index.writer(heap_bytes)?;
        let mut policy = LogMergePolicy::default();
        policy.set_min_num_segments(merge_at);
        writer.set_merge_policy(Box::new(policy));
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Handle {
            index,
            reader,
            writer: Mutex::new(writer),
        })
    }

    pub(crate) fn index(&self) -> &Index {
        &self.index
    }

    /// Runs `change` on the writer and commits it with `payload`; searches see it after.
    pub(crate) fn commit(
        &self,
        payload: Option<&str>,
        change: impl FnOnce(&mut IndexWriter) -> Result<()>,
    ) -> Result<()> {
        let mut w = self
            .writer
            .lock()
            .map_err(|_| tantivy::TantivyError::InternalError("index writer poisoned".into()))?;
        change(&mut w)?;
        let mut commit = w.prepare_commit()?;
        if let Some(p) = payload {
            commit.set_payload(p);
        }
        commit.commit()?;
        drop(w);
        self.reader.reload()
    }

    /// Merges every segment into one where there are more than `max` (after bulk changes a
    /// process may end before tantivy's own merges finish) and waits for it. Whether it
    /// merged.
    pub(crate) fn compact(&self, max: usize) -> Result<bool> {
        let ids = self.index.searchable_segment_ids()?;
        if ids.len() <= max {
            return Ok(false);
        }
        let merging = {
            let mut w = self.writer.lock().map_err(|_| {
                tantivy::TantivyError::InternalError("index writer poisoned".into())
            })?;
            w.merge(&ids)
        };
        merging.wait()?;
        self.reader.reload()?;
        Ok(true)
    }

    pub(crate) fn payload(&self) -> Result<Option<String>> {
        Ok(self.index.load_metas()?.payload)
    }

    /// Removes every document and sets the payload (before a rebuild).
    pub(crate) fn clear(&self, payload: Option<&str>) -> Result<()> {
        self.commit(payload, |w| w.delete_all_documents().map(|_| ()))
    }

    pub(crate) fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    pub(crate) fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }
}
