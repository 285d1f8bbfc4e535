//! Write transactions by themselves, with their retries: the layer between a connection's
//! statements (`sql`) and the pool (`pool`), which the SQLite writer's queue (`group`) uses too.

use crate::retry::{is_retryable, TxError};
use crate::sql::Tx;
pub(crate) use crate::sql::{Begin, BoxFuture};
use std::time::Duration;

/// Runs `f` in a write transaction of its own, with the retries [`Db::transaction`] describes.
pub(crate) async fn transaction_on<T, E, F>(on: Begin<'_>, mut f: F) -> Result<T, E>
where
    E: TxError,
    F: for<'t> FnMut(&'t mut Tx) -> BoxFuture<'t, Result<T, E>>,
{
    let _gate = match on {
        Begin::Lite(conn) => Some(conn.gate().await),
        Begin::Any(_) => None,
    };
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let mut tx = Tx::begin(on).await.map_err(|e| E::from(e.into()))?;
        let result = match f(&mut tx).await {
            Ok(v) => tx.commit().await.map(|_| v).map_err(|e| E::from(e.into())),
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        };
        match result {
            Err(e) if attempt < 8 && e.as_db().is_some_and(is_retryable) => {
                let backoff = 2u64.pow(attempt.min(6)) + rand_jitter();
                tracing::debug!(attempt, backoff_ms = backoff, "retrying transaction after a serialization failure");
                tokio::time::sleep(Duration::from_millis(backoff)).await;
            }
            other => return other,
        }
    }
}

fn rand_jitter() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    u64::from(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0) % 16)
}
