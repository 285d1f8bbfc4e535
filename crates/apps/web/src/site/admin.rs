//! The admin dashboard: today's figures, orders (with refunds), products and stock, shows,
//! users and roles, API keys, the audit log, jobs and schedules, the development mailbox and
//! system health. Only admins and owners get in.

use super::{money, see_other, Chrome, Ctx, FormState, PageError, PageResult};
use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::Form;
use lsn_commerce::orders::{OrderStatus, Viewer};
use lsn_commerce::pages::status_label;
use lsn_commerce::CommerceError;
use lsn_core::i18n::{t, t_args, DateStyle};
use lsn_identity::{AuthUser, IdentityError, Role};
use lsn_ui::parse_dollars;
use lsn_ui::table::{cell, link, num, table_page, Cell, CellForm, Extra, Filter, Select, Table, TablePage};
use serde::Deserialize;
use std::collections::HashMap;

type Fields = HashMap<String, String>;

/// The admin pages in the navigation (the app module declares them; `lsn_ops::NavEntry`), each
/// with the message key of its label.
pub const ADMIN_NAV: &[(&str, &str)] = &[
    ("/admin", "admin-nav-dashboard"),
    ("/admin/orders", "admin-nav-orders"),
    ("/admin/products", "admin-nav-products"),
    ("/admin/shows", "admin-nav-shows"),
    ("/admin/users", "admin-nav-users"),
    ("/admin/api-keys", "admin-nav-api-keys"),
    ("/admin/audit", "admin-nav-audit"),
    ("/admin/jobs", "admin-nav-jobs"),
    ("/admin/mailbox", "admin-nav-mailbox"),
];

#[derive(Deserialize, Default)]
pub struct Args {
    q: Option<String>,
    status: Option<String>,
    notice: Option<String>,
}

/// Admins and owners; everyone else is sent to log in or refused.
fn staff(ctx: &Ctx) -> Result<&AuthUser, PageError> {
    match &ctx.user {
        Some(u) if u.user.role.is_staff() => Ok(u),
        Some(_) => Err(PageError::status(StatusCode::FORBIDDEN)),
        None => Err(PageError::status(StatusCode::UNAUTHORIZED)),
    }
}

fn when(ctx: &Ctx, ms: i64) -> String {
    ctx.local_time(ms, DateStyle::DateTime)
}

fn admin_notice(n: Option<&str>) -> Option<String> {
    let key = match n? {
        "refunded" => "admin-notice-refunded",
        "refund_pending" => "admin-notice-refund-pending",
        "status" => "admin-notice-status",
        "stock" => "admin-notice-stock",
        "saved" => "admin-notice-saved",
        "image" => "admin-notice-image",
        "role" => "admin-notice-role",
        "revoked" => "admin-notice-revoked",
        _ => return None,
    };
    Some(t(key))
}

// ----------------------------------------------------------------------------- dashboard

pub struct Kpi {
    key: &'static str,
    label: String,
    value: String,
    spark: String,
}

#[derive(Template)]
#[template(path = "admin_dashboard.html")]
struct Dashboard {
    chrome: Chrome,
    nav: Vec<(&'static str, &'static str)>,
    active: &'static str,
    error: Option<String>,
    kpis: Vec<Kpi>,
    checks: Vec<(String, bool)>,
    backend: &'static str,
    queue: String,
    traffic: String,
    table: Table,
}

/// Points for a 140×40 sparkline of `values`.
fn spark(values: &[i64]) -> String {
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = 140.0 / (values.len().max(2) - 1) as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", i as f64 * step, 38.0 - (*v as f64 / max) * 36.0))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The shop's calendar day (in its time zone) of a moment in Unix milliseconds.
fn local_day(ctx: &Ctx, ms: i64) -> Option<chrono::NaiveDate> {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&ctx.s.cfg.timezone).date_naive())
}

