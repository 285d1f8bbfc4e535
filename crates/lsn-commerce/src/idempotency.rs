//! `Idempotency-Key` for our own POST endpoints: the first answer to a key is stored and
//! returned again for every repeat; a repeat with a different body is refused; a repeat while the
//! first is still running gets 409. A 5xx is not stored, so the client may retry it.

use crate::CommerceError;
use lsn_db::{Db, RowExt};
use serde_json::Value;

pub enum Begin {
    /// Go ahead and call [`finish`] with the answer.
    Fresh,
    /// The stored answer to return as it is.
    Replay(u16, Value),
}

pub fn request_hash(method_path: &str, body: &Value) -> String {
    lsn_core::ids::hash_token(&format!("{method_path}\n{body}"))
}

pub async fn begin(db: &Db, now: i64, scope: &str, key: &str, hash: &str) -> Result<Begin, CommerceError> {
    if key.is_empty() || key.len() > 255 || key.chars().any(|c| c.is_control()) {
        return Err(CommerceError::rule("invalid_idempotency_key", "Idempotency-Key must be 1 to 255 printable characters."));
    }
    let ins = lsn_db::query(
        "INSERT INTO idempotency_keys (scope, key, request_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(hash)
    .bind(now)
    .execute(db.write())
    .await?;
    if ins.rows_affected() == 1 {
        return Ok(Begin::Fresh);
    }
    let r = lsn_db::query("SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE scope = $1 AND key = $2")
        .bind(scope)
        .bind(key)
        .fetch_one(db.write())
        .await?;
    let (stored_hash, status, body): (String, Option<i64>, Option<String>) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
    if stored_hash != hash {
        return Err(CommerceError::rule("idempotency_key_reused", "This Idempotency-Key was used with a different request."));
    }
    match (status, body) {
        (Some(s), Some(b)) => Ok(Begin::Replay(s as u16, serde_json::from_str(&b).unwrap_or(Value::Null))),
        _ => Err(CommerceError::rule("idempotency_in_progress", "A request with this Idempotency-Key is still being processed.")),
    }
}

pub async fn finish(db: &Db, scope: &str, key: &str, status: u16, body: &Value) -> Result<(), CommerceError> {
    if status >= 500 {
        lsn_db::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2").bind(scope).bind(key).execute(db.write()).await?;
    } else {
        lsn_db::query("UPDATE idempotency_keys SET status_code = $1, response_body = $2 WHERE scope = $3 AND key = $4")
            .bind(i64::from(status))
            .bind(body.to_string())
            .bind(scope)
            .bind(key)
            .execute(db.write())
            .await?;
    }
    Ok(())
}
