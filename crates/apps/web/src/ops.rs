//! The operations layer's JSON API and the runbook's `system.*` procedures of it: thresholds,
//! alerts and silences, deliveries and the providers' sandbox, incidents, tasks, and the test
//! messages (`system.sendSlackAlert`, `system.sendTestEmail`). Staff only (the route table and
//! `trpc::PROCEDURES` say so); each handler also checks.

use crate::app::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lsn_core::i18n::t;
use lsn_core::problem::{JsonBody, QueryArgs};
use lsn_core::ApiError;
use lsn_identity::AuthUser;
use lsn_ops::codes::{Code, OpsError};
use lsn_ops::monitor::Level;
use serde::Deserialize;
use serde_json::{json, Value};

type ApiResult<T> = Result<T, ApiError>;

/// The runbook's "API rate limit warnings": callers refused with 429 on a route.
pub const API_RATE_LIMIT: lsn_ops::AlertType = lsn_ops::AlertType {
    name: "api_rate_limit",
    description: "Callers are being refused by a rate limit (HTTP 429) on a route",
    cooldown_secs: 30 * 60,
    incident: lsn_ops::Priority::P3,
};

/// Raises `api_rate_limit` for `route`, at most once a minute per route from this node (a flood
/// of refusals must not become a flood of writes; the database groups the nodes' raises).
pub fn rate_limited(s: &AppState, route: &str) {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static LAST: OnceLock<Mutex<HashMap<String, i64>>> = OnceLock::new();
    let now = s.clock.now_ms();
    {
        let mut last = LAST.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
        if last.get(route).is_some_and(|t| now - t < 60_000) {
            return;
        }
        if last.len() > 10_000 {
            last.clear();
        }
        last.insert(route.to_string(), now);
    }
    let (db, route) = (s.db.clone(), route.chars().take(200).collect::<String>());
    tokio::spawn(async move {
        let title = lsn_core::i18n::t_args("alert-rate-limit-title", &[("route", &route)]);
        if let Err(e) = lsn_ops::alerts::raise_now(&db, now, &API_RATE_LIMIT, &route, lsn_ops::Severity::Warning, &title, "").await {
            tracing::warn!("raising the rate-limit alert: {e}");
        }
    });
}

/// `system.updateAlertThreshold` and `PUT /api/v1/admin/thresholds/{metric}`: `{metric, warning,
/// critical}`; an absent level is kept, `null` turns it off.
pub async fn update_threshold(s: &AppState, metric: &str, input: &Value, who: &str) -> ApiResult<Value> {
    if !input.is_object() && !input.is_null() {
        return Err(OpsError::rule(Code::InvalidThreshold, t("ops-threshold-number")).into());
    }
    let warning = Level::from_json(input.get("warning"), "warning")?;
    let critical = Level::from_json(input.get("critical"), "critical")?;
    let th = lsn_ops::monitor::update(&s.db, s.clock.now_ms(), metric, warning, critical, who).await?;
    Ok(json!(th))
}

/// `system.sendSlackAlert`: `{message, severity}` (severity `info`, `warning` or `critical`;
/// `info` when absent). Queued: the answer does not wait for Slack.
pub async fn send_slack_alert(s: &AppState, input: &Value) -> ApiResult<Value> {
    let message = input["message"].as_str().map(str::trim).unwrap_or_default();
    if message.is_empty() || message.chars().count() > 3000 {
        return Err(OpsError::field(Code::InvalidMessage, "message", t("ops-invalid-message")).into());
    }
    let severity = match &input["severity"] {
        Value::Null => lsn_ops::Severity::Info,
        v => v
            .as_str()
            .and_then(lsn_ops::Severity::parse)
            .ok_or_else(|| OpsError::field(Code::InvalidSeverity, "severity", t("ops-invalid-severity")))?,
    };
    let id = lsn_ops::alerts::queue_slack(&s.db, s.clock.now_ms(), severity, message).await.map_err(ApiError::internal)?;
    let sandbox = s.cfg.provider("SLACK_WEBHOOK_URL").is_none();
    Ok(json!({"queued": true, "delivery_id": id, "sandbox": sandbox}))
}

