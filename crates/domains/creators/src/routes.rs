//! The creators domain's HTTP surface. A creator's own data is reached only through `/me`
//! paths, answered for the caller's own creator profile (never an id in the request); staff
//! reach every creator under `/api/v1/admin/creators`. Clicks arrive at `/r/{code}`.

use crate::attribution::ClickMeta;
use crate::profiles::{Application, CollaborationInput, ProfilePatch};
use crate::{Creators, CreatorsError};
use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use lsn_core::problem::{JsonBody, QueryArgs};
use lsn_core::ApiError;
use lsn_identity::access::{api_refusal, Routes};
use lsn_identity::{AuthUser, ClientMeta, Identity, MaybeUser};
use serde::Deserialize;
use serde_json::{json, Value};

type ApiResult<T> = Result<T, ApiError>;

#[derive(Clone)]
pub struct RouteState {
    pub creators: Creators,
    pub identity: Identity,
}

impl FromRef<RouteState> for Creators {
    fn from_ref(s: &RouteState) -> Creators {
        s.creators.clone()
    }
}

impl FromRef<RouteState> for Identity {
    fn from_ref(s: &RouteState) -> Identity {
        s.identity.clone()
    }
}

pub fn api() -> Routes<RouteState> {
    use lsn_identity::access::{Access::*, Scope::*};
    let me = Creator(Creators);
    let staff = Staff(Admin);
    Routes::new(api_refusal)
        .post("/api/v1/creators/apply", SignedIn(Some(Creators)), apply)
        .get("/api/v1/creators/me", SignedIn(Some(Creators)), me_get)
        .patch("/api/v1/creators/me", me, me_patch)
        .get("/api/v1/creators/me/stats", me, me_stats)
        .get("/api/v1/creators/me/links", me, me_links)
        .post("/api/v1/creators/me/links", me, me_new_link)
        .get("/api/v1/creators/me/ledger", me, me_ledger)
        .get("/api/v1/creators/me/collaborations", me, me_collaborations)
        .get("/api/v1/creators/me/bank-account", me, me_bank_get)
        .put("/api/v1/creators/me/bank-account", me, me_bank_put)
        .get("/api/v1/creators/me/payouts", me, me_payouts)
        .get("/api/v1/admin/creators/payouts", staff, payouts_list)
        .post("/api/v1/admin/creators/payouts/run", staff, payouts_run)
        .post("/api/v1/admin/creators/payouts/{id}/approve", staff, payout_approve)
        .post("/api/v1/admin/creators/payouts/{id}/reject", staff, payout_reject)
        .post("/api/v1/admin/creators/{id}/payouts", staff, admin_payout)
        .post("/api/webhooks/wise", lsn_identity::Access::PUBLIC, wise_webhook)
        .post("/api/webhooks/stripe/connect", lsn_identity::Access::PUBLIC, connect_webhook)
        .post("/api/v1/creators/me/collaborations/{id}", me, me_join)
        .get("/api/v1/admin/creators", staff, admin_list)
        .get("/api/v1/admin/creators/settings", staff, settings_get)
        .put("/api/v1/admin/creators/settings", staff, settings_put)
        .get("/api/v1/admin/creators/tiers", staff, tiers_get)
        .put("/api/v1/admin/creators/tiers/{tier}", staff, tier_put)
        .get("/api/v1/admin/creators/overrides", staff, overrides_get)
        .put("/api/v1/admin/creators/overrides", staff, override_put)
        .post("/api/v1/admin/creators/collaborations", staff, collaboration_new)
        .get("/api/v1/admin/creators/flags", staff, flags)
        .get("/api/v1/admin/creators/tier-proposals", staff, tier_proposals)
        .post("/api/v1/admin/creators/tier-proposals/{id}", staff, tier_decide)
        .get("/api/v1/admin/creators/attributions/{order}", staff, attribution_get)
        .get("/api/v1/admin/creators/{id}", staff, admin_get)
        .post("/api/v1/admin/creators/{id}/decision", staff, admin_decide)
        .patch("/api/v1/admin/creators/{id}/terms", staff, admin_terms)
        .post("/api/v1/admin/creators/{id}/codes", staff, admin_code)
}

