-- Identity's public read model of how to reach an active account: its e-mail, name and chosen
-- language, for the domains that mail a customer on the shop's behalf (a cart left behind).
-- No role, no password, no token; only active accounts.
CREATE VIEW user_contacts AS
SELECT id, email, name, locale
FROM users
WHERE status = 'active' AND email IS NOT NULL;
