//! The runbook's procedures at `/api/trpc/<name>` in tRPC's HTTP wire format, so clients written
//! against the runbook work: queries by `GET ?input=<json>`, mutations by `POST` (the runbook's
//! `PUT`/`DELETE` are accepted too) with the input as the JSON body, `?batch=1` batches, answers
//! `{"result":{"data":…}}`, errors in tRPC's shape with its JSON-RPC codes. Inputs wrapped by the
//! superjson transformer (`{"json": …}`) are unwrapped.
//!
//! Each procedure calls the same service functions as the REST API.

use crate::app::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use lsn_commerce::orders::{CheckoutInput, Viewer};
use lsn_core::ApiError;
use lsn_identity::{AuthUser, MaybeUser};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/trpc/{name}", any(handle))
}

const QUERIES: &[&str] = &[
    "products.list",
    "products.get",
    "orders.list",
    "orders.get",
    "system.getScheduledTasks",
    "system.getTaskHistory",
    "streaming.listShows",
];
const MUTATIONS: &[&str] = &[
    "products.create",
    "products.update",
    "products.delete",
    "orders.create",
    "orders.updateStatus",
    "streaming.startShow",
    "streaming.endShow",
    "streaming.sendMessage",
];

fn trpc_code(status: StatusCode) -> (i64, &'static str) {
    match status.as_u16() {
        400 => (-32600, "BAD_REQUEST"),
        401 => (-32001, "UNAUTHORIZED"),
        403 => (-32003, "FORBIDDEN"),
        404 => (-32004, "NOT_FOUND"),
        405 => (-32005, "METHOD_NOT_SUPPORTED"),
        409 => (-32009, "CONFLICT"),
        412 => (-32012, "PRECONDITION_FAILED"),
        413 => (-32013, "PAYLOAD_TOO_LARGE"),
        415 => (-32015, "UNSUPPORTED_MEDIA_TYPE"),
        422 => (-32022, "UNPROCESSABLE_CONTENT"),
        429 => (-32029, "TOO_MANY_REQUESTS"),
        503 => (-32603, "INTERNAL_SERVER_ERROR"),
        _ => (-32603, "INTERNAL_SERVER_ERROR"),
    }
}

fn error_body(path: &str, e: &ApiError) -> Value {
    let (code, name) = trpc_code(e.status);
    json!({"error": {"message": e.message, "code": code, "data": {"code": name, "httpStatus": e.status.as_u16(), "path": path, "lsnCode": e.code, "fields": e.fields}}})
}

fn unwrap_input(v: Value) -> Value {
    match v {
        Value::Object(mut m) if m.len() <= 2 && m.contains_key("json") && m.keys().all(|k| k == "json" || k == "meta") => {
            m.remove("json").unwrap_or(Value::Null)
        }
        other => other,
    }
}

fn parse<T: DeserializeOwned>(input: &Value) -> Result<T, ApiError> {
    let v = if input.is_null() { json!({}) } else { input.clone() };
    serde_json::from_value(v)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", format!("Input does not match the procedure: {e}")))
}

fn id_of(input: &Value) -> Result<String, ApiError> {
    input["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", "Input needs an \"id\"."))
}

fn signed_in(user: &Option<AuthUser>) -> Result<&AuthUser, ApiError> {
    user.as_ref().ok_or_else(ApiError::unauthorized)
}

