//! Coin lots: what a refund or a dispute of a coin-pack order does to its coins and to the gift
//! earnings they funded.
//!
//! Every credited coin-pack order is a lot (`coin_lots`: the order, its buyer, its coins and
//! what is left of them). A gift spends its sender's lots oldest first, in the gift's own
//! transaction, and `gift_funding` records how many of each order's coins paid for it; a
//! wallet's balance is always the sum of its lots' `remaining`. Coins credited before lots
//! existed were given lots by the migration (one per purchase, the oldest counted as spent
//! first) and, for a balance no purchase explains, one lot without an order, which nothing can
//! refund; gifts paid from it record no funding.
//!
//! When commerce says an order was refunded or disputed, [`settle`] brings its lot in line with
//! what commerce now holds of the order — the amount refunded for good, its disputes and their
//! outcome — rather than with the event that woke it, so a redelivered event, a retried job or
//! two events landing together change nothing twice, and events applied out of order end in
//! the same state:
//!
//! - **Refund** (full or partial): the lot gives back [`coins_refunded`] of its coins in all —
//!   `coins × refunded ÷ paid`, rounded up in the shop's favour, of the cumulative refunded
//!   amount, so two partial refunds never round twice. They come first from the lot's unspent
//!   coins (the wallet is debited, never below 0), then from coins frozen by an open dispute,
//!   and the rest is the spent share: that many coins of the gifts the order funded are clawed
//!   back, oldest gift first (`gift.funding_changed`, `claw_back`, reason `refund`).
//! - **Dispute opened**: the lot's unspent coins are frozen (out of the wallet) and the gifts it
//!   funded are held (`hold`, `dispute_opened`).
//! - **Dispute closed**: `won` or `warning_closed` (an inquiry that never took the money) →
//!   the frozen coins go back to the wallet and the held gifts are released (`release`,
//!   `dispute_won`); any other outcome (`lost`, `charge_refunded`, `prevented`, …) means the
//!   money is gone → the frozen coins are gone and the held gifts are clawed back (`claw_back`,
//!   `dispute_lost`), naming the gifts and amounts of the hold (less what a refund clawed back
//!   in between, which its own event named).

use crate::gifts::{COIN_VALUE_CENTS, GIFT_FUNDING_CHANGED};
use crate::shows::{Live, LiveError};
use lsn_db::{RowExt, Tx};
use serde_json::{json, Value};

/// Takes up to `want` from `available` in order: how much from each, oldest first. The takes
/// add up to `want` when the available amounts do, else to all of them.
pub fn take_in_order(available: &[i64], want: i64) -> Vec<i64> {
    let mut left = want.max(0);
    available
        .iter()
        .map(|&a| {
            let t = a.max(0).min(left);
            left -= t;
            t
        })
        .collect()
}

/// The coins of a pack of `coins` that refunds of `refunded` of the `paid` cents take back:
/// `coins × refunded ÷ paid` rounded up (the shop's favour), never more than the pack.
pub fn coins_refunded(coins: i64, refunded: i64, paid: i64) -> i64 {
    if coins <= 0 || refunded <= 0 {
        return 0;
    }
    if paid <= 0 || refunded >= paid {
        return coins;
    }
    let (c, r, p) = (i128::from(coins), i128::from(refunded), i128::from(paid));
    i64::try_from((c * r + p - 1) / p).unwrap_or(coins).min(coins)
}

/// Whether a closed dispute left the shop its money: `won`, or an inquiry closed without a
/// chargeback (`warning_closed`). Every other outcome took it.
pub fn money_kept(status: &str) -> bool {
    matches!(status, "won" | "warning_closed")
}

/// A lot as stored.
struct Lot {
    id: String,
    coins: i64,
    remaining: i64,
    frozen: i64,
    refunded: i64,
}

async fn lot(tx: &mut Tx, order_id: &str) -> Result<Option<Lot>, lsn_db::Error> {
    lsn_db::query("SELECT id, coins, remaining, frozen, refunded FROM coin_lots WHERE order_id = $1")
        .bind(order_id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| {
            Ok(Lot { id: r.try_get(0)?, coins: r.try_get(1)?, remaining: r.try_get(2)?, frozen: r.try_get(3)?, refunded: r.try_get(4)? })
        })
        .transpose()
}

/// One gift's funding by the order: the gift, its host, the coins still standing (not clawed
/// back), whether it is held.
struct Funded {
    gift_id: String,
    host_id: String,
    standing: i64,
    held: bool,
}

