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
use axum::Json;
use axum_extra::extract::CookieJar;
use lsn_commerce::orders::{CheckoutInput, OrderStatus, Viewer};
use lsn_core::ApiError;
use lsn_identity::{Access, AuthUser, MaybeUser, Scope};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// Whether a procedure is called with `GET` (a query) or `POST` (a mutation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Query,
    Mutation,
}

/// Every procedure, its kind and who may call it (the same check as every other surface,
/// `lsn_identity::access`); the access tests walk this table.
pub const PROCEDURES: &[(&str, Kind, Access)] = {
    use lsn_identity::access::{Access::*, Scope::*};
    use Kind::*;
    &[
        ("products.list", Query, Access::PUBLIC),
        ("products.get", Query, Access::PUBLIC),
        ("orders.list", Query, SignedIn(Some(OrdersRead))),
        ("orders.get", Query, SignedIn(Some(OrdersRead))),
        ("system.getScheduledTasks", Query, Staff(Admin)),
        ("system.getTaskHistory", Query, Staff(Admin)),
        ("streaming.listShows", Query, Access::PUBLIC),
        ("products.create", Mutation, Staff(CatalogWrite)),
        ("products.update", Mutation, Staff(CatalogWrite)),
        ("products.delete", Mutation, Staff(CatalogWrite)),
        ("orders.create", Mutation, Anyone(Some(OrdersWrite))),
        ("orders.updateStatus", Mutation, Staff(OrdersWrite)),
        ("streaming.startShow", Mutation, Creator(LiveWrite)),
        ("streaming.endShow", Mutation, Creator(LiveWrite)),
        ("streaming.sendMessage", Mutation, SignedIn(Some(LiveWrite))),
        ("system.updateAlertThreshold", Mutation, Staff(Admin)),
        ("system.sendSlackAlert", Mutation, Staff(Admin)),
        ("system.sendTestEmail", Mutation, Staff(Admin)),
        ("creators.list", Query, Staff(Admin)),
        ("creators.getStats", Query, Creator(Creators)),
        ("creators.processPayout", Mutation, Staff(Admin)),
    ]
};

fn procedure(name: &str) -> Option<(Kind, Access)> {
    PROCEDURES.iter().find(|(n, _, _)| *n == name).map(|(_, k, a)| (*k, *a))
}

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

/// An answer to `/api/trpc/<names>` in tRPC's error envelope when it is LSN's problem shape (a
/// refusal made before the procedure ran: CSRF, origin, credential, size); the procedures' own
/// answers are already enveloped and pass untouched. A batch gets one envelope per procedure.
pub async fn envelope(names: &str, batch: bool, res: Response) -> Response {
    let status = res.status();
    let (parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 256 * 1024).await else {
        return (status, Json(json!({"error": {"message": "The answer could not be read.", "code": -32603}}))).into_response();
    };
    let problem = serde_json::from_slice::<Value>(&bytes).ok().filter(|v| v["error"]["code"].is_string());
    let Some(v) = problem else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    let (code, name) = trpc_code(status);
    let one = |path: &str| json!({"error": {"message": v["error"]["message"], "code": code, "data": {"code": name, "httpStatus": status.as_u16(), "path": path, "lsnCode": v["error"]["code"], "fields": v["error"]["fields"]}}});
    let names = percent_decoded(names);
    let body = if batch { Value::Array(names.split(',').map(one).collect()) } else { one(&names) };
    let mut out = (status, Json(body)).into_response();
    for (k, v) in parts.headers.iter().filter(|(k, _)| *k != axum::http::header::CONTENT_TYPE && *k != axum::http::header::CONTENT_LENGTH) {
        out.headers_mut().insert(k.clone(), v.clone());
    }
    out
}

/// A path segment with its `%XX` escapes decoded (a batch's commas may arrive as `%2C`).
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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

/// Whether the caller sees what staff see (drafts, everyone's orders).
fn sees_as_staff(user: &Option<AuthUser>, scope: Scope) -> bool {
    user.as_ref().is_some_and(|u| u.allows(Access::Staff(scope)))
}

/// A refused procedure: an error now, or the stored answer to an `Idempotency-Key` seen before.
enum Failure {
    Api(ApiError),
    Replay(StatusCode, Value),
}

impl Failure {
    fn status(&self) -> StatusCode {
        match self {
            Failure::Api(e) => e.status,
            Failure::Replay(s, _) => *s,
        }
    }

