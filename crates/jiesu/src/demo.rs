//! The demo city: the anonymised "A市" of the real citizen messages, with district centres,
//! towns/streets, communities, grid cells and city departments, one login per role, and the
//! real messages as work orders in every state over the last twelve months. Everything it uses
//! ships in `crates/jiesu/demo/` (built by `tools/make_demo_data.py`).

use crate::app::admin::UserInput;
use crate::app::{App, Principal};
use crate::config::Config;
use anyhow::{Context, bail};
use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Timelike, Utc};
use jiesu_core::calendar::china_offset;
use jiesu_core::order::*;
use jiesu_core::org::{OrgTree, UnitKind};
use jiesu_core::role::{Role, RoleSet, Scope, ScopeSet};
use jiesu_core::values::{CategoryCode, Phone, RegionCode};
use jiesu_core::{OrderId, TenantId, UnitId, UserId};
use jiesu_store::catalog::{Category, Region};
use jiesu_store::org::UnitInput;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

const CITY_JSON: &str = include_str!("../demo/city.json");
const CATEGORIES_JSONL: &str = include_str!("../demo/categories.jsonl");
/// Keywords of the shipped top-level categories (written from the categories' remit, not
/// mined from any test data); admins extend them per category.
const CATEGORY_KEYWORDS_JSON: &str = include_str!("../demo/category-keywords.json");
const MESSAGES_GZ: &[u8] = include_bytes!("../demo/messages.jsonl.gz");

pub const DEMO_TENANT: &str = "demo";
/// The demo city's Open311 `api_key`.
pub const DEMO_OPEN311_KEY: &str = "jiesu-demo";
pub const DEMO_PASSWORD: &str = "jiesu-demo";

#[derive(Deserialize)]
struct City {
    name: String,
    code: String,
    districts: Vec<District>,
    departments: Vec<Department>,
}

#[derive(Deserialize)]
struct District {
    name: String,
    code: String,
    towns: Vec<Town>,
}

#[derive(Deserialize)]
struct Town {
    name: String,
    code: String,
    communities: Vec<Community>,
}

#[derive(Deserialize)]
struct Community {
    name: String,
    code: String,
}

#[derive(Deserialize)]
struct Department {
    name: String,
    categories: Vec<String>,
}

#[derive(Deserialize)]
struct CategoryRow {
    level1: String,
    level2: String,
    level3: String,
}

#[derive(Deserialize)]
struct Message {
    title: String,
    content: String,
    time: String,
    category: [String; 3],
    #[serde(rename = "type")]
    request_type: String,
    district: Option<String>,
    town: Option<String>,
    reply: Option<String>,
}

/// The shipped category tree with codes `01`, `01.02`, `01.02.03`, parents first.
pub fn default_categories() -> anyhow::Result<Vec<Category>> {
    let mut keywords: HashMap<String, Vec<String>> = serde_json::from_str(CATEGORY_KEYWORDS_JSON)?;
    let mut out: Vec<Category> = Vec::new();
    let mut codes: HashMap<Vec<String>, String> = HashMap::new();
    for line in CATEGORIES_JSONL.lines().filter(|l| !l.trim().is_empty()) {
        let r: CategoryRow = serde_json::from_str(line)?;
        let path = [r.level1, r.level2, r.level3];
        for depth in 1..=3 {
            let key: Vec<String> = path[..depth].to_vec();
            if codes.contains_key(&key) {
                continue;
            }
            let parent = (depth > 1).then(|| codes[&path[..depth - 1].to_vec()].clone());
            let siblings = out.iter().filter(|c| c.parent_code == parent).count();
            let code = match &parent {
                None => format!("{:02}", siblings + 1),
                Some(p) => format!("{p}.{:02}", siblings + 1),
            };
            codes.insert(key, code.clone());
            out.push(Category {
                code,
                parent_code: parent,
                name: path[depth - 1].clone(),
                level: depth as i32,
                active: true,
                keywords: if depth == 1 {
                    keywords.remove(&path[0]).unwrap_or_default()
                } else {
                    Vec::new()
                },
            });
        }
    }
    Ok(out)
}

