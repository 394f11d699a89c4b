//! The classifier's ties to the product: keywords from a tenant's category tree, labelled
//! files for `jiesu classifier eval`.

use anyhow::{Context, bail};
use jiesu_store::catalog::Category;
use jiesu_text::Analyzer;
use jiesu_text::classify::{self, Example, Lexicon, Text, TreeNode};
use serde::Deserialize;
use std::path::Path;

/// The category tree as the classifier sees it.
pub fn tree(categories: &[Category]) -> Vec<TreeNode> {
    categories
        .iter()
        .filter(|c| c.active)
        .map(|c| TreeNode {
            code: c.code.clone(),
            parent: c.parent_code.clone(),
            name: c.name.clone(),
            keywords: c.keywords.clone(),
        })
        .collect()
}

/// Keywords for classes named like categories (as in a labelled file whose `category` is a
/// name, e.g. "城乡建设"): each name takes the keywords of the shallowest category so named.
pub fn lexicon_by_name(analyzer: &Analyzer, categories: &[Category], names: &[&str]) -> Lexicon {
    let keywords = classify::tree_keywords(analyzer, &tree(categories));
    let mut by_depth: Vec<&Category> = categories.iter().collect();
    by_depth.sort_by_key(|c| c.level);
    Lexicon::new(names.iter().filter_map(|&name| {
        let c = by_depth.iter().find(|c| c.name == name)?;
        Some((name.to_string(), keywords.get(&c.code)?.clone()))
    }))
}

/// One row of a labelled file.
#[derive(Debug, Deserialize)]
pub struct Labelled {
    pub title: String,
    #[serde(default)]
    pub content: String,
    pub category: String,
}

/// Reads a JSONL file of `title`, `content`, `category` rows; the first bad line stops it with
/// its number and the field at fault.
pub fn read_labelled(path: &Path) -> anyhow::Result<Vec<Labelled>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut de = serde_json::Deserializer::from_str(line);
        let row: Labelled = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let field = e.path().to_string();
            if field == "." {
                anyhow::anyhow!("{}:{}: {}", path.display(), i + 1, e.inner())
            } else {
                anyhow::anyhow!(
                    "{}:{}: field `{field}`: {}",
                    path.display(),
                    i + 1,
                    e.inner()
                )
            }
        })?;
        if row.category.trim().is_empty() {
            bail!("{}:{}: field `category` is empty", path.display(), i + 1);
        }
        if row.title.trim().is_empty() && row.content.trim().is_empty() {
            bail!(
                "{}:{}: field `title`: a row needs a title or content",
                path.display(),
                i + 1
            );
        }
        out.push(row);
    }
    if out.is_empty() {
        bail!("{}: no labelled rows", path.display());
    }
    Ok(out)
}

pub fn examples(rows: &[Labelled]) -> Vec<Example<'_>> {
    rows.iter()
        .map(|r| Example {
            text: Text {
                title: &r.title,
                content: &r.content,
            },
            label: &r.category,
        })
        .collect()
}

/// The labels of `rows`, in first-seen order.
pub fn labels(rows: &[Labelled]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for r in rows {
        if !out.contains(&r.category.as_str()) {
            out.push(&r.category);
        }
    }
    out
}

/// The figures of an evaluation as one JSON object.
pub fn report(e: &classify::Evaluation, train: usize) -> serde_json::Value {
    let round = |x: f64| (x * 10_000.0).round() / 10_000.0;
    serde_json::json!({
        "train": train,
        "test": e.examples,
        "accuracy": round(e.accuracy),
        "macro_f1": round(e.macro_f1),
        "calibration_error": round(e.calibration_error),
        "classes": e.classes.iter().map(|c| serde_json::json!({
            "label": c.label,
            "support": c.support,
            "precision": round(c.precision),
            "recall": round(c.recall),
            "f1": round(c.f1),
        })).collect::<Vec<_>>(),
    })
}

/// `jiesu classifier eval`: trains on `train` with the shipped category tree's keywords,
/// scores `test`.
pub fn eval_files(train: &Path, test: &Path) -> anyhow::Result<serde_json::Value> {
    let train_rows = read_labelled(train)?;
    let test_rows = read_labelled(test)?;
    let analyzer = Analyzer::default();
    let categories = crate::demo::default_categories()?;
    let mut names = labels(&train_rows);
    names.extend(labels(&test_rows));
    let lexicon = lexicon_by_name(&analyzer, &categories, &names);
    let e = classify::train_and_test(
        &analyzer,
        &lexicon,
        &examples(&train_rows),
        &examples(&test_rows),
    );
    Ok(report(&e, train_rows.len()))
}
