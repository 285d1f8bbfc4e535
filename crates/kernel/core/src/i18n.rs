//! The one translation layer every user-facing string goes through (Project Fluent). The texts
//! live in `locales/<language>/main.ftl`, compiled into the binary; English (Australia) is the
//! one complete language, and a language file only needs the messages it changes: a message it
//! lacks falls back to English (Australia).
//!
//! A request chooses its [`Locale`] once at the edge (the visitor's `lsn_locale` cookie, which
//! signing in and the account page set from the account's language, then `Accept-Language`,
//! then the shop's default) and runs inside [`scope`]; [`t`], [`t_args`], [`money`] and
//! [`datetime`] then answer in that language without the locale being passed down through every
//! domain. Work outside a request (jobs, mail, the CLI) gets the shop's default language.
//!
//! Numbers, money and date patterns are messages too (`number-*`, `money-*`, `date-*`), so a new
//! language brings its own formats as a file, without code.

use crate::money::{Currency, Money};
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

/// The languages LSN speaks, as (BCP 47 tag, its own name). The first is the default.
pub const SUPPORTED: &[(&str, &str)] = &[("en-AU", "English (Australia)"), ("en-US", "English (United States)")];

/// The cookie that carries a visitor's chosen language.
pub const LOCALE_COOKIE: &str = "lsn_locale";

/// One of [`SUPPORTED`]; `Locale::default()` is the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Locale(usize);

fn language(i: usize) -> &'static LanguageIdentifier {
    static LANGS: OnceLock<Vec<LanguageIdentifier>> = OnceLock::new();
    let all = LANGS.get_or_init(|| SUPPORTED.iter().map(|(tag, _)| tag.parse().unwrap_or_default()).collect());
    &all[i.min(all.len() - 1)]
}

impl Locale {
    /// The supported locale `tag` names: exactly (case-insensitive), or else the first
    /// supported locale of the same language (`en` or `en-GB` → `en-AU`).
    pub fn parse(tag: &str) -> Option<Locale> {
        let tag = tag.trim();
        if tag.is_empty() || tag.len() > 35 {
            return None;
        }
        if let Some(i) = SUPPORTED.iter().position(|(t, _)| t.eq_ignore_ascii_case(tag)) {
            return Some(Locale(i));
        }
        let lang = tag.split(['-', '_']).next().unwrap_or_default();
        SUPPORTED.iter().position(|(t, _)| t.split('-').next().is_some_and(|l| l.eq_ignore_ascii_case(lang))).map(Locale)
    }

    /// The best supported locale for an `Accept-Language` header: its languages in order of
    /// their `q` weights (ties keep the header's order; `q=0` means "not this one").
    pub fn from_accept_language(header: &str) -> Option<Locale> {
        let mut wanted: Vec<(u16, usize, &str)> = header
            .split(',')
            .take(20)
            .enumerate()
            .filter_map(|(i, part)| {
                let mut bits = part.split(';');
                let tag = bits.next()?.trim();
                let q = bits.find_map(|b| b.trim().strip_prefix("q=").map(|q| q.trim().parse::<f32>().unwrap_or(0.0))).unwrap_or(1.0);
                let weight = (q.clamp(0.0, 1.0) * 1000.0) as u16;
                (weight > 0 && tag != "*").then_some((weight, i, tag))
            })
            .collect();
        wanted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        wanted.into_iter().find_map(|(_, _, tag)| Locale::parse(tag))
    }

