//! The edges found when LSN was tried from outside: a non-Bearer `Authorization` header must not
//! switch CSRF off; the live room refuses another site's page and does not outlive a sign-out;
//! the body limit answers the documented problem; refusals under `/api/trpc/` answer in tRPC's
//! envelope; `orders.create` honours `Idempotency-Key`; keys expire and a key left in progress
//! by a crash is recovered.

use crate::both;
use crate::common::{json, TestApp, PASSWORD};
use futures::{SinkExt, StreamExt};
use lsn_core::Clock;
use lsn_identity::Role;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The session cookie of `email` (a fresh sign-in) and its CSRF token.
async fn session(app: &TestApp, email: &str) -> (String, String) {
    let r = reqwest::Client::new()
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    let cookie = crate::common::session_cookie(&r);
    let body: Value = r.json().await.expect("json");
    (cookie, body["csrf_token"].as_str().expect("csrf").to_string())
}

async fn csrf_and_origins(app: TestApp) {
    app.user("boss@example.com", Role::Admin).await;
    let (cookie, csrf) = session(&app, "boss@example.com").await;
    let product = json!({"title": "Edge", "status": "active", "variants": [{"sku": "EDGE-1", "price": 100}]});
    let post = |auth: Option<&str>, token: Option<&str>| {
        let mut r = reqwest::Client::new().post(app.url("/api/v1/products")).header("cookie", &cookie).json(&product);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        if let Some(t) = token {
            r = r.header("x-csrf-token", t);
        }
        r.send()
    };
    // Any Authorization that is not a Bearer key leaves the cookie session, and its CSRF check, in place.
    for auth in ["Basic YWRtaW46eA==", "Token abc", "bearer", ""] {
        let (s, b) = json(post(Some(auth), None).await.expect("send")).await;
        assert_eq!((s, b["error"]["code"].as_str()), (403, Some("csrf_failed")), "Authorization: {auth:?}");
    }
    // A Bearer key that does not work is refused, never a fall-back to the cookie.
    let (s, b) = json(post(Some("Bearer lsn_nope"), None).await.expect("send")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (401, Some("unauthenticated")));
    assert_eq!(post(None, Some(&csrf)).await.expect("send").status(), 201, "the token itself still works");

    // The body limit: the documented JSON problem for the API, a page for the site.
    for path in ["/api/v1/products", "/cart/add"] {
        let (status, headers, body) = oversized(&app, path).await;
        assert_eq!(status, 413, "{path}");
        let ct = headers.get("content-type").cloned().unwrap_or_default();
        assert!(headers.contains_key("x-content-type-options"), "{path}: security headers on the refusal too");
        if path.starts_with("/api/") {
            let b: Value = serde_json::from_str(&body).expect("json");
            assert_eq!(b["error"]["code"], "payload_too_large", "{b}");
        } else {
            assert!(ct.starts_with("text/html"), "{path}: {ct}");
        }
    }

    // tRPC: refusals made before a procedure runs answer in tRPC's envelope, one per call of a batch.
    let trpc = |path: &str| app.url(&format!("/api/trpc/{path}"));
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (reqwest::Client::new().post(trpc("products.create")).header("cookie", &cookie).json(&product), 403, "csrf_failed"),
        (reqwest::Client::new().post(trpc("products.create")).header("origin", "https://evil.example").json(&product), 403, "csrf_failed"),
        (reqwest::Client::new().get(trpc("products.list")).bearer_auth("lsn_nope"), 401, "unauthenticated"),
    ];
    let mut answers = Vec::new();
    for (req, status, code) in cases {
        answers.push((json(req.send().await.expect("send")).await, status, code));
    }
    let (s, _, body) = oversized(&app, "/api/trpc/products.create").await;
    answers.push(((s, serde_json::from_str(&body).expect("json")), 413, "payload_too_large"));
    for ((s, b), status, code) in answers {
        assert_eq!(s, status, "{b}");
        assert!(b["error"]["code"].is_i64() && b["error"]["message"].is_string(), "tRPC's shape: {b}");
        assert_eq!(
            (b["error"]["data"]["httpStatus"].as_u64(), b["error"]["data"]["lsnCode"].as_str()),
            (Some(u64::from(status)), Some(code))
        );
    }
    let (s, b) = json(
        reqwest::Client::new()
            .post(app.url("/api/trpc/products.create,products.update?batch=1"))
            .header("cookie", &cookie)
            .json(&json!({"0": {}, "1": {}}))
            .send()
            .await
            .expect("batch"),
    )
    .await;
    assert_eq!(s, 403);
    let calls = b.as_array().expect("a batch answers an array");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1]["error"]["data"]["path"], "products.update");
}
both!(csrf_origins_limits_and_trpc_refusals, csrf_and_origins);

