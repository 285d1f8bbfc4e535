//! Application state, the composed router and the middleware stack.

use crate::metrics::{counter, gauge, HttpMetrics};
use crate::pages;
use axum::extract::{FromRef, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use lsn_core::problem::QueryArgs;
use lsn_core::{ApiError, Config, SharedClock};
use lsn_db::Db;
use lsn_identity::access::{api_refusal, Access, Routes};
use lsn_identity::{AuthUser, Identity};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

#[derive(Clone)]
pub struct AppState(std::sync::Arc<AppStateParts>);

impl std::ops::Deref for AppState {
    type Target = AppStateParts;
    fn deref(&self) -> &AppStateParts {
        &self.0
    }
}

/// What a [`AppState`] holds (reached through it by `Deref`).
pub struct AppStateParts {
    pub db: Db,
    /// The process's circuit breakers and its record of healing events (`lsn_ops::healing`).
    pub healing: lsn_ops::healing::Healing,
    pub cfg: Arc<Config>,
    pub clock: SharedClock,
    pub identity: Identity,
    pub commerce: lsn_commerce::Commerce,
    pub live: lsn_live::Live,
    pub creators: lsn_creators::Creators,
    pub risk: lsn_risk::Risk,
    pub metrics: Arc<HttpMetrics>,
    /// What every page knows about the shop, and who answers for each visitor (`lsn_ui`).
    pub site: Arc<lsn_ui::Site>,
    /// What the modules contribute beyond routes and background work, set once the runtime has
    /// folded them.
    pub folded: std::sync::OnceLock<Folded>,
    /// The policies' decisions (their kinds set once the modules are folded; a domain's module
    /// takes a clone to ask for decisions).
    pub policies: lsn_ops::Policies,
}

/// The modules' OpenAPI document, admin navigation, health checks, metrics and summary sections.
#[derive(Default)]
pub struct Folded {
    pub openapi: Value,
    pub nav: Vec<(&'static str, &'static str)>,
    pub health: Vec<Arc<dyn lsn_ops::HealthCheck>>,
    pub metrics: Vec<Arc<dyn lsn_ops::Metrics>>,
    pub summary: Vec<Arc<dyn lsn_ops::SummarySection>>,
    /// The durable workflow engine (what a person's decisions and cancellations go through).
    pub engine: Option<lsn_ops::Engine>,
    /// Every module's analytics sources (what `GET /api/v1/admin/analytics` lists).
    pub figures: lsn_ops::analytics::Sources,
    /// Every alert type the modules define.
    pub alert_types: Vec<lsn_ops::AlertType>,
}

impl Folded {
    pub fn from_wiring(w: &lsn_ops::Wiring) -> Self {
        Self {
            openapi: crate::openapi::document(&w.openapi_paths, &w.openapi_schemas),
            nav: {
                // The dashboard first, then each module's pages in the order they are folded.
                let mut nav: Vec<_> = w.nav.iter().map(|n| (n.path, n.label)).collect();
                nav.sort_by_key(|(path, _)| *path != "/admin");
                nav
            },
            health: w.health.clone(),
            metrics: w.metrics.clone(),
            summary: w.summary.clone(),
            engine: None,
            figures: Default::default(),
            alert_types: w.alert_types.values().copied().collect(),
        }
    }
}

impl FromRef<AppState> for lsn_live::Live {
    fn from_ref(s: &AppState) -> lsn_live::Live {
        s.live.clone()
    }
}

impl FromRef<AppState> for lsn_commerce::Commerce {
    fn from_ref(s: &AppState) -> lsn_commerce::Commerce {
        s.commerce.clone()
    }
}

impl FromRef<AppState> for Identity {
    fn from_ref(s: &AppState) -> Identity {
        s.identity.clone()
    }
}

impl AppState {
    pub fn new(db: Db, cfg: Arc<Config>, clock: SharedClock) -> Self {
        let identity = Identity::new(db.clone(), cfg.clone(), clock.clone());
        let healing = lsn_ops::healing::Healing::new(db.clone(), clock.clone(), lsn_ops::healing::Healing::node_name());
        let commerce = lsn_commerce::Commerce::new(db.clone(), cfg.clone(), clock.clone(), &healing);
        let live = lsn_live::Live::new(commerce.clone());
        let site = Arc::new(lsn_ui::Site {
            shop_name: cfg.shop_name.clone(),
            timezone: cfg.timezone,
            production: cfg.is_production(),
            session: Arc::new(lsn_identity::pages::PageSession(identity.clone())),
            badge: Arc::new(lsn_commerce::badge::CartBadge(commerce.clone())),
            nav: std::sync::OnceLock::new(),
        });
        let policies = lsn_ops::Policies::new(db.clone(), clock.clone());
        let data_key = cfg.provider("LSN_DATA_KEY").map(|k| k.expose().to_string()).unwrap_or_else(|| cfg.jwt_secret.expose().to_string());
        let creators = lsn_creators::Creators::new(
            live.clone(),
            identity.clone(),
            policies.clone(),
            lsn_creators::bank::Key::derive(&data_key),
            payout_providers(&cfg, &db, &clock),
            lsn_creators::Settings::from_env(|k| cfg.provider(k).map(|v| v.expose().to_string())),
        );
        let risk = lsn_risk::Risk::new(db.clone(), clock.clone(), commerce.clone(), identity.clone(), policies.clone());
        Self(Arc::new(AppStateParts {
            creators,
            risk,
            policies,
            healing,
            db,
            cfg,
            clock,
            identity,
            commerce,
            live,
            metrics: Arc::new(HttpMetrics::default()),
            site,
            folded: std::sync::OnceLock::new(),
        }))
    }

    /// What the modules contribute (empty until the runtime has folded them).
    pub fn folded(&self) -> &Folded {
        static NONE: std::sync::LazyLock<Folded> = std::sync::LazyLock::new(Folded::default);
        self.0.folded.get().unwrap_or(&NONE)
    }
}

/// The payout providers the configuration asks for: Wise with `WISE_API_TOKEN`, else the
/// sandbox (following the process's clock); Stripe Connect beside either with a real Stripe key.
fn payout_providers(cfg: &Config, db: &Db, clock: &SharedClock) -> lsn_creators::payouts::Providers {
    let connect = lsn_payouts::stripe_connect_from_config(cfg);
    match lsn_payouts::Wise::from_config(cfg, db.clone()) {
        Ok(Some(w)) => lsn_creators::payouts::Providers { bank: Arc::new(w), sandbox: None, connect },
        other => {
            if let Err(e) = other {
                tracing::error!(error = %e, "Wise is configured wrongly: payouts go to the sandbox");
            }
            let sb = Arc::new(lsn_payouts::Sandbox::new(db.clone()).with_clock(clock.clone()));
            lsn_creators::payouts::Providers { bank: sb.clone(), sandbox: Some(sb), connect }
        }
    }
}

/// The app as a module: its own API (health, metrics, the OpenAPI document, jobs, the
/// development mailbox, tRPC) and the site's pages with the admin navigation.
pub fn module(state: &AppState) -> lsn_ops::Module {
    use lsn_identity::access::{Access::*, Scope::*};
    let public = Access::PUBLIC;
    let (api, table) = Routes::new(api_refusal)
        .get("/healthz", public, healthz)
        .get("/readyz", public, readyz)
        .get("/metrics", public, metrics)
        .get("/api/openapi.json", public, |State(s): State<AppState>| async move { Json(s.folded().openapi.clone()) })
        .get("/api/v1/admin/mailbox", Staff(Admin), mailbox_json)
        .get("/api/v1/admin/jobs/schedules", Staff(Admin), schedules)
        .get("/api/v1/admin/jobs/history/{name}", Staff(Admin), history)
        .get("/api/v1/admin/jobs/queue", Staff(Admin), queue)
        .put("/api/v1/admin/jobs/schedules/{name}", Staff(Admin), retime)
        .post("/api/v1/admin/jobs/schedules/{name}/pause", Staff(Admin), pause)
        .post("/api/v1/admin/jobs/schedules/{name}/resume", Staff(Admin), resume)
        .post("/api/v1/admin/jobs/schedules/{name}/run", Staff(Admin), run_now)
        .get("/api/v1/admin/thresholds", Staff(Admin), crate::ops::thresholds)
        .put("/api/v1/admin/thresholds/{metric}", Staff(Admin), crate::ops::put_threshold)
        .get("/api/v1/admin/alerts", Staff(Admin), crate::ops::alerts)
        .post("/api/v1/admin/alerts/{id}/acknowledge", Staff(Admin), crate::ops::acknowledge)
        .post("/api/v1/admin/alerts/{id}/resolve", Staff(Admin), crate::ops::resolve_alert)
        .post("/api/v1/admin/alerts/silences", Staff(Admin), crate::ops::add_silence)
        .delete("/api/v1/admin/alerts/silences/{id}", Staff(Admin), crate::ops::end_silence)
        .get("/api/v1/admin/alerts/deliveries", Staff(Admin), crate::ops::deliveries)
        .post("/api/v1/admin/alerts/test/slack", Staff(Admin), crate::ops::trpc_send_slack)
        .post("/api/v1/admin/alerts/test/email", Staff(Admin), crate::ops::test_email)
        .get("/api/v1/admin/incidents", Staff(Admin), crate::ops::incidents)
        .post("/api/v1/admin/incidents", Staff(Admin), crate::ops::open_incident)
        .get("/api/v1/admin/incidents/{id}", Staff(Admin), crate::ops::incident)
        .post("/api/v1/admin/incidents/{id}/assign", Staff(Admin), crate::ops::assign_incident)
        .post("/api/v1/admin/incidents/{id}/notes", Staff(Admin), crate::ops::incident_note)
        .post("/api/v1/admin/incidents/{id}/resolve", Staff(Admin), crate::ops::resolve_incident)
        .put("/api/v1/admin/incidents/{id}/postmortem", Staff(Admin), crate::ops::postmortem)
        .post("/api/v1/admin/tasks/{id}/assign", Staff(Admin), crate::ops::assign_task)
        .post("/api/v1/admin/tasks/{id}/done", Staff(Admin), crate::ops::task_done)
        .post("/api/v1/admin/tasks/{id}/dismiss", Staff(Admin), crate::ops::task_dismiss)
        // Each procedure is checked with its own access (`trpc::PROCEDURES`).
        .route("ANY", "/api/trpc/{name}", public, axum::routing::any(crate::trpc::handle))
        .into_parts();
    let (site, site_table) = crate::site::router();
    let mut m = lsn_ops::Module::new("web")
        .job(crate::summary::DAILY_SUMMARY_JOB, Arc::new(crate::summary::DailySummary(state.clone())))
        .schedule(crate::summary::schedule())
        .schedule(crate::summary::weekly_schedule())
        .api(lsn_ops::Routed::new(api.with_state(state.clone()), table))
        .api(crate::workflows::routed(state))
        .openapi(crate::workflows::openapi())
        .api(crate::policies::routed(state))
        .openapi(crate::policies::openapi())
        .api(crate::autonomy::routed(state))
        .openapi(crate::autonomy::openapi())
        .pages(lsn_ops::Routed::new(site.with_state(state.clone()), site_table))
        .openapi(crate::openapi::fragment())
        .openapi(crate::ops::fragment())
        .alert_type(crate::ops::API_RATE_LIMIT)
        .raises(&[crate::ops::API_RATE_LIMIT.name])
        .undocumented("/metrics", "Prometheus text for a scraper, not JSON")
        .undocumented("/api/openapi.json", "the document itself");
    for (path, label) in crate::site::ADMIN_NAV {
        m = m.nav(path, label);
    }
    m
}

/// The largest request body LSN reads (2 MiB): over it, `payload_too_large`.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The whole app around the modules' merged routes: the fallback page and the middleware.
pub fn build_router(state: AppState, routes: Router) -> Router {
    let x_request_id = header::HeaderName::from_static("x-request-id");
    routes
        .fallback(pages::not_found)
        // `?ref={code}` on any page records a creator's referral click.
        .layer(middleware::from_fn_with_state(state.creators.clone(), lsn_creators::routes::referral_layer))
        // What each route's access check asks, and whom to believe about the client's address.
        .layer(axum::Extension(state.identity.clone()))
        .layer(axum::Extension(state.site.clone()))
        .layer(axum::Extension(lsn_identity::extract::TrustedProxies(Arc::new(state.cfg.trusted_proxies.clone()))))
        .layer(middleware::from_fn_with_state(state.identity.clone(), lsn_identity::csrf::protect))
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", lsn_core::i18n::t("error-internal")).into_response()
        }))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT))
        // Outside every refusal above, so each answers in its surface's shape and with the headers.
        .layer(middleware::from_fn(edge_errors))
        // Outside the refusals too, so every answer (an error page included) is in its language.
        .layer(middleware::from_fn_with_state(state.identity.clone(), request_context))
        .layer(middleware::from_fn_with_state(state.clone(), security_headers))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.extensions().get::<RequestId>().and_then(|r| r.header_value().to_str().ok()).unwrap_or("-").to_string();
            tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
        }))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
}

