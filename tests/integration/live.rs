//! Live rooms with real WebSocket clients on both databases: the runbook's live streaming flow
//! (start → show products → chat → end), moderation, resume after a drop, bad frames, replays.

use crate::both;
use crate::common::{json, TestApp};
use futures::{SinkExt, StreamExt};
use lsn_core::Clock;
use lsn_identity::Role;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Signs in and returns (browser, csrf, session cookie header).
async fn session(app: &TestApp, email: &str) -> (reqwest::Client, String, String) {
    let c = app.client();
    let r =
        c.post(app.url("/api/auth/login")).json(&json!({"email": email, "password": crate::common::PASSWORD})).send().await.expect("login");
    let cookie = crate::common::session_cookie(&r);
    let csrf = r.json::<Value>().await.expect("json")["csrf_token"].as_str().expect("csrf").to_string();
    (c, csrf, cookie)
}

async fn connect(app: &TestApp, show: &str, cookie: Option<&str>, query: &str) -> Ws {
    let url = format!("ws://{}/api/v1/live/shows/{show}/ws{query}", app.addr);
    let mut req = url.into_client_request().expect("request");
    if let Some(c) = cookie {
        req.headers_mut().insert("cookie", c.parse().expect("header"));
    }
    tokio_tungstenite::connect_async(req).await.expect("connect").0
}

