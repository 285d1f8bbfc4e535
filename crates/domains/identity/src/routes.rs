//! The identity HTTP surface: `/api/auth/*` (runbook paths), `/api/oauth/*`, API keys, and the
//! admin endpoints for users, roles, settings and the audit log.

use crate::access::{api_refusal, Access, Routes};
use crate::audit;
use crate::error::IdentityError;
use crate::extract::{AuthUser, ClientMeta, MaybeUser};
use crate::oidc::STATE_COOKIE;
use crate::service::{Identity, NewSession, Role, User, DEVICE_COOKIE, SESSION_COOKIE};
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use lsn_core::i18n;
use lsn_core::problem::{JsonBody, QueryArgs};
use lsn_core::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

type ApiResult<T> = Result<T, ApiError>;

/// Identity's routes, each with who may call it (`crate::access`).
pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    Identity: FromRef<S>,
{
    use crate::access::{Access::*, Scope::*};
    let public = Access::PUBLIC;
    Routes::new(api_refusal)
        .post("/api/auth/register", public, register)
        .get("/api/auth/verify", public, verify_link)
        .post("/api/auth/verify", public, verify_json)
        .post("/api/auth/login", public, login)
        .post("/api/auth/logout", public, logout)
        .get("/api/auth/me", SignedIn(None), me)
        .post("/api/auth/password/forgot", public, forgot)
        .post("/api/auth/password/reset", public, reset)
        .get("/api/oauth/login", public, oauth_login)
        .get("/api/oauth/callback", public, oauth_callback_get)
        .post("/api/oauth/callback", public, oauth_callback_post)
        .get("/api/v1/api-keys", Staff(Admin), list_keys)
        // Only a person signed in mints a key: no key can mint another.
        .post("/api/v1/api-keys", StaffSession, create_key)
        .delete("/api/v1/api-keys/{id}", Staff(Admin), revoke_key)
        .get("/api/v1/admin/users", Staff(Admin), admin_users)
        .post("/api/v1/admin/users/{id}/role", Staff(Admin), admin_set_role)
        .get("/api/v1/admin/audit", Staff(Admin), admin_audit)
        .get("/api/v1/admin/settings/{key}", Staff(Admin), admin_get_setting)
        .put("/api/v1/admin/settings/{key}", Staff(Admin), admin_put_setting)
}

pub fn session_cookie(id: &Identity, s: &NewSession) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, s.token.clone()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(id.cfg.is_production())
        .path("/")
        .max_age(time_secs(crate::service::SESSION_TTL_MS / 1000))
        .build()
}

fn time_secs(s: i64) -> cookie::time::Duration {
    cookie::time::Duration::seconds(s)
}

fn removal(name: &'static str) -> Cookie<'static> {
    Cookie::build((name, "")).path("/").max_age(time_secs(0)).build()
}

/// The cookie that tells a later sign-in this browser has signed in to the account before.
pub fn device_cookie(id: &Identity, s: &NewSession) -> Cookie<'static> {
    Cookie::build((DEVICE_COOKIE, s.device.clone()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(id.cfg.is_production())
        .path("/")
        .max_age(time_secs(365 * 24 * 3600))
        .build()
}

/// The cookies of a new session: the session itself and the browser's device proof.
pub fn with_session(id: &Identity, jar: CookieJar, s: &NewSession) -> CookieJar {
    jar.add(session_cookie(id, s)).add(device_cookie(id, s))
}

fn signed_in(id: &Identity, jar: CookieJar, user: User, s: NewSession, status: StatusCode) -> Response {
    (status, with_session(id, jar, &s), Json(json!({ "user": user, "csrf_token": s.csrf_token }))).into_response()
}

#[derive(Deserialize)]
struct RegisterBody {
    email: String,
    #[serde(default)]
    name: String,
    password: String,
}

async fn register(State(id): State<Identity>, meta: ClientMeta, JsonBody(b): JsonBody<RegisterBody>) -> ApiResult<Response> {
    id.register(&meta.anonymous_actor(), &b.email, &b.name, &b.password).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "check_your_email", "message": i18n::t("identity-register-sent") }))).into_response())
}

#[derive(Deserialize)]
struct TokenArg {
    token: String,
}

async fn verify_link(
    State(id): State<Identity>,
    meta: ClientMeta,
    jar: CookieJar,
    QueryArgs(q): QueryArgs<TokenArg>,
) -> ApiResult<Response> {
    let (_, s) = id.verify_email(&meta.anonymous_actor(), &q.token).await?;
    Ok((with_session(&id, jar, &s), Redirect::to("/")).into_response())
}

