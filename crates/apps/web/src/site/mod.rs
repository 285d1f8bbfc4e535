//! The shop in the browser: server-rendered pages from compile-time-checked, auto-escaping
//! askama templates (`crates/apps/web/templates`), one layout and one stylesheet. Every form
//! is a plain HTML form that works without JavaScript, validated on the server and shown
//! again with field-level messages and the user's input kept.
//!
//! CSRF: a signed-in visitor's forms carry the session's token (checked by
//! `lsn_identity::csrf::protect`); a visitor without a session gets a random `lsn_visitor`
//! cookie and their forms carry its HMAC, checked here by [`visitor_csrf`].

pub(crate) mod account;
mod admin;
pub use admin::ADMIN_NAV;
pub mod assets;
mod live;
mod shop;
#[cfg(test)]
mod text_lint;

use crate::app::AppState;
use askama::Template;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use lsn_core::i18n::{t, DateStyle, Locale};
use lsn_identity::access::{Access, RouteAccess, Routes};
use lsn_identity::csrf::{visitor_matches, visitor_token};
use lsn_identity::service::SESSION_COOKIE;
use lsn_identity::{AuthUser, ClientMeta, Identity, MaybeUser};
use std::collections::HashMap;

pub const VISITOR_COOKIE: &str = "lsn_visitor";

/// The site's pages and forms, each with who may open or send it (`lsn_identity::access`, the
/// same check as the API's), and the route table the access tests walk.
pub fn router(state: &AppState) -> (Router<AppState>, Vec<RouteAccess>) {
    use lsn_identity::access::{Access::*, Scope::*};
    let public = Access::PUBLIC;
    let buyer = Anyone(Some(OrdersWrite));
    let staff = Staff(Admin);
    let pages = Routes::new(page_refusal)
        .get("/", public, shop::home)
        .get("/shows", public, shop::shows)
        .get("/search", public, shop::search)
        .get("/p/{slug}", public, shop::product)
        .get("/cart", Anyone(Some(OrdersRead)), shop::cart)
        .post("/cart/add", buyer, shop::cart_add)
        .post("/cart/update", buyer, shop::cart_update)
        .get("/checkout", buyer, shop::checkout_page)
        .post("/checkout", buyer, shop::checkout_submit)
        .get("/orders/{number}", Anyone(Some(OrdersRead)), shop::order_page)
        .get("/orders/{number}/pay", buyer, shop::pay_page)
        .post("/orders/{number}/pay", buyer, shop::pay_submit)
        .get("/shows/{id}", public, live::show_page)
        .post("/shows/{id}/start", Creator(LiveWrite), live::start)
        .post("/shows/{id}/end", Creator(LiveWrite), live::end)
        .post("/shows/{id}/chat", SignedIn(Some(LiveWrite)), live::chat)
        .get("/deals/{id}/buy", buyer, shop::deal_page)
        .post("/deals/{id}/buy", buyer, shop::deal_submit)
        .get("/admin", staff, admin::dashboard)
        .get("/admin/orders", staff, admin::orders)
        .get("/admin/orders/{number}", staff, admin::order)
        .post("/admin/orders/{number}/refund", staff, admin::refund)
        .post("/admin/orders/{number}/status", staff, admin::order_status)
        .get("/admin/products", staff, admin::products)
        .get("/admin/products/{id}", staff, admin::product)
        .post("/admin/products/{id}/status", staff, admin::product_status)
        .post("/admin/products/{id}/stock", staff, admin::product_stock)
        .post("/admin/products/{id}/price", staff, admin::product_price)
        .post("/admin/products/{id}/images", staff, admin::product_image)
        .get("/admin/shows", staff, admin::shows)
        .get("/admin/users", staff, admin::users)
        .post("/admin/users/{id}/role", staff, admin::user_role)
        .get("/admin/api-keys", staff, admin::api_keys)
        // Only a person signed in mints a key: no key can mint another.
        .post("/admin/api-keys", StaffSession, admin::api_key_create)
        .post("/admin/api-keys/{id}/revoke", staff, admin::api_key_revoke)
        .get("/admin/audit", staff, admin::audit)
        .get("/admin/jobs", staff, admin::jobs)
        .get("/admin/mailbox", staff, admin::mailbox)
        .get("/login", public, account::login_page)
        .post("/login", public, account::login_submit)
        .get("/register", public, account::register_page)
        .post("/register", public, account::register_submit)
        .post("/logout", public, account::logout)
        // A visitor who is not signed in is sent to log in (and back) by the page itself.
        .get("/account", public, account::account)
        .post("/account/password", Session, account::change_password)
        .get("/password/forgot", public, account::forgot_page)
        .post("/password/forgot", public, account::forgot_submit)
        .get("/password/reset", public, account::reset_page)
        .post("/password/reset", public, account::reset_submit)
        .post("/locale", public, account::set_language);
    let assets = Routes::new(page_refusal)
        .get("/static/{file}", public, assets::serve)
        .get("/sw.js", public, assets::service_worker)
        .get("/manifest.webmanifest", public, assets::manifest)
        .get("/offline", public, offline);
    let (pages, mut table) = pages.into_parts();
    let (assets, asset_table) = assets.into_parts();
    table.extend(asset_table);
    let router = pages
        .layer(middleware::from_fn_with_state(state.identity.clone(), visitor_csrf))
        .layer(middleware::from_fn(request_scope))
        .merge(assets);
    (router, table)
}

