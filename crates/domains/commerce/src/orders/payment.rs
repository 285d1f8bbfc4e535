//! Paying an order and the one way to cancel an unpaid one; the provider's events applied.

use super::*;
use crate::payments::events::Event;
use lsn_core::i18n;

impl Commerce {
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
                return Err(CommerceError::rule(Code::OrderNotPayable, i18n::t("commerce-order-cancelled")));
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
        let status: OrderStatus = lsn_db::query("SELECT status FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_optional(self.db.read())
            .await?
            .ok_or(CommerceError::NotFound)?
            .try_parse(0)?;
        unpaid(status)?;
        // Card testing tries card after card on one order: a few attempts, then wait.
        self.limits
            .pay
            .hit(order_id, self.clock.now_ms())
            .await
            .map_err(|retry_after_secs| CommerceError::RateLimited { retry_after_secs })?;
        if matches!(method, PaymentMethod::TestCard(_)) && self.sandbox.is_none() {
            return Err(CommerceError::rule(Code::CardNumberNotAccepted, i18n::t("commerce-card-number")));
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
            crate::payments::ProviderError::Rejected(m) => CommerceError::rule(Code::PaymentRejected, m),
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
        let (order, payment): (OrderStatus, String) = (r.try_parse(0)?, r.try_get(1)?);
        Ok(match unpaid(order) {
            Err(e) => e,
            Ok(()) if payment == "canceled" => CommerceError::rule(Code::OrderNotPayable, i18n::t("commerce-payment-cancelled")),
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
        let (order, intent, payment, lease): (OrderStatus, String, String, Option<i64>) =
            (r.try_parse(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        if order != OrderStatus::PendingPayment {
            return Err(CommerceError::rule(Code::InvalidTransition, i18n::t("commerce-only-unpaid-cancel")));
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
                        return Err(CommerceError::rule(Code::InvalidTransition, i18n::t("commerce-only-unpaid-cancel")));
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
    /// (`order_id` is the order's id, not its number: a typed id, so the two cannot be swapped
    /// with the actor as three strings in a row could.)
    pub async fn update_status(&self, actor: &str, order_id: &OrderId, to: OrderStatus) -> Result<Order, CommerceError> {
        if to.set_by_money() {
            return Err(CommerceError::rule(Code::InvalidTransition, i18n::t_args("commerce-set-by-money", &[("status", to.as_str())])));
        }
        if to == OrderStatus::Cancelled {
            let status = self.order(order_id, &Viewer::Staff).await?.status;
            if status != OrderStatus::PendingPayment {
                return Err(CommerceError::rule(Code::InvalidTransition, i18n::t("commerce-paid-cancel")));
            }
            self.cancel_unpaid_order(order_id, "cancelled by staff", actor).await?;
            return self.order(order_id, &Viewer::Staff).await;
        }
        let now = self.clock.now_ms();
        self.db
            .transaction_with((order_id.to_string(), actor.to_string()), move |tx, (id, actor)| {
                Box::pin(async move {
                    let from: OrderStatus = lsn_db::query("SELECT status FROM orders WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut **tx)
                        .await?
                        .ok_or(CommerceError::NotFound)?
                        .try_parse(0)?;
                    if !transition(tx, now, id, from, to, actor, "status update").await? {
                        return Err(CommerceError::rule(Code::InvalidTransition, i18n::t("commerce-order-changed")));
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
}

/// The refusal for an order that is not awaiting payment.
pub(super) fn unpaid(status: OrderStatus) -> Result<(), CommerceError> {
    match status {
        OrderStatus::PendingPayment => Ok(()),
        OrderStatus::Cancelled => Err(CommerceError::rule(Code::OrderNotPayable, i18n::t("commerce-order-cancelled"))),
        _ => Err(CommerceError::rule(Code::AlreadyPaid, i18n::t("commerce-already-paid"))),
    }
}

pub(super) fn in_progress() -> CommerceError {
    CommerceError::rule(Code::PaymentInProgress, i18n::t("commerce-payment-in-progress"))
}

/// Cancels an unpaid order inside `tx`: releases its stock, its deal units, its discount use and
/// its per-customer counts. False when the order was not unpaid. Only
/// [`Commerce::cancel_unpaid_order`] calls it, once the payment cannot succeed any more.
pub(super) async fn cancel_unpaid(tx: &mut Tx, now: i64, order_id: &str, reason: &str, actor: &str) -> Result<bool, CommerceError> {
    if !transition(tx, now, order_id, OrderStatus::PendingPayment, OrderStatus::Cancelled, actor, reason).await? {
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
    let per_product = lsn_db::query("SELECT v.product_id, CAST(SUM(oi.quantity) AS BIGINT) FROM order_items oi JOIN catalog_variants v ON v.id = oi.variant_id WHERE oi.order_id = $1 GROUP BY v.product_id")
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

/// The order an intent pays for, locked for the rest of the transaction: two events for the
/// same order (a decline, then a success) applied at once must see each other's outcome.
pub(super) async fn order_by_intent(tx: &mut Tx, backend: lsn_db::Backend, intent: &str) -> Result<Option<IntentOrder>, lsn_db::Error> {
    let r = lsn_db::query(&format!(
        "SELECT o.id, o.status, o.number, o.total, o.unpaid_keys FROM payments p JOIN orders o ON o.id = p.order_id WHERE p.intent_id = $1{}",
        lsn_db::dialect::lock_rows(backend, "o")
    ))
    .bind(intent)
    .fetch_optional(&mut **tx)
    .await?;
    r.map(|r| Ok((r.try_get(0)?, r.try_parse(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?))).transpose()
}

/// The order an intent pays for: id, status, number, total, its unpaid checkout keys.
pub(super) type IntentOrder = (String, OrderStatus, String, i64, Option<String>);

/// Applies one provider event inside the webhook transaction. `Ok(false)`: it depends on an
/// event not seen yet, try again later.
pub async fn apply_event(c: &Commerce, tx: &mut Tx, now: i64, event: &Event) -> Result<bool, CommerceError> {
    let intent = event.intent().unwrap_or_default().to_string();
    let Some((order_id, status, number, total, unpaid_keys)) = order_by_intent(tx, c.db.backend(), &intent).await? else {
        return Ok(false);
    };
    match event {
        Event::PaymentSucceeded(pi) => {
            // Only a full payment in the order's currency pays the order; what Stripe sends is
            // checked, never assumed (a missing amount is no proof of payment).
            let received = pi.amount_received.unwrap_or(0).max(0);
            let currency_ok = pi.currency.as_deref().is_none_or(|cur| cur.eq_ignore_ascii_case("aud"));
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
            if status != OrderStatus::PendingPayment {
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
                let currency = pi.currency.as_deref().unwrap_or("aud").to_uppercase();
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
            if !transition(tx, now, &order_id, OrderStatus::PendingPayment, OrderStatus::Paid, "stripe", "payment succeeded").await? {
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
        Event::PaymentFailed(pi) => {
            let error = pi.last_payment_error.as_ref();
            let code = error.and_then(|e| e.decline_code.as_deref().or(e.code.as_deref())).unwrap_or("payment_failed").to_string();
            lsn_db::query(
                "UPDATE payments SET status = 'failed', last_error = $1, updated_at = $2 WHERE intent_id = $3 AND status NOT IN ('succeeded', 'mismatch', 'canceled', 'processing')",
            )
            .bind(&code)
            .bind(now)
            .bind(&intent)
            .execute(&mut **tx)
            .await?;
            if status == OrderStatus::PendingPayment {
                lsn_ops::publish(tx, now, PAYMENT_FAILED, Some(&order_id), &json!({"order_id": order_id, "code": code})).await?;
                // A failed payment gives the stock back at once — through the one cancellation
                // path, which first makes sure no retry of the payment is on its way.
                let job = NewJob::new(CANCEL_FAILED_JOB, json!({"order_id": order_id, "code": code})).max_attempts(20);
                lsn_ops::enqueue(&mut **tx, &job, now).await?;
            }
            Ok(true)
        }
        Event::ChargeRefunded(charge) => {
            let paid: i64 =
                lsn_db::query("SELECT amount_paid FROM orders WHERE id = $1").bind(&order_id).fetch_one(&mut **tx).await?.try_get(0)?;
            if paid == 0 {
                return Ok(false);
            }
            let refunded = charge.amount_refunded.unwrap_or(0).min(paid);
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
        Event::DisputeCreated(d) => {
            let dispute_id = d.id.clone();
            let reason = d.reason.as_deref().unwrap_or("general");
            let ins = lsn_db::query("INSERT INTO disputes (id, order_id, amount, reason, status, opened_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING")
                .bind(&dispute_id)
                .bind(&order_id)
                .bind(d.amount.unwrap_or(0))
                .bind(reason)
                .bind(d.status.as_deref().unwrap_or("needs_response"))
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
                    &json!({"order_id": order_id, "number": number, "dispute_id": dispute_id, "reason": reason}),
                )
                .await?;
            }
            Ok(true)
        }
        Event::DisputeClosed(d) => {
            let dispute_id = d.id.as_str();
            let outcome = d.status.as_deref().unwrap_or("closed");
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
    }
}
