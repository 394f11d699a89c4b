//! The dispatch catalogue (派单目录): which units handle a request of a category in a region,
//! kept by admins and published in versions.
//!
//! A rule names a category (it covers the categories below it), optionally a region (and the
//! regions below it) and keywords (any of them in the request), and the units: one lead
//! (主办) and any co-handlers (协办). A unit is either a fixed unit or "the territorial unit"
//! (属地): the unit serving the request's region, so that "sector authority plus territorial
//! unit" is one rule. The most specific matching rule wins: deeper category, then nearer
//! region, then keywords, then priority, then order in the catalogue.

use crate::order::AssignmentRole;
use crate::{FieldError, UnitId};
use serde::{Deserialize, Serialize};

/// Who a rule sends the order to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RuleTarget {
    Unit {
        unit_id: UnitId,
    },
    /// The unit that serves the order's region (its town or district).
    Territorial,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleUnit {
    #[serde(flatten)]
    pub target: RuleTarget,
    pub role: AssignmentRole,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// A category code; the rule covers it and the codes below it (`01` covers `01.02.03`).
    pub category: String,
    /// A region code; absent: every region.
    #[serde(default)]
    pub region: Option<String>,
    /// The rule applies only when one of these words is in the request; empty: always.
    #[serde(default)]
    pub keywords: Vec<String>,
    pub units: Vec<RuleUnit>,
    /// Between equally specific rules, the higher wins.
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub note: String,
}

/// What the catalogue needs to know of the tenant to check and apply rules.
pub trait CatalogueContext {
    fn category_exists(&self, code: &str) -> bool;
    fn region_exists(&self, code: &str) -> bool;
    fn unit_active(&self, unit: UnitId) -> bool;
}

/// Checked rules: every category, region and unit exists; each rule has exactly one lead and
/// names no unit twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Catalogue {
    rules: Vec<Rule>,
}

const MAX_RULES: usize = 20_000;

fn field(path: String, message: &str) -> FieldError {
    FieldError::new(path, message)
}

impl Catalogue {
    pub fn empty() -> Self {
        Catalogue { rules: Vec::new() }
    }

    /// Rules as stored: trusted, they were checked when published.
    pub fn from_stored(rules: Vec<Rule>) -> Self {
        Catalogue { rules }
    }

