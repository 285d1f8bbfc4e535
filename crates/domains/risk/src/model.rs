//! The learned part of the risk score: a logistic regression over [`Features::transformed`],
//! trained in LSN, whose weights are stored as versioned JSON ([`Weights`]) so a new model can
//! be rolled out, compared and rolled back.
//!
//! **Labels** come from outcomes in production, not from the score itself: a chargeback or a
//! refund given for fraud makes an order a positive (`label = true`), and so does a reviewer
//! declining it as fraud; an order a reviewer approved, or one delivered and past the dispute
//! window without a chargeback, is a negative. Each [`Sample`] is the feature vector as it was
//! *when the order was scored* (stored beside the check) with the label its outcome gave later.
//! Until enough outcomes exist, [`Weights::baseline`] (hand-set, version 0) scores orders; the
//! synthetic set of [`crate::synth`] reproduces the figures in `docs/`.
//!
//! **Scoring** ([`score`]) is `round(100 × σ(bias + Σ wᵢ·xᵢ))` over the transformed features,
//! 0–100. It *refuses* — returns [`ModelError`], it does not fall back to the baseline — weights
//! whose feature list is not this version's [`FEATURES`] (a model stored by another release),
//! whose weight count is off, or that hold a non-finite number. The caller decides what to do
//! (keep the previous model, or the baseline, and log why) rather than this scoring silently
//! with a model it misreads.
//!
//! **Training** ([`train`]) is deterministic: full-batch gradient descent with momentum and an
//! L2 penalty, no threads, no randomness. It standardizes the features inside (mean 0, standard
//! deviation 1 over the training set) and folds that back into the stored weights, so a
//! [`Weights`] is self-contained. Positives are weighted up by `(negatives / positives)^balance`
//! to counter the imbalance; the score is therefore a ranking on the re-weighted prior, not a
//! calibrated probability of fraud, and thresholds are chosen from [`evaluate`]'s figures.

use serde::{Deserialize, Serialize};

use crate::features::{self, Features, FEATURES, N};

/// Why a model cannot score or be trained.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// The stored model was trained on another list of features (another release's).
    #[error("the model's features {found:?} are not this version's {expected:?}")]
    FeatureMismatch { expected: Vec<String>, found: Vec<String> },
    /// The model has not one weight per feature.
    #[error("the model has {weights} weights for {features} features")]
    WeightCount { weights: usize, features: usize },
    /// A weight or the bias is NaN or infinite.
    #[error("the model's {what} is not a finite number")]
    NotFinite { what: String },
    /// Training needs both fraud and honest samples.
    #[error("training needs fraud and honest samples, got {positives} fraud and {negatives} honest")]
    OneClass { positives: usize, negatives: usize },
}

/// How a model did on a set of labelled samples, at one threshold on the 0–100 score (an order
/// is flagged when its score is at least `threshold`). A ratio whose denominator is 0 is 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Of the flagged orders, the share that were fraud: tp / (tp + fp).
    pub precision: f64,
    /// Of the fraud, the share flagged: tp / (tp + fn).
    pub recall: f64,
    /// Of the honest orders, the share flagged: fp / (fp + tn).
    pub false_positive_rate: f64,
    /// The share decided right: (tp + tn) / all.
    pub accuracy: f64,
    /// Flagged when score >= threshold.
    pub threshold: u8,
    /// Fraud samples (tp + fn).
    pub positives: usize,
    /// Honest samples (fp + tn).
    pub negatives: usize,
    pub tp: usize,
    pub fp: usize,
    pub tn: usize,
    pub fn_: usize,
}

/// A model: one weight per feature of [`FEATURES`] on the transformed vector, and a bias.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    /// 0 for the baseline; a trained model takes the version its training run was given.
    pub version: i64,
    /// The feature names it was trained on; must equal [`FEATURES`] to score.
    pub features: Vec<String>,
    pub bias: f64,
    pub weights: Vec<f64>,
    /// How many samples it was trained on (0 for the baseline).
    pub trained_on: usize,
    /// Its figures on its training samples at [`TrainOptions::threshold`] (empty for the
    /// baseline); the figures to publish are [`evaluate`]'s on held-out samples.
    pub metrics: Metrics,
}