pub async fn dashboard(ctx: Ctx) -> PageResult {
    staff(&ctx)?;
    let db = &ctx.s.db;
    let now = ctx.s.clock.now_ms();
    let today = local_day(&ctx, now).ok_or_else(|| PageError::internal("clock out of range"))?;
    // A day more than 14 × 24 h back, so a daylight-saving change cannot cut off the first day;
    // each order then counts on its own calendar day in the shop's time zone.
    let paid = ctx.s.commerce.paid_since(now - 15 * 86_400_000).await?;
    let (mut revenue, mut count) = (vec![0i64; 14], vec![0i64; 14]);
    for &(at, amount) in &paid {
        let Some(ago) = local_day(&ctx, at).map(|d| (today - d).num_days()) else { continue };
        if (0..14).contains(&ago) {
            revenue[13 - ago as usize] += amount;
            count[13 - ago as usize] += 1;
        }
    }
    let (rev_today, orders_today) = (revenue[13], count[13]);
    let mut viewers = 0;
    for s in ctx.s.live.list(Some("live"), 100).await.map_err(PageError::internal)? {
        if let Some(room) = ctx.s.live.hub.existing(&s.id).await {
            viewers += room.viewer_count().await;
        }
    }
    let db_ok = db.ping().await.is_ok();
    let mig_ok = db.migration_status(crate::schema()).await.is_ok_and(|m| m.is_current());
    let queue =
        lsn_ops::jobs::queue_depth(db).await.unwrap_or_default().iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ");
    let recent = ctx.s.commerce.orders(None, None, None, 10).await?;
    let page = Dashboard {
        chrome: ctx.chrome(t("admin-nav-dashboard"), "admin", None).await,
        nav: ctx.nav(),
        active: "/admin",
        error: None,
        kpis: vec![
            Kpi { key: "revenue", label: t("admin-kpi-revenue"), value: money(rev_today), spark: spark(&revenue) },
            Kpi { key: "orders", label: t("admin-kpi-orders"), value: orders_today.to_string(), spark: spark(&count) },
            Kpi {
                key: "aov",
                label: t("admin-kpi-aov"),
                value: money(if orders_today > 0 { rev_today / orders_today } else { 0 }),
                spark: String::new(),
            },
            Kpi { key: "viewers", label: t("admin-kpi-viewers"), value: viewers.to_string(), spark: String::new() },
        ],
        checks: vec![(t("admin-check-database"), db_ok), (t("admin-check-migrations"), mig_ok)],
        backend: db.backend().name(),
        queue: if queue.is_empty() { t("admin-none-queued") } else { queue },
        traffic: {
            let (total, errors, mean) = ctx.s.metrics.summary();
            t_args("admin-traffic", &[("requests", &total.to_string()), ("errors", &errors.to_string()), ("mean", &format!("{mean:.1}"))])
        },
        table: orders_table(&ctx, &recent, &t("admin-latest-orders")),
    };
    Ok(ctx.ok(&page))
}

// ----------------------------------------------------------------------------- orders

