//! The sandbox payment provider: Stripe's test mode on this machine.
//!
//! Test cards behave as Stripe documents them: 4242 4242 4242 4242 succeeds,
//! 4000 0000 0000 0002 is declined, 4000 0000 0000 9995 fails for insufficient funds,
//! 4000 0025 0000 3155 needs an authentication step (`/api/sandbox/3ds/{intent}`), and
//! 4000 0000 0000 0259 succeeds and is then disputed. Every outcome is raised as a
//! Stripe-shaped, signed event delivered by a job through the same webhook code as Stripe's.

use super::{Cancelled, Confirmation, Intent, IntentRequest, PaymentMethod, PaymentProvider, ProviderError, RefundResult};
use lsn_db::{Db, RowExt};
use lsn_ops::jobs::{JobContext, JobError, JobHandler, NewJob};
use serde_json::{json, Value};

pub const EVENT_JOB: &str = "payments.sandbox_event";

/// The states a confirmation may start from, and a cancellation (Stripe's rules).
const CONFIRMABLE: &[&str] = &["requires_payment_method", "requires_confirmation"];
const CANCELLABLE: &[&str] = &["requires_payment_method", "requires_confirmation", "requires_action"];

/// What a test card (or its Stripe payment-method id) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Succeed,
    Decline(&'static str),
    RequireAction,
    SucceedThenDispute,
    Invalid,
}

pub fn behaviour(method: &PaymentMethod) -> (Behaviour, Option<String>) {
    match method {
        PaymentMethod::TestCard(number) => {
            let digits: String = number.chars().filter(char::is_ascii_digit).collect();
            let last4 = digits.get(digits.len().saturating_sub(4)..).map(str::to_string);
            let b = match digits.as_str() {
                "4242424242424242" => Behaviour::Succeed,
                "4000000000000002" => Behaviour::Decline("card_declined"),
                "4000000000009995" => Behaviour::Decline("insufficient_funds"),
                "4000000000009987" => Behaviour::Decline("lost_card"),
                "4000000000000069" => Behaviour::Decline("expired_card"),
                "4000002500003155" | "4000002760003184" => Behaviour::RequireAction,
                "4000000000000259" => Behaviour::SucceedThenDispute,
                _ if digits.len() < 12 || digits.len() > 19 => Behaviour::Invalid,
                _ => Behaviour::Decline("card_declined"),
            };
            (b, last4)
        }
        PaymentMethod::Id(id) => {
            let b = match id.as_str() {
                "pm_card_visa" => Behaviour::Succeed,
                "pm_card_visa_chargeDeclined" => Behaviour::Decline("card_declined"),
                "pm_card_visa_chargeDeclinedInsufficientFunds" => Behaviour::Decline("insufficient_funds"),
                "pm_card_threeDSecure2Required" => Behaviour::RequireAction,
                _ => Behaviour::Invalid,
            };
            (b, (b == Behaviour::Succeed).then(|| "4242".to_string()))
        }
    }
}

#[derive(Clone)]
pub struct Sandbox {
    db: Db,
    clock: lsn_core::SharedClock,
}

impl Sandbox {
    pub fn new(db: Db, clock: lsn_core::SharedClock) -> Self {
        Self { db, clock }
    }

