//! A local fake of Wise's payout API that checks requests as Wise does: the Bearer token
//! (401 `{"error":"unauthorized"}`), the profile in the path, quotes with exactly one of
//! sourceAmount/targetAmount (422 `errors[]`), recipient details per type, transfers idempotent
//! on customerTransactionId, the batch group's version and status, funding from a balance
//! (COMPLETED, or REJECTED for insufficient funds; a transfer is never funded twice), and 429
//! with Retry-After on request.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const TOKEN: &str = "wise-test-token";
pub const PROFILE: i64 = 202;

#[derive(Default)]
pub struct Inner {
    /// Every request that reached a handler or the limiter: (method, path).
    pub requests: Vec<(String, String)>,
    /// The next this-many requests whose path contains `limit_path` answer 429.
    pub limit_next: usize,
    pub limit_path: String,
    /// The next this-many batch fundings answer 500 (before doing anything).
    pub fail_funding: usize,
    /// The AUD balance, in cents.
    pub balance: i64,
    next_id: i64,
    pub recipients: HashMap<i64, Value>,
    quotes: HashMap<String, Value>,
    pub transfers: HashMap<i64, Value>,
    by_ctid: HashMap<String, i64>,
    pub groups: HashMap<String, Value>,
    /// Transfers funded, by id (a second funding would be a double payment).
    pub fundings: HashMap<i64, usize>,
}

#[derive(Clone, Default)]
pub struct FakeWise(pub Arc<Mutex<Inner>>);

impl FakeWise {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().expect("lock")
    }
}

fn errors(status: StatusCode, code: &str, message: &str, path: &str) -> Response {
    (status, Json(json!({"errors": [{"code": code, "message": message, "path": path, "arguments": []}]}))).into_response()
}

async fn guard(State(f): State<FakeWise>, req: Request, next: Next) -> Response {
    let (method, path) = (req.method().to_string(), req.uri().path().to_string());
    {
        let mut s = f.lock();
        s.requests.push((method, path.clone()));
        if s.limit_next > 0 && path.contains(&s.limit_path) {
            s.limit_next -= 1;
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "3")]).into_response();
        }
    }
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    if auth != format!("Bearer {TOKEN}") {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "unauthorized", "error_description": "Full authentication is required"})))
            .into_response();
    }
    if let Some(rest) = path.strip_prefix("/v3/profiles/") {
        if rest.split('/').next() != Some(&PROFILE.to_string()) {
            return errors(StatusCode::FORBIDDEN, "profile.not-accessible", "You cannot act for this profile", "profileId");
        }
    }
    next.run(req).await
}

async fn profiles() -> Json<Value> {
    Json(json!([
        {"id": 101, "type": "PERSONAL", "fullName": "Ann Owner"},
        {"id": PROFILE, "type": "BUSINESS", "businessName": "LSN Live Pty Ltd"},
    ]))
}

