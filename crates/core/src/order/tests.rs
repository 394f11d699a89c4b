//! Lifecycle examples and property tests of the state machine.

use super::*;
use crate::calendar::Calendar;
use crate::deadline::{Stage, TimeRules};
use crate::error::DomainError;
use crate::ids::{UnitId, UserId};
use crate::org::{OrgTree, Unit, UnitKind};
use crate::role::{Role, RoleSet};
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

const CITY: UnitId = UnitId(1);
const DISTRICT: UnitId = UnitId(2);
const TOWN_A: UnitId = UnitId(3);
const TOWN_B: UnitId = UnitId(4);
const COMMUNITY: UnitId = UnitId(5);
const DEPT_A: UnitId = UnitId(6);
const DEPT_B: UnitId = UnitId(7);

fn org() -> OrgTree {
    let u = |id: UnitId, parent: Option<UnitId>, kind| Unit {
        id,
        parent_id: parent,
        kind,
        name: format!("单位{}", id.0),
        region_code: None,
        active: true,
    };
    OrgTree::new([
        u(CITY, None, UnitKind::CityCentre),
        u(DISTRICT, Some(CITY), UnitKind::DistrictCentre),
        u(TOWN_A, Some(DISTRICT), UnitKind::Town),
        u(TOWN_B, Some(DISTRICT), UnitKind::Town),
        u(COMMUNITY, Some(TOWN_A), UnitKind::Community),
        u(DEPT_A, Some(CITY), UnitKind::Department),
        u(DEPT_B, Some(CITY), UnitKind::Department),
    ])
}

fn actor(id: i64, unit: UnitId, roles: &[Role]) -> Actor {
    Actor {
        user_id: UserId(id),
        username: format!("u{id}"),
        roles: RoleSet::of(roles),
        unit_id: unit,
    }
}

fn agent() -> Actor {
    actor(1, CITY, &[Role::Agent])
}
fn dispatcher() -> Actor {
    actor(2, CITY, &[Role::Dispatcher])
}
fn callback() -> Actor {
    actor(3, CITY, &[Role::Callback])
}
fn district() -> Actor {
    actor(4, DISTRICT, &[Role::Dispatcher, Role::Handler])
}
fn handler(unit: UnitId) -> Actor {
    actor(10 + unit.0, unit, &[Role::Handler])
}
fn system() -> Actor {
    actor(0, CITY, &[Role::System])
}
fn leader() -> Actor {
    actor(5, CITY, &[Role::Leader])
}

struct World {
    org: OrgTree,
    cal: Calendar,
    rules: TimeRules,
    now: DateTime<Utc>,
}

impl World {
    fn new() -> Self {
        World {
            org: org(),
            cal: Calendar::official(),
            rules: TimeRules::ordos(),
            now: DateTime::parse_from_rfc3339("2026-03-02T09:00:00+08:00")
                .unwrap()
                .with_timezone(&Utc),
        }
    }
    fn ctx<'a>(&'a self, actor: &'a Actor) -> Ctx<'a> {
        Ctx {
            now: self.now,
            actor,
            org: &self.org,
            calendar: &self.cal,
            rules: &self.rules,
        }
    }
}

fn new_order(flags: Flags) -> NewOrder {
    NewOrder {
        channel: Channel::Phone,
        request_type: RequestType::Complaint,
        category: None,
        title: "小区噪音扰民".into(),
        content: "夜间施工噪音扰民，请处理".into(),
        citizen: Citizen {
            name: Some("张三".into()),
            phone: Some(crate::values::Phone::parse("phone", "13800138000").unwrap()),
            id_number: None,
            anonymous: false,
        },
        location: Location::default(),
        urgency: Urgency::Normal,
        flags,
        external_ref: None,
        query_code_hash: None,
        source: Default::default(),
    }
}

fn accepted(w: &World, flags: Flags) -> (Order, Vec<Event>) {
    let a = agent();
    let (mut o, mut ev) = Order::accept(new_order(flags), None, &w.ctx(&a)).unwrap();
    o.assign_number(&mut ev, "2026-03-02-000001");
    (o, ev)
}

fn run(
    w: &World,
    o: &mut Order,
    history: &mut Vec<Event>,
    who: &Actor,
    cmd: Command,
) -> Result<(), DomainError> {
    let ev = o.execute(&cmd, &w.ctx(who))?;
    history.extend(ev);
    Ok(())
}

fn lead(unit: UnitId) -> DispatchTarget {
    DispatchTarget {
        unit_id: unit,
        role: AssignmentRole::Lead,
    }
}
fn co(unit: UnitId) -> DispatchTarget {
    DispatchTarget {
        unit_id: unit,
        role: AssignmentRole::Co,
    }
}

