//! The real Stripe client against a local fake Stripe that checks every request: auth, the
//! pinned version, form encoding, idempotency keys (replayed on retries, refused when reused
//! with other parameters), PaymentIntent states by test payment method, refunds and failures.

use crate::common::{deliver_event, json, Backend, Faults, TestApp};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use lsn_commerce::payments::stripe::{Stripe, API_VERSION};
use lsn_commerce::payments::{Cancelled, Confirmation, IntentRequest, PaymentMethod, PaymentProvider, ProviderError};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Default)]
struct Inner {
    intents: HashMap<String, Value>,
    /// Idempotency-Key → (request fingerprint, status, body).
    replies: HashMap<String, (String, u16, Value)>,
    /// Every request: (path, idempotency key, form).
    log: Vec<(String, String, HashMap<String, String>)>,
    fail_next: u32,
    refunded: HashMap<String, i64>,
}

#[derive(Clone, Default)]
pub(crate) struct FakeStripe(Arc<Mutex<Inner>>, pub(crate) Faults);

impl FakeStripe {
    /// Intents created, refunds made: what a charge or a refund would cost.
    pub(crate) fn intents(&self) -> usize {
        self.0.lock().expect("lock").intents.len()
    }

    pub(crate) fn refunded(&self, intent: &str) -> i64 {
        self.0.lock().expect("lock").refunded.get(intent).copied().unwrap_or(0)
    }

    pub(crate) fn intent_of(&self, order_id: &str) -> Option<Value> {
        self.0.lock().expect("lock").intents.values().find(|pi| pi["metadata"]["order_id"] == order_id).cloned()
    }
}

fn stripe_error(status: StatusCode, kind: &str, message: &str, extra: Value) -> (u16, Value) {
    let mut e = json!({"type": kind, "message": message});
    if let (Some(m), Some(x)) = (e.as_object_mut(), extra.as_object()) {
        m.extend(x.clone());
    }
    (status.as_u16(), json!({"error": e}))
}

fn execute(inner: &mut Inner, path: &str, form: &HashMap<String, String>) -> (u16, Value) {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["v1", "payment_intents"] => {
            let (Some(amount), Some(currency)) = (form.get("amount").and_then(|a| a.parse::<i64>().ok()), form.get("currency")) else {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "Missing required param: amount.",
                    json!({"param": "amount"}),
                );
            };
            if currency != "aud" {
                return stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", "Invalid currency", json!({"param": "currency"}));
            }
            let id = format!("pi_fake_{}", inner.intents.len() + 1);
            let pi = json!({"id": id, "object": "payment_intent", "amount": amount, "currency": currency, "status": "requires_payment_method",
                "client_secret": format!("{id}_secret_x"), "metadata": {"order_id": form.get("metadata[order_id]")}});
            inner.intents.insert(id, pi.clone());
            (200, pi)
        }
        ["v1", "payment_intents", id, action] => {
            let Some(pi) = inner.intents.get_mut(*id) else {
                return stripe_error(StatusCode::NOT_FOUND, "invalid_request_error", "No such payment_intent", json!({}));
            };
            match *action {
                "confirm" if pi["status"] == "succeeded" => stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed.",
                    json!({"code": "payment_intent_unexpected_state", "payment_intent": pi.clone()}),
                ),
                "confirm" => match form.get("payment_method").map(String::as_str) {
                    Some("pm_card_visa") => {
                        pi["status"] = json!("succeeded");
                        pi["amount_received"] = pi["amount"].clone();
                        (200, pi.clone())
                    }
                    Some("pm_card_visa_chargeDeclined") => {
                        pi["status"] = json!("requires_payment_method");
                        stripe_error(
                            StatusCode::PAYMENT_REQUIRED,
                            "card_error",
                            "Your card was declined.",
                            json!({"code": "card_declined", "decline_code": "generic_decline", "payment_intent": pi.clone()}),
                        )
                    }
                    Some("pm_card_threeDSecure2Required") => {
                        pi["status"] = json!("requires_action");
                        pi["next_action"] =
                            json!({"type": "redirect_to_url", "redirect_to_url": {"url": "https://hooks.stripe.com/3ds/x"}});
                        (200, pi.clone())
                    }
                    _ => stripe_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_error",
                        "No such PaymentMethod",
                        json!({"param": "payment_method"}),
                    ),
                },
                "cancel" => {
                    let status = pi["status"].as_str().unwrap_or_default().to_string();
                    if matches!(status.as_str(), "succeeded" | "canceled" | "processing") {
                        return stripe_error(
                            StatusCode::BAD_REQUEST,
                            "invalid_request_error",
                            &format!("You cannot cancel this PaymentIntent because it has a status of {status}."),
                            json!({"code": "payment_intent_unexpected_state", "payment_intent": pi.clone()}),
                        );
                    }
                    pi["status"] = json!("canceled");
                    (200, pi.clone())
                }
                _ => stripe_error(StatusCode::NOT_FOUND, "invalid_request_error", "Unrecognized request URL", json!({})),
            }
        }
        ["v1", "refunds"] => {
            let pi_id = form.get("payment_intent").cloned().unwrap_or_default();
            let Some(pi) = inner.intents.get(&pi_id).cloned() else {
                return stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", "No such payment_intent", json!({}));
            };
            if pi["status"] != "succeeded" {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "This PaymentIntent does not have a successful charge to refund.",
                    json!({}),
                );
            }
            let amount = form.get("amount").and_then(|a| a.parse::<i64>().ok()).unwrap_or(0);
            let done = *inner.refunded.get(&pi_id).unwrap_or(&0);
            if amount <= 0 || done + amount > pi["amount"].as_i64().unwrap_or(0) {
                return stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "Refund amount is greater than unrefunded amount on charge",
                    json!({"param": "amount"}),
                );
            }
            inner.refunded.insert(pi_id.clone(), done + amount);
            (
                200,
                json!({"id": format!("re_fake_{}", inner.log.len()), "object": "refund", "amount": amount, "payment_intent": pi_id, "status": "succeeded"}),
            )
        }
        _ => stripe_error(StatusCode::NOT_FOUND, "invalid_request_error", "Unrecognized request URL", json!({})),
    }
}

