//! `dispatch` and `hotspots`: the dispatch aids and the hot-spot clustering of `jiesu-text`
//! on their own (no server), over orders built from the real messages of
//! `../shared/data/messages/` (all three files, cycled to reach N, each copy placed in its
//! own community of the demo city so that copies are not all one issue at one place).
//!
//! * `dispatch`: trains the three suggestion models (category, type, lead unit) on N
//!   labelled orders as the server does (target **< 60 s for 100,000**), then times the whole
//!   suggestion for one order on one thread: the three predictions and the region from the
//!   text (target **p99 < 5 ms**). The labels: the category tree's keywords decide the first
//!   level, the words the second (≈150 categories); the unit follows category and district
//!   (≈130 units); the type follows the type words.
//! * `hotspots`: clusters N orders (the window, target 1,000,000), then adds 1,000 new ones
//!   and times that update (target **< 1 s**), and the ranked list the hot-spot page reads.

use crate::stats::{Latencies, LatencySummary, thousands, verdict};
use anyhow::Context;
use jiesu_text::Analyzer;
use jiesu_text::classify::{Classifier, Corpus, Example, Lexicon, Text, Words};
use jiesu_text::hotspots::{Hotspots, Incoming, Rank, Settings};
use jiesu_text::regions::{Place, RegionResolver};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

const CITY_JSON: &str = include_str!("../../crates/jiesu/demo/city.json");
const KEYWORDS_JSON: &str = include_str!("../../crates/jiesu/demo/category-keywords.json");
const TYPES: &[(&str, &[&str])] = &[
    (
        "consultation",
        &["咨询", "请问", "如何办理", "能否", "是否可以"],
    ),
    ("help", &["求助", "帮忙", "帮助", "困难"]),
    ("complaint", &["投诉", "扰民", "不作为", "乱收费"]),
    ("report", &["举报", "违法", "违规", "非法"]),
    ("suggestion", &["建议", "希望", "呼吁"]),
    ("praise", &["表扬", "感谢", "点赞"]),
];

