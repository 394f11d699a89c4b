//! `jiesu import`: work orders from JSONL, CSV or XLSX (e.g. a migration from an older
//! platform). Every row goes through the same parser and use case as `POST /api/orders`; bad
//! rows are reported with their reason and nothing of them is stored. Rows with an
//! `external_ref` already imported are rejected, so a re-run is safe.

use crate::api::dto::{CitizenInput, CreateOrderRequest, FlagsInput};
use crate::app::{App, AppError, Principal};
use anyhow::{Context, bail};
use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use futures::StreamExt;
use jiesu_core::calendar::china_offset;
use jiesu_core::order::{Channel, RequestType, Urgency};
use jiesu_core::role::Role;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Column names accepted for each field (English codes and the Chinese headers of common
/// exports).
const COLUMNS: &Columns = &[
    ("channel", &["channel", "渠道", "来源渠道"]),
    (
        "request_type",
        &["request_type", "type", "诉求类型", "类型"],
    ),
    ("category", &["category", "分类", "诉求分类", "分类代码"]),
    ("title", &["title", "标题", "诉求标题"]),
    ("content", &["content", "内容", "诉求内容"]),
    (
        "citizen_name",
        &["citizen_name", "name", "姓名", "诉求人", "来电人"],
    ),
    (
        "citizen_phone",
        &["citizen_phone", "phone", "电话", "联系电话"],
    ),
    (
        "citizen_id_number",
        &["citizen_id_number", "id_number", "身份证号", "身份证号码"],
    ),
    ("anonymous", &["anonymous", "匿名"]),
    ("address", &["address", "地址", "事发地址"]),
    ("region_code", &["region_code", "区划代码", "行政区划代码"]),
    ("lat", &["lat", "纬度"]),
    ("lng", &["lng", "经度"]),
    ("urgency", &["urgency", "紧急程度"]),
    ("emergency", &["emergency", "突发"]),
    ("complex", &["complex", "疑难"]),
    ("confidential", &["confidential", "保密"]),
    ("needs_contact", &["needs_contact", "需联系"]),
    (
        "external_ref",
        &["external_ref", "来源编号", "原工单编号", "工单编号"],
    ),
    (
        "accepted_at",
        &["accepted_at", "受理时间", "来电时间", "time"],
    ),
];

pub struct Rejected {
    /// 1-based data row (the header is row 0 in CSV/XLSX).
    pub row: usize,
    pub field: Option<String>,
    pub reason: String,
}

#[derive(Default)]
pub struct Summary {
    pub imported: usize,
    pub rejected: Vec<Rejected>,
}

impl Summary {
    pub fn report(&self) -> String {
        let mut s = format!(
            "imported {} orders, rejected {} rows\n",
            self.imported,
            self.rejected.len()
        );
        for r in &self.rejected {
            match &r.field {
                Some(f) => s.push_str(&format!("  row {}: {f}: {}\n", r.row, r.reason)),
                None => s.push_str(&format!("  row {}: {}\n", r.row, r.reason)),
            }
        }
        s
    }
}

/// A row of a table being imported: canonical field name → text. Unknown columns are kept
/// as `?name`; a row that could not be read has its reason under `!`.
pub type Row = HashMap<String, String>;

/// Accepted column names per field.
pub type Columns = [(&'static str, &'static [&'static str])];

fn canonical(columns: &Columns, header: &str) -> Option<&'static str> {
    let h = header.trim().trim_start_matches('\u{feff}');
    columns
        .iter()
        .find(|(_, names)| names.iter().any(|n| n.eq_ignore_ascii_case(h)))
        .map(|(k, _)| *k)
}

/// Excel's own bounds on a sheet: a cell beyond them comes from a damaged or forged file.
const XLSX_MAX_ROWS: u32 = 1_048_576;
const XLSX_MAX_COLUMNS: u32 = 16_384;
/// Cells with a value read from one workbook at most (Excel's row limit times ten columns). A
/// sheet is deflated XML that can expand a thousandfold, so its size is capped, not trusted.
const XLSX_MAX_CELLS: usize = 10 * 1_048_576;

/// The first sheet of an XLSX workbook, cell by cell. The header is the first row that has a
/// cell; every later row with a value is a row of the table. Cells are kept per row, never as
/// calamine's dense `Range`, which allocates the whole rectangle between the outermost cells:
/// a two-cell file naming A1 and XFD1048576 would ask for 17 billion cells.
fn read_xlsx(data: &[u8], columns: &Columns) -> anyhow::Result<Vec<Row>> {
    let mut wb = Xlsx::new(std::io::Cursor::new(data)).context("文件不是 Excel（.xlsx）工作簿")?;
    let sheet = wb
        .sheet_names()
        .first()
        .cloned()
        .context("工作簿中没有工作表")?;
    let mut cells = wb
        .worksheet_cells_reader(&sheet)
        .context("无法读取第一个工作表")?;
    let mut table: BTreeMap<u32, Vec<(u32, String)>> = BTreeMap::new();
    let mut count = 0usize;
    while let Some(cell) = cells.next_cell().context("工作表已损坏")? {
        let (r, c) = cell.get_position();
        if r >= XLSX_MAX_ROWS || c >= XLSX_MAX_COLUMNS {
            bail!(
                "工作表已损坏：单元格位置超出 Excel 的范围（第 {} 行，第 {} 列）",
                u64::from(r) + 1,
                u64::from(c) + 1
            );
        }
        let text = match Data::from(cell.get_value().clone()) {
            Data::Empty => continue,
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            Data::DateTime(d) => {
                let (y, mo, da, h, mi, s, _) = d.to_ymd_hms_milli();
                format!("{y:04}-{mo:02}-{da:02} {h:02}:{mi:02}:{s:02}")
            }
            other => other.to_string(),
        };
        count += 1;
        if count > XLSX_MAX_CELLS {
            bail!("工作表的单元格超过 {XLSX_MAX_CELLS} 个：请拆分文件，或改用 CSV / JSONL");
        }
        table.entry(r).or_default().push((c, text));
    }
    let mut rows_in = table.into_values();
    let headers: HashMap<u32, String> = rows_in.next().unwrap_or_default().into_iter().collect();
    let mut rows = Vec::new();
    for cells in rows_in {
        let mut row = Row::new();
        for (c, v) in cells {
            if v.trim().is_empty() {
                continue;
            }
            let h = headers.get(&c).map_or("", String::as_str);
            let key = canonical(columns, h)
                .map(str::to_string)
                .unwrap_or(format!("?{h}"));
            row.insert(key, v);
        }
        if !row.is_empty() {
            rows.push(row);
        }
    }
    Ok(rows)
}

fn read_rows(path: &Path, format: &str) -> anyhow::Result<Vec<Row>> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse_rows(&data, format)
}

/// An import file's rows (`jsonl`, `csv` or `xlsx`), keyed by the import's field names.
pub fn parse_rows(data: &[u8], format: &str) -> anyhow::Result<Vec<Row>> {
    read_table(data, format, COLUMNS)
}

/// Reads a JSONL, CSV or XLSX table into rows keyed by canonical field names.
pub fn read_table(data: &[u8], format: &str, columns: &Columns) -> anyhow::Result<Vec<Row>> {
    let canonical = |h: &str| canonical(columns, h);
    match format {
        "jsonl" => {
            let text = std::str::from_utf8(data).context("the file is not UTF-8 text")?;
            let mut rows = Vec::new();
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let mut row = Row::new();
                match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line) {
                    Ok(obj) => {
                        for (k, v) in obj {
                            let key = canonical(&k).map(str::to_string).unwrap_or(format!("?{k}"));
                            let val = match v {
                                serde_json::Value::String(s) => s,
                                serde_json::Value::Null => continue,
                                other => other.to_string(),
                            };
                            row.insert(key, val);
                        }
                    }
                    Err(e) => {
                        row.insert(
                            "!".into(),
                            format!("第 {} 行不是有效的 JSON 对象：{e}", i + 1),
                        );
                    }
                }
                rows.push(row);
            }
            Ok(rows)
        }
        "csv" => {
            let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(data);
            let headers: Vec<String> = rdr.headers()?.iter().map(str::to_string).collect();
            let mut rows = Vec::new();
            for rec in rdr.records() {
                let mut row = Row::new();
                match rec {
                    Ok(rec) => {
                        for (h, v) in headers.iter().zip(rec.iter()) {
                            if !v.trim().is_empty() {
                                let key =
                                    canonical(h).map(str::to_string).unwrap_or(format!("?{h}"));
                                row.insert(key, v.to_string());
                            }
                        }
                    }
                    Err(e) => {
                        row.insert("!".into(), format!("CSV 格式错误：{e}"));
                    }
                }
                rows.push(row);
            }
            Ok(rows)
        }
        "xlsx" => read_xlsx(data, columns),
        other => bail!("unknown format “{other}”: use jsonl, csv or xlsx"),
    }
}

