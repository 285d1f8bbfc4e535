//! The feature vector an order is scored on: the contract between the live scoring code, which
//! fills it in from its counters at checkout, and the model ([`crate::model`]), which was
//! trained on the same vector. The names and their order are fixed: a stored model records the
//! list it was trained on and is refused when it differs from [`FEATURES`].
//!
//! | # | name | what it holds | transform |
//! |---|------|---------------|-----------|
//! | 0 | `orders_customer_1h` | orders by this customer (account or e-mail) in the last hour, before this one | count |
//! | 1 | `orders_device_1h` | orders from this browser or device in the last hour | count |
//! | 2 | `orders_network_1h` | orders from this IP network in the last hour | count |
//! | 3 | `declines_24h` | declined payment attempts by this customer or device in 24 h | count |
//! | 4 | `cards_24h` | distinct card fingerprints tried by this customer or device in 24 h | count |
//! | 5 | `country_mismatch` | 0/1: billing, shipping and network countries not all the same | flag |
//! | 6 | `first_order` | 0/1: the customer's first order | flag |
//! | 7 | `order_total_dollars` | the order total in dollars | dollars |
//! | 8 | `disposable_email` | 0/1: the e-mail's domain is a disposable-mail service | flag |
//! | 9 | `accounts_per_address_30d` | distinct customers shipping to this address in 30 days | count |
//! | 10 | `accounts_per_device_30d` | distinct customers from this device in 30 days | count |
//! | 11 | `reshipper_address` | 0/1: a known freight forwarder or reshipper address | flag |
//! | 12 | `quantity` | units of one item in the order | count |
//! | 13 | `account_age_days` | the account's age in days, 0 for a guest | days |
//! | 14 | `limited_offer` | 0/1: a flash deal, auction or other limited-stock offer | flag |
//! | 15 | `discount_share` | 0..1: the discount divided by the subtotal | share |
//!
//! [`Features::transformed`] is what the model sees: every value that is not a finite number
//! becomes 0, then counts are clamped to 0..=10,000, dollars to 0..=1,000,000 and days to
//! 0..=36,500 and each is `ln(1 + x)`; flags and shares are clamped to 0..=1. So a transformed
//! vector is always finite and bounded, whatever the counters said.

use serde::{Deserialize, Serialize};

/// How many features there are.
pub const N: usize = 16;

/// The feature names, in the order of the vector (see the module's table).
pub const FEATURES: &[&str] = &[
    "orders_customer_1h",
    "orders_device_1h",
    "orders_network_1h",
    "declines_24h",
    "cards_24h",
    "country_mismatch",
    "first_order",
    "order_total_dollars",
    "disposable_email",
    "accounts_per_address_30d",
    "accounts_per_device_30d",
    "reshipper_address",
    "quantity",
    "account_age_days",
    "limited_offer",
    "discount_share",
];

const _: () = assert!(FEATURES.len() == N);

/// Orders by this customer (account or e-mail) in the last hour, before this one.
pub const ORDERS_CUSTOMER_1H: usize = 0;
/// Orders from this browser or device in the last hour.
pub const ORDERS_DEVICE_1H: usize = 1;
/// Orders from this IP network in the last hour.
pub const ORDERS_NETWORK_1H: usize = 2;
/// Declined payment attempts by this customer or device in 24 hours.
pub const DECLINES_24H: usize = 3;
/// Distinct card fingerprints tried by this customer or device in 24 hours.
pub const CARDS_24H: usize = 4;
/// 0/1: the billing, shipping and network countries are not all the same.
pub const COUNTRY_MISMATCH: usize = 5;
/// 0/1: the customer's first order.
pub const FIRST_ORDER: usize = 6;
/// The order total in dollars.
pub const ORDER_TOTAL_DOLLARS: usize = 7;
/// 0/1: the e-mail's domain is a disposable-mail service.
pub const DISPOSABLE_EMAIL: usize = 8;
/// Distinct customers shipping to this address in 30 days.
pub const ACCOUNTS_PER_ADDRESS_30D: usize = 9;
/// Distinct customers from this device in 30 days.
pub const ACCOUNTS_PER_DEVICE_30D: usize = 10;
/// 0/1: a known freight forwarder or reshipper address.
pub const RESHIPPER_ADDRESS: usize = 11;
/// Units of one item in the order.
pub const QUANTITY: usize = 12;
/// The account's age in days, 0 for a guest.
pub const ACCOUNT_AGE_DAYS: usize = 13;
/// 0/1: a flash deal, auction or other limited-stock offer.
pub const LIMITED_OFFER: usize = 14;
/// 0..1: the discount divided by the subtotal.
pub const DISCOUNT_SHARE: usize = 15;

/// How a raw value is brought into the model's range.
#[derive(Clone, Copy)]
enum Kind {
    /// A count of events: clamped to 0..=10,000, then `ln(1 + x)`.
    Count,
    /// 0 or 1: clamped to 0..=1.
    Flag,
    /// An amount in dollars: clamped to 0..=1,000,000, then `ln(1 + x)`.
    Dollars,
    /// A fraction: clamped to 0..=1.
    Share,
    /// An age in days: clamped to 0..=36,500, then `ln(1 + x)`.
    Days,
}

