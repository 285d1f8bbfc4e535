-- The variants' read model gains the product's category (commission rates per category).
DROP VIEW catalog_variants;
CREATE VIEW catalog_variants AS
SELECT v.id, v.product_id, v.sku, v.title, v.price, v.compare_at_price, v.currency, v.status, v.position,
       p.title AS product_title, p.slug AS product_slug, p.status AS product_status,
       p.max_per_order, p.max_per_customer, p.category_id
FROM variants v JOIN products p ON p.id = v.product_id;