async fn verify_json(State(id): State<Identity>, meta: ClientMeta, jar: CookieJar, JsonBody(b): JsonBody<TokenArg>) -> ApiResult<Response> {
    let (user, s) = id.verify_email(&meta.anonymous_actor(), &b.token).await?;
    Ok(signed_in(&id, jar, user, s, StatusCode::OK))
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(State(id): State<Identity>, meta: ClientMeta, jar: CookieJar, JsonBody(b): JsonBody<LoginBody>) -> ApiResult<Response> {
    if b.email.len() > 320 || b.password.len() > 4096 {
        return Err(IdentityError::InvalidCredentials.into());
    }
    let device = jar.get(DEVICE_COOKIE).map(|c| c.value().to_string());
    let (user, s) = id.login(&meta.anonymous_actor(), &b.email, &b.password, device.as_deref()).await?;
    Ok(signed_in(&id, jar, user, s, StatusCode::OK))
}

async fn logout(State(id): State<Identity>, MaybeUser(user): MaybeUser, meta: ClientMeta, jar: CookieJar) -> ApiResult<Response> {
    if let Some(token) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) {
        let actor = user.as_ref().map(AuthUser::actor).unwrap_or_else(|| meta.anonymous_actor());
        id.logout(&actor, &token).await?;
    }
    Ok((StatusCode::NO_CONTENT, jar.add(removal(SESSION_COOKIE))).into_response())
}

async fn me(State(id): State<Identity>, user: AuthUser) -> ApiResult<Json<Value>> {
    let csrf = user.session_token.as_deref().map(|t| id.csrf_for(t));
    Ok(Json(json!({
        "user": user.user,
        "auth": if user.scopes.is_some() { "api_key" } else { "session" },
        "scopes": user.scopes,
        "csrf_token": csrf,
    })))
}

#[derive(Deserialize)]
struct ForgotBody {
    email: String,
}

async fn forgot(State(id): State<Identity>, meta: ClientMeta, JsonBody(b): JsonBody<ForgotBody>) -> ApiResult<Response> {
    id.request_password_reset(&meta.anonymous_actor(), &b.email).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "check_your_email", "message": i18n::t("identity-reset-sent") }))).into_response())
}

#[derive(Deserialize)]
struct ResetBody {
    token: String,
    password: String,
}

async fn reset(State(id): State<Identity>, meta: ClientMeta, JsonBody(b): JsonBody<ResetBody>) -> ApiResult<Json<Value>> {
    id.reset_password(&meta.anonymous_actor(), &b.token, &b.password).await?;
    Ok(Json(json!({ "status": "password_changed" })))
}

#[derive(Deserialize)]
struct OAuthLoginArgs {
    return_to: Option<String>,
}

async fn oauth_login(State(id): State<Identity>, jar: CookieJar, QueryArgs(q): QueryArgs<OAuthLoginArgs>) -> ApiResult<Response> {
    let (url, state) = id.oauth_begin(q.return_to.as_deref()).await?;
    // SameSite=Lax would drop the cookie on a form_post callback; None needs Secure in production.
    let cookie = Cookie::build((STATE_COOKIE, state))
        .http_only(true)
        .same_site(if id.cfg.is_production() { SameSite::None } else { SameSite::Lax })
        .secure(id.cfg.is_production())
        .path("/api/oauth")
        .max_age(time_secs(600))
        .build();
    Ok((jar.add(cookie), Redirect::to(&url)).into_response())
}

