//! The order flow through HTTP on both databases: catalog, cart, checkout, payment by the
//! sandbox's test cards, webhooks, refunds, expiry; the invariants under concurrency.

use crate::both;
use crate::common::{deliver_event, json, signed_event, TestApp};
use lsn_core::Clock;
use lsn_identity::Role;
use serde_json::{json, Value};

const ADDRESS: &str = r#"{"name": "Ann Buyer", "line1": "1 George St", "suburb": "Sydney", "state": "NSW", "postcode": "2000"}"#;

fn address() -> Value {
    serde_json::from_str(ADDRESS).expect("address")
}

/// A product with one variant `sku` at `price` cents and `stock` units in bin A-01-1.
async fn product(app: &TestApp, sku: &str, price: i64, stock: i64, extra: Value) -> (String, String) {
    let mut input = json!({"title": format!("Product {sku}"), "status": "active", "category": "Tests", "tags": ["demo"],
        "variants": [{"sku": sku, "price": price, "options": {"size": "M"}}]});
    if let (Some(m), Some(e)) = (input.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            m.insert(k.clone(), v.clone());
        }
    }
    let p = app.product(input).await;
    let variant = p.variants[0].id.clone();
    if stock > 0 {
        app.stock(&variant, stock).await;
    }
    (p.id.into_string(), variant.into_string())
}

async fn level(app: &TestApp, variant: &str) -> (i64, i64) {
    let r = lsn_db::query("SELECT on_hand, reserved FROM stock_levels WHERE variant_id = $1")
        .bind(variant)
        .fetch_one(app.rt.state.db.read())
        .await
        .expect("level");
    (lsn_db::RowExt::try_get(&r, 0).expect("on_hand"), lsn_db::RowExt::try_get(&r, 1).expect("reserved"))
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    lsn_db::RowExt::try_get(&lsn_db::query(sql).fetch_one(app.rt.state.db.read()).await.expect("count"), 0).expect("n")
}

/// A new guest who adds `qty` of `sku` and checks out; returns (client, status, body).
async fn guest_checkout(app: &TestApp, sku: &str, qty: i64, extra: Value) -> (reqwest::Client, u16, Value) {
    let c = app.client();
    let r = c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": sku, "quantity": qty})).send().await.expect("add");
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let mut body = json!({"email": "guest@example.com", "shipping_address": address()});
    if let (Some(m), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            m.insert(k.clone(), v.clone());
        }
    }
    let (s, v) = json(c.post(app.url("/api/v1/checkout")).json(&body).send().await.expect("checkout")).await;
    (c, s, v)
}

async fn pay(app: &TestApp, c: &reqwest::Client, checkout: &Value, card: &str) -> (u16, Value) {
    let id = checkout["order"]["id"].as_str().expect("id");
    let token = checkout["order_token"].as_str().unwrap_or("");
    json(
        c.post(app.url(&format!("/api/v1/orders/{id}/pay")))
            .header("x-order-token", token)
            .json(&json!({"card_number": card}))
            .send()
            .await
            .expect("pay"),
    )
    .await
}

async fn order_status(app: &TestApp, id: &str) -> String {
    app.rt.state.commerce.order(id, &lsn_commerce::orders::Viewer::Staff).await.expect("order").status.to_string()
}

