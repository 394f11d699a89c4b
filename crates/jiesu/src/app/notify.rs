//! Notifications (issue 8): an SMS to the citizen when the request is accepted and when it is
//! closed, a work message (WeChat Work / DingTalk style) to a unit when an order is dispatched
//! to it, when a deadline nears or passes, and when it is supervised. They are derived from
//! the order events in the fan-out pass (in the transaction that takes the events off the
//! outbox, so none is lost or made twice) and sent by an adapter behind [`Notifier`]; the
//! default adapter writes them to the log. A gateway adapter (an SMS platform, WeChat Work)
//! implements the same trait.

use super::{AdminCap, App, AppResult};
use chrono::{DateTime, FixedOffset, Utc};
use futures::future::BoxFuture;
use jiesu_core::OrderId;
use jiesu_core::order::{Citizen, Event, EventKind, Status};
use jiesu_core::org::OrgTree;
use jiesu_store::webhooks::{MessageRow, NewMessage, SendResult};

/// Notifications one pass sends at most.
const SEND_BATCH: u32 = 200;
/// How long a send pass holds the messages it took; another node sends them after that if
/// this one died before recording the outcome.
const MESSAGE_LEASE: std::time::Duration = std::time::Duration::from_secs(300);

/// A message ready to go out.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// sms or wechat
    pub channel: String,
    /// A phone number, or `unit:<id>`.
    pub recipient: String,
    pub template: String,
    pub body: String,
}

/// Sends notifications: an SMS gateway, WeChat Work, or the log.
pub trait Notifier: Send + Sync {
    /// The adapter's name, recorded with each message it sent.
    fn name(&self) -> &'static str;
    /// Sends one message; an error is retried with back-off.
    fn send<'a>(&'a self, m: &'a Outgoing) -> BoxFuture<'a, Result<(), String>>;
}

/// The default adapter: every message goes to the log (target `jiesu::notify`), the phone
/// number masked, and counts as sent.
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn name(&self) -> &'static str {
        "log"
    }

    fn send<'a>(&'a self, m: &'a Outgoing) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            tracing::info!(
                target: "jiesu::notify",
                channel = %m.channel,
                to = %mask_recipient(&m.recipient),
                template = %m.template,
                body = %m.body,
                "notification"
            );
            Ok(())
        })
    }
}

/// A phone number masked (`138****8000`); a unit as it is.
pub fn mask_recipient(r: &str) -> String {
    if r.starts_with("unit:") {
        r.to_string()
    } else {
        super::telephony::mask_number(r)
    }
}

/// A time as people in China read it: `12月01日17:30`.
fn china(t: DateTime<Utc>) -> String {
    match FixedOffset::east_opt(8 * 3600) {
        Some(tz) => t.with_timezone(&tz).format("%m月%d日%H:%M").to_string(),
        None => t.format("%m月%d日%H:%M").to_string(),
    }
}

/// What an event's notifications need to know of its order: its number and title, and, for
/// the events that tell the citizen, the citizen (an accepted order's come in its event).
pub struct Brief<'a> {
    pub number: &'a str,
    pub title: &'a str,
    pub citizen: Option<&'a Citizen>,
}

/// The event closes the order after handling (callback or without one): the citizen is told.
pub fn closes_after_handling(e: &Event) -> bool {
    e.to == Status::Closed
        && e.from.is_some_and(|f| f != Status::Closed)
        && matches!(
            e.kind,
            EventKind::CalledBack { .. } | EventKind::ClosedWithoutCallback { .. }
        )
}

