//! Durable workflows: named, versioned definitions of steps with dependencies (independent steps
//! run in parallel), per-step retries with exponential backoff and jitter, timeouts, waits for a
//! person's decision or an outside event, and compensation in reverse order when a step fails
//! for good.
//!
//! Every step of a run is a row of `workflow_steps`, and that row is also the unit of work: the
//! engine claims due rows in batches with one statement (as the job queue does), runs them
//! concurrently, and records each outcome in one transaction per batch that also makes the
//! dependent steps due. A step that finished is never run again, because its completion is
//! recorded before anything after it starts. A step whose process died while it ran is claimed
//! again once its lock is put back (at once on SQLite, whose one process died; when the lock
//! expires on PostgreSQL), so a side effect outside the database must be idempotent under
//! [`StepCx::key`]: the same key on every attempt of that step, which the provider uses to apply
//! the effect once (Stripe's and Wise's idempotency keys, a unique key in a table).
//!
//! A run keeps the version it started with: the engine holds every registered version and runs
//! each step with the code of its run's version. A version's plan (its steps and their
//! dependencies) is recorded the first time it runs; changing the plan of a version while runs
//! of it are unfinished is refused at start, so a deploy cannot strand a run half-way through a
//! graph that no longer exists (Temporal's non-determinism errors, in a form caught before any
//! run is touched).

use lsn_core::SharedClock;
use lsn_db::{Db, RowExt, Tx};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify, Semaphore};

/// What a step's code returns when it did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StepError {
    /// A transient failure: the step runs again after its backoff, until its attempts are used up.
    #[error("{0}")]
    Retry(String),
    /// Retrying cannot help: the run fails now and its done steps are compensated.
    #[error("{0}")]
    Fail(String),
}

impl From<lsn_db::Error> for StepError {
    fn from(e: lsn_db::Error) -> Self {
        StepError::Retry(format!("database: {e}"))
    }
}

impl From<anyhow::Error> for StepError {
    fn from(e: anyhow::Error) -> Self {
        StepError::Retry(format!("{e:#}"))
    }
}

type StepFuture = Pin<Box<dyn Future<Output = Result<Value, StepError>> + Send>>;
type StepFn = Arc<dyn Fn(Arc<StepCx>) -> StepFuture + Send + Sync>;

/// How often and how patiently a step is retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    /// Attempts in all (1: no retry).
    pub max_attempts: i64,
    /// The delay before the second attempt; it doubles per attempt up to `max_delay`.
    pub initial: Duration,
    pub max_delay: Duration,
    /// Each delay is spread by ± this fraction at random, so steps that failed together do not
    /// all come back together.
    pub jitter: f64,
}

impl Default for Retry {
    fn default() -> Self {
        Self { max_attempts: 5, initial: Duration::from_secs(1), max_delay: Duration::from_secs(300), jitter: 0.2 }
    }
}

impl Retry {
    pub fn attempts(max_attempts: i64) -> Self {
        Self { max_attempts: max_attempts.max(1), ..Self::default() }
    }

    /// The delay after failed attempt `attempt` (1-based), with `unit` in `[0, 1)` for the jitter.
    pub fn delay(&self, attempt: i64, unit: f64) -> Duration {
        let exp = attempt.clamp(1, 30) as u32 - 1;
        let base = self.initial.as_millis().saturating_mul(1u128 << exp.min(40)).min(self.max_delay.as_millis()) as f64;
        let spread = self.jitter.clamp(0.0, 1.0) * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Duration::from_millis((base * (1.0 + spread)).max(0.0) as u64)
    }
}

/// What a wait does when its time is up without a signal.
#[derive(Debug, Clone)]
pub enum OnTimeout {
    /// The run fails and is compensated.
    Fail,
    /// The wait finishes with this value as if it had been signalled (a default decision).
    Continue(Value),
}

#[derive(Clone)]
enum Body {
    Run(StepFn),
    Wait { timeout: Option<Duration>, on_timeout: OnTimeout },
}

/// A step of a definition.
#[derive(Clone)]
pub struct Step {
    pub name: &'static str,
    pub after: Vec<&'static str>,
    body: Body,
    pub retry: Retry,
    pub timeout: Duration,
    undo: Option<StepFn>,
}

