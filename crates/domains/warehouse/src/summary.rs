//! The warehouse's section of the daily summary: what is running low or out now.

use crate::stock::LOW_STOCK_THRESHOLD;
use lsn_core::i18n::t_args;
use lsn_db::{Db, RowExt};

pub struct Stock(pub Db);

#[async_trait::async_trait]
impl lsn_ops::SummarySection for Stock {
    fn title(&self) -> &'static str {
        "summary-stock-title"
    }

    async fn lines(&self, _from: i64, _until: i64) -> anyhow::Result<Vec<String>> {
        let r = lsn_db::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN on_hand - reserved > 0 AND on_hand - reserved < $1 THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN on_hand - reserved <= 0 THEN 1 ELSE 0 END), 0) AS BIGINT) FROM stock_levels",
        )
        .bind(LOW_STOCK_THRESHOLD)
        .fetch_one(self.0.read())
        .await?;
        Ok(vec![
            t_args(
                "summary-stock-low",
                &[("count", &r.try_get::<i64, _>(0)?.to_string()), ("threshold", &LOW_STOCK_THRESHOLD.to_string())],
            ),
            t_args("summary-stock-out", &[("count", &r.try_get::<i64, _>(1)?.to_string())]),
        ])
    }
}
