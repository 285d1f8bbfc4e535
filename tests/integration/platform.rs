//! The platform through HTTP and the library: health, readiness, metrics, errors, core data,
//! jobs with retries and schedules, the outbox, backup and restore.

use crate::both;
use crate::common::{json, TestApp};
use lsn_core::Clock;
use lsn_ops::jobs::{JobContext, JobError, JobHandler, NewJob, Outcome, Registry, Worker};
use lsn_ops::Schedule;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

async fn health_ready_metrics(app: TestApp) {
    let r = reqwest::get(app.url("/healthz")).await.expect("send");
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-request-id").is_some(), "every response carries a request id");
    assert_eq!(r.headers().get("x-content-type-options").map(|v| v.to_str().unwrap_or("")), Some("nosniff"));
    assert!(r.headers().get("content-security-policy").is_some_and(|v| v.to_str().unwrap_or("").contains("frame-ancestors 'none'")));
    assert!(r.headers().get("strict-transport-security").is_none(), "HSTS only in production");
    let (s, ready) = json(reqwest::get(app.url("/readyz")).await.expect("send")).await;
    assert_eq!(s, 200);
    assert_eq!(ready["checks"]["migrations"]["ok"], true);
    assert_eq!(ready["checks"]["database"]["backend"], if app.backend == crate::common::Backend::Sqlite { "SQLite" } else { "PostgreSQL" });
    let text = reqwest::get(app.url("/metrics")).await.expect("send").text().await.expect("text");
    assert!(text.contains("lsn_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"), "{text}");
    assert!(text.contains("lsn_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\""));
    assert!(text.contains("lsn_db_pool_connections{pool=\"read\",state=\"open\"}"));
    assert!(text.contains("# TYPE lsn_jobs gauge"));

    // Unknown API paths get JSON, unknown pages a friendly page; neither leaks anything.
    let (s, body) = json(reqwest::get(app.url("/api/nope")).await.expect("send")).await;
    assert_eq!((s, body["error"]["code"].as_str()), (404, Some("not_found")));
    let r = reqwest::get(app.url("/no/such/page")).await.expect("send");
    assert_eq!(r.status(), 404);
    assert!(r.text().await.expect("text").contains("Page not found"));
    let home = reqwest::get(app.url("/")).await.expect("send").text().await.expect("text");
    assert!(home.contains("<title>Live shopping · LSN Live</title>") && home.contains("action=\"/search\""), "the storefront home");
}
both!(health_readiness_metrics_errors, health_ready_metrics);

async fn core_data_idempotent(app: TestApp) {
    let db = &app.rt.state.db;
    let c = lsn_warehouse::counts(db).await.expect("counts");
    assert_eq!((c.warehouses, c.zones, c.bins, c.channels, c.suppliers), (1, 4, 150, 1, 1));
    assert!(c.problems().is_empty());
    assert_eq!(lsn_warehouse::init(db, 0).await.expect("init"), 0, "a second init inserts nothing");
    assert_eq!(lsn_warehouse::counts(db).await.expect("counts"), c);
}
both!(core_data_is_idempotent, core_data_idempotent);

struct Flaky {
    calls: Arc<AtomicUsize>,
    succeed_on: usize,
}

#[async_trait::async_trait]
impl JobHandler for Flaky {
    async fn run(&self, _ctx: &JobContext, payload: &Value) -> Result<(), JobError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if payload["fatal"] == true {
            return Err(JobError::Fail("cannot ever work".into()));
        }
        if n >= self.succeed_on {
            Ok(())
        } else {
            Err(JobError::Retry(format!("attempt {n} failed")))
        }
    }
}