fn digits(v: &Value, n: std::ops::RangeInclusive<usize>) -> bool {
    v.as_str().is_some_and(|s| n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
}

async fn create_account(State(f): State<FakeWise>, Json(b): Json<Value>) -> Response {
    if b["profile"].as_i64() != Some(PROFILE) {
        return errors(StatusCode::UNPROCESSABLE_ENTITY, "NOT_VALID", "Profile is not valid", "profile");
    }
    if b["accountHolderName"].as_str().is_none_or(|n| n.trim().is_empty()) {
        return errors(StatusCode::UNPROCESSABLE_ENTITY, "NOT_VALID", "Please enter the recipient's full name", "accountHolderName");
    }
    let d = &b["details"];
    let (currency, problem) = match b["type"].as_str() {
        Some("australian") => (
            "AUD",
            if !digits(&d["bsbCode"], 6..=6) {
                Some(("bsbCode", "Please specify a valid BSB code"))
            } else if !digits(&d["accountNumber"], 5..=9) {
                Some(("accountNumber", "Please specify a valid account number"))
            } else {
                None
            },
        ),
        Some("sort_code") => (
            "GBP",
            if !digits(&d["sortCode"], 6..=6) {
                Some(("sortCode", "Please specify a valid sort code"))
            } else if !digits(&d["accountNumber"], 8..=8) {
                Some(("accountNumber", "Please specify a valid account number"))
            } else {
                None
            },
        ),
        Some("iban") => {
            ("", if d["IBAN"].as_str().is_none_or(|i| i.len() < 15) { Some(("IBAN", "Please specify a valid IBAN")) } else { None })
        }
        Some("aba") => (
            "USD",
            if !digits(&d["abartn"], 9..=9) {
                Some(("abartn", "Please specify a valid routing number"))
            } else if !matches!(d["accountType"].as_str(), Some("CHECKING" | "SAVINGS")) {
                Some(("accountType", "Please choose checking or savings"))
            } else {
                None
            },
        ),
        _ => return errors(StatusCode::UNPROCESSABLE_ENTITY, "NOT_VALID", "Unknown recipient type", "type"),
    };
    if let Some((path, msg)) = problem {
        return errors(StatusCode::UNPROCESSABLE_ENTITY, "NOT_VALID", msg, path);
    }
    if !currency.is_empty() && b["currency"].as_str() != Some(currency) {
        return errors(StatusCode::UNPROCESSABLE_ENTITY, "NOT_VALID", "Currency not supported for this type", "currency");
    }
    let mut s = f.lock();
    s.next_id += 1;
    let id = 70_000 + s.next_id;
    let mut acct = b.clone();
    acct["id"] = json!(id);
    s.recipients.insert(id, acct.clone());
    (StatusCode::OK, Json(acct)).into_response()
}

fn rate(target: &str) -> f64 {
    match target {
        "AUD" => 1.0,
        "USD" => 0.65,
        "EUR" => 0.6,
        "GBP" => 0.5,
        _ => 0.8,
    }
}

async fn create_quote(State(f): State<FakeWise>, Json(b): Json<Value>) -> Response {
    let (src, tgt) = (b["sourceAmount"].as_f64(), b["targetAmount"].as_f64());
    if src.is_some() == tgt.is_some() {
        return errors(
            StatusCode::UNPROCESSABLE_ENTITY,
            "error.validation",
            "Specify exactly one of sourceAmount and targetAmount",
            "targetAmount",
        );
    }
    let target = b["targetCurrency"].as_str().unwrap_or("").to_string();
    let r = rate(&target);
    let (source_amount, target_amount) = match (src, tgt) {
        (Some(s), _) => (s, s * r),
        (_, Some(t)) => (t / r, t),
        _ => (0.0, 0.0),
    };
    if target_amount <= 0.0 {
        return errors(StatusCode::UNPROCESSABLE_ENTITY, "error.validation", "Amount must be positive", "targetAmount");
    }
    let id = uuid::Uuid::new_v4().to_string();
    let q = json!({
        "id": id, "sourceCurrency": b["sourceCurrency"], "targetCurrency": target, "sourceAmount": source_amount,
        "targetAmount": target_amount, "rate": r, "rateType": "FIXED", "providedAmountType": if src.is_some() { "SOURCE" } else { "TARGET" },
        "profile": PROFILE, "targetAccount": b["targetAccount"], "payOut": "BANK_TRANSFER",
        "expirationTime": "2099-01-01T00:00:00Z",
        "paymentOptions": [{"payIn": "BALANCE", "payOut": "BANK_TRANSFER", "fee": {"total": 0.5}, "sourceAmount": source_amount, "targetAmount": target_amount, "disabled": false}],
    });
    f.lock().quotes.insert(id, q.clone());
    (StatusCode::OK, Json(q)).into_response()
}

async fn create_group(State(f): State<FakeWise>, Json(b): Json<Value>) -> Response {
    if b["sourceCurrency"].as_str().is_none() || b["name"].as_str().is_none_or(|n| n.is_empty() || n.len() > 100) {
        return errors(StatusCode::UNPROCESSABLE_ENTITY, "NOT_VALID", "sourceCurrency and name are required", "name");
    }
    let id = uuid::Uuid::new_v4().to_string();
    let g = json!({"id": id, "version": 1, "name": b["name"], "sourceCurrency": b["sourceCurrency"], "status": "NEW", "transferIds": [], "payInDetails": []});
    f.lock().groups.insert(id, g.clone());
    (StatusCode::CREATED, Json(g)).into_response()
}

async fn get_group(State(f): State<FakeWise>, Path((_p, g)): Path<(i64, String)>) -> Response {
    match f.lock().groups.get(&g) {
        Some(v) => Json(v.clone()).into_response(),
        None => errors(StatusCode::NOT_FOUND, "batch-group.not-found", "No such batch group", "batchGroupId"),
    }
}

async fn patch_group(State(f): State<FakeWise>, Path((_p, g)): Path<(i64, String)>, Json(b): Json<Value>) -> Response {
    let mut s = f.lock();
    let Some(group) = s.groups.get_mut(&g) else {
        return errors(StatusCode::NOT_FOUND, "batch-group.not-found", "No such batch group", "batchGroupId");
    };
    if b["version"] != group["version"] {
        return errors(StatusCode::CONFLICT, "batch-group.version-mismatch", "The batch group has changed; read it again", "version");
    }
    match (group["status"].as_str(), b["status"].as_str()) {
        (Some("NEW"), Some("COMPLETED")) => group["status"] = json!("COMPLETED"),
        (Some("NEW" | "COMPLETED"), Some("CANCELLED")) if group["funded"] != json!(true) => group["status"] = json!("CANCELLED"),
        _ => return errors(StatusCode::UNPROCESSABLE_ENTITY, "batch-group.invalid-state", "Not allowed in this state", "status"),
    }
    group["version"] = json!(group["version"].as_i64().unwrap_or(0) * 7 + 3);
    Json(group.clone()).into_response()
}

async fn add_transfer(State(f): State<FakeWise>, Path((_p, g)): Path<(i64, String)>, Json(b): Json<Value>) -> Response {
    let mut s = f.lock();
    let Some(ctid) = b["customerTransactionId"].as_str().filter(|c| uuid::Uuid::parse_str(c).is_ok()).map(str::to_string) else {
        return errors(StatusCode::UNPROCESSABLE_ENTITY, "NOT_VALID", "customerTransactionId must be a UUID", "customerTransactionId");
    };
    // Same customerTransactionId: the same transfer, whatever group it was made in.
    if let Some(id) = s.by_ctid.get(&ctid) {
        return Json(s.transfers[id].clone()).into_response();
    }
    let Some(account) = b["targetAccount"].as_i64().filter(|a| s.recipients.contains_key(a)) else {
        return errors(StatusCode::UNPROCESSABLE_ENTITY, "NOT_VALID", "Unknown recipient", "targetAccount");
    };
    let Some(quote) = b["quoteUuid"].as_str().and_then(|q| s.quotes.get(q)).cloned() else {
        return errors(StatusCode::UNPROCESSABLE_ENTITY, "NOT_VALID", "Unknown or expired quote", "quoteUuid");
    };
    if quote["targetAccount"].as_i64().is_some_and(|t| t != account) {
        return errors(StatusCode::UNPROCESSABLE_ENTITY, "NOT_VALID", "The quote is for another recipient", "quoteUuid");
    }
    match s.groups.get(&g) {
        Some(group) if group["status"] == "NEW" => {}
        Some(_) => {
            return errors(StatusCode::UNPROCESSABLE_ENTITY, "batch-group.invalid-state", "The batch group is closed", "batchGroupId")
        }
        None => return errors(StatusCode::NOT_FOUND, "batch-group.not-found", "No such batch group", "batchGroupId"),
    }
    s.next_id += 1;
    let id = 50_000_000 + s.next_id;
    let t = json!({
        "id": id, "user": 1, "targetAccount": account, "quoteUuid": quote["id"], "status": "incoming_payment_waiting",
        "rate": quote["rate"], "business": PROFILE, "details": b["details"], "hasActiveIssues": false,
        "sourceCurrency": quote["sourceCurrency"], "sourceValue": quote["sourceAmount"], "targetCurrency": quote["targetCurrency"],
        "targetValue": quote["targetAmount"], "customerTransactionId": ctid,
    });
    s.transfers.insert(id, t.clone());
    s.by_ctid.insert(ctid, id);
    if let Some(group) = s.groups.get_mut(&g) {
        if let Some(ids) = group["transferIds"].as_array_mut() {
            ids.push(json!(id));
        }
        group["version"] = json!(group["version"].as_i64().unwrap_or(0) + 11);
    }
    Json(t).into_response()
}

/// Takes the AUD cost of `ids` from the balance and moves them to processing, or says why not.
fn fund(s: &mut Inner, ids: &[i64]) -> Result<(), Box<Response>> {
    if ids.iter().any(|id| s.fundings.contains_key(id) || s.transfers[id]["status"] != "incoming_payment_waiting") {
        return Err(Box::new(errors(
            StatusCode::UNPROCESSABLE_ENTITY,
            "transfer.invalid-state",
            "The transfer is already funded",
            "transferId",
        )));
    }
    let cost: i64 = ids.iter().map(|id| (s.transfers[id]["sourceValue"].as_f64().unwrap_or(0.0) * 100.0).round() as i64).sum();
    if cost > s.balance {
        return Err(Box::new(
            Json(json!({"type": "BALANCE", "status": "REJECTED", "errorCode": "transfer.insufficient_funds"})).into_response(),
        ));
    }
    s.balance -= cost;
    for id in ids {
        *s.fundings.entry(*id).or_default() += 1;
        if let Some(t) = s.transfers.get_mut(id) {
            t["status"] = json!("processing");
        }
    }
    Ok(())
}

async fn fund_group(State(f): State<FakeWise>, Path((_p, g)): Path<(i64, String)>, Json(b): Json<Value>) -> Response {
    let mut s = f.lock();
    if s.fail_funding > 0 {
        s.fail_funding -= 1;
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"status": 500, "error": "Internal Server Error", "message": "boom"})))
            .into_response();
    }
    if b["type"] != "BALANCE" {
        return errors(StatusCode::UNPROCESSABLE_ENTITY, "NOT_VALID", "type must be BALANCE", "type");
    }
    let Some(group) = s.groups.get(&g).cloned() else {
        return errors(StatusCode::NOT_FOUND, "batch-group.not-found", "No such batch group", "batchGroupId");
    };
    if group["status"] != "COMPLETED" {
        return errors(StatusCode::UNPROCESSABLE_ENTITY, "batch-group.invalid-state", "Complete the batch group first", "status");
    }
    let ids: Vec<i64> = group["transferIds"].as_array().into_iter().flatten().filter_map(Value::as_i64).collect();
    if let Err(r) = fund(&mut s, &ids) {
        return *r;
    }
    if let Some(group) = s.groups.get_mut(&g) {
        group["funded"] = json!(true);
    }
    Json(json!({"type": "BALANCE", "status": "COMPLETED", "errorCode": null, "id": g, "profileId": PROFILE})).into_response()
}

