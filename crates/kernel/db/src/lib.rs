//! Storage for every LSN domain: one set of SQL served by embedded SQLite or PostgreSQL.
//!
//! The mechanism (see `docs/architecture.md`): one query API ([`query`]) over sqlx for
//! PostgreSQL and rusqlite for SQLite, so a query is written once with `$1, $2` placeholders and
//! portable column types (`TEXT`, `BIGINT`, no booleans, times as Unix milliseconds). The few
//! places where the dialects differ live in [`dialect`].
//!
//! This crate owns connections, migrations, transaction retries, backup and restore. It knows
//! nothing of HTTP and holds no business rules.

pub mod backup;
pub mod dialect;
mod error;
mod group;
mod ids;
mod lite;
mod migrate;
mod pool;
mod retry;
mod row;
mod sql;

pub use error::{Error, ErrorKind};
#[doc(hidden)]
pub use lsn_core::ids::new_id;
pub use migrate::{Migration, MigrationStatus, Schema, HISTORY};
pub use pool::{check_sqlite_file, Backend, BoxFuture, Db, DbError, DbTarget, Reader, Writer};
pub use retry::{is_foreign_key_violation, is_retryable, is_unavailable, is_unique_violation, TxError};
pub use row::{Decode, Done, IntoValue, Kind, Row, RowExt, RowIndex, ToValue, Typed, Value};
pub use sql::{query, Conn, Executor, Query, Slow, Target, Tx};
