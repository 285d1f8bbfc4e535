-- Full-text search over products (SQLite: an FTS5 index kept in step by triggers).
CREATE VIRTUAL TABLE products_fts USING fts5(search_text, content='products', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2');
INSERT INTO products_fts (rowid, search_text) SELECT rowid, search_text FROM products;
CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
    INSERT INTO products_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;
CREATE TRIGGER products_fts_update AFTER UPDATE OF search_text ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO products_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