async fn catalog_admin_and_search(app: TestApp) {
    app.user("admin@example.com", Role::Admin).await;
    app.user("cust@example.com", Role::Customer).await;
    let (a, csrf) = app.login("admin@example.com").await;
    let (cust, ccsrf) = app.login("cust@example.com").await;
    let new = json!({"title": "Linen Shirt", "description": "Breathable linen", "status": "active", "category": "Apparel", "tags": ["Summer", "linen"],
        "variants": [{"sku": "LS-S", "price": 8900, "options": {"size": "S"}}, {"sku": "LS-M", "price": 9400, "compare_at_price": 11900, "options": {"size": "M"}}]});
    let r = cust.post(app.url("/api/v1/products")).header("x-csrf-token", &ccsrf).json(&new).send().await.expect("send");
    assert_eq!(r.status(), 403);
    let (s, created) = json(a.post(app.url("/api/v1/products")).header("x-csrf-token", &csrf).json(&new).send().await.expect("send")).await;
    assert_eq!(s, 201, "{created}");
    let p = &created["product"];
    assert_eq!(
        (p["slug"].as_str(), p["min_price"].as_i64(), p["tags"].clone()),
        (Some("linen-shirt"), Some(8900), json!(["linen", "summer"]))
    );
    assert_eq!(p["variants"][1]["title"], "M");
    // Duplicate SKU and bad input are refused and change nothing.
    let dup = json!({"title": "Other", "variants": [{"sku": "LS-S", "price": 100}]});
    let (s, b) = json(a.post(app.url("/api/v1/products")).header("x-csrf-token", &csrf).json(&dup).send().await.expect("send")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("duplicate_sku")));
    for bad in [
        json!({"title": "", "variants": [{"sku": "X1", "price": 1}]}),
        json!({"title": "X", "variants": [{"sku": "X1", "price": -1}]}),
        json!({"title": "X", "variants": []}),
        json!({"title": "X", "variants": [{"sku": "bad sku!", "price": 1}]}),
    ] {
        let r = a.post(app.url("/api/v1/products")).header("x-csrf-token", &csrf).json(&bad).send().await.expect("send");
        assert_eq!(r.status(), 422, "{bad}");
    }
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM products").await, 1);
    for i in 0..5 {
        product(
            &app,
            &format!("MUG-{i}"),
            1000 + i * 1000,
            if i % 2 == 0 { 5 } else { 0 },
            json!({"title": format!("Ceramic Mug {i}"), "category": "Home"}),
        )
        .await;
    }
    product(&app, "DRAFT-1", 500, 5, json!({"title": "Secret Mug", "status": "draft"})).await;
    let get = |q: &str| {
        let url = app.url(&format!("/api/v1/products?{q}"));
        async move { json(reqwest::get(url).await.expect("send")).await.1 }
    };
    assert_eq!(get("q=mug").await["items"].as_array().expect("items").len(), 5, "drafts are hidden from shoppers");
    assert_eq!(get("q=CERAMIC%20mug&in_stock=true").await["items"].as_array().expect("items").len(), 3);
    assert_eq!(get("category=home&min_price=2000&max_price=4000").await["items"].as_array().expect("items").len(), 3);
    assert_eq!(get("q=breathable").await["items"][0]["slug"], "linen-shirt");
    assert_eq!(get("tag=summer").await["items"].as_array().expect("items").len(), 1);
    let page1 = get("limit=4").await;
    assert_eq!(page1["items"].as_array().expect("items").len(), 4);
    let cursor = page1["next_cursor"].as_str().expect("cursor").to_string();
    let page2 = get(&format!("limit=4&cursor={cursor}")).await;
    assert_eq!(page2["items"].as_array().expect("items").len(), 2);
    assert!(page2["next_cursor"].is_null());
    let ids1: Vec<&Value> = page1["items"].as_array().expect("a").iter().map(|p| &p["id"]).collect();
    assert!(page2["items"].as_array().expect("a").iter().all(|p| !ids1.contains(&&p["id"])));
    let (s, b) = json(reqwest::get(app.url("/api/v1/products?cursor=garbage")).await.expect("send")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (422, Some("validation_failed")));
    let (_, all) = json(a.get(app.url("/api/v1/products?q=mug")).send().await.expect("send")).await;
    assert_eq!(all["items"].as_array().expect("items").len(), 6, "staff see drafts");
    // Update the price; archive.
    let id = p["id"].as_str().expect("id");
    let (s, upd) = json(
        a.patch(app.url(&format!("/api/v1/products/{id}")))
            .header("x-csrf-token", &csrf)
            .json(&json!({"variants": [{"sku": "LS-S", "price": 7900}]}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((s, upd["product"]["min_price"].as_i64()), (200, Some(7900)));
    let (s, del) =
        json(a.delete(app.url(&format!("/api/v1/products/{id}"))).header("x-csrf-token", &csrf).send().await.expect("send")).await;
    assert_eq!((s, del["result"].as_str()), (200, Some("deleted")));
    assert_eq!(reqwest::get(app.url(&format!("/api/v1/products/{id}"))).await.expect("send").status(), 404);
    // Images: the bytes must be an image of the type claimed.
    let (mug, _) = product(&app, "IMG-1", 100, 0, json!({"title": "Pictured"})).await;
    let png = b"\x89PNG\r\n\x1a\n0000fake-png-body";
    let upload = |alt: &str, body: Vec<u8>| {
        a.post(app.url(&format!("/api/v1/products/{mug}/images?alt={alt}")))
            .header("x-csrf-token", &csrf)
            .header("content-type", "image/png")
            .body(body)
            .send()
    };
    let (s, img) = json(upload("Front", png.to_vec()).await.expect("send")).await;
    assert_eq!(s, 201, "{img}");
    let got = reqwest::get(app.url(img["image"]["url"].as_str().expect("url"))).await.expect("send");
    assert_eq!(got.headers().get("content-type").map(|v| v.to_str().unwrap_or("")), Some("image/png"));
    assert_eq!(upload("", b"not a png".to_vec()).await.expect("send").status(), 400);
    // A second and a third image; put them in another order, then remove one.
    let mut ids = vec![img["image"]["id"].as_str().expect("id").to_string()];
    for alt in ["Back", "Side"] {
        ids.push(json(upload(alt, png.to_vec()).await.expect("send")).await.1["image"]["id"].as_str().expect("id").to_string());
    }
    let alts =
        |p: &Value| p["images"].as_array().expect("images").iter().map(|i| i["alt"].as_str().unwrap_or("").to_string()).collect::<Vec<_>>();
    let (_, shown) = json(reqwest::get(app.url(&format!("/api/v1/products/{mug}"))).await.expect("get")).await;
    assert_eq!(alts(&shown["product"]), ["Front", "Back", "Side"]);
    let order = |body: Value| a.put(app.url(&format!("/api/v1/products/{mug}/images"))).header("x-csrf-token", &csrf).json(&body).send();
    let (s, put) = json(order(json!({"image_ids": [&ids[2], &ids[0], &ids[1]]})).await.expect("order")).await;
    assert_eq!(s, 200, "{put}");
    assert_eq!(alts(&put), ["Side", "Front", "Back"]);
    let (_, shown) = json(reqwest::get(app.url(&format!("/api/v1/products/{mug}"))).await.expect("get")).await;
    assert_eq!(alts(&shown["product"]), ["Side", "Front", "Back"], "the new order is the product's");
    // An order that leaves one out, repeats one or names a stranger changes nothing.
    for bad in [json!([&ids[0], &ids[1]]), json!([&ids[0], &ids[0], &ids[1]]), json!([&ids[0], &ids[1], "nope"])] {
        let (s, e) = json(order(json!({ "image_ids": bad })).await.expect("order")).await;
        assert_eq!((s, e["error"]["code"].as_str()), (422, Some("validation_failed")), "{bad}: {e}");
    }
    let (_, shown) = json(reqwest::get(app.url(&format!("/api/v1/products/{mug}"))).await.expect("get")).await;
    assert_eq!(alts(&shown["product"]), ["Side", "Front", "Back"]);
    // Remove the front image: gone from the product and from the media store.
    let front_url = shown["product"]["images"][1]["url"].as_str().expect("url").to_string();
    let del = |image: &str| a.delete(app.url(&format!("/api/v1/products/{mug}/images/{image}"))).header("x-csrf-token", &csrf).send();
    assert_eq!(del(&ids[0]).await.expect("delete").status(), 200);
    assert_eq!(del(&ids[0]).await.expect("delete").status(), 404, "already gone");
    assert_eq!(reqwest::get(app.url(&front_url)).await.expect("media").status(), 404, "its bytes are deleted");
    let (_, shown) = json(reqwest::get(app.url(&format!("/api/v1/products/{mug}"))).await.expect("get")).await;
    assert_eq!(alts(&shown["product"]), ["Side", "Back"]);
    let (s, _) = json(order(json!({"image_ids": [&ids[1], &ids[2]]})).await.expect("order")).await;
    assert_eq!(s, 200, "positions closed up after the removal");
    // Only staff.
    let c = app.client();
    let r = c.delete(app.url(&format!("/api/v1/products/{mug}/images/{}", ids[1]))).send().await.expect("delete");
    assert_eq!(r.status(), 401);
}
both!(catalog_admin_and_search_api, catalog_admin_and_search);

async fn full_order_flow(app: TestApp) {
    let (_, variant) = product(&app, "TEE-M", 3300, 12, json!({})).await;
    app.user("ann@example.com", Role::Customer).await;
    app.user("other@example.com", Role::Customer).await;
    // A guest fills a cart, then signs in: the cart follows.
    let (c, csrf) = {
        let c = app.client();
        let (s, cart) = json(
            c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "TEE-M", "quantity": 2, "price": 1})).send().await.expect("add"),
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(cart["cart"]["subtotal"], 6600, "a client-sent price is ignored");
        let r = c
            .post(app.url("/api/auth/login"))
            .json(&json!({"email": "ann@example.com", "password": crate::common::PASSWORD}))
            .send()
            .await
            .expect("login");
        let csrf = r.json::<Value>().await.expect("json")["csrf_token"].as_str().expect("csrf").to_string();
        (c, csrf)
    };
    let (_, cart) = json(c.get(app.url("/api/v1/cart")).send().await.expect("cart")).await;
    assert_eq!(cart["cart"]["item_count"], 2, "the guest cart was merged at sign-in");
    assert_eq!(cart["cart"]["gst_included"], 600);

    let body = json!({"shipping_address": address(), "shipping_method": "standard", "total": 1});
    let (s, co) = json(
        c.post(app.url("/api/v1/checkout"))
            .header("x-csrf-token", &csrf)
            .header("idempotency-key", "k-1")
            .json(&body)
            .send()
            .await
            .expect("checkout"),
    )
    .await;
    assert_eq!(s, 201, "{co}");
    let order = &co["order"];
    assert_eq!(
        (order["subtotal"].as_i64(), order["shipping_total"].as_i64(), order["total"].as_i64()),
        (Some(6600), Some(995), Some(7595))
    );
    assert_eq!(order["gst_total"], 600 + 90);
    assert_eq!(order["status"], "pending_payment");
    assert!(order["number"].as_str().expect("number").starts_with("LSN-"));
    assert_eq!(level(&app, &variant).await, (12, 2));
    // The same key again: the same order, not a second one.
    let (s2, again) = json(
        c.post(app.url("/api/v1/checkout"))
            .header("x-csrf-token", &csrf)
            .header("idempotency-key", "k-1")
            .json(&body)
            .send()
            .await
            .expect("checkout"),
    )
    .await;
    assert_eq!((s2, &again["order"]["number"]), (201, &order["number"]));
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM orders").await, 1);
    let (s3, b3) = json(
        c.post(app.url("/api/v1/checkout"))
            .header("x-csrf-token", &csrf)
            .header("idempotency-key", "k-1")
            .json(&json!({"shipping_address": address(), "shipping_method": "express"}))
            .send()
            .await
            .expect("checkout"),
    )
    .await;
    assert_eq!((s3, b3["error"]["code"].as_str()), (422, Some("idempotency_key_reused")));

    let id = order["id"].as_str().expect("id").to_string();
    let (s, paid) = json(
        c.post(app.url(&format!("/api/v1/orders/{id}/pay")))
            .header("x-csrf-token", &csrf)
            .json(&json!({"card_number": "4242 4242 4242 4242"}))
            .send()
            .await
            .expect("pay"),
    )
    .await;
    assert_eq!((s, paid["payment"]["status"].as_str()), (200, Some("succeeded")), "{paid}");
    assert_eq!(order_status(&app, &id).await, "pending_payment", "paid only once the provider's event is processed");
    app.run_jobs().await;
    let o = app.rt.state.commerce.order(&id, &lsn_commerce::orders::Viewer::Staff).await.expect("order");
    assert_eq!((o.status.as_str(), o.amount_paid), ("paid", 7595));
    assert_eq!(o.transitions.iter().map(|t| t.to.as_str()).collect::<Vec<_>>(), vec!["pending_payment", "paid"]);
    assert_eq!(level(&app, &variant).await, (10, 0));
    let (_, cart) = json(c.get(app.url("/api/v1/cart")).send().await.expect("cart")).await;
    assert_eq!(cart["cart"]["item_count"], 0, "bought lines leave the cart");
    let mail = app.mails_to("ann@example.com").await;
    let confirmation = mail.iter().find(|m| m.tag.as_deref() == Some("order_confirmation")).expect("order confirmation mailed");
    assert!(confirmation.subject.contains(o.number.as_str()) && confirmation.text.contains("Total paid: $75.95"), "{}", confirmation.text);
    let html = confirmation.html.as_deref().expect("its HTML part");
    assert!(html.contains(&format!("/orders/{}", o.number)) && html.contains("$75.95"), "{html}");
    // Card numbers never reach the database.
    for table in ["payments", "idempotency_keys", "jobs", "webhook_events", "orders", "audit_log"] {
        let n = count(&app, &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table} WHERE CAST({table}.* AS TEXT) LIKE '%4242424242424242%' OR CAST({table}.* AS TEXT) LIKE '%4242 4242%'").replace("CAST(payments.* AS TEXT)", "COALESCE(card_last4, '')").replace("CAST(idempotency_keys.* AS TEXT)", "COALESCE(response_body, '') || request_hash").replace("CAST(jobs.* AS TEXT)", "payload").replace("CAST(webhook_events.* AS TEXT)", "payload").replace("CAST(orders.* AS TEXT)", "shipping_address").replace("CAST(audit_log.* AS TEXT)", "detail")).await;
        assert_eq!(n, 0, "{table}");
    }
    // Ownership: the buyer sees it, another customer and a stranger do not.
    assert_eq!(c.get(app.url(&format!("/api/v1/orders/{id}"))).send().await.expect("get").status(), 200);
    let (other, _) = app.login("other@example.com").await;
    assert_eq!(other.get(app.url(&format!("/api/v1/orders/{id}"))).send().await.expect("get").status(), 404);
    assert_eq!(reqwest::get(app.url(&format!("/api/v1/orders/{id}"))).await.expect("get").status(), 401);
    let (_, mine) = json(other.get(app.url("/api/v1/orders")).send().await.expect("list")).await;
    assert_eq!(mine["orders"].as_array().expect("orders").len(), 0);
    // Paying twice is refused.
    let (s, b) = json(
        c.post(app.url(&format!("/api/v1/orders/{id}/pay")))
            .header("x-csrf-token", &csrf)
            .json(&json!({"card_number": "4242424242424242"}))
            .send()
            .await
            .expect("pay"),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("already_paid")));
}
both!(order_flow_from_cart_to_paid, full_order_flow);

