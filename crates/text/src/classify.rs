//! Request classification: a multinomial logistic regression over the words of a request
//! and the keywords of each class, trained from a tenant's own history and updated online as
//! dispatchers work.
//!
//! Features, per request:
//! - the words of the title, and the words of title and content together (two blocks), each
//!   weighted by sublinear tf-idf and scaled to unit length;
//! - per class, how often its keywords occur (a title hit counts three times), as
//!   `ln(1 + hits)`: the class's names in the category tree and the keywords an admin gave it.
//!   They carry a class nobody has labelled yet, and a small history a long way.
//!
//! The model is linear, so every suggestion can name the words that drove it (their weight
//! times their value). Probabilities are calibrated with a temperature fitted on held-out
//! examples at training time.

use crate::Analyzer;
use aho_corasick::{AhoCorasick, MatchKind};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
// foldhash: a suggestion looks every word of the request up in the vocabulary.
use foldhash::{HashMap, HashMapExt};

/// The title and the free text of a request.
#[derive(Debug, Clone, Copy)]
pub struct Text<'a> {
    pub title: &'a str,
    pub content: &'a str,
}

/// A request with the class a person chose for it.
#[derive(Debug, Clone, Copy)]
pub struct Example<'a> {
    pub text: Text<'a>,
    pub label: &'a str,
}

/// How much a keyword hit in the title counts against one in the content.
const TITLE_HITS: f32 = 3.0;
/// The keyword block's scale against the unit-length word blocks.
const KEYWORD_SCALE: f32 = 2.5;
/// The most weights a model holds (features × classes): bounds memory for large histories
/// with many classes by keeping the most frequent words.
const MAX_WEIGHTS: usize = 12_000_000;
/// Passes over the training examples: 20 for a small history, fewer for a large one (each
/// pass then holds many examples of every class), down to [`MIN_EPOCHS`].
const EPOCHS: usize = 20;
const MIN_EPOCHS: usize = 4;
/// Examples × passes a large history is trained with (about).
const EXAMPLE_PASSES: usize = 400_000;
/// A class whose share of an example's gradient is below this is left alone for that
/// example (most classes, once the model has learned a little): the update touches a few
/// classes instead of all.
const SKIP_GRADIENT: f32 = 1e-4;
/// From this many examples, the temperature is fitted on a held-out fifth of a model
/// trained on the rest, which is then kept (no second fit on everything).
const FIT_ONCE_FROM: usize = 20_000;
/// AdaGrad's base step.
const STEP: f32 = 0.2;
/// L2 penalty, applied to the weights an example touches: keeps rare words from
/// outvoting the keywords on a small history.
const L2: f32 = 0.03;
/// The step of one online correction.
const ONLINE_STEP: f32 = 0.1;
/// Examples held out to fit the temperature (at least this many are needed to hold any out).
const CALIBRATION_SHARE: f64 = 0.2;
const MIN_FOR_CALIBRATION: usize = 50;
/// The most memory a training's example features are held in (made once, visited up to
/// forty times); a larger history's are made again at each of its few visits.
const HELD_FEATURES: usize = 32 << 20;
/// Words of one request that are reported as its reasons.
const REASONS: usize = 6;

/// The keywords of each class, matched as substrings of the folded text.
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    classes: Vec<(String, Vec<String>)>,
}

impl Lexicon {
    /// `classes`: a class label with its keywords (names from the category tree, admins'
    /// keywords). Keywords shorter than two characters are dropped (too ambiguous).
    pub fn new(classes: impl IntoIterator<Item = (String, Vec<String>)>) -> Self {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for (label, words) in classes {
            let mut words: Vec<String> = words
                .iter()
                .map(|w| crate::analyzer::fold(w.trim()))
                .filter(|w| w.chars().count() >= 2 && w != "其他")
                .collect();
            words.sort();
            words.dedup();
            match out.iter_mut().find(|(l, _)| *l == label) {
                Some((_, ws)) => {
                    ws.extend(words);
                    ws.sort();
                    ws.dedup();
                }
                None => out.push((label, words)),
            }
        }
        Lexicon { classes: out }
    }

    pub fn is_empty(&self) -> bool {
        self.classes.iter().all(|(_, w)| w.is_empty())
    }

    fn keywords(&self, label: &str) -> &[String] {
        self.classes
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, w)| w.as_slice())
            .unwrap_or(&[])
    }
}

/// Finds every class's keywords in a text at once.
#[derive(Debug, Clone)]
struct Matcher {
    automaton: Option<AhoCorasick>,
    /// Per pattern, the classes whose keyword it is.
    classes_of: Vec<Vec<u32>>,
    patterns: Vec<String>,
}

impl Matcher {
    fn new(lexicon: &Lexicon, labels: &[String]) -> Self {
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut classes_of: Vec<Vec<u32>> = Vec::new();
        for (class, label) in labels.iter().enumerate() {
            for w in lexicon.keywords(label) {
                let i = *index.entry(w.as_str()).or_insert_with(|| {
                    patterns.push(w.clone());
                    classes_of.push(Vec::new());
                    patterns.len() - 1
                });
                classes_of[i].push(class as u32);
            }
        }
        // Overlapping matches: "养老保险" and "保险" both count, as a reader would see both.
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .ok();
        Matcher {
            automaton,
            classes_of,
            patterns,
        }
    }

    /// Weighted hits per class, and which keywords matched for each class.
    fn hits(&self, text: &Text<'_>, classes: usize) -> (Vec<f32>, Vec<Vec<u32>>) {
        let mut hits = vec![0f32; classes];
        let mut found: Vec<Vec<u32>> = vec![Vec::new(); classes];
        let Some(ac) = &self.automaton else {
            return (hits, found);
        };
        // The content's opening, as its words are read (`Words::of`).
        for (part, weight) in [(text.title, TITLE_HITS), (opening(text.content), 1.0)] {
            let folded = crate::analyzer::fold(part);
            for m in ac.find_overlapping_iter(&folded) {
                let p = m.pattern().as_usize();
                for &c in &self.classes_of[p] {
                    hits[c as usize] += weight;
                    if !found[c as usize].contains(&(p as u32)) {
                        found[c as usize].push(p as u32);
                    }
                }
            }
        }
        (hits, found)
    }
}

/// A sparse feature vector: (feature, value), features ascending.
type Features = Vec<(u32, f32)>;

/// One suggestion: a class with its calibrated probability.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub label: String,
    pub probability: f32,
}

/// The classifier's answer for one request: classes best first, and the words and keywords
/// that drove the first one.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub ranked: Vec<Scored>,
    pub reasons: Vec<String>,
}

