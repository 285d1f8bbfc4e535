//! Jobs and schedules the operations crate owns: sending mail, taking backups, dispatching the
//! outbox; and the runbook's two example policies, until their domains exist.

use crate::jobs::{enqueue, JobContext, JobError, JobHandler, NewJob};
use crate::module::Module;
use crate::policy::{Fact, Passes, PolicyKind};
use crate::schedule::Schedule;
use lsn_db::backup::{self, BackupKind};
use lsn_mail::{MailError, Message, Transport};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

pub const MAIL_SEND: &str = "mail.send";
pub const BACKUP_RUN: &str = "backup.run";

/// Queues `msg` for sending inside `tx` (mail is never sent inside a request).
pub async fn queue_mail(tx: &mut lsn_db::Tx, now_ms: i64, mut msg: Message) -> Result<String, lsn_db::Error> {
    let id = msg.message_id.get_or_insert_with(lsn_core::ids::new_id).clone();
    let payload = serde_json::to_value(&msg).unwrap_or(Value::Null);
    enqueue(&mut **tx, &NewJob::new(MAIL_SEND, payload).max_attempts(10).priority(50).dedupe(format!("mail:{id}")), now_ms).await?;
    Ok(id)
}

pub struct MailJob {
    pub transport: Arc<dyn Transport>,
    pub from: String,
}

#[async_trait::async_trait]
impl JobHandler for MailJob {
    async fn run(&self, _ctx: &JobContext, payload: &Value) -> Result<(), JobError> {
        let msg: Message = serde_json::from_value(payload.clone()).map_err(|e| JobError::Fail(format!("bad mail payload: {e}")))?;
        match self.transport.send(&self.from, &msg).await {
            Ok(_) => Ok(()),
            Err(MailError::Transient(e)) => Err(JobError::Retry(e)),
            Err(MailError::Permanent(e)) => Err(JobError::Fail(e)),
        }
    }
}

pub struct BackupJob {
    pub dir: PathBuf,
}

#[async_trait::async_trait]
impl JobHandler for BackupJob {
    async fn run(&self, ctx: &JobContext, payload: &Value) -> Result<(), JobError> {
        let kind = payload["kind"].as_str().and_then(BackupKind::parse).unwrap_or(BackupKind::Daily);
        let now = ctx.clock.now();
        ctx.db.backup(&self.dir, kind, now).await.map_err(|e| JobError::Retry(e.to_string()))?;
        let removed = backup::prune(&self.dir, now).map_err(|e| JobError::Retry(e.to_string()))?;
        if !removed.is_empty() {
            tracing::info!(removed = removed.len(), "old backups pruned");
        }
        Ok(())
    }
}

/// The creator tiers, lowest first (the creators domain will own them).
pub const CREATOR_TIERS: &[&str] = &["bronze", "silver", "gold", "platinum"];

/// The runbook's fraud policy: an order whose risk score is over 70 and under 90 is sent to
/// review; 90 or more escalates to a person. The risk domain registers it (with the facts its
/// fraud check computes).
pub const FRAUD_REVIEW: PolicyKind = PolicyKind {
    name: "fraud_review",
    action: "review_order",
    description: "Whether an order is held for a fraud review",
    facts: &[
        Fact::number("risk_score", 0.0, 100.0, "The order's fraud risk score, 0 to 100"),
        Fact::number("order_total", 0.0, 1_000_000.0, "The order's total in dollars"),
        Fact::flag("first_order", "Whether it is the buyer's first order"),
        Fact::number("account_age_days", 0.0, 36_500.0, "Days since the buyer's account was made (0 for a guest)"),
    ],
    condition: "risk_score > 70 AND risk_score < 90",
    escalation_fact: "risk_score",
    escalate_when: Passes::AtLeast,
    escalation_threshold: 90.0,
    approval_required: false,
};

/// The runbook's payout policy: a payout of $500 or less to a creator of silver tier or above is
/// approved; more than $500 escalates to a person. The creators domain registers it.
pub const PAYOUT_APPROVAL: PolicyKind = PolicyKind {
    name: "payout_approval",
    action: "approve_payout",
    description: "Whether a creator's payout is approved without a person",
    facts: &[
        Fact::number("amount", 0.0, 1_000_000.0, "The payout in dollars"),
        Fact::ordinal("creator_tier", CREATOR_TIERS, "The creator's tier: bronze < silver < gold < platinum"),
    ],
    condition: "amount <= 500 AND creator_tier >= 'silver'",
    escalation_fact: "amount",
    escalate_when: Passes::Above,
    escalation_threshold: 500.0,
    approval_required: false,
};

