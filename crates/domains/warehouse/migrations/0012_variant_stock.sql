-- The warehouse's public read model of stock: other domains read this view, never stock_levels.
-- Writes go through lsn_warehouse::stock (reserve, release, receive, restock).
CREATE VIEW variant_stock AS
SELECT variant_id, on_hand, reserved, on_hand - reserved AS available
FROM stock_levels;
