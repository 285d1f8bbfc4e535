//! The admin's operations pages: alerts (with acknowledge, resolve, silence), the providers'
//! sandbox and the deliveries; the monitoring thresholds (editable); incidents (open one, assign
//! an owner, add a note, resolve, write the post-mortem); tasks (assign to me, done, dismiss).

use super::{Ctx, PageError, PageResult};
use axum::extract::{Path, Query};
use axum::Form;
use lsn_core::i18n::{t, t_args};
use lsn_core::ApiError;
use lsn_identity::AuthUser;
use lsn_ui::table::{admin_notice, cell, link, when, AdminArgs, Cell, CellForm, Extra, Select, Table, TablePage};
use lsn_ui::{see_other, FormState};
use std::collections::HashMap;

fn staff(ctx: &Ctx) -> Result<&AuthUser, PageError> {
    lsn_identity::pages::staff(&ctx.user)
}

/// A row's control: a select of `(value, label)` actions and the apply button.
fn control(action: String, id: &str, options: Vec<(String, String)>) -> Cell {
    let selected = options.first().map(|o| o.0.clone()).unwrap_or_default();
    Cell {
        text: String::new(),
        form: Some(CellForm {
            action,
            hidden: Vec::new(),
            select: Some(Select { id: format!("ctl-{id}"), name: "action".into(), label: t("admin-task-action"), options, selected }),
            button: t("admin-apply"),
        }),
        ..Default::default()
    }
}

#[allow(clippy::too_many_arguments)]
async fn page(
    ctx: &Ctx,
    title: &str,
    active: &'static str,
    table: Table,
    extra: Option<Extra>,
    form: FormState,
    error: Option<String>,
    notice: Option<String>,
) -> PageResult {
    let status = if error.is_some() { lsn_ui::StatusCode::BAD_REQUEST } else { lsn_ui::StatusCode::OK };
    let page = TablePage {
        chrome: ctx.chrome(title, "admin", None).await,
        nav: ctx.nav(),
        active,
        error,
        notice,
        filter: None,
        extra,
        form,
        table,
    };
    Ok(ctx.render(status, &page))
}

/// A refusal of the operations layer as the page's error and its field's message.
fn refused(e: ApiError, form: &mut FormState) -> Result<String, PageError> {
    if e.status.is_server_error() {
        return Err(PageError::internal(e.message));
    }
    if let Some(fields) = e.fields.as_ref().and_then(|f| f.as_object()) {
        for (k, v) in fields {
            form.errors.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
        }
    }
    Ok(e.message)
}

// ----------------------------------------------------------------------------- alerts

pub async fn alerts(ctx: Ctx, Query(a): Query<AdminArgs>) -> PageResult {
    staff(&ctx)?;
    alerts_view(&ctx, FormState::default(), None, admin_notice(a.notice.as_deref())).await
}

