//! Monitoring: the runbook's thresholds as data (`alert_thresholds`, seeded with its nine levels
//! by migration 22, editable by a person), measured every minute by the `monitoring` schedule
//! from LSN's own measurements, raising and resolving alerts as the readings cross them.
//!
//! Where the readings come from: each metric has one [`MetricSource`], contributed by the module
//! that owns what is measured ([`crate::Module::metric_source`]). The kernel's are the nodes'
//! own measurements — every LSN node writes, once a minute, its HTTP requests, server errors and
//! latency histogram and its CPU, memory and database-pool use to `node_metrics` ([`Sampler`]),
//! and the sources add up every node's, so the reading is the shop's however many nodes serve
//! it (and whichever node runs the evaluation). Commerce measures failed payments from its
//! payments; fraud detections are measured by the risk domain when it exists (until then that
//! threshold is kept and shown as not measured).

use crate::alerts::{self, AlertType, Priority, Severity};
use crate::codes::{Code, OpsError};
use crate::jobs::{JobContext, JobError, JobHandler};
use lsn_core::i18n::{t, t_args};
use lsn_db::{Db, RowExt};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

pub const EVALUATE_JOB: &str = "monitor.evaluate";

/// The error rate or server errors over the threshold: the runbook's "system errors".
pub const SYSTEM_ERROR: AlertType = AlertType {
    name: "system_error",
    description: "Server errors (HTTP 5xx) above the error-rate threshold",
    cooldown_secs: 15 * 60,
    incident: Priority::P1,
};
/// p95 response time over the threshold: performance degradation.
pub const SLOW_RESPONSES: AlertType = AlertType {
    name: "slow_responses",
    description: "The 95th percentile response time above its threshold",
    cooldown_secs: 15 * 60,
    incident: Priority::P2,
};
/// The database pools nearly full: the runbook's "database connection issues".
pub const DATABASE_CONNECTIONS: AlertType = AlertType {
    name: "database_connections",
    description: "Database connections in use above the threshold share of the pool",
    cooldown_secs: 15 * 60,
    incident: Priority::P1,
};
/// CPU or memory over the threshold.
pub const SYSTEM_RESOURCES: AlertType = AlertType {
    name: "system_resources",
    description: "A node's CPU or memory use above its threshold",
    cooldown_secs: 30 * 60,
    incident: Priority::P2,
};

/// Where one metric's readings come from.
#[async_trait::async_trait]
pub trait MetricSource: Send + Sync {
    /// The threshold row it measures (`error_rate`, `failed_payments`, …).
    fn metric(&self) -> &'static str;
    /// The alert a breach raises (defined by the source's module).
    fn alert_type(&self) -> &'static AlertType;
    /// The reading over the last `window_ms` before `now_ms`; `None`: nothing to measure (no
    /// requests yet).
    async fn measure(&self, now_ms: i64, window_ms: i64) -> anyhow::Result<Option<f64>>;
}

/// A threshold as stored: its levels (`None`: not watched), unit, window and last reading.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Threshold {
    pub metric: String,
    pub warning: Option<f64>,
    pub critical: Option<f64>,
    /// `percent`, `ms` or `count`.
    pub unit: String,
    pub window_secs: i64,
    pub last_value: Option<f64>,
    /// `ok`, `warning`, `critical` or `unmeasured`.
    pub last_level: Option<String>,
    pub last_measured_at: Option<i64>,
    pub updated_at: i64,
    pub updated_by: Option<String>,
}

const COLUMNS: &str = "metric, warning, critical, unit, window_secs, last_value, last_level, last_measured_at, updated_at, updated_by";

fn row(r: &lsn_db::Row) -> Result<Threshold, lsn_db::Error> {
    Ok(Threshold {
        metric: r.try_get(0)?,
        warning: r.try_get(1)?,
        critical: r.try_get(2)?,
        unit: r.try_get(3)?,
        window_secs: r.try_get(4)?,
        last_value: r.try_get(5)?,
        last_level: r.try_get(6)?,
        last_measured_at: r.try_get(7)?,
        updated_at: r.try_get(8)?,
        updated_by: r.try_get(9)?,
    })
}

pub async fn thresholds(db: &Db) -> Result<Vec<Threshold>, lsn_db::Error> {
    lsn_db::query(&format!("SELECT {COLUMNS} FROM alert_thresholds ORDER BY metric")).fetch_all(db.read()).await?.iter().map(row).collect()
}

