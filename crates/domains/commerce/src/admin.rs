//! Commerce's admin pages: orders (with refunds and status changes) and products (status,
//! prices, images, stock by bin).

use crate::orders::{OrderStatus, Viewer};
use crate::pages::{status_label, Ctx};
use crate::CommerceError;
use askama::Template;
use axum::extract::{FromRef, Path, Query};
use axum::http::StatusCode;
use axum::Form;
use lsn_core::i18n::{t, t_args};
use lsn_identity::access::{RouteAccess, Routes};
use lsn_identity::{AuthUser, Identity};
use lsn_ui::table::{admin_notice, cell, link, num, table_page, when, AdminArgs, Filter, Select, Table};
use lsn_ui::{money, parse_dollars, see_other, Chrome, FormState, PageError, PageResult};
use std::collections::HashMap;

type Fields = HashMap<String, String>;

/// The staff member asking (the routes let only admins and owners in).
fn staff(ctx: &Ctx) -> Result<&AuthUser, PageError> {
    lsn_identity::pages::staff(&ctx.user)
}

/// Commerce's admin pages and forms (staff only), and its entries in the admin navigation.
pub fn router<S>() -> (axum::Router<S>, Vec<RouteAccess>)
where
    S: Clone + Send + Sync + 'static,
    crate::Commerce: FromRef<S>,
    Identity: FromRef<S>,
{
    use lsn_identity::access::{Access::*, Scope::*};
    let staff = Staff(Admin);
    Routes::new(lsn_identity::pages::refusal)
        .get("/admin/orders", staff, orders)
        .get("/admin/orders/{number}", staff, order)
        .post("/admin/orders/{number}/refund", staff, refund)
        .post("/admin/orders/{number}/status", staff, order_status)
        .get("/admin/products", staff, products)
        .get("/admin/products/{id}", staff, product)
        .post("/admin/products/{id}/status", staff, product_status)
        .post("/admin/products/{id}/stock", staff, product_stock)
        .post("/admin/products/{id}/price", staff, product_price)
        .post("/admin/products/{id}/images", staff, product_image)
        .into_parts()
}

/// Commerce's admin navigation (path, label key).
pub const NAV: &[(&str, &str)] = &[("/admin/orders", "admin-nav-orders"), ("/admin/products", "admin-nav-products")];

// ----------------------------------------------------------------------------- orders

/// Orders as an admin table (the dashboard shows the latest).
pub fn orders_table(ctx: &lsn_ui::Ctx, orders: &[crate::orders::Order], heading: &str) -> Table {
    Table {
        key: "orders",
        heading: heading.into(),
        columns: vec!["account-order", "account-placed", "admin-col-customer", "account-status", "order-total"],
        rows: orders
            .iter()
            .map(|o| {
                vec![
                    link(&o.number, format!("/admin/orders/{}", o.number)),
                    cell(when(ctx, o.placed_at)),
                    cell(&o.email),
                    cell(status_label(o.status.as_str())),
                    num(money(o.total)),
                ]
            })
            .collect(),
        empty: "admin-empty-orders",
    }
}

async fn orders(ctx: Ctx, Query(a): Query<AdminArgs>) -> PageResult {
    staff(&ctx)?;
    let status = a.status.as_deref().and_then(|s| s.parse::<OrderStatus>().ok());
    let orders = ctx.state.orders(None, status, None, 100).await?;
    let q = a.q.clone().unwrap_or_default().trim().to_lowercase();
    let shown: Vec<_> =
        orders.into_iter().filter(|o| q.is_empty() || o.number.to_lowercase().contains(&q) || o.email.contains(&q)).collect();
    let mut options = vec![(String::new(), t("admin-any-status"))];
    options.extend(OrderStatus::ALL.iter().map(|s| (s.to_string(), status_label(s.as_str()))));
    let filter = Filter {
        action: "/admin/orders",
        select: Some(Select {
            id: "f-status".into(),
            name: "status".into(),
            label: t("account-status"),
            options,
            selected: status.map(|s| s.to_string()).unwrap_or_default(),
        }),
        search: true,
        q,
    };
    table_page(&ctx, &t("admin-nav-orders"), "/admin/orders", orders_table(&ctx, &shown, ""), Some(filter), None, None).await
}

