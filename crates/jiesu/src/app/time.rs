//! Deadlines: each tenant's working calendar and time-limit rules, their administration, the
//! working-time calculator, and the scheduler that sends staged reminders and marks overdue
//! orders.

use super::{AdminCap, App, AppError, AppResult};
use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt;
use jiesu_core::calendar::{Calendar, CalendarData, Explained, TimeLimit};
use jiesu_core::deadline::TimeRules;
use jiesu_core::order::{Actor, Command};
use jiesu_core::role::{Role, RoleSet};
use jiesu_core::values::required_text;
use jiesu_core::{DomainError, TenantId, UserId};
use std::collections::BTreeMap;

const CALENDAR_KEY: &str = "calendar";
const RULES_KEY: &str = "time_rules";
/// Orders the scheduler takes per query.
const SCHEDULER_BATCH: u64 = 200;
/// Orders alerted at once: few, so that a backlog after downtime does not crowd out the
/// requests of people at work (they share the writer).
const SCHEDULER_CONCURRENCY: usize = 8;
/// How long a node holds the due orders it took (PostgreSQL, several nodes): a batch takes
/// well under a second; if the node dies, another alerts them after this.
const SCHEDULER_LEASE: std::time::Duration = std::time::Duration::from_secs(30);

/// A tenant's calendar and time-limit rules, ready for computing.
pub struct TenantTime {
    pub calendar: Calendar,
    pub rules: TimeRules,
}

/// What one scheduler pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerPass {
    /// Orders that had an alert due.
    pub orders: usize,
    /// Orders whose alerts went out (the others were changed by someone else meanwhile, or
    /// had nothing due any more).
    pub alerted: usize,
}

impl App {
    pub(super) async fn load_time(&self, tenant: TenantId) -> AppResult<TenantTime> {
        let data = match self.store.setting(tenant, CALENDAR_KEY).await? {
            Some(json) => serde_json::from_str::<CalendarData>(&json).map_err(|e| {
                AppError::Internal(format!("stored calendar of tenant {tenant}: {e}"))
            })?,
            None => self.base_calendar.clone(),
        };
        let rules = match self.store.setting(tenant, RULES_KEY).await? {
            Some(json) => serde_json::from_str::<TimeRules>(&json).map_err(|e| {
                AppError::Internal(format!("stored time rules of tenant {tenant}: {e}"))
            })?,
            None => {
                TimeRules::preset(&self.config.time_rules_preset).unwrap_or_else(TimeRules::ordos)
            }
        };
        let calendar = Calendar::build(data, self.hours.clone())
            .map_err(|e| AppError::Internal(format!("calendar of tenant {tenant}: {e}")))?;
        Ok(TenantTime { calendar, rules })
    }

    async fn save_calendar(
        &self,
        cap: &AdminCap<'_>,
        data: &CalendarData,
        action: &str,
        detail: String,
    ) -> AppResult<()> {
        let tenant = cap.0.tenant;
        Calendar::build(data.clone(), self.hours.clone())
            .map_err(|e| AppError::invalid("calendar", e.to_string()))?;
        let json = serde_json::to_string(data).map_err(|e| AppError::Internal(e.to_string()))?;
        self.store.put_setting(tenant, CALENDAR_KEY, &json).await?;
        self.invalidate_caches(tenant);
        self.audit(cap, action, "calendar".into(), detail).await
    }

    /// A local closure (a typhoon day, a relocation): a day off for deadlines.
    pub async fn add_closure(
        &self,
        cap: &AdminCap<'_>,
        date: NaiveDate,
        reason: String,
    ) -> AppResult<()> {
        let reason = required_text("reason", &reason, 100)?;
        let mut data = self.time(cap.0.tenant).await?.calendar.data().clone();
        let (first, last) = (data.years[0], data.years[1]);
        if !(first..=last).contains(&chrono::Datelike::year(&date)) {
            return Err(AppError::invalid(
                "date",
                format!("日期须在日历覆盖的 {first}–{last} 年之内"),
            ));
        }
        if data.holidays.contains_key(&date) {
            return Err(AppError::invalid("date", "该日已是法定假日"));
        }
        data.makeup_workdays.remove(&date);
        data.closures.insert(date, reason.clone());
        self.save_calendar(
            cap,
            &data,
            "calendar.closure.add",
            format!("{date} {reason}"),
        )
        .await
    }

    pub async fn remove_closure(&self, cap: &AdminCap<'_>, date: NaiveDate) -> AppResult<()> {
        let mut data = self.time(cap.0.tenant).await?.calendar.data().clone();
        if data.closures.remove(&date).is_none() {
            return Err(AppError::NotFound("停止办公日"));
        }
        self.save_calendar(cap, &data, "calendar.closure.remove", date.to_string())
            .await
    }

