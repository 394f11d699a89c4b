//! Dispatch aids: the dispatch catalogue (派单目录) and the suggestion for an order —
//! category and type from the classifier, region from the text, units from the catalogue
//! (or, where no rule applies, from the history) — with the reasons, and how often the
//! suggestion matched what dispatchers chose.
//!
//! The classifiers are trained from the tenant's own orders (the dispatchers' final choices
//! are the labels), seeded with the category tree's keywords, and learn from every dispatch
//! at once; they are retrained from the history when they have learned a tenth more than they
//! were trained on, or after a day.

use super::orders::OrderView;
use super::{AdminCap, App, AppError, AppResult, Principal};
use chrono::{DateTime, Utc};
use jiesu_core::dispatch::{Catalogue, CatalogueContext, Rule};
use jiesu_core::order::{AssignmentRole, Command, Order};
use jiesu_core::org::OrgTree;
use jiesu_core::role::Role;
use jiesu_core::{OrderId, TenantId, UnitId};
use jiesu_store::dispatch::{CatalogueVersion, DayAccuracy, LabelledOrder, SuggestionOutcome};
use jiesu_text::classify::{Classifier, Corpus, Lexicon, Prediction, Text, Words};
use jiesu_text::regions::{Place, RegionResolver};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Orders a model is trained on at most (the newest).
const HISTORY: u64 = 100_000;
/// Orders of the history read a statement.
const HISTORY_PAGE: u64 = 1_000;
// The history holds as much of each content as the classifiers read.
const _: () =
    assert!(jiesu_store::dispatch::LABELLED_CONTENT_CHARS >= jiesu_text::classify::CONTENT_CHARS);
/// How long the region resolver and catalogue are kept before reloading.
const AIDS_TTL: Duration = Duration::from_secs(30);
/// A model older than this is retrained.
const MODEL_AGE: Duration = Duration::from_secs(24 * 3600);
/// Suggested categories shown besides the first.
const ALTERNATIVES: usize = 3;

/// Words that mark a request's type, for a tenant without history.
const TYPE_KEYWORDS: &[(&str, &[&str])] = &[
    (
        "consultation",
        &[
            "咨询",
            "请问",
            "询问",
            "如何办理",
            "怎么办理",
            "需要什么材料",
            "是否可以",
            "能否",
        ],
    ),
    (
        "help",
        &["求助", "帮忙", "帮助", "救助", "困难", "无法生活"],
    ),
    (
        "complaint",
        &[
            "投诉",
            "不作为",
            "态度恶劣",
            "扰民",
            "拖欠",
            "乱收费",
            "不合理",
        ],
    ),
    (
        "report",
        &["举报", "违法", "违规", "偷排", "非法", "违建", "黑作坊"],
    ),
    ("suggestion", &["建议", "希望", "呼吁", "提议", "恳请"]),
    ("praise", &["表扬", "感谢", "点赞", "锦旗", "好人好事"]),
];

/// The classifiers of one tenant.
pub struct Models {
    category: Classifier,
    request_type: Classifier,
    unit: Classifier,
    trained_at: Instant,
    trained_on: usize,
    learned_since: usize,
    /// A choice the models could not learn online (a unit or category they do not know):
    /// retrain now.
    unknown_choice: Option<Instant>,
    /// Keywords only, standing in while the history is read.
    placeholder: bool,
    /// How long the training took (see `retrain_gap`).
    took: Duration,
}

/// How long after a training the next may start for more choices learned or a new unit:
/// twenty times what it took, so that retraining keeps under about 5% of a core however fast
/// dispatches come (between trainings the models learn each dispatch online), and at least a
/// second. Under load a training is paced to a quarter of a core (`priority::BACKGROUND_SHARE`;
/// a twentieth on a crowded machine) and takes longer, so the next waits longer too.
fn retrain_gap(took: Duration) -> Duration {
    took.saturating_mul(20).max(Duration::from_secs(1))
}

