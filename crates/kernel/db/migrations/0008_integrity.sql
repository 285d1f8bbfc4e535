-- Jobs queued for the two live handlers merged into `live.payment_succeeded` before the merge:
-- the coins credit moves to the merged job (it credits once per order and then announces the
-- purchase); a purchase announcement that old is stale, so it is dropped.
UPDATE jobs SET kind = 'live.payment_succeeded' WHERE kind = 'live.credit_coins' AND status IN ('queued', 'running');
UPDATE jobs SET status = 'succeeded', last_error = 'dropped: merged into live.payment_succeeded' WHERE kind = 'live.purchase_ticker' AND status IN ('queued', 'running');
