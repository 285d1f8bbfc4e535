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
mod tx;

pub use error::{Error, ErrorKind};
#[doc(hidden)]
pub use lsn_core::ids::new_id;
pub use migrate::{Migration, MigrationStatus, Schema, HISTORY};
pub use pool::{check_sqlite_file, Backend, Db, DbError, DbTarget, Reader, Slow, Writer};
pub use retry::{is_foreign_key_violation, is_retryable, is_unavailable, is_unique_violation, TxError};
pub use row::{Decode, Done, IntoValue, Kind, Row, RowExt, RowIndex, ToValue, Typed, Value};
pub use sql::{query, BoxFuture, Conn, Executor, Query, Target, Tx};

#[cfg(test)]
mod layers {
    /// The modules from the bottom up. Each uses only those below it (doc links and tests
    /// aside): values and rows, SQLite's connection, statements, transactions, the SQLite
    /// writer's queue, the pool, and what is built on the pool.
    const LAYERS: &[&str] = &["error", "row", "ids", "dialect", "retry", "lite", "sql", "tx", "group", "pool", "migrate", "backup"];

    #[test]
    fn each_module_uses_only_those_below_it() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut problems = Vec::new();
        for (level, name) in LAYERS.iter().enumerate() {
            let text = std::fs::read_to_string(dir.join(format!("{name}.rs"))).expect("module source");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (i, _) in line.match_indices("crate::") {
                    let used: String = line[i + 7..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                    if let Some(at) = LAYERS.iter().position(|m| *m == used) {
                        if at >= level && used != *name {
                            problems.push(format!("{name} uses {used}: {}", line.trim()));
                        }
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
