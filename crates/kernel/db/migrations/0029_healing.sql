-- Self-healing (issue 15, item 4).
--
-- Every healing event: what healed itself (or tried to), for the autonomy dashboard and
-- `GET /api/v1/admin/healing`. `component` is what was watched (`database`, `stripe`,
-- `sendgrid`, `slack`, `jobs`, `workflows`, `cleanup`, …), `action` what LSN did about it
-- (`breaker_opened`, `breaker_half_open`, `breaker_closed`, `fallback`, `reconnected`,
-- `resumed`, `cleaned`), `outcome` how it ended (`healed`, `degraded`, `failed`, `done`).
CREATE TABLE healing_events (
    id TEXT PRIMARY KEY,
    component TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    node_id TEXT NOT NULL DEFAULT '',
    at BIGINT NOT NULL
);
CREATE INDEX healing_events_at ON healing_events (at);

-- Each node's circuit breakers as they stand: one row per breaker and node, written at every
-- change of state (closed, open, half_open), so every node's breakers are visible to the
-- dashboard, the API and `lsn doctor`, and a node can see that another has opened its breaker.
CREATE TABLE circuit_breakers (
    name TEXT NOT NULL,
    node_id TEXT NOT NULL,
    state TEXT NOT NULL,
    failures BIGINT NOT NULL,
    opened_at BIGINT,
    last_error TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (name, node_id)
);
