//! Limited offers — a live show's flash deals: one variant at a set price, a quantity that is
//! never exceeded, a time window and a per-customer limit. Claims are conditional counters
//! changed inside the checkout transaction, exactly like stock and discount uses, and given back
//! when the order is cancelled unpaid.

use crate::Code;
use crate::CommerceError;
use lsn_core::i18n;
use lsn_db::{Db, Row, RowExt, Tx};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, Deserialize)]
pub struct OfferInput {
    pub variant_id: String,
    pub show_id: Option<String>,
    pub price: i64,
    pub quantity: i64,
    pub per_customer_limit: Option<i64>,
    pub starts_at: i64,
    pub ends_at: i64,
    /// Only this customer (`user:<id>`) may take it (an auction's winner).
    #[serde(default)]
    pub reserved_for: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Offer {
    pub id: String,
    pub variant_id: String,
    pub sku: String,
    pub title: String,
    pub show_id: Option<String>,
    pub price: i64,
    pub regular_price: i64,
    pub quantity: i64,
    pub sold: i64,
    pub remaining: i64,
    pub per_customer_limit: Option<i64>,
    pub starts_at: i64,
    pub ends_at: i64,
    pub status: &'static str,
    /// Ended early by the host or staff.
    #[serde(skip)]
    pub cancelled: bool,
}

impl Offer {
    /// The status at `now`: ended (cancelled or past its end), sold out, upcoming or active.
    fn status_at(&self, now: i64) -> &'static str {
        if self.cancelled || now >= self.ends_at {
            "ended"
        } else if self.sold >= self.quantity {
            "sold_out"
        } else if now < self.starts_at {
            "upcoming"
        } else {
            "active"
        }
    }
}

/// Buyers of each deal on their way to the claim, on this node. A deal with `remaining` units
/// can be won by no more buyers than that, so once that many are on their way the rest are told
/// it is sold out from memory, instead of each queueing for the database's single writer only to
/// be refused there. The claim inside the transaction stays the authority; a buyer on its way
/// who fails gives its place back.
///
/// It also remembers, for a moment, deals found sold out or ended, so that the crowd arriving
/// after the last unit went is answered without a read each. A unit given back (an unpaid order
/// cancelled, on any node) is offered again within [`CLOSED_FOR_MS`] — at once when it was given
/// back on this node.
///
/// And it keeps each deal's latest read for [`RECENT_MS`], so that a crowd arriving in the same
/// moment shares one read instead of each making its own.
#[derive(Debug, Default)]
pub struct InFlight {
    on_the_way: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    closed: std::sync::Mutex<std::collections::HashMap<String, Closed>>,
    recent: std::sync::Mutex<std::collections::HashMap<String, (i64, Offer)>>,
}

/// How long a deal found sold out or ended is answered from memory.
pub const CLOSED_FOR_MS: i64 = 1_000;

/// How long a deal's read is shared by the buyers arriving after it.
pub const RECENT_MS: i64 = 25;

#[derive(Debug, Clone, Copy)]
struct Closed {
    code: Code,
    until: i64,
    releases: u64,
}

/// Units given back to any offer by this process: a change forgets every remembered sell-out.
static RELEASES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A place on the way to a deal's claim, given back when dropped.
#[derive(Debug)]
pub struct Pass {
    gate: std::sync::Arc<InFlight>,
    offer: String,
    quantity: i64,
}

impl InFlight {
    /// A place for `quantity` units when the buyers already on their way leave room in `remaining`.
    pub fn enter(self: &std::sync::Arc<Self>, offer: &str, quantity: i64, remaining: i64) -> Option<Pass> {
        let mut m = locked(&self.on_the_way);
        let n = m.entry(offer.to_string()).or_insert(0);
        if *n + quantity > remaining {
            return None;
        }
        *n += quantity;
        Some(Pass { gate: self.clone(), offer: offer.to_string(), quantity })
    }

    fn leave(&self, offer: &str, quantity: i64) {
        let mut m = locked(&self.on_the_way);
        if let Some(n) = m.get_mut(offer) {
            *n -= quantity;
            if *n <= 0 {
                m.remove(offer);
            }
        }
    }

    /// The refusal (`deal_sold_out` or `deal_ended`) remembered for `offer`, if still fresh.
    pub fn closed(&self, offer: &str, now: i64) -> Option<Code> {
        let m = locked(&self.closed);
        let c = m.get(offer)?;
        (now < c.until && c.releases == RELEASES.load(std::sync::atomic::Ordering::Acquire)).then_some(c.code)
    }