/// The next JSON frame, or `None` when the server closed the connection.
async fn next(ws: &mut Ws) -> Option<Value> {
    loop {
        let m = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next()).await.expect("a frame within 5 s");
        match m {
            Some(Ok(Message::Text(t))) => return Some(serde_json::from_str(&t).expect("json frame")),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// Frames until one of type `kind` (returned); panics if the connection closes first.
async fn until(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let v = next(ws).await.unwrap_or_else(|| panic!("closed while waiting for {kind}"));
        if v["type"] == kind {
            return v;
        }
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.expect("send");
}

async fn live_flow(app: TestApp) {
    let host = app.user("host@example.com", Role::Creator).await;
    let ann = app.user("ann@example.com", Role::Customer).await;
    let bob = app.user("bob@example.com", Role::Customer).await;
    let (hc, hcsrf, hcookie) = session(&app, "host@example.com").await;
    let (ac, acsrf, acookie) = session(&app, "ann@example.com").await;
    let (_, _, bcookie) = session(&app, "bob@example.com").await;
    let p = app.product(json!({"title": "Ring Light", "status": "active", "variants": [{"sku": "RL", "price": 6900}]})).await;

    // Shows: creators create them, customers cannot.
    let input = json!({"title": "Creator Tech Live", "scheduled_at": chrono::Utc::now().timestamp_millis() + 60_000, "lineup": [p.slug], "video_url": "https://cdn.example/live/show.m3u8"});
    assert_eq!(
        ac.post(app.url("/api/v1/live/shows")).header("x-csrf-token", &acsrf).json(&input).send().await.expect("send").status(),
        403
    );
    let (s, created) =
        json(hc.post(app.url("/api/v1/live/shows")).header("x-csrf-token", &hcsrf).json(&input).send().await.expect("send")).await;
    assert_eq!(s, 201, "{created}");
    let show = created["show"]["id"].as_str().expect("id").to_string();
    assert_eq!(created["show"]["video"], json!({"kind": "hls", "url": "https://cdn.example/live/show.m3u8"}));
    assert_eq!(created["show"]["lineup"][0]["title"], "Ring Light");
    let bad = json!({"title": "", "scheduled_at": 0});
    assert_eq!(hc.post(app.url("/api/v1/live/shows")).header("x-csrf-token", &hcsrf).json(&bad).send().await.expect("send").status(), 422);

    let mut host_ws = connect(&app, &show, Some(&hcookie), "?v=1").await;
    let w = until(&mut host_ws, "welcome").await;
    assert_eq!(w["you"]["host"], true);
    let mut a = connect(&app, &show, Some(&acookie), "").await;
    let mut b = connect(&app, &show, Some(&bcookie), "?v=1").await;
    let mut anon = connect(&app, &show, None, "").await;
    for ws in [&mut a, &mut b, &mut anon] {
        let w = until(ws, "welcome").await;
        assert_eq!(w["show"]["title"], "Creator Tech Live");
    }

    // Start → everyone sees it.
    let (s, _) =
        json(hc.post(app.url(&format!("/api/v1/live/shows/{show}/start"))).header("x-csrf-token", &hcsrf).send().await.expect("start"))
            .await;
    assert_eq!(s, 200);
    for ws in [&mut a, &mut b, &mut anon, &mut host_ws] {
        until(ws, "show_started").await;
    }
    // Display products: the host pins; viewers see price and stock; a viewer cannot pin.
    send(&mut host_ws, json!({"type": "pin", "product_id": p.id})).await;
    let pinned = until(&mut b, "product_pinned").await;
    assert_eq!((pinned["product"]["price"].as_i64(), pinned["product"]["available"].as_i64()), (Some(6900), Some(0)));
    send(&mut a, json!({"type": "pin", "product_id": p.id})).await;
    assert_eq!(until(&mut a, "error").await["code"], "forbidden");
    // Chat fans out, masked, with sequence numbers.
    send(&mut a, json!({"type": "chat", "text": "Is the ring light shitty in daylight?"})).await;
    let chat = until(&mut b, "chat").await;
    assert_eq!(chat["text"], "Is the ring light ****** in daylight?");
    assert_eq!(chat["name"], "Test Person");
    let chat_seq = chat["seq"].as_i64().expect("seq");
    assert!(chat_seq > pinned["seq"].as_i64().expect("seq"));
    let message_id = chat["id"].as_str().expect("id").to_string();
    send(&mut anon, json!({"type": "chat", "text": "hi"})).await;
    assert_eq!(until(&mut anon, "error").await["code"], "sign_in_required");
    // Moderation reaches everyone at once.
    send(&mut host_ws, json!({"type": "delete_message", "message_id": message_id})).await;
    assert_eq!(until(&mut a, "chat_deleted").await["message_id"], message_id);
    assert_eq!(until(&mut b, "chat_deleted").await["message_id"], message_id);
    send(&mut host_ws, json!({"type": "mute", "user_id": bob.id})).await;
    until(&mut b, "user_muted").await;
    send(&mut b, json!({"type": "chat", "text": "let me talk"})).await;
    assert_eq!(until(&mut b, "error").await["code"], "muted");
    // Bad frames are refused; the room goes on.
    b.send(Message::Text("{not json".into())).await.expect("send");
    assert_eq!(until(&mut b, "error").await["code"], "malformed");
    send(&mut b, json!({"type": "teleport"})).await;
    assert_eq!(until(&mut b, "error").await["code"], "unknown_type");
    b.send(Message::Binary(vec![1, 2, 3].into())).await.expect("send");
    assert_eq!(until(&mut b, "error").await["code"], "binary_not_supported");
    send(&mut b, json!({"type": "react", "emoji": "🔥"})).await;
    assert_eq!(until(&mut a, "reaction").await["emoji"], "🔥");
    // Flooding is limited per viewer.
    let mut codes = Vec::new();
    for i in 0..6 {
        send(&mut a, json!({"type": "chat", "text": format!("msg {i}")})).await;
    }
    send(&mut a, json!({"type": "ping"})).await;
    loop {
        let v = next(&mut a).await.expect("frame");
        if v["type"] == "error" {
            codes.push(v["code"].as_str().unwrap_or("").to_string());
        }
        if v["type"] == "pong" {
            break;
        }
    }
    // Ann spoke once before: four more fit in the window, the last two are refused.
    assert_eq!(codes, vec!["rate_limited", "rate_limited"]);

    // Resume: Bob drops, misses messages, reconnects with his last number and gets them.
    let last = until(&mut b, "chat").await["seq"].as_i64().expect("seq");
    drop(b);
    app.clock.advance(chrono::Duration::seconds(11));
    send(&mut host_ws, json!({"type": "chat", "text": "Welcome everyone!"})).await;
    send(&mut host_ws, json!({"type": "chat", "text": "Deal coming up."})).await;
    until(&mut a, "chat").await;
    let mut b = connect(&app, &show, Some(&bcookie), &format!("?v=1&since={last}")).await;
    until(&mut b, "welcome").await;
    let mut missed = Vec::new();
    while missed.len() < 6 {
        let v = next(&mut b).await.expect("frame");
        if v["type"] == "chat" {
            missed.push(v["text"].as_str().unwrap_or("").to_string());
            if missed.last().is_some_and(|t| t == "Deal coming up.") {
                break;
            }
        }
    }
    assert!(missed.ends_with(&["Welcome everyone!".to_string(), "Deal coming up.".to_string()]), "{missed:?}");
    let mut future = connect(&app, &show, Some(&bcookie), "?since=999999").await;
    until(&mut future, "welcome").await;
    assert_eq!(until(&mut future, "error").await["code"], "sequence_from_future");
    let mut v3 = connect(&app, &show, None, "?v=3").await;
    assert_eq!(next(&mut v3).await.expect("frame")["code"], "unsupported_version");
    assert!(next(&mut v3).await.is_none(), "closed after refusing the version");

    // The runbook's procedures.
    let (s, b2) = json(
        ac.post(app.url("/api/trpc/streaming.sendMessage"))
            .header("x-csrf-token", &acsrf)
            .json(&json!({"showId": show, "message": "via tRPC"}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 200, "{b2}");
    while until(&mut host_ws, "chat").await["text"] != "via tRPC" {}
    let (_, listed) =
        json(reqwest::get(app.url("/api/trpc/streaming.listShows?input=%7B%22status%22%3A%22live%22%7D")).await.expect("send")).await;
    assert_eq!(listed["result"]["data"][0]["id"], show.as_str());
    let (s, _) = json(
        ac.post(app.url("/api/trpc/streaming.endShow"))
            .header("x-csrf-token", &acsrf)
            .json(&json!({"showId": show}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 403, "a viewer cannot end the show");

    // Ban: the viewer is put out at once and cannot come back.
    send(&mut host_ws, json!({"type": "ban", "user_id": ann.id})).await;
    until(&mut host_ws, "user_banned").await;
    until(&mut a, "user_banned").await;
    assert!(next(&mut a).await.is_none(), "the banned viewer's connection is closed");
    let url = format!("ws://{}/api/v1/live/shows/{show}/ws", app.addr);
    let mut req = url.into_client_request().expect("req");
    req.headers_mut().insert("cookie", acookie.parse().expect("h"));
    assert!(tokio_tungstenite::connect_async(req).await.is_err(), "a banned viewer is refused");
    let (s, _) = json(
        ac.post(app.url(&format!("/api/v1/live/shows/{show}/messages")))
            .header("x-csrf-token", &acsrf)
            .json(&json!({"text": "still here?"}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 403);

    // End: everyone is told, the room closes, the timeline stays for the replay.
    let (s, _) = json(
        hc.post(app.url("/api/trpc/streaming.endShow"))
            .header("x-csrf-token", &hcsrf)
            .json(&json!({"showId": show}))
            .send()
            .await
            .expect("end"),
    )
    .await;
    assert_eq!(s, 200);
    until(&mut b, "show_ended").await;
    assert!(next(&mut b).await.is_none());
    let url = format!("ws://{}/api/v1/live/shows/{show}/ws", app.addr);
    assert!(tokio_tungstenite::connect_async(url).await.is_err(), "an ended show has no room");
    let (_, replay) = json(reqwest::get(app.url(&format!("/api/v1/live/shows/{show}/replay"))).await.expect("replay")).await;
    let kinds: Vec<&str> = replay["events"].as_array().expect("events").iter().filter_map(|e| e["type"].as_str()).collect();
    for k in ["show_started", "product_pinned", "chat", "chat_deleted", "user_muted", "user_banned", "show_ended"] {
        assert!(kinds.contains(&k), "{k} missing from the replay: {kinds:?}");
    }
    let seqs: Vec<i64> = replay["events"].as_array().expect("events").iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order");
    let (_, info) = json(reqwest::get(app.url(&format!("/api/v1/live/shows/{show}"))).await.expect("show")).await;
    assert_eq!(info["show"]["status"], "ended");
    assert!(info["stats"]["unique_viewers"].as_i64().expect("n") >= 4, "{info}");
    assert!(info["stats"]["peak_viewers"].as_i64().expect("n") >= 4, "{info}");
    let _ = host;
}
both!(live_streaming_flow, live_flow);

async fn flash_deal(app: TestApp) {
    app.user("host@example.com", Role::Creator).await;
    app.user("fan@example.com", Role::Customer).await;
    let (hc, hcsrf, hcookie) = session(&app, "host@example.com").await;
    let (fc, fcsrf, _) = session(&app, "fan@example.com").await;
    let p = app.product(json!({"title": "Mystery Box", "status": "active", "variants": [{"sku": "BOX", "price": 5000}]})).await;
    let variant = p.variants[0].id.clone();
    let now = chrono::Utc::now().timestamp_millis();
    app.stock(&variant, 500).await;
    let (_, created) = json(
        hc.post(app.url("/api/v1/live/shows"))
            .header("x-csrf-token", &hcsrf)
            .json(&json!({"title": "Deal Night", "scheduled_at": now, "lineup": [p.id]}))
            .send()
            .await
            .expect("create"),
    )
    .await;
    let show = created["show"]["id"].as_str().expect("id").to_string();
    let deals = app.url(&format!("/api/v1/live/shows/{show}/deals"));
    let deal_input =
        json!({"sku": "BOX", "price": 1900, "quantity": 10, "countdown_secs": 10, "duration_secs": 120, "per_customer_limit": 1});
    let (s, b) = json(hc.post(&deals).header("x-csrf-token", &hcsrf).json(&deal_input).send().await.expect("deal")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("show_not_live")));
    hc.post(app.url(&format!("/api/v1/live/shows/{show}/start"))).header("x-csrf-token", &hcsrf).send().await.expect("start");
    let mut host_ws = connect(&app, &show, Some(&hcookie), "").await;
    until(&mut host_ws, "welcome").await;
    let (s, b) = json(hc.post(&deals).header("x-csrf-token", &hcsrf).json(&deal_input).send().await.expect("deal")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("nothing_pinned")));
    send(&mut host_ws, json!({"type": "pin", "product_id": p.id})).await;
    until(&mut host_ws, "product_pinned").await;
    for bad in [
        json!({"sku": "BOX", "price": 1900, "quantity": 10, "countdown_secs": 5}),
        json!({"sku": "BOX", "price": 1900, "quantity": 10, "duration_secs": 3600}),
        json!({"sku": "NOPE", "price": 1, "quantity": 1}),
    ] {
        assert_eq!(hc.post(&deals).header("x-csrf-token", &hcsrf).json(&bad).send().await.expect("deal").status(), 422, "{bad}");
    }
    assert_eq!(fc.post(&deals).header("x-csrf-token", &fcsrf).json(&deal_input).send().await.expect("deal").status(), 403);
    let mut viewer = connect(&app, &show, None, "").await;
    until(&mut viewer, "welcome").await;
    send(&mut host_ws, json!({"type": "start_deal", "deal": deal_input})).await;
    let started = until(&mut viewer, "deal_started").await;
    let deal = started["deal"]["id"].as_str().expect("deal").to_string();
    assert_eq!(
        (started["deal"]["price"].as_i64(), started["deal"]["remaining"].as_i64(), started["deal"]["status"].as_str()),
        (Some(1900), Some(10), Some("upcoming"))
    );

    let buy = app.url(&format!("/api/v1/live/deals/{deal}/buy"));
    let body = |i: usize| json!({"email": format!("buyer{i}@example.com"), "shipping_address": {"name": "B", "line1": "1 A St", "suburb": "Hobart", "state": "TAS", "postcode": "7000"}});
    let (s, b) = json(reqwest::Client::new().post(&buy).json(&body(0)).send().await.expect("buy")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("deal_not_started")), "the countdown runs first");
    app.clock.advance(chrono::Duration::seconds(10));
    // A customer may take one at the deal price, not two.
    let (s, b) = json(
        fc.post(&buy)
            .header("x-csrf-token", &fcsrf)
            .json(&json!({"quantity": 2, "shipping_address": body(0)["shipping_address"]}))
            .send()
            .await
            .expect("buy"),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("deal_customer_limit")));
    // 40 viewers race for 10 units.
    let results = futures::future::join_all((1..=40).map(|i| {
        let (url, b) = (buy.clone(), body(i));
        async move { json(reqwest::Client::new().post(url).json(&b).send().await.expect("buy")).await }
    }))
    .await;
    let won: Vec<&Value> = results.iter().filter(|(s, _)| *s == 201).map(|(_, b)| b).collect();
    assert_eq!(won.len(), 10, "{results:?}");
    let losers: std::collections::BTreeSet<(u16, String)> =
        results.iter().filter(|(s, _)| *s != 201).map(|(s, b)| (*s, b["error"]["code"].as_str().unwrap_or("").to_string())).collect();
    assert_eq!(losers, [(409, "deal_sold_out".to_string())].into_iter().collect(), "{losers:?}");
    let o = &won[0]["order"];
    assert_eq!((o["subtotal"].as_i64(), o["items"][0]["unit_price"].as_i64()), (Some(1900), Some(1900)));
    let ended = until(&mut viewer, "deal_ended").await;
    assert_eq!((ended["reason"].as_str(), ended["remaining"].as_i64()), (Some("sold_out"), Some(0)));
    let attributed: i64 = lsn_db::RowExt::try_get(
        &lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE show_id = $1")
            .bind(&show)
            .fetch_one(app.rt.state.db.read())
            .await
            .expect("count"),
        0,
    )
    .expect("n");
    assert_eq!(attributed, 10, "deal sales are attributed to the show");
    // Paying works as for any order; a declined one gives its unit back to the deal.
    // A paid deal order shows in the room's purchase ticker, with no personal data.
    let paid = won[1];
    let pid = paid["order"]["id"].as_str().expect("id");
    let r = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/orders/{pid}/pay")))
        .header("x-order-token", paid["order_token"].as_str().expect("t"))
        .json(&json!({"card_number": "4242424242424242"}))
        .send()
        .await
        .expect("pay");
    assert_eq!(r.status(), 200);
    app.run_jobs().await;
    let ticker = until(&mut viewer, "purchase").await;
    assert_eq!(ticker["text"], "Someone in Hobart just bought Mystery Box — Default");
    assert!(!ticker.to_string().contains("buyer"), "no email or name in the ticker");
    let first = won[0];
    let id = first["order"]["id"].as_str().expect("id");
    let r = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/orders/{id}/pay")))
        .header("x-order-token", first["order_token"].as_str().expect("t"))
        .json(&json!({"card_number": "4000000000000002"}))
        .send()
        .await
        .expect("pay");
    assert_eq!(r.status(), 402);
    app.run_jobs().await;
    let (_, d) = json(reqwest::get(app.url(&format!("/api/v1/live/deals/{deal}"))).await.expect("deal")).await;
    assert_eq!(d["deal"]["remaining"], 1);
}
both!(flash_deal_sells_exactly_its_quantity, flash_deal);

async fn auction(app: TestApp) {
    app.user("host@example.com", Role::Creator).await;
    let ann = app.user("ann@example.com", Role::Customer).await;
    let ben = app.user("ben@example.com", Role::Customer).await;
    let (hc, hcsrf, hcookie) = session(&app, "host@example.com").await;
    let (ac, acsrf, acookie) = session(&app, "ann@example.com").await;
    let (bc, bcsrf, _) = session(&app, "ben@example.com").await;
    let p = app.product(json!({"title": "Signed Print", "status": "active", "variants": [{"sku": "PRINT", "price": 9900}]})).await;
    app.stock(&p.variants[0].id, 1).await;
    let now = chrono::Utc::now().timestamp_millis();
    let (_, created) = json(
        hc.post(app.url("/api/v1/live/shows"))
            .header("x-csrf-token", &hcsrf)
            .json(&json!({"title": "Auction Hour", "scheduled_at": now, "lineup": [p.id]}))
            .send()
            .await
            .expect("create"),
    )
    .await;
    let show = created["show"]["id"].as_str().expect("id").to_string();
    hc.post(app.url(&format!("/api/v1/live/shows/{show}/start"))).header("x-csrf-token", &hcsrf).send().await.expect("start");
    let mut host_ws = connect(&app, &show, Some(&hcookie), "").await;
    until(&mut host_ws, "welcome").await;
    send(&mut host_ws, json!({"type": "pin", "product_id": p.id})).await;
    until(&mut host_ws, "product_pinned").await;
    let mut a = connect(&app, &show, Some(&acookie), "").await;
    until(&mut a, "welcome").await;
    send(&mut a, json!({"type": "start_auction", "auction": {"sku": "PRINT", "starting_price": 1000}})).await;
    assert_eq!(until(&mut a, "error").await["code"], "forbidden");
    send(&mut host_ws, json!({"type": "start_auction", "auction": {"sku": "PRINT", "starting_price": 1000, "increment": 100, "reserve_price": 1500, "duration_secs": 60, "soft_close_secs": 10}})).await;
    let started = until(&mut a, "auction_started").await;
    let id = started["auction"]["id"].as_str().expect("id").to_string();
    let bid = |c: &reqwest::Client, csrf: &str, amount: i64| {
        let (c, url, csrf) = (c.clone(), app.url(&format!("/api/v1/live/auctions/{id}/bids")), csrf.to_string());
        async move { json(c.post(url).header("x-csrf-token", csrf).json(&json!({"amount": amount})).send().await.expect("bid")).await }
    };
    let (s, b) = bid(&ac, &acsrf, 900).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("bid_too_low")));
    assert_eq!(bid(&ac, &acsrf, 1200).await.1["auction"]["price"], 1000, "the first bid opens at the starting price");
    let (_, b) = bid(&bc, &bcsrf, 1100).await;
    assert_eq!(
        (b["auction"]["price"].as_i64(), b["auction"]["leader_id"].as_str()),
        (Some(1200), Some(ann.id.as_str())),
        "Ann's proxy answers"
    );
    let (s, b) = bid(&bc, &bcsrf, 1100).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("bid_too_low")));
    let (_, b) = bid(&bc, &bcsrf, 2000).await;
    assert_eq!((b["auction"]["price"].as_i64(), b["auction"]["leader_id"].as_str()), (Some(1300), Some(ben.id.as_str())));
    // A bid over the websocket, in the last seconds: the clock goes back to 10 s.
    app.clock.advance(chrono::Duration::seconds(55));
    send(&mut a, json!({"type": "bid", "auction_id": id, "amount": 1500})).await;
    let seen = until(&mut host_ws, "bid").await;
    let mut last_bid = seen;
    while last_bid["price"] != 1600 {
        last_bid = until(&mut host_ws, "bid").await;
    }
    let ext = until(&mut host_ws, "auction_extended").await;
    assert_eq!(ext["ends_at"].as_i64(), Some(app.clock.now_ms() + 10_000));
    app.clock.advance(chrono::Duration::seconds(11));
    let (s, b) = bid(&ac, &acsrf, 5000).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("auction_closed")));
    assert_eq!(app.rt.state.live.close_due_auctions().await.expect("close"), 1);
    let won = until(&mut a, "auction_won").await;
    assert_eq!((won["winner_id"].as_str(), won["amount"].as_i64()), (Some(ben.id.as_str()), Some(1600)));
    let deal = won["deal_id"].as_str().expect("deal").to_string();
    // Only the winner can buy, at the winning price.
    let addr = json!({"shipping_address": {"name": "W", "line1": "1 A St", "suburb": "Darwin", "state": "NT", "postcode": "0800"}});
    let (s, b) = json(
        ac.post(app.url(&format!("/api/v1/live/deals/{deal}/buy"))).header("x-csrf-token", &acsrf).json(&addr).send().await.expect("buy"),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("deal_reserved")));
    // Ben does not pay; the host offers it to Ann at her highest bid.
    let (s, b) = json(
        hc.post(app.url(&format!("/api/v1/live/auctions/{id}/second-chance"))).header("x-csrf-token", &hcsrf).send().await.expect("second"),
    )
    .await;
    assert_eq!(
        (s, b["auction"]["winner_id"].as_str(), b["auction"]["winning_amount"].as_i64()),
        (200, Some(ann.id.as_str()), Some(1500)),
        "{b}"
    );
    let second = until(&mut a, "auction_won").await;
    assert_eq!(second["second_chance"], true);
    let deal2 = second["deal_id"].as_str().expect("deal");
    let (s, b) = json(
        ac.post(app.url(&format!("/api/v1/live/deals/{deal2}/buy"))).header("x-csrf-token", &acsrf).json(&addr).send().await.expect("buy"),
    )
    .await;
    assert_eq!((s, b["order"]["total"].as_i64()), (201, Some(1500 + 995)), "{b}");
    let (s, _) = json(
        bc.post(app.url(&format!("/api/v1/live/deals/{deal}/buy"))).header("x-csrf-token", &bcsrf).json(&addr).send().await.expect("buy"),
    )
    .await;
    assert_eq!(s, 400, "the first winner's offer was withdrawn");

    // Sudden death: no extension; a reserve not met means no winner.
    send(&mut host_ws, json!({"type": "start_auction", "auction": {"sku": "PRINT", "starting_price": 500, "reserve_price": 10000, "duration_secs": 30, "sudden_death": true}})).await;
    let id2 = until(&mut a, "auction_started").await["auction"]["id"].as_str().expect("id").to_string();
    app.clock.advance(chrono::Duration::seconds(29));
    let (_, b) = json(
        ac.post(app.url(&format!("/api/v1/live/auctions/{id2}/bids")))
            .header("x-csrf-token", &acsrf)
            .json(&json!({"amount": 700}))
            .send()
            .await
            .expect("bid"),
    )
    .await;
    assert_eq!(b["auction"]["ends_at"], b["auction"]["starts_at"].as_i64().expect("s") + 30_000, "sudden death does not extend");
    app.clock.advance(chrono::Duration::seconds(2));
    app.rt.state.live.close_due_auctions().await.expect("close");
    let ended = until(&mut a, "auction_ended").await;
    assert_eq!(ended["reason"], "reserve_not_met");
}
both!(auction_with_proxy_bids_and_soft_close, auction);