    fn body(&self, path: &str) -> Value {
        match self {
            Failure::Api(e) => error_body(path, e),
            Failure::Replay(status, v) => {
                let (code, name) = trpc_code(*status);
                let e = &v["error"];
                json!({"error": {"message": e["message"], "code": code, "data": {"code": name, "httpStatus": status.as_u16(), "path": path, "lsnCode": e["code"], "fields": e["fields"]}}})
            }
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

/// Runs one procedure for a caller the access check has let through.
async fn call(
    s: &AppState,
    name: &str,
    input: Value,
    user: &Option<AuthUser>,
    jar: &CookieJar,
    headers: &HeaderMap,
    meta: &lsn_identity::ClientMeta,
) -> Result<Value, Failure> {
    if name == "orders.create" {
        return create_order(s, input, user, jar, headers, meta).await;
    }
    Ok(call_api(s, name, input, user).await?)
}

/// `orders.create`: checks out the caller's cart, once per `Idempotency-Key` as the REST
/// checkout does (a retried call gets the first order back).
async fn create_order(
    s: &AppState,
    input: Value,
    user: &Option<AuthUser>,
    jar: &CookieJar,
    headers: &HeaderMap,
    meta: &lsn_identity::ClientMeta,
) -> Result<Value, Failure> {
    let c = &s.commerce;
    let checkout: CheckoutInput = parse(&input)?;
    let owner = lsn_commerce::cart::Owner {
        user_id: user.as_ref().map(|u| u.user.id.to_string()),
        guest_token: jar.get(lsn_commerce::cart::CART_COOKIE).map(|c| c.value().to_string()),
    };
    let (cart, _) = lsn_commerce::cart::resolve(&c.db, c.clock.now_ms(), &owner, false).await.map_err(ApiError::from)?;
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let scope = lsn_commerce::idempotency::scope_of(user.as_ref().map(|u| u.user.id.as_str()), jar);
    let done = lsn_commerce::idempotency::once(&c.db, c.clock.now_ms(), &scope, key, "trpc orders.create", &input, || async {
        let cart =
            cart.ok_or_else(|| ApiError::from(lsn_commerce::CommerceError::rule(lsn_commerce::Code::CartEmpty, "Your cart is empty.")))?;
        let meta = user.as_ref().map(|u| u.meta.clone()).unwrap_or_else(|| meta.clone());
        let buyer = lsn_commerce::buyers::Buyer::new(user.as_ref().map(|u| &u.user), &meta, owner.guest_token.as_deref())
            .with_visitor(jar.get(lsn_commerce::buyers::VISITOR_COOKIE).map(|c| c.value()));
        Ok((StatusCode::OK, json!(c.checkout(&buyer, &cart, &checkout).await?)))
    })
    .await
    .map_err(ApiError::from)?;
    if done.status.is_success() {
        Ok(done.body)
    } else {
        Err(Failure::Replay(done.status, done.body))
    }
}

async fn call_api(s: &AppState, name: &str, input: Value, user: &Option<AuthUser>) -> Result<Value, ApiError> {
    let c = &s.commerce;
    let is_staff = sees_as_staff(user, Scope::CatalogRead);
    match name {
        "products.list" => Ok(json!(c.catalog.search(&parse(&input)?, is_staff).await?)),
        "products.get" => {
            let id = id_of(&input)?;
            Ok(json!(c.catalog.get(&id, is_staff).await?.ok_or_else(ApiError::not_found)?))
        }
        "products.create" => Ok(json!(c.catalog.create(&parse(&input)?).await?)),
        "products.update" => {
            let id = id_of(&input)?;
            let mut patch = input.clone();
            if let Some(m) = patch.as_object_mut() {
                m.remove("id");
            }
            Ok(json!(c.catalog.update(&id, &parse(&patch)?).await?))
        }
        "products.delete" => {
            let id = id_of(&input)?;
            Ok(json!({"id": id, "result": c.catalog.delete(&id).await?}))
        }
        "orders.list" => {
            let u = signed_in(user)?;
            let mine = if sees_as_staff(user, Scope::OrdersRead) { None } else { Some(u.user.id.as_str()) };
            let status = input["status"].as_str().map(|s| OrderStatus::from_field("status", s)).transpose()?;
            Ok(json!(c.orders(mine, status, input["before"].as_i64(), input["limit"].as_i64().unwrap_or(50)).await?))
        }
        "orders.get" => {
            let u = signed_in(user)?;
            let v = if sees_as_staff(user, Scope::OrdersRead) { Viewer::Staff } else { Viewer::Customer(u.user.id.to_string()) };
            Ok(json!(c.order(&id_of(&input)?, &v).await?))
        }
        "orders.updateStatus" => {
            let status = input["status"]
                .as_str()
                .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", "Input needs a \"status\"."))?;
            let label = signed_in(user)?.actor().label;
            Ok(json!(
                c.update_status(&label, &lsn_commerce::orders::OrderId::from(id_of(&input)?), OrderStatus::from_field("status", status)?)
                    .await?
            ))
        }
        "streaming.listShows" => Ok(json!(s.live.list(input["status"].as_str(), input["limit"].as_i64().unwrap_or(50)).await?)),
        "streaming.startShow" | "streaming.endShow" => {
            let u = signed_in(user)?;
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
        "system.getScheduledTasks" => Ok(json!(lsn_ops::schedule::list(&s.db).await.map_err(ApiError::internal)?)),
        "system.getTaskHistory" => {
            let task = input["taskName"]
                .as_str()
                .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", "Input needs a \"taskName\"."))?;
            Ok(json!(lsn_ops::schedule::history(&s.db, task, input["limit"].as_i64().unwrap_or(30).clamp(1, 500))
                .await
                .map_err(ApiError::internal)?))
        }
        "system.updateAlertThreshold" => {
            let metric = input["metric"].as_str().ok_or_else(|| {
                ApiError::from(lsn_ops::OpsError::field(lsn_ops::Code::UnknownMetric, "metric", lsn_core::i18n::t("ops-metric-needed")))
            })?;
            crate::ops::update_threshold(s, metric, &input, &signed_in(user)?.actor().label).await
        }
        "system.sendSlackAlert" => crate::ops::send_slack_alert(s, &input).await,
        "system.sendTestEmail" => crate::ops::send_test_email(s, &input).await,
        "creators.list" => Ok(json!(s
            .creators
            .list(input["status"].as_str(), input["tier"].as_str(), input["limit"].as_i64().unwrap_or(100))
            .await
            .map_err(ApiError::from)?)),
        "creators.getStats" => {
            let u = signed_in(user)?;
            // Staff may name any creator; a creator gets their own, whatever they name.
            let id = match input["creatorId"].as_str() {
                Some(id) if u.allows(Access::Staff(Scope::Admin)) => id.to_string(),
                _ => s.creators.approved_for(&u.user.id).await.map_err(ApiError::from)?.id,
            };
            let days = input["days"].as_i64().unwrap_or(30).clamp(1, 365);
            Ok(s.creators.stats(&id, days).await.map_err(ApiError::from)?)
        }
        "creators.processPayout" => {
            let id = input["creatorId"]
                .as_str()
                .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid_input", "Input needs a \"creatorId\"."))?;
            let amount = input["amount"]
                .as_f64()
                .filter(|a| a.is_finite() && *a > 0.0 && *a <= 1_000_000.0)
                .ok_or_else(|| ApiError::validation(json!({"amount": "an amount in dollars above 0 and at most 1000000"})))?;
            let cents = (amount * 100.0).round() as i64;
            let label = signed_in(user)?.actor().label;
            Ok(json!(s.creators.process_payout(id, cents, input["currency"].as_str(), &label).await.map_err(ApiError::from)?))
        }
        _ => Err(ApiError::not_found()),
    }
}

