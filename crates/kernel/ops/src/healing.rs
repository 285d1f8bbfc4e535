//! Self-healing: circuit breakers in front of every outgoing provider client, the SendGrid → SMTP
//! fallback, and the record of every healing event (a breaker opening and closing, a fallback
//! taken, the database coming back, interrupted work resumed at start, a cleanup run).
//!
//! A [`Breaker`] is closed while its provider answers; after [`BreakerConfig::failures`]
//! consecutive failures, or a failure rate of [`BreakerConfig::rate`] over at least
//! [`BreakerConfig::min_calls`] calls in [`BreakerConfig::window_ms`], it opens: calls fail at
//! once (the jobs that made them retry later, the checkout answers its 503) and the
//! `provider_unavailable` alert is raised. After [`BreakerConfig::cooldown_ms`] it lets one
//! probe through (half-open): a success closes it, a failure opens it again. Only failures of
//! the provider count (timeouts, refused connections, 5xx); a refusal of the request itself (a
//! 4xx, a bad address) shows the provider is up.
//!
//! Each node keeps its breakers in memory (a call never waits for the database to ask) and
//! writes every change of state to `circuit_breakers` (one row per breaker and node), so the
//! dashboard, the API and `lsn doctor` see every node's.

use crate::alerts::{AlertType, Priority, Severity};
use lsn_core::SharedClock;
use lsn_db::{Db, RowExt};
use lsn_mail::{MailError, Message, Transport};
use lsn_notify::{SendError, Slack, SlackMessage, Sms};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

/// The runbook's "send alerts for unrecoverable errors": a provider's breaker opened.
pub const PROVIDER_UNAVAILABLE: AlertType = AlertType {
    name: "provider_unavailable",
    description: "An external provider (Stripe, SendGrid, SMTP, Slack, Twilio) keeps failing: its circuit breaker opened and calls to it fail fast until a probe succeeds",
    cooldown_secs: 30 * 60,
    incident: Priority::P1,
};

/// When a breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// Consecutive failures that open it.
    pub failures: u32,
    /// The window of the failure rate.
    pub window_ms: i64,
    /// The failure rate (0–1) in the window that opens it …
    pub rate: f64,
    /// … once the window holds at least this many calls.
    pub min_calls: usize,
    /// How long it stays open before a probe.
    pub cooldown_ms: i64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self { failures: 5, window_ms: 60_000, rate: 0.5, min_calls: 10, cooldown_ms: 30_000 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }
}

/// How a call went, as far as the provider's health goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The provider failed (timeout, unreachable, 5xx).
    Failure(String),
    /// The provider answered but refused the request (4xx, rate limit): it is up.
    Neutral,
}

/// A call refused because the breaker is open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} circuit breaker open after repeated failures: not called, retry in {retry_in_secs} s")]
pub struct Refused {
    pub name: &'static str,
    pub retry_in_secs: i64,
}

#[derive(Debug)]
struct Inner {
    state: State,
    consecutive: u32,
    window: VecDeque<(i64, bool)>,
    opened_at: i64,
    /// When the half-open probe in flight started (a probe whose caller gave up is forgotten
    /// after a cool-down).
    probe_at: Option<i64>,
    last_error: Option<String>,
}

/// A breaker's state as the dashboard shows it.
#[derive(Debug, Clone, Serialize)]
pub struct BreakerView {
    pub name: String,
    pub node_id: String,
    pub state: String,
    pub failures: i64,
    pub opened_at: Option<i64>,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

/// One provider's circuit breaker (see the module's text).
pub struct Breaker {
    pub name: &'static str,
    cfg: BreakerConfig,
    inner: Mutex<Inner>,
    healing: Healing,
}

impl std::fmt::Debug for Breaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker").field("name", &self.name).field("state", &self.state()).finish()
    }
}

/// Permission to make one call (from [`Breaker::acquire`]); give it back with [`Breaker::record`].
#[derive(Debug)]
#[must_use]
pub struct Permit {
    probe: bool,
}

impl Breaker {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn state(&self) -> State {
        self.lock().state
    }

    /// A call may go ahead, or is refused at once while the breaker is open (and while its one
    /// half-open probe is out).
    pub async fn acquire(&self) -> Result<Permit, Refused> {
        let now = self.healing.clock.now_ms();
        let moved = {
            let mut g = self.lock();
            match g.state {
                State::Closed => return Ok(Permit { probe: false }),
                State::Open if now - g.opened_at >= self.cfg.cooldown_ms => {
                    g.state = State::HalfOpen;
                    g.probe_at = Some(now);
                    Some((g.consecutive, g.opened_at, g.last_error.clone()))
                }
                State::HalfOpen if g.probe_at.is_none_or(|t| now - t >= self.cfg.cooldown_ms) => {
                    g.probe_at = Some(now);
                    return Ok(Permit { probe: true });
                }
                _ => {
                    let left = (g.opened_at + self.cfg.cooldown_ms - now).max(0);
                    return Err(Refused { name: self.name, retry_in_secs: (left + 999) / 1000 });
                }
            }
        };
        if let Some((failures, opened_at, last_error)) = moved {
            self.persist(State::HalfOpen, failures, Some(opened_at), last_error.as_deref()).await;
            self.healing.record(self.name, "breaker_half_open", "probing", "cool-down over: one call goes through as a probe").await;
        }
        Ok(Permit { probe: true })
    }

