//! The query API every domain uses: `query(sql).bind(…).fetch_one(executor)`, one set of SQL
//! for both backends.
//!
//! PostgreSQL runs through sqlx. SQLite runs through rusqlite on the calling thread (see
//! [`crate::lite`]): a statement costs no hand-off to another thread, and a write transaction,
//! which runs on the writer's own thread, runs start to finish there without one.

use crate::error::Error;
use crate::lite::{self, LiteConn, LiteRow};
use crate::pool::{Begin, Reader, ReaderInner, Writer, WriterInner};
use sqlx::any::AnyRow;
use sqlx::Any;
use std::sync::Arc;

/// A bound parameter. A null keeps its type: PostgreSQL wants to know what it stands for.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null(Kind),
    Bool(bool),
    I16(i16),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// The type of a [`Value`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    I16,
    I32,
    I64,
    F32,
    F64,
    Text,
    Blob,
}

/// A Rust type with a [`Kind`] (what a `None` of it binds as).
pub trait Typed {
    const KIND: Kind;
}

/// Makes a [`Value`] from a reference.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

/// What [`Query::bind`] takes: owned values, and references to anything [`ToValue`].
pub trait IntoValue {
    fn into_value(self) -> Value;
}

macro_rules! scalar {
    ($t:ty, $k:ident) => {
        impl Typed for $t {
            const KIND: Kind = Kind::$k;
        }
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::$k(*self)
            }
        }
        impl IntoValue for $t {
            fn into_value(self) -> Value {
                Value::$k(self)
            }
        }
    };
}
scalar!(bool, Bool);
scalar!(i16, I16);
scalar!(i32, I32);
scalar!(i64, I64);
scalar!(f32, F32);
scalar!(f64, F64);