async fn gifts(app: TestApp) {
    let host = app.user("host@example.com", Role::Creator).await;
    app.user("admin@example.com", Role::Admin).await;
    app.user("fan@example.com", Role::Customer).await;
    let (hc, hcsrf, hcookie) = session(&app, "host@example.com").await;
    let (adm, admcsrf, _) = session(&app, "admin@example.com").await;
    let (fc, fcsrf, fcookie) = session(&app, "fan@example.com").await;
    let pack = app.product(json!({"title": "100 Coins", "status": "active", "variants": [{"sku": "COINS-100", "price": 149}]})).await;
    app.stock(&pack.variants[0].id, 1000).await;
    assert_eq!(
        fc.post(app.url("/api/v1/live/coin-packs"))
            .header("x-csrf-token", &fcsrf)
            .json(&json!({"sku": "COINS-100", "coins": 100}))
            .send()
            .await
            .expect("pack")
            .status(),
        403
    );
    let (s, _) = json(
        adm.post(app.url("/api/v1/live/coin-packs"))
            .header("x-csrf-token", &admcsrf)
            .json(&json!({"sku": "COINS-100", "coins": 100}))
            .send()
            .await
            .expect("pack"),
    )
    .await;
    assert_eq!(s, 200);
    // Coins are bought through the normal order flow and credited when the payment succeeds.
    fc.post(app.url("/api/v1/cart/items"))
        .header("x-csrf-token", &fcsrf)
        .json(&json!({"sku": "COINS-100", "quantity": 1}))
        .send()
        .await
        .expect("add");
    let (s, co) = json(
        fc.post(app.url("/api/v1/checkout"))
            .header("x-csrf-token", &fcsrf)
            .json(&json!({"shipping_address": {"name": "F", "line1": "1 A St", "suburb": "Adelaide", "state": "SA", "postcode": "5000"}}))
            .send()
            .await
            .expect("co"),
    )
    .await;
    assert_eq!(s, 201, "{co}");
    let oid = co["order"]["id"].as_str().expect("id");
    fc.post(app.url(&format!("/api/v1/orders/{oid}/pay")))
        .header("x-csrf-token", &fcsrf)
        .json(&json!({"card_number": "4242424242424242"}))
        .send()
        .await
        .expect("pay");
    app.run_jobs().await;
    let (_, w) = json(fc.get(app.url("/api/v1/live/coins")).send().await.expect("coins")).await;
    assert_eq!(w["balance"], 100);
    assert_eq!(app.rt.state.live.credit_coins_for_order(oid).await.expect("again"), 0, "credited once per order");

    let now = chrono::Utc::now().timestamp_millis();
    let (_, created) = json(
        hc.post(app.url("/api/v1/live/shows"))
            .header("x-csrf-token", &hcsrf)
            .json(&json!({"title": "Gift Night", "scheduled_at": now}))
            .send()
            .await
            .expect("create"),
    )
    .await;
    let show = created["show"]["id"].as_str().expect("id").to_string();
    let (s, _) = json(
        fc.post(app.url(&format!("/api/v1/live/shows/{show}/gifts")))
            .header("x-csrf-token", &fcsrf)
            .json(&json!({"gift": "rose"}))
            .send()
            .await
            .expect("gift"),
    )
    .await;
    assert_eq!(s, 409, "only during a live show");
    hc.post(app.url(&format!("/api/v1/live/shows/{show}/start"))).header("x-csrf-token", &hcsrf).send().await.expect("start");
    let mut host_ws = connect(&app, &show, Some(&hcookie), "").await;
    until(&mut host_ws, "welcome").await;
    let mut fan_ws = connect(&app, &show, Some(&fcookie), "").await;
    until(&mut fan_ws, "welcome").await;
    send(&mut fan_ws, json!({"type": "gift", "gift": "rocket"})).await;
    let g = until(&mut host_ws, "gift_sent").await;
    assert_eq!((g["gift"].as_str(), g["coins"].as_i64()), (Some("rocket"), Some(100)));
    send(&mut fan_ws, json!({"type": "gift", "gift": "rose"})).await;
    assert_eq!(until(&mut fan_ws, "error").await["code"], "insufficient_coins");
    send(&mut fan_ws, json!({"type": "gift", "gift": "diamond-yacht"})).await;
    assert_eq!(until(&mut fan_ws, "error").await["code"], "unknown_gift");
    let (s, b) = json(
        fc.post(app.url(&format!("/api/v1/live/shows/{show}/gifts")))
            .header("x-csrf-token", &fcsrf)
            .json(&json!({"gift": "rose"}))
            .send()
            .await
            .expect("gift"),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (402, Some("insufficient_coins")));
    assert_eq!(app.rt.state.live.gift_earnings(&host.id).await.expect("earnings"), 100, "credited to the host in the ledger");
    assert_eq!(app.rt.state.live.coin_balance(&host.id).await.expect("b"), 0);
}
both!(gifts_are_bought_sent_and_credited, gifts);

