//! Outgoing email. Three transports behind one trait: the development mailbox (stored in the
//! database, the default), SMTP (lettre) and SendGrid's v3 Mail Send API. A message carries a
//! plain-text part, optionally an HTML part, and attachments: files (CSV reports) and inline
//! images the HTML shows through `cid:` references (mail clients block `data:` images).
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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    /// Files and inline images, in the order they are sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A file sent with a message. With a `content_id` it is an inline image of the HTML part
/// (`<img src="cid:…">`); without one, an attachment the reader downloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub filename: String,
    /// Its MIME type (`text/csv`, `image/png`).
    pub content_type: String,
    /// The bytes (Base64 in the job's payload and the mailbox).
    #[serde(with = "base64_bytes")]
    pub content: Vec<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
}

impl Attachment {
    /// A file to download.
    pub fn file(filename: impl Into<String>, content_type: impl Into<String>, content: Vec<u8>) -> Self {
        Self { filename: filename.into(), content_type: content_type.into(), content, content_id: None }
    }

    /// An image the HTML part shows as `cid:<content_id>`.
    pub fn inline(content_id: impl Into<String>, filename: impl Into<String>, content_type: impl Into<String>, content: Vec<u8>) -> Self {
        Self { filename: filename.into(), content_type: content_type.into(), content, content_id: Some(content_id.into()) }
    }

    pub fn is_inline(&self) -> bool {
        self.content_id.is_some()
    }

    /// The bytes as Base64 (what SendGrid and the mailbox keep).
    pub fn base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&self.content)
    }
}

mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(text.as_bytes()).map_err(serde::de::Error::custom)
    }
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
    use super::*;

    #[test]
    fn attachments_travel_as_base64_and_old_payloads_still_read() {
        let msg = Message {
            to: "a@b.co".into(),
            subject: "s".into(),
            text: "t".into(),
            attachments: vec![Attachment::inline("chart-1", "chart.png", "image/png", vec![0, 159, 146, 150])],
            ..Message::default()
        };
        let v = serde_json::to_value(&msg).expect("json");
        assert_eq!(v["attachments"][0]["content"], "AJ+Slg==");
        assert_eq!(serde_json::from_value::<Message>(v).expect("back"), msg);
        // A job queued before attachments existed.
        let old: Message = serde_json::from_value(serde_json::json!({"to": "a@b.co", "subject": "s", "text": "t"})).expect("old");
        assert!(old.attachments.is_empty());
        let bad = serde_json::json!({"to": "a", "subject": "s", "text": "t", "attachments": [{"filename": "x", "content_type": "text/csv", "content": "%%"}]});
        assert!(serde_json::from_value::<Message>(bad).is_err());
    }

    #[test]
    fn splits_addresses() {
        assert_eq!(super::split_address("LSN <no-reply@x.com>"), (Some("LSN"), "no-reply@x.com"));
        assert_eq!(super::split_address("a@b.com"), (None, "a@b.com"));
    }
}
