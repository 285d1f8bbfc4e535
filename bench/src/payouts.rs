//! The creator payout run's benchmark and fault storm (issue 16; results in docs/BENCHMARKS.md).
//!
//!   lsn-payoutbench run --db URL --creators N [--duplicates D]
//!       seeds N approved creators, each with a bank account and an approved balance between
//!       $50 and $500 (silver: the payout policy approves them all), then times the 2 AM run:
//!       every payout created and submitted through the sandbox, then the sandbox's transfers
//!       moved on until every payout is paid, each webhook delivered D times (default 2).
//!   lsn-payoutbench storm --db URL --creators N --kills K [--duplicates D]
//!       the same seed, then a child process runs the payouts and is killed with SIGKILL K times
//!       at random moments; a last child finishes; then checks that every creator was paid
//!       exactly once (one payout, one sandbox transfer, nothing left on the balance).
//!   lsn-payoutbench child --db URL [--duplicates D]   (the storm's child)
//!
//! `--db` is a file path (SQLite) or a postgres:// URL of an empty database.

use anyhow::Context;
use clap::{Parser, Subcommand};
use lsn_core::{Config, ManualClock};
use lsn_db::RowExt;
use rand::Rng;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Run {
        #[arg(long)]
        db: String,
        #[arg(long, default_value_t = 10_000)]
        creators: usize,
        #[arg(long, default_value_t = 2)]
        duplicates: usize,
    },
    Storm {
        #[arg(long)]
        db: String,
        #[arg(long, default_value_t = 10_000)]
        creators: usize,
        #[arg(long, default_value_t = 50)]
        kills: u32,
        #[arg(long, default_value_t = 2)]
        duplicates: usize,
    },
    Child {
        #[arg(long)]
        db: String,
        #[arg(long, default_value_t = 2)]
        duplicates: usize,
    },
}

mod db_url;
use db_url::database_url;

/// The app around `db`, its payouts through a sandbox whose transfers move on every second of
/// the manual clock and whose every webhook comes `duplicates` times.
async fn runtime(db: &str, duplicates: usize, clock: &ManualClock) -> anyhow::Result<Bench> {
    let dir = std::env::temp_dir().join("lsn-payoutbench");
    std::fs::create_dir_all(&dir)?;
    let pairs = vec![
        ("DATABASE_URL".to_string(), database_url(db)),
        ("LSN_DATA_DIR".to_string(), dir.display().to_string()),
        ("LSN_DEMO".to_string(), "false".to_string()),
        ("LSN_DB_SYNCHRONOUS".to_string(), "normal".to_string()),
        ("LSN_LOG".to_string(), "warn".to_string()),
    ];
    let cfg = Config::from_sources(None, pairs).context("config")?;
    let rt = lsn_web::prepare(cfg, Arc::new(clock.clone())).await?;
    let sb = Arc::new(
        lsn_payouts::Sandbox::new(rt.state.db.clone())
            .with_clock(Arc::new(clock.clone()))
            .with_step_ms(1_000)
            .with_bounce_suffix(None)
            .with_duplicate_deliveries(duplicates),
    );
    let s = &rt.state;
    let providers = lsn_creators::payouts::Providers { bank: sb.clone(), sandbox: Some(sb), connect: None };
    let creators = lsn_creators::Creators::new(
        s.live.clone(),
        s.identity.clone(),
        s.policies.clone(),
        lsn_creators::bank::Key::derive(s.cfg.jwt_secret.expose()),
        providers,
        lsn_creators::Settings::default(),
    );
    Ok(Bench { rt, creators })
}

/// The app, and its creators domain paying through the bench's sandbox.
struct Bench {
    rt: lsn_web::Runtime,
    creators: lsn_creators::Creators,
}

fn creators(b: &Bench) -> &lsn_creators::Creators {
    &b.creators
}

