//! Storage for every LSN domain: one set of SQL served by embedded SQLite or PostgreSQL.
//!
//! The mechanism (see `docs/architecture.md`): sqlx's `Any` driver, so a query is written once
//! with `$1, $2` placeholders and portable column types (`TEXT`, `BIGINT`, no booleans, times as
//! Unix milliseconds). The few places where the dialects differ live in [`dialect`].
//!
//! This crate owns connections, migrations, transaction retries, backup and restore. It knows
//! nothing of HTTP and holds no business rules.

pub mod backup;
pub mod dialect;
mod group;
mod migrate;
mod pool;
mod retry;

pub use migrate::{MigrationStatus, MIGRATIONS};
pub use pool::{check_sqlite_file, Backend, BoxFuture, Db, DbError, DbTarget};
pub use retry::{is_retryable, is_unavailable, is_unique_violation, TxError};

/// The transaction type every query function takes.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;
/// A row from either backend.
pub type Row = sqlx::any::AnyRow;
pub use sqlx::Row as RowExt;
