use crate::deadline::{Deadline, Stage};
use crate::error::FieldError;
use crate::ids::{OrderId, UnitId, UserId};
use crate::values::{CategoryCode, Phone, RegionCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Declares a string-coded enum with its Chinese label.
macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal : $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        // Written as its code; read from the code or from serde's snake case of the variant
        // (`police110`, as records written before the codes were used say).
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                let bare = s.replace('_', "");
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s || v.as_str().replace('_', "") == bare)
                    .ok_or_else(|| serde::de::Error::unknown_variant(&s, &[$($code),+]))
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
            /// Parses the code; the error lists the accepted codes.
            pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let codes: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    FieldError::new(field, format!("“{s}”无效，可选：{}", codes.join(", ")))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

coded_enum!(
    /// Where the request came in (渠道, DOMAIN §2).
    Channel {
        Phone = "phone": "电话",
        Web = "web": "网站留言",
        MayorMailbox = "mayor_mailbox": "市长信箱",
        MiniProgram = "mini_program": "小程序/APP",
        QrCode = "qr_code": "扫码诉求",
        Email = "email": "电子邮件",
        Police110 = "police_110": "110转办",
        Utility = "utility": "公共事业热线",
        Grid = "grid": "网格上报",
        PeopleSuggestion = "people_suggestion": "人民建议征集",
        LeaderDay = "leader_day": "领导接听日",
        Media = "media": "媒体",
        Open311 = "open311": "Open311",
        Api = "api": "系统对接",
        Other = "other": "其他",
    }
);

coded_enum!(
    /// 诉求类型
    RequestType {
        Consultation = "consultation": "咨询",
        Help = "help": "求助",
        Complaint = "complaint": "投诉",
        Report = "report": "举报",
        Suggestion = "suggestion": "建议",
        Praise = "praise": "表扬",
    }
);

coded_enum!(
    /// 紧急程度
    Urgency {
        Normal = "normal": "一般",
        Urgent = "urgent": "紧急",
        VeryUrgent = "very_urgent": "特急",
    }
);

coded_enum!(
    /// The order's place in the lifecycle.
    Status {
        PendingReview = "pending_review": "待审核",
        Returned = "returned": "退回待派",
        Dispatched = "dispatched": "待签收",
        Handling = "handling": "办理中",
        Replied = "replied": "待核验",
        CallbackPending = "callback_pending": "待回访",
        Closed = "closed": "已办结",
        Withdrawn = "withdrawn": "已撤单",
        Invalid = "invalid": "无效",
        Merged = "merged": "已合并",
    }
);

impl Status {
    /// No command can leave these states.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Closed | Status::Withdrawn | Status::Invalid | Status::Merged
        )
    }
}

coded_enum!(
    /// How a closed order was closed.
    Closure {
        InstantAnswer = "instant_answer": "即答办结",
        Callback = "callback": "回访办结",
        WithoutCallback = "without_callback": "免回访办结",
        Transferred = "transferred": "转办结",
    }
);

coded_enum!(
    /// The kind of platform an order can be transferred to (DOMAIN §8).
    PeerKind {
        Police110 = "police_110": "110",
        Utility = "utility": "公共事业热线",
        Grid = "grid": "网格平台",
        Hotline = "hotline": "其他12345平台",
    }
);

coded_enum!(
    /// Where an outbound transfer stands.
    TransferState {
        Requested = "requested": "转办中",
        Accepted = "accepted": "对方已接收",
        Failed = "failed": "转办失败",
    }
);

/// An outbound transfer of the order to another platform (110, a utility hotline, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// Our id of the transfer: the idempotency key the other platform sees.
    pub id: String,
    pub peer_id: i64,
    pub peer: String,
    pub kind: PeerKind,
    pub reason: String,
    /// Close the order as transferred once the other platform accepts it.
    pub close_on_accept: bool,
    pub state: TransferState,
    /// The other platform's number for it, once accepted.
    pub remote_ref: Option<String>,
    /// Its latest status there, as reported back.
    pub remote_status: Option<String>,
    pub requested_at: DateTime<Utc>,
}

