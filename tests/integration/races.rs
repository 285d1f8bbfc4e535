//! Races between the operations on an order, not only each one alone: every pair of them — one
//! after the other and at the same moment — from each state an order can be in when they meet
//! (unpaid; paid at the provider with the event still on its way; paid), for a cart order with
//! a one-use discount code and for a one-unit flash deal. After each pair, and after everything
//! has settled (events delivered, reservations expired), the invariants hold: units sold ≤ units
//! there were, deal units and discount uses ≤ their limits and equal to the orders that kept
//! them, and money taken = money owed + money refunded.
//!
//! The operations are read from the OpenAPI document (every POST under `/api/v1/orders/{id}/`,
//! with its example body), plus what the world does to an order (payment events arrive, time
//! passes), so a new operation on orders is raced here without editing this test.

use crate::both;
use crate::common::{json, TestApp};
use lsn_core::Clock;
use lsn_db::RowExt;
use lsn_identity::Role;
use serde_json::{json, Value};

/// Something that changes an order.
#[derive(Debug, Clone)]
enum Op {
    /// An operation of the API on the order, by its owner or by staff.
    Http { method: reqwest::Method, path: String, body: Option<Value>, staff: bool },
    /// The provider's pending events are delivered.
    Webhook,
    /// The reservation runs out and the expiry job runs.
    Expire,
}

impl Op {
    fn name(&self) -> String {
        match self {
            Op::Http { method, path, .. } => format!("{method} {}", path.trim_start_matches("/api/v1/orders/{id}/")),
            Op::Webhook => "webhook".into(),
            Op::Expire => "expire".into(),
        }
    }
}

/// Every operation on an order that the API documents, and the world's.
fn operations(doc: &Value) -> Vec<Op> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/v1/orders/{id}/") {
            continue;
        }
        for (method, op) in item.as_object().expect("operations") {
            if method == "get" {
                continue;
            }
            let body = op.get("requestBody").map(|b| b["content"]["application/json"]["example"].clone());
            assert!(body.as_ref().is_none_or(|b| !b.is_null()), "{method} {path}: documents a body without an example to race with");
            let staff = op["x-lsn-access"] == "staff";
            ops.push(Op::Http { method: method.to_uppercase().parse().expect("method"), path: path.clone(), body, staff });
        }
    }
    assert!(ops.len() >= 4, "the order operations: {ops:?}");
    ops.push(Op::Webhook);
    ops.push(Op::Expire);
    ops
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    Unpaid,
    /// Confirmed at the provider, its `payment_intent.succeeded` not delivered yet.
    PaidAtProvider,
    Paid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// A cart order with a 90 % code that may be used once.
    CartWithCode,
    /// A flash deal of one unit.
    Deal,
}

struct Scene {
    order: String,
    token: String,
    buyer: reqwest::Client,
    variant: String,
    discount: Option<String>,
    offer: Option<String>,
}

const STOCK: i64 = 2;

async fn scene(app: &TestApp, n: usize, source: Source, start: Start) -> Scene {
    let sku = format!("RACE-{n}");
    let p = app.product(json!({"title": format!("Race {n}"), "status": "active", "variants": [{"sku": sku, "price": 10_000}]})).await;
    let variant = p.variants[0].id.clone();
    app.stock(&variant, STOCK).await;
    let now = app.clock.now_ms();
    let buyer = app.client();
    let addr = json!({"name": "R", "line1": "1 Race St", "suburb": "Sydney", "state": "NSW", "postcode": "2000"});
    let email = format!("racer{n}@example.com");
    let (order, discount, offer) = match source {
        Source::CartWithCode => {
            let code = format!("RACE{n}");
            let input: lsn_commerce::discounts::DiscountInput =
                serde_json::from_value(json!({"code": code, "kind": "percent", "value": 90, "usage_limit": 1})).expect("discount");
            let d = lsn_commerce::discounts::create(&app.rt.state.db, now, &input).await.expect("discount");
            let r = buyer.post(app.url("/api/v1/cart/items")).json(&json!({"sku": sku, "quantity": 1})).send().await.expect("add");
            assert_eq!(r.status(), 200);
            let (s, co) = json(
                buyer
                    .post(app.url("/api/v1/checkout"))
                    .json(&json!({"email": email, "shipping_address": addr, "discount_code": code}))
                    .send()
                    .await
                    .expect("checkout"),
            )
            .await;
            assert_eq!(s, 201, "{co}");
            (co, Some(d.id), None)
        }
        Source::Deal => {
            let input = lsn_commerce::offers::OfferInput {
                variant_id: variant.to_string(),
                show_id: None,
                price: 1_000,
                quantity: 1,
                per_customer_limit: Some(1),
                starts_at: now,
                ends_at: now + 3 * 3600 * 1000,
                reserved_for: None,
            };
            let o = lsn_commerce::offers::create(&app.rt.state.db, now, &input).await.expect("offer");
            let (s, co) = json(
                buyer
                    .post(app.url(&format!("/api/v1/live/deals/{}/buy", o.id)))
                    .json(&json!({"email": email, "shipping_address": addr}))
                    .send()
                    .await
                    .expect("buy"),
            )
            .await;
            assert_eq!(s, 201, "{co}");
            (co, None, Some(o.id))
        }
    };
    let id = order["order"]["id"].as_str().expect("order id").to_string();
    let token = order["order_token"].as_str().expect("order token").to_string();
    if start != Start::Unpaid {
        let card = lsn_commerce::payments::PaymentMethod::TestCard("4242424242424242".into());
        let paid = app.rt.state.commerce.pay(&id, &card, &format!("race-{n}")).await.expect("pay");
        assert!(matches!(paid, lsn_commerce::payments::Confirmation::Succeeded { .. }), "{paid:?}");
        if start == Start::Paid {
            app.run_jobs().await;
        }
    }
    Scene { order: id, token, buyer, variant: variant.to_string(), discount, offer }
}