#[derive(Template)]
#[template(path = "admin_order.html")]
struct OrderPage {
    chrome: Chrome,
    nav: Vec<(&'static str, &'static str)>,
    active: &'static str,
    error: Option<String>,
    notice: Option<String>,
    o: crate::orders::Order,
    status_label: String,
    placed: String,
    items: Vec<(String, String, i64, String)>,
    timeline: Vec<(String, String)>,
    total: String,
    paid: String,
    refunded: String,
    refundable: bool,
    next_states: Vec<&'static str>,
    form: FormState,
}

async fn order_view(ctx: &Ctx, number: &str, form: FormState, error: Option<String>, notice: Option<&str>) -> PageResult {
    let o = ctx.state.order(number, &Viewer::Staff).await.map_err(|e| match e {
        CommerceError::NotFound => PageError::status(StatusCode::NOT_FOUND),
        other => PageError::from(other),
    })?;
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = OrderPage {
        chrome: ctx.chrome(t_args("order-title", &[("number", &o.number)]), "admin", None).await,
        nav: ctx.nav(),
        active: "/admin/orders",
        error,
        notice: admin_notice(notice),
        status_label: status_label(o.status.as_str()),
        placed: when(ctx, o.placed_at),
        items: o.items.iter().map(|i| (i.title.clone(), i.sku.clone(), i.quantity, money(i.line_total))).collect(),
        timeline: o
            .transitions
            .iter()
            .map(|t| {
                let from = t.from.as_deref().map(status_label).unwrap_or_else(|| lsn_core::i18n::t("admin-status-new"));
                let key = if t.reason.is_empty() { "admin-transition" } else { "admin-transition-why" };
                let line = lsn_core::i18n::t_args(
                    key,
                    &[("from", &from), ("to", &status_label(&t.to)), ("actor", &t.actor), ("reason", &t.reason)],
                );
                (when(ctx, t.at), line)
            })
            .collect(),
        total: money(o.total),
        paid: money(o.amount_paid),
        refunded: money(o.amount_refunded),
        refundable: o.amount_paid > o.amount_refunded,
        next_states: [OrderStatus::Processing, OrderStatus::Shipped, OrderStatus::Delivered, OrderStatus::Cancelled]
            .into_iter()
            .filter(|s| o.status.can_become(*s))
            .map(OrderStatus::as_str)
            .collect(),
        form,
        o,
    };
    Ok(ctx.render(status, &page))
}

async fn order(ctx: Ctx, Path(number): Path<String>, Query(a): Query<AdminArgs>) -> PageResult {
    staff(&ctx)?;
    order_view(&ctx, &number, FormState::default(), None, a.notice.as_deref()).await
}

async fn refund(ctx: Ctx, Path(number): Path<String>, Form(f): Form<Fields>) -> PageResult {
    let user = staff(&ctx)?;
    let mut form = FormState::new(f.clone());
    let amount = match parse_dollars(f.get("amount").map(String::as_str).unwrap_or("")) {
        Ok(a) => a,
        Err(e) => {
            form.errors.insert("amount".into(), e);
            return order_view(&ctx, &number, form, Some(t("admin-check-amount")), None).await;
        }
    };
    let o = ctx.state.order(&number, &Viewer::Staff).await.map_err(|_| PageError::status(StatusCode::NOT_FOUND))?;
    let reason =
        f.get("reason").map(|r| r.trim().to_string()).filter(|r| !r.is_empty()).unwrap_or_else(|| "refund from the dashboard".into()); // recorded, not shown
    let restock = f.contains_key("restock");
    match ctx.state.refund(&user.actor().label, &o.id, amount, &reason, restock).await {
        Ok(r) => {
            let notice = if r.pending { "refund_pending" } else { "refunded" };
            Ok(see_other(ctx.jar.clone(), &format!("/admin/orders/{number}?notice={notice}")))
        }
        Err(e) => {
            let api = lsn_core::ApiError::from(e);
            if api.status.is_server_error() {
                return Err(PageError::status(api.status));
            }
            form.absorb(api.fields.as_ref());
            order_view(&ctx, &number, form, Some(api.message), None).await
        }
    }
}