#[derive(Deserialize)]
struct CallbackArgs {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn oauth_callback(id: Identity, meta: ClientMeta, jar: CookieJar, args: CallbackArgs) -> ApiResult<Response> {
    if let Some(e) = args.error {
        return Err(IdentityError::OAuth(format!("provider returned error {}", e.chars().take(100).collect::<String>())).into());
    }
    let cookie = jar.get(STATE_COOKIE).map(|c| c.value().to_string());
    let (who, return_to) =
        id.oauth_finish(args.code.as_deref().unwrap_or(""), args.state.as_deref().unwrap_or(""), cookie.as_deref()).await?;
    let actor = meta.anonymous_actor();
    let user = id.oidc_user(&actor, &who.subject, who.email.as_deref(), who.name.as_deref()).await?;
    if user.status == "disabled" {
        return Err(IdentityError::Forbidden.into());
    }
    let s = id.start_session(&user, &actor, "oauth").await?;
    let jar = with_session(&id, jar, &s).add(Cookie::build((STATE_COOKIE, "")).path("/api/oauth").max_age(time_secs(0)).build());
    Ok((jar, Redirect::to(&return_to)).into_response())
}

async fn oauth_callback_get(
    State(id): State<Identity>,
    meta: ClientMeta,
    jar: CookieJar,
    QueryArgs(q): QueryArgs<CallbackArgs>,
) -> ApiResult<Response> {
    oauth_callback(id, meta, jar, q).await
}

async fn oauth_callback_post(
    State(id): State<Identity>,
    meta: ClientMeta,
    jar: CookieJar,
    form: Result<Form<CallbackArgs>, axum::extract::rejection::FormRejection>,
) -> ApiResult<Response> {
    let Form(f) = form.map_err(|e| ApiError::bad_request("invalid_body", e.body_text()))?;
    oauth_callback(id, meta, jar, f).await
}

#[derive(Deserialize)]
struct NewKeyBody {
    name: String,
    scopes: Vec<String>,
}

async fn create_key(State(id): State<Identity>, user: AuthUser, JsonBody(b): JsonBody<NewKeyBody>) -> ApiResult<Response> {
    user.require_staff()?;
    if user.scopes.is_some() {
        // A key cannot mint keys: only a person signed in can.
        return Err(IdentityError::Forbidden.into());
    }
    let (info, key) = id.create_api_key(&user.actor(), &user.user, &b.name, &b.scopes).await?;
    Ok((StatusCode::CREATED, Json(json!({ "api_key": info, "key": key, "note": i18n::t("identity-key-note") }))).into_response())
}

async fn list_keys(State(id): State<Identity>, user: AuthUser) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    Ok(Json(json!({ "api_keys": id.list_api_keys(&user.user.id).await? })))
}

async fn revoke_key(State(id): State<Identity>, user: AuthUser, Path(key_id): Path<String>) -> ApiResult<StatusCode> {
    user.require_staff()?;
    id.revoke_api_key(&user.actor(), &user.user.id, user.user.role == Role::Owner, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct LimitArgs {
    limit: Option<i64>,
    action: Option<String>,
    before: Option<i64>,
}

async fn admin_users(State(id): State<Identity>, user: AuthUser, QueryArgs(q): QueryArgs<LimitArgs>) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    Ok(Json(json!({ "users": id.list_users(q.limit.unwrap_or(100)).await? })))
}

#[derive(Deserialize)]
struct RoleBody {
    role: String,
}

async fn admin_set_role(
    State(id): State<Identity>,
    user: AuthUser,
    Path(uid): Path<String>,
    JsonBody(b): JsonBody<RoleBody>,
) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    let role: Role = b.role.parse().map_err(|_: String| {
        ApiError::validation(json!({ "role": i18n::t_args("identity-role-unknown", &[("role", &format!("{:?}", b.role))]) }))
    })?;
    if user.user.id == uid.as_str() {
        return Err(ApiError::conflict("own_role", i18n::t("identity-own-role")));
    }
    let updated = id.change_role(&user.actor(), Some(user.user.role), &uid, role).await?;
    Ok(Json(json!({ "user": updated })))
}

async fn admin_audit(State(id): State<Identity>, user: AuthUser, QueryArgs(q): QueryArgs<LimitArgs>) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    let entries = audit::list(&id.db, q.action.as_deref(), q.before, q.limit.unwrap_or(100)).await.map_err(IdentityError::from)?;
    let next = entries.last().map(|e| e.at);
    Ok(Json(json!({ "entries": entries, "next_before": next })))
}

async fn admin_get_setting(State(id): State<Identity>, user: AuthUser, Path(key): Path<String>) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    let v = id.get_setting(&key).await?.ok_or(IdentityError::NotFound)?;
    Ok(Json(json!({ "key": key, "value": v })))
}

#[derive(Deserialize)]
struct SettingBody {
    value: Value,
}

async fn admin_put_setting(
    State(id): State<Identity>,
    user: AuthUser,
    Path(key): Path<String>,
    JsonBody(b): JsonBody<SettingBody>,
) -> ApiResult<Json<Value>> {
    user.require_staff()?;
    id.set_setting(&user.actor(), &key, &b.value).await?;
    Ok(Json(json!({ "key": key, "value": b.value })))
}
