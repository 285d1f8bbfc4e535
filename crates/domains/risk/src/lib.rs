//! Risk: a fraud check of every order placed (a score 0–100 from the features earlier orders
//! and payment attempts show, each contributing reason stored as a stable code), decisions
//! through the `fraud_review` policy (approve, hold for review, escalate to a person, decline),
//! the review queue a person works and the 5-minute task that scores held orders again and
//! escalates stale ones, allow and block lists, labelled outcomes, and the model learned from
//! them ([`model`], [`synth`] for the figures in `docs/`).

pub mod check;
pub mod codes;
pub mod features;
pub mod lists;
pub mod model;
pub mod models;
pub mod openapi;
pub mod pages;
pub mod review;
pub mod routes;
pub mod synth;

pub use codes::Code;

use lsn_core::{i18n, SharedClock};
use lsn_db::{Db, RowExt};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// The risk domain's schema steps.
pub const MIGRATIONS: &[lsn_db::Migration] = &[lsn_db::Migration::portable(38, "risk", include_str!("../migrations/0038_risk.sql"))];

pub const CHECK_JOB: &str = "risk.check_order";
pub const PAYMENT_FAILED_JOB: &str = "risk.payment_failed";
pub const ORDER_PAID_JOB: &str = "risk.order_paid";
pub const DISPUTED_JOB: &str = "risk.order_disputed";
pub const REVIEW_JOB: &str = "risk.review";

/// A held order: fulfilment waits for its release.
pub const ORDER_HELD: &str = "risk.order_held";
/// A held order released (by a person or a new score).
pub const ORDER_RELEASED: &str = "risk.order_released";
/// An order declined: cancelled if unpaid, refunded if paid.
pub const ORDER_DECLINED: &str = "risk.order_declined";

/// The runbook's Slack alert for high-risk fraud detections (risk score over 80).
pub const HIGH_RISK_ALERT: lsn_ops::AlertType = lsn_ops::AlertType {
    name: "fraud_high_risk",
    description: "An order's fraud risk score is over 80: held or declined, a person should look",
    cooldown_secs: 300,
    incident: lsn_ops::Priority::P2,
};

/// The runbook's threshold alert: more fraud detections in the window than the threshold.
pub const DETECTIONS_ALERT: lsn_ops::AlertType = lsn_ops::AlertType {
    name: "fraud_detections",
    description: "More orders held or declined by the fraud check in the window than the fraud-detections threshold (10 in an hour)",
    cooldown_secs: 3_600,
    incident: lsn_ops::Priority::P2,
};

#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    #[error("invalid input")]
    Validation(Value),
    #[error("{code}: {message}")]
    Rule { code: Code, message: String },
    #[error("not found")]
    NotFound,
    #[error("model: {0}")]
    Model(String),
    #[error(transparent)]
    Db(#[from] lsn_db::Error),
}

impl RiskError {
    pub fn rule(code: Code, message: impl Into<String>) -> Self {
        RiskError::Rule { code, message: message.into() }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        RiskError::Validation(json!({ field: message.into() }))
    }
}

impl lsn_db::TxError for RiskError {
    fn as_db(&self) -> Option<&lsn_db::Error> {
        match self {
            RiskError::Db(e) => Some(e),
            _ => None,
        }
    }
}

impl From<RiskError> for lsn_core::ApiError {
    fn from(e: RiskError) -> Self {
        use lsn_core::ApiError;
        match e {
            RiskError::Validation(v) => ApiError::validation(v),
            RiskError::Rule { code, message } => ApiError::new(code.status(), code.as_str(), message),
            RiskError::NotFound => ApiError::not_found(),
            RiskError::Db(e) if lsn_db::is_unavailable(&e) => ApiError::database_unavailable(e),
            RiskError::Db(e) => ApiError::internal(e),
            RiskError::Model(e) => ApiError::internal(e),
        }
    }
}

/// The risk domain's settings (stored; staff change them through the API).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Settings {
    /// Decline outright at this score or above (0: never; the policy holds and escalates).
    pub decline_at: i64,
    /// A held order nobody decided in this many minutes is escalated.
    pub stale_minutes: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { decline_at: 0, stale_minutes: 60 }
    }
}

impl Settings {
    fn set(&mut self, key: &str, v: &Value) -> Result<(), RiskError> {
        let int = |lo: i64, hi: i64| v.as_i64().filter(|n| (lo..=hi).contains(n));
        match key {
            "decline_at" => self.decline_at = int(0, 100).ok_or_else(|| RiskError::field(key, i18n::t("risk-setting-decline-at")))?,
            "stale_minutes" => self.stale_minutes = int(5, 10_080).ok_or_else(|| RiskError::field(key, i18n::t("risk-setting-stale")))?,
            _ => return Err(RiskError::field(key, i18n::t("risk-setting-unknown"))),
        }
        Ok(())
    }
}