async fn order_status(ctx: Ctx, Path(number): Path<String>, Form(f): Form<Fields>) -> PageResult {
    let user = staff(&ctx)?;
    let o = ctx.state.order(&number, &Viewer::Staff).await.map_err(|_| PageError::status(StatusCode::NOT_FOUND))?;
    let to = OrderStatus::from_field("status", f.get("status").map_or("", String::as_str));
    let done = match to {
        Ok(to) => ctx.state.update_status(&user.actor().label, &o.id, to).await,
        Err(e) => Err(e),
    };
    match done {
        Ok(_) => Ok(see_other(ctx.jar.clone(), &format!("/admin/orders/{number}?notice=status"))),
        Err(e) => {
            let api = lsn_core::ApiError::from(e);
            order_view(&ctx, &number, FormState::default(), Some(api.message), None).await
        }
    }
}

// ----------------------------------------------------------------------------- products

async fn products(ctx: Ctx, Query(a): Query<AdminArgs>) -> PageResult {
    staff(&ctx)?;
    let q = a.q.clone().unwrap_or_default();
    let query = lsn_catalog::SearchQuery { q: Some(q.clone()).filter(|q| !q.trim().is_empty()), limit: Some(100), ..Default::default() };
    let page = ctx.state.catalog.search(&query, true).await.map_err(PageError::internal)?;
    let table = Table {
        key: "products",
        heading: String::new(),
        columns: vec!["admin-col-product", "account-status", "admin-col-variants", "admin-col-stock", "admin-col-from"],
        rows: page
            .items
            .iter()
            .map(|p| {
                vec![
                    link(&p.title, format!("/admin/products/{}", p.id)),
                    cell(&p.status),
                    num(p.variants.len().to_string()),
                    num(p.variants.iter().map(|v| v.available).sum::<i64>().to_string()),
                    num(money(p.min_price)),
                ]
            })
            .collect(),
        empty: "admin-empty-products",
    };
    table_page(
        &ctx,
        &t("admin-nav-products"),
        "/admin/products",
        table,
        Some(Filter { action: "/admin/products", select: None, search: true, q }),
        None,
        None,
    )
    .await
}

#[derive(Template)]
#[template(path = "admin_product.html")]
struct ProductPage {
    chrome: Chrome,
    nav: Vec<(&'static str, &'static str)>,
    active: &'static str,
    error: Option<String>,
    notice: Option<String>,
    p: lsn_catalog::Product,
    statuses: Vec<&'static str>,
    table: Table,
    form: FormState,
}

async fn product_view(ctx: &Ctx, id: &str, form: FormState, error: Option<String>, notice: Option<&str>) -> PageResult {
    let p = ctx.state.catalog.get(id, true).await.map_err(PageError::internal)?.ok_or_else(|| PageError::status(StatusCode::NOT_FOUND))?;
    let mut rows = Vec::new();
    for v in &p.variants {
        let bins = lsn_warehouse::stock::bins_of(&ctx.state.db, &v.id).await.map_err(PageError::internal)?;
        let bins: Vec<String> = bins.iter().map(|b| format!("{} × {}", b.bin, b.quantity)).collect();
        rows.push(vec![cell(&v.sku), cell(&v.title), num(money(v.price)), num(v.available.to_string()), cell(bins.join(", "))]);
    }
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = ProductPage {
        chrome: ctx.chrome(p.title.clone(), "admin", None).await,
        nav: ctx.nav(),
        active: "/admin/products",
        error,
        notice: admin_notice(notice),
        statuses: vec!["draft", "active", "archived"],
        table: Table {
            key: "variants",
            heading: t("admin-variants-heading"),
            columns: vec!["admin-col-sku", "product-option", "admin-col-price", "admin-col-available", "admin-col-bins"],
            rows,
            empty: "admin-empty-variants",
        },
        form,
        p,
    };
    Ok(ctx.render(status, &page))
}

async fn product(ctx: Ctx, Path(id): Path<String>, Query(a): Query<AdminArgs>) -> PageResult {
    staff(&ctx)?;
    product_view(&ctx, &id, FormState::default(), None, a.notice.as_deref()).await
}

async fn product_status(ctx: Ctx, Path(id): Path<String>, Form(f): Form<Fields>) -> PageResult {
    staff(&ctx)?;
    let patch = lsn_catalog::ProductPatch { status: f.get("status").cloned(), ..Default::default() };
    match ctx.state.catalog.update(&id, &patch).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), &format!("/admin/products/{id}?notice=saved"))),
        Err(e) => {
            let api = lsn_core::ApiError::from(e);
            product_view(&ctx, &id, FormState::default(), Some(api.message), None).await
        }
    }
}