async fn perform(app: &TestApp, admin: &(reqwest::Client, String), s: &Scene, op: &Op, n: usize) {
    match op {
        Op::Http { method, path, body, staff } => {
            let url = app.url(&path.replace("{id}", &s.order));
            let mut req = if *staff {
                admin.0.request(method.clone(), url).header("x-csrf-token", &admin.1)
            } else {
                s.buyer.request(method.clone(), url).header("x-order-token", &s.token)
            };
            if let Some(b) = body {
                req = req.json(b);
            }
            let r = req.send().await.expect("send");
            let status = r.status().as_u16();
            assert!(status < 500, "{} on {}: {status} {}", op.name(), s.order, r.text().await.unwrap_or_default());
        }
        Op::Webhook => {
            app.run_jobs().await;
        }
        Op::Expire => {
            app.clock.advance(chrono::Duration::minutes(16));
            let job = lsn_ops::NewJob::new(lsn_commerce::orders::EXPIRE_JOB, json!({}))
                .dedupe(format!("race-expire-{n}-{}", lsn_core::ids::new_id()));
            lsn_ops::enqueue(app.rt.state.db.write(), &job, app.clock.now_ms()).await.expect("enqueue");
            app.run_jobs().await;
        }
    }
}

/// Delivers what is pending, lets every reservation run out, and runs what that queues.
async fn settle(app: &TestApp, n: usize) {
    app.run_jobs().await;
    app.clock.advance(chrono::Duration::minutes(16));
    let job = lsn_ops::NewJob::new(lsn_commerce::orders::EXPIRE_JOB, json!({})).dedupe(format!("race-settle-{n}"));
    lsn_ops::enqueue(app.rt.state.db.write(), &job, app.clock.now_ms()).await.expect("enqueue");
    app.run_jobs().await;
    // Refunds the provider has not confirmed yet are retried a minute later.
    app.clock.advance(chrono::Duration::minutes(2));
    app.run_jobs().await;
}

async fn one(app: &TestApp, sql: &str, arg: &str) -> Vec<Option<i64>> {
    let r = lsn_db::query(sql).bind(arg).fetch_one(app.rt.state.db.read()).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    (0..r.len()).map(|i| r.try_get::<Option<i64>, _>(i).expect("integer")).collect()
}

const KEPT: &str = "('paid', 'processing', 'shipped', 'delivered', 'partially_refunded', 'refunded')";