#[test]
fn an_order_goes_from_acceptance_to_closure_after_a_satisfied_callback() {
    let w = World::new();
    let (mut o, mut h) = accepted(&w, Flags::default());
    assert_eq!(o.status, Status::PendingReview);
    assert!(o.deadlines.dispatch.is_some());
    let d = dispatcher();
    run(
        &w,
        &mut o,
        &mut h,
        &d,
        Command::Dispatch {
            targets: vec![lead(DEPT_A), co(TOWN_A)],
            note: None,
        },
    )
    .unwrap();
    assert_eq!(o.status, Status::Dispatched);
    // Complaint: 3 working days from Monday 2026-03-02 → Thursday 03-05 17:30.
    assert_eq!(
        o.deadlines.reply.as_ref().unwrap().due,
        DateTime::parse_from_rfc3339("2026-03-05T17:30:00+08:00").unwrap()
    );
    let ha = handler(DEPT_A);
    run(&w, &mut o, &mut h, &ha, Command::Sign).unwrap();
    assert_eq!(o.status, Status::Handling);
    run(
        &w,
        &mut o,
        &mut h,
        &ha,
        Command::Reply {
            content: "已处理".into(),
            contacted_citizen: true,
        },
    )
    .unwrap();
    assert_eq!(o.status, Status::Replied);
    run(
        &w,
        &mut o,
        &mut h,
        &d,
        Command::Check {
            approve: true,
            comment: None,
        },
    )
    .unwrap();
    assert_eq!(o.status, Status::CallbackPending);
    run(
        &w,
        &mut o,
        &mut h,
        &callback(),
        Command::Callback {
            satisfaction: Satisfaction::Satisfied,
            resolved: true,
            comment: None,
        },
    )
    .unwrap();
    assert_eq!(o.status, Status::Closed);
    assert_eq!(o.closure, Some(Closure::Callback));
    assert_eq!(Order::replay(&h).unwrap(), o);
}

#[test]
fn a_dissatisfied_callback_sends_the_order_back_for_rehandling_with_a_new_deadline() {
    let mut w = World::new();
    let (mut o, mut h) = accepted(&w, Flags::default());
    let d = dispatcher();
    let ha = handler(DEPT_A);
    run(
        &w,
        &mut o,
        &mut h,
        &d,
        Command::Dispatch {
            targets: vec![lead(DEPT_A)],
            note: None,
        },
    )
    .unwrap();
    run(&w, &mut o, &mut h, &ha, Command::Sign).unwrap();
    run(
        &w,
        &mut o,
        &mut h,
        &ha,
        Command::Reply {
            content: "已处理".into(),
            contacted_citizen: false,
        },
    )
    .unwrap();
    run(
        &w,
        &mut o,
        &mut h,
        &d,
        Command::Check {
            approve: true,
            comment: None,
        },
    )
    .unwrap();
    let first_due = o.deadlines.reply.as_ref().map(|d| d.due);
    w.now += Duration::days(7);
    run(
        &w,
        &mut o,
        &mut h,
        &callback(),
        Command::Callback {
            satisfaction: Satisfaction::Dissatisfied,
            resolved: false,
            comment: Some("没人来".into()),
        },
    )
    .unwrap();
    assert_eq!(o.status, Status::Handling);
    assert_eq!(o.rehandle_count, 1);
    assert!(o.deadlines.reply.as_ref().map(|d| d.due) > first_due);
    assert_eq!(o.active_lead().unwrap().status, AssignmentStatus::Handling);
    assert_eq!(Order::replay(&h).unwrap(), o);
}

#[test]
fn a_unit_cannot_sign_for_an_order_dispatched_elsewhere() {
    let w = World::new();
    let (mut o, mut h) = accepted(&w, Flags::default());
    run(
        &w,
        &mut o,
        &mut h,
        &dispatcher(),
        Command::Dispatch {
            targets: vec![lead(DEPT_A)],
            note: None,
        },
    )
    .unwrap();
    let before = o.clone();
    let e = run(&w, &mut o, &mut h, &handler(DEPT_B), Command::Sign).unwrap_err();
    assert!(matches!(e, DomainError::Forbidden(_)), "{e:?}");
    assert_eq!(o, before);
}

#[test]
fn a_returned_order_goes_back_to_the_dispatcher_and_can_be_dispatched_again() {
    let w = World::new();
    let (mut o, mut h) = accepted(&w, Flags::default());
    let d = dispatcher();
    run(
        &w,
        &mut o,
        &mut h,
        &d,
        Command::Dispatch {
            targets: vec![lead(DEPT_A), co(DEPT_B)],
            note: None,
        },
    )
    .unwrap();
    let e = run(
        &w,
        &mut o,
        &mut h,
        &handler(DEPT_A),
        Command::Return {
            reason: "  ".into(),
        },
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::Invalid(ref f) if f.field == "reason"));
    run(
        &w,
        &mut o,
        &mut h,
        &handler(DEPT_A),
        Command::Return {
            reason: "不属于本部门职责".into(),
        },
    )
    .unwrap();
    assert_eq!(o.status, Status::Returned);
    assert!(
        o.assignments.iter().all(|a| !a.status.is_active()),
        "co-handlers are released too"
    );
    assert!(o.deadlines.dispatch.is_some());
    run(
        &w,
        &mut o,
        &mut h,
        &d,
        Command::Dispatch {
            targets: vec![lead(DEPT_B)],
            note: None,
        },
    )
    .unwrap();
    assert_eq!(o.status, Status::Dispatched);
    assert_eq!(o.lead_unit(), Some(DEPT_B));
    assert_eq!(Order::replay(&h).unwrap(), o);
}

