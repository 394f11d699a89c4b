//! The knowledge-base index: published entries in a tantivy index analysed with the Chinese
//! analyzer, searched with field boosts (title over question variants over answer), query-time
//! synonyms, filters (category and region subtrees, owning unit, validity) and a ranking that
//! prefers frequently used entries; hits come with a highlighted snippet.

use crate::analyzer::{Analyzer, ZH};
use crate::handle::Handle;
use crate::highlight::highlight;
use crate::top;
use std::collections::HashMap;
use std::path::Path;
use std::sync::RwLock;
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::{DocAddress, TantivyDocument, Term};

pub use crate::handle::Result;

/// An entry as the index holds it.
#[derive(Debug, Clone, Default)]
pub struct KbDoc {
    /// Entries of different tenants share one index; every search names its tenant.
    pub tenant: u64,
    pub id: u64,
    pub version: u64,
    pub title: String,
    /// How citizens actually ask.
    pub questions: Vec<String>,
    pub answer: String,
    /// Category code, e.g. `01.05.03`.
    pub category: Option<String>,
    pub unit_id: Option<u64>,
    /// Region code; the entry applies there and below.
    pub region: Option<String>,
    /// Validity, epoch milliseconds; `None`: unbounded.
    pub valid_from: Option<i64>,
    pub valid_to: Option<i64>,
    /// Times it answered a call.
    pub usage: u64,
}

/// A search.
#[derive(Debug, Clone, Default)]
pub struct KbQuery {
    pub tenant: u64,
    pub text: String,
    pub limit: usize,
    pub offset: usize,
    /// This category and below.
    pub category: Option<String>,
    pub unit_id: Option<u64>,
    /// Entries for this region or above it (a city-wide entry serves every district).
    pub region: Option<String>,
    /// Only entries valid at this time (epoch ms).
    pub valid_at: Option<i64>,
    /// Count every entry that matches a word for `total` (a page of results needs it; an
    /// agent's live panel does not, and counting costs a quarter of a search).
    pub count: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KbHit {
    pub id: u64,
    pub version: u64,
    pub title: String,
    pub score: f32,
    /// The best passage with the matched words in `<em>`.
    pub highlight: String,
    pub answer: String,
    pub category: Option<String>,
    pub unit_id: Option<u64>,
    pub valid_to: Option<i64>,
    pub usage: u64,
}

#[derive(Debug, Clone, Default)]
pub struct KbHits {
    pub items: Vec<KbHit>,
    /// Entries that match at least one word of the search (with [`KbQuery::count`]), else
    /// the hits up to this page.
    pub total: usize,
}

struct Fields {
    tenant: Field,
    id: Field,
    version: Field,
    title: Field,
    questions: Field,
    answer: Field,
    /// Character pairs of title and answer: matches whatever the segmenter made of a rare
    /// name or a typo.
    grams: Field,
    /// Pairs of syllables of title and questions, in pinyin without tones: a name typed
    /// with a character that sounds the same (景荣华苑 for 景蓉华苑, the usual slip of a
    /// pinyin keyboard) still matches.
    pinyin: Field,
    category: Field,
    unit: Field,
    region: Field,
    valid_from: Field,
    valid_to: Field,
    usage: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let zh = |stored: bool| {
        let o = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ZH)
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        if stored { o.set_stored() } else { o }
    };
    let f = Fields {
        tenant: b.add_u64_field("tenant", INDEXED | FAST),
        id: b.add_u64_field("id", INDEXED | STORED | FAST),
        version: b.add_u64_field("version", STORED),
        title: b.add_text_field("title", zh(true)),
        questions: b.add_text_field("questions", zh(false)),
        answer: b.add_text_field("answer", zh(true)),
        // The distinct pairs of the entry, as `bigrams` makes them, between spaces.
        grams: b.add_text_field(
            "grams",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(SPACED)
                    // With frequencies (all 1) although scoring needs none: tantivy's
                    // block-max WAND reads the maximum of a posting list's last block from
                    // its frequencies and skips every document there without them.
                    .set_index_option(IndexRecordOption::WithFreqs),
            ),
        ),
        pinyin: b.add_text_field(
            "pinyin",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(SPACED)
                    // With frequencies (all 1) although scoring needs none: tantivy's
                    // block-max WAND reads the maximum of a posting list's last block from
                    // its frequencies and skips every document there without them.
                    .set_index_option(IndexRecordOption::WithFreqs),
            ),
        ),
        // Every prefix of the code, so a subtree is one term.
        category: b.add_text_field("category", STRING | STORED),
        unit: b.add_u64_field("unit", INDEXED | STORED),
        region: b.add_text_field("region", STRING),
        valid_from: b.add_i64_field("valid_from", INDEXED | FAST),
        valid_to: b.add_i64_field("valid_to", INDEXED | FAST | STORED),
        usage: b.add_u64_field("usage", FAST | STORED),
    };
    (b.build(), f)
}