    /// The deal as read less than [`RECENT_MS`] ago, its status as of `now`.
    pub fn recent(&self, offer: &str, now: i64) -> Option<Offer> {
        let m = locked(&self.recent);
        let (read_at, o) = m.get(offer).filter(|(read_at, _)| now - *read_at < RECENT_MS)?;
        let mut o = o.clone();
        o.status = o.status_at(now.max(*read_at));
        Some(o)
    }

    /// Keeps `offer`, read at `now`, for the buyers right behind.
    pub fn keep(&self, offer: &Offer, now: i64) {
        let mut m = locked(&self.recent);
        if m.len() >= 1_024 {
            m.retain(|_, (read_at, _)| now - *read_at < RECENT_MS);
        }
        m.insert(offer.id.clone(), (now, offer.clone()));
    }

    /// Remembers that `offer` refused a buyer with `code` (only `deal_sold_out` and `deal_ended`
    /// are remembered: the others depend on the buyer).
    pub fn remember_closed(&self, offer: &str, code: Code, now: i64) {
        if !matches!(code, Code::DealSoldOut | Code::DealEnded) {
            return;
        }
        let releases = RELEASES.load(std::sync::atomic::Ordering::Acquire);
        let mut m = locked(&self.closed);
        if m.len() >= 1_024 {
            m.retain(|_, c| c.until > now);
        }
        m.insert(offer.to_string(), Closed { code, until: now + CLOSED_FOR_MS, releases });
    }
}

/// The map behind `m`, even if a thread panicked holding it (every change to it is one step).
fn locked<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Drop for Pass {
    fn drop(&mut self) {
        self.gate.leave(&self.offer, self.quantity);
    }
}

fn invalid(field: &str, msg: &str) -> CommerceError {
    CommerceError::Validation(json!({ field: msg }))
}

const COLS: &str = "o.id, o.variant_id, v.sku, v.product_title || ' — ' || v.title, o.show_id, o.price, v.price, o.quantity, o.sold, o.per_customer_limit, o.starts_at, o.ends_at, o.cancelled";

fn offer_from(r: &Row, now: i64) -> Result<Offer, lsn_db::Error> {
    let (quantity, sold, starts_at, ends_at, cancelled): (i64, i64, i64, i64, i64) =
        (r.try_get(7)?, r.try_get(8)?, r.try_get(10)?, r.try_get(11)?, r.try_get(12)?);
    let mut offer = Offer {
        id: r.try_get(0)?,
        variant_id: r.try_get(1)?,
        sku: r.try_get(2)?,
        title: r.try_get(3)?,
        show_id: r.try_get(4)?,
        price: r.try_get(5)?,
        regular_price: r.try_get(6)?,
        quantity,
        sold,
        remaining: (quantity - sold).max(0),
        per_customer_limit: r.try_get(9)?,
        starts_at,
        ends_at,
        status: "",
        cancelled: cancelled == 1,
    };
    offer.status = offer.status_at(now);
    Ok(offer)
}

/// The newest public deal of a show that is counting down or on sale at `now` and not sold out.
pub async fn current_for_show(db: &Db, now: i64, show_id: &str) -> Result<Option<String>, lsn_db::Error> {
    lsn_db::query(
        "SELECT id FROM offers WHERE show_id = $1 AND cancelled = 0 AND reserved_for IS NULL AND ends_at > $2 AND sold < quantity ORDER BY created_at DESC LIMIT 1",
    )
    .bind(show_id)
    .bind(now)
    .fetch_optional(db.read())
    .await?
    .map(|r| r.try_get(0))
    .transpose()
}

/// Withdraws a deal in `tx` (an auction's win passed to the next bidder): nobody can claim it
/// from then on.
pub async fn withdraw_in(tx: &mut Tx, id: &str) -> Result<(), lsn_db::Error> {
    lsn_db::query("UPDATE offers SET cancelled = 1 WHERE id = $1").bind(id).execute(&mut **tx).await?;
    Ok(())
}

pub async fn get(db: &Db, now: i64, id: &str) -> Result<Offer, CommerceError> {
    let r = lsn_db::query(&format!("SELECT {COLS} FROM offers o JOIN catalog_variants v ON v.id = o.variant_id WHERE o.id = $1"))
        .bind(id)
        .fetch_optional(db.read())
        .await?
        .ok_or(CommerceError::NotFound)?;
    Ok(offer_from(&r, now)?)
}

pub async fn create(db: &Db, now: i64, input: &OfferInput) -> Result<Offer, CommerceError> {
    let input2 = input.clone();
    let id = db
        .transaction(move |tx| {
            let input = input2.clone();
            Box::pin(async move { create_in(tx, now, &input).await })
        })
        .await?;
    get(db, now, &id).await
}

