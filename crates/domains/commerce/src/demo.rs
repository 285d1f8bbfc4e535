//! The demo shop's past orders (issue 15): orders placed over a few generated weeks, priced by
//! [`crate::pricing`] as checkout prices them (GST in each line and in shipping, shipping free
//! over the threshold), paid through the sandbox, then fulfilled as far as their age allows;
//! some refunded in part or in full, a few disputed, a few left unpaid and cancelled when their
//! reservation ran out. The units sold leave the warehouse's ledger through
//! [`lsn_warehouse::demo::sales`] in the same transaction.

use crate::pricing::{self, Discount, LineIn};
use lsn_db::{Db, RowExt, Tx};
use serde_json::json;

const DAY: i64 = 86_400_000;
const ROWS_PER_STATEMENT: usize = 100;
const DISPUTE_REASON: &str = "product_not_received";

#[derive(Debug, Clone)]
pub struct Line {
    pub variant_id: String,
    pub sku: String,
    /// "Product — Variant", as checkout writes it.
    pub title: String,
    pub unit_price: i64,
    pub quantity: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refund {
    /// Everything paid back.
    Full,
    /// This percent of what was paid.
    Part(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispute {
    Open,
    Won,
    Lost,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub number: String,
    pub user_id: String,
    pub email: String,
    pub address: crate::address::Address,
    pub placed_at: i64,
    pub lines: Vec<Line>,
    /// Whole percent off (a welcome offer), 0 for none.
    pub discount_percent: i64,
    pub express: bool,
    /// The show it was bought from.
    pub show_id: Option<String>,
    /// Never paid: cancelled when its reservation ran out.
    pub unpaid: bool,
    /// Paid this long after it was placed.
    pub pay_after_ms: i64,
    /// Refunded this long after it was paid.
    pub refund: Option<(Refund, i64, &'static str)>,
    /// Disputed this long after it was paid.
    pub dispute: Option<(Dispute, i64)>,
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub orders: usize,
    pub paid: usize,
    pub refunds: usize,
    pub disputes: usize,
    pub movements: usize,
}

/// Whether the shop has any order at all (the history is loaded only into a shop without one).
pub async fn has_orders(db: &Db) -> Result<bool, lsn_db::Error> {
    Ok(lsn_db::query("SELECT 1 FROM orders LIMIT 1").fetch_optional(db.read()).await?.is_some())
}

/// (from, to, at, reason)
type Transition = (Option<&'static str>, &'static str, i64, &'static str);

struct Priced<'a> {
    o: &'a Order,
    id: String,
    t: pricing::Totals,
    status: &'static str,
    paid_at: Option<i64>,
    refunded: i64,
    transitions: Vec<Transition>,
}

/// Prices an order and walks it through its life up to `now`.
fn price(o: &Order, now: i64) -> Result<Priced<'_>, lsn_core::money::OutOfRange> {
    let ins: Vec<LineIn> = o.lines.iter().map(|l| LineIn { unit_price: l.unit_price, quantity: l.quantity }).collect();
    let discount = if o.discount_percent > 0 { Discount::Percent(o.discount_percent) } else { Discount::None };
    let after = pricing::compute(&ins, discount, 0)?;
    let code = if o.express { "express" } else { "standard" };
    let shipping = pricing::shipping_options(after.subtotal - after.discount_total)
        .into_iter()
        .find(|s| s.code == code)
        .map(|s| s.price)
        .unwrap_or(pricing::STANDARD_SHIPPING);
    let t = pricing::compute(&ins, discount, shipping)?;
    let mut transitions = vec![(None, "pending_payment", o.placed_at, "checkout")];
    if o.unpaid {
        transitions.push((Some("pending_payment"), "cancelled", o.placed_at + crate::RESERVATION_MS, "reservation expired"));
        return Ok(Priced { o, id: lsn_core::ids::new_id(), t, status: "cancelled", paid_at: None, refunded: 0, transitions });
    }
    let paid_at = o.placed_at + o.pay_after_ms;
    transitions.push((Some("pending_payment"), "paid", paid_at, "payment succeeded"));
    let mut status = "paid";
    for (to, after, why) in
        [("processing", DAY / 2, "picked"), ("shipped", DAY + DAY / 3, "handed to the carrier"), ("delivered", 4 * DAY, "delivered")]
    {
        if paid_at + after < now && o.refund.is_none_or(|(_, at, _)| after < at) {
            transitions.push((Some(status), to, paid_at + after, why));
            status = to;
        }
    }
    let mut refunded = 0;
    if let Some((kind, after, why)) = o.refund {
        if paid_at + after < now {
            refunded = match kind {
                Refund::Full => t.total,
                Refund::Part(p) => (t.total * p.clamp(1, 99) / 100).max(1),
            };
            let to = if refunded == t.total { "refunded" } else { "partially_refunded" };
            transitions.push((Some(status), to, paid_at + after, why));
            status = to;
        }
    }
    Ok(Priced { o, id: lsn_core::ids::new_id(), t, status, paid_at: Some(paid_at), refunded, transitions })
}

async fn insert_orders(tx: &mut Tx, batch: &[Priced<'_>]) -> Result<(), lsn_db::Error> {
    let sql = format!(
        "INSERT INTO orders (id, number, user_id, email, status, channel_code, currency, subtotal, discount_total, shipping_total, gst_total, total, \
         amount_paid, amount_refunded, customer_key, shipping_method, shipping_address, disputed, show_id, reserved_until, placed_at, paid_at, updated_at) VALUES {}",
        lsn_ops::jobs::rows(batch.len(), 23)
    );
    let mut q = lsn_db::query(&sql);
    for p in batch {
        let o = p.o;
        let last = p.transitions.last().map_or(o.placed_at, |t| t.2);
        q = q
            .bind(&p.id)
            .bind(&o.number)
            .bind(&o.user_id)
            .bind(&o.email)
            .bind(p.status)
            .bind(lsn_warehouse::LIVE_CHANNEL)
            .bind("AUD")
            .bind(p.t.subtotal)
            .bind(p.t.discount_total)
            .bind(p.t.shipping_total)
            .bind(p.t.gst_total)
            .bind(p.t.total)
            .bind(if p.paid_at.is_some() { p.t.total } else { 0 })
            .bind(p.refunded)
            .bind(format!("user:{}", o.user_id))
            .bind(if o.express { "express" } else { "standard" })
            .bind(serde_json::to_string(&o.address).unwrap_or_default())
            .bind(i64::from(o.dispute.is_some()))
            .bind(&o.show_id)
            .bind(o.placed_at + crate::RESERVATION_MS)
            .bind(o.placed_at)
            .bind(p.paid_at)
            .bind(last);
    }
    q.execute(&mut **tx).await?;
    let items: Vec<(&Priced, usize)> = batch.iter().flat_map(|p| (0..p.o.lines.len()).map(move |i| (p, i))).collect();
    for part in items.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO order_items (id, order_id, variant_id, sku, title, unit_price, quantity, line_total, line_discount, gst, position) VALUES {}",
            lsn_ops::jobs::rows(part.len(), 11)
        );
        let mut q = lsn_db::query(&sql);
        for (p, i) in part {
            let (l, out) = (&p.o.lines[*i], &p.t.lines[*i]);
            q = q
                .bind(lsn_core::ids::new_id())
                .bind(&p.id)
                .bind(&l.variant_id)
                .bind(&l.sku)
                .bind(&l.title)
                .bind(l.unit_price)
                .bind(l.quantity)
                .bind(out.line_total)
                .bind(out.line_discount)
                .bind(out.gst)
                .bind(*i as i64);
        }
        q.execute(&mut **tx).await?;
    }
    let moves: Vec<(&Priced, &Transition)> = batch.iter().flat_map(|p| p.transitions.iter().map(move |t| (p, t))).collect();
    for part in moves.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO order_transitions (id, order_id, from_status, to_status, actor, reason, at) VALUES {}",
            lsn_ops::jobs::rows(part.len(), 7)
        );
        let mut q = lsn_db::query(&sql);
        for (p, (from, to, at, why)) in part {
            q = q.bind(lsn_core::ids::new_id()).bind(&p.id).bind(*from).bind(*to).bind("demo").bind(*why).bind(*at);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_payments(tx: &mut Tx, batch: &[Priced<'_>], now: i64) -> Result<(usize, usize), lsn_db::Error> {
    let paid: Vec<&Priced> = batch.iter().filter(|p| p.paid_at.is_some()).collect();
    if paid.is_empty() {
        return Ok((0, 0));
    }
    let intent = |p: &Priced| format!("pi_demo_{}", p.o.number.trim_start_matches("LSN-").to_lowercase());
    let sql = format!(
        "INSERT INTO payments (id, order_id, provider, intent_id, amount, currency, status, card_brand, card_last4, amount_received, created_at, updated_at) VALUES {}",
        lsn_ops::jobs::rows(paid.len(), 12)
    );
    let mut q = lsn_db::query(&sql);
    for (i, p) in paid.iter().enumerate() {
        let at = p.paid_at.unwrap_or(p.o.placed_at);
        let brand = ["visa", "mastercard", "amex"][i % 3];
        q = q
            .bind(lsn_core::ids::new_id())
            .bind(&p.id)
            .bind("sandbox")
            .bind(intent(p))
            .bind(p.t.total)
            .bind("AUD")
            .bind("succeeded")
            .bind(brand)
            .bind(format!("{:04}", 4242 + (i * 37) % 5000))
            .bind(p.t.total)
            .bind(p.o.placed_at)
            .bind(at);
    }
    q.execute(&mut **tx).await?;
    // The sandbox provider's own record of each intent, so a refund from the admin works on them.
    let sql = format!(
        "INSERT INTO sandbox_intents (id, amount, currency, status, amount_refunded, metadata, created_at) VALUES {}",
        lsn_ops::jobs::rows(paid.len(), 7)
    );
    let mut q = lsn_db::query(&sql);
    for p in &paid {
        q = q
            .bind(intent(p))
            .bind(p.t.total)
            .bind("AUD")
            .bind("succeeded")
            .bind(p.refunded)
            .bind(json!({"order_id": p.id, "order_number": p.o.number}).to_string())
            .bind(p.o.placed_at);
    }
    q.execute(&mut **tx).await?;
    let refunded: Vec<&&Priced> = paid.iter().filter(|p| p.refunded > 0).collect();
    if !refunded.is_empty() {
        let sql = format!(
            "INSERT INTO refunds (id, order_id, amount, reason, restock, provider_ref, status, actor, created_at) VALUES {}",
            lsn_ops::jobs::rows(refunded.len(), 9)
        );
        let mut q = lsn_db::query(&sql);
        for p in &refunded {
            let at = p.paid_at.unwrap_or(p.o.placed_at) + p.o.refund.map_or(0, |r| r.1);
            let why = p.o.refund.map_or("", |r| r.2);
            q = q
                .bind(lsn_core::ids::new_id())
                .bind(&p.id)
                .bind(p.refunded)
                .bind(why)
                .bind(0_i64)
                .bind(format!("re_demo_{}", p.o.number))
                .bind("succeeded")
                .bind("demo")
                .bind(at);
        }
        q.execute(&mut **tx).await?;
    }
    let disputed: Vec<(&&Priced, Dispute, i64)> = paid
        .iter()
        .filter_map(|p| p.o.dispute.map(|(d, after)| (p, d, p.paid_at.unwrap_or(p.o.placed_at) + after)))
        .filter(|(_, _, at)| *at < now)
        .collect();
    if !disputed.is_empty() {
        let sql = format!(
            "INSERT INTO disputes (id, order_id, amount, reason, status, opened_at, closed_at) VALUES {}",
            lsn_ops::jobs::rows(disputed.len(), 7)
        );
        let mut q = lsn_db::query(&sql);
        for (p, d, at) in &disputed {
            let (status, closed) = match d {
                Dispute::Open => ("needs_response", None),
                Dispute::Won => ("won", Some(at + 9 * DAY)),
                Dispute::Lost => ("lost", Some(at + 12 * DAY)),
            };
            q = q
                .bind(format!("dp_demo_{}", p.o.number))
                .bind(&p.id)
                .bind(p.t.total - p.refunded)
                .bind(DISPUTE_REASON)
                .bind(status)
                .bind(*at)
                .bind(closed.filter(|c| *c < now));
        }
        q.execute(&mut **tx).await?;
        for (p, d, at) in &disputed {
            if *d == Dispute::Open {
                crate::orders::dispute_task(tx, *at, &p.id, &p.o.number, DISPUTE_REASON, &format!("dp_demo_{}", p.o.number)).await?;
            }
        }
    }
    Ok((refunded.len(), disputed.len()))
}

/// Writes the orders, their payments, refunds and disputes, and the units they took from stock
/// (the warehouse's opening receipts dated `opened_at`), in one transaction. An order whose
/// totals are out of range is refused before anything is written.
pub async fn history(db: &Db, orders: Vec<Order>, opened_at: i64, now: i64) -> anyhow::Result<Written> {
    for o in &orders {
        price(o, now).map_err(|_| anyhow::anyhow!("demo order {}: totals out of range", o.number))?;
    }
    let written = db
        .transaction_with(orders, move |tx, orders| {
            Box::pin(async move {
                let mut w = Written::default();
                let mut sales = Vec::new();
                for chunk in orders.chunks(ROWS_PER_STATEMENT / 2) {
                    let batch: Vec<Priced> = chunk.iter().filter_map(|o| price(o, now).ok()).collect();
                    insert_orders(tx, &batch).await?;
                    let (r, d) = insert_payments(tx, &batch, now).await?;
                    w.orders += batch.len();
                    w.refunds += r;
                    w.disputes += d;
                    for p in batch.iter().filter(|p| p.paid_at.is_some()) {
                        w.paid += 1;
                        for l in &p.o.lines {
                            sales.push(lsn_warehouse::demo::Sale {
                                variant_id: l.variant_id.clone(),
                                quantity: l.quantity,
                                at: p.paid_at.unwrap_or(p.o.placed_at),
                                order_id: p.id.clone(),
                            });
                        }
                    }
                }
                w.movements = lsn_warehouse::demo::sales(tx, opened_at, &sales).await?;
                Ok::<_, lsn_db::Error>(w)
            })
        })
        .await?;
    Ok(written)
}

/// The shop's takings as its orders add up (for checks): `(orders, Σ total, Σ items − discount +
/// shipping)` over the paid orders.
pub async fn totals_check(db: &Db) -> Result<(i64, i64, i64), lsn_db::Error> {
    let r = lsn_db::query(
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(total), 0) AS BIGINT), \
         CAST(COALESCE(SUM((SELECT COALESCE(SUM(i.line_total), 0) FROM order_items i WHERE i.order_id = orders.id) - discount_total + shipping_total), 0) AS BIGINT) \
         FROM orders WHERE paid_at IS NOT NULL",
    )
    .fetch_one(db.read())
    .await?;
    Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
}
