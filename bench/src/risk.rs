//! The fraud review task's benchmark (issue 17; results in docs/BENCHMARKS.md).
//!
//!   lsn-riskbench review --db URL --orders N
//!       seeds N orders (a tenth of them from a handful of shared browsers and addresses, so the
//!       counts have something to count), checks each one (the real check: features, score,
//!       policy), holds them all for review, then times the 5-minute task over all N held orders
//!       (each scored again, the stale ones escalated).
//!
//! `--db` is a file path (SQLite) or a postgres:// URL of an empty database.

use anyhow::Context;
use clap::{Parser, Subcommand};
use lsn_core::{Clock, Config, ManualClock};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Review {
        #[arg(long)]
        db: String,
        #[arg(long, default_value_t = 10_000)]
        orders: usize,
    },
}

mod db_url;
use db_url::database_url;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Cmd::Review { db, orders } = Cli::parse().cmd;
    let n = orders.clamp(1, 100_000);
    let dir = std::env::temp_dir().join("lsn-riskbench");
    std::fs::create_dir_all(&dir)?;
    let pairs = vec![
        ("DATABASE_URL".to_string(), database_url(&db)),
        ("LSN_DATA_DIR".to_string(), dir.display().to_string()),
        ("LSN_DEMO".to_string(), "false".to_string()),
        ("LSN_DB_SYNCHRONOUS".to_string(), "normal".to_string()),
        ("LSN_LOG".to_string(), "warn".to_string()),
    ];
    let cfg = Config::from_sources(None, pairs).context("config")?;
    let clock = ManualClock::new(chrono::Utc::now());
    let rt = lsn_web::prepare(cfg, Arc::new(clock.clone())).await?;
    let db = rt.state.db.clone();
    let risk = rt.state.risk.clone();
    let now = clock.now_ms();
    let t0 = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let rows: Vec<(String, usize)> = chunk.iter().map(|i| (lsn_core::ids::new_id(), *i)).collect();
        ids.extend(rows.iter().map(|(id, _)| id.clone()));
        db.transaction(move |tx| {
            let rows = rows.clone();
            Box::pin(async move {
                for (id, i) in &rows {
                    let shared = i % 10 == 0;
                    let addr = if shared {
                        json!({"name": "Farm", "line1": format!("{} Farm Rd", i % 7), "suburb": "Parramatta", "state": "NSW", "postcode": "2150"})
                    } else {
                        json!({"name": format!("Buyer {i}"), "line1": format!("{i} Test St"), "suburb": "Sydney", "state": "NSW", "postcode": "2000"})
                    };
                    let device = if shared { format!("farm-{}", i % 13) } else { lsn_core::ids::new_id() };
                    let total = 2_000 + (*i as i64 * 37) % 60_000;
                    lsn_db::query(
                        "INSERT INTO orders (id, number, email, status, channel_code, currency, subtotal, discount_total, shipping_total, gst_total, total, customer_key, \
                         shipping_method, shipping_address, reserved_until, placed_at, updated_at, visitor_id, network) \
                         VALUES ($1, $2, $3, 'pending_payment', 'lsn-live', 'AUD', $4, 0, 0, $5, $4, $6, 'standard', $7, $8, $9, $9, $10, $11)",
                    )
                    .bind(id)
                    .bind(format!("LSN-B{i:07}"))
                    .bind(format!("buyer{i}@example.com"))
                    .bind(total)
                    .bind(total / 11)
                    .bind(format!("email:buyer{i}@example.com"))
                    .bind(addr.to_string())
                    .bind(now + 900_000)
                    .bind(now)
                    .bind(&device)
                    .bind(format!("10.{}.{}.0/24", i % 200, i % 17))
                    .execute(&mut **tx)
                    .await?;
                }
                Ok::<_, lsn_db::Error>(())
            })
        })
        .await?;
    }
    let seeded = t0.elapsed();
    let t1 = Instant::now();
    for id in &ids {
        risk.check_order(id).await?;
    }
    let checked = t1.elapsed();
    lsn_db::query("UPDATE fraud_checks SET status = 'review'").execute(db.write()).await?;
    clock.advance(chrono::Duration::minutes(30));
    let t2 = Instant::now();
    let run = risk.review_task().await?;
    let reviewed = t2.elapsed();
    println!(
        "{n} orders seeded in {:.1} s; checked one by one in {:.1} s ({:.2} ms each); review task over {n} held orders: {:.1} s ({run:?})",
        seeded.as_secs_f64(),
        checked.as_secs_f64(),
        checked.as_secs_f64() * 1000.0 / n as f64,
        reviewed.as_secs_f64()
    );
    Ok(())
}
