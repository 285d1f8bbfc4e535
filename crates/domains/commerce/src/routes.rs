//! The commerce HTTP surface under `/api/v1`: catalog, inventory, cart, checkout, orders,
//! refunds, discounts, tasks; the Stripe webhook; the sandbox's authentication page.

use crate::cart::{self, Owner, CART_COOKIE};
use crate::idempotency;
use crate::orders::{CheckoutInput, OrderStatus, Viewer};
use crate::payments::{webhook, Confirmation, PaymentMethod};
use crate::Code;
use crate::{discounts, Commerce, CommerceError};
use axum::body::Bytes;
use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use lsn_catalog::{ProductInput, ProductPatch, SearchQuery};
use lsn_core::i18n;
use lsn_core::problem::{JsonBody, QueryArgs};
use lsn_core::ApiError;
use lsn_db::RowExt;
use lsn_identity::access::{api_refusal, Routes};
use lsn_identity::{Access, AuthUser, Identity, MaybeUser, Scope};
use serde::Deserialize;
use serde_json::{json, Value};

type ApiResult<T> = Result<T, ApiError>;

/// What commerce's handlers take their state from.
#[derive(Clone)]
pub struct RouteState {
    pub commerce: Commerce,
    pub identity: Identity,
}

impl FromRef<RouteState> for Commerce {
    fn from_ref(s: &RouteState) -> Commerce {
        s.commerce.clone()
    }
}

impl FromRef<RouteState> for Identity {
    fn from_ref(s: &RouteState) -> Identity {
        s.identity.clone()
    }
}

/// Commerce's routes, each with who may call it (`lsn_identity::access`); handlers add the
/// checks of the object itself (whose order, whose cart).
pub fn router<S>() -> Routes<S>
where
    S: Clone + Send + Sync + 'static,
    Commerce: FromRef<S>,
    Identity: FromRef<S>,
{
    use lsn_identity::access::{Access::*, Scope::*};
    let public = Access::PUBLIC;
    let buyer = Anyone(Some(OrdersWrite));
    Routes::new(api_refusal)
        .get("/api/v1/products", public, list_products)
        .post("/api/v1/products", Staff(CatalogWrite), create_product)
        .get("/api/v1/products/{id}", public, get_product)
        .patch("/api/v1/products/{id}", Staff(CatalogWrite), update_product)
        .delete("/api/v1/products/{id}", Staff(CatalogWrite), delete_product)
        .post("/api/v1/products/{id}/images", Staff(CatalogWrite), upload_image)
        .put("/api/v1/products/{id}/images", Staff(CatalogWrite), order_images)
        .delete("/api/v1/products/{id}/images/{image}", Staff(CatalogWrite), delete_image)
        .get("/api/v1/categories", public, categories)
        .get("/media/{key}", public, media)
        .post("/api/v1/inventory/receive", Staff(CatalogWrite), receive_stock)
        .post("/api/v1/inventory/adjust", Staff(CatalogWrite), adjust_stock)
        .get("/api/v1/inventory/{sku}", Staff(CatalogRead), stock_level)
        .get("/api/v1/cart", Anyone(Some(OrdersRead)), get_cart)
        .post("/api/v1/cart/items", buyer, add_item)
        .put("/api/v1/cart/items/{variant}", buyer, set_item)
        .delete("/api/v1/cart/items/{variant}", buyer, remove_item)
        .get("/api/v1/checkout/shipping-options", public, shipping_options)
        .post("/api/v1/checkout", buyer, checkout)
        .get("/api/v1/orders", SignedIn(Some(OrdersRead)), list_orders)
        .get("/api/v1/orders/{id}", Anyone(Some(OrdersRead)), get_order)
        .post("/api/v1/orders/{id}/pay", buyer, pay)
        .post("/api/v1/orders/{id}/cancel", buyer, cancel)
        .post("/api/v1/orders/{id}/status", Staff(OrdersWrite), set_status)
        .post("/api/v1/orders/{id}/refunds", Staff(OrdersWrite), refund)
        .get("/api/v1/discounts", Staff(OrdersRead), list_discounts)
        .post("/api/v1/discounts", Staff(OrdersWrite), create_discount)
        .get("/api/v1/admin/tasks", Staff(OrdersRead), tasks)
        // Signed by Stripe, not by a caller of ours.
        .post("/api/webhooks/stripe", public, stripe_webhook)
        .get("/api/sandbox/3ds/{intent}", public, sandbox_3ds_page)
        .post("/api/sandbox/3ds/{intent}", public, sandbox_3ds)
}