#[test]
fn a_district_centre_dispatches_again_and_gets_the_order_back_on_return() {
    let w = World::new();
    let (mut o, mut h) = accepted(&w, Flags::default());
    run(
        &w,
        &mut o,
        &mut h,
        &dispatcher(),
        Command::Dispatch {
            targets: vec![lead(DISTRICT)],
            note: None,
        },
    )
    .unwrap();
    let dd = district();
    run(
        &w,
        &mut o,
        &mut h,
        &dd,
        Command::Dispatch {
            targets: vec![lead(TOWN_A), co(TOWN_B)],
            note: None,
        },
    )
    .unwrap();
    assert_eq!(o.status, Status::Dispatched);
    assert_eq!(o.lead_unit(), Some(TOWN_A));
    assert_eq!(o.assignment(1).unwrap().status, AssignmentStatus::Forwarded);
    // A district centre may not dispatch outside its district.
    let mut o2 = o.clone();
    let e = o2.execute(
        &Command::Dispatch {
            targets: vec![lead(DEPT_A)],
            note: None,
        },
        &w.ctx(&dd),
    );
    assert!(e.is_err());
    run(
        &w,
        &mut o,
        &mut h,
        &handler(TOWN_A),
        Command::Return {
            reason: "非本街道辖区".into(),
        },
    )
    .unwrap();
    assert_eq!(
        o.status,
        Status::Handling,
        "the district centre holds it again"
    );
    assert_eq!(o.lead_unit(), Some(DISTRICT));
    assert!(
        o.assignment_of(TOWN_B).is_none(),
        "the co-handler went with the lead"
    );
    run(
        &w,
        &mut o,
        &mut h,
        &dd,
        Command::Dispatch {
            targets: vec![lead(TOWN_B)],
            note: None,
        },
    )
    .unwrap();
    assert_eq!(o.lead_unit(), Some(TOWN_B));
    assert_eq!(Order::replay(&h).unwrap(), o);
}

#[test]
fn the_lead_replies_only_after_its_sub_units_have() {
    let w = World::new();
    let (mut o, mut h) = accepted(&w, Flags::default());
    run(
        &w,
        &mut o,
        &mut h,
        &dispatcher(),
        Command::Dispatch {
            targets: vec![lead(TOWN_A)],
            note: None,
        },
    )
    .unwrap();
    let t = handler(TOWN_A);
    let e = run(
        &w,
        &mut o,
        &mut h,
        &t,
        Command::SubDispatch {
            units: vec![COMMUNITY],
            note: None,
        },
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::Conflict(_)), "must sign first");
    run(&w, &mut o, &mut h, &t, Command::Sign).unwrap();
    let e = run(
        &w,
        &mut o,
        &mut h,
        &t,
        Command::SubDispatch {
            units: vec![TOWN_B],
            note: None,
        },
    )
    .unwrap_err();
    assert!(
        matches!(e, DomainError::Invalid(_)),
        "a sibling is not below us"
    );
    run(
        &w,
        &mut o,
        &mut h,
        &t,
        Command::SubDispatch {
            units: vec![COMMUNITY],
            note: None,
        },
    )
    .unwrap();
    let e = run(
        &w,
        &mut o,
        &mut h,
        &t,
        Command::Reply {
            content: "好".into(),
            contacted_citizen: false,
        },
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::Conflict(_)));
    let c = handler(COMMUNITY);
    run(&w, &mut o, &mut h, &c, Command::Sign).unwrap();
    run(
        &w,
        &mut o,
        &mut h,
        &c,
        Command::Reply {
            content: "社区已上门".into(),
            contacted_citizen: true,
        },
    )
    .unwrap();
    assert_eq!(
        o.status,
        Status::Handling,
        "a sub-unit's reply goes to its parent"
    );
    run(
        &w,
        &mut o,
        &mut h,
        &t,
        Command::Reply {
            content: "已解决".into(),
            contacted_citizen: true,
        },
    )
    .unwrap();
    assert_eq!(o.status, Status::Replied);
    assert_eq!(Order::replay(&h).unwrap(), o);
}

#[test]
fn an_extension_is_granted_once_and_never_for_emergencies() {
    let w = World::new();
    let (mut o, mut h) = accepted(&w, Flags::default());
    let d = dispatcher();
    let ha = handler(DEPT_A);
    run(
        &w,
        &mut o,
        &mut h,
        &d,
        Command::Dispatch {
            targets: vec![lead(DEPT_A)],
            note: None,
        },
    )
    .unwrap();
    run(&w, &mut o, &mut h, &ha, Command::Sign).unwrap();
    let e = run(
        &w,
        &mut o,
        &mut h,
        &ha,
        Command::RequestExtension {
            days: 6,
            reason: "需协调".into(),
        },
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::Invalid(ref f) if f.field == "days"));
    run(
        &w,
        &mut o,
        &mut h,
        &ha,
        Command::RequestExtension {
            days: 2,
            reason: "需协调".into(),
        },
    )
    .unwrap();
    let due = o.deadlines.reply.as_ref().unwrap().due;
    run(
        &w,
        &mut o,
        &mut h,
        &d,
        Command::ReviewExtension {
            approve: true,
            comment: None,
        },
    )
    .unwrap();
    // Thursday 03-05 17:30 + 2 working days = Monday 03-09 17:30.
    assert_eq!(
        o.deadlines.reply.as_ref().unwrap().due,
        due + Duration::days(4)
    );
    let e = run(
        &w,
        &mut o,
        &mut h,
        &ha,
        Command::RequestExtension {
            days: 1,
            reason: "再延".into(),
        },
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::Conflict(_)));

    let (mut o, mut h) = accepted(
        &w,
        Flags {
            emergency: true,
            ..Flags::default()
        },
    );
    run(
        &w,
        &mut o,
        &mut h,
        &d,
        Command::Dispatch {
            targets: vec![lead(DEPT_A)],
            note: None,
        },
    )
    .unwrap();
    assert_eq!(
        o.deadlines.reply.as_ref().unwrap().due,
        w.now + Duration::hours(2),
        "emergencies run on the clock"
    );
    run(&w, &mut o, &mut h, &ha, Command::Sign).unwrap();
    let e = run(
        &w,
        &mut o,
        &mut h,
        &ha,
        Command::RequestExtension {
            days: 1,
            reason: "x".into(),
        },
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::Conflict(_)));
}

