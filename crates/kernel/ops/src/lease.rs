//! Named leases in the database: one holder at a time, until the lease expires or is renewed.
//! The scheduler uses one so that exactly one node enqueues scheduled jobs.

use lsn_db::{Db, RowExt};

/// Takes or renews `name` for `holder` until `now + ttl`; true when `holder` has it now.
pub async fn try_acquire(db: &Db, name: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> Result<bool, lsn_db::Error> {
    let expires = now_ms + ttl_ms;
    lsn_db::query(
        "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE leases.holder = excluded.holder OR leases.expires_at < $4",
    )
    .bind(name)
    .bind(holder)
    .bind(expires)
    .bind(now_ms)
    .execute(db.write())
    .await?;
    let row = lsn_db::query("SELECT holder FROM leases WHERE name = $1").bind(name).fetch_one(db.write()).await?;
    Ok(row.try_get::<String, _>(0)? == holder)
}

pub async fn release(db: &Db, name: &str, holder: &str) -> Result<(), lsn_db::Error> {
    lsn_db::query("DELETE FROM leases WHERE name = $1 AND holder = $2").bind(name).bind(holder).execute(db.write()).await?;
    Ok(())
}
