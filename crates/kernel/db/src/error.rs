//! The one error every query, row and transaction of this crate returns, and what kind of
//! failure it is: the domains decide on the kind ([`Error::kind`], [`Error::is_unique_violation`])
//! and never see the driver beneath (sqlx for PostgreSQL, rusqlite for SQLite).

use std::fmt;

/// A database error: a statement the database refused, a row or column that was not there, a
/// value that could not be read, or a database out of reach.
pub struct Error(sqlx::Error);

/// What went wrong, as far as a caller decides on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A unique constraint refused a row ([`Error::is_unique_violation`] says which).
    UniqueViolation,
    /// A row still referenced elsewhere was deleted, or a reference points at nothing.
    ForeignKeyViolation,
    /// A serialization failure, deadlock or busy database: running the transaction again may
    /// succeed ([`crate::Db::transaction`] does, up to 8 times).
    Retryable,
    /// The database is out of reach (down, restarting, refusing connections, every connection
    /// busy too long): answer "try again shortly", not "bug".
    Unavailable,
    /// `fetch_one` found no row.
    RowNotFound,
    /// A column that is not in the row, or a value that is not of the type asked for.
    Column,
    /// Anything else: a statement the database refused (a bug in the query), a protocol error.
    Other,
}

impl Error {
    /// A stored value this program cannot read (an unknown status, a malformed role).
    pub fn decode(what: impl Into<String>) -> Self {
        Error(sqlx::Error::Decode(what.into().into()))
    }

    /// The error `fetch_one` gives when no row matched.
    pub fn row_not_found() -> Self {
        Error(sqlx::Error::RowNotFound)
    }

    /// Something this crate's caller did out of order (a statement on an ended transaction).
    pub(crate) fn misuse(what: impl Into<String>) -> Self {
        Error(sqlx::Error::Protocol(what.into()))
    }

    pub(crate) fn closed() -> Self {
        Error(sqlx::Error::PoolClosed)
    }

    pub(crate) fn column_not_found(index: impl Into<String>) -> Self {
        Error(sqlx::Error::ColumnNotFound(index.into()))
    }

    pub(crate) fn column_decode(index: impl Into<String>, why: impl Into<String>) -> Self {
        Error(sqlx::Error::ColumnDecode { index: index.into(), source: why.into().into() })
    }

    pub fn kind(&self) -> ErrorKind {
        let e = &self.0;
        if is_unavailable(e) {
            return ErrorKind::Unavailable;
        }
        match e {
            sqlx::Error::RowNotFound => ErrorKind::RowNotFound,
            sqlx::Error::ColumnNotFound(_) | sqlx::Error::ColumnDecode { .. } | sqlx::Error::ColumnIndexOutOfBounds { .. } => {
                ErrorKind::Column
            }
            sqlx::Error::Database(d) => match d.code().as_deref() {
                Some("23505" | "2067" | "1555") => ErrorKind::UniqueViolation,
                Some("23503" | "787") => ErrorKind::ForeignKeyViolation,
                Some("40001" | "40P01") => ErrorKind::Retryable,
                // SQLITE_BUSY (5) and SQLITE_LOCKED (6) with their extended codes.
                Some(c) if c.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6)) => ErrorKind::Retryable,
                _ => ErrorKind::Other,
            },
            _ => ErrorKind::Other,
        }
    }

    /// A unique-constraint violation, optionally only on the named constraint or column.
    ///
    /// PostgreSQL reports the constraint name; SQLite reports `table.column` in the message (the
    /// extended code 2067 says which kind it is), so pass the column for SQLite.
    pub fn is_unique_violation(&self, constraint_or_column: Option<&str>) -> bool {
        if self.kind() != ErrorKind::UniqueViolation {
            return false;
        }
        let sqlx::Error::Database(d) = &self.0 else {
            return false;
        };
        match constraint_or_column {
            None => true,
            Some(name) => d.constraint() == Some(name) || d.message().contains(name),
        }
    }

    /// The database's own error code (SQLSTATE on PostgreSQL, the extended result code on
    /// SQLite), for logs and tests.
    pub fn code(&self) -> Option<String> {
        match &self.0 {
            sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
            _ => None,
        }
    }

    #[cfg(test)]
    pub(crate) fn sqlx(&self) -> &sqlx::Error {
        &self.0
    }
}

/// PostgreSQL: connection exceptions (08xxx), shutting down or starting up (57P01-57P03), too
/// many connections (53300), a database not accepting connections (55000, on connect).
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| {
            c.starts_with("08")
                || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
                || (c == "55000" && d.message().contains("not currently accepting connections"))
        }),
        _ => false,
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}
