//! The live domain's figures for the analytics aggregation (issue 15): shows started, viewers
//! who joined, chat messages and gifts (in cents of value) in 15-minute buckets, and the shows
//! live at the time.

use lsn_db::{Db, RowExt};
use lsn_ops::analytics::{AnalyticsSource, Kind, Metric, Point, BUCKET_MS};

pub const METRICS: &[Metric] = &[
    Metric { name: "shows_started", kind: Kind::Sum, label: "analytics-shows-started" },
    Metric { name: "viewers_joined", kind: Kind::Sum, label: "analytics-viewers-joined" },
    Metric { name: "chat_messages", kind: Kind::Sum, label: "analytics-chat-messages" },
    Metric { name: "gifts_cents", kind: Kind::Sum, label: "analytics-gifts" },
    Metric { name: "shows_live", kind: Kind::Level, label: "analytics-shows-live" },
];

/// `(metric, table, time column, value)`: each Sum metric's statement.
const SUMS: &[(&str, &str, &str, &str)] = &[
    ("shows_started", "live_shows", "started_at", "COUNT(*)"),
    ("viewers_joined", "live_viewers", "joined_at", "COUNT(*)"),
    ("chat_messages", "live_chat_messages", "at", "COUNT(*)"),
    ("gifts_cents", "gift_ledger", "at", "COALESCE(SUM(value_cents), 0)"),
];

pub struct Activity(pub Db);

#[async_trait::async_trait]
impl AnalyticsSource for Activity {
    fn metrics(&self) -> &'static [Metric] {
        METRICS
    }

    async fn sums(&self, from: i64, until: i64) -> anyhow::Result<Vec<Point>> {
        let mut out = Vec::new();
        for (metric, table, at, value) in SUMS {
            let sql = format!(
                "SELECT ({at} / $1) * $1 AS b, CAST({value} AS BIGINT) FROM {table} WHERE {at} >= $2 AND {at} < $3 GROUP BY ({at} / $1) * $1"
            );
            let rows = lsn_db::query(&sql).bind(BUCKET_MS).bind(from).bind(until).fetch_all(lsn_db::Slow(self.0.read())).await?;
            for r in &rows {
                out.push(Point { bucket: r.try_get(0)?, metric, value: r.try_get(1)? });
            }
        }
        Ok(out)
    }

    async fn levels(&self) -> anyhow::Result<Vec<(&'static str, i64)>> {
        let live: i64 = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM live_shows WHERE status = 'live'")
            .fetch_one(self.0.read())
            .await?
            .try_get(0)?;
        Ok(vec![("shows_live", live)])
    }
}
