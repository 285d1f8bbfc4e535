//! Orders: checkout, payment, the state machine, refunds, disputes, expiry.
//!
//! States: `pending_payment → paid → processing → shipped → delivered`, `cancelled`, `refunded`,
//! `partially_refunded`. Every change goes through [`transition`], a conditional update on the
//! expected current state plus a row in `order_transitions` (actor, reason, time), in the same
//! transaction as its effects and its domain event.

use crate::address::Address;
use crate::buyers::{self, Buyer};
use crate::payments::{Cancelled, Confirmation, IntentRequest, PaymentMethod};
use crate::pricing::{self, Discount, LineIn};
use crate::{cart, discounts, offers, Commerce, CommerceError, RESERVATION_MS};
use lsn_core::i18n::t_args;
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

pub const STATES: &[&str] =
    &["pending_payment", "paid", "processing", "shipped", "delivered", "cancelled", "refunded", "partially_refunded"];

/// The state machine: may an order go from `from` to `to`?
pub fn allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("pending_payment", "paid" | "cancelled")
            | ("paid", "processing" | "cancelled" | "refunded" | "partially_refunded")
            | ("processing", "shipped" | "refunded" | "partially_refunded")
            | ("shipped", "delivered" | "refunded" | "partially_refunded")
            | ("delivered", "refunded" | "partially_refunded")
            | ("partially_refunded", "processing" | "shipped" | "delivered" | "refunded" | "partially_refunded")
    )
    // Never `cancelled → paid`: a cancelled order has given its stock, deal units and discount
    // use back, so a payment that arrives for it is refunded, never applied.
}

