use crate::group;
use crate::lite::{self, LiteConn, LitePool};
use crate::retry::TxError;
use crate::row::{Output, Value, Want};
use crate::sql::{query, Executor, On, ReadOn, Target, Tx, WriteOne};
use crate::tx::{transaction_on, Begin, BoxFuture};
use lsn_core::config::{Config, Durability};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// Where the database is, decided from `DATABASE_URL` (or its absence).
#[derive(Debug, Clone, PartialEq)]
pub enum DbTarget {
    Sqlite(PathBuf),
    /// The full URL (it may hold a password: never print it; see [`DbTarget::describe`]).
    Postgres(String),
}

impl DbTarget {
    pub fn from_config(cfg: &Config) -> Result<Self, DbError> {
        match &cfg.database_url {
            None => Ok(DbTarget::Sqlite(cfg.default_sqlite_path())),
            Some(url) => Self::parse(url.expose()),
        }
    }

    pub fn parse(url: &str) -> Result<Self, DbError> {
        let bad = |reason: &str| DbError::Config(format!("DATABASE_URL: {reason}"));
        if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(bad("a sqlite:// URL needs a file path, e.g. sqlite://./data/lsn.db"));
            }
            if path == ":memory:" {
                return Err(bad("an in-memory SQLite database would lose the shop on restart; give a file path"));
            }
            return Ok(DbTarget::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let parsed = url::Url::parse(url).map_err(|e| bad(&format!("not a valid PostgreSQL URL ({e})")))?;
            if parsed.host_str().unwrap_or_default().is_empty() && !url.contains("host=") {
                return Err(bad("the PostgreSQL URL has no host"));
            }
            return Ok(DbTarget::Postgres(url.to_string()));
        }
        if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            return Err(bad("MySQL/TiDB is not supported yet; use postgres://… or leave it unset for embedded SQLite"));
        }
        Err(bad("unrecognised scheme; expected postgres://… or sqlite://…"))
    }

    pub fn backend(&self) -> Backend {
        match self {
            DbTarget::Sqlite(_) => Backend::Sqlite,
            DbTarget::Postgres(_) => Backend::Postgres,
        }
    }

    /// A printable description with any password removed.
    pub fn describe(&self) -> String {
        match self {
            DbTarget::Sqlite(p) => format!("SQLite {}", p.display()),
            DbTarget::Postgres(u) => match url::Url::parse(u) {
                Ok(mut parsed) => {
                    if parsed.password().is_some() {
                        let _ = parsed.set_password(Some("***"));
                    }
                    format!("PostgreSQL {parsed}")
                }
                Err(_) => "PostgreSQL (unparseable URL)".into(),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    NotADatabase(String),
    #[error("database unreachable: {0}")]
    Unreachable(String),
    #[error("migration error: {0}")]
    Migration(String),
    #[error("{0}")]
    Backup(String),
    #[error(transparent)]
    Db(#[from] crate::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        DbError::Db(e.into())
    }
}

impl TxError for DbError {
    fn as_db(&self) -> Option<&crate::Error> {
        match self {
            DbError::Db(e) => Some(e),
            _ => None,
        }
    }
}

/// A handle on the database: cheap to clone (one reference count), shared by every part of the
/// process.
///
/// SQLite allows one writer at a time, so writes go through one connection (no lock contention
/// inside the process, `busy_timeout` for other processes), fed by the writer's queue, and reads
/// through a few connections of their own. PostgreSQL uses one pool for both.
#[derive(Clone, Debug)]
pub struct Db {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    writer: Writer,
    reader: Reader,
    backend: Backend,
    target: DbTarget,
}

/// Where reads run: [`Db::read`].
#[derive(Debug)]
pub struct Reader(pub(crate) ReaderInner);

#[derive(Debug)]
pub(crate) enum ReaderInner {
    Any(AnyPool),
    Lite(Arc<LitePool>),
}

/// Where writes run: [`Db::write`] for one statement, [`Db::transaction`] for several.
#[derive(Debug)]
pub struct Writer(pub(crate) WriterInner);

#[derive(Debug)]
pub(crate) enum WriterInner {
    Any(AnyPool),
    Lite {
        conn: LiteConn,
        /// The queue of write transactions in front of the writer's task (group commit), or
        /// `None` when transactions run where they are called.
        queue: Option<group::Queue>,
        /// Keeps the WAL checkpoint thread running (see [`lite::start_checkpointer`]).
        _checkpointer: Option<std::sync::mpsc::Sender<()>>,
    },
}

impl<'e> Executor<'e> for &'e Reader {
    fn target(self) -> Target<'e> {
        Target(On::Read(self.on()))
    }
}

