//! The warehouse's section of the summary: what is running low or out now, as figures, a table
//! of the lowest variants, the full list as a CSV file, and the runbook's action item
//! ("12 products low stock (<10 units)").

use crate::stock::LOW_STOCK_THRESHOLD;
use lsn_core::i18n::{t, t_args};
use lsn_db::{Db, RowExt};
use lsn_ops::summary::{Csv, Figure, Measure, Period, Section, Table};

pub struct Stock(pub Db);

/// A variant below the threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowVariant {
    pub variant_id: String,
    pub sku: String,
    pub title: String,
    pub available: i64,
}

/// Every active variant with fewer than [`LOW_STOCK_THRESHOLD`] units available, the lowest first
/// (at most `limit`). Stock is the warehouse's; the names come from the catalog's public view.
pub async fn low_variants(db: &Db, limit: i64) -> Result<Vec<LowVariant>, lsn_db::Error> {
    let rows = lsn_db::query(
        "SELECT s.variant_id, s.on_hand - s.reserved AS available, v.sku, v.product_title, v.title \
         FROM stock_levels s JOIN catalog_variants v ON v.id = s.variant_id \
         WHERE s.on_hand - s.reserved < $1 AND v.status = 'active' AND v.product_status = 'active' \
         ORDER BY available, v.sku LIMIT $2",
    )
    .bind(LOW_STOCK_THRESHOLD)
    .bind(limit)
    .fetch_all(db.read())
    .await?;
    rows.iter()
        .map(|r| {
            let product: String = r.try_get("product_title")?;
            let variant: String = r.try_get("title")?;
            Ok(LowVariant {
                variant_id: r.try_get("variant_id")?,
                sku: r.try_get("sku")?,
                title: if variant.is_empty() { product } else { format!("{product} — {variant}") },
                available: r.try_get::<i64, _>("available")?.max(0),
            })
        })
        .collect()
}

/// Rows the table shows (the CSV has them all).
const TABLE_ROWS: usize = 15;

#[async_trait::async_trait]
impl lsn_ops::SummarySection for Stock {
    fn title(&self) -> &'static str {
        "summary-stock-title"
    }

    fn rank(&self) -> u8 {
        50
    }

    async fn section(&self, _p: &Period) -> anyhow::Result<Section> {
        let low = low_variants(&self.0, 5_000).await?;
        let out = low.iter().filter(|l| l.available == 0).count() as i64;
        let threshold = LOW_STOCK_THRESHOLD.to_string();
        let columns = vec![t("summary-col-sku"), t("summary-col-product"), t("summary-col-available")];
        let row = |l: &LowVariant| vec![l.sku.clone(), l.title.clone(), l.available.to_string()];
        let mut s = Section::new("summary-stock-title")
            .icon("📦")
            .figure(Figure::new(t_args("summary-stock-low", &[("threshold", &threshold)]), Measure::Count(low.len() as i64)))
            .figure(Figure::new(t("summary-stock-out"), Measure::Count(out)))
            .table(Table {
                caption: t_args("summary-stock-table", &[("threshold", &threshold)]),
                columns: columns.clone(),
                rows: low.iter().take(TABLE_ROWS).map(row).collect(),
                empty: t("summary-stock-none"),
            });
        if low.len() > TABLE_ROWS {
            s = s.note(t_args("summary-stock-more", &[("count", &(low.len() - TABLE_ROWS).to_string())]));
        }
        if !low.is_empty() {
            s = s
                .csv(Csv { name: "low-stock", header: columns, rows: low.iter().map(row).collect() })
                .action(t_args("summary-action-low-stock", &[("count", &low.len().to_string()), ("threshold", &threshold)]));
        }
        Ok(s)
    }
}
