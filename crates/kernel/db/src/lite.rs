//! Embedded SQLite through rusqlite, on the calling thread.
//!
//! sqlx runs each SQLite connection on a thread of its own and hands it every statement over a
//! channel: two thread switches per statement, which profiles showed to be half the server's CPU
//! under checkout load. Here a statement runs where it is called instead. Reads take one of a few
//! connections (each behind a lock held for that one statement; SQLite answers them in
//! microseconds); writes run on the writer's connection, from the writer's own thread, so a whole
//! write transaction runs there start to finish (see [`crate::group`]).

use crate::row::{LiteRow, Output, Row, Value, Want};
use std::borrow::Cow;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// One connection, shared; `None` once closed.
type Slot = Mutex<Option<rusqlite::Connection>>;

fn lock(slot: &Slot) -> MutexGuard<'_, Option<rusqlite::Connection>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `f` on an open connection (`PoolClosed` once it is closed).
fn on<R>(conn: &Option<rusqlite::Connection>, f: impl FnOnce(&rusqlite::Connection) -> Result<R, sqlx::Error>) -> Result<R, sqlx::Error> {
    conn.as_ref().map_or(Err(sqlx::Error::PoolClosed), f)
}

/// The writer's connection.
#[derive(Debug, Clone)]
pub(crate) struct LiteConn {
    slot: Arc<Slot>,
    /// Held for a whole transaction by whoever runs one, so two never interleave statements.
    gate: Arc<tokio::sync::Mutex<()>>,
    /// Set by the checkpointer when the WAL needs the writer to finish a checkpoint.
    checkpoint_asked: Arc<std::sync::atomic::AtomicBool>,
}

impl LiteConn {
    pub(crate) fn with<R>(&self, f: impl FnOnce(&rusqlite::Connection) -> Result<R, sqlx::Error>) -> Result<R, sqlx::Error> {
        on(&lock(&self.slot), f)
    }

    /// Runs statements without parameters (`BEGIN`, `COMMIT`, a migration).
    pub(crate) fn batch(&self, sql: &str) -> Result<(), sqlx::Error> {
        self.with(|c| c.execute_batch(sql).map_err(error))
    }

    pub(crate) async fn gate(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.gate.lock().await
    }

    pub(crate) fn idle(&self) -> usize {
        usize::from(self.gate.try_lock().is_ok())
    }

    /// Between transactions: finishes a checkpoint if the checkpointer asked for one (see
    /// [`start_checkpointer`]), so that the next transaction starts the WAL again.
    pub(crate) fn checkpoint_if_asked(&self) {
        if self.checkpoint_asked.swap(false, Ordering::Relaxed) {
            if let Err(e) = self.with(checkpoint) {
                tracing::warn!("WAL checkpoint on the writer failed: {e}");
            }
        }
    }

    pub(crate) fn close(&self) {
        lock(&self.slot).take();
    }
}

/// The read connections: several for the requests' reads, and one more for long reads and the
/// WAL checkpoints, so that a backup taking seconds never holds a connection a request waits for.
#[derive(Debug)]
pub(crate) struct LitePool {
    slots: Vec<Slot>,
    next: AtomicUsize,
    slow: Slot,
}

impl LitePool {
    /// Runs `f` on a free connection (waiting for one if all are in use).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&rusqlite::Connection) -> Result<R, sqlx::Error>) -> Result<R, sqlx::Error> {
        let n = self.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(guard) = self.slots[(start + i) % n].try_lock() {
                return on(&guard, f);
            }
        }
        on(&lock(&self.slots[start % n]), f)
    }

    /// Runs `f` on the connection for long reads (waiting for it, one long read at a time).
    pub(crate) fn with_slow<R>(&self, f: impl FnOnce(&rusqlite::Connection) -> Result<R, sqlx::Error>) -> Result<R, sqlx::Error> {
        on(&lock(&self.slow), f)
    }

    pub(crate) fn size(&self) -> u32 {
        self.slots.len() as u32
    }

    pub(crate) fn idle(&self) -> usize {
        self.slots.iter().filter(|s| s.try_lock().is_ok()).count()
    }

    pub(crate) fn close(&self) {
        for s in self.slots.iter().chain([&self.slow]) {
            lock(s).take();
        }
    }
}