impl Weights {
    /// The hand-set model used before any training (version 0): each documented pattern — card
    /// testing (declines, several cards, device velocity), promo abuse (accounts per device and
    /// address, discounts), reshippers (reshipper address, mismatch, high totals and quantity),
    /// account takeover (mismatch, high total) — pushes the score up; an old account pulls it
    /// down. A typical honest order scores under 20, the clear patterns over 70.
    pub fn baseline() -> Self {
        let mut w = [0.0; N];
        w[features::ORDERS_CUSTOMER_1H] = 0.5;
        w[features::ORDERS_DEVICE_1H] = 0.6;
        w[features::ORDERS_NETWORK_1H] = 0.2;
        w[features::DECLINES_24H] = 1.5;
        w[features::CARDS_24H] = 1.2;
        w[features::COUNTRY_MISMATCH] = 1.4;
        w[features::FIRST_ORDER] = 0.6;
        w[features::ORDER_TOTAL_DOLLARS] = 0.45;
        w[features::DISPOSABLE_EMAIL] = 1.2;
        w[features::ACCOUNTS_PER_ADDRESS_30D] = 0.9;
        w[features::ACCOUNTS_PER_DEVICE_30D] = 1.1;
        w[features::RESHIPPER_ADDRESS] = 2.0;
        w[features::QUANTITY] = 0.5;
        w[features::ACCOUNT_AGE_DAYS] = -0.3;
        w[features::LIMITED_OFFER] = 0.3;
        w[features::DISCOUNT_SHARE] = 2.5;
        Weights {
            version: 0,
            features: FEATURES.iter().map(|f| f.to_string()).collect(),
            bias: -7.5,
            weights: w.to_vec(),
            trained_on: 0,
            metrics: Metrics::default(),
        }
    }

    /// Whether these weights can score this version's feature vector (see the module's doc).
    pub fn check(&self) -> Result<(), ModelError> {
        if self.features.len() != N || self.features.iter().zip(FEATURES).any(|(a, b)| a != b) {
            return Err(ModelError::FeatureMismatch {
                expected: FEATURES.iter().map(|f| f.to_string()).collect(),
                found: self.features.clone(),
            });
        }
        if self.weights.len() != N {
            return Err(ModelError::WeightCount { weights: self.weights.len(), features: N });
        }
        if !self.bias.is_finite() {
            return Err(ModelError::NotFinite { what: "bias".into() });
        }
        if let Some(i) = self.weights.iter().position(|w| !w.is_finite()) {
            return Err(ModelError::NotFinite { what: format!("weight for {}", FEATURES[i]) });
        }
        Ok(())
    }
}

/// One labelled order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The feature vector as it was when the order was scored.
    pub features: Features,
    /// true = fraud (a chargeback, a refund for fraud, a reviewer's decline).
    pub label: bool,
    /// Where the sample comes from: a pattern of [`crate::synth::PATTERNS`] for generated data,
    /// or the outcome that labelled a production order.
    pub pattern: &'static str,
}

/// How [`train`] runs. The defaults (100 steps of 1.0 with momentum 0.8, L2 0.001, balance
/// 0.75) converge on 20,000 orders (more steps change no figure) in well under a second of a
/// debug build. Balance 0.75 is a measured choice: on the synthetic set it beats the baseline's
/// precision, recall and false-positive rate at thresholds 50, 70 and 90 alike, for seeds 1–5;
/// balance 1 buys a few points of recall at 70 for twice the false positives.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    /// Full-batch gradient steps.
    pub iterations: usize,
    /// The step size, on standardized features.
    pub learning_rate: f64,
    /// Heavy-ball momentum, 0..1 (0 is plain gradient descent).
    pub momentum: f64,
    /// The L2 penalty on the (standardized) weights, not on the bias.
    pub l2: f64,
    /// Positives weigh `(negatives / positives)^balance`: 0 leaves the imbalance, 1 balances
    /// the classes fully.
    pub balance: f64,
    /// The version the trained weights get.
    pub version: i64,
    /// The threshold their recorded training metrics are taken at.
    pub threshold: u8,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions { iterations: 100, learning_rate: 1.0, momentum: 0.8, l2: 1e-3, balance: 0.75, version: 1, threshold: 70 }
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// The linear part over a transformed vector; the weights must have passed [`Weights::check`].
fn logit(w: &Weights, x: &[f64; N]) -> f64 {
    w.bias + w.weights.iter().zip(x).map(|(w, x)| w * x).sum::<f64>()
}