impl<'e> Executor<'e> for &'e Writer {
    fn target(self) -> Target<'e> {
        match &self.0 {
            WriterInner::Any(pool) => Target(On::WriteAny(pool)),
            WriterInner::Lite { .. } => Target(On::Write(self)),
        }
    }
}

/// A read to run off the request threads: `query(…).execute(Slow(db.read()))`.
pub struct Slow<'e>(pub &'e Reader);

impl<'e> Executor<'e> for Slow<'e> {
    fn target(self) -> Target<'e> {
        Target(On::Slow(self.0.on()))
    }
}

impl Reader {
    fn on(&self) -> ReadOn<'_> {
        match &self.0 {
            ReaderInner::Any(pool) => ReadOn::Any(pool),
            ReaderInner::Lite(pool) => ReadOn::Lite(pool),
        }
    }
}

impl WriteOne for Writer {
    fn write_one<'a>(&'a self, sql: &'a str, args: Vec<Value>, want: Want) -> BoxFuture<'a, Result<Output, crate::Error>> {
        match &self.0 {
            WriterInner::Any(pool) => Box::pin(async move { Ok(crate::sql::any_run(pool, sql, args, want).await?) }),
            // One statement is a transaction of its own, through the writer's queue.
            WriterInner::Lite { .. } => {
                let sql = Arc::<str>::from(sql);
                Box::pin(self.transaction(move |tx| {
                    let (sql, args) = (sql.clone(), args.clone());
                    Box::pin(async move { crate::sql::run_conn(tx, &sql, args, want).await })
                }))
            }
        }
    }
}

impl Db {
    fn new(writer: Writer, reader: Reader, backend: Backend, target: DbTarget) -> Self {
        Db { inner: Arc::new(Inner { writer, reader, backend, target }) }
    }
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Refuses a file at the SQLite path that is not an SQLite database (never overwrites it).
pub fn check_sqlite_file(path: &Path) -> Result<(), DbError> {
    use std::io::Read;
    match std::fs::File::open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DbError::NotADatabase(format!("cannot open {}: {e}", path.display()))),
        Ok(mut f) => {
            let mut head = [0u8; 16];
            let n = f.read(&mut head)?;
            if n == 0 {
                return Ok(());
            }
            if n < 16 || &head != SQLITE_MAGIC {
                return Err(DbError::NotADatabase(format!(
                    "{} exists but is not an SQLite database; LSN will not touch it. Move it away or set DATABASE_URL/LSN_DATA_DIR to another path",
                    path.display()
                )));
            }
            Ok(())
        }
    }
}

impl Db {
    /// Connects as the configuration says, retrying an unreachable PostgreSQL with backoff.
    pub async fn connect(cfg: &Config) -> Result<Self, DbError> {
        let target = DbTarget::from_config(cfg)?;
        Self::connect_target(&target, cfg.db_max_connections, cfg.durability, 6).await
    }

