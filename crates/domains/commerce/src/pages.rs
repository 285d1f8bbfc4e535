//! Commerce's pages, the storefront: search, product, cart, checkout, payment and the order
//! page (the checkout of a live flash deal or an auction win is live's page, built from
//! [`checkout_form`] and [`place`]).

use crate::address::Address;
use crate::orders::{CheckoutInput, Order, OrderStatus, Viewer};
use crate::payments::{Confirmation, PaymentMethod};
use crate::{cart, idempotency, Commerce, CommerceError};
use askama::Template;
use axum::extract::FromRef;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::Form;
use axum_extra::extract::cookie::{Cookie, SameSite};
use lsn_catalog::{Product, SearchQuery};
use lsn_core::i18n::{t, t_args, DateStyle};
use lsn_core::ApiError;
use lsn_identity::access::{Access, RouteAccess, Routes};
use lsn_identity::Identity;
use lsn_ui::parse_dollars;
use lsn_ui::{money, see_other, Chrome, FormState, PageError, PageResult};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

type Fields = HashMap<String, String>;

/// Commerce's page context (any module whose state gives commerce and identity can take it:
/// live's deal checkout does).
pub type Ctx = lsn_identity::pages::Page<Commerce>;

/// Whose cart a page works on: the signed-in customer's, else the browser's guest cart.
pub fn owner(ctx: &Ctx) -> cart::Owner {
    crate::routes::owner(&ctx.user, &ctx.jar)
}

/// An address as lines of text.
pub fn address_lines(a: &serde_json::Value) -> Vec<String> {
    let s = |k: &str| a[k].as_str().unwrap_or_default().trim().to_string();
    [s("name"), s("line1"), s("line2"), format!("{} {} {}", s("suburb"), s("state"), s("postcode")).trim().to_string()]
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect()
}

/// Commerce's pages and forms, each with who may open or send it.
pub fn router<S>() -> (axum::Router<S>, Vec<RouteAccess>)
where
    S: Clone + Send + Sync + 'static,
    Commerce: FromRef<S>,
    Identity: FromRef<S>,
{
    use lsn_identity::access::{Access::*, Scope::*};
    let public = Access::PUBLIC;
    let buyer = Anyone(Some(OrdersWrite));
    Routes::new(lsn_identity::pages::refusal)
        .get("/search", public, search)
        .get("/p/{slug}", public, product)
        .get("/cart", Anyone(Some(OrdersRead)), cart)
        .post("/cart/add", buyer, cart_add)
        .post("/cart/update", buyer, cart_update)
        .get("/checkout", buyer, checkout_page)
        .post("/checkout", buyer, checkout_submit)
        .get("/orders/{number}", Anyone(Some(OrdersRead)), order_page)
        .get("/orders/{number}/pay", buyer, pay_page)
        .post("/orders/{number}/pay", buyer, pay_submit)
        .into_parts()
}

#[derive(Deserialize, Default)]
pub struct NoticeArg {
    pub notice: Option<String>,
}

pub struct Card {
    pub slug: String,
    pub title: String,
    pub price: String,
    pub compare_at: Option<String>,
    pub in_stock: bool,
    pub image: Option<String>,
    pub image_alt: String,
    pub initials: String,
}

pub fn initials(title: &str) -> String {
    title.split_whitespace().filter_map(|w| w.chars().next()).take(2).collect::<String>().to_uppercase()
}

pub fn card(p: &Product) -> Card {
    let compare = p.variants.iter().filter_map(|v| v.compare_at_price.filter(|c| *c > v.price)).max();
    Card {
        slug: p.slug.clone(),
        title: p.title.clone(),
        price: if p.variants.iter().any(|v| v.price != p.min_price) {
            t_args("product-from", &[("price", &money(p.min_price))])
        } else {
            money(p.min_price)
        },
        compare_at: compare.map(money),
        in_stock: p.in_stock,
        image: p.images.first().map(|i| i.url.clone()),
        image_alt: p.images.first().map(|i| i.alt.clone()).unwrap_or_default(),
        initials: initials(&p.title),
    }
}

