//! The fraud check through the real server (issue 17): every order placed is scored with its
//! reasons and decided by the `fraud_review` policy; the runbook's "Fraud Detection" flow
//! (suspicious order → check → score → decision → alert); card testing and many accounts from
//! one browser held while an honest buyer passes; block lists decline; the review queue's
//! decisions (a second one is 409) become labels; bad input changes nothing.

use crate::both;
use crate::common::{json, TestApp};
use lsn_core::Clock;
use serde_json::{json, Value};

struct Staff {
    c: reqwest::Client,
    csrf: String,
}

impl Staff {
    async fn send(&self, app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.c.request(method, app.url(path)).header("x-csrf-token", &self.csrf);
        if let Some(b) = body {
            r = r.json(&b);
        }
        json(r.send().await.expect("send")).await
    }
}

async fn staff(app: &TestApp) -> Staff {
    app.user("risk@example.com", lsn_identity::Role::Admin).await;
    let (c, csrf) = app.login("risk@example.com").await;
    Staff { c, csrf }
}

/// One order of `sku` by the browser `c` (a guest) paid with `card`; returns the order id and
/// whether the payment went through.
async fn order(app: &TestApp, c: &reqwest::Client, sku: &str, quantity: i64, email: &str, card: &str, addr: &Value) -> (String, bool) {
    let r = c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": sku, "quantity": quantity})).send().await.expect("add");
    assert_eq!(r.status(), 200);
    let (s, co) =
        json(c.post(app.url("/api/v1/checkout")).json(&json!({"email": email, "shipping_address": addr})).send().await.expect("co")).await;
    assert_eq!(s, 201, "{co}");
    let id = co["order"]["id"].as_str().expect("id").to_string();
    let mut pay = c.post(app.url(&format!("/api/v1/orders/{id}/pay"))).json(&json!({"card_number": card}));
    if let Some(t) = co["order_token"].as_str() {
        pay = pay.header("x-order-token", t);
    }
    let (s, _) = json(pay.send().await.expect("pay")).await;
    app.run_jobs().await;
    (id, s == 200)
}

fn home() -> Value {
    json!({"name": "Pat Honest", "line1": "1 Test St", "suburb": "Sydney", "state": "NSW", "postcode": "2000"})
}

async fn check(app: &TestApp, s: &Staff, order: &str) -> Value {
    let (st, b) = s.send(app, reqwest::Method::GET, &format!("/api/v1/admin/risk/checks/{order}"), None).await;
    assert_eq!(st, 200, "{b}");
    b["check"].clone()
}