/// Creates an offer inside `tx` (an auction's close and its winner's offer are one change);
/// returns its id. An offer reserved for one buyer (an auction won) is made whatever the
/// product's status now: the buyer has already won it.
pub async fn create_in(tx: &mut Tx, now: i64, input: &OfferInput) -> Result<String, CommerceError> {
    if !(0..=lsn_catalog::MAX_PRICE).contains(&input.price) {
        return Err(invalid("price", &i18n::t("commerce-offer-price")));
    }
    if !(1..=100_000).contains(&input.quantity) {
        return Err(invalid("quantity", &i18n::t("commerce-offer-quantity")));
    }
    if input.per_customer_limit.is_some_and(|l| !(1..=input.quantity).contains(&l)) {
        return Err(invalid("per_customer_limit", &i18n::t("commerce-offer-per-customer")));
    }
    if input.ends_at <= input.starts_at {
        return Err(invalid("ends_at", &i18n::t("commerce-after-start")));
    }
    let v = lsn_db::query("SELECT status, product_status FROM catalog_variants WHERE id = $1")
        .bind(&input.variant_id)
        .fetch_optional(&mut **tx)
        .await?;
    match v {
        Some(_) if input.reserved_for.is_some() => {}
        Some(r) if r.try_get::<String, _>(0)? == "active" && r.try_get::<String, _>(1)? == "active" => {}
        _ => return Err(invalid("variant_id", &i18n::t("commerce-offer-variant"))),
    }
    let id = lsn_core::ids::new_id();
    lsn_db::query("INSERT INTO offers (id, variant_id, show_id, price, quantity, per_customer_limit, starts_at, ends_at, created_at, reserved_for) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(&id)
        .bind(&input.variant_id)
        .bind(&input.show_id)
        .bind(input.price)
        .bind(input.quantity)
        .bind(input.per_customer_limit)
        .bind(input.starts_at)
        .bind(input.ends_at)
        .bind(now)
        .bind(&input.reserved_for)
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

/// Ends an offer early (the host stops the deal).
pub async fn end(db: &Db, id: &str) -> Result<(), CommerceError> {
    lsn_db::query("UPDATE offers SET cancelled = 1 WHERE id = $1").bind(id).execute(db.write()).await?;
    Ok(())
}

/// Takes `qty` units of the offer inside the checkout transaction: for `customer_key` (whom a
/// reserved offer is for), and per customer under every identity in `limit_keys`.
/// Returns the variant, the offer price and the show.
pub async fn claim(
    tx: &mut Tx,
    now: i64,
    offer_id: &str,
    qty: i64,
    customer_key: &str,
    limit_keys: &[String],
) -> Result<(String, i64, Option<String>), CommerceError> {
    if !(1..=1000).contains(&qty) {
        return Err(invalid("quantity", &i18n::t("commerce-offer-claim-quantity")));
    }
    let reserved: Option<Option<String>> = lsn_db::query("SELECT reserved_for FROM offers WHERE id = $1")
        .bind(offer_id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
    match reserved {
        None => return Err(CommerceError::NotFound),
        Some(Some(who)) if who != customer_key => return Err(CommerceError::rule(Code::DealReserved, i18n::t("commerce-deal-reserved"))),
        _ => {}
    }
    let taken = lsn_db::query(
        "UPDATE offers SET sold = sold + $1 WHERE id = $2 AND cancelled = 0 AND starts_at <= $3 AND ends_at > $3 AND sold + $1 <= quantity",
    )
    .bind(qty)
    .bind(offer_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let r = lsn_db::query(
        "SELECT variant_id, price, show_id, per_customer_limit, starts_at, ends_at, cancelled, quantity - sold FROM offers WHERE id = $1",
    )
    .bind(offer_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(CommerceError::NotFound)?;
    let (variant, price, show, limit): (String, i64, Option<String>, Option<i64>) =
        (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
    if taken.rows_affected() == 0 {
        let (starts, ends, cancelled, left): (i64, i64, i64, i64) = (r.try_get(4)?, r.try_get(5)?, r.try_get(6)?, r.try_get(7)?);
        return Err(if now < starts {
            CommerceError::rule(Code::DealNotStarted, i18n::t("commerce-deal-not-started"))
        } else if cancelled == 1 || now >= ends {
            CommerceError::rule(Code::DealEnded, i18n::t("commerce-deal-ended"))
        } else if left > 0 {
            CommerceError::rule(Code::DealQuantityExceeded, i18n::t_args("commerce-deal-only-left", &[("left", &left.to_string())]))
        } else {
            CommerceError::rule(Code::DealSoldOut, i18n::t("commerce-deal-sold-out"))
        });
    }
    if let Some(limit) = limit {
        for key in limit_keys {
            let r = lsn_db::query(
                "INSERT INTO offer_claims (offer_id, customer_key, quantity) SELECT $1, $2, $3 WHERE $3 <= $4 \
                 ON CONFLICT (offer_id, customer_key) DO UPDATE SET quantity = offer_claims.quantity + excluded.quantity WHERE offer_claims.quantity + excluded.quantity <= $4",
            )
            .bind(offer_id)
            .bind(key)
            .bind(qty)
            .bind(limit)
            .execute(&mut **tx)
            .await?;
            if r.rows_affected() == 0 {
                return Err(CommerceError::rule(
                    Code::DealCustomerLimit,
                    i18n::t_args("commerce-deal-per-customer", &[("max", &limit.to_string())]),
                ));
            }
        }
    }
    Ok((variant, price, show))
}

/// Gives an unpaid order's units back to its offer (and to every identity's per-customer count).
pub async fn release(tx: &mut Tx, offer_id: &str, limit_keys: &[String], qty: i64) -> Result<(), lsn_db::Error> {
    RELEASES.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    lsn_db::query("UPDATE offers SET sold = sold - $1 WHERE id = $2 AND sold >= $1").bind(qty).bind(offer_id).execute(&mut **tx).await?;
    for key in limit_keys {
        lsn_db::query("UPDATE offer_claims SET quantity = quantity - $1 WHERE offer_id = $2 AND customer_key = $3 AND quantity >= $1")
            .bind(qty)
            .bind(offer_id)
            .bind(key)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::InFlight;
    use crate::Code;
    use std::sync::Arc;

    #[test]
    fn no_more_buyers_on_their_way_than_units_remain() {
        let gate = Arc::new(InFlight::default());
        let a = gate.enter("deal", 2, 3).expect("room for two");
        let b = gate.enter("deal", 1, 3).expect("room for one more");
        assert!(gate.enter("deal", 1, 3).is_none(), "three units, three on their way");
        assert!(gate.enter("other", 1, 1).is_some(), "deals are counted apart");
        drop(b);
        let c = gate.enter("deal", 1, 3).expect("a failed buyer gives its place back");
        // Once a claim is committed the units count in what remains, not here.
        drop(a);
        assert!(gate.enter("deal", 1, 1).is_none(), "one unit left, one buyer on the way");
        drop(c);
        assert!(gate.on_the_way.lock().expect("lock").is_empty(), "nothing kept for deals nobody is buying");
    }

    #[test]
    fn a_sold_out_deal_is_remembered_for_a_moment() {
        let gate = InFlight::default();
        assert_eq!(gate.closed("deal", 0), None);
        gate.remember_closed("deal", Code::DealCustomerLimit, 0);
        assert_eq!(gate.closed("deal", 0), None, "a refusal that depends on the buyer is not remembered");
        gate.remember_closed("deal", Code::DealSoldOut, 1_000);
        assert_eq!(gate.closed("deal", 1_500), Some(Code::DealSoldOut));
        assert_eq!(gate.closed("other", 1_500), None);
        assert_eq!(gate.closed("deal", 1_000 + super::CLOSED_FOR_MS), None, "forgotten after a moment");
        gate.remember_closed("deal", Code::DealEnded, 5_000);
        assert_eq!(gate.closed("deal", 5_001), Some(Code::DealEnded));
        super::RELEASES.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        assert_eq!(gate.closed("deal", 5_002), None, "a unit given back forgets it");
    }

    #[test]
    fn a_recent_read_is_shared_with_its_status_as_of_now() {
        let gate = InFlight::default();
        let offer = super::Offer {
            id: "deal".into(),
            variant_id: "v".into(),
            sku: "SKU".into(),
            title: "T".into(),
            show_id: None,
            price: 100,
            regular_price: 200,
            quantity: 10,
            sold: 3,
            remaining: 7,
            per_customer_limit: None,
            starts_at: 1_000,
            ends_at: 2_000,
            status: "upcoming",
            cancelled: false,
        };
        gate.keep(&offer, 990);
        assert_eq!(gate.recent("deal", 995).map(|o| o.status), Some("upcoming"));
        assert_eq!(gate.recent("deal", 1_005).map(|o| (o.status, o.remaining)), Some(("active", 7)), "the countdown ends between reads");
        assert!(gate.recent("deal", 990 + super::RECENT_MS).is_none(), "read again after a moment");
        assert!(gate.recent("other", 995).is_none());
    }
}
