-- A payment being confirmed holds this lease (Unix ms): while it runs, the order cannot be
-- cancelled or expired, and a second confirmation waits. What the provider's event said was
-- received, to tell a full payment from one that does not match the order.
ALTER TABLE payments ADD COLUMN confirming_until BIGINT;
ALTER TABLE payments ADD COLUMN amount_received BIGINT;