async fn alerts_view(ctx: &Ctx, form: FormState, error: Option<String>, notice: Option<String>) -> PageResult {
    let db = &ctx.state.db;
    let now = ctx.state.clock.now_ms();
    let list = lsn_ops::alerts::list(db, None, 100).await.map_err(PageError::internal)?;
    let mut rows: Vec<Vec<Cell>> = list
        .iter()
        .map(|a| {
            let state = match (a.status.as_str(), a.acknowledged_by.as_deref()) {
                ("firing", Some(by)) => t_args("admin-alert-acknowledged", &[("by", by)]),
                (s, _) => t(&format!("admin-alert-{s}")),
            };
            let mut r = vec![
                cell(format!("{} · {}", t(&format!("alert-severity-{}", a.severity)), a.alert_type)),
                cell(if a.detail.is_empty() { a.title.clone() } else { format!("{} — {}", a.title, a.detail) }),
                cell(format!(
                    "{state} · {}",
                    t_args("admin-alert-count", &[("count", &a.occurrences.to_string()), ("sent", &a.notifications.to_string())])
                )),
                cell(when(ctx, a.last_at)),
            ];
            r.push(if a.status == "firing" {
                let mut opts = Vec::new();
                if a.acknowledged_at.is_none() {
                    opts.push(("acknowledge".into(), t("admin-alert-acknowledge")));
                }
                opts.push(("resolve".into(), t("admin-alert-resolve")));
                opts.push(("silence".into(), t("admin-alert-silence")));
                control(format!("/admin/alerts/{}/control", a.id), &a.id, opts)
            } else {
                cell(String::new())
            });
            r
        })
        .collect();
    for s in lsn_ops::alerts::silences(db, now).await.map_err(PageError::internal)? {
        rows.push(vec![
            cell(t_args("admin-silence", &[("type", &s.alert_type)])),
            cell(format!("{}{}", s.reason, s.group.map(|g| format!(" · {g}")).unwrap_or_default())),
            cell(s.created_by),
            cell(t_args("admin-silence-until", &[("when", &when(ctx, s.until_at))])),
            cell(String::new()),
        ]);
    }
    for d in lsn_ops::alerts::deliveries(db, None, 50).await.map_err(PageError::internal)? {
        rows.push(vec![
            cell(t_args("admin-delivery", &[("channel", &d.channel)])),
            cell(format!("{}{}", d.target, d.last_error.map(|e| format!(" · {e}")).unwrap_or_default())),
            cell(t_args("admin-delivery-status", &[("status", &d.status), ("attempts", &d.attempts.to_string())])),
            cell(when(ctx, d.updated_at)),
            cell(String::new()),
        ]);
    }
    for m in lsn_notify::list_sandbox(db, None, 50).await.map_err(PageError::internal)? {
        rows.push(vec![
            cell(t_args("admin-sandbox", &[("provider", &m.provider)])),
            cell(m.body),
            cell(m.target),
            cell(when(ctx, m.created_at)),
            cell(String::new()),
        ]);
    }
    let table = Table {
        key: "alerts",
        heading: t("admin-alerts-heading"),
        columns: vec!["admin-col-alert", "admin-col-what", "admin-col-outcome", "admin-col-when", ""],
        rows,
        empty: "admin-empty-alerts",
    };
    let extra = Extra {
        action: "/admin/alerts/silence".into(),
        heading: t("admin-silence-heading"),
        fields: vec![
            ("alert_type", t("admin-silence-type"), "text", form.value("alert_type").to_string()),
            ("minutes", t("admin-silence-minutes"), "number", form.value("minutes").to_string()),
            ("reason", t("admin-silence-reason"), "text", form.value("reason").to_string()),
        ],
        button: t("admin-silence-button"),
    };
    page(ctx, &t("admin-nav-alerts"), "/admin/alerts", table, Some(extra), form, error, notice).await
}

pub async fn alert_control(ctx: Ctx, Path(id): Path<String>, Form(f): Form<HashMap<String, String>>) -> PageResult {
    let user = staff(&ctx)?;
    let (db, now) = (&ctx.state.db, ctx.state.clock.now_ms());
    let changed = match f.get("action").map(String::as_str) {
        Some("acknowledge") => lsn_ops::alerts::acknowledge(db, now, &id, &user.actor().label).await.map_err(PageError::internal)?,
        Some("resolve") => lsn_ops::alerts::resolve(db, now, &id).await.map_err(PageError::internal)?,
        Some("silence") => {
            let a = lsn_ops::alerts::get(db, &id).await.map_err(PageError::internal)?.ok_or_else(PageError::not_found)?;
            let group = a.group_key.strip_prefix(&format!("{}:", a.alert_type)).map(str::to_string);
            lsn_ops::alerts::silence(
                db,
                now,
                &a.alert_type,
                group.as_deref(),
                now + 3_600_000,
                &t("admin-silence-hour"),
                &user.actor().label,
            )
            .await
            .map_err(PageError::internal)?;
            true
        }
        _ => return alerts_view(&ctx, FormState::default(), Some(t("admin-task-unknown-action")), None).await,
    };
    if !changed {
        return alerts_view(&ctx, FormState::default(), Some(t("ops-alert-not-firing")), None).await;
    }
    Ok(see_other(ctx.jar.clone(), "/admin/alerts?notice=alert_changed"))
}

