//! Provider clients against local fakes that check every request: SendGrid's Mail Send, an SMTP
//! server (Debian's aiosmtpd), and an OpenID Connect identity provider.

use crate::common::{json, Backend, Faults, TestApp, PASSWORD};
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use lsn_mail::{MailError, Message, Transport};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

async fn serve_fake(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

// ---------------------------------------------------------------- SendGrid

#[derive(Clone, Default)]
pub(crate) struct FakeSendGrid {
    pub(crate) received: Arc<Mutex<Vec<Value>>>,
    /// The status the next requests get (202 when healthy).
    answer: Arc<Mutex<u16>>,
    pub(crate) faults: Faults,
}

async fn sendgrid_send(State(f): State<FakeSendGrid>, headers: HeaderMap, body: String) -> axum::response::Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer SG.test-key") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"errors": [{"message": "The provided authorization grant is invalid, expired, or revoked", "field": null}]})),
        )
            .into_response();
    }
    if !headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("application/json")) {
        return (StatusCode::BAD_REQUEST, Json(json!({"errors": [{"message": "Content-Type must be application/json", "field": null}]})))
            .into_response();
    }
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({"errors": [{"message": "Bad Request", "field": null}]}))).into_response();
    };
    // The rules of the real endpoint that a client can get wrong.
    let mut errors = Vec::new();
    if v["personalizations"].as_array().is_none_or(|p| {
        p.is_empty() || p.iter().any(|p| p["to"].as_array().is_none_or(|t| t.is_empty() || t.iter().any(|a| !a["email"].is_string())))
    }) {
        errors.push(json!({"message": "The personalizations field is required and must have at least one personalization.", "field": "personalizations"}));
    }
    if !v["from"]["email"].is_string() {
        errors.push(json!({"message": "The from object must be provided for every email send.", "field": "from.email"}));
    }
    if v["subject"].as_str().is_none_or(str::is_empty) {
        errors.push(json!({"message": "The subject is required.", "field": "subject"}));
    }
    match v["content"].as_array() {
        Some(c) if !c.is_empty() && c.iter().all(|x| x["value"].as_str().is_some_and(|s| !s.is_empty())) => {
            if c.len() == 2 && c[0]["type"] != "text/plain" {
                errors.push(json!({"message": "text/plain must come before text/html", "field": "content"}));
            }
        }
        _ => errors
            .push(json!({"message": "The content value must be a string at least one character in length.", "field": "content.0.value"})),
    }
    for (i, a) in v["attachments"].as_array().into_iter().flatten().enumerate() {
        use base64::Engine;
        let decoded = a["content"].as_str().and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok());
        if decoded.is_none_or(|d| d.is_empty()) {
            errors.push(json!({"message": "The attachment content must be base64 encoded.", "field": format!("attachments.{i}.content")}));
        }
        if a["filename"].as_str().is_none_or(str::is_empty) {
            errors.push(json!({"message": "The attachment filename parameter is required.", "field": format!("attachments.{i}.filename")}));
        }
        match a["disposition"].as_str() {
            None | Some("attachment") => {}
            Some("inline") if a["content_id"].as_str().is_some_and(|c| !c.is_empty()) => {}
            Some("inline") => errors.push(json!({"message": "The content_id parameter is required if disposition is set to inline.", "field": format!("attachments.{i}.content_id")})),
            Some(_) => errors.push(json!({"message": "The disposition must be inline or attachment.", "field": format!("attachments.{i}.disposition")})),
        }
    }
    if !errors.is_empty() {
        return (StatusCode::BAD_REQUEST, Json(json!({ "errors": errors }))).into_response();
    }
    let answer = *f.answer.lock().expect("lock");
    if answer != 202 {
        return (
            StatusCode::from_u16(answer).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(json!({"errors": [{"message": "forced", "field": null}]})),
        )
            .into_response();
    }
    f.received.lock().expect("lock").push(v);
    (StatusCode::ACCEPTED, [("x-message-id", "fake-msg-1")]).into_response()
}

