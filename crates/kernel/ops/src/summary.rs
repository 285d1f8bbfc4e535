//! The daily summary and the weekly report as data: each module answers a [`Section`] for a
//! [`Period`] (headline figures compared with the period before, tables, chart series, CSV files
//! and action items for a person), and [`build`] gathers them into a [`Report`] that the mail
//! templates (`lsn-mails`) render as HTML, plain text, chart images and attachments.
//!
//! A module owns its section: it reads its own tables and says what matters of them. A domain
//! that does not exist yet (creators, risk) adds nothing, so its section is left out rather
//! than shown with invented figures. Every text in a section is already translated.

use chrono::{Datelike, NaiveDate, TimeZone};
use lsn_core::i18n::{t, t_args};
use lsn_core::money::Money;
use serde::Serialize;
use std::sync::Arc;

/// A section of the summary: what happened in a [`Period`], read from the module's own tables.
#[async_trait::async_trait]
pub trait SummarySection: Send + Sync {
    /// The Fluent key of the section's heading (shown with the error when the section fails).
    fn title(&self) -> &'static str;
    /// Where the section stands in the report, lowest first, in the runbook's order: revenue
    /// (10), live streaming (20), creators (30), fraud (40), inventory (50), system health (90).
    fn rank(&self) -> u8 {
        60
    }
    async fn section(&self, period: &Period) -> anyhow::Result<Section>;
}

/// A daily summary or a weekly report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cadence {
    Daily,
    Weekly,
}

impl Cadence {
    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Daily => "daily",
            Cadence::Weekly => "weekly",
        }
    }
}

/// The moments a report covers, in Unix milliseconds: `[from, until)`, calendar days of the
/// shop's time zone, and the period of the same length just before it (what the figures are
/// compared with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub cadence: Cadence,
    pub tz: chrono_tz::Tz,
    /// The first and last day covered (shop time).
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub from: i64,
    pub until: i64,
    pub prev_from: i64,
    pub prev_until: i64,
}

/// When the calendar day `date` starts in `tz` (a day that starts inside a daylight-saving gap
/// starts at its first real moment), in Unix milliseconds.
pub fn day_start(tz: chrono_tz::Tz, date: NaiveDate) -> i64 {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight).earliest().map(|t| t.timestamp_millis()).unwrap_or_else(|| midnight.and_utc().timestamp_millis())
}

fn add_days(d: NaiveDate, n: i64) -> NaiveDate {
    d.checked_add_signed(chrono::Duration::days(n)).unwrap_or(d)
}

impl Period {
    /// The day `date`, compared with the day before.
    pub fn daily(tz: chrono_tz::Tz, date: NaiveDate) -> Self {
        Self::days(Cadence::Daily, tz, date, date)
    }

    /// The seven days ending with `last`, compared with the seven before.
    pub fn weekly(tz: chrono_tz::Tz, last: NaiveDate) -> Self {
        Self::days(Cadence::Weekly, tz, add_days(last, -6), last)
    }

    fn days(cadence: Cadence, tz: chrono_tz::Tz, first: NaiveDate, last: NaiveDate) -> Self {
        let len = (last - first).num_days() + 1;
        Self {
            cadence,
            tz,
            first,
            last,
            from: day_start(tz, first),
            until: day_start(tz, add_days(last, 1)),
            prev_from: day_start(tz, add_days(first, -len)),
            prev_until: day_start(tz, first),
        }
    }

    /// The report due at `today` (shop time): yesterday's summary, or the week that ended
    /// yesterday.
    pub fn due(cadence: Cadence, tz: chrono_tz::Tz, today: NaiveDate) -> Self {
        let yesterday = add_days(today, -1);
        match cadence {
            Cadence::Daily => Self::daily(tz, yesterday),
            Cadence::Weekly => Self::weekly(tz, yesterday),
        }
    }

