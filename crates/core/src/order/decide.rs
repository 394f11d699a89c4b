use super::event::{ActorRef, Event, EventKind};
use super::types::*;
use crate::calendar::{Calendar, TimeLimit};
use crate::deadline::{Deadline, Stage, TimeRules};
use crate::error::{DomainError, FieldError};
use crate::ids::{UnitId, UserId};
use crate::org::{OrgTree, UnitKind};
use crate::role::{Role, RoleSet};
use crate::values::{CategoryCode, MAX_TEXT_CHARS, RegionCode, required_text};
use chrono::{DateTime, Utc};

/// The person (or system account) issuing a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub username: String,
    pub roles: RoleSet,
    pub unit_id: UnitId,
}

impl Actor {
    /// The capacity in which the actor may do `what`: the first of `allowed` they hold.
    fn act_as(&self, allowed: &[Role], what: &str) -> Result<ActorRef, DomainError> {
        let role = self.roles.first_of(allowed).ok_or_else(|| {
            let names: Vec<&str> = allowed.iter().map(|r| r.label()).collect();
            DomainError::forbidden(format!("{what}需要以下角色之一：{}", names.join("、")))
        })?;
        Ok(ActorRef {
            user_id: self.user_id,
            username: self.username.clone(),
            role,
            unit_id: self.unit_id,
        })
    }
}

/// Everything a decision may consult besides the order itself.
pub struct Ctx<'a> {
    pub now: DateTime<Utc>,
    pub actor: &'a Actor,
    pub org: &'a OrgTree,
    pub calendar: &'a Calendar,
    pub rules: &'a TimeRules,
}

impl Ctx<'_> {
    /// The deadline of `stage` starting at `start` for an order of this kind, if the rules
    /// set one.
    fn deadline(
        &self,
        stage: Stage,
        start: DateTime<Utc>,
        t: RequestType,
        u: Urgency,
        f: &Flags,
    ) -> Result<Option<Deadline>, DomainError> {
        match self.rules.limit(stage, t, u, f) {
            None => Ok(None),
            Some((rule, limit)) => Ok(Some(Deadline::compute(
                self.calendar,
                stage,
                start,
                limit,
                rule,
                &self.rules.reminders,
            )?)),
        }
    }

    /// The deadline of `stage` starting now for `order`.
    fn deadline_for(&self, order: &Order, stage: Stage) -> Result<Option<Deadline>, DomainError> {
        self.deadline(
            stage,
            self.now,
            order.request_type,
            order.urgency,
            &order.flags,
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchTarget {
    pub unit_id: UnitId,
    pub role: AssignmentRole,
}

/// Every command of the lifecycle (DOMAIN §4) after parsing.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Correct the classification while the order waits for dispatch.
    Amend {
        request_type: Option<RequestType>,
        category: Option<CategoryCode>,
        region_code: Option<RegionCode>,
        urgency: Option<Urgency>,
        flags: FlagsPatch,
        reason: String,
    },
    /// Centre dispatch, or second-level dispatch by a district centre that holds the order.
    Dispatch {
        targets: Vec<DispatchTarget>,
        note: Option<String>,
    },
    /// A handling unit passes work down its own subtree, staying responsible.
    SubDispatch {
        units: Vec<UnitId>,
        note: Option<String>,
    },
    Sign,
    Return {
        reason: String,
    },
    Note {
        text: String,
    },
    /// Records a file stored for the order (evidence, a reply's documents).
    Attach {
        attachment: AttachmentRef,
    },
    RequestExtension {
        days: u32,
        reason: String,
    },
    ReviewExtension {
        approve: bool,
        comment: Option<String>,
    },
    Reply {
        content: String,
        contacted_citizen: bool,
    },
    Check {
        approve: bool,
        comment: Option<String>,
    },
    Callback {
        satisfaction: Satisfaction,
        resolved: bool,
        comment: Option<String>,
    },
    /// Put the order under supervision and send a notice to a unit (the lead by default),
    /// which must respond within `respond_within_hours`.
    Supervise {
        kind: NoticeKind,
        level: SupervisionLevel,
        unit_id: Option<UnitId>,
        content: String,
        respond_within_hours: u32,
    },
    /// A unit answers a supervision notice addressed to it.
    RespondNotice {
        no: u32,
        content: String,
    },
    /// The callback did not reach the citizen (未接通); the last allowed attempt closes the
    /// order without callback.
    CallbackAttempt {
        note: Option<String>,
    },
    /// 即答办结 (from pending review, citing a knowledge entry) or close without callback.
    Close {
        instant_answer: Option<InstantAnswer>,
        reason: Option<String>,
    },
    Withdraw {
        reason: String,
    },
    Invalidate {
        reason: String,
    },
    /// Merge this order into `target` (same issue reported twice).
    MergeInto {
        target: OrderRef,
        target_status: Status,
        reason: String,
    },
    /// The target's side of a merge.
    AbsorbMerge {
        source: OrderRef,
    },
    /// The scheduler: send the reminders and the overdue mark that are due by now.
    Alert,
    /// Transfer to another platform (转110 / 转公共事业热线) before dispatch. An emergency
    /// (突发) goes to 110 first: another platform only after a transfer to 110.
    Transfer {
        id: String,
        peer_id: i64,
        peer: String,
        kind: PeerKind,
        reason: String,
        close_on_accept: bool,
    },
    /// The order was dispatched to a grid cell: the platform pushes it to the grid platform
    /// (the system acts; the cell still signs and replies here).
    GridPush {
        id: String,
        peer_id: i64,
        peer: String,
        reason: String,
    },
    /// The platform's answer to a transfer (the interface, acting as the system).
    TransferAnswer {
        id: String,
        accepted: bool,
        remote_ref: Option<String>,
        reason: Option<String>,
    },
    /// The platform's report on a transfer it accepted.
    TransferStatus {
        id: String,
        status: String,
        note: Option<String>,
    },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Amend { .. } => "amend",
            Command::Dispatch { .. } => "dispatch",
            Command::SubDispatch { .. } => "sub_dispatch",
            Command::Sign => "sign",
            Command::Return { .. } => "return",
            Command::Note { .. } => "note",
            Command::Attach { .. } => "attach",
            Command::RequestExtension { .. } => "extension",
            Command::ReviewExtension { .. } => "extension_review",
            Command::Reply { .. } => "reply",
            Command::Check { .. } => "check",
            Command::Callback { .. } => "callback",
            Command::CallbackAttempt { .. } => "callback_attempt",
            Command::Supervise { .. } => "supervise",
            Command::RespondNotice { .. } => "respond_notice",
            Command::Close { .. } => "close",
            Command::Withdraw { .. } => "withdraw",
            Command::Invalidate { .. } => "invalidate",
            Command::MergeInto { .. } => "merge",
            Command::AbsorbMerge { .. } => "absorb_merge",
            Command::Alert => "alert",
            Command::Transfer { .. } => "transfer",
            Command::GridPush { .. } => "grid_push",
            Command::TransferAnswer { .. } => "transfer_answer",
            Command::TransferStatus { .. } => "transfer_status",
        }
    }
}

