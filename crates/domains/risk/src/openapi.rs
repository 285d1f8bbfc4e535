//! The risk domain's part of `GET /api/openapi.json`.

use lsn_core::openapi::{obj, op, path_id, query, Who};
use serde_json::{json, Value};

/// The paths this module serves.
pub fn fragment() -> Value {
    let none = json!([]);
    let limit = || query("limit", json!({"type": "integer", "minimum": 1, "maximum": 1000}));
    let status = json!({"type": "string", "enum": ["approved", "review", "escalated", "declined"]});
    let codes: Vec<&str> = crate::check::REASONS.iter().map(|(c, _)| *c).collect();
    let entry = json!({"type": "object", "required": ["list", "kind", "value", "reason"], "properties": {
        "list": {"type": "string", "enum": ["block", "allow"]},
        "kind": {"type": "string", "enum": crate::lists::KINDS},
        "value": {"type": "string", "maxLength": 300, "description": "an e-mail, a domain, an IP or CIDR, a visitor id, a card as brand:last4 or its fingerprint, an address as JSON"},
        "reason": {"type": "string", "maxLength": 500},
        "expires_at": {"type": ["integer", "null"], "description": "ms since the epoch"}
    }, "additionalProperties": false});
    json!({
        "paths": {
            "/api/v1/admin/risk/dashboard": {"get": op("Fraud figures: score distribution, flagged, review queue, false positives, blocked entities", "risk", 200, obj(), &[401, 403], None, json!([query("days", json!({"type": "integer", "minimum": 1, "maximum": 365}))]), Who::Staff)},
            "/api/v1/admin/risk/checks": {"get": op("Fraud checks, newest first", "risk", 200, obj(), &[401, 403, 422], None, json!([query("status", status), query("reason", json!({"type": "string", "enum": codes})), limit()]), Who::Staff)},
            "/api/v1/admin/risk/checks/{order}": {"get": op("An order's fraud check: score, reasons, features, decision", "risk", 200, obj(), &[401, 403, 404], None, json!([path_id("order")]), Who::Staff)},
            "/api/v1/admin/risk/checks/{order}/rescore": {"post": op("Score an order again with what is known now", "risk", 200, obj(), &[401, 403, 404], None, json!([path_id("order")]), Who::Staff)},
            "/api/v1/admin/risk/queue": {"get": op("Held orders waiting for a review, oldest first", "risk", 200, obj(), &[401, 403], None, json!([limit()]), Who::Staff)},
            "/api/v1/admin/risk/queue/{order}": {"post": op("Approve (release) or decline (cancel or refund) a held order", "risk", 200, obj(), &[401, 403, 404, 409], Some(json!({"type": "object", "required": ["action"], "properties": {"action": {"type": "string", "enum": ["approve", "decline"]}, "note": {"type": "string", "maxLength": 1000}}, "additionalProperties": false})), json!([path_id("order")]), Who::Staff)},
            "/api/v1/admin/risk/lists": {
                "get": op("Allow and block list entries in force", "risk", 200, obj(), &[401, 403], None, json!([query("list", json!({"type": "string", "enum": ["block", "allow"]}))]), Who::Staff),
                "post": op("Add an allow or block list entry", "risk", 201, obj(), &[401, 403, 409], Some(entry), none.clone(), Who::Staff)
            },
            "/api/v1/admin/risk/lists/audit": {"get": op("Who added and removed list entries", "risk", 200, obj(), &[401, 403], None, json!([limit()]), Who::Staff)},
            "/api/v1/admin/risk/lists/{id}": {"delete": op("Remove a list entry", "risk", 200, obj(), &[401, 403, 404], None, json!([path_id("id")]), Who::Staff)},
            "/api/v1/admin/risk/labels": {"post": op("Record an order's outcome (a chargeback, a manual finding) for the model", "risk", 200, obj(), &[401, 403, 404], Some(json!({"type": "object", "required": ["order_id", "label", "source"], "properties": {"order_id": {"type": "string"}, "label": {"type": "string", "enum": ["fraud", "legit"]}, "source": {"type": "string", "enum": ["chargeback", "manual"]}, "note": {"type": "string"}}, "additionalProperties": false})), none.clone(), Who::Staff)},
            "/api/v1/admin/risk/reasons": {"get": op("Every reason code a check may give", "risk", 200, obj(), &[401, 403], None, none.clone(), Who::Staff)},
            "/api/v1/admin/risk/models": {"get": op("Model versions with their held-out figures, and the active one", "risk", 200, obj(), &[401, 403], None, none.clone(), Who::Staff)},
            "/api/v1/admin/risk/models/train": {"post": op("Train a new model version on the shop's labels (or the generated set)", "risk", 201, obj(), &[401, 403, 409], Some(json!({"type": "object", "properties": {"synthetic": {"type": "object", "required": ["seed", "orders"], "properties": {"seed": {"type": "integer", "minimum": 0}, "orders": {"type": "integer", "minimum": 1000, "maximum": 50000}}, "additionalProperties": false}}, "additionalProperties": false})), none.clone(), Who::Staff)},
            "/api/v1/admin/risk/models/{version}/activate": {"post": op("Score with this version (0: the baseline); activating an older one rolls back", "risk", 200, obj(), &[401, 403, 404], None, json!([path_id("version")]), Who::Staff)},
            "/api/v1/admin/risk/settings": {
                "get": op("The fraud check's settings", "risk", 200, obj(), &[401, 403], None, none.clone(), Who::Staff),
                "put": op("Change settings (outright decline score, minutes before a held order is escalated)", "risk", 200, obj(), &[401, 403], Some(json!({"type": "object", "properties": {"decline_at": {"type": "integer", "minimum": 0, "maximum": 100}, "stale_minutes": {"type": "integer", "minimum": 5, "maximum": 10080}}, "additionalProperties": false})), none.clone(), Who::Staff)
            }
        },
        "components": {"schemas": {}}
    })
}
