//! The holes found when LSN was tried from outside, each as the test that would have caught it
//! (`docs/security.md` maps them to their class): a payment on its way cannot be overtaken by a
//! cancellation, a payment for a cancelled order is refunded (never revives it), and a payment
//! that does not match its order leaves it unpaid.

use crate::both;
use crate::common::{deliver_event, json, TestApp};
use lsn_core::Clock;
use serde_json::{json, Value};

async fn count(app: &TestApp, sql: &str, arg: &str) -> i64 {
    let r = lsn_db::query(sql).bind(arg).fetch_one(app.rt.state.db.read()).await.expect("count");
    lsn_db::RowExt::try_get(&r, 0).expect("n")
}

async fn order(app: &TestApp, id: &str) -> lsn_commerce::orders::Order {
    app.rt.state.commerce.order(id, &lsn_commerce::orders::Viewer::Staff).await.expect("order")
}

/// A guest's checkout of `sku` (optionally with a code): the client, the order and its token.
async fn checkout(app: &TestApp, sku: &str, code: Option<&str>) -> (reqwest::Client, Value) {
    let c = app.client();
    assert_eq!(c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": sku, "quantity": 1})).send().await.expect("add").status(), 200);
    let addr = json!({"name": "I", "line1": "1 Test St", "suburb": "Sydney", "state": "NSW", "postcode": "2000"});
    let (s, co) = json(
        c.post(app.url("/api/v1/checkout"))
            .json(&json!({"email": format!("{}@example.com", lsn_core::ids::random_token(6).to_lowercase()), "shipping_address": addr, "discount_code": code}))
            .send()
            .await
            .expect("checkout"),
    )
    .await;
    assert_eq!(s, 201, "{co}");
    (c, co)
}

async fn post(c: &reqwest::Client, app: &TestApp, co: &Value, action: &str, body: Value) -> (u16, Value) {
    let id = co["order"]["id"].as_str().expect("id");
    let token = co["order_token"].as_str().expect("token");
    json(c.post(app.url(&format!("/api/v1/orders/{id}/{action}"))).header("x-order-token", token).json(&body).send().await.expect("send"))
        .await
}

/// Pay, then cancel before the payment event is applied: the cancel is refused with 409
/// `payment_in_progress`, the order ends paid, and its one-use code stays used (it was used
/// five times this way before).
async fn pay_then_cancel(app: TestApp) {
    let p = app.product(json!({"title": "Ninety Off", "status": "active", "variants": [{"sku": "NINETY", "price": 4000}]})).await;
    app.stock(&p.variants[0].id, 10).await;
    let input: lsn_commerce::discounts::DiscountInput =
        serde_json::from_value(json!({"code": "ONCE90", "kind": "percent", "value": 90, "usage_limit": 1})).expect("discount");
    lsn_commerce::discounts::create(&app.rt.state.db, app.clock.now_ms(), &input).await.expect("code");
    let (c, co) = checkout(&app, "NINETY", Some("ONCE90")).await;
    let (s, b) = post(&c, &app, &co, "pay", json!({"card_number": "4242 4242 4242 4242"})).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = post(&c, &app, &co, "cancel", json!({})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("payment_in_progress")), "{b}");
    app.run_jobs().await;
    let id = co["order"]["id"].as_str().expect("id");
    assert_eq!(order(&app, id).await.status.as_str(), "paid");
    let (s, b) = post(&c, &app, &co, "cancel", json!({})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("invalid_transition")), "a paid order is refunded, not cancelled: {b}");
    // The code was used once and stays used.
    let c2 = app.client();
    c2.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "NINETY", "quantity": 1})).send().await.expect("add");
    let addr = json!({"name": "I", "line1": "1 Test St", "suburb": "Sydney", "state": "NSW", "postcode": "2000"});
    let (s, b) = json(
        c2.post(app.url("/api/v1/checkout"))
            .json(&json!({"email": "second@example.com", "shipping_address": addr, "discount_code": "ONCE90"}))
            .send()
            .await
            .expect("checkout"),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("discount_exhausted")), "{b}");
}
both!(a_payment_on_its_way_cannot_be_cancelled, pay_then_cancel);

