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
    disclosure_of(
        order.flags.confidential,
        order.flags.needs_contact,
        roles,
        centre_staff,
    )
}

/// [`disclosure`] from the order's two flags that decide it: confidential (保密), and whether
/// its handling units need to contact the citizen.
pub fn disclosure_of(
    confidential: bool,
    needs_contact: bool,
    roles: RoleSet,
    centre_staff: bool,
) -> Disclosure {
    let talks_to_citizens = roles.iter().any(Role::needs_citizen_contact);
    if centre_staff && talks_to_citizens {
        return Disclosure::Full;
    }
    if confidential {
        return Disclosure::Hidden;
    }
    let handles = roles.contains(Role::Handler) || roles.contains(Role::UnitAdmin);
    if handles && needs_contact && !centre_staff {
        return Disclosure::Full;
    }
    Disclosure::Masked
}

/// The citizen's name masked (`张*`), as a masked view shows it.
pub fn masked_name(c: &Citizen) -> Option<String> {
    c.name.as_deref().map(mask_name)
}

/// The citizen's name in a list of orders: never more than masked (a list is no reason to
/// read personal data, and reading it in clear is logged per order), nothing where the order's
/// citizen is hidden from the viewer. `masked_name` is the name masked (`张*`).
pub fn listed_name(
    masked_name: Option<&str>,
    confidential: bool,
    roles: RoleSet,
    centre_staff: bool,
) -> Option<String> {
    // Whether units need contact decides only between full and masked, the same in a list.
    match disclosure_of(confidential, false, roles, centre_staff) {
        Disclosure::Hidden => None,
        Disclosure::Full | Disclosure::Masked => masked_name.map(str::to_string),
    }
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
                name: masked_name(c),
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

#[cfg(test)]
mod listed_tests {
    use super::{Disclosure, disclosure_of, listed_name};
    use crate::role::{Role, RoleSet};

    /// A list shows what the order's page shows at most masked, for every set of roles (each
    /// role alone and every pair), both flags and both kinds of viewer.
    #[test]
    fn a_list_shows_the_name_as_the_order_would_at_most_masked() {
        let mut sets: Vec<RoleSet> = Role::ALL.iter().map(|r| RoleSet::of(&[*r])).collect();
        for a in Role::ALL {
            for b in Role::ALL {
                sets.push(RoleSet::of(&[a, b]));
            }
        }
        let mut hidden = 0;
        for roles in sets {
            for confidential in [false, true] {
                for needs_contact in [false, true] {
                    for centre_staff in [false, true] {
                        let want =
                            match disclosure_of(confidential, needs_contact, roles, centre_staff) {
                                Disclosure::Hidden => None,
                                Disclosure::Full | Disclosure::Masked => Some("张*".to_string()),
                            };
                        hidden += usize::from(want.is_none());
                        assert_eq!(
                            listed_name(Some("张*"), confidential, roles, centre_staff),
                            want,
                            "{roles:?} confidential {confidential} contact {needs_contact} centre {centre_staff}"
                        );
                    }
                }
            }
        }
        assert!(
            hidden > 0,
            "some viewers must not see a confidential order's citizen"
        );
        assert_eq!(
            listed_name(None, false, RoleSet::of(&[Role::Agent]), true),
            None
        );
    }
}
