//! Shows, rooms, deals, auctions and gifts: this module's part of `GET /api/openapi.json`.

use lsn_core::openapi::{idem, obj, op, path_id, query, Who};
use serde_json::{json, Value};

/// The paths and schemas this module serves.
pub fn fragment() -> Value {
    let none = json!([]);
    json!({
        "paths": {
            "/api/v1/live/shows": {
                "get": op("Shows, newest first, optionally by status", "live", 200, obj(), &[400], None, json!([query("status", json!({"type": "string", "enum": ["scheduled", "live", "ended"]})), query("limit", json!({"type": "integer", "minimum": 1, "maximum": 200}))]), Who::Public),
                "post": op("Schedule a show (creators and staff)", "live", 201, obj(), &[401, 403, 404, 409], Some(json!({"type": "object", "required": ["title", "scheduled_at"], "properties": {"title": {"type": "string"}, "description": {"type": "string"}, "scheduled_at": {"type": "integer", "description": "Unix milliseconds"}, "video_url": {"type": ["string", "null"]}, "lineup": {"type": "array", "items": {"type": "string"}}, "host_id": {"type": ["string", "null"]}}})), none.clone(), Who::Creator)
            },
            "/api/v1/live/shows/{id}": {"get": op("A show with its live figures (sales for the host and staff only)", "live", 200, obj(), &[404], None, json!([path_id("id")]), Who::Public)},
            "/api/v1/live/shows/{id}/start": {"post": op("Go live (the show's host or staff)", "live", 200, obj(), &[401, 403, 404, 409], None, json!([path_id("id")]), Who::Host)},
            "/api/v1/live/shows/{id}/end": {"post": op("End the show (the show's host or staff)", "live", 200, obj(), &[401, 403, 404, 409], None, json!([path_id("id")]), Who::Host)},
            "/api/v1/live/shows/{id}/messages": {"post": op("Send a chat message (same rules as the room)", "live", 201, obj(), &[401, 403, 404, 409, 429, 503], Some(json!({"type": "object", "required": ["text"], "properties": {"text": {"type": "string", "maxLength": 500}}, "additionalProperties": false})), json!([path_id("id")]), Who::SignedIn)},
            "/api/v1/live/shows/{id}/replay": {"get": op("An ended or running show's timeline", "live", 200, obj(), &[400, 404], None, json!([path_id("id"), query("after", json!({"type": "integer", "minimum": 0})), query("limit", json!({"type": "integer", "minimum": 1, "maximum": 1000}))]), Who::Public)},
            "/api/v1/live/shows/{id}/deals": {"post": op("Start a flash deal on a variant (the show's host or staff)", "live", 201, obj(), &[401, 403, 404, 409], Some(json!({"type": "object", "required": ["price", "quantity"], "properties": {"sku": {"type": ["string", "null"]}, "variant_id": {"type": ["string", "null"]}, "price": {"type": "integer"}, "quantity": {"type": "integer"}, "countdown_secs": {"type": "integer", "minimum": 10, "maximum": 300}, "duration_secs": {"type": "integer", "minimum": 60, "maximum": 1200}, "per_customer_limit": {"type": ["integer", "null"]}}})), json!([path_id("id")]), Who::Host)},
            "/api/v1/live/shows/{id}/deals/{deal}/end": {"post": op("End a flash deal early", "live", 200, obj(), &[401, 403, 404, 409], None, json!([path_id("id"), path_id("deal")]), Who::Host)},
            "/api/v1/live/deals/{deal}": {"get": op("A flash deal with what remains", "live", 200, obj(), &[404], None, json!([path_id("deal")]), Who::Public)},
            "/api/v1/live/deals/{deal}/buy": {"post": op("Buy from a flash deal in one step (answers like checkout)", "live", 201, obj(), &[403, 404, 409, 429, 503], Some(json!({"type": "object", "properties": {"quantity": {"type": "integer", "minimum": 1}, "email": {"type": "string"}, "shipping_method": {"type": "string"}, "shipping_address": {"type": "object"}}})), json!([path_id("deal"), idem()]), Who::Public)},
            "/api/v1/live/shows/{id}/auctions": {"post": op("Start a live auction (the show's host or staff)", "live", 201, obj(), &[401, 403, 404, 409], Some(json!({"type": "object", "required": ["starting_price"], "properties": {"sku": {"type": ["string", "null"]}, "variant_id": {"type": ["string", "null"]}, "starting_price": {"type": "integer"}, "increment": {"type": "integer"}, "reserve_price": {"type": ["integer", "null"]}, "countdown_secs": {"type": "integer"}, "duration_secs": {"type": "integer"}, "soft_close_secs": {"type": "integer"}, "sudden_death": {"type": "boolean"}}})), json!([path_id("id")]), Who::Host)},
            "/api/v1/live/auctions/{auction}": {"get": op("An auction with its leading bid", "live", 200, obj(), &[404], None, json!([path_id("auction")]), Who::Public)},
            "/api/v1/live/auctions/{auction}/bids": {"post": op("Bid (a maximum above the next step bids by proxy)", "live", 200, obj(), &[401, 403, 404, 409, 429], Some(json!({"type": "object", "required": ["amount"], "properties": {"amount": {"type": "integer"}}, "additionalProperties": false})), json!([path_id("auction")]), Who::SignedIn)},
            "/api/v1/live/auctions/{auction}/second-chance": {"post": op("Offer an unpaid win to the next bidder (host or staff)", "live", 200, obj(), &[401, 403, 404, 409], None, json!([path_id("auction")]), Who::Host)},
            "/api/v1/live/shows/{id}/gifts": {"post": op("Send a gift to the host with coins", "live", 201, obj(), &[401, 402, 403, 404, 409, 429], Some(json!({"type": "object", "required": ["gift"], "properties": {"gift": {"type": "string"}}, "additionalProperties": false})), json!([path_id("id")]), Who::SignedIn)},
            "/api/v1/live/coins": {"get": op("The signed-in viewer's coin balance", "live", 200, obj(), &[401], None, none.clone(), Who::SignedIn)},
            "/api/v1/live/coin-packs": {"post": op("Make a variant a coin pack (staff)", "live", 200, obj(), &[401, 403], Some(json!({"type": "object", "required": ["sku", "coins"], "properties": {"sku": {"type": "string"}, "coins": {"type": "integer"}}, "additionalProperties": false})), none.clone(), Who::Staff)}
        },
        "components": {
            "schemas": {

            }
        }
    })
}
