//! Analytics aggregation (the runbook's "every 15 minutes: update dashboard metrics"): each
//! domain measures its own figures in 15-minute buckets ([`AnalyticsSource`], contributed through
//! `Module::analytics`), and the `analytics_aggregation` task writes them to `analytics_buckets`,
//! which the dashboard's charts and the API read instead of scanning orders and viewers on every
//! page view.
//!
//! A run recomputes the buckets since the last one it wrote (the last two again, for rows that
//! arrived late: an order paid at 12:14:59.9 and committed a moment later), back to at most
//! [`BACKFILL_DAYS`] on the first run, and writes each bucket with an upsert: running it twice,
//! or on two nodes, leaves the same numbers. It acts on nobody's behalf (no mail, no money), so
//! it runs whatever `ENABLE_AUTONOMOUS` says: with it off the dashboard would go stale.

use crate::jobs::{JobContext, JobError, JobHandler};
use crate::module::Module;
use crate::schedule::Schedule;
use lsn_db::{Db, RowExt};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// The width of a bucket: 15 minutes.
pub const BUCKET_MS: i64 = 15 * 60_000;
/// How far back a first run fills in.
pub const BACKFILL_DAYS: i64 = 35;
pub const AGGREGATE_JOB: &str = "ops.analytics_aggregation";

/// How a metric adds up over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Events in the bucket (orders, revenue, messages): a day is the sum of its buckets.
    Sum,
    /// A level seen at the time (items low on stock): only the current bucket can be measured,
    /// and a day is its last reading.
    Level,
}

/// A figure a domain measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    /// The Fluent key of its label.
    pub label: &'static str,
}

/// One bucket's value of one metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Point {
    pub bucket: i64,
    pub metric: &'static str,
    pub value: i64,
}

/// A domain's figures.
#[async_trait::async_trait]
pub trait AnalyticsSource: Send + Sync {
    fn metrics(&self) -> &'static [Metric];
    /// Its `Sum` metrics for the buckets of `[from, until)` (both multiples of [`BUCKET_MS`]);
    /// a bucket without events may be left out (it counts as 0).
    async fn sums(&self, from: i64, until: i64) -> anyhow::Result<Vec<Point>>;
    /// Its `Level` metrics now.
    async fn levels(&self) -> anyhow::Result<Vec<(&'static str, i64)>> {
        Ok(Vec::new())
    }
}

/// The sources, set once the modules are folded (the aggregation job is built before them).
#[derive(Clone, Default)]
pub struct Sources(Arc<OnceLock<Vec<Arc<dyn AnalyticsSource>>>>);

impl Sources {
    pub fn set(&self, sources: &[Arc<dyn AnalyticsSource>]) {
        let _ = self.0.set(sources.to_vec());
    }

    pub fn all(&self) -> &[Arc<dyn AnalyticsSource>] {
        self.0.get().map(Vec::as_slice).unwrap_or_default()
    }

    /// Every metric of every source.
    pub fn metrics(&self) -> Vec<Metric> {
        self.all().iter().flat_map(|s| s.metrics().iter().copied()).collect()
    }
}

/// The start of the bucket holding `ms`.
pub fn bucket_of(ms: i64) -> i64 {
    ms.div_euclid(BUCKET_MS) * BUCKET_MS
}

/// The task and its job.
pub fn module(sources: Sources) -> Module {
    Module::new("analytics").job(AGGREGATE_JOB, Arc::new(Aggregate { sources })).schedule(Schedule {
        name: "analytics_aggregation",
        cron: "0 */15 * * * *",
        job_kind: AGGREGATE_JOB,
        payload: serde_json::json!({}),
        description: "Aggregate every domain's figures into 15-minute buckets for the dashboard (every 15 minutes)",
        autonomous: false,
    })
}

/// `ops.analytics_aggregation`.
pub struct Aggregate {
    pub sources: Sources,
}

#[async_trait::async_trait]
impl JobHandler for Aggregate {
    async fn run(&self, ctx: &JobContext, _payload: &Value) -> Result<(), JobError> {
        let now = ctx.clock.now_ms();
        let report = aggregate(&ctx.db, &self.sources, now).await?;
        ctx.report(report);
        Ok(())
    }
}

