//! The creator portal and the admin's creator pages.
//!
//! Every portal page answers for the signed-in user's own creator profile, found from their
//! account; no page takes a creator's id from the URL or a form, so no creator can open
//! another's data. Staff reach every creator under `/admin/creators`.

use crate::payouts::Payout;
use crate::profiles::{Application, Creator, Link, ProfilePatch, PAYOUT_CURRENCIES};
use crate::routes::RouteState;
use crate::statements::{Month, PdfLabels};
use crate::{Creators, CreatorsError, TIERS};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use lsn_core::i18n::{t, t_args, DateStyle};
use lsn_identity::access::Routes;
use lsn_identity::AuthUser;
use lsn_ui::table::{admin_notice, cell, link, table_page, when, Filter, Select, Table};
use lsn_ui::{money, see_other, Chrome, Ctx, FormState, PageError, PageResult};
use serde::Deserialize;
use std::collections::HashMap;

type Fields = HashMap<String, String>;

/// The portal's own navigation (path, label key).
const PORTAL_NAV: &[(&str, &str)] = &[
    ("/creator", "creator-nav-overview"),
    ("/creator/links", "creator-nav-links"),
    ("/creator/payouts", "creator-nav-payouts"),
    ("/creator/profile", "creator-nav-profile"),
    ("/creator/statements", "creator-nav-statements"),
];

const STATUSES: &[&str] = &["applied", "approved", "rejected", "suspended"];

#[derive(Deserialize, Default)]
pub struct Args {
    notice: Option<String>,
    status: Option<String>,
}

/// A figure on a card: its key (for tests and scripts), label and value.
pub struct Figure {
    key: &'static str,
    label: String,
    value: String,
}

fn figure(key: &'static str, label_key: &str, value: String) -> Figure {
    Figure { key, label: t(label_key), value }
}

/// A creator's balance by status, as the portal and the admin show it.
fn balance_figures(b: &crate::ledger::Balance) -> Vec<Figure> {
    vec![
        figure("pending", "creator-balance-pending", money(b.pending)),
        figure("available", "creator-balance-available", money(b.available)),
        figure("held", "creator-balance-held", money(b.held)),
        figure("paid", "creator-balance-paid", money(b.paid)),
        figure("reversed", "creator-balance-reversed", money(b.reversed)),
    ]
}

/// The figures of [`Creators::activity`].
fn stat_figures(s: &serde_json::Value) -> Vec<Figure> {
    let n = |k: &str| s[k].as_i64().unwrap_or(0);
    vec![
        figure("clicks", "creator-stat-clicks", n("clicks").to_string()),
        figure("orders", "creator-stat-orders", n("orders").to_string()),
        figure("conversion", "creator-stat-conversion", percent(n("conversion_bps"))),
        figure("sales", "creator-stat-sales", money(n("sales"))),
        figure("commission", "creator-stat-commission", money(n("commission"))),
    ]
}

fn percent(bps: i64) -> String {
    format!("{}.{} %", bps / 100, (bps % 100) / 10)
}

/// A creators error on a page: field messages into the form, a rule's message as the page's
/// error, anything else as the error page.
fn into_form(e: CreatorsError, form: &mut FormState) -> Result<Option<String>, PageError> {
    match e {
        CreatorsError::Validation(v) => {
            form.absorb(Some(&v));
            Ok(None)
        }
        CreatorsError::Rule { message, .. } => Ok(Some(message)),
        other => Err(PageError::from(other)),
    }
}

fn value<'a>(f: &'a Fields, k: &str) -> &'a str {
    f.get(k).map(String::as_str).unwrap_or_default()
}

/// The signed-in user's approved creator profile (the routes let only creators in; a staff
/// member without a profile, or a creator taken off the programme, is sent to `/creator`).
async fn mine(c: &Creators, user: &AuthUser) -> Result<Result<Creator, Response>, PageError> {
    match c.by_user(&user.user.id).await? {
        Some(me) if me.status == "approved" => Ok(Ok(me)),
        _ => Ok(Err(see_other(axum_extra::extract::CookieJar::new(), "/creator"))),
    }
}

/// The public address of a link: `{LSN_PUBLIC_URL}/r/{code}`.
pub fn link_url(c: &Creators, code: &str) -> String {
    format!("{}/r/{code}", c.live.commerce.cfg.public_url.trim_end_matches('/'))
}