pub struct Category {
    pub slug: String,
    pub name: String,
}

pub async fn categories(c: &Commerce) -> Vec<Category> {
    c.catalog
        .categories()
        .await
        .unwrap_or_default()
        .iter()
        .map(|c| Category { slug: c["slug"].as_str().unwrap_or_default().into(), name: c["name"].as_str().unwrap_or_default().into() })
        .collect()
}

// ----------------------------------------------------------------------------- search

#[derive(Template)]
#[template(path = "search.html")]
struct Search {
    chrome: Chrome,
    categories: Vec<Category>,
    category: String,
    min: String,
    max: String,
    in_stock: bool,
    form: FormState,
    products: Vec<Card>,
    has_prev: bool,
    first_url: String,
    next_url: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct SearchArgs {
    q: Option<String>,
    category: Option<String>,
    min: Option<String>,
    max: Option<String>,
    in_stock: Option<String>,
    cursor: Option<String>,
}

async fn search(ctx: Ctx, Query(a): Query<SearchArgs>) -> PageResult {
    let mut form = FormState::default();
    let q_text: String = a.q.clone().unwrap_or_default().trim().chars().take(100).collect();
    let min = parse_dollars(a.min.as_deref().unwrap_or("")).unwrap_or_else(|e| {
        form.errors.insert("min".into(), e);
        None
    });
    let max = parse_dollars(a.max.as_deref().unwrap_or("")).unwrap_or_else(|e| {
        form.errors.insert("max".into(), e);
        None
    });
    let in_stock = a.in_stock.is_some();
    let category = a.category.clone().unwrap_or_default();
    let query = SearchQuery {
        q: Some(q_text.clone()).filter(|q| !q.is_empty()),
        category: Some(category.clone()).filter(|c| !c.is_empty()),
        min_price: min,
        max_price: max,
        in_stock: in_stock.then_some(true),
        cursor: a.cursor.clone().filter(|c| !c.is_empty()),
        limit: Some(24),
        ..Default::default()
    };
    let (products, next) = match ctx.state.catalog.search(&query, false).await {
        Ok(p) => (p.items.iter().map(card).collect(), p.next_cursor),
        Err(e) => {
            let api = ApiError::from(e);
            if api.status.is_server_error() {
                return Err(PageError::status(api.status));
            }
            form.absorb(api.fields.as_ref());
            (Vec::new(), None)
        }
    };
    let link = |cursor: Option<&str>| {
        let mut u = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", q_text.as_str()),
            ("category", &category),
            ("min", a.min.as_deref().unwrap_or("")),
            ("max", a.max.as_deref().unwrap_or("")),
        ] {
            if !v.is_empty() {
                u.append_pair(k, v);
            }
        }
        if in_stock {
            u.append_pair("in_stock", "1");
        }
        if let Some(c) = cursor {
            u.append_pair("cursor", c);
        }
        format!("/search?{}", u.finish())
    };
    let mut chrome =
        ctx.chrome(if q_text.is_empty() { t("search-all") } else { t_args("search-title", &[("q", &q_text)]) }, "search", None).await;
    chrome.q = q_text.clone();
    let page = Search {
        chrome,
        categories: categories(&ctx.state).await,
        category: category.clone(),
        min: a.min.clone().unwrap_or_default(),
        max: a.max.clone().unwrap_or_default(),
        in_stock,
        form,
        products,
        has_prev: a.cursor.is_some(),
        first_url: link(None),
        next_url: next.as_deref().map(|c| link(Some(c))),
    };
    Ok(ctx.ok(&page))
}

// ----------------------------------------------------------------------------- product

pub struct VariantChoice {
    id: String,
    label: String,
    price: String,
    available: bool,
    low: bool,
    stock: i64,
    checked: bool,
}

#[derive(Template)]
#[template(path = "product.html")]
struct ProductPage {
    chrome: Chrome,
    product: Product,
    category_slug: String,
    images: Vec<lsn_catalog::Image>,
    initials: String,
    price: String,
    compare_at: Option<String>,
    free_over: String,
    variants: Vec<VariantChoice>,
    max_qty: i64,
    description: Vec<String>,
    error: Option<String>,
}