/// The click route: `/r/{code}` records the click and sends the browser on.
pub fn pages() -> Routes<RouteState> {
    Routes::new(lsn_identity::pages::refusal).get("/r/{code}", lsn_identity::Access::PUBLIC, click).merge(crate::pages::routes())
}

// ----------------------------------------------------------------------------- clicks

/// The visitor cookie: a year, first-party, not readable by scripts.
pub fn visitor_cookie(visitor: String) -> Cookie<'static> {
    Cookie::build((lsn_commerce::buyers::VISITOR_COOKIE, visitor))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(time_year())
        .build()
}

fn time_year() -> cookie::time::Duration {
    cookie::time::Duration::days(365)
}

/// What a request says about the click it carries.
pub fn click_meta(headers: &HeaderMap, jar: &CookieJar, user_id: Option<String>, meta: &ClientMeta) -> ClickMeta {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    ClickMeta {
        visitor: jar.get(lsn_commerce::buyers::VISITOR_COOKIE).map(|c| c.value().to_string()),
        user_id,
        network: meta.network(),
        user_agent: meta.user_agent.clone(),
        fetch_dest: h("sec-fetch-dest"),
        purpose: h("sec-purpose").or_else(|| h("purpose")),
    }
}

async fn click(
    State(c): State<Creators>,
    MaybeUser(user): MaybeUser,
    meta: ClientMeta,
    headers: HeaderMap,
    jar: CookieJar,
    Path(code): Path<String>,
) -> Response {
    let m = click_meta(&headers, &jar, user.map(|u| u.user.id.to_string()), &meta);
    match c.click(&code, &m).await {
        Ok(Some(clicked)) => (jar.add(visitor_cookie(clicked.visitor)), Redirect::to(&clicked.target)).into_response(),
        Ok(None) => Redirect::to("/").into_response(),
        Err(e) => {
            // A click that could not be recorded still takes the shopper to the shop.
            tracing::warn!(error = %e, "a referral click was not recorded");
            Redirect::to("/").into_response()
        }
    }
}

// ----------------------------------------------------------------------------- a creator's own

async fn mine(c: &Creators, user: &AuthUser) -> Result<crate::profiles::Creator, ApiError> {
    Ok(c.approved_for(&user.user.id).await?)
}

async fn apply(State(c): State<Creators>, user: AuthUser, JsonBody(a): JsonBody<Application>) -> ApiResult<Response> {
    Ok((StatusCode::CREATED, Json(json!({"creator": c.apply(&user.user, &a).await?}))).into_response())
}

/// The caller's creator profile (any status: an applicant sees where their application stands).
async fn me_get(State(c): State<Creators>, user: AuthUser) -> ApiResult<Json<Value>> {
    let Some(me) = c.by_user(&user.user.id).await? else { return Err(CreatorsError::NotFound.into()) };
    let balance = c.balance(&me.id).await?;
    Ok(Json(json!({"creator": me, "balance": balance})))
}

