//! The review queue: orders the check held (`review`) or escalated, oldest first; a person
//! approves (the order is released) or declines (cancelled if unpaid, refunded if paid) with a
//! note, and each decision is kept as a label the model learns from. A decision on an order
//! already decided is refused (409). The 5-minute task scores held orders again with what is
//! known now and escalates those nobody decided within `stale_minutes`.

use crate::check::{check_row, Check, CHECK_COLS};
use crate::{Code, Risk, RiskError, ORDER_DECLINED, ORDER_RELEASED};
use lsn_core::i18n;
use lsn_db::RowExt;
use serde::Serialize;
use serde_json::json;

/// What the review task did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ReviewRun {
    pub rescored: u64,
    pub released: u64,
    pub escalated: u64,
}

impl Risk {
    /// Held orders, oldest first.
    pub async fn queue(&self, limit: i64) -> Result<Vec<Check>, RiskError> {
        let rows = lsn_db::query(&format!(
            "SELECT {CHECK_COLS} FROM fraud_checks WHERE status IN ('review', 'escalated') ORDER BY at, order_id LIMIT $1"
        ))
        .bind(limit.clamp(1, 500))
        .fetch_all(self.db.read())
        .await?;
        rows.iter().map(check_row).collect()
    }

    /// Recent checks, newest first (optionally of one status).
    pub async fn checks(&self, status: Option<&str>, limit: i64) -> Result<Vec<Check>, RiskError> {
        let rows = lsn_db::query(&format!(
            "SELECT {CHECK_COLS} FROM fraud_checks WHERE ($1 = '' OR status = $1) ORDER BY at DESC, order_id LIMIT $2"
        ))
        .bind(status.unwrap_or(""))
        .bind(limit.clamp(1, 500))
        .fetch_all(self.db.read())
        .await?;
        rows.iter().map(check_row).collect()
    }

    /// A person's decision on a held order: `approve` or `decline`, with a note.
    pub async fn review(&self, order_id: &str, action: &str, note: &str, who: &str) -> Result<Check, RiskError> {
        let to = match action {
            "approve" => "approved",
            "decline" => "declined",
            _ => return Err(RiskError::field("action", i18n::t("risk-review-action"))),
        };
        let note = note.trim().chars().take(1000).collect::<String>();
        let c = self.check(order_id).await?.ok_or(RiskError::NotFound)?;
        if c.status == "approved" && c.decided_by.is_none() {
            return Err(RiskError::rule(Code::NotHeld, i18n::t("risk-not-held")));
        }
        if c.decided_by.is_some() || !["review", "escalated"].contains(&c.status.as_str()) {
            return Err(RiskError::rule(Code::AlreadyDecided, i18n::t("risk-already-decided")));
        }
        let now = self.clock.now_ms();
        let (id, number, who2, note2, from) = (c.order_id.clone(), c.number.clone(), who.to_string(), note.clone(), c.status.clone());
        let label = if to == "approved" { "legit" } else { "fraud" };
        let done = self
            .db
            .transaction(move |tx| {
                let (id, number, who, note, from) = (id.clone(), number.clone(), who2.clone(), note2.clone(), from.clone());
                Box::pin(async move {
                    let r = lsn_db::query(
                        "UPDATE fraud_checks SET status = $1, decided_by = $2, note = $3, decided_at = $4, label = $5 WHERE order_id = $6 AND status = $7 AND decided_by IS NULL",
                    )
                    .bind(to)
                    .bind(&who)
                    .bind(&note)
                    .bind(now)
                    .bind(label)
                    .bind(&id)
                    .bind(&from)
                    .execute(&mut **tx)
                    .await?;
                    if r.rows_affected() == 0 {
                        return Ok(false);
                    }
                    insert_label(tx, now, &id, label, "review", &note).await?;
                    let payload = json!({"order_id": id, "number": number, "by": who});
                    if to == "approved" {
                        lsn_ops::publish(tx, now, ORDER_RELEASED, Some(&id), &payload).await?;
                    } else {
                        lsn_ops::publish(tx, now, ORDER_DECLINED, Some(&id), &payload).await?;
                    }
                    Ok::<_, lsn_db::Error>(true)
                })
            })
            .await?;
        if !done {
            return Err(RiskError::rule(Code::AlreadyDecided, i18n::t("risk-already-decided")));
        }
        if to == "declined" {
            self.decline_order(order_id, &format!("declined in the fraud review: {note}")).await?;
        }
        self.check(order_id).await?.ok_or(RiskError::NotFound)
    }

