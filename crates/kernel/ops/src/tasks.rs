//! Tasks for a person: what LSN cannot settle alone (a dispute to answer, a refund the provider
//! refused, a payment that did not match its order). Any domain opens one inside the transaction
//! that found the problem, so a task exists exactly when the problem was recorded.

use lsn_db::{Db, RowExt, Tx};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Task {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub detail: String,
    /// What the task is about (an order id, a payment id).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    pub status: String,
    pub created_at: i64,
}

/// Opens a task in `tx`.
pub async fn open(tx: &mut Tx, now: i64, kind: &str, title: &str, detail: &str, reference: &str) -> Result<(), lsn_db::Error> {
    lsn_db::query("INSERT INTO tasks (id, kind, title, detail, ref, status, created_at) VALUES ($1, $2, $3, $4, $5, 'open', $6)")
        .bind(lsn_core::ids::new_id())
        .bind(kind)
        .bind(title)
        .bind(detail)
        .bind(reference)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Opens a task of `kind` about `reference` unless one is open already (a check that runs every
/// hour opens one task per problem, not one per run). Returns whether it opened one.
pub async fn open_once(tx: &mut Tx, now: i64, kind: &str, title: &str, detail: &str, reference: &str) -> Result<bool, lsn_db::Error> {
    let n: i64 = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM tasks WHERE kind = $1 AND ref = $2 AND status = 'open'")
        .bind(kind)
        .bind(reference)
        .fetch_one(&mut **tx)
        .await?
        .try_get("n")?;
    if n > 0 {
        return Ok(false);
    }
    open(tx, now, kind, title, detail, reference).await?;
    Ok(true)
}

/// Whether a task of `kind` about `reference` whose detail mentions `mention` exists already
/// (so an event delivered twice opens one task).
pub async fn exists(tx: &mut Tx, kind: &str, reference: &str, mention: &str) -> Result<bool, lsn_db::Error> {
    let n: i64 = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE kind = $1 AND ref = $2 AND detail LIKE $3")
        .bind(kind)
        .bind(reference)
        .bind(format!("%{mention}%"))
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    Ok(n > 0)
}

/// The newest tasks first.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<Task>, lsn_db::Error> {
    lsn_db::query("SELECT id, kind, title, detail, ref, status, created_at FROM tasks ORDER BY created_at DESC LIMIT $1")
        .bind(limit)
        .fetch_all(db.read())
        .await?
        .iter()
        .map(|r| {
            Ok(Task {
                id: r.try_get(0)?,
                kind: r.try_get(1)?,
                title: r.try_get(2)?,
                detail: r.try_get(3)?,
                reference: r.try_get(4)?,
                status: r.try_get(5)?,
                created_at: r.try_get(6)?,
            })
        })
        .collect()
}