/// A tenant with its city centre, the default category tree and a first administrator.
pub async fn create_tenant(
    app: &App,
    code: &str,
    name: &str,
    admin: &str,
    password: &str,
) -> anyhow::Result<TenantId> {
    crate::app::auth::check_password_policy(password)
        .map_err(|e| anyhow::anyhow!("admin password: {e}"))?;
    let t = app.store.create_tenant(code, name).await?;
    let root = app
        .store
        .create_unit(
            t.id,
            &UnitInput {
                parent_id: None,
                kind: UnitKind::CityCentre,
                name: name.to_string(),
                region_code: None,
                active: true,
            },
        )
        .await?;
    app.store
        .insert_categories(t.id, &default_categories()?)
        .await?;
    app.add_user(
        t.id,
        UserInput {
            username: admin.into(),
            display_name: "系统管理员".into(),
            password: Some(password.into()),
            unit_id: root,
            roles: RoleSet::of(&[Role::Admin]),
            system_account: false,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(t.id)
}

fn logins(config: &Config) -> String {
    let mut s = String::from("\nJiesu demo city: A市12345政务服务便民热线\n");
    s.push_str(&format!("  open   http://{}/\n", config.listen));
    s.push_str(&format!("  logins (password for all: {DEMO_PASSWORD})\n"));
    for (u, what) in [
        ("admin", "系统管理员 · 组织、用户、分类"),
        ("agent", "话务员 · 受理、即答"),
        ("dispatcher", "派单员 · 审核、派单、核验、延期审批"),
        ("handler", "承办人 · 市住房和城乡建设局"),
        ("unit_admin", "单位联络员 · 市住房和城乡建设局"),
        ("callback", "回访员 · 回访"),
        ("supervisor", "督办员 · 督办"),
        ("leader", "领导 · 驾驶舱（只读）"),
    ] {
        s.push_str(&format!("    {u:<11} {what}\n"));
    }
    s.push('\n');
    s
}

/// Builds the demo in `config`'s database unless it is there already; returns the logins text.
pub async fn prepare(config: &Config, reset: bool) -> anyhow::Result<String> {
    if config.listen_addr()?.ip().is_unspecified() {
        eprintln!("warning: the demo has well-known passwords; it is listening on all interfaces");
    }
    let url = config.database_url();
    if reset && url.starts_with("sqlite:") {
        for suffix in ["", "-wal", "-shm"] {
            let p = config.data_dir.join(format!("jiesu.db{suffix}"));
            if p.exists() {
                std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
    }
    let app = crate::open_app(config.clone()).await?;
    let r = async {
        if app.store.tenant_by_code(DEMO_TENANT).await?.is_some() {
            eprintln!(
                "demo data already present in {} (use --reset to rebuild)",
                config.data_dir.display()
            );
        } else if !app.store.tenants().await?.is_empty() {
            bail!(
                "this database holds another platform's data; use a fresh --data-dir for the demo"
            );
        } else {
            build(&app).await?;
        }
        Ok(())
    }
    .await;
    app.store.close().await;
    r?;
    Ok(logins(config))
}

struct Units {
    root: UnitId,
    district_centres: HashMap<String, UnitId>,
    towns: HashMap<(String, String), UnitId>,
    towns_of: HashMap<String, Vec<UnitId>>,
    departments: Vec<(UnitId, Vec<String>)>,
    housing: UnitId,
}

async fn unit(
    app: &App,
    t: TenantId,
    parent: Option<UnitId>,
    kind: UnitKind,
    name: &str,
    region: Option<&str>,
) -> anyhow::Result<UnitId> {
    Ok(app
        .store
        .create_unit(
            t,
            &UnitInput {
                parent_id: parent,
                kind,
                name: name.into(),
                region_code: region.map(str::to_string),
                active: true,
            },
        )
        .await?)
}

async fn build_org(app: &App, t: TenantId, root: UnitId, city: &City) -> anyhow::Result<Units> {
    let mut regions = vec![Region {
        code: format!("{}00", city.code),
        name: city.name.clone(),
        level: 2,
        parent_code: None,
    }];
    for d in &city.districts {
        regions.push(Region {
            code: d.code.clone(),
            name: d.name.clone(),
            level: 3,
            parent_code: Some(format!("{}00", city.code)),
        });
        for tw in &d.towns {
            regions.push(Region {
                code: tw.code.clone(),
                name: tw.name.clone(),
                level: 4,
                parent_code: Some(d.code.clone()),
            });
            for c in &tw.communities {
                regions.push(Region {
                    code: c.code.clone(),
                    name: c.name.clone(),
                    level: 5,
                    parent_code: Some(tw.code.clone()),
                });
            }
        }
    }
    app.store.insert_regions(t, &regions).await?;
    let mut u = Units {
        root,
        district_centres: HashMap::new(),
        towns: HashMap::new(),
        towns_of: HashMap::new(),
        departments: Vec::new(),
        housing: root,
    };
    for dep in &city.departments {
        let id = unit(app, t, Some(root), UnitKind::Department, &dep.name, None).await?;
        if dep.name == "市住房和城乡建设局" {
            u.housing = id;
        }
        u.departments.push((id, dep.categories.clone()));
    }
    for d in &city.districts {
        let dc = unit(
            app,
            t,
            Some(root),
            UnitKind::DistrictCentre,
            &format!("{}12345热线分中心", d.name),
            Some(&d.code),
        )
        .await?;
        u.district_centres.insert(d.name.clone(), dc);
        for tw in &d.towns {
            let tid = unit(
                app,
                t,
                Some(dc),
                UnitKind::Town,
                &format!("{}{}", d.name, tw.name),
                Some(&tw.code),
            )
            .await?;
            u.towns.insert((d.name.clone(), tw.name.clone()), tid);
            u.towns_of.entry(d.name.clone()).or_default().push(tid);
            for c in &tw.communities {
                let cid = unit(
                    app,
                    t,
                    Some(tid),
                    UnitKind::Community,
                    &c.name,
                    Some(&c.code),
                )
                .await?;
                for g in ["第一网格", "第二网格"] {
                    unit(
                        app,
                        t,
                        Some(cid),
                        UnitKind::Grid,
                        &format!("{}{g}", c.name),
                        Some(&c.code),
                    )
                    .await?;
                }
            }
        }
    }
    Ok(u)
}

/// The people who act in the demo histories.
struct Cast {
    agent: Actor,
    dispatcher: Actor,
    callback: Actor,
    /// Per unit: someone who signs and replies for it.
    staff: HashMap<UnitId, Actor>,
}

fn actor(id: UserId, name: &str, roles: &[Role], unit: UnitId) -> Actor {
    Actor {
        user_id: id,
        username: name.into(),
        roles: RoleSet::of(roles),
        unit_id: unit,
    }
}

async fn build_users(app: &App, t: TenantId, u: &Units, org: &OrgTree) -> anyhow::Result<Cast> {
    let mut ids = HashMap::new();
    for (name, display, role, unit) in [
        ("admin", "系统管理员", Role::Admin, u.root),
        ("agent", "话务员王丽", Role::Agent, u.root),
        ("dispatcher", "派单员李强", Role::Dispatcher, u.root),
        ("handler", "住建局承办人赵敏", Role::Handler, u.housing),
        ("unit_admin", "住建局联络员陈刚", Role::UnitAdmin, u.housing),
        ("callback", "回访员刘芳", Role::Callback, u.root),
        ("supervisor", "督办员孙伟", Role::Supervisor, u.root),
        ("leader", "中心主任周明", Role::Leader, u.root),
    ] {
        let id = app
            .add_user(
                t,
                UserInput {
                    username: name.into(),
                    display_name: display.into(),
                    password: Some(DEMO_PASSWORD.into()),
                    unit_id: unit,
                    roles: RoleSet::of(&[role]),
                    system_account: false,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        ids.insert(name, id);
    }
    let mut cast = Cast {
        agent: actor(ids["agent"], "agent", &[Role::Agent], u.root),
        dispatcher: actor(ids["dispatcher"], "dispatcher", &[Role::Dispatcher], u.root),
        callback: actor(ids["callback"], "callback", &[Role::Callback], u.root),
        staff: HashMap::new(),
    };
    cast.staff.insert(
        u.housing,
        actor(ids["handler"], "handler", &[Role::Handler], u.housing),
    );
    // Staff of the other units: accounts without a password (an admin sets one to hand them over).
    let mut units: Vec<UnitId> = u.departments.iter().map(|(id, _)| *id).collect();
    units.extend(u.district_centres.values());
    units.extend(u.towns.values());
    units.sort();
    for unit_id in units {
        if cast.staff.contains_key(&unit_id) {
            continue;
        }
        let centre = org
            .get(unit_id)
            .is_some_and(|x| x.kind == UnitKind::DistrictCentre);
        let roles: &[Role] = if centre {
            &[Role::Dispatcher, Role::Handler]
        } else {
            &[Role::Handler]
        };
        let username = format!("staff{}", unit_id.0);
        let id = app
            .store
            .create_user(
                t,
                &jiesu_store::users::NewUser {
                    username: username.clone(),
                    display_name: format!("{}工作人员", org.name(unit_id)),
                    password_hash: None,
                    unit_id,
                    roles: RoleSet::of(roles),
                    system_account: false,
                },
            )
            .await?;
        cast.staff
            .insert(unit_id, actor(id, &username, roles, unit_id));
    }
    // The demo city's Open311 partner (a city app), with the published demo key.
    let open311 = app
        .add_user(
            t,
            UserInput {
                username: "sys-open311".into(),
                display_name: "城市服务APP（Open311）".into(),
                password: None,
                unit_id: u.root,
                // It takes requests in as a call-taker of the city centre would.
                roles: RoleSet::of(&[Role::Agent]),
                system_account: true,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    app.register_key(
        t,
        open311,
        "城市服务APP（Open311）",
        DEMO_OPEN311_KEY,
        ScopeSet::of(&[Scope::Open311]),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(cast)
}

fn parse_local(s: &str) -> Option<DateTime<Utc>> {
    let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok()?;
    china_offset()
        .from_local_datetime(&t)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高",
];
const GIVEN: &[&str] = &["先生", "女士", "师傅", "阿姨", "老师", "大爷"];
const GENERIC_REPLIES: &[&str] = &[
    "经核实，已安排工作人员到现场处理，问题已解决，并已电话告知诉求人。",
    "收到诉求后，我单位立即组织人员现场核查，已责令相关责任方限期整改，后续将持续跟踪。",
    "经调查，诉求人反映的情况属实，已协调有关部门处理完毕。感谢您对我们工作的监督。",
    "已与诉求人取得联系并详细解释相关政策，诉求人表示理解。",
];

/// One order's life, simulated step by step with realistic delays; it stops where the next
/// step would lie in the future, so recent orders are still under way.
struct Sim<'a> {
    rng: &'a mut StdRng,
    org: &'a OrgTree,
    cast: &'a Cast,
    calendar: &'a jiesu_core::calendar::Calendar,
    rules: &'a jiesu_core::deadline::TimeRules,
    now: DateTime<Utc>,
    /// Steps left before this order stalls (work still in hand at the units).
    budget: u32,
    /// The knowledge entry written from this message's reply, if any; else one at random.
    entry: Option<i64>,
    entries: &'a [i64],
    /// Instant answers per entry, counted into the entries' usage at the end.
    uses: &'a mut HashMap<i64, i64>,
}

impl Sim<'_> {
    fn step(
        &mut self,
        o: &mut Order,
        events: &mut Vec<Event>,
        who: &Actor,
        at: DateTime<Utc>,
        cmd: Command,
    ) -> bool {
        if at >= self.now || self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        let ctx = Ctx {
            now: at,
            actor: who,
            org: self.org,
            calendar: self.calendar,
            rules: self.rules,
        };
        match o.execute(&cmd, &ctx) {
            Ok(ev) => {
                events.extend(ev);
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "demo step skipped");
                false
            }
        }
    }

    fn hours(&mut self, lo: i64, hi: i64) -> Duration {
        Duration::minutes(self.rng.gen_range(lo * 60..=hi * 60))
    }

    fn staff(&self, unit: UnitId) -> Option<&Actor> {
        self.cast.staff.get(&unit)
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        new: NewOrder,
        at: DateTime<Utc>,
        reply: &str,
        lead: UnitId,
        via_centre: Option<UnitId>,
        co: Option<UnitId>,
    ) -> Option<(Order, Vec<Event>)> {
        let consult = new.request_type == RequestType::Consultation;
        let ctx = Ctx {
            now: at,
            actor: &self.cast.agent,
            org: self.org,
            calendar: self.calendar,
            rules: self.rules,
        };
        let roll: f64 = self.rng.r#gen();
        // 即答: most consultations and some others are answered at once from the knowledge base.
        let instant = ((consult && roll < 0.7) || roll < 0.12) && !self.entries.is_empty();
        let cited = self.entry.unwrap_or_else(|| {
            let n = self.entries.len().max(1);
            self.entries
                .get(self.rng.gen_range(0..n))
                .copied()
                .unwrap_or(0)
        });
        let answer = instant.then(|| InstantAnswer {
            knowledge_entry_id: jiesu_core::kb::code(cited),
            knowledge_version: Some(1),
            answer: Some(reply.chars().take(200).collect()),
        });
        if instant {
            *self.uses.entry(cited).or_default() += 1;
        }
        let (mut o, mut ev) = Order::accept(new, answer, &ctx).ok()?;
        if instant {
            return Some((o, ev));
        }
        let d = self.cast.dispatcher.clone();
        let mut t = at + self.hours(0, 5);
        let fate: f64 = self.rng.r#gen();
        if fate < 0.015 {
            self.step(
                &mut o,
                &mut ev,
                &d,
                t,
                Command::Invalidate {
                    reason: "测试来电，无实际诉求".into(),
                },
            );
            return Some((o, ev));
        }
        let first = via_centre.unwrap_or(lead);
        let mut targets = vec![DispatchTarget {
            unit_id: first,
            role: AssignmentRole::Lead,
        }];
        if let Some(c) = co
            && c != first
        {
            targets.push(DispatchTarget {
                unit_id: c,
                role: AssignmentRole::Co,
            });
        }
        if !self.step(
            &mut o,
            &mut ev,
            &d,
            t,
            Command::Dispatch {
                targets,
                note: None,
            },
        ) {
            return Some((o, ev));
        }
        if fate < 0.03 {
            t += self.hours(1, 20);
            self.step(
                &mut o,
                &mut ev,
                &self.cast.agent.clone(),
                t,
                Command::Withdraw {
                    reason: "诉求人来电表示问题已自行解决，申请撤单".into(),
                },
            );
            return Some((o, ev));
        }
        if let Some(dc) = via_centre {
            let Some(dcs) = self.staff(dc).cloned() else {
                return Some((o, ev));
            };
            t += self.hours(1, 4);
            if !self.step(
                &mut o,
                &mut ev,
                &dcs,
                t,
                Command::Dispatch {
                    targets: vec![DispatchTarget {
                        unit_id: lead,
                        role: AssignmentRole::Lead,
                    }],
                    note: Some("请属地街道（乡镇）办理".into()),
                },
            ) {
                return Some((o, ev));
            }
        }
        let Some(h) = self.staff(lead).cloned() else {
            return Some((o, ev));
        };
        t += self.hours(1, 6);
        if fate < 0.08 && via_centre.is_none() {
            // Returned as not this unit's responsibility, then re-dispatched to the district.
            if !self.step(
                &mut o,
                &mut ev,
                &h,
                t,
                Command::Return {
                    reason: "经核实，该事项不属于本单位职责范围，建议转属地办理".into(),
                },
            ) {
                return Some((o, ev));
            }
            let alt =
                self.cast.staff.keys().copied().find(|u| {
                    *u != lead && self.org.get(*u).is_some_and(|x| x.kind == UnitKind::Town)
                });
            let Some(alt) = alt else { return Some((o, ev)) };
            t += self.hours(1, 5);
            if !self.step(
                &mut o,
                &mut ev,
                &d,
                t,
                Command::Dispatch {
                    targets: vec![DispatchTarget {
                        unit_id: alt,
                        role: AssignmentRole::Lead,
                    }],
                    note: Some("重新派单".into()),
                },
            ) {
                return Some((o, ev));
            }
            return self.handle(o, ev, alt, t, reply);
        }
        if !self.step(&mut o, &mut ev, &h, t, Command::Sign) {
            return Some((o, ev));
        }
        self.handle(o, ev, lead, t, reply)
    }

    fn handle(
        &mut self,
        mut o: Order,
        mut ev: Vec<Event>,
        lead: UnitId,
        mut t: DateTime<Utc>,
        reply: &str,
    ) -> Option<(Order, Vec<Event>)> {
        let h = self.staff(lead).cloned()?;
        if o.assignment_of(lead)
            .is_some_and(|a| a.status == AssignmentStatus::PendingSign)
        {
            t += self.hours(1, 4);
            if !self.step(&mut o, &mut ev, &h, t, Command::Sign) {
                return Some((o, ev));
            }
        }
        let d = self.cast.dispatcher.clone();
        if self.rng.gen_bool(0.06) && !o.flags.emergency {
            t += self.hours(4, 20);
            let days = self.rng.gen_range(2..=5);
            if !self.step(
                &mut o,
                &mut ev,
                &h,
                t,
                Command::RequestExtension {
                    days,
                    reason: "涉及多个部门协调，需延期办理".into(),
                },
            ) {
                return Some((o, ev));
            }
            t += self.hours(1, 6);
            let approve = self.rng.gen_bool(0.8);
            let comment = (!approve).then(|| "理由不充分，请按期办结".to_string());
            if !self.step(
                &mut o,
                &mut ev,
                &d,
                t,
                Command::ReviewExtension { approve, comment },
            ) {
                return Some((o, ev));
            }
        }
        let mut rounds = 0;
        loop {
            t += self.hours(6, 60);
            let content = if rounds == 0 {
                reply.to_string()
            } else {
                "已再次上门核实并处理，诉求人反映的问题已整改到位。".to_string()
            };
            if !self.step(
                &mut o,
                &mut ev,
                &h,
                t,
                Command::Reply {
                    content,
                    contacted_citizen: true,
                },
            ) {
                return Some((o, ev));
            }
            t += self.hours(1, 8);
            if !self.step(
                &mut o,
                &mut ev,
                &d,
                t,
                Command::Check {
                    approve: true,
                    comment: None,
                },
            ) {
                return Some((o, ev));
            }
            t += self.hours(4, 40);
            let r: f64 = self.rng.r#gen();
            let (satisfaction, resolved) = if rounds > 0 || r > 0.12 {
                (
                    if r < 0.8 {
                        Satisfaction::Satisfied
                    } else {
                        Satisfaction::BasicallySatisfied
                    },
                    true,
                )
            } else {
                (Satisfaction::Dissatisfied, false)
            };
            let comment = (!resolved).then(|| "诉求人表示问题仍未解决".to_string());
            let cb = self.cast.callback.clone();
            if !self.step(
                &mut o,
                &mut ev,
                &cb,
                t,
                Command::Callback {
                    satisfaction,
                    resolved,
                    comment,
                },
            ) {
                return Some((o, ev));
            }
            if o.status == Status::Closed {
                return Some((o, ev));
            }
            rounds += 1;
        }
    }
}

async fn build(app: &App) -> anyhow::Result<()> {
    let city: City = serde_json::from_str(CITY_JSON)?;
    let t = create_tenant(
        app,
        DEMO_TENANT,
        "A市12345政务服务便民热线",
        "bootstrap-admin",
        DEMO_PASSWORD,
    )
    .await?;
    // The bootstrap administrator is replaced by the demo's own "admin" below.
    let boot = app
        .store
        .user_by_name(t, "bootstrap-admin")
        .await?
        .context("bootstrap admin")?;
    let root = boot.unit_id;
    app.store
        .update_user(t, boot.id, "初始管理员（已停用）", root, boot.roles, false)
        .await?;
    let units = build_org(app, t, root, &city).await?;
    app.invalidate_caches(t);
    let org = app.org(t).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let time = app.time(t).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let cast = build_users(app, t, &units, &org).await?;
    let cats = default_categories()?;
    let code_of: HashMap<(String, String, String), String> = {
        let by_code: HashMap<&str, &Category> = cats.iter().map(|c| (c.code.as_str(), c)).collect();
        cats.iter()
            .filter(|c| c.level == 3)
            .filter_map(|c| {
                let l2 = by_code.get(c.parent_code.as_deref()?)?;
                let l1 = by_code.get(l2.parent_code.as_deref()?)?;
                Some((
                    (l1.name.clone(), l2.name.clone(), c.name.clone()),
                    c.code.clone(),
                ))
            })
            .collect()
    };
    let district_code: HashMap<&str, &str> = city
        .districts
        .iter()
        .map(|d| (d.name.as_str(), d.code.as_str()))
        .collect();
    let town_code: HashMap<(&str, &str), &str> = city
        .districts
        .iter()
        .flat_map(|d| {
            d.towns
                .iter()
                .map(move |tw| ((d.name.as_str(), tw.name.as_str()), tw.code.as_str()))
        })
        .collect();

    let mut raw = String::new();
    flate2::read::GzDecoder::new(MESSAGES_GZ).read_to_string(&mut raw)?;
    let messages: Vec<Message> = raw
        .lines()
        .filter(|l| !l.is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;

    // The demo's "now": today, or the end of the last year the calendar covers.
    let [_, last_year] = app.base_calendar.years;
    let end_of_table = china_offset()
        .with_ymd_and_hms(last_year, 12, 20, 12, 0, 0)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now);
    let now = Utc::now().min(end_of_table);
    let start = now - Duration::days(365);
    let n = messages.len().max(1) as i64;
    let mut rng = StdRng::seed_from_u64(12345);
    let bar = indicatif::ProgressBar::new(messages.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("building demo orders {bar:40} {pos}/{len}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let entry_of = build_knowledge(app, t, &cast, &messages, &code_of, &units, now).await?;
    let entries: Vec<i64> = {
        let mut v: Vec<i64> = entry_of.values().copied().collect();
        v.sort();
        v
    };
    let mut uses: HashMap<i64, i64> = HashMap::new();
    let mut pending = tokio::task::JoinSet::new();
    let store = Arc::new(app.store.clone());
    for (i, m) in messages.iter().enumerate() {
        // Spread over the year, keeping the message's time of day; a few more in recent weeks.
        let frac = (i as f64 / n as f64).powf(0.7);
        let day = start + Duration::seconds((frac * 365.0 * 86400.0) as i64);
        let orig = parse_local(&m.time)
            .unwrap_or(day)
            .with_timezone(&china_offset());
        let at = china_offset()
            .from_local_datetime(
                &day.with_timezone(&china_offset())
                    .date_naive()
                    .and_hms_opt(orig.hour(), orig.minute(), orig.second())
                    .unwrap_or_default(),
            )
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(day);
        if at >= now {
            continue;
        }
        let category = code_of
            .get(&(
                m.category[0].clone(),
                m.category[1].clone(),
                m.category[2].clone(),
            ))
            .and_then(|c| CategoryCode::parse("category", c).ok());
        let region = match (&m.district, &m.town) {
            (Some(d), Some(tw)) => town_code.get(&(d.as_str(), tw.as_str())).copied(),
            (Some(d), None) => district_code.get(d.as_str()).copied(),
            _ => None,
        }
        .and_then(|r| RegionCode::parse("region", r).ok());
        let request_type =
            RequestType::parse("type", &m.request_type).unwrap_or(RequestType::Complaint);
        let phone = format!(
            "1{}{:09}",
            [3, 5, 7, 8, 9][rng.gen_range(0..5)],
            rng.gen_range(0..1_000_000_000u64)
        );
        let anonymous = rng.gen_bool(0.05);
        let emergency = rng.gen_bool(0.02);
        let channel = *[
            Channel::Phone,
            Channel::Phone,
            Channel::Phone,
            Channel::Web,
            Channel::MiniProgram,
            Channel::MayorMailbox,
            Channel::QrCode,
            Channel::Grid,
        ]
        .get(rng.gen_range(0..8))
        .unwrap_or(&Channel::Phone);
        let new = NewOrder {
            channel,
            request_type,
            category,
            title: m.title.clone(),
            content: m.content.clone(),
            citizen: Citizen {
                name: (!anonymous).then(|| {
                    format!(
                        "{}{}",
                        SURNAMES[rng.gen_range(0..SURNAMES.len())],
                        GIVEN[rng.gen_range(0..GIVEN.len())]
                    )
                }),
                phone: Phone::parse("phone", &phone).ok(),
                id_number: None,
                anonymous,
            },
            location: Location {
                address: m
                    .district
                    .as_ref()
                    .map(|d| format!("A市{}{}", d, m.town.clone().unwrap_or_default())),
                region_code: region,
                lat: None,
                lng: None,
            },
            urgency: if emergency {
                Urgency::VeryUrgent
            } else {
                Urgency::Normal
            },
            flags: Flags {
                emergency,
                complex: rng.gen_bool(0.05),
                repeat: false,
                confidential: rng.gen_bool(0.03),
                needs_contact: rng.gen_bool(0.4),
            },
            external_ref: None,
            query_code_hash: None,
            source: Default::default(),
        };
        // Who handles it: the department for the category, the town (through the district
        // centre, or directly), or the housing department where the demo's handler works.
        let dept = units
            .departments
            .iter()
            .find(|(_, cs)| cs.iter().any(|c| c == &m.category[0]))
            .map(|(id, _)| *id);
        let town = match (&m.district, &m.town) {
            (Some(d), Some(tw)) => units.towns.get(&(d.clone(), tw.clone())).copied(),
            (Some(d), None) => units
                .towns_of
                .get(d)
                .and_then(|v| v.get(rng.gen_range(0..v.len().max(1))).copied()),
            _ => None,
        };
        let dc = m
            .district
            .as_ref()
            .and_then(|d| units.district_centres.get(d))
            .copied();
        let r: f64 = rng.r#gen();
        let (lead, via, co) = match (dept, town) {
            _ if r < 0.22 => (units.housing, None, town),
            (Some(dep), Some(tw)) if r < 0.6 => (dep, None, Some(tw)),
            (_, Some(tw)) if r < 0.85 && dc.is_some() => (tw, dc, None),
            (_, Some(tw)) => (tw, None, None),
            (Some(dep), None) => (dep, None, None),
            (None, None) => (units.housing, None, None),
        };
        let reply = m.reply.clone().unwrap_or_else(|| {
            GENERIC_REPLIES[rng.gen_range(0..GENERIC_REPLIES.len())].to_string()
        });
        // Recent orders are often still in hand: stop them after a random number of steps.
        let recent = now - at < Duration::days(21);
        let budget = if recent && rng.gen_bool(0.6) {
            rng.gen_range(0..6)
        } else {
            u32::MAX
        };
        let mut sim = Sim {
            rng: &mut rng,
            org: &org,
            cast: &cast,
            calendar: &time.calendar,
            rules: &time.rules,
            now,
            budget,
            entry: entry_of.get(&i).copied(),
            entries: &entries,
            uses: &mut uses,
        };
        let Some((order, events)) = sim.run(new, at, &reply, lead, via, co) else {
            continue;
        };
        let store = store.clone();
        pending.spawn(async move { store.create_order(t, order, events, None).await });
        while pending.len() >= 256 {
            if let Some(r) = pending.join_next().await {
                r??;
                bar.inc(1);
            }
        }
    }
    while let Some(r) = pending.join_next().await {
        r??;
        bar.inc(1);
    }
    bar.finish_and_clear();
    for (id, n) in uses {
        app.store.kb_count_use(t, id, n).await?;
    }
    merge_some_duplicates(app, t, &cast).await?;
    insight_examples(app, t, &cast, &code_of, now).await?;
    build_calls(app, t, now).await?;
    Ok(())
}

/// A week of the call centre's calls (about 120 a working day, 8% given up), so the 话务
/// figures and the missed-call queue (漏话回拨) have something to show: older missed calls
/// are called back, today's wait in the queue.
async fn build_calls(app: &App, t: TenantId, now: DateTime<Utc>) -> anyhow::Result<()> {
    use jiesu_store::telephony::{CallEvent, CallEventKind, CallbackOutcome, Doer};
    let mut rng = StdRng::seed_from_u64(12345);
    let agent = app
        .store
        .user_by_name(t, "agent")
        .await?
        .context("demo agent")?;
    let mut n = 0u32;
    for day in (0..7).rev() {
        let date = (now - Duration::days(day))
            .with_timezone(&china_offset())
            .date_naive();
        for _ in 0..120 {
            let secs = rng.gen_range(8 * 3600 + 1800..17 * 3600 + 1800);
            let Some(at) = date
                .and_hms_opt(0, 0, 0)
                .and_then(|d| china_offset().from_local_datetime(&d).single())
                .map(|d| d.with_timezone(&Utc) + Duration::seconds(secs))
            else {
                continue;
            };
            if at > now {
                continue;
            }
            n += 1;
            let call_id = format!("demo-{day}-{n}");
            let caller = format!(
                "13{}{:08}",
                rng.gen_range(3..10),
                rng.gen_range(0..100_000_000u32)
            );
            let ev = |kind, at, agent: Option<String>| CallEvent {
                call_id: call_id.clone(),
                kind,
                at,
                caller: Some(caller.clone()),
                line: Some("12345".into()),
                agent,
            };
            let _ = app
                .store
                .apply_call_event(t, &ev(CallEventKind::Incoming, at, None))
                .await?;
            if rng.gen_bool(0.08) {
                let gone = at + Duration::seconds(rng.gen_range(5..90));
                let _ = app
                    .store
                    .apply_call_event(t, &ev(CallEventKind::Abandoned, gone, None))
                    .await?;
            } else {
                let answered = at + Duration::seconds(rng.gen_range(2..35));
                let who = format!("10{:02}", rng.gen_range(1..13));
                let _ = app
                    .store
                    .apply_call_event(t, &ev(CallEventKind::Answered, answered, Some(who)))
                    .await?;
                let ended = answered + Duration::seconds(rng.gen_range(60..420));
                if ended < now {
                    let _ = app
                        .store
                        .apply_call_event(t, &ev(CallEventKind::Ended, ended, None))
                        .await?;
                }
            }
        }
    }
    // Yesterday's and older missed calls have been called back.
    let by = Doer {
        user: Some(agent.id),
        name: &agent.display_name,
    };
    let today = now - Duration::hours(12);
    for m in app.store.missed_calls(t, true, None, 1000).await? {
        if m.first_at < today {
            let outcome = if rng.gen_bool(0.85) {
                CallbackOutcome::Reached
            } else {
                CallbackOutcome::NotReached
            };
            app.store
                .record_missed_callback(
                    t,
                    m.id,
                    &by,
                    outcome,
                    Some("演示数据：已回拨"),
                    None,
                    3,
                    m.first_at + Duration::minutes(rng.gen_range(10..90)),
                )
                .await?;
        }
    }
    Ok(())
}

/// Orders taken through the real acceptance path, so the demo shows insight at work: a
/// burst about one issue at one place (a hot spot, and a spike of its category in the
/// district today), and callers and addresses coming back (repeats).
async fn insight_examples(
    app: &App,
    t: TenantId,
    cast: &Cast,
    code_of: &HashMap<(String, String, String), String>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let p = Principal {
        tenant: t,
        user_id: cast.agent.user_id,
        username: cast.agent.username.clone(),
        display_name: "话务员王芳".into(),
        unit_id: cast.agent.unit_id,
        roles: cast.agent.roles,
        token_scopes: None,
    };
    let noise = code_of
        .get(&(
            "环境保护".to_string(),
            "环境污染".to_string(),
            "噪音污染".to_string(),
        ))
        .and_then(|c| CategoryCode::parse("category", c).ok());
    let region = RegionCode::parse("region", "990101001").ok();
    let reports: [(&str, &str); 10] = [
        (
            "芙蓉路夜市烧烤噪音扰民",
            "北路街道芙蓉社区芙蓉路夜市烧烤摊每晚营业到凌晨，噪音和油烟扰民，无法休息。",
        ),
        (
            "芙蓉路夜市噪音太大",
            "芙蓉路夜市的烧烤摊半夜还在喧哗，音响声音很大，影响周边居民休息。",
        ),
        (
            "投诉芙蓉路夜市烧烤扰民",
            "芙蓉路夜市烧烤摊占道经营，深夜噪音扰民，请城管和环保部门处理。",
        ),
        (
            "芙蓉路夜市深夜噪音扰民",
            "芙蓉社区旁芙蓉路夜市每天晚上噪音扰民到两点，老人孩子睡不着。",
        ),
        (
            "芙蓉路夜市烧烤摊噪音油烟",
            "芙蓉路夜市烧烤摊油烟和噪音扰民，多次反映仍未解决。",
        ),
        (
            "芙蓉路夜市喇叭叫卖扰民",
            "芙蓉路夜市商贩用喇叭叫卖，夜间噪音扰民严重。",
        ),
        (
            "芙蓉路夜市噪音扰民何时解决",
            "芙蓉路夜市噪音扰民问题持续一个月了，晚上根本无法入睡。",
        ),
        (
            "芙蓉路夜市烧烤噪音严重",
            "芙蓉路夜市烧烤摊噪音严重扰民，希望有关部门尽快整治。",
        ),
        (
            "芙蓉路夜市凌晨还在营业",
            "芙蓉路夜市烧烤摊凌晨还在营业，噪音扰民，请求整治。",
        ),
        (
            "芙蓉路夜市噪音扰民",
            "芙蓉社区居民反映芙蓉路夜市烧烤噪音扰民，晚上无法休息。",
        ),
    ];
    // Today (China time) so far, and the ten days before: the hot spot grows.
    let today = now
        .with_timezone(&china_offset())
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|d| china_offset().from_local_datetime(&d).single())
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(now);
    let span = (now - today).num_seconds().max(60);
    for (i, (title, content)) in reports.iter().enumerate() {
        let at = if i < 3 {
            now - Duration::days(9 - 3 * i as i64)
        } else {
            today + Duration::seconds(span * (i as i64 - 2) / 9)
        };
        // The first caller calls again today; another neighbour shares an address.
        let phone = match i {
            7 => "13907310001".to_string(),
            i => format!("139073100{:02}", i + 1),
        };
        let address = match i {
            0 | 8 => "A市A1区北路街道芙蓉路88号".to_string(),
            i => format!("A市A1区北路街道芙蓉社区{}栋", i + 1),
        };
        let new = NewOrder {
            channel: Channel::Phone,
            request_type: RequestType::Complaint,
            category: noise.clone(),
            title: title.to_string(),
            content: content.to_string(),
            citizen: Citizen {
                name: Some(format!("{}先生", SURNAMES[i % SURNAMES.len()])),
                phone: Phone::parse("phone", &phone).ok(),
                id_number: None,
                anonymous: false,
            },
            location: Location {
                address: Some(address),
                region_code: region.clone(),
                lat: None,
                lng: None,
            },
            urgency: Urgency::Normal,
            flags: Flags::default(),
            external_ref: None,
            query_code_hash: None,
            source: Default::default(),
        };
        app.accept_order_at(&p, new, None, Some(at))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}

/// The demo's knowledge base: an entry from each answered consultation (the message's title as
/// the entry's title, its opening as a question variant, the reply as the answer), owned by the
/// department for its category, published; a few drafts and one awaiting review. Returns the
/// entry written from each message.
#[allow(clippy::too_many_arguments)]
async fn build_knowledge(
    app: &App,
    t: TenantId,
    cast: &Cast,
    messages: &[Message],
    code_of: &HashMap<(String, String, String), String>,
    units: &Units,
    now: DateTime<Utc>,
) -> anyhow::Result<HashMap<usize, i64>> {
    let mut picked: Vec<(usize, jiesu_core::kb::KbContent)> = Vec::new();
    let mut titles = std::collections::HashSet::new();
    for (i, m) in messages.iter().enumerate() {
        let Some(reply) = m.reply.as_deref().filter(|r| r.chars().count() >= 20) else {
            continue;
        };
        if m.request_type != "consultation" || !titles.insert(m.title.clone()) {
            continue;
        }
        let category = code_of
            .get(&(
                m.category[0].clone(),
                m.category[1].clone(),
                m.category[2].clone(),
            ))
            .cloned();
        let unit = units
            .departments
            .iter()
            .find(|(_, cs)| cs.iter().any(|c| c == &m.category[0]))
            .map(|(id, _)| *id)
            .unwrap_or(units.housing);
        let question: String = m.content.chars().take(50).collect();
        let questions = vec![question];
        let content = jiesu_core::kb::KbContent::parse(jiesu_core::kb::KbInput {
            title: &m.title,
            answer: reply,
            questions: &questions,
            category: category.as_deref(),
            unit_id: Some(unit),
            ..Default::default()
        });
        if let Ok(c) = content {
            picked.push((i, c));
        }
    }
    let who = jiesu_store::kb::KbWho {
        actor_id: cast.dispatcher.user_id,
        actor: "派单员",
        reason: Some("从历史答复整理"),
        at: now - Duration::days(400),
    };
    let items: Vec<_> = picked.iter().map(|(_, c)| c.clone()).collect();
    let ids = app
        .store
        .kb_create(t, &items, jiesu_core::kb::KbAction::Import, &who)
        .await?;
    // Some work in progress for the knowledge screens.
    let drafts = [
        (
            "居住证办理需要哪些材料",
            "持本人身份证、租房合同或房产证明、近期免冠照片到居住地派出所办理。",
        ),
        (
            "电动自行车上牌流程",
            "携带购车发票、合格证和身份证到所在区车管所或指定网点办理登记上牌。",
        ),
    ];
    let drafts: Vec<_> = drafts
        .iter()
        .filter_map(|(title, answer)| {
            jiesu_core::kb::KbContent::parse(jiesu_core::kb::KbInput {
                title,
                answer,
                unit_id: Some(units.housing),
                ..Default::default()
            })
            .ok()
        })
        .collect();
    let draft_ids = app
        .store
        .kb_create(t, &drafts, jiesu_core::kb::KbAction::Create, &who)
        .await?;
    if let Some(first) = draft_ids.first()
        && let Some(row) = app.store.kb_entry(t, *first).await?
    {
        app.store
            .kb_transition(
                t,
                jiesu_store::kb::KbTransition {
                    action: jiesu_core::kb::KbAction::Submit,
                    from: &row,
                    to: jiesu_core::kb::KbState::Review,
                    content: None,
                },
                &who,
            )
            .await?;
    }
    Ok(picked.iter().map(|(i, _)| *i).zip(ids).collect())
}

/// Two orders about the same issue from the same district, both waiting for review: the
/// dispatcher merges the later one into the earlier (合并).
async fn merge_some_duplicates(app: &App, t: TenantId, cast: &Cast) -> anyhow::Result<()> {
    let p = Principal {
        tenant: t,
        user_id: cast.dispatcher.user_id,
        username: cast.dispatcher.username.clone(),
        display_name: "派单员李强".into(),
        unit_id: cast.dispatcher.unit_id,
        roles: cast.dispatcher.roles,
        token_scopes: None,
    };
    let filter = jiesu_store::orders::OrderFilter {
        statuses: vec![Status::PendingReview],
        ..Default::default()
    };
    let page = app
        .list_orders(
            &p,
            filter,
            jiesu_store::orders::Sort::AcceptedAsc,
            None,
            200,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut by_key: HashMap<(Option<String>, Option<String>), OrderId> = HashMap::new();
    let mut merged = 0;
    for v in page.items {
        let o = &v.stored.order;
        // Same top-level category in the same district.
        let key = (
            o.category
                .as_ref()
                .map(|c| c.as_str().chars().take(2).collect::<String>()),
            o.location
                .region_code
                .as_ref()
                .map(|r| r.as_str().chars().take(6).collect::<String>()),
        );
        if key.0.is_none() || key.1.is_none() {
            continue;
        }
        match by_key.get(&key) {
            Some(first) if merged < 3 => {
                app.merge_order(
                    &p,
                    v.stored.id,
                    *first,
                    "与此前工单反映同一问题，合并办理".into(),
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
                merged += 1;
            }
            Some(_) => {}
            None => {
                by_key.insert(key, v.stored.id);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_category_tree_has_three_levels_with_nested_codes() {
        let cats = default_categories().unwrap();
        assert_eq!(cats.iter().filter(|c| c.level == 1).count(), 15);
        assert_eq!(cats.iter().filter(|c| c.level == 3).count(), 517);
        for c in &cats {
            if let Some(p) = &c.parent_code {
                assert!(c.code.starts_with(&format!("{p}.")), "{} under {p}", c.code);
            }
        }
    }

    #[test]
    fn the_shipped_messages_and_city_parse() {
        let city: City = serde_json::from_str(CITY_JSON).unwrap();
        assert_eq!(city.districts.len(), 9);
        let mut raw = String::new();
        flate2::read::GzDecoder::new(MESSAGES_GZ)
            .read_to_string(&mut raw)
            .unwrap();
        let mut n = 0;
        for line in raw.lines() {
            serde_json::from_str::<Message>(line).unwrap();
            n += 1;
        }
        assert!(n > 1000, "{n}");
    }
}