    /// Records how the permitted call went; a change of state is written and recorded.
    pub async fn record(&self, permit: Permit, outcome: Outcome) {
        let now = self.healing.clock.now_ms();
        let change = {
            let mut g = self.lock();
            let failed = matches!(outcome, Outcome::Failure(_));
            if let Outcome::Failure(e) = &outcome {
                g.last_error = Some(e.chars().take(300).collect());
            }
            while g.window.front().is_some_and(|(t, _)| now - t > self.cfg.window_ms) {
                g.window.pop_front();
            }
            if outcome != Outcome::Neutral {
                g.window.push_back((now, failed));
                if g.window.len() > 1000 {
                    g.window.pop_front();
                }
            }
            match (g.state, failed) {
                // Answered (even a refusal): the provider is up.
                (State::HalfOpen, false) if permit.probe => {
                    g.probe_at = None;
                    g.state = State::Closed;
                    g.consecutive = 0;
                    g.window.clear();
                    Some(State::Closed)
                }
                (State::HalfOpen, true) if permit.probe => {
                    g.probe_at = None;
                    g.state = State::Open;
                    g.opened_at = now;
                    g.consecutive += 1;
                    Some(State::Open)
                }
                (State::Closed, true) => {
                    g.consecutive += 1;
                    let fails = g.window.iter().filter(|(_, f)| *f).count();
                    let rate_hit = g.window.len() >= self.cfg.min_calls && fails as f64 >= self.cfg.rate * g.window.len() as f64;
                    if g.consecutive >= self.cfg.failures || rate_hit {
                        g.state = State::Open;
                        g.opened_at = now;
                        Some(State::Open)
                    } else {
                        None
                    }
                }
                (State::Closed, false) => {
                    if outcome == Outcome::Success {
                        g.consecutive = 0;
                    }
                    None
                }
                _ => None,
            }
            .map(|s| (s, g.consecutive, g.opened_at, g.last_error.clone()))
        };
        let Some((state, failures, opened_at, last_error)) = change else { return };
        self.persist(state, failures, (state != State::Closed).then_some(opened_at), last_error.as_deref()).await;
        match state {
            State::Open => {
                let detail = format!(
                    "{failures} failures; calls fail fast for {} s, then one probe{}",
                    self.cfg.cooldown_ms / 1000,
                    last_error.as_deref().map(|e| format!(" (last: {e})")).unwrap_or_default()
                );
                self.healing.record(self.name, "breaker_opened", "degraded", &detail).await;
                let title = lsn_core::i18n::t_args("alert-provider-title", &[("provider", self.name)]);
                if let Err(e) =
                    crate::alerts::raise_now(&self.healing.db, now, &PROVIDER_UNAVAILABLE, self.name, Severity::Warning, &title, &detail)
                        .await
                {
                    tracing::warn!(breaker = self.name, "raising provider_unavailable: {e}");
                }
            }
            State::Closed => {
                self.healing.record(self.name, "breaker_closed", "healed", "the probe succeeded: calls go through again").await;
                let groups = [self.name.to_string()];
                let res = self
                    .healing
                    .db
                    .transaction(move |tx| {
                        let groups = groups.clone();
                        Box::pin(async move { crate::alerts::resolve_groups(tx, now, PROVIDER_UNAVAILABLE.name, &groups).await })
                    })
                    .await;
                if let Err(e) = res {
                    tracing::warn!(breaker = self.name, "resolving provider_unavailable: {e}");
                }
            }
            State::HalfOpen => {}
        }
    }

    /// Runs `call` through the breaker: refused at once while open; `classify` says what its
    /// result tells of the provider's health.
    pub async fn call<T, E, F>(&self, call: F, classify: impl FnOnce(&Result<T, E>) -> Outcome) -> Result<Result<T, E>, Refused>
    where
        F: std::future::Future<Output = Result<T, E>>,
    {
        let permit = self.acquire().await?;
        let res = call.await;
        let outcome = classify(&res);
        self.record(permit, outcome).await;
        Ok(res)
    }

