//! The query API every domain uses: `query(sql).bind(…).fetch_one(executor)`, one set of SQL
//! for both backends.
//!
//! PostgreSQL runs through sqlx. SQLite runs through rusqlite on the calling thread (see
//! [`crate::lite`]): a statement costs no hand-off to another thread, and a write transaction,
//! which runs on the writer's own thread, runs start to finish there without one.

use crate::error::Error;
use crate::lite::{self, LiteConn, LitePool};
use crate::row::{Done, IntoValue, Kind, Output, Row, Value, Want};
use sqlx::{Any, AnyPool};
use std::sync::Arc;

/// A boxed future that can cross threads (a transaction's body).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// What a transaction begins on when it runs by itself.
#[derive(Clone, Copy)]
pub(crate) enum Begin<'a> {
    Any(&'a AnyPool),
    Lite(&'a LiteConn),
}

/// Where reads run: the pool's readers.
#[derive(Clone, Copy)]
pub(crate) enum ReadOn<'e> {
    Any(&'e AnyPool),
    Lite(&'e Arc<LitePool>),
}

/// The writer, as a statement sees it: one statement is a write of its own (on SQLite, through
/// the writer's queue). The pool's [`crate::Writer`] is one; this is how the query layer runs on
/// it without knowing the pool (the layers: row → lite → sql → tx → group → pool).
pub(crate) trait WriteOne: Send + Sync {
    fn write_one<'a>(&'a self, sql: &'a str, args: Vec<Value>, want: Want) -> BoxFuture<'a, Result<Output, Error>>;
}

/// A statement and its parameters (`$1`, `$2`, … in the SQL).
#[must_use = "a query does nothing until executed"]
#[derive(Debug, Clone)]
pub struct Query<'q> {
    sql: &'q str,
    args: Vec<Value>,
}

/// A statement to run with [`Query::execute`], [`Query::fetch_one`], … on a
/// [`crate::Db::read`], [`crate::Db::write`] or a transaction (`&mut **tx`).
pub fn query(sql: &str) -> Query<'_> {
    Query { sql, args: Vec::new() }
}

impl<'q> Query<'q> {
    pub fn bind<T: IntoValue>(mut self, value: T) -> Self {
        self.args.push(value.into_value());
        self
    }

    pub async fn execute<'e, E: Executor<'e>>(self, executor: E) -> Result<Done, Error> {
        let out = self.run(executor.target(), Want::Nothing).await?;
        Ok(Done { rows_affected: out.affected })
    }

    pub async fn fetch_all<'e, E: Executor<'e>>(self, executor: E) -> Result<Vec<Row>, Error> {
        Ok(self.run(executor.target(), Want::All).await?.rows)
    }

    pub async fn fetch_optional<'e, E: Executor<'e>>(self, executor: E) -> Result<Option<Row>, Error> {
        Ok(self.run(executor.target(), Want::One).await?.rows.into_iter().next())
    }

    pub async fn fetch_one<'e, E: Executor<'e>>(self, executor: E) -> Result<Row, Error> {
        self.fetch_optional(executor).await?.ok_or_else(Error::row_not_found)
    }

    async fn run(self, target: Target<'_>, want: Want) -> Result<Output, Error> {
        match target.0 {
            On::Read(ReadOn::Any(pool)) | On::Slow(ReadOn::Any(pool)) | On::WriteAny(pool) => {
                Ok(any_run(pool, self.sql, self.args, want).await?)
            }
            On::Read(ReadOn::Lite(pool)) => Ok(pool.with(|c| lite::run(c, self.sql, &self.args, want))?),
            On::Slow(ReadOn::Lite(pool)) => {
                let (pool, sql, args) = (pool.clone(), self.sql.to_owned(), self.args);
                Ok(tokio::task::spawn_blocking(move || pool.with_slow(|c| lite::run(c, &sql, &args, want)))
                    .await
                    .map_err(|e| Error::misuse(format!("a database read failed: {e}")))??)
            }
            On::Write(writer) => writer.write_one(self.sql, self.args, want).await,
            On::Conn(conn) => run_conn(conn, self.sql, self.args, want).await,
        }
    }
}

