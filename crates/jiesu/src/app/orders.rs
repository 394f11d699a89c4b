//! Work-order use cases: accept, every lifecycle command, reads with scoping and masking.

use super::dispatch::Suggestion;
use super::{App, AppError, AppResult, Principal};
use chrono::Utc;
use jiesu_core::mask::{CitizenView, Disclosure, disclosure, listed_name};
use jiesu_core::order::{Command, Ctx, InstantAnswer, NewOrder, Order, OrderRef};
use jiesu_core::org::OrgTree;
use jiesu_core::role::Role;
use jiesu_core::stats::Tally;
use jiesu_core::{OrderId, UnitId};
use jiesu_store::StoreError;
use jiesu_store::audit::PiiRead;
use jiesu_store::orders::{
    Cursor, OrderChange, OrderFilter, OrderPage, OrderSummary, Scope, Sort, StoredEvent,
    StoredOrder,
};

/// How often a command is re-decided when another writer changed the order first.
const RETRIES: usize = 5;

/// An order as one viewer may see it.
pub struct OrderView {
    pub stored: StoredOrder,
    pub citizen: CitizenView,
}

/// An order as one viewer's list shows it.
pub struct ListedOrder {
    pub summary: OrderSummary,
    /// The citizen's name as the viewer may see it in a list (masked, or nothing).
    pub citizen_name: Option<String>,
}

/// Roles whose staff at a centre see every order of that centre.
const CENTRE_ROLES: [Role; 6] = [
    Role::Agent,
    Role::Dispatcher,
    Role::Callback,
    Role::Supervisor,
    Role::Leader,
    Role::Admin,
];

impl App {
    /// The orders `p` may see: everything for centre staff of the city centre; otherwise what
    /// was accepted at or dispatched to their unit or anything below it.
    pub fn scope(&self, p: &Principal, org: &OrgTree) -> Scope {
        let at_root = org.root() == Some(p.unit_id);
        if at_root && CENTRE_ROLES.iter().any(|r| p.has(*r)) {
            Scope::All
        } else {
            Scope::Units(org.subtree(p.unit_id))
        }
    }

    fn can_see(&self, p: &Principal, org: &OrgTree, o: &Order) -> bool {
        match self.scope(p, org) {
            Scope::All => true,
            Scope::Units(units) => {
                units.contains(&o.centre_id)
                    || o.assignments.iter().any(|a| units.contains(&a.unit_id))
            }
        }
    }

    /// Staff of the centre that reviews the order (or of a centre above it).
    /// Whether `p` works at the centre `centre` (an order's reviewing centre) or above it.
    fn is_centre_staff(&self, p: &Principal, org: &OrgTree, centre: UnitId) -> bool {
        org.get(p.unit_id).is_some_and(|u| u.kind.is_centre()) && org.is_within(centre, p.unit_id)
    }

    fn disclosure_for(&self, p: &Principal, org: &OrgTree, o: &Order) -> Disclosure {
        disclosure(o, p.roles, self.is_centre_staff(p, org, o.centre_id))
    }

    fn masked_view(&self, p: &Principal, org: &OrgTree, stored: StoredOrder) -> OrderView {
        let d = match self.disclosure_for(p, org, &stored.order) {
            Disclosure::Full => Disclosure::Masked,
            d => d,
        };
        let citizen = CitizenView::of(&stored.order.citizen, d);
        OrderView { stored, citizen }
    }

    /// Loads an order `p` may see; an order outside their scope does not exist for them.
    pub(crate) async fn visible(
        &self,
        p: &Principal,
        org: &OrgTree,
        id: OrderId,
    ) -> AppResult<StoredOrder> {
        let stored = self
            .store
            .order(p.tenant, id)
            .await?
            .ok_or(AppError::NotFound("工单"))?;
        if !self.can_see(p, org, &stored.order) {
            return Err(AppError::NotFound("工单"));
        }
        Ok(stored)
    }

    async fn check_codes(
        &self,
        p: &Principal,
        category: Option<&str>,
        region: Option<&str>,
    ) -> AppResult<()> {
        let refs = self.ref_data(p.tenant).await?;
        if let Some(c) = category
            && !refs.categories.contains(c)
        {
            return Err(AppError::invalid(
                "category",
                format!("分类“{c}”不存在或已停用"),
            ));
        }
        if let Some(r) = region
            && !refs.regions.contains(r)
        {
            return Err(AppError::invalid(
                "region_code",
                format!("行政区划“{r}”不在本平台服务范围内"),
            ));
        }
        Ok(())
    }

