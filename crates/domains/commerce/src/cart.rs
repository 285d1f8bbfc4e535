//! Carts: a guest cart behind a cookie, a customer cart per account, merged when the guest signs
//! in. Prices and stock are read again every time a cart is shown; a cart holds only variant ids
//! and quantities.

use crate::pricing::{self, shipping_options, Discount, LineIn};
use crate::Code;
use crate::CommerceError;
use lsn_core::i18n;
use lsn_core::ids::{hash_token, new_id, random_token};
use lsn_db::{Db, RowExt};
use serde::Serialize;

pub const CART_COOKIE: &str = "lsn_cart";
pub const MAX_LINE_QUANTITY: i64 = 999;
pub const MAX_LINES: i64 = 100;

/// Whose cart: a signed-in customer, or a guest with a cart cookie.
#[derive(Debug, Clone)]
pub struct Owner {
    pub user_id: Option<String>,
    pub guest_token: Option<String>,
}

impl Owner {
    /// The cart's owner for a request: the signed-in user, and the browser's guest cart cookie.
    pub fn of(user_id: Option<&str>, jar: &axum_extra::extract::CookieJar) -> Owner {
        Owner { user_id: user_id.map(str::to_string), guest_token: jar.get(CART_COOKIE).map(|c| c.value().to_string()) }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CartLine {
    pub variant_id: String,
    pub product_id: String,
    pub product_title: String,
    pub product_slug: String,
    pub sku: String,
    pub variant_title: String,
    pub unit_price: i64,
    pub compare_at_price: Option<i64>,
    pub quantity: i64,
    pub line_total: i64,
    pub available: i64,
    pub max_per_order: Option<i64>,
    pub max_per_customer: Option<i64>,
    /// Why this line cannot be bought as it is (`unavailable`, `insufficient_stock`), if so.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CartView {
    pub id: Option<String>,
    pub lines: Vec<CartLine>,
    pub item_count: i64,
    pub subtotal: i64,
    pub gst_included: i64,
    pub shipping_options: Vec<pricing::ShippingOption>,
    pub currency: &'static str,
}

async fn cart_by_user(db: &Db, user_id: &str) -> Result<Option<String>, lsn_db::Error> {
    lsn_db::query("SELECT id FROM carts WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(db.read())
        .await?
        .map(|r| r.try_get(0))
        .transpose()
}

async fn cart_by_token(db: &Db, token: &str) -> Result<Option<String>, lsn_db::Error> {
    if token.is_empty() || token.len() > 100 {
        return Ok(None);
    }
    lsn_db::query("SELECT id FROM carts WHERE token_hash = $1")
        .bind(hash_token(token))
        .fetch_optional(db.read())
        .await?
        .map(|r| r.try_get(0))
        .transpose()
}

/// Finds the owner's cart, merging a guest cart into the customer's at first sight after sign-in.
/// With `create`, makes one; returns `(cart_id, new guest token to set)`.
pub async fn resolve(db: &Db, now: i64, owner: &Owner, create: bool) -> Result<(Option<String>, Option<String>), CommerceError> {
    let guest = match &owner.guest_token {
        Some(t) => cart_by_token(db, t).await?,
        None => None,
    };
    if let Some(uid) = &owner.user_id {
        let mine = cart_by_user(db, uid).await?;
        let (uid2, guest2, mine2) = (uid.clone(), guest.clone(), mine.clone());
        let id = db
            .transaction(move |tx| {
                let (uid, guest, mine) = (uid2.clone(), guest2.clone(), mine2.clone());
                Box::pin(async move {
                    let target = match (mine, &guest) {
                        (Some(m), _) => m,
                        (None, Some(g)) => {
                            // Adopt the guest cart as the customer's.
                            lsn_db::query("UPDATE carts SET user_id = $1, token_hash = NULL, updated_at = $2 WHERE id = $3").bind(&uid).bind(now).bind(g).execute(&mut **tx).await?;
                            return Ok::<_, lsn_db::Error>(Some(g.clone()));
                        }
                        (None, None) if create => {
                            let id = new_id();
                            lsn_db::query("INSERT INTO carts (id, user_id, created_at, updated_at) VALUES ($1, $2, $3, $3) ON CONFLICT (user_id) DO NOTHING").bind(&id).bind(&uid).bind(now).execute(&mut **tx).await?;
                            let r = lsn_db::query("SELECT id FROM carts WHERE user_id = $1").bind(&uid).fetch_one(&mut **tx).await?;
                            return Ok(Some(r.try_get(0)?));
                        }
                        (None, None) => return Ok(None),
                    };
                    if let Some(g) = guest.filter(|g| *g != target) {
                        let items = lsn_db::query("SELECT variant_id, quantity FROM cart_items WHERE cart_id = $1").bind(&g).fetch_all(&mut **tx).await?;
                        for it in items {
                            let (v, q): (String, i64) = (it.try_get(0)?, it.try_get(1)?);
                            lsn_db::query(
                                "INSERT INTO cart_items (cart_id, variant_id, quantity, added_at) VALUES ($1, $2, $3, $4) \
                                 ON CONFLICT (cart_id, variant_id) DO UPDATE SET quantity = CASE WHEN cart_items.quantity + excluded.quantity > $5 THEN $5 ELSE cart_items.quantity + excluded.quantity END",
                            )
                            .bind(&target)
                            .bind(&v)
                            .bind(q)
                            .bind(now)
                            .bind(MAX_LINE_QUANTITY)
                            .execute(&mut **tx)
                            .await?;
                        }
                        lsn_db::query("DELETE FROM carts WHERE id = $1").bind(&g).execute(&mut **tx).await?;
                    }
                    Ok(Some(target))
                })
            })
            .await?;
        return Ok((id, None));
    }
    if let Some(g) = guest {
        return Ok((Some(g), None));
    }
    if !create {
        return Ok((None, None));
    }
    let token = random_token(24);
    let id = new_id();
    lsn_db::query("INSERT INTO carts (id, token_hash, created_at, updated_at) VALUES ($1, $2, $3, $3)")
        .bind(&id)
        .bind(hash_token(&token))
        .bind(now)
        .execute(db.write())
        .await?;
    Ok((Some(id), Some(token)))
}

fn bad_quantity() -> CommerceError {
    CommerceError::Validation(
        serde_json::json!({ "quantity": i18n::t_args("commerce-cart-quantity", &[("max", &MAX_LINE_QUANTITY.to_string())]) }),
    )
}

/// Sets a line's quantity (adding to what is there with `add`); 0 removes the line.
pub async fn set_item(db: &Db, now: i64, cart_id: &str, variant_or_sku: &str, quantity: i64, add: bool) -> Result<(), CommerceError> {
    if !(0..=MAX_LINE_QUANTITY).contains(&quantity) || (add && quantity == 0) {
        return Err(bad_quantity());
    }
    let v = lsn_db::query(
        "SELECT v.id, v.status, v.product_status, v.max_per_order, COALESCE(s.available, 0) FROM catalog_variants v \
         LEFT JOIN variant_stock s ON s.variant_id = v.id WHERE v.id = $1 OR v.sku = $1",
    )
    .bind(variant_or_sku)
    .fetch_optional(db.read())
    .await?;
    let Some(v) = v else { return Err(CommerceError::rule(Code::UnknownVariant, i18n::t("commerce-unknown-variant"))) };
    let (variant_id, vstatus, pstatus, max_per_order, available): (String, String, String, Option<i64>, i64) =
        (v.try_get(0)?, v.try_get(1)?, v.try_get(2)?, v.try_get(3)?, v.try_get(4)?);
    if quantity == 0 {
        lsn_db::query("DELETE FROM cart_items WHERE cart_id = $1 AND variant_id = $2")
            .bind(cart_id)
            .bind(&variant_id)
            .execute(db.write())
            .await?;
        return Ok(());
    }
    if vstatus != "active" || pstatus != "active" {
        return Err(CommerceError::rule(Code::Unavailable, i18n::t("commerce-not-for-sale")));
    }
    let existing: i64 = lsn_db::query("SELECT quantity FROM cart_items WHERE cart_id = $1 AND variant_id = $2")
        .bind(cart_id)
        .bind(&variant_id)
        .fetch_optional(db.read())
        .await?
        .map(|r| r.try_get(0))
        .transpose()?
        .unwrap_or(0);
    let new_qty = if add { existing + quantity } else { quantity };
    if new_qty > MAX_LINE_QUANTITY {
        return Err(bad_quantity());
    }
    if let Some(m) = max_per_order {
        if new_qty > m {
            return Err(CommerceError::rule(Code::QuantityLimit, i18n::t_args("commerce-max-per-order", &[("max", &m.to_string())])));
        }
    }
    if new_qty > available {
        return Err(CommerceError::rule(
            Code::OutOfStock,
            if available <= 0 {
                i18n::t("commerce-sold-out")
            } else {
                i18n::t_args("commerce-only-left", &[("available", &available.to_string())])
            },
        ));
    }
    let lines: i64 =
        lsn_db::query("SELECT COUNT(*) FROM cart_items WHERE cart_id = $1").bind(cart_id).fetch_one(db.read()).await?.try_get(0)?;
    if existing == 0 && lines >= MAX_LINES {
        return Err(CommerceError::rule(Code::CartFull, i18n::t_args("commerce-cart-full", &[("max", &MAX_LINES.to_string())])));
    }
    let (cart, variant) = (cart_id.to_string(), variant_id.clone());
    db.transaction(move |tx| {
        let (cart, variant) = (cart.clone(), variant.clone());
        Box::pin(async move {
            lsn_db::query("INSERT INTO cart_items (cart_id, variant_id, quantity, added_at) VALUES ($1, $2, $3, $4) ON CONFLICT (cart_id, variant_id) DO UPDATE SET quantity = excluded.quantity")
                .bind(&cart)
                .bind(&variant)
                .bind(new_qty)
                .bind(now)
                .execute(&mut **tx)
                .await?;
            lsn_db::query("UPDATE carts SET updated_at = $1 WHERE id = $2").bind(now).bind(&cart).execute(&mut **tx).await?;
            Ok::<_, lsn_db::Error>(())
        })
    })
    .await?;
    Ok(())
}

/// The cart's lines with today's prices and stock.
pub async fn lines<'c, E>(ex: E, cart_id: &str) -> Result<Vec<CartLine>, lsn_db::Error>
where
    E: lsn_db::Executor<'c>,
{
    let rows = lsn_db::query(
        "SELECT v.id, v.product_id, v.product_title, v.product_slug, v.sku, v.title, v.price, v.compare_at_price, ci.quantity, COALESCE(s.available, 0), v.max_per_order, v.max_per_customer, v.status, v.product_status \
         FROM cart_items ci JOIN catalog_variants v ON v.id = ci.variant_id LEFT JOIN variant_stock s ON s.variant_id = v.id \
         WHERE ci.cart_id = $1 ORDER BY ci.added_at, v.sku",
    )
    .bind(cart_id)
    .fetch_all(ex)
    .await?;
    lines_from(&rows)
}

/// One variant as a line of `quantity`, priced now (a deal bought straight from a live room).
pub async fn variant_line<'c, E>(ex: E, variant_id: &str, quantity: i64) -> Result<Vec<CartLine>, lsn_db::Error>
where
    E: lsn_db::Executor<'c>,
{
    let rows = lsn_db::query(
        "SELECT v.id, v.product_id, v.product_title, v.product_slug, v.sku, v.title, v.price, v.compare_at_price, $2, COALESCE(s.available, 0), v.max_per_order, v.max_per_customer, v.status, v.product_status \
         FROM catalog_variants v LEFT JOIN variant_stock s ON s.variant_id = v.id WHERE v.id = $1",
    )
    .bind(variant_id)
    .bind(quantity)
    .fetch_all(ex)
    .await?;
    lines_from(&rows)
}

fn lines_from(rows: &[lsn_db::Row]) -> Result<Vec<CartLine>, lsn_db::Error> {
    rows.iter()
        .map(|r| {
            let (price, qty, available): (i64, i64, i64) = (r.try_get(6)?, r.try_get(8)?, r.try_get(9)?);
            let (vs, ps): (String, String) = (r.try_get(12)?, r.try_get(13)?);
            let problem = if vs != "active" || ps != "active" {
                Some("unavailable".to_string())
            } else if qty > available {
                Some("insufficient_stock".to_string())
            } else {
                None
            };
            Ok(CartLine {
                variant_id: r.try_get(0)?,
                product_id: r.try_get(1)?,
                product_title: r.try_get(2)?,
                product_slug: r.try_get(3)?,
                sku: r.try_get(4)?,
                variant_title: r.try_get(5)?,
                unit_price: price,
                compare_at_price: r.try_get(7)?,
                quantity: qty,
                line_total: price.saturating_mul(qty),
                available: available.max(0),
                max_per_order: r.try_get(10)?,
                max_per_customer: r.try_get(11)?,
                problem,
            })
        })
        .collect()
}

/// How many items a cart holds (what the page header shows), without pricing its lines.
pub async fn item_count(db: &Db, cart_id: &str) -> Result<i64, CommerceError> {
    let r = lsn_db::query("SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) FROM cart_items WHERE cart_id = $1")
        .bind(cart_id)
        .fetch_one(db.read())
        .await?;
    Ok(r.try_get::<i64, _>(0)?)
}

pub async fn view(db: &Db, cart_id: Option<&str>) -> Result<CartView, CommerceError> {
    let lines = match cart_id {
        Some(id) => lines(db.read(), id).await?,
        None => Vec::new(),
    };
    let ins: Vec<LineIn> = lines.iter().map(|l| LineIn { unit_price: l.unit_price, quantity: l.quantity }).collect();
    let t = pricing::compute(&ins, Discount::None, 0)?;
    Ok(CartView {
        id: cart_id.map(str::to_string),
        item_count: lines.iter().map(|l| l.quantity).sum(),
        subtotal: t.subtotal,
        gst_included: t.gst_total,
        shipping_options: shipping_options(t.subtotal),
        lines,
        currency: "AUD",
    })
}
