-- Incidents and tasks for people (issue 15, item 7).
--
-- An incident: what went wrong, its severity (the runbook's P0–P3), who owns it, when a response
-- is due, how it was resolved and what the post-mortem found.
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    owner_id TEXT,
    alert_id TEXT,
    opened_at BIGINT NOT NULL,
    respond_by BIGINT NOT NULL,
    resolved_at BIGINT,
    resolution TEXT,
    postmortem TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX incidents_status_idx ON incidents (status, opened_at);
-- An alert opens at most one incident at a time: its row names it (set by a conditional update, so
-- two nodes seeing it go critical open one); a resolved incident frees the alert for the next.
CREATE INDEX incidents_alert_idx ON incidents (alert_id);

-- The incident's timeline: opened, assigned, a note, resolved, post-mortem written.
CREATE TABLE incident_events (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX incident_events_incident_idx ON incident_events (incident_id, at);

-- Tasks can be assigned, done and dismissed (they could only be listed): who has one, who
-- closed it.
ALTER TABLE tasks ADD COLUMN assignee_id TEXT;
ALTER TABLE tasks ADD COLUMN closed_by TEXT;
