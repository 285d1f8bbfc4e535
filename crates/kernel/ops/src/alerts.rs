//! Alerts: raised by the domain that sees the problem, grouped, de-duplicated, cooled down,
//! silenced and escalated in the database, then delivered to people on the runbook's channels —
//! Slack (every alert), e-mail and SMS (critical ones), and the admin's in-app list (every alert).
//!
//! Exactly one notification per alert group, however many LSN nodes raise it at once: every
//! raise lands on the group's one row (`alerts.group_key` is unique, insert-on-conflict), and the
//! right to notify is claimed by one conditional update of that row (`notified_at` older than the
//! type's cool-down), so of two nodes raising together one claims it and the other sees the
//! claim. The claim queues one `alert.notify` job (deduplicated by the alert and its notification
//! number), which fans out one `alert.deliver` job per channel and recipient; each delivery
//! retries with backoff (honouring a provider's `Retry-After`) and records every attempt.
//!
//! Alert types are defined by the domain that raises them ([`crate::Module::alert_type`]); the
//! wiring refuses a raised type nobody defines.

use crate::builtin::queue_mail;
use crate::jobs::{enqueue, JobContext, JobError, JobHandler, NewJob};
use lsn_core::i18n::{t, t_args};
use lsn_db::{Db, RowExt, Tx};
use lsn_notify::{SendError, Slack, SlackMessage, Sms};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub const NOTIFY_JOB: &str = "alert.notify";
pub const DELIVER_JOB: &str = "alert.deliver";
pub const ESCALATE_JOB: &str = "alert.escalate";

/// How bad an alert is. Slack and the admin get every one; e-mail and SMS only critical ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }

    fn emoji(self) -> &'static str {
        match self {
            Severity::Info => "ℹ️",
            Severity::Warning => "⚠️",
            Severity::Critical => "🚨",
        }
    }
}

/// The runbook's incident severity levels, with their response times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Priority {
    /// Site down, payment failure: respond immediately; escalate to the founder.
    P0,
    /// Feature broken, data loss: within 1 hour; operations.
    P1,
    /// Performance degradation: within 4 hours; the team.
    P2,
    /// Minor bugs, cosmetic issues: within 1 day; the backlog.
    P3,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Priority::P0, Priority::P1, Priority::P2, Priority::P3];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P0 => "P0",
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The runbook's response time: immediate, 1 hour, 4 hours, 1 day.
    pub fn response_ms(self) -> i64 {
        match self {
            Priority::P0 => 0,
            Priority::P1 => 3_600_000,
            Priority::P2 => 4 * 3_600_000,
            Priority::P3 => 86_400_000,
        }
    }
}

/// A kind of alert, defined by the domain that raises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertType {
    /// `low_stock`, `payment_failed`, …
    pub name: &'static str,
    /// What it means, for the admin and `docs/operations.md`.
    pub description: &'static str,
    /// After a notification, further raises of the same group within this many seconds only
    /// count (no new notification).
    pub cooldown_secs: i64,
    /// The incident a critical alert of this type opens.
    pub incident: Priority,
}

/// What [`raise`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raised {
    pub alert_id: String,
    /// This raise claimed a notification (the first of the group, or the first after its
    /// cool-down); `false`: it was counted on the group only.
    pub notified: bool,
    pub silenced: bool,
}

