//! A durable job table: typed jobs with run-at times, retries with exponential backoff and a
//! dead state after `max_attempts`. Workers claim jobs in batches with one atomic statement (see
//! [`claim_jobs`]); a job whose worker died is reclaimed when its lock expires.

use lsn_core::SharedClock;
use lsn_db::{Db, RowExt};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: Value,
    pub run_at: Option<i64>,
    pub max_attempts: i64,
    pub priority: i64,
    pub dedupe_key: Option<String>,
    pub schedule: Option<String>,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: Value) -> Self {
        Self { kind: kind.into(), payload, run_at: None, max_attempts: 8, priority: 100, dedupe_key: None, schedule: None }
    }

    pub fn at(mut self, run_at_ms: i64) -> Self {
        self.run_at = Some(run_at_ms);
        self
    }

    pub fn max_attempts(mut self, n: i64) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    pub fn priority(mut self, p: i64) -> Self {
        self.priority = p;
        self
    }

    /// A job with the same key is enqueued once: later attempts to enqueue it do nothing.
    pub fn dedupe(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    pub fn schedule(mut self, name: impl Into<String>) -> Self {
        self.schedule = Some(name.into());
        self
    }
}

/// The insert for `n` jobs (nine values each; the jobs whose dedupe key exists are skipped).
fn insert_jobs_sql(n: usize) -> String {
    let rows: Vec<String> = (0..n)
        .map(|i| {
            let b = 1 + i * 9;
            format!(
                "(${b}, ${}, ${}, 'queued', ${}, ${}, 0, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 8
            )
        })
        .collect();
    format!(
        "INSERT INTO jobs (id, kind, payload, status, priority, run_at, attempts, max_attempts, schedule, dedupe_key, created_at, updated_at) VALUES {} \
         ON CONFLICT (dedupe_key) DO NOTHING",
        rows.join(", ")
    )
}

/// Binds one job's nine values, in the order of [`insert_jobs_sql`].
fn bind_job<'q>(q: lsn_db::Query<'q>, id: String, job: &'q NewJob, now_ms: i64) -> lsn_db::Query<'q> {
    q.bind(id)
        .bind(&job.kind)
        .bind(job.payload.to_string())
        .bind(job.priority)
        .bind(job.run_at.unwrap_or(now_ms))
        .bind(job.max_attempts)
        .bind(&job.schedule)
        .bind(&job.dedupe_key)
        .bind(now_ms)
}

/// Enqueues `job` on any executor (a transaction, to tie it to a business change, or a pool).
/// Returns `None` when a job with the same dedupe key already exists.
pub async fn enqueue<'c, E>(ex: E, job: &NewJob, now_ms: i64) -> Result<Option<String>, lsn_db::Error>
where
    E: lsn_db::Executor<'c>,
{
    let id = lsn_core::ids::new_id();
    let sql = insert_jobs_sql(1);
    let res = bind_job(lsn_db::query(&sql), id.clone(), job, now_ms).execute(ex).await?;
    Ok((res.rows_affected() == 1).then_some(id))
}