const UNIT_STAFF: &[Role] = &[Role::Handler, Role::UnitAdmin, Role::Dispatcher];
const MAX_TARGETS: usize = 20;
/// Rounds of re-handling after an unsatisfied callback; the next unsatisfied callback closes
/// the order and hands it to supervision (转督办).
pub const MAX_REHANDLE_ROUNDS: u32 = 2;
/// Callback attempts that may fail to reach the citizen; the last closes the order without
/// callback (免回访办结), with the attempts in its history.
pub const MAX_CALLBACK_ATTEMPTS: u32 = 3;
/// Files one order may carry.
pub const MAX_ATTACHMENTS: usize = 50;

fn reason_text(field: &str, s: &str) -> Result<String, DomainError> {
    Ok(required_text(field, s, 2_000)?)
}

impl Order {
    /// 受理: records a new order; with `instant_answer` it is closed on the spot (即答办结).
    pub fn accept(
        new: NewOrder,
        instant_answer: Option<InstantAnswer>,
        ctx: &Ctx,
    ) -> Result<(Order, Vec<Event>), DomainError> {
        Order::accept_linked(new, instant_answer, Vec::new(), ctx)
    }

    /// 受理 of a request that repeats earlier orders (`repeats`, found by the caller): the
    /// order is flagged as a repeat and linked to them in its history.
    pub fn accept_linked(
        new: NewOrder,
        instant_answer: Option<InstantAnswer>,
        repeats: Vec<RepeatLink>,
        ctx: &Ctx,
    ) -> Result<(Order, Vec<Event>), DomainError> {
        let actor = ctx
            .actor
            .act_as(&[Role::Agent, Role::Dispatcher, Role::System], "受理诉求")?;
        let centre_id = ctx
            .org
            .centre_of(ctx.actor.unit_id)
            .ok_or_else(|| DomainError::forbidden("受理人员须隶属于热线中心"))?;
        let mut kinds = Vec::with_capacity(2);
        let dispatch = match &instant_answer {
            Some(_) => None,
            None => ctx.deadline(
                Stage::Dispatch,
                ctx.now,
                new.request_type,
                new.urgency,
                &new.flags,
            )?,
        };
        kinds.push(EventKind::Accepted {
            number: String::new(),
            order: Box::new(new),
            centre_id,
            dispatch,
        });
        if !repeats.is_empty() {
            kinds.push(EventKind::RepeatFound { of: repeats });
        }
        if let Some(answer) = instant_answer {
            kinds.push(EventKind::InstantAnswered {
                answer: check_instant_answer(answer)?,
            });
        }
        let mut events = Vec::with_capacity(kinds.len());
        let mut order: Option<Order> = None;
        for (i, kind) in kinds.into_iter().enumerate() {
            let from = order.as_ref().map(|o| o.status);
            let event = Event {
                seq: i as u32 + 1,
                at: ctx.now,
                actor: actor.clone(),
                from,
                to: Status::PendingReview,
                kind,
            };
            let next = match order.take() {
                None => Order::from_accepted(&event),
                Some(mut o) => {
                    o.apply(&event);
                    Some(o)
                }
            };
            let next = next.ok_or_else(|| DomainError::conflict("受理事件无效"))?;
            let mut event = event;
            event.to = next.status;
            events.push(event);
            order = Some(next);
        }
        let order = order.ok_or_else(|| DomainError::conflict("受理事件无效"))?;
        Ok((order, events))
    }

    /// Sets the human-readable number, allocated by storage at commit time.
    pub fn assign_number(&mut self, events: &mut [Event], number: &str) {
        self.number = number.to_string();
        for e in events {
            if let EventKind::Accepted { number: n, .. } = &mut e.kind {
                *n = number.to_string();
            }
        }
    }

    /// Decides `cmd` and folds the resulting events into `self`; returns the events to store.
    /// On error `self` is unchanged.
    pub fn execute(&mut self, cmd: &Command, ctx: &Ctx) -> Result<Vec<Event>, DomainError> {
        let (actor, kinds) = self.decide(cmd, ctx)?;
        let mut events = Vec::with_capacity(kinds.len());
        for kind in kinds {
            let mut event = Event {
                seq: self.version + 1,
                at: ctx.now,
                actor: actor.clone(),
                from: Some(self.status),
                to: self.status,
                kind,
            };
            self.apply(&event);
            event.to = self.status;
            events.push(event);
        }
        Ok(events)
    }

