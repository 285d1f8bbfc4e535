use crate::common::{au, config, iban, sqlite, transfer, uk};
use crate::fake_wise::{self, FakeWise, PROFILE, TOKEN};
use lsn_payouts::signature::{sandbox_sign, SANDBOX_PUBLIC_PEM};
use lsn_payouts::{PayoutError, PayoutProvider, State, Wise};

async fn client(base: &str, db: lsn_db::Db, extra: &[(&str, &str)]) -> Wise {
    let mut pairs = vec![("WISE_API_TOKEN", TOKEN), ("WISE_API_BASE", base), ("WISE_WEBHOOK_PUBLIC_KEY", SANDBOX_PUBLIC_PEM)];
    pairs.extend_from_slice(extra);
    Wise::from_config(&config(&pairs), db).expect("config").expect("wise configured")
}

fn created(f: &FakeWise) -> usize {
    f.lock().transfers.len()
}

#[tokio::test]
async fn a_batch_is_paid_once_however_often_it_is_sent() {
    let (f, base) = fake_wise::start().await;
    let t = sqlite().await;
    let wise = client(&base, t.db.clone(), &[]).await;
    let batch = vec![transfer(au("062-000", "12345678"), "AUD", 12_345), transfer(iban(), "EUR", 5_000), transfer(uk(), "GBP", 999)];
    let first = wise.pay(&batch).await.expect("pay");
    let refs: Vec<String> = first
        .iter()
        .map(|r| {
            let s = r.as_ref().expect("paid");
            assert_eq!(s.state, State::Processing);
            s.provider_ref.clone()
        })
        .collect();
    assert_eq!(created(&f), 3);
    {
        let s = f.lock();
        // The business profile was found, one group made, completed and funded, each transfer once.
        assert!(s.requests.iter().any(|(m, p)| m == "GET" && p == "/v2/profiles"));
        assert_eq!(s.groups.len(), 1);
        assert!(s.groups.values().all(|g| g["status"] == "COMPLETED" && g["funded"] == true));
        assert!(s.fundings.values().all(|n| *n == 1) && s.fundings.len() == 3);
        let t = &s.transfers[&refs[0].parse::<i64>().expect("id")];
        assert_eq!(t["customerTransactionId"], batch[0].payout_id.as_str());
        assert_eq!(t["targetValue"], 123.45);
        assert_eq!(t["details"]["reference"], "LSN 2026-07");
        let r = &s.recipients[&t["targetAccount"].as_i64().expect("recipient")];
        assert_eq!(r["details"]["bsbCode"], "062000");
        assert_eq!(r["type"], "australian");
    }
    // The same batch again (a retried job): the same transfers, nothing new, nothing funded twice.
    let again = wise.pay(&batch).await.expect("pay again");
    let refs2: Vec<String> = again.iter().map(|r| r.as_ref().expect("paid").provider_ref.clone()).collect();
    assert_eq!(refs, refs2);
    assert_eq!(created(&f), 3);
    assert!(f.lock().fundings.values().all(|n| *n == 1));
    // A new client (a restarted process) over the same database: still three.
    let restarted = client(&base, t.db.clone(), &[]).await;
    restarted.pay(&batch).await.expect("pay after restart");
    assert_eq!(created(&f), 3);
    assert_eq!(wise.state(&refs[1]).await.expect("state"), State::Processing);
    assert!(matches!(wise.state("99999").await, Err(PayoutError::UnknownTransfer(_))));
}

#[tokio::test]
async fn bad_bank_details_are_refused_before_anything_is_sent() {
    let (f, base) = fake_wise::start().await;
    let t = sqlite().await;
    let wise = client(&base, t.db.clone(), &[]).await;
    let out = wise.pay(&[transfer(au("06200", "12345678"), "AUD", 100)]).await.expect("pay");
    assert!(matches!(&out[0], Err(PayoutError::Invalid(i)) if i.field == "bsb" && i.message.contains("6 digits")));
    assert!(f.lock().requests.is_empty(), "nothing reaches Wise");
    // In a batch, the bad one is refused and the others paid.
    let batch = vec![transfer(au("062000", "123"), "AUD", 100), transfer(au("062000", "12345678"), "AUD", 100), transfer(uk(), "AUD", 100)];
    let out = wise.pay(&batch).await.expect("pay");
    assert!(matches!(&out[0], Err(PayoutError::Invalid(i)) if i.field == "account_number"));
    assert!(out[1].is_ok());
    assert!(matches!(&out[2], Err(PayoutError::Invalid(i)) if i.field == "currency"));
    assert_eq!(created(&f), 1);
    assert_eq!(f.lock().recipients.len(), 1);
}