pub async fn threshold(db: &Db, metric: &str) -> Result<Option<Threshold>, lsn_db::Error> {
    lsn_db::query(&format!("SELECT {COLUMNS} FROM alert_thresholds WHERE metric = $1"))
        .bind(metric)
        .fetch_optional(db.read())
        .await?
        .as_ref()
        .map(row)
        .transpose()
}

/// A level of a change: leave it, turn it off, or set it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Level {
    Keep,
    Off,
    Set(f64),
}

impl Level {
    /// From a JSON input's field: absent keeps, `null` turns off, a number sets; anything else
    /// (a string, `"NaN"`) is refused.
    pub fn from_json(v: Option<&Value>, field: &'static str) -> Result<Self, OpsError> {
        match v {
            None => Ok(Level::Keep),
            Some(Value::Null) => Ok(Level::Off),
            Some(Value::Number(n)) => n.as_f64().map(Level::Set).ok_or_else(|| bad(field)),
            Some(_) => Err(bad(field)),
        }
    }

    /// From a form's field: empty turns off, a number sets.
    pub fn from_form(s: &str, field: &'static str) -> Result<Self, OpsError> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(Level::Off);
        }
        s.parse::<f64>().map(Level::Set).map_err(|_| bad(field))
    }
}

fn bad(field: &'static str) -> OpsError {
    OpsError::field(Code::InvalidThreshold, field, t("ops-threshold-number"))
}

/// The largest level a unit allows (a percentage is at most 100; a response time at most ten
/// minutes; a count at most a million).
fn unit_max(unit: &str) -> f64 {
    match unit {
        "percent" => 100.0,
        "ms" => 600_000.0,
        _ => 1_000_000.0,
    }
}

/// Changes `metric`'s levels (the runbook's `system.updateAlertThreshold`). Refused, changing
/// nothing: an unknown metric, a level that is not a finite number from 0 to the unit's
/// maximum, a warning level at or above the critical one.
pub async fn update(db: &Db, now: i64, metric: &str, warning: Level, critical: Level, who: &str) -> Result<Threshold, OpsError> {
    let current = threshold(db, metric).await?.ok_or_else(|| {
        OpsError::field(
            Code::UnknownMetric,
            "metric",
            t_args("ops-unknown-metric", &[("metric", &metric.chars().take(60).collect::<String>())]),
        )
    })?;
    let max = unit_max(&current.unit);
    let pick = |l: Level, was: Option<f64>, field: &'static str| -> Result<Option<f64>, OpsError> {
        match l {
            Level::Keep => Ok(was),
            Level::Off => Ok(None),
            Level::Set(v) if v.is_finite() && (0.0..=max).contains(&v) => Ok(Some(v)),
            Level::Set(_) => {
                Err(OpsError::field(Code::InvalidThreshold, field, t_args("ops-threshold-range", &[("max", &max.to_string())])))
            }
        }
    };
    let w = pick(warning, current.warning, "warning")?;
    let c = pick(critical, current.critical, "critical")?;
    if let (Some(w), Some(c)) = (w, c) {
        if w >= c {
            return Err(OpsError::field(Code::InvalidThreshold, "warning", t("ops-threshold-order")));
        }
    }
    lsn_db::query("UPDATE alert_thresholds SET warning = $1, critical = $2, updated_at = $3, updated_by = $4 WHERE metric = $5")
        .bind(w)
        .bind(c)
        .bind(now)
        .bind(who)
        .bind(metric)
        .execute(db.write())
        .await?;
    threshold(db, metric).await?.ok_or(OpsError::NotFound)
}

/// The level a reading is at.
pub fn level_of(value: f64, warning: Option<f64>, critical: Option<f64>) -> Option<Severity> {
    if critical.is_some_and(|c| value > c) {
        Some(Severity::Critical)
    } else if warning.is_some_and(|w| value > w) {
        Some(Severity::Warning)
    } else {
        None
    }
}

