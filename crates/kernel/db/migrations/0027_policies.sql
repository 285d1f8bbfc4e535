-- Policies as data (issue 15, item 3).
--
-- A policy is declared in code by the module that asks for its decisions (its facts, its action,
-- its default condition); what a person changes is stored here. Every save is a new version,
-- kept forever; one of them is in force. `latest_version` numbers the versions (a save takes the
-- next with one conditional update of this row, so two saves at once get two numbers).
CREATE TABLE policies (
    name TEXT PRIMARY KEY,
    active_version BIGINT NOT NULL,
    latest_version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);

-- A version: its CEL condition as written, the escalation threshold on the kind's escalation
-- fact, whether every allowed action still needs a person (0/1), and who saved it and why.
CREATE TABLE policy_versions (
    policy TEXT NOT NULL REFERENCES policies (name),
    version BIGINT NOT NULL,
    condition TEXT NOT NULL,
    escalation_threshold DOUBLE PRECISION NOT NULL,
    approval_required BIGINT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (policy, version)
);

-- Every decision: the version that took it, its inputs (the facts, as JSON), its outcome
-- (`allow`, `deny` or `escalate`), whether the condition held and the escalation fact passed
-- its threshold, what it is about, whether a person's trial asked for it (`test`, left out of
-- dry runs) and whether it gave a person a task. Dry runs replay the newest of a policy.
CREATE TABLE policy_decisions (
    id TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    version BIGINT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    matched BIGINT NOT NULL,
    over_threshold BIGINT NOT NULL,
    facts TEXT NOT NULL,
    subject TEXT,
    test BIGINT NOT NULL DEFAULT 0,
    task_opened BIGINT NOT NULL DEFAULT 0,
    decided_at BIGINT NOT NULL
);
CREATE INDEX policy_decisions_policy_idx ON policy_decisions (policy, test, decided_at);
CREATE INDEX policy_decisions_decided_idx ON policy_decisions (decided_at);