fn boxed<F, Fut>(f: F) -> StepFn
where
    F: Fn(Arc<StepCx>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, StepError>> + Send + 'static,
{
    Arc::new(move |cx| Box::pin(f(cx)))
}

/// The longest a step may run before it counts as timed out.
pub const MAX_STEP_TIMEOUT: Duration = Duration::from_secs(600);

/// How long a claim lasts unless its node renews it: a running engine renews its claims every
/// [`HEARTBEAT`], so the steps of a node that died are taken over within this time.
pub const LOCK: Duration = Duration::from_secs(15);
pub const HEARTBEAT: Duration = Duration::from_secs(5);

impl Step {
    /// A step that runs `f` (its returned value is its output, which later steps read).
    pub fn run<F, Fut>(name: &'static str, f: F) -> Self
    where
        F: Fn(Arc<StepCx>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, StepError>> + Send + 'static,
    {
        Self { name, after: Vec::new(), body: Body::Run(boxed(f)), retry: Retry::default(), timeout: Duration::from_secs(30), undo: None }
    }

    /// A step that waits for [`Engine::signal`] with its name (a person's decision, a webhook);
    /// the signal's payload is its output.
    pub fn wait(name: &'static str) -> Self {
        Self {
            name,
            after: Vec::new(),
            body: Body::Wait { timeout: None, on_timeout: OnTimeout::Fail },
            retry: Retry::attempts(1),
            timeout: Duration::from_secs(30),
            undo: None,
        }
    }

    pub fn after(mut self, steps: &[&'static str]) -> Self {
        self.after.extend_from_slice(steps);
        self
    }

    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// How long one attempt may take (at most [`MAX_STEP_TIMEOUT`]); a wait's time to a signal.
    pub fn timeout(mut self, t: Duration) -> Self {
        match &mut self.body {
            Body::Wait { timeout, .. } => *timeout = Some(t),
            Body::Run(_) => self.timeout = t.min(MAX_STEP_TIMEOUT),
        }
        self
    }

    /// For a wait: finish with `value` when its time is up instead of failing the run.
    pub fn on_timeout(mut self, then: OnTimeout) -> Self {
        if let Body::Wait { on_timeout, .. } = &mut self.body {
            *on_timeout = then;
        }
        self
    }

    /// The compensation: what undoes this step's effect if a later step fails for good (it sees
    /// the step's own output through [`StepCx::output_of`]). Compensations run one at a time, the
    /// last step done first.
    pub fn undo<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Arc<StepCx>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, StepError>> + Send + 'static,
    {
        self.undo = Some(boxed(f));
        self
    }

    fn kind(&self) -> &'static str {
        match self.body {
            Body::Run(_) => "action",
            Body::Wait { .. } => "wait",
        }
    }
}

/// A named, versioned workflow definition.
#[derive(Clone)]
pub struct Workflow {
    pub name: &'static str,
    pub version: i64,
    pub description: &'static str,
    steps: Vec<Step>,
}

impl Workflow {
    pub fn new(name: &'static str, version: i64, description: &'static str) -> Self {
        Self { name, version, description, steps: Vec::new() }
    }

    pub fn step(mut self, s: Step) -> Self {
        self.steps.push(s);
        self
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    fn get(&self, step: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == step)
    }

    /// The steps that wait on `step`.
    fn dependents(&self, step: &str) -> Vec<&'static str> {
        self.steps.iter().filter(|s| s.after.contains(&step)).map(|s| s.name).collect()
    }

    /// The plan recorded for the version: each step, its kind, whether it has a compensation and
    /// what it waits on.
    pub fn plan(&self) -> String {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|s| serde_json::json!({"step": s.name, "kind": s.kind(), "undo": s.undo.is_some(), "after": s.after}))
            .collect();
        Value::Array(steps).to_string()
    }

    /// What is wrong with the definition: no steps, a step named twice, a dependency on no step,
    /// a cycle.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let who = format!("workflow {} v{}", self.name, self.version);
        if self.steps.is_empty() {
            out.push(format!("{who} has no steps"));
        }
        if self.version < 1 {
            out.push(format!("{who}: versions start at 1"));
        }
        let mut seen = BTreeSet::new();
        for s in &self.steps {
            if !seen.insert(s.name) {
                out.push(format!("{who} names step {} twice", s.name));
            }
            for (i, d) in s.after.iter().enumerate() {
                if s.after[..i].contains(d) {
                    out.push(format!("{who}: step {} names {d} twice in what it waits on", s.name));
                }
                if self.get(d).is_none() {
                    out.push(format!("{who}: step {} waits on {d}, which is no step", s.name));
                }
                if *d == s.name {
                    out.push(format!("{who}: step {} waits on itself", s.name));
                }
            }
        }
        // Kahn's algorithm: whatever is left unordered sits on a cycle.
        let mut left: BTreeMap<&str, usize> =
            self.steps.iter().map(|s| (s.name, s.after.iter().filter(|d| self.get(d).is_some()).count())).collect();
        let mut ready: Vec<&str> = left.iter().filter(|(_, n)| **n == 0).map(|(s, _)| *s).collect();
        while let Some(s) = ready.pop() {
            left.remove(s);
            for d in self.dependents(s) {
                if let Some(n) = left.get_mut(d) {
                    *n -= 1;
                    if *n == 0 {
                        ready.push(d);
                    }
                }
            }
        }
        if !left.is_empty() {
            out.push(format!("{who} has a cycle through {}", left.keys().copied().collect::<Vec<_>>().join(", ")));
        }
        out
    }
}

/// What a step's code sees.
pub struct StepCx {
    pub db: Db,
    pub clock: SharedClock,
    pub run_id: String,
    pub workflow: &'static str,
    pub version: i64,
    pub step: &'static str,
    /// `do`, or `undo` while the step's compensation runs.
    pub phase: &'static str,
    pub attempt: i64,
    pub input: Arc<Value>,
    outputs: BTreeMap<String, Value>,
}

impl StepCx {
    /// The key of this step's side effect: the same on every attempt of the step (and distinct
    /// for its compensation), for a provider's idempotency key or a unique column.
    pub fn key(&self) -> String {
        if self.phase == "undo" {
            format!("wf:{}:{}:undo", self.run_id, self.step)
        } else {
            format!("wf:{}:{}", self.run_id, self.step)
        }
    }

    /// The output of a step already done in this run (`Null` for one not done).
    pub fn output_of(&self, step: &str) -> &Value {
        self.outputs.get(step).unwrap_or(&Value::Null)
    }
}

