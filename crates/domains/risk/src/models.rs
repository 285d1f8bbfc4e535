//! Model versions in the database: trained in LSN from labelled checks (the features each order
//! was scored on, with the outcome its review, dispute or chargeback gave) or from the synthetic
//! set (to reproduce the figures in `docs/`), held out a fifth to measure, stored with their
//! figures, activated by a person and rolled back by activating another (version 0 is the
//! built-in baseline).

use crate::features::{Features, N};
use crate::model::{self, Sample, TrainOptions, Weights};
use crate::{Code, Risk, RiskError};
use lsn_core::i18n;
use lsn_db::RowExt;
use serde::Serialize;
use serde_json::{json, Value};

/// Fewest labelled orders of each kind a model is trained on.
pub const MIN_LABELS: usize = 20;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Version {
    pub version: i64,
    pub trained_on: i64,
    /// Precision, recall and false positives on the held-out fifth, at the review threshold.
    pub metrics: Value,
    pub active: bool,
    pub created_by: String,
    pub created_at: i64,
}

impl Risk {
    /// Trains a new version (not active until a person activates it). `synthetic`: on the
    /// generated set of `orders` from `seed` instead of the shop's labels.
    pub async fn train(&self, synthetic: Option<(u64, usize)>, who: &str) -> Result<Version, RiskError> {
        let samples = match synthetic {
            Some((seed, n)) => crate::synth::generate(seed, n.clamp(1_000, 50_000), crate::synth::REPORT_FRAUD_SHARE),
            None => self.labelled().await?,
        };
        let (fraud, honest) = (samples.iter().filter(|s| s.label).count(), samples.iter().filter(|s| !s.label).count());
        if fraud < MIN_LABELS || honest < MIN_LABELS {
            return Err(RiskError::rule(Code::NoLabels, i18n::t_args("risk-not-enough-labels", &[("min", &MIN_LABELS.to_string())])));
        }
        let (train, test) = crate::synth::split(&samples, crate::synth::REPORT_TEST_SHARE, 7);
        let version: i64 = lsn_db::query("SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM risk_models")
            .fetch_one(self.db.read())
            .await?
            .try_get(0)?;
        let opts = TrainOptions { version: version + 1, ..TrainOptions::default() };
        let w = tokio::task::spawn_blocking(move || model::train(&train, &opts).map(|w| (w, test)))
            .await
            .map_err(|e| RiskError::Model(e.to_string()))?
            .map_err(|e| RiskError::Model(e.to_string()))?;
        let (w, test) = w;
        let held_out = model::evaluate(&w, &test, crate::synth::REPORT_THRESHOLD).map_err(|e| RiskError::Model(e.to_string()))?;
        let baseline =
            model::evaluate(&Weights::baseline(), &test, crate::synth::REPORT_THRESHOLD).map_err(|e| RiskError::Model(e.to_string()))?;
        let metrics = json!({"held_out": held_out, "baseline_held_out": baseline, "source": if synthetic.is_some() { "synthetic" } else { "labels" }});
        let now = self.clock.now_ms();
        let weights = serde_json::to_string(&w).map_err(|e| RiskError::Model(e.to_string()))?;
        lsn_db::query("INSERT INTO risk_models (version, weights, trained_on, metrics, active, created_by, created_at) VALUES ($1, $2, $3, $4, 0, $5, $6)")
            .bind(w.version)
            .bind(&weights)
            .bind(w.trained_on as i64)
            .bind(metrics.to_string())
            .bind(who)
            .bind(now)
            .execute(self.db.write())
            .await?;
        self.version(w.version).await
    }

    /// Makes `version` the one that scores (0: the baseline), rolling back by activating an
    /// older one.
    pub async fn activate(&self, version: i64) -> Result<Version, RiskError> {
        if version != 0 {
            self.version(version).await?;
        }
        self.db
            .transaction(move |tx| {
                Box::pin(async move {
                    lsn_db::query("UPDATE risk_models SET active = 0 WHERE active = 1").execute(&mut **tx).await?;
                    lsn_db::query("UPDATE risk_models SET active = 1 WHERE version = $1").bind(version).execute(&mut **tx).await?;
                    Ok::<_, lsn_db::Error>(())
                })
            })
            .await?;
        *self.model.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if version == 0 {
            let b = Weights::baseline();
            return Ok(Version {
                version: 0,
                trained_on: 0,
                metrics: json!(b.metrics),
                active: true,
                created_by: "lsn".into(),
                created_at: 0,
            });
        }
        self.version(version).await
    }

    pub async fn version(&self, version: i64) -> Result<Version, RiskError> {
        let r = lsn_db::query("SELECT version, trained_on, metrics, active, created_by, created_at FROM risk_models WHERE version = $1")
            .bind(version)
            .fetch_optional(self.db.read())
            .await?
            .ok_or_else(|| RiskError::rule(Code::UnknownModel, i18n::t("risk-unknown-model")))?;
        version_row(&r)
    }

    pub async fn versions(&self) -> Result<Vec<Version>, RiskError> {
        let rows = lsn_db::query(
            "SELECT version, trained_on, metrics, active, created_by, created_at FROM risk_models ORDER BY version DESC LIMIT 100",
        )
        .fetch_all(self.db.read())
        .await?;
        rows.iter().map(version_row).collect()
    }

    /// The shop's labelled orders: the features each was scored on and its outcome (a fraud
    /// label from any source wins over a legit one).
    async fn labelled(&self) -> Result<Vec<Sample>, RiskError> {
        let rows = lsn_db::query(
            "SELECT c.features, MAX(CASE WHEN l.label = 'fraud' THEN 1 ELSE 0 END) FROM fraud_checks c JOIN risk_labels l ON l.order_id = c.order_id GROUP BY c.order_id, c.features",
        )
        .fetch_all(self.db.read())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let text: String = r.try_get(0)?;
            let fraud: i64 = r.try_get(1)?;
            let Ok(v) = serde_json::from_str::<Vec<f64>>(&text) else { continue };
            let Ok(arr) = <[f64; N]>::try_from(v) else { continue };
            out.push(Sample { features: Features(arr), label: fraud == 1, pattern: if fraud == 1 { "fraud" } else { "honest" } });
        }
        Ok(out)
    }
}

fn version_row(r: &lsn_db::Row) -> Result<Version, RiskError> {
    let metrics: String = r.try_get(2)?;
    Ok(Version {
        version: r.try_get(0)?,
        trained_on: r.try_get(1)?,
        metrics: serde_json::from_str(&metrics).unwrap_or(Value::Null),
        active: r.try_get::<i64, _>(3)? == 1,
        created_by: r.try_get(4)?,
        created_at: r.try_get(5)?,
    })
}
