//! `GET /api/v1/admin/analytics`: the analytics aggregation's figures for staff — every metric
//! the modules measure, or one metric by day and by 15-minute bucket for the last 24 hours.

use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
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
    let (router, table) = Routes::new(api_refusal).get("/api/v1/admin/analytics", Staff(Admin), figures_of).into_parts();
    lsn_ops::Routed::new(router.with_state(state.clone()), table)
}

pub fn openapi() -> Value {
    json!({"paths": {
        "/api/v1/admin/analytics": {"get": op("The aggregated figures: the metrics measured, or one metric by day (in the shop's time zone) and by 15 minutes over the last 24 hours", "operations", 200, obj(), &[400, 401, 403], None, json!([query("metric", json!({"type": "string"})), query("days", json!({"type": "integer", "minimum": 1, "maximum": 90}))]), Who::Staff)}
    }})
}

#[derive(Deserialize)]
struct Args {
    metric: Option<String>,
    days: Option<i64>,
}

async fn figures_of(State(s): State<AppState>, user: AuthUser, QueryArgs(q): QueryArgs<Args>) -> Result<Json<Value>, ApiError> {
    user.require_staff()?;
    let metrics = s.folded().figures.metrics();
    let computed_at = lsn_ops::analytics::last_computed(&s.db).await.map_err(ApiError::internal)?;
    let Some(name) = q.metric else {
        return Ok(Json(json!({"metrics": metrics, "computed_at": computed_at})));
    };
    let Some(metric) = metrics.iter().copied().find(|m| m.name == name) else {
        let names: Vec<&str> = metrics.iter().map(|m| m.name).collect();
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "unknown_metric", format!("metric is one of {}", names.join(", ")));
        e.fields = Some(json!({"metric": e.message.clone()}));
        return Err(e);
    };
    let days = q.days.unwrap_or(14);
    if !(1..=90).contains(&days) {
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", "days is from 1 to 90");
        e.fields = Some(json!({"days": e.message.clone()}));
        return Err(e);
    }
    let now = s.clock.now_ms();
    let tz = s.cfg.timezone;
    let daily = lsn_ops::analytics::daily(&s.db, metric, tz, now, days as usize).await.map_err(ApiError::internal)?;
    let today = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default().with_timezone(&tz).date_naive();
    let by_day: Vec<Value> = daily
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let date = today - chrono::Duration::days((daily.len() - 1 - i) as i64);
            json!({"date": date.format("%Y-%m-%d").to_string(), "value": v})
        })
        .collect();
    let recent = lsn_ops::analytics::series(&s.db, metric.name, now - 86_400_000, now + lsn_ops::analytics::BUCKET_MS)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "metric": metric,
        "days": by_day,
        "last_24h": recent.iter().map(|(b, v)| json!({"bucket": b, "value": v})).collect::<Vec<_>>(),
        "computed_at": computed_at,
    })))
}
