//! Incidents (the runbook's "Incident Response"): a critical alert opens one with its type's
//! severity (P0–P3) and the response time that severity carries (immediate, 1 hour, 4 hours,
//! 1 day); a person assigns an owner, adds notes to its timeline, resolves it and writes the
//! post-mortem. Every change is an entry of the timeline.

use crate::alerts::{Alert, Priority};
use crate::codes::{Code, OpsError};
use lsn_core::i18n::t;
use lsn_db::{Db, RowExt, Tx};
use serde::Serialize;

/// The longest note, resolution or post-mortem kept.
pub const MAX_TEXT: usize = 20_000;

#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: String,
    pub title: String,
    /// `P0` … `P3`.
    pub severity: String,
    /// `open` or `resolved`.
    pub status: String,
    pub owner_id: Option<String>,
    pub alert_id: Option<String>,
    pub opened_at: i64,
    /// When a response is due (opened + the severity's response time).
    pub respond_by: i64,
    pub resolved_at: Option<i64>,
    pub resolution: Option<String>,
    pub postmortem: Option<String>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub at: i64,
    pub actor: String,
    /// `opened`, `assigned`, `note`, `resolved`, `postmortem`.
    pub kind: String,
    pub note: String,
}

const COLUMNS: &str =
    "id, title, severity, status, owner_id, alert_id, opened_at, respond_by, resolved_at, resolution, postmortem, updated_at";

fn row(r: &lsn_db::Row) -> Result<Incident, lsn_db::Error> {
    Ok(Incident {
        id: r.try_get(0)?,
        title: r.try_get(1)?,
        severity: r.try_get(2)?,
        status: r.try_get(3)?,
        owner_id: r.try_get(4)?,
        alert_id: r.try_get(5)?,
        opened_at: r.try_get(6)?,
        respond_by: r.try_get(7)?,
        resolved_at: r.try_get(8)?,
        resolution: r.try_get(9)?,
        postmortem: r.try_get(10)?,
        updated_at: r.try_get(11)?,
    })
}

async fn insert(
    tx: &mut Tx,
    now: i64,
    id: &str,
    title: &str,
    severity: Priority,
    alert_id: Option<&str>,
    actor: &str,
) -> Result<(), lsn_db::Error> {
    lsn_db::query(&format!("INSERT INTO incidents ({COLUMNS}) VALUES ($1, $2, $3, 'open', NULL, $4, $5, $6, NULL, NULL, NULL, $5)"))
        .bind(id)
        .bind(title)
        .bind(severity.as_str())
        .bind(alert_id)
        .bind(now)
        .bind(now + severity.response_ms())
        .execute(&mut **tx)
        .await?;
    event(tx, now, id, actor, "opened", title).await
}

