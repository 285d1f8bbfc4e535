//! Policies as data (issue 15, item 3) on both databases: the runbook's two conditions are the
//! defaults, literally; a bad condition or bad facts are refused with their codes and change
//! nothing; decisions are logged with their version, facts and outcome, and an escalation gives
//! a person a task; a dry run of a stricter condition against the logged decisions says which
//! would change; a new version is put in force and rolled back; staff only.

use crate::both;
use crate::common::{json, TestApp};
use lsn_identity::Role;
use lsn_ops::policy::{OnEscalate, Outcome};
use serde_json::{json, Value};

async fn post(c: &reqwest::Client, app: &TestApp, csrf: &str, path: &str, body: Value) -> (u16, Value) {
    json(c.post(app.url(path)).header("x-csrf-token", csrf).json(&body).send().await.expect("post")).await
}

async fn evaluate(c: &reqwest::Client, app: &TestApp, csrf: &str, policy: &str, facts: Value) -> Value {
    let (s, b) = post(c, app, csrf, &format!("/api/v1/admin/policies/{policy}/evaluate"), json!({"facts": facts})).await;
    assert_eq!(s, 200, "{b}");
    b["decision"].clone()
}

fn fraud(risk: f64) -> Value {
    json!({"risk_score": risk, "order_total": 240, "first_order": false, "account_age_days": 400})
}