/// `system.sendTestEmail`: `{to, subject, body}`, through the mail job like every e-mail.
pub async fn send_test_email(s: &AppState, input: &Value) -> ApiResult<Value> {
    let to = input["to"].as_str().unwrap_or_default();
    let to = lsn_core::Email::parse(to).map_err(|_| OpsError::field(Code::InvalidRecipient, "to", t("ops-invalid-recipient")))?.to_string();
    let subject = input["subject"].as_str().map(str::trim).unwrap_or_default().to_string();
    let body = input["body"].as_str().map(str::trim).unwrap_or_default().to_string();
    if subject.is_empty() || subject.chars().count() > 200 || subject.contains(['\r', '\n']) {
        return Err(OpsError::field(Code::InvalidMessage, "subject", t("ops-invalid-subject")).into());
    }
    if body.is_empty() || body.chars().count() > 10_000 {
        return Err(OpsError::field(Code::InvalidMessage, "body", t("ops-invalid-message")).into());
    }
    let now = s.clock.now_ms();
    let msg = lsn_mail::Message {
        to: to.clone(),
        subject,
        text: body,
        html: None,
        tag: Some("test".into()),
        message_id: None,
        attachments: Vec::new(),
    };
    let id =
        s.db.transaction(move |tx| {
            let msg = msg.clone();
            Box::pin(async move { lsn_ops::builtin::queue_mail(tx, now, msg).await })
        })
        .await
        .map_err(ApiError::internal)?;
    Ok(json!({"queued": true, "message_id": id, "to": to, "transport": transport_name(s)}))
}

fn transport_name(s: &AppState) -> &'static str {
    match s.cfg.mail {
        lsn_core::config::MailTransport::Mailbox => "mailbox",
        lsn_core::config::MailTransport::Smtp { .. } => "smtp",
        lsn_core::config::MailTransport::SendGrid { .. } => "sendgrid",
    }
}

/// A staff member to give an incident or task to (by id or e-mail), and how to name them.
pub async fn staff_member(s: &AppState, who: &str) -> ApiResult<(String, String)> {
    let who = who.trim();
    let user = if who.contains('@') { s.identity.user_by_email(who).await? } else { s.identity.user_by_id(who).await? };
    match user {
        Some(u) if u.role.is_staff() => Ok((u.id.to_string(), u.email.clone().unwrap_or_else(|| u.name.clone()))),
        _ => Err(OpsError::field(Code::UnknownOwner, "owner", t("ops-unknown-owner")).into()),
    }
}

fn label(user: &AuthUser) -> String {
    user.actor().label
}

// ----------------------------------------------------------------------------- REST handlers

pub async fn thresholds(State(s): State<AppState>, user: AuthUser) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    Ok(Json(json!({"thresholds": lsn_ops::monitor::thresholds(&s.db).await.map_err(ApiError::internal)?})))
}

pub async fn put_threshold(
    State(s): State<AppState>,
    user: AuthUser,
    Path(metric): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    Ok(Json(json!({"threshold": update_threshold(&s, &metric, &b, &label(&user)).await?})))
}

#[derive(Deserialize)]
pub struct AlertArgs {
    status: Option<String>,
    limit: Option<i64>,
}

pub async fn alerts(State(s): State<AppState>, user: AuthUser, QueryArgs(q): QueryArgs<AlertArgs>) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    let status = q.status.filter(|v| v == "firing" || v == "resolved");
    let list = lsn_ops::alerts::list(&s.db, status.as_deref(), q.limit.unwrap_or(100).clamp(1, 500)).await.map_err(ApiError::internal)?;
    let silences = lsn_ops::alerts::silences(&s.db, s.clock.now_ms()).await.map_err(ApiError::internal)?;
    let types: Vec<Value> = s
        .folded()
        .alert_types
        .iter()
        .map(|t| json!({"name": t.name, "description": t.description, "incident": t.incident.as_str()}))
        .collect();
    Ok(Json(json!({"alerts": list, "silences": silences, "types": types})))
}

