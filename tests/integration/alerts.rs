//! Monitoring, alerts, incidents and tasks (issue 15, items 5–7), with the runbook's literal
//! inputs, on both databases: thresholds changed through tRPC (bad input refused, nothing
//! changed), the test Slack message and e-mail, one notification per alert group with two
//! runtimes on one database raising it at once, the incident a critical alert opens, and tasks
//! assigned, done and dismissed.

use crate::both;
use crate::common::{json, TestApp};
use lsn_core::Clock;
use lsn_identity::Role;
use serde_json::{json, Value};
use std::sync::Arc;

async fn trpc(c: &reqwest::Client, app: &TestApp, csrf: &str, name: &str, input: Value) -> (u16, Value) {
    json(c.post(app.url(&format!("/api/trpc/{name}"))).header("x-csrf-token", csrf).json(&input).send().await.expect("trpc")).await
}

async fn thresholds(app: TestApp) {
    app.user("ops@example.com", Role::Admin).await;
    let (c, csrf) = app.login("ops@example.com").await;
    let (s, b) = json(c.get(app.url("/api/v1/admin/thresholds")).send().await.expect("list")).await;
    assert_eq!(s, 200);
    let list = b["thresholds"].as_array().expect("thresholds");
    let levels: usize = list.iter().map(|t| usize::from(!t["warning"].is_null()) + usize::from(!t["critical"].is_null())).sum();
    assert_eq!((list.len(), levels), (7, 9), "the runbook's nine thresholds over seven metrics: {b}");

    // The runbook's call, literally.
    let (s, b) = trpc(&c, &app, &csrf, "system.updateAlertThreshold", json!({"metric": "error_rate", "warning": 5, "critical": 10})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!((b["result"]["data"]["warning"].as_f64(), b["result"]["data"]["critical"].as_f64()), (Some(5.0), Some(10.0)));
    let (s, _) = trpc(&c, &app, &csrf, "system.updateAlertThreshold", json!({"metric": "error_rate", "warning": 3, "critical": 8})).await;
    assert_eq!(s, 200);
    for (bad, code) in [
        (json!({"metric": "no_such_metric", "warning": 1, "critical": 2}), "unknown_metric"),
        (json!({"metric": "error_rate", "warning": 20, "critical": 10}), "invalid_threshold"),
        (json!({"metric": "error_rate", "warning": -1}), "invalid_threshold"),
        (json!({"metric": "error_rate", "warning": "NaN"}), "invalid_threshold"),
        (json!({"metric": "error_rate", "critical": 1e300}), "invalid_threshold"),
        (json!({"metric": "response_time_p95", "warning": 1_000_000_000}), "invalid_threshold"),
        (json!({"warning": 1}), "unknown_metric"),
    ] {
        let (s, b) = trpc(&c, &app, &csrf, "system.updateAlertThreshold", bad.clone()).await;
        assert_eq!((s, b["error"]["data"]["lsnCode"].as_str()), (400, Some(code)), "{bad}: {b}");
    }
    let th = lsn_ops::monitor::threshold(&app.rt.state.db, "error_rate").await.expect("read").expect("row");
    assert_eq!((th.warning, th.critical), (Some(3.0), Some(8.0)), "the refused changes changed nothing");
    // A customer may not.
    app.user("ann@example.com", Role::Customer).await;
    let (cc, ccsrf) = app.login("ann@example.com").await;
    let (s, _) = trpc(&cc, &app, &ccsrf, "system.updateAlertThreshold", json!({"metric": "error_rate", "warning": 50})).await;
    assert_eq!(s, 403);

    // Measured from the nodes' own readings: 12 % errors is over critical 8 %.
    let now = app.clock.now_ms();
    let sampler = lsn_ops::monitor::Sampler::new("node-a");
    let base =
        lsn_ops::monitor::ProcessSample { requests: 0, errors: 0, buckets: vec![(0.1, 0), (2.0, 0), (5.0, 0)], ..Default::default() };
    sampler.record(&app.rt.state.db, now - 20_000, base).await.expect("sample");
    let busy = lsn_ops::monitor::ProcessSample {
        requests: 100,
        errors: 12,
        buckets: vec![(0.1, 90), (2.0, 99), (5.0, 100)],
        ..Default::default()
    };
    sampler.record(&app.rt.state.db, now - 10_000, busy).await.expect("sample");
    let (s, b) =
        json(c.post(app.url("/api/v1/admin/jobs/schedules/monitoring/run")).header("x-csrf-token", &csrf).send().await.expect("run")).await;
    assert_eq!(s, 202, "{b}");
    let ran = app.run_jobs().await;
    let th = lsn_ops::monitor::threshold(&app.rt.state.db, "error_rate").await.expect("read").expect("row");
    assert_eq!((th.last_value, th.last_level.as_deref()), (Some(12.0), Some("critical")), "{ran:?}");
    let fraud = lsn_ops::monitor::threshold(&app.rt.state.db, "fraud_detections").await.expect("read").expect("row");
    // The risk domain measures its detections: none yet.
    assert_eq!((fraud.last_value, fraud.last_level.as_deref()), (Some(0.0), Some("ok")), "{ran:?} {fraud:?} {th:?}");
    let alerts = lsn_ops::alerts::list(&app.rt.state.db, Some("firing"), 50).await.expect("alerts");
    let a = alerts.iter().find(|a| a.group_key == "system_error:error_rate:critical").unwrap_or_else(|| panic!("{alerts:?}"));
    assert_eq!(a.severity, "critical");
    // Critical: Slack (sandbox), an incident, and the page shows it.
    let slack = lsn_notify::list_sandbox(&app.rt.state.db, Some("slack"), 10).await.expect("sandbox");
    assert_eq!(slack.len(), 1, "{slack:?}");
    let incidents = lsn_ops::incidents::list(&app.rt.state.db, 10).await.expect("incidents");
    assert_eq!(incidents.len(), 1);
    assert_eq!((incidents[0].severity.as_str(), incidents[0].respond_by - incidents[0].opened_at), ("P1", 3_600_000));
    let html = c.get(app.url("/admin/thresholds")).send().await.expect("page").text().await.expect("body");
    assert!(html.contains("Error rate") && html.contains("12.0%"), "the page shows the reading");
    let r = c
        .post(app.url("/admin/thresholds"))
        .form(&[("csrf_token", csrf.as_str()), ("metric", "cpu_usage"), ("warning", "95"), ("critical", "90")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400, "warning above critical on the page too");
}
both!(thresholds_are_data_edited_with_the_runbooks_input_and_measured, thresholds);

async fn test_messages(app: TestApp) {
    app.user("ops@example.com", Role::Admin).await;
    let (c, csrf) = app.login("ops@example.com").await;
    let (s, b) =
        trpc(&c, &app, &csrf, "system.sendSlackAlert", json!({"message": "🚨 Test alert from LSN platform", "severity": "info"})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"]["data"]["queued"], true);
    let (s, b) = trpc(
        &c,
        &app,
        &csrf,
        "system.sendTestEmail",
        json!({"to": "your@email.com", "subject": "Test Email", "body": "This is a test email from LSN"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    for (name, bad) in [
        ("system.sendSlackAlert", json!({"message": "", "severity": "info"})),
        ("system.sendSlackAlert", json!({"message": "x", "severity": "loud"})),
        ("system.sendTestEmail", json!({"to": "not an address", "subject": "s", "body": "b"})),
        ("system.sendTestEmail", json!({"to": "a@b.com", "subject": "two\nlines", "body": "b"})),
    ] {
        let (s, _) = trpc(&c, &app, &csrf, name, bad.clone()).await;
        assert_eq!(s, 400, "{name} {bad}");
    }
    let mails = app.mails_to("your@email.com").await;
    assert_eq!(mails.len(), 1);
    assert_eq!((mails[0].subject.as_str(), mails[0].text.as_str()), ("Test Email", "This is a test email from LSN"));
    let slack = lsn_notify::list_sandbox(&app.rt.state.db, Some("slack"), 10).await.expect("sandbox");
    assert_eq!(slack.len(), 1);
    assert!(slack[0].body.contains("Test alert from LSN platform"), "{}", slack[0].body);
    let html = c.get(app.url("/admin/alerts")).send().await.expect("page").text().await.expect("body");
    assert!(html.contains("Sandbox: slack") && html.contains("Test alert from LSN platform"), "the sandbox is visible in the admin");
}
both!(the_runbooks_test_slack_alert_and_email_are_queued_and_recorded, test_messages);

/// Two LSN runtimes on one database raise the same alert at once, many times: one notification.
async fn two_nodes(app: TestApp) {
    let cfg = lsn_core::Config::from_sources(
        None,
        vec![
            ("DATABASE_URL".to_string(), app.database_url.clone()),
            ("LSN_DATA_DIR".to_string(), app.data_dir.path().display().to_string()),
            ("LSN_DEMO".to_string(), "false".to_string()),
        ],
    )
    .expect("config");
    let other = lsn_web::prepare(cfg, Arc::new(app.clock.clone())).await.expect("second node");
    let now = app.clock.now_ms();
    let mut raises = Vec::new();
    for i in 0..20 {
        let db = if i % 2 == 0 { app.rt.state.db.clone() } else { other.state.db.clone() };
        raises.push(tokio::spawn(async move {
            lsn_ops::alerts::raise_now(
                &db,
                now,
                &lsn_commerce::monitoring::PAYMENT_FAILED,
                "failed_payments:critical",
                lsn_ops::Severity::Critical,
                "Payments failing",
                "4 in 10 minutes",
            )
            .await
        }));
    }
    let mut notified = 0;
    for r in raises {
        notified += usize::from(r.await.expect("task").expect("raise").notified);
    }
    assert_eq!(notified, 1, "one raise claimed the notification");
    let (a, b) = tokio::join!(app.rt.run_jobs_until_idle(), other.run_jobs_until_idle());
    a.expect("jobs");
    b.expect("jobs");
    let alerts = lsn_ops::alerts::list(&app.rt.state.db, None, 10).await.expect("alerts");
    assert_eq!((alerts.len(), alerts[0].occurrences, alerts[0].notifications), (1, 20, 1));
    assert_eq!(lsn_notify::list_sandbox(&app.rt.state.db, Some("slack"), 10).await.expect("sandbox").len(), 1, "one Slack message");
    let incidents = lsn_ops::incidents::list(&app.rt.state.db, 10).await.expect("incidents");
    assert_eq!(incidents.len(), 1, "one incident");
    assert_eq!(
        (incidents[0].severity.as_str(), incidents[0].respond_by),
        ("P0", incidents[0].opened_at),
        "payment failure: P0, immediately"
    );

    // Within the cool-down another raise only counts; a silence keeps the next one quiet too.
    app.clock.advance(chrono::Duration::minutes(5));
    let r = lsn_ops::alerts::raise_now(
        &app.rt.state.db,
        app.clock.now_ms(),
        &lsn_commerce::monitoring::PAYMENT_FAILED,
        "failed_payments:critical",
        lsn_ops::Severity::Critical,
        "Payments failing",
        "",
    )
    .await
    .expect("raise");
    assert!(!r.notified);

    // The incident, by a person: assign, note, resolve, post-mortem; bad input refused.
    app.user("ops@example.com", Role::Admin).await;
    app.user("ann@example.com", Role::Customer).await;
    let (c, csrf) = app.login("ops@example.com").await;
    let id = incidents[0].id.clone();
    let post = |path: String, body: Value| c.post(app.url(&path)).header("x-csrf-token", &csrf).json(&body).send();
    let (s, b) =
        json(post(format!("/api/v1/admin/incidents/{id}/assign"), json!({"owner": "ann@example.com"})).await.expect("assign")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("unknown_owner")), "a customer cannot own it");
    let (s, b) =
        json(post(format!("/api/v1/admin/incidents/{id}/assign"), json!({"owner": "ops@example.com"})).await.expect("assign")).await;
    assert_eq!(s, 200, "{b}");
    let (s, _) = json(post(format!("/api/v1/admin/incidents/{id}/notes"), json!({"note": "  "})).await.expect("note")).await;
    assert_eq!(s, 400);
    let (s, _) =
        json(post(format!("/api/v1/admin/incidents/{id}/notes"), json!({"note": "Stripe is answering 500s"})).await.expect("note")).await;
    assert_eq!(s, 200);
    let (s, b) = json(
        post(format!("/api/v1/admin/incidents/{id}/resolve"), json!({"resolution": "Switched to the backup key"})).await.expect("resolve"),
    )
    .await;
    assert_eq!((s, b["incident"]["status"].as_str()), (200, Some("resolved")));
    let (s, b) = json(post(format!("/api/v1/admin/incidents/{id}/resolve"), json!({"resolution": "again"})).await.expect("resolve")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("incident_resolved")));
    let (s, _) = json(
        c.put(app.url(&format!("/api/v1/admin/incidents/{id}/postmortem")))
            .header("x-csrf-token", &csrf)
            .json(&json!({"postmortem": "Root cause: an expired key."}))
            .send()
            .await
            .expect("pm"),
    )
    .await;
    assert_eq!(s, 200);
    let (_, b) = json(c.get(app.url(&format!("/api/v1/admin/incidents/{id}"))).send().await.expect("get")).await;
    let kinds: Vec<&str> = b["timeline"].as_array().expect("timeline").iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["opened", "assigned", "note", "resolved", "postmortem"]);
    let html = c.get(app.url(&format!("/admin/incidents/{id}"))).send().await.expect("page").text().await.expect("body");
    assert!(html.contains("Root cause: an expired key.") && html.contains("Stripe is answering 500s"));
}
both!(one_notification_per_alert_group_with_two_nodes_and_its_incident, two_nodes);

async fn tasks(app: TestApp) {
    let now = app.clock.now_ms();
    app.rt
        .state
        .db
        .transaction(move |tx| {
            Box::pin(async move {
                lsn_ops::tasks::open(tx, now, "dispute", "Answer a dispute", "order A1", "o1").await?;
                lsn_ops::tasks::open(tx, now, "dispute", "Answer another", "order A2", "o2").await
            })
        })
        .await
        .expect("tasks");
    let list = lsn_ops::tasks::list(&app.rt.state.db, None, 10).await.expect("list");
    let (one, two) = (list[0].id.clone(), list[1].id.clone());
    app.user("ops@example.com", Role::Admin).await;
    app.user("ann@example.com", Role::Customer).await;
    let (c, csrf) = app.login("ops@example.com").await;
    let post = |path: String, body: Value| c.post(app.url(&path)).header("x-csrf-token", &csrf).json(&body).send();
    let (s, b) =
        json(post(format!("/api/v1/admin/tasks/{one}/assign"), json!({"assignee": "ops@example.com"})).await.expect("assign")).await;
    assert_eq!(s, 200, "{b}");
    assert!(b["task"]["assignee_id"].is_string());
    let (s, b) = json(post(format!("/api/v1/admin/tasks/{one}/done"), json!({})).await.expect("done")).await;
    assert_eq!((s, b["task"]["status"].as_str()), (200, Some("done")));
    let (s, b) = json(post(format!("/api/v1/admin/tasks/{one}/dismiss"), json!({})).await.expect("dismiss")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("task_closed")), "closed once");
    let (s, _) = json(post("/api/v1/admin/tasks/missing/done".into(), json!({})).await.expect("done")).await;
    assert_eq!(s, 404);
    // The page: dismiss the other.
    let r = c
        .post(app.url(&format!("/admin/tasks/{two}/control")))
        .form(&[("csrf_token", csrf.as_str()), ("action", "dismiss")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 303);
    let t = lsn_ops::tasks::get(&app.rt.state.db, &two).await.expect("get").expect("task");
    assert_eq!((t.status.as_str(), t.closed_by.is_some()), ("dismissed", true));
    // Staff only.
    let (cc, ccsrf) = app.login("ann@example.com").await;
    let r = cc
        .post(app.url(&format!("/api/v1/admin/tasks/{two}/done")))
        .header("x-csrf-token", &ccsrf)
        .json(&json!({}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);
}
both!(tasks_are_assigned_done_and_dismissed_by_staff, tasks);