impl Prediction {
    pub fn best(&self) -> Option<&Scored> {
        self.ranked.first()
    }
}

/// A trained model.
#[derive(Debug, Clone)]
pub struct Classifier {
    analyzer: Analyzer,
    labels: Vec<String>,
    /// Word (title words prefixed with `TITLE`) → feature id.
    vocab: HashMap<String, u32>,
    idf: Vec<f32>,
    /// Row-major `[feature][class]`; the keyword features follow the words.
    weights: Vec<f32>,
    bias: Vec<f32>,
    temperature: f32,
    matcher: Matcher,
    /// Examples the model learned from (trained and online).
    learned: usize,
}

const TITLE: &str = "\u{1}t:";

/// Characters of the content read: its opening states the matter; the rest (quoted laws,
/// long histories) adds time more than signal.
pub const CONTENT_CHARS: usize = 1_000;
/// The opening of a content that the classifiers read (its first [`CONTENT_CHARS`]
/// characters).
pub fn opening(content: &str) -> &str {
    match content.char_indices().nth(CONTENT_CHARS) {
        Some((end, _)) => &content[..end],
        None => content,
    }
}

/// Classes updated per example at most (besides the right one): those the model confused
/// most with it. The rest have next to no gradient once the model has learned a little.
const UPDATED_CLASSES: usize = 8;

/// A request's words, read once for several models: the title's words, then the opening of
/// the content's (the body block is both). A training reads its requests into a [`Corpus`]
/// instead.
#[derive(Debug, Clone)]
pub struct Words {
    text: String,
    /// End of each word in `text`.
    ends: Vec<u32>,
    /// How many of the words are the title's (the first ones).
    title: usize,
}

impl Words {
    pub fn of(analyzer: &Analyzer, text: Text<'_>) -> Words {
        let mut w = Words {
            text: String::new(),
            ends: Vec::new(),
            title: 0,
        };
        for word in analyzer.words(text.title) {
            w.push(&word);
        }
        w.title = w.ends.len();
        for word in analyzer.words(opening(text.content)) {
            w.push(&word);
        }
        w
    }

    fn push(&mut self, word: &str) {
        self.text.push_str(word);
        self.ends
            .push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
    }

    fn word(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..self.ends[i] as usize).unwrap_or("")
    }

    /// The title's words.
    fn title(&self) -> impl Iterator<Item = &str> {
        (0..self.title).map(|i| self.word(i))
    }

    /// The title's and the content's words.
    fn body(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len()).map(|i| self.word(i))
    }
}