async fn product_page(ctx: &Ctx, slug: &str, error: Option<String>, notice: Option<&str>) -> PageResult {
    let Some(p) = ctx.state.catalog.get(slug, false).await.map_err(PageError::internal)? else {
        return Err(PageError::status(StatusCode::NOT_FOUND));
    };
    if p.status != "active" {
        return Err(PageError::status(StatusCode::NOT_FOUND));
    }
    let variants: Vec<VariantChoice> = p
        .variants
        .iter()
        .map(|v| {
            let opts: Vec<String> = v.options.values().cloned().collect();
            let label = if !v.title.is_empty() {
                v.title.clone()
            } else if opts.is_empty() {
                v.sku.clone()
            } else {
                opts.join(" / ")
            };
            let available = v.status == "active" && v.available > 0;
            VariantChoice {
                id: v.id.to_string(),
                label,
                price: money(v.price),
                available,
                low: available && v.available < 10,
                stock: v.available,
                checked: false,
            }
        })
        .collect();
    let mut variants = variants;
    // The first option that can be bought is chosen to begin with.
    if let Some(v) = variants.iter_mut().find(|v| v.available) {
        v.checked = true;
    }
    let first = p.variants.first();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = ProductPage {
        chrome: ctx.chrome(p.title.clone(), "product", notice).await,
        category_slug: p.category.as_deref().map(lsn_catalog::slugify).unwrap_or_default(),
        images: p.images.clone(),
        initials: initials(&p.title),
        price: money(first.map(|v| v.price).unwrap_or(p.min_price)),
        compare_at: first.and_then(|v| v.compare_at_price.filter(|c| *c > v.price)).map(money),
        free_over: money(crate::pricing::FREE_SHIPPING_OVER),
        variants,
        max_qty: p.max_per_order.unwrap_or(99).clamp(1, 999),
        description: p.description.split("\n\n").map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect(),
        error,
        product: p,
    };
    Ok(ctx.render(status, &page))
}

async fn product(ctx: Ctx, Path(slug): Path<String>, Query(n): Query<NoticeArg>) -> PageResult {
    product_page(&ctx, &slug, None, n.notice.as_deref()).await
}

// ----------------------------------------------------------------------------- cart

pub struct LineView {
    variant_id: String,
    sku: String,
    slug: String,
    title: String,
    variant: String,
    unit_price: String,
    quantity: i64,
    line_total: String,
    problem: Option<String>,
}

pub struct SummaryRow {
    label: String,
    amount: String,
    total: bool,
}

fn row(label: impl Into<String>, minor: i64) -> SummaryRow {
    SummaryRow { label: label.into(), amount: money(minor), total: false }
}

fn total_row(minor: i64) -> SummaryRow {
    SummaryRow { label: t("summary-total"), amount: money(minor), total: true }
}

#[derive(Template)]
#[template(path = "cart.html")]
struct CartPage {
    chrome: Chrome,
    lines: Vec<LineView>,
    summary: Vec<SummaryRow>,
    gst_note: String,
    error: Option<String>,
}

async fn cart_view(ctx: &Ctx) -> Result<cart::CartView, PageError> {
    let (id, _) = cart::resolve(&ctx.state.db, ctx.state.clock.now_ms(), &owner(ctx), false).await?;
    Ok(cart::view(&ctx.state.db, id.as_deref()).await?)
}

fn problem_text(p: &str) -> String {
    match p {
        "insufficient_stock" => t("cart-not-enough"),
        "unavailable" => t("cart-unavailable"),
        other => other.replace('_', " "),
    }
}

