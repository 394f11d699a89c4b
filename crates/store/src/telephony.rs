//! Telephony: the call centre's call events, one row per call, and the missed-call queue
//! (漏话回拨). An abandoned call puts its caller in the queue (one pending item per caller,
//! counting the calls missed); a later answered call from the same number settles the item
//! (the citizen got through); otherwise an agent calls back and records the result. Every
//! step is written to the item's log with who and when.

use crate::pii::{Keyring, PiiKeys, seal_number};
use crate::{Result, Store, StoreError, col, from_ms, to_ms};
use chrono::{DateTime, Utc};
use jiesu_core::{OrderId, TenantId, UserId};
use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};
use serde::Serialize;

/// What the call centre reports about a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEventKind {
    Incoming,
    Answered,
    Abandoned,
    Ended,
}

#[derive(Debug, Clone)]
pub struct CallEvent {
    pub call_id: String,
    pub kind: CallEventKind,
    pub at: DateTime<Utc>,
    /// The calling number; needed when the call is not known yet.
    pub caller: Option<String>,
    pub line: Option<String>,
    pub agent: Option<String>,
}

/// What an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallApplied {
    /// The call's state or times changed.
    Applied,
    /// The call already had this (a resend): nothing changed.
    Duplicate,
}

/// The event does not fit the call's state (e.g. answered after it was abandoned), or
/// names a call we do not know without a caller.
#[derive(Debug, Clone)]
pub enum CallEventError {
    UnknownCall,
    Conflict(&'static str),
}

/// An item of the missed-call queue.
#[derive(Debug, Clone, Serialize)]
pub struct MissedCall {
    pub id: i64,
    pub caller: String,
    pub first_call_id: String,
    /// Calls from this number missed while the item was pending.
    pub missed: u32,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// pending or done
    pub status: String,
    /// reached, called_in, unreachable or invalid_number once done.
    pub result: Option<String>,
    /// Callback attempts that did not reach the caller.
    pub attempts: u32,
    /// The order opened from the callback, if any.
    pub order_id: Option<i64>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// One line of a missed-call item's log.
#[derive(Debug, Clone, Serialize)]
pub struct MissedCallLog {
    pub no: u32,
    pub at: DateTime<Utc>,
    pub by_user: Option<i64>,
    pub by_name: String,
    /// missed, called_in, reached, not_reached, unreachable, invalid_number
    pub action: String,
    pub note: Option<String>,
    pub order_id: Option<i64>,
}

/// An agent's callback result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOutcome {
    Reached,
    NotReached,
    InvalidNumber,
}

impl CallbackOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackOutcome::Reached => "reached",
            CallbackOutcome::NotReached => "not_reached",
            CallbackOutcome::InvalidNumber => "invalid_number",
        }
    }
}

/// The calls of a period by agent and state, summed in the database.
#[derive(Debug, Clone, Default)]
pub struct CallSums {
    pub agent: Option<String>,
    pub state: String,
    pub calls: u64,
    /// Σ (answered_at − incoming_at) of answered calls, or (abandoned_at − incoming_at) of
    /// abandoned ones, in ms.
    pub wait_ms: i64,
    pub max_wait_ms: i64,
    /// Answered calls answered within the service-level threshold.
    pub within_sl: u64,
    /// Σ (ended_at − answered_at) over answered calls that ended, and how many those are.
    pub talk_ms: i64,
    pub talked: u64,
}

/// A caller as the `caller` column may hold them (sealed under any key, or from before
/// sealing): placeholders from `$3` on, and their values.
fn caller_lookups(ring: &Keyring, caller: &str) -> (String, Vec<sea_orm::Value>) {
    let values = ring.lookups(caller);
    let list = (0..values.len())
        .map(|i| format!("${}", i + 3))
        .collect::<Vec<_>>()
        .join(", ");
    (list, values.into_iter().map(sea_orm::Value::from).collect())
}

const MISSED_COLS: &str = "id, caller, first_call_id, missed, first_at, last_at, status, result, attempts, order_id, closed_at";