coded_enum!(
    /// A unit's part in an order.
    AssignmentRole {
        Lead = "lead": "主办",
        Co = "co": "协办",
        Sub = "sub": "下派",
    }
);

coded_enum!(
    AssignmentStatus {
        PendingSign = "pending_sign": "待签收",
        Handling = "handling": "办理中",
        Replied = "replied": "已反馈",
        Returned = "returned": "已退回",
        Forwarded = "forwarded": "已转派",
        Cancelled = "cancelled": "已撤销",
    }
);

impl AssignmentStatus {
    /// The unit still holds the order.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            AssignmentStatus::PendingSign | AssignmentStatus::Handling | AssignmentStatus::Replied
        )
    }
    /// The unit still has to act.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            AssignmentStatus::PendingSign | AssignmentStatus::Handling
        )
    }
}

coded_enum!(
    /// How closely the centre follows an order (督办级别).
    SupervisionLevel {
        Daily = "daily": "日常督办",
        Key = "key": "重点督办",
        TaskForce = "task_force": "专班调度",
    }
);

impl SupervisionLevel {
    /// Daily < key < task force.
    pub fn rank(self) -> u8 {
        match self {
            SupervisionLevel::Daily => 0,
            SupervisionLevel::Key => 1,
            SupervisionLevel::TaskForce => 2,
        }
    }
}

coded_enum!(
    /// A supervision notice to a unit.
    NoticeKind {
        Reminder = "reminder": "提示单",
        Supervision = "supervision": "督办单",
    }
);

coded_enum!(
    /// The citizen's verdict at callback (回访).
    Satisfaction {
        Satisfied = "satisfied": "满意",
        BasicallySatisfied = "basically_satisfied": "基本满意",
        Dissatisfied = "dissatisfied": "不满意",
    }
);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Citizen {
    pub name: Option<String>,
    pub phone: Option<Phone>,
    /// 18-character resident ID number.
    pub id_number: Option<String>,
    /// The caller gave no identity.
    pub anonymous: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub address: Option<String>,
    pub region_code: Option<RegionCode>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flags {
    /// 突发: runs on the clock and cannot be extended.
    pub emergency: bool,
    /// 疑难
    pub complex: bool,
    /// 重复诉求
    pub repeat: bool,
    /// 保密: citizen identity hidden from handling units.
    pub confidential: bool,
    /// The handling unit must contact the citizen, so it sees the contact details.
    pub needs_contact: bool,
}

/// A partial change of the flags: `None` keeps the current value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagsPatch {
    pub emergency: Option<bool>,
    pub complex: Option<bool>,
    pub repeat: Option<bool>,
    pub confidential: Option<bool>,
    pub needs_contact: Option<bool>,
}

impl FlagsPatch {
    pub fn apply(&self, f: Flags) -> Flags {
        Flags {
            emergency: self.emergency.unwrap_or(f.emergency),
            complex: self.complex.unwrap_or(f.complex),
            repeat: self.repeat.unwrap_or(f.repeat),
            confidential: self.confidential.unwrap_or(f.confidential),
            needs_contact: self.needs_contact.unwrap_or(f.needs_contact),
        }
    }
}

/// What a new order says; validated by `NewOrder::validate` before it reaches the state machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewOrder {
    pub channel: Channel,
    pub request_type: RequestType,
    pub category: Option<CategoryCode>,
    pub title: String,
    pub content: String,
    pub citizen: Citizen,
    pub location: Location,
    pub urgency: Urgency,
    pub flags: Flags,
    /// Reference in the source system (e.g. the 110 case number), for idempotent intake.
    pub external_ref: Option<String>,
    /// Hash of the query code a citizen got at submission (portal), to follow the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_code_hash: Option<String>,
    /// What the source system told us beyond the order's own fields (Open311's `media_url`,
    /// `email`, `device_id`; the 110 platform's case data), kept as given.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source: BTreeMap<String, String>,
}