    async fn persist(&self, state: State, failures: u32, opened_at: Option<i64>, last_error: Option<&str>) {
        if state != State::Closed {
            tracing::warn!(breaker = self.name, state = state.as_str(), failures, "circuit breaker");
        } else {
            tracing::info!(breaker = self.name, "circuit breaker closed");
        }
        let res = lsn_db::query(
            "INSERT INTO circuit_breakers (name, node_id, state, failures, opened_at, last_error, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (name, node_id) DO UPDATE SET state = excluded.state, failures = excluded.failures, opened_at = excluded.opened_at, \
             last_error = excluded.last_error, updated_at = excluded.updated_at",
        )
        .bind(self.name)
        .bind(&self.healing.node_id)
        .bind(state.as_str())
        .bind(i64::from(failures))
        .bind(opened_at)
        .bind(last_error)
        .bind(self.healing.clock.now_ms())
        .execute(self.healing.db.write())
        .await;
        if let Err(e) = res {
            tracing::warn!(breaker = self.name, "recording the breaker's state: {e}");
        }
    }
}

/// The process's self-healing: its breakers (one per provider) and the event log. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Healing {
    db: Db,
    clock: SharedClock,
    node_id: String,
    breakers: Arc<Mutex<BTreeMap<&'static str, Arc<Breaker>>>>,
}

impl Healing {
    pub fn new(db: Db, clock: SharedClock, node_id: impl Into<String>) -> Self {
        Self { db, clock, node_id: node_id.into(), breakers: Arc::default() }
    }

    /// This node's name in the records: the host and the process id.
    pub fn node_name() -> String {
        format!("{}:{}", std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into()), std::process::id())
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The breaker named `name` (made with `cfg` the first time it is asked for).
    pub fn breaker(&self, name: &'static str, cfg: BreakerConfig) -> Arc<Breaker> {
        let mut all = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        all.entry(name)
            .or_insert_with(|| {
                Arc::new(Breaker {
                    name,
                    cfg,
                    inner: Mutex::new(Inner {
                        state: State::Closed,
                        consecutive: 0,
                        window: VecDeque::new(),
                        opened_at: 0,
                        probe_at: None,
                        last_error: None,
                    }),
                    healing: self.clone(),
                })
            })
            .clone()
    }

    /// This process's breakers and their states.
    pub fn local(&self) -> Vec<(&'static str, State)> {
        self.breakers.lock().unwrap_or_else(|e| e.into_inner()).values().map(|b| (b.name, b.state())).collect()
    }

    /// Records a healing event (a failure to write it is logged: healing must not fail on it).
    pub async fn record(&self, component: &str, action: &str, outcome: &str, detail: &str) {
        if let Err(e) = record(&self.db, self.clock.now_ms(), &self.node_id, component, action, outcome, detail).await {
            tracing::warn!(component, action, "recording a healing event: {e}");
        }
    }
}

/// A healing event as the dashboard and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: String,
    pub component: String,
    pub action: String,
    pub outcome: String,
    pub detail: String,
    pub node_id: String,
    pub at: i64,
}

/// Writes one healing event.
pub async fn record(
    db: &Db,
    now: i64,
    node: &str,
    component: &str,
    action: &str,
    outcome: &str,
    detail: &str,
) -> Result<(), lsn_db::Error> {
    lsn_db::query("INSERT INTO healing_events (id, component, action, outcome, detail, node_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(lsn_core::ids::new_id())
        .bind(component.chars().take(100).collect::<String>())
        .bind(action.chars().take(100).collect::<String>())
        .bind(outcome.chars().take(50).collect::<String>())
        .bind(detail.chars().take(2000).collect::<String>())
        .bind(node)
        .bind(now)
        .execute(db.write())
        .await?;
    Ok(())
}

/// The newest healing events, of `component` only when given.
pub async fn events(db: &Db, component: Option<&str>, limit: i64) -> Result<Vec<Event>, lsn_db::Error> {
    let rows = lsn_db::query(
        "SELECT id, component, action, outcome, detail, node_id, at FROM healing_events WHERE ($1 = '' OR component = $1) ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(component.unwrap_or(""))
    .bind(limit.clamp(1, 1000))
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Event {
                id: r.try_get(0)?,
                component: r.try_get(1)?,
                action: r.try_get(2)?,
                outcome: r.try_get(3)?,
                detail: r.try_get(4)?,
                node_id: r.try_get(5)?,
                at: r.try_get(6)?,
            })
        })
        .collect()
}

