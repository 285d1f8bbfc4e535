//! Pieces of the OpenAPI 3.1 document: each module describes its own operations with these
//! helpers, and the app merges the fragments into `GET /api/openapi.json`.

use serde_json::{json, Value};

pub fn err_responses(codes: &[u16]) -> Value {
    let mut m = serde_json::Map::new();
    for c in codes {
        m.insert(
            c.to_string(),
            json!({"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
    }
    Value::Object(m)
}

/// Who may call an operation: the document says it in `x-lsn-access`, and
/// `security::every_documented_operation_by_role` holds the server to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in account.
    SignedIn,
    /// The object's owner (a guest with its token), or staff; anyone else is told it is not there.
    Owner,
    /// Creators and staff.
    Creator,
    /// The show's host, or staff.
    Host,
    /// Staff only (admins and owners, or an API key with the scope).
    Staff,
}

impl Who {
    pub fn name(self) -> &'static str {
        match self {
            Who::Public => "public",
            Who::SignedIn => "signed-in",
            Who::Owner => "owner",
            Who::Creator => "creator",
            Who::Host => "host",
            Who::Staff => "staff",
        }
    }
}

#[expect(clippy::too_many_arguments, reason = "one argument per part of an OpenAPI operation keeps the table above readable")]
pub fn op(summary: &str, tag: &str, ok: u16, ok_schema: Value, errors: &[u16], body: Option<Value>, params: Value, access: Who) -> Value {
    let mut codes = errors.to_vec();
    if body.is_some() {
        // What every JSON body can earn: not JSON (400), too large (413), not declared as JSON
        // (415), not the expected fields (422).
        codes.extend([400, 413, 415, 422]);
    }
    if params.as_array().is_some_and(|ps| ps.iter().any(|p| p["in"] == "query")) {
        // A query string that does not parse (400) or a value out of range (422).
        codes.extend([400, 422]);
    }
    let mut responses = err_responses(&codes);
    responses[ok.to_string()] = json!({"description": "Success", "content": {"application/json": {"schema": ok_schema}}});
    let mut o = json!({"summary": summary, "tags": [tag], "parameters": params, "responses": responses});
    if let Some(b) = body {
        o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": b}}});
    }
    o["x-lsn-access"] = json!(access.name());
    if !matches!(access, Who::Public) {
        o["security"] = json!([{"session": []}, {"apiKey": []}]);
    }
    o
}

pub fn path_id(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "maxLength": 200}})
}

pub fn query(name: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema})
}

pub fn obj() -> Value {
    json!({"type": "object"})
}

pub fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

pub fn idem() -> Value {
    json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "maxLength": 255}})
}