async fn declines_and_authentication(app: TestApp) {
    let (_, variant) = product(&app, "CAP-1", 2500, 5, json!({})).await;
    let (c, s, co) = guest_checkout(&app, "CAP-1", 2, json!({})).await;
    assert_eq!(s, 201, "{co}");
    let (s, b) = pay(&app, &c, &co, "4000 0000 0000 0002").await;
    assert_eq!(
        (s, b["error"]["code"].as_str(), b["error"]["message"].as_str()),
        (402, Some("payment_declined"), Some("Your card was declined."))
    );
    app.run_jobs().await;
    let id = co["order"]["id"].as_str().expect("id");
    assert_eq!(order_status(&app, id).await, "cancelled");
    assert_eq!(level(&app, &variant).await, (5, 0), "a failed payment gives the stock back");
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE status = 'paid'").await, 0);

    let (c, _, co) = guest_checkout(&app, "CAP-1", 1, json!({})).await;
    let (s, b) = pay(&app, &c, &co, "4000000000009995").await;
    assert_eq!((s, b["error"]["decline_code"].as_str()), (402, Some("insufficient_funds")));

    let (c, _, co) = guest_checkout(&app, "CAP-1", 1, json!({})).await;
    let (s, b) = pay(&app, &c, &co, "4000 0025 0000 3155").await;
    assert_eq!((s, b["payment"]["status"].as_str()), (200, Some("requires_action")));
    let url = b["payment"]["url"].as_str().expect("url").to_string();
    assert!(reqwest::get(app.url(&url)).await.expect("page").text().await.expect("text").contains("Complete authentication"));
    let r = c.post(app.url(&url)).json(&json!({"result": "succeed"})).send().await.expect("auth");
    assert_eq!(r.status(), 200);
    app.run_jobs().await;
    assert_eq!(order_status(&app, co["order"]["id"].as_str().expect("id")).await, "paid");
    // The guest sees the order with its token, nobody else does.
    let id = co["order"]["id"].as_str().expect("id");
    let token = co["order_token"].as_str().expect("token");
    assert_eq!(
        reqwest::Client::new()
            .get(app.url(&format!("/api/v1/orders/{id}")))
            .header("x-order-token", token)
            .send()
            .await
            .expect("get")
            .status(),
        200
    );
    assert_eq!(
        reqwest::Client::new()
            .get(app.url(&format!("/api/v1/orders/{id}")))
            .header("x-order-token", "nope")
            .send()
            .await
            .expect("get")
            .status(),
        404
    );
}
both!(declined_cards_and_authentication, declines_and_authentication);