fn missed_from_row(r: &impl crate::lite::Cols, pii: &PiiKeys) -> Result<MissedCall> {
    Ok(MissedCall {
        id: col(r, "id")?,
        caller: pii.open(&col::<String>(r, "caller")?)?,
        first_call_id: col(r, "first_call_id")?,
        missed: col::<i32>(r, "missed")? as u32,
        first_at: from_ms(col(r, "first_at")?),
        last_at: from_ms(col(r, "last_at")?),
        status: col(r, "status")?,
        result: col(r, "result")?,
        attempts: col::<i32>(r, "attempts")? as u32,
        order_id: col(r, "order_id")?,
        closed_at: col::<Option<i64>>(r, "closed_at")?.map(from_ms),
    })
}

/// Who did a step of a missed-call item: a person, or the system (`None`).
pub struct Doer<'a> {
    pub user: Option<UserId>,
    pub name: &'a str,
}

impl Store {
    /// Applies one call event in one transaction: the call's row, and for an abandoned call
    /// the caller's queue item, for an answered one the settling of that item.
    pub async fn apply_call_event(
        &self,
        tenant: TenantId,
        e: &CallEvent,
    ) -> Result<std::result::Result<CallApplied, CallEventError>> {
        let txn = self.write.begin().await?;
        let row = txn
            .query_one_raw(self.stmt(
                "SELECT caller, state, ended_at FROM calls WHERE tenant_id = $1 AND call_id = $2",
                vec![tenant.0.into(), e.call_id.clone().into()],
            ))
            .await?;
        // The caller's number is stored sealed (see `pii::seal_number`); here it is in clear.
        let (caller, state, ended) = match row {
            Some(r) => (
                self.pii().open(&col::<String>(&r, "caller")?)?,
                col::<String>(&r, "state")?,
                col::<Option<i64>>(&r, "ended_at")?.is_some(),
            ),
            None => {
                let Some(caller) = e.caller.clone() else {
                    return Ok(Err(CallEventError::UnknownCall));
                };
                // A call first heard of through a later event began at that event.
                txn.execute_raw(self.stmt(
                    "INSERT INTO calls (tenant_id, call_id, caller, line, state, incoming_at) VALUES ($1, $2, $3, $4, 'ringing', $5)",
                    vec![
                        tenant.0.into(),
                        e.call_id.clone().into(),
                        seal_number(&self.pii().ring(), &caller).into(),
                        e.line.clone().unwrap_or_default().into(),
                        to_ms(e.at).into(),
                    ],
                ))
                .await?;
                if e.kind == CallEventKind::Incoming {
                    txn.commit().await?;
                    return Ok(Ok(CallApplied::Applied));
                }
                (caller, "ringing".to_string(), false)
            }
        };
        let at = to_ms(e.at);
        let set = |sql: &str, extra: Vec<sea_orm::Value>| {
            let mut v: Vec<sea_orm::Value> = vec![tenant.0.into(), e.call_id.clone().into()];
            v.extend(extra);
            self.stmt(sql, v)
        };
        let outcome = match (e.kind, state.as_str()) {
            (CallEventKind::Incoming, _) => Ok(CallApplied::Duplicate),
            (CallEventKind::Answered, "ringing") => {
                txn.execute_raw(set(
                    "UPDATE calls SET state = 'answered', answered_at = $3, agent = $4 WHERE tenant_id = $1 AND call_id = $2",
                    vec![at.into(), e.agent.clone().into()],
                ))
                .await?;
                self.settle_missed(&txn, tenant, &caller, at).await?;
                Ok(CallApplied::Applied)
            }
            (CallEventKind::Answered, "answered") => Ok(CallApplied::Duplicate),
            (CallEventKind::Answered, _) => Err(CallEventError::Conflict("通话已放弃，不能再接通")),
            (CallEventKind::Abandoned | CallEventKind::Ended, "ringing") => {
                txn.execute_raw(set(
                    "UPDATE calls SET state = 'abandoned', abandoned_at = $3, ended_at = $3 WHERE tenant_id = $1 AND call_id = $2",
                    vec![at.into()],
                ))
                .await?;
                self.queue_missed(&txn, tenant, &caller, &e.call_id, at)
                    .await?;
                Ok(CallApplied::Applied)
            }
            (CallEventKind::Abandoned, "answered") => {
                Err(CallEventError::Conflict("通话已接通，不能再记为放弃"))
            }
            (CallEventKind::Ended, "answered") if !ended => {
                txn.execute_raw(set(
                    "UPDATE calls SET ended_at = $3 WHERE tenant_id = $1 AND call_id = $2",
                    vec![at.into()],
                ))
                .await?;
                Ok(CallApplied::Applied)
            }
            _ => Ok(CallApplied::Duplicate),
        };
        if outcome.is_ok() {
            txn.commit().await?;
        }
        Ok(outcome)
    }

