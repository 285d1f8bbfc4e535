-- Coin lots (issue: refunded and charged-back coin packs). Every credited coin-pack order is a
-- lot; a gift spends its sender's lots oldest first and `gift_funding` records which orders'
-- coins paid for which gift, so a refund or a lost dispute of a pack can take back its unspent
-- coins and claw back the gift earnings its spent coins funded.

-- One row per credited coin-pack order. `remaining` is in the wallet and spendable; `frozen` was
-- taken out of the wallet while a dispute of the order is open; `refunded` is how many of the
-- lot's coins the order's refunds have taken back so far (unspent coins and clawed-back gifts
-- together), `lost` how many frozen coins a lost dispute took. `order_id` is NULL only for
-- coins credited before lots existed that no purchase explains (never refunded: no order).
-- Invariant: a wallet's balance is the sum of its lots' `remaining`.
CREATE TABLE coin_lots (
    id TEXT PRIMARY KEY,
    order_id TEXT,
    user_id TEXT NOT NULL,
    coins BIGINT NOT NULL,
    remaining BIGINT NOT NULL,
    frozen BIGINT NOT NULL DEFAULT 0,
    refunded BIGINT NOT NULL DEFAULT 0,
    lost BIGINT NOT NULL DEFAULT 0,
    at BIGINT NOT NULL,
    CONSTRAINT coin_lots_amounts_check CHECK (remaining >= 0 AND frozen >= 0 AND refunded >= 0 AND lost >= 0 AND remaining + frozen <= coins)
);
CREATE UNIQUE INDEX coin_lots_order_key ON coin_lots (order_id);
CREATE INDEX coin_lots_user_idx ON coin_lots (user_id, at);

-- Which order's coins paid for which gift. `clawed_back` of its `coins` were taken back (a
-- refund, a lost dispute); `held` is 1 while a dispute of the order is open.
CREATE TABLE gift_funding (
    gift_id TEXT NOT NULL REFERENCES gift_ledger (id),
    order_id TEXT NOT NULL,
    coins BIGINT NOT NULL,
    clawed_back BIGINT NOT NULL DEFAULT 0,
    held BIGINT NOT NULL DEFAULT 0,
    at BIGINT NOT NULL,
    PRIMARY KEY (gift_id, order_id),
    CONSTRAINT gift_funding_coins_check CHECK (coins > 0 AND clawed_back >= 0 AND clawed_back <= coins)
);
CREATE INDEX gift_funding_order_idx ON gift_funding (order_id, at);

-- The disputes of a lot's order already applied to it: `open` (coins frozen, gifts held), then
-- `won` or `lost`. A dispute is applied once, however often its events arrive.
CREATE TABLE coin_lot_disputes (
    order_id TEXT NOT NULL,
    dispute_id TEXT NOT NULL,
    status TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (order_id, dispute_id)
);

-- Lots for the coins bought before this step: one per purchase, oldest spent first, so what is
-- left of a buyer's purchases is the wallet's balance (its newest purchases keep their coins).
INSERT INTO coin_lots (id, order_id, user_id, coins, remaining, at)
SELECT p.id, p.ref, p.user_id, p.delta,
       CAST(CASE WHEN p.cum - s.spent <= 0 THEN 0 WHEN p.cum - s.spent >= p.delta THEN p.delta ELSE p.cum - s.spent END AS BIGINT),
       p.at
FROM (SELECT id, ref, user_id, delta, at, SUM(delta) OVER (PARTITION BY user_id ORDER BY at, id) AS cum
      FROM coin_ledger WHERE reason = 'purchase') p
JOIN (SELECT l.user_id, SUM(l.delta) - COALESCE(MAX(w.balance), 0) AS spent
      FROM coin_ledger l LEFT JOIN coin_wallets w ON w.user_id = l.user_id
      WHERE l.reason = 'purchase' GROUP BY l.user_id) s ON s.user_id = p.user_id;

-- A balance no purchase explains: one unattributed lot, spent first.
INSERT INTO coin_lots (id, order_id, user_id, coins, remaining, at)
SELECT 'unattributed:' || w.user_id, NULL, w.user_id,
       w.balance - CAST(COALESCE((SELECT SUM(c.remaining) FROM coin_lots c WHERE c.user_id = w.user_id), 0) AS BIGINT),
       w.balance - CAST(COALESCE((SELECT SUM(c.remaining) FROM coin_lots c WHERE c.user_id = w.user_id), 0) AS BIGINT),
       0
FROM coin_wallets w
WHERE w.balance > CAST(COALESCE((SELECT SUM(c.remaining) FROM coin_lots c WHERE c.user_id = w.user_id), 0) AS BIGINT);
