//! The page chrome every domain's pages share: one layout (`templates/base.html`) and
//! stylesheet, forms that keep what was typed and show field-level messages, friendly error
//! pages, the admin shell and its tables, the embedded assets, and [`Ctx`], the request context a
//! page handler takes.
//!
//! Pages are server-rendered from compile-time-checked, auto-escaping askama templates. A
//! domain crate puts its templates in its own `templates/` folder and lists this crate's in its
//! `askama.toml` (`dirs = ["templates", "../../kernel/ui/templates"]`), so its pages extend
//! `base.html` (or `admin_base.html`) and include `field.html`.
//!
//! This crate knows no domain: who is signed in, the form token and the cart badge come from
//! the [`Session`] and [`Badge`] the app installs in [`Site`] (identity and commerce answer them).
//! Every text goes through `lsn_core::i18n` (`{{ chrome.t("key") }}` in templates).

pub mod assets;
pub mod table;

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use lsn_core::i18n::{t, DateStyle, Locale};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

pub use axum::http::StatusCode;

/// The cookie that gives a visitor without a session a form token of their own.
pub const VISITOR_COOKIE: &str = "lsn_visitor";

/// What the pages know about the shop, and who answers the questions about each visitor. The
/// app installs one as a request extension (`Extension(Arc<Site>)`).
pub struct Site {
    pub shop_name: String,
    pub timezone: chrono_tz::Tz,
    pub production: bool,
    pub session: Arc<dyn Session>,
    pub badge: Arc<dyn Badge>,
    /// The admin navigation (path, label key), set once the modules are folded.
    pub nav: OnceLock<Vec<(&'static str, &'static str)>>,
}

/// Who is visiting: the person signed in (for the header), the form token of this request and,
/// on a first visit, the visitor id to keep in [`VISITOR_COOKIE`].
pub struct Visit {
    pub chip: Option<UserChip>,
    pub csrf: String,
    pub new_visitor: Option<String>,
}

/// Answers [`Visit`] for a request (identity does: sessions, API keys, visitor tokens).
#[async_trait::async_trait]
pub trait Session: Send + Sync {
    /// The visit, or the page to answer instead (a refused credential).
    async fn visit(&self, parts: &mut Parts) -> Result<Visit, Response>;
}

/// The number on the cart link (commerce answers it).
#[async_trait::async_trait]
pub trait Badge: Send + Sync {
    async fn cart_count(&self, user_id: Option<&str>, jar: &CookieJar) -> i64;
}

/// Who is signed in, as the layout shows them.
#[derive(Debug, Clone)]
pub struct UserChip {
    pub id: String,
    pub name: String,
    pub staff: bool,
}

/// Everything a page handler needs about the request besides its domain's state.
pub struct Ctx {
    pub site: Arc<Site>,
    pub jar: CookieJar,
    /// The form token every form of the page carries.
    pub csrf: String,
    /// The request's language (chosen at the edge).
    pub locale: Locale,
    /// The page's own path and query, for the language switch to come back to.
    pub path: String,
    pub chip: Option<UserChip>,
    new_visitor: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let site = parts.extensions.get::<Arc<Site>>().cloned().ok_or_else(|| PageError::internal("no Site installed").into_response())?;
        let visit = site.session.visit(parts).await?;
        let path = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        Ok(Ctx {
            site,
            jar: CookieJar::from_headers(&parts.headers),
            csrf: visit.csrf,
            locale: lsn_core::i18n::current(),
            path,
            chip: visit.chip,
            new_visitor: visit.new_visitor,
        })
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

    /// The languages to switch to, this page's marked.
    pub fn languages(&self) -> Vec<(&'static str, &'static str, bool)> {
        Locale::all().map(|l| (l.tag(), l.name(), l == self.locale)).collect()
    }
}

/// The message a redirect asks for by name (`?notice=signed_in` → `notice-signed-in`); nothing
/// from the URL is echoed, and a name with no message shows nothing.
pub fn notice(name: Option<&str>) -> Option<String> {
    message_by_name("notice", name?)
}

/// The message `<prefix>-<name>` (underscores as dashes) when `name` is a plain lowercase name
/// and the message exists; nothing from the URL is ever shown itself.
pub(crate) fn message_by_name(prefix: &str, name: &str) -> Option<String> {
    if name.is_empty() || name.len() > 40 || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
        return None;
    }
    let key = format!("{prefix}-{}", name.replace('_', "-"));
    lsn_core::i18n::current().has(&key).then(|| t(&key))
}