fn attr_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `url` as a QR code, inline SVG (made here from our own URL only, so safe to embed).
pub fn qr_svg(url: &str) -> String {
    let Ok(code) = qrcode::QrCode::new(url.as_bytes()) else { return String::new() };
    let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(160, 160).quiet_zone(true).build();
    let svg = svg.split_once("?>").map(|(_, s)| s.to_string()).unwrap_or(svg);
    let label = attr_escape(&t_args("creator-qr-label", &[("url", url)]));
    svg.replacen("<svg ", &format!("<svg class=\"qr\" role=\"img\" aria-label=\"{label}\" "), 1)
}

// ----------------------------------------------------------------------------- the portal

#[derive(Template)]
#[template(path = "creator_overview.html")]
struct Overview {
    chrome: Chrome,
    nav: &'static [(&'static str, &'static str)],
    active: &'static str,
    creator: Creator,
    balance: Vec<Figure>,
    stats: Vec<Figure>,
    shows: Vec<ShowLine>,
}

pub struct ShowLine {
    id: String,
    title: String,
    when: String,
}

#[derive(Template)]
#[template(path = "creator_status.html")]
struct StatusPage {
    chrome: Chrome,
    creator: Creator,
    status_label: String,
    applied: String,
}

async fn overview(ctx: Ctx, user: AuthUser, State(c): State<Creators>, Query(q): Query<Args>) -> PageResult {
    let Some(me) = c.by_user(&user.user.id).await? else { return Ok(see_other(ctx.jar.clone(), "/creator/apply")) };
    if me.status != "approved" {
        let page = StatusPage {
            chrome: ctx.chrome(t("creator-portal"), "creator", q.notice.as_deref()).await,
            status_label: t(&format!("creator-status-{}", me.status)),
            applied: ctx.local_time(me.applied_at, DateStyle::DateTime),
            creator: me,
        };
        return Ok(ctx.ok(&page));
    }
    let b = c.balance(&me.id).await?;
    let s = c.activity(&me.id, 30).await?;
    let mut shows: Vec<ShowLine> = c
        .live
        .list(Some("scheduled"), 200)
        .await
        .map_err(PageError::internal)?
        .into_iter()
        .filter(|s| s.host_id == user.user.id.as_str())
        .map(|s| ShowLine { id: s.id.to_string(), title: s.title.clone(), when: ctx.local_time(s.scheduled_at, DateStyle::Upcoming) })
        .collect();
    shows.truncate(20);
    let page = Overview {
        chrome: ctx.chrome(t("creator-portal"), "creator", q.notice.as_deref()).await,
        nav: PORTAL_NAV,
        active: "/creator",
        balance: balance_figures(&b),
        stats: stat_figures(&s),
        shows,
        creator: me,
    };
    Ok(ctx.ok(&page))
}

#[derive(Template)]
#[template(path = "creator_apply.html")]
struct ApplyPage {
    chrome: Chrome,
    form: FormState,
    gst: bool,
    error: Option<String>,
}

async fn apply_page(ctx: Ctx, user: AuthUser, State(c): State<Creators>) -> PageResult {
    if c.by_user(&user.user.id).await?.is_some() {
        return Ok(see_other(ctx.jar.clone(), "/creator"));
    }
    let mut form = FormState::default();
    form.values.insert("display_name".into(), user.user.name.clone());
    let page = ApplyPage { chrome: ctx.chrome(t("creator-apply-title"), "creator-apply", None).await, form, gst: false, error: None };
    Ok(ctx.ok(&page))
}