async fn event(tx: &mut Tx, now: i64, id: &str, actor: &str, kind: &str, note: &str) -> Result<(), lsn_db::Error> {
    lsn_db::query("INSERT INTO incident_events (id, incident_id, at, actor, kind, note) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(lsn_core::ids::new_id())
        .bind(id)
        .bind(now)
        .bind(actor)
        .bind(kind)
        .bind(note)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Opens the incident of a critical alert unless it has an open one (claimed by a conditional
/// update of the alert's row, so two nodes open one). Returns the new incident's id.
pub async fn open_for_alert(tx: &mut Tx, now: i64, a: &Alert) -> Result<Option<String>, lsn_db::Error> {
    let id = lsn_core::ids::new_id();
    let claimed = lsn_db::query("UPDATE alerts SET incident_id = $1 WHERE id = $2 AND incident_id IS NULL")
        .bind(&id)
        .bind(&a.id)
        .execute(&mut **tx)
        .await?
        .rows_affected()
        == 1;
    if !claimed {
        return Ok(None);
    }
    let severity = Priority::parse(&a.incident_priority).unwrap_or(Priority::P1);
    insert(tx, now, &id, &a.title, severity, Some(&a.id), "monitoring").await?;
    Ok(Some(id))
}

/// Opens an incident by hand (a user report, a health check a person ran).
pub async fn open(db: &Db, now: i64, title: &str, severity: &str, actor: &str) -> Result<Incident, OpsError> {
    let title = checked_text(title, "title", 300)?;
    let severity =
        Priority::parse(severity.trim()).ok_or_else(|| OpsError::field(Code::InvalidPriority, "severity", t("ops-invalid-priority")))?;
    let actor = actor.to_string();
    let id = db
        .transaction(move |tx| {
            let (title, actor) = (title.clone(), actor.clone());
            Box::pin(async move {
                let id = lsn_core::ids::new_id();
                insert(tx, now, &id, &title, severity, None, &actor).await?;
                Ok::<_, lsn_db::Error>(id)
            })
        })
        .await?;
    get(db, &id).await?.ok_or(OpsError::NotFound)
}

/// A note, resolution or post-mortem: trimmed, not empty, at most `max` characters.
fn checked_text(s: &str, field: &'static str, max: usize) -> Result<String, OpsError> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > max {
        return Err(OpsError::field(Code::InvalidNote, field, lsn_core::i18n::t_args("ops-invalid-text", &[("max", &max.to_string())])));
    }
    Ok(s.to_string())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Incident>, lsn_db::Error> {
    lsn_db::query(&format!("SELECT {COLUMNS} FROM incidents WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?
        .as_ref()
        .map(row)
        .transpose()
}

/// Open incidents first (most severe first), then the resolved, newest first.
pub async fn list(db: &Db, limit: i64) -> Result<Vec<Incident>, lsn_db::Error> {
    lsn_db::query(&format!(
        "SELECT {COLUMNS} FROM incidents ORDER BY CASE WHEN status = 'open' THEN 0 ELSE 1 END, CASE WHEN status = 'open' THEN severity ELSE '' END, opened_at DESC, id LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(row)
    .collect()
}

pub async fn timeline(db: &Db, id: &str) -> Result<Vec<Event>, lsn_db::Error> {
    lsn_db::query("SELECT at, actor, kind, note FROM incident_events WHERE incident_id = $1 ORDER BY at, id")
        .bind(id)
        .fetch_all(db.read())
        .await?
        .iter()
        .map(|r| Ok(Event { at: r.try_get(0)?, actor: r.try_get(1)?, kind: r.try_get(2)?, note: r.try_get(3)? }))
        .collect()
}

/// A change to incident `id`: `set` (an `UPDATE incidents SET …` fragment with `$3…` binds
/// given by `binds`) and its timeline entry, in one transaction; refused once it is resolved
/// unless `after_resolution` (the post-mortem is written afterwards).
#[expect(clippy::too_many_arguments, reason = "one row's columns, bound in order")]
async fn change(
    db: &Db,
    now: i64,
    id: &str,
    actor: &str,
    kind: &'static str,
    note: String,
    set: &'static str,
    bind: Option<String>,
    after_resolution: bool,
) -> Result<Incident, OpsError> {
    let current = get(db, id).await?.ok_or(OpsError::NotFound)?;
    if current.status == "resolved" && !after_resolution {
        return Err(OpsError::rule(Code::IncidentResolved, t("ops-incident-resolved")));
    }
    let (id2, actor) = (id.to_string(), actor.to_string());
    db.transaction(move |tx| {
        let (id, actor, note, bind) = (id2.clone(), actor.clone(), note.clone(), bind.clone());
        Box::pin(async move {
            let sql = format!("UPDATE incidents SET {set}, updated_at = $1 WHERE id = $2");
            let mut q = lsn_db::query(&sql).bind(now).bind(&id);
            if let Some(b) = &bind {
                q = q.bind(b);
            }
            q.execute(&mut **tx).await?;
            if kind == "resolved" {
                // The alert may open a new incident when it next goes critical.
                lsn_db::query("UPDATE alerts SET incident_id = NULL WHERE incident_id = $1").bind(&id).execute(&mut **tx).await?;
            }
            event(tx, now, &id, &actor, kind, &note).await
        })
    })
    .await?;
    get(db, id).await?.ok_or(OpsError::NotFound)
}

/// Makes `owner_id` (a staff member the caller has checked) the incident's owner.
pub async fn assign(db: &Db, now: i64, id: &str, owner_id: &str, owner_label: &str, actor: &str) -> Result<Incident, OpsError> {
    change(db, now, id, actor, "assigned", owner_label.to_string(), "owner_id = $3", Some(owner_id.to_string()), false).await
}

pub async fn note(db: &Db, now: i64, id: &str, text: &str, actor: &str) -> Result<Incident, OpsError> {
    let text = checked_text(text, "note", MAX_TEXT)?;
    change(db, now, id, actor, "note", text, "status = status", None, true).await
}

pub async fn resolve(db: &Db, now: i64, id: &str, resolution: &str, actor: &str) -> Result<Incident, OpsError> {
    let text = checked_text(resolution, "resolution", MAX_TEXT)?;
    change(db, now, id, actor, "resolved", text.clone(), "status = 'resolved', resolved_at = $1, resolution = $3", Some(text), false).await
}

pub async fn postmortem(db: &Db, now: i64, id: &str, text: &str, actor: &str) -> Result<Incident, OpsError> {
    let text = checked_text(text, "postmortem", MAX_TEXT)?;
    change(db, now, id, actor, "postmortem", t("ops-postmortem-written"), "postmortem = $3", Some(text), true).await
}
