//! The demo shop's creators: the demo creator (Mia) and a second one (Noah), both approved,
//! each with links, clicks and a few of the demo history's orders attributed to them through
//! the real attribution (a click of the order's customer shortly before the order), so the
//! portal and the admin's pages have figures on a first start. Deterministic; loading it again
//! changes nothing.

use crate::profiles::Application;
use crate::{Creators, CreatorsError};
use lsn_identity::audit::Actor;
use lsn_identity::Role;

/// (email, name, handle, bio, tier, links as (code, target, label)).
type DemoCreator =
    (&'static str, &'static str, &'static str, &'static str, &'static str, &'static [(&'static str, &'static str, &'static str)]);

pub const CREATORS: &[DemoCreator] = &[
    (
        "creator@lsn.local",
        "Mia Creator",
        "mia",
        "Slow fashion and linen, live every week.",
        "silver",
        &[("mia-linen", "/search?q=linen", "Instagram bio"), ("mia-live", "/shows", "TikTok")],
    ),
    (
        "noah@lsn.local",
        "Noah Creator",
        "noah",
        "Tech for people who film themselves.",
        "bronze",
        &[("noah-tech", "/search?q=earbuds", "YouTube description")],
    ),
];

/// Loads the demo creators when the demo creator has no profile yet; what it did, in a line.
pub async fn load(c: &Creators, password: &str) -> Result<String, CreatorsError> {
    let Some(mia) = c.identity.user_by_email(CREATORS[0].0).await.map_err(|e| CreatorsError::field("demo", e.to_string()))? else {
        return Ok("no demo creator account".into());
    };
    if c.by_user(&mia.id).await?.is_some() {
        return Ok("demo creators already there".into());
    }
    let Some(admin) = c.identity.user_by_email("admin@lsn.local").await.map_err(|e| CreatorsError::field("demo", e.to_string()))? else {
        return Ok("no demo admin".into());
    };
    let actor = Actor { label: "demo".into(), ..Actor::system() };
    let mut made = Vec::new();
    for (email, name, handle, bio, tier, links) in CREATORS {
        let user = match c.identity.user_by_email(email).await.map_err(|e| CreatorsError::field("demo", e.to_string()))? {
            Some(u) => u,
            None => c
                .identity
                .create_user(&actor, email, name, password, Role::Customer)
                .await
                .map_err(|e| CreatorsError::field("demo", e.to_string()))?,
        };
        let app = Application {
            handle: handle.to_string(),
            display_name: name.to_string(),
            bio: bio.to_string(),
            application: "Demo creator.".into(),
            abn: Some("51 824 753 556".into()),
            gst_registered: *handle == "mia",
        };
        let creator = c.apply(&user, &app).await?;
        let creator = c.decide(&creator.id, "approve", "demo", &admin).await?;
        let creator = c.set_terms(&creator.id, Some(tier), None).await?;
        let mut link_ids = Vec::new();
        for (code, target, label) in *links {
            link_ids.push(c.create_link(&creator, target, label, Some(code)).await?.id);
        }
        made.push((creator, user.id.to_string(), link_ids));
    }
    // Of the newest paid orders of customers (not the creators), every third one came through a
    // creator's link, alternately Mia's and Noah's (an order placed in Mia's show is hers).
    let creator_users: Vec<&str> = made.iter().map(|(_, u, _)| u.as_str()).collect();
    let orders = c
        .live
        .commerce
        .orders(None, Some(lsn_commerce::orders::OrderStatus::Paid), None, 200)
        .await
        .map_err(|e| CreatorsError::field("demo", e.to_string()))?;
    let now = c.clock.now_ms();
    let since = now - 25 * crate::DAY_MS;
    let mut attributed = 0;
    let mut clicks = 0;
    let candidates = orders.iter().filter(|o| o.placed_at >= since && o.user_id.as_deref().is_some_and(|u| !creator_users.contains(&u)));
    for (i, o) in candidates.enumerate().filter(|(i, _)| i % 3 == 0).take(12) {
        let (creator, _, links) = &made[(i / 3) % made.len()];
        let link = &links[(i / 3) % links.len()];
        let at = o.placed_at - 2 * 3_600_000;
        insert_click(c, link, &creator.id, &format!("demo-visitor-{i}"), o.user_id.as_deref(), at).await?;
        clicks += 1;
        if c.attribute_order(o.id.as_str()).await?.is_some_and(|a| a.status == "attributed") {
            attributed += 1;
        }
    }
    // Clicks that bought nothing (yet): conversion below 100 %.
    for (n, (creator, _, links)) in made.iter().enumerate() {
        for k in 0..(6 + n * 3) {
            let at = now - ((k as i64 * 7 + n as i64 * 3) % 24 + 1) * crate::DAY_MS;
            insert_click(c, &links[k % links.len()], &creator.id, &format!("demo-browser-{n}-{k}"), None, at).await?;
            clicks += 1;
        }
    }
    Ok(format!("{} demo creators, {clicks} clicks, {attributed} attributed orders", made.len()))
}

async fn insert_click(c: &Creators, link: &str, creator: &str, visitor: &str, user: Option<&str>, at: i64) -> Result<(), CreatorsError> {
    lsn_db::query(
        "INSERT INTO creator_clicks (id, link_id, creator_id, visitor_id, user_id, network, device, refused, at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)",
    )
    .bind(lsn_core::ids::new_id())
    .bind(link)
    .bind(creator)
    .bind(visitor)
    .bind(user)
    .bind(lsn_core::ids::hash_token(&format!("net:{visitor}")))
    .bind("demo")
    .bind(at)
    .execute(c.db.write())
    .await?;
    Ok(())
}