/// An oversized body's answer: the status, the headers (lower-case names) and the body. Sent
/// over a raw connection that declares 3 MB and sends none of it, so the answer is read before
/// any of the body would be (a real client's upload would be cut off under its feet).
async fn oversized(app: &TestApp, path: &str) -> (u16, std::collections::HashMap<String, String>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(app.addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\nConnection: close\r\n\r\n",
        app.addr
    );
    tcp.write_all(head.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), tcp.read_to_end(&mut raw)).await;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).expect("status");
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string())).collect();
    // A chunked body: the chunks' text is enough to find the JSON inside.
    let body = body.lines().filter(|l| !l.chars().all(|c| c.is_ascii_hexdigit())).collect::<Vec<_>>().join("");
    (status, headers, body)
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn live_room_credentials(app: TestApp) {
    let host = app.user("host@example.com", Role::Creator).await;
    app.user("fan@example.com", Role::Customer).await;
    let input: lsn_live::shows::ShowInput =
        serde_json::from_value(json!({"title": "Edges Live", "scheduled_at": app.clock.now_ms() + 60_000})).expect("show");
    let show = app.rt.state.live.create(&host, &input).await.expect("show").id;
    app.rt.state.live.start(&show, &host).await.expect("start");
    let (cookie, csrf) = session(&app, "fan@example.com").await;
    let request = |origin: Option<&str>| {
        let mut req = format!("ws://{}/api/v1/live/shows/{show}/ws", app.addr).into_client_request().expect("request");
        req.headers_mut().insert("cookie", cookie.parse().expect("cookie"));
        if let Some(o) = origin {
            req.headers_mut().insert("origin", o.parse().expect("origin"));
        }
        req
    };
    // Another site's page cannot open the room with this shop's session.
    match tokio_tungstenite::connect_async(request(Some("https://evil.example"))).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("a foreign origin was let in: {other:?}"),
    }
    let (mut ws, _): (Ws, _) = tokio_tungstenite::connect_async(request(Some(&app.base))).await.expect("own origin");
    let _ = ws.next().await;
    ws.send(Message::Text(json!({"type": "chat", "text": "hello"}).to_string().into())).await.expect("chat");
    // Sign out in the browser: the open socket may not chat on.
    let r = reqwest::Client::new()
        .post(app.url("/api/auth/logout"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("logout");
    assert!(r.status().is_success());
    ws.send(Message::Text(json!({"type": "chat", "text": "still me?"}).to_string().into())).await.expect("chat");
    let mut saw_error = false;
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), ws.next()).await.expect("an answer") {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).expect("json");
                assert!(!(v["type"] == "chat" && v["text"] == "still me?"), "a signed-out socket chatted: {v}");
                if v["type"] == "error" && v["code"] == "signed_out" {
                    saw_error = true;
                }
            }
            Some(Ok(Message::Close(Some(c)))) => {
                assert_eq!(u16::from(c.code), 4001);
                break;
            }
            other => panic!("expected the close: {other:?}"),
        }
    }
    assert!(saw_error);
    let chats = app.rt.state.live.replay(&show, 0, 500).await.expect("replay");
    assert!(!chats.iter().any(|e| e.to_string().contains("still me?")));
}
both!(live_rooms_refuse_other_sites_and_signed_out_sockets, live_room_credentials);

async fn idempotency_keys(app: TestApp) {
    let p = app.product(json!({"title": "Once", "status": "active", "variants": [{"sku": "ONCE", "price": 2500}]})).await;
    app.stock(&p.variants[0].id, 10).await;
    let c = app.client();
    c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "ONCE", "quantity": 1})).send().await.expect("add");
    let addr = json!({"name": "I", "line1": "1 Key St", "suburb": "Sydney", "state": "NSW", "postcode": "2000"});
    let input = json!({"email": "keys@example.com", "shipping_address": addr});
    let create = |key: &'static str| c.post(app.url("/api/trpc/orders.create")).header("idempotency-key", key).json(&input).send();
    let (s1, a) = json(create("k-1").await.expect("first")).await;
    let (s2, b) = json(create("k-1").await.expect("again")).await;
    assert_eq!((s1, s2), (200, 200), "{a} {b}");
    assert_eq!(a["result"]["data"]["order"]["id"], b["result"]["data"]["order"]["id"], "orders.create honours Idempotency-Key");
    let orders = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM orders").fetch_one(app.rt.state.db.read()).await.expect("count");
    assert_eq!(lsn_db::RowExt::try_get::<i64, _>(&orders, 0).expect("n"), 1);
    // A key left in progress by a request that died is taken over after a while, not a 409 for ever.
    // A caller with no account and no cart cookie.
    let scope = "anonymous";
    let hash = lsn_commerce::idempotency::request_hash("POST /api/v1/checkout", &input);
    let now = app.clock.now_ms();
    lsn_db::query("INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ($1, 'stuck', $2, $3)")
        .bind(scope)
        .bind(&hash)
        .bind(now)
        .execute(app.rt.state.db.write())
        .await
        .expect("stuck key");
    let checkout = || reqwest::Client::new().post(app.url("/api/v1/checkout")).header("idempotency-key", "stuck").json(&input).send();
    let (s, b) = json(checkout().await.expect("while running")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("idempotency_in_progress")));
    app.clock.advance(chrono::Duration::minutes(3));
    let (s, b) = json(checkout().await.expect("after the crash")).await;
    assert_ne!(s, 409, "the abandoned key is recovered: {b}");
    // Keys expire after 24 hours: the same key is a new request then, and the cleanup removes old ones.
    let (s, first) =
        json(c.post(app.url("/api/v1/checkout")).header("idempotency-key", "day").json(&input).send().await.expect("co")).await;
    assert_eq!(s, 201, "{first}");
    app.clock.advance(chrono::Duration::hours(25));
    c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "ONCE", "quantity": 1})).send().await.expect("add");
    let (s, later) =
        json(c.post(app.url("/api/v1/checkout")).header("idempotency-key", "day").json(&input).send().await.expect("co")).await;
    assert_eq!(s, 201, "{later}");
    assert_ne!(first["order"]["id"], later["order"]["id"], "a day-old key is a new request");
    let removed = lsn_commerce::idempotency::cleanup(&app.rt.state.db, app.clock.now_ms() + 25 * 3600 * 1000).await.expect("cleanup");
    assert!(removed >= 2, "{removed}");
}
both!(idempotency_keys_expire_recover_and_cover_trpc, idempotency_keys);
