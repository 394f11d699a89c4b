#![allow(clippy::unwrap_used)]
//! Classification on real data: the 298 labelled messages of
//! `../shared/data/messages/labelled-train.jsonl` (7 first-level categories), with the shipped
//! category tree's keywords. Skipped, with a message, where the shared data is absent.

use jiesu::classifier::{examples, labels, lexicon_by_name, read_labelled};
use jiesu_text::Analyzer;
use jiesu_text::classify::{Classifier, cross_validate, evaluate};
use std::path::PathBuf;
use std::process::Command;

fn data_file() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/messages/labelled-train.jsonl");
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIPPED: {} is absent (shared reference data)", p.display());
        None
    }
}

#[test]
fn cross_validated_macro_f1_reaches_the_target() {
    let Some(path) = data_file() else { return };
    let rows = read_labelled(&path).unwrap();
    let analyzer = Analyzer::default();
    let categories = jiesu::demo::default_categories().unwrap();
    let lexicon = lexicon_by_name(&analyzer, &categories, &labels(&rows));
    let ex = examples(&rows);
    let mut f1 = Vec::new();
    for seed in 1..=3 {
        let e = cross_validate(&analyzer, &lexicon, &ex, 5, seed);
        println!(
            "5-fold, seed {seed}: accuracy {:.4}, macro-F1 {:.4}, calibration error {:.4}",
            e.accuracy, e.macro_f1, e.calibration_error
        );
        for c in &e.classes {
            println!(
                "  {}: support {}, precision {:.3}, recall {:.3}, F1 {:.3}",
                c.label, c.support, c.precision, c.recall, c.f1
            );
        }
        assert!(e.calibration_error < 0.1, "confidence is not calibrated");
        f1.push(e.macro_f1);
    }
    let mean = f1.iter().sum::<f64>() / f1.len() as f64;
    println!("mean macro-F1 {mean:.4}");
    assert!(mean >= 0.85, "macro-F1 {mean:.4} < 0.85");
    // The words alone, without the category tree's keywords, for comparison.
    let bare = cross_validate(&analyzer, &Default::default(), &ex, 5, 1);
    println!("without keywords: macro-F1 {:.4}", bare.macro_f1);
    assert!(bare.macro_f1 < mean, "the keywords should help");
}

#[test]
fn keywords_alone_classify_before_any_history() {
    let Some(path) = data_file() else { return };
    let rows = read_labelled(&path).unwrap();
    let analyzer = Analyzer::default();
    let categories = jiesu::demo::default_categories().unwrap();
    // Every top-level category of the tree is a candidate (15), none trained.
    let top: Vec<&str> = categories
        .iter()
        .filter(|c| c.level == 1)
        .map(|c| c.name.as_str())
        .collect();
    let lexicon = lexicon_by_name(&analyzer, &categories, &top);
    let model = Classifier::train(&analyzer, &lexicon, &[], true);
    assert_eq!(model.labels().len(), 15);
    let outcomes: Vec<_> = examples(&rows)
        .iter()
        .map(|e| {
            let p = model.predict(e.text);
            let best = p.best().unwrap();
            (e.label.to_string(), best.label.clone(), best.probability)
        })
        .collect();
    let e = evaluate(&outcomes);
    println!(
        "cold start (keywords only, 15 classes): accuracy {:.4}",
        e.accuracy
    );
    assert!(e.accuracy >= 0.7, "{}", e.accuracy);
}

#[test]
fn the_eval_command_prints_figures_and_rejects_bad_rows() {
    let Some(path) = data_file() else { return };
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    // Every fourth row is held out.
    let pick = |keep: bool| {
        lines
            .iter()
            .enumerate()
            .filter(|(i, _)| (i % 4 == 0) == keep)
            .map(|(_, l)| *l)
            .collect::<Vec<_>>()
            .join("\n")
    };
    std::fs::write(&train, pick(false)).unwrap();
    std::fs::write(&test, pick(true)).unwrap();
    let bin = env!("CARGO_BIN_EXE_jiesu");
    let o = Command::new(bin)
        .args(["classifier", "eval", "--train"])
        .arg(&train)
        .arg("--test")
        .arg(&test)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(out.lines().count(), 1, "one JSON line: {out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["test"], lines.len().div_ceil(4));
    assert!(v["macro_f1"].as_f64().unwrap() > 0.75, "{v}");
    assert!(v["accuracy"].as_f64().unwrap() > 0.75, "{v}");
    let classes = v["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 7);
    assert!(
        classes
            .iter()
            .all(|c| c["f1"].is_number() && c["support"].is_number())
    );

    std::fs::write(&test, "{\"title\": \"路灯坏了\", \"content\": \"\"}\n").unwrap();
    let o = Command::new(bin)
        .args(["classifier", "eval", "--train"])
        .arg(&train)
        .arg("--test")
        .arg(&test)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("b.jsonl:1") && err.contains("category"),
        "{err}"
    );
}
