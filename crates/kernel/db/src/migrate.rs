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
    pub fn sql(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }
}

macro_rules! portable {
    ($v:expr, $name:expr, $file:expr) => {
        Migration { version: $v, name: $name, sqlite: include_str!($file), postgres: include_str!($file) }
    };
}

pub const MIGRATIONS: &[Migration] = &[
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
];

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
    /// The highest applied migration and the highest this binary knows.
    pub async fn migration_status(&self) -> Result<MigrationStatus, DbError> {
        let latest = MIGRATIONS.last().map(|m| m.version).unwrap_or(0);
        let exists: i64 = match self.backend() {
            Backend::Sqlite => query("SELECT CAST(count(*) AS BIGINT) FROM sqlite_master WHERE name = 'schema_migrations'"),
            Backend::Postgres => query("SELECT CAST(count(*) AS BIGINT) FROM information_schema.tables WHERE table_name = 'schema_migrations' AND table_schema = current_schema()"),
        }
        .fetch_one(self.read())
        .await?
        .try_get(0)?;
        if exists == 0 {
            return Ok(MigrationStatus { applied: 0, latest });
        }
        let applied: Option<i64> = query("SELECT MAX(version) FROM schema_migrations").fetch_one(self.read()).await?.try_get(0)?;
        Ok(MigrationStatus { applied: applied.unwrap_or(0), latest })
    }

    /// Applies every pending migration; returns the versions applied now.
    ///
    /// Each migration runs in a transaction of its own that first checks it is still pending:
    /// on PostgreSQL under a transaction-scoped advisory lock, so two nodes starting together
    /// never both apply one; SQLite's single writer already runs them one at a time.
    pub async fn migrate(&self) -> Result<Vec<i64>, DbError> {
        query(CREATE_TABLE).execute(self.write()).await?;
        let rows = query("SELECT version, checksum FROM schema_migrations ORDER BY version").fetch_all(self.read()).await?;
        let mut applied = std::collections::BTreeMap::new();
        for r in rows {
            applied.insert(r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?);
        }
        let known_latest = MIGRATIONS.last().map(|m| m.version).unwrap_or(0);
        if let Some((&v, _)) = applied.iter().next_back() {
            if v > known_latest {
                return Err(DbError::Migration(format!(
                    "the database is at migration {v}, newer than this binary knows ({known_latest}); run a newer lsn"
                )));
            }
        }
        let backend = self.backend();
        let mut done = Vec::new();
        for m in MIGRATIONS {
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
