//! Attribution, on the server. A click on `/r/{code}` (or any page with `?ref={code}`) is
//! recorded with the browser's visitor id (the `lsn_vid` cookie it is given), the signed-in
//! customer if any, its network and device; the checkout keeps the visitor id with the order.
//! When the order is paid it is attributed, with the reason stored:
//!
//! 1. `discount_code`: it used a code a creator shares;
//! 2. `live_show`: it was bought in the room of a show a creator hosted;
//! 3. `link_click`: the visitor (or the customer, from any browser they clicked in) clicked a
//!    creator's link in the window (default 30 days), the last click or, with the first-touch
//!    model, the first.
//!
//! Refused, with a flag for a person: the creator buying through their own link, code or show
//! (`self_referral`); clicks that were not a person following a link — an image, frame or
//! script fetching it, a prefetch, no user agent (`embedded`), or one browser collecting
//! several creators' links within minutes (`cookie_stuffing`); and a creator's new customers
//! arriving again and again from one browser or network (`repeated_signups`).

use crate::ledger::Entry;
use crate::profiles::Creator;
use crate::{commission, Creators, CreatorsError, Model, DAY_MS};
use lsn_db::RowExt;
use serde::Serialize;
use serde_json::{json, Value};

/// What the request of a click says about who made it.
#[derive(Debug, Clone, Default)]
pub struct ClickMeta {
    /// The visitor cookie, when the browser has one.
    pub visitor: Option<String>,
    pub user_id: Option<String>,
    pub network: String,
    pub user_agent: Option<String>,
    /// `Sec-Fetch-Dest` (a browser says `document` for a followed link).
    pub fetch_dest: Option<String>,
    /// `Sec-Purpose` / `Purpose` (`prefetch`).
    pub purpose: Option<String>,
}

/// A recorded click: where to send the browser and the visitor id it keeps.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Clicked {
    pub click_id: String,
    pub target: String,
    pub visitor: String,
    /// Why the click counts for nothing, when it does not.
    pub refused: Option<&'static str>,
}

/// Clicks one browser may make in a minute before more are not even recorded.
const MAX_CLICKS_PER_MINUTE: i64 = 20;
/// Other creators' links one browser may collect in ten minutes before a click is stuffing.
const STUFFING_CREATORS: i64 = 3;
const MINUTE_MS: i64 = 60_000;