/// A file attached to an order; its bytes are stored apart, under `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    pub id: i64,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstantAnswer {
    pub knowledge_entry_id: String,
    /// The version of the entry that answered (recorded by the server when it checks the
    /// citation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knowledge_version: Option<u32>,
    pub answer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// 1-based position in `Order::assignments`.
    pub no: u32,
    pub unit_id: UnitId,
    pub role: AssignmentRole,
    /// The assignment this one was dispatched from (second-level dispatch or sub-dispatch).
    pub parent: Option<u32>,
    pub status: AssignmentStatus,
    pub dispatched_at: DateTime<Utc>,
    pub dispatched_by: UserId,
    pub signed_at: Option<DateTime<Utc>>,
    pub replied_at: Option<DateTime<Utc>>,
    pub reply: Option<String>,
    pub return_reason: Option<String>,
    /// The unit must sign for it by then.
    #[serde(default)]
    pub sign_deadline: Option<Deadline>,
}

/// A supervision notice (提示单/督办单) to a unit, with the response it requires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisionNotice {
    /// 1-based position in `Order::notices`.
    pub no: u32,
    pub kind: NoticeKind,
    pub level: SupervisionLevel,
    pub unit_id: UnitId,
    pub content: String,
    /// The unit must respond by then.
    pub respond_by: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub issued_by: UserId,
    pub response: Option<NoticeResponse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeResponse {
    pub content: String,
    pub at: DateTime<Utc>,
    pub by: UserId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    pub days: u32,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    pub requested_by: UserId,
    /// `None` while pending.
    pub approved: Option<bool>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<UserId>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub unit_id: UnitId,
    pub content: String,
    pub contacted_citizen: bool,
    pub at: DateTime<Utc>,
    pub by: UserId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackResult {
    pub satisfaction: Satisfaction,
    pub resolved: bool,
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
    pub by: UserId,
}

/// The deadlines of the order's stages; a unit's sign-for deadline is on its assignment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    /// The centre must dispatch by then (while pending review or returned).
    pub dispatch: Option<Deadline>,
    /// The lead unit must reply by then.
    pub reply: Option<Deadline>,
    /// The centre must check the reply by then.
    pub check: Option<Deadline>,
    /// The centre must call the citizen back by then.
    pub callback: Option<Deadline>,
}

/// Which alerts of the running deadline have gone out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alerts {
    pub stage: Stage,
    pub due: DateTime<Utc>,
    /// Reminders of the deadline already sent (or skipped because they had passed before
    /// the deadline started running).
    pub reminders_done: usize,
    pub overdue_marked: bool,
}

/// A stage finished late (逾期): what evaluations deduct for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateMark {
    pub stage: Stage,
    pub due: DateTime<Utc>,
    pub unit_id: UnitId,
}

/// The next alert of an order, and when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    Reminder { index: usize, minutes_left: u32 },
    Overdue,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRef {
    pub id: OrderId,
    pub number: String,
}

/// Why an order repeats an earlier one (重复诉求).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepeatBasis {
    /// The same caller (phone number).
    Caller,
    /// The same address.
    Address,
}

impl RepeatBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            RepeatBasis::Caller => "caller",
            RepeatBasis::Address => "address",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RepeatBasis::Caller => "同一来电人",
            RepeatBasis::Address => "同一地址",
        }
    }
}

/// An earlier order about the same issue that this order repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepeatLink {
    pub order: OrderRef,
    /// The earlier order's title and acceptance, as they were when linked.
    pub title: String,
    pub accepted_at: DateTime<Utc>,
    pub basis: RepeatBasis,
    /// How alike the two requests read (0–1).
    pub similarity: f32,
}

