-- The analytics aggregation reads orders and refunds by time (issue 15): index them by it.
CREATE INDEX orders_paid_at_idx ON orders (paid_at);
CREATE INDEX refunds_created_at_idx ON refunds (created_at);
