//! The real Stripe client: PaymentIntents (create, confirm, cancel) and Refunds over Stripe's
//! form-encoded REST API, with a pinned API version, an idempotency key on every POST, and the
//! SDK's retry rule (connection errors, 409 and 5xx, or whatever `Stripe-Should-Retry` says).

use super::{Cancelled, Confirmation, Intent, IntentRequest, PaymentMethod, PaymentProvider, ProviderError, RefundResult};
use lsn_core::Secret;
use serde_json::Value;
use std::time::Duration;

pub const API_VERSION: &str = "2025-04-30.basil";
pub const DEFAULT_BASE: &str = "https://api.stripe.com";

#[derive(Clone)]
pub struct Stripe {
    key: Secret,
    base: String,
    http: reqwest::Client,
    max_retries: u32,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stripe").field("base", &self.base).finish()
    }
}

impl Stripe {
    /// A client for `base` (Stripe's own API when `None`); each request may take `timeout`.
    pub fn new(key: Secret, base: Option<&str>, timeout: Duration) -> Self {
        let http =
            reqwest::Client::builder().timeout(timeout).connect_timeout(timeout.min(Duration::from_secs(5))).build().unwrap_or_default();
        Self { key, base: base.unwrap_or(DEFAULT_BASE).trim_end_matches('/').to_string(), http, max_retries: 2 }
    }

    async fn post(&self, path: &str, form: &[(String, String)], idempotency_key: &str) -> Result<(u16, Value), ProviderError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let res = self
                .http
                .post(format!("{}{path}", self.base))
                .bearer_auth(self.key.expose())
                .header("Stripe-Version", API_VERSION)
                .header("Idempotency-Key", idempotency_key)
                .form(form)
                .send()
                .await;
            let retry_wait = Duration::from_millis((500u64 << (attempt - 1).min(3)).min(5_000));
            match res {
                Err(e) => {
                    if attempt > self.max_retries {
                        return Err(ProviderError::Unavailable(format!("Stripe unreachable: {e}")));
                    }
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    let should_retry = r.headers().get("stripe-should-retry").and_then(|v| v.to_str().ok()).map(|v| v == "true");
                    let request_id = r.headers().get("request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    let retryable = should_retry.unwrap_or(status == 409 || status >= 500);
                    if retryable && attempt <= self.max_retries {
                        tracing::warn!(status, request_id, attempt, "Stripe asked for a retry");
                    } else {
                        if status >= 400 {
                            tracing::info!(status, request_id, path, "Stripe error");
                        }
                        return Ok((status, body));
                    }
                }
            }
            tokio::time::sleep(retry_wait).await;
        }
    }

    fn error_of(status: u16, body: &Value) -> ProviderError {
        let msg = body["error"]["message"].as_str().unwrap_or("unknown error").to_string();
        if status == 429 || status >= 500 || status == 409 {
            ProviderError::Unavailable(format!("Stripe {status}: {msg}"))
        } else {
            ProviderError::Rejected(format!("Stripe {status}: {msg}"))
        }
    }

    fn confirmation(pi: &Value) -> Confirmation {
        match pi["status"].as_str().unwrap_or("") {
            "succeeded" | "requires_capture" => Confirmation::Succeeded { card_last4: None },
            "processing" => Confirmation::Processing,
            "requires_action" => {
                Confirmation::RequiresAction { url: pi["next_action"]["redirect_to_url"]["url"].as_str().unwrap_or("").to_string() }
            }
            _ => {
                let e = &pi["last_payment_error"];
                Confirmation::Failed {
                    code: e["decline_code"].as_str().or(e["code"].as_str()).unwrap_or("payment_failed").to_string(),
                    message: e["message"].as_str().unwrap_or("The payment failed.").to_string(),
                }
            }
        }
    }
}

fn pair(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

#[async_trait::async_trait]
impl PaymentProvider for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn create_intent(&self, req: &IntentRequest) -> Result<Intent, ProviderError> {
        let form = vec![
            pair("amount", req.amount),
            pair("currency", req.currency.to_lowercase()),
            pair("automatic_payment_methods[enabled]", "true"),
            pair("description", format!("Order {}", req.order_number)),
            pair("receipt_email", &req.email),
            pair("metadata[order_id]", &req.order_id),
            pair("metadata[order_number]", &req.order_number),
        ];
        let (status, body) = self.post("/v1/payment_intents", &form, &req.idempotency_key).await?;
        if status != 200 {
            return Err(Self::error_of(status, &body));
        }
        Ok(Intent {
            id: body["id"].as_str().unwrap_or_default().to_string(),
            client_secret: body["client_secret"].as_str().map(str::to_string),
            status: body["status"].as_str().unwrap_or_default().to_string(),
        })
    }

    async fn confirm(&self, intent_id: &str, method: &PaymentMethod, idempotency_key: &str) -> Result<Confirmation, ProviderError> {
        let PaymentMethod::Id(pm) = method else {
            return Err(ProviderError::Rejected("card numbers go to Stripe's own fields, never through LSN".into()));
        };
        let form = vec![pair("payment_method", pm)];
        let (status, body) = self.post(&format!("/v1/payment_intents/{intent_id}/confirm"), &form, idempotency_key).await?;
        match status {
            200 => Ok(Self::confirmation(&body)),
            // A decline: 402 card_error with the intent embedded.
            402 => {
                let e = &body["error"];
                Ok(Confirmation::Failed {
                    code: e["decline_code"].as_str().or(e["code"].as_str()).unwrap_or("card_declined").to_string(),
                    message: e["message"].as_str().unwrap_or("Your card was declined.").to_string(),
                })
            }
            // A retry of a confirmation whose reply was lost: Stripe says the intent has already
            // succeeded, which is the answer the first attempt would have given.
            400 if body["error"]["code"] == "payment_intent_unexpected_state"
                && body["error"]["payment_intent"]["status"] == "succeeded" =>
            {
                Ok(Self::confirmation(&body["error"]["payment_intent"]))
            }
            _ => Err(Self::error_of(status, &body)),
        }
    }

    async fn cancel(&self, intent_id: &str, idempotency_key: &str) -> Result<Cancelled, ProviderError> {
        let form = vec![pair("cancellation_reason", "abandoned")];
        let (status, body) = self.post(&format!("/v1/payment_intents/{intent_id}/cancel"), &form, idempotency_key).await?;
        if status == 200 {
            return Ok(Cancelled::Now);
        }
        // Stripe refuses to cancel an intent in a state that does not allow it, and says which.
        if status == 400 && body["error"]["code"] == "payment_intent_unexpected_state" {
            match body["error"]["payment_intent"]["status"].as_str() {
                Some("canceled") => return Ok(Cancelled::Already),
                Some("succeeded" | "processing" | "requires_capture") => return Ok(Cancelled::Paid),
                _ => {}
            }
        }
        Err(Self::error_of(status, &body))
    }

    async fn refund(&self, intent_id: &str, amount: i64, idempotency_key: &str) -> Result<RefundResult, ProviderError> {
        let form = vec![pair("payment_intent", intent_id), pair("amount", amount), pair("reason", "requested_by_customer")];
        let (status, body) = self.post("/v1/refunds", &form, idempotency_key).await?;
        if status != 200 {
            return Err(Self::error_of(status, &body));
        }
        Ok(RefundResult {
            id: body["id"].as_str().unwrap_or_default().to_string(),
            status: body["status"].as_str().unwrap_or("pending").to_string(),
        })
    }
}
