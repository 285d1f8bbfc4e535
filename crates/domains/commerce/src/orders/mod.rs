//! Orders: checkout, payment, the state machine, refunds, disputes, expiry.
//!
//! States: `pending_payment → paid → processing → shipped → delivered`, `cancelled`, `refunded`,
//! `partially_refunded`. Every change goes through [`transition`], a conditional update on the
//! expected current state plus a row in `order_transitions` (actor, reason, time), in the same
//! transaction as its effects and its domain event.
//!
//! The parts: [`state`] (the states, the table of moves, [`transition`]), [`checkout`] (an order
//! placed from a cart or a deal), [`payment`] (the intent, paying, cancelling, the provider's
//! events), [`refunds`], and [`jobs`] (expiry, retries and the subscribers of `order.paid` and
//! `order.disputed`).

mod checkout;
mod jobs;
mod payment;
pub mod read;
mod refunds;
mod state;

pub(crate) use jobs::dispute_task;
pub use jobs::*;
pub use payment::apply_event;
pub use refunds::Refunded;
use refunds::{refund_unowed, settle_refund_status};
use state::record;
pub use state::{order_number, transition, OrderStatus, UnknownStatus};

use crate::address::Address;
use crate::buyers::{self, Buyer};
use crate::payments::{Cancelled, Confirmation, IntentRequest, PaymentMethod};
use crate::pricing::{self, Discount, LineIn};
use crate::{cart, discounts, offers, Code, Commerce, CommerceError, RESERVATION_MS};
use lsn_db::{Row, RowExt, Tx};
use lsn_ops::jobs::{JobContext, JobError, JobHandler, NewJob};
use lsn_warehouse::stock;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub const EXPIRE_JOB: &str = "orders.expire_reservations";
pub const CANCEL_INTENT_JOB: &str = "payments.cancel_intent";
pub const REFUND_JOB: &str = "payments.refund";
/// Cancels an order whose payment failed (unless a retry of the payment is on its way).
pub const CANCEL_FAILED_JOB: &str = "orders.cancel_after_failed_payment";

pub const ORDER_PLACED: &str = "order.placed";
pub const ORDER_CANCELLED: &str = "order.cancelled";
/// An order was paid in full: the payment and the order changed, nothing else. The confirmation
/// mail, the cart's cleanup, the live room's ticker and the coins it bought follow from it.
pub const ORDER_PAID: &str = "order.paid";
pub const PAYMENT_FAILED: &str = "payment.failed";
pub const ORDER_REFUNDED: &str = "order.refunded";
pub const ORDER_DISPUTED: &str = "order.disputed";
pub const ORDER_DISPUTE_CLOSED: &str = "order.dispute_closed";
/// When the refund job first looks at a refund: after the request's own attempts are over.
const REFUND_RETRY_MS: i64 = 60_000;

/// Totals or prices a client sends along are ignored: the server prices every order.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutInput {
    #[serde(default)]
    pub email: Option<String>,
    pub shipping_address: Address,
    #[serde(default = "standard")]
    pub shipping_method: String,
    #[serde(default)]
    pub discount_code: Option<String>,
}

