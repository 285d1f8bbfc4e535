//! `--db` as the bench binaries take it: a file path (SQLite) or a database URL.

/// A `postgres://` or `sqlite:` URL as given; anything else is a SQLite file's path.
pub fn database_url(db: &str) -> String {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") || db.starts_with("sqlite:") {
        db.to_string()
    } else {
        format!("sqlite://{db}")
    }
}