    /// The chart buckets: the day's hours, or the week's days; each `[from, until)` with its label.
    pub fn buckets(&self) -> Vec<(i64, i64, String)> {
        match self.cadence {
            Cadence::Daily => {
                let hour = 3_600_000;
                // 23 or 25 hours on the days daylight saving starts or ends.
                let n = (self.until - self.from + hour - 1) / hour;
                (0..n).map(|i| (self.from + i * hour, (self.from + (i + 1) * hour).min(self.until), format!("{i:02}"))).collect()
            }
            Cadence::Weekly => {
                let mut out = Vec::new();
                let mut d = self.first;
                while d <= self.last {
                    let label = t(&format!("summary-weekday-{}", d.weekday().num_days_from_monday()));
                    out.push((day_start(self.tz, d), day_start(self.tz, add_days(d, 1)), label));
                    d = add_days(d, 1);
                }
                out
            }
        }
    }

    /// `2026-12-01`, or `2026-11-25_2026-12-01` for a week (file names, message ids).
    pub fn slug(&self) -> String {
        match self.cadence {
            Cadence::Daily => self.first.format("%Y-%m-%d").to_string(),
            Cadence::Weekly => format!("{}_{}", self.first.format("%Y-%m-%d"), self.last.format("%Y-%m-%d")),
        }
    }

    /// The period as a person reads it: `1 Dec 2026`, or `25 Nov – 1 Dec 2026`.
    pub fn label(&self) -> String {
        let date = |d: NaiveDate| {
            let at = self.tz.from_local_datetime(&d.and_hms_opt(12, 0, 0).unwrap_or_default()).earliest();
            at.map(|a| lsn_core::i18n::datetime(&a, lsn_core::i18n::DateStyle::Date)).unwrap_or_else(|| d.to_string())
        };
        match self.cadence {
            Cadence::Daily => date(self.first),
            Cadence::Weekly => t_args("summary-period-week", &[("first", &date(self.first)), ("last", &date(self.last))]),
        }
    }

    /// `vs yesterday` or `vs the week before`.
    pub fn versus(&self) -> String {
        t(match self.cadence {
            Cadence::Daily => "summary-vs-daily",
            Cadence::Weekly => "summary-vs-weekly",
        })
    }
}

/// A figure's value, kept as the integer it is so a change can be computed and the locale can
/// write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Measure {
    Count(i64),
    /// Australian dollars, in cents.
    Money(i64),
    /// Hundredths of a percent (`250` is 2.5 %).
    Percent(i64),
    Minutes(i64),
}

impl Measure {
    pub fn raw(self) -> i64 {
        match self {
            Measure::Count(n) | Measure::Money(n) | Measure::Percent(n) | Measure::Minutes(n) => n,
        }
    }

    /// The value as the current language writes it.
    pub fn text(self) -> String {
        let l = lsn_core::i18n::current();
        match self {
            Measure::Count(n) => signed(n, |a| l.number(a)),
            Measure::Money(n) => l.money(Money::aud(n)),
            Measure::Percent(n) => {
                let a = n.unsigned_abs();
                let value = format!("{}{}{}", if n < 0 { "-" } else { "" }, l.number(a / 100), one_decimal(l, a % 100));
                t_args("summary-percent", &[("value", &value)])
            }
            Measure::Minutes(n) => {
                let a = n.unsigned_abs();
                let hours = format!("{}{}{}", if n < 0 { "-" } else { "" }, l.number(a / 60), one_decimal(l, a % 60 * 100 / 60));
                t_args("summary-hours", &[("value", &hours)])
            }
        }
    }
}

fn signed(n: i64, f: impl Fn(u64) -> String) -> String {
    format!("{}{}", if n < 0 { "-" } else { "" }, f(n.unsigned_abs()))
}

/// `.5` for 50 hundredths (one decimal, none when it is zero).
fn one_decimal(l: lsn_core::i18n::Locale, hundredths: u64) -> String {
    let tenth = (hundredths + 5) / 10;
    if tenth == 0 || tenth >= 10 {
        String::new()
    } else {
        format!("{}{tenth}", l.t("number-decimal"))
    }
}

