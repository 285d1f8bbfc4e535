//! Coin packs that are refunded or charged back: their unspent coins leave the wallet, the gift
//! earnings their spent coins funded are held and clawed back (`gift.funding_changed`), once
//! however often the events arrive, and never more coins than were bought, also while gifts
//! are being sent.

use crate::both;
use crate::common::{deliver_event, json, TestApp};
use lsn_core::Clock;
use lsn_identity::Role;
use serde_json::{json, Value};

/// A pack of 1,000 coins for $100 (free shipping: the order's total is the pack's price).
const PACK_COINS: i64 = 1000;
const PACK_PRICE: i64 = 10_000;

/// A fan with a paid pack and a live show to gift in.
struct Fan {
    client: reqwest::Client,
    csrf: String,
    id: String,
    host: String,
    show: String,
    order: String,
    intent: String,
}

/// A host with a live show, an admin who made COINS-1000 a pack, and a fan who bought one.
async fn fan_with_a_pack(app: &TestApp) -> Fan {
    let host = app.user("host@example.com", Role::Creator).await;
    app.user("admin@example.com", Role::Admin).await;
    let fan = app.user("fan@example.com", Role::Customer).await;
    let (adm, admcsrf) = app.login("admin@example.com").await;
    let (hc, hcsrf) = app.login("host@example.com").await;
    let (fc, fcsrf) = app.login("fan@example.com").await;
    let pack =
        app.product(json!({"title": "1000 Coins", "status": "active", "variants": [{"sku": "COINS-1000", "price": PACK_PRICE}]})).await;
    app.stock(&pack.variants[0].id, 100).await;
    let (s, b) = json(
        adm.post(app.url("/api/v1/live/coin-packs"))
            .header("x-csrf-token", &admcsrf)
            .json(&json!({"sku": "COINS-1000", "coins": PACK_COINS}))
            .send()
            .await
            .expect("pack"),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let order = buy_pack(app, &fc, &fcsrf).await;
    let now = app.clock.now_ms();
    let (s, created) = json(
        hc.post(app.url("/api/v1/live/shows"))
            .header("x-csrf-token", &hcsrf)
            .json(&json!({"title": "Gift Night", "scheduled_at": now}))
            .send()
            .await
            .expect("create"),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let show = created["show"]["id"].as_str().expect("id").to_string();
    let r = hc.post(app.url(&format!("/api/v1/live/shows/{show}/start"))).header("x-csrf-token", &hcsrf).send().await.expect("start");
    assert_eq!(r.status(), 200);
    let o = app.rt.state.commerce.order(&order, &lsn_commerce::orders::Viewer::Staff).await.expect("order");
    assert_eq!((o.status.as_str(), o.total), ("paid", PACK_PRICE));
    let intent = o.payment.as_ref().and_then(|p| p["intent_id"].as_str()).expect("intent").to_string();
    Fan { client: fc, csrf: fcsrf, id: fan.id.to_string(), host: host.id.to_string(), show, order, intent }
}

/// Buys one pack through cart, checkout and the sandbox's card; returns the paid order's id.
async fn buy_pack(app: &TestApp, c: &reqwest::Client, csrf: &str) -> String {
    let r = c.post(app.url("/api/v1/cart/items")).header("x-csrf-token", csrf).json(&json!({"sku": "COINS-1000", "quantity": 1})).send();
    assert_eq!(r.await.expect("add").status(), 200);
    let addr = json!({"name": "F", "line1": "1 A St", "suburb": "Adelaide", "state": "SA", "postcode": "5000"});
    let (s, co) = json(
        c.post(app.url("/api/v1/checkout")).header("x-csrf-token", csrf).json(&json!({"shipping_address": addr})).send().await.expect("co"),
    )
    .await;
    assert_eq!(s, 201, "{co}");
    let oid = co["order"]["id"].as_str().expect("id").to_string();
    let r = c
        .post(app.url(&format!("/api/v1/orders/{oid}/pay")))
        .header("x-csrf-token", csrf)
        .json(&json!({"card_number": "4242424242424242"}))
        .send()
        .await
        .expect("pay");
    assert_eq!(r.status(), 200);
    app.run_jobs().await;
    oid
}

/// Sends a gift over REST: its id, or `None` when refused for want of coins.
async fn gift(app: &TestApp, f: &Fan, gift: &str) -> Option<String> {
    let (s, b) = json(
        f.client
            .post(app.url(&format!("/api/v1/live/shows/{}/gifts", f.show)))
            .header("x-csrf-token", &f.csrf)
            .json(&json!({"gift": gift}))
            .send()
            .await
            .expect("gift"),
    )
    .await;
    match s {
        201 => Some(last_gift(app, &f.id).await),
        402 => None,
        _ => panic!("gift answered {s}: {b}"),
    }
}

async fn last_gift(app: &TestApp, from: &str) -> String {
    let r = lsn_db::query("SELECT id FROM gift_ledger WHERE from_user_id = $1 ORDER BY at DESC, id DESC LIMIT 1")
        .bind(from)
        .fetch_one(app.rt.state.db.read())
        .await
        .expect("gift");
    lsn_db::RowExt::try_get(&r, 0).expect("id")
}

async fn balance(app: &TestApp, user: &str) -> i64 {
    app.rt.state.live.coin_balance(user).await.expect("balance")
}

async fn earnings(app: &TestApp, host: &str) -> i64 {
    app.rt.state.live.gift_earnings(host).await.expect("earnings")
}

/// The payloads published on `topic`, oldest first.
async fn events(app: &TestApp, topic: &str) -> Vec<Value> {
    lsn_db::query("SELECT payload FROM outbox WHERE topic = $1 ORDER BY created_at, id")
        .bind(topic)
        .fetch_all(app.rt.state.db.read())
        .await
        .expect("outbox")
        .iter()
        .map(|r| serde_json::from_str(&lsn_db::RowExt::try_get::<String, _>(r, 0).expect("payload")).expect("json"))
        .collect()
}

async fn funding_events(app: &TestApp) -> Vec<Value> {
    events(app, lsn_live::gifts::GIFT_FUNDING_CHANGED).await
}

/// `(gift_id, host_id, value_cents)` of an event's gifts, as given.
fn gifts_of(e: &Value) -> Vec<(String, String, i64)> {
    e["gifts"]
        .as_array()
        .expect("gifts")
        .iter()
        .map(|g| {
            (
                g["gift_id"].as_str().expect("g").to_string(),
                g["host_id"].as_str().expect("h").to_string(),
                g["value_cents"].as_i64().expect("v"),
            )
        })
        .collect()
}

/// The lot of an order: (remaining, frozen, refunded, lost).
async fn lot(app: &TestApp, order: &str) -> (i64, i64, i64, i64) {
    let r = lsn_db::query("SELECT remaining, frozen, refunded, lost FROM coin_lots WHERE order_id = $1")
        .bind(order)
        .fetch_one(app.rt.state.db.read())
        .await
        .expect("lot");
    use lsn_db::RowExt;
    (r.try_get(0).expect("r"), r.try_get(1).expect("f"), r.try_get(2).expect("t"), r.try_get(3).expect("l"))
}

/// Refunds `amount` (all when `None`) of the order as staff would, then runs the jobs.
async fn refund(app: &TestApp, order: &str, amount: Option<i64>) {
    let r = app.rt.state.commerce.refund("staff", order, amount, "charged back by the bank", false).await.expect("refund");
    assert!(!r.pending, "the sandbox answers at once");
    app.run_jobs().await;
}

/// Publishes `topic` for the order again, as an at-least-once dispatcher may, and runs the jobs.
async fn redeliver(app: &TestApp, topic: &'static str, order: &str) {
    let (o, now) = (order.to_string(), app.clock.now_ms());
    app.rt
        .state
        .db
        .transaction(move |tx| {
            let o = o.clone();
            Box::pin(
                async move { lsn_ops::publish(tx, now, topic, Some(&o), &json!({"order_id": o, "dispute_id": "dp_1"})).await.map(|_| ()) },
            )
        })
        .await
        .expect("publish");
    app.run_jobs().await;
}

async fn dispute(app: &TestApp, f: &Fan, event: &str, kind: &str, status: &str) {
    let e = json!({"id": event, "object": "event", "type": kind, "created": app.clock.now().timestamp(),
        "data": {"object": {"id": "dp_1", "object": "dispute", "payment_intent": f.intent, "amount": PACK_PRICE, "reason": "fraudulent", "status": status}}});
    let (s, b) = deliver_event(app, lsn_commerce::DEV_WEBHOOK_SECRET, &e).await;
    assert_eq!(s, 200, "{b}");
    app.run_jobs().await;
}

async fn a_refund_takes_back_coins_and_claws_back_gifts(app: TestApp) {
    let f = fan_with_a_pack(&app).await;
    assert_eq!(balance(&app, &f.id).await, PACK_COINS);
    let crown = gift(&app, &f, "crown").await.expect("crown");
    let rocket = gift(&app, &f, "rocket").await.expect("rocket");
    assert_eq!((balance(&app, &f.id).await, earnings(&app, &f.host).await), (400, 600));
    // Every gift is an event for the creator ledger, from the gift's own transaction.
    let sent = events(&app, lsn_live::gifts::GIFT_SENT).await;
    assert_eq!(sent.len(), 2);
    let first = &sent[0];
    assert_eq!(
        (first["gift_id"].as_str(), first["show_id"].as_str(), first["host_id"].as_str(), first["from_user_id"].as_str()),
        (Some(crown.as_str()), Some(f.show.as_str()), Some(f.host.as_str()), Some(f.id.as_str()))
    );
    assert_eq!((first["coins"].as_i64(), first["value_cents"].as_i64(), first["currency"].as_str()), (Some(500), Some(500), Some("AUD")));
    assert!(first["at"].as_i64().is_some_and(|t| t > 0), "{first}");

    refund(&app, &f.order, None).await;
    assert_eq!(balance(&app, &f.id).await, 0, "the unspent coins are gone");
    assert_eq!(lot(&app, &f.order).await, (0, 0, PACK_COINS, 0));
    let changed = funding_events(&app).await;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(
        (changed[0]["order_id"].as_str(), changed[0]["action"].as_str(), changed[0]["reason"].as_str()),
        (Some(f.order.as_str()), Some("claw_back"), Some("refund"))
    );
    assert_eq!(gifts_of(&changed[0]), vec![(crown, f.host.clone(), 500), (rocket, f.host.clone(), 100)]);
    assert_eq!(earnings(&app, &f.host).await, 0, "the host's earnings from the pack are clawed back");
    assert_eq!(gift(&app, &f, "rose").await, None);

    // The refund's event again, the job again: nothing changes twice.
    redeliver(&app, lsn_commerce::orders::ORDER_REFUNDED, &f.order).await;
    assert!(!app.rt.state.live.settle_coins_for_order(&f.order).await.expect("settle"));
    assert_eq!(funding_events(&app).await.len(), 1);
    assert_eq!((balance(&app, &f.id).await, earnings(&app, &f.host).await), (0, 0));

    // An order that bought no coins: its refund touches no wallet.
    let p = app.product(json!({"title": "Mug", "status": "active", "variants": [{"sku": "MUG", "price": 2000}]})).await;
    app.stock(&p.variants[0].id, 5).await;
    let (fc, csrf) = (f.client.clone(), f.csrf.clone());
    fc.post(app.url("/api/v1/cart/items"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"sku": "MUG", "quantity": 1}))
        .send()
        .await
        .expect("add");
    let addr = json!({"name": "F", "line1": "1 A St", "suburb": "Adelaide", "state": "SA", "postcode": "5000"});
    let (_, co) = json(
        fc.post(app.url("/api/v1/checkout"))
            .header("x-csrf-token", &csrf)
            .json(&json!({"shipping_address": addr}))
            .send()
            .await
            .expect("co"),
    )
    .await;
    let mug = co["order"]["id"].as_str().expect("id").to_string();
    fc.post(app.url(&format!("/api/v1/orders/{mug}/pay")))
        .header("x-csrf-token", &csrf)
        .json(&json!({"card_number": "4242424242424242"}))
        .send()
        .await
        .expect("pay");
    app.run_jobs().await;
    refund(&app, &mug, None).await;
    assert!(!app.rt.state.live.settle_coins_for_order(&mug).await.expect("settle"), "no lot, nothing to settle");
    assert_eq!(funding_events(&app).await.len(), 1);
}
both!(a_refunded_pack_takes_back_its_coins_and_claws_back_its_gifts, a_refund_takes_back_coins_and_claws_back_gifts);

async fn partial_refunds(app: TestApp) {
    let f = fan_with_a_pack(&app).await;
    let crown = gift(&app, &f, "crown").await.expect("crown");
    assert_eq!(balance(&app, &f.id).await, 500);
    // A third of the money: 333.3 coins, rounded up in the shop's favour, from the unspent ones.
    refund(&app, &f.order, Some(3333)).await;
    assert_eq!(balance(&app, &f.id).await, 500 - 334);
    assert_eq!(lot(&app, &f.order).await, (166, 0, 334, 0));
    assert!(funding_events(&app).await.is_empty(), "no spent coin was touched");
    assert_eq!(earnings(&app, &f.host).await, 500);
    // Three quarters in all: 750 coins, of which 166 were unspent and 250 paid for the crown.
    refund(&app, &f.order, Some(7500 - 3333)).await;
    assert_eq!(balance(&app, &f.id).await, 0);
    assert_eq!(lot(&app, &f.order).await, (0, 0, 750, 0));
    let changed = funding_events(&app).await;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!((changed[0]["action"].as_str(), changed[0]["reason"].as_str()), (Some("claw_back"), Some("refund")));
    assert_eq!(gifts_of(&changed[0]), vec![(crown.clone(), f.host.clone(), 250)]);
    assert_eq!(earnings(&app, &f.host).await, 250, "half the crown stands");
    // The rest: the other half of the crown.
    refund(&app, &f.order, None).await;
    let changed = funding_events(&app).await;
    assert_eq!(changed.len(), 2);
    assert_eq!(gifts_of(&changed[1]), vec![(crown, f.host.clone(), 250)]);
    assert_eq!((earnings(&app, &f.host).await, lot(&app, &f.order).await), (0, (0, 0, PACK_COINS, 0)));
}
both!(partial_refunds_take_back_their_share_of_the_coins, partial_refunds);

async fn dispute_won(app: TestApp) {
    let f = fan_with_a_pack(&app).await;
    let rocket = gift(&app, &f, "rocket").await.expect("rocket");
    dispute(&app, &f, "evt_dp_open", "charge.dispute.created", "needs_response").await;
    assert_eq!(balance(&app, &f.id).await, 0, "the unspent coins are frozen");
    assert_eq!(lot(&app, &f.order).await, (0, 900, 0, 0));
    assert_eq!(gift(&app, &f, "rose").await, None, "frozen coins cannot be gifted");
    assert_eq!(earnings(&app, &f.host).await, 0, "the funded gift is held");
    let changed = funding_events(&app).await;
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!((changed[0]["action"].as_str(), changed[0]["reason"].as_str()), (Some("hold"), Some("dispute_opened")));
    let held = gifts_of(&changed[0]);
    assert_eq!(held, vec![(rocket, f.host.clone(), 100)]);
    // The same dispute again (another event id) and the event redelivered: one hold.
    dispute(&app, &f, "evt_dp_open_again", "charge.dispute.created", "needs_response").await;
    redeliver(&app, lsn_commerce::orders::ORDER_DISPUTED, &f.order).await;
    assert_eq!(funding_events(&app).await.len(), 1);

    dispute(&app, &f, "evt_dp_won", "charge.dispute.closed", "won").await;
    assert_eq!(balance(&app, &f.id).await, 900, "the coins are back");
    assert_eq!(lot(&app, &f.order).await, (900, 0, 0, 0));
    assert_eq!(earnings(&app, &f.host).await, 100);
    let changed = funding_events(&app).await;
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert_eq!((changed[1]["action"].as_str(), changed[1]["reason"].as_str()), (Some("release"), Some("dispute_won")));
    assert_eq!(gifts_of(&changed[1]), held);
    // A late redelivery of the opening does not freeze the coins again, nor does the close twice.
    redeliver(&app, lsn_commerce::orders::ORDER_DISPUTED, &f.order).await;
    redeliver(&app, lsn_commerce::orders::ORDER_DISPUTE_CLOSED, &f.order).await;
    assert_eq!((balance(&app, &f.id).await, funding_events(&app).await.len()), (900, 2));
    assert!(gift(&app, &f, "rose").await.is_some());
}
both!(a_won_dispute_gives_the_coins_back_and_releases_the_gifts, dispute_won);

async fn dispute_lost(app: TestApp) {
    let f = fan_with_a_pack(&app).await;
    let crown = gift(&app, &f, "crown").await.expect("crown");
    let rocket = gift(&app, &f, "rocket").await.expect("rocket");
    // A second pack, bought later: its coins are spent only after the first pack's.
    let later = buy_pack(&app, &f.client, &f.csrf).await;
    assert_eq!(balance(&app, &f.id).await, 400 + PACK_COINS);
    dispute(&app, &f, "evt_dp_open", "charge.dispute.created", "needs_response").await;
    assert_eq!(balance(&app, &f.id).await, PACK_COINS, "the disputed pack's 400 coins are frozen, the other pack's are not");
    let hold = funding_events(&app).await;
    assert_eq!(hold.len(), 1);
    assert_eq!(gifts_of(&hold[0]), vec![(crown, f.host.clone(), 500), (rocket, f.host.clone(), 100)]);
    // Gifting during the dispute spends the other pack.
    let fire = gift(&app, &f, "fire").await.expect("fire");
    assert_eq!(lot(&app, &later).await, (PACK_COINS - 20, 0, 0, 0));
    assert_eq!(earnings(&app, &f.host).await, 20);

    dispute(&app, &f, "evt_dp_lost", "charge.dispute.closed", "lost").await;
    assert_eq!(balance(&app, &f.id).await, PACK_COINS - 20, "the frozen coins are gone");
    assert_eq!(lot(&app, &f.order).await, (0, 0, 0, 400));
    let changed = funding_events(&app).await;
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert_eq!((changed[1]["action"].as_str(), changed[1]["reason"].as_str()), (Some("claw_back"), Some("dispute_lost")));
    assert_eq!(gifts_of(&changed[1]), gifts_of(&hold[0]), "the claw-back names what the hold did");
    assert_eq!(earnings(&app, &f.host).await, 20, "only the gift the other pack paid for stands");
    redeliver(&app, lsn_commerce::orders::ORDER_DISPUTE_CLOSED, &f.order).await;
    redeliver(&app, lsn_commerce::orders::ORDER_DISPUTED, &f.order).await;
    assert_eq!((balance(&app, &f.id).await, funding_events(&app).await.len()), (PACK_COINS - 20, 2));
    let funded: i64 = lsn_db::RowExt::try_get(
        &lsn_db::query("SELECT coins FROM gift_funding WHERE gift_id = $1 AND order_id = $2")
            .bind(&fire)
            .bind(&later)
            .fetch_one(app.rt.state.db.read())
            .await
            .expect("funding"),
        0,
    )
    .expect("coins");
    assert_eq!(funded, 20);
}
both!(a_lost_dispute_takes_the_frozen_coins_and_claws_back_the_gifts, dispute_lost);

/// Gifts sent while the refund lands: the wallet never goes negative and no coin is both spent
/// and taken back.
async fn gifting_while_refunded(app: TestApp) {
    const GIFT: i64 = 20;
    let f = fan_with_a_pack(&app).await;
    // Four senders at once, each gift after the last, so gifts keep landing while the refund does.
    let gifts = futures::future::join_all((0..4).map(|_| async {
        let mut sent = Vec::new();
        for _ in 0..15 {
            sent.push(gift(&app, &f, "fire").await);
        }
        sent
    }));
    let refunds = async {
        refund(&app, &f.order, None).await;
        // A second settlement at once, as a retried job would run it.
        let (a, b) = tokio::join!(app.rt.state.live.settle_coins_for_order(&f.order), app.rt.state.live.settle_coins_for_order(&f.order));
        a.expect("settle");
        b.expect("settle");
    };
    let (sent, ()) = tokio::join!(gifts, refunds);
    app.run_jobs().await;
    let sent = sent.iter().flatten().filter(|g| g.is_some()).count() as i64;
    let taken: i64 = lsn_db::RowExt::try_get(
        &lsn_db::query("SELECT CAST(COALESCE(SUM(-delta), 0) AS BIGINT) FROM coin_ledger WHERE user_id = $1 AND reason = 'refund'")
            .bind(&f.id)
            .fetch_one(app.rt.state.db.read())
            .await
            .expect("ledger"),
        0,
    )
    .expect("sum");
    let wallet = balance(&app, &f.id).await;
    assert!(wallet >= 0);
    assert!(sent * GIFT + taken <= PACK_COINS, "{sent} gifts of {GIFT} and {taken} coins taken back of {PACK_COINS}");
    assert_eq!(wallet, PACK_COINS - sent * GIFT - taken, "every coin is spent, taken back or still in the wallet");
    assert_eq!(wallet, 0, "a full refund leaves nothing of the pack");
    let clawed: i64 = funding_events(&app).await.iter().flat_map(gifts_of).map(|(_, _, v)| v).sum();
    assert_eq!(clawed, sent * GIFT, "every gift the pack paid for is clawed back, once");
    assert_eq!(earnings(&app, &f.host).await, 0);
}
both!(gifts_racing_a_refund_never_spend_refunded_coins, gifting_while_refunded);

/// Wallets from before coin lots: the migration gives each purchase a lot, the oldest spent
/// first, and a balance no purchase explains a lot of its own, so every wallet is the sum of its
/// lots.
async fn lots_are_backfilled(backend: crate::common::Backend) {
    let Some((url, _keep)) = crate::common::fresh_database(backend).await else { return };
    let target = lsn_db::DbTarget::parse(&url).expect("target");
    let db = lsn_db::Db::connect_target(&target, 2, lsn_core::config::Durability::Full, 1).await.expect("open");
    let at = lsn_live::MIGRATIONS.iter().position(|m| m.version == 32).expect("the coin lots step");
    let before: &'static [lsn_db::Migration] = lsn_live::MIGRATIONS.split_at(at).0;
    let earlier = lsn_db::Schema::new(&[
        lsn_db::HISTORY,
        lsn_warehouse::MIGRATIONS,
        lsn_catalog::MIGRATIONS,
        lsn_identity::MIGRATIONS,
        lsn_commerce::MIGRATIONS,
        before,
    ])
    .expect("schema");
    db.migrate(&earlier).await.expect("migrate to before the lots");
    // (user, balance) and (user, order, coins, at) of the purchases.
    let wallets = [("ann", 30), ("bob", 25), ("cat", 7), ("dan", 0)];
    let purchases = [("ann", "o1", 100, 1), ("ann", "o2", 50, 2), ("bob", "o3", 10, 1), ("dan", "o4", 40, 1)];
    for (u, balance) in wallets {
        lsn_db::query("INSERT INTO users (id, name, created_at, updated_at) VALUES ($1, $1, 0, 0)")
            .bind(u)
            .execute(db.write())
            .await
            .expect("user");
        lsn_db::query("INSERT INTO coin_wallets (user_id, balance) VALUES ($1, $2)")
            .bind(u)
            .bind(balance)
            .execute(db.write())
            .await
            .expect("wallet");
    }
    for (u, order, coins, at) in purchases {
        lsn_db::query("INSERT INTO coin_ledger (id, user_id, delta, reason, ref, at) VALUES ($1, $2, $3, 'purchase', $4, $5)")
            .bind(format!("l-{order}"))
            .bind(u)
            .bind(coins)
            .bind(order)
            .bind(at)
            .execute(db.write())
            .await
            .expect("purchase");
    }
    db.migrate(lsn_web::schema()).await.expect("migrate");
    let rows = lsn_db::query("SELECT user_id, COALESCE(order_id, ''), coins, remaining FROM coin_lots ORDER BY user_id, at, id")
        .fetch_all(db.read())
        .await
        .expect("lots");
    use lsn_db::RowExt;
    let lots: Vec<(String, String, i64, i64)> = rows
        .iter()
        .map(|r| (r.try_get(0).expect("u"), r.try_get(1).expect("o"), r.try_get(2).expect("c"), r.try_get(3).expect("r")))
        .collect();
    let own = |u: &str, o: &str, c: i64, r: i64| (u.to_string(), o.to_string(), c, r);
    assert_eq!(
        lots,
        vec![
            own("ann", "o1", 100, 0),
            own("ann", "o2", 50, 30),
            own("bob", "", 15, 15),
            own("bob", "o3", 10, 10),
            own("cat", "", 7, 7),
            own("dan", "o4", 40, 0),
        ]
    );
    db.close().await;
}
crate::both_backends!(coins_bought_before_lots_get_lots, lots_are_backfilled);