impl Typed for str {
    const KIND: Kind = Kind::Text;
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}
impl Typed for String {
    const KIND: Kind = Kind::Text;
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl IntoValue for String {
    fn into_value(self) -> Value {
        Value::Text(self)
    }
}
impl Typed for [u8] {
    const KIND: Kind = Kind::Blob;
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl Typed for Vec<u8> {
    const KIND: Kind = Kind::Blob;
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl IntoValue for Vec<u8> {
    fn into_value(self) -> Value {
        Value::Blob(self)
    }
}
impl<T: Typed + ?Sized> Typed for &T {
    const KIND: Kind = T::KIND;
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue + ?Sized> IntoValue for &T {
    fn into_value(self) -> Value {
        self.to_value()
    }
}
impl<T: Typed> Typed for Option<T> {
    const KIND: Kind = T::KIND;
}
impl<T: ToValue + Typed> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null(T::KIND),
        }
    }
}
impl<T: IntoValue + Typed> IntoValue for Option<T> {
    fn into_value(self) -> Value {
        match self {
            Some(v) => v.into_value(),
            None => Value::Null(T::KIND),
        }
    }
}

/// Binds a type of the program's that is stored as text (its `Display` is what is stored):
/// `lsn_db::bind_as_text!(OrderStatus);` then `.bind(status)`.
#[macro_export]
macro_rules! bind_as_text {
    ($t:ty) => {
        impl $crate::Typed for $t {
            const KIND: $crate::Kind = $crate::Kind::Text;
        }
        impl $crate::ToValue for $t {
            fn to_value(&self) -> $crate::Value {
                $crate::Value::Text(self.to_string())
            }
        }
        impl $crate::IntoValue for $t {
            fn into_value(self) -> $crate::Value {
                $crate::Value::Text(self.to_string())
            }
        }
    };
}

/// A Rust type a column can be read as, on either backend.
pub trait Decode: Sized + for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> {
    /// From an SQLite value (SQLite's dynamic types, read as sqlx reads them).
    fn from_lite(v: &rusqlite::types::Value) -> Result<Self, String>;
}

fn int(v: &rusqlite::types::Value) -> Result<i64, String> {
    match v {
        rusqlite::types::Value::Integer(n) => Ok(*n),
        other => Err(format!("expected an integer, found {}", lite::type_name(other))),
    }
}

impl Decode for i64 {
    fn from_lite(v: &rusqlite::types::Value) -> Result<Self, String> {
        int(v)
    }
}
impl Decode for i32 {
    fn from_lite(v: &rusqlite::types::Value) -> Result<Self, String> {
        let n = int(v)?;
        i32::try_from(n).map_err(|_| format!("{n} is out of range for a 32-bit integer"))
    }
}
impl Decode for i16 {
    fn from_lite(v: &rusqlite::types::Value) -> Result<Self, String> {
        let n = int(v)?;
        i16::try_from(n).map_err(|_| format!("{n} is out of range for a 16-bit integer"))
    }
}
impl Decode for bool {
    fn from_lite(v: &rusqlite::types::Value) -> Result<Self, String> {
        int(v).map(|n| n != 0)
    }
}
impl Decode for f64 {
    fn from_lite(v: &rusqlite::types::Value) -> Result<Self, String> {
        match v {
            rusqlite::types::Value::Real(f) => Ok(*f),
            rusqlite::types::Value::Integer(n) => Ok(*n as f64),
            other => Err(format!("expected a number, found {}", lite::type_name(other))),
        }
    }
}
impl Decode for f32 {
    fn from_lite(v: &rusqlite::types::Value) -> Result<Self, String> {
        f64::from_lite(v).map(|f| f as f32)
    }
}
impl Decode for String {
    fn from_lite(v: &rusqlite::types::Value) -> Result<Self, String> {
        match v {
            rusqlite::types::Value::Text(s) => Ok(s.clone()),
            rusqlite::types::Value::Integer(n) => Ok(n.to_string()),
            rusqlite::types::Value::Real(f) => Ok(f.to_string()),
            rusqlite::types::Value::Blob(b) => String::from_utf8(b.clone()).map_err(|_| "a blob that is not UTF-8 text".to_string()),
            rusqlite::types::Value::Null => Err("unexpected null".into()),
        }
    }
}
impl Decode for Vec<u8> {
    fn from_lite(v: &rusqlite::types::Value) -> Result<Self, String> {
        match v {
            rusqlite::types::Value::Blob(b) => Ok(b.clone()),
            rusqlite::types::Value::Text(s) => Ok(s.as_bytes().to_vec()),
            other => Err(format!("expected a blob, found {}", lite::type_name(other))),
        }
    }
}
impl<T: Decode> Decode for Option<T> {
    fn from_lite(v: &rusqlite::types::Value) -> Result<Self, String> {
        match v {
            rusqlite::types::Value::Null => Ok(None),
            other => T::from_lite(other).map(Some),
        }
    }
}

/// A column position or name.
pub trait RowIndex: sqlx::ColumnIndex<AnyRow> + std::fmt::Display + Copy {
    fn position(self, names: &[String]) -> Option<usize>;
}
impl RowIndex for usize {
    fn position(self, names: &[String]) -> Option<usize> {
        (self < names.len()).then_some(self)
    }
}
impl RowIndex for &str {
    fn position(self, names: &[String]) -> Option<usize> {
        names.iter().position(|n| n == self)
    }
}

/// A result row from either backend.
#[derive(Debug)]
pub struct Row(RowInner);

enum RowInner {
    Any(AnyRow),
    Lite(LiteRow),
}

impl std::fmt::Debug for RowInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowInner::Any(r) => write!(f, "AnyRow({} columns)", sqlx::Row::len(r)),
            RowInner::Lite(r) => r.fmt(f),
        }
    }
}

impl Row {
    pub(crate) fn lite(row: LiteRow) -> Self {
        Row(RowInner::Lite(row))
    }
}

/// Reading columns of a [`Row`] (as sqlx's `Row` trait does).
pub trait RowExt {
    fn try_get<T: Decode, I: RowIndex>(&self, index: I) -> Result<T, Error>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A column stored as text and read as a type of the program's (a status, an id) through
    /// its `FromStr`: a stored value it does not know is a [`crate::ErrorKind::Column`] error.
    fn try_parse<T, I>(&self, index: I) -> Result<T, Error>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
        I: RowIndex,
    {
        let text: String = self.try_get(index)?;
        text.parse().map_err(|e: T::Err| Error::column_decode(index.to_string(), format!("{text:?}: {e}")))
    }
    /// Like [`RowExt::try_get`], panicking on a missing column or a type mismatch (a bug in the
    /// query, never the data's fault).
    #[track_caller]
    fn get<T: Decode, I: RowIndex>(&self, index: I) -> T {
        match self.try_get(index) {
            Ok(v) => v,
            Err(e) => panic!("column {index}: {e}"),
        }
    }
}

