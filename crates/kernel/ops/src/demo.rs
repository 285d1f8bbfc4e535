//! The demo shop's task history (issue 15): the run log its scheduled tasks would have written
//! over a few generated weeks, each run at the times its cron expression fires in the shop's time
//! zone, with its duration, outcome and output, a few failures followed by their retry. Derived
//! from a seed: the same seed writes the same log.

use crate::schedule::{next_after, Schedule};
use chrono::{DateTime, Utc};
use lsn_db::Db;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The most runs kept per task (the every-minute tasks keep their last hours, as the admin shows).
pub const MAX_RUNS_PER_TASK: usize = 400;
const ROWS_PER_STATEMENT: usize = 200;

/// What a run of `name` reports, as the task's own handler words it.
fn output(name: &str, rng: &mut StdRng, at: DateTime<Utc>) -> Option<String> {
    Some(match name {
        "analytics_aggregation" => format!("2 buckets, {} values", 2 * (10 + rng.gen_range(0..3))),
        "daily_summary" => format!("daily summary for {} sent to 1 recipient", (at - chrono::Duration::days(1)).format("%Y-%m-%d")),
        "weekly_report" => format!("weekly report for the week to {} sent to 1 recipient", at.format("%Y-%m-%d")),
        "low_stock_alerts" => format!("{} variants below 10 units, {} new tasks", 6 + rng.gen_range(0..8), rng.gen_range(0..2)),
        "abandoned_cart_recovery" => format!("{} reminders sent", rng.gen_range(0..6)),
        "backup_daily" | "backup_hourly" => format!("backup written ({:.1} MB)", 3.5 + rng.gen_range(0.0..2.0)),
        "reservation_expiry" => format!("{} reservations released", rng.gen_range(0..3)),
        "session_cleanup" => format!("{} sessions removed", rng.gen_range(0..20)),
        "idempotency_cleanup" => format!("{} keys removed", rng.gen_range(0..40)),
        _ => return None,
    })
}

/// Why a failed run of `name` failed.
fn failure(name: &str) -> &'static str {
    match name {
        "daily_summary" | "weekly_report" => "mail provider answered 503 Service Unavailable (retrying)",
        "backup_daily" | "backup_hourly" => "backup directory not writable: disk full (retrying)",
        _ => "database is busy: timed out waiting for the write lock (retrying)",
    }
}

/// (job kind, schedule, attempt, started, finished, outcome, error, output)
type Run = (&'static str, &'static str, i64, i64, i64, &'static str, Option<&'static str>, Option<String>);

/// Writes the log of `schedules` over `[from, now)`; how many runs.
pub async fn run_log(db: &Db, schedules: &[Schedule], tz: chrono_tz::Tz, from: i64, now: i64, seed: u64) -> Result<usize, lsn_db::Error> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut runs: Vec<Run> = Vec::new();
    let end = DateTime::<Utc>::from_timestamp_millis(now).unwrap_or_else(Utc::now);
    for s in schedules {
        let mut at = DateTime::<Utc>::from_timestamp_millis(from).unwrap_or(end);
        let mut times = Vec::new();
        while let Ok(next) = next_after(s.cron, tz, at) {
            if next >= end {
                break;
            }
            times.push(next);
            at = next;
        }
        let keep = times.len().saturating_sub(MAX_RUNS_PER_TASK);
        for t in &times[keep..] {
            let started = t.timestamp_millis() + rng.gen_range(5..900);
            let took = match s.name {
                "daily_summary" | "weekly_report" | "backup_daily" => rng.gen_range(800..4_000),
                "analytics_aggregation" | "backup_hourly" => rng.gen_range(40..400),
                _ => rng.gen_range(2..60),
            };
            let fails = rng.gen_range(0..100) < if s.name.starts_with("backup") || s.name.contains("summary") { 4 } else { 1 };
            if fails && started + took + 60_000 < now {
                runs.push((s.job_kind, s.name, 1, started, started + took, "failed", Some(failure(s.name)), None));
                let retry = started + took + 30_000 + rng.gen_range(0..30_000);
                runs.push((s.job_kind, s.name, 2, retry, retry + took, "succeeded", None, output(s.name, &mut rng, *t)));
            } else {
                runs.push((s.job_kind, s.name, 1, started, started + took, "succeeded", None, output(s.name, &mut rng, *t)));
            }
        }
    }
    let n = runs.len();
    db.transaction_with(runs, |tx, runs| {
        Box::pin(async move {
            for chunk in runs.chunks(ROWS_PER_STATEMENT) {
                let sql = format!(
                    "INSERT INTO job_runs (id, job_id, kind, schedule, attempt, started_at, finished_at, outcome, error, worker, output) VALUES {}",
                    crate::jobs::rows(chunk.len(), 11)
                );
                let mut q = lsn_db::query(&sql);
                for (kind, schedule, attempt, started, finished, outcome, error, out) in chunk {
                    q = q
                        .bind(lsn_core::ids::new_id())
                        .bind(lsn_core::ids::new_id())
                        .bind(*kind)
                        .bind(*schedule)
                        .bind(*attempt)
                        .bind(*started)
                        .bind(*finished)
                        .bind(*outcome)
                        .bind(*error)
                        .bind("demo")
                        .bind(out.as_deref());
                }
                q.execute(&mut **tx).await?;
            }
            Ok::<_, lsn_db::Error>(())
        })
    })
    .await?;
    Ok(n)
}
