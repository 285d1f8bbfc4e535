//! The creator portal and the admin's creator pages through the real server: each creator sees
//! their own figures, links (with QR codes), payouts and statements and nobody else's; the
//! statement's CSV adds up to the ledger and its PDF opens; an applicant sees where their
//! application stands; staff approve a payout from the approval queue.

use crate::both;
use crate::common::{json, TestApp};
use lsn_db::RowExt;
use serde_json::{json, Value};

struct Browser {
    c: reqwest::Client,
    csrf: String,
}

impl Browser {
    async fn login(app: &TestApp, email: &str) -> Browser {
        let (c, csrf) = app.login(email).await;
        Browser { c, csrf }
    }

    async fn api(&self, app: &TestApp, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        json(self.c.request(method, app.url(path)).header("x-csrf-token", &self.csrf).json(&body).send().await.expect("send")).await
    }

    /// A page: its status and HTML.
    async fn get(&self, app: &TestApp, path: &str) -> (u16, String) {
        let r = self.c.get(app.url(path)).send().await.expect("get");
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    /// A form as the page posts it (with the page's token): its status and where it sends to.
    async fn post(&self, app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut form: Vec<(&str, &str)> = vec![("csrf_token", self.csrf.as_str())];
        form.extend_from_slice(fields);
        let r = self.c.post(app.url(path)).form(&form).send().await.expect("post");
        let to = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        (r.status().as_u16(), to)
    }
}

/// A creator applied and approved by `staff`, with one link; their browser, id and link code.
async fn creator(app: &TestApp, staff: &Browser, email: &str, handle: &str, name: &str) -> (Browser, String, String) {
    app.user(email, lsn_identity::Role::Customer).await;
    let me = Browser::login(app, email).await;
    let (s, b) = me
        .api(app, reqwest::Method::POST, "/api/v1/creators/apply", json!({"handle": handle, "display_name": name, "abn": "51 824 753 556"}))
        .await;
    assert_eq!(s, 201, "{b}");
    let id = b["creator"]["id"].as_str().expect("id").to_string();
    let (s, b) =
        staff.api(app, reqwest::Method::POST, &format!("/api/v1/admin/creators/{id}/decision"), json!({"action": "approve"})).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = me.api(app, reqwest::Method::POST, "/api/v1/creators/me/links", json!({"target": "/products", "label": "bio"})).await;
    assert_eq!(s, 201, "{b}");
    (me, id, b["link"]["code"].as_str().expect("code").to_string())
}

/// A shopper's browser follows `/r/{code}` and buys one `sku`, paying by card.
async fn click_and_buy(app: &TestApp, code: &str, sku: &str, email: &str) {
    let c = app.client();
    crate::creators::click(app, &c, code).await;
    crate::creators::buy(app, &c, None, sku, email).await;
}

use crate::creators::product;

/// Dollars as the CSV writes them, to cents.
fn cents(s: &str) -> i64 {
    let neg = s.starts_with('-');
    let (w, f) = s.trim_start_matches('-').split_once('.').expect("dollars.cents");
    let v = w.parse::<i64>().expect("dollars") * 100 + f.parse::<i64>().expect("cents");
    if neg {
        -v
    } else {
        v
    }
}

async fn portal(app: TestApp) {
    app.user("boss@example.com", lsn_identity::Role::Admin).await;
    let staff = Browser::login(&app, "boss@example.com").await;
    let (ann, ann_id, ann_code) = creator(&app, &staff, "ann@example.com", "annmakes", "Ann Maker").await;
    let (ben, ben_id, ben_code) = creator(&app, &staff, "ben@example.com", "benfilms", "Ben Filmer").await;
    // $110.00 with GST: $100.00 before it; bronze earns 5 %: $5.00 for Ann. Ben sells nothing.
    product(&app, "PRT-1", 11_000).await;
    click_and_buy(&app, &ann_code, "PRT-1", "shopper@example.com").await;

    // The overview: Ann's own figures and nothing of Ben's.
    let (s, html) = ann.get(&app, "/creator").await;
    assert_eq!(s, 200, "{html}");
    assert!(html.contains("data-stat=\"orders\">1<") && html.contains("data-stat=\"clicks\">1<"), "{html}");
    assert!(html.contains("data-balance=\"pending\">$5.00<"), "{html}");
    assert!(html.contains("annmakes") && !html.contains("benfilms") && !html.contains("Ben Filmer"), "{html}");
    let (s, html) = ben.get(&app, "/creator").await;
    assert_eq!(s, 200);
    assert!(html.contains("data-stat=\"orders\">0<") && html.contains("data-balance=\"pending\">$0.00<"), "{html}");
    assert!(!html.contains("annmakes") && !html.contains("Ann Maker"), "{html}");

    // Links: each with its public address and a QR code; each creator sees only theirs.
    let (s, html) = ann.get(&app, "/creator/links").await;
    assert_eq!(s, 200);
    assert!(html.contains(&app.url(&format!("/r/{ann_code}"))) && html.contains("<svg class=\"qr\""), "{html}");
    assert!(!html.contains(&ben_code), "{html}");
    let (s, to) = ann.post(&app, "/creator/links", &[("target", "/search?q=mug"), ("label", "Newsletter"), ("code", "ann-news")]).await;
    assert_eq!((s, to.as_str()), (303, "/creator/links?notice=creator_link_created"));
    let (_, html) = ann.get(&app, "/creator/links").await;
    assert!(html.contains("data-link=\"ann-news\"") && html.matches("<svg class=\"qr\"").count() == 2, "{html}");
    let (_, html) = ben.get(&app, "/creator/links").await;
    assert!(html.contains(&ben_code) && !html.contains("ann-news") && !html.contains(&ann_code), "{html}");
    // A bad target is refused on the form, a taken code with its message; nothing is made.
    let (s, _) = ben.post(&app, "/creator/links", &[("target", "https://evil.example/"), ("label", "x")]).await;
    assert_eq!(s, 422);
    let (s, _) = ben.post(&app, "/creator/links", &[("target", "/"), ("code", "ann-news")]).await;
    assert_eq!(s, 422);
    assert_eq!(app.rt.state.creators.links(&ben_id).await.expect("links").len(), 1);
    // Without the form's token nothing is posted.
    let r = ann.c.post(app.url("/creator/links")).form(&[("target", "/"), ("code", "no-token")]).send().await.expect("post");
    assert_eq!(r.status(), 403);

    // Profile and tax details: through the form, on Ann's own profile only.
    let (s, html) = ann.get(&app, "/creator/profile").await;
    assert_eq!(s, 200);
    assert!(html.contains("value=\"51824753556\""), "{html}");
    let (s, _) = ann
        .post(&app, "/creator/profile", &[("display_name", "Ann M."), ("bio", "Mugs"), ("payout_currency", "AUD"), ("abn", "not an abn")])
        .await;
    assert_eq!(s, 422);
    let form = [("display_name", "Ann M."), ("bio", "Mugs"), ("payout_currency", "NZD"), ("abn", ""), ("gst_registered", "on")];
    let (s, _) = ann.post(&app, "/creator/profile", &form).await;
    assert_eq!(s, 303);
    let a = app.rt.state.creators.get(&ann_id).await.expect("ann");
    assert_eq!((a.display_name.as_str(), a.abn.as_deref(), a.gst_registered, a.payout_currency.as_str()), ("Ann M.", None, true, "NZD"));
    assert_eq!(app.rt.state.creators.get(&ben_id).await.expect("ben").display_name, "Ben Filmer");

    // Payouts: the bank account from the form, shown masked.
    let (s, _) =
        ann.post(&app, "/creator/payouts/bank-account", &[("holder_name", "Ann M"), ("bsb", "12-3"), ("account_number", "1")]).await;
    assert_eq!(s, 422);
    let (s, _) = ann
        .post(&app, "/creator/payouts/bank-account", &[("holder_name", "Ann M"), ("bsb", "062-000"), ("account_number", "12345678")])
        .await;
    assert_eq!(s, 303);
    let (s, html) = ann.get(&app, "/creator/payouts").await;
    assert_eq!(s, 200);
    assert!(html.contains("data-bank-account") && !html.contains("12345678"), "{html}");
    let (_, html) = ben.get(&app, "/creator/payouts").await;
    assert!(!html.contains("data-bank-account>"), "{html}");

    // Statements: the month with activity; its CSV adds up to the ledger; the PDF opens.
    let (s, html) = ann.get(&app, "/creator/statements").await;
    assert_eq!(s, 200);
    let months = app.rt.state.creators.statement_months(&ann_id).await.expect("months");
    assert_eq!(months.len(), 1);
    let month = months[0].to_string();
    assert!(html.contains(&format!("/creator/statements/{month}.csv")), "{html}");
    let r = ann.c.get(app.url(&format!("/creator/statements/{month}.csv"))).send().await.expect("csv");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap_or_default().starts_with("text/csv"));
    let csv = r.text().await.expect("csv");
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let amount = |kind: &str| rows.iter().find(|r| r[1] == kind).map(|r| cents(r[4])).expect(kind);
    let entries: i64 = rows.iter().filter(|r| !r[1].ends_with("_balance")).map(|r| cents(r[4])).sum();
    let ledger: i64 = lsn_db::query("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM creator_ledger WHERE creator_id = $1")
        .bind(&ann_id)
        .fetch_one(app.rt.state.db.read())
        .await
        .expect("sum")
        .try_get(0)
        .expect("sum");
    assert_eq!((amount("opening_balance"), entries, amount("closing_balance")), (0, ledger, ledger), "{csv}");
    assert_eq!(ledger, 500);
    assert!(rows.iter().any(|r| r[1] == "commission" && r[4] == "5.00"), "{csv}");
    let r = ann.c.get(app.url(&format!("/creator/statements/{month}.pdf"))).send().await.expect("pdf");
    assert_eq!(r.status(), 200);
    let pdf = r.bytes().await.expect("pdf");
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("Ann M.") && text.contains("5.00") && text.trim_end().ends_with("%%EOF"), "{text}");
    // Ben's statement of the same month is his: empty.
    let (s, csv) = ben.get(&app, &format!("/creator/statements/{month}.csv")).await;
    assert_eq!(s, 200);
    assert!(!csv.contains("commission") && csv.contains("closing_balance,,,0.00"), "{csv}");
    for bad in ["2026-13.csv", "2026-11.txt", "x.pdf", "2026-11"] {
        assert_eq!(ann.get(&app, &format!("/creator/statements/{bad}")).await.0, 404, "{bad}");
    }

    // The admin is staff's: a creator is refused every staff page and form.
    for path in ["/admin/creators", "/admin/creators/payouts", "/admin/creators/flags", &format!("/admin/creators/{ben_id}")] {
        assert_eq!(ann.get(&app, path).await.0, 403, "{path}");
    }
    let (s, _) = ann.post(&app, &format!("/admin/creators/{ben_id}/decision"), &[("action", "suspend")]).await;
    assert_eq!(s, 403);
    assert_eq!(app.rt.state.creators.get(&ben_id).await.expect("ben").status, "approved");

    // Someone who never applied is offered the application, and then sees where it stands.
    app.user("cat@example.com", lsn_identity::Role::Customer).await;
    let cat = Browser::login(&app, "cat@example.com").await;
    let (s, to) = {
        let r = cat.c.get(app.url("/creator")).send().await.expect("get");
        (r.status().as_u16(), r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string())
    };
    assert_eq!((s, to.as_str()), (303, "/creator/apply"));
    assert_eq!(cat.get(&app, "/creator/apply").await.0, 200);
    assert_eq!(cat.get(&app, "/creator/links").await.0, 403, "not a creator yet");
    let (s, _) = cat.post(&app, "/creator/apply", &[("handle", "No Good!"), ("display_name", "Cat")]).await;
    assert_eq!(s, 422);
    let (s, to) =
        cat.post(&app, "/creator/apply", &[("handle", "catcrafts"), ("display_name", "Cat Crafts"), ("application", "Knitting")]).await;
    assert_eq!((s, to.as_str()), (303, "/creator?notice=creator_applied"));
    let (s, html) = cat.get(&app, "/creator").await;
    assert_eq!(s, 200);
    assert!(html.contains("data-application-status=\"applied\"") && !html.contains("data-balance"), "{html}");

    // Staff see the application in the list and decide it from the creator's page.
    let (s, html) = staff.get(&app, "/admin/creators?status=applied").await;
    assert_eq!(s, 200);
    assert!(html.contains("catcrafts") && !html.contains("annmakes"), "{html}");
    let cat_id = app.rt.state.creators.by_user(&app.identity().user_by_email("cat@example.com").await.expect("u").expect("u").id).await;
    let cat_id = cat_id.expect("creator").expect("creator").id;
    let (s, html) = staff.get(&app, &format!("/admin/creators/{cat_id}")).await;
    assert_eq!(s, 200);
    assert!(html.contains("Knitting") && html.contains("data-action=\"approve\"") && html.contains("data-action=\"reject\""), "{html}");
    let (s, to) =
        staff.post(&app, &format!("/admin/creators/{cat_id}/decision"), &[("action", "reject"), ("note", "too small for now")]).await;
    assert_eq!((s, to), (303, format!("/admin/creators/{cat_id}?notice=creator_decided")));
    let (_, html) = cat.get(&app, "/creator").await;
    assert!(html.contains("data-application-status=\"rejected\"") && html.contains("too small for now"), "{html}");
    let (s, _) = staff.post(&app, &format!("/admin/creators/{ann_id}/terms"), &[("tier", "gold"), ("rate_bps", "1200")]).await;
    assert_eq!(s, 303);
    let a = app.rt.state.creators.get(&ann_id).await.expect("ann");
    assert_eq!((a.tier.as_str(), a.rate_bps), ("gold", Some(1200)));
    let (s, html) = staff.get(&app, &format!("/admin/creators/{ann_id}")).await;
    assert_eq!(s, 200);
    assert!(html.contains(&ann_code) && html.contains("data-balance=\"pending\">$5.00<"), "{html}");
    assert_eq!(staff.get(&app, "/admin/creators/flags").await.0, 200);
}
both!(the_portal_shows_each_creator_only_their_own_data, portal);

