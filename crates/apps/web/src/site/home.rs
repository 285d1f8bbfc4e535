//! The home page: what is live and coming up (live's), what is new and the categories
//! (commerce's), composed by the app.

use super::{Chrome, Ctx, PageError, PageResult};
use askama::Template;
use axum::extract::Query;
use lsn_catalog::SearchQuery;
use lsn_commerce::pages::{card, categories, Card, Category, NoticeArg};
use lsn_core::i18n::t;
use lsn_live::pages::{show_card, ShowCard};

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    chrome: Chrome,
    live: Vec<ShowCard>,
    upcoming: Vec<ShowCard>,
    products: Vec<Card>,
    categories: Vec<Category>,
}

pub async fn home(ctx: Ctx, Query(n): Query<NoticeArg>) -> PageResult {
    let shows = &ctx.state.live;
    let live = shows.list(Some("live"), 6).await.map_err(PageError::internal)?;
    let upcoming = shows.list(Some("scheduled"), 6).await.map_err(PageError::internal)?;
    let q = SearchQuery { limit: Some(8), ..Default::default() };
    let products = ctx.state.commerce.catalog.search(&q, false).await.map_err(PageError::internal)?;
    let page = Home {
        chrome: ctx.chrome(t("home-title"), "home", n.notice.as_deref()).await,
        live: live.iter().map(|s| show_card(&ctx, s)).collect(),
        upcoming: upcoming.iter().map(|s| show_card(&ctx, s)).collect(),
        products: products.items.iter().map(card).collect(),
        categories: categories(&ctx.state.commerce).await,
    };
    Ok(ctx.ok(&page))
}
