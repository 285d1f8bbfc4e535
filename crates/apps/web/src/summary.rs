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
