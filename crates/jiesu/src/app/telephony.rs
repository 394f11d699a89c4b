//! Telephony (issue 8): the call centre posts its call events (incoming, answered, abandoned,
//! ended); they give the centre's 接通率 and answer times, and every abandoned call puts its
//! caller in the missed-call queue (漏话回拨) until an agent reaches them, the number proves
//! invalid, the allowed attempts run out, or the caller gets through on a later call.

use super::stats::Period;
use super::{App, AppError, AppResult, Principal};
use chrono::{DateTime, Utc};
use jiesu_core::OrderId;
use jiesu_core::role::{Role, Scope};
use jiesu_core::values::{Phone, optional_text};
use jiesu_store::telephony::{
    CallApplied, CallEvent, CallEventError, CallEventKind, CallbackOutcome, Doer, MissedCall,
    MissedCallLog,
};
use serde::Serialize;
use utoipa::ToSchema;

/// A call event as the call centre sends it.
#[derive(Debug, Clone)]
pub struct CallEventInput {
    pub call_id: String,
    pub event: String,
    pub at: DateTime<Utc>,
    pub caller: Option<String>,
    pub line: Option<String>,
    pub agent: Option<String>,
}

/// The centre's call figures for a period (calls counted in the period they came in).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct CallStats {
    /// Calls that came in (呼入量), including those still waiting.
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    /// Still ringing or queued when asked.
    pub waiting: u64,
    /// 接通率 = answered / (answered + abandoned).
    pub connect_rate: Option<f64>,
    /// Share of answered + abandoned calls answered within `service_level_s` seconds.
    pub service_level: Option<f64>,
    pub service_level_s: u32,
    /// Mean seconds from ringing to answer (平均应答时长).
    pub avg_answer_s: Option<f64>,
    /// Longest wait of an answered or abandoned call, in seconds.
    pub max_wait_s: Option<f64>,
    /// Mean seconds a caller waited before giving up.
    pub avg_abandon_s: Option<f64>,
    /// Mean talk time of answered calls that ended, in seconds.
    pub avg_talk_s: Option<f64>,
    pub missed: MissedStats,
    pub agents: Vec<AgentCalls>,
}

/// The missed-call queue's items first missed in the period.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct MissedStats {
    pub items: u64,
    pub pending: u64,
    /// An agent called back and reached the caller.
    pub reached: u64,
    /// The caller got through on a later call.
    pub called_in: u64,
    pub unreachable: u64,
    pub invalid_number: u64,
    /// 漏话回拨率 = (reached + called_in) / items.
    pub recovery_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentCalls {
    pub agent: String,
    pub answered: u64,
    pub avg_answer_s: Option<f64>,
    pub avg_talk_s: Option<f64>,
}

/// A queue item as one viewer sees it: the number in clear only for staff who call back.
#[derive(Debug, Clone, Serialize)]
pub struct MissedView {
    #[serde(flatten)]
    pub item: MissedCall,
    pub caller_masked: bool,
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

fn secs(ms: i64, n: u64) -> Option<f64> {
    (n > 0).then(|| (ms as f64 / n as f64 / 10.0).round() / 100.0)
}

/// The number as digits (`+86`, spaces and dashes dropped): a valid phone, or a short service
/// number of 3–20 digits.
fn caller_number(s: &str) -> AppResult<String> {
    if let Ok(p) = Phone::parse("caller", s) {
        return Ok(p.as_str().to_string());
    }
    let digits: String = s.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if (3..=20).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(AppError::invalid(
            "caller",
            format!("“{s}”不是有效的主叫号码"),
        ))
    }
}

/// A number recognisable but not usable: `138****8000`.
pub(crate) fn mask_number(s: &str) -> String {
    let n = s.chars().count();
    if n <= 4 {
        return "*".repeat(n);
    }
    let head = if n >= 11 {
        3
    } else if n >= 8 {
        2
    } else {
        0
    };
    let chars: Vec<char> = s.chars().collect();
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(n - head - 4));
    out.extend(&chars[n - 4..]);
    out
}

