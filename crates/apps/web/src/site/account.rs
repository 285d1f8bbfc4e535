//! Account pages: log in, register, log out, password reset, the customer's orders.

use super::shop::status_label;
use super::{money, see_other, Chrome, Ctx, FormState, PageError, PageResult};
use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::Form;
use axum_extra::extract::cookie::Cookie;
use lsn_core::i18n::{t, t_args, DateStyle, Locale, LOCALE_COOKIE};
use lsn_identity::service::SESSION_COOKIE;
use lsn_identity::IdentityError;
use serde::Deserialize;
use std::collections::HashMap;

type Fields = HashMap<String, String>;

#[derive(Deserialize, Default)]
pub struct NextArg {
    next: Option<String>,
    notice: Option<String>,
    token: Option<String>,
}

/// Only a local path is followed after signing in (no open redirect).
fn safe_next(n: Option<&str>) -> String {
    match n {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && p.len() < 200 => p.to_string(),
        _ => "/account".into(),
    }
}

fn form_of(f: &Fields, keep: &[&str]) -> FormState {
    FormState::new(f.iter().filter(|(k, _)| keep.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect())
}

#[derive(Template)]
#[template(path = "login.html")]
struct Login {
    chrome: Chrome,
    form: FormState,
    next: String,
    error: Option<String>,
}

pub async fn login_page(ctx: Ctx, Query(a): Query<NextArg>) -> PageResult {
    if ctx.user.is_some() {
        return Ok(see_other(ctx.jar.clone(), &safe_next(a.next.as_deref())));
    }
    let page = Login {
        chrome: ctx.chrome(t("login-title"), "login", a.notice.as_deref()).await,
        form: FormState::default(),
        next: safe_next(a.next.as_deref()),
        error: None,
    };
    Ok(ctx.ok(&page))
}

pub async fn login_submit(ctx: Ctx, Form(f): Form<Fields>) -> PageResult {
    let email = f.get("email").map(String::as_str).unwrap_or_default();
    let password = f.get("password").map(String::as_str).unwrap_or_default();
    let next = safe_next(f.get("next").map(String::as_str));
    let result = if email.len() > 320 || password.len() > 4096 {
        Err(IdentityError::InvalidCredentials)
    } else {
        let device = ctx.jar.get(lsn_identity::service::DEVICE_COOKIE).map(|c| c.value().to_string());
        ctx.s.identity.login(&ctx.meta.anonymous_actor(), email, password, device.as_deref()).await
    };
    let (status, error) = match result {
        Ok((user, session)) => {
            let mut jar = lsn_identity::routes::with_session(&ctx.s.identity, ctx.jar.clone(), &session);
            // The account's language follows the person to this browser.
            if let Ok(Some(locale)) = ctx.s.identity.locale_of(&user.id).await {
                jar = jar.add(locale_cookie(&ctx, locale));
            }
            return Ok(see_other(jar, &next));
        }
        Err(IdentityError::InvalidCredentials) => (StatusCode::UNAUTHORIZED, t("login-no-match")),
        Err(IdentityError::NotVerified) => (StatusCode::FORBIDDEN, t("login-not-verified")),
        Err(IdentityError::RateLimited { retry_after_secs }) => {
            (StatusCode::TOO_MANY_REQUESTS, t_args("login-rate-limited", &[("minutes", &retry_after_secs.div_ceil(60).max(1).to_string())]))
        }
        Err(IdentityError::Busy) => (StatusCode::SERVICE_UNAVAILABLE, t("login-busy")),
        Err(e) => return Err(PageError::from(e)),
    };
    let page = Login { chrome: ctx.chrome(t("login-title"), "login", None).await, form: form_of(&f, &["email"]), next, error: Some(error) };
    Ok(ctx.render(status, &page))
}

#[derive(Template)]
#[template(path = "register.html")]
struct Register {
    chrome: Chrome,
    form: FormState,
    done: bool,
    error: Option<String>,
}

pub async fn register_page(ctx: Ctx) -> PageResult {
    let page =
        Register { chrome: ctx.chrome(t("register-title"), "register", None).await, form: FormState::default(), done: false, error: None };
    Ok(ctx.ok(&page))
}

pub async fn register_submit(ctx: Ctx, Form(f): Form<Fields>) -> PageResult {
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    let mut form = form_of(&f, &["email", "name"]);
    let (status, done, error) = match ctx.s.identity.register(&ctx.meta.anonymous_actor(), get("email"), get("name"), get("password")).await
    {
        Ok(()) => (StatusCode::OK, true, None),
        Err(IdentityError::Validation(fields)) => {
            form.absorb(Some(&fields));
            (StatusCode::UNPROCESSABLE_ENTITY, false, Some(t("checkout-check-fields")))
        }
        Err(IdentityError::RateLimited { .. }) => (StatusCode::TOO_MANY_REQUESTS, false, Some(t("register-rate-limited"))),
        Err(e) => return Err(PageError::from(e)),
    };
    let page = Register { chrome: ctx.chrome(t("register-title"), "register", None).await, form, done, error };
    Ok(ctx.render(status, &page))
}

pub async fn logout(ctx: Ctx) -> PageResult {
    if let Some(token) = ctx.jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) {
        let actor = ctx.user.as_ref().map(|u| u.actor()).unwrap_or_else(|| ctx.meta.anonymous_actor());
        ctx.s.identity.logout(&actor, &token).await?;
    }
    let jar = ctx.jar.clone().remove(Cookie::build(SESSION_COOKIE).path("/").build());
    Ok(see_other(jar, "/?notice=signed_out"))
}

