//! Realistic, varied bodies for `POST /api/orders` (and the same rows for `jiesu import`):
//! a request type, a leaf category and a place that exist in the demo, a citizen, and a
//! 50–300-character description assembled from typical hotline phrasing.

use crate::client::RefData;
use rand::Rng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

const REQUEST_TYPES: &[&str] = &[
    "complaint",
    "complaint",
    "complaint",
    "help",
    "help",
    "consultation",
    "consultation",
    "report",
    "suggestion",
];

const OPENERS: &[&str] = &[
    "市民来电反映，",
    "来电人称，",
    "诉求人反映：",
    "市民通过热线反映，",
    "网友留言称，",
    "来电人表示，",
];

const COMPLAINTS: &[&str] = &[
    "小区楼下烧烤店油烟扰民，晚上十二点以后还在营业",
    "附近工地夜间施工，噪音很大，严重影响周边居民休息",
    "小区电梯经常故障停运，物业维修不及时，老人上下楼非常困难",
    "路边垃圾堆放多日无人清运，气味难闻，蚊蝇滋生",
    "沿街商户占道经营，人行道被完全占用，行人只能走机动车道",
    "楼上住户装修，电钻声每天持续到晚上十点以后",
    "小区地下车库长期积水，多辆车辆被泡，物业推诿不管",
    "公交站台候车亭损坏已久，雨天乘客无处避雨",
    "小区供暖温度不达标，室内温度只有十几度",
    "某培训机构收费后停课，拒绝退还剩余课时费用",
];

const HELP: &[&str] = &[
    "家中老人独居，行动不便，希望社区能帮助联系上门服务",
    "小区停水已经两天，没有接到任何通知",
    "单位拖欠工资三个月，多次讨要无果",
    "孩子入学报名系统无法提交材料，报名即将截止",
    "小区路灯损坏，晚上出行很不安全",
];

const CONSULTATIONS: &[&str] = &[
    "咨询新生儿医保办理需要准备哪些材料",
    "咨询住房公积金提取的条件和办理流程",
    "咨询居住证的办理地点和办理时限",
    "咨询灵活就业人员社保缴费标准及缴费方式",
    "咨询老旧小区加装电梯的补贴政策",
];

const REPORTS: &[&str] = &[
    "发现有人在河道内非法倾倒建筑垃圾",
    "某餐馆疑似使用过期食材，存在食品安全隐患",
    "小区内有人私拉电线给电动车充电，存在火灾隐患",
    "某商铺无证销售烟花爆竹",
];

const SUGGESTIONS: &[&str] = &[
    "建议在学校门口增设红绿灯和减速带，保障学生上下学安全",
    "建议延长公交线路末班车时间，方便夜间下班的市民出行",
    "建议在社区增设公共充电桩，解决电动车充电难的问题",
    "建议在公园增加健身器材和休息座椅",
];

const DETAILS: &[&str] = &[
    "该问题已持续一个多月",
    "此前已多次向物业和社区反映，但一直没有得到解决",
    "周边居民对此意见很大",
    "涉及住户约两百户",
    "情况较为紧急，存在一定安全隐患",
    "来电人情绪较为激动",
    "来电人表示已拍照留存相关证据",
    "附近还有一所小学和一家幼儿园",
    "每到周末情况更加严重",
];

const ASKS: &[&str] = &[
    "希望相关部门尽快核实处理。",
    "请求有关部门予以协调解决。",
    "希望能尽快给予答复。",
    "恳请尽快安排人员到现场查看。",
    "希望相关部门加强监管，避免类似情况再次发生。",
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
];
const TITLES: &[&str] = &["先生", "女士", "师傅", "阿姨"];
const CHANNELS: &[&str] = &[
    "phone",
    "phone",
    "phone",
    "phone",
    "web",
    "mini_program",
    "mayor_mailbox",
    "qr_code",
];

fn pick<'a, R: Rng>(rng: &mut R, xs: &'a [&'a str]) -> &'a str {
    xs.choose(rng).copied().unwrap_or_default()
}

/// A description of 50–300 characters.
fn content<R: Rng>(rng: &mut R, request_type: &str, address: &str) -> String {
    let target = rng.gen_range(50..=300usize);
    let pool = match request_type {
        "help" => HELP,
        "consultation" => CONSULTATIONS,
        "report" => REPORTS,
        "suggestion" => SUGGESTIONS,
        _ => COMPLAINTS,
    };
    let mut s = String::new();
    s.push_str(pick(rng, OPENERS));
    s.push_str(address);
    s.push('，');
    s.push_str(pick(rng, pool));
    s.push('。');
    let mut n = s.chars().count();
    while n + 20 < target {
        let part = if rng.gen_bool(0.7) {
            pick(rng, DETAILS)
        } else {
            pick(rng, pool)
        };
        s.push_str(part);
        s.push('，');
        s.push_str(pick(rng, DETAILS));
        s.push('。');
        n = s.chars().count();
    }
    s.push_str(pick(rng, ASKS));
    let n = s.chars().count();
    if n > 300 {
        s = s.chars().take(299).collect();
        s.push('。');
    } else if n < 50 {
        while s.chars().count() < 50 {
            s.push_str(pick(rng, ASKS));
        }
    }
    s
}

fn phone<R: Rng>(rng: &mut R) -> String {
    format!(
        "1{}{:09}",
        rng.gen_range(3..=9u8),
        rng.gen_range(0..1_000_000_000u64)
    )
}

/// A hotline description of 50–300 characters about `address`, of a random request type.
pub fn description<R: Rng>(rng: &mut R, address: &str) -> String {
    let request_type = pick(rng, REQUEST_TYPES);
    content(rng, request_type, address)
}

/// A request type as the API names it (complaints most often).
pub fn request_type<R: Rng>(rng: &mut R) -> &'static str {
    pick(rng, REQUEST_TYPES)
}

