//! The commission ledger: append-only, one row per movement, unique per (creator, kind, source,
//! ref) so a redelivered event or a retried job writes nothing twice. A creator's balance is the
//! sum of their entries; `pending` ones are in the holding period, `approved` ones are payable.
//!
//! - a commission (per attributed order line) or a gift's earnings enter `pending`, payable
//!   after the holding period (`hold_days`, default 30);
//! - a refund reverses the order's commission in proportion (cumulatively): while the
//!   commission is pending the `reversal` is pending too (the source nets to what is left),
//!   once approved it is a `clawback` taken from the balance (which may go below zero and is
//!   then made good by later earnings before anything is paid);
//! - a dispute holds the source: pending earnings are not approved while it is open, approved
//!   ones are taken out of the balance by a `hold` entry; a won dispute `release`s them, a lost
//!   one reverses them (the hold stays as the clawback);
//! - a payout is a negative approved entry written with the payout, a failed or returned
//!   payout gives it back (`payout_return`).

use crate::{share, Creators, CreatorsError};
use lsn_db::RowExt;
use serde::Serialize;
use serde_json::{json, Value};

/// One movement to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub creator_id: String,
    pub kind: &'static str,
    pub source_kind: &'static str,
    pub source_id: String,
    pub reference: String,
    pub amount: i64,
    pub status: &'static str,
    pub available_at: i64,
    pub note: String,
}

impl Entry {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        creator: &str,
        kind: &'static str,
        source_kind: &'static str,
        source: &str,
        reference: &str,
        amount: i64,
        status: &'static str,
        available_at: i64,
        note: &str,
    ) -> Self {
        Entry {
            creator_id: creator.to_string(),
            kind,
            source_kind,
            source_id: source.to_string(),
            reference: reference.to_string(),
            amount,
            status,
            available_at,
            note: note.chars().take(200).collect(),
        }
    }
}

/// Writes entries (each once: a repeated one is skipped); how many were new.
pub async fn insert(tx: &mut lsn_db::Tx, now: i64, entries: &[Entry]) -> Result<u64, lsn_db::Error> {
    let mut n = 0;
    for chunk in entries.chunks(100) {
        let sql = format!(
            "INSERT INTO creator_ledger (id, creator_id, kind, source_kind, source_id, ref, amount, currency, status, available_at, note, created_at) VALUES {} \
             ON CONFLICT (creator_id, kind, source_id, ref) DO NOTHING",
            lsn_ops::jobs::rows(chunk.len(), 12)
        );
        let mut q = lsn_db::query(&sql);
        for e in chunk {
            q = q
                .bind(lsn_core::ids::new_id())
                .bind(&e.creator_id)
                .bind(e.kind)
                .bind(e.source_kind)
                .bind(&e.source_id)
                .bind(&e.reference)
                .bind(e.amount)
                .bind("AUD")
                .bind(e.status)
                .bind(e.available_at)
                .bind(&e.note)
                .bind(now);
        }
        n += q.execute(&mut **tx).await?.rows_affected();
    }
    Ok(n)
}

/// A creator's money, in cents.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Balance {
    /// In the holding period.
    pub pending: i64,
    /// Payable now (approved, less what payouts took).
    pub available: i64,
    /// Held while a dispute is open (already out of `available`).
    pub held: i64,
    /// Paid out and not returned.
    pub paid: i64,
    /// Earned in all (commissions and gifts, before reversals).
    pub earned: i64,
    /// Reversed by refunds and lost disputes.
    pub reversed: i64,
}

/// What one source (an order, a gift) stands at for a creator.
struct Source {
    creator_id: String,
    source_kind: String,
    earned: i64,
    reversed: i64,
    status: String,
    available_at: i64,
}