    async fn intent(&self, id: &str) -> Result<(i64, String, String, i64), ProviderError> {
        let r = lsn_db::query("SELECT amount, currency, status, amount_refunded FROM sandbox_intents WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.read())
            .await
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?
            .ok_or_else(|| ProviderError::Rejected(format!("No such payment_intent: '{id}'")))?;
        let get = |e: lsn_db::Error| ProviderError::Unavailable(e.to_string());
        Ok((r.try_get(0).map_err(get)?, r.try_get(1).map_err(get)?, r.try_get(2).map_err(get)?, r.try_get(3).map_err(get)?))
    }

    /// Moves an intent from one of `from` to `status` and queues its events (delivered like
    /// Stripe's, after the API call), in one transaction. `Ok(false)`: the intent was no longer in
    /// any of `from` (a cancel and a confirm racing: exactly one of them wins, as at Stripe).
    async fn settle(&self, id: &str, status: &str, events: Vec<(&'static str, Value)>, from: &[&str]) -> Result<bool, ProviderError> {
        let now = self.clock.now();
        let jobs: Vec<NewJob> = events
            .into_iter()
            .map(|(event_type, object)| {
                let event = json!({
                    "id": format!("evt_sbx_{}", lsn_core::ids::new_id().replace('-', "")), "object": "event", "api_version": super::stripe::API_VERSION,
                    "created": now.timestamp(), "livemode": false, "pending_webhooks": 1, "type": event_type, "data": {"object": object},
                });
                NewJob::new(EVENT_JOB, event).max_attempts(20).priority(10)
            })
            .collect();
        let (id, status) = (id.to_string(), status.to_string());
        let from: Vec<String> = from.iter().map(|s| s.to_string()).collect();
        self.db
            .transaction(move |tx| {
                let (id, status, jobs, from) = (id.clone(), status.clone(), jobs.clone(), from.clone());
                Box::pin(async move {
                    let sql = format!(
                        "UPDATE sandbox_intents SET status = $1 WHERE id = $2 AND status IN ({})",
                        lsn_ops::jobs::placeholders(3, from.len().max(1), 1)
                    );
                    let mut q = lsn_db::query(&sql).bind(&status).bind(&id);
                    for f in &from {
                        q = q.bind(f);
                    }
                    if from.is_empty() {
                        q = q.bind(&status);
                    }
                    if q.execute(&mut **tx).await?.rows_affected() == 0 {
                        return Ok::<_, lsn_db::Error>(false);
                    }
                    for j in &jobs {
                        lsn_ops::enqueue(&mut **tx, j, now.timestamp_millis()).await?;
                    }
                    Ok(true)
                })
            })
            .await
            .map_err(|e| ProviderError::Unavailable(e.to_string()))
    }

    /// What a confirmation that lost a race to another change of the intent answers.
    async fn after_race(&self, intent_id: &str) -> Result<Confirmation, ProviderError> {
        let (_, _, status, _) = self.intent(intent_id).await?;
        match status.as_str() {
            "succeeded" => Ok(Confirmation::Succeeded { card_last4: None }),
            "requires_action" => Ok(Confirmation::RequiresAction { url: format!("/api/sandbox/3ds/{intent_id}") }),
            "canceled" => Err(ProviderError::Rejected("This PaymentIntent was canceled.".into())),
            other => Err(ProviderError::Rejected(format!("This PaymentIntent's status changed to {other}."))),
        }
    }

    /// Queues an event about `intent_id` without changing its status (refunds).
    async fn raise(&self, intent_id: &str, event_type: &'static str, object: Value) -> Result<(), ProviderError> {
        let (_, _, status, _) = self.intent(intent_id).await?;
        self.settle(intent_id, &status, vec![(event_type, object)], &[status.as_str()]).await.map(|_| ())
    }

    fn intent_object(id: &str, amount: i64, currency: &str, status: &str, error: Option<&str>) -> Value {
        let mut o = json!({"id": id, "object": "payment_intent", "amount": amount, "amount_received": if status == "succeeded" { amount } else { 0 },
            "currency": currency.to_lowercase(), "status": status, "latest_charge": format!("ch_{}", &id[3..])});
        if let Some(code) = error {
            o["last_payment_error"] = json!({"type": "card_error", "code": if code == "authentication_failed" { "payment_intent_authentication_failure" } else { "card_declined" }, "decline_code": code, "message": decline_message(code)});
        }
        o
    }

    /// Completes (or fails) the authentication step of a `requires_action` intent.
    pub async fn authenticate(&self, intent_id: &str, approve: bool) -> Result<Confirmation, ProviderError> {
        let (amount, currency, status, _) = self.intent(intent_id).await?;
        if status != "requires_action" {
            return Err(ProviderError::Rejected(format!("payment_intent is {status}, not requires_action")));
        }
        if approve {
            let events = vec![("payment_intent.succeeded", Self::intent_object(intent_id, amount, &currency, "succeeded", None))];
            if !self.settle(intent_id, "succeeded", events, &["requires_action"]).await? {
                return self.after_race(intent_id).await;
            }
            Ok(Confirmation::Succeeded { card_last4: Some("3155".into()) })
        } else {
            let failed = Self::intent_object(intent_id, amount, &currency, "requires_payment_method", Some("authentication_failed"));
            if !self
                .settle(intent_id, "requires_payment_method", vec![("payment_intent.payment_failed", failed)], &["requires_action"])
                .await?
            {
                return self.after_race(intent_id).await;
            }
            Ok(Confirmation::Failed { code: "authentication_failed".into(), message: decline_message("authentication_failed").into() })
        }
    }
}

pub fn decline_message(code: &str) -> &'static str {
    match code {
        "insufficient_funds" => "Your card has insufficient funds.",
        "expired_card" => "Your card has expired.",
        "lost_card" => "Your card was declined.",
        "authentication_failed" => "We could not authenticate your payment method.",
        _ => "Your card was declined.",
    }
}

#[async_trait::async_trait]
impl PaymentProvider for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    async fn create_intent(&self, req: &IntentRequest) -> Result<Intent, ProviderError> {
        // Idempotent like Stripe: the same key gives back the same intent.
        let id = format!("pi_sbx_{}", lsn_core::ids::hash_token(&req.idempotency_key).get(..24).unwrap_or("0"));
        lsn_db::query("INSERT INTO sandbox_intents (id, amount, currency, status, metadata, created_at) VALUES ($1, $2, $3, 'requires_payment_method', $4, $5) ON CONFLICT (id) DO NOTHING")
            .bind(&id)
            .bind(req.amount)
            .bind(&req.currency)
            .bind(json!({"order_id": req.order_id, "order_number": req.order_number}).to_string())
            .bind(self.clock.now_ms())
            .execute(self.db.write())
            .await
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        let (_, _, status, _) = self.intent(&id).await?;
        Ok(Intent { client_secret: Some(format!("{id}_secret_sandbox")), id, status })
    }

