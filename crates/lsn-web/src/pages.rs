//! The development mailbox page and the not-found fallback (the storefront is in `site`).

use crate::app::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use lsn_core::ApiError;
use lsn_identity::MaybeUser;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/mailbox", get(mailbox))
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d1d2b;background:#fafafe}\
header{background:#2b1d5c;color:#fff;padding:1rem 1.5rem}header a{color:#fff}main{max-width:60rem;margin:2rem auto;padding:0 1rem}\
.card{background:#fff;border:1px solid #e3e1ef;border-radius:.75rem;padding:1rem 1.25rem;margin:0 0 1rem}\
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:.4rem;text-align:left;vertical-align:top}pre{white-space:pre-wrap}";

fn layout(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · LSN</title><style>{STYLE}</style></head><body><header><strong><a href=\"/\">LSN</a></strong> · Live Shopping Network</header><main>{body}</main></body></html>",
        esc(title)
    ))
}

async fn mailbox(State(s): State<AppState>, MaybeUser(user): MaybeUser) -> Response {
    let Some(user) = user else {
        return (
            StatusCode::UNAUTHORIZED,
            layout("Sign in", "<div class=\"card\"><h1>Sign in first</h1><p>The mailbox is for staff.</p></div>"),
        )
            .into_response();
    };
    if user.require_staff().is_err() {
        return (StatusCode::FORBIDDEN, layout("Forbidden", "<div class=\"card\"><h1>Staff only</h1></div>")).into_response();
    }
    let mails = match lsn_mail::list_mailbox(&s.db, None, 100).await {
        Ok(m) => m,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let mut rows = String::new();
    for m in &mails {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><details><summary>{}</summary><pre>{}</pre></details></td></tr>",
            esc(&lsn_core::clock::rfc3339(m.created_at)),
            esc(&m.to),
            esc(&m.subject),
            esc(&m.text)
        ));
    }
    let body = format!(
        "<div class=\"card\"><h1>Development mailbox</h1><p>{} message(s). Mail is kept here while no SMTP_URL or SENDGRID_API_KEY is set.</p>\
         <table><thead><tr><th>When</th><th>To</th><th>Message</th></tr></thead><tbody>{rows}</tbody></table></div>",
        mails.len()
    );
    layout("Mailbox", &body).into_response()
}

/// JSON for API paths, a friendly page for everything else.
pub async fn not_found(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        return ApiError::not_found().into_response();
    }
    crate::site::error_response(StatusCode::NOT_FOUND)
}