/// Raises an alert of `kind` for `group` (what makes two alerts the same one: a variant, a
/// metric and level) inside `tx`, so it exists exactly when the problem was recorded.
pub async fn raise(
    tx: &mut Tx,
    now: i64,
    kind: &AlertType,
    group: &str,
    severity: Severity,
    title: &str,
    detail: &str,
) -> Result<Raised, lsn_db::Error> {
    let key = format!("{}:{group}", kind.name);
    let title: String = title.chars().take(300).collect();
    let detail: String = detail.chars().take(2000).collect();
    // A resolved group that fires again starts over: unacknowledged, not escalated.
    lsn_db::query(
        "INSERT INTO alerts (id, alert_type, group_key, severity, title, detail, status, incident_priority, occurrences, first_at, last_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'firing', $7, 1, $8, $8) \
         ON CONFLICT (group_key) DO UPDATE SET occurrences = alerts.occurrences + 1, last_at = excluded.last_at, \
         severity = excluded.severity, title = excluded.title, detail = excluded.detail, \
         acknowledged_at = CASE WHEN alerts.status = 'resolved' THEN NULL ELSE alerts.acknowledged_at END, \
         acknowledged_by = CASE WHEN alerts.status = 'resolved' THEN NULL ELSE alerts.acknowledged_by END, \
         escalated_at = CASE WHEN alerts.status = 'resolved' THEN NULL ELSE alerts.escalated_at END, \
         first_at = CASE WHEN alerts.status = 'resolved' THEN excluded.first_at ELSE alerts.first_at END, \
         status = 'firing', resolved_at = NULL",
    )
    .bind(lsn_core::ids::new_id())
    .bind(kind.name)
    .bind(&key)
    .bind(severity.as_str())
    .bind(&title)
    .bind(&detail)
    .bind(kind.incident.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let id: String = lsn_db::query("SELECT id FROM alerts WHERE group_key = $1").bind(&key).fetch_one(&mut **tx).await?.try_get(0)?;
    let silenced: i64 = lsn_db::query(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM alert_silences WHERE until_at > $1 AND alert_type = $2 AND (group_key IS NULL OR group_key = $3)",
    )
    .bind(now)
    .bind(kind.name)
    .bind(group)
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?;
    if silenced > 0 {
        return Ok(Raised { alert_id: id, notified: false, silenced: true });
    }
    // The claim: one conditional update of the group's row; a concurrent raise on another node
    // waits for this row and then finds it claimed.
    let claimed = lsn_db::query(
        "UPDATE alerts SET notified_at = $1, notifications = notifications + 1 WHERE id = $2 AND (notified_at IS NULL OR notified_at <= $3)",
    )
    .bind(now)
    .bind(&id)
    .bind(now - kind.cooldown_secs.max(0) * 1000)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if claimed {
        let seq: i64 = lsn_db::query("SELECT notifications FROM alerts WHERE id = $1").bind(&id).fetch_one(&mut **tx).await?.try_get(0)?;
        let job = NewJob::new(NOTIFY_JOB, json!({"alert_id": id, "seq": seq})).priority(20).dedupe(format!("alert:{id}:{seq}"));
        enqueue(&mut **tx, &job, now).await?;
    }
    Ok(Raised { alert_id: id, notified: claimed, silenced: false })
}

/// [`raise`] in a transaction of its own.
pub async fn raise_now(
    db: &Db,
    now: i64,
    kind: &'static AlertType,
    group: &str,
    severity: Severity,
    title: &str,
    detail: &str,
) -> Result<Raised, lsn_db::Error> {
    let (group, title, detail) = (group.to_string(), title.to_string(), detail.to_string());
    db.transaction(move |tx| {
        let (group, title, detail) = (group.clone(), title.clone(), detail.clone());
        Box::pin(async move { raise(tx, now, kind, &group, severity, &title, &detail).await })
    })
    .await
}

/// Marks the firing alerts of `groups` (of `kind`) resolved; returns how many were.
pub async fn resolve_groups(tx: &mut Tx, now: i64, kind: &str, groups: &[String]) -> Result<u64, lsn_db::Error> {
    let mut n = 0;
    for g in groups {
        n += lsn_db::query("UPDATE alerts SET status = 'resolved', resolved_at = $1 WHERE group_key = $2 AND status = 'firing'")
            .bind(now)
            .bind(format!("{kind}:{g}"))
            .execute(&mut **tx)
            .await?
            .rows_affected();
    }
    Ok(n)
}

/// Where alerts go: the clients and the people.
#[derive(Clone)]
pub struct Channels {
    pub slack: Arc<dyn Slack>,
    pub sms: Arc<dyn Sms>,
    /// E-mail for critical alerts and escalations (`FOUNDER_EMAIL` and `LSN_ALERT_EMAIL_TO`).
    pub email_to: Vec<String>,
    /// SMS for critical alerts and escalations (`LSN_ALERT_SMS_TO`).
    pub sms_to: Vec<String>,
    /// The shop's admin, linked from every notification.
    pub admin_url: String,
    /// An unacknowledged critical alert is escalated after this many minutes.
    pub escalate_after_mins: i64,
}

/// An alert as the admin and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub id: String,
    pub alert_type: String,
    pub group_key: String,
    pub severity: String,
    pub title: String,
    pub detail: String,
    pub status: String,
    pub occurrences: i64,
    pub first_at: i64,
    pub last_at: i64,
    pub notified_at: Option<i64>,
    pub notifications: i64,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub escalated_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub incident_id: Option<String>,
    pub incident_priority: String,
}

