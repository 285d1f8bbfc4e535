//! Security checks as tests (docs/security.md maps them to the OWASP API Security Top 10):
//! headers, cookie flags, an authorization matrix, object-level access, injection payloads that
//! stay inert, and the checkout and payment rate limits.

use crate::both;
use crate::common::{json, TestApp, PASSWORD};
use lsn_identity::Role;
use serde_json::json;

async fn headers_and_cookies(app: TestApp) {
    for path in ["/", "/api/v1/products", "/no/such/page", "/api/nope"] {
        let r = reqwest::get(app.url(path)).await.expect("get");
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().expect("csp");
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
        assert!(!h.contains_key("strict-transport-security"), "HSTS only in production");
        assert!(h.contains_key("x-request-id"), "{path}");
    }
    // Every cookie LSN sets is HttpOnly and SameSite=Lax with a path.
    app.user("cookie@example.com", Role::Customer).await;
    let login = reqwest::Client::new()
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "cookie@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    let visit = reqwest::get(app.url("/")).await.expect("home");
    let p = app.product(json!({"title": "Cookie Jar", "status": "active", "variants": [{"sku": "JAR", "price": 500}]})).await;
    app.stock(&p.variants[0].id, 3).await;
    let cart =
        reqwest::Client::new().post(app.url("/api/v1/cart/items")).json(&json!({"sku": "JAR", "quantity": 1})).send().await.expect("cart");
    for r in [&login, &visit, &cart] {
        let cookies: Vec<String> = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().expect("cookie").to_string()).collect();
        assert!(!cookies.is_empty());
        for c in cookies {
            assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/"), "{c}");
        }
    }
}
both!(security_headers_and_cookie_flags, headers_and_cookies);

