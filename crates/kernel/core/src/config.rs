//! Configuration from the runbook's environment variables, optionally from `lsn.toml`.
//!
//! Sources, later wins: built-in defaults, `lsn.toml` (path in `LSN_CONFIG`, else `./lsn.toml`
//! when present; keys are the variable names, any case), the process environment. Development
//! runs with nothing set; production (`LSN_ENV=production` or `NODE_ENV=production`) refuses to
//! start while a required secret is missing or still at its development default.

use crate::secret::Secret;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

/// The JWT secret development runs with; production refuses it.
pub const DEV_JWT_SECRET: &str = "lsn-development-secret-do-not-use-in-production";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// How hard SQLite holds on to a commit. `Full` survives power loss; `Normal` survives a crash
/// of the process (WAL) but may lose the last commits on power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Full,
    Normal,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{var}: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error("production mode refuses to start: {}", .0.join("; "))]
    Production(Vec<String>),
    #[error("cannot read {path}: {reason}")]
    File { path: String, reason: String },
}

fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { var, reason: reason.into() }
}

/// Where the mailer sends: the development mailbox unless SMTP or SendGrid is configured.
#[derive(Debug, Clone, PartialEq)]
pub enum MailTransport {
    Mailbox,
    Smtp { url: Secret },
    SendGrid { api_key: Secret, base_url: String },
}