/// Region resolver, catalogue and the territorial units of one tenant.
pub struct Aids {
    resolver: RegionResolver,
    region_parent: HashMap<String, Option<String>>,
    catalogue: Catalogue,
    catalogue_version: i32,
    /// Region code → the unit serving it (a town, street or district unit).
    territorial: HashMap<String, UnitId>,
}

#[derive(Default)]
pub struct DispatchState {
    aids: std::sync::Mutex<HashMap<TenantId, (Instant, Arc<Aids>)>>,
    models: std::sync::Mutex<HashMap<TenantId, Arc<RwLock<Models>>>>,
    training: std::sync::Mutex<HashSet<TenantId>>,
}

/// The text an order is judged by.
#[derive(Debug, Clone, Default)]
pub struct RequestText {
    pub title: String,
    pub content: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    pub code: String,
    pub name: String,
    pub probability: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegionPick {
    pub code: String,
    /// Names from the top down.
    pub path: Vec<String>,
    pub words: Vec<String>,
    pub ambiguous: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UnitPick {
    pub unit_id: UnitId,
    pub name: String,
    pub role: AssignmentRole,
    /// `catalogue` (a rule) or `history` (the classifier).
    pub source: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RulePick {
    pub version: i32,
    pub index: usize,
    pub category: String,
    pub region: Option<String>,
    pub keyword: Option<String>,
    pub note: String,
}

/// The suggestion for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub category: Option<Pick>,
    pub alternatives: Vec<Pick>,
    /// Words that drove the category.
    pub reasons: Vec<String>,
    pub request_type: Option<Pick>,
    pub region: Option<RegionPick>,
    pub units: Vec<UnitPick>,
    pub rule: Option<RulePick>,
    /// Orders the models learned from (0: keywords and catalogue only).
    pub learned_from: usize,
}

/// The catalogue in force, for the API.
#[derive(Debug, Clone)]
pub struct CatalogueView {
    pub version: i32,
    pub rules: Vec<Rule>,
    pub published_at: Option<DateTime<Utc>>,
    pub published_by: Option<String>,
    pub reason: Option<String>,
}

struct Check<'a> {
    categories: &'a HashSet<String>,
    regions: &'a HashSet<String>,
    org: &'a OrgTree,
}

impl CatalogueContext for Check<'_> {
    fn category_exists(&self, code: &str) -> bool {
        self.categories.contains(code)
    }
    fn region_exists(&self, code: &str) -> bool {
        self.regions.contains(code)
    }
    fn unit_active(&self, unit: UnitId) -> bool {
        self.org.get(unit).is_some_and(|u| u.active)
    }
}

fn view_of(v: Option<CatalogueVersion>) -> AppResult<CatalogueView> {
    Ok(match v {
        None => CatalogueView {
            version: 0,
            rules: Vec::new(),
            published_at: None,
            published_by: None,
            reason: None,
        },
        Some(v) => CatalogueView {
            version: v.version,
            rules: serde_json::from_str(&v.rules).map_err(|e| AppError::Internal(e.to_string()))?,
            published_at: DateTime::from_timestamp_millis(v.created_at),
            published_by: Some(v.created_by_name),
            reason: Some(v.reason),
        },
    })
}

impl App {
    /// The catalogue in force (version 0 and no rules before the first is published).
    pub async fn catalogue(&self, p: &Principal) -> AppResult<CatalogueView> {
        p.require_any(
            &[Role::Dispatcher, Role::Admin, Role::Supervisor],
            "查看派单目录",
        )?;
        view_of(self.store.current_catalogue(p.tenant).await?)
    }

    pub async fn catalogue_version(&self, p: &Principal, version: i32) -> AppResult<CatalogueView> {
        p.require_any(
            &[Role::Dispatcher, Role::Admin, Role::Supervisor],
            "查看派单目录",
        )?;
        match self.store.catalogue_version(p.tenant, version).await? {
            None => Err(AppError::NotFound("派单目录版本")),
            v => view_of(v),
        }
    }

