use crate::{split_address, MailError, Message, Transport};
use lsn_core::Secret;
use serde_json::{json, Value};
use std::time::Duration;

/// SendGrid v3 Mail Send (`POST /v3/mail/send`, Bearer key, 202 on success).
#[derive(Debug, Clone)]
pub struct SendGridTransport {
    api_key: Secret,
    base_url: String,
    http: reqwest::Client,
}

impl SendGridTransport {
    /// A client for SendGrid at `base_url`; each request may take `timeout`.
    pub fn new(api_key: Secret, base_url: &str, timeout: Duration) -> Self {
        let http =
            reqwest::Client::builder().timeout(timeout).connect_timeout(timeout.min(Duration::from_secs(5))).build().unwrap_or_default();
        Self { api_key, base_url: base_url.trim_end_matches('/').to_string(), http }
    }

    /// The request body SendGrid expects for `msg`.
    pub fn body(from: &str, msg: &Message) -> Value {
        let addr = |s: &str| {
            let (name, email) = split_address(s);
            match name {
                Some(n) => json!({ "email": email, "name": n }),
                None => json!({ "email": email }),
            }
        };
        // text/plain must come before text/html.
        let mut content = vec![json!({ "type": "text/plain", "value": msg.text })];
        if let Some(html) = &msg.html {
            content.push(json!({ "type": "text/html", "value": html }));
        }
        let mut personalization = json!({ "to": [addr(&msg.to)] });
        if let Some(id) = &msg.message_id {
            personalization["custom_args"] = json!({ "lsn_message_id": id });
        }
        let mut body = json!({
            "personalizations": [personalization],
            "from": addr(from),
            "subject": msg.subject,
            "content": content,
        });
        if let Some(tag) = &msg.tag {
            body["categories"] = json!([tag]);
        }
        if !msg.attachments.is_empty() {
            // An inline image is `disposition: inline` with the `content_id` its `cid:` names.
            let files: Vec<Value> = msg
                .attachments
                .iter()
                .map(|a| {
                    let mut f = json!({ "content": a.base64(), "filename": a.filename, "type": a.content_type });
                    match &a.content_id {
                        Some(id) => {
                            f["disposition"] = json!("inline");
                            f["content_id"] = json!(id);
                        }
                        None => f["disposition"] = json!("attachment"),
                    }
                    f
                })
                .collect();
            body["attachments"] = json!(files);
        }
        body
    }
}

#[async_trait::async_trait]
impl Transport for SendGridTransport {
    fn name(&self) -> &'static str {
        "sendgrid"
    }

    async fn send(&self, from: &str, msg: &Message) -> Result<Option<String>, MailError> {
        let res = self
            .http
            .post(format!("{}/v3/mail/send", self.base_url))
            .bearer_auth(self.api_key.expose())
            .json(&Self::body(from, msg))
            .send()
            .await
            .map_err(|e| MailError::Transient(format!("SendGrid unreachable: {e}")))?;
        let status = res.status();
        let id = res.headers().get("x-message-id").and_then(|v| v.to_str().ok()).map(str::to_string);
        if status.is_success() {
            return Ok(id);
        }
        let text = res.text().await.unwrap_or_default();
        let detail = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["errors"].as_array().map(|a| a.iter().filter_map(|e| e["message"].as_str()).collect::<Vec<_>>().join("; ")))
            .unwrap_or(text);
        let err = format!("SendGrid answered {}: {detail}", status.as_u16());
        if status.as_u16() == 429 || status.is_server_error() {
            Err(MailError::Transient(err))
        } else {
            Err(MailError::Permanent(err))
        }
    }
}
