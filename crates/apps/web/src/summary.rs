//! The daily summary and the weekly report: every module's section for a period of the shop's
//! (`lsn_ops::summary`), rendered by the mail templates (`lsn_mails::summary`) as HTML with
//! tables and chart images, plain text and CSV attachments; mailed to `FOUNDER_EMAIL` and
//! `LSN_SUMMARY_TO` by the `ops.daily_summary` job, written to files by `lsn summary --out`,
//! shown on the admin's `/admin/summary`.

use chrono::NaiveDate;
use lsn_ops::summary::{Cadence, Period, Report};

pub use lsn_ops::summary::day_start;

/// `[from, until)` in Unix milliseconds: the calendar day `date` in the shop's time zone.
pub fn day(tz: chrono_tz::Tz, date: NaiveDate) -> (i64, i64) {
    let p = Period::daily(tz, date);
    (p.from, p.until)
}

/// Every module's section of `period`.
pub async fn report(state: &crate::app::AppState, period: Period) -> Report {
    lsn_ops::summary::build(&state.folded().summary, &state.cfg.shop_name, period).await
}

/// Who signs the report.
pub fn brand(cfg: &lsn_core::Config) -> lsn_mails::Brand {
    lsn_mails::Brand::new(&cfg.shop_name, &cfg.public_url)
}

/// The job that mails the daily summary and the weekly report.
pub const DAILY_SUMMARY_JOB: &str = "ops.daily_summary";

/// The runbook's "Daily summary: 8 AM" task: an autonomous task, so it runs only with
/// `ENABLE_AUTONOMOUS=true`.
pub fn schedule() -> lsn_ops::Schedule {
    lsn_ops::Schedule {
        name: "daily_summary",
        cron: "0 0 8 * * *",
        job_kind: DAILY_SUMMARY_JOB,
        payload: serde_json::json!({}),
        description: "Mail the daily summary of yesterday to FOUNDER_EMAIL and LSN_SUMMARY_TO (8 AM shop time)",
        autonomous: true,
    }
}

/// The weekly report: Mondays at 8 AM shop time, the seven days to Sunday against the seven before.
pub fn weekly_schedule() -> lsn_ops::Schedule {
    lsn_ops::Schedule {
        name: "weekly_report",
        cron: "0 0 8 * * Mon",
        job_kind: DAILY_SUMMARY_JOB,
        payload: serde_json::json!({ "cadence": "weekly" }),
        description: "Mail the weekly report of the past 7 days to FOUNDER_EMAIL and LSN_SUMMARY_TO (Mondays, 8 AM shop time)",
        autonomous: true,
    }
}

/// The period a job's payload asks for: `{"date": "YYYY-MM-DD"}` (the day, or the week ending
/// it) and `{"cadence": "weekly"}`; by default the one due today.
pub fn period_of(payload: &serde_json::Value, tz: chrono_tz::Tz, today: NaiveDate) -> Result<Period, String> {
    let cadence = match payload.get("cadence").and_then(|c| c.as_str()) {
        None | Some("daily") => Cadence::Daily,
        Some("weekly") => Cadence::Weekly,
        Some(other) => return Err(format!("unknown cadence {other:?} (daily or weekly)")),
    };
    Ok(match payload.get("date").and_then(|d| d.as_str()) {
        Some(d) => {
            let date = NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|e| format!("bad date {d:?}: {e}"))?;
            match cadence {
                Cadence::Daily => Period::daily(tz, date),
                Cadence::Weekly => Period::weekly(tz, date),
            }
        }
        None => Period::due(cadence, tz, today),
    })
}

/// A short stable tag of an address (FNV-1a), so each recipient's copy has its own mail id
/// without the address inside it.
fn tag_of(address: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in address.to_lowercase().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// `ops.daily_summary`: the period's report mailed to `FOUNDER_EMAIL` and every `LSN_SUMMARY_TO`
/// address, once per period and address however often the job runs (each mail's id is the
/// period's and the address's).
pub struct DailySummary(pub crate::app::AppState);

#[async_trait::async_trait]
impl lsn_ops::JobHandler for DailySummary {
    async fn run(&self, ctx: &lsn_ops::JobContext, payload: &serde_json::Value) -> Result<(), lsn_ops::JobError> {
        let s = &self.0;
        let tz = s.cfg.timezone;
        let today = ctx.clock.now().with_timezone(&tz).date_naive();
        let period = period_of(payload, tz, today).map_err(lsn_ops::JobError::Fail)?;
        let slug = period.slug();
        let to: Vec<String> = s.cfg.founder_email.iter().chain(s.cfg.summary_to.iter()).cloned().collect();
        if to.is_empty() {
            tracing::info!(%slug, "summary not mailed: FOUNDER_EMAIL and LSN_SUMMARY_TO are not set");
            ctx.report(format!("{slug}: not mailed, FOUNDER_EMAIL is not set"));
            return Ok(());
        }
        let report = report(s, period).await;
        let mail = lsn_mails::summary(&brand(&s.cfg), &report, lsn_mails::Images::Inline)
            .map_err(|e| lsn_ops::JobError::Fail(format!("cannot render the summary: {e}")))?;
        let kind = period.cadence.as_str();
        let messages: Vec<lsn_mail::Message> = to
            .iter()
            .map(|addr| mail.clone().message(addr, &format!("{kind}_summary"), Some(format!("{kind}-summary-{slug}-{}", tag_of(addr)))))
            .collect();
        let now = ctx.clock.now_ms();
        s.db.transaction_with(messages, move |tx, messages| {
            Box::pin(async move {
                for m in messages.iter() {
                    lsn_ops::builtin::queue_mail(tx, now, m.clone()).await?;
                }
                Ok::<_, lsn_db::Error>(())
            })
        })
        .await
        .map_err(|e| lsn_ops::JobError::Retry(e.to_string()))?;
        ctx.report(format!("{slug}: {kind} summary mailed to {}", to.join(", ")));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_names_the_day_or_the_week() {
        let tz: chrono_tz::Tz = "Australia/Sydney".parse().expect("tz");
        let monday = NaiveDate::from_ymd_opt(2026, 12, 7).expect("date");
        let p = period_of(&serde_json::json!({}), tz, monday).expect("default");
        assert_eq!((p.cadence, p.slug()), (Cadence::Daily, "2026-12-06".to_string()));
        let w = period_of(&serde_json::json!({"cadence": "weekly"}), tz, monday).expect("weekly");
        assert_eq!(w.slug(), "2026-11-30_2026-12-06");
        let d = period_of(&serde_json::json!({"date": "2026-12-01"}), tz, monday).expect("dated");
        assert_eq!(d.slug(), "2026-12-01");
        assert!(period_of(&serde_json::json!({"date": "yesterday"}), tz, monday).is_err());
        assert!(period_of(&serde_json::json!({"cadence": "monthly"}), tz, monday).is_err());
        assert_ne!(tag_of("a@b.co"), tag_of("c@b.co"));
        assert_eq!(tag_of("A@b.co"), tag_of("a@b.co"));
    }
}