fn standard() -> String {
    "standard".into()
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderItem {
    pub variant_id: String,
    pub sku: String,
    pub title: String,
    pub unit_price: i64,
    pub quantity: i64,
    pub line_total: i64,
    pub line_discount: i64,
    pub gst: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Transition {
    pub from: Option<String>,
    pub to: String,
    pub actor: String,
    pub reason: String,
    pub at: i64,
}

lsn_db::id!(
    /// An order's id.
    pub OrderId
);

#[derive(Debug, Clone, Serialize)]
pub struct Order {
    pub id: OrderId,
    pub number: String,
    pub user_id: Option<String>,
    pub email: String,
    pub status: OrderStatus,
    pub channel: String,
    pub currency: String,
    pub subtotal: i64,
    pub discount_total: i64,
    pub shipping_total: i64,
    pub gst_total: i64,
    pub total: i64,
    pub amount_paid: i64,
    pub amount_refunded: i64,
    pub shipping_method: String,
    pub shipping_address: Value,
    pub disputed: bool,
    pub payout_hold: bool,
    pub reserved_until: i64,
    pub placed_at: i64,
    pub paid_at: Option<i64>,
    pub items: Vec<OrderItem>,
    pub transitions: Vec<Transition>,
    pub payment: Option<Value>,
}

const ORDER_COLS: &str = "id, number, user_id, email, status, channel_code, currency, subtotal, discount_total, shipping_total, gst_total, total, amount_paid, amount_refunded, shipping_method, shipping_address, disputed, payout_hold, reserved_until, placed_at, paid_at";

/// An order from a row of [`ORDER_COLS`], its columns read by name.
fn order_from(r: &Row) -> Result<Order, lsn_db::Error> {
    let addr: String = r.try_get("shipping_address")?;
    Ok(Order {
        id: r.try_parse("id")?,
        number: r.try_get("number")?,
        user_id: r.try_get("user_id")?,
        email: r.try_get("email")?,
        status: r.try_parse("status")?,
        channel: r.try_get("channel_code")?,
        currency: r.try_get("currency")?,
        subtotal: r.try_get("subtotal")?,
        discount_total: r.try_get("discount_total")?,
        shipping_total: r.try_get("shipping_total")?,
        gst_total: r.try_get("gst_total")?,
        total: r.try_get("total")?,
        amount_paid: r.try_get("amount_paid")?,
        amount_refunded: r.try_get("amount_refunded")?,
        shipping_method: r.try_get("shipping_method")?,
        shipping_address: serde_json::from_str(&addr).unwrap_or(Value::Null),
        disputed: r.try_get::<i64, _>("disputed")? == 1,
        payout_hold: r.try_get::<i64, _>("payout_hold")? == 1,
        reserved_until: r.try_get("reserved_until")?,
        placed_at: r.try_get("placed_at")?,
        paid_at: r.try_get("paid_at")?,
        items: Vec::new(),
        transitions: Vec::new(),
        payment: None,
    })
}

/// What an order is made from.
#[derive(Debug, Clone)]
pub enum Source {
    Cart(String),
    Offer { offer_id: String, quantity: i64 },
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckoutResult {
    pub order: Order,
    pub payment: Value,
    /// For a guest: the token that shows this order again (`X-Order-Token`). Shown once.
    pub order_token: Option<String>,
}

/// Who is asking about an order.
#[derive(Debug, Clone)]
pub enum Viewer {
    Staff,
    Customer(String),
    Guest(String),
}

impl Commerce {
    pub async fn order(&self, id_or_number: &str, viewer: &Viewer) -> Result<Order, CommerceError> {
        let row = lsn_db::query(&format!("SELECT {ORDER_COLS}, access_hash FROM orders WHERE id = $1 OR number = $1"))
            .bind(id_or_number)
            .fetch_optional(self.db.read())
            .await?;
        let Some(row) = row else { return Err(CommerceError::NotFound) };
        let mut o = order_from(&row)?;
        let access: Option<String> = row.try_get("access_hash")?;
        let visible = match viewer {
            Viewer::Staff => true,
            Viewer::Customer(uid) => o.user_id.as_deref() == Some(uid),
            Viewer::Guest(token) => access.is_some_and(|h| h == lsn_core::ids::hash_token(token)),
        };
        if !visible {
            // Not "forbidden": another customer's order number reveals nothing.
            return Err(CommerceError::NotFound);
        }
        let items = lsn_db::query("SELECT variant_id, sku, title, unit_price, quantity, line_total, line_discount, gst FROM order_items WHERE order_id = $1 ORDER BY position").bind(&o.id).fetch_all(self.db.read()).await?;
        o.items = items
            .iter()
            .map(|r| {
                Ok(OrderItem {
                    variant_id: r.try_get(0)?,
                    sku: r.try_get(1)?,
                    title: r.try_get(2)?,
                    unit_price: r.try_get(3)?,
                    quantity: r.try_get(4)?,
                    line_total: r.try_get(5)?,
                    line_discount: r.try_get(6)?,
                    gst: r.try_get(7)?,
                })
            })
            .collect::<Result<_, lsn_db::Error>>()?;
        let ts =
            lsn_db::query("SELECT from_status, to_status, actor, reason, at FROM order_transitions WHERE order_id = $1 ORDER BY at, id")
                .bind(&o.id)
                .fetch_all(self.db.read())
                .await?;
        o.transitions = ts
            .iter()
            .map(|r| {
                Ok(Transition { from: r.try_get(0)?, to: r.try_get(1)?, actor: r.try_get(2)?, reason: r.try_get(3)?, at: r.try_get(4)? })
            })
            .collect::<Result<_, lsn_db::Error>>()?;
        let p = lsn_db::query("SELECT provider, intent_id, client_secret, status, last_error, card_last4 FROM payments WHERE order_id = $1 ORDER BY created_at DESC LIMIT 1").bind(&o.id).fetch_optional(self.db.read()).await?;
        if let Some(p) = p {
            let intent: String = p.try_get(1)?;
            let mine = !matches!(viewer, Viewer::Staff);
            o.payment = Some(json!({
                "provider": p.try_get::<String, _>(0)?,
                "intent_id": if intent.starts_with("pending_") { None } else { Some(intent) },
                "client_secret": if mine && o.status == OrderStatus::PendingPayment { p.try_get::<Option<String>, _>(2)? } else { None },
                "status": p.try_get::<String, _>(3)?,
                "last_error": p.try_get::<Option<String>, _>(4)?,
                "card_last4": p.try_get::<Option<String>, _>(5)?,
            }));
        }
        Ok(o)
    }

    /// Every order paid since `since` (Unix ms): when, and what it brought in after refunds (the
    /// admin's dashboard). A long read, off the request threads.
    pub async fn paid_since(&self, since: i64) -> Result<Vec<(i64, i64)>, CommerceError> {
        let rows = lsn_db::query("SELECT paid_at, amount_paid - amount_refunded FROM orders WHERE paid_at >= $1")
            .bind(since)
            .fetch_all(lsn_db::Slow(self.db.read()))
            .await?;
        Ok(rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect::<Result<_, lsn_db::Error>>()?)
    }

    /// Orders newest first: a customer's own, or (staff) everyone's with an optional status.
    pub async fn orders(
        &self,
        user_id: Option<&str>,
        status: Option<OrderStatus>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Order>, CommerceError> {
        let rows = lsn_db::query(&format!("SELECT {ORDER_COLS} FROM orders WHERE ($1 = '' OR user_id = $1) AND ($2 = '' OR status = $2) AND placed_at < $3 ORDER BY placed_at DESC, id DESC LIMIT $4"))
            .bind(user_id.unwrap_or(""))
            .bind(status.map_or("", OrderStatus::as_str))
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit.clamp(1, 200))
            .fetch_all(self.db.read())
            .await?;
        Ok(rows.iter().map(order_from).collect::<Result<_, _>>()?)
    }
}

/// An order's lines as (variant, quantity).
pub(super) async fn order_lines(tx: &mut Tx, order_id: &str) -> Result<Vec<(String, i64)>, lsn_db::Error> {
    lsn_db::query("SELECT variant_id, quantity FROM order_items WHERE order_id = $1")
        .bind(order_id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

pub(super) async fn open_task(tx: &mut Tx, now: i64, kind: &str, title: &str, detail: &str, reference: &str) -> Result<(), lsn_db::Error> {
    lsn_ops::tasks::open(tx, now, kind, title, detail, reference).await
}
