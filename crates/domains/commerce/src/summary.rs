//! Commerce's section of the daily summary: what was sold, refunded and left unpaid.

use crate::Commerce;
use lsn_core::i18n::t_args;
use lsn_core::money::Money;
use lsn_db::RowExt;

pub struct Orders(pub Commerce);

#[async_trait::async_trait]
impl lsn_ops::SummarySection for Orders {
    fn title(&self) -> &'static str {
        "summary-orders-title"
    }

    async fn lines(&self, from: i64, until: i64) -> anyhow::Result<Vec<String>> {
        let db = &self.0.db;
        let paid = lsn_db::query(
            "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(amount_paid), 0) AS BIGINT) FROM orders WHERE paid_at >= $1 AND paid_at < $2",
        )
        .bind(from)
        .bind(until)
        .fetch_one(db.read())
        .await?;
        let refunds = lsn_db::query(
            "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM refunds WHERE status = 'succeeded' AND created_at >= $1 AND created_at < $2",
        )
        .bind(from)
        .bind(until)
        .fetch_one(db.read())
        .await?;
        let cancelled: i64 = lsn_db::query(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM order_transitions WHERE from_status = 'pending_payment' AND to_status = 'cancelled' AND at >= $1 AND at < $2",
        )
        .bind(from)
        .bind(until)
        .fetch_one(db.read())
        .await?
        .try_get(0)?;
        let waiting: i64 = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE status = 'pending_payment'")
            .fetch_one(db.read())
            .await?
            .try_get(0)?;
        let money = |minor: i64| Money::aud(minor).to_string();
        Ok(vec![
            t_args("summary-orders-paid", &[("count", &paid.try_get::<i64, _>(0)?.to_string()), ("total", &money(paid.try_get(1)?))]),
            t_args(
                "summary-orders-refunds",
                &[("count", &refunds.try_get::<i64, _>(0)?.to_string()), ("total", &money(refunds.try_get(1)?))],
            ),
            t_args("summary-orders-cancelled", &[("count", &cancelled.to_string())]),
            t_args("summary-orders-waiting", &[("count", &waiting.to_string())]),
        ])
    }
}
