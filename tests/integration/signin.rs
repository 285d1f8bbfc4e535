//! Abuse of the sign-in flows, as it was tried from outside: a flood of password-reset posts
//! must not run a hash each (nor take the machine's memory), a stranger's wrong passwords must
//! not lock the owner out, and forgot-password and sign-up mail is throttled per address.

use crate::both;
use crate::common::{json, TestApp, PASSWORD};
use lsn_identity::Role;
use serde_json::json;
use std::net::IpAddr;

/// A client on its own loopback address (`127.0.0.N`): another network, as LSN sees it.
fn from(n: u8) -> reqwest::Client {
    reqwest::Client::builder().local_address(IpAddr::from([127, 0, 0, n])).build().expect("client")
}

/// Signs in from network `n` (with the `lsn_device` cookie of an earlier sign-in, when the
/// browser has one); the status and the device cookie it was given.
async fn sign_in(n: u8, app: &TestApp, email: &str, password: &str, device: Option<&str>) -> (u16, Option<String>) {
    let mut req = from(n).post(app.url("/api/auth/login")).json(&json!({"email": email, "password": password}));
    if let Some(d) = device {
        req = req.header("cookie", d);
    }
    let r = req.send().await.expect("login");
    let device = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|p| p.starts_with("lsn_device="))
        .map(str::to_string);
    (r.status().as_u16(), device)
}

/// Five wrong passwords from a stranger's network leave the owner's sign-in alone; failures
/// from many networks throttle only browsers that never signed in to the account.
async fn no_lockout(app: TestApp) {
    app.user("owner@example.com", Role::Owner).await;
    let owner = "owner@example.com";
    let (s, device) = sign_in(1, &app, owner, PASSWORD, None).await;
    assert_eq!(s, 200, "the owner's browser signs in once");
    let device = device.expect("a device cookie");
    let known = Some(device.as_str());
    for _ in 0..5 {
        assert_eq!(sign_in(2, &app, owner, "wrong-password-1", None).await.0, 401);
    }
    assert_eq!(sign_in(2, &app, owner, PASSWORD, None).await.0, 429, "the stranger's network waits");
    assert_eq!(sign_in(1, &app, owner, PASSWORD, known).await.0, 200, "the owner does not");
    assert_eq!(sign_in(3, &app, owner, PASSWORD, None).await.0, 200, "nor does the owner from a new network");
    // A stranger on the owner's own network: the owner's browser has signed in before.
    for _ in 0..5 {
        assert_eq!(sign_in(1, &app, owner, "wrong-password-2", None).await.0, 401);
    }
    assert_eq!(sign_in(1, &app, owner, PASSWORD, known).await.0, 200, "a known browser is never throttled by others");
    assert_eq!(sign_in(1, &app, owner, PASSWORD, None).await.0, 429, "a new browser on that network waits");
    // A device cookie of another account, or a forged one, is no pass.
    assert_eq!(sign_in(1, &app, owner, PASSWORD, Some("lsn_device=abc.def")).await.0, 429);
    // Failures from many networks: every browser that never signed in waits; the owner's does not.
    for n in 10..20 {
        for _ in 0..5 {
            sign_in(n, &app, owner, "wrong-password-3", None).await;
        }
    }
    assert_eq!(sign_in(40, &app, owner, PASSWORD, None).await.0, 429);
    assert_eq!(sign_in(41, &app, owner, PASSWORD, known).await.0, 200);
    assert!(app.audit_actions().await.iter().any(|a| a == "auth.login_throttled"));
}
both!(a_stranger_cannot_lock_the_owner_out, no_lockout);

