//! A labelled synthetic data set of orders, to train and measure the model on before (and
//! beside) real outcomes, and to reproduce the figures in `docs/`. It is generated from a seed
//! by a PRNG of its own (splitmix64) with nothing but IEEE arithmetic (+ − × ÷ and rounding,
//! no `ln`, `exp` or `cos` whose last bit may differ between platforms' maths libraries), so a
//! seed gives the same orders everywhere.
//!
//! The patterns ([`PATTERNS`]), each sample's `pattern`:
//! - `honest`: most orders. Low velocity, countries that match, totals of $10–$300, some first
//!   orders and some guests — and the honest customers who look odd: viewers buying again and
//!   again in one live show, households and flats sharing an address or a tablet, travellers and
//!   VPN users (a country mismatch, a busy network), bulk buyers, expats using a reshipper,
//!   someone whose card was declined once, a welcome discount.
//! - `card_testing`: many declined attempts then a success, several cards, small totals, a
//!   guest or a brand-new account, velocity on the device; some testers go slowly (one or two
//!   declines) or rotate devices.
//! - `account_takeover`: an old account on a new device (no orders from it yet, often one that
//!   has been on other accounts), a country mismatch, a high total, shipped to a new address.
//! - `promo_abuse`: many accounts on one device or address, first orders, a large discount
//!   share, limited offers, disposable e-mails.
//! - `reshipper`: a reshipper address (most are known), a mismatch, high value, a quantity.
//! - `friendly_fraud`: looks honest — a real customer who later disputes the charge. Drawn like
//!   honest orders with a slightly higher total; deliberately hard to catch, so the recall is
//!   not 100 %.

use std::fmt::Write as _;

use crate::features::{self, Features, N};
use crate::model::{self, Metrics, Sample, TrainOptions, Weights};

/// The honest pattern's name.
pub const HONEST: &str = "honest";
/// The fraud patterns and their default shares of the fraud, in the order they are reported.
pub const FRAUD_PATTERNS: &[(&str, f64)] =
    &[("card_testing", 0.25), ("account_takeover", 0.2), ("promo_abuse", 0.2), ("reshipper", 0.15), ("friendly_fraud", 0.2)];
/// Every pattern name, honest first.
pub const PATTERNS: &[&str] = &[HONEST, "card_testing", "account_takeover", "promo_abuse", "reshipper", "friendly_fraud"];

/// splitmix64: small, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// 0 or 1 with probability `p` of 1.
    fn flag(&mut self, p: f64) -> f64 {
        if self.chance(p) {
            1.0
        } else {
            0.0
        }
    }

    /// Which tier one uniform draw falls in: the number of `cuts` (ascending) at or below it.
    fn tier(&mut self, cuts: &[f64]) -> usize {
        let u = self.unit();
        cuts.iter().take_while(|&&c| u >= c).count()
    }

    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Skewed towards `lo`: lo + (hi − lo)·u².
    fn low(&mut self, lo: f64, hi: f64) -> f64 {
        let u = self.unit();
        lo + (hi - lo) * u * u
    }

    /// A whole number in lo..=hi.
    fn int(&mut self, lo: u64, hi: u64) -> f64 {
        (lo + self.below(hi - lo + 1)) as f64
    }

    /// A whole number in 0..n (n > 0), without modulo bias worth speaking of.
    fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

