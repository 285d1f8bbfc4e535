use super::*;
use crate::builtin::{FRAUD_REVIEW, PAYOUT_APPROVAL};

fn code(r: Result<Condition, OpsError>) -> &'static str {
    match r {
        Err(OpsError::Rule { code, .. }) => code.as_str(),
        Err(e) => panic!("not a rule: {e}"),
        Ok(_) => "ok",
    }
}

fn rules(kind: PolicyKind, condition: &str) -> Rules {
    Rules {
        kind,
        version: 1,
        condition: compile(&kind, condition).expect("compiles"),
        escalation_threshold: kind.escalation_threshold,
        approval_required: kind.approval_required,
    }
}

fn payout(amount: f64, tier: &str) -> Facts {
    Facts::from_json(&PAYOUT_APPROVAL, &json!({"amount": amount, "creator_tier": tier})).expect("facts")
}

fn fraud(risk: f64) -> Facts {
    Facts::from_json(&FRAUD_REVIEW, &json!({"risk_score": risk, "order_total": 120, "first_order": true, "account_age_days": 3}))
        .expect("facts")
}

#[test]
fn and_or_not_become_cels_operators_outside_string_literals() {
    assert_eq!(translate("risk_score > 70 AND risk_score < 90"), "risk_score > 70 && risk_score < 90");
    assert_eq!(translate("NOT a OR b"), "! a || b");
    // Inside literals, in longer words and in lower case they stay as written.
    assert_eq!(translate("name == 'AND OR' AND BRAND == \"NOT\""), "name == 'AND OR' && BRAND == \"NOT\"");
    assert_eq!(translate(r#"x == 'it\'s AND' OR y"#), r#"x == 'it\'s AND' || y"#);
    assert_eq!(translate("x == '''a ' AND b''' AND y"), "x == '''a ' AND b''' && y");
    assert_eq!(translate(r"x == r'a\' AND y"), r"x == r'a\' && y");
    assert_eq!(translate("ANDY and ORDER"), "ANDY and ORDER");
    assert_eq!(translate("x == 'unclosed AND"), "x == 'unclosed AND");
    assert_eq!(translate("tier == 'été' AND ok"), "tier == 'été' && ok");
}

#[test]
fn the_runbooks_conditions_decide_as_written() {
    let f = rules(FRAUD_REVIEW, FRAUD_REVIEW.condition);
    assert_eq!(f.decide(&fraud(50.0)).expect("runs").outcome, Outcome::Deny);
    assert_eq!(f.decide(&fraud(70.0)).expect("runs").outcome, Outcome::Deny);
    assert_eq!(f.decide(&fraud(70.5)).expect("runs").outcome, Outcome::Allow);
    assert_eq!(f.decide(&fraud(89.9)).expect("runs").outcome, Outcome::Allow);
    // Escalate at 90.
    let v = f.decide(&fraud(90.0)).expect("runs");
    assert_eq!((v.outcome, v.matched, v.over_threshold), (Outcome::Escalate, false, true));

    let p = rules(PAYOUT_APPROVAL, PAYOUT_APPROVAL.condition);
    assert_eq!(p.decide(&payout(500.0, "silver")).expect("runs").outcome, Outcome::Allow);
    assert_eq!(p.decide(&payout(120.0, "platinum")).expect("runs").outcome, Outcome::Allow);
    assert_eq!(p.decide(&payout(120.0, "bronze")).expect("runs").outcome, Outcome::Deny);
    // Escalate above 500.
    assert_eq!(p.decide(&payout(500.01, "gold")).expect("runs").outcome, Outcome::Escalate);
    // approval_required: what would be allowed goes to a person.
    let strict = Rules { approval_required: true, ..p.clone() };
    assert_eq!(strict.decide(&payout(100.0, "gold")).expect("runs").outcome, Outcome::Escalate);
    assert_eq!(strict.decide(&payout(100.0, "bronze")).expect("runs").outcome, Outcome::Deny);
}

#[test]
fn tiers_compare_by_rank_not_by_spelling() {
    // Lexicographically 'gold' < 'silver'; by rank it is above.
    let at_least_silver = rules(PAYOUT_APPROVAL, "creator_tier >= 'silver'");
    for (tier, want) in [("bronze", false), ("silver", true), ("gold", true), ("platinum", true)] {
        assert_eq!(at_least_silver.condition.run(&payout(1.0, tier)), Ok(want), "{tier}");
    }
    let below_gold = rules(PAYOUT_APPROVAL, "'gold' > creator_tier");
    assert_eq!(below_gold.condition.run(&payout(1.0, "silver")), Ok(true));
    assert_eq!(below_gold.condition.run(&payout(1.0, "platinum")), Ok(false));
    let listed = rules(PAYOUT_APPROVAL, "creator_tier in ['gold', 'platinum'] OR creator_tier == 'bronze'");
    assert_eq!(listed.condition.run(&payout(1.0, "gold")), Ok(true));
    assert_eq!(listed.condition.run(&payout(1.0, "silver")), Ok(false));
    assert_eq!(listed.condition.run(&payout(1.0, "bronze")), Ok(true));
    let not = rules(PAYOUT_APPROVAL, "NOT (creator_tier < 'gold') AND amount * 2 <= 1000");
    assert_eq!(not.condition.run(&payout(500.0, "gold")), Ok(true));
    assert_eq!(not.condition.run(&payout(500.0, "silver")), Ok(false));
}

#[test]
fn a_bad_condition_is_refused_with_its_code() {
    let k = &PAYOUT_APPROVAL;
    assert_eq!(code(compile(k, "amount <= 500 AND")), "invalid_condition");
    assert_eq!(code(compile(k, "amount <=")), "invalid_condition");
    assert_eq!(code(compile(k, "   ")), "invalid_condition");
    assert_eq!(code(compile(k, "amount_usd <= 500")), "unknown_fact");
    assert_eq!(code(compile(k, "creator.tier == 'gold'")), "unknown_fact");
    assert_eq!(code(compile(k, "creator_tier >= 'silverr'")), "unknown_member");
    assert_eq!(code(compile(k, "creator_tier in ['gold', 'diamond']")), "unknown_member");
    assert_eq!(code(compile(k, "amount > 'silver'")), "condition_type_mismatch");
    assert_eq!(code(compile(k, "creator_tier > 2")), "condition_type_mismatch");
    assert_eq!(code(compile(k, "amount AND creator_tier == 'gold'")), "condition_type_mismatch");
    assert_eq!(code(compile(k, "NOT amount > 5")), "condition_type_mismatch");
    assert_eq!(code(compile(k, "amount + 1")), "condition_not_boolean");
    assert_eq!(code(compile(k, "'gold'")), "condition_not_boolean");
    assert_eq!(code(compile(k, "launch_missiles(amount)")), "unknown_function");
    let long = format!("amount > 1{}", " AND amount > 1".repeat(80));
    assert!(long.chars().count() > MAX_CONDITION);
    assert_eq!(code(compile(k, &long)), "condition_too_long");
    // And what is sound passes.
    assert_eq!(code(compile(k, "amount <= 500 && creator_tier >= 'silver' || amount < 10")), "ok");
    assert_eq!(code(compile(&FRAUD_REVIEW, "first_order AND order_total > 1000 OR risk_score >= 80")), "ok");
    assert_eq!(code(compile(&FRAUD_REVIEW, "size(string(order_total)) > 2 AND max(risk_score, 10) > 5")), "ok");
}

#[test]
fn facts_are_checked_before_anything_runs() {
    let k = &PAYOUT_APPROVAL;
    let refused = |v: Value| match Facts::from_json(k, &v) {
        Err(OpsError::Rule { code, .. }) => code.as_str(),
        other => panic!("{v}: {other:?}"),
    };
    assert_eq!(refused(json!({"amount": 10})), "missing_fact");
    assert_eq!(refused(json!({"amount": null, "creator_tier": "gold"})), "missing_fact");
    assert_eq!(refused(json!({"amount": 10, "creator_tier": "gold", "extra": 1})), "unknown_fact");
    assert_eq!(refused(json!({"amount": "NaN", "creator_tier": "gold"})), "invalid_fact");
    assert_eq!(refused(json!({"amount": 1e300, "creator_tier": "gold"})), "invalid_fact");
    assert_eq!(refused(json!({"amount": -1, "creator_tier": "gold"})), "invalid_fact");
    assert_eq!(refused(json!({"amount": 10, "creator_tier": "diamond"})), "invalid_fact");
    assert_eq!(refused(json!([1, 2])), "invalid_fact");
    assert_eq!(payout(10.0, "gold").to_json(), json!({"amount": 10.0, "creator_tier": "gold"}));
}

#[test]
fn a_dry_run_counts_the_outcomes_that_change() {
    let old = rules(PAYOUT_APPROVAL, PAYOUT_APPROVAL.condition);
    let mut cases = Vec::new();
    for (i, (amount, tier)) in
        [(100.0, "bronze"), (100.0, "silver"), (300.0, "gold"), (450.0, "silver"), (900.0, "gold")].iter().enumerate()
    {
        let f = payout(*amount, tier);
        let v = old.decide(&f).expect("runs");
        cases.push(decision(&old, &f, v, Some(&format!("payout-{i}")), false, format!("d{i}"), i as i64));
    }
    // A stricter limit: $400. The $450 silver payout changes from allow to deny.
    let stricter = rules(PAYOUT_APPROVAL, "amount <= 400 AND creator_tier >= 'silver'");
    let r = replay(&stricter, &cases);
    assert_eq!((r.cases, r.changed, r.skipped), (5, 1, 0));
    assert_eq!(r.changes[0]["decision_id"], "d3");
    assert_eq!((r.changes[0]["was"].as_str(), r.changes[0]["now"].as_str()), (Some("allow"), Some("deny")));
    assert_eq!((r.before["allow"], r.after["allow"], r.after["deny"], r.after["escalate"]), (3, 2, 2, 1));
    // Letting bronze in too changes one the other way; the same condition changes none.
    assert_eq!(replay(&rules(PAYOUT_APPROVAL, "amount <= 500"), &cases).changed, 1);
    assert_eq!(replay(&old, &cases).changed, 0);
    // A logged case whose facts no longer check is counted as skipped, not as a change.
    let mut odd = cases[0].clone();
    odd.facts = json!({"amount": 10});
    let r = replay(&old, &[odd]);
    assert_eq!((r.cases, r.changed, r.skipped), (1, 0, 1));
}

#[test]
fn the_builtin_kinds_are_sound() {
    assert_eq!(FRAUD_REVIEW.problems(), Vec::<String>::new());
    assert_eq!(PAYOUT_APPROVAL.problems(), Vec::<String>::new());
    let bad = PolicyKind { escalation_fact: "creator_tier", ..PAYOUT_APPROVAL };
    assert!(bad.problems().iter().any(|p| p.contains("is not a declared number")), "{:?}", bad.problems());
    let bad = PolicyKind { escalation_threshold: 5_000_000.0, ..PAYOUT_APPROVAL };
    assert!(bad.problems().iter().any(|p| p.contains("outside amount's range")));
}