    /// Puts an abandoned call's caller in the queue, or counts it on their pending item.
    async fn queue_missed(
        &self,
        txn: &DatabaseTransaction,
        tenant: TenantId,
        caller: &str,
        call_id: &str,
        at: i64,
    ) -> Result<()> {
        // The caller's pending item, sealed under any key (a rotation may be under way);
        // a new one is sealed under the newest.
        let ring = self.pii().ring();
        let (list, mut params) = caller_lookups(&ring, caller);
        params.splice(0..0, [tenant.0.into(), at.into()]);
        let pending = self.stmt(
            &format!(
                "UPDATE missed_calls SET missed = missed + 1, last_at = $2 \
                 WHERE tenant_id = $1 AND status = 'pending' AND caller IN ({list}) RETURNING id"
            ),
            params,
        );
        let row = match txn.query_one_raw(pending).await? {
            Some(r) => r,
            None => txn
                .query_one_raw(self.stmt(
                    "INSERT INTO missed_calls (tenant_id, caller, first_call_id, missed, first_at, last_at, status, attempts) \
                     VALUES ($1, $2, $3, 1, $4, $4, 'pending', 0) \
                     ON CONFLICT (tenant_id, caller) WHERE status = 'pending' \
                     DO UPDATE SET missed = missed_calls.missed + 1, last_at = excluded.last_at RETURNING id",
                    vec![
                        tenant.0.into(),
                        seal_number(&ring, caller).into(),
                        call_id.into(),
                        at.into(),
                    ],
                ))
                .await?
                .ok_or(StoreError::NotFound)?,
        };
        let id: i64 = col(&row, "id")?;
        self.log_missed(
            txn,
            tenant,
            id,
            at,
            &Doer {
                user: None,
                name: "话务系统",
            },
            "missed",
            Some(call_id),
            None,
        )
        .await
    }