/// A bronze creator's payout waits for a person: the queue shows it with the policy's reason,
/// approving it from the page sends it on, and the creator sees it in their history.
async fn approval_queue(app: TestApp) {
    app.user("boss@example.com", lsn_identity::Role::Admin).await;
    let staff = Browser::login(&app, "boss@example.com").await;
    let (eve, eve_id, code) = creator(&app, &staff, "eve@example.com", "evecooks", "Eve Cook").await;
    let (s, b) = eve
        .api(
            &app,
            reqwest::Method::PUT,
            "/api/v1/creators/me/bank-account",
            json!({"holder_name": "Eve Cook", "account": {"type": "australian", "bsb": "062-000", "account_number": "12345678"}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    // $1,100 with GST: $1,000 before it; bronze's 5 % is $50, the smallest payout.
    product(&app, "PRT-Q", 110_000).await;
    click_and_buy(&app, &code, "PRT-Q", "buyer@example.com").await;
    app.clock.advance(chrono::Duration::days(31));
    app.rt.state.creators.approve_due().await.expect("approve");
    let boss = app.identity().user_by_email("boss@example.com").await.expect("user").expect("user");
    let p = app.rt.state.creators.process_payout(&eve_id, 5000, None, &boss.id).await.expect("payout");
    assert_eq!(p.status, "awaiting_approval", "{p:?}");
    assert!(!p.reason.is_empty());

    let staff = Browser::login(&app, "boss@example.com").await;
    let (s, html) = staff.get(&app, "/admin/creators/payouts").await;
    assert_eq!(s, 200);
    assert!(html.contains(&format!("data-payout=\"{}\"", p.id)) && html.contains("evecooks") && html.contains("$50.00"), "{html}");
    let reason = html.split("<td data-reason>").nth(1).and_then(|r| r.split("</td>").next()).unwrap_or_default();
    assert!(!reason.trim().is_empty(), "the policy's reason is shown: {html}");
    assert!(html.contains(&format!("/admin/creators/payouts/{}/approve", p.id)), "{html}");
    // The creator cannot approve their own payout.
    let eve = Browser::login(&app, "eve@example.com").await;
    assert_eq!(eve.post(&app, &format!("/admin/creators/payouts/{}/approve", p.id), &[]).await.0, 403);
    assert_eq!(app.rt.state.creators.payout(&p.id).await.expect("payout").status, "awaiting_approval");

    let (s, to) = staff.post(&app, &format!("/admin/creators/payouts/{}/approve", p.id), &[]).await;
    assert_eq!((s, to.as_str()), (303, "/admin/creators/payouts?notice=payout_approved"));
    let status = app.rt.state.creators.payout(&p.id).await.expect("payout").status;
    assert!(["approved", "submitted", "paid"].contains(&status.as_str()), "{status}");
    let (_, html) = staff.get(&app, "/admin/creators/payouts?notice=payout_approved").await;
    assert!(html.contains("data-admin-notice") && !html.contains(&format!("/admin/creators/payouts/{}/approve", p.id)), "{html}");
    assert!(html.contains("data-table=\"payouts-recent\"") && html.contains(&format!("data-payout=\"{}\"", p.id)), "{html}");
    // Approving again moves nothing.
    let (s, to) = staff.post(&app, &format!("/admin/creators/payouts/{}/approve", p.id), &[]).await;
    assert_eq!((s, to.as_str()), (303, "/admin/creators/payouts?notice=payout_not_awaiting"));
    // The creator's history shows it.
    let (s, html) = eve.get(&app, "/creator/payouts").await;
    assert_eq!(s, 200);
    assert!(html.contains("$50.00") && html.contains("data-table=\"payouts\""), "{html}");
}
both!(the_approval_queue_shows_payouts_waiting_and_approves_them, approval_queue);
