//! Stripe Connect payouts: `POST /v1/transfers` from the platform's balance to a connected
//! account (`destination=acct_…`), form-encoded, with `Idempotency-Key: <payout id>` so a retry
//! gets the transfer Stripe already made (Stripe replays the first answer for 24 hours; the same
//! key with other parameters is an `idempotency_error`, surfaced as `Rejected`).
//!
//! **States.** A transfer to a connected account moves the money to that account's Stripe
//! balance when it is created (there is no pending transfer: "Returns a transfer object if
//! there were no initial errors"), so a created transfer is `Sent` and `transfer.created` says
//! `Sent`; a transfer fully reversed (`reversed: true`, `transfer.reversed`) is `Returned`.
//! A partial reversal is logged and not reported (the payout is still mostly paid; the creators
//! domain sees it in Stripe's dashboard). Getting the money from that balance to the creator's
//! bank is the connected account's own Stripe payout schedule, outside LSN.
//!
//! **Errors.** Connection failures, 409 and 5xx are retried twice with the same key (Stripe's
//! SDK rule, honouring `Stripe-Should-Retry`), then `Unavailable`; 429 and
//! `balance_insufficient` are `Unavailable`; other 4xx are `Rejected` with Stripe's message.
//! Stripe stores an executed request's answer under its key, errors included: a payout refused
//! for `balance_insufficient` gets that same answer for the same payout id until Stripe prunes
//! the key (≥ 24 h), so top the platform balance up before a run rather than after.
//!
//! **Webhooks** are verified with `STRIPE_CONNECT_WEBHOOK_SECRET` (else `STRIPE_WEBHOOK_SECRET`:
//! transfer events are the platform's own, so the platform endpoint receives them too) by the
//! kernel's `Stripe-Signature` check, the same one commerce uses.

use crate::{check_transfer, Account, Event, PayoutError, PayoutProvider, State, Submitted, Transfer};
use futures::StreamExt;
use lsn_core::{Config, Secret};
use serde_json::Value;
use std::time::Duration;

pub const API_VERSION: &str = "2025-04-30.basil";
pub const DEFAULT_BASE: &str = "https://api.stripe.com";
/// Transfers of one batch made at once (Stripe allows 25 requests a second in test mode).
const CONCURRENCY: usize = 4;

#[derive(Clone)]
pub struct StripeConnect {
    key: Secret,
    base: String,
    webhook_secret: Option<Secret>,
    http: reqwest::Client,
    max_retries: u32,
    retry_base: Duration,
}

impl std::fmt::Debug for StripeConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConnect").field("base", &self.base).finish()
    }
}

/// Whether a secret key is a real Stripe key (not a placeholder): `sk_test_…`, `sk_live_…` or
/// a restricted `rk_…`.
pub fn is_real_key(key: &str) -> bool {
    ["sk_test_", "sk_live_", "rk_test_", "rk_live_"].iter().any(|p| key.starts_with(p) && key.len() > p.len())
}

impl StripeConnect {
    /// A client for `base` (Stripe's own API when `None`); each request may take `timeout`.
    pub fn new(key: Secret, base: Option<&str>, webhook_secret: Option<Secret>, timeout: Duration) -> Self {
        let http =
            reqwest::Client::builder().timeout(timeout).connect_timeout(timeout.min(Duration::from_secs(5))).build().unwrap_or_default();
        Self {
            key,
            base: base.unwrap_or(DEFAULT_BASE).trim_end_matches('/').to_string(),
            webhook_secret,
            http,
            max_retries: 2,
            retry_base: Duration::from_millis(500),
        }
    }

    /// The first wait between retries (tests shorten it).
    pub fn with_retry_base(mut self, wait: Duration) -> Self {
        self.retry_base = wait;
        self
    }