async fn bad_checkout_input(app: TestApp) {
    product(&app, "SOCK-1", 1500, 3, json!({"max_per_order": 2})).await;
    let (_, archived) = product(&app, "OLD-1", 1500, 3, json!({"title": "Old one"})).await;
    let c = app.client();
    for (q, code) in [(0, 422), (-1, 422), (1_000_000, 422), (3, 400)] {
        let r = c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "SOCK-1", "quantity": q})).send().await.expect("add");
        assert_eq!(r.status(), code, "quantity {q}");
    }
    let (s, b) = json(c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "NOPE", "quantity": 1})).send().await.expect("add")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("unknown_variant")));
    let pid: String = lsn_db::RowExt::try_get(
        &lsn_db::query("SELECT product_id FROM variants WHERE id = $1").bind(&archived).fetch_one(app.rt.state.db.read()).await.expect("p"),
        0,
    )
    .expect("id");
    app.rt
        .state
        .commerce
        .catalog
        .update(&pid, &lsn_catalog::ProductPatch { status: Some("archived".into()), ..Default::default() })
        .await
        .expect("archive");
    let (s, b) = json(c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "OLD-1", "quantity": 1})).send().await.expect("add")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("unavailable")));
    let (s, b) = json(
        c.post(app.url("/api/v1/checkout"))
            .json(&json!({"email": "g@example.com", "shipping_address": address()}))
            .send()
            .await
            .expect("co"),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("cart_empty")));
    c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "SOCK-1", "quantity": 2})).send().await.expect("add");
    let mut wrong = address();
    wrong["state"] = json!("VIC");
    let (s, b) = json(
        c.post(app.url("/api/v1/checkout")).json(&json!({"email": "g@example.com", "shipping_address": wrong})).send().await.expect("co"),
    )
    .await;
    assert_eq!(s, 422);
    assert!(b["error"]["fields"]["shipping_address.postcode"].as_str().expect("msg").contains("not a VIC postcode"));
    let (s, b) = json(
        c.post(app.url("/api/v1/checkout"))
            .json(&json!({"email": "g@example.com", "shipping_address": address(), "discount_code": "NOSUCH"}))
            .send()
            .await
            .expect("co"),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("discount_invalid")));
    let (s, _) = json(c.post(app.url("/api/v1/checkout")).json(&json!({"shipping_address": address()})).send().await.expect("co")).await;
    assert_eq!(s, 422, "a guest needs an email");
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM orders").await, 0, "nothing was written");
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM reservations").await, 0);
    // Discount rules: expired, minimum, not started.
    let now = app.clock.now_ms();
    for (code, starts, ends, min) in
        [("OLD", None, Some(now - 1), 0), ("SOON", Some(now + 100_000), None, 0), ("BIGSPEND", None, None, 100_000)]
    {
        lsn_commerce::discounts::create(
            &app.rt.state.db,
            now,
            &serde_json::from_value(
                json!({"code": code, "kind": "percent", "value": 10, "starts_at": starts, "ends_at": ends, "min_subtotal": min}),
            )
            .expect("d"),
        )
        .await
        .expect("create");
    }
    for (code, want) in [("old", "discount_expired"), ("SOON", "discount_not_started"), ("bigspend", "discount_minimum_not_met")] {
        let (s, b) = json(
            c.post(app.url("/api/v1/checkout"))
                .json(&json!({"email": "g@example.com", "shipping_address": address(), "discount_code": code}))
                .send()
                .await
                .expect("co"),
        )
        .await;
        assert_eq!((s, b["error"]["code"].as_str()), (400, Some(want)), "{code}");
    }
}
both!(bad_checkout_input_changes_nothing, bad_checkout_input);

async fn no_oversell(app: TestApp) {
    const BUYERS: usize = 30;
    const STOCK: i64 = 7;
    let (_, variant) = product(&app, "HOT-1", 1000, STOCK, json!({})).await;
    // Every buyer has the item in the cart before anyone checks out.
    let mut carts = Vec::new();
    for _ in 0..BUYERS {
        let c = app.client();
        assert_eq!(
            c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "HOT-1", "quantity": 1})).send().await.expect("add").status(),
            200
        );
        carts.push(c);
    }
    let body = json!({"email": "rush@example.com", "shipping_address": address()});
    let results = futures::future::join_all(carts.iter().map(|c| {
        let (c, url, body) = (c.clone(), app.url("/api/v1/checkout"), body.clone());
        async move { json(c.post(url).json(&body).send().await.expect("checkout")).await }
    }))
    .await;
    let won: Vec<&Value> = results.iter().filter(|(s, _)| *s == 201).map(|(_, b)| b).collect();
    let lost = results.iter().filter(|(s, b)| *s == 409 && b["error"]["code"] == "out_of_stock").count();
    assert_eq!((won.len(), lost), (STOCK as usize, BUYERS - STOCK as usize), "{results:?}");
    assert_eq!(level(&app, &variant).await, (STOCK, STOCK));
    for (i, co) in won.iter().enumerate() {
        let c = &carts[results.iter().position(|(_, b)| b["order"]["id"] == co["order"]["id"]).unwrap_or(i)];
        assert_eq!(pay(&app, c, co, "4242424242424242").await.0, 200);
    }
    app.run_jobs().await;
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE status = 'paid'").await, STOCK);
    assert_eq!(level(&app, &variant).await, (0, 0), "stock exactly 0, never negative");
    assert_eq!(count(&app, "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM bin_stock").await, 0);
}
both!(parallel_checkouts_never_oversell, no_oversell);

async fn discount_limit_holds(app: TestApp) {
    product(&app, "GIFT-1", 5000, 100, json!({})).await;
    let now = app.clock.now_ms();
    lsn_commerce::discounts::create(
        &app.rt.state.db,
        now,
        &serde_json::from_value(json!({"code": "LIVE5", "kind": "fixed", "value": 500, "usage_limit": 5})).expect("d"),
    )
    .await
    .expect("create");
    lsn_commerce::discounts::create(
        &app.rt.state.db,
        now,
        &serde_json::from_value(json!({"code": "ONCE", "kind": "percent", "value": 20, "per_customer_limit": 1})).expect("d"),
    )
    .await
    .expect("create");
    let mut carts = Vec::new();
    for _ in 0..20 {
        let c = app.client();
        c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "GIFT-1", "quantity": 1})).send().await.expect("add");
        carts.push(c);
    }
    let results = futures::future::join_all(carts.iter().enumerate().map(|(i, c)| {
        let (c, url) = (c.clone(), app.url("/api/v1/checkout"));
        let body = json!({"email": format!("b{i}@example.com"), "shipping_address": address(), "discount_code": "live5"});
        async move { json(c.post(url).json(&body).send().await.expect("checkout")).await }
    }))
    .await;
    let used = results.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(used, 5, "{results:?}");
    assert!(results.iter().filter(|(s, _)| *s != 201).all(|(s, b)| *s == 409 && b["error"]["code"] == "discount_exhausted"));
    let won = results.iter().find(|(s, _)| *s == 201).expect("one");
    assert_eq!((won.1["order"]["discount_total"].as_i64(), won.1["order"]["total"].as_i64()), (Some(500), Some(5000 - 500 + 995)));
    assert_eq!(count(&app, "SELECT used_count FROM discount_codes WHERE code = 'LIVE5'").await, 5);
    // Per customer: the same address twice at once, one wins (two new carts: a cart's second
    // checkout would replace its first order).
    let mut fresh = Vec::new();
    for _ in 0..2 {
        let c = app.client();
        c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "GIFT-1", "quantity": 1})).send().await.expect("add");
        fresh.push(c);
    }
    let pair = futures::future::join_all(fresh.iter().map(|c| {
        let (c, url) = (c.clone(), app.url("/api/v1/checkout"));
        let body = json!({"email": "same@example.com", "shipping_address": address(), "discount_code": "ONCE"});
        async move { json(c.post(url).json(&body).send().await.expect("checkout")).await }
    }))
    .await;
    let codes: Vec<u16> = pair.iter().map(|(s, _)| *s).collect();
    assert!(codes.contains(&201) && codes.contains(&400), "{pair:?}");
    // A cancelled order gives its use back.
    let cancelled = results.iter().find(|(s, _)| *s == 201).expect("one").1.clone();
    let id = cancelled["order"]["id"].as_str().expect("id");
    let r = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/orders/{id}/cancel")))
        .header("x-order-token", cancelled["order_token"].as_str().expect("t"))
        .send()
        .await
        .expect("cancel");
    assert_eq!(r.status(), 200);
    assert_eq!(count(&app, "SELECT used_count FROM discount_codes WHERE code = 'LIVE5'").await, 4);
}
both!(discount_limits_hold_under_concurrency, discount_limit_holds);

fn signed(app: &TestApp, event: &Value) -> (String, String) {
    signed_event(app, lsn_commerce::DEV_WEBHOOK_SECRET, event)
}

async fn deliver(app: &TestApp, event: &Value) -> (u16, Value) {
    deliver_event(app, lsn_commerce::DEV_WEBHOOK_SECRET, event).await
}