    /// The rules of the lifecycle: which events `cmd` produces now, or why it may not.
    pub fn decide(
        &self,
        cmd: &Command,
        ctx: &Ctx,
    ) -> Result<(ActorRef, Vec<EventKind>), DomainError> {
        let actor = ctx.actor;
        match cmd {
            Command::Amend {
                request_type,
                category,
                region_code,
                urgency,
                flags,
                reason,
            } => {
                let who = actor.act_as(&[Role::Dispatcher, Role::Agent], "修改分类")?;
                self.ensure_centre_staff(ctx, "修改分类")?;
                self.ensure_status(&[Status::PendingReview, Status::Returned], "修改分类")?;
                let new_flags = flags.apply(self.flags);
                let flags = (new_flags != self.flags).then_some(new_flags);
                if request_type.is_none()
                    && category.is_none()
                    && region_code.is_none()
                    && urgency.is_none()
                    && flags.is_none()
                {
                    return Err(DomainError::invalid("request_type", "没有需要修改的内容"));
                }
                // A new classification may change the dispatch limit (say, now an emergency):
                // the deadline is recomputed from when the stage started.
                let dispatch = match &self.deadlines.dispatch {
                    Some(d) => ctx
                        .deadline(
                            Stage::Dispatch,
                            d.start,
                            request_type.unwrap_or(self.request_type),
                            urgency.unwrap_or(self.urgency),
                            &flags.unwrap_or(self.flags),
                        )?
                        .filter(|n| n.due != d.due),
                    None => None,
                };
                Ok((
                    who,
                    vec![EventKind::Amended {
                        request_type: *request_type,
                        category: category.clone(),
                        region_code: region_code.clone(),
                        urgency: *urgency,
                        flags,
                        reason: reason_text("reason", reason)?,
                        dispatch,
                    }],
                ))
            }
            Command::Dispatch { targets, note } => {
                let who = actor.act_as(&[Role::Dispatcher], "派单")?;
                let note = optional_note(note)?;
                match self.status {
                    Status::PendingReview | Status::Returned => {
                        self.ensure_centre_staff(ctx, "派单")?;
                        let targets = self.check_targets(ctx, targets, actor.unit_id, true)?;
                        Ok((
                            who,
                            vec![EventKind::Dispatched {
                                parent: None,
                                targets,
                                reply: ctx.deadline_for(self, Stage::Reply)?,
                                sign: ctx.deadline_for(self, Stage::Sign)?,
                                note,
                            }],
                        ))
                    }
                    Status::Dispatched | Status::Handling => {
                        // Second-level dispatch (二级派单): a district centre passes on what it holds.
                        let held = self.held_assignment(actor, "二次派单")?;
                        let unit = ctx.org.get(actor.unit_id);
                        if !unit.is_some_and(|u| u.kind == UnitKind::DistrictCentre) {
                            return Err(DomainError::forbidden(
                                "只有区县中心可以二次派单；承办单位请使用“下派”",
                            ));
                        }
                        if !held.status.is_open() {
                            return Err(DomainError::conflict("本中心已反馈该工单，不能再派单"));
                        }
                        let lead_required = held.role == AssignmentRole::Lead;
                        let targets =
                            self.check_targets(ctx, targets, actor.unit_id, lead_required)?;
                        Ok((
                            who,
                            vec![EventKind::Dispatched {
                                parent: Some(held.no),
                                targets,
                                reply: None,
                                sign: ctx.deadline_for(self, Stage::Sign)?,
                                note,
                            }],
                        ))
                    }
                    _ => Err(self.state_conflict("派单")),
                }
            }
            Command::SubDispatch { units, note } => {
                let who = actor.act_as(&[Role::Handler, Role::UnitAdmin], "下派")?;
                let held = self.held_assignment(actor, "下派")?;
                if held.status != AssignmentStatus::Handling {
                    return Err(DomainError::conflict("请先签收后再下派"));
                }
                let targets: Vec<DispatchTarget> = units
                    .iter()
                    .map(|u| DispatchTarget {
                        unit_id: *u,
                        role: AssignmentRole::Sub,
                    })
                    .collect();
                let targets = self.check_targets(ctx, &targets, actor.unit_id, false)?;
                Ok((
                    who,
                    vec![EventKind::Dispatched {
                        parent: Some(held.no),
                        targets,
                        reply: None,
                        sign: ctx.deadline_for(self, Stage::Sign)?,
                        note: optional_note(note)?,
                    }],
                ))
            }
            Command::Sign => {
                let who = actor.act_as(UNIT_STAFF, "签收")?;
                let held = self.held_assignment(actor, "签收")?;
                if held.status != AssignmentStatus::PendingSign {
                    return Err(DomainError::conflict(format!(
                        "本单位的承办状态为“{}”，无需再签收",
                        held.status.label()
                    )));
                }
                Ok((
                    who,
                    vec![EventKind::Signed {
                        assignment: held.no,
                    }],
                ))
            }
            Command::Return { reason } => {
                let who = actor.act_as(UNIT_STAFF, "退单")?;
                let held = self.held_assignment(actor, "退单")?;
                if !held.status.is_open() {
                    return Err(DomainError::conflict("已反馈的工单不能退回"));
                }
                let reason = reason_text("reason", reason)?;
                let dispatch = if held.role == AssignmentRole::Lead && held.parent.is_none() {
                    ctx.deadline_for(self, Stage::Dispatch)?
                } else {
                    None
                };
                Ok((
                    who,
                    vec![EventKind::Returned {
                        assignment: held.no,
                        reason,
                        dispatch,
                    }],
                ))
            }
            Command::Note { text } => {
                let who = self.contributor(actor, ctx, "添加办理记录")?;
                Ok((
                    who,
                    vec![EventKind::NoteAdded {
                        text: required_text("text", text, MAX_TEXT_CHARS)?,
                    }],
                ))
            }
            Command::Attach { attachment } => {
                let who = self.contributor(actor, ctx, "上传附件")?;
                if self.attachments.len() >= MAX_ATTACHMENTS {
                    return Err(DomainError::invalid(
                        "file",
                        format!("每个工单最多 {MAX_ATTACHMENTS} 个附件"),
                    ));
                }
                let mut attachment = attachment.clone();
                attachment.name = required_text("file", &attachment.name, 200)?;
                Ok((who, vec![EventKind::AttachmentAdded { attachment }]))
            }
            Command::RequestExtension { days, reason } => {
                let who = actor.act_as(&[Role::Handler, Role::UnitAdmin], "申请延期")?;
                let held = self.held_assignment(actor, "申请延期")?;
                if held.role != AssignmentRole::Lead {
                    return Err(DomainError::forbidden("只有主办单位可以申请延期"));
                }
                if held.status != AssignmentStatus::Handling {
                    return Err(DomainError::conflict("请先签收后再申请延期"));
                }
                if self.flags.emergency {
                    return Err(DomainError::conflict("突发类工单不能延期"));
                }
                if self.extension.is_some() {
                    return Err(DomainError::conflict("每件工单只能申请一次延期"));
                }
                if *days == 0 || *days > ctx.rules.max_extension_days {
                    return Err(DomainError::invalid(
                        "days",
                        format!(
                            "延期天数应为 1 至 {} 个工作日",
                            ctx.rules.max_extension_days
                        ),
                    ));
                }
                Ok((
                    who,
                    vec![EventKind::ExtensionRequested {
                        days: *days,
                        reason: reason_text("reason", reason)?,
                    }],
                ))
            }
            Command::ReviewExtension { approve, comment } => {
                let who = actor.act_as(&[Role::Dispatcher], "审批延期")?;
                self.ensure_centre_staff(ctx, "审批延期")?;
                let ext = match &self.extension {
                    Some(e) if e.approved.is_none() => e,
                    _ => return Err(DomainError::conflict("该工单没有待审批的延期申请")),
                };
                if self.status != Status::Handling {
                    return Err(self.state_conflict("审批延期"));
                }
                let comment = match (approve, comment) {
                    (false, c) => Some(reason_text("comment", c.as_deref().unwrap_or(""))?),
                    (true, c) => optional_note(c)?,
                };
                // An extension runs on from the deadline it extends.
                let reply = if *approve {
                    let base = self
                        .deadlines
                        .reply
                        .as_ref()
                        .map(|d| d.due)
                        .unwrap_or(ctx.now);
                    Some(Deadline::compute(
                        ctx.calendar,
                        Stage::Reply,
                        base,
                        TimeLimit::WorkingDays(ext.days),
                        &format!("延期 {} 个工作日", ext.days),
                        &ctx.rules.reminders,
                    )?)
                } else {
                    None
                };
                Ok((
                    who,
                    vec![EventKind::ExtensionDecided {
                        approved: *approve,
                        comment,
                        reply,
                    }],
                ))
            }
            Command::Reply {
                content,
                contacted_citizen,
            } => {
                let who = actor.act_as(UNIT_STAFF, "反馈")?;
                let held = self.held_assignment(actor, "反馈")?;
                match held.status {
                    AssignmentStatus::PendingSign => {
                        return Err(DomainError::conflict("请先签收后再反馈"));
                    }
                    AssignmentStatus::Replied => {
                        return Err(DomainError::conflict("本单位已反馈，等待中心核验"));
                    }
                    _ => {}
                }
                if held.role == AssignmentRole::Lead {
                    let open_children = self
                        .assignments
                        .iter()
                        .filter(|a| {
                            a.parent == Some(held.no)
                                && a.role == AssignmentRole::Sub
                                && a.status.is_open()
                        })
                        .count();
                    if open_children > 0 {
                        return Err(DomainError::conflict(format!(
                            "还有 {open_children} 个下派单位尚未反馈"
                        )));
                    }
                }
                Ok((
                    who,
                    vec![EventKind::Replied {
                        assignment: held.no,
                        content: required_text("content", content, MAX_TEXT_CHARS)?,
                        contacted_citizen: *contacted_citizen,
                        check: if held.role == AssignmentRole::Lead {
                            ctx.deadline_for(self, Stage::Check)?
                        } else {
                            None
                        },
                    }],
                ))
            }
            Command::Check { approve, comment } => {
                let who = actor.act_as(&[Role::Dispatcher], "核验")?;
                self.ensure_centre_staff(ctx, "核验")?;
                self.ensure_status(&[Status::Replied], "核验")?;
                let comment = if *approve {
                    optional_note(comment)?
                } else {
                    Some(reason_text("comment", comment.as_deref().unwrap_or(""))?)
                };
                Ok((
                    who,
                    vec![EventKind::Checked {
                        approved: *approve,
                        comment,
                        callback: if *approve {
                            ctx.deadline_for(self, Stage::Callback)?
                        } else {
                            None
                        },
                    }],
                ))
            }
            Command::Callback {
                satisfaction,
                resolved,
                comment,
            } => {
                // System: the citizen's own rating on the portal.
                let who = actor.act_as(&[Role::Callback, Role::System], "回访")?;
                self.ensure_status(&[Status::CallbackPending], "回访")?;
                let ok = *resolved && *satisfaction != Satisfaction::Dissatisfied;
                // Re-handling has a limit; after it, supervision takes over.
                let escalated = !ok && self.rehandle_count >= MAX_REHANDLE_ROUNDS;
                let rehandle = if ok || escalated {
                    None
                } else {
                    ctx.deadline_for(self, Stage::Reply)?
                };
                Ok((
                    who,
                    vec![EventKind::CalledBack {
                        satisfaction: *satisfaction,
                        resolved: *resolved,
                        comment: optional_note(comment)?,
                        rehandle,
                        escalated,
                    }],
                ))
            }
            Command::Supervise {
                kind,
                level,
                unit_id,
                content,
                respond_within_hours,
            } => {
                let who = actor.act_as(&[Role::Supervisor], "督办")?;
                self.ensure_centre_staff(ctx, "督办")?;
                if self.status.is_terminal() {
                    return Err(self.state_conflict("督办"));
                }
                let unit = match unit_id {
                    Some(u) => *u,
                    None => self.lead_unit().ok_or_else(|| {
                        DomainError::invalid("unit_id", "工单尚未派给承办单位，请指定督办对象")
                    })?,
                };
                if !self.assignments.iter().any(|a| a.unit_id == unit) {
                    return Err(DomainError::invalid(
                        "unit_id",
                        "督办对象须为承办此工单的单位",
                    ));
                }
                if !(1..=240).contains(respond_within_hours) {
                    return Err(DomainError::invalid(
                        "respond_within_hours",
                        "回复时限须在 1 至 240 小时之间",
                    ));
                }
                Ok((
                    who,
                    vec![EventKind::Supervised {
                        notice: Box::new(SupervisionNotice {
                            no: self.notices.len() as u32 + 1,
                            kind: *kind,
                            level: *level,
                            unit_id: unit,
                            content: required_text("content", content, MAX_TEXT_CHARS)?,
                            respond_by: ctx.now
                                + chrono::Duration::hours(i64::from(*respond_within_hours)),
                            issued_at: ctx.now,
                            issued_by: actor.user_id,
                            response: None,
                        }),
                    }],
                ))
            }
            Command::RespondNotice { no, content } => {
                let who = actor.act_as(&[Role::Handler, Role::UnitAdmin], "回复督办")?;
                let notice = no
                    .checked_sub(1)
                    .and_then(|i| self.notices.get(i as usize))
                    .ok_or_else(|| DomainError::invalid("no", "没有这份督办通知"))?;
                if notice.unit_id != actor.unit_id {
                    return Err(DomainError::forbidden("只能回复发给本单位的督办通知"));
                }
                if notice.response.is_some() {
                    return Err(DomainError::conflict("这份督办通知已经回复"));
                }
                Ok((
                    who,
                    vec![EventKind::NoticeResponded {
                        no: *no,
                        content: required_text("content", content, MAX_TEXT_CHARS)?,
                    }],
                ))
            }
            Command::CallbackAttempt { note } => {
                let who = actor.act_as(&[Role::Callback], "记录回访未接通")?;
                self.ensure_status(&[Status::CallbackPending], "记录回访未接通")?;
                let attempt = self.callback_attempts + 1;
                let mut kinds = vec![EventKind::CallbackNotReached {
                    attempt,
                    note: optional_note(note)?,
                }];
                if attempt >= MAX_CALLBACK_ATTEMPTS {
                    kinds.push(EventKind::ClosedWithoutCallback {
                        reason: format!("连续 {attempt} 次回访未接通"),
                    });
                }
                Ok((who, kinds))
            }
            Command::Close {
                instant_answer,
                reason,
            } => match self.status {
                Status::PendingReview => {
                    let who = actor.act_as(&[Role::Agent, Role::Dispatcher], "即答办结")?;
                    self.ensure_centre_staff(ctx, "即答办结")?;
                    let answer = instant_answer.clone().ok_or_else(|| {
                        DomainError::invalid("knowledge_entry_id", "即答办结须引用知识库条目")
                    })?;
                    Ok((
                        who,
                        vec![EventKind::InstantAnswered {
                            answer: check_instant_answer(answer)?,
                        }],
                    ))
                }
                Status::CallbackPending => {
                    let who = actor.act_as(&[Role::Dispatcher, Role::Callback], "免回访办结")?;
                    self.ensure_centre_staff(ctx, "免回访办结")?;
                    Ok((
                        who,
                        vec![EventKind::ClosedWithoutCallback {
                            reason: reason_text("reason", reason.as_deref().unwrap_or(""))?,
                        }],
                    ))
                }
                _ => Err(self.state_conflict("办结")),
            },
            Command::Withdraw { reason } => {
                let who = actor.act_as(&[Role::Agent, Role::Dispatcher], "撤单")?;
                self.ensure_centre_staff(ctx, "撤单")?;
                self.ensure_status(
                    &[
                        Status::PendingReview,
                        Status::Returned,
                        Status::Dispatched,
                        Status::Handling,
                        Status::Replied,
                    ],
                    "撤单",
                )?;
                Ok((
                    who,
                    vec![EventKind::Withdrawn {
                        reason: reason_text("reason", reason)?,
                    }],
                ))
            }
            Command::Invalidate { reason } => {
                let who = actor.act_as(&[Role::Dispatcher], "作废")?;
                self.ensure_centre_staff(ctx, "作废")?;
                self.ensure_status(&[Status::PendingReview, Status::Returned], "作废")?;
                Ok((
                    who,
                    vec![EventKind::Invalidated {
                        reason: reason_text("reason", reason)?,
                    }],
                ))
            }
            Command::MergeInto {
                target,
                target_status,
                reason,
            } => {
                let who = actor.act_as(&[Role::Dispatcher], "合并工单")?;
                self.ensure_centre_staff(ctx, "合并工单")?;
                self.ensure_status(&[Status::PendingReview, Status::Returned], "合并")?;
                if target.number == self.number {
                    return Err(DomainError::invalid("target", "不能合并到自身"));
                }
                if matches!(
                    target_status,
                    Status::Withdrawn | Status::Invalid | Status::Merged
                ) {
                    return Err(DomainError::conflict(format!(
                        "目标工单 {} 状态为“{}”，不能作为合并目标",
                        target.number,
                        target_status.label()
                    )));
                }
                Ok((
                    who,
                    vec![EventKind::MergedInto {
                        target: target.clone(),
                        reason: reason_text("reason", reason)?,
                    }],
                ))
            }
            Command::Alert => {
                let who = actor.act_as(&[Role::System], "发送到期提醒")?;
                let d = self
                    .running_deadline()
                    .ok_or_else(|| DomainError::conflict("当前环节没有办理时限"))?;
                let (mut done, marked) = match &self.alerts {
                    Some(a) if a.stage == d.stage && a.due == d.due => {
                        (a.reminders_done, a.overdue_marked)
                    }
                    _ => (0, false),
                };
                let unit_id = self.responsible_unit();
                let mut events = Vec::new();
                // Every reminder due by now, oldest first (after downtime: all the missed
                // ones, each once), then the overdue mark.
                while let Some(at) = d.reminder_at(done)
                    && at <= ctx.now
                {
                    events.push(EventKind::ReminderSent {
                        stage: d.stage,
                        due: d.due,
                        minutes_left: d.reminders[done],
                        unit_id,
                    });
                    done += 1;
                }
                if !marked && d.due <= ctx.now {
                    events.push(EventKind::OverdueMarked {
                        stage: d.stage,
                        due: d.due,
                        unit_id,
                    });
                }
                if events.is_empty() {
                    return Err(DomainError::conflict("没有到期的提醒"));
                }
                Ok((who, events))
            }
            Command::Transfer {
                id,
                peer_id,
                peer,
                kind,
                reason,
                close_on_accept,
            } => {
                let who = actor.act_as(&[Role::Agent, Role::Dispatcher], "转办其他平台")?;
                self.ensure_centre_staff(ctx, "转办其他平台")?;
                self.ensure_status(&[Status::PendingReview, Status::Returned], "转办其他平台")?;
                let live = |t: &&Transfer| t.state != TransferState::Failed;
                if self
                    .transfers
                    .iter()
                    .filter(live)
                    .any(|t| t.peer_id == *peer_id)
                {
                    return Err(DomainError::conflict(format!("工单已转办“{peer}”")));
                }
                if self.flags.emergency
                    && *kind != PeerKind::Police110
                    && !self
                        .transfers
                        .iter()
                        .filter(live)
                        .any(|t| t.kind == PeerKind::Police110)
                {
                    return Err(DomainError::invalid(
                        "peer_id",
                        "突发事件涉及人身财产安全，须先转110处置",
                    ));
                }
                Ok((
                    who,
                    vec![EventKind::TransferRequested {
                        transfer: Box::new(Transfer {
                            id: required_text("id", id, 100)?,
                            peer_id: *peer_id,
                            peer: peer.clone(),
                            kind: *kind,
                            reason: reason_text("reason", reason)?,
                            close_on_accept: *close_on_accept,
                            state: TransferState::Requested,
                            remote_ref: None,
                            remote_status: None,
                            requested_at: ctx.now,
                        }),
                    }],
                ))
            }
            Command::GridPush {
                id,
                peer_id,
                peer,
                reason,
            } => {
                let who = actor.act_as(&[Role::System], "推送网格平台")?;
                if self.transfers.iter().any(|t| t.id == *id) {
                    return Err(DomainError::conflict("已推送网格平台"));
                }
                if self.status.is_terminal() {
                    return Err(self.state_conflict("推送网格平台"));
                }
                Ok((
                    who,
                    vec![EventKind::TransferRequested {
                        transfer: Box::new(Transfer {
                            id: id.clone(),
                            peer_id: *peer_id,
                            peer: peer.clone(),
                            kind: PeerKind::Grid,
                            reason: reason.clone(),
                            close_on_accept: false,
                            state: TransferState::Requested,
                            remote_ref: None,
                            remote_status: None,
                            requested_at: ctx.now,
                        }),
                    }],
                ))
            }
            Command::TransferAnswer {
                id,
                accepted,
                remote_ref,
                reason,
            } => {
                let who = actor.act_as(&[Role::System], "记录转办结果")?;
                let t = self
                    .transfers
                    .iter()
                    .find(|t| t.id == *id)
                    .ok_or_else(|| DomainError::conflict("没有这次转办"))?;
                if t.state != TransferState::Requested {
                    return Err(DomainError::conflict("转办结果已记录"));
                }
                // Closed meanwhile (e.g. withdrawn): the acknowledgement is still recorded,
                // and closes nothing.
                let kind = if *accepted {
                    EventKind::TransferAccepted {
                        id: id.clone(),
                        remote_ref: remote_ref.clone(),
                    }
                } else {
                    EventKind::TransferFailed {
                        id: id.clone(),
                        reason: reason.clone().unwrap_or_else(|| "对方平台拒收".into()),
                    }
                };
                Ok((who, vec![kind]))
            }
            Command::TransferStatus { id, status, note } => {
                let who = actor.act_as(&[Role::System], "记录对方平台进展")?;
                if !self.transfers.iter().any(|t| t.id == *id) {
                    return Err(DomainError::conflict("没有这次转办"));
                }
                Ok((
                    who,
                    vec![EventKind::TransferStatus {
                        id: id.clone(),
                        status: required_text("status", status, 100)?,
                        note: crate::values::optional_text(
                            "note",
                            note.as_deref(),
                            MAX_TEXT_CHARS,
                        )?,
                    }],
                ))
            }
            Command::AbsorbMerge { source } => {
                let who = actor.act_as(&[Role::Dispatcher], "合并工单")?;
                if matches!(
                    self.status,
                    Status::Withdrawn | Status::Invalid | Status::Merged
                ) {
                    return Err(DomainError::conflict(format!(
                        "目标工单状态为“{}”，不能作为合并目标",
                        self.status.label()
                    )));
                }
                Ok((
                    who,
                    vec![EventKind::MergedFrom {
                        source: source.clone(),
                    }],
                ))
            }
        }
    }

