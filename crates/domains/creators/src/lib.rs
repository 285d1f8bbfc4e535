#![recursion_limit = "512"]
//! The creator economy: creators (applications an admin approves, profiles, tiers with a
//! commission rate each, overrides per product and category, open and targeted
//! collaborations), referral links whose clicks are recorded on the server, the attribution of
//! paid orders to a creator (a code, a show's room, a click; each with why, or refused with
//! why), the commission ledger (pending through a holding period, reversed by refunds and
//! disputes, gifts from live shows credited to their host) and payouts.
//!
//! Every amount is in cents of the shop's currency (AUD). A commission is the line's price
//! after its share of the discount, GST and shipping left out, times the rate in basis points,
//! rounded half up to the cent per line. A refund reverses the order's commission in proportion
//! to the amount refunded (rounded half up, cumulatively, so partial refunds add up to the
//! whole). The ledger is append-only: a creator's balance is the sum of their entries.

pub mod attribution;
pub mod bank;
pub mod codes;
pub mod demo;
pub mod ledger;
pub mod openapi;
pub mod pages;
pub mod payouts;
pub mod profiles;
pub mod routes;
pub mod statements;
pub mod summary;
pub mod tiers;

pub use codes::Code;

use lsn_core::{i18n, SharedClock};
use lsn_db::Db;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// The creators domain's schema steps.
pub const MIGRATIONS: &[lsn_db::Migration] = &[
    lsn_db::Migration::portable(30, "creators", include_str!("../migrations/0030_creators.sql")),
    lsn_payouts::MIGRATION,
    lsn_db::Migration::portable(35, "creator lookups", include_str!("../migrations/0035_creator_indexes.sql")),
    lsn_db::Migration::portable(36, "creator signup lookups", include_str!("../migrations/0036_creator_signup_indexes.sql")),
];

/// The tiers, lowest first.
pub const TIERS: &[&str] = &["bronze", "silver", "gold", "platinum"];
/// The highest commission rate anyone may be given: 80 %.
pub const MAX_RATE_BPS: i64 = 8000;

pub const ORDER_PAID_JOB: &str = "creators.order_paid";
pub const ORDER_REFUNDED_JOB: &str = "creators.order_refunded";
pub const ORDER_DISPUTED_JOB: &str = "creators.order_disputed";
pub const DISPUTE_CLOSED_JOB: &str = "creators.dispute_closed";
pub const GIFT_SENT_JOB: &str = "creators.gift_sent";
pub const GIFT_FUNDING_JOB: &str = "creators.gift_funding";
pub const APPROVE_JOB: &str = "creators.approve_commissions";

#[derive(Debug, thiserror::Error)]
pub enum CreatorsError {
    #[error("invalid input")]
    Validation(Value),
    #[error("{code}: {message}")]
    Rule { code: Code, message: String },
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Db(#[from] lsn_db::Error),
}

impl CreatorsError {
    pub fn rule(code: Code, message: impl Into<String>) -> Self {
        CreatorsError::Rule { code, message: message.into() }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        CreatorsError::Validation(json!({ field: message.into() }))
    }
}

impl lsn_db::TxError for CreatorsError {
    fn as_db(&self) -> Option<&lsn_db::Error> {
        match self {
            CreatorsError::Db(e) => Some(e),
            _ => None,
        }
    }
}

impl From<lsn_live::LiveError> for CreatorsError {
    fn from(e: lsn_live::LiveError) -> Self {
        match e {
            lsn_live::LiveError::Db(e) => CreatorsError::Db(e),
            lsn_live::LiveError::NotFound => CreatorsError::NotFound,
            other => CreatorsError::Db(lsn_db::Error::decode(other.to_string())),
        }
    }
}

impl From<CreatorsError> for lsn_core::ApiError {
    fn from(e: CreatorsError) -> Self {
        use lsn_core::ApiError;
        match e {
            CreatorsError::Validation(v) => ApiError::validation(v),
            CreatorsError::Rule { code, message } => ApiError::new(code.status(), code.as_str(), message),
            CreatorsError::NotFound => ApiError::not_found(),
            CreatorsError::Db(e) if lsn_db::is_unavailable(&e) => ApiError::database_unavailable(e),
            CreatorsError::Db(e) => ApiError::internal(e),
        }
    }
}

/// How attribution picks among a visitor's clicks in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    LastTouch,
    FirstTouch,
}

