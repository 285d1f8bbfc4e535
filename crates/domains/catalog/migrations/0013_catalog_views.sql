-- The catalog's public read models: other domains read these views, never products or variants.
-- Writes go through lsn_catalog::Catalog.
CREATE VIEW catalog_products AS
SELECT id, slug, title, status, min_price, max_per_order, max_per_customer
FROM products;

CREATE VIEW catalog_variants AS
SELECT v.id, v.product_id, v.sku, v.title, v.price, v.compare_at_price, v.currency, v.status, v.position,
       p.title AS product_title, p.slug AS product_slug, p.status AS product_status,
       p.max_per_order, p.max_per_customer
FROM variants v JOIN products p ON p.id = v.product_id;