fn score_checked(w: &Weights, f: &Features) -> u8 {
    let p = sigmoid(logit(w, &f.transformed()));
    // p is in 0..=1 (the weights are finite and the transformed vector bounded).
    (p * 100.0).round().clamp(0.0, 100.0) as u8
}

/// The model's fraud probability for an order (under the training's class weighting).
pub fn probability(w: &Weights, f: &Features) -> Result<f64, ModelError> {
    w.check()?;
    Ok(sigmoid(logit(w, &f.transformed())))
}

/// The risk score 0–100: the probability × 100, rounded. Refuses weights that do not match
/// this version's features (see the module's doc): it never falls back on its own.
pub fn score(w: &Weights, f: &Features) -> Result<u8, ModelError> {
    w.check()?;
    Ok(score_checked(w, f))
}

/// Each feature's part in the logit (weight × transformed value), in the order of
/// [`FEATURES`]: the largest are an order's reasons.
pub fn contributions(w: &Weights, f: &Features) -> Result<[f64; N], ModelError> {
    w.check()?;
    let x = f.transformed();
    let mut out = [0.0; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = w.weights[i] * x[i];
    }
    Ok(out)
}

/// Counts of a confusion matrix, to build [`Metrics`] from.
#[derive(Default, Clone, Copy)]
struct Counts {
    tp: usize,
    fp: usize,
    tn: usize,
    fn_: usize,
}

impl Counts {
    fn add(&mut self, label: bool, flagged: bool) {
        match (label, flagged) {
            (true, true) => self.tp += 1,
            (true, false) => self.fn_ += 1,
            (false, true) => self.fp += 1,
            (false, false) => self.tn += 1,
        }
    }

    fn metrics(self, threshold: u8) -> Metrics {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let Counts { tp, fp, tn, fn_ } = self;
        Metrics {
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, tp + fn_),
            false_positive_rate: ratio(fp, fp + tn),
            accuracy: ratio(tp + tn, tp + fp + tn + fn_),
            threshold,
            positives: tp + fn_,
            negatives: fp + tn,
            tp,
            fp,
            tn,
            fn_,
        }
    }
}

/// The model's figures on `samples` at `threshold` (flagged when score >= threshold). Refuses,
/// as [`score`] does, weights that do not match this version's features.
pub fn evaluate(w: &Weights, samples: &[Sample], threshold: u8) -> Result<Metrics, ModelError> {
    w.check()?;
    let mut c = Counts::default();
    for s in samples {
        c.add(s.label, score_checked(w, &s.features) >= threshold);
    }
    Ok(c.metrics(threshold))
}