impl Classifier {
    /// Trains on `examples`; the classes are the labels that occur, plus every class of
    /// `lexicon` when `keep_lexicon_classes` (a cold start suggests from keywords alone).
    pub fn train(
        analyzer: &Analyzer,
        lexicon: &Lexicon,
        examples: &[Example<'_>],
        keep_lexicon_classes: bool,
    ) -> Classifier {
        // A lexicon of no classes is not read (it would find nothing).
        let read = (!lexicon.classes.is_empty()).then(|| lexicon.clone());
        let at = read.as_ref().map(|_| 0);
        let mut corpus = Corpus::builder(analyzer, read.into_iter().collect());
        for e in examples {
            corpus.push(e.text);
        }
        let corpus = corpus.finish();
        let labels: Vec<Option<&str>> = examples.iter().map(|e| Some(e.label)).collect();
        Classifier::train_corpus(&corpus, at, &labels, keep_lexicon_classes)
    }

    /// Trains on the requests of `corpus` that have a label (`labels[i]` of its `i`th
    /// request), with the keywords of its `lexicon`th lexicon (none for `None`): several
    /// models trained on one history segment it once. The classes are the labels that
    /// occur, plus every class of the lexicon when `keep_lexicon_classes`.
    pub fn train_corpus(
        corpus: &Corpus,
        lexicon: Option<usize>,
        labels: &[Option<&str>],
        keep_lexicon_classes: bool,
    ) -> Classifier {
        assert_eq!(
            corpus.len(),
            labels.len(),
            "one label (or none) per request"
        );
        let no_keywords = Lexicon::default();
        let read = lexicon.and_then(|i| corpus.lexicons.get(i));
        let lexicon = read.map_or(&no_keywords, |l| &l.lexicon);
        let mut names: Vec<String> = Vec::new();
        let mut class_of: HashMap<&str, usize> = HashMap::new();
        if keep_lexicon_classes {
            for (l, _) in &lexicon.classes {
                class_of.entry(l.as_str()).or_insert(names.len());
                names.push(l.clone());
            }
        }
        // (request, class), in the corpus's order.
        let examples: Vec<(usize, usize)> = labels
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                let l = (*l)?;
                let class = *class_of.entry(l).or_insert_with(|| {
                    names.push(l.to_string());
                    names.len() - 1
                });
                Some((i, class))
            })
            .collect();
        let mut vocabulary = Vocabulary::of(corpus, &examples, names.len());
        let matcher = Matcher::new(lexicon, &names);
        let mut model = Classifier {
            analyzer: corpus.analyzer.clone(),
            weights: vec![0.0; (vocabulary.names.len() + names.len()) * names.len()],
            bias: vec![0.0; names.len()],
            labels: names,
            vocab: std::mem::take(&mut vocabulary.names)
                .into_iter()
                .zip(0u32..)
                .collect(),
            idf: std::mem::take(&mut vocabulary.idf),
            temperature: 1.0,
            matcher,
            learned: 0,
        };
        let mut examples = Examples {
            corpus,
            keywords: read.map(|r| (r, model.keyword_classes(&r.lexicon))),
            base: model.vocab.len() as u32,
            vocabulary,
            examples,
            held: None,
        };
        examples.hold_within(&model.idf, HELD_FEATURES);
        if examples.examples.is_empty() {
            // Keywords alone: each class's keyword feature votes for it.
            model.keyword_prior();
            return model;
        }
        let n = examples.examples.len();
        let mut rng = StdRng::seed_from_u64(0x006a_6965_7375);
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng);
        if n >= FIT_ONCE_FROM {
            // Enough to spare a fifth: fit on the rest, choose the temperature on it.
            let held = ((n as f64 * CALIBRATION_SHARE) as usize).max(1);
            let (held_out, fit) = order.split_at(held);
            model.fit(&examples, fit, &mut rng);
            model.temperature = model.fit_temperature(&examples, held_out);
        } else if n >= MIN_FOR_CALIBRATION {
            // Fit on most, choose the temperature on the rest, then fit on all, from zero
            // again: the model itself is the probe, so that a training holds one set of
            // weights (and one of AdaGrad's sums), not two.
            let held = ((n as f64 * CALIBRATION_SHARE) as usize).max(1);
            let (held_out, fit) = order.split_at(held);
            model.fit(&examples, fit, &mut rng);
            let temperature = model.fit_temperature(&examples, held_out);
            model.weights.fill(0.0);
            model.bias.fill(0.0);
            model.fit(&examples, &order, &mut rng);
            model.temperature = temperature;
        } else {
            model.fit(&examples, &order, &mut rng);
        }
        model.learned = n;
        model
    }

    /// The classes this model can suggest.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Bytes of the weights it holds (features × classes): the bulk of a model's memory.
    pub fn weight_bytes(&self) -> usize {
        self.weights.len() * std::mem::size_of::<f32>()
    }

    /// How many examples it has learned from.
    pub fn learned(&self) -> usize {
        self.learned
    }

    /// Puts weight 1 on "class c's keywords → class c", so that an untrained model ranks
    /// by keyword hits.
    fn keyword_prior(&mut self) {
        let k = self.labels.len();
        let base = self.vocab.len();
        for c in 0..k {
            self.weights[(base + c) * k + c] = 1.0;
        }
    }

    /// The `lexicon`'s classes among this model's (by its place in the lexicon).
    fn keyword_classes(&self, lexicon: &Lexicon) -> Vec<Option<u32>> {
        lexicon
            .classes
            .iter()
            .map(|(l, _)| self.labels.iter().position(|m| m == l).map(|c| c as u32))
            .collect()
    }

    fn features(&self, words: &Words, text: &Text<'_>) -> (Features, Vec<Vec<u32>>) {
        let mut out: Features = Vec::new();
        let mut tf: HashMap<u32, f32> = HashMap::new();
        let mut titled = String::new();
        let title = words.title().map(|w| {
            titled.clear();
            titled.push_str(TITLE);
            titled.push_str(w);
            self.vocab.get(titled.as_str()).copied()
        });
        word_block(&self.idf, &mut out, &mut tf, title);
        let body = words.body().map(|w| self.vocab.get(w).copied());
        word_block(&self.idf, &mut out, &mut tf, body);
        let (hits, found) = self.matcher.hits(text, self.labels.len());
        let base = self.vocab.len() as u32;
        for (c, h) in hits.iter().enumerate() {
            if *h > 0.0 {
                out.push((base + c as u32, keyword_value(*h)));
            }
        }
        out.sort_unstable_by_key(|(f, _)| *f);
        (out, found)
    }

    fn logits(&self, x: &[(u32, f32)], out: &mut [f32]) {
        let k = self.labels.len();
        out.copy_from_slice(&self.bias);
        for &(f, v) in x {
            let row = &self.weights[f as usize * k..(f as usize + 1) * k];
            for (o, w) in out.iter_mut().zip(row) {
                *o += w * v;
            }
        }
    }

    /// Softmax of `logits / temperature`, in place.
    fn softmax(&self, logits: &mut [f32], temperature: f32) {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for l in logits.iter_mut() {
            *l = ((*l - max) / temperature).exp();
            sum += *l;
        }
        for l in logits.iter_mut() {
            *l /= sum;
        }
    }

    /// AdaGrad over `order` of `examples` for `EPOCHS` passes, classes weighted inversely to
    /// their frequency (so that a small class counts as much as a large one).
    fn fit(&mut self, examples: &Examples<'_>, order: &[usize], rng: &mut StdRng) {
        let k = self.labels.len();
        let mut counts = vec![0usize; k];
        for &i in order {
            counts[examples.class(i)] += 1;
        }
        let present = counts.iter().filter(|&&n| n > 0).count().max(1);
        let class_weight: Vec<f32> = counts
            .iter()
            .map(|&n| {
                if n == 0 {
                    0.0
                } else {
                    order.len() as f32 / (present * n) as f32
                }
            })
            .collect();
        let mut g2 = vec![1e-6f32; self.weights.len()];
        let mut g2_bias = vec![1e-6f32; k];
        let mut p = vec![0f32; k];
        let mut order = order.to_vec();
        let epochs = EXAMPLE_PASSES
            .div_ceil(order.len().max(1))
            .clamp(MIN_EPOCHS, EPOCHS);
        let mut touched: Vec<usize> = Vec::with_capacity(k);
        let (mut x, mut tf) = (Features::new(), HashMap::new());
        for _ in 0..epochs {
            order.shuffle(rng);
            for &i in &order {
                let x = examples.features(&self.idf, i, &mut x, &mut tf);
                let y = examples.class(i);
                self.logits(x, &mut p);
                self.softmax(&mut p, 1.0);
                let cw = class_weight[y];
                touched.clear();
                for (c, pc) in p.iter_mut().enumerate() {
                    *pc = cw * (*pc - if c == y { 1.0 } else { 0.0 });
                    if c != y && pc.abs() >= SKIP_GRADIENT {
                        touched.push(c);
                    }
                }
                if touched.len() > UPDATED_CLASSES {
                    touched.select_nth_unstable_by(UPDATED_CLASSES - 1, |a, b| {
                        p[*b].abs().total_cmp(&p[*a].abs())
                    });
                    touched.truncate(UPDATED_CLASSES);
                }
                touched.push(y);
                for &(f, v) in x {
                    let at = f as usize * k;
                    for &c in &touched {
                        let g = p[c] * v + L2 * self.weights[at + c];
                        if g != 0.0 {
                            g2[at + c] += g * g;
                            self.weights[at + c] -= STEP * g / g2[at + c].sqrt();
                        }
                    }
                }
                for c in 0..k {
                    g2_bias[c] += p[c] * p[c];
                    self.bias[c] -= STEP * p[c] / g2_bias[c].sqrt();
                }
                crate::pace::point();
            }
        }
    }

    /// The temperature that minimises the log-loss on `held_out` (golden-section search).
    fn fit_temperature(&self, examples: &Examples<'_>, held_out: &[usize]) -> f32 {
        let k = self.labels.len();
        let (mut x, mut tf) = (Features::new(), HashMap::new());
        let logits: Vec<(Vec<f32>, usize)> = held_out
            .iter()
            .map(|&i| {
                crate::pace::point();
                let mut l = vec![0f32; k];
                let x = examples.features(&self.idf, i, &mut x, &mut tf);
                self.logits(x, &mut l);
                (l, examples.class(i))
            })
            .collect();
        let loss = |t: f32| -> f32 {
            crate::pace::point();
            let mut p = vec![0f32; k];
            logits
                .iter()
                .map(|(l, y)| {
                    p.copy_from_slice(l);
                    self.softmax(&mut p, t);
                    -(p[*y].max(1e-7)).ln()
                })
                .sum()
        };
        let (mut a, mut b) = (0.05f32, 10.0f32);
        let r = 0.618_034f32;
        for _ in 0..40 {
            let c = b - r * (b - a);
            let d = a + r * (b - a);
            if loss(c) < loss(d) {
                b = d;
            } else {
                a = c;
            }
        }
        (a + b) / 2.0
    }

    /// Classes for `text`, best first, with the reasons for the first.
    pub fn predict(&self, text: Text<'_>) -> Prediction {
        self.predict_words(text, &Words::of(&self.analyzer, text))
    }

    /// The same with the request's words already read (by [`Words::of`], with this model's
    /// analyzer): several models judge one request for the price of one segmentation.
    pub fn predict_words(&self, text: Text<'_>, words: &Words) -> Prediction {
        let k = self.labels.len();
        if k == 0 {
            return Prediction {
                ranked: Vec::new(),
                reasons: Vec::new(),
            };
        }
        let (x, found) = self.features(words, &text);
        let mut p = vec![0f32; k];
        self.logits(&x, &mut p);
        self.softmax(&mut p, self.temperature);
        let mut ranked: Vec<Scored> = self
            .labels
            .iter()
            .zip(&p)
            .map(|(l, &probability)| Scored {
                label: l.clone(),
                probability,
            })
            .collect();
        ranked.sort_by(|a, b| b.probability.total_cmp(&a.probability));
        let best = self
            .labels
            .iter()
            .position(|l| Some(l) == ranked.first().map(|s| &s.label))
            .unwrap_or(0);
        let reasons = self.reasons(&x, &found, best, words);
        Prediction { ranked, reasons }
    }

    /// The words with the largest positive contribution to `class`, then its keywords found.
    fn reasons(
        &self,
        x: &Features,
        found: &[Vec<u32>],
        class: usize,
        words: &Words,
    ) -> Vec<String> {
        let k = self.labels.len();
        let base = self.vocab.len() as u32;
        let mut wanted: Vec<(f32, u32)> = x
            .iter()
            .filter(|(f, _)| *f < base)
            .map(|&(f, v)| (self.weights[f as usize * k + class] * v, f))
            .filter(|(c, _)| *c > 0.0)
            .collect();
        wanted.sort_by(|a, b| b.0.total_cmp(&a.0));
        wanted.truncate(REASONS * 2);
        // The names of the wanted features, from the request's own words.
        let mut names: HashMap<u32, &str> = HashMap::new();
        for w in words.body() {
            if let Some(&id) = self.vocab.get(w) {
                names.insert(id, w);
            }
        }
        for w in words.title() {
            if let Some(&id) = self.vocab.get(format!("{TITLE}{w}").as_str()) {
                names.insert(id, w);
            }
        }
        let mut out: Vec<String> = Vec::new();
        let keyword_weight = self.weights[(base as usize + class) * k + class];
        if keyword_weight > 0.0 {
            for &p in found.get(class).map(Vec::as_slice).unwrap_or(&[]) {
                out.push(self.matcher.patterns[p as usize].clone());
            }
        }
        for (_, f) in wanted {
            if let Some(w) = names.get(&f)
                && !out.iter().any(|o| o == w)
            {
                out.push(w.to_string());
            }
        }
        out.truncate(REASONS);
        out
    }

    /// One online correction: `label` was the right class for `text`. A label the model has
    /// not seen waits for the next training.
    pub fn learn(&mut self, text: Text<'_>, label: &str) -> bool {
        if !self.labels.iter().any(|l| l == label) {
            return false;
        }
        let words = Words::of(&self.analyzer, text);
        self.learn_words(text, &words, label)
    }

    /// [`Self::learn`] with the text's words already segmented (by the same analyzer), so that
    /// a caller that predicted and learns on one text segments it once.
    pub fn learn_words(&mut self, text: Text<'_>, words: &Words, label: &str) -> bool {
        let Some(y) = self.labels.iter().position(|l| l == label) else {
            return false;
        };
        let k = self.labels.len();
        let (x, _) = self.features(words, &text);
        let mut p = vec![0f32; k];
        self.logits(&x, &mut p);
        self.softmax(&mut p, 1.0);
        for (c, pc) in p.iter_mut().enumerate() {
            *pc -= if c == y { 1.0 } else { 0.0 };
        }
        for &(f, v) in &x {
            let row = &mut self.weights[f as usize * k..(f as usize + 1) * k];
            for (w, pc) in row.iter_mut().zip(&p) {
                *w -= ONLINE_STEP * pc * v;
            }
        }
        for (b, pc) in self.bias.iter_mut().zip(&p) {
            *b -= ONLINE_STEP * pc;
        }
        self.learned += 1;
        true
    }
}

