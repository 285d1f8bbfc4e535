//! Money is an integer count of minor units plus an ISO 4217 currency. No floats.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    #[serde(rename = "AUD")]
    Aud,
    #[serde(rename = "USD")]
    Usd,
}

impl Currency {
    pub fn code(self) -> &'static str {
        match self {
            Currency::Aud => "AUD",
            Currency::Usd => "USD",
        }
    }

    /// The largest single amount LSN takes at its edge in this currency — a price, a bid, a
    /// discount, a refund: 1,000,000.00 (`docs/errors.md`, `amount_out_of_range`).
    pub fn max_amount(self) -> i64 {
        match self {
            Currency::Aud | Currency::Usd => MAX_AMOUNT,
        }
    }
}

/// The largest single amount in AUD cents ($1,000,000.00); see [`Currency::max_amount`].
pub const MAX_AMOUNT: i64 = 100_000_000;

/// The largest sum LSN computes ($100,000,000,000.00, room for a full cart of the dearest
/// items: 100 lines of 999 at the largest amount): past it a checkout is refused with
/// `amount_out_of_range` instead of any sum being allowed to wrap.
pub const MAX_ORDER_TOTAL: i64 = 10_000_000_000_000;

/// An amount that does not fit the bounds, or arithmetic that would leave them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfRange;

impl fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "amount out of range")
    }
}

impl std::error::Error for OutOfRange {}

/// `minor` as an amount typed at the edge: a whole number of cents from `min` to the
/// currency's maximum, or the message to show for the field.
pub fn bounded(minor: i64, min: i64, currency: Currency) -> Result<i64, String> {
    let max = currency.max_amount();
    if (min..=max).contains(&minor) {
        Ok(minor)
    } else {
        let amount = Money { minor: max, currency }.to_string();
        Err(crate::i18n::t_args("money-bounded", &[("min", &min.to_string()), ("max", &max.to_string()), ("amount", &amount)]))
    }
}

/// A checked sum of amounts: `OutOfRange` past `i64` or past [`MAX_ORDER_TOTAL`].
pub fn checked_sum(parts: impl IntoIterator<Item = i64>) -> Result<i64, OutOfRange> {
    let mut total: i64 = 0;
    for p in parts {
        total = total.checked_add(p).ok_or(OutOfRange)?;
    }
    if total.abs() > MAX_ORDER_TOTAL {
        return Err(OutOfRange);
    }
    Ok(total)
}

/// `unit × quantity`, checked.
pub fn checked_times(unit: i64, quantity: i64) -> Result<i64, OutOfRange> {
    let t = unit.checked_mul(quantity).ok_or(OutOfRange)?;
    if t.abs() > MAX_ORDER_TOTAL {
        return Err(OutOfRange);
    }
    Ok(t)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn aud(minor: i64) -> Self {
        Self { minor, currency: Currency::Aud }
    }

    /// The GST (10 %) contained in a GST-inclusive amount: one eleventh, rounded half away
    /// from zero to the cent. This is the single rounding rule LSN uses for tax.
    pub fn gst_included(self) -> Money {
        // In i128: no amount's tax can overflow, whatever its size.
        let m = i128::from(self.minor);
        let q = (m.abs() * 10 + 55) / 110;
        let q = i64::try_from(q).unwrap_or(i64::MAX);
        Money { minor: if m < 0 { -q } else { q }, currency: self.currency }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let a = self.minor.unsigned_abs();
        write!(f, "{sign}${}.{:02}", a / 100, a % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_computes_gst() {
        assert_eq!(Money::aud(12345).to_string(), "$123.45");
        assert_eq!(Money::aud(-5).to_string(), "-$0.05");
        assert_eq!(Money::aud(1100).gst_included().minor, 100);
        assert_eq!(Money::aud(1000).gst_included().minor, 91);
        assert_eq!(Money::aud(5).gst_included().minor, 0);
        assert_eq!(Money::aud(6).gst_included().minor, 1);
        assert_eq!(Money::aud(i64::MIN).to_string(), "-$92233720368547758.08");
        assert!(Money::aud(i64::MAX).gst_included().minor > 0);
    }

    #[test]
    fn amounts_are_bounded_and_sums_checked() {
        assert_eq!(bounded(1, 1, Currency::Aud), Ok(1));
        assert!(bounded(0, 1, Currency::Aud).is_err());
        assert!(bounded(MAX_AMOUNT + 1, 0, Currency::Aud).expect_err("past the maximum").contains("$1000000.00"));
        assert_eq!(bounded(0, 1, Currency::Aud), Err("a whole number of cents from 1 to 100000000 ($1000000.00)".to_string()));
        assert_eq!(checked_sum([1, 2, 3]), Ok(6));
        assert_eq!(checked_sum([i64::MAX, 1]), Err(OutOfRange));
        assert_eq!(checked_sum([MAX_ORDER_TOTAL, 1]), Err(OutOfRange));
        assert_eq!(checked_times(MAX_AMOUNT, 999), Ok(MAX_AMOUNT * 999));
        assert_eq!(checked_times(i64::MAX, 2), Err(OutOfRange));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the amounts, the checked helpers answer and never wrap: a sum they return
        /// is the true sum.
        #[test]
        fn checked_arithmetic_never_wraps(parts in proptest::collection::vec(any::<i64>(), 0..6), unit in any::<i64>(), q in any::<i64>()) {
            if let Ok(t) = checked_sum(parts.iter().copied()) {
                prop_assert_eq!(i128::from(t), parts.iter().map(|p| i128::from(*p)).sum::<i128>());
            }
            if let Ok(t) = checked_times(unit, q) {
                prop_assert_eq!(i128::from(t), i128::from(unit) * i128::from(q));
            }
            let _ = Money::aud(unit).gst_included();
            let _ = Money::aud(unit).to_string();
        }
    }
}