/// [`evaluate`] per pattern, in the order each pattern first appears in `samples`. A fraud
/// pattern's figure is its recall; the honest pattern's, its false-positive rate.
pub fn evaluate_by_pattern(w: &Weights, samples: &[Sample], threshold: u8) -> Result<Vec<(&'static str, Metrics)>, ModelError> {
    w.check()?;
    let mut by: Vec<(&'static str, Counts)> = Vec::new();
    for s in samples {
        let at = match by.iter().position(|(p, _)| *p == s.pattern) {
            Some(i) => i,
            None => {
                by.push((s.pattern, Counts::default()));
                by.len() - 1
            }
        };
        by[at].1.add(s.label, score_checked(w, &s.features) >= threshold);
    }
    Ok(by.into_iter().map(|(p, c)| (p, c.metrics(threshold))).collect())
}

/// Trains a model on `samples` (see the module's doc for the method). Deterministic: the same
/// samples and options give the same weights. Refuses a set without both classes.
pub fn train(samples: &[Sample], opts: &TrainOptions) -> Result<Weights, ModelError> {
    let positives = samples.iter().filter(|s| s.label).count();
    let negatives = samples.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(ModelError::OneClass { positives, negatives });
    }

    // Transformed and standardized features, and each sample's weight.
    let xs: Vec<[f64; N]> = samples.iter().map(|s| s.features.transformed()).collect();
    let count = xs.len() as f64;
    let mut mean = [0.0; N];
    for x in &xs {
        for j in 0..N {
            mean[j] += x[j] / count;
        }
    }
    let mut std = [0.0; N];
    for x in &xs {
        for j in 0..N {
            std[j] += (x[j] - mean[j]) * (x[j] - mean[j]) / count;
        }
    }
    for s in &mut std {
        *s = if *s > 1e-12 { s.sqrt() } else { 1.0 };
    }
    let zs: Vec<[f64; N]> = xs
        .iter()
        .map(|x| {
            let mut z = [0.0; N];
            for j in 0..N {
                z[j] = (x[j] - mean[j]) / std[j];
            }
            z
        })
        .collect();
    let positive_weight = (negatives as f64 / positives as f64).powf(opts.balance.clamp(0.0, 1.0));
    let sample_weight: Vec<f64> = samples.iter().map(|s| if s.label { positive_weight } else { 1.0 }).collect();
    let total_weight: f64 = sample_weight.iter().sum();
    let ys: Vec<f64> = samples.iter().map(|s| if s.label { 1.0 } else { 0.0 }).collect();

    // Start at the weighted prior, then full-batch gradient descent with momentum.
    let prior = positive_weight * positives as f64 / total_weight;
    let mut bias = (prior / (1.0 - prior)).ln();
    let mut w = [0.0; N];
    let (mut vb, mut vw) = (0.0, [0.0; N]);
    for _ in 0..opts.iterations {
        let (mut gb, mut gw) = (0.0, [0.0; N]);
        // Plain index loops: this is the hot loop, and it must stay quick in debug builds too.
        for i in 0..zs.len() {
            let z = &zs[i];
            let mut lin = bias;
            for j in 0..N {
                lin += w[j] * z[j];
            }
            let err = sample_weight[i] * (sigmoid(lin) - ys[i]);
            gb += err;
            for j in 0..N {
                gw[j] += err * z[j];
            }
        }
        vb = opts.momentum * vb - opts.learning_rate * gb / total_weight;
        bias += vb;
        for j in 0..N {
            let g = gw[j] / total_weight + opts.l2 * w[j];
            vw[j] = opts.momentum * vw[j] - opts.learning_rate * g;
            w[j] += vw[j];
        }
    }

    // Fold the standardization into the weights: w·(x − μ)/σ + b = (w/σ)·x + (b − Σ w·μ/σ).
    let mut weights = vec![0.0; N];
    for j in 0..N {
        weights[j] = w[j] / std[j];
        bias -= w[j] * mean[j] / std[j];
    }
    let mut model = Weights {
        version: opts.version,
        features: FEATURES.iter().map(|f| f.to_string()).collect(),
        bias,
        weights,
        trained_on: samples.len(),
        metrics: Metrics::default(),
    };
    model.check()?;
    model.metrics = evaluate(&model, samples, opts.threshold)?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::features::*;
    use crate::synth;

    /// The brief's set: 25,000 orders of seed 1 (10 % fraud), 20,000 trained on, 5,000 held
    /// out; the same as `synth::report(1, 25_000)`. Trained once for all the tests here.
    fn trained() -> &'static (Weights, Vec<Sample>) {
        static MODEL: OnceLock<(Weights, Vec<Sample>)> = OnceLock::new();
        MODEL.get_or_init(|| {
            let samples = synth::generate(1, 25_000, synth::REPORT_FRAUD_SHARE);
            let (train_set, test_set) = synth::split(&samples, synth::REPORT_TEST_SHARE, 1);
            assert_eq!((train_set.len(), test_set.len()), (20_000, 5_000));
            let started = std::time::Instant::now();
            let w = train(&train_set, &TrainOptions::default()).expect("two classes");
            let took = started.elapsed();
            assert!(took.as_secs_f64() < 5.0, "training took {took:?}");
            (w, test_set)
        })
    }

    fn order(values: &[(usize, f64)]) -> Features {
        let mut f = Features::default();
        for &(i, v) in values {
            f.0[i] = v;
        }
        f
    }

    fn typical_honest() -> Features {
        order(&[
            (CARDS_24H, 1.0),
            (ORDER_TOTAL_DOLLARS, 65.0),
            (ACCOUNTS_PER_ADDRESS_30D, 1.0),
            (ACCOUNTS_PER_DEVICE_30D, 1.0),
            (QUANTITY, 1.0),
            (ACCOUNT_AGE_DAYS, 400.0),
        ])
    }

    fn honest_first_guest_order() -> Features {
        order(&[
            (CARDS_24H, 1.0),
            (FIRST_ORDER, 1.0),
            (ORDER_TOTAL_DOLLARS, 120.0),
            (ACCOUNTS_PER_ADDRESS_30D, 1.0),
            (ACCOUNTS_PER_DEVICE_30D, 1.0),
            (QUANTITY, 1.0),
            (LIMITED_OFFER, 1.0),
        ])
    }

    fn card_testing() -> Features {
        order(&[
            (ORDERS_DEVICE_1H, 4.0),
            (ORDERS_NETWORK_1H, 6.0),
            (DECLINES_24H, 8.0),
            (CARDS_24H, 5.0),
            (FIRST_ORDER, 1.0),
            (ORDER_TOTAL_DOLLARS, 4.5),
            (ACCOUNTS_PER_ADDRESS_30D, 1.0),
            (ACCOUNTS_PER_DEVICE_30D, 2.0),
            (QUANTITY, 1.0),
        ])
    }

    fn promo_abuse() -> Features {
        order(&[
            (ORDERS_DEVICE_1H, 3.0),
            (ORDERS_NETWORK_1H, 3.0),
            (CARDS_24H, 1.0),
            (FIRST_ORDER, 1.0),
            (ORDER_TOTAL_DOLLARS, 25.0),
            (DISPOSABLE_EMAIL, 1.0),
            (ACCOUNTS_PER_ADDRESS_30D, 9.0),
            (ACCOUNTS_PER_DEVICE_30D, 12.0),
            (QUANTITY, 2.0),
            (ACCOUNT_AGE_DAYS, 1.0),
            (LIMITED_OFFER, 1.0),
            (DISCOUNT_SHARE, 0.6),
        ])
    }

    fn reshipper() -> Features {
        order(&[
            (CARDS_24H, 1.0),
            (COUNTRY_MISMATCH, 1.0),
            (FIRST_ORDER, 1.0),
            (ORDER_TOTAL_DOLLARS, 1800.0),
            (ACCOUNTS_PER_ADDRESS_30D, 15.0),
            (ACCOUNTS_PER_DEVICE_30D, 1.0),
            (RESHIPPER_ADDRESS, 1.0),
            (QUANTITY, 8.0),
            (ACCOUNT_AGE_DAYS, 5.0),
        ])
    }

    #[test]
    fn the_baseline_scores_honest_orders_low_and_clear_patterns_high() {
        let w = Weights::baseline();
        assert_eq!(w.version, 0);
        for (name, f) in [("typical", typical_honest()), ("first guest order", honest_first_guest_order())] {
            let s = score(&w, &f).expect("baseline fits");
            assert!(s < 20, "honest {name}: {s}");
        }
        for (name, f) in [("card testing", card_testing()), ("promo abuse", promo_abuse()), ("reshipper", reshipper())] {
            let s = score(&w, &f).expect("baseline fits");
            assert!(s > 70, "{name}: {s}");
        }
    }

    #[test]
    fn the_trained_model_agrees_on_the_clear_cases() {
        let (w, _) = trained();
        assert!(score(w, &typical_honest()).expect("fits") < 20);
        for f in [card_testing(), promo_abuse(), reshipper()] {
            assert!(score(w, &f).expect("fits") > 70, "{f:?}");
        }
    }

    #[test]
    fn training_beats_the_baseline_on_held_out_orders() {
        let (w, test_set) = trained();
        assert_eq!(w.trained_on, 20_000);
        let base = evaluate(&Weights::baseline(), test_set, 70).expect("fits");
        let m = evaluate(w, test_set, 70).expect("fits");
        // Measured on this set (seed 1): trained precision 0.839, recall 0.751, false
        // positives 0.015; the baseline 0.731, 0.688, 0.026. Friendly fraud, a fifth of the
        // fraud and built to look honest, keeps the recall under 0.8.
        assert_eq!(m.positives + m.negatives, 5_000);
        assert!(m.recall >= 0.72, "recall {}", m.recall);
        assert!(m.false_positive_rate <= 0.03, "false positives {}", m.false_positive_rate);
        assert!(m.precision >= 0.78, "precision {}", m.precision);
        assert!(m.precision >= base.precision + 0.05, "precision {} against the baseline's {}", m.precision, base.precision);
        assert!(m.recall >= base.recall + 0.03, "recall {} against the baseline's {}", m.recall, base.recall);
        assert!(m.false_positive_rate < base.false_positive_rate);

        // Without friendly fraud, most is caught: measured 0.908.
        let detectable: Vec<Sample> = test_set.iter().copied().filter(|s| s.pattern != "friendly_fraud").collect();
        let d = evaluate(w, &detectable, 70).expect("fits");
        assert!(d.recall >= 0.88, "recall without friendly fraud {}", d.recall);

        // At 90 (escalation), few honest orders: measured precision 0.975, false positives 0.002.
        let high = evaluate(w, test_set, 90).expect("fits");
        assert!(high.precision >= 0.93, "precision at 90: {}", high.precision);
        assert!(high.false_positive_rate <= 0.005, "false positives at 90: {}", high.false_positive_rate);
    }

    #[test]
    fn friendly_fraud_is_hard_to_catch() {
        let (w, test_set) = trained();
        let by = evaluate_by_pattern(w, test_set, 70).expect("fits");
        let recall = |p: &str| by.iter().find(|(q, _)| *q == p).map(|(_, m)| m.recall).expect("pattern present");
        let (friendly, testing) = (recall("friendly_fraud"), recall("card_testing"));
        assert!(friendly < testing, "friendly fraud {friendly} against card testing {testing}");
        assert!(friendly <= 0.3, "friendly fraud is meant to look honest: {friendly}");
        assert!(testing >= 0.85, "card testing {testing}");
        for (p, m) in &by {
            assert_eq!(m.positives > 0, *p != synth::HONEST, "{p}");
        }
    }

    #[test]
    fn training_is_deterministic() {
        let samples = synth::generate(11, 2_000, 0.2);
        let opts = TrainOptions { iterations: 20, version: 7, ..TrainOptions::default() };
        let a = train(&samples, &opts).expect("two classes");
        assert_eq!(a, train(&samples, &opts).expect("two classes"));
        assert_eq!((a.version, a.trained_on, a.metrics.threshold), (7, 2_000, 70));
        assert_eq!(a.metrics.positives, 400);
    }

    #[test]
    fn training_needs_both_classes() {
        let honest = synth::generate(1, 100, 0.0);
        assert_eq!(train(&honest, &TrainOptions::default()), Err(ModelError::OneClass { positives: 0, negatives: 100 }));
        assert!(matches!(train(&[], &TrainOptions::default()), Err(ModelError::OneClass { .. })));
    }

    #[test]
    fn scores_are_0_to_100_whatever_the_input() {
        let w = Weights::baseline();
        let (t, _) = trained();
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1e300, 1e300, 0.0] {
            for model in [&w, t] {
                let s = score(model, &Features([v; N])).expect("fits");
                assert!(s <= 100, "{v}: {s}");
                let p = probability(model, &Features([v; N])).expect("fits");
                assert!((0.0..=1.0).contains(&p), "{v}: {p}");
            }
        }
        // A NaN counter is read as 0, not as a reason.
        let mut f = typical_honest();
        f.0[DECLINES_24H] = f64::NAN;
        assert_eq!(score(&w, &f), score(&w, &typical_honest()));
        // The extremes reach the ends of the scale.
        let mut all = Features([1e9; N]);
        all.0[ACCOUNT_AGE_DAYS] = 0.0;
        assert_eq!(score(&w, &all), Ok(100));
        assert!(score(&w, &Features([0.0; N])).expect("fits") < 5);
    }

    #[test]
    fn weights_from_another_version_are_refused() {
        let f = typical_honest();
        let mut renamed = Weights::baseline();
        renamed.features[3] = "declines_1h".into();
        assert!(matches!(score(&renamed, &f), Err(ModelError::FeatureMismatch { .. })));
        let mut shorter = Weights::baseline();
        shorter.features.pop();
        shorter.weights.pop();
        assert!(matches!(score(&shorter, &f), Err(ModelError::FeatureMismatch { .. })));
        let mut reordered = Weights::baseline();
        reordered.features.swap(0, 1);
        assert!(matches!(evaluate(&reordered, &[], 70), Err(ModelError::FeatureMismatch { .. })));
        assert!(matches!(evaluate_by_pattern(&reordered, &[], 70), Err(ModelError::FeatureMismatch { .. })));
        assert!(matches!(contributions(&reordered, &f), Err(ModelError::FeatureMismatch { .. })));
        let mut few = Weights::baseline();
        few.weights.pop();
        assert_eq!(score(&few, &f), Err(ModelError::WeightCount { weights: N - 1, features: N }));
        let mut nan = Weights::baseline();
        nan.weights[2] = f64::NAN;
        assert_eq!(score(&nan, &f), Err(ModelError::NotFinite { what: "weight for orders_network_1h".into() }));
        let mut inf = Weights::baseline();
        inf.bias = f64::INFINITY;
        assert_eq!(score(&inf, &f), Err(ModelError::NotFinite { what: "bias".into() }));
    }

    #[test]
    fn weights_round_trip_through_json() {
        let (w, _) = trained();
        for model in [Weights::baseline(), w.clone()] {
            let json = serde_json::to_string(&model).expect("json");
            let back: Weights = serde_json::from_str(&json).expect("weights");
            // serde_json reads a float back to within an ulp or so, not always to the bit.
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(1.0);
            assert!(close(back.bias, model.bias));
            assert!(back.weights.iter().zip(&model.weights).all(|(a, b)| close(*a, *b)));
            assert_eq!(back.weights.len(), model.weights.len());
            assert_eq!((&back.features, back.version, back.trained_on), (&model.features, model.version, model.trained_on));
            assert_eq!(back.metrics.tp, model.metrics.tp);
            assert!(close(back.metrics.precision, model.metrics.precision));
            assert_eq!(score(&back, &card_testing()), score(&model, &card_testing()));
        }
        let json = serde_json::to_value(w).expect("json");
        assert_eq!(json["features"][0], "orders_customer_1h");
        assert_eq!(json["metrics"]["threshold"], 70);
        assert!(json["metrics"]["fn_"].is_u64());
    }

    #[test]
    fn contributions_add_up_to_the_logit() {
        let w = Weights::baseline();
        let f = card_testing();
        let parts = contributions(&w, &f).expect("fits");
        let z = w.bias + parts.iter().sum::<f64>();
        let p = probability(&w, &f).expect("fits");
        assert!((sigmoid(z) - p).abs() < 1e-12);
        let top = (0..N).max_by(|&a, &b| parts[a].total_cmp(&parts[b])).expect("features");
        assert_eq!(FEATURES[top], "declines_24h");
    }

    #[test]
    fn metrics_count_and_guard_divisions() {
        let w = Weights::baseline();
        let empty = evaluate(&w, &[], 70).expect("fits");
        assert_eq!(empty, Metrics { threshold: 70, ..Metrics::default() });
        let s = |features, label| Sample { features, label, pattern: "test" };
        let samples = [
            s(card_testing(), true),
            s(typical_honest(), true),
            s(promo_abuse(), false),
            s(typical_honest(), false),
            s(typical_honest(), false),
        ];
        let m = evaluate(&w, &samples, 70).expect("fits");
        assert_eq!((m.tp, m.fn_, m.fp, m.tn), (1, 1, 1, 2));
        assert_eq!((m.positives, m.negatives), (2, 3));
        assert_eq!((m.precision, m.recall), (0.5, 0.5));
        assert!((m.false_positive_rate - 1.0 / 3.0).abs() < 1e-12);
        assert!((m.accuracy - 0.6).abs() < 1e-12);
        // Threshold 0 flags everything, 101 is out of reach of the 0–100 score.
        assert_eq!(evaluate(&w, &samples, 0).expect("fits").recall, 1.0);
        let none = evaluate(&w, &samples, 101).expect("fits");
        assert_eq!((none.tp, none.fp, none.precision), (0, 0, 0.0));
    }
}
