//! Rate limits: at most `limit` hits per key in any `window` (a sliding window, so a burst at a
//! window's edge cannot double it), answered with the seconds until the next hit is allowed.
//!
//! Each node counts in memory; when `REDIS_URL` is set the runtime [`shares`](RateLimit::share)
//! every module's limits through Redis, so the limit holds for the shop, not per node (otherwise
//! three nodes would allow three times the hits). Redis keeps each key's hits in a sorted set
//! trimmed to the window by one script, atomically. Should Redis fail, the node goes on counting
//! in memory and says so in the log: a limit is never lifted by an outage.

use redis::aio::MultiplexedConnection;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// Keys kept in memory before the idle ones are swept out.
const SWEEP_AT: usize = 100_000;

/// Trims the key to the window, counts it, and either records the hit (0) or answers the
/// milliseconds until the oldest hit leaves the window.
const HIT: &str = r"
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return math.max(tonumber(oldest[2]) + window - now, 1)
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('PEXPIRE', key, window)
return 0
";

/// A connection to the Redis that holds the shared counts.
#[derive(Clone)]
pub struct SharedStore {
    conn: MultiplexedConnection,
    script: redis::Script,
}

impl SharedStore {
    pub async fn connect(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let conn = client.get_multiplexed_async_connection().await?;
        Ok(Self { conn, script: redis::Script::new(HIT) })
    }

    async fn hit(&self, name: &str, key: &str, limit: usize, window_ms: i64, now_ms: i64) -> Result<i64, redis::RedisError> {
        let mut conn = self.conn.clone();
        let member = format!("{now_ms}-{}", lsn_core::ids::random_token(8));
        self.script.key(format!("lsn:limit:{name}:{key}")).arg(now_ms).arg(window_ms).arg(limit).arg(member).invoke_async(&mut conn).await
    }
}

/// One named limit (`login`, `forms`, `checkout`, …).
pub struct RateLimit {
    name: &'static str,
    limit: usize,
    window_ms: i64,
    local: Mutex<HashMap<String, VecDeque<i64>>>,
    shared: OnceLock<SharedStore>,
    warned: AtomicBool,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit").field("name", &self.name).field("limit", &self.limit).field("window_ms", &self.window_ms).finish()
    }
}

impl RateLimit {
    pub fn new(name: &'static str, limit: usize, window_ms: i64) -> Self {
        Self { name, limit, window_ms, local: Mutex::default(), shared: OnceLock::new(), warned: AtomicBool::new(false) }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Counts through `store` from now on (once; later calls change nothing).
    pub fn share(&self, store: SharedStore) {
        let _ = self.shared.set(store);
    }

    pub fn is_shared(&self) -> bool {
        self.shared.get().is_some()
    }

    /// Counts a hit for `key` at `now_ms`; `Err(retry_after_secs)` when over the limit.
    pub async fn hit(&self, key: &str, now_ms: i64) -> Result<(), u64> {
        if let Some(store) = self.shared.get() {
            match store.hit(self.name, key, self.limit, self.window_ms, now_ms).await {
                Ok(0) => return Ok(()),
                Ok(wait_ms) => return Err(secs(wait_ms)),
                Err(e) => {
                    if !self.warned.swap(true, Ordering::Relaxed) {
                        tracing::warn!(limit = self.name, "shared rate limit unavailable, counting on this node: {e}");
                    }
                }
            }
        }
        self.hit_here(key, now_ms)
    }

    fn hit_here(&self, key: &str, now_ms: i64) -> Result<(), u64> {
        let mut map = self.local.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > SWEEP_AT {
            let cutoff = now_ms - self.window_ms;
            map.retain(|_, q| q.back().is_some_and(|t| *t > cutoff));
        }
        let q = map.entry(key.to_string()).or_default();
        while q.front().is_some_and(|t| *t <= now_ms - self.window_ms) {
            q.pop_front();
        }
        if q.len() >= self.limit {
            let oldest = q.front().copied().unwrap_or(now_ms);
            return Err(secs(oldest + self.window_ms - now_ms));
        }
        q.push_back(now_ms);
        Ok(())
    }
}

/// Whole seconds to wait, at least one.
fn secs(wait_ms: i64) -> u64 {
    (wait_ms.max(1000) / 1000) as u64
}

#[cfg(test)]
mod tests {
    use super::RateLimit;

    #[tokio::test]
    async fn limits_and_recovers() {
        let w = RateLimit::new("test", 2, 1000);
        assert!(w.hit("a", 0).await.is_ok());
        assert!(w.hit("a", 10).await.is_ok());
        assert_eq!(w.hit("a", 20).await, Err(1));
        assert!(w.hit("b", 20).await.is_ok());
        assert!(w.hit("a", 1001).await.is_ok());
        let slow = RateLimit::new("slow", 1, 300_000);
        assert!(slow.hit("a", 0).await.is_ok());
        assert_eq!(slow.hit("a", 60_000).await, Err(240));
    }
}