/// Terms between spaces, taken as they are.
const SPACED: &str = "spaced";
/// The rarest words and character pairs of a query that are searched (a long text has
/// more; the rarest tell the most).
const MAX_WORDS: usize = 16;
/// More pairs find a little more and cost much more: with 16 / 20 / 30 pairs the
/// content-opening test finds 86.2 / 86.5 / 86.9% of its entries in the top 5 (85.8% with
/// 12), while `jiesu-bench kb` (100,000 entries, one thread) answers 15 / 22 / 44% fewer
/// searches a second and at 30 misses its p99 < 10 ms (session 56).
const MAX_GRAMS: usize = 12;
const MAX_SOUNDS: usize = 6;
/// Weight of a character pair against a word. Pairs match a name or a phrase whichever way
/// the segmenter cut it, and a caller's words share more of them with the entry than whole
/// words: at twice a word's weight the content-opening test finds 85.8% of its entries in
/// the top 5 instead of 85.1% (each half of the messages gains), titles 99.8% first instead
/// of 99.6%, at the same search cost (`jiesu-bench kb`); 1.5 and 3 gain less.
const GRAM_BOOST: f32 = 2.0;
/// Weight of a pair of syllables, as of a word: it only stands in for a character pair where
/// a name was typed with same-sounding characters (an exact match has both).
const PINYIN_BOOST: f32 = 1.0;

