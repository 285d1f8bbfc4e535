//! In-process sliding-window limits (per IP for sign-in). With several nodes each node counts
//! its own share; the shared Redis limiter comes with `REDIS_URL` (live-room work).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

#[derive(Debug)]
pub struct SlidingWindow {
    limit: usize,
    window_ms: i64,
    hits: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl SlidingWindow {
    pub fn new(limit: usize, window_ms: i64) -> Self {
        Self { limit, window_ms, hits: Mutex::new(HashMap::new()) }
    }

    /// Counts a hit for `key` at `now`; `Err(retry_after_secs)` when over the limit.
    pub fn hit(&self, key: &str, now_ms: i64) -> Result<(), u64> {
        let mut map = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            let cutoff = now_ms - self.window_ms;
            map.retain(|_, q| q.back().is_some_and(|t| *t > cutoff));
        }
        let q = map.entry(key.to_string()).or_default();
        while q.front().is_some_and(|t| *t <= now_ms - self.window_ms) {
            q.pop_front();
        }
        if q.len() >= self.limit {
            let oldest = q.front().copied().unwrap_or(now_ms);
            return Err(((oldest + self.window_ms - now_ms).max(1000) / 1000) as u64);
        }
        q.push_back(now_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn limits_and_recovers() {
        let w = super::SlidingWindow::new(2, 1000);
        assert!(w.hit("a", 0).is_ok());
        assert!(w.hit("a", 10).is_ok());
        assert!(w.hit("a", 20).is_err());
        assert!(w.hit("b", 20).is_ok());
        assert!(w.hit("a", 1001).is_ok());
    }
}