/// The gifts the order's coins paid for with coins still standing, oldest first.
async fn funded(tx: &mut Tx, order_id: &str) -> Result<Vec<Funded>, lsn_db::Error> {
    lsn_db::query(
        "SELECT f.gift_id, g.to_user_id, f.coins - f.clawed_back, f.held FROM gift_funding f JOIN gift_ledger g ON g.id = f.gift_id \
         WHERE f.order_id = $1 AND f.clawed_back < f.coins ORDER BY f.at, f.gift_id",
    )
    .bind(order_id)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|r| Ok(Funded { gift_id: r.try_get(0)?, host_id: r.try_get(1)?, standing: r.try_get(2)?, held: r.try_get::<i64, _>(3)? == 1 }))
    .collect()
}

/// Publishes `gift.funding_changed` for `(gift, host, coins)` of the order's funding (nothing
/// when no gift is concerned).
async fn funding_changed(
    tx: &mut Tx,
    now: i64,
    order_id: &str,
    action: &str,
    reason: &str,
    gifts: &[(&str, &str, i64)],
) -> Result<(), lsn_db::Error> {
    if gifts.is_empty() {
        return Ok(());
    }
    let list: Vec<Value> = gifts
        .iter()
        .map(|(g, h, coins)| json!({"gift_id": g, "host_id": h, "value_cents": coins.saturating_mul(COIN_VALUE_CENTS)}))
        .collect();
    let payload = json!({"order_id": order_id, "action": action, "reason": reason, "gifts": list});
    lsn_ops::publish(tx, now, GIFT_FUNDING_CHANGED, Some(order_id), &payload).await?;
    Ok(())
}