async fn jobs_retry_and_die(app: TestApp) {
    let db = app.rt.state.db.clone();
    let clock = Arc::new(app.clock.clone());
    let calls = Arc::new(AtomicUsize::new(0));
    let mut reg = Registry::new();
    reg.register("test.flaky", Arc::new(Flaky { calls: calls.clone(), succeed_on: 3 }));
    let worker = Worker::new(db.clone(), reg, clock.clone());
    let now = app.clock.now_ms();
    lsn_ops::enqueue(db.write(), &NewJob::new("test.flaky", json!({})).max_attempts(5), now).await.expect("enqueue");
    let first = worker.run_one().await.expect("run").expect("a job");
    assert_eq!(first.outcome, Outcome::Retrying { next_run_at: now + 10_000 });
    assert!(worker.run_one().await.expect("run").is_none(), "not due before its backoff");
    app.clock.advance(chrono::Duration::seconds(10));
    assert!(matches!(worker.run_one().await.expect("run").expect("job").outcome, Outcome::Retrying { .. }));
    app.clock.advance(chrono::Duration::seconds(20));
    assert_eq!(worker.run_one().await.expect("run").expect("job").outcome, Outcome::Succeeded);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let runs = lsn_ops::schedule::history(&db, "test.flaky", 10).await.expect("history");
    assert_eq!(runs.iter().map(|r| r.outcome.as_str()).collect::<Vec<_>>(), vec!["succeeded", "failed", "failed"]);

    // Exhausted attempts and permanent failures end dead.
    lsn_ops::enqueue(db.write(), &NewJob::new("test.flaky", json!({"fatal": true})), app.clock.now_ms()).await.expect("enqueue");
    assert_eq!(worker.run_one().await.expect("run").expect("job").outcome, Outcome::Dead);
    lsn_ops::enqueue(db.write(), &NewJob::new("test.nohandler", json!({})), app.clock.now_ms()).await.expect("enqueue");
    assert_eq!(worker.run_one().await.expect("run").expect("job").outcome, Outcome::Dead);
    // A dedupe key enqueues once.
    let k = NewJob::new("test.flaky", json!({})).dedupe("once");
    assert!(lsn_ops::enqueue(db.write(), &k, 0).await.expect("enqueue").is_some());
    assert!(lsn_ops::enqueue(db.write(), &k, 0).await.expect("enqueue").is_none());
    let depth = lsn_ops::jobs::queue_depth(&db).await.expect("depth");
    assert!(depth.contains(&("dead".to_string(), 2)), "{depth:?}");
}
both!(jobs_retry_with_backoff_then_dead, jobs_retry_and_die);

/// A job left running by a process that was killed: on SQLite the next start puts it back at
/// once; on PostgreSQL (other nodes may be working) only once its lock has expired.
async fn orphaned_jobs(app: TestApp) {
    let db = app.rt.state.db.clone();
    let now = app.clock.now_ms();
    lsn_ops::enqueue(db.write(), &NewJob::new("test.orphan", json!({})), now).await.expect("enqueue");
    lsn_db::query("UPDATE jobs SET status = 'running', locked_by = 'dead-node', locked_until = $1 WHERE kind = 'test.orphan'")
        .bind(now + 300_000)
        .execute(db.write())
        .await
        .expect("claim");
    let back = app.rt.worker.reclaim_orphans().await.expect("reclaim");
    let status: String = lsn_db::RowExt::try_get(
        &lsn_db::query("SELECT status FROM jobs WHERE kind = 'test.orphan'").fetch_one(db.read()).await.expect("job"),
        0,
    )
    .expect("status");
    match db.backend() {
        lsn_db::Backend::Sqlite => assert_eq!((back, status.as_str()), (1, "queued")),
        lsn_db::Backend::Postgres => {
            assert_eq!((back, status.as_str()), (0, "running"));
            app.clock.advance(chrono::Duration::minutes(6));
            assert_eq!(app.rt.worker.reclaim_stale().await.expect("stale"), 1);
        }
    }
}
both!(orphaned_jobs_go_back_to_the_queue, orphaned_jobs);

async fn schedules_fire_once(app: TestApp) {
    let db = app.rt.state.db.clone();
    let tz = chrono_tz::Australia::Sydney;
    let a = lsn_ops::Scheduler::new(db.clone(), tz, "node-a", false);
    let b = lsn_ops::Scheduler::new(db.clone(), tz, "node-b", false);
    let sched = [Schedule {
        name: "test_every_minute",
        cron: "0 * * * * *",
        job_kind: "test.tick",
        payload: json!({}),
        description: "test",
        autonomous: false,
    }];
    a.register(&sched, app.clock.now()).await.expect("register");
    b.register(&sched, app.clock.now()).await.expect("register");
    app.clock.advance(chrono::Duration::seconds(61));
    // Only the lease holder enqueues, and only once per due time.
    // (The runtime's own schedules may fall due in the same minute, depending on the hour the
    // test runs: only this test's schedule is looked at.)
    let mine = |fired: Vec<String>| fired.into_iter().filter(|n| n.starts_with("test_")).collect::<Vec<_>>();
    let fired_a = mine(a.tick(app.clock.now()).await.expect("tick"));
    let fired_b = mine(b.tick(app.clock.now()).await.expect("tick"));
    let fired_a2 = mine(a.tick(app.clock.now()).await.expect("tick"));
    assert_eq!(fired_a, vec!["test_every_minute".to_string()]);
    assert!(fired_b.is_empty() && fired_a2.is_empty());
    // When the leader goes quiet past its lease, the other node takes over.
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(mine(b.tick(app.clock.now()).await.expect("tick")), vec!["test_every_minute".to_string()]);
    let n: i64 = lsn_db::RowExt::try_get(
        &lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM jobs WHERE kind = 'test.tick'").fetch_one(db.read()).await.expect("count"),
        0,
    )
    .expect("n");
    assert_eq!(n, 2);
    let list = lsn_ops::schedule::list(&db).await.expect("list");
    for name in ["backup_daily", "backup_hourly", "session_cleanup", "test_every_minute"] {
        assert!(list.iter().any(|s| s.name == name), "{name} registered");
    }
}
both!(schedules_fire_once_across_nodes, schedules_fire_once);

