//! The order index: every order's words (title, content, address, replies) analysed like the
//! knowledge base, with the filters of the order lists (status, request type, category and
//! region subtrees, the units involved for scoping, acceptance time). It answers order search
//! and "similar orders" (the same issue raised before, and what the reply was).

use crate::analyzer::{Analyzer, ZH};
use crate::handle::Handle;
use crate::kb::{code_prefixes, keep_rare};
use std::path::Path;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{TantivyDocument, Term};

/// Words of a query kept at most (the rarest).
const MAX_WORDS: usize = 24;
/// Characters of the highlighted passage of a hit's content.
const HIGHLIGHT_CHARS: usize = 120;

pub use crate::handle::Result;

/// An order as the index holds it.
#[derive(Debug, Clone, Default)]
pub struct OrderDoc {
    pub tenant: u64,
    pub id: u64,
    pub title: String,
    pub content: String,
    pub address: String,
    /// Replies and instant answers.
    pub reply: String,
    pub status: String,
    pub request_type: String,
    pub category: Option<String>,
    pub region: Option<String>,
    /// The accepting centre and every unit it was dispatched to (for scoping).
    pub units: Vec<u64>,
    /// Epoch milliseconds.
    pub accepted_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct OrderQuery {
    pub tenant: u64,
    pub text: String,
    pub limit: usize,
    pub offset: usize,
    pub statuses: Vec<String>,
    pub request_types: Vec<String>,
    pub category: Option<String>,
    pub region: Option<String>,
    /// Only orders involving one of these units; `None`: any.
    pub units: Option<Vec<u64>>,
    pub accepted_from: Option<i64>,
    pub accepted_to: Option<i64>,
    /// Leave this order out (similar orders).
    pub exclude: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderHit {
    pub id: u64,
    pub score: f32,
}

#[derive(Debug, Clone, Default)]
pub struct OrderHits {
    pub items: Vec<OrderHit>,
    pub total: usize,
    /// The query's words that were searched for (see [`OrderHits::highlight`]).
    pub words: Vec<String>,
}

impl OrderHits {
    /// The best passage of a hit's content (the caller has the order), the searched words in
    /// `<em>`, HTML-escaped. The index keeps no text of its own: the orders are in the
    /// database, and the caller reads them for their hits anyway.
    pub fn highlight(&self, content: &str) -> String {
        crate::highlight::highlight(content, &self.words, HIGHLIGHT_CHARS)
    }
}

struct Fields {
    tenant: Field,
    id: Field,
    title: Field,
    content: Field,
    address: Field,
    reply: Field,
    status: Field,
    request_type: Field,
    category: Field,
    region: Field,
    units: Field,
    accepted_at: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    // Words with their frequencies, no positions (no query here looks for a phrase), and no
    // stored text: a hit's passage is cut from the order the caller reads for it anyway
    // (`OrderHits::highlight`), and its id comes from a column. Stored content and positions
    // had been 60% of the index on disk, and mapped into the server where searches read them.
    let zh = || {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ZH)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
    };
    let f = Fields {
        tenant: b.add_u64_field("tenant", INDEXED),
        id: b.add_u64_field("id", INDEXED | FAST),
        title: b.add_text_field("title", zh()),
        content: b.add_text_field("content", zh()),
        address: b.add_text_field("address", zh()),
        reply: b.add_text_field("reply", zh()),
        status: b.add_text_field("status", STRING),
        request_type: b.add_text_field("request_type", STRING),
        category: b.add_text_field("category", STRING),
        region: b.add_text_field("region", STRING),
        units: b.add_u64_field("units", INDEXED),
        accepted_at: b.add_i64_field("accepted_at", INDEXED | FAST),
    };
    (b.build(), f)
}

/// Prefixes of a region code at the levels of GB/T 2260 (2, 4, 6, 9, 12 digits).
fn region_prefixes(code: &str) -> Vec<String> {
    [2, 4, 6, 9, 12]
        .into_iter()
        .filter(|n| *n <= code.len() && code.is_char_boundary(*n))
        .map(|n| code[..n].to_string())
        .collect()
}

pub struct OrderIndex {
    h: Handle,
    fields: Fields,
    analyzer: Analyzer,
}

impl OrderIndex {
    pub fn open(dir: &Path, analyzer: Analyzer) -> Result<OrderIndex> {
        Self::with_dir(Some(dir), analyzer)
    }