/// The notifications one event of an order gives rise to (template, channel, recipient, text).
pub fn notifications_for(
    order: &Brief<'_>,
    e: &Event,
    org: &OrgTree,
) -> Vec<(&'static str, &'static str, String, String)> {
    let phone_of = |c: &Citizen| {
        c.phone
            .as_ref()
            .filter(|_| !c.anonymous)
            .map(|p| p.as_str().to_string())
    };
    let citizen = order.citizen.and_then(phone_of);
    let no = order.number;
    let mut out = Vec::new();
    match &e.kind {
        EventKind::Accepted {
            number, order: new, ..
        } if e.to != Status::Closed => {
            if let Some(p) = phone_of(&new.citizen) {
                out.push((
                    "accepted",
                    "sms",
                    p,
                    format!(
                        "【12345】您反映的问题已受理，工单编号{number}，我们将尽快办理并答复您。"
                    ),
                ));
            }
        }
        EventKind::Dispatched {
            targets,
            sign,
            reply,
            ..
        } => {
            for (unit, role) in targets {
                let due = sign
                    .as_ref()
                    .map(|d| format!("，请于{}前签收", china(d.due)))
                    .unwrap_or_default();
                let reply = reply
                    .as_ref()
                    .map(|d| format!("，{}前反馈", china(d.due)))
                    .unwrap_or_default();
                out.push((
                    "dispatched",
                    "wechat",
                    format!("unit:{}", unit.0),
                    format!(
                        "【派单】工单{no}“{}”已派至{}（{}）{due}{reply}。",
                        order.title,
                        org.name(*unit),
                        role.label()
                    ),
                ));
            }
        }
        EventKind::ReminderSent {
            stage,
            due,
            minutes_left,
            unit_id,
        } => out.push((
            "reminder",
            "wechat",
            format!("unit:{}", unit_id.0),
            format!(
                "【到期提醒】工单{no}{}时限为{}，剩余{}小时{}分钟，请抓紧办理。",
                stage.label(),
                china(*due),
                minutes_left / 60,
                minutes_left % 60
            ),
        )),
        EventKind::OverdueMarked {
            stage,
            due,
            unit_id,
        } => out.push((
            "overdue",
            "wechat",
            format!("unit:{}", unit_id.0),
            format!(
                "【逾期】工单{no}已超过{}时限（{}）。",
                stage.label(),
                china(*due)
            ),
        )),
        EventKind::Supervised { notice } => out.push((
            "supervised",
            "wechat",
            format!("unit:{}", notice.unit_id.0),
            format!("【{}】工单{no}：{}", notice.kind.label(), notice.content),
        )),
        _ => {}
    }
    // Closed by handling (not on the phone, not handed to another platform): tell the citizen.
    if closes_after_handling(e)
        && let Some(p) = &citizen
    {
        out.push((
            "closed",
            "sms",
            p.clone(),
            format!("【12345】您反映的问题（工单编号{no}）已办结，感谢您对12345热线的支持。"),
        ));
    }
    out
}

impl App {
    /// The notifications of `events` of one order, ready to store.
    pub(crate) fn derive_notifications(
        tenant: jiesu_core::TenantId,
        id: OrderId,
        order: &Brief<'_>,
        events: &[&Event],
        org: &OrgTree,
    ) -> Vec<NewMessage> {
        let mut out = Vec::new();
        for e in events {
            for (template, channel, recipient, body) in notifications_for(order, e, org) {
                out.push(NewMessage {
                    tenant,
                    order_id: id,
                    seq: e.seq,
                    channel,
                    recipient,
                    template,
                    body,
                });
            }
        }
        out
    }

    /// One send pass: every pending notification that is due goes to the adapter.
    pub async fn notify_once(&self) -> AppResult<usize> {
        let due = self
            .store
            .due_messages(Utc::now(), SEND_BATCH, MESSAGE_LEASE)
            .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let mut results = Vec::with_capacity(due.len());
        for n in &due {
            let m = Outgoing {
                channel: n.channel.clone(),
                recipient: n.recipient.clone(),
                template: n.template.clone(),
                body: n.body.clone(),
            };
            let now = Utc::now();
            let (status, error, next_at) = match self.notifier.send(&m).await {
                Ok(()) => ("sent", None, now),
                Err(e) if n.attempts + 1 >= self.config.webhook_max_attempts => {
                    ("failed", Some(e), now)
                }
                Err(e) => (
                    "pending",
                    Some(e),
                    now + super::webhooks::backoff(self.config.webhook_retry_base_ms, n.attempts),
                ),
            };
            results.push(SendResult {
                id: n.id,
                tenant: n.tenant,
                status,
                adapter: self.notifier.name().to_string(),
                error,
                next_at,
                at: now,
            });
        }
        self.store.record_sends(&results).await?;
        Ok(results.len())
    }

    /// The notification log (admin), phone numbers masked.
    pub async fn notification_log(
        &self,
        cap: &AdminCap<'_>,
        order: Option<OrderId>,
        status: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> AppResult<Vec<MessageRow>> {
        if let Some(s) = status
            && !matches!(s, "pending" | "sent" | "failed")
        {
            return Err(super::AppError::invalid(
                "status",
                "可选：pending, sent, failed",
            ));
        }
        let mut rows = self
            .store
            .outbound_messages(cap.0.tenant, order, status, before, limit.clamp(1, 500))
            .await?;
        for r in &mut rows {
            r.recipient = mask_recipient(&r.recipient);
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_masked_units_are_not() {
        assert_eq!(mask_recipient("13800138000"), "138****8000");
        assert_eq!(mask_recipient("unit:12"), "unit:12");
        assert_eq!(mask_recipient("07554567890"), "075****7890");
    }
}
