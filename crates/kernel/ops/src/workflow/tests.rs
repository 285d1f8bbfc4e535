use super::*;
use lsn_core::clock::ManualClock;
use serde_json::json;
use std::sync::Mutex;

/// A fresh migrated database: SQLite in a temporary directory, or a new PostgreSQL database
/// under `LSN_TEST_DATABASE_URL`.
struct TestDb {
    db: Db,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = lsn_db::DbTarget::Sqlite(dir.path().join("wf.db"));
    let db = Db::connect_target(&target, 4, lsn_core::config::Durability::Full, 1).await.expect("open");
    db.migrate(&lsn_db::Schema::new(&[lsn_db::HISTORY]).expect("schema")).await.expect("migrate");
    TestDb { db, _dir: Some(dir) }
}

async fn postgres() -> Option<TestDb> {
    let Ok(admin) = std::env::var("LSN_TEST_DATABASE_URL") else {
        assert_ne!(std::env::var("LSN_TEST_REQUIRE_ALL").as_deref(), Ok("1"), "LSN_TEST_DATABASE_URL is not set");
        eprintln!("skipping PostgreSQL variant: LSN_TEST_DATABASE_URL not set");
        return None;
    };
    let name = format!("lsn_wf_{}", uuid::Uuid::new_v4().simple());
    let pool =
        Db::connect_target(&lsn_db::DbTarget::parse(&admin).expect("url"), 2, lsn_core::config::Durability::Full, 1).await.expect("admin");
    lsn_db::query(&format!("CREATE DATABASE {name}")).execute(pool.write()).await.expect("create database");
    pool.close().await;
    let mut url = url::Url::parse(&admin).expect("url");
    url.set_path(&format!("/{name}"));
    let db = Db::connect_target(&lsn_db::DbTarget::parse(url.as_str()).expect("url"), 8, lsn_core::config::Durability::Full, 1)
        .await
        .expect("open");
    db.migrate(&lsn_db::Schema::new(&[lsn_db::HISTORY]).expect("schema")).await.expect("migrate");
    Some(TestDb { db, _dir: None })
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = super::sqlite().await;
                super::$name(t.db.clone()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(t) = super::postgres().await {
                    super::$name(t.db.clone()).await;
                }
            }
        }
    };
}

/// What the steps did, in order (a fake provider's log).
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().expect("log").push(s.into());
    }
    fn all(&self) -> Vec<String> {
        self.0.lock().expect("log").clone()
    }
    fn count(&self, s: &str) -> usize {
        self.all().iter().filter(|x| *x == s).count()
    }
}

fn clock() -> (ManualClock, SharedClock) {
    let c = ManualClock::at_ms(1_800_000_000_000);
    (c.clone(), Arc::new(c))
}

fn logging(name: &'static str, log: &Log) -> Step {
    let (l, u) = (log.clone(), log.clone());
    Step::run(name, move |cx| {
        let l = l.clone();
        async move {
            l.push(cx.step);
            Ok(json!({"did": cx.step, "n": cx.input["n"]}))
        }
    })
    .undo(move |cx| {
        let u = u.clone();
        async move {
            u.push(format!("undo {}", cx.step));
            Ok(Value::Null)
        }
    })
}

async fn run_status(db: &Db, id: &str) -> String {
    detail(db, id).await.expect("detail").expect("run").0.status
}

#[test]
fn definitions_are_checked() {
    let log = Log::default();
    let ok = Workflow::new("w", 1, "").step(logging("a", &log)).step(logging("b", &log).after(&["a"]));
    assert!(ok.problems().is_empty(), "{:?}", ok.problems());
    let bad = Workflow::new("w", 1, "")
        .step(logging("a", &log).after(&["c"]))
        .step(logging("b", &log).after(&["a", "a"]))
        .step(logging("c", &log).after(&["b"]))
        .step(logging("a", &log))
        .step(logging("d", &log).after(&["ghost"]));
    let p = bad.problems().join("\n");
    assert!(p.contains("names step a twice"), "{p}");
    assert!(p.contains("names a twice in what it waits on"), "{p}");
    assert!(p.contains("waits on ghost, which is no step"), "{p}");
    assert!(p.contains("has a cycle through"), "{p}");
    assert!(Workflow::new("empty", 0, "").problems().len() == 2);
}