/// Whom the authorization tests call as — anonymous, a customer with an order, another
/// customer, a creator, an admin — each a browser with its CSRF token (none for anonymous).
struct Cast {
    product: lsn_catalog::Product,
    creator: lsn_identity::User,
    order: String,
    who: [(&'static str, reqwest::Client, String); 5],
}

async fn cast(app: &TestApp) -> Cast {
    app.user("cust@example.com", Role::Customer).await;
    app.user("other@example.com", Role::Customer).await;
    let creator = app.user("maker@example.com", Role::Creator).await;
    app.user("boss@example.com", Role::Admin).await;
    let product = app.product(json!({"title": "Matrix Mug", "status": "active", "variants": [{"sku": "MUG", "price": 1500}]})).await;
    app.stock(&product.variants[0].id, 20).await;
    let (cust, cust_csrf) = app.login("cust@example.com").await;
    let (other, other_csrf) = app.login("other@example.com").await;
    let (maker, maker_csrf) = app.login("maker@example.com").await;
    let (boss, boss_csrf) = app.login("boss@example.com").await;
    // The customer's order, to check object-level access.
    cust.post(app.url("/api/v1/cart/items"))
        .header("x-csrf-token", &cust_csrf)
        .json(&json!({"sku": "MUG", "quantity": 1}))
        .send()
        .await
        .expect("add");
    let addr = json!({"name": "C", "line1": "1 A St", "suburb": "Perth", "state": "WA", "postcode": "6000"});
    let (s, co) = json(
        cust.post(app.url("/api/v1/checkout"))
            .header("x-csrf-token", &cust_csrf)
            .json(&json!({"shipping_address": addr}))
            .send()
            .await
            .expect("co"),
    )
    .await;
    assert_eq!(s, 201, "{co}");
    let order = co["order"]["id"].as_str().expect("id").to_string();
    let who = [
        ("anonymous", app.client(), String::new()),
        ("customer", cust, cust_csrf),
        ("other customer", other, other_csrf),
        ("creator", maker, maker_csrf),
        ("admin", boss, boss_csrf),
    ];
    Cast { product, creator, order, who }
}

async fn authorization_matrix(app: TestApp) {
    let Cast { order, who, .. } = cast(&app).await;

    // (path, anonymous, customer, other customer, creator, admin)
    let gets: Vec<(String, [u16; 5])> = vec![
        ("/api/v1/admin/users".into(), [401, 403, 403, 403, 200]),
        ("/api/v1/admin/audit".into(), [401, 403, 403, 403, 200]),
        ("/api/v1/admin/mailbox".into(), [401, 403, 403, 403, 200]),
        ("/api/v1/admin/jobs/queue".into(), [401, 403, 403, 403, 200]),
        ("/api/v1/admin/tasks".into(), [401, 403, 403, 403, 200]),
        ("/api/v1/discounts".into(), [401, 403, 403, 403, 200]),
        ("/api/v1/inventory/MUG".into(), [401, 403, 403, 403, 200]),
        ("/api/v1/orders".into(), [401, 200, 200, 200, 200]),
        (format!("/api/v1/orders/{order}"), [401, 200, 404, 404, 200]),
        ("/api/v1/api-keys".into(), [401, 403, 403, 403, 200]),
        ("/api/v1/products".into(), [200, 200, 200, 200, 200]),
        ("/admin".into(), [401, 403, 403, 403, 200]),
        ("/admin/orders".into(), [401, 403, 403, 403, 200]),
        ("/admin/users".into(), [401, 403, 403, 403, 200]),
        ("/account".into(), [303, 200, 200, 200, 200]),
    ];
    for (path, expected) in &gets {
        for (i, (name, c, _)) in who.iter().enumerate() {
            let s = c.get(app.url(path)).send().await.expect("get").status().as_u16();
            assert_eq!(s, expected[i], "GET {path} as {name}");
        }
    }
    // Writes: (path, body, expected per caller), each with its own CSRF token.
    let posts: Vec<(String, serde_json::Value, [u16; 5])> = vec![
        ("/api/v1/products".into(), json!({"title": "X", "variants": [{"sku": "X-1", "price": 100}]}), [401, 403, 403, 403, 201]),
        ("/api/v1/inventory/receive".into(), json!({"sku": "MUG", "bin": "A-01-1", "quantity": 1}), [401, 403, 403, 403, 200]),
        (
            "/api/v1/live/shows".into(),
            json!({"title": "S", "scheduled_at": chrono::Utc::now().timestamp_millis() + 60_000}),
            [401, 403, 403, 201, 201],
        ),
        (format!("/api/v1/orders/{order}/status"), json!({"status": "processing"}), [401, 403, 403, 403, 409]),
        // Allowed to the admin, but an unpaid order has nothing to refund.
        (format!("/api/v1/orders/{order}/refunds"), json!({"amount": 100}), [401, 403, 403, 403, 400]),
    ];
    for (path, body, expected) in &posts {
        for (i, (name, c, csrf)) in who.iter().enumerate() {
            let mut req = c.post(app.url(path)).json(body);
            if !csrf.is_empty() {
                req = req.header("x-csrf-token", csrf);
            }
            let s = req.send().await.expect("post").status().as_u16();
            assert_eq!(s, expected[i], "POST {path} as {name}");
        }
    }
    // Another customer cannot cancel or pay someone else's order.
    let (_, other, other_csrf) = &who[2];
    let s = other
        .post(app.url(&format!("/api/v1/orders/{order}/cancel")))
        .header("x-csrf-token", other_csrf)
        .send()
        .await
        .expect("cancel")
        .status();
    assert_eq!(s, 404);
    let s = other
        .post(app.url(&format!("/api/v1/orders/{order}/pay")))
        .header("x-csrf-token", other_csrf)
        .json(&json!({"card_number": "4242424242424242"}))
        .send()
        .await
        .expect("pay")
        .status();
    assert_eq!(s, 404);
}
both!(authorization_matrix_by_role_and_owner, authorization_matrix);

/// The smallest body a schema accepts: required properties only, each the simplest value of its
/// type, so that a request gets past parsing to the access check.
fn minimal(doc: &serde_json::Value, schema: &serde_json::Value) -> serde_json::Value {
    if let Some(name) = schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
        return minimal(doc, &doc["components"]["schemas"][name]);
    }
    if let Some(e) = schema["enum"].as_array().and_then(|e| e.first()) {
        return e.clone();
    }
    let ty = match &schema["type"] {
        serde_json::Value::Array(ts) => ts.iter().find(|t| *t != "null").cloned().unwrap_or_default(),
        t => t.clone(),
    };
    match ty.as_str().unwrap_or("object") {
        "string" if schema["pattern"].is_string() => json!("2000"),
        "string" => json!("x"),
        "integer" | "number" => json!(schema["minimum"].as_i64().unwrap_or(1)),
        "boolean" => json!(false),
        "array" => json!([]),
        _ => {
            let mut o = serde_json::Map::new();
            for k in schema["required"].as_array().into_iter().flatten().filter_map(|k| k.as_str()) {
                o.insert(k.to_string(), minimal(doc, &schema["properties"][k]));
            }
            serde_json::Value::Object(o)
        }
    }
}

/// Every operation of `/api/openapi.json` × anonymous, customer (the order's owner), another
/// customer, a creator (the show's host) and an admin: each gets what the operation's
/// `x-lsn-access` declares, and nobody gets a 5xx.
async fn every_operation(app: TestApp) {
    let Cast { product: p, creator, order, who } = cast(&app).await;
    let input: lsn_live::shows::ShowInput =
        serde_json::from_value(json!({"title": "Matrix Live", "scheduled_at": chrono::Utc::now().timestamp_millis() + 60_000}))
            .expect("show");
    let show = app.rt.state.live.create(&creator, &input).await.expect("show").id;
    let (_, doc) = json(reqwest::get(app.url("/api/openapi.json")).await.expect("doc")).await;

    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            let access = op["x-lsn-access"].as_str().unwrap_or_else(|| panic!("{path} declares its access"));
            if path == "/api/auth/logout" {
                // It would end the sessions the rest of the walk uses; `identity` tests it.
                continue;
            }
            let url = path
                .replace("/orders/{id}", &format!("/orders/{order}"))
                .replace("/products/{id}", &format!("/products/{}", p.id))
                .replace("/shows/{id}", &format!("/shows/{show}"))
                .replace("{variant}", &p.variants[0].id)
                .replace("{sku}", "MUG")
                .replace("{name}", "reservation_expiry")
                .replace("{key}", "shop.name");
            // Any other identifier: one that does not exist.
            let url = url.split('/').map(|seg| if seg.starts_with('{') { "missing" } else { seg }).collect::<Vec<_>>().join("/");
            let body = op["requestBody"]["content"]["application/json"]["schema"].as_object().map(|s| minimal(&doc, &json!(s)));
            for (i, (name, c, csrf)) in who.iter().enumerate() {
                let mut req = c.request(method.to_uppercase().parse().expect("method"), app.url(&url));
                if !csrf.is_empty() {
                    req = req.header("x-csrf-token", csrf);
                }
                if let Some(b) = &body {
                    req = req.json(b);
                }
                let s = req.send().await.expect("send").status().as_u16();
                let denied = s == 401 || s == 403;
                let ok = match (access, i) {
                    _ if s >= 500 => false,
                    // Signing in with wrong credentials is a 401 for everyone.
                    ("public", _) => !denied || (path == "/api/auth/login" && s == 401),
                    (_, 0) => s == 401 || (access == "owner" && s == 404),
                    ("signed-in", _) => !denied,
                    ("owner", 1 | 4) => !denied && s != 404,
                    ("owner", _) => s == 404,
                    ("staff", 1..=3) | ("creator" | "host", 1 | 2) => s == 403,
                    _ => !denied,
                };
                assert!(ok, "{} {url} ({access}) as {name}: {s}", method.to_uppercase());
                checked += 1;
            }
        }
    }
    assert!(checked >= 60 * 5, "{checked} calls");
}
both!(every_documented_operation_by_role, every_operation);

