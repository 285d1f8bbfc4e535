//! The translation lint: no user-facing text is written straight into a template (it goes
//! through `chrome.t("key")`), and every message key the pages and the code name exists.

use lsn_core::i18n::Locale;
use std::path::{Path, PathBuf};

/// The attributes whose values a person reads (or hears, from a screen reader).
const READ_ATTRIBUTES: &[&str] = &["placeholder", "aria-label", "title", "alt", "label"];

/// What in `template` is text written in a language instead of a message key: text between
/// tags, the values of read attributes, and string literals given to `{% let … %}`.
pub fn hard_coded_text(template: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut html = without_blocks(template, "{#", "#}");
    for tag in ["script", "style"] {
        html = without_blocks(&html, &format!("<{tag}"), &format!("</{tag}>"));
    }
    // String literals in template code: a key or a code is lowercase without spaces.
    for code in between(&html, "{%", "%}") {
        for literal in code.split('"').skip(1).step_by(2) {
            if literal.chars().any(|c| c.is_uppercase() || c == ' ') && literal.chars().any(char::is_alphabetic) {
                found.push(format!("literal \"{literal}\" in {{%{code}%}}"));
            }
        }
    }
    let html = without_blocks(&without_blocks(&html, "{{", "}}"), "{%", "%}");
    let mut rest = html.as_str();
    while let Some(open) = rest.find('<') {
        check_text(&rest[..open], &mut found);
        let Some(close) = rest[open..].find('>') else { break };
        check_tag(&rest[open + 1..open + close], &mut found);
        rest = &rest[open + close + 1..];
    }
    check_text(rest, &mut found);
    found
}

/// Whether `text` has a word in it (two letters in a row; `A-01-1` or `×` are not words).
fn has_word(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.windows(2).any(|w| w[0].is_alphabetic() && w[1].is_alphabetic())
}

fn check_text(text: &str, found: &mut Vec<String>) {
    let text = without_entities(text);
    if has_word(&text) {
        found.push(format!("text \"{}\"", text.trim()));
    }
}

fn check_tag(tag: &str, found: &mut Vec<String>) {
    for attr in READ_ATTRIBUTES {
        let mut rest = tag;
        while let Some(at) = rest.find(&format!("{attr}=\"")) {
            let before = rest[..at].chars().last();
            let value_at = at + attr.len() + 2;
            let end = rest[value_at..].find('"').map_or(rest.len(), |e| value_at + e);
            let value = &rest[value_at..end];
            if before.is_none_or(|c| c.is_whitespace()) && has_word(&without_entities(value)) {
                found.push(format!("{attr}=\"{value}\""));
            }
            rest = &rest[end..];
        }
    }
}

