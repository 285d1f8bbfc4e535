-- When the abandoned-cart reminder went to the cart's owner (NULL: never), so a cart gets one
-- reminder per time it is left, not one per run of the task.
ALTER TABLE carts ADD COLUMN recovery_sent_at BIGINT;
