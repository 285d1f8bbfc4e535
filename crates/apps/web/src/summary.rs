//! The daily summary: every module's section for one day of the shop's, as plain text (printed
//! by `lsn summary`; the operations layer mails it).

use chrono::{NaiveDate, TimeZone};
use lsn_ops::SummarySection;
use std::sync::Arc;

/// `[from, until)` in Unix milliseconds: the calendar day `date` in the shop's time zone.
pub fn day(tz: chrono_tz::Tz, date: NaiveDate) -> (i64, i64) {
    let start = |d: NaiveDate| {
        let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        // A day that starts inside a daylight-saving gap starts at its first real moment.
        tz.from_local_datetime(&midnight).earliest().map(|t| t.timestamp_millis()).unwrap_or_else(|| midnight.and_utc().timestamp_millis())
    };
    (start(date), start(date.succ_opt().unwrap_or(date)))
}

/// Every section, titled; a section that fails says so and the others still appear.
pub async fn render(sections: &[Arc<dyn SummarySection>], from: i64, until: i64) -> String {
    let mut out = String::new();
    for s in sections {
        out.push_str(&lsn_core::i18n::t(s.title()));
        out.push('\n');
        match s.lines(from, until).await {
            Ok(lines) => lines.iter().for_each(|l| out.push_str(&format!("  {l}\n"))),
            Err(e) => out.push_str(&format!("  ✗ {e}\n")),
        }
    }
    out
}

/// The job that mails the daily summary.
pub const DAILY_SUMMARY_JOB: &str = "ops.daily_summary";

/// The runbook's "Daily summary: 8 AM" task: an autonomous task, so it runs only with
/// `ENABLE_AUTONOMOUS=true`.
pub fn schedule() -> lsn_ops::Schedule {
    lsn_ops::Schedule {
        name: "daily_summary",
        cron: "0 0 8 * * *",
        job_kind: DAILY_SUMMARY_JOB,
        payload: serde_json::json!({}),
        description: "Mail the daily summary of yesterday to FOUNDER_EMAIL (8 AM shop time)",
        autonomous: true,
    }
}

/// `ops.daily_summary`: yesterday's summary (or `{"date": "YYYY-MM-DD"}`'s) mailed to
/// `FOUNDER_EMAIL`, once per day however often the job runs (the mail's id is the day's).
pub struct DailySummary(pub crate::app::AppState);

#[async_trait::async_trait]
impl lsn_ops::JobHandler for DailySummary {
    async fn run(&self, ctx: &lsn_ops::JobContext, payload: &serde_json::Value) -> Result<(), lsn_ops::JobError> {
        let s = &self.0;
        let tz = s.cfg.timezone;
        let date = match payload.get("date").and_then(|d| d.as_str()) {
            Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|e| lsn_ops::JobError::Fail(format!("bad date {d:?}: {e}")))?,
            None => {
                let today = ctx.clock.now().with_timezone(&tz).date_naive();
                today.pred_opt().unwrap_or(today)
            }
        };
        let Some(to) = s.cfg.founder_email.clone() else {
            tracing::info!(%date, "daily summary not mailed: FOUNDER_EMAIL is not set");
            ctx.report(format!("{date}: not mailed, FOUNDER_EMAIL is not set"));
            return Ok(());
        };
        let (from, until) = day(tz, date);
        let text = render(&s.folded().summary, from, until).await;
        let date_text = date.format("%Y-%m-%d").to_string();
        let msg = lsn_mail::Message {
            to,
            subject: lsn_core::i18n::t_args("summary-mail-subject", &[("shop", &s.cfg.shop_name), ("date", &date_text)]),
            text,
            html: None,
            tag: Some("daily_summary".into()),
            message_id: Some(format!("daily-summary-{date_text}")),
            attachments: Vec::new(),
        };
        let now = ctx.clock.now_ms();
        let report = format!("{date_text}: mailed to {}", msg.to);
        s.db.transaction(move |tx| {
            let msg = msg.clone();
            Box::pin(async move { lsn_ops::builtin::queue_mail(tx, now, msg).await })
        })
        .await
        .map_err(|e| lsn_ops::JobError::Retry(e.to_string()))?;
        ctx.report(report);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_the_shops_calendar_day() {
        let tz: chrono_tz::Tz = "Australia/Sydney".parse().expect("tz");
        let (from, until) = day(tz, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
        // Sydney is UTC+11 in December: the day starts at 13:00 UTC the day before.
        assert_eq!(chrono::DateTime::from_timestamp_millis(from).expect("t").to_rfc3339(), "2026-11-30T13:00:00+00:00");
        assert_eq!(until - from, 24 * 3600 * 1000);
        // The day daylight saving starts (4 October 2026) has 23 hours.
        let (a, b) = day(tz, NaiveDate::from_ymd_opt(2026, 10, 4).expect("date"));
        assert_eq!(b - a, 23 * 3600 * 1000);
    }
}