/// `n` approved silver creators with a bank account and an approved balance of $50–$500.
async fn seed(rt: &Bench, n: usize) -> anyhow::Result<i64> {
    let c = creators(rt);
    let now = rt.rt.state.clock.now_ms();
    let mut rng = rand::thread_rng();
    let mut total = 0i64;
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut rows = Vec::new();
        for i in chunk {
            let id = lsn_core::ids::new_id();
            let amount = rng.gen_range(5_000..=50_000);
            total += amount;
            let account = lsn_payouts::Account::Australian { bsb: "062000".into(), account_number: format!("{:08}", 10_000_000 + i) };
            let sealed = c.bank_key.seal(&id, json!({"holder_name": format!("Creator {i}"), "account": account}).to_string().as_bytes());
            rows.push((id, *i, amount, sealed, account.masked()));
        }
        let rows2 = rows.clone();
        rt.rt
            .state
            .db
            .transaction(move |tx| {
                let rows = rows2.clone();
                Box::pin(async move {
                    for (id, i, amount, sealed, masked) in &rows {
                        lsn_db::query("INSERT INTO creators (id, user_id, handle, display_name, status, tier, applied_at, updated_at) VALUES ($1, $2, $3, $4, 'approved', 'silver', $5, $5)")
                            .bind(id)
                            .bind(lsn_core::ids::new_id())
                            .bind(format!("bench-{id}"))
                            .bind(format!("Creator {i}"))
                            .bind(now)
                            .execute(&mut **tx)
                            .await?;
                        lsn_db::query("INSERT INTO creator_bank_accounts (creator_id, holder_name, kind, details, masked, currency, updated_at) VALUES ($1, $2, 'australian', $3, $4, 'AUD', $5)")
                            .bind(id)
                            .bind(format!("Creator {i}"))
                            .bind(sealed)
                            .bind(masked)
                            .bind(now)
                            .execute(&mut **tx)
                            .await?;
                        lsn_db::query("INSERT INTO creator_ledger (id, creator_id, kind, source_kind, source_id, ref, amount, currency, status, available_at, note, created_at) VALUES ($1, $2, 'commission', 'order', $3, '', $4, 'AUD', 'approved', $5, 'bench', $5)")
                            .bind(lsn_core::ids::new_id())
                            .bind(id)
                            .bind(lsn_core::ids::new_id())
                            .bind(amount)
                            .bind(now)
                            .execute(&mut **tx)
                            .await?;
                    }
                    Ok::<_, lsn_db::Error>(())
                })
            })
            .await?;
    }
    Ok(total)
}

/// Payouts not yet paid (or given up on).
async fn unfinished(rt: &Bench) -> anyhow::Result<i64> {
    Ok(lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM creator_payouts WHERE status IN ('approved', 'submitted')")
        .fetch_one(rt.rt.state.db.read())
        .await?
        .try_get(0)?)
}

/// The run, then the sandbox's clock moved on until every payout is final.
async fn pay(rt: &Bench, clock: &ManualClock) -> anyhow::Result<()> {
    let c = creators(rt);
    c.run_payouts().await.map_err(|e| anyhow::anyhow!("run: {e}"))?;
    for _ in 0..200 {
        if unfinished(rt).await? == 0 {
            return Ok(());
        }
        clock.advance(chrono::Duration::seconds(2));
        c.sandbox_tick().await.map_err(|e| anyhow::anyhow!("tick: {e}"))?;
        // What a crash left approved (sent before the kill, or not at all) goes again.
        c.submit_approved().await.map_err(|e| anyhow::anyhow!("submit: {e}"))?;
        c.reconcile(0).await.map_err(|e| anyhow::anyhow!("reconcile: {e}"))?;
    }
    anyhow::bail!("payouts still unfinished after 200 steps")
}

