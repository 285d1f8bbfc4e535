//! Cron-style schedules. Each schedule enqueues a job of its kind when due; one node at a time
//! (the holder of the `scheduler` lease) does the enqueuing, so a schedule fires once per due
//! time however many nodes run. Times follow the shop's time zone unless the expression starts
//! with `CRON_TZ=UTC `.

use crate::jobs::{enqueue, NewJob};
use crate::lease;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lsn_db::{Db, RowExt};
use serde::Serialize;
use serde_json::Value;
use std::str::FromStr;

#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: &'static str,
    /// `sec min hour day-of-month month day-of-week` (a 5-field expression gets `0` seconds).
    pub cron: &'static str,
    pub job_kind: &'static str,
    pub payload: Value,
    pub description: &'static str,
    /// An autonomous task (the runbook's: summaries, alerts, recovery mails…) runs only when
    /// `ENABLE_AUTONOMOUS` is true; a safety job (reservation expiry, clean-ups) always runs.
    pub autonomous: bool,
}

/// The next time `expr` fires strictly after `after`, in `tz` (or UTC with `CRON_TZ=UTC `).
pub fn next_after(expr: &str, tz: Tz, after: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let (tz, expr) = match expr.strip_prefix("CRON_TZ=") {
        Some(rest) => {
            let (zone, e) = rest.split_once(' ').ok_or("CRON_TZ= needs an expression after the zone")?;
            (Tz::from_str(zone).map_err(|_| format!("unknown time zone {zone}"))?, e.trim())
        }
        None => (tz, expr.trim()),
    };
    let full = if expr.split_whitespace().count() == 5 { format!("0 {expr}") } else { expr.to_string() };
    let sched = cron::Schedule::from_str(&full).map_err(|e| format!("bad cron expression {expr:?}: {e}"))?;
    sched.after(&after.with_timezone(&tz)).next().map(|t| t.with_timezone(&Utc)).ok_or_else(|| format!("{expr:?} never fires again"))
}

#[derive(Debug, Clone, Serialize)]
pub struct ScheduleRow {
    pub name: String,
    /// The expression in force: a person's re-timing, else the code's.
    pub cron: String,
    /// The code's expression (what re-timing back to default restores).
    pub default_cron: String,
    pub job_kind: String,
    pub description: String,
    /// Not paused.
    pub enabled: bool,
    pub autonomous: bool,
    pub next_run_at: i64,
    pub last_run_at: Option<i64>,
    pub last_outcome: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub job_id: String,
    pub kind: String,
    pub schedule: Option<String>,
    pub attempt: i64,
    pub started_at: i64,
    pub finished_at: i64,
    pub outcome: String,
    pub error: Option<String>,
    /// What the run reported it did (`JobContext::report`).
    pub output: Option<String>,
}

#[derive(Clone)]
pub struct Scheduler {
    db: Db,
    tz: Tz,
    holder: String,
    autonomous: bool,
}

/// Why a person's change to a schedule was refused (nothing was changed).
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no schedule is named {0}")]
    Unknown(String),
    #[error("{0}")]
    InvalidCron(String),
    #[error(transparent)]
    Db(#[from] lsn_db::Error),
}

impl Scheduler {
    /// A scheduler for the shop's time zone; `autonomous` is `ENABLE_AUTONOMOUS` (whether the
    /// autonomous tasks run).
    pub fn new(db: Db, tz: Tz, holder: impl Into<String>, autonomous: bool) -> Self {
        Self { db, tz, holder: holder.into(), autonomous }
    }

    /// Inserts or updates the code-defined schedules, keeping each one's paused flag, a
    /// person's re-timing, and its next due time when the expression in force did not change.
    pub async fn register(&self, schedules: &[Schedule], now: DateTime<Utc>) -> Result<(), anyhow::Error> {
        for s in schedules {
            let next = next_after(s.cron, self.tz, now).map_err(anyhow::Error::msg)?.timestamp_millis();
            lsn_db::query(
                "INSERT INTO schedules (name, cron, job_kind, payload, description, enabled, autonomous, next_run_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8) \
                 ON CONFLICT (name) DO UPDATE SET job_kind = excluded.job_kind, payload = excluded.payload, description = excluded.description, \
                 autonomous = excluded.autonomous, \
                 next_run_at = CASE WHEN schedules.cron = excluded.cron OR schedules.cron_override IS NOT NULL THEN schedules.next_run_at ELSE excluded.next_run_at END, \
                 cron = excluded.cron, updated_at = excluded.updated_at",
            )
            .bind(s.name)
            .bind(s.cron)
            .bind(s.job_kind)
            .bind(s.payload.to_string())
            .bind(s.description)
            .bind(i64::from(s.autonomous))
            .bind(next)
            .bind(now.timestamp_millis())
            .execute(self.db.write())
            .await?;
        }
        Ok(())
    }