#[test]
fn merging_closes_the_duplicate_and_links_both_orders() {
    let w = World::new();
    let (mut a, mut ha) = accepted(&w, Flags::default());
    let (mut b, mut hb) = accepted(&w, Flags::default());
    b.number = "2026-03-02-000002".into();
    let d = dispatcher();
    let target = OrderRef {
        id: crate::ids::OrderId(2),
        number: b.number.clone(),
    };
    run(
        &w,
        &mut a,
        &mut ha,
        &d,
        Command::MergeInto {
            target,
            target_status: b.status,
            reason: "同一诉求".into(),
        },
    )
    .unwrap();
    run(
        &w,
        &mut b,
        &mut hb,
        &d,
        Command::AbsorbMerge {
            source: OrderRef {
                id: crate::ids::OrderId(1),
                number: a.number.clone(),
            },
        },
    )
    .unwrap();
    assert_eq!(a.status, Status::Merged);
    assert_eq!(b.merged_from.len(), 1);
    let e = run(
        &w,
        &mut a,
        &mut ha,
        &d,
        Command::Withdraw { reason: "x".into() },
    )
    .unwrap_err();
    assert!(matches!(e, DomainError::Conflict(_)));
}

#[test]
fn an_instant_answer_closes_the_order_at_acceptance() {
    let w = World::new();
    let a = agent();
    let answer = InstantAnswer {
        knowledge_entry_id: "KB-001".into(),
        knowledge_version: None,
        answer: Some("办理地点在政务大厅".into()),
    };
    let (o, ev) = Order::accept(new_order(Flags::default()), Some(answer), &w.ctx(&a)).unwrap();
    assert_eq!(o.status, Status::Closed);
    assert_eq!(o.closure, Some(Closure::InstantAnswer));
    assert_eq!(ev.len(), 2);
    assert_eq!(Order::replay(&ev).unwrap(), o);
    let e = Order::accept(new_order(Flags::default()), None, &w.ctx(&leader())).unwrap_err();
    assert!(matches!(e, DomainError::Forbidden(_)));
}

#[test]
fn a_repeat_is_flagged_and_linked_in_its_history() {
    let w = World::new();
    let a = agent();
    let link = RepeatLink {
        order: OrderRef {
            id: crate::ids::OrderId(7),
            number: "2026-11-01-000007".into(),
        },
        title: "楼下烧烤油烟".into(),
        accepted_at: w.now,
        basis: RepeatBasis::Caller,
        similarity: 0.62,
    };
    let (o, ev) = Order::accept_linked(
        new_order(Flags::default()),
        None,
        vec![link.clone()],
        &w.ctx(&a),
    )
    .unwrap();
    assert!(o.flags.repeat);
    assert_eq!(o.repeat_of, [link]);
    assert_eq!(ev[1].kind.name(), "repeat_found");
    assert_eq!(ev[1].to, Status::PendingReview);
    assert_eq!(Order::replay(&ev).unwrap(), o);
    // No links: no repeat, no event.
    let (o, ev) =
        Order::accept_linked(new_order(Flags::default()), None, vec![], &w.ctx(&a)).unwrap();
    assert!(!o.flags.repeat && o.repeat_of.is_empty());
    assert_eq!(ev.len(), 1);
}

/// Dispatched, signed, replied and checked: waiting for the callback.
fn at_callback(w: &World) -> (Order, Vec<Event>) {
    let (mut o, mut h) = accepted(w, Flags::default());
    let (d, ha) = (dispatcher(), handler(DEPT_A));
    run(
        w,
        &mut o,
        &mut h,
        &d,
        Command::Dispatch {
            targets: vec![lead(DEPT_A)],
            note: None,
        },
    )
    .unwrap();
    run(w, &mut o, &mut h, &ha, Command::Sign).unwrap();
    replied_and_checked(w, &mut o, &mut h);
    (o, h)
}

fn replied_and_checked(w: &World, o: &mut Order, h: &mut Vec<Event>) {
    run(
        w,
        o,
        h,
        &handler(DEPT_A),
        Command::Reply {
            content: "已处理".into(),
            contacted_citizen: true,
        },
    )
    .unwrap();
    run(
        w,
        o,
        h,
        &dispatcher(),
        Command::Check {
            approve: true,
            comment: None,
        },
    )
    .unwrap();
    assert_eq!(o.status, Status::CallbackPending);
}

#[test]
fn a_citizen_not_reached_three_times_closes_the_order_without_callback() {
    let w = World::new();
    let (mut o, mut h) = at_callback(&w);
    let cb = callback();
    let attempt = |o: &mut Order, h: &mut Vec<Event>| {
        run(
            &w,
            o,
            h,
            &cb,
            Command::CallbackAttempt {
                note: Some("无人接听".into()),
            },
        )
    };
    attempt(&mut o, &mut h).unwrap();
    attempt(&mut o, &mut h).unwrap();
    assert_eq!(
        (o.status, o.callback_attempts),
        (Status::CallbackPending, 2)
    );
    // Only callback staff record attempts, and only while a callback is due.
    let e = run(
        &w,
        &mut o.clone(),
        &mut h.clone(),
        &dispatcher(),
        Command::CallbackAttempt { note: None },
    );
    assert!(matches!(e, Err(DomainError::Forbidden(_))), "{e:?}");
    attempt(&mut o, &mut h).unwrap();
    assert_eq!(o.status, Status::Closed);
    assert_eq!(o.closure, Some(Closure::WithoutCallback));
    let kinds: Vec<&str> = h.iter().rev().take(2).map(|e| e.kind.name()).collect();
    assert_eq!(kinds, ["closed_without_callback", "callback_not_reached"]);
    assert!(attempt(&mut o, &mut h).is_err());
    assert_eq!(Order::replay(&h).unwrap(), o);
}