async fn apply_submit(ctx: Ctx, user: AuthUser, State(c): State<Creators>, Form(f): Form<Fields>) -> PageResult {
    let a = Application {
        handle: value(&f, "handle").to_string(),
        display_name: value(&f, "display_name").to_string(),
        bio: value(&f, "bio").to_string(),
        application: value(&f, "application").to_string(),
        abn: Some(value(&f, "abn").to_string()).filter(|s| !s.trim().is_empty()),
        gst_registered: f.contains_key("gst_registered"),
    };
    match c.apply(&user.user, &a).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), "/creator?notice=creator_applied")),
        Err(e) => {
            let mut form = FormState::new(f);
            let error = into_form(e, &mut form)?;
            let page =
                ApplyPage { chrome: ctx.chrome(t("creator-apply-title"), "creator-apply", None).await, gst: a.gst_registered, form, error };
            Ok(ctx.render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}

pub struct LinkRow {
    code: String,
    url: String,
    target: String,
    label: String,
    active: bool,
    qr: String,
    created: String,
}

#[derive(Template)]
#[template(path = "creator_links.html")]
struct LinksPage {
    chrome: Chrome,
    nav: &'static [(&'static str, &'static str)],
    active: &'static str,
    links: Vec<LinkRow>,
    form: FormState,
    error: Option<String>,
}

fn link_rows(ctx: &Ctx, c: &Creators, links: Vec<Link>) -> Vec<LinkRow> {
    links
        .into_iter()
        .map(|l| {
            let url = link_url(c, &l.code);
            LinkRow {
                qr: qr_svg(&url),
                url,
                created: ctx.local_time(l.created_at, DateStyle::DateTime),
                code: l.code,
                target: l.target,
                label: l.label,
                active: l.active,
            }
        })
        .collect()
}

async fn links_render(
    ctx: &Ctx,
    c: &Creators,
    me: &Creator,
    form: FormState,
    error: Option<String>,
    status: StatusCode,
    notice: Option<&str>,
) -> PageResult {
    let links = link_rows(ctx, c, c.links(&me.id).await?);
    let page = LinksPage {
        chrome: ctx.chrome(t("creator-nav-links"), "creator", notice).await,
        nav: PORTAL_NAV,
        active: "/creator/links",
        links,
        form,
        error,
    };
    Ok(ctx.render(status, &page))
}

async fn links_page(ctx: Ctx, user: AuthUser, State(c): State<Creators>, Query(q): Query<Args>) -> PageResult {
    let me = match mine(&c, &user).await? {
        Ok(me) => me,
        Err(r) => return Ok(r),
    };
    let mut form = FormState::default();
    form.values.insert("target".into(), "/".into());
    links_render(&ctx, &c, &me, form, None, StatusCode::OK, q.notice.as_deref()).await
}

async fn links_submit(ctx: Ctx, user: AuthUser, State(c): State<Creators>, Form(f): Form<Fields>) -> PageResult {
    let me = match mine(&c, &user).await? {
        Ok(me) => me,
        Err(r) => return Ok(r),
    };
    let code = Some(value(&f, "code")).filter(|s| !s.trim().is_empty());
    match c.create_link(&me, value(&f, "target"), value(&f, "label"), code).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), "/creator/links?notice=creator_link_created")),
        Err(e) => {
            let mut form = FormState::new(f);
            let error = into_form(e, &mut form)?;
            links_render(&ctx, &c, &me, form, error, StatusCode::UNPROCESSABLE_ENTITY, None).await
        }
    }
}

pub struct PayoutRow {
    when: String,
    amount: String,
    status: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "creator_payouts.html")]
struct PayoutsPage {
    chrome: Chrome,
    nav: &'static [(&'static str, &'static str)],
    active: &'static str,
    available: String,
    payouts: Vec<PayoutRow>,
    bank: Option<(String, String, String)>,
    form: FormState,
    error: Option<String>,
}

fn payout_status(s: &str) -> String {
    t(&format!("creator-payout-{}", s.replace('_', "-")))
}

async fn payouts_render(
    ctx: &Ctx,
    c: &Creators,
    me: &Creator,
    form: FormState,
    error: Option<String>,
    status: StatusCode,
    notice: Option<&str>,
) -> PageResult {
    let payouts = c.payouts(Some(&me.id), None, 200).await?;
    let bank = c.bank_account(&me.id).await?.map(|b| {
        let s = |k: &str| b[k].as_str().unwrap_or_default().to_string();
        (s("holder_name"), s("masked"), s("currency"))
    });
    let page = PayoutsPage {
        chrome: ctx.chrome(t("creator-nav-payouts"), "creator", notice).await,
        nav: PORTAL_NAV,
        active: "/creator/payouts",
        available: money(c.balance(&me.id).await?.available),
        payouts: payouts
            .iter()
            .map(|p| PayoutRow {
                when: ctx.local_time(p.created_at, DateStyle::DateTime),
                amount: money(p.amount),
                status: payout_status(&p.status),
                reason: p.failure.clone().unwrap_or_default(),
            })
            .collect(),
        bank,
        form,
        error,
    };
    Ok(ctx.render(status, &page))
}