/// The distinct pairs of adjacent letters or digits (no punctuation, no spaces) of `texts`,
/// folded.
fn bigram_pairs<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<[char; 2]> {
    let mut pairs = Vec::new();
    for text in texts {
        let mut prev: Option<char> = None;
        for c in crate::analyzer::fold(text).chars() {
            let c = c.is_alphanumeric().then_some(c);
            if let (Some(a), Some(b)) = (prev, c) {
                pairs.push([a, b]);
            }
            prev = c;
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// The distinct pairs of adjacent syllables of `texts` (Chinese characters in pinyin
/// without tones, e.g. 华苑 → `huayuan`); other characters break a run.
fn pinyin_pairs<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    use pinyin::ToPinyin;
    let mut out = Vec::new();
    for text in texts {
        let mut prev: Option<&str> = None;
        for c in text.chars() {
            let syllable = c.to_pinyin().map(|p| p.plain());
            if let (Some(a), Some(b)) = (prev, syllable) {
                out.push(format!("{a}{b}"));
            }
            prev = syllable;
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The distinct pairs of `text` (see [`bigram_pairs`]).
fn bigrams(text: &str) -> Vec<String> {
    bigram_pairs([text])
        .into_iter()
        .map(|p| p.iter().collect())
        .collect()
}

/// The distinct pairs of `texts`, between spaces (the `grams` field).
fn spaced_bigrams<'a>(texts: impl IntoIterator<Item = &'a str>) -> String {
    let pairs = bigram_pairs(texts);
    let mut out = String::with_capacity(pairs.len() * 7);
    for [a, b] in pairs {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push(a);
        out.push(b);
    }
    out
}

/// The terms found in at most `common` entries; if none is that rare, the three rarest.
pub(crate) fn keep_rare(terms: Vec<String>, df: impl Fn(&str) -> u64, common: u64) -> Vec<String> {
    let mut with_df: Vec<(u64, String)> = terms.into_iter().map(|t| (df(&t), t)).collect();
    with_df.retain(|(n, _)| *n > 0);
    with_df.sort();
    let rare = with_df.iter().take_while(|(n, _)| *n <= common).count();
    with_df.truncate(rare.max(3));
    with_df.into_iter().map(|(_, t)| t).collect()
}

/// `01.05.03` → `01`, `01.05`, `01.05.03`.
pub(crate) fn code_prefixes(code: &str) -> Vec<String> {
    let parts: Vec<&str> = code.split('.').collect();
    (1..=parts.len()).map(|n| parts[..n].join(".")).collect()
}

/// Synonym groups (admin-managed): a query that contains one word of a group also matches
/// the others, as whole words.
#[derive(Debug, Default, Clone)]
pub struct Synonyms {
    groups: Vec<Vec<String>>,
}

impl Synonyms {
    /// Groups of words that mean the same, e.g. `["物业费", "物管费"]`.
    pub fn new(groups: &[Vec<String>]) -> Self {
        let groups = groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|w| crate::analyzer::fold(w.trim()))
                    .filter(|w| !w.is_empty())
                    .collect::<Vec<_>>()
            })
            .filter(|g| g.len() > 1)
            .collect();
        Synonyms { groups }
    }

    /// The words to add for a query: the other words of every group the query mentions.
    pub fn expand(&self, query: &str) -> Vec<&str> {
        let q = crate::analyzer::fold(query);
        self.groups
            .iter()
            .filter(|g| g.iter().any(|w| q.contains(&**w)))
            .flat_map(|g| g.iter().filter(|w| !q.contains(&**w)))
            .map(String::as_str)
            .collect()
    }
}

/// A search's text as queries: `scored` ranks, `matching` counts, `words` are marked.
struct TextQuery {
    scored: Box<dyn Query>,
    matching: Box<dyn Query>,
    words: Vec<String>,
}

/// Per segment: the tenant and validity a hit must have, and the usage that lifts it.
struct KbRule {
    tenant: u64,
    tenants: Column<u64>,
    valid_at: Option<(i64, Column<i64>, Column<i64>)>,
    usage: Column<u64>,
}

impl KbRule {
    fn new(reader: &tantivy::SegmentReader, q: &KbQuery) -> Result<KbRule> {
        let ff = reader.fast_fields();
        let valid_at = match q.valid_at {
            Some(t) => Some((t, ff.i64("valid_from")?, ff.i64("valid_to")?)),
            None => None,
        };
        Ok(KbRule {
            tenant: q.tenant,
            tenants: ff.u64("tenant")?,
            valid_at,
            usage: ff.u64("usage")?,
        })
    }

    fn usage_factor(n: u64) -> f32 {
        1.0 + 0.05 * (1.0 + n as f32).ln()
    }
}

impl top::SegmentRule for KbRule {
    fn accept(&self, doc: tantivy::DocId) -> bool {
        self.tenants.first(doc) == Some(self.tenant)
            && self.valid_at.as_ref().is_none_or(|(t, from, to)| {
                from.first(doc).unwrap_or(i64::MIN) <= *t && to.first(doc).unwrap_or(i64::MAX) > *t
            })
    }

    fn factor(&self, doc: tantivy::DocId) -> f32 {
        Self::usage_factor(self.usage.first(doc).unwrap_or(0))
    }

    fn max_factor(&self) -> f32 {
        Self::usage_factor(self.usage.max_value())
    }
}

pub struct KbIndex {
    h: Handle,
    fields: Fields,
    analyzer: Analyzer,
    synonyms: RwLock<HashMap<u64, Synonyms>>,
}

impl KbIndex {
    /// Opens (or creates) the index in `dir`.
    pub fn open(dir: &Path, analyzer: Analyzer) -> Result<KbIndex> {
        Self::with_dir(Some(dir), analyzer)
    }

    /// An index in memory (tests, benchmarks).
    pub fn in_memory(analyzer: Analyzer) -> Result<KbIndex> {
        Self::with_dir(None, analyzer)
    }

    fn with_dir(dir: Option<&Path>, analyzer: Analyzer) -> Result<KbIndex> {
        let (schema, fields) = schema();
        // Every search looks each of its terms up in every segment: merge sooner than
        // tantivy's default (eight segments of a size) to keep their number low.
        let h = Handle::open(dir, schema, &analyzer, 50_000_000, 3)?;
        h.index().tokenizers().register(
            SPACED,
            tantivy::tokenizer::TextAnalyzer::from(
                tantivy::tokenizer::WhitespaceTokenizer::default(),
            ),
        );
        Ok(KbIndex {
            h,
            fields,
            analyzer,
            synonyms: RwLock::new(HashMap::new()),
        })
    }

    /// Replaces a tenant's synonym groups (they apply at query time: no reindex).
    pub fn set_synonyms(&self, tenant: u64, groups: &[Vec<String>]) {
        let s = Synonyms::new(groups);
        if let Ok(mut g) = self.synonyms.write() {
            g.insert(tenant, s);
        }
    }

    /// Adds or replaces entries and makes them searchable.
    pub fn upsert(&self, docs: &[KbDoc]) -> Result<()> {
        self.apply(docs, &[], None)
    }

    /// Removes entries (withdrawn, expired, deleted).
    pub fn remove(&self, ids: &[u64]) -> Result<()> {
        self.apply(&[], ids, None)
    }

    /// Adds or replaces `upsert`, removes `remove` and commits them together with `payload`
    /// (the caller's bookmark, e.g. the last change applied; see [`KbIndex::payload`]): after
    /// a crash the index holds either all of it or none.
    pub fn apply(&self, upsert: &[KbDoc], remove: &[u64], payload: Option<&str>) -> Result<()> {
        let f = &self.fields;
        self.h.commit(payload, |w| {
            for id in remove {
                w.delete_term(Term::from_field_u64(f.id, *id));
            }
            for d in upsert {
                w.delete_term(Term::from_field_u64(f.id, d.id));
                w.add_document(self.document(d))?;
            }
            Ok(())
        })
    }

    fn document(&self, d: &KbDoc) -> TantivyDocument {
        let f = &self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.tenant, d.tenant);
        doc.add_u64(f.id, d.id);
        doc.add_u64(f.version, d.version);
        doc.add_text(f.title, &d.title);
        for q in &d.questions {
            doc.add_text(f.questions, q);
        }
        doc.add_text(f.answer, &d.answer);
        doc.add_text(
            f.grams,
            spaced_bigrams([d.title.as_str(), d.answer.as_str()]),
        );
        let spoken =
            std::iter::once(d.title.as_str()).chain(d.questions.iter().map(String::as_str));
        doc.add_text(f.pinyin, pinyin_pairs(spoken).join(" "));
        for p in d.category.iter().flat_map(|c| code_prefixes(c)) {
            doc.add_text(f.category, &p);
        }
        if let Some(u) = d.unit_id {
            doc.add_u64(f.unit, u);
        }
        doc.add_text(f.region, d.region.as_deref().unwrap_or(""));
        doc.add_i64(f.valid_from, d.valid_from.unwrap_or(i64::MIN));
        doc.add_i64(f.valid_to, d.valid_to.unwrap_or(i64::MAX));
        doc.add_u64(f.usage, d.usage);
        doc
    }

    /// Merges the index into one segment where it has more than 4; searches look every term
    /// up in every segment. Whether it merged.
    pub fn compact(&self) -> Result<bool> {
        self.h.compact(4)
    }

    /// The payload of the last commit.
    pub fn payload(&self) -> Result<Option<String>> {
        self.h.payload()
    }

    /// Removes every entry and sets the payload (before a rebuild).
    pub fn clear(&self, payload: Option<&str>) -> Result<()> {
        self.h.clear(payload)
    }

    pub fn len(&self) -> u64 {
        self.h.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text part of a search: each word in any field, title weighted most, and the
    /// rarer character pairs; synonyms count as the word. Without synonyms it is a flat
    /// union of term queries, which tantivy prunes (block-max WAND). Also the union of the
    /// words alone, whose matches are the search's `total` (a shared character pair does not
    /// make an entry relevant).
    fn text_query(
        &self,
        searcher: &tantivy::Searcher,
        tenant: u64,
        text: &str,
    ) -> Option<TextQuery> {
        let f = &self.fields;
        let all = self.synonyms.read().ok()?;
        let none = Synonyms::default();
        let synonyms = all.get(&tenant).unwrap_or(&none);
        let mut words: Vec<String> = self.analyzer.terms(text);
        words.sort();
        words.dedup();
        // Words and pairs in a large share of the entries tell little and cost most (their
        // posting lists are the longest): keep them only where nothing rarer is left, and
        // only the rarest of a long text.
        let common = (searcher.num_docs() / 20).max(200);
        let df = |field: Field, t: &str| {
            searcher
                .doc_freq(&Term::from_field_text(field, t))
                .unwrap_or(0)
        };
        let mut words = keep_rare(
            words,
            |w| df(f.answer, w).max(df(f.title, w)).max(df(f.questions, w)),
            common,
        );
        words.truncate(MAX_WORDS);
        let mut grams = keep_rare(bigrams(text), |g| df(f.grams, g), common);
        grams.truncate(MAX_GRAMS);
        let mut sounds = keep_rare(pinyin_pairs([text]), |p| df(f.pinyin, p), common);
        sounds.truncate(MAX_SOUNDS);
        let synonyms = synonyms.expand(text);
        if words.is_empty() && synonyms.is_empty() {
            return None;
        }
        const FIELDS: usize = 3;
        let fields = |word: &str| -> [Box<dyn Query>; FIELDS] {
            [(f.title, 3.0), (f.questions, 2.0), (f.answer, 1.0)].map(
                |(field, boost)| -> Box<dyn Query> {
                    let q = TermQuery::new(
                        Term::from_field_text(field, word),
                        IndexRecordOption::WithFreqs,
                    );
                    Box::new(BoostQuery::new(Box::new(q), boost))
                },
            )
        };
        let should = |q: Box<dyn Query>| (Occur::Should, q);
        let word_clauses: Vec<(Occur, Box<dyn Query>)> =
            words.iter().flat_map(|w| fields(w)).map(should).collect();
        // A synonym counts as a whole word: each of its words must match, in some field.
        let synonym_clauses: Vec<(Occur, Box<dyn Query>)> = synonyms
            .iter()
            .filter_map(|syn| {
                let parts: Vec<(Occur, Box<dyn Query>)> = self
                    .analyzer
                    .words(syn)
                    .iter()
                    .map(|p| -> (Occur, Box<dyn Query>) {
                        let any = fields(p).into_iter().map(should).collect();
                        (Occur::Must, Box::new(BooleanQuery::new(any)))
                    })
                    .collect();
                (!parts.is_empty()).then(|| should(Box::new(BooleanQuery::new(parts))))
            })
            .collect();
        let mut matching: Vec<(Occur, Box<dyn Query>)> = word_clauses;
        matching.extend(synonym_clauses);
        let mut scored: Vec<(Occur, Box<dyn Query>)> =
            matching.iter().map(|(o, q)| (*o, q.box_clone())).collect();
        for g in grams {
            let q = TermQuery::new(
                Term::from_field_text(f.grams, &g),
                IndexRecordOption::WithFreqs,
            );
            scored.push(should(Box::new(BoostQuery::new(Box::new(q), GRAM_BOOST))));
        }
        for p in sounds {
            let q = TermQuery::new(
                Term::from_field_text(f.pinyin, &p),
                IndexRecordOption::WithFreqs,
            );
            scored.push(should(Box::new(BoostQuery::new(Box::new(q), PINYIN_BOOST))));
        }
        let mut marked = words;
        marked.extend(synonyms.iter().flat_map(|s| self.analyzer.words(s)));
        Some(TextQuery {
            scored: Box::new(BooleanQuery::new(scored)),
            matching: Box::new(BooleanQuery::new(matching)),
            words: marked,
        })
    }

    /// Filters given as terms (category, unit, region); tenant and validity are checked on
    /// fast fields (see [`KbRule`]).
    fn term_filter(&self, q: &KbQuery) -> Option<Box<dyn Query>> {
        let f = &self.fields;
        let term =
            |t: Term| -> Box<dyn Query> { Box::new(TermQuery::new(t, IndexRecordOption::Basic)) };
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some(c) = &q.category {
            must.push((Occur::Must, term(Term::from_field_text(f.category, c))));
        }
        if let Some(u) = q.unit_id {
            must.push((Occur::Must, term(Term::from_field_u64(f.unit, u))));
        }
        if let Some(r) = &q.region {
            // The entry's region is this one or one of its ancestors (or none: everywhere).
            let mut prefixes: Vec<String> = (1..=r.len())
                .filter(|n| r.is_char_boundary(*n))
                .map(|n| r[..n].to_string())
                .collect();
            prefixes.push(String::new());
            let any = prefixes
                .into_iter()
                .map(|p| (Occur::Should, term(Term::from_field_text(f.region, &p))))
                .collect();
            must.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        (!must.is_empty()).then(|| Box::new(BooleanQuery::new(must)) as Box<dyn Query>)
    }

    pub fn search(&self, q: &KbQuery) -> Result<KbHits> {
        let searcher = self.h.searcher();
        let Some(text) = self.text_query(&searcher, q.tenant, &q.text) else {
            return Ok(KbHits::default());
        };
        let filter = self.term_filter(q);
        let rule = |reader: &tantivy::SegmentReader| KbRule::new(reader, q);
        let limit = q.limit.clamp(1, 100);
        // Relevance first; among close matches, the entries that answered most calls.
        let docs = top::top(
            &searcher,
            &*text.scored,
            filter.as_deref(),
            q.offset,
            limit,
            rule,
        )?;
        let found = q.offset + docs.len();
        let total = if q.count {
            top::count(&searcher, &*text.matching, filter.as_deref(), rule)?.max(found)
        } else {
            found
        };
        let mut items = Vec::with_capacity(docs.len());
        for (score, addr) in docs {
            items.push(self.hit(&searcher, addr, score, &text.words)?);
        }
        Ok(KbHits { items, total })
    }

    fn hit(
        &self,
        searcher: &tantivy::Searcher,
        addr: DocAddress,
        score: f32,
        words: &[String],
    ) -> Result<KbHit> {
        let f = &self.fields;
        let doc: TantivyDocument = searcher.doc(addr)?;
        let u64_of = |field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0);
        let str_of = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let answer = str_of(f.answer);
        let highlight = highlight(&answer, words, 120);
        // Every prefix of the code is stored; the longest is the entry's own.
        let category = doc
            .get_all(f.category)
            .filter_map(|v| v.as_str())
            .max_by_key(|c| c.len())
            .map(str::to_string);
        let valid_to = doc
            .get_first(f.valid_to)
            .and_then(|v| v.as_i64())
            .filter(|t| *t != i64::MAX);
        Ok(KbHit {
            id: u64_of(f.id),
            version: u64_of(f.version),
            title: str_of(f.title),
            score,
            highlight,
            answer,
            category,
            unit_id: doc.get_first(f.unit).and_then(|v| v.as_u64()),
            valid_to,
            usage: u64_of(f.usage),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(id: u64, title: &str, answer: &str) -> KbDoc {
        KbDoc {
            id,
            version: 1,
            title: title.into(),
            answer: answer.into(),
            ..KbDoc::default()
        }
    }

    fn ids(index: &KbIndex, q: KbQuery) -> Vec<u64> {
        index
            .search(&q)
            .unwrap()
            .items
            .iter()
            .map(|h| h.id)
            .collect()
    }

    fn text(t: &str) -> KbQuery {
        KbQuery {
            text: t.into(),
            limit: 10,
            ..KbQuery::default()
        }
    }

    #[test]
    fn filters_synonyms_validity_and_highlights() {
        let index = KbIndex::in_memory(Analyzer::default()).unwrap();
        let mut water = entry(
            1,
            "停水怎么办",
            "小区停水请先联系物业，再拨打供水公司热线。",
        );
        water.category = Some("01.05.03".into());
        water.region = Some("430102".into());
        let mut fee = entry(2, "物业费收费标准", "住宅物业费按政府指导价执行。");
        fee.category = Some("01.05.01".into());
        let mut old = entry(3, "旧版停水通知", "停水期间请储水。");
        old.valid_to = Some(1_000);
        index.upsert(&[water, fee, old]).unwrap();
        assert_eq!(index.len(), 3);

        // Both entries about 停水 match (in either order: each has it in title and answer).
        let mut both = ids(&index, text("停水"));
        both.sort_unstable();
        assert_eq!(both, vec![1, 3]);
        // Validity: the old notice has expired.
        let q = KbQuery {
            valid_at: Some(2_000),
            ..text("停水")
        };
        assert_eq!(ids(&index, q), vec![1]);
        // A category subtree.
        let q = KbQuery {
            category: Some("01.05".into()),
            ..text("停水 物业费")
        };
        let mut found = ids(&index, q);
        found.sort();
        assert_eq!(found, vec![1, 2], "01.05 holds both 01.05.03 and 01.05.01");
        let q = KbQuery {
            category: Some("01.05.01".into()),
            ..text("停水 物业费")
        };
        assert_eq!(ids(&index, q), vec![2]);
        // Region: an entry for a district serves it and its streets, not the neighbour.
        let q = KbQuery {
            region: Some("430102001".into()),
            ..text("停水")
        };
        assert!(ids(&index, q).contains(&1));
        let q = KbQuery {
            region: Some("430103".into()),
            ..text("停水")
        };
        assert!(!ids(&index, q).contains(&1));

        // Synonyms, managed at query time.
        assert!(ids(&index, text("物管费")).is_empty());
        index.set_synonyms(0, &[vec!["物业费".into(), "物管费".into()]]);
        let q = KbQuery {
            tenant: 9,
            ..text("物业费")
        };
        assert!(
            ids(&index, q).is_empty(),
            "another tenant's entries stay apart"
        );
        assert_eq!(ids(&index, text("物管费")), vec![2]);

        let hits = index.search(&text("物业费")).unwrap();
        assert!(
            hits.items[0].highlight.contains("<em>物业费</em>"),
            "{:?}",
            hits.items[0]
        );

        // Replacing and removing.
        index
            .upsert(&[entry(2, "物业费收费标准（2027）", "按新标准执行。")])
            .unwrap();
        assert_eq!(index.len(), 3);
        assert_eq!(
            index.search(&text("物业费")).unwrap().items[0].title,
            "物业费收费标准（2027）"
        );
        index.remove(&[2]).unwrap();
        assert!(!ids(&index, text("物业费")).contains(&2));
        assert!(
            index.search(&text("的 了")).unwrap().items.is_empty(),
            "stop words alone find nothing"
        );
    }

    /// The pruned search (block-max WAND, filters and the usage factor outside tantivy's
    /// query) returns what scoring every document would.
    #[test]
    fn pruning_finds_what_scoring_everything_finds() {
        use tantivy::collector::TopDocs;
        let index = KbIndex::in_memory(Analyzer::default()).unwrap();
        let topics = [
            "停水",
            "物业费",
            "社保卡",
            "公积金",
            "噪音",
            "路灯",
            "垃圾",
            "停车",
        ];
        let docs: Vec<KbDoc> = (0..600u64)
            .map(|i| {
                let a = topics[(i % 8) as usize];
                let b = topics[(i / 8 % 8) as usize];
                let mut d = entry(
                    i + 1,
                    &format!("{a}问题{i}"),
                    &format!(
                        "关于{b}和{a}的答复，第{i}号。{}",
                        "说明。".repeat((i % 7) as usize)
                    ),
                );
                d.usage = (i * 37) % 1000;
                d.tenant = i % 2;
                d
            })
            .collect();
        // Several commits: several segments.
        for chunk in docs.chunks(150) {
            index.upsert(chunk).unwrap();
        }
        for q in ["停水", "物业费 噪音", "社保卡公积金路灯", "垃圾 停车 问题"]
        {
            for limit in [1, 5, 20] {
                let query = KbQuery {
                    text: q.into(),
                    limit,
                    tenant: 1,
                    ..KbQuery::default()
                };
                let got = index.search(&query).unwrap();
                let searcher = index.h.searcher();
                let text = index.text_query(&searcher, 1, q).unwrap();
                let f = &index.fields;
                let all = BooleanQuery::new(vec![
                    (Occur::Must, text.scored),
                    (
                        Occur::Must,
                        // A filter: it adds nothing to the score.
                        Box::new(BoostQuery::new(
                            Box::new(TermQuery::new(
                                Term::from_field_u64(f.tenant, 1),
                                IndexRecordOption::Basic,
                            )),
                            0.0,
                        )),
                    ),
                ]);
                let reference =
                    TopDocs::with_limit(limit).tweak_score(|segment: &tantivy::SegmentReader| {
                        let usage = segment.fast_fields().u64("usage").unwrap();
                        move |doc: tantivy::DocId, score: tantivy::Score| {
                            score * KbRule::usage_factor(usage.first(doc).unwrap_or(0))
                        }
                    });
                let want: Vec<f32> = searcher
                    .search(&all, &reference)
                    .unwrap()
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect();
                let scores: Vec<f32> = got.items.iter().map(|h| h.score).collect();
                assert_eq!(scores.len(), want.len(), "{q} / {limit}");
                for (a, b) in scores.iter().zip(&want) {
                    assert!(
                        (a - b).abs() < 1e-4,
                        "{q} / {limit}: {scores:?} vs {want:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn names_typed_with_same_sounding_characters_are_found() {
        let index = KbIndex::in_memory(Analyzer::default()).unwrap();
        let mut docs = vec![
            entry(1, "景蓉华苑物业管理问题", "请联系街道物业办。"),
            entry(2, "桂花坪街道办事处办公时间", "工作日 9:00-17:00。"),
        ];
        // Decoys with the same single characters and words, in titles as short.
        for i in 3..40 {
            docs.push(entry(i, &format!("景苑物业管理{i}"), "按规定办理。"));
            docs.push(entry(i + 100, &format!("街道上班时间{i}"), "工作日办理。"));
        }
        // As in a real base, entries have question variants.
        for d in docs.iter_mut() {
            d.questions = vec![format!("{}怎么办理", d.title)];
        }
        docs[1].questions = vec!["桂花坪街道几点上班".into()];
        index.upsert(&docs).unwrap();
        // 荣 for 蓉, 化 for 华: the name as a pinyin keyboard might give it.
        assert_eq!(ids(&index, text("景荣化苑"))[0], 1);
        // A question variant counts too (桂华坪 for 桂花坪).
        assert_eq!(ids(&index, text("桂华坪上班"))[0], 2);
        // The right characters still rank above a same-sounding near miss.
        index
            .upsert(&[entry(50, "景荣化苑物业管理问题", "另行通知。")])
            .unwrap();
        assert_eq!(ids(&index, text("景蓉华苑物业"))[0], 1);
        assert_eq!(ids(&index, text("景荣化苑物业"))[0], 50);
        assert_eq!(pinyin_pairs(["华苑A区"]), vec!["huayuan".to_string()]);
    }

    #[test]
    fn usage_breaks_ties_towards_the_entry_that_answers_most() {
        let index = KbIndex::in_memory(Analyzer::default()).unwrap();
        let mut a = entry(1, "社保卡补办", "携带身份证到社保窗口补办。");
        let mut b = entry(2, "社保卡补办", "携带身份证到社保窗口补办。");
        a.usage = 0;
        b.usage = 500;
        index.upsert(&[a, b]).unwrap();
        assert_eq!(ids(&index, text("社保卡补办")), vec![2, 1]);
    }
}