/// The metric sources, set once the modules are folded (the evaluation job is built before).
#[derive(Clone, Default)]
pub struct Sources(Arc<OnceLock<BTreeMap<&'static str, Arc<dyn MetricSource>>>>);

impl Sources {
    pub fn set(&self, sources: &[Arc<dyn MetricSource>]) {
        let _ = self.0.set(sources.iter().map(|s| (s.metric(), s.clone())).collect());
    }

    pub fn get(&self, metric: &str) -> Option<Arc<dyn MetricSource>> {
        self.0.get().and_then(|m| m.get(metric).cloned())
    }
}

/// `monitor.evaluate`: reads every threshold's metric, records the reading, raises the breached
/// level's alert and resolves the levels no longer breached.
pub struct EvaluateJob {
    pub sources: Sources,
}

#[async_trait::async_trait]
impl JobHandler for EvaluateJob {
    async fn run(&self, ctx: &JobContext, _payload: &Value) -> Result<(), JobError> {
        let now = ctx.clock.now_ms();
        let mut breached = Vec::new();
        for th in thresholds(&ctx.db).await? {
            let Some(src) = self.sources.get(&th.metric) else {
                lsn_db::query(
                    "UPDATE alert_thresholds SET last_level = 'unmeasured', last_value = NULL, last_measured_at = $1 WHERE metric = $2",
                )
                .bind(now)
                .bind(&th.metric)
                .execute(ctx.db.write())
                .await?;
                continue;
            };
            let value = match src.measure(now, th.window_secs * 1000).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(metric = %th.metric, "measuring failed: {e:#}");
                    None
                }
            };
            let level = value.and_then(|v| level_of(v, th.warning, th.critical));
            let label = match (value, level) {
                (None, _) => "unmeasured",
                (Some(_), None) => "ok",
                (Some(_), Some(s)) => s.as_str(),
            };
            let kind = src.alert_type();
            let (metric, unit) = (th.metric.clone(), th.unit.clone());
            let limit = match level {
                Some(Severity::Critical) => th.critical,
                _ => th.warning,
            };
            ctx.db
                .transaction(move |tx| {
                    let (metric, unit) = (metric.clone(), unit.clone());
                    Box::pin(async move {
                        lsn_db::query(
                            "UPDATE alert_thresholds SET last_value = $1, last_level = $2, last_measured_at = $3 WHERE metric = $4",
                        )
                        .bind(value)
                        .bind(label)
                        .bind(now)
                        .bind(&metric)
                        .execute(&mut **tx)
                        .await?;
                        let groups = |s: Severity| format!("{metric}:{}", s.as_str());
                        let calm: Vec<String> =
                            [Severity::Warning, Severity::Critical].into_iter().filter(|s| Some(*s) != level).map(groups).collect();
                        alerts::resolve_groups(tx, now, kind.name, &calm).await?;
                        if let (Some(s), Some(v), Some(limit)) = (level, value, limit) {
                            let name = t(&format!("metric-{metric}"));
                            let args = [("metric", name.as_str()), ("value", &fmt(v, &unit)), ("limit", &fmt(limit, &unit))];
                            alerts::raise(
                                tx,
                                now,
                                kind,
                                &groups(s),
                                s,
                                &t_args("alert-threshold-title", &args),
                                &t_args("alert-threshold-detail", &args),
                            )
                            .await?;
                        }
                        Ok::<_, lsn_db::Error>(())
                    })
                })
                .await?;
            if level.is_some() {
                breached.push(th.metric.clone());
            }
        }
        // A day of per-minute readings is kept.
        lsn_db::query("DELETE FROM node_metrics WHERE minute < $1").bind(now - 86_400_000).execute(ctx.db.write()).await?;
        ctx.report(if breached.is_empty() { "every threshold clear".to_string() } else { format!("breached: {}", breached.join(", ")) });
        Ok(())
    }
}

/// A reading with its unit (`12.5%`, `2300 ms`, `4`).
pub fn fmt(v: f64, unit: &str) -> String {
    match unit {
        "percent" => format!("{:.1}%", v),
        "ms" => format!("{:.0} ms", v),
        _ => format!("{v}"),
    }
}

// ----------------------------------------------------------------------------- the nodes' readings

/// What a process has measured of itself since it started (cumulative counts), and its pools.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessSample {
    pub requests: u64,
    /// Responses with a 5xx status.
    pub errors: u64,
    /// The latency histogram: `(upper bound in seconds, requests at or under it)`, cumulative.
    pub buckets: Vec<(f64, u64)>,
    pub cpu_seconds: f64,
    pub rss_bytes: f64,
    /// Connections in use as a share of the pool's maximum (the fullest pool), 0–100.
    pub db_pct: Option<f64>,
}

struct SamplerState {
    minute: i64,
    base: ProcessSample,
    last: ProcessSample,
    last_at: i64,
}

