-- The language a person chose for LSN's pages and messages (a BCP 47 tag LSN supports), or
-- NULL to follow the browser.
ALTER TABLE users ADD COLUMN locale TEXT;