#[test]
fn after_two_rounds_of_rehandling_an_unsatisfied_callback_escalates_to_supervision() {
    let w = World::new();
    let (mut o, mut h) = at_callback(&w);
    let unsatisfied = Command::Callback {
        satisfaction: Satisfaction::Dissatisfied,
        resolved: false,
        comment: None,
    };
    // A failed attempt in the first round does not count in the next.
    run(
        &w,
        &mut o,
        &mut h,
        &callback(),
        Command::CallbackAttempt { note: None },
    )
    .unwrap();
    for round in 1..=2 {
        run(&w, &mut o, &mut h, &callback(), unsatisfied.clone()).unwrap();
        assert_eq!((o.status, o.rehandle_count), (Status::Handling, round));
        assert_eq!(o.callback_attempts, 0);
        replied_and_checked(&w, &mut o, &mut h);
    }
    run(&w, &mut o, &mut h, &callback(), unsatisfied).unwrap();
    assert_eq!(o.status, Status::Closed);
    assert_eq!(o.closure, Some(Closure::Callback));
    assert!(o.escalated);
    assert_eq!(o.rehandle_count, 2);
    assert_eq!(h.last().unwrap().kind.label(), "回访不满意，转督办");
    assert_eq!(Order::replay(&h).unwrap(), o);
}

/// What orders count towards in the centre's figures (`crate::stats`), at each step.
#[test]
fn an_orders_facts_follow_its_history_with_deadlines_extensions_and_rehandling() {
    use crate::stats::OrderFacts;
    let mut w = World::new();
    let (mut o, mut h) = accepted(&w, Flags::default());
    let f = OrderFacts::of(&o);
    assert!(!f.dispatched && f.lead.is_none() && !f.completed);
    let (d, ha) = (dispatcher(), handler(DEPT_A));
    run(
        &w,
        &mut o,
        &mut h,
        &d,
        Command::Dispatch {
            targets: vec![lead(DEPT_A), co(TOWN_A)],
            note: None,
        },
    )
    .unwrap();
    let sign_due = o.assignments[0].sign_deadline.as_ref().unwrap().due;
    // Signed a minute late: dispatched, not responded in time.
    w.now = sign_due + Duration::minutes(1);
    run(&w, &mut o, &mut h, &ha, Command::Sign).unwrap();
    let f = OrderFacts::of(&o);
    assert_eq!(f.lead, Some(DEPT_A));
    assert!(f.dispatched && !f.signed_on_time && !f.completed);
    // An extension moves the reply deadline: a reply after the first deadline but before
    // the extended one is on time.
    run(
        &w,
        &mut o,
        &mut h,
        &ha,
        Command::RequestExtension {
            days: 2,
            reason: "需协调".into(),
        },
    )
    .unwrap();
    let first_due = o.deadlines.reply.as_ref().unwrap().due;
    run(
        &w,
        &mut o,
        &mut h,
        &d,
        Command::ReviewExtension {
            approve: true,
            comment: None,
        },
    )
    .unwrap();
    w.now = first_due + Duration::hours(1);
    run(
        &w,
        &mut o,
        &mut h,
        &ha,
        Command::Reply {
            content: "已处理".into(),
            contacted_citizen: true,
        },
    )
    .unwrap();
    let f = OrderFacts::of(&o);
    assert!(f.completed && f.completed_on_time && !f.callback_due);
    run(
        &w,
        &mut o,
        &mut h,
        &d,
        Command::Check {
            approve: true,
            comment: None,
        },
    )
    .unwrap();
    // Dissatisfied: back to the unit, no longer completed, counted as called back.
    run(
        &w,
        &mut o,
        &mut h,
        &callback(),
        Command::Callback {
            satisfaction: Satisfaction::Dissatisfied,
            resolved: false,
            comment: None,
        },
    )
    .unwrap();
    let f = OrderFacts::of(&o);
    assert!(f.rehandled && f.called_back && !f.resolved && !f.completed);
    assert_eq!(f.satisfaction, Some(Satisfaction::Dissatisfied));
    // Replied again after the new deadline: completed late; the second callback counts.
    w.now = o.deadlines.reply.as_ref().unwrap().due + Duration::hours(1);
    run(
        &w,
        &mut o,
        &mut h,
        &ha,
        Command::Reply {
            content: "已重新处理".into(),
            contacted_citizen: true,
        },
    )
    .unwrap();
    run(
        &w,
        &mut o,
        &mut h,
        &d,
        Command::Check {
            approve: true,
            comment: None,
        },
    )
    .unwrap();
    run(
        &w,
        &mut o,
        &mut h,
        &callback(),
        Command::Callback {
            satisfaction: Satisfaction::BasicallySatisfied,
            resolved: true,
            comment: None,
        },
    )
    .unwrap();
    let f = OrderFacts::of(&o);
    assert_eq!(o.status, Status::Closed);
    assert!(f.completed && !f.completed_on_time && f.callback_due && f.resolved);
    assert_eq!(f.satisfaction, Some(Satisfaction::BasicallySatisfied));
}

#[test]
fn a_returned_order_counts_for_the_unit_it_is_dispatched_to_next() {
    use crate::stats::OrderFacts;
    let w = World::new();
    let (mut o, mut h) = accepted(&w, Flags::default());
    let d = dispatcher();
    run(
        &w,
        &mut o,
        &mut h,
        &d,
        Command::Dispatch {
            targets: vec![lead(DEPT_A)],
            note: None,
        },
    )
    .unwrap();
    run(
        &w,
        &mut o,
        &mut h,
        &handler(DEPT_A),
        Command::Return {
            reason: "不属于本单位职责".into(),
        },
    )
    .unwrap();
    assert!(!OrderFacts::of(&o).dispatched, "back with the centre");
    run(
        &w,
        &mut o,
        &mut h,
        &d,
        Command::Dispatch {
            targets: vec![lead(DEPT_B)],
            note: None,
        },
    )
    .unwrap();
    run(&w, &mut o, &mut h, &handler(DEPT_B), Command::Sign).unwrap();
    let f = OrderFacts::of(&o);
    assert_eq!(f.lead, Some(DEPT_B));
    assert!(f.signed_on_time);
}

