//! The live domain's section of the daily summary: the shows that ended and what their rooms sold.

use crate::shows::Live;
use lsn_core::i18n::t_args;
use lsn_core::money::Money;
use lsn_db::RowExt;

pub struct Shows(pub Live);

#[async_trait::async_trait]
impl lsn_ops::SummarySection for Shows {
    fn title(&self) -> &'static str {
        "summary-live-title"
    }

    async fn lines(&self, from: i64, until: i64) -> anyhow::Result<Vec<String>> {
        let r = lsn_db::query(
            "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(MAX(peak_viewers), 0) AS BIGINT) FROM live_shows WHERE ended_at >= $1 AND ended_at < $2",
        )
        .bind(from)
        .bind(until)
        .fetch_one(self.0.db.read())
        .await?;
        let (orders, net) = lsn_commerce::orders::read::live_sales(&self.0.db, from, until).await?;
        Ok(vec![
            t_args(
                "summary-live-shows",
                &[("count", &r.try_get::<i64, _>(0)?.to_string()), ("viewers", &r.try_get::<i64, _>(1)?.to_string())],
            ),
            t_args("summary-live-sales", &[("count", &orders.to_string()), ("total", &Money::aud(net).to_string())]),
        ])
    }
}