    pub fn parse(rules: Vec<Rule>, ctx: &impl CatalogueContext) -> Result<Self, FieldError> {
        if rules.len() > MAX_RULES {
            return Err(field("rules".into(), "派单规则过多（至多 20000 条）"));
        }
        let mut out = Vec::with_capacity(rules.len());
        for (i, mut r) in rules.into_iter().enumerate() {
            let at = |f: &str| format!("rules[{i}].{f}");
            r.category = r.category.trim().to_string();
            if !ctx.category_exists(&r.category) {
                return Err(field(at("category"), "分类不存在"));
            }
            if let Some(region) = &r.region {
                if !ctx.region_exists(region.trim()) {
                    return Err(field(at("region"), "区域不存在"));
                }
                r.region = Some(region.trim().to_string());
            }
            let mut keywords: Vec<String> = Vec::new();
            for (k, w) in r.keywords.iter().enumerate() {
                let w = w.trim();
                if w.is_empty() || w.chars().count() > 20 {
                    return Err(field(
                        at(&format!("keywords[{k}]")),
                        "关键词须为 1 至 20 个字",
                    ));
                }
                if !keywords.iter().any(|x| x == w) {
                    keywords.push(w.to_string());
                }
            }
            r.keywords = keywords;
            if r.units.is_empty() {
                return Err(field(at("units"), "至少指定一个承办单位"));
            }
            let leads = r
                .units
                .iter()
                .filter(|u| u.role == AssignmentRole::Lead)
                .count();
            if leads != 1 {
                return Err(field(at("units"), "须有且只有一个主办单位"));
            }
            for (k, u) in r.units.iter().enumerate() {
                if u.role == AssignmentRole::Sub {
                    return Err(field(at(&format!("units[{k}].role")), "角色须为主办或协办"));
                }
                if let RuleTarget::Unit { unit_id } = u.target
                    && !ctx.unit_active(unit_id)
                {
                    return Err(field(
                        at(&format!("units[{k}].unit_id")),
                        "单位不存在或已停用",
                    ));
                }
                if r.units[..k].iter().any(|o| o.target == u.target) {
                    return Err(field(at(&format!("units[{k}]")), "同一单位重复"));
                }
            }
            if r.note.chars().count() > 200 {
                return Err(field(at("note"), "备注至多 200 字"));
            }
            out.push(r);
        }
        Ok(Catalogue { rules: out })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn into_rules(self) -> Vec<Rule> {
        self.rules
    }

    /// The rule for a request of `category` in the region chain `regions` (the order's region
    /// first, then the regions above it) whose text is `text`; with the index of the rule and
    /// the keyword that made it apply, if any.
    pub fn route(&self, category: &str, regions: &[&str], text: &str) -> Option<Route<'_>> {
        // (specificity: category depth, region nearness, keyword, priority), rule, keyword.
        type Best<'r> = ((usize, usize, bool, i32), usize, Option<&'r str>);
        let mut best: Option<Best<'_>> = None;
        for (i, r) in self.rules.iter().enumerate() {
            let covers = category == r.category
                || category
                    .strip_prefix(r.category.as_str())
                    .is_some_and(|rest| rest.starts_with('.'));
            if !covers {
                continue;
            }
            let category_depth = r.category.split('.').count();
            // Nearer region: a smaller position in the chain is more specific; no region is
            // the least specific.
            let region_rank = match &r.region {
                None => 0,
                Some(code) => match regions.iter().position(|c| c == code) {
                    Some(p) => regions.len() + 1 - p,
                    None => continue,
                },
            };
            let keyword = if r.keywords.is_empty() {
                None
            } else {
                match r.keywords.iter().find(|k| text.contains(k.as_str())) {
                    Some(k) => Some(k.as_str()),
                    None => continue,
                }
            };
            let key = (category_depth, region_rank, keyword.is_some(), r.priority);
            if best.as_ref().is_none_or(|(b, _, _)| key > *b) {
                best = Some((key, i, keyword));
            }
        }
        best.map(|(_, i, keyword)| Route {
            index: i,
            rule: &self.rules[i],
            keyword,
        })
    }
}

/// The rule that applies to a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Route<'a> {
    pub index: usize,
    pub rule: &'a Rule,
    pub keyword: Option<&'a str>,
}

