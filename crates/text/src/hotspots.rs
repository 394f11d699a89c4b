//! Hot spots (热点): many requests about one issue at one place ("一个诉求解决一类问题").
//!
//! Requests are clustered in one pass as they arrive: a new request joins the cluster whose
//! words are most like its own, provided the two are about the same place; otherwise it
//! starts a cluster of its own. Adding requests therefore touches only the new ones and the
//! clusters they join, and adding a batch gives the same clusters as adding its requests one
//! by one.
//!
//! - Words: the request's words (title twice, the opening of the content once), weighted by
//!   sublinear tf-idf over the requests seen so far, the strongest [`DOC_TERMS`] kept and
//!   scaled to unit length. A cluster's centroid is the sum of its members' vectors.
//! - Places: names ending in a place word (小区, 路, 村, 公司, 学校 …) are fine places;
//!   divisions (A7县, 雨花区, a region code) are coarse ones. Two fine places match when one
//!   name, without its place word, contains the other. Requests that name different fine
//!   places are never clustered; otherwise they need a shared place (or very similar words).
//! - Candidates: clusters are found through an inverted index of their places and of their
//!   members' strongest words, so a request is compared with a few dozen clusters, not all.

use crate::Analyzer;
use crate::analyzer::{fold, unfold};
// foldhash: the clustering looks words and ids up for every request.
use foldhash::{HashMap, HashMapExt, HashSet};
use std::collections::{BTreeMap, VecDeque};

/// Words kept per request.
const DOC_TERMS: usize = 12;
/// A request's strongest words looked up to find candidate clusters.
const PROBE_TERMS: usize = 6;
/// Words of a cluster's centroid kept once it is large.
const CENTROID_TERMS: usize = 240;
/// Clusters compared in full with a request.
const CANDIDATES: usize = 48;
/// A word listed for more clusters than this is too common to find candidates by.
const MAX_POSTING: usize = 1_000;
/// Characters of the content read (its opening states the matter).
const CONTENT_CHARS: usize = 300;
/// Place names are at most this long, place word included.
const MAX_PLACE_CHARS: usize = 12;

/// Words that end a fine place's name.
const PLACE_WORDS: &[&str] = &[
    "小区",
    "花园",
    "家园",
    "公寓",
    "大厦",
    "广场",
    "社区",
    "街道",
    "村",
    "镇",
    "乡",
    "路",
    "街",
    "大道",
    "巷",
    "公司",
    "厂",
    "学校",
    "中学",
    "小学",
    "一中",
    "二中",
    "三中",
    "幼儿园",
    "学院",
    "大学",
    "医院",
    "卫生院",
    "市场",
    "商场",
    "超市",
    "酒店",
    "宾馆",
    "饭店",
    "公园",
    "车站",
    "大桥",
    "桥",
    "工业园",
    "园区",
    "苑",
    "府",
    "城",
    "湾",
    "郡",
    "山庄",
    "中心",
    "局",
    "所",
    "站",
    "馆",
    "店",
    "院",
    "园",
    "河",
    "湖",
    "线",
    "高速",
    "公路",
    "项目",
    "工地",
    "场",
    "小镇",
    "新村",
    "名园",
    "华庭",
    "国际",
    "商城",
];

/// Generic words that end like a place but name none.
const NOT_PLACES: &[&str] = &[
    "农村",
    "乡村",
    "城乡",
    "城市",
    "道路",
    "马路",
    "公路",
    "线路",
    "路线",
    "小区",
    "社区",
    "医院",
    "学校",
    "公司",
    "市场",
    "中心",
    "政府",
    "单位",
    "部门",
    "工厂",
    "厂家",
    "商家",
    "门店",
    "店铺",
    "车站",
    "站点",
    "楼房",
    "楼道",
    "院子",
    "学院",
    "法院",
    "园区",
    "公园",
    "项目",
    "工地",
    "现场",
    "广场",
    "市场监管局",
    "派出所",
    "所",
    "场所",
    "厕所",
    "住所",
    "国际",
    "城管",
    "全城",
    "进城",
    "县城",
    "主城",
    "新城",
    "老城",
];

/// Words that end like a place but make no name of what comes before them.
const NOT_PLACE_TAILS: &[&str] = &[
    "政府",
    "人民政府",
    "国务院",
    "法院",
    "骗局",
    "格局",
    "布局",
    "当局",
    "结局",
    "部门",
    "单位",
    "剧院",
    "书院",
    "学院",
    "大院",
    "庭院",
];

/// Single characters and words that end a place's name on its left.
const LEFT_STOPS: &[&str] = &[
    "的",
    "在",
    "于",
    "是",
    "了",
    "和",
    "与",
    "及",
    "对",
    "把",
    "被",
    "从",
    "向",
    "到",
    "给",
    "为",
    "由",
    "将",
    "请",
    "我",
    "你",
    "他",
    "她",
    "我们",
    "有",
    "无",
    "都",
    "也",
    "就",
    "还",
    "又",
    "很",
    "太",
    "让",
    "使",
    "去",
    "来",
    "住",
    "说",
    "要",
    "想",
    "这",
    "那",
    "该",
    "个",
    "至",
    "而",
    "如今",
    "现在",
    "很多",
    "严重",
    "影响",
    "一个",
    "一",
    "些",
    "关于",
    "投诉",
    "举报",
    "反映",
    "咨询",
    "请求",
    "要求",
    "希望",
    "建议",
    "恳请",
    "位于",
    "地处",
    "居住",
    "附近",
    "周边",
    "旁边",
    "门口",
    "对面",
    "解决",
    "处理",
    "管理",
    "整治",
    "严管",
    "查处",
    "管管",
    "规范",
    "取缔",
    "小学生",
    "学生",
    "业主",
    "居民",
    "村民",
    "职工",
];

/// Tuning of the clustering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Similarity (cosine of the words) that joins a request to a cluster of the same place.
    pub join: f32,
    /// Similarity that joins without a shared place (the same words, the place said
    /// differently or not at all).
    pub strong: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            join: 0.3,
            strong: 0.6,
        }
    }
}

/// A request as the clustering sees it.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub id: i64,
    /// Epoch milliseconds.
    pub time: i64,
    pub title: &'a str,
    pub content: &'a str,
    /// The address field, where there is one.
    pub address: &'a str,
    /// The division the request was placed in (a region code), where known.
    pub region: Option<&'a str>,
    /// Who raised it (a phone number, a user id): reach counts distinct callers.
    pub caller: Option<&'a str>,
}

/// A request's text read once: the places it names and its words, for the clustering, and
/// its word set, for repeat detection. Reading (segmenting) is most of the cost of adding a
/// request and needs only the analyzer; it is owned, so that what reads a new request where
/// it is accepted (repeat detection) can hand the reading on to the hot spots.
#[derive(Debug, Clone)]
pub struct Reading {
    found: Places,
    /// The fine places its title names.
    title_places: Vec<String>,
    title_words: Vec<String>,
    content_words: Vec<String>,
    /// The text the places' names are shown from.
    source: String,
    /// As [`words_of`] makes it.
    words: WordSet,
}