    pub async fn catalogue_history(&self, p: &Principal) -> AppResult<Vec<CatalogueView>> {
        p.require_any(
            &[Role::Dispatcher, Role::Admin, Role::Supervisor],
            "查看派单目录",
        )?;
        self.store
            .catalogue_history(p.tenant)
            .await?
            .into_iter()
            .map(|v| {
                Ok(CatalogueView {
                    version: v.version,
                    rules: Vec::new(),
                    published_at: DateTime::from_timestamp_millis(v.created_at),
                    published_by: Some(v.created_by_name),
                    reason: Some(v.reason),
                })
            })
            .collect()
    }

    /// Publishes `rules` as the next version after `base` (the version the editor started
    /// from: someone else's publication in between is a conflict, not overwritten).
    pub async fn publish_catalogue(
        &self,
        cap: &AdminCap<'_>,
        base: i32,
        rules: Vec<Rule>,
        reason: String,
    ) -> AppResult<i32> {
        let tenant = cap.0.tenant;
        let reason = jiesu_core::values::required_text("reason", &reason, 200)?;
        let refs = self.ref_data(tenant).await?;
        let org = self.org(tenant).await?;
        let catalogue = Catalogue::parse(
            rules,
            &Check {
                categories: &refs.categories,
                regions: &refs.regions,
                org: &org,
            },
        )?;
        let count = catalogue.rules().len();
        let json = serde_json::to_string(catalogue.rules())
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let version = self
            .store
            .publish_catalogue(
                tenant,
                base,
                &json,
                (cap.0.user_id, &cap.0.display_name),
                &reason,
                Utc::now().timestamp_millis(),
            )
            .await
            .map_err(|e| match e {
                jiesu_store::StoreError::Concurrent => {
                    AppError::Conflict("派单目录已被他人更新，请刷新后在最新版本上修改".into())
                }
                e => e.into(),
            })?;
        self.forget_aids(tenant);
        self.audit(
            cap,
            "dispatch_catalogue.publish",
            format!("dispatch_catalogue:{version}"),
            format!("{count} rules: {reason}"),
        )
        .await?;
        Ok(version)
    }

    pub(crate) fn forget_aids(&self, tenant: TenantId) {
        if let Ok(mut g) = self.dispatch.aids.lock() {
            g.remove(&tenant);
        }
    }

    async fn aids(&self, tenant: TenantId) -> AppResult<Arc<Aids>> {
        if let Ok(g) = self.dispatch.aids.lock()
            && let Some((at, a)) = g.get(&tenant)
            && at.elapsed() < AIDS_TTL
        {
            return Ok(a.clone());
        }
        let regions = self.store.regions(tenant).await?;
        let org = self.org(tenant).await?;
        let current = self.store.current_catalogue(tenant).await?;
        let version = current.as_ref().map_or(0, |c| c.version);
        let catalogue = Catalogue::from_stored(view_of(current)?.rules);
        // The territorial unit of a region: a town, street, community or district unit
        // serving it (the most local kind first); a district centre when nothing else does.
        let mut territorial: HashMap<String, (u8, UnitId)> = HashMap::new();
        let mut unit_names = Vec::new();
        for u in org.units().filter(|u| u.active) {
            let Some(code) = &u.region_code else { continue };
            unit_names.push((u.name.clone(), code.clone()));
            let rank = if u.kind.is_centre() { 1 } else { 0 };
            let e = territorial.entry(code.clone()).or_insert((rank, u.id));
            if (rank, u.id) < *e {
                *e = (rank, u.id);
            }
        }
        let aids = Arc::new(Aids {
            resolver: RegionResolver::new(
                regions
                    .iter()
                    .map(|r| Place {
                        code: r.code.clone(),
                        name: r.name.clone(),
                        parent: r.parent_code.clone(),
                    })
                    .collect(),
                &unit_names,
            ),
            region_parent: regions
                .iter()
                .map(|r| (r.code.clone(), r.parent_code.clone()))
                .collect(),
            catalogue,
            catalogue_version: version,
            territorial: territorial.into_iter().map(|(k, (_, u))| (k, u)).collect(),
        });
        if let Ok(mut g) = self.dispatch.aids.lock() {
            g.insert(tenant, (Instant::now(), aids.clone()));
        }
        Ok(aids)
    }