pub async fn alert_silence(ctx: Ctx, Form(f): Form<HashMap<String, String>>) -> PageResult {
    let user = staff(&ctx)?;
    let v = |k: &str| f.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let minutes = v("minutes").parse::<i64>().unwrap_or(0);
    let mut form = FormState::new(f.clone());
    if let Err(e) = crate::ops::silence_input(&ctx.state, &v("alert_type"), minutes, &v("reason")) {
        let message = refused(e.into(), &mut form)?;
        return alerts_view(&ctx, form, Some(message), None).await;
    }
    let now = ctx.state.clock.now_ms();
    lsn_ops::alerts::silence(&ctx.state.db, now, &v("alert_type"), None, now + minutes * 60_000, &v("reason"), &user.actor().label)
        .await
        .map_err(PageError::internal)?;
    Ok(see_other(ctx.jar.clone(), "/admin/alerts?notice=alert_silenced"))
}

// ----------------------------------------------------------------------------- thresholds

pub async fn thresholds(ctx: Ctx, Query(a): Query<AdminArgs>) -> PageResult {
    staff(&ctx)?;
    thresholds_view(&ctx, FormState::default(), None, admin_notice(a.notice.as_deref())).await
}

async fn thresholds_view(ctx: &Ctx, form: FormState, error: Option<String>, notice: Option<String>) -> PageResult {
    let list = lsn_ops::monitor::thresholds(&ctx.state.db).await.map_err(PageError::internal)?;
    let level = |v: Option<f64>, unit: &str| v.map(|v| lsn_ops::monitor::fmt(v, unit)).unwrap_or_else(|| t("admin-threshold-off"));
    let rows = list
        .iter()
        .map(|th| {
            vec![
                cell(format!("{} ({})", t(&format!("metric-{}", th.metric)), th.metric)),
                cell(t_args(
                    "admin-threshold-levels",
                    &[
                        ("warning", &level(th.warning, &th.unit)),
                        ("critical", &level(th.critical, &th.unit)),
                        ("window", &(th.window_secs / 60).to_string()),
                    ],
                )),
                cell(match (th.last_value, th.last_level.as_deref()) {
                    (Some(v), Some(l)) => format!("{} · {}", lsn_ops::monitor::fmt(v, &th.unit), t(&format!("admin-level-{l}"))),
                    (None, Some(l)) => t(&format!("admin-level-{l}")),
                    _ => t("admin-not-run"),
                }),
                cell(th.last_measured_at.map(|w| when(ctx, w)).unwrap_or_default()),
            ]
        })
        .collect();
    let table = Table {
        key: "thresholds",
        heading: t("admin-thresholds-heading"),
        columns: vec!["admin-col-metric", "admin-col-levels", "admin-col-reading", "admin-col-when"],
        rows,
        empty: "admin-empty-jobs",
    };
    let extra = Extra {
        action: "/admin/thresholds".into(),
        heading: t("admin-threshold-form"),
        fields: vec![
            ("metric", t("admin-col-metric"), "text", form.value("metric").to_string()),
            ("warning", t("admin-threshold-warning"), "text", form.value("warning").to_string()),
            ("critical", t("admin-threshold-critical"), "text", form.value("critical").to_string()),
        ],
        button: t("admin-threshold-button"),
    };
    page(ctx, &t("admin-nav-thresholds"), "/admin/thresholds", table, Some(extra), form, error, notice).await
}

pub async fn threshold_update(ctx: Ctx, Form(f): Form<HashMap<String, String>>) -> PageResult {
    let user = staff(&ctx)?;
    let v = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    let mut form = FormState::new(f.clone());
    let result = async {
        let w = lsn_ops::monitor::Level::from_form(v("warning"), "warning")?;
        let c = lsn_ops::monitor::Level::from_form(v("critical"), "critical")?;
        lsn_ops::monitor::update(&ctx.state.db, ctx.state.clock.now_ms(), v("metric").trim(), w, c, &user.actor().label).await
    }
    .await;
    match result {
        Ok(_) => Ok(see_other(ctx.jar.clone(), "/admin/thresholds?notice=threshold_saved")),
        Err(e) => {
            let message = refused(e.into(), &mut form)?;
            thresholds_view(&ctx, form, Some(message), None).await
        }
    }
}

// ----------------------------------------------------------------------------- incidents

pub async fn incidents(ctx: Ctx, Query(a): Query<AdminArgs>) -> PageResult {
    staff(&ctx)?;
    incidents_view(&ctx, FormState::default(), None, admin_notice(a.notice.as_deref())).await
}

