//! `lsn-bench`: drives a running LSN with simulated shoppers (or live-room viewers) and reports
//! throughput and latency.
//!
//! Scenario `checkout`: each shopper loops browse → search → product → add to cart → checkout →
//! pay with the sandbox card 4242…, for a fixed duration. Scenario `contention`: thousands of
//! buyers race once each for one variant with a small stock; reports how many won, and the
//! server's stock afterwards must show no oversell (checked by `bench/run.sh`). Scenario `room`:
//! many WebSocket viewers in one show while the host chats at a fixed rate; reports delivery
//! latency (send to receive), deliveries and server memory per viewer (`bench/run-live.sh`).
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
    /// `checkout` scenario: a creator's link code each shopper clicks (`/r/{code}`) before
    /// shopping, so every order is attributed (the attribution's cost on the checkout).
    #[arg(long, default_value = "")]
    referral: String,
    /// A label for the report (e.g. "SQLite, synchronous=FULL").
    #[arg(long, default_value = "")]
    label: String,
    /// `room` scenario: the show to join.
    #[arg(long, default_value = "")]
    show: String,
    /// `room` scenario: the host's session cookie (`lsn_session=…`), used to send chat.
    #[arg(long, default_value = "")]
    cookie: String,
    /// `room` scenario: chat messages per second.
    #[arg(long, default_value_t = 50)]
    rate: u64,
    /// `room` scenario: the server's process id, to read its memory.
    #[arg(long, default_value_t = 0)]
    pid: u32,
    /// `room` scenario: the live-room protocol version the viewers speak (1 or 2).
    #[arg(long, default_value_t = 2)]
    protocol: u8,
    /// `deal` scenario: each buyer opens its connection during the countdown (fetching the deal,
    /// as a viewer's page does when a deal starts) instead of in the moment of the race.
    #[arg(long)]
    warm: bool,
    /// `load` scenario: the runbook's load test, `normal` (100 users), `peak` (500), `stress`
    /// (1,000) or `spike` (100, then 1,000 after a third of the run).
    #[arg(long, default_value = "normal")]
    profile: String,
    /// `load` scenario: a virtual user's pause between steps, in milliseconds (k6 scripts
    /// customarily `sleep(1)`); 0 hammers the server in a closed loop.
    #[arg(long, default_value_t = 1000)]
    think_ms: u64,
    /// `checkout` scenario: append every acknowledged order (`placed <id>`, `paid <id>`) to this
    /// file, for the crash-safety check (`bench/crash.sh`).
    #[arg(long, default_value = "")]
    ack_log: String,
    /// `checkout` scenario: the orders per second all shoppers together aim for (each starts its
    /// next journey on a fixed beat, or at once if it is late); 0 runs a closed loop, each
    /// shopper starting again as soon as it is done.
    #[arg(long, default_value_t = 0.0)]
    orders_per_second: f64,
    /// `deal` scenario: units on offer.
    #[arg(long, default_value_t = 100)]
    quantity: i64,
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn epoch_us() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// A flash deal of `--quantity` units on the pinned product; `--shoppers` buyers try to buy at
/// the same moment the countdown ends. Reports orders won, answers and their latency.
async fn deal(args: &Args) -> anyhow::Result<()> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let ws_base = args.base.replacen("http://", "ws://", 1);
    let mut req = format!("{ws_base}/api/v1/live/shows/{}/ws?v=1", args.show).into_client_request()?;
    req.headers_mut().insert("cookie", args.cookie.parse()?);
    let (host, _) = tokio_tungstenite::connect_async_with_config(req, None, true).await?;
    let (mut tx, mut rx) = host.split();
    // The product the SKU belongs to (the search matches SKUs).
    let found = reqwest::get(format!("{}/api/v1/products?q={}", args.base, args.sku)).await?.json::<Value>().await?;
    let slug = found["items"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["variants"].as_array().is_some_and(|vs| vs.iter().any(|v| v["sku"] == args.sku.as_str()))))
        .and_then(|p| p["slug"].as_str())
        .ok_or_else(|| anyhow::anyhow!("no product with SKU {}", args.sku))?
        .to_string();
    let product = reqwest::get(format!("{}/api/v1/products/{slug}", args.base)).await?.json::<Value>().await?;
    let product_id = product["product"]["id"].as_str().unwrap_or_default().to_string();
    tx.send(Message::Text(json!({"type": "pin", "product_id": product_id}).to_string().into())).await?;
    tx.send(Message::Text(json!({"type": "start_deal", "deal": {"sku": args.sku, "price": 990, "quantity": args.quantity, "countdown_secs": 10, "duration_secs": 120}}).to_string().into())).await?;
    let mut deal_id = String::new();
    while let Some(Ok(m)) = rx.next().await {
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
            if v["type"] == "deal_started" {
                deal_id = v["deal"]["id"].as_str().unwrap_or_default().to_string();
                break;
            }
            if v["type"] == "error" {
                anyhow::bail!("the host could not start the deal: {v}");
            }
        }
    }
    // Every buyer is ready: its own HTTP client; cold, its connection opens when the race starts;
    // warm, it fetched the deal during the countdown and keeps that connection.
    let countdown_ends = Instant::now() + Duration::from_millis(10_100);
    let buyers: Vec<reqwest::Client> = (0..args.shoppers).map(|_| reqwest::Client::builder().build().unwrap_or_default()).collect();
    if args.warm {
        let deal_url = format!("{}/api/v1/live/deals/{deal_id}", args.base);
        let warmed = futures::future::join_all(buyers.iter().map(|c| {
            let (c, url) = (c.clone(), deal_url.clone());
            async move { c.get(url).send().await.map(|r| r.status().is_success()).unwrap_or(false) }
        }))
        .await;
        anyhow::ensure!(warmed.iter().all(|ok| *ok), "some buyers could not fetch the deal");
    }
    tokio::time::sleep_until(countdown_ends.into()).await;
    let started = Instant::now();
    let url = format!("{}/api/v1/live/deals/{deal_id}/buy", args.base);
    let results = futures::future::join_all(buyers.iter().enumerate().map(|(i, c)| {
        let (c, url, body) =
            (c.clone(), url.clone(), json!({"email": format!("fan{i}@example.com"), "shipping_address": address(i as u64)}));
        async move {
            let t = Instant::now();
            let (status, code) = match c.post(url).json(&body).send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let code = r.json::<Value>().await.ok().and_then(|v| v["error"]["code"].as_str().map(str::to_string));
                    (status, code)
                }
                Err(_) => (0, None),
            };
            (status, t.elapsed().as_micros() as u32, code)
        }
    }))
    .await;
    let mut codes: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for (_, _, code) in &results {
        if let Some(c) = code {
            *codes.entry(c.clone()).or_default() += 1;
        }
    }
    let results: Vec<(u16, u32)> = results.into_iter().map(|(s, l, _)| (s, l)).collect();
    let elapsed = started.elapsed().as_secs_f64();
    let won = results.iter().filter(|(s, _)| *s == 201).count();
    let sold_out = results.iter().filter(|(s, _)| *s == 409).count();
    let other = results.len() - won - sold_out;
    let mut lat: Vec<u32> = results.iter().map(|(_, l)| *l).collect();
    lat.sort_unstable();
    println!(
        "\n### flash deal: {} buyers for {} units, {} connections{}",
        args.shoppers,
        args.quantity,
        if args.warm { "warm" } else { "cold" },
        if args.label.is_empty() { String::new() } else { format!(" — {}", args.label) }
    );
    println!();
    println!("| measure | value |\n|---|---|");
    println!("| orders won | {won} |");
    println!("| sold-out answers | {sold_out} |");
    println!("| other answers (errors) | {other} |");
    println!("| refusals by code | {} |", codes.iter().map(|(c, n)| format!("{c}: {n}")).collect::<Vec<_>>().join(", "));
    println!("| all answered within | {elapsed:.2} s |");
    println!(
        "| answer latency p50 / p95 / p99 / max | {:.0} / {:.0} / {:.0} / {:.0} ms |",
        pct(&lat, 50.0),
        pct(&lat, 95.0),
        pct(&lat, 99.0),
        pct(&lat, 100.0)
    );
    Ok(())
}

