#![allow(clippy::unwrap_used)]
//! A training's heap. A model's weights (features × classes) are the bulk of its memory —
//! tens of MiB for a centre's categories or units — and a server retrains its dispatch models
//! in the background while the old ones serve, for minutes on a busy machine. Training holds
//! one set of weights and AdaGrad's sums beside them, also for a history that is calibrated
//! on a probe fit first (it is fitted twice, from zero, not on a copy).
//!
//! Its own test binary: the heap is counted by dhat's allocator for the whole process.

use jiesu_text::Analyzer;
use jiesu_text::classify::{Classifier, Example, Lexicon, Text, Words};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const CLASSES: usize = 100;
const EXAMPLES: usize = 1_000;

#[test]
fn a_calibrated_training_holds_one_set_of_weights_besides_adagrads_sums() {
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
    let words: Vec<Words> = examples
        .iter()
        .map(|e| Words::of(&analyzer, e.text))
        .collect();
    let refs: Vec<&Words> = words.iter().collect();

    let profiler = dhat::Profiler::builder().testing().build();
    let model = Classifier::train_words(&analyzer, &Lexicon::default(), &examples, &refs, false);
    let heap = dhat::HeapStats::get();
    drop(profiler);

    let weights = model.weight_bytes();
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
