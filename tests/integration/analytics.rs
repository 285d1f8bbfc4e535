//! The analytics aggregation (issue 15, item 1): the `analytics_aggregation` task, every 15
//! minutes whatever `ENABLE_AUTONOMOUS` says, writes each domain's figures into 15-minute buckets;
//! running it again writes the same numbers; the dashboard's chart and the staff API read them;
//! bad requests get a clear 400, customers a 403.

use crate::both;
use crate::common::{json, TestApp};
use lsn_core::Clock;
use lsn_identity::Role;
use serde_json::json;

async fn buy(app: &TestApp, sku: &str) {
    let c = app.client();
    assert_eq!(c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": sku, "quantity": 1})).send().await.expect("add").status(), 200);
    let addr = json!({"name": "A", "line1": "1 Test St", "suburb": "Sydney", "state": "NSW", "postcode": "2000"});
    let email = format!("{}@example.com", lsn_core::ids::random_token(6).to_lowercase());
    let (s, co) =
        json(c.post(app.url("/api/v1/checkout")).json(&json!({"email": email, "shipping_address": addr})).send().await.expect("checkout"))
            .await;
    assert_eq!(s, 201, "{co}");
    let id = co["order"]["id"].as_str().expect("id");
    let r = c
        .post(app.url(&format!("/api/v1/orders/{id}/pay")))
        .header("x-order-token", co["order_token"].as_str().expect("token"))
        .json(&json!({"payment_method": "pm_card_visa"}))
        .send()
        .await
        .expect("pay");
    let (s, b) = json(r).await;
    assert!(s == 200 || s == 202, "{b}");
    app.run_jobs().await;
}

async fn buckets(app: &TestApp, metric: &str) -> Vec<(i64, i64)> {
    lsn_ops::analytics::series(&app.rt.state.db, metric, 0, i64::MAX).await.expect("series")
}

async fn aggregation(app: TestApp) {
    let p = app.product(json!({"title": "Counted Mug", "status": "active", "variants": [{"sku": "COUNT", "price": 2500}]})).await;
    app.stock(&p.variants[0].id, 100).await;
    // Two orders yesterday, one today.
    app.clock.advance(chrono::Duration::days(-1));
    buy(&app, "COUNT").await;
    buy(&app, "COUNT").await;
    app.clock.advance(chrono::Duration::days(1));
    buy(&app, "COUNT").await;

    // The task is registered, a safety job (not autonomous), every 15 minutes.
    let tasks = lsn_ops::schedule::list(&app.rt.state.db).await.expect("schedules");
    let task = tasks.iter().find(|t| t.name == "analytics_aggregation").expect("registered");
    assert_eq!((task.cron.as_str(), task.autonomous), ("0 */15 * * * *", false));
    let scheduler = lsn_ops::schedule::Scheduler::new(app.rt.state.db.clone(), app.rt.state.cfg.timezone, "test-node", false);
    scheduler.run_now("analytics_aggregation", app.clock.now()).await.expect("run now");
    let ran = app.run_jobs().await;
    assert!(ran.iter().any(|r| r.kind == "ops.analytics_aggregation" && r.error.is_none()), "{ran:?}");
    let orders = buckets(&app, "orders_paid").await;
    assert_eq!(orders.iter().map(|(_, v)| v).sum::<i64>(), 3, "{orders:?}");
    assert_eq!(buckets(&app, "revenue_cents").await.iter().map(|(_, v)| v).sum::<i64>(), 3 * 2500 + 3 * shipping(&app).await);
    assert!(orders.len() > 96, "every bucket back to the first order's day is written, zeros included");
    assert!(orders.windows(2).all(|w| w[1].0 - w[0].0 == lsn_ops::analytics::BUCKET_MS), "no gaps");
    let low: Vec<(i64, i64)> = buckets(&app, "low_stock_variants").await;
    assert_eq!(low.len(), 1, "a level is measured for the current bucket only");

    // Again, later: the same numbers (an upsert), and nothing counted twice.
    app.clock.advance(chrono::Duration::minutes(20));
    scheduler.run_now("analytics_aggregation", app.clock.now()).await.expect("run now");
    app.run_jobs().await;
    assert_eq!(buckets(&app, "orders_paid").await.iter().map(|(_, v)| v).sum::<i64>(), 3);
    let out = lsn_ops::schedule::history(&app.rt.state.db, "analytics_aggregation", 5).await.expect("history");
    assert!(out.iter().all(|r| r.output.as_deref().is_some_and(|o| o.contains("buckets"))), "each run reports what it wrote");

    // The staff API: the metrics, one metric by day; bad requests; customers refused.
    app.user("ops@example.com", Role::Admin).await;
    app.user("shopper@example.com", Role::Customer).await;
    let (c, _) = app.login("ops@example.com").await;
    let (s, b) = json(c.get(app.url("/api/v1/admin/analytics")).send().await.expect("list")).await;
    assert_eq!(s, 200, "{b}");
    let names: Vec<&str> = b["metrics"].as_array().expect("metrics").iter().filter_map(|m| m["name"].as_str()).collect();
    for m in ["orders_paid", "revenue_cents", "refunded_cents", "shows_started", "chat_messages", "low_stock_variants"] {
        assert!(names.contains(&m), "{m} in {names:?}");
    }
    let (s, b) = json(c.get(app.url("/api/v1/admin/analytics?metric=orders_paid&days=7")).send().await.expect("one")).await;
    assert_eq!(s, 200, "{b}");
    let days: Vec<i64> = b["days"].as_array().expect("days").iter().map(|d| d["value"].as_i64().unwrap_or(-1)).collect();
    assert_eq!(days.len(), 7);
    assert_eq!(days.iter().sum::<i64>(), 3, "{b}");
    for bad in ["metric=nope", "metric=orders_paid&days=0", "metric=orders_paid&days=91", "metric=orders_paid&days=x"] {
        let (s, b) = json(c.get(app.url(&format!("/api/v1/admin/analytics?{bad}"))).send().await.expect("bad")).await;
        assert_eq!(s, 400, "{bad}: {b}");
    }
    let (shopper, _) = app.login("shopper@example.com").await;
    assert_eq!(shopper.get(app.url("/api/v1/admin/analytics")).send().await.expect("x").status(), 403);
    assert_eq!(app.client().get(app.url("/api/v1/admin/analytics")).send().await.expect("x").status(), 401);
    // The dashboard says when its charts' figures were aggregated.
    let page = c.get(app.url("/admin")).send().await.expect("dashboard").text().await.expect("text");
    assert!(page.contains("data-figures") && page.contains("aggregated at"), "dashboard shows the figures' time");
}
both!(analytics_aggregation, aggregation);

/// The shipping charged on one order of the test's (whatever the shop's rates are).
async fn shipping(app: &TestApp) -> i64 {
    let r = lsn_db::query("SELECT shipping_total FROM orders ORDER BY placed_at LIMIT 1")
        .fetch_one(app.rt.state.db.read())
        .await
        .expect("order");
    lsn_db::RowExt::try_get::<i64, _>(&r, 0).expect("shipping")
}

/// The task runs in the real runtime on its own, with `ENABLE_AUTONOMOUS` off.
async fn runs_on_its_own(backend: crate::common::Backend) {
    let Some(app) = TestApp::spawn_with(backend, &[("ENABLE_AUTONOMOUS", "false")], true).await else { return };
    app.clock.advance(chrono::Duration::minutes(16));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let runs = lsn_ops::schedule::history(&app.rt.state.db, "analytics_aggregation", 5).await.expect("history");
        if runs.iter().any(|r| r.outcome == "succeeded") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the aggregation never ran: {runs:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregation_runs_on_its_own_sqlite() {
    runs_on_its_own(crate::common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregation_runs_on_its_own_postgres() {
    runs_on_its_own(crate::common::Backend::Postgres).await;
}
