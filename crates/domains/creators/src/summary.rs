//! Figures: a creator's stats (the portal's and the admin's), the flags for a person, and the
//! creators' section of the daily summary (the runbook's "👥 Creators": active creators,
//! commissions, pending payouts).

use crate::{Creators, CreatorsError, DAY_MS};
use lsn_core::i18n::{t, t_args};
use lsn_db::RowExt;
use lsn_ops::summary::{Figure, Measure, Period, Section};
use serde_json::{json, Value};

impl Creators {
    /// A creator's last `days` days: clicks (and how many were refused), attributed orders,
    /// conversion (orders per visitor who clicked), sales and commission, and their balance.
    pub async fn stats(&self, creator_id: &str, days: i64) -> Result<Value, CreatorsError> {
        let mut s = self.activity(creator_id, days).await?;
        s["balance"] = serde_json::to_value(self.balance(creator_id).await?).unwrap_or(Value::Null);
        Ok(s)
    }

    /// [`Creators::stats`] without the balance (for callers that read the balance themselves).
    pub async fn activity(&self, creator_id: &str, days: i64) -> Result<Value, CreatorsError> {
        let since = self.clock.now_ms() - days * DAY_MS;
        let clicks = lsn_db::query(
            "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN refused IS NULL THEN 0 ELSE 1 END), 0) AS BIGINT), CAST(COUNT(DISTINCT visitor_id) AS BIGINT) \
             FROM creator_clicks WHERE creator_id = $1 AND at >= $2",
        )
        .bind(creator_id)
        .bind(since)
        .fetch_one(self.db.read())
        .await?;
        let (clicks, refused, visitors): (i64, i64, i64) = (clicks.try_get(0)?, clicks.try_get(1)?, clicks.try_get(2)?);
        let orders = lsn_db::query(
            "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(base), 0) AS BIGINT), CAST(COALESCE(SUM(commission), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN reason = 'link_click' THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM creator_attributions WHERE creator_id = $1 AND status = 'attributed' AND at >= $2",
        )
        .bind(creator_id)
        .bind(since)
        .fetch_one(self.db.read())
        .await?;
        let (count, sales, commission, by_click): (i64, i64, i64, i64) =
            (orders.try_get(0)?, orders.try_get(1)?, orders.try_get(2)?, orders.try_get(3)?);
        let by_reason = lsn_db::query("SELECT reason, CAST(COUNT(*) AS BIGINT) FROM creator_attributions WHERE creator_id = $1 AND at >= $2 GROUP BY reason ORDER BY reason")
            .bind(creator_id)
            .bind(since)
            .fetch_all(self.db.read())
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, json!(r.try_get::<i64, _>(1)?))))
            .collect::<Result<serde_json::Map<String, Value>, lsn_db::Error>>()?;
        let conversion_bps = if visitors > 0 { by_click * 10_000 / visitors } else { 0 };
        Ok(json!({
            "days": days,
            "clicks": clicks,
            "refused_clicks": refused,
            "visitors": visitors,
            "orders": count,
            "orders_from_links": by_click,
            "conversion_bps": conversion_bps,
            "sales": sales,
            "commission": commission,
            "by_reason": by_reason,
        }))
    }

    /// The newest flags (self-referrals, stuffing, repeated sign-ups) for a person to look at.
    pub async fn flags(&self, limit: i64) -> Result<Vec<Value>, CreatorsError> {
        let rows = lsn_db::query(&format!(
            "SELECT f.id, f.creator_id, c.handle, f.kind, f.subject, f.detail, f.at FROM creator_flags f LEFT JOIN creators c ON c.id = f.creator_id ORDER BY f.at DESC LIMIT {}",
            limit.clamp(1, 500)
        ))
        .fetch_all(self.db.read())
        .await?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get(5)?;
                Ok(json!({"id": r.try_get::<String, _>(0)?, "creator_id": r.try_get::<String, _>(1)?, "handle": r.try_get::<Option<String>, _>(2)?,
                    "kind": r.try_get::<String, _>(3)?, "subject": r.try_get::<String, _>(4)?, "detail": serde_json::from_str::<Value>(&detail).unwrap_or(Value::Null), "at": r.try_get::<i64, _>(6)?}))
            })
            .collect::<Result<_, lsn_db::Error>>()
            .map_err(Into::into)
    }
}

/// The creators' section of the summary.
pub struct Programme(pub Creators);

impl Programme {
    async fn commissions(&self, from: i64, until: i64) -> Result<i64, lsn_db::Error> {
        lsn_db::query("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM creator_ledger WHERE kind IN ('commission', 'gift', 'reversal', 'clawback') AND created_at >= $1 AND created_at < $2")
            .bind(from)
            .bind(until)
            .fetch_one(self.0.db.read())
            .await?
            .try_get(0)
    }

    async fn active(&self, from: i64, until: i64) -> Result<i64, lsn_db::Error> {
        lsn_db::query("SELECT CAST(COUNT(DISTINCT creator_id) AS BIGINT) FROM creator_ledger WHERE kind IN ('commission', 'gift') AND created_at >= $1 AND created_at < $2")
            .bind(from)
            .bind(until)
            .fetch_one(self.0.db.read())
            .await?
            .try_get(0)
    }
}

#[async_trait::async_trait]
impl lsn_ops::SummarySection for Programme {
    fn title(&self) -> &'static str {
        "summary-creators-title"
    }

    fn rank(&self) -> u8 {
        40
    }

    async fn section(&self, p: &Period) -> anyhow::Result<Section> {
        let approved: i64 = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM creators WHERE status = 'approved'")
            .fetch_one(self.0.db.read())
            .await?
            .try_get(0)?;
        let applied: i64 = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM creators WHERE status = 'applied'")
            .fetch_one(self.0.db.read())
            .await?
            .try_get(0)?;
        let active = self.active(p.from, p.until).await?;
        let prev_active = self.active(p.prev_from, p.prev_until).await?;
        let commissions = self.commissions(p.from, p.until).await?;
        let prev_commissions = self.commissions(p.prev_from, p.prev_until).await?;
        let pending = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM creator_payouts WHERE status IN ('awaiting_approval', 'approved', 'submitted')")
            .fetch_one(self.0.db.read())
            .await?;
        let (pending_n, pending_sum): (i64, i64) = (pending.try_get(0)?, pending.try_get(1)?);
        let awaiting: i64 = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM creator_payouts WHERE status = 'awaiting_approval'")
            .fetch_one(self.0.db.read())
            .await?
            .try_get(0)?;
        let mut s = Section::new("summary-creators-title")
            .icon("👥")
            .figure(Figure::new(t("summary-creators-active"), Measure::Count(active)).against(Measure::Count(prev_active)))
            .figure(Figure::new(t("summary-creators-commissions"), Measure::Money(commissions)).against(Measure::Money(prev_commissions)))
            .figure(Figure::new(t("summary-creators-pending"), Measure::Count(pending_n)))
            .figure(Figure::new(t("summary-creators-pending-total"), Measure::Money(pending_sum)))
            .note(t_args("summary-creators-programme", &[("approved", &approved.to_string())]));
        if awaiting > 0 {
            s = s.action(t_args("summary-creators-approvals", &[("count", &awaiting.to_string())]));
        }
        if applied > 0 {
            s = s.action(t_args("summary-creators-applications", &[("count", &applied.to_string())]));
        }
        Ok(s)
    }
}