#[test]
fn backoff_doubles_caps_and_spreads() {
    let r = Retry { max_attempts: 10, initial: Duration::from_millis(100), max_delay: Duration::from_secs(1), jitter: 0.5 };
    assert_eq!(r.delay(1, 0.5), Duration::from_millis(100));
    assert_eq!(r.delay(2, 0.5), Duration::from_millis(200));
    assert_eq!(r.delay(3, 0.5), Duration::from_millis(400));
    assert_eq!(r.delay(9, 0.5), Duration::from_secs(1));
    assert_eq!(r.delay(1, 0.0), Duration::from_millis(50));
    assert!(r.delay(1, 0.999) >= Duration::from_millis(149));
    assert_eq!(r.delay(i64::MAX, 0.5), Duration::from_secs(1));
}

/// a → (b ∥ c) → d: parallel branches join, outputs flow, each step runs once.
async fn diamond_runs_each_step_once(db: Db) {
    let (_, clock) = clock();
    let log = Log::default();
    let l = log.clone();
    let wf = Workflow::new("diamond", 1, "test")
        .step(logging("a", &log))
        .step(logging("b", &log).after(&["a"]))
        .step(logging("c", &log).after(&["a"]))
        .step(
            Step::run("d", move |cx| {
                let l = l.clone();
                async move {
                    l.push("d");
                    Ok(json!([cx.output_of("b")["did"], cx.output_of("c")["did"]]))
                }
            })
            .after(&["b", "c"]),
        );
    let engine = Engine::new(db.clone(), clock, Definitions::new([wf]), "t");
    engine.prepare().await.expect("prepare");
    let id = engine.start("diamond", json!({"n": 7}), None).await.expect("start");
    engine.run_until_idle().await.expect("run");
    assert_eq!(run_status(&db, &id).await, "succeeded");
    let all = log.all();
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(all[0], "a");
    assert_eq!(all[3], "d");
    let (_, steps, _) = detail(&db, &id).await.expect("detail").expect("run");
    let d = steps.iter().find(|s| s.step == "d").expect("d");
    assert_eq!(d.output, Some(json!(["b", "c"])));
    assert!(steps.iter().all(|s| s.attempts == 1 && s.status == "done"));
    // Starting with a key twice starts one run.
    let k1 = engine.start("diamond", json!({}), Some("order:1".into())).await.expect("start");
    let k2 = engine.start("diamond", json!({}), Some("order:1".into())).await.expect("start");
    assert_eq!(k1, k2);
    assert!(matches!(engine.start("nope", json!({}), None).await, Err(WorkflowError::UnknownWorkflow(_))));
    let big = json!({"x": "y".repeat(MAX_INPUT)});
    assert!(matches!(engine.start("diamond", big, None).await, Err(WorkflowError::TooLarge(_))));
}
both!(diamond_runs_each_step_once);

/// A transient failure is retried after its backoff; the retries are on the timeline.
async fn retries_back_off(db: Db) {
    let (manual, clock) = clock();
    let tries = Arc::new(Mutex::new(0));
    let t = tries.clone();
    let wf = Workflow::new("flaky", 1, "test").step(
        Step::run("call", move |_| {
            let t = t.clone();
            async move {
                let mut n = t.lock().expect("n");
                *n += 1;
                if *n < 3 {
                    Err(StepError::Retry(format!("provider answered 503 ({n})")))
                } else {
                    Ok(json!("ok"))
                }
            }
        })
        .retry(Retry { max_attempts: 5, initial: Duration::from_secs(10), max_delay: Duration::from_secs(60), jitter: 0.0 }),
    );
    let engine = Engine::new(db.clone(), clock, Definitions::new([wf]), "t");
    let id = engine.start("flaky", json!({}), None).await.expect("start");
    engine.run_until_idle().await.expect("run");
    assert_eq!(run_status(&db, &id).await, "running");
    // Not due before its backoff.
    manual.advance(chrono::Duration::seconds(9));
    assert_eq!(engine.run_until_idle().await.expect("run"), 0);
    manual.advance(chrono::Duration::seconds(1));
    assert_eq!(engine.run_until_idle().await.expect("run"), 1);
    manual.advance(chrono::Duration::seconds(20));
    engine.run_until_idle().await.expect("run");
    assert_eq!(run_status(&db, &id).await, "succeeded");
    let (_, steps, events) = detail(&db, &id).await.expect("detail").expect("run");
    assert_eq!(steps[0].attempts, 3);
    assert_eq!(events.iter().filter(|e| e.event == "retry").count(), 2, "{events:?}");
    assert!(events[0].detail.as_deref().unwrap_or_default().contains("503 (1)"));
}
both!(retries_back_off);

