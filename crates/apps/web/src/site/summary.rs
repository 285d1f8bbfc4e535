//! The admin's summary page: the latest daily summary (yesterday's) or weekly report, or the one
//! of a day asked for, as the mail shows it (its chart images embedded in the page), with its
//! CSV files to download.

use super::{Chrome, Ctx, PageError, PageResult};
use askama::Template;
use axum::extract::{Path, Query};
use axum::http::header;
use axum::response::IntoResponse;
use lsn_core::i18n::t;
use lsn_ops::summary::{Cadence, Period};
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct SummaryArgs {
    date: Option<String>,
    weekly: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_summary.html")]
struct SummaryPage {
    chrome: Chrome,
    nav: Vec<(&'static str, &'static str)>,
    active: &'static str,
    error: Option<String>,
    r: lsn_mails::SummaryView,
    tr: lsn_mails::Tr,
    date: String,
    weekly: bool,
    /// The query that names this report (for the file links).
    query: String,
}

/// The period the page's query asks for; `Err` is the message of a day that is no date.
fn period(ctx: &Ctx, a: &SummaryArgs) -> Result<Period, String> {
    let tz = ctx.state.cfg.timezone;
    let today = ctx.state.clock.now().with_timezone(&tz).date_naive();
    let cadence = if a.weekly.as_deref().is_some_and(|w| !w.is_empty() && w != "0") { Cadence::Weekly } else { Cadence::Daily };
    match a.date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(Period::due(cadence, tz, today)),
        Some(d) => match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(date) if cadence == Cadence::Weekly => Ok(Period::weekly(tz, date)),
            Ok(date) => Ok(Period::daily(tz, date)),
            Err(_) => Err(t("admin-summary-bad-date")),
        },
    }
}

pub async fn page(ctx: Ctx, Query(a): Query<SummaryArgs>) -> PageResult {
    lsn_identity::pages::staff(&ctx.user)?;
    let (p, error) = match period(&ctx, &a) {
        Ok(p) => (p, None),
        // A day that is no date shows the latest report and says why (a 400, nothing changed).
        Err(e) => (period(&ctx, &SummaryArgs { weekly: a.weekly.clone(), date: None }).map_err(PageError::internal)?, Some(e)),
    };
    let report = crate::summary::report(&ctx.state, p).await;
    let (r, _) = lsn_mails::SummaryView::new(&report, lsn_mails::Images::Embedded).map_err(PageError::internal)?;
    let weekly = p.cadence == Cadence::Weekly;
    let date = p.last.format("%Y-%m-%d").to_string();
    let page = SummaryPage {
        chrome: ctx.chrome(t("admin-nav-summary"), "admin", None).await,
        nav: ctx.nav(),
        active: "/admin/summary",
        query: format!("date={date}{}", if weekly { "&weekly=1" } else { "" }),
        error: error.clone(),
        r,
        tr: lsn_mails::Tr,
        date,
        weekly,
    };
    let status = if error.is_some() { lsn_ui::StatusCode::BAD_REQUEST } else { lsn_ui::StatusCode::OK };
    Ok(ctx.render(status, &page))
}

/// One of the report's CSV files (`orders-2026-12-01.csv`).
pub async fn file(ctx: Ctx, Path(name): Path<String>, Query(a): Query<SummaryArgs>) -> PageResult {
    lsn_identity::pages::staff(&ctx.user)?;
    let p = period(&ctx, &a).map_err(|_| PageError::status(lsn_ui::StatusCode::BAD_REQUEST))?;
    let report = crate::summary::report(&ctx.state, p).await;
    let Some((file, bytes)) = report.files().into_iter().find(|(f, _)| *f == name) else {
        return Err(PageError::status(lsn_ui::StatusCode::NOT_FOUND));
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
        ],
        bytes,
    )
        .into_response())
}
