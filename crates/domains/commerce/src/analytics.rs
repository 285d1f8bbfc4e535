//! Commerce's figures for the analytics aggregation (issue 15): orders paid, revenue and refunds
//! in 15-minute buckets, by the time they happened.

use lsn_db::{Db, RowExt};
use lsn_ops::analytics::{AnalyticsSource, Kind, Metric, Point, BUCKET_MS};

pub const METRICS: &[Metric] = &[
    Metric { name: "orders_paid", kind: Kind::Sum, label: "analytics-orders-paid" },
    Metric { name: "revenue_cents", kind: Kind::Sum, label: "analytics-revenue" },
    Metric { name: "refunded_cents", kind: Kind::Sum, label: "analytics-refunded" },
];

pub struct Sales(pub Db);

#[async_trait::async_trait]
impl AnalyticsSource for Sales {
    fn metrics(&self) -> &'static [Metric] {
        METRICS
    }

    async fn sums(&self, from: i64, until: i64) -> anyhow::Result<Vec<Point>> {
        let mut out = Vec::new();
        let paid = lsn_db::query(
            "SELECT (paid_at / $1) * $1 AS b, CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(amount_paid), 0) AS BIGINT) \
             FROM orders WHERE paid_at >= $2 AND paid_at < $3 GROUP BY (paid_at / $1) * $1",
        )
        .bind(BUCKET_MS)
        .bind(from)
        .bind(until)
        .fetch_all(lsn_db::Slow(self.0.read()))
        .await?;
        for r in &paid {
            let bucket: i64 = r.try_get(0)?;
            out.push(Point { bucket, metric: "orders_paid", value: r.try_get(1)? });
            out.push(Point { bucket, metric: "revenue_cents", value: r.try_get(2)? });
        }
        let refunded = lsn_db::query(
            "SELECT (created_at / $1) * $1 AS b, CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM refunds \
             WHERE created_at >= $2 AND created_at < $3 AND status = 'succeeded' GROUP BY (created_at / $1) * $1",
        )
        .bind(BUCKET_MS)
        .bind(from)
        .bind(until)
        .fetch_all(lsn_db::Slow(self.0.read()))
        .await?;
        for r in &refunded {
            out.push(Point { bucket: r.try_get(0)?, metric: "refunded_cents", value: r.try_get(1)? });
        }
        Ok(out)
    }
}
