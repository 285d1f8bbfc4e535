-- Monitoring and alerts (issue 15, items 5 and 6).
--
-- The runbook's nine thresholds as data: one row per metric, with its warning and critical
-- levels (NULL: that level is not watched) and the window the metric is measured over. The last
-- reading of each is kept on its row for the admin.
CREATE TABLE alert_thresholds (
    metric TEXT PRIMARY KEY,
    warning DOUBLE PRECISION,
    critical DOUBLE PRECISION,
    unit TEXT NOT NULL,
    window_secs BIGINT NOT NULL,
    last_value DOUBLE PRECISION,
    last_level TEXT,
    last_measured_at BIGINT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);
INSERT INTO alert_thresholds (metric, warning, critical, unit, window_secs, updated_at) VALUES
    ('error_rate', 5, 10, 'percent', 300, 0),
    ('response_time_p95', 2000, 5000, 'ms', 300, 0),
    ('database_connections', 80, NULL, 'percent', 120, 0),
    ('memory_usage', 85, NULL, 'percent', 120, 0),
    ('cpu_usage', NULL, 90, 'percent', 120, 0),
    ('failed_payments', NULL, 3, 'count', 600, 0),
    ('fraud_detections', 10, NULL, 'count', 3600, 0);

-- What each LSN node measured of itself in one minute: its requests, server errors and latency
-- histogram (bucket counts as JSON, the buckets of `lsn_http_request_duration_seconds`), and its
-- CPU, memory and database-pool use at the end of the minute. The monitor adds up every node's.
CREATE TABLE node_metrics (
    node TEXT NOT NULL,
    minute BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    buckets TEXT NOT NULL,
    cpu_pct DOUBLE PRECISION,
    memory_pct DOUBLE PRECISION,
    db_pct DOUBLE PRECISION,
    sampled_at BIGINT NOT NULL,
    PRIMARY KEY (node, minute)
);
CREATE INDEX node_metrics_minute_idx ON node_metrics (minute);

-- One row per alert group (`group_key`, unique: every node raising the same alert lands on this
-- row, so the claim of a notification is one conditional update, not a node's memory).
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    alert_type TEXT NOT NULL,
    group_key TEXT NOT NULL,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    -- The incident a critical alert of this type opens (P0–P3).
    incident_priority TEXT NOT NULL,
    occurrences BIGINT NOT NULL DEFAULT 1,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    notified_at BIGINT,
    notifications BIGINT NOT NULL DEFAULT 0,
    acknowledged_at BIGINT,
    acknowledged_by TEXT,
    escalated_at BIGINT,
    resolved_at BIGINT,
    incident_id TEXT
);
CREATE UNIQUE INDEX alerts_group_key ON alerts (group_key);
CREATE INDEX alerts_status_idx ON alerts (status, last_at);

-- Each notification of an alert on each channel, and what became of it.
CREATE TABLE alert_deliveries (
    id TEXT PRIMARY KEY,
    alert_id TEXT,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    escalation BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX alert_deliveries_alert_idx ON alert_deliveries (alert_id);
CREATE INDEX alert_deliveries_created_idx ON alert_deliveries (created_at);

-- Silences: alerts of a type (or of one group) are recorded but not notified until `until`.
CREATE TABLE alert_silences (
    id TEXT PRIMARY KEY,
    alert_type TEXT NOT NULL,
    group_key TEXT,
    until_at BIGINT NOT NULL,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX alert_silences_until_idx ON alert_silences (until_at);

-- What a provider without credentials would have sent (Slack, Twilio): the sandbox's record.
CREATE TABLE notify_sandbox (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    target TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX notify_sandbox_created_idx ON notify_sandbox (created_at);