/// One middleware for what every request carries (one layer, not three, on the checkout's path):
/// its language — the `lsn_locale` cookie, then `Accept-Language`, then the default — in which
/// everything inside answers, said in `Content-Language`; and for a page (not `/api/`) the
/// request id its error page shows and the visitor-token check of its forms.
async fn request_context(State(identity): State<lsn_identity::Identity>, req: Request, next: Next) -> Response {
    // Read in place (no cookie jar, no copies): this runs on every request, the checkout's too.
    let cookie = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(lsn_core::i18n::LOCALE_COOKIE).and_then(|rest| rest.strip_prefix('=')));
    let accept = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let locale = lsn_core::i18n::Locale::negotiate(cookie, accept);
    let mut res = if req.uri().path().starts_with("/api/") {
        lsn_core::i18n::scope(locale, next.run(req)).await
    } else {
        let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
        lsn_core::i18n::scope(locale, lsn_ui::with_request_id(id, crate::site::visitor_csrf(State(identity), req, next))).await
    };
    res.headers_mut().insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(locale.tag()));
    res
}

/// Refusals made before a handler runs answer in the shape of the surface asked: a body over the
/// limit is the documented `payload_too_large` problem (a page for the site), not plain text;
/// and under `/api/trpc/` every problem (a refused CSRF token, origin, credential or size) is
/// turned into tRPC's error envelope, which is all a tRPC client can read.
async fn edge_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let batch = req.uri().query().is_some_and(|q| url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "batch" && v == "1"));
    let res = next.run(req).await;
    let status = res.status();
    if !status.is_client_error() && !status.is_server_error() {
        return res;
    }
    let json = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("application/json"));
    let res = if status == StatusCode::PAYLOAD_TOO_LARGE && !json {
        if path.starts_with("/api/") {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", lsn_core::i18n::t("error-payload-too-large")).into_response()
        } else {
            lsn_ui::error_response(StatusCode::PAYLOAD_TOO_LARGE)
        }
    } else {
        res
    };
    match path.strip_prefix("/api/trpc/") {
        Some(names) => crate::trpc::envelope(names, batch, res).await,
        None => res,
    }
}

