//! Request and response bodies of the order API, with their OpenAPI schemas. Requests hold
//! raw values; `parse` turns them into domain types with errors that name the field.

use crate::app::orders::OrderView;
use chrono::{DateTime, Utc};
use jiesu_core::FieldError;
use jiesu_core::deadline::Deadline;
use jiesu_core::mask::CitizenView;
use jiesu_core::order::parse_id_number;
use jiesu_core::order::{
    Assignment, Channel, Citizen, Flags, FlagsPatch, InstantAnswer, Location, NewOrder, Order,
    RequestType, Urgency,
};
use jiesu_core::values::{
    CategoryCode, MAX_TEXT_CHARS, Phone, RegionCode, optional_text, required_text,
};
use jiesu_store::orders::{OrderSummary, StoredEvent};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CitizenInput {
    pub name: Option<String>,
    /// Mobile (11 digits) or landline with area code.
    pub phone: Option<String>,
    /// 18-character resident ID number.
    pub id_number: Option<String>,
    #[serde(default)]
    pub anonymous: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstantAnswerInput {
    pub knowledge_entry_id: String,
    pub answer: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagsInput {
    pub emergency: Option<bool>,
    pub complex: Option<bool>,
    pub repeat: Option<bool>,
    pub confidential: Option<bool>,
    pub needs_contact: Option<bool>,
}

impl FlagsInput {
    fn patch(&self) -> FlagsPatch {
        FlagsPatch {
            emergency: self.emergency,
            complex: self.complex,
            repeat: self.repeat,
            confidential: self.confidential,
            needs_contact: self.needs_contact,
        }
    }
}

/// A new request (受理). With `instant_answer` the order is closed at once (即答办结).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "channel": "phone", "request_type": "complaint", "category": "01.05.03",
    "content": "小区楼下烧烤店油烟扰民，晚上十二点还在营业。", "citizen": {"name": "张先生", "phone": "13800138000"},
    "address": "A市A3区洋湖街道某小区", "region_code": "990103001"
}))]
pub struct CreateOrderRequest {
    /// phone, web, mayor_mailbox, mini_program, qr_code, email, police_110, utility, grid, people_suggestion, leader_day, media, open311, api, other
    pub channel: String,
    /// consultation, help, complaint, report, suggestion, praise
    pub request_type: String,
    pub category: Option<String>,
    /// Defaults to the start of the content.
    pub title: Option<String>,
    pub content: String,
    pub citizen: Option<CitizenInput>,
    pub address: Option<String>,
    pub region_code: Option<String>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    /// normal (default), urgent, very_urgent
    pub urgency: Option<String>,
    pub flags: Option<FlagsInput>,
    /// The request's id in the system it came from; unique per channel.
    pub external_ref: Option<String>,
    pub instant_answer: Option<InstantAnswerInput>,
}

/// The first line of `content`, shortened: a title when none is given.
pub fn derive_title(content: &str) -> String {
    let line = content
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut t: String = line.chars().take(40).collect();
    if line.chars().count() > 40 {
        t.push('…');
    }
    t
}

fn coord(field: &str, v: Option<f64>, max: f64) -> Result<Option<f64>, FieldError> {
    match v {
        Some(x) if !x.is_finite() || x.abs() > max => {
            Err(FieldError::new(field, format!("应在 -{max} 到 {max} 之间")))
        }
        v => Ok(v),
    }
}