fn staff(user: &AuthUser, scope: Scope) -> Result<(), ApiError> {
    Ok(user.require(Access::Staff(scope))?)
}

/// Whether the caller may see what only staff see (drafts, every order).
fn sees_as_staff(user: &Option<AuthUser>, scope: Scope) -> bool {
    user.as_ref().is_some_and(|u| u.allows(Access::Staff(scope)))
}

// ----------------------------------------------------------------------------- catalog

async fn list_products(
    State(c): State<Commerce>,
    MaybeUser(user): MaybeUser,
    QueryArgs(q): QueryArgs<SearchQuery>,
) -> ApiResult<Json<Value>> {
    let page = c.catalog.search(&q, sees_as_staff(&user, Scope::CatalogRead)).await?;
    Ok(Json(json!(page)))
}

async fn get_product(State(c): State<Commerce>, MaybeUser(user): MaybeUser, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let p = c.catalog.get(&id, sees_as_staff(&user, Scope::CatalogRead)).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json(json!({ "product": p })))
}

async fn create_product(State(c): State<Commerce>, user: AuthUser, JsonBody(input): JsonBody<ProductInput>) -> ApiResult<Response> {
    staff(&user, Scope::CatalogWrite)?;
    let p = c.catalog.create(&input).await?;
    Ok((StatusCode::CREATED, Json(json!({ "product": p }))).into_response())
}

async fn update_product(
    State(c): State<Commerce>,
    user: AuthUser,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<ProductPatch>,
) -> ApiResult<Json<Value>> {
    staff(&user, Scope::CatalogWrite)?;
    Ok(Json(json!({ "product": c.catalog.update(&id, &patch).await? })))
}

async fn delete_product(State(c): State<Commerce>, user: AuthUser, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    staff(&user, Scope::CatalogWrite)?;
    Ok(Json(json!({ "id": id, "result": c.catalog.delete(&id).await? })))
}

async fn categories(State(c): State<Commerce>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "categories": c.catalog.categories().await? })))
}

const IMAGE_TYPES: &[(&str, &str)] = &[("image/jpeg", "jpg"), ("image/png", "png"), ("image/webp", "webp"), ("image/gif", "gif")];

#[derive(Deserialize)]
struct AltArg {
    alt: Option<String>,
}

async fn upload_image(
    State(c): State<Commerce>,
    user: AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    QueryArgs(q): QueryArgs<AltArg>,
    body: Bytes,
) -> ApiResult<Response> {
    staff(&user, Scope::CatalogWrite)?;
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    let img = store_image(&c, &id, ct, &body, q.alt.as_deref().unwrap_or_default()).await?;
    Ok((StatusCode::CREATED, Json(json!({ "image": img }))).into_response())
}

