//! The workflow runs for staff: list them, look into one (its steps and timeline), deliver a
//! person's decision to a wait, cancel a run, retry a compensation that failed.

use crate::app::AppState;
use axum::extract::{Path, State};
use axum::Json;
use lsn_core::openapi::{obj, op, path_id, query, Who};
use lsn_core::problem::QueryArgs;
use lsn_core::ApiError;
use lsn_identity::access::{api_refusal, Routes};
use lsn_identity::AuthUser;
use lsn_ops::workflow::WorkflowError;
use serde::Deserialize;
use serde_json::{json, Value};

/// The statuses a run can be in (a filter outside them is refused).
pub const STATUSES: &[&str] = &["running", "compensating", "succeeded", "failed", "cancelled", "compensation_failed"];

pub fn routed(state: &AppState) -> lsn_ops::Routed {
    use lsn_identity::access::{Access::*, Scope::*};
    let (router, table) = Routes::new(api_refusal)
        .get("/api/v1/admin/workflows", Staff(Admin), list)
        .get("/api/v1/admin/workflows/{id}", Staff(Admin), show)
        .post("/api/v1/admin/workflows/{id}/signal/{step}", Staff(Admin), signal)
        .post("/api/v1/admin/workflows/{id}/cancel", Staff(Admin), cancel)
        .post("/api/v1/admin/workflows/{id}/retry", Staff(Admin), retry)
        .into_parts();
    lsn_ops::Routed::new(router.with_state(state.clone()), table)
}

pub fn openapi() -> Value {
    let id = || json!([path_id("id")]);
    json!({"paths": {
        "/api/v1/admin/workflows": {"get": op("Workflow runs, newest first, with the count by status", "operations", 200, obj(), &[400, 401, 403], None, json!([query("status", json!({"type": "string", "enum": STATUSES})), query("limit", json!({"type": "integer"}))]), Who::Staff)},
        "/api/v1/admin/workflows/{id}": {"get": op("A workflow run (by id or start key): its steps and timeline", "operations", 200, obj(), &[401, 403, 404], None, id(), Who::Staff)},
        "/api/v1/admin/workflows/{id}/signal/{step}": {"post": op("Deliver a decision or event to a run's wait step (the body is its payload)", "operations", 200, obj(), &[401, 403, 404, 409, 413], Some(json!({})), json!([path_id("id"), path_id("step")]), Who::Staff)},
        "/api/v1/admin/workflows/{id}/cancel": {"post": op("Cancel a running run: its done steps are compensated", "operations", 200, obj(), &[401, 403, 404, 409], None, id(), Who::Staff)},
        "/api/v1/admin/workflows/{id}/retry": {"post": op("Retry the compensation that failed", "operations", 200, obj(), &[401, 403, 404, 409], None, id(), Who::Staff)}
    }})
}

/// A refused workflow request as its problem, with the status of its code.
pub fn problem(e: WorkflowError) -> ApiError {
    match e {
        WorkflowError::Db(e) => ApiError::internal(e),
        WorkflowError::Definitions(e) => ApiError::internal(e),
        e => {
            let code = e.code();
            ApiError::new(code.status(), code.as_str(), e.to_string())
        }
    }
}

fn engine(s: &AppState) -> Result<&lsn_ops::Engine, ApiError> {
    s.folded().engine.as_ref().ok_or_else(|| ApiError::internal("the workflow engine is not built"))
}

#[derive(Deserialize)]
struct ListArgs {
    status: Option<String>,
    limit: Option<i64>,
}

async fn list(State(s): State<AppState>, user: AuthUser, QueryArgs(q): QueryArgs<ListArgs>) -> Result<Json<Value>, ApiError> {
    user.require_staff()?;
    if let Some(st) = &q.status {
        if !STATUSES.contains(&st.as_str()) {
            let mut e =
                ApiError::new(axum::http::StatusCode::BAD_REQUEST, "invalid_query", format!("status is one of {}", STATUSES.join(", ")));
            e.fields = Some(json!({"status": e.message.clone()}));
            return Err(e);
        }
    }
    let runs =
        lsn_ops::workflow::recent(&s.db, q.status.as_deref(), q.limit.unwrap_or(50).clamp(1, 500)).await.map_err(ApiError::internal)?;
    let counts = lsn_ops::workflow::counts(&s.db).await.map_err(ApiError::internal)?;
    Ok(Json(json!({"runs": runs, "counts": counts.into_iter().collect::<std::collections::BTreeMap<_, _>>()})))
}

async fn show(State(s): State<AppState>, user: AuthUser, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    user.require_staff()?;
    let (run, steps, events) = lsn_ops::workflow::detail(&s.db, &id).await.map_err(ApiError::internal)?.ok_or_else(ApiError::not_found)?;
    Ok(Json(json!({"run": run, "steps": steps, "events": events})))
}

async fn signal(
    State(s): State<AppState>,
    user: AuthUser,
    Path((id, step)): Path<(String, String)>,
    lsn_core::problem::JsonBody(payload): lsn_core::problem::JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    user.require_staff()?;
    // Who decided travels with the decision.
    let payload = match payload {
        Value::Object(mut m) => {
            m.insert("by".into(), json!(user.actor().label));
            Value::Object(m)
        }
        other => json!({"value": other, "by": user.actor().label}),
    };
    let run = engine(&s)?.signal(&id, &step, payload).await.map_err(problem)?;
    Ok(Json(json!({"run_id": run, "signalled": step})))
}

async fn cancel(State(s): State<AppState>, user: AuthUser, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    user.require_staff()?;
    engine(&s)?.cancel(&id, &user.actor().label).await.map_err(problem)?;
    Ok(Json(json!({"run_id": id, "status": "compensating"})))
}

async fn retry(State(s): State<AppState>, user: AuthUser, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    user.require_staff()?;
    engine(&s)?.retry_compensation(&id, &user.actor().label).await.map_err(problem)?;
    Ok(Json(json!({"run_id": id, "status": "compensating"})))
}