async fn record_metrics(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
    let res = next.run(req).await;
    let route = route.unwrap_or_else(|| if res.status() == StatusCode::NOT_FOUND { "unmatched".into() } else { "other".into() });
    s.metrics.observe(&method, &route, res.status().as_u16(), start.elapsed().as_secs_f64());
    if res.status() == StatusCode::TOO_MANY_REQUESTS {
        crate::ops::rate_limited(&s, &route);
    }
    res
}

async fn security_headers(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("strict-origin-when-cross-origin"));
    // With Stripe keys the payment page loads Stripe.js and its card fields (iframes) from Stripe.
    let csp = if s.cfg.provider("STRIPE_SECRET_KEY").is_some() {
        "default-src 'self'; script-src 'self' https://js.stripe.com; frame-src https://js.stripe.com https://hooks.stripe.com; img-src 'self' data: https:; media-src 'self' https: blob:; connect-src 'self' wss: ws: https://api.stripe.com; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    } else {
        "default-src 'self'; img-src 'self' data: https:; media-src 'self' https: blob:; connect-src 'self' wss: ws:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    };
    h.insert("content-security-policy", HeaderValue::from_static(csp));
    if s.cfg.is_production() {
        h.insert("strict-transport-security", HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    res
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(s): State<AppState>) -> Response {
    let db = s.db.ping().await;
    let migrations = s.db.migration_status(crate::schema()).await;
    let db_ok = db.is_ok();
    let mig_ok = matches!(&migrations, Ok(m) if m.is_current());
    let mut checks = json!({
        "database": if db_ok { json!({"ok": true, "backend": s.db.backend().name()}) } else { json!({"ok": false}) },
        "migrations": match &migrations {
            Ok(m) => json!({"ok": m.is_current(), "applied": m.applied, "latest": m.latest}),
            Err(_) => json!({"ok": false}),
        },
    });
    let mut ready = db_ok && mig_ok;
    // The modules' own checks need the database: skip them when it is not there.
    if db_ok {
        for h in &s.folded().health {
            let c = h.check().await;
            ready &= c.ok;
            if !c.ok {
                tracing::warn!("readiness: {}: {}", c.name, c.detail);
            }
            checks[c.name] = json!({"ok": c.ok, "detail": c.detail});
        }
    }
    let body = json!({"status": if ready { "ready" } else { "not_ready" }, "checks": checks});
    if let Err(e) = &db {
        tracing::warn!("readiness: database: {e}");
    }
    let code = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body)).into_response()
}

