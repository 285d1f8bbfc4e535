//! Live's pages: the show page with its host controls (start, end, chat without JavaScript) and
//! the replay of an ended show. Buying a flash deal or an auction win is commerce's page.

use crate::routes::RouteState;
use crate::shows::VideoSource;
use crate::Live;
use crate::{LiveError, Show};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Form;
use lsn_commerce::pages::{self as shop, Ctx as CommercePage};
use lsn_core::i18n::{t, t_args, DateStyle};
use lsn_identity::access::{Access, RouteAccess, Routes};
use lsn_identity::MaybeUser;
use lsn_ui::assets;
use lsn_ui::table::{cell, link, num, table_page, when, Table};
use lsn_ui::{money, see_other, Chrome, Ctx, PageError, PageResult};
use std::collections::HashMap;

type Fields = HashMap<String, String>;

pub struct LineupItem {
    id: String,
    title: String,
    price: String,
    stock: i64,
}

pub struct ChatLine {
    id: String,
    name: String,
    text: String,
}

#[derive(Template)]
#[template(path = "show.html")]
struct ShowPage {
    chrome: Chrome,
    show: Show,
    is_host: bool,
    video_url: Option<String>,
    when: String,
    status_label: String,
    lineup: Vec<LineupItem>,
    chat: Vec<ChatLine>,
    reactions: Vec<&'static str>,
    gifts: Vec<(&'static str, String, String)>,
    live_js: String,
    /// The script's words in the page's language, as JSON (`data-text`).
    js_text: String,
    /// For the host: watching now, unique viewers, orders, sales.
    stats: (i64, i64, i64, String),
}

pub struct ReplayLine {
    at: String,
    text: String,
}

#[derive(Template)]
#[template(path = "replay.html")]
struct ReplayPage {
    chrome: Chrome,
    show: Show,
    when: String,
    events: Vec<ReplayLine>,
}

fn live_error(e: LiveError) -> PageError {
    match e {
        LiveError::NotFound => PageError::status(StatusCode::NOT_FOUND),
        other => PageError::from(lsn_core::ApiError::from(other)),
    }
}

/// The events without the chat messages a moderator deleted (nor the deletions themselves).
fn without_deleted(events: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    let deleted: std::collections::HashSet<String> =
        events.iter().filter(|e| e["type"] == "chat_deleted").filter_map(|e| e["message_id"].as_str().map(str::to_string)).collect();
    events.into_iter().filter(|e| e["type"] != "chat" || !e["id"].as_str().is_some_and(|id| deleted.contains(id))).collect()
}

/// One replay event as a line of text (chat, pins, deals, auctions; nothing personal).
fn replay_text(e: &serde_json::Value) -> Option<String> {
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let price = |v: &serde_json::Value| money(v.as_i64().unwrap_or(0));
    Some(match e["type"].as_str()? {
        "show_started" => t("replay-show-started"),
        "show_ended" => t("replay-show-ended"),
        "chat" => t_args("replay-chat", &[("name", &s(&e["name"])), ("text", &s(&e["text"]))]),
        "product_pinned" => t_args("replay-pinned", &[("title", &s(&e["product"]["title"])), ("price", &price(&e["product"]["price"]))]),
        "deal_started" => t_args("replay-deal-started", &[("title", &s(&e["deal"]["title"])), ("price", &price(&e["deal"]["price"]))]),
        "deal_ended" => t_args("replay-deal-ended", &[("count", &e["sold"].as_i64().unwrap_or(0).to_string())]),
        "auction_started" => t_args("replay-auction-started", &[("title", &s(&e["title"]))]),
        "auction_won" => t_args("replay-auction-won", &[("name", &s(&e["winner_name"])), ("price", &price(&e["amount"]))]),
        "gift_sent" => t_args("replay-gift", &[("name", &s(&e["from_name"])), ("gift", &s(&e["gift"]))]),
        _ => return None,
    })
}

/// The words `live.js` shows (`live-js-<key>` messages) and the placeholders of each.
pub const SCRIPT_KEYS: &[(&str, &[&str])] = &[
    ("host", &[]),
    ("delete", &[]),
    ("mute", &[]),
    ("ban", &[]),
    ("left", &["count"]),
    ("sold-out", &[]),
    ("variant-sold-out", &[]),
    ("deal-over", &[]),
    ("starts-in", &[]),
    ("ends-in", &[]),
    ("buy-deal", &[]),
    ("you-lead", &[]),
    ("leader", &["name"]),
    ("a-bidder", &[]),
    ("no-bids", &[]),
    ("bid", &["amount"]),
    ("you-won", &["amount"]),
    ("won", &["name", "amount"]),
    ("pay-now", &[]),
    ("not-sold-no-bids", &[]),
    ("not-sold-reserve", &[]),
    ("gift-sent", &["name", "gift"]),
    ("removed", &[]),
    ("muted", &[]),
    ("pin-first", &[]),
];

/// The script's words in the request's language, placeholders left as `{name}` for the script
/// to fill in.
fn script_text() -> String {
    let map: serde_json::Map<String, serde_json::Value> = SCRIPT_KEYS
        .iter()
        .map(|(key, args)| {
            let holes: Vec<(&str, String)> = args.iter().map(|a| (*a, format!("{{{a}}}"))).collect();
            let holes: Vec<(&str, &str)> = holes.iter().map(|(a, h)| (*a, h.as_str())).collect();
            (key.to_string(), serde_json::Value::String(t_args(&format!("live-js-{key}"), &holes)))
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}

async fn show_page(ctx: Ctx, MaybeUser(user): MaybeUser, State(live): State<Live>, Path(id): Path<String>) -> PageResult {
    let show = live.get(&id).await.map_err(live_error)?;
    if show.status == "ended" {
        let events = without_deleted(live.replay(&id, 0, 1000).await.map_err(live_error)?);
        let page = ReplayPage {
            chrome: ctx.chrome(t_args("replay-title", &[("title", &show.title)]), "replay", None).await,
            when: ctx.local_time(show.ended_at.unwrap_or(show.scheduled_at), DateStyle::DateTime),
            events: events
                .iter()
                .filter_map(|e| {
                    Some(ReplayLine { at: ctx.local_time(e["at"].as_i64().unwrap_or(0), DateStyle::TimeSeconds), text: replay_text(e)? })
                })
                .collect(),
            show,
        };
        return Ok(ctx.ok(&page));
    }
    let is_host = user.as_ref().is_some_and(|u| u.user.id == show.host_id || u.user.role.is_staff());
    // The latest chat, so the page is readable before the socket connects (or without JS).
    let recent = without_deleted(live.recent(&id, 200).await.map_err(live_error)?);
    let chats: Vec<&serde_json::Value> = recent.iter().filter(|e| e["type"] == "chat").collect();
    let chat: Vec<ChatLine> = chats[chats.len().saturating_sub(30)..]
        .iter()
        .map(|e| ChatLine {
            id: e["id"].as_str().unwrap_or_default().into(),
            name: e["name"].as_str().unwrap_or_default().into(),
            text: e["text"].as_str().unwrap_or_default().into(),
        })
        .collect();
    let stats = if is_host { live.stats(&id).await.map_err(live_error)? } else { serde_json::Value::Null };
    let n = |k: &str| stats[k].as_i64().unwrap_or(0);
    let page = ShowPage {
        stats: (n("viewers_now"), n("unique_viewers"), n("orders"), money(n("revenue"))),
        chrome: ctx.chrome(show.title.clone(), "show", None).await,
        is_host,
        video_url: match &show.video {
            VideoSource::Hls { url } => Some(url.clone()),
            VideoSource::None => None,
        },
        when: ctx.local_time(show.scheduled_at, DateStyle::Upcoming),
        status_label: t(&format!("show-status-{}", show.status)),
        lineup: show
            .lineup
            .iter()
            .map(|p| LineupItem {
                id: p["product_id"].as_str().unwrap_or_default().into(),
                title: p["title"].as_str().unwrap_or_default().into(),
                price: money(p["price"].as_i64().unwrap_or(0)),
                stock: p["available"].as_i64().unwrap_or(0),
            })
            .collect(),
        chat,
        reactions: vec!["❤️", "🔥", "👏", "😂", "😮", "🛒"],
        gifts: crate::gifts::GIFTS
            .iter()
            .map(|(name, coins)| (*name, t(&format!("gift-{name}")), t_args("gift-coins", &[("count", &coins.to_string())])))
            .collect(),
        live_js: assets::url("live.js"),
        js_text: script_text(),
        show,
    };
    Ok(ctx.ok(&page))
}

async fn host_action(ctx: &Ctx, live: &Live, user: Option<lsn_identity::AuthUser>, id: &str, start: bool) -> PageResult {
    let Some(user) = &user else { return Err(PageError::status(StatusCode::FORBIDDEN)) };
    let r = if start { live.start(id, &user.user).await } else { live.end(id, &user.user).await };
    r.map_err(live_error)?;
    Ok(see_other(ctx.jar.clone(), &format!("/shows/{id}")))
}

async fn start(ctx: Ctx, MaybeUser(user): MaybeUser, State(live): State<Live>, Path(id): Path<String>) -> PageResult {
    host_action(&ctx, &live, user, &id, true).await
}

async fn end(ctx: Ctx, MaybeUser(user): MaybeUser, State(live): State<Live>, Path(id): Path<String>) -> PageResult {
    host_action(&ctx, &live, user, &id, false).await
}

/// Chat without JavaScript: the plain form posts here.
async fn chat(ctx: Ctx, MaybeUser(user): MaybeUser, State(live): State<Live>, Path(id): Path<String>, Form(f): Form<Fields>) -> PageResult {
    let Some(user) = &user else { return Ok(see_other(ctx.jar.clone(), &format!("/login?next=/shows/{id}"))) };
    let text = f.get("text").map(String::as_str).unwrap_or_default();
    match crate::routes::post_message(&live, &user.user, &id, text).await {
        Ok(_) => Ok(see_other(ctx.jar.clone(), &format!("/shows/{id}"))),
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => Err(PageError::status(e.status)),
        Err(e) => Err(PageError::from(e)),
    }
}

/// A show as its card in a grid (`show_grid.html`).
pub struct ShowCard {
    pub id: String,
    pub title: String,
    pub host: String,
    pub live: bool,
    pub when: String,
}

pub fn show_card(ctx: &lsn_ui::Ctx, s: &Show) -> ShowCard {
    let when = ctx.local_time(s.scheduled_at, DateStyle::Upcoming);
    ShowCard { id: s.id.to_string(), title: s.title.clone(), host: s.host_name.clone(), live: s.status == "live", when }
}

#[derive(Template)]
#[template(path = "shows.html")]
struct Shows {
    chrome: Chrome,
    live: Vec<ShowCard>,
    upcoming: Vec<ShowCard>,
}

async fn shows(ctx: Ctx, State(live): State<Live>) -> PageResult {
    let on = live.list(Some("live"), 50).await.map_err(PageError::internal)?;
    let upcoming = live.list(Some("scheduled"), 50).await.map_err(PageError::internal)?;
    let page = Shows {
        chrome: ctx.chrome(t("layout-shows"), "shows", None).await,
        live: on.iter().map(|s| show_card(&ctx, s)).collect(),
        upcoming: upcoming.iter().map(|s| show_card(&ctx, s)).collect(),
    };
    Ok(ctx.ok(&page))
}

/// The checkout of one unit of a flash deal (or an auction win) from the room: commerce's
/// checkout form; after it, everyone in the room sees what is left.
async fn deal_page(ctx: CommercePage, Path(id): Path<String>) -> PageResult {
    let offer = shop::deal_offer(&ctx, &id).await?;
    let form = shop::prefilled(&ctx).await;
    shop::checkout_form(&ctx, &shop::Buying::Deal(Box::new(offer)), form, None, StatusCode::OK).await
}

async fn deal_submit(ctx: CommercePage, State(live): State<Live>, Path(id): Path<String>, Form(f): Form<Fields>) -> PageResult {
    let offer = shop::deal_offer(&ctx, &id).await?;
    let answer = shop::place(&ctx, shop::Buying::Deal(Box::new(offer)), &f).await;
    // What is left, to the room (the same count again for a refused or repeated form).
    let _ = live.deal_sold(&id).await;
    answer
}

async fn admin_shows(ctx: Ctx, State(live): State<Live>) -> PageResult {
    let shows = live.list(None, 200).await.map_err(PageError::internal)?;
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

/// Live's pages and forms, each with who may open or send it.
pub fn router() -> (axum::Router<RouteState>, Vec<RouteAccess>) {
    use lsn_identity::access::{Access::*, Scope::*};
    Routes::new(lsn_identity::pages::refusal)
        .get("/shows", Access::PUBLIC, shows)
        .get("/shows/{id}", Access::PUBLIC, show_page)
        .get("/deals/{id}/buy", Anyone(Some(OrdersWrite)), deal_page)
        .post("/deals/{id}/buy", Anyone(Some(OrdersWrite)), deal_submit)
        .post("/shows/{id}/start", Creator(LiveWrite), start)
        .post("/shows/{id}/end", Creator(LiveWrite), end)
        .post("/shows/{id}/chat", SignedIn(Some(LiveWrite)), chat)
        .get("/admin/shows", Staff(Admin), admin_shows)
        .into_parts()
}