    /// Records an outcome (`fraud` or `legit`) from `source` (a review, a dispute, a
    /// chargeback), once per order and source. False when it was already recorded.
    pub async fn label(&self, order_id: &str, label: &str, source: &str, note: &str) -> Result<bool, RiskError> {
        if !["fraud", "legit"].contains(&label) {
            return Err(RiskError::field("label", i18n::t("risk-label")));
        }
        let now = self.clock.now_ms();
        let (id, label2, source2, note2) =
            (order_id.to_string(), label.to_string(), source.to_string(), note.chars().take(500).collect::<String>());
        Ok(self
            .db
            .transaction(move |tx| {
                let (id, label, source, note) = (id.clone(), label2.clone(), source2.clone(), note2.clone());
                Box::pin(async move {
                    let n = insert_label(tx, now, &id, &label, &source, &note).await?;
                    if n > 0 {
                        lsn_db::query("UPDATE fraud_checks SET label = $1 WHERE order_id = $2")
                            .bind(&label)
                            .bind(&id)
                            .execute(&mut **tx)
                            .await?;
                    }
                    Ok::<_, lsn_db::Error>(n > 0)
                })
            })
            .await?)
    }

    /// The 5-minute task: every held order scored again (a payment's outcome, a list entry, a
    /// new model may change it), and the ones nobody decided within `stale_minutes` escalated.
    pub async fn review_task(&self) -> Result<ReviewRun, RiskError> {
        let settings = self.settings().await?;
        let mut run = ReviewRun::default();
        let mut after = String::new();
        loop {
            let rows = lsn_db::query("SELECT order_id FROM fraud_checks WHERE status IN ('review', 'escalated') AND decided_by IS NULL AND order_id > $1 ORDER BY order_id LIMIT 500")
                .bind(&after)
                .fetch_all(self.db.read())
                .await?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let id: String = r.try_get(0)?;
                if let Some(c) = self.rescore(&id).await? {
                    run.rescored += 1;
                    if c.status == "approved" {
                        run.released += 1;
                    }
                }
                after = id;
            }
        }
        let now = self.clock.now_ms();
        let stale =
            lsn_db::query("SELECT order_id, number, score FROM fraud_checks WHERE status = 'review' AND decided_by IS NULL AND at <= $1")
                .bind(now - settings.stale_minutes * 60_000)
                .fetch_all(self.db.read())
                .await?;
        for r in stale {
            let (id, number, score): (String, String, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            let escalated = self
                .db
                .transaction(move |tx| {
                    let (id, number) = (id.clone(), number.clone());
                    Box::pin(async move {
                        let r = lsn_db::query(
                            "UPDATE fraud_checks SET status = 'escalated' WHERE order_id = $1 AND status = 'review' AND decided_by IS NULL",
                        )
                        .bind(&id)
                        .execute(&mut **tx)
                        .await?;
                        if r.rows_affected() == 0 {
                            return Ok(false);
                        }
                        lsn_ops::alerts::raise(
                            tx,
                            now,
                            &crate::HIGH_RISK_ALERT,
                            &format!("stale:{id}"),
                            lsn_ops::Severity::Warning,
                            &i18n::t_args("risk-stale-alert", &[("number", &number), ("score", &score.to_string())]),
                            &json!({"order_id": id, "score": score}).to_string(),
                        )
                        .await?;
                        Ok::<_, lsn_db::Error>(true)
                    })
                })
                .await?;
            if escalated {
                run.escalated += 1;
            }
        }
        Ok(run)
    }

