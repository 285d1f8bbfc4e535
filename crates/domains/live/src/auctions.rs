//! Live auctions: a starting price, a bid increment, proxy (maximum) bids — also before the
//! auction opens (pre-bids) — a reserve price, and either a soft close (a bid in the last N
//! seconds resets the clock to N) or sudden death (no extension). Bids are ordered by the
//! database: each one is an optimistic update on the auction's version, retried on a race.
//! The winner pays through an offer reserved for them; an unpaid win can go to the next bidder.

use crate::shows::{Live, LiveError};
use crate::Code;
use lsn_commerce::offers::{self, OfferInput};
use lsn_core::i18n;
use lsn_db::{Row, RowExt};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How long a winner has to pay.
pub const PAY_WITHIN_MS: i64 = 48 * 3600 * 1000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuctionInput {
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub variant_id: Option<String>,
    pub starting_price: i64,
    #[serde(default = "default_increment")]
    pub increment: i64,
    #[serde(default)]
    pub reserve_price: Option<i64>,
    #[serde(default)]
    pub countdown_secs: i64,
    #[serde(default = "default_duration")]
    pub duration_secs: i64,
    #[serde(default = "default_soft_close")]
    pub soft_close_secs: i64,
    #[serde(default)]
    pub sudden_death: bool,
}

fn default_increment() -> i64 {
    100
}
fn default_duration() -> i64 {
    60
}
fn default_soft_close() -> i64 {
    10
}

#[derive(Debug, Clone, Serialize)]
pub struct Auction {
    pub id: String,
    pub show_id: String,
    pub variant_id: String,
    pub starting_price: i64,
    pub increment: i64,
    pub reserve_met: bool,
    pub has_reserve: bool,
    pub soft_close_secs: i64,
    pub sudden_death: bool,
    pub starts_at: i64,
    pub ends_at: i64,
    pub status: String,
    pub price: i64,
    pub leader_id: Option<String>,
    pub bids: i64,
    pub winner_id: Option<String>,
    pub winning_amount: Option<i64>,
    pub deal_id: Option<String>,
    /// The lowest maximum a new bidder may offer now.
    pub minimum_bid: i64,
}

const COLS: &str = "id, show_id, variant_id, starting_price, increment, reserve_price, soft_close_secs, sudden_death, starts_at, ends_at, status, price, leader_id, bids, winner_id, winning_amount, offer_id, leader_max, version";

struct Row2 {
    a: Auction,
    reserve: Option<i64>,
    leader_max: i64,
    version: i64,
}

fn from_row(r: &Row) -> Result<Row2, lsn_db::Error> {
    let reserve: Option<i64> = r.try_get(5)?;
    let price: i64 = r.try_get(11)?;
    let leader: Option<String> = r.try_get(12)?;
    let increment: i64 = r.try_get(4)?;
    let a = Auction {
        id: r.try_get(0)?,
        show_id: r.try_get(1)?,
        variant_id: r.try_get(2)?,
        starting_price: r.try_get(3)?,
        increment,
        reserve_met: reserve.is_none_or(|res| leader.is_some() && price >= res),
        has_reserve: reserve.is_some(),
        soft_close_secs: r.try_get(6)?,
        sudden_death: r.try_get::<i64, _>(7)? == 1,
        starts_at: r.try_get(8)?,
        ends_at: r.try_get(9)?,
        status: r.try_get(10)?,
        minimum_bid: if leader.is_some() { price + increment } else { price },
        price,
        leader_id: leader,
        bids: r.try_get(13)?,
        winner_id: r.try_get(14)?,
        winning_amount: r.try_get(15)?,
        deal_id: r.try_get(16)?,
    };
    Ok(Row2 { a, reserve, leader_max: r.try_get(17)?, version: r.try_get(18)? })
}

fn invalid(field: &str, msg: &str) -> LiveError {
    LiveError::Validation(json!({ field: msg }))
}

fn rule(code: Code, message: impl Into<String>) -> LiveError {
    LiveError::Rule { code, message: message.into() }
}

/// The largest bid increment: $100,000.00.
pub const MAX_INCREMENT: i64 = 10_000_000;

/// An amount typed at the edge: from `min` cents to the largest amount LSN takes.
fn bounded(minor: i64, min: i64) -> Result<i64, String> {
    lsn_core::money::bounded(minor, min, lsn_core::money::Currency::Aud)
}

