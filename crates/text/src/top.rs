//! The best hits of a query with filters and a per-document score factor, keeping tantivy's
//! block-max WAND pruning: a `BooleanQuery` with `Must` filters, a score tweak or a `Count`
//! next to `TopDocs` makes tantivy score every matching document, which for a 50-character
//! query over 100,000 entries is most of a search's time. Here the text query alone drives
//! the pruning; filters are checked on the candidates it yields (fast fields, or a bit set
//! of the documents a filter query matches), and the threshold is lowered by the largest
//! factor in the segment so that no document the factor could lift is skipped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use tantivy::query::{EnableScoring, Query, Weight};
use tantivy::{BitSet, DocAddress, DocId, DocSet, Score, Searcher, SegmentReader, TERMINATED};

pub use crate::handle::Result;

/// What a search asks of each document of one segment besides its text score.
pub(crate) trait SegmentRule {
    /// Whether the document may be a hit (tenant, validity, …).
    fn accept(&self, doc: DocId) -> bool;
    /// What its text score is multiplied by (≥ 1).
    fn factor(&self, _doc: DocId) -> f32 {
        1.0
    }
    /// The largest factor of any document in the segment.
    fn max_factor(&self) -> f32 {
        1.0
    }
}

/// A hit under its final score, ordered for a min-heap of the best.
#[derive(PartialEq)]
struct Ranked(Score, Reverse<(u32, DocId)>);

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Higher score first; on a tie the earlier document, as tantivy orders them.
        self.0
            .total_cmp(&other.0)
            .then_with(|| self.1.cmp(&other.1))
    }
}

/// The documents `filter` matches in a segment (alive ones), or `None` for all.
fn allowed(filter: Option<&dyn Weight>, reader: &SegmentReader) -> Result<Option<BitSet>> {
    let Some(w) = filter else { return Ok(None) };
    let mut set = BitSet::with_max_value(reader.max_doc());
    let mut scorer = w.scorer(reader, 1.0)?;
    let mut doc = scorer.doc();
    while doc != TERMINATED {
        set.insert(doc);
        doc = scorer.advance();
    }
    Ok(Some(set))
}

/// Whether `doc` is alive, matches the filter set and the segment's rule.
fn passes<R: SegmentRule>(
    reader: &SegmentReader,
    set: &Option<BitSet>,
    rule: &R,
    doc: DocId,
) -> bool {
    reader.alive_bitset().is_none_or(|a| a.is_alive(doc))
        && set.as_ref().is_none_or(|s| s.contains(doc))
        && rule.accept(doc)
}

/// The `offset + limit` best documents for `text` (scored) that `filter` (not scored) and
/// each segment's rule accept, by text score × factor; then the first `offset` dropped.
pub(crate) fn top<R: SegmentRule>(
    searcher: &Searcher,
    text: &dyn Query,
    filter: Option<&dyn Query>,
    offset: usize,
    limit: usize,
    rule: impl Fn(&SegmentReader) -> Result<R>,
) -> Result<Vec<(Score, DocAddress)>> {
    let k = offset + limit;
    if k == 0 {
        return Ok(Vec::new());
    }
    let text_w = text.weight(EnableScoring::enabled_from_searcher(searcher))?;
    let filter_w = filter
        .map(|f| f.weight(EnableScoring::disabled_from_searcher(searcher)))
        .transpose()?;
    let mut best: BinaryHeap<Reverse<Ranked>> = BinaryHeap::with_capacity(k + 1);
    for (ord, reader) in searcher.segment_readers().iter().enumerate() {
        let ord = ord as u32;
        let set = allowed(filter_w.as_deref(), reader)?;
        let rule = rule(reader)?;
        let max_factor = rule.max_factor().max(1.0);
        // Below this text score no document of the segment can enter the best `k`.
        let floor = |best: &BinaryHeap<Reverse<Ranked>>| match best.peek() {
            Some(Reverse(Ranked(s, _))) if best.len() >= k => *s / max_factor,
            _ => 0.0,
        };
        let start = floor(&best);
        text_w.for_each_pruning(start, reader, &mut |doc, score| {
            if passes(reader, &set, &rule, doc) {
                let s = score * rule.factor(doc);
                best.push(Reverse(Ranked(s, Reverse((ord, doc)))));
                if best.len() > k {
                    best.pop();
                }
            }
            floor(&best)
        })?;
    }
    let mut out: Vec<(Score, DocAddress)> = best
        .into_sorted_vec()
        .into_iter()
        .map(|Reverse(Ranked(s, Reverse((ord, doc))))| (s, DocAddress::new(ord, doc)))
        .collect();
    // `into_sorted_vec` of reversed items: best first.
    out.drain(..offset.min(out.len()));
    Ok(out)
}

/// How many documents `query` matches that `filter` and the rule accept.
pub(crate) fn count<R: SegmentRule>(
    searcher: &Searcher,
    query: &dyn Query,
    filter: Option<&dyn Query>,
    rule: impl Fn(&SegmentReader) -> Result<R>,
) -> Result<usize> {
    let w = query.weight(EnableScoring::disabled_from_searcher(searcher))?;
    let filter_w = filter
        .map(|f| f.weight(EnableScoring::disabled_from_searcher(searcher)))
        .transpose()?;
    let mut n = 0;
    for reader in searcher.segment_readers() {
        let set = allowed(filter_w.as_deref(), reader)?;
        let rule = rule(reader)?;
        let mut scorer = w.scorer(reader, 1.0)?;
        let mut doc = scorer.doc();
        while doc != TERMINATED {
            if passes(reader, &set, &rule, doc) {
                n += 1;
            }
            doc = scorer.advance();
        }
    }
    Ok(n)
}
