//! Discount codes: percentage or fixed, minimum spend, a start and end, a total usage limit and a
//! per-customer limit. Both limits are counters changed by one conditional statement inside the
//! checkout transaction, so concurrent checkouts cannot use a code more often than allowed; a
//! cancelled order gives its use back.

use crate::pricing::Discount;
use crate::Code;
use crate::CommerceError;
use lsn_core::i18n;
use lsn_db::{RowExt, Tx};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscountInput {
    pub code: String,
    pub kind: String,
    pub value: i64,
    #[serde(default)]
    pub min_subtotal: i64,
    #[serde(default)]
    pub starts_at: Option<i64>,
    #[serde(default)]
    pub ends_at: Option<i64>,
    #[serde(default)]
    pub usage_limit: Option<i64>,
    #[serde(default)]
    pub per_customer_limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiscountCode {
    pub id: String,
    pub code: String,
    pub kind: String,
    pub value: i64,
    pub min_subtotal: i64,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub usage_limit: Option<i64>,
    pub per_customer_limit: Option<i64>,
    pub used_count: i64,
    pub active: bool,
}

pub fn normalize_code(code: &str) -> String {
    code.trim().to_uppercase()
}

pub async fn create(db: &lsn_db::Db, now: i64, d: &DiscountInput) -> Result<DiscountCode, CommerceError> {
    let code = normalize_code(&d.code);
    let mut errors = serde_json::Map::new();
    if code.is_empty() || code.len() > 40 || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        errors.insert("code".into(), json!(i18n::t("commerce-discount-code")));
    }
    match d.kind.as_str() {
        "percent" if !(1..=100).contains(&d.value) => {
            errors.insert("value".into(), json!(i18n::t("commerce-discount-percent")));
        }
        "fixed" if !(1..=lsn_core::money::MAX_AMOUNT).contains(&d.value) => {
            errors.insert(
                "value".into(),
                json!(i18n::t_args("commerce-discount-fixed", &[("max", &lsn_core::money::MAX_AMOUNT.to_string())])),
            );
        }
        "percent" | "fixed" => {}
        _ => {
            errors.insert("kind".into(), json!(i18n::t("commerce-discount-kind")));
        }
    }
    if let Err(m) = lsn_core::money::bounded(d.min_subtotal, 0, lsn_core::money::Currency::Aud) {
        errors.insert("min_subtotal".into(), json!(m));
    }
    if let (Some(s), Some(e)) = (d.starts_at, d.ends_at) {
        if e <= s {
            errors.insert("ends_at".into(), json!(i18n::t("commerce-after-start")));
        }
    }
    for (f, v) in [("usage_limit", d.usage_limit), ("per_customer_limit", d.per_customer_limit)] {
        if v.is_some_and(|n| n < 1) {
            errors.insert(f.into(), json!(i18n::t("commerce-discount-limit")));
        }
    }
    if !errors.is_empty() {
        return Err(CommerceError::Validation(serde_json::Value::Object(errors)));
    }
    let id = lsn_core::ids::new_id();
    let r = lsn_db::query("INSERT INTO discount_codes (id, code, kind, value, min_subtotal, starts_at, ends_at, usage_limit, per_customer_limit, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(&id)
        .bind(&code)
        .bind(&d.kind)
        .bind(d.value)
        .bind(d.min_subtotal)
        .bind(d.starts_at)
        .bind(d.ends_at)
        .bind(d.usage_limit)
        .bind(d.per_customer_limit)
        .bind(now)
        .execute(db.write())
        .await;
    match r {
        Err(e) if lsn_db::is_unique_violation(&e, Some("code")) => {
            return Err(CommerceError::rule(Code::DuplicateCode, i18n::t("commerce-discount-duplicate")))
        }
        other => other?,
    };
    Ok(DiscountCode {
        id,
        code,
        kind: d.kind.clone(),
        value: d.value,
        min_subtotal: d.min_subtotal,
        starts_at: d.starts_at,
        ends_at: d.ends_at,
        usage_limit: d.usage_limit,
        per_customer_limit: d.per_customer_limit,
        used_count: 0,
        active: true,
    })
}

pub async fn list(db: &lsn_db::Db) -> Result<Vec<DiscountCode>, CommerceError> {
    let rows = lsn_db::query("SELECT id, code, kind, value, min_subtotal, starts_at, ends_at, usage_limit, per_customer_limit, used_count, active FROM discount_codes ORDER BY created_at DESC").fetch_all(db.read()).await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok(DiscountCode {
                id: r.try_get(0)?,
                code: r.try_get(1)?,
                kind: r.try_get(2)?,
                value: r.try_get(3)?,
                min_subtotal: r.try_get(4)?,
                starts_at: r.try_get(5)?,
                ends_at: r.try_get(6)?,
                usage_limit: r.try_get(7)?,
                per_customer_limit: r.try_get(8)?,
                used_count: r.try_get(9)?,
                active: r.try_get::<i64, _>(10)? == 1,
            })
        })
        .collect::<Result<_, lsn_db::Error>>()?)
}

