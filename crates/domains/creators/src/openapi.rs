//! The creators domain's part of `GET /api/openapi.json`.

use lsn_core::openapi::{obj, op, path_id, query, Who};
use serde_json::{json, Value};

fn rate() -> Value {
    json!({"type": "integer", "minimum": 0, "maximum": 8000, "description": "Basis points: 1000 is 10 %"})
}

/// The paths this module serves.
pub fn fragment() -> Value {
    let none = json!([]);
    let limit = || query("limit", json!({"type": "integer", "minimum": 1, "maximum": 1000}));
    let discount = json!({"type": "object", "required": ["code", "kind", "value"], "properties": {"code": {"type": "string"}, "kind": {"type": "string", "enum": ["percent", "fixed"]}, "value": {"type": "integer"}, "min_subtotal": {"type": "integer"}, "starts_at": {"type": ["integer", "null"]}, "ends_at": {"type": ["integer", "null"]}, "usage_limit": {"type": ["integer", "null"]}, "per_customer_limit": {"type": ["integer", "null"]}}, "additionalProperties": false});
    json!({
        "paths": {
            "/api/v1/creators/apply": {"post": op("Apply to become a creator", "creators", 201, obj(), &[401, 403, 409], Some(json!({"type": "object", "required": ["handle", "display_name"], "properties": {"handle": {"type": "string", "pattern": "^[a-z0-9_-]{3,30}$"}, "display_name": {"type": "string", "maxLength": 80}, "bio": {"type": "string"}, "application": {"type": "string"}, "abn": {"type": ["string", "null"]}, "gst_registered": {"type": "boolean"}}, "additionalProperties": false})), none.clone(), Who::SignedIn)},
            "/api/v1/creators/me": {
                "get": op("The caller's creator profile and balance", "creators", 200, obj(), &[401, 403, 404], None, none.clone(), Who::SignedIn),
                "patch": op("Change the caller's creator profile (payout currency, tax details)", "creators", 200, obj(), &[401, 403, 409], Some(json!({"type": "object", "properties": {"display_name": {"type": "string"}, "bio": {"type": "string"}, "payout_currency": {"type": "string"}, "abn": {"type": "string"}, "gst_registered": {"type": "boolean"}}, "additionalProperties": false})), none.clone(), Who::Creator)
            },
            "/api/v1/creators/me/stats": {"get": op("The caller's clicks, orders, conversion and earnings", "creators", 200, obj(), &[401, 403, 409], None, json!([query("days", json!({"type": "integer", "minimum": 1, "maximum": 365}))]), Who::Creator)},
            "/api/v1/creators/me/links": {
                "get": op("The caller's referral links", "creators", 200, obj(), &[401, 403, 409], None, none.clone(), Who::Creator),
                "post": op("A new referral link to a page of the shop", "creators", 201, obj(), &[401, 403, 409], Some(json!({"type": "object", "properties": {"target": {"type": "string"}, "label": {"type": "string"}, "code": {"type": ["string", "null"]}}, "additionalProperties": false})), none.clone(), Who::Creator)
            },
            "/api/v1/creators/me/ledger": {"get": op("The caller's balance and ledger entries", "creators", 200, obj(), &[401, 403, 409], None, json!([limit()]), Who::Creator)},
            "/api/v1/creators/me/collaborations": {"get": op("Open collaborations and the caller's invitations", "creators", 200, obj(), &[401, 403, 409], None, none.clone(), Who::Creator)},
            "/api/v1/creators/me/collaborations/{id}": {"post": op("Join or decline a collaboration", "creators", 200, obj(), &[401, 403, 404, 409], Some(json!({"type": "object", "required": ["accept"], "properties": {"accept": {"type": "boolean"}}, "additionalProperties": false})), json!([path_id("id")]), Who::Creator)},
            "/api/v1/admin/creators": {"get": op("Creators, newest applications first", "creators", 200, obj(), &[401, 403], None, json!([query("status", json!({"type": "string", "enum": ["applied", "approved", "rejected", "suspended"]})), query("tier", json!({"type": "string", "enum": ["bronze", "silver", "gold", "platinum"]})), limit()]), Who::Staff)},
            "/api/v1/admin/creators/settings": {
                "get": op("The programme's settings", "creators", 200, obj(), &[401, 403], None, none.clone(), Who::Staff),
                "put": op("Change settings (holding period, window, model, minimum payout, sign-up limits)", "creators", 200, obj(), &[401, 403], Some(json!({"type": "object", "properties": {"hold_days": {"type": "integer", "minimum": 1, "maximum": 90}, "window_days": {"type": "integer", "minimum": 1, "maximum": 365}, "model": {"type": "string", "enum": ["last_touch", "first_touch"]}, "minimum_payout": {"type": "integer"}, "max_signups_per_device": {"type": "integer"}, "max_signups_per_network": {"type": "integer"}}, "additionalProperties": false})), none.clone(), Who::Staff)
            },
            "/api/v1/admin/creators/tiers": {"get": op("The tiers and their rates", "creators", 200, obj(), &[401, 403], None, none.clone(), Who::Staff)},
            "/api/v1/admin/creators/tiers/{tier}": {"put": op("Change a tier's rate", "creators", 200, obj(), &[401, 403, 404], Some(json!({"type": "object", "required": ["rate_bps"], "properties": {"rate_bps": rate(), "min_sales_90d": {"type": ["integer", "null"]}}, "additionalProperties": false})), json!([path_id("tier")]), Who::Staff)},
            "/api/v1/admin/creators/overrides": {
                "get": op("Commission rates per product and category", "creators", 200, obj(), &[401, 403], None, none.clone(), Who::Staff),
                "put": op("Set a rate for a product or category (every creator, or one)", "creators", 200, obj(), &[401, 403, 404], Some(json!({"type": "object", "required": ["scope", "target_id", "rate_bps"], "properties": {"scope": {"type": "string", "enum": ["product", "category"]}, "target_id": {"type": "string"}, "creator_id": {"type": ["string", "null"]}, "rate_bps": rate()}, "additionalProperties": false})), none.clone(), Who::Staff)
            },
            "/api/v1/admin/creators/collaborations": {"post": op("An open or targeted collaboration", "creators", 201, obj(), &[401, 403], Some(json!({"type": "object", "required": ["kind", "title", "scope", "target_id", "rate_bps"], "properties": {"kind": {"type": "string", "enum": ["open", "targeted"]}, "title": {"type": "string"}, "scope": {"type": "string", "enum": ["product", "category"]}, "target_id": {"type": "string"}, "rate_bps": rate(), "starts_at": {"type": ["integer", "null"]}, "ends_at": {"type": ["integer", "null"]}, "invite": {"type": "array", "items": {"type": "string"}}}, "additionalProperties": false})), none.clone(), Who::Staff)},
            "/api/v1/admin/creators/tier-proposals": {"get": op("The monthly tier review's proposals", "creators", 200, obj(), &[401, 403], None, json!([query("status", json!({"type": "string", "enum": ["proposed", "confirmed", "dismissed"]}))]), Who::Staff)},
            "/api/v1/admin/creators/tier-proposals/{id}": {"post": op("Confirm (the tier changes) or dismiss a proposal", "creators", 200, obj(), &[401, 403, 404, 409], Some(json!({"type": "object", "required": ["confirm"], "properties": {"confirm": {"type": "boolean"}}, "additionalProperties": false})), json!([path_id("id")]), Who::Staff)},
            "/api/v1/admin/creators/flags": {"get": op("Self-referrals, cookie stuffing and repeated sign-ups found", "creators", 200, obj(), &[401, 403], None, json!([limit()]), Who::Staff)},
            "/api/v1/admin/creators/attributions/{order}": {"get": op("Why an order was (or was not) attributed", "creators", 200, obj(), &[401, 403, 404], None, json!([path_id("order")]), Who::Staff)},
            "/api/v1/admin/creators/{id}": {"get": op("A creator with balance, links, codes and stats", "creators", 200, obj(), &[401, 403, 404], None, json!([path_id("id")]), Who::Staff)},
            "/api/v1/admin/creators/{id}/decision": {"post": op("Approve, reject, suspend or reinstate a creator", "creators", 200, obj(), &[401, 403, 404, 409], Some(json!({"type": "object", "required": ["action"], "properties": {"action": {"type": "string", "enum": ["approve", "reject", "suspend", "reinstate"]}, "note": {"type": "string"}}, "additionalProperties": false})), json!([path_id("id")]), Who::Staff)},
            "/api/v1/admin/creators/{id}/terms": {"patch": op("Change a creator's tier or own rate", "creators", 200, obj(), &[401, 403, 404], Some(json!({"type": "object", "properties": {"tier": {"type": "string", "enum": ["bronze", "silver", "gold", "platinum"]}, "rate_bps": {"type": ["integer", "null"], "minimum": 0, "maximum": 8000}}, "additionalProperties": false})), json!([path_id("id")]), Who::Staff)},
            "/api/v1/creators/me/bank-account": {
                "get": op("The caller's payout bank account, masked", "creators", 200, obj(), &[401, 403, 409], None, none.clone(), Who::Creator),
                "put": op("Set the caller's payout bank account (validated, encrypted at rest)", "creators", 200, obj(), &[401, 403, 409], Some(json!({"type": "object", "required": ["holder_name", "account"], "properties": {"holder_name": {"type": "string", "maxLength": 140}, "account": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string", "enum": ["australian", "iban", "sort_code", "aba", "stripe_connect"]}, "bsb": {"type": "string"}, "account_number": {"type": "string"}, "iban": {"type": "string"}, "bic": {"type": ["string", "null"]}, "sort_code": {"type": "string"}, "routing_number": {"type": "string"}, "account_type": {"type": "string"}, "account_id": {"type": "string"}}}}, "additionalProperties": false})), none.clone(), Who::Creator)
            },
            "/api/v1/creators/me/payouts": {"get": op("The caller's payouts", "creators", 200, obj(), &[401, 403, 409], None, json!([limit()]), Who::Creator)},
            "/api/v1/admin/creators/payouts": {"get": op("Payouts (the approval queue with status=awaiting_approval)", "creators", 200, obj(), &[401, 403], None, json!([query("status", json!({"type": "string", "enum": ["awaiting_approval", "approved", "submitted", "paid", "failed", "returned", "rejected"]})), limit()]), Who::Staff)},
            "/api/v1/admin/creators/payouts/run": {"post": op("Run the payouts now (as the 2 AM task does)", "creators", 200, obj(), &[401, 403, 503], None, none.clone(), Who::Staff)},
            "/api/v1/admin/creators/payouts/{id}/approve": {"post": op("Approve a payout waiting in the queue (and send it)", "creators", 200, obj(), &[401, 403, 404, 409, 503], None, json!([path_id("id")]), Who::Staff)},
            "/api/v1/admin/creators/payouts/{id}/reject": {"post": op("Reject a payout waiting in the queue (its amount back to the balance)", "creators", 200, obj(), &[401, 403, 404, 409], Some(json!({"type": "object", "properties": {"note": {"type": "string"}}, "additionalProperties": false})), json!([path_id("id")]), Who::Staff)},
            "/api/v1/admin/creators/{id}/payouts": {"post": op("Pay a creator an amount now, by the payout policy", "creators", 201, obj(), &[401, 403, 404, 409, 503], Some(json!({"type": "object", "required": ["amount"], "properties": {"amount": {"type": "integer", "minimum": 1, "maximum": 100000000, "description": "cents"}, "currency": {"type": ["string", "null"]}}, "additionalProperties": false})), json!([path_id("id")]), Who::Staff)},
            "/api/webhooks/wise": {"post": op("Wise transfer-state webhook (X-Signature-SHA256 verified)", "webhooks", 200, obj(), &[400, 404, 503], Some(obj()), json!([{"name": "X-Signature-SHA256", "in": "header", "required": true, "schema": {"type": "string"}}]), Who::Public)},
            "/api/webhooks/stripe/connect": {"post": op("Stripe Connect transfer webhook (Stripe-Signature verified)", "webhooks", 200, obj(), &[400, 404, 503], Some(obj()), json!([{"name": "Stripe-Signature", "in": "header", "required": true, "schema": {"type": "string"}}]), Who::Public)},
            "/api/v1/admin/creators/{id}/codes": {"post": op("Give a creator a discount code of their own", "creators", 201, obj(), &[401, 403, 404, 409], Some(discount), json!([path_id("id")]), Who::Staff)}
        },
        "components": {"schemas": {}}
    })
}
