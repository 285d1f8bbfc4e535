//! The warehouse's figure for the analytics aggregation (issue 15): how many active variants are
//! below the low-stock threshold, seen at each run.

use crate::stock::LOW_STOCK_THRESHOLD;
use lsn_db::{Db, RowExt};
use lsn_ops::analytics::{AnalyticsSource, Kind, Metric, Point};

pub const METRICS: &[Metric] = &[Metric { name: "low_stock_variants", kind: Kind::Level, label: "analytics-low-stock" }];

pub struct Stock(pub Db);

#[async_trait::async_trait]
impl AnalyticsSource for Stock {
    fn metrics(&self) -> &'static [Metric] {
        METRICS
    }

    async fn sums(&self, _from: i64, _until: i64) -> anyhow::Result<Vec<Point>> {
        Ok(Vec::new())
    }

    async fn levels(&self) -> anyhow::Result<Vec<(&'static str, i64)>> {
        let n: i64 = lsn_db::query(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM stock_levels s JOIN catalog_variants v ON v.id = s.variant_id \
             WHERE s.on_hand - s.reserved < $1 AND v.status = 'active' AND v.product_status = 'active'",
        )
        .bind(LOW_STOCK_THRESHOLD)
        .fetch_one(self.0.read())
        .await?
        .try_get(0)?;
        Ok(vec![("low_stock_variants", n)])
    }
}
