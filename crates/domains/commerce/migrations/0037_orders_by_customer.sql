-- A customer's earlier orders (whether an order is their first: creators' attribution asks it of
-- every paid order, risk will too) were a scan of every order.
CREATE INDEX orders_customer_idx ON orders (customer_key, placed_at);
