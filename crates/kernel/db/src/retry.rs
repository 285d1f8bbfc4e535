//! Which database errors are worth running a transaction again for, and the error types a
//! transaction body may return.

use crate::error::{Error, ErrorKind};

/// Errors a retrying transaction can look through to the database error beneath.
pub trait TxError: From<Error> {
    fn as_db(&self) -> Option<&Error>;
}

impl TxError for Error {
    fn as_db(&self) -> Option<&Error> {
        Some(self)
    }
}

/// Serialization failure and deadlock (PostgreSQL and the distributed engines that speak its
/// protocol), busy or locked (SQLite, including a stale WAL snapshot).
pub fn is_retryable(e: &Error) -> bool {
    e.kind() == ErrorKind::Retryable
}

/// The database itself is out of reach (down, restarting, refusing or dropping connections,
/// every connection busy for too long), as opposed to a fault in the statement: the caller
/// should answer "try again shortly" rather than report a bug.
pub fn is_unavailable(e: &Error) -> bool {
    e.kind() == ErrorKind::Unavailable
}

/// A foreign-key violation: a row still referenced elsewhere was deleted, or a reference points
/// at nothing (PostgreSQL 23503, SQLite's extended code 787).
pub fn is_foreign_key_violation(e: &Error) -> bool {
    e.kind() == ErrorKind::ForeignKeyViolation
}

/// See [`Error::is_unique_violation`].
pub fn is_unique_violation(e: &Error, constraint_or_column: Option<&str>) -> bool {
    e.is_unique_violation(constraint_or_column)
}
