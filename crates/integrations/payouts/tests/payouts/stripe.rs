use crate::common::{au, config, transfer};
use crate::fake_stripe::{self, KEY};
use lsn_core::stripe_signature::sign;
use lsn_payouts::{Account, PayoutError, PayoutProvider, State, StripeConnect};
use std::time::Duration;

const SECRET: &str = "whsec_connect_test";

fn acct(id: &str) -> Account {
    Account::StripeConnect { account_id: id.into() }
}

fn client(base: &str) -> StripeConnect {
    let cfg = config(&[("STRIPE_SECRET_KEY", KEY), ("STRIPE_API_BASE", base), ("STRIPE_CONNECT_WEBHOOK_SECRET", SECRET)]);
    StripeConnect::from_config(&cfg).expect("a real key").with_retry_base(Duration::from_millis(5))
}

#[tokio::test]
async fn transfers_are_idempotent_on_the_payout_id() {
    let (f, base) = fake_stripe::start().await;
    let stripe = client(&base);
    let batch = vec![transfer(acct("acct_1Creator"), "AUD", 2_500), transfer(acct("acct_2Creator"), "AUD", 1_000)];
    let first = stripe.pay(&batch).await.expect("pay");
    let refs: Vec<String> = first.iter().map(|r| r.as_ref().expect("paid").provider_ref.clone()).collect();
    assert!(first.iter().all(|r| matches!(r, Ok(s) if s.state == State::Sent)));
    {
        let s = f.lock();
        assert_eq!(s.transfers.len(), 2);
        let t = &s.transfers[&refs[0]];
        assert_eq!(t["currency"], "aud");
        assert_eq!(t["amount"], 2_500);
        assert_eq!(t["destination"], "acct_1Creator");
        assert_eq!(t["metadata"]["payout_id"], batch[0].payout_id.as_str());
        assert_eq!(t["transfer_group"], "LSN 2026-07");
        assert_eq!(s.balance, 1_000_000 - 3_500);
    }
    // Retried: Stripe replays the same transfers.
    let again = stripe.pay(&batch).await.expect("pay again");
    let refs2: Vec<String> = again.iter().map(|r| r.as_ref().expect("paid").provider_ref.clone()).collect();
    assert_eq!(refs, refs2);
    assert_eq!(f.lock().transfers.len(), 2);
    // The same payout id with another amount: Stripe's idempotency error, permanent.
    let mut changed = batch[0].clone();
    changed.amount_minor = 9_999;
    assert!(matches!(&stripe.pay(&[changed]).await.expect("pay")[0], Err(PayoutError::Rejected(m)) if m.contains("same parameters")));
    assert_eq!(f.lock().transfers.len(), 2);

    assert_eq!(stripe.state(&refs[0]).await.expect("state"), State::Sent);
    f.reverse(&refs[0]);
    assert_eq!(stripe.state(&refs[0]).await.expect("state"), State::Returned);
    assert!(matches!(stripe.state("tr_missing").await, Err(PayoutError::UnknownTransfer(_))));
    assert!(matches!(stripe.state("../etc").await, Err(PayoutError::UnknownTransfer(_))));
}

#[tokio::test]
async fn refusals_and_outages() {
    let (f, base) = fake_stripe::start().await;
    let stripe = client(&base);
    // Not a connected account, or a malformed one: refused before anything is sent.
    let out = stripe.pay(&[transfer(au("062000", "12345678"), "AUD", 100), transfer(acct("cus_1"), "AUD", 100)]).await.expect("pay");
    assert!(matches!(&out[0], Err(PayoutError::Invalid(i)) if i.field == "account"));
    assert!(matches!(&out[1], Err(PayoutError::Invalid(i)) if i.field == "account_id"));
    assert_eq!(f.lock().posts, 0);
    assert!(!stripe.supports(&au("062000", "12345678")) && stripe.supports(&acct("acct_1")));
    // An account Stripe does not know.
    assert!(
        matches!(&stripe.pay(&[transfer(acct("acct_9Unknown"), "AUD", 100)]).await.expect("pay")[0], Err(PayoutError::Invalid(i)) if i.field == "account_id")
    );
    // The platform balance too low: retry later.
    f.lock().balance = 50;
    assert!(matches!(&stripe.pay(&[transfer(acct("acct_1Creator"), "AUD", 100)]).await.expect("pay")[0], Err(PayoutError::Unavailable(_))));
    f.lock().balance = 10_000;
    // A 503 before Stripe executed: retried with the same key, one transfer.
    f.lock().unavailable_next = 1;
    let out = stripe.pay(&[transfer(acct("acct_1Creator"), "AUD", 100)]).await.expect("pay");
    assert!(out[0].is_ok(), "{out:?}");
    assert_eq!(f.lock().transfers.len(), 1);
    // Down for longer than the retries: Unavailable.
    f.lock().unavailable_next = 10;
    assert!(matches!(&stripe.pay(&[transfer(acct("acct_1Creator"), "AUD", 100)]).await.expect("pay")[0], Err(PayoutError::Unavailable(_))));
    // A wrong key.
    let cfg = config(&[("STRIPE_SECRET_KEY", "sk_test_wrong"), ("STRIPE_API_BASE", &base)]);
    let wrong = StripeConnect::from_config(&cfg).expect("client");
    assert!(matches!(&wrong.pay(&[transfer(acct("acct_1Creator"), "AUD", 100)]).await.expect("pay")[0], Err(PayoutError::Rejected(_))));
}