async fn handler(State(f): State<FakeStripe>, Path(path): Path<String>, headers: HeaderMap, body: String) -> Response {
    let path = format!("/{path}");
    let reply = |(s, v): (u16, Value)| {
        (StatusCode::from_u16(s).unwrap_or(StatusCode::OK), [("request-id", "req_fake")], axum::Json(v)).into_response()
    };
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer sk_test_fake") {
        return reply(stripe_error(StatusCode::UNAUTHORIZED, "invalid_request_error", "Invalid API Key provided", json!({})));
    }
    if headers.get("stripe-version").and_then(|v| v.to_str().ok()) != Some(API_VERSION) {
        return reply(stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", "Stripe-Version must be pinned", json!({})));
    }
    if !headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) {
        return reply(stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", "Bodies are form-encoded", json!({})));
    }
    let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string) else {
        return reply(stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "this fake requires an Idempotency-Key on every POST",
            json!({}),
        ));
    };
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let mut inner = f.0.lock().expect("lock");
    inner.log.push((path.clone(), key.clone(), form.clone()));
    if inner.fail_next > 0 {
        inner.fail_next -= 1;
        return reply(stripe_error(StatusCode::INTERNAL_SERVER_ERROR, "api_error", "fake outage", json!({})));
    }
    let fingerprint = format!("{path}?{body}");
    if let Some((fp, s, v)) = inner.replies.get(&key).cloned() {
        if fp != fingerprint {
            return reply(stripe_error(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                json!({}),
            ));
        }
        return reply((s, v));
    }
    let (s, v) = execute(&mut inner, &path, &form);
    inner.replies.insert(key, (fingerprint, s, v.clone()));
    reply((s, v))
}