async fn metrics(State(s): State<AppState>) -> Response {
    let mut out = String::new();
    s.metrics.render(&mut out);
    let pools: Vec<(String, f64)> =
        s.db.pool_stats()
            .iter()
            .flat_map(|(name, size, idle)| {
                [(format!("pool=\"{name}\",state=\"open\""), f64::from(*size)), (format!("pool=\"{name}\",state=\"idle\""), *idle as f64)]
            })
            .collect();
    gauge(&mut out, "lsn_db_pool_connections", "Database pool connections.", &pools);
    if let Some((commits, transactions)) = s.db.group_commit_stats() {
        counter(
            &mut out,
            "lsn_db_commits_total",
            "Groups of write transactions the SQLite writer took, one commit each (an abandoned group's are then committed one by one).",
            commits as f64,
        );
        counter(
            &mut out,
            "lsn_db_transactions_total",
            "Write transactions the SQLite writer took (committed or refused).",
            transactions as f64,
        );
    }
    if let Ok(depth) = lsn_ops::jobs::queue_depth(&s.db).await {
        let samples: Vec<(String, f64)> = depth.iter().map(|(st, n)| (format!("status=\"{st}\""), *n as f64)).collect();
        gauge(&mut out, "lsn_jobs", "Jobs by status.", &samples);
    }
    for m in &s.folded().metrics {
        m.render(&mut out).await;
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

#[derive(Deserialize)]
struct MailboxArgs {
    to: Option<String>,
    limit: Option<i64>,
}

async fn mailbox_json(State(s): State<AppState>, user: AuthUser, QueryArgs(q): QueryArgs<MailboxArgs>) -> Result<Json<Value>, ApiError> {
    user.require_staff()?;
    let to = q.to.map(|t| t.trim().to_lowercase());
    let mails = lsn_mail::list_mailbox(&s.db, to.as_deref(), q.limit.unwrap_or(50).clamp(1, 500)).await.map_err(ApiError::internal)?;
    Ok(Json(json!({ "messages": mails })))
}

async fn schedules(State(s): State<AppState>, user: AuthUser) -> Result<Json<Value>, ApiError> {
    user.require_staff()?;
    let rows = lsn_ops::schedule::list(&s.db).await.map_err(ApiError::internal)?;
    Ok(Json(json!({ "schedules": rows })))
}

#[derive(Deserialize)]
struct HistoryArgs {
    limit: Option<i64>,
}

async fn history(
    State(s): State<AppState>,
    user: AuthUser,
    axum::extract::Path(name): axum::extract::Path<String>,
    QueryArgs(q): QueryArgs<HistoryArgs>,
) -> Result<Json<Value>, ApiError> {
    user.require_staff()?;
    let rows = lsn_ops::schedule::history(&s.db, &name, q.limit.unwrap_or(30).clamp(1, 500)).await.map_err(ApiError::internal)?;
    Ok(Json(json!({ "name": name, "runs": rows })))
}

/// The scheduler as a person's controls see it (the shop's zone, `ENABLE_AUTONOMOUS`).
pub fn scheduler(s: &AppState) -> lsn_ops::schedule::Scheduler {
    lsn_ops::schedule::Scheduler::new(s.db.clone(), s.cfg.timezone, "admin", s.cfg.enable_autonomous)
}

/// A refused control as its problem: an unknown task is a 404, a bad expression `invalid_cron`.
pub fn control_error(e: lsn_ops::schedule::ControlError) -> ApiError {
    use lsn_ops::schedule::ControlError::*;
    match e {
        Unknown(_) => ApiError::not_found(),
        InvalidCron(m) => {
            let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid_cron", m.chars().take(200).collect::<String>());
            e.fields = Some(json!({ "cron": e.message.clone() }));
            e
        }
        Db(e) => ApiError::internal(e),
    }
}

#[derive(Deserialize)]
struct RetimeBody {
    cron: Option<String>,
}

async fn retime(
    State(s): State<AppState>,
    user: AuthUser,
    axum::extract::Path(name): axum::extract::Path<String>,
    lsn_core::problem::JsonBody(b): lsn_core::problem::JsonBody<RetimeBody>,
) -> Result<Json<Value>, ApiError> {
    user.require_staff()?;
    let row = scheduler(&s).set_cron(&name, b.cron.as_deref(), s.clock.now()).await.map_err(control_error)?;
    Ok(Json(json!({ "schedule": row })))
}

async fn set_paused(s: &AppState, name: &str, paused: bool) -> Result<Json<Value>, ApiError> {
    if !scheduler(s).set_enabled(name, !paused).await.map_err(ApiError::internal)? {
        return Err(ApiError::not_found());
    }
    let row = lsn_ops::schedule::get(&s.db, name).await.map_err(ApiError::internal)?.ok_or_else(ApiError::not_found)?;
    Ok(Json(json!({ "schedule": row })))
}

async fn pause(
    State(s): State<AppState>,
    user: AuthUser,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Result<Json<Value>, ApiError> {
    user.require_staff()?;
    set_paused(&s, &name, true).await
}

async fn resume(
    State(s): State<AppState>,
    user: AuthUser,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Result<Json<Value>, ApiError> {
    user.require_staff()?;
    set_paused(&s, &name, false).await
}

async fn run_now(
    State(s): State<AppState>,
    user: AuthUser,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    user.require_staff()?;
    let job = scheduler(&s).run_now(&name, s.clock.now()).await.map_err(control_error)?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "name": name, "job_id": job, "queued": job.is_some() }))).into_response())
}

async fn queue(State(s): State<AppState>, user: AuthUser) -> Result<Json<Value>, ApiError> {
    user.require_staff()?;
    let depth = lsn_ops::jobs::queue_depth(&s.db).await.map_err(ApiError::internal)?;
    Ok(Json(json!({ "queue": depth.into_iter().map(|(k, v)| (k, json!(v))).collect::<serde_json::Map<_, _>>() })))
}