/// Moves `order_id` from `from` to `to` if it is still in `from`; records who and why.
pub async fn transition(
    tx: &mut Tx,
    now: i64,
    order_id: &str,
    from: &str,
    to: &str,
    actor: &str,
    reason: &str,
) -> Result<bool, CommerceError> {
    if !allowed(from, to) {
        return Err(CommerceError::rule("invalid_transition", format!("An order cannot go from {from} to {to}.")));
    }
    let r = lsn_db::query("UPDATE orders SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
        .bind(to)
        .bind(now)
        .bind(order_id)
        .bind(from)
        .execute(&mut **tx)
        .await?;
    if r.rows_affected() == 0 {
        return Ok(false);
    }
    record(tx, now, order_id, Some(from), to, actor, reason).await?;
    Ok(true)
}

async fn record(tx: &mut Tx, now: i64, order_id: &str, from: Option<&str>, to: &str, actor: &str, reason: &str) -> Result<(), sqlx::Error> {
    lsn_db::query(
        "INSERT INTO order_transitions (id, order_id, from_status, to_status, actor, reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(lsn_core::ids::new_id())
    .bind(order_id)
    .bind(from)
    .bind(to)
    .bind(actor)
    .bind(reason)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A short human order number: `LSN-` and six characters without look-alikes.
pub fn order_number() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let s: String = (0..7).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("LSN-{s}")
}

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

#[derive(Debug, Clone, Serialize)]
pub struct Order {
    pub id: String,
    pub number: String,
    pub user_id: Option<String>,
    pub email: String,
    pub status: String,
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

fn order_from(r: &Row) -> Result<Order, sqlx::Error> {
    let addr: String = r.try_get(15)?;
    Ok(Order {
        id: r.try_get(0)?,
        number: r.try_get(1)?,
        user_id: r.try_get(2)?,
        email: r.try_get(3)?,
        status: r.try_get(4)?,
        channel: r.try_get(5)?,
        currency: r.try_get(6)?,
        subtotal: r.try_get(7)?,
        discount_total: r.try_get(8)?,
        shipping_total: r.try_get(9)?,
        gst_total: r.try_get(10)?,
        total: r.try_get(11)?,
        amount_paid: r.try_get(12)?,
        amount_refunded: r.try_get(13)?,
        shipping_method: r.try_get(14)?,
        shipping_address: serde_json::from_str(&addr).unwrap_or(Value::Null),
        disputed: r.try_get::<i64, _>(16)? == 1,
        payout_hold: r.try_get::<i64, _>(17)? == 1,
        reserved_until: r.try_get(18)?,
        placed_at: r.try_get(19)?,
        paid_at: r.try_get(20)?,
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

/// What placing an order came to: the order (new, or the cart's unpaid order asked for again),
/// or the cart's unpaid order to replace first.
enum Placed {
    Done(Box<CheckoutResult>),
    Replace(String),
}

/// What the checkout transaction came to: the order it is (new or the same again), or the
/// cart's other unpaid order.
#[derive(Clone)]
enum Claimed {
    Order(String),
    Replace(String),
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
        let access: Option<String> = row.try_get(21)?;
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
            .collect::<Result<_, sqlx::Error>>()?;
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
            .collect::<Result<_, sqlx::Error>>()?;
        let p = lsn_db::query("SELECT provider, intent_id, client_secret, status, last_error, card_last4 FROM payments WHERE order_id = $1 ORDER BY created_at DESC LIMIT 1").bind(&o.id).fetch_optional(self.db.read()).await?;
        if let Some(p) = p {
            let intent: String = p.try_get(1)?;
            let mine = !matches!(viewer, Viewer::Staff);
            o.payment = Some(json!({
                "provider": p.try_get::<String, _>(0)?,
                "intent_id": if intent.starts_with("pending_") { None } else { Some(intent) },
                "client_secret": if mine && o.status == "pending_payment" { p.try_get::<Option<String>, _>(2)? } else { None },
                "status": p.try_get::<String, _>(3)?,
                "last_error": p.try_get::<Option<String>, _>(4)?,
                "card_last4": p.try_get::<Option<String>, _>(5)?,
            }));
        }
        Ok(o)
    }

    /// Orders newest first: a customer's own, or (staff) everyone's with an optional status.
    pub async fn orders(
        &self,
        user_id: Option<&str>,
        status: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Order>, CommerceError> {
        if let Some(s) = status {
            if !STATES.contains(&s) {
                return Err(CommerceError::Validation(json!({"status": format!("one of {}", STATES.join(", "))})));
            }
        }
        let rows = lsn_db::query(&format!("SELECT {ORDER_COLS} FROM orders WHERE ($1 = '' OR user_id = $1) AND ($2 = '' OR status = $2) AND placed_at < $3 ORDER BY placed_at DESC, id DESC LIMIT $4"))
            .bind(user_id.unwrap_or(""))
            .bind(status.unwrap_or(""))
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit.clamp(1, 200))
            .fetch_all(self.db.read())
            .await?;
        Ok(rows.iter().map(order_from).collect::<Result<_, _>>()?)
    }

    /// Turns the cart into an order awaiting payment: validates, prices, reserves stock and the
    /// discount, all in one transaction; then asks the provider for a payment intent.
    ///
    /// A cart has at most one unpaid order. Checking out the same cart again with the same
    /// contents and details (a double click, a second tab) gives that order back; with anything
    /// changed, the old order is cancelled (its reservations given back) and replaced, unless
    /// its payment is on its way (`payment_in_progress`).
    pub async fn checkout(&self, buyer: &Buyer, cart_id: &str, input: &CheckoutInput) -> Result<CheckoutResult, CommerceError> {
        for _ in 0..3 {
            match self.place_order(buyer, Source::Cart(cart_id.to_string()), input, None).await? {
                Placed::Done(r) => return Ok(*r),
                Placed::Replace(old) => {
                    self.cancel_unpaid_order(&old, "replaced by a new checkout of the same cart", "customer").await?;
                }
            }
        }
        Err(CommerceError::rule("checkout_busy", "The cart changed while it was checked out; try again."))
    }

    /// Buys `quantity` of a limited offer (a live flash deal) straight away, at the offer's price.
    pub async fn buy_offer(
        &self,
        buyer: &Buyer,
        offer_id: &str,
        quantity: i64,
        input: &CheckoutInput,
    ) -> Result<CheckoutResult, CommerceError> {
        if input.discount_code.as_deref().is_some_and(|c| !c.trim().is_empty()) {
            return Err(CommerceError::rule("discount_not_combinable", "Discount codes do not apply to deals."));
        }
        // Most buyers of a popular deal arrive after it sold out: answer them from memory or a
        // read, without queueing for the writer. The claim inside the transaction stays the
        // authority.
        let now = self.clock.now_ms();
        let closed = |code: &'static str| {
            self.deals_in_flight.remember_closed(offer_id, code, now);
            match code {
                "deal_ended" => CommerceError::rule(code, "The deal has ended."),
                _ => CommerceError::rule(code, "The deal is sold out."),
            }
        };
        if let Some(code) = self.deals_in_flight.closed(offer_id, now) {
            return Err(closed(code));
        }
        let offer = match self.deals_in_flight.recent(offer_id, now) {
            Some(offer) => offer,
            None => {
                let offer = offers::get(&self.db, now, offer_id).await?;
                self.deals_in_flight.keep(&offer, now);
                offer
            }
        };
        match offer.status {
            "sold_out" => return Err(closed("deal_sold_out")),
            "ended" => return Err(closed("deal_ended")),
            "upcoming" => return Err(CommerceError::rule("deal_not_started", "The deal has not started yet.")),
            _ => {}
        }
        // Those arriving while the last units are already being bought are answered here too
        // (a quantity beyond what remains gets the claim's own answer).
        let pass = if (1..=offer.remaining).contains(&quantity) {
            match self.deals_in_flight.enter(offer_id, quantity, offer.remaining) {
                Some(p) => Some(p),
                None => return Err(CommerceError::rule("deal_sold_out", "The deal is sold out: its last units are being bought.")),
            }
        } else {
            None
        };
        let placed = self.place_order(buyer, Source::Offer { offer_id: offer_id.to_string(), quantity }, input, pass).await;
        if let Err(CommerceError::Rule { code, .. }) = &placed {
            self.deals_in_flight.remember_closed(offer_id, code, now);
        }
        match placed? {
            Placed::Done(r) => Ok(*r),
            // Only a cart's checkout is replaced.
            Placed::Replace(_) => Err(CommerceError::Internal("a deal's order replaced another".into())),
        }
    }

    /// Places an order from a cart or an offer. `gate`: the buyer's place on the way to an
    /// offer's claim, given back as soon as the claim is decided.
    async fn place_order(
        &self,
        buyer: &Buyer,
        source: Source,
        input: &CheckoutInput,
        gate: Option<offers::Pass>,
    ) -> Result<Placed, CommerceError> {
        let user = buyer.user.as_ref();
        let address = input.shipping_address.validate("shipping_address").map_err(CommerceError::Validation)?;
        let email = match (user.and_then(|u| u.email.clone()), &input.email) {
            (_, Some(e)) => lsn_core::Email::parse(e).map_err(|m| CommerceError::Validation(json!({"email": m})))?,
            (Some(e), None) => lsn_core::Email::parse(&e).map_err(|m| CommerceError::Validation(json!({"email": m})))?,
            (None, None) => return Err(CommerceError::Validation(json!({"email": "required for guest checkout"}))),
        };
        // Checkouts per customer: the signed-in user, else the cart, else (a guest buying a
        // deal) the mailbox the receipt goes to.
        let who = match (user, &source) {
            (Some(u), _) => format!("user:{}", u.id),
            (None, Source::Cart(cart)) => format!("cart:{cart}"),
            (None, Source::Offer { .. }) => format!("email:{}", email.identity()),
        };
        self.limits.checkout.hit(&who, self.clock.now_ms()).map_err(|retry_after_secs| CommerceError::RateLimited { retry_after_secs })?;
        if !["standard", "express"].contains(&input.shipping_method.as_str()) {
            return Err(CommerceError::Validation(json!({"shipping_method": "standard or express"})));
        }
        let customer_key = user.map(|u| format!("user:{}", u.id)).unwrap_or_else(|| format!("email:{email}"));
        let limit_keys = buyers::limit_keys(buyer, &email);
        let unpaid_keys = buyers::unpaid_keys(&limit_keys, &buyer.network, &address, self.cfg.max_unpaid_per_network > 0);
        let email = email.to_string();
        let now = self.clock.now_ms();
        let order_id = lsn_core::ids::new_id();
        let number = order_number();
        // A guest's token for a cart's order is derived from the order and the cart, so the same
        // checkout asked again can give the order (and its token) back.
        let guest_token = user.is_none().then(|| match &source {
            Source::Cart(cart) => self.cart_order_token(&order_id, cart),
            Source::Offer { .. } => lsn_core::ids::random_token(24),
        });
        let user_id = user.map(|u| u.id.clone());
        let cart_of = match &source {
            Source::Cart(cart) => Some(cart.clone()),
            Source::Offer { .. } => None,
        };
        let (max_unpaid, max_unpaid_net) = (self.cfg.max_unpaid_checkouts, self.cfg.max_unpaid_per_network);
        let backend = self.db.backend();
        let args = (
            order_id.clone(),
            number.clone(),
            email.clone(),
            customer_key,
            address,
            input.clone(),
            source,
            guest_token.clone(),
            user_id,
            limit_keys,
            unpaid_keys,
        );
        let placed = self
            .db
            .transaction(move |tx| {
                let (order_id, number, email, customer_key, address, input, source, guest_token, user_id, limit_keys, unpaid_keys) = args.clone();
                Box::pin(async move {
                    let mut open_order: Option<(String, Option<String>)> = None;
                    let (lines, cart_id, offer_id, show_id) = match &source {
                        Source::Cart(id) => {
                            // One checkout of a cart at a time: the cart's row is the lock.
                            lsn_db::query(&format!("SELECT c.id FROM carts c WHERE c.id = $1{}", lsn_db::dialect::lock_rows(backend, "c")))
                                .bind(id)
                                .fetch_optional(&mut **tx)
                                .await?;
                            // Then, in a statement of its own (on PostgreSQL a fresh snapshot, which
                            // sees the order of a checkout that held the lock before), the cart's
                            // unpaid order: at most one, found through the (cart_id, status) index.
                            let open = lsn_db::query("SELECT id, checkout_hash FROM orders WHERE cart_id = $1 AND status = 'pending_payment' LIMIT 1")
                                .bind(id)
                                .fetch_optional(&mut **tx)
                                .await?;
                            open_order = open.map(|r| Ok::<_, sqlx::Error>((r.try_get(0)?, r.try_get(1)?))).transpose()?;
                            (cart::lines(&mut **tx, id).await?, Some(id.clone()), None, None)
                        }
                        Source::Offer { offer_id, quantity } => {
                            let (variant, price, show) = offers::claim(tx, now, offer_id, *quantity, &customer_key, &limit_keys).await?;
                            let mut lines = cart::variant_line(&mut **tx, &variant, *quantity).await?;
                            for l in &mut lines {
                                l.unit_price = price;
                                l.line_total = lsn_core::money::checked_times(price, l.quantity)?;
                            }
                            (lines, None, Some(offer_id.clone()), show)
                        }
                    };
                    if lines.is_empty() {
                        return Err(CommerceError::rule("cart_empty", "Your cart is empty."));
                    }
                    if let Some(l) = lines.iter().find(|l| l.problem.as_deref() == Some("unavailable")) {
                        return Err(CommerceError::rule("unavailable", format!("{} is no longer for sale.", l.product_title)));
                    }
                    // What this checkout asks for: the same again is the same order.
                    let mut wanted: Vec<String> = lines.iter().map(|l| format!("{}x{}", l.variant_id, l.quantity)).collect();
                    wanted.sort();
                    let checkout_hash = lsn_core::ids::hash_token(&format!(
                        "{}\n{email}\n{}\n{}\n{}",
                        wanted.join(","),
                        serde_json::to_string(&address).unwrap_or_default(),
                        input.shipping_method,
                        input.discount_code.as_deref().map(discounts::normalize_code).unwrap_or_default()
                    ));
                    if let Some((id, hash)) = open_order {
                        return Ok(if hash.as_deref() == Some(checkout_hash.as_str()) { Claimed::Order(id) } else { Claimed::Replace(id) });
                    }
                    // Quantity limits per order and per customer (every identity of the buyer), per product.
                    let mut per_product: std::collections::BTreeMap<String, (i64, Option<i64>, Option<i64>, String)> = Default::default();
                    for l in &lines {
                        let e = per_product.entry(l.product_id.clone()).or_insert((0, l.max_per_order, l.max_per_customer, l.product_title.clone()));
                        e.0 += l.quantity;
                    }
                    for (pid, (qty, max_order, max_customer, title)) in &per_product {
                        if max_order.is_some_and(|m| *qty > m) {
                            return Err(CommerceError::rule("quantity_limit", format!("At most {} of {title} per order.", max_order.unwrap_or(0))));
                        }
                        if let Some(limit) = max_customer {
                            for key in &limit_keys {
                                let r = lsn_db::query(
                                    "INSERT INTO customer_product_purchases (product_id, customer_key, quantity) SELECT $1, $2, $3 WHERE $3 <= $4 \
                                     ON CONFLICT (product_id, customer_key) DO UPDATE SET quantity = customer_product_purchases.quantity + excluded.quantity \
                                     WHERE customer_product_purchases.quantity + excluded.quantity <= $4",
                                )
                                .bind(pid)
                                .bind(key)
                                .bind(*qty)
                                .bind(*limit)
                                .execute(&mut **tx)
                                .await?;
                                if r.rows_affected() == 0 {
                                    return Err(CommerceError::rule("customer_limit", format!("At most {limit} of {title} per customer.")));
                                }
                            }
                        }
                    }
                    let ins: Vec<LineIn> = lines.iter().map(|l| LineIn { unit_price: l.unit_price, quantity: l.quantity }).collect();
                    let subtotal = lsn_core::money::checked_sum(
                        ins.iter().map(|l| lsn_core::money::checked_times(l.unit_price, l.quantity)).collect::<Result<Vec<_>, _>>()?,
                    )?;
                    let (discount_id, discount) = match input.discount_code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
                        Some(code) => {
                            let (id, d) = discounts::redeem(tx, now, code, subtotal, &limit_keys).await?;
                            (Some(id), d)
                        }
                        None => (None, Discount::None),
                    };
                    let after_discount = pricing::compute(&ins, discount, 0)?;
                    let shipping = pricing::shipping_options(after_discount.subtotal - after_discount.discount_total).into_iter().find(|o| o.code == input.shipping_method).map(|o| o.price).unwrap_or(0);
                    let t = pricing::compute(&ins, discount, shipping)?;
                    let reserved_until = now + RESERVATION_MS;
                    lsn_db::query(
                        "INSERT INTO orders (id, number, user_id, email, status, channel_code, currency, subtotal, discount_total, shipping_total, gst_total, total, discount_code_id, customer_key, \
                         shipping_method, shipping_address, reserved_until, placed_at, updated_at, access_hash, cart_id, offer_id, show_id, limit_keys, unpaid_keys, checkout_hash) \
                         VALUES ($1, $2, $3, $4, 'pending_payment', $5, 'AUD', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $17, $18, $19, $20, $21, $22, $23)",
                    )
                    .bind(&order_id)
                    .bind(&number)
                    .bind(&user_id)
                    .bind(&email)
                    .bind(lsn_warehouse::LIVE_CHANNEL)
                    .bind(t.subtotal)
                    .bind(t.discount_total)
                    .bind(t.shipping_total)
                    .bind(t.gst_total)
                    .bind(t.total)
                    .bind(&discount_id)
                    .bind(&customer_key)
                    .bind(&input.shipping_method)
                    .bind(serde_json::to_string(&address).unwrap_or_default())
                    .bind(reserved_until)
                    .bind(now)
                    .bind(guest_token.as_deref().map(lsn_core::ids::hash_token))
                    .bind(&cart_id)
                    .bind(&offer_id)
                    .bind(&show_id)
                    .bind(limit_keys.join(" "))
                    .bind(unpaid_keys.join(" "))
                    .bind(&checkout_hash)
                    .execute(&mut **tx)
                    .await?;
                    for (i, (l, out)) in lines.iter().zip(&t.lines).enumerate() {
                        lsn_db::query("INSERT INTO order_items (id, order_id, variant_id, sku, title, unit_price, quantity, line_total, line_discount, gst, position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
                            .bind(lsn_core::ids::new_id())
                            .bind(&order_id)
                            .bind(&l.variant_id)
                            .bind(&l.sku)
                            .bind(format!("{} — {}", l.product_title, l.variant_title))
                            .bind(l.unit_price)
                            .bind(l.quantity)
                            .bind(out.line_total)
                            .bind(out.line_discount)
                            .bind(out.gst)
                            .bind(i as i64)
                            .execute(&mut **tx)
                            .await?;
                        stock::reserve(tx, now, &l.variant_id, l.quantity, &order_id, reserved_until).await?;
                    }
                    record(tx, now, &order_id, None, "pending_payment", "customer", "checkout").await?;
                    lsn_db::query("INSERT INTO payments (id, order_id, provider, intent_id, amount, currency, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'AUD', 'creating', $6, $6)")
                        .bind(lsn_core::ids::new_id())
                        .bind(&order_id)
                        .bind("pending")
                        .bind(format!("pending_{order_id}"))
                        .bind(t.total)
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                    lsn_ops::publish(tx, now, ORDER_PLACED, Some(&order_id), &json!({"order_id": order_id, "number": number, "total": t.total, "currency": "AUD", "channel": lsn_warehouse::LIVE_CHANNEL})).await?;
                    // Unpaid checkouts per buyer, address and network: last, so the rows many
                    // checkouts share are held only until the commit.
                    buyers::take_unpaid(tx, &unpaid_keys, max_unpaid, max_unpaid_net).await?;
                    Ok::<_, CommerceError>(Claimed::Order(order_id))
                })
            })
            .await?;
        // The claim is committed: the units now count in the offer's own remaining.
        drop(gate);
        let order_id = match placed {
            Claimed::Order(id) => id,
            Claimed::Replace(id) => return Ok(Placed::Replace(id)),
        };
        let payment = match self.ensure_intent(&order_id).await {
            Ok(p) => p,
            Err(CommerceError::Provider(e)) => {
                tracing::warn!(order = %number, "payment intent not created yet: {e}");
                json!({"status": "creating", "retry": "POST /api/v1/orders/{id}/pay creates it"})
            }
            Err(e) => return Err(e),
        };
        // A cart's order asked for again answers with its own token (derived, like the first).
        let guest_token = match (&guest_token, &cart_of) {
            (Some(_), Some(cart)) => Some(self.cart_order_token(&order_id, cart)),
            (t, _) => t.clone(),
        };
        let viewer = match (&guest_token, user) {
            (Some(t), _) => Viewer::Guest(t.clone()),
            (None, Some(u)) => Viewer::Customer(u.id.clone()),
            _ => Viewer::Staff,
        };
        let order = self.order(&order_id, &viewer).await?;
        Ok(Placed::Done(Box::new(CheckoutResult { order, payment, order_token: guest_token })))
    }

    /// A guest's token for the order of a cart: an HMAC of the order and the cart, so whoever
    /// holds the cart can be given it again, and nobody else can make it.
    fn cart_order_token(&self, order_id: &str, cart_id: &str) -> String {
        use hmac::{Mac, SimpleHmac};
        let mut mac =
            <SimpleHmac<sha2::Sha256> as Mac>::new_from_slice(self.cfg.jwt_secret.expose().as_bytes()).expect("HMAC takes any key length");
        mac.update(format!("order-token:{order_id}:{cart_id}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The order's payment intent, created at the provider if it is not there yet (idempotent:
    /// the provider sees the same key for the same order). An intent created for an order that
    /// was cancelled meanwhile is cancelled at the provider by a job.
    pub async fn ensure_intent(&self, order_id: &str) -> Result<Value, CommerceError> {
        let r = lsn_db::query("SELECT p.id, p.intent_id, p.client_secret, p.status, o.total, o.number, o.email FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.order_id = $1 ORDER BY p.created_at DESC LIMIT 1")
            .bind(order_id)
            .fetch_optional(self.db.read())
            .await?
            .ok_or(CommerceError::NotFound)?;
        let (pid, intent_id, secret, status): (String, String, Option<String>, String) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        if !intent_id.starts_with("pending_") {
            return Ok(json!({"provider": self.provider.name(), "intent_id": intent_id, "client_secret": secret, "status": status}));
        }
        let req = IntentRequest {
            order_id: order_id.to_string(),
            order_number: r.try_get(5)?,
            amount: r.try_get(4)?,
            currency: "AUD".into(),
            email: r.try_get(6)?,
            idempotency_key: format!("order:{order_id}"),
        };
        let intent = self.provider.create_intent(&req).await.map_err(|e| CommerceError::Provider(e.to_string()))?;
        let now = self.clock.now_ms();
        // Recorded only while the order is still awaiting payment (one statement, the usual case).
        let recorded = lsn_db::query(
            "UPDATE payments SET provider = $1, intent_id = $2, client_secret = $3, status = $4, updated_at = $5 WHERE id = $6 AND intent_id LIKE 'pending_%' \
             AND EXISTS (SELECT 1 FROM orders o WHERE o.id = $7 AND o.status = 'pending_payment')",
        )
        .bind(self.provider.name())
        .bind(&intent.id)
        .bind(&intent.client_secret)
        .bind(&intent.status)
        .bind(now)
        .bind(&pid)
        .bind(order_id)
        .execute(self.db.write())
        .await?
        .rows_affected()
            == 1;
        if !recorded {
            let open: i64 = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE id = $1 AND status = 'pending_payment'")
                .bind(order_id)
                .fetch_one(self.db.read())
                .await?
                .try_get(0)?;
            if open == 0 {
                // Cancelled while the intent was being made: nobody may pay it.
                let job = NewJob::new(CANCEL_INTENT_JOB, json!({"intent_id": intent.id})).dedupe(format!("cancel:{}", intent.id));
                lsn_ops::enqueue(self.db.write(), &job, now).await?;
                return Err(CommerceError::rule("order_not_payable", "This order was cancelled; check out again."));
            }
            // Another request recorded the same intent (the provider's key is the order's) first.
        }
        Ok(
            json!({"provider": self.provider.name(), "intent_id": intent.id, "client_secret": intent.client_secret, "status": intent.status}),
        )
    }

    /// How long a confirmation holds its order's payment: the provider call with its retries.
    fn confirm_lease_ms(&self) -> i64 {
        let call = i64::try_from(self.cfg.provider_timeout.as_millis()).unwrap_or(30_000);
        call.saturating_mul(4).saturating_add(10_000)
    }

    /// Confirms the order's payment with a payment method. The order becomes `paid` when the
    /// provider's `payment_intent.succeeded` event is processed.
    ///
    /// The payment is leased first (`payments.confirming_until`): while the provider is asked,
    /// the order cannot be cancelled or expired and a second confirmation is refused with
    /// `payment_in_progress`, so no payment can land on an order whose stock, deal units and
    /// discount use were already given back.
    pub async fn pay(&self, order_id: &str, method: &PaymentMethod, idempotency_key: &str) -> Result<Confirmation, CommerceError> {
        let status: String = lsn_db::query("SELECT status FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_optional(self.db.read())
            .await?
            .ok_or(CommerceError::NotFound)?
            .try_get(0)?;
        unpaid(&status)?;
        // Card testing tries card after card on one order: a few attempts, then wait.
        self.limits.pay.hit(order_id, self.clock.now_ms()).map_err(|retry_after_secs| CommerceError::RateLimited { retry_after_secs })?;
        if matches!(method, PaymentMethod::TestCard(_)) && self.sandbox.is_none() {
            return Err(CommerceError::rule(
                "card_number_not_accepted",
                "Card numbers are entered in Stripe's secure fields, not sent to the shop.",
            ));
        }
        let now = self.clock.now_ms();
        let leased = lsn_db::query(
            "UPDATE payments SET confirming_until = $1, updated_at = $2 WHERE order_id = $3 \
             AND status NOT IN ('succeeded', 'processing', 'mismatch', 'canceled') AND (confirming_until IS NULL OR confirming_until <= $2) \
             AND EXISTS (SELECT 1 FROM orders o WHERE o.id = $3 AND o.status = 'pending_payment')",
        )
        .bind(now + self.confirm_lease_ms())
        .bind(now)
        .bind(order_id)
        .execute(self.db.write())
        .await?
        .rows_affected()
            == 1;
        if !leased {
            return Err(self.why_not_payable(order_id).await?);
        }
        let outcome = self.confirm_leased(order_id, method, idempotency_key).await;
        // Whatever happened, the lease ends; what the buyer saw is noted (the webhook is the
        // authority on success).
        let (st, err, last4) = match &outcome {
            Ok(Confirmation::Succeeded { card_last4 }) => (Some("succeeded"), None, card_last4.clone()),
            Ok(Confirmation::Processing) => (Some("processing"), None, None),
            Ok(Confirmation::RequiresAction { .. }) => (Some("requires_action"), None, None),
            Ok(Confirmation::Failed { code, .. }) => (Some("failed"), Some(code.clone()), None),
            Err(_) => (None, None, None),
        };
        lsn_db::query("UPDATE payments SET status = CASE WHEN status IN ('succeeded', 'mismatch', 'canceled') OR $1 = '' THEN status ELSE $1 END, last_error = COALESCE($2, last_error), card_last4 = COALESCE($3, card_last4), confirming_until = NULL, updated_at = $4 WHERE order_id = $5")
            .bind(st.unwrap_or(""))
            .bind(err)
            .bind(last4)
            .bind(self.clock.now_ms())
            .bind(order_id)
            .execute(self.db.write())
            .await?;
        outcome
    }

    async fn confirm_leased(&self, order_id: &str, method: &PaymentMethod, idempotency_key: &str) -> Result<Confirmation, CommerceError> {
        let intent = self.ensure_intent(order_id).await?;
        let intent_id = intent["intent_id"].as_str().unwrap_or_default().to_string();
        self.provider.confirm(&intent_id, method, idempotency_key).await.map_err(|e| match e {
            crate::payments::ProviderError::Rejected(m) => CommerceError::rule("payment_rejected", m),
            crate::payments::ProviderError::Unavailable(m) => CommerceError::Provider(m),
        })
    }

    /// Why an order's payment cannot be confirmed or its order cancelled right now.
    async fn why_not_payable(&self, order_id: &str) -> Result<CommerceError, CommerceError> {
        let r = lsn_db::query("SELECT o.status, p.status FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.id = $1")
            .bind(order_id)
            .fetch_optional(self.db.read())
            .await?
            .ok_or(CommerceError::NotFound)?;
        let (order, payment): (String, String) = (r.try_get(0)?, r.try_get(1)?);
        Ok(match unpaid(&order) {
            Err(e) => e,
            Ok(()) if payment == "canceled" => {
                CommerceError::rule("order_not_payable", "This order's payment was cancelled; check out again.")
            }
            Ok(()) => in_progress(),
        })
    }

    /// Cancels an unpaid order and gives back its stock, deal units, discount use and
    /// per-customer counts — the one way every cancellation goes (the buyer, staff, an expired
    /// reservation, a failed payment, a replaced checkout).
    ///
    /// A payment that may still succeed wins: while a confirmation holds the payment's lease,
    /// or the provider reports the payment succeeded or processing, the answer is
    /// `payment_in_progress` (409) and nothing changes. Otherwise the intent is cancelled at
    /// the provider first, so no payment can land after the limits were given back; then the
    /// order is cancelled in one transaction that checks the payment again. Money that did come
    /// for an order that cannot keep it (an amount that did not match) is refunded.
    pub async fn cancel_unpaid_order(&self, order_id: &str, reason: &str, actor: &str) -> Result<(), CommerceError> {
        let now = self.clock.now_ms();
        let r = lsn_db::query(
            "SELECT o.status, p.intent_id, p.status, p.confirming_until FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.id = $1",
        )
        .bind(order_id)
        .fetch_optional(self.db.read())
        .await?
        .ok_or(CommerceError::NotFound)?;
        let (order, intent, payment, lease): (String, String, String, Option<i64>) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        if order != "pending_payment" {
            return Err(CommerceError::rule("invalid_transition", "Only an unpaid order can be cancelled."));
        }
        if lease.is_some_and(|t| t > now) || matches!(payment.as_str(), "succeeded" | "processing") {
            return Err(in_progress());
        }
        if !intent.starts_with("pending_") && !matches!(payment.as_str(), "canceled" | "mismatch") {
            match self.provider.cancel(&intent, &format!("cancel:{intent}")).await {
                Ok(Cancelled::Now | Cancelled::Already) => {}
                Ok(Cancelled::Paid) => return Err(in_progress()),
                Err(crate::payments::ProviderError::Unavailable(m)) => return Err(CommerceError::Provider(m)),
                // The provider does not know the intent (or refuses to touch it): no money can come through it.
                Err(crate::payments::ProviderError::Rejected(m)) => tracing::warn!(intent = %intent, "intent not cancelled: {m}"),
            }
        }
        let (oid, reason, actor, backend) = (order_id.to_string(), reason.to_string(), actor.to_string(), self.db.backend());
        self.db
            .transaction(move |tx| {
                let (oid, reason, actor) = (oid.clone(), reason.clone(), actor.clone());
                Box::pin(async move {
                    // The order first, then its payment: the order every payment event takes them in.
                    lsn_db::query(&format!("SELECT o.id FROM orders o WHERE o.id = $1{}", lsn_db::dialect::lock_rows(backend, "o")))
                        .bind(&oid)
                        .fetch_optional(&mut **tx)
                        .await?;
                    let p = lsn_db::query(
                        "UPDATE payments SET status = CASE WHEN status = 'mismatch' THEN status ELSE 'canceled' END, updated_at = $1 \
                         WHERE order_id = $2 AND status NOT IN ('succeeded', 'processing') AND (confirming_until IS NULL OR confirming_until <= $1) \
                         RETURNING status, amount_received",
                    )
                    .bind(now)
                    .bind(&oid)
                    .fetch_optional(&mut **tx)
                    .await?;
                    let Some(p) = p else { return Err(in_progress()) };
                    if !cancel_unpaid(tx, now, &oid, &reason, &actor).await? {
                        return Err(CommerceError::rule("invalid_transition", "Only an unpaid order can be cancelled."));
                    }
                    let (status, received): (String, Option<i64>) = (p.try_get(0)?, p.try_get(1)?);
                    if status == "mismatch" {
                        refund_unowed(tx, now, &oid, received.unwrap_or(0), "The payment did not match the order, which was then cancelled.").await?;
                    }
                    Ok::<_, CommerceError>(())
                })
            })
            .await
    }

    /// Staff moves an order along (processing, shipped, delivered) or cancels an unpaid one.
    pub async fn update_status(&self, actor: &str, order_id: &str, to: &str) -> Result<Order, CommerceError> {
        if !STATES.contains(&to) {
            return Err(CommerceError::Validation(json!({"status": format!("one of {}", STATES.join(", "))})));
        }
        if matches!(to, "paid" | "refunded" | "partially_refunded") {
            return Err(CommerceError::rule("invalid_transition", format!("{to} is set by payments and refunds, not by hand.")));
        }
        if to == "cancelled" {
            let status = self.order(order_id, &Viewer::Staff).await?.status;
            if status != "pending_payment" {
                return Err(CommerceError::rule("invalid_transition", "A paid order is cancelled by refunding it."));
            }
            self.cancel_unpaid_order(order_id, "cancelled by staff", actor).await?;
            return self.order(order_id, &Viewer::Staff).await;
        }
        let now = self.clock.now_ms();
        let (id, to_s, actor_s) = (order_id.to_string(), to.to_string(), actor.to_string());
        self.db
            .transaction(move |tx| {
                let (id, to, actor) = (id.clone(), to_s.clone(), actor_s.clone());
                Box::pin(async move {
                    let from: String = lsn_db::query("SELECT status FROM orders WHERE id = $1")
                        .bind(&id)
                        .fetch_optional(&mut **tx)
                        .await?
                        .ok_or(CommerceError::NotFound)?
                        .try_get(0)?;
                    if !transition(tx, now, &id, &from, &to, &actor, "status update").await? {
                        return Err(CommerceError::rule("invalid_transition", "The order changed meanwhile; reload it."));
                    }
                    Ok::<_, CommerceError>(())
                })
            })
            .await?;
        self.order(order_id, &Viewer::Staff).await
    }

    /// A buyer cancels an order they have not paid for.
    pub async fn cancel_by_customer(&self, order_id: &str) -> Result<(), CommerceError> {
        self.cancel_unpaid_order(order_id, "cancelled by customer", "customer").await
    }

    /// Refunds all (`amount: None`) or part of a paid order through the provider, optionally
    /// putting the goods back in stock (full refunds).
    ///
    /// The amount is claimed, the refund recorded as pending and a retry job queued in one
    /// transaction; then the provider is asked under the refund's own idempotency key. When the
    /// provider does not answer (down, or its reply lost) the refund stays pending and the job
    /// asks again with the same key until it does, so an outage neither loses the refund nor
    /// lets a second click refund twice.
    pub async fn refund(
        &self,
        actor: &str,
        order_id: &str,
        amount: Option<i64>,
        reason: &str,
        restock: bool,
    ) -> Result<Refunded, CommerceError> {
        let now = self.clock.now_ms();
        let o = self.order(order_id, &Viewer::Staff).await?;
        let refundable = o.amount_paid - o.amount_refunded;
        if refundable <= 0 {
            // Pending refunds count: what the provider has not confirmed yet is already claimed.
            return Err(CommerceError::rule("refund_exceeds_paid", "Nothing more can be refunded on this order."));
        }
        let amount = amount.unwrap_or(refundable);
        if amount <= 0 {
            return Err(CommerceError::Validation(json!({"amount": "a positive amount in cents"})));
        }
        if amount > refundable {
            return Err(CommerceError::rule(
                "refund_exceeds_paid",
                format!("At most {} can still be refunded.", lsn_core::money::Money::aud(refundable.max(0))),
            ));
        }
        if restock && amount != refundable {
            return Err(CommerceError::Validation(json!({"restock": "restocking goes with a full refund of what remains"})));
        }
        if reason.chars().count() > 500 {
            return Err(CommerceError::Validation(json!({"reason": "at most 500 characters"})));
        }
        let has_payment = lsn_db::query("SELECT COUNT(*) FROM payments WHERE order_id = $1 AND status = 'succeeded'")
            .bind(order_id)
            .fetch_one(self.db.read())
            .await?;
        if has_payment.try_get::<i64, _>(0)? == 0 {
            return Err(CommerceError::rule("not_paid", "This order has no successful payment to refund."));
        }
        let refund_id = lsn_core::ids::new_id();
        let (oid, rid, actor_s, reason_s) = (order_id.to_string(), refund_id.clone(), actor.to_string(), reason.to_string());
        self.db
            .transaction(move |tx| {
                let (oid, rid, actor, reason) = (oid.clone(), rid.clone(), actor_s.clone(), reason_s.clone());
                Box::pin(async move {
                    // Claim the amount first, so two refunds at once cannot exceed what was paid.
                    let claimed = lsn_db::query(
                        "UPDATE orders SET amount_refunded = amount_refunded + $1, updated_at = $2 WHERE id = $3 AND amount_refunded + $1 <= amount_paid \
                         AND status IN ('paid', 'processing', 'shipped', 'delivered', 'partially_refunded')",
                    )
                    .bind(amount)
                    .bind(now)
                    .bind(&oid)
                    .execute(&mut **tx)
                    .await?;
                    if claimed.rows_affected() == 0 {
                        return Err(CommerceError::rule("refund_exceeds_paid", "Nothing more can be refunded on this order."));
                    }
                    lsn_db::query("INSERT INTO refunds (id, order_id, amount, reason, restock, status, actor, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)")
                        .bind(&rid)
                        .bind(&oid)
                        .bind(amount)
                        .bind(&reason)
                        .bind(i64::from(restock))
                        .bind(&actor)
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                    // The safety net: if this process dies or the provider does not answer, the
                    // job finishes the refund; if the refund completes first, the job finds nothing to do.
                    let retry = NewJob::new(REFUND_JOB, json!({"refund_id": rid})).dedupe(format!("refund:{rid}")).at(now + REFUND_RETRY_MS).max_attempts(20);
                    lsn_ops::enqueue(&mut **tx, &retry, now).await?;
                    Ok::<_, CommerceError>(())
                })
            })
            .await?;
        let pending = !self.send_refund(&refund_id).await?;
        Ok(Refunded { order: self.order(order_id, &Viewer::Staff).await?, refund_id, pending })
    }

    /// Asks the provider for a pending refund (its own idempotency key, so asking again is
    /// safe) and settles it. `Ok(false)`: the provider did not answer, the refund stays pending.
    pub async fn send_refund(&self, refund_id: &str) -> Result<bool, CommerceError> {
        let Some(r) = lsn_db::query("SELECT order_id, amount, restock, actor, reason FROM refunds WHERE id = $1 AND status = 'pending'")
            .bind(refund_id)
            .fetch_optional(self.db.read())
            .await?
        else {
            return Ok(true);
        };
        let (order_id, amount, restock, actor, reason): (String, i64, i64, String, String) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?);
        let intent: String = lsn_db::query(
            "SELECT intent_id FROM payments WHERE order_id = $1 AND status IN ('succeeded', 'mismatch') ORDER BY created_at DESC LIMIT 1",
        )
        .bind(&order_id)
        .fetch_optional(self.db.read())
        .await?
        .ok_or_else(|| CommerceError::rule("not_paid", "This order has no successful payment to refund."))?
        .try_get(0)?;
        let outcome = match self.provider.refund(&intent, amount, &format!("refund:{refund_id}")).await {
            Ok(r) => Ok(r.id),
            Err(crate::payments::ProviderError::Rejected(m)) => Err(m),
            Err(crate::payments::ProviderError::Unavailable(m)) => {
                tracing::warn!(refund = refund_id, "refund waits for the payment provider: {m}");
                return Ok(false);
            }
        };
        let now = self.clock.now_ms();
        let (oid, rid, done) = (order_id.clone(), refund_id.to_string(), outcome.clone());
        self.db
            .transaction(move |tx| {
                let (oid, rid, actor, reason, done) = (oid.clone(), rid.clone(), actor.clone(), reason.clone(), done.clone());
                Box::pin(async move {
                    let (status, provider_ref) = match &done {
                        Ok(r) => ("succeeded", Some(r.clone())),
                        Err(_) => ("failed", None),
                    };
                    let settled = lsn_db::query("UPDATE refunds SET status = $1, provider_ref = $2 WHERE id = $3 AND status = 'pending'")
                        .bind(status)
                        .bind(provider_ref)
                        .bind(&rid)
                        .execute(&mut **tx)
                        .await?;
                    if settled.rows_affected() == 0 {
                        return Ok(());
                    }
                    if done.is_err() {
                        // Give the claimed amount back.
                        lsn_db::query("UPDATE orders SET amount_refunded = amount_refunded - $1, updated_at = $2 WHERE id = $3")
                            .bind(amount)
                            .bind(now)
                            .bind(&oid)
                            .execute(&mut **tx)
                            .await?;
                        return Ok(());
                    }
                    settle_refund_status(tx, now, &oid, &actor, &reason).await?;
                    if restock != 0 {
                        for (variant, qty) in &order_lines(tx, &oid).await? {
                            stock::restock(tx, now, variant, *qty, "refund", &oid, &actor).await?;
                        }
                    }
                    lsn_ops::publish(
                        tx,
                        now,
                        ORDER_REFUNDED,
                        Some(&oid),
                        &json!({"order_id": oid, "refund_id": rid, "amount": amount, "restocked": restock != 0}),
                    )
                    .await?;
                    Ok::<_, CommerceError>(())
                })
            })
            .await?;
        match outcome {
            Ok(_) => Ok(true),
            Err(m) => Err(CommerceError::rule("refund_rejected", m)),
        }
    }
}

/// The refusal for an order that is not awaiting payment.
fn unpaid(status: &str) -> Result<(), CommerceError> {
    match status {
        "pending_payment" => Ok(()),
        "cancelled" => Err(CommerceError::rule("order_not_payable", "This order was cancelled; check out again.")),
        _ => Err(CommerceError::rule("already_paid", "This order is already paid.")),
    }
}

fn in_progress() -> CommerceError {
    CommerceError::rule("payment_in_progress", "A payment for this order is being processed; wait for it to finish.")
}

/// Refunds `amount` that came for an order which does not owe it (a payment for a cancelled
/// order, or one that did not match the order): claims it, records a pending refund, queues
/// the refund job at once, and opens a task so a person knows, all inside `tx`.
async fn refund_unowed(tx: &mut Tx, now: i64, order_id: &str, amount: i64, why: &str) -> Result<(), CommerceError> {
    if amount <= 0 {
        return Ok(());
    }
    lsn_db::query("UPDATE orders SET amount_paid = CASE WHEN amount_paid < $1 THEN $1 ELSE amount_paid END, updated_at = $2 WHERE id = $3")
        .bind(amount)
        .bind(now)
        .bind(order_id)
        .execute(&mut **tx)
        .await?;
    let claimed =
        lsn_db::query("UPDATE orders SET amount_refunded = amount_refunded + $1 WHERE id = $2 AND amount_refunded + $1 <= amount_paid")
            .bind(amount)
            .bind(order_id)
            .execute(&mut **tx)
            .await?;
    if claimed.rows_affected() == 0 {
        return Ok(());
    }
    let rid = lsn_core::ids::new_id();
    lsn_db::query("INSERT INTO refunds (id, order_id, amount, reason, restock, status, actor, created_at) VALUES ($1, $2, $3, $4, 0, 'pending', 'system', $5)")
        .bind(&rid)
        .bind(order_id)
        .bind(amount)
        .bind(why)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    let job = NewJob::new(REFUND_JOB, json!({"refund_id": rid})).dedupe(format!("refund:{rid}")).max_attempts(20);
    lsn_ops::enqueue(&mut **tx, &job, now).await?;
    let number: String = lsn_db::query("SELECT number FROM orders WHERE id = $1").bind(order_id).fetch_one(&mut **tx).await?.try_get(0)?;
    open_task(
        tx,
        now,
        "payment_refunded",
        &format!("Payment refunded automatically on order {number}"),
        &format!("{why} {} is being refunded to the buyer; check that it arrived.", lsn_core::money::Money::aud(amount)),
        order_id,
    )
    .await?;
    Ok(())
}

/// A refund as asked for: `pending` while the provider has not answered yet.
#[derive(Debug)]
pub struct Refunded {
    pub order: Order,
    pub refund_id: String,
    pub pending: bool,
}

/// Sets `refunded` or `partially_refunded` from the amounts.
async fn settle_refund_status(tx: &mut Tx, now: i64, order_id: &str, actor: &str, reason: &str) -> Result<(), CommerceError> {
    let r =
        lsn_db::query("SELECT status, amount_paid, amount_refunded FROM orders WHERE id = $1").bind(order_id).fetch_one(&mut **tx).await?;
    let (status, paid, refunded): (String, i64, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
    let to = if refunded >= paid { "refunded" } else { "partially_refunded" };
    if refunded > 0 && status != to && allowed(&status, to) {
        transition(tx, now, order_id, &status, to, actor, reason).await?;
    } else if status == "partially_refunded" && to == "partially_refunded" {
        record(tx, now, order_id, Some("partially_refunded"), "partially_refunded", actor, reason).await?;
    }
    Ok(())
}

/// Cancels an unpaid order inside `tx`: releases its stock, its deal units, its discount use and
/// its per-customer counts. False when the order was not unpaid. Only
/// [`Commerce::cancel_unpaid_order`] calls it, once the payment cannot succeed any more.
async fn cancel_unpaid(tx: &mut Tx, now: i64, order_id: &str, reason: &str, actor: &str) -> Result<bool, CommerceError> {
    if !transition(tx, now, order_id, "pending_payment", "cancelled", actor, reason).await? {
        return Ok(false);
    }
    stock::release_order(tx, now, order_id, reason).await?;
    buyers::release_unpaid(tx, order_id).await?;
    let r = lsn_db::query("SELECT discount_code_id, offer_id FROM orders WHERE id = $1").bind(order_id).fetch_one(&mut **tx).await?;
    let (code, offer): (Option<String>, Option<String>) = (r.try_get(0)?, r.try_get(1)?);
    let keys = buyers::order_limit_keys(tx, order_id).await?;
    if let Some(offer) = offer {
        let qty: i64 = lsn_db::query("SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM order_items WHERE order_id = $1")
            .bind(order_id)
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
        offers::release(tx, &offer, &keys, qty).await?;
    }
    if let Some(code) = code {
        discounts::release(tx, &code, &keys).await?;
    }
    let per_product = lsn_db::query("SELECT v.product_id, CAST(SUM(oi.quantity) AS BIGINT) FROM order_items oi JOIN variants v ON v.id = oi.variant_id WHERE oi.order_id = $1 GROUP BY v.product_id")
        .bind(order_id)
        .fetch_all(&mut **tx)
        .await?;
    for p in per_product {
        let (pid, q): (String, i64) = (p.try_get(0)?, p.try_get(1)?);
        for key in &keys {
            lsn_db::query(
                "UPDATE customer_product_purchases SET quantity = quantity - $1 WHERE product_id = $2 AND customer_key = $3 AND quantity >= $1",
            )
            .bind(q)
            .bind(&pid)
            .bind(key)
            .execute(&mut **tx)
            .await?;
        }
    }
    lsn_ops::publish(tx, now, ORDER_CANCELLED, Some(order_id), &json!({"order_id": order_id, "reason": reason})).await?;
    Ok(true)
}

/// An order's lines as (variant, quantity).
async fn order_lines(tx: &mut Tx, order_id: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
    lsn_db::query("SELECT variant_id, quantity FROM order_items WHERE order_id = $1")
        .bind(order_id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// The order an intent pays for, locked for the rest of the transaction: two events for the
/// same order (a decline, then a success) applied at once must see each other's outcome.
async fn order_by_intent(tx: &mut Tx, backend: lsn_db::Backend, intent: &str) -> Result<Option<IntentOrder>, sqlx::Error> {
    let r = lsn_db::query(&format!(
        "SELECT o.id, o.status, o.number, o.total, o.unpaid_keys FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.intent_id = $1{}",
        lsn_db::dialect::lock_rows(backend, "o")
    ))
    .bind(intent)
    .fetch_optional(&mut **tx)
    .await?;
    r.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?))).transpose()
}

/// The order an intent pays for: id, status, number, total, its unpaid checkout keys.
type IntentOrder = (String, String, String, i64, Option<String>);

/// Applies one provider event inside the webhook transaction. `Ok(false)`: it depends on an
/// event not seen yet, try again later.
pub async fn apply_event(c: &Commerce, tx: &mut Tx, now: i64, event_type: &str, obj: &Value) -> Result<bool, CommerceError> {
    let intent = if event_type.starts_with("payment_intent.") { obj["id"].as_str() } else { obj["payment_intent"].as_str() }
        .unwrap_or_default()
        .to_string();
    let Some((order_id, status, number, total, unpaid_keys)) = order_by_intent(tx, c.db.backend(), &intent).await? else {
        return Ok(false);
    };
    match event_type {
        "payment_intent.succeeded" => {
            // Only a full payment in the order's currency pays the order; what Stripe sends is
            // checked, never assumed (a missing amount is no proof of payment).
            let received = obj["amount_received"].as_i64().unwrap_or(0).max(0);
            let currency_ok = obj["currency"].as_str().is_none_or(|cur| cur.eq_ignore_ascii_case("aud"));
            let first = lsn_db::query("UPDATE payments SET status = 'succeeded', amount_received = $1, updated_at = $2 WHERE intent_id = $3 AND amount_received IS NULL")
                .bind(received)
                .bind(now)
                .bind(&intent)
                .execute(&mut **tx)
                .await?;
            if first.rows_affected() == 0 {
                // Applied before (a redelivery under another event id).
                return Ok(true);
            }
            if status != "pending_payment" {
                // The order was cancelled and gave its stock, deal units and discount use back: the
                // money goes back too, never the order forward.
                refund_unowed(tx, now, &order_id, received, "The payment arrived after the order was cancelled.").await?;
                return Ok(true);
            }
            if received != total || !currency_ok {
                lsn_db::query("UPDATE payments SET status = 'mismatch' WHERE intent_id = $1").bind(&intent).execute(&mut **tx).await?;
                lsn_db::query("UPDATE orders SET amount_paid = $1, updated_at = $2 WHERE id = $3")
                    .bind(received)
                    .bind(now)
                    .bind(&order_id)
                    .execute(&mut **tx)
                    .await?;
                let currency = obj["currency"].as_str().unwrap_or("aud").to_uppercase();
                open_task(
                    tx,
                    now,
                    "payment_mismatch",
                    &format!("Payment does not match order {number}"),
                    &format!(
                        "The provider reports {received} {currency} cents received for an order of {} AUD. The order stays unpaid and will not ship; it is refunded if it is cancelled or its reservation runs out.",
                        lsn_core::money::Money::aud(total)
                    ),
                    &order_id,
                )
                .await?;
                tracing::warn!(order = %number, received, total, currency = %currency, "payment does not match the order: left unpaid");
                return Ok(true);
            }
            if !transition(tx, now, &order_id, "pending_payment", "paid", "stripe", "payment succeeded").await? {
                return Ok(true);
            }
            stock::consume_order(tx, now, &order_id).await?;
            // Paid: it no longer counts among its buyer's unpaid checkouts (the counts go down
            // last, below, so the rows many orders share are held only until the commit).
            lsn_db::query("UPDATE orders SET amount_paid = $1, paid_at = $2, unpaid_keys = NULL WHERE id = $3")
                .bind(received)
                .bind(now)
                .bind(&order_id)
                .execute(&mut **tx)
                .await?;
            lsn_ops::publish(
                tx,
                now,
                ORDER_PAID,
                Some(&order_id),
                &json!({"order_id": order_id, "number": number, "amount": received, "intent_id": intent}),
            )
            .await?;
            if let Some(keys) = &unpaid_keys {
                buyers::release_keys(tx, keys).await?;
            }
            Ok(true)
        }
        "payment_intent.payment_failed" => {
            let code = obj["last_payment_error"]["decline_code"]
                .as_str()
                .or(obj["last_payment_error"]["code"].as_str())
                .unwrap_or("payment_failed")
                .to_string();
            lsn_db::query(
                "UPDATE payments SET status = 'failed', last_error = $1, updated_at = $2 WHERE intent_id = $3 AND status NOT IN ('succeeded', 'mismatch', 'canceled', 'processing')",
            )
            .bind(&code)
            .bind(now)
            .bind(&intent)
            .execute(&mut **tx)
            .await?;
            if status == "pending_payment" {
                lsn_ops::publish(tx, now, PAYMENT_FAILED, Some(&order_id), &json!({"order_id": order_id, "code": code})).await?;
                // A failed payment gives the stock back at once — through the one cancellation
                // path, which first makes sure no retry of the payment is on its way.
                let job = NewJob::new(CANCEL_FAILED_JOB, json!({"order_id": order_id, "code": code})).max_attempts(20);
                lsn_ops::enqueue(&mut **tx, &job, now).await?;
            }
            Ok(true)
        }
        "charge.refunded" => {
            let paid: i64 =
                lsn_db::query("SELECT amount_paid FROM orders WHERE id = $1").bind(&order_id).fetch_one(&mut **tx).await?.try_get(0)?;
            if paid == 0 {
                return Ok(false);
            }
            let refunded = obj["amount_refunded"].as_i64().unwrap_or(0).min(paid);
            // Refunds made here already counted themselves; this catches ones made in Stripe's dashboard.
            let r = lsn_db::query("UPDATE orders SET amount_refunded = $1, updated_at = $2 WHERE id = $3 AND amount_refunded < $1")
                .bind(refunded)
                .bind(now)
                .bind(&order_id)
                .execute(&mut **tx)
                .await?;
            if r.rows_affected() == 1 {
                settle_refund_status(tx, now, &order_id, "stripe", "refunded at the provider").await?;
                lsn_ops::publish(
                    tx,
                    now,
                    ORDER_REFUNDED,
                    Some(&order_id),
                    &json!({"order_id": order_id, "amount_refunded": refunded, "source": "provider"}),
                )
                .await?;
            }
            Ok(true)
        }
        "charge.dispute.created" => {
            let dispute_id = obj["id"].as_str().unwrap_or_default().to_string();
            let ins = lsn_db::query("INSERT INTO disputes (id, order_id, amount, reason, status, opened_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING")
                .bind(&dispute_id)
                .bind(&order_id)
                .bind(obj["amount"].as_i64().unwrap_or(0))
                .bind(obj["reason"].as_str().unwrap_or("general"))
                .bind(obj["status"].as_str().unwrap_or("needs_response"))
                .bind(now)
                .execute(&mut **tx)
                .await?;
            if ins.rows_affected() == 1 {
                lsn_db::query("UPDATE orders SET disputed = 1, payout_hold = 1, updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(&order_id)
                    .execute(&mut **tx)
                    .await?;
                lsn_ops::publish(
                    tx,
                    now,
                    ORDER_DISPUTED,
                    Some(&order_id),
                    &json!({"order_id": order_id, "number": number, "dispute_id": dispute_id, "reason": obj["reason"].as_str().unwrap_or("general")}),
                )
                .await?;
            }
            Ok(true)
        }
        "charge.dispute.closed" => {
            let dispute_id = obj["id"].as_str().unwrap_or_default();
            let outcome = obj["status"].as_str().unwrap_or("closed");
            let known: i64 =
                lsn_db::query("SELECT COUNT(*) FROM disputes WHERE id = $1").bind(dispute_id).fetch_one(&mut **tx).await?.try_get(0)?;
            if known == 0 {
                return Ok(false);
            }
            lsn_db::query("UPDATE disputes SET status = $1, closed_at = $2 WHERE id = $3")
                .bind(outcome)
                .bind(now)
                .bind(dispute_id)
                .execute(&mut **tx)
                .await?;
            if outcome == "won" {
                lsn_db::query("UPDATE orders SET disputed = 0, payout_hold = 0, updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(&order_id)
                    .execute(&mut **tx)
                    .await?;
            }
            lsn_ops::publish(
                tx,
                now,
                ORDER_DISPUTE_CLOSED,
                Some(&order_id),
                &json!({"order_id": order_id, "dispute_id": dispute_id, "status": outcome}),
            )
            .await?;
            Ok(true)
        }
        _ => Ok(true),
    }
}

async fn open_task(tx: &mut Tx, now: i64, kind: &str, title: &str, detail: &str, reference: &str) -> Result<(), sqlx::Error> {
    lsn_db::query("INSERT INTO tasks (id, kind, title, detail, ref, status, created_at) VALUES ($1, $2, $3, $4, $5, 'open', $6)")
        .bind(lsn_core::ids::new_id())
        .bind(kind)
        .bind(title)
        .bind(detail)
        .bind(reference)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Cancels orders whose reservation expired unpaid (through [`Commerce::cancel_unpaid_order`]:
/// an order whose payment is on its way is left for its payment event).
pub struct ExpireJob {
    pub commerce: Commerce,
}

#[async_trait::async_trait]
impl JobHandler for ExpireJob {
    async fn run(&self, ctx: &JobContext, _payload: &Value) -> Result<(), JobError> {
        let c = &self.commerce;
        let now = ctx.clock.now_ms();
        let expired = stock::expired_orders(&c.db, now, 500).await?;
        let mut waiting = 0;
        for order_id in expired {
            match c.cancel_unpaid_order(&order_id, "reservation expired", "system").await {
                Ok(()) => {}
                Err(CommerceError::Rule { code: "payment_in_progress", .. }) => waiting += 1,
                Err(CommerceError::Provider(m)) => {
                    // Asked again on the next run.
                    tracing::warn!(order = %order_id, "reservation not released yet: the payment provider did not answer: {m}");
                    waiting += 1;
                }
                Err(CommerceError::Rule { code: "invalid_transition", .. }) => {
                    // Paid or cancelled meanwhile: whatever is still held goes back.
                    let id = order_id.clone();
                    c.db.transaction(move |tx| {
                        let id = id.clone();
                        Box::pin(async move { stock::release_order(tx, now, &id, "reservation expired").await })
                    })
                    .await?;
                }
                Err(e) => return Err(JobError::Retry(e.to_string())),
            }
        }
        if waiting > 0 {
            tracing::debug!(orders = waiting, "expired reservations kept while their payment is on its way");
        }
        Ok(())
    }
}

/// `orders.cancel_after_failed_payment`: a failed payment gives its order's stock, deal units
/// and discount use back, unless a retry of the payment is on its way or succeeded.
pub struct CancelFailedJob {
    pub commerce: Commerce,
}

#[async_trait::async_trait]
impl JobHandler for CancelFailedJob {
    async fn run(&self, _ctx: &JobContext, payload: &Value) -> Result<(), JobError> {
        let order = payload["order_id"].as_str().ok_or_else(|| JobError::Fail("no order_id".into()))?;
        let code = payload["code"].as_str().unwrap_or("payment_failed");
        match self.commerce.cancel_unpaid_order(order, &format!("payment failed: {code}"), "stripe").await {
            Ok(()) | Err(CommerceError::Rule { .. }) | Err(CommerceError::NotFound) => Ok(()),
            Err(e) => Err(JobError::Retry(e.to_string())),
        }
    }
}

pub const CONFIRMATION_MAIL_JOB: &str = "commerce.confirmation_mail";
pub const CLEAR_CART_JOB: &str = "commerce.clear_bought_lines";
pub const DISPUTE_TASK_JOB: &str = "commerce.dispute_task";

/// `order.paid` → the order confirmation mail (once per order: the mail's id is the order's).
pub struct ConfirmationMail {
    pub commerce: Commerce,
}

#[async_trait::async_trait]
impl JobHandler for ConfirmationMail {
    async fn run(&self, ctx: &JobContext, payload: &Value) -> Result<(), JobError> {
        let order_id = payload["payload"]["order_id"].as_str().ok_or_else(|| JobError::Fail("event without order_id".into()))?.to_string();
        let c = &self.commerce;
        let o = c.order(&order_id, &Viewer::Staff).await.map_err(|e| JobError::Retry(e.to_string()))?;
        let mut lines = String::new();
        for i in &o.items {
            lines.push_str(&format!("  {} × {}  {}\n", i.quantity, i.title, lsn_core::money::Money::aud(i.line_total)));
        }
        let msg = lsn_mail::Message {
            to: o.email.clone(),
            subject: t_args("email-order-subject", &[("number", &o.number)]),
            text: format!(
                "{}\n\n{lines}\n{}\n\n{}\n",
                t_args("email-order-intro", &[("number", &o.number)]),
                t_args("email-order-total", &[("total", &lsn_core::money::Money::aud(o.amount_paid).to_string())]),
                t_args("email-order-track", &[("link", &format!("{}/orders/{}", c.cfg.public_url, o.number))]),
            ),
            html: None,
            tag: Some("order_confirmation".into()),
            message_id: Some(format!("order-confirmation-{order_id}")),
        };
        let now = ctx.clock.now_ms();
        c.db.transaction(move |tx| {
            let msg = msg.clone();
            Box::pin(async move { lsn_ops::builtin::queue_mail(tx, now, msg).await })
        })
        .await?;
        Ok(())
    }
}

/// `order.paid` → the bought lines leave the cart the order came from; anything added since stays.
pub struct ClearBoughtLines {
    pub commerce: Commerce,
}

#[async_trait::async_trait]
impl JobHandler for ClearBoughtLines {
    async fn run(&self, _ctx: &JobContext, payload: &Value) -> Result<(), JobError> {
        let order_id = payload["payload"]["order_id"].as_str().ok_or_else(|| JobError::Fail("event without order_id".into()))?;
        lsn_db::query("DELETE FROM cart_items WHERE cart_id = (SELECT cart_id FROM orders WHERE id = $1) AND variant_id IN (SELECT variant_id FROM order_items WHERE order_id = $1)")
            .bind(order_id)
            .execute(self.commerce.db.write())
            .await?;
        Ok(())
    }
}

/// `order.disputed` → a task for a person: answer the dispute before its deadline (once per
/// dispute: the task is keyed by the event).
pub struct DisputeTask {
    pub commerce: Commerce,
}

#[async_trait::async_trait]
impl JobHandler for DisputeTask {
    async fn run(&self, ctx: &JobContext, payload: &Value) -> Result<(), JobError> {
        let e = &payload["payload"];
        let order_id = e["order_id"].as_str().ok_or_else(|| JobError::Fail("event without order_id".into()))?.to_string();
        let (number, reason) = (e["number"].as_str().unwrap_or("").to_string(), e["reason"].as_str().unwrap_or("general").to_string());
        let dispute = e["dispute_id"].as_str().unwrap_or("").to_string();
        let now = ctx.clock.now_ms();
        self.commerce
            .db
            .transaction(move |tx| {
                let (order_id, number, reason, dispute) = (order_id.clone(), number.clone(), reason.clone(), dispute.clone());
                Box::pin(async move {
                    let already: i64 =
                        lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE kind = 'dispute' AND ref = $1 AND detail LIKE $2")
                            .bind(&order_id)
                            .bind(format!("%{dispute}%"))
                            .fetch_one(&mut **tx)
                            .await?
                            .try_get(0)?;
                    if already == 0 {
                        open_task(
                            tx,
                            now,
                            "dispute",
                            &format!("Respond to the dispute on order {number}"),
                            &format!("Reason: {reason}. Gather evidence in the Stripe dashboard before the deadline (dispute {dispute})."),
                            &order_id,
                        )
                        .await?;
                    }
                    Ok::<_, CommerceError>(())
                })
            })
            .await
            .map_err(|e| JobError::Retry(e.to_string()))
    }
}

/// Finishes a refund the provider did not answer: asks again with the refund's own key.
pub struct RefundJob {
    pub commerce: Commerce,
}

#[async_trait::async_trait]
impl JobHandler for RefundJob {
    async fn run(&self, _ctx: &JobContext, payload: &Value) -> Result<(), JobError> {
        let id = payload["refund_id"].as_str().unwrap_or_default();
        match self.commerce.send_refund(id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(JobError::Retry("the payment provider did not answer".into())),
            Err(CommerceError::Rule { code, message }) => {
                // Nobody is waiting on this answer any more: leave it for a person.
                tracing::warn!(refund = id, code, "refund refused by the provider: {message}");
                let (now, id, message) = (self.commerce.clock.now_ms(), id.to_string(), message.clone());
                self.commerce
                    .db
                    .transaction(move |tx| {
                        let (id, message) = (id.clone(), message.clone());
                        Box::pin(async move {
                            open_task(tx, now, "refund_failed", "Refund refused by the payment provider", &message, &id).await?;
                            Ok::<_, CommerceError>(())
                        })
                    })
                    .await
                    .map_err(|e| JobError::Retry(e.to_string()))
            }
            Err(e) => Err(JobError::Retry(e.to_string())),
        }
    }
}

pub struct CancelIntentJob {
    pub commerce: Commerce,
}

#[async_trait::async_trait]
impl JobHandler for CancelIntentJob {
    async fn run(&self, _ctx: &JobContext, payload: &Value) -> Result<(), JobError> {
        let intent = payload["intent_id"].as_str().unwrap_or_default();
        match self.commerce.provider.cancel(intent, &format!("cancel:{intent}")).await {
            Ok(Cancelled::Now | Cancelled::Already) => Ok(()),
            Ok(Cancelled::Paid) => {
                // Its payment event will find the order cancelled and refund it.
                tracing::warn!(intent, "intent of a cancelled order had already been paid");
                Ok(())
            }
            Err(crate::payments::ProviderError::Rejected(m)) => {
                tracing::info!(intent, "intent not cancelled: {m}");
                Ok(())
            }
            Err(crate::payments::ProviderError::Unavailable(m)) => Err(JobError::Retry(m)),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn state_machine() {
        assert!(super::allowed("pending_payment", "paid"));
        assert!(super::allowed("paid", "processing"));
        assert!(!super::allowed("pending_payment", "shipped"));
        assert!(!super::allowed("refunded", "paid"));
        assert!(!super::allowed("delivered", "processing"));
        assert!(!super::allowed("cancelled", "shipped"));
        assert!(!super::allowed("cancelled", "paid"), "a cancelled order is never revived");
        let n = super::order_number();
        assert!(n.starts_with("LSN-") && n.len() == 11);
    }
}
