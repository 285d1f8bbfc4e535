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

/// The reverse proxies whose `X-Forwarded-For` is believed (`LSN_TRUSTED_PROXIES`), put in
/// every request's extensions by the app.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub std::sync::Arc<Vec<std::net::IpAddr>>);

/// The client's address: the peer's, or — when the peer is a trusted proxy — the last address
/// in `X-Forwarded-For` that is not one (the ones before it are the client's own claims).
pub fn client_ip(parts: &Parts) -> Option<std::net::IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())?;
    let trusted = parts.extensions.get::<TrustedProxies>().map(|t| t.0.clone()).unwrap_or_default();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<std::net::IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    Some(forwarded.into_iter().rev().find(|a| !trusted.contains(a)).unwrap_or(peer))
}

impl ClientMeta {
    pub fn from_parts(parts: &Parts) -> Self {
        let ip = client_ip(parts).map(|a| a.to_string());
        let user_agent =
            parts.headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|s| s.chars().take(300).collect());
        Self { ip, user_agent }
    }

    /// The network the client is on, for limits per source: its IPv4 address, or the /64 of
    /// its IPv6 address (one subscriber's, which hands out as many addresses as it likes).
    pub fn network(&self) -> String {
        network_of(self.ip.as_deref())
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

/// The network of an address (see [`ClientMeta::network`]).
pub fn network_of(ip: Option<&str>) -> String {
    match ip.and_then(|i| i.parse::<std::net::IpAddr>().ok()) {
        Some(std::net::IpAddr::V4(a)) => a.to_string(),
        Some(std::net::IpAddr::V6(a)) => match a.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = a.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "unknown".into(),
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
            id: Some(self.user.id.to_string()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: &str, forwarded: &[&str], trusted: &[&str]) -> Parts {
        let mut req = axum::http::Request::builder();
        for f in forwarded {
            req = req.header("x-forwarded-for", *f);
        }
        let (mut p, _) = req.body(()).expect("request").into_parts();
        p.extensions.insert(ConnectInfo(format!("{peer}:5000").parse::<SocketAddr>().expect("peer")));
        p.extensions.insert(TrustedProxies(std::sync::Arc::new(trusted.iter().map(|t| t.parse().expect("ip")).collect())));
        p
    }

    #[test]
    fn the_client_behind_a_trusted_proxy() {
        let ip = |p: &Parts| client_ip(p).map(|a| a.to_string());
        // No trusted proxy: the peer, whatever the header claims.
        assert_eq!(ip(&parts("203.0.113.9", &["1.2.3.4"], &[])).as_deref(), Some("203.0.113.9"));
        // Behind a trusted proxy: the last address it was not told by another proxy.
        assert_eq!(ip(&parts("10.0.0.1", &["6.6.6.6, 198.51.100.7"], &["10.0.0.1"])).as_deref(), Some("198.51.100.7"));
        assert_eq!(ip(&parts("10.0.0.1", &["198.51.100.7", "10.0.0.2"], &["10.0.0.1", "10.0.0.2"])).as_deref(), Some("198.51.100.7"));
        assert_eq!(ip(&parts("10.0.0.1", &[], &["10.0.0.1"])).as_deref(), Some("10.0.0.1"));
        assert_eq!(network_of(Some("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
        assert_eq!(network_of(Some("::ffff:192.0.2.1")), "192.0.2.1");
        assert_eq!(network_of(Some("192.0.2.1")), "192.0.2.1");
    }
}