#[derive(Debug, Clone)]
pub struct OAuthConfig {
    pub server_url: String,
    pub portal_url: Option<String>,
    pub client_id: String,
    pub client_secret: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub env: Environment,
    pub host: IpAddr,
    pub port: u16,
    pub data_dir: PathBuf,
    /// `None` means the embedded SQLite file `<data_dir>/lsn.db`.
    pub database_url: Option<Secret>,
    pub db_max_connections: u32,
    pub durability: Durability,
    pub auto_migrate: bool,
    /// Load the demo shop into an empty development database at `serve` start-up.
    pub demo: bool,
    pub public_url: String,
    pub timezone: chrono_tz::Tz,
    pub jwt_secret: Secret,
    pub enable_autonomous: bool,
    pub enable_autonomous_streams: bool,
    pub founder_email: Option<String>,
    /// Who gets the daily summary and the weekly report besides `FOUNDER_EMAIL`
    /// (`LSN_SUMMARY_TO`).
    pub summary_to: Vec<String>,
    pub oauth: Option<OAuthConfig>,
    pub owner_open_id: Option<String>,
    pub owner_name: Option<String>,
    pub shop_name: String,
    pub mail: MailTransport,
    pub mail_from: String,
    /// The longest one request to an outside provider may take.
    pub provider_timeout: std::time::Duration,
    pub redis_url: Option<Secret>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`LSN_TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<IpAddr>,
    /// Unpaid checkouts one buyer or one address may hold at once.
    pub max_unpaid_checkouts: i64,
    /// Unpaid checkouts one network may hold at once (0: no cap per network).
    pub max_unpaid_per_network: i64,
    pub log_format_json: bool,
    /// Who gets critical alerts and escalations by e-mail besides `FOUNDER_EMAIL`
    /// (`LSN_ALERT_EMAIL_TO`).
    pub alert_email_to: Vec<String>,
    /// Who gets critical alerts and escalations by SMS, in E.164 (`LSN_ALERT_SMS_TO`).
    pub alert_sms_to: Vec<String>,
    /// Minutes before an unacknowledged critical alert is escalated (`LSN_ALERT_ESCALATE_MINUTES`).
    pub alert_escalate_minutes: i64,
    /// Every provider variable that was set, by name (values redacted in `Debug`).
    pub providers: BTreeMap<&'static str, Secret>,
}

/// Every variable LSN reads, with its meaning: the source of `docs/configuration.md`.
pub const VARIABLES: &[(&str, &str, &str)] = &[
    ("LSN_ENV", "development", "`development` or `production` (also read from `NODE_ENV`)"),
    ("HOST", "127.0.0.1", "address the HTTP server binds"),
    ("PORT", "3000", "HTTP port"),
    ("LSN_DATA_DIR", "./data", "data directory: SQLite file, media, backups"),
    ("DATABASE_URL", "(SQLite in LSN_DATA_DIR)", "`sqlite://path` or `postgres://user:pass@host/db`"),
    ("LSN_DB_MAX_CONNECTIONS", "8", "connection pool size"),
    ("LSN_DB_SYNCHRONOUS", "full", "SQLite durability: `full` (survives power loss) or `normal` (survives a crash)"),
    ("LSN_AUTO_MIGRATE", "true", "apply migrations when `serve` starts"),
    ("LSN_PUBLIC_URL", "http://localhost:3000", "the shop's public base URL (links in email, OAuth redirect)"),
    ("LSN_TIMEZONE", "Australia/Sydney", "the shop's time zone for schedules and reports"),
    ("LSN_LOG", "info", "log filter (tracing EnvFilter syntax)"),
    ("LSN_LOG_FORMAT", "text (json in production)", "`text` or `json`"),
    ("LSN_CONFIG", "./lsn.toml", "optional configuration file"),
    ("JWT_SECRET", "(development default)", "signs tokens; required in production, 32+ characters"),
    ("LSN_DATA_KEY", "(derived from JWT_SECRET)", "the secret bank details are encrypted under; set it once and keep it"),
    ("LSN_CREATOR_HOLD_DAYS", "30", "days a commission is held before it can be paid out (1 to 90)"),
    ("LSN_ATTRIBUTION_WINDOW_DAYS", "30", "days a referral click attributes a purchase (1 to 365)"),
    ("LSN_ATTRIBUTION_MODEL", "last_touch", "`last_touch` or `first_touch`"),
    ("LSN_PAYOUT_MINIMUM", "50", "the smallest creator payout, in dollars"),
    (
        "ENABLE_AUTONOMOUS",
        "false",
        "run the autonomous tasks (daily summary, low-stock alerts, abandoned-cart reminders); safety jobs run either way",
    ),
    ("ENABLE_AUTONOMOUS_STREAMS", "false", "enable 24/7 autonomous streaming"),
    ("FOUNDER_EMAIL", "-", "receives the daily summary at 8 AM shop time and the weekly report on Mondays (with `ENABLE_AUTONOMOUS`)"),
    ("LSN_SUMMARY_TO", "-", "comma-separated stakeholders who get the daily summary and the weekly report, besides FOUNDER_EMAIL"),
    ("OAUTH_SERVER_URL", "-", "OpenID Connect issuer URL (enables OAuth login)"),
    ("VITE_OAUTH_PORTAL_URL", "-", "login portal URL shown to users (optional)"),
    ("VITE_APP_ID", "-", "OAuth client id"),
    ("OAUTH_CLIENT_SECRET", "-", "OAuth client secret (omit for a public PKCE client)"),
    ("OWNER_OPEN_ID", "-", "OpenID subject of the shop owner"),
    ("OWNER_NAME", "-", "owner's display name"),
    ("LSN_SHOP_NAME", "LSN Live", "the shop's name in page titles, the header and the web app manifest"),
    ("STRIPE_SECRET_KEY", "- (sandbox)", "Stripe secret key; required in production"),
    ("STRIPE_WEBHOOK_SECRET", "- (sandbox)", "Stripe webhook signing secret; required in production"),
    ("VITE_STRIPE_PUBLISHABLE_KEY", "-", "Stripe publishable key"),
    ("STRIPE_API_BASE", "https://api.stripe.com", "Stripe API base URL (tests point it at a local fake)"),
    ("AFTERPAY_MERCHANT_ID", "-", "Afterpay merchant id"),
    ("AFTERPAY_SECRET_KEY", "-", "Afterpay secret key"),
    ("ZIP_MERCHANT_ID", "-", "Zip merchant id"),
    ("ZIP_API_KEY", "-", "Zip API key"),
    ("SENDGRID_API_KEY", "- (mailbox)", "SendGrid API key: mail goes through SendGrid"),
    ("SENDGRID_API_URL", "https://api.sendgrid.com", "SendGrid base URL"),
    ("SMTP_URL", "- (mailbox)", "`smtp://user:pass@host:port` (or `smtps://`): mail goes through SMTP"),
    ("MAIL_FROM", "LSN <no-reply@localhost>", "sender of outgoing mail"),
    (
        "LSN_PROVIDER_TIMEOUT_SECS",
        "10",
        "how long one request to a provider (Stripe, SendGrid) may take before it counts as failed and is retried",
    ),
    ("SLACK_WEBHOOK_URL", "- (sandbox)", "Slack incoming webhook for alerts (unset: the sandbox records what would be posted)"),
    ("TWILIO_ACCOUNT_SID", "- (sandbox)", "Twilio account SID (with a credential and TWILIO_PHONE_NUMBER: critical alerts by SMS)"),
    ("TWILIO_AUTH_TOKEN", "-", "Twilio auth token"),
    ("TWILIO_API_KEY", "-", "Twilio API key (with TWILIO_API_SECRET, used instead of the auth token)"),
    ("TWILIO_API_SECRET", "-", "Twilio API secret"),
    ("TWILIO_PHONE_NUMBER", "-", "Twilio sender number (the SMS's From)"),
    ("TWILIO_API_BASE", "https://api.twilio.com", "Twilio API base URL (tests point it at a local fake)"),
    ("LSN_ALERT_EMAIL_TO", "-", "comma-separated addresses that get critical alerts by e-mail, besides FOUNDER_EMAIL"),
    ("LSN_ALERT_SMS_TO", "-", "comma-separated E.164 numbers that get critical alerts by SMS"),
    ("LSN_ALERT_ESCALATE_MINUTES", "15", "minutes before an unacknowledged critical alert is escalated (1 to 1440)"),
    ("HEYGEN_API_KEY", "-", "HeyGen API key"),
    ("AGORA_APP_ID", "-", "Agora App ID"),
    ("ELEVENLABS_API_KEY", "-", "ElevenLabs API key"),
    ("CJ_API_KEY", "-", "CJ Dropshipping API key"),
    (
        "WISE_API_TOKEN",
        "- (sandbox)",
        "Wise personal API token: creator payouts to bank accounts go through Wise (unset: the payout sandbox)",
    ),
    (
        "WISE_API_BASE",
        "https://api.wise.com",
        "Wise API base URL (`https://api.sandbox.transferwise.tech` for Wise's sandbox; tests point it at a local fake)",
    ),
    ("WISE_PROFILE_ID", "(first business profile)", "the Wise profile payouts are made from"),
    (
        "WISE_WEBHOOK_PUBLIC_KEY",
        "(Wise's sandbox key against its sandbox)",
        "Wise's webhook public key (PEM or Base64 SPKI) that transfer-state webhooks are verified with; required with the production API",
    ),
    ("WISE_SOURCE_CURRENCY", "AUD", "the Wise balance payouts are funded from"),
    (
        "STRIPE_CONNECT_WEBHOOK_SECRET",
        "(STRIPE_WEBHOOK_SECRET)",
        "signing secret of the endpoint receiving Stripe Connect transfer events (creator payouts to connected accounts)",
    ),
    ("AUSPOST_API_KEY", "-", "Australia Post API key"),
    ("SENDLE_API_ID", "-", "Sendle API id"),
    ("SENDLE_API_KEY", "-", "Sendle API key"),
    ("TIKTOK_SHOP_ACCESS_TOKEN", "-", "TikTok Shop access token"),
    ("TIKTOK_SHOP_SHOP_ID", "-", "TikTok Shop id"),
    ("PAYPAL_CLIENT_ID", "-", "PayPal client id"),
    ("PAYPAL_CLIENT_SECRET", "-", "PayPal client secret"),
    ("REDIS_URL", "- (in-process)", "Redis for cross-node fan-out and shared rate limits"),
    ("S3_ENDPOINT", "- (local media dir)", "S3-compatible endpoint for media"),
    ("S3_BUCKET", "-", "S3 bucket"),
    ("S3_ACCESS_KEY_ID", "-", "S3 access key"),
    ("S3_SECRET_ACCESS_KEY", "-", "S3 secret key"),
    ("S3_REGION", "-", "S3 region"),
];

