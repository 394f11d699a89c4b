//! `pii`: what sealing the citizen's phone and ID number costs per order on one core: an
//! order's state as the store writes it (serialise, seal the two values) and reads it (open,
//! parse), against the same without keys. No server, no database.

use crate::stats::thousands;
use jiesu_store::pii::Keyring;
use serde::Serialize;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct PiiArgs {
    /// Orders to seal and open.
    #[arg(long, default_value_t = 200_000)]
    pub count: usize,
}

#[derive(Debug, Serialize)]
pub struct PiiReport {
    pub scenario: &'static str,
    pub orders: usize,
    /// Bytes of one order's state.
    pub state_bytes: usize,
    pub seal_us: f64,
    pub open_us: f64,
    pub plain_write_us: f64,
    pub plain_read_us: f64,
}

impl PiiReport {
    pub fn print(&self) {
        println!(
            "pii — one order's state ({} bytes) written and read, {} orders, one core",
            self.state_bytes,
            thousands(self.orders as u64)
        );
        println!(
            "  write  {:.2} µs sealed vs {:.2} µs plain (+{:.2} µs)",
            self.seal_us,
            self.plain_write_us,
            self.seal_us - self.plain_write_us
        );
        println!(
            "  read   {:.2} µs opened vs {:.2} µs plain (+{:.2} µs)",
            self.open_us,
            self.plain_read_us,
            self.open_us - self.plain_read_us
        );
    }
}

/// An order state the size of a real one: citizen, address, a 200-character complaint.
fn state(i: usize) -> serde_json::Value {
    serde_json::json!({
        "number": format!("2026-12-01-{i:06}"),
        "channel": "phone",
        "request_type": "complaint",
        "title": "小区楼下烧烤店油烟扰民",
        "content": "小区楼下烧烤店油烟扰民，晚上十二点还在营业，油烟直接飘进楼上住户家中，老人孩子无法开窗通风，多次与店主沟通无果，请有关部门尽快核查处理，督促其安装油烟净化设施并按规定时间营业。".repeat(2),
        "citizen": {"name": "李女士", "phone": format!("139{:08}", i % 100_000_000), "id_number": "11010519491231002X", "anonymous": false},
        "location": {"address": "A1区北路街道丽景小区 3 栋", "region_code": "990101001", "lat": null, "lng": null},
        "status": "handling",
        "version": 7,
    })
}

pub fn run(args: &PiiArgs) -> anyhow::Result<PiiReport> {
    let ring = Keyring::of_secret("k1", &[42u8; 32]);
    let n = args.count.max(1);
    let states: Vec<serde_json::Value> = (0..n).map(state).collect();
    let secrets: Vec<[String; 2]> = states
        .iter()
        .map(|s| {
            [
                s["citizen"]["phone"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                s["citizen"]["id_number"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ]
        })
        .collect();

    let started = Instant::now();
    let plain: Vec<String> = states.iter().map(|s| s.to_string()).collect();
    let plain_write = started.elapsed();

    let started = Instant::now();
    let sealed: Vec<String> = states
        .iter()
        .zip(&secrets)
        .map(|(s, [p, id])| ring.seal_json(s.to_string(), &[p, id]))
        .collect();
    let seal = started.elapsed();

    let started = Instant::now();
    let mut check = 0usize;
    for p in &plain {
        let v: serde_json::Value = serde_json::from_str(p)?;
        check += v["version"].as_u64().unwrap_or(0) as usize;
    }
    let plain_read = started.elapsed();

    let started = Instant::now();
    for s in &sealed {
        let opened = ring.open_json(s)?;
        let v: serde_json::Value = serde_json::from_str(&opened)?;
        check += v["version"].as_u64().unwrap_or(0) as usize;
    }
    let open = started.elapsed();
    anyhow::ensure!(check == 14 * n, "every state read back");
    anyhow::ensure!(
        ring.open_json(&sealed[0])? == plain[0],
        "opening gives back what was sealed"
    );

    let us = |d: std::time::Duration| d.as_secs_f64() * 1e6 / n as f64;
    Ok(PiiReport {
        scenario: "pii",
        orders: n,
        state_bytes: plain[0].len(),
        seal_us: us(plain_write + seal),
        open_us: us(open),
        plain_write_us: us(plain_write),
        plain_read_us: us(plain_read),
    })
}
