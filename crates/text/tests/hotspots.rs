#![allow(clippy::unwrap_used)]
//! Hot spots on real data: the 2,801 unlabelled messages of
//! `../shared/data/messages/messages.jsonl`, clustered in time order. Skipped, with a
//! message, where the shared data is absent.

use jiesu_text::Analyzer;
use jiesu_text::analyzer::fold;
use jiesu_text::hotspots::{Hotspot, Hotspots, Incoming, Rank, Settings, places};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;

struct Row {
    id: i64,
    time: i64,
    title: String,
    content: String,
    user: String,
}

fn parse_time(s: &str) -> i64 {
    let s = s.trim();
    for f in ["%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return t.and_utc().timestamp_millis();
        }
    }
    panic!("unreadable time {s}")
}

fn messages() -> Option<Vec<Row>> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/messages/messages.jsonl");
    let Ok(text) = std::fs::read_to_string(&p) else {
        eprintln!("SKIPPED: {} is absent (shared reference data)", p.display());
        return None;
    };
    let mut rows: Vec<Row> = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Row {
                id: v["id"].as_i64().unwrap(),
                time: parse_time(v["time"].as_str().unwrap()),
                title: v["title"].as_str().unwrap().into(),
                content: v["content"].as_str().unwrap().into(),
                user: v["user"].as_str().unwrap().into(),
            }
        })
        .collect();
    rows.sort_by_key(|r| (r.time, r.id));
    Some(rows)
}

fn incoming(rows: &[Row]) -> Vec<Incoming<'_>> {
    rows.iter()
        .map(|r| Incoming {
            id: r.id,
            time: r.time,
            title: &r.title,
            content: &r.content,
            address: "",
            region: None,
            caller: Some(&r.user),
        })
        .collect()
}

fn everything(h: &Hotspots) -> Vec<Hotspot> {
    h.top(2, usize::MAX, Rank::Size, i64::MAX / 4, 1)
}

#[test]
fn the_top_clusters_of_real_messages_share_place_and_issue_with_their_representative() {
    let Some(rows) = messages() else { return };
    let analyzer = Analyzer::default();
    let mut h = Hotspots::new(analyzer.clone(), Settings::default());
    h.add(&incoming(&rows));
    let by_id: HashMap<i64, &Row> = rows.iter().map(|r| (r.id, r)).collect();
    let all = everything(&h);
    println!(
        "{} messages, {} clusters of two or more",
        rows.len(),
        all.len()
    );
    assert!(all.len() >= 20, "too few clusters: {}", all.len());
    let opening = |r: &Row| -> String {
        let c: String = r.content.chars().take(300).collect();
        fold(&format!("{} {c}", r.title))
    };
    let (mut checked, mut coherent) = (0, 0);
    for c in all.iter().take(20) {
        let rep = by_id[&c.representative];
        let rep_text = opening(rep);
        let rep_places = places(&analyzer, &rep_text);
        let rep_words = analyzer.words(&rep_text);
        println!("== {} [{}] {}", c.size(), c.place, rep.title);
        for id in c.ids.iter().filter(|id| **id != c.representative) {
            let m = by_id[id];
            let text = opening(m);
            let p = places(&analyzer, &text);
            // The place: the cluster's place is named, or the two name one place.
            let same_place = (!c.place.is_empty() && text.contains(&fold(&c.place)))
                || p.fine.iter().any(|f| rep_places.fine.contains(f))
                || p.coarse.iter().any(|f| rep_places.coarse.contains(f));
            // The issue: a word of two or more characters, not a place's, in both.
            let place_text: String = p.fine.iter().chain(&p.coarse).cloned().collect();
            let same_issue = analyzer.words(&text).iter().any(|w| {
                w.chars().count() >= 2 && !place_text.contains(w.as_str()) && rep_words.contains(w)
            });
            checked += 1;
            if same_place && same_issue {
                coherent += 1;
            } else {
                println!("   not coherent ({same_place}, {same_issue}): {}", m.title);
            }
        }
    }
    let share = coherent as f64 / checked as f64;
    println!("coherent members of the top 20 clusters: {coherent}/{checked} ({share:.3})");
    assert!(share >= 0.95, "only {share:.3} of the members are coherent");
}

