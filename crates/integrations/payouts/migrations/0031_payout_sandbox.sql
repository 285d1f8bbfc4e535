-- The payout providers' own tables (lsn-payouts). Portable SQL: SQLite and PostgreSQL.

-- The sandbox provider's transfers: what Wise would hold. One row per payout id
-- (customer_transaction_id, Wise's idempotency key): a retried job, a re-run after a SIGKILL or
-- two workers paying the same batch all land on the same row, so nothing is paid twice.
CREATE TABLE payout_sandbox_transfers (
    id BIGINT PRIMARY KEY,
    customer_transaction_id TEXT NOT NULL,
    profile_id BIGINT NOT NULL,
    account_id BIGINT NOT NULL,
    holder_name TEXT NOT NULL,
    account_masked TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    reference TEXT NOT NULL,
    -- Wise's status names (incoming_payment_waiting, processing, funds_converted,
    -- outgoing_payment_sent, bounced_back, funds_refunded).
    status TEXT NOT NULL,
    -- 1 when the failure rule says this transfer bounces after it was sent.
    bounces INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- When the simulated state machine takes its next step (NULL: final).
    next_at BIGINT,
    CONSTRAINT payout_sandbox_transfers_ctid UNIQUE (customer_transaction_id)
);
CREATE INDEX payout_sandbox_transfers_due ON payout_sandbox_transfers (next_at);
CREATE INDEX payout_sandbox_transfers_reference ON payout_sandbox_transfers (reference);

-- Batch groups the Wise client opened and has not yet seen funded: a run killed between
-- creating a group and funding it leaves its transfers waiting, and the next run finishes the
-- group (completes and funds it) instead of leaving them unpaid. Transfers themselves need no
-- row here: Wise answers a repeated customerTransactionId with the transfer it already has.
CREATE TABLE payout_wise_batch_groups (
    id TEXT PRIMARY KEY,
    profile_id BIGINT NOT NULL,
    -- open (created, maybe completed, not funded) | funded | cancelled
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX payout_wise_batch_groups_status ON payout_wise_batch_groups (status, created_at);