async fn payouts_page(ctx: Ctx, user: AuthUser, State(c): State<Creators>, Query(q): Query<Args>) -> PageResult {
    let me = match mine(&c, &user).await? {
        Ok(me) => me,
        Err(r) => return Ok(r),
    };
    payouts_render(&ctx, &c, &me, FormState::default(), None, StatusCode::OK, q.notice.as_deref()).await
}

async fn bank_submit(ctx: Ctx, user: AuthUser, State(c): State<Creators>, Form(f): Form<Fields>) -> PageResult {
    let me = match mine(&c, &user).await? {
        Ok(me) => me,
        Err(r) => return Ok(r),
    };
    let account =
        lsn_payouts::Account::Australian { bsb: value(&f, "bsb").to_string(), account_number: value(&f, "account_number").to_string() };
    match c.set_bank_account(&me.id, value(&f, "holder_name"), &account).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), "/creator/payouts?notice=creator_bank_saved")),
        Err(e) => {
            // The numbers typed are not shown back.
            let mut form = FormState::new(f.into_iter().filter(|(k, _)| k == "holder_name").collect());
            let error = into_form(e, &mut form)?;
            payouts_render(&ctx, &c, &me, form, error, StatusCode::UNPROCESSABLE_ENTITY, None).await
        }
    }
}

#[derive(Template)]
#[template(path = "creator_profile.html")]
struct ProfilePage {
    chrome: Chrome,
    nav: &'static [(&'static str, &'static str)],
    active: &'static str,
    handle: String,
    tier: String,
    form: FormState,
    gst: bool,
    currencies: Vec<(&'static str, bool)>,
    error: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn profile_render(
    ctx: &Ctx,
    me: &Creator,
    form: FormState,
    gst: bool,
    error: Option<String>,
    status: StatusCode,
    notice: Option<&str>,
) -> PageResult {
    let currency = form.value("payout_currency").to_string();
    let page = ProfilePage {
        chrome: ctx.chrome(t("creator-nav-profile"), "creator", notice).await,
        nav: PORTAL_NAV,
        active: "/creator/profile",
        handle: me.handle.clone(),
        tier: t(&format!("creator-tier-{}", me.tier)),
        currencies: PAYOUT_CURRENCIES.iter().map(|c| (*c, *c == currency)).collect(),
        form,
        gst,
        error,
    };
    Ok(ctx.render(status, &page))
}

async fn profile_page(ctx: Ctx, user: AuthUser, State(c): State<Creators>, Query(q): Query<Args>) -> PageResult {
    let me = match mine(&c, &user).await? {
        Ok(me) => me,
        Err(r) => return Ok(r),
    };
    let form = FormState::new(HashMap::from([
        ("display_name".to_string(), me.display_name.clone()),
        ("bio".to_string(), me.bio.clone()),
        ("payout_currency".to_string(), me.payout_currency.clone()),
        ("abn".to_string(), me.abn.clone().unwrap_or_default()),
    ]));
    profile_render(&ctx, &me, form, me.gst_registered, None, StatusCode::OK, q.notice.as_deref()).await
}

async fn profile_submit(ctx: Ctx, user: AuthUser, State(c): State<Creators>, Form(f): Form<Fields>) -> PageResult {
    let me = match mine(&c, &user).await? {
        Ok(me) => me,
        Err(r) => return Ok(r),
    };
    let patch = ProfilePatch {
        display_name: Some(value(&f, "display_name").to_string()),
        bio: Some(value(&f, "bio").to_string()),
        payout_currency: Some(value(&f, "payout_currency").to_string()),
        abn: Some(value(&f, "abn").to_string()),
        gst_registered: Some(f.contains_key("gst_registered")),
    };
    match c.update_profile(&me.id, &patch).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), "/creator/profile?notice=creator_profile_saved")),
        Err(e) => {
            let gst = f.contains_key("gst_registered");
            let mut form = FormState::new(f);
            let error = into_form(e, &mut form)?;
            profile_render(&ctx, &me, form, gst, error, StatusCode::UNPROCESSABLE_ENTITY, None).await
        }
    }
}

#[derive(Template)]
#[template(path = "creator_statements.html")]
struct StatementsPage {
    chrome: Chrome,
    nav: &'static [(&'static str, &'static str)],
    active: &'static str,
    months: Vec<String>,
}