/// Every node's breakers as they last changed, open ones first.
pub async fn breakers(db: &Db) -> Result<Vec<BreakerView>, lsn_db::Error> {
    let rows = lsn_db::query(
        "SELECT name, node_id, state, failures, opened_at, last_error, updated_at FROM circuit_breakers \
         ORDER BY CASE WHEN state = 'closed' THEN 1 ELSE 0 END, name, node_id LIMIT 500",
    )
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(BreakerView {
                name: r.try_get(0)?,
                node_id: r.try_get(1)?,
                state: r.try_get(2)?,
                failures: r.try_get(3)?,
                opened_at: r.try_get(4)?,
                last_error: r.try_get(5)?,
                updated_at: r.try_get(6)?,
            })
        })
        .collect()
}

// ----------------------------------------------------------------------------- the clients

/// A mail transport behind its breaker: a provider failure counts, a refused message does not;
/// while open, sending fails at once as a temporary failure (the `mail.send` job retries later).
#[derive(Debug)]
pub struct GuardedTransport {
    pub inner: Arc<dyn Transport>,
    pub breaker: Arc<Breaker>,
}

#[async_trait::async_trait]
impl Transport for GuardedTransport {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn send(&self, from: &str, msg: &Message) -> Result<Option<String>, MailError> {
        let res = self
            .breaker
            .call(self.inner.send(from, msg), |r| match r {
                Ok(_) => Outcome::Success,
                Err(MailError::Transient(e)) => Outcome::Failure(e.clone()),
                Err(MailError::Permanent(_)) => Outcome::Neutral,
            })
            .await;
        res.unwrap_or_else(|open| Err(MailError::Transient(open.to_string())))
    }
}

/// SendGrid first, SMTP when SendGrid fails for a while (its breaker is open) or a send fails
/// temporarily. A message SendGrid refuses (a bad address) is not sent again through SMTP.
#[derive(Debug)]
pub struct FallbackTransport {
    pub primary: Arc<dyn Transport>,
    pub backup: Arc<dyn Transport>,
    pub healing: Healing,
    /// When this process last recorded a fallback, and how many since (one event a minute at
    /// most, however many messages go through the backup).
    last: Mutex<(i64, u64)>,
}

impl FallbackTransport {
    pub fn new(primary: Arc<dyn Transport>, backup: Arc<dyn Transport>, healing: Healing) -> Self {
        Self { primary, backup, healing, last: Mutex::new((i64::MIN, 0)) }
    }
}

#[async_trait::async_trait]
impl Transport for FallbackTransport {
    fn name(&self) -> &'static str {
        self.primary.name()
    }

    async fn send(&self, from: &str, msg: &Message) -> Result<Option<String>, MailError> {
        let why = match self.primary.send(from, msg).await {
            Err(MailError::Transient(e)) => e,
            other => return other,
        };
        let res = self.backup.send(from, msg).await;
        let now = self.healing.clock.now_ms();
        let due = {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            last.1 += 1;
            if now.saturating_sub(last.0) >= 60_000 {
                let n = last.1;
                *last = (now, 0);
                Some(n)
            } else {
                None
            }
        };
        if let Some(n) = due {
            let outcome = if res.is_ok() { "healed" } else { "failed" };
            let detail = format!(
                "{} failed ({why}); {n} message(s) sent through {}{}",
                self.primary.name(),
                self.backup.name(),
                res.as_ref().err().map(|e| format!(", which failed too: {e}")).unwrap_or_default()
            );
            self.healing.record(self.primary.name(), "fallback", outcome, &detail).await;
        }
        res
    }
}

/// Slack behind its breaker (a 429 or a revoked hook does not count as the provider down).
#[derive(Debug)]
pub struct GuardedSlack {
    pub inner: Arc<dyn Slack>,
    pub breaker: Arc<Breaker>,
}

fn send_outcome<T>(r: &Result<T, SendError>) -> Outcome {
    match r {
        Ok(_) => Outcome::Success,
        Err(SendError::Transient(e)) => Outcome::Failure(e.clone()),
        Err(SendError::RetryAfter { .. } | SendError::Permanent(_)) => Outcome::Neutral,
    }
}

#[async_trait::async_trait]
impl Slack for GuardedSlack {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn post(&self, id: &str, msg: &SlackMessage) -> Result<(), SendError> {
        let res = self.breaker.call(self.inner.post(id, msg), send_outcome).await;
        res.unwrap_or_else(|open| Err(SendError::Transient(open.to_string())))
    }
}

/// Twilio behind its breaker.
#[derive(Debug)]
pub struct GuardedSms {
    pub inner: Arc<dyn Sms>,
    pub breaker: Arc<Breaker>,
}

#[async_trait::async_trait]
impl Sms for GuardedSms {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn send(&self, id: &str, to: &str, body: &str) -> Result<Option<String>, SendError> {
        let res = self.breaker.call(self.inner.send(id, to, body), send_outcome).await;
        res.unwrap_or_else(|open| Err(SendError::Transient(open.to_string())))
    }
}
