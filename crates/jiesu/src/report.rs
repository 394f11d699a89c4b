//! The monthly report as an Excel workbook: rates as numbers (fractions, shown as
//! percentages), so that the figures can be checked and reused.

use crate::app::report::{Report, count_rows, rate_rows};
use crate::app::stats::Ranked;
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

fn header(ws: &mut Worksheet, bold: &Format, row: u32, cells: &[&str]) -> Result<(), XlsxError> {
    for (c, h) in cells.iter().enumerate() {
        ws.write_with_format(row, c as u16, *h, bold)?;
    }
    Ok(())
}

fn rate(
    ws: &mut Worksheet,
    pct: &Format,
    row: u32,
    col: u16,
    v: Option<f64>,
) -> Result<(), XlsxError> {
    match v {
        Some(v) => ws.write_number_with_format(row, col, v, pct).map(|_| ()),
        None => ws.write(row, col, "—").map(|_| ()),
    }
}

fn volumes(
    ws: &mut Worksheet,
    bold: &Format,
    col: u16,
    title: &str,
    rows: &[(String, u64)],
) -> Result<(), XlsxError> {
    ws.write_with_format(0, col, title, bold)?;
    ws.write_with_format(0, col + 1, "件数", bold)?;
    for (i, (label, n)) in rows.iter().enumerate() {
        ws.write(i as u32 + 1, col, label.as_str())?;
        ws.write_number(i as u32 + 1, col + 1, *n as f64)?;
    }
    ws.set_column_width(col, 18)?;
    Ok(())
}

fn ranking(
    wb: &mut Workbook,
    bold: &Format,
    pct: &Format,
    name: &str,
    rows: &[Ranked],
) -> Result<(), XlsxError> {
    let ws = wb.add_worksheet();
    ws.set_name(name)?;
    header(
        ws,
        bold,
        0,
        &[
            "名次",
            "单位",
            "考核得分",
            "综合得分",
            "扣分",
            "派单",
            "响应率",
            "办结率",
            "按期办结率",
            "解决率",
            "满意率",
            "逾期",
            "转督办",
        ],
    )?;
    for (i, r) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        match r.rank {
            Some(k) => ws.write_number(row, 0, k as f64)?,
            None => ws.write(row, 0, "—")?,
        };
        ws.write(row, 1, r.name.as_str())?;
        for (col, v) in [(2, r.evaluation), (3, r.score)] {
            match v {
                Some(s) => ws.write_number(row, col, (s * 100.0).round() / 100.0)?,
                None => ws.write(row, col, "—")?,
            };
        }
        ws.write_number(row, 4, r.deduction)?;
        ws.write_number(row, 5, r.counts.dispatched as f64)?;
        rate(ws, pct, row, 6, r.rates.response_rate)?;
        rate(ws, pct, row, 7, r.rates.completion_rate)?;
        rate(ws, pct, row, 8, r.rates.on_time_rate)?;
        rate(ws, pct, row, 9, r.rates.resolution_rate)?;
        rate(ws, pct, row, 10, r.rates.satisfaction_rate)?;
        ws.write_number(row, 11, r.counts.late as f64)?;
        ws.write_number(row, 12, r.counts.escalated as f64)?;
    }
    ws.set_column_width(1, 24)?;
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

/// The workbook: 概况, 受理量, 部门排名, 乡镇街道排名, 热点, 重办工单.
pub fn report_xlsx(r: &Report) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let pct = Format::new().set_num_format("0.00%");
    {
        let ws = wb.add_worksheet();
        ws.set_name("概况")?;
        ws.write_with_format(
            0,
            0,
            format!("{} {} {}", r.tenant, r.name, r.kind.label()),
            &bold,
        )?;
        ws.write(
            1,
            0,
            format!(
                "统计期间 {} 至 {}（按受理时间；工单此后的办理、回访计入受理当期）",
                r.figures.period.from, r.figures.period.to
            ),
        )?;
        header(ws, &bold, 3, &["指标", "数值"])?;
        let mut row = 4;
        for (name, v) in rate_rows(&r.figures.rates) {
            ws.write(row, 0, name)?;
            rate(ws, &pct, row, 1, v)?;
            row += 1;
        }
        row += 1;
        header(ws, &bold, row, &["计数", "件数"])?;
        row += 1;
        for (name, n) in count_rows(&r.figures.counts) {
            ws.write(row, 0, name)?;
            ws.write_number(row, 1, n as f64)?;
            row += 1;
        }
        ws.write(
            row + 1,
            0,
            format!(
                "满意率 =（满意 + {} × 基本满意）/ 回访数；综合得分 = {} × 响应率 + {} × 解决率 + {} × 满意率",
                r.figures.formulas.basically_satisfied_weight,
                r.figures.formulas.composite.response,
                r.figures.formulas.composite.resolution,
                r.figures.formulas.composite.satisfaction
            ),
        )?;
        ws.set_column_width(0, 16)?;
        ws.set_column_width(1, 12)?;
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("受理量")?;
        volumes(ws, &bold, 0, "渠道", &r.by_channel)?;
        volumes(ws, &bold, 3, "诉求类型", &r.by_type)?;
        volumes(ws, &bold, 6, "分类", &r.by_category)?;
        volumes(ws, &bold, 9, "区域", &r.by_district)?;
    }
    ranking(&mut wb, &bold, &pct, "部门排名", &r.departments)?;
    ranking(&mut wb, &bold, &pct, "乡镇街道排名", &r.towns)?;
    {
        let ws = wb.add_worksheet();
        ws.set_name("热点")?;
        header(ws, &bold, 0, &["热点", "地点", "件数", "来电人"])?;
        for (i, h) in r.hotspots.iter().enumerate() {
            let row = i as u32 + 1;
            ws.write(row, 0, h.title.as_str())?;
            ws.write(row, 1, h.place.as_str())?;
            ws.write_number(row, 2, h.size as f64)?;
            ws.write_number(row, 3, h.callers as f64)?;
        }
        ws.set_column_width(0, 48)?;
        ws.set_column_width(1, 20)?;
    }
    {
        let ws = wb.add_worksheet();
        ws.set_name("重办工单")?;
        header(ws, &bold, 0, &["工单编号", "标题", "主办单位", "重办次数"])?;
        for (i, n) in r.rehandled.iter().enumerate() {
            let row = i as u32 + 1;
            ws.write(row, 0, n.number.as_str())?;
            ws.write(row, 1, n.title.as_str())?;
            ws.write(row, 2, n.unit.as_str())?;
            ws.write_number(row, 3, f64::from(n.rehandled))?;
        }
        ws.set_column_width(0, 20)?;
        ws.set_column_width(1, 48)?;
        ws.set_column_width(2, 20)?;
    }
    wb.save_to_buffer()
}
