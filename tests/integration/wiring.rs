//! What is defined must be wired: the real runtime carries every job, schedule and subscription
//! its domains define (checked against the source, so a schedule written and never registered
//! fails here), and the running server does the background work by itself — reservations
//! expire and due auctions close, also after a restart — without a test queueing the jobs.

use crate::both_backends;
use crate::common::{json, Backend, TestApp, PASSWORD};
use lsn_core::Clock;
use lsn_identity::Role;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((path.display().to_string(), std::fs::read_to_string(&path).expect("read")));
        }
    }
}

/// The code of a file without its `#[cfg(test)]` module (tests may build jobs of their own).
fn without_tests(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or(text)
}

/// `pub const NAME: &str = "value";` across the sources.
fn string_consts(files: &[(String, String)]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (_, text) in files {
        for line in text.lines() {
            let l = line.trim();
            let Some(rest) = l.strip_prefix("pub const ").or_else(|| l.strip_prefix("const ")) else { continue };
            let Some((name, value)) = rest.split_once(": &str = \"") else { continue };
            if let Some(v) = value.strip_suffix("\";") {
                m.insert(name.trim().to_string(), v.to_string());
            }
        }
    }
    m
}

/// The first argument after `marker(` (skipping `skip` arguments), as a literal or a resolved
/// constant; `None` for anything else (a variable).
fn arguments(text: &str, marker: &str, skip: usize, consts: &BTreeMap<String, String>) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices(marker) {
        let args = &text[i + marker.len()..];
        let arg = args.split(',').nth(skip).unwrap_or("").trim();
        let arg = arg.trim_end_matches(')').trim();
        if let Some(lit) = arg.strip_prefix('"') {
            out.push(lit.strip_suffix('"').map(str::to_string));
        } else {
            let name = arg.rsplit("::").next().unwrap_or(arg);
            out.push(consts.get(name).cloned());
        }
    }
    out
}

async fn wiring_is_sound(app: crate::common::TestApp) {
    let w = &app.rt.wiring;
    assert_eq!(w.problems(), Vec::<String>::new());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let consts = string_consts(&files);
    let mut topics = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    let mut schedules = BTreeSet::new();
    for (path, text) in &files {
        let code = without_tests(text);
        for t in arguments(code, "lsn_ops::publish(", 2, &consts) {
            topics.insert(t.unwrap_or_else(|| panic!("{path}: publish with a topic that is not a constant or a literal")));
        }
        for k in arguments(code, "NewJob::new(", 0, &consts).into_iter().flatten() {
            kinds.insert(k);
        }
        // A schedule defined in the source: `Schedule { name: "…", …`.
        for (i, _) in code.match_indices("Schedule {") {
            if let Some(name) = code[i..].split("name: \"").nth(1).and_then(|r| r.split('"').next()) {
                if code[i..].find("name: \"").is_some_and(|at| at < 80) {
                    schedules.insert(name.to_string());
                }
            }
        }
    }
    assert!(topics.len() >= 8, "found the publishers: {topics:?}");
    for t in &topics {
        assert!(w.publishes(t), "topic {t} is published in the source but no module declares it");
    }
    assert!(kinds.len() >= 4, "found the job kinds: {kinds:?}");
    for k in &kinds {
        assert!(w.reaches(k), "job kind {k} is queued in the source but no module declares who queues it");
        assert!(w.registry.contains(k), "job kind {k} has no handler");
    }
    let registered: BTreeSet<String> = w.schedules.iter().map(|s| s.name.to_string()).collect();
    assert!(schedules.len() >= 6, "found the schedules: {schedules:?}");
    for s in &schedules {
        assert!(registered.contains(s), "schedule {s} is defined in the source but never registered");
    }
    // The database holds every registered schedule, each naming a job with a handler.
    let stored = lsn_ops::schedule::list(&app.rt.state.db).await.expect("schedules");
    for s in &w.schedules {
        let row = stored.iter().find(|r| r.name == s.name).unwrap_or_else(|| panic!("schedule {} is not in the database", s.name));
        assert!(row.enabled && w.registry.contains(&row.job_kind), "{row:?}");
    }
    for name in ["reservation_expiry", "auction_close", "webhook_retry", "session_cleanup", "backup_daily"] {
        assert!(registered.contains(name), "{name}");
    }
    // Every domain crate is folded as a module of its own name: adding one is adding its line to
    // `lsn_web::modules`.
    let domains = std::fs::read_dir(root.join("domains")).expect("domains");
    for d in domains {
        let name = d.expect("entry").file_name().to_string_lossy().to_string();
        assert!(w.modules.contains(&name.as_str()), "the domain crate {name} is not folded as a module: {:?}", w.modules);
    }
    // The schema holds exactly the kernel's history and the modules' migrations.
    assert_eq!(w.schema_problems(lsn_web::schema(), lsn_db::HISTORY), Vec::<String>::new());
    // What the modules add beyond routes reaches the running app: the OpenAPI document is the
    // modules' fragments, the admin navigation theirs, their health checks answer `/readyz`.
    let (_, doc) = json(reqwest::get(app.url("/api/openapi.json")).await.expect("doc")).await;
    let documented: BTreeSet<&str> = doc["paths"].as_object().expect("paths").keys().map(String::as_str).collect();
    let from_modules: BTreeSet<&str> = w.openapi_paths.keys().map(String::as_str).collect();
    assert_eq!(documented, from_modules);
    for route in &w.api_routes {
        let skipped = route.method == "ANY" || w.undocumented.contains_key(route.path);
        assert!(
            skipped || doc["paths"][route.path][route.method.to_lowercase()].is_object(),
            "{} {} is not documented",
            route.method,
            route.path
        );
    }
    let (s, ready) = json(reqwest::get(app.url("/readyz")).await.expect("ready")).await;
    assert_eq!((s, ready["checks"]["core_data"]["ok"].as_bool()), (200, Some(true)), "{ready}");
    assert_eq!(app.rt.state.folded().nav.len(), w.nav.len());
    assert!(w.nav.iter().any(|n| n.path == "/admin/orders"));
}
crate::both!(the_runtime_wires_every_job_schedule_and_topic, wiring_is_sound);