impl Creators {
    /// Records a click on the link `code`. `None` when there is no such active link of an
    /// approved creator (the shopper just shops).
    pub async fn click(&self, code: &str, meta: &ClickMeta) -> Result<Option<Clicked>, CreatorsError> {
        let code = code.trim();
        if code.is_empty() || code.len() > 32 {
            return Ok(None);
        }
        let Some(r) = lsn_db::query(
            "SELECT l.id, l.creator_id, l.target, c.user_id FROM creator_links l JOIN creators c ON c.id = l.creator_id \
             WHERE l.code = $1 AND l.active = 1 AND c.status = 'approved'",
        )
        .bind(code)
        .fetch_optional(self.db.read())
        .await?
        else {
            return Ok(None);
        };
        let (link_id, creator_id, target, creator_user): (String, String, String, String) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        let known = meta.visitor.clone().filter(|v| lsn_core::ids::is_valid_id(v));
        let visitor = known.clone().unwrap_or_else(lsn_core::ids::new_id);
        let now = self.clock.now_ms();
        // A browser seen for the first time has no clicks to count.
        let (recent, others) = if known.is_some() { self.recent_clicks(&visitor, &creator_id, now).await? } else { (0, 0) };
        let click_id = lsn_core::ids::new_id();
        if recent >= MAX_CLICKS_PER_MINUTE {
            return Ok(Some(Clicked { click_id, target, visitor, refused: Some("click_flood") }));
        }
        let dest = meta.fetch_dest.as_deref().map(str::to_ascii_lowercase);
        let refused = if meta.user_id.as_deref() == Some(creator_user.as_str()) {
            Some("self_referral")
        } else if meta.purpose.as_deref().is_some_and(|p| p.to_ascii_lowercase().contains("prefetch"))
            || dest.as_deref().is_some_and(|d| d != "document")
            || meta.user_agent.as_deref().is_none_or(|u| u.trim().is_empty())
        {
            Some("embedded")
        } else if others >= STUFFING_CREATORS {
            Some("cookie_stuffing")
        } else {
            None
        };
        let device = lsn_core::ids::hash_token(meta.user_agent.as_deref().unwrap_or(""));
        let network = lsn_core::ids::hash_token(&meta.network);
        let (cid, lid, crid, vis, uid) = (click_id.clone(), link_id, creator_id.clone(), visitor.clone(), meta.user_id.clone());
        self.db
            .transaction(move |tx| {
                let (cid, lid, crid, vis, uid, device, network) = (cid.clone(), lid.clone(), crid.clone(), vis.clone(), uid.clone(), device.clone(), network.clone());
                Box::pin(async move {
                    lsn_db::query("INSERT INTO creator_clicks (id, link_id, creator_id, visitor_id, user_id, network, device, refused, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                        .bind(&cid)
                        .bind(&lid)
                        .bind(&crid)
                        .bind(&vis)
                        .bind(&uid)
                        .bind(&network)
                        .bind(&device)
                        .bind(refused)
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                    if let Some(kind) = refused.filter(|k| *k != "embedded") {
                        flag(tx, now, &crid, kind, &vis, &json!({"click_id": cid, "network": network})).await?;
                    }
                    Ok::<_, lsn_db::Error>(())
                })
            })
            .await?;
        Ok(Some(Clicked { click_id, target, visitor, refused }))
    }
}

impl Creators {
    /// A known browser's clicks in the last minute, and the other creators it clicked for in the
    /// last ten.
    async fn recent_clicks(&self, visitor: &str, creator_id: &str, now: i64) -> Result<(i64, i64), CreatorsError> {
        let r = lsn_db::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN at > $2 THEN 1 ELSE 0 END), 0) AS BIGINT), CAST(COUNT(DISTINCT CASE WHEN creator_id <> $3 THEN creator_id END) AS BIGINT) \
             FROM creator_clicks WHERE visitor_id = $1 AND at > $4",
        )
        .bind(visitor)
        .bind(now - MINUTE_MS)
        .bind(creator_id)
        .bind(now - 10 * MINUTE_MS)
        .fetch_one(self.db.read())
        .await?;
        Ok((r.try_get(0)?, r.try_get(1)?))
    }
}

