//! The identity service: every operation on users, sessions, tokens and keys.

use crate::audit::{self, Actor};
use crate::error::IdentityError;
use crate::password;
use lsn_core::i18n::{t, t_args};
use lsn_core::ids::{hash_token, new_id, random_token};
use lsn_core::{Config, Email, SharedClock};
use lsn_db::{is_unique_violation, Db, Row, RowExt, Tx};
use lsn_mail::Message;
use lsn_ops::limit::RateLimit;
use serde::Serialize;
use serde_json::{json, Value};
use std::str::FromStr;
use std::sync::Arc;

pub const SESSION_COOKIE: &str = "lsn_session";
/// A browser's proof of having signed in to an account before (see `Identity::device_token`).
pub const DEVICE_COOKIE: &str = "lsn_device";
pub const SESSION_TTL_MS: i64 = 30 * 24 * 3600 * 1000;
pub const RESET_TTL_MS: i64 = 60 * 60 * 1000;
pub const VERIFY_TTL_MS: i64 = 48 * 60 * 60 * 1000;
/// Wrong passwords for one address from one network before that network waits.
pub const SOURCE_MAX_FAILURES: i64 = 5;
/// Wrong passwords for one address from anywhere before browsers that never signed in to it wait.
pub const ACCOUNT_MAX_FAILURES: i64 = 50;
/// How long a throttled sign-in waits, and the window failures are counted in.
pub const ACCOUNT_LOCK_MS: i64 = 15 * 60 * 1000;
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Attempts at the hashing forms (registration, password reset) per network.
pub const HASHING_LIMIT: usize = 20;
pub const HASHING_WINDOW_MS: i64 = 5 * 60 * 1000;
/// Reset links mailed to one address per hour.
pub const RESET_MAILS_PER_HOUR: i64 = 3;
pub const IP_LOGIN_LIMIT: usize = 30;
pub const IP_LOGIN_WINDOW_MS: i64 = 5 * 60 * 1000;

/// Scopes an API key may carry (`crate::access::Scope`).
pub const SCOPES: &[&str] = &["catalog:read", "catalog:write", "orders:read", "orders:write", "live:write", "creators", "admin"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Creator,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Creator => "creator",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::Owner)
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "customer" => Ok(Role::Customer),
            "creator" => Ok(Role::Creator),
            "admin" => Ok(Role::Admin),
            "owner" => Ok(Role::Owner),
            other => Err(format!("unknown role {other:?} (customer, creator, admin, owner)")),
        }
    }
}

lsn_db::id!(
    /// An account's id.
    pub UserId
);

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: UserId,
    pub email: Option<String>,
    pub name: String,
    pub role: Role,
    pub status: String,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

const USER_COLS: &str = "id, email, name, role, status, created_at, last_login_at";

