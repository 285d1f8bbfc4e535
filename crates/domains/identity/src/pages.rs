//! Identity's pages: log in, register, log out, the password reset and the language switch;
//! and what identity tells every page (`lsn_ui::Session`): who is signed in and the form token
//! of the request — the session's, or for a visitor without one the HMAC of their `lsn_visitor`
//! cookie (a first visit gets a new one).

use crate::csrf::visitor_token;
use crate::extract::{ClientMeta, MaybeUser};
use crate::service::{Identity, SESSION_COOKIE};
use crate::{AuthUser, IdentityError};
use askama::Template;
use axum::extract::{FromRef, FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use axum_extra::extract::cookie::Cookie;
use axum_extra::extract::CookieJar;
use lsn_core::i18n::{t, t_args, Locale, LOCALE_COOKIE};
use lsn_ui::{see_other, Chrome, FormState, PageError, PageResult};
use lsn_ui::{UserChip, Visit, VISITOR_COOKIE};
use serde::Deserialize;
use std::collections::HashMap;

pub struct PageSession(pub Identity);

#[async_trait::async_trait]
impl lsn_ui::Session for PageSession {
    async fn visit(&self, parts: &mut Parts) -> Result<Visit, Response> {
        let user = crate::extract::resolve(parts, &self.0).await.map_err(|e| lsn_ui::error_response(lsn_core::ApiError::from(e).status))?;
        let jar = CookieJar::from_headers(&parts.headers);
        let (csrf, new_visitor) = match (jar.get(SESSION_COOKIE), jar.get(VISITOR_COOKIE)) {
            (Some(s), _) => (self.0.csrf_for(s.value()), None),
            (None, Some(v)) => (visitor_token(&self.0, v.value()), None),
            (None, None) => {
                let v = lsn_core::ids::random_token(24);
                (visitor_token(&self.0, &v), Some(v))
            }
        };
        let chip = user.map(|u| UserChip { id: u.user.id.to_string(), name: u.user.name.clone(), staff: u.user.role.is_staff() });
        Ok(Visit { chip, csrf, new_visitor })
    }
}

/// The staff member asking: admins and owners; anyone else is sent to log in or refused.
pub fn staff(user: &Option<AuthUser>) -> Result<&AuthUser, lsn_ui::PageError> {
    match user {
        Some(u) if u.user.role.is_staff() => Ok(u),
        Some(_) => Err(lsn_ui::PageError::status(lsn_ui::StatusCode::FORBIDDEN)),
        None => Err(lsn_ui::PageError::status(lsn_ui::StatusCode::UNAUTHORIZED)),
    }
}

/// A page's answer to a refused visit: log in (401) or not allowed (403), as a page.
pub fn refusal(e: crate::IdentityError) -> Response {
    lsn_ui::error_response(lsn_core::ApiError::from(e).status)
}

/// A domain's page context: the shared one (`lsn_ui::Ctx`, through `Deref`) with the domain's
/// state (any state the router's can give, `T: FromRef<S>`), the caller and where they call
/// from. Each domain's pages name theirs (`Page<Identity>`, `Page<Commerce>`, the app's).
pub struct Page<T> {
    pub ui: lsn_ui::Ctx,
    pub state: T,
    pub user: Option<AuthUser>,
    pub meta: ClientMeta,
}

impl<T> std::ops::Deref for Page<T> {
    type Target = lsn_ui::Ctx;
    fn deref(&self) -> &lsn_ui::Ctx {
        &self.ui
    }
}

impl<S, T> FromRequestParts<S> for Page<T>
where
    S: Send + Sync,
    T: FromRef<S>,
    Identity: FromRef<S>,
{
    type Rejection = axum::response::Response;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ui = lsn_ui::Ctx::from_request_parts(parts, state).await?;
        // Resolved once per request: the page session's look-up above is reused.
        let MaybeUser(user) = MaybeUser::from_request_parts(parts, state).await.map_err(refusal)?;
        let meta = ClientMeta::from_request_parts(parts, state).await.map_err(|e| match e {})?;
        Ok(Page { ui, state: T::from_ref(state), user, meta })
    }
}

/// Identity's own pages' context.
pub type Ctx = Page<Identity>;

/// Identity's pages and forms, each with who may open or send it.
pub fn router() -> (axum::Router<Identity>, Vec<crate::access::RouteAccess>) {
    use crate::access::Access;
    let public = Access::PUBLIC;
    crate::access::Routes::new(refusal)
        .get("/login", public, login_page)
        .post("/login", public, login_submit)
        .get("/register", public, register_page)
        .post("/register", public, register_submit)
        .post("/logout", public, logout)
        .get("/password/forgot", public, forgot_page)
        .post("/password/forgot", public, forgot_submit)
        .get("/password/reset", public, reset_page)
        .post("/password/reset", public, reset_submit)
        .post("/locale", public, set_language)
        .into_parts()
}

type Fields = HashMap<String, String>;

/// Only a local path is followed after signing in (no open redirect).
fn safe_next(n: Option<&str>) -> String {
    lsn_ui::local_path(n, "/account")
}