/// Two LSN processes on one database and a real Redis: a room spans both nodes, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_span_two_nodes_through_redis() {
    let Some(redis) = crate::common::start_redis().await else { return };
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data").display().to_string();
    let env = [("LSN_DATA_DIR", data.as_str()), ("REDIS_URL", redis.url.as_str())];
    let created = std::process::Command::new(env!("CARGO_BIN_EXE_lsn"))
        .current_dir(dir.path())
        .args(["admin", "create", "--email", "host@example.com", "--role", "creator"])
        .env("LSN_DATA_DIR", &data)
        .env("LSN_ADMIN_PASSWORD", crate::common::PASSWORD)
        .env_remove("DATABASE_URL")
        .output()
        .expect("admin create");
    assert!(created.status.success());
    let n1 = crate::common::spawn_node(dir.path(), &env);
    let n2 = crate::common::spawn_node(dir.path(), &env);
    assert!(n1.startup.iter().any(|l| l.contains("live rooms span nodes through Redis")));
    let base1 = format!("http://127.0.0.1:{}", n1.port);
    let c = reqwest::Client::builder().cookie_store(true).build().expect("client");
    let r = c
        .post(format!("{base1}/api/auth/login"))
        .json(&json!({"email": "host@example.com", "password": crate::common::PASSWORD}))
        .send()
        .await
        .expect("login");
    let cookie = crate::common::session_cookie(&r);
    let csrf = r.json::<Value>().await.expect("json")["csrf_token"].as_str().expect("csrf").to_string();
    let (_, created) = json(
        c.post(format!("{base1}/api/v1/live/shows"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"title": "Two Nodes", "scheduled_at": chrono::Utc::now().timestamp_millis()}))
            .send()
            .await
            .expect("create"),
    )
    .await;
    let show = created["show"]["id"].as_str().expect("show").to_string();
    c.post(format!("{base1}/api/v1/live/shows/{show}/start")).header("x-csrf-token", &csrf).send().await.expect("start");
    let ws = |port: u16, cookie: Option<String>, query: String| {
        let show = show.clone();
        async move {
            let mut req = format!("ws://127.0.0.1:{port}/api/v1/live/shows/{show}/ws{query}").into_client_request().expect("req");
            if let Some(c) = cookie {
                req.headers_mut().insert("cookie", c.parse().expect("h"));
            }
            tokio_tungstenite::connect_async(req).await.expect("connect").0
        }
    };
    let mut a = ws(n1.port, None, String::new()).await;
    until(&mut a, "welcome").await;
    let mut b = ws(n2.port, None, String::new()).await;
    until(&mut b, "welcome").await;
    let mut host = ws(n2.port, Some(cookie.clone()), String::new()).await;
    until(&mut host, "welcome").await;
    // The host on node 2 speaks; the viewer on node 1 hears it with the same number.
    send(&mut host, json!({"type": "chat", "text": "hello from node 2"})).await;
    let on1 = until(&mut a, "chat").await;
    let on2 = until(&mut b, "chat").await;
    assert_eq!(on1["text"], "hello from node 2");
    assert_eq!(on1["seq"], on2["seq"]);
    // Events from both nodes arrive everywhere in one order.
    for i in 0..5 {
        c.post(format!("{base1}/api/v1/live/shows/{show}/messages"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"text": format!("n1-{i}")}))
            .send()
            .await
            .expect("msg");
        send(&mut host, json!({"type": "chat", "text": format!("n2-{i}")})).await;
    }
    let mut seq_a = Vec::new();
    let mut seq_b = Vec::new();
    while seq_a.len() < 10 {
        let v = until(&mut a, "chat").await;
        seq_a.push((v["seq"].as_i64().expect("seq"), v["text"].as_str().unwrap_or("").to_string()));
    }
    while seq_b.len() < 10 {
        let v = until(&mut b, "chat").await;
        seq_b.push((v["seq"].as_i64().expect("seq"), v["text"].as_str().unwrap_or("").to_string()));
    }
    assert_eq!(seq_a, seq_b, "the same events in the same order on both nodes");
    assert!(seq_a.windows(2).all(|w| w[0].0 < w[1].0));
    // The viewer count is global.
    send(&mut a, json!({"type": "ping"})).await;
    assert_eq!(until(&mut a, "pong").await["viewers"], 3);
    // A viewer that drops from node 2 resumes on node 1.
    let last = seq_b.last().expect("last").0;
    drop(b);
    send(&mut host, json!({"type": "chat", "text": "while you were away"})).await;
    until(&mut a, "chat").await;
    let mut b = ws(n1.port, None, format!("?since={last}")).await;
    until(&mut b, "welcome").await;
    assert_eq!(until(&mut b, "chat").await["text"], "while you were away");
    drop(redis);
}

