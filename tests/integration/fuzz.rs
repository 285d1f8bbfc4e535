//! Property tests of the outside input that reaches LSN over the network, through the real
//! server: tRPC input (any procedure name, any JSON or not-JSON, by query or mutation, as a
//! visitor, a customer and an admin) and live-room frames (any text over a real WebSocket, as a
//! viewer and as the host). Whatever arrives gets a well-formed answer: never a 5xx, never a
//! dropped connection short of the abuse limit, and the room goes on for everyone else.
//!
//! `proptest` drives a blocking runner; each case runs on the test's own Tokio runtime, where the
//! server keeps running between cases.

use crate::common::{Backend, TestApp};
use futures::{SinkExt, StreamExt};
use lsn_identity::Role;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

/// Field names the procedures and frames read, so that generated input reaches past the first
/// check, and a few random ones.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "id", "json", "title", "status", "variants", "sku", "price", "quantity", "limit", "cursor", "q", "showId", "show_id",
            "text", "type", "product_id", "message_id", "user_id", "seconds", "deal", "auction", "auction_id", "amount", "gift",
            "emoji", "email", "shipping_address", "items", "category", "tags", "countdown_secs", "duration_secs", "starting_price",
        ])
        .prop_map(str::to_string),
        1 => "[a-zA-Z_]{1,10}",
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        prop::sample::select(vec!["", "0", "-1", "LSN-0000000", "' OR 1=1 --", "<script>alert(1)</script>", "draft", "active"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const PROCEDURES: &[&str] = &[
    "products.list",
    "products.get",
    "products.create",
    "products.update",
    "products.delete",
    "orders.list",
    "orders.get",
    "orders.create",
    "orders.updateStatus",
    "system.getScheduledTasks",
    "system.getTaskHistory",
    "streaming.listShows",
    "streaming.startShow",
    "streaming.endShow",
    "streaming.sendMessage",
];

#[derive(Debug, Clone)]
enum Body {
    Json(Value),
    Raw(String),
}

fn trpc_call() -> impl Strategy<Value = (String, Body, bool, usize)> {
    let name = prop_oneof![4 => prop::sample::select(PROCEDURES).prop_map(str::to_string), 1 => "[a-zA-Z][a-zA-Z.]{0,19}"];
    let body = prop_oneof![5 => any_json().prop_map(Body::Json), 1 => ".{0,60}".prop_map(Body::Raw)];
    (name, body, any::<bool>(), 0usize..3)
}

#[test]
fn trpc_answers_any_input_in_trpc_shape() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let Some(app) = rt.block_on(TestApp::spawn(Backend::Sqlite, &[])) else { return };
    let (visitor, customer, admin) = rt.block_on(async {
        app.user("ann@example.com", Role::Customer).await;
        app.user("admin@example.com", Role::Admin).await;
        app.product(json!({"title": "Lamp", "status": "active", "variants": [{"sku": "LAMP", "price": 4900}]})).await;
        (app.client(), app.login("ann@example.com").await, app.login("admin@example.com").await)
    });
    let who = [(visitor, String::new()), customer, admin];
    let mut runner = TestRunner::new(RunnerConfig { cases: 300, failure_persistence: None, ..RunnerConfig::default() });
    let outcome = runner.run(&trpc_call(), |(name, body, query, as_who)| {
        let (client, csrf) = &who[as_who];
        let text = match &body {
            Body::Json(v) => v.to_string(),
            Body::Raw(s) => s.clone(),
        };
        let (status, answer) = rt.block_on(async {
            let url = app.url(&format!("/api/trpc/{name}"));
            let req = if query {
                client.get(url).query(&[("input", text.as_str())])
            } else {
                client.post(url).header("x-csrf-token", csrf).header("content-type", "application/json").body(text.clone())
            };
            let r = req.send().await.expect("send");
            let status = r.status().as_u16();
            (status, r.text().await.expect("body"))
        });
        prop_assert!(status < 500, "{name} {body:?} -> {status} {answer}");
        let v: Value = serde_json::from_str(&answer).map_err(|_| TestCaseError::fail(format!("not JSON: {status} {answer}")))?;
        if status == 200 {
            prop_assert!(v["result"].get("data").is_some(), "{name} {body:?} -> {answer}");
        } else {
            // Every refusal, the CSRF guard's included, is in tRPC's shape.
            prop_assert!(v["error"]["message"].is_string() && v["error"]["code"].is_i64(), "{answer}");
            prop_assert_eq!(v["error"]["data"]["httpStatus"].as_u64(), Some(u64::from(status)));
        }
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp, show: &str, cookie: &str) -> Ws {
    let mut req = format!("ws://{}/api/v1/live/shows/{show}/ws", app.addr).into_client_request().expect("request");
    req.headers_mut().insert("cookie", cookie.parse().expect("header"));
    tokio_tungstenite::connect_async(req).await.expect("connect").0
}

/// Sends `text`, then a ping, and reads until the pong: the frame was taken and answered.
/// `Ok(errors)`: error frames seen; `Err((code, errors))`: the server closed the connection.
async fn exchange(ws: &mut Ws, text: String) -> Result<u32, (Option<CloseCode>, u32)> {
    // A send may fail when the server has just closed; the frames before the close still tell why.
    let _ = ws.send(Message::Text(text.into())).await;
    let _ = ws.send(Message::Text(json!({"type": "ping"}).to_string().into())).await;
    let mut errors = 0;
    loop {
        let m = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next()).await.expect("an answer within 10 s");
        match m {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).expect("the server sends JSON");
                // Protocol 1 sends objects; every frame has a type.
                let kinds: Vec<Value> = if v.is_array() { v.as_array().cloned().unwrap_or_default() } else { vec![v] };
                for f in kinds {
                    match f["type"].as_str() {
                        Some("pong") => return Ok(errors),
                        Some("error") => errors += 1,
                        Some(_) => {}
                        None => panic!("a frame without a type: {t}"),
                    }
                }
            }
            Some(Ok(Message::Close(c))) => return Err((c.map(|c| c.code), errors)),
            None | Some(Err(_)) => return Err((None, errors)),
            Some(Ok(_)) => {}
        }
    }
}

