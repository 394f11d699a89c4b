//! `jiesu-bench open311`: Open311 GeoReport v2 request submission (`POST
//! /open311/v2/requests.json`, form-encoded, with the demo's `api_key`) at N concurrent clients.

use crate::body;
use crate::client::{self, RefData};
use crate::create::ensure_demo;
use crate::server::{CpuMark, CpuUse, Memory, Server, SlowStatement};
use crate::stats::{Latencies, LatencySummary, thousands, verdict};
use crate::{Common, DataDir};
use anyhow::Context;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const TARGET_REQUESTS_PER_SEC: f64 = 1500.0;

/// The demo's Open311 key (`jiesu demo`), held by a call-taking system account.
pub const DEMO_API_KEY: &str = "jiesu-demo";

#[derive(clap::Args, Debug, Clone)]
pub struct Open311Args {
    /// Concurrent clients, each with its own connection.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    /// Unmeasured seconds of the same load before the measurement.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Data directory to use (and keep); built with `jiesu demo` if it holds no demo yet.
    /// Default: a fresh directory under the target directory, removed afterwards.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Keep the fresh data directory.
    #[arg(long)]
    pub keep: bool,
}

#[derive(Debug, Serialize)]
pub struct Open311Report {
    pub scenario: &'static str,
    pub jiesu: String,
    pub data_dir: String,
    pub demo_build_seconds: f64,
    pub clients: usize,
    pub warmup_seconds: f64,
    pub duration_seconds: f64,
    /// Service codes the load was spread over (from `services.json`).
    pub services: usize,
    /// 200 answers carrying a `service_request_id` that arrived inside the measured window.
    pub requests: u64,
    pub requests_per_sec: f64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub latency: LatencySummary,
    pub cpu: CpuUse,
    pub server_memory: Memory,
    /// Statements the server logged as slow (over 1 s).
    pub slow_statements: Vec<SlowStatement>,
    pub target_requests_per_sec: f64,
    pub throughput_met: bool,
}

impl Open311Report {
    pub fn print(&self) {
        println!(
            "open311 — POST /open311/v2/requests.json (form, api_key), {} clients, {:.0} s measured after {:.0} s warm-up",
            self.clients, self.duration_seconds, self.warmup_seconds
        );
        println!(
            "  throughput  {} requests, {:.0} requests/s   (target ≥ {:.0}/s: {})",
            thousands(self.requests),
            self.requests_per_sec,
            self.target_requests_per_sec,
            verdict(self.throughput_met)
        );
        println!("  latency     {}", self.latency.line());
        println!(
            "  errors      {}{}",
            thousands(self.errors),
            self.first_error
                .as_deref()
                .map(|e| format!("  first: {e}"))
                .unwrap_or_default()
        );
        println!("  cpu         {}", self.cpu.line());
        crate::server::print_server_tail(&self.server_memory, &self.slow_statements);
        println!(
            "  demo data   built in {:.1} s in {} ({} services)",
            self.demo_build_seconds, self.data_dir, self.services
        );
    }
}

#[derive(Debug, Deserialize)]
struct ServiceEntry {
    service_code: String,
}

#[derive(Debug, Deserialize)]
struct Accepted {
    service_request_id: Option<String>,
}

/// Service codes to post to: the leaf categories (level 3, `01.05.03`) where there are any.
pub async fn service_codes(base: &str) -> anyhow::Result<Vec<String>> {
    let c = reqwest::Client::new();
    let r = c
        .get(format!("{base}/open311/v2/services.json"))
        .send()
        .await
        .context("GET services.json")?;
    let status = r.status();
    anyhow::ensure!(status.is_success(), "GET services.json: {status}");
    let all: Vec<ServiceEntry> = r.json().await.context("services.json: body")?;
    let codes: Vec<String> = all.into_iter().map(|s| s.service_code).collect();
    let leaves: Vec<String> = codes
        .iter()
        .filter(|c| c.matches('.').count() == 2)
        .cloned()
        .collect();
    let out = if leaves.is_empty() { codes } else { leaves };
    anyhow::ensure!(!out.is_empty(), "services.json lists no service");
    Ok(out)
}