async fn statements_page(ctx: Ctx, user: AuthUser, State(c): State<Creators>) -> PageResult {
    let me = match mine(&c, &user).await? {
        Ok(me) => me,
        Err(r) => return Ok(r),
    };
    let months = c.statement_months(&me.id).await?.iter().map(Month::to_string).collect();
    let page = StatementsPage {
        chrome: ctx.chrome(t("creator-nav-statements"), "creator", None).await,
        nav: PORTAL_NAV,
        active: "/creator/statements",
        months,
    };
    Ok(ctx.ok(&page))
}

/// `/creator/statements/2026-11.csv` or `.pdf`: the month's statement as a download.
async fn statement_file(user: AuthUser, State(c): State<Creators>, Path(file): Path<String>) -> PageResult {
    let Some(me) = c.by_user(&user.user.id).await?.filter(|m| m.status == "approved") else {
        return Err(PageError::status(StatusCode::FORBIDDEN));
    };
    let (month, ext) = file.rsplit_once('.').ok_or_else(PageError::not_found)?;
    let month = Month::parse(month).ok_or_else(PageError::not_found)?;
    let s = c.statement(&me.id, month).await?;
    let name = format!("statement-{}-{month}.{ext}", me.handle);
    let disposition = format!("attachment; filename=\"{name}\"");
    match ext {
        "csv" => Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, disposition)], s.csv())
            .into_response()),
        "pdf" => {
            let labels = PdfLabels {
                title: t("creator-statement-title"),
                abn: t("creator-field-abn"),
                gst_yes: t("creator-gst-registered"),
                gst_no: t("creator-gst-not-registered"),
                opening: t("creator-statement-opening"),
                closing: t("creator-statement-closing"),
                totals: t("creator-statement-totals"),
                empty: t("creator-statement-empty"),
            };
            let pdf = s.pdf(&c.live.commerce.cfg.shop_name, &labels);
            Ok(([(header::CONTENT_TYPE, "application/pdf".to_string()), (header::CONTENT_DISPOSITION, disposition)], pdf).into_response())
        }
        _ => Err(PageError::not_found()),
    }
}

// ----------------------------------------------------------------------------- the admin's

fn status_select(selected: &str) -> Select {
    let mut options = vec![(String::new(), t("admin-creators-all"))];
    options.extend(STATUSES.iter().map(|s| (s.to_string(), t(&format!("creator-status-{s}")))));
    Select { id: "creator-status".into(), name: "status".into(), label: t("account-status"), options, selected: selected.into() }
}

async fn admin_list(ctx: Ctx, State(c): State<Creators>, Query(q): Query<Args>) -> PageResult {
    let status = q.status.as_deref().filter(|s| STATUSES.contains(s));
    let creators = c.list(status, None, 500).await?;
    let table = Table {
        key: "creators",
        heading: String::new(),
        columns: vec!["admin-col-creator", "admin-col-handle", "account-status", "admin-col-tier", "admin-col-applied"],
        rows: creators
            .iter()
            .map(|k| {
                vec![
                    link(&k.display_name, format!("/admin/creators/{}", k.id)),
                    cell(&k.handle),
                    cell(t(&format!("creator-status-{}", k.status))),
                    cell(t(&format!("creator-tier-{}", k.tier))),
                    cell(when(&ctx, k.applied_at)),
                ]
            })
            .collect(),
        empty: "admin-empty-creators",
    };
    let filter = Filter { action: "/admin/creators", select: Some(status_select(status.unwrap_or(""))), search: false, q: String::new() };
    table_page(&ctx, &t("admin-nav-creators"), "/admin/creators", table, Some(filter), None, admin_notice(q.notice.as_deref())).await
}

