//! Request extractors: who is calling (session cookie or API key) and from where.

use crate::audit::Actor;
use crate::error::IdentityError;
use crate::service::{Identity, Role, User, SESSION_COOKIE};
use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use std::net::SocketAddr;

/// The caller's address and user agent, for the audit log and rate limits.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl ClientMeta {
    pub fn from_parts(parts: &Parts) -> Self {
        let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        let user_agent =
            parts.headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|s| s.chars().take(300).collect());
        Self { ip, user_agent }
    }

    pub fn anonymous_actor(&self) -> Actor {
        Actor { id: None, label: "anonymous".into(), ip: self.ip.clone(), user_agent: self.user_agent.clone() }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientMeta {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

/// A signed-in caller. Rejects with 401 when there is none.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: User,
    /// `None` for a browser session (every right of the role); an API key's scopes otherwise.
    pub scopes: Option<Vec<String>>,
    pub session_token: Option<String>,
    /// The API key presented (kept for this request or connection only, to check it again).
    pub api_key: Option<String>,
    pub meta: ClientMeta,
}

impl AuthUser {
    pub fn actor(&self) -> Actor {
        Actor {
            id: Some(self.user.id.clone()),
            label: format!("user:{}", self.user.email.as_deref().unwrap_or(&self.user.id)),
            ip: self.meta.ip.clone(),
            user_agent: self.meta.user_agent.clone(),
        }
    }

    /// Staff only (admin or owner), and for API keys the `admin` scope.
    pub fn require_staff(&self) -> Result<(), IdentityError> {
        self.require(crate::access::Access::Staff(crate::access::Scope::Admin))
    }

    pub fn require_role(&self, min: Role) -> Result<(), IdentityError> {
        if self.user.role >= min {
            Ok(())
        } else {
            Err(IdentityError::Forbidden)
        }
    }
}

/// The API key a request presents: `Authorization: Bearer <key>`. Any other `Authorization`
/// (Basic, say) presents none, so the request is judged by its cookies — CSRF included.
pub fn bearer_key(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

fn bearer(parts: &Parts) -> Option<&str> {
    bearer_key(&parts.headers)
}

impl Identity {
    /// The caller as they are now: a long-lived connection (the live room) asks again before it
    /// acts for them. `None` when the session ended (signed out, expired, password changed) or
    /// the key was revoked; their role and scopes as they are now otherwise.
    pub async fn recheck(&self, caller: &AuthUser) -> Result<Option<AuthUser>, IdentityError> {
        if let Some(token) = &caller.session_token {
            return Ok(self.session_user(token).await?.map(|user| AuthUser { user, ..caller.clone() }));
        }
        if let Some(key) = &caller.api_key {
            return Ok(self.api_key_user(key).await?.map(|(user, scopes)| AuthUser { user, scopes: Some(scopes), ..caller.clone() }));
        }
        Ok(None)
    }
}

pub(crate) async fn resolve(parts: &mut Parts, id: &Identity) -> Result<Option<AuthUser>, IdentityError> {
    if let Some(found) = parts.extensions.get::<Option<AuthUser>>() {
        return Ok(found.clone());
    }
    let meta = ClientMeta::from_parts(parts);
    let found = if let Some(key) = bearer(parts) {
        // A presented key that does not work is an error, never a silent fall-back to anonymous.
        match id.api_key_user(key).await? {
            Some((user, scopes)) => {
                Some(AuthUser { user, scopes: Some(scopes), session_token: None, api_key: Some(key.to_string()), meta })
            }
            None => return Err(IdentityError::Unauthenticated),
        }
    } else {
        let jar = CookieJar::from_headers(&parts.headers);
        match jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) {
            Some(token) => {
                id.session_user(&token).await?.map(|user| AuthUser { user, scopes: None, session_token: Some(token), api_key: None, meta })
            }
            None => None,
        }
    };
    parts.extensions.insert(found.clone());
    Ok(found)
}

impl<S> FromRequestParts<S> for AuthUser
where
    S: Send + Sync,
    Identity: FromRef<S>,
{
    type Rejection = IdentityError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        resolve(parts, &Identity::from_ref(state)).await?.ok_or(IdentityError::Unauthenticated)
    }
}

/// The caller when signed in, `None` otherwise.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<AuthUser>);

impl<S> FromRequestParts<S> for MaybeUser
where
    S: Send + Sync,
    Identity: FromRef<S>,
{
    type Rejection = IdentityError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeUser(resolve(parts, &Identity::from_ref(state)).await?))
    }
}