/// The percentage `a` is of `b`, in hundredths of a percent (0 when `b` is 0).
pub fn ratio(a: i64, b: i64) -> i64 {
    if b == 0 {
        return 0;
    }
    let r = (i128::from(a) * 10_000 + i128::from(b) / 2) / i128::from(b);
    r.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// A headline number: "Revenue: $12,450 (+15% vs yesterday)".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub label: String,
    pub value: Measure,
    /// The same figure for the period before; `None` where a comparison means nothing (a
    /// count of things now, such as pending tasks).
    pub previous: Option<Measure>,
    /// What the figure is made of ("8 streams, 24 hours in all").
    pub note: Option<String>,
}

impl Figure {
    pub fn new(label: String, value: Measure) -> Self {
        Self { label, value, previous: None, note: None }
    }

    pub fn against(mut self, previous: Measure) -> Self {
        self.previous = Some(previous);
        self
    }

    pub fn note(mut self, note: String) -> Self {
        self.note = Some(note);
        self
    }

    /// The change in whole percent (rounded half away from zero); `None` without a previous
    /// value or when it was 0.
    pub fn change_pct(&self) -> Option<i64> {
        let prev = self.previous?.raw();
        if prev == 0 {
            return None;
        }
        let diff = i128::from(self.value.raw()) - i128::from(prev);
        let scaled = diff * 100;
        let p = i128::from(prev.unsigned_abs());
        let rounded = if scaled >= 0 { (scaled + p / 2) / p } else { (scaled - p / 2) / p };
        Some(rounded.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
    }

    /// "(+15% vs yesterday)", "(no change vs yesterday)", "(none vs yesterday)"; empty without a
    /// comparison.
    pub fn change_text(&self, period: &Period) -> String {
        let Some(prev) = self.previous else { return String::new() };
        let vs = period.versus();
        match self.change_pct() {
            Some(0) => t_args("summary-change-same", &[("vs", &vs)]),
            Some(p) if p > 0 => t_args("summary-change-up", &[("pct", &p.to_string()), ("vs", &vs)]),
            Some(p) => t_args("summary-change-down", &[("pct", &p.unsigned_abs().to_string()), ("vs", &vs)]),
            None if prev.raw() == 0 && self.value.raw() == 0 => t_args("summary-change-same", &[("vs", &vs)]),
            None => t_args("summary-change-new", &[("vs", &vs)]),
        }
    }
}

/// A table of the section's (translated headings, formatted cells).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Table {
    pub caption: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The text shown when there are no rows.
    pub empty: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChartKind {
    Bars,
    Line,
}

/// A series to draw: one value per [`Period::buckets`] bucket (or any labelled points).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    /// Stable and file-name safe (`revenue`): the image's file name and content id.
    pub id: &'static str,
    pub title: String,
    pub kind: ChartKind,
    pub points: Vec<(String, Measure)>,
}

impl Chart {
    /// The biggest value, written out (the image's caption says what its tallest bar is).
    pub fn peak(&self) -> Option<(String, String)> {
        self.points.iter().max_by_key(|(_, m)| m.raw()).map(|(l, m)| (l.clone(), m.text()))
    }

    /// What a reader who cannot see the image reads instead.
    pub fn alt(&self) -> String {
        match self.peak() {
            Some((label, value)) => t_args("summary-chart-alt", &[("title", &self.title), ("label", &label), ("value", &value)]),
            None => self.title.clone(),
        }
    }
}

/// A CSV file to attach: the rows behind a section's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Csv {
    /// The file's name without the period and extension (`orders`).
    pub name: &'static str,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Csv {
    /// RFC 4180 text (CRLF, quoted where needed). A cell that a spreadsheet would run as a
    /// formula (`=`, `+`, `@`, or `-` not starting a number) is prefixed with `'`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(self.rows.iter()) {
            let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out.into_bytes()
    }

    pub fn filename(&self, period: &Period) -> String {
        format!("{}-{}.csv", self.name, period.slug())
    }
}

