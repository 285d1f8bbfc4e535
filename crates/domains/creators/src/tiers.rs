//! The monthly tier review (the runbook's "Creator Tier Adjustments"): each approved creator's
//! attributed sales of the last 90 days against the tiers' thresholds; a creator whose sales put
//! them in another tier gets a proposal (promotion or demotion) for an admin to confirm or
//! dismiss, and one task tells a person there are proposals. Nothing changes a tier by itself.

use crate::{Creators, CreatorsError, DAY_MS, TIERS};
use lsn_core::i18n;
use lsn_db::RowExt;
use serde_json::{json, Value};

pub const REVIEW_JOB: &str = "creators.tier_review";

impl Creators {
    /// Proposes tier changes for the month of `now` (once per creator and month). How many
    /// proposals were made.
    pub async fn review_tiers(&self) -> Result<u64, CreatorsError> {
        let now = self.clock.now_ms();
        let period = chrono::DateTime::from_timestamp_millis(now).map(|d| d.format("%Y-%m").to_string()).unwrap_or_default();
        let thresholds: Vec<(String, i64)> = lsn_db::query("SELECT tier, min_sales_90d FROM creator_tiers ORDER BY rank")
            .fetch_all(self.db.read())
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, lsn_db::Error>>()?;
        let rows = lsn_db::query(
            "SELECT c.id, c.tier, CAST(COALESCE((SELECT SUM(a.base) FROM creator_attributions a WHERE a.creator_id = c.id AND a.status = 'attributed' AND a.at >= $1), 0) AS BIGINT) \
             FROM creators c WHERE c.status = 'approved'",
        )
        .bind(now - 90 * DAY_MS)
        .fetch_all(self.db.read())
        .await?;
        let mut proposals = Vec::new();
        for r in &rows {
            let (id, tier, sales): (String, String, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            let earned = thresholds
                .iter()
                .filter(|(_, min)| sales >= *min)
                .map(|(t, _)| t.clone())
                .next_back()
                .unwrap_or_else(|| TIERS[0].to_string());
            if earned != tier {
                proposals.push((id, tier, earned, sales));
            }
        }
        if proposals.is_empty() {
            return Ok(0);
        }
        let p2 = proposals.clone();
        let made = self
            .db
            .transaction(move |tx| {
                let (proposals, period) = (p2.clone(), period.clone());
                Box::pin(async move {
                    let mut made = 0u64;
                    for (id, from, to, sales) in &proposals {
                        made += lsn_db::query(
                            "INSERT INTO creator_tier_proposals (id, creator_id, period, from_tier, to_tier, sales_90d, status, proposed_at) VALUES ($1, $2, $3, $4, $5, $6, 'proposed', $7) \
                             ON CONFLICT (creator_id, period) DO NOTHING",
                        )
                        .bind(lsn_core::ids::new_id())
                        .bind(id)
                        .bind(&period)
                        .bind(from)
                        .bind(to)
                        .bind(sales)
                        .bind(now)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected();
                    }
                    if made > 0 {
                        lsn_ops::tasks::open_once(
                            tx,
                            now,
                            "creator_tiers",
                            &i18n::t_args("creators-tier-task", &[("count", &made.to_string()), ("period", &period)]),
                            &i18n::t("creators-tier-task-detail"),
                            &format!("tiers:{period}"),
                        )
                        .await?;
                    }
                    Ok::<_, lsn_db::Error>(made)
                })
            })
            .await?;
        Ok(made)
    }

    pub async fn tier_proposals(&self, status: Option<&str>) -> Result<Vec<Value>, CreatorsError> {
        let rows = lsn_db::query(
            "SELECT p.id, p.creator_id, c.handle, p.period, p.from_tier, p.to_tier, p.sales_90d, p.status, p.proposed_at FROM creator_tier_proposals p \
             JOIN creators c ON c.id = p.creator_id WHERE ($1 IS NULL OR p.status = $1) ORDER BY p.proposed_at DESC LIMIT 500",
        )
        .bind(status)
        .fetch_all(self.db.read())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(json!({"id": r.try_get::<String, _>(0)?, "creator_id": r.try_get::<String, _>(1)?, "handle": r.try_get::<String, _>(2)?, "period": r.try_get::<String, _>(3)?,
                    "from_tier": r.try_get::<String, _>(4)?, "to_tier": r.try_get::<String, _>(5)?, "sales_90d": r.try_get::<i64, _>(6)?, "status": r.try_get::<String, _>(7)?,
                    "proposed_at": r.try_get::<i64, _>(8)?}))
            })
            .collect::<Result<_, lsn_db::Error>>()
            .map_err(Into::into)
    }

    /// An admin confirms (the tier changes) or dismisses a proposal.
    pub async fn decide_tier(&self, id: &str, confirm: bool, who: &str) -> Result<Value, CreatorsError> {
        if !lsn_core::ids::is_valid_id(id) {
            return Err(CreatorsError::NotFound);
        }
        let Some(r) = lsn_db::query("SELECT creator_id, to_tier, status FROM creator_tier_proposals WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.read())
            .await?
        else {
            return Err(CreatorsError::NotFound);
        };
        let (creator, to, status): (String, String, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        if status != "proposed" {
            return Err(CreatorsError::rule(crate::Code::InvalidTransition, i18n::t("creators-tier-decided")));
        }
        let to_status = if confirm { "confirmed" } else { "dismissed" };
        let n = lsn_db::query(
            "UPDATE creator_tier_proposals SET status = $1, decided_at = $2, decided_by = $3 WHERE id = $4 AND status = 'proposed'",
        )
        .bind(to_status)
        .bind(self.clock.now_ms())
        .bind(who)
        .bind(id)
        .execute(self.db.write())
        .await?
        .rows_affected();
        if n == 0 {
            return Err(CreatorsError::rule(crate::Code::InvalidTransition, i18n::t("creators-tier-decided")));
        }
        if confirm {
            self.set_terms(&creator, Some(&to), None).await?;
        }
        Ok(json!({"id": id, "status": to_status, "creator": self.get(&creator).await?}))
    }
}
