//! The workflow engine's benchmark and fault storm (issue 15; results in docs/BENCHMARKS.md).
//!
//!   lsn-wfbench throughput --db URL [--seconds S] [--sync full|normal]
//!       starts runs of a 4-step workflow (a → b ∥ c → d) as fast as the engine finishes them,
//!       load client in the same process, and reports durable steps per second.
//!   lsn-wfbench latency --db URL --runs-per-second R [--seconds S]
//!       starts R runs a second on a fixed beat and reports enqueue-to-start (from the start's
//!       commit being asked for to the first step's code running): p50, p95, p99, max.
//!   lsn-wfbench storm --db URL --kills N [--runs R]
//!       starts a fake provider, R runs of a workflow whose every step calls it with its
//!       idempotency key (a quarter of the runs fail at their third step and compensate), and a
//!       child process that runs the engine; kills the child with SIGKILL N times at random
//!       moments, then lets a last child finish and checks: every run ended, every effect was
//!       applied exactly once, every compensation ran.
//!   lsn-wfbench child --db URL --provider URL    (the storm's child; runs until killed)
//!
//! `--db` is a file path (SQLite) or a postgres:// URL of a database to create tables in.

use anyhow::Context;
use clap::{Parser, Subcommand};
use lsn_core::SharedClock;
use lsn_db::{Db, DbTarget, RowExt};
use lsn_ops::workflow::{Definitions, Engine, Retry, Step, StepError, Workflow};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Throughput {
        #[arg(long)]
        db: String,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        #[arg(long, default_value = "full")]
        sync: String,
    },
    Latency {
        #[arg(long)]
        db: String,
        #[arg(long)]
        runs_per_second: u64,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        #[arg(long, default_value = "full")]
        sync: String,
    },
    Storm {
        #[arg(long)]
        db: String,
        #[arg(long, default_value_t = 200)]
        kills: u32,
        #[arg(long, default_value_t = 400)]
        runs: u32,
    },
    Child {
        #[arg(long)]
        db: String,
        #[arg(long)]
        provider: String,
    },
}

async fn open(url: &str, sync: &str) -> anyhow::Result<Db> {
    let target = DbTarget::parse(url).with_context(|| format!("--db {url}"))?;
    let durability = if sync == "normal" { lsn_core::config::Durability::Normal } else { lsn_core::config::Durability::Full };
    let db = Db::connect_target(&target, 16, durability, 3).await?;
    db.migrate(&lsn_db::Schema::new(&[lsn_db::HISTORY]).map_err(anyhow::Error::msg)?).await?;
    Ok(db)
}

fn clock() -> SharedClock {
    Arc::new(lsn_core::clock::SystemClock)
}

/// Microseconds since the process began (what the latency run stamps into each input).
fn micros() -> u64 {
    static T0: OnceLock<Instant> = OnceLock::new();
    T0.get_or_init(Instant::now).elapsed().as_micros() as u64
}

static LATENCIES: Mutex<Vec<u64>> = Mutex::new(Vec::new());
/// Runs whose last step's code has run (the load client's throttle).
static FINISHED: AtomicU64 = AtomicU64::new(0);

/// a → (b ∥ c) → d; `a` notes how long after its start was asked for it began.
fn bench_workflow() -> Workflow {
    let quick = |name: &'static str| Step::run(name, |cx| async move { Ok(json!({"step": cx.step})) });
    Workflow::new("bench", 1, "four steps with two in parallel")
        .step(Step::run("a", |cx| async move {
            if cx.attempt == 1 {
                if let Some(t0) = cx.input["t0"].as_u64() {
                    LATENCIES.lock().unwrap_or_else(|e| e.into_inner()).push(micros().saturating_sub(t0));
                }
            }
            Ok(json!({"step": "a"}))
        }))
        .step(quick("b").after(&["a"]))
        .step(quick("c").after(&["a"]))
        .step(
            Step::run("d", |_| async move {
                FINISHED.fetch_add(1, Ordering::Relaxed);
                Ok(json!({"step": "d"}))
            })
            .after(&["b", "c"]),
        )
}

async fn count(db: &Db, sql: &str) -> anyhow::Result<i64> {
    Ok(lsn_db::query(sql).fetch_one(db.read()).await?.try_get(0)?)
}

