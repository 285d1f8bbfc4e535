//! The runbook's "Autonomous Operations" in one read: the scheduled tasks, self-healing (events
//! and every node's breakers), workflow activity (runs by status, recent failures, waits for a
//! person), policy decisions and escalations, alerts firing, open incidents and the tasks
//! waiting for a person. The autonomy dashboard (`/admin/autonomy`) and its JSON
//! (`GET /api/v1/admin/autonomy`) show it; `lsn doctor` asks the checks at the end.

use crate::policy::Policies;
use lsn_db::{Db, RowExt};
use serde::Serialize;

/// A workflow step waiting for a person's decision or an outside event.
#[derive(Debug, Clone, Serialize)]
pub struct Wait {
    pub run_id: String,
    pub workflow: String,
    pub key: Option<String>,
    pub step: String,
    /// When it times out.
    pub until: i64,
    pub since: i64,
}

/// Everything the dashboard shows.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub schedules: Vec<crate::schedule::ScheduleRow>,
    pub healing: Vec<crate::healing::Event>,
    pub breakers: Vec<crate::healing::BreakerView>,
    pub workflow_counts: Vec<(String, i64)>,
    /// Failed runs and runs compensating (undoing their steps), newest first.
    pub workflow_failures: Vec<crate::workflow::RunRow>,
    pub waits: Vec<Wait>,
    pub decisions: Vec<crate::policy::Decision>,
    /// Decisions that escalated to a person, newest first.
    pub escalations: Vec<crate::policy::Decision>,
    pub alerts: Vec<crate::alerts::Alert>,
    pub incidents: Vec<crate::incidents::Incident>,
    /// Tasks open for a person (policy escalations, failed compensations, refunds refused …).
    pub tasks: Vec<crate::tasks::Task>,
}

/// The steps waiting for a signal, oldest first.
pub async fn waits(db: &Db, limit: i64) -> Result<Vec<Wait>, lsn_db::Error> {
    let rows = lsn_db::query(
        "SELECT r.id, r.name, r.run_key, s.step, s.run_at, COALESCE(s.started_at, r.updated_at) FROM workflow_steps s \
         JOIN workflow_runs r ON r.id = s.run_id WHERE s.status = 'waiting' ORDER BY s.run_at, s.id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Wait {
                run_id: r.try_get(0)?,
                workflow: r.try_get(1)?,
                key: r.try_get(2)?,
                step: r.try_get(3)?,
                until: r.try_get(4)?,
                since: r.try_get(5)?,
            })
        })
        .collect()
}

/// Reads the overview (each list capped at `limit`).
pub async fn overview(db: &Db, policies: &Policies, limit: i64) -> Result<Overview, crate::OpsError> {
    let limit = limit.clamp(1, 200);
    let mut workflow_failures = crate::workflow::recent(db, Some("failed"), limit).await?;
    workflow_failures.extend(crate::workflow::recent(db, Some("compensating"), limit).await?);
    workflow_failures.sort_by_key(|r| std::cmp::Reverse(r.updated_at));
    workflow_failures.truncate(limit as usize);
    let decisions = policies.decisions(None, 200).await?;
    let escalations: Vec<_> =
        decisions.iter().filter(|d| d.outcome == crate::policy::Outcome::Escalate && !d.test).take(limit as usize).cloned().collect();
    Ok(Overview {
        schedules: crate::schedule::list(db).await?,
        healing: crate::healing::events(db, None, limit).await?,
        breakers: crate::healing::breakers(db).await?,
        workflow_counts: crate::workflow::counts(db).await?,
        workflow_failures,
        waits: waits(db, limit).await?,
        decisions: decisions.into_iter().take(limit as usize).collect(),
        escalations,
        alerts: crate::alerts::list(db, Some("firing"), limit).await?,
        incidents: crate::incidents::list(db, 200).await?.into_iter().filter(|i| i.status == "open").take(limit as usize).collect(),
        tasks: crate::tasks::list(db, Some("open"), limit).await?,
    })
}

/// Unfinished workflow runs by name and version: `lsn doctor` names those whose version this
/// binary does not have (they cannot go on until it does).
pub async fn unfinished_versions(db: &Db) -> Result<Vec<(String, i64, i64)>, lsn_db::Error> {
    let rows = lsn_db::query(
        "SELECT name, version, CAST(COUNT(*) AS BIGINT) FROM workflow_runs WHERE finished_at IS NULL GROUP BY name, version ORDER BY name, version",
    )
    .fetch_all(db.read())
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
}

/// Jobs that look stuck at `now`: running past their lock (their worker is gone), and queued
/// jobs due over an hour ago (nobody is working the queue).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stuck {
    pub running_past_lock: i64,
    pub overdue: i64,
    /// The oldest overdue job's due time.
    pub oldest_due: Option<i64>,
}

pub async fn stuck_jobs(db: &Db, now: i64) -> Result<Stuck, lsn_db::Error> {
    let r = lsn_db::query(
        "SELECT CAST(COALESCE(SUM(CASE WHEN status = 'running' AND locked_until < $1 THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN status = 'queued' AND run_at < $2 THEN 1 ELSE 0 END), 0) AS BIGINT), \
         MIN(CASE WHEN status = 'queued' AND run_at < $2 THEN run_at END) FROM jobs WHERE status IN ('running', 'queued')",
    )
    .bind(now)
    .bind(now - 3_600_000)
    .fetch_one(db.read())
    .await?;
    Ok(Stuck { running_past_lock: r.try_get(0)?, overdue: r.try_get(1)?, oldest_due: r.try_get(2)? })
}
