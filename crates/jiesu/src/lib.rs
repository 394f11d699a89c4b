//! The Jiesu server and CLI: configuration, use cases (`app`), the HTTP API (`api`), demo data
//! and imports. `launch` is the seam tests use: they pass a bound listener and a shutdown signal.

pub mod api;
pub mod app;
pub mod classifier;
pub mod config;
pub mod demo;
pub mod hotspotfile;
pub mod import;
pub mod kbfile;
pub mod priority;
pub mod report;
pub mod report_pdf;
pub mod sheet;

use app::App;
use config::Config;
use jiesu_store::pii::{Keyring, PiiKeys};
use jiesu_store::{Store, StoreOptions};
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Opens the database (migrating it) and builds the application.
pub async fn open_app(config: Config) -> anyhow::Result<Arc<App>> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| anyhow::anyhow!("data_dir {}: {e}", config.data_dir.display()))?;
    let opts = StoreOptions {
        max_connections: config.max_connections,
        pii: Arc::new(pii_keys(&config)?),
        ..StoreOptions::default()
    };
    let store = Store::open(&config.database_url(), &opts).await?;
    if let Err(e) = store.check_pii_keys().await {
        store.close().await;
        return Err(e.into());
    }
    Ok(Arc::new(App::new(store, config)?))
}

/// The node's personal-data keys, from the key file (made with a first key where missing).
pub fn pii_keys(config: &Config) -> anyhow::Result<PiiKeys> {
    let path = config.pii_key_path();
    let (ring, created) = Keyring::load_or_create(&path)?;
    if created {
        tracing::info!(path = %path.display(), "created the personal-data key file");
    }
    Ok(PiiKeys::new(Some(path), ring))
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains: readiness answers 503
/// for `shutdown_grace_ms` while requests are still served (the load balancer takes the node
/// out), then the listener closes, in-flight requests finish and the database writer drains.
pub async fn launch(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let router = api::router(app.clone());
    let upkeep = tokio::spawn(housekeeping(app.clone()));
    let scheduler = tokio::spawn(scheduler(app.clone()));
    let indexer = tokio::spawn(indexer(app.clone()));
    let webhooks = tokio::spawn(app::webhooks::run(app.clone()));
    let transfers = tokio::spawn(app::transfers::run(app.clone()));
    let keys = tokio::spawn(follow_pii_keys(app.clone()));
    let draining = app.clone();
    let shutdown = async move {
        shutdown.await;
        draining
            .draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let grace = draining.config.shutdown_grace_ms;
        tracing::info!(grace_ms = grace, "draining: not ready any more");
        tokio::time::sleep(std::time::Duration::from_millis(grace)).await;
    };
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    upkeep.abort();
    scheduler.abort();
    indexer.abort();
    webhooks.abort();
    transfers.abort();
    keys.abort();
    app.store.close().await;
    Ok(())
}

/// Re-reads the personal-data key file every 10 s, so that a key added by `jiesu pii rotate`
/// seals on every node soon after (a token under a key not seen yet is looked up at once).
async fn follow_pii_keys(app: Arc<App>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
    loop {
        tick.tick().await;
        match app.store.pii().reload() {
            // A new key is recorded before it seals much (the first sealing may come first).
            Ok(true) => {
                if let Err(e) = app.store.check_pii_keys().await {
                    tracing::error!(error = %e, "the personal-data keys do not match the database's");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "cannot re-read the personal-data key file"),
        }
    }
}

/// Periodic upkeep, hourly: expired sessions are removed, and the reports of periods that
/// have ended are generated and kept.
async fn housekeeping(app: Arc<App>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match app.generate_due_reports(chrono::Utc::now()).await {
            Ok(n) if n > 0 => tracing::info!(reports = n, "scheduled reports generated"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "generating scheduled reports failed"),
        }
        match app.store.purge_sessions(chrono::Utc::now()).await {
            Ok(n) if n > 0 => tracing::info!(removed = n, "expired sessions purged"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging sessions failed"),
        }
    }
}

/// Orders per second the background scheduler alerts at most.
const SCHEDULER_RATE: u64 = 100;

/// Sends staged reminders and marks overdue orders as their times come, and catches up
/// on start after downtime (see `App::run_scheduler_once`).
async fn scheduler(app: Arc<App>) {
    let every = app.config.scheduler_interval_ms;
    if every == 0 {
        tracing::info!("scheduler off on this node (scheduler_interval_ms = 0)");
        return;
    }
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(every));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // About SCHEDULER_RATE orders a second: far above a centre's steady need (a few a
        // second), low enough that draining a backlog after downtime leaves the shared
        // writer to the people at work.
        let budget = (SCHEDULER_RATE * every).div_ceil(1000);
        match app.run_scheduler(chrono::Utc::now(), budget).await {
            Ok(p) if p.alerted > 0 => {
                tracing::info!(orders = p.orders, alerted = p.alerted, "scheduler pass")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduler pass failed"),
        }
    }
}

/// Keeps the knowledge index current: opens it at start (catching up on whatever the
/// database has that the index lacks, e.g. after a crash), then follows the change sequence
/// every second (changes made through other nodes or the CLI), reloads synonyms and expires
/// entries whose validity ended.
async fn indexer(app: Arc<App>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        if n.is_multiple_of(600)
            && let Err(e) = app.kb_expire_due(chrono::Utc::now()).await
        {
            tracing::warn!(error = %e, "expiring knowledge entries failed");
        }
        // The first pass also merges what a rebuild or catch-up at start left (many small
        // segments), as after bulk work; later ones leave the order index's steady growth to
        // tantivy's merge policy.
        let when = if n == 5 {
            crate::app::search::Compaction::Bulk
        } else {
            crate::app::search::Compaction::Live
        };
        if n % 300 == 5
            && let Err(e) = app.compact_indexes(when).await
        {
            tracing::warn!(error = %e, "merging index segments failed");
        }
        if n == 2 {
            if let Err(e) = app.warm_models().await {
                tracing::warn!(error = %e, "training the dispatch models failed");
            }
            if let Err(e) = app.warm_hotspots().await {
                tracing::warn!(error = %e, "building hot spots failed");
            }
        }
        if n % 30 == 29
            && let Err(e) = app.kb_reload_synonyms().await
        {
            tracing::warn!(error = %e, "reloading synonyms failed");
        }
        match app.orders_catch_up().await {
            Ok(_) => {}
            Err(e) if n.is_multiple_of(60) => {
                tracing::warn!(error = %e, "order index catch-up failed")
            }
            Err(_) => {}
        }
        match app.kb_catch_up().await {
            Ok(k) if k > 0 => tracing::debug!(changes = k, "knowledge index caught up"),
            Ok(_) => {}
            Err(e) if n.is_multiple_of(60) => {
                tracing::warn!(error = %e, "knowledge index catch-up failed")
            }
            Err(_) => {}
        }
        n += 1;
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