const DONE_STEPS: &str = "SELECT CAST(COUNT(*) AS BIGINT) FROM workflow_steps WHERE status = 'done'";
const UNFINISHED: &str = "SELECT CAST(COUNT(*) AS BIGINT) FROM workflow_runs WHERE status IN ('running', 'compensating')";

async fn throughput(url: &str, seconds: u64, sync: &str) -> anyhow::Result<()> {
    let db = open(url, sync).await?;
    let engine = Engine::new(db.clone(), clock(), Definitions::new([bench_workflow()]), "bench");
    engine.prepare().await?;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(engine.clone().run(rx));
    let started = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds + 2);
    // The load client: 4 starters keeping at most 2,000 runs ahead of the engine (counted by the
    // last step's code, in memory: no query of the client's competes with the engine's).
    let mut starters = Vec::new();
    for _ in 0..4 {
        let (engine, started) = (engine.clone(), started.clone());
        starters.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                if started.load(Ordering::Relaxed).saturating_sub(FINISHED.load(Ordering::Relaxed)) > 2000 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
                if engine.start("bench", json!({}), None).await.is_ok() {
                    started.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // Warm up for two seconds, then measure the steps recorded done over the window.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (t1, s1) = (Instant::now(), count(&db, DONE_STEPS).await?);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (t2, s2) = (Instant::now(), count(&db, DONE_STEPS).await?);
    for s in starters {
        let _ = s.await;
    }
    let _ = stop.send(true);
    let _ = runner.await;
    let rate = (s2 - s1) as f64 / (t2 - t1).as_secs_f64();
    println!(
        "| {} (synchronous={sync}) | {seconds} s | {} runs started | {} steps done in the window | **{rate:.0} durable steps/s** |",
        db.backend().name(),
        started.load(Ordering::Relaxed),
        s2 - s1
    );
    Ok(())
}

async fn latency(url: &str, per_second: u64, seconds: u64, sync: &str) -> anyhow::Result<()> {
    let db = open(url, sync).await?;
    let engine = Engine::new(db.clone(), clock(), Definitions::new([bench_workflow()]), "bench");
    engine.prepare().await?;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(engine.clone().run(rx));
    // A beat every 10 ms, each starting its share of the second's runs at once.
    let per_beat = (per_second as f64 / 100.0).max(0.01);
    let mut owed = 0.0;
    let mut beat = tokio::time::interval(Duration::from_millis(10));
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut starts = Vec::new();
    while Instant::now() < until {
        beat.tick().await;
        owed += per_beat;
        while owed >= 1.0 {
            owed -= 1.0;
            let engine = engine.clone();
            starts.push(tokio::spawn(async move { engine.start("bench", json!({"t0": micros()}), None).await.is_ok() }));
        }
    }
    let mut ok = 0;
    for s in starts {
        ok += usize::from(s.await.unwrap_or(false));
    }
    let drain = Instant::now() + Duration::from_secs(60);
    while count(&db, UNFINISHED).await? > 0 && Instant::now() < drain {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    let _ = runner.await;
    let mut l = LATENCIES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    l.sort_unstable();
    let pct = |p: f64| l.get(((l.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0) as f64 / 1000.0;
    println!(
        "| {} (synchronous={sync}) | {per_second} runs/s = {} steps/s | {seconds} s | {ok} runs, {} timed | enqueue→start p50 {:.1} ms, p95 {:.1} ms, **p99 {:.1} ms**, max {:.1} ms |",
        db.backend().name(),
        per_second * 4,
        l.len(),
        pct(0.50),
        pct(0.95),
        pct(0.99),
        l.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The storm.

/// The fake provider: each request names an effect and its idempotency key. It applies a key
/// once (as Stripe or Wise would), counts the requests per key, and answers 500 to one request
/// in fifty so the retries are exercised too.
struct Provider {
    db: Db,
    requests: Mutex<BTreeMap<String, u32>>,
    applied: Mutex<BTreeMap<String, String>>,
    /// Requests for a step (or compensation) the database had already recorded as finished:
    /// a completed step's side effect repeated.
    after_done: AtomicU64,
    n: AtomicU64,
}

async fn provider_call(
    axum::extract::State(p): axum::extract::State<Arc<Provider>>,
    axum::Json(body): axum::Json<Value>,
) -> (axum::http::StatusCode, &'static str) {
    let key = body["key"].as_str().unwrap_or_default().to_string();
    let effect = body["effect"].as_str().unwrap_or_default().to_string();
    if p.n.fetch_add(1, Ordering::Relaxed) % 50 == 49 {
        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "try again");
    }
    // The step's record, read while its call is still open (so before its outcome is written).
    let parts: Vec<&str> = key.split(':').collect();
    if let [_, run, step, rest @ ..] = parts.as_slice() {
        let undo = rest.first() == Some(&"undo");
        let row = lsn_db::query("SELECT status, phase FROM workflow_steps WHERE run_id = $1 AND step = $2")
            .bind(*run)
            .bind(*step)
            .fetch_optional(p.db.write())
            .await;
        if let Ok(Some(r)) = row {
            let (status, phase): (String, String) = (r.try_get(0).unwrap_or_default(), r.try_get(1).unwrap_or_default());
            let finished =
                if undo { status == "compensated" } else { phase == "undo" || matches!(status.as_str(), "done" | "compensated") };
            if finished {
                p.after_done.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    *p.requests.lock().unwrap_or_else(|e| e.into_inner()).entry(key.clone()).or_default() += 1;
    p.applied.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_insert(effect);
    (axum::http::StatusCode::OK, "ok")
}

/// The storm's workflow: charge ∥ reserve → ship → notify; ship fails for good when the input
/// says so, and then charge and reserve are compensated (refund, release).
fn storm_workflow(provider: String) -> Workflow {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap_or_default();
    let call = move |effect: &'static str| {
        let (http, provider) = (http.clone(), provider.clone());
        move |cx: Arc<lsn_ops::StepCx>| {
            let (http, provider) = (http.clone(), provider.clone());
            async move {
                if effect == "ship" && cx.input["fail"] == json!(true) {
                    return Err(StepError::Fail("the carrier refused the parcel".into()));
                }
                let r = http
                    .post(format!("{provider}/call"))
                    .json(&json!({"key": cx.key(), "effect": effect}))
                    .send()
                    .await
                    .map_err(|e| StepError::Retry(e.to_string()))?;
                if !r.status().is_success() {
                    return Err(StepError::Retry(format!("provider answered {}", r.status())));
                }
                Ok(json!({"effect": effect}))
            }
        }
    };
    let retry = Retry { max_attempts: 50, initial: Duration::from_millis(5), max_delay: Duration::from_millis(200), jitter: 0.3 };
    Workflow::new("storm", 1, "steps with side effects at a fake provider")
        .step(Step::run("charge", call("charge")).undo(call("refund")).retry(retry))
        .step(Step::run("reserve", call("reserve")).undo(call("release")).retry(retry))
        .step(Step::run("ship", call("ship")).after(&["charge", "reserve"]).retry(retry))
        .step(Step::run("notify", call("notify")).after(&["ship"]).retry(retry))
}

async fn child(url: &str, provider: &str) -> anyhow::Result<()> {
    let db = open(url, "full").await?;
    let engine = Engine::new(db, clock(), Definitions::new([storm_workflow(provider.to_string())]), "storm-child").concurrency(64);
    engine.prepare().await?;
    let (_stop, rx) = tokio::sync::watch::channel(false);
    engine.run(rx).await;
    Ok(())
}

async fn storm(url: &str, kills: u32, runs: u32) -> anyhow::Result<()> {
    use rand::Rng;
    let db = open(url, "full").await?;
    let provider = Arc::new(Provider {
        db: db.clone(),
        requests: Mutex::default(),
        applied: Mutex::default(),
        after_done: AtomicU64::new(0),
        n: AtomicU64::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = axum::Router::new().route("/call", axum::routing::post(provider_call)).with_state(provider.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    // The runs are started here (the child only runs them), a quarter of them bound to fail.
    let engine = Engine::new(db.clone(), clock(), Definitions::new([storm_workflow(base.clone())]), "storm");
    engine.prepare().await?;
    let mut ids = Vec::new();
    for i in 0..runs {
        ids.push((engine.start("storm", json!({"fail": i % 4 == 3}), Some(format!("storm:{i}"))).await?, i % 4 == 3));
    }
    let exe = std::env::current_exe()?;
    let spawn = || {
        tokio::process::Command::new(&exe)
            .args(["child", "--db", url, "--provider", &base])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
    };
    let begun = Instant::now();
    let mut killed = 0;
    let mut extra_runs = 0u32;
    while killed < kills {
        let mut c = spawn()?;
        let wait = rand::thread_rng().gen_range(20..250);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        c.start_kill()?; // SIGKILL on Unix
        let _ = c.wait().await;
        killed += 1;
        // Keep work in flight: when most runs have ended, add more.
        if count(&db, UNFINISHED).await? < 20 && begun.elapsed() < Duration::from_secs(600) {
            for j in 0..40 {
                let i = runs + extra_runs + j;
                ids.push((engine.start("storm", json!({"fail": i % 4 == 3}), Some(format!("storm:{i}"))).await?, i % 4 == 3));
            }
            extra_runs += 40;
        }
    }
    // A last child, left to finish.
    let mut c = spawn()?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while count(&db, UNFINISHED).await? > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.start_kill()?;
    let _ = c.wait().await;
    // The checks.
    let requests = provider.requests.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let applied = provider.applied.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut lost = 0;
    let mut not_ended = 0;
    let mut wrong = Vec::new();
    let mut compensations = 0;
    for (id, fail) in &ids {
        let status: String =
            lsn_db::query("SELECT status FROM workflow_runs WHERE id = $1").bind(id).fetch_one(db.read()).await?.try_get(0)?;
        let expect: &[&str] = if *fail { &["charge", "reserve", "refund", "release"] } else { &["charge", "reserve", "ship", "notify"] };
        let want_status = if *fail { "failed" } else { "succeeded" };
        if status != want_status {
            not_ended += 1;
            wrong.push(format!("{id}: {status}"));
            continue;
        }
        for effect in expect {
            let step = match *effect {
                "refund" => "charge",
                "release" => "reserve",
                e => e,
            };
            let key = if matches!(*effect, "refund" | "release") { format!("wf:{id}:{step}:undo") } else { format!("wf:{id}:{step}") };
            match applied.get(&key) {
                Some(e) if e == effect => compensations += usize::from(matches!(*effect, "refund" | "release")),
                _ => lost += 1,
            }
        }
    }
    let keys_of_runs: usize = applied.len();
    let expected: usize = ids.len() * 4;
    let repeated: u32 = requests.values().map(|n| n.saturating_sub(1)).sum();
    let repeated_keys = requests.values().filter(|n| **n > 1).count();
    let duplicated = provider.after_done.load(Ordering::Relaxed);
    println!(
        "| {} | {killed} SIGKILLs in {:.0} s | {} runs ({} to compensate) | effects {keys_of_runs} of {expected}; **lost {lost}**; runs not ended {not_ended}; **duplicated {duplicated}** (calls for a step already recorded done); {repeated} repeated calls on {repeated_keys} keys (a step killed between its call and its record, run again under its key) | **compensations run {compensations} of {}** |",
        db.backend().name(),
        begun.elapsed().as_secs_f64(),
        ids.len(),
        ids.iter().filter(|(_, f)| *f).count(),
        ids.iter().filter(|(_, f)| *f).count() * 2
    );
    anyhow::ensure!(lost == 0 && not_ended == 0 && keys_of_runs == expected, "the storm lost work: {wrong:?}");
    anyhow::ensure!(duplicated == 0, "{duplicated} calls repeated a step already recorded done");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    micros();
    match Cli::parse().cmd {
        Cmd::Throughput { db, seconds, sync } => throughput(&db, seconds.clamp(1, 300), &sync).await,
        Cmd::Latency { db, runs_per_second, seconds, sync } => {
            latency(&db, runs_per_second.clamp(1, 100_000), seconds.clamp(1, 300), &sync).await
        }
        Cmd::Storm { db, kills, runs } => storm(&db, kills.min(10_000), runs.clamp(1, 100_000)).await,
        Cmd::Child { db, provider } => child(&db, &provider).await,
    }
}