/// One form as a partner system (a city app, a WeChat mini program) would post it:
/// coordinates and/or an address, sometimes the caller's name, phone and e-mail.
pub fn form<R: Rng>(rng: &mut R, refs: &RefData, services: &[String]) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = vec![("api_key".into(), DEMO_API_KEY.into())];
    let code = services.choose(rng).cloned().unwrap_or_default();
    f.push(("service_code".into(), code));
    let place = refs.places.choose(rng);
    let address = place
        .map(|p| format!("{}{}号", p.address, rng.gen_range(1..=300)))
        .unwrap_or_else(|| "市政府广场".into());
    f.push(("description".into(), body::description(rng, &address)));
    let coords = |rng: &mut R| {
        (
            format!("{:.6}", rng.gen_range(39.55..39.95f64)),
            format!("{:.6}", rng.gen_range(109.60..110.20f64)),
        )
    };
    match rng.gen_range(0..100u32) {
        // A phone's position only.
        0..40 => {
            let (lat, long) = coords(rng);
            f.push(("lat".into(), lat));
            f.push(("long".into(), long));
        }
        // A typed address.
        40..85 => f.push(("address_string".into(), address)),
        // Both, and the region the app resolved.
        _ => {
            let (lat, long) = coords(rng);
            f.push(("lat".into(), lat));
            f.push(("long".into(), long));
            f.push(("address_string".into(), address));
            if let Some(p) = place {
                f.push(("address_id".into(), p.code.clone()));
            }
        }
    }
    if rng.gen_bool(0.5) {
        let (surname, title) = body::caller_name(rng);
        f.push(("last_name".into(), surname.into()));
        f.push(("first_name".into(), title.into()));
    }
    if rng.gen_bool(0.6) {
        f.push(("phone".into(), body::mobile(rng)));
    }
    if rng.gen_bool(0.3) {
        f.push((
            "email".into(),
            format!("user{}@example.cn", rng.gen_range(1000..999_999u32)),
        ));
    }
    if rng.gen_bool(0.3) {
        f.push((
            "attribute[request_type]".into(),
            body::request_type(rng).into(),
        ));
    }
    f
}

/// Pre-encoded forms: varied, and cheap for the client to send.
fn form_pool(
    refs: &RefData,
    services: &[String],
    n: usize,
    seed: u64,
) -> anyhow::Result<Arc<Vec<String>>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let forms = (0..n)
        .map(|_| serde_urlencoded::to_string(form(&mut rng, refs, services)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(forms))
}

#[derive(Default)]
struct WorkerResult {
    latencies: Latencies,
    ok_in_window: u64,
    errors: u64,
    first_error: Option<String>,
}