fn orders_table(ctx: &Ctx, orders: &[lsn_commerce::orders::Order], heading: &str) -> Table {
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

pub async fn orders(ctx: Ctx, Query(a): Query<Args>) -> PageResult {
    staff(&ctx)?;
    let status = a.status.as_deref().and_then(|s| s.parse::<OrderStatus>().ok());
    let orders = ctx.s.commerce.orders(None, status, None, 100).await?;
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
    o: lsn_commerce::orders::Order,
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
    let o = ctx.s.commerce.order(number, &Viewer::Staff).await.map_err(|e| match e {
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

pub async fn order(ctx: Ctx, Path(number): Path<String>, Query(a): Query<Args>) -> PageResult {
    staff(&ctx)?;
    order_view(&ctx, &number, FormState::default(), None, a.notice.as_deref()).await
}

pub async fn refund(ctx: Ctx, Path(number): Path<String>, Form(f): Form<Fields>) -> PageResult {
    let user = staff(&ctx)?;
    let mut form = FormState::new(f.clone());
    let amount = match parse_dollars(f.get("amount").map(String::as_str).unwrap_or("")) {
        Ok(a) => a,
        Err(e) => {
            form.errors.insert("amount".into(), e);
            return order_view(&ctx, &number, form, Some(t("admin-check-amount")), None).await;
        }
    };
    let o = ctx.s.commerce.order(&number, &Viewer::Staff).await.map_err(|_| PageError::status(StatusCode::NOT_FOUND))?;
    let reason =
        f.get("reason").map(|r| r.trim().to_string()).filter(|r| !r.is_empty()).unwrap_or_else(|| "refund from the dashboard".into()); // recorded, not shown
    let restock = f.contains_key("restock");
    match ctx.s.commerce.refund(&user.actor().label, &o.id, amount, &reason, restock).await {
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

pub async fn order_status(ctx: Ctx, Path(number): Path<String>, Form(f): Form<Fields>) -> PageResult {
    let user = staff(&ctx)?;
    let o = ctx.s.commerce.order(&number, &Viewer::Staff).await.map_err(|_| PageError::status(StatusCode::NOT_FOUND))?;
    let to = OrderStatus::from_field("status", f.get("status").map_or("", String::as_str));
    let done = match to {
        Ok(to) => ctx.s.commerce.update_status(&user.actor().label, &o.id, to).await,
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

pub async fn products(ctx: Ctx, Query(a): Query<Args>) -> PageResult {
    staff(&ctx)?;
    let q = a.q.clone().unwrap_or_default();
    let query = lsn_catalog::SearchQuery { q: Some(q.clone()).filter(|q| !q.trim().is_empty()), limit: Some(100), ..Default::default() };
    let page = ctx.s.commerce.catalog.search(&query, true).await.map_err(PageError::internal)?;
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
    let p =
        ctx.s.commerce.catalog.get(id, true).await.map_err(PageError::internal)?.ok_or_else(|| PageError::status(StatusCode::NOT_FOUND))?;
    let mut rows = Vec::new();
    for v in &p.variants {
        let bins = lsn_warehouse::stock::bins_of(&ctx.s.db, &v.id).await.map_err(PageError::internal)?;
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

pub async fn product(ctx: Ctx, Path(id): Path<String>, Query(a): Query<Args>) -> PageResult {
    staff(&ctx)?;
    product_view(&ctx, &id, FormState::default(), None, a.notice.as_deref()).await
}

pub async fn product_status(ctx: Ctx, Path(id): Path<String>, Form(f): Form<Fields>) -> PageResult {
    staff(&ctx)?;
    let patch = lsn_catalog::ProductPatch { status: f.get("status").cloned(), ..Default::default() };
    match ctx.s.commerce.catalog.update(&id, &patch).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), &format!("/admin/products/{id}?notice=saved"))),
        Err(e) => {
            let api = lsn_core::ApiError::from(e);
            product_view(&ctx, &id, FormState::default(), Some(api.message), None).await
        }
    }
}

pub async fn product_stock(ctx: Ctx, Path(id): Path<String>, Form(f): Form<Fields>) -> PageResult {
    let user = staff(&ctx)?;
    let mut form = FormState::new(f.clone());
    let Ok(quantity) = f.get("quantity").map(|q| q.trim()).unwrap_or("").parse::<i64>() else {
        form.errors.insert("quantity".into(), t("admin-bad-stock-quantity"));
        return product_view(&ctx, &id, form, Some(t("admin-check-quantity")), None).await;
    };
    let body = lsn_commerce::routes::StockBody {
        sku: f.get("sku").cloned().unwrap_or_default(),
        bin: f.get("bin").map(|b| b.trim().to_string()).unwrap_or_default(),
        quantity,
        reason: f.get("reason").cloned().unwrap_or_default(),
    };
    let kind = if quantity > 0 { "received" } else { "adjusted" };
    match lsn_commerce::routes::move_stock(&ctx.s.commerce, user, body, kind).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), &format!("/admin/products/{id}?notice=stock"))),
        Err(api) if api.status.is_client_error() => {
            form.absorb(api.fields.as_ref());
            product_view(&ctx, &id, form, Some(api.message), None).await
        }
        Err(api) => Err(PageError::status(api.status)),
    }
}

// ----------------------------------------------------------------------------- shows, users, keys, audit, jobs, mailbox

pub async fn shows(ctx: Ctx) -> PageResult {
    staff(&ctx)?;
    let shows = ctx.s.live.list(None, 200).await.map_err(PageError::internal)?;
    let table = Table {
        key: "shows",
        heading: String::new(),
        columns: vec!["admin-col-show", "admin-col-host", "account-status", "admin-col-scheduled", "admin-col-peak"],
        rows: shows
            .iter()
            .map(|s| {
                vec![
                    link(&s.title, format!("/shows/{}", s.id)),
                    cell(&s.host_name),
                    cell(&s.status),
                    cell(when(&ctx, s.scheduled_at)),
                    num(s.peak_viewers.to_string()),
                ]
            })
            .collect(),
        empty: "admin-empty-shows",
    };
    table_page(&ctx, &t("admin-nav-shows"), "/admin/shows", table, None, None, None).await
}

fn role_select(id: &str, current: Role) -> Select {
    Select {
        id: format!("role-{id}"),
        name: "role".into(),
        label: t("admin-col-role"),
        options: ["customer", "creator", "admin", "owner"].iter().map(|r| (r.to_string(), r.to_string())).collect(),
        selected: current.as_str().into(),
    }
}

pub async fn users(ctx: Ctx, Query(a): Query<Args>) -> PageResult {
    staff(&ctx)?;
    let users = ctx.s.identity.list_users(500).await.map_err(PageError::internal)?;
    let table = Table {
        key: "users",
        heading: String::new(),
        columns: vec!["admin-col-name", "field-email", "account-status", "admin-col-joined", "admin-col-role"],
        rows: users
            .iter()
            .map(|u| {
                vec![
                    cell(&u.name),
                    cell(u.email.clone().unwrap_or_default()),
                    cell(&u.status),
                    cell(when(&ctx, u.created_at)),
                    Cell {
                        form: Some(CellForm {
                            action: format!("/admin/users/{}/role", u.id),
                            hidden: Vec::new(),
                            select: Some(role_select(&u.id, u.role)),
                            button: t("layout-language-change"),
                        }),
                        ..Default::default()
                    },
                ]
            })
            .collect(),
        empty: "admin-empty-users",
    };
    table_page(&ctx, &t("admin-nav-users"), "/admin/users", table, None, None, admin_notice(a.notice.as_deref())).await
}

pub async fn user_role(ctx: Ctx, Path(id): Path<String>, Form(f): Form<Fields>) -> PageResult {
    let user = staff(&ctx)?;
    let role: Role = f.get("role").and_then(|r| r.parse().ok()).ok_or_else(|| PageError::status(StatusCode::UNPROCESSABLE_ENTITY))?;
    match ctx.s.identity.change_role(&user.actor(), Some(user.user.role), &id, role).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), "/admin/users?notice=role")),
        Err(IdentityError::Forbidden) => Err(PageError::status(StatusCode::FORBIDDEN)),
        Err(IdentityError::NotFound) => Err(PageError::status(StatusCode::NOT_FOUND)),
        Err(e) => Err(PageError::from(e)),
    }
}