async fn webhooks_exactly_once(app: TestApp) {
    let (_, variant) = product(&app, "WH-1", 4000, 10, json!({})).await;
    let (_, s, co) = guest_checkout(&app, "WH-1", 2, json!({})).await;
    assert_eq!(s, 201);
    let id = co["order"]["id"].as_str().expect("id").to_string();
    let intent = co["payment"]["intent_id"].as_str().expect("intent").to_string();
    let total = co["order"]["total"].as_i64().expect("total");
    let succeeded = json!({"id": "evt_succ_1", "object": "event", "type": "payment_intent.succeeded", "created": 100,
        "data": {"object": {"id": intent, "object": "payment_intent", "amount": total, "amount_received": total, "status": "succeeded"}}});
    let refunded = json!({"id": "evt_ref_1", "object": "event", "type": "charge.refunded", "created": 200,
        "data": {"object": {"id": "ch_1", "object": "charge", "payment_intent": intent, "amount": total, "amount_refunded": 1000, "refunded": false}}});
    // The refund arrives before the payment it refunds: kept, applied later.
    let (s, b) = deliver(&app, &refunded).await;
    assert_eq!((s, b["result"].as_str()), (200, Some("deferred")));
    assert_eq!(order_status(&app, &id).await, "pending_payment");
    for _ in 0..2 {
        let (s, _) = deliver(&app, &succeeded).await;
        assert_eq!(s, 200);
    }
    let (s, b) = deliver(&app, &refunded).await;
    assert_eq!((s, b["result"].as_str()), (200, Some("duplicate")));
    let o = app.rt.state.commerce.order(&id, &lsn_commerce::orders::Viewer::Staff).await.expect("order");
    assert_eq!((o.status.as_str(), o.amount_paid, o.amount_refunded), ("partially_refunded", total, 1000));
    assert_eq!(o.transitions.iter().filter(|t| t.to == "paid").count(), 1, "one payment, one state change");
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM outbox WHERE topic = 'order.paid'").await, 1);
    assert_eq!(level(&app, &variant).await, (8, 0));
    // A late failure event for a paid order changes nothing.
    let failed = json!({"id": "evt_fail_1", "object": "event", "type": "payment_intent.payment_failed", "created": 50, "data": {"object": {"id": intent, "object": "payment_intent", "status": "requires_payment_method"}}});
    assert_eq!(deliver(&app, &failed).await.0, 200);
    assert_eq!(order_status(&app, &id).await, "partially_refunded");
    // Disputes hold payouts and open a task for a person.
    let dispute = json!({"id": "evt_dp_1", "object": "event", "type": "charge.dispute.created", "created": 300, "data": {"object": {"id": "dp_1", "object": "dispute", "payment_intent": intent, "amount": total, "reason": "fraudulent", "status": "needs_response"}}});
    assert_eq!(deliver(&app, &dispute).await.0, 200);
    let o = app.rt.state.commerce.order(&id, &lsn_commerce::orders::Viewer::Staff).await.expect("order");
    assert!(o.disputed && o.payout_hold);
    // The task follows from the `order.disputed` event, once however often it is delivered.
    app.run_jobs().await;
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE kind = 'dispute' AND status = 'open'").await, 1);
    let closed = json!({"id": "evt_dp_2", "object": "event", "type": "charge.dispute.closed", "created": 400, "data": {"object": {"id": "dp_1", "object": "dispute", "payment_intent": intent, "status": "won"}}});
    assert_eq!(deliver(&app, &closed).await.0, 200);
    assert!(!app.rt.state.commerce.order(&id, &lsn_commerce::orders::Viewer::Staff).await.expect("order").payout_hold);

    // Bad deliveries: each a 4xx with a stable code, nothing recorded.
    let before = count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_events").await;
    let post = |body: String, sig: String| {
        let url = app.url("/api/webhooks/stripe");
        async move { json(reqwest::Client::new().post(url).header("stripe-signature", sig).body(body).send().await.expect("send")).await }
    };
    let (body, sig) = signed(&app, &json!({"id": "evt_x", "type": "payment_intent.succeeded", "data": {"object": {}}}));
    assert_eq!(post(body.clone(), sig.replace("v1=", "v1=0")).await.1["error"]["code"], "invalid_signature");
    let old_t = app.clock.now().timestamp() - 301;
    let old_sig =
        format!("t={old_t},v1={}", lsn_commerce::payments::webhook::sign(lsn_commerce::DEV_WEBHOOK_SECRET, old_t, body.as_bytes()));
    assert_eq!(post(body.clone(), old_sig).await.1["error"]["code"], "stale_timestamp");
    let t = app.clock.now().timestamp();
    let junk = "{not json";
    assert_eq!(
        post(
            junk.into(),
            format!("t={t},v1={}", lsn_commerce::payments::webhook::sign(lsn_commerce::DEV_WEBHOOK_SECRET, t, junk.as_bytes()))
        )
        .await
        .1["error"]["code"],
        "malformed_event"
    );
    // A type LSN acts on whose object does not decode (an amount as text, a dispute without
    // its id) is refused, not applied with guesses.
    for bad in [
        json!({"id": "evt_bad_1", "type": "payment_intent.succeeded", "data": {"object": {"id": intent, "amount_received": "4900"}}}),
        json!({"id": "evt_bad_2", "type": "charge.dispute.closed", "data": {"object": {"payment_intent": intent, "status": "lost"}}}),
    ] {
        let (b, s) = signed(&app, &bad);
        assert_eq!(post(b, s).await.1["error"]["code"], "malformed_event", "{bad}");
    }
    assert_eq!(
        json(reqwest::Client::new().post(app.url("/api/webhooks/stripe")).body(body).send().await.expect("send")).await.1["error"]["code"],
        "invalid_signature"
    );
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_events").await, before);
}
both!(webhooks_apply_exactly_once_in_any_order, webhooks_exactly_once);

