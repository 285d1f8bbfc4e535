//! Commerce's part of monitoring: the runbook's "failed payments > 3 in 10 min" threshold reads
//! its payments, and a breach raises commerce's `payment_failed` alert (the runbook's "failed
//! payment processing" Slack alert; a P0 incident when critical: payment failure).

use lsn_db::{Db, RowExt};
use lsn_ops::alerts::{AlertType, Priority};

pub const PAYMENT_FAILED: AlertType = AlertType {
    name: "payment_failed",
    description: "Payments failing: more failed payments in the window than the failed-payments threshold",
    cooldown_secs: 15 * 60,
    incident: Priority::P0,
};

/// Payments that failed within the window (by the time they were marked failed).
pub struct FailedPayments(pub Db);

#[async_trait::async_trait]
impl lsn_ops::monitor::MetricSource for FailedPayments {
    fn metric(&self) -> &'static str {
        "failed_payments"
    }

    fn alert_type(&self) -> &'static AlertType {
        &PAYMENT_FAILED
    }

    async fn measure(&self, now_ms: i64, window_ms: i64) -> anyhow::Result<Option<f64>> {
        let n: i64 =
            lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM payments WHERE status = 'failed' AND updated_at > $1 AND updated_at <= $2")
                .bind(now_ms - window_ms)
                .bind(now_ms)
                .fetch_one(self.0.read())
                .await?
                .try_get(0)?;
        Ok(Some(n as f64))
    }
}
