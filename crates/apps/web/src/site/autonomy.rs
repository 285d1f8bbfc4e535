//! The autonomy dashboard (`/admin/autonomy`): the runbook's "Autonomous Operations" on one
//! page — task status, self-healing, workflow activity, policy decisions, alerts and incidents,
//! and what waits for a person — each row linking to where a person acts on it.

use super::{Ctx, PageResult};
use lsn_core::i18n::{t, t_args};
use lsn_ui::table::{cell, link, when, Cell, Table};
use lsn_ui::Chrome;

#[derive(askama::Template)]
#[template(path = "admin_autonomy.html")]
struct Page {
    chrome: Chrome,
    nav: Vec<(&'static str, &'static str)>,
    active: &'static str,
    error: Option<String>,
    mode: String,
    tables: Vec<Table>,
}

const COLUMNS: [&str; 4] = ["autonomy-col-what", "autonomy-col-detail", "autonomy-col-state", "autonomy-col-when"];

fn table(key: &'static str, rows: Vec<Vec<Cell>>) -> Table {
    let (heading, empty) = match key {
        "tasks" => ("autonomy-tasks", "autonomy-empty-tasks"),
        "healing" => ("autonomy-healing", "autonomy-empty-healing"),
        "breakers" => ("autonomy-breakers", "autonomy-empty-breakers"),
        "workflows" => ("autonomy-workflows", "autonomy-empty-workflows"),
        "waits" => ("autonomy-waits", "autonomy-empty-waits"),
        "decisions" => ("autonomy-decisions", "autonomy-empty-decisions"),
        "alerts" => ("autonomy-alerts", "autonomy-empty-alerts"),
        _ => ("autonomy-person", "autonomy-empty-person"),
    };
    Table { key, heading: t(heading), columns: COLUMNS.to_vec(), rows, empty }
}

pub async fn dashboard(ctx: Ctx) -> PageResult {
    lsn_identity::pages::staff(&ctx.user)?;
    let s = &ctx.state;
    let o = lsn_ops::autonomy::overview(&s.db, &s.policies, 20).await.map_err(lsn_ui::PageError::internal)?;
    let never = t("autonomy-never");
    let tasks = o
        .schedules
        .iter()
        .map(|r| {
            let state = if !r.enabled {
                t("autonomy-paused")
            } else if r.autonomous && !s.cfg.enable_autonomous {
                t("autonomy-needs-autonomous")
            } else {
                t("autonomy-enabled")
            };
            vec![
                link(&r.name, "/admin/jobs"),
                cell(t_args("autonomy-last", &[("outcome", r.last_outcome.as_deref().unwrap_or(&never)), ("cron", &r.cron)])),
                cell(state),
                cell(t_args("autonomy-next", &[("when", &when(&ctx, r.next_run_at))])),
            ]
        })
        .collect();
    let healing = o
        .healing
        .iter()
        .map(|e| {
            vec![
                cell(format!("{} · {}", e.component, t(&format!("healing-action-{}", e.action)))),
                cell(&e.detail),
                cell(t(&format!("healing-outcome-{}", e.outcome))),
                cell(when(&ctx, e.at)),
            ]
        })
        .collect();
    let breakers = o
        .breakers
        .iter()
        .map(|b| {
            vec![
                cell(format!("{} · {}", b.name, b.node_id)),
                cell(t_args(
                    "autonomy-breaker-failures",
                    &[("count", &b.failures.to_string()), ("error", b.last_error.as_deref().unwrap_or(""))],
                )),
                cell(t(&format!("breaker-{}", b.state))),
                cell(when(&ctx, b.updated_at)),
            ]
        })
        .collect();
    let counts = o.workflow_counts.iter().map(|(st, n)| format!("{st}: {n}")).collect::<Vec<_>>().join(" · ");
    let mut workflows = vec![vec![cell(t("autonomy-runs-by-status")), cell(counts), cell(String::new()), cell(String::new())]];
    workflows.extend(o.workflow_failures.iter().map(|r| {
        vec![
            link(format!("{} v{}", r.name, r.version), format!("/api/v1/admin/workflows/{}", r.id)),
            cell(format!(
                "{}{}",
                r.failed_step.clone().unwrap_or_default(),
                r.error.as_deref().map(|e| format!(" — {e}")).unwrap_or_default()
            )),
            cell(t(&format!("autonomy-run-{}", r.status))),
            cell(when(&ctx, r.updated_at)),
        ]
    }));
    let waits = o
        .waits
        .iter()
        .map(|w| {
            vec![
                link(
                    format!("{} · {}", w.workflow, w.key.as_deref().unwrap_or(&w.run_id)),
                    format!("/api/v1/admin/workflows/{}", w.run_id),
                ),
                cell(t_args("autonomy-wait-step", &[("step", &w.step)])),
                cell(t_args("autonomy-wait-until", &[("when", &when(&ctx, w.until))])),
                cell(when(&ctx, w.since)),
            ]
        })
        .collect();
    let decision = |d: &lsn_ops::policy::Decision| {
        vec![
            link(format!("{} v{}", d.policy, d.version), "/admin/policies"),
            cell(format!("{}{}", d.facts, d.subject.as_deref().map(|s| format!(" · {s}")).unwrap_or_default())),
            cell(t(&format!(
                "autonomy-decision-{}",
                serde_json::to_value(d.outcome).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
            ))),
            cell(when(&ctx, d.decided_at)),
        ]
    };
    let decisions =
        o.escalations.iter().chain(o.decisions.iter().filter(|d| d.outcome != lsn_ops::policy::Outcome::Escalate)).map(decision).collect();
    let mut alerts: Vec<Vec<Cell>> = o
        .alerts
        .iter()
        .map(|a| {
            vec![
                link(format!("{} · {}", t(&format!("alert-severity-{}", a.severity)), a.alert_type), "/admin/alerts"),
                cell(&a.title),
                cell(t_args("admin-alert-count", &[("count", &a.occurrences.to_string()), ("sent", &a.notifications.to_string())])),
                cell(when(&ctx, a.last_at)),
            ]
        })
        .collect();
    alerts.extend(o.incidents.iter().map(|i| {
        vec![
            link(format!("{} · {}", i.severity, i.title), format!("/admin/incidents/{}", i.id)),
            cell(t("autonomy-incident-open")),
            cell(i.owner_id.clone().map(|_| t("autonomy-owned")).unwrap_or_else(|| t("autonomy-unowned"))),
            cell(String::new()),
        ]
    }));
    let person = o
        .tasks
        .iter()
        .map(|task| {
            vec![
                link(&task.title, "/admin/tasks"),
                cell(&task.detail),
                cell(if task.assignee_id.is_some() { t("autonomy-owned") } else { t("autonomy-unowned") }),
                cell(when(&ctx, task.created_at)),
            ]
        })
        .collect();
    let page = Page {
        chrome: ctx.chrome(&t("admin-nav-autonomy"), "admin", None).await,
        nav: ctx.nav(),
        active: "/admin/autonomy",
        error: None,
        mode: t(if s.cfg.enable_autonomous { "autonomy-mode-on" } else { "autonomy-mode-off" }),
        tables: vec![
            table("tasks", tasks),
            table("healing", healing),
            table("breakers", breakers),
            table("workflows", workflows),
            table("waits", waits),
            table("decisions", decisions),
            table("alerts", alerts),
            table("person", person),
        ],
    };
    Ok(ctx.render(lsn_ui::StatusCode::OK, &page))
}