// ---- property tests -------------------------------------------------------------------------

/// Mostly someone whose role fits the command, sometimes anyone (to exercise refusals).
fn pick_actor(people: &[Actor], cmd: &Command, choice: usize, anyone: bool) -> Actor {
    let pool: &[usize] = if anyone {
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    } else {
        match cmd {
            Command::Dispatch { .. } | Command::Check { .. } | Command::ReviewExtension { .. } => {
                &[1, 1, 3]
            }
            Command::Invalidate { .. } | Command::MergeInto { .. } | Command::Amend { .. } => &[1],
            Command::Callback { .. } => &[2],
            Command::Alert => &[11],
            Command::Close { .. } | Command::Withdraw { .. } => &[0, 1, 2],
            _ => &[3, 4, 5, 6, 7, 8, 10],
        }
    };
    people[pool[choice % pool.len()]].clone()
}

fn actors() -> Vec<Actor> {
    vec![
        agent(),
        dispatcher(),
        callback(),
        district(),
        handler(TOWN_A),
        handler(TOWN_B),
        handler(COMMUNITY),
        handler(DEPT_A),
        handler(DEPT_B),
        leader(),
        actor(6, DEPT_A, &[Role::UnitAdmin]),
        system(),
    ]
}

const UNITS: [UnitId; 8] = [
    CITY,
    DISTRICT,
    TOWN_A,
    TOWN_B,
    COMMUNITY,
    DEPT_A,
    DEPT_B,
    UnitId(99),
];

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("理由".to_string()),
        Just("已办理完毕".to_string())
    ]
}

fn arb_targets() -> impl Strategy<Value = Vec<DispatchTarget>> {
    prop::collection::vec(
        (
            prop::sample::select(UNITS.to_vec()),
            prop::bool::weighted(0.6),
        )
            .prop_map(|(u, l)| DispatchTarget {
                unit_id: u,
                role: if l {
                    AssignmentRole::Lead
                } else {
                    AssignmentRole::Co
                },
            }),
        0..4,
    )
}

fn arb_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        3 => (arb_targets(), prop::option::of(arb_text())).prop_map(|(targets, note)| Command::Dispatch { targets, note }),
        1 => prop::collection::vec(prop::sample::select(UNITS.to_vec()), 0..3).prop_map(|units| Command::SubDispatch { units, note: None }),
        3 => Just(Command::Sign),
        2 => arb_text().prop_map(|reason| Command::Return { reason }),
        1 => arb_text().prop_map(|text| Command::Note { text }),
        1 => (0u32..8, arb_text()).prop_map(|(days, reason)| Command::RequestExtension { days, reason }),
        1 => (any::<bool>(), prop::option::of(arb_text())).prop_map(|(approve, comment)| Command::ReviewExtension { approve, comment }),
        3 => (arb_text(), any::<bool>()).prop_map(|(content, contacted_citizen)| Command::Reply { content, contacted_citizen }),
        2 => (any::<bool>(), prop::option::of(arb_text())).prop_map(|(approve, comment)| Command::Check { approve, comment }),
        2 => (prop::sample::select(Satisfaction::ALL.to_vec()), any::<bool>()).prop_map(|(satisfaction, resolved)| Command::Callback { satisfaction, resolved, comment: None }),
        1 => (prop::option::of(Just(InstantAnswer { knowledge_entry_id: "KB-1".into(), knowledge_version: None, answer: None })), prop::option::of(arb_text()))
            .prop_map(|(instant_answer, reason)| Command::Close { instant_answer, reason }),
        1 => arb_text().prop_map(|reason| Command::Withdraw { reason }),
        3 => Just(Command::Alert),
        1 => arb_text().prop_map(|reason| Command::Invalidate { reason }),
        1 => (prop::sample::select(Status::ALL.to_vec()), arb_text()).prop_map(|(target_status, reason)| Command::MergeInto {
            target: OrderRef { id: crate::ids::OrderId(77), number: "2026-01-01-000077".into() },
            target_status,
            reason,
        }),
        1 => (prop::option::of(prop::sample::select(RequestType::ALL.to_vec())), arb_text()).prop_map(|(request_type, reason)| Command::Amend {
            request_type,
            category: None,
            region_code: None,
            urgency: None,
            flags: FlagsPatch::default(),
            reason,
        }),
    ]
}