fn code_or_label<T: Copy>(
    all: &[T],
    s: &str,
    code: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> String {
    let s = s.trim();
    all.iter()
        .find(|v| label(**v) == s)
        .map(|v| code(*v).to_string())
        .unwrap_or_else(|| s.to_string())
}

fn flag(row: &Row, field: &str) -> Result<Option<bool>, AppError> {
    match row.get(field).map(|s| s.trim()) {
        None | Some("") => Ok(None),
        Some("true" | "1" | "是" | "yes" | "Y" | "y") => Ok(Some(true)),
        Some("false" | "0" | "否" | "no" | "N" | "n") => Ok(Some(false)),
        Some(_) => Err(AppError::invalid(field, "应为 是/否 或 true/false")),
    }
}

fn time(row: &Row) -> Result<Option<DateTime<Utc>>, AppError> {
    let Some(s) = row.get("accepted_at").map(|s| s.trim()) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y/%m/%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f)
            && let Some(t) = china_offset().from_local_datetime(&t).single()
        {
            return Ok(Some(t.with_timezone(&Utc)));
        }
    }
    Err(AppError::invalid(
        "accepted_at",
        format!("“{s}”不是可识别的时间（如 2026-11-24 09:30:00）"),
    ))
}

/// One import row as an order request (checked further by `CreateOrderRequest::parse`).
pub fn request_of(row: &Row) -> Result<CreateOrderRequest, AppError> {
    if let Some(e) = row.get("!") {
        return Err(AppError::invalid("row", e.clone()));
    }
    if let Some(k) = row.keys().find(|k| k.starts_with('?')) {
        return Err(AppError::invalid(k.trim_start_matches('?'), "未知列"));
    }
    let num = |f: &str| -> Result<Option<f64>, AppError> {
        row.get(f)
            .map(|s| {
                s.trim()
                    .parse::<f64>()
                    .map_err(|_| AppError::invalid(f, "应为数字"))
            })
            .transpose()
    };
    Ok(CreateOrderRequest {
        channel: row
            .get("channel")
            .map(|s| code_or_label(Channel::ALL, s, Channel::as_str, Channel::label))
            .unwrap_or_else(|| "other".into()),
        request_type: row
            .get("request_type")
            .map(|s| code_or_label(RequestType::ALL, s, RequestType::as_str, RequestType::label))
            .ok_or_else(|| AppError::invalid("request_type", "缺少必填字段"))?,
        category: row.get("category").cloned(),
        title: row.get("title").cloned(),
        content: row.get("content").cloned().unwrap_or_default(),
        citizen: Some(CitizenInput {
            name: row.get("citizen_name").cloned(),
            phone: row.get("citizen_phone").cloned(),
            id_number: row.get("citizen_id_number").cloned(),
            anonymous: flag(row, "anonymous")?.unwrap_or(false),
        }),
        address: row.get("address").cloned(),
        region_code: row.get("region_code").cloned(),
        lat: num("lat")?,
        lng: num("lng")?,
        urgency: row
            .get("urgency")
            .map(|s| code_or_label(Urgency::ALL, s, Urgency::as_str, Urgency::label)),
        flags: Some(FlagsInput {
            emergency: flag(row, "emergency")?,
            complex: flag(row, "complex")?,
            repeat: None,
            confidential: flag(row, "confidential")?,
            needs_contact: flag(row, "needs_contact")?,
        }),
        external_ref: row.get("external_ref").cloned(),
        instant_answer: None,
    })
}

