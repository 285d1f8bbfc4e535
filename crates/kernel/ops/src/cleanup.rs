//! The operations layer's cleanup of what it keeps past use (the `cleanup` schedule, a safety
//! job): finished jobs and their runs, finished workflow runs, resolved alerts and their
//! deliveries, policy decisions and healing events beyond their retention. Each run reports
//! what it removed and records it as a healing event. (Expired reservations, stale idempotency
//! keys and old sessions are cleaned by the domains that own them, on their own schedules.)

use crate::jobs::{JobContext, JobError, JobHandler};
use serde_json::Value;

pub const CLEANUP_JOB: &str = "ops.cleanup";

const DAY_MS: i64 = 86_400_000;

/// How long each kind of record is kept (days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Finished jobs (succeeded, dead, cancelled): their dedupe keys are free again after it.
    pub jobs: i64,
    pub job_runs: i64,
    /// Finished workflow runs without a start key (a keyed run is kept: its key is what makes a
    /// second start of the same thing a no-op), and the timeline of keyed ones.
    pub workflows: i64,
    /// Resolved alerts that opened no incident, and finished deliveries.
    pub alerts: i64,
    pub policy_decisions: i64,
    pub healing_events: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Self { jobs: 30, job_runs: 90, workflows: 90, alerts: 90, policy_decisions: 365, healing_events: 90 }
    }
}

/// What one cleanup removed, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Removed {
    pub jobs: u64,
    pub job_runs: u64,
    pub workflow_runs: u64,
    pub workflow_events: u64,
    pub alerts: u64,
    pub alert_deliveries: u64,
    pub policy_decisions: u64,
    pub healing_events: u64,
}

impl Removed {
    pub fn total(&self) -> u64 {
        self.jobs
            + self.job_runs
            + self.workflow_runs
            + self.workflow_events
            + self.alerts
            + self.alert_deliveries
            + self.policy_decisions
            + self.healing_events
    }
}

impl std::fmt::Display for Removed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "removed {} jobs, {} job runs, {} workflow runs, {} workflow events, {} alerts, {} deliveries, {} policy decisions, {} healing events",
            self.jobs,
            self.job_runs,
            self.workflow_runs,
            self.workflow_events,
            self.alerts,
            self.alert_deliveries,
            self.policy_decisions,
            self.healing_events
        )
    }
}

/// Rows deleted per statement: short transactions, so the shop never waits on a cleanup.
const BATCH: i64 = 2000;

/// Deletes in batches until none is left (`sql` takes the cut-off as `$1` and the batch size as
/// `$2`).
async fn sweep(db: &lsn_db::Db, sql: &str, before: i64) -> Result<u64, lsn_db::Error> {
    let mut n = 0;
    loop {
        let r = lsn_db::query(sql).bind(before).bind(BATCH).execute(db.write()).await?.rows_affected();
        n += r;
        if r < BATCH as u64 {
            return Ok(n);
        }
    }
}

/// One cleanup at `now`.
pub async fn run(db: &lsn_db::Db, now: i64, keep: Retention) -> Result<Removed, lsn_db::Error> {
    let cut = |days: i64| now - days.max(1) * DAY_MS;
    let mut r = Removed {
        jobs: sweep(
            db,
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE status IN ('succeeded', 'dead', 'cancelled') AND updated_at < $1 LIMIT $2)",
            cut(keep.jobs),
        )
        .await?,
        job_runs: sweep(db, "DELETE FROM job_runs WHERE id IN (SELECT id FROM job_runs WHERE finished_at < $1 LIMIT $2)", cut(keep.job_runs)).await?,
        ..Removed::default()
    };
    let old_runs = "SELECT id FROM workflow_runs WHERE run_key IS NULL AND finished_at IS NOT NULL AND finished_at < $1 \
                    AND status IN ('succeeded', 'failed', 'cancelled', 'compensated') LIMIT $2";
    loop {
        let ids: Vec<String> = lsn_db::query(old_runs)
            .bind(cut(keep.workflows))
            .bind(BATCH)
            .fetch_all(db.read())
            .await?
            .iter()
            .map(|row| lsn_db::RowExt::try_get(row, 0))
            .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            break;
        }
        for chunk in ids.chunks(200) {
            let chunk = chunk.to_vec();
            r.workflow_runs += db
                .transaction(move |tx| {
                    let chunk = chunk.clone();
                    Box::pin(async move {
                        let mut n = 0;
                        for id in &chunk {
                            lsn_db::query("DELETE FROM workflow_events WHERE run_id = $1").bind(id).execute(&mut **tx).await?;
                            lsn_db::query("DELETE FROM workflow_steps WHERE run_id = $1").bind(id).execute(&mut **tx).await?;
                            n +=
                                lsn_db::query("DELETE FROM workflow_runs WHERE id = $1").bind(id).execute(&mut **tx).await?.rows_affected();
                        }
                        Ok::<_, lsn_db::Error>(n)
                    })
                })
                .await?;
        }
        if ids.len() < BATCH as usize {
            break;
        }
    }
    r.workflow_events = sweep(
        db,
        "DELETE FROM workflow_events WHERE id IN (SELECT e.id FROM workflow_events e JOIN workflow_runs w ON w.id = e.run_id \
         WHERE w.finished_at IS NOT NULL AND e.at < $1 LIMIT $2)",
        cut(keep.workflows),
    )
    .await?;
    r.alert_deliveries = sweep(
        db,
        "DELETE FROM alert_deliveries WHERE id IN (SELECT id FROM alert_deliveries WHERE status IN ('delivered', 'failed') AND updated_at < $1 LIMIT $2)",
        cut(keep.alerts),
    )
    .await?;
    r.alerts = sweep(
        db,
        "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE status = 'resolved' AND incident_id IS NULL AND resolved_at < $1 LIMIT $2)",
        cut(keep.alerts),
    )
    .await?;
    r.policy_decisions = sweep(
        db,
        "DELETE FROM policy_decisions WHERE id IN (SELECT id FROM policy_decisions WHERE decided_at < $1 LIMIT $2)",
        cut(keep.policy_decisions),
    )
    .await?;
    r.healing_events = sweep(
        db,
        "DELETE FROM healing_events WHERE id IN (SELECT id FROM healing_events WHERE at < $1 LIMIT $2)",
        cut(keep.healing_events),
    )
    .await?;
    Ok(r)
}

/// `ops.cleanup`: [`run`] with the default retention; a run that removed something is a
/// healing event.
pub struct CleanupJob {
    pub keep: Retention,
}

#[async_trait::async_trait]
impl JobHandler for CleanupJob {
    async fn run(&self, ctx: &JobContext, _payload: &Value) -> Result<(), JobError> {
        let now = ctx.clock.now_ms();
        let removed = run(&ctx.db, now, self.keep).await?;
        let text = removed.to_string();
        if removed.total() > 0 {
            crate::healing::record(&ctx.db, now, "", "cleanup", "cleaned", "done", &text).await?;
        }
        ctx.report(text);
        Ok(())
    }
}