    /// Re-times `name` to `cron` (in the shop's time zone), or back to the code's expression with
    /// `None`; its next run moves accordingly. A bad expression is refused and changes nothing.
    pub async fn set_cron(&self, name: &str, cron: Option<&str>, now: DateTime<Utc>) -> Result<ScheduleRow, ControlError> {
        let current = get(&self.db, name).await?.ok_or_else(|| ControlError::Unknown(name.to_string()))?;
        let cron = cron.map(str::trim).filter(|c| !c.is_empty());
        if cron.is_some_and(|c| c.len() > 100) {
            return Err(ControlError::InvalidCron("a cron expression is at most 100 characters".into()));
        }
        let effective = cron.unwrap_or(&current.default_cron);
        let next = next_after(effective, self.tz, now).map_err(ControlError::InvalidCron)?.timestamp_millis();
        lsn_db::query("UPDATE schedules SET cron_override = $1, next_run_at = $2, updated_at = $3 WHERE name = $4")
            .bind(cron)
            .bind(next)
            .bind(now.timestamp_millis())
            .bind(name)
            .execute(self.db.write())
            .await?;
        get(&self.db, name).await?.ok_or_else(|| ControlError::Unknown(name.to_string()))
    }

    /// Queues `name`'s job now, outside its timetable (its next run stays as it was). A paused
    /// task runs too: "run now" is a person's decision. Returns the job's id (`None`: a run
    /// asked for in the same second is queued already).
    pub async fn run_now(&self, name: &str, now: DateTime<Utc>) -> Result<Option<String>, ControlError> {
        let row = lsn_db::query("SELECT job_kind, payload FROM schedules WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.read())
            .await?
            .ok_or_else(|| ControlError::Unknown(name.to_string()))?;
        let kind: String = row.try_get("job_kind")?;
        let payload: String = row.try_get("payload")?;
        let payload: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
        let now_ms = now.timestamp_millis();
        // One manual run per task per second, however often the button is pressed.
        let job = NewJob::new(kind, payload).schedule(name.to_string()).dedupe(format!("sched:{name}:now:{}", now_ms / 1000));
        Ok(enqueue(self.db.write(), &job, now_ms).await?)
    }

    /// When this node holds the scheduler lease, enqueues every due schedule once and moves it
    /// to its next time (missed runs collapse into one). Returns the names enqueued.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Vec<String>, anyhow::Error> {
        let now_ms = now.timestamp_millis();
        if !lease::try_acquire(&self.db, "scheduler", &self.holder, now_ms, 30_000).await? {
            return Ok(Vec::new());
        }
        let due = lsn_db::query(
            "SELECT name, COALESCE(cron_override, cron), job_kind, payload, next_run_at FROM schedules \
             WHERE enabled = 1 AND next_run_at <= $1 AND (autonomous = 0 OR $2 = 1) ORDER BY next_run_at",
        )
        .bind(now_ms)
        .bind(i64::from(self.autonomous))
        .fetch_all(self.db.read())
        .await?;
        let mut fired = Vec::new();
        for r in due {
            let name: String = r.try_get(0)?;
            let cron: String = r.try_get(1)?;
            let kind: String = r.try_get(2)?;
            let payload: String = r.try_get(3)?;
            let due_at: i64 = r.try_get(4)?;
            let next = match next_after(&cron, self.tz, now) {
                Ok(t) => t.timestamp_millis(),
                Err(e) => {
                    tracing::error!(schedule = %name, "schedule disabled: {e}");
                    lsn_db::query("UPDATE schedules SET enabled = 0 WHERE name = $1").bind(&name).execute(self.db.write()).await?;
                    continue;
                }
            };
            let payload: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
            let job = NewJob::new(kind, payload).schedule(name.clone()).dedupe(format!("sched:{name}:{due_at}"));
            let (n2, job2, autonomous) = (name.clone(), job.clone(), i64::from(self.autonomous));
            // The task fires only if it is still as this tick read it: due at that time, enabled,
            // allowed. A person who paused or re-timed it in between wins (the row is locked on
            // PostgreSQL and its condition read again; SQLite writes one transaction at a time),
            // so no run is queued after a pause has been answered.
            let moved = self
                .db
                .transaction(move |tx| {
                    let (name, job) = (n2.clone(), job2.clone());
                    Box::pin(async move {
                        let moved = lsn_db::query(
                            "UPDATE schedules SET next_run_at = $1, last_run_at = $2 WHERE name = $3 AND next_run_at = $4 \
                             AND enabled = 1 AND (autonomous = 0 OR $5 = 1)",
                        )
                        .bind(next)
                        .bind(now_ms)
                        .bind(&name)
                        .bind(due_at)
                        .bind(autonomous)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected();
                        if moved == 1 {
                            enqueue(&mut **tx, &job, now_ms).await?;
                        }
                        Ok::<_, lsn_db::Error>(moved == 1)
                    })
                })
                .await?;
            if moved {
                fired.push(name);
            }
        }
        Ok(fired)
    }

