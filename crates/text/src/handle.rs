//! What every index here shares: a tantivy index on disk or in memory with the Chinese
//! tokenizer, one writer behind a lock, a reader reloaded after each commit, and a payload
//! committed with the documents (the caller's bookmark of what it has applied).

use crate::analyzer::{Analyzer, ZH, ZhTokenizer};
use std::path::Path;
use std::sync::Mutex;
use tantivy::indexer::{LogMergePolicy, MergePolicy, NoMergePolicy};
use tantivy::schema::Schema;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyError};

pub type Result<T> = std::result::Result<T, TantivyError>;

pub(crate) struct Handle {
    index: Index,
    reader: IndexReader,
    /// `None` only while [`Handle::compact`] replaces it, or after that failed to make a new
    /// one (the next change makes it then).
    writer: Mutex<Option<IndexWriter>>,
    heap_bytes: usize,
    merge_at: usize,
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
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let h = Handle {
            index,
            reader,
            writer: Mutex::new(None),
            heap_bytes,
            merge_at,
        };
        let writer = h.new_writer(h.merge_policy())?;
        *h.lock()? = Some(writer);
        Ok(h)
    }

    /// Segments of a size are merged by tantivy, in the background, once there are `merge_at`.
    fn merge_policy(&self) -> Box<dyn MergePolicy> {
        let mut policy = LogMergePolicy::default();
        policy.set_min_num_segments(self.merge_at);
        Box::new(policy)
    }

    fn new_writer(&self, policy: Box<dyn MergePolicy>) -> Result<IndexWriter> {
        let writer: IndexWriter = self.index.writer(self.heap_bytes)?;
        writer.set_merge_policy(policy);
        Ok(writer)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Option<IndexWriter>>> {
        self.writer
            .lock()
            .map_err(|_| TantivyError::InternalError("index writer poisoned".into()))
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
        let mut g = self.lock()?;
        if g.is_none() {
            *g = Some(self.new_writer(self.merge_policy())?);
        }
        let w = g
            .as_mut()
            .ok_or_else(|| TantivyError::InternalError("no index writer".into()))?;
        change(w)?;
        let mut commit = w.prepare_commit()?;
        if let Some(p) = payload {
            commit.set_payload(p);
        }
        commit.commit()?;
        drop(g);
        self.reader.reload()
    }

    /// Merges every segment into one where there are more than `max` (after bulk changes a
    /// process may end before tantivy's own merges finish) and waits for it. Whether it
    /// merged.
    ///
    /// tantivy's own merges run in the background, and a merge asked for over a segment one of
    /// them is rewriting fails when the second of the two ends ("the segments that were merged
    /// could not be found"): after a rebuild of a few batches, `jiesu reindex` failed so. So
    /// the writer first lets every merge it started finish, and a new one, merging nothing of
    /// its own meanwhile, merges the rest; changes wait for the lock until then.
    pub(crate) fn compact(&self, max: usize) -> Result<bool> {
        if self.index.searchable_segment_ids()?.len() <= max {
            return Ok(false);
        }
        let mut g = self.lock()?;
        if let Some(w) = g.take() {
            w.wait_merging_threads()?;
        }
        let mut w = self.new_writer(Box::new(NoMergePolicy))?;
        let ids = self.index.searchable_segment_ids()?;
        let merged = ids.len() > max;
        let result = if merged {
            w.merge(&ids).wait().map(|_| ())
        } else {
            Ok(())
        };
        w.set_merge_policy(self.merge_policy());
        *g = Some(w);
        drop(g);
        result?;
        if merged {
            self.reader.reload()?;
        }
        Ok(merged)
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