/// A page's answer to a refused visit: log in (401) or not allowed (403), as a page.
fn page_refusal(e: lsn_identity::IdentityError) -> Response {
    error_response(lsn_core::ApiError::from(e).status)
}

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Keeps the request id at hand for the error pages.
async fn request_scope(req: Request, next: Next) -> Response {
    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
    REQUEST_ID.scope(id, next.run(req)).await
}

/// Refuses a form post without a session unless it carries the visitor cookie's token.
async fn visitor_csrf(State(id): State<Identity>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || lsn_identity::extract::bearer_key(req.headers()).is_some() {
        return next.run(req).await;
    }
    let jar = CookieJar::from_headers(req.headers());
    if jar.get(SESSION_COOKIE).is_some() {
        return next.run(req).await; // checked by lsn_identity::csrf::protect
    }
    let visitor = jar.get(VISITOR_COOKIE).map(|c| c.value().to_string());
    let Some((req, token)) = lsn_identity::csrf::form_token(req).await else {
        return PageError::status(StatusCode::PAYLOAD_TOO_LARGE).into_response();
    };
    match (visitor, token) {
        (Some(v), Some(t)) if visitor_matches(&id, &v, &t) => next.run(req).await,
        _ => PageError::status(StatusCode::FORBIDDEN).into_response(),
    }
}

/// Everything a page handler needs about the request.
pub struct Ctx {
    pub s: AppState,
    pub user: Option<AuthUser>,
    pub jar: CookieJar,
    pub meta: ClientMeta,
    pub csrf: String,
    /// The request's language (chosen at the edge, `app::language`).
    pub locale: Locale,
    /// The page's own path and query, for the language switch to come back to.
    pub path: String,
    new_visitor: Option<String>,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let MaybeUser(user) = MaybeUser::from_request_parts(parts, state).await.map_err(page_refusal)?;
        let meta = ClientMeta::from_request_parts(parts, state).await.map_err(|e| match e {})?;
        let jar = CookieJar::from_headers(&parts.headers);
        let (csrf, new_visitor) = match (jar.get(SESSION_COOKIE), jar.get(VISITOR_COOKIE)) {
            (Some(s), _) => (state.identity.csrf_for(s.value()), None),
            (None, Some(v)) => (visitor_token(&state.identity, v.value()), None),
            (None, None) => {
                let v = lsn_core::ids::random_token(24);
                (visitor_token(&state.identity, &v), Some(v))
            }
        };
        let path = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        Ok(Ctx { s: state.clone(), user, jar, meta, csrf, locale: lsn_core::i18n::current(), path, new_visitor })
    }
}

/// What the layout shows around every page.
pub struct Chrome {
    pub title: String,
    pub page: &'static str,
    pub shop_name: String,
    pub css: String,
    pub js: String,
    pub q: String,
    pub user: Option<UserChip>,
    pub csrf: String,
    pub cart_count: i64,
    pub notice: Option<String>,
    pub locale: Locale,
    /// Where the language switch sends the visitor back to.
    pub back: String,
}

