//! `jiesu hotspots FILE.jsonl`: the hot-spot clustering on a file of requests (rows: `id`,
//! `title`, `content`, `time`), so a centre can look at its own history before relying on it.

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use jiesu_text::Analyzer;
use jiesu_text::hotspots::{Hotspots, Incoming, Rank, Settings};
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::Path;

#[derive(Debug, Deserialize)]
struct Row {
    id: Value,
    #[serde(default)]
    title: String,
    #[serde(default)]
    content: String,
    time: Value,
}

const LOCAL: &str = "%Y-%m-%d %H:%M:%S";

/// A time as the sources write it: RFC 3339, `2019/12/30 17:06:14`, `2019-12-30 17:06:14`,
/// a date alone, or epoch milliseconds. Times without a zone are China time; the result is
/// China time as milliseconds on a clock without zones (only order and distance matter).
fn parse_time(v: &Value) -> Option<i64> {
    if let Some(n) = v.as_i64() {
        return Some(n + 8 * 3_600_000);
    }
    let s = v.as_str()?.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.naive_utc().and_utc().timestamp_millis() + 8 * 3_600_000);
    }
    for f in [
        "%Y/%m/%d %H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    for f in ["%Y/%m/%d", "%Y-%m-%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
        }
    }
    None
}

fn local(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.naive_utc().format(LOCAL).to_string())
        .unwrap_or_default()
}

/// Clusters the rows of `path`; the clusters of at least `min_size`, largest first.
pub fn hotspots_of_file(path: &Path, min_size: usize, limit: usize) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut rows: Vec<(i64, Row)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut de = serde_json::Deserializer::from_str(line);
        let row: Row = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            anyhow::anyhow!(
                "{}:{}: field `{}`: {}",
                path.display(),
                i + 1,
                e.path(),
                e.inner()
            )
        })?;
        if !(row.id.is_string() || row.id.is_i64() || row.id.is_u64()) {
            bail!(
                "{}:{}: field `id`: must be a number or a string",
                path.display(),
                i + 1
            );
        }
        if row.title.trim().is_empty() && row.content.trim().is_empty() {
            bail!(
                "{}:{}: field `title`: a row needs a title or content",
                path.display(),
                i + 1
            );
        }
        let Some(time) = parse_time(&row.time) else {
            bail!(
                "{}:{}: field `time`: unreadable time {}",
                path.display(),
                i + 1,
                row.time
            );
        };
        rows.push((time, row));
    }
    if rows.is_empty() {
        bail!("{}: no rows", path.display());
    }
    // In time order, as they would have arrived.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| (rows[i].0, i));
    let incoming: Vec<Incoming<'_>> = order
        .iter()
        .map(|&i| Incoming {
            id: i as i64,
            time: rows[i].0,
            title: &rows[i].1.title,
            content: &rows[i].1.content,
            address: "",
            region: None,
            caller: None,
        })
        .collect();
    let mut h = Hotspots::new(Analyzer::default(), Settings::default());
    h.add(&incoming);
    let last = rows.iter().map(|(t, _)| *t).max().unwrap_or(0);
    let clusters: Vec<Value> = h
        .top(min_size.max(2), limit, Rank::Size, last, 7 * 86_400_000)
        .into_iter()
        .map(|c| {
            let row = |id: i64| &rows[id as usize].1;
            json!({
                "title": row(c.representative).title,
                "size": c.size(),
                "ids": c.ids.iter().map(|id| row(*id).id.clone()).collect::<Vec<_>>(),
                "place": c.place,
                "words": c.words,
                "first": local(c.first),
                "last": local(c.last),
            })
        })
        .collect();
    Ok(Value::Array(clusters))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_in_the_sources_formats() {
        let t = |s: &str| parse_time(&json!(s)).map(local);
        assert_eq!(
            t("2019/12/30 17:06:14").as_deref(),
            Some("2019-12-30 17:06:14")
        );
        assert_eq!(
            t("2019-12-30 17:06:14").as_deref(),
            Some("2019-12-30 17:06:14")
        );
        assert_eq!(
            t("2019-12-30T09:06:14Z").as_deref(),
            Some("2019-12-30 17:06:14")
        );
        assert_eq!(t("2019/1/3").as_deref(), Some("2019-01-03 00:00:00"));
        assert_eq!(t("yesterday"), None);
    }
}