impl CreateOrderRequest {
    pub fn parse(self) -> Result<(NewOrder, Option<InstantAnswer>), FieldError> {
        let content = required_text("content", &self.content, MAX_TEXT_CHARS)?;
        let title = match optional_text("title", self.title.as_deref(), 200)? {
            Some(t) => t,
            None => derive_title(&content),
        };
        let c = self.citizen.unwrap_or_default();
        let citizen = Citizen {
            name: optional_text("citizen.name", c.name.as_deref(), 50)?,
            phone: match optional_text("citizen.phone", c.phone.as_deref(), 30)? {
                Some(p) => Some(Phone::parse("citizen.phone", &p)?),
                None => None,
            },
            id_number: match optional_text("citizen.id_number", c.id_number.as_deref(), 18)? {
                Some(s) => Some(parse_id_number("citizen.id_number", &s)?),
                None => None,
            },
            anonymous: c.anonymous,
        };
        if citizen.anonymous && (citizen.name.is_some() || citizen.id_number.is_some()) {
            return Err(FieldError::new(
                "citizen.anonymous",
                "匿名诉求不应填写姓名或身份证号",
            ));
        }
        let flags = self
            .flags
            .unwrap_or_default()
            .patch()
            .apply(Flags::default());
        if flags.needs_contact && citizen.phone.is_none() {
            return Err(FieldError::new(
                "citizen.phone",
                "需要联系诉求人时必须填写电话",
            ));
        }
        let order = NewOrder {
            channel: Channel::parse("channel", self.channel.trim())?,
            request_type: RequestType::parse("request_type", self.request_type.trim())?,
            category: match optional_text("category", self.category.as_deref(), 64)? {
                Some(c) => Some(CategoryCode::parse("category", &c)?),
                None => None,
            },
            title,
            content,
            citizen,
            location: Location {
                address: optional_text("address", self.address.as_deref(), 500)?,
                region_code: match optional_text("region_code", self.region_code.as_deref(), 12)? {
                    Some(r) => Some(RegionCode::parse("region_code", &r)?),
                    None => None,
                },
                lat: coord("lat", self.lat, 90.0)?,
                lng: coord("lng", self.lng, 180.0)?,
            },
            urgency: match self.urgency.as_deref() {
                Some(u) => Urgency::parse("urgency", u.trim())?,
                None => Urgency::Normal,
            },
            flags,
            external_ref: optional_text("external_ref", self.external_ref.as_deref(), 100)?,
            query_code_hash: None,
            source: Default::default(),
        };
        let instant = self.instant_answer.map(|a| InstantAnswer {
            knowledge_entry_id: a.knowledge_entry_id,
            knowledge_version: None,
            answer: a.answer,
        });
        Ok((order, instant))
    }
}

#[derive(Serialize, ToSchema)]
pub struct Coded {
    pub code: &'static str,
    pub label: &'static str,
}

macro_rules! coded {
    ($v:expr) => {
        Coded {
            code: $v.as_str(),
            label: $v.label(),
        }
    };
}

#[derive(Serialize, ToSchema)]
pub struct CitizenDto {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub id_number: Option<String>,
    pub anonymous: bool,
    /// full, masked or hidden: how much of the citizen this viewer may see.
    pub disclosure: String,
}