/// Stripe retries every non-2xx answer for three days: types LSN does not act on get a 200 and
/// are recorded as ignored. Deferred events are all retried however many foreign ones wait
/// ahead of them, and expire after three days.
async fn webhooks_ignore_and_retry(app: TestApp) {
    for (i, t) in ["payment_intent.created", "payment_intent.processing", "customer.created", "charge.updated"].iter().enumerate() {
        let event =
            json!({"id": format!("evt_other_{i}"), "object": "event", "type": t, "created": 1, "data": {"object": {"id": "pi_not_ours"}}});
        let (s, b) = deliver(&app, &event).await;
        assert_eq!((s, b["result"].as_str()), (200, Some("ignored")), "{t}: {b}");
        assert_eq!(deliver(&app, &event).await.1["result"], "duplicate", "{t} again");
    }
    assert_eq!(
        count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_events WHERE outcome = 'ignored' AND processed_at IS NOT NULL").await,
        4
    );
    // 101 refunds of payments that are not this shop's wait, older than ours.
    for i in 0..101 {
        let e = json!({"id": format!("evt_foreign_{i}"), "object": "event", "type": "charge.refunded", "created": 10,
            "data": {"object": {"id": format!("ch_f{i}"), "object": "charge", "payment_intent": format!("pi_foreign_{i}"), "amount": 100, "amount_refunded": 100}}});
        assert_eq!(deliver(&app, &e).await.1["result"], "deferred");
    }
    product(&app, "WH-2", 3000, 5, json!({})).await;
    let (_, s, co) = guest_checkout(&app, "WH-2", 1, json!({})).await;
    assert_eq!(s, 201);
    let id = co["order"]["id"].as_str().expect("id").to_string();
    let intent = co["payment"]["intent_id"].as_str().expect("intent").to_string();
    let total = co["order"]["total"].as_i64().expect("total");
    let refund = json!({"id": "evt_ours_ref", "object": "event", "type": "charge.refunded", "created": 20,
        "data": {"object": {"id": "ch_ours", "object": "charge", "payment_intent": intent, "amount": total, "amount_refunded": 500}}});
    assert_eq!(deliver(&app, &refund).await.1["result"], "deferred");
    let paid = json!({"id": "evt_ours_paid", "object": "event", "type": "payment_intent.succeeded", "created": 30,
        "data": {"object": {"id": intent, "object": "payment_intent", "amount": total, "amount_received": total, "status": "succeeded"}}});
    assert_eq!(deliver(&app, &paid).await.1["result"], "applied");
    let o = app.rt.state.commerce.order(&id, &lsn_commerce::orders::Viewer::Staff).await.expect("order");
    assert_eq!((o.status.as_str(), o.amount_refunded), ("partially_refunded", 500), "applied at once: it was about the same payment");
    // Now a refund that arrives before its payment while the sweep must do the work.
    let (_, s, co) = guest_checkout(&app, "WH-2", 1, json!({})).await;
    assert_eq!(s, 201);
    let id2 = co["order"]["id"].as_str().expect("id").to_string();
    let intent2 = co["payment"]["intent_id"].as_str().expect("intent").to_string();
    let refund2 = json!({"id": "evt_ours_ref2", "object": "event", "type": "charge.refunded", "created": 40,
        "data": {"object": {"id": "ch_ours2", "object": "charge", "payment_intent": intent2, "amount": total, "amount_refunded": 700}}});
    assert_eq!(deliver(&app, &refund2).await.1["result"], "deferred");
    // The payment is applied by the event code alone (as another node's sweep would), not
    // through this endpoint, so nothing here retries the refund at once.
    let paid2 = json!({"id": "evt_ours_paid2", "object": "event", "type": "payment_intent.succeeded", "created": 50,
        "data": {"object": {"id": intent2, "object": "payment_intent", "amount": total, "amount_received": total, "status": "succeeded"}}});
    let c = app.rt.state.commerce.clone();
    let raw = paid2.to_string();
    let now = app.clock.now().timestamp_millis();
    app.rt
        .state
        .db
        .transaction(move |tx| {
            let (c, raw) = (c.clone(), raw.clone());
            Box::pin(async move {
                let e: Value = serde_json::from_str(&raw).expect("json");
                let obj = e["data"]["object"].as_object().expect("object");
                let event =
                    lsn_commerce::payments::events::Event::decode("payment_intent.succeeded", obj).expect("decodes").expect("handled");
                lsn_commerce::orders::apply_event(&c, tx, now, &event).await
            })
        })
        .await
        .expect("applied");
    assert_eq!(order_status(&app, &id2).await, "paid");
    let sweep = lsn_ops::NewJob::new(lsn_commerce::payments::webhook::RETRY_JOB, json!({}));
    lsn_ops::enqueue(app.rt.state.db.write(), &sweep, now).await.expect("enqueue");
    app.run_jobs().await;
    let o = app.rt.state.commerce.order(&id2, &lsn_commerce::orders::Viewer::Staff).await.expect("order");
    assert_eq!((o.status.as_str(), o.amount_refunded), ("partially_refunded", 700), "found behind 101 foreign events");
    // Three days on, the foreign events are recorded as expired and no longer retried.
    app.clock.advance(chrono::Duration::hours(73));
    let now = app.clock.now().timestamp_millis();
    lsn_ops::enqueue(
        app.rt.state.db.write(),
        &lsn_ops::NewJob::new(lsn_commerce::payments::webhook::RETRY_JOB, json!({})).dedupe("sweep-2"),
        now,
    )
    .await
    .expect("enqueue");
    app.run_jobs().await;
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_events WHERE outcome = 'deferred'").await, 0);
    assert_eq!(
        count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM webhook_events WHERE outcome = 'expired' AND processed_at IS NOT NULL").await,
        101
    );
}
both!(webhooks_ignore_unhandled_types_and_retry_every_deferred_event, webhooks_ignore_and_retry);

async fn refunds_and_status(app: TestApp) {
    let (_, variant) = product(&app, "RF-1", 5000, 4, json!({})).await;
    app.user("admin@example.com", Role::Admin).await;
    app.user("cust@example.com", Role::Customer).await;
    let (a, csrf) = app.login("admin@example.com").await;
    let (cust, ccsrf) = app.login("cust@example.com").await;
    let (c, _, co) = guest_checkout(&app, "RF-1", 2, json!({})).await;
    pay(&app, &c, &co, "4242424242424242").await;
    app.run_jobs().await;
    let id = co["order"]["id"].as_str().expect("id");
    let total = co["order"]["total"].as_i64().expect("total");
    let url = app.url(&format!("/api/v1/orders/{id}/refunds"));
    assert_eq!(cust.post(&url).header("x-csrf-token", &ccsrf).json(&json!({"amount": 100})).send().await.expect("send").status(), 403);
    let (s, b) = json(a.post(&url).header("x-csrf-token", &csrf).json(&json!({"amount": total + 1})).send().await.expect("send")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("refund_exceeds_paid")));
    let (s, b) = json(
        a.post(&url)
            .header("x-csrf-token", &csrf)
            .header("idempotency-key", "r-1")
            .json(&json!({"amount": 1000, "reason": "scuffed box"}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (s, b["order"]["status"].as_str(), b["order"]["amount_refunded"].as_i64()),
        (201, Some("partially_refunded"), Some(1000)),
        "{b}"
    );
    let (s, _) = json(
        a.post(&url)
            .header("x-csrf-token", &csrf)
            .header("idempotency-key", "r-1")
            .json(&json!({"amount": 1000, "reason": "scuffed box"}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 201);
    app.run_jobs().await; // the provider's charge.refunded event must not count the refund again
    let o = app.rt.state.commerce.order(id, &lsn_commerce::orders::Viewer::Staff).await.expect("order");
    assert_eq!(o.amount_refunded, 1000, "the repeated key refunded once");
    let (s, b) =
        json(a.post(&url).header("x-csrf-token", &csrf).json(&json!({"restock": true, "reason": "returned"})).send().await.expect("send"))
            .await;
    assert_eq!((s, b["order"]["status"].as_str(), b["order"]["amount_refunded"].as_i64()), (201, Some("refunded"), Some(total)));
    app.run_jobs().await;
    assert_eq!(level(&app, &variant).await, (4, 0), "restocked");
    let (s, b) = json(a.post(&url).header("x-csrf-token", &csrf).json(&json!({"amount": 1})).send().await.expect("send")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("refund_exceeds_paid")));
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM outbox WHERE topic = 'order.refunded'").await, 2);

    // The state machine refuses what makes no sense.
    let (c2, _, co2) = guest_checkout(&app, "RF-1", 1, json!({})).await;
    let id2 = co2["order"]["id"].as_str().expect("id");
    let st = app.url(&format!("/api/v1/orders/{id2}/status"));
    let (s, b) = json(a.post(&st).header("x-csrf-token", &csrf).json(&json!({"status": "shipped"})).send().await.expect("send")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("invalid_transition")));
    pay(&app, &c2, &co2, "4242424242424242").await;
    app.run_jobs().await;
    for next in ["processing", "shipped", "delivered"] {
        let (s, b) = json(a.post(&st).header("x-csrf-token", &csrf).json(&json!({"status": next})).send().await.expect("send")).await;
        assert_eq!((s, b["order"]["status"].as_str()), (200, Some(next)));
    }
    let (s, _) = json(a.post(&st).header("x-csrf-token", &csrf).json(&json!({"status": "paid"})).send().await.expect("send")).await;
    assert_eq!(s, 409);
    let o = app.rt.state.commerce.order(id2, &lsn_commerce::orders::Viewer::Staff).await.expect("order");
    assert_eq!(o.transitions.len(), 5);
    assert!(o.transitions[2].actor.starts_with("user:admin@example.com"));
}
both!(refunds_and_order_status_changes, refunds_and_status);

async fn reservations_expire(app: TestApp) {
    let (_, variant) = product(&app, "EXP-1", 1000, 3, json!({})).await;
    let (c, _, co) = guest_checkout(&app, "EXP-1", 3, json!({})).await;
    assert_eq!(level(&app, &variant).await, (3, 3));
    // A second buyer cannot even add it: all three are held.
    let (s, b) =
        json(app.client().post(app.url("/api/v1/cart/items")).json(&json!({"sku": "EXP-1", "quantity": 1})).send().await.expect("add"))
            .await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("out_of_stock")));
    app.clock.advance(chrono::Duration::minutes(16));
    let job = lsn_ops::NewJob::new(lsn_commerce::orders::EXPIRE_JOB, json!({}));
    lsn_ops::enqueue(app.rt.state.db.write(), &job, app.clock.now_ms()).await.expect("enqueue");
    app.run_jobs().await;
    let id = co["order"]["id"].as_str().expect("id");
    assert_eq!(order_status(&app, id).await, "cancelled");
    assert_eq!(level(&app, &variant).await, (3, 0), "expired reservations are released");
    // Paying the expired order is refused; its intent was cancelled at the provider.
    let (s, b) = pay(&app, &c, &co, "4242424242424242").await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("order_not_payable")));
    let status: String = lsn_db::RowExt::try_get(
        &lsn_db::query("SELECT status FROM sandbox_intents WHERE id = $1")
            .bind(co["payment"]["intent_id"].as_str().expect("i"))
            .fetch_one(app.rt.state.db.read())
            .await
            .expect("row"),
        0,
    )
    .expect("s");
    assert_eq!(status, "canceled");
}
both!(expired_reservations_are_released, reservations_expire);