async fn delete_image(State(c): State<Commerce>, user: AuthUser, Path((id, image)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    staff(&user, Scope::CatalogWrite)?;
    let key = c.catalog.remove_image(&id, &image).await?;
    // The row is gone for good: now the bytes (a failure leaves an orphan file, and a warning).
    c.media.delete(&key).await;
    Ok(Json(json!({ "id": image, "deleted": true })))
}

#[derive(Deserialize)]
struct ImageOrder {
    image_ids: Vec<String>,
}

async fn order_images(
    State(c): State<Commerce>,
    user: AuthUser,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<ImageOrder>,
) -> ApiResult<Json<Value>> {
    staff(&user, Scope::CatalogWrite)?;
    Ok(Json(json!({ "images": c.catalog.order_images(&id, &b.image_ids).await? })))
}

/// Checks that `body` is an image of the type it claims, stores it in the media storage and
/// adds it to the product (the API's upload and the admin's form both come here).
pub async fn store_image(c: &Commerce, product_id: &str, ct: &str, body: &[u8], alt: &str) -> ApiResult<lsn_catalog::Image> {
    let Some((_, ext)) = IMAGE_TYPES.iter().find(|(t, _)| *t == ct) else {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_image_type", i18n::t("commerce-image-type")));
    };
    let magic_ok = match *ext {
        "jpg" => body.starts_with(&[0xFF, 0xD8, 0xFF]),
        "png" => body.starts_with(b"\x89PNG\r\n\x1a\n"),
        "gif" => body.starts_with(b"GIF8"),
        _ => body.len() > 12 && &body[..4] == b"RIFF" && &body[8..12] == b"WEBP",
    };
    if body.is_empty() || !magic_ok {
        return Err(ApiError::bad_request("invalid_image", i18n::t("commerce-image-invalid")));
    }
    let key = format!("{}.{ext}", lsn_core::ids::new_id());
    c.media.put(&key, ct, body).await.map_err(|e| {
        ApiError::unavailable("media_storage_unavailable", i18n::t_args("commerce-image-not-stored", &[("error", &e.to_string())]))
    })?;
    let alt = alt.chars().take(200).collect::<String>();
    match c.catalog.add_image(product_id, &key, ct, body.len() as i64, &alt).await {
        Ok(img) => Ok(img),
        Err(e) => {
            c.media.delete(&key).await;
            Err(e.into())
        }
    }
}

async fn media(State(c): State<Commerce>, Path(key): Path<String>) -> Response {
    let valid = key.len() < 80 && key.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '.') && !key.starts_with('.');
    let ct = IMAGE_TYPES.iter().find(|(_, e)| key.ends_with(&format!(".{e}"))).map(|(t, _)| *t);
    match (valid, ct) {
        (true, Some(ct)) => match c.media.get(&key).await {
            Ok(bytes) => ([("content-type", ct), ("cache-control", "public, max-age=31536000, immutable")], bytes).into_response(),
            Err(lsn_catalog::media::MediaError::NotFound) => ApiError::not_found().into_response(),
            Err(e) => ApiError::unavailable("media_storage_unavailable", e.to_string()).into_response(),
        },
        _ => ApiError::not_found().into_response(),
    }
}

// ----------------------------------------------------------------------------- inventory

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockBody {
    pub sku: String,
    pub bin: String,
    pub quantity: i64,
    #[serde(default)]
    pub reason: String,
}

async fn variant_by_sku(c: &Commerce, sku: &str) -> Result<String, ApiError> {
    let r = lsn_db::query("SELECT id FROM catalog_variants WHERE sku = $1 OR id = $1")
        .bind(sku)
        .fetch_optional(c.db.read())
        .await
        .map_err(ApiError::internal)?;
    r.map(|r| r.try_get::<String, _>(0))
        .transpose()
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::bad_request("unknown_variant", i18n::t("commerce-unknown-sku")))
}

pub async fn move_stock(c: &Commerce, user: &AuthUser, b: StockBody, kind: &'static str) -> ApiResult<Json<Value>> {
    staff(user, Scope::CatalogWrite)?;
    if kind == "received" && !(1..=1_000_000).contains(&b.quantity)
        || kind == "adjusted" && (b.quantity == 0 || b.quantity.abs() > 1_000_000)
    {
        return Err(ApiError::validation(json!({"quantity": i18n::t("commerce-stock-quantity")})));
    }
    if b.reason.chars().count() > 200 {
        return Err(ApiError::validation(json!({"reason": i18n::t_args("commerce-too-long", &[("max", "200")])})));
    }
    let variant = variant_by_sku(c, &b.sku).await?;
    let now = c.clock.now_ms();
    let actor = user.actor().label;
    let reason = if b.reason.trim().is_empty() { kind.to_string() } else { b.reason.trim().to_string() };
    let level =
        c.db.transaction(move |tx| {
            let (variant, bin, reason, actor) = (variant.clone(), b.bin.clone(), reason.clone(), actor.clone());
            Box::pin(async move {
                lsn_warehouse::stock::receive(tx, now, &variant, &bin, b.quantity, kind, &reason, None, &actor)
                    .await
                    .map_err(CommerceError::from)
            })
        })
        .await?;
    Ok(Json(json!({ "sku": b.sku, "level": level })))
}