impl Model {
    pub fn as_str(self) -> &'static str {
        match self {
            Model::LastTouch => "last_touch",
            Model::FirstTouch => "first_touch",
        }
    }

    pub fn parse(s: &str) -> Option<Model> {
        match s {
            "last_touch" => Some(Model::LastTouch),
            "first_touch" => Some(Model::FirstTouch),
            _ => None,
        }
    }
}

/// The programme's settings: defaults from the environment, changed through the admin API
/// (`PUT /api/v1/admin/creators/settings`), each bounded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Days a commission stays pending before it can be paid (1–90; default 30).
    pub hold_days: i64,
    /// Days a click attributes a purchase (1–365; default 30).
    pub window_days: i64,
    pub model: Model,
    /// The smallest payout, in cents (default $50).
    pub minimum_payout: i64,
    /// New customers one browser may bring one creator in 30 days before more are refused.
    pub max_signups_per_device: i64,
    /// New customers one network may bring one creator in 30 days before more are refused.
    pub max_signups_per_network: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            hold_days: 30,
            window_days: 30,
            model: Model::LastTouch,
            minimum_payout: 5000,
            max_signups_per_device: 1,
            max_signups_per_network: 3,
        }
    }
}

/// Each setting's name, bounds and what it says.
pub const SETTINGS: &[(&str, i64, i64)] = &[
    ("hold_days", 1, 90),
    ("window_days", 1, 365),
    ("minimum_payout", 100, 100_000_000),
    ("max_signups_per_device", 1, 1000),
    ("max_signups_per_network", 1, 1000),
];

