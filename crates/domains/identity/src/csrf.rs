//! CSRF protection for cookie-authenticated requests.
//!
//! A state-changing request (POST, PUT, PATCH, DELETE) that carries the session cookie and no
//! `Bearer` API key must present the session's CSRF token, in the `X-CSRF-Token` header or, for HTML
//! forms, the `csrf_token` field (for file-upload forms, a `csrf_token` query parameter). The token is an HMAC of the session token under `JWT_SECRET`,
//! so checking it needs no lookup. Any unsafe request whose `Origin` names another site is
//! refused too (this covers sign-in forms, which have no session yet).

use crate::service::{Identity, SESSION_COOKIE};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use lsn_core::ApiError;

const FORM_LIMIT: usize = 1024 * 1024;

fn refused() -> Response {
    ApiError::new(axum::http::StatusCode::FORBIDDEN, "csrf_failed", lsn_core::i18n::t("identity-csrf")).into_response()
}

/// Whether `origin` is this shop (its public URL, or the host the request was sent to).
pub fn same_origin(origin: &str, host: Option<&str>, public_url: &str) -> bool {
    if origin == public_url.trim_end_matches('/') {
        return true;
    }
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
    host.is_some_and(|h| h == origin_host)
}

pub async fn protect(State(id): State<Identity>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE) {
        return next.run(req).await;
    }
    if let Some(origin) = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok());
        if origin != "null" && !same_origin(origin, host, &id.cfg.public_url) {
            return refused();
        }
    }
    // A request that presents an API key is judged by the key alone (the cookies are not
    // read); any other `Authorization` header changes nothing.
    if crate::extract::bearer_key(req.headers()).is_some() {
        return next.run(req).await;
    }
    let jar = CookieJar::from_headers(req.headers());
    let Some(session) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
        return next.run(req).await;
    };
    if let Some(t) = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()) {
        return if id.csrf_matches(&session, t) { next.run(req).await } else { refused() };
    }
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    // A file upload form carries its token in the action's query (its body is not read here).
    if content_type.starts_with("multipart/form-data") {
        let token = url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "csrf_token")
            .map(|(_, v)| v.into_owned());
        return match token {
            Some(t) if id.csrf_matches(&session, &t) => next.run(req).await,
            _ => refused(),
        };
    }
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return refused();
    }
    let Some((req, token)) = form_token(req).await else {
        return ApiError::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", lsn_core::i18n::t("identity-form-too-large"))
            .into_response();
    };
    match token {
        Some(t) if id.csrf_matches(&session, &t) => next.run(req).await,
        _ => refused(),
    }
}

/// Reads the `csrf_token` field of a URL-encoded form and gives the request back with its body
/// intact; `None` when the form is over 1 MiB.
pub async fn form_token(req: Request) -> Option<(Request, Option<String>)> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT).await.ok()?;
    let token = url::form_urlencoded::parse(&bytes).find(|(k, _)| k == "csrf_token").map(|(_, v)| v.into_owned());
    Some((Request::from_parts(parts, Body::from(bytes)), token))
}

/// The CSRF token of a visitor without a session (the HMAC of their visitor cookie's value).
pub fn visitor_token(id: &Identity, visitor: &str) -> String {
    id.csrf_for(&format!("visitor:{visitor}"))
}

/// Whether `presented` is the CSRF token of the visitor cookie `visitor` (constant time).
pub fn visitor_matches(id: &Identity, visitor: &str, presented: &str) -> bool {
    id.csrf_matches(&format!("visitor:{visitor}"), presented)
}

#[cfg(test)]
mod tests {
    #[test]
    fn origins() {
        assert!(super::same_origin("http://localhost:3000", Some("localhost:3000"), "http://x"));
        assert!(super::same_origin("https://shop.example", None, "https://shop.example/"));
        assert!(!super::same_origin("https://evil.example", Some("shop.example"), "https://shop.example"));
    }
}