/// A wallet change in the coin ledger (once per reason and reference).
async fn ledger(tx: &mut Tx, now: i64, user: &str, delta: i64, reason: &str, reference: &str) -> Result<(), lsn_db::Error> {
    if delta == 0 {
        return Ok(());
    }
    lsn_db::query("INSERT INTO coin_ledger (id, user_id, delta, reason, ref, at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (reason, ref, user_id) DO NOTHING")
        .bind(lsn_core::ids::new_id())
        .bind(user)
        .bind(delta)
        .bind(reason)
        .bind(reference)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Takes `coins` out of a wallet, never below 0.
async fn debit(tx: &mut Tx, user: &str, coins: i64) -> Result<(), lsn_db::Error> {
    if coins > 0 {
        lsn_db::query("UPDATE coin_wallets SET balance = CASE WHEN balance >= $1 THEN balance - $1 ELSE 0 END WHERE user_id = $2")
            .bind(coins)
            .bind(user)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl Live {
    /// Brings a coin-pack order's lot in line with its refunds and disputes (see the module
    /// notes). `Ok(false)`: the order bought no coins, or nothing changed. An order without a
    /// lot costs one read and no writer transaction.
    pub async fn settle_coins_for_order(&self, order_id: &str) -> Result<bool, LiveError> {
        let has_lot = lsn_db::query("SELECT id FROM coin_lots WHERE order_id = $1").bind(order_id).fetch_optional(self.db.read()).await?;
        if has_lot.is_none() {
            return Ok(false);
        }
        let now = self.clock.now_ms();
        self.db.transaction_with(order_id.to_string(), move |tx, oid| Box::pin(async move { settle(tx, now, oid).await })).await
    }
}

/// [`Live::settle_coins_for_order`] inside `tx` (also run when a lot is credited, for an order
/// refunded or disputed before its coins were). The buyer's wallet is locked first — the order
/// a gift takes them in — so a gift and a settlement of the same coins run one after the other.
pub(crate) async fn settle(tx: &mut Tx, now: i64, order_id: &str) -> Result<bool, LiveError> {
    let Some(user) = lsn_db::query("SELECT user_id FROM coin_lots WHERE order_id = $1")
        .bind(order_id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get::<String, _>(0))
        .transpose()?
    else {
        return Ok(false);
    };
    lsn_db::query("UPDATE coin_wallets SET balance = balance WHERE user_id = $1").bind(&user).execute(&mut **tx).await?;
    let mut changed = false;
    if let Some((paid, refunded)) = lsn_commerce::orders::read::refunded(&mut **tx, order_id).await? {
        changed |= refund(tx, now, order_id, &user, paid, refunded).await?;
    }
    let applied = lsn_db::query("SELECT dispute_id, status FROM coin_lot_disputes WHERE order_id = $1")
        .bind(order_id)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
        .collect::<Result<std::collections::HashMap<_, _>, lsn_db::Error>>()?;
    let mut open = applied.iter().find(|(_, s)| s.as_str() == "open").map(|(d, _)| d.clone());
    for d in lsn_commerce::orders::read::disputes(&mut **tx, order_id).await? {
        match applied.get(&d.id).map(String::as_str) {
            Some("open") => {}
            Some(_) => continue,
            None if open.is_some() => continue, // one dispute at a time; this one after the open one closes
            None => {
                dispute_opened(tx, now, order_id, &user, &d.id).await?;
                open = Some(d.id.clone());
                changed = true;
            }
        }
        if d.closed {
            dispute_closed(tx, now, order_id, &user, &d.id, money_kept(&d.status)).await?;
            open = None;
            changed = true;
        }
    }
    Ok(changed)
}

/// Takes back what the order's refunds so far owe of its coins and have not taken yet.
async fn refund(tx: &mut Tx, now: i64, order_id: &str, user: &str, paid: i64, refunded: i64) -> Result<bool, LiveError> {
    let Some(l) = lot(tx, order_id).await? else { return Ok(false) };
    let target = coins_refunded(l.coins, refunded, paid);
    if target <= l.refunded {
        return Ok(false);
    }
    let need = target - l.refunded;
    let unspent = need.min(l.remaining);
    let frozen = (need - unspent).min(l.frozen);
    let spent = need - unspent - frozen;
    let r = lsn_db::query(
        "UPDATE coin_lots SET remaining = remaining - $1, frozen = frozen - $2, refunded = $3 WHERE id = $4 AND refunded = $5",
    )
    .bind(unspent)
    .bind(frozen)
    .bind(target)
    .bind(&l.id)
    .bind(l.refunded)
    .execute(&mut **tx)
    .await?;
    if r.rows_affected() == 0 {
        return Ok(false);
    }
    debit(tx, user, unspent).await?;
    ledger(tx, now, user, -unspent, "refund", &format!("{order_id}:{target}")).await?;
    if spent > 0 {
        let gifts = funded(tx, order_id).await?;
        let takes = take_in_order(&gifts.iter().map(|g| g.standing).collect::<Vec<_>>(), spent);
        let mut clawed = Vec::new();
        for (g, &k) in gifts.iter().zip(&takes) {
            if k == 0 {
                continue;
            }
            lsn_db::query("UPDATE gift_funding SET clawed_back = clawed_back + $1 WHERE gift_id = $2 AND order_id = $3")
                .bind(k)
                .bind(&g.gift_id)
                .bind(order_id)
                .execute(&mut **tx)
                .await?;
            clawed.push((g.gift_id.as_str(), g.host_id.as_str(), k));
        }
        funding_changed(tx, now, order_id, "claw_back", "refund", &clawed).await?;
    }
    Ok(true)
}

/// Freezes the lot's unspent coins and holds the gifts it funded.
async fn dispute_opened(tx: &mut Tx, now: i64, order_id: &str, user: &str, dispute_id: &str) -> Result<(), LiveError> {
    let Some(l) = lot(tx, order_id).await? else { return Ok(()) };
    lsn_db::query("UPDATE coin_lots SET frozen = frozen + remaining, remaining = 0 WHERE id = $1").bind(&l.id).execute(&mut **tx).await?;
    debit(tx, user, l.remaining).await?;
    ledger(tx, now, user, -l.remaining, "dispute_frozen", dispute_id).await?;
    let gifts: Vec<Funded> = funded(tx, order_id).await?.into_iter().filter(|g| !g.held).collect();
    lsn_db::query("UPDATE gift_funding SET held = 1 WHERE order_id = $1 AND held = 0 AND clawed_back < coins")
        .bind(order_id)
        .execute(&mut **tx)
        .await?;
    let list: Vec<_> = gifts.iter().map(|g| (g.gift_id.as_str(), g.host_id.as_str(), g.standing)).collect();
    funding_changed(tx, now, order_id, "hold", "dispute_opened", &list).await?;
    lsn_db::query("INSERT INTO coin_lot_disputes (order_id, dispute_id, status, at) VALUES ($1, $2, 'open', $3)")
        .bind(order_id)
        .bind(dispute_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Ends a dispute: the frozen coins and held gifts back when the money stayed, gone when not.
async fn dispute_closed(tx: &mut Tx, now: i64, order_id: &str, user: &str, dispute_id: &str, kept: bool) -> Result<(), LiveError> {
    let closed =
        lsn_db::query("UPDATE coin_lot_disputes SET status = $1, at = $2 WHERE order_id = $3 AND dispute_id = $4 AND status = 'open'")
            .bind(if kept { "won" } else { "lost" })
            .bind(now)
            .bind(order_id)
            .bind(dispute_id)
            .execute(&mut **tx)
            .await?;
    let Some(l) = lot(tx, order_id).await? else { return Ok(()) };
    if closed.rows_affected() == 0 {
        return Ok(());
    }
    let gifts: Vec<Funded> = funded(tx, order_id).await?.into_iter().filter(|g| g.held).collect();
    let list: Vec<_> = gifts.iter().map(|g| (g.gift_id.as_str(), g.host_id.as_str(), g.standing)).collect();
    if kept {
        lsn_db::query("UPDATE coin_lots SET remaining = remaining + frozen, frozen = 0 WHERE id = $1")
            .bind(&l.id)
            .execute(&mut **tx)
            .await?;
        if l.frozen > 0 {
            lsn_db::query("UPDATE coin_wallets SET balance = balance + $1 WHERE user_id = $2")
                .bind(l.frozen)
                .bind(user)
                .execute(&mut **tx)
                .await?;
        }
        ledger(tx, now, user, l.frozen, "dispute_released", dispute_id).await?;
        lsn_db::query("UPDATE gift_funding SET held = 0 WHERE order_id = $1 AND held = 1").bind(order_id).execute(&mut **tx).await?;
        funding_changed(tx, now, order_id, "release", "dispute_won", &list).await?;
    } else {
        lsn_db::query("UPDATE coin_lots SET lost = lost + frozen, frozen = 0 WHERE id = $1").bind(&l.id).execute(&mut **tx).await?;
        lsn_db::query("UPDATE gift_funding SET clawed_back = coins, held = 0 WHERE order_id = $1 AND held = 1")
            .bind(order_id)
            .execute(&mut **tx)
            .await?;
        funding_changed(tx, now, order_id, "claw_back", "dispute_lost", &list).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refunds_take_back_their_share_rounded_up() {
        assert_eq!(coins_refunded(100, 149, 149), 100, "a full refund takes the pack");
        assert_eq!(coins_refunded(100, 0, 149), 0);
        assert_eq!(coins_refunded(100, 50, 149), 34, "33.56 coins round up");
        assert_eq!(coins_refunded(100, 1, 1_000_000), 1, "any refund takes a coin");
        assert_eq!(coins_refunded(100, 500, 149), 100, "never more than the pack");
        assert_eq!(coins_refunded(i64::MAX, i64::MAX - 1, i64::MAX), i64::MAX - 1, "no overflow");
    }

    #[test]
    fn money_is_kept_only_when_the_dispute_is_won() {
        assert!(money_kept("won") && money_kept("warning_closed"));
        for s in ["lost", "charge_refunded", "prevented", "closed", ""] {
            assert!(!money_kept(s), "{s}");
        }
    }

    proptest! {
        /// Spending takes the oldest lots first, never more than a lot holds, exactly what is
        /// asked when the lots hold it and everything they hold when they do not.
        #[test]
        fn spending_is_oldest_first(lots in proptest::collection::vec(0i64..1_000, 0..12), want in 0i64..8_000) {
            let takes = take_in_order(&lots, want);
            prop_assert_eq!(takes.len(), lots.len());
            let total: i64 = lots.iter().sum();
            prop_assert_eq!(takes.iter().sum::<i64>(), want.min(total));
            for (i, (&t, &a)) in takes.iter().zip(&lots).enumerate() {
                prop_assert!((0..=a).contains(&t));
                // A younger lot is touched only when every older one is empty.
                if t > 0 {
                    prop_assert!(takes[..i].iter().zip(&lots[..i]).all(|(t, a)| t == a));
                }
            }
        }

        /// A refund's share is the exact share rounded up: never below it, less than a coin
        /// above it, never more than the pack.
        #[test]
        fn refund_shares_round_in_the_shops_favour(coins in 1i64..100_000, paid in 1i64..1_000_000, a in 0i64..1_000_000) {
            let refunded = a.min(paid);
            let taken = coins_refunded(coins, refunded, paid);
            prop_assert!(i128::from(taken) * i128::from(paid) >= i128::from(coins) * i128::from(refunded));
            prop_assert!(i128::from(taken - 1) * i128::from(paid) < i128::from(coins) * i128::from(refunded) || taken == 0);
            prop_assert!(taken <= coins);
        }
    }
}