async fn cart_page(ctx: &Ctx, error: Option<String>, notice: Option<&str>) -> PageResult {
    let view = cart_view(ctx).await?;
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = CartPage {
        chrome: ctx.chrome(t("cart-title"), "cart", notice).await,
        lines: view
            .lines
            .iter()
            .map(|l| LineView {
                variant_id: l.variant_id.clone(),
                sku: l.sku.clone(),
                slug: l.product_slug.clone(),
                title: l.product_title.clone(),
                variant: l.variant_title.clone(),
                unit_price: money(l.unit_price),
                quantity: l.quantity,
                line_total: money(l.line_total),
                problem: l.problem.as_deref().map(problem_text),
            })
            .collect(),
        summary: vec![row(t("summary-subtotal"), view.subtotal), total_row(view.subtotal)],
        gst_note: t_args("cart-gst-note", &[("gst", &money(view.gst_included))]),
        error,
    };
    Ok(ctx.render(status, &page))
}

async fn cart(ctx: Ctx, Query(n): Query<NoticeArg>) -> PageResult {
    cart_page(&ctx, None, n.notice.as_deref()).await
}

fn quantity(f: &Fields) -> Result<i64, String> {
    match f.get("quantity").map(|q| q.trim()).unwrap_or("1").parse::<i64>() {
        Ok(q) if (0..=999).contains(&q) => Ok(q),
        _ => Err(t("cart-bad-quantity")),
    }
}

/// Puts `variant` in the cart (adding to what is there, or setting the quantity).
async fn change_cart(ctx: &Ctx, f: &Fields, add: bool) -> Result<axum_extra::extract::CookieJar, String> {
    let variant = f.get("variant").map(String::as_str).unwrap_or_default();
    if variant.is_empty() {
        return Err(t("cart-choose-option"));
    }
    let qty = quantity(f)?;
    if add && qty == 0 {
        return Err(t("cart-bad-quantity"));
    }
    let now = ctx.state.clock.now_ms();
    let (id, token) = cart::resolve(&ctx.state.db, now, &owner(ctx), true).await.map_err(|e| ApiError::from(e).message)?;
    let id = id.ok_or_else(|| t("cart-not-created"))?;
    cart::set_item(&ctx.state.db, now, &id, variant, qty, add).await.map_err(|e| ApiError::from(e).message)?;
    let jar = ctx.jar.clone();
    Ok(match token {
        Some(t) => jar.add(crate::routes::cart_cookie(&ctx.state, t)),
        None => jar,
    })
}

async fn cart_add(ctx: Ctx, Form(f): Form<Fields>) -> PageResult {
    match change_cart(&ctx, &f, true).await {
        // "Buy now" in a live room goes straight to checkout.
        Ok(jar) if f.get("next").is_some_and(|n| n == "/checkout") => Ok(see_other(jar, "/checkout")),
        Ok(jar) => Ok(see_other(jar, "/cart?notice=added")),
        Err(msg) => {
            let slug = f.get("back").and_then(|b| b.strip_prefix("/p/")).unwrap_or_default().to_string();
            if slug.is_empty() {
                cart_page(&ctx, Some(msg), None).await
            } else {
                product_page(&ctx, &slug, Some(msg), None).await
            }
        }
    }
}

async fn cart_update(ctx: Ctx, Form(f): Form<Fields>) -> PageResult {
    match change_cart(&ctx, &f, false).await {
        Ok(jar) => Ok(see_other(jar, "/cart?notice=updated")),
        Err(msg) => cart_page(&ctx, Some(msg), None).await,
    }
}

// ----------------------------------------------------------------------------- checkout

pub struct ShipChoice {
    code: String,
    name: String,
    price: String,
    note: String,
}

#[derive(Template)]
#[template(path = "checkout.html")]
struct CheckoutPage {
    chrome: Chrome,
    action: String,
    form: FormState,
    states: Vec<&'static str>,
    shipping: Vec<ShipChoice>,
    shipping_method: String,
    idempotency_key: String,
    summary: Vec<SummaryRow>,
    gst_note: String,
    error: Option<String>,
}

const STATES: [&str; 8] = ["ACT", "NSW", "NT", "QLD", "SA", "TAS", "VIC", "WA"];