impl Reading {
    pub fn new(analyzer: &Analyzer, address: &str, title: &str, content: &str) -> Self {
        let opening: String = content.chars().take(CONTENT_CHARS).collect();
        // The title (and address) say where; the content's places count where they say
        // nothing, since the content also names places in passing.
        // One reading each: the issue's words come without the places' words.
        let (at, _, _) = read(analyzer, address);
        let (named, title_words, title_all) = read(analyzer, title);
        let (inside, content_words, content_all) = read(analyzer, &opening);
        let mut found = at;
        for p in &named.fine {
            if !found.fine.contains(p) {
                found.fine.push(p.clone());
            }
        }
        for p in &named.coarse {
            if !found.coarse.contains(p) {
                found.coarse.push(p.clone());
            }
        }
        if found.fine.is_empty() {
            found.fine = inside.fine.iter().take(2).cloned().collect();
        }
        if found.coarse.is_empty() {
            found.coarse = inside.coarse.iter().take(2).cloned().collect();
        }
        let source = format!("{address} {title} {opening}");
        Reading {
            found,
            title_places: named.fine,
            title_words,
            content_words,
            source,
            words: WordSet::of(title_all.into_iter().chain(content_all).collect()),
        }
    }

    /// The word set of the title and the content's opening, as [`words_of`] makes it.
    pub fn words(&self) -> &WordSet {
        &self.words
    }
}

/// A request with its reading, ready to join the clustering.
pub struct ReadRequest<'a> {
    request: Incoming<'a>,
    reading: Reading,
}

impl<'a> ReadRequest<'a> {
    pub fn new(analyzer: &Analyzer, r: Incoming<'a>) -> Self {
        let reading = Reading::new(analyzer, r.address, r.title, r.content);
        Self::with(r, reading)
    }

    /// A request read beforehand, with the same analyzer as the hot spots' and from the
    /// same address, title and content.
    pub fn with(r: Incoming<'a>, reading: Reading) -> Self {
        ReadRequest {
            request: r,
            reading,
        }
    }

    pub fn id(&self) -> i64 {
        self.request.id
    }
}

/// The places named in a text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Places {
    /// Names ending in a place word, in the order found.
    pub fine: Vec<String>,
    /// Divisions: names ending in 省, 市, 县, 区, 旗 (and region codes).
    pub coarse: Vec<String>,
}

fn is_break(word: &str) -> bool {
    !word.chars().any(char::is_alphanumeric)
}

fn division_char(c: char) -> bool {
    matches!(c, '省' | '市' | '县' | '区' | '旗')
}

/// The place word a token ends with, if any (the longest).
fn place_word(token: &str) -> Option<&'static str> {
    let words = &lists().place_words;
    // Place words are at most three characters.
    let ends: Vec<usize> = token.char_indices().rev().take(3).map(|(i, _)| i).collect();
    ends.iter()
        .rev()
        .find_map(|&i| words.get(&token[i..]).copied())
}

/// Parts of speech that end a place's name on its left: verbs, adverbs, prepositions,
/// conjunctions, particles, pronouns, interjections.
fn breaks_name(l: &Lists, word: &str, tag: &str) -> bool {
    if l.left_stops.contains(word) {
        return true;
    }
    word.chars().count() > 1
        && matches!(
            tag,
            "v" | "vd"
                | "vg"
                | "d"
                | "p"
                | "c"
                | "u"
                | "uj"
                | "ul"
                | "r"
                | "y"
                | "e"
                | "o"
                | "ad"
                | "z"
                | "l"
                | "i"
                | "t"
                | "tg"
        )
}

/// The fine places and divisions named in `text`.
pub fn places(analyzer: &Analyzer, text: &str) -> Places {
    read(analyzer, text).0
}

/// Word lists as sets, built once.
struct Lists {
    place_words: HashSet<&'static str>,
    not_places: HashSet<&'static str>,
    not_place_tails: HashSet<&'static str>,
    left_stops: HashSet<&'static str>,
}

fn lists() -> &'static Lists {
    static LISTS: std::sync::OnceLock<Lists> = std::sync::OnceLock::new();
    LISTS.get_or_init(|| Lists {
        place_words: PLACE_WORDS.iter().copied().collect(),
        not_places: NOT_PLACES.iter().copied().collect(),
        not_place_tails: NOT_PLACE_TAILS.iter().copied().collect(),
        left_stops: LEFT_STOPS.iter().copied().collect(),
    })
}

/// The places of `text`, and its other words (the issue's: words of two or more
/// characters, or letters), from one segmentation.
fn read(analyzer: &Analyzer, text: &str) -> (Places, Vec<String>, Vec<u64>) {
    let folded = fold(text);
    let tokens = analyzer.tag(&folded);
    let l = lists();
    let mut out = Places::default();
    // Tokens that are part of a place.
    let mut used = vec![false; tokens.len()];
    // The name being read starts at `start`; the last fine place ended at `last_place`.
    let mut start = 0;
    let mut last_place: Option<usize> = None;
    let mut i = 0;
    while i < tokens.len() {
        let (t, tag) = tokens[i];
        let date = matches!(t, "年" | "月" | "日")
            && i > 0
            && tokens[i - 1].0.chars().all(|c| c.is_ascii_digit());
        if is_break(t) || breaks_name(l, t, tag) || date {
            start = i + 1;
            i += 1;
            continue;
        }
        // A division: letters and digits (anonymised "A7", "K10") then 县/区/市…, or one
        // word ending in one (雨花区).
        let chars = t.chars().count();
        let coded = t.chars().all(|c| c.is_ascii_alphanumeric())
            && t.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        if coded {
            let next = tokens
                .get(i + 1)
                .and_then(|(n, _)| n.chars().next())
                .filter(|c| division_char(*c));
            // Codes and the division after them are not part of a name.
            match next {
                Some(d) => {
                    out.coarse.push(format!("{t}{d}"));
                    used[i] = true;
                    used[i + 1] = tokens[i + 1].0.chars().count() == 1;
                    i += 2;
                }
                None => i += 1,
            }
            start = i;
            continue;
        }
        // A name then 省/市/县/区 (西地 + 省).
        if chars == 1 && t.chars().all(division_char) && i > start {
            let name: String = tokens[start..=i].iter().map(|(w, _)| *w).collect();
            out.coarse.push(name);
            used[start..=i].fill(true);
            i += 1;
            start = i;
            continue;
        }
        let lettered = t.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        if (chars >= 3 || lettered)
            && t.chars().last().is_some_and(division_char)
            && !l.not_places.contains(t)
        {
            out.coarse.push(t.to_string());
            used[i] = true;
            i += 1;
            start = i;
            continue;
        }
        // A bare place word right after a place: 易俗河 + 镇, 丽发新城 + 小区.
        if last_place == Some(i.wrapping_sub(1))
            && l.place_words.contains(t)
            && out
                .fine
                .last()
                .and_then(|p| place_word(p))
                .is_some_and(|w| w.chars().count() == 1)
            && let Some(prev) = out.fine.pop()
        {
            out.fine.push(format!("{prev}{t}"));
            used[i] = true;
            last_place = Some(i);
            start = i + 1;
            i += 1;
            continue;
        }
        if let Some(w) = place_word(t) {
            // The name: tokens from `start` to here, at most MAX_PLACE_CHARS.
            let mut name = String::new();
            let mut from = i + 1;
            while from > start {
                let cand = tokens[from - 1].0;
                if name.chars().count() + cand.chars().count() > MAX_PLACE_CHARS {
                    break;
                }
                name.insert_str(0, cand);
                from -= 1;
            }
            // A local word can carry its divisions (A市A1区北路街道): they are coarse places,
            // the rest is the name.
            let (divisions, rest) = split_divisions(&name, w);
            out.coarse.extend(divisions);
            let name = rest;
            let core = name.chars().count() - w.chars().count();
            // One word is a name only when long (中南大学) or known as a place (芙蓉路),
            // never a generic one (搅拌站).
            let named =
                i + 1 - from >= 2 || name.chars().count() >= 4 || matches!(tag, "ns" | "nt" | "nz");
            let generic = tokens[from..=i]
                .iter()
                .all(|(w, _)| l.not_places.contains(w));
            if core >= 2
                && named
                && !generic
                && !l.not_places.contains(name.as_str())
                && !l.not_place_tails.contains(t)
            {
                if !out.fine.contains(&name) {
                    out.fine.push(name);
                }
                used[from..=i].fill(true);
                last_place = Some(i);
                // The next name starts after this place (泉塘街道, then 板桥安置小区).
                start = i + 1;
            }
        }
        i += 1;
    }
    out.coarse.dedup();
    let words = tokens
        .iter()
        .zip(&used)
        .filter(|((w, _), used)| {
            !**used
                && crate::analyzer::is_word(w)
                && (w.chars().count() >= 2 || w.chars().all(|c| c.is_ascii_alphabetic()))
        })
        .map(|((w, _), _)| w.to_string())
        .collect();
    // Every word, places' too, as `words_of` keeps them (the same segmentation: jieba tags
    // the words it cuts).
    let all = tokens
        .iter()
        .filter(|(w, _)| crate::analyzer::is_word(w) && w.chars().count() >= 2)
        .map(|(w, _)| word_hash(w))
        .collect();
    (out, words, all)
}