const ALERT_COLUMNS: &str = "id, alert_type, group_key, severity, title, detail, status, occurrences, first_at, last_at, notified_at, \
     notifications, acknowledged_at, acknowledged_by, escalated_at, resolved_at, incident_id, incident_priority";

fn alert_row(r: &lsn_db::Row) -> Result<Alert, lsn_db::Error> {
    Ok(Alert {
        id: r.try_get(0)?,
        alert_type: r.try_get(1)?,
        group_key: r.try_get(2)?,
        severity: r.try_get(3)?,
        title: r.try_get(4)?,
        detail: r.try_get(5)?,
        status: r.try_get(6)?,
        occurrences: r.try_get(7)?,
        first_at: r.try_get(8)?,
        last_at: r.try_get(9)?,
        notified_at: r.try_get(10)?,
        notifications: r.try_get(11)?,
        acknowledged_at: r.try_get(12)?,
        acknowledged_by: r.try_get(13)?,
        escalated_at: r.try_get(14)?,
        resolved_at: r.try_get(15)?,
        incident_id: r.try_get(16)?,
        incident_priority: r.try_get(17)?,
    })
}

/// The alerts, firing first, newest first; `status` filters (`firing`, `resolved`).
pub async fn list(db: &Db, status: Option<&str>, limit: i64) -> Result<Vec<Alert>, lsn_db::Error> {
    lsn_db::query(&format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE ($1 = '' OR status = $1) ORDER BY CASE WHEN status = 'firing' THEN 0 ELSE 1 END, last_at DESC, id LIMIT $2"
    ))
    .bind(status.unwrap_or(""))
    .bind(limit)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(alert_row)
    .collect()
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Alert>, lsn_db::Error> {
    lsn_db::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?
        .as_ref()
        .map(alert_row)
        .transpose()
}