impl App {
    /// Records a call event from the call centre's system (a token with the `telephony`
    /// scope). A resent event changes nothing and says so.
    pub async fn call_event(&self, p: &Principal, e: CallEventInput) -> AppResult<CallApplied> {
        if !p.may_use(Scope::Telephony) {
            return Err(AppError::Forbidden("该令牌不能用于话务事件".into()));
        }
        let kind = match e.event.as_str() {
            "incoming" => CallEventKind::Incoming,
            "answered" => CallEventKind::Answered,
            "abandoned" => CallEventKind::Abandoned,
            "ended" => CallEventKind::Ended,
            other => {
                return Err(AppError::invalid(
                    "event",
                    format!("“{other}”无效，可选：incoming, answered, abandoned, ended"),
                ));
            }
        };
        let call_id = optional_text("call_id", Some(&e.call_id), 100)?
            .ok_or_else(|| AppError::invalid("call_id", "缺少通话编号"))?;
        if e.at > Utc::now() + chrono::Duration::minutes(5) {
            return Err(AppError::invalid("at", "事件时间晚于当前时间"));
        }
        let caller = match e.caller.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() => Some(caller_number(c)?),
            _ if kind == CallEventKind::Incoming => {
                return Err(AppError::invalid("caller", "来电事件须有主叫号码"));
            }
            _ => None,
        };
        let event = CallEvent {
            call_id,
            kind,
            at: e.at,
            caller,
            line: optional_text("line", e.line.as_deref(), 64)?,
            agent: optional_text("agent", e.agent.as_deref(), 64)?,
        };
        if kind == CallEventKind::Answered && event.agent.is_none() {
            return Err(AppError::invalid("agent", "接通事件须有坐席工号"));
        }
        match self.store.apply_call_event(p.tenant, &event).await? {
            Ok(applied) => Ok(applied),
            Err(CallEventError::UnknownCall) => Err(AppError::invalid(
                "caller",
                "未知通话：首个事件须带主叫号码",
            )),
            Err(CallEventError::Conflict(m)) => Err(AppError::Conflict(m.into())),
        }
    }

    fn missed_reader(&self, p: &Principal) -> AppResult<bool> {
        p.require_any(
            &[Role::Agent, Role::Callback, Role::Supervisor, Role::Admin],
            "查看漏话回拨",
        )?;
        Ok(p.roles.iter().any(Role::needs_citizen_contact))
    }

    fn missed_view(item: MissedCall, clear: bool) -> MissedView {
        let mut item = item;
        if !clear {
            item.caller = mask_number(&item.caller);
        }
        MissedView {
            item,
            caller_masked: !clear,
        }
    }

    /// The missed-call queue: pending items oldest first (the order to call back in), or
    /// settled ones newest first.
    pub async fn missed_calls(
        &self,
        p: &Principal,
        pending: bool,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Vec<MissedView>> {
        let clear = self.missed_reader(p)?;
        Ok(self
            .store
            .missed_calls(p.tenant, pending, after, limit.clamp(1, 200))
            .await?
            .into_iter()
            .map(|m| Self::missed_view(m, clear))
            .collect())
    }

    /// One item with its log.
    pub async fn missed_call(
        &self,
        p: &Principal,
        id: i64,
    ) -> AppResult<(MissedView, Vec<MissedCallLog>)> {
        let clear = self.missed_reader(p)?;
        let item = self
            .store
            .missed_call(p.tenant, id)
            .await
            .map_err(|e| match e {
                jiesu_store::StoreError::NotFound => AppError::NotFound("漏话记录"),
                e => e.into(),
            })?;
        let log = self.store.missed_call_log(p.tenant, id).await?;
        Ok((Self::missed_view(item, clear), log))
    }

    /// An agent's callback of a missed call: `reached`, `not_reached` or `invalid_number`, with
    /// a note and, where the call became one, the order it opened.
    pub async fn missed_callback(
        &self,
        p: &Principal,
        id: i64,
        outcome: &str,
        note: Option<String>,
        order_id: Option<i64>,
    ) -> AppResult<MissedView> {
        p.require_any(&[Role::Agent, Role::Callback], "漏话回拨")?;
        let outcome = match outcome {
            "reached" => CallbackOutcome::Reached,
            "not_reached" => CallbackOutcome::NotReached,
            "invalid_number" => CallbackOutcome::InvalidNumber,
            other => {
                return Err(AppError::invalid(
                    "outcome",
                    format!("“{other}”无效，可选：reached, not_reached, invalid_number"),
                ));
            }
        };
        let note = optional_text("note", note.as_deref(), 500)?;
        if let Some(o) = order_id {
            // The order must exist in this tenant.
            self.store
                .order(p.tenant, OrderId(o))
                .await?
                .ok_or_else(|| AppError::invalid("order_id", "工单不存在"))?;
        }
        let by = Doer {
            user: Some(p.user_id),
            name: &p.display_name,
        };
        match self
            .store
            .record_missed_callback(
                p.tenant,
                id,
                &by,
                outcome,
                note.as_deref(),
                order_id.map(OrderId),
                self.config.missed_call_max_attempts,
                Utc::now(),
            )
            .await
        {
            Ok(Some(item)) => Ok(Self::missed_view(item, true)),
            Ok(None) => Err(AppError::Conflict("该漏话已处理完毕".into())),
            Err(jiesu_store::StoreError::NotFound) => Err(AppError::NotFound("漏话记录")),
            Err(e) => Err(e.into()),
        }
    }

    /// The centre's call figures for `period`.
    pub async fn call_stats(&self, p: &Principal, period: Period) -> AppResult<CallStats> {
        p.require_any(
            &[Role::Supervisor, Role::Leader, Role::Admin],
            "查看话务统计",
        )?;
        self.call_stats_of(p.tenant, period).await
    }

    pub(crate) async fn call_stats_of(
        &self,
        tenant: jiesu_core::TenantId,
        period: Period,
    ) -> AppResult<CallStats> {
        let (from, to) = period.millis();
        let sl_s = self.config.telephony_service_level_s;
        let sums = self
            .store
            .call_sums(tenant, from, to, i64::from(sl_s) * 1000)
            .await?;
        let mut s = CallStats {
            service_level_s: sl_s,
            ..CallStats::default()
        };
        let (mut answer_ms, mut abandon_ms, mut talk_ms, mut talked, mut within, mut max) =
            (0i64, 0i64, 0i64, 0u64, 0u64, 0i64);
        let mut agents: std::collections::BTreeMap<String, (u64, i64, i64, u64)> =
            Default::default();
        for r in &sums {
            s.offered += r.calls;
            match r.state.as_str() {
                "answered" => {
                    s.answered += r.calls;
                    answer_ms += r.wait_ms;
                    talk_ms += r.talk_ms;
                    talked += r.talked;
                    within += r.within_sl;
                    max = max.max(r.max_wait_ms);
                    let a = agents
                        .entry(r.agent.clone().unwrap_or_default())
                        .or_default();
                    a.0 += r.calls;
                    a.1 += r.wait_ms;
                    a.2 += r.talk_ms;
                    a.3 += r.talked;
                }
                "abandoned" => {
                    s.abandoned += r.calls;
                    abandon_ms += r.wait_ms;
                    max = max.max(r.max_wait_ms);
                }
                _ => s.waiting += r.calls,
            }
        }
        let settled = s.answered + s.abandoned;
        s.connect_rate = ratio(s.answered, settled);
        s.service_level = ratio(within, settled);
        s.avg_answer_s = secs(answer_ms, s.answered);
        s.avg_abandon_s = secs(abandon_ms, s.abandoned);
        s.avg_talk_s = secs(talk_ms, talked);
        s.max_wait_s = secs(max, u64::from(settled > 0));
        s.agents = agents
            .into_iter()
            .map(|(agent, (n, wait, talk, talked))| AgentCalls {
                agent,
                answered: n,
                avg_answer_s: secs(wait, n),
                avg_talk_s: secs(talk, talked),
            })
            .collect();
        for (status, result, n) in self.store.missed_sums(tenant, from, to).await? {
            s.missed.items += n;
            match (status.as_str(), result.as_deref()) {
                ("pending", _) => s.missed.pending += n,
                (_, Some("reached")) => s.missed.reached += n,
                (_, Some("called_in")) => s.missed.called_in += n,
                (_, Some("unreachable")) => s.missed.unreachable += n,
                (_, Some("invalid_number")) => s.missed.invalid_number += n,
                _ => {}
            }
        }
        s.missed.recovery_rate = ratio(s.missed.reached + s.missed.called_in, s.missed.items);
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_digits_and_masked_for_those_who_do_not_call_back() {
        assert_eq!(
            caller_number("+86 138-0013-8000").ok().as_deref(),
            Some("13800138000")
        );
        assert_eq!(caller_number("12345").ok().as_deref(), Some("12345"));
        assert!(caller_number("anonymous").is_err());
        assert!(caller_number("12").is_err());
        assert_eq!(mask_number("13800138000"), "138****8000");
        assert_eq!(mask_number("12345"), "*2345");
        assert_eq!(mask_number("110"), "***");
    }

    #[test]
    fn seconds_are_rounded_to_hundredths() {
        assert_eq!(secs(10_005, 2), Some(5.0));
        assert_eq!(secs(12_345, 1), Some(12.35));
        assert_eq!(secs(0, 0), None);
    }
}
