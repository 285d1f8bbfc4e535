-- The creator economy: creators and their tiers, links and clicks, attributions, the
-- commission ledger, payouts and the bank accounts they go to.

CREATE TABLE creator_tiers (
    tier TEXT PRIMARY KEY,
    rank BIGINT NOT NULL,
    rate_bps BIGINT NOT NULL,
    min_sales_90d BIGINT NOT NULL,
    CONSTRAINT creator_tiers_rate_check CHECK (rate_bps >= 0 AND rate_bps <= 8000)
);
INSERT INTO creator_tiers (tier, rank, rate_bps, min_sales_90d) VALUES
    ('bronze', 0, 500, 0), ('silver', 1, 800, 100000), ('gold', 2, 1000, 500000), ('platinum', 3, 1200, 2000000);

CREATE TABLE creators (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    handle TEXT NOT NULL,
    display_name TEXT NOT NULL,
    bio TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    tier TEXT NOT NULL DEFAULT 'bronze' REFERENCES creator_tiers (tier),
    rate_bps BIGINT,
    payout_currency TEXT NOT NULL DEFAULT 'AUD',
    abn TEXT,
    gst_registered BIGINT NOT NULL DEFAULT 0,
    application TEXT NOT NULL DEFAULT '',
    decision_note TEXT NOT NULL DEFAULT '',
    applied_at BIGINT NOT NULL,
    decided_at BIGINT,
    decided_by TEXT,
    updated_at BIGINT NOT NULL,
    CONSTRAINT creators_status_check CHECK (status IN ('applied', 'approved', 'rejected', 'suspended')),
    CONSTRAINT creators_rate_check CHECK (rate_bps IS NULL OR (rate_bps >= 0 AND rate_bps <= 8000))
);
CREATE UNIQUE INDEX creators_user_key ON creators (user_id);
CREATE UNIQUE INDEX creators_handle_key ON creators (handle);
CREATE INDEX creators_status_idx ON creators (status, tier);

-- A commission rate for a product or a category: for every creator (creator_id '') or one.
CREATE TABLE creator_rate_overrides (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    target_id TEXT NOT NULL,
    creator_id TEXT NOT NULL DEFAULT '',
    rate_bps BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT creator_rate_overrides_scope_check CHECK (scope IN ('product', 'category')),
    CONSTRAINT creator_rate_overrides_rate_check CHECK (rate_bps >= 0 AND rate_bps <= 8000)
);
CREATE UNIQUE INDEX creator_rate_overrides_key ON creator_rate_overrides (scope, target_id, creator_id);

-- Collaborations: open (any approved creator may join) or targeted (invited creators only),
-- with their own rate for a product or category.
CREATE TABLE creator_collaborations (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    scope TEXT NOT NULL,
    target_id TEXT NOT NULL,
    rate_bps BIGINT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT,
    created_at BIGINT NOT NULL,
    CONSTRAINT creator_collaborations_kind_check CHECK (kind IN ('open', 'targeted')),
    CONSTRAINT creator_collaborations_scope_check CHECK (scope IN ('product', 'category')),
    CONSTRAINT creator_collaborations_rate_check CHECK (rate_bps >= 0 AND rate_bps <= 8000)
);
CREATE TABLE creator_collaboration_members (
    collaboration_id TEXT NOT NULL REFERENCES creator_collaborations (id),
    creator_id TEXT NOT NULL REFERENCES creators (id),
    status TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (collaboration_id, creator_id),
    CONSTRAINT creator_collaboration_members_status_check CHECK (status IN ('invited', 'joined', 'declined'))
);