    fn state_conflict(&self, what: &str) -> DomainError {
        DomainError::conflict(format!(
            "工单当前状态为“{}”，不能{what}",
            self.status.label()
        ))
    }

    fn ensure_status(&self, allowed: &[Status], what: &str) -> Result<(), DomainError> {
        if allowed.contains(&self.status) {
            Ok(())
        } else {
            Err(self.state_conflict(what))
        }
    }

    /// Who may add to an open order's record (a note, a file): centre staff, or staff of
    /// a unit holding the order.
    fn contributor(&self, actor: &Actor, ctx: &Ctx, what: &str) -> Result<ActorRef, DomainError> {
        let who = actor.act_as(
            &[
                Role::Handler,
                Role::UnitAdmin,
                Role::Dispatcher,
                Role::Agent,
                Role::Callback,
                Role::Supervisor,
            ],
            what,
        )?;
        if self.status.is_terminal() {
            return Err(self.state_conflict(what));
        }
        if !self.is_centre_staff(ctx) {
            self.held_assignment(actor, what)?;
        }
        Ok(who)
    }

    /// Staff of the reviewing centre, or of a centre above it.
    fn is_centre_staff(&self, ctx: &Ctx) -> bool {
        ctx.org
            .get(ctx.actor.unit_id)
            .is_some_and(|u| u.kind.is_centre())
            && ctx.org.is_within(self.centre_id, ctx.actor.unit_id)
    }

