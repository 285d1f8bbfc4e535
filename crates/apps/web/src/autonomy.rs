//! The autonomy dashboard's JSON for staff: the runbook's "Autonomous Operations" in one answer
//! (`GET /api/v1/admin/autonomy`) and the self-healing record with every node's circuit breakers
//! (`GET /api/v1/admin/healing`). The page at `/admin/autonomy` shows the same.

use crate::app::AppState;
use axum::extract::State;
use axum::Json;
use lsn_core::openapi::{obj, op, query, Who};
use lsn_core::problem::QueryArgs;
use lsn_core::ApiError;
use lsn_identity::access::{api_refusal, Routes};
use lsn_identity::AuthUser;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routed(state: &AppState) -> lsn_ops::Routed {
    use lsn_identity::access::{Access::*, Scope::*};
    let (router, table) = Routes::new(api_refusal)
        .get("/api/v1/admin/autonomy", Staff(Admin), overview)
        .get("/api/v1/admin/healing", Staff(Admin), healing)
        .into_parts();
    lsn_ops::Routed::new(router.with_state(state.clone()), table)
}

pub fn openapi() -> Value {
    let limit = || query("limit", json!({"type": "integer", "minimum": 1, "maximum": 200}));
    json!({"paths": {
        "/api/v1/admin/autonomy": {"get": op("The autonomous operations: scheduled tasks, self-healing events and circuit breakers, workflow activity and waits for a person, policy decisions and escalations, alerts firing, open incidents and tasks", "operations", 200, obj(), &[400, 401, 403], None, json!([limit()]), Who::Staff)},
        "/api/v1/admin/healing": {"get": op("Self-healing events, newest first, and every node's circuit breakers", "operations", 200, obj(), &[400, 401, 403], None, json!([query("component", json!({"type": "string"})), limit()]), Who::Staff)}
    }})
}

#[derive(Deserialize)]
struct Args {
    limit: Option<i64>,
    component: Option<String>,
}

async fn overview(State(s): State<AppState>, user: AuthUser, QueryArgs(a): QueryArgs<Args>) -> Result<Json<Value>, ApiError> {
    user.require_staff()?;
    let o = lsn_ops::autonomy::overview(&s.db, &s.policies, a.limit.unwrap_or(20)).await?;
    let mut v = json!(o);
    v["autonomous"] = json!(s.cfg.enable_autonomous);
    v["node"] = json!({"id": s.healing.node_id(), "breakers": local(&s)});
    Ok(Json(v))
}

async fn healing(State(s): State<AppState>, user: AuthUser, QueryArgs(a): QueryArgs<Args>) -> Result<Json<Value>, ApiError> {
    user.require_staff()?;
    let limit = a.limit.unwrap_or(100).clamp(1, 1000);
    let events =
        lsn_ops::healing::events(&s.db, a.component.as_deref().filter(|c| !c.is_empty()), limit).await.map_err(ApiError::internal)?;
    let breakers = lsn_ops::healing::breakers(&s.db).await.map_err(ApiError::internal)?;
    Ok(Json(json!({"events": events, "breakers": breakers, "node": {"id": s.healing.node_id(), "breakers": local(&s)}})))
}

/// This node's breakers as it holds them now.
fn local(s: &AppState) -> Vec<Value> {
    s.healing.local().into_iter().map(|(name, state)| json!({"name": name, "state": state.as_str()})).collect()
}