async fn policies(app: TestApp) {
    app.user("ops@example.com", Role::Admin).await;
    let (c, csrf) = app.login("ops@example.com").await;

    // The runbook's two examples are the defaults, as written.
    let (s, b) = json(c.get(app.url("/api/v1/admin/policies")).send().await.expect("list")).await;
    assert_eq!(s, 200, "{b}");
    let list = b["policies"].as_array().expect("policies");
    let find = |name: &str| list.iter().find(|p| p["name"] == name).cloned().unwrap_or_else(|| panic!("{name} in {b}"));
    let f = find("fraud_review");
    assert_eq!((f["action"].as_str(), f["condition"].as_str()), (Some("review_order"), Some("risk_score > 70 AND risk_score < 90")));
    assert_eq!(
        (f["escalation"]["fact"].as_str(), f["escalation"]["when"].as_str(), f["escalation"]["threshold"].as_f64()),
        (Some("risk_score"), Some(">="), Some(90.0))
    );
    assert_eq!((f["approval_required"].as_bool(), f["active_version"].as_i64()), (Some(false), Some(1)));
    let p = find("payout_approval");
    assert_eq!(
        (p["action"].as_str(), p["condition"].as_str()),
        (Some("approve_payout"), Some("amount <= 500 AND creator_tier >= 'silver'"))
    );
    assert_eq!((p["escalation"]["when"].as_str(), p["escalation"]["threshold"].as_f64()), (Some(">"), Some(500.0)));

    // Trials (not logged) decide as the runbook says.
    for (risk, want) in [(50.0, "deny"), (75.0, "allow"), (89.0, "allow"), (90.0, "escalate"), (99.0, "escalate")] {
        assert_eq!(evaluate(&c, &app, &csrf, "fraud_review", fraud(risk)).await["outcome"], want, "risk {risk}");
    }
    for (amount, tier, want) in [(500, "silver", "allow"), (20, "gold", "allow"), (20, "bronze", "deny"), (501, "platinum", "escalate")] {
        let d = evaluate(&c, &app, &csrf, "payout_approval", json!({"amount": amount, "creator_tier": tier})).await;
        assert_eq!(d["outcome"], want, "{amount} {tier}: {d}");
    }
    let (_, b) = json(c.get(app.url("/api/v1/admin/policy-decisions")).send().await.expect("decisions")).await;
    assert_eq!(b["decisions"].as_array().map(Vec::len), Some(0), "trials are not logged: {b}");

    // A bad condition is refused with its code and saves nothing.
    let save = "/api/v1/admin/policies/payout_approval/versions";
    for (condition, code) in [
        ("amount <= 500 AND", "invalid_condition"),
        ("amount <= 500 AND tier >= 'silver'", "unknown_fact"),
        ("amount <= 500 AND creator_tier >= 'silverr'", "unknown_member"),
        ("amount <= 'five hundred'", "condition_type_mismatch"),
        ("amount + 1", "condition_not_boolean"),
        ("system('rm -rf /')", "unknown_function"),
    ] {
        let (s, b) = post(&c, &app, &csrf, save, json!({"condition": condition})).await;
        assert_eq!((s, b["error"]["code"].as_str()), (400, Some(code)), "{condition}: {b}");
        assert!(b["error"]["fields"]["condition"].is_string(), "{b}");
    }
    let long = format!("amount > 1{}", " OR amount > 1".repeat(90));
    let (s, b) = post(&c, &app, &csrf, save, json!({"condition": long})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("condition_too_long")));
    let (s, b) = post(&c, &app, &csrf, save, json!({"condition": "amount < 5", "escalation_threshold": 1e300})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("invalid_threshold")), "{b}");
    let (s, b) = json(c.get(app.url("/api/v1/admin/policies/payout_approval")).send().await.expect("get")).await;
    assert_eq!((s, b["versions"].as_array().map(Vec::len)), (200, Some(1)), "nothing was saved: {b}");

    // Bad facts are refused and log nothing.
    let eval = "/api/v1/admin/policies/payout_approval/evaluate";
    for (facts, code) in [
        (json!({"amount": "NaN", "creator_tier": "gold"}), "invalid_fact"),
        (json!({"amount": 1e300, "creator_tier": "gold"}), "invalid_fact"),
        (json!({"amount": 10, "creator_tier": "diamond"}), "invalid_fact"),
        (json!({"amount": 10}), "missing_fact"),
        (json!({"amount": 10, "creator_tier": "gold", "country": "AU"}), "unknown_fact"),
    ] {
        let (s, b) = post(&c, &app, &csrf, eval, json!({"facts": facts, "log": true})).await;
        assert_eq!((s, b["error"]["code"].as_str()), (400, Some(code)), "{facts}: {b}");
    }
    let (s, _) = post(&c, &app, &csrf, "/api/v1/admin/policies/no_such_policy/evaluate", json!({"facts": {}})).await;
    assert_eq!(s, 404);

    // Decisions by the shop: logged with version, facts and outcome; the escalation is a task.
    let policies = &app.rt.state.policies;
    let cases = [
        (100, "silver", Outcome::Allow),
        (450, "silver", Outcome::Allow),
        (100, "bronze", Outcome::Deny),
        (900, "gold", Outcome::Escalate),
    ];
    for (i, (amount, tier, want)) in cases.iter().enumerate() {
        let facts = json!({"amount": amount, "creator_tier": tier});
        let d = policies.decide("payout_approval", &facts, Some(&format!("payout-{i}")), OnEscalate::OpenTask).await.expect("decide");
        assert_eq!((d.outcome, d.version, d.task_opened), (*want, 1, *want == Outcome::Escalate), "{d:?}");
    }
    let tasks = lsn_ops::tasks::list(&app.rt.state.db, Some("open"), 50).await.expect("tasks");
    let task = tasks.iter().find(|t| t.kind == "policy_payout_approval").expect("the escalation's task");
    assert_eq!(task.reference.as_deref(), Some("payout-3"));
    // The same payout escalating again does not open a second task.
    let again = policies
        .decide("payout_approval", &json!({"amount": 900, "creator_tier": "gold"}), Some("payout-3"), OnEscalate::OpenTask)
        .await
        .expect("decide");
    assert!(!again.task_opened);
    // A test decision, logged as such (left out of dry runs).
    let (s, b) = post(&c, &app, &csrf, eval, json!({"facts": {"amount": 450, "creator_tier": "gold"}, "log": true})).await;
    assert_eq!((s, b["decision"]["test"].as_bool()), (200, Some(true)), "{b}");
    let (_, b) = json(c.get(app.url("/api/v1/admin/policy-decisions?policy=payout_approval")).send().await.expect("decisions")).await;
    let logged = b["decisions"].as_array().expect("decisions");
    assert_eq!(logged.len(), 6, "{b}");
    assert!(logged.iter().all(|d| d["version"] == 1 && d["facts"]["creator_tier"].is_string() && d["decided_at"].is_i64()), "{b}");

    // A dry run of a stricter limit against the five real decisions: the $450 one changes.
    let (s, r) = post(
        &c,
        &app,
        &csrf,
        "/api/v1/admin/policies/payout_approval/dry-run",
        json!({"condition": "amount <= 400 AND creator_tier >= 'silver'"}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!((r["cases"].as_u64(), r["changed"].as_u64(), r["skipped"].as_u64()), (Some(5), Some(1), Some(0)), "{r}");
    assert_eq!(
        (r["changes"][0]["facts"]["amount"].as_f64(), r["changes"][0]["was"].as_str(), r["changes"][0]["now"].as_str()),
        (Some(450.0), Some("allow"), Some("deny"))
    );
    let (s, b) = post(
        &c,
        &app,
        &csrf,
        "/api/v1/admin/policies/payout_approval/dry-run",
        json!({"condition": "amount <= 400 AND creator_tier >= 'silverr'"}),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("unknown_member")));

    // Saved as version 2, in force at once.
    let (s, b) =
        post(&c, &app, &csrf, save, json!({"condition": "amount <= 400 AND creator_tier >= 'silver'", "note": "tighter after review"}))
            .await;
    assert_eq!((s, b["version"]["version"].as_i64(), b["version"]["active"].as_bool()), (201, Some(2), Some(true)), "{b}");
    let d = policies
        .decide("payout_approval", &json!({"amount": 450, "creator_tier": "silver"}), Some("payout-9"), OnEscalate::Caller)
        .await
        .expect("decide");
    assert_eq!((d.outcome, d.version), (Outcome::Deny, 2));
    // Saved without putting it in force: version 3 waits.
    let (s, b) = post(&c, &app, &csrf, save, json!({"condition": "amount <= 300", "activate": false})).await;
    assert_eq!((s, b["version"]["active"].as_bool()), (201, Some(false)), "{b}");

    // Rolled back to version 1.
    let (s, b) = post(&c, &app, &csrf, "/api/v1/admin/policies/payout_approval/versions/1/activate", json!({})).await;
    assert_eq!((s, b["version"]["active"].as_bool()), (200, Some(true)), "{b}");
    assert_eq!(evaluate(&c, &app, &csrf, "payout_approval", json!({"amount": 450, "creator_tier": "silver"})).await["version"], 1);
    let (_, b) = json(c.get(app.url("/api/v1/admin/policies/payout_approval")).send().await.expect("get")).await;
    let versions: Vec<(i64, bool)> =
        b["versions"].as_array().expect("versions").iter().map(|v| (v["version"].as_i64().unwrap_or(0), v["active"] == true)).collect();
    assert_eq!(versions, vec![(3, false), (2, false), (1, true)]);
    for bad in [
        "/api/v1/admin/policies/payout_approval/versions/99/activate",
        "/api/v1/admin/policies/payout_approval/versions/x/activate",
        "/api/v1/admin/policies/nothing/versions/1/activate",
    ] {
        let (s, _) = post(&c, &app, &csrf, bad, json!({})).await;
        assert_eq!(s, 404, "{bad}");
    }

    // The admin page lists them.
    let page = c.get(app.url("/admin/policies")).send().await.expect("page");
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("payout_approval") && html.contains("risk_score &#62; 70 AND risk_score &#60; 90"), "{html}");

    // Staff only: a customer is refused, a visitor asked to sign in.
    app.user("ann@example.com", Role::Customer).await;
    let (cc, ccsrf) = app.login("ann@example.com").await;
    let (s, _) = json(cc.get(app.url("/api/v1/admin/policies")).send().await.expect("list")).await;
    assert_eq!(s, 403);
    let (s, _) = post(&cc, &app, &ccsrf, save, json!({"condition": "amount < 1000000"})).await;
    assert_eq!(s, 403);
    let (s, _) = json(app.client().get(app.url("/api/v1/admin/policies")).send().await.expect("list")).await;
    assert_eq!(s, 401);
    let (s, _) = json(
        app.client()
            .post(app.url("/api/v1/admin/policies/payout_approval/dry-run"))
            .json(&json!({"condition": "true"}))
            .send()
            .await
            .expect("dry"),
    )
    .await;
    assert_eq!(s, 401);
    let (_, b) = json(c.get(app.url("/api/v1/admin/policies/payout_approval")).send().await.expect("get")).await;
    assert_eq!(b["versions"].as_array().map(Vec::len), Some(3), "the refused saves saved nothing");
}

both!(policy_lifecycle, policies);