    fn ensure_centre_staff(&self, ctx: &Ctx, what: &str) -> Result<(), DomainError> {
        if self.is_centre_staff(ctx) {
            Ok(())
        } else {
            Err(DomainError::forbidden(format!(
                "只有受理该工单的热线中心可以{what}"
            )))
        }
    }

    /// The assignment the actor's unit holds now.
    fn held_assignment(&self, actor: &Actor, what: &str) -> Result<&Assignment, DomainError> {
        if let Some(a) = self.assignment_of(actor.unit_id) {
            return Ok(a);
        }
        if self.assignments.iter().any(|a| a.unit_id == actor.unit_id) {
            Err(DomainError::conflict(format!(
                "本单位对该工单的承办已结束，不能{what}"
            )))
        } else {
            Err(DomainError::forbidden(format!(
                "该工单未派给本单位，不能{what}"
            )))
        }
    }

    /// Dispatch targets: existing, active units below `within`, each once, none holding the
    /// order already; with `lead` exactly one lead, else none.
    fn check_targets(
        &self,
        ctx: &Ctx,
        targets: &[DispatchTarget],
        within: UnitId,
        lead: bool,
    ) -> Result<Vec<(UnitId, AssignmentRole)>, DomainError> {
        if targets.is_empty() {
            return Err(DomainError::invalid("targets", "至少选择一个承办单位"));
        }
        if targets.len() > MAX_TARGETS {
            return Err(DomainError::invalid(
                "targets",
                format!("一次最多派给 {MAX_TARGETS} 个单位"),
            ));
        }
        let leads = targets
            .iter()
            .filter(|t| t.role == AssignmentRole::Lead)
            .count();
        if lead && leads != 1 {
            return Err(DomainError::invalid(
                "targets",
                "须指定且只能指定一个主办单位",
            ));
        }
        if !lead && leads != 0 {
            return Err(DomainError::invalid(
                "targets",
                "本次派单不能指定主办单位（主办单位已确定）",
            ));
        }
        let mut out = Vec::with_capacity(targets.len());
        for (i, t) in targets.iter().enumerate() {
            let field = format!("targets[{i}].unit_id");
            let unit = ctx
                .org
                .get(t.unit_id)
                .ok_or_else(|| FieldError::new(&field, format!("单位 {} 不存在", t.unit_id)))?;
            if !unit.active {
                return Err(DomainError::invalid(
                    field,
                    format!("单位“{}”已停用", unit.name),
                ));
            }
            if t.unit_id == within
                || unit.kind == UnitKind::CityCentre
                || !ctx.org.is_within(t.unit_id, within)
            {
                return Err(DomainError::invalid(
                    field,
                    format!("单位“{}”不在本单位可派范围内", unit.name),
                ));
            }
            if out.iter().any(|(u, _)| *u == t.unit_id) {
                return Err(DomainError::invalid(
                    field,
                    format!("单位“{}”重复", unit.name),
                ));
            }
            if self.assignment_of(t.unit_id).is_some() {
                return Err(DomainError::conflict(format!(
                    "单位“{}”已在承办该工单",
                    unit.name
                )));
            }
            out.push((t.unit_id, t.role));
        }
        Ok(out)
    }

