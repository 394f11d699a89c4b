#![allow(clippy::unwrap_used)]
//! A training's heap. A model's weights (features × classes) are the bulk of its memory —
//! tens of MiB for a centre's categories or units — and a server retrains its dispatch models
//! in the background while the old ones serve, for minutes on a busy machine. Training holds
//! one set of weights and AdaGrad's sums beside them, also for a history that is calibrated
//! on a probe fit first (it is fitted twice, from zero, not on a copy).
//!
//! The history itself is held as word ids, not as the words' texts.
//!
//! Its own test binary: the heap is counted by dhat's allocator for the whole process (one
//! profiler at a time: the tests take turns).

use jiesu_text::Analyzer;
use jiesu_text::classify::{Classifier, Corpus, Example, Text, Words};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Mutex;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

static PROFILER: Mutex<()> = Mutex::new(());

const CLASSES: usize = 100;
const EXAMPLES: usize = 1_000;

#[test]
fn a_calibrated_training_holds_one_set_of_weights_besides_adagrads_sums() {
    let _turn = PROFILER.lock().unwrap_or_else(|e| e.into_inner());
    let analyzer = Analyzer::default();
    let mut rng = StdRng::seed_from_u64(20261207);
    // Ten requests a class, each with words of its own class and words from a large pool:
    // a vocabulary of thousands of words, so that the weights dominate the heap.
    let texts: Vec<(String, String, String)> = (0..EXAMPLES)
        .map(|i| {
            let class = i % CLASSES;
            let mut content: Vec<String> = (0..3).map(|j| format!("k{class}x{j}")).collect();
            content.extend((0..30).map(|_| format!("w{}", rng.gen_range(0..10_000))));
            (
                format!("c{class}"),
                format!("t{class} r{i}"),
                content.join(" "),
            )
        })
        .collect();
    let examples: Vec<Example<'_>> = texts
        .iter()
        .map(|(label, title, content)| Example {
            text: Text { title, content },
            label,
        })
        .collect();
    let mut corpus = Corpus::builder(&analyzer, Vec::new());
    for e in &examples {
        corpus.push(e.text);
    }
    let corpus = corpus.finish();
    let labels: Vec<Option<&str>> = examples.iter().map(|e| Some(e.label)).collect();

    let profiler = dhat::Profiler::builder().testing().build();
    let model = Classifier::train_corpus(&corpus, None, &labels, false);
    let heap = dhat::HeapStats::get();
    drop(profiler);

    let weights = model.weight_bytes();
    println!(
        "weights {weights} bytes, the training's heap peaked at {} ({:.2} times)",
        heap.max_bytes,
        heap.max_bytes as f64 / weights as f64
    );
    assert_eq!(model.labels().len(), CLASSES);
    assert!(
        weights > 3 << 20,
        "the fixture's weights ({weights} bytes) should dominate the training's heap"
    );
    // The weights, AdaGrad's sums of the same size, and a little for the vocabulary and the
    // examples' features; a probe copied from the model would add a third set.
    assert!(
        heap.max_bytes < weights * 5 / 2,
        "the training's heap peaked at {} bytes, {:.2} times its weights ({weights} bytes)",
        heap.max_bytes,
        heap.max_bytes as f64 / weights as f64
    );
    // And it learned its classes.
    let right = examples
        .iter()
        .filter(|e| model.predict(e.text).best().map(|s| s.label.as_str()) == Some(e.label))
        .count();
    assert!(right * 10 >= EXAMPLES * 9, "{right} of {EXAMPLES} right");
}

#[test]
fn a_history_is_held_as_word_ids() {
    let _turn = PROFILER.lock().unwrap_or_else(|e| e.into_inner());
    let analyzer = Analyzer::default();
    // Requests as citizens write them: a few thousand words of two or three characters,
    // the common ones often.
    let pool: Vec<String> = (0..3_000u32)
        .map(|i| {
            let len = 2 + (i % 2) as usize;
            (0..len)
                .map(|j| char::from_u32(0x4e00 + (i * 7 + j as u32 * 131) % 20_000).unwrap())
                .collect()
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(7);
    let texts: Vec<(String, String)> = (0..2_000)
        .map(|_| {
            let mut pick = || {
                pool[rng
                    .gen_range(0..pool.len())
                    .min(rng.gen_range(0..pool.len()))]
                .clone()
            };
            let title: Vec<String> = (0..4).map(|_| pick()).collect();
            let content: Vec<String> = (0..80).map(|_| pick()).collect();
            (title.join(" "), content.join("，"))
        })
        .collect();
    fn text((title, content): &(String, String)) -> Text<'_> {
        Text { title, content }
    }

    let profiler = dhat::Profiler::builder().testing().build();
    let before = dhat::HeapStats::get().curr_bytes;
    let words: Vec<Words> = texts
        .iter()
        .map(|t| Words::of(&analyzer, text(t)))
        .collect();
    let as_words = dhat::HeapStats::get().curr_bytes - before;
    drop(words);
    let before = dhat::HeapStats::get().curr_bytes;
    let mut corpus = Corpus::builder(&analyzer, Vec::new());
    for t in &texts {
        corpus.push(text(t));
    }
    let corpus = corpus.finish();
    let as_ids = dhat::HeapStats::get().curr_bytes - before;
    drop(profiler);

    let said = corpus.heap_bytes();
    println!(
        "{} requests: as word ids {as_ids} bytes (said {said}), as words' texts {as_words}",
        texts.len()
    );
    assert_eq!(corpus.len(), texts.len());
    assert!(
        as_ids * 2 < as_words,
        "the corpus holds {as_ids} bytes, the words' texts {as_words}"
    );
    // What it says it holds is what it holds (the bench reports it).
    assert!(
        said <= as_ids && said * 10 >= as_ids * 8,
        "heap_bytes {said} against {as_ids} counted"
    );
}