/// Splits the divisions off the front of a name: `a市a1区北路街道` → (`a市`, `a1区`),
/// `北路街道`. A division is letters and digits or two or more characters before 省, 市, 县
/// or 区; the place word `w` at the end is never split.
fn split_divisions(name: &str, w: &str) -> (Vec<String>, String) {
    let body = &name[..name.len() - w.len()];
    let mut divisions = Vec::new();
    let mut rest = 0;
    for (i, c) in body.char_indices() {
        if !division_char(c) {
            continue;
        }
        let head = &body[rest..i];
        let coded = !head.is_empty() && head.chars().all(|c| c.is_ascii_alphanumeric());
        if coded || head.chars().count() >= 2 {
            divisions.push(format!("{head}{c}"));
            rest = i + c.len_utf8();
        }
    }
    (divisions, name[rest..].to_string())
}

/// The name without its place word: 月皓玻璃有限公司 → 月皓玻璃有限.
fn core(name: &str) -> &str {
    match place_word(name) {
        Some(w) if name.len() > w.len() => &name[..name.len() - w.len()],
        _ => name,
    }
}

/// The same place: the same name, or one name inside the other (月皓玻璃 in 月皓玻璃有限)
/// where the shorter is specific enough (实验 is in every other school's name). On the names
/// without their place words.
fn cores_match(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short == long || (short.chars().count() >= 3 && long.contains(short))
}

/// A request's words as two requests are compared: the 64-bit hashes of its distinct words,
/// ascending. A tenth of the memory of the words themselves (repeat detection keeps tens of
/// thousands of them), and compared by one merge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WordSet(Box<[u64]>);

/// How [`WordSet`]s are made: the segmentation's rules (which words count, how much of the
/// content) and the hash. Stored word sets are used only where theirs is this one (with the
/// same dictionary); change it with any of those.
pub const WORDS_FORMAT: u32 = 1;

impl WordSet {
    fn of(mut hashes: Vec<u64>) -> Self {
        hashes.sort_unstable();
        hashes.dedup();
        WordSet(hashes.into_boxed_slice())
    }