/// A caller's surname and how the agent addresses them (先生, 女士…).
pub fn caller_name<R: Rng>(rng: &mut R) -> (&'static str, &'static str) {
    (pick(rng, SURNAMES), pick(rng, TITLES))
}

/// A mobile number.
pub fn mobile<R: Rng>(rng: &mut R) -> String {
    phone(rng)
}

/// The fields shared by the API body and the import row.
struct Draft {
    channel: &'static str,
    request_type: &'static str,
    category: String,
    content: String,
    name: Option<String>,
    phone: String,
    address: String,
    region_code: String,
    urgency: &'static str,
    needs_contact: bool,
}

fn draft<R: Rng>(rng: &mut R, refs: &RefData, channel_mix: bool) -> Draft {
    let request_type = pick(rng, REQUEST_TYPES);
    let category = refs
        .leaf_categories
        .choose(rng)
        .cloned()
        .unwrap_or_default();
    let (region_code, place) = match refs.places.choose(rng) {
        Some(p) => (p.code.clone(), p.address.clone()),
        None => (String::new(), String::new()),
    };
    let address = format!("{place}{}号", rng.gen_range(1..=300));
    let content = content(rng, request_type, &address);
    let anonymous = rng.gen_bool(0.05);
    Draft {
        channel: if channel_mix {
            pick(rng, CHANNELS)
        } else {
            "phone"
        },
        request_type,
        category,
        content,
        name: (!anonymous).then(|| format!("{}{}", pick(rng, SURNAMES), pick(rng, TITLES))),
        phone: phone(rng),
        address,
        region_code,
        urgency: if rng.gen_bool(0.03) {
            "urgent"
        } else {
            "normal"
        },
        needs_contact: rng.gen_bool(0.4),
    }
}

/// A `POST /api/orders` body as an agent on the phone would send it.
pub fn create_body<R: Rng>(rng: &mut R, refs: &RefData) -> Value {
    let d = draft(rng, refs, false);
    json!({
        "channel": d.channel,
        "request_type": d.request_type,
        "category": d.category,
        "content": d.content,
        "citizen": {"name": d.name, "phone": d.phone, "anonymous": d.name.is_none()},
        "address": d.address,
        "region_code": d.region_code,
        "urgency": d.urgency,
        "flags": {"needs_contact": d.needs_contact},
    })
}

/// One `jiesu import` JSONL row accepted at `accepted_at` (local time, `YYYY-MM-DD HH:MM:SS`).
pub fn import_row<R: Rng>(
    rng: &mut R,
    refs: &RefData,
    accepted_at: &str,
    external_ref: &str,
) -> Value {
    let d = draft(rng, refs, true);
    json!({
        "channel": d.channel,
        "request_type": d.request_type,
        "category": d.category,
        "content": d.content,
        "citizen_name": d.name,
        "citizen_phone": d.phone,
        "anonymous": d.name.is_none(),
        "address": d.address,
        "region_code": d.region_code,
        "urgency": d.urgency,
        "needs_contact": d.needs_contact,
        "external_ref": external_ref,
        "accepted_at": accepted_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Place;
    use rand::SeedableRng;

    fn refs() -> RefData {
        RefData {
            leaf_categories: vec!["01.01.01".into()],
            category_prefixes: vec!["01".into()],
            districts: vec!["990101".into()],
            places: vec![Place {
                code: "990101001".into(),
                address: "A市A1区某街道".into(),
            }],
            handling_units: vec![2],
        }
    }

    #[test]
    fn contents_are_50_to_300_characters() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for t in REQUEST_TYPES {
            for _ in 0..500 {
                let c = content(&mut rng, t, "A市A1区某街道某小区12号");
                let n = c.chars().count();
                assert!((50..=300).contains(&n), "{n}: {c}");
            }
        }
    }

    #[test]
    fn bodies_carry_the_reference_codes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let b = create_body(&mut rng, &refs());
        assert_eq!(b["category"], "01.01.01");
        assert_eq!(b["region_code"], "990101001");
        assert_eq!(b["channel"], "phone");
        let r = import_row(&mut rng, &refs(), "2026-05-01 09:30:00", "BENCH-1");
        assert_eq!(r["accepted_at"], "2026-05-01 09:30:00");
        assert_eq!(r["external_ref"], "BENCH-1");
    }
}
