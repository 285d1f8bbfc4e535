//! Durable workflows in the real runtime (issue 15, item 2): a module's workflow, folded like any
//! other, runs on the engine `lsn serve` starts; a person's decision reaches its wait through the
//! staff API; bad requests get clear 4xx answers and change nothing; a run survives a restart.

use crate::common::{json, TestApp};
use lsn_identity::Role;
use lsn_ops::workflow::{OnTimeout, Step, StepError, Workflow};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Side effects of the test workflow, by the key the engine gives each step (a fake provider
/// that applies each key once and counts repeats).
static APPLIED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
static UNDONE: AtomicUsize = AtomicUsize::new(0);

fn apply(key: String) {
    let mut a = APPLIED.lock().unwrap_or_else(|e| e.into_inner());
    if !a.contains(&key) {
        a.push(key);
    }
}

fn applied(run: &str) -> Vec<String> {
    APPLIED.lock().unwrap_or_else(|e| e.into_inner()).iter().filter(|k| k.contains(run)).cloned().collect()
}

fn test_modules() -> Vec<lsn_ops::Module> {
    let wf = Workflow::new("test_payout", 1, "a payout that waits for a person's approval")
        .step(Step::run("calculate", |cx| async move {
            apply(cx.key());
            Ok(json!({"amount": cx.input["amount"]}))
        }))
        .step(Step::wait("approval").after(&["calculate"]).timeout(Duration::from_secs(48 * 3600)).on_timeout(OnTimeout::Fail))
        .step(
            Step::run("transfer", |cx| async move {
                if cx.output_of("approval")["approved"] != json!(true) {
                    return Err(StepError::Fail("refused by a person".into()));
                }
                apply(cx.key());
                Ok(json!({"transfer": cx.key()}))
            })
            .after(&["approval"]),
        )
        .step(
            Step::run("reserve_funds", |cx| async move {
                apply(cx.key());
                Ok(Value::Null)
            })
            .undo(|_| async move {
                UNDONE.fetch_add(1, Ordering::SeqCst);
                Ok(Value::Null)
            }),
        );
    vec![lsn_ops::Module::new("test-workflows").workflow(wf)]
}

async fn wait_for(app: &TestApp, run: &str, status: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (run_row, _, _) = lsn_ops::workflow::detail(&app.rt.state.db, run).await.expect("detail").expect("run");
        if run_row.status == status {
            return serde_json::to_value(run_row).expect("json");
        }
        assert!(std::time::Instant::now() < deadline, "run {run} is {} after 30 s, not {status}", run_row.status);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn decisions_and_refusals(backend: crate::common::Backend) {
    let Some(app) = TestApp::spawn_with_modules(backend, &[], true, test_modules).await else { return };
    app.user("ops@example.com", Role::Admin).await;
    app.user("buyer@example.com", Role::Customer).await;
    let (c, csrf) = app.login("ops@example.com").await;
    let (buyer, buyer_csrf) = app.login("buyer@example.com").await;
    let engine = &app.rt.engine;

    let run = engine.start("test_payout", json!({"amount": 61000}), Some("payout:p1".into())).await.expect("start");
    let waiting = async {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (_, steps, _) = lsn_ops::workflow::detail(&app.rt.state.db, &run).await.expect("detail").expect("run");
            if steps.iter().any(|s| s.step == "approval" && s.status == "waiting")
                && steps.iter().filter(|s| s.status == "done").count() == 2
            {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "never reached the wait: {steps:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    };
    waiting.await;

    // Staff see it, by id and by the key it was started with; a customer and a visitor do not.
    let (s, b) = json(c.get(app.url("/api/v1/admin/workflows?status=running")).send().await.expect("list")).await;
    assert_eq!(s, 200, "{b}");
    assert!(b["runs"].as_array().expect("runs").iter().any(|r| r["id"] == run.as_str()));
    let (s, b) = json(c.get(app.url("/api/v1/admin/workflows/payout:p1")).send().await.expect("show")).await;
    assert_eq!((s, b["run"]["id"].as_str()), (200, Some(run.as_str())), "{b}");
    let (s, _) = json(buyer.get(app.url("/api/v1/admin/workflows")).send().await.expect("list")).await;
    assert_eq!(s, 403);
    let path = format!("/api/v1/admin/workflows/{run}/signal/approval");
    let (s, _) =
        json(buyer.post(app.url(&path)).header("x-csrf-token", &buyer_csrf).json(&json!({"approved": true})).send().await.expect("x"))
            .await;
    assert_eq!(s, 403);
    let (s, _) = json(app.client().get(app.url("/api/v1/admin/workflows")).send().await.expect("list")).await;
    assert_eq!(s, 401);

    // Bad requests: a clear 4xx each, and the run still waits.
    let post = |path: String, body: Value| c.post(app.url(&path)).header("x-csrf-token", &csrf).json(&body).send();
    let (s, b) = json(c.get(app.url("/api/v1/admin/workflows?status=bogus")).send().await.expect("list")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("invalid_query")), "{b}");
    let (s, b) = json(post(format!("/api/v1/admin/workflows/{run}/signal/nope"), json!({})).await.expect("x")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("unknown_wait")), "{b}");
    let (s, b) = json(post("/api/v1/admin/workflows/ghost/signal/approval".into(), json!({})).await.expect("x")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("not_found")), "{b}");
    let (s, b) = json(post(path.clone(), json!({"note": "x".repeat(70_000)})).await.expect("x")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (413, Some("payload_too_large")), "{b}");
    let (s, b) = json(
        c.post(app.url(&path))
            .header("x-csrf-token", &csrf)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .expect("x"),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = json(post(format!("/api/v1/admin/workflows/{run}/retry"), json!({})).await.expect("x")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("wrong_state")), "{b}");
    assert_eq!(wait_for(&app, &run, "running").await["status"], "running");

    // The decision: approved, once.
    let (s, b) = json(post(path.clone(), json!({"approved": true, "note": "checked the invoice"})).await.expect("signal")).await;
    assert_eq!(s, 200, "{b}");
    // A second decision is refused: the wait was signalled, or (the engine being quick) the run
    // has already ended.
    let (s, b) = json(post(path.clone(), json!({"approved": false})).await.expect("signal")).await;
    assert_eq!(s, 409, "{b}");
    assert!(matches!(b["error"]["code"].as_str(), Some("already_signalled" | "run_finished")), "{b}");
    wait_for(&app, &run, "succeeded").await;
    let (_, b) = json(c.get(app.url(&format!("/api/v1/admin/workflows/{run}"))).send().await.expect("show")).await;
    let approval = b["steps"].as_array().expect("steps").iter().find(|s| s["step"] == "approval").expect("approval").clone();
    assert_eq!(approval["output"]["by"], "user:ops@example.com", "who decided is kept: {approval}");
    assert!(b["events"].as_array().expect("events").iter().any(|e| e["event"] == "signal"));
    let mut effects = applied(&run);
    effects.sort();
    assert_eq!(effects, [format!("wf:{run}:calculate"), format!("wf:{run}:reserve_funds"), format!("wf:{run}:transfer")]);

    // Refused by a person: the run fails and its reserved funds are released.
    let undone = UNDONE.load(Ordering::SeqCst);
    let second = engine.start("test_payout", json!({"amount": 1}), None).await.expect("start");
    let spath = format!("/api/v1/admin/workflows/{second}/signal/approval");
    // Signalled at once: the wait keeps it until it is reached.
    let (s, b) = json(post(spath, json!({"approved": false})).await.expect("signal")).await;
    assert_eq!(s, 200, "{b}");
    let failed = wait_for(&app, &second, "failed").await;
    assert_eq!(failed["failed_step"], "transfer");
    assert!(UNDONE.load(Ordering::SeqCst) > undone, "the compensation ran");

    // A cancelled run, and one that outlives a restart.
    let third = engine.start("test_payout", json!({"amount": 2}), None).await.expect("start");
    let (s, b) = json(post(format!("/api/v1/admin/workflows/{third}/cancel"), json!({})).await.expect("cancel")).await;
    assert_eq!(s, 200, "{b}");
    wait_for(&app, &third, "cancelled").await;
    let (s, b) = json(post(format!("/api/v1/admin/workflows/{third}/cancel"), json!({})).await.expect("cancel")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("wrong_state")), "{b}");
    let fourth = engine.start("test_payout", json!({"amount": 3}), None).await.expect("start");
    let app = app.restart().await;
    let (c, csrf) = app.login("ops@example.com").await;
    let (s, b) = json(
        c.post(app.url(&format!("/api/v1/admin/workflows/{fourth}/signal/approval")))
            .header("x-csrf-token", &csrf)
            .json(&json!({"approved": true}))
            .send()
            .await
            .expect("signal"),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    wait_for(&app, &fourth, "succeeded").await;
    assert_eq!(applied(&fourth).len(), 3, "each effect once across the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    decisions_and_refusals(crate::common::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    decisions_and_refusals(crate::common::Backend::Postgres).await;
}