/// A step that fails for good compensates the done steps, the last one first, and cancels
/// the steps not started; a failing step's retries are used up first.
async fn failure_compensates_in_reverse(db: Db) {
    let (_, clock) = clock();
    let log = Log::default();
    let l = log.clone();
    let wf = Workflow::new("order", 1, "test")
        .step(logging("reserve", &log))
        .step(logging("charge", &log).after(&["reserve"]))
        .step(logging("label", &log).after(&["reserve"]))
        .step(
            Step::run("ship", move |_| {
                let l = l.clone();
                async move {
                    l.push("ship");
                    Err(StepError::Fail("carrier refused the parcel".into()))
                }
            })
            .after(&["charge", "label"]),
        )
        .step(logging("notify", &log).after(&["ship"]));
    let engine = Engine::new(db.clone(), clock, Definitions::new([wf]), "t");
    let id = engine.start("order", json!({}), None).await.expect("start");
    engine.run_until_idle().await.expect("run");
    let (run, steps, events) = detail(&db, &id).await.expect("detail").expect("run");
    assert_eq!(run.status, "failed");
    assert_eq!(run.failed_step.as_deref(), Some("ship"));
    let all = log.all();
    let forward: Vec<&String> = all.iter().take(4).collect();
    assert_eq!(forward[0], "reserve");
    assert_eq!(forward[3], "ship");
    let undone: Vec<String> = all[4..].to_vec();
    // The reverse of the order the forward steps were recorded done in (the steps come in that
    // order); the parallel two in either order, the one they both waited on last.
    let mut expect: Vec<String> = steps.iter().filter(|s| s.status == "compensated").map(|s| format!("undo {}", s.step)).collect();
    expect.reverse();
    assert_eq!(undone, expect);
    assert_eq!(undone[2], "undo reserve");
    let status = |n: &str| steps.iter().find(|s| s.step == n).expect("step").status.clone();
    assert_eq!(status("notify"), "cancelled");
    assert_eq!(status("ship"), "failed");
    assert_eq!(status("reserve"), "compensated");
    assert_eq!(events.iter().filter(|e| e.event == "compensating").count(), 3);
    assert_eq!(log.count("notify"), 0);
}
both!(failure_compensates_in_reverse);

/// A wait takes a person's decision: a signal sent before the wait is reached is kept, a
/// second is refused, an unknown wait or run is named; a wait past its time takes its default.
async fn waits_take_signals(db: Db) {
    let (manual, clock) = clock();
    let log = Log::default();
    let l = log.clone();
    let wf = Workflow::new("payout", 1, "test").step(logging("calculate", &log)).step(Step::wait("approval").after(&["calculate"])).step(
        Step::run("transfer", move |cx| {
            let l = l.clone();
            async move {
                l.push(format!("transfer approved={}", cx.output_of("approval")["approved"]));
                Ok(Value::Null)
            }
        })
        .after(&["approval"]),
    );
    let timed = Workflow::new("timed", 1, "test")
        .step(Step::wait("answer").timeout(Duration::from_secs(3600)).on_timeout(OnTimeout::Continue(json!({"approved": false}))));
    let engine = Engine::new(db.clone(), clock, Definitions::new([wf, timed]), "t");
    let a = engine.start("payout", json!({}), Some("payout:a".into())).await.expect("start");
    engine.run_until_idle().await.expect("run");
    assert_eq!(log.all(), ["calculate"]);
    assert!(matches!(engine.signal(&a, "nope", json!({})).await, Err(WorkflowError::UnknownWait(_))));
    assert!(matches!(engine.signal("ghost", "approval", json!({})).await, Err(WorkflowError::UnknownRun(_))));
    // By the run's key, as a webhook knows it.
    engine.signal("payout:a", "approval", json!({"approved": true, "by": "founder"})).await.expect("signal");
    assert!(matches!(engine.signal(&a, "approval", json!({})).await, Err(WorkflowError::AlreadySignalled(_))));
    engine.run_until_idle().await.expect("run");
    assert_eq!(run_status(&db, &a).await, "succeeded");
    assert_eq!(log.all(), ["calculate", "transfer approved=true"]);
    assert!(matches!(engine.signal(&a, "approval", json!({})).await, Err(WorkflowError::RunFinished(_))));

    // A signal that arrives before its wait is reached is kept for it.
    let b = engine.start("payout", json!({}), None).await.expect("start");
    engine.signal(&b, "approval", json!({"approved": "early"})).await.expect("early signal");
    engine.run_until_idle().await.expect("run");
    assert_eq!(run_status(&db, &b).await, "succeeded");
    assert!(log.all().contains(&"transfer approved=\"early\"".to_string()));

    let t = engine.start("timed", json!({}), None).await.expect("start");
    engine.run_until_idle().await.expect("run");
    assert_eq!(run_status(&db, &t).await, "running");
    manual.advance(chrono::Duration::seconds(3601));
    engine.run_until_idle().await.expect("run");
    let (run, steps, _) = detail(&db, &t).await.expect("detail").expect("run");
    assert_eq!(run.status, "succeeded");
    assert_eq!(steps[0].output, Some(json!({"approved": false})));
}
both!(waits_take_signals);

