//! Totals: line prices, discount, shipping and the GST they contain.
//!
//! Prices include GST (10 %). The one rounding rule: the GST in an amount is `amount / 11`
//! rounded half away from zero to the cent (`lsn_core::money::Money::gst_included`), applied to
//! each line after its share of the discount and to shipping; the order's GST is the sum of those.
//! A discount is shared across lines in proportion to their totals, the remainder cent going to
//! the last line, so the lines always add up to the order.

use lsn_core::money::{checked_sum, checked_times, Money, OutOfRange};
use serde::Serialize;

pub const STANDARD_SHIPPING: i64 = 995;
pub const EXPRESS_SHIPPING: i64 = 1495;
pub const FREE_SHIPPING_OVER: i64 = 10_000;

#[derive(Debug, Clone, Serialize)]
pub struct ShippingOption {
    pub code: &'static str,
    pub name: &'static str,
    pub price: i64,
    pub note: &'static str,
}

/// What each option costs for a basket worth `subtotal_after_discount`.
pub fn shipping_options(subtotal_after_discount: i64) -> Vec<ShippingOption> {
    let free = subtotal_after_discount >= FREE_SHIPPING_OVER;
    vec![
        ShippingOption {
            code: "standard",
            name: "Standard (3–6 business days)",
            price: if free { 0 } else { STANDARD_SHIPPING },
            note: "Free over $100",
        },
        ShippingOption { code: "express", name: "Express (1–2 business days)", price: EXPRESS_SHIPPING, note: "" },
    ]
}

#[derive(Debug, Clone)]
pub struct LineIn {
    pub unit_price: i64,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineOut {
    pub line_total: i64,
    pub line_discount: i64,
    pub gst: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub subtotal: i64,
    pub discount_total: i64,
    pub shipping_total: i64,
    pub gst_total: i64,
    pub total: i64,
    pub lines: Vec<LineOut>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    None,
    /// Whole percent, 1 to 100.
    Percent(i64),
    /// Cents off, at most the subtotal.
    Fixed(i64),
}

/// The order's totals, every sum checked: `OutOfRange` when any amount would pass
/// `lsn_core::money::MAX_ORDER_TOTAL` (prices and quantities are bounded at the edge, so a real
/// basket never gets there).
pub fn compute(lines: &[LineIn], discount: Discount, shipping: i64) -> Result<Totals, OutOfRange> {
    let totals: Vec<i64> = lines.iter().map(|l| checked_times(l.unit_price, l.quantity)).collect::<Result<_, _>>()?;
    let subtotal = checked_sum(totals.iter().copied())?;
    let discount_total = match discount {
        Discount::None => 0,
        // In i128: a percent of any subtotal fits.
        Discount::Percent(p) => i64::try_from((i128::from(subtotal) * i128::from(p.clamp(0, 100)) + 50) / 100).map_err(|_| OutOfRange)?,
        Discount::Fixed(c) => c.clamp(0, subtotal.max(0)),
    };
    let mut shares = Vec::with_capacity(lines.len());
    let mut given: i64 = 0;
    for (i, t) in totals.iter().enumerate() {
        let share = if i + 1 == totals.len() {
            discount_total - given
        } else if subtotal == 0 {
            0
        } else {
            i64::try_from(i128::from(discount_total) * i128::from(*t) / i128::from(subtotal)).map_err(|_| OutOfRange)?
        };
        given = checked_sum([given, share])?;
        shares.push(share);
    }
    let out: Vec<LineOut> = totals
        .iter()
        .zip(&shares)
        .map(|(t, d)| LineOut { line_total: *t, line_discount: *d, gst: Money::aud(t - d).gst_included().minor })
        .collect();
    let gst_total = checked_sum(out.iter().map(|l| l.gst).chain([Money::aud(shipping).gst_included().minor]))?;
    let total = checked_sum([subtotal, -discount_total, shipping])?;
    Ok(Totals { subtotal, discount_total, shipping_total: shipping, gst_total, total, lines: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gst_per_line_and_discount_shares_add_up() {
        let lines = [LineIn { unit_price: 3300, quantity: 2 }, LineIn { unit_price: 1999, quantity: 1 }];
        let t = compute(&lines, Discount::Percent(10), 995).expect("totals");
        assert_eq!(t.subtotal, 8599);
        assert_eq!(t.discount_total, 860);
        assert_eq!(t.lines.iter().map(|l| l.line_discount).sum::<i64>(), 860);
        assert_eq!(t.total, 8599 - 860 + 995);
        // 6600-660=5940 → 540.0; 1999-200=1799 → 163.5 → 164; shipping 995 → 90.45 → 90
        assert_eq!(t.lines[0].gst, 540);
        assert_eq!(t.lines[1].gst, 164);
        assert_eq!(t.gst_total, 540 + 164 + 90);
        let t = compute(&lines, Discount::Fixed(100_000), 0).expect("totals");
        assert_eq!((t.discount_total, t.total), (8599, 0));
        assert_eq!(shipping_options(10_000)[0].price, 0);
        assert_eq!(shipping_options(9_999)[0].price, STANDARD_SHIPPING);
        // Sums that would wrap are refused, not wrapped.
        assert_eq!(compute(&[LineIn { unit_price: i64::MAX, quantity: 2 }], Discount::None, 0), Err(OutOfRange));
        assert_eq!(compute(&[LineIn { unit_price: 1, quantity: 1 }], Discount::None, i64::MAX), Err(OutOfRange));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any basket within the edge's bounds prices without overflow, its lines adding up to
        /// its totals; any basket at all is priced or refused, never wrapped.
        #[test]
        fn totals_add_up_or_are_refused(
            lines in proptest::collection::vec((0..=lsn_core::money::MAX_AMOUNT, 1..=crate::cart::MAX_LINE_QUANTITY), 1..20),
            wild in proptest::collection::vec((any::<i64>(), any::<i64>()), 0..3),
            pct in 0i64..=100, fixed in 0..=lsn_core::money::MAX_AMOUNT, shipping in 0i64..=1495, percent in any::<bool>(),
        ) {
            let ins: Vec<LineIn> = lines.iter().map(|(p, q)| LineIn { unit_price: *p, quantity: *q }).collect();
            let d = if percent { Discount::Percent(pct) } else { Discount::Fixed(fixed) };
            let t = compute(&ins, d, shipping).expect("a bounded basket prices");
            prop_assert_eq!(t.lines.iter().map(|l| l.line_discount).sum::<i64>(), t.discount_total);
            prop_assert_eq!(t.subtotal - t.discount_total + t.shipping_total, t.total);
            prop_assert!(t.total >= 0);
            let all: Vec<LineIn> = ins.iter().cloned().chain(wild.iter().map(|(p, q)| LineIn { unit_price: *p, quantity: *q })).collect();
            let _ = compute(&all, d, shipping);
        }
    }
}
