//! The policies for staff: list them with their versions in force, look into one (every
//! version), save a new version (checked first: a refusal saves nothing), put a version in force
//! (an older one rolls back), dry-run a proposed condition against the recent real decisions,
//! evaluate one over given facts (a trial, logged as a test only when asked), and the decisions.

use crate::app::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use lsn_core::i18n::t;
use lsn_core::openapi::{obj, op, path_id, query, Who};
use lsn_core::problem::{JsonBody, QueryArgs};
use lsn_core::ApiError;
use lsn_identity::access::{api_refusal, Routes};
use lsn_identity::AuthUser;
use lsn_ops::codes::{Code, OpsError};
use lsn_ops::policy::Proposal;
use serde::Deserialize;
use serde_json::{json, Value};

type ApiResult<T> = Result<T, ApiError>;

pub fn routed(state: &AppState) -> lsn_ops::Routed {
    use lsn_identity::access::{Access::*, Scope::*};
    let (router, table) = Routes::new(api_refusal)
        .get("/api/v1/admin/policies", Staff(Admin), list)
        .get("/api/v1/admin/policies/{name}", Staff(Admin), show)
        .post("/api/v1/admin/policies/{name}/versions", Staff(Admin), save)
        .post("/api/v1/admin/policies/{name}/versions/{version}/activate", Staff(Admin), activate)
        .post("/api/v1/admin/policies/{name}/dry-run", Staff(Admin), dry_run)
        .post("/api/v1/admin/policies/{name}/evaluate", Staff(Admin), evaluate)
        .get("/api/v1/admin/policy-decisions", Staff(Admin), decisions)
        .into_parts();
    lsn_ops::Routed::new(router.with_state(state.clone()), table)
}

pub fn openapi() -> Value {
    let name = || json!([path_id("name")]);
    let proposal = json!({
        "condition": {"type": "string", "maxLength": lsn_ops::policy::MAX_CONDITION},
        "escalation_threshold": {"type": "number"},
        "approval_required": {"type": "boolean"}
    });
    let mut save_body = proposal.clone();
    save_body["note"] = json!({"type": "string", "maxLength": 500});
    save_body["activate"] = json!({"type": "boolean", "default": true});
    let mut dry_body = proposal.clone();
    dry_body["limit"] = json!({"type": "integer", "default": lsn_ops::policy::DRY_RUN_CASES});
    let body = |props: Value, required: &[&str]| Some(json!({"type": "object", "properties": props, "required": required}));
    json!({"paths": {
        "/api/v1/admin/policies": {"get": op("Every policy with its version in force, its facts and its escalation", "operations", 200, obj(), &[401, 403], None, json!([]), Who::Staff)},
        "/api/v1/admin/policies/{name}": {"get": op("A policy and every version of it, the newest first", "operations", 200, obj(), &[401, 403, 404], None, name(), Who::Staff)},
        "/api/v1/admin/policies/{name}/versions": {"post": op("Save a new version (checked first; in force at once unless activate is false)", "operations", 201, obj(), &[400, 401, 403, 404], body(save_body, &["condition"]), name(), Who::Staff)},
        "/api/v1/admin/policies/{name}/versions/{version}/activate": {"post": op("Put a version in force (an older one: a rollback)", "operations", 200, obj(), &[400, 401, 403, 404], None, json!([path_id("name"), path_id("version")]), Who::Staff)},
        "/api/v1/admin/policies/{name}/dry-run": {"post": op("Replay the recent logged decisions under a proposed condition: how many outcomes change, and which", "operations", 200, obj(), &[400, 401, 403, 404], body(dry_body, &["condition"]), name(), Who::Staff)},
        "/api/v1/admin/policies/{name}/evaluate": {"post": op("Decide over given facts with the version in force (or the one named): a trial, logged as a test only when log is true", "operations", 200, obj(), &[400, 401, 403, 404, 422], body(json!({"facts": {"type": "object"}, "version": {"type": "integer"}, "log": {"type": "boolean"}}), &["facts"]), name(), Who::Staff)},
        "/api/v1/admin/policy-decisions": {"get": op("The newest policy decisions: version, facts, outcome, time (404: no policy of that name)", "operations", 200, obj(), &[400, 401, 403, 404], None, json!([query("policy", json!({"type": "string"})), query("limit", json!({"type": "integer", "maximum": 1000}))]), Who::Staff)}
    }})
}

/// A proposal from a JSON body: a condition (required), perhaps a threshold and the approval flag.
pub fn proposal(b: &Value) -> Result<Proposal, OpsError> {
    let condition = b["condition"].as_str().ok_or_else(|| OpsError::field(Code::InvalidCondition, "condition", t("policy-empty")))?;
    let escalation_threshold = match &b["escalation_threshold"] {
        Value::Null => None,
        v => Some(v.as_f64().ok_or_else(|| OpsError::field(Code::InvalidThreshold, "escalation_threshold", t("ops-threshold-number")))?),
    };
    let approval_required = match &b["approval_required"] {
        Value::Null => None,
        Value::Bool(v) => Some(*v),
        _ => return Err(OpsError::field(Code::InvalidCondition, "approval_required", t("policy-approval-flag"))),
    };
    Ok(Proposal { condition: condition.to_string(), escalation_threshold, approval_required })
}

/// A version number from the path (anything else is no such version).
fn version_of(v: &str) -> ApiResult<i64> {
    v.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(ApiError::not_found)
}

async fn list(State(s): State<AppState>, user: AuthUser) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    Ok(Json(json!({"policies": s.policies.list().await?})))
}

async fn show(State(s): State<AppState>, user: AuthUser, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    let (policy, versions) = s.policies.get(&name).await?;
    Ok(Json(json!({"policy": policy, "versions": versions})))
}

async fn save(State(s): State<AppState>, user: AuthUser, Path(name): Path<String>, JsonBody(b): JsonBody<Value>) -> ApiResult<Response> {
    user.require_staff()?;
    let p = proposal(&b)?;
    let activate = b["activate"].as_bool().unwrap_or(true);
    let v = s.policies.save(&name, &p, b["note"].as_str().unwrap_or_default(), activate, &user.actor().label).await?;
    Ok((StatusCode::CREATED, Json(json!({"policy": name, "version": v}))).into_response())
}

async fn activate(State(s): State<AppState>, user: AuthUser, Path((name, version)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    let v = s.policies.activate(&name, version_of(&version)?, &user.actor().label).await?;
    Ok(Json(json!({"policy": name, "version": v})))
}

async fn dry_run(
    State(s): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    let p = proposal(&b)?;
    let limit = b["limit"].as_i64().unwrap_or(lsn_ops::policy::DRY_RUN_CASES);
    Ok(Json(json!(s.policies.dry_run(&name, &p, limit).await?)))
}

async fn evaluate(
    State(s): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    let version = match &b["version"] {
        Value::Null => None,
        v => Some(v.as_i64().ok_or_else(ApiError::not_found)?),
    };
    let d = s.policies.evaluate(&name, &b["facts"], version, b["log"].as_bool().unwrap_or(false)).await?;
    Ok(Json(json!({"decision": d})))
}

#[derive(Deserialize)]
struct DecisionArgs {
    policy: Option<String>,
    limit: Option<i64>,
}

async fn decisions(State(s): State<AppState>, user: AuthUser, QueryArgs(q): QueryArgs<DecisionArgs>) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    let policy = q.policy.as_deref().filter(|p| !p.is_empty());
    if let Some(p) = policy {
        s.policies.kind(p)?;
    }
    Ok(Json(json!({"decisions": s.policies.decisions(policy, q.limit.unwrap_or(100)).await?})))
}
