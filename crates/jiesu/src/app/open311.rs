//! Open311 GeoReport v2 (<http://wiki.open311.org/GeoReport_v2>): the hotline's categories are
//! the services, its orders the service requests. Requests posted here become orders on the
//! channel `open311`, accepted in the name of the system account behind the `api_key`.
//!
//! Reads need no key (as the specification has it), so without one they show what a city may
//! publish: the request's text with numbers starred, the address reduced to its region and no
//! coordinates; confidential (保密) orders show neither text nor place. With a key of the
//! tenant holding the `open311` scope the partner system sees the request as submitted.

use super::{App, AppError, AppResult, Principal};
use chrono::{DateTime, Duration, Utc};
use jiesu_core::TenantId;
use jiesu_core::mask::redact_numbers;
use jiesu_core::order::{Channel, NewOrder, Status};
use jiesu_core::org::OrgTree;
use jiesu_store::orders::{OrderFilter, Scope, Sort, StoredEvent, StoredOrder};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The most requests one GET answers (the specification's suggested ceiling).
pub const MAX_REQUESTS: u32 = 1000;
/// Without dates, GET requests covers this many days back.
pub const DEFAULT_DAYS: i64 = 90;
/// The most ids one `service_request_id` list may name.
pub const MAX_IDS: usize = 200;

/// A category offered as a service.
#[derive(Debug, Clone)]
pub struct Service {
    pub code: String,
    pub name: String,
    /// The category's path, e.g. `城乡建设 > 市容环境`.
    pub description: String,
    /// The top-level category's name.
    pub group: String,
    pub keywords: Vec<String>,
}

/// The filters of GET requests, parsed.
#[derive(Debug, Default)]
pub struct RequestsQuery {
    /// Overrides every other filter.
    pub ids: Vec<String>,
    pub service_codes: Vec<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// `Some(true)` open only, `Some(false)` closed only.
    pub open: Option<bool>,
}

/// One service request as the caller may see it.
pub struct RequestView {
    pub order: StoredOrder,
    /// Present where the caller asked for the history (extensions).
    pub events: Option<Vec<StoredEvent>>,
    /// The caller came with a valid key: nothing is withheld.
    pub full: bool,
    pub org: Arc<OrgTree>,
    pub service_name: Option<String>,
    pub region_name: Option<String>,
}

impl RequestView {
    /// Open311 knows two states: everything not finished is open.
    pub fn is_open(&self) -> bool {
        !self.order.order.status.is_terminal()
    }

    /// The request's text as this caller may read it.
    pub fn description(&self) -> String {
        let o = &self.order.order;
        match (self.full, o.flags.confidential) {
            (true, _) => o.content.clone(),
            (false, true) => "（保密诉求，内容不公开）".into(),
            (false, false) => redact_numbers(&o.content),
        }
    }

    /// The place as this caller may see it: the address, or only the region's name.
    pub fn address(&self) -> Option<String> {
        let o = &self.order.order;
        match (self.full, o.flags.confidential) {
            (true, _) => o.location.address.clone().or(self.region_name.clone()),
            (false, true) => None,
            (false, false) => self.region_name.clone(),
        }
    }

    pub fn coordinates(&self) -> Option<(f64, f64)> {
        let l = &self.order.order.location;
        match (self.full, l.lat, l.lng) {
            (true, Some(lat), Some(lng)) => Some((lat, lng)),
            _ => None,
        }
    }

    /// Why the request is where it is: the reply once there is one, else the stage.
    pub fn status_notes(&self) -> String {
        let o = &self.order.order;
        let stage = o.status.label();
        match (&o.reply, &o.instant_answer) {
            (Some(r), _) if self.full => format!("{stage}：{}", r.content),
            (Some(r), _) => format!("{stage}：{}", redact_numbers(&r.content)),
            (None, Some(a)) => match &a.answer {
                Some(text) if self.full => format!("{stage}：{text}"),
                Some(text) => format!("{stage}：{}", redact_numbers(text)),
                None => stage.to_string(),
            },
            (None, None) => stage.to_string(),
        }
    }

    /// The unit responsible: the lead unit once dispatched, else the reviewing centre.
    pub fn agency(&self) -> String {
        let o = &self.order.order;
        self.org
            .name(o.lead_unit().unwrap_or(o.centre_id))
            .to_string()
    }
}

/// A token for a request posted without an idempotency key: random; with one, derived from
/// the key and the posting system, so that a retry finds the first request.
fn request_token(p: &Principal, idempotency_key: Option<&str>) -> String {
    match idempotency_key {
        Some(k) => {
            let mut h = Sha256::new();
            h.update(format!("jiesu-open311:{}:{}:", p.tenant.0, p.user_id.0));
            h.update(k.as_bytes());
            format!("k{}", &hex::encode(h.finalize())[..31])
        }
        None => {
            let mut b = [0u8; 16];
            rand::thread_rng().fill(&mut b);
            format!("r{}", hex::encode(b))
        }
    }
}

impl App {
    /// Every active category, as a service (cached like the other reference data: a request
    /// finds its service without reading the categories).
    pub async fn open311_services(&self, tenant: TenantId) -> AppResult<Arc<Vec<Service>>> {
        self.services
            .get(tenant, &self.cache_generation, || {
                self.load_services(tenant)
            })
            .await
    }

    async fn load_services(&self, tenant: TenantId) -> AppResult<Vec<Service>> {
        let cats = self.store.categories(tenant).await?;
        let by_code: std::collections::HashMap<&str, &jiesu_store::catalog::Category> =
            cats.iter().map(|c| (c.code.as_str(), c)).collect();
        let path = |code: &str| {
            let mut names = Vec::new();
            let mut at = by_code.get(code).copied();
            while let Some(c) = at {
                names.push(c.name.clone());
                at = c
                    .parent_code
                    .as_deref()
                    .and_then(|p| by_code.get(p).copied());
            }
            names.reverse();
            names
        };
        Ok(cats
            .iter()
            .filter(|c| c.active)
            .map(|c| {
                let names = path(&c.code);
                Service {
                    code: c.code.clone(),
                    name: c.name.clone(),
                    description: names.join(" > "),
                    group: names.first().cloned().unwrap_or_default(),
                    keywords: c.keywords.clone(),
                }
            })
            .collect())
    }

    pub async fn open311_service(&self, tenant: TenantId, code: &str) -> AppResult<Service> {
        self.open311_services(tenant)
            .await?
            .iter()
            .find(|s| s.code == code)
            .cloned()
            .ok_or(AppError::NotFound("服务（service_code）"))
    }

    /// Accepts a request posted by the system behind `p`; the token names it from then on.
    /// A retry with the same idempotency key returns the first request instead of a second.
    pub async fn open311_submit(
        &self,
        p: &Principal,
        mut new: NewOrder,
        idempotency_key: Option<&str>,
    ) -> AppResult<(StoredOrder, String)> {
        let token = request_token(p, idempotency_key);
        if idempotency_key.is_some()
            && let Some(found) = self.open311_by_token(p.tenant, &token).await?
        {
            return Ok((found, token));
        }
        new.channel = Channel::Open311;
        new.external_ref = Some(token.clone());
        match self.accept_order(p, new, None).await {
            Ok(view) => Ok((view.stored, token)),
            Err(AppError::Conflict(_)) if idempotency_key.is_some() => {
                // A concurrent retry stored it first.
                let found = self
                    .open311_by_token(p.tenant, &token)
                    .await?
                    .ok_or(AppError::NotFound("服务请求"))?;
                Ok((found, token))
            }
            Err(e) => Err(e),
        }
    }

    pub async fn open311_by_token(
        &self,
        tenant: TenantId,
        token: &str,
    ) -> AppResult<Option<StoredOrder>> {
        if token.len() > 100 {
            return Ok(None);
        }
        let Some(id) = self
            .store
            .order_id_by_external_ref(tenant, Channel::Open311, token)
            .await?
        else {
            return Ok(None);
        };
        Ok(self.store.order(tenant, id).await?)
    }

    /// The requests matching `q`, newest first, at most [`MAX_REQUESTS`].
    pub async fn open311_requests(
        &self,
        tenant: TenantId,
        q: &RequestsQuery,
        full: bool,
        history: bool,
    ) -> AppResult<Vec<RequestView>> {
        let mut orders = Vec::new();
        if !q.ids.is_empty() {
            for number in &q.ids {
                if let Some(id) = self.store.order_id_by_number(tenant, number).await?
                    && let Some(o) = self.store.order(tenant, id).await?
                    && o.order.category.is_some()
                {
                    orders.push(o);
                }
            }
        } else {
            let now = Utc::now();
            let (from, to) = match (q.start, q.end) {
                (None, None) => (Some(now - Duration::days(DEFAULT_DAYS)), None),
                (s, e) => (s, e),
            };
            let statuses: Vec<Status> = match q.open {
                None => Vec::new(),
                Some(open) => Status::ALL
                    .iter()
                    .copied()
                    .filter(|s| s.is_terminal() != open)
                    .collect(),
            };
            let filter = OrderFilter {
                statuses,
                categories: q.service_codes.clone(),
                categorised: true,
                accepted_from: from,
                // The end date is inclusive.
                accepted_to: to.map(|t| t + Duration::milliseconds(1)),
                ..OrderFilter::default()
            };
            let page = self
                .store
                .list_orders(
                    tenant,
                    &Scope::All,
                    &filter,
                    Sort::AcceptedDesc,
                    None,
                    MAX_REQUESTS,
                )
                .await?;
            orders = page.items;
        }
        let mut out = Vec::with_capacity(orders.len());
        for o in orders {
            out.push(self.open311_view(tenant, o, full, history).await?);
        }
        Ok(out)
    }

    /// One request by its number.
    pub async fn open311_request(
        &self,
        tenant: TenantId,
        number: &str,
        full: bool,
        history: bool,
    ) -> AppResult<RequestView> {
        const NOT_FOUND: AppError = AppError::NotFound("服务请求（service_request_id）");
        if number.len() > 40 {
            return Err(NOT_FOUND);
        }
        let id = self
            .store
            .order_id_by_number(tenant, number)
            .await?
            .ok_or(NOT_FOUND)?;
        let o = self.store.order(tenant, id).await?.ok_or(NOT_FOUND)?;
        if o.order.category.is_none() {
            // Not yet classified: not yet a request for any service.
            return Err(NOT_FOUND);
        }
        self.open311_view(tenant, o, full, history).await
    }

    async fn open311_view(
        &self,
        tenant: TenantId,
        order: StoredOrder,
        full: bool,
        history: bool,
    ) -> AppResult<RequestView> {
        let refs = self.ref_data(tenant).await?;
        let org = self.org(tenant).await?;
        let events = if history {
            Some(self.store.order_events(tenant, order.id).await?)
        } else {
            None
        };
        let o = &order.order;
        Ok(RequestView {
            service_name: o
                .category
                .as_ref()
                .and_then(|c| refs.category_names.get(c.as_str()).cloned()),
            region_name: o
                .location
                .region_code
                .as_ref()
                .and_then(|r| refs.region_names.get(r.as_str()).cloned()),
            order,
            events,
            full,
            org,
        })
    }
}