    /// The tenant's models from the category tree's keywords alone, at once: what
    /// suggestions use until the history is read (at the requests' priority: a request
    /// waits for them).
    async fn train_from_keywords(&self, tenant: TenantId) -> AppResult<Models> {
        let started = Instant::now();
        let categories = self.store.categories(tenant).await?;
        let (analyzer, _) = self.analyzer().await?;
        tokio::task::spawn_blocking(move || {
            let set = TrainingSet::new(analyzer, &categories, Vec::new());
            Models {
                category: set.category(),
                request_type: set.request_type(),
                unit: set.unit(),
                trained_at: Instant::now(),
                trained_on: 0,
                learned_since: 0,
                unknown_choice: None,
                placeholder: true,
                took: started.elapsed(),
            }
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
    }

    /// Retrains the tenant's `live` models on its newest [`HISTORY`] orders, in the
    /// background while they serve. Each new model replaces its old one as soon as it is
    /// fitted, so that a training holds one model of the old set fewer at its peak (tens of
    /// MiB for a centre's categories or units); the figures of the set are set at the end.
    async fn retrain(&self, tenant: TenantId, live: &Arc<RwLock<Models>>) -> AppResult<()> {
        let started = Instant::now();
        // Read at the training's pace: while requests come, each page is followed by a
        // pause three times as long (up to 19 times on a crowded machine), so the reader
        // thread keeps to a quarter of a core or less (these pauses count in `read_ms`, the
        // training thread's in `paused_ms`).
        let history = self
            .store
            .labelled_orders_paced(tenant, HISTORY, HISTORY_PAGE, |took| {
                tokio::time::sleep(jiesu_text::pace::pause_after(
                    took,
                    crate::priority::BACKGROUND_SHARE,
                ))
            })
            .await?;
        let read = started.elapsed();
        let categories = self.store.categories(tenant).await?;
        let (analyzer, _) = self.analyzer().await?;
        let target = live.clone();
        let (orders, paused) = crate::priority::paced_in_background("jiesu-train", move || {
            let set = TrainingSet::new(analyzer, &categories, history);
            install(&target, set.category(), |m| &mut m.category);
            install(&target, set.request_type(), |m| &mut m.request_type);
            install(&target, set.unit(), |m| &mut m.unit);
            (set.corpus.len(), jiesu_text::pace::slept())
        })
        .await
        .map_err(AppError::Internal)?;
        let took = started.elapsed();
        if let Ok(mut m) = live.write() {
            m.trained_at = Instant::now();
            m.trained_on = orders;
            m.learned_since = 0;
            // A choice the old models could not learn while this training read the history
            // may be missing from it: train again.
            m.unknown_choice = m.unknown_choice.filter(|at| *at > started);
            m.placeholder = false;
            m.took = took;
        }
        tracing::info!(
            tenant = tenant.0,
            orders,
            read_ms = read.as_millis() as u64,
            ms = took.as_millis() as u64,
            paused_ms = paused.as_millis() as u64,
            "dispatch models trained"
        );
        Ok(())
    }

    /// The tenant's models: trained on first use; retrained in the background when stale.
    async fn models(self: &Arc<Self>, tenant: TenantId) -> AppResult<Arc<RwLock<Models>>> {
        let existing = self
            .dispatch
            .models
            .lock()
            .ok()
            .and_then(|g| g.get(&tenant).cloned());
        let models = match existing {
            Some(m) => m,
            None => {
                // Keywords at once; the history is read in the background (below), so that
                // no request waits for a training.
                let m = Arc::new(RwLock::new(self.train_from_keywords(tenant).await?));
                match self.dispatch.models.lock() {
                    Ok(mut g) => g.entry(tenant).or_insert(m).clone(),
                    Err(_) => m,
                }
            }
        };
        let stale = models.read().is_ok_and(|m| {
            let grown = m.unknown_choice.is_some() || m.learned_since > 50.max(m.trained_on / 10);
            m.placeholder
                || m.trained_at.elapsed() > MODEL_AGE
                || (grown && m.trained_at.elapsed() >= retrain_gap(m.took))
        });
        let start = stale
            && self
                .dispatch
                .training
                .lock()
                .is_ok_and(|mut g| g.insert(tenant));
        if start {
            let app = self.clone();
            let live = models.clone();
            tokio::spawn(async move {
                if let Err(e) = app.retrain(tenant, &live).await {
                    tracing::warn!(tenant = tenant.0, error = %e, "retraining the dispatch models failed")
                }
                if let Ok(mut g) = app.dispatch.training.lock() {
                    g.remove(&tenant);
                }
            });
        }
        Ok(models)
    }

    /// Starts training every tenant's models from its history (at start, so that the first
    /// suggestions need not wait).
    pub async fn warm_models(self: &Arc<Self>) -> AppResult<()> {
        for t in self.store.tenants().await? {
            self.models(t.id).await?;
        }
        Ok(())
    }

    /// Suggests category, type, region and units for a request.
    pub async fn suggest(
        self: &Arc<Self>,
        p: &Principal,
        text: &RequestText,
    ) -> AppResult<Suggestion> {
        p.require_any(&[Role::Agent, Role::Dispatcher], "派单建议")?;
        self.suggestion(p.tenant, text).await
    }

    /// The suggestion for an order the viewer may see.
    pub async fn suggest_for_order(
        self: &Arc<Self>,
        p: &Principal,
        id: OrderId,
    ) -> AppResult<Suggestion> {
        p.require_any(&[Role::Agent, Role::Dispatcher], "派单建议")?;
        let org = self.org(p.tenant).await?;
        let stored = self.visible(p, &org, id).await?;
        self.suggestion(p.tenant, &order_text(&stored.order)).await
    }

    pub(crate) async fn suggestion(
        self: &Arc<Self>,
        tenant: TenantId,
        text: &RequestText,
    ) -> AppResult<Suggestion> {
        let words = self.words_of(text).await?;
        self.suggestion_of_words(tenant, text, &words).await
    }

    /// The request's words as the dispatch models read them.
    async fn words_of(&self, text: &RequestText) -> AppResult<Words> {
        let (analyzer, _) = self.analyzer().await?;
        Ok(Words::of(&analyzer, request_words_text(text)))
    }

    /// [`Self::suggestion`] for a request already segmented by [`Self::words_of`].
    async fn suggestion_of_words(
        self: &Arc<Self>,
        tenant: TenantId,
        text: &RequestText,
        words: &Words,
    ) -> AppResult<Suggestion> {
        let aids = self.aids(tenant).await?;
        let models = self.models(tenant).await?;
        let refs = self.ref_data(tenant).await?;
        let org = self.org(tenant).await?;
        let t = request_words_text(text);
        let (category, request_type, unit, learned_from) = {
            let m = models
                .read()
                .map_err(|_| AppError::Internal("dispatch models poisoned".into()))?;
            (
                m.category.predict_words(t, words),
                m.request_type.predict_words(t, words),
                m.unit.predict_words(t, words),
                m.category.learned(),
            )
        };
        let picks = |p: &Prediction, names: &dyn Fn(&str) -> String| -> Vec<Pick> {
            p.ranked
                .iter()
                .take(ALTERNATIVES + 1)
                .map(|s| Pick {
                    code: s.label.clone(),
                    name: names(&s.label),
                    probability: s.probability,
                })
                .collect()
        };
        let category_name = |c: &str| refs.category_names.get(c).cloned().unwrap_or_default();
        let mut categories = picks(&category, &category_name);
        let best_category = (!categories.is_empty()).then(|| categories.remove(0));
        let type_name = |c: &str| {
            jiesu_core::order::RequestType::parse("request_type", c)
                .map(|t| t.label().to_string())
                .unwrap_or_default()
        };
        let best_type = picks(&request_type, &type_name).into_iter().next();
        let region = aids
            .resolver
            .resolve(&text.address, &format!("{} {}", text.title, text.content));
        let region_pick = region
            .as_ref()
            .filter(|r| !r.code.is_empty())
            .map(|r| RegionPick {
                code: r.code.clone(),
                path: r.path.iter().map(|(_, n)| n.clone()).collect(),
                // As written (the resolver reads folded text).
                words: r
                    .words
                    .iter()
                    .map(|f| {
                        jiesu_text::analyzer::unfold(
                            &format!("{} {} {}", text.address, text.title, text.content),
                            &f.word,
                        )
                    })
                    .collect(),
                ambiguous: r.ambiguous.clone(),
            });
        let chain = region_pick
            .as_ref()
            .map(|r| region_chain(&aids.region_parent, &r.code))
            .unwrap_or_default();
        let chain_refs: Vec<&str> = chain.iter().map(String::as_str).collect();
        let mut units = Vec::new();
        let mut rule = None;
        if let Some(c) = &best_category {
            let whole = format!("{} {} {}", text.title, text.content, text.address);
            if let Some(route) = aids.catalogue.route(&c.code, &chain_refs, &whole) {
                let territorial = || {
                    chain
                        .iter()
                        .find_map(|code| aids.territorial.get(code).copied())
                };
                if let Some(found) = route.units(territorial) {
                    units = found
                        .into_iter()
                        .map(|(id, role)| UnitPick {
                            unit_id: id,
                            name: org.name(id).to_string(),
                            role,
                            source: "catalogue",
                        })
                        .collect();
                    rule = Some(RulePick {
                        version: aids.catalogue_version,
                        index: route.index,
                        category: route.rule.category.clone(),
                        region: route.rule.region.clone(),
                        keyword: route.keyword.map(str::to_string),
                        note: route.rule.note.clone(),
                    });
                }
            }
        }
        if units.is_empty()
            && let Some(best) = unit.best()
            && let Ok(id) = best.label.parse::<i64>()
            && org.get(UnitId(id)).is_some_and(|u| u.active)
        {
            units.push(UnitPick {
                unit_id: UnitId(id),
                name: org.name(UnitId(id)).to_string(),
                role: AssignmentRole::Lead,
                source: "history",
            });
        }
        Ok(Suggestion {
            category: best_category,
            alternatives: categories,
            reasons: category.reasons,
            request_type: best_type,
            region: region_pick,
            units,
            rule,
            learned_from,
        })
    }

    /// Dispatch (派单) through the API: the models' suggestion for the order is made first and
    /// stored with the dispatch itself (how the suggestion compared with the choice, in the same
    /// commit: one wait for the writer, and neither without the other), then the models learn
    /// the choice. A suggestion that cannot be made is logged and never fails the dispatch.
    pub async fn dispatch_order(
        self: &Arc<Self>,
        p: &Principal,
        id: OrderId,
        cmd: Command,
    ) -> AppResult<OrderView> {
        let org = self.org(p.tenant).await?;
        let text = order_text(&self.visible(p, &org, id).await?.order);
        let suggested = async {
            let words = self.words_of(&text).await?;
            let s = self.suggestion_of_words(p.tenant, &text, &words).await?;
            AppResult::Ok((s, words))
        }
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "dispatch suggestion for the outcome failed"))
        .ok();
        let view = self
            .order_command_recording(p, id, cmd, suggested.as_ref().map(|(s, _)| s))
            .await?;
        if let Some((_, words)) = suggested {
            self.learn_choice(p.tenant, &view.stored.order, &text, &words)
                .await;
        }
        Ok(view)
    }