/// The operations crate's own background work: sending queued mail (every domain queues it
/// through [`queue_mail`]) and the runbook's backup strategy (daily full backups at 2 AM UTC,
/// hourly ones in business hours).
pub fn module(db: lsn_db::Db, transport: Arc<dyn Transport>, from: String, backup_dir: PathBuf) -> Module {
    Module::new("operations")
        .summary(Arc::new(Operations { db, backup_dir: backup_dir.clone() }))
        .job(MAIL_SEND, Arc::new(MailJob { transport, from }))
        .job(BACKUP_RUN, Arc::new(BackupJob { dir: backup_dir }))
        .job(crate::cleanup::CLEANUP_JOB, Arc::new(crate::cleanup::CleanupJob { keep: crate::cleanup::Retention::default() }))
        .alert_type(crate::healing::PROVIDER_UNAVAILABLE)
        .raises(&[crate::healing::PROVIDER_UNAVAILABLE.name])
        .enqueues(&[MAIL_SEND])
        .schedule(Schedule {
            name: "backup_daily",
            cron: "CRON_TZ=UTC 0 0 2 * * *",
            job_kind: BACKUP_RUN,
            payload: json!({"kind": "daily"}),
            description: "Daily full backup at 2 AM UTC (kept 30 days)",
            autonomous: false,
        })
        .schedule(Schedule {
            name: "backup_hourly",
            cron: "0 0 9-17 * * *",
            job_kind: BACKUP_RUN,
            payload: json!({"kind": "hourly"}),
            description: "Hourly backup during business hours (kept 7 days)",
            autonomous: false,
        })
        .schedule(Schedule {
            name: "cleanup",
            cron: "0 30 3 * * *",
            job_kind: crate::cleanup::CLEANUP_JOB,
            payload: json!({}),
            description: "Remove finished jobs, job runs, workflow runs, resolved alerts, policy decisions and healing events past their retention (daily at 3:30 AM)",
            autonomous: false,
        })
}

/// The operations section of the summary, the runbook's "system health": how the background
/// work went (against the period before), the alerts raised, what waits for a person (open
/// tasks, firing alerts, open incidents: action items) and the newest backup.
struct Operations {
    db: lsn_db::Db,
    backup_dir: PathBuf,
}

impl Operations {
    async fn runs(&self, from: i64, until: i64) -> Result<(i64, i64, i64), lsn_db::Error> {
        use lsn_db::RowExt;
        let r = lsn_db::query(
            "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN outcome = 'dead' THEN 1 ELSE 0 END), 0) AS BIGINT) FROM job_runs WHERE finished_at >= $1 AND finished_at < $2",
        )
        .bind(from)
        .bind(until)
        .fetch_one(self.db.read())
        .await?;
        Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
    }

    async fn count(&self, sql: &str, from: Option<(i64, i64)>) -> Result<i64, lsn_db::Error> {
        use lsn_db::RowExt;
        let mut q = lsn_db::query(sql);
        if let Some((a, b)) = from {
            q = q.bind(a).bind(b);
        }
        q.fetch_one(self.db.read()).await?.try_get(0)
    }
}

#[async_trait::async_trait]
impl crate::summary::SummarySection for Operations {
    fn title(&self) -> &'static str {
        "summary-ops-title"
    }

    fn rank(&self) -> u8 {
        90
    }

    async fn section(&self, p: &crate::summary::Period) -> anyhow::Result<crate::summary::Section> {
        use crate::summary::{Figure, Measure::Count, Section};
        use lsn_core::i18n::{t, t_args};
        let (runs, failed, dead) = self.runs(p.from, p.until).await?;
        let (prev_runs, prev_failed, prev_dead) = self.runs(p.prev_from, p.prev_until).await?;
        const ALERTS: &str = "SELECT CAST(COUNT(*) AS BIGINT) FROM alerts WHERE first_at >= $1 AND first_at < $2";
        let alerts = self.count(ALERTS, Some((p.from, p.until))).await?;
        let prev_alerts = self.count(ALERTS, Some((p.prev_from, p.prev_until))).await?;
        let tasks = self.count("SELECT CAST(COUNT(*) AS BIGINT) FROM tasks WHERE status = 'open'", None).await?;
        let firing = self.count("SELECT CAST(COUNT(*) AS BIGINT) FROM alerts WHERE status = 'firing'", None).await?;
        let incidents = self.count("SELECT CAST(COUNT(*) AS BIGINT) FROM incidents WHERE status <> 'resolved'", None).await?;
        let newest = backup::list(&self.backup_dir)?.pop();
        let mut s = Section::new("summary-ops-title")
            .icon("🩺")
            .figure(Figure::new(t("summary-ops-runs"), Count(runs)).against(Count(prev_runs)))
            .figure(Figure::new(t("summary-ops-failed"), Count(failed)).against(Count(prev_failed)))
            .figure(Figure::new(t("summary-ops-dead"), Count(dead)).against(Count(prev_dead)))
            .figure(Figure::new(t("summary-ops-alerts"), Count(alerts)).against(Count(prev_alerts)))
            .note(match newest {
                Some(b) => t_args("summary-ops-backups", &[("when", &b.taken_at.format("%Y-%m-%d %H:%M UTC").to_string())]),
                None => t("summary-ops-no-backup"),
            });
        for (n, key) in [
            (tasks, "summary-ops-tasks"),
            (firing, "summary-ops-firing"),
            (incidents, "summary-ops-incidents"),
            (dead, "summary-ops-gave-up"),
        ] {
            if n > 0 {
                s = s.action(t_args(key, &[("count", &n.to_string())]));
            }
        }
        Ok(s)
    }
}