pub(crate) async fn run_conn(conn: &mut Conn, sql: &str, args: Vec<Value>, want: Want) -> Result<Output, Error> {
    match conn.inner_mut()? {
        ConnRef::Any(c) => Ok(any_run(c, sql, args, want).await?),
        ConnRef::Lite(c) => Ok(c.with(|c| lite::run(c, sql, &args, want))?),
    }
}

pub(crate) async fn any_run<'c, E>(executor: E, sql: &str, args: Vec<Value>, want: Want) -> Result<Output, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = Any>,
{
    let mut q = sqlx::query(sql);
    for a in args {
        q = match a {
            Value::Null(Kind::Bool) => q.bind(None::<bool>),
            Value::Null(Kind::I16) => q.bind(None::<i16>),
            Value::Null(Kind::I32) => q.bind(None::<i32>),
            Value::Null(Kind::I64) => q.bind(None::<i64>),
            // sqlx 0.8's Any driver swaps the two float NULLs when it hands them to PostgreSQL
            // (`AnyTypeInfoKind::Double` becomes an `Option<f32>`, `Real` an `Option<f64>`), so
            // a statement first run with a NULL `f64` is prepared with a `float4` parameter and
            // every later `f64` on that connection fails with "incorrect binary data format".
            // Binding the other NULL gives PostgreSQL the type the column has.
            Value::Null(Kind::F32) => q.bind(None::<f64>),
            Value::Null(Kind::F64) => q.bind(None::<f32>),
            Value::Null(Kind::Text) => q.bind(None::<String>),
            Value::Null(Kind::Blob) => q.bind(None::<Vec<u8>>),
            Value::Bool(v) => q.bind(v),
            Value::I16(v) => q.bind(v),
            Value::I32(v) => q.bind(v),
            Value::I64(v) => q.bind(v),
            Value::F32(v) => q.bind(v),
            Value::F64(v) => q.bind(v),
            Value::Text(v) => q.bind(v),
            Value::Blob(v) => q.bind(v),
        };
    }
    match want {
        Want::Nothing => Ok(Output { rows: Vec::new(), affected: q.execute(executor).await?.rows_affected() }),
        Want::One => Ok(Output { rows: q.fetch_optional(executor).await?.map(Row::any).into_iter().collect(), affected: 0 }),
        Want::All => Ok(Output { rows: q.fetch_all(executor).await?.into_iter().map(Row::any).collect(), affected: 0 }),
    }
}

/// A connection inside a transaction: what `&mut **tx` gives.
#[derive(Debug)]
pub struct Conn(pub(crate) ConnInner);