pub struct OrderRow {
    number: String,
    placed: String,
    status: String,
    status_label: String,
    total: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct Account {
    chrome: Chrome,
    email: String,
    orders: Vec<OrderRow>,
    addresses: Vec<Vec<String>>,
    form: FormState,
    error: Option<String>,
}

/// An address as lines of text.
pub fn address_lines(a: &serde_json::Value) -> Vec<String> {
    let s = |k: &str| a[k].as_str().unwrap_or_default().trim().to_string();
    [s("name"), s("line1"), s("line2"), format!("{} {} {}", s("suburb"), s("state"), s("postcode")).trim().to_string()]
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect()
}

pub async fn account(ctx: Ctx, Query(a): Query<NextArg>) -> PageResult {
    account_page(&ctx, a.notice.as_deref(), FormState::default(), None).await
}

async fn account_page(ctx: &Ctx, notice: Option<&str>, form: FormState, error: Option<String>) -> PageResult {
    let Some(user) = &ctx.user else {
        return Ok(see_other(ctx.jar.clone(), "/login?next=/account"));
    };
    let orders = ctx.s.commerce.orders(Some(&user.user.id), None, None, 50).await?;
    // The distinct addresses of their orders, newest first.
    let mut addresses: Vec<Vec<String>> = Vec::new();
    for o in &orders {
        let lines = address_lines(&o.shipping_address);
        if !lines.is_empty() && !addresses.contains(&lines) && addresses.len() < 6 {
            addresses.push(lines);
        }
    }
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = Account {
        addresses,
        form,
        error,
        chrome: ctx.chrome(t("account-title"), "account", notice).await,
        email: user.user.email.clone().unwrap_or_default(),
        orders: orders
            .iter()
            .map(|o| OrderRow {
                number: o.number.clone(),
                placed: ctx.local_time(o.placed_at, DateStyle::Date),
                status: o.status.to_string(),
                status_label: status_label(o.status.as_str()),
                total: money(o.total),
            })
            .collect(),
    };
    Ok(ctx.render(status, &page))
}

pub async fn change_password(ctx: Ctx, Form(f): Form<Fields>) -> PageResult {
    let Some(user) = &ctx.user else {
        return Ok(see_other(ctx.jar.clone(), "/login?next=/account"));
    };
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    let keep = ctx.jar.get(SESSION_COOKIE).map(|c| c.value().to_string());
    match ctx.s.identity.change_password(&user.actor(), &user.user.id, get("current_password"), get("password"), keep.as_deref()).await {
        Ok(()) => Ok(see_other(ctx.jar.clone(), "/account?notice=password_changed")),
        Err(IdentityError::Validation(fields)) => {
            let mut form = FormState::default();
            form.absorb(Some(&fields));
            account_page(&ctx, None, form, Some(t("account-password-unchanged"))).await
        }
        Err(e) => Err(PageError::from(e)),
    }
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct Forgot {
    chrome: Chrome,
    form: FormState,
    done: bool,
}

pub async fn forgot_page(ctx: Ctx) -> PageResult {
    let page = Forgot { chrome: ctx.chrome(t("forgot-title"), "forgot", None).await, form: FormState::default(), done: false };
    Ok(ctx.ok(&page))
}

pub async fn forgot_submit(ctx: Ctx, Form(f): Form<Fields>) -> PageResult {
    let email = f.get("email").map(String::as_str).unwrap_or_default();
    match ctx.s.identity.request_password_reset(&ctx.meta.anonymous_actor(), email).await {
        // The same answer whether or not the address has an account.
        Ok(()) | Err(IdentityError::Validation(_)) | Err(IdentityError::NotFound) => {}
        Err(IdentityError::RateLimited { .. }) => return Err(PageError::status(StatusCode::TOO_MANY_REQUESTS)),
        Err(e) => return Err(PageError::from(e)),
    }
    let page = Forgot { chrome: ctx.chrome(t("forgot-title"), "forgot", None).await, form: form_of(&f, &["email"]), done: true };
    Ok(ctx.ok(&page))
}

#[derive(Template)]
#[template(path = "reset.html")]
struct Reset {
    chrome: Chrome,
    form: FormState,
    token: String,
    error: Option<String>,
}

pub async fn reset_page(ctx: Ctx, Query(a): Query<NextArg>) -> PageResult {
    let token: String = a.token.unwrap_or_default().chars().take(200).collect();
    let page = Reset { chrome: ctx.chrome(t("reset-title"), "reset", None).await, form: FormState::default(), token, error: None };
    Ok(ctx.ok(&page))
}

pub async fn reset_submit(ctx: Ctx, Form(f): Form<Fields>) -> PageResult {
    let token = f.get("token").cloned().unwrap_or_default();
    let password = f.get("password").map(String::as_str).unwrap_or_default();
    let mut form = FormState::default();
    let (status, error) = match ctx.s.identity.reset_password(&ctx.meta.anonymous_actor(), &token, password).await {
        Ok(()) => return Ok(see_other(ctx.jar.clone(), "/login?notice=password")),
        Err(IdentityError::Validation(fields)) => {
            form.absorb(Some(&fields));
            (StatusCode::UNPROCESSABLE_ENTITY, None)
        }
        Err(IdentityError::InvalidToken) => (StatusCode::BAD_REQUEST, Some(t("reset-invalid-link"))),
        Err(e) => return Err(PageError::from(e)),
    };
    let page = Reset { chrome: ctx.chrome(t("reset-title"), "reset", None).await, form, token: token.chars().take(200).collect(), error };
    Ok(ctx.render(status, &page))
}

/// The browser's language cookie, for a year.
fn locale_cookie(ctx: &Ctx, locale: Locale) -> Cookie<'static> {
    Cookie::build((LOCALE_COOKIE, locale.tag()))
        .http_only(true)
        .same_site(axum_extra::extract::cookie::SameSite::Lax)
        .secure(ctx.s.cfg.is_production())
        .path("/")
        .max_age(cookie::time::Duration::days(365))
        .build()
}

/// The language switch (the foot of every page, and the account page): keeps the choice in the
/// browser's cookie and, for a signed-in person, with their account; then back to the page.
/// A language LSN does not speak is refused and changes nothing.
pub async fn set_language(ctx: Ctx, Form(f): Form<Fields>) -> PageResult {
    let Some(locale) =
        f.get("locale").and_then(|l| Locale::parse(l)).filter(|l| f.get("locale").is_some_and(|t| t.eq_ignore_ascii_case(l.tag())))
    else {
        return Err(PageError::status(StatusCode::BAD_REQUEST));
    };
    // Kept with the account only for the person signed in: an API key changes no one's account.
    if let Some(u) = ctx.user.as_ref().filter(|u| u.session_token.is_some()) {
        ctx.s.identity.set_locale(&u.user.id, Some(locale)).await?;
    }
    let back = safe_next(f.get("back").map(String::as_str));
    let sep = if back.contains('?') { '&' } else { '?' };
    // The notice is shown in the new language (the cookie is read by the next request).
    let back = if back.contains("notice=") { back } else { format!("{back}{sep}notice=language") };
    Ok(see_other(ctx.jar.clone().add(locale_cookie(&ctx, locale)), &back))
}
