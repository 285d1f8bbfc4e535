-- The browser a checkout came from (its visitor cookie) and the network, kept with the order
-- so a referral can be tied to the order's visitor and abuse from one network seen.
ALTER TABLE orders ADD COLUMN visitor_id TEXT;
ALTER TABLE orders ADD COLUMN network TEXT;
