//! Commerce's section of the summary, the runbook's "Revenue": what was taken, how many orders
//! and their average, each against the period before; refunds, unpaid orders cancelled and
//! waiting; revenue through the period as a chart; the top products; and the period's orders as a
//! CSV file.

use crate::Commerce;
use lsn_core::i18n::{t, t_args};
use lsn_db::RowExt;
use lsn_ops::summary::{per_bucket, Chart, ChartKind, Csv, Figure, Measure, Period, Section, Table};

pub struct Orders(pub Commerce);

/// What was paid in a window: orders, takings.
async fn paid(c: &Commerce, from: i64, until: i64) -> Result<(i64, i64), lsn_db::Error> {
    let r = lsn_db::query(
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(amount_paid), 0) AS BIGINT) FROM orders WHERE paid_at >= $1 AND paid_at < $2",
    )
    .bind(from)
    .bind(until)
    .fetch_one(c.db.read())
    .await?;
    Ok((r.try_get(0)?, r.try_get(1)?))
}

async fn refunds(c: &Commerce, from: i64, until: i64) -> Result<(i64, i64), lsn_db::Error> {
    let r = lsn_db::query(
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM refunds WHERE status = 'succeeded' AND created_at >= $1 AND created_at < $2",
    )
    .bind(from)
    .bind(until)
    .fetch_one(c.db.read())
    .await?;
    Ok((r.try_get(0)?, r.try_get(1)?))
}

/// The average order in cents (0 without orders), rounded half up.
fn average(total: i64, orders: i64) -> i64 {
    if orders == 0 {
        0
    } else {
        (total + orders / 2) / orders
    }
}

const TOP_PRODUCTS: i64 = 5;
/// The most orders the CSV lists (a bigger day is cut, and says so).
const CSV_ORDERS: i64 = 10_000;