impl From<&CitizenView> for CitizenDto {
    fn from(c: &CitizenView) -> Self {
        CitizenDto {
            name: c.name.clone(),
            phone: c.phone.clone(),
            id_number: c.id_number.clone(),
            anonymous: c.anonymous,
            disclosure: serde_json::to_value(c.disclosure)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AssignmentDto {
    pub no: u32,
    pub unit_id: i64,
    pub role: Coded,
    pub parent: Option<u32>,
    pub status: Coded,
    pub dispatched_at: DateTime<Utc>,
    pub signed_at: Option<DateTime<Utc>>,
    pub replied_at: Option<DateTime<Utc>>,
    pub reply: Option<String>,
    pub return_reason: Option<String>,
}

impl From<&Assignment> for AssignmentDto {
    fn from(a: &Assignment) -> Self {
        AssignmentDto {
            no: a.no,
            unit_id: a.unit_id.0,
            role: coded!(a.role),
            parent: a.parent,
            status: coded!(a.status),
            dispatched_at: a.dispatched_at,
            signed_at: a.signed_at,
            replied_at: a.replied_at,
            reply: a.reply.clone(),
            return_reason: a.return_reason.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeadlineDto {
    /// dispatch, sign, reply, check or callback
    pub stage: Coded,
    pub due: DateTime<Utc>,
    /// When the stage started (for an extension: the deadline it extended).
    pub start: DateTime<Utc>,
    /// e.g. `3 个工作日`
    pub limit: String,
    /// The rule that set it, e.g. 咨询类, 延期 2 个工作日.
    pub rule: String,
    /// Whether this deadline is the one running now.
    pub running: bool,
}

impl DeadlineDto {
    pub fn of(d: &Deadline, running: bool) -> Self {
        DeadlineDto {
            stage: coded!(d.stage),
            due: d.due,
            start: d.start,
            limit: d.limit.describe(),
            rule: d.rule.clone(),
            running,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeadlinesDto {
    pub dispatch_due: Option<DateTime<Utc>>,
    pub reply_due: Option<DateTime<Utc>>,
    /// The deadline running in the current state.
    pub current_due: Option<DateTime<Utc>>,
    pub overdue: bool,
    /// Every deadline of the order (the lead unit's sign-for deadline included).
    pub items: Vec<DeadlineDto>,
    /// Stages finished late (逾期).
    pub late_stages: Vec<Coded>,
}

/// All of an order's deadlines, in stage order.
pub fn deadlines_of(o: &Order) -> Vec<&Deadline> {
    let d = &o.deadlines;
    let sign = o.active_lead().and_then(|a| a.sign_deadline.as_ref());
    [
        d.dispatch.as_ref(),
        sign,
        d.reply.as_ref(),
        d.check.as_ref(),
        d.callback.as_ref(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// An earlier order that an order repeats.
#[derive(Serialize, ToSchema)]
pub struct RepeatLinkDto {
    pub id: i64,
    pub number: String,
    pub title: String,
    /// `caller` (the same phone number) or `address` (the same address).
    pub basis: String,
    /// 同一来电人 / 同一地址
    pub basis_label: String,
    /// How alike the two requests read (0–1).
    pub similarity: f32,
    pub accepted_at: DateTime<Utc>,
}

/// One work order, as the caller may see it.
#[derive(Serialize, ToSchema)]
pub struct OrderDto {
    pub id: i64,
    pub number: String,
    pub channel: Coded,
    pub request_type: Coded,
    pub category: Option<String>,
    pub title: String,
    pub content: String,
    pub citizen: CitizenDto,
    pub address: Option<String>,
    pub region_code: Option<String>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub urgency: Coded,
    #[schema(value_type = Object)]
    pub flags: Flags,
    pub status: Coded,
    pub closure: Option<Coded>,
    pub centre_id: i64,
    pub lead_unit_id: Option<i64>,
    pub accepted_by: i64,
    pub accepted_at: DateTime<Utc>,
    pub assignments: Vec<AssignmentDto>,
    pub deadlines: DeadlinesDto,
    #[schema(value_type = Option<Object>)]
    pub extension: Option<jiesu_core::order::Extension>,
    #[schema(value_type = Option<Object>)]
    pub reply: Option<jiesu_core::order::Reply>,
    #[schema(value_type = Option<Object>)]
    pub callback: Option<jiesu_core::order::CallbackResult>,
    #[schema(value_type = Option<Object>)]
    pub instant_answer: Option<InstantAnswer>,
    #[schema(value_type = Option<Object>)]
    pub merged_into: Option<jiesu_core::order::OrderRef>,
    #[schema(value_type = Vec<Object>)]
    pub merged_from: Vec<jiesu_core::order::OrderRef>,
    /// Earlier orders this one repeats (重复诉求), with why and how alike.
    pub repeat_of: Vec<RepeatLinkDto>,
    pub external_ref: Option<String>,
    pub rehandle_count: u32,
    /// Callback attempts that did not reach the citizen in the current round (the third
    /// closes the order without callback).
    pub callback_attempts: u32,
    /// Not satisfied after the last round of re-handling: closed and handed to supervision.
    pub escalated: bool,
    /// The highest supervision level (`daily`, `key`, `task_force`), if supervised.
    pub supervision: Option<Coded>,
    /// Supervision notices to units, with their responses.
    #[schema(value_type = Vec<Object>)]
    pub notices: Vec<jiesu_core::order::SupervisionNotice>,
    /// Transfers to other platforms (110, utility hotlines): peer, kind, reason, state
    /// (`requested`, `accepted`, `failed`), the platform's number and latest reported status.
    #[schema(value_type = Vec<Object>)]
    pub transfers: Vec<jiesu_core::order::Transfer>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: u32,
}

impl OrderDto {
    pub fn of(v: &OrderView, now: DateTime<Utc>) -> Self {
        let o: &Order = &v.stored.order;
        OrderDto {
            id: v.stored.id.0,
            number: o.number.clone(),
            channel: coded!(o.channel),
            request_type: coded!(o.request_type),
            category: o.category.as_ref().map(|c| c.as_str().to_string()),
            title: o.title.clone(),
            content: o.content.clone(),
            citizen: CitizenDto::from(&v.citizen),
            address: o.location.address.clone(),
            region_code: o
                .location
                .region_code
                .as_ref()
                .map(|r| r.as_str().to_string()),
            lat: o.location.lat,
            lng: o.location.lng,
            urgency: coded!(o.urgency),
            flags: o.flags,
            status: coded!(o.status),
            closure: o.closure.map(|c| coded!(c)),
            centre_id: o.centre_id.0,
            lead_unit_id: o.lead_unit().map(|u| u.0),
            accepted_by: o.accepted_by.0,
            accepted_at: o.accepted_at,
            assignments: o.assignments.iter().map(AssignmentDto::from).collect(),
            deadlines: DeadlinesDto {
                dispatch_due: o.deadlines.dispatch.as_ref().map(|d| d.due),
                reply_due: o.deadlines.reply.as_ref().map(|d| d.due),
                current_due: o.current_due(),
                overdue: o.is_overdue(now),
                items: {
                    let running = o.running_deadline();
                    deadlines_of(o)
                        .into_iter()
                        .map(|d| DeadlineDto::of(d, running == Some(d)))
                        .collect()
                },
                late_stages: o.late.iter().map(|l| coded!(l.stage)).collect(),
            },
            extension: o.extension.clone(),
            reply: o.reply.clone(),
            callback: o.callback.clone(),
            instant_answer: o.instant_answer.clone(),
            merged_into: o.merged_into.clone(),
            merged_from: o.merged_from.clone(),
            repeat_of: o
                .repeat_of
                .iter()
                .map(|l| RepeatLinkDto {
                    id: l.order.id.0,
                    number: l.order.number.clone(),
                    title: l.title.clone(),
                    basis: l.basis.as_str().to_string(),
                    basis_label: l.basis.label().to_string(),
                    similarity: l.similarity,
                    accepted_at: l.accepted_at,
                })
                .collect(),
            external_ref: o.external_ref.clone(),
            rehandle_count: o.rehandle_count,
            callback_attempts: o.callback_attempts,
            escalated: o.escalated,
            supervision: o.supervision.map(|l| coded!(l)),
            notices: o.notices.clone(),
            transfers: o.transfers.clone(),
            updated_at: o.updated_at,
            closed_at: o.closed_at,
            version: o.version,
        }
    }
}

/// A page of orders.
#[derive(Serialize, ToSchema)]
pub struct OrderListResponse {
    pub items: Vec<OrderSummaryDto>,
    /// Orders matching the filters (all pages), as of the first page.
    pub total: u64,
    /// More than 100,000 orders match a filter whose matches are not kept counted: `total`
    /// is then 100,000, a lower bound.
    pub total_capped: bool,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OrderSummaryDto {
    pub id: i64,
    pub number: String,
    pub channel: Coded,
    pub request_type: Coded,
    pub category: Option<String>,
    pub title: String,
    pub status: Coded,
    pub urgency: Coded,
    pub emergency: bool,
    pub region_code: Option<String>,
    pub lead_unit_id: Option<i64>,
    pub citizen_name: Option<String>,
    pub accepted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub current_due: Option<DateTime<Utc>>,
    pub overdue: bool,
}

impl OrderSummaryDto {
    pub fn of(v: &OrderView, now: DateTime<Utc>) -> Self {
        Self::listed(
            &OrderSummary::of(v.stored.id, &v.stored.order),
            v.citizen.name.clone(),
            now,
        )
    }

    /// An order's row in a list, with the citizen's name as the viewer sees it there.
    pub fn listed(s: &OrderSummary, citizen_name: Option<String>, now: DateTime<Utc>) -> Self {
        OrderSummaryDto {
            id: s.id.0,
            number: s.number.clone(),
            channel: coded!(s.channel),
            request_type: coded!(s.request_type),
            category: s.category.clone(),
            title: s.title.clone(),
            status: coded!(s.status),
            urgency: coded!(s.urgency),
            emergency: s.emergency,
            region_code: s.region_code.clone(),
            lead_unit_id: s.lead_unit_id.map(|u| u.0),
            citizen_name,
            accepted_at: s.accepted_at,
            updated_at: s.updated_at,
            current_due: s.current_due,
            overdue: s.is_overdue(now),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ActorDto {
    pub user_id: i64,
    pub username: String,
    pub role: String,
    pub unit_id: i64,
}

/// One step of an order's history.
#[derive(Serialize, ToSchema)]
pub struct EventDto {
    pub seq: u32,
    pub at: DateTime<Utc>,
    /// Machine name, e.g. `dispatched`.
    pub kind: &'static str,
    /// What happened, for people, e.g. 派单.
    pub label: &'static str,
    pub actor: ActorDto,
    pub from: Option<Coded>,
    pub to: Coded,
    pub reason: Option<String>,
    /// The event's full content (the citizen masked as for the order).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl EventDto {
    pub fn of(e: &StoredEvent, citizen: &CitizenView) -> Self {
        let ev = &e.event;
        let mut payload = serde_json::to_value(&ev.kind).unwrap_or_default();
        if let Some(c) = payload.pointer_mut("/order/citizen") {
            *c = serde_json::to_value(CitizenDto::from(citizen)).unwrap_or_default();
        }
        // The citizen's query code is theirs alone, even hashed.
        if let Some(o) = payload
            .pointer_mut("/order")
            .and_then(|o| o.as_object_mut())
        {
            o.remove("query_code_hash");
        }
        EventDto {
            seq: ev.seq,
            at: ev.at,
            kind: ev.kind.name(),
            label: ev.kind.label(),
            actor: ActorDto {
                user_id: ev.actor.user_id.0,
                username: ev.actor.username.clone(),
                role: ev.actor.role.as_str().to_string(),
                unit_id: ev.actor.unit_id.0,
            },
            from: ev.from.map(|s| coded!(s)),
            to: coded!(ev.to),
            reason: ev.kind.reason().map(str::to_string),
            payload,
            prev_hash: e.prev_hash.clone(),
            hash: e.hash.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventsResponse {
    pub items: Vec<EventDto>,
}

// ---- lifecycle commands ---------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchTargetInput {
    pub unit_id: i64,
    /// lead (主办) or co (协办)
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"targets": [{"unit_id": 12, "role": "lead"}, {"unit_id": 31, "role": "co"}], "note": "请属地街道配合"}))]
pub struct DispatchRequest {
    pub targets: Vec<DispatchTargetInput>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubDispatchRequest {
    pub unit_ids: Vec<i64>,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    pub text: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuperviseRequest {
    /// `reminder` (提示单) or `supervision` (督办单).
    pub kind: String,
    /// `daily` (日常督办), `key` (重点督办) or `task_force` (专班调度).
    pub level: String,
    /// The unit addressed (one that handles the order); default: the lead unit.
    #[serde(default)]
    pub unit_id: Option<i64>,
    pub content: String,
    /// The unit must respond within these hours (1–240).
    pub respond_within_hours: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeResponseRequest {
    /// The notice's number on the order (1, 2, …).
    pub no: u32,
    pub content: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackAttemptRequest {
    /// What happened (no answer, switched off, wrong number …).
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    /// Working days, 1–5.
    pub days: u32,
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub approve: bool,
    /// Required when not approving.
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    pub content: String,
    #[serde(default)]
    pub contacted_citizen: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackRequest {
    /// satisfied, basically_satisfied, dissatisfied
    pub satisfaction: String,
    pub resolved: bool,
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// For 即答办结 of an order pending review: the knowledge entry that answered it.
    pub knowledge_entry_id: Option<String>,
    pub answer: Option<String>,
    /// For closing without a callback.
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The order this one duplicates (by id or by number).
    pub target_id: Option<i64>,
    pub target_number: Option<String>,
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmendRequest {
    pub request_type: Option<String>,
    pub category: Option<String>,
    pub region_code: Option<String>,
    pub urgency: Option<String>,
    pub flags: Option<FlagsInput>,
    pub reason: String,
}

impl AmendRequest {
    pub fn parse(self) -> Result<jiesu_core::order::Command, FieldError> {
        Ok(jiesu_core::order::Command::Amend {
            request_type: self
                .request_type
                .as_deref()
                .map(|t| RequestType::parse("request_type", t.trim()))
                .transpose()?,
            category: self
                .category
                .as_deref()
                .map(|c| CategoryCode::parse("category", c))
                .transpose()?,
            region_code: self
                .region_code
                .as_deref()
                .map(|r| RegionCode::parse("region_code", r))
                .transpose()?,
            urgency: self
                .urgency
                .as_deref()
                .map(|u| Urgency::parse("urgency", u.trim()))
                .transpose()?,
            flags: self.flags.map(|f| f.patch()).unwrap_or_default(),
            reason: self.reason,
        })
    }
}
