//! `Idempotency-Key` for every mutating surface that takes one (the REST checkout, payment and
//! refund, tRPC's `orders.create`, the site's checkout and deal forms): the first answer to a
//! key is stored and returned again for every repeat; a repeat with a different body is
//! refused; a repeat while the first is still running gets 409. A 5xx is not stored, so the
//! client may retry it.
//!
//! Keys live [`KEY_TTL_MS`] (24 hours, as Stripe's): after that a key is new again, and the
//! hourly `idempotency_cleanup` job deletes it. A key whose first request never finished (the
//! process died while it ran) is taken over after [`ABANDONED_MS`], instead of answering 409
//! for ever.

use crate::Code;
use crate::CommerceError;
use axum::http::StatusCode;
use axum_extra::extract::CookieJar;
use lsn_core::i18n;
use lsn_db::{Db, RowExt};
use serde_json::Value;

/// How long a key and its answer are kept.
pub const KEY_TTL_MS: i64 = 24 * 3600 * 1000;
/// After this long, a key whose first request has not answered is taken to be abandoned.
pub const ABANDONED_MS: i64 = 2 * 60 * 1000;
/// The job that deletes expired keys (the `idempotency_cleanup` schedule).
pub const CLEANUP_JOB: &str = "commerce.idempotency_cleanup";

pub enum Begin {
    /// Go ahead and call [`finish`] with the answer.
    Fresh,
    /// The stored answer to return as it is.
    Replay(u16, Value),
}

pub fn request_hash(method_path: &str, body: &Value) -> String {
    lsn_core::ids::hash_token(&format!("{method_path}\n{body}"))
}

/// Whose keys these are: the signed-in user's, or a guest's cart's.
pub fn scope_of(user_id: Option<&str>, jar: &CookieJar) -> String {
    match (user_id, jar.get(crate::cart::CART_COOKIE)) {
        (Some(u), _) => format!("user:{u}"),
        (None, Some(c)) => format!("cart:{}", lsn_core::ids::hash_token(c.value())),
        (None, None) => "anonymous".into(),
    }
}

pub async fn begin(db: &Db, now: i64, scope: &str, key: &str, hash: &str) -> Result<Begin, CommerceError> {
    if key.is_empty() || key.len() > 255 || key.chars().any(|c| c.is_control()) {
        return Err(CommerceError::rule(Code::InvalidIdempotencyKey, i18n::t("commerce-idempotency-key")));
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
    let r =
        lsn_db::query("SELECT request_hash, status_code, response_body, created_at FROM idempotency_keys WHERE scope = $1 AND key = $2")
            .bind(scope)
            .bind(key)
            .fetch_one(db.write())
            .await?;
    let (stored_hash, status, body, created): (String, Option<i64>, Option<String>, i64) =
        (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
    let expired = now - created >= KEY_TTL_MS;
    let abandoned = status.is_none() && now - created >= ABANDONED_MS;
    if expired || (abandoned && stored_hash == hash) {
        // A new request under an old key, or the same request taking over one that died:
        // whoever moves the row from the time read here goes ahead.
        let taken = lsn_db::query(
            "UPDATE idempotency_keys SET request_hash = $1, status_code = NULL, response_body = NULL, created_at = $2 WHERE scope = $3 AND key = $4 AND created_at = $5",
        )
        .bind(hash)
        .bind(now)
        .bind(scope)
        .bind(key)
        .bind(created)
        .execute(db.write())
        .await?;
        if taken.rows_affected() == 1 {
            return Ok(Begin::Fresh);
        }
    }
    if stored_hash != hash {
        return Err(CommerceError::rule(Code::IdempotencyKeyReused, i18n::t("commerce-idempotency-reused")));
    }
    match (status, body) {
        (Some(s), Some(b)) => Ok(Begin::Replay(s as u16, serde_json::from_str(&b).unwrap_or(Value::Null))),
        _ => Err(CommerceError::rule(Code::IdempotencyInProgress, i18n::t("commerce-idempotency-in-progress"))),
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

/// What [`once`] answered: the status and body, and whether it was the stored answer.
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub replayed: bool,
}

/// Runs `f` once per `key` in `scope` (every time when there is no key), storing its answer —
/// an error's body too — and giving the stored answer back for repeats. `what` names the
/// operation, so one key cannot be replayed against another.
pub async fn once<F, Fut>(
    db: &Db,
    now: i64,
    scope: &str,
    key: Option<&str>,
    what: &str,
    body: &Value,
    f: F,
) -> Result<Answer, CommerceError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(StatusCode, Value), lsn_core::ApiError>>,
{
    let run = |r: Result<(StatusCode, Value), lsn_core::ApiError>| match r {
        Ok((status, body)) => (status, body),
        Err(e) => (e.status, e.body()),
    };
    let Some(key) = key else {
        let (status, body) = run(f().await);
        return Ok(Answer { status, body, replayed: false });
    };
    let hash = request_hash(what, body);
    match begin(db, now, scope, key, &hash).await? {
        Begin::Replay(s, v) => Ok(Answer { status: StatusCode::from_u16(s).unwrap_or(StatusCode::OK), body: v, replayed: true }),
        Begin::Fresh => {
            let (status, value) = run(f().await);
            finish(db, scope, key, status.as_u16(), &value).await?;
            Ok(Answer { status, body: value, replayed: false })
        }
    }
}

/// Deletes keys past [`KEY_TTL_MS`]; returns how many.
pub async fn cleanup(db: &Db, now: i64) -> Result<u64, CommerceError> {
    let r = lsn_db::query("DELETE FROM idempotency_keys WHERE created_at < $1").bind(now - KEY_TTL_MS).execute(db.write()).await?;
    Ok(r.rows_affected())
}

/// `commerce.idempotency_cleanup`: the hourly deletion of expired keys.
pub struct CleanupJob {
    pub db: Db,
}

#[async_trait::async_trait]
impl lsn_ops::JobHandler for CleanupJob {
    async fn run(&self, ctx: &lsn_ops::JobContext, _payload: &Value) -> Result<(), lsn_ops::JobError> {
        let n = cleanup(&self.db, ctx.clock.now_ms()).await.map_err(|e| lsn_ops::JobError::Retry(e.to_string()))?;
        tracing::debug!(removed = n, "expired idempotency keys removed");
        Ok(())
    }
}
