//! Provider faults: the fake Stripe and SendGrid go down, hang, answer slowly, or do the work and
//! lose the reply. Checkout keeps every order and charges each at most once, refunds neither get
//! lost nor happen twice, mail waits in the queue, and a webhook the database could not take is
//! accepted when it is delivered again.

use crate::common::{deliver_event, json, pg_admin, Backend, Fault, TestApp, PASSWORD};
use crate::providers::sendgrid_app;
use crate::stripe::stripe_app;
use lsn_identity::Role;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SLOW: Fault = Fault::Slow(Duration::from_millis(300));

/// A new buyer puts one lamp in a cart and checks out; the order must be kept (201).
async fn checkout(app: &TestApp) -> (reqwest::Client, Value) {
    let c = app.client();
    let r = c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "LAMP", "quantity": 1})).send().await.expect("add");
    assert!(r.status().is_success(), "add to cart: {}", r.status());
    let body = json!({"email": "s@example.com", "shipping_address": {"name": "S", "line1": "1 A St", "suburb": "Perth", "state": "WA", "postcode": "6000"}});
    let (s, co) = json(c.post(app.url("/api/v1/checkout")).json(&body).send().await.expect("checkout")).await;
    assert_eq!(s, 201, "the order is kept whatever Stripe does: {co}");
    (c, co)
}

async fn pay(app: &TestApp, c: &reqwest::Client, co: &Value) -> (u16, Value) {
    let id = co["order"]["id"].as_str().expect("id");
    let r = c
        .post(app.url(&format!("/api/v1/orders/{id}/pay")))
        .header("x-order-token", co["order_token"].as_str().expect("token"))
        .json(&json!({"payment_method": "pm_card_visa"}))
        .send()
        .await
        .expect("pay");
    json(r).await
}

/// Stripe's `payment_intent.succeeded` for `intent`.
fn succeeded(event_id: &str, intent: &Value) -> Value {
    json!({"id": event_id, "object": "event", "type": "payment_intent.succeeded", "created": 1, "data": {"object": intent}})
}

async fn order(app: &TestApp, co: &Value) -> lsn_commerce::orders::Order {
    let id = co["order"]["id"].as_str().expect("id");
    app.rt.state.commerce.order(id, &lsn_commerce::orders::Viewer::Staff).await.expect("order")
}

async fn available(app: &TestApp, product: &str) -> i64 {
    let (_, p) = json(reqwest::get(app.url(&format!("/api/v1/products/{product}"))).await.expect("product")).await;
    let p = if p["product"].is_object() { &p["product"] } else { &p };
    p["variants"][0]["available"].as_i64().expect("available")
}

