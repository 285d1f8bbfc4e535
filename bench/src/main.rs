//! `lsn-bench`: drives a running LSN with simulated shoppers and reports throughput and latency.
//!
//! Scenario `checkout`: each shopper loops browse → search → product → add to cart → checkout →
//! pay with the sandbox card 4242…, for a fixed duration. Scenario `contention`: thousands of
//! buyers race once each for one variant with a small stock; reports how many won, and the
//! server's stock afterwards must show no oversell (checked by `bench/run.sh`).
//!
//! Loopback only: it refuses any other host.

use clap::Parser;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// LSN's base URL (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    base: String,
    /// `checkout` or `contention`.
    #[arg(long, default_value = "checkout")]
    scenario: String,
    /// Concurrent shoppers.
    #[arg(long, default_value_t = 100)]
    shoppers: usize,
    /// Seconds to run the checkout scenario.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// SKU to buy (the contention scenario races for it).
    #[arg(long, default_value = "BENCH-TEE")]
    sku: String,
    /// A label for the report (e.g. "SQLite, synchronous=FULL").
    #[arg(long, default_value = "")]
    label: String,
}

type Samples = Arc<Mutex<BTreeMap<&'static str, Vec<u32>>>>;

fn record(samples: &Samples, step: &'static str, start: Instant) {
    let us = start.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
    samples.lock().unwrap_or_else(|e| e.into_inner()).entry(step).or_default().push(us);
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

const ADDRESS: &str = r#"{"name":"Bench Buyer","line1":"1 George St","suburb":"Sydney","state":"NSW","postcode":"2000"}"#;

struct Counters {
    orders: AtomicU64,
    errors: AtomicU64,
    requests: AtomicU64,
    sold_out: AtomicU64,
}

async fn step(
    c: &reqwest::Client,
    samples: &Samples,
    counters: &Counters,
    name: &'static str,
    req: reqwest::RequestBuilder,
) -> Option<(u16, Value)> {
    let _ = c;
    let t = Instant::now();
    let res = req.send().await;
    counters.requests.fetch_add(1, Ordering::Relaxed);
    match res {
        Ok(r) => {
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            record(samples, name, t);
            if status >= 500 {
                counters.errors.fetch_add(1, Ordering::Relaxed);
            }
            Some((status, body))
        }
        Err(_) => {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// One shopper's journey; true when the order was paid.
async fn journey(base: &str, sku: &str, samples: &Samples, counters: &Counters, browse: bool) -> bool {
    let c = match reqwest::Client::builder().cookie_store(true).pool_max_idle_per_host(2).build() {
        Ok(c) => c,
        Err(_) => return false,
    };
    if browse {
        step(&c, samples, counters, "browse", c.get(format!("{base}/api/v1/products?limit=24"))).await;
        step(&c, samples, counters, "search", c.get(format!("{base}/api/v1/products?q=bench&in_stock=true"))).await;
        step(&c, samples, counters, "product", c.get(format!("{base}/api/v1/products/bench-tee"))).await;
    }
    let Some((s, _)) =
        step(&c, samples, counters, "add_to_cart", c.post(format!("{base}/api/v1/cart/items")).json(&json!({"sku": sku, "quantity": 1})))
            .await
    else {
        return false;
    };
    if s != 200 {
        if s == 409 {
            counters.sold_out.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        return false;
    }
    let address: Value = serde_json::from_str(ADDRESS).unwrap_or(Value::Null);
    let Some((s, co)) = step(
        &c,
        samples,
        counters,
        "checkout",
        c.post(format!("{base}/api/v1/checkout")).json(&json!({"email": "bench@example.com", "shipping_address": address})),
    )
    .await
    else {
        return false;
    };
    if s != 201 {
        if s == 409 {
            counters.sold_out.fetch_add(1, Ordering::Relaxed);
        } else {
            counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        return false;
    }
    let id = co["order"]["id"].as_str().unwrap_or_default();
    let token = co["order_token"].as_str().unwrap_or_default();
    let Some((s, _)) = step(
        &c,
        samples,
        counters,
        "pay",
        c.post(format!("{base}/api/v1/orders/{id}/pay")).header("x-order-token", token).json(&json!({"card_number": "4242424242424242"})),
    )
    .await
    else {
        return false;
    };
    if s == 200 {
        counters.orders.fetch_add(1, Ordering::Relaxed);
        true
    } else {
        counters.errors.fetch_add(1, Ordering::Relaxed);
        false
    }
}

fn report(label: &str, scenario: &str, shoppers: usize, elapsed: f64, samples: &Samples, counters: &Counters) {
    let orders = counters.orders.load(Ordering::Relaxed);
    let requests = counters.requests.load(Ordering::Relaxed);
    let errors = counters.errors.load(Ordering::Relaxed);
    println!(
        "\n### {scenario}: {shoppers} shoppers, {elapsed:.1} s{}",
        if label.is_empty() { String::new() } else { format!(" — {label}") }
    );
    println!();
    println!("| measure | value |\n|---|---|");
    println!("| paid orders | {orders} |");
    println!("| paid orders / s | {:.0} |", orders as f64 / elapsed);
    println!("| requests / s | {:.0} |", requests as f64 / elapsed);
    println!("| error rate (5xx or transport) | {:.3} % |", if requests == 0 { 0.0 } else { errors as f64 * 100.0 / requests as f64 });
    println!("| sold out answers | {} |", counters.sold_out.load(Ordering::Relaxed));
    println!();
    println!("| step | requests | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|");
    let mut all: Vec<u32> = Vec::new();
    let guard = samples.lock().unwrap_or_else(|e| e.into_inner());
    for name in ["browse", "search", "product", "add_to_cart", "checkout", "pay"] {
        if let Some(v) = guard.get(name) {
            let mut v = v.clone();
            v.sort_unstable();
            all.extend(&v);
            println!(
                "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
                v.len(),
                pct(&v, 50.0),
                pct(&v, 95.0),
                pct(&v, 99.0),
                pct(&v, 100.0)
            );
        }
    }
    all.sort_unstable();
    println!(
        "| **all** | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
        all.len(),
        pct(&all, 50.0),
        pct(&all, 95.0),
        pct(&all, 99.0),
        pct(&all, 100.0)
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let host = args.base.split("://").nth(1).unwrap_or("").split(['/', ':']).next().unwrap_or("");
    anyhow::ensure!(
        matches!(host, "127.0.0.1" | "localhost" | "[") || host.starts_with("127."),
        "lsn-bench only drives loopback addresses, not {host:?}"
    );
    let samples: Samples = Arc::default();
    let counters = Arc::new(Counters {
        orders: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        requests: AtomicU64::new(0),
        sold_out: AtomicU64::new(0),
    });
    let started = Instant::now();
    match args.scenario.as_str() {
        "checkout" => {
            let deadline = started + Duration::from_secs(args.seconds.clamp(1, 600));
            let tasks: Vec<_> = (0..args.shoppers.clamp(1, 5000))
                .map(|_| {
                    let (base, sku, samples, counters) = (args.base.clone(), args.sku.clone(), samples.clone(), counters.clone());
                    tokio::spawn(async move {
                        while Instant::now() < deadline {
                            journey(&base, &sku, &samples, &counters, true).await;
                        }
                    })
                })
                .collect();
            futures::future::join_all(tasks).await;
        }
        "contention" => {
            let tasks: Vec<_> = (0..args.shoppers.clamp(1, 20_000))
                .map(|_| {
                    let (base, sku, samples, counters) = (args.base.clone(), args.sku.clone(), samples.clone(), counters.clone());
                    tokio::spawn(async move { journey(&base, &sku, &samples, &counters, false).await })
                })
                .collect();
            futures::future::join_all(tasks).await;
        }
        other => anyhow::bail!("unknown scenario {other:?} (checkout or contention)"),
    }
    report(&args.label, &args.scenario, args.shoppers, started.elapsed().as_secs_f64(), &samples, &counters);
    Ok(())
}