const KINDS: [Kind; N] = [
    Kind::Count,
    Kind::Count,
    Kind::Count,
    Kind::Count,
    Kind::Count,
    Kind::Flag,
    Kind::Flag,
    Kind::Dollars,
    Kind::Flag,
    Kind::Count,
    Kind::Count,
    Kind::Flag,
    Kind::Count,
    Kind::Days,
    Kind::Flag,
    Kind::Share,
];

impl Kind {
    fn transform(self, raw: f64) -> f64 {
        let x = if raw.is_finite() { raw } else { 0.0 };
        match self {
            Kind::Count => x.clamp(0.0, 10_000.0).ln_1p(),
            Kind::Dollars => x.clamp(0.0, 1_000_000.0).ln_1p(),
            Kind::Days => x.clamp(0.0, 36_500.0).ln_1p(),
            Kind::Flag | Kind::Share => x.clamp(0.0, 1.0),
        }
    }
}

/// The index of a feature by its name.
pub fn index(name: &str) -> Option<usize> {
    FEATURES.iter().position(|f| *f == name)
}

/// One order's raw feature values, indexed by the constants of this module (serialized as a
/// JSON array in the order of [`FEATURES`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Features(pub [f64; N]);

impl Features {
    /// The raw value of the feature called `name`, or `None` for a name not in [`FEATURES`].
    pub fn get(&self, name: &str) -> Option<f64> {
        index(name).map(|i| self.0[i])
    }

    /// The vector the model sees: non-finite values as 0, counts, dollars and days clamped and
    /// log1p-scaled, flags and shares clamped to 0..=1 (see the module's doc). Always finite.
    pub fn transformed(&self) -> [f64; N] {
        let mut out = [0.0; N];
        for (i, o) in out.iter_mut().enumerate() {
            *o = KINDS[i].transform(self.0[i]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_indices_agree() {
        let pairs = [
            (ORDERS_CUSTOMER_1H, "orders_customer_1h"),
            (ORDERS_DEVICE_1H, "orders_device_1h"),
            (ORDERS_NETWORK_1H, "orders_network_1h"),
            (DECLINES_24H, "declines_24h"),
            (CARDS_24H, "cards_24h"),
            (COUNTRY_MISMATCH, "country_mismatch"),
            (FIRST_ORDER, "first_order"),
            (ORDER_TOTAL_DOLLARS, "order_total_dollars"),
            (DISPOSABLE_EMAIL, "disposable_email"),
            (ACCOUNTS_PER_ADDRESS_30D, "accounts_per_address_30d"),
            (ACCOUNTS_PER_DEVICE_30D, "accounts_per_device_30d"),
            (RESHIPPER_ADDRESS, "reshipper_address"),
            (QUANTITY, "quantity"),
            (ACCOUNT_AGE_DAYS, "account_age_days"),
            (LIMITED_OFFER, "limited_offer"),
            (DISCOUNT_SHARE, "discount_share"),
        ];
        assert_eq!(pairs.len(), N);
        for (i, name) in pairs {
            assert_eq!(FEATURES[i], name);
            assert_eq!(index(name), Some(i));
        }
    }

    #[test]
    fn get_by_name() {
        let mut f = Features::default();
        f.0[DECLINES_24H] = 7.0;
        assert_eq!(f.get("declines_24h"), Some(7.0));
        assert_eq!(f.get("quantity"), Some(0.0));
        assert_eq!(f.get("no_such_feature"), None);
    }

    #[test]
    fn transformed_is_finite_and_bounded() {
        let wild = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -5.0, 1e300, 0.5, 3.0];
        for v in wild {
            let t = Features([v; N]).transformed();
            for (i, x) in t.iter().enumerate() {
                assert!(x.is_finite(), "{} from {v} is {x}", FEATURES[i]);
                assert!((0.0..=14.0).contains(x), "{} from {v} is {x}", FEATURES[i]);
            }
        }
        let t = Features([f64::NAN; N]).transformed();
        assert_eq!(t, [0.0; N], "non-finite inputs become 0");
    }

    #[test]
    fn transform_scales_counts_and_clamps_flags() {
        let mut f = Features::default();
        f.0[DECLINES_24H] = 9.0;
        f.0[ORDER_TOTAL_DOLLARS] = 1_000_000_000.0;
        f.0[COUNTRY_MISMATCH] = 4.0;
        f.0[DISCOUNT_SHARE] = -0.3;
        let t = f.transformed();
        assert!((t[DECLINES_24H] - 10f64.ln()).abs() < 1e-12);
        assert!((t[ORDER_TOTAL_DOLLARS] - 1_000_001f64.ln()).abs() < 1e-9);
        assert_eq!(t[COUNTRY_MISMATCH], 1.0);
        assert_eq!(t[DISCOUNT_SHARE], 0.0);
    }

    #[test]
    fn json_is_an_array_in_feature_order() {
        let mut f = Features::default();
        f.0[QUANTITY] = 3.0;
        let json = serde_json::to_string(&f).expect("json");
        assert!(json.starts_with('['), "{json}");
        let back: Features = serde_json::from_str(&json).expect("features");
        assert_eq!(back, f);
    }
}
