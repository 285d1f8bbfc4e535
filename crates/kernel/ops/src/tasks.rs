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
    /// `open`, `done` or `dismissed`.
    pub status: String,
    pub created_at: i64,
    /// The staff member who has it.
    pub assignee_id: Option<String>,
    pub closed_at: Option<i64>,
    pub closed_by: Option<String>,
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

const COLUMNS: &str = "id, kind, title, detail, ref, status, created_at, assignee_id, closed_at, closed_by";

fn task_row(r: &lsn_db::Row) -> Result<Task, lsn_db::Error> {
    Ok(Task {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        title: r.try_get(2)?,
        detail: r.try_get(3)?,
        reference: r.try_get(4)?,
        status: r.try_get(5)?,
        created_at: r.try_get(6)?,
        assignee_id: r.try_get(7)?,
        closed_at: r.try_get(8)?,
        closed_by: r.try_get(9)?,
    })
}

/// The newest tasks first.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<Task>, lsn_db::Error> {
    list(db, None, limit).await
}

/// The open tasks first, then the closed, newest first; `status` filters.
pub async fn list(db: &Db, status: Option<&str>, limit: i64) -> Result<Vec<Task>, lsn_db::Error> {
    lsn_db::query(&format!(
        "SELECT {COLUMNS} FROM tasks WHERE ($1 = '' OR status = $1) ORDER BY CASE WHEN status = 'open' THEN 0 ELSE 1 END, created_at DESC, id LIMIT $2"
    ))
    .bind(status.unwrap_or(""))
    .bind(limit)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(task_row)
    .collect()
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Task>, lsn_db::Error> {
    lsn_db::query(&format!("SELECT {COLUMNS} FROM tasks WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?
        .as_ref()
        .map(task_row)
        .transpose()
}

/// What a person did with a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    Done,
    Dismissed,
}

impl Close {
    pub fn as_str(self) -> &'static str {
        match self {
            Close::Done => "done",
            Close::Dismissed => "dismissed",
        }
    }
}

/// Gives open task `id` to `assignee_id` (a staff member the caller has checked; `None` takes it
/// back). Refused once it is closed.
pub async fn assign(db: &Db, id: &str, assignee_id: Option<&str>) -> Result<Task, crate::codes::OpsError> {
    let r = lsn_db::query("UPDATE tasks SET assignee_id = $1 WHERE id = $2 AND status = 'open'")
        .bind(assignee_id)
        .bind(id)
        .execute(db.write())
        .await?;
    settled(db, id, r.rows_affected()).await
}

/// Closes open task `id` as done or dismissed, by `who`. Refused when it is closed already (so a
/// second click, or a second person, does not close it twice).
pub async fn close(db: &Db, now: i64, id: &str, how: Close, who: &str) -> Result<Task, crate::codes::OpsError> {
    let r = lsn_db::query("UPDATE tasks SET status = $1, closed_at = $2, closed_by = $3 WHERE id = $4 AND status = 'open'")
        .bind(how.as_str())
        .bind(now)
        .bind(who)
        .bind(id)
        .execute(db.write())
        .await?;
    settled(db, id, r.rows_affected()).await
}

/// The task after a conditional update: changed, closed already (409) or missing (404).
async fn settled(db: &Db, id: &str, changed: u64) -> Result<Task, crate::codes::OpsError> {
    use crate::codes::{Code, OpsError};
    let task = get(db, id).await?.ok_or(OpsError::NotFound)?;
    if changed == 0 {
        return Err(OpsError::rule(Code::TaskClosed, lsn_core::i18n::t("ops-task-closed")));
    }
    Ok(task)
}