fn staff(user: &Option<AuthUser>, scope: &str) -> Result<(), ApiError> {
    let u = signed_in(user)?;
    if u.user.role.is_staff() && u.has_scope(scope) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

async fn call(s: &AppState, name: &str, input: Value, user: &Option<AuthUser>, jar: &CookieJar) -> Result<Value, ApiError> {
    let c = &s.commerce;
    let is_staff = user.as_ref().is_some_and(|u| u.user.role.is_staff());
    match name {
        "products.list" => Ok(json!(c.catalog.search(&parse(&input)?, is_staff).await?)),
        "products.get" => {
            let id = id_of(&input)?;
            Ok(json!(c.catalog.get(&id, is_staff).await?.ok_or_else(ApiError::not_found)?))
        }
        "products.create" => {
            staff(user, "catalog:write")?;
            Ok(json!(c.catalog.create(&parse(&input)?).await?))
        }
        "products.update" => {
            staff(user, "catalog:write")?;
            let id = id_of(&input)?;
            let mut patch = input.clone();
            if let Some(m) = patch.as_object_mut() {
                m.remove("id");
            }
            Ok(json!(c.catalog.update(&id, &parse(&patch)?).await?))
        }
        "products.delete" => {
            staff(user, "catalog:write")?;
            let id = id_of(&input)?;
            Ok(json!({"id": id, "result": c.catalog.delete(&id).await?}))
        }
        "orders.list" => {
            let u = signed_in(user)?;
            let mine = if u.user.role.is_staff() && u.has_scope("orders:read") { None } else { Some(u.user.id.as_str()) };
            Ok(json!(c.orders(mine, input["status"].as_str(), input["before"].as_i64(), input["limit"].as_i64().unwrap_or(50)).await?))
        }
        "orders.get" => {
            let u = signed_in(user)?;
            let v = if u.user.role.is_staff() && u.has_scope("orders:read") { Viewer::Staff } else { Viewer::Customer(u.user.id.clone()) };
            Ok(json!(c.order(&id_of(&input)?, &v).await?))
        }
        "orders.create" => {
            let checkout: CheckoutInput = parse(&input)?;
            let owner = lsn_commerce::cart::Owner {
                user_id: user.as_ref().map(|u| u.user.id.clone()),
                guest_token: jar.get(lsn_commerce::cart::CART_COOKIE).map(|c| c.value().to_string()),
            };
            let (cart, _) = lsn_commerce::cart::resolve(&c.db, c.clock.now_ms(), &owner, false).await?;
            let cart = cart.ok_or_else(|| ApiError::from(lsn_commerce::CommerceError::rule("cart_empty", "Your cart is empty.")))?;
            Ok(json!(c.checkout(user.as_ref().map(|u| &u.user), &cart, &checkout).await?))
        }
        "orders.updateStatus" => {
            staff(user, "orders:write")?;
            let status = input["status"]
                .as_str()
                .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", "Input needs a \"status\"."))?;
            let label = signed_in(user)?.actor().label;
            Ok(json!(c.update_status(&label, &id_of(&input)?, status).await?))
        }
        "streaming.listShows" => Ok(json!(s.live.list(input["status"].as_str(), input["limit"].as_i64().unwrap_or(50)).await?)),
        "streaming.startShow" | "streaming.endShow" => {
            let u = signed_in(user)?;
            if u.user.role < lsn_identity::Role::Creator || !u.has_scope("live:write") {
                return Err(ApiError::forbidden());
            }
            let id = input["showId"]
                .as_str()
                .or(input["id"].as_str())
                .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", "Input needs a \"showId\"."))?;
            let show = if name == "streaming.startShow" { s.live.start(id, &u.user).await? } else { s.live.end(id, &u.user).await? };
            Ok(json!(show))
        }
        "streaming.sendMessage" => {
            let u = signed_in(user)?;
            let id = input["showId"]
                .as_str()
                .or(input["id"].as_str())
                .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", "Input needs a \"showId\"."))?;
            let text = input["message"]
                .as_str()
                .or(input["text"].as_str())
                .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", "Input needs a \"message\"."))?;
            lsn_live::routes::post_message(&s.live, &u.user, id, text).await
        }
        "system.getScheduledTasks" => {
            staff(user, "admin")?;
            Ok(json!(lsn_ops::schedule::list(&s.db).await.map_err(ApiError::internal)?))
        }
        "system.getTaskHistory" => {
            staff(user, "admin")?;
            let task = input["taskName"]
                .as_str()
                .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", "Input needs a \"taskName\"."))?;
            Ok(json!(lsn_ops::schedule::history(&s.db, task, input["limit"].as_i64().unwrap_or(30).clamp(1, 500))
                .await
                .map_err(ApiError::internal)?))
        }
        _ => Err(ApiError::not_found()),
    }
}

#[expect(clippy::too_many_arguments, reason = "an axum handler takes one argument per extractor")]
async fn handle(
    State(s): State<AppState>,
    Path(name): Path<String>,
    method: Method,
    MaybeUser(user): MaybeUser,
    jar: CookieJar,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    body: Bytes,
) -> Response {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()).into_owned().collect();
    let batch = params.iter().any(|(k, v)| k == "batch" && v == "1");
    let names: Vec<String> = if batch { name.split(',').map(str::to_string).collect() } else { vec![name.clone()] };
    let is_query = method == Method::GET;
    let raw_input: Result<Value, ApiError> = if is_query {
        match params.iter().find(|(k, _)| k == "input") {
            None => Ok(Value::Null),
            Some((_, v)) => serde_json::from_str(v).map_err(|_| ApiError::bad_request("invalid_json", "?input is not valid JSON.")),
        }
    } else if body.is_empty() {
        Ok(Value::Null)
    } else {
        let json_ct = headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("application/json"));
        if !json_ct {
            Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Send the input as JSON."))
        } else {
            serde_json::from_slice(&body).map_err(|_| ApiError::bad_request("invalid_json", "The body is not valid JSON."))
        }
    };
    let mut results = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let outcome = async {
            let input = raw_input.clone()?;
            let input = if batch { input.get(i.to_string()).cloned().unwrap_or(Value::Null) } else { input };
            let known_query = QUERIES.contains(&n.as_str());
            let known_mutation = MUTATIONS.contains(&n.as_str());
            if !known_query && !known_mutation {
                return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("No procedure named {n}.")));
            }
            if known_query != is_query || !(is_query || matches!(method, Method::POST | Method::PUT | Method::DELETE | Method::PATCH)) {
                return Err(ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_supported",
                    if known_query { "Call queries with GET." } else { "Call mutations with POST." },
                ));
            }
            call(&s, n, unwrap_input(input), &user, &jar).await
        }
        .await;
        results.push(match outcome {
            Ok(data) => (StatusCode::OK, json!({"result": {"data": data}})),
            Err(e) => (e.status, error_body(n, &e)),
        });
    }
    if batch {
        let status = if results.iter().all(|(s, _)| *s == StatusCode::OK) { StatusCode::OK } else { StatusCode::MULTI_STATUS };
        let bodies: Vec<Value> = results.into_iter().map(|(_, b)| b).collect();
        (status, Json(Value::Array(bodies))).into_response()
    } else {
        let (status, body) = results.into_iter().next().unwrap_or((StatusCode::NOT_FOUND, Value::Null));
        (status, Json(body)).into_response()
    }
}