fn codes(check: &Value) -> Vec<String> {
    check["reasons"].as_array().map(|a| a.iter().filter_map(|r| r["code"].as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// An honest buyer passes; a card tester (declines, then a success with another card, from one
/// browser) is held with the reasons; past 80 the high-risk alert is raised; a person declines
/// it (refunded) and the decision is a label; deciding again is 409.
async fn fraud_detection_flow(app: TestApp) {
    let s = staff(&app).await;
    let p = app.product(json!({"title": "Gift Card", "status": "active", "variants": [{"sku": "RISK-1", "price": 5_000}]})).await;
    app.stock(&p.variants[0].id, 500).await;
    // The honest buyer.
    let honest = app.client();
    let (ok_order, paid) = order(&app, &honest, "RISK-1", 1, "pat@example.com", "4242 4242 4242 4242", &home()).await;
    assert!(paid);
    let c = check(&app, &s, &ok_order).await;
    assert_eq!(c["status"], "approved", "{c}");
    assert!(c["score"].as_i64().expect("score") < 70, "{c}");
    // The card tester: one browser, throwaway mailboxes, cards declined one after another.
    let tester = app.client();
    for (i, card) in ["4000 0000 0000 0002", "4000 0000 0000 9995", "4000 0000 0000 9987", "4000 0000 0000 0069"].iter().enumerate() {
        let (_, paid) = order(&app, &tester, "RISK-1", 1, &format!("t{i}@mailinator.com"), card, &home()).await;
        assert!(!paid);
    }
    let (suspect, paid) = order(&app, &tester, "RISK-1", 2, "t9@mailinator.com", "4242 4242 4242 4242", &home()).await;
    assert!(paid, "the sandbox takes the payment; the check holds the order");
    let c = check(&app, &s, &suspect).await;
    assert!(["review", "escalated"].contains(&c["status"].as_str().unwrap_or("")), "{c}");
    let why = codes(&c);
    assert!(why.contains(&"card_testing".to_string()) && why.contains(&"disposable_email".to_string()), "{why:?}");
    assert!(c["features"]["declines_24h"].as_f64().expect("declines") >= 4.0, "{c}");
    // In the queue, with its reasons; the alert when over 80.
    let (st, q) = s.send(&app, reqwest::Method::GET, "/api/v1/admin/risk/queue", None).await;
    assert_eq!(st, 200);
    assert!(q["queue"].as_array().expect("queue").iter().any(|x| x["order_id"] == suspect.as_str()), "{q}");
    if c["score"].as_i64().expect("score") > 80 {
        let n: i64 = lsn_db::RowExt::try_get(
            &lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM alerts WHERE alert_type = 'fraud_high_risk' AND group_key = $1")
                .bind(format!("fraud_high_risk:order:{suspect}"))
                .fetch_one(app.rt.state.db.read())
                .await
                .expect("n"),
            0,
        )
        .expect("n");
        assert_eq!(n, 1, "the high-risk alert, once");
    }
    // Approving the honest order is refused: it was never held.
    let (st, b) =
        s.send(&app, reqwest::Method::POST, &format!("/api/v1/admin/risk/queue/{ok_order}"), Some(json!({"action": "approve"}))).await;
    assert_eq!((st, b["error"]["code"].as_str()), (409, Some("risk_not_held")), "{b}");
    // Declined by a person: refunded, labelled; a second decision is 409 and changes nothing.
    let (st, b) = s
        .send(
            &app,
            reqwest::Method::POST,
            &format!("/api/v1/admin/risk/queue/{suspect}"),
            Some(json!({"action": "decline", "note": "card testing"})),
        )
        .await;
    assert_eq!((st, b["check"]["status"].as_str(), b["check"]["label"].as_str()), (200, Some("declined"), Some("fraud")), "{b}");
    let (st, b) =
        s.send(&app, reqwest::Method::POST, &format!("/api/v1/admin/risk/queue/{suspect}"), Some(json!({"action": "approve"}))).await;
    assert_eq!((st, b["error"]["code"].as_str()), (409, Some("risk_already_decided")), "{b}");
    app.run_jobs().await;
    let o = app.rt.state.commerce.order(&suspect, &lsn_commerce::orders::Viewer::Staff).await.expect("order");
    assert_eq!(o.amount_refunded, o.amount_paid, "the declined order is refunded");
    // The dashboard counts it.
    let (st, d) = s.send(&app, reqwest::Method::GET, "/api/v1/admin/risk/dashboard?days=1", None).await;
    assert_eq!(st, 200, "{d}");
    assert!(d["checked"].as_i64().expect("checked") >= 6 && d["declined"].as_i64() == Some(1), "{d}");
}
both!(a_card_tester_is_held_and_declined_while_an_honest_buyer_passes, fraud_detection_flow);

/// Many accounts from one browser chasing a welcome-offer price are held; a blocked e-mail is
/// declined (its unpaid order cancelled); an allow-listed one passes.
async fn promo_abuse_and_lists(app: TestApp) {
    let s = staff(&app).await;
    let p = app.product(json!({"title": "Drop", "status": "active", "variants": [{"sku": "RISK-2", "price": 9_000}]})).await;
    app.stock(&p.variants[0].id, 500).await;
    let farm = app.client();
    let mut last = String::new();
    for i in 0..10 {
        let addr = json!({"name": format!("N{i}"), "line1": "9 Farm Rd", "suburb": "Parramatta", "state": "NSW", "postcode": "2150"});
        last = order(&app, &farm, "RISK-2", 1, &format!("new{i}@example.com"), "4242 4242 4242 4242", &addr).await.0;
    }
    let c = check(&app, &s, &last).await;
    assert_ne!(c["status"], "approved", "{c}");
    let why = codes(&c);
    assert!(why.contains(&"shared_address".to_string()) || why.contains(&"shared_device".to_string()), "{why:?}");
    // Lists: bad values refused with the field named, nothing written.
    for (kind, value) in [("ip", "203.0.113.0/33"), ("ip", "300.1.1.1"), ("email", "not-an-email"), ("card", "visa:12"), ("fax", "x")] {
        let (st, b) = s
            .send(
                &app,
                reqwest::Method::POST,
                "/api/v1/admin/risk/lists",
                Some(json!({"list": "block", "kind": kind, "value": value, "reason": "test"})),
            )
            .await;
        assert_eq!(st, 422, "{kind} {value}: {b}");
    }
    let (_, l) = s.send(&app, reqwest::Method::GET, "/api/v1/admin/risk/lists", None).await;
    assert_eq!(l["entries"].as_array().map(Vec::len), Some(0), "{l}");
    let (st, b) = s
        .send(
            &app,
            reqwest::Method::POST,
            "/api/v1/admin/risk/lists",
            Some(json!({"list": "block", "kind": "email", "value": "Fraud@Example.com", "reason": "chargebacks", "expires_at": app.clock.now_ms() + 86_400_000})),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let (st, b) = s
        .send(
            &app,
            reqwest::Method::POST,
            "/api/v1/admin/risk/lists",
            Some(json!({"list": "block", "kind": "email", "value": "fraud@example.com", "reason": "again"})),
        )
        .await;
    assert_eq!((st, b["error"]["code"].as_str()), (409, Some("risk_list_entry_exists")), "{b}");
    let buyer = app.client();
    let r = buyer.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "RISK-2", "quantity": 1})).send().await.expect("add");
    assert_eq!(r.status(), 200);
    let (st, co) = json(
        buyer
            .post(app.url("/api/v1/checkout"))
            .json(&json!({"email": "fraud@example.com", "shipping_address": home()}))
            .send()
            .await
            .expect("co"),
    )
    .await;
    assert_eq!(st, 201, "{co}");
    let blocked = co["order"]["id"].as_str().expect("id").to_string();
    app.run_jobs().await;
    let c = check(&app, &s, &blocked).await;
    assert_eq!((c["status"].as_str(), c["score"].as_i64()), (Some("declined"), Some(100)), "{c}");
    assert_eq!(codes(&c), vec!["blocked_email".to_string()]);
    let o = app.rt.state.commerce.order(&blocked, &lsn_commerce::orders::Viewer::Staff).await.expect("order");
    assert_eq!(o.status.to_string(), "cancelled", "the unpaid order of a blocked buyer is cancelled");
    // After the expiry it no longer counts; the audit kept who added it.
    let (_, a) = s.send(&app, reqwest::Method::GET, "/api/v1/admin/risk/lists/audit", None).await;
    assert_eq!(a["audit"].as_array().map(Vec::len), Some(1), "{a}");
    app.clock.advance(chrono::Duration::days(2));
    let (_, l) = s.send(&app, reqwest::Method::GET, "/api/v1/admin/risk/lists?list=block", None).await;
    assert_eq!(l["entries"].as_array().map(Vec::len), Some(0), "expired: {l}");
    // An unknown reason code and out-of-range settings are refused.
    let (st, b) = s.send(&app, reqwest::Method::GET, "/api/v1/admin/risk/checks?reason=nonsense", None).await;
    assert_eq!((st, b["error"]["code"].as_str()), (422, Some("risk_unknown_reason")), "{b}");
    let (st, _) = s.send(&app, reqwest::Method::PUT, "/api/v1/admin/risk/settings", Some(json!({"decline_at": 101}))).await;
    assert_eq!(st, 422);
    let (st, _) =
        s.send(&app, reqwest::Method::PUT, "/api/v1/admin/risk/settings", Some(json!({"stale_minutes": 30, "nonsense": 1}))).await;
    assert_eq!(st, 422);
    let (_, b) = s.send(&app, reqwest::Method::GET, "/api/v1/admin/risk/settings", None).await;
    assert_eq!(b["settings"]["stale_minutes"], 60, "nothing half-written: {b}");
}
both!(many_accounts_from_one_browser_are_held_and_block_lists_decline, promo_abuse_and_lists);

/// The 5-minute task escalates a held order nobody decided in time; models are trained (on the
/// generated set here), activated and rolled back.
async fn review_task_and_models(app: TestApp) {
    let s = staff(&app).await;
    let p = app.product(json!({"title": "Phone", "status": "active", "variants": [{"sku": "RISK-3", "price": 150_000}]})).await;
    app.stock(&p.variants[0].id, 50).await;
    let b = app.client();
    let addr = json!({"name": "R", "line1": "Suite 5, Parcel Forwarding Depot", "suburb": "Mascot", "state": "NSW", "postcode": "2020"});
    let (id, _) = order(&app, &b, "RISK-3", 6, "bulk@yopmail.com", "4242 4242 4242 4242", &addr).await;
    let c = check(&app, &s, &id).await;
    assert!(codes(&c).contains(&"reshipper".to_string()), "{c}");
    assert_ne!(c["status"], "approved", "{c}");
    // The admin page shows it in the queue with its reasons; a customer may not open it.
    let html = s.c.get(app.url("/admin/risk")).send().await.expect("page").text().await.expect("html");
    assert!(html.contains(&format!("data-order=\"{id}\"")) && html.contains("reshipper") && html.contains("data-approve"), "{html}");
    let stranger = app.client();
    assert_ne!(stranger.get(app.url("/admin/risk")).send().await.expect("page").status(), 200);
    app.clock.advance(chrono::Duration::minutes(61));
    let run = app.rt.state.risk.review_task().await.expect("review");
    assert!(run.rescored >= 1, "{run:?}");
    assert_eq!(check(&app, &s, &id).await["status"], "escalated");
    // Approved through the page's form: released; the form again says it no longer waits.
    for _ in 0..2 {
        let r =
            s.c.post(app.url(&format!("/admin/risk/{id}/decision")))
                .form(&[("csrf_token", s.csrf.as_str()), ("action", "approve")])
                .send()
                .await
                .expect("decide");
        assert_eq!(r.status(), 303);
    }
    let c = check(&app, &s, &id).await;
    assert_eq!((c["status"].as_str(), c["label"].as_str()), (Some("approved"), Some("legit")), "{c}");
    let r = s.c.get(app.url("/admin/risk?notice=risk_not_waiting")).send().await.expect("page").text().await.expect("html");
    assert!(r.contains("no longer waits"), "{r}");
    // Training without labels is refused; on the generated set it is a new, inactive version.
    let (st, b) = s.send(&app, reqwest::Method::POST, "/api/v1/admin/risk/models/train", Some(json!({}))).await;
    assert_eq!((st, b["error"]["code"].as_str()), (409, Some("risk_not_enough_labels")), "{b}");
    let (st, b) = s
        .send(&app, reqwest::Method::POST, "/api/v1/admin/risk/models/train", Some(json!({"synthetic": {"seed": 1, "orders": 5000}})))
        .await;
    assert_eq!(st, 201, "{b}");
    assert_eq!((b["model"]["version"].as_i64(), b["model"]["active"].as_bool()), (Some(1), Some(false)), "{b}");
    assert!(b["model"]["metrics"]["held_out"]["recall"].as_f64().expect("recall") > 0.5, "{b}");
    let (st, b) = s.send(&app, reqwest::Method::POST, "/api/v1/admin/risk/models/1/activate", None).await;
    assert_eq!((st, b["model"]["active"].as_bool()), (200, Some(true)), "{b}");
    let (_, m) = s.send(&app, reqwest::Method::GET, "/api/v1/admin/risk/models", None).await;
    assert_eq!(m["active"], 1);
    // Rolled back to the baseline; an unknown version is refused.
    let (st, _) = s.send(&app, reqwest::Method::POST, "/api/v1/admin/risk/models/0/activate", None).await;
    assert_eq!(st, 200);
    let (_, m) = s.send(&app, reqwest::Method::GET, "/api/v1/admin/risk/models", None).await;
    assert_eq!(m["active"], 0);
    let (st, b) = s.send(&app, reqwest::Method::POST, "/api/v1/admin/risk/models/9/activate", None).await;
    assert_eq!((st, b["error"]["code"].as_str()), (404, Some("risk_unknown_model")), "{b}");
}
both!(the_review_task_escalates_stale_holds_and_models_roll_back, review_task_and_models);