/// Opens a connection with LSN's settings (`pragmas`: a batch of `PRAGMA` statements).
fn open(path: &Path, pragmas: &str) -> Result<rusqlite::Connection, sqlx::Error> {
    use rusqlite::OpenFlags;
    let flags =
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(error)?;
    conn.execute_batch(pragmas).map_err(error)?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

/// The writer's connection and `readers` read connections to the database at `path`.
pub(crate) fn open_all(path: &Path, pragmas: &str, readers: u32) -> Result<(LiteConn, LitePool), sqlx::Error> {
    let writer = open(path, pragmas)?;
    let slots = (0..readers.max(1)).map(|_| open(path, pragmas).map(|c| Mutex::new(Some(c)))).collect::<Result<Vec<_>, _>>()?;
    Ok((
        LiteConn {
            slot: Arc::new(Mutex::new(Some(writer))),
            gate: Arc::new(tokio::sync::Mutex::new(())),
            checkpoint_asked: Arc::default(),
        },
        LitePool { slots, next: AtomicUsize::new(0), slow: Mutex::new(Some(open(path, pragmas)?)) },
    ))
}

/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
/// WAL frames (pages) past which the writer is asked to finish a checkpoint itself, so that the
/// WAL starts again from its beginning (about 8 MB).
const RESTART_FRAMES: i64 = 2000;

/// Starts a thread that checkpoints the WAL every [`CHECKPOINT_EVERY`] on the slow-read connection, and
/// turns off the writer's own checkpoints, so the writer does not stop to copy pages (and, with
/// `synchronous=FULL`, to wait for the disk a second time) in the middle of its queue. A
/// `PASSIVE` checkpoint never blocks the writer or the readers.
///
/// The WAL can only start again from its beginning once every frame in it is copied, which a
/// checkpoint running beside a busy writer never sees; so when the WAL passes [`RESTART_FRAMES`]
/// the writer is asked to checkpoint between two groups (see [`LiteConn::checkpoint_if_asked`]),
/// which then only has the last few frames left to copy.
///
/// The thread ends when the returned sender is dropped (the `Db` is gone) or the connections are
/// closed. `None`, with the writer checkpointing as SQLite does by default, if the thread cannot
/// start.
pub(crate) fn start_checkpointer(writer: &LiteConn, readers: Arc<LitePool>) -> Option<std::sync::mpsc::Sender<()>> {
    use std::sync::mpsc::RecvTimeoutError;
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let ask = writer.checkpoint_asked.clone();
    let started = std::thread::Builder::new().name("lsn-db-checkpoint".into()).spawn(move || loop {
        if !matches!(stopped.recv_timeout(CHECKPOINT_EVERY), Err(RecvTimeoutError::Timeout)) {
            return;
        }
        match readers.with_slow(checkpoint) {
            Ok(frames) if frames > RESTART_FRAMES => ask.store(true, Ordering::Relaxed),
            Ok(_) => {}
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => tracing::warn!("WAL checkpoint failed (retrying): {e}"),
        }
    });
    match started {
        Ok(_) => writer.batch("PRAGMA wal_autocheckpoint = 0;").ok().map(|()| stop),
        Err(e) => {
            tracing::warn!("cannot start the WAL checkpoint thread, the writer checkpoints itself: {e}");
            None
        }
    }
}

/// A `PASSIVE` checkpoint; returns the frames in the WAL.
fn checkpoint(c: &rusqlite::Connection) -> Result<i64, sqlx::Error> {
    c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)).map_err(error)
}