impl RowExt for Row {
    fn try_get<T: Decode, I: RowIndex>(&self, index: I) -> Result<T, Error> {
        match &self.0 {
            RowInner::Any(r) => Ok(sqlx::Row::try_get(r, index)?),
            RowInner::Lite(r) => {
                let Some(i) = index.position(&r.names) else {
                    return Err(Error::column_not_found(index.to_string()));
                };
                T::from_lite(&r.values[i]).map_err(|e| Error::column_decode(index.to_string(), e))
            }
        }
    }

    fn len(&self) -> usize {
        match &self.0 {
            RowInner::Any(r) => sqlx::Row::len(r),
            RowInner::Lite(r) => r.values.len(),
        }
    }
}

/// What `execute` reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Done {
    rows_affected: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

/// How many rows a caller wants back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    Nothing,
    One,
    All,
}

/// What one statement gave.
#[derive(Debug, Default)]
pub(crate) struct Output {
    pub(crate) rows: Vec<Row>,
    pub(crate) affected: u64,
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
        match target {
            Target::Read(Reader(ReaderInner::Any(pool)))
            | Target::Slow(Reader(ReaderInner::Any(pool)))
            | Target::Write(Writer(WriterInner::Any(pool))) => Ok(any_run(pool, self.sql, self.args, want).await?),
            Target::Read(Reader(ReaderInner::Lite(pool))) => Ok(pool.with(|c| lite::run(c, self.sql, &self.args, want))?),
            Target::Slow(Reader(ReaderInner::Lite(pool))) => {
                let (pool, sql, args) = (pool.clone(), self.sql.to_owned(), self.args);
                Ok(tokio::task::spawn_blocking(move || pool.with_slow(|c| lite::run(c, &sql, &args, want)))
                    .await
                    .map_err(|e| Error::misuse(format!("a database read failed: {e}")))??)
            }
            Target::Write(writer @ Writer(WriterInner::Lite { .. })) => {
                // One statement is a transaction of its own, through the writer's queue.
                let (sql, args) = (Arc::<str>::from(self.sql), self.args);
                writer
                    .transaction(move |tx| {
                        let (sql, args) = (sql.clone(), args.clone());
                        Box::pin(async move { run_conn(tx, &sql, args, want).await })
                    })
                    .await
            }
            Target::Conn(conn) => run_conn(conn, self.sql, self.args, want).await,
        }
    }
}

async fn run_conn(conn: &mut Conn, sql: &str, args: Vec<Value>, want: Want) -> Result<Output, Error> {
    match conn.inner_mut()? {
        ConnRef::Any(c) => Ok(any_run(c, sql, args, want).await?),
        ConnRef::Lite(c) => Ok(c.with(|c| lite::run(c, sql, &args, want))?),
    }
}

async fn any_run<'c, E>(executor: E, sql: &str, args: Vec<Value>, want: Want) -> Result<Output, sqlx::Error>
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
            Value::Null(Kind::F32) => q.bind(None::<f32>),
            Value::Null(Kind::F64) => q.bind(None::<f64>),
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
        Want::One => {
            Ok(Output { rows: q.fetch_optional(executor).await?.map(|r| Row(RowInner::Any(r))).into_iter().collect(), affected: 0 })
        }
        Want::All => Ok(Output { rows: q.fetch_all(executor).await?.into_iter().map(|r| Row(RowInner::Any(r))).collect(), affected: 0 }),
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

/// Where a statement runs.
pub enum Target<'e> {
    Read(&'e Reader),
    /// A read that may take long (a backup, an export): on SQLite it runs on a blocking thread
    /// instead of the request's, on a connection of its own.
    Slow(&'e Reader),
    Write(&'e Writer),
    Conn(&'e mut Conn),
}

/// Anything a [`Query`] can run on.
pub trait Executor<'e>: Send {
    fn target(self) -> Target<'e>;
}

impl<'e> Executor<'e> for &'e Reader {
    fn target(self) -> Target<'e> {
        Target::Read(self)
    }
}

impl<'e> Executor<'e> for &'e Writer {
    fn target(self) -> Target<'e> {
        Target::Write(self)
    }
}

impl<'e> Executor<'e> for &'e mut Conn {
    fn target(self) -> Target<'e> {
        Target::Conn(self)
    }
}

/// A read to run off the request threads: `query(…).execute(Slow(db.read()))`.
pub struct Slow<'e>(pub &'e Reader);

impl<'e> Executor<'e> for Slow<'e> {
    fn target(self) -> Target<'e> {
        Target::Slow(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Db, DbTarget, ErrorKind};
    use lsn_core::config::Durability;

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