/// Invariants every reachable state satisfies.
fn check_invariants(o: &Order) -> Result<(), String> {
    let active_leads: Vec<&Assignment> = o
        .assignments
        .iter()
        .filter(|a| a.role == AssignmentRole::Lead && a.status.is_active())
        .collect();
    if active_leads.len() > 1 {
        return Err(format!("{} active leads", active_leads.len()));
    }
    let lead = active_leads.first().map(|a| a.status);
    let any_active = o.assignments.iter().any(|a| a.status.is_active());
    let ok = match o.status {
        Status::PendingReview => o.assignments.is_empty(),
        Status::Returned => !any_active,
        Status::Dispatched => lead == Some(AssignmentStatus::PendingSign),
        Status::Handling => lead == Some(AssignmentStatus::Handling),
        Status::Replied | Status::CallbackPending => lead == Some(AssignmentStatus::Replied),
        Status::Closed => o.closure.is_some(),
        Status::Withdrawn | Status::Invalid | Status::Merged => !any_active,
    };
    if !ok {
        return Err(format!(
            "status {:?} inconsistent with lead {:?}",
            o.status, lead
        ));
    }
    if o.status.is_terminal() != o.closed_at.is_some() {
        return Err("closed_at disagrees with status".into());
    }
    if (o.status == Status::Closed) != o.closure.is_some() {
        return Err("closure disagrees with status".into());
    }
    for a in &o.assignments {
        if let Some(p) = a.parent
            && p >= a.no
        {
            return Err("an assignment's parent comes after it".into());
        }
        if a.status.is_active()
            && a.parent.is_some_and(|p| {
                o.assignment(p).is_none_or(|pa| {
                    !pa.status.is_active() && pa.status != AssignmentStatus::Forwarded
                })
            })
        {
            return Err(format!(
                "assignment {} is active below an inactive parent",
                a.no
            ));
        }
    }
    let units: Vec<_> = o
        .assignments
        .iter()
        .filter(|a| a.status.is_active())
        .map(|a| a.unit_id)
        .collect();
    let mut dedup = units.clone();
    dedup.sort();
    dedup.dedup();
    if dedup.len() != units.len() {
        return Err("a unit holds the order twice".into());
    }
    if o.flags.emergency && o.extension.is_some() {
        return Err("an emergency was extended".into());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random command sequences never reach a state the machine forbids; failed commands change
    /// nothing; terminal states accept nothing; replay rebuilds exactly the current state.
    #[test]
    fn random_command_sequences_keep_the_machine_consistent(
        emergency in any::<bool>(),
        steps in prop::collection::vec((0usize..11, prop::bool::weighted(0.15), arb_command(), 0i64..72), 1..60),
    ) {
        let mut w = World::new();
        let (mut o, mut history) = accepted(&w, Flags { emergency, ..Flags::default() });
        let people = actors();
        let mut applied = 0;
        // The maintained aggregates: moved by each change's deltas, they must always hold
        // exactly the current state's tally.
        let mut rows: std::collections::BTreeMap<(crate::stats::Dim, i64, String), [i64; 16]> =
            std::collections::BTreeMap::new();
        let mut tally = crate::stats::Tally::of(&o);
        let add = |rows: &mut std::collections::BTreeMap<_, [i64; 16]>, d: Vec<(crate::stats::Dim, i64, &str, [i64; 16])>| {
            for (dim, day, key, x) in d {
                let r = rows.entry((dim, day, key.to_string())).or_insert([0; 16]);
                for (a, b) in r.iter_mut().zip(x) {
                    *a += b;
                }
            }
        };
        add(&mut rows, tally.deltas(None));
        for (who, anyone, cmd, hours) in steps {
            w.now += Duration::hours(hours);
            let before = o.clone();
            let was_terminal = o.status.is_terminal();
            let who = pick_actor(&people, &cmd, who, anyone);
            match o.execute(&cmd, &w.ctx(&who)) {
                Ok(ev) => {
                    prop_assert!(!was_terminal, "{} succeeded on a terminal order", cmd.name());
                    prop_assert!(!ev.is_empty());
                    for e in &ev {
                        prop_assert_eq!(e.seq as usize, history.len() + 1);
                        history.push(e.clone());
                    }
                    applied += 1;
                }
                Err(_) => prop_assert_eq!(&o, &before, "a failed {} changed the order", cmd.name()),
            }
            if let Err(msg) = check_invariants(&o) {
                prop_assert!(false, "after {}: {}", cmd.name(), msg);
            }
            let now = crate::stats::Tally::of(&o);
            add(&mut rows, now.deltas(Some(&tally)));
            tally = now;
            rows.retain(|_, x| x.iter().any(|v| *v != 0));
            let mut fresh = std::collections::BTreeMap::new();
            add(&mut fresh, tally.deltas(None));
            fresh.retain(|_, x: &mut [i64; 16]| x.iter().any(|v| *v != 0));
            prop_assert_eq!(&rows, &fresh, "aggregates after {}", cmd.name());
            prop_assert_eq!(o.version as usize, history.len());
            // Every alert due by now has gone out once an Alert succeeded.
            if matches!(cmd, Command::Alert) && o.version as usize > before.version as usize {
                prop_assert!(o.next_alert().is_none_or(|(at, _)| at > w.now), "an alert due by now is still pending");
            }
        }
        let replayed = Order::replay(&history);
        prop_assert_eq!(replayed.as_ref(), Some(&o), "replay after {} commands", applied);
    }
}

/// The property test is only as good as the states it reaches: check that random walks from
/// the same generators visit every status of the machine.
#[test]
fn random_walks_reach_every_status() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = prop::collection::vec(
        (0usize..11, prop::bool::weighted(0.15), arb_command()),
        1..80,
    );
    let people = actors();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..3000 {
        let steps = strategy.new_tree(&mut runner).unwrap().current();
        let w = World::new();
        let (mut o, _) = accepted(&w, Flags::default());
        for (who, anyone, cmd) in steps {
            let who = pick_actor(&people, &cmd, who, anyone);
            let _ = o.execute(&cmd, &w.ctx(&who));
            seen.insert(o.status);
        }
    }
    let missing: Vec<_> = Status::ALL.iter().filter(|s| !seen.contains(s)).collect();
    assert!(missing.is_empty(), "never reached: {missing:?}");
}

