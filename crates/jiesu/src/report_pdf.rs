//! Reports (日报/周报/月报) as a printable A4 PDF: the same sections and numbers as the
//! workbook, laid out as tables with page numbers.
//!
//! The Chinese text uses the standard CJK font `STSong-Light` (Adobe-GB1, the font every PDF
//! reader provides or substitutes for simplified Chinese, as ReportLab and iText do) with the
//! `UniGB-UCS2-H` encoding, so the file carries no font program and stays small; a
//! `/ToUnicode` map keeps the text searchable and copyable.

use crate::app::report::{Report, count_rows, rate_rows};
use crate::app::stats::Ranked;
use pdf_writer::types::{FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use std::collections::BTreeSet;

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 50.0;
const BODY: f32 = 9.5;
const LINE: f32 = 15.0;
const FONT: Name<'static> = Name(b"F1");

fn gb1() -> SystemInfo<'static> {
    SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"GB1"),
        supplement: 2,
    }
}

/// Text as the font's codes: UCS-2, big-endian (outside the BMP: `?`).
fn ucs2(s: &str) -> Vec<u8> {
    s.chars()
        .flat_map(|c| {
            let u = u16::try_from(u32::from(c)).unwrap_or(u16::from(b'?'));
            u.to_be_bytes()
        })
        .collect()
}

/// Width of `s` at `size` points: ASCII half, everything else full width (as the font's
/// `/W` array says).
fn width(s: &str, size: f32) -> f32 {
    s.chars()
        .map(|c| if c.is_ascii() { 0.5 } else { 1.0 })
        .sum::<f32>()
        * size
}

/// Cuts `s` to fit `max` points, with `…`.
fn fit(s: &str, size: f32, max: f32) -> String {
    if width(s, size) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    for c in s.chars() {
        if width(&out, size) + width(&c.to_string(), size) + size > max {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// A column: its heading, width in points, and whether numbers align right.
struct Col {
    head: &'static str,
    w: f32,
    right: bool,
}

fn col(head: &'static str, w: f32, right: bool) -> Col {
    Col { head, w, right }
}

/// Pages being laid out top to bottom.
struct Layout {
    pages: Vec<Content>,
    y: f32,
    chars: BTreeSet<char>,
}

impl Layout {
    fn new() -> Layout {
        let mut l = Layout {
            pages: Vec::new(),
            y: 0.0,
            chars: BTreeSet::new(),
        };
        l.new_page();
        l
    }

    fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.y = PAGE_H - MARGIN;
    }

    /// Makes room for `h` points, starting a page if needed.
    fn room(&mut self, h: f32) {
        if self.y - h < MARGIN + 20.0 {
            self.new_page();
        }
    }

    fn text_at(&mut self, x: f32, y: f32, size: f32, s: &str) {
        self.chars.extend(s.chars());
        let bytes = ucs2(s);
        if let Some(c) = self.pages.last_mut() {
            c.begin_text();
            c.set_font(FONT, size);
            c.next_line(x, y);
            c.show(Str(&bytes));
            c.end_text();
        }
    }

    fn line(&mut self, size: f32, s: &str) {
        self.room(size + 6.0);
        self.y -= size + 6.0;
        self.text_at(MARGIN, self.y, size, s);
    }

    fn heading(&mut self, s: &str) {
        self.room(LINE * 4.0);
        self.y -= 8.0;
        self.line(12.0, s);
        self.y -= 2.0;
    }

    fn rule(&mut self, y: f32, w: f32) {
        if let Some(c) = self.pages.last_mut() {
            c.set_line_width(0.5);
            c.move_to(MARGIN, y);
            c.line_to(MARGIN + w, y);
            c.stroke();
        }
    }

    fn row(&mut self, cols: &[Col], cells: &[String]) {
        self.room(LINE);
        self.y -= LINE;
        let mut x = MARGIN;
        for (c, v) in cols.iter().zip(cells) {
            let v = fit(v, BODY, c.w - 4.0);
            let at = if c.right {
                x + c.w - 4.0 - width(&v, BODY)
            } else {
                x
            };
            self.text_at(at, self.y + 4.0, BODY, &v);
            x += c.w;
        }
    }

    fn table(&mut self, cols: &[Col], rows: &[Vec<String>]) {
        let total: f32 = cols.iter().map(|c| c.w).sum();
        let heads: Vec<String> = cols.iter().map(|c| c.head.to_string()).collect();
        self.room(LINE * 2.0);
        self.row(cols, &heads);
        self.rule(self.y, total);
        if rows.is_empty() {
            self.row(&[col("", total, false)], &["（无）".to_string()]);
        }
        for r in rows {
            if self.y - LINE < MARGIN + 20.0 {
                self.new_page();
                self.row(cols, &heads);
                self.rule(self.y, total);
            }
            self.row(cols, r);
        }
        self.y -= 6.0;
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("—".to_string(), |v| format!("{:.2}%", v * 100.0))
}

fn score(v: Option<f64>) -> String {
    v.map_or("—".to_string(), |v| format!("{v:.2}"))
}

fn ranking_rows(rows: &[Ranked]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            vec![
                r.rank.map_or("—".to_string(), |k| k.to_string()),
                r.name.clone(),
                score(r.evaluation),
                score(r.score),
                format!("{:.2}", r.deduction),
                r.counts.dispatched.to_string(),
                pct(r.rates.response_rate),
                pct(r.rates.completion_rate),
                pct(r.rates.resolution_rate),
                pct(r.rates.satisfaction_rate),
            ]
        })
        .collect()
}

fn volume_rows(rows: &[(String, u64)]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|(l, n)| vec![l.clone(), n.to_string()])
        .collect()
}

