//! Catalog, stock, cart, checkout, orders, discounts and the payment webhook: this module's part of `GET /api/openapi.json`.

use lsn_core::openapi::{idem, obj, op, path_id, query, r, Who};
use serde_json::{json, Value};

/// The paths and schemas this module serves.
pub fn fragment() -> Value {
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
        "paths": {
            "/api/v1/admin/tasks": {"get": op("Tasks for a person (disputes, late payments)", "admin", 200, obj(), &[401, 403], None, none.clone(), Who::Staff)},
            "/api/v1/products": {
                "get": op("Search products", "catalog", 200, json!({"type": "object", "properties": {"items": {"type": "array", "items": r("Product")}, "next_cursor": {"type": ["string", "null"]}}}), &[400, 422], None, search, Who::Public),
                "post": op("Create a product (staff)", "catalog", 201, obj(), &[401, 403, 409, 415, 422], Some(r("ProductInput")), none.clone(), Who::Staff)
            },
            "/api/v1/products/{id}": {
                "get": op("A product by id or slug", "catalog", 200, obj(), &[404], None, json!([path_id("id")]), Who::Public),
                "patch": op("Update a product (staff)", "catalog", 200, obj(), &[401, 403, 404, 409, 415, 422], Some(obj()), json!([path_id("id")]), Who::Staff),
                "delete": op("Delete (or archive, once ordered) a product", "catalog", 200, obj(), &[401, 403, 404], None, json!([path_id("id")]), Who::Staff)
            },
            "/api/v1/products/{id}/images": {"put": op("Put a product's images in order (staff): each of them exactly once", "catalog", 200, obj(), &[401, 403, 404], Some(json!({"type": "object", "required": ["image_ids"], "properties": {"image_ids": {"type": "array", "maxItems": 100, "items": {"type": "string"}}}})), json!([path_id("id")]), Who::Staff)},
            "/api/v1/products/{id}/images/{image}": {"delete": op("Remove a product's image (staff)", "catalog", 200, obj(), &[401, 403, 404], None, json!([path_id("id"), path_id("image")]), Who::Staff)},
            "/api/v1/categories": {"get": op("Categories", "catalog", 200, obj(), &[], None, none.clone(), Who::Public)},
            "/api/v1/inventory/receive": {"post": op("Receive stock into a bin (staff)", "inventory", 200, obj(), &[400, 401, 403, 415, 422], Some(r("StockMove")), none.clone(), Who::Staff)},
            "/api/v1/inventory/adjust": {"post": op("Adjust stock in a bin (staff)", "inventory", 200, obj(), &[400, 401, 403, 415, 422], Some(r("StockMove")), none.clone(), Who::Staff)},
            "/api/v1/inventory/{sku}": {"get": op("Stock level, bins and movements (staff)", "inventory", 200, obj(), &[400, 401, 403], None, json!([path_id("sku")]), Who::Staff)},
            "/api/v1/cart": {"get": op("The caller's cart, priced now", "cart", 200, obj(), &[], None, none.clone(), Who::Public)},
            "/api/v1/cart/items": {"post": op("Add to the cart", "cart", 200, obj(), &[400, 403, 409, 415, 422], Some(json!({"type": "object", "required": ["quantity"], "properties": {"sku": {"type": "string"}, "variant_id": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1, "maximum": 999}}})), none.clone(), Who::Public)},
            "/api/v1/cart/items/{variant}": {
                "put": op("Set a line's quantity (0 removes)", "cart", 200, obj(), &[400, 403, 409, 415, 422], Some(json!({"type": "object", "required": ["quantity"], "properties": {"quantity": {"type": "integer", "minimum": 0, "maximum": 999}}})), json!([path_id("variant")]), Who::Public),
                "delete": op("Remove a line", "cart", 200, obj(), &[400, 403], None, json!([path_id("variant")]), Who::Public)
            },
            "/api/v1/checkout/shipping-options": {"get": op("Shipping options for a subtotal", "checkout", 200, obj(), &[400], None, json!([query("subtotal", json!({"type": "integer"}))]), Who::Public)},
            "/api/v1/checkout": {"post": op("Turn the cart into an order awaiting payment", "checkout", 201, obj(), &[400, 403, 409, 415, 422, 503], Some(r("CheckoutInput")), json!([idem()]), Who::Public)},
            "/api/v1/orders": {"get": op("Orders: one's own, or all (staff)", "orders", 200, obj(), &[400, 401, 422], None, json!([query("status", json!({"type": "string"})), query("before", json!({"type": "integer"})), query("limit", json!({"type": "integer"}))]), Who::SignedIn)},
            "/api/v1/orders/{id}": {"get": op("An order (owner, guest with X-Order-Token, staff)", "orders", 200, obj(), &[400, 401, 404], None, json!([path_id("id"), {"name": "X-Order-Token", "in": "header", "required": false, "schema": {"type": "string"}}]), Who::Owner)},
            "/api/v1/orders/{id}/pay": {"post": op("Pay with a payment method (or a sandbox test card)", "orders", 200, obj(), &[400, 401, 402, 403, 404, 409, 415, 422, 503], Some(json!({"type": "object", "properties": {"payment_method": {"type": "string"}, "card_number": {"type": "string"}}})), json!([path_id("id"), idem()]), Who::Owner)},
            "/api/v1/orders/{id}/cancel": {"post": op("Cancel an unpaid order", "orders", 200, obj(), &[400, 401, 403, 404, 409], None, json!([path_id("id")]), Who::Owner)},
            "/api/v1/orders/{id}/status": {"post": op("Move an order along (staff)", "orders", 200, obj(), &[401, 403, 404, 409, 415, 422], Some(json!({"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}})), json!([path_id("id")]), Who::Staff)},
            "/api/v1/orders/{id}/refunds": {"post": op("Refund all or part of an order (staff)", "orders", 201, obj(), &[400, 401, 403, 404, 409, 415, 422, 503], Some(json!({"type": "object", "properties": {"amount": {"type": "integer", "minimum": 1}, "reason": {"type": "string"}, "restock": {"type": "boolean"}}})), json!([path_id("id"), idem()]), Who::Staff)},
            "/api/v1/discounts": {
                "get": op("Discount codes (staff)", "checkout", 200, obj(), &[401, 403], None, none.clone(), Who::Staff),
                "post": op("Create a discount code (staff)", "checkout", 201, obj(), &[400, 401, 403, 415, 422], Some(json!({"type": "object", "required": ["code", "kind", "value"], "properties": {"code": {"type": "string"}, "kind": {"type": "string", "enum": ["percent", "fixed"]}, "value": {"type": "integer"}, "min_subtotal": {"type": "integer"}, "starts_at": {"type": "integer"}, "ends_at": {"type": "integer"}, "usage_limit": {"type": "integer"}, "per_customer_limit": {"type": "integer"}}})), none.clone(), Who::Staff)
            },
            "/api/webhooks/stripe": {"post": op("Stripe webhook (Stripe-Signature verified)", "webhooks", 200, obj(), &[400, 503], Some(obj()), json!([{"name": "Stripe-Signature", "in": "header", "required": true, "schema": {"type": "string"}}]), Who::Public)}
        },
        "components": {
            "schemas": {
                "Product": {"type": "object", "required": ["id", "slug", "title", "status", "variants"], "properties": {"id": {"type": "string"}, "slug": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"}, "status": {"type": "string"}, "min_price": {"type": "integer"}, "in_stock": {"type": "boolean"}, "variants": {"type": "array", "items": {"type": "object"}}}},
                "ProductInput": {"type": "object", "required": ["title", "variants"], "properties": {"title": {"type": "string"}, "slug": {"type": "string"}, "description": {"type": "string"}, "status": {"type": "string", "enum": ["draft", "active", "archived"]}, "category": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}, "max_per_order": {"type": ["integer", "null"]}, "max_per_customer": {"type": ["integer", "null"]},
                    "variants": {"type": "array", "items": {"type": "object", "required": ["sku", "price"], "properties": {"sku": {"type": "string"}, "title": {"type": "string"}, "options": {"type": "object", "additionalProperties": {"type": "string"}}, "price": {"type": "integer"}, "compare_at_price": {"type": ["integer", "null"]}}}}}},
                "StockMove": {"type": "object", "required": ["sku", "bin", "quantity"], "properties": {"sku": {"type": "string"}, "bin": {"type": "string"}, "quantity": {"type": "integer"}, "reason": {"type": "string"}}},
                "CheckoutInput": {"type": "object", "required": ["shipping_address"], "properties": {"email": {"type": "string"}, "shipping_method": {"type": "string", "enum": ["standard", "express"]}, "discount_code": {"type": "string"},
                    "shipping_address": {"type": "object", "required": ["name", "line1", "suburb", "state", "postcode"], "properties": {"name": {"type": "string"}, "line1": {"type": "string"}, "line2": {"type": "string"}, "suburb": {"type": "string"}, "state": {"type": "string", "enum": ["NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT"]}, "postcode": {"type": "string", "pattern": "^[0-9]{4}$"}, "phone": {"type": "string"}}}}}
            }
        }
    });
    // An image is uploaded as its own bytes, typed by Content-Type (checked against its content).
    let mut upload = op(
        "Add an image to a product (staff): the body is the image itself",
        "catalog",
        201,
        obj(),
        &[400, 401, 403, 404, 413, 415, 422],
        None,
        json!([path_id("id"), query("alt", json!({"type": "string", "maxLength": 500}))]),
        Who::Staff,
    );
    let binary = json!({"schema": {"type": "string", "format": "binary"}});
    upload["requestBody"] =
        json!({"required": true, "content": {"image/png": binary, "image/jpeg": binary, "image/webp": binary, "image/gif": binary}});
    doc["paths"]["/api/v1/products/{id}/images"]["post"] = upload;
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
