-- Durable workflows (issue 15, item 2): a run of a named, versioned definition and one row per
-- step. A step row is also the unit of work the engine claims: `queued` (due at `run_at`),
-- `waiting` (for a signal, until `run_at` when it times out), `running` (claimed by
-- `locked_by` until `locked_until`), then `done`, `failed`, `cancelled`, `compensated` or
-- `compensation_failed`. `phase` is `do` while the step runs forward and `undo` while its
-- compensation runs. `deps_left` counts the dependencies not yet done; `seq` orders the done
-- steps so compensation runs in reverse.
CREATE TABLE workflow_definitions (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    plan TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE workflow_runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    run_key TEXT UNIQUE,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    steps_left BIGINT NOT NULL,
    done_count BIGINT NOT NULL DEFAULT 0,
    failed_step TEXT,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX workflow_runs_by_status ON workflow_runs (status, updated_at);
CREATE INDEX workflow_runs_by_name ON workflow_runs (name, created_at);

CREATE TABLE workflow_steps (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES workflow_runs (id),
    step TEXT NOT NULL,
    kind TEXT NOT NULL,
    has_undo BIGINT NOT NULL,
    phase TEXT NOT NULL DEFAULT 'do',
    status TEXT NOT NULL,
    deps_left BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    run_at BIGINT NOT NULL,
    wait_ms BIGINT NOT NULL DEFAULT 0,
    locked_by TEXT,
    locked_until BIGINT,
    signal TEXT,
    output TEXT,
    error TEXT,
    seq BIGINT,
    started_at BIGINT,
    finished_at BIGINT,
    UNIQUE (run_id, step)
);
CREATE INDEX workflow_steps_due ON workflow_steps (run_at) WHERE status IN ('queued', 'waiting');
CREATE INDEX workflow_steps_locked ON workflow_steps (locked_until) WHERE status = 'running';

-- What happened to a run beyond the steps' own rows: retries, failures, timeouts, signals,
-- compensation and a person's actions (the run's timeline on the admin page).
CREATE TABLE workflow_events (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES workflow_runs (id),
    step TEXT,
    at BIGINT NOT NULL,
    event TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX workflow_events_by_run ON workflow_events (run_id, at);
CREATE INDEX workflow_events_by_time ON workflow_events (at);