/// A run keeps the version it started with; a changed plan under a version still running is
/// refused at start.
async fn runs_keep_their_version(db: Db) {
    let (_, clock) = clock();
    let log = Log::default();
    let (l1, l2) = (log.clone(), log.clone());
    let v1 = || {
        let l1 = l1.clone();
        Workflow::new("sync", 1, "test").step(Step::wait("go")).step(
            Step::run("work", move |_| {
                let l = l1.clone();
                async move {
                    l.push("v1");
                    Ok(Value::Null)
                }
            })
            .after(&["go"]),
        )
    };
    let v2 = Workflow::new("sync", 2, "test").step(Step::wait("go")).step(
        Step::run("work", move |_| {
            let l = l2.clone();
            async move {
                l.push("v2");
                Ok(Value::Null)
            }
        })
        .after(&["go"]),
    );
    let old = Engine::new(db.clone(), clock.clone(), Definitions::new([v1()]), "t");
    old.prepare().await.expect("prepare");
    let first = old.start("sync", json!({}), None).await.expect("start");
    // The next release ships version 2 beside version 1.
    let new = Engine::new(db.clone(), clock.clone(), Definitions::new([v1(), v2]), "t");
    new.prepare().await.expect("prepare");
    let second = new.start("sync", json!({}), None).await.expect("start");
    new.signal(&first, "go", json!(1)).await.expect("signal");
    new.signal(&second, "go", json!(2)).await.expect("signal");
    new.run_until_idle().await.expect("run");
    let mut all = log.all();
    all.sort();
    assert_eq!(all, ["v1", "v2"]);
    assert_eq!(detail(&db, &first).await.expect("d").expect("run").0.version, 1);

    // Version 1's plan changed while a run of it waits: refused, and nothing touched.
    let third = new.start("sync", json!({}), None).await.expect("start");
    lsn_db::query("UPDATE workflow_runs SET version = 1 WHERE id = $1").bind(&third).execute(db.write()).await.expect("pin to v1");
    let changed = Workflow::new("sync", 1, "test").step(Step::wait("go")).step(logging("other", &log).after(&["go"]));
    let bad = Engine::new(db.clone(), clock, Definitions::new([changed]), "t");
    let err = bad.prepare().await.expect_err("refused");
    assert_eq!(err.code().as_str(), "definitions_changed");
    assert!(err.to_string().contains("give the new steps version 2"), "{err}");
}
both!(runs_keep_their_version);

/// A process killed while a step ran: at start the step is put back and runs again under the
/// same key; the steps done before it are not run again.
async fn killed_process_resumes(db: Db) {
    let (manual, clock) = clock();
    let log = Log::default();
    let wf = || Workflow::new("resume", 1, "test").step(logging("one", &log)).step(logging("two", &log).after(&["one"]));
    let engine = Engine::new(db.clone(), clock.clone(), Definitions::new([wf()]), "dead");
    let id = engine.start("resume", json!({}), None).await.expect("start");
    // Step one completes; step two is claimed, and the process dies before recording it.
    let units = engine.claim(10).await.expect("claim");
    let cxs = engine.contexts(&units).await.expect("cx");
    let done: Vec<Finished> = futures::future::join_all(units.into_iter().map(|u| {
        let cx = cxs.get(&u.run_id);
        engine.execute(u, cx)
    }))
    .await;
    engine.record(done).await.expect("record");
    let claimed = engine.claim(10).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].step, "two");
    drop(engine);
    let key_then = format!("wf:{id}:two");
    // A new process starts.
    let next = Engine::new(db.clone(), clock, Definitions::new([wf()]), "alive");
    let put_back = next.prepare().await.expect("prepare");
    if db.backend() == lsn_db::Backend::Sqlite {
        assert_eq!(put_back, 1);
    } else {
        // On PostgreSQL the dead node's lock must expire first.
        assert_eq!(put_back, 0);
        manual.advance(chrono::Duration::minutes(12));
        assert_eq!(next.prepare().await.expect("prepare"), 1);
    }
    next.run_until_idle().await.expect("run");
    assert_eq!(run_status(&db, &id).await, "succeeded");
    assert_eq!(log.count("one"), 1);
    assert_eq!(log.count("two"), 1);
    let (_, steps, _) = detail(&db, &id).await.expect("d").expect("run");
    assert_eq!(steps.iter().find(|s| s.step == "two").expect("two").attempts, 2);
    assert_eq!(key_then, format!("wf:{id}:two"));
}
both!(killed_process_resumes);

