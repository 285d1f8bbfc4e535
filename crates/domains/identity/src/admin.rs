//! Identity's admin pages: users and their roles, API keys (minted only by a person signed
//! in), the audit log.

use crate::pages::Ctx;
use crate::{AuthUser, IdentityError, Role};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::Form;
use lsn_core::i18n::{t, t_args};
use lsn_ui::table::{admin_notice, cell, table_page, when, AdminArgs, Cell, CellForm, Extra, Select, Table, TablePage};
use lsn_ui::{see_other, FormState, PageError, PageResult};
use std::collections::HashMap;

type Fields = HashMap<String, String>;

/// The staff member asking (the routes let only admins and owners in).
fn staff(ctx: &Ctx) -> Result<&AuthUser, PageError> {
    crate::pages::staff(&ctx.user)
}

/// Identity's admin pages and forms, each with who may open or send it.
pub fn router() -> (axum::Router<crate::Identity>, Vec<crate::access::RouteAccess>) {
    use crate::access::{Access::*, Scope::*};
    let staff = Staff(Admin);
    crate::access::Routes::new(crate::pages::refusal)
        .get("/admin/users", staff, users)
        .post("/admin/users/{id}/role", staff, user_role)
        .get("/admin/api-keys", staff, api_keys)
        // Only a person signed in mints a key: no key can mint another.
        .post("/admin/api-keys", StaffSession, api_key_create)
        .post("/admin/api-keys/{id}/revoke", staff, api_key_revoke)
        .get("/admin/audit", staff, audit)
        .into_parts()
}

/// Identity's admin navigation (path, label key).
pub const NAV: &[(&str, &str)] =
    &[("/admin/users", "admin-nav-users"), ("/admin/api-keys", "admin-nav-api-keys"), ("/admin/audit", "admin-nav-audit")];

fn role_select(id: &str, current: Role) -> Select {
    Select {
        id: format!("role-{id}"),
        name: "role".into(),
        label: t("admin-col-role"),
        options: ["customer", "creator", "admin", "owner"].iter().map(|r| (r.to_string(), r.to_string())).collect(),
        selected: current.as_str().into(),
    }
}

async fn users(ctx: Ctx, Query(a): Query<AdminArgs>) -> PageResult {
    staff(&ctx)?;
    let users = ctx.state.list_users(500).await.map_err(PageError::internal)?;
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

async fn user_role(ctx: Ctx, Path(id): Path<String>, Form(f): Form<Fields>) -> PageResult {
    let user = staff(&ctx)?;
    let role: Role = f.get("role").and_then(|r| r.parse().ok()).ok_or_else(|| PageError::status(StatusCode::UNPROCESSABLE_ENTITY))?;
    match ctx.state.change_role(&user.actor(), Some(user.user.role), &id, role).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), "/admin/users?notice=role")),
        Err(IdentityError::Forbidden) => Err(PageError::status(StatusCode::FORBIDDEN)),
        Err(IdentityError::NotFound) => Err(PageError::status(StatusCode::NOT_FOUND)),
        Err(e) => Err(PageError::from(e)),
    }
}

async fn keys_page(ctx: &Ctx, created: Option<String>, form: FormState, notice: Option<&str>) -> PageResult {
    let user = staff(ctx)?;
    let keys = ctx.state.list_api_keys(&user.user.id).await.map_err(PageError::internal)?;
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

async fn api_keys(ctx: Ctx, Query(a): Query<AdminArgs>) -> PageResult {
    keys_page(&ctx, None, FormState::default(), a.notice.as_deref()).await
}

async fn api_key_create(ctx: Ctx, Form(f): Form<Fields>) -> PageResult {
    let user = staff(&ctx)?;
    let scopes: Vec<String> = f.get("scopes").map(|s| s.split_whitespace().map(str::to_string).collect()).unwrap_or_default();
    match ctx.state.create_api_key(&user.actor(), &user.user, f.get("name").map(String::as_str).unwrap_or(""), &scopes).await {
        Ok((_, secret)) => keys_page(&ctx, Some(secret), FormState::default(), None).await,
        Err(IdentityError::Validation(v)) => {
            let mut form = FormState::new(f.clone());
            form.absorb(Some(&v));
            keys_page(&ctx, None, form, None).await
        }
        Err(e) => Err(PageError::from(e)),
    }
}

async fn api_key_revoke(ctx: Ctx, Path(id): Path<String>) -> PageResult {
    let user = staff(&ctx)?;
    ctx.state.revoke_api_key(&user.actor(), &user.user.id, true, &id).await.map_err(|e| match e {
        IdentityError::NotFound => PageError::status(StatusCode::NOT_FOUND),
        other => PageError::from(other),
    })?;
    Ok(see_other(ctx.jar.clone(), "/admin/api-keys?notice=revoked"))
}

async fn audit(ctx: Ctx) -> PageResult {
    staff(&ctx)?;
    let entries = crate::audit::list(&ctx.state.db, None, None, 200).await.map_err(PageError::internal)?;
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
