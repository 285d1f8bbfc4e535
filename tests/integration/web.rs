//! The storefront pages through HTTP, checked by CSS selector: browse, search, product, cart,
//! checkout with field errors kept, payment (declined, then paid), order page, account, the
//! CSRF rule for forms, escaping, and the friendly error pages.

use crate::common::{TestApp, PASSWORD};
use reqwest::Client;
use scraper::{Html, Selector};
use serde_json::json;

async fn page(c: &Client, app: &TestApp, path: &str) -> (u16, Html) {
    let r = c.get(app.url(path)).send().await.expect("get");
    let status = r.status().as_u16();
    (status, Html::parse_document(&r.text().await.expect("body")))
}

fn all(doc: &Html, sel: &str) -> Vec<String> {
    let s = Selector::parse(sel).expect("selector");
    doc.select(&s).map(|e| e.text().collect::<String>().trim().to_string()).collect()
}

fn attr(doc: &Html, sel: &str, name: &str) -> String {
    let s = Selector::parse(sel).expect("selector");
    doc.select(&s).next().and_then(|e| e.value().attr(name)).unwrap_or_else(|| panic!("{sel}[{name}] missing")).to_string()
}

async fn post(c: &Client, app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, String, Html) {
    let r = c.post(app.url(path)).form(form).send().await.expect("post");
    let status = r.status().as_u16();
    let location = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    (status, location, Html::parse_document(&r.text().await.expect("body")))
}

/// A new browser puts one of `variant` in its cart and checks out as a guest; returns the
/// browser, its form token and the payment page it was sent to.
async fn guest_checkout(app: &TestApp, variant: &str, email: &str) -> (Client, String, String) {
    let c = app.client();
    let (_, p) = page(&c, app, "/p/merino-beanie").await;
    let token = attr(&p, "input[name=csrf_token]", "value");
    post(&c, app, "/cart/add", &[("csrf_token", &token), ("variant", variant), ("quantity", "1")]).await;
    let form = [
        ("csrf_token", token.as_str()),
        ("email", email),
        ("name", "G"),
        ("line1", "1 A St"),
        ("suburb", "Perth"),
        ("state", "WA"),
        ("postcode", "6000"),
    ];
    let (s, to, _) = post(&c, app, "/checkout", &form).await;
    assert_eq!(s, 303, "checkout accepted");
    (c, token, to)
}

async fn shop(app: &TestApp) -> String {
    let p = app
        .product(json!({"title": "Merino Beanie", "slug": "merino-beanie", "status": "active", "category": "Hats", "tags": ["wool"],
            "description": "Warm.\n\nSoft <b>merino</b>.",
            "variants": [{"sku": "BEANIE-RED", "title": "Red", "price": 3900, "compare_at_price": 4900}]}))
        .await;
    app.product(json!({"title": "Draft Thing", "slug": "draft-thing", "status": "draft", "variants": [{"sku": "DRAFT-1", "price": 100}]}))
        .await;
    app.stock(&p.variants[0].id, 5).await;
    p.variants[0].id.to_string()
}

