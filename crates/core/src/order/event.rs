use super::types::*;
use crate::deadline::{Deadline, Stage};
use crate::ids::{OrderId, UnitId, UserId};
use crate::role::Role;
use crate::values::CategoryCode;
use crate::values::RegionCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who did it, in which capacity, for which unit: recorded on every event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorRef {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
    pub unit_id: UnitId,
}

/// One step in an order's history (一单到底).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// 1-based position in the order's history.
    pub seq: u32,
    pub at: DateTime<Utc>,
    pub actor: ActorRef,
    /// `None` only for the first event.
    pub from: Option<Status>,
    pub to: Status,
    pub kind: EventKind,
}

/// What happened. Everything `apply` needs is in the payload (deadlines included), so that
/// replay never consults the calendar or the clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    Accepted {
        number: String,
        order: Box<NewOrder>,
        centre_id: UnitId,
        dispatch: Option<Deadline>,
    },
    Amended {
        request_type: Option<RequestType>,
        category: Option<CategoryCode>,
        region_code: Option<RegionCode>,
        urgency: Option<Urgency>,
        flags: Option<Flags>,
        reason: String,
        /// The dispatch deadline under the new classification, where it changed.
        #[serde(default)]
        dispatch: Option<Deadline>,
    },
    InstantAnswered {
        answer: InstantAnswer,
    },
    Dispatched {
        /// The assignment being forwarded (second-level) or sub-dispatched from.
        parent: Option<u32>,
        targets: Vec<(UnitId, AssignmentRole)>,
        /// Set by the centre's dispatch: the lead unit's reply deadline.
        reply: Option<Deadline>,
        /// Each new unit's sign-for deadline.
        sign: Option<Deadline>,
        note: Option<String>,
    },
    Signed {
        assignment: u32,
    },
    Returned {
        assignment: u32,
        reason: String,
        dispatch: Option<Deadline>,
    },
    AttachmentAdded {
        attachment: AttachmentRef,
    },
    NoteAdded {
        text: String,
    },
    ExtensionRequested {
        days: u32,
        reason: String,
    },
    ExtensionDecided {
        approved: bool,
        comment: Option<String>,
        reply: Option<Deadline>,
    },
    Replied {
        assignment: u32,
        content: String,
        contacted_citizen: bool,
        /// Set when the lead replies: the centre's check deadline.
        check: Option<Deadline>,
    },
    Checked {
        approved: bool,
        comment: Option<String>,
        callback: Option<Deadline>,
    },
    CalledBack {
        satisfaction: Satisfaction,
        resolved: bool,
        comment: Option<String>,
        /// Set when the order goes back for re-handling (重办).
        rehandle: Option<Deadline>,
        /// Not satisfied after the last round of re-handling: closed and handed to
        /// supervision (转督办) instead of going back again.
        #[serde(default)]
        escalated: bool,
    },
    /// The centre put the order under supervision and sent a notice to a unit (督办).
    Supervised {
        notice: Box<SupervisionNotice>,
    },
    /// The unit answered a supervision notice.
    NoticeResponded {
        no: u32,
        content: String,
    },
    /// The citizen could not be reached for the callback (未接通).
    CallbackNotReached {
        /// Attempts in this round so far, this one included.
        attempt: u32,
        note: Option<String>,
    },
    ClosedWithoutCallback {
        reason: String,
    },
    Withdrawn {
        reason: String,
    },
    Invalidated {
        reason: String,
    },
    MergedInto {
        target: OrderRef,
        reason: String,
    },
    MergedFrom {
        source: OrderRef,
    },
    /// The order raises again what earlier orders raised (重复诉求): flagged and linked.
    RepeatFound {
        of: Vec<RepeatLink>,
    },
    /// A staged reminder before a deadline went to the responsible unit.
    ReminderSent {
        stage: Stage,
        due: DateTime<Utc>,
        minutes_left: u32,
        unit_id: UnitId,
    },
    /// The deadline passed with the stage unfinished (逾期).
    OverdueMarked {
        stage: Stage,
        due: DateTime<Utc>,
        unit_id: UnitId,
    },
    /// The centre transfers the order to another platform (转110, 转公共事业热线).
    TransferRequested {
        transfer: Box<Transfer>,
    },
    /// The other platform acknowledged the transfer; with `close_on_accept` the order is
    /// closed as transferred.
    TransferAccepted {
        id: String,
        remote_ref: Option<String>,
    },
    /// The other platform refused the transfer, or could not be reached in time.
    TransferFailed {
        id: String,
        reason: String,
    },
    /// The other platform reported how it is handling the transferred order.
    TransferStatus {
        id: String,
        status: String,
        note: Option<String>,
    },
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Accepted { .. } => "accepted",
            EventKind::Amended { .. } => "amended",
            EventKind::InstantAnswered { .. } => "instant_answered",
            EventKind::Dispatched { .. } => "dispatched",
            EventKind::Signed { .. } => "signed",
            EventKind::Returned { .. } => "returned",
            EventKind::NoteAdded { .. } => "note_added",
            EventKind::AttachmentAdded { .. } => "attachment_added",
            EventKind::ExtensionRequested { .. } => "extension_requested",
            EventKind::ExtensionDecided { .. } => "extension_decided",
            EventKind::Replied { .. } => "replied",
            EventKind::Checked { .. } => "checked",
            EventKind::CalledBack { .. } => "called_back",
            EventKind::CallbackNotReached { .. } => "callback_not_reached",
            EventKind::Supervised { .. } => "supervised",
            EventKind::NoticeResponded { .. } => "notice_responded",
            EventKind::ClosedWithoutCallback { .. } => "closed_without_callback",
            EventKind::Withdrawn { .. } => "withdrawn",
            EventKind::Invalidated { .. } => "invalidated",
            EventKind::MergedInto { .. } => "merged_into",
            EventKind::MergedFrom { .. } => "merged_from",
            EventKind::RepeatFound { .. } => "repeat_found",
            EventKind::ReminderSent { .. } => "reminder_sent",
            EventKind::OverdueMarked { .. } => "overdue_marked",
            EventKind::TransferRequested { .. } => "transfer_requested",
            EventKind::TransferAccepted { .. } => "transfer_accepted",
            EventKind::TransferFailed { .. } => "transfer_failed",
            EventKind::TransferStatus { .. } => "transfer_status",
        }
    }

    /// A line for people: what happened, in Chinese.
    pub fn label(&self) -> &'static str {
        match self {
            EventKind::Accepted { .. } => "受理",
            EventKind::Amended { .. } => "修改分类",
            EventKind::InstantAnswered { .. } => "即答办结",
            EventKind::Dispatched { parent: None, .. } => "派单",
            EventKind::Dispatched { .. } => "转派",
            EventKind::Signed { .. } => "签收",
            EventKind::Returned { .. } => "退单",
            EventKind::NoteAdded { .. } => "办理记录",
            EventKind::AttachmentAdded { .. } => "上传附件",
            EventKind::ExtensionRequested { .. } => "申请延期",
            EventKind::ExtensionDecided { approved: true, .. } => "同意延期",
            EventKind::ExtensionDecided { .. } => "驳回延期",
            EventKind::Replied { .. } => "反馈",
            EventKind::Checked { approved: true, .. } => "核验通过",
            EventKind::Checked { .. } => "核验退回",
            EventKind::CalledBack {
                escalated: true, ..
            } => "回访不满意，转督办",
            EventKind::CalledBack { .. } => "回访",
            EventKind::CallbackNotReached { .. } => "回访未接通",
            EventKind::Supervised { notice } => match notice.kind {
                NoticeKind::Reminder => "发出提示单",
                NoticeKind::Supervision => "发出督办单",
            },
            EventKind::NoticeResponded { .. } => "督办回复",
            EventKind::ClosedWithoutCallback { .. } => "免回访办结",
            EventKind::Withdrawn { .. } => "撤单",
            EventKind::Invalidated { .. } => "作废",
            EventKind::MergedInto { .. } => "合并至他单",
            EventKind::MergedFrom { .. } => "并入他单",
            EventKind::RepeatFound { .. } => "识别为重复诉求",
            EventKind::ReminderSent { .. } => "到期提醒",
            EventKind::OverdueMarked { .. } => "逾期",
            EventKind::TransferRequested { .. } => "转办其他平台",
            EventKind::TransferAccepted { .. } => "对方平台已接收",
            EventKind::TransferFailed { .. } => "转办失败",
            EventKind::TransferStatus { .. } => "对方平台办理进展",
        }
    }

    /// The reason given, where the step requires one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            EventKind::Amended { reason, .. }
            | EventKind::Returned { reason, .. }
            | EventKind::ExtensionRequested { reason, .. }
            | EventKind::ClosedWithoutCallback { reason }
            | EventKind::Withdrawn { reason }
            | EventKind::Invalidated { reason }
            | EventKind::MergedInto { reason, .. } => Some(reason),
            EventKind::ExtensionDecided { comment, .. } | EventKind::Checked { comment, .. } => {
                comment.as_deref()
            }
            EventKind::CalledBack { comment, .. } => comment.as_deref(),
            EventKind::CallbackNotReached { note, .. } => note.as_deref(),
            EventKind::Supervised { notice } => Some(&notice.content),
            EventKind::NoticeResponded { content, .. } => Some(content),
            EventKind::Dispatched { note, .. } => note.as_deref(),
            EventKind::TransferRequested { transfer } => Some(&transfer.reason),
            EventKind::TransferFailed { reason, .. } => Some(reason),
            EventKind::TransferStatus { note, status, .. } => note.as_deref().or(Some(status)),
            _ => None,
        }
    }

    /// The order another order is linked to by this event.
    pub fn linked_order(&self) -> Option<OrderId> {
        match self {
            EventKind::MergedInto { target, .. } => Some(target.id),
            EventKind::MergedFrom { source } => Some(source.id),
            EventKind::RepeatFound { of } => of.first().map(|l| l.order.id),
            _ => None,
        }
    }
}