/// One aggregation at `now`: what it wrote, in a line for a person.
pub async fn aggregate(db: &Db, sources: &Sources, now: i64) -> Result<String, JobError> {
    let current = bucket_of(now);
    let last: Option<i64> = lsn_db::query("SELECT MAX(bucket_start) FROM analytics_buckets").fetch_one(db.read()).await?.try_get(0)?;
    let floor = current - BACKFILL_DAYS * 86_400_000;
    // The last two buckets again (rows committed late), never before the backfill floor.
    let from = last.map_or(floor, |l| (l - BUCKET_MS).max(floor)).min(current);
    let mut points: BTreeMap<(i64, &'static str), i64> = BTreeMap::new();
    let mut failed = Vec::new();
    for s in sources.all() {
        // Every bucket of the range gets every Sum metric, zeros included, so a chart has no gaps
        // and a bucket whose rows were all refunded away goes back to 0.
        for m in s.metrics().iter().filter(|m| m.kind == Kind::Sum) {
            let mut b = from;
            while b <= current {
                points.insert((b, m.name), 0);
                b += BUCKET_MS;
            }
        }
        match s.sums(from, current + BUCKET_MS).await {
            Ok(ps) => {
                for p in ps {
                    if p.bucket >= from && p.bucket <= current {
                        points.insert((bucket_of(p.bucket), p.metric), p.value);
                    }
                }
            }
            Err(e) => failed.push(format!("{e:#}")),
        }
        match s.levels().await {
            Ok(ls) => ls.into_iter().for_each(|(m, v)| {
                points.insert((current, m), v);
            }),
            Err(e) => failed.push(format!("{e:#}")),
        }
    }
    let rows: Vec<(i64, &'static str, i64)> = points.into_iter().map(|((b, m), v)| (b, m, v)).collect();
    let written = rows.len();
    for chunk in rows.chunks(200) {
        let chunk = chunk.to_vec();
        db.transaction_with(chunk, move |tx, chunk| {
            Box::pin(async move {
                let sql = format!(
                    "INSERT INTO analytics_buckets (bucket_start, metric, value, computed_at) VALUES {} \
                     ON CONFLICT (bucket_start, metric) DO UPDATE SET value = excluded.value, computed_at = excluded.computed_at",
                    crate::jobs::rows(chunk.len(), 4)
                );
                let mut q = lsn_db::query(&sql);
                for (b, m, v) in chunk {
                    q = q.bind(*b).bind(*m).bind(*v).bind(now);
                }
                q.execute(&mut **tx).await?;
                Ok::<_, lsn_db::Error>(())
            })
        })
        .await?;
    }
    let buckets = (current - from) / BUCKET_MS + 1;
    if !failed.is_empty() {
        return Err(JobError::Retry(format!("wrote {written} values, but a source failed: {}", failed.join("; "))));
    }
    Ok(format!("{buckets} buckets, {written} values"))
}

/// The values of `metric` in `[from, until)`, bucket by bucket (buckets never aggregated are
/// absent).
pub async fn series(db: &Db, metric: &str, from: i64, until: i64) -> Result<Vec<(i64, i64)>, lsn_db::Error> {
    lsn_db::query("SELECT bucket_start, value FROM analytics_buckets WHERE metric = $1 AND bucket_start >= $2 AND bucket_start < $3 ORDER BY bucket_start")
        .bind(metric)
        .bind(from)
        .bind(until)
        .fetch_all(lsn_db::Slow(db.read()))
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// A metric per calendar day of the shop (`days` days ending with the one holding `now`, oldest
/// first): a `Sum` adds its buckets, a `Level` takes the day's last reading.
pub async fn daily(db: &Db, metric: Metric, tz: chrono_tz::Tz, now: i64, days: usize) -> Result<Vec<i64>, lsn_db::Error> {
    let local = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&tz).date_naive());
    let Some(today) = local(now) else { return Ok(vec![0; days]) };
    // A day more than `days` × 24 h back, so a daylight-saving change cannot cut off the first.
    let rows = series(db, metric.name, now - (days as i64 + 1) * 86_400_000, now + BUCKET_MS).await?;
    let mut out = vec![0i64; days];
    for (b, v) in rows {
        let Some(ago) = local(b).map(|d| (today - d).num_days()) else { continue };
        if (0..days as i64).contains(&ago) {
            let slot = &mut out[days - 1 - ago as usize];
            match metric.kind {
                Kind::Sum => *slot += v,
                Kind::Level => *slot = v,
            }
        }
    }
    Ok(out)
}

/// When the buckets were last written (for the dashboard's "as of").
pub async fn last_computed(db: &Db) -> Result<Option<i64>, lsn_db::Error> {
    lsn_db::query("SELECT MAX(computed_at) FROM analytics_buckets").fetch_one(db.read()).await?.try_get(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_quarter_hours() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(BUCKET_MS - 1), 0);
        assert_eq!(bucket_of(BUCKET_MS), BUCKET_MS);
        assert_eq!(bucket_of(-1), -BUCKET_MS);
    }
}
