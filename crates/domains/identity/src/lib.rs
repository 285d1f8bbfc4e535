//! Identity: users and roles, password and OpenID Connect sign-in, server-side sessions, API keys,
//! CSRF protection, sign-in rate limits and the audit log.
//!
//! Rules this crate keeps: passwords are hashed with argon2id; tokens (sessions, API keys, reset
//! links) are stored only as SHA-256 hashes; no answer ever tells whether an address has an
//! account; every security-relevant change is written to the audit log in the same transaction.

pub mod access;
pub mod admin;

/// Identity's schema steps (its earlier tables are in [`lsn_db::HISTORY`]).
pub const MIGRATIONS: &[lsn_db::Migration] = &[
    lsn_db::Migration::portable(14, "user names view", include_str!("../migrations/0014_user_names.sql")),
    lsn_db::Migration::portable(16, "user locale", include_str!("../migrations/0016_user_locale.sql")),
    lsn_db::Migration::portable(18, "user contacts view", include_str!("../migrations/0018_user_contacts.sql")),
];
pub mod audit;
pub mod csrf;
pub mod demo;
pub mod error;
pub mod extract;
pub mod locale;
pub mod oidc;
pub mod openapi;
pub mod pages;
pub mod password;
pub mod routes;
pub mod service;

pub use access::{Access, Scope};
pub use error::IdentityError;
pub use extract::{AuthUser, ClientMeta, MaybeUser};
pub use service::{Identity, Role, User};

pub const CLEANUP_JOB: &str = "identity.cleanup";

/// `identity.cleanup`: removes expired sessions, one-time tokens and old sign-in failures.
struct Cleanup(Identity);

#[async_trait::async_trait]
impl lsn_ops::JobHandler for Cleanup {
    async fn run(&self, _ctx: &lsn_ops::JobContext, _payload: &serde_json::Value) -> Result<(), lsn_ops::JobError> {
        let n = self.0.cleanup().await.map_err(|e| lsn_ops::JobError::Retry(e.to_string()))?;
        tracing::debug!(removed = n, "identity cleanup");
        Ok(())
    }
}

impl Identity {
    /// Identity as a module: its API, its schema steps, its cleanup (its mail goes through the
    /// operations module's mail job).
    pub fn module(&self) -> lsn_ops::Module {
        let (router, table) = routes::router::<Identity>().into_parts();
        let (pages, mut page_table) = pages::router();
        let (admin_pages, admin_table) = admin::router();
        page_table.extend(admin_table);
        let pages = pages.merge(admin_pages);
        let mut m = lsn_ops::Module::new("identity")
            .api(lsn_ops::Routed::new(router.with_state(self.clone()), table))
            .pages(lsn_ops::Routed::new(pages.with_state(self.clone()), page_table))
            .openapi(openapi::fragment())
            .undocumented("/api/oauth/login", "a browser's redirect to the OpenID Connect provider, not a JSON call")
            .undocumented("/api/oauth/callback", "the OpenID Connect provider's redirect back, not a JSON call")
            .migrations(MIGRATIONS)
            .limit(self.ip_limiter.clone())
            .limit(self.hash_limiter.clone())
            .job(CLEANUP_JOB, std::sync::Arc::new(Cleanup(self.clone())))
            .schedule(lsn_ops::Schedule {
                name: "session_cleanup",
                cron: "0 17 * * * *",
                job_kind: CLEANUP_JOB,
                payload: serde_json::json!({}),
                description: "Remove expired sessions, one-time tokens and old sign-in failures",
                autonomous: false,
            });
        for (path, label) in admin::NAV {
            m = m.nav(path, label);
        }
        m
    }
}