    /// The locale a request asks for: its cookie's choice, else its `Accept-Language`, else
    /// the default.
    pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>) -> Locale {
        cookie.and_then(Locale::parse).or_else(|| accept_language.and_then(Locale::from_accept_language)).unwrap_or_default()
    }

    pub fn tag(self) -> &'static str {
        SUPPORTED[self.0.min(SUPPORTED.len() - 1)].0
    }

    /// The language's own name for itself, for the language switch.
    pub fn name(self) -> &'static str {
        SUPPORTED[self.0.min(SUPPORTED.len() - 1)].1
    }

    pub fn all() -> impl Iterator<Item = Locale> {
        (0..SUPPORTED.len()).map(Locale)
    }

    pub fn t(self, key: &str) -> String {
        LOCALES.lookup(language(self.0), key)
    }

    pub fn t_args(self, key: &str, args: &[(&str, &str)]) -> String {
        // Fluent keeps numbers as f64: only a whole number it holds exactly is passed as one (a
        // title such as "12345678901234567" or "0800" stays text, digit for digit).
        let value = |v: &str| match v.parse::<i64>() {
            Ok(n) if n.to_string() == v && n.unsigned_abs() < (1 << 53) => FluentValue::from(n),
            _ => FluentValue::from(v.to_string()),
        };
        let map: HashMap<Cow<'static, str>, FluentValue<'_>> = args.iter().map(|(k, v)| (Cow::Owned(k.to_string()), value(v))).collect();
        LOCALES.lookup_with_args(language(self.0), key, &map)
    }

    /// Whether this locale's files (or English's, by fallback) have a message `key`.
    pub fn has(self, key: &str) -> bool {
        // A message that needs values is there too: looked up without them it answers a
        // formatting error, where a missing one answers "couldn't retrieve".
        [language(self.0), language(0)].into_iter().any(|lang| match LOCALES.lookup_single_language::<&str>(lang, key, None) {
            Ok(_) => true,
            Err(e) => e.to_string().starts_with("Fluent errors"),
        })
    }

    /// A whole number with this locale's digit grouping (`1,234,567`).
    pub fn number(self, n: u64) -> String {
        let group = self.t("number-group");
        let digits = n.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 * group.len());
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push_str(&group);
            }
            out.push(c);
        }
        out
    }

    /// An amount as this locale writes it (`$1,234.50` in Australia, `A$1,234.50` in the US).
    pub fn money(self, m: Money) -> String {
        let a = m.minor.unsigned_abs();
        let amount = format!("{}{}{:02}", self.number(a / 100), self.t("number-decimal"), a % 100);
        let sign = if m.minor < 0 { "-" } else { "" };
        let key = match m.currency {
            Currency::Aud => "money-aud",
            Currency::Usd => "money-usd",
        };
        self.t_args(key, &[("sign", sign), ("amount", &amount)])
    }

    /// A moment in `tz`, in this locale's pattern for `style`.
    pub fn datetime<Tz: chrono::TimeZone>(self, at: &chrono::DateTime<Tz>, style: DateStyle) -> String
    where
        Tz::Offset: std::fmt::Display,
    {
        let pattern = self.t(style.key());
        // A pattern chrono cannot read must not panic a page: fall back to the ISO form.
        let items: Vec<_> = chrono::format::StrftimeItems::new(&pattern).collect();
        if items.iter().any(|i| matches!(i, chrono::format::Item::Error)) {
            return at.to_rfc3339();
        }
        at.format_with_items(items.into_iter()).to_string()
    }
}

/// How much of a moment a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// A day: `1 Dec 2026`.
    Date,
    /// A day and a time: `1 Dec 2026, 2:30 pm`.
    DateTime,
    /// A coming day without the year, with its weekday: `Tue 1 Dec, 2:30 pm`.
    Upcoming,
    /// A time of day: `2:30 pm`.
    Time,
    /// A time of day to the second: `2:30:05 pm`.
    TimeSeconds,
}

impl DateStyle {
    fn key(self) -> &'static str {
        match self {
            DateStyle::Date => "date-date",
            DateStyle::DateTime => "date-datetime",
            DateStyle::Upcoming => "date-upcoming",
            DateStyle::Time => "date-time",
            DateStyle::TimeSeconds => "date-time-seconds",
        }
    }
}

tokio::task_local! {
    static CURRENT: Locale;
}

/// Runs `fut` with `locale` as the language of everything it says.
pub async fn scope<F: std::future::Future>(locale: Locale, fut: F) -> F::Output {
    CURRENT.scope(locale, fut).await
}

/// The language of the work in progress (the request's, or the default outside one).
pub fn current() -> Locale {
    CURRENT.try_with(|l| *l).unwrap_or_default()
}

/// The text for `key` in the current language.
pub fn t(key: &str) -> String {
    current().t(key)
}

/// The text for `key` with named values filled in. A value that is a whole number is passed as
/// a number, so a message can choose its plural form (`{ $count -> [one] … *[other] … }`).
pub fn t_args(key: &str, args: &[(&str, &str)]) -> String {
    current().t_args(key, args)
}

/// An amount in the current language's format.
pub fn money(m: Money) -> String {
    current().money(m)
}