async fn me_patch(State(c): State<Creators>, user: AuthUser, JsonBody(p): JsonBody<ProfilePatch>) -> ApiResult<Json<Value>> {
    let me = mine(&c, &user).await?;
    Ok(Json(json!({"creator": c.update_profile(&me.id, &p).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Since {
    days: Option<i64>,
}

async fn me_stats(State(c): State<Creators>, user: AuthUser, QueryArgs(q): QueryArgs<Since>) -> ApiResult<Json<Value>> {
    let me = mine(&c, &user).await?;
    let days = q.days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(CreatorsError::field("days", lsn_core::i18n::t("creators-days")).into());
    }
    Ok(Json(c.stats(&me.id, days).await?))
}

async fn me_links(State(c): State<Creators>, user: AuthUser) -> ApiResult<Json<Value>> {
    let me = mine(&c, &user).await?;
    Ok(Json(json!({"links": c.links(&me.id).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewLink {
    #[serde(default)]
    target: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    code: Option<String>,
}

async fn me_new_link(State(c): State<Creators>, user: AuthUser, JsonBody(l): JsonBody<NewLink>) -> ApiResult<Response> {
    let me = mine(&c, &user).await?;
    let link = c.create_link(&me, &l.target, &l.label, l.code.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(json!({"link": link}))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Limit {
    limit: Option<i64>,
}

async fn me_ledger(State(c): State<Creators>, user: AuthUser, QueryArgs(q): QueryArgs<Limit>) -> ApiResult<Json<Value>> {
    let me = mine(&c, &user).await?;
    Ok(Json(json!({"balance": c.balance(&me.id).await?, "entries": c.entries(&me.id, q.limit.unwrap_or(100)).await?})))
}

async fn me_collaborations(State(c): State<Creators>, user: AuthUser) -> ApiResult<Json<Value>> {
    let me = mine(&c, &user).await?;
    Ok(Json(json!({"collaborations": c.collaborations_for(&me.id).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Join {
    accept: bool,
}

async fn me_join(State(c): State<Creators>, user: AuthUser, Path(id): Path<String>, JsonBody(j): JsonBody<Join>) -> ApiResult<Json<Value>> {
    let me = mine(&c, &user).await?;
    Ok(Json(c.join_collaboration(&me, &id, j.accept).await?))
}

// ----------------------------------------------------------------------------- staff

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListArgs {
    status: Option<String>,
    tier: Option<String>,
    limit: Option<i64>,
}

async fn admin_list(State(c): State<Creators>, QueryArgs(q): QueryArgs<ListArgs>) -> ApiResult<Json<Value>> {
    if q.status.as_deref().is_some_and(|s| !["applied", "approved", "rejected", "suspended"].contains(&s)) {
        return Err(CreatorsError::field("status", lsn_core::i18n::t("creators-status")).into());
    }
    if q.tier.as_deref().is_some_and(|t| !crate::TIERS.contains(&t)) {
        return Err(CreatorsError::field("tier", lsn_core::i18n::t("creators-tier")).into());
    }
    Ok(Json(json!({"creators": c.list(q.status.as_deref(), q.tier.as_deref(), q.limit.unwrap_or(100)).await?})))
}

async fn admin_get(State(c): State<Creators>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let creator = c.get(&id).await?;
    let stats = c.stats(&id, 30).await?;
    Ok(Json(
        json!({"creator": creator, "balance": stats["balance"], "links": c.links(&id).await?, "codes": c.codes(&id).await?, "stats": stats}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Decision {
    action: String,
    #[serde(default)]
    note: String,
}

async fn admin_decide(
    State(c): State<Creators>,
    user: AuthUser,
    Path(id): Path<String>,
    JsonBody(d): JsonBody<Decision>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"creator": c.decide(&id, &d.action, &d.note, &user.user).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Terms {
    tier: Option<String>,
    /// `null` clears the creator's own rate; absent leaves it.
    #[serde(default, with = "double_option")]
    rate_bps: Option<Option<i64>>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
        Option::<i64>::deserialize(d).map(Some)
    }
}

async fn admin_terms(State(c): State<Creators>, Path(id): Path<String>, JsonBody(t): JsonBody<Terms>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"creator": c.set_terms(&id, t.tier.as_deref(), t.rate_bps).await?})))
}

async fn admin_code(
    State(c): State<Creators>,
    Path(id): Path<String>,
    JsonBody(d): JsonBody<lsn_commerce::discounts::DiscountInput>,
) -> ApiResult<Response> {
    Ok((StatusCode::CREATED, Json(c.create_code(&id, &d).await?)).into_response())
}

async fn settings_get(State(c): State<Creators>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"settings": c.settings().await?})))
}

async fn settings_put(State(c): State<Creators>, user: AuthUser, JsonBody(v): JsonBody<Value>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"settings": c.update_settings(&v, &user.user.id).await?})))
}

async fn tiers_get(State(c): State<Creators>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"tiers": c.tiers().await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TierRate {
    rate_bps: i64,
    min_sales_90d: Option<i64>,
}

async fn tier_put(State(c): State<Creators>, Path(tier): Path<String>, JsonBody(t): JsonBody<TierRate>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"tiers": c.set_tier_rate(&tier, t.rate_bps, t.min_sales_90d).await?})))
}

async fn overrides_get(State(c): State<Creators>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"overrides": c.overrides().await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Override {
    scope: String,
    target_id: String,
    creator_id: Option<String>,
    rate_bps: i64,
}

async fn override_put(State(c): State<Creators>, JsonBody(o): JsonBody<Override>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"override": c.set_override(&o.scope, &o.target_id, o.creator_id.as_deref(), o.rate_bps).await?})))
}

async fn collaboration_new(State(c): State<Creators>, JsonBody(i): JsonBody<CollaborationInput>) -> ApiResult<Response> {
    Ok((StatusCode::CREATED, Json(json!({"collaboration": c.create_collaboration(&i).await?}))).into_response())
}

async fn flags(State(c): State<Creators>, QueryArgs(q): QueryArgs<Limit>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"flags": c.flags(q.limit.unwrap_or(100)).await?})))
}