#[derive(Clone)]
pub struct Risk(Arc<Parts>);

pub struct Parts {
    pub db: Db,
    pub clock: SharedClock,
    pub commerce: lsn_commerce::Commerce,
    pub identity: lsn_identity::Identity,
    pub policies: lsn_ops::Policies,
    model: Mutex<Option<(i64, model::Weights)>>,
    /// The settings as last read, and when (every check asks for them).
    cached: Mutex<Option<(i64, Settings)>>,
}

impl std::ops::Deref for Risk {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0
    }
}

impl Risk {
    pub fn new(
        db: Db,
        clock: SharedClock,
        commerce: lsn_commerce::Commerce,
        identity: lsn_identity::Identity,
        policies: lsn_ops::Policies,
    ) -> Self {
        Risk(Arc::new(Parts { db, clock, commerce, identity, policies, model: Mutex::new(None), cached: Mutex::new(None) }))
    }

    /// The settings, read at most every 10 s (a change through this node is seen at once).
    pub async fn settings(&self) -> Result<Settings, RiskError> {
        let now = self.clock.now_ms();
        if let Some((at, s)) = self.cached.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if (0..10_000).contains(&(now - at)) {
                return Ok(s.clone());
            }
        }
        let s = self.read_settings().await?;
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some((now, s.clone()));
        Ok(s)
    }

    async fn read_settings(&self) -> Result<Settings, RiskError> {
        let mut s = Settings::default();
        for (k, v) in lsn_ops::settings::load(&self.db, "risk_settings").await? {
            // A stored value that no longer checks keeps the default.
            let _ = s.set(&k, &v);
        }
        Ok(s)
    }

    /// Changes settings (staff): every key checked before any is written.
    pub async fn update_settings(&self, patch: &Value, who: &str) -> Result<Settings, RiskError> {
        let Some(obj) = patch.as_object().filter(|o| !o.is_empty()) else {
            return Err(RiskError::field("settings", i18n::t("risk-settings-object")));
        };
        let mut s = self.read_settings().await?;
        for (k, v) in obj {
            s.set(k, v)?;
        }
        lsn_ops::settings::save(&self.db, "risk_settings", obj, self.clock.now_ms(), who).await?;
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(s)
    }
}

/// What follows a check's decision, in its transaction: a held, escalated or declined order's
/// event, and the high-risk alert over 80.
pub(crate) async fn after_decision(
    tx: &mut lsn_db::Tx,
    now: i64,
    order_id: &str,
    number: &str,
    status: &str,
    score: i64,
    reasons: &[check::Reason],
) -> Result<(), lsn_db::Error> {
    let payload = json!({"order_id": order_id, "number": number, "status": status, "score": score});
    match status {
        "review" | "escalated" => {
            lsn_ops::publish(tx, now, ORDER_HELD, Some(order_id), &payload).await?;
        }
        "declined" => {
            lsn_ops::publish(tx, now, ORDER_DECLINED, Some(order_id), &payload).await?;
        }
        _ => {}
    }
    if score > 80 {
        high_risk_alert(tx, now, order_id, number, status, score, reasons).await?;
    }
    Ok(())
}

/// The runbook's Slack alert for a fraud score over 80 (once per order).
pub(crate) async fn high_risk_alert(
    tx: &mut lsn_db::Tx,
    now: i64,
    order_id: &str,
    number: &str,
    status: &str,
    score: i64,
    reasons: &[check::Reason],
) -> Result<(), lsn_db::Error> {
    let codes: Vec<&str> = reasons.iter().take(3).map(|r| r.code.as_str()).collect();
    lsn_ops::alerts::raise(
        tx,
        now,
        &HIGH_RISK_ALERT,
        &format!("order:{order_id}"),
        lsn_ops::Severity::Warning,
        &i18n::t_args("risk-high-risk-alert", &[("number", number), ("score", &score.to_string()), ("status", status)]),
        &json!({"order_id": order_id, "score": score, "status": status, "reasons": codes}).to_string(),
    )
    .await?;
    Ok(())
}

/// Orders the fraud check held or declined within the window (the runbook's "fraud detections
/// > 10 in 1 hour").
pub struct Detections(pub Db);

#[async_trait::async_trait]
impl lsn_ops::monitor::MetricSource for Detections {
    fn metric(&self) -> &'static str {
        "fraud_detections"
    }

    fn alert_type(&self) -> &'static lsn_ops::AlertType {
        &DETECTIONS_ALERT
    }

    async fn measure(&self, now_ms: i64, window_ms: i64) -> anyhow::Result<Option<f64>> {
        let n: i64 = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM fraud_checks WHERE status <> 'approved' AND at > $1 AND at <= $2")
            .bind(now_ms - window_ms)
            .bind(now_ms)
            .fetch_one(self.0.read())
            .await?
            .try_get(0)?;
        Ok(Some(n as f64))
    }
}

