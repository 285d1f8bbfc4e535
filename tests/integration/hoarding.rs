//! Hoarding, as it was tried from outside: guest carts holding a product's whole stock, unpaid
//! checkouts using up a code, `ann+1@…` getting past a per-customer limit, and one cart checked
//! out ten times at once making ten orders. Per-customer limits apply to a normalised identity;
//! unpaid checkouts per buyer, network and address are capped (the default, 3, here); what an
//! unpaid order held comes back when its reservation runs out; a cart has at most one unpaid
//! order.

use crate::both_backends;
use crate::common::{json, Backend, TestApp};
use lsn_core::Clock;
use serde_json::{json, Value};
use std::net::IpAddr;

fn addr(line1: &str) -> Value {
    json!({"name": "H", "line1": line1, "suburb": "Sydney", "state": "NSW", "postcode": "2000"})
}

/// A browser on loopback address `127.0.0.n` (its own network) with its own cookies.
fn browser(n: u8) -> reqwest::Client {
    reqwest::Client::builder().local_address(IpAddr::from([127, 0, 0, n])).cookie_store(true).build().expect("client")
}

async fn add(app: &TestApp, c: &reqwest::Client, sku: &str, qty: i64) {
    let r = c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": sku, "quantity": qty})).send().await.expect("add");
    assert_eq!(r.status(), 200);
}

async fn checkout(app: &TestApp, c: &reqwest::Client, email: &str, line1: &str, code: Option<&str>) -> (u16, Value) {
    json(
        c.post(app.url("/api/v1/checkout"))
            .json(&json!({"email": email, "shipping_address": addr(line1), "discount_code": code}))
            .send()
            .await
            .expect("checkout"),
    )
    .await
}

async fn reserved(app: &TestApp, variant: &str) -> i64 {
    let r = lsn_db::query("SELECT reserved FROM stock_levels WHERE variant_id = $1")
        .bind(variant)
        .fetch_one(app.rt.state.db.read())
        .await
        .expect("level");
    lsn_db::RowExt::try_get(&r, 0).expect("reserved")
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let r = lsn_db::query(sql).fetch_one(app.rt.state.db.read()).await.expect("count");
    lsn_db::RowExt::try_get(&r, 0).expect("n")
}

async fn expire(app: &TestApp) {
    app.clock.advance(chrono::Duration::minutes(16));
    let job = lsn_ops::NewJob::new(lsn_commerce::orders::EXPIRE_JOB, json!({})).dedupe(lsn_core::ids::new_id());
    lsn_ops::enqueue(app.rt.state.db.write(), &job, app.clock.now_ms()).await.expect("enqueue");
    app.run_jobs().await;
}

async fn product(app: &TestApp, sku: &str, stock: i64, extra: Value) -> String {
    let mut input = json!({"title": format!("Hoard {sku}"), "status": "active", "variants": [{"sku": sku, "price": 2000}]});
    if let (Some(m), Some(x)) = (input.as_object_mut(), extra.as_object()) {
        m.extend(x.clone());
    }
    let p = app.product(input).await;
    app.stock(&p.variants[0].id, stock).await;
    p.variants[0].id.to_string()
}

/// A cart has at most one unpaid order: ten checkouts of it at once are one order holding the
/// stock once; asked again it is given back; with other details it is replaced.
async fn one_order_per_cart(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, &[]).await else { return };
    let variant = product(&app, "ONE", 10, json!({})).await;
    let c = browser(1);
    add(&app, &c, "ONE", 2).await;
    let all = futures::future::join_all((0..10).map(|_| checkout(&app, &c, "tabs@example.com", "1 Tab St", None))).await;
    let ids: std::collections::BTreeSet<String> = all
        .iter()
        .map(|(s, b)| {
            assert_eq!(*s, 201, "{b}");
            b["order"]["id"].as_str().expect("id").to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "ten checkouts of one cart are one order: {ids:?}");
    assert_eq!(reserved(&app, &variant).await, 2, "its stock is reserved once");
    let token = all[0].1["order_token"].as_str().expect("token");
    assert!(all.iter().all(|(_, b)| b["order_token"] == token), "each answer can show the order");
    // The same checkout again: the same order. With another address: a new one replaces it.
    let (_, again) = checkout(&app, &c, "tabs@example.com", "1 Tab St", None).await;
    assert_eq!(again["order"]["id"], all[0].1["order"]["id"]);
    let (s, other) = checkout(&app, &c, "tabs@example.com", "9 Other Rd", None).await;
    assert_eq!(s, 201, "{other}");
    assert_ne!(other["order"]["id"], all[0].1["order"]["id"]);
    let old = app.rt.state.commerce.order(ids.iter().next().expect("id"), &lsn_commerce::orders::Viewer::Staff).await.expect("order");
    assert_eq!(old.status.as_str(), "cancelled");
    assert_eq!(reserved(&app, &variant).await, 2, "still reserved once");
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE status = 'pending_payment'").await, 1);
}
both_backends!(a_cart_has_at_most_one_unpaid_order, one_order_per_cart);