/// A flood of anonymous posts to the hashing forms: bogus reset tokens cost no hash at all (each
/// is answered `invalid_token`, none waits for a hash), and however many registrations arrive
/// at once, no more than `password::CONCURRENT` hashes ever run, the rest throttled or told to
/// come back.
async fn hashing_flood(app: TestApp) {
    let mut resets = Vec::new();
    for i in 0..100 {
        let c = from(50 + (i % 100) as u8);
        let url = app.url("/api/auth/password/reset");
        resets.push(tokio::spawn(async move {
            json(
                c.post(url)
                    .json(&json!({"token": format!("bogus-{i}"), "password": "a long enough password"}))
                    .send()
                    .await
                    .expect("reset"),
            )
            .await
        }));
    }
    let mut limited = 0;
    for r in resets {
        let (s, b) = r.await.expect("task");
        match s {
            400 => assert_eq!(b["error"]["code"], "invalid_token"),
            429 => limited += 1,
            other => panic!("a bogus reset answered {other}: {b}"),
        }
    }
    assert!(limited < 100, "most were answered at once");
    let mut signups = Vec::new();
    for i in 0..60 {
        let c = from(200);
        let url = app.url("/api/auth/register");
        signups.push(tokio::spawn(async move {
            c.post(url)
                .json(&json!({"email": format!("flood{i}@example.com"), "name": "Flood", "password": "a long enough password"}))
                .send()
                .await
                .expect("register")
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for s in signups {
        statuses.push(s.await.expect("task"));
    }
    let accepted = statuses.iter().filter(|s| **s == 202).count();
    assert!(statuses.iter().all(|s| matches!(s, 202 | 429 | 503)), "{statuses:?}");
    assert!(accepted <= lsn_identity::service::HASHING_LIMIT, "one network is throttled: {statuses:?}");
    assert!(statuses.iter().filter(|s| **s == 429).count() >= 60 - lsn_identity::service::HASHING_LIMIT);
    assert!(lsn_identity::password::peak_concurrency() <= lsn_identity::password::CONCURRENT, "hashes ran at most two at a time");
    assert_eq!(reqwest::get(app.url("/healthz")).await.expect("health").status(), 200);
}
both!(a_flood_of_hashing_posts_is_bounded, hashing_flood);

/// Twenty forgot-password requests for one address send at most three mails an hour; sign-ups
/// with a taken address send one notice an hour.
async fn mail_throttles(app: TestApp) {
    app.user("victim@example.com", Role::Customer).await;
    for n in 0..20u8 {
        let r = from(60 + n)
            .post(app.url("/api/auth/password/forgot"))
            .json(&json!({"email": "victim@example.com"}))
            .send()
            .await
            .expect("forgot");
        assert_eq!(r.status(), 202, "the same answer every time");
    }
    for n in 0..5u8 {
        let r = from(90 + n)
            .post(app.url("/api/auth/register"))
            .json(&json!({"email": "victim@example.com", "name": "Again", "password": "another long password"}))
            .send()
            .await
            .expect("register");
        assert_eq!(r.status(), 202);
    }
    let mails = app.mails_to("victim@example.com").await;
    let resets = mails.iter().filter(|m| m.tag.as_deref() == Some("password_reset")).count();
    let notices = mails.iter().filter(|m| m.tag.as_deref() == Some("register_existing")).count();
    assert_eq!((resets, notices), (lsn_identity::service::RESET_MAILS_PER_HOUR as usize, 1), "{mails:?}");
    // One network asking for many addresses is throttled too.
    let c = from(120);
    let mut last = 0;
    for i in 0..=lsn_identity::service::HASHING_LIMIT {
        last = c
            .post(app.url("/api/auth/password/forgot"))
            .json(&json!({"email": format!("x{i}@example.com")}))
            .send()
            .await
            .expect("forgot")
            .status()
            .as_u16();
    }
    assert_eq!(last, 429);
}
both!(reset_and_signup_mail_is_throttled_per_address, mail_throttles);

/// With Redis, a rate limit holds for the shop, not per node: two nodes share one count of the
/// password-reset form's hashing budget (20 per network in 5 minutes), so the 21st post is
/// refused wherever it lands. Without sharing, each node would allow 20.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_hold_across_nodes_through_redis() {
    let Some(redis) = crate::common::start_redis().await else { return };
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data").display().to_string();
    let env = [("LSN_DATA_DIR", data.as_str()), ("REDIS_URL", redis.url.as_str())];
    let n1 = crate::common::spawn_node(dir.path(), &env);
    let n2 = crate::common::spawn_node(dir.path(), &env);
    assert!(n1.startup.iter().any(|l| l.contains("rate limits are counted for every node through Redis")), "{:?}", n1.startup);
    let c = reqwest::Client::new();
    let mut statuses = Vec::new();
    for i in 0..24 {
        let port = if i % 2 == 0 { n1.port } else { n2.port };
        let r = c
            .post(format!("http://127.0.0.1:{port}/api/auth/password/forgot"))
            .json(&serde_json::json!({"email": format!("nobody{i}@example.com")}))
            .send()
            .await
            .expect("send");
        statuses.push(r.status().as_u16());
    }
    let accepted = statuses.iter().filter(|s| **s == 202).count();
    assert_eq!(accepted, 20, "{statuses:?}");
    assert!(statuses[20..].iter().all(|s| *s == 429), "{statuses:?}");
    drop((n1, n2, redis));
}