fn form_of(f: &Fields, keep: &[&str]) -> FormState {
    FormState::new(f.iter().filter(|(k, _)| keep.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect())
}

#[derive(Deserialize, Default)]
struct NextArg {
    next: Option<String>,
    notice: Option<String>,
    token: Option<String>,
}

#[derive(Template)]
#[template(path = "login.html")]
struct Login {
    chrome: Chrome,
    form: FormState,
    next: String,
    error: Option<String>,
}

async fn login_page(ctx: Ctx, Query(a): Query<NextArg>) -> PageResult {
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

async fn login_submit(ctx: Ctx, Form(f): Form<Fields>) -> PageResult {
    let email = f.get("email").map(String::as_str).unwrap_or_default();
    let password = f.get("password").map(String::as_str).unwrap_or_default();
    let next = safe_next(f.get("next").map(String::as_str));
    let result = if email.len() > 320 || password.len() > 4096 {
        Err(IdentityError::InvalidCredentials)
    } else {
        let device = ctx.jar.get(crate::service::DEVICE_COOKIE).map(|c| c.value().to_string());
        ctx.state.login(&ctx.meta.anonymous_actor(), email, password, device.as_deref()).await
    };
    let (status, error) = match result {
        Ok((user, session)) => {
            let mut jar = crate::routes::with_session(&ctx.state, ctx.jar.clone(), &session);
            // The account's language follows the person to this browser.
            if let Ok(Some(locale)) = ctx.state.locale_of(&user.id).await {
                jar = jar.add(ctx.cookie(LOCALE_COOKIE, locale.tag().to_string()));
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

async fn register_page(ctx: Ctx) -> PageResult {
    let page =
        Register { chrome: ctx.chrome(t("register-title"), "register", None).await, form: FormState::default(), done: false, error: None };
    Ok(ctx.ok(&page))
}

async fn register_submit(ctx: Ctx, Form(f): Form<Fields>) -> PageResult {
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    let mut form = form_of(&f, &["email", "name"]);
    let (status, done, error) = match ctx.state.register(&ctx.meta.anonymous_actor(), get("email"), get("name"), get("password")).await {
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

async fn logout(ctx: Ctx) -> PageResult {
    if let Some(token) = ctx.jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) {
        let actor = ctx.user.as_ref().map(|u| u.actor()).unwrap_or_else(|| ctx.meta.anonymous_actor());
        ctx.state.logout(&actor, &token).await?;
    }
    let jar = ctx.jar.clone().remove(Cookie::build(SESSION_COOKIE).path("/").build());
    Ok(see_other(jar, "/?notice=signed_out"))
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct Forgot {
    chrome: Chrome,
    form: FormState,
    done: bool,
}

async fn forgot_page(ctx: Ctx) -> PageResult {
    let page = Forgot { chrome: ctx.chrome(t("forgot-title"), "forgot", None).await, form: FormState::default(), done: false };
    Ok(ctx.ok(&page))
}

async fn forgot_submit(ctx: Ctx, Form(f): Form<Fields>) -> PageResult {
    let email = f.get("email").map(String::as_str).unwrap_or_default();
    match ctx.state.request_password_reset(&ctx.meta.anonymous_actor(), email).await {
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

async fn reset_page(ctx: Ctx, Query(a): Query<NextArg>) -> PageResult {
    let token: String = a.token.unwrap_or_default().chars().take(200).collect();
    let page = Reset { chrome: ctx.chrome(t("reset-title"), "reset", None).await, form: FormState::default(), token, error: None };
    Ok(ctx.ok(&page))
}

async fn reset_submit(ctx: Ctx, Form(f): Form<Fields>) -> PageResult {
    let token = f.get("token").cloned().unwrap_or_default();
    let password = f.get("password").map(String::as_str).unwrap_or_default();
    let mut form = FormState::default();
    let (status, error) = match ctx.state.reset_password(&ctx.meta.anonymous_actor(), &token, password).await {
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

/// The language switch (the foot of every page, and the account page): keeps the choice in the
/// browser's cookie and, for a signed-in person, with their account; then back to the page.
/// A language LSN does not speak is refused and changes nothing.
async fn set_language(ctx: Ctx, Form(f): Form<Fields>) -> PageResult {
    let Some(locale) =
        f.get("locale").and_then(|l| Locale::parse(l)).filter(|l| f.get("locale").is_some_and(|t| t.eq_ignore_ascii_case(l.tag())))
    else {
        return Err(PageError::status(StatusCode::BAD_REQUEST));
    };
    // Kept with the account only for the person signed in: an API key changes no one's account.
    if let Some(u) = ctx.user.as_ref().filter(|u| u.session_token.is_some()) {
        ctx.state.set_locale(&u.user.id, Some(locale)).await?;
    }
    let back = safe_next(f.get("back").map(String::as_str));
    let sep = if back.contains('?') { '&' } else { '?' };
    // The notice is shown in the new language (the cookie is read by the next request).
    let back = if back.contains("notice=") { back } else { format!("{back}{sep}notice=language") };
    Ok(see_other(ctx.jar.clone().add(ctx.cookie(LOCALE_COOKIE, locale.tag().to_string())), &back))
}