    /// Pauses (`false`) or resumes a task; `false` when there is no such task.
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<bool, lsn_db::Error> {
        let r = lsn_db::query("UPDATE schedules SET enabled = $1 WHERE name = $2")
            .bind(i64::from(enabled))
            .bind(name)
            .execute(self.db.write())
            .await?;
        Ok(r.rows_affected() == 1)
    }
}

/// Every schedule with its last outcome (the runbook's `getScheduledTasks`).
pub async fn list(db: &Db) -> Result<Vec<ScheduleRow>, lsn_db::Error> {
    let rows = lsn_db::query(&format!("{SCHEDULE_SELECT} ORDER BY s.name")).fetch_all(db.read()).await?;
    rows.iter().map(schedule_row).collect()
}

/// One schedule, if there is one of that name.
pub async fn get(db: &Db, name: &str) -> Result<Option<ScheduleRow>, lsn_db::Error> {
    let row = lsn_db::query(&format!("{SCHEDULE_SELECT} WHERE s.name = $1")).bind(name).fetch_optional(db.read()).await?;
    row.as_ref().map(schedule_row).transpose()
}

const SCHEDULE_SELECT: &str = "SELECT s.name, COALESCE(s.cron_override, s.cron) AS cron, s.cron AS default_cron, s.job_kind, \
     s.description, s.enabled, s.autonomous, s.next_run_at, s.last_run_at, \
     (SELECT r.outcome FROM job_runs r WHERE r.schedule = s.name ORDER BY r.started_at DESC, r.id DESC LIMIT 1) AS last_outcome \
     FROM schedules s";

fn schedule_row(r: &lsn_db::Row) -> Result<ScheduleRow, lsn_db::Error> {
    Ok(ScheduleRow {
        name: r.try_get("name")?,
        cron: r.try_get("cron")?,
        default_cron: r.try_get("default_cron")?,
        job_kind: r.try_get("job_kind")?,
        description: r.try_get("description")?,
        enabled: r.try_get::<i64, _>("enabled")? == 1,
        autonomous: r.try_get::<i64, _>("autonomous")? == 1,
        next_run_at: r.try_get("next_run_at")?,
        last_run_at: r.try_get("last_run_at")?,
        last_outcome: r.try_get("last_outcome")?,
    })
}

/// The latest runs of a schedule or job kind (the runbook's `getTaskHistory`).
pub async fn history(db: &Db, name: &str, limit: i64) -> Result<Vec<RunRow>, lsn_db::Error> {
    let rows = lsn_db::query(
        "SELECT job_id, kind, attempt, started_at, finished_at, outcome, error, schedule, output FROM job_runs WHERE schedule = $1 OR kind = $1 ORDER BY started_at DESC, id DESC LIMIT $2",
    )
    .bind(name)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter().map(run_row).collect()
}

/// The latest runs of every job, newest first (the admin's jobs page).
pub async fn recent_runs(db: &Db, limit: i64) -> Result<Vec<RunRow>, lsn_db::Error> {
    let rows = lsn_db::query(
        "SELECT job_id, kind, attempt, started_at, finished_at, outcome, error, schedule, output FROM job_runs ORDER BY started_at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter().map(run_row).collect()
}

fn run_row(r: &lsn_db::Row) -> Result<RunRow, lsn_db::Error> {
    Ok(RunRow {
        job_id: r.try_get(0)?,
        kind: r.try_get(1)?,
        attempt: r.try_get(2)?,
        started_at: r.try_get(3)?,
        finished_at: r.try_get(4)?,
        outcome: r.try_get(5)?,
        error: r.try_get(6)?,
        schedule: r.try_get(7)?,
        output: r.try_get(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn cron_in_shop_time_and_utc() {
        let after = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).single().expect("t");
        // 2 AM in Sydney (UTC+11 in November) is 15:00 UTC.
        let t = next_after("0 0 2 * * *", chrono_tz::Australia::Sydney, after).expect("next");
        assert_eq!(t, Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).single().expect("t"));
        let t = next_after("CRON_TZ=UTC 0 2 * * *", chrono_tz::Australia::Sydney, after).expect("next");
        assert_eq!(t, Utc.with_ymd_and_hms(2026, 11, 24, 2, 0, 0).single().expect("t"));
        assert!(next_after("bogus", chrono_tz::UTC, after).is_err());
    }
}
