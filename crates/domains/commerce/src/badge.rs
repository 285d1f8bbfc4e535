//! The number on every page's cart link (`lsn_ui::Badge`).

use crate::cart::{self, Owner};
use crate::Commerce;
use axum_extra::extract::CookieJar;

pub struct CartBadge(pub Commerce);

#[async_trait::async_trait]
impl lsn_ui::Badge for CartBadge {
    async fn cart_count(&self, user_id: Option<&str>, jar: &CookieJar) -> i64 {
        let owner = Owner::of(user_id, jar);
        match cart::resolve(&self.0.db, self.0.clock.now_ms(), &owner, false).await {
            Ok((Some(id), _)) => cart::item_count(&self.0.db, &id).await.unwrap_or(0),
            _ => 0,
        }
    }
}
