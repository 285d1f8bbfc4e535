-- Foundation: identity, audit, settings, outbox, jobs, schedules, leases, mail, core data.
-- Portable SQL: TEXT ids from the application, BIGINT integers and Unix-millisecond times,
-- 0/1 BIGINT flags. Runs unchanged on SQLite and PostgreSQL.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT,
    name TEXT NOT NULL,
    password_hash TEXT,
    role TEXT NOT NULL DEFAULT 'customer',
    status TEXT NOT NULL DEFAULT 'active',
    open_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_login_at BIGINT,
    CONSTRAINT users_role_check CHECK (role IN ('customer', 'creator', 'admin', 'owner')),
    CONSTRAINT users_status_check CHECK (status IN ('pending', 'active', 'disabled'))
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_open_id_key ON users (open_id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- One-time tokens sent by email: password resets and address verification.
CREATE TABLE user_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX user_tokens_user_idx ON user_tokens (user_id, purpose);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (key_hash);

-- Failed sign-ins per account key (hashed address, whether or not an account exists).
CREATE TABLE login_failures (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    first_failed_at BIGINT NOT NULL,
    locked_until BIGINT
);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_id TEXT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT NOT NULL DEFAULT '{}',
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_action_idx ON audit_log (action, at);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    aggregate_id TEXT,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    dispatched_at BIGINT
);
CREATE INDEX outbox_pending_idx ON outbox (dispatched_at, created_at);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    priority BIGINT NOT NULL DEFAULT 100,
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    last_error TEXT,
    locked_by TEXT,
    locked_until BIGINT,
    schedule TEXT,
    dedupe_key TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT,
    CONSTRAINT jobs_status_check CHECK (status IN ('queued', 'running', 'succeeded', 'dead', 'cancelled'))
);
CREATE INDEX jobs_claim_idx ON jobs (status, run_at, priority);
CREATE UNIQUE INDEX jobs_dedupe_key ON jobs (dedupe_key);

CREATE TABLE job_runs (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    schedule TEXT,
    attempt BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT,
    worker TEXT NOT NULL
);
CREATE INDEX job_runs_schedule_idx ON job_runs (schedule, started_at);
CREATE INDEX job_runs_kind_idx ON job_runs (kind, started_at);

CREATE TABLE schedules (
    name TEXT PRIMARY KEY,
    cron TEXT NOT NULL,
    job_kind TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    description TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL DEFAULT 1,
    next_run_at BIGINT NOT NULL,
    last_run_at BIGINT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE mailbox (
    id TEXT PRIMARY KEY,
    to_addr TEXT NOT NULL,
    from_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT,
    tag TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX mailbox_to_idx ON mailbox (to_addr, created_at);

CREATE TABLE channels (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX channels_code_key ON channels (code);

CREATE TABLE warehouses (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    city TEXT NOT NULL,
    state TEXT NOT NULL,
    country TEXT NOT NULL,
    timezone TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX warehouses_code_key ON warehouses (code);

CREATE TABLE zones (
    id TEXT PRIMARY KEY,
    warehouse_id TEXT NOT NULL REFERENCES warehouses (id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    purpose TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX zones_code_key ON zones (warehouse_id, code);

CREATE TABLE bins (
    id TEXT PRIMARY KEY,
    zone_id TEXT NOT NULL REFERENCES zones (id),
    code TEXT NOT NULL,
    row_no BIGINT NOT NULL,
    column_no BIGINT NOT NULL,
    level_no BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX bins_code_key ON bins (code);

CREATE TABLE suppliers (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    contact_email TEXT,
    website TEXT,
    lead_time_days BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX suppliers_code_key ON suppliers (code);