/// The state after `bidder` offers at most `max`: (price, leader, leader_max), or why not.
/// Every sum is checked: whatever the numbers, the price never wraps and never passes the
/// highest maximum offered.
pub fn resolve_bid(
    price: i64,
    increment: i64,
    leader: Option<&str>,
    leader_max: i64,
    bidder: &str,
    max: i64,
) -> Result<(i64, String, i64), (Code, i64)> {
    let plus = |a: i64, b: i64| a.checked_add(b).ok_or((Code::AmountOutOfRange, lsn_core::money::MAX_AMOUNT));
    match leader {
        None if max < price => Err((Code::BidTooLow, price)),
        None => Ok((price, bidder.to_string(), max)),
        Some(l) if l == bidder => {
            if max <= leader_max {
                Err((Code::BidTooLow, plus(leader_max, 1)?))
            } else {
                Ok((price, bidder.to_string(), max))
            }
        }
        Some(l) => {
            let next = plus(price, increment)?;
            if max < next {
                Err((Code::BidTooLow, next))
            } else if max > leader_max {
                Ok((plus(leader_max, increment)?.min(max), bidder.to_string(), max))
            } else {
                // The leader's proxy answers at once.
                Ok((plus(max, increment)?.min(leader_max), l.to_string(), leader_max))
            }
        }
    }
}

