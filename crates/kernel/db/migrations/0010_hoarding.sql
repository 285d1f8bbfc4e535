-- Limits per customer are taken under every identity of the buyer (normalised e-mail, account,
-- browser): `limit_keys`. Unpaid checkouts are counted per buyer, network and address
-- (`unpaid_keys`, `unpaid_checkouts`) and given back when the order is paid or cancelled. A cart
-- has at most one unpaid order: a checkout of the same cart again finds it by `checkout_hash`.
ALTER TABLE orders ADD COLUMN limit_keys TEXT;
ALTER TABLE orders ADD COLUMN unpaid_keys TEXT;
ALTER TABLE orders ADD COLUMN checkout_hash TEXT;
CREATE INDEX orders_cart_status_idx ON orders (cart_id, status);
CREATE TABLE unpaid_checkouts (
    key TEXT PRIMARY KEY,
    count BIGINT NOT NULL
);
