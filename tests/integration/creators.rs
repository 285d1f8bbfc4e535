//! The creator economy through the real server: an application approved, a link clicked, a
//! purchase attributed on the server with its reason, the commission held, approved, reversed by
//! a refund and held by a dispute; self-referral refused; unknown codes ignored.

use crate::both;
use crate::common::{deliver_event, json, TestApp};
use lsn_core::Clock;
use serde_json::{json, Value};

struct Session {
    c: reqwest::Client,
    csrf: String,
}

impl Session {
    async fn send(&self, app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.c.request(method, app.url(path)).header("x-csrf-token", &self.csrf);
        if let Some(b) = body {
            r = r.json(&b);
        }
        json(r.send().await.expect("send")).await
    }
}

/// A new sign-in of an existing account (the tests move the clock past a session's life).
async fn fresh(app: &TestApp, email: &str) -> Session {
    let (c, csrf) = app.login(email).await;
    Session { c, csrf }
}

async fn session(app: &TestApp, email: &str, role: lsn_identity::Role) -> Session {
    app.user(email, role).await;
    let (c, csrf) = app.login(email).await;
    Session { c, csrf }
}

/// A creator applied, approved by staff, with one link; returns the creator's session, their
/// id and the link's code.
async fn approved_creator(app: &TestApp, staff: &Session, email: &str, handle: &str) -> (Session, String, String) {
    let me = session(app, email, lsn_identity::Role::Customer).await;
    let (s, b) = me
        .send(
            app,
            reqwest::Method::POST,
            "/api/v1/creators/apply",
            Some(json!({"handle": handle, "display_name": "Ann Creator", "abn": "51 824 753 556"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let id = b["creator"]["id"].as_str().expect("id").to_string();
    // Not approved yet: the portal refuses (the role is still customer).
    let (s, _) = me.send(app, reqwest::Method::GET, "/api/v1/creators/me/links", None).await;
    assert_eq!(s, 403);
    let (s, b) = staff
        .send(
            app,
            reqwest::Method::POST,
            &format!("/api/v1/admin/creators/{id}/decision"),
            Some(json!({"action": "approve", "note": "good audience"})),
        )
        .await;
    assert_eq!((s, b["creator"]["status"].as_str()), (200, Some("approved")), "{b}");
    let (s, b) = me
        .send(app, reqwest::Method::POST, "/api/v1/creators/me/links", Some(json!({"target": "/products", "label": "Instagram bio"})))
        .await;
    assert_eq!(s, 201, "{b}");
    let code = b["link"]["code"].as_str().expect("code").to_string();
    (me, id, code)
}

/// A browser follows `/r/{code}`: where it is sent.
pub(crate) async fn click(app: &TestApp, c: &reqwest::Client, code: &str) -> String {
    let r = c
        .get(app.url(&format!("/r/{code}")))
        .header("user-agent", "Mozilla/5.0 test")
        .header("sec-fetch-dest", "document")
        .send()
        .await
        .expect("click");
    assert!(r.status().is_redirection(), "{}", r.status());
    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
}

/// Buys one `sku` with the browser `c` (signed in or a guest) and pays; returns the order id.
pub(crate) async fn buy(app: &TestApp, c: &reqwest::Client, csrf: Option<&str>, sku: &str, email: &str) -> String {
    buy_paid(app, c, csrf, sku, email).await.0
}

/// [`buy`], with the payment intent.
async fn buy_paid(app: &TestApp, c: &reqwest::Client, csrf: Option<&str>, sku: &str, email: &str) -> (String, String) {
    let with = |r: reqwest::RequestBuilder| match csrf {
        Some(t) => r.header("x-csrf-token", t),
        None => r,
    };
    let r = with(c.post(app.url("/api/v1/cart/items"))).json(&json!({"sku": sku, "quantity": 1})).send().await.expect("add");
    assert_eq!(r.status(), 200);
    let addr = json!({"name": "I", "line1": "1 Test St", "suburb": "Sydney", "state": "NSW", "postcode": "2000"});
    let (s, co) = json(
        with(c.post(app.url("/api/v1/checkout"))).json(&json!({"email": email, "shipping_address": addr})).send().await.expect("checkout"),
    )
    .await;
    assert_eq!(s, 201, "{co}");
    let id = co["order"]["id"].as_str().expect("id").to_string();
    let mut pay = with(c.post(app.url(&format!("/api/v1/orders/{id}/pay")))).json(&json!({"card_number": "4242 4242 4242 4242"}));
    if let Some(t) = co["order_token"].as_str() {
        pay = pay.header("x-order-token", t);
    }
    let (s, b) = json(pay.send().await.expect("pay")).await;
    assert_eq!(s, 200, "{b}");
    app.run_jobs().await;
    (id, co["payment"]["intent_id"].as_str().unwrap_or_default().to_string())
}

pub(crate) async fn product(app: &TestApp, sku: &str, price: i64) {
    let p = app.product(json!({"title": format!("Thing {sku}"), "status": "active", "variants": [{"sku": sku, "price": price}]})).await;
    app.stock(&p.variants[0].id, 50).await;
}

/// The creator's ledger through the portal API (signed in afresh: the tests move the clock past
/// a session's life).
async fn ledger(email: &str, app: &TestApp) -> Value {
    let (c, csrf) = app.login(email).await;
    let (s, b) = Session { c, csrf }.send(app, reqwest::Method::GET, "/api/v1/creators/me/ledger", None).await;
    assert_eq!(s, 200, "{b}");
    b
}

/// Link click → purchase → commission (pending) → hold period → approved; a refund of half
/// claws half back; the attribution says why it was given.
async fn attribution_flow(app: TestApp) {
    let staff = session(&app, "boss@example.com", lsn_identity::Role::Admin).await;
    const EMAIL: &str = "ann@example.com";
    let (me, creator_id, code) = approved_creator(&app, &staff, EMAIL, "ann").await;
    // $110.00 GST included: $100.00 before GST; bronze earns 5 %.
    product(&app, "CRT-1", 11_000).await;
    let shopper = app.client();
    assert_eq!(click(&app, &shopper, &code).await, "/products");
    let order = buy(&app, &shopper, None, "CRT-1", "shopper@example.com").await;
    let (s, a) = staff.send(&app, reqwest::Method::GET, &format!("/api/v1/admin/creators/attributions/{order}"), None).await;
    assert_eq!(s, 200, "{a}");
    let a = &a["attribution"];
    assert_eq!(
        (a["status"].as_str(), a["reason"].as_str(), a["creator_id"].as_str()),
        (Some("attributed"), Some("link_click"), Some(creator_id.as_str())),
        "{a}"
    );
    assert_eq!((a["base"].as_i64(), a["commission"].as_i64()), (Some(10_000), Some(500)), "{a}");
    assert_eq!(a["detail"]["matched_by"], "visitor");
    let b = ledger(EMAIL, &app).await;
    assert_eq!((b["balance"]["pending"].as_i64(), b["balance"]["available"].as_i64()), (Some(500), Some(0)), "{b}");
    // Attributing again (a redelivered event) changes nothing.
    app.rt.state.creators.attribute_order(&order).await.expect("again");
    assert_eq!(ledger(EMAIL, &app).await["balance"]["pending"].as_i64(), Some(500));

    // The holding period passes.
    app.clock.advance(chrono::Duration::days(31));
    assert_eq!(app.rt.state.creators.approve_due().await.expect("approve"), 1);
    let b = ledger(EMAIL, &app).await;
    assert_eq!((b["balance"]["pending"].as_i64(), b["balance"]["available"].as_i64()), (Some(0), Some(500)), "{b}");

    // A refund of half after the hold: half the commission is clawed back from the balance.
    let total = app.rt.state.commerce.order(&order, &lsn_commerce::orders::Viewer::Staff).await.expect("order").total;
    app.rt.state.commerce.refund("staff", &order, Some(total / 2), "customer asked", false).await.expect("refund");
    app.run_jobs().await;
    let b = ledger(EMAIL, &app).await;
    assert_eq!((b["balance"]["available"].as_i64(), b["balance"]["reversed"].as_i64()), (Some(250), Some(250)), "{b}");
    assert!(b["entries"].as_array().expect("entries").iter().any(|e| e["kind"] == "clawback" && e["amount"] == -250), "{b}");
    // The rest, refunded while the first refund's event is redelivered: the whole reversed, once.
    app.rt.state.commerce.refund("staff", &order, None, "rest", false).await.expect("refund");
    app.run_jobs().await;
    app.rt.state.creators.order_refunded(&order).await.expect("again");
    let b = ledger(EMAIL, &app).await;
    assert_eq!((b["balance"]["available"].as_i64(), b["balance"]["reversed"].as_i64()), (Some(0), Some(500)), "{b}");

    // The stats count the click and the order.
    let (c, csrf) = app.login(EMAIL).await;
    let _ = me;
    let (s, st) = Session { c, csrf }.send(&app, reqwest::Method::GET, "/api/v1/creators/me/stats?days=60", None).await;
    assert_eq!(
        (s, st["clicks"].as_i64(), st["orders"].as_i64(), st["conversion_bps"].as_i64()),
        (200, Some(1), Some(1), Some(10_000)),
        "{st}"
    );
}
both!(a_link_click_purchase_earns_a_held_commission_that_refunds_reverse, attribution_flow);

/// A dispute during the hold keeps the commission from being approved; lost, it is reversed. A
/// dispute after approval takes it out of the balance; won, it comes back.
async fn disputes(app: TestApp) {
    let staff = session(&app, "boss@example.com", lsn_identity::Role::Admin).await;
    const EMAIL: &str = "ben@example.com";
    let (_me, _, code) = approved_creator(&app, &staff, EMAIL, "ben").await;
    product(&app, "CRT-2", 22_000).await;
    let shopper = app.client();
    click(&app, &shopper, &code).await;
    let first = buy_paid(&app, &shopper, None, "CRT-2", "s1@example.com").await.1;
    let dispute = |intent: &str, id: &str, status: Option<&str>, n: u32| {
        let (kind, status) = match status {
            Some(s) => ("charge.dispute.closed", s.to_string()),
            None => ("charge.dispute.created", "needs_response".to_string()),
        };
        json!({"id": format!("evt_{id}_{n}"), "object": "event", "type": kind, "created": 300 + n,
            "data": {"object": {"id": id, "object": "dispute", "payment_intent": intent, "amount": 22_000, "reason": "fraudulent", "status": status}}})
    };
    let send = |ev: Value| {
        let app = &app;
        async move {
            let (s, b) = deliver_event(app, lsn_commerce::DEV_WEBHOOK_SECRET, &ev).await;
            assert_eq!(s, 200, "{b}");
            app.run_jobs().await;
        }
    };
    send(dispute(&first, "dp_a", None, 1)).await;
    app.clock.advance(chrono::Duration::days(31));
    app.rt.state.creators.approve_due().await.expect("approve");
    let b = ledger(EMAIL, &app).await;
    assert_eq!((b["balance"]["pending"].as_i64(), b["balance"]["available"].as_i64()), (Some(1000), Some(0)), "held, not approved: {b}");
    send(dispute(&first, "dp_a", Some("lost"), 2)).await;
    app.rt.state.creators.approve_due().await.expect("approve");
    let b = ledger(EMAIL, &app).await;
    assert_eq!(
        (b["balance"]["pending"].as_i64(), b["balance"]["available"].as_i64(), b["balance"]["reversed"].as_i64()),
        (Some(0), Some(0), Some(1000)),
        "{b}"
    );

    // Approved first, then disputed and won.
    let other = app.client();
    click(&app, &other, &code).await;
    let second = buy_paid(&app, &other, None, "CRT-2", "s2@example.com").await.1;
    app.clock.advance(chrono::Duration::days(31));
    app.rt.state.creators.approve_due().await.expect("approve");
    assert_eq!(ledger(EMAIL, &app).await["balance"]["available"].as_i64(), Some(1000));
    send(dispute(&second, "dp_b", None, 3)).await;
    // The same event again changes nothing.
    send(dispute(&second, "dp_b", None, 3)).await;
    let b = ledger(EMAIL, &app).await;
    assert_eq!((b["balance"]["available"].as_i64(), b["balance"]["held"].as_i64()), (Some(0), Some(1000)), "{b}");
    send(dispute(&second, "dp_b", Some("won"), 4)).await;
    let b = ledger(EMAIL, &app).await;
    assert_eq!((b["balance"]["available"].as_i64(), b["balance"]["held"].as_i64()), (Some(1000), Some(0)), "{b}");
}
both!(disputes_hold_commissions_and_a_lost_one_reverses_them, disputes);

/// A creator buying through their own link is refused and flagged; so is a second new account
/// from the same browser; an unknown code just takes the shopper to the shop.
async fn abuse(app: TestApp) {
    let staff = session(&app, "boss@example.com", lsn_identity::Role::Admin).await;
    let (me, _, code) = approved_creator(&app, &staff, "cat@example.com", "cat").await;
    product(&app, "CRT-3", 5_500).await;
    // Their own click, signed in: recorded as refused.
    click(&app, &me.c, &code).await;
    let own = buy(&app, &me.c, Some(&me.csrf), "CRT-3", "cat@example.com").await;
    assert!(app.rt.state.creators.attribution(&own).await.expect("attribution").is_none(), "a refused click attributes nothing");
    // A guest checkout with the creator's e-mail from a fresh browser that clicked: self-referral.
    let b2 = app.client();
    click(&app, &b2, &code).await;
    let sneaky = buy(&app, &b2, None, "CRT-3", "Cat@Example.com").await;
    let a = app.rt.state.creators.attribution(&sneaky).await.expect("attribution").expect("recorded");
    assert_eq!((a.status, a.reason, a.commission), ("refused", "self_referral", 0));
    // One browser, two new customers: the second is refused as repeated sign-ups.
    let b3 = app.client();
    click(&app, &b3, &code).await;
    let one = buy(&app, &b3, None, "CRT-3", "new1@example.com").await;
    let two = buy(&app, &b3, None, "CRT-3", "new2@example.com").await;
    let a1 = app.rt.state.creators.attribution(&one).await.expect("a").expect("one");
    let a2 = app.rt.state.creators.attribution(&two).await.expect("a").expect("two");
    assert_eq!((a1.status, a2.status, a2.reason), ("attributed", "refused", "repeated_signups"), "{a2:?}");
    let (s, f) = staff.send(&app, reqwest::Method::GET, "/api/v1/admin/creators/flags", None).await;
    let kinds: Vec<&str> = f["flags"].as_array().expect("flags").iter().filter_map(|x| x["kind"].as_str()).collect();
    assert_eq!(s, 200);
    assert!(kinds.contains(&"self_referral") && kinds.contains(&"repeated_signups"), "{kinds:?}");
    // An embedded fetch (an image tag stuffing the cookie) is recorded but refused.
    let b4 = app.client();
    let r = b4
        .get(app.url(&format!("/r/{code}")))
        .header("user-agent", "Mozilla/5.0")
        .header("sec-fetch-dest", "image")
        .send()
        .await
        .expect("img");
    assert!(r.status().is_redirection());
    let stuffed = buy(&app, &b4, None, "CRT-3", "img@example.com").await;
    assert!(app.rt.state.creators.attribution(&stuffed).await.expect("a").is_none());
    // Unknown and bad codes: the shopper goes to the shop, nothing recorded.
    let before: i64 = lsn_db::RowExt::try_get(
        &lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM creator_clicks").fetch_one(app.rt.state.db.read()).await.expect("n"),
        0,
    )
    .expect("n");
    for bad in ["nope", "x%27%20OR%201=1", &"a".repeat(300)] {
        assert_eq!(click(&app, &app.client(), bad).await, "/");
    }
    let after: i64 = lsn_db::RowExt::try_get(
        &lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM creator_clicks").fetch_one(app.rt.state.db.read()).await.expect("n"),
        0,
    )
    .expect("n");
    assert_eq!(before, after);
    // Rates outside 0–80 % are refused with the field named.
    let (s, b) = staff.send(&app, reqwest::Method::PUT, "/api/v1/admin/creators/tiers/gold", Some(json!({"rate_bps": 8001}))).await;
    assert_eq!((s, b["error"]["fields"]["rate_bps"].is_string()), (422, true), "{b}");
    let (s, _) = staff.send(&app, reqwest::Method::PUT, "/api/v1/admin/creators/settings", Some(json!({"hold_days": 91}))).await;
    assert_eq!(s, 422);
    let (s, b) = staff.send(&app, reqwest::Method::GET, "/api/v1/admin/creators/settings", None).await;
    assert_eq!((s, b["settings"]["hold_days"].as_i64()), (200, Some(30)), "nothing half-written: {b}");
    let _ = app.clock.now_ms();
}
both!(self_referral_stuffing_and_repeated_signups_are_refused, abuse);

/// A Wise `transfers#state-change` delivery for `transfer`, signed with the sandbox's key
/// (`bad` signs another body).
fn wise_delivery(transfer: &str, state: &str, bad: bool) -> (String, String) {
    let body = format!(
        r#"{{"data":{{"resource":{{"id":{transfer},"profile_id":1,"account_id":1,"type":"transfer"}},"current_state":"{state}","previous_state":"funds_converted","occurred_at":"2026-12-01T02:00:05Z"}},"subscription_id":"00000000-0000-0000-0000-000000000000","event_type":"transfers#state-change","schema_version":"2.0.0","sent_at":"2026-12-01T02:00:05Z"}}"#
    );
    let sig = lsn_payouts::signature::sandbox_sign(if bad { b"{}" } else { body.as_bytes() });
    (body, sig)
}

async fn count(app: &TestApp, sql: &str, arg: &str) -> i64 {
    let r = lsn_db::query(sql).bind(arg).fetch_one(app.rt.state.db.read()).await.expect("count");
    lsn_db::RowExt::try_get(&r, 0).expect("n")
}

/// The runbook's "Creator Attribution" flow end to end: link click → purchase → commission →
/// hold → payout (by policy) → Wise webhook → paid; the same webhook again pays nothing twice;
/// a bronze creator's payout waits for a person; bad bank details, bad signatures, unknown
/// transfers and payouts below the minimum are refused with nothing paid.
async fn payout_flow(app: TestApp) {
    const EMAIL: &str = "dee@example.com";
    let staff = session(&app, "boss@example.com", lsn_identity::Role::Admin).await;
    let (me, creator_id, code) = approved_creator(&app, &staff, EMAIL, "dee").await;
    let (s, b) = staff
        .send(&app, reqwest::Method::PATCH, &format!("/api/v1/admin/creators/{creator_id}/terms"), Some(json!({"tier": "silver"})))
        .await;
    assert_eq!((s, b["creator"]["tier"].as_str()), (200, Some("silver")), "{b}");
    // Bank details that fail validation are refused; good ones are stored sealed and shown masked.
    let (s, b) = me
        .send(
            &app,
            reqwest::Method::PUT,
            "/api/v1/creators/me/bank-account",
            Some(json!({"holder_name": "Dee Creator", "account": {"type": "australian", "bsb": "12-345", "account_number": "12345678"}})),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    let (s, b) = me
        .send(
            &app,
            reqwest::Method::PUT,
            "/api/v1/creators/me/bank-account",
            Some(json!({"holder_name": "Dee Creator", "account": {"type": "australian", "bsb": "062-000", "account_number": "12345678"}})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let masked = b["bank_account"]["masked"].as_str().expect("masked").to_string();
    assert!(!masked.contains("12345678"), "{masked}");
    let sealed: String = lsn_db::RowExt::try_get(
        &lsn_db::query("SELECT details FROM creator_bank_accounts").fetch_one(app.rt.state.db.read()).await.expect("row"),
        0,
    )
    .expect("details");
    assert!(!sealed.contains("12345678") && !sealed.contains("062000"), "sealed at rest");

    // $1,100 GST included: $1,000 before GST at silver's 8 % is $80 of commission.
    product(&app, "CRT-P", 110_000).await;
    let shopper = app.client();
    click(&app, &shopper, &code).await;
    buy(&app, &shopper, None, "CRT-P", "payer@example.com").await;
    // Before the hold is over nothing is paid.
    let run = app.rt.state.creators.run_payouts().await.expect("run");
    assert_eq!(run.created, 0);
    app.clock.advance(chrono::Duration::days(31));
    let run = app.rt.state.creators.run_payouts().await.expect("run");
    assert_eq!((run.created, run.awaiting_approval, run.submitted), (1, 0, 1), "{run:?}");
    // A second run the same day (a retried job) pays nothing more.
    let again = app.rt.state.creators.run_payouts().await.expect("run");
    assert_eq!((again.created, again.submitted), (0, 0));
    let p = &app.rt.state.creators.payouts(Some(&creator_id), None, 10).await.expect("payouts")[0];
    assert_eq!((p.amount, p.status.as_str(), p.provider.as_str()), (8000, "submitted", "sandbox"));
    // The sandbox moves the transfer on; its webhooks mark the payout paid.
    for _ in 0..4 {
        app.clock.advance(chrono::Duration::seconds(6));
        app.rt.state.creators.sandbox_tick().await.expect("tick");
    }
    let p = app.rt.state.creators.payout(&p.id).await.expect("payout");
    assert_eq!(p.status, "paid", "{p:?}");
    let transfer = p.provider_ref.clone().expect("ref");
    // The same webhook again (and over HTTP) changes nothing; a bad signature is refused.
    let post = |body: String, sig: String| {
        let url = app.url("/api/webhooks/wise");
        async move {
            json(
                reqwest::Client::new()
                    .post(url)
                    .header("x-signature-sha256", sig)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("send"),
            )
            .await
        }
    };
    for _ in 0..2 {
        let (body, sig) = wise_delivery(&transfer, "outgoing_payment_sent", false);
        let (s, b) = post(body, sig).await;
        assert_eq!(s, 200, "{b}");
    }
    let (body, sig) = wise_delivery(&transfer, "bounced_back", true);
    let (s, b) = post(body, sig).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("bad_signature")), "{b}");
    let (body, sig) = wise_delivery("99999999", "outgoing_payment_sent", false);
    let (s, b) = post(body, sig).await;
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("unknown_transfer")), "{b}");
    assert_eq!(app.rt.state.creators.payout(&p.id).await.expect("payout").status, "paid");
    assert_eq!(
        count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM creator_ledger WHERE creator_id = $1 AND kind = 'payout'", &creator_id).await,
        1
    );
    assert_eq!(
        count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM creator_ledger WHERE creator_id = $1 AND kind = 'payout_return'", &creator_id)
            .await,
        0
    );
    let sb = app.rt.state.creators.providers.sandbox.clone().expect("sandbox");
    assert_eq!(sb.transfers_for(&p.id).await.expect("count"), 1, "paid exactly once");
    let b = ledger(EMAIL, &app).await;
    assert_eq!((b["balance"]["available"].as_i64(), b["balance"]["paid"].as_i64()), (Some(0), Some(8000)), "{b}");
    // The portal shows the payout.
    let (c, csrf) = app.login(EMAIL).await;
    let (s, b) = Session { c, csrf }.send(&app, reqwest::Method::GET, "/api/v1/creators/me/payouts", None).await;
    assert_eq!((s, b["payouts"][0]["status"].as_str()), (200, Some("paid")), "{b}");

    // The runbook's processPayout, with its literal input, for a bronze creator with a USD
    // account: the policy sends it to a person (bronze is below silver); approved, it is paid.
    const EVE: &str = "eve@example.com";
    let staff = fresh(&app, "boss@example.com").await;
    let (eve, eve_id, eve_code) = approved_creator(&app, &staff, EVE, "eve").await;
    let (s, b) = eve.send(&app, reqwest::Method::PUT, "/api/v1/creators/me/bank-account", Some(json!({"holder_name": "Eve", "account": {"type": "aba", "routing_number": "026009593", "account_number": "12345678", "account_type": "checking"}}))).await;
    assert_eq!(s, 200, "{b}");
    let b2 = app.client();
    click(&app, &b2, &eve_code).await;
    for i in 0..2 {
        buy(&app, &b2, None, "CRT-P", &format!("eve-buyer{i}@example.com")).await;
    }
    // The second order came from the same browser as the first: refused as repeated sign-ups.
    app.clock.advance(chrono::Duration::days(31));
    let (staff, eve) = (fresh(&app, "boss@example.com").await, fresh(&app, EVE).await);
    let (s, b) = staff
        .send(
            &app,
            reqwest::Method::POST,
            "/api/trpc/creators.processPayout",
            Some(json!({"creatorId": eve_id, "amount": 100, "currency": "USD"})),
        )
        .await;
    assert_eq!((s, b["error"]["data"]["lsnCode"].as_str()), (409, Some("insufficient_balance")), "only $50 is approved: {b}");
    let (s, b) = staff
        .send(
            &app,
            reqwest::Method::POST,
            "/api/trpc/creators.processPayout",
            Some(json!({"creatorId": eve_id, "amount": 10, "currency": "USD"})),
        )
        .await;
    assert_eq!((s, b["error"]["data"]["lsnCode"].as_str()), (422, Some("payout_below_minimum")), "{b}");
    let (s, b) = staff
        .send(
            &app,
            reqwest::Method::POST,
            "/api/trpc/creators.processPayout",
            Some(json!({"creatorId": eve_id, "amount": 50, "currency": "USD"})),
        )
        .await;
    assert_eq!((s, b["result"]["data"]["status"].as_str()), (200, Some("awaiting_approval")), "{b}");
    let pid = b["result"]["data"]["id"].as_str().expect("id").to_string();
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM alerts WHERE alert_type = $1", "payout_approval_needed").await, 1);
    let (s, b) = staff.send(&app, reqwest::Method::GET, "/api/v1/admin/creators/payouts?status=awaiting_approval", None).await;
    assert_eq!((s, b["payouts"].as_array().map(Vec::len)), (200, Some(1)), "{b}");
    let (s, b) = staff.send(&app, reqwest::Method::POST, &format!("/api/v1/admin/creators/payouts/{pid}/approve"), Some(json!({}))).await;
    assert_eq!((s, b["payout"]["status"].as_str(), b["payout"]["target_currency"].as_str()), (200, Some("submitted"), Some("USD")), "{b}");
    let (s, _) = staff.send(&app, reqwest::Method::POST, &format!("/api/v1/admin/creators/payouts/{pid}/approve"), Some(json!({}))).await;
    assert_eq!(s, 409, "approved once");
    // The creator cannot see staff's lists, nor approve.
    let (s, _) = eve.send(&app, reqwest::Method::GET, "/api/v1/admin/creators/payouts", None).await;
    assert_eq!(s, 403);
}
both!(the_creator_attribution_flow_ends_in_one_paid_payout, payout_flow);

/// `?ref={code}` on any page records the click (and gives the browser its visitor cookie); the
/// purchase that follows is attributed; the monthly tier review proposes a promotion an admin
/// confirms.
async fn ref_and_tiers(app: TestApp) {
    let staff = session(&app, "boss@example.com", lsn_identity::Role::Admin).await;
    let (_me, creator_id, code) = approved_creator(&app, &staff, "fay@example.com", "fay").await;
    // Silver asks for $1,000 of sales in 90 days: one $1,100 sale ($1,000 before GST) is enough.
    product(&app, "CRT-R", 110_000).await;
    let shopper = app.client();
    let r = shopper.get(app.url(&format!("/?ref={code}"))).header("user-agent", "Mozilla/5.0").send().await.expect("page");
    assert_eq!(r.status(), 200);
    assert!(
        r.headers().get_all("set-cookie").iter().any(|v| v.to_str().unwrap_or("").starts_with("lsn_vid=")),
        "the visitor cookie is set"
    );
    let order = buy(&app, &shopper, None, "CRT-R", "ref@example.com").await;
    let a = app.rt.state.creators.attribution(&order).await.expect("a").expect("attributed");
    assert_eq!((a.status, a.reason), ("attributed", "link_click"));
    assert_eq!(app.rt.state.creators.review_tiers().await.expect("review"), 1);
    assert_eq!(app.rt.state.creators.review_tiers().await.expect("again"), 0, "once a month");
    let (s, b) = staff.send(&app, reqwest::Method::GET, "/api/v1/admin/creators/tier-proposals?status=proposed", None).await;
    assert_eq!((s, b["proposals"][0]["to_tier"].as_str()), (200, Some("silver")), "{b}");
    let id = b["proposals"][0]["id"].as_str().expect("id").to_string();
    let (s, b) = staff
        .send(&app, reqwest::Method::POST, &format!("/api/v1/admin/creators/tier-proposals/{id}"), Some(json!({"confirm": true})))
        .await;
    assert_eq!((s, b["creator"]["tier"].as_str()), (200, Some("silver")), "{b}");
    let (s, _) = staff
        .send(&app, reqwest::Method::POST, &format!("/api/v1/admin/creators/tier-proposals/{id}"), Some(json!({"confirm": false})))
        .await;
    assert_eq!(s, 409);
    assert_eq!(app.rt.state.creators.get(&creator_id).await.expect("creator").tier, "silver");
    assert_eq!(count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE kind = $1", "creator_tiers").await, 1);
}
both!(ref_on_any_page_attributes_and_the_tier_review_proposes, ref_and_tiers);

/// Payouts racing each other on one creator: eight runs at once pay the balance once; approving
/// and rejecting one payout at once, exactly one of them wins and the ledger still sums.
async fn payout_races(app: TestApp) {
    const EMAIL: &str = "gus@example.com";
    let staff = session(&app, "boss@example.com", lsn_identity::Role::Admin).await;
    let (me, id, _) = approved_creator(&app, &staff, EMAIL, "gus").await;
    let (s, b) = me
        .send(
            &app,
            reqwest::Method::PUT,
            "/api/v1/creators/me/bank-account",
            Some(json!({"holder_name": "Gus", "account": {"type": "australian", "bsb": "062-000", "account_number": "12345678"}})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let credit = |amount: i64, source: &'static str| {
        let (db, id) = (app.rt.state.db.clone(), id.clone());
        async move {
            lsn_db::query("INSERT INTO creator_ledger (id, creator_id, kind, source_kind, source_id, ref, amount, currency, status, available_at, note, created_at) VALUES ($1, $2, 'commission', 'order', $3, '', $4, 'AUD', 'approved', 0, 'test', 0)")
                .bind(lsn_core::ids::new_id())
                .bind(&id)
                .bind(source)
                .bind(amount)
                .execute(db.write())
                .await
                .expect("credit");
        }
    };
    credit(30_000, "order-a").await;
    let c = app.rt.state.creators.clone();
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let (c, id) = (c.clone(), id.clone());
            tokio::spawn(async move { c.request_payout(&id, None, None, "race").await })
        })
        .collect();
    let mut made = 0;
    for r in runs {
        if r.await.expect("join").expect("payout").is_some() {
            made += 1;
        }
    }
    assert_eq!(made, 1, "one balance, one payout");
    let bal = c.balance(&id).await.expect("balance");
    assert_eq!(bal.available, 0, "{bal:?}");
    // Bronze is below silver: a second balance waits for a person; approve and reject race.
    credit(6_000, "order-b").await;
    let p = c.request_payout(&id, None, None, "race").await.expect("payout").expect("made");
    assert_eq!(p.status, "awaiting_approval");
    let (a, r) = tokio::join!(c.approve_payout(&p.id, "staff-1"), c.reject_payout(&p.id, "staff-2", "no"));
    assert!(a.is_ok() != r.is_ok(), "exactly one decision wins: {a:?} {r:?}");
    let p = c.payout(&p.id).await.expect("payout");
    let bal = c.balance(&id).await.expect("balance");
    let entries = |kind: &'static str| {
        let (db, id) = (app.rt.state.db.clone(), id.clone());
        async move {
            let r = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM creator_ledger WHERE creator_id = $1 AND kind = $2")
                .bind(&id)
                .bind(kind)
                .fetch_one(db.read())
                .await
                .expect("n");
            lsn_db::RowExt::try_get::<i64, _>(&r, 0).expect("n")
        }
    };
    if p.status == "rejected" {
        assert_eq!((bal.available, entries("payout_return").await), (6_000, 1), "the rejected amount back once: {bal:?}");
    } else {
        assert_eq!((bal.available, entries("payout_return").await), (0, 0), "{bal:?}");
    }
    assert_eq!(entries("payout").await, 2);
}
both!(payouts_racing_on_one_creator_pay_once, payout_races);

/// An approved silver creator with a bank account (their payouts need no person): their id and
/// link code.
async fn payable_creator(app: &TestApp, staff: &Session, email: &str, handle: &str) -> (String, String) {
    let (me, creator_id, code) = approved_creator(app, staff, email, handle).await;
    let (s, _) = staff
        .send(app, reqwest::Method::PATCH, &format!("/api/v1/admin/creators/{creator_id}/terms"), Some(json!({"tier": "silver"})))
        .await;
    assert_eq!(s, 200);
    let (s, b) = me
        .send(
            app,
            reqwest::Method::PUT,
            "/api/v1/creators/me/bank-account",
            Some(json!({"holder_name": handle, "account": {"type": "australian", "bsb": "062-000", "account_number": "12345678"}})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    (creator_id, code)
}

/// `lsn serve`'s own scheduler and workers run the programme (nobody queues a job): the hourly
/// commission approval after the hold, the 2 AM payout run, the payout sandbox's webhooks, the
/// hourly reconciliation and the monthly tier review, with `ENABLE_AUTONOMOUS=true`.
async fn scheduled(backend: crate::common::Backend) {
    use crate::wiring::eventually;
    use chrono::Datelike;
    let Some(app) = TestApp::spawn_with(backend, &[("ENABLE_AUTONOMOUS", "true")], true).await else { return };
    const EMAIL: &str = "sol@example.com";
    let staff = session(&app, "boss@example.com", lsn_identity::Role::Admin).await;
    let (creator_id, code) = payable_creator(&app, &staff, EMAIL, "sol").await;
    product(&app, "CRT-S", 110_000).await;
    let shopper = app.client();
    click(&app, &shopper, &code).await;
    buy(&app, &shopper, None, "CRT-S", "sched@example.com").await;
    let c = app.rt.state.creators.clone();
    let balance = || {
        let (c, id) = (c.clone(), creator_id.clone());
        async move { c.balance(&id).await.expect("balance") }
    };
    eventually(&app, chrono::Duration::seconds(1), "the commission is pending", || async { balance().await.pending == 8_000 }).await;
    app.clock.advance(chrono::Duration::days(31));
    eventually(&app, chrono::Duration::minutes(5), "commission_approval approves it", || async {
        let b = balance().await;
        b.available == 8_000 || b.paid == 8_000
    })
    .await;
    eventually(&app, chrono::Duration::minutes(30), "payout_processing pays it and the sandbox's webhooks say paid", || async {
        c.payouts(Some(&creator_id), None, 10).await.expect("payouts").first().is_some_and(|p| p.status == "paid")
    })
    .await;
    assert_eq!((balance().await.paid, balance().await.available), (8_000, 0));
    let ran = |schedule: &'static str| {
        let db = app.rt.state.db.clone();
        async move {
            let r = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM job_runs WHERE schedule = $1 AND outcome = 'succeeded'")
                .bind(schedule)
                .fetch_one(db.read())
                .await
                .expect("runs");
            lsn_db::RowExt::try_get::<i64, _>(&r, 0).expect("n") > 0
        }
    };
    for s in ["commission_approval", "payout_processing", "payout_sandbox"] {
        assert!(ran(s).await, "{s} ran on its schedule");
    }
    eventually(&app, chrono::Duration::minutes(5), "payout_reconcile runs at :40", || ran("payout_reconcile")).await;
    // Just before 3 AM on the 1st of next month, in the shop's time zone.
    let tz = app.rt.state.cfg.timezone;
    let local = app.clock.now().with_timezone(&tz).date_naive();
    let first = chrono::NaiveDate::from_ymd_opt(local.year() + i32::from(local.month() == 12), local.month() % 12 + 1, 1).expect("date");
    let at = first.and_hms_opt(2, 58, 0).expect("time").and_local_timezone(tz).earliest().expect("local").with_timezone(&chrono::Utc);
    app.clock.set(at);
    eventually(&app, chrono::Duration::minutes(1), "creator_tier_review runs on the 1st at 3 AM", || ran("creator_tier_review")).await;
}
crate::both_backends!(the_running_server_approves_pays_and_reviews_creators_on_schedule, scheduled);

/// A refund racing the hold's end, the approval and the payout run: whichever order they land
/// in, the commission is reversed exactly once, nothing is paid twice and the ledger sums.
async fn refund_races(app: TestApp) {
    const EMAIL: &str = "rae@example.com";
    let staff = session(&app, "boss@example.com", lsn_identity::Role::Admin).await;
    let (creator_id, code) = payable_creator(&app, &staff, EMAIL, "rae").await;
    let c = app.rt.state.creators.clone();
    for (round, sku) in ["CRT-R1", "CRT-R2", "CRT-R3"].into_iter().enumerate() {
        // $1,100 at silver's 8 %: $80 of commission each round.
        product(&app, sku, 110_000).await;
        let shopper = app.client();
        click(&app, &shopper, &code).await;
        let order = buy(&app, &shopper, None, sku, &format!("race{round}@example.com")).await;
        app.clock.advance(chrono::Duration::days(31));
        app.rt.state.commerce.refund("staff", &order, None, "race", false).await.expect("refund");
        // The refund's provider call and event, the hourly approval and the 2 AM run at once.
        let (jobs, approved, run) = tokio::join!(app.run_jobs(), c.approve_due(), c.run_payouts());
        approved.expect("approve");
        run.expect("run");
        drop(jobs);
        app.run_jobs().await;
        c.approve_due().await.expect("approve");
        for _ in 0..4 {
            app.clock.advance(chrono::Duration::seconds(6));
            c.sandbox_tick().await.expect("tick");
        }
        app.run_jobs().await;
        let b = c.balance(&creator_id).await.expect("balance");
        let n = i64::try_from(round + 1).expect("round");
        assert_eq!((b.earned, b.reversed), (8_000 * n, 8_000 * n), "each commission reversed exactly once: {b:?}");
        assert_eq!(b.pending + b.available + b.held + b.paid, b.earned - b.reversed, "the ledger sums: {b:?}");
        let payouts = c.payouts(Some(&creator_id), None, 50).await.expect("payouts");
        let paid: i64 = payouts.iter().filter(|p| p.status == "paid").map(|p| p.amount).sum();
        assert_eq!(paid, b.paid, "{payouts:?}");
        // Paid before the refund landed: the clawback leaves the creator owing it, not paid twice.
        assert!(b.paid == 0 || b.available == -b.paid, "{b:?}");
    }
}
both!(a_refund_racing_approval_and_the_payout_run_reverses_once, refund_races);