CREATE TABLE creator_links (
    id TEXT PRIMARY KEY,
    creator_id TEXT NOT NULL REFERENCES creators (id),
    code TEXT NOT NULL,
    target TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX creator_links_code_key ON creator_links (code);
CREATE INDEX creator_links_creator_idx ON creator_links (creator_id);

-- A discount code (commerce's) a creator shares: an order using it is attributed to them.
CREATE TABLE creator_codes (
    discount_code_id TEXT PRIMARY KEY,
    creator_id TEXT NOT NULL REFERENCES creators (id),
    code TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Every click on a link, recorded on the server; `refused` says why a click counts for nothing.
CREATE TABLE creator_clicks (
    id TEXT PRIMARY KEY,
    link_id TEXT NOT NULL REFERENCES creator_links (id),
    creator_id TEXT NOT NULL,
    visitor_id TEXT NOT NULL,
    user_id TEXT,
    network TEXT NOT NULL,
    device TEXT NOT NULL,
    refused TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX creator_clicks_visitor_idx ON creator_clicks (visitor_id, at);
CREATE INDEX creator_clicks_user_idx ON creator_clicks (user_id, at);
CREATE INDEX creator_clicks_creator_idx ON creator_clicks (creator_id, at);

-- An order's attribution, or the refusal of one, with why.
CREATE TABLE creator_attributions (
    order_id TEXT PRIMARY KEY,
    creator_id TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    model TEXT NOT NULL,
    click_id TEXT,
    customer_key TEXT NOT NULL,
    visitor_id TEXT,
    network TEXT,
    first_order BIGINT NOT NULL,
    detail TEXT NOT NULL,
    base BIGINT NOT NULL,
    commission BIGINT NOT NULL,
    at BIGINT NOT NULL,
    CONSTRAINT creator_attributions_status_check CHECK (status IN ('attributed', 'refused'))
);
CREATE INDEX creator_attributions_creator_idx ON creator_attributions (creator_id, at);

-- What looked like abuse (self-referral, cookie stuffing, repeated sign-ups), for a person.
CREATE TABLE creator_flags (
    id TEXT PRIMARY KEY,
    creator_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE UNIQUE INDEX creator_flags_key ON creator_flags (creator_id, kind, subject);

-- The commission ledger: append-only, one row per movement; a creator's balance is its sum.
-- `status` pending (in the holding period) or approved (payable); a payout is a negative
-- approved entry, its return a positive one.
CREATE TABLE creator_ledger (
    id TEXT PRIMARY KEY,
    creator_id TEXT NOT NULL REFERENCES creators (id),
    kind TEXT NOT NULL,
    source_kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    ref TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    available_at BIGINT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    CONSTRAINT creator_ledger_kind_check CHECK (kind IN ('commission', 'gift', 'reversal', 'clawback', 'hold', 'release', 'payout', 'payout_return', 'adjustment')),
    CONSTRAINT creator_ledger_status_check CHECK (status IN ('pending', 'approved'))
);
CREATE UNIQUE INDEX creator_ledger_key ON creator_ledger (creator_id, kind, source_id, ref);
CREATE INDEX creator_ledger_creator_idx ON creator_ledger (creator_id, status, created_at);
CREATE INDEX creator_ledger_due_idx ON creator_ledger (status, available_at);
CREATE INDEX creator_ledger_source_idx ON creator_ledger (source_id);

-- A source (an order, a gift) whose earnings are held while a dispute is open.
CREATE TABLE creator_holds (
    source_id TEXT NOT NULL,
    creator_id TEXT NOT NULL,
    status TEXT NOT NULL,
    amount BIGINT NOT NULL,
    ref TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (source_id, creator_id),
    CONSTRAINT creator_holds_status_check CHECK (status IN ('holding', 'released', 'lost'))
);

CREATE TABLE creator_bank_accounts (
    creator_id TEXT PRIMARY KEY REFERENCES creators (id),
    holder_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    details TEXT NOT NULL,
    masked TEXT NOT NULL,
    currency TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE creator_payouts (
    id TEXT PRIMARY KEY,
    creator_id TEXT NOT NULL REFERENCES creators (id),
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    target_currency TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    decision_id TEXT,
    provider TEXT NOT NULL DEFAULT '',
    provider_ref TEXT,
    requested_by TEXT NOT NULL,
    failure TEXT,
    created_at BIGINT NOT NULL,
    decided_at BIGINT,
    decided_by TEXT,
    submitted_at BIGINT,
    finished_at BIGINT,
    updated_at BIGINT NOT NULL,
    CONSTRAINT creator_payouts_status_check CHECK (status IN ('awaiting_approval', 'approved', 'submitted', 'paid', 'failed', 'returned', 'rejected')),
    CONSTRAINT creator_payouts_amount_check CHECK (amount > 0)
);
CREATE INDEX creator_payouts_creator_idx ON creator_payouts (creator_id, created_at);
CREATE INDEX creator_payouts_status_idx ON creator_payouts (status, created_at);
CREATE UNIQUE INDEX creator_payouts_ref_key ON creator_payouts (provider, provider_ref);

-- Webhook deliveries already applied (a repeated delivery changes nothing).
CREATE TABLE creator_payout_events (
    key TEXT PRIMARY KEY,
    payout_id TEXT NOT NULL,
    state TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    at BIGINT NOT NULL
);

CREATE TABLE creator_tier_proposals (
    id TEXT PRIMARY KEY,
    creator_id TEXT NOT NULL REFERENCES creators (id),
    period TEXT NOT NULL,
    from_tier TEXT NOT NULL,
    to_tier TEXT NOT NULL,
    sales_90d BIGINT NOT NULL,
    status TEXT NOT NULL,
    proposed_at BIGINT NOT NULL,
    decided_at BIGINT,
    decided_by TEXT,
    CONSTRAINT creator_tier_proposals_status_check CHECK (status IN ('proposed', 'confirmed', 'dismissed'))
);
CREATE UNIQUE INDEX creator_tier_proposals_key ON creator_tier_proposals (creator_id, period);

CREATE TABLE creator_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