#[derive(clap::Args, Debug)]
pub struct DispatchArgs {
    /// Labelled orders to train on.
    #[arg(long, default_value_t = 100_000)]
    pub orders: usize,
    /// Suggestions to time.
    #[arg(long, default_value_t = 2_000)]
    pub suggestions: usize,
    /// The folder of the shared messages.
    #[arg(long, default_value = "../shared/data/messages")]
    pub messages: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct HotspotArgs {
    /// Orders in the window.
    #[arg(long, default_value_t = 1_000_000)]
    pub orders: usize,
    /// New orders added and timed.
    #[arg(long, default_value_t = 1_000)]
    pub new: usize,
    /// The folder of the shared messages.
    #[arg(long, default_value = "../shared/data/messages")]
    pub messages: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct DispatchReport {
    pub scenario: &'static str,
    pub orders: usize,
    pub categories: usize,
    pub units: usize,
    pub train_seconds: f64,
    pub target_train_seconds: f64,
    /// The three models' weights (features × classes), the bulk of what they keep.
    pub model_bytes: u64,
    /// The history as the training holds it: its words as ids, its keyword hits.
    pub corpus_bytes: u64,
    /// How far the training raised the process's peak resident memory (VmHWM, reset before
    /// it): the history's words, the examples' features, the models and AdaGrad's sums.
    pub training_peak_bytes: u64,
    pub suggestion: LatencySummary,
    /// Of the timed suggestions, the share whose first category, type and lead unit are the
    /// order's own. The timed orders are made from the same messages as the history, so this
    /// compares builds (the same models give the same shares); it is not an accuracy.
    pub accuracy: [f64; 3],
    pub target_p99_ms: f64,
    pub met: bool,
}

impl DispatchReport {
    pub fn print(&self) {
        println!(
            "dispatch — jiesu-text suggestion models over {} labelled orders from real messages",
            thousands(self.orders as u64)
        );
        println!(
            "  training    {:.1} s for category ({} classes), type and lead unit ({} classes)   (target < {:.0} s: {})",
            self.train_seconds,
            self.categories,
            self.units,
            self.target_train_seconds,
            verdict(self.train_seconds < self.target_train_seconds)
        );
        println!(
            "  memory      the models' weights {}; the history read {}; the training's peak {} over the process before it",
            crate::stats::fmt_mib(self.model_bytes),
            crate::stats::fmt_mib(self.corpus_bytes),
            crate::stats::fmt_mib(self.training_peak_bytes)
        );
        println!(
            "  suggestion  {}   (target p99 < {:.0} ms: {})",
            self.suggestion.line(),
            self.target_p99_ms,
            verdict(self.suggestion.p99_ms < self.target_p99_ms)
        );
        println!(
            "  right first category {:.1}%, type {:.1}%, lead unit {:.1}% (the timed orders reuse the history's messages: a check between builds, not an accuracy)",
            self.accuracy[0] * 100.0,
            self.accuracy[1] * 100.0,
            self.accuracy[2] * 100.0
        );
    }
}

#[derive(Debug, Serialize)]
pub struct HotspotReport {
    pub scenario: &'static str,
    pub orders: usize,
    pub build_seconds: f64,
    pub clusters_of_two_or_more: usize,
    pub update_orders: usize,
    pub update_ms: f64,
    pub target_update_ms: f64,
    pub list_ms: f64,
    /// Resident memory the clustering added (VmRSS after building less before).
    pub memory_bytes: u64,
    pub met: bool,
}

impl HotspotReport {
    pub fn print(&self) {
        println!(
            "hotspots — jiesu-text clustering of {} orders from real messages, one thread",
            thousands(self.orders as u64)
        );
        println!(
            "  window      built in {:.1} s ({:.0} orders/s), {} hot spots of two or more",
            self.build_seconds,
            self.orders as f64 / self.build_seconds,
            thousands(self.clusters_of_two_or_more as u64)
        );
        println!(
            "  update      {} new orders in {:.0} ms   (target < {:.0} ms: {})",
            thousands(self.update_orders as u64),
            self.update_ms,
            self.target_update_ms,
            verdict(self.update_ms < self.target_update_ms)
        );
        println!("  list        top 20 by heat in {:.0} ms", self.list_ms);
        println!(
            "  memory      {} for the window's clustering",
            crate::stats::fmt_mib(self.memory_bytes)
        );
    }
}

struct Message {
    title: String,
    content: String,
}

fn messages(dir: &std::path::Path) -> anyhow::Result<Vec<Message>> {
    let mut out = Vec::new();
    for f in [
        "messages.jsonl",
        "messages-with-replies.jsonl",
        "labelled-train.jsonl",
    ] {
        let p = dir.join(f);
        let text = std::fs::read_to_string(&p).with_context(|| {
            format!(
                "{} is absent: the benchmark needs the shared reference data (--messages DIR)",
                p.display()
            )
        })?;
        for l in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else {
                continue;
            };
            let (Some(t), Some(c)) = (v["title"].as_str(), v["content"].as_str()) else {
                continue;
            };
            out.push(Message {
                title: t.to_string(),
                content: c.to_string(),
            });
        }
    }
    anyhow::ensure!(!out.is_empty(), "no messages in {}", dir.display());
    Ok(out)
}

#[derive(serde::Deserialize)]
struct City {
    name: String,
    code: String,
    districts: Vec<District>,
}

#[derive(serde::Deserialize)]
struct District {
    name: String,
    code: String,
    towns: Vec<Town>,
}

#[derive(serde::Deserialize)]
struct Town {
    name: String,
    code: String,
    #[serde(default)]
    communities: Vec<Community>,
}

#[derive(serde::Deserialize)]
struct Community {
    name: String,
    code: String,
}

/// The demo city's divisions, and each community with its district and town names.
/// A community: its district's, town's and own name, and its code.
type CommunityRow = (String, String, String, String);

fn city() -> anyhow::Result<(Vec<Place>, Vec<CommunityRow>)> {
    let c: City = serde_json::from_str(CITY_JSON)?;
    let mut places = vec![Place {
        code: c.code.clone(),
        name: c.name.clone(),
        parent: None,
    }];
    let mut communities = Vec::new();
    for d in &c.districts {
        places.push(Place {
            code: d.code.clone(),
            name: d.name.clone(),
            parent: Some(c.code.clone()),
        });
        for t in &d.towns {
            places.push(Place {
                code: t.code.clone(),
                name: t.name.clone(),
                parent: Some(d.code.clone()),
            });
            for m in &t.communities {
                places.push(Place {
                    code: m.code.clone(),
                    name: m.name.clone(),
                    parent: Some(t.code.clone()),
                });
                communities.push((
                    d.name.clone(),
                    t.name.clone(),
                    m.name.clone(),
                    m.code.clone(),
                ));
            }
        }
    }
    anyhow::ensure!(!communities.is_empty(), "the demo city has no communities");
    Ok((places, communities))
}

/// An order made from a message: placed in a community, with labels.
struct Order {
    title: String,
    content: String,
    address: String,
    region: String,
    category: String,
    request_type: String,
    unit: String,
}

fn orders(
    analyzer: &Analyzer,
    messages: &[Message],
    communities: &[CommunityRow],
    n: usize,
    seed: u64,
) -> Vec<Order> {
    let keywords: HashMap<String, Vec<String>> =
        serde_json::from_str(KEYWORDS_JSON).unwrap_or_default();
    let mut tops: Vec<(String, Vec<String>)> = keywords.into_iter().collect();
    tops.sort();
    let top_model = Classifier::train(analyzer, &Lexicon::new(tops), &[], true);
    // First level from the keywords, second from a word of the title (learnable, ≈10 each).
    let labels: Vec<(String, String)> = messages
        .iter()
        .map(|m| {
            let text = Text {
                title: &m.title,
                content: &m.content,
            };
            let top = top_model
                .predict(text)
                .best()
                .map(|b| b.label.clone())
                .unwrap_or_default();
            let second = analyzer
                .words(&m.title)
                .iter()
                .map(|w| w.chars().map(|c| c as u32).sum::<u32>())
                .max()
                .unwrap_or(0)
                % 10;
            let kind = TYPES
                .iter()
                .find(|(_, ws)| {
                    ws.iter()
                        .any(|w| m.title.contains(w) || m.content.contains(w))
                })
                .map_or("complaint", |(t, _)| t);
            (format!("{top}.{second:02}"), kind.to_string())
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let k = i % messages.len();
            let m = &messages[k];
            let (district, town, community, code) =
                &communities[rng.gen_range(0..communities.len())];
            let (category, request_type) = &labels[k];
            let top = category.split('.').next().unwrap_or_default();
            Order {
                title: format!("{community}{}", m.title),
                // The models read 1,000 characters, the clustering 300.
                content: m.content.chars().take(1_000).collect(),
                address: format!("A市{district}{town}{community}{}栋", rng.gen_range(1..40)),
                region: code.clone(),
                category: category.clone(),
                request_type: request_type.clone(),
                unit: format!("{top}@{district}"),
            }
        })
        .collect()
}

pub fn run_dispatch(args: &DispatchArgs) -> anyhow::Result<DispatchReport> {
    let analyzer = Analyzer::default();
    let msgs = messages(&args.messages)?;
    let (places, communities) = city()?;
    let history = orders(&analyzer, &msgs, &communities, args.orders, 11);
    let keywords: HashMap<String, Vec<String>> = serde_json::from_str(KEYWORDS_JSON)?;
    let lexicon = Lexicon::new(keywords);
    let type_lexicon = Lexicon::new(
        TYPES
            .iter()
            .map(|(t, w)| (t.to_string(), w.iter().map(|s| s.to_string()).collect())),
    );
    fn example<'a>(o: &'a Order, label: &'a str) -> Example<'a> {
        Example {
            text: Text {
                title: &o.title,
                content: &o.content,
            },
            label,
        }
    }
    let by_category: Vec<Example<'_>> = history.iter().map(|o| example(o, &o.category)).collect();
    let by_type: Vec<Example<'_>> = history
        .iter()
        .map(|o| example(o, &o.request_type))
        .collect();
    let by_unit: Vec<Example<'_>> = history.iter().map(|o| example(o, &o.unit)).collect();
    // As the server trains (`app::dispatch::TrainingSet`): the history read once, then three
    // models, one after the other (the server also holds the old set, one model fewer as each
    // new one replaces its own).
    let before = resident();
    // Resets VmHWM to the resident memory now (Linux), so that it then holds the training's
    // peak.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let started = Instant::now();
    let mut corpus = Corpus::builder(&analyzer, vec![lexicon, type_lexicon]);
    for e in &by_category {
        corpus.push(e.text);
    }
    let corpus = corpus.finish();
    fn labels<'a>(examples: &[Example<'a>]) -> Vec<Option<&'a str>> {
        examples.iter().map(|e| Some(e.label)).collect()
    }
    let corpus_bytes = corpus.heap_bytes() as u64;
    let category = Classifier::train_corpus(&corpus, Some(0), &labels(&by_category), false);
    let request_type = Classifier::train_corpus(&corpus, Some(1), &labels(&by_type), true);
    let unit = Classifier::train_corpus(&corpus, None, &labels(&by_unit), false);
    let train_seconds = started.elapsed().as_secs_f64();
    let training_peak_bytes = status_kib("VmHWM:").saturating_sub(before);
    let model_bytes = [&category, &request_type, &unit]
        .iter()
        .map(|m| m.weight_bytes() as u64)
        .sum();
    let resolver = RegionResolver::new(places, &[]);
    let fresh = orders(&analyzer, &msgs, &communities, args.suggestions.max(1), 99);
    let mut lat = Latencies::new();
    // Suggestions whose first class is the order's own: category, type, unit.
    let mut right = [0usize; 3];
    for o in &fresh {
        let t0 = Instant::now();
        let text = Text {
            title: &o.title,
            content: &o.content,
        };
        let words = Words::of(&analyzer, text);
        let c = category.predict_words(text, &words);
        let t = request_type.predict_words(text, &words);
        let u = unit.predict_words(text, &words);
        let r = resolver.resolve(&o.address, &format!("{} {}", o.title, o.content));
        lat.record(t0.elapsed());
        for (n, (p, label)) in
            right
                .iter_mut()
                .zip([(&c, &o.category), (&t, &o.request_type), (&u, &o.unit)])
        {
            *n += usize::from(p.best().map(|s| &s.label) == Some(label));
        }
        std::hint::black_box((c, t, u, r));
    }
    let accuracy = right.map(|n| n as f64 / fresh.len() as f64);
    let suggestion = lat.summary();
    Ok(DispatchReport {
        scenario: "dispatch",
        orders: args.orders,
        categories: category.labels().len(),
        units: unit.labels().len(),
        train_seconds,
        target_train_seconds: 60.0,
        model_bytes,
        corpus_bytes,
        training_peak_bytes,
        target_p99_ms: 5.0,
        met: suggestion.p99_ms < 5.0 && train_seconds < 60.0,
        suggestion,
        accuracy,
    })
}