#[derive(Template)]
#[template(path = "admin_creator.html")]
struct AdminCreator {
    chrome: Chrome,
    nav: Vec<(&'static str, &'static str)>,
    active: &'static str,
    error: Option<String>,
    notice: Option<String>,
    creator: Creator,
    status_label: String,
    applied: String,
    balance: Vec<Figure>,
    stats: Vec<Figure>,
    links: Vec<(String, String, String)>,
    actions: Vec<(&'static str, String)>,
    tiers: Vec<(&'static str, String, bool)>,
    rate: String,
}

async fn admin_creator(ctx: Ctx, State(c): State<Creators>, Path(id): Path<String>, Query(q): Query<Args>) -> PageResult {
    let k = c.get(&id).await?;
    let b = c.balance(&id).await?;
    let s = c.activity(&id, 30).await?;
    let actions: &[&'static str] = match k.status.as_str() {
        "applied" => &["approve", "reject"],
        "rejected" => &["approve"],
        "approved" => &["suspend"],
        _ => &["reinstate"],
    };
    let page = AdminCreator {
        chrome: ctx.chrome(k.display_name.clone(), "admin", None).await,
        nav: ctx.nav(),
        active: "/admin/creators",
        error: None,
        notice: admin_notice(q.notice.as_deref()),
        status_label: t(&format!("creator-status-{}", k.status)),
        applied: when(&ctx, k.applied_at),
        balance: balance_figures(&b),
        stats: stat_figures(&s),
        links: c.links(&id).await?.into_iter().map(|l| (link_url(&c, &l.code), l.code, l.target)).collect(),
        actions: actions.iter().map(|a| (*a, t(&format!("admin-creator-{a}")))).collect(),
        tiers: TIERS.iter().map(|tier| (*tier, t(&format!("creator-tier-{tier}")), *tier == k.tier)).collect(),
        rate: k.rate_bps.map(|r| r.to_string()).unwrap_or_default(),
        creator: k,
    };
    Ok(ctx.ok(&page))
}

async fn admin_decide(ctx: Ctx, user: AuthUser, State(c): State<Creators>, Path(id): Path<String>, Form(f): Form<Fields>) -> PageResult {
    match c.decide(&id, value(&f, "action"), value(&f, "note"), &user.user).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), &format!("/admin/creators/{id}?notice=creator_decided"))),
        Err(CreatorsError::Rule { .. } | CreatorsError::Validation(_)) => Err(PageError::status(StatusCode::CONFLICT)),
        Err(e) => Err(e.into()),
    }
}

async fn admin_terms(ctx: Ctx, State(c): State<Creators>, Path(id): Path<String>, Form(f): Form<Fields>) -> PageResult {
    let rate = match value(&f, "rate_bps").trim() {
        "" => None,
        r => Some(r.parse::<i64>().map_err(|_| PageError::status(StatusCode::UNPROCESSABLE_ENTITY))?),
    };
    let tier = Some(value(&f, "tier")).filter(|t| !t.is_empty());
    match c.set_terms(&id, tier, Some(rate)).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), &format!("/admin/creators/{id}?notice=creator_terms"))),
        Err(CreatorsError::Validation(_)) => Err(PageError::status(StatusCode::UNPROCESSABLE_ENTITY)),
        Err(e) => Err(e.into()),
    }
}

pub struct QueueRow {
    id: String,
    creator: String,
    creator_id: String,
    amount: String,
    reason: String,
    when: String,
    status: String,
}

#[derive(Template)]
#[template(path = "admin_creator_payouts.html")]
struct AdminPayouts {
    chrome: Chrome,
    nav: Vec<(&'static str, &'static str)>,
    active: &'static str,
    error: Option<String>,
    notice: Option<String>,
    queue: Vec<QueueRow>,
    recent: Vec<QueueRow>,
}

async fn admin_payouts(ctx: Ctx, State(c): State<Creators>, Query(q): Query<Args>) -> PageResult {
    let names: HashMap<String, String> = c.list(None, None, 500).await?.into_iter().map(|k| (k.id, k.handle)).collect();
    let row = |p: &Payout| QueueRow {
        id: p.id.clone(),
        creator: names.get(&p.creator_id).cloned().unwrap_or_else(|| p.creator_id.clone()),
        creator_id: p.creator_id.clone(),
        amount: money(p.amount),
        reason: p.reason.clone(),
        when: when(&ctx, p.created_at),
        status: payout_status(&p.status),
    };
    let queue = c.payouts(None, Some("awaiting_approval"), 200).await?.iter().map(row).collect();
    let recent = c.payouts(None, None, 50).await?.iter().filter(|p| p.status != "awaiting_approval").map(row).collect();
    let page = AdminPayouts {
        chrome: ctx.chrome(t("admin-nav-payouts"), "admin", None).await,
        nav: ctx.nav(),
        active: "/admin/creators/payouts",
        error: None,
        notice: admin_notice(q.notice.as_deref()),
        queue,
        recent,
    };
    Ok(ctx.ok(&page))
}