/// A person has seen a firing alert: it is no longer escalated. `false`: no firing alert `id`.
pub async fn acknowledge(db: &Db, now: i64, id: &str, who: &str) -> Result<bool, lsn_db::Error> {
    let r = lsn_db::query(
        "UPDATE alerts SET acknowledged_at = $1, acknowledged_by = $2 WHERE id = $3 AND status = 'firing' AND acknowledged_at IS NULL",
    )
    .bind(now)
    .bind(who)
    .bind(id)
    .execute(db.write())
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A person closes a firing alert by hand. `false`: no firing alert `id`.
pub async fn resolve(db: &Db, now: i64, id: &str) -> Result<bool, lsn_db::Error> {
    let r = lsn_db::query("UPDATE alerts SET status = 'resolved', resolved_at = $1 WHERE id = $2 AND status = 'firing'")
        .bind(now)
        .bind(id)
        .execute(db.write())
        .await?;
    Ok(r.rows_affected() == 1)
}

/// A silence as listed.
#[derive(Debug, Clone, Serialize)]
pub struct Silence {
    pub id: String,
    pub alert_type: String,
    pub group: Option<String>,
    pub until_at: i64,
    pub reason: String,
    pub created_by: String,
    pub created_at: i64,
}

/// Silences `alert_type` (or one `group` of it) until `until_at`: its alerts are recorded and not
/// notified. The caller has checked the type exists.
pub async fn silence(
    db: &Db,
    now: i64,
    alert_type: &str,
    group: Option<&str>,
    until_at: i64,
    reason: &str,
    who: &str,
) -> Result<Silence, lsn_db::Error> {
    let s = Silence {
        id: lsn_core::ids::new_id(),
        alert_type: alert_type.to_string(),
        group: group.map(str::to_string),
        until_at,
        reason: reason.to_string(),
        created_by: who.to_string(),
        created_at: now,
    };
    lsn_db::query("INSERT INTO alert_silences (id, alert_type, group_key, until_at, reason, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&s.id)
        .bind(&s.alert_type)
        .bind(&s.group)
        .bind(s.until_at)
        .bind(&s.reason)
        .bind(&s.created_by)
        .bind(s.created_at)
        .execute(db.write())
        .await?;
    Ok(s)
}

/// Ends a silence now. `false`: no active silence `id`.
pub async fn unsilence(db: &Db, now: i64, id: &str) -> Result<bool, lsn_db::Error> {
    let r = lsn_db::query("UPDATE alert_silences SET until_at = $1 WHERE id = $2 AND until_at > $1")
        .bind(now)
        .bind(id)
        .execute(db.write())
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The silences still in force.
pub async fn silences(db: &Db, now: i64) -> Result<Vec<Silence>, lsn_db::Error> {
    lsn_db::query("SELECT id, alert_type, group_key, until_at, reason, created_by, created_at FROM alert_silences WHERE until_at > $1 ORDER BY until_at")
        .bind(now)
        .fetch_all(db.read())
        .await?
        .iter()
        .map(|r| {
            Ok(Silence {
                id: r.try_get(0)?,
                alert_type: r.try_get(1)?,
                group: r.try_get(2)?,
                until_at: r.try_get(3)?,
                reason: r.try_get(4)?,
                created_by: r.try_get(5)?,
                created_at: r.try_get(6)?,
            })
        })
        .collect()
}

/// One notification on one channel, as the admin lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: String,
    pub alert_id: Option<String>,
    pub channel: String,
    pub target: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub escalation: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The newest deliveries, of one alert or all.
pub async fn deliveries(db: &Db, alert_id: Option<&str>, limit: i64) -> Result<Vec<Delivery>, lsn_db::Error> {
    lsn_db::query(
        "SELECT id, alert_id, channel, target, status, attempts, last_error, escalation, created_at, updated_at FROM alert_deliveries \
         WHERE ($1 = '' OR alert_id = $1) ORDER BY created_at DESC, id LIMIT $2",
    )
    .bind(alert_id.unwrap_or(""))
    .bind(limit)
    .fetch_all(db.read())
    .await?
    .iter()
    .map(|r| {
        Ok(Delivery {
            id: r.try_get(0)?,
            alert_id: r.try_get(1)?,
            channel: r.try_get(2)?,
            target: r.try_get(3)?,
            status: r.try_get(4)?,
            attempts: r.try_get(5)?,
            last_error: r.try_get(6)?,
            escalation: r.try_get::<i64, _>(7)? == 1,
            created_at: r.try_get(8)?,
            updated_at: r.try_get(9)?,
        })
    })
    .collect()
}

/// Records a delivery and queues its job in `tx`; the id is derived from what it delivers, so a
/// retried fan-out records and queues each one once.
#[expect(clippy::too_many_arguments, reason = "one row's columns, bound in order")]
async fn queue_delivery(
    tx: &mut Tx,
    now: i64,
    id: &str,
    alert_id: Option<&str>,
    channel: &str,
    target: &str,
    escalation: bool,
    payload: Value,
) -> Result<bool, lsn_db::Error> {
    let new = lsn_db::query(
        "INSERT INTO alert_deliveries (id, alert_id, channel, target, status, attempts, escalation, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $6) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(alert_id)
    .bind(channel)
    .bind(target)
    .bind(i64::from(escalation))
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if new && channel != "in_app" && channel != "email" {
        let mut p = payload;
        p["delivery_id"] = json!(id);
        p["channel"] = json!(channel);
        p["target"] = json!(target);
        enqueue(&mut **tx, &NewJob::new(DELIVER_JOB, p).max_attempts(8).priority(20).dedupe(format!("deliver:{id}")), now).await?;
    }
    Ok(new)
}

/// The text of an alert's notification (in the shop's default language).
fn notification_text(a: &Alert, escalation: bool, admin_url: &str) -> (String, String) {
    let sev = Severity::parse(&a.severity).unwrap_or(Severity::Warning);
    let head = if escalation {
        t_args("alert-escalated", &[("title", &a.title)])
    } else {
        t_args("alert-notification", &[("severity", &t(&format!("alert-severity-{}", sev.as_str()))), ("title", &a.title)])
    };
    let more = t_args("alert-occurrences", &[("count", &a.occurrences.to_string()), ("link", &format!("{admin_url}/admin/alerts"))]);
    (format!("{} {head}", sev.emoji()), if a.detail.is_empty() { more } else { format!("{}\n{more}", a.detail) })
}

fn slack_message(head: &str, body: &str) -> SlackMessage {
    SlackMessage {
        text: format!("{head}\n{body}"),
        blocks: vec![
            json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*{}*", slack_escape(head))}}),
            json!({"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(body)}}),
        ],
    }
}

/// Slack's three control characters in mrkdwn.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `alert.notify`: fans one claimed notification (or an escalation) out to the channels, and
/// opens the incident of a critical alert.
pub struct NotifyJob {
    pub channels: Channels,
}

#[async_trait::async_trait]
impl JobHandler for NotifyJob {
    async fn run(&self, ctx: &JobContext, payload: &Value) -> Result<(), JobError> {
        let id = payload["alert_id"].as_str().ok_or_else(|| JobError::Fail("no alert_id".into()))?.to_string();
        let seq = payload["seq"].as_i64().unwrap_or(0);
        let escalation = payload["escalation"].as_bool().unwrap_or(false);
        let Some(a) = get(&ctx.db, &id).await? else { return Err(JobError::Fail(format!("no alert {id}"))) };
        let now = ctx.clock.now_ms();
        let critical = a.severity == Severity::Critical.as_str();
        let ch = self.channels.clone();
        let (head, body) = notification_text(&a, escalation, &ch.admin_url);
        let a2 = a.clone();
        let tag = if escalation { "esc" } else { "n" };
        let sent = ctx
            .db
            .transaction(move |tx| {
                let (a, ch, head, body) = (a2.clone(), ch.clone(), head.clone(), body.clone());
                Box::pin(async move {
                    let base = format!("{}:{tag}{seq}", a.id);
                    let mut n = 0;
                    if !escalation {
                        // The admin's list is the in-app notification itself; the row says so.
                        n += i64::from(
                            queue_delivery(tx, now, &format!("{base}:in_app"), Some(&a.id), "in_app", "admin", false, Value::Null).await?,
                        );
                        let msg = slack_message(&head, &body);
                        n += i64::from(
                            queue_delivery(
                                tx,
                                now,
                                &format!("{base}:slack"),
                                Some(&a.id),
                                "slack",
                                "webhook",
                                false,
                                json!({"slack": msg}),
                            )
                            .await?,
                        );
                    }
                    if critical || escalation {
                        for to in &ch.email_to {
                            let did = format!("{base}:email:{to}");
                            if queue_delivery(tx, now, &did, Some(&a.id), "email", to, escalation, Value::Null).await? {
                                n += 1;
                                let msg = lsn_mail::Message {
                                    to: to.clone(),
                                    subject: head.clone(),
                                    text: body.clone(),
                                    html: None,
                                    tag: Some("alert".into()),
                                    message_id: Some(did.clone()),
                                    attachments: Vec::new(),
                                };
                                queue_mail(tx, now, msg).await?;
                                lsn_db::query("UPDATE alert_deliveries SET status = 'handed_to_mail' WHERE id = $1")
                                    .bind(&did)
                                    .execute(&mut **tx)
                                    .await?;
                            }
                        }
                        let text = format!("{head} — {}", a.detail.chars().take(300).collect::<String>());
                        for to in &ch.sms_to {
                            n += i64::from(
                                queue_delivery(
                                    tx,
                                    now,
                                    &format!("{base}:sms:{to}"),
                                    Some(&a.id),
                                    "sms",
                                    to,
                                    escalation,
                                    json!({"sms": text}),
                                )
                                .await?,
                            );
                        }
                    }
                    if critical && !escalation {
                        crate::incidents::open_for_alert(tx, now, &a).await?;
                    }
                    lsn_db::query("UPDATE alert_deliveries SET status = 'delivered' WHERE id = $1 AND status = 'queued'")
                        .bind(format!("{base}:in_app"))
                        .execute(&mut **tx)
                        .await?;
                    Ok::<_, lsn_db::Error>(n)
                })
            })
            .await?;
        ctx.report(format!("{sent} deliveries queued for {}", a.group_key));
        Ok(())
    }
}

/// `alert.deliver`: one message on one channel (Slack, SMS), with its attempts recorded; the
/// job's retries are the backoff (a provider's `Retry-After` is honoured).
pub struct DeliverJob {
    pub channels: Channels,
}

#[async_trait::async_trait]
impl JobHandler for DeliverJob {
    async fn run(&self, ctx: &JobContext, payload: &Value) -> Result<(), JobError> {
        let id = payload["delivery_id"].as_str().ok_or_else(|| JobError::Fail("no delivery_id".into()))?;
        let result = match payload["channel"].as_str() {
            Some("slack") => {
                let msg: SlackMessage =
                    serde_json::from_value(payload["slack"].clone()).map_err(|e| JobError::Fail(format!("bad Slack payload: {e}")))?;
                self.channels.slack.post(id, &msg).await.map(|_| None)
            }
            Some("sms") => {
                let to = payload["target"].as_str().unwrap_or_default();
                self.channels.sms.send(id, to, payload["sms"].as_str().unwrap_or_default()).await
            }
            other => return Err(JobError::Fail(format!("unknown channel {other:?}"))),
        };
        let now = ctx.clock.now_ms();
        let (status, error, outcome) = match result {
            Ok(_) => ("delivered", None, Ok(())),
            Err(e) => {
                let msg = e.to_string();
                let last = ctx.attempt >= 8;
                let outcome = match e {
                    SendError::Transient(m) => Err(JobError::Retry(m)),
                    SendError::RetryAfter { secs, reason } => Err(JobError::RetryAfter { after_ms: secs as i64 * 1000, reason }),
                    SendError::Permanent(m) => Err(JobError::Fail(m)),
                };
                let permanent = matches!(outcome, Err(JobError::Fail(_)));
                (if permanent || last { "failed" } else { "retrying" }, Some(msg), outcome)
            }
        };
        lsn_db::query("UPDATE alert_deliveries SET status = $1, attempts = $2, last_error = $3, updated_at = $4 WHERE id = $5")
            .bind(status)
            .bind(ctx.attempt)
            .bind(&error)
            .bind(now)
            .bind(id)
            .execute(ctx.db.write())
            .await?;
        if outcome.is_ok() {
            ctx.report(format!("{} via {}", payload["channel"].as_str().unwrap_or_default(), self.channel_name(payload)));
        }
        outcome
    }
}

impl DeliverJob {
    fn channel_name(&self, payload: &Value) -> &'static str {
        if payload["channel"] == "slack" {
            self.channels.slack.name()
        } else {
            self.channels.sms.name()
        }
    }
}

/// `alert.escalate` (every minute, a safety job): a critical alert nobody acknowledged within
/// the escalation time goes to e-mail and SMS again, marked as an escalation, once.
pub struct EscalateJob {
    pub escalate_after_mins: i64,
}

#[async_trait::async_trait]
impl JobHandler for EscalateJob {
    async fn run(&self, ctx: &JobContext, _payload: &Value) -> Result<(), JobError> {
        let now = ctx.clock.now_ms();
        let before = now - self.escalate_after_mins.max(1) * 60_000;
        let due = lsn_db::query(
            "SELECT id, notifications FROM alerts WHERE status = 'firing' AND severity = 'critical' AND acknowledged_at IS NULL \
             AND escalated_at IS NULL AND notified_at IS NOT NULL AND notified_at <= $1 LIMIT 100",
        )
        .bind(before)
        .fetch_all(ctx.db.read())
        .await?;
        let mut escalated = 0;
        for r in &due {
            let id: String = r.try_get(0)?;
            let seq: i64 = r.try_get(1)?;
            let id2 = id.clone();
            let done = ctx
                .db
                .transaction(move |tx| {
                    let id = id2.clone();
                    Box::pin(async move {
                        let claimed = lsn_db::query(
                            "UPDATE alerts SET escalated_at = $1 WHERE id = $2 AND escalated_at IS NULL AND acknowledged_at IS NULL",
                        )
                        .bind(now)
                        .bind(&id)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected()
                            == 1;
                        if claimed {
                            let job = NewJob::new(NOTIFY_JOB, json!({"alert_id": id, "seq": seq, "escalation": true}))
                                .priority(20)
                                .dedupe(format!("alert:{id}:esc{seq}"));
                            enqueue(&mut **tx, &job, now).await?;
                        }
                        Ok::<_, lsn_db::Error>(claimed)
                    })
                })
                .await?;
            escalated += i64::from(done);
        }
        ctx.report(format!("{escalated} alerts escalated"));
        Ok(())
    }
}

/// Queues a Slack message that belongs to no alert (the runbook's `system.sendSlackAlert` test):
/// recorded as a delivery and posted by a job, as every alert is. Returns the delivery's id.
pub async fn queue_slack(db: &Db, now: i64, severity: Severity, message: &str) -> Result<String, lsn_db::Error> {
    let id = lsn_core::ids::new_id();
    let head = format!("{} {}", severity.emoji(), t(&format!("alert-severity-{}", severity.as_str())));
    let msg = slack_message(&head, message);
    let did = id.clone();
    db.transaction(move |tx| {
        let (did, msg) = (did.clone(), msg.clone());
        Box::pin(async move { queue_delivery(tx, now, &did, None, "slack", "webhook", false, json!({"slack": msg})).await })
    })
    .await?;
    Ok(id)
}

/// The monitoring and alerting part of the operations layer: the thresholds' evaluation every
/// minute, the notification and delivery jobs, escalation, the kernel's metric sources and the
/// alert types they raise. Safety jobs: they run whatever `ENABLE_AUTONOMOUS` says.
pub fn module(db: &Db, channels: Channels, sources: crate::monitor::Sources) -> crate::Module {
    use crate::monitor::{self, EvaluateJob, NodeSource};
    let mut m = crate::Module::new("monitoring")
        .job(monitor::EVALUATE_JOB, Arc::new(EvaluateJob { sources }))
        .job(NOTIFY_JOB, Arc::new(NotifyJob { channels: channels.clone() }))
        .job(DELIVER_JOB, Arc::new(DeliverJob { channels: channels.clone() }))
        .job(ESCALATE_JOB, Arc::new(EscalateJob { escalate_after_mins: channels.escalate_after_mins }))
        // Every raise that claims a notification queues one; its fan-out queues the deliveries.
        .enqueues(&[NOTIFY_JOB, DELIVER_JOB])
        .schedule(crate::Schedule {
            name: "monitoring",
            cron: "0 * * * * *",
            job_kind: monitor::EVALUATE_JOB,
            payload: json!({}),
            description: "Measure the monitoring thresholds (error rate, p95, database connections, memory, CPU, failed payments, fraud) and raise or resolve their alerts (every minute)",
            autonomous: false,
        })
        .schedule(crate::Schedule {
            name: "alert_escalation",
            cron: "30 * * * * *",
            job_kind: ESCALATE_JOB,
            payload: json!({}),
            description: "Escalate critical alerts nobody acknowledged to e-mail and SMS (every minute)",
            autonomous: false,
        })
        .alert_type(monitor::SYSTEM_ERROR)
        .alert_type(monitor::SLOW_RESPONSES)
        .alert_type(monitor::DATABASE_CONNECTIONS)
        .alert_type(monitor::SYSTEM_RESOURCES);
    for src in NodeSource::all(db) {
        m = m.metric_source(src);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_carry_the_runbooks_response_times() {
        assert_eq!(Priority::P0.response_ms(), 0);
        assert_eq!(Priority::P1.response_ms(), 3_600_000);
        assert_eq!(Priority::P2.response_ms(), 14_400_000);
        assert_eq!(Priority::P3.response_ms(), 86_400_000);
        assert_eq!(Priority::parse("P2"), Some(Priority::P2));
        assert_eq!(Priority::parse("P4"), None);
    }

    #[test]
    fn slack_text_is_escaped() {
        let m = slack_message("a <b>", "x & y");
        assert_eq!(m.blocks[0]["text"]["text"], "*a &lt;b&gt;*");
        assert_eq!(m.blocks[1]["text"]["text"], "x &amp; y");
        assert_eq!(m.text, "a <b>\nx & y", "the fallback text is plain");
    }
}