    /// The set as stored: its hashes ascending, 8 bytes each, little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|h| h.to_le_bytes()).collect()
    }

    /// A set stored by [`Self::to_bytes`]; `None` where the bytes are not one (a length not
    /// a multiple of 8, hashes not strictly ascending).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (chunks, rest) = bytes.as_chunks::<8>();
        if !rest.is_empty() {
            return None;
        }
        let hashes: Box<[u64]> = chunks.iter().map(|c| u64::from_le_bytes(*c)).collect();
        hashes
            .windows(2)
            .all(|w| w[0] < w[1])
            .then_some(WordSet(hashes))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Words in both sets.
    fn common(&self, other: &WordSet) -> usize {
        let (mut i, mut j, mut n) = (0, 0, 0);
        let (x, y) = (&self.0, &other.0);
        while i < x.len() && j < y.len() {
            match x[i].cmp(&y[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    n += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        n
    }
}

/// The words two requests are compared by: those of two or more characters in the title and
/// the opening of the content.
pub fn words_of(analyzer: &Analyzer, title: &str, content: &str) -> WordSet {
    let opening: String = content.chars().take(CONTENT_CHARS).collect();
    WordSet::of(
        analyzer
            .words(&format!("{title} {opening}"))
            .into_iter()
            .filter(|w| w.chars().count() >= 2)
            .map(|w| word_hash(&w))
            .collect(),
    )
}

/// A word's hash in a [`WordSet`]: FNV-1a of its UTF-8, so the same word hashes alike in
/// every set, process and build (word sets are stored with their orders; the standard
/// library's hasher may change between Rust releases).
fn word_hash(w: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = fnv::FnvHasher::default();
    h.write(w.as_bytes());
    h.finish()
}

/// The share of words two word sets have in common, as the cosine of the sets (0–1).
pub fn cosine(x: &WordSet, y: &WordSet) -> f32 {
    if x.is_empty() || y.is_empty() {
        return 0.0;
    }
    x.common(y) as f32 / ((x.len() * y.len()) as f32).sqrt()
}

/// One request in the window.
struct Doc {
    cluster: u32,
    time: i64,
    caller: u64,
    vector: Box<[(u32, f32)]>,
    fine: Box<[u32]>,
    coarse: Box<[u32]>,
    /// The fine places its title names (they name the hot spot).
    titled: Box<[u32]>,
}

/// The requests in the window, each in a slot that a removed request leaves to the next one,
/// found by id through a B-tree. A hash map of the requests themselves, held at a steady size
/// by the oldest leaving as new ones come, fills its table with deleted markers and then
/// doubles it (at the cap of 200,000 requests: from 262,144 to 524,288 buckets of ~100 bytes,
/// ~97,000 requests after the cap was reached). The slots never outgrow the most requests held
/// at once, and a B-tree keeps no deleted markers.
#[derive(Default)]
struct Docs {
    slots: Vec<Option<Doc>>,
    /// Slots whose request was removed, to be used again.
    free: Vec<u32>,
    index: BTreeMap<i64, u32>,
}

impl Docs {
    fn len(&self) -> usize {
        self.index.len()
    }

    fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn contains_key(&self, id: &i64) -> bool {
        self.index.contains_key(id)
    }

    fn get(&self, id: &i64) -> Option<&Doc> {
        self.slots.get(*self.index.get(id)? as usize)?.as_ref()
    }

    fn insert(&mut self, id: i64, doc: Doc) {
        // The request's own slot, a freed one, or a new one at the end.
        let slot = match self.index.get(&id).copied().or_else(|| self.free.pop()) {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        self.slots[slot as usize] = Some(doc);
        self.index.insert(id, slot);
    }

    fn remove(&mut self, id: &i64) -> Option<Doc> {
        let slot = self.index.remove(id)?;
        self.free.push(slot);
        self.slots.get_mut(slot as usize)?.take()
    }
}

#[derive(Default)]
struct Cluster {
    /// Bumped when the slot is reused, so that keys of gone clusters stay gone.
    generation: u32,
    members: Vec<i64>,
    /// The members' acceptance times, ascending.
    times: Vec<i64>,
    /// Distinct callers with their members, by caller.
    callers: Vec<(u64, u32)>,
    /// Sum of the members' vectors, sorted by word.
    centroid: Vec<(u32, f32)>,
    norm2: f32,
    /// Place → members naming it.
    fine: Vec<(u32, u32)>,
    coarse: Vec<(u32, u32)>,
    titled: Vec<(u32, u32)>,
    /// Words and places this cluster is listed under, ascending.
    listed: Vec<u32>,
    listed_places: Vec<u32>,
}

/// Inserts `x` into the ascending `list`; false when it was there.
fn insert_sorted(list: &mut Vec<u32>, x: u32) -> bool {
    match list.binary_search(&x) {
        Ok(_) => false,
        Err(i) => {
            list.insert(i, x);
            true
        }
    }
}

impl Cluster {
    fn dot(&self, v: &[(u32, f32)]) -> f32 {
        v.iter()
            .filter_map(|(t, w)| {
                self.centroid
                    .binary_search_by_key(t, |(k, _)| *k)
                    .ok()
                    .map(|i| self.centroid[i].1 * w)
            })
            .sum()
    }

    fn cosine(&self, v: &[(u32, f32)]) -> f32 {
        if self.norm2 <= 0.0 {
            return 0.0;
        }
        self.dot(v) / self.norm2.sqrt()
    }

    /// Adds (`sign` 1) or removes (−1) a vector.
    fn add(&mut self, v: &[(u32, f32)], sign: f32) {
        let mut merged = Vec::with_capacity(self.centroid.len() + v.len());
        let (mut i, mut j) = (0, 0);
        while i < self.centroid.len() || j < v.len() {
            let a = self.centroid.get(i);
            let b = v.get(j);
            match (a, b) {
                (Some(&(ta, wa)), Some(&(tb, wb))) if ta == tb => {
                    merged.push((ta, wa + sign * wb));
                    i += 1;
                    j += 1;
                }
                (Some(&(ta, wa)), Some(&(tb, _))) if ta < tb => {
                    merged.push((ta, wa));
                    i += 1;
                }
                (Some(&(ta, wa)), None) => {
                    merged.push((ta, wa));
                    i += 1;
                }
                (_, Some(&(tb, wb))) => {
                    merged.push((tb, sign * wb));
                    j += 1;
                }
                (None, None) => break,
            }
        }
        merged.retain(|(_, w)| *w > 1e-6);
        if merged.len() > CENTROID_TERMS * 2 {
            merged.sort_by(|a, b| b.1.total_cmp(&a.1));
            merged.truncate(CENTROID_TERMS);
            merged.sort_by_key(|(t, _)| *t);
        }
        self.norm2 = merged.iter().map(|(_, w)| w * w).sum();
        self.centroid = merged;
    }

    fn count(list: &mut Vec<(u32, u32)>, items: &[u32], sign: i32) {
        for p in items {
            match list.iter_mut().find(|(k, _)| k == p) {
                Some(e) => e.1 = e.1.saturating_add_signed(sign),
                None if sign > 0 => list.push((*p, 1)),
                None => {}
            }
        }
        list.retain(|(_, n)| *n > 0);
    }
}

/// A cluster as reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Hotspot {
    /// Stable while the cluster lives.
    pub key: u64,
    /// The member most like the whole cluster.
    pub representative: i64,
    /// Members, oldest first.
    pub ids: Vec<i64>,
    /// The place most members name (a fine place where there is one).
    pub place: String,
    /// The strongest words of the cluster.
    pub words: Vec<String>,
    pub first: i64,
    pub last: i64,
    /// Members in the recent period and in the period before it (growth).
    pub recent: usize,
    pub previous: usize,
    /// Distinct callers (reach).
    pub callers: usize,
}

impl Hotspot {
    pub fn size(&self) -> usize {
        self.ids.len()
    }

    /// A ranking score: size, growth and reach together.
    pub fn heat(&self) -> f64 {
        heat(self.size(), self.recent, self.previous, self.callers)
    }
}

fn heat(size: usize, recent: usize, previous: usize, callers: usize) -> f64 {
    let growth = recent.saturating_sub(previous) as f64;
    size as f64 + 2.0 * growth + recent as f64 + 0.5 * callers as f64
}

/// What a cluster's rank is computed from.
struct Stats {
    size: usize,
    recent: usize,
    previous: usize,
    callers: usize,
    last: i64,
}

/// How hot spots are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rank {
    /// Size, growth and reach together ([`Hotspot::heat`]).
    #[default]
    Heat,
    Size,
    /// Recent members minus those of the period before.
    Growth,
    /// Distinct callers.
    Reach,
}

/// The hot-spot clustering of one tenant's requests in a sliding window.
pub struct Hotspots {
    analyzer: Analyzer,
    settings: Settings,
    words: HashMap<String, u32>,
    names: Vec<String>,
    /// Places as first written (the names are folded: "a1区" is "A1区").
    display: HashMap<u32, String>,
    /// Fine places without their place words, for matching.
    cores: HashMap<u32, String>,
    df: Vec<u32>,
    seen: u32,
    docs: Docs,
    /// Requests in the order added, to expire the oldest.
    arrival: VecDeque<(i64, i64)>,
    clusters: Vec<Cluster>,
    free: Vec<u32>,
    postings: HashMap<u32, Vec<u32>>,
    place_postings: HashMap<u32, Vec<u32>>,
    /// Requests clustered since creation.
    processed: u64,
}

fn key_of(slot: u32, generation: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(slot)
}

/// Who raised a request, for reach: a hash of the caller, or, for an unknown caller, a key
/// of the request's own (they count as one person each).
fn caller_key(r: &Incoming<'_>) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    match r.caller.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => c.hash(&mut h),
        None => (r.id, "unknown").hash(&mut h),
    }
    h.finish()
}

impl Hotspots {
    pub fn new(analyzer: Analyzer, settings: Settings) -> Self {
        Hotspots {
            analyzer,
            settings,
            words: HashMap::new(),
            names: Vec::new(),
            display: HashMap::new(),
            cores: HashMap::new(),
            df: Vec::new(),
            seen: 0,
            docs: Docs::default(),
            arrival: VecDeque::new(),
            clusters: Vec::new(),
            free: Vec::new(),
            postings: HashMap::new(),
            place_postings: HashMap::new(),
            processed: 0,
        }
    }