/// Many viewers in one room, the host chatting at a steady rate: delivery latency and memory.
async fn room(args: &Args) -> anyhow::Result<()> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let ws_base = args.base.replacen("http://", "ws://", 1);
    let url = format!("{ws_base}/api/v1/live/shows/{}/ws?v={}", args.show, args.protocol);
    // Small read buffers, as the server has: tungstenite's default is 128 KiB per connection.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(4096);
    let before = rss_kib(args.pid);
    let latencies: Arc<Mutex<Vec<u32>>> = Arc::default();
    let delivered = Arc::new(AtomicU64::new(0));
    let connected = Arc::new(AtomicU64::new(0));
    // The client shares the server's two cores: a viewer waits on its socket and the stop signal
    // (no timer armed per frame) and counts its deliveries on its own until the end.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for batch in 0..args.shoppers.div_ceil(200) {
        for _ in 0..200.min(args.shoppers - batch * 200) {
            let (url, latencies, delivered, connected, mut stopped) =
                (url.clone(), latencies.clone(), delivered.clone(), connected.clone(), stopped.clone());
            tasks.push(tokio::spawn(async move {
                let Ok((mut ws, _)) = tokio_tungstenite::connect_async_with_config(url, Some(config), true).await else { return };
                connected.fetch_add(1, Ordering::Relaxed);
                let mut local = Vec::new();
                // One wait for the stop signal for the whole run: a new one per frame would take
                // the signal's shared lock twice per frame, from every viewer.
                let stop = stopped.changed();
                tokio::pin!(stop);
                loop {
                    let frame = tokio::select! {
                        frame = ws.next() => frame,
                        _ = &mut stop => break,
                    };
                    match frame {
                        Some(Ok(Message::Text(t))) => {
                            // Protocol 2 frames carry every chat message of a tick.
                            let now = epoch_us();
                            for (i, _) in t.match_indices("bench:") {
                                let sent: u64 =
                                    t[i + 6..].split(|c: char| !c.is_ascii_digit()).next().and_then(|v| v.parse().ok()).unwrap_or(0);
                                local.push(((now.saturating_sub(sent)) / 10) as u32);
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    }
                }
                delivered.fetch_add(local.len() as u64, Ordering::Relaxed);
                latencies.lock().unwrap_or_else(|e| e.into_inner()).extend(local);
                let _ = ws.close(None).await;
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Wait until everyone is in.
    for _ in 0..600 {
        if connected.load(Ordering::Relaxed) as usize >= args.shoppers {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let viewers = connected.load(Ordering::Relaxed);
    let after_join = rss_kib(args.pid);
    let mut req = url.clone().into_client_request()?;
    req.headers_mut().insert("cookie", args.cookie.parse()?);
    let (host, _) = tokio_tungstenite::connect_async_with_config(req, None, true).await?;
    let (mut host_tx, mut host_rx) = host.split();
    tokio::spawn(async move { while host_rx.next().await.is_some() {} });
    let interval = Duration::from_micros(1_000_000 / args.rate.max(1));
    let started = Instant::now();
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(interval);
    while started.elapsed() < Duration::from_secs(args.seconds) {
        tick.tick().await;
        host_tx.send(Message::Text(json!({"type": "chat", "text": format!("bench:{}", epoch_us())}).to_string().into())).await?;
        sent += 1;
    }
    let end = rss_kib(args.pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop.send(true);
    futures::future::join_all(tasks).await;
    let mut l = latencies.lock().unwrap_or_else(|e| e.into_inner()).clone();
    l.sort_unstable();
    let expected = sent * viewers;
    let got = delivered.load(Ordering::Relaxed);
    let ms = |p: f64| pct(&l, p) * 10.0;
    println!(
        "\n### room: {viewers} viewers, {} chat messages/s for {} s{}",
        args.rate,
        args.seconds,
        if args.label.is_empty() { String::new() } else { format!(" — {}", args.label) }
    );
    println!();
    println!("| measure | value |\n|---|---|");
    println!("| viewers connected | {viewers} of {} |", args.shoppers);
    println!("| messages sent | {sent} |");
    println!("| deliveries | {got} of {expected} ({:.2} %) |", if expected == 0 { 0.0 } else { got as f64 * 100.0 / expected as f64 });
    println!("| deliveries / s | {:.0} |", got as f64 / args.seconds as f64);
    println!(
        "| latency send → receive p50 / p95 / p99 / max | {:.1} / {:.1} / {:.1} / {:.1} ms |",
        ms(50.0),
        ms(95.0),
        ms(99.0),
        ms(100.0)
    );
    if args.pid != 0 {
        let per = |rss: u64| (rss.saturating_sub(before)) as f64 / viewers.max(1) as f64;
        println!(
            "| server memory before / just after joining / at the end of the run | {} / {} / {} MiB |",
            before / 1024,
            after_join / 1024,
            end / 1024
        );
        // Just after joining includes what the join storm left in the allocator; the end of the
        // run is what serving the viewers holds.
        println!("| server memory per viewer, just after joining / at the end of the run | {:.1} / {:.1} KiB |", per(after_join), per(end));
    }
    Ok(())
}

type Samples = Arc<Mutex<BTreeMap<&'static str, Vec<u32>>>>;

/// Where acknowledged orders are written (set once from `--ack-log`).
static ACK_LOG: std::sync::OnceLock<Mutex<std::fs::File>> = std::sync::OnceLock::new();

fn acknowledge(what: &str, order_id: &str) {
    if let Some(f) = ACK_LOG.get() {
        use std::io::Write;
        let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(f, "{what} {order_id}");
    }
}

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

/// Shopper `n`'s delivery address: a street number of its own, as different people have (LSN
/// caps unpaid checkouts per address, and counts one address's checkouts on one row).
fn address(n: u64) -> Value {
    json!({"name": "Bench Buyer", "line1": format!("{n} George St"), "suburb": "Sydney", "state": "NSW", "postcode": "2000"})
}

/// A number for each shopper's journey, so each is a different person with its own address.
static SHOPPER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
/// `--referral`: the creator's link code every shopper follows first (`/r/{code}`).
static REFERRAL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

#[derive(Default)]
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
    journey_with_pauses(base, sku, samples, counters, browse, Duration::ZERO).await
}

/// A shopper's journey with a pause (`think`) before each step, as a person reads the page.
async fn journey_with_pauses(base: &str, sku: &str, samples: &Samples, counters: &Counters, browse: bool, think: Duration) -> bool {
    let pause = || async move {
        if !think.is_zero() {
            tokio::time::sleep(think).await;
        }
    };
    let referral = REFERRAL.get().filter(|r| !r.is_empty());
    let mut builder = reqwest::Client::builder().cookie_store(true).pool_max_idle_per_host(2).user_agent("lsn-bench");
    if referral.is_some() {
        builder = builder.redirect(reqwest::redirect::Policy::none());
    }
    let c = match builder.build() {
        Ok(c) => c,
        Err(_) => return false,
    };
    if let Some(code) = referral {
        // The click: recorded on the server, the visitor cookie set (not part of the checkout).
        pause().await;
        step(&c, samples, counters, "referral", c.get(format!("{base}/r/{code}"))).await;
    }
    if browse {
        pause().await;
        step(&c, samples, counters, "browse", c.get(format!("{base}/api/v1/products?limit=24"))).await;
        pause().await;
        step(&c, samples, counters, "search", c.get(format!("{base}/api/v1/products?q=bench&in_stock=true"))).await;
        pause().await;
        step(&c, samples, counters, "product", c.get(format!("{base}/api/v1/products/bench-tee"))).await;
    }
    pause().await;
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
    let n = SHOPPER.fetch_add(1, Ordering::Relaxed);
    pause().await;
    let Some((s, co)) = step(
        &c,
        samples,
        counters,
        "checkout",
        c.post(format!("{base}/api/v1/checkout"))
            .json(&json!({"email": format!("shopper{n}@example.com"), "shipping_address": address(n)})),
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
    acknowledge("placed", id);
    pause().await;
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
        acknowledge("paid", id);
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
    let _ = REFERRAL.set(args.referral.clone());
    let host = args.base.split("://").nth(1).unwrap_or("").split(['/', ':']).next().unwrap_or("");
    anyhow::ensure!(
        matches!(host, "127.0.0.1" | "localhost" | "[") || host.starts_with("127."),
        "lsn-bench only drives loopback addresses, not {host:?}"
    );
    if !args.ack_log.is_empty() {
        let f = std::fs::OpenOptions::new().create(true).append(true).open(&args.ack_log)?;
        let _ = ACK_LOG.set(Mutex::new(f));
    }
    let samples: Samples = Arc::default();
    let counters = Arc::new(Counters::default());
    let started = Instant::now();
    match args.scenario.as_str() {
        "checkout" => {
            let deadline = started + Duration::from_secs(args.seconds.clamp(1, 600));
            let shoppers = args.shoppers.clamp(1, 5000);
            // Paced: each shopper's beat is shoppers / rate seconds, the shoppers spread evenly
            // over one beat.
            let beat = (args.orders_per_second > 0.0).then(|| Duration::from_secs_f64(shoppers as f64 / args.orders_per_second));
            let tasks: Vec<_> = (0..shoppers)
                .map(|i| {
                    let (base, sku, samples, counters) = (args.base.clone(), args.sku.clone(), samples.clone(), counters.clone());
                    tokio::spawn(async move {
                        let mut next = beat.map(|b| tokio::time::Instant::from_std(started) + b.mul_f64(i as f64 / shoppers as f64));
                        while Instant::now() < deadline {
                            if let (Some(at), Some(b)) = (next.as_mut(), beat) {
                                tokio::time::sleep_until(*at).await;
                                // A late shopper starts at once, and does not make up missed beats.
                                *at = (*at + b).max(tokio::time::Instant::now());
                                if Instant::now() >= deadline {
                                    break;
                                }
                            }
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
        "load" => return load(&args).await,
        "room" => return room(&args).await,
        "deal" => return deal(&args).await,
        other => anyhow::bail!("unknown scenario {other:?} (checkout, contention, load, room or deal)"),
    }
    report(&args.label, &args.scenario, args.shoppers, started.elapsed().as_secs_f64(), &samples, &counters);
    Ok(())
}

/// The runbook's load test (Phase 4): virtual users for a bounded time, each a shopper going
/// through browse → search → product → cart → checkout → pay again and again, except every
/// fifth, who watches the live show (`--show`) while the host chats (`--cookie`). Prints the
/// step latencies and the runbook's targets table with the measured value beside each target.
async fn load(args: &Args) -> anyhow::Result<()> {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let (first, then) = match args.profile.as_str() {
        "normal" => (100, 100),
        "peak" => (500, 500),
        "stress" => (1000, 1000),
        "spike" => (100, 1000),
        other => anyhow::bail!("unknown profile {other:?} (normal, peak, stress or spike)"),
    };
    let samples: Samples = Arc::default();
    let counters = Arc::new(Counters::default());
    let active = Arc::new(AtomicU64::new(0));
    let peak_users = Arc::new(AtomicU64::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let seconds = args.seconds.clamp(3, 600);
    let deadline = started + Duration::from_secs(seconds);
    let ws_url = format!("{}/api/v1/live/shows/{}/ws?v=2", args.base.replacen("http://", "ws://", 1), args.show);
    let think = Duration::from_millis(args.think_ms.min(60_000));
    let spawn_user = |i: usize| {
        let (base, sku, samples, counters, active, peak_users, delivered, ws_url, think) = (
            args.base.clone(),
            args.sku.clone(),
            samples.clone(),
            counters.clone(),
            active.clone(),
            peak_users.clone(),
            delivered.clone(),
            ws_url.clone(),
            think,
        );
        let viewer = !args.show.is_empty() && i % 5 == 4;
        tokio::spawn(async move {
            let now = active.fetch_add(1, Ordering::Relaxed) + 1;
            peak_users.fetch_max(now, Ordering::Relaxed);
            if viewer {
                let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096);
                match tokio_tungstenite::connect_async_with_config(ws_url, Some(config), true).await {
                    Ok((mut ws, _)) => {
                        while Instant::now() < deadline {
                            match tokio::time::timeout(Duration::from_millis(250), ws.next()).await {
                                Ok(Some(Ok(Message::Text(t)))) => {
                                    delivered.fetch_add(t.matches("\"type\":\"chat\"").count() as u64, Ordering::Relaxed);
                                }
                                Ok(Some(Ok(_))) | Err(_) => {}
                                _ => {
                                    counters.errors.fetch_add(1, Ordering::Relaxed);
                                    break;
                                }
                            }
                        }
                        let _ = ws.close(None).await;
                    }
                    Err(_) => {
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            } else {
                while Instant::now() < deadline {
                    journey_with_pauses(&base, &sku, &samples, &counters, true, think).await;
                }
            }
            active.fetch_sub(1, Ordering::Relaxed);
        })
    };
    let mut tasks: Vec<_> = (0..first).map(spawn_user).collect();
    // The host chats five times a second for the viewers.
    let chat = if args.show.is_empty() || args.cookie.is_empty() {
        None
    } else {
        let mut req = ws_url.clone().into_client_request()?;
        req.headers_mut().insert("cookie", args.cookie.parse()?);
        let (host, _) = tokio_tungstenite::connect_async_with_config(req, None, true).await?;
        let (mut tx, mut rx) = host.split();
        tokio::spawn(async move { while rx.next().await.is_some() {} });
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            while Instant::now() < deadline {
                tick.tick().await;
                if tx.send(Message::Text(json!({"type": "chat", "text": "load test"}).to_string().into())).await.is_err() {
                    break;
                }
            }
        }))
    };
    if then > first {
        tokio::time::sleep(Duration::from_secs(seconds / 3)).await;
        tasks.extend((first..then).map(spawn_user));
    }
    futures::future::join_all(tasks).await;
    if let Some(c) = chat {
        c.abort();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let label = format!("{} — profile {}, {} ms between steps", args.label, args.profile, args.think_ms);
    report(&label, "load", then, elapsed, &samples, &counters);
    let mut all: Vec<u32> = samples.lock().unwrap_or_else(|e| e.into_inner()).values().flatten().copied().collect();
    all.sort_unstable();
    let requests = counters.requests.load(Ordering::Relaxed);
    let errors = counters.errors.load(Ordering::Relaxed);
    let (p95, p99) = (pct(&all, 95.0), pct(&all, 99.0));
    let error_rate = if requests == 0 { 0.0 } else { errors as f64 * 100.0 / requests as f64 };
    let rps = requests as f64 / elapsed;
    let users = peak_users.load(Ordering::Relaxed);
    let yes = |ok: bool| if ok { "yes" } else { "**no**" };
    println!(
        "\n#### Runbook targets — profile {} ({} users{})\n",
        args.profile,
        then,
        if then > first { format!(", from {first}") } else { String::new() }
    );
    println!("| metric | target | acceptable | measured | target met? |\n|---|---|---|---|---|");
    println!("| response time p95 | < 500 ms | < 1,000 ms | {p95:.0} ms | {} |", yes(p95 < 500.0));
    println!("| response time p99 | < 1,000 ms | < 2,000 ms | {p99:.0} ms | {} |", yes(p99 < 1000.0));
    println!("| error rate | < 0.1 % | < 1 % | {error_rate:.3} % | {} |", yes(error_rate < 0.1));
    println!("| throughput | > 100 req/s | > 50 req/s | {rps:.0} req/s | {} |", yes(rps > 100.0));
    let watching = if args.show.is_empty() { 0 } else { then / 5 };
    let users_met = if then > 500 { yes(users > 500).to_string() } else { format!("— (this profile has {then})") };
    println!("| concurrent users | > 500 | > 200 | {users} (watching the show: {watching}) | {users_met} |");
    println!("| (live chat messages delivered to viewers) | {} | |", delivered.load(Ordering::Relaxed));
    Ok(())
}
