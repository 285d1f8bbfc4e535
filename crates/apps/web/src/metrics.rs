//! Request counts and latency histograms per route, and the process's own CPU, memory, threads
//! and file descriptors, in a Prometheus registry (the `prometheus` crate) rendered in the text
//! exposition format. Kept in the application state (not the crate's global registry) so several
//! servers can live in one process, as the integration tests do.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};
use std::fmt::Write;

// 2 s and 5 s are the runbook's p95 thresholds, so the monitor's p95 is exact at them.
const BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0];

pub struct HttpMetrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        // The names, labels and buckets are constants: a failure here is a mistake in them.
        let requests = IntCounterVec::new(
            Opts::new("lsn_http_requests_total", "HTTP requests by method, route and status."),
            &["method", "route", "status"],
        )
        .expect("valid counter definition");
        let latency = HistogramVec::new(
            HistogramOpts::new("lsn_http_request_duration_seconds", "HTTP request latency by method and route.").buckets(BUCKETS.to_vec()),
            &["method", "route"],
        )
        .expect("valid histogram definition");
        let registry = Registry::new();
        registry.register(Box::new(requests.clone())).expect("registered once");
        registry.register(Box::new(latency.clone())).expect("registered once");
        // CPU seconds, resident and virtual memory, threads, open and maximum file descriptors,
        // start time: what the operations layer's thresholds read.
        #[cfg(target_os = "linux")]
        registry.register(Box::new(prometheus::process_collector::ProcessCollector::for_self())).expect("registered once");
        Self { registry, requests, latency }
    }
}

impl HttpMetrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, secs: f64) {
        self.requests.with_label_values(&[method, route, &status.to_string()]).inc();
        self.latency.with_label_values(&[method, route]).observe(secs);
    }

    /// Since the process started: requests, server errors (5xx), mean latency in milliseconds.
    pub fn summary(&self) -> (u64, u64, f64) {
        let (mut total, mut errors, mut sum, mut count) = (0u64, 0u64, 0.0f64, 0u64);
        for family in self.registry.gather() {
            for m in family.get_metric() {
                match family.name() {
                    "lsn_http_requests_total" => {
                        let n = m.get_counter().get_value() as u64;
                        total += n;
                        let server_error =
                            m.get_label().iter().any(|l| l.name() == "status" && l.value().parse::<u16>().is_ok_and(|s| s >= 500));
                        if server_error {
                            errors += n;
                        }
                    }
                    "lsn_http_request_duration_seconds" => {
                        sum += m.get_histogram().get_sample_sum();
                        count += m.get_histogram().get_sample_count();
                    }
                    _ => {}
                }
            }
        }
        (total, errors, if count > 0 { sum / count as f64 * 1000.0 } else { 0.0 })
    }

    /// What the monitor reads of this process (`lsn_ops::monitor::Sampler`): requests, server
    /// errors and the latency histogram since the start, CPU seconds and resident memory.
    pub fn sample(&self) -> lsn_ops::monitor::ProcessSample {
        let mut s = lsn_ops::monitor::ProcessSample::default();
        let mut buckets = vec![0u64; BUCKETS.len()];
        for family in self.registry.gather() {
            for m in family.get_metric() {
                match family.name() {
                    "lsn_http_requests_total" => {
                        let n = m.get_counter().get_value() as u64;
                        s.requests += n;
                        if m.get_label().iter().any(|l| l.name() == "status" && l.value().parse::<u16>().is_ok_and(|s| s >= 500)) {
                            s.errors += n;
                        }
                    }
                    "lsn_http_request_duration_seconds" => {
                        for (i, b) in m.get_histogram().get_bucket().iter().enumerate().take(BUCKETS.len()) {
                            buckets[i] += b.cumulative_count();
                        }
                    }
                    "process_cpu_seconds_total" => s.cpu_seconds = m.get_counter().get_value(),
                    "process_resident_memory_bytes" => s.rss_bytes = m.get_gauge().get_value(),
                    _ => {}
                }
            }
        }
        s.buckets = BUCKETS.iter().copied().zip(buckets).collect();
        s
    }

    pub fn render(&self, out: &mut String) {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!("metrics: {e}");
        }
        out.push_str(&String::from_utf8_lossy(&buf));
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
    fn renders_histograms_and_the_process() {
        let m = super::HttpMetrics::default();
        m.observe("GET", "/healthz", 200, 0.002);
        m.observe("GET", "/healthz", 200, 0.2);
        m.observe("POST", "/api/v1/checkout", 503, 0.01);
        let mut s = String::new();
        m.render(&mut s);
        assert!(s.contains("lsn_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"), "{s}");
        assert!(s.contains("lsn_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"0.0025\"} 1"), "{s}");
        assert!(s.contains("lsn_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\"} 2"), "{s}");
        #[cfg(target_os = "linux")]
        for name in ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_threads"] {
            assert!(s.contains(&format!("\n{name} ")), "{name} in {s}");
        }
        let sample = m.sample();
        assert_eq!((sample.requests, sample.errors), (3, 1));
        assert_eq!(sample.buckets.iter().find(|(le, _)| *le == 0.0025).map(|b| b.1), Some(1));
        assert_eq!(sample.buckets.last().map(|b| b.1), Some(3));
        let (total, errors, mean_ms) = m.summary();
        assert_eq!((total, errors), (3, 1));
        assert!((mean_ms - 70.666).abs() < 0.01, "{mean_ms}");
    }
}