    /// Teaches the models a dispatcher's choice for `order` (segmented as `words`).
    async fn learn_choice(
        self: &Arc<Self>,
        tenant: TenantId,
        order: &Order,
        text: &RequestText,
        words: &Words,
    ) {
        let Some(lead) = lead_of(order) else {
            return;
        };
        let Ok(models) = self.models(tenant).await else {
            return;
        };
        if let Ok(mut m) = models.write() {
            let t = request_words_text(text);
            let mut known = true;
            if let Some(c) = &order.category {
                known &= m.category.learn_words(t, words, c.as_str());
            }
            known &= m
                .request_type
                .learn_words(t, words, order.request_type.as_str());
            known &= m.unit.learn_words(t, words, &lead.0.to_string());
            m.learned_since += 1;
            if !known {
                m.unknown_choice = Some(Instant::now());
            }
        }
        // Starts the retraining a new unit or category asks for.
        let _ = self.models(tenant).await;
    }

    /// Suggestion accuracy per day over the last `days` days.
    pub async fn suggestion_accuracy(
        &self,
        p: &Principal,
        days: u32,
    ) -> AppResult<Vec<DayAccuracy>> {
        p.require_any(
            &[
                Role::Dispatcher,
                Role::Admin,
                Role::Supervisor,
                Role::Leader,
            ],
            "查看派单建议准确率",
        )?;
        if !(1..=366).contains(&days) {
            return Err(AppError::invalid("days", "天数须在 1 至 366 之间"));
        }
        let to = Utc::now().timestamp_millis();
        let from = to - i64::from(days) * 86_400_000;
        Ok(self.store.suggestion_accuracy(p.tenant, from, to).await?)
    }
}