/// Imports `file` as `as_user` (who must be allowed to accept orders).
/// The account a CLI command acts as, in a tenant (the default tenant when `None`).
pub async fn principal(app: &App, tenant: Option<&str>, user: &str) -> anyhow::Result<Principal> {
    let t = app
        .resolve_tenant(tenant)
        .await
        .map_err(|e| anyhow::anyhow!("tenant: {e}"))?;
    let u = app
        .store
        .user_by_name(t, user)
        .await?
        .with_context(|| format!("--as-user: no user named {user}"))?;
    Ok(Principal {
        tenant: t,
        user_id: u.id,
        username: u.username,
        display_name: u.display_name,
        unit_id: u.unit_id,
        roles: u.roles,
        token_scopes: None,
    })
}

pub async fn run(
    app: &App,
    file: &Path,
    format: Option<&str>,
    tenant: Option<&str>,
    as_user: &str,
    progress: bool,
) -> anyhow::Result<Summary> {
    let format = match format {
        Some(f) => f.to_ascii_lowercase(),
        None => file
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .context("cannot tell the format from the file name: pass --format jsonl|csv|xlsx")?,
    };
    let rows = read_rows(file, &format)?;
    let p = principal(app, tenant, as_user).await?;
    if !(p.has(Role::Agent) || p.has(Role::Dispatcher)) {
        bail!("--as-user: {as_user} may not accept orders (needs the agent or dispatcher role)");
    }
    let bar = if progress {
        let b = indicatif::ProgressBar::new(rows.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "importing {bar:40} {pos}/{len} rows ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    // Rows run concurrently so that they share group commits; `buffered` keeps their order.
    let outcomes: Vec<(usize, Result<(), AppError>)> =
        futures::stream::iter(rows.into_iter().enumerate())
            .map(|(i, row)| {
                let p = &p;
                let bar = &bar;
                async move {
                    let r = async {
                        let req = request_of(&row)?;
                        let at = time(&row)?;
                        let (new, instant) = req.parse()?;
                        app.accept_order_at(p, new, instant, at).await.map(|_| ())
                    }
                    .await;
                    bar.inc(1);
                    (i + 1, r)
                }
            })
            .buffered(128)
            .collect()
            .await;
    bar.finish_and_clear();
    let mut summary = Summary::default();
    for (row, r) in outcomes {
        match r {
            Ok(()) => summary.imported += 1,
            Err(AppError::Invalid(f)) => summary.rejected.push(Rejected {
                row,
                field: Some(f.field),
                reason: f.message,
            }),
            Err(e) => summary.rejected.push(Rejected {
                row,
                field: None,
                reason: e.to_string(),
            }),
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A one-sheet XLSX whose sheet XML holds `rows` (`<row>` elements) as written, so a test
    /// can name any cell position, including ones Excel would never write.
    fn workbook(rows: &str) -> Vec<u8> {
        let files = [
            (
                "_rels/.rels",
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string(),
            ),
            (
                "xl/workbook.xml",
                r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string(),
            ),
            (
                "xl/_rels/workbook.xml.rels",
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_string(),
            ),
            (
                "xl/worksheets/sheet1.xml",
                format!(
                    r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>"#
                ),
            ),
        ];
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, text) in files {
            zip.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    fn cell(pos: &str, text: &str) -> String {
        format!(r#"<c r="{pos}" t="inlineStr"><is><t>{text}</t></is></c>"#)
    }

    #[test]
    fn xlsx_rows_are_read_sparse_so_far_apart_cells_cost_nothing() {
        // A1 and XFD1048576 span Excel's whole sheet: a dense range of 17 billion cells.
        let rows = format!(
            r#"<row r="1">{}{}</row><row r="3">{}<c r="B3"><v>13800138000</v></c></row><row r="1048576">{}</row>"#,
            cell("A1", "content"),
            cell("B1", "联系电话"),
            cell("A3", "路灯不亮"),
            cell("XFD1048576", "远处的值"),
        );
        let table = parse_rows(&workbook(&rows), "xlsx").unwrap();
        assert_eq!(table.len(), 2, "{table:?}");
        assert_eq!(table[0]["content"], "路灯不亮");
        assert_eq!(table[0]["citizen_phone"], "13800138000");
        // A value in a column without a header is an unknown column, as in a dense sheet.
        assert_eq!(table[1]["?"], "远处的值");
        assert_eq!(table[1].len(), 1);
    }

    #[test]
    fn xlsx_cells_outside_excels_sheet_are_a_clear_error() {
        for pos in [
            "A1048577",
            "XFE1",
            "AAAAAAAA1",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA2",
        ] {
            let rows = format!(
                r#"<row r="1">{}{}</row>"#,
                cell("A1", "content"),
                cell(pos, "x")
            );
            let e = parse_rows(&workbook(&rows), "xlsx").unwrap_err();
            assert!(
                format!("{e:#}").contains("超出 Excel 的范围"),
                "{pos}: {e:#}"
            );
        }
    }

    #[test]
    fn a_file_that_is_not_a_workbook_is_refused_with_its_reason() {
        let e = parse_rows(b"PK\x03\x04 not really", "xlsx").unwrap_err();
        assert!(format!("{e:#}").contains("不是 Excel"), "{e:#}");
    }
}