    async fn confirm(&self, intent_id: &str, method: &PaymentMethod, _key: &str) -> Result<Confirmation, ProviderError> {
        let (amount, currency, status, _) = self.intent(intent_id).await?;
        match status.as_str() {
            "succeeded" => return Ok(Confirmation::Succeeded { card_last4: None }),
            "requires_action" => return Ok(Confirmation::RequiresAction { url: format!("/api/sandbox/3ds/{intent_id}") }),
            "canceled" => return Err(ProviderError::Rejected("This PaymentIntent was canceled.".into())),
            _ => {}
        }
        let (b, last4) = behaviour(method);
        match b {
            Behaviour::Invalid => Err(ProviderError::Rejected("Your card number is incorrect.".into())),
            Behaviour::Succeed | Behaviour::SucceedThenDispute => {
                let mut events = vec![("payment_intent.succeeded", Self::intent_object(intent_id, amount, &currency, "succeeded", None))];
                if b == Behaviour::SucceedThenDispute {
                    let dispute = json!({"id": format!("dp_{}", &intent_id[3..]), "object": "dispute", "amount": amount, "currency": currency.to_lowercase(),
                        "charge": format!("ch_{}", &intent_id[3..]), "payment_intent": intent_id, "reason": "fraudulent", "status": "needs_response", "is_charge_refundable": false});
                    events.push(("charge.dispute.created", dispute));
                }
                if !self.settle(intent_id, "succeeded", events, CONFIRMABLE).await? {
                    return self.after_race(intent_id).await;
                }
                Ok(Confirmation::Succeeded { card_last4: last4 })
            }
            Behaviour::RequireAction => {
                if !self.settle(intent_id, "requires_action", Vec::new(), CONFIRMABLE).await? {
                    return self.after_race(intent_id).await;
                }
                Ok(Confirmation::RequiresAction { url: format!("/api/sandbox/3ds/{intent_id}") })
            }
            Behaviour::Decline(code) => {
                let failed = Self::intent_object(intent_id, amount, &currency, "requires_payment_method", Some(code));
                if !self.settle(intent_id, "requires_payment_method", vec![("payment_intent.payment_failed", failed)], CONFIRMABLE).await? {
                    return self.after_race(intent_id).await;
                }
                Ok(Confirmation::Failed { code: code.to_string(), message: decline_message(code).to_string() })
            }
        }
    }

