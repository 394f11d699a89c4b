//! Knowledge entries in files: import from JSONL or XLSX (a centre bringing its existing
//! base; fields `title`, `answer`, optional `questions`, `category`, `unit`, `region`, `tags`,
//! `effective_from`, `effective_to`, or the Chinese headers of our own export) and export to
//! both formats, so that an export imports again.

use crate::app::RefData;
use crate::import::{Columns, Row, read_table};
use jiesu_core::FieldError;
use jiesu_core::UnitId;
use jiesu_core::kb::{KbContent, KbInput};
use jiesu_core::org::OrgTree;
use jiesu_store::kb::KbRow;
use serde_json::json;

pub const KB_COLUMNS: &Columns = &[
    ("title", &["title", "标题", "问题"]),
    ("answer", &["answer", "答案", "答复", "解答"]),
    ("questions", &["questions", "问法", "相似问法"]),
    ("category", &["category", "分类", "分类代码"]),
    ("unit", &["unit", "unit_id", "责任单位", "单位"]),
    ("region", &["region", "区划代码", "适用区划"]),
    ("tags", &["tags", "标签"]),
    ("effective_from", &["effective_from", "生效日期"]),
    ("effective_to", &["effective_to", "失效日期"]),
];

/// Headers of the XLSX export (each maps back to a field above, or is ignored on import).
pub const EXPORT_HEADERS: [&str; 13] = [
    "编号",
    "状态",
    "版本",
    "标题",
    "答案",
    "问法",
    "分类",
    "责任单位",
    "区划代码",
    "标签",
    "生效日期",
    "失效日期",
    "使用次数",
];
pub const EXPORT_WIDTHS: [f64; 13] = [
    10.0, 8.0, 6.0, 36.0, 60.0, 36.0, 12.0, 20.0, 12.0, 16.0, 12.0, 12.0, 8.0,
];

/// The format named by a file name's extension.
pub fn format_of(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".jsonl") || lower.ends_with(".json") {
        Some("jsonl")
    } else if lower.ends_with(".xlsx") {
        Some("xlsx")
    } else {
        None
    }
}

/// A list cell: a JSON array, or items one per line (or separated by `|`).
fn list(v: Option<&String>) -> Vec<String> {
    let Some(v) = v else { return Vec::new() };
    let t = v.trim();
    if t.starts_with('[')
        && let Ok(items) = serde_json::from_str::<Vec<String>>(t)
    {
        return items;
    }
    t.split(['\n', '|'])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Reads and checks every entry of a file; the first bad one stops the import with its line
/// and field (nothing is stored).
pub fn parse(
    data: &[u8],
    format: &str,
    org: &OrgTree,
    refs: &RefData,
) -> Result<Vec<KbContent>, FieldError> {
    let rows = read_table(data, format, KB_COLUMNS)
        .map_err(|e| FieldError::new("file", format!("无法读取文件：{e:#}")))?;
    if rows.is_empty() {
        return Err(FieldError::new("file", "文件中没有知识条目"));
    }
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            // XLSX line numbers count the header row, as a spreadsheet shows them.
            let line = if format == "xlsx" { i + 2 } else { i + 1 };
            entry(row, org, refs)
                .map_err(|e| FieldError::new(format!("line {line}: {}", e.field), e.message))
        })
        .collect()
}

fn entry(row: &Row, org: &OrgTree, refs: &RefData) -> Result<KbContent, FieldError> {
    if let Some(e) = row.get("!") {
        return Err(FieldError::new("line", e.clone()));
    }
    let get = |k: &str| row.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let unit = match get("unit") {
        None => None,
        Some(u) => Some(unit_of(u, org)?),
    };
    let category = match get("category") {
        None => None,
        Some(c) if refs.category_names.contains_key(c) => Some(c.to_string()),
        Some(c) => Some(code_by_name(&refs.category_names, c).ok_or_else(|| {
            FieldError::new("category", format!("分类“{c}”不存在（填写分类代码或名称）"))
        })?),
    };
    let region = match get("region") {
        None => None,
        Some(r) if refs.region_names.contains_key(r) => Some(r.to_string()),
        Some(r) => Some(code_by_name(&refs.region_names, r).ok_or_else(|| {
            FieldError::new(
                "region",
                format!("行政区划“{r}”不存在（填写区划代码或名称）"),
            )
        })?),
    };
    let questions = list(row.get("questions"));
    let tags = list(row.get("tags"));
    KbContent::parse(KbInput {
        title: get("title").unwrap_or(""),
        answer: get("answer").unwrap_or(""),
        questions: &questions,
        tags: &tags,
        category: category.as_deref(),
        unit_id: unit,
        region: region.as_deref(),
        effective_from: get("effective_from").map(date_part),
        effective_to: get("effective_to").map(date_part),
    })
}

