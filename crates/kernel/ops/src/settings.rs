//! A domain's settings kept as key → JSON value rows in a table of its own (`key`, `value`,
//! `updated_at`, `updated_by`): read all, write several in one transaction. The domain checks
//! every value before it writes any.

use lsn_db::{Db, RowExt};
use serde_json::Value;

/// Every stored setting of `table` whose value is JSON (a value that no longer parses is left
/// out: the default stands).
pub async fn load(db: &Db, table: &'static str) -> Result<Vec<(String, Value)>, lsn_db::Error> {
    let mut out = Vec::new();
    for r in lsn_db::query(&format!("SELECT key, value FROM {table}")).fetch_all(db.read()).await? {
        let (k, v): (String, String) = (r.try_get(0)?, r.try_get(1)?);
        if let Ok(v) = serde_json::from_str::<Value>(&v) {
            out.push((k, v));
        }
    }
    Ok(out)
}

/// Stores every key of `patch` (already checked) in one transaction, with who changed it.
pub async fn save(db: &Db, table: &'static str, patch: &serde_json::Map<String, Value>, now: i64, who: &str) -> Result<(), lsn_db::Error> {
    let rows: Vec<(String, String)> = patch.iter().map(|(k, v)| (k.clone(), v.to_string())).collect();
    let who = who.to_string();
    let sql = format!(
        "INSERT INTO {table} (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by"
    );
    db.transaction(move |tx| {
        let (rows, who, sql) = (rows.clone(), who.clone(), sql.clone());
        Box::pin(async move {
            for (k, v) in &rows {
                lsn_db::query(&sql).bind(k).bind(v).bind(now).bind(&who).execute(&mut **tx).await?;
            }
            Ok::<_, lsn_db::Error>(())
        })
    })
    .await
}