/// A moment in the current language's pattern for `style`.
pub fn datetime<Tz: chrono::TimeZone>(at: &chrono::DateTime<Tz>, style: DateStyle) -> String
where
    Tz::Offset: std::fmt::Display,
{
    current().datetime(at, style)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_and_fills_in() {
        assert_eq!(t("mail-reset-subject"), "Reset your password");
        assert_eq!(t_args("mail-order-subject", &[("number", "LSN-ABC1234")]), "Order LSN-ABC1234 confirmed");
        assert_eq!(t_args("summary-orders-cancelled", &[("count", "1")]), "1 unpaid order cancelled");
        assert_eq!(t_args("summary-orders-cancelled", &[("count", "0")]), "0 unpaid orders cancelled");
        assert_eq!(t_args("summary-orders-cancelled", &[("count", "12")]), "12 unpaid orders cancelled");
    }

    #[test]
    fn chooses_the_locale_from_cookie_then_header() {
        let us = Locale::parse("en-US").expect("supported");
        assert_eq!(Locale::negotiate(None, None), Locale::default());
        assert_eq!(Locale::negotiate(None, Some("en-US,en;q=0.8")), us);
        assert_eq!(Locale::negotiate(None, Some("fr-FR, en-US;q=0.5, en-AU;q=0.9")).tag(), "en-AU");
        assert_eq!(Locale::negotiate(None, Some("de, en-us;q=0.1")), us, "case-insensitive, low weights still count");
        assert_eq!(Locale::negotiate(None, Some("en-US;q=0")), Locale::default(), "q=0 refuses");
        assert_eq!(Locale::negotiate(None, Some("en-GB")).tag(), "en-AU", "same language");
        assert_eq!(Locale::negotiate(Some("en-US"), Some("en-AU")), us, "the visitor's choice wins");
        assert_eq!(Locale::negotiate(Some("xx-bogus"), Some("en-US")), us, "an unknown cookie is ignored");
        assert_eq!(Locale::negotiate(None, Some(";;;,q=,\u{0}")), Locale::default());
    }

    #[test]
    fn formats_money_numbers_and_dates_per_locale() {
        let au = Locale::default();
        let us = Locale::parse("en-US").expect("supported");
        assert_eq!(au.money(Money::aud(123456789)), "$1,234,567.89");
        assert_eq!(au.money(Money::aud(-5)), "-$0.05");
        assert_eq!(us.money(Money::aud(129900)), "A$1,299.00");
        assert_eq!(au.money(Money::aud(i64::MIN)), "-$92,233,720,368,547,758.08");
        let at = chrono::DateTime::from_timestamp(1_796_135_400, 0).expect("valid").with_timezone(&chrono_tz::Australia::Sydney);
        assert_eq!(au.datetime(&at, DateStyle::Date), "2 Dec 2026");
        assert_eq!(us.datetime(&at, DateStyle::Date), "Dec 2, 2026");
        assert_eq!(au.datetime(&at, DateStyle::Time), "1:30 am");
    }

    #[test]
    fn long_numbers_and_leading_zeros_stay_as_written() {
        let l = Locale::default();
        assert_eq!(l.t_args("replay-chat", &[("name", "12345678901234567"), ("text", "0800")]), "12345678901234567: 0800");
        assert_eq!(l.t_args("replay-chat", &[("name", "-9007199254740993"), ("text", "7")]), "-9007199254740993: 7");
    }

    #[tokio::test]
    async fn a_scope_sets_the_language_of_everything_inside() {
        let us = Locale::parse("en-US").expect("supported");
        assert_eq!(current(), Locale::default());
        let inside = scope(us, async { (current(), money(Money::aud(100))) }).await;
        assert_eq!(inside, (us, "A$1.00".to_string()));
        assert_eq!(money(Money::aud(100)), "$1.00");
    }

    #[test]
    fn every_language_has_every_message_of_the_complete_one() {
        // By fallback a partial file still answers every key English (Australia) has; and a
        // file may not add a key English lacks (it would be a typo or a dead text).
        let keys = keys_of("en-AU");
        assert!(keys.len() > 300, "{} keys", keys.len());
        for l in Locale::all() {
            for k in &keys {
                assert!(l.has(k), "{} lacks {k}", l.tag());
            }
            for k in keys_of(l.tag()) {
                assert!(keys.contains(&k), "{} has {k}, which en-AU lacks", l.tag());
            }
        }
    }

    /// The message keys of every file of `tag`'s directory.
    fn keys_of(tag: &str) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales").join(tag);
        let mut keys = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("locale directory") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "ftl") {
                keys.extend(message_keys(&std::fs::read_to_string(&path).expect("readable")));
            }
        }
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "a key is defined twice in {tag}");
        keys
    }

    fn message_keys(ftl: &str) -> Vec<String> {
        ftl.lines()
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
            .filter_map(|l| l.split_once(" =").map(|(k, _)| k.trim().to_string()))
            .collect()
    }
}
