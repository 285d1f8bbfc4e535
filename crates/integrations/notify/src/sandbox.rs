use crate::{SendError, Slack, SlackMessage, Sms};
use lsn_db::{Db, RowExt};
use serde::Serialize;

/// Slack without `SLACK_WEBHOOK_URL`: the message is recorded, not posted.
#[derive(Debug, Clone)]
pub struct SandboxSlack {
    db: Db,
}

impl SandboxSlack {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

/// SMS without Twilio's credentials: the message is recorded, not sent.
#[derive(Debug, Clone)]
pub struct SandboxSms {
    db: Db,
}

impl SandboxSms {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

async fn record(db: &Db, id: &str, provider: &str, target: &str, body: &str) -> Result<(), SendError> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    // A retried job records its message once.
    lsn_db::query(
        "INSERT INTO notify_sandbox (id, provider, target, body, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(provider)
    .bind(target)
    .bind(body)
    .bind(now)
    .execute(db.write())
    .await
    .map_err(|e| SendError::Transient(format!("sandbox write failed: {e}")))?;
    Ok(())
}

#[async_trait::async_trait]
impl Slack for SandboxSlack {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    async fn post(&self, id: &str, msg: &SlackMessage) -> Result<(), SendError> {
        let body = serde_json::to_string(msg).map_err(|e| SendError::Permanent(e.to_string()))?;
        record(&self.db, id, "slack", "SLACK_WEBHOOK_URL unset", &body).await
    }
}

#[async_trait::async_trait]
impl Sms for SandboxSms {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    async fn send(&self, id: &str, to: &str, body: &str) -> Result<Option<String>, SendError> {
        record(&self.db, id, "twilio", to, body).await?;
        Ok(Some(format!("sandbox-{id}")))
    }
}

/// A message the sandbox recorded.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxEntry {
    pub id: String,
    pub provider: String,
    pub target: String,
    pub body: String,
    pub created_at: i64,
}

/// The newest recorded messages, of one provider (`slack`, `twilio`) or all.
pub async fn list_sandbox(db: &Db, provider: Option<&str>, limit: i64) -> Result<Vec<SandboxEntry>, lsn_db::Error> {
    lsn_db::query(
        "SELECT id, provider, target, body, created_at FROM notify_sandbox WHERE ($1 = '' OR provider = $1) ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(provider.unwrap_or(""))
    .bind(limit)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| Ok(SandboxEntry { id: r.try_get(0)?, provider: r.try_get(1)?, target: r.try_get(2)?, body: r.try_get(3)?, created_at: r.try_get(4)? }))
    .collect()
}
