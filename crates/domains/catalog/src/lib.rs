//! Catalog: products with variants (SKU, option values, price and compare-at price in AUD cents,
//! GST included), categories, tags, status, images, and full-text search (SQLite FTS5,
//! PostgreSQL `tsvector`; every query word as a word prefix) with filters and cursor pagination.
//!
//! Prices here are the only prices: carts and checkouts always read them again, and a price a
//! client sends is never used.

pub mod media;

/// The catalog's schema steps (its earlier tables are in [`lsn_db::HISTORY`]).
pub const MIGRATIONS: &[lsn_db::Migration] = &[
    lsn_db::Migration::portable(13, "catalog views", include_str!("../migrations/0013_catalog_views.sql")),
    lsn_db::Migration::portable(34, "variant category", include_str!("../migrations/0034_catalog_variant_category.sql")),
];

/// The catalog as a module: for now its schema steps (its routes are still served by commerce).
pub fn module() -> lsn_ops::Module {
    lsn_ops::Module::new("catalog").migrations(MIGRATIONS)
}

use lsn_core::i18n;
use lsn_core::ids::new_id;
use lsn_db::{is_unique_violation, Db, Row, RowExt, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The highest price a variant can have: the largest amount LSN takes ($1,000,000.00).
pub const MAX_PRICE: i64 = lsn_core::money::MAX_AMOUNT;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("invalid input")]
    Validation(Value),
    #[error("not found")]
    NotFound,
    #[error("{0} is already used")]
    Duplicate(&'static str),
    #[error(transparent)]
    Db(#[from] lsn_db::Error),
}

impl lsn_db::TxError for CatalogError {
    fn as_db(&self) -> Option<&lsn_db::Error> {
        match self {
            CatalogError::Db(e) => Some(e),
            _ => None,
        }
    }
}

impl From<CatalogError> for lsn_core::ApiError {
    fn from(e: CatalogError) -> Self {
        use lsn_core::ApiError;
        match e {
            CatalogError::Validation(v) => ApiError::validation(v),
            CatalogError::NotFound => ApiError::not_found(),
            CatalogError::Duplicate(what) => ApiError::conflict(
                if what == "sku" { "duplicate_sku" } else { "duplicate_slug" },
                i18n::t_args("catalog-duplicate", &[("what", what)]),
            ),
            CatalogError::Db(e) if lsn_db::is_unavailable(&e) => ApiError::database_unavailable(e),
            CatalogError::Db(e) => ApiError::internal(e),
        }
    }
}

fn invalid(field: &str, msg: &str) -> CatalogError {
    CatalogError::Validation(json!({ field: msg }))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantInput {
    pub sku: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    pub price: i64,
    #[serde(default)]
    pub compare_at_price: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    pub title: String,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub max_per_order: Option<i64>,
    #[serde(default)]
    pub max_per_customer: Option<i64>,
    pub variants: Vec<VariantInput>,
}

/// A partial update: absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<String>,
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
    pub max_per_order: Option<Option<i64>>,
    pub max_per_customer: Option<Option<i64>>,
    /// Variants to add or update by SKU (price changes go here).
    pub variants: Option<Vec<VariantInput>>,
}

lsn_db::id!(
    /// A product's id.
    pub ProductId
);
lsn_db::id!(
    /// A variant's id (what carts, stock and order lines point at).
    pub VariantId
);

#[derive(Debug, Clone, Serialize)]
pub struct Variant {
    pub id: VariantId,
    pub sku: String,
    pub title: String,
    pub options: BTreeMap<String, String>,
    pub price: i64,
    pub compare_at_price: Option<i64>,
    pub currency: String,
    pub status: String,
    pub available: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Image {
    pub id: String,
    pub url: String,
    pub alt: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Product {
    pub id: ProductId,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub status: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub min_price: i64,
    pub max_per_order: Option<i64>,
    pub max_per_customer: Option<i64>,
    pub in_stock: bool,
    pub variants: Vec<Variant>,
    pub images: Vec<Image>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Lower-case ASCII words joined by `-`.
pub fn slugify(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').chars().take(80).collect()
}

fn check_status(s: &str) -> Result<(), CatalogError> {
    if matches!(s, "draft" | "active" | "archived") {
        Ok(())
    } else {
        Err(invalid("status", &i18n::t("catalog-status")))
    }
}

fn clean_tags(tags: &[String]) -> Result<Vec<String>, CatalogError> {
    let mut out: Vec<String> = tags.iter().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()).collect();
    if out.len() > 30 || out.iter().any(|t| t.chars().count() > 40 || t.contains(',')) {
        return Err(invalid("tags", &i18n::t("catalog-tags")));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn check_variant(v: &VariantInput, i: usize) -> Result<(), CatalogError> {
    let sku_ok = !v.sku.is_empty() && v.sku.len() <= 64 && v.sku.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !sku_ok {
        return Err(invalid(&format!("variants.{i}.sku"), &i18n::t("catalog-sku")));
    }
    if !(0..=MAX_PRICE).contains(&v.price) {
        return Err(invalid(&format!("variants.{i}.price"), &i18n::t("catalog-price")));
    }
    if let Some(c) = v.compare_at_price {
        if !(0..=MAX_PRICE).contains(&c) {
            return Err(invalid(&format!("variants.{i}.compare_at_price"), &i18n::t("catalog-price")));
        }
    }
    if v.options.len() > 5 || v.options.iter().any(|(k, val)| k.is_empty() || k.len() > 30 || val.is_empty() || val.len() > 60) {
        return Err(invalid(&format!("variants.{i}.options"), &i18n::t("catalog-options")));
    }
    if v.title.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(invalid(&format!("variants.{i}.title"), &i18n::t_args("catalog-too-long", &[("max", "200")])));
    }
    Ok(())
}

fn check_limit(name: &str, v: Option<i64>) -> Result<(), CatalogError> {
    match v {
        Some(n) if !(1..=10_000).contains(&n) => Err(invalid(name, &i18n::t("catalog-limit"))),
        _ => Ok(()),
    }
}

fn variant_title(v: &VariantInput) -> String {
    v.title.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| {
        if v.options.is_empty() {
            "Default".into()
        } else {
            v.options.values().cloned().collect::<Vec<_>>().join(" / ")
        }
    })
}

async fn category_id(tx: &mut Tx, now: i64, name: Option<&str>) -> Result<Option<String>, CatalogError> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else { return Ok(None) };
    if name.chars().count() > 80 {
        return Err(invalid("category", &i18n::t_args("catalog-too-long", &[("max", "80")])));
    }
    let slug = slugify(name);
    if slug.is_empty() {
        return Err(invalid("category", &i18n::t("catalog-needs-letters")));
    }
    lsn_db::query("INSERT INTO categories (id, slug, name, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (slug) DO NOTHING")
        .bind(new_id())
        .bind(&slug)
        .bind(name)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    let r = lsn_db::query("SELECT id FROM categories WHERE slug = $1").bind(&slug).fetch_one(&mut **tx).await?;
    Ok(Some(r.try_get(0)?))
}

async fn upsert_variant(tx: &mut Tx, now: i64, product_id: &str, v: &VariantInput, position: i64) -> Result<(), CatalogError> {
    let existing = lsn_db::query("SELECT id, product_id FROM variants WHERE sku = $1").bind(&v.sku).fetch_optional(&mut **tx).await?;
    let options = serde_json::to_string(&v.options).unwrap_or_else(|_| "{}".into());
    match existing {
        Some(r) => {
            let (id, owner): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            if owner != product_id {
                return Err(CatalogError::Duplicate("sku"));
            }
            lsn_db::query("UPDATE variants SET title = $1, options = $2, price = $3, compare_at_price = $4, status = 'active', updated_at = $5 WHERE id = $6")
                .bind(variant_title(v))
                .bind(&options)
                .bind(v.price)
                .bind(v.compare_at_price)
                .bind(now)
                .bind(&id)
                .execute(&mut **tx)
                .await?;
        }
        None => {
            let id = new_id();
            let r = lsn_db::query("INSERT INTO variants (id, product_id, sku, title, options, price, compare_at_price, position, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)")
                .bind(&id)
                .bind(product_id)
                .bind(&v.sku)
                .bind(variant_title(v))
                .bind(&options)
                .bind(v.price)
                .bind(v.compare_at_price)
                .bind(position)
                .bind(now)
                .execute(&mut **tx)
                .await;
            match r {
                Err(e) if is_unique_violation(&e, Some("sku")) => return Err(CatalogError::Duplicate("sku")),
                other => other?,
            };
            lsn_warehouse::stock::open_level(tx, now, &id).await?;
        }
    }
    Ok(())
}

/// Recomputes what search and listing read: the search text and the lowest price.
async fn refresh_derived(tx: &mut Tx, product_id: &str) -> Result<(), lsn_db::Error> {
    let p = lsn_db::query("SELECT p.title, p.description, p.tags, COALESCE(c.name, '') FROM products p LEFT JOIN categories c ON c.id = p.category_id WHERE p.id = $1")
        .bind(product_id)
        .fetch_one(&mut **tx)
        .await?;
    let vs = lsn_db::query("SELECT sku, title, options, price FROM variants WHERE product_id = $1 AND status = 'active'")
        .bind(product_id)
        .fetch_all(&mut **tx)
        .await?;
    let mut text = format!(
        "{} {} {} {}",
        p.try_get::<String, _>(0)?,
        p.try_get::<String, _>(1)?,
        p.try_get::<String, _>(2)?,
        p.try_get::<String, _>(3)?
    );
    let mut min_price = i64::MAX;
    for v in &vs {
        text.push(' ');
        text.push_str(&v.try_get::<String, _>(0)?);
        text.push(' ');
        text.push_str(&v.try_get::<String, _>(1)?);
        let opts: BTreeMap<String, String> = serde_json::from_str(&v.try_get::<String, _>(2)?).unwrap_or_default();
        for val in opts.values() {
            text.push(' ');
            text.push_str(val);
        }
        min_price = min_price.min(v.try_get::<i64, _>(3)?);
    }
    let text = normalize(&text);
    lsn_db::query("UPDATE products SET search_text = $1, min_price = $2 WHERE id = $3")
        .bind(text)
        .bind(if min_price == i64::MAX { 0 } else { min_price })
        .bind(product_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Lower-case words separated by single spaces, accents and punctuation removed: the form both
/// the stored search text and the query take, so matching is the same on both databases.
pub fn normalize(s: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    let folded: String = s.nfd().filter(|c| !is_combining_mark(*c)).collect();
    let mut out = String::with_capacity(folded.len());
    for w in folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(w.chars().flat_map(char::to_lowercase));
    }
    out
}

#[derive(Clone)]
pub struct Catalog {
    pub db: Db,
    pub clock: lsn_core::SharedClock,
}

const PRODUCT_COLS: &str = "p.id, p.slug, p.title, p.description, p.status, c.name AS category, p.tags, p.min_price, p.max_per_order, p.max_per_customer, p.created_at, p.updated_at";

impl Catalog {
    pub fn new(db: Db, clock: lsn_core::SharedClock) -> Self {
        Self { db, clock }
    }

    pub async fn create(&self, input: &ProductInput) -> Result<Product, CatalogError> {
        let title = input.title.trim().to_string();
        if title.is_empty() || title.chars().count() > 200 {
            return Err(invalid("title", &i18n::t("catalog-title")));
        }
        if input.description.chars().count() > 20_000 {
            return Err(invalid("description", &i18n::t_args("catalog-too-long", &[("max", "20000")])));
        }
        let status = input.status.clone().unwrap_or_else(|| "draft".into());
        check_status(&status)?;
        let tags = clean_tags(&input.tags)?;
        check_limit("max_per_order", input.max_per_order)?;
        check_limit("max_per_customer", input.max_per_customer)?;
        if input.variants.is_empty() || input.variants.len() > 100 {
            return Err(invalid("variants", &i18n::t("catalog-variants")));
        }
        let mut skus = std::collections::HashSet::new();
        for (i, v) in input.variants.iter().enumerate() {
            check_variant(v, i)?;
            if !skus.insert(v.sku.clone()) {
                return Err(invalid(&format!("variants.{i}.sku"), &i18n::t("catalog-skus-differ")));
            }
        }
        let slug = input.slug.as_deref().map(slugify).unwrap_or_else(|| slugify(&title));
        if slug.is_empty() {
            return Err(invalid("slug", &i18n::t("catalog-needs-letters")));
        }
        let now = self.clock.now_ms();
        let id = new_id();
        let (id2, input2) = (id.clone(), input.clone());
        self.db
            .transaction(move |tx| {
                let (id, input, title, slug, status, tags) = (id2.clone(), input2.clone(), title.clone(), slug.clone(), status.clone(), tags.clone());
                Box::pin(async move {
                    let cat = category_id(tx, now, input.category.as_deref()).await?;
                    let r = lsn_db::query(
                        "INSERT INTO products (id, slug, title, description, status, category_id, tags, max_per_order, max_per_customer, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                    )
                    .bind(&id)
                    .bind(&slug)
                    .bind(&title)
                    .bind(&input.description)
                    .bind(&status)
                    .bind(&cat)
                    .bind(tags.join(","))
                    .bind(input.max_per_order)
                    .bind(input.max_per_customer)
                    .bind(now)
                    .execute(&mut **tx)
                    .await;
                    match r {
                        Err(e) if is_unique_violation(&e, Some("slug")) => return Err(CatalogError::Duplicate("slug")),
                        other => other?,
                    };
                    for (i, v) in input.variants.iter().enumerate() {
                        upsert_variant(tx, now, &id, v, i as i64).await?;
                    }
                    refresh_derived(tx, &id).await?;
                    Ok(())
                })
            })
            .await?;
        self.get(&id, true).await?.ok_or(CatalogError::NotFound)
    }

    pub async fn update(&self, id: &str, patch: &ProductPatch) -> Result<Product, CatalogError> {
        if let Some(t) = &patch.title {
            if t.trim().is_empty() || t.chars().count() > 200 {
                return Err(invalid("title", &i18n::t("catalog-title")));
            }
        }
        if let Some(s) = &patch.status {
            check_status(s)?;
        }
        let tags = patch.tags.as_deref().map(clean_tags).transpose()?;
        if let Some(l) = patch.max_per_order {
            check_limit("max_per_order", l)?;
        }
        if let Some(l) = patch.max_per_customer {
            check_limit("max_per_customer", l)?;
        }
        if let Some(vs) = &patch.variants {
            for (i, v) in vs.iter().enumerate() {
                check_variant(v, i)?;
            }
        }
        let now = self.clock.now_ms();
        let (id2, patch2) = (id.to_string(), patch.clone());
        self.db
            .transaction(move |tx| {
                let (id, patch, tags) = (id2.clone(), patch2.clone(), tags.clone());
                Box::pin(async move {
                    let exists = lsn_db::query("SELECT COUNT(*) FROM products WHERE id = $1")
                        .bind(&id)
                        .fetch_one(&mut **tx)
                        .await?
                        .try_get::<i64, _>(0)?;
                    if exists == 0 {
                        return Err(CatalogError::NotFound);
                    }
                    if let Some(t) = &patch.title {
                        lsn_db::query("UPDATE products SET title = $1 WHERE id = $2").bind(t.trim()).bind(&id).execute(&mut **tx).await?;
                    }
                    if let Some(d) = &patch.description {
                        lsn_db::query("UPDATE products SET description = $1 WHERE id = $2").bind(d).bind(&id).execute(&mut **tx).await?;
                    }
                    if let Some(s) = &patch.status {
                        lsn_db::query("UPDATE products SET status = $1 WHERE id = $2").bind(s).bind(&id).execute(&mut **tx).await?;
                    }
                    if let Some(c) = &patch.category {
                        let cat = category_id(tx, now, Some(c)).await?;
                        lsn_db::query("UPDATE products SET category_id = $1 WHERE id = $2").bind(cat).bind(&id).execute(&mut **tx).await?;
                    }
                    if let Some(t) = &tags {
                        lsn_db::query("UPDATE products SET tags = $1 WHERE id = $2").bind(t.join(",")).bind(&id).execute(&mut **tx).await?;
                    }
                    if let Some(l) = patch.max_per_order {
                        lsn_db::query("UPDATE products SET max_per_order = $1 WHERE id = $2").bind(l).bind(&id).execute(&mut **tx).await?;
                    }
                    if let Some(l) = patch.max_per_customer {
                        lsn_db::query("UPDATE products SET max_per_customer = $1 WHERE id = $2")
                            .bind(l)
                            .bind(&id)
                            .execute(&mut **tx)
                            .await?;
                    }
                    if let Some(vs) = &patch.variants {
                        let base: i64 = lsn_db::query("SELECT COUNT(*) FROM variants WHERE product_id = $1")
                            .bind(&id)
                            .fetch_one(&mut **tx)
                            .await?
                            .try_get(0)?;
                        for (i, v) in vs.iter().enumerate() {
                            upsert_variant(tx, now, &id, v, base + i as i64).await?;
                        }
                    }
                    lsn_db::query("UPDATE products SET updated_at = $1 WHERE id = $2").bind(now).bind(&id).execute(&mut **tx).await?;
                    refresh_derived(tx, &id).await?;
                    Ok(())
                })
            })
            .await?;
        self.get(id, true).await?.ok_or(CatalogError::NotFound)
    }

    /// Archives a product that has been ordered or stocked (orders, deals and stock history keep
    /// pointing at it); deletes one that never was. The catalog does not read other domains'
    /// tables to find out: the warehouse says whether stock moved, and the database's references
    /// refuse the delete of a variant another row still points at.
    pub async fn delete(&self, id: &str) -> Result<&'static str, CatalogError> {
        let now = self.clock.now_ms();
        let id2 = id.to_string();
        let deleted = self
            .db
            .transaction(move |tx| {
                let id = id2.clone();
                Box::pin(async move {
                    let exists = lsn_db::query("SELECT COUNT(*) FROM products WHERE id = $1")
                        .bind(&id)
                        .fetch_one(&mut **tx)
                        .await?
                        .try_get::<i64, _>(0)?;
                    if exists == 0 {
                        return Err(CatalogError::NotFound);
                    }
                    let variants: Vec<String> = lsn_db::query("SELECT id FROM variants WHERE product_id = $1")
                        .bind(&id)
                        .fetch_all(&mut **tx)
                        .await?
                        .iter()
                        .map(|r| r.try_get(0))
                        .collect::<Result<_, _>>()?;
                    if lsn_warehouse::stock::moved_any(tx, &variants).await? {
                        return Ok(false);
                    }
                    lsn_db::query("DELETE FROM products WHERE id = $1").bind(&id).execute(&mut **tx).await?;
                    Ok(true)
                })
            })
            .await;
        match deleted {
            Ok(true) => Ok("deleted"),
            Ok(false) => self.archive(id, now).await,
            Err(CatalogError::Db(e)) if lsn_db::is_foreign_key_violation(&e) => self.archive(id, now).await,
            Err(e) => Err(e),
        }
    }

    async fn archive(&self, id: &str, now: i64) -> Result<&'static str, CatalogError> {
        let done = lsn_db::query("UPDATE products SET status = 'archived', updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.db.write())
            .await?;
        if done.rows_affected() == 0 {
            return Err(CatalogError::NotFound);
        }
        Ok("archived")
    }

    /// A product by id or slug; `include_hidden` shows drafts and archived ones (staff).
    pub async fn get(&self, id_or_slug: &str, include_hidden: bool) -> Result<Option<Product>, CatalogError> {
        let row = lsn_db::query(&format!(
            "SELECT {PRODUCT_COLS} FROM products p LEFT JOIN categories c ON c.id = p.category_id WHERE p.id = $1 OR p.slug = $1"
        ))
        .bind(id_or_slug)
        .fetch_optional(self.db.read())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut p = product_from(&row)?;
        if !include_hidden && p.status != "active" {
            return Ok(None);
        }
        self.fill(std::slice::from_mut(&mut p), include_hidden).await?;
        Ok(Some(p))
    }

    async fn fill(&self, products: &mut [Product], include_archived_variants: bool) -> Result<(), CatalogError> {
        for p in products.iter_mut() {
            let vs = lsn_db::query(
                "SELECT v.id, v.sku, v.title, v.options, v.price, v.compare_at_price, v.currency, v.status, COALESCE(s.available, 0) \
                 FROM variants v LEFT JOIN variant_stock s ON s.variant_id = v.id WHERE v.product_id = $1 ORDER BY v.position, v.sku",
            )
            .bind(&p.id)
            .fetch_all(self.db.read())
            .await?;
            p.variants = vs
                .iter()
                .map(|r| {
                    Ok(Variant {
                        id: r.try_parse(0)?,
                        sku: r.try_get(1)?,
                        title: r.try_get(2)?,
                        options: serde_json::from_str(&r.try_get::<String, _>(3)?).unwrap_or_default(),
                        price: r.try_get(4)?,
                        compare_at_price: r.try_get(5)?,
                        currency: r.try_get(6)?,
                        status: r.try_get(7)?,
                        available: r.try_get::<i64, _>(8)?.max(0),
                    })
                })
                .collect::<Result<Vec<_>, lsn_db::Error>>()?
                .into_iter()
                .filter(|v| include_archived_variants || v.status == "active")
                .collect();
            p.in_stock = p.variants.iter().any(|v| v.status == "active" && v.available > 0);
            let imgs = lsn_db::query("SELECT id, storage_key, alt FROM product_images WHERE product_id = $1 ORDER BY position, id")
                .bind(&p.id)
                .fetch_all(self.db.read())
                .await?;
            p.images = imgs
                .iter()
                .map(|r| Ok(Image { id: r.try_get(0)?, url: format!("/media/{}", r.try_get::<String, _>(1)?), alt: r.try_get(2)? }))
                .collect::<Result<_, lsn_db::Error>>()?;
        }
        Ok(())
    }

    /// Search and filters with keyset pagination (newest first, or by price).
    pub async fn search(&self, q: &SearchQuery, include_hidden: bool) -> Result<SearchPage, CatalogError> {
        let limit = q.limit.unwrap_or(24).clamp(1, 100);
        let words: Vec<String> =
            normalize(q.q.as_deref().unwrap_or("")).split(' ').filter(|t| !t.is_empty()).take(8).map(str::to_string).collect();
        let cursor = match q.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| invalid("cursor", &i18n::t("catalog-cursor")))?),
        };
        let mut sql = format!("SELECT {PRODUCT_COLS} FROM products p LEFT JOIN categories c ON c.id = p.category_id WHERE 1 = 1");
        let mut binds: Vec<Bind> = Vec::new();
        let mut n = 0;
        let mut next = |b: Bind, binds: &mut Vec<Bind>| {
            binds.push(b);
            n += 1;
            format!("${n}")
        };
        match (&q.status, include_hidden) {
            (Some(s), true) => {
                check_status(s)?;
                let p = next(Bind::S(s.clone()), &mut binds);
                sql += &format!(" AND p.status = {p}");
            }
            (_, false) => sql += " AND p.status = 'active'",
            (None, true) => {}
        }
        if !words.is_empty() {
            let backend = self.db.backend();
            let p = next(Bind::S(text_query(backend, &words)), &mut binds);
            sql += &format!(" AND {}", text_match(backend, &p));
        }
        if let Some(cat) = q.category.as_deref().filter(|c| !c.is_empty()) {
            let p = next(Bind::S(slugify(cat)), &mut binds);
            sql += &format!(" AND c.slug = {p}");
        }
        if let Some(min) = q.min_price {
            let p = next(Bind::I(min), &mut binds);
            sql += &format!(" AND p.min_price >= {p}");
        }
        if let Some(max) = q.max_price {
            let p = next(Bind::I(max), &mut binds);
            sql += &format!(" AND p.min_price <= {p}");
        }
        if q.in_stock.unwrap_or(false) {
            sql += " AND EXISTS (SELECT 1 FROM variants v JOIN variant_stock s ON s.variant_id = v.id WHERE v.product_id = p.id AND v.status = 'active' AND s.available > 0)";
        }
        if let Some(tag) = q.tag.as_deref().filter(|t| !t.is_empty()) {
            let p = next(Bind::S(format!("%,{},%", tag.trim().to_lowercase())), &mut binds);
            sql += &format!(" AND (',' || p.tags || ',') LIKE {p}");
        }
        if let Some((at, id)) = &cursor {
            let a = next(Bind::I(*at), &mut binds);
            let b = next(Bind::S(id.clone()), &mut binds);
            sql += &format!(" AND (p.created_at < {a} OR (p.created_at = {a} AND p.id < {b}))");
        }
        let l = next(Bind::I(limit + 1), &mut binds);
        sql += &format!(" ORDER BY p.created_at DESC, p.id DESC LIMIT {l}");
        let mut query = lsn_db::query(&sql);
        for b in binds {
            query = match b {
                Bind::S(s) => query.bind(s),
                Bind::I(i) => query.bind(i),
            };
        }
        let rows = query.fetch_all(self.db.read()).await?;
        let mut items: Vec<Product> = rows.iter().take(limit as usize).map(product_from).collect::<Result<_, _>>()?;
        let next_cursor = if rows.len() as i64 > limit { items.last().map(|p| encode_cursor(p.created_at, &p.id)) } else { None };
        self.fill(&mut items, include_hidden).await?;
        Ok(SearchPage { items, next_cursor })
    }

    /// Adds an image stored under `storage_key` (the media store wrote the bytes).
    pub async fn add_image(
        &self,
        product_id: &str,
        storage_key: &str,
        content_type: &str,
        bytes: i64,
        alt: &str,
    ) -> Result<Image, CatalogError> {
        let now = self.clock.now_ms();
        let id = new_id();
        let pos: i64 = lsn_db::query("SELECT COUNT(*) FROM product_images WHERE product_id = $1")
            .bind(product_id)
            .fetch_one(self.db.read())
            .await?
            .try_get(0)?;
        let r = lsn_db::query("INSERT INTO product_images (id, product_id, storage_key, content_type, bytes, alt, position, created_at) SELECT $1, id, $2, $3, $4, $5, $6, $7 FROM products WHERE id = $8")
            .bind(&id)
            .bind(storage_key)
            .bind(content_type)
            .bind(bytes)
            .bind(alt)
            .bind(pos)
            .bind(now)
            .bind(product_id)
            .execute(self.db.write())
            .await?;
        if r.rows_affected() == 0 {
            return Err(CatalogError::NotFound);
        }
        Ok(Image { id, url: format!("/media/{storage_key}"), alt: alt.to_string() })
    }

    /// Removes an image from a product and closes the gap in the order. Returns the storage key,
    /// whose bytes the caller deletes once this has committed.
    pub async fn remove_image(&self, product_id: &str, image_id: &str) -> Result<String, CatalogError> {
        let now = self.clock.now_ms();
        let (product_id, image_id) = (product_id.to_string(), image_id.to_string());
        self.db
            .transaction(move |tx| {
                let (product_id, image_id) = (product_id.clone(), image_id.clone());
                Box::pin(async move {
                    let r = lsn_db::query("SELECT storage_key, position FROM product_images WHERE id = $1 AND product_id = $2")
                        .bind(&image_id)
                        .bind(&product_id)
                        .fetch_optional(&mut **tx)
                        .await?
                        .ok_or(CatalogError::NotFound)?;
                    let (key, position): (String, i64) = (r.try_get(0)?, r.try_get(1)?);
                    lsn_db::query("DELETE FROM product_images WHERE id = $1").bind(&image_id).execute(&mut **tx).await?;
                    lsn_db::query("UPDATE product_images SET position = position - 1 WHERE product_id = $1 AND position > $2")
                        .bind(&product_id)
                        .bind(position)
                        .execute(&mut **tx)
                        .await?;
                    lsn_db::query("UPDATE products SET updated_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(&product_id)
                        .execute(&mut **tx)
                        .await?;
                    Ok(key)
                })
            })
            .await
    }

    /// Puts a product's images in the order given, which must name each of them exactly once.
    pub async fn order_images(&self, product_id: &str, image_ids: &[String]) -> Result<Vec<Image>, CatalogError> {
        if image_ids.len() > 100 {
            return Err(CatalogError::Validation(json!({"image_ids": i18n::t("catalog-images-max")})));
        }
        let now = self.clock.now_ms();
        let (product_id, wanted) = (product_id.to_string(), image_ids.to_vec());
        self.db
            .transaction(move |tx| {
                let (product_id, wanted) = (product_id.clone(), wanted.clone());
                Box::pin(async move {
                    let touched = lsn_db::query("UPDATE products SET updated_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(&product_id)
                        .execute(&mut **tx)
                        .await?;
                    if touched.rows_affected() == 0 {
                        return Err(CatalogError::NotFound);
                    }
                    let rows = lsn_db::query("SELECT id, storage_key, alt FROM product_images WHERE product_id = $1")
                        .bind(&product_id)
                        .fetch_all(&mut **tx)
                        .await?;
                    let mut images = std::collections::HashMap::new();
                    for r in &rows {
                        let (id, key, alt): (String, String, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                        images.insert(id.clone(), Image { id, url: format!("/media/{key}"), alt });
                    }
                    let distinct: std::collections::HashSet<&String> = wanted.iter().collect();
                    if wanted.len() != images.len() || distinct.len() != wanted.len() || !wanted.iter().all(|id| images.contains_key(id)) {
                        return Err(CatalogError::Validation(
                            json!({"image_ids": i18n::t_args("catalog-images-order", &[("count", &images.len().to_string())])}),
                        ));
                    }
                    let mut ordered = Vec::with_capacity(wanted.len());
                    for (position, id) in wanted.iter().enumerate() {
                        lsn_db::query("UPDATE product_images SET position = $1 WHERE id = $2")
                            .bind(position as i64)
                            .bind(id)
                            .execute(&mut **tx)
                            .await?;
                        if let Some(img) = images.remove(id) {
                            ordered.push(img);
                        }
                    }
                    Ok(ordered)
                })
            })
            .await
    }

    pub async fn categories(&self) -> Result<Vec<Value>, CatalogError> {
        let rows = lsn_db::query("SELECT slug, name FROM categories ORDER BY name").fetch_all(self.db.read()).await?;
        Ok(rows
            .iter()
            .map(|r| Ok::<_, lsn_db::Error>(json!({"slug": r.try_get::<String, _>(0)?, "name": r.try_get::<String, _>(1)?})))
            .collect::<Result<_, _>>()?)
    }
}

enum Bind {
    S(String),
    I(i64),
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchQuery {
    pub q: Option<String>,
    pub category: Option<String>,
    pub tag: Option<String>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub in_stock: Option<bool>,
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchPage {
    pub items: Vec<Product>,
    pub next_cursor: Option<String>,
}

fn encode_cursor(at: i64, id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{at}:{id}"))
}

fn decode_cursor(c: &str) -> Option<(i64, String)> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (at, id) = s.split_once(':')?;
    lsn_core::ids::is_valid_id(id).then_some((at.parse().ok()?, id.to_string()))
}

fn product_from(r: &Row) -> Result<Product, lsn_db::Error> {
    let tags: String = r.try_get("tags")?;
    Ok(Product {
        id: r.try_parse("id")?,
        slug: r.try_get("slug")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        status: r.try_get("status")?,
        category: r.try_get("category")?,
        tags: tags.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect(),
        min_price: r.try_get("min_price")?,
        max_per_order: r.try_get("max_per_order")?,
        max_per_customer: r.try_get("max_per_customer")?,
        in_stock: false,
        variants: Vec::new(),
        images: Vec::new(),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// A condition matching products whose search text has every word of the query as a word
/// prefix; `param` is the placeholder (`$3`) bound to [`text_query`]'s value.
fn text_match(backend: lsn_db::Backend, param: &str) -> String {
    match backend {
        lsn_db::Backend::Sqlite => format!("p.rowid IN (SELECT rowid FROM products_fts WHERE products_fts MATCH {param})"),
        lsn_db::Backend::Postgres => format!("to_tsvector('simple', p.search_text) @@ to_tsquery('simple', {param})"),
    }
}

/// The bound value for [`text_match`] from normalised words (letters and digits only).
fn text_query(backend: lsn_db::Backend, words: &[String]) -> String {
    match backend {
        lsn_db::Backend::Sqlite => words.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" AND "),
        lsn_db::Backend::Postgres => words.iter().map(|w| format!("{w}:*")).collect::<Vec<_>>().join(" & "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_search_text() {
        assert_eq!(slugify("Linen Shirt — Summer '26!"), "linen-shirt-summer-26");
        assert_eq!(normalize("  Hello, WORLD!! café-au-lait Crème "), "hello world cafe au lait creme");
        assert_eq!(
            decode_cursor(&encode_cursor(5, "0190a0b0-0000-7000-8000-000000000000")),
            Some((5, "0190a0b0-0000-7000-8000-000000000000".into()))
        );
        assert!(decode_cursor("garbage").is_none());
    }

    #[test]
    fn messages_come_from_the_translation_files() {
        assert_eq!(i18n::t("catalog-options"), "up to 5 options such as {\"size\": \"M\"}");
        assert_eq!(i18n::t_args("catalog-too-long", &[("max", "200")]), "at most 200 characters");
        assert_eq!(i18n::t_args("catalog-duplicate", &[("what", "sku")]), "That sku is already used by another product.");
        assert_eq!(i18n::t_args("catalog-images-order", &[("count", "3")]), "name each of the product's 3 images exactly once");
        assert_eq!(i18n::t("catalog-sku"), "1 to 64 letters, digits, '-', '_' or '.'");
    }
}