fn csv_cell(c: &str) -> String {
    let numeric = c.strip_prefix('-').is_some_and(|r| !r.is_empty() && r.chars().all(|ch| ch.is_ascii_digit() || ch == '.'));
    let risky = matches!(c.chars().next(), Some('=' | '+' | '@' | '\t' | '\r')) || (c.starts_with('-') && !numeric);
    let c = if risky { format!("'{c}") } else { c.to_string() };
    if c.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", c.replace('"', "\"\""))
    } else {
        c
    }
}

/// One module's part of a report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Section {
    /// The emoji before the heading, as the runbook's sample has them (💰, 🎥, …).
    pub icon: &'static str,
    pub title: String,
    pub figures: Vec<Figure>,
    /// Short lines beside the figures.
    pub notes: Vec<String>,
    pub tables: Vec<Table>,
    pub charts: Vec<Chart>,
    pub csv: Vec<Csv>,
    /// What needs a person ("3 payouts require approval"), gathered at the end of the report.
    pub actions: Vec<String>,
}

impl Section {
    /// A section headed by the message `title_key`.
    pub fn new(title_key: &str) -> Self {
        Self { title: t(title_key), ..Self::default() }
    }

    pub fn icon(mut self, icon: &'static str) -> Self {
        self.icon = icon;
        self
    }

    pub fn figure(mut self, f: Figure) -> Self {
        self.figures.push(f);
        self
    }

    pub fn note(mut self, line: String) -> Self {
        self.notes.push(line);
        self
    }

    pub fn table(mut self, table: Table) -> Self {
        self.tables.push(table);
        self
    }

    pub fn chart(mut self, chart: Chart) -> Self {
        self.charts.push(chart);
        self
    }

    pub fn csv(mut self, csv: Csv) -> Self {
        self.csv.push(csv);
        self
    }

    pub fn action(mut self, line: String) -> Self {
        self.actions.push(line);
        self
    }
}

/// A section that could not be read: its heading and why (the others still appear).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failed {
    pub title: String,
    pub error: String,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub shop: String,
    #[serde(skip)]
    pub period: Period,
    pub sections: Vec<Section>,
    pub failed: Vec<Failed>,
}

impl Report {
    /// Every section's action items, in section order.
    pub fn actions(&self) -> Vec<String> {
        self.sections.iter().flat_map(|s| s.actions.iter().cloned()).collect()
    }

    /// Every CSV file of the report with its name.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        self.sections.iter().flat_map(|s| s.csv.iter()).map(|c| (c.filename(&self.period), c.to_bytes())).collect()
    }

    /// Every chart of the report.
    pub fn charts(&self) -> Vec<&Chart> {
        self.sections.iter().flat_map(|s| s.charts.iter()).collect()
    }
}

/// Asks every module for its section of `period`, in the order of their ranks (then the order
/// they were folded).
pub async fn build(sections: &[Arc<dyn SummarySection>], shop: &str, period: Period) -> Report {
    let mut report = Report { shop: shop.to_string(), period, sections: Vec::new(), failed: Vec::new() };
    let mut ordered: Vec<&Arc<dyn SummarySection>> = sections.iter().collect();
    ordered.sort_by_key(|s| s.rank());
    for s in ordered {
        match s.section(&period).await {
            Ok(section) => report.sections.push(section),
            Err(e) => {
                tracing::warn!(section = s.title(), "summary section failed: {e:#}");
                report.failed.push(Failed { title: t(s.title()), error: format!("{e:#}") });
            }
        }
    }
    report
}