/// The report as a PDF document.
pub fn report_pdf(r: &Report) -> Vec<u8> {
    let mut l = Layout::new();
    let title = format!("{} {} {}", r.tenant, r.name, r.kind.label());
    l.line(16.0, &title);
    l.line(
        BODY,
        &format!(
            "统计期间 {} 至 {}（按受理时间；工单此后的办理、回访计入受理当期）",
            r.figures.period.from, r.figures.period.to
        ),
    );

    l.heading("一、主要指标");
    let rates: Vec<Vec<String>> = rate_rows(&r.figures.rates)
        .iter()
        .map(|(n, v)| vec![n.to_string(), pct(*v)])
        .collect();
    let counts: Vec<Vec<String>> = count_rows(&r.figures.counts)
        .iter()
        .map(|(n, v)| vec![n.to_string(), v.to_string()])
        .collect();
    l.table(
        &[col("指标", 120.0, false), col("数值", 80.0, true)],
        &rates,
    );
    l.table(
        &[col("计数", 120.0, false), col("件数", 80.0, true)],
        &counts,
    );
    let f = &r.figures.formulas;
    l.line(
        BODY,
        &format!(
            "满意率 =（满意 + {} × 基本满意）/ 回访数；综合得分 = {} × 响应率 + {} × 解决率 + {} × 满意率",
            f.basically_satisfied_weight,
            f.composite.response,
            f.composite.resolution,
            f.composite.satisfaction
        ),
    );

    l.heading("二、受理量");
    let volume = |head: &'static str| [col(head, 200.0, false), col("件数", 80.0, true)];
    l.table(&volume("渠道"), &volume_rows(&r.by_channel));
    l.table(&volume("诉求类型"), &volume_rows(&r.by_type));
    l.table(&volume("分类"), &volume_rows(&r.by_category));
    l.table(&volume("区域"), &volume_rows(&r.by_district));

    let ranking_cols = || {
        [
            col("名次", 30.0, true),
            col("单位", 120.0, false),
            col("考核得分", 46.0, true),
            col("综合得分", 46.0, true),
            col("扣分", 32.0, true),
            col("派单", 34.0, true),
            col("响应率", 46.0, true),
            col("办结率", 46.0, true),
            col("解决率", 46.0, true),
            col("满意率", 46.0, true),
        ]
    };
    l.heading("三、职能部门排名");
    l.table(&ranking_cols(), &ranking_rows(&r.departments));
    l.heading("四、乡镇街道排名");
    l.table(&ranking_cols(), &ranking_rows(&r.towns));

    l.heading("五、热点诉求");
    let spots: Vec<Vec<String>> = r
        .hotspots
        .iter()
        .map(|h| {
            vec![
                h.title.clone(),
                h.place.clone(),
                h.size.to_string(),
                h.callers.to_string(),
            ]
        })
        .collect();
    l.table(
        &[
            col("热点", 260.0, false),
            col("地点", 135.0, false),
            col("件数", 50.0, true),
            col("来电人", 50.0, true),
        ],
        &spots,
    );

    l.heading("六、重办工单");
    let notable: Vec<Vec<String>> = r
        .rehandled
        .iter()
        .map(|n| {
            vec![
                n.number.clone(),
                n.title.clone(),
                n.unit.clone(),
                n.rehandled.to_string(),
            ]
        })
        .collect();
    l.table(
        &[
            col("工单编号", 110.0, false),
            col("标题", 220.0, false),
            col("主办单位", 115.0, false),
            col("重办次数", 50.0, true),
        ],
        &notable,
    );
    finish(l, &title)
}

