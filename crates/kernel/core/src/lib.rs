//! The shared kernel of LSN: identifiers, money, time, configuration, secrets and the
//! problem type every domain error is turned into at the HTTP edge.
//!
//! This crate depends on no other LSN crate and holds no business rules of its own: a type
//! lives here only when two or more domains need to agree on it.

pub mod access;
pub mod clock;
pub mod config;
pub mod email;
pub mod i18n;
pub mod ids;
pub mod money;
pub mod openapi;
pub mod problem;
pub mod secret;
pub mod stripe_signature;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use config::{Config, ConfigError, Environment};
pub use email::Email;
pub use problem::ApiError;
pub use secret::Secret;