/// Records what looked like abuse, once per creator, kind and subject.
pub(crate) async fn flag(
    tx: &mut lsn_db::Tx,
    now: i64,
    creator_id: &str,
    kind: &str,
    subject: &str,
    detail: &Value,
) -> Result<(), lsn_db::Error> {
    lsn_db::query("INSERT INTO creator_flags (id, creator_id, kind, subject, detail, at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (creator_id, kind, subject) DO NOTHING")
        .bind(lsn_core::ids::new_id())
        .bind(creator_id)
        .bind(kind)
        .bind(subject)
        .bind(detail.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Ties a browser's anonymous clicks to the customer who checked out in it.
async fn bind_browser(tx: &mut lsn_db::Tx, visitor: &str, user: &str) -> Result<(), lsn_db::Error> {
    lsn_db::query("UPDATE creator_clicks SET user_id = $1 WHERE visitor_id = $2 AND user_id IS NULL")
        .bind(user)
        .bind(visitor)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Why an order went to a creator, or was refused.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Attribution {
    pub order_id: String,
    pub creator_id: String,
    pub status: &'static str,
    pub reason: &'static str,
    pub model: &'static str,
    pub click_id: Option<String>,
    pub detail: Value,
    pub base: i64,
    pub commission: i64,
}

struct Candidate {
    creator: Creator,
    reason: &'static str,
    click_id: Option<String>,
    click_visitor: Option<String>,
    detail: Value,
}

impl Creators {
    async fn candidate(
        &self,
        sale: &lsn_commerce::orders::read::Sale,
        model: Model,
        window_days: i64,
    ) -> Result<Option<Candidate>, CreatorsError> {
        if let Some(code) = &sale.discount_code_id {
            let r = lsn_db::query(&format!(
                "SELECT {}, k.code FROM creator_codes k JOIN creators c ON c.id = k.creator_id WHERE k.discount_code_id = $1",
                crate::profiles::cols("c")
            ))
            .bind(code)
            .fetch_optional(self.db.read())
            .await?;
            if let Some(r) = r {
                let creator = crate::profiles::creator_row(&r)?;
                let code: String = r.try_get(crate::profiles::NCOLS)?;
                if creator.status == "approved" {
                    return Ok(Some(Candidate {
                        creator,
                        reason: "discount_code",
                        click_id: None,
                        click_visitor: None,
                        detail: json!({"code": code}),
                    }));
                }
            }
        }
        if let Some(show) = &sale.show_id {
            match self.live.get(show).await {
                Ok(s) => {
                    if let Some(creator) = self.by_user(&s.host_id).await?.filter(|c| c.status == "approved") {
                        return Ok(Some(Candidate {
                            creator,
                            reason: "live_show",
                            click_id: None,
                            click_visitor: None,
                            detail: json!({"show_id": show, "title": s.title}),
                        }));
                    }
                }
                Err(lsn_live::LiveError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let since = sale.placed_at - window_days * DAY_MS;
        let order = match model {
            Model::LastTouch => "DESC",
            Model::FirstTouch => "ASC",
        };
        // By the browser, and by the customer from any browser: each by its own index, the
        // click's creator read with it.
        let mut best: Option<(String, String, i64, Creator)> = None;
        for (col, value) in [("visitor_id", sale.visitor_id.as_deref()), ("user_id", sale.user_id.as_deref())] {
            let Some(value) = value else { continue };
            let n = crate::profiles::NCOLS;
            let r = lsn_db::query(&format!(
                "SELECT {}, k.id, k.visitor_id, k.at FROM creator_clicks k JOIN creators c ON c.id = k.creator_id \
                 WHERE k.{col} = $1 AND k.refused IS NULL AND k.at >= $2 AND k.at <= $3 ORDER BY k.at {order}, k.id {order} LIMIT 1",
                crate::profiles::cols("c")
            ))
            .bind(value)
            .bind(since)
            .bind(sale.placed_at)
            .fetch_optional(self.db.read())
            .await?;
            if let Some(r) = r {
                let found: (String, String, i64, Creator) =
                    (r.try_get(n)?, r.try_get(n + 1)?, r.try_get(n + 2)?, crate::profiles::creator_row(&r)?);
                let better = best.as_ref().is_none_or(|b| match model {
                    Model::LastTouch => (found.2, &found.0) > (b.2, &b.0),
                    Model::FirstTouch => (found.2, &found.0) < (b.2, &b.0),
                });
                if better {
                    best = Some(found);
                }
            }
        }
        let Some((click, visitor, at, creator)) = best else { return Ok(None) };
        if creator.status != "approved" {
            return Ok(None);
        }
        let by = if sale.visitor_id.as_deref() == Some(visitor.as_str()) { "visitor" } else { "customer" };
        Ok(Some(Candidate {
            creator,
            reason: "link_click",
            click_id: Some(click),
            click_visitor: Some(visitor),
            detail: json!({"clicked_at": at, "matched_by": by, "window_days": window_days}),
        }))
    }

    /// Why a candidate must be refused, if it must.
    async fn refusal(
        &self,
        sale: &lsn_commerce::orders::read::Sale,
        c: &Candidate,
        first_order: bool,
        s: &crate::Settings,
    ) -> Result<Option<(&'static str, Value)>, CreatorsError> {
        // One read: the creator's e-mail, whether this browser is the creator's own (one they
        // clicked or bought in while signed in), and the creator's first orders in the last 30
        // days from this browser and this network.
        let device = sale.visitor_id.clone().or_else(|| c.click_visitor.clone());
        let network = sale.network.as_deref().map(lsn_core::ids::hash_token);
        let r = lsn_db::query(
            "SELECT (SELECT email FROM user_contacts WHERE id = $1), \
             (SELECT CAST(COUNT(*) AS BIGINT) FROM creator_clicks WHERE visitor_id = $2 AND user_id = $1), \
             (SELECT CAST(COUNT(*) AS BIGINT) FROM creator_attributions WHERE creator_id = $3 AND visitor_id = $4 AND at >= $6 AND order_id <> $7 AND status = 'attributed' AND first_order = 1), \
             (SELECT CAST(COUNT(*) AS BIGINT) FROM creator_attributions WHERE creator_id = $3 AND network = $5 AND at >= $6 AND order_id <> $7 AND status = 'attributed' AND first_order = 1)",
        )
        .bind(&c.creator.user_id)
        .bind(&sale.visitor_id)
        .bind(&c.creator.id)
        .bind(&device)
        .bind(&network)
        .bind(sale.placed_at - 30 * DAY_MS)
        .bind(&sale.order_id)
        .fetch_one(self.db.read())
        .await?;
        let creator_email: Option<String> = r.try_get(0)?;
        let own_browser = r.try_get::<i64, _>(1)? > 0;
        let (from_device, from_network): (i64, i64) = (r.try_get(2)?, r.try_get(3)?);
        let same_email = creator_email.is_some_and(|e| {
            lsn_core::Email::parse(&e).ok().map(|e| e.identity()) == lsn_core::Email::parse(&sale.email).ok().map(|e| e.identity())
        });
        if sale.user_id.as_deref() == Some(c.creator.user_id.as_str()) || same_email || own_browser {
            let how = if same_email && sale.user_id.as_deref() != Some(c.creator.user_id.as_str()) {
                "email"
            } else if own_browser {
                "browser"
            } else {
                "account"
            };
            return Ok(Some(("self_referral", json!({"matched_by": how}))));
        }
        if !first_order {
            return Ok(None);
        }
        if from_device >= s.max_signups_per_device {
            return Ok(Some(("repeated_signups", json!({"matched_by": "device", "limit": s.max_signups_per_device}))));
        }
        if from_network >= s.max_signups_per_network {
            return Ok(Some(("repeated_signups", json!({"matched_by": "network", "limit": s.max_signups_per_network}))));
        }
        Ok(None)
    }

    /// Attributes a paid order (once: a second call finds the first answer). `None` when the
    /// order is unknown, unpaid or nobody's.
    pub async fn attribute_order(&self, order_id: &str) -> Result<Option<Attribution>, CreatorsError> {
        // A second run writes nothing (the attribution is unique per order) and answers with
        // the first one's.
        let Some(sale) = lsn_commerce::orders::read::sale(&self.db, order_id).await? else { return Ok(None) };
        let settings = self.settings().await?;
        let Some(cand) = self.candidate(&sale, settings.model, settings.window_days).await? else {
            self.bind_browser(&sale).await?;
            return Ok(None);
        };
        let first_order = lsn_commerce::orders::read::earlier_orders(&self.db, &sale.customer_key, sale.placed_at).await? == 0;
        let refusal = self.refusal(&sale, &cand, first_order, &settings).await?;
        let paid_at = sale.paid_at.unwrap_or(sale.placed_at);
        let available_at = paid_at.saturating_add(settings.hold_days * DAY_MS);
        let mut entries = Vec::new();
        let mut base = 0i64;
        let mut total = 0i64;
        let mut rates = Vec::new();
        if refusal.is_none() {
            let products = self.variant_products(&sale.lines).await?;
            let line_rates = self.rates_for(&cand.creator, &products, paid_at).await?;
            for (line, (rate, why)) in sale.lines.iter().zip(line_rates) {
                let amount = commission(line.net, rate);
                base = base.saturating_add(line.net.max(0));
                total = total.saturating_add(amount);
                rates.push(json!({"line": line.item_id, "title": line.title, "base": line.net, "rate_bps": rate, "rate": why, "commission": amount}));
                if amount > 0 {
                    entries.push(Entry::new(
                        &cand.creator.id,
                        "commission",
                        "order",
                        order_id,
                        &line.item_id,
                        amount,
                        "pending",
                        available_at,
                        &line.title,
                    ));
                }
            }
        }
        let (status, reason, mut detail) = match &refusal {
            Some((why, d)) => ("refused", *why, json!({"refused": d, "would_have_been": cand.reason, "because": cand.detail})),
            None => ("attributed", cand.reason, cand.detail.clone()),
        };
        if let Some(o) = detail.as_object_mut() {
            o.insert("first_order".into(), json!(first_order));
            o.insert("lines".into(), json!(rates));
        }
        let a = Attribution {
            order_id: order_id.to_string(),
            creator_id: cand.creator.id.clone(),
            status,
            reason,
            model: settings.model.as_str(),
            click_id: cand.click_id.clone(),
            detail,
            base,
            commission: total,
        };
        let now = self.clock.now_ms();
        let network = sale.network.as_deref().map(lsn_core::ids::hash_token);
        let (a2, visitor, customer, user) = (a.clone(), sale.visitor_id.clone(), sale.customer_key.clone(), sale.user_id.clone());
        let inserted = self
            .db
            .transaction(move |tx| {
                let (a, entries, visitor, network, customer, user) =
                    (a2.clone(), entries.clone(), visitor.clone(), network.clone(), customer.clone(), user.clone());
                Box::pin(async move {
                    if let (Some(v), Some(u)) = (&visitor, &user) {
                        bind_browser(tx, v, u).await?;
                    }
                    let r = lsn_db::query(
                        "INSERT INTO creator_attributions (order_id, creator_id, status, reason, model, click_id, customer_key, visitor_id, network, first_order, detail, base, commission, at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (order_id) DO NOTHING",
                    )
                    .bind(&a.order_id)
                    .bind(&a.creator_id)
                    .bind(a.status)
                    .bind(a.reason)
                    .bind(a.model)
                    .bind(&a.click_id)
                    .bind(&customer)
                    .bind(&visitor)
                    .bind(&network)
                    .bind(i64::from(first_order))
                    .bind(a.detail.to_string())
                    .bind(a.base)
                    .bind(a.commission)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                    if r.rows_affected() == 0 {
                        return Ok(false);
                    }
                    crate::ledger::insert(tx, now, &entries).await?;
                    if a.status == "refused" {
                        flag(tx, now, &a.creator_id, a.reason, &a.order_id, &a.detail).await?;
                    }
                    Ok::<_, lsn_db::Error>(true)
                })
            })
            .await?;
        if !inserted {
            return self.attribution(order_id).await;
        }
        Ok(Some(a))
    }

    /// The checkout's browser belongs to this customer from now on, whichever it was (for an
    /// order nobody is attributed; an attributed one does it in its own transaction).
    async fn bind_browser(&self, sale: &lsn_commerce::orders::read::Sale) -> Result<(), CreatorsError> {
        if let (Some(v), Some(u)) = (&sale.visitor_id, &sale.user_id) {
            let (v, u) = (v.clone(), u.clone());
            self.db
                .transaction(move |tx| {
                    let (v, u) = (v.clone(), u.clone());
                    Box::pin(async move { bind_browser(tx, &v, &u).await })
                })
                .await?;
        }
        Ok(())
    }

    /// Each line's product and category (one read for all of them).
    async fn variant_products(
        &self,
        lines: &[lsn_commerce::orders::read::SaleLine],
    ) -> Result<Vec<(String, Option<String>)>, CreatorsError> {
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, product_id, category_id FROM catalog_variants WHERE id IN ({})",
            lsn_ops::jobs::placeholders(1, lines.len(), 1)
        );
        let mut q = lsn_db::query(&sql);
        for l in lines {
            q = q.bind(&l.variant_id);
        }
        let mut found = std::collections::HashMap::new();
        for r in q.fetch_all(self.db.read()).await? {
            let (id, product, category): (String, String, Option<String>) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            found.insert(id, (product, category));
        }
        Ok(lines.iter().map(|l| found.get(&l.variant_id).cloned().unwrap_or_default()).collect())
    }

    /// An order's attribution as recorded.
    pub async fn attribution(&self, order_id: &str) -> Result<Option<Attribution>, CreatorsError> {
        let r = lsn_db::query("SELECT order_id, creator_id, status, reason, model, click_id, detail, base, commission FROM creator_attributions WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(self.db.read())
            .await?;
        let Some(r) = r else { return Ok(None) };
        let status: String = r.try_get(2)?;
        let reason: String = r.try_get(3)?;
        let model: String = r.try_get(4)?;
        let detail: String = r.try_get(6)?;
        Ok(Some(Attribution {
            order_id: r.try_get(0)?,
            creator_id: r.try_get(1)?,
            status: if status == "refused" { "refused" } else { "attributed" },
            reason: REASONS.iter().copied().find(|x| *x == reason).unwrap_or("link_click"),
            model: Model::parse(&model).unwrap_or(Model::LastTouch).as_str(),
            click_id: r.try_get(5)?,
            detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
            base: r.try_get(7)?,
            commission: r.try_get(8)?,
        }))
    }
}

/// Every reason an attribution records.
pub const REASONS: &[&str] = &["discount_code", "live_show", "link_click", "self_referral", "repeated_signups", "cookie_stuffing"];