/// `2026-01-01 00:00:00` (a spreadsheet date) → `2026-01-01`.
fn date_part(s: &str) -> &str {
    match s.split_once(' ') {
        Some((d, _)) if d.len() == 10 => d,
        _ => s,
    }
}

fn unit_of(u: &str, org: &OrgTree) -> Result<UnitId, FieldError> {
    if let Ok(id) = u.parse::<i64>()
        && org.get(UnitId(id)).is_some()
    {
        return Ok(UnitId(id));
    }
    org.units()
        .find(|x| x.name == u)
        .map(|x| x.id)
        .ok_or_else(|| FieldError::new("unit", format!("单位“{u}”不存在（填写单位名称或编号）")))
}

fn code_by_name(names: &std::collections::HashMap<String, String>, name: &str) -> Option<String> {
    let mut codes: Vec<&String> = names
        .iter()
        .filter(|(_, n)| n.as_str() == name)
        .map(|(c, _)| c)
        .collect();
    // The most specific (longest code) when a name repeats at several levels.
    codes.sort_by_key(|c| std::cmp::Reverse(c.len()));
    codes.first().map(|c| c.to_string())
}

/// One exported entry as a row of the XLSX export.
pub fn export_row(r: &KbRow, org: &OrgTree) -> Vec<String> {
    let c = &r.content;
    let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    vec![
        jiesu_core::kb::code(r.id),
        r.state.label().to_string(),
        r.version.to_string(),
        c.title.clone(),
        c.answer.clone(),
        c.questions.join("\n"),
        c.category
            .as_ref()
            .map(|x| x.as_str().to_string())
            .unwrap_or_default(),
        c.unit_id
            .map(|u| org.name(u).to_string())
            .unwrap_or_default(),
        c.region
            .as_ref()
            .map(|x| x.as_str().to_string())
            .unwrap_or_default(),
        c.tags.join("|"),
        date(c.effective_from),
        date(c.effective_to),
        r.usage.to_string(),
    ]
}

/// One exported entry as a JSONL line.
pub fn export_json(r: &KbRow, org: &OrgTree) -> String {
    let c = &r.content;
    json!({
        "code": jiesu_core::kb::code(r.id),
        "state": r.state.as_str(),
        "version": r.version,
        "title": c.title,
        "answer": c.answer,
        "questions": c.questions,
        "tags": c.tags,
        "category": c.category.as_ref().map(|x| x.as_str()),
        "unit": c.unit_id.map(|u| org.name(u).to_string()),
        "region": c.region.as_ref().map(|x| x.as_str()),
        "effective_from": c.effective_from.map(|d| d.to_string()),
        "effective_to": c.effective_to.map(|d| d.to_string()),
        "usage": r.usage,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_cells_read_json_arrays_and_lines() {
        assert_eq!(list(Some(&r#"["a","b"]"#.to_string())), vec!["a", "b"]);
        assert_eq!(list(Some(&"a\n b |c".to_string())), vec!["a", "b", "c"]);
        assert!(list(None).is_empty());
    }

    #[test]
    fn formats_come_from_the_extension() {
        assert_eq!(format_of("知识库.XLSX"), Some("xlsx"));
        assert_eq!(format_of("kb.jsonl"), Some("jsonl"));
        assert_eq!(format_of("kb.csv"), None);
    }
}