#[derive(Debug)]
pub(crate) enum ConnInner {
    Any(sqlx::Transaction<'static, Any>),
    Lite(LiteConn),
    /// Committed or rolled back.
    Ended,
}

enum ConnRef<'a> {
    Any(&'a mut sqlx::AnyConnection),
    Lite(&'a LiteConn),
}

impl Conn {
    fn inner_mut(&mut self) -> Result<ConnRef<'_>, sqlx::Error> {
        match &mut self.0 {
            ConnInner::Any(tx) => Ok(ConnRef::Any(tx)),
            ConnInner::Lite(c) => Ok(ConnRef::Lite(c)),
            ConnInner::Ended => Err(sqlx::Error::Protocol("the transaction has ended".into())),
        }
    }

    /// Runs several statements without parameters (a migration).
    pub async fn execute_batch(&mut self, sql: &str) -> Result<(), Error> {
        match self.inner_mut()? {
            ConnRef::Any(c) => Ok(sqlx::Executor::execute(c, sqlx::raw_sql(sql)).await.map(|_| ())?),
            ConnRef::Lite(c) => Ok(c.batch(sql)?),
        }
    }
}

/// A write transaction; its statements run on `&mut **tx`. Dropped without a commit, it rolls
/// back.
#[derive(Debug)]
pub struct Tx {
    conn: Conn,
}

impl std::ops::Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

impl Tx {
    /// Begins a transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so it
    /// never has to upgrade a read lock half-way, which could fail with nobody to wait for.
    pub(crate) async fn begin(on: Begin<'_>) -> Result<Tx, sqlx::Error> {
        let conn = match on {
            Begin::Any(pool) => ConnInner::Any(pool.begin().await?),
            Begin::Lite(c) => {
                c.batch("BEGIN IMMEDIATE")?;
                ConnInner::Lite(c.clone())
            }
        };
        Ok(Tx { conn: Conn(conn) })
    }

    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        match std::mem::replace(&mut self.conn.0, ConnInner::Ended) {
            ConnInner::Any(tx) => tx.commit().await,
            ConnInner::Lite(c) => {
                let done = c.batch("COMMIT");
                if done.is_err() {
                    // A failed COMMIT leaves the transaction open: end it.
                    let _ = c.batch("ROLLBACK");
                }
                done
            }
            ConnInner::Ended => Ok(()),
        }
    }

    pub(crate) async fn rollback(mut self) -> Result<(), sqlx::Error> {
        match std::mem::replace(&mut self.conn.0, ConnInner::Ended) {
            ConnInner::Any(tx) => tx.rollback().await,
            ConnInner::Lite(c) => c.batch("ROLLBACK"),
            ConnInner::Ended => Ok(()),
        }
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        // sqlx rolls its own back when dropped.
        if let ConnInner::Lite(c) = &self.conn.0 {
            let _ = c.with(|c| if c.is_autocommit() { Ok(()) } else { c.execute_batch("ROLLBACK").map_err(lite::error) });
        }
    }
}

/// Where a statement runs (made by the [`Executor`]s of this crate).
pub struct Target<'e>(pub(crate) On<'e>);