async fn fake_sendgrid() -> (FakeSendGrid, String) {
    let f = FakeSendGrid { answer: Arc::new(Mutex::new(202)), ..Default::default() };
    let base = serve_fake(f.faults.wrap(Router::new().route("/v3/mail/send", post(sendgrid_send)).with_state(f.clone()))).await;
    (f, base)
}

/// LSN sending mail through a fresh fake SendGrid, with `extra` configuration.
pub(crate) async fn sendgrid_app(extra: &[(&str, &str)]) -> Option<(TestApp, FakeSendGrid)> {
    let (fake, base) = fake_sendgrid().await;
    let mut env = vec![("SENDGRID_API_KEY", "SG.test-key"), ("SENDGRID_API_URL", base.as_str())];
    env.extend_from_slice(extra);
    Some((TestApp::spawn(Backend::Sqlite, &env).await?, fake))
}

fn msg() -> Message {
    Message {
        to: "buyer@example.com".into(),
        subject: "Your order A1".into(),
        text: "Thanks!".into(),
        html: Some("<p>Thanks!</p>".into()),
        tag: Some("order_confirmation".into()),
        message_id: Some("m-1".into()),
        attachments: Vec::new(),
    }
}

#[tokio::test]
async fn sendgrid_client_sends_what_the_api_expects() {
    let (fake, base) = fake_sendgrid().await;
    let t = lsn_mail::SendGridTransport::new(lsn_core::Secret::new("SG.test-key"), &base, TIMEOUT);
    let id = t.send("Shop <orders@shop.example>", &msg()).await.expect("send");
    assert_eq!(id.as_deref(), Some("fake-msg-1"));
    let got = fake.received.lock().expect("lock")[0].clone();
    assert_eq!(got["personalizations"][0]["to"][0]["email"], "buyer@example.com");
    assert_eq!(got["personalizations"][0]["custom_args"]["lsn_message_id"], "m-1");
    assert_eq!(got["from"], json!({"email": "orders@shop.example", "name": "Shop"}));
    assert_eq!(got["content"][0]["type"], "text/plain");
    assert_eq!(got["content"][1]["type"], "text/html");
    assert_eq!(got["categories"], json!(["order_confirmation"]));

    *fake.answer.lock().expect("lock") = 503;
    assert!(matches!(t.send("a@b.co", &msg()).await, Err(MailError::Transient(_))));
    *fake.answer.lock().expect("lock") = 429;
    assert!(matches!(t.send("a@b.co", &msg()).await, Err(MailError::Transient(_))));
    *fake.answer.lock().expect("lock") = 202;
    let bad = Message { text: String::new(), html: None, ..msg() };
    assert!(matches!(t.send("a@b.co", &bad).await, Err(MailError::Permanent(e)) if e.contains("content value")));
    let wrong_key = lsn_mail::SendGridTransport::new(lsn_core::Secret::new("SG.other"), &base, TIMEOUT);
    assert!(matches!(wrong_key.send("a@b.co", &msg()).await, Err(MailError::Permanent(e)) if e.contains("401")));
    let down = lsn_mail::SendGridTransport::new(lsn_core::Secret::new("SG.test-key"), "http://127.0.0.1:9", TIMEOUT);
    assert!(matches!(down.send("a@b.co", &msg()).await, Err(MailError::Transient(_))));
}

fn with_attachments() -> Message {
    Message {
        html: Some("<p><img src=\"cid:chart-revenue\" alt=\"\"></p>".into()),
        attachments: vec![
            lsn_mail::Attachment::inline("chart-revenue", "revenue.png", "image/png", vec![137, 80, 78, 71, 13, 10]),
            lsn_mail::Attachment::file("orders-2026-12-01.csv", "text/csv", b"number,total\nLSN-1,10.00\n".to_vec()),
        ],
        ..msg()
    }
}