/// Integrations as `doctor` reports them: a name and the variables that switch on the real client.
pub const INTEGRATIONS: &[(&str, &[&str])] = &[
    ("Stripe", &["STRIPE_SECRET_KEY"]),
    ("PayPal", &["PAYPAL_CLIENT_ID", "PAYPAL_CLIENT_SECRET"]),
    ("Afterpay", &["AFTERPAY_MERCHANT_ID", "AFTERPAY_SECRET_KEY"]),
    ("Zip", &["ZIP_MERCHANT_ID", "ZIP_API_KEY"]),
    ("SendGrid", &["SENDGRID_API_KEY"]),
    ("SMTP", &["SMTP_URL"]),
    ("Slack", &["SLACK_WEBHOOK_URL"]),
    ("Twilio", &["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_PHONE_NUMBER"]),
    ("HeyGen", &["HEYGEN_API_KEY"]),
    ("Agora", &["AGORA_APP_ID"]),
    ("ElevenLabs", &["ELEVENLABS_API_KEY"]),
    ("CJ Dropshipping", &["CJ_API_KEY"]),
    ("Wise", &["WISE_API_TOKEN"]),
    ("Australia Post", &["AUSPOST_API_KEY"]),
    ("Sendle", &["SENDLE_API_ID", "SENDLE_API_KEY"]),
    ("TikTok Shop", &["TIKTOK_SHOP_ACCESS_TOKEN", "TIKTOK_SHOP_SHOP_ID"]),
    ("Redis", &["REDIS_URL"]),
    ("S3", &["S3_ENDPOINT", "S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"]),
    ("OAuth", &["OAUTH_SERVER_URL", "VITE_APP_ID"]),
];