#[tokio::test]
async fn rate_limits_and_outages_are_retryable_and_a_retry_pays_once() {
    let (f, base) = fake_wise::start().await;
    let t = sqlite().await;
    let wise = client(&base, t.db.clone(), &[("WISE_PROFILE_ID", &PROFILE.to_string())]).await;
    let batch: Vec<_> = (0..3).map(|i| transfer(au("062000", &format!("1234567{i}")), "AUD", 1_000)).collect();

    // 429 on the batch group: the whole call is retryable.
    {
        let mut s = f.lock();
        s.limit_next = 1;
        s.limit_path = "batch-groups".into();
    }
    match wise.pay(&batch).await {
        Err(PayoutError::Unavailable(m)) => assert!(m.contains("retry after 3 s"), "{m}"),
        other => panic!("a 429 is retryable: {other:?}"),
    }
    assert!(!f.lock().requests.iter().any(|(_, p)| p == "/v2/profiles"), "WISE_PROFILE_ID is used as set");

    // 429 on a recipient: that payout (and those not yet sent) retry later, none is lost.
    {
        let mut s = f.lock();
        s.limit_next = 1;
        s.limit_path = "/v1/accounts".into();
    }
    let out = wise.pay(&batch).await.expect("pay");
    assert!(out.iter().any(|r| matches!(r, Err(PayoutError::Unavailable(_)))));
    let out = wise.pay(&batch).await.expect("retry");
    assert!(out.iter().all(|r| r.is_ok()), "{out:?}");
    assert_eq!(created(&f), 3);

    // Funding fails (a 500, as if the process died before funding): the transfers wait in an
    // open group; the next run finishes that group instead of making new transfers.
    let batch2: Vec<_> = (0..2).map(|i| transfer(au("062000", &format!("2234567{i}")), "AUD", 1_000)).collect();
    f.lock().fail_funding = 1;
    let out = wise.pay(&batch2).await.expect("pay");
    assert!(out.iter().all(|r| matches!(r, Err(PayoutError::Unavailable(_)))), "{out:?}");
    assert_eq!(created(&f), 5);
    let out = wise.pay(&batch2).await.expect("retry");
    assert!(out.iter().all(|r| matches!(r, Ok(s) if s.state == State::Processing)), "{out:?}");
    assert_eq!(created(&f), 5);
    let s = f.lock();
    assert_eq!(s.fundings.len(), 5);
    assert!(s.fundings.values().all(|n| *n == 1));
}

#[tokio::test]
async fn a_balance_too_low_waits_and_the_next_run_funds_it() {
    let (f, base) = fake_wise::start().await;
    let t = sqlite().await;
    let wise = client(&base, t.db.clone(), &[]).await;
    f.lock().balance = 500;
    let batch = vec![transfer(au("062000", "12345678"), "AUD", 1_000)];
    let out = wise.pay(&batch).await.expect("pay");
    assert!(matches!(&out[0], Err(PayoutError::Unavailable(m)) if m.contains("too low")), "{out:?}");
    f.lock().balance = 100_000;
    let out = wise.pay(&batch).await.expect("pay");
    assert!(matches!(&out[0], Ok(s) if s.state == State::Processing), "{out:?}");
    assert_eq!(created(&f), 1);
    assert_eq!(f.lock().balance, 99_000);
}

