//! HTTP clients logged in as a demo account, and the reference data the load is built from.

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// Password of every demo login (`jiesu demo`).
pub const DEMO_PASSWORD: &str = "jiesu-demo";

/// A client with its own connection pool and cookie jar, logged in as `username`.
pub async fn login(base: &str, username: &str) -> anyhow::Result<reqwest::Client> {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        // Generous: a slow query should show up as a slow figure, not as an error.
        .timeout(Duration::from_secs(300))
        .pool_max_idle_per_host(4)
        .build()?;
    let r = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": username, "password": DEMO_PASSWORD}))
        .send()
        .await
        .with_context(|| format!("logging in as {username}"))?;
    let status = r.status();
    if !status.is_success() {
        let body = r.text().await.unwrap_or_default();
        bail!("login as {username} failed: {status} {body}");
    }
    Ok(client)
}

/// GET `path` and decode its JSON, failing on any non-2xx status.
pub async fn get_json<T: for<'de> Deserialize<'de>>(
    client: &reqwest::Client,
    base: &str,
    path: &str,
) -> anyhow::Result<T> {
    let r = client
        .get(format!("{base}{path}"))
        .send()
        .await
        .with_context(|| format!("GET {path}"))?;
    let status = r.status();
    if !status.is_success() {
        let body = r.text().await.unwrap_or_default();
        bail!("GET {path}: {status} {body}");
    }
    r.json().await.with_context(|| format!("GET {path}: body"))
}

#[derive(Debug, Clone, Deserialize)]
pub struct Category {
    pub code: String,
    pub level: i32,
    pub active: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Region {
    pub code: String,
    pub name: String,
    pub level: i32,
    pub parent_code: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Unit {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub active: bool,
}

#[derive(Deserialize)]
struct Items<T> {
    items: Vec<T>,
}

/// The demo tenant's categories, regions and units, as the API lists them.
#[derive(Debug, Clone)]
pub struct RefData {
    /// Active leaf (level-3) category codes, e.g. `01.05.03`.
    pub leaf_categories: Vec<String>,
    /// Level-1 and level-2 codes, for prefix filters.
    pub category_prefixes: Vec<String>,
    /// District codes (level 3), e.g. `990103`.
    pub districts: Vec<String>,
    /// Codes an order may carry (districts, towns, communities) with a readable address.
    pub places: Vec<Place>,
    /// Departments and district centres: the units orders are dispatched to.
    pub handling_units: Vec<i64>,
}

#[derive(Debug, Clone)]
pub struct Place {
    pub code: String,
    pub address: String,
}

impl RefData {
    pub async fn fetch(client: &reqwest::Client, base: &str) -> anyhow::Result<RefData> {
        let cats: Items<Category> = get_json(client, base, "/api/categories").await?;
        let regions: Items<Region> = get_json(client, base, "/api/regions").await?;
        let units: Items<Unit> = get_json(client, base, "/api/units").await?;
        let leaf_categories: Vec<String> = cats
            .items
            .iter()
            .filter(|c| c.active && c.level == 3)
            .map(|c| c.code.clone())
            .collect();
        let category_prefixes: Vec<String> = cats
            .items
            .iter()
            .filter(|c| c.active && c.level < 3)
            .map(|c| c.code.clone())
            .collect();
        let by_code: std::collections::HashMap<&str, &Region> =
            regions.items.iter().map(|r| (r.code.as_str(), r)).collect();
        let address = |r: &Region| -> String {
            let mut names = vec![r.name.as_str()];
            let mut cur = r.parent_code.as_deref();
            while let Some(c) = cur {
                match by_code.get(c) {
                    Some(p) => {
                        names.push(p.name.as_str());
                        cur = p.parent_code.as_deref();
                    }
                    None => break,
                }
            }
            names.reverse();
            names.concat()
        };
        let districts: Vec<String> = regions
            .items
            .iter()
            .filter(|r| r.level == 3)
            .map(|r| r.code.clone())
            .collect();
        let places: Vec<Place> = regions
            .items
            .iter()
            .filter(|r| (3..=5).contains(&r.level))
            .map(|r| Place {
                code: r.code.clone(),
                address: address(r),
            })
            .collect();
        let handling_units: Vec<i64> = units
            .items
            .iter()
            .filter(|u| u.active && matches!(u.kind.as_str(), "department" | "district_centre"))
            .map(|u| u.id)
            .collect();
        if leaf_categories.is_empty() || districts.is_empty() || handling_units.is_empty() {
            bail!(
                "the server's reference data looks empty (categories {}, districts {}, units {}): \
                 is this a demo data directory?",
                leaf_categories.len(),
                districts.len(),
                handling_units.len()
            );
        }
        // Prefer the unit the demo's own handler works for when it is there.
        let mut handling_units = handling_units;
        if let Some(housing) = units
            .items
            .iter()
            .find(|u| u.name == "市住房和城乡建设局")
            .map(|u| u.id)
        {
            handling_units.retain(|u| *u != housing);
            handling_units.insert(0, housing);
        }
        Ok(RefData {
            leaf_categories,
            category_prefixes,
            districts,
            places,
            handling_units,
        })
    }
}

/// The first page of `GET /api/orders` as far as the benchmark reads it.
#[derive(Debug, Deserialize)]
pub struct ListPage {
    pub total: u64,
    pub next_cursor: Option<String>,
    pub items: Vec<serde_json::Value>,
}