/// Errors of starting, signalling and steering runs, each with a stable code.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("no workflow is named {0:?}")]
    UnknownWorkflow(String),
    #[error("no workflow run {0:?}")]
    UnknownRun(String),
    #[error("the run has no step {0:?} that waits for a signal")]
    UnknownWait(String),
    #[error("the wait {0:?} is over: it was signalled already or its time is up")]
    AlreadySignalled(String),
    #[error("the run is {0}, so it takes no signal")]
    RunFinished(String),
    #[error("the run is {0}: {1}")]
    WrongState(String, &'static str),
    #[error("the input is too large ({0} bytes; at most {MAX_INPUT} bytes)")]
    TooLarge(usize),
    #[error("{0}")]
    Definitions(String),
    #[error(transparent)]
    Db(#[from] lsn_db::Error),
}

impl lsn_db::TxError for WorkflowError {
    fn as_db(&self) -> Option<&lsn_db::Error> {
        match self {
            WorkflowError::Db(e) => Some(e),
            _ => None,
        }
    }
}

lsn_core::error_codes! {
    /// Why a workflow request was refused (documented in `docs/errors.md`).
    pub enum Code {
        UnknownWorkflow = ("unknown_workflow", NOT_FOUND),
        NotFound = ("not_found", NOT_FOUND),
        UnknownWait = ("unknown_wait", NOT_FOUND),
        AlreadySignalled = ("already_signalled", CONFLICT),
        RunFinished = ("run_finished", CONFLICT),
        WrongState = ("wrong_state", CONFLICT),
        PayloadTooLarge = ("payload_too_large", PAYLOAD_TOO_LARGE),
        DefinitionsChanged = ("definitions_changed", INTERNAL_SERVER_ERROR),
        Internal = ("internal", INTERNAL_SERVER_ERROR),
    }
}

impl WorkflowError {
    pub fn code(&self) -> Code {
        match self {
            WorkflowError::UnknownWorkflow(_) => Code::UnknownWorkflow,
            WorkflowError::UnknownRun(_) => Code::NotFound,
            WorkflowError::UnknownWait(_) => Code::UnknownWait,
            WorkflowError::AlreadySignalled(_) => Code::AlreadySignalled,
            WorkflowError::RunFinished(_) => Code::RunFinished,
            WorkflowError::WrongState(..) => Code::WrongState,
            WorkflowError::TooLarge(_) => Code::PayloadTooLarge,
            WorkflowError::Definitions(_) => Code::DefinitionsChanged,
            WorkflowError::Db(_) => Code::Internal,
        }
    }
}

/// The largest input or signal payload, in bytes of JSON.
pub const MAX_INPUT: usize = 64 * 1024;

/// A wait without a timeout is due in about a century (when nothing will claim it).
const FOREVER_MS: i64 = 100 * 365 * 24 * 3_600_000;

/// Every registered definition, by name and version.
#[derive(Clone, Default)]
pub struct Definitions {
    by_name: HashMap<&'static str, BTreeMap<i64, Arc<Workflow>>>,
}

impl Definitions {
    pub fn new(workflows: impl IntoIterator<Item = Workflow>) -> Self {
        let mut d = Definitions::default();
        for w in workflows {
            d.by_name.entry(w.name).or_default().insert(w.version, Arc::new(w));
        }
        d
    }

    pub fn get(&self, name: &str, version: i64) -> Option<&Arc<Workflow>> {
        self.by_name.get(name)?.get(&version)
    }

    /// The newest version of `name` (what a new run starts).
    pub fn latest(&self, name: &str) -> Option<&Arc<Workflow>> {
        self.by_name.get(name)?.values().next_back()
    }

    pub fn all(&self) -> Vec<&Arc<Workflow>> {
        let mut all: Vec<&Arc<Workflow>> = self.by_name.values().flat_map(|v| v.values()).collect();
        all.sort_by_key(|w| (w.name, w.version));
        all
    }
}

/// Starts a run of `def` inside `tx` (so a business change and the workflow it begins commit
/// together). With a `key`, a second start with the same key starts nothing and returns the
/// first run's id.
pub async fn start_in(tx: &mut Tx, def: &Workflow, input: &Value, key: Option<&str>, now: i64) -> Result<String, WorkflowError> {
    let input_text = input.to_string();
    if input_text.len() > MAX_INPUT {
        return Err(WorkflowError::TooLarge(input_text.len()));
    }
    if let Some(k) = key {
        if let Some(r) = lsn_db::query("SELECT id FROM workflow_runs WHERE run_key = $1").bind(k).fetch_optional(&mut **tx).await? {
            return Ok(r.try_get(0)?);
        }
    }
    let id = lsn_core::ids::new_id();
    lsn_db::query(
        "INSERT INTO workflow_runs (id, name, version, run_key, status, input, steps_left, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'running', $5, $6, $7, $7)",
    )
    .bind(&id)
    .bind(def.name)
    .bind(def.version)
    .bind(key)
    .bind(&input_text)
    .bind(def.steps.len() as i64)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let sql = format!(
        "INSERT INTO workflow_steps (id, run_id, step, kind, has_undo, status, deps_left, run_at, wait_ms) VALUES {}",
        crate::jobs::rows(def.steps.len(), 9)
    );
    let mut q = lsn_db::query(&sql);
    for s in &def.steps {
        let wait_ms = match &s.body {
            Body::Wait { timeout, .. } => timeout.map_or(FOREVER_MS, |t| t.as_millis().min(FOREVER_MS as u128) as i64),
            Body::Run(_) => 0,
        };
        let (status, run_at) = match (s.after.is_empty(), &s.body) {
            (false, _) => ("pending", now),
            (true, Body::Wait { .. }) => ("waiting", now + wait_ms),
            (true, Body::Run(_)) => ("queued", now),
        };
        q = q
            .bind(lsn_core::ids::new_id())
            .bind(&id)
            .bind(s.name)
            .bind(s.kind())
            .bind(i64::from(s.undo.is_some()))
            .bind(status)
            .bind(s.after.len() as i64)
            .bind(run_at)
            .bind(wait_ms);
    }
    q.execute(&mut **tx).await?;
    Ok(id)
}

/// Delivers `payload` to the wait `step` of the run `run` (its id, or the key it was started
/// with). A wait not reached yet keeps the signal until it is; a second signal is refused.
pub async fn signal_in(tx: &mut Tx, run: &str, step: &str, payload: &Value, now: i64) -> Result<String, WorkflowError> {
    let text = payload.to_string();
    if text.len() > MAX_INPUT {
        return Err(WorkflowError::TooLarge(text.len()));
    }
    let row = lsn_db::query("SELECT id, status FROM workflow_runs WHERE id = $1 OR run_key = $1")
        .bind(run)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| WorkflowError::UnknownRun(run.to_string()))?;
    let (run_id, status): (String, String) = (row.try_get(0)?, row.try_get(1)?);
    if status != "running" {
        return Err(WorkflowError::RunFinished(status));
    }
    let wait = lsn_db::query("SELECT signal, status FROM workflow_steps WHERE run_id = $1 AND step = $2 AND kind = 'wait'")
        .bind(&run_id)
        .bind(step)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| WorkflowError::UnknownWait(step.to_string()))?;
    let (signal, step_status): (Option<String>, String) = (wait.try_get(0)?, wait.try_get(1)?);
    if signal.is_some() || !matches!(step_status.as_str(), "pending" | "waiting") {
        return Err(WorkflowError::AlreadySignalled(step.to_string()));
    }
    lsn_db::query(
        "UPDATE workflow_steps SET signal = $1, \
         status = CASE WHEN status = 'waiting' THEN 'queued' ELSE status END, \
         run_at = CASE WHEN status = 'waiting' THEN $2 ELSE run_at END \
         WHERE run_id = $3 AND step = $4",
    )
    .bind(&text)
    .bind(now)
    .bind(&run_id)
    .bind(step)
    .execute(&mut **tx)
    .await?;
    event(tx, &run_id, Some(step), now, "signal", Some(&text)).await?;
    Ok(run_id)
}

