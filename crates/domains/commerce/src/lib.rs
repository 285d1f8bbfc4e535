//! Commerce: carts, checkout, discount codes, GST, payments, orders, refunds and disputes — the
//! runbook's order flow from browse to a paid order ready to fulfil.
//!
//! Invariants this crate keeps, each enforced by the database and proven by a concurrency test:
//! stock is taken by one conditional update (never oversold); discount limits are counters
//! updated conditionally (never exceeded); a webhook event applies once (its id is the key of the
//! row written with its effects); a repeated `Idempotency-Key` returns the first answer.

pub mod address;
pub mod analytics;
pub mod monitoring;
pub mod recovery;

/// Commerce's schema steps (its earlier tables are in [`lsn_db::HISTORY`]).
pub const MIGRATIONS: &[lsn_db::Migration] = &[
    lsn_db::Migration::portable(19, "cart recovery", include_str!("../migrations/0019_cart_recovery.sql")),
    lsn_db::Migration::portable(25, "orders by paid time", include_str!("../migrations/0025_orders_paid_at.sql")),
    lsn_db::Migration::portable(33, "order visitor", include_str!("../migrations/0033_order_visitor.sql")),
    lsn_db::Migration::portable(37, "orders by customer", include_str!("../migrations/0037_orders_by_customer.sql")),
];
pub mod admin;
pub mod badge;
pub mod buyers;
pub mod cart;
pub mod codes;
pub mod demo;
pub mod discounts;
pub mod idempotency;
pub mod offers;
pub mod openapi;
pub mod orders;
pub mod pages;
pub mod payments;
pub mod pricing;
pub mod routes;
pub use codes::Code;
pub mod summary;

use lsn_core::i18n;
use lsn_core::{ApiError, Config, SharedClock};
use lsn_db::Db;
use payments::PaymentProvider;
use serde_json::Value;
use std::sync::Arc;

/// The webhook secret the sandbox signs with when `STRIPE_WEBHOOK_SECRET` is unset.
pub const DEV_WEBHOOK_SECRET: &str = "whsec_lsn_development";
/// How long checkout holds stock for a buyer.
pub const RESERVATION_MS: i64 = 15 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum CommerceError {
    #[error("invalid input")]
    Validation(Value),
    #[error("{code}: {message}")]
    Rule { code: Code, message: String },
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("payment provider: {0}")]
    Provider(String),
    #[error(transparent)]
    Db(#[from] lsn_db::Error),
    #[error("{0}")]
    Internal(String),
    #[error("too many attempts")]
    RateLimited { retry_after_secs: u64 },
}

/// Checkouts per customer (signed-in user, cart, or guest email) in [`LIMIT_WINDOW_MS`].
pub const CHECKOUT_LIMIT: usize = 30;
/// Payment attempts per order in [`LIMIT_WINDOW_MS`] (card testing tries many cards on one order).
pub const PAY_LIMIT: usize = 10;
pub const LIMIT_WINDOW_MS: i64 = 10 * 60 * 1000;

/// Sliding-window limits on checkouts and payment attempts (shared across nodes with Redis).
#[derive(Debug)]
pub struct Limits {
    pub checkout: Arc<lsn_ops::limit::RateLimit>,
    pub pay: Arc<lsn_ops::limit::RateLimit>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            checkout: Arc::new(lsn_ops::limit::RateLimit::new("checkout", CHECKOUT_LIMIT, LIMIT_WINDOW_MS)),
            pay: Arc::new(lsn_ops::limit::RateLimit::new("payment_attempts", PAY_LIMIT, LIMIT_WINDOW_MS)),
        }
    }
}

impl CommerceError {
    pub fn rule(code: Code, message: impl Into<String>) -> Self {
        CommerceError::Rule { code, message: message.into() }
    }
}

impl lsn_db::TxError for CommerceError {
    fn as_db(&self) -> Option<&lsn_db::Error> {
        match self {
            CommerceError::Db(e) => Some(e),
            _ => None,
        }
    }
}

impl From<lsn_warehouse::stock::StockError> for CommerceError {
    fn from(e: lsn_warehouse::stock::StockError) -> Self {
        use lsn_warehouse::stock::StockError;
        match e {
            StockError::Insufficient { variant_id, available } => CommerceError::rule(
                Code::OutOfStock,
                i18n::t_args("commerce-out-of-stock-of", &[("available", &available.to_string()), ("variant", &variant_id)]),
            ),
            StockError::UnknownBin(b) => CommerceError::rule(Code::UnknownBin, i18n::t_args("commerce-unknown-bin", &[("bin", &b)])),
            StockError::BadQuantity => CommerceError::rule(Code::InvalidQuantity, i18n::t("commerce-bad-quantity")),
            StockError::Db(e) => CommerceError::Db(e),
        }
    }
}

