//! Totals: line prices, discount, shipping and the GST they contain.
//!
//! Prices include GST (10 %). The one rounding rule: the GST in an amount is `amount / 11`
//! rounded half away from zero to the cent (`lsn_core::money::Money::gst_included`), applied to
//! each line after its share of the discount and to shipping; the order's GST is the sum of those.
//! A discount is shared across lines in proportion to their totals, the remainder cent going to
//! the last line, so the lines always add up to the order.

use lsn_core::money::Money;
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

pub fn compute(lines: &[LineIn], discount: Discount, shipping: i64) -> Totals {
    let totals: Vec<i64> = lines.iter().map(|l| l.unit_price * l.quantity).collect();
    let subtotal: i64 = totals.iter().sum();
    let discount_total = match discount {
        Discount::None => 0,
        Discount::Percent(p) => (subtotal * p.clamp(0, 100) + 50) / 100,
        Discount::Fixed(c) => c.clamp(0, subtotal),
    };
    let mut shares = Vec::with_capacity(lines.len());
    let mut given = 0;
    for (i, t) in totals.iter().enumerate() {
        let share = if i + 1 == totals.len() {
            discount_total - given
        } else if subtotal == 0 {
            0
        } else {
            discount_total * t / subtotal
        };
        given += share;
        shares.push(share);
    }
    let out: Vec<LineOut> = totals
        .iter()
        .zip(&shares)
        .map(|(t, d)| LineOut { line_total: *t, line_discount: *d, gst: Money::aud(t - d).gst_included().minor })
        .collect();
    let gst_total = out.iter().map(|l| l.gst).sum::<i64>() + Money::aud(shipping).gst_included().minor;
    Totals { subtotal, discount_total, shipping_total: shipping, gst_total, total: subtotal - discount_total + shipping, lines: out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gst_per_line_and_discount_shares_add_up() {
        let lines = [LineIn { unit_price: 3300, quantity: 2 }, LineIn { unit_price: 1999, quantity: 1 }];
        let t = compute(&lines, Discount::Percent(10), 995);
        assert_eq!(t.subtotal, 8599);
        assert_eq!(t.discount_total, 860);
        assert_eq!(t.lines.iter().map(|l| l.line_discount).sum::<i64>(), 860);
        assert_eq!(t.total, 8599 - 860 + 995);
        // 6600-660=5940 → 540.0; 1999-200=1799 → 163.5 → 164; shipping 995 → 90.45 → 90
        assert_eq!(t.lines[0].gst, 540);
        assert_eq!(t.lines[1].gst, 164);
        assert_eq!(t.gst_total, 540 + 164 + 90);
        let t = compute(&lines, Discount::Fixed(100_000), 0);
        assert_eq!((t.discount_total, t.total), (8599, 0));
        assert_eq!(shipping_options(10_000)[0].price, 0);
        assert_eq!(shipping_options(9_999)[0].price, STANDARD_SHIPPING);
    }
}
