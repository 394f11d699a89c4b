//! The organisation tree of one tenant (DOMAIN §1): city centre → district centres and
//! departments → towns/streets → communities → grid cells.

use crate::ids::UnitId;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// 市12345中心: the root of a tenant's tree.
    CityCentre,
    /// 区县热线机构: dispatches again within its district (二级派单).
    DistrictCentre,
    /// 职能部门
    Department,
    /// 乡镇/街道
    Town,
    /// 村/社区
    Community,
    /// 网格
    Grid,
}

impl UnitKind {
    pub const ALL: [UnitKind; 6] = [
        UnitKind::CityCentre,
        UnitKind::DistrictCentre,
        UnitKind::Department,
        UnitKind::Town,
        UnitKind::Community,
        UnitKind::Grid,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::CityCentre => "city_centre",
            UnitKind::DistrictCentre => "district_centre",
            UnitKind::Department => "department",
            UnitKind::Town => "town",
            UnitKind::Community => "community",
            UnitKind::Grid => "grid",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            UnitKind::CityCentre => "市级中心",
            UnitKind::DistrictCentre => "区县中心",
            UnitKind::Department => "职能部门",
            UnitKind::Town => "乡镇街道",
            UnitKind::Community => "村社区",
            UnitKind::Grid => "网格",
        }
    }
    /// Centres review and dispatch; other units handle.
    pub fn is_centre(self) -> bool {
        matches!(self, UnitKind::CityCentre | UnitKind::DistrictCentre)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub id: UnitId,
    pub parent_id: Option<UnitId>,
    pub kind: UnitKind,
    pub name: String,
    pub region_code: Option<String>,
    pub active: bool,
}

/// An immutable snapshot of a tenant's organisation tree.
#[derive(Debug, Clone, Default)]
pub struct OrgTree {
    units: HashMap<UnitId, Unit>,
    children: HashMap<UnitId, Vec<UnitId>>,
}

impl OrgTree {
    pub fn new(units: impl IntoIterator<Item = Unit>) -> Self {
        let mut tree = OrgTree::default();
        for u in units {
            if let Some(p) = u.parent_id {
                tree.children.entry(p).or_default().push(u.id);
            }
            tree.units.insert(u.id, u);
        }
        for c in tree.children.values_mut() {
            c.sort();
        }
        tree
    }

    pub fn get(&self, id: UnitId) -> Option<&Unit> {
        self.units.get(&id)
    }

    pub fn units(&self) -> impl Iterator<Item = &Unit> {
        self.units.values()
    }

    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    pub fn name(&self, id: UnitId) -> &str {
        self.get(id).map(|u| u.name.as_str()).unwrap_or("未知单位")
    }

    /// Ancestors from the parent up to the root (excluding `id`). Stops on a cycle.
    pub fn ancestors(&self, id: UnitId) -> Vec<UnitId> {
        let mut out = Vec::new();
        let mut cur = self.get(id).and_then(|u| u.parent_id);
        while let Some(p) = cur {
            if out.contains(&p) || p == id {
                break;
            }
            out.push(p);
            cur = self.get(p).and_then(|u| u.parent_id);
        }
        out
    }

    /// True when `id` is `ancestor` or lies below it.
    pub fn is_within(&self, id: UnitId, ancestor: UnitId) -> bool {
        id == ancestor || self.ancestors(id).contains(&ancestor)
    }

    /// `id` and every unit below it.
    pub fn subtree(&self, id: UnitId) -> Vec<UnitId> {
        let mut out = vec![id];
        let mut i = 0;
        while i < out.len() {
            if let Some(c) = self.children.get(&out[i]) {
                for child in c {
                    if !out.contains(child) {
                        out.push(*child);
                    }
                }
            }
            i += 1;
        }
        out
    }

    pub fn children(&self, id: UnitId) -> &[UnitId] {
        self.children.get(&id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The nearest centre at or above `id`: where orders accepted by its staff are reviewed.
    pub fn centre_of(&self, id: UnitId) -> Option<UnitId> {
        std::iter::once(id)
            .chain(self.ancestors(id))
            .find(|u| self.get(*u).is_some_and(|u| u.kind.is_centre()))
    }

    /// The root city centre.
    pub fn root(&self) -> Option<UnitId> {
        let mut roots: Vec<_> = self
            .units
            .values()
            .filter(|u| u.parent_id.is_none())
            .map(|u| u.id)
            .collect();
        roots.sort();
        roots.first().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: i64, parent: Option<i64>, kind: UnitKind) -> Unit {
        Unit {
            id: UnitId(id),
            parent_id: parent.map(UnitId),
            kind,
            name: format!("u{id}"),
            region_code: None,
            active: true,
        }
    }

    #[test]
    fn subtree_and_ancestry_follow_the_parent_links() {
        let t = OrgTree::new([
            unit(1, None, UnitKind::CityCentre),
            unit(2, Some(1), UnitKind::DistrictCentre),
            unit(3, Some(2), UnitKind::Town),
            unit(4, Some(3), UnitKind::Community),
            unit(5, Some(1), UnitKind::Department),
        ]);
        assert_eq!(t.subtree(UnitId(2)), vec![UnitId(2), UnitId(3), UnitId(4)]);
        assert!(t.is_within(UnitId(4), UnitId(2)));
        assert!(!t.is_within(UnitId(5), UnitId(2)));
        assert_eq!(t.centre_of(UnitId(4)), Some(UnitId(2)));
        assert_eq!(t.centre_of(UnitId(5)), Some(UnitId(1)));
        assert_eq!(t.root(), Some(UnitId(1)));
    }
}