impl Chrome {
    /// The page's text for `key` in the page's language (templates: `{{ chrome.t("key") }}`).
    pub fn t(&self, key: &str) -> String {
        if key.is_empty() {
            return String::new();
        }
        self.locale.t(key)
    }

    /// The text for `key` with one named value.
    pub fn t1(&self, key: &str, name: &str, value: impl std::fmt::Display) -> String {
        self.locale.t_args(key, &[(name, &value.to_string())])
    }

    /// The text for `key` with two named values.
    pub fn t2(&self, key: &str, n1: &str, v1: impl std::fmt::Display, n2: &str, v2: impl std::fmt::Display) -> String {
        self.locale.t_args(key, &[(n1, &v1.to_string()), (n2, &v2.to_string())])
    }

    /// The languages to switch to, this page's first.
    pub fn languages(&self) -> Vec<(&'static str, &'static str, bool)> {
        Locale::all().map(|l| (l.tag(), l.name(), l == self.locale)).collect()
    }
}

pub struct UserChip {
    pub name: String,
    pub staff: bool,
}

/// Messages a redirect can ask for by name (`?notice=added`); nothing from the URL is echoed.
fn notice(name: Option<&str>) -> Option<String> {
    let key = match name? {
        "added" => "notice-added",
        "updated" => "notice-updated",
        "signed_in" => "notice-signed-in",
        "signed_out" => "notice-signed-out",
        "password" => "notice-password",
        "password_changed" => "notice-password-changed",
        "language" => "notice-language",
        _ => return None,
    };
    Some(t(key))
}

impl Ctx {
    /// A moment (Unix milliseconds) in the shop's time zone, as the page's language writes it.
    pub fn local_time(&self, ms: i64, style: DateStyle) -> String {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| self.locale.datetime(&t.with_timezone(&self.s.cfg.timezone), style))
            .unwrap_or_default()
    }

    pub fn owner(&self) -> lsn_commerce::cart::Owner {
        lsn_commerce::routes::owner(&self.user, &self.jar)
    }

    pub async fn chrome(&self, title: impl Into<String>, page: &'static str, notice_name: Option<&str>) -> Chrome {
        let cart_count = match lsn_commerce::cart::resolve(&self.s.db, self.s.clock.now_ms(), &self.owner(), false).await {
            Ok((Some(id), _)) => lsn_commerce::cart::item_count(&self.s.db, &id).await.unwrap_or(0),
            _ => 0,
        };
        Chrome {
            title: title.into(),
            page,
            shop_name: self.s.cfg.shop_name.clone(),
            css: assets::url("lsn.css"),
            js: assets::url("lsn.js"),
            q: String::new(),
            user: self.user.as_ref().map(|u| UserChip { name: u.user.name.clone(), staff: u.user.role.is_staff() }),
            csrf: self.csrf.clone(),
            cart_count,
            notice: notice(notice_name),
            locale: self.locale,
            back: self.path.clone(),
        }
    }

    /// Renders `t` with `status`, adding the visitor cookie when this is a first visit.
    pub fn render<T: Template>(&self, status: StatusCode, t: &T) -> Response {
        match t.render() {
            Ok(html) => self.with_cookies((status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()),
            Err(e) => PageError::internal(e).into_response(),
        }
    }

    pub fn ok<T: Template>(&self, t: &T) -> Response {
        self.render(StatusCode::OK, t)
    }

    fn with_cookies(&self, mut res: Response) -> Response {
        if let Some(v) = &self.new_visitor {
            let c = Cookie::build((VISITOR_COOKIE, v.clone()))
                .http_only(true)
                .same_site(SameSite::Lax)
                .secure(self.s.cfg.is_production())
                .path("/")
                .max_age(cookie::time::Duration::days(365))
                .build();
            if let Ok(h) = HeaderValue::from_str(&c.to_string()) {
                res.headers_mut().append(header::SET_COOKIE, h);
            }
        }
        res
    }
}

/// `303 See Other` to `to`, with the cookies of `jar` (a POST's answer).
pub fn see_other(jar: CookieJar, to: &str) -> Response {
    (jar, Redirect::to(to)).into_response()
}