/// The value of a class's keyword feature for `hits` hits.
fn keyword_value(hits: f32) -> f32 {
    (1.0 + hits).ln() * KEYWORD_SCALE
}

/// Requests read once for several models: each one's words as ids into one dictionary
/// (4 bytes a word, where [`Words`] holds each word's text and its end), and its keyword
/// hits for each lexicon it was read with. The texts can go as soon as they are read: a
/// training over a large history holds this, its models' features and their weights.
#[derive(Clone)]
pub struct Corpus {
    analyzer: Analyzer,
    /// Id → word.
    dictionary: Vec<String>,
    /// Every request's words one after the other: its title's, then its content opening's.
    ids: Vec<u32>,
    /// Per request: where its words end in `ids`, and how many of them are the title's.
    ends: Vec<usize>,
    titles: Vec<usize>,
    /// Per lexicon, in the order given to [`Corpus::builder`].
    lexicons: Vec<LexiconHits>,
}

/// A lexicon's keyword hits in each request of a corpus: (class of the lexicon, hits) for
/// the classes with any.
#[derive(Clone)]
struct LexiconHits {
    lexicon: Lexicon,
    hits: Vec<(u32, f32)>,
    ends: Vec<usize>,
}

impl LexiconHits {
    fn of(&self, request: usize) -> &[(u32, f32)] {
        &self.hits[run(&self.ends, request)]
    }
}

/// Where the `i`th of runs laid one after the other in one buffer is, `ends` holding where
/// each ends.
fn run(ends: &[usize], i: usize) -> std::ops::Range<usize> {
    let start = if i == 0 { 0 } else { ends[i - 1] };
    start..ends[i]
}

