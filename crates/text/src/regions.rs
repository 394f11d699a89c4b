//! Region from text: which administrative division (district, town or street, community) an
//! address or a request is about.
//!
//! Every place is known by its full name ("梅溪湖街道") and, where the rest is still a name,
//! by its name without the administrative suffix ("梅溪湖"); units of the organisation tree
//! add their names for their region ("洞井街道办事处"). All names are found at once in the
//! text; a candidate place is scored by the names found along its chain (itself, its town,
//! its district), so that "雨花区洞井街道" settles which of two "洞井" is meant, and a name
//! in the address counts more than one in the free text.

use aho_corasick::{AhoCorasick, MatchKind};
use std::collections::HashMap;

/// A division as the tenant has it: code, name, parent.
#[derive(Debug, Clone)]
pub struct Place {
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
}

/// Suffixes that make a name a division's name; longest first.
const SUFFIXES: &[&str] = &[
    "街道办事处",
    "街道办",
    "居委会",
    "村委会",
    "自治县",
    "开发区",
    "新区",
    "街道",
    "社区",
    "地区",
    "林区",
    "矿区",
    "特区",
    "镇",
    "乡",
    "村",
    "区",
    "县",
    "市",
    "旗",
];

/// Short names that are everyday words rather than places.
const NOT_PLACES: &[&str] = &[
    "城郊", "城关", "新城", "中心", "开发", "工业", "建设", "人民", "东风", "光明", "胜利", "新华",
    "长安", "朝阳", "红星", "友谊", "和平",
];

const FULL: f32 = 1.0;
const SHORT: f32 = 0.6;
/// A name in the address field counts this much more than one in the free text.
const ADDRESS: f32 = 1.5;

/// One name found in the text, for the place it names.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub word: String,
    pub code: String,
}

/// The place a text is about, from the country down as far as the text tells.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub code: String,
    /// Codes and names from the top of the tree down to `code`.
    pub path: Vec<(String, String)>,
    /// The names found that support it.
    pub words: Vec<Found>,
    /// When the text names two places equally well (two "湘湖社区"), `code` is the nearest
    /// place above both and these are the candidates.
    pub ambiguous: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RegionResolver {
    places: Vec<Place>,
    parent: Vec<Option<usize>>,
    depth: Vec<usize>,
    automaton: Option<AhoCorasick>,
    /// Per pattern: (place, weight).
    targets: Vec<Vec<(usize, f32)>>,
}

/// `name` without its administrative suffix, when what is left is still a name.
fn short_name(name: &str) -> Option<&str> {
    let s = SUFFIXES.iter().find_map(|s| name.strip_suffix(s))?;
    (s.chars().count() >= 2 && !NOT_PLACES.contains(&s)).then_some(s)
}

impl RegionResolver {
    /// `places`: the tenant's divisions (parents need not come first); `units`: names of
    /// organisation units with the region each serves.
    pub fn new(places: Vec<Place>, units: &[(String, String)]) -> Self {
        let index: HashMap<&str, usize> = places
            .iter()
            .enumerate()
            .map(|(i, p)| (p.code.as_str(), i))
            .collect();
        let parent: Vec<Option<usize>> = places
            .iter()
            .map(|p| p.parent.as_deref().and_then(|c| index.get(c).copied()))
            .collect();
        let depth: Vec<usize> = (0..places.len())
            .map(|i| {
                let mut d = 0;
                let mut at = parent[i];
                while let Some(p) = at {
                    d += 1;
                    at = parent[p];
                    if d > 16 {
                        break;
                    }
                }
                d
            })
            .collect();
        let mut names: HashMap<String, Vec<(usize, f32)>> = HashMap::new();
        let mut add = |name: &str, place: usize, weight: f32| {
            let name = crate::analyzer::fold(name.trim());
            if name.chars().count() < 2 {
                return;
            }
            let v = names.entry(name).or_default();
            match v.iter_mut().find(|(p, _)| *p == place) {
                Some(t) => t.1 = t.1.max(weight),
                None => v.push((place, weight)),
            }
        };
        for (i, p) in places.iter().enumerate() {
            add(&p.name, i, FULL);
            if let Some(s) = short_name(&p.name) {
                add(s, i, SHORT);
            }
        }
        for (name, code) in units {
            if let Some(&i) = index.get(code.as_str()) {
                add(name, i, FULL);
            }
        }
        let (patterns, targets): (Vec<String>, Vec<Vec<(usize, f32)>>) = names.into_iter().unzip();
        // Longest names first where they overlap: "洞井街道" over "洞井".
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .ok();
        RegionResolver {
            places,
            parent,
            depth,
            automaton,
            targets,
        }
    }

    fn chain(&self, mut i: usize) -> Vec<usize> {
        let mut out = vec![i];
        while let Some(p) = self.parent[i] {
            out.push(p);
            i = p;
            if out.len() > 16 {
                break;
            }
        }
        out
    }

