//! What other domains may read of an order: its lines, who paid for it, where it was bought and
//! what a show or a deal sold. They call these instead of reading `orders` and `order_items`.

use lsn_db::{Db, RowExt};
use serde_json::Value;

/// Statuses of an order whose payment was taken and kept.
const PAID: &str = "'paid', 'processing', 'shipped', 'delivered'";

/// One line of an order as it was bought (lines never change after checkout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub variant_id: String,
    pub title: String,
    pub quantity: i64,
}

/// The order's lines in the order they were added.
pub async fn lines<'c, E>(ex: E, order_id: &str) -> Result<Vec<Line>, lsn_db::Error>
where
    E: lsn_db::Executor<'c>,
{
    lsn_db::query("SELECT variant_id, title, quantity FROM order_items WHERE order_id = $1 ORDER BY position")
        .bind(order_id)
        .fetch_all(ex)
        .await?
        .iter()
        .map(|r| Ok(Line { variant_id: r.try_get(0)?, title: r.try_get(1)?, quantity: r.try_get(2)? }))
        .collect()
}

/// The buyer of a paid order: `None` when the order is unknown or not (or no longer) paid,
/// `Some(None)` for a guest's order.
pub async fn paid_buyer<'c, E>(ex: E, order_id: &str) -> Result<Option<Option<String>>, lsn_db::Error>
where
    E: lsn_db::Executor<'c>,
{
    lsn_db::query(&format!("SELECT user_id FROM orders WHERE id = $1 AND status IN ({PAID})"))
        .bind(order_id)
        .fetch_optional(ex)
        .await?
        .map(|r| r.try_get(0))
        .transpose()
}

/// Where an order was bought: the live show it came from (if any) and the shipping suburb (the
/// one part of an address a room may hear).
pub async fn origin(db: &Db, order_id: &str) -> Result<Option<(Option<String>, String)>, lsn_db::Error> {
    let Some(r) =
        lsn_db::query("SELECT show_id, shipping_address FROM orders WHERE id = $1").bind(order_id).fetch_optional(db.read()).await?
    else {
        return Ok(None);
    };
    let (show, address): (Option<String>, String) = (r.try_get(0)?, r.try_get(1)?);
    let suburb = serde_json::from_str::<Value>(&address).ok().and_then(|a| a["suburb"].as_str().map(str::to_string)).unwrap_or_default();
    Ok(Some((show, suburb)))
}

/// Orders for a deal that are paid or past paid (not cancelled, not waiting for payment).
pub async fn paid_for_offer(db: &Db, offer_id: &str) -> Result<i64, lsn_db::Error> {
    lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE offer_id = $1 AND status NOT IN ('cancelled', 'pending_payment')")
        .bind(offer_id)
        .fetch_one(db.read())
        .await?
        .try_get(0)
}

/// Orders placed from any live room and paid in `[from, until)`: their number and takings net
/// of refunds.
pub async fn live_sales(db: &Db, from: i64, until: i64) -> Result<(i64, i64), lsn_db::Error> {
    let r = lsn_db::query(
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(amount_paid - amount_refunded), 0) AS BIGINT) FROM orders WHERE show_id IS NOT NULL AND paid_at >= $1 AND paid_at < $2",
    )
    .bind(from)
    .bind(until)
    .fetch_one(db.read())
    .await?;
    Ok((r.try_get(0)?, r.try_get(1)?))
}

/// A show's sales: the number of paid orders placed from its room and their takings net of
/// refunds.
pub async fn show_sales(db: &Db, show_id: &str) -> Result<(i64, i64), lsn_db::Error> {
    let r = lsn_db::query(
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(amount_paid - amount_refunded), 0) AS BIGINT) FROM orders WHERE show_id = $1 AND paid_at IS NOT NULL",
    )
    .bind(show_id)
    .fetch_one(db.read())
    .await?;
    Ok((r.try_get(0)?, r.try_get(1)?))
}

/// What the creators domain needs of a sale to attribute it and price its commission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sale {
    pub order_id: String,
    pub number: String,
    pub user_id: Option<String>,
    pub email: String,
    pub customer_key: String,
    pub show_id: Option<String>,
    pub discount_code_id: Option<String>,
    pub visitor_id: Option<String>,
    pub network: Option<String>,
    pub currency: String,
    pub amount_paid: i64,
    pub amount_refunded: i64,
    pub paid_at: Option<i64>,
    pub placed_at: i64,
    pub lines: Vec<SaleLine>,
}

/// One line of a sale: what was paid for it after its share of the discount, GST and shipping
/// left out (what a commission is a share of).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleLine {
    pub item_id: String,
    pub variant_id: String,
    pub title: String,
    pub quantity: i64,
    pub net: i64,
}

/// A paid (or past paid) order as a sale; `None` when it is unknown or was never paid.
pub async fn sale(db: &Db, order_id: &str) -> Result<Option<Sale>, lsn_db::Error> {
    let Some(r) = lsn_db::query(
        "SELECT id, number, user_id, email, customer_key, show_id, discount_code_id, visitor_id, network, currency, amount_paid, amount_refunded, paid_at, placed_at \
         FROM orders WHERE id = $1 AND paid_at IS NOT NULL",
    )
    .bind(order_id)
    .fetch_optional(db.read())
    .await?
    else {
        return Ok(None);
    };
    let lines = lsn_db::query(
        "SELECT id, variant_id, title, quantity, line_total - line_discount - gst FROM order_items WHERE order_id = $1 ORDER BY position",
    )
    .bind(order_id)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|l| {
        Ok(SaleLine {
            item_id: l.try_get(0)?,
            variant_id: l.try_get(1)?,
            title: l.try_get(2)?,
            quantity: l.try_get(3)?,
            net: l.try_get(4)?,
        })
    })
    .collect::<Result<Vec<_>, lsn_db::Error>>()?;
    Ok(Some(Sale {
        order_id: r.try_get(0)?,
        number: r.try_get(1)?,
        user_id: r.try_get(2)?,
        email: r.try_get(3)?,
        customer_key: r.try_get(4)?,
        show_id: r.try_get(5)?,
        discount_code_id: r.try_get(6)?,
        visitor_id: r.try_get(7)?,
        network: r.try_get(8)?,
        currency: r.try_get(9)?,
        amount_paid: r.try_get(10)?,
        amount_refunded: r.try_get(11)?,
        paid_at: r.try_get(12)?,
        placed_at: r.try_get(13)?,
        lines,
    }))
}

