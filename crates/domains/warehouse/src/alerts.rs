//! The runbook's "low-stock alerts: hourly" task: every active variant with fewer than
//! [`LOW_STOCK_THRESHOLD`] units available gets one open task for a person (the admin's tasks),
//! however many hours it stays low; once the task is done, the next low hour opens a new one.
//! Each new task also raises the warehouse's `low_stock` alert (Slack and the admin's alerts),
//! and one low-stock alert e-mail per run lists the variants that newly ran low (to
//! `FOUNDER_EMAIL` and `LSN_ALERT_EMAIL_TO`).
//! An autonomous task: it runs only with `ENABLE_AUTONOMOUS=true`.

use crate::stock::LOW_STOCK_THRESHOLD;
use lsn_core::i18n::t_args;
use lsn_db::Db;
use serde_json::Value;

pub const LOW_STOCK_JOB: &str = "warehouse.low_stock_alerts";

/// The runbook's "low stock alerts (< 10 units)" Slack alert: one per variant when its task
/// opens, at most one a day per variant.
pub const LOW_STOCK_ALERT: lsn_ops::AlertType = lsn_ops::AlertType {
    name: "low_stock",
    description: "An active variant has fewer than 10 units available",
    cooldown_secs: 86_400,
    incident: lsn_ops::Priority::P3,
};
pub const LOW_STOCK_TASK: &str = "low_stock";

pub fn schedule() -> lsn_ops::Schedule {
    lsn_ops::Schedule {
        name: "low_stock_alerts",
        cron: "0 0 * * * *",
        job_kind: LOW_STOCK_JOB,
        payload: serde_json::json!({}),
        description: "Open a task for each active variant below 10 units available (hourly)",
        autonomous: true,
    }
}

/// Who gets the low-stock alert e-mail, and who signs it.
#[derive(Debug, Clone)]
pub struct AlertMail {
    pub to: Vec<String>,
    pub brand: lsn_mails::Brand,
}

pub struct LowStock {
    pub db: Db,
    pub mail: AlertMail,
}

#[async_trait::async_trait]
impl lsn_ops::JobHandler for LowStock {
    async fn run(&self, ctx: &lsn_ops::JobContext, _payload: &Value) -> Result<(), lsn_ops::JobError> {
        let retry = |e: lsn_db::Error| lsn_ops::JobError::Retry(e.to_string());
        let low = crate::summary::low_variants(&self.db, 500).await.map_err(retry)?;
        if low.is_empty() {
            ctx.report("no variant is low");
            return Ok(());
        }
        let count = low.len();
        let now = ctx.clock.now_ms();
        let texts: Vec<(crate::summary::LowVariant, String, String)> = low
            .into_iter()
            .map(|l| {
                let available = l.available.max(0).to_string();
                let title = t_args("warehouse-low-stock-title", &[("sku", &l.sku), ("available", &available)]);
                let detail = t_args(
                    "warehouse-low-stock-detail",
                    &[("title", &l.title), ("sku", &l.sku), ("available", &available), ("threshold", &LOW_STOCK_THRESHOLD.to_string())],
                );
                (l, title, detail)
            })
            .collect();
        let mail = self.mail.clone();
        let opened = self
            .db
            .transaction_with((texts, mail), move |tx, (texts, mail)| {
                Box::pin(async move {
                    let mut opened = Vec::new();
                    for (l, title, detail) in texts.iter() {
                        if lsn_ops::tasks::open_once(tx, now, LOW_STOCK_TASK, title, detail, &l.variant_id).await? {
                            opened.push(lsn_mails::LowItem { sku: l.sku.clone(), title: l.title.clone(), available: l.available });
                            lsn_ops::alerts::raise(tx, now, &LOW_STOCK_ALERT, &l.variant_id, lsn_ops::Severity::Warning, title, detail)
                                .await?;
                        }
                    }
                    let n = opened.len();
                    if n > 0 && !mail.to.is_empty() {
                        let alert = lsn_mails::LowStockAlert {
                            items: opened,
                            threshold: LOW_STOCK_THRESHOLD,
                            link: mail.brand.link("/admin/tasks"),
                        };
                        // A template that cannot render is a bug to log, not a reason to lose the tasks.
                        match mail.brand.render(&alert) {
                            Ok(m) => {
                                for to in &mail.to {
                                    lsn_ops::builtin::queue_mail(tx, now, m.clone().message(to, "low_stock_alert", None)).await?;
                                }
                            }
                            Err(e) => tracing::error!("low-stock alert mail: {e}"),
                        }
                    }
                    Ok::<_, lsn_db::Error>(n)
                })
            })
            .await
            .map_err(retry)?;
        ctx.report(format!("{count} variants low, {opened} new tasks"));
        Ok(())
    }
}