/// A viewer that stops reading is let go (4008) once it falls more than the room's queue behind;
/// everyone else gets every event, and the slow one can come back and is told to resync.
async fn slow_viewer(app: TestApp) {
    let host = app.user("host@example.com", Role::Creator).await;
    let input = json!({"title": "Busy room", "scheduled_at": app.clock.now_ms() + 60_000});
    let show = app.rt.state.live.create(&host, &serde_json::from_value(input).expect("input")).await.expect("show").id;
    let mut slow = connect(&app, &show, None, "").await;
    let mut fast = connect(&app, &show, None, "").await;
    until(&mut slow, "welcome").await;
    until(&mut fast, "welcome").await;
    let room = app.rt.state.live.hub.room(&show).await.expect("room");
    // Big events fill the slow viewer's socket buffers quickly; it reads nothing meanwhile.
    let filler = "x".repeat(4000);
    let total: usize = 3000;
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let fast_seen = seen.clone();
    let fast_reader = tokio::spawn(async move {
        while fast_seen.load(std::sync::atomic::Ordering::Relaxed) < total {
            match next(&mut fast).await {
                Some(v) if v["type"] == "reaction" => {
                    fast_seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Some(_) => {}
                None => break,
            }
        }
        fast_seen.load(std::sync::atomic::Ordering::Relaxed)
    });
    // In steps of 200, each once the reading viewer has had the last: it never falls behind
    // (however busy the machine), while the one that reads nothing falls further and further.
    for sent in (200..=total).step_by(200) {
        for _ in 0..200 {
            room.publish("reaction", json!({"emoji": "🔥", "pad": filler}), false).await;
        }
        let wait = std::time::Instant::now();
        while seen.load(std::sync::atomic::Ordering::Relaxed) < sent && wait.elapsed() < std::time::Duration::from_secs(20) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
    assert_eq!(fast_reader.await.expect("fast"), total, "a viewer that keeps up gets every event");
    // The slow viewer now reads: some events, then the close that lets it go.
    let mut got = 0;
    let code = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), slow.next()).await.expect("frames") {
            Some(Ok(Message::Text(_))) => got += 1,
            Some(Ok(Message::Close(Some(c)))) => break u16::from(c.code),
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(code, 4008, "too slow: reconnect with since");
    assert!(got < total, "it was let go before the end ({got} of {total})");
    // Coming back with a sequence number older than the resume window: resync.
    let mut again = connect(&app, &show, None, "?since=1").await;
    until(&mut again, "welcome").await;
    assert!(until(&mut again, "resync").await["seq"].as_i64().expect("seq") >= total as i64);
}
both!(slow_viewers_are_let_go_not_waited_for, slow_viewer);

/// Protocol 2: a tick's events arrive as one JSON array, in order, and a catch-up is one array.
async fn protocol_two(app: TestApp) {
    let host = app.user("host@example.com", Role::Creator).await;
    let input = json!({"title": "Ticks", "scheduled_at": app.clock.now_ms() + 60_000});
    let show = app.rt.state.live.create(&host, &serde_json::from_value(input).expect("input")).await.expect("show").id;
    let mut v2 = connect(&app, &show, None, "?v=2").await;
    let w = next(&mut v2).await.expect("welcome");
    assert_eq!(w["type"], "welcome", "the greeting is a single object");
    let room = app.rt.state.live.hub.room(&show).await.expect("room");
    for e in ["❤️", "🔥", "👏"] {
        room.publish("reaction", json!({"emoji": e}), false).await;
    }
    // One tick later: one frame with all three, in order.
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), v2.next()).await.expect("a tick").expect("open").expect("frame");
    let Message::Text(t) = frame else { panic!("text frame") };
    let arr: Vec<Value> = serde_json::from_str(&t).expect("an array");
    assert_eq!(arr.iter().map(|e| e["emoji"].as_str().unwrap_or_default()).collect::<Vec<_>>(), vec!["❤️", "🔥", "👏"]);
    let last = arr[2]["seq"].as_i64().expect("seq");
    assert_eq!(arr[0]["seq"].as_i64(), Some(last - 2));
    // Missed events come back as one array after the greeting.
    room.publish("reaction", json!({"emoji": "😂"}), false).await;
    room.publish("reaction", json!({"emoji": "😮"}), false).await;
    let mut again = connect(&app, &show, None, &format!("?v=2&since={last}")).await;
    assert_eq!(next(&mut again).await.expect("welcome")["type"], "welcome");
    let frame =
        tokio::time::timeout(std::time::Duration::from_secs(5), again.next()).await.expect("catch-up").expect("open").expect("frame");
    let Message::Text(t) = frame else { panic!("text frame") };
    let arr: Vec<Value> = serde_json::from_str(&t).expect("an array");
    assert_eq!(arr.iter().map(|e| e["emoji"].as_str().unwrap_or_default()).collect::<Vec<_>>(), vec!["😂", "😮"]);
}
both!(protocol_two_sends_one_array_per_tick, protocol_two);
