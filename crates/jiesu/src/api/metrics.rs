//! Prometheus metrics at `GET /metrics` (OpenMetrics text): requests and their latencies per
//! route, the group-commit writer's work, and — read from the database at each scrape — the
//! depth of every background queue and each tenant's open and overdue orders. Off unless
//! `metrics_token` is configured; the scraper sends it as `Authorization: Bearer …`.

use super::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WayLabels {
    way: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    tenant: String,
    status: String,
}

/// The node's registry and the metrics the request path moves.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    in_flight: Gauge,
    index_behind: Gauge,
    writer_jobs: Gauge,
    writer_commits: Gauge,
    writer_seconds: Family<PhaseLabels, Gauge<f64, AtomicU64>>,
    writer_slow: Gauge,
    writer_syncs: Gauge,
    writer_checkpoints: Gauge,
    sqlite_reads: Family<WayLabels, Gauge>,
    sqlite_read_connections: Gauge,
    sqlite_cache_wrapped: Gauge,
    sqlite_cache_truncations: Family<OutcomeLabels, Gauge>,
    queue_depth: Family<QueueLabels, Gauge>,
    orders: Family<StatusLabels, Gauge>,
    overdue: Family<TenantLabels, Gauge>,
    alerts_due: Family<TenantLabels, Gauge>,
    missed_calls: Family<TenantLabels, Gauge>,
    /// One scrape at a time: a scrape clears and refills the database gauges.
    scrape: tokio::sync::Mutex<()>,
}