/// The current state of one work order: the fold of its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub number: String,
    pub channel: Channel,
    pub request_type: RequestType,
    pub category: Option<CategoryCode>,
    pub title: String,
    pub content: String,
    pub citizen: Citizen,
    pub location: Location,
    pub urgency: Urgency,
    pub flags: Flags,
    pub external_ref: Option<String>,
    #[serde(default)]
    pub query_code_hash: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source: BTreeMap<String, String>,
    #[serde(default)]
    pub attachments: Vec<AttachmentRef>,
    pub status: Status,
    pub closure: Option<Closure>,
    /// The centre that reviews and dispatches it.
    pub centre_id: UnitId,
    pub accepted_by: UserId,
    pub accepted_at: DateTime<Utc>,
    pub assignments: Vec<Assignment>,
    pub deadlines: Deadlines,
    #[serde(default)]
    pub alerts: Option<Alerts>,
    #[serde(default)]
    pub late: Vec<LateMark>,
    pub extension: Option<Extension>,
    pub reply: Option<Reply>,
    pub callback: Option<CallbackResult>,
    pub instant_answer: Option<InstantAnswer>,
    pub merged_into: Option<OrderRef>,
    pub merged_from: Vec<OrderRef>,
    /// Earlier orders this one repeats (重复诉求), found when it was accepted.
    #[serde(default)]
    pub repeat_of: Vec<RepeatLink>,
    pub rehandle_count: u32,
    /// Callback attempts that did not reach the citizen, in the current round.
    #[serde(default)]
    pub callback_attempts: u32,
    /// Still not satisfied after the last round of re-handling: handed to supervision.
    #[serde(default)]
    pub escalated: bool,
    /// The highest supervision level the order is under, if any (督办).
    #[serde(default)]
    pub supervision: Option<SupervisionLevel>,
    /// Supervision notices to units, in the order issued.
    #[serde(default)]
    pub notices: Vec<SupervisionNotice>,
    /// Transfers to other platforms (110, utility hotlines, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfers: Vec<Transfer>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Number of events folded in; the next event's sequence number is `version + 1`.
    pub version: u32,
}

impl Order {
    /// A notice still waits for its unit's response.
    pub fn notice_pending(&self) -> bool {
        !self.status.is_terminal() && self.notices.iter().any(|n| n.response.is_none())
    }

    /// The lead assignment that currently carries the order, if any.
    pub fn active_lead(&self) -> Option<&Assignment> {
        self.assignments
            .iter()
            .find(|a| a.role == AssignmentRole::Lead && a.status.is_active())
    }

    /// The assignment a unit currently holds, if any.
    pub fn assignment_of(&self, unit: UnitId) -> Option<&Assignment> {
        self.assignments
            .iter()
            .find(|a| a.unit_id == unit && a.status.is_active())
    }

    pub fn assignment(&self, no: u32) -> Option<&Assignment> {
        no.checked_sub(1)
            .and_then(|i| self.assignments.get(i as usize))
    }

    pub(crate) fn assignment_mut(&mut self, no: u32) -> Option<&mut Assignment> {
        no.checked_sub(1)
            .and_then(|i| self.assignments.get_mut(i as usize))
    }

    /// The unit leading the order now.
    pub fn lead_unit(&self) -> Option<UnitId> {
        self.active_lead().map(|a| a.unit_id)
    }

    /// The deadline running in the current state, if one runs.
    pub fn running_deadline(&self) -> Option<&Deadline> {
        match self.status {
            Status::PendingReview | Status::Returned => self.deadlines.dispatch.as_ref(),
            Status::Dispatched => self
                .active_lead()
                .and_then(|a| a.sign_deadline.as_ref())
                .or(self.deadlines.reply.as_ref()),
            Status::Handling => self.deadlines.reply.as_ref(),
            Status::Replied => self.deadlines.check.as_ref(),
            Status::CallbackPending => self.deadlines.callback.as_ref(),
            _ => None,
        }
    }

    pub fn current_due(&self) -> Option<DateTime<Utc>> {
        self.running_deadline().map(|d| d.due)
    }