/// Inline images go to SendGrid as `disposition: inline` with the `content_id` the HTML names;
/// files as attachments; both Base64.
#[tokio::test]
async fn sendgrid_client_sends_inline_images_and_files() {
    let (fake, base) = fake_sendgrid().await;
    let t = lsn_mail::SendGridTransport::new(lsn_core::Secret::new("SG.test-key"), &base, TIMEOUT);
    t.send("Shop <orders@shop.example>", &with_attachments()).await.expect("send");
    let got = fake.received.lock().expect("lock")[0].clone();
    assert_eq!(
        got["attachments"],
        json!([
            {"content": "iVBORw0K", "filename": "revenue.png", "type": "image/png", "disposition": "inline", "content_id": "chart-revenue"},
            {"content": "bnVtYmVyLHRvdGFsCkxTTi0xLDEwLjAwCg==", "filename": "orders-2026-12-01.csv", "type": "text/csv", "disposition": "attachment"},
        ])
    );
    // An empty file is refused by the API (and so, permanently, by the client).
    let empty = Message { attachments: vec![lsn_mail::Attachment::file("empty.csv", "text/csv", Vec::new())], ..msg() };
    assert!(matches!(t.send("a@b.co", &empty).await, Err(MailError::Permanent(e)) if e.contains("base64")));
}

/// The development mailbox keeps what the mail carried, attachments included.
#[tokio::test]
async fn the_mailbox_keeps_attachments() {
    let Some(app) = TestApp::spawn(Backend::Sqlite, &[]).await else { return };
    let mailbox = lsn_mail::MailboxTransport::new(app.rt.state.db.clone());
    mailbox.send("LSN <no-reply@shop.example>", &with_attachments()).await.expect("send");
    mailbox.send("LSN <no-reply@shop.example>", &Message { message_id: Some("m-2".into()), ..msg() }).await.expect("send");
    let got = lsn_mail::list_mailbox(&app.rt.state.db, Some("buyer@example.com"), 10).await.expect("mailbox");
    let with = got.iter().find(|m| m.id == "m-1").expect("m-1");
    assert_eq!(with.attachments, with_attachments().attachments);
    assert!(got.iter().find(|m| m.id == "m-2").expect("m-2").attachments.is_empty());
}

/// Mail waits in the job queue while SendGrid is down and goes out when it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_job_retries_until_sendgrid_is_back() {
    let Some((app, fake)) = sendgrid_app(&[("MAIL_FROM", "LSN <no-reply@shop.example>")]).await else { return };
    *fake.answer.lock().expect("lock") = 500;
    let r = app
        .client()
        .post(app.url("/api/auth/register"))
        .json(&json!({"email": "zoe@example.com", "name": "Zoe", "password": PASSWORD}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 202, "the request does not wait for the mail provider");
    let runs = app.run_jobs().await;
    assert!(matches!(runs[0].outcome, lsn_ops::jobs::Outcome::Retrying { .. }), "{runs:?}");
    assert!(fake.received.lock().expect("lock").is_empty());
    *fake.answer.lock().expect("lock") = 202;
    app.clock.advance(chrono::Duration::seconds(11));
    let runs = app.run_jobs().await;
    assert_eq!(runs[0].outcome, lsn_ops::jobs::Outcome::Succeeded);
    let got = fake.received.lock().expect("lock").clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["subject"], "Welcome to LSN Live: confirm your email address");
    assert!(got[0]["content"][1]["value"].as_str().expect("html").contains("/api/auth/verify?token="), "the HTML part has the link too");
    assert!(got[0]["content"][0]["value"].as_str().expect("text").contains("/api/auth/verify?token="));
    assert!(lsn_mail::list_mailbox(&app.rt.state.db, None, 10).await.expect("mailbox").is_empty(), "SendGrid replaces the mailbox");
}

// ---------------------------------------------------------------- SMTP

