-- Commerce's two `order.paid` subscribers (the confirmation mail and the cart's cleanup) became
-- one job; jobs queued under the old names run as the new one (it does both, and both are
-- idempotent, so an event queued twice does no harm).
UPDATE jobs SET kind = 'commerce.order_paid' WHERE kind IN ('commerce.confirmation_mail', 'commerce.clear_bought_lines') AND status IN ('queued', 'running');
