//! Identity: users and roles, password and OpenID Connect sign-in, server-side sessions, API keys,
//! CSRF protection, sign-in rate limits and the audit log.
//!
//! Rules this crate keeps: passwords are hashed with argon2id; tokens (sessions, API keys, reset
//! links) are stored only as SHA-256 hashes; no answer ever tells whether an address has an
//! account; every security-relevant change is written to the audit log in the same transaction.

pub mod audit;
pub mod csrf;
pub mod error;
pub mod extract;
pub mod oidc;
pub mod password;
pub mod ratelimit;
pub mod routes;
pub mod service;

pub use error::IdentityError;
pub use extract::{AuthUser, ClientMeta, MaybeUser};
pub use service::{Identity, Role, User};