impl Creators {
    pub async fn balance(&self, creator_id: &str) -> Result<Balance, CreatorsError> {
        let r = lsn_db::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN status = 'pending' THEN amount ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN status = 'approved' THEN amount ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN kind IN ('hold', 'release') THEN -amount ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN kind IN ('payout', 'payout_return') THEN -amount ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN kind IN ('commission', 'gift') THEN amount ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN kind IN ('reversal', 'clawback') THEN -amount ELSE 0 END), 0) AS BIGINT) \
             FROM creator_ledger WHERE creator_id = $1",
        )
        .bind(creator_id)
        .fetch_one(self.db.read())
        .await?;
        // Money of a lost dispute stays in its hold entry: count it as reversed, not held.
        let lost: i64 = lsn_db::query("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM creator_holds WHERE creator_id = $1 AND status = 'lost' AND ref LIKE 'approved:%'")
            .bind(creator_id)
            .fetch_one(self.db.read())
            .await?
            .try_get(0)?;
        let held: i64 = r.try_get(2)?;
        let reversed: i64 = r.try_get(5)?;
        Ok(Balance {
            pending: r.try_get(0)?,
            available: r.try_get(1)?,
            held: held - lost,
            paid: r.try_get(3)?,
            earned: r.try_get(4)?,
            reversed: reversed + lost,
        })
    }

    /// The entries of a creator, newest first.
    pub async fn entries(&self, creator_id: &str, limit: i64) -> Result<Vec<Value>, CreatorsError> {
        let rows = lsn_db::query(&format!(
            "SELECT id, kind, source_kind, source_id, ref, amount, currency, status, available_at, note, created_at FROM creator_ledger WHERE creator_id = $1 ORDER BY created_at DESC, id DESC LIMIT {}",
            limit.clamp(1, 1000)
        ))
        .bind(creator_id)
        .fetch_all(self.db.read())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(json!({"id": r.try_get::<String, _>(0)?, "kind": r.try_get::<String, _>(1)?, "source_kind": r.try_get::<String, _>(2)?, "source_id": r.try_get::<String, _>(3)?,
                    "ref": r.try_get::<String, _>(4)?, "amount": r.try_get::<i64, _>(5)?, "currency": r.try_get::<String, _>(6)?, "status": r.try_get::<String, _>(7)?,
                    "available_at": r.try_get::<i64, _>(8)?, "note": r.try_get::<String, _>(9)?, "created_at": r.try_get::<i64, _>(10)?}))
            })
            .collect::<Result<_, lsn_db::Error>>()
            .map_err(Into::into)
    }

    /// What each creator earned from `source_id` and what was already reversed.
    async fn sources(&self, source_id: &str) -> Result<Vec<Source>, CreatorsError> {
        let rows = lsn_db::query(
            "SELECT creator_id, MIN(source_kind), \
                    CAST(COALESCE(SUM(CASE WHEN kind IN ('commission', 'gift') THEN amount ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN kind IN ('reversal', 'clawback') THEN -amount ELSE 0 END), 0) AS BIGINT), \
                    MIN(CASE WHEN kind IN ('commission', 'gift') THEN status END), MIN(available_at) \
             FROM creator_ledger WHERE source_id = $1 GROUP BY creator_id",
        )
        .bind(source_id)
        .fetch_all(self.db.read())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Source {
                    creator_id: r.try_get(0)?,
                    source_kind: r.try_get(1)?,
                    earned: r.try_get(2)?,
                    reversed: r.try_get(3)?,
                    status: r.try_get::<Option<String>, _>(4)?.unwrap_or_else(|| "approved".into()),
                    available_at: r.try_get(5)?,
                })
            })
            .collect::<Result<_, lsn_db::Error>>()
            .map_err(Into::into)
    }

    /// Reverses `amount` more of a source's earnings: pending while the earnings are, else a
    /// clawback from the balance. `reference` makes it happen once.
    async fn reverse(&self, s: &Source, source_id: &str, amount: i64, reference: &str, note: &str) -> Result<u64, CreatorsError> {
        let amount = amount.min(s.earned - s.reversed);
        if amount <= 0 {
            return Ok(0);
        }
        let kind_src = if s.source_kind == "gift" { "gift" } else { "order" };
        let e = if s.status == "pending" {
            Entry::new(&s.creator_id, "reversal", kind_src, source_id, reference, -amount, "pending", s.available_at, note)
        } else {
            Entry::new(&s.creator_id, "clawback", kind_src, source_id, reference, -amount, "approved", s.available_at, note)
        };
        let now = self.clock.now_ms();
        Ok(self
            .db
            .transaction(move |tx| {
                let e = e.clone();
                Box::pin(async move { insert(tx, now, &[e]).await })
            })
            .await?)
    }

    /// A refund of an order (full or in part): its commission reversed in the refunded share.
    pub async fn order_refunded(&self, order_id: &str) -> Result<u64, CreatorsError> {
        let Some(sale) = lsn_commerce::orders::read::sale(&self.db, order_id).await? else { return Ok(0) };
        let mut n = 0;
        for s in self.sources(order_id).await? {
            // What should stand reversed after this refund, of what was earned.
            let target = share(s.earned, sale.amount_refunded, sale.amount_paid);
            let more = target - s.reversed;
            if more > 0 {
                n += self.reverse(&s, order_id, more, &format!("refund:{}", sale.amount_refunded), "refund").await?;
            }
        }
        Ok(n)
    }

    /// A dispute opened on an order: its earnings held.
    pub async fn order_disputed(&self, order_id: &str, dispute_id: &str) -> Result<u64, CreatorsError> {
        let mut n = 0;
        for s in self.sources(order_id).await? {
            n += self.hold(&s, order_id, dispute_id, s.earned - s.reversed).await?;
        }
        Ok(n)
    }

    /// A dispute closed: won releases the hold, anything else makes it a reversal.
    pub async fn dispute_closed(&self, order_id: &str, won: bool) -> Result<u64, CreatorsError> {
        let mut n = 0;
        for s in self.sources(order_id).await? {
            n += self.settle_hold(&s, order_id, won, "dispute").await?;
        }
        Ok(n)
    }

    async fn hold(&self, s: &Source, source_id: &str, reference: &str, amount: i64) -> Result<u64, CreatorsError> {
        if amount <= 0 {
            return Ok(0);
        }
        let now = self.clock.now_ms();
        let pending = s.status == "pending";
        let kind_src = if s.source_kind == "gift" { "gift" } else { "order" };
        let entry = (!pending).then(|| {
            Entry::new(&s.creator_id, "hold", kind_src, source_id, reference, -amount, "approved", s.available_at, "dispute opened")
        });
        let (creator, source, reference) =
            (s.creator_id.clone(), source_id.to_string(), format!("{}:{reference}", if pending { "pending" } else { "approved" }));
        Ok(self
            .db
            .transaction(move |tx| {
                let (creator, source, reference, entry) = (creator.clone(), source.clone(), reference.clone(), entry.clone());
                Box::pin(async move {
                    let r = lsn_db::query("INSERT INTO creator_holds (source_id, creator_id, status, amount, ref, at) VALUES ($1, $2, 'holding', $3, $4, $5) ON CONFLICT (source_id, creator_id) DO NOTHING")
                        .bind(&source)
                        .bind(&creator)
                        .bind(amount)
                        .bind(&reference)
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                    if r.rows_affected() == 0 {
                        return Ok(0);
                    }
                    if let Some(e) = entry {
                        insert(tx, now, &[e]).await?;
                    }
                    Ok::<_, lsn_db::Error>(1)
                })
            })
            .await?)
    }

    async fn settle_hold(&self, s: &Source, source_id: &str, won: bool, why: &str) -> Result<u64, CreatorsError> {
        let Some(r) = lsn_db::query("SELECT status, amount, ref FROM creator_holds WHERE source_id = $1 AND creator_id = $2")
            .bind(source_id)
            .bind(&s.creator_id)
            .fetch_optional(self.db.read())
            .await?
        else {
            return Ok(0);
        };
        let (status, amount, reference): (String, i64, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        if status != "holding" {
            return Ok(0);
        }
        let now = self.clock.now_ms();
        let was_approved = reference.starts_with("approved:");
        let kind_src = if s.source_kind == "gift" { "gift" } else { "order" };
        let entry = match (won, was_approved) {
            (true, true) => Some(Entry::new(
                &s.creator_id,
                "release",
                kind_src,
                source_id,
                &reference,
                amount,
                "approved",
                s.available_at,
                &format!("{why} won"),
            )),
            (true, false) => None,
            // The hold entry already took the money out: it stands as the clawback.
            (false, true) => None,
            (false, false) => Some(Entry::new(
                &s.creator_id,
                "reversal",
                kind_src,
                source_id,
                &reference,
                -amount.min(s.earned - s.reversed).max(0),
                "pending",
                s.available_at,
                &format!("{why} lost"),
            )),
        };
        let to = if won { "released" } else { "lost" };
        let (creator, source) = (s.creator_id.clone(), source_id.to_string());
        Ok(self
            .db
            .transaction(move |tx| {
                let (creator, source, entry) = (creator.clone(), source.clone(), entry.clone());
                Box::pin(async move {
                    let r = lsn_db::query(
                        "UPDATE creator_holds SET status = $1, at = $2 WHERE source_id = $3 AND creator_id = $4 AND status = 'holding'",
                    )
                    .bind(to)
                    .bind(now)
                    .bind(&source)
                    .bind(&creator)
                    .execute(&mut **tx)
                    .await?;
                    if r.rows_affected() == 0 {
                        return Ok(0);
                    }
                    if let Some(e) = entry.filter(|e| e.amount != 0) {
                        insert(tx, now, &[e]).await?;
                    }
                    Ok::<_, lsn_db::Error>(1)
                })
            })
            .await?)
    }

    /// Approves every pending entry whose holding period is over and whose source is not held.
    pub async fn approve_due(&self) -> Result<u64, CreatorsError> {
        let now = self.clock.now_ms();
        Ok(lsn_db::query(
            "UPDATE creator_ledger SET status = 'approved' WHERE status = 'pending' AND available_at <= $1 \
             AND NOT EXISTS (SELECT 1 FROM creator_holds h WHERE h.source_id = creator_ledger.source_id AND h.creator_id = creator_ledger.creator_id AND h.status = 'holding')",
        )
        .bind(now)
        .execute(self.db.write())
        .await?
        .rows_affected())
    }

    /// A gift sent in a creator's show: its value enters the ledger, pending.
    pub async fn gift_sent(&self, p: &Value) -> Result<u64, CreatorsError> {
        let (Some(gift), Some(host), Some(cents)) = (p["gift_id"].as_str(), p["host_id"].as_str(), p["value_cents"].as_i64()) else {
            return Err(CreatorsError::field("gift", "gift.sent without gift_id, host_id or value_cents"));
        };
        let Some(creator) = self.by_user(host).await? else { return Ok(0) };
        let at = p["at"].as_i64().unwrap_or_else(|| self.clock.now_ms());
        let hold = self.settings().await?.hold_days;
        let e = Entry::new(
            &creator.id,
            "gift",
            "gift",
            gift,
            "",
            cents,
            "pending",
            at.saturating_add(hold * crate::DAY_MS),
            p["gift"].as_str().unwrap_or("gift"),
        );
        let now = self.clock.now_ms();
        if cents <= 0 {
            return Ok(0);
        }
        Ok(self
            .db
            .transaction(move |tx| {
                let e = e.clone();
                Box::pin(async move { insert(tx, now, &[e]).await })
            })
            .await?)
    }

    /// A coin-pack order refunded or disputed: the gifts its coins funded are held, released
    /// or clawed back (`gift.funding_changed`).
    pub async fn gift_funding_changed(&self, p: &Value) -> Result<u64, CreatorsError> {
        let action = p["action"].as_str().unwrap_or("");
        let order = p["order_id"].as_str().unwrap_or("");
        let reason = p["reason"].as_str().unwrap_or(action);
        let mut n = 0;
        for g in p["gifts"].as_array().into_iter().flatten() {
            let (Some(gift), Some(cents)) = (g["gift_id"].as_str(), g["value_cents"].as_i64()) else { continue };
            for s in self.sources(gift).await? {
                n += match action {
                    "claw_back" => {
                        // A claw-back after a hold is the hold's loss; else a reversal of its own.
                        let settled = self.settle_hold(&s, gift, false, reason).await?;
                        if settled > 0 {
                            settled
                        } else {
                            self.reverse(&s, gift, cents, &format!("{reason}:{order}"), reason).await?
                        }
                    }
                    "hold" => self.hold(&s, gift, &format!("{reason}:{order}"), cents.min(s.earned - s.reversed)).await?,
                    "release" => self.settle_hold(&s, gift, true, reason).await?,
                    _ => return Err(CreatorsError::field("action", format!("unknown gift funding action {action:?}"))),
                };
            }
        }
        Ok(n)
    }
}