/// Writes this node's minute of measurements to `node_metrics` (called every few seconds by the
/// background loop; each call replaces the minute's row with the counts since the minute began).
pub struct Sampler {
    node: String,
    state: Mutex<Option<SamplerState>>,
}

impl Sampler {
    pub fn new(node: impl Into<String>) -> Self {
        Self { node: node.into(), state: Mutex::new(None) }
    }

    pub async fn record(&self, db: &Db, now_ms: i64, s: ProcessSample) -> Result<(), lsn_db::Error> {
        let minute = now_ms - now_ms.rem_euclid(60_000);
        let (delta, cpu) = {
            let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let st = g.get_or_insert_with(|| SamplerState { minute, base: s.clone(), last: s.clone(), last_at: now_ms });
            if st.minute != minute {
                // The counts up to the last sample went to the minute before.
                st.base = st.last.clone();
                st.minute = minute;
            }
            let secs = (now_ms - st.last_at) as f64 / 1000.0;
            let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
            let cpu = (secs > 0.5).then(|| ((s.cpu_seconds - st.last.cpu_seconds).max(0.0) / secs / cores * 100.0).min(100.0));
            let delta = ProcessSample {
                requests: s.requests.saturating_sub(st.base.requests),
                errors: s.errors.saturating_sub(st.base.errors),
                buckets: s
                    .buckets
                    .iter()
                    .map(|(le, n)| (*le, n.saturating_sub(st.base.buckets.iter().find(|(b, _)| b == le).map(|(_, c)| *c).unwrap_or(0))))
                    .collect(),
                ..s.clone()
            };
            st.last = s;
            st.last_at = now_ms;
            (delta, cpu)
        };
        let buckets = serde_json::to_string(&delta.buckets).unwrap_or_else(|_| "[]".into());
        let memory = memory_total().map(|total| (delta.rss_bytes / total * 100.0).min(100.0));
        lsn_db::query(
            "INSERT INTO node_metrics (node, minute, requests, errors, buckets, cpu_pct, memory_pct, db_pct, sampled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (node, minute) DO UPDATE SET requests = excluded.requests, errors = excluded.errors, buckets = excluded.buckets, \
             cpu_pct = COALESCE(excluded.cpu_pct, node_metrics.cpu_pct), memory_pct = excluded.memory_pct, db_pct = excluded.db_pct, sampled_at = excluded.sampled_at",
        )
        .bind(&self.node)
        .bind(minute)
        .bind(delta.requests as i64)
        .bind(delta.errors as i64)
        .bind(buckets)
        .bind(cpu)
        .bind(memory)
        .bind(delta.db_pct)
        .bind(now_ms)
        .execute(db.write())
        .await?;
        Ok(())
    }
}

/// The memory this process may use: the machine's (`/proc/meminfo`), or its cgroup's limit when
/// that is lower.
fn memory_total() -> Option<f64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: f64 = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    let machine = kb * 1024.0;
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok().and_then(|s| s.trim().parse::<f64>().ok());
    Some(cgroup.map_or(machine, |c| c.min(machine)))
}

/// The `q` quantile (0–1) of a cumulative histogram of `total` observations, in the buckets'
/// unit, interpolated within its bucket as Prometheus's `histogram_quantile` does; past the
/// last bucket, the last bucket's bound.
pub fn quantile(buckets: &[(f64, u64)], total: u64, q: f64) -> Option<f64> {
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let (mut prev_le, mut prev_n) = (0.0, 0u64);
    for (le, n) in buckets {
        if *n as f64 >= rank {
            let span = (*n - prev_n) as f64;
            let into = if span > 0.0 { (rank - prev_n as f64) / span } else { 1.0 };
            return Some(prev_le + (le - prev_le) * into);
        }
        (prev_le, prev_n) = (*le, *n);
    }
    buckets.last().map(|(le, _)| *le)
}

/// One of the kernel's metrics, read from every node's rows of the window.
pub struct NodeSource {
    pub db: Db,
    pub metric: &'static str,
}

impl NodeSource {
    /// The five the kernel measures: error rate, p95 response time, database connections,
    /// memory and CPU.
    pub fn all(db: &Db) -> Vec<Arc<dyn MetricSource>> {
        ["error_rate", "response_time_p95", "database_connections", "memory_usage", "cpu_usage"]
            .into_iter()
            .map(|metric| Arc::new(NodeSource { db: db.clone(), metric }) as Arc<dyn MetricSource>)
            .collect()
    }
}

