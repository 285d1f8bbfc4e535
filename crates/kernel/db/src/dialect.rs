//! The few places where SQLite and PostgreSQL need different SQL. Everything else is shared.

use crate::Backend;

/// A `SELECT`'s suffix that locks the rows it reads of `table` until the transaction ends.
/// SQLite needs none: its single writer already runs write transactions one at a time.
pub fn lock_rows(backend: Backend, table: &str) -> String {
    match backend {
        Backend::Sqlite => String::new(),
        Backend::Postgres => format!(" FOR UPDATE OF {table}"),
    }
}

/// Counts the user tables (for restore's "is this database live?" check).
pub fn count_tables(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SELECT CAST(count(*) AS BIGINT) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        Backend::Postgres => "SELECT CAST(count(*) AS BIGINT) FROM information_schema.tables WHERE table_schema = 'public'",
    }
}