/// A real SMTP server (Debian's aiosmtpd) on a free port, storing what it gets in a maildir:
/// the process, its port and the directory (`box/new` holds the messages); `None` without it.
async fn start_smtp() -> Option<(std::process::Child, u16, tempfile::TempDir)> {
    let python = std::env::var("LSN_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let has = std::process::Command::new(&python).args(["-c", "import aiosmtpd"]).status().is_ok_and(|s| s.success());
    if !has {
        assert!(!crate::common::require_all(), "aiosmtpd missing but LSN_TEST_REQUIRE_ALL=1");
        eprintln!("skipping: aiosmtpd not installed (scripts/test.sh installs python3-aiosmtpd)");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let maildir = tempfile::tempdir().expect("dir");
    let child = std::process::Command::new(&python)
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir.path().join("box"))
        .spawn()
        .expect("start aiosmtpd");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Some((child, port, maildir))
}

fn maildir_messages(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir.join("box/new"))
        .map(|d| d.filter_map(|e| e.ok()).filter_map(|e| std::fs::read_to_string(e.path()).ok()).collect())
        .unwrap_or_default()
}

/// With SendGrid and SMTP both configured, a message SendGrid fails to take goes out through
/// SMTP at once, and the fallback is a healing event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sendgrid_failing_falls_back_to_smtp() {
    let Some((mut child, port, maildir)) = start_smtp().await else { return };
    let smtp = format!("smtp://127.0.0.1:{port}");
    let Some((app, fake)) = sendgrid_app(&[("SMTP_URL", smtp.as_str())]).await else { return };
    *fake.answer.lock().expect("lock") = 503;
    let db = app.rt.state.db.clone();
    db.transaction(|tx| Box::pin(async move { lsn_ops::builtin::queue_mail(tx, 0, msg()).await.map(|_| ()) })).await.expect("queue");
    let mut runs = app.run_jobs().await;
    for _ in 0..5 {
        // aiosmtpd may still be starting on a loaded machine: the job retries, as in production.
        if runs.iter().any(|r| r.outcome == lsn_ops::jobs::Outcome::Succeeded) {
            break;
        }
        app.clock.advance(chrono::Duration::seconds(60));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        runs = app.run_jobs().await;
    }
    let delivered = maildir_messages(maildir.path());
    let _ = child.kill();
    let _ = child.wait();
    assert!(runs.iter().any(|r| r.outcome == lsn_ops::jobs::Outcome::Succeeded), "{runs:?}");
    assert!(fake.faults.seen() >= 1 && fake.received.lock().expect("lock").is_empty(), "SendGrid was asked and took nothing");
    assert_eq!(delivered.len(), 1, "sent once, through SMTP");
    assert!(delivered[0].contains("Subject: Your order A1"), "{}", delivered[0]);
    let events = lsn_ops::healing::events(&db, Some("sendgrid"), 10).await.expect("events");
    assert!(events.iter().any(|e| e.action == "fallback" && e.outcome == "healed" && e.detail.contains("smtp")), "{events:?}");
}

#[tokio::test]
async fn smtp_client_delivers_to_a_real_smtp_server() {
    let Some((mut child, port, maildir)) = start_smtp().await else { return };
    let t = lsn_mail::SmtpTransport::from_url(&format!("smtp://127.0.0.1:{port}")).expect("transport");
    // A transient answer is retried, as the mail job retries it (the server may still be
    // starting up on a loaded machine when the port first answers).
    let mut result = t.send("LSN <no-reply@shop.example>", &msg()).await;
    for _ in 0..3 {
        if !matches!(result, Err(lsn_mail::MailError::Transient(_))) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        result = t.send("LSN <no-reply@shop.example>", &msg()).await;
    }
    let delivered = maildir_messages(maildir.path());
    let _ = child.kill();
    let _ = child.wait();
    result.expect("smtp send");
    assert_eq!(delivered.len(), 1);
    let m = &delivered[0];
    assert!(
        m.contains("Subject: Your order A1") && m.contains("To: buyer@example.com") && m.contains("Thanks!") && m.contains("text/html"),
        "{m}"
    );
    assert!(matches!(
        lsn_mail::SmtpTransport::from_url("smtp://127.0.0.1:9").expect("t").send("a@b.co", &msg()).await,
        Err(MailError::Transient(_))
    ));
}

