//! The shop in the browser, as the app serves it: the site's route table and the pages that
//! are not yet in their domains' crates. The chrome they share (layout, forms, error pages,
//! tables, assets and the request context) is `lsn_ui`'s; every form is a plain HTML form that
//! works without JavaScript, validated on the server and shown again with field-level messages
//! and the user's input kept.
//!
//! CSRF: a signed-in visitor's forms carry the session's token (checked by
//! `lsn_identity::csrf::protect`); a visitor without a session gets a random `lsn_visitor`
//! cookie and their forms carry its HMAC, checked here by [`visitor_csrf`].

pub(crate) mod account;
mod admin;
pub use admin::ADMIN_NAV;
mod autonomy;
mod home;
mod ops;
mod summary;
#[cfg(test)]
mod text_lint;

use crate::app::AppState;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use axum_extra::extract::CookieJar;
use lsn_identity::access::{Access, RouteAccess, Routes};
use lsn_identity::csrf::visitor_matches;
use lsn_identity::service::SESSION_COOKIE;
use lsn_identity::Identity;
pub use lsn_ui::{money, see_other, Chrome, FormState, PageError, PageResult, VISITOR_COOKIE};

/// The site's pages and forms, each with who may open or send it (`lsn_identity::access`, the
/// same check as the API's), and the route table the access tests walk.
pub fn router() -> (Router<AppState>, Vec<RouteAccess>) {
    use lsn_identity::access::{Access::*, Scope::*};
    let public = Access::PUBLIC;
    let staff = Staff(Admin);
    let pages = Routes::new(lsn_identity::pages::refusal)
        .get("/", public, home::home)
        .get("/admin", staff, admin::dashboard)
        .get("/admin/jobs", staff, admin::jobs)
        .post("/admin/jobs/retime", staff, admin::job_retime)
        .post("/admin/jobs/{name}/control", staff, admin::job_control)
        .get("/admin/mailbox", staff, admin::mailbox)
        .get("/admin/summary", staff, summary::page)
        .get("/admin/summary/files/{name}", staff, summary::file)
        .get("/admin/alerts", staff, ops::alerts)
        .post("/admin/alerts/silence", staff, ops::alert_silence)
        .post("/admin/alerts/{id}/control", staff, ops::alert_control)
        .get("/admin/thresholds", staff, ops::thresholds)
        .post("/admin/thresholds", staff, ops::threshold_update)
        .get("/admin/incidents", staff, ops::incidents)
        .post("/admin/incidents", staff, ops::incident_open)
        .get("/admin/incidents/{id}", staff, ops::incident)
        .post("/admin/incidents/{id}", staff, ops::incident_update)
        .get("/admin/tasks", staff, ops::tasks)
        .post("/admin/tasks/{id}/control", staff, ops::task_control)
        .get("/admin/autonomy", staff, autonomy::dashboard)
        .get("/admin/policies", staff, ops::policies)
        .post("/admin/policies", staff, ops::policy_save)
        .post("/admin/policies/{name}/versions/{version}/control", staff, ops::policy_control)
        // A visitor who is not signed in is sent to log in (and back) by the page itself.
        .get("/account", public, account::account)
        .post("/account/password", Session, account::change_password);

    let assets = Routes::new(lsn_identity::pages::refusal)
        .get("/static/{file}", public, lsn_ui::assets::serve)
        .get("/sw.js", public, lsn_ui::assets::service_worker)
        .get("/manifest.webmanifest", public, lsn_ui::assets::manifest)
        .get("/offline", public, lsn_ui::offline);
    let (pages, mut table) = pages.into_parts();
    let (assets, asset_table) = assets.into_parts();
    table.extend(asset_table);
    (pages.merge(assets), table)
}

/// Refuses a page's form post without a session unless it carries the visitor cookie's token
/// (every module's pages: the app installs it around the whole router; the API is not a form).
pub async fn visitor_csrf(State(id): State<Identity>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || req.uri().path().starts_with("/api/") || lsn_identity::extract::bearer_key(req.headers()).is_some() {
        return next.run(req).await;
    }
    let jar = CookieJar::from_headers(req.headers());
    if jar.get(SESSION_COOKIE).is_some() {
        return next.run(req).await; // checked by lsn_identity::csrf::protect
    }
    let visitor = jar.get(VISITOR_COOKIE).map(|c| c.value().to_string());
    // A body declared over the limit is refused before any of it is read (as the body limit
    // inside would), rather than waited for.
    let declared = req.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > crate::app::BODY_LIMIT as u64) {
        return PageError::status(StatusCode::PAYLOAD_TOO_LARGE).into_response();
    }
    let Some((req, token)) = lsn_identity::csrf::form_token(req).await else {
        return PageError::status(StatusCode::PAYLOAD_TOO_LARGE).into_response();
    };
    match (visitor, token) {
        (Some(v), Some(t)) if visitor_matches(&id, &v, &t) => next.run(req).await,
        _ => PageError::status(StatusCode::FORBIDDEN).into_response(),
    }
}

/// The app's page context (its composed pages: home, account, the dashboard, jobs, mailbox).
pub type Ctx = lsn_identity::pages::Page<AppState>;