/// Enqueues several jobs with one statement inside `tx` (jobs whose dedupe key exists are skipped).
pub async fn enqueue_many(tx: &mut lsn_db::Tx, jobs: &[NewJob], now_ms: i64) -> Result<(), lsn_db::Error> {
    if jobs.is_empty() {
        return Ok(());
    }
    let sql = insert_jobs_sql(jobs.len());
    let mut q = lsn_db::query(&sql);
    for job in jobs {
        q = bind_job(q, lsn_core::ids::new_id(), job, now_ms);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Try again later (with backoff) unless attempts are used up.
    #[error("{0}")]
    Retry(String),
    /// Retrying cannot help: the job goes straight to `dead`.
    #[error("{0}")]
    Fail(String),
    /// Try again no sooner than `after_ms` from now (a provider's `Retry-After`), unless
    /// attempts are used up.
    #[error("{reason} (retry after {after_ms} ms)")]
    RetryAfter { after_ms: i64, reason: String },
}

impl From<lsn_db::Error> for JobError {
    fn from(e: lsn_db::Error) -> Self {
        JobError::Retry(format!("database: {e}"))
    }
}

impl From<anyhow::Error> for JobError {
    fn from(e: anyhow::Error) -> Self {
        JobError::Retry(format!("{e:#}"))
    }
}

pub struct JobContext {
    pub db: Db,
    pub clock: SharedClock,
    pub job_id: String,
    pub attempt: i64,
    output: std::sync::Mutex<Option<String>>,
}

impl JobContext {
    pub fn new(db: Db, clock: SharedClock, job_id: String, attempt: i64) -> Self {
        Self { db, clock, job_id, attempt, output: std::sync::Mutex::new(None) }
    }

    /// What the run did, in a line for a person (`3 reminders sent`): kept with the run in its
    /// history (the last report of a run wins; at most 500 characters).
    pub fn report(&self, text: impl Into<String>) {
        let text: String = text.into().chars().take(500).collect();
        *self.output.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
    }

    fn take_output(&self) -> Option<String> {
        self.output.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

#[async_trait::async_trait]
pub trait JobHandler: Send + Sync {
    async fn run(&self, ctx: &JobContext, payload: &Value) -> Result<(), JobError>;
}

/// Job kinds and the code that runs them.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, kind: impl Into<String>, handler: Arc<dyn JobHandler>) -> &mut Self {
        self.handlers.insert(kind.into(), handler);
        self
    }

    pub fn contains(&self, kind: &str) -> bool {
        self.handlers.contains_key(kind)
    }

    pub fn kinds(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }
}

/// The delay before attempt `attempts + 1`: 10 s doubling per attempt, capped at one hour.
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 20) as u32 - 1;
    (10_000i64.saturating_mul(2i64.saturating_pow(exp))).min(3_600_000)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Retrying { next_run_at: i64 },
    Dead,
}

#[derive(Debug, Clone)]
pub struct RunReport {
    pub job_id: String,
    pub kind: String,
    pub outcome: Outcome,
    pub error: Option<String>,
}

#[derive(Clone)]
pub struct Worker {
    db: Db,
    registry: Arc<Registry>,
    clock: SharedClock,
    id: String,
    lock_ms: i64,
}

