-- `payment.succeeded` became `order.paid` (published once the order is paid in full); events
-- written before and not yet dispatched go to the new topic's subscribers.
UPDATE outbox SET topic = 'order.paid' WHERE topic = 'payment.succeeded' AND dispatched_at IS NULL;