impl Corpus {
    /// A corpus to read requests into, with the keywords of `lexicons` (a model trained on
    /// it names one of them, by its place in this list, or none).
    pub fn builder(analyzer: &Analyzer, lexicons: Vec<Lexicon>) -> CorpusBuilder {
        let matchers = lexicons
            .iter()
            .map(|l| {
                let classes: Vec<String> = l.classes.iter().map(|(c, _)| c.clone()).collect();
                Matcher::new(l, &classes)
            })
            .collect();
        CorpusBuilder {
            corpus: Corpus {
                analyzer: analyzer.clone(),
                dictionary: Vec::new(),
                ids: Vec::new(),
                ends: Vec::new(),
                titles: Vec::new(),
                lexicons: lexicons
                    .into_iter()
                    .map(|lexicon| LexiconHits {
                        lexicon,
                        hits: Vec::new(),
                        ends: Vec::new(),
                    })
                    .collect(),
            },
            index: HashMap::new(),
            matchers,
        }
    }

    /// Requests read.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes it holds on the heap (about: the allocator's rounding aside).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.dictionary
            .iter()
            .map(|w| w.capacity() + size_of::<String>())
            .sum::<usize>()
            + self.ids.capacity() * size_of::<u32>()
            + (self.ends.capacity() + self.titles.capacity()) * size_of::<usize>()
            + self
                .lexicons
                .iter()
                .map(|l| {
                    l.hits.capacity() * size_of::<(u32, f32)>()
                        + l.ends.capacity() * size_of::<usize>()
                })
                .sum::<usize>()
    }

    /// The request's title words, and all its words (the title's first).
    fn words(&self, request: usize) -> (&[u32], &[u32]) {
        let all = &self.ids[run(&self.ends, request)];
        (&all[..self.titles[request]], all)
    }
}

/// Reads requests into a [`Corpus`] one at a time, so that a caller can let each text go as
/// soon as it is read.
pub struct CorpusBuilder {
    corpus: Corpus,
    /// Word → id (the dictionary is made from it at the end, so each word is held once).
    index: HashMap<String, u32>,
    /// Per lexicon, its classes' keywords.
    matchers: Vec<Matcher>,
}

impl CorpusBuilder {
    /// Room for `requests` more requests of `words` words in all (an upper bound is fine:
    /// what is never written is never touched).
    pub fn reserve(&mut self, requests: usize, words: usize) {
        self.corpus.ids.reserve(words);
        self.corpus.ends.reserve(requests);
        self.corpus.titles.reserve(requests);
    }

    /// Reads one request: its title's words, then its content opening's, as [`Words::of`]
    /// reads them, and its keyword hits for each lexicon.
    pub fn push(&mut self, text: Text<'_>) {
        let start = self.corpus.ids.len();
        for (part, title) in [(text.title, true), (opening(text.content), false)] {
            for word in self.corpus.analyzer.words(part) {
                let next = u32::try_from(self.index.len()).unwrap_or(u32::MAX);
                let id = *self.index.entry(word).or_insert(next);
                self.corpus.ids.push(id);
            }
            if title {
                self.corpus.titles.push(self.corpus.ids.len() - start);
            }
        }
        self.corpus.ends.push(self.corpus.ids.len());
        for (matcher, read) in self.matchers.iter().zip(&mut self.corpus.lexicons) {
            let (hits, _) = matcher.hits(&text, read.lexicon.classes.len());
            read.hits.extend(
                hits.iter()
                    .enumerate()
                    .filter(|(_, h)| **h > 0.0)
                    .map(|(class, &h)| (class as u32, h)),
            );
            read.ends.push(read.hits.len());
        }
    }

    pub fn finish(mut self) -> Corpus {
        let mut dictionary = vec![String::new(); self.index.len()];
        for (word, id) in self.index {
            dictionary[id as usize] = word;
        }
        self.corpus.dictionary = dictionary;
        self.corpus.ids.shrink_to_fit();
        for read in &mut self.corpus.lexicons {
            read.hits.shrink_to_fit();
        }
        self.corpus
    }
}

/// The features worth keeping for a model: every word seen (in a large history, those seen
/// twice), the most frequent first, within the weight budget; with their smoothed idf.
struct Vocabulary {
    /// The features' names by id: a word, or a title word prefixed with `TITLE`.
    names: Vec<String>,
    idf: Vec<f32>,
    /// A corpus word's feature in a title, and anywhere in a request.
    title: Vec<Option<u32>>,
    body: Vec<Option<u32>>,
}

impl Vocabulary {
    /// Over the `examples` (request, class) of `corpus`, for a model of `classes` classes.
    fn of(corpus: &Corpus, examples: &[(usize, usize)], classes: usize) -> Vocabulary {
        let words = corpus.dictionary.len();
        // (in the title, anywhere) → requests each word occurs in, counted once a request.
        let mut df = [vec![0u32; words], vec![0u32; words]];
        let mut last = [vec![usize::MAX; words], vec![usize::MAX; words]];
        for (n, &(request, _)) in examples.iter().enumerate() {
            crate::pace::point();
            let (title, body) = corpus.words(request);
            for (block, ids) in [title, body].into_iter().enumerate() {
                for &w in ids {
                    let w = w as usize;
                    if last[block][w] != n {
                        last[block][w] = n;
                        df[block][w] += 1;
                    }
                }
            }
        }
        let min_df = if examples.len() > 2_000 { 2 } else { 1 };
        // (feature name, requests, in the title, word).
        let mut kept: Vec<(String, u32, bool, usize)> = Vec::new();
        for (block, counts) in df.iter().enumerate() {
            for (w, &n) in counts.iter().enumerate() {
                if n >= min_df {
                    let word = &corpus.dictionary[w];
                    let name = if block == 0 {
                        format!("{TITLE}{word}")
                    } else {
                        word.clone()
                    };
                    kept.push((name, n, block == 0, w));
                }
            }
        }
        kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        kept.truncate(MAX_WEIGHTS / classes.max(1));
        let n = examples.len() as f32;
        let mut v = Vocabulary {
            names: Vec::with_capacity(kept.len()),
            idf: Vec::with_capacity(kept.len()),
            title: vec![None; words],
            body: vec![None; words],
        };
        for (feature, (name, d, in_title, w)) in kept.into_iter().enumerate() {
            v.names.push(name);
            v.idf.push(((1.0 + n) / (1.0 + d as f32)).ln() + 1.0);
            let slot = if in_title { &mut v.title } else { &mut v.body };
            slot[w] = Some(feature as u32);
        }
        v
    }
}

