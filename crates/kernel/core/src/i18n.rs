//! The one translation layer every user-facing string goes through (Project Fluent). The texts
//! live in `locales/<language>/main.ftl`, compiled into the binary; English (Australia) first.

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en-AU",
        // Plain-text mail must not carry Unicode isolation marks around values.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

fn default_language() -> &'static LanguageIdentifier {
    static LANG: OnceLock<LanguageIdentifier> = OnceLock::new();
    LANG.get_or_init(|| "en-AU".parse().unwrap_or_default())
}

/// The text for `key` in the shop's language.
pub fn t(key: &str) -> String {
    LOCALES.lookup(default_language(), key)
}

/// The text for `key` with named values filled in. A value that is a whole number is passed as
/// a number, so a message can choose its plural form (`{ $count -> [one] … *[other] … }`).
pub fn t_args(key: &str, args: &[(&str, &str)]) -> String {
    let value = |v: &str| match v.parse::<i64>() {
        Ok(n) if n.to_string() == v => FluentValue::from(n),
        _ => FluentValue::from(v.to_string()),
    };
    let map: HashMap<Cow<'static, str>, FluentValue<'_>> = args.iter().map(|(k, v)| (Cow::Owned(k.to_string()), value(v))).collect();
    LOCALES.lookup_with_args(default_language(), key, &map)
}

#[cfg(test)]
mod tests {
    #[test]
    fn looks_up_and_fills_in() {
        assert_eq!(super::t("email-verify-subject"), "Confirm your email address");
        assert_eq!(super::t_args("email-order-subject", &[("number", "LSN-ABC1234")]), "Order LSN-ABC1234 confirmed");
        assert_eq!(super::t_args("summary-orders-cancelled", &[("count", "1")]), "1 unpaid order cancelled");
        assert_eq!(super::t_args("summary-orders-cancelled", &[("count", "0")]), "0 unpaid orders cancelled");
        assert_eq!(super::t_args("summary-orders-cancelled", &[("count", "12")]), "12 unpaid orders cancelled");
    }
}