impl Settings {
    /// The defaults, with the environment's `LSN_CREATOR_HOLD_DAYS`, `LSN_ATTRIBUTION_WINDOW_DAYS`,
    /// `LSN_ATTRIBUTION_MODEL` and `LSN_PAYOUT_MINIMUM` (dollars) where they are set and valid.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Self {
        let mut s = Settings::default();
        let num = |k: &str| get(k).and_then(|v| v.trim().parse::<i64>().ok());
        if let Some(v) = num("LSN_CREATOR_HOLD_DAYS").filter(|v| (1..=90).contains(v)) {
            s.hold_days = v;
        }
        if let Some(v) = num("LSN_ATTRIBUTION_WINDOW_DAYS").filter(|v| (1..=365).contains(v)) {
            s.window_days = v;
        }
        if let Some(m) = get("LSN_ATTRIBUTION_MODEL").as_deref().and_then(Model::parse) {
            s.model = m;
        }
        if let Some(v) = num("LSN_PAYOUT_MINIMUM").filter(|v| (1..=1_000_000).contains(v)) {
            s.minimum_payout = v * 100;
        }
        s
    }

    fn set(&mut self, key: &str, value: &Value) -> Result<(), CreatorsError> {
        if key == "model" {
            self.model = value.as_str().and_then(Model::parse).ok_or_else(|| CreatorsError::field("model", i18n::t("creators-model")))?;
            return Ok(());
        }
        let Some((name, min, max)) = SETTINGS.iter().find(|(n, _, _)| *n == key).copied() else {
            return Err(CreatorsError::field(key, i18n::t("creators-unknown-setting")));
        };
        let v = value.as_i64().filter(|v| (min..=max).contains(v)).ok_or_else(|| {
            CreatorsError::field(name, i18n::t_args("creators-setting-range", &[("min", &min.to_string()), ("max", &max.to_string())]))
        })?;
        match name {
            "hold_days" => self.hold_days = v,
            "window_days" => self.window_days = v,
            "minimum_payout" => self.minimum_payout = v,
            "max_signups_per_device" => self.max_signups_per_device = v,
            _ => self.max_signups_per_network = v,
        }
        Ok(())
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The creators domain.
#[derive(Clone)]
pub struct Creators {
    pub db: Db,
    pub clock: SharedClock,
    pub live: lsn_live::Live,
    pub identity: lsn_identity::Identity,
    pub policies: lsn_ops::Policies,
    pub bank_key: Arc<bank::Key>,
    pub providers: payouts::Providers,
    defaults: Arc<Settings>,
    /// The settings as last read, and when (kept 10 s: every paid order asks for them).
    cached: Arc<std::sync::Mutex<Option<(i64, Settings)>>>,
}

impl Creators {
    pub fn new(
        live: lsn_live::Live,
        identity: lsn_identity::Identity,
        policies: lsn_ops::Policies,
        bank_key: bank::Key,
        providers: payouts::Providers,
        defaults: Settings,
    ) -> Self {
        let (db, clock) = (live.db.clone(), live.clock.clone());
        Self {
            db,
            clock,
            live,
            identity,
            policies,
            bank_key: Arc::new(bank_key),
            providers,
            defaults: Arc::new(defaults),
            cached: Arc::default(),
        }
    }

    /// The settings in force: the defaults with what staff changed (read again after 10 s, or
    /// at once after a change on this node).
    pub async fn settings(&self) -> Result<Settings, CreatorsError> {
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

    async fn read_settings(&self) -> Result<Settings, CreatorsError> {
        let mut s = (*self.defaults).clone();
        for (k, v) in lsn_ops::settings::load(&self.db, "creator_settings").await? {
            // A stored value that no longer checks keeps the default.
            let _ = s.set(&k, &v);
        }
        Ok(s)
    }

    /// Changes settings (staff): every key checked before any is written.
    pub async fn update_settings(&self, patch: &Value, who: &str) -> Result<Settings, CreatorsError> {
        let Some(obj) = patch.as_object().filter(|o| !o.is_empty()) else {
            return Err(CreatorsError::field("settings", i18n::t("creators-settings-object")));
        };
        let mut s = self.read_settings().await?;
        for (k, v) in obj {
            s.set(k, v)?;
        }
        lsn_ops::settings::save(&self.db, "creator_settings", obj, self.clock.now_ms(), who).await?;
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(s)
    }
}

/// `rate_bps` of `base` cents, rounded half up to the cent.
pub fn commission(base: i64, rate_bps: i64) -> i64 {
    if base <= 0 || rate_bps <= 0 {
        return 0;
    }
    let v = (base as i128 * rate_bps as i128 + 5_000) / 10_000;
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// `part / whole` of `amount`, rounded half up (`whole` > 0).
pub fn share(amount: i64, part: i64, whole: i64) -> i64 {
    if whole <= 0 || part <= 0 || amount <= 0 {
        return 0;
    }
    let part = part.min(whole) as i128;
    let v = (amount as i128 * part * 2 + whole as i128) / (whole as i128 * 2);
    i64::try_from(v).unwrap_or(i64::MAX)
}

const DAY_MS: i64 = 86_400_000;

/// Background work: each job calls into the domain and retries on a database error.
struct Job<F>(Creators, F);

#[async_trait::async_trait]
impl<F> lsn_ops::JobHandler for Job<F>
where
    F: Fn(Creators, Value) -> futures_like::BoxFut + Send + Sync,
{
    async fn run(&self, _ctx: &lsn_ops::JobContext, payload: &Value) -> Result<(), lsn_ops::JobError> {
        (self.1)(self.0.clone(), payload.clone()).await.map_err(|e| match e {
            CreatorsError::Db(e) => lsn_ops::JobError::Retry(e.to_string()),
            other => lsn_ops::JobError::Fail(other.to_string()),
        })
    }
}

mod futures_like {
    pub type BoxFut = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), super::CreatorsError>> + Send>>;
}

fn event_order(payload: &Value) -> Result<String, CreatorsError> {
    payload["payload"]["order_id"].as_str().map(str::to_string).ok_or_else(|| CreatorsError::field("order_id", "event without order_id"))
}

fn job<F>(c: &Creators, f: F) -> Arc<dyn lsn_ops::JobHandler>
where
    F: Fn(Creators, Value) -> futures_like::BoxFut + Send + Sync + 'static,
{
    Arc::new(Job(c.clone(), f))
}

impl Creators {
    /// The creators domain as a module.
    pub fn module(&self, identity: &lsn_identity::Identity) -> lsn_ops::Module {
        use lsn_commerce::orders::{ORDER_DISPUTED, ORDER_DISPUTE_CLOSED, ORDER_PAID, ORDER_REFUNDED};
        let (api, table) = routes::api().into_parts();
        let (pages, page_table) = routes::pages().into_parts();
        let state = routes::RouteState { creators: self.clone(), identity: identity.clone() };
        lsn_ops::Module::new("creators")
            .migrations(MIGRATIONS)
            .api(lsn_ops::Routed::new(api.with_state(state.clone()), table))
            .pages(lsn_ops::Routed::new(pages.with_state(state), page_table))
            .openapi(openapi::fragment())
            .nav("/admin/creators", "admin-nav-creators")
            .nav("/admin/creators/payouts", "admin-nav-payouts")
            .summary(Arc::new(summary::Programme(self.clone())))
            .job(ORDER_PAID_JOB, job(self, |c, p| Box::pin(async move { c.attribute_order(&event_order(&p)?).await.map(|_| ()) })))
            .job(ORDER_REFUNDED_JOB, job(self, |c, p| Box::pin(async move { c.order_refunded(&event_order(&p)?).await.map(|_| ()) })))
            .job(
                ORDER_DISPUTED_JOB,
                job(self, |c, p| {
                    Box::pin(async move {
                        let d = p["payload"]["dispute_id"].as_str().unwrap_or("dispute").to_string();
                        c.order_disputed(&event_order(&p)?, &d).await.map(|_| ())
                    })
                }),
            )
            .job(
                DISPUTE_CLOSED_JOB,
                job(self, |c, p| {
                    Box::pin(async move {
                        let won = p["payload"]["status"].as_str() == Some("won");
                        c.dispute_closed(&event_order(&p)?, won).await.map(|_| ())
                    })
                }),
            )
            .job(GIFT_SENT_JOB, job(self, |c, p| Box::pin(async move { c.gift_sent(&p["payload"]).await.map(|_| ()) })))
            .job(GIFT_FUNDING_JOB, job(self, |c, p| Box::pin(async move { c.gift_funding_changed(&p["payload"]).await.map(|_| ()) })))
            .subscribe(lsn_live::gifts::GIFT_SENT, GIFT_SENT_JOB)
            .subscribe(lsn_live::gifts::GIFT_FUNDING_CHANGED, GIFT_FUNDING_JOB)
            .job(payouts::RUN_JOB, job(self, |c, _| Box::pin(async move { c.run_payouts().await.map(|_| ()) })))
            .job(payouts::RECONCILE_JOB, job(self, |c, _| Box::pin(async move { c.reconcile(3_600_000).await.map(|_| ()) })))
            .job(payouts::SANDBOX_JOB, job(self, |c, _| Box::pin(async move { c.sandbox_tick().await.map(|_| ()) })))
            .schedule(lsn_ops::Schedule {
                name: "payout_processing",
                cron: "CRON_TZ=UTC 0 0 2 * * *",
                job_kind: payouts::RUN_JOB,
                payload: json!({}),
                description: "Pay creators their approved balances of at least the minimum, by the payout policy (daily at 2 AM UTC)",
                autonomous: true,
            })
            .schedule(lsn_ops::Schedule {
                name: "payout_reconcile",
                cron: "0 40 * * * *",
                job_kind: payouts::RECONCILE_JOB,
                payload: json!({}),
                description: "Ask the payout provider about payouts submitted over an hour ago whose webhook never came (hourly)",
                autonomous: false,
            })
            .schedule(lsn_ops::Schedule {
                name: "payout_sandbox",
                cron: "*/5 * * * * *",
                job_kind: payouts::SANDBOX_JOB,
                payload: json!({}),
                description: "The payout sandbox's transfers move on and send their webhooks (every 5 s; nothing without the sandbox)",
                autonomous: false,
            })
            .job(tiers::REVIEW_JOB, job(self, |c, _| Box::pin(async move { c.review_tiers().await.map(|_| ()) })))
            .schedule(lsn_ops::Schedule {
                name: "creator_tier_review",
                cron: "0 0 3 1 * *",
                job_kind: tiers::REVIEW_JOB,
                payload: json!({}),
                description: "Propose creator promotions and demotions from the last 90 days' sales, for an admin to confirm (monthly, the 1st at 3 AM)",
                autonomous: true,
            })
            .policy(lsn_ops::builtin::PAYOUT_APPROVAL)
            .alert_type(payouts::APPROVAL_ALERT)
            .raises(&[payouts::APPROVAL_ALERT.name])
            .job(APPROVE_JOB, job(self, |c, _| Box::pin(async move { c.approve_due().await.map(|_| ()) })))
            .subscribe(ORDER_PAID, ORDER_PAID_JOB)
            .subscribe(ORDER_REFUNDED, ORDER_REFUNDED_JOB)
            .subscribe(ORDER_DISPUTED, ORDER_DISPUTED_JOB)
            .subscribe(ORDER_DISPUTE_CLOSED, DISPUTE_CLOSED_JOB)
            .schedule(lsn_ops::Schedule {
                name: "commission_approval",
                cron: "0 15 * * * *",
                job_kind: APPROVE_JOB,
                payload: json!({}),
                description: "Approve commissions and gift earnings whose holding period is over (hourly)",
                autonomous: true,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commissions_round_half_up_per_line() {
        assert_eq!(commission(1000, 1000), 100);
        assert_eq!(commission(1005, 1000), 101); // 100.5 → 101
        assert_eq!(commission(1004, 1000), 100);
        assert_eq!(commission(0, 1000), 0);
        assert_eq!(commission(-5, 1000), 0);
        assert_eq!(commission(i64::MAX, 8000), i64::MAX / 10_000 * 8000 + (i64::MAX % 10_000 * 8000 + 5000) / 10_000);
    }

    #[test]
    fn shares_add_up_to_the_whole() {
        assert_eq!(share(101, 50, 100), 51);
        assert_eq!(share(101, 100, 100), 101);
        assert_eq!(share(101, 200, 100), 101);
        assert_eq!(share(0, 1, 1), 0);
        assert_eq!(share(10, 1, 0), 0);
    }

    #[test]
    fn settings_come_from_the_environment_within_bounds() {
        let s = Settings::from_env(|k| match k {
            "LSN_CREATOR_HOLD_DAYS" => Some("91".into()),
            "LSN_ATTRIBUTION_WINDOW_DAYS" => Some("60".into()),
            "LSN_ATTRIBUTION_MODEL" => Some("first_touch".into()),
            "LSN_PAYOUT_MINIMUM" => Some("25".into()),
            _ => None,
        });
        assert_eq!((s.hold_days, s.window_days, s.model, s.minimum_payout), (30, 60, Model::FirstTouch, 2500));
        let mut s = Settings::default();
        assert!(s.set("hold_days", &json!(0)).is_err());
        assert!(s.set("hold_days", &json!(90)).is_ok());
        assert!(s.set("model", &json!("any")).is_err());
        assert!(s.set("nonsense", &json!(1)).is_err());
    }
}