async fn keys_page(ctx: &Ctx, created: Option<String>, form: FormState, notice: Option<&str>) -> PageResult {
    let user = staff(ctx)?;
    let keys = ctx.s.identity.list_api_keys(&user.user.id).await.map_err(PageError::internal)?;
    let table = Table {
        key: "api-keys",
        heading: t("admin-your-keys"),
        columns: vec!["admin-col-name", "admin-col-prefix", "admin-col-scopes", "admin-col-created", "admin-col-last-used", ""],
        rows: keys
            .iter()
            .map(|k| {
                vec![
                    cell(&k.name),
                    cell(&k.prefix),
                    cell(k.scopes.join(", ")),
                    cell(when(ctx, k.created_at)),
                    cell(k.last_used_at.map(|w| when(ctx, w)).unwrap_or_else(|| t("admin-never"))),
                    match k.revoked_at {
                        Some(at) => cell(t_args("admin-revoked-at", &[("when", &when(ctx, at))])),
                        None => Cell {
                            form: Some(CellForm {
                                action: format!("/admin/api-keys/{}/revoke", k.id),
                                hidden: Vec::new(),
                                select: None,
                                button: t("admin-revoke"),
                            }),
                            ..Default::default()
                        },
                    },
                ]
            })
            .collect(),
        empty: "admin-empty-keys",
    };
    let extra = Extra {
        action: "/admin/api-keys".into(),
        heading: t("admin-new-key"),
        fields: vec![
            ("name", t("admin-col-name"), "text", form.value("name").to_string()),
            ("scopes", t("admin-scopes-field"), "text", "orders:read catalog:read".into()),
        ],
        button: t("admin-create-key"),
    };
    let page = TablePage {
        chrome: ctx.chrome(t("admin-nav-api-keys"), "admin", None).await,
        nav: ctx.nav(),
        active: "/admin/api-keys",
        error: None,
        notice: created.map(|k| t_args("admin-new-key-shown", &[("key", &k)])).or(admin_notice(notice)),
        filter: None,
        extra: Some(extra),
        form,
        table,
    };
    Ok(ctx.ok(&page))
}

pub async fn api_keys(ctx: Ctx, Query(a): Query<Args>) -> PageResult {
    keys_page(&ctx, None, FormState::default(), a.notice.as_deref()).await
}

pub async fn api_key_create(ctx: Ctx, Form(f): Form<Fields>) -> PageResult {
    let user = staff(&ctx)?;
    let scopes: Vec<String> = f.get("scopes").map(|s| s.split_whitespace().map(str::to_string).collect()).unwrap_or_default();
    match ctx.s.identity.create_api_key(&user.actor(), &user.user, f.get("name").map(String::as_str).unwrap_or(""), &scopes).await {
        Ok((_, secret)) => keys_page(&ctx, Some(secret), FormState::default(), None).await,
        Err(IdentityError::Validation(v)) => {
            let mut form = FormState::new(f.clone());
            form.absorb(Some(&v));
            keys_page(&ctx, None, form, None).await
        }
        Err(e) => Err(PageError::from(e)),
    }
}