/// Sums a column per bucket: `rows` are `(at, value)` pairs, each counted in the bucket it falls in.
pub fn per_bucket(buckets: &[(i64, i64, String)], rows: &[(i64, i64)], measure: fn(i64) -> Measure) -> Vec<(String, Measure)> {
    buckets
        .iter()
        .map(|(from, until, label)| {
            let sum: i64 = rows.iter().filter(|(at, _)| at >= from && at < until).map(|(_, v)| *v).sum();
            (label.clone(), measure(sum))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sydney() -> chrono_tz::Tz {
        "Australia/Sydney".parse().expect("tz")
    }

    #[test]
    fn a_day_is_the_shops_calendar_day_and_a_week_seven_of_them() {
        let p = Period::daily(sydney(), NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
        // Sydney is UTC+11 in December: the day starts at 13:00 UTC the day before.
        assert_eq!(chrono::DateTime::from_timestamp_millis(p.from).expect("t").to_rfc3339(), "2026-11-30T13:00:00+00:00");
        assert_eq!((p.until - p.from, p.prev_until, p.from - p.prev_from), (86_400_000, p.from, 86_400_000));
        assert_eq!(p.buckets().len(), 24);
        // The day daylight saving starts (4 October 2026) has 23 hours.
        let dst = Period::daily(sydney(), NaiveDate::from_ymd_opt(2026, 10, 4).expect("date"));
        assert_eq!((dst.until - dst.from, dst.buckets().len()), (23 * 3_600_000, 23));
        let w = Period::due(Cadence::Weekly, sydney(), NaiveDate::from_ymd_opt(2026, 12, 7).expect("monday"));
        assert_eq!(
            (w.first.to_string(), w.last.to_string(), w.slug()),
            ("2026-11-30".into(), "2026-12-06".into(), "2026-11-30_2026-12-06".into())
        );
        assert_eq!((w.until - w.from, w.prev_until), (7 * 86_400_000, w.from));
        let days: Vec<String> = w.buckets().into_iter().map(|b| b.2).collect();
        assert_eq!(days, ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]);
        assert_eq!(w.label(), "30 Nov 2026 – 6 Dec 2026");
    }

    #[test]
    fn changes_are_whole_percents_against_the_period_before() {
        let p = Period::daily(sydney(), NaiveDate::from_ymd_opt(2026, 12, 31).expect("date"));
        // The runbook's sample: $12,450 after $10,826 is +15 %.
        let revenue = Figure::new("Revenue".into(), Measure::Money(1_245_000)).against(Measure::Money(1_082_600));
        assert_eq!((revenue.change_pct(), revenue.change_text(&p)), (Some(15), "+15% vs yesterday".to_string()));
        let down = Figure::new("Orders".into(), Measure::Count(80)).against(Measure::Count(87));
        assert_eq!(down.change_text(&p), "-8% vs yesterday");
        assert_eq!(Figure::new("x".into(), Measure::Count(5)).against(Measure::Count(0)).change_text(&p), "new vs yesterday");
        assert_eq!(Figure::new("x".into(), Measure::Count(0)).against(Measure::Count(0)).change_text(&p), "no change vs yesterday");
        assert_eq!(Figure::new("x".into(), Measure::Count(3)).change_text(&p), "");
        assert_eq!(Measure::Money(14_310).text(), "$143.10");
        assert_eq!(Measure::Percent(ratio(86, 3421)).text(), "2.5%");
        assert_eq!(Measure::Percent(1000).text(), "10%");
        assert_eq!(Measure::Minutes(24 * 60).text(), "24 h");
        assert_eq!(Measure::Minutes(90).text(), "1.5 h");
        assert_eq!(Measure::Count(3421).text(), "3,421");
        assert_eq!(ratio(1, 0), 0);
    }

    #[test]
    fn csv_is_quoted_and_safe_to_open_in_a_spreadsheet() {
        let c = Csv {
            name: "orders",
            header: vec!["number".into(), "note".into()],
            rows: vec![vec!["-12.50".into(), "=HYPERLINK(\"x\")".into()], vec!["a,b".into(), "-x".into()]],
        };
        assert_eq!(String::from_utf8(c.to_bytes()).expect("utf-8"), "number,note\r\n-12.50,\"'=HYPERLINK(\"\"x\"\")\"\r\n\"a,b\",'-x\r\n");
    }
}
