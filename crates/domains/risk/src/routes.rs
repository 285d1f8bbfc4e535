//! The risk domain's HTTP surface, for staff: checks and their reasons, the review queue and its
//! decisions, the allow and block lists with their audit, outcomes (labels), settings and the
//! dashboard's figures. The thresholds and the rule are the `fraud_review` policy's, edited,
//! versioned and tried through the operations API (`/api/v1/admin/policies/fraud_review`).

use crate::lists::NewEntry;
use crate::{Risk, RiskError};
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::Json;
use lsn_core::problem::{JsonBody, QueryArgs};
use lsn_core::ApiError;
use lsn_identity::access::{api_refusal, Routes};
use lsn_identity::{AuthUser, Identity};
use serde::Deserialize;
use serde_json::{json, Value};

type ApiResult<T> = Result<T, ApiError>;

#[derive(Clone)]
pub struct RouteState {
    pub risk: Risk,
    pub identity: Identity,
}

impl FromRef<RouteState> for Risk {
    fn from_ref(s: &RouteState) -> Risk {
        s.risk.clone()
    }
}

impl FromRef<RouteState> for Identity {
    fn from_ref(s: &RouteState) -> Identity {
        s.identity.clone()
    }
}

pub fn api() -> Routes<RouteState> {
    use lsn_identity::access::{Access::*, Scope::*};
    let staff = Staff(Admin);
    Routes::new(api_refusal)
        .get("/api/v1/admin/risk/dashboard", staff, dashboard)
        .get("/api/v1/admin/risk/checks", staff, checks)
        .get("/api/v1/admin/risk/checks/{order}", staff, check_get)
        .post("/api/v1/admin/risk/checks/{order}/rescore", staff, rescore)
        .get("/api/v1/admin/risk/queue", staff, queue)
        .post("/api/v1/admin/risk/queue/{order}", staff, decide)
        .get("/api/v1/admin/risk/lists", staff, lists)
        .post("/api/v1/admin/risk/lists", staff, list_add)
        .get("/api/v1/admin/risk/lists/audit", staff, list_audit)
        .delete("/api/v1/admin/risk/lists/{id}", staff, list_remove)
        .post("/api/v1/admin/risk/labels", staff, label)
        .get("/api/v1/admin/risk/reasons", staff, reasons)
        .get("/api/v1/admin/risk/models", staff, models)
        .post("/api/v1/admin/risk/models/train", staff, train)
        .post("/api/v1/admin/risk/models/{version}/activate", staff, activate)
        .get("/api/v1/admin/risk/settings", staff, settings_get)
        .put("/api/v1/admin/risk/settings", staff, settings_put)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChecksArgs {
    status: Option<String>,
    /// Only checks that gave this reason code.
    reason: Option<String>,
    limit: Option<i64>,
}

const STATUSES: &[&str] = &["approved", "review", "escalated", "declined"];

async fn checks(State(r): State<Risk>, QueryArgs(q): QueryArgs<ChecksArgs>) -> ApiResult<Json<Value>> {
    if q.status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        return Err(RiskError::field("status", lsn_core::i18n::t("risk-status")).into());
    }
    if let Some(code) = q.reason.as_deref().filter(|c| !crate::check::known_reason(c)) {
        return Err(RiskError::rule(crate::Code::UnknownReason, lsn_core::i18n::t_args("risk-unknown-reason", &[("code", code)])).into());
    }
    let mut list = r.checks(q.status.as_deref(), q.limit.unwrap_or(100)).await?;
    if let Some(code) = &q.reason {
        list.retain(|c| c.reasons.iter().any(|x| &x.code == code));
    }
    Ok(Json(json!({"checks": list})))
}

async fn check_get(State(r): State<Risk>, Path(order): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"check": r.check(&order).await?.ok_or(RiskError::NotFound)?})))
}