impl Ctx {
    /// A moment (Unix milliseconds) in the shop's time zone, as the page's language writes it.
    pub fn local_time(&self, ms: i64, style: DateStyle) -> String {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| self.locale.datetime(&t.with_timezone(&self.site.timezone), style))
            .unwrap_or_default()
    }

    /// Whether the visitor is staff (the routes' access check has let them in already).
    pub fn is_staff(&self) -> bool {
        self.chip.as_ref().is_some_and(|c| c.staff)
    }

    pub async fn chrome(&self, title: impl Into<String>, page: &'static str, notice_name: Option<&str>) -> Chrome {
        let cart_count = self.site.badge.cart_count(self.chip.as_ref().map(|c| c.id.as_str()), &self.jar).await;
        Chrome {
            title: title.into(),
            page,
            shop_name: self.site.shop_name.clone(),
            css: assets::url("lsn.css"),
            js: assets::url("lsn.js"),
            q: String::new(),
            user: self.chip.clone(),
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

    /// A cookie for a year, HTTP-only, same-site lax, secure in production.
    pub fn cookie(&self, name: &'static str, value: String) -> Cookie<'static> {
        Cookie::build((name, value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.site.production)
            .path("/")
            .max_age(cookie::time::Duration::days(365))
            .build()
    }

    fn with_cookies(&self, mut res: Response) -> Response {
        if let Some(v) = &self.new_visitor {
            if let Ok(h) = HeaderValue::from_str(&self.cookie(VISITOR_COOKIE, v.clone()).to_string()) {
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

/// Only a local path is followed after a form (no open redirect); else `fallback`.
pub fn local_path(n: Option<&str>, fallback: &str) -> String {
    match n {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && p.len() < 200 => p.to_string(),
        _ => fallback.into(),
    }
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

/// `s` with its first letter made upper case.
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

/// Dollars as typed (`12`, `12.5`, `$12.50`) to cents, or the message for the field.
pub fn parse_dollars(s: &str) -> Result<Option<i64>, String> {
    let amount = s.trim().trim_start_matches('$').replace(',', "");
    if amount.is_empty() {
        return Ok(None);
    }
    let (whole, frac) = amount.split_once('.').unwrap_or((&amount, ""));
    let digits = |x: &str| !x.is_empty() && x.len() <= 7 && x.chars().all(|c| c.is_ascii_digit());
    if !digits(whole) || frac.len() > 2 || !(frac.is_empty() || digits(frac)) {
        return Err(t("search-bad-amount"));
    }
    let cents: i64 = format!("{frac:0<2}").parse().unwrap_or(0);
    Ok(Some(whole.parse::<i64>().unwrap_or(0) * 100 + cents))
}

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs a page's request with its id at hand for the error pages (`x-request-id`).
pub async fn with_request_id<F: std::future::Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
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

/// A page that could not be shown: answered as the error page of its status.
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

    pub fn not_found() -> Self {
        Self::status(StatusCode::NOT_FOUND)
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
fn plain_chrome(title: &str, shop_name: &str) -> Chrome {
    Chrome {
        title: title.to_string(),
        page: "error",
        shop_name: shop_name.into(),
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

/// The error page of `status`.
pub fn error_response(status: StatusCode) -> Response {
    let kind = match status.as_u16() {
        s @ (401 | 403 | 404 | 413 | 429) => s.to_string(),
        s if s >= 500 => "500".into(),
        _ => "other".into(),
    };
    let (heading, message) = (t(&format!("error-{kind}-heading")), t(&format!("error-{kind}-message")));
    let request_id = (status.is_server_error()).then(|| REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| "-".into()));
    let page = ErrorPage { chrome: plain_chrome(&heading, "LSN"), code: status.as_u16(), heading, message, request_id };
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
pub async fn offline(axum::Extension(site): axum::Extension<Arc<Site>>) -> Response {
    let chrome = plain_chrome(&t("offline-title"), &site.shop_name);
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

    #[test]
    fn notices_are_messages_by_name_only() {
        assert_eq!(notice(Some("signed_in")).as_deref(), Some("Welcome back — you're signed in."));
        assert_eq!(notice(Some("<script>")), None);
        assert_eq!(notice(Some("no_such_notice")), None);
        assert_eq!(notice(None), None);
    }

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/cart?x=1"), "/"), "/cart?x=1");
        for bad in ["https://evil.example/", "//evil.example", "/\\evil", ""] {
            assert_eq!(local_path(Some(bad), "/account"), "/account", "{bad}");
        }
    }
}
#[cfg(test)]
mod dollars {
    use super::parse_dollars;
    use proptest::prelude::*;

    proptest! {
        /// Amounts as a person types them come back as the same cents.
        #[test]
        fn dollars_round_trip(cents in 0i64..1_000_000_000) {
            let typed = format!("{}.{:02}", cents / 100, cents % 100);
            prop_assert_eq!(parse_dollars(&typed), Ok(Some(cents)));
            prop_assert_eq!(parse_dollars(&format!("${typed}")), Ok(Some(cents)));
        }

        /// Anything else is refused or read, never a panic.
        #[test]
        fn any_text_is_answered(text in ".{0,40}") {
            let _ = parse_dollars(&text);
        }
    }
}