fn without_entities(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        match rest[amp..].find(';').filter(|semi| *semi < 10) {
            Some(semi) => rest = &rest[amp + semi + 1..],
            None => {
                out.push('&');
                rest = &rest[amp + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` with every `open … close` block replaced by a space.
fn without_blocks(text: &str, open: &str, close: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(a) = rest.find(open) {
        out.push_str(&rest[..a]);
        out.push(' ');
        match rest[a..].find(close) {
            Some(b) => rest = &rest[a + b + close.len()..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(a) = rest.find(open) {
        let Some(b) = rest[a + open.len()..].find(close) else { break };
        out.push(&rest[a + open.len()..a + open.len() + b]);
        rest = &rest[a + open.len() + b + close.len()..];
    }
    out
}

/// The keys named as the first string argument of `marker`, e.g. `t("` or `chrome.t1("`.
fn keys_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(a) = rest.find(marker) {
        let before = rest[..a].chars().last();
        rest = &rest[a + marker.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `format!(`, `print(` …
        }
        if let Some(end) = rest.find('"') {
            let key = &rest[..end];
            // Every message key has a section prefix (`cart-…`).
            if key.contains('-') && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
                out.push(key);
            }
        }
    }
    out
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every template of every crate (`crates/*/*/templates/**.html`).
fn templates() -> Vec<PathBuf> {
    let mut all = Vec::new();
    files(&crate_dir().join("../.."), "html", &mut all);
    all.retain(|p| p.components().any(|c| c.as_os_str() == "templates"));
    all
}

#[test]
fn the_lint_finds_hard_coded_text_and_passes_keys() {
    assert!(hard_coded_text(r#"<p>{{ chrome.t("x") }}</p><input placeholder="{{ chrome.t("y") }}">"#).is_empty());
    assert!(hard_coded_text(r#"<p>{{ a }} · {{ b }} — &nbsp;</p>{# A comment #}<script>let a = "Hi";</script>"#).is_empty());
    assert!(hard_coded_text(r#"{% let name = "email" %}{% if x == "live" %}<b>{{ n }}</b>{% endif %}"#).is_empty());
    assert_eq!(hard_coded_text("<h1>Your cart</h1>").len(), 1);
    assert_eq!(hard_coded_text(r#"<input placeholder="Search products">"#).len(), 1);
    assert_eq!(hard_coded_text(r#"<span aria-label="{{ n }} items">"#).len(), 1);
    assert_eq!(hard_coded_text(r#"{% let label = "Full name" %}"#).len(), 1);
    assert_eq!(hard_coded_text("{% if a %}Live now{% endif %}").len(), 1);
}

#[test]
fn no_template_has_hard_coded_text() {
    let templates = templates();
    assert!(templates.len() > 20, "found {} templates", templates.len());
    let mut problems = Vec::new();
    for path in &templates {
        let text = std::fs::read_to_string(path).expect("readable template");
        for p in hard_coded_text(&text) {
            problems.push(format!("{}: {p}", path.file_name().unwrap_or_default().to_string_lossy()));
        }
    }
    assert!(problems.is_empty(), "text to move into locales/en-AU/pages.ftl:\n{}", problems.join("\n"));
}

#[test]
fn every_message_key_named_in_pages_and_code_exists() {
    let root = crate_dir().join("../..");
    let mut sources = templates();
    files(&root, "rs", &mut sources);
    let en = Locale::default();
    let mut missing = Vec::new();
    let mut named = 0;
    // Keys the code names as data rather than in a call: the admin tables' column headings and
    // empty-table texts (translated by the template) and the admin navigation's labels.
    let mut dynamic: Vec<String> = Vec::new();
    for path in &sources {
        let text = std::fs::read_to_string(path).expect("readable source");
        for marker in ["t(\"", "t_args(\"", "t1(\"", "t2(\"", "chrome(t(\""] {
            for key in keys_after(&text, marker) {
                named += 1;
                if !en.has(key) {
                    missing.push(format!("{}: {key}", path.display()));
                }
            }
        }
        if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("text_lint.rs") {
            // The code, not its tests' fixtures.
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            for list in between(text, "columns: vec![", "]") {
                dynamic.extend(list.split('"').skip(1).step_by(2).filter(|k| !k.is_empty()).map(str::to_string));
            }
            dynamic.extend(keys_after(text, "empty: \"").into_iter().map(str::to_string));
            // `.nav("/admin/…", "admin-nav-…")`: the second literal is the label's key.
            for args in between(text, ".nav(\"/admin", ")") {
                dynamic.extend(args.split('"').nth(2).filter(|k| !k.is_empty()).map(str::to_string));
            }
        }
    }
    assert!(named > 300, "only {named} keys named");
    assert!(dynamic.iter().any(|k| k == "admin-nav-shows"), "the navigation keys are read: {dynamic:?}");
    // Keys put together at run time.
    for kind in ["401", "403", "404", "413", "429", "500", "other"] {
        dynamic.push(format!("error-{kind}-heading"));
        dynamic.push(format!("error-{kind}-message"));
    }
    dynamic.extend(lsn_commerce::orders::OrderStatus::ALL.iter().map(|s| format!("order-status-{}", s.as_str())));
    dynamic.extend(lsn_commerce::pricing::shipping_options(0).iter().map(|o| format!("shipping-{}", o.code)));
    dynamic.extend(["scheduled", "live", "ended"].iter().map(|s| format!("show-status-{s}")));
    dynamic.extend(lsn_live::gifts::GIFTS.iter().map(|(g, _)| format!("gift-{g}")));
    for nav in [super::ADMIN_NAV, lsn_commerce::admin::NAV, lsn_identity::admin::NAV] {
        dynamic.extend(nav.iter().map(|(_, key)| key.to_string()));
    }
    dynamic.extend(lsn_live::pages::SCRIPT_KEYS.iter().map(|(key, _)| format!("live-js-{key}")));
    for key in dynamic {
        if !en.has(&key) {
            missing.push(format!("(built at run time): {key}"));
        }
    }
    assert!(missing.is_empty(), "message keys with no text:\n{}", missing.join("\n"));
}