pub async fn acknowledge(State(s): State<AppState>, user: AuthUser, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    alert_change(&s, &id, lsn_ops::alerts::acknowledge(&s.db, s.clock.now_ms(), &id, &label(&user)).await).await
}

pub async fn resolve_alert(State(s): State<AppState>, user: AuthUser, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    alert_change(&s, &id, lsn_ops::alerts::resolve(&s.db, s.clock.now_ms(), &id).await).await
}

async fn alert_change(s: &AppState, id: &str, changed: Result<bool, lsn_db::Error>) -> ApiResult<Json<Value>> {
    let changed = changed.map_err(ApiError::internal)?;
    let alert = lsn_ops::alerts::get(&s.db, id).await.map_err(ApiError::internal)?.ok_or_else(ApiError::not_found)?;
    if !changed {
        return Err(OpsError::rule(Code::AlertNotFiring, t("ops-alert-not-firing")).into());
    }
    Ok(Json(json!({"alert": alert})))
}

/// Checks a silence's input: a defined type, 1 minute to 30 days, a reason.
pub fn silence_input(s: &AppState, alert_type: &str, minutes: i64, reason: &str) -> Result<(), OpsError> {
    if !s.folded().alert_types.iter().any(|t| t.name == alert_type) {
        return Err(OpsError::field(Code::UnknownAlertType, "alert_type", t("ops-unknown-alert-type")));
    }
    if !(1..=30 * 24 * 60).contains(&minutes) {
        return Err(OpsError::field(Code::InvalidSilence, "minutes", t("ops-invalid-silence")));
    }
    if reason.trim().is_empty() || reason.chars().count() > 500 {
        return Err(OpsError::field(Code::InvalidSilence, "reason", t("ops-invalid-silence-reason")));
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct SilenceBody {
    alert_type: String,
    group: Option<String>,
    minutes: i64,
    reason: String,
}

pub async fn add_silence(State(s): State<AppState>, user: AuthUser, JsonBody(b): JsonBody<SilenceBody>) -> ApiResult<Response> {
    user.require_staff()?;
    silence_input(&s, &b.alert_type, b.minutes, &b.reason)?;
    let now = s.clock.now_ms();
    let group = b.group.as_deref().map(str::trim).filter(|g| !g.is_empty());
    let sil = lsn_ops::alerts::silence(&s.db, now, &b.alert_type, group, now + b.minutes * 60_000, b.reason.trim(), &label(&user))
        .await
        .map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(json!({"silence": sil}))).into_response())
}

pub async fn end_silence(State(s): State<AppState>, user: AuthUser, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    if !lsn_ops::alerts::unsilence(&s.db, s.clock.now_ms(), &id).await.map_err(ApiError::internal)? {
        return Err(ApiError::not_found());
    }
    Ok(Json(json!({"ended": id})))
}

pub async fn deliveries(State(s): State<AppState>, user: AuthUser) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    let d = lsn_ops::alerts::deliveries(&s.db, None, 200).await.map_err(ApiError::internal)?;
    let sandbox = lsn_notify::list_sandbox(&s.db, None, 200).await.map_err(ApiError::internal)?;
    Ok(Json(json!({"deliveries": d, "sandbox": sandbox})))
}

pub async fn incidents(State(s): State<AppState>, user: AuthUser) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    Ok(Json(json!({"incidents": lsn_ops::incidents::list(&s.db, 200).await.map_err(ApiError::internal)?})))
}

#[derive(Deserialize)]
pub struct NewIncident {
    title: String,
    severity: String,
}

pub async fn open_incident(State(s): State<AppState>, user: AuthUser, JsonBody(b): JsonBody<NewIncident>) -> ApiResult<Response> {
    user.require_staff()?;
    let i = lsn_ops::incidents::open(&s.db, s.clock.now_ms(), &b.title, &b.severity, &label(&user)).await?;
    Ok((StatusCode::CREATED, Json(json!({"incident": i}))).into_response())
}

pub async fn incident(State(s): State<AppState>, user: AuthUser, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    let i = lsn_ops::incidents::get(&s.db, &id).await.map_err(ApiError::internal)?.ok_or_else(ApiError::not_found)?;
    let timeline = lsn_ops::incidents::timeline(&s.db, &id).await.map_err(ApiError::internal)?;
    Ok(Json(json!({"incident": i, "timeline": timeline})))
}

