//! Australian delivery addresses: a known state or territory and a 4-digit postcode that
//! belongs to it (Australia Post's ranges).

use lsn_core::i18n;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub name: String,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub suburb: String,
    pub state: String,
    pub postcode: String,
    #[serde(default)]
    pub phone: Option<String>,
}

const RANGES: &[(&str, &[(u32, u32)])] = &[
    ("NSW", &[(1000, 1999), (2000, 2599), (2619, 2899), (2921, 2999)]),
    ("ACT", &[(200, 299), (2600, 2618), (2900, 2920)]),
    ("VIC", &[(3000, 3999), (8000, 8999)]),
    ("QLD", &[(4000, 4999), (9000, 9999)]),
    ("SA", &[(5000, 5799), (5800, 5999)]),
    ("WA", &[(6000, 6797), (6800, 6999)]),
    ("TAS", &[(7000, 7799), (7800, 7999)]),
    ("NT", &[(800, 899), (900, 999)]),
];

fn text(errors: &mut Map<String, Value>, field: &str, v: &str, max: usize, required: bool) -> String {
    let t = v.trim().to_string();
    if required && t.is_empty() {
        errors.insert(field.into(), json!(i18n::t("commerce-address-required")));
    } else if t.chars().count() > max || t.chars().any(char::is_control) {
        errors.insert(field.into(), json!(i18n::t_args("commerce-too-long", &[("max", &max.to_string())])));
    }
    t
}

impl Address {
    /// A cleaned copy, or field errors under `prefix.` (e.g. `shipping_address.postcode`).
    pub fn validate(&self, prefix: &str) -> Result<Address, Value> {
        let mut e = Map::new();
        let f = |n: &str| format!("{prefix}.{n}");
        let name = text(&mut e, &f("name"), &self.name, 100, true);
        let line1 = text(&mut e, &f("line1"), &self.line1, 120, true);
        let line2 = self.line2.as_deref().map(|l| text(&mut e, &f("line2"), l, 120, false)).filter(|l| !l.is_empty());
        let suburb = text(&mut e, &f("suburb"), &self.suburb, 60, true);
        let state = self.state.trim().to_uppercase();
        let postcode = self.postcode.trim().to_string();
        let ranges = RANGES.iter().find(|(s, _)| *s == state).map(|(_, r)| *r);
        match ranges {
            None => {
                e.insert(f("state"), json!(i18n::t("commerce-address-state")));
            }
            Some(r) => {
                if postcode.len() != 4 || !postcode.chars().all(|c| c.is_ascii_digit()) {
                    e.insert(f("postcode"), json!(i18n::t("commerce-address-postcode")));
                } else {
                    let n: u32 = postcode.parse().unwrap_or(0);
                    if !r.iter().any(|(lo, hi)| (*lo..=*hi).contains(&n)) {
                        e.insert(
                            f("postcode"),
                            json!(i18n::t_args("commerce-address-postcode-state", &[("postcode", &postcode), ("state", &state)])),
                        );
                    }
                }
            }
        }
        let phone = self.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()).map(str::to_string);
        if let Some(p) = &phone {
            if p.len() > 20 || !p.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '(' | ')' | '-')) {
                e.insert(f("phone"), json!(i18n::t("commerce-address-phone")));
            }
        }
        if e.is_empty() {
            Ok(Address { name, line1, line2, suburb, state, postcode, phone })
        } else {
            Err(Value::Object(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(state: &str, postcode: &str) -> Address {
        Address {
            name: "Ann".into(),
            line1: "1 George St".into(),
            line2: None,
            suburb: "Sydney".into(),
            state: state.into(),
            postcode: postcode.into(),
            phone: None,
        }
    }

    #[test]
    fn states_and_postcodes() {
        assert!(addr("nsw", "2000").validate("a").is_ok());
        assert!(addr("ACT", "2600").validate("a").is_ok());
        assert!(addr("NT", "0800").validate("a").is_ok());
        assert!(addr("VIC", "3000").validate("a").is_ok());
        let e = addr("VIC", "2000").validate("shipping_address").expect_err("wrong state");
        assert!(e["shipping_address.postcode"].as_str().is_some_and(|m| m.contains("not a VIC postcode")));
        assert!(addr("NSW", "200").validate("a").is_err());
        assert!(addr("NSW", "20000").validate("a").is_err());
        assert!(addr("XYZ", "2000").validate("a").expect_err("state")["a.state"].is_string());
        let mut blank = addr("NSW", "2000");
        blank.name = " ".into();
        assert!(blank.validate("a").expect_err("name")["a.name"].is_string());
    }

    #[test]
    fn messages_come_from_the_translation_files() {
        let e = addr("VIC", "0800").validate("a").expect_err("wrong state");
        assert_eq!(e["a.postcode"], "0800 is not a VIC postcode", "a leading zero is kept: the postcode is text, not a number");
        let mut long = addr("NSW", "2000");
        long.name = "x".repeat(101);
        assert_eq!(long.validate("a").expect_err("long")["a.name"], "at most 100 characters");
        assert_eq!(i18n::t("commerce-address-phone"), "digits, spaces, + ( ) - only");
        assert_eq!(i18n::t_args("commerce-max-per-order-of", &[("max", "2"), ("title", "Mug")]), "At most 2 of Mug per order.");
        assert_eq!(i18n::t_args("commerce-refund-at-most", &[("amount", "$12.50")]), "At most $12.50 can still be refunded.");
        assert_eq!(i18n::t_args("commerce-cart-quantity", &[("max", "1000000")]), "a whole number from 1 to 1000000", "no digit grouping");
        assert_eq!(i18n::t("commerce-payment-method"), "give a payment_method id (pm_…) or, in the sandbox, a test card_number");
    }

    use proptest::prelude::*;

    proptest! {
        /// Any text in any field gets an answer, never a panic.
        #[test]
        fn any_input_is_answered(name in ".{0,150}", state in ".{0,8}", postcode in ".{0,8}") {
            let mut a = addr(&state, &postcode);
            a.name = name;
            let _ = a.validate("shipping_address");
        }

        /// Every postcode in a state's ranges is accepted for that state, in any letter case.
        #[test]
        fn postcodes_in_range_pass(pick in any::<prop::sample::Index>(), offset in any::<u32>()) {
            let (state, ranges) = RANGES[pick.index(RANGES.len())];
            let (lo, hi) = ranges[(offset as usize) % ranges.len()];
            let code = lo + offset % (hi - lo + 1);
            let a = addr(&state.to_lowercase(), &format!("{code:04}"));
            prop_assert!(a.validate("a").is_ok(), "{} {:04}", state, code);
        }

        /// A postcode that is not four digits never passes.
        #[test]
        fn malformed_postcodes_fail(postcode in "[0-9]{0,3}|[0-9]{5,6}|[A-Za-z ]{4}") {
            prop_assert!(addr("NSW", &postcode).validate("a").is_err());
        }
    }
}