#[test]
fn known_repeats_of_one_issue_cluster_and_other_issues_or_places_do_not() {
    let Some(rows) = messages() else { return };
    let mut h = Hotspots::new(Analyzer::default(), Settings::default());
    h.add(&incoming(&rows));
    let ids_of = |title: &str| -> Vec<i64> {
        let ids: Vec<i64> = rows
            .iter()
            .filter(|r| r.title == title)
            .map(|r| r.id)
            .collect();
        assert!(!ids.is_empty(), "no message titled {title}");
        ids
    };
    let cluster = |title: &str| -> Vec<Option<u64>> {
        ids_of(title).iter().map(|id| h.cluster_of(*id)).collect()
    };
    // Read by hand in the data: the same issue at the same place, by different people or
    // the same person twice.
    let together: &[&[&str]] = &[
        &["A市十五中一学生因排球成绩录入错误无缘普高"],
        &["B4区庆云楚天花园小区4栋2单元电梯未检修运行两年之久"],
        &["K7县权健自然养身馆挂羊头卖狗肉"],
        &["K1区大庆坪乡塑料厂环评造假，强占基本农田"],
        &[
            "投诉C市月皓玻璃有限公司污染环境",
            "C3县月皓玻璃公司废水任意排放到池塘",
        ],
        &[
            "投诉D市钢管厂片区多家快递公司拒绝送货",
            "D市钢管厂片区的快递代理点几乎无一家主动送货上门",
        ],
        &[
            "A7县宴遇潇楚饭店搭建烟囱，附近居民如何生活？",
            "A7县宴遇潇楚未办理环保审核私自搭建烟囱",
        ],
        &[
            "K2区春江帝景湾小区物业费问题盼查",
            "K市春江帝景湾小区公司是否进行物业费价格备案？",
        ],
        &[
            "A市楚江世纪城贯江缘20楼有传销窝点",
            "举报A4区楚江世纪城的传销窝点",
        ],
    ];
    for group in together {
        let mut keys: Vec<Option<u64>> = group.iter().flat_map(|t| cluster(t)).collect();
        assert!(keys.len() >= 2, "{group:?}");
        keys.dedup();
        assert_eq!(keys.len(), 1, "one hot spot expected: {group:?}");
    }
    // The same place, another issue; or the same issue at another place.
    let apart: &[(&str, &str)] = &[
        (
            "D8县毛泽建公园水上乐园有安全隐患",
            "D8县毛泽建公园小贩随意摆摊设点",
        ),
        (
            "I4县灰山港镇领导强征弱势农民自留地",
            "I4县灰山港镇万功塘村居民区附近有几个石料厂！",
        ),
        ("L4县第一中学假期有偿补课", "D6县一中暑假非法有偿补课"),
        (
            "A7县实验中学在暑假里面组织学生补课啦！",
            "举报M市楚英实验学校暑假组织补课",
        ),
    ];
    for (a, b) in apart {
        assert_ne!(cluster(a), cluster(b), "{a} / {b}");
    }
}

#[test]
fn adding_messages_later_touches_only_them_and_gives_the_clusters_of_one_pass() {
    let Some(rows) = messages() else { return };
    let all = incoming(&rows);
    let mut once = Hotspots::new(Analyzer::default(), Settings::default());
    once.add(&all);
    let split = all.len() - 400;
    let mut later = Hotspots::new(Analyzer::default(), Settings::default());
    later.add(&all[..split]);
    assert_eq!(later.processed(), split as u64);
    let t = std::time::Instant::now();
    let changed = later.add(&all[split..]);
    println!(
        "400 added to {split} in {:?}: {} clusters changed",
        t.elapsed(),
        changed.len()
    );
    // Only the new messages were read; none of the earlier ones again.
    assert_eq!(later.processed(), all.len() as u64);
    assert!(changed.len() <= 400);
    // Adding what is there already changes nothing.
    assert!(later.add(&all[..10]).is_empty());
    assert_eq!(later.processed(), all.len() as u64);
    let ids =
        |h: &Hotspots| -> Vec<Vec<i64>> { everything(h).into_iter().map(|c| c.ids).collect() };
    assert_eq!(ids(&once), ids(&later));
}

/// Repeat detection compares the word set of a new request's reading, handed on to the hot
/// spots, with the word sets of earlier orders made by `words_of`: on every real message the
/// two must be the same set.
#[test]
fn a_reading_holds_the_word_set_words_of_makes() {
    use jiesu_text::hotspots::{Reading, words_of};
    let Some(rows) = messages() else { return };
    let a = Analyzer::default();
    for r in &rows {
        let reading = Reading::new(&a, "", &r.title, &r.content);
        assert_eq!(
            reading.words(),
            &words_of(&a, &r.title, &r.content),
            "message {}",
            r.id
        );
        assert!(!reading.words().is_empty(), "message {}", r.id);
    }
}