#[async_trait::async_trait]
impl lsn_ops::SummarySection for Orders {
    fn title(&self) -> &'static str {
        "summary-orders-title"
    }

    fn rank(&self) -> u8 {
        10
    }

    async fn section(&self, p: &Period) -> anyhow::Result<Section> {
        let c = &self.0;
        let db = &c.db;
        let (orders, revenue) = paid(c, p.from, p.until).await?;
        let (prev_orders, prev_revenue) = paid(c, p.prev_from, p.prev_until).await?;
        let (refund_count, refunded) = refunds(c, p.from, p.until).await?;
        let (_, prev_refunded) = refunds(c, p.prev_from, p.prev_until).await?;
        let cancelled: i64 = lsn_db::query(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM order_transitions WHERE from_status = 'pending_payment' AND to_status = 'cancelled' AND at >= $1 AND at < $2",
        )
        .bind(p.from)
        .bind(p.until)
        .fetch_one(db.read())
        .await?
        .try_get(0)?;
        let waiting: i64 = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM orders WHERE status = 'pending_payment'")
            .fetch_one(db.read())
            .await?
            .try_get(0)?;
        let disputes: i64 = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM disputes WHERE closed_at IS NULL")
            .fetch_one(db.read())
            .await?
            .try_get(0)?;
        let rows = lsn_db::query(
            "SELECT number, status, paid_at, total, amount_paid, amount_refunded, show_id, \
             (SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM order_items i WHERE i.order_id = orders.id) AS units \
             FROM orders WHERE paid_at >= $1 AND paid_at < $2 ORDER BY paid_at, number LIMIT $3",
        )
        .bind(p.from)
        .bind(p.until)
        .bind(CSV_ORDERS)
        .fetch_all(db.read())
        .await?;
        let mut by_time = Vec::with_capacity(rows.len());
        let mut csv_rows = Vec::with_capacity(rows.len());
        for r in &rows {
            let at: i64 = r.try_get("paid_at")?;
            let amount_paid: i64 = r.try_get("amount_paid")?;
            by_time.push((at, amount_paid));
            let when = chrono::DateTime::from_timestamp_millis(at).map(|d| d.with_timezone(&p.tz).to_rfc3339()).unwrap_or_default();
            let cents = |v: i64| format!("{}{}.{:02}", if v < 0 { "-" } else { "" }, v.unsigned_abs() / 100, v.unsigned_abs() % 100);
            csv_rows.push(vec![
                r.try_get::<String, _>("number")?,
                when,
                r.try_get::<String, _>("status")?,
                r.try_get::<i64, _>("units")?.to_string(),
                cents(r.try_get("total")?),
                cents(amount_paid),
                cents(r.try_get("amount_refunded")?),
                if r.try_get::<Option<String>, _>("show_id")?.is_some() { t("summary-csv-yes") } else { t("summary-csv-no") },
            ]);
        }
        let top = lsn_db::query(
            "SELECT i.sku, i.title, CAST(SUM(i.quantity) AS BIGINT) AS units, CAST(SUM(i.line_total) AS BIGINT) AS sales \
             FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.paid_at >= $1 AND o.paid_at < $2 \
             GROUP BY i.sku, i.title ORDER BY sales DESC, i.sku LIMIT $3",
        )
        .bind(p.from)
        .bind(p.until)
        .bind(TOP_PRODUCTS)
        .fetch_all(db.read())
        .await?;
        let top_rows = top
            .iter()
            .map(|r| {
                Ok(vec![
                    r.try_get::<String, _>("sku")?,
                    r.try_get::<String, _>("title")?,
                    lsn_core::i18n::current().number(r.try_get::<i64, _>("units")?.max(0).unsigned_abs()),
                    Measure::Money(r.try_get("sales")?).text(),
                ])
            })
            .collect::<Result<Vec<_>, lsn_db::Error>>()?;
        let chart_key = match p.cadence {
            lsn_ops::summary::Cadence::Daily => "summary-chart-revenue-hourly",
            lsn_ops::summary::Cadence::Weekly => "summary-chart-revenue-daily",
        };
        let mut s = Section::new("summary-orders-title")
            .icon("💰")
            .figure(Figure::new(t("summary-revenue"), Measure::Money(revenue)).against(Measure::Money(prev_revenue)))
            .figure(Figure::new(t("summary-orders"), Measure::Count(orders)).against(Measure::Count(prev_orders)))
            .figure(
                Figure::new(t("summary-aov"), Measure::Money(average(revenue, orders)))
                    .against(Measure::Money(average(prev_revenue, prev_orders))),
            )
            .figure(
                Figure::new(t("summary-refunds"), Measure::Money(refunded))
                    .against(Measure::Money(prev_refunded))
                    .note(t_args("summary-refunds-count", &[("count", &refund_count.to_string())])),
            )
            .note(t_args("summary-orders-cancelled", &[("count", &cancelled.to_string())]))
            .note(t_args("summary-orders-waiting", &[("count", &waiting.to_string())]))
            .chart(Chart {
                id: "revenue",
                title: t(chart_key),
                kind: ChartKind::Bars,
                points: per_bucket(&p.buckets(), &by_time, Measure::Money),
            })
            .table(Table {
                caption: t("summary-top-products"),
                columns: vec![t("summary-col-sku"), t("summary-col-product"), t("summary-col-units"), t("summary-col-sales")],
                rows: top_rows,
                empty: t("summary-top-none"),
            });
        if orders > CSV_ORDERS {
            s = s.note(t_args("summary-orders-csv-cut", &[("count", &CSV_ORDERS.to_string())]));
        }
        if !csv_rows.is_empty() {
            s = s.csv(Csv {
                name: "orders",
                header: [
                    "summary-csv-number",
                    "summary-csv-paid-at",
                    "summary-csv-status",
                    "summary-csv-units",
                    "summary-csv-total",
                    "summary-csv-paid",
                    "summary-csv-refunded",
                    "summary-csv-live",
                ]
                .iter()
                .map(|k| t(k))
                .collect(),
                rows: csv_rows,
            });
        }
        if disputes > 0 {
            s = s.action(t_args("summary-action-disputes", &[("count", &disputes.to_string())]));
        }
        Ok(s)
    }
}