/// A form's submitted values and its field errors.
#[derive(Default)]
pub struct FormState {
    pub values: HashMap<String, String>,
    pub errors: HashMap<String, String>,
}

impl FormState {
    pub fn new(values: HashMap<String, String>) -> Self {
        Self { values, errors: HashMap::new() }
    }

    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or_default()
    }

    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(String::as_str)
    }

    pub fn has_error(&self, name: &str) -> bool {
        self.errors.contains_key(name)
    }

    /// Takes the field messages of a validation error (`shipping_address.postcode` → `postcode`).
    pub fn absorb(&mut self, fields: Option<&serde_json::Value>) {
        if let Some(serde_json::Value::Object(m)) = fields {
            for (k, v) in m {
                let name = k.rsplit('.').next().unwrap_or(k).to_string();
                let text = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                self.errors.insert(name, sentence(&text));
            }
        }
    }
}

pub fn sentence(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// An amount of the shop's currency in the page's language.
pub fn money(minor: i64) -> String {
    lsn_core::i18n::money(lsn_core::money::Money::aud(minor))
}

/// An error page: friendly text, the status, and for internal errors the request id only.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    code: u16,
    heading: String,
    message: String,
    request_id: Option<String>,
}

pub struct PageError {
    status: StatusCode,
}

impl PageError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!("page failed: {e}");
        Self { status: StatusCode::INTERNAL_SERVER_ERROR }
    }

    pub fn status(status: StatusCode) -> Self {
        Self { status }
    }
}

impl<E: std::fmt::Display> From<E> for PageError
where
    E: Into<lsn_core::ApiError>,
{
    fn from(e: E) -> Self {
        let api: lsn_core::ApiError = e.into();
        if api.status.is_server_error() {
            tracing::error!(code = api.code, "page failed: {}", api.message);
        }
        Self { status: api.status }
    }
}

/// A layout with no per-visitor parts, for error pages.
fn plain_chrome(title: &str) -> Chrome {
    Chrome {
        title: title.to_string(),
        page: "error",
        shop_name: "LSN".into(),
        css: assets::url("lsn.css"),
        js: assets::url("lsn.js"),
        q: String::new(),
        user: None,
        csrf: String::new(),
        cart_count: 0,
        notice: None,
        locale: lsn_core::i18n::current(),
        back: "/".into(),
    }
}

pub fn error_response(status: StatusCode) -> Response {
    let kind = match status.as_u16() {
        s @ (401 | 403 | 404 | 413 | 429) => s.to_string(),
        s if s >= 500 => "500".into(),
        _ => "other".into(),
    };
    let (heading, message) = (t(&format!("error-{kind}-heading")), t(&format!("error-{kind}-message")));
    let request_id = (status.is_server_error()).then(|| REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| "-".into()));
    let page = ErrorPage { chrome: plain_chrome(&heading), code: status.as_u16(), heading, message, request_id };
    match page.render() {
        Ok(html) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(_) => (status, page.heading).into_response(),
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        error_response(self.status)
    }
}

pub type PageResult = Result<Response, PageError>;

#[derive(Template)]
#[template(path = "offline.html")]
struct Offline {
    chrome: Chrome,
}

/// The page the service worker shows offline: the same for everyone, so it can be cached.
async fn offline(State(s): State<AppState>) -> Response {
    let mut chrome = plain_chrome(&t("offline-title"));
    chrome.shop_name = s.cfg.shop_name.clone();
    match (Offline { chrome }).render() {
        Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(e) => PageError::internal(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_errors_show_only_the_request_id() {
        let res = REQUEST_ID.scope("req-123".to_string(), async { PageError::internal("secret table is corrupt").into_response() }).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.expect("body");
        let html = String::from_utf8_lossy(&body);
        assert!(html.contains("req-123") && html.contains("Something went wrong"), "{html}");
        assert!(!html.contains("secret table"), "no internal text");
    }

    #[test]
    fn form_state_takes_nested_field_errors() {
        let mut f = FormState::default();
        f.absorb(Some(&serde_json::json!({"shipping_address.postcode": "2000 is not a VIC postcode"})));
        assert_eq!(f.error("postcode"), Some("2000 is not a VIC postcode"));
        assert!(!f.has_error("state"));
    }
}