#[test]
fn each_stage_gets_its_deadline_and_alerts_go_out_once_in_order() {
    let mut w = World::new();
    let (mut o, mut h) = accepted(&w, Flags::default());
    // Monday 09:00: dispatch within 1 working day, reminders at 5, 3 and 1 hours before.
    let d = o.deadlines.dispatch.clone().unwrap();
    assert_eq!(
        d.due,
        DateTime::parse_from_rfc3339("2026-03-03T17:30:00+08:00").unwrap()
    );
    assert_eq!(d.reminders, vec![300, 180, 60]);
    assert_eq!(o.next_alert().unwrap().0, d.due - Duration::hours(5));
    let sys = system();
    let e = o.execute(&Command::Alert, &w.ctx(&sys)).unwrap_err();
    assert!(matches!(e, DomainError::Conflict(_)), "nothing due yet");
    let e = o
        .execute(&Command::Alert, &w.ctx(&dispatcher()))
        .unwrap_err();
    assert!(
        matches!(e, DomainError::Forbidden(_)),
        "only the platform sends alerts"
    );
    // The server was down until after the deadline: every missed alert goes out, once.
    w.now = d.due + Duration::minutes(5);
    run(&w, &mut o, &mut h, &sys, Command::Alert).unwrap();
    let kinds: Vec<&str> = h.iter().skip(1).map(|e| e.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "reminder_sent",
            "reminder_sent",
            "reminder_sent",
            "overdue_marked"
        ]
    );
    assert_eq!(o.late.len(), 1);
    assert_eq!(o.late[0].stage, Stage::Dispatch);
    assert!(o.next_alert().is_none());
    assert!(
        o.execute(&Command::Alert, &w.ctx(&sys)).is_err(),
        "none twice"
    );
    // Dispatching starts the sign and reply deadlines; the running one is the lead's sign.
    run(
        &w,
        &mut o,
        &mut h,
        &dispatcher(),
        Command::Dispatch {
            targets: vec![lead(DEPT_A)],
            note: None,
        },
    )
    .unwrap();
    assert_eq!(o.running_deadline().unwrap().stage, Stage::Sign);
    assert_eq!(o.responsible_unit(), DEPT_A);
    run(&w, &mut o, &mut h, &handler(DEPT_A), Command::Sign).unwrap();
    assert_eq!(o.running_deadline().unwrap().stage, Stage::Reply);
    run(
        &w,
        &mut o,
        &mut h,
        &handler(DEPT_A),
        Command::Reply {
            content: "已办".into(),
            contacted_citizen: true,
        },
    )
    .unwrap();
    assert_eq!(o.running_deadline().unwrap().stage, Stage::Check);
    assert_eq!(o.responsible_unit(), CITY);
    run(
        &w,
        &mut o,
        &mut h,
        &dispatcher(),
        Command::Check {
            approve: true,
            comment: None,
        },
    )
    .unwrap();
    assert_eq!(o.running_deadline().unwrap().stage, Stage::Callback);
    assert_eq!(Order::replay(&h).unwrap(), o);
}

#[test]
fn reminders_already_past_when_a_deadline_starts_running_are_not_sent() {
    let mut w = World::new();
    let (mut o, mut h) = accepted(&w, Flags::default());
    run(
        &w,
        &mut o,
        &mut h,
        &dispatcher(),
        Command::Dispatch {
            targets: vec![lead(DEPT_A)],
            note: None,
        },
    )
    .unwrap();
    // Signed two working days later: the reply deadline (3 working days) is 1 day away.
    w.now += Duration::days(2);
    run(&w, &mut o, &mut h, &handler(DEPT_A), Command::Sign).unwrap();
    let reply = o.deadlines.reply.clone().unwrap();
    let a = o.alerts.clone().unwrap();
    assert_eq!((a.stage, a.due), (Stage::Reply, reply.due));
    assert_eq!(
        a.reminders_done, 0,
        "none of the reply reminders was past yet"
    );
    w.now = reply.due - Duration::minutes(100);
    run(&w, &mut o, &mut h, &system(), Command::Alert).unwrap();
    assert_eq!(
        o.alerts.as_ref().unwrap().reminders_done,
        2,
        "5 h and 3 h reminders"
    );
    // An approved extension moves the deadline: its alerts start afresh.
    run(
        &w,
        &mut o,
        &mut h,
        &handler(DEPT_A),
        Command::RequestExtension {
            days: 2,
            reason: "协调".into(),
        },
    )
    .unwrap();
    run(
        &w,
        &mut o,
        &mut h,
        &dispatcher(),
        Command::ReviewExtension {
            approve: true,
            comment: None,
        },
    )
    .unwrap();
    let ext = o.deadlines.reply.clone().unwrap();
    assert!(ext.due > reply.due);
    assert_eq!(ext.rule, "延期 2 个工作日");
    assert_eq!(o.alerts.as_ref().unwrap().reminders_done, 0);
    assert_eq!(Order::replay(&h).unwrap(), o);
}

#[test]
fn an_amended_emergency_gets_the_emergency_dispatch_limit() {
    let w = World::new();
    let (mut o, mut h) = accepted(&w, Flags::default());
    let before = o.deadlines.dispatch.clone().unwrap();
    run(
        &w,
        &mut o,
        &mut h,
        &dispatcher(),
        Command::Amend {
            request_type: None,
            category: None,
            region_code: None,
            urgency: None,
            flags: FlagsPatch {
                emergency: Some(true),
                ..FlagsPatch::default()
            },
            reason: "实为突发事件".into(),
        },
    )
    .unwrap();
    let after = o.deadlines.dispatch.clone().unwrap();
    assert_eq!(after.start, before.start);
    assert_eq!(after.due, before.start + Duration::minutes(30));
    assert_eq!(after.rule, "突发事件");
}
