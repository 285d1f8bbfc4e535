//! Domain events, written in the same transaction as the change they describe, then turned into
//! one job per interested subscriber by the dispatcher. Delivery is at least once: subscribers
//! are idempotent on the event id.

use crate::jobs::{enqueue_many, placeholders, NewJob};
use lsn_db::{Db, RowExt, Tx};
use serde_json::{json, Value};

/// Records `topic` (`order.placed`, `inventory.low`, …) with its payload inside `tx`.
pub async fn publish(tx: &mut Tx, now_ms: i64, topic: &str, aggregate_id: Option<&str>, payload: &Value) -> Result<String, lsn_db::Error> {
    let id = lsn_core::ids::new_id();
    lsn_db::query("INSERT INTO outbox (id, topic, aggregate_id, payload, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(topic)
        .bind(aggregate_id)
        .bind(payload.to_string())
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

/// Who wants which events: `topic` is exact (`order.placed`), a prefix (`order.*`) or `*`.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub name: &'static str,
    pub topic: &'static str,
    pub job_kind: &'static str,
}

impl Subscriber {
    pub fn wants(&self, topic: &str) -> bool {
        match self.topic.strip_suffix('*') {
            Some(prefix) => topic.starts_with(prefix),
            None => self.topic == topic,
        }
    }
}

/// Moves up to `limit` pending events into subscriber jobs; returns how many events it handled.
pub async fn dispatch(db: &Db, subscribers: &[Subscriber], now_ms: i64, limit: i64) -> Result<usize, lsn_db::Error> {
    let subs = subscribers.to_vec();
    db.transaction(move |tx| {
        let subs = subs.clone();
        Box::pin(async move {
            let rows = lsn_db::query("SELECT id, topic, aggregate_id, payload, created_at FROM outbox WHERE dispatched_at IS NULL ORDER BY created_at, id LIMIT $1")
                .bind(limit)
                .fetch_all(&mut **tx)
                .await?;
            let mut jobs = Vec::new();
            let mut ids = Vec::with_capacity(rows.len());
            for r in &rows {
                let id: String = r.try_get(0)?;
                let topic: String = r.try_get(1)?;
                let aggregate_id: Option<String> = r.try_get(2)?;
                let payload: String = r.try_get(3)?;
                let created_at: i64 = r.try_get(4)?;
                let event = json!({
                    "event_id": id,
                    "topic": topic,
                    "aggregate_id": aggregate_id,
                    "payload": serde_json::from_str::<Value>(&payload).unwrap_or(Value::Null),
                    "created_at": created_at,
                });
                for s in subs.iter().filter(|s| s.wants(&topic)) {
                    jobs.push(NewJob::new(s.job_kind, event.clone()).dedupe(format!("evt:{id}:{}", s.name)));
                }
                ids.push(id);
            }
            // A few statements per batch of events, whatever its size.
            for chunk in jobs.chunks(200) {
                enqueue_many(tx, chunk, now_ms).await?;
            }
            for chunk in ids.chunks(500) {
                let sql = format!("UPDATE outbox SET dispatched_at = $1 WHERE id IN ({})", placeholders(2, chunk.len(), 1));
                let mut q = lsn_db::query(&sql).bind(now_ms);
                for id in chunk {
                    q = q.bind(id);
                }
                q.execute(&mut **tx).await?;
            }
            Ok(rows.len())
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::Subscriber;

    #[test]
    fn topic_patterns() {
        let s = |topic| Subscriber { name: "s", topic, job_kind: "k" };
        assert!(s("order.*").wants("order.placed"));
        assert!(!s("order.*").wants("payment.failed"));
        assert!(s("*").wants("anything"));
        assert!(s("order.placed").wants("order.placed"));
        assert!(!s("order.placed").wants("order.placed.x"));
    }
}