// ---------------------------------------------------------------- OpenID Connect

/// What the fake provider remembers of an authorization code: challenge, nonce, subject, email.
type Grant = (String, String, String, String);

#[derive(Clone, Default)]
struct FakeIdp {
    base: Arc<Mutex<String>>,
    /// code → (challenge, nonce, subject, email)
    codes: Arc<Mutex<HashMap<String, Grant>>>,
    redirect_uri: Arc<Mutex<String>>,
}

async fn idp_discovery(State(f): State<FakeIdp>) -> Json<Value> {
    let b = f.base.lock().expect("lock").clone();
    Json(
        json!({"issuer": b, "authorization_endpoint": format!("{b}/authorize"), "token_endpoint": format!("{b}/token"), "jwks_uri": format!("{b}/jwks"), "response_types_supported": ["code"]}),
    )
}

async fn idp_jwks() -> Json<Value> {
    let n = include_str!("../fixtures/oidc-test-key.n").trim();
    Json(json!({"keys": [{"kty": "RSA", "kid": "test-key", "use": "sig", "alg": "RS256", "n": n, "e": "AQAB"}]}))
}

async fn idp_token(State(f): State<FakeIdp>, Form(form): Form<HashMap<String, String>>) -> axum::response::Response {
    use base64::Engine;
    use sha2::Digest;
    let bad = |m: &str| (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_grant", "error_description": m}))).into_response();
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return bad("grant_type");
    }
    if form.get("client_id").map(String::as_str) != Some("lsn-test-client") {
        return bad("client_id");
    }
    if form.get("redirect_uri") != Some(&*f.redirect_uri.lock().expect("lock")) {
        return bad("redirect_uri");
    }
    let Some((challenge, nonce, sub, email)) = form.get("code").and_then(|c| f.codes.lock().expect("lock").remove(c)) else {
        return bad("code unknown or used");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    if computed != challenge {
        return bad("PKCE verification failed");
    }
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iss": *f.base.lock().expect("lock"), "aud": "lsn-test-client", "sub": sub, "iat": now, "exp": now + 300, "nonce": nonce, "email": email, "email_verified": true, "name": "Idp Name"});
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("test-key".into());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(include_bytes!("../fixtures/oidc-test-key.pem")).expect("key");
    let id_token = jsonwebtoken::encode(&header, &claims, &key).expect("sign");
    Json(json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token})).into_response()
}