/// The order's active lead unit.
fn lead_of(order: &Order) -> Option<UnitId> {
    order
        .assignments
        .iter()
        .find(|a| a.role == AssignmentRole::Lead && a.status.is_active())
        .map(|a| a.unit_id)
}

/// How a dispatch of order `id` (as it stands after the dispatch) compares with the
/// suggestion `s` made for it; none when it left the order without an active lead unit.
pub(crate) fn outcome_of(id: OrderId, s: &Suggestion, order: &Order) -> Option<SuggestionOutcome> {
    let lead = lead_of(order)?;
    Some(SuggestionOutcome {
        order_id: id.0,
        at: Utc::now().timestamp_millis(),
        suggested_category: s.category.as_ref().map(|c| c.code.clone()),
        chosen_category: order.category.as_ref().map(|c| c.as_str().to_string()),
        suggested_unit: s
            .units
            .iter()
            .find(|u| u.role == AssignmentRole::Lead)
            .map(|u| u.unit_id.0),
        chosen_unit: Some(lead.0),
        suggested_type: s.request_type.as_ref().map(|t| t.code.clone()),
        chosen_type: order.request_type.as_str().to_string(),
    })
}

/// The parts of a request the dispatch models read.
fn request_words_text(text: &RequestText) -> Text<'_> {
    Text {
        title: &text.title,
        content: &text.content,
    }
}

