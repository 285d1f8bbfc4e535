//! Races between the autonomous tasks and what people do at the same moment (issue 15): a tick
//! of the scheduler against a pause, a re-timing and a second node's tick; the cart-recovery task
//! against the customer changing the cart, and on two nodes at once. Each pair runs many times
//! and the invariants are checked after every one.

use crate::both;
use crate::common::TestApp;
use lsn_core::Clock;
use lsn_db::RowExt;
use lsn_identity::Role;
use lsn_ops::schedule::Scheduler;
use serde_json::json;

async fn jobs_at(app: &TestApp, name: &str, at: i64) -> i64 {
    let r = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM jobs WHERE schedule = $1 AND created_at = $2")
        .bind(name)
        .bind(at)
        .fetch_one(app.rt.state.db.read())
        .await
        .expect("count");
    r.try_get(0).expect("n")
}

/// Every tick that says it fired a task queued exactly one job and moved the task on; a pause
/// that has been answered lets no later tick fire; two nodes' ticks fire a due task once.
async fn ticks_against_controls(app: TestApp) {
    let db = app.rt.state.db.clone();
    let tz = app.rt.state.cfg.timezone;
    let (a, b) = (Scheduler::new(db.clone(), tz, "node-a", true), Scheduler::new(db.clone(), tz, "node-b", true));
    let name = "webhook_retry";
    for i in 0..30 {
        app.clock.advance(chrono::Duration::minutes(2));
        let now = app.clock.now();
        let at = now.timestamp_millis();
        let (fired, fired_b, control) = match i % 3 {
            0 => {
                let (f, p) = tokio::join!(a.tick(now), a.set_enabled(name, false));
                (f.expect("tick"), Vec::new(), p.map(|_| ()).map_err(|e| e.to_string()))
            }
            1 => {
                let (f, r) = tokio::join!(a.tick(now), a.set_cron(name, Some("0 */7 * * * *"), now));
                (f.expect("tick"), Vec::new(), r.map(|_| ()).map_err(|e| e.to_string()))
            }
            _ => {
                let (f, g) = tokio::join!(a.tick(now), b.tick(now));
                (f.expect("tick"), g.expect("tick"), Ok(()))
            }
        };
        control.expect("control");
        let times = fired.iter().chain(&fired_b).filter(|n| *n == name).count();
        assert!(times <= 1, "round {i}: fired {times} times");
        assert_eq!(jobs_at(&app, name, at).await, times as i64, "round {i}: a fired task has exactly one job, an unfired one none");
        let row = lsn_ops::schedule::get(&db, name).await.expect("get").expect("row");
        if times == 1 {
            assert_eq!(row.last_run_at, Some(at), "round {i}: the tick that fired moved the task on");
        }
        if i % 3 == 0 {
            // Paused and answered: a later tick, however late, does not fire it.
            app.clock.advance(chrono::Duration::minutes(5));
            let later = a.tick(app.clock.now()).await.expect("tick");
            assert!(!later.iter().any(|n| n == name), "round {i}: fired after the pause");
            assert!(a.set_enabled(name, true).await.expect("resume"));
        }
        if i % 3 == 1 {
            // The re-timing holds: the next run follows the new expression.
            let row = lsn_ops::schedule::get(&db, name).await.expect("get").expect("row");
            assert_eq!(row.cron, "0 */7 * * * *");
            let next = chrono::DateTime::from_timestamp_millis(row.next_run_at).expect("t").with_timezone(&tz);
            assert_eq!(chrono::Timelike::minute(&next) % 7, 0, "round {i}: next run {next} is not on the new timing");
            a.set_cron(name, None, app.clock.now()).await.expect("back to the code's");
        }
    }
}
both!(a_tick_against_a_pause_a_retiming_and_another_node, ticks_against_controls);

/// The reminder job on two nodes at once while half the customers change their carts: nobody
/// gets two reminders, and a cart changed at that moment is reminded of again once left again.
async fn reminders_against_changes(app: TestApp) {
    let p = app.product(json!({"title": "Race Mug", "status": "active", "variants": [{"sku": "RACE-MUG", "price": 1500}]})).await;
    app.stock(&p.variants[0].id, 500).await;
    let mut shoppers = Vec::new();
    for i in 0..12 {
        let email = format!("left{i}@example.com");
        app.user(&email, Role::Customer).await;
        let (c, csrf) = app.login(&email).await;
        let add = c.post(app.url("/api/v1/cart/items")).header("x-csrf-token", &csrf).json(&json!({"sku": "RACE-MUG", "quantity": 1}));
        assert!(add.send().await.expect("add").status().is_success());
        shoppers.push((email, c, csrf));
    }
    app.clock.advance(chrono::Duration::hours(3));
    let job = lsn_commerce::recovery::AbandonedCarts(app.rt.state.commerce.clone());
    let cx = |id: &str| lsn_ops::JobContext::new(app.rt.state.db.clone(), app.rt.state.clock.clone(), id.to_string(), 1);
    let (cx1, cx2) = (cx("node-1"), cx("node-2"));
    let changes = futures::future::join_all(shoppers.iter().enumerate().filter(|(i, _)| i % 2 == 0).map(|(_, (_, c, csrf))| {
        c.post(app.url("/api/v1/cart/items")).header("x-csrf-token", csrf).json(&json!({"sku": "RACE-MUG", "quantity": 1})).send()
    }));
    let none = json!({});
    let (r1, r2, changed) = tokio::join!(lsn_ops::JobHandler::run(&job, &cx1, &none), lsn_ops::JobHandler::run(&job, &cx2, &none), changes);
    r1.expect("node 1");
    r2.expect("node 2");
    assert!(changed.iter().all(|r| r.as_ref().is_ok_and(|r| r.status().is_success())));
    let mut first = Vec::new();
    for (email, _, _) in &shoppers {
        let n = app.mails_to(email).await.len();
        assert!(n <= 1, "{email} got two reminders");
        first.push(n);
    }
    // Left again: every changed cart is due one more reminder (however the race went), and the
    // others none.
    app.clock.advance(chrono::Duration::hours(3));
    lsn_ops::JobHandler::run(&job, &cx("node-1"), &none).await.expect("again");
    for (i, (email, _, _)) in shoppers.iter().enumerate() {
        let n = app.mails_to(email).await.len();
        if i % 2 == 0 {
            assert_eq!(n, first[i] + 1, "{email}: a cart changed during a run is reminded of once more when left again");
        } else {
            assert_eq!(n, 1, "{email}: an unchanged cart is reminded of once");
        }
    }
}
both!(a_reminder_against_a_cart_change_and_another_node, reminders_against_changes);
