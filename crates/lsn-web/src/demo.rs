//! The demo shop a newcomer sees on a fresh development database.
//!
//! Accounts only for now: products, stock and a scheduled show join as the commerce and live
//! domains land.

use lsn_db::{Db, RowExt};
use lsn_identity::audit::Actor;
use lsn_identity::{Identity, Role};

pub const DEMO_PASSWORD: &str = "lsn-demo-password";

pub const DEMO_USERS: &[(&str, &str, Role)] = &[
    ("admin@lsn.local", "Demo Admin", Role::Admin),
    ("creator@lsn.local", "Mia Creator", Role::Creator),
    ("ann@example.com", "Ann Shopper", Role::Customer),
    ("ben@example.com", "Ben Shopper", Role::Customer),
    ("chloe@example.com", "Chloe Shopper", Role::Customer),
];

pub async fn is_empty(db: &Db) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM users").fetch_one(db.read()).await?.try_get(0)?;
    Ok(n == 0)
}

/// Loads the demo accounts that are missing; a second run changes nothing.
pub async fn load(id: &Identity) -> anyhow::Result<String> {
    let actor = Actor { label: "demo".into(), ..Actor::system() };
    let mut created = 0;
    for (email, name, role) in DEMO_USERS {
        if id.user_by_email(email).await?.is_some() {
            continue;
        }
        id.create_user(&actor, email, name, DEMO_PASSWORD, *role).await?;
        created += 1;
    }
    Ok(format!("{created} demo accounts, password {DEMO_PASSWORD:?}; admin is admin@lsn.local"))
}
