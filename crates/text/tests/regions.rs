#![allow(clippy::unwrap_used)]
//! Region resolution on real division names: Changsha (长沙市, 4301) from
//! `../shared/data/divisions` (its districts and counties, towns and streets, 2023 edition),
//! with addresses as citizens write them. Skipped, with a message, where the data is absent.

use jiesu_text::regions::{Place, RegionResolver};
use std::path::PathBuf;

fn changsha() -> Option<RegionResolver> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/divisions");
    let (Ok(areas), Ok(streets)) = (
        std::fs::read_to_string(dir.join("areas.csv")),
        std::fs::read_to_string(dir.join("streets.csv")),
    ) else {
        eprintln!(
            "SKIPPED: {} is absent (shared reference data)",
            dir.display()
        );
        return None;
    };
    let mut places = vec![Place {
        code: "430100".into(),
        name: "长沙市".into(),
        parent: None,
    }];
    let field = |l: &str, i: usize| l.split(',').nth(i).unwrap().trim_matches('"').to_string();
    for l in areas.lines().skip(1).filter(|l| l.contains(",4301,")) {
        places.push(Place {
            code: field(l, 0),
            name: field(l, 1),
            parent: Some("430100".into()),
        });
    }
    for l in streets.lines().skip(1).filter(|l| l.ends_with(",4301")) {
        places.push(Place {
            code: field(l, 0),
            name: field(l, 1),
            parent: Some(field(l, 2)),
        });
    }
    assert!(places.len() > 150, "{}", places.len());
    Some(RegionResolver::new(places, &[]))
}

#[test]
fn addresses_as_citizens_write_them_resolve_to_their_street() {
    let Some(r) = changsha() else { return };
    for (address, content, want) in [
        ("长沙市雨花区洞井街道鄱阳村", "", "430111008"),
        ("岳麓区梅溪湖金茂悦小区", "", "430104010"),
        (
            "",
            "我是长沙县星沙街道的居民，小区门口的路灯坏了",
            "430121001",
        ),
        ("长沙县高桥镇", "", "430121109"),
        ("雨花区高桥大市场", "", "430111007"),
        ("芙蓉区", "", "430102"),
        ("", "浏阳市大瑶镇花炮厂噪音", "430181"),
    ] {
        let got = r.resolve(address, content);
        let code = got.as_ref().map(|g| g.code.as_str());
        assert!(
            code.is_some_and(|c| c.starts_with(want)),
            "{address}{content}: {got:?}"
        );
    }
    // 高桥 alone: a street in 雨花区 and a town in 长沙县; the city is all that is sure.
    let g = r.resolve("高桥", "").unwrap();
    assert_eq!(g.code, "430100");
    assert_eq!(g.ambiguous.len(), 2, "{g:?}");
}