/// Records an event of a run's timeline.
async fn event(tx: &mut Tx, run: &str, step: Option<&str>, at: i64, what: &str, detail: Option<&str>) -> Result<(), lsn_db::Error> {
    let detail: Option<String> = detail.map(|d| d.chars().take(1000).collect());
    lsn_db::query("INSERT INTO workflow_events (id, run_id, step, at, event, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(lsn_core::ids::new_id())
        .bind(run)
        .bind(step)
        .bind(at)
        .bind(what)
        .bind(detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A claimed unit of work: one step's attempt, forward or its compensation.
#[derive(Debug, Clone)]
struct Claimed {
    id: String,
    run_id: String,
    step: String,
    kind: String,
    phase: String,
    attempt: i64,
    signal: Option<String>,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
enum Ended {
    Done(Value),
    Retry(String, i64),
    Failed(String),
}

/// An attempt with its outcome, waiting to be recorded.
#[derive(Clone)]
struct Finished {
    unit: Claimed,
    ended: Ended,
}

/// Runs the workflows of this process: claims due steps, runs them, records their outcomes.
#[derive(Clone)]
pub struct Engine {
    db: Db,
    clock: SharedClock,
    defs: Arc<Definitions>,
    id: String,
    wake: Arc<Notify>,
    /// Steps running at once, at most.
    concurrency: usize,
    lock_ms: i64,
}

impl Engine {
    pub fn new(db: Db, clock: SharedClock, defs: Definitions, worker: &str) -> Self {
        Self {
            db,
            clock,
            defs: Arc::new(defs),
            // Unique per engine: a claim is renewed and recorded by the engine that made it only.
            id: format!("{worker}:wf:{}", lsn_core::ids::random_token(4)),
            wake: Arc::new(Notify::new()),
            concurrency: 256,
            lock_ms: LOCK.as_millis() as i64,
        }
    }

    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    pub fn definitions(&self) -> &Definitions {
        &self.defs
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// At start: records each version's plan (refusing a changed plan while runs of that version
    /// are unfinished) and puts back the steps a dead process had claimed.
    pub async fn prepare(&self) -> Result<u64, WorkflowError> {
        let now = self.clock.now_ms();
        let mut problems = Vec::new();
        for w in self.defs.all() {
            let plan = w.plan();
            lsn_db::query(
                "INSERT INTO workflow_definitions (name, version, plan, first_seen_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name, version) DO NOTHING",
            )
            .bind(w.name)
            .bind(w.version)
            .bind(&plan)
            .bind(now)
            .execute(self.db.write())
            .await?;
            let stored: String = lsn_db::query("SELECT plan FROM workflow_definitions WHERE name = $1 AND version = $2")
                .bind(w.name)
                .bind(w.version)
                .fetch_one(self.db.write())
                .await?
                .try_get(0)?;
            if stored == plan {
                continue;
            }
            let unfinished: i64 = lsn_db::query(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM workflow_runs WHERE name = $1 AND version = $2 AND status IN ('running', 'compensating')",
            )
            .bind(w.name)
            .bind(w.version)
            .fetch_one(self.db.write())
            .await?
            .try_get(0)?;
            if unfinished > 0 {
                problems.push(format!(
                    "workflow {} version {} changed its steps while {unfinished} run(s) of it are unfinished: give the new steps version {}",
                    w.name,
                    w.version,
                    w.version + 1
                ));
            } else {
                lsn_db::query("UPDATE workflow_definitions SET plan = $1 WHERE name = $2 AND version = $3")
                    .bind(&plan)
                    .bind(w.name)
                    .bind(w.version)
                    .execute(self.db.write())
                    .await?;
            }
        }
        if !problems.is_empty() {
            return Err(WorkflowError::Definitions(problems.join("; ")));
        }
        // One process serves an SQLite file, so every step marked running belonged to a process
        // that died. On PostgreSQL another node may be running them: their locks expire instead.
        if self.db.backend() != lsn_db::Backend::Sqlite {
            return Ok(self.reclaim_stale().await?);
        }
        let sql = "UPDATE workflow_steps SET status = 'queued', locked_by = NULL, locked_until = NULL WHERE status = 'running'";
        Ok(lsn_db::query(sql).execute(self.db.write()).await?.rows_affected())
    }

    /// Extends this engine's claims on the steps it is running (see [`LOCK`]).
    pub async fn renew(&self) -> Result<u64, lsn_db::Error> {
        let now = self.clock.now_ms();
        let r = lsn_db::query("UPDATE workflow_steps SET locked_until = $1 WHERE status = 'running' AND locked_by = $2")
            .bind(now + self.lock_ms)
            .bind(&self.id)
            .execute(self.db.write())
            .await?;
        Ok(r.rows_affected())
    }

    /// Puts back the steps whose claim expired (their node died; PostgreSQL, several nodes).
    pub async fn reclaim_stale(&self) -> Result<u64, lsn_db::Error> {
        let now = self.clock.now_ms();
        let r = lsn_db::query(
            "UPDATE workflow_steps SET status = 'queued', locked_by = NULL, locked_until = NULL WHERE status = 'running' AND locked_until < $1",
        )
        .bind(now)
        .execute(self.db.write())
        .await?;
        Ok(r.rows_affected())
    }

    /// Starts a run of the latest version of `name`; see [`start_in`].
    pub async fn start(&self, name: &str, input: Value, key: Option<String>) -> Result<String, WorkflowError> {
        let def = self.defs.latest(name).ok_or_else(|| WorkflowError::UnknownWorkflow(name.to_string()))?.clone();
        let now = self.clock.now_ms();
        let id = self
            .db
            .transaction_with((def, input, key), move |tx, (def, input, key)| {
                Box::pin(async move { start_in(tx, def, input, key.as_deref(), now).await })
            })
            .await?;
        self.wake.notify_one();
        Ok(id)
    }

    /// Delivers a signal; see [`signal_in`].
    pub async fn signal(&self, run: &str, step: &str, payload: Value) -> Result<String, WorkflowError> {
        let now = self.clock.now_ms();
        let id = self
            .db
            .transaction_with((run.to_string(), step.to_string(), payload), move |tx, (run, step, payload)| {
                Box::pin(async move { signal_in(tx, run, step, payload, now).await })
            })
            .await?;
        self.wake.notify_one();
        Ok(id)
    }

    /// A person stops a running run: nothing more runs forward and its done steps are
    /// compensated; it ends `cancelled`.
    pub async fn cancel(&self, run: &str, by: &str) -> Result<(), WorkflowError> {
        let now = self.clock.now_ms();
        self.db
            .transaction_with((run.to_string(), by.to_string()), move |tx, (run, by)| {
                Box::pin(async move {
                    let status = run_status(tx, run).await?;
                    if status != "running" {
                        return Err(WorkflowError::WrongState(status, "only a running run can be cancelled"));
                    }
                    lsn_db::query("UPDATE workflow_runs SET status = 'compensating', error = $1, updated_at = $2 WHERE id = $3")
                        .bind(format!("cancelled by {by}"))
                        .bind(now)
                        .bind(run)
                        .execute(&mut **tx)
                        .await?;
                    cancel_rest(tx, run).await?;
                    event(tx, run, None, now, "cancelled", Some(by)).await?;
                    next_compensation(tx, run, now).await?;
                    Ok(())
                })
            })
            .await?;
        self.wake.notify_one();
        Ok(())
    }

    /// A person tries a failed compensation again (after fixing what made it fail).
    pub async fn retry_compensation(&self, run: &str, by: &str) -> Result<(), WorkflowError> {
        let now = self.clock.now_ms();
        self.db
            .transaction_with((run.to_string(), by.to_string()), move |tx, (run, by)| {
                Box::pin(async move {
                    let status = run_status(tx, run).await?;
                    if status != "compensation_failed" {
                        return Err(WorkflowError::WrongState(status, "only a run whose compensation failed can retry it"));
                    }
                    lsn_db::query(
                        "UPDATE workflow_steps SET status = 'queued', attempts = 0, run_at = $1, error = NULL WHERE run_id = $2 AND status = 'compensation_failed'",
                    )
                    .bind(now)
                    .bind(run)
                    .execute(&mut **tx)
                    .await?;
                    lsn_db::query("UPDATE workflow_runs SET status = 'compensating', updated_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(run)
                        .execute(&mut **tx)
                        .await?;
                    event(tx, run, None, now, "compensation_retried", Some(by)).await?;
                    Ok(())
                })
            })
            .await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Claims up to `limit` due steps.
    async fn claim(&self, limit: usize) -> Result<Vec<Claimed>, lsn_db::Error> {
        let now = self.clock.now_ms();
        let rows = lsn_db::query(claim_steps(self.db.backend()))
            .bind(&self.id)
            .bind(now + self.lock_ms)
            .bind(now)
            .bind(limit as i64)
            .fetch_all(self.db.write())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Claimed {
                    id: r.try_get(0)?,
                    run_id: r.try_get(1)?,
                    step: r.try_get(2)?,
                    kind: r.try_get(3)?,
                    phase: r.try_get(4)?,
                    attempt: r.try_get(5)?,
                    signal: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// The contexts of claimed steps: their runs' definitions, inputs and done outputs (two
    /// reads for the whole batch).
    async fn contexts(&self, units: &[Claimed]) -> Result<HashMap<String, RunCx>, lsn_db::Error> {
        let runs: BTreeSet<&str> = units.iter().map(|u| u.run_id.as_str()).collect();
        let mut out = HashMap::new();
        let list = crate::jobs::placeholders(1, runs.len(), 1);
        let sql = format!("SELECT id, name, version, input FROM workflow_runs WHERE id IN ({list})");
        let mut q = lsn_db::query(&sql);
        for r in &runs {
            q = q.bind(*r);
        }
        for row in q.fetch_all(self.db.read()).await? {
            let (id, name, version, input): (String, String, i64, String) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
            let input = serde_json::from_str(&input).unwrap_or(Value::Null);
            out.insert(id, RunCx { name, version, input: Arc::new(input), outputs: BTreeMap::new() });
        }
        let sql = format!("SELECT run_id, step, output FROM workflow_steps WHERE run_id IN ({list}) AND output IS NOT NULL");
        let mut q = lsn_db::query(&sql);
        for r in &runs {
            q = q.bind(*r);
        }
        for row in q.fetch_all(self.db.read()).await? {
            let (run, step, output): (String, String, String) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            if let Some(cx) = out.get_mut(&run) {
                cx.outputs.insert(step, serde_json::from_str(&output).unwrap_or(Value::Null));
            }
        }
        Ok(out)
    }

    /// Runs one claimed attempt to its outcome (a panic or a timeout is a failed attempt).
    async fn execute(&self, unit: Claimed, run: Option<&RunCx>) -> Finished {
        let Some(run) = run else {
            return Finished { unit, ended: Ended::Failed("the run is gone".into()) };
        };
        let Some(def) = self.defs.get(&run.name, run.version) else {
            // The code of this version is not in this binary: try again in a minute (a node of
            // the older release may still run it) and say so.
            let why = format!("workflow {} version {} is not registered in this process", run.name, run.version);
            return Finished { unit, ended: Ended::Retry(why, self.clock.now_ms() + 60_000) };
        };
        let Some(step) = def.get(&unit.step) else {
            return Finished { unit, ended: Ended::Failed("the step is not in its definition".into()) };
        };
        if unit.kind == "wait" && unit.phase == "do" {
            let ended = match (&unit.signal, &step.body) {
                (Some(s), _) => Ended::Done(serde_json::from_str(s).unwrap_or(Value::Null)),
                (None, Body::Wait { on_timeout: OnTimeout::Continue(v), .. }) => Ended::Done(v.clone()),
                (None, _) => Ended::Failed(format!("no signal for {} in time", step.name)),
            };
            return Finished { unit, ended };
        }
        let f = match (unit.phase.as_str(), &step.body, &step.undo) {
            ("undo", _, Some(u)) => u.clone(),
            ("undo", _, None) => return Finished { unit, ended: Ended::Done(Value::Null) },
            (_, Body::Run(f), _) => f.clone(),
            (_, Body::Wait { .. }, _) => return Finished { unit, ended: Ended::Done(Value::Null) },
        };
        let cx = Arc::new(StepCx {
            db: self.db.clone(),
            clock: self.clock.clone(),
            run_id: unit.run_id.clone(),
            workflow: def.name,
            version: def.version,
            step: step.name,
            phase: if unit.phase == "undo" { "undo" } else { "do" },
            attempt: unit.attempt,
            input: run.input.clone(),
            outputs: run.outputs.clone(),
        });
        let timeout = step.timeout;
        let retry = step.retry;
        let result = tokio::spawn(async move { tokio::time::timeout(timeout, f(cx)).await }).await;
        let ended = match result {
            Ok(Ok(Ok(v))) => Ended::Done(v),
            Ok(Ok(Err(StepError::Fail(e)))) => Ended::Failed(e),
            Ok(Ok(Err(StepError::Retry(e)))) => self.retry_or_fail(&retry, unit.attempt, e),
            Ok(Err(_)) => self.retry_or_fail(&retry, unit.attempt, format!("timed out after {} ms", timeout.as_millis())),
            Err(e) => self.retry_or_fail(&retry, unit.attempt, format!("the step panicked: {e}")),
        };
        Finished { unit, ended }
    }

    fn retry_or_fail(&self, retry: &Retry, attempt: i64, error: String) -> Ended {
        if attempt >= retry.max_attempts {
            return Ended::Failed(format!("{error} (after {attempt} attempts)"));
        }
        let delay = retry.delay(attempt, rand::random::<f64>());
        Ended::Retry(error, self.clock.now_ms() + delay.as_millis() as i64)
    }

    /// Records a batch of outcomes in one transaction.
    async fn record(&self, batch: Vec<Finished>) -> Result<(), lsn_db::Error> {
        let now = self.clock.now_ms();
        let (defs, worker) = (self.defs.clone(), self.id.clone());
        self.db
            .transaction_with(batch, move |tx, batch| {
                let (defs, worker) = (defs.clone(), worker.clone());
                Box::pin(async move {
                    for f in batch {
                        record_one(tx, &defs, &worker, f, now).await?;
                    }
                    Ok::<_, lsn_db::Error>(())
                })
            })
            .await
    }

    /// Claims, runs and records until nothing is due (for tests and the CLI); returns the
    /// attempts run.
    pub async fn run_until_idle(&self) -> Result<usize, lsn_db::Error> {
        let mut n = 0;
        loop {
            let units = self.claim(64).await?;
            if units.is_empty() || n > 100_000 {
                return Ok(n);
            }
            n += units.len();
            let cxs = self.contexts(&units).await?;
            let done = futures::future::join_all(units.into_iter().map(|u| {
                let cx = cxs.get(&u.run_id);
                self.execute(u, cx)
            }))
            .await;
            self.record(done).await?;
        }
    }

    /// Runs workflows until `shutdown` turns true: claims steps as capacity frees up, runs up
    /// to `concurrency` at once, and records finished ones in batches; attempts still running at
    /// shutdown are finished and recorded first.
    pub async fn run(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let (tx, mut rx) = mpsc::unbounded_channel::<Finished>();
        // Renew this engine's claims and take over those of engines that stopped renewing.
        let heartbeat = {
            let engine = self.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(HEARTBEAT).await;
                    if let Err(e) = engine.renew().await {
                        tracing::warn!("workflow engine: renewing claims: {e}");
                    }
                    match engine.reclaim_stale().await {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::warn!(steps = n, "workflow engine: took over steps whose engine stopped renewing its claim");
                            engine.wake.notify_one();
                        }
                        Err(e) => tracing::warn!("workflow engine: reclaiming steps: {e}"),
                    }
                }
            })
        };
        let recorder = {
            let engine = self.clone();
            let permits = permits.clone();
            tokio::spawn(async move {
                while let Some(first) = rx.recv().await {
                    let mut batch = vec![first];
                    while batch.len() < 512 {
                        match rx.try_recv() {
                            Ok(f) => batch.push(f),
                            Err(_) => break,
                        }
                    }
                    let n = batch.len();
                    let mut pending = Some(batch);
                    let mut delay = Duration::from_millis(50);
                    while let Some(b) = pending.take() {
                        // Keep the outcomes until they are written: a database blip must not
                        // lose a finished step (it would run again).
                        let copy = b.clone();
                        if let Err(e) = engine.record(b).await {
                            tracing::warn!("workflow engine: recording {n} outcomes failed, retrying: {e}");
                            tokio::time::sleep(delay).await;
                            delay = (delay * 2).min(Duration::from_secs(5));
                            pending = Some(copy);
                        }
                    }
                    permits.add_permits(n);
                    engine.wake.notify_one();
                }
            })
        };
        loop {
            if *shutdown.borrow() {
                break;
            }
            let free = permits.available_permits().min(128);
            let mut claimed = 0;
            if free > 0 {
                match self.claim(free).await {
                    Ok(units) if !units.is_empty() => {
                        claimed = units.len();
                        if let Ok(p) = permits.clone().try_acquire_many_owned(claimed as u32) {
                            p.forget();
                        }
                        match self.contexts(&units).await {
                            Ok(cxs) => {
                                let cxs = Arc::new(cxs);
                                for u in units {
                                    let (engine, cxs, tx) = (self.clone(), cxs.clone(), tx.clone());
                                    tokio::spawn(async move {
                                        let run = cxs.get(&u.run_id);
                                        let f = engine.execute(u, run).await;
                                        let _ = tx.send(f);
                                    });
                                }
                            }
                            Err(e) => {
                                // Unclaim by recording a retry a second from now.
                                tracing::warn!("workflow engine: reading contexts failed: {e}");
                                let now = self.clock.now_ms();
                                for u in units {
                                    let _ = tx.send(Finished { unit: u, ended: Ended::Retry(format!("database: {e}"), now + 1000) });
                                }
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("workflow engine: claiming failed: {e}"),
                }
            }
            if claimed == free && free > 0 {
                continue;
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = shutdown.changed() => {}
            }
        }
        // Let the attempts in flight finish and be recorded (their claims renewed meanwhile).
        drop(tx);
        let _ = tokio::time::timeout(Duration::from_secs(30), recorder).await;
        heartbeat.abort();
    }
}

struct RunCx {
    name: String,
    version: i64,
    input: Arc<Value>,
    outputs: BTreeMap<String, Value>,
}

async fn run_status(tx: &mut Tx, run: &str) -> Result<String, WorkflowError> {
    lsn_db::query("SELECT status FROM workflow_runs WHERE id = $1")
        .bind(run)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| WorkflowError::UnknownRun(run.to_string()))?
        .try_get(0)
        .map_err(Into::into)
}

/// Cancels the steps of `run` that have not started.
async fn cancel_rest(tx: &mut Tx, run: &str) -> Result<(), lsn_db::Error> {
    lsn_db::query("UPDATE workflow_steps SET status = 'cancelled' WHERE run_id = $1 AND status IN ('pending', 'queued', 'waiting')")
        .bind(run)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// While a run compensates: once no step of it runs forward any more, queues the compensation
/// of the last step done that has one, or ends the run when none is left.
async fn next_compensation(tx: &mut Tx, run: &str, now: i64) -> Result<(), lsn_db::Error> {
    let busy: i64 = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM workflow_steps WHERE run_id = $1 AND status = 'running'")
        .bind(run)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    if busy > 0 {
        return Ok(());
    }
    let next = lsn_db::query(
        "SELECT id, step FROM workflow_steps WHERE run_id = $1 AND status = 'done' AND has_undo = 1 AND phase = 'do' ORDER BY seq DESC LIMIT 1",
    )
    .bind(run)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = next {
        let (id, step): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        lsn_db::query("UPDATE workflow_steps SET phase = 'undo', status = 'queued', attempts = 0, run_at = $1, error = NULL WHERE id = $2")
            .bind(now)
            .bind(&id)
            .execute(&mut **tx)
            .await?;
        return event(tx, run, Some(&step), now, "compensating", None).await;
    }
    lsn_db::query(
        "UPDATE workflow_runs SET status = CASE WHEN failed_step IS NULL THEN 'cancelled' ELSE 'failed' END, finished_at = $1, updated_at = $1 \
         WHERE id = $2 AND status = 'compensating'",
    )
    .bind(now)
    .bind(run)
    .execute(&mut **tx)
    .await?;
    event(tx, run, None, now, "compensated", None).await
}

/// Records one attempt's outcome: the step's row, the run's counters, the steps it makes due,
/// and the run's failure and compensation.
async fn record_one(tx: &mut Tx, defs: &Definitions, worker: &str, f: &Finished, now: i64) -> Result<(), lsn_db::Error> {
    let u = &f.unit;
    let undo = u.phase == "undo";
    match &f.ended {
        Ended::Done(output) => {
            let (status, seq) =
                if undo { ("compensated", "seq") } else { ("done", "(SELECT done_count + 1 FROM workflow_runs WHERE id = $4)") };
            let sql = format!(
                "UPDATE workflow_steps SET status = '{status}', output = CASE WHEN phase = 'undo' THEN output ELSE $1 END, seq = {seq}, \
                 finished_at = $2, error = NULL, locked_by = NULL, locked_until = NULL \
                 WHERE id = $3 AND run_id = $4 AND status = 'running' AND locked_by = $5"
            );
            let mine = lsn_db::query(&sql)
                .bind(output.to_string())
                .bind(now)
                .bind(&u.id)
                .bind(&u.run_id)
                .bind(worker)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            if mine == 0 {
                // Another node took the step over after this one's lock expired: its outcome counts.
                return Ok(());
            }
            if undo {
                return next_compensation(tx, &u.run_id, now).await;
            }
            let row = lsn_db::query(
                "UPDATE workflow_runs SET done_count = done_count + 1, steps_left = steps_left - 1, \
                 status = CASE WHEN status = 'running' AND steps_left = 1 THEN 'succeeded' ELSE status END, \
                 finished_at = CASE WHEN status = 'running' AND steps_left = 1 THEN $1 ELSE finished_at END, updated_at = $1 \
                 WHERE id = $2 RETURNING status, name, version",
            )
            .bind(now)
            .bind(&u.run_id)
            .fetch_one(&mut **tx)
            .await?;
            let (status, name, version): (String, String, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            match status.as_str() {
                "running" => {
                    let next = defs.get(&name, version).map(|d| d.dependents(&u.step)).unwrap_or_default();
                    if next.is_empty() {
                        return Ok(());
                    }
                    let sql = format!(
                        "UPDATE workflow_steps SET deps_left = deps_left - 1, \
                         status = CASE WHEN deps_left = 1 THEN (CASE WHEN kind = 'wait' AND signal IS NULL THEN 'waiting' ELSE 'queued' END) ELSE status END, \
                         run_at = CASE WHEN deps_left = 1 THEN (CASE WHEN kind = 'wait' AND signal IS NULL THEN $1 + wait_ms ELSE $1 END) ELSE run_at END \
                         WHERE run_id = $2 AND status = 'pending' AND step IN ({})",
                        crate::jobs::placeholders(3, next.len(), 1)
                    );
                    let mut q = lsn_db::query(&sql).bind(now).bind(&u.run_id);
                    for s in next {
                        q = q.bind(s);
                    }
                    q.execute(&mut **tx).await?;
                    Ok(())
                }
                // A step that finished while its run was failing: undo it too, in its turn.
                "compensating" => next_compensation(tx, &u.run_id, now).await,
                _ => Ok(()),
            }
        }
        Ended::Retry(error, at) => {
            let mine = lsn_db::query(
                "UPDATE workflow_steps SET status = 'queued', run_at = $1, error = $2, locked_by = NULL, locked_until = NULL \
                 WHERE id = $3 AND status = 'running' AND locked_by = $4",
            )
            .bind(*at)
            .bind(error)
            .bind(&u.id)
            .bind(worker)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if mine == 1 {
                let what = if undo { "undo_retry" } else { "retry" };
                event(tx, &u.run_id, Some(&u.step), now, what, Some(&format!("attempt {}: {error}", u.attempt))).await?;
            }
            Ok(())
        }
        Ended::Failed(error) => {
            let status = if undo { "compensation_failed" } else { "failed" };
            let mine = lsn_db::query(
                "UPDATE workflow_steps SET status = $1, error = $2, finished_at = $3, locked_by = NULL, locked_until = NULL \
                 WHERE id = $4 AND status = 'running' AND locked_by = $5",
            )
            .bind(status)
            .bind(error)
            .bind(now)
            .bind(&u.id)
            .bind(worker)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if mine == 0 {
                return Ok(());
            }
            if undo {
                lsn_db::query("UPDATE workflow_runs SET status = 'compensation_failed', updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(&u.run_id)
                    .execute(&mut **tx)
                    .await?;
                event(tx, &u.run_id, Some(&u.step), now, "compensation_failed", Some(error)).await?;
                let title = format!("A workflow could not undo step {}", u.step);
                let detail = format!("Run {}: the compensation of {} failed: {error}. Fix the cause, then retry it.", u.run_id, u.step);
                crate::tasks::open_once(tx, now, "workflow.compensation_failed", &title, &detail, &u.run_id).await?;
                return Ok(());
            }
            lsn_db::query(
                "UPDATE workflow_runs SET status = 'compensating', failed_step = $1, error = $2, steps_left = steps_left - 1, updated_at = $3 \
                 WHERE id = $4 AND status = 'running'",
            )
            .bind(&u.step)
            .bind(error)
            .bind(now)
            .bind(&u.run_id)
            .execute(&mut **tx)
            .await?;
            event(tx, &u.run_id, Some(&u.step), now, "failed", Some(error)).await?;
            cancel_rest(tx, &u.run_id).await?;
            next_compensation(tx, &u.run_id, now).await
        }
    }
}

/// Claims up to `$4` due steps, the longest due first. Binds: $1 worker, $2 lock-until, $3 now,
/// $4 batch size.
fn claim_steps(backend: lsn_db::Backend) -> &'static str {
    match backend {
        lsn_db::Backend::Sqlite => {
            "UPDATE workflow_steps SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1, started_at = $3 \
             WHERE id IN (SELECT id FROM workflow_steps WHERE status IN ('queued', 'waiting') AND run_at <= $3 ORDER BY run_at LIMIT $4) \
             RETURNING id, run_id, step, kind, phase, attempts, signal"
        }
        lsn_db::Backend::Postgres => {
            "UPDATE workflow_steps SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1, started_at = $3 \
             WHERE id IN (SELECT id FROM workflow_steps WHERE status IN ('queued', 'waiting') AND run_at <= $3 ORDER BY run_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING id, run_id, step, kind, phase, attempts, signal"
        }
    }
}

/// A run as the admin and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub id: String,
    pub name: String,
    pub version: i64,
    pub key: Option<String>,
    pub status: String,
    pub failed_step: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    pub step: String,
    pub kind: String,
    pub phase: String,
    pub status: String,
    pub attempts: i64,
    pub error: Option<String>,
    pub output: Option<Value>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub step: Option<String>,
    pub at: i64,
    pub event: String,
    pub detail: Option<String>,
}

const RUN_COLUMNS: &str = "id, name, version, run_key, status, failed_step, error, created_at, updated_at, finished_at";

fn run_row(r: &lsn_db::Row) -> Result<RunRow, lsn_db::Error> {
    Ok(RunRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        version: r.try_get(2)?,
        key: r.try_get(3)?,
        status: r.try_get(4)?,
        failed_step: r.try_get(5)?,
        error: r.try_get(6)?,
        created_at: r.try_get(7)?,
        updated_at: r.try_get(8)?,
        finished_at: r.try_get(9)?,
    })
}

/// The newest runs first, of one status or all.
pub async fn recent(db: &Db, status: Option<&str>, limit: i64) -> Result<Vec<RunRow>, lsn_db::Error> {
    let rows = match status {
        Some(s) => {
            lsn_db::query(&format!("SELECT {RUN_COLUMNS} FROM workflow_runs WHERE status = $1 ORDER BY created_at DESC, id LIMIT $2"))
                .bind(s)
                .bind(limit)
                .fetch_all(db.read())
                .await?
        }
        None => {
            lsn_db::query(&format!("SELECT {RUN_COLUMNS} FROM workflow_runs ORDER BY created_at DESC, id LIMIT $1"))
                .bind(limit)
                .fetch_all(db.read())
                .await?
        }
    };
    rows.iter().map(run_row).collect()
}

/// One run with its steps and timeline.
pub async fn detail(db: &Db, run: &str) -> Result<Option<(RunRow, Vec<StepRow>, Vec<EventRow>)>, lsn_db::Error> {
    let Some(r) = lsn_db::query(&format!("SELECT {RUN_COLUMNS} FROM workflow_runs WHERE id = $1 OR run_key = $1"))
        .bind(run)
        .fetch_optional(db.read())
        .await?
    else {
        return Ok(None);
    };
    let run = run_row(&r)?;
    let steps = lsn_db::query(
        "SELECT step, kind, phase, status, attempts, error, output, started_at, finished_at FROM workflow_steps WHERE run_id = $1 \
         ORDER BY COALESCE(seq, 1000000000), step",
    )
    .bind(&run.id)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| {
        let output: Option<String> = r.try_get(6)?;
        Ok(StepRow {
            step: r.try_get(0)?,
            kind: r.try_get(1)?,
            phase: r.try_get(2)?,
            status: r.try_get(3)?,
            attempts: r.try_get(4)?,
            error: r.try_get(5)?,
            output: output.and_then(|o| serde_json::from_str(&o).ok()),
            started_at: r.try_get(7)?,
            finished_at: r.try_get(8)?,
        })
    })
    .collect::<Result<Vec<_>, lsn_db::Error>>()?;
    let events = lsn_db::query("SELECT step, at, event, detail FROM workflow_events WHERE run_id = $1 ORDER BY at, id")
        .bind(&run.id)
        .fetch_all(db.read())
        .await?
        .iter()
        .map(|r| Ok(EventRow { step: r.try_get(0)?, at: r.try_get(1)?, event: r.try_get(2)?, detail: r.try_get(3)? }))
        .collect::<Result<Vec<_>, lsn_db::Error>>()?;
    Ok(Some((run, steps, events)))
}

/// Runs by status, for the dashboard and `/metrics`.
pub async fn counts(db: &Db) -> Result<Vec<(String, i64)>, lsn_db::Error> {
    let rows = lsn_db::query("SELECT status, CAST(COUNT(*) AS BIGINT) FROM workflow_runs GROUP BY status ORDER BY status")
        .fetch_all(lsn_db::Slow(db.read()))
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

#[cfg(test)]
mod tests;