fn frame() -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        4 => prop::sample::select(vec![
            "ping", "chat", "react", "pin", "unpin", "delete_message", "mute", "unmute", "ban", "start_deal", "gift", "start_auction",
            "bid", "slow_mode", "end_deal",
        ])
        .prop_map(str::to_string),
        1 => ".{0,12}",
    ];
    let object = (kind, prop::collection::btree_map(key(), any_json(), 0..5)).prop_map(|(kind, fields)| {
        let mut m: serde_json::Map<String, Value> = fields.into_iter().collect();
        m.insert("type".into(), Value::String(kind));
        Value::Object(m).to_string()
    });
    prop_oneof![6 => object, 1 => any_json().prop_map(|v| v.to_string()), 1 => ".{0,100}"]
}

#[test]
fn live_rooms_answer_any_frame_and_go_on() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let Some(app) = rt.block_on(TestApp::spawn(Backend::Sqlite, &[])) else { return };
    let (show, host_cookie, viewer_cookie, observer_cookie) = rt.block_on(async {
        let host = app.user("host@example.com", Role::Creator).await;
        for e in ["ann@example.com", "obs@example.com"] {
            app.user(e, Role::Customer).await;
        }
        app.product(json!({"title": "Lamp", "status": "active", "variants": [{"sku": "LAMP", "price": 4900}]})).await;
        let input: lsn_live::shows::ShowInput =
            serde_json::from_value(json!({"title": "Fuzz Live", "scheduled_at": chrono::Utc::now().timestamp_millis() + 60_000}))
                .expect("input");
        let live = &app.rt.state.live;
        let show = live.create(&host, &input).await.expect("show");
        live.start(&show.id, &host).await.expect("start");
        let app = &app;
        let cookie = |email: &'static str| async move {
            let r = app.client().post(app.url("/api/auth/login")).json(&json!({"email": email, "password": crate::common::PASSWORD}));
            let r = r.send().await.expect("login");
            crate::common::session_cookie(&r)
        };
        (show.id, cookie("host@example.com").await, cookie("ann@example.com").await, cookie("obs@example.com").await)
    });
    let mut sockets =
        rt.block_on(async { [(connect(&app, &show, &viewer_cookie).await, 0u32), (connect(&app, &show, &host_cookie).await, 0u32)] });
    let cookies = [viewer_cookie, host_cookie];
    let sockets_ref = std::cell::RefCell::new(&mut sockets);
    let closes = std::cell::Cell::new(0u32);
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 400,
        failure_persistence: None,
        // The sockets keep their state from case to case, so a shrunk case would not be the same.
        max_shrink_iters: 0,
        ..RunnerConfig::default()
    });
    let outcome = runner.run(&(frame(), 0usize..2), |(text, who)| {
        let mut sockets = sockets_ref.borrow_mut();
        let (ws, errors) = &mut sockets[who];
        match rt.block_on(exchange(ws, text.clone())) {
            Ok(n) => *errors += n,
            Err((code, last)) => {
                // Only abuse closes a connection: more than 20 refused frames on it.
                prop_assert!(*errors + last > 20, "closed ({code:?}) after {} errors on {text}", *errors + last);
                prop_assert_eq!(code, Some(CloseCode::Policy), "closed for abuse, saying so");
                closes.set(closes.get() + 1);
                *ws = rt.block_on(connect(&app, &show, &cookies[who]));
                *errors = 0;
            }
        }
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    assert!(closes.get() > 0, "the cases include enough bad frames to reach the abuse limit");
    // The room goes on: another viewer's chat reaches a fresh viewer.
    rt.block_on(async {
        let mut watcher = connect(&app, &show, &cookies[0]).await;
        let mut observer = connect(&app, &show, &observer_cookie).await;
        observer.send(Message::Text(json!({"type": "chat", "text": "still here?"}).to_string().into())).await.expect("send");
        loop {
            let m =
                tokio::time::timeout(std::time::Duration::from_secs(10), watcher.next()).await.expect("frames").expect("open").expect("ok");
            if let Message::Text(t) = m {
                if t.contains("still here?") {
                    break;
                }
            }
        }
    });
}

/// An amount a client might send: the edges (zero, one, the maximum and one past it, the ends of
/// `i64`) and anything at all.
fn amount() -> impl Strategy<Value = i64> {
    let max = lsn_core::money::MAX_AMOUNT;
    prop_oneof![
        3 => prop::sample::select(vec![i64::MIN, i64::MIN + 1, -1, 0, 1, 2, 99, max - 1, max, max + 1, i64::MAX / 2, i64::MAX - 1, i64::MAX]),
        2 => any::<i64>(),
        1 => 0..=max,
    ]
}

/// Every money input of the API, as (method, path, body with the amount in place).
fn money_inputs(show: &str, auction: &str, order: &str, n: u64, v: i64) -> Vec<(reqwest::Method, String, Value)> {
    use reqwest::Method;
    vec![
        (
            Method::POST,
            "/api/v1/products".into(),
            json!({"title": "Priced", "status": "active", "variants": [{"sku": format!("P-{n}"), "price": v}]}),
        ),
        (
            Method::POST,
            "/api/v1/products".into(),
            json!({"title": "Compared", "status": "active", "variants": [{"sku": format!("C-{n}"), "price": 100, "compare_at_price": v}]}),
        ),
        (Method::POST, "/api/v1/discounts".into(), json!({"code": format!("FIX{n}"), "kind": "fixed", "value": v})),
        (Method::POST, "/api/v1/discounts".into(), json!({"code": format!("MIN{n}"), "kind": "percent", "value": 10, "min_subtotal": v})),
        (Method::POST, format!("/api/v1/live/shows/{show}/deals"), json!({"sku": "GAVEL", "price": v, "quantity": 1})),
        (Method::POST, format!("/api/v1/live/shows/{show}/auctions"), json!({"sku": "GAVEL", "starting_price": v})),
        (Method::POST, format!("/api/v1/live/shows/{show}/auctions"), json!({"sku": "GAVEL", "starting_price": 100, "reserve_price": v})),
        (Method::POST, format!("/api/v1/live/shows/{show}/auctions"), json!({"sku": "GAVEL", "starting_price": 100, "increment": v})),
        (Method::POST, format!("/api/v1/live/auctions/{auction}/bids"), json!({"amount": v})),
        (Method::POST, format!("/api/v1/orders/{order}/refunds"), json!({"amount": v})),
    ]
}

/// Every money input is bounded at the edge: whatever amount arrives (2^63−1 included), the
/// answer is a 4xx or an amount within `lsn_core::money::MAX_AMOUNT`, never a 5xx, and nothing
/// stored anywhere is negative or past the maximum — the class of the bid of 2^63−1 that
/// wrapped and won an auction for $1.01.
#[test]
fn every_money_input_is_bounded_at_the_edge_sqlite() {
    money_inputs_bounded(Backend::Sqlite);
}

#[test]
fn every_money_input_is_bounded_at_the_edge_postgres() {
    money_inputs_bounded(Backend::Postgres);
}

fn money_inputs_bounded(backend: Backend) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let Some(app) = rt.block_on(TestApp::spawn(backend, &[])) else { return };
    let (admin, bidder, show, auction, order) = rt.block_on(async {
        let live = &app.rt.state.live;
        app.user("admin@example.com", Role::Admin).await;
        app.user("bidder@example.com", Role::Customer).await;
        let admin_user = app.identity().user_by_email("admin@example.com").await.expect("admin").expect("admin");
        let p = app.product(json!({"title": "Gavel", "status": "active", "variants": [{"sku": "GAVEL", "price": 5000}]})).await;
        app.stock(&p.variants[0].id, 1_000).await;
        let input: lsn_live::shows::ShowInput =
            serde_json::from_value(json!({"title": "Money Night", "scheduled_at": chrono::Utc::now().timestamp_millis() + 60_000}))
                .expect("input");
        let show = live.create(&admin_user, &input).await.expect("show").id;
        live.start(&show, &admin_user).await.expect("start");
        live.hub
            .room(&show)
            .await
            .expect("room")
            .pin(Some(json!({"id": p.id, "title": p.title, "variants": [{"id": p.variants[0].id, "sku": "GAVEL"}]})))
            .await;
        let a: lsn_live::auctions::AuctionInput =
            serde_json::from_value(json!({"sku": "GAVEL", "starting_price": 5000, "duration_secs": 3600})).expect("auction");
        let auction = live.start_auction(&show, &admin_user, &a).await.expect("auction").id;
        // A paid order to refund against.
        let c = app.client();
        c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "GAVEL", "quantity": 2})).send().await.expect("add");
        let addr = json!({"name": "G", "line1": "1 A St", "suburb": "Sydney", "state": "NSW", "postcode": "2000"});
        let co: Value = c
            .post(app.url("/api/v1/checkout"))
            .json(&json!({"email": "g@example.com", "shipping_address": addr}))
            .send()
            .await
            .expect("co")
            .json()
            .await
            .expect("json");
        let order = co["order"]["id"].as_str().expect("order").to_string();
        let token = co["order_token"].as_str().expect("token").to_string();
        c.post(app.url(&format!("/api/v1/orders/{order}/pay")))
            .header("x-order-token", token)
            .json(&json!({"card_number": "4242424242424242"}))
            .send()
            .await
            .expect("pay");
        app.run_jobs().await;
        (app.login("admin@example.com").await, app.login("bidder@example.com").await, show, auction, order)
    });
    let counter = std::cell::Cell::new(0u64);
    let accepted_count = std::cell::Cell::new(0u64);
    let inputs = money_inputs(&show, &auction, &order, 0, 0).len();
    let mut runner = TestRunner::new(RunnerConfig { cases: 400, failure_persistence: None, ..RunnerConfig::default() });
    let outcome = runner.run(&(amount(), 0..inputs), |(v, which)| {
        counter.set(counter.get() + 1);
        let (method, path, body) = money_inputs(&show, &auction, &order, counter.get(), v).swap_remove(which);
        let (client, csrf) = if path.ends_with("/bids") { &bidder } else { &admin };
        let (status, answer) = rt.block_on(async {
            let r = client.request(method, app.url(&path)).header("x-csrf-token", csrf).json(&body).send().await.expect("send");
            let s = r.status().as_u16();
            (s, r.text().await.expect("body"))
        });
        prop_assert!(status < 500, "{path} {body} -> {status} {answer}");
        let accepted = (200..300).contains(&status);
        let in_bounds = (0..=lsn_core::money::MAX_AMOUNT).contains(&v);
        prop_assert!(!accepted || in_bounds, "{path} took {v}: {answer}");
        accepted_count.set(accepted_count.get() + u64::from(accepted));
        if !accepted {
            let e: Value = serde_json::from_str(&answer).map_err(|_| TestCaseError::fail(format!("not JSON: {answer}")))?;
            prop_assert!(e["error"]["code"].is_string(), "{answer}");
        }
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    assert!(accepted_count.get() >= 40, "some amounts were in bounds and taken: {}", accepted_count.get());
    // Nothing stored is negative or past the maximum, whatever was sent.
    rt.block_on(async {
        let max = lsn_core::money::MAX_AMOUNT;
        for (table, col) in [
            ("variants", "price"),
            ("variants", "compare_at_price"),
            ("discount_codes", "value"),
            ("discount_codes", "min_subtotal"),
            ("offers", "price"),
            ("auctions", "starting_price"),
            ("auctions", "reserve_price"),
            ("auctions", "increment"),
            ("auctions", "price"),
            ("auctions", "leader_max"),
            ("auction_bids", "max_amount"),
            ("refunds", "amount"),
        ] {
            let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table} WHERE {col} < 0 OR {col} > {max}");
            let r = lsn_db::query(&sql).fetch_one(app.rt.state.db.read()).await.expect("count");
            assert_eq!(lsn_db::RowExt::try_get::<i64, _>(&r, 0).expect("n"), 0, "{table}.{col} out of bounds");
        }
        let r = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE amount_refunded > amount_paid OR amount_refunded < 0")
            .fetch_one(app.rt.state.db.read())
            .await
            .expect("count");
        assert_eq!(lsn_db::RowExt::try_get::<i64, _>(&r, 0).expect("n"), 0, "never refunded past what was paid");
        let a = app.rt.state.live.auction(&auction).await.expect("auction");
        assert!(a.price >= 5000 && a.price <= max, "the auction's price stays in bounds: {}", a.price);
    });
}
