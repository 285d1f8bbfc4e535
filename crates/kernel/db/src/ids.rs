//! Id newtypes: one macro gives an entity its own id type (a UUIDv7 string, as every table
//! stores its ids), bound and read by the query layer like a string, so an order id cannot be
//! passed where a show id is wanted.

/// `lsn_db::id!(pub OrderId);` makes `OrderId`: a new one with [`OrderId::new`], any stored
/// one with `From<String>`, read as `&str` through `Deref`, sent as a plain JSON string, bound
/// with `.bind(&id)` and read from a row with `row.try_parse("id")`.
#[macro_export]
macro_rules! id {
    ($(#[$m:meta])* $vis:vis $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(transparent)]
        $vis struct $name(String);

        impl $name {
            /// A new, time-ordered id.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                $name($crate::new_id())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl ::std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl ::std::convert::AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl ::std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl ::std::convert::From<String> for $name {
            fn from(s: String) -> Self {
                $name(s)
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }

        impl ::std::convert::From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok($name(s.to_string()))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        $crate::bind_as_text!($name);
    };
}

#[cfg(test)]
mod tests {
    use crate::{query, Db, DbTarget, RowExt};
    use lsn_core::config::Durability;

    crate::id!(
        /// A test entity's id.
        pub ThingId
    );

    #[tokio::test]
    async fn an_id_binds_reads_and_serializes_as_its_string() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Db::connect_target(&DbTarget::Sqlite(dir.path().join("i.db")), 2, Durability::Full, 1).await.expect("open");
        query("CREATE TABLE things (id TEXT PRIMARY KEY, parent TEXT)").execute(db.write()).await.expect("table");
        let (a, b) = (ThingId::new(), ThingId::new());
        assert!(a < b, "time-ordered");
        query("INSERT INTO things (id, parent) VALUES ($1, $2)").bind(&a).bind(None::<ThingId>).execute(db.write()).await.expect("insert");
        let row = query("SELECT id FROM things WHERE id = $1").bind(a.clone()).fetch_one(db.read()).await.expect("row");
        let back: ThingId = row.try_parse("id").expect("id");
        assert_eq!(back, a);
        assert_eq!(serde_json::to_value(&a).expect("json"), serde_json::json!(a.as_str()));
        let s: &str = &a;
        assert_eq!(s.len(), 36);
    }
}