fn user_from(r: &Row) -> Result<User, lsn_db::Error> {
    let role: String = r.try_get("role")?;
    Ok(User {
        id: r.try_parse("id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        role: role.parse().map_err(|e: String| lsn_db::Error::decode(e))?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        last_login_at: r.try_get("last_login_at")?,
    })
}

/// A new session: the raw token goes in the cookie, only its hash in the database.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: i64,
    /// This browser's proof of having signed in to the account (the `lsn_device` cookie).
    pub device: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyInfo {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// The identity service, cheap to clone (one reference count).
#[derive(Clone)]
pub struct Identity(std::sync::Arc<IdentityParts>);

impl std::ops::Deref for Identity {
    type Target = IdentityParts;
    fn deref(&self) -> &IdentityParts {
        &self.0
    }
}

/// What a [`Identity`] holds (reached through it by `Deref`).
pub struct IdentityParts {
    pub db: Db,
    pub cfg: Arc<Config>,
    pub clock: SharedClock,
    pub ip_limiter: Arc<RateLimit>,
    /// Registrations, reset requests and resets per network (each hashes or mails).
    pub hash_limiter: Arc<RateLimit>,
    pub http: reqwest::Client,
}

fn field_error(field: &str, msg: &str) -> IdentityError {
    IdentityError::Validation(json!({ field: msg }))
}

impl Identity {
    pub fn new(db: Db, cfg: Arc<Config>, clock: SharedClock) -> Self {
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(15)).build().unwrap_or_default();
        Self(Arc::new(IdentityParts {
            db,
            cfg,
            clock,
            ip_limiter: Arc::new(RateLimit::new("login_network", IP_LOGIN_LIMIT, IP_LOGIN_WINDOW_MS)),
            hash_limiter: Arc::new(RateLimit::new("hashing_forms", HASHING_LIMIT, HASHING_WINDOW_MS)),
            http,
        }))
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Counts one use of a hashing or mailing form by the network `actor` is on.
    async fn throttle_forms(&self, actor: &Actor) -> Result<(), IdentityError> {
        let network = crate::extract::network_of(actor.ip.as_deref());
        self.hash_limiter.hit(&network, self.now()).await.map_err(|retry_after_secs| IdentityError::RateLimited { retry_after_secs })
    }

    /// HMAC of the session token: the CSRF token for that session (no storage needed to check it).
    pub fn csrf_for(&self, session_token: &str) -> String {
        use base64::Engine;
        use hmac::{Mac, SimpleHmac};
        let mut mac =
            <SimpleHmac<sha2::Sha256> as Mac>::new_from_slice(self.cfg.jwt_secret.expose().as_bytes()).expect("HMAC takes any key length");
        mac.update(b"csrf:");
        mac.update(session_token.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    pub fn csrf_matches(&self, session_token: &str, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        let expected = self.csrf_for(session_token);
        expected.as_bytes().ct_eq(presented.as_bytes()).into()
    }

    // ----- users -----

    pub async fn user_by_id(&self, id: &str) -> Result<Option<User>, IdentityError> {
        let row = lsn_db::query(&format!("SELECT {USER_COLS} FROM users WHERE id = $1")).bind(id).fetch_optional(self.db.read()).await?;
        Ok(row.as_ref().map(user_from).transpose()?)
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, IdentityError> {
        let row =
            lsn_db::query(&format!("SELECT {USER_COLS} FROM users WHERE email = $1")).bind(email).fetch_optional(self.db.read()).await?;
        Ok(row.as_ref().map(user_from).transpose()?)
    }

    pub async fn list_users(&self, limit: i64) -> Result<Vec<User>, IdentityError> {
        let rows = lsn_db::query(&format!("SELECT {USER_COLS} FROM users ORDER BY created_at DESC, id DESC LIMIT $1"))
            .bind(limit.clamp(1, 500))
            .fetch_all(self.db.read())
            .await?;
        Ok(rows.iter().map(user_from).collect::<Result<_, _>>()?)
    }

    /// Creates an active user directly (CLI, demo data); fails on a taken address.
    pub async fn create_user(&self, actor: &Actor, email: &str, name: &str, password: &str, role: Role) -> Result<User, IdentityError> {
        let email = Email::parse(email).map_err(|m| field_error("email", m))?;
        password::check_strength(password).map_err(|m| field_error("password", &m))?;
        let name = clean_name(name)?;
        let hash = password::hash_async(password.to_string()).await.map_err(|_| IdentityError::Busy)?.map_err(IdentityError::Internal)?;
        let now = self.now();
        let id = new_id();
        let actor = actor.clone();
        let (id2, email2, name2) = (id.clone(), email.to_string(), name.clone());
        self.db
            .transaction(move |tx| {
                let (id, email, name, hash, actor) = (id2.clone(), email2.clone(), name2.clone(), hash.clone(), actor.clone());
                Box::pin(async move {
                    let r = lsn_db::query("INSERT INTO users (id, email, name, password_hash, role, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'active', $6, $6)")
                        .bind(&id)
                        .bind(&email)
                        .bind(&name)
                        .bind(&hash)
                        .bind(role.as_str())
                        .bind(now)
                        .execute(&mut **tx)
                        .await;
                    match r {
                        Err(e) if is_unique_violation(&e, Some("email")) => return Err(IdentityError::Conflict("email_taken")),
                        other => other?,
                    };
                    audit::record(&mut **tx, now, &actor, "user.create", Some(&id), &json!({ "email": email, "role": role.as_str() })).await?;
                    Ok(())
                })
            })
            .await?;
        self.user_by_id(&id).await?.ok_or(IdentityError::NotFound)
    }

    /// Self-service registration. Always answers the same way: a new address gets a pending
    /// account and a confirmation link; a taken address gets a notice mail instead.
    pub async fn register(&self, actor: &Actor, email: &str, name: &str, password: &str) -> Result<(), IdentityError> {
        self.throttle_forms(actor).await?;
        let mut errors = serde_json::Map::new();
        let parsed = Email::parse(email);
        if let Err(m) = &parsed {
            errors.insert("email".into(), json!(m));
        }
        if let Err(m) = password::check_strength(password) {
            errors.insert("password".into(), json!(m));
        }
        let name = match clean_name(name) {
            Ok(n) => n,
            Err(IdentityError::Validation(v)) => {
                if let Some(m) = v.get("name") {
                    errors.insert("name".into(), m.clone());
                }
                String::new()
            }
            Err(e) => return Err(e),
        };
        let Ok(email) = parsed else {
            return Err(IdentityError::Validation(Value::Object(errors)));
        };
        if !errors.is_empty() {
            return Err(IdentityError::Validation(Value::Object(errors)));
        }
        let hash = password::hash_async(password.to_string()).await.map_err(|_| IdentityError::Busy)?.map_err(IdentityError::Internal)?;
        let now = self.now();
        let token = random_token(32);
        let public = self.cfg.public_url.clone();
        let brand = lsn_mails::Brand::new(&self.cfg.shop_name, &public);
        let actor = actor.clone();
        let email = email.to_string();
        self.db
            .transaction(move |tx| {
                let (email, name, hash, token, public, actor) = (email.clone(), name.clone(), hash.clone(), token.clone(), public.clone(), actor.clone());
                let brand = brand.clone();
                Box::pin(async move {
                    let existing = lsn_db::query("SELECT id, status FROM users WHERE email = $1").bind(&email).fetch_optional(&mut **tx).await?;
                    let msg = match existing {
                        Some(_) => Message {
                            to: email.clone(),
                            subject: t("email-existing-subject"),
                            text: format!(
                                "{}\n\n{}\n{}",
                                t("email-existing-intro"),
                                t_args("email-existing-action", &[("login", &format!("{public}/login")), ("reset", &format!("{public}/password/forgot"))]),
                                t("email-existing-ignore")
                            ),
                            html: None,
                            tag: Some("register_existing".into()),
                            // One notice an hour, however often a stranger signs up with the address.
                            message_id: Some(format!("register-existing-{}-{}", hash_token(&email), now / 3_600_000)),
                            attachments: Vec::new(),
                        },
                        None => {
                            let id = new_id();
                            lsn_db::query("INSERT INTO users (id, email, name, password_hash, role, status, created_at, updated_at) VALUES ($1, $2, $3, $4, 'customer', 'pending', $5, $5)")
                                .bind(&id)
                                .bind(&email)
                                .bind(&name)
                                .bind(&hash)
                                .bind(now)
                                .execute(&mut **tx)
                                .await?;
                            insert_token(tx, &token, &id, "verify", now, VERIFY_TTL_MS).await?;
                            audit::record(&mut **tx, now, &actor, "user.register", Some(&id), &json!({ "email": email })).await?;
                            let welcome = lsn_mails::Welcome { name: name.clone(), confirm_link: format!("{public}/api/auth/verify?token={token}") };
                            brand.render(&welcome).map_err(|e| IdentityError::Internal(e.to_string()))?.message(&email, "welcome", None)
                        }
                    };
                    lsn_ops::builtin::queue_mail(tx, now, msg).await?;
                    Ok::<_, IdentityError>(())
                })
            })
            .await
    }

    /// Confirms an address with its one-time token and signs the user in.
    pub async fn verify_email(&self, actor: &Actor, token: &str) -> Result<(User, NewSession), IdentityError> {
        let user_id = self.consume_token(token, "verify").await?;
        let now = self.now();
        lsn_db::query("UPDATE users SET status = 'active', updated_at = $1 WHERE id = $2 AND status = 'pending'")
            .bind(now)
            .bind(&user_id)
            .execute(self.db.write())
            .await?;
        let user = self.user_by_id(&user_id).await?.ok_or(IdentityError::InvalidToken)?;
        audit::record(self.db.write(), now, actor, "user.verify_email", Some(&user.id), &json!({})).await?;
        let session = self.start_session(&user, actor, "email_verification").await?;
        Ok((user, session))
    }

    /// `InvalidToken` unless `token` is a valid, unexpired, unused token for `purpose`.
    async fn token_is_live(&self, token: &str, purpose: &'static str) -> Result<(), IdentityError> {
        if token.is_empty() || token.len() > 200 {
            return Err(IdentityError::InvalidToken);
        }
        let n: i64 = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM user_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3")
            .bind(hash_token(token))
            .bind(purpose)
            .bind(self.now())
            .fetch_one(self.db.read())
            .await?
            .try_get(0)?;
        if n == 0 {
            return Err(IdentityError::InvalidToken);
        }
        Ok(())
    }

    /// Takes a one-time token: valid, unexpired and unused, or `InvalidToken`. Marks it used.
    async fn consume_token(&self, token: &str, purpose: &'static str) -> Result<String, IdentityError> {
        if token.is_empty() || token.len() > 200 {
            return Err(IdentityError::InvalidToken);
        }
        let now = self.now();
        let hash = hash_token(token);
        let row = lsn_db::query("UPDATE user_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 RETURNING user_id")
            .bind(now)
            .bind(&hash)
            .bind(purpose)
            .fetch_optional(self.db.write())
            .await?;
        match row {
            Some(r) => Ok(r.try_get(0)?),
            None => Err(IdentityError::InvalidToken),
        }
    }

    // ----- sign-in -----

    fn account_key(email: &str) -> String {
        hash_token(&format!("acct:{}", email.trim().to_lowercase()))
    }

    /// The failure counter of one address from one network.
    fn source_key(email: &str, network: &str) -> String {
        hash_token(&format!("acct:{}|net:{network}", email.trim().to_lowercase()))
    }

    /// A browser's proof that it signed in to `user_id` before (the `lsn_device` cookie):
    /// `<nonce>.<HMAC of the nonce and the user>`. It lets its holder past the sign-in
    /// throttles a stranger's failures set, never past the password.
    pub fn device_token(&self, user_id: &str) -> String {
        let nonce = random_token(12);
        format!("{nonce}.{}", self.csrf_for(&format!("device:{nonce}:{user_id}")))
    }

    fn known_device(&self, token: Option<&str>, user_id: &str) -> bool {
        token.and_then(|t| t.split_once('.')).is_some_and(|(nonce, mac)| self.csrf_matches(&format!("device:{nonce}:{user_id}"), mac))
    }

    /// The lock on `key`, if it holds now.
    async fn locked_until(&self, key: &str, now: i64) -> Result<Option<i64>, IdentityError> {
        let r = lsn_db::query("SELECT locked_until FROM login_failures WHERE key = $1").bind(key).fetch_optional(self.db.read()).await?;
        Ok(r.and_then(|r| r.try_get::<Option<i64>, _>(0).ok().flatten()).filter(|until| *until > now))
    }

    /// Password sign-in. Throttled per network (30 attempts in 5 minutes), and for each
    /// address per network: 5 wrong passwords from one network make that network wait 15
    /// minutes for that address, so a stranger elsewhere cannot lock its owner out. An address
    /// failing from many networks (50 in 15 minutes) is throttled for every browser that has
    /// not signed in to it before; one that has (`device`, the `lsn_device` cookie) is never
    /// throttled by others' failures. Every outcome is audited; no answer tells whether the
    /// address has an account.
    pub async fn login(
        &self,
        actor: &Actor,
        email: &str,
        password: &str,
        device: Option<&str>,
    ) -> Result<(User, NewSession), IdentityError> {
        let now = self.now();
        let network = crate::extract::network_of(actor.ip.as_deref());
        if let Err(retry) = self.ip_limiter.hit(&network, now).await {
            audit::record(self.db.write(), now, actor, "auth.login_throttled", None, &json!({ "reason": "ip" })).await?;
            return Err(IdentityError::RateLimited { retry_after_secs: retry });
        }
        let normalized = email.trim().to_lowercase();
        let (account, source) = (Self::account_key(&normalized), Self::source_key(&normalized, &network));
        let row = lsn_db::query(&format!("SELECT {USER_COLS}, password_hash FROM users WHERE email = $1"))
            .bind(&normalized)
            .fetch_optional(self.db.read())
            .await?;
        let (user, stored) = match &row {
            Some(r) => (Some(user_from(r)?), r.try_get::<Option<String>, _>("password_hash")?),
            None => (None, None),
        };
        let known = user.as_ref().is_some_and(|u| self.known_device(device, &u.id));
        if !known {
            // The locks apply to the address whether or not it has an account, so they reveal nothing.
            let lock = match self.locked_until(&source, now).await? {
                Some(t) => Some((t, "source_locked")),
                None => self.locked_until(&account, now).await?.map(|t| (t, "account_throttled")),
            };
            if let Some((until, reason)) = lock {
                audit::record(self.db.write(), now, actor, "auth.login_throttled", None, &json!({ "reason": reason, "email": normalized }))
                    .await?;
                return Err(IdentityError::RateLimited { retry_after_secs: ((until - now) / 1000).max(1) as u64 });
            }
        }
        let ok = password::verify_async(password.to_string(), stored).await.map_err(|_| IdentityError::Busy)?;
        let user = match (ok, user) {
            (true, Some(u)) if u.status != "disabled" => u,
            (_, user) => {
                if !known {
                    self.record_failure(&source, now, SOURCE_MAX_FAILURES).await?;
                    self.record_failure(&account, now, ACCOUNT_MAX_FAILURES).await?;
                }
                audit::record(
                    self.db.write(),
                    now,
                    actor,
                    "auth.login_failed",
                    user.as_ref().map(|u| u.id.as_str()),
                    &json!({ "email": normalized }),
                )
                .await?;
                return Err(IdentityError::InvalidCredentials);
            }
        };
        if !known {
            // Typos before the right password start the count again; a known browser's sign-in
            // says nothing about the others on its network.
            lsn_db::query("DELETE FROM login_failures WHERE key = $1").bind(&source).execute(self.db.write()).await?;
        }
        if user.status == "pending" {
            return Err(IdentityError::NotVerified);
        }
        let session = self.start_session(&user, actor, "password").await?;
        Ok((user, session))
    }

    /// Counts a failure on `key`; `max` failures within [`FAILURE_WINDOW_MS`] lock it for
    /// [`ACCOUNT_LOCK_MS`]. An old count, or an expired lock, starts again from one.
    async fn record_failure(&self, key: &str, now: i64, max: i64) -> Result<(), IdentityError> {
        lsn_db::query(
            "INSERT INTO login_failures (key, failures, first_failed_at, locked_until) VALUES ($1, 1, $2, NULL) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN (login_failures.locked_until IS NOT NULL AND login_failures.locked_until <= $2) OR login_failures.first_failed_at < $5 THEN 1 ELSE login_failures.failures + 1 END, \
               first_failed_at = CASE WHEN (login_failures.locked_until IS NOT NULL AND login_failures.locked_until <= $2) OR login_failures.first_failed_at < $5 THEN $2 ELSE login_failures.first_failed_at END, \
               locked_until = CASE WHEN login_failures.locked_until IS NOT NULL AND login_failures.locked_until <= $2 THEN NULL \
                                   WHEN login_failures.first_failed_at < $5 THEN NULL \
                                   WHEN login_failures.failures + 1 >= $3 THEN $4 ELSE login_failures.locked_until END",
        )
        .bind(key)
        .bind(now)
        .bind(max)
        .bind(now + ACCOUNT_LOCK_MS)
        .bind(now - FAILURE_WINDOW_MS)
        .execute(self.db.write())
        .await?;
        Ok(())
    }

    /// Opens a session for `user` and records the sign-in.
    pub async fn start_session(&self, user: &User, actor: &Actor, method: &str) -> Result<NewSession, IdentityError> {
        let now = self.now();
        let token = random_token(32);
        let csrf = self.csrf_for(&token);
        let expires_at = now + SESSION_TTL_MS;
        let (uid, hash, csrf2, actor, method) = (user.id.to_string(), hash_token(&token), csrf.clone(), actor.clone(), method.to_string());
        self.db
            .transaction(move |tx| {
                let (uid, hash, csrf, actor, method) = (uid.clone(), hash.clone(), csrf2.clone(), actor.clone(), method.clone());
                Box::pin(async move {
                    lsn_db::query("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, last_seen_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $4, $6, $7)")
                        .bind(&hash)
                        .bind(&uid)
                        .bind(&csrf)
                        .bind(now)
                        .bind(expires_at)
                        .bind(&actor.ip)
                        .bind(&actor.user_agent)
                        .execute(&mut **tx)
                        .await?;
                    lsn_db::query("UPDATE users SET last_login_at = $1 WHERE id = $2").bind(now).bind(&uid).execute(&mut **tx).await?;
                    let actor = Actor { id: Some(uid.to_string()), ..actor };
                    audit::record(&mut **tx, now, &actor, "auth.login", Some(&uid), &json!({ "method": method })).await?;
                    Ok::<_, IdentityError>(())
                })
            })
            .await?;
        Ok(NewSession { token, csrf_token: csrf, expires_at, device: self.device_token(&user.id) })
    }

    /// The user behind a session cookie, if the session is live and the user active.
    pub async fn session_user(&self, token: &str) -> Result<Option<User>, IdentityError> {
        if token.is_empty() || token.len() > 100 {
            return Ok(None);
        }
        let now = self.now();
        let hash = hash_token(token);
        let row = lsn_db::query(&format!(
            "SELECT s.expires_at, s.last_seen_at, {} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
            USER_COLS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
        ))
        .bind(&hash)
        .fetch_optional(self.db.read())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let expires_at: i64 = r.try_get("expires_at")?;
        let last_seen: i64 = r.try_get("last_seen_at")?;
        let user = user_from(&r)?;
        if expires_at <= now {
            lsn_db::query("DELETE FROM sessions WHERE token_hash = $1").bind(&hash).execute(self.db.write()).await?;
            return Ok(None);
        }
        if user.status != "active" {
            return Ok(None);
        }
        if now - last_seen > 60_000 {
            lsn_db::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
                .bind(now)
                .bind(&hash)
                .execute(self.db.write())
                .await?;
        }
        Ok(Some(user))
    }

    pub async fn logout(&self, actor: &Actor, token: &str) -> Result<(), IdentityError> {
        let now = self.now();
        let r = lsn_db::query("DELETE FROM sessions WHERE token_hash = $1").bind(hash_token(token)).execute(self.db.write()).await?;
        if r.rows_affected() > 0 {
            audit::record(self.db.write(), now, actor, "auth.logout", actor.id.as_deref(), &json!({})).await?;
        }
        Ok(())
    }

    // ----- password reset -----

    /// Sends a reset link when the address has an active account; answers the same either way.
    pub async fn request_password_reset(&self, actor: &Actor, email: &str) -> Result<(), IdentityError> {
        self.throttle_forms(actor).await?;
        let Ok(email) = Email::parse(email) else {
            return Ok(());
        };
        let now = self.now();
        let (email, public, actor) = (email.to_string(), self.cfg.public_url.clone(), actor.clone());
        let brand = lsn_mails::Brand::new(&self.cfg.shop_name, &public);
        self.db
            .transaction(move |tx| {
                let (email, public, actor, brand) = (email.clone(), public.clone(), actor.clone(), brand.clone());
                Box::pin(async move {
                    let row = lsn_db::query("SELECT id FROM users WHERE email = $1 AND status <> 'disabled'")
                        .bind(&email)
                        .fetch_optional(&mut **tx)
                        .await?;
                    let Some(row) = row else { return Ok(()) };
                    let uid: String = row.try_get(0)?;
                    // A few links an hour per address: the same answer, no more mail.
                    let recent: i64 = lsn_db::query(
                        "SELECT CAST(COUNT(*) AS BIGINT) FROM user_tokens WHERE user_id = $1 AND purpose = 'reset' AND created_at > $2",
                    )
                    .bind(&uid)
                    .bind(now - 3_600_000)
                    .fetch_one(&mut **tx)
                    .await?
                    .try_get(0)?;
                    if recent >= RESET_MAILS_PER_HOUR {
                        audit::record(&mut **tx, now, &actor, "auth.password_reset_throttled", Some(&uid), &json!({})).await?;
                        return Ok(());
                    }
                    let token = random_token(32);
                    insert_token(tx, &token, &uid, "reset", now, RESET_TTL_MS).await?;
                    audit::record(&mut **tx, now, &actor, "auth.password_reset_requested", Some(&uid), &json!({})).await?;
                    let reset = lsn_mails::PasswordReset { link: format!("{public}/password/reset?token={token}") };
                    let msg =
                        brand.render(&reset).map_err(|e| IdentityError::Internal(e.to_string()))?.message(&email, "password_reset", None);
                    lsn_ops::builtin::queue_mail(tx, now, msg).await?;
                    Ok::<_, IdentityError>(())
                })
            })
            .await
    }

    /// Sets a new password with a reset token; every session of the user is ended.
    pub async fn reset_password(&self, actor: &Actor, token: &str, new_password: &str) -> Result<(), IdentityError> {
        self.throttle_forms(actor).await?;
        password::check_strength(new_password).map_err(|m| field_error("password", &m))?;
        // A token that cannot work costs no hash: only a live link is worth the work.
        self.token_is_live(token, "reset").await?;
        let hash =
            password::hash_async(new_password.to_string()).await.map_err(|_| IdentityError::Busy)?.map_err(IdentityError::Internal)?;
        let uid = self.consume_token(token, "reset").await?;
        let now = self.now();
        let actor = actor.clone();
        self.db
            .transaction(move |tx| {
                let (uid, hash, actor) = (uid.clone(), hash.clone(), actor.clone());
                Box::pin(async move {
                    // A reset proves control of the address, so a pending account becomes active.
                    lsn_db::query("UPDATE users SET password_hash = $1, status = CASE WHEN status = 'pending' THEN 'active' ELSE status END, updated_at = $2 WHERE id = $3")
                        .bind(&hash)
                        .bind(now)
                        .bind(&uid)
                        .execute(&mut **tx)
                        .await?;
                    lsn_db::query("DELETE FROM sessions WHERE user_id = $1").bind(&uid).execute(&mut **tx).await?;
                    lsn_db::query("UPDATE user_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = 'reset' AND used_at IS NULL").bind(now).bind(&uid).execute(&mut **tx).await?;
                    audit::record(&mut **tx, now, &actor, "auth.password_reset", Some(&uid), &json!({})).await?;
                    Ok::<_, IdentityError>(())
                })
            })
            .await
    }

    /// A signed-in user changes their password: the current one must match; every other session
    /// of theirs ends (the one in `keep_session` stays signed in).
    pub async fn change_password(
        &self,
        actor: &Actor,
        user_id: &str,
        current: &str,
        new_password: &str,
        keep_session: Option<&str>,
    ) -> Result<(), IdentityError> {
        if current.len() > 4096 || new_password.len() > 4096 {
            return Err(field_error("password", &t("identity-password-max")));
        }
        self.hash_limiter
            .hit(&format!("user:{user_id}"), self.now())
            .await
            .map_err(|retry_after_secs| IdentityError::RateLimited { retry_after_secs })?;
        let stored: Option<String> = lsn_db::query("SELECT password_hash FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(self.db.read())
            .await?
            .map(|r| r.try_get::<Option<String>, _>(0))
            .transpose()?
            .flatten();
        if !password::verify_async(current.to_string(), stored).await.map_err(|_| IdentityError::Busy)? {
            return Err(field_error("current_password", &t("identity-password-wrong")));
        }
        password::check_strength(new_password).map_err(|m| field_error("password", &m))?;
        let hash =
            password::hash_async(new_password.to_string()).await.map_err(|_| IdentityError::Busy)?.map_err(IdentityError::Internal)?;
        let now = self.now();
        let (uid, keep, actor) = (user_id.to_string(), keep_session.map(hash_token).unwrap_or_default(), actor.clone());
        self.db
            .transaction(move |tx| {
                let (uid, hash, keep, actor) = (uid.clone(), hash.clone(), keep.clone(), actor.clone());
                Box::pin(async move {
                    lsn_db::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                        .bind(&hash)
                        .bind(now)
                        .bind(&uid)
                        .execute(&mut **tx)
                        .await?;
                    lsn_db::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                        .bind(&uid)
                        .bind(&keep)
                        .execute(&mut **tx)
                        .await?;
                    audit::record(&mut **tx, now, &actor, "auth.password_changed", Some(&uid), &json!({})).await?;
                    Ok::<_, IdentityError>(())
                })
            })
            .await
    }

    // ----- roles and settings -----

    /// Changes a user's role. Owners may grant any role but owner; admins may grant customer
    /// or creator to non-staff. The owner role is given only by `lsn admin create` or OWNER_OPEN_ID.
    pub async fn change_role(&self, actor: &Actor, actor_role: Option<Role>, user_id: &str, role: Role) -> Result<User, IdentityError> {
        let target = self.user_by_id(user_id).await?.ok_or(IdentityError::NotFound)?;
        if let Some(ar) = actor_role {
            let allowed = match ar {
                Role::Owner => role != Role::Owner && target.role != Role::Owner,
                Role::Admin => !role.is_staff() && !target.role.is_staff(),
                _ => false,
            };
            if !allowed {
                return Err(IdentityError::Forbidden);
            }
        }
        let now = self.now();
        let (uid, from, actor) = (target.id.clone(), target.role, actor.clone());
        self.db
            .transaction(move |tx| {
                let (uid, actor) = (uid.clone(), actor.clone());
                Box::pin(async move {
                    lsn_db::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
                        .bind(role.as_str())
                        .bind(now)
                        .bind(&uid)
                        .execute(&mut **tx)
                        .await?;
                    audit::record(
                        &mut **tx,
                        now,
                        &actor,
                        "user.role_change",
                        Some(&uid),
                        &json!({ "from": from.as_str(), "to": role.as_str() }),
                    )
                    .await?;
                    Ok::<_, IdentityError>(())
                })
            })
            .await?;
        self.user_by_id(user_id).await?.ok_or(IdentityError::NotFound)
    }

    pub async fn get_setting(&self, key: &str) -> Result<Option<Value>, IdentityError> {
        let row = lsn_db::query("SELECT value FROM settings WHERE key = $1").bind(key).fetch_optional(self.db.read()).await?;
        Ok(row.map(|r| r.try_get::<String, _>(0)).transpose()?.map(|s| serde_json::from_str(&s).unwrap_or(Value::Null)))
    }

    pub async fn set_setting(&self, actor: &Actor, key: &str, value: &Value) -> Result<(), IdentityError> {
        let valid_key =
            !key.is_empty() && key.len() <= 100 && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid_key {
            return Err(field_error("key", &t("identity-setting-key")));
        }
        let now = self.now();
        let before = self.get_setting(key).await?;
        let (key, value, actor) = (key.to_string(), value.clone(), actor.clone());
        self.db
            .transaction(move |tx| {
                let (key, value, actor, before) = (key.clone(), value.clone(), actor.clone(), before.clone());
                Box::pin(async move {
                    lsn_db::query("INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by")
                        .bind(&key)
                        .bind(value.to_string())
                        .bind(now)
                        .bind(&actor.id)
                        .execute(&mut **tx)
                        .await?;
                    audit::record(&mut **tx, now, &actor, "settings.change", Some(&key), &json!({ "from": before, "to": value })).await?;
                    Ok::<_, IdentityError>(())
                })
            })
            .await
    }

    // ----- API keys -----

    /// Creates a key; the returned string is shown once and never stored.
    pub async fn create_api_key(
        &self,
        actor: &Actor,
        owner: &User,
        name: &str,
        scopes: &[String],
    ) -> Result<(ApiKeyInfo, String), IdentityError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(field_error("name", &t("identity-key-name")));
        }
        if scopes.is_empty() || scopes.iter().any(|s| !SCOPES.contains(&s.as_str())) {
            return Err(field_error("scopes", &t_args("identity-key-scopes", &[("scopes", &SCOPES.join(", "))])));
        }
        if scopes.iter().any(|s| s == "admin") && !owner.role.is_staff() {
            return Err(IdentityError::Forbidden);
        }
        let now = self.now();
        let id = new_id();
        let prefix = random_token(6).replace(['-', '_'], "x");
        let secret = random_token(32);
        let key = format!("lsn_{prefix}_{secret}");
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        let info = ApiKeyInfo {
            id: id.clone(),
            name: name.to_string(),
            prefix: format!("lsn_{prefix}"),
            scopes: scopes.clone(),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        let (info2, hash, uid, actor) = (info.clone(), hash_token(&key), owner.id.clone(), actor.clone());
        self.db
            .transaction(move |tx| {
                let (info, hash, uid, actor) = (info2.clone(), hash.clone(), uid.clone(), actor.clone());
                Box::pin(async move {
                    lsn_db::query("INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                        .bind(&info.id)
                        .bind(&uid)
                        .bind(&info.name)
                        .bind(&info.prefix)
                        .bind(&hash)
                        .bind(info.scopes.join(" "))
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                    audit::record(&mut **tx, now, &actor, "api_key.create", Some(&info.id), &json!({ "name": info.name, "scopes": info.scopes, "prefix": info.prefix })).await?;
                    Ok::<_, IdentityError>(())
                })
            })
            .await?;
        Ok((info, key))
    }

    pub async fn list_api_keys(&self, owner_id: &str) -> Result<Vec<ApiKeyInfo>, IdentityError> {
        let rows = lsn_db::query("SELECT id, name, prefix, scopes, created_at, last_used_at, revoked_at FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC")
            .bind(owner_id)
            .fetch_all(self.db.read())
            .await?;
        rows.iter()
            .map(|r| {
                let scopes: String = r.try_get(3)?;
                Ok(ApiKeyInfo {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    prefix: r.try_get(2)?,
                    scopes: scopes.split_whitespace().map(str::to_string).collect(),
                    created_at: r.try_get(4)?,
                    last_used_at: r.try_get(5)?,
                    revoked_at: r.try_get(6)?,
                })
            })
            .collect::<Result<_, lsn_db::Error>>()
            .map_err(Into::into)
    }

    /// Revokes a key of `owner_id` (staff may revoke anyone's with `any_owner`).
    pub async fn revoke_api_key(&self, actor: &Actor, owner_id: &str, any_owner: bool, key_id: &str) -> Result<(), IdentityError> {
        let now = self.now();
        let r = lsn_db::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND ($3 = 1 OR user_id = $4) AND revoked_at IS NULL")
            .bind(now)
            .bind(key_id)
            .bind(i64::from(any_owner))
            .bind(owner_id)
            .execute(self.db.write())
            .await?;
        if r.rows_affected() == 0 {
            return Err(IdentityError::NotFound);
        }
        audit::record(self.db.write(), now, actor, "api_key.revoke", Some(key_id), &json!({})).await?;
        Ok(())
    }

    /// The user and scopes behind an API key, if it is live.
    pub async fn api_key_user(&self, key: &str) -> Result<Option<(User, Vec<String>)>, IdentityError> {
        if !key.starts_with("lsn_") || key.len() > 100 {
            return Ok(None);
        }
        let now = self.now();
        let hash = hash_token(key);
        let row = lsn_db::query(&format!(
            "SELECT k.scopes, k.last_used_at, {} FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
            USER_COLS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
        ))
        .bind(&hash)
        .fetch_optional(self.db.read())
        .await?;
        let Some(r) = row else { return Ok(None) };
        let scopes: String = r.try_get("scopes")?;
        let last: Option<i64> = r.try_get("last_used_at")?;
        let user = user_from(&r)?;
        if user.status != "active" {
            return Ok(None);
        }
        if last.is_none_or(|t| now - t > 60_000) {
            lsn_db::query("UPDATE api_keys SET last_used_at = $1 WHERE key_hash = $2")
                .bind(now)
                .bind(&hash)
                .execute(self.db.write())
                .await?;
        }
        Ok(Some((user, scopes.split_whitespace().map(str::to_string).collect())))
    }

    /// Signs in (creating or updating the account) a user proven by the OpenID provider.
    pub async fn oidc_user(&self, actor: &Actor, subject: &str, email: Option<&str>, name: Option<&str>) -> Result<User, IdentityError> {
        let now = self.now();
        let is_owner = self.cfg.owner_open_id.as_deref() == Some(subject);
        let name = if is_owner { self.cfg.owner_name.clone().or(name.map(str::to_string)) } else { name.map(str::to_string) }
            .unwrap_or_else(|| email.unwrap_or("Shopper").to_string());
        let name: String = name.chars().take(100).collect();
        let email = email.and_then(|e| Email::parse(e).ok()).map(|e| e.to_string());
        let (subject, actor) = (subject.to_string(), actor.clone());
        let uid = self
            .db
            .transaction(move |tx| {
                let (subject, name, email, actor) = (subject.clone(), name.clone(), email.clone(), actor.clone());
                Box::pin(async move {
                    let existing = lsn_db::query("SELECT id, role FROM users WHERE open_id = $1").bind(&subject).fetch_optional(&mut **tx).await?;
                    let uid = match existing {
                        Some(r) => {
                            let uid: String = r.try_get(0)?;
                            let role: String = r.try_get(1)?;
                            if is_owner && role != "owner" {
                                lsn_db::query("UPDATE users SET role = 'owner', name = $1, updated_at = $2 WHERE id = $3").bind(&name).bind(now).bind(&uid).execute(&mut **tx).await?;
                                audit::record(&mut **tx, now, &actor, "user.role_change", Some(&uid), &json!({ "from": role, "to": "owner", "via": "OWNER_OPEN_ID" })).await?;
                            }
                            uid
                        }
                        None => {
                            // Link to an existing account only through an address the provider vouches for.
                            let by_email = match &email {
                                Some(e) => lsn_db::query("SELECT id FROM users WHERE email = $1 AND open_id IS NULL").bind(e).fetch_optional(&mut **tx).await?,
                                None => None,
                            };
                            let role = if is_owner { "owner" } else { "customer" };
                            match by_email {
                                Some(r) => {
                                    let uid: String = r.try_get(0)?;
                                    lsn_db::query("UPDATE users SET open_id = $1, status = 'active', updated_at = $2 WHERE id = $3").bind(&subject).bind(now).bind(&uid).execute(&mut **tx).await?;
                                    if is_owner {
                                        lsn_db::query("UPDATE users SET role = 'owner' WHERE id = $1").bind(&uid).execute(&mut **tx).await?;
                                    }
                                    uid
                                }
                                None => {
                                    let uid = new_id();
                                    lsn_db::query("INSERT INTO users (id, email, name, role, status, open_id, created_at, updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $6, $6)")
                                        .bind(&uid)
                                        .bind(&email)
                                        .bind(&name)
                                        .bind(role)
                                        .bind(&subject)
                                        .bind(now)
                                        .execute(&mut **tx)
                                        .await?;
                                    audit::record(&mut **tx, now, &actor, "user.create", Some(&uid), &json!({ "via": "oauth", "role": role })).await?;
                                    uid
                                }
                            }
                        }
                    };
                    Ok::<_, IdentityError>(uid)
                })
            })
            .await?;
        self.user_by_id(&uid).await?.ok_or(IdentityError::NotFound)
    }

    /// Deletes expired sessions and tokens and stale sign-in failure counters.
    pub async fn cleanup(&self) -> Result<u64, IdentityError> {
        let now = self.now();
        let mut n = lsn_db::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(self.db.write()).await?.rows_affected();
        n += lsn_db::query("DELETE FROM user_tokens WHERE expires_at <= $1")
            .bind(now - 24 * 3600 * 1000)
            .execute(self.db.write())
            .await?
            .rows_affected();
        n += lsn_db::query("DELETE FROM login_failures WHERE first_failed_at < $1 AND (locked_until IS NULL OR locked_until < $2)")
            .bind(now - 24 * 3600 * 1000)
            .bind(now)
            .execute(self.db.write())
            .await?
            .rows_affected();
        Ok(n)
    }
}

/// How many accounts there are (an empty shop gets the demo data).
pub async fn user_count(db: &Db) -> Result<i64, lsn_db::Error> {
    lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM users").fetch_one(db.read()).await?.try_get(0)
}

async fn insert_token(tx: &mut Tx, token: &str, user_id: &str, purpose: &str, now: i64, ttl: i64) -> Result<(), lsn_db::Error> {
    lsn_db::query("INSERT INTO user_tokens (token_hash, user_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(hash_token(token))
        .bind(user_id)
        .bind(purpose)
        .bind(now)
        .bind(now + ttl)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn clean_name(name: &str) -> Result<String, IdentityError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err(field_error("name", &t("identity-name")));
    }
    Ok(n.to_string())
}
