use crate::common::{au, both, iban, open_sqlite, sqlite, transfer, uk};
use lsn_core::ManualClock;
use lsn_db::Db;
use lsn_payouts::{Account, Delivery, PayoutError, PayoutProvider, Sandbox, State};
use std::sync::Arc;

const T0: i64 = 1_782_867_723_000;

fn sandbox(db: Db) -> Sandbox {
    Sandbox::new(db).with_clock(Arc::new(ManualClock::at_ms(T0))).with_step_ms(5)
}

fn parsed(s: &Sandbox, d: &[Delivery]) -> Vec<lsn_payouts::Event> {
    d.iter().flat_map(|d| s.parse_webhook(&d.headers, &d.body).expect("a sandbox delivery verifies")).collect()
}

async fn pays_once_and_refuses_what_wise_would(db: Db) {
    let s = sandbox(db.clone());
    let batch = vec![transfer(au("062-000", "12345678"), "AUD", 12_345), transfer(iban(), "EUR", 5_000), transfer(uk(), "GBP", 999)];
    let first = s.pay(&batch).await.expect("pay");
    assert!(first.iter().all(|r| matches!(r, Ok(x) if x.state == State::Submitted)), "{first:?}");
    let again = s.pay(&batch).await.expect("pay again");
    assert_eq!(first, again, "a repeated call answers the same transfers");
    for t in &batch {
        assert_eq!(s.transfers_for(&t.payout_id).await.expect("count"), 1);
    }
    assert_eq!(s.transfers_with_reference("LSN 2026-07").await.expect("count"), 3);
    let stored = s.transfer(&batch[0].payout_id).await.expect("read").expect("stored");
    assert_eq!(stored.account_masked, "BSB 062-*** ****5678");
    assert_eq!(stored.status, "incoming_payment_waiting");

    // Refused, nothing stored: a bad BSB, a bad IBAN, an amount of zero, a Stripe account,
    // the wrong currency for the account.
    let bad = vec![
        transfer(au("0620", "12345678"), "AUD", 100),
        transfer(Account::Iban { iban: "DE89370400440532013001".into(), bic: None }, "EUR", 100),
        transfer(au("062000", "12345678"), "AUD", 0),
        transfer(Account::StripeConnect { account_id: "acct_1X".into() }, "AUD", 100),
        transfer(uk(), "AUD", 100),
    ];
    let out = s.pay(&bad).await.expect("pay");
    let fields: Vec<&str> = out
        .iter()
        .map(|r| match r {
            Err(PayoutError::Invalid(i)) => i.field,
            other => panic!("refused: {other:?}"),
        })
        .collect();
    assert_eq!(fields, ["bsb", "iban", "amount", "account", "currency"]);
    let total: i64 = s.totals().await.expect("totals").iter().map(|(_, n, _)| n).sum();
    assert_eq!(total, 3);

    // The same payout id for another amount: refused, the first transfer stands.
    let mut changed = batch[0].clone();
    changed.amount_minor += 1;
    assert!(matches!(&s.pay(&[changed]).await.expect("pay")[0], Err(PayoutError::Rejected(_))));
    assert!(!s.supports(&Account::StripeConnect { account_id: "acct_1".into() }) && s.supports(&uk()));
}
both!(pays_once_and_refuses_what_wise_would);