    /// 受理. The response shows the citizen masked: the agent has just typed the details.
    pub async fn accept_order(
        &self,
        p: &Principal,
        new: NewOrder,
        instant: Option<InstantAnswer>,
    ) -> AppResult<OrderView> {
        self.accept_order_at(p, new, instant, None).await
    }

    /// 受理 at a given time (imports of earlier requests); deadlines run from then.
    pub async fn accept_order_at(
        &self,
        p: &Principal,
        new: NewOrder,
        instant: Option<InstantAnswer>,
        at: Option<chrono::DateTime<Utc>>,
    ) -> AppResult<OrderView> {
        self.check_codes(
            p,
            new.category.as_ref().map(|c| c.as_str()),
            new.location.region_code.as_ref().map(|r| r.as_str()),
        )
        .await?;
        let org = self.org(p.tenant).await?;
        let time = self.time(p.tenant).await?;
        let actor = p.actor();
        let ctx = Ctx {
            now: at.unwrap_or_else(Utc::now),
            actor: &actor,
            org: &org,
            calendar: &time.calendar,
            rules: &time.rules,
        };
        let (cited, instant) = match instant {
            Some(a) => {
                let (id, a) = self.cite(p.tenant, a, ctx.now).await?;
                (Some(id), Some(a))
            }
            None => (None, None),
        };
        let repeats = self.find_repeats(p.tenant, &new, ctx.now).await;
        let (order, events) = Order::accept_linked(new, instant, repeats.links, &ctx)?;
        let stored = self
            .store
            .create_order(p.tenant, order, events, repeats.stored)
            .await?;
        self.keep_words(stored.id, stored.order.version, repeats.words);
        if let Some(id) = cited {
            self.count_use(p.tenant, id).await;
        }
        Ok(self.masked_view(p, &org, stored))
    }

    /// Runs one lifecycle command, re-deciding on a concurrent change.
    pub async fn order_command(
        &self,
        p: &Principal,
        id: OrderId,
        cmd: Command,
    ) -> AppResult<OrderView> {
        self.order_command_recording(p, id, cmd, None).await
    }

    /// [`Self::order_command`]; with `suggested` (a dispatch), how the dispatch models'
    /// suggestion compared with the choice is stored with the change.
    pub(crate) async fn order_command_recording(
        &self,
        p: &Principal,
        id: OrderId,
        mut cmd: Command,
        suggested: Option<&Suggestion>,
    ) -> AppResult<OrderView> {
        let mut cited = None;
        if let Command::Close {
            instant_answer: Some(a),
            ..
        } = &mut cmd
        {
            // Who may answer is checked before what they cite.
            p.require_any(&[Role::Agent, Role::Dispatcher], "即答办结")?;
            let (entry, checked) = self.cite(p.tenant, a.clone(), Utc::now()).await?;
            *a = checked;
            cited = Some(entry);
        }
        if let Command::Amend {
            category,
            region_code,
            ..
        } = &cmd
        {
            self.check_codes(
                p,
                category.as_ref().map(|c| c.as_str()),
                region_code.as_ref().map(|r| r.as_str()),
            )
            .await?;
        }
        let org = self.org(p.tenant).await?;
        let stored = self
            .run_command_recording(
                p.tenant,
                &p.actor(),
                Some(p),
                id,
                &cmd,
                Utc::now(),
                suggested,
            )
            .await?;
        if let Some(entry) = cited {
            self.count_use(p.tenant, entry).await;
        }
        Ok(self.masked_view(p, &org, stored))
    }

    /// Decides `cmd` as `actor` on fresh state and stores the result, re-deciding on a
    /// concurrent change. With `viewer`, an order outside their scope does not exist.
    pub(crate) async fn run_command(
        &self,
        tenant: jiesu_core::TenantId,
        actor: &jiesu_core::order::Actor,
        viewer: Option<&Principal>,
        id: OrderId,
        cmd: &Command,
        now: chrono::DateTime<Utc>,
    ) -> AppResult<StoredOrder> {
        self.run_command_recording(tenant, actor, viewer, id, cmd, now, None)
            .await
    }

