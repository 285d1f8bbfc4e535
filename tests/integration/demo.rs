//! The demo shows it (issue 15, item 10): an empty development shop starts with five generated
//! weeks of business: orders on most days, paid, some refunded and disputed, a few cancelled
//! unpaid; shows with viewers; stock that never went below zero and ends low on a few variants;
//! a task run log; charts that move, and a daily summary with figures in every section.

use crate::common::{Backend, TestApp};
use lsn_core::Clock;
use lsn_db::RowExt;

async fn one(app: &TestApp, sql: &str) -> i64 {
    let r = lsn_db::query(sql).fetch_one(app.rt.state.db.read()).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    r.try_get::<i64, _>(0).expect("a number")
}

async fn history(backend: Backend) {
    let started = std::time::Instant::now();
    let Some(app) = TestApp::spawn(backend, &[("LSN_DEMO", "true"), ("LSN_TIMEZONE", "Australia/Sydney")]).await else { return };
    eprintln!("{backend:?}: the shop with its demo history started in {:.1} s", started.elapsed().as_secs_f64());
    let now = app.clock.now_ms();
    let day = 86_400_000;
    // Orders paid on most of the last 28 days, and revenue every week.
    let days = one(
        &app,
        &format!(
            "SELECT CAST(COUNT(DISTINCT (paid_at - {}) / {day}) AS BIGINT) FROM orders WHERE paid_at >= {}",
            now % day,
            now - 28 * day
        ),
    )
    .await;
    assert!(days >= 25, "orders on {days} of the last 28 days");
    for w in 0..4 {
        let (from, until) = (now - (w + 1) * 7 * day, now - w * 7 * day);
        let revenue = one(
            &app,
            &format!("SELECT CAST(COALESCE(SUM(amount_paid), 0) AS BIGINT) FROM orders WHERE paid_at >= {from} AND paid_at < {until}"),
        )
        .await;
        assert!(revenue > 1_000_000, "week {w} took {revenue} cents");
    }
    // The scale of a small shop: tens of orders a day.
    let paid = one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE paid_at IS NOT NULL").await;
    assert!((900..3_000).contains(&paid), "{paid} paid orders");
    // Refunds in part and in full, disputes, unpaid orders cancelled.
    assert!(one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE status = 'refunded' AND amount_refunded = amount_paid").await > 0);
    assert!(one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE status = 'partially_refunded' AND amount_refunded < amount_paid AND amount_refunded > 0").await > 0);
    assert_eq!(
        one(&app, "SELECT CAST(COALESCE(SUM(amount_refunded), 0) AS BIGINT) FROM orders").await,
        one(&app, "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM refunds WHERE status = 'succeeded'").await,
        "the refunds add up to what the orders say was refunded"
    );
    assert!(one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM disputes").await > 0);
    assert!(one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE status = 'cancelled' AND paid_at IS NULL").await > 0);
    // Money: every order's total is its items less the discount plus shipping, and its GST the
    // items' GST plus shipping's.
    let (n, total, parts) = lsn_commerce::demo::totals_check(&app.rt.state.db).await.expect("totals");
    assert_eq!((n, total), (paid, parts));
    assert_eq!(
        one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM orders o WHERE o.total <> (SELECT SUM(i.line_total) FROM order_items i WHERE i.order_id = o.id) - o.discount_total + o.shipping_total \
                   OR o.gst_total < (SELECT SUM(i.gst) FROM order_items i WHERE i.order_id = o.id)").await,
        0
    );
    assert_eq!(
        one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM orders o JOIN payments p ON p.order_id = o.id WHERE p.amount <> o.total").await,
        0
    );
    // Shows with viewers, chat and gifts, and orders bought from them.
    assert!(one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM live_shows WHERE status = 'ended' AND peak_viewers > 50").await >= 20);
    assert!(one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM live_viewers").await > 3_000);
    assert!(one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM live_chat_messages").await > 500);
    assert!(one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM gift_ledger").await > 50);
    assert!(one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE show_id IS NOT NULL AND paid_at IS NOT NULL").await > 100);
    // Stock: the ledger adds up to the levels, never below zero at any moment, a few variants low.
    let mismatched = one(
        &app,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM stock_levels s WHERE s.on_hand <> (SELECT COALESCE(SUM(CASE WHEN m.kind = 'sold' THEN -m.quantity ELSE m.quantity END), 0) FROM stock_movements m WHERE m.variant_id = s.variant_id)",
    )
    .await;
    assert_eq!(mismatched, 0, "every level is its ledger's sum");
    let rows =
        lsn_db::query("SELECT variant_id, kind, quantity, created_at FROM stock_movements ORDER BY variant_id, created_at, kind DESC")
            .fetch_all(app.rt.state.db.read())
            .await
            .expect("movements");
    let (mut variant, mut level) = (String::new(), 0_i64);
    for r in &rows {
        let (v, kind, q): (String, String, i64) = (r.try_get(0).expect("v"), r.try_get(1).expect("k"), r.try_get(2).expect("q"));
        if v != variant {
            (variant, level) = (v, 0);
        }
        level += if kind == "sold" { -q } else { q };
        assert!(level >= 0, "{variant} went to {level}");
    }
    assert!(one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM stock_levels WHERE on_hand - reserved < 10 AND on_hand > 0").await >= 3);
    // The task log, failures included, and open tasks for a person.
    assert!(
        one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM job_runs WHERE schedule = 'daily_summary' AND outcome = 'succeeded'").await >= 30
    );
    assert!(one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM job_runs WHERE schedule = 'analytics_aggregation'").await > 100);
    assert!(one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM job_runs WHERE outcome = 'failed'").await > 0);
    assert!(one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE status = 'open'").await > 0);

    // The dashboard's sparklines move.
    let c = app.client();
    let r = c
        .post(app.url("/api/auth/login"))
        .json(&serde_json::json!({"email": "admin@lsn.local", "password": lsn_web::demo::DEMO_PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 200);
    let page = c.get(app.url("/admin")).send().await.expect("dashboard").text().await.expect("text");
    let moving = page
        .split("<polyline points=\"")
        .skip(1)
        .filter(|p| {
            let pts = p.split('"').next().unwrap_or("");
            let ys: std::collections::BTreeSet<&str> = pts.split_whitespace().filter_map(|xy| xy.split(',').nth(1)).collect();
            ys.len() > 2
        })
        .count();
    assert!(moving >= 2, "the dashboard's charts move: {moving}");

    // Yesterday's summary has figures in its sections.
    let tz = app.rt.state.cfg.timezone;
    let yesterday =
        (chrono::DateTime::from_timestamp_millis(now).expect("now").with_timezone(&tz) - chrono::Duration::days(1)).date_naive();
    let report = lsn_web::summary::report(&app.rt.state, lsn_ops::summary::Period::daily(tz, yesterday)).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    for title in ["summary-orders-title", "summary-live-title"] {
        let want = lsn_core::i18n::t(title);
        let s = report
            .sections
            .iter()
            .find(|s| s.title == want)
            .unwrap_or_else(|| panic!("{title} in {:?}", report.sections.iter().map(|s| &s.title).collect::<Vec<_>>()));
        assert!(!s.figures.is_empty(), "{title}");
        for f in s.figures.iter().take(2) {
            assert!(
                !matches!(f.value, lsn_ops::summary::Measure::Count(0) | lsn_ops::summary::Measure::Money(0)),
                "{title}: {} is zero",
                f.label
            );
        }
    }
}

crate::both_backends!(demo_history, history);

/// The history loads in a few seconds, and loading the demo again (a restart, `lsn init
/// --demo`) adds no second one.
async fn once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, &[]).await else { return };
    let s = &app.rt.state;
    lsn_web::demo::load(&s.identity, &s.commerce, &s.live).await.expect("demo");
    let started = std::time::Instant::now();
    let report = lsn_web::demo_history::load(&app.rt).await.expect("history");
    eprintln!("{backend:?}: {report}");
    assert!(started.elapsed().as_secs() < 30, "{report}");
    let before = one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM orders").await;
    assert!(before > 900, "{report}");
    assert!(lsn_web::demo_history::load(&app.rt).await.expect("again").contains("already"));
    assert_eq!(one(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM orders").await, before);
}

crate::both_backends!(demo_history_once, once);
