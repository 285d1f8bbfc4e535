-- Virtual gifts: coin packs sold through the normal order flow, coin wallets, and the gift
-- ledger that creator payouts read.

CREATE TABLE coin_packs (
    variant_id TEXT PRIMARY KEY REFERENCES variants (id),
    coins BIGINT NOT NULL,
    CONSTRAINT coin_packs_coins_check CHECK (coins > 0)
);

CREATE TABLE coin_wallets (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    balance BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT coin_wallets_balance_check CHECK (balance >= 0)
);

-- Every change of a wallet, with what caused it; (reason, ref) is unique so a purchase credits once.
CREATE TABLE coin_ledger (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    delta BIGINT NOT NULL,
    reason TEXT NOT NULL,
    ref TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE UNIQUE INDEX coin_ledger_ref_key ON coin_ledger (reason, ref, user_id);

CREATE TABLE gift_ledger (
    id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL REFERENCES live_shows (id),
    from_user_id TEXT NOT NULL,
    to_user_id TEXT NOT NULL,
    gift TEXT NOT NULL,
    coins BIGINT NOT NULL,
    value_cents BIGINT NOT NULL,
    paid_out BIGINT NOT NULL DEFAULT 0,
    at BIGINT NOT NULL
);
CREATE INDEX gift_ledger_host_idx ON gift_ledger (to_user_id, paid_out);