    /// Adds the State Council's holiday notice for another year.
    pub async fn add_calendar_year(
        &self,
        cap: &AdminCap<'_>,
        year: i32,
        holidays: BTreeMap<NaiveDate, String>,
        makeup_workdays: BTreeMap<NaiveDate, String>,
    ) -> AppResult<()> {
        let mut data = self.time(cap.0.tenant).await?.calendar.data().clone();
        let n = (holidays.len(), makeup_workdays.len());
        data.add_year(year, holidays, makeup_workdays)
            .map_err(|e| AppError::invalid("year", e.to_string()))?;
        self.save_calendar(
            cap,
            &data,
            "calendar.year.add",
            format!("{year}: {} holidays, {} make-up workdays", n.0, n.1),
        )
        .await
    }

    pub async fn set_time_rules(&self, cap: &AdminCap<'_>, rules: TimeRules) -> AppResult<()> {
        rules.validate()?;
        let json = serde_json::to_string(&rules).map_err(|e| AppError::Internal(e.to_string()))?;
        self.store
            .put_setting(cap.0.tenant, RULES_KEY, &json)
            .await?;
        self.invalidate_caches(cap.0.tenant);
        self.audit(
            cap,
            "time_rules.set",
            "time_rules".into(),
            format!("preset {}, {} rules", rules.preset, rules.rules.len()),
        )
        .await
    }

    /// The working-time calculator: `amount` of `limit`'s unit after `start`, explained.
    pub async fn working_time_add(
        &self,
        tenant: TenantId,
        start: DateTime<Utc>,
        limit: TimeLimit,
    ) -> AppResult<Explained> {
        let time = self.time(tenant).await?;
        time.calendar
            .explain(start, limit)
            .map_err(|e| AppError::from(DomainError::from(e)))
    }

    /// The platform acting on its own (the scheduler), at the tenant's city centre.
    pub async fn system_actor(&self, tenant: TenantId) -> AppResult<Actor> {
        let org = self.org(tenant).await?;
        let root = org.root().ok_or(AppError::NotFound("市级中心"))?;
        Ok(Actor {
            user_id: UserId(0),
            username: "system".into(),
            roles: RoleSet::of(&[Role::System]),
            unit_id: root,
        })
    }

    /// One scheduler pass: every reminder and overdue mark due by `now`, across tenants.
    /// Each goes out once: it is an event on the order, written with the notice and the
    /// order's next alert time in one transaction, and a concurrent pass loses the race on
    /// the order's version.
    pub async fn run_scheduler_once(&self, now: DateTime<Utc>) -> AppResult<SchedulerPass> {
        self.run_scheduler(now, u64::MAX).await
    }

    /// Orders with an alert due by `now`, over all tenants (what a pass would take on).
    pub async fn count_due_alerts(&self, now: DateTime<Utc>) -> AppResult<u64> {
        let mut n = 0;
        for t in self.store.tenants().await? {
            n += self.store.count_due_alerts(t.id, now).await?;
        }
        Ok(n)
    }

    /// A scheduler pass that stops after about `budget` orders (the rest wait for the next).
    pub async fn run_scheduler(&self, now: DateTime<Utc>, budget: u64) -> AppResult<SchedulerPass> {
        let mut pass = SchedulerPass::default();
        for t in self.store.tenants().await? {
            let actor = match self.system_actor(t.id).await {
                Ok(a) => a,
                Err(_) => continue,
            };
            loop {
                let left = budget.saturating_sub(pass.orders as u64);
                if left == 0 {
                    return Ok(pass);
                }
                let due = self
                    .store
                    .due_alerts(t.id, now, SCHEDULER_BATCH.min(left), SCHEDULER_LEASE)
                    .await?;
                let n = due.len();
                // Concurrently, so that the alerts share group commits.
                let results: Vec<AppResult<_>> = futures::stream::iter(due)
                    .map(|id| {
                        let actor = &actor;
                        async move {
                            self.run_command(t.id, actor, None, id, &Command::Alert, now)
                                .await
                        }
                    })
                    .buffer_unordered(SCHEDULER_CONCURRENCY)
                    .collect()
                    .await;
                let alerted = results.iter().filter(|r| r.is_ok()).count();
                for r in &results {
                    if let Err(e) = r
                        && !matches!(e, AppError::Conflict(_))
                    {
                        tracing::warn!(error = %e, tenant = t.id.0, "scheduler could not alert an order");
                    }
                }
                pass.orders += n;
                pass.alerted += alerted;
                // Stop when the query came back short, or nothing moved (no endless loop on
                // an order that keeps failing).
                if (n as u64) < SCHEDULER_BATCH.min(left) || alerted == 0 {
                    break;
                }
            }
        }
        Ok(pass)
    }
}
