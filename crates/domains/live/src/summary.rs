//! The live domain's section of the summary, the runbook's "Live Streaming": streams on air in
//! the period and their hours, unique viewers, and conversion (orders from live rooms per unique
//! viewer), each against the period before; the shows as a table and a CSV file.

use crate::shows::Live;
use lsn_core::i18n::{t, t_args};
use lsn_db::RowExt;
use lsn_ops::summary::{ratio, Csv, Figure, Measure, Period, Section, Table};

pub struct Shows(pub Live);

/// What was on air in `[from, until)`: streams, minutes on air (within the window), unique viewers.
async fn on_air(l: &Live, from: i64, until: i64) -> Result<(i64, i64, i64), lsn_db::Error> {
    let r = lsn_db::query(
        "SELECT CAST(COUNT(*) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN COALESCE(ended_at, $2) < $2 THEN COALESCE(ended_at, $2) ELSE $2 END \
                           - CASE WHEN started_at > $1 THEN started_at ELSE $1 END), 0) AS BIGINT) \
         FROM live_shows WHERE started_at IS NOT NULL AND started_at < $2 AND (ended_at IS NULL OR ended_at >= $1)",
    )
    .bind(from)
    .bind(until)
    .fetch_one(l.db.read())
    .await?;
    let viewers: i64 = lsn_db::query(
        "SELECT CAST(COUNT(DISTINCT viewer_key) AS BIGINT) FROM live_viewers WHERE joined_at < $2 AND (left_at IS NULL OR left_at >= $1)",
    )
    .bind(from)
    .bind(until)
    .fetch_one(l.db.read())
    .await?
    .try_get(0)?;
    Ok((r.try_get(0)?, r.try_get::<i64, _>(1)?.max(0) / 60_000, viewers))
}

const TABLE_ROWS: i64 = 20;

#[async_trait::async_trait]
impl lsn_ops::SummarySection for Shows {
    fn title(&self) -> &'static str {
        "summary-live-title"
    }

    fn rank(&self) -> u8 {
        20
    }

    async fn section(&self, p: &Period) -> anyhow::Result<Section> {
        let l = &self.0;
        let (streams, minutes, viewers) = on_air(l, p.from, p.until).await?;
        let (prev_streams, prev_minutes, prev_viewers) = on_air(l, p.prev_from, p.prev_until).await?;
        let (orders, net) = lsn_commerce::orders::read::live_sales(&l.db, p.from, p.until).await?;
        let (prev_orders, _) = lsn_commerce::orders::read::live_sales(&l.db, p.prev_from, p.prev_until).await?;
        let shows = lsn_db::query(
            "SELECT id, title, started_at, ended_at, peak_viewers FROM live_shows \
             WHERE started_at IS NOT NULL AND started_at < $2 AND (ended_at IS NULL OR ended_at >= $1) ORDER BY started_at, id LIMIT $3",
        )
        .bind(p.from)
        .bind(p.until)
        .bind(TABLE_ROWS * 10)
        .fetch_all(l.db.read())
        .await?;
        let mut rows = Vec::new();
        for r in &shows {
            let id: String = r.try_get("id")?;
            let started: i64 = r.try_get("started_at")?;
            let ended: Option<i64> = r.try_get("ended_at")?;
            let (show_orders, show_net) = lsn_commerce::orders::read::show_sales(&l.db, &id).await?;
            let start = chrono::DateTime::from_timestamp_millis(started).map(|d| d.with_timezone(&p.tz));
            rows.push(vec![
                r.try_get::<String, _>("title")?,
                start.map(|s| lsn_core::i18n::datetime(&s, lsn_core::i18n::DateStyle::DateTime)).unwrap_or_default(),
                Measure::Minutes((ended.unwrap_or(p.until).min(p.until) - started.max(p.from)).max(0) / 60_000).text(),
                lsn_core::i18n::current().number(r.try_get::<i64, _>("peak_viewers")?.max(0).unsigned_abs()),
                show_orders.to_string(),
                Measure::Money(show_net).text(),
            ]);
        }
        let columns = vec![
            t("summary-col-show"),
            t("summary-col-started"),
            t("summary-col-hours"),
            t("summary-col-peak"),
            t("summary-col-orders"),
            t("summary-col-sales"),
        ];
        let mut s = Section::new("summary-live-title")
            .icon("🎥")
            .figure(
                Figure::new(t("summary-streams"), Measure::Count(streams))
                    .against(Measure::Count(prev_streams))
                    .note(t_args("summary-streams-hours", &[("hours", &Measure::Minutes(minutes).text())])),
            )
            .figure(Figure::new(t("summary-stream-hours"), Measure::Minutes(minutes)).against(Measure::Minutes(prev_minutes)))
            .figure(Figure::new(t("summary-viewers"), Measure::Count(viewers)).against(Measure::Count(prev_viewers)))
            .figure(
                Figure::new(t("summary-conversion"), Measure::Percent(ratio(orders, viewers)))
                    .against(Measure::Percent(ratio(prev_orders, prev_viewers))),
            )
            .note(t_args("summary-live-sales", &[("count", &orders.to_string()), ("total", &Measure::Money(net).text())]))
            .table(Table {
                caption: t("summary-live-shows"),
                columns: columns.clone(),
                rows: rows.iter().take(TABLE_ROWS as usize).cloned().collect(),
                empty: t("summary-live-none"),
            });
        if !rows.is_empty() {
            s = s.csv(Csv { name: "shows", header: columns, rows });
        }
        Ok(s)
    }
}
