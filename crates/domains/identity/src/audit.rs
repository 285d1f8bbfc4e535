//! The audit log: who did what, when, from where. Written in the same transaction as the change.

use lsn_db::{Db, RowExt};
use serde::Serialize;
use serde_json::Value;

/// Who acted: a signed-in user, the command line, the system, or an anonymous caller.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<String>,
    pub label: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Actor {
    pub fn cli() -> Self {
        let who = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        Self { id: None, label: format!("cli:{who}"), ip: None, user_agent: None }
    }

    pub fn system() -> Self {
        Self { id: None, label: "system".into(), ip: None, user_agent: None }
    }
}

pub async fn record<'c, E>(
    ex: E,
    now_ms: i64,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    detail: &Value,
) -> Result<(), lsn_db::Error>
where
    E: lsn_db::Executor<'c>,
{
    lsn_db::query("INSERT INTO audit_log (id, at, actor_id, actor, action, target, detail, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(lsn_core::ids::new_id())
        .bind(now_ms)
        .bind(&actor.id)
        .bind(&actor.label)
        .bind(action)
        .bind(target)
        .bind(detail.to_string())
        .bind(&actor.ip)
        .bind(&actor.user_agent)
        .execute(ex)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: String,
    pub at: i64,
    pub actor_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: Value,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Newest first, optionally one action only, before a cursor (`at` of the last row seen).
pub async fn list(db: &Db, action: Option<&str>, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>, lsn_db::Error> {
    let rows = lsn_db::query(
        "SELECT id, at, actor_id, actor, action, target, detail, ip, user_agent FROM audit_log \
         WHERE ($1 = '' OR action = $1) AND at < $2 ORDER BY at DESC, id DESC LIMIT $3",
    )
    .bind(action.unwrap_or(""))
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit.clamp(1, 500))
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            let detail: String = r.try_get(6)?;
            Ok(AuditEntry {
                id: r.try_get(0)?,
                at: r.try_get(1)?,
                actor_id: r.try_get(2)?,
                actor: r.try_get(3)?,
                action: r.try_get(4)?,
                target: r.try_get(5)?,
                detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
                ip: r.try_get(7)?,
                user_agent: r.try_get(8)?,
            })
        })
        .collect()
}
