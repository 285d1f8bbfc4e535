-- Identity's public read model of an account: its id and display name, nothing private (no
-- e-mail, no role, no password). Other domains read this view, never users.
CREATE VIEW user_names AS
SELECT id, name
FROM users;
