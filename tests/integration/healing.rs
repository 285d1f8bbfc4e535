//! Self-healing: a provider that keeps failing opens its circuit breaker (calls then fail fast
//! and `provider_unavailable` is raised), the probe after the cool-down closes it, each step is
//! a healing event and the breaker's row shows it; the cleanup removes what is past retention
//! and reports it; the autonomy dashboard and its API show all of it. On both databases.

use crate::both;
use crate::common::{json, TestApp};
use lsn_ops::healing::{BreakerConfig, Outcome, State};

async fn breaker_opens_probes_and_closes(app: TestApp) {
    let healing = app.rt.state.healing.clone();
    let cfg = BreakerConfig { failures: 3, cooldown_ms: 10_000, ..BreakerConfig::default() };
    let b = healing.breaker("fake_provider", cfg);
    // A provider fake that fails three times.
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let fake = |fail: bool| {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if fail {
                Err::<(), String>("fake provider answered 503".into())
            } else {
                Ok(())
            }
        }
    };
    let classify = |r: &Result<(), String>| match r {
        Ok(()) => Outcome::Success,
        Err(e) => Outcome::Failure(e.clone()),
    };
    for _ in 0..3 {
        assert!(b.call(fake(true), classify).await.expect("closed: called").is_err());
    }
    assert_eq!(b.state(), State::Open);
    let refused = b.call(fake(false), classify).await.expect_err("open: refused");
    assert_eq!((refused.name, refused.retry_in_secs), ("fake_provider", 10));
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3, "an open breaker does not call the provider");
    let alert = lsn_ops::alerts::list(&app.rt.state.db, Some("firing"), 10).await.expect("alerts");
    assert!(
        alert.iter().any(|a| a.alert_type == "provider_unavailable" && a.group_key == "provider_unavailable:fake_provider"),
        "{alert:?}"
    );

    // After the cool-down one probe goes through; it fails: open again.
    app.clock.advance(chrono::Duration::seconds(10));
    assert!(b.call(fake(true), classify).await.expect("probe").is_err());
    assert_eq!(b.state(), State::Open);
    // The next probe succeeds: closed, and the alert resolved.
    app.clock.advance(chrono::Duration::seconds(10));
    assert!(b.call(fake(false), classify).await.expect("probe").is_ok());
    assert_eq!(b.state(), State::Closed);
    assert!(b.call(fake(false), classify).await.expect("closed").is_ok());
    let firing = lsn_ops::alerts::list(&app.rt.state.db, Some("firing"), 10).await.expect("alerts");
    assert!(!firing.iter().any(|a| a.alert_type == "provider_unavailable"), "{firing:?}");

    let admin = "healer@shop.example";
    app.user(admin, lsn_identity::Role::Admin).await;
    let (c, _) = app.login(admin).await;
    let (status, body) = json(c.get(app.url("/api/v1/admin/healing?component=fake_provider")).send().await.expect("get")).await;
    assert_eq!(status, 200, "{body}");
    let actions: Vec<&str> = body["events"].as_array().expect("events").iter().rev().map(|e| e["action"].as_str().unwrap_or("")).collect();
    assert_eq!(actions, ["breaker_opened", "breaker_half_open", "breaker_opened", "breaker_half_open", "breaker_closed"], "{body}");
    let row = body["breakers"].as_array().expect("breakers").iter().find(|r| r["name"] == "fake_provider").cloned().expect("row");
    assert_eq!(row["state"], "closed", "{body}");
    assert_eq!(row["node_id"], healing.node_id());

    let (status, all) = json(c.get(app.url("/api/v1/admin/autonomy")).send().await.expect("get")).await;
    assert_eq!(status, 200, "{all}");
    for key in [
        "schedules",
        "healing",
        "breakers",
        "workflow_counts",
        "workflow_failures",
        "waits",
        "decisions",
        "escalations",
        "alerts",
        "incidents",
        "tasks",
    ] {
        assert!(all[key].is_array(), "{key} missing in {all}");
    }
    assert!(all["schedules"].as_array().expect("schedules").iter().any(|s| s["name"] == "cleanup"), "{all}");
    let page = c.get(app.url("/admin/autonomy")).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("fake_provider") && html.contains("circuit breaker closed") && html.contains("Scheduled tasks"), "{html}");
    assert!(html.contains("href=\"/admin/autonomy\""), "in the admin navigation");
}
both!(breaker_opens_probes_and_closes_and_is_shown, breaker_opens_probes_and_closes);

