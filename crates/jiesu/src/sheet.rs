//! The printable work-order sheet (工单打印): one order on an A4 page — what was asked, who
//! handles it, the deadlines, the reply and callback, and the whole history — as HTML the
//! browser prints (or saves as PDF).

use crate::app::orders::OrderView;
use jiesu_core::calendar::china_offset;
use jiesu_core::org::OrgTree;
use jiesu_store::orders::StoredEvent;
use std::collections::HashMap;
use std::fmt::Write;

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn local(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&china_offset())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

const STYLE: &str = "@page{size:A4;margin:14mm}\
body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;font-size:12px;color:#111;margin:0}\
h1{font-size:18px;text-align:center;margin:0 0 4px}\
.sub{text-align:center;color:#555;margin-bottom:10px}\
table{border-collapse:collapse;width:100%;margin-bottom:10px}\
th,td{border:1px solid #444;padding:4px 6px;vertical-align:top;text-align:left}\
th{background:#f2f2f2;white-space:nowrap;width:7em}\
h2{font-size:14px;margin:12px 0 6px}\
.pre{white-space:pre-wrap}";

/// The sheet of `v` with its history, the citizen shown as the viewer may see them.
pub fn order_sheet(
    centre: &str,
    v: &OrderView,
    events: &[StoredEvent],
    org: &OrgTree,
    category_names: &HashMap<String, String>,
) -> String {
    let o = &v.stored.order;
    let mut h = String::new();
    let row = |h: &mut String, k: &str, val: &str| {
        let _ = write!(
            h,
            "<tr><th>{k}</th><td class=\"pre\">{}</td></tr>",
            escape(val)
        );
    };
    let _ = write!(
        h,
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>工单 {n}</title><style>{STYLE}</style></head><body>\
         <h1>{c}工单</h1><div class=\"sub\">工单编号 {n} · 打印于 {p}</div><table>",
        n = escape(&o.number),
        c = escape(centre),
        p = local(chrono::Utc::now()),
    );
    row(&mut h, "受理时间", &local(o.accepted_at));
    row(
        &mut h,
        "渠道 / 类型",
        &format!("{} / {}", o.channel.label(), o.request_type.label()),
    );
    let category = o
        .category
        .as_ref()
        .map(|c| {
            category_names
                .get(c.as_str())
                .cloned()
                .unwrap_or_else(|| c.as_str().to_string())
        })
        .unwrap_or_else(|| "未分类".into());
    row(&mut h, "诉求分类", &category);
    row(&mut h, "状态", o.status.label());
    let citizen = if v.citizen.anonymous {
        "匿名".to_string()
    } else {
        format!(
            "{}　{}",
            v.citizen.name.as_deref().unwrap_or("—"),
            v.citizen.phone.as_deref().unwrap_or("—")
        )
    };
    row(&mut h, "诉求人", &citizen);
    row(&mut h, "地址", o.location.address.as_deref().unwrap_or("—"));
    row(&mut h, "标题", &o.title);
    row(&mut h, "诉求内容", &o.content);
    let units: Vec<String> = o
        .assignments
        .iter()
        .filter(|a| a.status.is_active())
        .map(|a| format!("{}（{}）", org.name(a.unit_id), a.role.label()))
        .collect();
    row(
        &mut h,
        "承办单位",
        &if units.is_empty() {
            "—".to_string()
        } else {
            units.join("、")
        },
    );
    if let Some(d) = &o.deadlines.reply {
        row(&mut h, "办理时限", &local(d.due));
    }
    if let Some(r) = &o.reply {
        row(
            &mut h,
            "办理答复",
            &format!("{}（{}，{}）", r.content, org.name(r.unit_id), local(r.at)),
        );
    }
    if let Some(c) = &o.callback {
        row(
            &mut h,
            "回访结果",
            &format!(
                "{}，{}{}",
                c.satisfaction.label(),
                if c.resolved { "已解决" } else { "未解决" },
                c.comment
                    .as_deref()
                    .map(|x| format!("：{x}"))
                    .unwrap_or_default()
            ),
        );
    }
    h.push_str("</table><h2>办理过程（一单到底）</h2><table><tr><th>时间</th><th>环节</th><th>操作人</th><th>说明</th></tr>");
    for e in events {
        let ev = &e.event;
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}（{}）</td><td class=\"pre\">{}</td></tr>",
            local(ev.at),
            escape(ev.kind.label()),
            escape(&ev.actor.username),
            escape(org.name(ev.actor.unit_id)),
            escape(ev.kind.reason().unwrap_or("")),
        );
    }
    h.push_str("</table></body></html>");
    h
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(
            escape("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
    }
}
