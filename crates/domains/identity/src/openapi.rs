//! Accounts, sign-in, API keys and their administration: this module's part of `GET /api/openapi.json`.

use lsn_core::openapi::{obj, op, path_id, query, r, Who};
use serde_json::{json, Value};

/// The paths and schemas this module serves.
pub fn fragment() -> Value {
    let none = json!([]);
    json!({
        "paths": {
            "/api/auth/register": {"post": op("Register (always 202; a confirmation link is mailed)", "identity", 202, obj(), &[400, 403, 415, 422, 429, 503], Some(json!({"type": "object", "required": ["email", "password"], "properties": {"email": {"type": "string"}, "name": {"type": "string"}, "password": {"type": "string"}}})), none.clone(), Who::Public)},
            "/api/auth/verify": {
                "get": op("Confirm an address from the mailed link", "identity", 303, obj(), &[400], None, json!([{"name": "token", "in": "query", "required": true, "schema": {"type": "string"}}]), Who::Public),
                "post": op("Confirm an address", "identity", 200, r("Session"), &[400, 403, 415, 422], Some(json!({"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}})), none.clone(), Who::Public)
            },
            "/api/auth/login": {"post": op("Sign in with a password", "identity", 200, r("Session"), &[400, 401, 403, 415, 422, 429, 503], Some(json!({"type": "object", "required": ["email", "password"], "properties": {"email": {"type": "string"}, "password": {"type": "string"}}})), none.clone(), Who::Public)},
            "/api/auth/logout": {"post": {"summary": "Sign out", "tags": ["identity"], "x-lsn-access": Who::Public.name(), "responses": {"204": {"description": "Signed out"}, "403": {"description": "CSRF token missing"}}}},
            "/api/auth/me": {"get": op("The signed-in user and the CSRF token", "identity", 200, obj(), &[401], None, none.clone(), Who::SignedIn)},
            "/api/auth/password/forgot": {"post": op("Mail a reset link (always 202)", "identity", 202, obj(), &[400, 403, 415, 422, 429], Some(json!({"type": "object", "required": ["email"], "properties": {"email": {"type": "string"}}})), none.clone(), Who::Public)},
            "/api/auth/password/reset": {"post": op("Set a new password with a reset token", "identity", 200, obj(), &[400, 403, 415, 422, 429, 503], Some(json!({"type": "object", "required": ["token", "password"], "properties": {"token": {"type": "string"}, "password": {"type": "string"}}})), none.clone(), Who::Public)},
            "/api/v1/api-keys": {
                "get": op("API keys of the caller (staff)", "identity", 200, obj(), &[401, 403], None, none.clone(), Who::Staff),
                "post": op("Create an API key (shown once)", "identity", 201, obj(), &[401, 403, 415, 422], Some(json!({"type": "object", "required": ["name", "scopes"], "properties": {"name": {"type": "string"}, "scopes": {"type": "array", "items": {"type": "string", "enum": ["catalog:read", "catalog:write", "orders:read", "orders:write", "live:write", "creators", "admin"]}}}})), none.clone(), Who::Staff)
            },
            "/api/v1/api-keys/{id}": {"delete": {"summary": "Revoke an API key", "tags": ["identity"], "x-lsn-access": Who::Staff.name(), "parameters": [path_id("id")], "security": [{"session": []}], "responses": {"204": {"description": "Revoked"}, "401": {"description": "Unauthenticated"}, "403": {"description": "Forbidden"}, "404": {"description": "No such key"}}}},
            "/api/v1/admin/users": {"get": op("Accounts (staff)", "admin", 200, obj(), &[400, 401, 403], None, json!([query("limit", json!({"type": "integer"}))]), Who::Staff)},
            "/api/v1/admin/users/{id}/role": {"post": op("Change a role (audited)", "admin", 200, obj(), &[401, 403, 404, 409, 415, 422], Some(json!({"type": "object", "required": ["role"], "properties": {"role": {"type": "string", "enum": ["customer", "creator", "admin", "owner"]}}})), json!([path_id("id")]), Who::Staff)},
            "/api/v1/admin/audit": {"get": op("Audit log, newest first", "admin", 200, obj(), &[400, 401, 403], None, json!([query("action", json!({"type": "string"})), query("before", json!({"type": "integer"})), query("limit", json!({"type": "integer"}))]), Who::Staff)},
            "/api/v1/admin/settings/{key}": {
                "get": op("A setting", "admin", 200, obj(), &[401, 403, 404], None, json!([path_id("key")]), Who::Staff),
                "put": op("Change a setting (audited)", "admin", 200, obj(), &[401, 403, 415, 422], Some(json!({"type": "object", "required": ["value"], "properties": {"value": {}}})), json!([path_id("key")]), Who::Staff)
            }
        },
        "components": {
            "schemas": {
                "Session": {"type": "object", "properties": {"user": {"type": "object"}, "csrf_token": {"type": "string"}}}
            }
        }
    })
}