/// A refusal of the request (a 4xx) shows the provider is up: it never opens the breaker.
async fn refusals_do_not_open_the_breaker(app: TestApp) {
    let b = app.rt.state.healing.breaker("refusing", BreakerConfig { failures: 2, ..BreakerConfig::default() });
    for _ in 0..10 {
        let _ = b.call(async { Err::<(), ()>(()) }, |_| Outcome::Neutral).await.expect("called");
    }
    assert_eq!(b.state(), State::Closed);
    // A failure rate over the window opens it even without consecutive failures.
    let r = app.rt.state.healing.breaker("flaky", BreakerConfig { failures: 100, min_calls: 10, rate: 0.5, ..BreakerConfig::default() });
    for i in 0..11 {
        let _ = r.call(async { Ok::<(), ()>(()) }, |_| if i % 2 == 0 { Outcome::Failure("5xx".into()) } else { Outcome::Success }).await;
    }
    assert_eq!(r.state(), State::Open);
}
both!(refusals_do_not_open_the_breaker_but_a_failure_rate_does, refusals_do_not_open_the_breaker);

async fn cleanup_removes_what_is_past_retention(app: TestApp) {
    let db = app.rt.state.db.clone();
    let now = lsn_core::Clock::now_ms(&app.clock);
    let old = now - 400 * 86_400_000;
    for (i, at) in [old, old, now].iter().enumerate() {
        lsn_db::query(
            "INSERT INTO jobs (id, kind, payload, status, priority, run_at, attempts, max_attempts, created_at, updated_at, finished_at) \
             VALUES ($1, 'x', '{}', 'succeeded', 100, $2, 1, 1, $2, $2, $2)",
        )
        .bind(format!("old-job-{i}"))
        .bind(*at)
        .execute(db.write())
        .await
        .expect("job");
        lsn_db::query("INSERT INTO job_runs (id, job_id, kind, attempt, started_at, finished_at, outcome, worker) VALUES ($1, $2, 'x', 1, $3, $3, 'succeeded', 'w')")
            .bind(format!("old-run-{i}"))
            .bind(format!("old-job-{i}"))
            .bind(*at)
            .execute(db.write())
            .await
            .expect("run");
        lsn_ops::healing::record(&db, *at, "n", "test", "cleaned", "done", "").await.expect("event");
    }
    // A queued job is never removed, however old.
    lsn_db::query(
        "INSERT INTO jobs (id, kind, payload, status, priority, run_at, attempts, max_attempts, created_at, updated_at) \
         VALUES ('queued-old', 'x', '{}', 'queued', 100, $1, 0, 1, $1, $1)",
    )
    .bind(old)
    .execute(db.write())
    .await
    .expect("queued");
    let removed = lsn_ops::cleanup::run(&db, now, lsn_ops::cleanup::Retention::default()).await.expect("cleanup");
    assert_eq!((removed.jobs, removed.job_runs, removed.healing_events), (2, 2, 2), "{removed:?}");
    let left: i64 = lsn_db::RowExt::try_get(
        &lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM jobs WHERE id IN ('old-job-0', 'old-job-1', 'old-job-2', 'queued-old')")
            .fetch_one(db.read())
            .await
            .expect("count"),
        0,
    )
    .expect("n");
    assert_eq!(left, 2, "the recent job and the queued one stay");
    // The scheduled run reports its counts and records itself.
    lsn_ops::jobs::enqueue(db.write(), &lsn_ops::NewJob::new(lsn_ops::cleanup::CLEANUP_JOB, serde_json::json!({})), now)
        .await
        .expect("enqueue");
    let runs = app.run_jobs().await;
    let run = runs.iter().find(|r| r.kind == lsn_ops::cleanup::CLEANUP_JOB).expect("ran");
    assert_eq!(run.outcome, lsn_ops::jobs::Outcome::Succeeded);
    let history = lsn_ops::schedule::recent_runs(&db, 20).await.expect("history");
    assert!(
        history
            .iter()
            .any(|h| h.kind == lsn_ops::cleanup::CLEANUP_JOB && h.output.as_deref().is_some_and(|o| o.starts_with("removed 0 jobs"))),
        "{history:?}"
    );
    let events = lsn_ops::healing::events(&db, Some("cleanup"), 10).await.expect("events");
    assert!(events.is_empty(), "a cleanup that removed nothing is no healing event: {events:?}");
}
both!(cleanup_removes_what_is_past_retention_and_reports_it, cleanup_removes_what_is_past_retention);
