//! The app's admin pages: the dashboard (today's figures from commerce and live, system health,
//! the latest orders), jobs and schedules, and the development mailbox. The domains' admin pages
//! are in their crates.

use super::{money, Chrome, Ctx, PageError, PageResult};
use askama::Template;
use axum::extract::{Path, Query};
use axum::Form;
use lsn_core::i18n::{t, t_args};
use lsn_identity::AuthUser;
use lsn_ui::table::{admin_notice, cell, table_page, when, AdminArgs, Cell, CellForm, Extra, Select, Table, TablePage};
use lsn_ui::{see_other, FormState};
use std::collections::HashMap;

/// The staff member asking (the routes let only admins and owners in).
fn staff(ctx: &Ctx) -> Result<&AuthUser, PageError> {
    lsn_identity::pages::staff(&ctx.user)
}

/// The admin pages in the navigation (the app module declares them; `lsn_ops::NavEntry`), each
/// with the message key of its label.
pub const ADMIN_NAV: &[(&str, &str)] = &[
    ("/admin", "admin-nav-dashboard"),
    ("/admin/summary", "admin-nav-summary"),
    ("/admin/autonomy", "admin-nav-autonomy"),
    ("/admin/jobs", "admin-nav-jobs"),
    ("/admin/alerts", "admin-nav-alerts"),
    ("/admin/thresholds", "admin-nav-thresholds"),
    ("/admin/incidents", "admin-nav-incidents"),
    ("/admin/tasks", "admin-nav-tasks"),
    ("/admin/policies", "admin-nav-policies"),
    ("/admin/mailbox", "admin-nav-mailbox"),
];

// ----------------------------------------------------------------------------- dashboard

pub struct Kpi {
    key: &'static str,
    label: String,
    value: String,
    spark: String,
}

#[derive(Template)]
#[template(path = "admin_dashboard.html")]
struct Dashboard {
    chrome: Chrome,
    nav: Vec<(&'static str, &'static str)>,
    active: &'static str,
    error: Option<String>,
    kpis: Vec<Kpi>,
    checks: Vec<(String, bool)>,
    /// When the charts' figures were aggregated (a sentence), if ever.
    figures_as_of: String,
    backend: &'static str,
    queue: String,
    traffic: String,
    table: Table,
}

/// Points for a 140×40 sparkline of `values`.
fn spark(values: &[i64]) -> String {
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = 140.0 / (values.len().max(2) - 1) as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", i as f64 * step, 38.0 - (*v as f64 / max) * 36.0))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The shop's calendar day (in its time zone) of a moment in Unix milliseconds.
fn local_day(ctx: &Ctx, ms: i64) -> Option<chrono::NaiveDate> {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&ctx.state.cfg.timezone).date_naive())
}

