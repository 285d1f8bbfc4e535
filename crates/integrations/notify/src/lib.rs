//! Alert channels to people beyond e-mail: Slack incoming webhooks and SMS through Twilio's
//! Messages API. Each has a real HTTP client (used when its credentials are set) and a sandbox
//! (the default) that records what it would have sent in the `notify_sandbox` table, readable in
//! the admin's alerts page and by tests.
//!
//! Nothing here is called inside a request: the operations crate's alert delivery jobs call
//! these, so a provider that hangs or refuses delays an alert (the job retries with backoff,
//! honouring `Retry-After`) and never a checkout.

mod sandbox;
mod slack;
mod twilio;

pub use sandbox::{list_sandbox, SandboxEntry, SandboxSlack, SandboxSms};
pub use slack::SlackWebhook;
pub use twilio::TwilioSms;

use lsn_core::Config;
use std::sync::Arc;

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later with backoff: the provider is down, slow or unreachable.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// The provider asked to wait this many seconds first (HTTP 429 with `Retry-After`).
    #[error("rate limited, retry after {secs} s: {reason}")]
    RetryAfter { secs: u64, reason: String },
    /// Retrying cannot help: a dead channel, a revoked hook, a bad number or credentials.
    #[error("rejected: {0}")]
    Permanent(String),
}

/// A Slack message: the text (the notification's and the fallback) and Block Kit blocks.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SlackMessage {
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<serde_json::Value>,
}

#[async_trait::async_trait]
pub trait Slack: Send + Sync + std::fmt::Debug {
    /// `slack` (a real webhook) or `sandbox`.
    fn name(&self) -> &'static str;
    /// Posts one message; `id` is LSN's delivery id (the sandbox records it once however often
    /// a retried job posts it).
    async fn post(&self, id: &str, msg: &SlackMessage) -> Result<(), SendError>;
}

#[async_trait::async_trait]
pub trait Sms: Send + Sync + std::fmt::Debug {
    /// `twilio` or `sandbox`.
    fn name(&self) -> &'static str;
    /// Sends `body` to `to` (E.164); returns the provider's message id when it gives one.
    async fn send(&self, id: &str, to: &str, body: &str) -> Result<Option<String>, SendError>;
}

/// The Slack client the configuration asks for: the webhook at `SLACK_WEBHOOK_URL`, else the
/// sandbox.
pub fn slack_from_config(cfg: &Config, db: lsn_db::Db) -> Arc<dyn Slack> {
    match cfg.provider("SLACK_WEBHOOK_URL") {
        Some(url) => Arc::new(SlackWebhook::new(url.clone(), cfg.provider_timeout)),
        None => Arc::new(SandboxSlack::new(db)),
    }
}

/// The SMS client the configuration asks for: Twilio when `TWILIO_ACCOUNT_SID`,
/// `TWILIO_AUTH_TOKEN` (or `TWILIO_API_KEY` and `TWILIO_API_SECRET`) and `TWILIO_PHONE_NUMBER`
/// are set, else the sandbox.
pub fn sms_from_config(cfg: &Config, db: lsn_db::Db) -> Arc<dyn Sms> {
    match TwilioSms::from_config(cfg) {
        Some(t) => Arc::new(t),
        None => Arc::new(SandboxSms::new(db)),
    }
}

pub use lsn_core::config::is_e164;

/// Classifies a provider's HTTP answer that is not a success.
fn failure(provider: &str, status: reqwest::StatusCode, retry_after: Option<u64>, detail: String) -> SendError {
    let reason = format!("{provider} answered {}: {}", status.as_u16(), detail.chars().take(300).collect::<String>());
    if status.as_u16() == 429 {
        // Twilio's 429 may come without the header: it is still safe to retry after backing off.
        return match retry_after {
            Some(secs) => SendError::RetryAfter { secs: secs.clamp(1, 3600), reason },
            None => SendError::Transient(reason),
        };
    }
    if status.is_server_error() {
        SendError::Transient(reason)
    } else {
        SendError::Permanent(reason)
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by Slack or Twilio).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()
}

/// An HTTP client with the provider timeout (a hung provider counts as failed after it).
fn http(timeout: std::time::Duration) -> reqwest::Client {
    reqwest::Client::builder().timeout(timeout).connect_timeout(timeout.min(std::time::Duration::from_secs(5))).build().unwrap_or_default()
}

/// A transport failure (refused, reset, timed out) as a retryable error, without the URL (the
/// Slack webhook's URL is its secret).
fn unreachable(provider: &str, e: reqwest::Error) -> SendError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    SendError::Transient(format!("{provider} unreachable: {what}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn e164() {
        assert!(super::is_e164("+61400000000"));
        assert!(!super::is_e164("0400000000"));
        assert!(!super::is_e164("+0400000000"));
        assert!(!super::is_e164("+61 400 000 000"));
        assert!(!super::is_e164("+1234567"));
    }
}
