//! Payments: one provider trait, two implementations — the built-in `sandbox` that behaves like
//! Stripe's test mode (the default while `STRIPE_SECRET_KEY` is unset) and the real Stripe REST
//! client — and the webhook receiver both feed.
//!
//! Card numbers never reach the database or the logs: Stripe takes them in its own hosted
//! fields; the sandbox maps a test number to its behaviour in memory and keeps only the last four.

pub mod events;
pub mod sandbox;
pub mod stripe;
pub mod webhook;

use serde::Serialize;

#[derive(Debug, Clone)]
pub struct IntentRequest {
    pub order_id: String,
    pub order_number: String,
    pub amount: i64,
    pub currency: String,
    pub email: String,
    pub idempotency_key: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Intent {
    pub id: String,
    pub client_secret: Option<String>,
    pub status: String,
}

/// What confirming a payment method did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Confirmation {
    Succeeded { card_last4: Option<String> },
    Processing,
    RequiresAction { url: String },
    Failed { code: String, message: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct RefundResult {
    pub id: String,
    pub status: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider could not be reached or failed on its side: safe to retry with the same key.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request itself.
    #[error("payment provider refused the request: {0}")]
    Rejected(String),
}

/// What asking the provider to cancel an intent came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// Cancelled now: no payment can succeed on it any more.
    Now,
    /// It was already cancelled.
    Already,
    /// It cannot be cancelled: it succeeded or is processing a payment that may still succeed.
    /// The money is coming; the order must wait for the provider's event.
    Paid,
}

/// How the buyer identifies the card: a provider payment-method id, or (sandbox only) a test
/// card number typed into the sandbox form.
#[derive(Debug, Clone)]
pub enum PaymentMethod {
    Id(String),
    TestCard(String),
}

#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync {
    fn name(&self) -> &'static str;
    async fn create_intent(&self, req: &IntentRequest) -> Result<Intent, ProviderError>;
    async fn confirm(&self, intent_id: &str, method: &PaymentMethod, idempotency_key: &str) -> Result<Confirmation, ProviderError>;
    async fn cancel(&self, intent_id: &str, idempotency_key: &str) -> Result<Cancelled, ProviderError>;
    async fn refund(&self, intent_id: &str, amount: i64, idempotency_key: &str) -> Result<RefundResult, ProviderError>;
}

/// A payment provider behind its circuit breaker (`lsn_ops::healing`): after repeated failures
/// of the provider (unreachable, timeouts, 5xx) calls fail at once as `Unavailable` — the
/// checkout's 503 `payment_provider_unavailable`, a refund's retry — until a probe succeeds. A
/// refusal of the request itself (a declined card, a bad parameter) shows the provider is up.
///
/// There is no backup payment provider: the sandbox is no substitute for a real one, and the
/// seam for one is here — a second `PaymentProvider` behind its own breaker — once LSN has a
/// second client (PayPal, a later issue) and records which provider holds each intent.
pub struct Guarded {
    pub inner: std::sync::Arc<dyn PaymentProvider>,
    pub breaker: std::sync::Arc<lsn_ops::healing::Breaker>,
}

fn health<T>(r: &Result<T, ProviderError>) -> lsn_ops::healing::Outcome {
    match r {
        Ok(_) | Err(ProviderError::Rejected(_)) => lsn_ops::healing::Outcome::Success,
        Err(ProviderError::Unavailable(e)) => lsn_ops::healing::Outcome::Failure(e.clone()),
    }
}

impl Guarded {
    async fn guard<T>(&self, call: impl std::future::Future<Output = Result<T, ProviderError>>) -> Result<T, ProviderError> {
        self.breaker.call(call, health).await.unwrap_or_else(|open| Err(ProviderError::Unavailable(open.to_string())))
    }
}

#[async_trait::async_trait]
impl PaymentProvider for Guarded {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn create_intent(&self, req: &IntentRequest) -> Result<Intent, ProviderError> {
        self.guard(self.inner.create_intent(req)).await
    }
    async fn confirm(&self, intent_id: &str, method: &PaymentMethod, idempotency_key: &str) -> Result<Confirmation, ProviderError> {
        self.guard(self.inner.confirm(intent_id, method, idempotency_key)).await
    }
    async fn cancel(&self, intent_id: &str, idempotency_key: &str) -> Result<Cancelled, ProviderError> {
        self.guard(self.inner.cancel(intent_id, idempotency_key)).await
    }
    async fn refund(&self, intent_id: &str, amount: i64, idempotency_key: &str) -> Result<RefundResult, ProviderError> {
        self.guard(self.inner.refund(intent_id, amount, idempotency_key)).await
    }
}
