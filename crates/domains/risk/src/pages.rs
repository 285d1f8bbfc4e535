//! The admin's fraud page: the figures, the review queue with approve and decline (a note),
//! and the recent checks with their reasons.

use crate::check::Check;
use crate::routes::RouteState;
use crate::{Risk, RiskError};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::Form;
use lsn_core::i18n::{t, t_args};
use lsn_identity::access::Routes;
use lsn_identity::AuthUser;
use lsn_ui::table::{admin_notice, when};
use lsn_ui::{money, see_other, Chrome, Ctx, PageResult};
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Deserialize, Default)]
pub struct Args {
    notice: Option<String>,
}

struct Row {
    order_id: String,
    number: String,
    email: String,
    total: String,
    score: i64,
    status: String,
    reasons: String,
    when: String,
}

#[derive(Template)]
#[template(path = "admin_risk.html")]
struct AdminRisk {
    chrome: Chrome,
    nav: Vec<(&'static str, &'static str)>,
    active: &'static str,
    error: Option<String>,
    notice: Option<String>,
    figures: String,
    queue: Vec<Row>,
    recent: Vec<Row>,
}

fn row(ctx: &Ctx, c: &Check) -> Row {
    Row {
        order_id: c.order_id.clone(),
        number: c.number.clone(),
        email: c.email.clone(),
        total: money(c.total),
        score: c.score,
        status: t(&format!("admin-risk-status-{}", c.status)),
        reasons: c.reasons.iter().map(|r| r.code.as_str()).collect::<Vec<_>>().join(", "),
        when: when(ctx, c.at),
    }
}

async fn page(ctx: Ctx, State(r): State<Risk>, Query(q): Query<Args>) -> PageResult {
    let d = r.dashboard(1).await?;
    let n = |k: &str| d[k].as_i64().unwrap_or(0).to_string();
    let figures = t_args(
        "admin-risk-figures",
        &[("checked", &n("checked")), ("flagged", &n("flagged")), ("declined", &n("declined")), ("blocked", &n("blocked_entities"))],
    );
    let queue = r.queue(200).await?.iter().map(|c| row(&ctx, c)).collect();
    let recent = r.checks(None, 50).await?.iter().map(|c| row(&ctx, c)).collect();
    let page = AdminRisk {
        chrome: ctx.chrome(t("admin-nav-risk"), "admin", None).await,
        nav: ctx.nav(),
        active: "/admin/risk",
        error: None,
        notice: admin_notice(q.notice.as_deref()),
        figures,
        queue,
        recent,
    };
    Ok(ctx.ok(&page))
}

async fn decide(
    ctx: Ctx,
    user: AuthUser,
    State(r): State<Risk>,
    Path(order): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let action = f.get("action").map(String::as_str).unwrap_or("");
    let note = f.get("note").map(String::as_str).unwrap_or("");
    match r.review(&order, action, note, &user.user.id).await {
        Ok(c) if c.status == "approved" => Ok(see_other(ctx.jar.clone(), "/admin/risk?notice=risk_released")),
        Ok(_) => Ok(see_other(ctx.jar.clone(), "/admin/risk?notice=risk_declined")),
        Err(RiskError::Rule { .. }) | Err(RiskError::NotFound) | Err(RiskError::Validation(_)) => {
            Ok(see_other(ctx.jar.clone(), "/admin/risk?notice=risk_not_waiting"))
        }
        Err(e) => Err(e.into()),
    }
}

pub fn routes() -> Routes<RouteState> {
    use lsn_identity::access::{Access::*, Scope::*};
    let staff = Staff(Admin);
    Routes::new(lsn_identity::pages::refusal).get("/admin/risk", staff, page).post("/admin/risk/{order}/decision", staff, decide)
}
