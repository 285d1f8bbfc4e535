//! The few places where SQLite and PostgreSQL need different SQL. Everything else is shared.

use crate::Backend;

/// Claims up to `$4` due jobs, most urgent first. SQLite has one writer, so the subquery cannot
/// race; PostgreSQL skips rows another worker has locked instead of waiting on them.
/// Binds: $1 worker, $2 lock-until, $3 now, $4 batch size.
pub fn claim_jobs(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs WHERE status = 'queued' AND run_at <= $3 ORDER BY priority, run_at LIMIT $4) \
             RETURNING id, kind, payload, attempts, max_attempts, schedule, priority, run_at"
        }
        Backend::Postgres => {
            "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs WHERE status = 'queued' AND run_at <= $3 ORDER BY priority, run_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING id, kind, payload, attempts, max_attempts, schedule, priority, run_at"
        }
    }
}

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

/// A condition matching products whose search text has every word of the query as a word
/// prefix; `param` is the placeholder (`$3`) bound to [`text_query`]'s value.
pub fn text_match(backend: Backend, param: &str) -> String {
    match backend {
        Backend::Sqlite => format!("p.rowid IN (SELECT rowid FROM products_fts WHERE products_fts MATCH {param})"),
        Backend::Postgres => format!("to_tsvector('simple', p.search_text) @@ to_tsquery('simple', {param})"),
    }
}

/// The bound value for [`text_match`] from normalised words (letters and digits only).
pub fn text_query(backend: Backend, words: &[String]) -> String {
    match backend {
        Backend::Sqlite => words.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" AND "),
        Backend::Postgres => words.iter().map(|w| format!("{w}:*")).collect::<Vec<_>>().join(" & "),
    }
}
