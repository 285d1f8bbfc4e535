//! The demo shop's stock history (issue 15): the sales of a few generated weeks as the ledger
//! records them. Each variant sold gets an opening receipt of what it later sold, dated at the
//! start of the history, into the bin that holds it; each sale leaves as a `sold` movement. The
//! ledger never goes below zero at any moment, and the levels end where the demo's stock put
//! them (so its low and sold-out variants stay low and sold out).

use lsn_db::{RowExt, Tx};
use std::collections::BTreeMap;

/// Units of a variant that left with an order at `at`.
#[derive(Debug, Clone)]
pub struct Sale {
    pub variant_id: String,
    pub quantity: i64,
    pub at: i64,
    pub order_id: String,
}

const ROWS_PER_STATEMENT: usize = 200;

/// (variant, bin, kind, quantity, reason, ref, at)
type Row<'a> = (&'a str, Option<&'a str>, &'static str, i64, &'static str, Option<&'a str>, i64);

/// Writes the opening receipts (at `opened_at`) and the sales' movements; the levels and bins
/// are left as they are, the receipts and the sales cancelling out.
pub async fn sales(tx: &mut Tx, opened_at: i64, sales: &[Sale]) -> Result<usize, lsn_db::Error> {
    let mut sold: BTreeMap<&str, i64> = BTreeMap::new();
    for s in sales {
        *sold.entry(s.variant_id.as_str()).or_default() += s.quantity;
    }
    let fallback: Option<String> = lsn_db::query("SELECT id FROM bins WHERE code = $1")
        .bind(crate::bin_code(crate::BIN_ROWS[0], 1, 1))
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
    let mut bins: BTreeMap<&str, Option<String>> = BTreeMap::new();
    for v in sold.keys() {
        let bin: Option<String> =
            lsn_db::query("SELECT bin_id FROM bin_stock WHERE variant_id = $1 ORDER BY quantity DESC, bin_id LIMIT 1")
                .bind(*v)
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
        bins.insert(v, bin.or_else(|| fallback.clone()));
    }
    let mut rows: Vec<Row> = Vec::with_capacity(sold.len() + sales.len());
    for (v, qty) in &sold {
        rows.push((v, bins.get(v).and_then(|b| b.as_deref()), "received", *qty, "opening stock", None, opened_at));
    }
    for s in sales {
        let bin = bins.get(s.variant_id.as_str()).and_then(|b| b.as_deref());
        rows.push((&s.variant_id, bin, "sold", s.quantity, "order paid", Some(&s.order_id), s.at));
    }
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO stock_movements (id, variant_id, bin_id, kind, quantity, reason, ref, actor, created_at) VALUES {}",
            lsn_ops::jobs::rows(chunk.len(), 9)
        );
        let mut q = lsn_db::query(&sql);
        for (v, bin, kind, qty, reason, reference, at) in chunk {
            q = q
                .bind(lsn_core::ids::new_id())
                .bind(*v)
                .bind(*bin)
                .bind(*kind)
                .bind(*qty)
                .bind(*reason)
                .bind(*reference)
                .bind("demo")
                .bind(*at);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(rows.len())
}