/// `ann+1@…`, `A.n.n@gmail.com` and the account are one customer for a per-customer limit.
async fn one_customer(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, &[]).await else { return };
    product(&app, "LIMIT", 10, json!({"max_per_customer": 1})).await;
    let first = browser(1);
    add(&app, &first, "LIMIT", 1).await;
    assert_eq!(checkout(&app, &first, "ann@gmail.com", "1 A St", None).await.0, 201);
    for (n, email) in [(2, "ann+1@gmail.com"), (3, "A.N.N@googlemail.com"), (4, "a.nn+deal@gmail.com")] {
        let c = browser(n);
        add(&app, &c, "LIMIT", 1).await;
        let (s, b) = checkout(&app, &c, email, &format!("{n} B St"), None).await;
        assert_eq!((s, b["error"]["code"].as_str()), (400, Some("customer_limit")), "{email}: {b}");
    }
    let c = browser(5);
    add(&app, &c, "LIMIT", 1).await;
    let (s, b) = checkout(&app, &c, "fresh@example.com", "6 D St", None).await;
    assert_eq!(s, 201, "a different person may: {b}");
}
both_backends!(per_customer_limits_apply_to_a_normalised_identity, one_customer);

/// Three unpaid checkouts per network, per address and per buyer, then the fourth waits; an
/// expired reservation gives its place (and its code's use) back.
async fn caps(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, &[("LSN_MAX_UNPAID_CHECKOUTS", "3"), ("LSN_MAX_UNPAID_PER_NETWORK", "3")]).await else {
        return;
    };
    let variant = product(&app, "CAP", 100, json!({})).await;
    let input: lsn_commerce::discounts::DiscountInput =
        serde_json::from_value(json!({"code": "THREE", "kind": "percent", "value": 50, "usage_limit": 3})).expect("code");
    lsn_commerce::discounts::create(&app.rt.state.db, app.clock.now_ms(), &input).await.expect("code");
    // One network, four carts, four people, four addresses.
    for i in 0..3 {
        let c = browser(10);
        add(&app, &c, "CAP", 5).await;
        let (s, b) = checkout(&app, &c, &format!("p{i}@example.com"), &format!("{i} Net St"), Some("THREE")).await;
        assert_eq!(s, 201, "{b}");
    }
    let c = browser(10);
    add(&app, &c, "CAP", 5).await;
    let (s, b) = checkout(&app, &c, "p3@example.com", "3 Net St", None).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("too_many_unpaid_orders")), "{b}");
    assert_eq!(reserved(&app, &variant).await, 15, "the fourth cart holds nothing");
    // The three unpaid checkouts used the code up.
    let c2 = browser(20);
    add(&app, &c2, "CAP", 1).await;
    let (s, b) = checkout(&app, &c2, "payer@example.com", "20 Pay St", Some("THREE")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("discount_exhausted")), "{b}");
    // One address from four networks.
    for n in 30..33 {
        let c = browser(n);
        add(&app, &c, "CAP", 1).await;
        assert_eq!(checkout(&app, &c, &format!("a{n}@example.com"), "7 Same St", None).await.0, 201);
    }
    let c = browser(33);
    add(&app, &c, "CAP", 1).await;
    assert_eq!(checkout(&app, &c, "a33@example.com", "7 SAME ST.", None).await.1["error"]["code"], "too_many_unpaid_orders");
    // One buyer (plus-addressed) from four networks and addresses.
    for n in 40..43 {
        let c = browser(n);
        add(&app, &c, "CAP", 1).await;
        assert_eq!(checkout(&app, &c, &format!("bulk+{n}@example.com"), &format!("{n} Bulk St"), None).await.0, 201);
    }
    let c = browser(43);
    add(&app, &c, "CAP", 1).await;
    assert_eq!(checkout(&app, &c, "bulk+43@example.com", "43 Bulk St", None).await.1["error"]["code"], "too_many_unpaid_orders");
    // Their reservations run out: the places, the stock and the code's uses come back.
    expire(&app).await;
    assert_eq!(reserved(&app, &variant).await, 0);
    let (s, b) = checkout(&app, &c2, "payer@example.com", "20 Pay St", Some("THREE")).await;
    assert_eq!(s, 201, "the code is usable again: {b}");
    let c = browser(10);
    add(&app, &c, "CAP", 1).await;
    assert_eq!(checkout(&app, &c, "p9@example.com", "9 Net St", None).await.0, 201, "the network may check out again");
    // Each place counts what holds it now, and nothing else is kept.
    assert_eq!(count(&app, "SELECT CAST(COALESCE(MAX(count), 0) AS BIGINT) FROM unpaid_checkouts").await, 1);
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM unpaid_checkouts WHERE count < 1").await, 0);
}
both_backends!(unpaid_checkouts_are_capped_per_buyer_network_and_address, caps);