    async fn cancel(&self, intent_id: &str, _key: &str) -> Result<Cancelled, ProviderError> {
        if self.settle(intent_id, "canceled", Vec::new(), CANCELLABLE).await? {
            return Ok(Cancelled::Now);
        }
        let (_, _, status, _) = self.intent(intent_id).await?;
        match status.as_str() {
            "canceled" => Ok(Cancelled::Already),
            "succeeded" | "processing" => Ok(Cancelled::Paid),
            other => Err(ProviderError::Rejected(format!("You cannot cancel this PaymentIntent because it has a status of {other}."))),
        }
    }

    async fn refund(&self, intent_id: &str, amount: i64, key: &str) -> Result<RefundResult, ProviderError> {
        let (paid, currency, status, refunded) = self.intent(intent_id).await?;
        if status != "succeeded" {
            return Err(ProviderError::Rejected("This PaymentIntent has no successful charge to refund.".into()));
        }
        let id = format!("re_sbx_{}", lsn_core::ids::hash_token(key).get(..24).unwrap_or("0"));
        // A repeated key is the same refund, not a second one.
        let exists: i64 = lsn_db::query("SELECT COUNT(*) FROM sandbox_intents WHERE id = $1")
            .bind(&id)
            .fetch_one(self.db.read())
            .await
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?
            .try_get(0)
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        if exists > 0 {
            return Ok(RefundResult { id, status: "succeeded".into() });
        }
        if amount <= 0 || refunded + amount > paid {
            return Err(ProviderError::Rejected(format!(
                "Refund amount ({amount}) is greater than unrefunded amount on charge ({})",
                paid - refunded
            )));
        }
        let r = lsn_db::query(
            "UPDATE sandbox_intents SET amount_refunded = amount_refunded + $1 WHERE id = $2 AND amount_refunded + $1 <= amount",
        )
        .bind(amount)
        .bind(intent_id)
        .execute(self.db.write())
        .await
        .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        if r.rows_affected() == 0 {
            return Err(ProviderError::Rejected("Refund amount is greater than the unrefunded amount".into()));
        }
        // Remember the refund id (as a zero-amount row) so a retry with the same key is recognised.
        let _ = lsn_db::query("INSERT INTO sandbox_intents (id, amount, currency, status, created_at) VALUES ($1, $2, $3, 'refund', $4) ON CONFLICT (id) DO NOTHING")
            .bind(&id)
            .bind(amount)
            .bind(&currency)
            .bind(self.clock.now_ms())
            .execute(self.db.write())
            .await;
        let total_refunded = refunded + amount;
        let charge = json!({"id": format!("ch_{}", &intent_id[3..]), "object": "charge", "payment_intent": intent_id, "amount": paid,
            "amount_refunded": total_refunded, "refunded": total_refunded == paid, "currency": currency.to_lowercase()});
        self.raise(intent_id, "charge.refunded", charge).await?;
        Ok(RefundResult { id, status: "succeeded".into() })
    }
}

/// Delivers a sandbox event: signs it like Stripe and hands it to the webhook receiver.
pub struct EventJob {
    pub commerce: crate::Commerce,
}

#[async_trait::async_trait]
impl JobHandler for EventJob {
    async fn run(&self, ctx: &JobContext, payload: &Value) -> Result<(), JobError> {
        let body = payload.to_string();
        let t = ctx.clock.now().timestamp();
        let sig = super::webhook::sign(&self.commerce.webhook_secret, t, body.as_bytes());
        let header = format!("t={t},v1={sig}");
        match super::webhook::receive(&self.commerce, body.as_bytes(), Some(&header)).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_client_error() => Err(JobError::Fail(e.to_string())),
            Err(e) => Err(JobError::Retry(e.to_string())),
        }
    }
}