    /// The unit answerable for the running deadline: the centre for its own stages, else
    /// the lead unit.
    pub fn responsible_unit(&self) -> UnitId {
        match self.running_deadline() {
            Some(d) if !d.stage.is_centre_stage() => self.lead_unit().unwrap_or(self.centre_id),
            _ => self.centre_id,
        }
    }

    /// The next alert of the running deadline, and when it is due.
    pub fn next_alert(&self) -> Option<(DateTime<Utc>, Alert)> {
        let d = self.running_deadline()?;
        let (done, marked) = match &self.alerts {
            Some(a) if a.stage == d.stage && a.due == d.due => (a.reminders_done, a.overdue_marked),
            _ => (0, false),
        };
        if let Some(at) = d.reminder_at(done) {
            return Some((
                at,
                Alert::Reminder {
                    index: done,
                    minutes_left: d.reminders[done],
                },
            ));
        }
        (!marked).then_some((d.due, Alert::Overdue))
    }

    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.current_due().is_some_and(|d| d < now)
    }

    /// Every unit that has or had a part in the order: what unit scoping filters on.
    pub fn involved_units(&self) -> Vec<UnitId> {
        let mut v: Vec<UnitId> = self.assignments.iter().map(|a| a.unit_id).collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Checks an 18-character resident ID number, including its ISO 7064 check character.
pub fn parse_id_number(field: &str, s: &str) -> Result<String, FieldError> {
    let s = s.trim().to_ascii_uppercase();
    let bytes = s.as_bytes();
    let bad = || FieldError::new(field, "身份证号码应为 18 位且校验位正确");
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    let sum: u32 = bytes[..17]
        .iter()
        .zip(W)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    if C[(sum % 11) as usize] != bytes[17] {
        return Err(bad());
    }
    Ok(s)
}

/// An in-app notice to a unit that an event calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub unit_id: UnitId,
    /// `reminder` or `overdue`.
    pub kind: &'static str,
    pub stage: crate::deadline::Stage,
    pub due: DateTime<Utc>,
    pub message: String,
}

impl Notice {
    /// The notice an event calls for, if any.
    pub fn of(order: &Order, e: &super::event::Event) -> Option<Notice> {
        use super::event::EventKind;
        let local = |t: &DateTime<Utc>| {
            t.with_timezone(&crate::calendar::china_offset())
                .format("%m-%d %H:%M")
                .to_string()
        };
        match &e.kind {
            EventKind::ReminderSent {
                stage,
                due,
                minutes_left,
                unit_id,
            } => Some(Notice {
                unit_id: *unit_id,
                kind: "reminder",
                stage: *stage,
                due: *due,
                message: format!(
                    "工单 {}（{}）的“{}”时限将于 {} 到期，剩余约 {}",
                    order.number,
                    order.title,
                    stage.label(),
                    local(due),
                    if minutes_left % 60 == 0 {
                        format!("{} 小时", minutes_left / 60)
                    } else {
                        format!("{minutes_left} 分钟")
                    }
                ),
            }),
            EventKind::Supervised { notice } => Some(Notice {
                unit_id: notice.unit_id,
                kind: "supervision",
                stage: crate::deadline::Stage::Reply,
                due: notice.respond_by,
                message: format!(
                    "工单 {}（{}）收到{}（{}），请于 {} 前回复：{}",
                    order.number,
                    order.title,
                    notice.kind.label(),
                    notice.level.label(),
                    local(&notice.respond_by),
                    notice.content
                ),
            }),
            EventKind::OverdueMarked {
                stage,
                due,
                unit_id,
            } => Some(Notice {
                unit_id: *unit_id,
                kind: "overdue",
                stage: *stage,
                due: *due,
                message: format!(
                    "工单 {}（{}）的“{}”已于 {} 逾期",
                    order.number,
                    order.title,
                    stage.label(),
                    local(due)
                ),
            }),
            _ => None,
        }
    }
}