async fn storefront(app: TestApp) {
    let variant = shop(&app).await;
    let c = app.client();

    // Home and search show active products only; filters and escaping.
    let (s, home) = page(&c, &app, "/").await;
    assert_eq!(s, 200);
    assert_eq!(all(&home, ".product-card-title"), vec!["Merino Beanie"]);
    let (_, found) = page(&c, &app, "/search?q=merino&category=hats&min=10&max=50&in_stock=1").await;
    assert_eq!(all(&found, ".product-card-title"), vec!["Merino Beanie"]);
    assert_eq!(all(&found, ".product-card .price-compare"), vec!["$49.00"]);
    let (_, none) = page(&c, &app, "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert_eq!(all(&none, "script:not([src])").len(), 0, "the query is text, not markup");
    assert_eq!(attr(&none, "#site-q", "value"), "<script>alert(1)</script>");
    let (s, bad) = page(&c, &app, "/search?min=abc").await;
    assert_eq!(s, 200);
    assert_eq!(all(&bad, ".field-error"), vec!["Enter an amount in dollars, like 25 or 19.95"]);

    // Product page; a draft is not found.
    let (s, product) = page(&c, &app, "/p/merino-beanie").await;
    assert_eq!(s, 200);
    assert_eq!(all(&product, "h1"), vec!["Merino Beanie"]);
    assert_eq!(all(&product, "[data-price]"), vec!["$39.00"]);
    assert_eq!(all(&product, ".stock-low").len(), 1, "5 left is low stock");
    assert_eq!(all(&product, ".description p"), vec!["Warm.", "Soft <b>merino</b>."], "description is escaped text");
    assert_eq!(page(&c, &app, "/p/draft-thing").await.0, 404);
    let csrf = attr(&product, "input[name=csrf_token]", "value");

    // A form without its token changes nothing.
    let (s, _, _) = post(&c, &app, "/cart/add", &[("variant", &variant), ("quantity", "1")]).await;
    assert_eq!(s, 403);
    // Too many, then a good add.
    let (s, _, doc) =
        post(&c, &app, "/cart/add", &[("csrf_token", &csrf), ("variant", &variant), ("quantity", "9"), ("back", "/p/merino-beanie")]).await;
    assert_eq!(s, 422);
    assert_eq!(all(&doc, ".alert-error").len(), 1);
    let (s, to, _) =
        post(&c, &app, "/cart/add", &[("csrf_token", &csrf), ("variant", &variant), ("quantity", "2"), ("back", "/p/merino-beanie")]).await;
    assert_eq!((s, to.as_str()), (303, "/cart?notice=added"));
    let (_, cart) = page(&c, &app, "/cart?notice=added").await;
    assert_eq!(all(&cart, "[data-cart-count]"), vec!["2"]);
    assert_eq!(all(&cart, "[data-total]"), vec!["$78.00"]);

    // Checkout: a wrong postcode re-renders with the field message and the input kept.
    let (_, co) = page(&c, &app, "/checkout").await;
    let key = attr(&co, "input[name=idempotency_key]", "value");
    let mut form = vec![
        ("csrf_token", csrf.as_str()),
        ("idempotency_key", "first-try"),
        ("email", "guest@example.com"),
        ("name", "Guest Person"),
        ("line1", "1 Collins St"),
        ("suburb", "Melbourne"),
        ("state", "NSW"),
        ("postcode", "3000"),
        ("shipping_method", "standard"),
    ];
    let (s, _, doc) = post(&c, &app, "/checkout", &form).await;
    assert_eq!(s, 422);
    assert_eq!(all(&doc, "#e-postcode").len(), 1);
    assert_eq!(attr(&doc, "#f-line1", "value"), "1 Collins St");
    assert_eq!(attr(&doc, "#f-state option[selected]", "value"), "NSW");
    form[1] = ("idempotency_key", key.as_str());
    form[6] = ("state", "VIC");
    let (s, to, _) = post(&c, &app, "/checkout", &form).await;
    assert_eq!(s, 303, "checkout accepted");
    assert!(to.starts_with("/orders/LSN-") && to.ends_with("/pay"), "{to}");
    // The same form sent again gives the same order, not a second one.
    let (s, again, _) = post(&c, &app, "/checkout", &form).await;
    assert_eq!((s, again.as_str()), (303, to.as_str()));
    let number = to.trim_start_matches("/orders/").trim_end_matches("/pay").to_string();

    // Pay: a declined card says so and leaves the order awaiting payment; then 4242 pays.
    let (_, pay) = page(&c, &app, &to).await;
    assert_eq!(all(&pay, ".test-cards li").len(), 4);
    let (s, _, doc) =
        post(&c, &app, &to, &[("csrf_token", &csrf), ("idempotency_key", "p1"), ("card_number", "4000 0000 0000 0002")]).await;
    assert_eq!(s, 402);
    assert!(all(&doc, "[data-payment-error]")[0].contains("declined"));
    let (s, done, _) =
        post(&c, &app, &to, &[("csrf_token", &csrf), ("idempotency_key", "p2"), ("card_number", "4242 4242 4242 4242")]).await;
    assert_eq!((s, done.clone()), (303, format!("/orders/{number}")));
    app.run_jobs().await;
    let (_, order) = page(&c, &app, &done).await;
    assert_eq!(all(&order, "[data-status]"), vec!["Paid"]);
    assert_eq!(all(&order, "[data-confirmed]").len(), 1);
    // Another browser cannot see it.
    assert_eq!(page(&app.client(), &app, &done).await.0, 404);
}
crate::both!(storefront_pages_from_search_to_paid_order, storefront);

async fn accounts(app: TestApp) {
    let c = app.client();
    let (_, reg) = page(&c, &app, "/register").await;
    let csrf = attr(&reg, "input[name=csrf_token]", "value");
    // Field errors keep what was typed (never the password).
    let (s, _, doc) =
        post(&c, &app, "/register", &[("csrf_token", &csrf), ("name", "Ann"), ("email", "not-an-email"), ("password", "short")]).await;
    assert_eq!(s, 422);
    assert_eq!(attr(&doc, "#f-email", "value"), "not-an-email");
    assert_eq!(attr(&doc, "#f-password", "value"), "");
    assert!(all(&doc, ".field-error").len() >= 2);
    let (s, _, doc) =
        post(&c, &app, "/register", &[("csrf_token", &csrf), ("name", "Ann"), ("email", "ann@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(s, 200);
    assert_eq!(all(&doc, "[data-registered]").len(), 1);
    // The link in the mail confirms and signs in.
    let mail = app.mails_to("ann@example.com").await;
    let token = crate::common::token_in(&mail[0].text);
    let r = c.get(app.url(&format!("/api/auth/verify?token={token}"))).send().await.expect("verify");
    assert_eq!(r.status(), 303);
    let (s, acct) = page(&c, &app, "/account").await;
    assert_eq!(s, 200);
    assert_eq!(all(&acct, "h1"), vec!["Your account"]);
    // Log out (the session's token now), then a wrong password, then the right one.
    let csrf = attr(&acct, "input[name=csrf_token]", "value");
    let (s, to, _) = post(&c, &app, "/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!((s, to.as_str()), (303, "/?notice=signed_out"));
    let (s, to, _) = post(&c, &app, "/logout", &[("csrf_token", "forged")]).await;
    assert_eq!((s, to.as_str()), (403, ""), "the visitor token is a different one");
    assert_eq!(page(&c, &app, "/account").await.0, 303);
    let (_, login) = page(&c, &app, "/login").await;
    let csrf = attr(&login, "input[name=csrf_token]", "value");
    let (s, _, doc) = post(
        &c,
        &app,
        "/login",
        &[("csrf_token", &csrf), ("email", "ann@example.com"), ("password", "wrong password!"), ("next", "/account")],
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(attr(&doc, "#f-email", "value"), "ann@example.com");
    let (s, to, _) = post(
        &c,
        &app,
        "/login",
        &[("csrf_token", &csrf), ("email", "ann@example.com"), ("password", PASSWORD), ("next", "https://evil.example/")],
    )
    .await;
    assert_eq!((s, to.as_str()), (303, "/account"), "only local paths are followed");
    // Changing the password needs the current one; this session stays signed in.
    let (_, acct) = page(&c, &app, "/account").await;
    let csrf = attr(&acct, "[data-password-form] input[name=csrf_token]", "value");
    let (s, _, doc) = post(
        &c,
        &app,
        "/account/password",
        &[("csrf_token", &csrf), ("current_password", "nope"), ("password", "another long passphrase")],
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(all(&doc, "#e-current_password").len(), 1);
    let (s, to, _) = post(
        &c,
        &app,
        "/account/password",
        &[("csrf_token", &csrf), ("current_password", PASSWORD), ("password", "another long passphrase")],
    )
    .await;
    assert_eq!((s, to.as_str()), (303, "/account?notice=password_changed"));
    assert_eq!(page(&c, &app, "/account").await.0, 200);
    let r = app
        .client()
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "ann@example.com", "password": "another long passphrase"}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 200, "the new password works");
}
crate::both!(account_pages_register_login_logout, accounts);

async fn error_pages(app: TestApp) {
    let c = app.client();
    let (s, doc) = page(&c, &app, "/no/such/page").await;
    assert_eq!(s, 404);
    assert_eq!(all(&doc, ".error-code"), vec!["404"]);
    let r = c.get(app.url("/api/v1/nothing")).send().await.expect("api 404");
    assert_eq!(r.headers()["content-type"], "application/json");
    // Assets: fingerprinted and immutable.
    let (_, home) = page(&c, &app, "/").await;
    let css = attr(&home, "link[rel=stylesheet]", "href");
    let r = c.get(app.url(&css)).send().await.expect("css");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["cache-control"].to_str().expect("cc").contains("immutable"));
    assert_eq!(c.get(app.url("/static/lsn.css")).send().await.expect("stale").status(), 404, "only the current name");
    // The installable app's parts.
    let r = c.get(app.url("/manifest.webmanifest")).send().await.expect("manifest");
    assert_eq!(r.headers()["content-type"], "application/manifest+json");
    let m: serde_json::Value = r.json().await.expect("json");
    assert_eq!((m["name"].as_str(), m["display"].as_str()), (Some("LSN Live"), Some("standalone")));
    let r = c.get(app.url("/sw.js")).send().await.expect("sw");
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let (s, doc) = page(&c, &app, "/offline").await;
    assert_eq!(s, 200);
    assert_eq!(all(&doc, "[data-offline] h1"), vec!["You're offline"]);
    assert_eq!(all(&doc, "[data-cart-count]"), vec!["0"], "nothing personal in the cached page");
}
crate::both!(error_pages_and_assets, error_pages);

async fn live_pages(app: TestApp) {
    use lsn_identity::Role;
    shop(&app).await;
    let host = app.user("host@example.com", Role::Creator).await;
    app.user("viewer@example.com", Role::Customer).await;
    let at = {
        use lsn_core::Clock;
        app.clock.now_ms() + 3_600_000
    };
    let input = json!({"title": "Beanie <Hour>", "scheduled_at": at, "lineup": ["merino-beanie"]});
    let show = app.rt.state.live.create(&host, &serde_json::from_value(input).expect("input")).await.expect("show");
    let url = format!("/shows/{}", show.id);
    // A visitor sees the room, escaped, without host controls; the host gets them.
    let (s, doc) = page(&app.client(), &app, &url).await;
    assert_eq!(s, 200);
    assert_eq!(all(&doc, "h1"), vec!["Beanie <Hour>"]);
    assert_eq!(all(&doc, "[data-host-panel]").len(), 0);
    assert_eq!(all(&doc, "[data-chat-form]").len(), 0, "visitors are asked to log in to chat");
    let (hc, _) = app.login("host@example.com").await;
    let (_, doc) = page(&hc, &app, &url).await;
    assert_eq!(all(&doc, "[data-host-panel]").len(), 1);
    assert_eq!(all(&doc, "[data-pin]").len(), 1);
    let csrf = attr(&doc, "[data-start-show]", "type");
    assert_eq!(csrf, "submit");
    let token = attr(&doc, "input[name=csrf_token]", "value");
    // A viewer cannot start it; the host can.
    let (vc, _) = app.login("viewer@example.com").await;
    let (_, vdoc) = page(&vc, &app, &url).await;
    let vtoken = attr(&vdoc, "input[name=csrf_token]", "value");
    let (s, _, _) = post(&vc, &app, &format!("{url}/start"), &[("csrf_token", &vtoken)]).await;
    assert_eq!(s, 403);
    let (s, to, _) = post(&hc, &app, &format!("{url}/start"), &[("csrf_token", &token)]).await;
    assert_eq!((s, to.as_str()), (303, url.as_str()));
    // Chat without JavaScript lands in the room and on the page.
    let (s, _, _) = post(&vc, &app, &format!("{url}/chat"), &[("csrf_token", &vtoken), ("text", "<b>hi</b> there")]).await;
    assert_eq!(s, 303);
    let (_, doc) = page(&vc, &app, &url).await;
    assert_eq!(all(&doc, ".chat-msg"), vec!["Test Person <b>hi</b> there"]);
    // A message the host deletes is gone from the page (and later from the replay).
    post(&vc, &app, &format!("{url}/chat"), &[("csrf_token", &vtoken), ("text", "rude words")]).await;
    let (_, doc) = page(&vc, &app, &url).await;
    let rude = attr(&doc, ".chat-msg:nth-child(2)", "data-msg");
    let room = app.rt.state.live.hub.room(&show.id).await.expect("room");
    room.delete_message("host", &rude).await.expect("delete");
    let (_, doc) = page(&vc, &app, &url).await;
    assert_eq!(all(&doc, ".chat-msg"), vec!["Test Person <b>hi</b> there"]);
    // Ended: the page becomes the replay.
    let (s, _, _) = post(&hc, &app, &format!("{url}/end"), &[("csrf_token", &token)]).await;
    assert_eq!(s, 303);
    let (_, doc) = page(&vc, &app, &url).await;
    let lines = all(&doc, "[data-replay] li");
    assert!(lines.iter().any(|l| l.ends_with("The show started")), "{lines:?}");
    assert!(lines.iter().any(|l| l.ends_with("Test Person: <b>hi</b> there")), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("rude words")), "{lines:?}");
    assert_eq!(page(&vc, &app, "/deals/no-such-deal/buy").await.0, 404);
    assert_eq!(page(&vc, &app, "/shows/no-such-show").await.0, 404);
}
crate::both!(live_show_page_host_controls_and_replay, live_pages);

async fn admin_pages(app: TestApp) {
    use lsn_identity::Role;
    let variant = shop(&app).await;
    app.user("boss@example.com", Role::Admin).await;
    app.user("shopper@example.com", Role::Customer).await;
    let pages = [
        "/admin",
        "/admin/orders",
        "/admin/products",
        "/admin/shows",
        "/admin/users",
        "/admin/api-keys",
        "/admin/audit",
        "/admin/jobs",
        "/admin/mailbox",
    ];
    let (customer, _) = app.login("shopper@example.com").await;
    let (admin, _) = app.login("boss@example.com").await;
    for p in pages {
        assert_eq!(page(&app.client(), &app, p).await.0, 401, "{p} anonymous");
        assert_eq!(page(&customer, &app, p).await.0, 403, "{p} customer");
        let (s, doc) = page(&admin, &app, p).await;
        assert_eq!(s, 200, "{p} admin");
        assert_eq!(attr(&doc, ".admin-nav a[aria-current=page]", "href"), p);
    }
    // Stock: a bad quantity is refused with its message; a good one lands in the bin.
    let product_id = app.rt.state.commerce.catalog.get("merino-beanie", true).await.expect("get").expect("product").id;
    let url = format!("/admin/products/{product_id}");
    let (_, doc) = page(&admin, &app, &url).await;
    let csrf = attr(&doc, "[data-stock-form] input[name=csrf_token]", "value");
    let (s, _, doc) = post(
        &admin,
        &app,
        &format!("{url}/stock"),
        &[("csrf_token", &csrf), ("sku", "BEANIE-RED"), ("bin", "A-01-1"), ("quantity", "lots")],
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(attr(&doc, "#s-qty", "value"), "lots");
    let (s, to, _) =
        post(&admin, &app, &format!("{url}/stock"), &[("csrf_token", &csrf), ("sku", "BEANIE-RED"), ("bin", "A-01-1"), ("quantity", "7")])
            .await;
    assert_eq!((s, to), (303, format!("{url}?notice=stock")));
    let (_, doc) = page(&admin, &app, &url).await;
    assert_eq!(all(&doc, "[data-table=variants] tbody td.num")[1], "12", "5 + 7 available");
    // A new price keeps the variant's option; a bad one is refused with the input kept.
    let (s, _, doc) =
        post(&admin, &app, &format!("{url}/price"), &[("csrf_token", &csrf), ("sku", "BEANIE-RED"), ("price", "12.3.4")]).await;
    assert_eq!(s, 422);
    assert_eq!(attr(&doc, "#pr-price", "value"), "12.3.4");
    let (s, _, _) = post(&admin, &app, &format!("{url}/price"), &[("csrf_token", &csrf), ("sku", "BEANIE-RED"), ("price", "42.50")]).await;
    assert_eq!(s, 303);
    let p = app.rt.state.commerce.catalog.get("merino-beanie", true).await.expect("get").expect("product");
    assert_eq!((p.variants[0].price, p.variants[0].title.as_str()), (4250, "Red"));
    // Image upload: the token rides in the form's action; without it, or with a fake image, no.
    let png = b"\x89PNG\r\n\x1a\n0000000000000000".to_vec();
    let upload = |q: String, bytes: Vec<u8>| {
        let form = reqwest::multipart::Form::new()
            .part("image", reqwest::multipart::Part::bytes(bytes).file_name("x.png").mime_str("image/png").expect("mime"))
            .text("alt", "A red beanie");
        admin.post(app.url(&format!("{url}/images{q}"))).multipart(form).send()
    };
    assert_eq!(upload(String::new(), png.clone()).await.expect("upload").status(), 403);
    assert_eq!(upload(format!("?csrf_token={csrf}"), b"not an image".to_vec()).await.expect("upload").status(), 422);
    let r = upload(format!("?csrf_token={csrf}"), png).await.expect("upload");
    assert_eq!(r.status(), 303);
    let (_, doc) = page(&admin, &app, &url).await;
    assert_eq!(attr(&doc, "[data-images] img", "alt"), "A red beanie");
    // A customer's paid order, refunded in part from its page.
    let (c, token, to) = guest_checkout(&app, &variant, "g@example.com").await;
    post(&c, &app, &to, &[("csrf_token", &token), ("card_number", "4242424242424242")]).await;
    app.run_jobs().await;
    let number = to.trim_start_matches("/orders/").trim_end_matches("/pay").to_string();
    let ourl = format!("/admin/orders/{number}");
    let (_, doc) = page(&admin, &app, &ourl).await;
    assert_eq!(all(&doc, "[data-status]"), vec!["Paid"]);
    let csrf = attr(&doc, "[data-refund-form] input[name=csrf_token]", "value");
    let (s, _, doc) = post(&admin, &app, &format!("{ourl}/refund"), &[("csrf_token", &csrf), ("amount", "1000")]).await;
    assert_eq!(s, 422, "more than was paid");
    assert_eq!(all(&doc, "[data-refunded]"), vec!["$0.00"]);
    let (s, _, _) = post(&admin, &app, &format!("{ourl}/refund"), &[("csrf_token", &csrf), ("amount", "10"), ("reason", "scuffed")]).await;
    assert_eq!(s, 303);
    let (_, doc) = page(&admin, &app, &ourl).await;
    assert_eq!(all(&doc, "[data-refunded]"), vec!["$10.00"]);
    assert_eq!(all(&doc, "[data-status]"), vec!["Partly refunded"]);
    // The customer cannot refund, even with a token of their own.
    let (_, cdoc) = page(&customer, &app, "/account").await;
    let ctoken = attr(&cdoc, "input[name=csrf_token]", "value");
    assert_eq!(post(&customer, &app, &format!("{ourl}/refund"), &[("csrf_token", &ctoken)]).await.0, 403);
}
crate::both!(admin_pages_access_stock_and_refunds, admin_pages);

/// With Stripe keys the payment page uses Stripe's hosted card fields, and LSN refuses raw card
/// numbers (they must never reach it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_payment_page_uses_hosted_fields() {
    let (_fake, base) = crate::stripe::fake_stripe().await;
    let env = [
        ("STRIPE_SECRET_KEY", "sk_test_fake"),
        ("STRIPE_API_BASE", base.as_str()),
        ("STRIPE_WEBHOOK_SECRET", "whsec_fake"),
        ("VITE_STRIPE_PUBLISHABLE_KEY", "pk_test_fake"),
    ];
    let Some(app) = TestApp::spawn(crate::common::Backend::Sqlite, &env).await else { return };
    let variant = shop(&app).await;
    let (c, token, to) = guest_checkout(&app, &variant, "s@example.com").await;
    let r = c.get(app.url(&to)).send().await.expect("pay page");
    let csp = r.headers()["content-security-policy"].to_str().expect("csp").to_string();
    assert!(csp.contains("script-src 'self' https://js.stripe.com") && csp.contains("https://api.stripe.com"), "{csp}");
    let doc = Html::parse_document(&r.text().await.expect("body"));
    assert_eq!(attr(&doc, "#stripe-form", "data-stripe-key"), "pk_test_fake");
    assert!(attr(&doc, "#stripe-form", "data-client-secret").contains("_secret_"), "the intent's client secret");
    assert_eq!(all(&doc, "input[name=card_number]").len(), 0, "no card field of LSN's own");
    assert_eq!(all(&doc, "script[src='https://js.stripe.com/v3/']").len(), 1);
    // A card number posted anyway is refused, and nothing is charged.
    let (s, _, doc) = post(&c, &app, &to, &[("csrf_token", &token), ("card_number", "4242424242424242")]).await;
    assert_eq!(s, 400);
    assert_eq!(all(&doc, "[data-payment-error]").len(), 1);
}

/// Pages in the visitor's language: `Accept-Language`, the switch (a cookie), the account's
/// choice (which follows the person to a new browser at sign-in), per-locale money and dates.
async fn languages(app: TestApp) {
    shop(&app).await;
    let header = |r: &reqwest::Response, h: &str| r.headers().get(h).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let get = |c: &Client, path: &str, lang: Option<&str>| {
        let mut rq = c.get(app.url(path));
        if let Some(l) = lang {
            rq = rq.header("accept-language", l);
        }
        rq.send()
    };
    // The browser's languages choose, by weight; English (Australia) otherwise.
    let c = app.client();
    let r = get(&c, "/p/merino-beanie", Some("fr-FR, en-US;q=0.9, en;q=0.5")).await.expect("get");
    assert_eq!(header(&r, "content-language"), "en-US");
    let doc = Html::parse_document(&r.text().await.expect("body"));
    assert_eq!(attr(&doc, "html", "lang"), "en-US");
    assert_eq!(all(&doc, "[data-price]"), vec!["A$39.00"], "money as the US writes Australian dollars");
    let r = get(&c, "/p/merino-beanie", None).await.expect("get");
    assert_eq!(header(&r, "content-language"), "en-AU");
    let doc = Html::parse_document(&r.text().await.expect("body"));
    assert_eq!(all(&doc, "[data-price]"), vec!["$39.00"]);
    assert_eq!(attr(&doc, "#site-locale option[selected]", "value"), "en-AU");

    // The switch at the foot of the page keeps the choice in a cookie and comes back.
    let csrf = attr(&doc, "input[name=csrf_token]", "value");
    let (s, to, _) = post(&c, &app, "/locale", &[("csrf_token", &csrf), ("locale", "en-US"), ("back", "/p/merino-beanie")]).await;
    assert_eq!((s, to.as_str()), (303, "/p/merino-beanie?notice=language"));
    let r = get(&c, "/p/merino-beanie?notice=language", Some("en-AU")).await.expect("get");
    assert_eq!(header(&r, "content-language"), "en-US", "the choice wins over the header");
    let doc = Html::parse_document(&r.text().await.expect("body"));
    assert_eq!(all(&doc, "[role=status]"), vec!["Language changed."]);
    // A language LSN does not speak, a forged token or a far-away page change nothing.
    let (s, _, _) = post(&c, &app, "/locale", &[("csrf_token", &csrf), ("locale", "xx-YY"), ("back", "/")]).await;
    assert_eq!(s, 400);
    let (s, _, _) = post(&c, &app, "/locale", &[("csrf_token", "forged"), ("locale", "en-AU"), ("back", "/")]).await;
    assert_eq!(s, 403);
    let (s, to, _) = post(&c, &app, "/locale", &[("csrf_token", &csrf), ("locale", "en-US"), ("back", "https://evil.example/")]).await;
    assert_eq!(s, 303);
    assert!(to.starts_with('/') && !to.starts_with("//"), "{to}");
    let r = get(&c, "/", None).await.expect("get");
    assert_eq!(header(&r, "content-language"), "en-US");
    // Error pages answer in the language too.
    let r = get(&c, "/no-such-page", None).await.expect("get");
    assert_eq!((r.status().as_u16(), header(&r, "content-language")), (404, "en-US".into()));

    // Signed in, the choice is kept with the account and follows the person to a new browser.
    let user = app.user("lang@example.com", lsn_identity::Role::Customer).await;
    let (c2, csrf2) = app.login("lang@example.com").await;
    let (s, to, _) = post(&c2, &app, "/locale", &[("csrf_token", &csrf2), ("locale", "en-US"), ("back", "/account")]).await;
    assert_eq!((s, to.as_str()), (303, "/account?notice=language"));
    let kept = app.identity().locale_of(&user.id).await.expect("read");
    assert_eq!(kept.map(|l| l.tag()), Some("en-US"));
    let c3 = app.client();
    let (_, login) = page(&c3, &app, "/login").await;
    let csrf3 = attr(&login, "input[name=csrf_token]", "value");
    let (s, _, _) =
        post(&c3, &app, "/login", &[("csrf_token", &csrf3), ("email", "lang@example.com"), ("password", PASSWORD), ("next", "/account")])
            .await;
    assert_eq!(s, 303);
    let r = get(&c3, "/account", Some("en-AU")).await.expect("get");
    assert_eq!(header(&r, "content-language"), "en-US", "signing in brought the account's language");
    let doc = Html::parse_document(&r.text().await.expect("body"));
    assert_eq!(attr(&doc, "[data-language-form] option[selected]", "value"), "en-US");
    // An API key of the account changes no one's account language.
    let (_, key) =
        app.identity().create_api_key(&lsn_identity::audit::Actor::system(), &user, "k", &["orders:read".to_string()]).await.expect("key");
    let r =
        Client::new().post(app.url("/locale")).bearer_auth(&key).form(&[("locale", "en-AU"), ("back", "/")]).send().await.expect("post");
    assert!(r.status().is_redirection() || r.status().is_success(), "{}", r.status());
    let kept = app.identity().locale_of(&user.id).await.expect("read");
    assert_eq!(kept.map(|l| l.tag()), Some("en-US"));
}
crate::both!(pages_in_the_visitors_language, languages);
