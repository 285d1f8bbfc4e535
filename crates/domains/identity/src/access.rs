//! One access check for every surface: the JSON API, the HTML pages and their forms, the tRPC
//! procedures and the live room's WebSocket frames all ask [`check`] with the [`Access`] the
//! operation declares.
//!
//! A browser session holds every right of its user's role; an API key holds only its scopes
//! (and never more than its user's role). Operations that create credentials or act on one's own
//! account ([`Access::StaffSession`], [`Access::Session`]) refuse API keys outright, so no key can
//! mint another key or change a password.
//!
//! Routes declare their access where they are routed ([`Routes`]): the check runs in front of
//! the handler, and the route table it builds is what the access tests walk, so a new route is
//! covered by them without editing them.

use crate::error::IdentityError;
use crate::extract::AuthUser;
use crate::service::{Identity, Role};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use lsn_core::access::{Access, RouteAccess, Scope};

impl AuthUser {
    /// Whether this caller holds `scope` (a session holds every scope of its role).
    pub fn holds(&self, scope: Scope) -> bool {
        match &self.scopes {
            None => true,
            Some(s) => s.iter().any(|x| x == scope.as_str() || x == Scope::Admin.as_str()),
        }
    }

    pub fn is_api_key(&self) -> bool {
        self.scopes.is_some()
    }

    /// Whether this signed-in caller may do what `access` guards.
    pub fn allows(&self, access: Access) -> bool {
        let scoped = access.scope().is_none_or(|s| self.holds(s));
        let role = self.user.role;
        match access {
            Access::Anyone(_) | Access::SignedIn(_) => scoped,
            Access::Creator(_) => scoped && role >= Role::Creator,
            Access::Staff(_) => scoped && role.is_staff(),
            Access::StaffSession => !self.is_api_key() && role.is_staff(),
            Access::Session => !self.is_api_key(),
        }
    }

    /// `Forbidden` unless this caller may do what `access` guards.
    pub fn require(&self, access: Access) -> Result<(), IdentityError> {
        if self.allows(access) {
            Ok(())
        } else {
            Err(IdentityError::Forbidden)
        }
    }
}

/// The one check: `Unauthenticated` when the operation needs a signed-in caller and there is
/// none, `Forbidden` when the caller's role or key does not allow it.
pub fn check(caller: Option<&AuthUser>, access: Access) -> Result<(), IdentityError> {
    match (caller, access) {
        (None, Access::Anyone(_)) => Ok(()),
        (None, _) => Err(IdentityError::Unauthenticated),
        (Some(u), a) => u.require(a),
    }
}

/// How a surface answers a refusal: a JSON problem for the API, a page for the site.
pub type Refusal = fn(IdentityError) -> Response;

/// The API's answer to a refused call.
pub fn api_refusal(e: IdentityError) -> Response {
    lsn_core::ApiError::from(e).into_response()
}

/// A router whose every route declares its access, checked in front of its handler.
pub struct Routes<S> {
    router: Router<S>,
    table: Vec<RouteAccess>,
    refusal: Refusal,
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// Routes whose refusals answer as `refusal` does.
    pub fn new(refusal: Refusal) -> Self {
        Self { router: Router::new(), table: Vec::new(), refusal }
    }

    /// Routes `method` of `path` to `handler` (a one-method `MethodRouter` such as `get(h)`),
    /// behind the check of `access`.
    pub fn route(mut self, method: &'static str, path: &'static str, access: Access, handler: MethodRouter<S>) -> Self {
        let guarded = handler.layer(AccessLayer { access, refusal: self.refusal });
        self.router = self.router.route(path, guarded);
        self.table.push(RouteAccess { method, path, access });
        self
    }