/// What is being bought: the cart, or one unit of a flash deal (or an auction win).
pub enum Buying {
    Cart,
    Deal(Box<crate::offers::Offer>),
}

impl Buying {
    fn action(&self) -> String {
        match self {
            Buying::Cart => "/checkout".into(),
            Buying::Deal(o) => format!("/deals/{}/buy", o.id),
        }
    }
}

pub async fn checkout_form(ctx: &Ctx, buying: &Buying, form: FormState, error: Option<String>, status: StatusCode) -> PageResult {
    let (subtotal, first_row) = match buying {
        Buying::Cart => {
            let view = cart_view(ctx).await?;
            if view.lines.is_empty() {
                return Ok(see_other(ctx.jar.clone(), "/cart"));
            }
            (view.subtotal, row(t("summary-subtotal"), view.subtotal))
        }
        Buying::Deal(o) => (o.price, row(t_args("summary-deal-price", &[("title", &o.title)]), o.price)),
    };
    let options = crate::pricing::shipping_options(subtotal);
    let method = Some(form.value("shipping_method").to_string())
        .filter(|m| options.iter().any(|o| o.code == m))
        .unwrap_or_else(|| "standard".into());
    let ship = options.iter().find(|o| o.code == method).map(|o| o.price).unwrap_or(0);
    let page = CheckoutPage {
        chrome: ctx.chrome(t("checkout-title"), "checkout", None).await,
        action: buying.action(),
        states: STATES.to_vec(),
        shipping: options
            .iter()
            .map(|o| ShipChoice {
                code: o.code.into(),
                name: t(&format!("shipping-{}", o.code)),
                price: if o.price == 0 { t("summary-free") } else { money(o.price) },
                note: if o.note.is_empty() {
                    String::new()
                } else {
                    t_args(&format!("shipping-{}-note", o.code), &[("amount", &money(crate::pricing::FREE_SHIPPING_OVER))])
                },
            })
            .collect(),
        shipping_method: method,
        idempotency_key: lsn_core::ids::random_token(16),
        summary: vec![first_row, row(t("summary-shipping"), ship), total_row(subtotal + ship)],
        gst_note: t("checkout-gst-note"),
        error,
        form,
    };
    Ok(ctx.render(status, &page))
}

/// A signed-in customer's form starts with the address of their latest order.
pub async fn prefilled(ctx: &Ctx) -> FormState {
    let mut values = HashMap::new();
    if let Some(u) = &ctx.user {
        if let Ok(orders) = ctx.state.orders(Some(&u.user.id), None, None, 1).await {
            if let Some(Value::Object(a)) = orders.first().map(|o| o.shipping_address.clone()) {
                for k in ["name", "line1", "line2", "suburb", "state", "postcode", "phone"] {
                    if let Some(v) = a.get(k).and_then(Value::as_str) {
                        values.insert(k.to_string(), v.to_string());
                    }
                }
            }
        }
    }
    FormState::new(values)
}

async fn checkout_page(ctx: Ctx) -> PageResult {
    let form = prefilled(&ctx).await;
    checkout_form(&ctx, &Buying::Cart, form, None, StatusCode::OK).await
}

pub async fn deal_offer(ctx: &Ctx, id: &str) -> Result<crate::offers::Offer, PageError> {
    crate::offers::get(&ctx.state.db, ctx.state.clock.now_ms(), id).await.map_err(|e| match e {
        CommerceError::NotFound => PageError::status(StatusCode::NOT_FOUND),
        other => PageError::from(other),
    })
}