    /// Builds the initial state from an `Accepted` event.
    pub fn from_accepted(e: &Event) -> Option<Order> {
        let EventKind::Accepted {
            number,
            order,
            centre_id,
            dispatch,
        } = &e.kind
        else {
            return None;
        };
        let o = order.as_ref().clone();
        Some(Order {
            number: number.clone(),
            channel: o.channel,
            request_type: o.request_type,
            category: o.category,
            title: o.title,
            content: o.content,
            citizen: o.citizen,
            location: o.location,
            urgency: o.urgency,
            flags: o.flags,
            external_ref: o.external_ref,
            query_code_hash: o.query_code_hash,
            source: o.source,
            attachments: Vec::new(),
            status: Status::PendingReview,
            closure: None,
            centre_id: *centre_id,
            accepted_by: e.actor.user_id,
            accepted_at: e.at,
            assignments: Vec::new(),
            deadlines: Deadlines {
                dispatch: dispatch.clone(),
                ..Deadlines::default()
            },
            alerts: None,
            late: Vec::new(),
            extension: None,
            reply: None,
            callback: None,
            instant_answer: None,
            merged_into: None,
            merged_from: Vec::new(),
            repeat_of: Vec::new(),
            rehandle_count: 0,
            callback_attempts: 0,
            escalated: false,
            supervision: None,
            notices: Vec::new(),
            transfers: Vec::new(),
            updated_at: e.at,
            closed_at: None,
            version: 1,
        })
        .map(|mut o| {
            o.sync_alerts(e.at);
            o
        })
    }