impl Route<'_> {
    /// The units with their roles, lead first; `territorial` gives the unit serving the
    /// order's region. A territorial co-handler is left out when no unit serves the region;
    /// a territorial lead without one gives `None` (the rule cannot route this order).
    pub fn units(
        &self,
        territorial: impl Fn() -> Option<UnitId>,
    ) -> Option<Vec<(UnitId, AssignmentRole)>> {
        let mut out: Vec<(UnitId, AssignmentRole)> = Vec::new();
        let mut ordered: Vec<&RuleUnit> = self.rule.units.iter().collect();
        ordered.sort_by_key(|u| u.role != AssignmentRole::Lead);
        for u in ordered {
            let unit = match u.target {
                RuleTarget::Unit { unit_id } => Some(unit_id),
                RuleTarget::Territorial => territorial(),
            };
            match unit {
                Some(id) if !out.iter().any(|(o, _)| *o == id) => out.push((id, u.role)),
                Some(_) => {}
                None if u.role == AssignmentRole::Lead => return None,
                None => {}
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ctx;
    impl CatalogueContext for Ctx {
        fn category_exists(&self, code: &str) -> bool {
            ["01", "01.02", "01.02.03", "02"].contains(&code)
        }
        fn region_exists(&self, code: &str) -> bool {
            ["9901", "990101", "990101001"].contains(&code)
        }
        fn unit_active(&self, unit: UnitId) -> bool {
            (1..=9).contains(&unit.0)
        }
    }

    fn unit(id: i64, role: AssignmentRole) -> RuleUnit {
        RuleUnit {
            target: RuleTarget::Unit {
                unit_id: UnitId(id),
            },
            role,
        }
    }

    fn rule(category: &str, region: Option<&str>, keywords: &[&str], units: Vec<RuleUnit>) -> Rule {
        Rule {
            category: category.into(),
            region: region.map(Into::into),
            keywords: keywords.iter().map(|s| s.to_string()).collect(),
            units,
            priority: 0,
            note: String::new(),
        }
    }

    fn catalogue() -> Catalogue {
        Catalogue::parse(
            vec![
                rule("01", None, &[], vec![unit(1, AssignmentRole::Lead)]),
                rule("01.02", None, &[], vec![unit(2, AssignmentRole::Lead)]),
                rule(
                    "01.02",
                    Some("990101"),
                    &[],
                    vec![
                        unit(2, AssignmentRole::Lead),
                        RuleUnit {
                            target: RuleTarget::Territorial,
                            role: AssignmentRole::Co,
                        },
                    ],
                ),
                rule(
                    "01.02",
                    Some("990101"),
                    &["燃气"],
                    vec![unit(3, AssignmentRole::Lead)],
                ),
            ],
            &Ctx,
        )
        .unwrap()
    }

    #[test]
    fn the_most_specific_rule_wins() {
        let c = catalogue();
        let chain = ["990101001", "990101", "9901"];
        // Category only.
        assert_eq!(c.route("01.05", &chain, "").unwrap().index, 0);
        // A deeper category.
        assert_eq!(c.route("01.02.03", &["9902"], "").unwrap().index, 1);
        // The region (an ancestor of the order's region) beats no region.
        assert_eq!(c.route("01.02.03", &chain, "路灯坏了").unwrap().index, 2);
        // A keyword beats no keyword.
        let r = c.route("01.02.03", &chain, "燃气管道漏气").unwrap();
        assert_eq!((r.index, r.keyword), (3, Some("燃气")));
        // "01" does not cover "010".
        assert!(c.route("02", &chain, "").is_none());
    }

    #[test]
    fn the_territorial_unit_is_the_regions_unit() {
        let c = catalogue();
        let r = c.route("01.02", &["990101001", "990101"], "").unwrap();
        assert_eq!(
            r.units(|| Some(UnitId(7))).unwrap(),
            [
                (UnitId(2), AssignmentRole::Lead),
                (UnitId(7), AssignmentRole::Co)
            ]
        );
        // No unit for the region: the co-handler is left out.
        assert_eq!(
            r.units(|| None).unwrap(),
            [(UnitId(2), AssignmentRole::Lead)]
        );
        let territorial_lead = Rule {
            units: vec![RuleUnit {
                target: RuleTarget::Territorial,
                role: AssignmentRole::Lead,
            }],
            ..rule("02", None, &[], vec![])
        };
        let c = Catalogue::parse(vec![territorial_lead], &Ctx).unwrap();
        assert!(c.route("02", &[], "").unwrap().units(|| None).is_none());
    }

    #[test]
    fn bad_rules_name_the_field() {
        let bad = |r: Rule| Catalogue::parse(vec![r], &Ctx).unwrap_err().field;
        assert_eq!(
            bad(rule("09", None, &[], vec![unit(1, AssignmentRole::Lead)])),
            "rules[0].category"
        );
        assert_eq!(
            bad(rule(
                "01",
                Some("1234"),
                &[],
                vec![unit(1, AssignmentRole::Lead)]
            )),
            "rules[0].region"
        );
        assert_eq!(bad(rule("01", None, &[], vec![])), "rules[0].units");
        assert_eq!(
            bad(rule("01", None, &[], vec![unit(1, AssignmentRole::Co)])),
            "rules[0].units"
        );
        assert_eq!(
            bad(rule(
                "01",
                None,
                &[],
                vec![unit(1, AssignmentRole::Lead), unit(1, AssignmentRole::Co)]
            )),
            "rules[0].units[1]"
        );
        assert_eq!(
            bad(rule("01", None, &[], vec![unit(99, AssignmentRole::Lead)])),
            "rules[0].units[0].unit_id"
        );
        assert_eq!(
            bad(rule(
                "01",
                None,
                &[" "],
                vec![unit(1, AssignmentRole::Lead)]
            )),
            "rules[0].keywords[0]"
        );
    }

    #[test]
    fn rules_round_trip_through_json() {
        let c = catalogue();
        let json = serde_json::to_string(c.rules()).unwrap();
        assert!(json.contains(r#""kind":"territorial""#), "{json}");
        let back: Vec<Rule> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c.rules());
    }
}