/// A region and the regions above it, nearest first.
fn region_chain(parent: &HashMap<String, Option<String>>, code: &str) -> Vec<String> {
    let mut out = vec![code.to_string()];
    let mut at = code.to_string();
    while let Some(Some(p)) = parent.get(&at) {
        if out.contains(p) || out.len() > 16 {
            break;
        }
        out.push(p.clone());
        at = p.clone();
    }
    out
}

pub fn order_text(o: &Order) -> RequestText {
    RequestText {
        title: o.title.clone(),
        content: o.content.clone(),
        address: o.location.address.clone().unwrap_or_default(),
    }
}

/// What a tenant's three models are trained on: its category tree's keywords and its
/// history, each order's text read once for the three (as word ids and keyword hits: the
/// texts go as they are read).
struct TrainingSet {
    /// The history's orders; lexicon 0: the category tree's keywords, 1: the types'.
    corpus: Corpus,
    categories: LabelColumn,
    request_types: LabelColumn,
    /// The lead unit of each order (none where it has none).
    units: LabelColumn,
}

/// The lexicons a [`TrainingSet`]'s corpus is read with, by their place.
const CATEGORY_LEXICON: usize = 0;
const TYPE_LEXICON: usize = 1;

impl TrainingSet {
    fn new(
        analyzer: jiesu_text::Analyzer,
        categories: &[jiesu_store::catalog::Category],
        history: Vec<LabelledOrder>,
    ) -> Self {
        let keywords =
            jiesu_text::classify::tree_keywords(&analyzer, &crate::classifier::tree(categories));
        let category_lexicon = Lexicon::new(
            categories
                .iter()
                .filter(|c| c.active)
                .filter_map(|c| Some((c.code.clone(), keywords.get(&c.code)?.clone()))),
        );
        let type_lexicon = Lexicon::new(
            TYPE_KEYWORDS
                .iter()
                .map(|(t, w)| (t.to_string(), w.iter().map(|s| s.to_string()).collect())),
        );
        let mut corpus = Corpus::builder(&analyzer, vec![category_lexicon, type_lexicon]);
        // A word is at least a character: room for the most the history can have.
        let chars = history
            .iter()
            .map(|o| o.title.chars().count() + o.content.chars().count())
            .sum();
        corpus.reserve(history.len(), chars);
        let mut categories = LabelColumn::default();
        let mut request_types = LabelColumn::default();
        let mut units = LabelColumn::default();
        // Each order's text is dropped as soon as it is read.
        for o in history {
            jiesu_text::pace::point();
            corpus.push(labelled_text(&o));
            categories.push(Some(&o.category));
            request_types.push(Some(&o.request_type));
            units.push(o.lead_unit.map(|u| u.to_string()).as_deref());
        }
        TrainingSet {
            corpus: corpus.finish(),
            categories,
            request_types,
            units,
        }
    }