async fn rescore(State(r): State<Risk>, Path(order): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"check": r.rescore(&order).await?.ok_or(RiskError::NotFound)?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Limit {
    limit: Option<i64>,
}

async fn queue(State(r): State<Risk>, QueryArgs(q): QueryArgs<Limit>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"queue": r.queue(q.limit.unwrap_or(100)).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    action: String,
    #[serde(default)]
    note: String,
}

async fn decide(
    State(r): State<Risk>,
    user: AuthUser,
    Path(order): Path<String>,
    JsonBody(d): JsonBody<Decision>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"check": r.review(&order, &d.action, &d.note, &user.user.id).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    list: Option<String>,
}

async fn lists(State(r): State<Risk>, QueryArgs(q): QueryArgs<ListArgs>) -> ApiResult<Json<Value>> {
    if q.list.as_deref().is_some_and(|l| !["block", "allow"].contains(&l)) {
        return Err(RiskError::field("list", lsn_core::i18n::t("risk-list-list")).into());
    }
    Ok(Json(json!({"entries": r.entries(q.list.as_deref()).await?})))
}

async fn list_add(State(r): State<Risk>, user: AuthUser, JsonBody(e): JsonBody<NewEntry>) -> ApiResult<(StatusCode, Json<Value>)> {
    Ok((StatusCode::CREATED, Json(json!({"entry": r.add_entry(&e, &user.user.id).await?}))))
}

async fn list_remove(State(r): State<Risk>, user: AuthUser, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"removed": r.remove_entry(&id, &user.user.id).await?})))
}

async fn list_audit(State(r): State<Risk>, QueryArgs(q): QueryArgs<Limit>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"audit": r.list_audit(q.limit.unwrap_or(100)).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelInput {
    order_id: String,
    label: String,
    /// Where the outcome came from: `chargeback` or `manual`.
    source: String,
    #[serde(default)]
    note: String,
}

async fn label(State(r): State<Risk>, JsonBody(l): JsonBody<LabelInput>) -> ApiResult<Json<Value>> {
    if !["chargeback", "manual"].contains(&l.source.as_str()) {
        return Err(RiskError::field("source", lsn_core::i18n::t("risk-label-source")).into());
    }
    r.check(&l.order_id).await?.ok_or(RiskError::NotFound)?;
    Ok(Json(json!({"recorded": r.label(&l.order_id, &l.label, &l.source, &l.note).await?})))
}

async fn reasons() -> Json<Value> {
    Json(json!({"reasons": crate::check::REASONS.iter().map(|(c, d)| json!({"code": c, "detail": d})).collect::<Vec<_>>()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Days {
    days: Option<i64>,
}

async fn dashboard(State(r): State<Risk>, QueryArgs(q): QueryArgs<Days>) -> ApiResult<Json<Value>> {
    Ok(Json(r.dashboard(q.days.unwrap_or(7)).await?))
}

async fn settings_get(State(r): State<Risk>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"settings": r.settings().await?})))
}

async fn settings_put(State(r): State<Risk>, user: AuthUser, JsonBody(v): JsonBody<Value>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"settings": r.update_settings(&v, &user.user.id).await?})))
}

async fn models(State(r): State<Risk>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"models": r.versions().await?, "active": r.weights().await?.version})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainInput {
    /// Train on the generated set (`{"seed": 1, "orders": 25000}`) instead of the shop's labels.
    synthetic: Option<Synthetic>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Synthetic {
    seed: u64,
    orders: usize,
}

async fn train(State(r): State<Risk>, user: AuthUser, JsonBody(t): JsonBody<TrainInput>) -> ApiResult<(StatusCode, Json<Value>)> {
    if let Some(s) = &t.synthetic {
        if !(1_000..=50_000).contains(&s.orders) {
            return Err(RiskError::field("synthetic.orders", lsn_core::i18n::t("risk-train-orders")).into());
        }
    }
    let v = r.train(t.synthetic.map(|s| (s.seed, s.orders)), &user.user.id).await?;
    Ok((StatusCode::CREATED, Json(json!({"model": v}))))
}

async fn activate(State(r): State<Risk>, Path(version): Path<String>) -> ApiResult<Json<Value>> {
    let v: i64 = version
        .parse()
        .ok()
        .filter(|v| *v >= 0)
        .ok_or_else(|| RiskError::rule(crate::Code::UnknownModel, lsn_core::i18n::t("risk-unknown-model")))?;
    Ok(Json(json!({"model": r.activate(v).await?})))
}
