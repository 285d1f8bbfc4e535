//! A small Prometheus registry: request counts and latency histograms per route, rendered in
//! the text exposition format. Kept in the application state (not a global) so several servers
//! can live in one process, as the integration tests do.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct HttpMetrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
}

impl HttpMetrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, secs: f64) {
        {
            let mut r = self.requests.lock().unwrap_or_else(|e| e.into_inner());
            *r.entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        }
        let mut l = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let h = l.entry((method.to_string(), route.to_string())).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// Since the process started: requests, server errors (5xx), mean latency in milliseconds.
    pub fn summary(&self) -> (u64, u64, f64) {
        let r = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let total: u64 = r.values().sum();
        let errors: u64 = r.iter().filter(|((_, _, s), _)| *s >= 500).map(|(_, n)| n).sum();
        let l = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let (sum, count) = l.values().fold((0.0, 0u64), |(s, c), h| (s + h.sum, c + h.count));
        (total, errors, if count > 0 { sum / count as f64 * 1000.0 } else { 0.0 })
    }

    pub fn render(&self, out: &mut String) {
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        out.push_str("# HELP lsn_http_requests_total HTTP requests by method, route and status.\n# TYPE lsn_http_requests_total counter\n");
        for ((m, r, s), n) in self.requests.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(out, "lsn_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{s}\"}} {n}", esc(m), esc(r));
        }
        out.push_str("# HELP lsn_http_request_duration_seconds HTTP request latency by method and route.\n# TYPE lsn_http_request_duration_seconds histogram\n");
        for ((m, r), h) in self.latency.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let labels = format!("method=\"{}\",route=\"{}\"", esc(m), esc(r));
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(out, "lsn_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}", h.counts[i]);
            }
            let _ = writeln!(out, "lsn_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "lsn_http_request_duration_seconds_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "lsn_http_request_duration_seconds_count{{{labels}}} {}", h.count);
        }
    }
}

pub fn gauge(out: &mut String, name: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, v) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {v}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    }
}

pub fn counter(out: &mut String, name: &str, help: &str, value: f64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_histograms() {
        let m = super::HttpMetrics::default();
        m.observe("GET", "/healthz", 200, 0.002);
        m.observe("GET", "/healthz", 200, 0.2);
        let mut s = String::new();
        m.render(&mut s);
        assert!(s.contains("lsn_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"));
        assert!(s.contains("lsn_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"0.0025\"} 1"));
        assert!(s.contains("lsn_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\"} 2"));
    }
}