    /// Keeps the alert state on the running deadline. A deadline that starts running afresh
    /// counts the reminders already past as done: they were never due while it ran.
    fn sync_alerts(&mut self, at: DateTime<Utc>) {
        let fresh = match (self.running_deadline(), &self.alerts) {
            (None, _) => None,
            (Some(d), Some(a)) if a.stage == d.stage && a.due == d.due => return,
            (Some(d), _) => Some(Alerts {
                stage: d.stage,
                due: d.due,
                reminders_done: (0..d.reminders.len())
                    .take_while(|k| d.reminder_at(*k).is_some_and(|t| t <= at))
                    .count(),
                overdue_marked: false,
            }),
        };
        self.alerts = fresh;
    }

    /// Rebuilds an order from its whole history; `None` if the history is not a valid one.
    pub fn replay(events: &[Event]) -> Option<Order> {
        let (first, rest) = events.split_first()?;
        let mut order = Order::from_accepted(first)?;
        if first.seq != 1 || order.status != first.to {
            return None;
        }
        for e in rest {
            if e.seq != order.version + 1 || e.from != Some(order.status) {
                return None;
            }
            order.apply(e);
            if order.status != e.to {
                return None;
            }
        }
        Some(order)
    }

    fn cancel_active(&mut self, keep: impl Fn(&Assignment) -> bool) {
        for a in &mut self.assignments {
            if a.status.is_active() && !keep(a) {
                a.status = AssignmentStatus::Cancelled;
            }
        }
    }

    /// Cancels the open work below assignment `no`.
    fn cancel_descendants(&mut self, no: u32) {
        let mut stack = vec![no];
        while let Some(p) = stack.pop() {
            for a in &mut self.assignments {
                if a.parent == Some(p) {
                    stack.push(a.no);
                    if a.status.is_active() {
                        a.status = AssignmentStatus::Cancelled;
                    }
                }
            }
        }
    }

    fn close(&mut self, status: Status, closure: Option<Closure>, at: DateTime<Utc>) {
        self.status = status;
        self.closure = closure;
        self.closed_at = Some(at);
        if status == Status::Closed {
            // Replied parts stay as the record; nobody can still be asked to act.
            self.cancel_active(|a| !a.status.is_open());
        } else {
            self.cancel_active(|_| false);
        }
    }

    fn reopen_lead(&mut self) {
        if let Some(no) = self.active_lead().map(|a| a.no)
            && let Some(a) = self.assignment_mut(no)
        {
            a.status = AssignmentStatus::Handling;
        }
    }

