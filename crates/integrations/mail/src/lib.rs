//! Outgoing email. Three transports behind one trait: the development mailbox (stored in the
//! database, the default), SMTP (lettre) and SendGrid's v3 Mail Send API.
//!
//! Nothing here is called inside a request: the ops crate's `mail.send` job calls
//! [`Transport::send`], so a failing provider delays mail instead of failing a checkout.

mod mailbox;
mod sendgrid;
mod smtp;

pub use mailbox::{list_mailbox, MailboxEntry, MailboxTransport};
pub use sendgrid::SendGridTransport;
pub use smtp::SmtpTransport;

use lsn_core::config::{Config, MailTransport};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
    #[serde(default)]
    pub html: Option<String>,
    /// A short label (`password_reset`, `order_confirmation`, …) for filtering and analytics.
    #[serde(default)]
    pub tag: Option<String>,
    /// LSN's own id for this message, sent as a custom argument so duplicates can be traced.
    #[serde(default)]
    pub message_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Worth retrying later: the provider is down, slow or rate-limiting.
    #[error("temporary mail failure: {0}")]
    Transient(String),
    /// Retrying will not help: the request itself is wrong (bad address, bad key).
    #[error("mail rejected: {0}")]
    Permanent(String),
}

#[async_trait::async_trait]
pub trait Transport: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &'static str;
    /// Sends one message; returns the provider's id for it when it gives one.
    async fn send(&self, from: &str, msg: &Message) -> Result<Option<String>, MailError>;
}

/// The transport the configuration asks for.
pub fn from_config(cfg: &Config, db: lsn_db::Db) -> Result<Arc<dyn Transport>, MailError> {
    Ok(match &cfg.mail {
        MailTransport::Mailbox => Arc::new(MailboxTransport::new(db)),
        MailTransport::Smtp { url } => Arc::new(SmtpTransport::from_url(url.expose())?),
        MailTransport::SendGrid { api_key, base_url } => Arc::new(SendGridTransport::new(api_key.clone(), base_url, cfg.provider_timeout)),
    })
}

/// Splits `Name <addr@x>` into its parts; a bare address has no name.
pub fn split_address(s: &str) -> (Option<&str>, &str) {
    match (s.find('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => {
            let name = s[..a].trim().trim_matches('"');
            (if name.is_empty() { None } else { Some(name) }, s[a + 1..b].trim())
        }
        _ => (None, s.trim()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_addresses() {
        assert_eq!(super::split_address("LSN <no-reply@x.com>"), (Some("LSN"), "no-reply@x.com"));
        assert_eq!(super::split_address("a@b.com"), (None, "a@b.com"));
    }
}