pub(crate) async fn fake_stripe() -> (FakeStripe, String) {
    let f = FakeStripe::default();
    let router = f.1.wrap(Router::new().route("/{*path}", post(handler)).with_state(f.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (f, format!("http://{addr}"))
}

/// LSN in Stripe mode (endpoint secret `whsec_fake`) against a fresh fake Stripe, with `extra`
/// configuration.
pub(crate) async fn stripe_app(backend: Backend, extra: &[(&str, &str)]) -> Option<(TestApp, FakeStripe)> {
    let (fake, base) = fake_stripe().await;
    let mut env = vec![("STRIPE_SECRET_KEY", "sk_test_fake"), ("STRIPE_API_BASE", base.as_str()), ("STRIPE_WEBHOOK_SECRET", "whsec_fake")];
    env.extend_from_slice(extra);
    Some((TestApp::spawn(backend, &env).await?, fake))
}

fn req(key: &str) -> IntentRequest {
    IntentRequest {
        order_id: "o-1".into(),
        order_number: "LSN-TEST".into(),
        amount: 2500,
        currency: "AUD".into(),
        email: "a@b.co".into(),
        idempotency_key: key.into(),
    }
}

#[tokio::test]
async fn stripe_client_speaks_stripe() {
    let (fake, base) = fake_stripe().await;
    let s = Stripe::new(lsn_core::Secret::new("sk_test_fake"), Some(&base), TIMEOUT);
    let pi = s.create_intent(&req("order:o-1")).await.expect("create");
    assert_eq!((pi.id.as_str(), pi.status.as_str()), ("pi_fake_1", "requires_payment_method"));
    {
        let inner = fake.0.lock().expect("lock");
        let (path, key, form) = &inner.log[0];
        assert_eq!((path.as_str(), key.as_str()), ("/v1/payment_intents", "order:o-1"));
        assert_eq!(form.get("amount").map(String::as_str), Some("2500"));
        assert_eq!(form.get("currency").map(String::as_str), Some("aud"));
        assert_eq!(form.get("automatic_payment_methods[enabled]").map(String::as_str), Some("true"));
        assert_eq!(form.get("metadata[order_id]").map(String::as_str), Some("o-1"));
    }
    // The same key is the same intent; a retry after an outage reuses the key.
    assert_eq!(s.create_intent(&req("order:o-1")).await.expect("again").id, "pi_fake_1");
    fake.0.lock().expect("lock").fail_next = 2;
    let pi2 = s.create_intent(&req("order:o-2")).await.expect("retried through the outage");
    assert_eq!(pi2.id, "pi_fake_2");
    let keys: Vec<String> = fake.0.lock().expect("lock").log.iter().rev().take(3).map(|(_, k, _)| k.clone()).collect();
    assert_eq!(keys, vec!["order:o-2"; 3]);
    fake.0.lock().expect("lock").fail_next = 5;
    assert!(matches!(s.create_intent(&req("order:o-3")).await, Err(ProviderError::Unavailable(_))));
    fake.0.lock().expect("lock").fail_next = 0;
    // Reusing a key with other parameters is Stripe's idempotency error.
    let mut other = req("order:o-1");
    other.amount = 9999;
    assert!(matches!(s.create_intent(&other).await, Err(ProviderError::Rejected(m)) if m.contains("same parameters")));

    let ok = s.confirm("pi_fake_1", &PaymentMethod::Id("pm_card_visa".into()), "c-1").await.expect("confirm");
    assert!(matches!(ok, Confirmation::Succeeded { .. }));
    let declined = s.confirm("pi_fake_2", &PaymentMethod::Id("pm_card_visa_chargeDeclined".into()), "c-2").await.expect("confirm");
    assert_eq!(declined, Confirmation::Failed { code: "generic_decline".into(), message: "Your card was declined.".into() });
    let pi3 = s.create_intent(&req("order:o-4")).await.expect("create");
    let action = s.confirm(&pi3.id, &PaymentMethod::Id("pm_card_threeDSecure2Required".into()), "c-3").await.expect("confirm");
    assert_eq!(action, Confirmation::RequiresAction { url: "https://hooks.stripe.com/3ds/x".into() });
    assert!(
        matches!(s.confirm("pi_fake_1", &PaymentMethod::TestCard("4242424242424242".into()), "c-4").await, Err(ProviderError::Rejected(_))),
        "card numbers never go to Stripe from here"
    );

    let r = s.refund("pi_fake_1", 1000, "refund:1").await.expect("refund");
    assert_eq!(r.status, "succeeded");
    assert!(matches!(s.refund("pi_fake_1", 5000, "refund:2").await, Err(ProviderError::Rejected(_))));
    assert_eq!(s.cancel(&pi3.id, "cancel:1").await.expect("cancel"), Cancelled::Now);
    assert_eq!(s.cancel(&pi3.id, "cancel:1b").await.expect("cancel again"), Cancelled::Already);
    assert_eq!(s.cancel("pi_fake_1", "cancel:2").await.expect("a paid intent"), Cancelled::Paid, "a paid intent is not cancelled");
    assert!(matches!(s.cancel("pi_nope", "cancel:3").await, Err(ProviderError::Rejected(_))));
    let bad = Stripe::new(lsn_core::Secret::new("sk_test_wrong"), Some(&base), TIMEOUT);
    assert!(matches!(bad.create_intent(&req("x")).await, Err(ProviderError::Rejected(m)) if m.contains("401")));
}

/// With Stripe configured: checkout creates the intent at Stripe, payment confirms it, the signed
/// webhook marks the order paid; an outage during checkout loses no order and charges once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_through_stripe_survives_an_outage() {
    let Some((app, fake)) = stripe_app(Backend::Sqlite, &[]).await else { return };
    let p = app.product(json!({"title": "Lamp", "status": "active", "variants": [{"sku": "LAMP", "price": 4900}]})).await;
    app.stock(&p.variants[0].id, 5).await;
    let c = app.client();
    c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "LAMP", "quantity": 1})).send().await.expect("add");
    fake.0.lock().expect("lock").fail_next = 10;
    let body = json!({"email": "s@example.com", "shipping_address": {"name": "S", "line1": "1 A St", "suburb": "Perth", "state": "WA", "postcode": "6000"}});
    let (s, co) = json(c.post(app.url("/api/v1/checkout")).json(&body).send().await.expect("checkout")).await;
    assert_eq!(s, 201, "the order is kept while Stripe is down: {co}");
    assert_eq!(co["payment"]["status"], "creating");
    fake.0.lock().expect("lock").fail_next = 0;
    let id = co["order"]["id"].as_str().expect("id");
    let token = co["order_token"].as_str().expect("token");
    let pay = |pm: &'static str| {
        let (c, url, token) = (c.clone(), app.url(&format!("/api/v1/orders/{id}/pay")), token.to_string());
        async move { json(c.post(url).header("x-order-token", token).json(&json!({"payment_method": pm})).send().await.expect("pay")).await }
    };
    let (s, b) = json(
        c.post(app.url(&format!("/api/v1/orders/{id}/pay")))
            .header("x-order-token", token)
            .json(&json!({"card_number": "4242424242424242"}))
            .send()
            .await
            .expect("pay"),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("card_number_not_accepted")));
    let (s, b) = pay("pm_card_visa").await;
    assert_eq!((s, b["payment"]["status"].as_str()), (200, Some("succeeded")), "{b}");
    let created: Vec<String> =
        fake.0.lock().expect("lock").log.iter().filter(|(p, _, _)| p == "/v1/payment_intents").map(|(_, k, _)| k.clone()).collect();
    assert!(created.iter().all(|k| *k == format!("order:{id}")), "every attempt used the order's key: {created:?}");
    assert_eq!(fake.0.lock().expect("lock").intents.len(), 1, "one intent, so one charge");
    // Stripe's webhook, signed with the endpoint secret.
    let intent = fake.0.lock().expect("lock").intents.keys().next().cloned().expect("intent");
    let event = json!({"id": "evt_live_1", "object": "event", "type": "payment_intent.succeeded", "created": 1, "data": {"object": {"id": intent, "object": "payment_intent", "amount": 5895, "amount_received": 5895, "status": "succeeded"}}});
    assert_eq!(deliver_event(&app, "whsec_fake", &event).await.0, 200);
    let o = app.rt.state.commerce.order(id, &lsn_commerce::orders::Viewer::Staff).await.expect("order");
    assert_eq!((o.status.as_str(), o.amount_paid), ("paid", 5895));
}