impl From<lsn_core::money::OutOfRange> for CommerceError {
    fn from(_: lsn_core::money::OutOfRange) -> Self {
        CommerceError::rule(Code::AmountOutOfRange, i18n::t("commerce-amount-out-of-range"))
    }
}

impl From<lsn_catalog::CatalogError> for CommerceError {
    fn from(e: lsn_catalog::CatalogError) -> Self {
        match e {
            lsn_catalog::CatalogError::Validation(v) => CommerceError::Validation(v),
            lsn_catalog::CatalogError::NotFound => CommerceError::NotFound,
            lsn_catalog::CatalogError::Duplicate(w) => CommerceError::rule(
                if w == "sku" { Code::DuplicateSku } else { Code::DuplicateSlug },
                i18n::t_args("commerce-duplicate", &[("what", w)]),
            ),
            lsn_catalog::CatalogError::Db(e) => CommerceError::Db(e),
        }
    }
}

impl From<CommerceError> for ApiError {
    fn from(e: CommerceError) -> Self {
        match e {
            CommerceError::Validation(v) => ApiError::validation(v),
            CommerceError::Rule { code, message } => ApiError::new(code.status(), code.as_str(), message),
            CommerceError::NotFound => ApiError::not_found(),
            CommerceError::Forbidden => ApiError::forbidden(),
            CommerceError::Provider(m) => {
                tracing::warn!("payment provider: {m}");
                ApiError::unavailable("payment_provider_unavailable", i18n::t("commerce-provider-unavailable"))
            }
            CommerceError::Db(e) if lsn_db::is_unavailable(&e) => ApiError::database_unavailable(e),
            CommerceError::Db(e) => ApiError::internal(e),
            CommerceError::Internal(e) => ApiError::internal(e),
            CommerceError::RateLimited { retry_after_secs } => ApiError::too_many(retry_after_secs),
        }
    }
}

/// The commerce service, cheap to clone (one reference count).
#[derive(Clone)]
pub struct Commerce(std::sync::Arc<CommerceParts>);

impl std::ops::Deref for Commerce {
    type Target = CommerceParts;
    fn deref(&self) -> &CommerceParts {
        &self.0
    }
}

/// What a [`Commerce`] holds (reached through it by `Deref`).
pub struct CommerceParts {
    pub db: Db,
    pub cfg: Arc<Config>,
    pub clock: SharedClock,
    pub catalog: lsn_catalog::Catalog,
    pub provider: Arc<dyn PaymentProvider>,
    pub sandbox: Option<payments::sandbox::Sandbox>,
    pub webhook_secret: String,
    pub media: lsn_catalog::media::MediaStore,
    pub limits: Arc<Limits>,
    pub deals_in_flight: Arc<offers::InFlight>,
}

impl Commerce {
    /// Commerce with its payment provider: Stripe behind its circuit breaker (from `healing`)
    /// when `STRIPE_SECRET_KEY` is set, else the sandbox.
    pub fn new(db: Db, cfg: Arc<Config>, clock: SharedClock, healing: &lsn_ops::healing::Healing) -> Self {
        let catalog = lsn_catalog::Catalog::new(db.clone(), clock.clone());
        let (provider, sandbox): (Arc<dyn PaymentProvider>, _) = match cfg.provider("STRIPE_SECRET_KEY") {
            Some(key) => (
                Arc::new(payments::Guarded {
                    inner: Arc::new(payments::stripe::Stripe::new(
                        key.clone(),
                        cfg.provider("STRIPE_API_BASE").map(|s| s.expose()),
                        cfg.provider_timeout,
                    )),
                    breaker: healing.breaker("stripe", lsn_ops::healing::BreakerConfig::default()),
                }),
                None,
            ),
            None => {
                let s = payments::sandbox::Sandbox::new(db.clone(), clock.clone());
                (Arc::new(s.clone()), Some(s))
            }
        };
        let webhook_secret =
            cfg.provider("STRIPE_WEBHOOK_SECRET").map(|s| s.expose().to_string()).unwrap_or_else(|| DEV_WEBHOOK_SECRET.to_string());
        let media = lsn_catalog::media::MediaStore::from_config(&cfg);
        Self(Arc::new(CommerceParts {
            db,
            cfg,
            clock,
            catalog,
            provider,
            sandbox,
            webhook_secret,
            media,
            limits: Arc::new(Limits::default()),
            deals_in_flight: Arc::default(),
        }))
    }

