use crate::{failure, http, retry_after, unreachable, SendError, Sms};
use lsn_core::{Config, Secret};
use serde_json::Value;
use std::time::Duration;

/// Twilio Programmable Messaging: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`,
/// form-encoded `To`, `From`, `Body`, HTTP Basic auth (Account SID and Auth Token, or an API key
/// and its secret); `201 Created` with the message's `sid` on success.
#[derive(Debug, Clone)]
pub struct TwilioSms {
    base: String,
    account_sid: String,
    user: String,
    password: Secret,
    from: String,
    http: reqwest::Client,
}

impl TwilioSms {
    pub fn new(base: &str, account_sid: &str, user: &str, password: Secret, from: &str, timeout: Duration) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            account_sid: account_sid.to_string(),
            user: user.to_string(),
            password,
            from: from.to_string(),
            http: http(timeout),
        }
    }

    /// The client the configuration describes, if it describes one: the account, a credential
    /// (API key and secret first, else the Auth Token) and the sender number.
    pub fn from_config(cfg: &Config) -> Option<Self> {
        let sid = cfg.provider("TWILIO_ACCOUNT_SID")?.expose().to_string();
        let from = cfg.provider("TWILIO_PHONE_NUMBER")?.expose().to_string();
        let (user, password) = match (cfg.provider("TWILIO_API_KEY"), cfg.provider("TWILIO_API_SECRET")) {
            (Some(k), Some(s)) => (k.expose().to_string(), s.clone()),
            _ => (sid.clone(), cfg.provider("TWILIO_AUTH_TOKEN")?.clone()),
        };
        let base = cfg.provider("TWILIO_API_BASE").map(|b| b.expose().to_string()).unwrap_or_else(|| "https://api.twilio.com".into());
        Some(Self::new(&base, &sid, &user, password, &from, cfg.provider_timeout))
    }
}

#[async_trait::async_trait]
impl Sms for TwilioSms {
    fn name(&self) -> &'static str {
        "twilio"
    }

    async fn send(&self, _id: &str, to: &str, body: &str) -> Result<Option<String>, SendError> {
        if !crate::is_e164(to) {
            return Err(SendError::Permanent(format!("{to:?} is not an E.164 number")));
        }
        // Twilio takes at most 1,600 characters.
        let body: String = body.chars().take(1600).collect();
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", self.base, self.account_sid);
        let res = self
            .http
            .post(url)
            .basic_auth(&self.user, Some(self.password.expose()))
            .form(&[("To", to), ("From", self.from.as_str()), ("Body", body.as_str())])
            .send()
            .await
            .map_err(|e| unreachable("Twilio", e))?;
        let status = res.status();
        let wait = retry_after(res.headers());
        let text = res.text().await.unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(v["sid"].as_str().map(str::to_string));
        }
        let detail = match (v["code"].as_i64(), v["message"].as_str()) {
            (Some(code), Some(m)) => format!("{code} {m}"),
            _ => text,
        };
        Err(failure("Twilio", status, wait, detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::post;
    use base64::Engine;
    use serde_json::json;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    const SID: &str = "AC00000000000000000000000000000001";
    const TOKEN: &str = "test-auth-token";

    /// A fake Twilio: Basic auth against one account, the account in the path, `To`, `From` and
    /// `Body` required, `To` in E.164; answers 201 with a message, or what the test sets.
    #[derive(Clone, Default)]
    struct Fake {
        sent: Arc<Mutex<Vec<HashMap<String, String>>>>,
        answer: Arc<Mutex<u16>>,
    }

    async fn messages(State(f): State<Fake>, Path(account): Path<String>, headers: HeaderMap, body: String) -> axum::response::Response {
        let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}")));
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) || account != SID {
            return (StatusCode::UNAUTHORIZED, axum::Json(json!({"code": 20003, "message": "Authenticate", "status": 401})))
                .into_response();
        }
        match *f.answer.lock().expect("lock") {
            429 => {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "3")],
                    axum::Json(json!({"code": 20429, "message": "Too Many Requests"})),
                )
                    .into_response()
            }
            500 => return (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
            _ => {}
        }
        let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        let form: HashMap<String, String> = url_form(&body);
        if !ct.starts_with("application/x-www-form-urlencoded") || ["To", "From", "Body"].iter().any(|k| !form.contains_key(*k)) {
            return (StatusCode::BAD_REQUEST, axum::Json(json!({"code": 21604, "message": "A 'To' phone number is required."})))
                .into_response();
        }
        if form["To"] == "+15005550001" {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"code": 21211, "message": "The 'To' number is not a valid phone number."})),
            )
                .into_response();
        }
        f.sent.lock().expect("lock").push(form.clone());
        (StatusCode::CREATED, axum::Json(json!({"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "to": form["To"]})))
            .into_response()
    }

    fn url_form(body: &str) -> HashMap<String, String> {
        url::form_urlencoded::parse(body.as_bytes()).into_owned().collect()
    }

    async fn fake() -> (Fake, String) {
        let f = Fake { answer: Arc::new(Mutex::new(201)), ..Fake::default() };
        let app = axum::Router::new().route("/2010-04-01/Accounts/{account}/Messages.json", post(messages)).with_state(f.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (f, format!("http://{addr}"))
    }

    #[tokio::test]
    async fn sends_the_messages_api_form_with_basic_auth() {
        let (f, base) = fake().await;
        let c = TwilioSms::new(&base, SID, SID, Secret::new(TOKEN), "+15005550006", Duration::from_millis(500));
        let sid = c.send("d1", "+61400000000", "CRITICAL: error rate 12% & rising").await.expect("sent");
        assert_eq!(sid.as_deref(), Some("SM0123456789abcdef0123456789abcdef"));
        let got = f.sent.lock().expect("lock")[0].clone();
        assert_eq!((got["To"].as_str(), got["From"].as_str()), ("+61400000000", "+15005550006"));
        assert_eq!(got["Body"], "CRITICAL: error rate 12% & rising");

        assert!(matches!(c.send("d2", "+15005550001", "x").await, Err(SendError::Permanent(m)) if m.contains("21211")));
        assert!(matches!(c.send("d3", "0400 000 000", "x").await, Err(SendError::Permanent(_))), "checked before sending");
        *f.answer.lock().expect("lock") = 429;
        assert!(matches!(c.send("d4", "+61400000000", "x").await, Err(SendError::RetryAfter { secs: 3, .. })));
        *f.answer.lock().expect("lock") = 500;
        assert!(matches!(c.send("d5", "+61400000000", "x").await, Err(SendError::Transient(_))));
        let wrong = TwilioSms::new(&base, SID, SID, Secret::new("wrong"), "+15005550006", Duration::from_millis(500));
        *f.answer.lock().expect("lock") = 201;
        assert!(matches!(wrong.send("d6", "+61400000000", "x").await, Err(SendError::Permanent(m)) if m.contains("20003")));
        assert_eq!(f.sent.lock().expect("lock").len(), 1);
    }
}
