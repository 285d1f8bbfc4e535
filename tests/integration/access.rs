//! One access check for every surface, walked from the tables the surfaces are built from — the
//! app's route table (every API route and every page and form), tRPC's procedures and the live
//! room's frame types — so a new route, procedure or frame is walked here without editing this
//! test. Each is called with narrow API keys of an admin (`catalog:read`, `orders:read`,
//! `live:write`) and anonymously: what the declared access refuses is refused (403, or 401 for
//! nobody), what it allows is not, and nothing answers 5xx. This is the class of the
//! `catalog:read` key that opened the HTML admin, read the mailbox, minted an admin key and
//! hosted a live room.

use crate::both;
use crate::common::{json, TestApp, PASSWORD};
use futures::{SinkExt, StreamExt};
use lsn_core::Clock;
use lsn_identity::access::{Access, Scope};
use lsn_identity::AuthUser;
use lsn_identity::Role;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// An API key of `user` with `scopes`, and the caller it makes (to ask the access rules).
async fn key(app: &TestApp, user: &lsn_identity::User, scopes: &[&str]) -> (String, AuthUser) {
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    let (_, k) = app.identity().create_api_key(&lsn_identity::audit::Actor::system(), user, "narrow", &scopes).await.expect("key");
    let caller =
        AuthUser { user: user.clone(), scopes: Some(scopes), session_token: None, api_key: Some(k.clone()), meta: Default::default() };
    (k, caller)
}