#[async_trait::async_trait]
impl MetricSource for NodeSource {
    fn metric(&self) -> &'static str {
        self.metric
    }

    fn alert_type(&self) -> &'static AlertType {
        match self.metric {
            "error_rate" => &SYSTEM_ERROR,
            "response_time_p95" => &SLOW_RESPONSES,
            "database_connections" => &DATABASE_CONNECTIONS,
            _ => &SYSTEM_RESOURCES,
        }
    }

    async fn measure(&self, now_ms: i64, window_ms: i64) -> anyhow::Result<Option<f64>> {
        let since = now_ms - window_ms;
        match self.metric {
            "error_rate" => {
                let r = lsn_db::query("SELECT CAST(COALESCE(SUM(requests), 0) AS BIGINT), CAST(COALESCE(SUM(errors), 0) AS BIGINT) FROM node_metrics WHERE sampled_at > $1")
                    .bind(since)
                    .fetch_one(self.db.read())
                    .await?;
                let (requests, errors): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
                Ok((requests > 0).then(|| errors as f64 * 100.0 / requests as f64))
            }
            "response_time_p95" => {
                let rows = lsn_db::query("SELECT requests, buckets FROM node_metrics WHERE sampled_at > $1")
                    .bind(since)
                    .fetch_all(self.db.read())
                    .await?;
                let mut merged: BTreeMap<u64, u64> = BTreeMap::new();
                let mut total = 0u64;
                for r in &rows {
                    total += r.try_get::<i64, _>(0)?.max(0) as u64;
                    let b: Vec<(f64, u64)> = serde_json::from_str(&r.try_get::<String, _>(1)?).unwrap_or_default();
                    for (le, n) in b {
                        *merged.entry(le.to_bits()).or_default() += n;
                    }
                }
                let mut buckets: Vec<(f64, u64)> = merged.into_iter().map(|(le, n)| (f64::from_bits(le), n)).collect();
                buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                Ok(quantile(&buckets, total, 0.95).map(|secs| secs * 1000.0))
            }
            other => {
                let column = match other {
                    "database_connections" => "db_pct",
                    "memory_usage" => "memory_pct",
                    _ => "cpu_pct",
                };
                let r = lsn_db::query(&format!("SELECT MAX({column}) FROM node_metrics WHERE sampled_at > $1"))
                    .bind(since)
                    .fetch_one(self.db.read())
                    .await?;
                Ok(r.try_get::<Option<f64>, _>(0)?)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(level_of(4.9, Some(5.0), Some(10.0)), None);
        assert_eq!(level_of(5.0, Some(5.0), Some(10.0)), None, "over, not at");
        assert_eq!(level_of(7.0, Some(5.0), Some(10.0)), Some(Severity::Warning));
        assert_eq!(level_of(10.5, Some(5.0), Some(10.0)), Some(Severity::Critical));
        assert_eq!(level_of(95.0, None, Some(90.0)), Some(Severity::Critical));
        assert_eq!(level_of(4.0, None, Some(3.0)), Some(Severity::Critical), "failed payments: more than 3");
    }

    #[test]
    fn p95_from_a_histogram() {
        // 100 requests: 90 under 0.1 s, 8 under 2 s, 2 under 5 s.
        let b = [(0.1, 90), (2.0, 98), (5.0, 100)];
        let p = quantile(&b, 100, 0.95).expect("p95");
        assert!((p - (0.1 + 1.9 * 5.0 / 8.0)).abs() < 1e-9, "{p}");
        assert_eq!(quantile(&b, 0, 0.95), None);
        assert_eq!(quantile(&[(0.1, 1)], 10, 0.95), Some(0.1), "past the last bucket");
    }

    #[test]
    fn form_and_json_levels() {
        assert_eq!(Level::from_form(" ", "warning").ok(), Some(Level::Off));
        assert_eq!(Level::from_form("5", "warning").ok(), Some(Level::Set(5.0)));
        assert!(Level::from_form("five", "warning").is_err());
        assert_eq!(Level::from_json(None, "w").ok(), Some(Level::Keep));
        assert_eq!(Level::from_json(Some(&Value::Null), "w").ok(), Some(Level::Off));
        assert!(Level::from_json(Some(&serde_json::json!("NaN")), "w").is_err());
    }
}