/// Integrations whose variables LSN reads but whose client is not built yet, with where it
/// comes (`lsn doctor` says so instead of claiming a sandbox that does not exist).
pub const NOT_BUILT: &[(&str, &str)] = &[
    ("PayPal", "a later issue (wallets and buy now, pay later)"),
    ("Afterpay", "a later issue (buy now, pay later)"),
    ("Zip", "a later issue (buy now, pay later)"),
    ("HeyGen", "issue 19 (the avatar host)"),
    ("Agora", "issue 19 (live video)"),
    ("ElevenLabs", "issue 19 (the avatar host's voice)"),
    ("CJ Dropshipping", "issue 18 (sourcing)"),
    ("Australia Post", "issue 18 (shipping)"),
    ("Sendle", "nothing: Sendle halted bookings in January 2026, so LSN does not build its client"),
    ("TikTok Shop", "a later issue (sales channels)"),
];

const PROVIDER_VARS: &[&str] = &[
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
    "VITE_STRIPE_PUBLISHABLE_KEY",
    "AFTERPAY_MERCHANT_ID",
    "AFTERPAY_SECRET_KEY",
    "ZIP_MERCHANT_ID",
    "ZIP_API_KEY",
    "PAYPAL_CLIENT_ID",
    "PAYPAL_CLIENT_SECRET",
    "SENDGRID_API_KEY",
    "SMTP_URL",
    "SLACK_WEBHOOK_URL",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_API_KEY",
    "TWILIO_API_SECRET",
    "TWILIO_PHONE_NUMBER",
    "TWILIO_API_BASE",
    "HEYGEN_API_KEY",
    "AGORA_APP_ID",
    "ELEVENLABS_API_KEY",
    "CJ_API_KEY",
    "WISE_API_TOKEN",
    "WISE_API_BASE",
    "WISE_PROFILE_ID",
    "WISE_WEBHOOK_PUBLIC_KEY",
    "WISE_SOURCE_CURRENCY",
    "STRIPE_CONNECT_WEBHOOK_SECRET",
    "AUSPOST_API_KEY",
    "SENDLE_API_ID",
    "SENDLE_API_KEY",
    "TIKTOK_SHOP_ACCESS_TOKEN",
    "TIKTOK_SHOP_SHOP_ID",
    "REDIS_URL",
    "S3_ENDPOINT",
    "S3_BUCKET",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "S3_REGION",
    "OAUTH_SERVER_URL",
    "VITE_APP_ID",
    "LSN_DATA_KEY",
    "LSN_CREATOR_HOLD_DAYS",
    "LSN_ATTRIBUTION_WINDOW_DAYS",
    "LSN_ATTRIBUTION_MODEL",
    "LSN_PAYOUT_MINIMUM",
];