    /// Requests in the window.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Requests clustered since creation (each once).
    pub fn processed(&self) -> u64 {
        self.processed
    }

    pub fn contains(&self, id: i64) -> bool {
        self.docs.contains_key(&id)
    }

    fn word_id(&mut self, w: &str) -> u32 {
        if let Some(&id) = self.words.get(w) {
            return id;
        }
        let id = self.names.len() as u32;
        self.words.insert(w.to_string(), id);
        self.names.push(w.to_string());
        self.df.push(0);
        id
    }

    /// Places share the word table, marked so they never meet a word.
    fn place_id(&mut self, kind: char, name: &str) -> u32 {
        let id = self.word_id(&format!("\u{1}{kind}{name}"));
        if kind == 'f' && !self.cores.contains_key(&id) {
            self.cores.insert(id, core(name).to_string());
        }
        id
    }

    /// A fine place's name without its place word.
    fn core_of(&self, place: u32) -> &str {
        self.cores.get(&place).map_or("", String::as_str)
    }

    /// The issue's words: the request's words without the places it names.
    fn vector(&mut self, title: &[String], content: &[String]) -> Vec<(u32, f32)> {
        let mut tf: HashMap<u32, f32> = HashMap::new();
        for (words, weight) in [(title, 2.0), (content, 1.0)] {
            for w in words {
                let id = self.word_id(w);
                *tf.entry(id).or_default() += weight;
            }
        }
        self.seen += 1;
        for id in tf.keys() {
            self.df[*id as usize] += 1;
        }
        let n = self.seen as f32;
        let mut v: Vec<(u32, f32)> = tf
            .into_iter()
            .map(|(id, f)| {
                let idf = (1.0 + n / self.df[id as usize] as f32).ln();
                (id, (1.0 + f.ln()) * idf)
            })
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(DOC_TERMS);
        let norm = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        if norm > 0.0 {
            for e in &mut v {
                e.1 /= norm;
            }
        }
        v.sort_by_key(|(t, _)| *t);
        v
    }