pub async fn dashboard(ctx: Ctx) -> PageResult {
    staff(&ctx)?;
    let db = &ctx.state.db;
    let now = ctx.state.clock.now_ms();
    let today = local_day(&ctx, now).ok_or_else(|| PageError::internal("clock out of range"))?;
    // The 13 days before today from the analytics aggregation's buckets; today itself from the
    // orders, so its figure is never up to 15 minutes behind.
    let tz = ctx.state.cfg.timezone;
    let figure = |name| lsn_ops::analytics::Metric { name, kind: lsn_ops::analytics::Kind::Sum, label: "" };
    let mut revenue = lsn_ops::analytics::daily(db, figure("revenue_cents"), tz, now, 14).await.map_err(PageError::internal)?;
    let mut count = lsn_ops::analytics::daily(db, figure("orders_paid"), tz, now, 14).await.map_err(PageError::internal)?;
    let (rev_today, orders_today) = {
        let paid = ctx.state.commerce.paid_since(now - 86_400_000 - 3_600_000).await?;
        let todays = paid.iter().filter(|(at, _)| local_day(&ctx, *at) == Some(today));
        todays.fold((0i64, 0i64), |(r, n), (_, amount)| (r.saturating_add(*amount), n + 1))
    };
    revenue[13] = rev_today;
    count[13] = orders_today;
    let as_of = lsn_ops::analytics::last_computed(db).await.map_err(PageError::internal)?;
    let mut viewers = 0;
    for s in ctx.state.live.list(Some("live"), 100).await.map_err(PageError::internal)? {
        if let Some(room) = ctx.state.live.hub.existing(&s.id).await {
            viewers += room.viewer_count().await;
        }
    }
    let db_ok = db.ping().await.is_ok();
    let mig_ok = db.migration_status(crate::schema()).await.is_ok_and(|m| m.is_current());
    let queue =
        lsn_ops::jobs::queue_depth(db).await.unwrap_or_default().iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ");
    let recent = ctx.state.commerce.orders(None, None, None, 10).await?;
    let page = Dashboard {
        chrome: ctx.chrome(t("admin-nav-dashboard"), "admin", None).await,
        nav: ctx.nav(),
        active: "/admin",
        error: None,
        kpis: vec![
            Kpi { key: "revenue", label: t("admin-kpi-revenue"), value: money(rev_today), spark: spark(&revenue) },
            Kpi { key: "orders", label: t("admin-kpi-orders"), value: orders_today.to_string(), spark: spark(&count) },
            Kpi {
                key: "aov",
                label: t("admin-kpi-aov"),
                value: money(if orders_today > 0 { rev_today / orders_today } else { 0 }),
                spark: String::new(),
            },
            Kpi { key: "viewers", label: t("admin-kpi-viewers"), value: viewers.to_string(), spark: String::new() },
        ],
        checks: vec![(t("admin-check-database"), db_ok), (t("admin-check-migrations"), mig_ok)],
        figures_as_of: match as_of {
            Some(at) => {
                let when = chrono::DateTime::from_timestamp_millis(at).unwrap_or_default().with_timezone(&tz);
                t_args("admin-figures-as-of", &[("when", &lsn_core::i18n::datetime(&when, lsn_core::i18n::DateStyle::DateTime))])
            }
            None => t("admin-figures-never"),
        },
        backend: db.backend().name(),
        queue: if queue.is_empty() { t("admin-none-queued") } else { queue },
        traffic: {
            let (total, errors, mean) = ctx.state.metrics.summary();
            t_args("admin-traffic", &[("requests", &total.to_string()), ("errors", &errors.to_string()), ("mean", &format!("{mean:.1}"))])
        },
        table: lsn_commerce::admin::orders_table(&ctx.ui, &recent, &t("admin-latest-orders")),
    };
    Ok(ctx.ok(&page))
}

pub async fn jobs(ctx: Ctx, Query(a): Query<AdminArgs>) -> PageResult {
    staff(&ctx)?;
    jobs_view(&ctx, FormState::default(), None, admin_notice(a.notice.as_deref())).await
}

/// The schedules (with their controls: run now, pause or resume; a form to re-time one), then
/// the latest runs.
async fn jobs_view(ctx: &Ctx, form: FormState, error: Option<String>, notice: Option<String>) -> PageResult {
    let schedules = lsn_ops::schedule::list(&ctx.state.db).await.map_err(PageError::internal)?;
    let runs = lsn_ops::schedule::recent_runs(&ctx.state.db, 100).await.map_err(PageError::internal)?;
    let mut rows: Vec<Vec<Cell>> = schedules
        .iter()
        .map(|s| {
            let mut what = format!("{} · {}", s.cron, s.description);
            if s.autonomous {
                what = format!("{what} · {}", t(if ctx.state.cfg.enable_autonomous { "admin-autonomous" } else { "admin-autonomous-off" }));
            }
            if !s.enabled {
                what = format!("{what} · {}", t("admin-paused"));
            }
            let pause = if s.enabled { ("pause", t("admin-pause")) } else { ("resume", t("admin-resume")) };
            vec![
                cell(format!("⏱ {}", s.name)),
                cell(what),
                cell(s.last_outcome.clone().unwrap_or_else(|| t("admin-not-run"))),
                cell(s.last_run_at.map(|w| when(ctx, w)).unwrap_or_default()),
                Cell {
                    text: t_args("admin-next-run", &[("when", &when(ctx, s.next_run_at))]),
                    form: Some(CellForm {
                        action: format!("/admin/jobs/{}/control", s.name),
                        hidden: Vec::new(),
                        select: Some(Select {
                            id: format!("ctl-{}", s.name),
                            name: "action".into(),
                            label: t("admin-task-action"),
                            options: vec![("run".into(), t("admin-run-now")), (pause.0.into(), pause.1)],
                            selected: "run".into(),
                        }),
                        button: t("admin-apply"),
                    }),
                    ..Default::default()
                },
            ]
        })
        .collect();
    for r in &runs {
        rows.push(vec![
            cell(&r.kind),
            cell(r.schedule.as_ref().map(|s| t_args("admin-by-schedule", &[("schedule", s)])).unwrap_or_default()),
            cell(&r.outcome),
            cell(when(ctx, r.started_at)),
            cell(format!(
                "{} ms{}{}",
                r.finished_at - r.started_at,
                r.output.as_ref().map(|o| format!(" · {o}")).unwrap_or_default(),
                r.error.as_ref().map(|e| format!(" · {e}")).unwrap_or_default()
            )),
        ]);
    }
    let table = Table {
        key: "jobs",
        heading: t("admin-jobs-heading"),
        columns: vec!["admin-col-job", "admin-col-what", "admin-col-outcome", "admin-col-when", ""],
        rows,
        empty: "admin-empty-jobs",
    };
    let extra = Extra {
        action: "/admin/jobs/retime".into(),
        heading: t("admin-retime-heading"),
        fields: vec![
            ("name", t("admin-retime-name"), "text", form.value("name").to_string()),
            ("cron", t("admin-retime-cron"), "text", form.value("cron").to_string()),
        ],
        button: t("admin-retime-button"),
    };
    let status = if error.is_some() { lsn_ui::StatusCode::BAD_REQUEST } else { lsn_ui::StatusCode::OK };
    let page = TablePage {
        chrome: ctx.chrome(t("admin-nav-jobs"), "admin", None).await,
        nav: ctx.nav(),
        active: "/admin/jobs",
        error,
        notice,
        filter: None,
        extra: Some(extra),
        form,
        table,
    };
    Ok(ctx.render(status, &page))
}

