//! The supervisor's board (督办看板): the orders that need the centre's attention now —
//! overdue, returned more than once, re-handled, repeats, handed to supervision after the
//! last round of re-handling, and supervision notices still unanswered (overdue ones apart).

use super::orders::OrderView;
use super::{App, AppError, AppResult, Principal};
use chrono::{DateTime, Duration, Utc};
use jiesu_core::order::{AssignmentStatus, Order};
use jiesu_core::role::Role;
use jiesu_store::orders::{Scope, StoredOrder};

/// Orders read per page.
const PAGE: u64 = 2_000;
/// Orders listed per section at most.
const LISTED: usize = 200;
/// Escalated orders stay on the board this long after they were closed.
const ESCALATED_DAYS: i64 = 30;

/// One list of the board, with how many orders it has (the list may be cut).
#[derive(Default)]
pub struct Section {
    pub total: usize,
    pub items: Vec<OrderView>,
}

#[derive(Default)]
pub struct Board {
    /// Open orders whose running deadline has passed.
    pub overdue: Section,
    /// Returned by units twice or more (disputed responsibility: 存疑工单).
    pub returned_twice: Section,
    /// Sent back for re-handling after a callback and still open.
    pub rehandled: Section,
    /// Open repeats (重复诉求).
    pub repeats: Section,
    /// Closed unsatisfied after the last round of re-handling (转督办), last 30 days.
    pub escalated: Section,
    /// Notices waiting for their unit's response, and those past their response time.
    pub notices_pending: Section,
    pub notices_overdue: Section,
}

fn returns(o: &Order) -> usize {
    o.assignments
        .iter()
        .filter(|a| a.status == AssignmentStatus::Returned)
        .count()
}

impl App {
    pub async fn supervision_board(&self, p: &Principal, now: DateTime<Utc>) -> AppResult<Board> {
        p.require_any(
            &[
                Role::Supervisor,
                Role::Leader,
                Role::Admin,
                Role::Dispatcher,
            ],
            "查看督办看板",
        )?;
        let org = self.org(p.tenant).await?;
        if !matches!(self.scope(p, &org), Scope::All) {
            return Err(AppError::Forbidden("督办看板仅市级中心人员可查看".into()));
        }
        let mut board = Board::default();
        let put = |section: fn(&mut Board) -> &mut Section, o: &StoredOrder, b: &mut Board| {
            let s = section(b);
            s.total += 1;
            if s.items.len() < LISTED
                && let Some(v) = self.view_if_visible(p, &org, o.clone())
            {
                s.items.push(v);
            }
        };
        let mut after = 0;
        loop {
            let page = self.store.open_orders(p.tenant, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.id.0;
            for s in &page {
                let o = &s.order;
                if o.is_overdue(now) {
                    put(|b| &mut b.overdue, s, &mut board);
                }
                if returns(o) >= 2 {
                    put(|b| &mut b.returned_twice, s, &mut board);
                }
                if o.rehandle_count > 0 {
                    put(|b| &mut b.rehandled, s, &mut board);
                }
                if o.flags.repeat {
                    put(|b| &mut b.repeats, s, &mut board);
                }
                let pending: Vec<_> = o.notices.iter().filter(|n| n.response.is_none()).collect();
                if !pending.is_empty() {
                    put(|b| &mut b.notices_pending, s, &mut board);
                }
                if pending.iter().any(|n| n.respond_by < now) {
                    put(|b| &mut b.notices_overdue, s, &mut board);
                }
            }
            if (page.len() as u64) < PAGE {
                break;
            }
        }
        let since = (now - Duration::days(ESCALATED_DAYS)).timestamp_millis();
        let mut after = 0;
        loop {
            let page = self
                .store
                .closed_since(p.tenant, since, after, PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.id.0;
            for s in page.iter().filter(|s| s.order.escalated) {
                put(|b| &mut b.escalated, s, &mut board);
            }
            if (page.len() as u64) < PAGE {
                break;
            }
        }
        Ok(board)
    }
}