pub(crate) enum On<'e> {
    Read(ReadOn<'e>),
    /// A write on PostgreSQL: straight to the pool (no queue, no boxed future).
    WriteAny(&'e AnyPool),
    /// A read that may take long (a backup, an export): on SQLite it runs on a blocking thread
    /// instead of the request's, on a connection of its own.
    Slow(ReadOn<'e>),
    Write(&'e dyn WriteOne),
    Conn(&'e mut Conn),
}

/// Anything a [`Query`] can run on.
pub trait Executor<'e>: Send {
    fn target(self) -> Target<'e>;
}

impl<'e> Executor<'e> for &'e mut Conn {
    fn target(self) -> Target<'e> {
        Target(On::Conn(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Db, DbTarget, ErrorKind, RowExt, Slow};
    use lsn_core::config::Durability;

    /// One connection, so the statement prepared with the NULL is the one the number reuses.
    #[tokio::test]
    async fn a_null_float_then_a_float_on_postgres() {
        let Ok(url) = std::env::var("LSN_TEST_DATABASE_URL") else {
            assert_ne!(std::env::var("LSN_TEST_REQUIRE_ALL").as_deref(), Ok("1"), "LSN_TEST_DATABASE_URL is not set");
            return;
        };
        let db = Db::connect_target(&DbTarget::parse(&url).expect("url"), 1, Durability::Full, 1).await.expect("open");
        let t = format!("float_nulls_{}", std::process::id());
        query(&format!("CREATE TABLE {t} (k TEXT PRIMARY KEY, d DOUBLE PRECISION, r REAL)")).execute(db.write()).await.expect("table");
        query(&format!("INSERT INTO {t} (k) VALUES ('a')")).execute(db.write()).await.expect("row");
        let set = format!("UPDATE {t} SET d = $1, r = $2 WHERE k = 'a'");
        for (d, r) in [(None, None), (Some(1.5f64), Some(2.5f32)), (None, None), (Some(-3.25), Some(0.5))] {
            query(&set).bind(d).bind(r).execute(db.write()).await.expect("update");
            let row = query(&format!("SELECT d, r FROM {t} WHERE k = 'a'")).fetch_one(db.read()).await.expect("read");
            assert_eq!((row.try_get::<Option<f64>, _>(0).expect("d"), row.try_get::<Option<f32>, _>(1).expect("r")), (d, r));
        }
        query(&format!("DROP TABLE {t}")).execute(db.write()).await.expect("drop");
    }

    async fn open(dir: &tempfile::TempDir) -> Db {
        let db = Db::connect_target(&DbTarget::Sqlite(dir.path().join("q.db")), 4, Durability::Full, 1).await.expect("open");
        query("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT, f DOUBLE PRECISION, b BLOB)").execute(db.write()).await.expect("table");
        db
    }

    #[tokio::test]
    async fn parameters_bind_by_number_in_any_order_and_repeat() {
        let dir = tempfile::tempdir().expect("dir");
        let db = open(&dir).await;
        let done =
            query("INSERT INTO t (n, k, f) VALUES ($2, $1, $2 * 1.5)").bind("a").bind(4i64).execute(db.write()).await.expect("insert");
        assert_eq!(done.rows_affected(), 1);
        let r = query("SELECT k, n, f, b FROM t WHERE k = $1 AND n = $2").bind("a").bind(4i32).fetch_one(db.read()).await.expect("row");
        assert_eq!(r.try_get::<String, _>("k").expect("k"), "a");
        assert_eq!(r.try_get::<i64, _>(1).expect("n"), 4);
        assert_eq!(r.try_get::<f64, _>("f").expect("f"), 6.0);
        assert_eq!(r.try_get::<Option<Vec<u8>>, _>("b").expect("b"), None);
        assert_eq!(r.len(), 4);
    }

    #[tokio::test]
    async fn nulls_options_and_bad_columns() {
        let dir = tempfile::tempdir().expect("dir");
        let db = open(&dir).await;
        query("INSERT INTO t (k, n, b) VALUES ($1, $2, $3)")
            .bind(String::from("x"))
            .bind(None::<i64>)
            .bind(vec![1u8, 2])
            .execute(db.write())
            .await
            .expect("insert");
        let r = query("SELECT n, b, k FROM t").fetch_one(db.read()).await.expect("row");
        assert_eq!(r.try_get::<Option<i64>, _>(0).expect("null"), None);
        assert_eq!(r.try_get::<Vec<u8>, _>("b").expect("blob"), vec![1, 2]);
        let kind = |r: Result<i64, Error>| r.map_err(|e| (e.kind(), matches!(e.sqlx(), sqlx::Error::ColumnNotFound(_))));
        assert_eq!(kind(r.try_get::<i64, _>(0)), Err((ErrorKind::Column, false)), "a null is not an i64");
        assert_eq!(kind(r.try_get::<i64, _>("k")), Err((ErrorKind::Column, false)), "text is not an i64");
        assert_eq!(kind(r.try_get::<i64, _>("nope")), Err((ErrorKind::Column, true)));
        assert_eq!(kind(r.try_get::<i64, _>(7)), Err((ErrorKind::Column, true)));
        let none = query("SELECT k FROM t WHERE k = 'none'").fetch_one(db.read()).await;
        assert_eq!(none.map(|_| ()).map_err(|e| e.kind()), Err(ErrorKind::RowNotFound));
        assert!(query("SELECT k FROM t WHERE k = 'none'").fetch_optional(db.read()).await.expect("optional").is_none());
        let missing = query("SELECT k FROM t WHERE k = $1 AND n = $2").bind("x").fetch_all(db.read()).await;
        assert!(
            missing.as_ref().is_err_and(|e| matches!(e.sqlx(), sqlx::Error::Protocol(_))),
            "a parameter without a value is refused: {missing:?}"
        );
    }

    #[tokio::test]
    async fn errors_keep_sqlite_codes_and_reads_report_no_changes() {
        let dir = tempfile::tempdir().expect("dir");
        let db = open(&dir).await;
        query("INSERT INTO t (k) VALUES ('a')").execute(db.write()).await.expect("first");
        let e = query("INSERT INTO t (k) VALUES ('a')").execute(db.write()).await.expect_err("duplicate");
        assert!(crate::is_unique_violation(&e, Some("t.k")), "{e}");
        assert!(!crate::is_retryable(&e));
        let syntax = query("SELEC 1").execute(db.read()).await.expect_err("syntax");
        assert_eq!(syntax.kind(), ErrorKind::Other, "{syntax}");
        assert!(syntax.code().is_some(), "SQLite's code is kept: {syntax}");
        // A SELECT reports no changes, whatever the statement before it changed.
        query("UPDATE t SET n = 1").execute(db.write()).await.expect("update");
        assert_eq!(query("SELECT k FROM t").execute(db.read()).await.expect("select").rows_affected(), 0);
        // RETURNING rows come back from a write.
        let rows = query("UPDATE t SET n = n + 1 RETURNING n").fetch_all(db.write()).await.expect("returning");
        assert_eq!(rows.iter().map(|r| r.get::<i64, _>(0)).collect::<Vec<_>>(), vec![2]);
    }

    #[tokio::test]
    async fn a_transaction_borrows_its_state() {
        let dir = tempfile::tempdir().expect("dir");
        let db = open(&dir).await;
        let keys = vec!["a".to_string(), "b".to_string()];
        let n = db
            .transaction_with(keys, |tx, keys| {
                Box::pin(async move {
                    for k in keys {
                        query("INSERT INTO t (k) VALUES ($1)").bind(k).execute(&mut **tx).await?;
                    }
                    Ok::<_, Error>(keys.len())
                })
            })
            .await
            .expect("inserted");
        assert_eq!(n, 2);
        let again = db
            .transaction_with("a".to_string(), |tx, k| {
                Box::pin(async move { query("INSERT INTO t (k) VALUES ($1)").bind(k).execute(&mut **tx).await })
            })
            .await;
        assert!(again.is_err_and(|e| e.kind() == ErrorKind::UniqueViolation));
        let count: i64 = query("SELECT CAST(count(*) AS BIGINT) FROM t").fetch_one(db.read()).await.expect("count").get(0);
        assert_eq!(count, 2);
    }

    #[tokio::test]
    async fn a_failed_transaction_leaves_nothing_and_a_closed_database_refuses() {
        let dir = tempfile::tempdir().expect("dir");
        let db = open(&dir).await;
        let r = db
            .transaction(|tx| {
                Box::pin(async move {
                    query("INSERT INTO t (k) VALUES ('gone')").execute(&mut **tx).await?;
                    query("INSERT INTO t (k) VALUES ('gone')").execute(&mut **tx).await?;
                    Ok::<_, Error>(())
                })
            })
            .await;
        assert!(r.is_err());
        let n: i64 = query("SELECT CAST(count(*) AS BIGINT) FROM t").fetch_one(db.read()).await.expect("count").get(0);
        assert_eq!(n, 0);
        // Several statements at once (a migration) inside a transaction.
        db.transaction(|tx| {
            Box::pin(async move { tx.execute_batch("INSERT INTO t (k) VALUES ('p'); INSERT INTO t (k) VALUES ('q');").await })
        })
        .await
        .expect("batch");
        let slow = query("SELECT CAST(count(*) AS BIGINT) FROM t").fetch_one(Slow(db.read())).await.expect("slow read");
        assert_eq!(slow.get::<i64, _>(0), 2);
        db.close().await;
        assert_eq!(query("SELECT 1").fetch_one(db.read()).await.map(|_| ()).map_err(|e| e.kind()), Err(ErrorKind::Unavailable));
        assert!(query("INSERT INTO t (k) VALUES ('late')").execute(db.write()).await.is_err());
    }
}
