//! Refunds: claimed first, asked of the provider under their own key, settled when it answers;
//! and the automatic refund of money an order does not owe.

use super::*;
use lsn_core::i18n;

impl Commerce {
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
            return Err(CommerceError::rule(Code::RefundExceedsPaid, i18n::t("commerce-refund-nothing-left")));
        }
        let amount = amount.unwrap_or(refundable);
        if amount <= 0 {
            return Err(CommerceError::Validation(json!({"amount": i18n::t("commerce-refund-amount")})));
        }
        if amount > refundable {
            return Err(CommerceError::rule(
                Code::RefundExceedsPaid,
                i18n::t_args("commerce-refund-at-most", &[("amount", &lsn_core::money::Money::aud(refundable.max(0)).to_string())]),
            ));
        }
        if restock && amount != refundable {
            return Err(CommerceError::Validation(json!({"restock": i18n::t("commerce-refund-restock")})));
        }
        if reason.chars().count() > 500 {
            return Err(CommerceError::Validation(json!({"reason": i18n::t_args("commerce-too-long", &[("max", "500")])})));
        }
        let has_payment = lsn_db::query("SELECT COUNT(*) FROM payments WHERE order_id = $1 AND status = 'succeeded'")
            .bind(order_id)
            .fetch_one(self.db.read())
            .await?;
        if has_payment.try_get::<i64, _>(0)? == 0 {
            return Err(CommerceError::rule(Code::NotPaid, i18n::t("commerce-refund-no-payment")));
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
                        return Err(CommerceError::rule(Code::RefundExceedsPaid, i18n::t("commerce-refund-nothing-left")));
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
        .ok_or_else(|| CommerceError::rule(Code::NotPaid, i18n::t("commerce-refund-no-payment")))?
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
            Err(m) => Err(CommerceError::rule(Code::RefundRejected, m)),
        }
    }
}

/// Refunds `amount` that came for an order which does not owe it (a payment for a cancelled
/// order, or one that did not match the order): claims it, records a pending refund, queues
/// the refund job at once, and opens a task so a person knows, all inside `tx`.
pub(super) async fn refund_unowed(tx: &mut Tx, now: i64, order_id: &str, amount: i64, why: &str) -> Result<(), CommerceError> {
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
pub(super) async fn settle_refund_status(tx: &mut Tx, now: i64, order_id: &str, actor: &str, reason: &str) -> Result<(), CommerceError> {
    let r =
        lsn_db::query("SELECT status, amount_paid, amount_refunded FROM orders WHERE id = $1").bind(order_id).fetch_one(&mut **tx).await?;
    let (status, paid, refunded): (OrderStatus, i64, i64) = (r.try_parse(0)?, r.try_get(1)?, r.try_get(2)?);
    let to = if refunded >= paid { OrderStatus::Refunded } else { OrderStatus::PartiallyRefunded };
    if refunded > 0 && status != to && status.can_become(to) {
        transition(tx, now, order_id, status, to, actor, reason).await?;
    } else if status == OrderStatus::PartiallyRefunded && to == OrderStatus::PartiallyRefunded {
        // A further partial refund: recorded as a move to the same state.
        record(tx, now, order_id, Some(to), to, actor, reason).await?;
    }
    Ok(())
}