/// A model's training examples: requests of a corpus with their classes. Their features
/// are made once and held while they fit in [`HELD_FEATURES`] (a history of up to some
/// 25,000 requests, each visited up to forty times). Beyond, they are made again at each
/// visit: over a large history they would be the largest part of a training's memory (more
/// than the corpus: 1.2 KiB a request against 0.6), and a large history is visited only a
/// few times.
struct Examples<'a> {
    corpus: &'a Corpus,
    /// The words' features (names aside: they are the model's by then).
    vocabulary: Vocabulary,
    /// The lexicon read, with its classes among the model's.
    keywords: Option<(&'a LexiconHits, Vec<Option<u32>>)>,
    /// The first keyword feature: the model's word features come before.
    base: u32,
    /// (request, class), in the corpus's order.
    examples: Vec<(usize, usize)>,
    /// Every example's features one after the other, and where each ends, when held.
    held: Option<(Features, Vec<usize>)>,
}

impl Examples<'_> {
    fn class(&self, i: usize) -> usize {
        self.examples[i].1
    }

    /// Makes and holds every example's features if at most `budget` bytes could hold them
    /// (each word and keyword hit a feature of its own: what the bound leaves unwritten of
    /// the buffer is never touched).
    fn hold_within(&mut self, idf: &[f32], budget: usize) {
        let most: usize = self
            .examples
            .iter()
            .map(|&(request, _)| {
                let (title, body) = self.corpus.words(request);
                let hits = self
                    .keywords
                    .as_ref()
                    .map_or(0, |(r, _)| r.of(request).len());
                title.len() + body.len() + hits
            })
            .sum();
        if most * std::mem::size_of::<(u32, f32)>() > budget {
            return;
        }
        let mut all = Features::with_capacity(most);
        let mut ends = Vec::with_capacity(self.examples.len());
        let (mut x, mut tf) = (Features::new(), HashMap::new());
        for i in 0..self.examples.len() {
            crate::pace::point();
            all.extend_from_slice(self.features(idf, i, &mut x, &mut tf));
            ends.push(all.len());
        }
        self.held = Some((all, ends));
    }

    /// The `i`th example's features, as [`Classifier::features`] makes them of its text, with
    /// the model's `idf`: held, or made into `x`.
    fn features<'s>(
        &'s self,
        idf: &[f32],
        i: usize,
        x: &'s mut Features,
        tf: &mut HashMap<u32, f32>,
    ) -> &'s [(u32, f32)] {
        if let Some((all, ends)) = &self.held {
            return &all[run(ends, i)];
        }
        let request = self.examples[i].0;
        let v = &self.vocabulary;
        x.clear();
        let (title, body) = self.corpus.words(request);
        word_block(idf, x, tf, title.iter().map(|&w| v.title[w as usize]));
        word_block(idf, x, tf, body.iter().map(|&w| v.body[w as usize]));
        if let Some((read, classes)) = &self.keywords {
            x.extend(read.of(request).iter().filter_map(|&(j, hits)| {
                let c = classes.get(j as usize).copied().flatten()?;
                Some((self.base + c, keyword_value(hits)))
            }));
        }
        x.sort_unstable_by_key(|(f, _)| *f);
        x
    }
}

/// Appends one block of word features: the sublinear tf-idf of the features `words` found
/// (`None`: a word out of the vocabulary), scaled to unit length.
fn word_block(
    idf: &[f32],
    out: &mut Features,
    tf: &mut HashMap<u32, f32>,
    words: impl Iterator<Item = Option<u32>>,
) {
    tf.clear();
    for id in words.flatten() {
        *tf.entry(id).or_default() += 1.0;
    }
    let start = out.len();
    out.extend(
        tf.iter()
            .map(|(&id, &n)| (id, (1.0 + n.ln()) * idf[id as usize])),
    );
    let norm = out[start..].iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, v) in &mut out[start..] {
            *v /= norm;
        }
    }
}