    pub fn get<H, T>(self, path: &'static str, access: Access, h: H) -> Self
    where
        H: axum::handler::Handler<T, S>,
        T: 'static,
    {
        self.route("GET", path, access, axum::routing::get(h))
    }

    pub fn post<H, T>(self, path: &'static str, access: Access, h: H) -> Self
    where
        H: axum::handler::Handler<T, S>,
        T: 'static,
    {
        self.route("POST", path, access, axum::routing::post(h))
    }

    pub fn put<H, T>(self, path: &'static str, access: Access, h: H) -> Self
    where
        H: axum::handler::Handler<T, S>,
        T: 'static,
    {
        self.route("PUT", path, access, axum::routing::put(h))
    }

    pub fn patch<H, T>(self, path: &'static str, access: Access, h: H) -> Self
    where
        H: axum::handler::Handler<T, S>,
        T: 'static,
    {
        self.route("PATCH", path, access, axum::routing::patch(h))
    }

    pub fn delete<H, T>(self, path: &'static str, access: Access, h: H) -> Self
    where
        H: axum::handler::Handler<T, S>,
        T: 'static,
    {
        self.route("DELETE", path, access, axum::routing::delete(h))
    }

    /// Takes in another set of routes (with their own refusal).
    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    pub fn table(&self) -> &[RouteAccess] {
        &self.table
    }

    pub fn into_parts(self) -> (Router<S>, Vec<RouteAccess>) {
        (self.router, self.table)
    }
}

/// The check of one route, in front of its handler.
#[derive(Clone, Copy)]
struct AccessLayer {
    access: Access,
    refusal: Refusal,
}

impl<I> tower::Layer<I> for AccessLayer {
    type Service = AccessService<I>;
    fn layer(&self, inner: I) -> AccessService<I> {
        AccessService { inner, access: self.access, refusal: self.refusal }
    }
}

#[derive(Clone)]
struct AccessService<I> {
    inner: I,
    access: Access,
    refusal: Refusal,
}

impl<I> tower::Service<Request> for AccessService<I>
where
    I: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    I::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The clone that was made ready goes into the future; a fresh one stays for next time.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (access, refusal) = (self.access, self.refusal);
        Box::pin(async move {
            let Some(identity) = req.extensions().get::<Identity>().cloned() else {
                tracing::error!("access check without the identity service in the request: refused");
                return Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response());
            };
            let (mut parts, body) = req.into_parts();
            let caller = match crate::extract::resolve(&mut parts, &identity).await {
                Ok(c) => c,
                Err(e) => return Ok(refusal(e)),
            };
            if let Err(e) = check(caller.as_ref(), access) {
                return Ok(refusal(e));
            }
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::ClientMeta;
    use crate::service::User;

    fn caller(role: Role, scopes: Option<&[&str]>) -> AuthUser {
        AuthUser {
            user: User { id: "u".into(), email: None, name: "U".into(), role, status: "active".into(), created_at: 0, last_login_at: None },
            scopes: scopes.map(|s| s.iter().map(|x| x.to_string()).collect()),
            session_token: None,
            api_key: None,
            meta: ClientMeta::default(),
        }
    }

    #[test]
    fn sessions_have_their_role_keys_only_their_scopes() {
        let admin_session = caller(Role::Admin, None);
        let admin_read_key = caller(Role::Admin, Some(&["catalog:read"]));
        let admin_key = caller(Role::Admin, Some(&["admin"]));
        let customer_admin_key = caller(Role::Customer, Some(&["admin"]));
        let staff_write = Access::Staff(Scope::CatalogWrite);
        assert!(admin_session.allows(staff_write));
        assert!(!admin_read_key.allows(staff_write), "a read key cannot write");
        assert!(admin_read_key.allows(Access::Staff(Scope::CatalogRead)));
        assert!(admin_key.allows(staff_write));
        assert!(!customer_admin_key.allows(staff_write), "a key never exceeds its user's role");
        assert!(!admin_key.allows(Access::StaffSession), "no key mints keys");
        assert!(admin_session.allows(Access::StaffSession));
        assert!(!admin_read_key.allows(Access::Anyone(Some(Scope::OrdersWrite))), "a read key cannot buy");
        assert!(admin_read_key.allows(Access::PUBLIC));
        assert!(!caller(Role::Customer, Some(&["orders:read"])).allows(Access::Session));
        assert!(check(None, Access::PUBLIC).is_ok());
        assert!(matches!(check(None, Access::SignedIn(None)), Err(IdentityError::Unauthenticated)));
        assert!(matches!(check(Some(&admin_read_key), staff_write), Err(IdentityError::Forbidden)));
        assert_eq!(Access::Staff(Scope::OrdersWrite).label(), "staff:orders:write");
        let names: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, crate::service::SCOPES, "the scopes a key may be given are the scopes checked");
    }
}