async fn admin_payout_approve(ctx: Ctx, user: AuthUser, State(c): State<Creators>, Path(id): Path<String>) -> PageResult {
    match c.approve_payout(&id, &user.user.id).await {
        Ok(_) => {
            // Sent on now, as the API does; a provider that is down leaves it approved for the run.
            if let Err(e) = c.submit_approved().await {
                tracing::warn!(error = %e, "an approved payout was not submitted yet");
            }
            Ok(see_other(ctx.jar.clone(), "/admin/creators/payouts?notice=payout_approved"))
        }
        Err(CreatorsError::Rule { .. }) => Ok(see_other(ctx.jar.clone(), "/admin/creators/payouts?notice=payout_not_awaiting")),
        Err(e) => Err(e.into()),
    }
}

async fn admin_payout_reject(
    ctx: Ctx,
    user: AuthUser,
    State(c): State<Creators>,
    Path(id): Path<String>,
    Form(f): Form<Fields>,
) -> PageResult {
    match c.reject_payout(&id, &user.user.id, value(&f, "note")).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), "/admin/creators/payouts?notice=payout_rejected")),
        Err(CreatorsError::Rule { .. }) => Ok(see_other(ctx.jar.clone(), "/admin/creators/payouts?notice=payout_not_awaiting")),
        Err(e) => Err(e.into()),
    }
}

async fn admin_flags(ctx: Ctx, State(c): State<Creators>) -> PageResult {
    let flags = c.flags(200).await?;
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let table = Table {
        key: "creator-flags",
        heading: String::new(),
        columns: vec!["admin-col-when", "admin-col-creator", "admin-col-flag", "admin-col-subject", "admin-col-detail"],
        rows: flags
            .iter()
            .map(|f| {
                vec![
                    cell(when(&ctx, f["at"].as_i64().unwrap_or(0))),
                    link(f["handle"].as_str().unwrap_or("-"), format!("/admin/creators/{}", s(&f["creator_id"]))),
                    cell(s(&f["kind"])),
                    cell(s(&f["subject"])),
                    cell(f["detail"].to_string()),
                ]
            })
            .collect(),
        empty: "admin-empty-creator-flags",
    };
    table_page(&ctx, &t("admin-creator-flags"), "/admin/creators", table, None, None, None).await
}

/// The portal's and the admin's pages, each with who may open or send it.
pub fn routes() -> Routes<RouteState> {
    use lsn_identity::access::{Access::*, Scope::*};
    let me = Creator(Creators);
    let staff = Staff(Admin);
    Routes::new(lsn_identity::pages::refusal)
        // An applicant (still a customer) sees where their application stands; anyone signed in may apply.
        .get("/creator", SignedIn(Some(Creators)), overview)
        .get("/creator/apply", SignedIn(Some(Creators)), apply_page)
        .post("/creator/apply", SignedIn(Some(Creators)), apply_submit)
        .get("/creator/links", me, links_page)
        .post("/creator/links", me, links_submit)
        .get("/creator/payouts", me, payouts_page)
        .post("/creator/payouts/bank-account", me, bank_submit)
        .get("/creator/profile", me, profile_page)
        .post("/creator/profile", me, profile_submit)
        .get("/creator/statements", me, statements_page)
        .get("/creator/statements/{file}", me, statement_file)
        .get("/admin/creators", staff, admin_list)
        .get("/admin/creators/payouts", staff, admin_payouts)
        .post("/admin/creators/payouts/{id}/approve", staff, admin_payout_approve)
        .post("/admin/creators/payouts/{id}/reject", staff, admin_payout_reject)
        .get("/admin/creators/flags", staff, admin_flags)
        .get("/admin/creators/{id}", staff, admin_creator)
        .post("/admin/creators/{id}/decision", staff, admin_decide)
        .post("/admin/creators/{id}/terms", staff, admin_terms)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_qr_code_is_inline_svg_of_the_url() {
        let svg = super::qr_svg("http://127.0.0.1:8080/r/ann-abc123");
        assert!(svg.starts_with("<svg class=\"qr\""), "{}", &svg[..svg.len().min(80)]);
        assert!(!svg.contains("<?xml"));
        assert!(svg.contains("<path"));
    }

    #[test]
    fn conversion_reads_as_a_percentage() {
        assert_eq!(super::percent(1234), "12.3 %");
        assert_eq!(super::percent(10_000), "100.0 %");
    }
}