/// The one field of an incident or task change's body.
fn text_field<'a>(b: &'a Value, name: &'static str) -> Result<&'a str, OpsError> {
    b[name]
        .as_str()
        .ok_or_else(|| OpsError::field(Code::InvalidNote, name, lsn_core::i18n::t_args("ops-invalid-text", &[("max", "20000")])))
}

pub async fn assign_incident(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    let (owner, name) = staff_member(&s, b["owner"].as_str().unwrap_or_default()).await?;
    Ok(Json(json!({"incident": lsn_ops::incidents::assign(&s.db, s.clock.now_ms(), &id, &owner, &name, &label(&user)).await?})))
}

pub async fn incident_note(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    Ok(Json(json!({"incident": lsn_ops::incidents::note(&s.db, s.clock.now_ms(), &id, text_field(&b, "note")?, &label(&user)).await?})))
}

pub async fn resolve_incident(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    Ok(Json(
        json!({"incident": lsn_ops::incidents::resolve(&s.db, s.clock.now_ms(), &id, text_field(&b, "resolution")?, &label(&user)).await?}),
    ))
}

pub async fn postmortem(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    Ok(Json(
        json!({"incident": lsn_ops::incidents::postmortem(&s.db, s.clock.now_ms(), &id, text_field(&b, "postmortem")?, &label(&user)).await?}),
    ))
}

pub async fn assign_task(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    let assignee = match b["assignee"].as_str() {
        Some(who) if !who.trim().is_empty() => Some(staff_member(&s, who).await?.0),
        _ => None,
    };
    Ok(Json(json!({"task": lsn_ops::tasks::assign(&s.db, &id, assignee.as_deref()).await?})))
}

pub async fn task_done(State(s): State<AppState>, user: AuthUser, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    Ok(Json(json!({"task": lsn_ops::tasks::close(&s.db, s.clock.now_ms(), &id, lsn_ops::tasks::Close::Done, &label(&user)).await?})))
}

pub async fn task_dismiss(State(s): State<AppState>, user: AuthUser, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    Ok(Json(json!({"task": lsn_ops::tasks::close(&s.db, s.clock.now_ms(), &id, lsn_ops::tasks::Close::Dismissed, &label(&user)).await?})))
}

pub async fn trpc_send_slack(State(s): State<AppState>, user: AuthUser, JsonBody(b): JsonBody<Value>) -> ApiResult<Response> {
    user.require_staff()?;
    Ok((StatusCode::ACCEPTED, Json(send_slack_alert(&s, &b).await?)).into_response())
}

pub async fn test_email(State(s): State<AppState>, user: AuthUser, JsonBody(b): JsonBody<Value>) -> ApiResult<Response> {
    user.require_staff()?;
    Ok((StatusCode::ACCEPTED, Json(send_test_email(&s, &b).await?)).into_response())
}

