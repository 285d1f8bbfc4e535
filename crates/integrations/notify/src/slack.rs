use crate::{failure, http, retry_after, unreachable, SendError, Slack, SlackMessage};
use lsn_core::Secret;
use std::time::Duration;

/// A Slack incoming webhook (`POST` JSON to the hook's URL, which is the credential; `200 ok`
/// on success, the error as a plain-text body otherwise; `429` with `Retry-After`).
#[derive(Debug, Clone)]
pub struct SlackWebhook {
    url: Secret,
    http: reqwest::Client,
}

impl SlackWebhook {
    /// A client for the hook at `url`; each post may take `timeout`.
    pub fn new(url: Secret, timeout: Duration) -> Self {
        Self { url, http: http(timeout) }
    }
}

#[async_trait::async_trait]
impl Slack for SlackWebhook {
    fn name(&self) -> &'static str {
        "slack"
    }

    async fn post(&self, _id: &str, msg: &SlackMessage) -> Result<(), SendError> {
        let body = serde_json::to_vec(msg).map_err(|e| SendError::Permanent(e.to_string()))?;
        let res = self
            .http
            .post(self.url.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable("Slack", e))?;
        let status = res.status();
        let wait = retry_after(res.headers());
        let text = res.text().await.unwrap_or_default();
        if status == reqwest::StatusCode::OK {
            return Ok(());
        }
        // The body is Slack's error code (`channel_not_found`, `invalid_payload`, …).
        Err(failure("Slack", status, wait, text.trim().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::post;
    use serde_json::Value;
    use std::sync::{Arc, Mutex};

    /// A fake Slack: one hook path; checks the content type and the payload as Slack does, keeps
    /// what it accepted, and answers what the test sets (a status, a `Retry-After`, a hang).
    #[derive(Clone, Default)]
    struct Fake {
        accepted: Arc<Mutex<Vec<Value>>>,
        answer: Arc<Mutex<(u16, Option<u64>, bool)>>,
    }

    async fn hook(State(f): State<Fake>, headers: HeaderMap, body: String) -> axum::response::Response {
        let (status, wait, hang) = *f.answer.lock().expect("lock");
        if hang {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        if status == 429 {
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", wait.unwrap_or(1).to_string())], "rate_limited").into_response();
        }
        if status != 200 {
            let code = if status == 404 { "channel_not_found" } else { "rollup_error" };
            return (StatusCode::from_u16(status).expect("status"), code).into_response();
        }
        let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        let Ok(v) = serde_json::from_str::<Value>(&body) else { return (StatusCode::BAD_REQUEST, "invalid_payload").into_response() };
        if !ct.starts_with("application/json") || !v.is_object() {
            return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
        }
        if v["text"].as_str().is_none_or(str::is_empty) && v["blocks"].as_array().is_none() {
            return (StatusCode::BAD_REQUEST, "no_text").into_response();
        }
        if let Some(blocks) = v["blocks"].as_array() {
            if !blocks.iter().all(|b| b["type"].is_string()) {
                return (StatusCode::BAD_REQUEST, "invalid_blocks").into_response();
            }
        }
        f.accepted.lock().expect("lock").push(v);
        (StatusCode::OK, "ok").into_response()
    }

    async fn fake() -> (Fake, String) {
        let f = Fake { answer: Arc::new(Mutex::new((200, None, false))), ..Fake::default() };
        let app = axum::Router::new().route("/services/T000/B000/secret", post(hook)).with_state(f.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (f, format!("http://{addr}/services/T000/B000/secret"))
    }

    fn msg() -> SlackMessage {
        SlackMessage {
            text: "🚨 Test alert from LSN platform".into(),
            blocks: vec![serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": "*info*"}})],
        }
    }

    #[tokio::test]
    async fn posts_what_slack_expects_and_classifies_its_answers() {
        let (f, url) = fake().await;
        let client = SlackWebhook::new(Secret::new(url.clone()), Duration::from_millis(500));
        client.post("d1", &msg()).await.expect("posted");
        let got = f.accepted.lock().expect("lock")[0].clone();
        assert_eq!(got["text"], "🚨 Test alert from LSN platform");
        assert_eq!(got["blocks"][0]["type"], "section");

        *f.answer.lock().expect("lock") = (429, Some(7), false);
        assert!(matches!(client.post("d2", &msg()).await, Err(SendError::RetryAfter { secs: 7, .. })));
        *f.answer.lock().expect("lock") = (500, None, false);
        assert!(matches!(client.post("d3", &msg()).await, Err(SendError::Transient(m)) if m.contains("rollup_error")));
        *f.answer.lock().expect("lock") = (404, None, false);
        assert!(matches!(client.post("d4", &msg()).await, Err(SendError::Permanent(m)) if m.contains("channel_not_found")));
        *f.answer.lock().expect("lock") = (200, None, true);
        match client.post("d5", &msg()).await {
            Err(SendError::Transient(m)) => assert!(m.contains("timed out") && !m.contains("secret"), "the URL is never said: {m}"),
            other => panic!("a hung hook is a retryable failure: {other:?}"),
        }
        // An unknown hook (wrong path) is Slack's 404, permanent.
        let wrong = SlackWebhook::new(Secret::new(url.replace("secret", "other")), Duration::from_millis(500));
        *f.answer.lock().expect("lock") = (200, None, false);
        assert!(matches!(wrong.post("d6", &msg()).await, Err(SendError::Permanent(_))));
        assert_eq!(f.accepted.lock().expect("lock").len(), 1);
    }
}
