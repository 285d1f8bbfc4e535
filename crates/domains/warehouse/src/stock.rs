//! Stock: quantity per variant per bin, and the per-variant level that sales draw from.
//!
//! `available = on_hand - reserved`. Taking stock is one conditional statement,
//! `UPDATE stock_levels SET reserved = reserved + q WHERE variant_id = v AND on_hand - reserved >= q`,
//! so no interleaving of concurrent checkouts can take more than there is; the table's CHECK
//! constraint refuses it a second time at the storage level. Every change is a movement row with
//! a reason, written in the caller's transaction.

use lsn_db::{RowExt, Tx};
use serde::Serialize;
use serde_json::json;

/// The runbook's low-stock threshold: `inventory.low` fires when available stock falls below it.
pub const LOW_STOCK_THRESHOLD: i64 = 10;
pub const INVENTORY_LOW: &str = "inventory.low";

#[derive(Debug, thiserror::Error)]
pub enum StockError {
    #[error("only {available} left of {variant_id}")]
    Insufficient { variant_id: String, available: i64 },
    #[error("unknown bin {0}")]
    UnknownBin(String),
    #[error("quantity must be positive")]
    BadQuantity,
    #[error(transparent)]
    Db(#[from] lsn_db::Error),
}

impl lsn_db::TxError for StockError {
    fn as_db(&self) -> Option<&lsn_db::Error> {
        match self {
            StockError::Db(e) => Some(e),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Level {
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

#[expect(clippy::too_many_arguments, reason = "a movement row has this many columns")]
async fn movement(
    tx: &mut Tx,
    now: i64,
    variant_id: &str,
    bin_id: Option<&str>,
    kind: &str,
    qty: i64,
    reason: &str,
    reference: Option<&str>,
    actor: &str,
) -> Result<(), lsn_db::Error> {
    lsn_db::query("INSERT INTO stock_movements (id, variant_id, bin_id, kind, quantity, reason, ref, actor, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(lsn_core::ids::new_id())
        .bind(variant_id)
        .bind(bin_id)
        .bind(kind)
        .bind(qty)
        .bind(reason)
        .bind(reference)
        .bind(actor)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A new variant's stock level: nothing on hand, nothing reserved (the catalog calls this in the
/// transaction that creates the variant).
pub async fn open_level(tx: &mut Tx, now: i64, variant_id: &str) -> Result<(), lsn_db::Error> {
    lsn_db::query("INSERT INTO stock_levels (variant_id, on_hand, reserved, updated_at) VALUES ($1, 0, 0, $2)")
        .bind(variant_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Whether any of `variant_ids` ever had stock moved (received, sold, adjusted, …): such a
/// variant's history must stay, so its product is archived rather than deleted.
pub async fn moved_any(tx: &mut Tx, variant_ids: &[String]) -> Result<bool, lsn_db::Error> {
    for id in variant_ids {
        let moved = lsn_db::query("SELECT 1 FROM stock_movements WHERE variant_id = $1 LIMIT 1").bind(id).fetch_optional(&mut **tx).await?;
        if moved.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

pub async fn level(tx: &mut Tx, variant_id: &str) -> Result<Level, lsn_db::Error> {
    let row = lsn_db::query("SELECT on_hand, reserved FROM stock_levels WHERE variant_id = $1")
        .bind(variant_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(r) => {
            let (on_hand, reserved): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
            Level { on_hand, reserved, available: on_hand - reserved }
        }
        None => Level { on_hand: 0, reserved: 0, available: 0 },
    })
}

async fn bin_id(tx: &mut Tx, code_or_id: &str) -> Result<String, StockError> {
    let row = lsn_db::query("SELECT id FROM bins WHERE code = $1 OR id = $1").bind(code_or_id).fetch_optional(&mut **tx).await?;
    row.map(|r| r.try_get::<String, _>(0)).transpose()?.ok_or_else(|| StockError::UnknownBin(code_or_id.to_string()))
}

/// Goods arrive in a bin (or leave it, with a negative `delta` on an adjustment).
#[expect(clippy::too_many_arguments, reason = "a movement row has this many columns")]
pub async fn receive(
    tx: &mut Tx,
    now: i64,
    variant_id: &str,
    bin: &str,
    qty: i64,
    kind: &str,
    reason: &str,
    reference: Option<&str>,
    actor: &str,
) -> Result<Level, StockError> {
    if qty == 0 || (kind == "received" && qty < 0) {
        return Err(StockError::BadQuantity);
    }
    let bin = bin_id(tx, bin).await?;
    lsn_db::query(
        "INSERT INTO stock_levels (variant_id, on_hand, reserved, updated_at) VALUES ($1, 0, 0, $2) ON CONFLICT (variant_id) DO NOTHING",
    )
    .bind(variant_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if qty < 0 {
        // Only what is neither reserved nor missing from the bin can be taken away.
        let lvl = level(tx, variant_id).await?;
        let in_bin: i64 = lsn_db::query("SELECT quantity FROM bin_stock WHERE variant_id = $1 AND bin_id = $2")
            .bind(variant_id)
            .bind(&bin)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(0);
        if lvl.available < -qty || in_bin < -qty {
            return Err(StockError::Insufficient { variant_id: variant_id.to_string(), available: lvl.available.min(in_bin) });
        }
    }
    lsn_db::query(
        "INSERT INTO bin_stock (variant_id, bin_id, quantity, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (variant_id, bin_id) DO UPDATE SET quantity = bin_stock.quantity + excluded.quantity, updated_at = excluded.updated_at",
    )
    .bind(variant_id)
    .bind(&bin)
    .bind(qty)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    lsn_db::query("UPDATE stock_levels SET on_hand = on_hand + $1, updated_at = $2 WHERE variant_id = $3")
        .bind(qty)
        .bind(now)
        .bind(variant_id)
        .execute(&mut **tx)
        .await?;
    movement(tx, now, variant_id, Some(&bin), kind, qty, reason, reference, actor).await?;
    Ok(level(tx, variant_id).await?)
}

/// Reserves `qty` for an order, or fails without changing anything when there is not enough.
pub async fn reserve(tx: &mut Tx, now: i64, variant_id: &str, qty: i64, order_id: &str, expires_at: i64) -> Result<Level, StockError> {
    if qty <= 0 {
        return Err(StockError::BadQuantity);
    }
    let r = lsn_db::query(
        "UPDATE stock_levels SET reserved = reserved + $1, updated_at = $2 WHERE variant_id = $3 AND on_hand - reserved >= $1",
    )
    .bind(qty)
    .bind(now)
    .bind(variant_id)
    .execute(&mut **tx)
    .await?;
    if r.rows_affected() == 0 {
        let lvl = level(tx, variant_id).await?;
        return Err(StockError::Insufficient { variant_id: variant_id.to_string(), available: lvl.available.max(0) });
    }
    lsn_db::query("INSERT INTO reservations (id, variant_id, order_id, quantity, status, expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $6, $6)")
        .bind(lsn_core::ids::new_id())
        .bind(variant_id)
        .bind(order_id)
        .bind(qty)
        .bind(expires_at)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    movement(tx, now, variant_id, None, "reserved", qty, "checkout", Some(order_id), "system").await?;
    let lvl = level(tx, variant_id).await?;
    if lvl.available < LOW_STOCK_THRESHOLD && lvl.available + qty >= LOW_STOCK_THRESHOLD {
        lsn_ops::publish(
            tx,
            now,
            INVENTORY_LOW,
            Some(variant_id),
            &json!({ "variant_id": variant_id, "available": lvl.available, "threshold": LOW_STOCK_THRESHOLD }),
        )
        .await?;
    }
    Ok(lvl)
}

async fn active_reservations(tx: &mut Tx, order_id: &str) -> Result<Vec<(String, String, i64)>, lsn_db::Error> {
    let rows =
        lsn_db::query("SELECT id, variant_id, quantity FROM reservations WHERE order_id = $1 AND status = 'active' ORDER BY variant_id")
            .bind(order_id)
            .fetch_all(&mut **tx)
            .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
}

/// Gives an order's reserved stock back (expiry, payment failure, cancellation). Idempotent.
pub async fn release_order(tx: &mut Tx, now: i64, order_id: &str, reason: &str) -> Result<i64, lsn_db::Error> {
    let mut released = 0;
    for (rid, variant_id, qty) in active_reservations(tx, order_id).await? {
        let r = lsn_db::query("UPDATE reservations SET status = 'released', updated_at = $1 WHERE id = $2 AND status = 'active'")
            .bind(now)
            .bind(&rid)
            .execute(&mut **tx)
            .await?;
        if r.rows_affected() == 1 {
            lsn_db::query("UPDATE stock_levels SET reserved = reserved - $1, updated_at = $2 WHERE variant_id = $3")
                .bind(qty)
                .bind(now)
                .bind(&variant_id)
                .execute(&mut **tx)
                .await?;
            movement(tx, now, &variant_id, None, "released", qty, reason, Some(order_id), "system").await?;
            released += qty;
        }
    }
    Ok(released)
}

/// Turns an order's reservations into sales: the units leave on-hand stock and their bins.
pub async fn consume_order(tx: &mut Tx, now: i64, order_id: &str) -> Result<i64, lsn_db::Error> {
    let mut sold = 0;
    for (rid, variant_id, qty) in active_reservations(tx, order_id).await? {
        let r = lsn_db::query("UPDATE reservations SET status = 'consumed', updated_at = $1 WHERE id = $2 AND status = 'active'")
            .bind(now)
            .bind(&rid)
            .execute(&mut **tx)
            .await?;
        if r.rows_affected() == 0 {
            continue;
        }
        lsn_db::query("UPDATE stock_levels SET on_hand = on_hand - $1, reserved = reserved - $1, updated_at = $2 WHERE variant_id = $3")
            .bind(qty)
            .bind(now)
            .bind(&variant_id)
            .execute(&mut **tx)
            .await?;
        // Take from the fullest bins first; pick lists later follow these movements.
        let bins =
            lsn_db::query("SELECT bin_id, quantity FROM bin_stock WHERE variant_id = $1 AND quantity > 0 ORDER BY quantity DESC, bin_id")
                .bind(&variant_id)
                .fetch_all(&mut **tx)
                .await?;
        let mut left = qty;
        for b in bins {
            if left == 0 {
                break;
            }
            let (bin, have): (String, i64) = (b.try_get(0)?, b.try_get(1)?);
            let take = have.min(left);
            lsn_db::query("UPDATE bin_stock SET quantity = quantity - $1, updated_at = $2 WHERE variant_id = $3 AND bin_id = $4")
                .bind(take)
                .bind(now)
                .bind(&variant_id)
                .bind(&bin)
                .execute(&mut **tx)
                .await?;
            movement(tx, now, &variant_id, Some(&bin), "sold", take, "order paid", Some(order_id), "system").await?;
            left -= take;
        }
        if left > 0 {
            movement(tx, now, &variant_id, None, "sold", left, "order paid (no bin)", Some(order_id), "system").await?;
        }
        sold += qty;
    }
    Ok(sold)
}

/// Returned units go back on hand, into the first bin that held the variant (or A-01-1).
pub async fn restock(
    tx: &mut Tx,
    now: i64,
    variant_id: &str,
    qty: i64,
    reason: &str,
    reference: &str,
    actor: &str,
) -> Result<(), StockError> {
    if qty <= 0 {
        return Err(StockError::BadQuantity);
    }
    let bin: Option<String> = lsn_db::query("SELECT bin_id FROM bin_stock WHERE variant_id = $1 ORDER BY quantity DESC, bin_id LIMIT 1")
        .bind(variant_id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
    let bin = match bin {
        Some(b) => b,
        None => bin_id(tx, "A-01-1").await?,
    };
    receive(tx, now, variant_id, &bin, qty, "returned", reason, Some(reference), actor).await?;
    Ok(())
}

/// Orders whose reservations have expired: `(order_id)`, oldest first.
/// A variant's stock as staff see it: the level, where it lies (bins holding some) and its
/// latest movements, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    pub bins: Vec<BinQuantity>,
    pub movements: Vec<Movement>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BinQuantity {
    pub bin: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Movement {
    pub kind: String,
    pub quantity: i64,
    pub reason: String,
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    pub actor: String,
    pub at: i64,
}

/// The bins holding some of `variant_id`, by code.
pub async fn bins_of(db: &lsn_db::Db, variant_id: &str) -> Result<Vec<BinQuantity>, lsn_db::Error> {
    let rows = lsn_db::query("SELECT b.code, s.quantity FROM bin_stock s JOIN bins b ON b.id = s.bin_id WHERE s.variant_id = $1 AND s.quantity > 0 ORDER BY b.code")
        .bind(variant_id)
        .fetch_all(db.read())
        .await?;
    rows.iter().map(|r| Ok(BinQuantity { bin: r.try_get(0)?, quantity: r.try_get(1)? })).collect()
}

/// `variant_id`'s [`Report`], with its last `movements` movements.
pub async fn report(db: &lsn_db::Db, variant_id: &str, movements: i64) -> Result<Report, lsn_db::Error> {
    let r = lsn_db::query("SELECT on_hand, reserved FROM stock_levels WHERE variant_id = $1")
        .bind(variant_id)
        .fetch_optional(db.read())
        .await?;
    let (on_hand, reserved): (i64, i64) = match r {
        Some(r) => (r.try_get(0)?, r.try_get(1)?),
        None => (0, 0),
    };
    let moves = lsn_db::query("SELECT kind, quantity, reason, ref, actor, created_at FROM stock_movements WHERE variant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2")
        .bind(variant_id)
        .bind(movements)
        .fetch_all(db.read())
        .await?;
    let movements = moves
        .iter()
        .map(|r| {
            Ok(Movement {
                kind: r.try_get(0)?,
                quantity: r.try_get(1)?,
                reason: r.try_get(2)?,
                reference: r.try_get(3)?,
                actor: r.try_get(4)?,
                at: r.try_get(5)?,
            })
        })
        .collect::<Result<_, lsn_db::Error>>()?;
    Ok(Report { on_hand, reserved, available: on_hand - reserved, bins: bins_of(db, variant_id).await?, movements })
}

pub async fn expired_orders(db: &lsn_db::Db, now: i64, limit: i64) -> Result<Vec<String>, lsn_db::Error> {
    let rows = lsn_db::query("SELECT DISTINCT order_id FROM reservations WHERE status = 'active' AND expires_at <= $1 LIMIT $2")
        .bind(now)
        .bind(limit)
        .fetch_all(db.read())
        .await?;
    rows.iter().map(|r| r.try_get(0)).collect()
}
