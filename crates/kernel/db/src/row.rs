//! Values and rows, the bottom of the query layer: what a statement binds ([`Value`], through
//! [`IntoValue`]) and what it gives back ([`Row`], read through [`RowExt`] into any [`Decode`]
//! type). Both backends' rows look alike from here; nothing here runs a statement.

use crate::error::Error;
use sqlx::any::AnyRow;
use sqlx::Any;
use std::sync::Arc;

/// A row read from SQLite: its values, and the statement's column names (shared by its rows).
#[derive(Debug)]
pub(crate) struct LiteRow {
    pub(crate) names: Arc<[String]>,
    pub(crate) values: Vec<rusqlite::types::Value>,
}

pub(crate) fn type_name(v: &rusqlite::types::Value) -> &'static str {
    match v {
        rusqlite::types::Value::Null => "null",
        rusqlite::types::Value::Integer(_) => "an integer",
        rusqlite::types::Value::Real(_) => "a real",
        rusqlite::types::Value::Text(_) => "text",
        rusqlite::types::Value::Blob(_) => "a blob",
    }
}

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
        other => Err(format!("expected an integer, found {}", type_name(other))),
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
            other => Err(format!("expected a number, found {}", type_name(other))),
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
            other => Err(format!("expected a blob, found {}", type_name(other))),
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

    pub(crate) fn any(row: AnyRow) -> Self {
        Row(RowInner::Any(row))
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
    pub(crate) rows_affected: u64,
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