/// What a fraud check reads of an order, paid or not: who placed it, from where, to where, and
/// what was in it. `None` for an unknown order.
#[derive(Debug, Clone, PartialEq)]
pub struct Screening {
    pub order_id: String,
    pub number: String,
    pub status: String,
    pub user_id: Option<String>,
    pub email: String,
    pub customer_key: String,
    pub visitor_id: Option<String>,
    /// The browser: its visitor cookie, else its cart's (a deal bought without a cart has none).
    pub device: Option<String>,
    pub network: Option<String>,
    pub shipping_address: Value,
    pub subtotal: i64,
    pub discount_total: i64,
    pub total: i64,
    /// The most units of one line.
    pub max_quantity: i64,
    /// A limited offer (a flash deal) it bought, and the show it was bought in.
    pub offer_id: Option<String>,
    pub show_id: Option<String>,
    pub placed_at: i64,
    pub paid_at: Option<i64>,
    pub card: Option<String>,
}

pub async fn screening(db: &Db, order_id: &str) -> Result<Option<Screening>, lsn_db::Error> {
    let Some(r) = lsn_db::query(
        "SELECT o.id, o.number, o.status, o.user_id, o.email, o.customer_key, o.visitor_id, o.network, o.shipping_address, o.subtotal, o.discount_total, o.total, \
         CAST(COALESCE((SELECT MAX(quantity) FROM order_items i WHERE i.order_id = o.id), 0) AS BIGINT), o.offer_id, o.show_id, o.placed_at, o.paid_at, \
         (SELECT p.card_brand || ':' || p.card_last4 FROM payments p WHERE p.order_id = o.id AND p.card_last4 IS NOT NULL ORDER BY p.updated_at DESC LIMIT 1), \
         COALESCE(o.visitor_id, o.cart_id) \
         FROM orders o WHERE o.id = $1",
    )
    .bind(order_id)
    .fetch_optional(db.read())
    .await?
    else {
        return Ok(None);
    };
    let addr: String = r.try_get(8)?;
    Ok(Some(Screening {
        order_id: r.try_get(0)?,
        number: r.try_get(1)?,
        status: r.try_get(2)?,
        user_id: r.try_get(3)?,
        email: r.try_get(4)?,
        customer_key: r.try_get(5)?,
        visitor_id: r.try_get(6)?,
        network: r.try_get(7)?,
        shipping_address: serde_json::from_str(&addr).unwrap_or(Value::Null),
        subtotal: r.try_get(9)?,
        discount_total: r.try_get(10)?,
        total: r.try_get(11)?,
        max_quantity: r.try_get(12)?,
        offer_id: r.try_get(13)?,
        show_id: r.try_get(14)?,
        placed_at: r.try_get(15)?,
        paid_at: r.try_get(16)?,
        card: r.try_get(17)?,
        device: r.try_get(18)?,
    }))
}

/// Orders the customer (`customer_key`) paid before `before` (a first order has none).
pub async fn earlier_orders(db: &Db, customer_key: &str, before: i64) -> Result<i64, lsn_db::Error> {
    lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE customer_key = $1 AND paid_at IS NOT NULL AND placed_at < $2")
        .bind(customer_key)
        .bind(before)
        .fetch_one(db.read())
        .await?
        .try_get(0)
}

/// What an order brought in and what of it went back for good: `(amount_paid, refunded)`, where
/// `refunded` leaves out refunds still waiting for the provider's answer (a refund that fails
/// gives its amount back). `None` for an unknown order.
pub async fn refunded<'c, E>(ex: E, order_id: &str) -> Result<Option<(i64, i64)>, lsn_db::Error>
where
    E: lsn_db::Executor<'c>,
{
    lsn_db::query(
        "SELECT o.amount_paid, CAST(o.amount_refunded - COALESCE((SELECT SUM(r.amount) FROM refunds r WHERE r.order_id = o.id AND r.status = 'pending'), 0) AS BIGINT) \
         FROM orders o WHERE o.id = $1",
    )
    .bind(order_id)
    .fetch_optional(ex)
    .await?
    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
    .transpose()
}

/// A dispute (chargeback) of an order as the provider last described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispute {
    pub id: String,
    /// The provider's status: while open `needs_response`, `under_review`, `warning_…`; once
    /// closed `won`, `lost`, `warning_closed`, `charge_refunded`, `prevented`, …
    pub status: String,
    pub closed: bool,
}

/// An order's disputes, oldest first.
pub async fn disputes<'c, E>(ex: E, order_id: &str) -> Result<Vec<Dispute>, lsn_db::Error>
where
    E: lsn_db::Executor<'c>,
{
    lsn_db::query("SELECT id, status, closed_at FROM disputes WHERE order_id = $1 ORDER BY opened_at, id")
        .bind(order_id)
        .fetch_all(ex)
        .await?
        .iter()
        .map(|r| Ok(Dispute { id: r.try_get(0)?, status: r.try_get(1)?, closed: r.try_get::<Option<i64>, _>(2)?.is_some() }))
        .collect()
}