fn concrete(path: &str, show: &str, product: &str) -> String {
    path.replace("/shows/{id}", &format!("/shows/{show}"))
        .replace("/products/{id}", &format!("/products/{product}"))
        .split('/')
        .map(|seg| if seg.starts_with('{') { "missing" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

async fn keys_and_pages(app: TestApp) {
    let boss = app.user("boss@example.com", Role::Admin).await;
    let p = app.product(json!({"title": "Walk Mug", "status": "active", "variants": [{"sku": "WALK", "price": 1500}]})).await;
    let input: lsn_live::shows::ShowInput =
        serde_json::from_value(json!({"title": "Walk Live", "scheduled_at": app.clock.now_ms() + 60_000})).expect("show");
    let show = app.rt.state.live.create(&boss, &input).await.expect("show").id;
    let mut narrow = Vec::new();
    for scopes in [&["catalog:read"][..], &["orders:read"], &["live:write"]] {
        narrow.push((scopes.join(" "), key(&app, &boss, scopes).await));
    }
    let table = app.rt.route_table().to_vec();
    assert!(table.len() > 90, "{} routes", table.len());
    // The declarations themselves follow the rules: the admin (pages and API) is staff's, and a
    // change that anyone may make without a scope is one of the few that need no account.
    const OPEN_CHANGES: &[&str] = &[
        "/api/auth/register",
        "/api/auth/verify",
        "/api/auth/login",
        "/api/auth/logout",
        "/api/auth/password/forgot",
        "/api/auth/password/reset",
        "/api/oauth/callback",
        "/api/webhooks/stripe",
        // Verified by their signatures, like Stripe's.
        "/api/webhooks/wise",
        "/api/webhooks/stripe/connect",
        "/api/sandbox/3ds/{intent}",
        "/login",
        "/register",
        "/logout",
        "/password/forgot",
        "/password/reset",
        // The language switch: the browser's cookie, and the account's only with its session.
        "/locale",
    ];
    for r in &table {
        if r.path.starts_with("/admin") || r.path.starts_with("/api/v1/admin") || r.path.starts_with("/api/v1/api-keys") {
            assert!(
                matches!(r.access, Access::Staff(_) | Access::StaffSession),
                "{} {} is staff's, not {}",
                r.method,
                r.path,
                r.access.label()
            );
        }
        if !matches!(r.method, "GET" | "ANY") && r.access == Access::PUBLIC {
            assert!(
                OPEN_CHANGES.contains(&r.path),
                "{} {} changes something for anyone, with any key: declare its scope",
                r.method,
                r.path
            );
        }
    }
    let keys_before = app.identity().list_api_keys(&boss.id).await.expect("keys").len();
    let roles_before = app.identity().user_by_id(&boss.id).await.expect("user").expect("user").role;
    let mut walked = 0;
    for r in &table {
        if r.method == "ANY" {
            // `/api/trpc/{name}`: each procedure is walked below.
            continue;
        }
        let url = app.url(&concrete(r.path, &show, &p.id));
        let page = !r.path.starts_with("/api/") && !["/healthz", "/readyz", "/metrics"].contains(&r.path) && !r.path.starts_with("/media");
        for (name, (k, caller)) in &narrow {
            let mut req = reqwest::Client::new().request(r.method.parse().expect("method"), &url).bearer_auth(k);
            if r.method != "GET" {
                req = if page { req.form(&[("x", "y")]) } else { req.json(&json!({})) };
            }
            let s = req.send().await.expect("send").status().as_u16();
            let allowed = caller.allows(r.access);
            assert!(s < 500, "{} {url} with a {name} key: {s}", r.method);
            // Signing in with wrong credentials is the sign-in's own 401, whoever asks.
            let sign_in = r.method == "POST" && (r.path == "/login" || r.path == "/api/auth/login");
            if allowed {
                assert!(
                    s != 403 && (s != 401 || sign_in),
                    "{} {url} ({}) with a {name} key is allowed, got {s}",
                    r.method,
                    r.access.label()
                );
            } else {
                assert_eq!(s, 403, "{} {url} ({}) with a {name} key must be refused", r.method, r.access.label());
            }
            walked += 1;
        }
        // Nobody signed in: what needs a caller says so.
        if r.method == "GET" {
            let s = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client")
                .get(&url)
                .send()
                .await
                .expect("send")
                .status()
                .as_u16();
            assert!(s < 500, "GET {url} anonymously: {s}");
            if !matches!(r.access, Access::Anyone(_)) {
                assert_eq!(s, 401, "GET {url} ({}) anonymously", r.access.label());
            }
        }
    }
    assert!(walked > 250, "{walked} calls");
    assert_eq!(app.identity().list_api_keys(&boss.id).await.expect("keys").len(), keys_before, "no key minted a key");
    assert_eq!(app.identity().user_by_id(&boss.id).await.expect("user").expect("user").role, roles_before);
    // The holes as they were seen, named: a read-only key on the HTML admin and its forms.
    let (k, _) = &narrow[0].1;
    for (method, path) in
        [("GET", "/admin"), ("GET", "/admin/mailbox"), ("POST", "/admin/api-keys"), ("POST", &format!("/admin/users/{}/role", boss.id))]
    {
        let req = reqwest::Client::new().request(method.parse().expect("m"), app.url(path)).bearer_auth(k);
        let req = if method == "POST" { req.form(&[("name", "x"), ("scopes", "admin"), ("role", "customer")]) } else { req };
        assert_eq!(req.send().await.expect("send").status(), 403, "{method} {path} with a catalog:read key");
    }
    // A bad key on a page is a 401 page, not a 500.
    let r = reqwest::Client::new().get(app.url("/admin")).bearer_auth("lsn_bogus_key").send().await.expect("send");
    assert_eq!(r.status(), 401);
    assert!(r.headers()["content-type"].to_str().expect("ct").starts_with("text/html"));
}
both!(every_route_and_page_enforces_key_scopes, keys_and_pages);

async fn procedures(app: TestApp) {
    let boss = app.user("boss@example.com", Role::Admin).await;
    let mut narrow = Vec::new();
    for scopes in [&["catalog:read"][..], &["orders:read"], &["live:write"]] {
        narrow.push((scopes.join(" "), key(&app, &boss, scopes).await));
    }
    for (name, kind, access) in lsn_web::trpc::PROCEDURES {
        for (label, (k, caller)) in &narrow {
            let url = app.url(&format!("/api/trpc/{name}"));
            let req = match kind {
                lsn_web::trpc::Kind::Query => reqwest::Client::new().get(url).query(&[("input", "{}")]),
                lsn_web::trpc::Kind::Mutation => reqwest::Client::new().post(url).json(&json!({})),
            };
            let (s, body) = json(req.bearer_auth(k).send().await.expect("send")).await;
            assert!(s < 500, "{name} with a {label} key: {s} {body}");
            if caller.allows(*access) {
                assert!(s != 401 && s != 403, "{name} ({}) with a {label} key is allowed: {s} {body}", access.label());
            } else {
                assert_eq!(s, 403, "{name} ({}) with a {label} key: {body}", access.label());
                assert_eq!(body["error"]["data"]["code"], "FORBIDDEN", "in tRPC's shape: {body}");
            }
        }
    }
}
both!(every_trpc_procedure_enforces_key_scopes, procedures);

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(app: &TestApp, show: &str, auth: (&'static str, &str)) -> Ws {
    let mut req = format!("ws://{}/api/v1/live/shows/{show}/ws", app.addr).into_client_request().expect("request");
    req.headers_mut().insert(auth.0, auth.1.parse().expect("header"));
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("connect");
    // The welcome.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next()).await.expect("welcome");
    ws
}

/// Sends `frame` and returns the error code it earned, if any (a ping after it marks the end).
async fn refusal(ws: &mut Ws, frame: Value) -> Option<String> {
    ws.send(Message::Text(frame.to_string().into())).await.expect("send");
    if frame["type"] != "ping" {
        ws.send(Message::Text(json!({"type": "ping"}).to_string().into())).await.expect("ping");
    }
    let mut code = None;
    loop {
        let m = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next()).await.expect("answer");
        let Some(Ok(Message::Text(t))) = m else { panic!("connection ended: {m:?}") };
        let v: Value = serde_json::from_str(&t).expect("json");
        match v["type"].as_str() {
            Some("pong") => return code,
            Some("error") => code = v["code"].as_str().map(str::to_string),
            _ => {}
        }
    }
}

/// Every frame type over a real WebSocket, with a `catalog:read` key of the show's own host (an
/// admin) and with that host's browser session: the key's refusals are exactly what the frame
/// table declares; the session may do all of it.
async fn frames(app: TestApp) {
    let boss = app.user("boss@example.com", Role::Admin).await;
    app.product(json!({"title": "Frame Lamp", "status": "active", "variants": [{"sku": "FRAME", "price": 4900}]})).await;
    let input: lsn_live::shows::ShowInput =
        serde_json::from_value(json!({"title": "Frames", "scheduled_at": app.clock.now_ms() + 60_000})).expect("show");
    let show = app.rt.state.live.create(&boss, &input).await.expect("show").id;
    app.rt.state.live.start(&show, &boss).await.expect("start");
    let (k, caller) = key(&app, &boss, &["catalog:read"]).await;
    let mut keyed = open(&app, &show, ("authorization", &format!("Bearer {k}"))).await;
    let login = reqwest::Client::new()
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "boss@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    let cookie = crate::common::session_cookie(&login);
    let mut session = open(&app, &show, ("cookie", &cookie)).await;
    for (kind, access) in lsn_live::routes::FRAMES {
        let frame = json!({"type": kind});
        let code = refusal(&mut keyed, frame.clone()).await;
        if caller.allows(*access) {
            assert!(
                !matches!(code.as_deref(), Some("forbidden" | "sign_in_required")),
                "{kind} ({}) with the key: {code:?}",
                access.label()
            );
        } else {
            assert_eq!(code.as_deref(), Some("forbidden"), "{kind} ({}) with a catalog:read key", access.label());
        }
        let code = refusal(&mut session, frame).await;
        assert!(!matches!(code.as_deref(), Some("forbidden" | "sign_in_required")), "{kind} as the host's session: {code:?}");
    }
    assert!(!caller.allows(Access::Creator(Scope::LiveWrite)), "the walk includes host controls a read key may not use");
}
both!(every_live_frame_enforces_key_scopes, frames);