fn query_of(location: &str) -> HashMap<String, String> {
    url::Url::parse(location).expect("url").query_pairs().into_owned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_login_with_pkce_makes_the_owner() {
    let idp = FakeIdp::default();
    let base = serve_fake(
        Router::new()
            .route("/.well-known/openid-configuration", get(idp_discovery))
            .route("/jwks", get(idp_jwks))
            .route("/token", post(idp_token))
            .with_state(idp.clone()),
    )
    .await;
    *idp.base.lock().expect("lock") = base.clone();
    let Some(app) = TestApp::spawn(
        Backend::Sqlite,
        &[
            ("OAUTH_SERVER_URL", &base),
            ("VITE_APP_ID", "lsn-test-client"),
            ("OWNER_OPEN_ID", "owner-sub-1"),
            ("OWNER_NAME", "Olivia Owner"),
        ],
    )
    .await
    else {
        return;
    };
    *idp.redirect_uri.lock().expect("lock") = app.url("/api/oauth/callback");

    let begin = |c: reqwest::Client| {
        let url = app.url("/api/oauth/login?return_to=/account");
        async move {
            let r = c.get(url).send().await.expect("send");
            assert!(r.status().is_redirection());
            query_of(r.headers().get("location").expect("location").to_str().expect("str"))
        }
    };
    let browser = app.client();
    let q = begin(browser.clone()).await;
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["client_id"], "lsn-test-client");
    assert_eq!(q["response_type"], "code");
    idp.codes
        .lock()
        .expect("lock")
        .insert("code-1".into(), (q["code_challenge"].clone(), q["nonce"].clone(), "owner-sub-1".into(), "olivia@shop.example".into()));

    // A forged state is refused and nobody is signed in.
    let r = browser.get(app.url(&format!("/api/oauth/callback?code=code-1&state={}x", q["state"]))).send().await.expect("send");
    assert_eq!(json(r).await.1["error"]["code"], "oauth_failed");
    let r = browser.get(app.url(&format!("/api/oauth/callback?code=code-1&state={}", q["state"]))).send().await.expect("send");
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers().get("location").expect("loc"), "/account");
    let (_, me) = json(browser.get(app.url("/api/auth/me")).send().await.expect("send")).await;
    assert_eq!(me["user"]["role"], "owner");
    assert_eq!(me["user"]["name"], "Olivia Owner");
    assert_eq!(me["user"]["email"], "olivia@shop.example");

    // Another person, through the form_post callback, is a customer.
    let other = app.client();
    let q = begin(other.clone()).await;
    idp.codes
        .lock()
        .expect("lock")
        .insert("code-2".into(), (q["code_challenge"].clone(), q["nonce"].clone(), "someone-else".into(), "sam@example.com".into()));
    let r =
        other.post(app.url("/api/oauth/callback")).form(&[("code", "code-2"), ("state", q["state"].as_str())]).send().await.expect("send");
    assert_eq!(r.status(), 303);
    let (_, me) = json(other.get(app.url("/api/auth/me")).send().await.expect("send")).await;
    assert_eq!(me["user"]["role"], "customer");

    // A callback in a browser that never started the flow, or a replayed code, gets nowhere.
    let r = app.client().get(app.url(&format!("/api/oauth/callback?code=code-2&state={}", q["state"]))).send().await.expect("send");
    assert_eq!(r.status(), 400);
    let q = begin(other.clone()).await;
    let r = other.get(app.url(&format!("/api/oauth/callback?code=code-2&state={}", q["state"]))).send().await.expect("send");
    assert_eq!(r.status(), 400, "a used code does not work twice");
    let actions = app.audit_actions().await;
    assert!(actions.iter().filter(|a| *a == "auth.login").count() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_is_a_clear_404_when_not_configured() {
    let Some(app) = TestApp::spawn(Backend::Sqlite, &[]).await else { return };
    let (s, b) = json(app.client().get(app.url("/api/oauth/login")).send().await.expect("send")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("oauth_disabled")));
}

// ---------------------------------------------------------------- S3-compatible media storage

/// Stored objects: key → (content type, bytes).
type Objects = HashMap<String, (String, Vec<u8>)>;

#[derive(Clone, Default)]
struct FakeS3 {
    objects: Arc<Mutex<Objects>>,
    rejected: Arc<Mutex<u32>>,
}

/// Recomputes AWS Signature Version 4 from the request, as S3 does, independently of LSN's code.
fn s3_signature_ok(method: &str, path: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    use hmac::{Mac, SimpleHmac};
    use sha2::{Digest, Sha256};
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mac = |k: &[u8], d: &[u8]| {
        let mut m = <SimpleHmac<Sha256> as Mac>::new_from_slice(k).expect("key");
        m.update(d);
        m.finalize().into_bytes().to_vec()
    };
    let auth = h("authorization");
    let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256 ") else { return false };
    let fields: HashMap<&str, &str> = rest.split(", ").filter_map(|p| p.split_once('=')).collect();
    let (Some(cred), Some(signed), Some(sig)) = (fields.get("Credential"), fields.get("SignedHeaders"), fields.get("Signature")) else {
        return false;
    };
    let parts: Vec<&str> = cred.split('/').collect();
    if parts.len() != 5 || parts[0] != "AKIDTEST" || parts[3] != "s3" || parts[4] != "aws4_request" {
        return false;
    }
    let payload = hex::encode(Sha256::digest(body));
    if h("x-amz-content-sha256") != payload {
        return false;
    }
    let names: Vec<&str> = signed.split(';').collect();
    let canonical_headers: String = names.iter().map(|n| format!("{n}:{}\n", h(n).trim())).collect();
    let canonical = format!("{method}\n{path}\n\n{canonical_headers}\n{signed}\n{payload}");
    let scope = format!("{}/{}/s3/aws4_request", parts[1], parts[2]);
    let to_sign = format!("AWS4-HMAC-SHA256\n{}\n{scope}\n{}", h("x-amz-date"), hex::encode(Sha256::digest(canonical.as_bytes())));
    let mut k = mac(b"AWS4s3cr3t-test", parts[1].as_bytes());
    for step in [parts[2].as_bytes(), b"s3", b"aws4_request"] {
        k = mac(&k, step);
    }
    hex::encode(mac(&k, to_sign.as_bytes())) == *sig
}