async fn receive_stock(State(c): State<Commerce>, user: AuthUser, JsonBody(b): JsonBody<StockBody>) -> ApiResult<Json<Value>> {
    move_stock(&c, &user, b, "received").await
}

async fn adjust_stock(State(c): State<Commerce>, user: AuthUser, JsonBody(b): JsonBody<StockBody>) -> ApiResult<Json<Value>> {
    move_stock(&c, &user, b, "adjusted").await
}

async fn stock_level(State(c): State<Commerce>, user: AuthUser, Path(sku): Path<String>) -> ApiResult<Json<Value>> {
    staff(&user, Scope::CatalogRead)?;
    let variant = variant_by_sku(&c, &sku).await?;
    let r = lsn_warehouse::stock::report(&c.db, &variant, 50).await.map_err(ApiError::internal)?;
    Ok(Json(
        json!({"sku": sku, "on_hand": r.on_hand, "reserved": r.reserved, "available": r.available, "bins": r.bins, "movements": r.movements}),
    ))
}

// ----------------------------------------------------------------------------- cart

pub fn owner(user: &Option<AuthUser>, jar: &CookieJar) -> Owner {
    Owner::of(user.as_ref().map(|u| u.user.id.as_str()), jar)
}

pub fn cart_cookie(c: &Commerce, token: String) -> Cookie<'static> {
    Cookie::build((CART_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(c.cfg.is_production())
        .path("/")
        .max_age(cookie::time::Duration::days(30))
        .build()
}

async fn cart_response(
    c: &Commerce,
    jar: CookieJar,
    cart_id: Option<&str>,
    new_token: Option<String>,
    signed_in: bool,
) -> ApiResult<Response> {
    let view = cart::view(&c.db, cart_id).await?;
    let jar = match (new_token, signed_in) {
        (Some(t), _) => jar.add(cart_cookie(c, t)),
        // A signed-in customer's guest cart has been merged: the cookie has done its job.
        (None, true) if jar.get(CART_COOKIE).is_some() => jar.remove(Cookie::build(CART_COOKIE).path("/").build()),
        _ => jar,
    };
    Ok((jar, Json(json!({ "cart": view }))).into_response())
}

async fn get_cart(State(c): State<Commerce>, MaybeUser(user): MaybeUser, jar: CookieJar) -> ApiResult<Response> {
    let (id, token) = cart::resolve(&c.db, c.clock.now_ms(), &owner(&user, &jar), false).await?;
    cart_response(&c, jar, id.as_deref(), token, user.is_some()).await
}

/// Anything else the client sends (a price, say) is ignored: prices come from the catalog.
#[derive(Deserialize)]
struct AddItem {
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    variant_id: Option<String>,
    quantity: i64,
}

async fn add_item(
    State(c): State<Commerce>,
    MaybeUser(user): MaybeUser,
    jar: CookieJar,
    JsonBody(b): JsonBody<AddItem>,
) -> ApiResult<Response> {
    let key = b.variant_id.or(b.sku).ok_or_else(|| ApiError::validation(json!({"sku": i18n::t("commerce-sku-or-variant")})))?;
    let now = c.clock.now_ms();
    let (id, token) = cart::resolve(&c.db, now, &owner(&user, &jar), true).await?;
    let id = id.ok_or_else(|| ApiError::internal("cart not created"))?;
    cart::set_item(&c.db, now, &id, &key, b.quantity, true).await?;
    cart_response(&c, jar, Some(&id), token, user.is_some()).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetQty {
    quantity: i64,
}

async fn set_item(
    State(c): State<Commerce>,
    MaybeUser(user): MaybeUser,
    jar: CookieJar,
    Path(variant): Path<String>,
    JsonBody(b): JsonBody<SetQty>,
) -> ApiResult<Response> {
    let now = c.clock.now_ms();
    let (id, token) = cart::resolve(&c.db, now, &owner(&user, &jar), true).await?;
    let id = id.ok_or_else(|| ApiError::internal("cart not created"))?;
    cart::set_item(&c.db, now, &id, &variant, b.quantity, false).await?;
    cart_response(&c, jar, Some(&id), token, user.is_some()).await
}

async fn remove_item(
    State(c): State<Commerce>,
    MaybeUser(user): MaybeUser,
    jar: CookieJar,
    Path(variant): Path<String>,
) -> ApiResult<Response> {
    let now = c.clock.now_ms();
    let (id, token) = cart::resolve(&c.db, now, &owner(&user, &jar), false).await?;
    if let Some(id) = &id {
        cart::set_item(&c.db, now, id, &variant, 0, false).await?;
    }
    cart_response(&c, jar, id.as_deref(), token, user.is_some()).await
}

#[derive(Deserialize)]
struct SubtotalArg {
    subtotal: Option<i64>,
}

async fn shipping_options(QueryArgs(q): QueryArgs<SubtotalArg>) -> Json<Value> {
    Json(json!({ "options": crate::pricing::shipping_options(q.subtotal.unwrap_or(0)), "free_over": crate::pricing::FREE_SHIPPING_OVER }))
}

// ----------------------------------------------------------------------------- idempotent POSTs

fn idem_key(headers: &HeaderMap) -> Option<String> {
    headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Runs `f` once per `Idempotency-Key` (when the header is given), replaying the first answer.
async fn idempotent<F, Fut>(c: &Commerce, scope: &str, headers: &HeaderMap, what: &str, body: &Value, f: F) -> ApiResult<Response>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ApiResult<(StatusCode, Value)>>,
{
    let key = idem_key(headers);
    if key.is_none() {
        let (s, v) = f().await?;
        return Ok((s, Json(v)).into_response());
    }
    let a = idempotency::once(&c.db, c.clock.now_ms(), scope, key.as_deref(), what, body, f).await?;
    if a.replayed {
        Ok((a.status, [("idempotent-replayed", "true")], Json(a.body)).into_response())
    } else {
        Ok((a.status, Json(a.body)).into_response())
    }
}

fn scope_of(user: &Option<AuthUser>, jar: &CookieJar) -> String {
    idempotency::scope_of(user.as_ref().map(|u| u.user.id.as_str()), jar)
}

async fn checkout(
    State(c): State<Commerce>,
    MaybeUser(user): MaybeUser,
    meta: lsn_identity::ClientMeta,
    jar: CookieJar,
    headers: HeaderMap,
    JsonBody(raw): JsonBody<Value>,
) -> ApiResult<Response> {
    let input: CheckoutInput = serde_json::from_value(raw.clone()).map_err(|e| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", i18n::t_args("commerce-invalid-body", &[("error", &e.to_string())]))
    })?;
    let scope = scope_of(&user, &jar);
    let (cart_id, _) = cart::resolve(&c.db, c.clock.now_ms(), &owner(&user, &jar), false).await?;
    let c2 = c.clone();
    idempotent(&c, &scope, &headers, "POST /api/v1/checkout", &raw, || async move {
        let cart_id = cart_id.ok_or_else(|| ApiError::from(CommerceError::rule(Code::CartEmpty, i18n::t("commerce-cart-empty"))))?;
        let buyer = crate::buyers::Buyer::new(user.as_ref().map(|u| &u.user), &meta, jar.get(CART_COOKIE).map(|c| c.value()))
            .with_visitor(jar.get(crate::buyers::VISITOR_COOKIE).map(|c| c.value()));
        let r = c2.checkout(&buyer, &cart_id, &input).await?;
        Ok((StatusCode::CREATED, json!(r)))
    })
    .await
}

/// Who is asking about an order: staff (with `scope`: reading and changing anyone's order are
/// different rights), its customer, or a guest with its token.
fn viewer(user: &Option<AuthUser>, headers: &HeaderMap, token: Option<String>, scope: Scope) -> Option<Viewer> {
    if let Some(u) = user {
        return Some(if u.allows(Access::Staff(scope)) { Viewer::Staff } else { Viewer::Customer(u.user.id.to_string()) });
    }
    headers.get("x-order-token").and_then(|v| v.to_str().ok()).map(str::to_string).or(token).map(Viewer::Guest)
}

#[derive(Deserialize)]
struct OrderArgs {
    token: Option<String>,
    status: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

async fn list_orders(State(c): State<Commerce>, user: AuthUser, QueryArgs(q): QueryArgs<OrderArgs>) -> ApiResult<Json<Value>> {
    let mine = if user.allows(Access::Staff(Scope::OrdersRead)) { None } else { Some(user.user.id.as_str()) };
    let status = q.status.as_deref().map(|s| OrderStatus::from_field("status", s)).transpose()?;
    let orders = c.orders(mine, status, q.before, q.limit.unwrap_or(50)).await?;
    let next = orders.last().map(|o| o.placed_at);
    Ok(Json(json!({ "orders": orders, "next_before": next })))
}

async fn get_order(
    State(c): State<Commerce>,
    MaybeUser(user): MaybeUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<OrderArgs>,
) -> ApiResult<Json<Value>> {
    let v = viewer(&user, &headers, q.token, Scope::OrdersRead).ok_or_else(ApiError::unauthorized)?;
    Ok(Json(json!({ "order": c.order(&id, &v).await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayBody {
    #[serde(default)]
    payment_method: Option<String>,
    #[serde(default)]
    card_number: Option<String>,
}

async fn pay(
    State(c): State<Commerce>,
    MaybeUser(user): MaybeUser,
    jar: CookieJar,
    headers: HeaderMap,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<OrderArgs>,
    JsonBody(raw): JsonBody<Value>,
) -> ApiResult<Response> {
    let v = viewer(&user, &headers, q.token, Scope::OrdersWrite).ok_or_else(ApiError::unauthorized)?;
    let order = c.order(&id, &v).await?;
    let b: PayBody = serde_json::from_value(raw.clone()).map_err(|e| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", i18n::t_args("commerce-invalid-body", &[("error", &e.to_string())]))
    })?;
    let method = match (b.payment_method, b.card_number) {
        (Some(pm), None) if pm.starts_with("pm_") && pm.len() < 100 => PaymentMethod::Id(pm),
        (None, Some(n)) if n.len() < 40 => PaymentMethod::TestCard(n),
        _ => return Err(ApiError::validation(json!({"payment_method": i18n::t("commerce-payment-method")}))),
    };
    // The idempotency record keeps only a hash of the body, so no card number is stored.
    let scope = scope_of(&user, &jar);
    let key = idem_key(&headers).unwrap_or_else(|| format!("pay:{}:{}", order.id, lsn_core::ids::new_id()));
    let c2 = c.clone();
    let oid = order.id.clone();
    idempotent(&c, &scope, &headers, &format!("POST /api/v1/orders/{}/pay", order.id), &raw, || async move {
        let r = c2.pay(&oid, &method, &key).await?;
        let status = match &r {
            Confirmation::Failed { .. } => StatusCode::PAYMENT_REQUIRED,
            _ => StatusCode::OK,
        };
        let mut body = json!({ "order_id": oid, "payment": r });
        if let Confirmation::Failed { code, message } = &r {
            body["error"] = json!({"code": "payment_declined", "decline_code": code, "message": message});
        }
        Ok((status, body))
    })
    .await
}

async fn cancel(
    State(c): State<Commerce>,
    MaybeUser(user): MaybeUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    QueryArgs(q): QueryArgs<OrderArgs>,
) -> ApiResult<Json<Value>> {
    let v = viewer(&user, &headers, q.token, Scope::OrdersWrite).ok_or_else(ApiError::unauthorized)?;
    let order = c.order(&id, &v).await?;
    c.cancel_by_customer(&order.id).await?;
    Ok(Json(json!({ "order": c.order(&order.id, &v).await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
}

async fn set_status(
    State(c): State<Commerce>,
    user: AuthUser,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<StatusBody>,
) -> ApiResult<Json<Value>> {
    staff(&user, Scope::OrdersWrite)?;
    let order = c.order(&id, &Viewer::Staff).await?;
    Ok(Json(json!({ "order": c.update_status(&user.actor().label, &order.id, OrderStatus::from_field("status", &b.status)?).await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefundBody {
    #[serde(default)]
    amount: Option<i64>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    restock: bool,
}

async fn refund(
    State(c): State<Commerce>,
    user: AuthUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(raw): JsonBody<Value>,
) -> ApiResult<Response> {
    staff(&user, Scope::OrdersWrite)?;
    let b: RefundBody = serde_json::from_value(raw.clone()).map_err(|e| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", i18n::t_args("commerce-invalid-body", &[("error", &e.to_string())]))
    })?;
    let order = c.order(&id, &Viewer::Staff).await?;
    let c2 = c.clone();
    let actor = user.actor().label;
    idempotent(&c, &format!("user:{}", user.user.id), &headers, &format!("POST /api/v1/orders/{}/refunds", order.id), &raw, || async move {
        let r = c2.refund(&actor, &order.id, b.amount, &b.reason, b.restock).await?;
        // 202: the provider has not answered yet; the refund completes when it does.
        let status = if r.pending { StatusCode::ACCEPTED } else { StatusCode::CREATED };
        Ok((status, json!({ "order": r.order, "refund": {"id": r.refund_id, "status": if r.pending { "pending" } else { "succeeded" }} })))
    })
    .await
}

// ----------------------------------------------------------------------------- discounts, tasks

async fn list_discounts(State(c): State<Commerce>, user: AuthUser) -> ApiResult<Json<Value>> {
    staff(&user, Scope::OrdersRead)?;
    Ok(Json(json!({ "discounts": discounts::list(&c.db).await? })))
}

async fn create_discount(
    State(c): State<Commerce>,
    user: AuthUser,
    JsonBody(b): JsonBody<discounts::DiscountInput>,
) -> ApiResult<Response> {
    staff(&user, Scope::OrdersWrite)?;
    let d = discounts::create(&c.db, c.clock.now_ms(), &b).await?;
    Ok((StatusCode::CREATED, Json(json!({ "discount": d }))).into_response())
}

async fn tasks(State(c): State<Commerce>, user: AuthUser) -> ApiResult<Json<Value>> {
    staff(&user, Scope::OrdersRead)?;
    let tasks = lsn_ops::tasks::recent(&c.db, 200).await.map_err(ApiError::internal)?;
    Ok(Json(json!({ "tasks": tasks })))
}

// ----------------------------------------------------------------------------- webhooks, sandbox

async fn stripe_webhook(State(c): State<Commerce>, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Value>> {
    let sig = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    let r = webhook::receive(&c, &body, sig).await?;
    Ok(Json(json!({ "received": true, "result": format!("{r:?}").to_lowercase() })))
}

async fn sandbox_3ds_page(State(c): State<Commerce>, Path(intent): Path<String>) -> ApiResult<Html<String>> {
    if c.sandbox.is_none()
        || !intent.starts_with("pi_sbx_")
        || intent.len() > 60
        || !intent.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    {
        return Err(ApiError::not_found());
    }
    Ok(Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>Authenticate payment · Sandbox</title></head>\
         <body style=\"font-family:system-ui;max-width:30rem;margin:3rem auto\"><h1>Test authentication</h1><p>This is the sandbox's stand-in for a bank's 3-D Secure page.</p>\
         <form method=\"post\"><input type=\"hidden\" name=\"result\" value=\"succeed\"><button>Complete authentication</button></form>\
         <form method=\"post\"><input type=\"hidden\" name=\"result\" value=\"fail\"><button>Fail authentication</button></form><p><small>{intent}</small></p></body></html>"
    )))
}

async fn sandbox_3ds(State(c): State<Commerce>, Path(intent): Path<String>, body: Bytes) -> ApiResult<Json<Value>> {
    let Some(sandbox) = &c.sandbox else { return Err(ApiError::not_found()) };
    let approve = match serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["result"].as_str().map(str::to_string)) {
        Some(r) => r == "succeed",
        None => url::form_urlencoded::parse(&body).any(|(k, v)| k == "result" && v == "succeed"),
    };
    let r = sandbox.authenticate(&intent, approve).await.map_err(|e| match e {
        crate::payments::ProviderError::Rejected(m) => ApiError::conflict("invalid_state", m),
        crate::payments::ProviderError::Unavailable(m) => ApiError::internal(m),
    })?;
    Ok(Json(json!({ "payment": r })))
}