fn order_cookie(ctx: &Ctx, number: &str, token: String) -> Cookie<'static> {
    Cookie::build((format!("lsn_order_{number}"), token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(ctx.state.cfg.is_production())
        .path(format!("/orders/{number}"))
        .max_age(cookie::time::Duration::days(30))
        .build()
}

async fn checkout_submit(ctx: Ctx, Form(f): Form<Fields>) -> PageResult {
    place(&ctx, Buying::Cart, &f).await
}

/// Places the order from a submitted checkout form, once per form (its idempotency key).
pub async fn place(ctx: &Ctx, buying: Buying, f: &Fields) -> PageResult {
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let opt = |k: &str| Some(get(k)).filter(|v| !v.is_empty());
    let input = CheckoutInput {
        email: if ctx.user.is_some() { None } else { Some(get("email")) },
        shipping_address: Address {
            name: get("name"),
            line1: get("line1"),
            line2: opt("line2"),
            suburb: get("suburb"),
            state: get("state"),
            postcode: get("postcode"),
            phone: opt("phone"),
        },
        shipping_method: opt("shipping_method").unwrap_or_else(|| "standard".into()),
        discount_code: opt("discount_code"),
    };
    let what = match &buying {
        Buying::Cart => match cart::resolve(&ctx.state.db, ctx.state.clock.now_ms(), &owner(ctx), false).await?.0 {
            Some(id) => format!("cart:{id}"),
            None => return Ok(see_other(ctx.jar.clone(), "/cart")),
        },
        Buying::Deal(o) => format!("deal:{}", o.id),
    };
    // A double-clicked button or a resent form gives the first order back, not a second one.
    let scope = match &ctx.user {
        Some(u) => format!("web:user:{}", u.user.id),
        None => format!("web:visitor:{}", lsn_core::ids::hash_token(&ctx.csrf)),
    };
    let key = opt("idempotency_key").unwrap_or_else(|| lsn_core::ids::random_token(16));
    let body = json!({"buying": what, "input": serde_json::to_value(f).unwrap_or(Value::Null)});
    let now = ctx.state.clock.now_ms();
    let answer = idempotency::once(&ctx.state.db, now, &scope, Some(&key), "POST checkout form", &body, || async {
        let device = ctx.jar.get(lsn_ui::VISITOR_COOKIE).map(|c| c.value().to_string());
        let buyer = crate::buyers::Buyer::new(ctx.user.as_ref().map(|u| &u.user), &ctx.meta, device.as_deref())
            .with_visitor(ctx.jar.get(crate::buyers::VISITOR_COOKIE).map(|c| c.value()));
        let r = match &buying {
            Buying::Cart => ctx.state.checkout(&buyer, what.trim_start_matches("cart:"), &input).await,
            Buying::Deal(o) => ctx.state.buy_offer(&buyer, &o.id, 1, &input).await,
        }?;
        Ok((StatusCode::CREATED, json!(r)))
    })
    .await?;
    let result: Result<Value, Failure> =
        if answer.status == StatusCode::CREATED { Ok(answer.body) } else { Err(Failure::from_body(answer.status.as_u16(), &answer.body)) };
    let done = match result {
        Ok(v) => v,
        Err(fail) => {
            if fail.status.is_server_error() {
                return Err(PageError::status(fail.status));
            }
            let mut form = FormState::new(f.clone());
            form.absorb(fail.fields.as_ref());
            let general = if fail.code.starts_with("discount") {
                form.errors.insert("discount_code".into(), fail.message.clone());
                Some(t("checkout-check-discount"))
            } else if form.errors.is_empty() {
                Some(fail.message.clone())
            } else {
                Some(t("checkout-check-fields"))
            };
            return checkout_form(ctx, &buying, form, general, fail.status).await;
        }
    };
    let number = done["order"]["number"].as_str().unwrap_or_default().to_string();
    let mut jar = ctx.jar.clone();
    if let Some(t) = done["order_token"].as_str() {
        jar = jar.add(order_cookie(ctx, &number, t.to_string()));
    }
    Ok(see_other(jar, &format!("/orders/{number}/pay")))
}

/// A refused checkout, fresh or replayed from its idempotency record.
struct Failure {
    status: StatusCode,
    code: String,
    message: String,
    fields: Option<Value>,
}

impl Failure {
    fn from_body(status: u16, v: &Value) -> Self {
        let e = &v["error"];
        Failure {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
            code: e["code"].as_str().unwrap_or_default().to_string(),
            message: e["message"].as_str().map(str::to_string).unwrap_or_else(|| t("checkout-failed")),
            fields: e.get("fields").cloned(),
        }
    }
}

// ----------------------------------------------------------------------------- orders

fn viewer(ctx: &Ctx, number: &str) -> Option<Viewer> {
    if let Some(u) = &ctx.user {
        return Some(if u.user.role.is_staff() { Viewer::Staff } else { Viewer::Customer(u.user.id.to_string()) });
    }
    ctx.jar.get(&format!("lsn_order_{number}")).map(|c| Viewer::Guest(c.value().to_string()))
}

async fn load_order(ctx: &Ctx, number: &str) -> Result<Order, PageError> {
    let v = viewer(ctx, number).ok_or_else(|| PageError::status(StatusCode::NOT_FOUND))?;
    ctx.state.order(number, &v).await.map_err(|e| match e {
        CommerceError::NotFound => PageError::status(StatusCode::NOT_FOUND),
        other => PageError::from(other),
    })
}

fn order_summary(o: &Order) -> Vec<SummaryRow> {
    let mut rows = vec![row(t("summary-subtotal"), o.subtotal)];
    if o.discount_total > 0 {
        rows.push(row(t("summary-discount"), -o.discount_total));
    }
    rows.push(row(t("summary-shipping"), o.shipping_total));
    rows.push(total_row(o.total));
    if o.amount_refunded > 0 {
        rows.push(row(t("summary-refunded"), -o.amount_refunded));
    }
    rows
}

/// The message `key` if the page's language has one, else `raw` made readable.
fn status_like(key: &str, raw: &str) -> String {
    if lsn_core::i18n::current().has(key) {
        t(key)
    } else {
        lsn_ui::sentence(&raw.replace('_', " "))
    }
}

/// An order status as the page's language names it (`order-status-<status>`).
pub fn status_label(s: &str) -> String {
    status_like(&format!("order-status-{s}"), s)
}

pub struct ItemRow {
    title: String,
    sku: String,
    quantity: i64,
    total: String,
}

pub struct Step {
    at: String,
    text: String,
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    chrome: Chrome,
    number: String,
    email: String,
    status: String,
    status_label: String,
    paid: bool,
    pending: bool,
    items: Vec<ItemRow>,
    address: Vec<String>,
    shipping_method: String,
    timeline: Vec<Step>,
    summary: Vec<SummaryRow>,
    gst_note: String,
}

async fn order_page(ctx: Ctx, Path(number): Path<String>) -> PageResult {
    let o = load_order(&ctx, &number).await?;
    let fmt = |ms: i64| ctx.local_time(ms, DateStyle::DateTime);
    let payment_ok = o.payment.as_ref().is_some_and(|p| p["status"] == "succeeded");
    let paid = payment_ok || o.status.is_paid();
    let address = address_lines(&o.shipping_address);
    let mut timeline = vec![Step { at: fmt(o.placed_at), text: t("order-placed") }];
    timeline.extend(o.transitions.iter().map(|t| Step { at: fmt(t.at), text: status_label(&t.to) }));
    let page = OrderPage {
        chrome: ctx.chrome(t_args("order-title", &[("number", &o.number)]), "order", None).await,
        number: o.number.clone(),
        email: o.email.clone(),
        status: o.status.to_string(),
        status_label: if payment_ok && o.status == OrderStatus::PendingPayment {
            t("order-confirming")
        } else {
            status_label(o.status.as_str())
        },
        paid,
        pending: o.status == OrderStatus::PendingPayment && !payment_ok,
        items: o
            .items
            .iter()
            .map(|i| ItemRow { title: i.title.clone(), sku: i.sku.clone(), quantity: i.quantity, total: money(i.line_total) })
            .collect(),
        address,
        shipping_method: status_like(&format!("shipping-{}", o.shipping_method), &o.shipping_method),
        timeline,
        summary: order_summary(&o),
        gst_note: t_args("summary-gst", &[("gst", &money(o.gst_total))]),
    };
    Ok(ctx.ok(&page))
}

#[derive(Template)]
#[template(path = "pay.html")]
struct PayPage {
    chrome: Chrome,
    number: String,
    total: String,
    form: FormState,
    error: Option<String>,
    idempotency_key: String,
    stripe_key: String,
    stripe_js: String,
    client_secret: String,
    return_url: String,
    held_until: String,
    summary: Vec<SummaryRow>,
    gst_note: String,
}

async fn pay_form(ctx: &Ctx, o: &Order, form: FormState, error: Option<String>, status: StatusCode) -> PageResult {
    let stripe = ctx.state.cfg.provider("STRIPE_SECRET_KEY").is_some();
    let key = if stripe {
        ctx.state.cfg.provider("VITE_STRIPE_PUBLISHABLE_KEY").map(|k| k.expose().to_string()).unwrap_or_default()
    } else {
        String::new()
    };
    let secret = if key.is_empty() {
        String::new()
    } else {
        let intent = ctx.state.ensure_intent(&o.id).await?;
        intent["client_secret"].as_str().unwrap_or_default().to_string()
    };
    let page = PayPage {
        chrome: ctx.chrome(t_args("pay-title", &[("number", &o.number)]), "pay", None).await,
        number: o.number.clone(),
        total: money(o.total),
        form,
        error,
        idempotency_key: lsn_core::ids::random_token(16),
        stripe_key: key,
        stripe_js: lsn_ui::assets::url("stripe.js"),
        client_secret: secret,
        return_url: format!("{}/orders/{}", ctx.state.cfg.public_url.trim_end_matches('/'), o.number),
        held_until: ctx.local_time(o.reserved_until, DateStyle::Time),
        summary: order_summary(o),
        gst_note: t_args("summary-gst", &[("gst", &money(o.gst_total))]),
    };
    Ok(ctx.render(status, &page))
}

async fn pay_page(ctx: Ctx, Path(number): Path<String>) -> PageResult {
    let o = load_order(&ctx, &number).await?;
    if o.status != OrderStatus::PendingPayment {
        return Ok(see_other(ctx.jar.clone(), &format!("/orders/{}", o.number)));
    }
    pay_form(&ctx, &o, FormState::default(), None, StatusCode::OK).await
}

async fn pay_submit(ctx: Ctx, Path(number): Path<String>, Form(f): Form<Fields>) -> PageResult {
    let o = load_order(&ctx, &number).await?;
    if o.status != OrderStatus::PendingPayment {
        return Ok(see_other(ctx.jar.clone(), &format!("/orders/{}", o.number)));
    }
    // The card number is used for this call only: it is never stored or logged.
    let card: String = f.get("card_number").map(|c| c.chars().filter(|c| !c.is_whitespace() && *c != '-').collect()).unwrap_or_default();
    let mut form = FormState::default();
    if card.len() < 12 || card.len() > 19 || !card.chars().all(|c| c.is_ascii_digit()) {
        form.errors.insert("card_number".into(), t("pay-bad-card"));
        return pay_form(&ctx, &o, form, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let key =
        f.get("idempotency_key").filter(|k| !k.is_empty() && k.len() <= 64).cloned().unwrap_or_else(|| lsn_core::ids::random_token(16));
    let key = format!("web-pay:{}:{key}", o.id);
    match ctx.state.pay(&o.id, &PaymentMethod::TestCard(card), &key).await {
        Ok(Confirmation::Succeeded { .. } | Confirmation::Processing) => Ok(see_other(ctx.jar.clone(), &format!("/orders/{}", o.number))),
        Ok(Confirmation::RequiresAction { url }) => Ok(see_other(ctx.jar.clone(), &url)),
        Ok(Confirmation::Failed { message, .. }) => {
            pay_form(&ctx, &o, form, Some(t_args("pay-not-charged", &[("message", &message)])), StatusCode::PAYMENT_REQUIRED).await
        }
        Err(e) => {
            let api = ApiError::from(e);
            if api.status.is_server_error() {
                return Err(PageError::status(api.status));
            }
            pay_form(&ctx, &o, form, Some(api.message), api.status).await
        }
    }
}