/// Runs one statement on `conn`. Parameters are `$1`, `$2`, … (or `?1`, …) and may repeat or
/// come in any order, as with sqlx.
pub(crate) fn run(conn: &rusqlite::Connection, sql: &str, args: &[Value], want: Want) -> Result<Output, sqlx::Error> {
    let started = std::time::Instant::now();
    let out = run_timed(conn, sql, args, want);
    let took = started.elapsed();
    // Every statement at debug level, as sqlx logs its own (`LSN_LOG=…,lsn_db::statement=debug`).
    tracing::debug!(target: "lsn_db::statement", elapsed_us = took.as_micros() as u64, ok = out.is_ok(), "{sql}");
    if took >= SLOW_STATEMENT {
        // A statement this slow holds up a request thread (or, when writing, every writer).
        let head: String = sql.chars().take(200).collect();
        tracing::warn!(elapsed_ms = took.as_millis() as u64, statement = %head, "slow SQLite statement");
    }
    out
}

/// A statement slower than this is logged (as sqlx logs its slow statements).
const SLOW_STATEMENT: std::time::Duration = std::time::Duration::from_secs(1);

fn run_timed(conn: &rusqlite::Connection, sql: &str, args: &[Value], want: Want) -> Result<Output, sqlx::Error> {
    let mut stmt = conn.prepare_cached(sql).map_err(error)?;
    for i in 1..=stmt.parameter_count() {
        let arg = match stmt.parameter_name(i).and_then(|name| name.get(1..)).and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => n.checked_sub(1).and_then(|n| args.get(n)),
            None => args.get(i - 1),
        };
        let Some(arg) = arg else {
            return Err(sqlx::Error::Protocol(format!("statement parameter {i} has no bound value ({} bound): {sql}", args.len())));
        };
        stmt.raw_bind_parameter(i, arg).map_err(error)?;
    }
    let readonly = stmt.readonly();
    let names: Option<Arc<[String]>> = (want != Want::Nothing).then(|| stmt.column_names().into_iter().map(String::from).collect());
    let columns = stmt.column_count();
    let mut out = Output::default();
    let mut rows = stmt.raw_query();
    while let Some(r) = rows.next().map_err(error)? {
        let Some(names) = &names else { continue };
        let mut values = Vec::with_capacity(columns);
        for i in 0..columns {
            values.push(r.get_ref(i).map_err(error)?.into());
        }
        out.rows.push(Row::lite(LiteRow { names: names.clone(), values }));
        if want == Want::One {
            break;
        }
    }
    drop(rows);
    if !readonly {
        out.affected = conn.changes();
    }
    Ok(out)
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Value::Null(_) => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*b))),
            Value::I16(n) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*n))),
            Value::I32(n) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*n))),
            Value::I64(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Value::F32(f) => ToSqlOutput::Borrowed(ValueRef::Real(f64::from(*f))),
            Value::F64(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

/// An SQLite error as sqlx reports one: a database error whose code is SQLite's extended result
/// code, so [`crate::is_retryable`] and [`crate::is_unique_violation`] read both backends alike.
#[derive(Debug)]
pub(crate) struct LiteError {
    code: i32,
    message: String,
}

impl std::fmt::Display for LiteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for LiteError {}

impl sqlx::error::DatabaseError for LiteError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        use sqlx::error::ErrorKind;
        match self.code {
            2067 | 1555 => ErrorKind::UniqueViolation,
            787 => ErrorKind::ForeignKeyViolation,
            1299 => ErrorKind::NotNullViolation,
            275 => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// Maps a rusqlite error to sqlx's.
pub(crate) fn error(e: rusqlite::Error) -> sqlx::Error {
    match e {
        rusqlite::Error::SqliteFailure(f, message) => {
            sqlx::Error::Database(Box::new(LiteError { code: f.extended_code, message: message.unwrap_or_else(|| f.to_string()) }))
        }
        // A statement SQLite could not prepare (syntax, an unknown table or column).
        rusqlite::Error::SqlInputError { error, msg, offset, .. } => {
            sqlx::Error::Database(Box::new(LiteError { code: error.extended_code, message: format!("{msg} (at offset {offset})") }))
        }
        other => sqlx::Error::Protocol(format!("SQLite: {other}")),
    }
}