fn dollars(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// An honest order; `disputed` draws it as a friendly fraudster's (a real customer, a bit more
/// spent, a bit more often on a limited offer).
fn honest(r: &mut Rng, disputed: bool) -> [f64; N] {
    use features::*;
    let mut f = [0.0; N];
    match r.tier(&[0.2, 0.35]) {
        // A guest.
        0 => f[FIRST_ORDER] = r.flag(0.6),
        // A new account.
        1 => {
            f[ACCOUNT_AGE_DAYS] = r.int(0, 30);
            f[FIRST_ORDER] = r.flag(0.8);
        }
        _ => f[ACCOUNT_AGE_DAYS] = r.int(31, 2500),
    }
    // Live shows: some viewers buy more than once within the hour.
    f[ORDERS_CUSTOMER_1H] = match r.tier(&[0.75, 0.93, 0.99]) {
        0 => 0.0,
        1 => 1.0,
        2 => r.int(2, 3),
        _ => r.int(4, 8),
    };
    f[ORDERS_DEVICE_1H] = f[ORDERS_CUSTOMER_1H] + if r.chance(0.05) { r.int(1, 2) } else { 0.0 };
    // Offices, campuses and mobile carriers put many buyers behind one network.
    f[ORDERS_NETWORK_1H] = f[ORDERS_DEVICE_1H] + if r.chance(0.1) { r.int(2, 40) } else { 0.0 };
    f[DECLINES_24H] = match r.tier(&[0.88, 0.97]) {
        0 => 0.0,
        1 => 1.0,
        _ => r.int(2, 3),
    };
    f[CARDS_24H] = if (f[DECLINES_24H] > 0.0 && r.chance(0.5)) || r.chance(0.03) { 2.0 } else { 1.0 };
    // Travellers and gifts abroad.
    f[COUNTRY_MISMATCH] = r.flag(0.06);
    if r.chance(0.04) {
        // A VPN user: the network's country is not theirs, and its exit is busy.
        f[COUNTRY_MISMATCH] = 1.0;
        f[ORDERS_NETWORK_1H] += r.int(5, 50);
    }
    f[ORDER_TOTAL_DOLLARS] = if disputed { r.range(30.0, 500.0) } else { r.low(10.0, 300.0) };
    f[QUANTITY] = if r.chance(0.16) { r.int(2, 3) } else { 1.0 };
    if r.chance(0.04) {
        // A bulk buyer.
        f[QUANTITY] = r.int(5, 20);
        f[ORDER_TOTAL_DOLLARS] = r.range(300.0, 1200.0);
    }
    f[ORDER_TOTAL_DOLLARS] = dollars(f[ORDER_TOTAL_DOLLARS]);
    f[DISPOSABLE_EMAIL] = r.flag(0.02);
    f[ACCOUNTS_PER_ADDRESS_30D] = match r.tier(&[0.85, 0.97]) {
        0 => 1.0,
        1 => 2.0,
        _ => r.int(3, 5),
    };
    f[ACCOUNTS_PER_DEVICE_30D] = match r.tier(&[0.93, 0.99]) {
        0 => 1.0,
        1 => 2.0,
        _ => r.int(3, 4),
    };
    if r.chance(0.015) {
        // An expat shopping through a freight forwarder: shared with many, abroad.
        f[RESHIPPER_ADDRESS] = 1.0;
        f[COUNTRY_MISMATCH] = r.flag(0.9);
        f[ACCOUNTS_PER_ADDRESS_30D] = r.int(5, 60);
    }
    f[LIMITED_OFFER] = r.flag(if disputed { 0.4 } else { 0.3 });
    f[DISCOUNT_SHARE] = match r.tier(&[0.6, 0.9]) {
        0 => 0.0,
        1 => r.range(0.05, 0.25),
        _ => r.range(0.25, 0.5),
    };
    f
}

fn card_testing(r: &mut Rng) -> [f64; N] {
    use features::*;
    let mut f = [0.0; N];
    f[ACCOUNT_AGE_DAYS] = if r.chance(0.5) { 0.0 } else { r.int(0, 2) };
    f[FIRST_ORDER] = r.flag(0.85);
    if r.chance(0.8) {
        f[DECLINES_24H] = r.int(3, 15);
        f[CARDS_24H] = r.int(2, 8);
    } else {
        // A slow tester.
        f[DECLINES_24H] = r.int(1, 2);
        f[CARDS_24H] = r.int(1, 3);
    }
    f[ORDERS_CUSTOMER_1H] = r.int(0, 3);
    // Some rotate devices (anti-detect browsers), so the device has no history.
    f[ORDERS_DEVICE_1H] = if r.chance(0.2) { 0.0 } else { r.int(1, 10) };
    f[ORDERS_NETWORK_1H] = f[ORDERS_DEVICE_1H] + r.int(0, 20);
    f[COUNTRY_MISMATCH] = r.flag(0.45);
    f[ORDER_TOTAL_DOLLARS] = dollars(if r.chance(0.8) { r.low(1.0, 40.0) } else { r.range(30.0, 150.0) });
    f[DISPOSABLE_EMAIL] = r.flag(0.35);
    f[ACCOUNTS_PER_ADDRESS_30D] = r.int(1, 3);
    f[ACCOUNTS_PER_DEVICE_30D] = r.int(1, 5);
    f[RESHIPPER_ADDRESS] = r.flag(0.03);
    f[QUANTITY] = if r.chance(0.9) { 1.0 } else { 2.0 };
    f[LIMITED_OFFER] = r.flag(0.1);
    f[DISCOUNT_SHARE] = if r.chance(0.9) { 0.0 } else { 0.1 };
    f
}

fn account_takeover(r: &mut Rng) -> [f64; N] {
    use features::*;
    let mut f = [0.0; N];
    f[ACCOUNT_AGE_DAYS] = r.int(90, 3000);
    f[FIRST_ORDER] = 0.0;
    f[ORDERS_CUSTOMER_1H] = r.int(0, 2);
    // A new device: nothing ordered from it yet, mostly.
    f[ORDERS_DEVICE_1H] = if r.chance(0.8) { 0.0 } else { 1.0 };
    f[ORDERS_NETWORK_1H] = f[ORDERS_DEVICE_1H] + r.int(0, 3);
    f[DECLINES_24H] = if r.chance(0.8) { 0.0 } else { r.int(1, 2) };
    f[CARDS_24H] = if r.chance(0.7) { 1.0 } else { 2.0 };
    f[COUNTRY_MISMATCH] = r.flag(0.7);
    f[ORDER_TOTAL_DOLLARS] = dollars(r.range(250.0, 2500.0));
    f[DISPOSABLE_EMAIL] = r.flag(0.05);
    // A new address, often a drop used for other taken-over accounts.
    f[ACCOUNTS_PER_ADDRESS_30D] = r.int(1, 4);
    // The attacker's device has been on other stolen accounts.
    f[ACCOUNTS_PER_DEVICE_30D] = if r.chance(0.6) { r.int(2, 6) } else { 1.0 };
    f[RESHIPPER_ADDRESS] = r.flag(0.2);
    f[QUANTITY] = r.int(1, 3);
    f[LIMITED_OFFER] = r.flag(0.15);
    f[DISCOUNT_SHARE] = if r.chance(0.9) { 0.0 } else { r.range(0.05, 0.2) };
    f
}

fn promo_abuse(r: &mut Rng) -> [f64; N] {
    use features::*;
    let mut f = [0.0; N];
    f[ACCOUNT_AGE_DAYS] = if r.chance(0.3) { 0.0 } else { r.int(0, 3) };
    f[FIRST_ORDER] = r.flag(0.95);
    f[ACCOUNTS_PER_DEVICE_30D] = if r.chance(0.75) { r.int(3, 25) } else { r.int(1, 2) };
    f[ACCOUNTS_PER_ADDRESS_30D] = if r.chance(0.75) { r.int(3, 30) } else { r.int(1, 2) };
    f[DISCOUNT_SHARE] = r.range(0.3, 0.9);
    f[LIMITED_OFFER] = r.flag(0.75);
    f[QUANTITY] = r.int(1, 3);
    f[ORDER_TOTAL_DOLLARS] = dollars(r.range(5.0, 80.0));
    f[DISPOSABLE_EMAIL] = r.flag(0.5);
    f[ORDERS_CUSTOMER_1H] = r.int(0, 1);
    f[ORDERS_DEVICE_1H] = r.int(1, 10);
    f[ORDERS_NETWORK_1H] = f[ORDERS_DEVICE_1H] + r.int(0, 10);
    f[COUNTRY_MISMATCH] = r.flag(0.1);
    f[DECLINES_24H] = if r.chance(0.85) { 0.0 } else { 1.0 };
    f[CARDS_24H] = if r.chance(0.85) { 1.0 } else { 2.0 };
    f
}

fn reshipper(r: &mut Rng) -> [f64; N] {
    use features::*;
    let mut f = [0.0; N];
    f[RESHIPPER_ADDRESS] = r.flag(0.85);
    f[COUNTRY_MISMATCH] = r.flag(0.8);
    f[ORDER_TOTAL_DOLLARS] = dollars(r.range(400.0, 3000.0));
    f[QUANTITY] = r.int(2, 15);
    f[FIRST_ORDER] = r.flag(0.6);
    f[ACCOUNT_AGE_DAYS] = if r.chance(0.3) { 0.0 } else { r.int(0, 60) };
    f[DECLINES_24H] = r.int(0, 2);
    f[CARDS_24H] = r.int(1, 3);
    f[DISPOSABLE_EMAIL] = r.flag(0.2);
    f[ACCOUNTS_PER_ADDRESS_30D] = r.int(2, 40);
    f[ACCOUNTS_PER_DEVICE_30D] = r.int(1, 3);
    f[ORDERS_CUSTOMER_1H] = r.int(0, 3);
    f[ORDERS_DEVICE_1H] = f[ORDERS_CUSTOMER_1H] + r.int(0, 2);
    f[ORDERS_NETWORK_1H] = f[ORDERS_DEVICE_1H] + r.int(0, 5);
    f[LIMITED_OFFER] = r.flag(0.4);
    f[DISCOUNT_SHARE] = if r.chance(0.8) { 0.0 } else { r.range(0.05, 0.2) };
    f
}

fn draw(r: &mut Rng, pattern: &str) -> [f64; N] {
    match pattern {
        "card_testing" => card_testing(r),
        "account_takeover" => account_takeover(r),
        "promo_abuse" => promo_abuse(r),
        "reshipper" => reshipper(r),
        "friendly_fraud" => honest(r, true),
        _ => honest(r, false),
    }
}

fn shuffle<T>(r: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = r.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

/// `n` labelled orders from `seed`: `round(n × fraud_share)` of them fraud (`fraud_share`
/// clamped to 0..=1), split between the fraud patterns by [`FRAUD_PATTERNS`]' shares (largest
/// remainder), the rest honest, in a shuffled order. The same seed and `n` give the same orders.
pub fn generate(seed: u64, n: usize, fraud_share: f64) -> Vec<Sample> {
    let share = if fraud_share.is_finite() { fraud_share.clamp(0.0, 1.0) } else { 0.0 };
    let fraud = ((n as f64) * share).round() as usize;
    let fraud = fraud.min(n);

    // Largest remainder: floor each pattern's quota, then hand out what is left by remainder.
    let total: f64 = FRAUD_PATTERNS.iter().map(|(_, s)| s).sum();
    let quotas: Vec<f64> = FRAUD_PATTERNS.iter().map(|(_, s)| fraud as f64 * s / total).collect();
    let mut counts: Vec<usize> = quotas.iter().map(|q| q.floor() as usize).collect();
    let mut by_remainder: Vec<usize> = (0..quotas.len()).collect();
    by_remainder.sort_by(|&a, &b| (quotas[b] - quotas[b].floor()).total_cmp(&(quotas[a] - quotas[a].floor())));
    let left = fraud.saturating_sub(counts.iter().sum::<usize>());
    for &i in by_remainder.iter().take(left) {
        counts[i] += 1;
    }

    let mut patterns: Vec<&'static str> = Vec::with_capacity(n);
    for ((name, _), count) in FRAUD_PATTERNS.iter().zip(&counts) {
        patterns.extend(std::iter::repeat_n(*name, *count));
    }
    patterns.resize(n, HONEST);
    let mut r = Rng(seed);
    shuffle(&mut r, &mut patterns);
    patterns.into_iter().map(|p| Sample { features: Features(draw(&mut r, p)), label: p != HONEST, pattern: p }).collect()
}

/// Splits `samples` at random (from `seed`) into a training set and a test set holding
/// `round(len × test_share)` of them (`test_share` clamped to 0..=1), each keeping the
/// samples' order.
pub fn split(samples: &[Sample], test_share: f64, seed: u64) -> (Vec<Sample>, Vec<Sample>) {
    let share = if test_share.is_finite() { test_share.clamp(0.0, 1.0) } else { 0.0 };
    let tests = ((samples.len() as f64) * share).round() as usize;
    let mut order: Vec<usize> = (0..samples.len()).collect();
    shuffle(&mut Rng(seed ^ 0x5EED_5EED_5EED_5EED), &mut order);
    let mut in_test = vec![false; samples.len()];
    for &i in order.iter().take(tests) {
        in_test[i] = true;
    }
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (s, t) in samples.iter().zip(in_test) {
        if t {
            test.push(*s);
        } else {
            train.push(*s);
        }
    }
    (train, test)
}

/// The fraud share of the data set [`report`] generates.
pub const REPORT_FRAUD_SHARE: f64 = 0.1;
/// The share of it held out to measure on.
pub const REPORT_TEST_SHARE: f64 = 0.2;
/// The threshold [`report`] gives per pattern.
pub const REPORT_THRESHOLD: u8 = 70;

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

fn metrics_row(out: &mut String, name: &str, m: &Metrics) {
    let _ = writeln!(
        out,
        "| {name} | {} | {} | {} | {} | {} | {} | {} | {} |",
        m.threshold,
        pct(m.precision),
        pct(m.recall),
        pct(m.false_positive_rate),
        pct(m.accuracy),
        m.tp,
        m.fp,
        m.fn_
    );
}

/// The model's figures in markdown, reproducible from `seed`: `n` orders generated at
/// [`REPORT_FRAUD_SHARE`], [`REPORT_TEST_SHARE`] of them held out, the rest trained on with
/// [`TrainOptions::default`]; the baseline and the trained model on the held-out orders at
/// several thresholds, then per pattern at [`REPORT_THRESHOLD`].
pub fn report(seed: u64, n: usize) -> String {
    let samples = generate(seed, n, REPORT_FRAUD_SHARE);
    let (train_set, test_set) = split(&samples, REPORT_TEST_SHARE, seed);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Synthetic orders: seed {seed}, {n} orders, {} fraud; trained on {}, measured on {} held out ({} fraud).\n",
        pct(REPORT_FRAUD_SHARE),
        train_set.len(),
        test_set.len(),
        test_set.iter().filter(|s| s.label).count()
    );
    let trained = match model::train(&train_set, &TrainOptions::default()) {
        Ok(w) => w,
        Err(e) => {
            let _ = writeln!(out, "No model: {e}.");
            return out;
        }
    };
    let baseline = Weights::baseline();
    let _ = writeln!(out, "| model | threshold | precision | recall | false positives | accuracy | tp | fp | fn |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for (name, w) in [("baseline (v0)", &baseline), ("trained", &trained)] {
        for threshold in [50, 70, 90] {
            match model::evaluate(w, &test_set, threshold) {
                Ok(m) => metrics_row(&mut out, name, &m),
                Err(e) => {
                    let _ = writeln!(out, "| {name} | {threshold} | {e} |");
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "\nPer pattern, held out, at threshold {REPORT_THRESHOLD} (flagged: recall for fraud, false positives for honest):\n"
    );
    let _ = writeln!(out, "| pattern | orders | baseline flagged | trained flagged |");
    let _ = writeln!(out, "|---|---|---|---|");
    let per = |w: &Weights| model::evaluate_by_pattern(w, &test_set, REPORT_THRESHOLD).unwrap_or_default();
    let (base, mine) = (per(&baseline), per(&trained));
    let flagged = |by: &[(&str, Metrics)], p: &str| {
        by.iter().find(|(q, _)| *q == p).map(|(_, m)| (m.tp + m.fp, m.positives + m.negatives)).unwrap_or((0, 0))
    };
    for p in PATTERNS {
        let (b, count) = flagged(&base, p);
        let (t, _) = flagged(&mine, p);
        let share = |k: usize| if count == 0 { pct(0.0) } else { pct(k as f64 / count as f64) };
        let _ = writeln!(out, "| {p} | {count} | {} | {} |", share(b), share(t));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_orders() {
        let a = generate(7, 2000, 0.1);
        let b = generate(7, 2000, 0.1);
        assert_eq!(a, b);
        let c = generate(8, 2000, 0.1);
        assert_ne!(a, c, "another seed, other orders");
    }

    #[test]
    fn the_first_orders_of_a_seed_are_pinned() {
        // Guards reproducibility across platforms and releases: the generator uses no
        // platform-dependent arithmetic, so these exact values must hold everywhere.
        let s = generate(42, 3, 0.5);
        let shown: Vec<(&str, f64)> = s.iter().map(|s| (s.pattern, s.features.0[features::ORDER_TOTAL_DOLLARS])).collect();
        assert_eq!(shown, PINNED);
    }

    const PINNED: [(&str, f64); 3] = [("account_takeover", 1641.58), ("card_testing", 35.6), ("honest", 39.95)];

    #[test]
    fn shares_are_as_asked() {
        let n = 10_000;
        let s = generate(1, n, 0.1);
        assert_eq!(s.len(), n);
        let fraud = s.iter().filter(|s| s.label).count();
        assert_eq!(fraud, 1000);
        for (p, share) in FRAUD_PATTERNS {
            let k = s.iter().filter(|s| s.pattern == *p).count();
            assert_eq!(k, (1000.0 * share).round() as usize, "{p}");
            assert!(s.iter().filter(|s| s.pattern == *p).all(|s| s.label), "{p} is fraud");
        }
        assert!(s.iter().filter(|s| s.pattern == HONEST).all(|s| !s.label));
        assert!(s.iter().all(|s| PATTERNS.contains(&s.pattern)));
        // Shuffled: the fraud is not all at one end.
        let first_half = s[..n / 2].iter().filter(|s| s.label).count();
        assert!((400..600).contains(&first_half), "{first_half} of the fraud in the first half");
    }

    #[test]
    fn odd_counts_and_shares_are_handled() {
        assert!(generate(1, 0, 0.1).is_empty());
        assert_eq!(generate(1, 7, 2.0).iter().filter(|s| s.label).count(), 7);
        assert_eq!(generate(1, 7, f64::NAN).iter().filter(|s| s.label).count(), 0);
        let s = generate(1, 13, 0.5);
        assert_eq!(s.iter().filter(|s| s.label).count(), 7);
    }

    #[test]
    fn honest_orders_look_honest_and_overlap() {
        let s = generate(3, 20_000, 0.0);
        let share = |pred: &dyn Fn(&Sample) -> bool| s.iter().filter(|s| pred(s)).count() as f64 / s.len() as f64;
        let total = |s: &Sample| s.features.0[features::ORDER_TOTAL_DOLLARS];
        assert!(share(&|s| (10.0..=300.0).contains(&total(s))) > 0.9);
        assert!(share(&|s| s.features.0[features::FIRST_ORDER] == 1.0) > 0.1);
        assert!(share(&|s| s.features.0[features::ACCOUNT_AGE_DAYS] == 0.0) > 0.15);
        let mismatched = share(&|s| s.features.0[features::COUNTRY_MISMATCH] == 1.0);
        assert!((0.05..0.2).contains(&mismatched), "{mismatched}");
        assert!(share(&|s| s.features.0[features::RESHIPPER_ADDRESS] == 1.0) > 0.005);
        assert!(share(&|s| s.features.0[features::QUANTITY] >= 5.0) > 0.02);
    }

    #[test]
    fn the_report_is_a_markdown_table_per_model_and_pattern() {
        let r = report(2, 5_000);
        assert_eq!(r, report(2, 5_000), "reproducible");
        assert!(r.contains("seed 2, 5000 orders"), "{r}");
        assert_eq!(r.lines().filter(|l| l.starts_with("| baseline (v0) |")).count(), 3, "{r}");
        assert_eq!(r.lines().filter(|l| l.starts_with("| trained |")).count(), 3, "{r}");
        for p in PATTERNS {
            assert!(r.contains(&format!("| {p} | ")), "{p} in {r}");
        }
        assert!(report(2, 0).contains("No model"), "nothing to train on");
    }

    #[test]
    fn split_is_deterministic_and_complete() {
        let s = generate(5, 1000, 0.1);
        let (a, b) = split(&s, 0.2, 9);
        assert_eq!((a.len(), b.len()), (800, 200));
        assert_eq!(split(&s, 0.2, 9), (a.clone(), b.clone()));
        let mut back = a.clone();
        back.extend(b);
        assert_eq!(back.len(), s.len());
        for x in &s {
            assert!(back.contains(x));
        }
        assert_ne!(split(&s, 0.2, 10).0, a, "another seed, another split");
    }
}