async fn trpc_procedures(app: TestApp) {
    app.user("admin@example.com", Role::Admin).await;
    let (a, csrf) = app.login("admin@example.com").await;
    let input = json!({"title": "Ring Light", "status": "active", "variants": [{"sku": "RL-26", "price": 6900}]});
    let (s, b) =
        json(a.post(app.url("/api/trpc/products.create")).header("x-csrf-token", &csrf).json(&input).send().await.expect("send")).await;
    assert_eq!(s, 200, "{b}");
    let id = b["result"]["data"]["id"].as_str().expect("id").to_string();
    let q = url::form_urlencoded::byte_serialize(json!({"q": "ring"}).to_string().as_bytes()).collect::<String>();
    let (s, b) = json(reqwest::get(app.url(&format!("/api/trpc/products.list?input={q}"))).await.expect("send")).await;
    assert_eq!((s, b["result"]["data"]["items"][0]["id"].as_str()), (200, Some(id.as_str())));
    let q = url::form_urlencoded::byte_serialize(json!({"0": {"id": id}, "1": {"json": {"q": "nothing-matches"}}}).to_string().as_bytes())
        .collect::<String>();
    let (s, b) = json(reqwest::get(app.url(&format!("/api/trpc/products.get,products.list?batch=1&input={q}"))).await.expect("send")).await;
    assert_eq!(
        (s, b[0]["result"]["data"]["title"].as_str(), b[1]["result"]["data"]["items"].as_array().map(Vec::len)),
        (200, Some("Ring Light"), Some(0))
    );
    let (s, b) = json(
        a.put(app.url("/api/trpc/products.update"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"id": id, "title": "Ring Light Pro"}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((s, b["result"]["data"]["title"].as_str()), (200, Some("Ring Light Pro")));
    // Errors in tRPC's shape.
    let (s, b) = json(reqwest::Client::new().post(app.url("/api/trpc/products.create")).json(&input).send().await.expect("send")).await;
    assert_eq!(
        (s, b["error"]["code"].as_i64(), b["error"]["data"]["code"].as_str(), b["error"]["data"]["httpStatus"].as_i64()),
        (401, Some(-32001), Some("UNAUTHORIZED"), Some(401))
    );
    let (s, b) = json(reqwest::get(app.url("/api/trpc/products.create")).await.expect("send")).await;
    assert_eq!((s, b["error"]["data"]["code"].as_str()), (405, Some("METHOD_NOT_SUPPORTED")));
    let (s, b) = json(reqwest::get(app.url("/api/trpc/nope.nothing")).await.expect("send")).await;
    assert_eq!((s, b["error"]["data"]["code"].as_str()), (404, Some("NOT_FOUND")));
    let (s, b) = json(reqwest::get(app.url("/api/trpc/products.list?input=%7Bbad")).await.expect("send")).await;
    assert_eq!((s, b["error"]["data"]["code"].as_str()), (400, Some("BAD_REQUEST")));
    // Orders through tRPC: a customer creates one from the cart and sees only their own.
    app.user("c@example.com", Role::Customer).await;
    let (c, ccsrf) = app.login("c@example.com").await;
    let (_, variant) = product(&app, "TR-1", 1200, 5, json!({})).await;
    c.post(app.url("/api/v1/cart/items"))
        .header("x-csrf-token", &ccsrf)
        .json(&json!({"variant_id": variant, "quantity": 1}))
        .send()
        .await
        .expect("add");
    let (s, b) = json(
        c.post(app.url("/api/trpc/orders.create"))
            .header("x-csrf-token", &ccsrf)
            .json(&json!({"shipping_address": address()}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let oid = b["result"]["data"]["order"]["id"].as_str().expect("order").to_string();
    let (_, b) = json(c.get(app.url("/api/trpc/orders.list")).send().await.expect("send")).await;
    assert_eq!(b["result"]["data"].as_array().map(Vec::len), Some(1));
    let (s, b) = json(
        c.post(app.url("/api/trpc/orders.updateStatus"))
            .header("x-csrf-token", &ccsrf)
            .json(&json!({"id": oid, "status": "cancelled"}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((s, b["error"]["data"]["code"].as_str()), (403, Some("FORBIDDEN")));
    let (s, b) = json(
        a.post(app.url("/api/trpc/orders.updateStatus"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"id": oid, "status": "cancelled"}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((s, b["result"]["data"]["status"].as_str()), (200, Some("cancelled")));
    let q = url::form_urlencoded::byte_serialize(json!({"taskName": "reservation_expiry"}).to_string().as_bytes()).collect::<String>();
    assert_eq!(a.get(app.url(&format!("/api/trpc/system.getTaskHistory?input={q}"))).send().await.expect("send").status(), 200);
}
both!(trpc_wire_format, trpc_procedures);

async fn full_text_search(app: TestApp) {
    product(&app, "FTS-1", 100, 1, json!({"title": "Merino Wool Jumper", "description": "Soft, warm and itch-free.", "tags": ["winter"]}))
        .await;
    product(&app, "FTS-2", 100, 1, json!({"title": "Café Crème Candle", "description": "Smells like a Melbourne laneway."})).await;
    product(&app, "FTS-3", 100, 1, json!({"title": "Wool Socks", "description": "Three pairs."})).await;
    let hits = |q: &str| {
        let url = app.url(&format!("/api/v1/products?q={}", url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()));
        async move {
            let (s, b) = json(reqwest::get(url).await.expect("send")).await;
            assert_eq!(s, 200, "{b}");
            let mut skus: Vec<String> =
                b["items"].as_array().expect("items").iter().map(|p| p["variants"][0]["sku"].as_str().unwrap_or("").to_string()).collect();
            skus.sort();
            skus
        }
    };
    assert_eq!(hits("wool").await, vec!["FTS-1", "FTS-3"]);
    assert_eq!(hits("WOOL jump").await, vec!["FTS-1"], "every word, as a word prefix, any case");
    assert_eq!(hits("itch").await, vec!["FTS-1"]);
    assert_eq!(hits("melbourne").await, vec!["FTS-2"]);
    assert_eq!(hits("creme").await, vec!["FTS-2"], "accents do not matter");
    assert_eq!(hits("fts 3").await, vec!["FTS-3"], "SKUs are searchable");
    assert_eq!(hits("winter").await, vec!["FTS-1"], "tags are searchable");
    assert!(hits("zebra").await.is_empty());
    // Query syntax of either engine is inert text.
    for q in ["\"", "wool OR socks", "*", "a:* & !b", "NEAR(wool socks)", "'; DROP TABLE products; --"] {
        hits(q).await;
    }
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM products").await, 3);
    // Updates and deletes keep the index in step.
    let id = app.rt.state.commerce.catalog.get("wool-socks", true).await.expect("get").expect("p").id;
    app.rt
        .state
        .commerce
        .catalog
        .update(&id, &lsn_catalog::ProductPatch { title: Some("Alpaca Socks".into()), ..Default::default() })
        .await
        .expect("update");
    assert_eq!(hits("wool").await, vec!["FTS-1"]);
    assert_eq!(hits("alpaca").await, vec!["FTS-3"]);
    app.rt.state.commerce.catalog.delete(&id).await.expect("delete");
    assert!(hits("alpaca").await.is_empty());
}
both!(full_text_search_on_both_databases, full_text_search);

/// A product nobody refers to is deleted; one that orders, stock history or a show's lineup still
/// point at is archived instead (the catalog learns it from the warehouse and the database's
/// references, not by reading their tables).
async fn delete_or_archive(app: TestApp) {
    let catalog = &app.rt.state.commerce.catalog;
    let (fresh, _) = product(&app, "DEL-FRESH", 500, 0, json!({})).await;
    assert_eq!(catalog.delete(&fresh).await.expect("delete"), "deleted");
    assert!(catalog.get(&fresh, true).await.expect("get").is_none(), "gone");

    let (stocked, _) = product(&app, "DEL-STOCKED", 500, 3, json!({})).await;
    assert_eq!(catalog.delete(&stocked).await.expect("delete"), "archived", "its stock history stays");

    let (ordered, _) = product(&app, "DEL-ORDERED", 500, 2, json!({})).await;
    let (_, s, _) = guest_checkout(&app, "DEL-ORDERED", 1, json!({})).await;
    assert_eq!(s, 201);
    assert_eq!(catalog.delete(&ordered).await.expect("delete"), "archived", "its order lines stay");

    let host = app.user("host@example.com", Role::Creator).await;
    let (lined_up, _) = product(&app, "DEL-LINEUP", 500, 0, json!({})).await;
    let input: lsn_live::shows::ShowInput =
        serde_json::from_value(json!({"title": "Tonight", "scheduled_at": app.clock.now_ms() + 60_000, "lineup": [lined_up]}))
            .expect("input");
    app.rt.state.live.create(&host, &input).await.expect("show");
    assert_eq!(catalog.delete(&lined_up).await.expect("delete"), "archived", "the show's lineup still names it");

    for id in [&stocked, &ordered, &lined_up] {
        assert_eq!(catalog.get(id, true).await.expect("get").expect("kept").status, "archived");
    }
    assert!(matches!(catalog.delete("no-such-product").await, Err(lsn_catalog::CatalogError::NotFound)));
}
both!(delete_or_archive_on_both_databases, delete_or_archive);

/// The daily summary counts the day's sales: each module's section reads its own tables.
async fn daily_summary(app: TestApp) {
    product(&app, "SUM-1", 2500, 20, json!({})).await;
    let (c, s, checkout) = guest_checkout(&app, "SUM-1", 2, json!({})).await;
    assert_eq!(s, 201, "{checkout}");
    let (s, paid) = pay(&app, &c, &checkout, "4242 4242 4242 4242").await;
    assert_eq!(s, 200, "{paid}");
    app.run_jobs().await;
    let tz = app.rt.state.cfg.timezone;
    let today = app.clock.now().with_timezone(&tz).date_naive();
    let report = lsn_web::summary::report(&app.rt.state, lsn_ops::summary::Period::daily(tz, today)).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let revenue = report.sections.iter().find(|s| s.title == "Revenue").expect("commerce's section");
    let total = checkout["order"]["total"].as_i64().expect("total");
    assert_eq!(revenue.figures[0].value, lsn_ops::summary::Measure::Money(total));
    assert_eq!(revenue.figures[1].value, lsn_ops::summary::Measure::Count(1));
    assert_eq!(revenue.figures[2].value, lsn_ops::summary::Measure::Money(total), "the average of one order");
    assert_eq!(revenue.tables[0].rows[0][0], "SUM-1", "the top product");
    let csv = String::from_utf8(revenue.csv[0].to_bytes()).expect("utf-8");
    let number = checkout["order"]["number"].as_str().expect("number");
    assert!(csv.starts_with("number,paid_at,status,units,total,amount_paid,amount_refunded,from_live_room\r\n"), "{csv}");
    assert!(csv.contains(&format!("{number},")) && csv.contains(",2,") && csv.contains(",no\r\n"), "{csv}");
    let hours: i64 = revenue.charts[0].points.iter().map(|(_, m)| m.raw()).sum();
    assert_eq!(hours, total, "the hourly chart adds up to the day");
    let names: Vec<&str> = report.sections.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        names,
        ["Revenue", "Live Streaming", "Creators", "Fraud detections", "Inventory alerts", "System health"],
        "each module's own, in the runbook's order"
    );
    // The next day nothing was sold, and the figures compare with this one.
    let next = lsn_web::summary::report(&app.rt.state, lsn_ops::summary::Period::daily(tz, today.succ_opt().expect("date"))).await;
    let revenue = next.sections.iter().find(|s| s.title == "Revenue").expect("commerce's section");
    assert_eq!(revenue.figures[0].value, lsn_ops::summary::Measure::Money(0));
    assert_eq!(revenue.figures[0].previous, Some(lsn_ops::summary::Measure::Money(total)));
    assert!(revenue.csv.is_empty(), "no orders, no file");
    // The admin shows the day's report as the mail does, its chart in the page, its files to download.
    app.user("boss@example.com", Role::Admin).await;
    let (admin, _) = app.login("boss@example.com").await;
    let day = today.format("%Y-%m-%d").to_string();
    let r = admin.get(app.url(&format!("/admin/summary?date={day}"))).send().await.expect("page");
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("body");
    assert!(html.contains("Daily Summary") && html.contains("src=\"data:image/png;base64,"), "{html}");
    let file = format!("orders-{day}.csv");
    assert!(html.contains(&format!("/admin/summary/files/{file}?date={day}")), "{html}");
    let r = admin.get(app.url(&format!("/admin/summary/files/{file}?date={day}"))).send().await.expect("csv");
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("csv").contains(number), "the day's orders");
    let r = admin.get(app.url(&format!("/admin/summary/files/nothing.csv?date={day}"))).send().await.expect("csv");
    assert_eq!(r.status(), 404);
    let r = admin.get(app.url("/admin/summary?date=31/12/2025")).send().await.expect("page");
    assert_eq!(r.status(), 400, "a day that is no date");
    assert!(r.text().await.expect("body").contains("Give the day as a date"));
    let weekly = admin.get(app.url(&format!("/admin/summary?date={day}&weekly=1"))).send().await.expect("page").text().await.expect("body");
    assert!(weekly.contains("Weekly Report") && weekly.contains("vs the week before"), "{weekly}");
    let r = app.client().get(app.url("/admin/summary")).send().await.expect("page");
    assert_ne!(r.status(), 200, "staff only");
}
both!(daily_summary_on_both_databases, daily_summary);
