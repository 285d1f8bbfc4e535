-- Live auctions: proxy bids, soft close or sudden death, a reserve price; the winner pays
-- through an offer reserved for them.

CREATE TABLE auctions (
    id TEXT PRIMARY KEY,
    show_id TEXT NOT NULL REFERENCES live_shows (id) ON DELETE CASCADE,
    variant_id TEXT NOT NULL REFERENCES variants (id),
    starting_price BIGINT NOT NULL,
    increment BIGINT NOT NULL,
    reserve_price BIGINT,
    soft_close_secs BIGINT NOT NULL,
    sudden_death BIGINT NOT NULL DEFAULT 0,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    price BIGINT NOT NULL,
    leader_id TEXT,
    leader_max BIGINT NOT NULL DEFAULT 0,
    bids BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 0,
    winner_id TEXT,
    winning_amount BIGINT,
    offer_id TEXT,
    created_at BIGINT NOT NULL,
    CONSTRAINT auctions_status_check CHECK (status IN ('open', 'closed'))
);
CREATE INDEX auctions_due_idx ON auctions (status, ends_at);

CREATE TABLE auction_bids (
    id TEXT PRIMARY KEY,
    auction_id TEXT NOT NULL REFERENCES auctions (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    max_amount BIGINT NOT NULL,
    price_after BIGINT NOT NULL,
    leader_after TEXT NOT NULL,
    placed_at BIGINT NOT NULL
);
CREATE INDEX auction_bids_auction_idx ON auction_bids (auction_id, max_amount);

ALTER TABLE offers ADD COLUMN reserved_for TEXT;
