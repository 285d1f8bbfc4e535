//! Virtual gifts. Viewers buy coin packs — ordinary products, paid through the normal order flow;
//! when the payment succeeds (an outbox event) the coins are credited once per order, as a lot
//! of that order ([`crate::coins`]). A gift debits the sender's wallet with one conditional
//! update, spends the sender's lots oldest first (recording which orders funded it), credits the
//! show's host in the gift ledger, publishes `gift.sent` for the creator ledger, and appears in
//! the room for everyone. A refund or a dispute of a pack takes its coins back and holds or
//! claws back the gift earnings they funded (`gift.funding_changed`, [`crate::coins`]).

use crate::room::Refusal;
use crate::shows::{Live, LiveError};
use lsn_core::i18n;
use lsn_db::RowExt;
use serde_json::{json, Value};

/// The gifts a viewer can send: name, coins.
pub const GIFTS: &[(&str, i64)] = &[("rose", 1), ("heart", 5), ("fire", 20), ("rocket", 100), ("crown", 500)];
/// What a coin is worth to the host, in cents (coins sell at a margin above this).
pub const COIN_VALUE_CENTS: i64 = 1;

/// A gift was sent: `{"gift_id", "show_id", "host_id", "from_user_id", "coins", "value_cents",
/// "currency": "AUD", "at"}` (`at` in Unix ms). The creator ledger credits the host from it.
pub const GIFT_SENT: &str = "gift.sent";
/// The gifts a coin-pack order's coins funded changed standing: `{"order_id", "action": "hold" |
/// "release" | "claw_back", "reason": "refund" | "dispute_opened" | "dispute_won" |
/// "dispute_lost", "gifts": [{"gift_id", "host_id", "value_cents"}]}`, where `value_cents` is
/// the part of each gift's value that order's coins paid for ([`COIN_VALUE_CENTS`] a coin).
pub const GIFT_FUNDING_CHANGED: &str = "gift.funding_changed";