pub async fn api_key_revoke(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let user = staff(&ctx)?;
    ctx.s.identity.revoke_api_key(&user.actor(), &user.user.id, true, &id).await.map_err(|e| match e {
        IdentityError::NotFound => PageError::status(StatusCode::NOT_FOUND),
        other => PageError::from(other),
    })?;
    Ok(see_other(ctx.jar.clone(), "/admin/api-keys?notice=revoked"))
}

pub async fn audit(ctx: Ctx) -> PageResult {
    staff(&ctx)?;
    let entries = lsn_identity::audit::list(&ctx.s.db, None, None, 200).await.map_err(PageError::internal)?;
    let table = Table {
        key: "audit",
        heading: String::new(),
        columns: vec!["admin-col-when", "admin-col-who", "admin-col-action", "admin-col-target", "admin-col-from-ip"],
        rows: entries
            .iter()
            .map(|e| {
                vec![
                    cell(when(&ctx, e.at)),
                    cell(&e.actor),
                    cell(&e.action),
                    cell(e.target.clone().unwrap_or_default()),
                    cell(e.ip.clone().unwrap_or_default()),
                ]
            })
            .collect(),
        empty: "admin-empty-audit",
    };
    table_page(&ctx, &t("admin-nav-audit"), "/admin/audit", table, None, None, None).await
}

pub async fn jobs(ctx: Ctx) -> PageResult {
    staff(&ctx)?;
    let schedules = lsn_ops::schedule::list(&ctx.s.db).await.map_err(PageError::internal)?;
    let runs = lsn_ops::schedule::recent_runs(&ctx.s.db, 100).await.map_err(PageError::internal)?;
    let mut rows: Vec<Vec<Cell>> = schedules
        .iter()
        .map(|s| {
            vec![
                cell(format!("⏱ {}", s.name)),
                cell(format!("{} · {}", s.cron, s.description)),
                cell(s.last_outcome.clone().unwrap_or_else(|| t("admin-not-run"))),
                cell(s.last_run_at.map(|w| when(&ctx, w)).unwrap_or_default()),
                cell(t_args("admin-next-run", &[("when", &when(&ctx, s.next_run_at))])),
            ]
        })
        .collect();
    for r in &runs {
        rows.push(vec![
            cell(&r.kind),
            cell(r.schedule.as_ref().map(|s| t_args("admin-by-schedule", &[("schedule", s)])).unwrap_or_default()),
            cell(&r.outcome),
            cell(when(&ctx, r.started_at)),
            cell(format!("{} ms{}", r.finished_at - r.started_at, r.error.as_ref().map(|e| format!(" · {e}")).unwrap_or_default())),
        ]);
    }
    let table = Table {
        key: "jobs",
        heading: t("admin-jobs-heading"),
        columns: vec!["admin-col-job", "admin-col-what", "admin-col-outcome", "admin-col-when", ""],
        rows,
        empty: "admin-empty-jobs",
    };
    table_page(&ctx, &t("admin-nav-jobs"), "/admin/jobs", table, None, None, None).await
}

pub async fn mailbox(ctx: Ctx) -> PageResult {
    staff(&ctx)?;
    let mails = lsn_mail::list_mailbox(&ctx.s.db, None, 100).await.map_err(PageError::internal)?;
    let table = Table {
        key: "mailbox",
        heading: t("admin-mailbox-heading"),
        columns: vec!["admin-col-when", "admin-col-to", "admin-col-subject", "admin-col-text"],
        rows: mails.iter().map(|m| vec![cell(when(&ctx, m.created_at)), cell(&m.to), cell(&m.subject), cell(&m.text)]).collect(),
        empty: "admin-empty-mail",
    };
    table_page(&ctx, &t("admin-nav-mailbox"), "/admin/mailbox", table, None, None, None).await
}

pub async fn product_price(ctx: Ctx, Path(id): Path<String>, Form(f): Form<Fields>) -> PageResult {
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
    let p = ctx
        .s
        .commerce
        .catalog
        .get(&id, true)
        .await
        .map_err(PageError::internal)?
        .ok_or_else(|| PageError::status(StatusCode::NOT_FOUND))?;
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
    match ctx.s.commerce.catalog.update(&id, &patch).await {
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

pub async fn product_image(ctx: Ctx, Path(id): Path<String>, mut multipart: axum::extract::Multipart) -> PageResult {
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
    match lsn_commerce::routes::store_image(&ctx.s.commerce, &id, &content_type, &bytes, &alt).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), &format!("/admin/products/{id}?notice=image"))),
        Err(api) if api.status.is_client_error() && api.status != StatusCode::NOT_FOUND => {
            product_view(&ctx, &id, FormState::default(), Some(api.message), None).await
        }
        Err(api) => Err(PageError::status(api.status)),
    }
}
