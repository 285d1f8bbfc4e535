//! Static files embedded in the binary. CSS and JS are served under fingerprinted names
//! (`lsn.<hash>.css`) with a year-long immutable cache; the pages link the current names.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;

struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static [u8],
    fingerprinted: bool,
}

const FILES: &[Asset] = &[
    Asset { name: "lsn.css", mime: "text/css; charset=utf-8", body: include_bytes!("../static/lsn.css"), fingerprinted: true },
    Asset { name: "lsn.js", mime: "text/javascript; charset=utf-8", body: include_bytes!("../static/lsn.js"), fingerprinted: true },
    Asset { name: "live.js", mime: "text/javascript; charset=utf-8", body: include_bytes!("../static/live.js"), fingerprinted: true },
    Asset { name: "icon-192.png", mime: "image/png", body: include_bytes!("../static/icon-192.png"), fingerprinted: false },
    Asset { name: "icon-512.png", mime: "image/png", body: include_bytes!("../static/icon-512.png"), fingerprinted: false },
    Asset { name: "stripe.js", mime: "text/javascript; charset=utf-8", body: include_bytes!("../static/stripe.js"), fingerprinted: true },
    Asset { name: "icon.svg", mime: "image/svg+xml", body: include_bytes!("../static/icon.svg"), fingerprinted: false },
];

/// The public name of an embedded file: `lsn.css` → `lsn.1a2b3c4d5e.css`.
fn public_name(a: &Asset) -> String {
    if !a.fingerprinted {
        return a.name.to_string();
    }
    let hash = lsn_core::ids::hash_token(&String::from_utf8_lossy(a.body));
    let short: String = hash.chars().filter(char::is_ascii_alphanumeric).take(10).collect();
    match a.name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{short}.{ext}"),
        None => format!("{}.{short}", a.name),
    }
}

fn names() -> &'static Vec<(String, usize)> {
    static NAMES: OnceLock<Vec<(String, usize)>> = OnceLock::new();
    NAMES.get_or_init(|| FILES.iter().enumerate().map(|(i, a)| (public_name(a), i)).collect())
}

/// The URL of an embedded file by its plain name (`lsn.css`).
pub fn url(name: &str) -> String {
    FILES
        .iter()
        .position(|a| a.name == name)
        .and_then(|i| names().iter().find(|(_, j)| *j == i))
        .map(|(n, _)| format!("/static/{n}"))
        .unwrap_or_else(|| format!("/static/{name}"))
}

pub async fn serve(Path(file): Path<String>) -> Response {
    let Some(a) = names().iter().find(|(n, _)| *n == file).map(|(_, i)| &FILES[*i]) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let cache = if a.fingerprinted { "public, max-age=31536000, immutable" } else { "public, max-age=3600" };
    ([(header::CONTENT_TYPE, a.mime), (header::CACHE_CONTROL, cache)], a.body).into_response()
}

const SERVICE_WORKER: &[u8] = include_bytes!("../static/sw.js");

/// The service worker, served from the root so it may control every page.
pub async fn service_worker() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], SERVICE_WORKER).into_response()
}

/// The web app manifest (installable on phones and desktops).
pub async fn manifest(axum::Extension(site): axum::Extension<std::sync::Arc<crate::Site>>) -> Response {
    let body = serde_json::json!({
        "name": site.shop_name,
        "short_name": site.shop_name.chars().take(12).collect::<String>(),
        "description": lsn_core::i18n::t("manifest-description"),
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#f6f5fb",
        "theme_color": "#5b2ee0",
        "icons": [
            {"src": "/static/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any maskable"},
            {"src": "/static/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any maskable"},
            {"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml"}
        ]
    });
    ([(header::CONTENT_TYPE, "application/manifest+json"), (header::CACHE_CONTROL, "public, max-age=3600")], body.to_string())
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprinted_names_resolve() {
        let css = super::url("lsn.css");
        assert!(css.starts_with("/static/lsn.") && css.ends_with(".css") && css.len() > "/static/lsn.css".len(), "{css}");
        assert_eq!(super::url("icon.svg"), "/static/icon.svg");
    }
}