/// Why a gift's transaction gave up: the wallet was short, or (never, while every wallet's
/// balance is the sum of its lots) its lots did not cover what it held.
#[derive(Debug, thiserror::Error)]
enum GiftTxError {
    #[error("the wallet's lots do not cover its balance")]
    Unfunded,
    #[error(transparent)]
    Db(#[from] lsn_db::Error),
}

impl lsn_db::TxError for GiftTxError {
    fn as_db(&self) -> Option<&lsn_db::Error> {
        match self {
            GiftTxError::Db(e) => Some(e),
            GiftTxError::Unfunded => None,
        }
    }
}

impl Live {
    pub async fn coin_balance(&self, user_id: &str) -> Result<i64, LiveError> {
        Ok(lsn_db::query("SELECT balance FROM coin_wallets WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(self.db.read())
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(0))
    }

    /// Marks a variant as a coin pack worth `coins` (staff).
    pub async fn set_coin_pack(&self, variant_id: &str, coins: i64) -> Result<(), LiveError> {
        if !(1..=1_000_000).contains(&coins) {
            return Err(LiveError::Validation(json!({"coins": i18n::t("live-coins")})));
        }
        lsn_db::query(
            "INSERT INTO coin_packs (variant_id, coins) VALUES ($1, $2) ON CONFLICT (variant_id) DO UPDATE SET coins = excluded.coins",
        )
        .bind(variant_id)
        .bind(coins)
        .execute(self.db.write())
        .await?;
        Ok(())
    }

    /// Credits the coins an order bought (idempotent: once per order).
    pub async fn credit_coins_for_order(&self, order_id: &str) -> Result<i64, LiveError> {
        let now = self.clock.now_ms();
        // Most paid orders buy no coins: find that out without taking the writer. An order's
        // lines never change after checkout, so the count holds inside the transaction too.
        let mut coins = 0i64;
        for line in lsn_commerce::orders::read::lines(self.db.read(), order_id).await? {
            let pack: Option<i64> = lsn_db::query("SELECT coins FROM coin_packs WHERE variant_id = $1")
                .bind(&line.variant_id)
                .fetch_optional(self.db.read())
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
            coins = coins.saturating_add(pack.unwrap_or(0).saturating_mul(line.quantity));
        }
        if coins <= 0 {
            return Ok(0);
        }
        let oid = order_id.to_string();
        self.db
            .transaction(move |tx| {
                let oid = oid.clone();
                Box::pin(async move {
                    let Some(Some(user)) = lsn_commerce::orders::read::paid_buyer(&mut **tx, &oid).await? else { return Ok(0) };
                    let ins = lsn_db::query("INSERT INTO coin_ledger (id, user_id, delta, reason, ref, at) VALUES ($1, $2, $3, 'purchase', $4, $5) ON CONFLICT (reason, ref, user_id) DO NOTHING")
                        .bind(lsn_core::ids::new_id())
                        .bind(&user)
                        .bind(coins)
                        .bind(&oid)
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                    if ins.rows_affected() == 0 {
                        return Ok(0);
                    }
                    lsn_db::query("INSERT INTO coin_wallets (user_id, balance) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET balance = coin_wallets.balance + excluded.balance").bind(&user).bind(coins).execute(&mut **tx).await?;
                    lsn_db::query("INSERT INTO coin_lots (id, order_id, user_id, coins, remaining, at) VALUES ($1, $2, $3, $4, $4, $5)")
                        .bind(lsn_core::ids::new_id())
                        .bind(&oid)
                        .bind(&user)
                        .bind(coins)
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                    // Refunded or disputed before its coins came: they arrive taken back or frozen.
                    crate::coins::settle(tx, now, &oid).await?;
                    Ok::<_, LiveError>(coins)
                })
            })
            .await
    }

    /// Sends a gift from `user` to the show's host.
    pub async fn send_gift(&self, show_id: &str, user: &lsn_identity::User, gift: &str) -> Result<Value, Refusal> {
        let Some((name, coins)) = GIFTS.iter().find(|(n, _)| *n == gift).copied() else {
            return Err(Refusal {
                code: "unknown_gift",
                message: i18n::t_args("live-unknown-gift", &[("gifts", &GIFTS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "))]),
            });
        };
        let room = self.hub.room(show_id).await.map_err(|e| Refusal { code: "unavailable", message: e.to_string() })?;
        if user.id == room.host_id {
            return Err(Refusal { code: "forbidden", message: i18n::t("live-no-self-gift") });
        }
        let now = self.clock.now_ms();
        let (uid, host, sid) = (user.id.to_string(), room.host_id.clone(), show_id.to_string());
        let sent = self
            .db
            .transaction(move |tx| {
                let (uid, host, sid) = (uid.clone(), host.clone(), sid.clone());
                Box::pin(async move {
                    let r = lsn_db::query("UPDATE coin_wallets SET balance = balance - $1 WHERE user_id = $2 AND balance >= $1").bind(coins).bind(&uid).execute(&mut **tx).await?;
                    if r.rows_affected() == 0 {
                        return Ok(false);
                    }
                    // The wallet row is locked now: what the sender's lots hold is settled.
                    let lots = lsn_db::query("SELECT id, order_id, remaining FROM coin_lots WHERE user_id = $1 AND remaining > 0 ORDER BY at, id")
                        .bind(&uid)
                        .fetch_all(&mut **tx)
                        .await?
                        .iter()
                        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<Option<String>, _>(1)?, r.try_get::<i64, _>(2)?)))
                        .collect::<Result<Vec<_>, lsn_db::Error>>()?;
                    let takes = crate::coins::take_in_order(&lots.iter().map(|l| l.2).collect::<Vec<_>>(), coins);
                    if takes.iter().sum::<i64>() != coins {
                        return Err(GiftTxError::Unfunded);
                    }
                    let gid = lsn_core::ids::new_id();
                    lsn_db::query("INSERT INTO coin_ledger (id, user_id, delta, reason, ref, at) VALUES ($1, $2, $3, 'gift', $4, $5)").bind(lsn_core::ids::new_id()).bind(&uid).bind(-coins).bind(&gid).bind(now).execute(&mut **tx).await?;
                    lsn_db::query("INSERT INTO gift_ledger (id, show_id, from_user_id, to_user_id, gift, coins, value_cents, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                        .bind(&gid)
                        .bind(&sid)
                        .bind(&uid)
                        .bind(&host)
                        .bind(name)
                        .bind(coins)
                        .bind(coins * COIN_VALUE_CENTS)
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                    for ((lot, order, _), &k) in lots.iter().zip(&takes) {
                        if k == 0 {
                            continue;
                        }
                        let spent = lsn_db::query("UPDATE coin_lots SET remaining = remaining - $1 WHERE id = $2 AND remaining >= $1")
                            .bind(k)
                            .bind(lot)
                            .execute(&mut **tx)
                            .await?;
                        if spent.rows_affected() == 0 {
                            return Err(GiftTxError::Unfunded);
                        }
                        if let Some(order) = order {
                            lsn_db::query("INSERT INTO gift_funding (gift_id, order_id, coins, at) VALUES ($1, $2, $3, $4)")
                                .bind(&gid)
                                .bind(order)
                                .bind(k)
                                .bind(now)
                                .execute(&mut **tx)
                                .await?;
                        }
                    }
                    let event = json!({"gift_id": gid, "show_id": sid, "host_id": host, "from_user_id": uid, "coins": coins, "value_cents": coins * COIN_VALUE_CENTS, "currency": "AUD", "at": now});
                    lsn_ops::publish(tx, now, GIFT_SENT, Some(&gid), &event).await?;
                    Ok::<_, GiftTxError>(true)
                })
            })
            .await
            .map_err(|e| {
                if matches!(e, GiftTxError::Unfunded) {
                    tracing::error!(user = %user.id, "a wallet holds coins its lots do not: gift refused");
                }
                Refusal { code: "unavailable", message: e.to_string() }
            })?;
        if !sent {
            return Err(Refusal {
                code: "insufficient_coins",
                message: i18n::t_args("live-insufficient-coins", &[("gift", name), ("coins", &coins.to_string())]),
            });
        }
        let frame = room
            .publish(
                "gift_sent",
                json!({"from_id": user.id, "from_name": user.name.chars().take(60).collect::<String>(), "gift": name, "coins": coins}),
                true,
            )
            .await;
        Ok(serde_json::from_str(frame.json.as_str()).unwrap_or(Value::Null))
    }

    /// A host's gift earnings not yet paid out, in cents: the gifts' value less what refunds and
    /// lost disputes clawed back and what open disputes hold.
    pub async fn gift_earnings(&self, host_id: &str) -> Result<i64, LiveError> {
        Ok(lsn_db::query(&format!(
            "SELECT CAST(COALESCE(SUM(g.value_cents), 0) - COALESCE((SELECT SUM((f.clawed_back + f.held * (f.coins - f.clawed_back)) * {COIN_VALUE_CENTS}) \
             FROM gift_funding f JOIN gift_ledger h ON h.id = f.gift_id WHERE h.to_user_id = $1 AND h.paid_out = 0), 0) AS BIGINT) \
             FROM gift_ledger g WHERE g.to_user_id = $1 AND g.paid_out = 0"
        ))
        .bind(host_id)
        .fetch_one(self.db.read())
        .await?
        .try_get(0)?)
    }
}

impl Live {
    /// The purchase ticker: when an order attributed to a live show is paid, its room hears
    /// "someone in <suburb> just bought <product>" — no name, no address beyond the suburb.
    pub async fn announce_purchase(&self, order_id: &str) -> Result<bool, LiveError> {
        let Some((Some(show), suburb)) = lsn_commerce::orders::read::origin(&self.db, order_id).await? else { return Ok(false) };
        let Some(room) = self.hub.existing(&show).await else { return Ok(false) };
        let first = lsn_commerce::orders::read::lines(self.db.read(), order_id).await?.into_iter().next();
        let Some(lsn_commerce::orders::read::Line { title, quantity, .. }) = first else { return Ok(false) };
        // Every viewer hears this: `text` is in the shop's default language, and `key` and `args`
        // let a client say it in its viewer's.
        let (key, args) = if suburb.is_empty() {
            ("live-purchase-ticker-nowhere", json!({"title": title}))
        } else {
            ("live-purchase-ticker", json!({"suburb": suburb, "title": title}))
        };
        let text = i18n::Locale::default().t_args(key, &[("suburb", &suburb), ("title", &title)]);
        room.publish(
            "purchase",
            json!({"text": text, "key": key, "args": args, "product": title, "quantity": quantity, "suburb": suburb}),
            false,
        )
        .await;
        Ok(true)
    }
}
