//! The account page: the customer's orders and addresses (commerce's) and their password and
//! language (identity's), composed by the app.

use super::{money, see_other, Chrome, Ctx, FormState, PageError, PageResult};
use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::Form;
use lsn_commerce::pages::{address_lines, status_label};
use lsn_core::i18n::{t, DateStyle};
use lsn_identity::service::SESSION_COOKIE;
use lsn_identity::IdentityError;
use serde::Deserialize;
use std::collections::HashMap;

type Fields = HashMap<String, String>;

#[derive(Deserialize, Default)]
pub struct NoticeArg {
    notice: Option<String>,
}

pub struct OrderRow {
    number: String,
    placed: String,
    status: String,
    status_label: String,
    total: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct Account {
    chrome: Chrome,
    email: String,
    orders: Vec<OrderRow>,
    addresses: Vec<Vec<String>>,
    form: FormState,
    error: Option<String>,
}

pub async fn account(ctx: Ctx, Query(a): Query<NoticeArg>) -> PageResult {
    account_page(&ctx, a.notice.as_deref(), FormState::default(), None).await
}

async fn account_page(ctx: &Ctx, notice: Option<&str>, form: FormState, error: Option<String>) -> PageResult {
    let Some(user) = &ctx.user else {
        return Ok(see_other(ctx.jar.clone(), "/login?next=/account"));
    };
    let orders = ctx.state.commerce.orders(Some(&user.user.id), None, None, 50).await?;
    // The distinct addresses of their orders, newest first.
    let mut addresses: Vec<Vec<String>> = Vec::new();
    for o in &orders {
        let lines = address_lines(&o.shipping_address);
        if !lines.is_empty() && !addresses.contains(&lines) && addresses.len() < 6 {
            addresses.push(lines);
        }
    }
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = Account {
        addresses,
        form,
        error,
        chrome: ctx.chrome(t("account-title"), "account", notice).await,
        email: user.user.email.clone().unwrap_or_default(),
        orders: orders
            .iter()
            .map(|o| OrderRow {
                number: o.number.clone(),
                placed: ctx.local_time(o.placed_at, DateStyle::Date),
                status: o.status.to_string(),
                status_label: status_label(o.status.as_str()),
                total: money(o.total),
            })
            .collect(),
    };
    Ok(ctx.render(status, &page))
}

pub async fn change_password(ctx: Ctx, Form(f): Form<Fields>) -> PageResult {
    let Some(user) = &ctx.user else {
        return Ok(see_other(ctx.jar.clone(), "/login?next=/account"));
    };
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    let keep = ctx.jar.get(SESSION_COOKIE).map(|c| c.value().to_string());
    match ctx.state.identity.change_password(&user.actor(), &user.user.id, get("current_password"), get("password"), keep.as_deref()).await
    {
        Ok(()) => Ok(see_other(ctx.jar.clone(), "/account?notice=password_changed")),
        Err(IdentityError::Validation(fields)) => {
            let mut form = FormState::default();
            form.absorb(Some(&fields));
            account_page(&ctx, None, form, Some(t("account-password-unchanged"))).await
        }
        Err(e) => Err(PageError::from(e)),
    }
}
