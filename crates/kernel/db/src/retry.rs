//! Which database errors are worth running a transaction again for.

/// Errors a retrying transaction can look through to the database error beneath.
pub trait TxError: From<sqlx::Error> {
    fn as_sqlx(&self) -> Option<&sqlx::Error>;
}

impl TxError for sqlx::Error {
    fn as_sqlx(&self) -> Option<&sqlx::Error> {
        Some(self)
    }
}

/// Serialization failure and deadlock (PostgreSQL and the distributed engines that speak its
/// protocol), busy or locked (SQLite, including a stale WAL snapshot).
pub fn is_retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code();
            match code.as_deref() {
                Some("40001" | "40P01") => true,
                // SQLITE_BUSY (5) and SQLITE_LOCKED (6) with their extended codes.
                Some(c) => c.parse::<i32>().map(|n| matches!(n & 0xff, 5 | 6)).unwrap_or(false),
                None => false,
            }
        }
        _ => false,
    }
}

/// The database itself is out of reach (down, restarting, refusing or dropping connections,
/// every connection busy for too long), as opposed to a fault in the statement: the caller
/// should answer "try again shortly" rather than report a bug.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL: connection exceptions (08xxx), shutting down or starting up (57P01-57P03),
        // too many connections (53300), a database not accepting connections (55000, on connect).
        sqlx::Error::Database(d) => d.code().is_some_and(|c| {
            c.starts_with("08")
                || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
                || (c == "55000" && d.message().contains("not currently accepting connections"))
        }),
        _ => false,
    }
}

/// A foreign-key violation: a row still referenced elsewhere was deleted, or a reference points
/// at nothing (PostgreSQL 23503, SQLite's extended code 787).
pub fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("23503" | "787")))
}

/// A unique-constraint violation, optionally only on the named constraint or column.
///
/// PostgreSQL reports the constraint name; SQLite reports `table.column` in the message (the
/// extended code 2067 says which kind it is), so pass the column for SQLite.
pub fn is_unique_violation(e: &sqlx::Error, constraint_or_column: Option<&str>) -> bool {
    let sqlx::Error::Database(d) = e else {
        return false;
    };
    let kind = d.code();
    let unique = matches!(kind.as_deref(), Some("23505" | "2067" | "1555"));
    if !unique {
        return false;
    }
    match constraint_or_column {
        None => true,
        Some(name) => d.constraint() == Some(name) || d.message().contains(name),
    }
}