async fn outbox_delivers_once(app: TestApp) {
    let db = app.rt.state.db.clone();
    let now = app.clock.now_ms();
    db.transaction(move |tx| {
        Box::pin(async move {
            lsn_ops::publish(tx, now, "order.placed", Some("o1"), &json!({"order": "o1"})).await?;
            lsn_ops::publish(tx, now, "payment.failed", Some("o2"), &json!({})).await?;
            Ok::<_, lsn_db::Error>(())
        })
    })
    .await
    .expect("publish");
    // A rolled-back change publishes nothing.
    let _ = db
        .transaction(move |tx| {
            Box::pin(async move {
                lsn_ops::publish(tx, now, "order.placed", Some("o3"), &json!({})).await?;
                Err::<(), _>(lsn_db::Error::row_not_found())
            })
        })
        .await;
    let subs = [
        lsn_ops::Subscriber { name: "fraud", topic: "order.*", job_kind: "fraud.check" },
        lsn_ops::Subscriber { name: "analytics", topic: "*", job_kind: "analytics.track" },
    ];
    assert_eq!(lsn_ops::outbox::dispatch(&db, &subs, now, 100).await.expect("dispatch"), 2);
    assert_eq!(lsn_ops::outbox::dispatch(&db, &subs, now, 100).await.expect("dispatch"), 0);
    let rows = lsn_db::query("SELECT kind, payload FROM jobs ORDER BY kind").fetch_all(db.read()).await.expect("jobs");
    let kinds: Vec<String> = rows.iter().map(|r| lsn_db::RowExt::try_get(r, 0).expect("kind")).collect();
    assert_eq!(kinds, vec!["analytics.track", "analytics.track", "fraud.check"]);
    let payload: String = lsn_db::RowExt::try_get(&rows[2], 1).expect("payload");
    let v: Value = serde_json::from_str(&payload).expect("json");
    assert_eq!((v["topic"].as_str(), v["payload"]["order"].as_str()), (Some("order.placed"), Some("o1")));
}
both!(outbox_dispatches_each_event_once, outbox_delivers_once);

async fn backup_restore(app: TestApp) {
    app.user("keep@example.com", lsn_identity::Role::Customer).await;
    let dir = app.data_dir.path().join("backups");
    let db = app.rt.state.db.clone();
    let b = db.backup(&dir, lsn_db::backup::BackupKind::Daily, chrono::Utc::now()).await.expect("backup");
    assert!(b.bytes > 0 && b.path.exists());
    assert!(!std::fs::read_dir(&dir).expect("dir").any(|e| e.expect("entry").file_name().to_string_lossy().ends_with(".partial")));

    // Restoring over the live shop is refused without --force.
    let live = db.target().clone();
    let err = lsn_db::backup::restore(&b.path, &live, false).await.expect_err("refused");
    assert!(err.to_string().contains("--force"), "{err}");

    // A truncated backup is refused before anything is touched.
    let truncated = dir.join(b.path.file_name().expect("name").to_string_lossy().replace("daily", "hourly"));
    let bytes = std::fs::read(&b.path).expect("read");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let err = lsn_db::backup::restore(&truncated, &live, true).await.expect_err("truncated");
    assert!(err.to_string().contains("truncated") || err.to_string().contains("incomplete"), "{err}");
    assert!(app.identity().user_by_email("keep@example.com").await.expect("lookup").is_some(), "live data untouched");

    // Into a fresh database it restores and verifies.
    let (fresh_url, _keep) = crate::common::fresh_database(app.backend).await.expect("fresh");
    let target = lsn_db::DbTarget::parse(&fresh_url).expect("target");
    let report = lsn_db::backup::restore(&b.path, &target, false).await.expect("restore");
    assert_eq!(report.users, 1);
    assert_eq!(report.migration_version, lsn_web::schema().latest());
    let restored = lsn_db::Db::connect_target(&target, 2, lsn_core::config::Durability::Full, 1).await.expect("open");
    assert_eq!(lsn_warehouse::counts(&restored).await.expect("counts").bins, 150);
    // And with --force over a live database.
    let again = lsn_db::backup::restore(&b.path, &target, true).await.expect("forced restore");
    assert_eq!(again.users, 1);
    restored.close().await;
}
both!(backup_and_restore, backup_restore);
