//! `GET /api/openapi.json`: the OpenAPI 3.1 description of LSN's JSON API.

use serde_json::{json, Value};

fn err_responses(codes: &[u16]) -> Value {
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
#[derive(Debug, Clone, Copy)]
enum Access {
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

impl Access {
    fn name(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::SignedIn => "signed-in",
            Access::Owner => "owner",
            Access::Creator => "creator",
            Access::Host => "host",
            Access::Staff => "staff",
        }
    }
}

#[expect(clippy::too_many_arguments, reason = "one argument per part of an OpenAPI operation keeps the table above readable")]
fn op(summary: &str, tag: &str, ok: u16, ok_schema: Value, errors: &[u16], body: Option<Value>, params: Value, access: Access) -> Value {
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
    if !matches!(access, Access::Public) {
        o["security"] = json!([{"session": []}, {"apiKey": []}]);
    }
    o
}

fn path_id(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "maxLength": 200}})
}

fn query(name: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema})
}

fn obj() -> Value {
    json!({"type": "object"})
}

fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn idem() -> Value {
    json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "maxLength": 255}})
}

pub fn document() -> Value {
    let none = json!([]);
    let search = json!([
        query("q", json!({"type": "string"})),
        query("category", json!({"type": "string"})),
        query("tag", json!({"type": "string"})),
        query("min_price", json!({"type": "integer"})),
        query("max_price", json!({"type": "integer"})),
        query("in_stock", json!({"type": "boolean"})),
        query("status", json!({"type": "string", "enum": ["draft", "active", "archived"]})),
        query("cursor", json!({"type": "string"})),
        query("limit", json!({"type": "integer", "minimum": 1, "maximum": 100}))
    ]);
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "LSN — Live Shopping Network API", "version": env!("CARGO_PKG_VERSION"),
            "description": "JSON API of LSN. Money is integer cents (AUD, GST included). Cookie-authenticated changes need the X-CSRF-Token header from /api/auth/me; API keys go in Authorization: Bearer. Errors are {\"error\":{\"code\",\"message\",\"fields\"?}}."},
        "paths": {
            "/healthz": {"get": op("Liveness", "operations", 200, obj(), &[], None, none.clone(), Access::Public)},
            "/readyz": {"get": op("Readiness: database and migrations", "operations", 200, obj(), &[503], None, none.clone(), Access::Public)},
            "/api/auth/register": {"post": op("Register (always 202; a confirmation link is mailed)", "identity", 202, obj(), &[400, 403, 415, 422, 429, 503], Some(json!({"type": "object", "required": ["email", "password"], "properties": {"email": {"type": "string"}, "name": {"type": "string"}, "password": {"type": "string"}}})), none.clone(), Access::Public)},
            "/api/auth/verify": {
                "get": op("Confirm an address from the mailed link", "identity", 303, obj(), &[400], None, json!([{"name": "token", "in": "query", "required": true, "schema": {"type": "string"}}]), Access::Public),
                "post": op("Confirm an address", "identity", 200, r("Session"), &[400, 403, 415, 422], Some(json!({"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}})), none.clone(), Access::Public)
            },
            "/api/auth/login": {"post": op("Sign in with a password", "identity", 200, r("Session"), &[400, 401, 403, 415, 422, 429, 503], Some(json!({"type": "object", "required": ["email", "password"], "properties": {"email": {"type": "string"}, "password": {"type": "string"}}})), none.clone(), Access::Public)},
            "/api/auth/logout": {"post": {"summary": "Sign out", "tags": ["identity"], "x-lsn-access": Access::Public.name(), "responses": {"204": {"description": "Signed out"}, "403": {"description": "CSRF token missing"}}}},
            "/api/auth/me": {"get": op("The signed-in user and the CSRF token", "identity", 200, obj(), &[401], None, none.clone(), Access::SignedIn)},
            "/api/auth/password/forgot": {"post": op("Mail a reset link (always 202)", "identity", 202, obj(), &[400, 403, 415, 422, 429], Some(json!({"type": "object", "required": ["email"], "properties": {"email": {"type": "string"}}})), none.clone(), Access::Public)},
            "/api/auth/password/reset": {"post": op("Set a new password with a reset token", "identity", 200, obj(), &[400, 403, 415, 422, 429, 503], Some(json!({"type": "object", "required": ["token", "password"], "properties": {"token": {"type": "string"}, "password": {"type": "string"}}})), none.clone(), Access::Public)},
            "/api/v1/api-keys": {
                "get": op("API keys of the caller (staff)", "identity", 200, obj(), &[401, 403], None, none.clone(), Access::Staff),
                "post": op("Create an API key (shown once)", "identity", 201, obj(), &[401, 403, 415, 422], Some(json!({"type": "object", "required": ["name", "scopes"], "properties": {"name": {"type": "string"}, "scopes": {"type": "array", "items": {"type": "string", "enum": ["catalog:read", "catalog:write", "orders:read", "orders:write", "live:write", "admin"]}}}})), none.clone(), Access::Staff)
            },
            "/api/v1/api-keys/{id}": {"delete": {"summary": "Revoke an API key", "tags": ["identity"], "x-lsn-access": Access::Staff.name(), "parameters": [path_id("id")], "security": [{"session": []}], "responses": {"204": {"description": "Revoked"}, "401": {"description": "Unauthenticated"}, "403": {"description": "Forbidden"}, "404": {"description": "No such key"}}}},
            "/api/v1/admin/users": {"get": op("Accounts (staff)", "admin", 200, obj(), &[400, 401, 403], None, json!([query("limit", json!({"type": "integer"}))]), Access::Staff)},
            "/api/v1/admin/users/{id}/role": {"post": op("Change a role (audited)", "admin", 200, obj(), &[401, 403, 404, 409, 415, 422], Some(json!({"type": "object", "required": ["role"], "properties": {"role": {"type": "string", "enum": ["customer", "creator", "admin", "owner"]}}})), json!([path_id("id")]), Access::Staff)},
            "/api/v1/admin/audit": {"get": op("Audit log, newest first", "admin", 200, obj(), &[400, 401, 403], None, json!([query("action", json!({"type": "string"})), query("before", json!({"type": "integer"})), query("limit", json!({"type": "integer"}))]), Access::Staff)},
            "/api/v1/admin/settings/{key}": {
                "get": op("A setting", "admin", 200, obj(), &[401, 403, 404], None, json!([path_id("key")]), Access::Staff),
                "put": op("Change a setting (audited)", "admin", 200, obj(), &[401, 403, 415, 422], Some(json!({"type": "object", "required": ["value"], "properties": {"value": {}}})), json!([path_id("key")]), Access::Staff)
            },
            "/api/v1/admin/jobs/schedules": {"get": op("Scheduled tasks", "operations", 200, obj(), &[401, 403], None, none.clone(), Access::Staff)},
            "/api/v1/admin/jobs/history/{name}": {"get": op("Runs of a schedule or job kind", "operations", 200, obj(), &[400, 401, 403], None, json!([path_id("name"), query("limit", json!({"type": "integer"}))]), Access::Staff)},
            "/api/v1/admin/jobs/queue": {"get": op("Job queue depth", "operations", 200, obj(), &[401, 403], None, none.clone(), Access::Staff)},
            "/api/v1/admin/mailbox": {"get": op("Development mailbox", "operations", 200, obj(), &[400, 401, 403], None, json!([query("to", json!({"type": "string"})), query("limit", json!({"type": "integer"}))]), Access::Staff)},
            "/api/v1/admin/tasks": {"get": op("Tasks for a person (disputes, late payments)", "admin", 200, obj(), &[401, 403], None, none.clone(), Access::Staff)},
            "/api/v1/products": {
                "get": op("Search products", "catalog", 200, json!({"type": "object", "properties": {"items": {"type": "array", "items": r("Product")}, "next_cursor": {"type": ["string", "null"]}}}), &[400, 422], None, search, Access::Public),
                "post": op("Create a product (staff)", "catalog", 201, obj(), &[401, 403, 409, 415, 422], Some(r("ProductInput")), none.clone(), Access::Staff)
            },
            "/api/v1/products/{id}": {
                "get": op("A product by id or slug", "catalog", 200, obj(), &[404], None, json!([path_id("id")]), Access::Public),
                "patch": op("Update a product (staff)", "catalog", 200, obj(), &[401, 403, 404, 409, 415, 422], Some(obj()), json!([path_id("id")]), Access::Staff),
                "delete": op("Delete (or archive, once ordered) a product", "catalog", 200, obj(), &[401, 403, 404], None, json!([path_id("id")]), Access::Staff)
            },
            "/api/v1/products/{id}/images": {"put": op("Put a product's images in order (staff): each of them exactly once", "catalog", 200, obj(), &[401, 403, 404], Some(json!({"type": "object", "required": ["image_ids"], "properties": {"image_ids": {"type": "array", "maxItems": 100, "items": {"type": "string"}}}})), json!([path_id("id")]), Access::Staff)},
            "/api/v1/products/{id}/images/{image}": {"delete": op("Remove a product's image (staff)", "catalog", 200, obj(), &[401, 403, 404], None, json!([path_id("id"), path_id("image")]), Access::Staff)},
            "/api/v1/categories": {"get": op("Categories", "catalog", 200, obj(), &[], None, none.clone(), Access::Public)},
            "/api/v1/inventory/receive": {"post": op("Receive stock into a bin (staff)", "inventory", 200, obj(), &[400, 401, 403, 415, 422], Some(r("StockMove")), none.clone(), Access::Staff)},
            "/api/v1/inventory/adjust": {"post": op("Adjust stock in a bin (staff)", "inventory", 200, obj(), &[400, 401, 403, 415, 422], Some(r("StockMove")), none.clone(), Access::Staff)},
            "/api/v1/inventory/{sku}": {"get": op("Stock level, bins and movements (staff)", "inventory", 200, obj(), &[400, 401, 403], None, json!([path_id("sku")]), Access::Staff)},
            "/api/v1/cart": {"get": op("The caller's cart, priced now", "cart", 200, obj(), &[], None, none.clone(), Access::Public)},
            "/api/v1/cart/items": {"post": op("Add to the cart", "cart", 200, obj(), &[400, 403, 409, 415, 422], Some(json!({"type": "object", "required": ["quantity"], "properties": {"sku": {"type": "string"}, "variant_id": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1, "maximum": 999}}})), none.clone(), Access::Public)},
            "/api/v1/cart/items/{variant}": {
                "put": op("Set a line's quantity (0 removes)", "cart", 200, obj(), &[400, 403, 409, 415, 422], Some(json!({"type": "object", "required": ["quantity"], "properties": {"quantity": {"type": "integer", "minimum": 0, "maximum": 999}}})), json!([path_id("variant")]), Access::Public),
                "delete": op("Remove a line", "cart", 200, obj(), &[400, 403], None, json!([path_id("variant")]), Access::Public)
            },
            "/api/v1/checkout/shipping-options": {"get": op("Shipping options for a subtotal", "checkout", 200, obj(), &[400], None, json!([query("subtotal", json!({"type": "integer"}))]), Access::Public)},
            "/api/v1/checkout": {"post": op("Turn the cart into an order awaiting payment", "checkout", 201, obj(), &[400, 403, 409, 415, 422, 503], Some(r("CheckoutInput")), json!([idem()]), Access::Public)},
            "/api/v1/orders": {"get": op("Orders: one's own, or all (staff)", "orders", 200, obj(), &[400, 401, 422], None, json!([query("status", json!({"type": "string"})), query("before", json!({"type": "integer"})), query("limit", json!({"type": "integer"}))]), Access::SignedIn)},
            "/api/v1/orders/{id}": {"get": op("An order (owner, guest with X-Order-Token, staff)", "orders", 200, obj(), &[400, 401, 404], None, json!([path_id("id"), {"name": "X-Order-Token", "in": "header", "required": false, "schema": {"type": "string"}}]), Access::Owner)},
            "/api/v1/orders/{id}/pay": {"post": op("Pay with a payment method (or a sandbox test card)", "orders", 200, obj(), &[400, 401, 402, 403, 404, 409, 415, 422, 503], Some(json!({"type": "object", "properties": {"payment_method": {"type": "string"}, "card_number": {"type": "string"}}})), json!([path_id("id"), idem()]), Access::Owner)},
            "/api/v1/orders/{id}/cancel": {"post": op("Cancel an unpaid order", "orders", 200, obj(), &[400, 401, 403, 404, 409], None, json!([path_id("id")]), Access::Owner)},
            "/api/v1/orders/{id}/status": {"post": op("Move an order along (staff)", "orders", 200, obj(), &[401, 403, 404, 409, 415, 422], Some(json!({"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}})), json!([path_id("id")]), Access::Staff)},
            "/api/v1/orders/{id}/refunds": {"post": op("Refund all or part of an order (staff)", "orders", 201, obj(), &[400, 401, 403, 404, 409, 415, 422, 503], Some(json!({"type": "object", "properties": {"amount": {"type": "integer", "minimum": 1}, "reason": {"type": "string"}, "restock": {"type": "boolean"}}})), json!([path_id("id"), idem()]), Access::Staff)},
            "/api/v1/discounts": {
                "get": op("Discount codes (staff)", "checkout", 200, obj(), &[401, 403], None, none.clone(), Access::Staff),
                "post": op("Create a discount code (staff)", "checkout", 201, obj(), &[400, 401, 403, 415, 422], Some(json!({"type": "object", "required": ["code", "kind", "value"], "properties": {"code": {"type": "string"}, "kind": {"type": "string", "enum": ["percent", "fixed"]}, "value": {"type": "integer"}, "min_subtotal": {"type": "integer"}, "starts_at": {"type": "integer"}, "ends_at": {"type": "integer"}, "usage_limit": {"type": "integer"}, "per_customer_limit": {"type": "integer"}}})), none.clone(), Access::Staff)
            },
            "/api/v1/live/shows": {
                "get": op("Shows, newest first, optionally by status", "live", 200, obj(), &[400], None, json!([query("status", json!({"type": "string", "enum": ["scheduled", "live", "ended"]})), query("limit", json!({"type": "integer", "minimum": 1, "maximum": 200}))]), Access::Public),
                "post": op("Schedule a show (creators and staff)", "live", 201, obj(), &[401, 403, 404, 409], Some(json!({"type": "object", "required": ["title", "scheduled_at"], "properties": {"title": {"type": "string"}, "description": {"type": "string"}, "scheduled_at": {"type": "integer", "description": "Unix milliseconds"}, "video_url": {"type": ["string", "null"]}, "lineup": {"type": "array", "items": {"type": "string"}}, "host_id": {"type": ["string", "null"]}}})), none.clone(), Access::Creator)
            },
            "/api/v1/live/shows/{id}": {"get": op("A show with its live figures (sales for the host and staff only)", "live", 200, obj(), &[404], None, json!([path_id("id")]), Access::Public)},
            "/api/v1/live/shows/{id}/start": {"post": op("Go live (the show's host or staff)", "live", 200, obj(), &[401, 403, 404, 409], None, json!([path_id("id")]), Access::Host)},
            "/api/v1/live/shows/{id}/end": {"post": op("End the show (the show's host or staff)", "live", 200, obj(), &[401, 403, 404, 409], None, json!([path_id("id")]), Access::Host)},
            "/api/v1/live/shows/{id}/messages": {"post": op("Send a chat message (same rules as the room)", "live", 201, obj(), &[401, 403, 404, 409, 429, 503], Some(json!({"type": "object", "required": ["text"], "properties": {"text": {"type": "string", "maxLength": 500}}, "additionalProperties": false})), json!([path_id("id")]), Access::SignedIn)},
            "/api/v1/live/shows/{id}/replay": {"get": op("An ended or running show's timeline", "live", 200, obj(), &[400, 404], None, json!([path_id("id"), query("after", json!({"type": "integer", "minimum": 0})), query("limit", json!({"type": "integer", "minimum": 1, "maximum": 1000}))]), Access::Public)},
            "/api/v1/live/shows/{id}/deals": {"post": op("Start a flash deal on a variant (the show's host or staff)", "live", 201, obj(), &[401, 403, 404, 409], Some(json!({"type": "object", "required": ["price", "quantity"], "properties": {"sku": {"type": ["string", "null"]}, "variant_id": {"type": ["string", "null"]}, "price": {"type": "integer"}, "quantity": {"type": "integer"}, "countdown_secs": {"type": "integer", "minimum": 10, "maximum": 300}, "duration_secs": {"type": "integer", "minimum": 60, "maximum": 1200}, "per_customer_limit": {"type": ["integer", "null"]}}})), json!([path_id("id")]), Access::Host)},
            "/api/v1/live/shows/{id}/deals/{deal}/end": {"post": op("End a flash deal early", "live", 200, obj(), &[401, 403, 404, 409], None, json!([path_id("id"), path_id("deal")]), Access::Host)},
            "/api/v1/live/deals/{deal}": {"get": op("A flash deal with what remains", "live", 200, obj(), &[404], None, json!([path_id("deal")]), Access::Public)},
            "/api/v1/live/deals/{deal}/buy": {"post": op("Buy from a flash deal in one step (answers like checkout)", "live", 201, obj(), &[403, 404, 409, 429, 503], Some(json!({"type": "object", "properties": {"quantity": {"type": "integer", "minimum": 1}, "email": {"type": "string"}, "shipping_method": {"type": "string"}, "shipping_address": {"type": "object"}}})), json!([path_id("deal"), idem()]), Access::Public)},
            "/api/v1/live/shows/{id}/auctions": {"post": op("Start a live auction (the show's host or staff)", "live", 201, obj(), &[401, 403, 404, 409], Some(json!({"type": "object", "required": ["starting_price"], "properties": {"sku": {"type": ["string", "null"]}, "variant_id": {"type": ["string", "null"]}, "starting_price": {"type": "integer"}, "increment": {"type": "integer"}, "reserve_price": {"type": ["integer", "null"]}, "countdown_secs": {"type": "integer"}, "duration_secs": {"type": "integer"}, "soft_close_secs": {"type": "integer"}, "sudden_death": {"type": "boolean"}}})), json!([path_id("id")]), Access::Host)},
            "/api/v1/live/auctions/{auction}": {"get": op("An auction with its leading bid", "live", 200, obj(), &[404], None, json!([path_id("auction")]), Access::Public)},
            "/api/v1/live/auctions/{auction}/bids": {"post": op("Bid (a maximum above the next step bids by proxy)", "live", 200, obj(), &[401, 403, 404, 409, 429], Some(json!({"type": "object", "required": ["amount"], "properties": {"amount": {"type": "integer"}}, "additionalProperties": false})), json!([path_id("auction")]), Access::SignedIn)},
            "/api/v1/live/auctions/{auction}/second-chance": {"post": op("Offer an unpaid win to the next bidder (host or staff)", "live", 200, obj(), &[401, 403, 404, 409], None, json!([path_id("auction")]), Access::Host)},
            "/api/v1/live/shows/{id}/gifts": {"post": op("Send a gift to the host with coins", "live", 201, obj(), &[401, 402, 403, 404, 409, 429], Some(json!({"type": "object", "required": ["gift"], "properties": {"gift": {"type": "string"}}, "additionalProperties": false})), json!([path_id("id")]), Access::SignedIn)},
            "/api/v1/live/coins": {"get": op("The signed-in viewer's coin balance", "live", 200, obj(), &[401], None, none.clone(), Access::SignedIn)},
            "/api/v1/live/coin-packs": {"post": op("Make a variant a coin pack (staff)", "live", 200, obj(), &[401, 403], Some(json!({"type": "object", "required": ["sku", "coins"], "properties": {"sku": {"type": "string"}, "coins": {"type": "integer"}}, "additionalProperties": false})), none.clone(), Access::Staff)},
            "/api/webhooks/stripe": {"post": op("Stripe webhook (Stripe-Signature verified)", "webhooks", 200, obj(), &[400, 503], Some(obj()), json!([{"name": "Stripe-Signature", "in": "header", "required": true, "schema": {"type": "string"}}]), Access::Public)}
        },
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "lsn_session"},
                "apiKey": {"type": "http", "scheme": "bearer", "description": "lsn_… API key"}
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "fields": {"type": "object"}}}}},
                "Session": {"type": "object", "properties": {"user": {"type": "object"}, "csrf_token": {"type": "string"}}},
                "Product": {"type": "object", "required": ["id", "slug", "title", "status", "variants"], "properties": {"id": {"type": "string"}, "slug": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"}, "status": {"type": "string"}, "min_price": {"type": "integer"}, "in_stock": {"type": "boolean"}, "variants": {"type": "array", "items": {"type": "object"}}}},
                "ProductInput": {"type": "object", "required": ["title", "variants"], "properties": {"title": {"type": "string"}, "slug": {"type": "string"}, "description": {"type": "string"}, "status": {"type": "string", "enum": ["draft", "active", "archived"]}, "category": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}, "max_per_order": {"type": ["integer", "null"]}, "max_per_customer": {"type": ["integer", "null"]},
                    "variants": {"type": "array", "items": {"type": "object", "required": ["sku", "price"], "properties": {"sku": {"type": "string"}, "title": {"type": "string"}, "options": {"type": "object", "additionalProperties": {"type": "string"}}, "price": {"type": "integer"}, "compare_at_price": {"type": ["integer", "null"]}}}}}},
                "StockMove": {"type": "object", "required": ["sku", "bin", "quantity"], "properties": {"sku": {"type": "string"}, "bin": {"type": "string"}, "quantity": {"type": "integer"}, "reason": {"type": "string"}}},
                "CheckoutInput": {"type": "object", "required": ["shipping_address"], "properties": {"email": {"type": "string"}, "shipping_method": {"type": "string", "enum": ["standard", "express"]}, "discount_code": {"type": "string"},
                    "shipping_address": {"type": "object", "required": ["name", "line1", "suburb", "state", "postcode"], "properties": {"name": {"type": "string"}, "line1": {"type": "string"}, "line2": {"type": "string"}, "suburb": {"type": "string"}, "state": {"type": "string", "enum": ["NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT"]}, "postcode": {"type": "string", "pattern": "^[0-9]{4}$"}, "phone": {"type": "string"}}}}}
            }
        }
    });
    // A refund the payment provider has not answered yet: pending, finished by a job.
    doc["paths"]["/api/v1/orders/{id}/refunds"]["post"]["responses"]["202"] = json!({"description": "Refund pending: the payment provider has not answered yet", "content": {"application/json": {"schema": obj()}}});
    // An example body for every operation on an order: what a client sends, and what the race
    // test (`races::order_operations_race_without_breaking_limits`) sends for each.
    for (path, example) in [
        ("/api/v1/orders/{id}/pay", json!({"card_number": "4242 4242 4242 4242"})),
        ("/api/v1/orders/{id}/status", json!({"status": "processing"})),
        ("/api/v1/orders/{id}/refunds", json!({"reason": "Returned unopened", "restock": true})),
    ] {
        doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"] = example;
    }
    doc
}

#[cfg(test)]
mod tests {
    #[test]
    fn document_is_openapi() {
        let d = super::document();
        assert_eq!(d["openapi"], "3.1.0");
        assert!(d["paths"]["/api/v1/checkout"]["post"]["responses"]["201"].is_object());
        assert!(d["paths"].as_object().map(|p| p.len()).unwrap_or(0) > 30);
    }
}