#[test]
fn only_a_real_key_makes_a_stripe_connect_provider() {
    assert!(lsn_payouts::stripe_connect_from_config(&config(&[])).is_none());
    assert!(lsn_payouts::stripe_connect_from_config(&config(&[("STRIPE_SECRET_KEY", "placeholder")])).is_none());
    let p = lsn_payouts::stripe_connect_from_config(&config(&[("STRIPE_SECRET_KEY", "sk_test_123")])).expect("provider");
    assert_eq!(p.name(), "stripe_connect");
}

#[test]
fn webhooks() {
    let stripe = StripeConnect::new(lsn_core::Secret::new(KEY), None, Some(lsn_core::Secret::new(SECRET)), Duration::from_secs(1));
    let now = chrono::Utc::now().timestamp();
    let signed = |body: &str, t: i64| {
        let mut h = http::HeaderMap::new();
        h.insert("stripe-signature", format!("t={t},v1={}", sign(SECRET, t, body.as_bytes())).parse().expect("header"));
        h
    };
    let created = r#"{"id":"evt_1","object":"event","type":"transfer.created","created":1782867723,"data":{"object":{"id":"tr_1","object":"transfer","amount":100,"amount_reversed":0,"reversed":false,"metadata":{"payout_id":"p-1"}}}}"#;
    let events = stripe.parse_webhook(&signed(created, now), created.as_bytes()).expect("verified");
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            events[0].provider_ref.as_str(),
            events[0].payout_id.as_deref(),
            events[0].state,
            events[0].occurred_at_ms,
            events[0].delivery_id.as_deref()
        ),
        ("tr_1", Some("p-1"), State::Sent, 1_782_867_723_000, Some("evt_1"))
    );
    let reversed = created
        .replace("transfer.created", "transfer.reversed")
        .replace(r#""amount_reversed":0,"reversed":false"#, r#""amount_reversed":100,"reversed":true"#);
    assert_eq!(stripe.parse_webhook(&signed(&reversed, now), reversed.as_bytes()).expect("verified")[0].state, State::Returned);
    let partial = created.replace("transfer.created", "transfer.reversed").replace(r#""amount_reversed":0"#, r#""amount_reversed":40"#);
    assert_eq!(stripe.parse_webhook(&signed(&partial, now), partial.as_bytes()), Ok(vec![]));
    let other = created.replace("transfer.created", "transfer.updated");
    assert_eq!(stripe.parse_webhook(&signed(&other, now), other.as_bytes()), Ok(vec![]));
    // Tampered, stale, missing, another secret.
    assert_eq!(stripe.parse_webhook(&signed(created, now), reversed.as_bytes()), Err(PayoutError::Signature));
    assert_eq!(stripe.parse_webhook(&signed(created, now - 400), created.as_bytes()), Err(PayoutError::Signature));
    assert_eq!(stripe.parse_webhook(&http::HeaderMap::new(), created.as_bytes()), Err(PayoutError::Signature));
    let mut h = http::HeaderMap::new();
    h.insert("stripe-signature", format!("t={now},v1={}", sign("whsec_other", now, created.as_bytes())).parse().expect("header"));
    assert_eq!(stripe.parse_webhook(&h, created.as_bytes()), Err(PayoutError::Signature));
}