/// Every invariant, or what broke.
async fn invariants(app: &TestApp, s: &Scene) -> Vec<String> {
    let mut broken = Vec::new();
    let v = one(app, "SELECT on_hand, reserved FROM stock_levels WHERE variant_id = $1", &s.variant).await;
    let (on_hand, reserved) = (v[0].unwrap_or(0), v[1].unwrap_or(0));
    let sold = one(
        app,
        &format!("SELECT CAST(COALESCE(SUM(oi.quantity), 0) AS BIGINT) FROM order_items oi JOIN orders o ON o.id = oi.order_id WHERE oi.variant_id = $1 AND o.status IN {KEPT}"),
        &s.variant,
    )
    .await[0]
        .unwrap_or(0);
    let returned = one(
        app,
        "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM stock_movements WHERE variant_id = $1 AND kind = 'returned'",
        &s.variant,
    )
    .await[0]
        .unwrap_or(0);
    if sold > STOCK {
        broken.push(format!("{sold} units sold of {STOCK}"));
    }
    if on_hand != STOCK - sold + returned {
        broken.push(format!("on hand {on_hand}, but {STOCK} received − {sold} sold + {returned} returned"));
    }
    if reserved != 0 {
        broken.push(format!("{reserved} units still reserved after every reservation ran out"));
    }
    if let Some(d) = &s.discount {
        let v = one(app, "SELECT used_count, usage_limit FROM discount_codes WHERE id = $1", d).await;
        let kept =
            one(app, "SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE discount_code_id = $1 AND status <> 'cancelled'", d).await[0];
        let (used, limit) = (v[0].unwrap_or(0), v[1].unwrap_or(0));
        if used > limit || Some(used) != kept {
            broken.push(format!("discount used {used} times (limit {limit}) by {kept:?} orders that kept it"));
        }
    }
    if let Some(o) = &s.offer {
        let v = one(app, "SELECT sold, quantity FROM offers WHERE id = $1", o).await;
        let kept = one(
            app,
            "SELECT CAST(COALESCE(SUM(oi.quantity), 0) AS BIGINT) FROM order_items oi JOIN orders o ON o.id = oi.order_id WHERE o.offer_id = $1 AND o.status <> 'cancelled'",
            o,
        )
        .await[0];
        let (deal_sold, quantity) = (v[0].unwrap_or(0), v[1].unwrap_or(0));
        if deal_sold > quantity || Some(deal_sold) != kept {
            broken.push(format!("deal sold {deal_sold} of {quantity}, orders kept {kept:?}"));
        }
    }
    // Money: what the provider took = what the shop is owed + what went back.
    let r = lsn_db::query("SELECT o.status, o.total, o.amount_paid, o.amount_refunded, p.intent_id FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.id = $1")
        .bind(&s.order)
        .fetch_one(app.rt.state.db.read())
        .await
        .expect("order");
    let (status, total, paid, refunded, intent): (String, i64, i64, i64, String) =
        (r.try_get(0).expect("s"), r.try_get(1).expect("t"), r.try_get(2).expect("p"), r.try_get(3).expect("r"), r.try_get(4).expect("i"));
    let p = lsn_db::query("SELECT amount, status, amount_refunded FROM sandbox_intents WHERE id = $1")
        .bind(&intent)
        .fetch_optional(app.rt.state.db.read())
        .await
        .expect("intent");
    let (taken, given_back) = match p {
        Some(p) => {
            let (amount, st, back): (i64, String, i64) = (p.try_get(0).expect("a"), p.try_get(1).expect("s"), p.try_get(2).expect("r"));
            (if st == "succeeded" { amount } else { 0 }, back)
        }
        None => (0, 0),
    };
    let kept = KEPT.contains(&format!("'{status}'"));
    let owed = if kept { total - refunded } else { 0 };
    if taken != owed + given_back {
        broken.push(format!("{status}: taken {taken} ≠ owed {owed} + refunded {given_back}"));
    }
    if refunded != given_back {
        broken.push(format!("{status}: the shop records {refunded} refunded, the provider {given_back}"));
    }
    if kept && paid != total {
        broken.push(format!("{status} with {paid} paid of {total}"));
    }
    if status == "pending_payment" {
        broken.push("still awaiting payment after its reservation ran out".into());
    }
    let pending = one(app, "SELECT CAST(COUNT(*) AS BIGINT) FROM refunds WHERE order_id = $1 AND status = 'pending'", &s.order).await[0];
    if pending != Some(0) {
        broken.push(format!("{pending:?} refunds still pending"));
    }
    if !broken.is_empty() {
        broken.insert(0, format!("order {} ends {status}", s.order));
    }
    broken
}

async fn race(app: TestApp) {
    app.user("staff@example.com", Role::Admin).await;
    let admin = app.login("staff@example.com").await;
    let (_, doc) = json(reqwest::get(app.url("/api/openapi.json")).await.expect("doc")).await;
    let ops = operations(&doc);
    let mut n = 0;
    let mut failures = Vec::new();
    for start in [Start::Unpaid, Start::PaidAtProvider, Start::Paid] {
        for source in [Source::CartWithCode, Source::Deal] {
            for (i, a) in ops.iter().enumerate() {
                for (j, b) in ops.iter().enumerate() {
                    for together in [false, true] {
                        // At the same moment, (a, b) is (b, a).
                        if together && j < i {
                            continue;
                        }
                        n += 1;
                        let s = scene(&app, n, source, start).await;
                        if together {
                            tokio::join!(perform(&app, &admin, &s, a, n), perform(&app, &admin, &s, b, n));
                        } else {
                            perform(&app, &admin, &s, a, n).await;
                            perform(&app, &admin, &s, b, n).await;
                        }
                        settle(&app, n).await;
                        let broken = invariants(&app, &s).await;
                        if !broken.is_empty() {
                            failures.push(format!(
                                "{start:?} {source:?}: {} {} {}: {}",
                                a.name(),
                                if together { "racing" } else { "then" },
                                b.name(),
                                broken.join("; ")
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(n >= 300, "{n} races");
    assert!(failures.is_empty(), "{} of {n} races broke an invariant:\n{}", failures.len(), failures.join("\n"));
}
both!(order_operations_race_without_breaking_limits, race);
