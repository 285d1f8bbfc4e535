//! Fraud and risk: the feature vector of an order, the learned risk model, the synthetic data.

pub mod features;
pub mod model;
pub mod synth;