    /// Folds one event into the state. Never fails: `decide` checked everything, and replay
    /// checks the recorded outcome.
    pub fn apply(&mut self, e: &Event) {
        let at = e.at;
        match &e.kind {
            EventKind::Accepted { .. } => {}
            EventKind::Amended {
                request_type,
                category,
                region_code,
                urgency,
                flags,
                dispatch,
                ..
            } => {
                if let Some(t) = request_type {
                    self.request_type = *t;
                }
                if let Some(c) = category {
                    self.category = Some(c.clone());
                }
                if let Some(r) = region_code {
                    self.location.region_code = Some(r.clone());
                }
                if let Some(u) = urgency {
                    self.urgency = *u;
                }
                if let Some(f) = flags {
                    self.flags = *f;
                }
                if let Some(d) = dispatch {
                    self.deadlines.dispatch = Some(d.clone());
                }
            }
            EventKind::InstantAnswered { answer } => {
                self.instant_answer = Some(answer.clone());
                self.close(Status::Closed, Some(Closure::InstantAnswer), at);
            }
            EventKind::Dispatched {
                parent,
                targets,
                reply,
                sign,
                ..
            } => {
                let sub = targets.iter().all(|(_, r)| *r == AssignmentRole::Sub);
                match parent {
                    None => {
                        self.cancel_active(|_| false);
                        self.deadlines.dispatch = None;
                        self.deadlines.reply = reply.clone();
                        self.extension = None;
                    }
                    Some(p) if !sub => {
                        if let Some(a) = self.assignment_mut(*p) {
                            a.status = AssignmentStatus::Forwarded;
                        }
                    }
                    Some(_) => {}
                }
                for (unit_id, role) in targets {
                    let no = self.assignments.len() as u32 + 1;
                    self.assignments.push(Assignment {
                        no,
                        unit_id: *unit_id,
                        role: *role,
                        parent: *parent,
                        status: AssignmentStatus::PendingSign,
                        sign_deadline: sign.clone(),
                        dispatched_at: at,
                        dispatched_by: e.actor.user_id,
                        signed_at: None,
                        replied_at: None,
                        reply: None,
                        return_reason: None,
                    });
                }
                if targets.iter().any(|(_, r)| *r == AssignmentRole::Lead) {
                    self.status = Status::Dispatched;
                }
            }
            EventKind::Signed { assignment } => {
                let mut lead = false;
                if let Some(a) = self.assignment_mut(*assignment) {
                    a.status = AssignmentStatus::Handling;
                    a.signed_at = Some(at);
                    lead = a.role == AssignmentRole::Lead;
                }
                if lead {
                    self.status = Status::Handling;
                }
            }
            EventKind::Returned {
                assignment,
                reason,
                dispatch,
            } => {
                let mut returned = None;
                if let Some(a) = self.assignment_mut(*assignment) {
                    a.status = AssignmentStatus::Returned;
                    a.return_reason = Some(reason.clone());
                    returned = Some((a.role, a.parent));
                }
                self.cancel_descendants(*assignment);
                match returned {
                    Some((AssignmentRole::Lead, None)) => {
                        self.cancel_active(|_| false);
                        self.status = Status::Returned;
                        self.deadlines.dispatch = dispatch.clone();
                    }
                    Some((role, Some(p)))
                        if self
                            .assignment(p)
                            .is_some_and(|a| a.status == AssignmentStatus::Forwarded) =>
                    {
                        // Back to the district centre that forwarded it: a returned lead takes
                        // its co-handlers with it; the centre holds the order again once nobody
                        // below it does.
                        if role == AssignmentRole::Lead {
                            self.cancel_descendants(p);
                        }
                        let still_below = self
                            .assignments
                            .iter()
                            .any(|a| a.parent == Some(p) && a.status.is_active());
                        if !still_below && let Some(a) = self.assignment_mut(p) {
                            a.status = AssignmentStatus::Handling;
                            if a.role == AssignmentRole::Lead {
                                self.status = Status::Handling;
                            }
                        }
                    }
                    _ => {}
                }
            }
            EventKind::NoteAdded { .. } => {}
            EventKind::AttachmentAdded { attachment } => {
                self.attachments.push(attachment.clone());
            }
            EventKind::ExtensionRequested { days, reason } => {
                self.extension = Some(Extension {
                    days: *days,
                    reason: reason.clone(),
                    requested_at: at,
                    requested_by: e.actor.user_id,
                    approved: None,
                    decided_at: None,
                    decided_by: None,
                    comment: None,
                });
            }
            EventKind::ExtensionDecided {
                approved,
                comment,
                reply,
            } => {
                if let Some(x) = &mut self.extension {
                    x.approved = Some(*approved);
                    x.decided_at = Some(at);
                    x.decided_by = Some(e.actor.user_id);
                    x.comment = comment.clone();
                }
                if let Some(r) = reply {
                    self.deadlines.reply = Some(r.clone());
                }
            }
            EventKind::Replied {
                assignment,
                content,
                contacted_citizen,
                check,
            } => {
                let mut lead = None;
                if let Some(a) = self.assignment_mut(*assignment) {
                    a.status = AssignmentStatus::Replied;
                    a.replied_at = Some(at);
                    a.reply = Some(content.clone());
                    if a.role == AssignmentRole::Lead {
                        lead = Some(a.unit_id);
                    }
                }
                if let Some(unit_id) = lead {
                    self.reply = Some(Reply {
                        unit_id,
                        content: content.clone(),
                        contacted_citizen: *contacted_citizen,
                        at,
                        by: e.actor.user_id,
                    });
                    self.deadlines.check = check.clone();
                    self.status = Status::Replied;
                }
            }
            EventKind::Checked {
                approved, callback, ..
            } => {
                if *approved {
                    self.deadlines.callback = callback.clone();
                    self.status = Status::CallbackPending;
                } else {
                    self.reopen_lead();
                    self.reply = None;
                    self.status = Status::Handling;
                }
            }
            EventKind::CallbackNotReached { attempt, .. } => self.callback_attempts = *attempt,
            EventKind::Supervised { notice } => {
                if self
                    .supervision
                    .is_none_or(|l| l.rank() < notice.level.rank())
                {
                    self.supervision = Some(notice.level);
                }
                self.notices.push(notice.as_ref().clone());
            }
            EventKind::NoticeResponded { no, content } => {
                if let Some(n) = no
                    .checked_sub(1)
                    .and_then(|i| self.notices.get_mut(i as usize))
                {
                    n.response = Some(NoticeResponse {
                        content: content.clone(),
                        at,
                        by: e.actor.user_id,
                    });
                }
            }
            EventKind::CalledBack {
                satisfaction,
                resolved,
                comment,
                rehandle,
                escalated,
            } => {
                self.callback = Some(CallbackResult {
                    satisfaction: *satisfaction,
                    resolved: *resolved,
                    comment: comment.clone(),
                    at,
                    by: e.actor.user_id,
                });
                let ok = *resolved && *satisfaction != Satisfaction::Dissatisfied;
                self.callback_attempts = 0;
                if ok || *escalated {
                    self.escalated |= *escalated;
                    self.close(Status::Closed, Some(Closure::Callback), at);
                } else {
                    self.reopen_lead();
                    self.reply = None;
                    self.rehandle_count += 1;
                    if let Some(d) = rehandle {
                        self.deadlines.reply = Some(d.clone());
                    }
                    self.status = Status::Handling;
                }
            }
            EventKind::ClosedWithoutCallback { .. } => {
                self.close(Status::Closed, Some(Closure::WithoutCallback), at)
            }
            EventKind::Withdrawn { .. } => self.close(Status::Withdrawn, None, at),
            EventKind::Invalidated { .. } => self.close(Status::Invalid, None, at),
            EventKind::MergedInto { target, .. } => {
                self.merged_into = Some(target.clone());
                self.close(Status::Merged, None, at);
            }
            EventKind::MergedFrom { source } => self.merged_from.push(source.clone()),
            EventKind::RepeatFound { of } => {
                self.flags.repeat = true;
                for l in of {
                    if !self.repeat_of.iter().any(|r| r.order.id == l.order.id) {
                        self.repeat_of.push(l.clone());
                    }
                }
            }
            EventKind::ReminderSent { stage, due, .. } => {
                if let Some(a) = &mut self.alerts
                    && a.stage == *stage
                    && a.due == *due
                {
                    a.reminders_done += 1;
                }
            }
            EventKind::OverdueMarked {
                stage,
                due,
                unit_id,
            } => {
                if let Some(a) = &mut self.alerts
                    && a.stage == *stage
                    && a.due == *due
                {
                    a.overdue_marked = true;
                }
                self.late.push(LateMark {
                    stage: *stage,
                    due: *due,
                    unit_id: *unit_id,
                });
            }
            EventKind::TransferRequested { transfer } => self.transfers.push((**transfer).clone()),
            EventKind::TransferAccepted { id, remote_ref } => {
                let mut close = false;
                if let Some(t) = self.transfers.iter_mut().find(|t| t.id == *id) {
                    t.state = TransferState::Accepted;
                    t.remote_ref = remote_ref.clone();
                    close = t.close_on_accept;
                }
                if close && !self.status.is_terminal() {
                    self.close(Status::Closed, Some(Closure::Transferred), at);
                }
            }
            EventKind::TransferFailed { id, .. } => {
                if let Some(t) = self.transfers.iter_mut().find(|t| t.id == *id) {
                    t.state = TransferState::Failed;
                }
            }
            EventKind::TransferStatus { id, status, .. } => {
                if let Some(t) = self.transfers.iter_mut().find(|t| t.id == *id) {
                    t.remote_status = Some(status.clone());
                }
            }
        }
        self.version = e.seq;
        self.updated_at = at;
        self.sync_alerts(at);
    }
}

fn optional_note(s: &Option<String>) -> Result<Option<String>, DomainError> {
    Ok(crate::values::optional_text("note", s.as_deref(), 2_000)?)
}

fn check_instant_answer(a: InstantAnswer) -> Result<InstantAnswer, DomainError> {
    let id = required_text("knowledge_entry_id", &a.knowledge_entry_id, 64)?;
    let answer = crate::values::optional_text("answer", a.answer.as_deref(), MAX_TEXT_CHARS)?;
    Ok(InstantAnswer {
        knowledge_entry_id: id,
        knowledge_version: a.knowledge_version,
        answer,
    })
}