    /// The client `STRIPE_SECRET_KEY` asks for when it is a real key, with `STRIPE_API_BASE` and
    /// `STRIPE_CONNECT_WEBHOOK_SECRET` (else `STRIPE_WEBHOOK_SECRET`).
    pub fn from_config(cfg: &Config) -> Option<Self> {
        let key = cfg.provider("STRIPE_SECRET_KEY").filter(|k| is_real_key(k.expose()))?;
        let secret = cfg.provider("STRIPE_CONNECT_WEBHOOK_SECRET").or(cfg.provider("STRIPE_WEBHOOK_SECRET")).cloned();
        Some(Self::new(key.clone(), cfg.provider("STRIPE_API_BASE").map(|s| s.expose()), secret, cfg.provider_timeout))
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(String, String)],
        key: Option<&str>,
    ) -> Result<(u16, Value), PayoutError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .bearer_auth(self.key.expose())
                .header("Stripe-Version", API_VERSION);
            if let Some(k) = key {
                req = req.header("Idempotency-Key", k).form(form);
            }
            let wait = (self.retry_base * 2u32.pow((attempt - 1).min(3))).min(Duration::from_secs(5));
            match req.send().await {
                Err(e) => {
                    if attempt > self.max_retries {
                        let what = if e.is_timeout() { "timed out" } else { "could not connect" };
                        return Err(PayoutError::Unavailable(format!("Stripe unreachable: {what}")));
                    }
                }
                Ok(r) => {
                    let status = r.status().as_u16();
                    let should_retry = r.headers().get("stripe-should-retry").and_then(|v| v.to_str().ok()).map(|v| v == "true");
                    let request_id = r.headers().get("request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    let retryable = should_retry.unwrap_or(status == 409 || status >= 500);
                    if !(retryable && attempt <= self.max_retries) {
                        if status >= 400 {
                            tracing::info!(status, request_id, path, "Stripe error");
                        }
                        return Ok((status, body));
                    }
                    tracing::warn!(status, request_id, attempt, "Stripe asked for a retry");
                }
            }
            tokio::time::sleep(wait).await;
        }
    }

    fn error_of(status: u16, body: &Value) -> PayoutError {
        let e = &body["error"];
        let msg = e["message"].as_str().unwrap_or("unknown error");
        let code = e["code"].as_str().unwrap_or("");
        if status == 429 || status == 409 || status >= 500 || code == "balance_insufficient" {
            PayoutError::Unavailable(format!("Stripe {status}: {msg}"))
        } else if status == 400 && e["param"].as_str() == Some("destination") {
            PayoutError::invalid("account_id", format!("Stripe: {msg}"))
        } else {
            PayoutError::Rejected(format!("Stripe {status}: {msg}"))
        }
    }

    /// The state a transfer object says.
    fn state_of(tr: &Value) -> State {
        let amount = tr["amount"].as_i64().unwrap_or(0);
        let reversed = tr["amount_reversed"].as_i64().unwrap_or(0);
        if tr["reversed"].as_bool() == Some(true) || (amount > 0 && reversed >= amount) {
            State::Returned
        } else {
            State::Sent
        }
    }

    async fn pay_one(&self, t: &Transfer) -> Result<Submitted, PayoutError> {
        let account = check_transfer(t)?;
        let Account::StripeConnect { account_id } = &account else {
            return Err(PayoutError::invalid(
                "account",
                "Stripe Connect pays connected accounts (acct_…); bank accounts are paid through Wise.",
            ));
        };
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        let reference: String = t.reference.chars().take(200).collect();
        let mut form = vec![
            pair("amount", &t.amount_minor.to_string()),
            pair("currency", &t.source_currency.as_deref().unwrap_or(&t.currency).to_ascii_lowercase()),
            pair("destination", account_id),
            pair("metadata[payout_id]", &t.payout_id),
        ];
        if !reference.trim().is_empty() {
            form.push(pair("transfer_group", &reference));
            form.push(pair("description", &reference));
        }
        let (status, body) = self.request(reqwest::Method::POST, "/v1/transfers", &form, Some(&t.payout_id)).await?;
        if status != 200 {
            return Err(Self::error_of(status, &body));
        }
        let id =
            body["id"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| PayoutError::Unavailable("Stripe's transfer has no id".into()))?;
        Ok(Submitted { payout_id: t.payout_id.clone(), provider_ref: id.to_string(), state: Self::state_of(&body) })
    }
}

