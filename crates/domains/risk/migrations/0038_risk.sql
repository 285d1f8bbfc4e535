-- The risk domain: a fraud check per order (its score, the reasons that made it, the features it
-- was scored on and the decision), what each check saw (the keys velocity is counted by), payment
-- attempts seen, allow and block lists with their audit, labelled outcomes, and model versions.
CREATE TABLE fraud_checks (
    order_id TEXT PRIMARY KEY,
    number TEXT NOT NULL,
    customer_key TEXT NOT NULL,
    email TEXT NOT NULL,
    email_domain TEXT NOT NULL,
    device TEXT,
    network TEXT,
    address TEXT NOT NULL,
    country TEXT NOT NULL,
    total BIGINT NOT NULL,
    score BIGINT NOT NULL,
    model_version BIGINT NOT NULL,
    reasons TEXT NOT NULL,
    features TEXT NOT NULL,
    -- approved, review (held), escalated (held, a person must look), declined
    status TEXT NOT NULL,
    decision_id TEXT,
    decided_by TEXT,
    note TEXT,
    label TEXT,
    checks BIGINT NOT NULL DEFAULT 1,
    at BIGINT NOT NULL,
    rescored_at BIGINT NOT NULL,
    decided_at BIGINT,
    CONSTRAINT fraud_checks_status_check CHECK (status IN ('approved', 'review', 'escalated', 'declined')),
    CONSTRAINT fraud_checks_score_check CHECK (score >= 0 AND score <= 100)
);
CREATE INDEX fraud_checks_customer_idx ON fraud_checks (customer_key, at);
CREATE INDEX fraud_checks_email_idx ON fraud_checks (email, at);
CREATE INDEX fraud_checks_device_idx ON fraud_checks (device, at);
CREATE INDEX fraud_checks_network_idx ON fraud_checks (network, at);
CREATE INDEX fraud_checks_address_idx ON fraud_checks (address, at);
CREATE INDEX fraud_checks_status_idx ON fraud_checks (status, at);
CREATE INDEX fraud_checks_at_idx ON fraud_checks (at);

-- Payment attempts as the payment events told them: a decline or a success, with the card's
-- fingerprint when known (card testing is many declines, or many cards, from one buyer).
CREATE TABLE risk_payment_attempts (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    customer_key TEXT NOT NULL,
    device TEXT,
    card TEXT,
    outcome TEXT NOT NULL,
    at BIGINT NOT NULL,
    CONSTRAINT risk_payment_attempts_outcome_check CHECK (outcome IN ('declined', 'succeeded'))
);
CREATE UNIQUE INDEX risk_payment_attempts_key ON risk_payment_attempts (order_id, outcome, at);
CREATE INDEX risk_payment_attempts_customer_idx ON risk_payment_attempts (customer_key, at);
CREATE INDEX risk_payment_attempts_device_idx ON risk_payment_attempts (device, at);

-- Allow and block lists: e-mail, domain, IP or CIDR, device, card fingerprint, address.
CREATE TABLE risk_lists (
    id TEXT PRIMARY KEY,
    list TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    reason TEXT NOT NULL,
    expires_at BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT risk_lists_list_check CHECK (list IN ('block', 'allow')),
    CONSTRAINT risk_lists_kind_check CHECK (kind IN ('email', 'domain', 'ip', 'device', 'card', 'address'))
);
CREATE UNIQUE INDEX risk_lists_key ON risk_lists (list, kind, value);
CREATE TABLE risk_list_audit (
    id TEXT PRIMARY KEY,
    entry_id TEXT NOT NULL,
    action TEXT NOT NULL,
    list TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX risk_list_audit_at_idx ON risk_list_audit (at);

-- Outcomes that teach the model: a review's decision, a dispute, a chargeback.
CREATE TABLE risk_labels (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    label TEXT NOT NULL,
    source TEXT NOT NULL,
    note TEXT NOT NULL,
    at BIGINT NOT NULL,
    CONSTRAINT risk_labels_label_check CHECK (label IN ('fraud', 'legit'))
);
CREATE UNIQUE INDEX risk_labels_key ON risk_labels (order_id, source);

-- Model versions: the weights as JSON; one active at a time (none: the built-in baseline).
CREATE TABLE risk_models (
    version BIGINT PRIMARY KEY,
    weights TEXT NOT NULL,
    trained_on BIGINT NOT NULL,
    metrics TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE risk_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
