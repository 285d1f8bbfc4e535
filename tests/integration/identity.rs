//! Identity through HTTP: registration, verification, sign-in, sessions, CSRF, resets, lockouts,
//! API keys, roles, settings and the audit log.

use crate::both;
use crate::common::{json, token_in, TestApp, PASSWORD};
use lsn_identity::Role;
use serde_json::json;

async fn register_verify_login(app: TestApp) {
    let c = app.client();
    let r = c
        .post(app.url("/api/auth/register"))
        .json(&json!({"email": "New@Example.com", "name": "Nina", "password": PASSWORD}))
        .send()
        .await
        .expect("send");
    let (status, first) = json(r).await;
    assert_eq!(status, 202, "{first}");
    // Signing in before confirming: correct password says why, a wrong one says nothing more.
    let r = c.post(app.url("/api/auth/login")).json(&json!({"email": "new@example.com", "password": PASSWORD})).send().await.expect("send");
    assert_eq!(json(r).await.1["error"]["code"], "email_not_verified");
    let r = c
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "new@example.com", "password": "wrong password!"}))
        .send()
        .await
        .expect("send");
    assert_eq!(json(r).await, (401, json!({"error": {"code": "invalid_credentials", "message": "Email or password is incorrect."}})));

    // The same address again: an identical answer (no enumeration), a notice by mail.
    let r = c
        .post(app.url("/api/auth/register"))
        .json(&json!({"email": "new@example.com", "name": "Other", "password": "another password"}))
        .send()
        .await
        .expect("send");
    assert_eq!(json(r).await, (202, first));
    let mails = app.mails_to("new@example.com").await;
    assert_eq!(mails.len(), 2);
    assert!(mails.iter().any(|m| m.tag.as_deref() == Some("register_existing")));
    let verify = mails.iter().find(|m| m.tag.as_deref() == Some("welcome")).expect("verify mail");
    let token = token_in(&verify.text);

    let r = c.get(app.url(&format!("/api/auth/verify?token={token}"))).send().await.expect("send");
    assert_eq!(r.status(), 303);
    let set_cookie = r.headers().get("set-cookie").expect("cookie").to_str().expect("str").to_string();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax") && !set_cookie.contains("Secure"), "{set_cookie}");
    let (s, me) = json(c.get(app.url("/api/auth/me")).send().await.expect("send")).await;
    assert_eq!(s, 200);
    assert_eq!(me["user"]["email"], "new@example.com");
    assert_eq!(me["user"]["role"], "customer");
    // A verification link works once.
    let r = app.client().get(app.url(&format!("/api/auth/verify?token={token}"))).send().await.expect("send");
    assert_eq!(json(r).await.1["error"]["code"], "invalid_token");
    // Bad input: changes nothing, says which field.
    let c = app.client();
    let r = c
        .post(app.url("/api/auth/register"))
        .json(&json!({"email": "not-an-email", "name": "", "password": "short"}))
        .send()
        .await
        .expect("send");
    let (s, body) = json(r).await;
    assert_eq!(s, 422);
    assert!(
        body["error"]["fields"]["email"].is_string()
            && body["error"]["fields"]["password"].is_string()
            && body["error"]["fields"]["name"].is_string()
    );
    let r = c.post(app.url("/api/auth/register")).header("content-type", "application/json").body("{not json").send().await.expect("send");
    assert_eq!(json(r).await.1["error"]["code"], "invalid_json");
    let actions = app.audit_actions().await;
    for a in ["user.register", "auth.login_failed", "user.verify_email", "auth.login"] {
        assert!(actions.iter().any(|x| x == a), "{a} missing from {actions:?}");
    }
}
both!(register_verify_login_flow, register_verify_login);