async fn s3_object(
    State(f): State<FakeS3>,
    method: axum::http::Method,
    axum::extract::Path((bucket, key)): axum::extract::Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let path = format!("/{bucket}/{key}");
    if bucket != "lsn-media" || !s3_signature_ok(method.as_str(), &path, &headers, &body) {
        *f.rejected.lock().expect("lock") += 1;
        return (StatusCode::FORBIDDEN, "<Error><Code>SignatureDoesNotMatch</Code></Error>").into_response();
    }
    match method.as_str() {
        "PUT" => {
            let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            f.objects.lock().expect("lock").insert(key, (ct, body.to_vec()));
            StatusCode::OK.into_response()
        }
        "GET" => match f.objects.lock().expect("lock").get(&key) {
            Some((_, b)) => b.clone().into_response(),
            None => (StatusCode::NOT_FOUND, "<Error><Code>NoSuchKey</Code></Error>").into_response(),
        },
        "DELETE" => {
            f.objects.lock().expect("lock").remove(&key);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_images_go_to_s3_when_configured() {
    let fake = FakeS3::default();
    let base = serve_fake(Router::new().route("/{bucket}/{key}", axum::routing::any(s3_object)).with_state(fake.clone())).await;
    let Some(app) = TestApp::spawn(
        Backend::Sqlite,
        &[
            ("S3_ENDPOINT", &base),
            ("S3_BUCKET", "lsn-media"),
            ("S3_ACCESS_KEY_ID", "AKIDTEST"),
            ("S3_SECRET_ACCESS_KEY", "s3cr3t-test"),
            ("S3_REGION", "ap-southeast-2"),
        ],
    )
    .await
    else {
        return;
    };
    app.user("admin@example.com", lsn_identity::Role::Admin).await;
    let (a, csrf) = app.login("admin@example.com").await;
    let p = app.product(json!({"title": "Vase", "variants": [{"sku": "VASE", "price": 100}]})).await;
    let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5];
    let r = a
        .post(app.url(&format!("/api/v1/products/{}/images", p.id)))
        .header("x-csrf-token", &csrf)
        .header("content-type", "image/jpeg")
        .body(jpeg.to_vec())
        .send()
        .await
        .expect("upload");
    let (s, img) = json(r).await;
    assert_eq!(s, 201, "{img}");
    assert_eq!(fake.objects.lock().expect("lock").len(), 1);
    assert_eq!(*fake.rejected.lock().expect("lock"), 0, "every request carried a valid SigV4 signature");
    let stored = fake.objects.lock().expect("lock").values().next().cloned().expect("object");
    assert_eq!((stored.0.as_str(), stored.1.as_slice()), ("image/jpeg", &jpeg[..]));
    let got = reqwest::get(app.url(img["image"]["url"].as_str().expect("url"))).await.expect("get");
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.expect("bytes").as_ref(), &jpeg[..]);
    assert!(!app.data_dir.path().join("media").exists(), "nothing written locally");
    // A wrong secret is refused by the store and the upload fails cleanly.
    let bad = lsn_catalog::media::S3::new(&base, "lsn-media", "AKIDTEST", lsn_core::Secret::new("wrong"), "ap-southeast-2");
    assert!(bad.put("x.jpg", "image/jpeg", &jpeg).await.is_err());
}