pub fn run_hotspots(args: &HotspotArgs) -> anyhow::Result<HotspotReport> {
    let analyzer = Analyzer::default();
    let msgs = messages(&args.messages)?;
    let (_, communities) = city()?;
    let all = orders(&analyzer, &msgs, &communities, args.orders + args.new, 5);
    // Thirty seconds apart: 1,000,000 orders span the last 347 days.
    let start = 1_700_000_000_000i64;
    let incoming: Vec<Incoming<'_>> = all
        .iter()
        .enumerate()
        .map(|(i, o)| Incoming {
            id: i as i64 + 1,
            time: start + i as i64 * 30_000,
            title: &o.title,
            content: &o.content,
            address: &o.address,
            region: Some(&o.region),
            caller: None,
        })
        .collect();
    let (window, new) = incoming.split_at(args.orders);
    let before = resident();
    let mut h = Hotspots::new(analyzer, Settings::default());
    let started = Instant::now();
    for chunk in window.chunks(10_000) {
        h.add(chunk);
    }
    let build_seconds = started.elapsed().as_secs_f64();
    let memory_bytes = resident().saturating_sub(before);
    let t0 = Instant::now();
    h.add(new);
    let update_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let now = incoming.last().map_or(start, |r| r.time);
    let t0 = Instant::now();
    let top = h.top(2, 20, Rank::Heat, now, 7 * 86_400_000);
    let list_ms = t0.elapsed().as_secs_f64() * 1000.0;
    std::hint::black_box(top);
    let clusters_of_two_or_more = h.top(2, usize::MAX, Rank::Size, now, 1).len();
    Ok(HotspotReport {
        scenario: "hotspots",
        orders: args.orders,
        build_seconds,
        clusters_of_two_or_more,
        update_orders: args.new,
        update_ms,
        target_update_ms: 1000.0,
        list_ms,
        memory_bytes,
        met: update_ms < 1000.0,
    })
}

/// This process's resident memory (VmRSS), 0 where /proc is absent.
fn resident() -> u64 {
    status_kib("VmRSS:")
}

/// A figure of this process's `/proc/self/status` given in kB, in bytes (0 where absent).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}