/// Writes the pages with their page numbers, the font and the document's outline.
fn finish(mut l: Layout, title: &str) -> Vec<u8> {
    let n = l.pages.len();
    for i in 0..n {
        let foot = format!("第 {} 页 共 {} 页", i + 1, n);
        let x = (PAGE_W - width(&foot, 8.0)) / 2.0;
        l.chars.extend(foot.chars());
        let bytes = ucs2(&foot);
        let c = &mut l.pages[i];
        c.begin_text();
        c.set_font(FONT, 8.0);
        c.next_line(x, MARGIN - 20.0);
        c.show(Str(&bytes));
        c.end_text();
    }
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let cid = Ref::new(4);
    let descriptor = Ref::new(5);
    let cmap = Ref::new(6);
    let info = Ref::new(7);
    let first_page = 8;
    let page_ids: Vec<Ref> = (0..n)
        .map(|i| Ref::new(first_page + 2 * i as i32))
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(n as i32);
    pdf.document_info(info)
        .title(TextStr(title))
        .creator(TextStr("Jiesu 接诉即办"));
    pdf.type0_font(font)
        .base_font(Name(b"STSong-Light"))
        .encoding_predefined(Name(b"UniGB-UCS2-H"))
        .descendant_font(cid)
        .to_unicode(cmap);
    let mut c = pdf.cid_font(cid);
    c.subtype(pdf_writer::types::CidFontType::Type0)
        .base_font(Name(b"STSong-Light"))
        .system_info(gb1())
        .font_descriptor(descriptor)
        .default_width(1000.0);
    // Adobe-GB1 CIDs 1–95 are the proportional ASCII glyphs: laid out as half width.
    c.widths().same(1, 95, 500.0);
    c.finish();
    pdf.font_descriptor(descriptor)
        .name(Name(b"STSong-Light"))
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(-25.0, -254.0, 1000.0, 880.0))
        .italic_angle(0.0)
        .ascent(880.0)
        .descent(-120.0)
        .cap_height(880.0)
        .stem_v(93.0);
    let mut map: UnicodeCmap<u16> = UnicodeCmap::new(Name(b"Jiesu-UCS2"), gb1());
    for ch in &l.chars {
        if let Ok(code) = u16::try_from(u32::from(*ch)) {
            map.pair(code, *ch);
        }
    }
    let map = map.finish();
    pdf.cmap(cmap, &map).system_info(gb1());
    for (i, content) in l.pages.into_iter().enumerate() {
        let page_id = page_ids[i];
        let content_id = Ref::new(page_id.get() + 1);
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .parent(tree)
            .contents(content_id);
        page.resources().fonts().pair(FONT, font);
        page.finish();
        let data = content.finish();
        pdf.stream(content_id, &data);
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_encoded_as_ucs2_and_cut_to_its_column() {
        assert_eq!(ucs2("满A"), vec![0x6e, 0xe1, 0x00, 0x41]);
        assert_eq!(width("满意率 99%", 10.0), 30.0 + 20.0);
        let cut = fit("一二三四五六七八九十", 10.0, 50.0);
        assert!(width(&cut, 10.0) <= 50.0, "{cut}");
        assert!(cut.ends_with('…'));
        assert_eq!(fit("短", 10.0, 50.0), "短");
    }
}