impl Live {
    async fn auction_row(&self, id: &str) -> Result<Row2, LiveError> {
        let r = lsn_db::query(&format!("SELECT {COLS} FROM auctions WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.db.write())
            .await?
            .ok_or(LiveError::NotFound)?;
        Ok(from_row(&r)?)
    }

    /// The show's open auction, if any (for a viewer who joins late).
    pub async fn current_auction(&self, show_id: &str) -> Result<Option<Auction>, LiveError> {
        let r =
            lsn_db::query(&format!("SELECT {COLS} FROM auctions WHERE show_id = $1 AND status = 'open' ORDER BY starts_at DESC LIMIT 1"))
                .bind(show_id)
                .fetch_optional(self.db.read())
                .await?;
        Ok(r.map(|r| from_row(&r)).transpose()?.map(|r| r.a))
    }

    pub async fn auction(&self, id: &str) -> Result<Auction, LiveError> {
        Ok(self.auction_row(id).await?.a)
    }

    /// Starts an auction for a variant of the pinned product (host or staff).
    pub async fn start_auction(&self, show_id: &str, user: &lsn_identity::User, d: &AuctionInput) -> Result<Auction, LiveError> {
        let show = self.authorize_host(show_id, user).await?;
        if show.status == "ended" {
            return Err(rule(Code::ShowEnded, i18n::t("live-auction-show-ended")));
        }
        bounded(d.starting_price, 1).map_err(|m| invalid("starting_price", &m))?;
        if !(1..=MAX_INCREMENT).contains(&d.increment) {
            return Err(invalid("increment", &i18n::t("live-increment")));
        }
        if let Some(r) = d.reserve_price {
            bounded(r, d.starting_price).map_err(|m| invalid("reserve_price", &i18n::t_args("live-reserve-price", &[("detail", &m)])))?;
        }
        if !(0..=300).contains(&d.countdown_secs) {
            return Err(invalid("countdown_secs", &i18n::t_args("live-seconds", &[("min", "0"), ("max", "300")])));
        }
        if !(10..=3600).contains(&d.duration_secs) {
            return Err(invalid("duration_secs", &i18n::t_args("live-seconds", &[("min", "10"), ("max", "3600")])));
        }
        if !(1..=120).contains(&d.soft_close_secs) {
            return Err(invalid("soft_close_secs", &i18n::t_args("live-seconds", &[("min", "1"), ("max", "120")])));
        }
        let room = self.hub.room(show_id).await?;
        let pinned = room.pinned().ok_or_else(|| rule(Code::NothingPinned, i18n::t("live-pin-first")))?;
        let key = d.variant_id.clone().or(d.sku.clone()).ok_or_else(|| invalid("sku", &i18n::t("live-sku-of-pinned")))?;
        let product = self.catalog.get(pinned["id"].as_str().unwrap_or_default(), true).await.ok().flatten();
        let variant = product
            .and_then(|p| p.variants.into_iter().find(|v| v.sku == key || v.id == key))
            .ok_or_else(|| invalid("sku", &i18n::t("live-variant-of-pinned")))?;
        let now = self.clock.now_ms();
        let id = lsn_core::ids::new_id();
        let starts_at = now + d.countdown_secs * 1000;
        lsn_db::query(
            "INSERT INTO auctions (id, show_id, variant_id, starting_price, increment, reserve_price, soft_close_secs, sudden_death, starts_at, ends_at, price, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $4, $11)",
        )
        .bind(&id)
        .bind(show_id)
        .bind(&variant.id)
        .bind(d.starting_price)
        .bind(d.increment)
        .bind(d.reserve_price)
        .bind(d.soft_close_secs)
        .bind(i64::from(d.sudden_death))
        .bind(starts_at)
        .bind(starts_at + d.duration_secs * 1000)
        .bind(now)
        .execute(self.db.write())
        .await?;
        let a = self.auction(&id).await?;
        room.publish(
            "auction_started",
            json!({"auction": a, "title": format!("{} — {}", pinned["title"].as_str().unwrap_or(""), variant.title)}),
            true,
        )
        .await;
        let live = self.clone();
        let aid = id.clone();
        tokio::spawn(async move { live.close_when_due(&aid).await });
        Ok(a)
    }

    /// Places a proxy bid: `max` is the most `user` will pay; the price moves only as far as needed.
    pub async fn bid(&self, auction_id: &str, user: &lsn_identity::User, max: i64) -> Result<Auction, LiveError> {
        // Bounded at the edge: no bid can take the price past what an amount may be.
        bounded(max, 1).map_err(|m| invalid("amount", &m))?;
        for _ in 0..20 {
            let row = self.auction_row(auction_id).await?;
            let now = self.clock.now_ms();
            if row.a.status != "open" || now >= row.a.ends_at {
                return Err(rule(Code::AuctionClosed, i18n::t("live-bidding-closed")));
            }
            if row.a.show_id.is_empty() {
                return Err(LiveError::NotFound);
            }
            let (price, leader, leader_max) =
                resolve_bid(row.a.price, row.a.increment, row.a.leader_id.as_deref(), row.leader_max, &user.id, max).map_err(
                    |(code, min)| {
                        rule(code, i18n::t_args("live-bid-at-least", &[("amount", &lsn_core::money::Money::aud(min).to_string())]))
                    },
                )?;
            // Soft close: a bid in the last N seconds puts N seconds back on the clock.
            let open = now >= row.a.starts_at;
            let extend = open && !row.a.sudden_death && row.a.ends_at - now < row.a.soft_close_secs * 1000;
            let ends_at = if extend { now + row.a.soft_close_secs * 1000 } else { row.a.ends_at };
            let r = lsn_db::query("UPDATE auctions SET price = $1, leader_id = $2, leader_max = $3, ends_at = $4, bids = bids + 1, version = version + 1 WHERE id = $5 AND version = $6 AND status = 'open'")
                .bind(price)
                .bind(&leader)
                .bind(leader_max)
                .bind(ends_at)
                .bind(auction_id)
                .bind(row.version)
                .execute(self.db.write())
                .await?;
            if r.rows_affected() == 0 {
                continue;
            }
            lsn_db::query("INSERT INTO auction_bids (id, auction_id, user_id, max_amount, price_after, leader_after, placed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(lsn_core::ids::new_id())
                .bind(auction_id)
                .bind(&user.id)
                .bind(max)
                .bind(price)
                .bind(&leader)
                .bind(now)
                .execute(self.db.write())
                .await?;
            let a = self.auction(auction_id).await?;
            if let Some(room) = self.hub.existing(&a.show_id).await {
                // Every viewer hears this: in the shop's default language, not the bidder's.
                let leader_name = if leader == user.id { user.name.clone() } else { i18n::Locale::default().t("live-leading-bidder") };
                room.publish("bid", json!({"auction_id": a.id, "price": a.price, "leader_id": a.leader_id, "leader_name": leader_name, "bids": a.bids, "minimum_bid": a.minimum_bid, "reserve_met": a.reserve_met}), true).await;
                if extend {
                    room.publish("auction_extended", json!({"auction_id": a.id, "ends_at": a.ends_at}), true).await;
                }
            }
            return Ok(a);
        }
        Err(rule(Code::Busy, i18n::t("live-bids-busy")))
    }

    async fn close_when_due(&self, id: &str) {
        loop {
            let Ok(a) = self.auction(id).await else { return };
            if a.status != "open" {
                return;
            }
            let wait = a.ends_at - self.clock.now_ms();
            if wait <= 0 {
                let _ = self.close_auction(id).await;
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(wait.min(60_000) as u64)).await;
        }
    }

    /// Closes every auction whose time is up (the `auction_close` schedule and tests call this).
    pub async fn close_due_auctions(&self) -> Result<usize, LiveError> {
        let rows = lsn_db::query("SELECT id FROM auctions WHERE status = 'open' AND ends_at <= $1")
            .bind(self.clock.now_ms())
            .fetch_all(self.db.read())
            .await?;
        let mut n = 0;
        for r in rows {
            if self.close_auction(&r.try_get::<String, _>(0)?).await?.is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Closes a due auction: the leader wins when the reserve is met and gets an offer to pay.
    /// Closing and the winner's offer are one transaction, so a crash between the two cannot
    /// leave an auction closed with its winner never offered the item.
    pub async fn close_auction(&self, id: &str) -> Result<Option<Auction>, LiveError> {
        let row = self.auction_row(id).await?;
        let now = self.clock.now_ms();
        if row.a.status != "open" || now < row.a.ends_at {
            return Ok(None);
        }
        let winner = row.a.leader_id.clone().filter(|_| row.reserve.is_none_or(|res| row.a.price >= res));
        let (a, version) = (row.a.clone(), row.version);
        let award = winner.clone().map(|w| (w, row.a.price));
        let closed = self
            .db
            .transaction(move |tx| {
                let (a, award) = (a.clone(), award.clone());
                Box::pin(async move {
                    let closed = lsn_db::query(
                        "UPDATE auctions SET status = 'closed', version = version + 1 WHERE id = $1 AND status = 'open' AND version = $2",
                    )
                    .bind(&a.id)
                    .bind(version)
                    .execute(&mut **tx)
                    .await?;
                    if closed.rows_affected() == 0 {
                        return Ok::<_, LiveError>(None);
                    }
                    match award {
                        Some((w, amount)) => Ok(Some(Some(award_in(tx, now, &a, &w, amount).await?))),
                        None => Ok(Some(None)),
                    }
                })
            })
            .await?;
        let Some(offer) = closed else { return Ok(None) };
        match (winner, offer) {
            (Some(w), Some(offer)) => self.announce_win(&row.a, &w, row.a.price, &offer, false).await?,
            _ => {
                if let Some(room) = self.hub.existing(&row.a.show_id).await {
                    let reason = if row.a.leader_id.is_some() { "reserve_not_met" } else { "no_bids" };
                    room.publish("auction_ended", json!({"auction_id": id, "reason": reason, "price": row.a.price}), true).await;
                }
            }
        }
        Ok(Some(self.auction(id).await?))
    }

    /// Tells the room who won and where to pay.
    async fn announce_win(&self, a: &Auction, winner: &str, amount: i64, offer: &Won, second_chance: bool) -> Result<(), LiveError> {
        let name: String = lsn_db::query("SELECT name FROM user_names WHERE id = $1")
            .bind(winner)
            .fetch_optional(self.db.read())
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or_default();
        if let Some(room) = self.hub.existing(&a.show_id).await {
            room.publish("auction_won", json!({"auction_id": a.id, "winner_id": winner, "winner_name": name, "amount": amount, "deal_id": offer.id, "second_chance": second_chance, "pay_by": offer.pay_by}), true).await;
        }
        Ok(())
    }

    /// Offers an unpaid win to the next-highest bidder at their highest bid (host or staff).
    pub async fn second_chance(&self, auction_id: &str, user: &lsn_identity::User) -> Result<Auction, LiveError> {
        let a = self.auction(auction_id).await?;
        self.authorize_host(&a.show_id, user).await?;
        let (Some(winner), Some(deal)) = (a.winner_id.clone(), a.deal_id.clone()) else {
            return Err(rule(Code::NoWinner, i18n::t("live-no-winner")));
        };
        let offer = offers::get(&self.db, self.clock.now_ms(), &deal).await.map_err(|e| rule(Code::AwardFailed, e.to_string()))?;
        if lsn_commerce::orders::read::paid_for_offer(&self.db, &deal).await? > 0 {
            return Err(rule(Code::AlreadyPaid, i18n::t("live-winner-paid")));
        }
        let next = lsn_db::query("SELECT user_id, MAX(max_amount) FROM auction_bids WHERE auction_id = $1 AND user_id <> $2 GROUP BY user_id ORDER BY MAX(max_amount) DESC LIMIT 1")
            .bind(auction_id)
            .bind(&winner)
            .fetch_optional(self.db.read())
            .await?
            .ok_or_else(|| rule(Code::NoNextBidder, i18n::t("live-no-next-bidder")))?;
        let (next_user, next_max): (String, i64) = (next.try_get(0)?, next.try_get(1)?);
        let amount = next_max.min(a.winning_amount.unwrap_or(next_max));
        let now = self.clock.now_ms();
        let (a2, old_offer, next2) = (a.clone(), offer.id.clone(), next_user.clone());
        let won = self
            .db
            .transaction(move |tx| {
                let (a, old_offer, next) = (a2.clone(), old_offer.clone(), next2.clone());
                Box::pin(async move {
                    offers::withdraw_in(tx, &old_offer).await?;
                    award_in(tx, now, &a, &next, amount).await
                })
            })
            .await?;
        self.announce_win(&a, &next_user, amount, &won, true).await?;
        self.auction(auction_id).await
    }
}

/// The offer a winner pays through.
#[derive(Debug, Clone)]
struct Won {
    id: String,
    pay_by: i64,
}

/// Makes `winner`'s offer for the item at `amount` and records the win, inside `tx`.
async fn award_in(tx: &mut lsn_db::Tx, now: i64, a: &Auction, winner: &str, amount: i64) -> Result<Won, LiveError> {
    let input = OfferInput {
        variant_id: a.variant_id.clone(),
        show_id: Some(a.show_id.clone()),
        price: amount,
        quantity: 1,
        per_customer_limit: Some(1),
        starts_at: now,
        ends_at: now + PAY_WITHIN_MS,
        reserved_for: Some(format!("user:{winner}")),
    };
    let id = offers::create_in(tx, now, &input).await.map_err(|e| match e {
        lsn_commerce::CommerceError::Db(e) => LiveError::Db(e),
        other => rule(Code::AwardFailed, other.to_string()),
    })?;
    lsn_db::query("UPDATE auctions SET winner_id = $1, winning_amount = $2, offer_id = $3 WHERE id = $4")
        .bind(winner)
        .bind(amount)
        .bind(&id)
        .bind(&a.id)
        .execute(&mut **tx)
        .await?;
    Ok(Won { id, pay_by: input.ends_at })
}

#[cfg(test)]
mod tests {
    use super::resolve_bid;
    use crate::Code;

    #[test]
    fn proxy_bidding() {
        // First bid opens at the starting price.
        assert_eq!(resolve_bid(1000, 100, None, 0, "a", 1200), Ok((1000, "a".into(), 1200)));
        assert_eq!(resolve_bid(1000, 100, None, 0, "a", 900), Err((Code::BidTooLow, 1000)));
        // A lower challenger is answered by the leader's proxy.
        assert_eq!(resolve_bid(1000, 100, Some("a"), 1200, "b", 1100), Ok((1200, "a".into(), 1200)));
        // A higher challenger leads, one increment above the old maximum.
        assert_eq!(resolve_bid(1200, 100, Some("a"), 1200, "b", 2000), Ok((1300, "b".into(), 2000)));
        assert_eq!(resolve_bid(1200, 100, Some("a"), 1200, "b", 1250), Err((Code::BidTooLow, 1300)));
        // The leader may raise their own maximum without moving the price.
        assert_eq!(resolve_bid(1300, 100, Some("b"), 2000, "b", 2500), Ok((1300, "b".into(), 2500)));
        // The bid that won an auction for $1.01: refused, never wrapped.
        assert_eq!(resolve_bid(5000, 100, Some("a"), i64::MAX, "b", i64::MAX), Err((Code::AmountOutOfRange, lsn_core::money::MAX_AMOUNT)));
        assert!(super::bounded(i64::MAX, 1).is_err() && super::bounded(0, 1).is_err());
    }
}

#[cfg(test)]
mod properties {
    use super::resolve_bid;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the numbers (even a state no bid could have made), a bid is answered
        /// without overflow, and the leader's maximum is one of the two offered.
        #[test]
        fn bids_never_wrap(price in any::<i64>(), increment in any::<i64>(), leader_max in any::<i64>(), max in any::<i64>(),
                           has_leader in any::<bool>(), same in any::<bool>()) {
            let leader = has_leader.then_some(if same { "b" } else { "a" });
            if let Ok((_, _, m)) = resolve_bid(price, increment, leader, leader_max, "b", max) {
                prop_assert!(m == max || m == leader_max);
            }
        }

        /// Within the edge's bounds (what `bid` lets through), the price only rises, stays
        /// within the top maximum, and follows the increment.
        #[test]
        fn bounded_bids_follow_the_rules(price in 1..=lsn_core::money::MAX_AMOUNT, increment in 1..=super::MAX_INCREMENT,
                                         leader_max in 1..=lsn_core::money::MAX_AMOUNT, max in 1..=lsn_core::money::MAX_AMOUNT) {
            let leader_max = leader_max.max(price);
            match resolve_bid(price, increment, Some("a"), leader_max, "b", max) {
                Ok((p, who, m)) => {
                    prop_assert!(p >= price && p <= max.max(leader_max) && p > 0);
                    prop_assert_eq!(who == "b", max > leader_max);
                    prop_assert_eq!(m, max.max(leader_max));
                }
                Err((code, min)) => {
                    prop_assert_eq!(code, crate::Code::BidTooLow);
                    prop_assert!(max < min);
                }
            }
        }
    }
}
