//! A person's controls over the scheduled tasks (issue 15): re-time (a bad expression changes
//! nothing), pause and resume, run now; the re-timing survives a restart; autonomous tasks run
//! only with `ENABLE_AUTONOMOUS`; on the API and the admin page, on both databases.

use crate::both;
use crate::common::{json, TestApp};
use lsn_core::Clock;
use lsn_identity::Role;
use serde_json::{json, Value};

fn find<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["schedules"].as_array().and_then(|a| a.iter().find(|s| s["name"] == name)).unwrap_or_else(|| panic!("{name} listed"))
}

async fn controls(app: TestApp) {
    app.user("ops@example.com", Role::Admin).await;
    let (c, csrf) = app.login("ops@example.com").await;
    let get = || c.get(app.url("/api/v1/admin/jobs/schedules")).send();
    let (s, list) = json(get().await.expect("list")).await;
    assert_eq!(s, 200);
    let expiry = find(&list, "reservation_expiry");
    assert_eq!((expiry["cron"].as_str(), expiry["default_cron"].as_str()), (Some("0 * * * * *"), Some("0 * * * * *")));
    assert_eq!(expiry["autonomous"], false, "a safety job");

    // Re-timed: the expression in force and the next run move; the code's default is kept.
    let put = |name: &str, body: Value| {
        c.put(app.url(&format!("/api/v1/admin/jobs/schedules/{name}"))).header("x-csrf-token", &csrf).json(&body).send()
    };
    let (s, b) = json(put("reservation_expiry", json!({"cron": "0 */5 * * * *"})).await.expect("put")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!((b["schedule"]["cron"].as_str(), b["schedule"]["default_cron"].as_str()), (Some("0 */5 * * * *"), Some("0 * * * * *")));
    let next = b["schedule"]["next_run_at"].as_i64().expect("next");
    assert!(next > app.clock.now_ms() && next <= app.clock.now_ms() + 5 * 60_000);

    // Bad input: a clear 4xx, nothing changed.
    for bad in [json!({"cron": "61 * * * * *"}), json!({"cron": "not a cron"}), json!({"cron": "x".repeat(101)})] {
        let (s, b) = json(put("reservation_expiry", bad.clone()).await.expect("put")).await;
        assert_eq!((s, b["error"]["code"].as_str()), (400, Some("invalid_cron")), "{bad}: {b}");
        assert!(b["error"]["fields"]["cron"].is_string());
    }
    let (s, _) = json(put("no_such_task", json!({"cron": "0 * * * * *"})).await.expect("put")).await;
    assert_eq!(s, 404);
    let (_, list) = json(get().await.expect("list")).await;
    assert_eq!(find(&list, "reservation_expiry")["cron"], "0 */5 * * * *", "the refused changes left it as it was");

    // Paused: the scheduler passes it by; resumed: it runs again. Run now queues it at once.
    let post = |path: String| c.post(app.url(&path)).header("x-csrf-token", &csrf).send();
    let (s, b) = json(post("/api/v1/admin/jobs/schedules/webhook_retry/pause".into()).await.expect("pause")).await;
    assert_eq!((s, b["schedule"]["enabled"].as_bool()), (200, Some(false)));
    let (s, _) = json(post("/api/v1/admin/jobs/schedules/no_such_task/pause".into()).await.expect("pause")).await;
    assert_eq!(s, 404);
    app.clock.advance(chrono::Duration::hours(2));
    let tz = app.rt.state.cfg.timezone;
    let scheduler = lsn_ops::schedule::Scheduler::new(app.rt.state.db.clone(), tz, "test-node", false);
    let fired = scheduler.tick(app.clock.now()).await.expect("tick");
    assert!(fired.iter().any(|n| n == "reservation_expiry") && !fired.iter().any(|n| n == "webhook_retry"), "{fired:?}");
    let (s, b) = json(post("/api/v1/admin/jobs/schedules/webhook_retry/resume".into()).await.expect("resume")).await;
    assert_eq!((s, b["schedule"]["enabled"].as_bool()), (200, Some(true)));
    let (s, b) = json(post("/api/v1/admin/jobs/schedules/idempotency_cleanup/run".into()).await.expect("run")).await;
    assert_eq!((s, b["queued"].as_bool()), (202, Some(true)), "{b}");
    app.run_jobs().await;
    let (_, h) = json(c.get(app.url("/api/v1/admin/jobs/history/idempotency_cleanup")).send().await.expect("history")).await;
    let job = b["job_id"].as_str().expect("job id");
    let run = h["runs"].as_array().and_then(|r| r.iter().find(|r| r["job_id"] == job)).unwrap_or_else(|| panic!("the run now: {h}"));
    assert_eq!((run["outcome"].as_str(), run["schedule"].as_str()), (Some("succeeded"), Some("idempotency_cleanup")));

    // Autonomous tasks wait for ENABLE_AUTONOMOUS; safety jobs do not.
    let auto = lsn_ops::Schedule {
        name: "autonomous_probe",
        cron: "0 * * * * *",
        job_kind: "identity.cleanup",
        payload: json!({}),
        description: "an autonomous task for the test",
        autonomous: true,
    };
    scheduler.register(&[auto], app.clock.now()).await.expect("register");
    app.clock.advance(chrono::Duration::minutes(2));
    let fired = scheduler.tick(app.clock.now()).await.expect("tick");
    assert!(!fired.iter().any(|n| n == "autonomous_probe") && fired.iter().any(|n| n == "webhook_retry"), "{fired:?}");
    let on = lsn_ops::schedule::Scheduler::new(app.rt.state.db.clone(), tz, "test-node", true);
    let fired = on.tick(app.clock.now()).await.expect("tick");
    assert!(fired.iter().any(|n| n == "autonomous_probe"), "{fired:?}");

    // The re-timing is a person's: a restart (which registers the code's schedules) keeps it.
    let app = app.restart().await;
    let (c, _) = app.login("ops@example.com").await;
    let (_, list) = json(c.get(app.url("/api/v1/admin/jobs/schedules")).send().await.expect("list")).await;
    assert_eq!(find(&list, "reservation_expiry")["cron"], "0 */5 * * * *");
}
both!(scheduled_tasks_are_retimed_paused_and_run_by_a_person, controls);

/// The same controls on the admin's jobs page.
async fn page(app: TestApp) {
    app.user("ops@example.com", Role::Admin).await;
    let (c, csrf) = app.login("ops@example.com").await;
    let form = |path: &str, fields: &[(&str, &str)]| {
        let mut f: Vec<(&str, &str)> = vec![("csrf_token", &csrf)];
        f.extend_from_slice(fields);
        let f: Vec<(String, String)> = f.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        c.post(app.url(path)).form(&f).send()
    };
    let r = form("/admin/jobs/webhook_retry/control", &[("action", "pause")]).await.expect("post");
    assert_eq!(r.status(), 303);
    let html = c.get(app.url("/admin/jobs?notice=task_paused")).send().await.expect("get").text().await.expect("body");
    assert!(html.contains("Task paused.") && html.contains("paused"), "the notice and the state");
    let r = form("/admin/jobs/retime", &[("name", "webhook_retry"), ("cron", "bogus")]).await.expect("post");
    assert_eq!(r.status(), 400);
    let html = r.text().await.expect("body");
    assert!(html.contains("Check the cron expression.") && html.contains("value=\"bogus\""), "the error, the input kept");
    let r = form("/admin/jobs/retime", &[("name", "webhook_retry"), ("cron", "30 */2 * * * *")]).await.expect("post");
    assert_eq!(r.status(), 303);
    let row = lsn_ops::schedule::get(&app.rt.state.db, "webhook_retry").await.expect("read").expect("row");
    assert_eq!((row.cron.as_str(), row.enabled), ("30 */2 * * * *", false));
    let r = form("/admin/jobs/retime", &[("name", "webhook_retry"), ("cron", "")]).await.expect("post");
    assert_eq!(r.status(), 303);
    let row = lsn_ops::schedule::get(&app.rt.state.db, "webhook_retry").await.expect("read").expect("row");
    assert_eq!(row.cron, row.default_cron, "an empty expression restores the code's");
}
both!(the_jobs_page_controls_the_tasks, page);

/// The runbook's daily summary at 8 AM shop time: mailed to FOUNDER_EMAIL once for the day
/// before, only with ENABLE_AUTONOMOUS=true.
async fn summary_with(backend: crate::common::Backend, autonomous: bool) {
    let flag = if autonomous { "true" } else { "false" };
    let Some(app) = TestApp::spawn(
        backend,
        &[
            ("ENABLE_AUTONOMOUS", flag),
            ("FOUNDER_EMAIL", "founder@example.com"),
            ("LSN_SUMMARY_TO", "cfo@example.com"),
            ("LSN_TIMEZONE", "Australia/Sydney"),
        ],
    )
    .await
    else {
        return;
    };
    let tz = app.rt.state.cfg.timezone;
    // 7:59:30 tomorrow in the shop, then past 8 AM.
    let tomorrow = app.clock.now().with_timezone(&tz).date_naive().succ_opt().expect("date");
    let before = tomorrow.and_hms_opt(7, 59, 30).expect("time").and_local_timezone(tz).single().expect("local").with_timezone(&chrono::Utc);
    app.clock.set(before);
    let scheduler = lsn_ops::schedule::Scheduler::new(app.rt.state.db.clone(), tz, "test-node", autonomous);
    scheduler.tick(app.clock.now()).await.expect("tick");
    app.clock.advance(chrono::Duration::seconds(45));
    let fired = scheduler.tick(app.clock.now()).await.expect("tick");
    assert_eq!(fired.iter().any(|n| n == "daily_summary"), autonomous, "{fired:?}");
    let mails = app.mails_to("founder@example.com").await;
    if !autonomous {
        assert!(mails.is_empty(), "no summary without ENABLE_AUTONOMOUS");
        return;
    }
    assert_eq!(mails.len(), 1);
    let day = tomorrow.pred_opt().expect("date").format("%Y-%m-%d").to_string();
    assert!(mails[0].subject.contains(&day), "{}", mails[0].subject);
    let m = &mails[0];
    assert!(m.text.contains("💰 Revenue\n- Total: $0.00") && m.text.contains("⚠️ Action items"), "{}", m.text);
    let html = m.html.as_deref().expect("an HTML part");
    assert!(html.contains("<img src=\"cid:chart-revenue\"") && html.contains("Daily Summary"), "{html}");
    let chart = m.attachments.iter().find(|a| a.content_id.as_deref() == Some("chart-revenue")).expect("the chart, inline");
    assert_eq!((chart.content_type.as_str(), &chart.content[..4]), ("image/png", &b"\x89PNG"[..]));
    let stakeholder = app.mails_to("cfo@example.com").await;
    assert_eq!(stakeholder.len(), 1, "LSN_SUMMARY_TO gets it too");
    assert_eq!((stakeholder[0].subject.as_str(), stakeholder[0].html.as_deref()), (m.subject.as_str(), Some(html)));
    // Run again for the same day (a person's "run now"): still one mail.
    let (c, csrf) = {
        app.user("ops@example.com", Role::Admin).await;
        app.login("ops@example.com").await
    };
    app.clock.advance(chrono::Duration::seconds(5));
    let (s, _) =
        json(c.post(app.url("/api/v1/admin/jobs/schedules/daily_summary/run")).header("x-csrf-token", &csrf).send().await.expect("run"))
            .await;
    assert_eq!(s, 202);
    assert_eq!(app.mails_to("founder@example.com").await.len(), 1, "one summary a day");
    // The runbook's own calls, with its literal input.
    let q =
        url::form_urlencoded::byte_serialize(json!({"taskName": "daily_summary", "limit": 30}).to_string().as_bytes()).collect::<String>();
    let (s, h) = json(c.get(app.url(&format!("/api/trpc/system.getTaskHistory?input={q}"))).send().await.expect("history")).await;
    assert_eq!(s, 200, "{h}");
    let runs = h["result"]["data"].as_array().expect("runs");
    assert!(runs.len() >= 2 && runs.iter().all(|r| r["outcome"] == "succeeded"), "{h}");
    assert!(runs.iter().any(|r| r["output"].as_str().is_some_and(|o| o.contains("mailed to founder@example.com, cfo@example.com"))), "{h}");
    let (s, t) = json(c.get(app.url("/api/trpc/system.getScheduledTasks")).send().await.expect("tasks")).await;
    assert_eq!(s, 200);
    let task = t["result"]["data"].as_array().and_then(|a| a.iter().find(|x| x["name"] == "daily_summary")).cloned().expect("listed");
    assert_eq!((task["cron"].as_str(), task["autonomous"].as_bool()), (Some("0 0 8 * * *"), Some(true)));
}

async fn summary_on(backend: crate::common::Backend) {
    summary_with(backend, true).await;
}

async fn summary_off(backend: crate::common::Backend) {
    summary_with(backend, false).await;
}
crate::both_backends!(the_daily_summary_is_mailed_at_8_am_when_autonomous, summary_on);
crate::both_backends!(the_daily_summary_waits_for_enable_autonomous, summary_off);

/// The weekly report: Mondays at 8 AM shop time, the seven days to Sunday, beside that day's summary.
async fn weekly(backend: crate::common::Backend) {
    let env = [("ENABLE_AUTONOMOUS", "true"), ("FOUNDER_EMAIL", "founder@example.com"), ("LSN_TIMEZONE", "Australia/Sydney")];
    let Some(app) = TestApp::spawn(backend, &env).await else { return };
    let tz = app.rt.state.cfg.timezone;
    let mut monday = app.clock.now().with_timezone(&tz).date_naive().succ_opt().expect("date");
    while chrono::Datelike::weekday(&monday) != chrono::Weekday::Mon {
        monday = monday.succ_opt().expect("date");
    }
    let before = monday.and_hms_opt(7, 59, 30).expect("time").and_local_timezone(tz).single().expect("local").with_timezone(&chrono::Utc);
    app.clock.set(before);
    let scheduler = lsn_ops::schedule::Scheduler::new(app.rt.state.db.clone(), tz, "test-node", true);
    scheduler.tick(app.clock.now()).await.expect("tick");
    app.clock.advance(chrono::Duration::seconds(45));
    let fired = scheduler.tick(app.clock.now()).await.expect("tick");
    assert!(fired.iter().any(|n| n == "weekly_report") && fired.iter().any(|n| n == "daily_summary"), "{fired:?}");
    let mails = app.mails_to("founder@example.com").await;
    assert_eq!(mails.len(), 2, "{:?}", mails.iter().map(|m| &m.subject).collect::<Vec<_>>());
    let week = mails.iter().find(|m| m.tag.as_deref() == Some("weekly_summary")).expect("the weekly report");
    let sunday = monday.pred_opt().expect("date");
    let first = sunday - chrono::Duration::days(6);
    assert!(week.subject.starts_with("LSN Live: the week of "), "{}", week.subject);
    assert!(week.text.contains("Weekly Report") && week.text.contains("vs the week before"), "{}", week.text);
    let chart = week.attachments.iter().find(|a| a.content_id.as_deref() == Some("chart-revenue")).expect("chart");
    assert_eq!(chart.filename, format!("chart-revenue-{}_{}.png", first.format("%Y-%m-%d"), sunday.format("%Y-%m-%d")));
}
crate::both_backends!(the_weekly_report_is_mailed_on_mondays, weekly);

/// The runbook's hourly low-stock alerts: one open task per active variant under 10 available,
/// not one per hour; a variant with stock to spare gets none.
async fn low_stock(app: TestApp) {
    let low = app.product(json!({"title": "Rare Mug", "status": "active", "variants": [{"sku": "RARE-MUG", "price": 1500}]})).await;
    let plenty = app.product(json!({"title": "Common Mug", "status": "active", "variants": [{"sku": "COMMON-MUG", "price": 1500}]})).await;
    app.stock(&low.variants[0].id, 4).await;
    app.stock(&plenty.variants[0].id, 50).await;
    let tz = app.rt.state.cfg.timezone;
    let scheduler = lsn_ops::schedule::Scheduler::new(app.rt.state.db.clone(), tz, "test-node", true);
    scheduler.tick(app.clock.now()).await.expect("tick");
    for _ in 0..2 {
        app.clock.advance(chrono::Duration::hours(1));
        let fired = scheduler.tick(app.clock.now()).await.expect("tick");
        assert!(fired.iter().any(|n| n == "low_stock_alerts"), "{fired:?}");
        app.run_jobs().await;
    }
    let tasks = lsn_ops::tasks::recent(&app.rt.state.db, 50).await.expect("tasks");
    let low_tasks: Vec<_> = tasks.iter().filter(|t| t.kind == "low_stock").collect();
    assert_eq!(low_tasks.len(), 1, "one task for the one low variant, over two hours: {low_tasks:?}");
    assert_eq!(low_tasks[0].reference.as_deref(), Some(low.variants[0].id.as_str()));
    // Each run says what it did.
    let runs = lsn_ops::schedule::history(&app.rt.state.db, "low_stock_alerts", 5).await.expect("history");
    let outputs: Vec<_> = runs.iter().filter_map(|r| r.output.as_deref()).collect();
    assert!(outputs.contains(&"1 variants low, 1 new tasks") && outputs.contains(&"1 variants low, 0 new tasks"), "{outputs:?}");
    assert!(low_tasks[0].title.contains("RARE-MUG") && low_tasks[0].title.contains("4 left"), "{}", low_tasks[0].title);
}
both!(low_stock_alerts_open_one_task_per_low_variant, low_stock);

/// The low-stock alert e-mail: one per run that opened tasks, listing the variants that newly ran
/// low, to FOUNDER_EMAIL and LSN_ALERT_EMAIL_TO; none while they stay low.
async fn low_stock_mail(backend: crate::common::Backend) {
    let env = [("FOUNDER_EMAIL", "founder@example.com"), ("LSN_ALERT_EMAIL_TO", "ops@example.com")];
    let Some(app) = TestApp::spawn(backend, &env).await else { return };
    let low = app.product(json!({"title": "Rare Mug", "status": "active", "variants": [{"sku": "RARE-MUG", "price": 1500}]})).await;
    app.stock(&low.variants[0].id, 4).await;
    let tz = app.rt.state.cfg.timezone;
    let scheduler = lsn_ops::schedule::Scheduler::new(app.rt.state.db.clone(), tz, "test-node", true);
    scheduler.tick(app.clock.now()).await.expect("tick");
    for _ in 0..2 {
        app.clock.advance(chrono::Duration::hours(1));
        scheduler.tick(app.clock.now()).await.expect("tick");
        app.run_jobs().await;
    }
    for to in ["founder@example.com", "ops@example.com"] {
        let mails: Vec<_> = app.mails_to(to).await.into_iter().filter(|m| m.tag.as_deref() == Some("low_stock_alert")).collect();
        assert_eq!(mails.len(), 1, "one mail over two hours to {to}");
        assert_eq!(mails[0].subject, "LSN Live: 1 product is low on stock");
        assert!(mails[0].text.contains("- RARE-MUG  Rare Mug — Default: 4") && mails[0].text.contains("/admin/tasks"), "{}", mails[0].text);
        assert!(mails[0].html.as_deref().is_some_and(|h| h.contains("<td style=\"border-bottom:1px solid #e4e4e7;\">RARE-MUG</td>")));
    }
}
crate::both_backends!(low_stock_alerts_are_mailed_once, low_stock_mail);

/// The runbook's abandoned-cart recovery every 2 hours: a signed-in customer's cart left for over
/// 2 hours gets one reminder, in their language; left again after a change, one more.
async fn carts(app: TestApp) {
    let p = app.product(json!({"title": "Left Mug", "status": "active", "variants": [{"sku": "LEFT-MUG", "price": 1500}]})).await;
    app.stock(&p.variants[0].id, 20).await;
    app.user("ann@example.com", Role::Customer).await;
    let (c, csrf) = app.login("ann@example.com").await;
    let add = |qty: i64| {
        c.post(app.url("/api/v1/cart/items")).header("x-csrf-token", &csrf).json(&json!({"sku": "LEFT-MUG", "quantity": qty})).send()
    };
    assert!(add(2).await.expect("add").status().is_success());
    // A guest's cart has nobody to write to.
    let guest = app.client();
    assert!(guest
        .post(app.url("/api/v1/cart/items"))
        .json(&json!({"sku": "LEFT-MUG", "quantity": 1}))
        .send()
        .await
        .expect("add")
        .status()
        .is_success());

    let tz = app.rt.state.cfg.timezone;
    let scheduler = lsn_ops::schedule::Scheduler::new(app.rt.state.db.clone(), tz, "test-node", true);
    let run = |hours: i64| {
        app.clock.advance(chrono::Duration::hours(hours));
        let s = scheduler.clone();
        let now = app.clock.now();
        async move { s.tick(now).await.expect("tick") }
    };
    let fired = run(3).await;
    assert!(fired.iter().any(|n| n == "abandoned_cart_recovery"), "{fired:?}");
    let mails = app.mails_to("ann@example.com").await;
    assert_eq!(mails.len(), 1, "one reminder");
    assert_eq!(mails[0].subject, "You left something in your cart");
    assert!(mails[0].text.contains("2 items") && mails[0].text.contains("/cart"), "{}", mails[0].text);
    run(2).await;
    assert_eq!(app.mails_to("ann@example.com").await.len(), 1, "not one per run");
    // Left again after a change: one more.
    assert!(add(1).await.expect("add").status().is_success());
    run(3).await;
    assert_eq!(app.mails_to("ann@example.com").await.len(), 2);
}
both!(abandoned_carts_get_one_reminder_each_time_they_are_left, carts);
