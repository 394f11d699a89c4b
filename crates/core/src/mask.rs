//! Who sees a citizen's identity (personal data, PIPL): staff who talk to the citizen see it;
//! handling units see it masked unless the order needs them to make contact; on confidential
//! (保密) orders it is hidden from everyone outside the centre.

use crate::order::{Citizen, Order};
use crate::role::{Role, RoleSet};
use crate::values::mask_name;
use serde::Serialize;

/// How much of the citizen a viewer gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disclosure {
    /// Name, phone and ID in clear; the read is logged.
    Full,
    /// Recognisable but not usable: `张*`, `138****8000`, ID hidden.
    Masked,
    /// Nothing at all.
    Hidden,
}

/// What `roles` at a unit inside or outside the reviewing centre may see of this order's citizen.
/// `centre_staff` means the viewer works at the centre that reviews the order (or above it).
pub fn disclosure(order: &Order, roles: RoleSet, centre_staff: bool) -> Disclosure {
    let talks_to_citizens = roles.iter().any(Role::needs_citizen_contact);
    if centre_staff && talks_to_citizens {
        return Disclosure::Full;
    }
    if order.flags.confidential {
        return Disclosure::Hidden;
    }
    let handles = roles.contains(Role::Handler) || roles.contains(Role::UnitAdmin);
    if handles && order.flags.needs_contact && !centre_staff {
        return Disclosure::Full;
    }
    Disclosure::Masked
}

/// The citizen as one viewer sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CitizenView {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub id_number: Option<String>,
    pub anonymous: bool,
    pub disclosure: Disclosure,
}

impl CitizenView {
    pub fn of(c: &Citizen, d: Disclosure) -> Self {
        match d {
            Disclosure::Full => CitizenView {
                name: c.name.clone(),
                phone: c.phone.as_ref().map(|p| p.as_str().to_string()),
                id_number: c.id_number.clone(),
                anonymous: c.anonymous,
                disclosure: d,
            },
            Disclosure::Masked => CitizenView {
                name: c.name.as_deref().map(mask_name),
                phone: c.phone.as_ref().map(|p| p.masked()),
                id_number: None,
                anonymous: c.anonymous,
                disclosure: d,
            },
            Disclosure::Hidden => CitizenView {
                name: None,
                phone: None,
                id_number: None,
                anonymous: c.anonymous,
                disclosure: d,
            },
        }
    }

    /// Whether this view shows personal data in clear (a read that must be logged).
    pub fn reveals_personal_data(&self) -> bool {
        self.disclosure == Disclosure::Full
            && (self.name.is_some() || self.phone.is_some() || self.id_number.is_some())
    }
}

/// Free text fit for publication: every run of seven or more digits (a phone or ID number a
/// citizen wrote into the request, including an ID's final `X`) keeps its first three and last
/// two characters and is starred in between.
pub fn redact_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        if i < chars.len() && i > start && matches!(chars[i], 'X' | 'x') {
            i += 1;
        }
        let run = &chars[start..i];
        if run.len() >= 7 {
            out.extend(&run[..3]);
            out.extend(std::iter::repeat_n('*', run.len() - 5));
            out.extend(&run[run.len() - 2..]);
        } else {
            out.extend(run);
        }
        if i == start {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod redact_tests {
    use super::redact_numbers;

    #[test]
    fn numbers_written_into_a_request_are_starred_for_publication() {
        assert_eq!(
            redact_numbers("请回电13800138000，谢谢"),
            "请回电138******00，谢谢"
        );
        assert_eq!(
            redact_numbers("身份证11010519491231002X丢失"),
            "身份证110*************2X丢失"
        );
        assert_eq!(
            redact_numbers("3号楼12单元，2026年5月"),
            "3号楼12单元，2026年5月"
        );
        assert_eq!(redact_numbers("电话 0477-8581234"), "电话 0477-858**34");
    }
}