async fn incidents_view(ctx: &Ctx, form: FormState, error: Option<String>, notice: Option<String>) -> PageResult {
    let list = lsn_ops::incidents::list(&ctx.state.db, 200).await.map_err(PageError::internal)?;
    let rows = list
        .iter()
        .map(|i| {
            vec![
                link(format!("{} · {}", i.severity, i.title), format!("/admin/incidents/{}", i.id)),
                cell(t(&format!("admin-incident-status-{}", i.status))),
                cell(t_args("admin-incident-respond-by", &[("when", &when(ctx, i.respond_by))])),
                cell(when(ctx, i.opened_at)),
            ]
        })
        .collect();
    let table = Table {
        key: "incidents",
        heading: t("admin-incidents-heading"),
        columns: vec!["admin-col-incident", "admin-col-outcome", "admin-col-due", "admin-col-when"],
        rows,
        empty: "admin-empty-incidents",
    };
    let extra = Extra {
        action: "/admin/incidents".into(),
        heading: t("admin-incident-open"),
        fields: vec![
            ("title", t("admin-incident-title"), "text", form.value("title").to_string()),
            ("severity", t("admin-incident-severity"), "text", form.value("severity").to_string()),
        ],
        button: t("admin-incident-open-button"),
    };
    page(ctx, &t("admin-nav-incidents"), "/admin/incidents", table, Some(extra), form, error, notice).await
}

pub async fn incident_open(ctx: Ctx, Form(f): Form<HashMap<String, String>>) -> PageResult {
    let user = staff(&ctx)?;
    let v = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    match lsn_ops::incidents::open(&ctx.state.db, ctx.state.clock.now_ms(), v("title"), v("severity"), &user.actor().label).await {
        Ok(i) => Ok(see_other(ctx.jar.clone(), &format!("/admin/incidents/{}?notice=incident_changed", i.id))),
        Err(e) => {
            let mut form = FormState::new(f.clone());
            let message = refused(e.into(), &mut form)?;
            incidents_view(&ctx, form, Some(message), None).await
        }
    }
}

pub async fn incident(ctx: Ctx, Path(id): Path<String>, Query(a): Query<AdminArgs>) -> PageResult {
    staff(&ctx)?;
    incident_view(&ctx, &id, FormState::default(), None, admin_notice(a.notice.as_deref())).await
}

async fn incident_view(ctx: &Ctx, id: &str, form: FormState, error: Option<String>, notice: Option<String>) -> PageResult {
    let db = &ctx.state.db;
    let i = lsn_ops::incidents::get(db, id).await.map_err(PageError::internal)?.ok_or_else(PageError::not_found)?;
    let owner = match &i.owner_id {
        Some(o) => ctx.state.identity.user_by_id(o).await?.map(|u| u.email.unwrap_or(u.name)).unwrap_or_else(|| o.clone()),
        None => t("admin-incident-no-owner"),
    };
    let mut rows = vec![vec![
        cell(format!("{} · {}", i.severity, t(&format!("admin-incident-status-{}", i.status)))),
        cell(t_args("admin-incident-owner", &[("owner", &owner)])),
        cell(t_args("admin-incident-respond-by", &[("when", &when(ctx, i.respond_by))])),
        cell(when(ctx, i.opened_at)),
    ]];
    if let Some(r) = &i.resolution {
        rows.push(vec![
            cell(t("admin-incident-resolution")),
            cell(r),
            cell(String::new()),
            cell(i.resolved_at.map(|w| when(ctx, w)).unwrap_or_default()),
        ]);
    }
    if let Some(p) = &i.postmortem {
        rows.push(vec![cell(t("admin-incident-postmortem")), cell(p), cell(String::new()), cell(String::new())]);
    }
    for e in lsn_ops::incidents::timeline(db, id).await.map_err(PageError::internal)? {
        rows.push(vec![cell(t(&format!("admin-incident-event-{}", e.kind))), cell(e.note), cell(e.actor), cell(when(ctx, e.at))]);
    }
    let table = Table {
        key: "incident",
        heading: i.title.clone(),
        columns: vec!["admin-col-what", "admin-col-text", "admin-col-who", "admin-col-when"],
        rows,
        empty: "admin-empty-incidents",
    };
    let extra = Extra {
        action: format!("/admin/incidents/{}", i.id),
        heading: t("admin-incident-update"),
        fields: vec![
            ("owner", t("admin-incident-owner-field"), "text", form.value("owner").to_string()),
            ("note", t("admin-incident-note"), "text", form.value("note").to_string()),
            ("resolution", t("admin-incident-resolution"), "text", form.value("resolution").to_string()),
            ("postmortem", t("admin-incident-postmortem"), "text", form.value("postmortem").to_string()),
        ],
        button: t("admin-incident-save"),
    };
    page(ctx, &t("admin-nav-incidents"), "/admin/incidents", table, Some(extra), form, error, notice).await
}

