//! Live shopping: shows (scheduled → live → ended) with a host and a lineup, and one WebSocket
//! room per show where viewers chat, react and see the pinned product, hosts pin and moderate,
//! and every event carries a sequence number so a viewer who reconnects gets what it missed.
//! The room's timeline is kept for replays. Protocol: `docs/live-protocol.md`.
//!
//! One node serves a room in process; spanning nodes through Redis comes with the scale-out work.

pub mod analytics;
pub mod auctions;
pub mod bus;
pub mod codes;
pub mod coins;
pub use codes::Code;
pub mod deals;
pub mod demo;
pub mod gifts;
pub mod openapi;
pub mod pages;
pub mod room;
pub mod routes;
pub mod shows;
pub mod summary;

pub use room::{Hub, Room};

/// The live domain's schema steps (its earlier tables are in [`lsn_db::HISTORY`]).
pub const MIGRATIONS: &[lsn_db::Migration] = &[
    lsn_db::Migration::portable(26, "live events by time", include_str!("../migrations/0026_live_by_time.sql")),
    lsn_db::Migration::portable(32, "coin lots", include_str!("../migrations/0032_coin_lots.sql")),
];
pub use shows::{Live, LiveError, Show};

pub const CLOSE_AUCTIONS_JOB: &str = "live.close_auctions";
pub const PAYMENT_SUCCEEDED_JOB: &str = "live.payment_succeeded";
/// `order.refunded` → take back the refunded share of a coin pack's coins ([`coins`]).
pub const COINS_REFUNDED_JOB: &str = "live.coins_refunded";
/// `order.disputed` → freeze a coin pack's unspent coins, hold the gifts it funded.
pub const COINS_DISPUTED_JOB: &str = "live.coins_disputed";
/// `order.dispute_closed` → unfreeze and release (won), or drop and claw back (lost).
pub const COINS_DISPUTE_CLOSED_JOB: &str = "live.coins_dispute_closed";

/// `live.close_auctions`: closes every auction whose time is up and offers the item to its
/// winner. The schedule is what closes auctions after a restart (the in-process timer that
/// closes them on time dies with the process).
struct CloseAuctions(Live);

#[async_trait::async_trait]
impl lsn_ops::JobHandler for CloseAuctions {
    async fn run(&self, _ctx: &lsn_ops::JobContext, _payload: &serde_json::Value) -> Result<(), lsn_ops::JobError> {
        self.0.close_due_auctions().await.map(|_| ()).map_err(|e| lsn_ops::JobError::Retry(e.to_string()))
    }
}

/// `order.paid` → everything the live domain does with a paid order, in one job: credit
/// the coins it bought (idempotent per order), then tell its show's room (the purchase ticker).
struct PaymentSucceeded(Live);

#[async_trait::async_trait]
impl lsn_ops::JobHandler for PaymentSucceeded {
    async fn run(&self, _ctx: &lsn_ops::JobContext, payload: &serde_json::Value) -> Result<(), lsn_ops::JobError> {
        let order = payload["payload"]["order_id"].as_str().ok_or_else(|| lsn_ops::JobError::Fail("event without order_id".into()))?;
        self.0.credit_coins_for_order(order).await.map_err(|e| lsn_ops::JobError::Retry(e.to_string()))?;
        self.0.announce_purchase(order).await.map(|_| ()).map_err(|e| lsn_ops::JobError::Retry(e.to_string()))
    }
}

/// A refund or a dispute of an order → its coin lot settled against what commerce now holds of
/// the order (idempotent: a redelivery or a retry finds nothing left to do).
struct SettleCoins(Live);

#[async_trait::async_trait]
impl lsn_ops::JobHandler for SettleCoins {
    async fn run(&self, _ctx: &lsn_ops::JobContext, payload: &serde_json::Value) -> Result<(), lsn_ops::JobError> {
        let order = payload["payload"]["order_id"].as_str().ok_or_else(|| lsn_ops::JobError::Fail("event without order_id".into()))?;
        self.0.settle_coins_for_order(order).await.map(|_| ()).map_err(|e| lsn_ops::JobError::Retry(e.to_string()))
    }
}

impl Live {
    /// The live domain as a module: its API and room socket, and its background work.
    pub fn module(&self, identity: &lsn_identity::Identity) -> lsn_ops::Module {
        let (router, table) = routes::router::<routes::RouteState>().into_parts();
        let state = routes::RouteState { live: self.clone(), identity: identity.clone() };
        let (pages, page_table) = pages::router();
        lsn_ops::Module::new("live")
            .migrations(MIGRATIONS)
            .analytics(std::sync::Arc::new(analytics::Activity(self.db.clone())))
            .api(lsn_ops::Routed::new(router.with_state(state.clone()), table))
            .pages(lsn_ops::Routed::new(pages.with_state(state), page_table))
            .nav("/admin/shows", "admin-nav-shows")
            .openapi(openapi::fragment())
            .summary(std::sync::Arc::new(summary::Shows(self.clone())))
            .undocumented("/api/v1/live/shows/{id}/ws", "the room's WebSocket, described frame by frame in docs/live-protocol.md")
            .job(CLOSE_AUCTIONS_JOB, std::sync::Arc::new(CloseAuctions(self.clone())))
            .job(PAYMENT_SUCCEEDED_JOB, std::sync::Arc::new(PaymentSucceeded(self.clone())))
            .subscribe(lsn_commerce::orders::ORDER_PAID, PAYMENT_SUCCEEDED_JOB)
            .job(COINS_REFUNDED_JOB, std::sync::Arc::new(SettleCoins(self.clone())))
            .job(COINS_DISPUTED_JOB, std::sync::Arc::new(SettleCoins(self.clone())))
            .job(COINS_DISPUTE_CLOSED_JOB, std::sync::Arc::new(SettleCoins(self.clone())))
            .subscribe(lsn_commerce::orders::ORDER_REFUNDED, COINS_REFUNDED_JOB)
            .subscribe(lsn_commerce::orders::ORDER_DISPUTED, COINS_DISPUTED_JOB)
            .subscribe(lsn_commerce::orders::ORDER_DISPUTE_CLOSED, COINS_DISPUTE_CLOSED_JOB)
            .publishes(&[gifts::GIFT_SENT, gifts::GIFT_FUNDING_CHANGED])
            .schedule(lsn_ops::Schedule {
                name: "auction_close",
                cron: "*/5 * * * * *",
                job_kind: CLOSE_AUCTIONS_JOB,
                payload: serde_json::json!({}),
                description: "Close auctions whose time is up and offer the item to the winner (also after a restart)",
                autonomous: false,
            })
    }
}