async fn sessions_and_csrf(app: TestApp) {
    app.user("ann@example.com", Role::Customer).await;
    let (c, csrf) = app.login("ann@example.com").await;
    // A cookie-authenticated POST without its token is refused and changes nothing.
    let r = c.post(app.url("/api/auth/logout")).send().await.expect("send");
    assert_eq!(json(r).await.1["error"]["code"], "csrf_failed");
    assert_eq!(c.get(app.url("/api/auth/me")).send().await.expect("send").status(), 200);
    let r = c.post(app.url("/api/auth/logout")).header("x-csrf-token", "forged").send().await.expect("send");
    assert_eq!(r.status(), 403);
    // Another site's page posting with the user's cookie is refused.
    let r = c
        .post(app.url("/api/auth/logout"))
        .header("origin", "https://evil.example")
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 403);
    // A form post carries the token as a field.
    let r = c
        .post(app.url("/api/auth/logout"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf_token={csrf}"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 204);
    assert_eq!(c.get(app.url("/api/auth/me")).send().await.expect("send").status(), 401);

    // A forged cookie is nobody.
    let forged = reqwest::Client::new();
    let r = forged
        .get(app.url("/api/auth/me"))
        .header("cookie", "lsn_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .send()
        .await
        .expect("send");
    assert_eq!(json(r).await.1["error"]["code"], "unauthenticated");
    // An expired session is nobody too.
    let (c2, _) = app.login("ann@example.com").await;
    app.clock.advance(chrono::Duration::days(31));
    assert_eq!(c2.get(app.url("/api/auth/me")).send().await.expect("send").status(), 401);
    let actions = app.audit_actions().await;
    assert!(actions.iter().any(|a| a == "auth.logout"));
}
both!(sessions_and_csrf_protection, sessions_and_csrf);

async fn lockout_without_enumeration(app: TestApp) {
    app.user("bob@example.com", Role::Customer).await;
    let c = app.client();
    let attempt = |email: &'static str, pw: &'static str| {
        let c = c.clone();
        let url = app.url("/api/auth/login");
        async move { json(c.post(url).json(&json!({"email": email, "password": pw})).send().await.expect("send")).await }
    };
    for _ in 0..5 {
        assert_eq!(attempt("bob@example.com", "wrong-password-1").await.0, 401);
        assert_eq!(attempt("ghost@example.com", "wrong-password-1").await.0, 401);
    }
    // Both addresses, real and unknown, are now locked alike: even the right password waits.
    let (s1, b1) = attempt("bob@example.com", PASSWORD).await;
    let (s2, b2) = attempt("ghost@example.com", PASSWORD).await;
    assert_eq!((s1, s2), (429, 429));
    assert_eq!(b1["error"]["code"], b2["error"]["code"]);
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(attempt("bob@example.com", PASSWORD).await.0, 200);
    let actions = app.audit_actions().await;
    assert!(actions.iter().filter(|a| *a == "auth.login_failed").count() >= 10);
    assert!(actions.iter().any(|a| a == "auth.login_throttled"));
}
both!(account_lockout_without_enumeration, lockout_without_enumeration);

async fn ip_limit(app: TestApp) {
    let c = app.client();
    let mut last = 0;
    for i in 0..31 {
        let email = format!("u{i}@example.com");
        last = c
            .post(app.url("/api/auth/login"))
            .json(&json!({"email": email, "password": "whatever-123"}))
            .send()
            .await
            .expect("send")
            .status()
            .as_u16();
    }
    assert_eq!(last, 429, "the 31st sign-in from one address in 5 minutes is refused");
}
both!(login_rate_limited_per_ip, ip_limit);

async fn password_reset(app: TestApp) {
    app.user("carl@example.com", Role::Customer).await;
    let (old_session, _) = app.login("carl@example.com").await;
    let c = app.client();
    for email in ["carl@example.com", "nobody@example.com"] {
        let r = c.post(app.url("/api/auth/password/forgot")).json(&json!({"email": email})).send().await.expect("send");
        assert_eq!(r.status(), 202);
    }
    assert!(app.mails_to("nobody@example.com").await.is_empty());
    let mail = app.mails_to("carl@example.com").await.into_iter().find(|m| m.tag.as_deref() == Some("password_reset")).expect("reset mail");
    let token = token_in(&mail.text);
    let r = c.post(app.url("/api/auth/password/reset")).json(&json!({"token": token, "password": "short"})).send().await.expect("send");
    assert_eq!(r.status(), 422, "weak password refused, token not spent");
    let r = c
        .post(app.url("/api/auth/password/reset"))
        .json(&json!({"token": token, "password": "a brand new password"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    // Reused token, old password, old session: all refused.
    let r = c
        .post(app.url("/api/auth/password/reset"))
        .json(&json!({"token": token, "password": "yet another password"}))
        .send()
        .await
        .expect("send");
    assert_eq!(json(r).await.1["error"]["code"], "invalid_token");
    let r =
        c.post(app.url("/api/auth/login")).json(&json!({"email": "carl@example.com", "password": PASSWORD})).send().await.expect("send");
    assert_eq!(r.status(), 401);
    assert_eq!(old_session.get(app.url("/api/auth/me")).send().await.expect("send").status(), 401);
    let r = c
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "carl@example.com", "password": "a brand new password"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    // An expired token.
    let c = app.client();
    c.post(app.url("/api/auth/password/forgot")).json(&json!({"email": "carl@example.com"})).send().await.expect("send");
    let mails = app.mails_to("carl@example.com").await;
    let newest = token_in(&mails[0].text);
    app.clock.advance(chrono::Duration::minutes(61));
    let r = c
        .post(app.url("/api/auth/password/reset"))
        .json(&json!({"token": newest, "password": "a brand new password 2"}))
        .send()
        .await
        .expect("send");
    assert_eq!(json(r).await.1["error"]["code"], "invalid_token");
}
both!(password_reset_by_email, password_reset);

async fn api_keys_and_roles(app: TestApp) {
    let admin = app.user("admin@example.com", Role::Admin).await;
    let customer = app.user("cust@example.com", Role::Customer).await;
    let (a, a_csrf) = app.login("admin@example.com").await;
    let (c, c_csrf) = app.login("cust@example.com").await;

    // Customers reach no admin endpoint; anonymous callers are asked to sign in.
    for path in ["/api/v1/admin/users", "/api/v1/admin/audit", "/api/v1/api-keys", "/api/v1/admin/jobs/schedules", "/api/v1/admin/mailbox"]
    {
        assert_eq!(c.get(app.url(path)).send().await.expect("send").status(), 403, "{path}");
        assert_eq!(reqwest::get(app.url(path)).await.expect("send").status(), 401, "{path}");
        assert_eq!(a.get(app.url(path)).send().await.expect("send").status(), 200, "{path}");
    }
    let r = c
        .post(app.url("/api/v1/api-keys"))
        .header("x-csrf-token", &c_csrf)
        .json(&json!({"name": "x", "scopes": ["orders:read"]}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 403);

    let r = a
        .post(app.url("/api/v1/api-keys"))
        .header("x-csrf-token", &a_csrf)
        .json(&json!({"name": "warehouse scanner", "scopes": ["orders:read", "bogus"]}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 422);
    let r = a
        .post(app.url("/api/v1/api-keys"))
        .header("x-csrf-token", &a_csrf)
        .json(&json!({"name": "warehouse scanner", "scopes": ["orders:read"]}))
        .send()
        .await
        .expect("send");
    let (s, created) = json(r).await;
    assert_eq!(s, 201, "{created}");
    let key = created["key"].as_str().expect("key").to_string();
    let key_id = created["api_key"]["id"].as_str().expect("id").to_string();
    let (_, listed) = json(a.get(app.url("/api/v1/api-keys")).send().await.expect("send")).await;
    assert!(!listed.to_string().contains(&key), "the key is shown once only");

    let bearer = reqwest::Client::new();
    let (s, me) = json(bearer.get(app.url("/api/auth/me")).bearer_auth(&key).send().await.expect("send")).await;
    assert_eq!((s, me["auth"].as_str()), (200, Some("api_key")));
    assert_eq!(me["user"]["id"], admin.id.as_str());
    // A key without the admin scope does not reach admin endpoints.
    assert_eq!(bearer.get(app.url("/api/v1/admin/users")).bearer_auth(&key).send().await.expect("send").status(), 403);

    let r = a.delete(app.url(&format!("/api/v1/api-keys/{key_id}"))).header("x-csrf-token", &a_csrf).send().await.expect("send");
    assert_eq!(r.status(), 204);
    assert_eq!(bearer.get(app.url("/api/auth/me")).bearer_auth(&key).send().await.expect("send").status(), 401);
    let r = a.delete(app.url(&format!("/api/v1/api-keys/{key_id}"))).header("x-csrf-token", &a_csrf).send().await.expect("send");
    assert_eq!(r.status(), 404);
    assert_eq!(bearer.get(app.url("/api/auth/me")).bearer_auth("lsn_garbage_key").send().await.expect("send").status(), 401);

    // Roles: an admin may make a customer a creator, but not an admin.
    let url = app.url(&format!("/api/v1/admin/users/{}/role", customer.id));
    let r = a.post(&url).header("x-csrf-token", &a_csrf).json(&json!({"role": "creator"})).send().await.expect("send");
    assert_eq!(json(r).await.1["user"]["role"], "creator");
    let r = a.post(&url).header("x-csrf-token", &a_csrf).json(&json!({"role": "admin"})).send().await.expect("send");
    assert_eq!(r.status(), 403);
    let r = a.post(&url).header("x-csrf-token", &a_csrf).json(&json!({"role": "emperor"})).send().await.expect("send");
    assert_eq!(r.status(), 422);

    // Settings changes are audited with before and after.
    let r = a
        .put(app.url("/api/v1/admin/settings/shop.name"))
        .header("x-csrf-token", &a_csrf)
        .json(&json!({"value": "Mia's Live Shop"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let (_, got) = json(a.get(app.url("/api/v1/admin/settings/shop.name")).send().await.expect("send")).await;
    assert_eq!(got["value"], "Mia's Live Shop");

    let (_, audit) = json(a.get(app.url("/api/v1/admin/audit?limit=200")).send().await.expect("send")).await;
    let entries = audit["entries"].as_array().expect("entries");
    let find = |action: &str| entries.iter().find(|e| e["action"] == action).cloned();
    let role = find("user.role_change").expect("role change audited");
    assert_eq!((role["detail"]["from"].as_str(), role["detail"]["to"].as_str()), (Some("customer"), Some("creator")));
    assert_eq!(role["actor_id"], admin.id.as_str());
    assert_eq!(role["ip"], "127.0.0.1");
    assert!(find("api_key.create").is_some() && find("api_key.revoke").is_some());
    let setting = find("settings.change").expect("settings audited");
    assert_eq!(setting["detail"]["to"], "Mia's Live Shop");
}
both!(api_keys_roles_settings_audit, api_keys_and_roles);