#[tokio::test]
async fn a_wrong_token_is_rejected() {
    let (_f, base) = fake_wise::start().await;
    let t = sqlite().await;
    let cfg = config(&[("WISE_API_TOKEN", "nope"), ("WISE_API_BASE", &base), ("WISE_WEBHOOK_PUBLIC_KEY", SANDBOX_PUBLIC_PEM)]);
    let wise = Wise::from_config(&cfg, t.db.clone()).expect("config").expect("wise");
    match wise.pay(&[transfer(uk(), "GBP", 100)]).await {
        Err(PayoutError::Rejected(m)) => assert!(m.contains("unauthorized") || m.contains("authentication"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_fake_holds_quotes_to_wise_rules() {
    let (_f, base) = fake_wise::start().await;
    let http = reqwest::Client::new();
    let both = serde_json::json!({"sourceCurrency": "AUD", "targetCurrency": "USD", "sourceAmount": 10, "targetAmount": 10});
    let r = http.post(format!("{base}/v3/profiles/{PROFILE}/quotes")).bearer_auth(TOKEN).json(&both).send().await.expect("send");
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().await.expect("json");
    assert!(body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("exactly one")));
    let r = http.get(format!("{base}/v2/profiles")).send().await.expect("send");
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn webhooks_are_verified_by_their_signature() {
    let t = sqlite().await;
    let wise = client("http://127.0.0.1:9", t.db.clone(), &[]).await;
    let body = br#"{"data":{"resource":{"id":50000001,"profile_id":202,"account_id":70001,"type":"transfer"},"current_state":"outgoing_payment_sent","previous_state":"funds_converted","occurred_at":"2026-07-01T01:02:03Z"},"subscription_id":"s","event_type":"transfers#state-change","schema_version":"2.0.0","sent_at":"2026-07-01T01:02:04Z"}"#;
    let mut h = http::HeaderMap::new();
    h.insert("x-signature-sha256", sandbox_sign(body).parse().expect("header"));
    h.insert("x-delivery-id", "d-1".parse().expect("header"));
    let events = wise.parse_webhook(&h, body).expect("verified");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].provider_ref, "50000001");
    assert_eq!(events[0].state, State::Sent);
    assert_eq!(events[0].occurred_at_ms, 1_782_867_723_000);
    assert_eq!(events[0].delivery_id.as_deref(), Some("d-1"));
    // Tampered body, missing header, another key's signature: refused.
    let tampered = String::from_utf8_lossy(body).replace("outgoing_payment_sent", "bounced_back");
    assert_eq!(wise.parse_webhook(&h, tampered.as_bytes()), Err(PayoutError::Signature));
    assert_eq!(wise.parse_webhook(&http::HeaderMap::new(), body), Err(PayoutError::Signature));
    let mut bad = h.clone();
    bad.insert("x-signature-sha256", "AAAA".parse().expect("header"));
    assert_eq!(wise.parse_webhook(&bad, body), Err(PayoutError::Signature));
    // A signed test ping: nothing to do.
    let mut ping = h.clone();
    ping.insert("x-test-notification", "true".parse().expect("header"));
    assert_eq!(wise.parse_webhook(&ping, body), Ok(vec![]));
    // Another event type: nothing to do.
    let other = br#"{"data":{},"event_type":"balances#credit","schema_version":"2.0.0"}"#;
    let mut h2 = http::HeaderMap::new();
    h2.insert("x-signature-sha256", sandbox_sign(other).parse().expect("header"));
    assert_eq!(wise.parse_webhook(&h2, other), Ok(vec![]));
}

#[tokio::test]
async fn against_wise_sandbox_the_sandbox_key_is_the_default_and_production_needs_one() {
    let t = sqlite().await;
    let cfg = config(&[("WISE_API_TOKEN", "t"), ("WISE_API_BASE", "https://api.sandbox.transferwise.tech")]);
    let wise = Wise::from_config(&cfg, t.db.clone()).expect("config").expect("wise");
    // Wise's own test vector.
    let body = r#"{"data":{"resource":{"id":49983981,"profile_id":16055450,"account_id":14124090,"type":"transfer"},"current_state":"incoming_payment_waiting","previous_state":null,"occurred_at":"2021-08-23T10:12:50Z"},"subscription_id":"90aa8e14-4ef1-4a56-861c-f3c9cde097ea","event_type":"transfers#state-change","schema_version":"2.0.0","sent_at":"2021-08-23T10:12:50Z"}"#;
    let sig = "wKcKCYXAzxNgiu7xmoDm943NUni7Rz33QN8JkEA9dWSGebgndonabgSj18Y4C08OrwVmueGsED2s00M7DtJVcYKOS1i3G4TMVx+mgM3aL9djMBkQtiYNBFUd6wrPI7ZUNHv/TrlKSjTMc+6JFvUvJ7owY3z85e3I4jLRLJowMFvO8kvCJ60+1pY9wDwZvtZ//WS93LrwGjk9Dvwzpmu0w+P4J75tETT5qC3Uv0y5G2yO8SEoO3yNP/tg/BOli02niHb53vEOUWUb9bly6thnfMoXoiV/osoGxgF20R58RlvkAmezyyl1Sv542TfS2DpiwVnmjjjkCyXeSUcKookYLQ==";
    let mut h = http::HeaderMap::new();
    h.insert("x-signature-sha256", sig.parse().expect("header"));
    let events = wise.parse_webhook(&h, body.as_bytes()).expect("Wise's vector verifies");
    assert_eq!(events[0].provider_ref, "49983981");
    assert_eq!(events[0].state, State::Submitted);
    assert_eq!(events[0].occurred_at_ms, 1_629_713_570_000);

    let prod = config(&[("WISE_API_TOKEN", "t")]);
    assert!(matches!(Wise::from_config(&prod, t.db.clone()), Err(PayoutError::Rejected(m)) if m.contains("WISE_WEBHOOK_PUBLIC_KEY")));
    let bad = config(&[("WISE_API_TOKEN", "t"), ("WISE_PROFILE_ID", "abc"), ("WISE_WEBHOOK_PUBLIC_KEY", SANDBOX_PUBLIC_PEM)]);
    assert!(Wise::from_config(&bad, t.db.clone()).is_err());
    // Without a token: the sandbox.
    assert_eq!(lsn_payouts::from_config(&config(&[]), t.db.clone()).expect("provider").name(), "sandbox");
    assert_eq!(lsn_payouts::from_config(&cfg, t.db.clone()).expect("provider").name(), "wise");
}