    pub async fn connect_target(target: &DbTarget, max_connections: u32, durability: Durability, attempts: u32) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        match target {
            DbTarget::Sqlite(path) => Self::open_sqlite(target, path, max_connections, durability).await,
            DbTarget::Postgres(url) => {
                let mut delay = Duration::from_millis(250);
                let mut attempt = 1;
                loop {
                    // One plain connection first: the pool would keep retrying until its own
                    // timeout, and we want to report and back off ourselves.
                    let probe = tokio::time::timeout(Duration::from_secs(10), <sqlx::AnyConnection as sqlx::Connection>::connect(url))
                        .await
                        .unwrap_or(Err(sqlx::Error::PoolTimedOut));
                    let res = match probe {
                        Ok(conn) => {
                            let _ = sqlx::Connection::close(conn).await;
                            AnyPoolOptions::new()
                                .max_connections(max_connections.max(2))
                                .acquire_timeout(Duration::from_secs(10))
                                .connect(url)
                                .await
                        }
                        Err(e) => Err(e),
                    };
                    match res {
                        Ok(pool) => {
                            let (writer, reader) = (Writer(WriterInner::Any(pool.clone())), Reader(ReaderInner::Any(pool)));
                            return Ok(Db::new(writer, reader, Backend::Postgres, target.clone()));
                        }
                        Err(e) if is_connect_error(&e) && attempt < attempts => {
                            tracing::warn!(attempt, retry_in_ms = delay.as_millis() as u64, target = %target.describe(), "DATABASE_URL unreachable, retrying: {e}");
                            tokio::time::sleep(delay).await;
                            delay = (delay * 2).min(Duration::from_secs(8));
                            attempt += 1;
                        }
                        Err(e) if is_connect_error(&e) => {
                            return Err(DbError::Unreachable(format!(
                                "DATABASE_URL ({}) after {attempt} attempts: {e}",
                                target.describe()
                            )));
                        }
                        Err(e) => return Err(DbError::Config(format!("DATABASE_URL ({}): {e}", target.describe()))),
                    }
                }
            }
        }
    }

    async fn open_sqlite(target: &DbTarget, path: &Path, max_connections: u32, durability: Durability) -> Result<Self, DbError> {
        check_sqlite_file(path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| DbError::Config(format!("cannot create data directory {}: {e}", dir.display())))?;
        }
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        let pragmas = format!(
            "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16000; PRAGMA journal_size_limit = 67108864;"
        );
        // Reads run on the calling thread, so only as many run at once as there are threads:
        // a few connections are enough.
        let (conn, readers) = lite::open_all(path, &pragmas, max_connections.clamp(2, 8)).map_err(|e| sqlite_open_error(path, e))?;
        let readers = Arc::new(readers);
        let reader = Reader(ReaderInner::Lite(readers.clone()));
        // A file with a valid header can still be damaged: make the first read prove it.
        query("SELECT count(*) FROM sqlite_master").execute(&reader).await.map_err(|e| sqlite_open_error(path, e))?;
        let queue = writer_runtime().map(|rt| group::start(rt, conn.clone()));
        // The writer finishes what the checkpointer starts (between groups), so only with a writer task.
        let checkpointer = queue.as_ref().and_then(|_| lite::start_checkpointer(&conn, readers));
        Ok(Db::new(Writer(WriterInner::Lite { conn, queue, _checkpointer: checkpointer }), reader, Backend::Sqlite, target.clone()))
    }

    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    pub fn target(&self) -> &DbTarget {
        &self.inner.target
    }

    /// Where reads run (never a write transaction).
    pub fn read(&self) -> &Reader {
        &self.inner.reader
    }

    /// Where single-statement writes run (each its own transaction).
    pub fn write(&self) -> &Writer {
        &self.inner.writer
    }

    /// Runs `f` in a write transaction, committing on `Ok`, retrying the whole closure on
    /// serialization failures, deadlocks and busy databases (up to 8 attempts, with jittered
    /// backoff). `f` must therefore be safe to run again from the start.
    ///
    /// On SQLite the transaction queues for the writer's task on a thread of its own, which
    /// commits the transactions waiting together (see [`crate::group`]): between its statements
    /// a transaction never waits behind request handlers, and many share one commit.
    pub async fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: TxError + Send + 'static,
        F: for<'t> FnMut(&'t mut Tx) -> BoxFuture<'t, Result<T, E>> + Send + 'static,
    {
        self.inner.writer.transaction(f).await
    }

    /// [`Db::transaction`] with its state passed by reference: `state` is moved in once and each
    /// attempt's body borrows it, so a body needs no clone of every capture per attempt.
    ///
    /// ```ignore
    /// db.transaction_with((order_id, reason), |tx, (order_id, reason)| Box::pin(async move {
    ///     query("UPDATE orders SET note = $1 WHERE id = $2").bind(reason).bind(order_id).execute(&mut **tx).await?;
    ///     Ok::<_, lsn_db::Error>(())
    /// })).await
    /// ```
    pub async fn transaction_with<S, T, E, F>(&self, state: S, f: F) -> Result<T, E>
    where
        S: Send + Sync + 'static,
        T: Send + 'static,
        E: TxError + Send + 'static,
        F: for<'t> Fn(&'t mut Tx, &'t S) -> BoxFuture<'t, Result<T, E>> + Send + Sync + 'static,
    {
        let shared = Arc::new((state, f));
        self.transaction(move |tx| {
            let shared = shared.clone();
            Box::pin(async move {
                let (state, f) = &*shared;
                f(tx, state).await
            })
        })
        .await
    }

    pub async fn ping(&self) -> Result<(), crate::Error> {
        query("SELECT 1").execute(&self.inner.reader).await.map(|_| ())
    }

    /// Pool figures for `/metrics`: (size, idle) of the reader and writer pools.
    pub fn pool_stats(&self) -> [(&'static str, u32, usize); 2] {
        let read = match &self.inner.reader.0 {
            ReaderInner::Any(p) => (p.size(), p.num_idle()),
            ReaderInner::Lite(p) => (p.size(), p.idle()),
        };
        let write = match &self.inner.writer.0 {
            WriterInner::Any(p) => (p.size(), p.num_idle()),
            WriterInner::Lite { conn, .. } => (1, conn.idle()),
        };
        [("read", read.0, read.1), ("write", write.0, write.1)]
    }

    /// SQLite: (commits, transactions committed) by the writer since it opened; their ratio is
    /// the mean group size.
    pub fn group_commit_stats(&self) -> Option<(u64, u64)> {
        match &self.inner.writer.0 {
            WriterInner::Lite { queue: Some(q), .. } => Some(q.stats()),
            _ => None,
        }
    }

    /// Closes every connection; later statements fail with `PoolClosed`.
    pub async fn close(&self) {
        match &self.inner.writer.0 {
            WriterInner::Any(p) => p.close().await,
            WriterInner::Lite { conn, .. } => {
                // Wait for a transaction in progress to end first.
                let _gate = conn.gate().await;
                conn.close();
            }
        }
        match &self.inner.reader.0 {
            ReaderInner::Any(p) => p.close().await,
            ReaderInner::Lite(p) => p.close(),
        }
    }
}