async fn attribution_get(State(c): State<Creators>, Path(order): Path<String>) -> ApiResult<Json<Value>> {
    let a = c.attribution(&order).await?.ok_or(CreatorsError::NotFound)?;
    Ok(Json(json!({"attribution": a})))
}

// ----------------------------------------------------------------------------- payouts

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BankInput {
    holder_name: String,
    account: lsn_payouts::Account,
}

async fn me_bank_get(State(c): State<Creators>, user: AuthUser) -> ApiResult<Json<Value>> {
    let me = mine(&c, &user).await?;
    Ok(Json(json!({"bank_account": c.bank_account(&me.id).await?})))
}

async fn me_bank_put(State(c): State<Creators>, user: AuthUser, JsonBody(b): JsonBody<BankInput>) -> ApiResult<Json<Value>> {
    let me = mine(&c, &user).await?;
    Ok(Json(json!({"bank_account": c.set_bank_account(&me.id, &b.holder_name, &b.account).await?})))
}

async fn me_payouts(State(c): State<Creators>, user: AuthUser, QueryArgs(q): QueryArgs<Limit>) -> ApiResult<Json<Value>> {
    let me = mine(&c, &user).await?;
    Ok(Json(json!({"payouts": c.payouts(Some(&me.id), None, q.limit.unwrap_or(100)).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayoutArgs {
    status: Option<String>,
    limit: Option<i64>,
}

const PAYOUT_STATUSES: &[&str] = &["awaiting_approval", "approved", "submitted", "paid", "failed", "returned", "rejected"];

async fn payouts_list(State(c): State<Creators>, QueryArgs(q): QueryArgs<PayoutArgs>) -> ApiResult<Json<Value>> {
    if q.status.as_deref().is_some_and(|s| !PAYOUT_STATUSES.contains(&s)) {
        return Err(CreatorsError::field("status", lsn_core::i18n::t("creators-payout-status")).into());
    }
    Ok(Json(json!({"payouts": c.payouts(None, q.status.as_deref(), q.limit.unwrap_or(100)).await?})))
}

async fn payouts_run(State(c): State<Creators>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"run": c.run_payouts().await?})))
}

async fn payout_approve(State(c): State<Creators>, user: AuthUser, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    c.approve_payout(&id, &user.user.id).await?;
    c.submit_approved().await?;
    Ok(Json(json!({"payout": c.payout(&id).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reject {
    #[serde(default)]
    note: String,
}

async fn payout_reject(
    State(c): State<Creators>,
    user: AuthUser,
    Path(id): Path<String>,
    JsonBody(r): JsonBody<Reject>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"payout": c.reject_payout(&id, &user.user.id, &r.note).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayoutRequest {
    /// Cents.
    amount: i64,
    currency: Option<String>,
}

async fn admin_payout(
    State(c): State<Creators>,
    user: AuthUser,
    Path(id): Path<String>,
    JsonBody(p): JsonBody<PayoutRequest>,
) -> ApiResult<Response> {
    if !(1..=100_000_000).contains(&p.amount) {
        return Err(CreatorsError::field("amount", lsn_core::i18n::t("creators-payout-amount")).into());
    }
    let payout = c.process_payout(&id, p.amount, p.currency.as_deref(), &user.user.id).await?;
    Ok((StatusCode::CREATED, Json(json!({"payout": payout}))).into_response())
}

async fn wise_webhook(State(c): State<Creators>, headers: HeaderMap, body: axum::body::Bytes) -> ApiResult<Json<Value>> {
    let name = c.providers.bank.name();
    Ok(Json(json!({"applied": c.apply_webhook(name, &headers, &body).await?})))
}

async fn connect_webhook(State(c): State<Creators>, headers: HeaderMap, body: axum::body::Bytes) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"applied": c.apply_webhook("stripe_connect", &headers, &body).await?})))
}

// ----------------------------------------------------------------------------- tiers

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProposalArgs {
    status: Option<String>,
}

async fn tier_proposals(State(c): State<Creators>, QueryArgs(q): QueryArgs<ProposalArgs>) -> ApiResult<Json<Value>> {
    if q.status.as_deref().is_some_and(|s| !["proposed", "confirmed", "dismissed"].contains(&s)) {
        return Err(CreatorsError::field("status", lsn_core::i18n::t("creators-proposal-status")).into());
    }
    Ok(Json(json!({"proposals": c.tier_proposals(q.status.as_deref()).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TierDecision {
    confirm: bool,
}

async fn tier_decide(
    State(c): State<Creators>,
    user: AuthUser,
    Path(id): Path<String>,
    JsonBody(d): JsonBody<TierDecision>,
) -> ApiResult<Json<Value>> {
    Ok(Json(c.decide_tier(&id, d.confirm, &user.user.id).await?))
}

// ----------------------------------------------------------------------------- ?ref= on any page

/// The `ref` parameter of a query string, when there is one.
fn ref_code(query: &str) -> Option<String> {
    query.split('&').find_map(|kv| kv.strip_prefix("ref=")).map(|v| v.chars().take(40).collect::<String>()).filter(|v| !v.is_empty())
}

/// A page asked for with `?ref={code}` records the click like `/r/{code}` does (the page is
/// answered as always, with the visitor cookie added). API calls and other methods pass by.
pub async fn referral_layer(State(c): State<Creators>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let wanted = req.method() == axum::http::Method::GET
        && !req.uri().path().starts_with("/api/")
        && req.uri().query().is_some_and(|q| q.contains("ref="));
    let Some(code) = wanted.then(|| req.uri().query().and_then(ref_code)).flatten() else { return next.run(req).await };
    let (parts, body) = req.into_parts();
    let jar = CookieJar::from_headers(&parts.headers);
    let meta = ClientMeta::from_parts(&parts);
    let m = click_meta(&parts.headers, &jar, None, &meta);
    let clicked = match c.click(&code, &m).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "a referral click was not recorded");
            None
        }
    };
    let res = next.run(axum::extract::Request::from_parts(parts, body)).await;
    match clicked {
        Some(clicked) if jar.get(lsn_commerce::buyers::VISITOR_COOKIE).map(|c| c.value()) != Some(clicked.visitor.as_str()) => {
            (CookieJar::new().add(visitor_cookie(clicked.visitor)), res).into_response()
        }
        _ => res,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_ref_parameter_is_found_anywhere_in_the_query() {
        assert_eq!(super::ref_code("ref=ann-1").as_deref(), Some("ann-1"));
        assert_eq!(super::ref_code("a=1&ref=ann-1&b=2").as_deref(), Some("ann-1"));
        assert_eq!(super::ref_code("pref=x"), None);
        assert_eq!(super::ref_code("ref="), None);
    }
}