async fn fund_transfer(State(f): State<FakeWise>, Path((_p, id)): Path<(i64, i64)>) -> Response {
    let mut s = f.lock();
    if !s.transfers.contains_key(&id) {
        return errors(StatusCode::NOT_FOUND, "transfer.not-found", "No such transfer", "transferId");
    }
    // A transfer in a group still open cannot be funded on its own.
    if s.groups.values().any(|g| g["status"] == "NEW" && g["transferIds"].as_array().is_some_and(|a| a.contains(&json!(id)))) {
        return errors(
            StatusCode::UNPROCESSABLE_ENTITY,
            "transfer.invalid-state",
            "The transfer's batch group is not completed",
            "transferId",
        );
    }
    match fund(&mut s, &[id]) {
        Ok(()) => Json(json!({"type": "BALANCE", "status": "COMPLETED", "errorCode": null})).into_response(),
        Err(r) => *r,
    }
}

async fn get_transfer(State(f): State<FakeWise>, Path(id): Path<i64>) -> Response {
    match f.lock().transfers.get(&id) {
        Some(t) => Json(t.clone()).into_response(),
        None => errors(StatusCode::NOT_FOUND, "transfer.not-found", "No such transfer", "transferId"),
    }
}

/// Starts the fake on a free port; returns it and its base URL.
pub async fn start() -> (FakeWise, String) {
    let f = FakeWise::default();
    f.lock().balance = 100_000_000;
    let app = axum::Router::new()
        .route("/v2/profiles", get(profiles))
        .route("/v1/accounts", post(create_account))
        .route("/v3/profiles/{p}/quotes", post(create_quote))
        .route("/v3/profiles/{p}/batch-groups", post(create_group))
        .route("/v3/profiles/{p}/batch-groups/{g}", get(get_group).patch(patch_group))
        .route("/v3/profiles/{p}/batch-groups/{g}/transfers", post(add_transfer))
        .route("/v3/profiles/{p}/batch-payments/{g}/payments", post(fund_group))
        .route("/v3/profiles/{p}/transfers/{t}/payments", post(fund_transfer))
        .route("/v1/transfers/{t}", get(get_transfer))
        .layer(axum::middleware::from_fn_with_state(f.clone(), guard))
        .with_state(f.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (f, format!("http://{addr}"))
}