/// Applies each field filled in: assign the owner, add the note, resolve, write the post-mortem.
pub async fn incident_update(ctx: Ctx, Path(id): Path<String>, Form(f): Form<HashMap<String, String>>) -> PageResult {
    let user = staff(&ctx)?;
    let who = user.actor().label;
    let (db, now) = (&ctx.state.db, ctx.state.clock.now_ms());
    let v = |k: &str| f.get(k).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let result: Result<(), ApiError> = async {
        if let Some(o) = v("owner") {
            let (owner, name) = crate::ops::staff_member(&ctx.state, &o).await?;
            lsn_ops::incidents::assign(db, now, &id, &owner, &name, &who).await?;
        }
        if let Some(n) = v("note") {
            lsn_ops::incidents::note(db, now, &id, &n, &who).await?;
        }
        if let Some(r) = v("resolution") {
            lsn_ops::incidents::resolve(db, now, &id, &r, &who).await?;
        }
        if let Some(p) = v("postmortem") {
            lsn_ops::incidents::postmortem(db, now, &id, &p, &who).await?;
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(see_other(ctx.jar.clone(), &format!("/admin/incidents/{id}?notice=incident_changed"))),
        Err(e) if e.status == lsn_ui::StatusCode::NOT_FOUND => Err(PageError::not_found()),
        Err(e) => {
            let mut form = FormState::new(f.clone());
            let message = refused(e, &mut form)?;
            incident_view(&ctx, &id, form, Some(message), None).await
        }
    }
}

// ----------------------------------------------------------------------------- tasks

pub async fn tasks(ctx: Ctx, Query(a): Query<AdminArgs>) -> PageResult {
    staff(&ctx)?;
    tasks_view(&ctx, None, admin_notice(a.notice.as_deref())).await
}

async fn tasks_view(ctx: &Ctx, error: Option<String>, notice: Option<String>) -> PageResult {
    let list = lsn_ops::tasks::list(&ctx.state.db, None, 200).await.map_err(PageError::internal)?;
    let me = ctx.user.as_ref().map(|u| u.user.id.to_string()).unwrap_or_default();
    let rows = list
        .iter()
        .map(|task| {
            let state = match (task.status.as_str(), &task.assignee_id) {
                ("open", Some(a)) if *a == me => t("admin-task-mine"),
                ("open", Some(_)) => t("admin-task-assigned"),
                (s, _) => t(&format!("admin-task-{s}")),
            };
            vec![
                cell(&task.title),
                cell(&task.detail),
                cell(state),
                cell(when(ctx, task.created_at)),
                if task.status == "open" {
                    control(
                        format!("/admin/tasks/{}/control", task.id),
                        &task.id,
                        vec![
                            ("done".into(), t("admin-task-done-action")),
                            ("assign".into(), t("admin-task-take")),
                            ("dismiss".into(), t("admin-task-dismiss")),
                        ],
                    )
                } else {
                    cell(task.closed_by.clone().unwrap_or_default())
                },
            ]
        })
        .collect();
    let table = Table {
        key: "tasks",
        heading: t("admin-tasks-heading"),
        columns: vec!["admin-col-task", "admin-col-text", "admin-col-outcome", "admin-col-when", ""],
        rows,
        empty: "admin-empty-tasks",
    };
    page(ctx, &t("admin-nav-tasks"), "/admin/tasks", table, None, FormState::default(), error, notice).await
}

pub async fn task_control(ctx: Ctx, Path(id): Path<String>, Form(f): Form<HashMap<String, String>>) -> PageResult {
    let user = staff(&ctx)?;
    let (db, now, who) = (&ctx.state.db, ctx.state.clock.now_ms(), user.actor().label);
    let result = match f.get("action").map(String::as_str) {
        Some("done") => lsn_ops::tasks::close(db, now, &id, lsn_ops::tasks::Close::Done, &who).await,
        Some("dismiss") => lsn_ops::tasks::close(db, now, &id, lsn_ops::tasks::Close::Dismissed, &who).await,
        Some("assign") => lsn_ops::tasks::assign(db, &id, Some(user.user.id.as_str())).await,
        _ => return tasks_view(&ctx, Some(t("admin-task-unknown-action")), None).await,
    };
    match result {
        Ok(_) => Ok(see_other(ctx.jar.clone(), "/admin/tasks?notice=task_changed")),
        Err(lsn_ops::OpsError::NotFound) => Err(PageError::not_found()),
        Err(e) => tasks_view(&ctx, Some(e.to_string()), None).await,
    }
}

// ----------------------------------------------------------------------------- policies

pub async fn policies(ctx: Ctx, Query(a): Query<AdminArgs>) -> PageResult {
    staff(&ctx)?;
    policies_view(&ctx, FormState::default(), None, admin_notice(a.notice.as_deref())).await
}

/// Every policy with its version in force, each version (put one in force, dry-run it), and the
/// newest decisions; the form saves a new version or dry-runs the condition written.
async fn policies_view(ctx: &Ctx, form: FormState, error: Option<String>, notice: Option<String>) -> PageResult {
    let policies = &ctx.state.policies;
    let mut rows = Vec::new();
    for p in policies.list().await.map_err(|e| PageError::internal(e.to_string()))? {
        let name = p["name"].as_str().unwrap_or_default().to_string();
        rows.push(vec![
            cell(t_args("admin-policy", &[("policy", &name), ("action", p["action"].as_str().unwrap_or_default())])),
            cell(p["condition"].as_str().unwrap_or_default()),
            cell(t_args(
                "admin-policy-escalation",
                &[
                    ("fact", p["escalation"]["fact"].as_str().unwrap_or_default()),
                    ("when", p["escalation"]["when"].as_str().unwrap_or_default()),
                    ("threshold", &p["escalation"]["threshold"].as_f64().map(|v| v.to_string()).unwrap_or_default()),
                ],
            )),
            cell(t_args(
                "admin-policy-version",
                &[("version", &p["active_version"].to_string()), ("latest", &p["latest_version"].to_string())],
            )),
            cell(String::new()),
        ]);
        let (_, versions) = policies.get(&name).await.map_err(|e| PageError::internal(e.to_string()))?;
        for v in versions.iter().take(10) {
            let mut opts = vec![("dry_run".to_string(), t("admin-policy-dry-run"))];
            if !v.active {
                opts.insert(0, ("activate".to_string(), t("admin-policy-activate")));
            }
            rows.push(vec![
                cell(t_args("admin-policy-version-row", &[("policy", &name), ("version", &v.version.to_string())])),
                cell(&v.condition),
                cell(if v.note.is_empty() { v.created_by.clone() } else { format!("{} · {}", v.created_by, v.note) }),
                cell(if v.active { t("admin-policy-in-force") } else { when(ctx, v.created_at) }),
                control(format!("/admin/policies/{name}/versions/{}/control", v.version), &format!("{name}-{}", v.version), opts),
            ]);
        }
    }
    for d in policies.decisions(None, 20).await.map_err(|e| PageError::internal(e.to_string()))? {
        rows.push(vec![
            cell(t_args("admin-policy-decision", &[("policy", &d.policy), ("version", &d.version.to_string())])),
            cell(d.facts.to_string()),
            cell(t(&format!("admin-policy-outcome-{}", d.outcome.as_str()))),
            cell(when(ctx, d.decided_at)),
            cell(if d.test { t("admin-policy-test") } else { d.subject.clone().unwrap_or_default() }),
        ]);
    }
    let table = Table {
        key: "policies",
        heading: t("admin-policies-heading"),
        columns: vec!["admin-col-policy", "admin-col-condition", "admin-col-text", "admin-col-when", ""],
        rows,
        empty: "admin-empty-jobs",
    };
    let extra = Extra {
        action: "/admin/policies".into(),
        heading: t("admin-policy-form"),
        fields: vec![
            ("policy", t("admin-col-policy"), "text", form.value("policy").to_string()),
            ("condition", t("admin-col-condition"), "text", form.value("condition").to_string()),
            ("escalation_threshold", t("admin-policy-threshold"), "text", form.value("escalation_threshold").to_string()),
            ("note", t("admin-policy-note"), "text", form.value("note").to_string()),
            ("dry_run", t("admin-policy-dry-run-field"), "checkbox", "1".to_string()),
        ],
        button: t("admin-policy-button"),
    };
    page(ctx, &t("admin-nav-policies"), "/admin/policies", table, Some(extra), form, error, notice).await
}

/// What a dry run found, in a sentence.
fn dry_run_notice(r: &lsn_ops::policy::DryRun) -> String {
    t_args(
        "admin-policy-dry-run-result",
        &[("cases", &r.cases.to_string()), ("changed", &r.changed.to_string()), ("skipped", &r.skipped.to_string())],
    )
}

/// Saves the form's condition as a new version of its policy (in force at once), or with
/// "dry run" ticked replays the recent decisions under it and says what would change.
pub async fn policy_save(ctx: Ctx, Form(f): Form<HashMap<String, String>>) -> PageResult {
    let user = staff(&ctx)?;
    let v = |k: &str| f.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let mut form = FormState::new(f.clone());
    let body = serde_json::json!({
        "condition": v("condition"),
        "escalation_threshold": match v("escalation_threshold") {
            s if s.is_empty() => serde_json::Value::Null,
            s => s.parse::<f64>().map(serde_json::Value::from).unwrap_or_else(|_| serde_json::Value::String(s)),
        },
    });
    let policies = &ctx.state.policies;
    let result = async {
        let p = crate::policies::proposal(&body)?;
        if f.contains_key("dry_run") {
            let r = policies.dry_run(&v("policy"), &p, lsn_ops::policy::DRY_RUN_CASES).await?;
            return Ok(Some(dry_run_notice(&r)));
        }
        policies.save(&v("policy"), &p, &v("note"), true, &user.actor().label).await?;
        Ok::<_, lsn_ops::OpsError>(None)
    }
    .await;
    match result {
        Ok(None) => Ok(see_other(ctx.jar.clone(), "/admin/policies?notice=policy_saved")),
        Ok(Some(notice)) => policies_view(&ctx, form, None, Some(notice)).await,
        Err(lsn_ops::OpsError::NotFound) => {
            form.errors.insert("policy".into(), t("admin-policy-unknown"));
            policies_view(&ctx, form, Some(t("admin-policy-unknown")), None).await
        }
        Err(e) => {
            let message = refused(e.into(), &mut form)?;
            policies_view(&ctx, form, Some(message), None).await
        }
    }
}

/// A version's control: put it in force, or dry-run its condition against the recent decisions.
pub async fn policy_control(ctx: Ctx, Path((name, version)): Path<(String, i64)>, Form(f): Form<HashMap<String, String>>) -> PageResult {
    let user = staff(&ctx)?;
    let policies = &ctx.state.policies;
    match f.get("action").map(String::as_str) {
        Some("activate") => match policies.activate(&name, version, &user.actor().label).await {
            Ok(_) => Ok(see_other(ctx.jar.clone(), "/admin/policies?notice=policy_activated")),
            Err(lsn_ops::OpsError::NotFound) => Err(PageError::not_found()),
            Err(e) => policies_view(&ctx, FormState::default(), Some(e.to_string()), None).await,
        },
        Some("dry_run") => {
            let (_, versions) = policies.get(&name).await.map_err(|_| PageError::not_found())?;
            let v = versions.into_iter().find(|v| v.version == version).ok_or_else(PageError::not_found)?;
            let p = lsn_ops::policy::Proposal {
                condition: v.condition,
                escalation_threshold: Some(v.escalation_threshold),
                approval_required: Some(v.approval_required),
            };
            match policies.dry_run(&name, &p, lsn_ops::policy::DRY_RUN_CASES).await {
                Ok(r) => policies_view(&ctx, FormState::default(), None, Some(dry_run_notice(&r))).await,
                Err(e) => policies_view(&ctx, FormState::default(), Some(e.to_string()), None).await,
            }
        }
        _ => policies_view(&ctx, FormState::default(), Some(t("admin-task-unknown-action")), None).await,
    }
}