/// A compensation that keeps failing stops the run as `compensation_failed` and opens a task
/// for a person, who retries it; a person can cancel a run.
async fn failed_compensation_asks_a_person(db: Db) {
    let (_, clock) = clock();
    let log = Log::default();
    let broken = Arc::new(Mutex::new(true));
    let (b, l) = (broken.clone(), log.clone());
    let wf = Workflow::new("refund", 1, "test")
        .step(Step::run("hold", |_| async { Ok(json!("held")) }).undo(move |cx| {
            let (b, l) = (b.clone(), l.clone());
            async move {
                if *b.lock().expect("b") {
                    return Err(StepError::Fail("provider down".into()));
                }
                l.push(format!("released {}", cx.output_of("hold")));
                Ok(Value::Null)
            }
        }))
        .step(Step::run("capture", |_| async { Err(StepError::Fail("card declined".into())) }).after(&["hold"]))
        .step(Step::wait("never").after(&["capture"]));
    let engine = Engine::new(db.clone(), clock, Definitions::new([wf]), "t");
    let id = engine.start("refund", json!({}), None).await.expect("start");
    engine.run_until_idle().await.expect("run");
    assert_eq!(run_status(&db, &id).await, "compensation_failed");
    let tasks = crate::tasks::recent(&db, 10).await.expect("tasks");
    assert!(tasks.iter().any(|t| t.kind == "workflow.compensation_failed" && t.reference.as_deref() == Some(&id)), "{tasks:?}");
    assert!(matches!(engine.cancel(&id, "ops").await, Err(WorkflowError::WrongState(..))));
    *broken.lock().expect("b") = false;
    engine.retry_compensation(&id, "founder").await.expect("retry");
    engine.run_until_idle().await.expect("run");
    assert_eq!(run_status(&db, &id).await, "failed");
    assert_eq!(log.all(), ["released \"held\""]);
    assert!(matches!(engine.retry_compensation(&id, "x").await, Err(WorkflowError::WrongState(..))));

    // Cancelled while waiting: the done step is undone and the run ends cancelled.
    let wait = Workflow::new("wait", 1, "test").step(logging("first", &log)).step(Step::wait("decision").after(&["first"]));
    let engine = Engine::new(db.clone(), engine.clock.clone(), Definitions::new([wait]), "t");
    let id = engine.start("wait", json!({}), None).await.expect("start");
    engine.run_until_idle().await.expect("run");
    engine.cancel(&id, "founder").await.expect("cancel");
    engine.run_until_idle().await.expect("run");
    assert_eq!(run_status(&db, &id).await, "cancelled");
    assert!(log.all().contains(&"undo first".to_string()));
}
both!(failed_compensation_asks_a_person);

/// The engine's own loop: many runs with parallel steps, run concurrently to the end.
async fn the_loop_finishes_every_run(db: Db) {
    let clock: SharedClock = Arc::new(lsn_core::clock::SystemClock);
    let log = Log::default();
    let wf = Workflow::new("many", 1, "test")
        .step(logging("a", &log))
        .step(logging("b", &log).after(&["a"]))
        .step(logging("c", &log).after(&["a"]))
        .step(logging("d", &log).after(&["b", "c"]));
    let engine = Engine::new(db.clone(), clock, Definitions::new([wf]), "loop").concurrency(64);
    let (stop, rx) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(engine.clone().run(rx));
    let mut ids = Vec::new();
    for i in 0..200 {
        ids.push(engine.start("many", json!({"n": i}), None).await.expect("start"));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let c = counts(&db).await.expect("counts");
        if c.iter().any(|(s, n)| s == "succeeded" && *n == 200) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not done: {c:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    handle.await.expect("engine stops");
    for s in ["a", "b", "c", "d"] {
        assert_eq!(log.count(s), 200, "{s}");
    }
}
both!(the_loop_finishes_every_run);