impl Worker {
    pub fn new(db: Db, registry: Registry, clock: SharedClock) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into());
        Self {
            db,
            registry: Arc::new(registry),
            clock,
            id: format!("{host}:{}:{}", std::process::id(), &lsn_core::ids::random_token(4)),
            lock_ms: 5 * 60_000,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Puts back jobs whose worker stopped without finishing them (lock expired).
    pub async fn reclaim_stale(&self) -> Result<u64, lsn_db::Error> {
        let now = self.clock.now_ms();
        let r = lsn_db::query("UPDATE jobs SET status = 'queued', locked_by = NULL, locked_until = NULL, updated_at = $1 WHERE status = 'running' AND locked_until < $1")
            .bind(now)
            .execute(self.db.write())
            .await?;
        Ok(r.rows_affected())
    }

    /// At start-up on embedded SQLite: every job still marked running was claimed by a process
    /// that died (one process serves an SQLite file), so it goes back to the queue at once
    /// instead of waiting for its lock to expire. On PostgreSQL other nodes may be running jobs:
    /// their locks are left to expire ([`Worker::reclaim_stale`]).
    pub async fn reclaim_orphans(&self) -> Result<u64, lsn_db::Error> {
        if self.db.backend() != lsn_db::Backend::Sqlite {
            return Ok(0);
        }
        let now = self.clock.now_ms();
        let r = lsn_db::query(
            "UPDATE jobs SET status = 'queued', locked_by = NULL, locked_until = NULL, updated_at = $1 WHERE status = 'running'",
        )
        .bind(now)
        .execute(self.db.write())
        .await?;
        Ok(r.rows_affected())
    }

    /// Claims and runs one due job, if there is one.
    pub async fn run_one(&self) -> Result<Option<RunReport>, lsn_db::Error> {
        Ok(self.run_batch(1).await?.pop())
    }

    /// Claims up to `limit` due jobs with one statement, runs them in order and records every
    /// outcome in one transaction (a busy queue costs a few statements per batch, not per job).
    pub async fn run_batch(&self, limit: i64) -> Result<Vec<RunReport>, lsn_db::Error> {
        let now = self.clock.now_ms();
        let rows = lsn_db::query(claim_jobs(self.db.backend()))
            .bind(&self.id)
            .bind(now + self.lock_ms)
            .bind(now)
            .bind(limit.max(1))
            .fetch_all(self.db.write())
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            claimed.push(Claimed {
                id: row.try_get(0)?,
                kind: row.try_get(1)?,
                payload: row.try_get(2)?,
                attempts: row.try_get(3)?,
                max_attempts: row.try_get(4)?,
                schedule: row.try_get(5)?,
                priority: row.try_get(6)?,
                run_at: row.try_get(7)?,
            });
        }
        // The claim's order (priority, then due time) is the order of the results.
        claimed.sort_by(|a, b| (a.priority, a.run_at, &a.id).cmp(&(b.priority, b.run_at, &b.id)));
        // One after another, in that order: events about the same thing keep their sequence.
        let mut results = Vec::with_capacity(claimed.len());
        for c in &claimed {
            results.push(self.execute(c).await);
        }
        let finished = self.clock.now_ms();
        let mut done = Vec::with_capacity(claimed.len());
        for (c, (result, output)) in claimed.into_iter().zip(results) {
            let (outcome, error) = match result {
                Ok(()) => (Outcome::Succeeded, None),
                Err(JobError::Retry(e)) if c.attempts < c.max_attempts => {
                    (Outcome::Retrying { next_run_at: finished + backoff_ms(c.attempts) }, Some(e))
                }
                Err(JobError::RetryAfter { after_ms, reason }) if c.attempts < c.max_attempts => {
                    let wait = after_ms.clamp(1, 3_600_000);
                    (Outcome::Retrying { next_run_at: finished + wait }, Some(format!("{reason} (retry after {wait} ms)")))
                }
                Err(e) => (Outcome::Dead, Some(e.to_string())),
            };
            if let Some(e) = &error {
                tracing::warn!(job_id = %c.id, kind = %c.kind, attempt = c.attempts, outcome = outcome.label(), "job failed: {e}");
            }
            done.push((c, outcome, error, output));
        }
        let batch: Arc<Vec<Finished>> = Arc::new(done);
        let (rec, worker) = (batch.clone(), self.id.clone());
        self.db
            .transaction(move |tx| {
                let (batch, worker) = (rec.clone(), worker.clone());
                Box::pin(async move {
                    record_outcomes(tx, &batch, now, finished, &worker).await?;
                    Ok::<_, lsn_db::Error>(())
                })
            })
            .await?;
        Ok(batch
            .iter()
            .map(|(c, outcome, error, _)| {
                metrics_job(&c.kind, outcome.label());
                RunReport { job_id: c.id.clone(), kind: c.kind.clone(), outcome: outcome.clone(), error: error.clone() }
            })
            .collect())
    }

    /// Runs one job: its result and what it reported.
    async fn execute(&self, c: &Claimed) -> (Result<(), JobError>, Option<String>) {
        let Some(h) = self.registry.handlers.get(&c.kind) else {
            return (Err(JobError::Fail(format!("no handler for job kind {:?}", c.kind))), None);
        };
        let p = match serde_json::from_str::<Value>(&c.payload) {
            Ok(p) => p,
            Err(e) => return (Err(JobError::Fail(format!("payload is not JSON: {e}"))), None),
        };
        let ctx = JobContext::new(self.db.clone(), self.clock.clone(), c.id.clone(), c.attempts);
        let lock = Duration::from_millis(self.lock_ms.max(1000) as u64 - 500);
        let result = match tokio::time::timeout(lock, h.run(&ctx, &p)).await {
            Ok(r) => r,
            Err(_) => Err(JobError::Retry("timed out".into())),
        };
        (result, ctx.take_output())
    }

    /// Runs due jobs until none is left; for tests and the CLI.
    pub async fn run_until_idle(&self) -> Result<Vec<RunReport>, lsn_db::Error> {
        let mut out = Vec::new();
        loop {
            let done = self.run_batch(32).await?;
            if done.is_empty() || out.len() > 10_000 {
                break;
            }
            out.extend(done);
        }
        Ok(out)
    }

    /// Runs jobs until `shutdown` resolves; a job already running is finished first.
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                break;
            }
            match self.run_batch(32).await {
                Ok(done) if !done.is_empty() => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!("job worker: {e}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

/// A job run: the job, its outcome, its error and what it reported.
type Finished = (Claimed, Outcome, Option<String>, Option<String>);

struct Claimed {
    id: String,
    kind: String,
    payload: String,
    attempts: i64,
    max_attempts: i64,
    schedule: Option<String>,
    priority: i64,
    run_at: i64,
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Retrying { .. } => "failed",
            Outcome::Dead => "dead",
        }
    }
}

