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
    Asset { name: "lsn.css", mime: "text/css; charset=utf-8", body: include_bytes!("../../static/lsn.css"), fingerprinted: true },
    Asset { name: "lsn.js", mime: "text/javascript; charset=utf-8", body: include_bytes!("../../static/lsn.js"), fingerprinted: true },
    Asset { name: "live.js", mime: "text/javascript; charset=utf-8", body: include_bytes!("../../static/live.js"), fingerprinted: true },
    Asset { name: "icon.svg", mime: "image/svg+xml", body: include_bytes!("../../static/icon.svg"), fingerprinted: false },
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

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprinted_names_resolve() {
        let css = super::url("lsn.css");
        assert!(css.starts_with("/static/lsn.") && css.ends_with(".css") && css.len() > "/static/lsn.css".len(), "{css}");
        assert_eq!(super::url("icon.svg"), "/static/icon.svg");
    }
}
