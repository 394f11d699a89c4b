//! Staff roles (DOMAIN §1). A user may hold several.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Dispatcher,
    Handler,
    UnitAdmin,
    Callback,
    Supervisor,
    Leader,
    Admin,
    /// The platform itself (scheduler reminders, overdue marks); never given to a person.
    System,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Agent,
        Role::Dispatcher,
        Role::Handler,
        Role::UnitAdmin,
        Role::Callback,
        Role::Supervisor,
        Role::Leader,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Dispatcher => "dispatcher",
            Role::Handler => "handler",
            Role::UnitAdmin => "unit_admin",
            Role::Callback => "callback",
            Role::Supervisor => "supervisor",
            Role::Leader => "leader",
            Role::Admin => "admin",
            Role::System => "system",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Agent => "话务员",
            Role::Dispatcher => "派单员",
            Role::Handler => "承办人",
            Role::UnitAdmin => "单位联络员",
            Role::Callback => "回访员",
            Role::Supervisor => "督办员",
            Role::Leader => "领导",
            Role::Admin => "系统管理员",
            Role::System => "系统",
        }
    }

    /// Roles whose work needs the citizen's contact details in clear: they talk to the citizen.
    pub fn needs_citizen_contact(self) -> bool {
        matches!(self, Role::Agent | Role::Dispatcher | Role::Callback)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("未知角色“{s}”，可选：agent, dispatcher, handler, unit_admin, callback, supervisor, leader, admin"))
    }
}

/// The set of roles a user holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RoleSet(u16);

impl RoleSet {
    pub fn of(roles: &[Role]) -> Self {
        let mut s = RoleSet::default();
        for r in roles {
            s.insert(*r);
        }
        s
    }
    pub fn insert(&mut self, r: Role) {
        self.0 |= 1 << (r as u16);
    }
    pub fn contains(self, r: Role) -> bool {
        self.0 & (1 << (r as u16)) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }
    /// The first of `allowed` this set holds.
    pub fn first_of(self, allowed: &[Role]) -> Option<Role> {
        allowed.iter().copied().find(|r| self.contains(*r))
    }
    /// Comma-separated codes, the storage form.
    pub fn to_csv(self) -> String {
        self.iter().map(Role::as_str).collect::<Vec<_>>().join(",")
    }
    pub fn parse_csv(s: &str) -> Result<Self, String> {
        let mut set = RoleSet::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            set.insert(part.parse()?);
        }
        Ok(set)
    }
}

impl Serialize for RoleSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for RoleSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<Role>::deserialize(d)?;
        Ok(RoleSet::of(&v))
    }
}

/// Which interface an API token may use. A system talks to the one interface it was made for;
/// `api` is the whole JSON API in the token's account's roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Api,
    Open311,
    Transfer,
    Telephony,
    Grid,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::Api,
        Scope::Open311,
        Scope::Transfer,
        Scope::Telephony,
        Scope::Grid,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Api => "api",
            Scope::Open311 => "open311",
            Scope::Transfer => "transfer",
            Scope::Telephony => "telephony",
            Scope::Grid => "grid",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Scope::Api => "业务接口",
            Scope::Open311 => "Open311接口",
            Scope::Transfer => "平台转办（110/公共事业）",
            Scope::Telephony => "话务事件",
            Scope::Grid => "网格平台",
        }
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("未知接口范围“{s}”，可选：api, open311, transfer, telephony, grid")
            })
    }
}

/// The scopes a token holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(u8);

impl ScopeSet {
    pub fn of(scopes: &[Scope]) -> Self {
        ScopeSet(scopes.iter().fold(0, |a, s| a | 1 << (*s as u8)))
    }
    pub fn contains(self, s: Scope) -> bool {
        self.0 & (1 << (s as u8)) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }
    /// Comma-separated codes, the storage form.
    pub fn to_csv(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(",")
    }
    pub fn parse_csv(s: &str) -> Result<Self, String> {
        let v = s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Scope>, _>>()?;
        Ok(ScopeSet::of(&v))
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_sets_round_trip_through_their_storage_form() {
        let s = RoleSet::of(&[Role::Handler, Role::UnitAdmin]);
        assert_eq!(s.to_csv(), "handler,unit_admin");
        assert_eq!(RoleSet::parse_csv("handler, unit_admin").unwrap(), s);
        assert!(RoleSet::parse_csv("handler,boss").is_err());
    }

    #[test]
    fn scope_sets_round_trip_through_their_storage_form() {
        let s = ScopeSet::of(&[Scope::Open311, Scope::Telephony]);
        assert_eq!(s.to_csv(), "open311,telephony");
        assert_eq!(ScopeSet::parse_csv(" open311,telephony ").unwrap(), s);
        assert!(!s.contains(Scope::Api));
        assert!(ScopeSet::parse_csv("open311,all").is_err());
    }
}
