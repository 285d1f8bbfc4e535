//! How long a policy decision takes in memory: compiling the runbook's two conditions, checking
//! the facts and evaluating (the part of a decision in the checkout's path besides the database's
//! read of the active version and the insert of its log row). Prints figures; asserts nothing.
//!
//! `cargo run --release -p lsn-ops --example policybench [decisions]`

use lsn_ops::builtin::{FRAUD_REVIEW, PAYOUT_APPROVAL};
use lsn_ops::policy::{compile, Facts, Rules};
use serde_json::json;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let n: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    for (kind, facts) in [
        (FRAUD_REVIEW, json!({"risk_score": 75, "order_total": 240, "first_order": false, "account_age_days": 400})),
        (PAYOUT_APPROVAL, json!({"amount": 450, "creator_tier": "gold"})),
    ] {
        let start = Instant::now();
        let condition = compile(&kind, kind.condition).map_err(|e| anyhow::anyhow!("{e}"))?;
        let compiled = start.elapsed();
        let rules = Rules {
            kind,
            version: 1,
            condition,
            escalation_threshold: kind.escalation_threshold,
            approval_required: kind.approval_required,
        };
        let checked = Facts::from_json(&kind, &facts).map_err(|e| anyhow::anyhow!("{e}"))?;
        let start = Instant::now();
        let mut allowed = 0u32;
        for _ in 0..n {
            let f = Facts::from_json(&kind, &facts).map_err(|e| anyhow::anyhow!("{e}"))?;
            allowed += u32::from(rules.decide(&f).map_err(|e| anyhow::anyhow!("{e}"))?.matched);
        }
        let with_facts = start.elapsed();
        let start = Instant::now();
        for _ in 0..n {
            allowed += u32::from(rules.decide(&checked).map_err(|e| anyhow::anyhow!("{e}"))?.matched);
        }
        let eval = start.elapsed();
        println!(
            "{:<16} compile {:>7.1} µs · facts checked and decided {:>6.2} µs · decided {:>6.2} µs  ({n} decisions, {allowed} matched)",
            kind.name,
            compiled.as_secs_f64() * 1e6,
            with_facts.as_secs_f64() * 1e6 / f64::from(n),
            eval.as_secs_f64() * 1e6 / f64::from(n),
        );
    }
    Ok(())
}
