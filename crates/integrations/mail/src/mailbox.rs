use crate::{Attachment, MailError, Message, Transport};
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
    /// Files and inline images, as sent.
    pub attachments: Vec<Attachment>,
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
        let attachments = match msg.attachments.is_empty() {
            true => None,
            false => Some(serde_json::to_string(&msg.attachments).map_err(|e| MailError::Permanent(format!("attachments: {e}")))?),
        };
        // A retried job must not store the same message twice.
        let res = lsn_db::query(
            "INSERT INTO mailbox (id, to_addr, from_addr, subject, text_body, html_body, tag, attachments, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&id)
        .bind(&msg.to)
        .bind(from)
        .bind(&msg.subject)
        .bind(&msg.text)
        .bind(&msg.html)
        .bind(&msg.tag)
        .bind(&attachments)
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
        "SELECT id, to_addr, from_addr, subject, text_body, html_body, tag, attachments, created_at FROM mailbox \
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
                // What this mailbox wrote itself; a row it cannot read shows no attachments.
                attachments: r
                    .try_get::<Option<String>, _>(7)?
                    .and_then(|j| serde_json::from_str(&j).map_err(|e| tracing::warn!("mailbox attachments unreadable: {e}")).ok())
                    .unwrap_or_default(),
                created_at: r.try_get(8)?,
            })
        })
        .collect()
}

pub use list as list_mailbox;