#[async_trait::async_trait]
impl PayoutProvider for StripeConnect {
    fn name(&self) -> &'static str {
        "stripe_connect"
    }

    fn supports(&self, account: &Account) -> bool {
        matches!(account, Account::StripeConnect { .. })
    }

    async fn pay(&self, batch: &[Transfer]) -> Result<Vec<Result<Submitted, PayoutError>>, PayoutError> {
        // By index: a stream of borrowed items does not satisfy `async_trait`'s `Send` bound.
        Ok(futures::stream::iter(0..batch.len()).map(|i| self.pay_one(&batch[i])).buffered(CONCURRENCY).collect().await)
    }

    async fn state(&self, provider_ref: &str) -> Result<State, PayoutError> {
        let ok = provider_ref.strip_prefix("tr_").is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !ok {
            return Err(PayoutError::UnknownTransfer(provider_ref.to_string()));
        }
        let (status, body) = self.request(reqwest::Method::GET, &format!("/v1/transfers/{provider_ref}"), &[], None).await?;
        match status {
            200 => Ok(Self::state_of(&body)),
            404 => Err(PayoutError::UnknownTransfer(provider_ref.to_string())),
            _ => Err(Self::error_of(status, &body)),
        }
    }

    fn parse_webhook(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<Vec<Event>, PayoutError> {
        let secret = self.webhook_secret.as_ref().ok_or(PayoutError::Signature)?;
        let header = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
        lsn_core::stripe_signature::verify(header, body, secret.expose(), crate::now_ms() / 1000).map_err(|_| PayoutError::Signature)?;
        let v: Value = serde_json::from_slice(body).map_err(|_| PayoutError::Rejected("the webhook body is not a Stripe event".into()))?;
        let kind = v["type"].as_str().unwrap_or("");
        let object = &v["data"]["object"];
        let state = match kind {
            "transfer.created" => State::Sent,
            "transfer.reversed" if Self::state_of(object) == State::Returned => State::Returned,
            "transfer.reversed" => {
                tracing::warn!(
                    transfer = object["id"].as_str().unwrap_or("?"),
                    "a Stripe transfer was partly reversed: not reported as returned"
                );
                return Ok(Vec::new());
            }
            _ => return Ok(Vec::new()),
        };
        let provider_ref = object["id"].as_str().filter(|s| s.starts_with("tr_"));
        let provider_ref = provider_ref.ok_or_else(|| PayoutError::Rejected("the transfer event has no transfer id".into()))?.to_string();
        Ok(vec![Event {
            provider_ref,
            payout_id: object["metadata"]["payout_id"].as_str().map(str::to_string),
            state,
            occurred_at_ms: v["created"].as_i64().unwrap_or(0) * 1000,
            delivery_id: v["id"].as_str().map(str::to_string),
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_states() {
        assert!(is_real_key("sk_test_abc") && is_real_key("rk_live_x") && !is_real_key("sk_test_") && !is_real_key("pk_test_1"));
        assert_eq!(StripeConnect::state_of(&serde_json::json!({"amount": 100, "amount_reversed": 0, "reversed": false})), State::Sent);
        assert_eq!(StripeConnect::state_of(&serde_json::json!({"amount": 100, "amount_reversed": 100, "reversed": true})), State::Returned);
        assert_eq!(StripeConnect::state_of(&serde_json::json!({"amount": 100, "amount_reversed": 40, "reversed": false})), State::Sent);
    }
}
