-- Analytics aggregation (issue 15): each domain's figures in 15-minute buckets, written by the
-- `analytics_aggregation` task with an upsert (so a second run, or a second node, writes the same
-- numbers) and read by the dashboard and `GET /api/v1/admin/analytics`.
CREATE TABLE analytics_buckets (
    bucket_start BIGINT NOT NULL,
    metric TEXT NOT NULL,
    value BIGINT NOT NULL,
    computed_at BIGINT NOT NULL,
    PRIMARY KEY (bucket_start, metric)
);
CREATE INDEX analytics_buckets_by_metric ON analytics_buckets (metric, bucket_start);