    /// [`Self::run_command`], storing a dispatch's suggestion outcome with its change.
    #[allow(clippy::too_many_arguments)]
    async fn run_command_recording(
        &self,
        tenant: jiesu_core::TenantId,
        actor: &jiesu_core::order::Actor,
        viewer: Option<&Principal>,
        id: OrderId,
        cmd: &Command,
        now: chrono::DateTime<Utc>,
        suggested: Option<&Suggestion>,
    ) -> AppResult<StoredOrder> {
        let org = self.org(tenant).await?;
        let time = self.time(tenant).await?;
        for _ in 0..RETRIES {
            let stored = match viewer {
                Some(p) => self.visible(p, &org, id).await?,
                None => self
                    .store
                    .order(tenant, id)
                    .await?
                    .ok_or(AppError::NotFound("工单"))?,
            };
            let mut order = stored.order.clone();
            let ctx = Ctx {
                now,
                actor,
                org: &org,
                calendar: &time.calendar,
                rules: &time.rules,
            };
            let events = order.execute(cmd, &ctx)?;
            let units_changed = order.assignments != stored.order.assignments;
            let change = OrderChange {
                tenant,
                id,
                expected_version: stored.order.version,
                prev_hash: stored.last_hash.clone(),
                order: order.clone(),
                events,
                before: Tally::of(&stored.order),
            };
            let outcome = suggested.and_then(|s| super::dispatch::outcome_of(id, s, &order));
            match self
                .store
                .append_recording(
                    vec![(change, units_changed)],
                    outcome.as_ref().map(|o| (tenant, o)),
                )
                .await
            {
                Ok(()) => {
                    return Ok(StoredOrder {
                        id,
                        order,
                        last_hash: String::new(),
                    });
                }
                Err(StoreError::Concurrent) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Concurrent.into())
    }

    /// 合并: closes `id` as merged into `target` and records it on both, atomically.
    pub async fn merge_order(
        &self,
        p: &Principal,
        id: OrderId,
        target: OrderId,
        reason: String,
    ) -> AppResult<OrderView> {
        if id == target {
            return Err(AppError::invalid("target_id", "不能合并到自身"));
        }
        let org = self.org(p.tenant).await?;
        let actor = p.actor();
        for _ in 0..RETRIES {
            let src = self.visible(p, &org, id).await?;
            let dst = self
                .visible(p, &org, target)
                .await
                .map_err(|_| AppError::invalid("target_id", "目标工单不存在"))?;
            let time = self.time(p.tenant).await?;
            let ctx = Ctx {
                now: Utc::now(),
                actor: &actor,
                org: &org,
                calendar: &time.calendar,
                rules: &time.rules,
            };
            let mut s = src.order.clone();
            let mut d = dst.order.clone();
            let se = s.execute(
                &Command::MergeInto {
                    target: OrderRef {
                        id: target,
                        number: d.number.clone(),
                    },
                    target_status: d.status,
                    reason: reason.clone(),
                },
                &ctx,
            )?;
            let de = d.execute(
                &Command::AbsorbMerge {
                    source: OrderRef {
                        id,
                        number: s.number.clone(),
                    },
                },
                &ctx,
            )?;
            let s_units = s.assignments != src.order.assignments;
            let changes = vec![
                (
                    OrderChange {
                        tenant: p.tenant,
                        id,
                        expected_version: src.order.version,
                        prev_hash: src.last_hash.clone(),
                        order: s.clone(),
                        events: se,
                        before: Tally::of(&src.order),
                    },
                    s_units,
                ),
                (
                    OrderChange {
                        tenant: p.tenant,
                        id: target,
                        expected_version: dst.order.version,
                        prev_hash: dst.last_hash.clone(),
                        order: d,
                        events: de,
                        before: Tally::of(&dst.order),
                    },
                    false,
                ),
            ];
            match self.store.append(changes).await {
                Ok(()) => {
                    return Ok(self.masked_view(
                        p,
                        &org,
                        StoredOrder {
                            id,
                            order: s,
                            last_hash: String::new(),
                        },
                    ));
                }
                Err(StoreError::Concurrent) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Concurrent.into())
    }

    /// One order without personal data (masked), for views that do not show the citizen.
    /// The order masked for `p`, if `p` may see it.
    pub(crate) fn view_if_visible(
        &self,
        p: &Principal,
        org: &OrgTree,
        stored: StoredOrder,
    ) -> Option<OrderView> {
        self.can_see(p, org, &stored.order)
            .then(|| self.masked_view(p, org, stored))
    }

    pub async fn order_summary(&self, p: &Principal, id: OrderId) -> AppResult<OrderView> {
        let org = self.org(p.tenant).await?;
        let stored = self.visible(p, &org, id).await?;
        Ok(self.masked_view(p, &org, stored))
    }

    /// One order with the citizen as this viewer may see them; a read in clear is logged
    /// before the data is returned.
    pub async fn order_detail(&self, p: &Principal, id: OrderId) -> AppResult<OrderView> {
        let org = self.org(p.tenant).await?;
        let stored = self.visible(p, &org, id).await?;
        let d = self.disclosure_for(p, &org, &stored.order);
        let citizen = CitizenView::of(&stored.order.citizen, d);
        if citizen.reveals_personal_data() {
            self.log_pii(p, id, &citizen, "order_detail").await?;
        }
        Ok(OrderView { stored, citizen })
    }

    async fn log_pii(
        &self,
        p: &Principal,
        id: OrderId,
        c: &CitizenView,
        purpose: &str,
    ) -> AppResult<()> {
        let mut fields = Vec::new();
        if c.name.is_some() {
            fields.push("name");
        }
        if c.phone.is_some() {
            fields.push("phone");
        }
        if c.id_number.is_some() {
            fields.push("id_number");
        }
        self.store
            .log_pii_read(
                p.tenant,
                PiiRead {
                    at: Utc::now(),
                    user_id: p.user_id,
                    username: p.username.clone(),
                    order_id: id,
                    fields: fields.join(","),
                    purpose: purpose.into(),
                },
            )
            .await?;
        Ok(())
    }

    /// The whole history (一单到底), with the citizen in the acceptance record disclosed as in
    /// the detail view.
    pub async fn order_history(
        &self,
        p: &Principal,
        id: OrderId,
    ) -> AppResult<(Vec<StoredEvent>, CitizenView)> {
        let org = self.org(p.tenant).await?;
        let stored = self.visible(p, &org, id).await?;
        let d = self.disclosure_for(p, &org, &stored.order);
        let events = self.store.order_events(p.tenant, id).await?;
        let first = events
            .first()
            .and_then(|e| match &e.event.kind {
                jiesu_core::order::EventKind::Accepted { order, .. } => Some(order.citizen.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let view = CitizenView::of(&first, d);
        if view.reveals_personal_data() {
            self.log_pii(p, id, &view, "order_history").await?;
        }
        Ok((events, view))
    }

    pub async fn list_orders(
        &self,
        p: &Principal,
        filter: OrderFilter,
        sort: Sort,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> AppResult<OrderPage<OrderView>> {
        let org = self.org(p.tenant).await?;
        let scope = self.scope(p, &org);
        let page = self
            .store
            .list_orders(p.tenant, &scope, &filter, sort, cursor, limit)
            .await?;
        Ok(page.map(|s| self.masked_view(p, &org, s)))
    }

    /// [`Self::list_orders`] as the list screens show it, from the orders' rows alone.
    pub async fn list_summaries(
        &self,
        p: &Principal,
        filter: OrderFilter,
        sort: Sort,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> AppResult<OrderPage<ListedOrder>> {
        let org = self.org(p.tenant).await?;
        let scope = self.scope(p, &org);
        let page = self
            .store
            .list_summaries(p.tenant, &scope, &filter, sort, cursor, limit)
            .await?;
        Ok(page.map(|summary| ListedOrder {
            citizen_name: listed_name(
                summary.citizen_masked_name.as_deref(),
                summary.confidential,
                p.roles,
                self.is_centre_staff(p, &org, summary.centre_id),
            ),
            summary,
        }))
    }

    /// A unit and everything below it, for the `unit` filter; only units the viewer may see.
    pub async fn unit_filter(&self, p: &Principal, unit: UnitId) -> AppResult<Vec<UnitId>> {
        let org = self.org(p.tenant).await?;
        if org.get(unit).is_none() {
            return Err(AppError::invalid("unit", "单位不存在"));
        }
        Ok(org.subtree(unit))
    }
}
