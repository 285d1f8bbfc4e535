//! The orders' jobs: expiry, the retries of provider calls, and the subscribers of the orders'
//! events.

use super::*;

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
                Err(CommerceError::Rule { code: Code::PaymentInProgress, .. }) => waiting += 1,
                Err(CommerceError::Provider(m)) => {
                    // Asked again on the next run.
                    tracing::warn!(order = %order_id, "reservation not released yet: the payment provider did not answer: {m}");
                    waiting += 1;
                }
                Err(CommerceError::Rule { code: Code::InvalidTransition, .. }) => {
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

pub const ORDER_PAID_JOB: &str = "commerce.order_paid";
pub const DISPUTE_TASK_JOB: &str = "commerce.dispute_task";

/// `order.paid` → commerce's own consequences, in one transaction: the bought lines leave the
/// cart the order came from (anything added since stays) and the order confirmation mail is
/// queued (once per order: the mail's id is the order's). One job rather than one per effect:
/// each job is a write on the checkout's database, and at 1,000 orders a second the second job
/// doubled the paced checkout's p99 (docs/BENCHMARKS.md, issue #14).
pub struct OrderPaid {
    pub commerce: Commerce,
}

#[async_trait::async_trait]
impl JobHandler for OrderPaid {
    async fn run(&self, ctx: &JobContext, payload: &Value) -> Result<(), JobError> {
        let order_id = payload["payload"]["order_id"].as_str().ok_or_else(|| JobError::Fail("event without order_id".into()))?.to_string();
        let c = &self.commerce;
        // One read of what the mail says (not the whole order: this runs once per paid order,
        // beside the checkout, on the same threads).
        let rows = lsn_db::query(
            "SELECT o.email, o.number, o.amount_paid, o.shipping_total, o.discount_total, o.gst_total, i.quantity, i.title, i.line_total \
             FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.id = $1 ORDER BY i.position",
        )
        .bind(&order_id)
        .fetch_all(c.db.read())
        .await?;
        let Some(first) = rows.first() else { return Err(JobError::Fail(format!("order {order_id} has no lines"))) };
        let aud = |v: i64| lsn_core::money::Money::aud(v);
        let email: String = first.try_get("email")?;
        let number: String = first.try_get("number")?;
        let lines = rows
            .iter()
            .map(|r| {
                Ok(lsn_mails::Line { quantity: r.try_get("quantity")?, title: r.try_get("title")?, total: aud(r.try_get("line_total")?) })
            })
            .collect::<Result<Vec<_>, lsn_db::Error>>()?;
        let confirmation = lsn_mails::OrderConfirmation {
            link: format!("{}/orders/{number}", c.cfg.public_url.trim_end_matches('/')),
            number,
            lines,
            shipping: aud(first.try_get("shipping_total")?),
            discount: aud(first.try_get("discount_total")?),
            gst: aud(first.try_get("gst_total")?),
            total: aud(first.try_get("amount_paid")?),
        };
        let msg = lsn_mails::Brand::new(&c.cfg.shop_name, &c.cfg.public_url)
            .render(&confirmation)
            .map_err(|e| JobError::Fail(format!("cannot render the order confirmation: {e}")))?
            .message(&email, "order_confirmation", Some(format!("order-confirmation-{order_id}")));
        let now = ctx.clock.now_ms();
        c.db.transaction_with((msg, order_id), move |tx, (msg, order_id)| {
            Box::pin(async move {
                lsn_db::query("DELETE FROM cart_items WHERE cart_id = (SELECT cart_id FROM orders WHERE id = $1) AND variant_id IN (SELECT variant_id FROM order_items WHERE order_id = $1)")
                    .bind(order_id)
                    .execute(&mut **tx)
                    .await?;
                lsn_ops::builtin::queue_mail(tx, now, msg.clone()).await
            })
        })
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
            .transaction_with((order_id, number, reason, dispute), move |tx, (order_id, number, reason, dispute)| {
                Box::pin(async move {
                    dispute_task(tx, now, order_id, number, reason, dispute).await?;
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
                tracing::warn!(refund = id, code = %code, "refund refused by the provider: {message}");
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

/// The task to answer a dispute, opened once per dispute.
pub(crate) async fn dispute_task(
    tx: &mut Tx,
    now: i64,
    order_id: &str,
    number: &str,
    reason: &str,
    dispute: &str,
) -> Result<(), lsn_db::Error> {
    if !lsn_ops::tasks::exists(tx, "dispute", order_id, dispute).await? {
        open_task(
            tx,
            now,
            "dispute",
            &format!("Respond to the dispute on order {number}"),
            &format!("Reason: {reason}. Gather evidence in the Stripe dashboard before the deadline (dispute {dispute})."),
            order_id,
        )
        .await?;
    }
    Ok(())
}