/// The OpenAPI description of the routes above.
pub fn fragment() -> Value {
    use lsn_core::openapi::{obj, op, path_id, query, Who};
    let none = json!([]);
    let id = json!([path_id("id")]);
    let body = |props: Value| Some(json!({"type": "object", "properties": props}));
    let text = |name: &str| body(json!({ name: {"type": "string"} }));
    json!({"paths": {
        "/api/v1/admin/thresholds": {"get": op("Monitoring thresholds with their last readings", "operations", 200, obj(), &[401, 403], None, none.clone(), Who::Staff)},
        "/api/v1/admin/thresholds/{metric}": {"put": op("Change a threshold's levels (absent: kept; null: off)", "operations", 200, obj(), &[400, 401, 403], body(json!({"warning": {"type": ["number", "null"]}, "critical": {"type": ["number", "null"]}})), json!([path_id("metric")]), Who::Staff)},
        "/api/v1/admin/alerts": {"get": op("Alerts (firing first), silences in force and the alert types", "operations", 200, obj(), &[401, 403], None, json!([query("status", json!({"type": "string", "enum": ["firing", "resolved"]})), query("limit", json!({"type": "integer"}))]), Who::Staff)},
        "/api/v1/admin/alerts/{id}/acknowledge": {"post": op("Acknowledge a firing alert (stops its escalation)", "operations", 200, obj(), &[401, 403, 404, 409], None, id.clone(), Who::Staff)},
        "/api/v1/admin/alerts/{id}/resolve": {"post": op("Resolve a firing alert", "operations", 200, obj(), &[401, 403, 404, 409], None, id.clone(), Who::Staff)},
        "/api/v1/admin/alerts/silences": {"post": op("Silence an alert type (or one group of it) for some minutes", "operations", 201, obj(), &[400, 401, 403], body(json!({"alert_type": {"type": "string"}, "group": {"type": "string"}, "minutes": {"type": "integer"}, "reason": {"type": "string"}})), none.clone(), Who::Staff)},
        "/api/v1/admin/alerts/silences/{id}": {"delete": op("End a silence", "operations", 200, obj(), &[401, 403, 404], None, id.clone(), Who::Staff)},
        "/api/v1/admin/alerts/deliveries": {"get": op("Alert deliveries and the providers' sandbox record", "operations", 200, obj(), &[401, 403], None, none.clone(), Who::Staff)},
        "/api/v1/admin/alerts/test/slack": {"post": op("Queue a test Slack message (as system.sendSlackAlert)", "operations", 202, obj(), &[400, 401, 403], body(json!({"message": {"type": "string"}, "severity": {"type": "string", "enum": ["info", "warning", "critical"]}})), none.clone(), Who::Staff)},
        "/api/v1/admin/alerts/test/email": {"post": op("Queue a test e-mail (as system.sendTestEmail)", "operations", 202, obj(), &[400, 401, 403], body(json!({"to": {"type": "string"}, "subject": {"type": "string"}, "body": {"type": "string"}})), none.clone(), Who::Staff)},
        "/api/v1/admin/incidents": {
            "get": op("Incidents, open first", "operations", 200, obj(), &[401, 403], None, none.clone(), Who::Staff),
            "post": op("Open an incident by hand", "operations", 201, obj(), &[400, 401, 403], body(json!({"title": {"type": "string"}, "severity": {"type": "string", "enum": ["P0", "P1", "P2", "P3"]}})), none.clone(), Who::Staff)
        },
        "/api/v1/admin/incidents/{id}": {"get": op("An incident and its timeline", "operations", 200, obj(), &[401, 403, 404], None, id.clone(), Who::Staff)},
        "/api/v1/admin/incidents/{id}/assign": {"post": op("Give an incident to a staff member (id or e-mail)", "operations", 200, obj(), &[400, 401, 403, 404, 409], text("owner"), id.clone(), Who::Staff)},
        "/api/v1/admin/incidents/{id}/notes": {"post": op("Add a note to an incident's timeline", "operations", 200, obj(), &[400, 401, 403, 404], text("note"), id.clone(), Who::Staff)},
        "/api/v1/admin/incidents/{id}/resolve": {"post": op("Resolve an incident", "operations", 200, obj(), &[400, 401, 403, 404, 409], text("resolution"), id.clone(), Who::Staff)},
        "/api/v1/admin/incidents/{id}/postmortem": {"put": op("Write an incident's post-mortem", "operations", 200, obj(), &[400, 401, 403, 404], text("postmortem"), id.clone(), Who::Staff)},
        "/api/v1/admin/tasks/{id}/assign": {"post": op("Give a task to a staff member (id or e-mail; empty: nobody)", "operations", 200, obj(), &[400, 401, 403, 404, 409], text("assignee"), id.clone(), Who::Staff)},
        "/api/v1/admin/tasks/{id}/done": {"post": op("Mark a task done", "operations", 200, obj(), &[401, 403, 404, 409], None, id.clone(), Who::Staff)},
        "/api/v1/admin/tasks/{id}/dismiss": {"post": op("Dismiss a task", "operations", 200, obj(), &[401, 403, 404, 409], None, id, Who::Staff)}
    }})
}