/// Whether a number is E.164 (`+` then 8 to 15 digits, the first not 0).
pub fn is_e164(s: &str) -> bool {
    let Some(d) = s.strip_prefix('+') else { return false };
    (8..=15).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()) && !d.starts_with('0')
}

impl Config {
    /// Reads `lsn.toml` (if any) and the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        let explicit = std::env::var("LSN_CONFIG").ok();
        let path = explicit.clone().unwrap_or_else(|| "lsn.toml".into());
        let file = match std::fs::read_to_string(&path) {
            Ok(s) => Some(s),
            Err(e) if explicit.is_none() && e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(ConfigError::File { path, reason: e.to_string() }),
        };
        Self::from_sources(file.as_deref(), std::env::vars())
    }

    /// Builds a configuration from a TOML text and `(name, value)` pairs (the environment).
    pub fn from_sources(toml_text: Option<&str>, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        if let Some(text) = toml_text {
            let table: toml::Table =
                toml::from_str(text).map_err(|e| ConfigError::File { path: "lsn.toml".into(), reason: e.to_string() })?;
            for (k, v) in table {
                let v = match v {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    other => {
                        return Err(ConfigError::File {
                            path: "lsn.toml".into(),
                            reason: format!("{k}: expected a string, number or boolean, got {}", other.type_str()),
                        })
                    }
                };
                vars.insert(k.to_uppercase(), v);
            }
        }
        for (k, v) in env {
            vars.insert(k, v);
        }
        Self::from_map(&vars)
    }

    fn from_map(vars: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| vars.get(k).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let flag = |k: &'static str, default: bool| -> Result<bool, ConfigError> {
            match get(k).as_deref().map(str::to_ascii_lowercase).as_deref() {
                None => Ok(default),
                Some("1" | "true" | "yes" | "on") => Ok(true),
                Some("0" | "false" | "no" | "off") => Ok(false),
                Some(other) => Err(invalid(k, format!("expected true or false, got {other:?}"))),
            }
        };
        let env = match get("LSN_ENV").or_else(|| get("NODE_ENV")).as_deref() {
            None | Some("development" | "dev" | "test") => Environment::Development,
            Some("production" | "prod") => Environment::Production,
            Some(other) => return Err(invalid("LSN_ENV", format!("expected development or production, got {other:?}"))),
        };
        let host: IpAddr = match get("HOST") {
            None => IpAddr::from([127, 0, 0, 1]),
            Some(h) if h == "localhost" => IpAddr::from([127, 0, 0, 1]),
            Some(h) => h.parse().map_err(|_| invalid("HOST", format!("not an IP address: {h:?}")))?,
        };
        let port: u16 = match get("PORT") {
            None => 3000,
            Some(p) => p.parse().map_err(|_| invalid("PORT", format!("not a port number: {p:?}")))?,
        };
        let data_dir = PathBuf::from(get("LSN_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = get("DATABASE_URL").map(Secret::new);
        let db_max_connections: u32 = match get("LSN_DB_MAX_CONNECTIONS") {
            None => 8,
            Some(n) => n
                .parse()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| invalid("LSN_DB_MAX_CONNECTIONS", "expected a number from 1 to 1000"))?,
        };
        let durability = match get("LSN_DB_SYNCHRONOUS").map(|s| s.to_ascii_lowercase()).as_deref() {
            None | Some("full") => Durability::Full,
            Some("normal") => Durability::Normal,
            Some(other) => return Err(invalid("LSN_DB_SYNCHRONOUS", format!("expected full or normal, got {other:?}"))),
        };
        let public_url = get("LSN_PUBLIC_URL").unwrap_or_else(|| format!("http://localhost:{port}"));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(invalid("LSN_PUBLIC_URL", "must start with http:// or https://"));
        }
        let public_url = public_url.trim_end_matches('/').to_string();
        let timezone = match get("LSN_TIMEZONE") {
            None => chrono_tz::Australia::Sydney,
            Some(tz) => tz.parse().map_err(|_| invalid("LSN_TIMEZONE", format!("unknown time zone {tz:?}")))?,
        };
        let jwt_secret = Secret::new(get("JWT_SECRET").unwrap_or_else(|| DEV_JWT_SECRET.into()));
        let oauth = match (get("OAUTH_SERVER_URL"), get("VITE_APP_ID")) {
            (Some(server_url), Some(client_id)) => Some(OAuthConfig {
                server_url: server_url.trim_end_matches('/').to_string(),
                portal_url: get("VITE_OAUTH_PORTAL_URL"),
                client_id,
                client_secret: get("OAUTH_CLIENT_SECRET").map(Secret::new),
            }),
            (Some(_), None) => return Err(invalid("VITE_APP_ID", "required when OAUTH_SERVER_URL is set (the OAuth client id)")),
            _ => None,
        };
        let mail = if let Some(key) = get("SENDGRID_API_KEY") {
            MailTransport::SendGrid {
                api_key: Secret::new(key),
                base_url: get("SENDGRID_API_URL").unwrap_or_else(|| "https://api.sendgrid.com".into()),
            }
        } else if let Some(url) = get("SMTP_URL") {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                return Err(invalid("SMTP_URL", "must start with smtp:// or smtps://"));
            }
            MailTransport::Smtp { url: Secret::new(url) }
        } else {
            MailTransport::Mailbox
        };
        let founder_email = match get("FOUNDER_EMAIL") {
            None => None,
            Some(e) => Some(crate::Email::parse(&e).map_err(|r| invalid("FOUNDER_EMAIL", r))?.to_string()),
        };
        let log_format_json = match get("LSN_LOG_FORMAT").as_deref() {
            None => env == Environment::Production,
            Some("json") => true,
            Some("text") => false,
            Some(other) => return Err(invalid("LSN_LOG_FORMAT", format!("expected text or json, got {other:?}"))),
        };
        let provider_timeout = match get("LSN_PROVIDER_TIMEOUT_SECS") {
            None => std::time::Duration::from_secs(10),
            Some(n) => n
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=120).contains(n))
                .map(std::time::Duration::from_secs)
                .ok_or_else(|| invalid("LSN_PROVIDER_TIMEOUT_SECS", "expected a number of seconds from 1 to 120"))?,
        };
        let trusted_proxies = match get("LSN_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<IpAddr>().map_err(|_| invalid("LSN_TRUSTED_PROXIES", format!("not an IP address: {s:?}"))))
                .collect::<Result<Vec<_>, _>>()?,
        };
        let max_unpaid_checkouts = match get("LSN_MAX_UNPAID_CHECKOUTS") {
            None => 3,
            Some(n) => n
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=100_000).contains(n))
                .ok_or_else(|| invalid("LSN_MAX_UNPAID_CHECKOUTS", "expected a number from 1 to 100000"))?,
        };
        let max_unpaid_per_network = match get("LSN_MAX_UNPAID_PER_NETWORK") {
            None => 3,
            Some(n) => n
                .parse::<i64>()
                .ok()
                .filter(|n| (0..=100_000).contains(n))
                .ok_or_else(|| invalid("LSN_MAX_UNPAID_PER_NETWORK", "expected a number from 0 (no cap) to 100000"))?,
        };
        let list = |k: &str| {
            get(k)
                .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let alert_email_to = list("LSN_ALERT_EMAIL_TO")
            .iter()
            .map(|e| crate::Email::parse(e).map(|e| e.to_string()).map_err(|r| invalid("LSN_ALERT_EMAIL_TO", r)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut summary_to: Vec<String> = Vec::new();
        for e in list("LSN_SUMMARY_TO") {
            let e = crate::Email::parse(&e).map(|e| e.to_string()).map_err(|r| invalid("LSN_SUMMARY_TO", r))?;
            if !summary_to.contains(&e) && founder_email.as_ref() != Some(&e) {
                summary_to.push(e);
            }
        }
        let alert_sms_to = list("LSN_ALERT_SMS_TO");
        if let Some(bad) = alert_sms_to.iter().find(|n| !is_e164(n)) {
            return Err(invalid("LSN_ALERT_SMS_TO", format!("{bad:?} is not an E.164 number (+61400000000)")));
        }
        let alert_escalate_minutes = match get("LSN_ALERT_ESCALATE_MINUTES") {
            None => 15,
            Some(n) => n
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=1440).contains(n))
                .ok_or_else(|| invalid("LSN_ALERT_ESCALATE_MINUTES", "expected a number of minutes from 1 to 1440"))?,
        };
        let mut providers = BTreeMap::new();
        for name in PROVIDER_VARS {
            if let Some(v) = get(name) {
                providers.insert(*name, Secret::new(v));
            }
        }
        let cfg = Config {
            env,
            host,
            port,
            data_dir,
            database_url,
            db_max_connections,
            durability,
            auto_migrate: flag("LSN_AUTO_MIGRATE", true)?,
            demo: flag("LSN_DEMO", true)?,
            public_url,
            timezone,
            jwt_secret,
            enable_autonomous: flag("ENABLE_AUTONOMOUS", false)?,
            enable_autonomous_streams: flag("ENABLE_AUTONOMOUS_STREAMS", false)?,
            founder_email,
            summary_to,
            oauth,
            owner_open_id: get("OWNER_OPEN_ID"),
            owner_name: get("OWNER_NAME"),
            shop_name: get("LSN_SHOP_NAME")
                .map(|n| n.trim().chars().take(60).collect::<String>())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "LSN Live".into()),
            mail,
            mail_from: get("MAIL_FROM").unwrap_or_else(|| "LSN <no-reply@localhost>".into()),
            provider_timeout,
            redis_url: get("REDIS_URL").map(Secret::new),
            trusted_proxies,
            max_unpaid_checkouts,
            max_unpaid_per_network,
            log_format_json,
            alert_email_to,
            alert_sms_to,
            alert_escalate_minutes,
            providers,
        };
        if cfg.env == Environment::Production {
            let problems = cfg.production_problems();
            if !problems.is_empty() {
                return Err(ConfigError::Production(problems));
            }
        }
        Ok(cfg)
    }

    /// What keeps this configuration from running a production shop, one line per variable.
    pub fn production_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let jwt = self.jwt_secret.expose();
        if jwt == DEV_JWT_SECRET {
            out.push("JWT_SECRET is missing or left at the development default".to_string());
        } else if jwt.len() < 32 {
            out.push("JWT_SECRET must be at least 32 characters".to_string());
        }
        for var in ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"] {
            if !self.providers.contains_key(var) {
                out.push(format!("{var} is missing"));
            }
        }
        if self.mail == MailTransport::Mailbox {
            out.push("SENDGRID_API_KEY (or SMTP_URL) is missing: production mail cannot stay in the development mailbox".to_string());
        }
        out
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }

    pub fn provider(&self, var: &str) -> Option<&Secret> {
        self.providers.get(var)
    }

    /// `(integration, "credentials" | "sandbox")` for every integration.
    pub fn integration_modes(&self) -> Vec<(&'static str, bool)> {
        INTEGRATIONS.iter().map(|(name, vars)| (*name, vars.iter().all(|v| self.providers.contains_key(v)))).collect()
    }

    /// The SQLite file used when `DATABASE_URL` is unset.
    pub fn default_sqlite_path(&self) -> PathBuf {
        self.data_dir.join("lsn.db")
    }

    pub fn backup_dir(&self) -> PathBuf {
        self.data_dir.join("backups")
    }

    pub fn media_dir(&self) -> PathBuf {
        self.data_dir.join("media")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_sources(None, pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn summary_stakeholders_are_addresses_without_repeats() {
        let c = cfg(&[("FOUNDER_EMAIL", "me@shop.example"), ("LSN_SUMMARY_TO", " cfo@shop.example, Me@shop.example,,cfo@shop.example ")])
            .expect("valid");
        assert_eq!(c.summary_to, ["cfo@shop.example"], "trimmed, the founder and repeats left out");
        assert!(cfg(&[]).expect("defaults").summary_to.is_empty());
        let bad = cfg(&[("LSN_SUMMARY_TO", "cfo@shop.example, not-an-address")]).expect_err("refused");
        assert!(bad.to_string().contains("LSN_SUMMARY_TO"), "{bad}");
    }

    #[test]
    fn development_runs_with_nothing_set() {
        let c = cfg(&[]).expect("defaults");
        assert_eq!(c.env, Environment::Development);
        assert_eq!(c.port, 3000);
        assert_eq!(c.host.to_string(), "127.0.0.1");
        assert_eq!(c.mail, MailTransport::Mailbox);
        assert_eq!(c.durability, Durability::Full);
        assert!(c.integration_modes().iter().all(|(_, real)| !real));
    }

    #[test]
    fn production_names_every_missing_secret() {
        let err = cfg(&[("LSN_ENV", "production")]).expect_err("must refuse");
        let ConfigError::Production(lines) = err else { panic!("wrong error") };
        let all = lines.join("\n");
        for var in ["JWT_SECRET", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "SENDGRID_API_KEY"] {
            assert!(all.contains(var), "{var} not named in {all}");
        }
        let err = cfg(&[("NODE_ENV", "production"), ("JWT_SECRET", DEV_JWT_SECRET)]).expect_err("dev default refused");
        assert!(err.to_string().contains("development default"));
    }

    #[test]
    fn production_starts_when_complete_and_hides_secrets() {
        let c = cfg(&[
            ("LSN_ENV", "production"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef-prod"),
            ("STRIPE_SECRET_KEY", "sk_live_supersecret"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_supersecret"),
            ("SENDGRID_API_KEY", "SG.supersecret"),
        ])
        .expect("complete");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("supersecret") && !dbg.contains("0123456789abcdef"), "{dbg}");
        assert!(c.log_format_json);
    }

    #[test]
    fn file_then_env() {
        let c = Config::from_sources(
            Some("port = 4000\nhost = \"0.0.0.0\"\nLSN_TIMEZONE = \"UTC\""),
            [("PORT".to_string(), "5000".to_string())],
        )
        .expect("ok");
        assert_eq!(c.port, 5000);
        assert_eq!(c.host.to_string(), "0.0.0.0");
        assert_eq!(c.timezone, chrono_tz::UTC);
        assert!(matches!(cfg(&[("PORT", "x")]), Err(ConfigError::Invalid { var: "PORT", .. })));
        assert!(matches!(cfg(&[("SMTP_URL", "http://x")]), Err(ConfigError::Invalid { var: "SMTP_URL", .. })));
        assert!(Config::from_sources(Some("port = [1]"), Vec::new()).is_err());
    }
}

#[cfg(test)]
mod docs_tests {
    /// `docs/configuration.md` lists every variable the code reads.
    #[test]
    fn configuration_doc_lists_every_variable() {
        let doc = include_str!("../../../../docs/configuration.md");
        for (name, _, _) in super::VARIABLES {
            assert!(doc.contains(&format!("`{name}`")), "docs/configuration.md does not mention {name}");
        }
    }
}