/// The provider's event for a payment that lands on an order already cancelled: the order stays
/// cancelled (its stock, deal units and code were given back), the money is refunded
/// automatically, and a person is told.
async fn late_payment(app: TestApp) {
    let p = app.product(json!({"title": "Late Lamp", "status": "active", "variants": [{"sku": "LATE", "price": 4895}]})).await;
    app.stock(&p.variants[0].id, 1).await;
    let (c, co) = checkout(&app, "LATE", None).await;
    let (s, b) = post(&c, &app, &co, "cancel", json!({})).await;
    assert_eq!(s, 200, "{b}");
    let id = co["order"]["id"].as_str().expect("id").to_string();
    let intent = co["payment"]["intent_id"].as_str().expect("intent").to_string();
    let total = co["order"]["total"].as_i64().expect("total");
    // Somebody else buys the unit the cancellation gave back.
    let (c2, co2) = checkout(&app, "LATE", None).await;
    assert_eq!(post(&c2, &app, &co2, "pay", json!({"card_number": "4242424242424242"})).await.0, 200);
    app.run_jobs().await;
    // Money arrives for the cancelled order anyway (as if the provider took it).
    lsn_db::query("UPDATE sandbox_intents SET status = 'succeeded' WHERE id = $1")
        .bind(&intent)
        .execute(app.rt.state.db.write())
        .await
        .expect("provider");
    let event = json!({"id": "evt_late", "object": "event", "type": "payment_intent.succeeded", "created": 1,
        "data": {"object": {"id": intent, "object": "payment_intent", "amount": total, "amount_received": total, "currency": "aud", "status": "succeeded"}}});
    let (s, b) = deliver_event(&app, lsn_commerce::DEV_WEBHOOK_SECRET, &event).await;
    assert_eq!((s, b["result"].as_str()), (200, Some("applied")), "{b}");
    app.run_jobs().await;
    let o = order(&app, &id).await;
    assert_eq!((o.status.as_str(), o.amount_paid, o.amount_refunded), ("cancelled", total, total), "refunded, never revived");
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM refunds WHERE order_id = $1 AND status = 'succeeded'", &id).await, 1);
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE ref = $1 AND kind = 'payment_refunded'", &id).await, 1);
    let r = lsn_db::query("SELECT amount_refunded FROM sandbox_intents WHERE id = $1")
        .bind(&intent)
        .fetch_one(app.rt.state.db.read())
        .await
        .expect("intent");
    assert_eq!(lsn_db::RowExt::try_get::<i64, _>(&r, 0).expect("refunded"), total, "the provider gave it back");
    let v = p.variants[0].id.clone();
    let sold = count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM stock_movements WHERE variant_id = $1 AND kind = 'sold'", &v).await;
    assert_eq!(sold, 1, "the one unit was sold once");
}
both!(a_payment_for_a_cancelled_order_is_refunded, late_payment);

/// A `payment_intent.succeeded` for less than the order (1 cent for 4,895) or in another
/// currency leaves it unpaid with a task, never ships, and its money is refunded when the
/// reservation runs out.
async fn short_payment(app: TestApp) {
    let p = app.product(json!({"title": "Short", "status": "active", "variants": [{"sku": "SHORT", "price": 4895}]})).await;
    app.stock(&p.variants[0].id, 5).await;
    app.user("boss@example.com", lsn_identity::Role::Admin).await;
    let (boss, csrf) = app.login("boss@example.com").await;
    for (i, (received, currency)) in [(1, "aud"), (-1, "aud"), (0, "usd")].into_iter().enumerate() {
        let (_, co) = checkout(&app, "SHORT", None).await;
        let id = co["order"]["id"].as_str().expect("id").to_string();
        let intent = co["payment"]["intent_id"].as_str().expect("intent").to_string();
        let total = co["order"]["total"].as_i64().expect("total");
        let amount = if received == 0 { total } else { received };
        let event = json!({"id": format!("evt_short_{i}"), "object": "event", "type": "payment_intent.succeeded", "created": 1,
            "data": {"object": {"id": intent, "object": "payment_intent", "amount": total, "amount_received": amount, "currency": currency, "status": "succeeded"}}});
        let (s, b) = deliver_event(&app, lsn_commerce::DEV_WEBHOOK_SECRET, &event).await;
        assert_eq!(s, 200, "{b}");
        let o = order(&app, &id).await;
        assert_eq!(o.status.as_str(), "pending_payment", "{received} {currency}: not paid");
        assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE ref = $1 AND kind = 'payment_mismatch'", &id).await, 1);
        // It cannot be shipped or marked paid by hand.
        let (s, b) = json(
            boss.post(app.url(&format!("/api/v1/orders/{id}/status")))
                .header("x-csrf-token", &csrf)
                .json(&json!({"status": "processing"}))
                .send()
                .await
                .expect("status"),
        )
        .await;
        assert_eq!((s, b["error"]["code"].as_str()), (409, Some("invalid_transition")), "{b}");
        assert_eq!(
            count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM outbox WHERE aggregate_id = $1 AND topic = 'order.paid'", &id).await,
            0
        );
    }
    // The reservations run out: the orders are cancelled and what came is given back (the
    // sandbox never took these amounts, so its refusal leaves a task for a person).
    app.clock.advance(chrono::Duration::minutes(16));
    lsn_ops::enqueue(app.rt.state.db.write(), &lsn_ops::NewJob::new(lsn_commerce::orders::EXPIRE_JOB, json!({})), app.clock.now_ms())
        .await
        .expect("job");
    app.run_jobs().await;
    let left = count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE status = $1", "pending_payment").await;
    assert_eq!(left, 0);
    let r = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM refunds WHERE amount = 1")
        .fetch_one(app.rt.state.db.read())
        .await
        .expect("refunds");
    assert_eq!(lsn_db::RowExt::try_get::<i64, _>(&r, 0).expect("n"), 1, "the cent that came is being refunded");
}
both!(a_payment_that_does_not_match_the_order_leaves_it_unpaid, short_payment);