/// Writes a batch's outcomes: one statement for all the successes, one per failure, and one
/// multi-row insert into the run history.
async fn record_outcomes(tx: &mut lsn_db::Tx, batch: &[Finished], started: i64, finished: i64, worker: &str) -> Result<(), lsn_db::Error> {
    let ok: Vec<&str> = batch.iter().filter(|(_, o, _, _)| *o == Outcome::Succeeded).map(|(c, _, _, _)| c.id.as_str()).collect();
    if !ok.is_empty() {
        let sql = format!(
            "UPDATE jobs SET status = 'succeeded', finished_at = $1, last_error = NULL, locked_by = NULL, locked_until = NULL, updated_at = $1 WHERE id IN ({})",
            placeholders(2, ok.len(), 1)
        );
        let mut q = lsn_db::query(&sql).bind(finished);
        for id in &ok {
            q = q.bind(*id);
        }
        q.execute(&mut **tx).await?;
    }
    for (c, outcome, error, _) in batch.iter().filter(|(_, o, _, _)| *o != Outcome::Succeeded) {
        let (status, run_at, finished_at) = match outcome {
            Outcome::Retrying { next_run_at } => ("queued", Some(*next_run_at), None),
            _ => ("dead", None, Some(finished)),
        };
        lsn_db::query(
            "UPDATE jobs SET status = $1, run_at = COALESCE($2, run_at), finished_at = $3, last_error = $4, locked_by = NULL, locked_until = NULL, updated_at = $5 WHERE id = $6",
        )
        .bind(status)
        .bind(run_at)
        .bind(finished_at)
        .bind(error)
        .bind(finished)
        .bind(&c.id)
        .execute(&mut **tx)
        .await?;
    }
    let sql = format!(
        "INSERT INTO job_runs (id, job_id, kind, schedule, attempt, started_at, finished_at, outcome, error, worker, output) VALUES {}",
        rows(batch.len(), 11)
    );
    let mut q = lsn_db::query(&sql);
    for (c, outcome, error, output) in batch {
        q = q
            .bind(lsn_core::ids::new_id())
            .bind(&c.id)
            .bind(&c.kind)
            .bind(&c.schedule)
            .bind(c.attempts)
            .bind(started)
            .bind(finished)
            .bind(outcome.label())
            .bind(error)
            .bind(worker)
            .bind(output);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// `($1, …, $cols), ($cols+1, …), …`: the `VALUES` of a multi-row insert of `rows` rows.
pub fn rows(rows: usize, cols: usize) -> String {
    (0..rows).map(|i| format!("({})", placeholders(1 + i * cols, cols, 1))).collect::<Vec<_>>().join(", ")
}

/// `$first, $first+step, …` (`count` placeholders), for statements built for a batch.
pub fn placeholders(first: usize, count: usize, step: usize) -> String {
    (0..count).map(|i| format!("${}", first + i * step)).collect::<Vec<_>>().join(", ")
}

fn metrics_job(kind: &str, outcome: &'static str) {
    tracing::debug!(kind, outcome, "job finished");
}

/// Queue depth by status, for `/metrics` and `lsn jobs list`.
pub async fn queue_depth(db: &Db) -> Result<Vec<(String, i64)>, lsn_db::Error> {
    let rows = lsn_db::query("SELECT status, CAST(count(*) AS BIGINT) FROM jobs GROUP BY status ORDER BY status")
        .fetch_all(lsn_db::Slow(db.read()))
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// Claims up to `$4` due jobs, most urgent first. SQLite has one writer, so the subquery cannot
/// race; PostgreSQL skips rows another worker has locked instead of waiting on them.
/// Binds: $1 worker, $2 lock-until, $3 now, $4 batch size.
fn claim_jobs(backend: lsn_db::Backend) -> &'static str {
    match backend {
        lsn_db::Backend::Sqlite => {
            "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs WHERE status = 'queued' AND run_at <= $3 ORDER BY priority, run_at LIMIT $4) \
             RETURNING id, kind, payload, attempts, max_attempts, schedule, priority, run_at"
        }
        lsn_db::Backend::Postgres => {
            "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs WHERE status = 'queued' AND run_at <= $3 ORDER BY priority, run_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING id, kind, payload, attempts, max_attempts, schedule, priority, run_at"
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(super::backoff_ms(1), 10_000);
        assert_eq!(super::backoff_ms(2), 20_000);
        assert_eq!(super::backoff_ms(4), 80_000);
        assert_eq!(super::backoff_ms(30), 3_600_000);
    }
}
