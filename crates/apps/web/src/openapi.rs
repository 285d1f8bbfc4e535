//! `GET /api/openapi.json`: the OpenAPI 3.1 description of LSN's JSON API, merged from every
//! module's fragment (`lsn_ops::Module::openapi`); the app's own operations are below.

use lsn_core::openapi::{obj, op, path_id, query, Who};
use serde_json::{json, Value};

/// The operations the app serves itself (health, jobs, the development mailbox).
pub fn fragment() -> Value {
    let none = json!([]);
    json!({
        "paths": {
            "/healthz": {"get": op("Liveness", "operations", 200, obj(), &[], None, none.clone(), Who::Public)},
            "/readyz": {"get": op("Readiness: database and migrations", "operations", 200, obj(), &[503], None, none.clone(), Who::Public)},
            "/api/v1/admin/jobs/schedules": {"get": op("Scheduled tasks", "operations", 200, obj(), &[401, 403], None, none.clone(), Who::Staff)},
            "/api/v1/admin/jobs/history/{name}": {"get": op("Runs of a schedule or job kind", "operations", 200, obj(), &[400, 401, 403], None, json!([path_id("name"), query("limit", json!({"type": "integer"}))]), Who::Staff)},
            "/api/v1/admin/jobs/schedules/{name}": {"put": op("Re-time a scheduled task (cron in the shop's time zone; null: the code's)", "operations", 200, obj(), &[401, 403, 404], Some(json!({"type": "object", "properties": {"cron": {"type": ["string", "null"]}}})), json!([path_id("name")]), Who::Staff)},
            "/api/v1/admin/jobs/schedules/{name}/pause": {"post": op("Pause a scheduled task", "operations", 200, obj(), &[401, 403, 404], None, json!([path_id("name")]), Who::Staff)},
            "/api/v1/admin/jobs/schedules/{name}/resume": {"post": op("Resume a paused task", "operations", 200, obj(), &[401, 403, 404], None, json!([path_id("name")]), Who::Staff)},
            "/api/v1/admin/jobs/schedules/{name}/run": {"post": op("Run a scheduled task now", "operations", 202, obj(), &[401, 403, 404], None, json!([path_id("name")]), Who::Staff)},
            "/api/v1/admin/jobs/queue": {"get": op("Job queue depth", "operations", 200, obj(), &[401, 403], None, none.clone(), Who::Staff)},
            "/api/v1/admin/mailbox": {"get": op("Development mailbox", "operations", 200, obj(), &[400, 401, 403], None, json!([query("to", json!({"type": "string"})), query("limit", json!({"type": "integer"}))]), Who::Staff)}
        },
        "components": {
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "fields": {"type": "object"}}}}}
            }
        }
    })
}

/// The whole document from the modules' merged paths and schemas.
pub fn document(paths: &serde_json::Map<String, Value>, schemas: &serde_json::Map<String, Value>) -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "LSN — Live Shopping Network API", "version": env!("CARGO_PKG_VERSION"),
            "description": "JSON API of LSN. Money is integer cents (AUD, GST included). Cookie-authenticated changes need the X-CSRF-Token header from /api/auth/me; API keys go in Authorization: Bearer. Errors are {\"error\":{\"code\",\"message\",\"fields\"?}}."},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "lsn_session"},
                "apiKey": {"type": "http", "scheme": "bearer", "description": "lsn_… API key"}
            },
            "schemas": schemas
        }
    })
}