/// Run now, pause or resume one task.
pub async fn job_control(ctx: Ctx, Path(name): Path<String>, Form(f): Form<HashMap<String, String>>) -> PageResult {
    staff(&ctx)?;
    let scheduler = crate::app::scheduler(&ctx.state);
    let notice = match f.get("action").map(String::as_str) {
        Some("run") => {
            scheduler.run_now(&name, ctx.state.clock.now()).await.map_err(|e| PageError::from(crate::app::control_error(e)))?;
            "task_queued"
        }
        Some(action @ ("pause" | "resume")) => {
            if !scheduler.set_enabled(&name, action == "resume").await.map_err(PageError::internal)? {
                return Err(PageError::not_found());
            }
            if action == "pause" {
                "task_paused"
            } else {
                "task_resumed"
            }
        }
        _ => return jobs_view(&ctx, FormState::default(), Some(t("admin-task-unknown-action")), None).await,
    };
    Ok(see_other(ctx.jar.clone(), &format!("/admin/jobs?notice={notice}")))
}

/// Re-time a task (an empty expression: back to the code's).
pub async fn job_retime(ctx: Ctx, Form(f): Form<HashMap<String, String>>) -> PageResult {
    staff(&ctx)?;
    let name = f.get("name").map(|n| n.trim().to_string()).unwrap_or_default();
    let cron = f.get("cron").map(String::as_str);
    match crate::app::scheduler(&ctx.state).set_cron(&name, cron, ctx.state.clock.now()).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), "/admin/jobs?notice=task_retimed")),
        Err(e) => {
            let mut form = FormState::new(f.clone());
            let message = match &e {
                lsn_ops::schedule::ControlError::Unknown(_) => {
                    form.errors.insert("name".into(), t("admin-task-unknown"));
                    t("admin-task-unknown")
                }
                lsn_ops::schedule::ControlError::InvalidCron(m) => {
                    form.errors.insert("cron".into(), m.clone());
                    t("admin-check-cron")
                }
                lsn_ops::schedule::ControlError::Db(e) => return Err(PageError::internal(e)),
            };
            jobs_view(&ctx, form, Some(message), None).await
        }
    }
}

pub async fn mailbox(ctx: Ctx) -> PageResult {
    staff(&ctx)?;
    let mails = lsn_mail::list_mailbox(&ctx.state.db, None, 100).await.map_err(PageError::internal)?;
    let table = Table {
        key: "mailbox",
        heading: t("admin-mailbox-heading"),
        columns: vec!["admin-col-when", "admin-col-to", "admin-col-subject", "admin-col-text"],
        rows: mails.iter().map(|m| vec![cell(when(&ctx, m.created_at)), cell(&m.to), cell(&m.subject), cell(&m.text)]).collect(),
        empty: "admin-empty-mail",
    };
    table_page(&ctx, &t("admin-nav-mailbox"), "/admin/mailbox", table, None, None, None).await
}