impl Writer {
    /// See [`Db::transaction`].
    pub(crate) async fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: TxError + Send + 'static,
        F: for<'t> FnMut(&'t mut Tx) -> BoxFuture<'t, Result<T, E>> + Send + 'static,
    {
        let (conn, queue) = match &self.0 {
            WriterInner::Any(pool) => return transaction_on(Begin::Any(pool), f).await,
            WriterInner::Lite { conn, queue: None, .. } => return transaction_on(Begin::Lite(conn), f).await,
            WriterInner::Lite { conn, queue: Some(queue), .. } => (conn, queue),
        };
        if group::in_writer() {
            return Err(E::from(crate::Error::misuse("a write transaction cannot start inside another")));
        }
        let (job, answer) = group::Job::new(in_callers_language(f));
        if let Err(job) = queue.send(job) {
            // The writer's task is gone (its runtime shut down): write from here.
            job.alone(conn.clone()).await;
        }
        match answer.await {
            Ok(Ok(result)) => result,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => Err(E::from(crate::Error::closed())),
        }
    }
}

/// `f` run in the language of the work that asked for it (the request's, see `lsn_core::i18n`):
/// the writer's task is not the caller's, and the messages a body makes (a refusal, a field
/// error) are for the caller.
fn in_callers_language<T, E, F>(mut f: F) -> impl for<'t> FnMut(&'t mut Tx) -> BoxFuture<'t, Result<T, E>> + Send + 'static
where
    T: Send + 'static,
    E: Send + 'static,
    F: for<'t> FnMut(&'t mut Tx) -> BoxFuture<'t, Result<T, E>> + Send + 'static,
{
    let locale = lsn_core::i18n::current();
    move |tx| Box::pin(lsn_core::i18n::scope(locale, f(tx)))
}

/// A single-threaded runtime on a thread of its own that runs SQLite write transactions, or
/// `None` (transactions then run where they are called) if the thread cannot be started.
fn writer_runtime() -> Option<&'static tokio::runtime::Handle> {
    static RT: std::sync::OnceLock<Option<tokio::runtime::Handle>> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                tracing::warn!("cannot start the SQLite writer runtime, writing from the request threads: {e}");
                return None;
            }
        };
        let handle = rt.handle().clone();
        let started = std::thread::Builder::new().name("lsn-db-writer".into()).spawn(move || rt.block_on(std::future::pending::<()>()));
        match started {
            Ok(_) => Some(handle),
            Err(e) => {
                tracing::warn!("cannot start the SQLite writer thread, writing from the request threads: {e}");
                None
            }
        }
    })
    .as_ref()
}

fn is_connect_error(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_))
        || matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("57P03"))
}

fn sqlite_open_error(path: &Path, e: impl std::fmt::Display) -> DbError {
    let msg = e.to_string();
    if msg.contains("not a database") || msg.contains("malformed") || msg.contains("corrupt") {
        DbError::NotADatabase(format!("{} is damaged or not an SQLite database ({msg}); LSN will not touch it", path.display()))
    } else {
        DbError::Config(format!("cannot open SQLite database {}: {msg}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        assert_eq!(DbTarget::parse("sqlite://./x.db").ok(), Some(DbTarget::Sqlite("./x.db".into())));
        assert_eq!(DbTarget::parse("sqlite:/tmp/x.db").ok(), Some(DbTarget::Sqlite("/tmp/x.db".into())));
        assert!(matches!(DbTarget::parse("postgres://u:p@localhost/db"), Ok(DbTarget::Postgres(_))));
        let e = DbTarget::parse("mysql://u@h/db").expect_err("mysql");
        assert!(e.to_string().contains("not supported yet") && e.to_string().contains("DATABASE_URL"));
        assert!(DbTarget::parse("redis://x").expect_err("scheme").to_string().contains("DATABASE_URL"));
        assert!(DbTarget::parse("sqlite://").is_err());
        assert!(DbTarget::parse("postgres://").is_err());
        let d = DbTarget::parse("postgres://u:hunter2@localhost/db").expect("pg").describe();
        assert!(!d.contains("hunter2"), "{d}");
    }
}