    /// A caller got through: their pending item is settled (the citizen reached us).
    async fn settle_missed(
        &self,
        txn: &DatabaseTransaction,
        tenant: TenantId,
        caller: &str,
        at: i64,
    ) -> Result<()> {
        let (list, mut params) = caller_lookups(&self.pii().ring(), caller);
        params.splice(0..0, [tenant.0.into(), at.into()]);
        let row = txn
            .query_one_raw(self.stmt(
                &format!(
                    "UPDATE missed_calls SET status = 'done', result = 'called_in', closed_at = $2 \
                     WHERE tenant_id = $1 AND status = 'pending' AND caller IN ({list}) RETURNING id"
                ),
                params,
            ))
            .await?;
        if let Some(r) = row {
            let id: i64 = col(&r, "id")?;
            self.log_missed(
                txn,
                tenant,
                id,
                at,
                &Doer {
                    user: None,
                    name: "话务系统",
                },
                "called_in",
                None,
                None,
            )
            .await?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn log_missed(
        &self,
        txn: &DatabaseTransaction,
        tenant: TenantId,
        id: i64,
        at: i64,
        by: &Doer<'_>,
        action: &str,
        note: Option<&str>,
        order: Option<OrderId>,
    ) -> Result<()> {
        txn.execute_raw(self.stmt(
            "INSERT INTO missed_call_log (tenant_id, missed_id, no, at, by_user, by_name, action, note, order_id) \
             SELECT $1, $2, COALESCE(MAX(no), 0) + 1, $3, $4, $5, $6, $7, $8 FROM missed_call_log WHERE tenant_id = $1 AND missed_id = $2",
            vec![
                tenant.0.into(),
                id.into(),
                at.into(),
                by.user.map(|u| u.0).into(),
                by.name.into(),
                action.into(),
                note.map(String::from).into(),
                order.map(|o| o.0).into(),
            ],
        ))
        .await?;
        Ok(())
    }

    /// Records an agent's callback of a pending item: reached or invalid number closes it; not
    /// reached counts an attempt, and the last allowed one closes it as unreachable. `None`
    /// when the item is not pending (someone else settled it first).
    #[allow(clippy::too_many_arguments)]
    pub async fn record_missed_callback(
        &self,
        tenant: TenantId,
        id: i64,
        by: &Doer<'_>,
        outcome: CallbackOutcome,
        note: Option<&str>,
        order: Option<OrderId>,
        max_attempts: u32,
        at: DateTime<Utc>,
    ) -> Result<Option<MissedCall>> {
        let txn = self.write.begin().await?;
        let Some(row) = txn
            .query_one_raw(self.stmt(
                &format!("SELECT {MISSED_COLS} FROM missed_calls WHERE tenant_id = $1 AND id = $2"),
                vec![tenant.0.into(), id.into()],
            ))
            .await?
        else {
            return Err(StoreError::NotFound);
        };
        let item = missed_from_row(&row, self.pii())?;
        if item.status != "pending" {
            return Ok(None);
        }
        let at = to_ms(at);
        let attempts = item.attempts + u32::from(outcome == CallbackOutcome::NotReached);
        let result = match outcome {
            CallbackOutcome::Reached => Some("reached"),
            CallbackOutcome::InvalidNumber => Some("invalid_number"),
            CallbackOutcome::NotReached if attempts >= max_attempts => Some("unreachable"),
            CallbackOutcome::NotReached => None,
        };
        let status = if result.is_some() { "done" } else { "pending" };
        txn.execute_raw(self.stmt(
            "UPDATE missed_calls SET status = $3, result = $4, attempts = $5, order_id = $6, closed_at = $7 \
             WHERE tenant_id = $1 AND id = $2 AND status = 'pending'",
            vec![
                tenant.0.into(),
                id.into(),
                status.into(),
                result.map(String::from).into(),
                (attempts as i32).into(),
                order.map(|o| o.0).or(item.order_id).into(),
                result.map(|_| at).into(),
            ],
        ))
        .await?;
        self.log_missed(&txn, tenant, id, at, by, outcome.as_str(), note, order)
            .await?;
        if result == Some("unreachable") {
            self.log_missed(&txn, tenant, id, at, by, "unreachable", None, None)
                .await?;
        }
        let row = txn
            .query_one_raw(self.stmt(
                &format!("SELECT {MISSED_COLS} FROM missed_calls WHERE tenant_id = $1 AND id = $2"),
                vec![tenant.0.into(), id.into()],
            ))
            .await?
            .ok_or(StoreError::NotFound)?;
        let item = missed_from_row(&row, self.pii())?;
        txn.commit().await?;
        Ok(Some(item))
    }

    /// The queue: pending items oldest first, or done items newest first; `after` pages on.
    pub async fn missed_calls(
        &self,
        tenant: TenantId,
        pending: bool,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MissedCall>> {
        let (cmp, order) = if pending { (">", "ASC") } else { ("<", "DESC") };
        let rows = self
            .read
            .query_all_raw(self.stmt(
                &format!(
                    "SELECT {MISSED_COLS} FROM missed_calls WHERE tenant_id = $1 AND status = $2 \
                     AND ($3 IS NULL OR id {cmp} $3) ORDER BY id {order} LIMIT $4"
                ),
                vec![
                    tenant.0.into(),
                    if pending { "pending" } else { "done" }.into(),
                    after.into(),
                    i64::from(limit).into(),
                ],
            ))
            .await?;
        rows.iter()
            .map(|r| missed_from_row(r, self.pii()))
            .collect()
    }

    pub async fn missed_call(&self, tenant: TenantId, id: i64) -> Result<MissedCall> {
        let row = self
            .read
            .query_one_raw(self.stmt(
                &format!("SELECT {MISSED_COLS} FROM missed_calls WHERE tenant_id = $1 AND id = $2"),
                vec![tenant.0.into(), id.into()],
            ))
            .await?
            .ok_or(StoreError::NotFound)?;
        missed_from_row(&row, self.pii())
    }

    pub async fn missed_call_log(&self, tenant: TenantId, id: i64) -> Result<Vec<MissedCallLog>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT no, at, by_user, by_name, action, note, order_id FROM missed_call_log \
                 WHERE tenant_id = $1 AND missed_id = $2 ORDER BY no",
                vec![tenant.0.into(), id.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(MissedCallLog {
                    no: col::<i32>(r, "no")? as u32,
                    at: from_ms(col(r, "at")?),
                    by_user: col(r, "by_user")?,
                    by_name: col(r, "by_name")?,
                    action: col(r, "action")?,
                    note: col(r, "note")?,
                    order_id: col(r, "order_id")?,
                })
            })
            .collect()
    }

    /// The calls that came in during `[from, to)` (epoch ms), summed by agent and state.
    pub async fn call_sums(
        &self,
        tenant: TenantId,
        from: i64,
        to: i64,
        service_level_ms: i64,
    ) -> Result<Vec<CallSums>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT agent, state, COUNT(*) AS calls, \
                 CAST(COALESCE(SUM(COALESCE(answered_at, abandoned_at) - incoming_at), 0) AS BIGINT) AS wait_ms, \
                 CAST(COALESCE(MAX(COALESCE(answered_at, abandoned_at) - incoming_at), 0) AS BIGINT) AS max_wait_ms, \
                 CAST(COALESCE(SUM(CASE WHEN answered_at IS NOT NULL AND answered_at - incoming_at <= $4 THEN 1 ELSE 0 END), 0) AS BIGINT) AS within_sl, \
                 CAST(COALESCE(SUM(CASE WHEN answered_at IS NOT NULL AND ended_at IS NOT NULL THEN ended_at - answered_at ELSE 0 END), 0) AS BIGINT) AS talk_ms, \
                 CAST(COALESCE(SUM(CASE WHEN answered_at IS NOT NULL AND ended_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS talked \
                 FROM calls WHERE tenant_id = $1 AND incoming_at >= $2 AND incoming_at < $3 GROUP BY agent, state",
                vec![tenant.0.into(), from.into(), to.into(), service_level_ms.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CallSums {
                    agent: col(r, "agent")?,
                    state: col(r, "state")?,
                    calls: col::<i64>(r, "calls")? as u64,
                    wait_ms: col(r, "wait_ms")?,
                    max_wait_ms: col(r, "max_wait_ms")?,
                    within_sl: col::<i64>(r, "within_sl")? as u64,
                    talk_ms: col(r, "talk_ms")?,
                    talked: col::<i64>(r, "talked")? as u64,
                })
            })
            .collect()
    }

    /// Missed-call items first missed in `[from, to)` by status and result.
    pub async fn missed_sums(
        &self,
        tenant: TenantId,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, Option<String>, u64)>> {
        let rows = self
            .read
            .query_all_raw(self.stmt(
                "SELECT status, result, COUNT(*) AS n FROM missed_calls \
                 WHERE tenant_id = $1 AND first_at >= $2 AND first_at < $3 GROUP BY status, result",
                vec![tenant.0.into(), from.into(), to.into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    col(r, "status")?,
                    col(r, "result")?,
                    col::<i64>(r, "n")? as u64,
                ))
            })
            .collect()
    }
}
