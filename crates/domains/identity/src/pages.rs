//! What identity tells every page (`lsn_ui::Session`): who is signed in and the form token of
//! the request — the session's, or for a visitor without one the HMAC of their `lsn_visitor`
//! cookie (a first visit gets a new one).

use crate::csrf::visitor_token;
use crate::service::{Identity, SESSION_COOKIE};
use axum::http::request::Parts;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use lsn_ui::{UserChip, Visit, VISITOR_COOKIE};

pub struct PageSession(pub Identity);

#[async_trait::async_trait]
impl lsn_ui::Session for PageSession {
    async fn visit(&self, parts: &mut Parts) -> Result<Visit, Response> {
        let user = crate::extract::resolve(parts, &self.0).await.map_err(|e| lsn_ui::error_response(lsn_core::ApiError::from(e).status))?;
        let jar = CookieJar::from_headers(&parts.headers);
        let (csrf, new_visitor) = match (jar.get(SESSION_COOKIE), jar.get(VISITOR_COOKIE)) {
            (Some(s), _) => (self.0.csrf_for(s.value()), None),
            (None, Some(v)) => (visitor_token(&self.0, v.value()), None),
            (None, None) => {
                let v = lsn_core::ids::random_token(24);
                (visitor_token(&self.0, &v), Some(v))
            }
        };
        let chip = user.map(|u| UserChip { id: u.user.id.to_string(), name: u.user.name.clone(), staff: u.user.role.is_staff() });
        Ok(Visit { chip, csrf, new_visitor })
    }
}