async fn worker(
    client: reqwest::Client,
    url: String,
    forms: Arc<Vec<String>>,
    offset: usize,
    t0: Instant,
    t1: Instant,
) -> WorkerResult {
    let mut r = WorkerResult::default();
    let mut i = offset;
    loop {
        let started = Instant::now();
        if started >= t1 {
            break;
        }
        let body = forms[i % forms.len()].clone();
        i = i.wrapping_add(1);
        let res = client
            .post(&url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await;
        let outcome = match res {
            Ok(resp) if resp.status() == reqwest::StatusCode::OK => match resp.bytes().await {
                Ok(b) => match serde_json::from_slice::<Vec<Accepted>>(&b) {
                    Ok(v)
                        if v.first()
                            .and_then(|a| a.service_request_id.as_deref())
                            .is_some_and(|id| !id.is_empty()) =>
                    {
                        Ok(())
                    }
                    _ => Err(format!(
                        "200 without a service_request_id: {}",
                        String::from_utf8_lossy(&b)
                            .chars()
                            .take(300)
                            .collect::<String>()
                    )),
                },
                Err(e) => Err(format!("reading the response: {e}")),
            },
            Ok(resp) => {
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                Err(format!(
                    "{status}: {}",
                    text.chars().take(300).collect::<String>()
                ))
            }
            Err(e) => Err(e.to_string()),
        };
        let done = Instant::now();
        match outcome {
            Ok(()) => {
                if started >= t0 {
                    r.latencies.record(done - started);
                }
                if done >= t0 && done < t1 {
                    r.ok_in_window += 1;
                }
            }
            Err(e) => {
                r.errors += 1;
                if r.first_error.is_none() {
                    r.first_error = Some(e);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    r
}

pub async fn run(common: &Common, args: &Open311Args) -> anyhow::Result<Open311Report> {
    anyhow::ensure!(args.clients >= 1, "--clients must be at least 1");
    anyhow::ensure!(args.duration > 0.0, "--duration must be positive");
    anyhow::ensure!(args.warmup >= 0.0, "--warmup must not be negative");
    let dir = match &args.data_dir {
        Some(d) => DataDir::kept(d.clone()),
        None => DataDir::fresh(&common.work_root(), "open311-", args.keep)?,
    };
    eprintln!("[open311] building the demo in {}", dir.path().display());
    let demo_build_seconds = ensure_demo(&common.jiesu, dir.path()).await?;
    eprintln!("[open311] demo ready ({demo_build_seconds:.1} s); starting the server");
    let server = Server::start(&common.jiesu, dir.path()).await?;
    let settled = server.settle(Duration::from_secs(120)).await?;
    eprintln!("[open311] server idle after {settled:.0} s (start-up warm-up done)");
    let result = measure(common, args, &server, dir.path(), demo_build_seconds).await;
    if result.is_err() {
        eprintln!("[open311] server log tail:\n{}", server.log_tail());
    }
    server.stop().await?;
    let report = result?;
    dir.finish()?;
    Ok(report)
}

async fn measure(
    common: &Common,
    args: &Open311Args,
    server: &Server,
    dir: &Path,
    demo_build_seconds: f64,
) -> anyhow::Result<Open311Report> {
    let base = server.base.clone();
    let agent = client::login(&base, "agent").await?;
    let refs = RefData::fetch(&agent, &base).await?;
    let services = service_codes(&base).await?;
    let forms = form_pool(&refs, &services, 4096, 20261130)?;
    eprintln!(
        "[open311] {} services, {} places; {} clients",
        services.len(),
        refs.places.len(),
        args.clients
    );
    let url = format!("{base}/open311/v2/requests.json");
    let start = Instant::now() + Duration::from_millis(50);
    let t0 = start + Duration::from_secs_f64(args.warmup);
    let t1 = t0 + Duration::from_secs_f64(args.duration);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::time::sleep_until(start.into()).await;
    for k in 0..args.clients {
        // One connection per client: a partner system's own keep-alive connection.
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .pool_max_idle_per_host(1)
            .build()?;
        tasks.spawn(worker(client, url.clone(), forms.clone(), k * 257, t0, t1));
    }
    eprintln!(
        "[open311] warming up {:.0} s, then measuring {:.0} s",
        args.warmup, args.duration
    );
    tokio::time::sleep_until(t0.into()).await;
    let mark = CpuMark::take(server)?;
    tokio::time::sleep_until(t1.into()).await;
    let cpu = mark.since(server)?;
    let mut total = WorkerResult::default();
    while let Some(r) = tasks.join_next().await {
        let r = r.context("a client task failed")?;
        total.latencies.add(&r.latencies);
        total.ok_in_window += r.ok_in_window;
        total.errors += r.errors;
        if total.first_error.is_none() {
            total.first_error = r.first_error;
        }
    }
    let requests = total.ok_in_window;
    let requests_per_sec = requests as f64 / args.duration;
    Ok(Open311Report {
        scenario: "open311",
        jiesu: common.jiesu.display().to_string(),
        data_dir: dir.display().to_string(),
        demo_build_seconds,
        clients: args.clients,
        warmup_seconds: args.warmup,
        duration_seconds: args.duration,
        services: services.len(),
        requests,
        requests_per_sec,
        errors: total.errors,
        first_error: total.first_error,
        latency: total.latencies.summary(),
        cpu,
        server_memory: server.memory()?,
        slow_statements: server.slow_statements(),
        target_requests_per_sec: TARGET_REQUESTS_PER_SEC,
        throughput_met: requests_per_sec >= TARGET_REQUESTS_PER_SEC,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Place;

    #[test]
    fn forms_carry_key_service_text_and_a_place() {
        let refs = RefData {
            leaf_categories: vec!["01.01.01".into()],
            category_prefixes: vec!["01".into()],
            districts: vec!["990101".into()],
            places: vec![Place {
                code: "990101001".into(),
                address: "A市A1区某街道".into(),
            }],
            handling_units: vec![2],
        };
        let services = vec!["01.01.01".to_string()];
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..200 {
            let f = form(&mut rng, &refs, &services);
            let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
            assert_eq!(get("api_key"), Some(DEMO_API_KEY));
            assert_eq!(get("service_code"), Some("01.01.01"));
            assert!(get("description").is_some_and(|d| d.chars().count() >= 50));
            assert!(get("lat").is_some() || get("address_string").is_some());
            assert_eq!(get("lat").is_some(), get("long").is_some());
        }
    }
}
