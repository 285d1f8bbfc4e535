//! Warehouse and core data: warehouses, zones, bins, sales channels and suppliers.
//!
//! `init` creates the runbook's Phase 1 core data and is idempotent: every row has a stable
//! code, and a second run inserts nothing.

pub mod alerts;
pub mod analytics;
pub mod demo;
pub mod stock;
pub mod summary;

/// The warehouse's schema steps (its earlier tables are in [`lsn_db::HISTORY`]).
pub const MIGRATIONS: &[lsn_db::Migration] =
    &[lsn_db::Migration::portable(12, "variant stock view", include_str!("../migrations/0012_variant_stock.sql"))];

use lsn_db::{Db, RowExt};
use serde::Serialize;

pub const MAIN_WAREHOUSE: &str = "SYD-MAIN";
pub const ZONES: [(&str, &str, &str); 4] =
    [("RCV", "Receiving", "receiving"), ("STO", "Storage", "storage"), ("PCK", "Picking", "picking"), ("PAK", "Packing", "packing")];
pub const BIN_ROWS: [char; 5] = ['A', 'B', 'C', 'D', 'E'];
pub const BIN_COLUMNS: i64 = 10;
pub const BIN_LEVELS: i64 = 3;
pub const LIVE_CHANNEL: &str = "lsn-live";

/// The warehouse as a module: its schema steps, the `inventory.low` events it publishes, the
/// hourly low-stock task (mailing `mail.to`), its summary section and the check that its core
/// data (warehouse, zones, bins, channel, supplier) is there.
pub fn module(db: lsn_db::Db, mail: alerts::AlertMail) -> lsn_ops::Module {
    lsn_ops::Module::new("warehouse")
        .migrations(MIGRATIONS)
        .publishes(&[stock::INVENTORY_LOW])
        .external(stock::INVENTORY_LOW, "the stock's event record; low-stock alerts (#15) and reordering (#18) subscribe")
        .job(alerts::LOW_STOCK_JOB, std::sync::Arc::new(alerts::LowStock { db: db.clone(), mail }))
        .schedule(alerts::schedule())
        .alert_type(alerts::LOW_STOCK_ALERT)
        .raises(&[alerts::LOW_STOCK_ALERT.name])
        .health(std::sync::Arc::new(CoreData(db.clone())))
        .analytics(std::sync::Arc::new(analytics::Stock(db.clone())))
        .summary(std::sync::Arc::new(summary::Stock(db)))
}

/// Readiness: the runbook's core data exists.
struct CoreData(lsn_db::Db);

#[async_trait::async_trait]
impl lsn_ops::HealthCheck for CoreData {
    async fn check(&self) -> lsn_ops::Check {
        let (ok, detail) = match counts(&self.0).await {
            Ok(c) => {
                let p = c.problems();
                (p.is_empty(), if p.is_empty() { "warehouse, zones, bins, channel and supplier present".to_string() } else { p.join("; ") })
            }
            Err(e) => (false, e.to_string()),
        };
        lsn_ops::Check { name: "core_data", ok, detail }
    }
}

/// The readable code of a storage bin: row letter, column, level (`A-01-1` … `E-10-3`).
pub fn bin_code(row: char, column: i64, level: i64) -> String {
    format!("{row}-{column:02}-{level}")
}

/// The runbook's "Verify Existing Data" counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CoreCounts {
    pub warehouses: i64,
    pub zones: i64,
    pub bins: i64,
    pub channels: i64,
    pub suppliers: i64,
}

impl CoreCounts {
    /// What the runbook expects: 1 warehouse, 4 zones, 150 bins, 1 channel, 1+ suppliers.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let want = [("warehouses", self.warehouses, 1), ("zones", self.zones, 4), ("bins", self.bins, 150), ("channels", self.channels, 1)];
        for (name, have, need) in want {
            if have < need {
                p.push(format!("{name}: {have} (expected {need})"));
            }
        }
        if self.suppliers < 1 {
            p.push("suppliers: 0 (expected 1 or more)".into());
        }
        p
    }
}