    /// The dashboard's figures: the score distribution, flagged orders, the queue, false
    /// positives among reviewed orders, and the entries in force.
    pub async fn dashboard(&self, days: i64) -> Result<serde_json::Value, RiskError> {
        let since = self.clock.now_ms() - days.clamp(1, 365) * 86_400_000;
        let bands = lsn_db::query(
            "SELECT CAST(score / 10 AS BIGINT), CAST(COUNT(*) AS BIGINT) FROM fraud_checks WHERE at > $1 GROUP BY CAST(score / 10 AS BIGINT) ORDER BY 1",
        )
        .bind(since)
        .fetch_all(self.db.read())
        .await?;
        let mut distribution = vec![0i64; 11];
        for r in bands {
            let (b, n): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
            if let Some(slot) = distribution.get_mut(b.clamp(0, 10) as usize) {
                *slot += n;
            }
        }
        let r = lsn_db::query(
            "SELECT CAST(COUNT(*) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN status <> 'approved' OR decided_by IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN status IN ('review', 'escalated') THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN status = 'declined' THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN decided_by IS NOT NULL AND label = 'legit' THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN decided_by IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM fraud_checks WHERE at > $1",
        )
        .bind(since)
        .fetch_one(self.db.read())
        .await?;
        let (checked, flagged, queued, declined, cleared, reviewed): (i64, i64, i64, i64, i64, i64) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?);
        let blocked = self.entries(Some("block")).await?.len();
        Ok(json!({
            "days": days,
            "checked": checked,
            "flagged": flagged,
            "review_queue": queued,
            "declined": declined,
            "score_distribution": distribution,
            // Of the held orders a person decided, the share they found honest.
            "false_positive_rate": if reviewed > 0 { cleared as f64 / reviewed as f64 } else { 0.0 },
            "reviewed": reviewed,
            "blocked_entities": blocked,
            "model_version": self.weights().await?.version,
        }))
    }
}

async fn insert_label(tx: &mut lsn_db::Tx, now: i64, order_id: &str, label: &str, source: &str, note: &str) -> Result<u64, lsn_db::Error> {
    Ok(lsn_db::query("INSERT INTO risk_labels (id, order_id, label, source, note, at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (order_id, source) DO NOTHING")
        .bind(lsn_core::ids::new_id())
        .bind(order_id)
        .bind(label)
        .bind(source)
        .bind(note)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// The daily summary's fraud section (the runbook's "Fraud detections" and its action item
/// "2 fraud cases under review").
pub struct Summary(pub Risk);

#[async_trait::async_trait]
impl lsn_ops::SummarySection for Summary {
    fn title(&self) -> &'static str {
        "summary-risk-title"
    }

    fn rank(&self) -> u8 {
        45
    }

    async fn section(&self, p: &lsn_ops::summary::Period) -> anyhow::Result<lsn_ops::summary::Section> {
        use lsn_ops::summary::{Figure, Measure, Section};
        let db = &self.0.db;
        let count = |from: i64, until: i64| async move {
            let r = lsn_db::query(
                "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN status <> 'approved' OR decided_by IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN status = 'declined' THEN 1 ELSE 0 END), 0) AS BIGINT) FROM fraud_checks WHERE at >= $1 AND at < $2",
            )
            .bind(from)
            .bind(until)
            .fetch_one(db.read())
            .await?;
            Ok::<_, lsn_db::Error>((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?, r.try_get::<i64, _>(2)?))
        };
        let (checked, flagged, declined) = count(p.from, p.until).await?;
        let (_, prev_flagged, _) = count(p.prev_from, p.prev_until).await?;
        let queued: i64 = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM fraud_checks WHERE status IN ('review', 'escalated')")
            .fetch_one(db.read())
            .await?
            .try_get(0)?;
        let mut s = Section::new("summary-risk-title")
            .icon("🛡️")
            .figure(Figure::new(i18n::t("summary-risk-checked"), Measure::Count(checked)))
            .figure(Figure::new(i18n::t("summary-risk-flagged"), Measure::Count(flagged)).against(Measure::Count(prev_flagged)))
            .figure(Figure::new(i18n::t("summary-risk-declined"), Measure::Count(declined)));
        if queued > 0 {
            s = s.action(i18n::t_args("summary-risk-review", &[("count", &queued.to_string())]));
        }
        Ok(s)
    }
}
