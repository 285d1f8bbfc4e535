//! Placing an order from a cart or a deal: validate, price, take the limits and reserve the
//! stock in one transaction; a cart's unpaid order found again or replaced.

use super::*;
use lsn_core::i18n;

/// What placing an order came to: the order (new, or the cart's unpaid order asked for again),
/// or the cart's unpaid order to replace first.
pub(super) enum Placed {
    Done(Box<CheckoutResult>),
    Replace(String),
}

/// What the checkout transaction came to: the order it is (new or the same again), or the
/// cart's other unpaid order.
#[derive(Clone)]
pub(super) enum Claimed {
    Order(String),
    Replace(String),
}

impl Commerce {
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
        Err(CommerceError::rule(Code::CheckoutBusy, i18n::t("commerce-checkout-busy")))
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
            return Err(CommerceError::rule(Code::DiscountNotCombinable, i18n::t("commerce-deal-no-discount")));
        }
        // Most buyers of a popular deal arrive after it sold out: answer them from memory or a
        // read, without queueing for the writer. The claim inside the transaction stays the
        // authority.
        let now = self.clock.now_ms();
        let closed = |code: Code| {
            self.deals_in_flight.remember_closed(offer_id, code, now);
            match code {
                Code::DealEnded => CommerceError::rule(code, i18n::t("commerce-deal-ended")),
                _ => CommerceError::rule(code, i18n::t("commerce-deal-sold-out")),
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
            "sold_out" => return Err(closed(Code::DealSoldOut)),
            "ended" => return Err(closed(Code::DealEnded)),
            "upcoming" => return Err(CommerceError::rule(Code::DealNotStarted, i18n::t("commerce-deal-not-started"))),
            _ => {}
        }
        // Those arriving while the last units are already being bought are answered here too
        // (a quantity beyond what remains gets the claim's own answer).
        let pass = if (1..=offer.remaining).contains(&quantity) {
            match self.deals_in_flight.enter(offer_id, quantity, offer.remaining) {
                Some(p) => Some(p),
                None => return Err(CommerceError::rule(Code::DealSoldOut, i18n::t("commerce-deal-last-units"))),
            }
        } else {
            None
        };
        let placed = self.place_order(buyer, Source::Offer { offer_id: offer_id.to_string(), quantity }, input, pass).await;
        if let Err(CommerceError::Rule { code, .. }) = &placed {
            self.deals_in_flight.remember_closed(offer_id, *code, now);
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
            (None, None) => return Err(CommerceError::Validation(json!({"email": i18n::t("commerce-email-required")}))),
        };
        // Checkouts per customer: the signed-in user, else the cart, else (a guest buying a
        // deal) the mailbox the receipt goes to.
        let who = match (user, &source) {
            (Some(u), _) => format!("user:{}", u.id),
            (None, Source::Cart(cart)) => format!("cart:{cart}"),
            (None, Source::Offer { .. }) => format!("email:{}", email.identity()),
        };
        self.limits
            .checkout
            .hit(&who, self.clock.now_ms())
            .await
            .map_err(|retry_after_secs| CommerceError::RateLimited { retry_after_secs })?;
        if !["standard", "express"].contains(&input.shipping_method.as_str()) {
            return Err(CommerceError::Validation(json!({"shipping_method": i18n::t("commerce-shipping-method")})));
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
        let (visitor, network) = (buyer.visitor.clone(), buyer.network.clone());
        let placed = self
            .db
            .transaction(move |tx| {
                let (order_id, number, email, customer_key, address, input, source, guest_token, user_id, limit_keys, unpaid_keys) = args.clone();
                let (visitor, network) = (visitor.clone(), network.clone());
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
                            open_order = open.map(|r| Ok::<_, lsn_db::Error>((r.try_get(0)?, r.try_get(1)?))).transpose()?;
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
                        return Err(CommerceError::rule(Code::CartEmpty, i18n::t("commerce-cart-empty")));
                    }
                    if let Some(l) = lines.iter().find(|l| l.problem.as_deref() == Some("unavailable")) {
                        return Err(CommerceError::rule(Code::Unavailable, i18n::t_args("commerce-no-longer-for-sale", &[("title", &l.product_title)])));
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
                            return Err(CommerceError::rule(Code::QuantityLimit, i18n::t_args("commerce-max-per-order-of", &[("max", &max_order.unwrap_or(0).to_string()), ("title", title)])));
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
                                    return Err(CommerceError::rule(Code::CustomerLimit, i18n::t_args("commerce-max-per-customer-of", &[("max", &limit.to_string()), ("title", title)])));
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
                         shipping_method, shipping_address, reserved_until, placed_at, updated_at, access_hash, cart_id, offer_id, show_id, limit_keys, unpaid_keys, checkout_hash, visitor_id, network) \
                         VALUES ($1, $2, $3, $4, 'pending_payment', $5, 'AUD', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)",
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
                    .bind(&visitor)
                    .bind(&network)
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
                    record(tx, now, &order_id, None, OrderStatus::PendingPayment, "customer", "checkout").await?;
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
            (None, Some(u)) => Viewer::Customer(u.id.to_string()),
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
}