fn unusable() -> CommerceError {
    CommerceError::rule(Code::DiscountInvalid, i18n::t("commerce-discount-invalid"))
}

/// Checks a code for a basket and takes one use of it (in total, and per customer under every
/// identity in `customer_keys`) inside `tx`.
pub async fn redeem(
    tx: &mut Tx,
    now: i64,
    code: &str,
    subtotal: i64,
    customer_keys: &[String],
) -> Result<(String, Discount), CommerceError> {
    let code = normalize_code(code);
    let row = lsn_db::query(
        "SELECT id, kind, value, min_subtotal, starts_at, ends_at, per_customer_limit, active FROM discount_codes WHERE code = $1",
    )
    .bind(&code)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(r) = row else { return Err(unusable()) };
    let (id, kind, value, min_subtotal): (String, String, i64, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
    let (starts, ends, per_customer, active): (Option<i64>, Option<i64>, Option<i64>, i64) =
        (r.try_get(4)?, r.try_get(5)?, r.try_get(6)?, r.try_get(7)?);
    if active != 1 {
        return Err(unusable());
    }
    if starts.is_some_and(|s| now < s) {
        return Err(CommerceError::rule(Code::DiscountNotStarted, i18n::t("commerce-discount-not-started")));
    }
    if ends.is_some_and(|e| now >= e) {
        return Err(CommerceError::rule(Code::DiscountExpired, i18n::t("commerce-discount-expired")));
    }
    if subtotal < min_subtotal {
        return Err(CommerceError::rule(
            Code::DiscountMinimumNotMet,
            i18n::t_args("commerce-discount-minimum", &[("amount", &lsn_core::money::Money::aud(min_subtotal).to_string())]),
        ));
    }
    let taken = lsn_db::query(
        "UPDATE discount_codes SET used_count = used_count + 1 WHERE id = $1 AND (usage_limit IS NULL OR used_count < usage_limit)",
    )
    .bind(&id)
    .execute(&mut **tx)
    .await?;
    if taken.rows_affected() == 0 {
        return Err(CommerceError::rule(Code::DiscountExhausted, i18n::t("commerce-discount-used-up")));
    }
    if let Some(limit) = per_customer {
        for key in customer_keys {
            let r = lsn_db::query(
                "INSERT INTO discount_customer_uses (code_id, customer_key, uses) VALUES ($1, $2, 1) \
                 ON CONFLICT (code_id, customer_key) DO UPDATE SET uses = discount_customer_uses.uses + 1 WHERE discount_customer_uses.uses < $3",
            )
            .bind(&id)
            .bind(key)
            .bind(limit)
            .execute(&mut **tx)
            .await?;
            if r.rows_affected() == 0 {
                return Err(CommerceError::rule(Code::DiscountCustomerLimit, i18n::t("commerce-discount-customer-used")));
            }
        }
    }
    let d = if kind == "percent" { Discount::Percent(value) } else { Discount::Fixed(value) };
    Ok((id, d))
}

/// Gives back the use an order took (order cancelled before payment), under every identity it
/// was taken under.
pub async fn release(tx: &mut Tx, code_id: &str, customer_keys: &[String]) -> Result<(), lsn_db::Error> {
    lsn_db::query("UPDATE discount_codes SET used_count = used_count - 1 WHERE id = $1 AND used_count > 0")
        .bind(code_id)
        .execute(&mut **tx)
        .await?;
    for key in customer_keys {
        lsn_db::query("UPDATE discount_customer_uses SET uses = uses - 1 WHERE code_id = $1 AND customer_key = $2 AND uses > 0")
            .bind(code_id)
            .bind(key)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
