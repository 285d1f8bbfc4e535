-- Full-text search over products (PostgreSQL: a GIN index on the same text, 'simple' configuration).
CREATE INDEX products_search_idx ON products USING GIN (to_tsvector('simple', search_text));