async fn plays_wise_state_machine_with_signed_deliveries(db: Db) {
    let s = sandbox(db.clone());
    let ok = transfer(au("062000", "12345678"), "AUD", 1_000);
    let bounce = transfer(au("062000", "12345999"), "AUD", 2_000);
    let out = s.pay(&[ok.clone(), bounce.clone()]).await.expect("pay");
    let ok_ref = out[0].as_ref().expect("ok").provider_ref.clone();
    let bounce_ref = out[1].as_ref().expect("ok").provider_ref.clone();
    assert!(s.advance(T0).await.expect("advance").is_empty(), "nothing due yet");

    // One step: both are processing.
    let d = s.advance(T0 + 5).await.expect("advance");
    let events = parsed(&s, &d);
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.state == State::Processing && e.occurred_at_ms == T0 + 5));
    assert_eq!(s.state(&ok_ref).await.expect("state"), State::Processing);

    // Far later: the rest of the way, oldest change first.
    let d = s.advance(T0 + 1_000).await.expect("advance");
    let events = parsed(&s, &d);
    let ok_states: Vec<State> = events.iter().filter(|e| e.provider_ref == ok_ref).map(|e| e.state).collect();
    let bounce_states: Vec<State> = events.iter().filter(|e| e.provider_ref == bounce_ref).map(|e| e.state).collect();
    assert_eq!(ok_states, [State::Processing, State::Sent]);
    assert_eq!(bounce_states, [State::Processing, State::Sent, State::Returned, State::Returned]);
    assert!(events.windows(2).all(|w| w[0].occurred_at_ms <= w[1].occurred_at_ms));
    assert_eq!(s.state(&ok_ref).await.expect("state"), State::Sent);
    assert_eq!(s.state(&bounce_ref).await.expect("state"), State::Returned);
    assert!(s.advance(T0 + 10_000).await.expect("advance").is_empty(), "final transfers do not move");
    assert!(matches!(s.state("12").await, Err(PayoutError::UnknownTransfer(_))));

    // The body is Wise's v2 shape; every delivery has its own id.
    let v: serde_json::Value = serde_json::from_slice(&d[0].body).expect("json");
    assert_eq!(v["event_type"], "transfers#state-change");
    assert_eq!(v["schema_version"], "2.0.0");
    assert_eq!(v["data"]["resource"]["type"], "transfer");
    assert!(v["data"]["resource"]["id"].is_i64() && v["data"]["previous_state"].is_string());
    let ids: std::collections::HashSet<_> = d.iter().map(|x| x.headers["x-delivery-id"].clone()).collect();
    assert_eq!(ids.len(), d.len());

    // A tampered delivery, or one without its signature, is refused.
    let tampered = String::from_utf8_lossy(&d[0].body).replace("funds_converted", "outgoing_payment_sent");
    assert_eq!(s.parse_webhook(&d[0].headers, tampered.as_bytes()), Err(PayoutError::Signature));
    let mut unsigned = d[0].headers.clone();
    unsigned.remove("x-signature-sha256");
    assert_eq!(s.parse_webhook(&unsigned, &d[0].body), Err(PayoutError::Signature));
}
both!(plays_wise_state_machine_with_signed_deliveries);

async fn duplicate_deliveries_repeat_every_delivery(db: Db) {
    let s = sandbox(db).with_duplicate_deliveries(3).with_bounce_suffix(None);
    s.pay(&[transfer(au("062000", "12345999"), "AUD", 100)]).await.expect("pay");
    let d = s.advance(T0 + 1_000).await.expect("advance");
    // processing, funds_converted, outgoing_payment_sent (no bounce rule) three times over.
    assert_eq!(d.len(), 9);
    assert_eq!(d[0], d[3]);
    assert_eq!(d[2], d[8]);
}
both!(duplicate_deliveries_repeat_every_delivery);

async fn concurrent_runs_pay_once_and_report_each_change_once(db: Db) {
    let s = sandbox(db);
    let batch: Vec<_> = (0..200).map(|i| transfer(au("062000", &format!("{:08}", 10_000_000 + i)), "AUD", 100 + i)).collect();
    let (a, b) = tokio::join!(s.pay(&batch), s.pay(&batch));
    assert_eq!(a.expect("a"), b.expect("b"));
    for t in batch.iter().take(20) {
        assert_eq!(s.transfers_for(&t.payout_id).await.expect("count"), 1);
    }
    let (x, y) = tokio::join!(s.advance(T0 + 5), s.advance(T0 + 5));
    assert_eq!(x.expect("x").len() + y.expect("y").len(), 200, "each change is delivered by one advance");
}
both!(concurrent_runs_pay_once_and_report_each_change_once);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_after_a_restart_pays_nothing_twice() {
    let t = sqlite().await;
    let path = t.path.clone().expect("sqlite path");
    let batch: Vec<_> = (0..50).map(|i| transfer(au("062000", &format!("{:08}", 20_000_000 + i)), "AUD", 500)).collect();
    // A first run pays half the batch, then the process dies.
    let first = sandbox(t.db.clone()).pay(&batch[..25]).await.expect("pay");
    t.db.close().await;
    // The restarted process runs the whole batch again.
    let db = open_sqlite(&path).await;
    let s = sandbox(db);
    let second = s.pay(&batch).await.expect("pay");
    assert_eq!(&second[..25], &first[..]);
    for t in &batch {
        assert_eq!(s.transfers_for(&t.payout_id).await.expect("count"), 1, "paid exactly once");
    }
    let totals = s.totals().await.expect("totals");
    assert_eq!(totals, vec![("incoming_payment_waiting".to_string(), 50, 25_000)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_thousand_transfer_batch_in_one_call() {
    let t = sqlite().await;
    let s = sandbox(t.db.clone());
    let batch: Vec<_> = (0..10_000).map(|i| transfer(au("062000", &format!("{:08}", 30_000_000 + i)), "AUD", 100)).collect();
    let out = s.pay(&batch).await.expect("pay");
    assert!(out.iter().all(Result::is_ok));
    assert_eq!(s.totals().await.expect("totals"), vec![("incoming_payment_waiting".to_string(), 10_000, 1_000_000)]);
    let again = s.pay(&batch).await.expect("pay again");
    assert_eq!(out, again);
    assert_eq!(s.totals().await.expect("totals")[0].1, 10_000);
}