    /// Commerce as a module: its API (catalog, stock, cart, checkout, orders, the webhook) and
    /// its background work: the sandbox's event delivery, reservation expiry, the retry of
    /// deferred webhook events, cancelling abandoned payment intents and finishing refunds.
    pub fn module(&self, identity: &lsn_identity::Identity) -> lsn_ops::Module {
        use lsn_ops::Schedule;
        let (router, table) = routes::router::<routes::RouteState>().into_parts();
        let state = routes::RouteState { commerce: self.clone(), identity: identity.clone() };
        let (pages, mut page_table) = pages::router::<routes::RouteState>();
        let (admin_pages, admin_table) = admin::router::<routes::RouteState>();
        page_table.extend(admin_table);
        let pages = pages.merge(admin_pages);
        let mut m = lsn_ops::Module::new("commerce")
            .api(lsn_ops::Routed::new(router.with_state(state.clone()), table))
            .pages(lsn_ops::Routed::new(pages.with_state(state), page_table))
            .openapi(openapi::fragment())
            .undocumented("/media/{key}", "product images' bytes, not JSON")
            .summary(Arc::new(summary::Orders(self.clone())))
            .analytics(Arc::new(analytics::Sales(self.db.clone())))
            .alert_type(monitoring::PAYMENT_FAILED)
            .metric_source(Arc::new(monitoring::FailedPayments(self.db.clone())))
            .limit(self.limits.checkout.clone())
            .limit(self.limits.pay.clone())
            .undocumented("/api/sandbox/3ds/{intent}", "the payment sandbox's 3-D Secure challenge page, shown to a person")
            .job(payments::sandbox::EVENT_JOB, Arc::new(payments::sandbox::EventJob { commerce: self.clone() }))
            .job(orders::EXPIRE_JOB, Arc::new(orders::ExpireJob { commerce: self.clone() }))
            .job(payments::webhook::RETRY_JOB, Arc::new(payments::webhook::RetryJob { commerce: self.clone() }))
            .job(orders::CANCEL_INTENT_JOB, Arc::new(orders::CancelIntentJob { commerce: self.clone() }))
            .job(orders::CANCEL_FAILED_JOB, Arc::new(orders::CancelFailedJob { commerce: self.clone() }))
            .job(orders::REFUND_JOB, Arc::new(orders::RefundJob { commerce: self.clone() }))
            .job(idempotency::CLEANUP_JOB, Arc::new(idempotency::CleanupJob { db: self.db.clone() }))
            .job(orders::ORDER_PAID_JOB, Arc::new(orders::OrderPaid { commerce: self.clone() }))
            .job(orders::DISPUTE_TASK_JOB, Arc::new(orders::DisputeTask { commerce: self.clone() }))
            .subscribe(orders::ORDER_PAID, orders::ORDER_PAID_JOB)
            .subscribe(orders::ORDER_DISPUTED, orders::DISPUTE_TASK_JOB)
            .enqueues(&[payments::sandbox::EVENT_JOB, orders::CANCEL_INTENT_JOB, orders::CANCEL_FAILED_JOB, orders::REFUND_JOB])
            .schedule(Schedule {
                name: "reservation_expiry",
                cron: "0 * * * * *",
                job_kind: orders::EXPIRE_JOB,
                payload: serde_json::json!({}),
                description:
                    "Cancel unpaid orders whose 15-minute stock reservation ran out, giving back their stock, deal units and discount uses",
                autonomous: false,
            })
            .schedule(Schedule {
                name: "webhook_retry",
                cron: "30 * * * * *",
                job_kind: payments::webhook::RETRY_JOB,
                payload: serde_json::json!({}),
                description: "Apply deferred payment events whose predecessor has arrived; expire those older than 3 days",
                autonomous: false,
            })
            .schedule(Schedule {
                name: "idempotency_cleanup",
                cron: "0 41 * * * *",
                job_kind: idempotency::CLEANUP_JOB,
                payload: serde_json::json!({}),
                description: "Delete Idempotency-Key records older than 24 hours",
                autonomous: false,
            })
            .migrations(MIGRATIONS)
            .job(recovery::ABANDONED_CARTS_JOB, Arc::new(recovery::AbandonedCarts(self.clone())))
            .schedule(recovery::schedule())
            .publishes(TOPICS)
            .external(orders::ORDER_PLACED, "the order's event record; the fraud check (risk) subscribes")
            .external(orders::ORDER_CANCELLED, "the order's event record; fulfilment (#18) and operations (#15) subscribe")
            .external(orders::PAYMENT_FAILED, "the order's event record; risk (#17) and alerts (#15) subscribe");
        for (path, label) in admin::NAV {
            m = m.nav(path, label);
        }
        m
    }
}

/// Every topic commerce publishes.
pub const TOPICS: &[&str] = &[
    orders::ORDER_PLACED,
    orders::ORDER_CANCELLED,
    orders::ORDER_PAID,
    orders::PAYMENT_FAILED,
    orders::ORDER_REFUNDED,
    orders::ORDER_DISPUTED,
    orders::ORDER_DISPUTE_CLOSED,
];