/// Background work: each job calls into the domain and retries on a database error.
struct Job<F>(Risk, F);

type BoxFut = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), RiskError>> + Send>>;

#[async_trait::async_trait]
impl<F> lsn_ops::JobHandler for Job<F>
where
    F: Fn(Risk, Value) -> BoxFut + Send + Sync,
{
    async fn run(&self, _ctx: &lsn_ops::JobContext, payload: &Value) -> Result<(), lsn_ops::JobError> {
        (self.1)(self.0.clone(), payload.clone()).await.map_err(|e| match e {
            RiskError::Db(e) => lsn_ops::JobError::Retry(e.to_string()),
            other => lsn_ops::JobError::Fail(other.to_string()),
        })
    }
}

fn job<F>(r: &Risk, f: F) -> Arc<dyn lsn_ops::JobHandler>
where
    F: Fn(Risk, Value) -> BoxFut + Send + Sync + 'static,
{
    Arc::new(Job(r.clone(), f))
}

/// A payment event's job: its outcome recorded for the order's buyer, the order scored again.
fn payment_job(r: &Risk, outcome: &'static str) -> Arc<dyn lsn_ops::JobHandler> {
    job(r, move |r, p| {
        Box::pin(async move {
            let at = p["created_at"].as_i64().unwrap_or(0);
            r.payment_seen(&event_order(&p)?, outcome, at).await
        })
    })
}

fn event_order(payload: &Value) -> Result<String, RiskError> {
    payload["payload"]["order_id"].as_str().map(str::to_string).ok_or_else(|| RiskError::field("order_id", "event without order_id"))
}

impl Risk {
    /// The risk domain as a module.
    pub fn module(&self, identity: &lsn_identity::Identity) -> lsn_ops::Module {
        use lsn_commerce::orders::{ORDER_DISPUTED, ORDER_PAID, ORDER_PLACED, PAYMENT_FAILED};
        let (api, table) = routes::api().into_parts();
        let (pages, page_table) = pages::routes().into_parts();
        let state = routes::RouteState { risk: self.clone(), identity: identity.clone() };
        lsn_ops::Module::new("risk")
            .migrations(MIGRATIONS)
            .api(lsn_ops::Routed::new(api.with_state(state.clone()), table))
            .pages(lsn_ops::Routed::new(pages.with_state(state), page_table))
            .nav("/admin/risk", "admin-nav-risk")
            .openapi(openapi::fragment())
            .summary(Arc::new(review::Summary(self.clone())))
            .policy(lsn_ops::builtin::FRAUD_REVIEW)
            .alert_type(HIGH_RISK_ALERT)
            .alert_type(DETECTIONS_ALERT)
            .raises(&[HIGH_RISK_ALERT.name, DETECTIONS_ALERT.name])
            .metric_source(Arc::new(Detections(self.db.clone())))
            .job(CHECK_JOB, job(self, |r, p| Box::pin(async move { r.check_order(&event_order(&p)?).await.map(|_| ()) })))
            .job(PAYMENT_FAILED_JOB, payment_job(self, "declined"))
            .job(ORDER_PAID_JOB, payment_job(self, "succeeded"))
            .job(
                DISPUTED_JOB,
                job(self, |r, p| {
                    Box::pin(async move {
                        let reason = p["payload"]["reason"].as_str().unwrap_or("dispute").to_string();
                        r.label(&event_order(&p)?, "fraud", "dispute", &reason).await.map(|_| ())
                    })
                }),
            )
            .job(REVIEW_JOB, job(self, |r, _| Box::pin(async move { r.review_task().await.map(|_| ()) })))
            .subscribe(ORDER_PLACED, CHECK_JOB)
            .subscribe(PAYMENT_FAILED, PAYMENT_FAILED_JOB)
            .subscribe(ORDER_PAID, ORDER_PAID_JOB)
            .subscribe(ORDER_DISPUTED, DISPUTED_JOB)
            .publishes(&[ORDER_HELD, ORDER_RELEASED, ORDER_DECLINED])
            .external(ORDER_HELD, "the hold's event record; fulfilment (#18) holds the order's shipment until its release")
            .external(ORDER_RELEASED, "the release's event record; fulfilment (#18) ships the order")
            .external(ORDER_DECLINED, "the decline's event record (the order is cancelled or refunded by the risk domain itself)")
            .schedule(lsn_ops::Schedule {
                name: "fraud_review",
                cron: "0 */5 * * * *",
                job_kind: REVIEW_JOB,
                payload: json!({}),
                description: "Score held orders again with new evidence; escalate those nobody decided in time (every 5 minutes)",
                autonomous: false,
            })
    }
}
