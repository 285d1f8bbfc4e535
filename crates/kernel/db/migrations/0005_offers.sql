-- Limited offers (a live show's flash deals): a price for one variant, a quantity that is never
-- exceeded, a window in time and a per-customer limit. Orders remember the offer and the show.

CREATE TABLE offers (
    id TEXT PRIMARY KEY,
    variant_id TEXT NOT NULL REFERENCES variants (id),
    show_id TEXT,
    price BIGINT NOT NULL,
    quantity BIGINT NOT NULL,
    sold BIGINT NOT NULL DEFAULT 0,
    per_customer_limit BIGINT,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    cancelled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    CONSTRAINT offers_quantity_check CHECK (quantity > 0 AND sold >= 0 AND sold <= quantity),
    CONSTRAINT offers_price_check CHECK (price >= 0)
);
CREATE INDEX offers_show_idx ON offers (show_id, starts_at);

CREATE TABLE offer_claims (
    offer_id TEXT NOT NULL REFERENCES offers (id),
    customer_key TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    PRIMARY KEY (offer_id, customer_key)
);

ALTER TABLE orders ADD COLUMN offer_id TEXT;
