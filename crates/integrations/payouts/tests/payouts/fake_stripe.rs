//! A local fake of Stripe's `/v1/transfers`: Bearer secret key (401 `invalid_request_error`),
//! form-encoded parameters checked as Stripe does, known connected accounts, the platform
//! balance, and `Idempotency-Key` semantics: the first answer is stored and replayed for the
//! same key and parameters; the same key with other parameters is a 400 `idempotency_error`; a
//! request refused before it executes (a 503 from the edge) stores nothing.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

pub const KEY: &str = "sk_test_payouts";

#[derive(Default)]
pub struct Inner {
    pub accounts: Vec<String>,
    /// The platform's available balance, in cents.
    pub balance: i64,
    pub transfers: HashMap<String, Value>,
    /// Idempotency key → (parameters, status, body).
    replies: HashMap<String, (BTreeMap<String, String>, u16, Value)>,
    /// The next this-many POSTs answer 503 before executing.
    pub unavailable_next: usize,
    pub posts: usize,
    next: u64,
}

#[derive(Clone, Default)]
pub struct FakeStripe(pub Arc<Mutex<Inner>>);

impl FakeStripe {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().expect("lock")
    }

    /// Reverses a transfer in full (as the dashboard would).
    pub fn reverse(&self, id: &str) {
        if let Some(t) = self.lock().transfers.get_mut(id) {
            t["amount_reversed"] = t["amount"].clone();
            t["reversed"] = json!(true);
        }
    }
}

fn error(status: StatusCode, kind: &str, code: &str, message: &str, param: Option<&str>) -> (u16, Value) {
    (status.as_u16(), json!({"error": {"type": kind, "code": code, "message": message, "param": param}}))
}

fn authorised(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {KEY}"))
}

fn execute(s: &mut Inner, p: &BTreeMap<String, String>) -> (u16, Value) {
    let Some(amount) = p.get("amount").and_then(|a| a.parse::<i64>().ok()).filter(|a| *a > 0) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "parameter_invalid_integer",
            "Invalid positive integer",
            Some("amount"),
        );
    };
    let currency = p.get("currency").cloned().unwrap_or_default();
    if currency.len() != 3 || currency.to_lowercase() != currency {
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", "parameter_invalid", "Invalid currency", Some("currency"));
    }
    let destination = p.get("destination").cloned().unwrap_or_default();
    if !s.accounts.contains(&destination) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "resource_missing",
            &format!("No such destination: '{destination}'"),
            Some("destination"),
        );
    }
    if amount > s.balance {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "balance_insufficient",
            "You have insufficient available funds in your Stripe account.",
            None,
        );
    }
    s.balance -= amount;
    s.next += 1;
    let id = format!("tr_fake{:08}", s.next);
    let metadata: serde_json::Map<String, Value> =
        p.iter().filter_map(|(k, v)| Some((k.strip_prefix("metadata[")?.strip_suffix(']')?.to_string(), json!(v)))).collect();
    let t = json!({
        "id": id, "object": "transfer", "amount": amount, "amount_reversed": 0, "currency": currency, "destination": destination,
        "transfer_group": p.get("transfer_group"), "description": p.get("description"), "metadata": metadata,
        "reversed": false, "livemode": false, "created": 1_782_867_723,
    });
    s.transfers.insert(id, t.clone());
    (200, t)
}

async fn create(State(f): State<FakeStripe>, headers: HeaderMap, body: String) -> Response {
    if !authorised(&headers) {
        let (s, b) = error(StatusCode::UNAUTHORIZED, "invalid_request_error", "", "Invalid API Key provided", None);
        return (StatusCode::from_u16(s).unwrap_or(StatusCode::UNAUTHORIZED), Json(b)).into_response();
    }
    let params: BTreeMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let mut s = f.lock();
    s.posts += 1;
    if s.unavailable_next > 0 {
        s.unavailable_next -= 1;
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": {"type": "api_error", "message": "try again"}}))).into_response();
    }
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let (status, body) = match key.as_ref().and_then(|k| s.replies.get(k)).cloned() {
        Some((stored, status, body)) if stored == params => (status, body),
        Some(_) => error(
            StatusCode::BAD_REQUEST,
            "idempotency_error",
            "idempotency_key_in_use",
            "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            None,
        ),
        None => {
            let (status, body) = execute(&mut s, &params);
            // Validation failures are not stored (Stripe stores once the endpoint executes).
            if let Some(k) = key.filter(|_| status == 200 || body["error"]["code"] == "balance_insufficient") {
                s.replies.insert(k, (params, status, body.clone()));
            }
            (status, body)
        }
    };
    (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), [("request-id", "req_fake")], Json(body)).into_response()
}

async fn retrieve(State(f): State<FakeStripe>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorised(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match f.lock().transfers.get(&id) {
        Some(t) => Json(t.clone()).into_response(),
        None => {
            let (_, b) = error(StatusCode::NOT_FOUND, "invalid_request_error", "resource_missing", "No such transfer", Some("id"));
            (StatusCode::NOT_FOUND, Json(b)).into_response()
        }
    }
}

pub async fn start() -> (FakeStripe, String) {
    let f = FakeStripe::default();
    {
        let mut s = f.lock();
        s.accounts = vec!["acct_1Creator".into(), "acct_2Creator".into()];
        s.balance = 1_000_000;
    }
    let app = axum::Router::new().route("/v1/transfers", post(create)).route("/v1/transfers/{id}", get(retrieve)).with_state(f.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (f, format!("http://{addr}"))
}
