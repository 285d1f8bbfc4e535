use crate::{MailError, Message, Transport};
use lsn_db::{Db, RowExt};
use serde::Serialize;

/// Development transport: every message lands in the `mailbox` table, readable at
/// `/admin/mailbox` and by tests.
#[derive(Debug, Clone)]
pub struct MailboxTransport {
    db: Db,
}

#[derive(Debug, Clone, Serialize)]
pub struct MailboxEntry {
    pub id: String,
    pub to: String,
    pub from: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub tag: Option<String>,
    pub created_at: i64,
}

impl MailboxTransport {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl Transport for MailboxTransport {
    fn name(&self) -> &'static str {
        "mailbox"
    }

    async fn send(&self, from: &str, msg: &Message) -> Result<Option<String>, MailError> {
        let id = msg.message_id.clone().unwrap_or_else(lsn_core::ids::new_id);
        let now = chrono::Utc::now().timestamp_millis();
        // A retried job must not store the same message twice.
        let res = lsn_db::query(
            "INSERT INTO mailbox (id, to_addr, from_addr, subject, text_body, html_body, tag, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&id)
        .bind(&msg.to)
        .bind(from)
        .bind(&msg.subject)
        .bind(&msg.text)
        .bind(&msg.html)
        .bind(&msg.tag)
        .bind(now)
        .execute(self.db.write())
        .await;
        res.map_err(|e| MailError::Transient(format!("mailbox write failed: {e}")))?;
        Ok(Some(id))
    }
}

/// The newest messages, optionally only those to one address.
pub async fn list(db: &Db, to: Option<&str>, limit: i64) -> Result<Vec<MailboxEntry>, lsn_db::Error> {
    let rows = lsn_db::query(
        "SELECT id, to_addr, from_addr, subject, text_body, html_body, tag, created_at FROM mailbox \
         WHERE ($1 = '' OR to_addr = $1) ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(to.unwrap_or(""))
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MailboxEntry {
                id: r.try_get(0)?,
                to: r.try_get(1)?,
                from: r.try_get(2)?,
                subject: r.try_get(3)?,
                text: r.try_get(4)?,
                html: r.try_get(5)?,
                tag: r.try_get(6)?,
                created_at: r.try_get(7)?,
            })
        })
        .collect()
}

pub use list as list_mailbox;