    /// The place `address` and `content` are about, if they name any.
    pub fn resolve(&self, address: &str, content: &str) -> Option<Resolved> {
        let ac = self.automaton.as_ref()?;
        // Per place: the best weight of a name found for it, and the words.
        let mut seen: HashMap<usize, (f32, Vec<String>)> = HashMap::new();
        for (text, factor) in [(address, ADDRESS), (content, 1.0)] {
            let folded = crate::analyzer::fold(text);
            for m in ac.find_iter(&folded) {
                let word = &folded[m.start()..m.end()];
                for &(place, weight) in &self.targets[m.pattern().as_usize()] {
                    let e = seen.entry(place).or_insert((0.0, Vec::new()));
                    e.0 = e.0.max(weight * factor);
                    if !e.1.iter().any(|w| w == word) {
                        e.1.push(word.to_string());
                    }
                }
            }
        }
        if seen.is_empty() {
            return None;
        }
        let support = |i: usize| -> f32 {
            self.chain(i)
                .iter()
                .filter_map(|a| seen.get(a).map(|s| s.0))
                .sum()
        };
        let mut scored: Vec<(f32, usize, usize)> = seen
            .keys()
            .map(|&i| (support(i), self.depth[i], i))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        let (best_score, best_depth, best) = scored[0];
        // Equally good places that are not on one chain: go up to where they meet.
        let rivals: Vec<usize> = scored
            .iter()
            .filter(|(s, d, i)| {
                (*s - best_score).abs() < 1e-6
                    && *d == best_depth
                    && *i != best
                    && !self.chain(*i).contains(&best)
            })
            .map(|(_, _, i)| *i)
            .collect();
        let mut chosen = best;
        let mut ambiguous = Vec::new();
        if !rivals.is_empty() {
            let mut common = self.chain(best);
            for &r in &rivals {
                let c = self.chain(r);
                common.retain(|a| c.contains(a));
            }
            ambiguous = std::iter::once(best)
                .chain(rivals.iter().copied())
                .map(|i| self.places[i].code.clone())
                .collect();
            // Places in two separate trees have nothing in common to name.
            chosen = *common.first()?;
        }
        let chain = self.chain(chosen);
        let mut words = Vec::new();
        for &a in chain.iter().rev() {
            if let Some((_, ws)) = seen.get(&a) {
                for w in ws {
                    words.push(Found {
                        word: w.clone(),
                        code: self.places[a].code.clone(),
                    });
                }
            }
        }
        if !ambiguous.is_empty() {
            for &i in std::iter::once(&best).chain(&rivals) {
                if let Some((_, ws)) = seen.get(&i) {
                    for w in ws {
                        if !words.iter().any(|f| &f.word == w) {
                            words.push(Found {
                                word: w.clone(),
                                code: self.places[i].code.clone(),
                            });
                        }
                    }
                }
            }
        }
        Some(Resolved {
            code: self.places[chosen].code.clone(),
            path: chain
                .iter()
                .rev()
                .map(|&a| (self.places[a].code.clone(), self.places[a].name.clone()))
                .collect(),
            words,
            ambiguous,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(code: &str, name: &str, parent: Option<&str>) -> Place {
        Place {
            code: code.into(),
            name: name.into(),
            parent: parent.map(Into::into),
        }
    }

    fn city() -> RegionResolver {
        RegionResolver::new(
            vec![
                place("9901", "A市", None),
                place("990101", "A1区", Some("9901")),
                place("990104", "A4区", Some("9901")),
                place("990101001", "东风街道", Some("990101")),
                place("990101001001", "湘湖社区", Some("990101001")),
                place("990104002", "东兴园街道", Some("990104")),
                place("990104002001", "湘湖社区", Some("990104002")),
            ],
            &[("东兴园街道办事处".to_string(), "990104002".to_string())],
        )
    }

    #[test]
    fn a_chain_of_names_settles_the_place() {
        let r = city().resolve("A4区湘湖社区3栋", "").unwrap();
        assert_eq!(r.code, "990104002001");
        assert_eq!(
            r.path.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(),
            ["A市", "A4区", "东兴园街道", "湘湖社区"]
        );
        let words: Vec<&str> = r.words.iter().map(|f| f.word.as_str()).collect();
        assert_eq!(words, ["a4区", "湘湖社区"]);
        assert!(r.ambiguous.is_empty());
    }

    #[test]
    fn two_places_of_one_name_go_up_to_where_they_meet() {
        let r = city().resolve("湘湖社区", "").unwrap();
        assert_eq!(r.code, "9901");
        assert_eq!(r.ambiguous, ["990101001001", "990104002001"]);
    }

    #[test]
    fn short_names_unit_names_and_the_address_first() {
        let c = city();
        // "东兴园" without its suffix.
        assert_eq!(
            c.resolve("", "东兴园附近一家饭店油烟大").unwrap().code,
            "990104002"
        );
        assert_eq!(
            c.resolve("东兴园街道办事处旁", "").unwrap().code,
            "990104002"
        );
        // The address names one place, the content another: the address wins.
        let r = c.resolve("东风街道", "我原来住在东兴园街道").unwrap();
        assert_eq!(r.code, "990101001");
        // Everyday words are not taken for short names ("东风" of 东风街道).
        assert!(c.resolve("", "东风吹来一阵臭味").is_none());
        assert!(c.resolve("", "没有地名的诉求").is_none());
    }
}