#[expect(clippy::too_many_arguments, reason = "an axum handler takes one argument per extractor")]
pub async fn handle(
    State(s): State<AppState>,
    Path(name): Path<String>,
    method: Method,
    caller: Result<MaybeUser, lsn_identity::IdentityError>,
    meta: lsn_identity::ClientMeta,
    jar: CookieJar,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    body: Bytes,
) -> Response {
    // A credential that does not work is refused in tRPC's shape, as everything else here.
    let (user, bad_credential) = match caller {
        Ok(MaybeUser(u)) => (u, None),
        Err(e) => (None, Some(ApiError::from(e))),
    };
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
            if let Some(e) = &bad_credential {
                return Err(Failure::Api(e.clone()));
            }
            let Some((kind, access)) = procedure(n) else {
                return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("No procedure named {n}.")).into());
            };
            let known_query = kind == Kind::Query;
            if known_query != is_query || !(is_query || matches!(method, Method::POST | Method::PUT | Method::DELETE | Method::PATCH)) {
                return Err(ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_supported",
                    if known_query { "Call queries with GET." } else { "Call mutations with POST." },
                )
                .into());
            }
            lsn_identity::access::check(user.as_ref(), access).map_err(ApiError::from)?;
            call(&s, n, unwrap_input(input), &user, &jar, &headers, &meta).await
        }
        .await;
        results.push(match outcome {
            Ok(data) => (StatusCode::OK, json!({"result": {"data": data}})),
            Err(e) => (e.status(), e.body(n)),
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