    pub fn in_memory(analyzer: Analyzer) -> Result<OrderIndex> {
        Self::with_dir(None, analyzer)
    }

    fn with_dir(dir: Option<&Path>, analyzer: Analyzer) -> Result<OrderIndex> {
        let (schema, fields) = schema();
        Ok(OrderIndex {
            // Orders are indexed as they come, a small segment a second under load: merging
            // every three (as the knowledge base does) spent a sixth of the server's time on
            // merges while orders poured in; tantivy's eight, with the indexer's periodic
            // compaction, keeps searches about as fast.
            h: Handle::open(dir, schema, &analyzer, 100_000_000, 8)?,
            fields,
            analyzer,
        })
    }

    /// Adds or replaces `docs` and commits them with `payload` (see [`OrderIndex::payload`]).
    pub fn apply(&self, docs: &[OrderDoc], payload: Option<&str>) -> Result<()> {
        let f = &self.fields;
        self.h.commit(payload, |w| {
            for d in docs {
                w.delete_term(Term::from_field_u64(f.id, d.id));
                w.add_document(self.document(d))?;
            }
            Ok(())
        })
    }

    fn document(&self, d: &OrderDoc) -> TantivyDocument {
        let f = &self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.tenant, d.tenant);
        doc.add_u64(f.id, d.id);
        doc.add_text(f.title, &d.title);
        doc.add_text(f.content, &d.content);
        doc.add_text(f.address, &d.address);
        doc.add_text(f.reply, &d.reply);
        doc.add_text(f.status, &d.status);
        doc.add_text(f.request_type, &d.request_type);
        for p in d.category.iter().flat_map(|c| code_prefixes(c)) {
            doc.add_text(f.category, &p);
        }
        for p in d.region.iter().flat_map(|r| region_prefixes(r)) {
            doc.add_text(f.region, &p);
        }
        for u in &d.units {
            doc.add_u64(f.units, *u);
        }
        doc.add_i64(f.accepted_at, d.accepted_at);
        doc
    }

    pub fn payload(&self) -> Result<Option<String>> {
        self.h.payload()
    }

    /// Merges the index into one segment where it has more than `max`; searches look every
    /// term up in every segment. Whether it merged.
    pub fn compact(&self, max: usize) -> Result<bool> {
        self.h.compact(max)
    }

    pub fn clear(&self, payload: Option<&str>) -> Result<()> {
        self.h.clear(payload)
    }