    fn category(&self) -> Classifier {
        // Categories nobody has used yet stay suggestible through their keywords only while
        // the history is small; a large history says what the centre uses.
        let small = self.corpus.len() < 1_000;
        Classifier::train_corpus(
            &self.corpus,
            Some(CATEGORY_LEXICON),
            &self.categories.labels(),
            small,
        )
    }

    fn request_type(&self) -> Classifier {
        Classifier::train_corpus(
            &self.corpus,
            Some(TYPE_LEXICON),
            &self.request_types.labels(),
            true,
        )
    }

    fn unit(&self) -> Classifier {
        Classifier::train_corpus(&self.corpus, None, &self.units.labels(), false)
    }
}

/// One label (or none) per order of a history, each distinct label held once.
#[derive(Default)]
struct LabelColumn {
    names: Vec<String>,
    index: HashMap<String, u32>,
    /// Per order, its label's place in `names`.
    of: Vec<Option<u32>>,
}

impl LabelColumn {
    fn push(&mut self, label: Option<&str>) {
        let id = label.map(|l| match self.index.get(l) {
            Some(&i) => i,
            None => {
                let i = self.names.len() as u32;
                self.names.push(l.to_string());
                self.index.insert(l.to_string(), i);
                i
            }
        });
        self.of.push(id);
    }

    fn labels(&self) -> Vec<Option<&str>> {
        self.of
            .iter()
            .map(|id| id.map(|i| self.names[i as usize].as_str()))
            .collect()
    }
}

/// Puts a freshly fitted model in the place `slot` picks of the serving models; the old
/// one is dropped after the lock is released.
fn install(
    live: &RwLock<Models>,
    fresh: Classifier,
    slot: impl FnOnce(&mut Models) -> &mut Classifier,
) {
    let old = match live.write() {
        Ok(mut m) => std::mem::replace(slot(&mut m), fresh),
        Err(_) => fresh,
    };
    drop(old);
}

fn labelled_text(o: &LabelledOrder) -> Text<'_> {
    Text {
        title: &o.title,
        content: &o.content,
    }
}