async fn check(rt: &Bench, n: usize, total: i64) -> anyhow::Result<()> {
    let db = rt.rt.state.db.read();
    let one = |sql: &'static str| async move { lsn_db::query(sql).fetch_one(db).await.map(|r| r.try_get::<i64, _>(0)) };
    let paid = one("SELECT CAST(COUNT(*) AS BIGINT) FROM creator_payouts WHERE status = 'paid'").await??;
    let payouts = one("SELECT CAST(COUNT(*) AS BIGINT) FROM creator_payouts").await??;
    let twice =
        one("SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT creator_id FROM creator_payouts GROUP BY creator_id HAVING COUNT(*) > 1) x")
            .await??;
    let transfers = one("SELECT CAST(COUNT(*) AS BIGINT) FROM payout_sandbox_transfers").await??;
    let sent = one("SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM payout_sandbox_transfers").await??;
    let left = one("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM creator_ledger").await??;
    println!(
        "{}",
        json!({"creators": n, "payouts": payouts, "paid": paid, "creators_paid_twice": twice, "sandbox_transfers": transfers, "sent_cents": sent, "owed_cents": total, "balance_left_cents": left})
    );
    anyhow::ensure!(paid as usize == n && payouts as usize == n && twice == 0, "not every creator was paid exactly once");
    anyhow::ensure!(transfers as usize == n && sent == total && left == 0, "the money sent does not match what was owed");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run { db, creators: n, duplicates } => {
            let clock = ManualClock::new(chrono::Utc::now());
            let rt = runtime(&db, duplicates, &clock).await?;
            let t = Instant::now();
            let total = seed(&rt, n).await?;
            let seeded = t.elapsed();
            let t = Instant::now();
            creators(&rt).run_payouts().await.map_err(|e| anyhow::anyhow!("run: {e}"))?;
            let submitted = t.elapsed();
            pay(&rt, &clock).await?;
            let done = t.elapsed();
            println!(
                "{}",
                json!({"seed_s": seeded.as_secs_f64(), "created_and_submitted_s": submitted.as_secs_f64(), "all_paid_s": done.as_secs_f64(), "payouts_per_s": n as f64 / done.as_secs_f64()})
            );
            check(&rt, n, total).await
        }
        Cmd::Storm { db, creators: n, kills, duplicates } => {
            let clock = ManualClock::new(chrono::Utc::now());
            let seeded = runtime(&db, duplicates, &clock).await?;
            let total = seed(&seeded, n).await?;
            let exe = std::env::current_exe()?;
            let mut rng = rand::thread_rng();
            let started = Instant::now();
            let (mut n, mut total) = (n, total);
            let mut k = 0;
            while k < kills {
                let mut child =
                    std::process::Command::new(&exe).args(["child", "--db", &db, "--duplicates", &duplicates.to_string()]).spawn()?;
                // From just after start-up to the middle of the run: each kill lands in a
                // different place (creating payouts, sending them, applying webhooks).
                std::thread::sleep(Duration::from_millis(rng.gen_range(100..600)));
                if let Some(status) = child.try_wait()? {
                    anyhow::ensure!(status.success(), "a child failed before its kill");
                    // Everyone was paid before the kills ran out: more creators are owed money.
                    total += seed(&seeded, 2_000).await?;
                    n += 2_000;
                    println!("{}", json!({"kill": k, "note": "the child finished first: 2,000 more creators owed", "creators": n}));
                    continue;
                }
                child.kill()?;
                child.wait()?;
                k += 1;
                if k % 10 == 0 {
                    let paid: i64 = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM creator_payouts WHERE status = 'paid'")
                        .fetch_one(seeded.rt.state.db.read())
                        .await?
                        .try_get(0)?;
                    println!("{}", json!({"kills": k, "at_s": started.elapsed().as_secs_f64(), "paid_so_far": paid}));
                }
            }
            let status = std::process::Command::new(&exe).args(["child", "--db", &db, "--duplicates", &duplicates.to_string()]).status()?;
            anyhow::ensure!(status.success(), "the last child failed");
            println!("{}", json!({"kills": kills, "storm_s": started.elapsed().as_secs_f64()}));
            let rt = runtime(&db, duplicates, &clock).await?;
            check(&rt, n, total).await
        }
        Cmd::Child { db, duplicates } => {
            // Each child's clock starts where the sandbox's transfers might already be.
            let clock = ManualClock::new(chrono::Utc::now() + chrono::Duration::hours(1));
            let rt = runtime(&db, duplicates, &clock).await?;
            pay(&rt, &clock).await
        }
    }
}
