//! Embedded migrations: applied in order, each in its own transaction, recorded with a checksum
//! so a migration edited after it ran is refused instead of silently skipped.

use crate::{query, RowExt};
use crate::{Backend, Db, DbError};

/// One schema step. Most are portable (the same SQL for both engines); where the engines need
/// different DDL (full-text indexes), each gets its own file.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

impl Migration {
    /// A migration whose SQL is the same for both engines.
    pub const fn portable(version: i64, name: &'static str, sql: &'static str) -> Self {
        Self { version, name, sqlite: sql, postgres: sql }
    }

    pub fn sql(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }
}

macro_rules! portable {
    ($v:expr, $name:expr, $file:expr) => {
        Migration::portable($v, $name, include_str!($file))
    };
}

/// The first eleven steps, written before the domains had crates of their own: they create
/// tables of several domains at once and stay here as they were applied (a migration is never
/// edited after it ran). Every later step is shipped by the domain that owns its tables and
/// joins these in a [`Schema`].
pub const HISTORY: &[Migration] = &[
    portable!(1, "foundation", "../migrations/0001_foundation.sql"),
    portable!(2, "commerce", "../migrations/0002_commerce.sql"),
    Migration {
        version: 3,
        name: "search",
        sqlite: include_str!("../migrations/0003_search.sqlite.sql"),
        postgres: include_str!("../migrations/0003_search.postgres.sql"),
    },
    portable!(4, "live", "../migrations/0004_live.sql"),
    portable!(5, "offers", "../migrations/0005_offers.sql"),
    portable!(6, "auctions", "../migrations/0006_auctions.sql"),
    portable!(7, "gifts", "../migrations/0007_gifts.sql"),
    portable!(8, "integrity", "../migrations/0008_integrity.sql"),
    portable!(9, "payments", "../migrations/0009_payments.sql"),
    portable!(10, "hoarding", "../migrations/0010_hoarding.sql"),
    portable!(11, "order paid", "../migrations/0011_order_paid.sql"),
    portable!(15, "order paid job", "../migrations/0015_order_paid_job.sql"),
    portable!(17, "schedule controls", "../migrations/0017_schedule_controls.sql"),
    portable!(20, "run output", "../migrations/0020_run_output.sql"),
    portable!(21, "workflows", "../migrations/0021_workflows.sql"),
    portable!(22, "monitoring and alerts", "../migrations/0022_monitoring_alerts.sql"),
    portable!(23, "incidents and tasks", "../migrations/0023_incidents_tasks.sql"),
    portable!(24, "analytics", "../migrations/0024_analytics.sql"),
    portable!(27, "policies", "../migrations/0027_policies.sql"),
    portable!(28, "mail attachments", "../migrations/0028_mail_attachments.sql"),
    portable!(29, "self-healing", "../migrations/0029_healing.sql"),
];

/// Every migration this binary knows, in version order: the kernel's [`HISTORY`] and each
/// domain's own list, folded by the app.
#[derive(Clone)]
pub struct Schema {
    steps: Vec<&'static Migration>,
}

impl Schema {
    /// Folds the lists; refuses two steps with one version (two domains picked the same number).
    pub fn new(parts: &[&'static [Migration]]) -> Result<Self, String> {
        let mut steps: Vec<&'static Migration> = parts.iter().flat_map(|p| p.iter()).collect();
        steps.sort_by_key(|m| m.version);
        for w in steps.windows(2) {
            if w[0].version == w[1].version {
                return Err(format!("migration {} is defined twice ({} and {})", w[0].version, w[0].name, w[1].name));
            }
        }
        Ok(Self { steps })
    }

    pub fn steps(&self) -> &[&'static Migration] {
        &self.steps
    }

    /// The highest version known.
    pub fn latest(&self) -> i64 {
        self.steps.last().map(|m| m.version).unwrap_or(0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub applied: i64,
    pub latest: i64,
}

impl MigrationStatus {
    pub fn is_current(&self) -> bool {
        self.applied == self.latest
    }
}

fn checksum(sql: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(sql.as_bytes()))
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)";

impl Db {
    /// The highest applied migration and the highest `schema` knows.
    pub async fn migration_status(&self, schema: &Schema) -> Result<MigrationStatus, DbError> {
        Ok(MigrationStatus { applied: self.applied_version().await?, latest: schema.latest() })
    }

    /// The highest applied migration (0 for a database without LSN's schema).
    pub async fn applied_version(&self) -> Result<i64, DbError> {
        let exists: i64 = match self.backend() {
            Backend::Sqlite => query("SELECT CAST(count(*) AS BIGINT) FROM sqlite_master WHERE name = 'schema_migrations'"),
            Backend::Postgres => query("SELECT CAST(count(*) AS BIGINT) FROM information_schema.tables WHERE table_name = 'schema_migrations' AND table_schema = current_schema()"),
        }
        .fetch_one(self.read())
        .await?
        .try_get(0)?;
        if exists == 0 {
            return Ok(0);
        }
        let applied: Option<i64> = query("SELECT MAX(version) FROM schema_migrations").fetch_one(self.read()).await?.try_get(0)?;
        Ok(applied.unwrap_or(0))
    }

    /// Applies every pending migration; returns the versions applied now.
    ///
    /// Each migration runs in a transaction of its own that first checks it is still pending:
    /// on PostgreSQL under a transaction-scoped advisory lock, so two nodes starting together
    /// never both apply one; SQLite's single writer already runs them one at a time.
    pub async fn migrate(&self, schema: &Schema) -> Result<Vec<i64>, DbError> {
        query(CREATE_TABLE).execute(self.write()).await?;
        let rows = query("SELECT version, checksum FROM schema_migrations ORDER BY version").fetch_all(self.read()).await?;
        let mut applied = std::collections::BTreeMap::new();
        for r in rows {
            applied.insert(r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?);
        }
        let known_latest = schema.latest();
        if let Some((&v, _)) = applied.iter().next_back() {
            if v > known_latest {
                return Err(DbError::Migration(format!(
                    "the database is at migration {v}, newer than this binary knows ({known_latest}); run a newer lsn"
                )));
            }
        }
        let backend = self.backend();
        let mut done = Vec::new();
        for m in schema.steps() {
            let sql = m.sql(backend);
            let sum = checksum(sql);
            if let Some(existing) = applied.get(&m.version) {
                if *existing != sum {
                    return Err(DbError::Migration(format!("migration {} ({}) was changed after it was applied", m.version, m.name)));
                }
                continue;
            }
            let (version, name) = (m.version, m.name);
            let now_applied = self
                .transaction(move |tx| {
                    let sum = sum.clone();
                    Box::pin(async move {
                        if backend == Backend::Postgres {
                            query("SELECT CAST(pg_advisory_xact_lock(7305001) AS TEXT)").execute(&mut **tx).await?;
                        }
                        let present = query("SELECT checksum FROM schema_migrations WHERE version = $1")
                            .bind(version)
                            .fetch_optional(&mut **tx)
                            .await?;
                        if present.is_some() {
                            return Ok(false);
                        }
                        tx.execute_batch(sql).await.map_err(|e| DbError::Migration(format!("{version} ({name}): {e}")))?;
                        query("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
                            .bind(version)
                            .bind(name)
                            .bind(&sum)
                            .bind(chrono::Utc::now().timestamp_millis())
                            .execute(&mut **tx)
                            .await?;
                        Ok::<_, DbError>(true)
                    })
                })
                .await?;
            if now_applied {
                tracing::info!(version, name, "migration applied");
                done.push(version);
            }
        }
        Ok(done)
    }
}