/// Figures of a classifier on labelled examples.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub examples: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Expected calibration error: the mean gap between confidence and accuracy over ten
    /// confidence bins, weighted by their sizes.
    pub calibration_error: f64,
    pub classes: Vec<ClassFigures>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClassFigures {
    pub label: String,
    pub support: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// Scores `(truth, predicted, confidence)` triples.
pub fn evaluate(outcomes: &[(String, String, f32)]) -> Evaluation {
    let mut labels: Vec<&str> = outcomes.iter().map(|(t, _, _)| t.as_str()).collect();
    labels.sort();
    labels.dedup();
    let n = outcomes.len();
    let correct = outcomes.iter().filter(|(t, p, _)| t == p).count();
    let classes: Vec<ClassFigures> = labels
        .iter()
        .map(|&l| {
            let tp = outcomes.iter().filter(|(t, p, _)| t == l && p == l).count() as f64;
            let predicted = outcomes.iter().filter(|(_, p, _)| p == l).count() as f64;
            let support = outcomes.iter().filter(|(t, _, _)| t == l).count();
            let precision = if predicted > 0.0 { tp / predicted } else { 0.0 };
            let recall = if support > 0 {
                tp / support as f64
            } else {
                0.0
            };
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            ClassFigures {
                label: l.to_string(),
                support,
                precision,
                recall,
                f1,
            }
        })
        .collect();
    let macro_f1 = if classes.is_empty() {
        0.0
    } else {
        classes.iter().map(|c| c.f1).sum::<f64>() / classes.len() as f64
    };
    let mut bins = [(0usize, 0f64, 0usize); 10];
    for (t, p, conf) in outcomes {
        let b = ((*conf as f64 * 10.0) as usize).min(9);
        bins[b].0 += 1;
        bins[b].1 += *conf as f64;
        bins[b].2 += usize::from(t == p);
    }
    let calibration_error = bins
        .iter()
        .filter(|b| b.0 > 0)
        .map(|&(m, conf, hits)| (conf / m as f64 - hits as f64 / m as f64).abs() * m as f64)
        .sum::<f64>()
        / n.max(1) as f64;
    Evaluation {
        examples: n,
        accuracy: if n > 0 {
            correct as f64 / n as f64
        } else {
            0.0
        },
        macro_f1,
        calibration_error,
        classes,
    }
}

/// Trains on `train`, scores `test`.
pub fn train_and_test(
    analyzer: &Analyzer,
    lexicon: &Lexicon,
    train: &[Example<'_>],
    test: &[Example<'_>],
) -> Evaluation {
    let model = Classifier::train(analyzer, lexicon, train, false);
    evaluate(&outcomes(&model, test))
}

fn outcomes(model: &Classifier, test: &[Example<'_>]) -> Vec<(String, String, f32)> {
    test.iter()
        .map(|e| {
            let p = model.predict(e.text);
            let (label, conf) = p
                .best()
                .map(|s| (s.label.clone(), s.probability))
                .unwrap_or_default();
            (e.label.to_string(), label, conf)
        })
        .collect()
}

/// Stratified `k`-fold cross-validation: every example is predicted once by a model that did
/// not see it. `seed` shuffles each class before dealing it round the folds.
pub fn cross_validate(
    analyzer: &Analyzer,
    lexicon: &Lexicon,
    examples: &[Example<'_>],
    k: usize,
    seed: u64,
) -> Evaluation {
    let k = k.max(2);
    let mut fold_of = vec![0usize; examples.len()];
    let mut by_class: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, e) in examples.iter().enumerate() {
        by_class.entry(e.label).or_default().push(i);
    }
    let mut classes: Vec<_> = by_class.into_iter().collect();
    classes.sort_by(|a, b| a.0.cmp(b.0));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut next = 0;
    for (_, mut members) in classes {
        members.shuffle(&mut rng);
        for i in members {
            fold_of[i] = next % k;
            next += 1;
        }
    }
    let mut all = Vec::with_capacity(examples.len());
    for fold in 0..k {
        let train: Vec<Example<'_>> = examples
            .iter()
            .zip(&fold_of)
            .filter(|(_, f)| **f != fold)
            .map(|(e, _)| *e)
            .collect();
        let test: Vec<Example<'_>> = examples
            .iter()
            .zip(&fold_of)
            .filter(|(_, f)| **f == fold)
            .map(|(e, _)| *e)
            .collect();
        let model = Classifier::train(analyzer, lexicon, &train, false);
        all.extend(outcomes(&model, &test));
    }
    evaluate(&all)
}

/// A node of a category tree, for [`tree_keywords`].
#[derive(Debug, Clone)]
pub struct TreeNode {
    pub code: String,
    pub parent: Option<String>,
    pub name: String,
    pub keywords: Vec<String>,
}

/// The keywords of every category: its name and the names of everything below it, with
/// their words, plus the keywords admins gave them.
pub fn tree_keywords(analyzer: &Analyzer, tree: &[TreeNode]) -> HashMap<String, Vec<String>> {
    let mut own: HashMap<&str, Vec<String>> = HashMap::new();
    for n in tree {
        let mut words = vec![n.name.clone()];
        words.extend(
            analyzer
                .words(&n.name)
                .into_iter()
                .filter(|w| w.chars().count() >= 2),
        );
        words.extend(n.keywords.iter().cloned());
        own.insert(n.code.as_str(), words);
    }
    let parent: HashMap<&str, &str> = tree
        .iter()
        .filter_map(|n| Some((n.code.as_str(), n.parent.as_deref()?)))
        .collect();
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for n in tree {
        let words = own.get(n.code.as_str()).cloned().unwrap_or_default();
        // Up the tree, with a bound in case of a cycle in bad data.
        let mut at = Some(n.code.as_str());
        for _ in 0..16 {
            let Some(code) = at else { break };
            out.entry(code.to_string())
                .or_default()
                .extend(words.iter().cloned());
            at = parent.get(code).copied();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex<'a>(title: &'a str, content: &'a str, label: &'a str) -> Example<'a> {
        Example {
            text: Text { title, content },
            label,
        }
    }

    fn history() -> Vec<Example<'static>> {
        vec![
            ex("小区停车难", "小区车位不够，晚上停车难", "城建"),
            ex("路灯不亮", "我家门口的路灯坏了一个月", "城建"),
            ex("下水道堵塞", "小区下水道堵塞，污水横流", "城建"),
            ex("公司拖欠工资", "公司拖欠三个月工资不发", "劳动"),
            ex("社保断缴", "单位没有给我缴纳社保", "劳动"),
            ex("讨要工资", "工地老板拖欠农民工工资", "劳动"),
            ex("学校乱收费", "学校要求学生交资料费", "教育"),
            ex("幼儿园入学", "孩子上幼儿园报名难", "教育"),
            ex("老师体罚学生", "班主任体罚学生", "教育"),
        ]
    }

    #[test]
    fn it_learns_the_history_and_names_the_words_that_drove_it() {
        let a = Analyzer::default();
        let model = Classifier::train(&a, &Lexicon::default(), &history(), false);
        let p = model.predict(Text {
            title: "拖欠工资",
            content: "老板拖欠我们工资两个月",
        });
        assert_eq!(p.best().map(|s| s.label.as_str()), Some("劳动"));
        assert!(
            p.reasons.iter().any(|r| r == "工资" || r == "拖欠"),
            "{:?}",
            p.reasons
        );
        let sum: f32 = p.ranked.iter().map(|s| s.probability).sum();
        assert!((sum - 1.0).abs() < 1e-4, "{sum}");
        assert!(
            p.ranked
                .windows(2)
                .all(|w| w[0].probability >= w[1].probability)
        );
    }

    #[test]
    fn keywords_alone_suggest_before_any_history() {
        let a = Analyzer::default();
        let lexicon = Lexicon::new([
            (
                "城建".to_string(),
                vec!["路灯".to_string(), "物业".to_string()],
            ),
            (
                "劳动".to_string(),
                vec!["工资".to_string(), "社保".to_string()],
            ),
        ]);
        let model = Classifier::train(&a, &lexicon, &[], true);
        assert_eq!(model.labels(), ["城建", "劳动"]);
        let p = model.predict(Text {
            title: "物业不管事",
            content: "物业费收了不干活",
        });
        assert_eq!(p.best().map(|s| s.label.as_str()), Some("城建"));
        assert_eq!(p.reasons, ["物业"]);
        // Keywords count in the content's opening only, as its words do: training reads no
        // more of an order from the database.
        let far = format!("{}拖欠工资", "。".repeat(CONTENT_CHARS));
        let near = format!("{}拖欠工资", "。".repeat(CONTENT_CHARS - 4));
        let p = model.predict(Text {
            title: "反映问题",
            content: &near,
        });
        assert_eq!(p.best().map(|s| s.label.as_str()), Some("劳动"));
        let p = model.predict(Text {
            title: "反映问题",
            content: &far,
        });
        assert!(p.reasons.is_empty(), "{:?}", p.reasons);
        assert_ne!(p.best().map(|s| s.label.as_str()), Some("劳动"));
        // Without keywords nor history there is nothing to suggest from.
        let empty = Classifier::train(&a, &Lexicon::default(), &[], true);
        assert!(
            empty
                .predict(Text {
                    title: "路灯",
                    content: ""
                })
                .best()
                .is_none()
        );
    }

    #[test]
    fn corrections_move_the_suggestion() {
        let a = Analyzer::default();
        let mut model = Classifier::train(&a, &Lexicon::default(), &history(), false);
        let text = Text {
            title: "噪音扰民",
            content: "工地晚上施工噪音扰民",
        };
        let before = model.predict(text);
        let target = "教育";
        assert_ne!(before.best().map(|s| s.label.as_str()), Some(target));
        let p_before = before
            .ranked
            .iter()
            .find(|s| s.label == target)
            .map(|s| s.probability);
        let mut rounds = 0;
        while model.predict(text).best().map(|s| s.label.as_str()) != Some(target) {
            assert!(model.learn(text, target));
            rounds += 1;
            assert!(rounds < 50, "50 corrections did not move it");
        }
        let p_after = model.predict(text).ranked[0].probability;
        assert!(Some(p_after) > p_before);
        assert_eq!(model.learned(), history().len() + rounds);
        // A label it has never seen waits for the next training.
        assert!(!model.learn(text, "新分类"));
    }

    #[test]
    fn evaluation_counts_per_class_and_calibration() {
        let o = |t: &str, p: &str, c: f32| (t.to_string(), p.to_string(), c);
        let e = evaluate(&[
            o("a", "a", 0.95),
            o("a", "b", 0.55),
            o("b", "b", 0.85),
            o("b", "b", 0.75),
        ]);
        assert_eq!(e.examples, 4);
        assert!((e.accuracy - 0.75).abs() < 1e-9);
        let a = &e.classes[0];
        assert_eq!((a.label.as_str(), a.support), ("a", 2));
        assert!((a.precision - 1.0).abs() < 1e-9 && (a.recall - 0.5).abs() < 1e-9);
        let b = &e.classes[1];
        assert!((b.precision - 2.0 / 3.0).abs() < 1e-9 && (b.recall - 1.0).abs() < 1e-9);
        assert!((e.macro_f1 - (a.f1 + b.f1) / 2.0).abs() < 1e-9);
        // One per bin: .95 right, .55 wrong, .85 right, .75 right: gaps .05, .55, .15, .25,
        // each weighing 1/4.
        assert!(
            (e.calibration_error - 0.25).abs() < 1e-6,
            "{}",
            e.calibration_error
        );
    }

    #[test]
    fn tree_keywords_gather_the_names_below() {
        let a = Analyzer::default();
        let node = |code: &str, parent: Option<&str>, name: &str, kw: &[&str]| TreeNode {
            code: code.into(),
            parent: parent.map(Into::into),
            name: name.into(),
            keywords: kw.iter().map(|s| s.to_string()).collect(),
        };
        let k = tree_keywords(
            &a,
            &[
                node("01", None, "城乡建设", &["物业"]),
                node("01.01", Some("01"), "燃气供应", &[]),
            ],
        );
        for w in ["城乡建设", "物业", "燃气供应", "燃气"] {
            assert!(k["01"].iter().any(|x| x == w), "{w}: {:?}", k["01"]);
        }
        assert!(!k["01.01"].iter().any(|x| x == "物业"));
    }

    #[test]
    fn a_training_reads_each_request_as_a_suggestion_reads_its_text() {
        let a = Analyzer::default();
        // A lexicon with a class no example has, and keywords in titles and contents.
        let lexicon = Lexicon::new([
            (
                "城建".to_string(),
                vec!["路灯".to_string(), "小区".to_string()],
            ),
            ("劳动".to_string(), vec!["工资".to_string()]),
            ("环保".to_string(), vec!["噪音".to_string()]),
        ]);
        let examples = history();
        let mut corpus = Corpus::builder(&a, vec![Lexicon::default(), lexicon.clone()]);
        for e in &examples {
            corpus.push(e.text);
        }
        let corpus = corpus.finish();
        assert_eq!(corpus.len(), examples.len());
        // The same words, in the same order, as a suggestion reads.
        for (i, e) in examples.iter().enumerate() {
            let words = Words::of(&a, e.text);
            let (title, body) = corpus.words(i);
            let name = |w: &u32| corpus.dictionary[*w as usize].as_str();
            assert_eq!(
                title.iter().map(name).collect::<Vec<_>>(),
                words.title().collect::<Vec<_>>()
            );
            assert_eq!(
                body.iter().map(name).collect::<Vec<_>>(),
                words.body().collect::<Vec<_>>()
            );
        }
        let labels: Vec<Option<&str>> = examples.iter().map(|e| Some(e.label)).collect();
        let model = Classifier::train_corpus(&corpus, Some(1), &labels, true);
        assert_eq!(model.labels(), ["城建", "劳动", "环保", "教育"]);
        // The features the training fitted are those a suggestion makes of the same text.
        let pairs: Vec<(usize, usize)> = examples
            .iter()
            .enumerate()
            .map(|(i, e)| (i, model.labels.iter().position(|l| l == e.label).unwrap()))
            .collect();
        let vocabulary = Vocabulary::of(&corpus, &pairs, model.labels.len());
        assert_eq!(vocabulary.names.len(), model.vocab.len());
        let training = Examples {
            corpus: &corpus,
            vocabulary,
            keywords: Some((&corpus.lexicons[1], model.keyword_classes(&lexicon))),
            base: model.vocab.len() as u32,
            examples: pairs,
            held: None,
        };
        let (mut x, mut tf) = (Vec::new(), HashMap::new());
        let made: Vec<Features> = (0..examples.len())
            .map(|i| training.features(&model.idf, i, &mut x, &mut tf).to_vec())
            .collect();
        // Held, they are the same.
        let mut training = training;
        training.hold_within(&model.idf, usize::MAX);
        assert!(training.held.is_some());
        let close = |a: &[(u32, f32)], b: &[(u32, f32)]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(u, v)| u.0 == v.0 && (u.1 - v.1).abs() < 1e-6)
        };
        for (i, m) in made.iter().enumerate() {
            // The same up to the order the norm's terms were summed in.
            assert!(close(training.features(&model.idf, i, &mut x, &mut tf), m));
        }
        let mut keyword_features = 0;
        for (i, e) in examples.iter().enumerate() {
            let x = made[i].clone();
            let (y, _) = model.features(&Words::of(&a, e.text), &e.text);
            assert_eq!(
                x.iter().map(|(f, _)| *f).collect::<Vec<_>>(),
                y.iter().map(|(f, _)| *f).collect::<Vec<_>>(),
                "{}",
                e.text.title
            );
            for ((_, u), (_, v)) in x.iter().zip(&y) {
                assert!((u - v).abs() < 1e-6, "{u} vs {v}");
            }
            keyword_features += x
                .iter()
                .filter(|(f, _)| *f as usize >= model.vocab.len())
                .count();
        }
        assert!(keyword_features >= 4, "{keyword_features} keyword features");
    }
}