    pub fn len(&self) -> u64 {
        self.h.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn term(&self, field: Field, text: &str) -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, text),
            IndexRecordOption::Basic,
        ))
    }

    fn any_of(&self, field: Field, values: &[String]) -> Box<dyn Query> {
        Box::new(BooleanQuery::new(
            values
                .iter()
                .map(|v| (Occur::Should, self.term(field, v)))
                .collect(),
        ))
    }

    pub fn search(&self, q: &OrderQuery) -> Result<OrderHits> {
        let f = &self.fields;
        let searcher = self.h.searcher();
        let mut words = self.analyzer.terms(&q.text);
        words.sort();
        words.dedup();
        let df = |field: Field, t: &str| {
            searcher
                .doc_freq(&Term::from_field_text(field, t))
                .unwrap_or(0)
        };
        // As in the knowledge base: words in a large share of the orders cost most and tell
        // least; keep them only when nothing rarer is left.
        let common = (searcher.num_docs() / 20).max(200);
        let words = keep_rare(
            words,
            |w| df(f.content, w).max(df(f.title, w)).max(df(f.reply, w)),
            common,
        );
        // The rarest words say most; a long text (similar orders) keeps a bounded query.
        let words: Vec<String> = words.into_iter().take(MAX_WORDS).collect();
        if words.is_empty() {
            return Ok(OrderHits::default());
        }
        let text: Vec<(Occur, Box<dyn Query>)> = words
            .iter()
            .map(|w| -> (Occur, Box<dyn Query>) {
                let per_field = [
                    (f.title, 2.0),
                    (f.content, 1.0),
                    (f.address, 1.0),
                    (f.reply, 0.5),
                ]
                .into_iter()
                .map(|(field, boost)| -> (Occur, Box<dyn Query>) {
                    let t = TermQuery::new(
                        Term::from_field_text(field, w),
                        IndexRecordOption::WithFreqs,
                    );
                    (Occur::Should, Box::new(BoostQuery::new(Box::new(t), boost)))
                })
                .collect();
                (Occur::Should, Box::new(BooleanQuery::new(per_field)))
            })
            .collect();
        let text: Box<dyn Query> = Box::new(BooleanQuery::new(text));
        let mut must: Vec<(Occur, Box<dyn Query>)> = vec![
            (Occur::Must, text.box_clone()),
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_u64(f.tenant, q.tenant),
                    IndexRecordOption::Basic,
                )),
            ),
        ];
        if !q.statuses.is_empty() {
            must.push((Occur::Must, self.any_of(f.status, &q.statuses)));
        }
        if !q.request_types.is_empty() {
            must.push((Occur::Must, self.any_of(f.request_type, &q.request_types)));
        }
        if let Some(c) = &q.category {
            must.push((Occur::Must, self.term(f.category, c)));
        }
        if let Some(r) = &q.region {
            must.push((Occur::Must, self.term(f.region, r)));
        }
        if let Some(units) = &q.units {
            let any = units
                .iter()
                .map(|u| -> (Occur, Box<dyn Query>) {
                    (
                        Occur::Should,
                        Box::new(TermQuery::new(
                            Term::from_field_u64(f.units, *u),
                            IndexRecordOption::Basic,
                        )),
                    )
                })
                .collect();
            must.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        if q.accepted_from.is_some() || q.accepted_to.is_some() {
            let lo = q
                .accepted_from
                .map(|t| std::ops::Bound::Included(Term::from_field_i64(f.accepted_at, t)))
                .unwrap_or(std::ops::Bound::Unbounded);
            let hi = q
                .accepted_to
                .map(|t| std::ops::Bound::Excluded(Term::from_field_i64(f.accepted_at, t)))
                .unwrap_or(std::ops::Bound::Unbounded);
            must.push((Occur::Must, Box::new(RangeQuery::new(lo, hi))));
        }
        if let Some(x) = q.exclude {
            must.push((
                Occur::MustNot,
                Box::new(TermQuery::new(
                    Term::from_field_u64(f.id, x),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        let query = BooleanQuery::new(must);
        let top = TopDocs::with_limit(q.limit.clamp(1, 100))
            .and_offset(q.offset)
            .order_by_score();
        let (docs, total) = searcher.search(&query, &(top, Count))?;
        // Each segment's column of ids, opened once.
        let mut columns: Vec<Option<tantivy::columnar::Column<u64>>> =
            vec![None; searcher.segment_readers().len()];
        let mut items = Vec::with_capacity(docs.len());
        for (score, addr) in docs {
            let column = match columns.get_mut(addr.segment_ord as usize) {
                Some(Some(c)) => c,
                Some(slot) => slot.insert(
                    searcher
                        .segment_reader(addr.segment_ord)
                        .fast_fields()
                        .u64("id")?,
                ),
                None => continue,
            };
            if let Some(id) = column.first(addr.doc_id) {
                items.push(OrderHit { id, score });
            }
        }
        Ok(OrderHits {
            items,
            total,
            words,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn order(id: u64, content: &str, status: &str, region: &str, units: &[u64]) -> OrderDoc {
        OrderDoc {
            tenant: 1,
            id,
            title: String::new(),
            content: content.into(),
            status: status.into(),
            request_type: "complaint".into(),
            region: Some(region.into()),
            units: units.to_vec(),
            accepted_at: id as i64 * 1000,
            ..OrderDoc::default()
        }
    }

    fn ids(ix: &OrderIndex, q: OrderQuery) -> Vec<u64> {
        ix.search(&q).unwrap().items.iter().map(|h| h.id).collect()
    }

    #[test]
    fn orders_are_found_by_their_words_within_the_filters_and_scope() {
        let ix = OrderIndex::in_memory(Analyzer::default()).unwrap();
        ix.apply(
            &[
                order(
                    1,
                    "小区楼下烧烤店油烟扰民",
                    "handling",
                    "990101001",
                    &[10, 11],
                ),
                order(2, "烧烤店占道经营", "closed", "990102001", &[10, 12]),
                order(3, "路灯不亮", "handling", "990101001", &[10, 11]),
            ],
            Some("p1"),
        )
        .unwrap();
        assert_eq!(ix.payload().unwrap().as_deref(), Some("p1"));
        let q = |text: &str| OrderQuery {
            tenant: 1,
            text: text.into(),
            limit: 10,
            ..OrderQuery::default()
        };
        let mut found = ids(&ix, q("烧烤店"));
        found.sort();
        assert_eq!(found, vec![1, 2]);
        let only_open = OrderQuery {
            statuses: vec!["handling".into()],
            ..q("烧烤店")
        };
        assert_eq!(ids(&ix, only_open), vec![1]);
        let district = OrderQuery {
            region: Some("990102".into()),
            ..q("烧烤店")
        };
        assert_eq!(ids(&ix, district), vec![2]);
        let unit_12 = OrderQuery {
            units: Some(vec![12]),
            ..q("烧烤店")
        };
        assert_eq!(ids(&ix, unit_12), vec![2], "a unit sees only its orders");
        let similar = OrderQuery {
            exclude: Some(1),
            ..q("烧烤店油烟")
        };
        assert_eq!(ids(&ix, similar), vec![2]);
        let other_tenant = OrderQuery {
            tenant: 2,
            ..q("烧烤店")
        };
        assert!(ids(&ix, other_tenant).is_empty());
        let hits = ix.search(&q("油烟")).unwrap();
        assert_eq!(hits.items[0].id, 1);
        let passage = hits.highlight("小区楼下烧烤店油烟扰民");
        assert!(passage.contains("<em>油烟</em>"), "{passage}");
        // Replacing an order keeps one document.
        ix.apply(
            &[order(
                1,
                "小区楼下烧烤店油烟扰民",
                "closed",
                "990101001",
                &[10, 11],
            )],
            None,
        )
        .unwrap();
        assert_eq!(ix.len(), 3);
    }

    #[test]
    fn compacting_while_tantivy_merges_in_the_background_merges_everything() {
        let dir = std::env::temp_dir().join(format!("jiesu-compact-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ix = OrderIndex::open(&dir, Analyzer::default()).unwrap();
        let words = [
            "烧烤店",
            "油烟",
            "路灯",
            "井盖",
            "噪音",
            "占道",
            "漏水",
            "停车",
        ];
        let mut n = 0u64;
        for round in 0..2 {
            // Commits of a few hundred orders, as a rebuild's batches: from the eighth on,
            // tantivy merges them in the background, and the compaction right after the last
            // meets its merge.
            for _ in 0..9 {
                let docs: Vec<OrderDoc> = (0..400)
                    .map(|_| {
                        n += 1;
                        let w = |k: u64| words[((n * k) % words.len() as u64) as usize];
                        let text = format!("第{n}号楼{}问题，{}和{}已持续{n}天", w(3), w(5), w(7));
                        order(n, &text, "handling", "990101001", &[10, n % 50])
                    })
                    .collect();
                ix.apply(&docs, None).unwrap();
            }
            assert!(ix.compact(1).unwrap(), "round {round}");
            let segments = ix.h.index().searchable_segment_ids().unwrap();
            assert_eq!(segments.len(), 1, "round {round}");
            assert_eq!(ix.len(), n);
        }
        // The writer made anew by the compaction takes changes.
        ix.apply(
            &[order(n + 1, "路灯不亮", "handling", "990101001", &[10])],
            None,
        )
        .unwrap();
        assert_eq!(ix.len(), n + 1);
        drop(ix);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_hit_shows_the_passage_of_its_content_that_holds_the_words() {
        let ix = OrderIndex::in_memory(Analyzer::default()).unwrap();
        let long = format!(
            "{}楼下<烧烤店>夜间油烟扰民，{}",
            "我家住在小区十二栋。".repeat(60),
            "希望尽快处理。".repeat(60)
        );
        let mut titled = order(2, "反映情况如下：道路破损", "handling", "990101001", &[10]);
        titled.title = "烧烤店噪音".into();
        ix.apply(
            &[order(1, &long, "handling", "990101001", &[10]), titled],
            None,
        )
        .unwrap();
        let q = OrderQuery {
            tenant: 1,
            text: "烧烤店油烟".into(),
            limit: 10,
            ..OrderQuery::default()
        };
        let hits = ix.search(&q).unwrap();
        let ids: Vec<u64> = hits.items.iter().map(|h| h.id).collect();
        assert!(ids.contains(&1) && ids.contains(&2), "{ids:?}");
        let deep = hits.highlight(&long);
        assert!(
            deep.contains("&lt;<em>烧烤店</em>&gt;夜间<em>油烟</em>"),
            "the passage around the words, escaped: {deep}"
        );
        assert!(deep.chars().count() < 200, "{deep}");
        // Matched by its title alone: the content's opening is shown.
        assert_eq!(
            hits.highlight("反映情况如下：道路破损"),
            "反映情况如下：道路破损"
        );
    }
}