async fn injection_is_inert(app: TestApp) {
    app.user("boss@example.com", Role::Admin).await;
    let (boss, csrf) = app.login("boss@example.com").await;
    let sqli = "Robert'); DROP TABLE products; -- \" OR 1=1";
    let xss = "<script>alert('x')</script><img src=x onerror=alert(1)>";
    let (s, p) = json(
        boss.post(app.url("/api/v1/products"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"title": format!("{sqli} {xss}"), "status": "active", "description": xss, "tags": ["x' OR 1=1 --"], "variants": [{"sku": "INJ-1", "price": 100}]}))
            .send()
            .await
            .expect("create"),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    let slug = p["product"]["slug"].as_str().expect("slug").to_string();
    assert_eq!(p["product"]["title"], format!("{sqli} {xss}"), "stored as text");
    // Search with the payloads: answers normally and the table is still there.
    for q in [sqli, xss, "%", "_", "' OR '1'='1", "\\", "\"\""] {
        let r = reqwest::get(app.url(&format!("/api/v1/products?q={}", url_encode(q)))).await.expect("search");
        assert_eq!(r.status(), 200, "{q}");
        let r = reqwest::get(app.url(&format!("/search?q={}", url_encode(q)))).await.expect("page");
        assert_eq!(r.status(), 200, "{q}");
        assert!(!r.text().await.expect("html").contains("<script>alert"), "{q} is escaped on the page");
    }
    let (_, list) = json(reqwest::get(app.url("/api/v1/products")).await.expect("list")).await;
    assert!(!list["items"].as_array().expect("items").is_empty(), "products survived");
    // The product page shows the text, escaped.
    let html = reqwest::get(app.url(&format!("/p/{slug}"))).await.expect("page").text().await.expect("html");
    assert!(!html.contains("<script>alert") && !html.contains("<img src=x"), "escaped");
    assert!(html.contains("&#60;script&#62;alert(") || html.contains("&lt;script&gt;alert("), "shown as text");
}
both!(injection_payloads_stay_inert_text, injection_is_inert);

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn rate_limits(app: TestApp) {
    let p = app.product(json!({"title": "Limit Lamp", "status": "active", "variants": [{"sku": "LL", "price": 1000}]})).await;
    app.stock(&p.variants[0].id, 100).await;
    let c = app.client();
    c.post(app.url("/api/v1/cart/items")).json(&json!({"sku": "LL", "quantity": 1})).send().await.expect("add");
    let body = json!({"email": "limit@example.com", "shipping_address": {"name": "L", "line1": "1 A St", "suburb": "Perth", "state": "WA", "postcode": "6000"}});
    let mut first = None;
    for i in 0..lsn_commerce::CHECKOUT_LIMIT {
        let (s, co) = json(c.post(app.url("/api/v1/checkout")).json(&body).send().await.expect("checkout")).await;
        assert_eq!(s, 201, "checkout {i}: {co}");
        first.get_or_insert((co["order"]["id"].as_str().expect("id").to_string(), co["order_token"].as_str().expect("token").to_string()));
    }
    let r = c.post(app.url("/api/v1/checkout")).json(&body).send().await.expect("checkout");
    assert_eq!(r.status(), 429, "one checkout too many");
    assert!(r.headers().contains_key("retry-after"));
    // Card testing: declines on one order, then it must wait.
    let (order, token) = first.expect("an order");
    let decline = || {
        c.post(app.url(&format!("/api/v1/orders/{order}/pay")))
            .header("x-order-token", &token)
            .json(&json!({"card_number": "4000000000000002"}))
            .send()
    };
    for _ in 0..lsn_commerce::PAY_LIMIT {
        assert_eq!(decline().await.expect("pay").status(), 402);
    }
    assert_eq!(decline().await.expect("pay").status(), 429);
}
both!(checkout_and_payment_rate_limits_trip, rate_limits);