/// Waits (in real time, moving the manual clock `step` each round) until `done` holds.
pub(crate) async fn eventually<F, Fut>(app: &TestApp, step: chrono::Duration, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if done().await {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{what}: not within 30 s");
        app.clock.advance(step);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn order_status(app: &TestApp, id: &str) -> String {
    app.rt.state.commerce.order(id, &lsn_commerce::orders::Viewer::Staff).await.expect("order").status.to_string()
}

/// `lsn serve`'s own workers expire an unpaid order's reservation: nobody queues the job.
async fn reservations_expire(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, &[], true).await else { return };
    let p = app.product(json!({"title": "Hold Me", "status": "active", "variants": [{"sku": "HOLD", "price": 1000}]})).await;
    app.stock(&p.variants[0].id, 3).await;
    let c = app.client();
    assert_eq!(c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "HOLD", "quantity": 2})).send().await.expect("add").status(), 200);
    let addr = json!({"name": "G", "line1": "1 A St", "suburb": "Sydney", "state": "NSW", "postcode": "2000"});
    let (s, co) = json(
        c.post(app.url("/api/v1/checkout")).json(&json!({"email": "g@example.com", "shipping_address": addr})).send().await.expect("co"),
    )
    .await;
    assert_eq!(s, 201, "{co}");
    let id = co["order"]["id"].as_str().expect("id").to_string();
    app.clock.advance(chrono::Duration::minutes(16));
    eventually(&app, chrono::Duration::seconds(5), "the unpaid order is cancelled", || async {
        order_status(&app, &id).await == "cancelled"
    })
    .await;
    let v = p.variants[0].id.clone();
    let r = lsn_db::query("SELECT reserved FROM stock_levels WHERE variant_id = $1")
        .bind(&v)
        .fetch_one(app.rt.state.db.read())
        .await
        .expect("level");
    assert_eq!(lsn_db::RowExt::try_get::<i64, _>(&r, 0).expect("reserved"), 0, "its stock is free again");
}
both_backends!(the_running_server_expires_unpaid_reservations, reservations_expire);

/// An auction whose end passes while LSN is down closes within seconds of the restart, and its
/// winner is offered the item.
async fn auctions_close_after_restart(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, &[], true).await else { return };
    let host = app.user("host@example.com", Role::Creator).await;
    app.user("bidder@example.com", Role::Customer).await;
    let p = app.product(json!({"title": "Rare Vase", "status": "active", "variants": [{"sku": "VASE", "price": 9000}]})).await;
    app.stock(&p.variants[0].id, 1).await;
    let input: lsn_live::shows::ShowInput =
        serde_json::from_value(json!({"title": "Auction Night", "scheduled_at": app.clock.now_ms() + 60_000})).expect("show");
    let show = app.rt.state.live.create(&host, &input).await.expect("show").id;
    app.rt.state.live.start(&show, &host).await.expect("start");
    let room = app.rt.state.live.hub.room(&show).await.expect("room");
    room.pin(Some(json!({"id": p.id, "title": p.title}))).await;
    let a: lsn_live::auctions::AuctionInput =
        serde_json::from_value(json!({"sku": "VASE", "starting_price": 5000, "duration_secs": 30})).expect("auction");
    let auction = app.rt.state.live.start_auction(&show, &host, &a).await.expect("auction");
    let (bidder, csrf) = app.login("bidder@example.com").await;
    let (s, b) = json(
        bidder
            .post(app.url(&format!("/api/v1/live/auctions/{}/bids", auction.id)))
            .header("x-csrf-token", csrf)
            .json(&json!({"amount": 6000}))
            .send()
            .await
            .expect("bid"),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // Down before the end; the end passes while nothing runs.
    let app = {
        app.clock.advance(chrono::Duration::seconds(60));
        app.restart().await
    };
    let live = app.rt.state.live.clone();
    let id = auction.id.clone();
    eventually(&app, chrono::Duration::seconds(1), "the due auction is closed", || {
        let (live, id) = (live.clone(), id.clone());
        async move { live.auction(&id).await.expect("auction").status == "closed" }
    })
    .await;
    let closed = live.auction(&id).await.expect("auction");
    assert_eq!(closed.winning_amount, Some(5000));
    let deal = closed.deal_id.expect("the winner is offered the item");
    let offer = lsn_commerce::offers::get(&app.rt.state.db, app.clock.now_ms(), &deal).await.expect("offer");
    assert_eq!((offer.price, offer.quantity, offer.status), (5000, 1, "active"));
    let _ = PASSWORD;
}
both_backends!(due_auctions_close_after_a_restart, auctions_close_after_restart);