fn latency_histogram() -> Histogram {
    // 1 ms … 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("jiesu");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response, by method and route",
            latency.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "Requests being handled now",
            in_flight.clone(),
        );
        let index_behind = Gauge::default();
        registry.register(
            "order_index_behind",
            "Order changes this node's search index has not read yet",
            index_behind.clone(),
        );
        let writer_jobs = Gauge::default();
        registry.register(
            "writer_jobs",
            "Writes the group-commit writer has committed since the node started",
            writer_jobs.clone(),
        );
        let writer_commits = Gauge::default();
        registry.register(
            "writer_commits",
            "Transactions (group commits) the writer has made since the node started",
            writer_commits.clone(),
        );
        let writer_seconds = Family::<PhaseLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "writer_seconds",
            "Time the writer's committed batches spent since the node started, by phase: begin (waiting for the database's write lock), work (the batch's statements), commit; and on SQLite sync (the log's fsyncs, made by a thread of their own while the writer goes on) and checkpoint (copying the log into the database file after a commit, before the next batch)",
            writer_seconds.clone(),
        );
        let writer_slow = Gauge::default();
        registry.register(
            "writer_slow_batches",
            "Group commits that took longer than 100 ms since the node started (each is logged with its phases)",
            writer_slow.clone(),
        );
        let writer_syncs = Gauge::default();
        registry.register(
            "writer_syncs",
            "SQLite: fsyncs of the database's log since the node started, each making every group commit written before it durable (their callers are answered then)",
            writer_syncs.clone(),
        );
        let writer_checkpoints = Gauge::default();
        registry.register(
            "writer_checkpoints",
            "SQLite: checkpoints the writer made since the node started, each copying the log into the database file once it held 1,000 pages",
            writer_checkpoints.clone(),
        );
        let sqlite_reads = Family::<WayLabels, Gauge>::default();
        registry.register(
            "sqlite_reads",
            "SQLite read statements since the node started, by way: quick (on the request's thread), interrupted (past a millisecond there, then run again), blocking (on a blocking thread)",
            sqlite_reads.clone(),
        );
        let sqlite_read_connections = Gauge::default();
        registry.register(
            "sqlite_read_connections_opened",
            "SQLite read connections opened since the node started",
            sqlite_read_connections.clone(),
        );
        let sqlite_cache_wrapped = Gauge::default();
        registry.register(
            "sqlite_cache_wrapped",
            "1 where SQLite's page caches skip truncations with nothing to drop (jiesu-pcache; 0 where SQLite started before it could be installed)",
            sqlite_cache_wrapped.clone(),
        );
        let sqlite_cache_truncations = Family::<OutcomeLabels, Gauge>::default();
        registry.register(
            "sqlite_cache_truncations",
            "SQLite page cache truncations since the node started (one at the end of every write transaction), by outcome: skipped (nothing at or above the limit), passed (to SQLite's default cache)",
            sqlite_cache_truncations.clone(),
        );
        let queue_depth = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "queue_depth",
            "Rows waiting in a background queue: event_outbox (fan-out to webhooks and messages), webhook_deliveries, outbound_messages, transfers",
            queue_depth.clone(),
        );
        let orders = Family::<StatusLabels, Gauge>::default();
        registry.register("orders", "Orders per tenant and status", orders.clone());
        let overdue = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "orders_overdue",
            "Open orders whose running deadline has passed",
            overdue.clone(),
        );
        let alerts_due = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "alerts_due",
            "Reminders and overdue marks due and not yet sent (the scheduler's backlog)",
            alerts_due.clone(),
        );
        let missed_calls = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "missed_calls_pending",
            "Missed callers waiting to be called back (漏话回拨)",
            missed_calls.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            in_flight,
            index_behind,
            writer_jobs,
            writer_commits,
            writer_seconds,
            writer_slow,
            writer_syncs,
            writer_checkpoints,
            sqlite_reads,
            sqlite_read_connections,
            sqlite_cache_wrapped,
            sqlite_cache_truncations,
            queue_depth,
            orders,
            overdue,
            alerts_due,
            missed_calls,
            scrape: tokio::sync::Mutex::new(()),
        }
    }

    /// Counts one answered request.
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.to_string(),
            })
            .observe(seconds);
    }

    /// Reads the database gauges and writes everything in the OpenMetrics text format.
    async fn render(&self, app: &AppState) -> Result<String, String> {
        let _one = self.scrape.lock().await;
        let stats = app.store.writer_stats();
        self.writer_jobs.set(stats.jobs as i64);
        self.writer_commits.set(stats.commits as i64);
        for (phase, us) in [
            ("begin", stats.begin_us),
            ("work", stats.work_us),
            ("commit", stats.commit_us),
            ("sync", stats.sync_us),
            ("checkpoint", stats.checkpoint_us),
        ] {
            self.writer_seconds
                .get_or_create(&PhaseLabels { phase })
                .set(us as f64 / 1e6);
        }
        self.writer_slow.set(stats.slow as i64);
        self.writer_syncs.set(stats.syncs as i64);
        self.writer_checkpoints.set(stats.checkpoints as i64);
        let reads = app.store.reader_stats();
        for (way, n) in [
            ("quick", reads.quick),
            ("interrupted", reads.interrupted),
            ("blocking", reads.blocking),
        ] {
            self.sqlite_reads
                .get_or_create(&WayLabels { way })
                .set(n as i64);
        }
        self.sqlite_read_connections.set(reads.opened as i64);
        let wrapped = jiesu_store::pcache::status() == Some(jiesu_store::pcache::Status::Active);
        self.sqlite_cache_wrapped.set(i64::from(wrapped));
        let cache = jiesu_store::pcache::counts();
        for (outcome, n) in [("skipped", cache.skipped), ("passed", cache.passed)] {
            self.sqlite_cache_truncations
                .get_or_create(&OutcomeLabels { outcome })
                .set(n as i64);
        }
        let g = app
            .store
            .ops_gauges(chrono::Utc::now())
            .await
            .map_err(|e| e.to_string())?;
        let behind = app.order_index_behind().await.map_err(|e| e.to_string())?;
        self.index_behind.set(behind as i64);
        self.queue_depth.clear();
        for (queue, n) in &g.queues {
            self.queue_depth
                .get_or_create(&QueueLabels {
                    queue: (*queue).to_string(),
                })
                .set(*n as i64);
        }
        for f in [&self.overdue, &self.alerts_due, &self.missed_calls] {
            f.clear();
        }
        self.orders.clear();
        for t in &g.tenants {
            let tenant = TenantLabels {
                tenant: t.tenant.clone(),
            };
            self.overdue.get_or_create(&tenant).set(t.overdue as i64);
            self.alerts_due
                .get_or_create(&tenant)
                .set(t.alerts_due as i64);
            self.missed_calls
                .get_or_create(&tenant)
                .set(t.missed_calls_pending as i64);
            for (status, n) in &t.by_status {
                self.orders
                    .get_or_create(&StatusLabels {
                        tenant: t.tenant.clone(),
                        status: status.clone(),
                    })
                    .set(*n as i64);
            }
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .map_err(|e| e.to_string())?;
        Ok(out)
    }
}

/// Middleware (a route layer, so the matched route is known): counts and times each request.
pub async fn track(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = req.method().as_str().to_string();
    let start = Instant::now();
    // Background work keeps to its share of a core while requests come.
    jiesu_text::pace::busy();
    m.in_flight.inc();
    let res = next.run(req).await;
    m.in_flight.dec();
    m.observe(
        &method,
        &route,
        res.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    res
}

/// `GET /metrics`: 404 when no `metrics_token` is configured, 401 without the right token.
pub async fn scrape(
    State((app, m)): State<(AppState, Arc<Metrics>)>,
    headers: HeaderMap,
) -> Response {
    let expected = app.config.metrics_token.as_str();
    if expected.is_empty() {
        return super::ApiError::App(crate::app::AppError::NotFound("接口")).into_response();
    }
    let given = super::header_str(&headers, header::AUTHORIZATION)
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Compared as digests, so the time taken says nothing about the token.
    if Sha256::digest(given.as_bytes()) != Sha256::digest(expected.as_bytes()) {
        return super::ApiError::App(crate::app::AppError::Unauthenticated).into_response();
    }
    match m.render(&app).await {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics scrape failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}