pub async fn counts(db: &Db) -> Result<CoreCounts, lsn_db::Error> {
    let r = lsn_db::query(
        "SELECT (SELECT CAST(COUNT(*) AS BIGINT) FROM warehouses), (SELECT CAST(COUNT(*) AS BIGINT) FROM zones), (SELECT CAST(COUNT(*) AS BIGINT) FROM bins), \
         (SELECT CAST(COUNT(*) AS BIGINT) FROM channels), (SELECT CAST(COUNT(*) AS BIGINT) FROM suppliers)",
    )
    .fetch_one(db.read())
    .await?;
    Ok(CoreCounts {
        warehouses: r.try_get(0)?,
        zones: r.try_get(1)?,
        bins: r.try_get(2)?,
        channels: r.try_get(3)?,
        suppliers: r.try_get(4)?,
    })
}

/// Creates whatever core data is missing; returns how many rows it inserted (0 on a re-run).
pub async fn init(db: &Db, now_ms: i64) -> Result<u64, lsn_db::Error> {
    db.transaction(move |tx| {
        Box::pin(async move {
            let mut inserted = 0u64;
            let ins = lsn_db::query(
                "INSERT INTO warehouses (id, code, name, city, state, country, timezone, created_at) VALUES ($1, $2, 'Main Warehouse', 'Sydney', 'NSW', 'AU', 'Australia/Sydney', $3) ON CONFLICT (code) DO NOTHING",
            )
            .bind(lsn_core::ids::new_id())
            .bind(MAIN_WAREHOUSE)
            .bind(now_ms)
            .execute(&mut **tx)
            .await?;
            inserted += ins.rows_affected();
            let wh: String = lsn_db::query("SELECT id FROM warehouses WHERE code = $1").bind(MAIN_WAREHOUSE).fetch_one(&mut **tx).await?.try_get(0)?;
            for (code, name, purpose) in ZONES {
                let r = lsn_db::query("INSERT INTO zones (id, warehouse_id, code, name, purpose, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (warehouse_id, code) DO NOTHING")
                    .bind(lsn_core::ids::new_id())
                    .bind(&wh)
                    .bind(code)
                    .bind(name)
                    .bind(purpose)
                    .bind(now_ms)
                    .execute(&mut **tx)
                    .await?;
                inserted += r.rows_affected();
            }
            let storage: String = lsn_db::query("SELECT id FROM zones WHERE warehouse_id = $1 AND code = 'STO'").bind(&wh).fetch_one(&mut **tx).await?.try_get(0)?;
            for row in BIN_ROWS {
                for column in 1..=BIN_COLUMNS {
                    for level in 1..=BIN_LEVELS {
                        let r = lsn_db::query("INSERT INTO bins (id, zone_id, code, row_no, column_no, level_no, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (code) DO NOTHING")
                            .bind(lsn_core::ids::new_id())
                            .bind(&storage)
                            .bind(bin_code(row, column, level))
                            .bind(i64::from(row as u8 - b'A' + 1))
                            .bind(column)
                            .bind(level)
                            .bind(now_ms)
                            .execute(&mut **tx)
                            .await?;
                        inserted += r.rows_affected();
                    }
                }
            }
            let r = lsn_db::query("INSERT INTO channels (id, code, name, kind, active, created_at) VALUES ($1, $2, 'Live Shopping Network', 'live', 1, $3) ON CONFLICT (code) DO NOTHING")
                .bind(lsn_core::ids::new_id())
                .bind(LIVE_CHANNEL)
                .bind(now_ms)
                .execute(&mut **tx)
                .await?;
            inserted += r.rows_affected();
            let r = lsn_db::query(
                "INSERT INTO suppliers (id, code, name, kind, contact_email, website, lead_time_days, created_at) VALUES ($1, 'cj-dropshipping', 'CJ Dropshipping', 'dropship', 'support@cjdropshipping.com', 'https://cjdropshipping.com', 7, $2) ON CONFLICT (code) DO NOTHING",
            )
            .bind(lsn_core::ids::new_id())
            .bind(now_ms)
            .execute(&mut **tx)
            .await?;
            inserted += r.rows_affected();
            Ok::<_, lsn_db::Error>(inserted)
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn bin_codes_are_readable() {
        assert_eq!(super::bin_code('A', 1, 1), "A-01-1");
        assert_eq!(super::bin_code('E', 10, 3), "E-10-3");
    }
}