async fn product_stock(ctx: Ctx, Path(id): Path<String>, Form(f): Form<Fields>) -> PageResult {
    let user = staff(&ctx)?;
    let mut form = FormState::new(f.clone());
    let Ok(quantity) = f.get("quantity").map(|q| q.trim()).unwrap_or("").parse::<i64>() else {
        form.errors.insert("quantity".into(), t("admin-bad-stock-quantity"));
        return product_view(&ctx, &id, form, Some(t("admin-check-quantity")), None).await;
    };
    let body = crate::routes::StockBody {
        sku: f.get("sku").cloned().unwrap_or_default(),
        bin: f.get("bin").map(|b| b.trim().to_string()).unwrap_or_default(),
        quantity,
        reason: f.get("reason").cloned().unwrap_or_default(),
    };
    let kind = if quantity > 0 { "received" } else { "adjusted" };
    match crate::routes::move_stock(&ctx.state, user, body, kind).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), &format!("/admin/products/{id}?notice=stock"))),
        Err(api) if api.status.is_client_error() => {
            form.absorb(api.fields.as_ref());
            product_view(&ctx, &id, form, Some(api.message), None).await
        }
        Err(api) => Err(PageError::status(api.status)),
    }
}

async fn product_price(ctx: Ctx, Path(id): Path<String>, Form(f): Form<Fields>) -> PageResult {
    staff(&ctx)?;
    let mut form = FormState::new(f.clone());
    let price = parse_dollars(f.get("price").map(String::as_str).unwrap_or(""));
    let compare = parse_dollars(f.get("compare_at_price").map(String::as_str).unwrap_or(""));
    let (price, compare) = match (price, compare) {
        (Ok(Some(p)), Ok(c)) => (p, c),
        (p, c) => {
            if !matches!(p, Ok(Some(_))) {
                form.errors.insert("price".into(), p.err().unwrap_or_else(|| t("admin-enter-price")));
            }
            if let Err(e) = c {
                form.errors.insert("compare_at_price".into(), e);
            }
            return product_view(&ctx, &id, form, Some(t("admin-check-price")), None).await;
        }
    };
    let p = ctx.state.catalog.get(&id, true).await.map_err(PageError::internal)?.ok_or_else(|| PageError::status(StatusCode::NOT_FOUND))?;
    let sku = f.get("sku").cloned().unwrap_or_default();
    let Some(v) = p.variants.iter().find(|v| v.sku == sku) else {
        return product_view(&ctx, &id, form, Some(t("admin-choose-variant")), None).await;
    };
    // Everything else about the variant stays as it is.
    let input = lsn_catalog::VariantInput {
        sku: v.sku.clone(),
        title: Some(v.title.clone()),
        options: v.options.clone(),
        price,
        compare_at_price: compare,
    };
    let patch = lsn_catalog::ProductPatch { variants: Some(vec![input]), ..Default::default() };
    match ctx.state.catalog.update(&id, &patch).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), &format!("/admin/products/{id}?notice=saved"))),
        Err(e) => {
            let api = lsn_core::ApiError::from(e);
            if api.status.is_server_error() {
                return Err(PageError::status(api.status));
            }
            form.absorb(api.fields.as_ref());
            product_view(&ctx, &id, form, Some(api.message), None).await
        }
    }
}

async fn product_image(ctx: Ctx, Path(id): Path<String>, mut multipart: axum::extract::Multipart) -> PageResult {
    staff(&ctx)?;
    let (mut file, mut content_type, mut alt) = (None, String::new(), String::new());
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => return product_view(&ctx, &id, FormState::default(), Some(t("admin-upload-cut")), None).await,
        };
        match field.name() {
            Some("image") => {
                content_type = field.content_type().unwrap_or_default().to_string();
                file = field.bytes().await.ok();
            }
            Some("alt") => alt = field.text().await.unwrap_or_default(),
            _ => {}
        }
    }
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return product_view(&ctx, &id, FormState::default(), Some(t("admin-choose-image")), None).await;
    };
    match crate::routes::store_image(&ctx.state, &id, &content_type, &bytes, &alt).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), &format!("/admin/products/{id}?notice=image"))),
        Err(api) if api.status.is_client_error() && api.status != StatusCode::NOT_FOUND => {
            product_view(&ctx, &id, FormState::default(), Some(api.message), None).await
        }
        Err(api) => Err(PageError::status(api.status)),
    }
}