    /// The segmenter the requests are read with.
    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// Adds requests (in time order for reproducible clusters). Requests already in the
    /// window are skipped. Returns the keys of the clusters that changed.
    pub fn add(&mut self, requests: &[Incoming<'_>]) -> Vec<u64> {
        let reads: Vec<ReadRequest<'_>> = requests
            .iter()
            .filter(|r| !self.docs.contains_key(&r.id))
            .map(|r| {
                crate::pace::point();
                ReadRequest::new(&self.analyzer, *r)
            })
            .collect();
        self.add_read(reads)
    }

    /// Adds requests read beforehand ([`ReadRequest::new`], with this hot spots'
    /// [`analyzer`](Self::analyzer)), as [`add`](Self::add) does: the segmentation, the slow
    /// part, can then run without holding whatever guards the hot spots.
    pub fn add_read(&mut self, reads: Vec<ReadRequest<'_>>) -> Vec<u64> {
        let mut changed = Vec::new();
        for r in reads {
            crate::pace::point();
            if let Some(k) = self.add_one(r) {
                changed.push(k);
            }
        }
        changed.sort_unstable();
        changed.dedup();
        changed
    }

    fn add_one(&mut self, read: ReadRequest<'_>) -> Option<u64> {
        let ReadRequest {
            request: r,
            reading:
                Reading {
                    found,
                    title_places,
                    title_words,
                    content_words,
                    source,
                    words: _,
                },
        } = read;
        if self.docs.contains_key(&r.id) {
            return None;
        }
        self.processed += 1;
        let vector = self.vector(&title_words, &content_words);
        let titled: Vec<u32> = title_places.iter().map(|p| self.place_id('f', p)).collect();
        let fine: Vec<u32> = found.fine.iter().map(|p| self.place_id('f', p)).collect();
        let mut coarse: Vec<u32> = found.coarse.iter().map(|p| self.place_id('c', p)).collect();
        for (id, name) in fine
            .iter()
            .zip(&found.fine)
            .chain(coarse.iter().zip(&found.coarse))
            .chain(titled.iter().zip(&title_places))
        {
            if !self.display.contains_key(id) {
                self.display.insert(*id, unfold(&source, name));
            }
        }
        if let Some(code) = r.region.filter(|c| c.len() >= 6) {
            // The district (six digits) is the coarse place of a placed request.
            let district = &code[..6];
            coarse.push(self.place_id('r', district));
        }
        let best = self.best_cluster(&vector, &fine, &coarse);
        let slot = match best {
            Some(slot) => slot,
            None => self.new_cluster(),
        };
        let c = &mut self.clusters[slot as usize];
        c.members.push(r.id);
        let at = c.times.partition_point(|t| *t <= r.time);
        c.times.insert(at, r.time);
        let caller = caller_key(&r);
        match c.callers.binary_search_by_key(&caller, |(k, _)| *k) {
            Ok(i) => c.callers[i].1 += 1,
            Err(i) => c.callers.insert(i, (caller, 1)),
        }
        c.add(&vector, 1.0);
        Cluster::count(&mut c.fine, &fine, 1);
        Cluster::count(&mut c.coarse, &coarse, 1);
        Cluster::count(&mut c.titled, &titled, 1);
        let generation = c.generation;
        // List the cluster under the request's strongest words and its places.
        let mut strongest: Vec<(u32, f32)> = vector.clone();
        strongest.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (t, _) in strongest.iter().take(PROBE_TERMS) {
            if insert_sorted(&mut self.clusters[slot as usize].listed, *t) {
                self.postings.entry(*t).or_default().push(slot);
            }
        }
        for p in fine.iter().chain(&coarse) {
            if insert_sorted(&mut self.clusters[slot as usize].listed_places, *p) {
                self.place_postings.entry(*p).or_default().push(slot);
            }
        }
        self.docs.insert(
            r.id,
            Doc {
                cluster: slot,
                time: r.time,
                caller: caller_key(&r),
                vector: vector.into_boxed_slice(),
                fine: fine.into_boxed_slice(),
                coarse: coarse.into_boxed_slice(),
                titled: titled.into_boxed_slice(),
            },
        );
        self.arrival.push_back((r.time, r.id));
        Some(key_of(slot, generation))
    }

    fn new_cluster(&mut self) -> u32 {
        match self.free.pop() {
            Some(slot) => {
                let c = &mut self.clusters[slot as usize];
                c.generation = c.generation.wrapping_add(1);
                slot
            }
            None => {
                self.clusters.push(Cluster::default());
                (self.clusters.len() - 1) as u32
            }
        }
    }

    /// A division's level: 0 province, 1 city, 2 county or district.
    fn level(&self, place: u32) -> u8 {
        let name = &self.names[place as usize];
        if name.as_bytes().get(1) == Some(&b'r') {
            return 2;
        }
        match name.chars().last() {
            Some('省') => 0,
            Some('市') => 1,
            _ => 2,
        }
    }

    fn best_cluster(&self, vector: &[(u32, f32)], fine: &[u32], coarse: &[u32]) -> Option<u32> {
        let mut votes: HashMap<u32, f32> = HashMap::new();
        for p in fine.iter().chain(coarse) {
            if let Some(list) = self.place_postings.get(p)
                && list.len() <= MAX_POSTING
            {
                for c in list {
                    *votes.entry(*c).or_default() += 0.1;
                }
            }
        }
        let mut strongest: Vec<(u32, f32)> = vector.to_vec();
        strongest.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for (t, w) in strongest.iter().take(PROBE_TERMS) {
            if let Some(list) = self.postings.get(t)
                && list.len() <= MAX_POSTING
            {
                for c in list {
                    *votes.entry(*c).or_default() += w;
                }
            }
        }
        let mut candidates: Vec<(u32, f32)> = votes.into_iter().collect();
        let by_votes = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if candidates.len() > CANDIDATES {
            candidates.select_nth_unstable_by(CANDIDATES - 1, by_votes);
            candidates.truncate(CANDIDATES);
        }
        candidates.sort_by(by_votes);
        let mut my_levels = [false; 3];
        for p in coarse {
            my_levels[self.level(*p) as usize] = true;
        }
        let mut best: Option<(f32, u32)> = None;
        for (slot, _) in candidates {
            let c = &self.clusters[slot as usize];
            if c.members.is_empty() {
                continue;
            }
            let sim = c.cosine(vector);
            if sim < self.settings.join {
                continue;
            }
            let fine_shared = fine.iter().any(|a| {
                c.fine
                    .iter()
                    .any(|(b, _)| a == b || cores_match(self.core_of(*a), self.core_of(*b)))
            });
            let fine_conflict = !fine.is_empty() && !c.fine.is_empty() && !fine_shared;
            let coarse_shared = coarse.iter().any(|p| c.coarse.iter().any(|(q, _)| q == p));
            // Divisions of one level that differ (A7县, J5县) are different places, however
            // alike the rest (实验中学 is in many counties).
            let coarse_conflict = (0u8..3).any(|l| {
                my_levels[l as usize]
                    && c.coarse.iter().any(|(q, _)| self.level(*q) == l)
                    && !coarse
                        .iter()
                        .any(|p| self.level(*p) == l && c.coarse.iter().any(|(q, _)| q == p))
            });
            let place_ok = !coarse_conflict && (fine_shared || (!fine_conflict && coarse_shared));
            let ok = if place_ok {
                sim >= self.settings.join
            } else {
                // Places said differently (or not at all): only the same words will do.
                !fine_conflict && !coarse_conflict && sim >= self.settings.strong
            };
            if ok && best.is_none_or(|(b, s)| sim > b || (sim == b && slot < s)) {
                best = Some((sim, slot));
            }
        }
        best.map(|(_, s)| s)
    }

    /// Removes the requests accepted before `time`; returns how many.
    pub fn expire(&mut self, before: i64) -> usize {
        let mut n = 0;
        while let Some(&(t, id)) = self.arrival.front() {
            if t >= before {
                break;
            }
            self.arrival.pop_front();
            if self.remove(id) {
                n += 1;
            }
        }
        n
    }

    /// Takes the oldest requests out until at most `max` are left (a bound on memory where
    /// the window in days holds more requests than a server should keep). Returns how many.
    pub fn keep_newest(&mut self, max: usize) -> usize {
        let mut n = 0;
        while self.docs.len() > max {
            let Some((_, id)) = self.arrival.pop_front() else {
                break;
            };
            if self.remove(id) {
                n += 1;
            }
        }
        n
    }

    /// Takes one request out of the window.
    pub fn remove(&mut self, id: i64) -> bool {
        let Some(doc) = self.docs.remove(&id) else {
            return false;
        };
        let slot = doc.cluster;
        let c = &mut self.clusters[slot as usize];
        c.members.retain(|m| *m != id);
        if let Ok(i) = c.times.binary_search(&doc.time) {
            c.times.remove(i);
        }
        if let Ok(i) = c.callers.binary_search_by_key(&doc.caller, |(k, _)| *k) {
            c.callers[i].1 -= 1;
            if c.callers[i].1 == 0 {
                c.callers.remove(i);
            }
        }
        c.add(&doc.vector, -1.0);
        Cluster::count(&mut c.fine, &doc.fine, -1);
        Cluster::count(&mut c.coarse, &doc.coarse, -1);
        Cluster::count(&mut c.titled, &doc.titled, -1);
        if c.members.is_empty() {
            let listed: Vec<u32> = std::mem::take(&mut c.listed);
            let places: Vec<u32> = std::mem::take(&mut c.listed_places);
            c.centroid.clear();
            c.norm2 = 0.0;
            for t in listed {
                if let Some(l) = self.postings.get_mut(&t) {
                    l.retain(|s| *s != slot);
                }
            }
            for p in places {
                if let Some(l) = self.place_postings.get_mut(&p) {
                    l.retain(|s| *s != slot);
                }
            }
            self.free.push(slot);
        }
        true
    }

    /// The cluster of a request in the window.
    pub fn cluster_of(&self, id: i64) -> Option<u64> {
        let d = self.docs.get(&id)?;
        Some(key_of(
            d.cluster,
            self.clusters[d.cluster as usize].generation,
        ))
    }

    fn slot(&self, key: u64) -> Option<&Cluster> {
        let c = self.clusters.get((key & 0xFFFF_FFFF) as usize)?;
        (u64::from(c.generation) == key >> 32 && !c.members.is_empty()).then_some(c)
    }

    /// The members of a cluster, oldest first.
    pub fn members(&self, key: u64) -> Vec<i64> {
        let Some(c) = self.slot(key) else {
            return Vec::new();
        };
        let mut ids = c.members.clone();
        ids.sort_by_key(|id| (self.docs.get(id).map_or(0, |d| d.time), *id));
        ids
    }

    /// One cluster as reported; `recent` is the length of the growth period ending `now`.
    pub fn hotspot(&self, key: u64, now: i64, recent: i64) -> Option<Hotspot> {
        let c = self.slot(key)?;
        let ids = self.members(key);
        let times: Vec<i64> = ids
            .iter()
            .filter_map(|id| self.docs.get(id).map(|d| d.time))
            .collect();
        let stats = self.stats(c, now, recent);
        let representative = ids
            .iter()
            .filter_map(|id| self.docs.get(id).map(|d| (c.dot(&d.vector), *id)))
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))
            .map_or(0, |(_, id)| id);
        let name = |p: u32| {
            self.display
                .get(&p)
                .cloned()
                .unwrap_or_else(|| self.names[p as usize][2..].to_string())
        };
        let top = |list: &[(u32, u32)]| {
            list.iter()
                .max_by(|a, b| {
                    a.1.cmp(&b.1)
                        .then(
                            self.names[a.0 as usize]
                                .len()
                                .cmp(&self.names[b.0 as usize].len()),
                        )
                        .then(b.0.cmp(&a.0))
                })
                .map(|(p, _)| name(*p))
        };
        // Region codes place a request but make no name.
        let named: Vec<(u32, u32)> = c
            .coarse
            .iter()
            .copied()
            .filter(|(p, _)| self.names[*p as usize].as_bytes().get(1) != Some(&b'r'))
            .collect();
        let place = top(&c.titled)
            .or_else(|| top(&c.fine))
            .or_else(|| top(&named))
            .unwrap_or_default();
        let mut words: Vec<(u32, f32)> = c.centroid.clone();
        words.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Some(Hotspot {
            key,
            representative,
            place,
            words: words
                .iter()
                .take(6)
                .map(|(t, _)| self.names[*t as usize].clone())
                .collect(),
            first: times.iter().copied().min().unwrap_or(0),
            last: times.iter().copied().max().unwrap_or(0),
            recent: stats.recent,
            previous: stats.previous,
            callers: stats.callers,
            ids,
        })
    }

    /// The clusters of at least `min_size` requests, ranked, at most `limit`.
    pub fn top(
        &self,
        min_size: usize,
        limit: usize,
        rank: Rank,
        now: i64,
        recent: i64,
    ) -> Vec<Hotspot> {
        // Rank on figures alone; describe only the clusters kept.
        let mut ranked: Vec<(f64, usize, i64, u64)> = self
            .clusters
            .iter()
            .enumerate()
            .filter(|(_, c)| c.members.len() >= min_size.max(1))
            .map(|(slot, c)| {
                let s = self.stats(c, now, recent);
                let score = match rank {
                    Rank::Heat => heat(s.size, s.recent, s.previous, s.callers),
                    Rank::Size => s.size as f64,
                    Rank::Growth => s.recent as f64 - s.previous as f64,
                    Rank::Reach => s.callers as f64,
                };
                (score, s.size, s.last, key_of(slot as u32, c.generation))
            })
            .collect();
        ranked.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then(b.1.cmp(&a.1))
                .then(b.2.cmp(&a.2))
                .then(a.3.cmp(&b.3))
        });
        ranked.truncate(limit);
        ranked
            .into_iter()
            .filter_map(|(_, _, _, key)| self.hotspot(key, now, recent))
            .collect()
    }

    fn stats(&self, c: &Cluster, now: i64, recent: i64) -> Stats {
        let count = |from: i64, to: i64| {
            c.times.partition_point(|t| *t <= to) - c.times.partition_point(|t| *t <= from)
        };
        Stats {
            size: c.members.len(),
            recent: count(now - recent, now),
            previous: count(now - 2 * recent, now - recent),
            callers: c.callers.len(),
            last: c.times.last().copied().unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(id: i64, title: &'a str, content: &'a str) -> Incoming<'a> {
        Incoming {
            id,
            time: id * 1000,
            title,
            content,
            address: "",
            region: None,
            caller: None,
        }
    }

    #[test]
    fn places_are_read_from_names_ending_in_a_place_word() {
        let a = Analyzer::default();
        let p = places(&a, "A7县泉塘街道生活用水水压不足");
        assert_eq!(
            (p.fine, p.coarse),
            (vec!["泉塘街道".to_string()], vec!["a7县".to_string()])
        );
        // A place word after a name ending in one: 丽发新城 + 小区; a generic 搅拌站 is none.
        let p = places(&a, "A2区丽发新城小区附近搅拌站噪音扰民");
        assert_eq!(p.fine, ["丽发新城小区"]);
        let p = places(&a, "投诉C市月皓玻璃有限公司污染环境");
        assert_eq!(p.coarse, ["c市"]);
        assert!(p.fine.iter().any(|f| f.contains("月皓玻璃")), "{p:?}");
        // Generic words are no places.
        let p = places(&a, "农村道路需要修建");
        assert!(p.fine.is_empty(), "{p:?}");
    }

    #[test]
    fn the_same_issue_at_the_same_place_clusters_and_another_place_does_not() {
        let mut h = Hotspots::new(Analyzer::default(), Settings::default());
        h.add(&[
            req(
                1,
                "A2区丽发新城小区附近搅拌站噪音扰民",
                "丽发新城小区旁边的搅拌站日夜施工，噪音很大",
            ),
            req(2, "A7县星沙茂中城何时能复工", "茂中城停工两年了"),
            req(
                3,
                "丽发新城小区搅拌站噪音太大",
                "A2区丽发新城小区的搅拌站噪音扰民，晚上无法休息",
            ),
            req(
                4,
                "A2区湘府华城小区搅拌站噪音扰民",
                "湘府华城小区旁边搅拌站噪音很大",
            ),
        ]);
        assert_eq!(h.cluster_of(1), h.cluster_of(3));
        assert_ne!(
            h.cluster_of(1),
            h.cluster_of(4),
            "another compound is another hot spot"
        );
        assert_ne!(h.cluster_of(1), h.cluster_of(2));
        let top = h.top(2, 10, Rank::Size, 4_000, 10_000);
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].ids, [1, 3]);
        assert!(top[0].place.contains("丽发新城"), "{:?}", top[0]);
    }

    #[test]
    fn divisions_inside_one_local_word_are_split_off_and_known_places_stand_alone() {
        assert_eq!(
            split_divisions("a市a1区北路街道", "街道"),
            (
                vec!["a市".to_string(), "a1区".to_string()],
                "北路街道".to_string()
            )
        );
        assert_eq!(
            split_divisions("菜市场", "市场"),
            (vec![], "菜市场".to_string())
        );
        let a = Analyzer::new(["A市A1区北路街道"]);
        let p = places(&a, "A市A1区北路街道芙蓉社区2栋");
        assert_eq!(p.fine, ["北路街道", "芙蓉社区"]);
        assert_eq!(p.coarse, ["a市", "a1区"]);
        // 芙蓉路 is one word, known as a place name.
        assert_eq!(places(&a, "芙蓉路夜市烧烤噪音扰民").fine, ["芙蓉路"]);
    }

    /// How alike two requests read, as repeat detection compares them.
    fn similarity(analyzer: &Analyzer, a: (&str, &str), b: (&str, &str)) -> f32 {
        cosine(&words_of(analyzer, a.0, a.1), &words_of(analyzer, b.0, b.1))
    }

    #[test]
    fn similarity_is_the_share_of_words_in_common() {
        let a = Analyzer::default();
        let noise = ("烧烤摊油烟扰民", "楼下烧烤摊每晚油烟很大");
        assert!(similarity(&a, noise, ("烧烤油烟扰民", "楼下烧烤摊油烟很大，影响休息")) > 0.5);
        assert!(similarity(&a, noise, ("路灯不亮", "幸福路路灯坏了")) < 0.1);
        assert_eq!(similarity(&a, noise, ("", "")), 0.0);
    }

    #[test]
    fn word_sets_hold_each_word_once_and_compare_by_their_words() {
        let a = Analyzer::default();
        let once = words_of(&a, "路灯不亮", "幸福路路灯坏了");
        let twice = words_of(&a, "路灯不亮 路灯不亮", "幸福路路灯坏了 幸福路路灯坏了");
        assert!(!once.is_empty());
        assert_eq!(once, twice);
        assert!((cosine(&once, &twice) - 1.0).abs() < 1e-6);
        let other = words_of(&a, "噪音扰民", "楼下烧烤摊每晚噪音");
        assert_eq!(once.common(&other), 0);
        let some = words_of(&a, "路灯不亮", "楼下烧烤摊每晚噪音");
        let shared = once.common(&some);
        assert!(
            shared >= 1 && shared < once.len(),
            "{shared} of {}",
            once.len()
        );
    }

    #[test]
    fn a_word_set_is_stored_as_bytes_and_read_back_alike() {
        let a = Analyzer::default();
        let set = words_of(&a, "噪音扰民", "楼下烧烤摊每晚噪音");
        let bytes = set.to_bytes();
        assert_eq!(bytes.len(), set.len() * 8);
        assert_eq!(WordSet::from_bytes(&bytes), Some(set.clone()));
        assert_eq!(WordSet::from_bytes(&[]), Some(WordSet::default()));
        // Not a stored set: a torn hash, hashes out of order or twice.
        assert_eq!(WordSet::from_bytes(&bytes[..bytes.len() - 1]), None);
        let mut swapped = bytes[8..16].to_vec();
        swapped.extend_from_slice(&bytes[..8]);
        assert_eq!(WordSet::from_bytes(&swapped), None);
        assert_eq!(
            WordSet::from_bytes(&[&bytes[..8], &bytes[..8]].concat()),
            None
        );
        // The hash is FNV-1a of the word's UTF-8, the same in every build: sets stored by
        // one release compare with sets made by the next (else WORDS_FORMAT must change).
        assert_eq!(word_hash("噪音"), 0x6543_eaa7_b55a_e020);
    }

    #[test]
    fn a_reading_holds_the_word_set_of_its_title_and_opening() {
        let a = Analyzer::default();
        for (title, content) in [
            (
                "A市A1区幸福路路灯不亮",
                "幸福路12号门口路灯坏了，晚上出行不便。",
            ),
            (
                "反映ABC公司拖欠工资2019",
                "2019年12月起ABC公司拖欠工资，至今未付！",
            ),
            ("", "只有内容：小区停水"),
            ("只有标题", ""),
        ] {
            let reading = Reading::new(&a, "幸福路12号", title, content);
            assert_eq!(reading.words(), &words_of(&a, title, content), "{title}");
        }
        let long = "楼下烧烤摊油烟扰民。".repeat(100);
        assert_eq!(
            Reading::new(&a, "", "油烟", &long).words(),
            &words_of(&a, "油烟", &long),
            "only the opening counts"
        );
    }

    /// Requests 1 and 2 (the same noise at one place), then 3 (another issue), a second apart.
    fn two_alike_and_one_other() -> Hotspots {
        let mut h = Hotspots::new(Analyzer::default(), Settings::default());
        h.add(&[
            req(1, "丽发新城小区搅拌站噪音扰民", "搅拌站噪音"),
            req(2, "丽发新城小区搅拌站噪音太大", "搅拌站噪音扰民"),
            req(3, "星沙茂中城何时能复工", "茂中城停工"),
        ]);
        h
    }

    #[test]
    fn requests_read_beforehand_cluster_as_requests_added_at_once() {
        let added = two_alike_and_one_other();
        let mut read = Hotspots::new(Analyzer::default(), Settings::default());
        let requests = [
            req(1, "丽发新城小区搅拌站噪音扰民", "搅拌站噪音"),
            req(2, "丽发新城小区搅拌站噪音太大", "搅拌站噪音扰民"),
            req(3, "星沙茂中城何时能复工", "茂中城停工"),
        ];
        let reads: Vec<ReadRequest<'_>> = requests
            .iter()
            .map(|r| ReadRequest::new(read.analyzer(), *r))
            .collect();
        assert_eq!(
            reads.iter().map(ReadRequest::id).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        let changed = read.add_read(reads);
        assert_eq!(changed.len(), 2, "two clusters");
        assert_eq!(read.len(), 3);
        assert_eq!(read.cluster_of(1), read.cluster_of(2));
        assert_ne!(read.cluster_of(1), read.cluster_of(3));
        for id in 1..=3 {
            let key = read.cluster_of(id).unwrap();
            assert_eq!(
                read.members(key),
                added.members(added.cluster_of(id).unwrap())
            );
            assert_eq!(
                read.hotspot(key, 3_000, 10_000)
                    .map(|h| (h.place, h.words, h.representative)),
                added
                    .hotspot(added.cluster_of(id).unwrap(), 3_000, 10_000)
                    .map(|h| (h.place, h.words, h.representative)),
            );
        }
        // Read twice: added once.
        let again = ReadRequest::new(read.analyzer(), requests[0]);
        assert!(read.add_read(vec![again]).is_empty());
        assert_eq!(read.len(), 3);
    }

    #[test]
    fn the_window_keeps_the_newest_requests_when_bounded_by_count() {
        let mut h = two_alike_and_one_other();
        assert_eq!(h.keep_newest(5), 0);
        assert_eq!(h.keep_newest(2), 1);
        assert_eq!(h.len(), 2);
        assert!(!h.contains(1) && h.contains(2) && h.contains(3));
        assert_eq!(h.keep_newest(0), 2);
        assert!(h.is_empty());
    }

    #[test]
    fn a_window_bounded_by_count_keeps_its_size_as_requests_come_and_go() {
        let mut h = Hotspots::new(Analyzer::default(), Settings::default());
        let titles = [
            "丽发新城小区搅拌站噪音扰民",
            "星沙茂中城何时能复工",
            "泉塘街道生活用水水压不足",
        ];
        let max = 300;
        let add = |h: &mut Hotspots, id: i64| {
            h.add(&[req(id, titles[id as usize % titles.len()], "")]);
            h.keep_newest(max);
        };
        for id in 0..max as i64 {
            add(&mut h, id);
        }
        let slots = h.docs.slots.capacity();
        // Ten times the window, one in and the oldest out at a time.
        for id in max as i64..10 * max as i64 {
            add(&mut h, id);
        }
        assert_eq!(h.len(), max);
        assert_eq!(h.docs.slots.capacity(), slots, "the slots do not grow");
        assert!(h.docs.slots.len() <= max + 1);
        let newest = 10 * max as i64 - 1;
        assert!(h.contains(newest) && !h.contains(newest - max as i64));
        let key = h.cluster_of(newest).unwrap();
        let members = h.members(key);
        assert_eq!(members.len(), max / titles.len(), "{members:?}");
        assert!(
            members
                .iter()
                .all(|id| h.contains(*id) && id % 3 == newest % 3)
        );
    }

    #[test]
    fn expiry_takes_requests_out_and_frees_empty_clusters() {
        let mut h = two_alike_and_one_other();
        let key = h.cluster_of(1).unwrap();
        assert_eq!(h.expire(1_500), 1);
        assert_eq!(h.members(key), [2]);
        assert_eq!(h.expire(2_500), 1);
        assert!(h.members(key).is_empty());
        assert!(
            h.hotspot(key, 0, 1).is_none(),
            "a gone cluster's key stays gone"
        );
        assert_eq!(h.len(), 1);
        // The slot is reused under a new key.
        h.add(&[req(4, "桂花坪小区停车难", "停车难")]);
        assert_ne!(h.cluster_of(4), Some(key));
    }
}
