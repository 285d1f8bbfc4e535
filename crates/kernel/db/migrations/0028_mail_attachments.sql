-- The development mailbox keeps a message's attachments (files and inline images) as the JSON
-- the mail job carries: filename, content type, Base64 content, content id.
ALTER TABLE mailbox ADD COLUMN attachments TEXT;