async fn stripe_faults(backend: Backend) {
    let Some((app, fake)) = stripe_app(backend, &[("LSN_PROVIDER_TIMEOUT_SECS", "1")]).await else { return };
    let p = app.product(json!({"title": "Lamp", "status": "active", "variants": [{"sku": "LAMP", "price": 4900}]})).await;
    app.stock(&p.variants[0].id, 10).await;

    // Stripe hangs: the buyer gets the order back within the time budget, nothing is charged.
    fake.1.set(Fault::Hang);
    let started = Instant::now();
    let (c1, o1) = checkout(&app).await;
    assert_eq!(o1["payment"]["status"], "creating");
    assert!(started.elapsed() < Duration::from_secs(15), "checkout waited {:?}", started.elapsed());
    assert_eq!(fake.intents(), 0);

    // Stripe creates the intent but its reply is lost: LSN does not know the intent yet.
    fake.1.set(Fault::LoseReply);
    let (c2, o2) = checkout(&app).await;
    assert_eq!(o2["payment"]["status"], "creating");
    assert_eq!(fake.intents(), 1, "created at Stripe, reply lost");

    // Stripe is back, slowly: paying finds the same intent (same idempotency key), one per order.
    fake.1.set(SLOW);
    let (s, b) = pay(&app, &c2, &o2).await;
    assert_eq!((s, b["payment"]["status"].as_str()), (200, Some("succeeded")), "{b}");
    assert_eq!(fake.intents(), 1, "the lost intent was found again, not created twice");
    let (s, b) = pay(&app, &c1, &o1).await;
    assert_eq!((s, b["payment"]["status"].as_str()), (200, Some("succeeded")), "{b}");
    assert_eq!(fake.intents(), 2);

    // The confirmation's reply is lost: the buyer's retry learns it succeeded; one charge.
    let (c3, o3) = checkout(&app).await;
    assert_eq!(fake.intents(), 3);
    fake.1.set(Fault::LoseReply);
    let (s, b) = pay(&app, &c3, &o3).await;
    assert_eq!((s, b["error"]["code"].as_str()), (503, Some("payment_provider_unavailable")), "{b}");
    fake.1.set(Fault::None);
    let (s, b) = pay(&app, &c3, &o3).await;
    assert_eq!((s, b["payment"]["status"].as_str()), (200, Some("succeeded")), "the retry sees the first answer: {b}");
    assert_eq!(fake.intents(), 3, "three orders, three intents, three charges");

    // Stripe's webhooks mark each order paid once, a repeated delivery changes nothing.
    for (n, co) in [&o1, &o2, &o3].into_iter().enumerate() {
        let id = co["order"]["id"].as_str().expect("id");
        let intent = fake.intent_of(id).expect("intent at Stripe");
        assert_eq!(intent["status"], "succeeded");
        for _ in 0..2 {
            let (s, b) = deliver_event(&app, "whsec_fake", &succeeded(&format!("evt_fault_{n}"), &intent)).await;
            assert_eq!(s, 200, "{b}");
        }
        let o = order(&app, co).await;
        assert_eq!((o.status.as_str(), o.amount_paid), ("paid", o.total));
    }
    app.run_jobs().await;
    assert_eq!(available(&app, &p.id).await, 7, "three sold, none lost or doubled");

    app.user("admin@example.com", Role::Admin).await;
    let (a, csrf) = app.login("admin@example.com").await;
    let refund = |co: &Value, body: Value| {
        let url = app.url(&format!("/api/v1/orders/{}/refunds", co["order"]["id"].as_str().expect("id")));
        let (a, csrf) = (a.clone(), csrf.clone());
        async move { json(a.post(url).header("x-csrf-token", csrf).json(&body).send().await.expect("refund")).await }
    };

    // A refund whose reply is lost stays pending: a second click cannot refund again, and the
    // job finishes it with the same key, so Stripe refunds once.
    let intent1 = fake.intent_of(o1["order"]["id"].as_str().expect("id")).expect("intent")["id"].as_str().expect("id").to_string();
    let total1 = order(&app, &o1).await.total;
    fake.1.set(Fault::LoseReply);
    let (s, b) = refund(&o1, json!({"reason": "changed mind", "restock": true})).await;
    assert_eq!((s, b["refund"]["status"].as_str()), (202, Some("pending")), "{b}");
    assert_eq!(fake.refunded(&intent1), total1, "done at Stripe, reply lost");
    let (s, b) = refund(&o1, json!({"reason": "again"})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("refund_exceeds_paid")), "{b}");
    fake.1.set(Fault::None);
    app.clock.advance(chrono::Duration::seconds(61));
    app.run_jobs().await;
    let o = order(&app, &o1).await;
    assert_eq!((o.status.as_str(), o.amount_refunded), ("refunded", total1));
    assert_eq!(fake.refunded(&intent1), total1, "refunded once at Stripe");
    assert_eq!(available(&app, &p.id).await, 8, "restocked once");

    // Stripe down for a refund: it waits, retried by the job until Stripe is back.
    let intent2 = fake.intent_of(o2["order"]["id"].as_str().expect("id")).expect("intent")["id"].as_str().expect("id").to_string();
    fake.1.set(Fault::Down);
    let (s, b) = refund(&o2, json!({"amount": 500, "reason": "scratched"})).await;
    assert_eq!((s, b["refund"]["status"].as_str()), (202, Some("pending")), "{b}");
    app.clock.advance(chrono::Duration::seconds(61));
    let runs = app.run_jobs().await;
    assert!(runs.iter().any(|r| matches!(r.outcome, lsn_ops::jobs::Outcome::Retrying { .. })), "{runs:?}");
    assert_eq!(order(&app, &o2).await.status.as_str(), "paid");
    fake.1.set(Fault::None);
    app.clock.advance(chrono::Duration::seconds(11));
    app.run_jobs().await;
    let o = order(&app, &o2).await;
    assert_eq!((o.status.as_str(), o.amount_refunded), ("partially_refunded", 500));
    assert_eq!(fake.refunded(&intent2), 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_faults_sqlite() {
    stripe_faults(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_faults_postgres() {
    stripe_faults(Backend::Postgres).await;
}

/// SendGrid hangs, then answers slowly: the mail waits in the queue and goes out once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_waits_while_sendgrid_hangs() {
    let Some((app, fake)) = sendgrid_app(&[("LSN_PROVIDER_TIMEOUT_SECS", "1")]).await else { return };
    fake.faults.set(Fault::Hang);
    let started = Instant::now();
    let r = app
        .client()
        .post(app.url("/api/auth/register"))
        .json(&json!({"email": "zoe@example.com", "name": "Zoe", "password": PASSWORD}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 202);
    assert!(started.elapsed() < Duration::from_secs(1), "the request does not wait for the mail provider");
    let runs = app.run_jobs().await;
    assert!(runs.iter().any(|r| matches!(r.outcome, lsn_ops::jobs::Outcome::Retrying { .. })), "{runs:?}");
    assert!(fake.received.lock().expect("lock").is_empty());
    fake.faults.set(Fault::Down);
    app.clock.advance(chrono::Duration::seconds(11));
    app.run_jobs().await;
    assert!(fake.received.lock().expect("lock").is_empty());
    fake.faults.set(SLOW);
    app.clock.advance(chrono::Duration::seconds(21));
    let runs = app.run_jobs().await;
    assert!(runs.iter().any(|r| r.outcome == lsn_ops::jobs::Outcome::Succeeded), "{runs:?}");
    assert_eq!(fake.received.lock().expect("lock").len(), 1, "sent once");
    assert!(fake.faults.seen() >= 3, "hung, down, then slow");
}

/// The database stops taking connections while Stripe delivers a webhook: LSN answers 503 (so
/// Stripe delivers it again later), changes nothing, and applies it once when it comes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_during_a_database_outage_is_accepted_later() {
    let Some(app) = TestApp::spawn(Backend::Postgres, &[]).await else { return };
    let p = app.product(json!({"title": "Lamp", "status": "active", "variants": [{"sku": "LAMP", "price": 4900}]})).await;
    app.stock(&p.variants[0].id, 3).await;
    let (_c, co) = checkout(&app).await;
    let intent_id = co["payment"]["intent_id"].as_str().expect("sandbox intent").to_string();
    let total = co["order"]["total"].as_i64().expect("total");
    let intent = json!({"id": intent_id, "object": "payment_intent", "amount": total, "amount_received": total, "status": "succeeded"});
    let event = succeeded("evt_outage_1", &intent);
    let deliver = || deliver_event(&app, lsn_commerce::DEV_WEBHOOK_SECRET, &event);

    let name = url::Url::parse(&app.database_url).expect("url").path().trim_start_matches('/').to_string();
    let admin = pg_admin(&std::env::var("LSN_TEST_DATABASE_URL").expect("admin url")).await;
    lsn_db::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).execute(admin.write()).await.expect("close");
    lsn_db::query(&format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        .fetch_all(admin.write())
        .await
        .expect("terminate");
    let (s, b) = deliver().await;
    assert_eq!((s, b["error"]["code"].as_str()), (503, Some("database_unavailable")), "{b}");
    lsn_db::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).execute(admin.write()).await.expect("open");

    // Stripe's next attempt: accepted, applied once; a further repeat is a duplicate.
    let (s, b) = deliver().await;
    assert_eq!((s, b["result"].as_str()), (200, Some("applied")), "{b}");
    let (s, b) = deliver().await;
    assert_eq!((s, b["result"].as_str()), (200, Some("duplicate")), "{b}");
    assert_eq!(order(&app, &co).await.status.as_str(), "paid");
}
