//! The fraud check of an order: what it is scored on (the [`Features`] counted from what earlier
//! checks and payment attempts saw, by customer, e-mail, browser, network, address and card),
//! its score (the active model, else the baseline), the reasons behind the score (stable
//! [`REASONS`] codes), lists that block or allow outright, and the decision through the
//! `fraud_review` policy: approved, held for review, escalated to a person, or declined.
//!
//! Every order placed is checked once by the `order.placed` event (a repeated event finds the
//! check it made); a payment's outcome adds its evidence and the order is scored again.

use crate::features::{self, Features};
use crate::model::{self, Weights};
use crate::{Risk, RiskError};
use lsn_db::RowExt;
use serde::Serialize;
use serde_json::{json, Value};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Every reason a check may give, each a stable code (`docs/operations.md` lists them).
pub const REASONS: &[(&str, &str)] = &[
    ("velocity_customer", "several orders by this customer within the hour"),
    ("velocity_device", "several orders from this browser within the hour"),
    ("velocity_network", "several orders from this network within the hour"),
    ("card_testing", "declined payments before this one"),
    ("many_cards", "several cards tried by this customer or browser"),
    ("country_mismatch", "a customer who always shipped to other countries ships to a new one"),
    ("first_order_high_value", "a first order of high value"),
    ("disposable_email", "a disposable e-mail domain"),
    ("shared_address", "one shipping address for many customers"),
    ("shared_device", "one browser for many customers"),
    ("reshipper", "a freight forwarder's address"),
    ("quantity_anomaly", "many units of one item"),
    ("new_account", "an account made moments ago"),
    ("limited_offer", "a limited-stock offer"),
    ("heavy_discount", "most of the price discounted"),
    ("blocked_email", "the e-mail is on the block list"),
    ("blocked_domain", "the e-mail's domain is on the block list"),
    ("blocked_ip", "the network is on the block list"),
    ("blocked_device", "the browser is on the block list"),
    ("blocked_card", "the card is on the block list"),
    ("blocked_address", "the shipping address is on the block list"),
    ("allowlisted", "on the allow list"),
];

/// The reason an allow-listed order is approved with.
const ALLOWLISTED: &str = "allowlisted";

/// Whether `code` is one of [`REASONS`].
pub fn known_reason(code: &str) -> bool {
    REASONS.iter().any(|(c, _)| *c == code)
}

/// Domains of throwaway mailboxes (a short built-in list; the block list adds more).
const DISPOSABLE: &[&str] = &[
    "mailinator.com",
    "guerrillamail.com",
    "10minutemail.com",
    "tempmail.com",
    "temp-mail.org",
    "yopmail.com",
    "trashmail.com",
    "sharklasers.com",
    "getnada.com",
    "dispostable.com",
    "maildrop.cc",
    "throwawaymail.com",
];

/// Words that mark a freight forwarder's (reshipper's) address.
const RESHIPPER_MARKS: &[&str] =
    &["parcel forwarding", "freight forward", "reship", "shipito", "myus", "forwarding suite", "parcel locker hub"];

/// A check as stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Check {
    pub order_id: String,
    pub number: String,
    pub score: i64,
    pub status: String,
    pub reasons: Vec<Reason>,
    pub features: Value,
    pub model_version: i64,
    pub total: i64,
    pub email: String,
    pub decided_by: Option<String>,
    pub note: Option<String>,
    pub label: Option<String>,
    pub checks: i64,
    pub at: i64,
    pub rescored_at: i64,
    pub decided_at: Option<i64>,
}

/// One reason behind a score: its code, what it means, and how much it weighed (points of the
/// score's logit, or 100 for a list).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Reason {
    pub code: String,
    pub detail: String,
    pub weight: f64,
}

/// What an order looked like to the check: its keys and its features.
#[derive(Clone)]
struct Seen {
    customer_key: String,
    email: String,
    domain: String,
    device: Option<String>,
    network: Option<String>,
    address: String,
    country: String,
    total: i64,
    features: Features,
    lists: Vec<Reason>,
    allowed: bool,
}

fn country_of(addr: &Value) -> String {
    addr["country"].as_str().map(|c| c.trim().to_ascii_uppercase()).filter(|c| c.len() == 2).unwrap_or_else(|| "AU".to_string())
}

/// The address as one normalised line (what "the same address" means), hashed.
pub(crate) fn address_key(addr: &Value) -> String {
    let part = |k: &str| addr[k].as_str().unwrap_or("").split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let line = format!("{}|{}|{}|{}|{}", part("line1"), part("line2"), part("suburb"), part("postcode"), country_of(addr));
    lsn_core::ids::hash_token(&line)
}

fn address_text(addr: &Value) -> String {
    ["name", "line1", "line2", "suburb"].iter().map(|k| addr[*k].as_str().unwrap_or("")).collect::<Vec<_>>().join(" ").to_lowercase()
}

/// An order scored: what it looked like, its score, reasons and the model's version, the
/// policy's facts, and the decision when it needs no policy.
#[derive(Clone)]
struct Assessment {
    seen: Seen,
    score: i64,
    reasons: Vec<Reason>,
    version: i64,
    facts: Value,
    fixed: Option<&'static str>,
}

impl Assessment {
    fn reasons_json(&self) -> String {
        serde_json::to_string(&self.reasons).unwrap_or_else(|_| "[]".into())
    }

    fn features_json(&self) -> String {
        json!(self.seen.features.0).to_string()
    }

    /// The decision: the fixed one, else the `fraud_review` policy's (logged in `tx`).
    async fn status(
        &self,
        policies: &lsn_ops::Policies,
        tx: &mut lsn_db::Tx,
        now: i64,
        order_id: &str,
    ) -> Result<&'static str, lsn_db::Error> {
        match self.fixed {
            Some(s) => Ok(s),
            None => policy_status(policies, tx, now, order_id, &self.facts).await,
        }
    }
}

impl Risk {
    /// The order's features counted now, scored, and decided where no policy is needed.
    async fn assess(&self, o: &lsn_commerce::orders::read::Screening) -> Result<Assessment, RiskError> {
        let seen = self.seen(o).await?;
        let (score, reasons, version) = self.score(&seen).await?;
        let facts = Self::facts(&seen, score);
        let fixed = self.fixed_status(score, &seen).await?;
        Ok(Assessment { seen, score, reasons, version, facts, fixed })
    }

    /// Checks the order `order_id` once (a second call answers with the first check). `None`
    /// for an unknown order.
    pub async fn check_order(&self, order_id: &str) -> Result<Option<Check>, RiskError> {
        if let Some(c) = self.check(order_id).await? {
            return Ok(Some(c));
        }
        let Some(o) = lsn_commerce::orders::read::screening(&self.db, order_id).await? else { return Ok(None) };
        let a = self.assess(&o).await?;
        let now = self.clock.now_ms();
        let (o2, a2, policies) = (o.clone(), a.clone(), self.policies.clone());
        let inserted = self
            .db
            .transaction(move |tx| {
                let (o, a, policies) = (o2.clone(), a2.clone(), policies.clone());
                Box::pin(async move {
                    let status = a.status(&policies, tx, now, &o.order_id).await?;
                    let k = &a.seen;
                    let r = lsn_db::query(
                        "INSERT INTO fraud_checks (order_id, number, customer_key, email, email_domain, device, network, address, country, total, score, model_version, reasons, features, status, at, rescored_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) ON CONFLICT (order_id) DO NOTHING",
                    )
                    .bind(&o.order_id)
                    .bind(&o.number)
                    .bind(&k.customer_key)
                    .bind(&k.email)
                    .bind(&k.domain)
                    .bind(&k.device)
                    .bind(&k.network)
                    .bind(&k.address)
                    .bind(&k.country)
                    .bind(k.total)
                    .bind(a.score)
                    .bind(a.version)
                    .bind(a.reasons_json())
                    .bind(a.features_json())
                    .bind(status)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                    if r.rows_affected() == 0 {
                        return Ok(None);
                    }
                    crate::after_decision(tx, now, &o.order_id, &o.number, status, a.score, &a.reasons).await?;
                    Ok::<_, lsn_db::Error>(Some(status))
                })
            })
            .await?;
        if let Some(status) = inserted {
            if a.score > 80 {
                tracing::warn!(order = %o.number, score = a.score, "fraud check high_risk");
            }
            if status == "declined" {
                self.decline_order(&o.order_id, "declined by the fraud check").await?;
            }
        }
        self.check(order_id).await
    }

    /// Scores the order again with what is known now (a payment's outcome, a list changed); a
    /// held order the new score clears is released, one that now escalates is escalated. Orders
    /// a person decided keep their decision.
    pub async fn rescore(&self, order_id: &str) -> Result<Option<Check>, RiskError> {
        let Some(c) = self.check(order_id).await? else { return self.check_order(order_id).await };
        if c.decided_by.is_some() || c.status == "declined" {
            return Ok(Some(c));
        }
        let Some(o) = lsn_commerce::orders::read::screening(&self.db, order_id).await? else { return Ok(Some(c)) };
        let a = self.assess(&o).await?;
        let now = self.clock.now_ms();
        let (from, id, number, before, a2, policies) =
            (c.status.clone(), o.order_id.clone(), o.number.clone(), c.score, a.clone(), self.policies.clone());
        let changed = self
            .db
            .transaction(move |tx| {
                let (from, id, number, a, policies) = (from.clone(), id.clone(), number.clone(), a2.clone(), policies.clone());
                Box::pin(async move {
                    let status = a.status(&policies, tx, now, &id).await?;
                    let r = lsn_db::query(
                        "UPDATE fraud_checks SET score = $1, reasons = $2, features = $3, model_version = $4, status = $5, checks = checks + 1, rescored_at = $6 \
                         WHERE order_id = $7 AND status = $8 AND decided_by IS NULL",
                    )
                    .bind(a.score)
                    .bind(a.reasons_json())
                    .bind(a.features_json())
                    .bind(a.version)
                    .bind(status)
                    .bind(now)
                    .bind(&id)
                    .bind(&from)
                    .execute(&mut **tx)
                    .await?;
                    if r.rows_affected() == 0 {
                        return Ok(None);
                    }
                    if from == status {
                        // Same decision; a score that now passes 80 still raises the alert.
                        if a.score > 80 && before <= 80 {
                            crate::high_risk_alert(tx, now, &id, &number, status, a.score, &a.reasons).await?;
                        }
                        return Ok(None);
                    }
                    if from != "approved" && status == "approved" {
                        lsn_ops::publish(tx, now, crate::ORDER_RELEASED, Some(&id), &json!({"order_id": id, "number": number, "by": "rescore"})).await?;
                    } else {
                        crate::after_decision(tx, now, &id, &number, status, a.score, &a.reasons).await?;
                    }
                    Ok::<_, lsn_db::Error>(Some(status))
                })
            })
            .await?;
        if changed == Some("declined") {
            self.decline_order(order_id, "declined by the fraud check").await?;
        }
        self.check(order_id).await
    }

    /// The check of an order, as stored.
    pub async fn check(&self, order_id: &str) -> Result<Option<Check>, RiskError> {
        let r = lsn_db::query(&format!("SELECT {CHECK_COLS} FROM fraud_checks WHERE order_id = $1"))
            .bind(order_id)
            .fetch_optional(self.db.read())
            .await?;
        r.map(|r| check_row(&r)).transpose()
    }

    /// The order's keys and features, counted from what earlier checks saw.
    async fn seen(&self, o: &lsn_commerce::orders::read::Screening) -> Result<Seen, RiskError> {
        let now = self.clock.now_ms();
        let email = lsn_core::Email::parse(&o.email).map(|e| e.identity()).unwrap_or_else(|_| o.email.to_lowercase());
        let domain = email.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
        let address = address_key(&o.shipping_address);
        let country = country_of(&o.shipping_address);
        let network = o.network.clone();
        let device = o.device.clone();
        let card = o.card.as_deref().map(lsn_core::ids::hash_token);
        // Each count reads at most its cap's worth of index entries (a busy network or a
        // shared address must not make every check slower than the last): counts saturate at
        // 50, distinct customers are counted among the latest 200 orders.
        let r = lsn_db::query(
            "SELECT \
             (SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 AS n FROM fraud_checks WHERE customer_key = $1 AND at > $6 AND order_id <> $8 LIMIT 50) x), \
             (SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 AS n FROM fraud_checks WHERE device = $2 AND at > $6 AND order_id <> $8 LIMIT 50) x), \
             (SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 AS n FROM fraud_checks WHERE network = $3 AND at > $6 AND order_id <> $8 LIMIT 50) x), \
             (SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 AS n FROM risk_payment_attempts WHERE customer_key = $1 AND outcome = 'declined' AND at > $7 \
                UNION ALL SELECT 1 AS n FROM risk_payment_attempts WHERE device = $2 AND customer_key <> $1 AND outcome = 'declined' AND at > $7 LIMIT 50) x), \
             (SELECT CAST(COUNT(DISTINCT card) AS BIGINT) FROM (SELECT card FROM risk_payment_attempts WHERE customer_key = $1 AND card IS NOT NULL AND at > $7 \
                UNION ALL SELECT card FROM risk_payment_attempts WHERE device = $2 AND customer_key <> $1 AND card IS NOT NULL AND at > $7 LIMIT 200) x), \
             (SELECT CAST(COUNT(DISTINCT customer_key) AS BIGINT) FROM (SELECT customer_key FROM fraud_checks WHERE address = $4 AND at > $9 ORDER BY at DESC LIMIT 200) x WHERE customer_key <> $1), \
             (SELECT CAST(COUNT(DISTINCT customer_key) AS BIGINT) FROM (SELECT customer_key FROM fraud_checks WHERE device = $2 AND at > $9 ORDER BY at DESC LIMIT 200) x WHERE customer_key <> $1), \
             (SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 AS n FROM fraud_checks WHERE email = $5 AND at > $6 AND order_id <> $8 LIMIT 50) x), \
             (SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 AS n FROM fraud_checks WHERE customer_key = $1 AND order_id <> $8 AND country = $10 LIMIT 1) x), \
             (SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 AS n FROM fraud_checks WHERE customer_key = $1 AND order_id <> $8 AND country <> $10 LIMIT 1) x)",
        )
        .bind(&o.customer_key)
        .bind(&device)
        .bind(&network)
        .bind(&address)
        .bind(&email)
        .bind(now - HOUR_MS)
        .bind(now - DAY_MS)
        .bind(&o.order_id)
        .bind(now - 30 * DAY_MS)
        .bind(&country)
        .fetch_one(self.db.read())
        .await?;
        let n = |i: usize| -> Result<f64, RiskError> { Ok(r.try_get::<i64, _>(i)? as f64) };
        let mut cards = n(4)?;
        if card.is_some() {
            let known: i64 = lsn_db::query("SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 AS n FROM risk_payment_attempts WHERE customer_key = $1 AND card = $3 AND at > $4 \
                 UNION ALL SELECT 1 AS n FROM risk_payment_attempts WHERE device = $2 AND card = $3 AND at > $4 LIMIT 1) x")
                .bind(&o.customer_key)
                .bind(&device)
                .bind(&card)
                .bind(now - DAY_MS)
                .fetch_one(self.db.read())
                .await?
                .try_get(0)?;
            if known == 0 {
                cards += 1.0;
            }
        }
        let first_order = lsn_commerce::orders::read::earlier_orders(&self.db, &o.customer_key, o.placed_at).await? == 0;
        let account_age_days = match &o.user_id {
            Some(u) => match self.identity.user_by_id(u).await {
                Ok(Some(u)) => ((now - u.created_at).max(0) as f64) / DAY_MS as f64,
                _ => 0.0,
            },
            None => 0.0,
        };
        // A customer who has only ever shipped to other countries now shipping here (LSN keeps
        // no map of networks to countries: the account's own history is the comparison).
        let mismatch = n(8)? == 0.0 && n(9)? > 0.0;
        let text = address_text(&o.shipping_address);
        let mut f = [0.0; features::N];
        f[features::ORDERS_CUSTOMER_1H] = n(0)?.max(n(7)?);
        f[features::ORDERS_DEVICE_1H] = if device.is_some() { n(1)? } else { 0.0 };
        f[features::ORDERS_NETWORK_1H] = if network.is_some() { n(2)? } else { 0.0 };
        f[features::DECLINES_24H] = n(3)?;
        f[features::CARDS_24H] = cards;
        f[features::COUNTRY_MISMATCH] = f64::from(u8::from(mismatch));
        f[features::FIRST_ORDER] = f64::from(u8::from(first_order));
        f[features::ORDER_TOTAL_DOLLARS] = o.total as f64 / 100.0;
        f[features::DISPOSABLE_EMAIL] = f64::from(u8::from(DISPOSABLE.contains(&domain.as_str())));
        f[features::ACCOUNTS_PER_ADDRESS_30D] = n(5)?;
        f[features::ACCOUNTS_PER_DEVICE_30D] = if device.is_some() { n(6)? } else { 0.0 };
        f[features::RESHIPPER_ADDRESS] = f64::from(u8::from(RESHIPPER_MARKS.iter().any(|m| text.contains(m))));
        f[features::QUANTITY] = o.max_quantity as f64;
        f[features::ACCOUNT_AGE_DAYS] = account_age_days;
        f[features::LIMITED_OFFER] = f64::from(u8::from(o.offer_id.is_some()));
        f[features::DISCOUNT_SHARE] = if o.subtotal > 0 { (o.discount_total as f64 / o.subtotal as f64).clamp(0.0, 1.0) } else { 0.0 };
        let (lists, allowed) = self.listed(&email, &domain, network.as_deref(), device.as_deref(), card.as_deref(), &address).await?;
        Ok(Seen {
            customer_key: o.customer_key.clone(),
            email,
            domain,
            device,
            network,
            address,
            country,
            total: o.total,
            features: Features(f),
            lists,
            allowed,
        })
    }

    /// The active model (cached for 30 s), else the baseline.
    pub async fn weights(&self) -> Result<Weights, RiskError> {
        let now = self.clock.now_ms();
        if let Some((at, w)) = self.model.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if (0..30_000).contains(&(now - at)) {
                return Ok(w.clone());
            }
        }
        let stored = lsn_db::query("SELECT weights FROM risk_models WHERE active = 1 ORDER BY version DESC LIMIT 1")
            .fetch_optional(self.db.read())
            .await?;
        let w = match stored.map(|r| r.try_get::<String, _>(0)).transpose()? {
            Some(text) => match serde_json::from_str::<Weights>(&text)
                .map_err(|e| e.to_string())
                .and_then(|w| w.check().map(|_| w).map_err(|e| e.to_string()))
            {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!("the active risk model cannot score ({e}); the baseline scores instead");
                    Weights::baseline()
                }
            },
            None => Weights::baseline(),
        };
        *self.model.lock().unwrap_or_else(|e| e.into_inner()) = Some((now, w.clone()));
        Ok(w)
    }

    /// The score, its reasons and the model's version. A block list entry makes it 100, an
    /// allow list entry 0.
    async fn score(&self, seen: &Seen) -> Result<(i64, Vec<Reason>, i64), RiskError> {
        let w = self.weights().await?;
        if !seen.lists.is_empty() {
            return Ok((100, seen.lists.clone(), w.version));
        }
        if seen.allowed {
            return Ok((0, vec![Reason { code: ALLOWLISTED.into(), detail: reason_text(ALLOWLISTED), weight: -100.0 }], w.version));
        }
        let score = model::score(&w, &seen.features).map_err(|e| RiskError::Model(e.to_string()))?;
        let parts = model::contributions(&w, &seen.features).map_err(|e| RiskError::Model(e.to_string()))?;
        let mut reasons: Vec<Reason> = parts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0.25)
            .filter_map(|(i, c)| {
                reason_for(i, &seen.features).map(|code| Reason {
                    code: code.to_string(),
                    detail: reason_text(code),
                    weight: (c * 100.0).round() / 100.0,
                })
            })
            .collect();
        reasons.sort_by(|a, b| b.weight.partial_cmp(&a.weight).unwrap_or(std::cmp::Ordering::Equal));
        Ok((i64::from(score), reasons, w.version))
    }

    /// The `fraud_review` policy's facts.
    fn facts(seen: &Seen, score: i64) -> Value {
        json!({
            "risk_score": score as f64,
            "order_total": (seen.total as f64 / 100.0).clamp(0.0, 1_000_000.0),
            "first_order": seen.features.0[features::FIRST_ORDER] > 0.0,
            "account_age_days": seen.features.0[features::ACCOUNT_AGE_DAYS].clamp(0.0, 36_500.0),
        })
    }

    /// approved, review, escalated or declined without the policy: a block list declines, an
    /// allow list approves, the decline threshold declines. `None`: the `fraud_review` policy
    /// decides ([`policy_status`], inside the check's own transaction).
    async fn fixed_status(&self, score: i64, seen: &Seen) -> Result<Option<&'static str>, RiskError> {
        if !seen.lists.is_empty() {
            return Ok(Some("declined"));
        }
        if seen.allowed {
            return Ok(Some("approved"));
        }
        let settings = self.settings().await?;
        if settings.decline_at > 0 && score >= settings.decline_at {
            return Ok(Some("declined"));
        }
        Ok(None)
    }

    /// Cancels an unpaid order, refunds a paid one.
    pub(crate) async fn decline_order(&self, order_id: &str, why: &str) -> Result<(), RiskError> {
        let Some(o) = lsn_commerce::orders::read::screening(&self.db, order_id).await? else { return Ok(()) };
        if o.paid_at.is_some() {
            match self.commerce.refund("risk", order_id, None, why, true).await {
                Ok(_) => {}
                Err(e) => tracing::warn!(order = %o.number, "the declined order's refund: {e}"),
            }
        } else if o.status == "pending_payment" {
            if let Err(e) = self.commerce.cancel_unpaid_order(order_id, why, "risk").await {
                tracing::warn!(order = %o.number, "the declined order's cancellation: {e}");
            }
        }
        Ok(())
    }

    /// Records a payment's outcome for the order's buyer (card testing is counted from these),
    /// then scores the order again.
    pub async fn payment_seen(&self, order_id: &str, outcome: &str, at: i64) -> Result<(), RiskError> {
        let Some(o) = lsn_commerce::orders::read::screening(&self.db, order_id).await? else { return Ok(()) };
        let card = o.card.as_deref().map(lsn_core::ids::hash_token);
        lsn_db::query(
            "INSERT INTO risk_payment_attempts (id, order_id, customer_key, device, card, outcome, at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (order_id, outcome, at) DO NOTHING",
        )
        .bind(lsn_core::ids::new_id())
        .bind(order_id)
        .bind(&o.customer_key)
        .bind(&o.device)
        .bind(&card)
        .bind(outcome)
        .bind(at)
        .execute(self.db.write())
        .await?;
        // A decline counts for the buyer's next orders (a declined order is cancelled). A success
        // changes this order's score only when it is held, or when the buyer has tried other
        // cards or been declined in the last day (card testing).
        if outcome == "succeeded" && self.payment_matters(order_id, &o.customer_key, o.device.as_deref(), card.as_deref()).await? {
            self.rescore(order_id).await?;
        }
        Ok(())
    }
}

/// The `fraud_review` policy's decision, logged in `tx`: its condition holds — review; over its
/// escalation threshold — escalated (a task for a person); else approved.
async fn policy_status(
    policies: &lsn_ops::Policies,
    tx: &mut lsn_db::Tx,
    now: i64,
    order_id: &str,
    facts: &Value,
) -> Result<&'static str, lsn_db::Error> {
    let d = policies
        .decide_in(tx, now, "fraud_review", facts, Some(order_id), lsn_ops::policy::OnEscalate::OpenTask)
        .await
        .map_err(|e| lsn_db::Error::decode(format!("fraud policy: {e}")))?;
    Ok(match d.outcome {
        lsn_ops::policy::Outcome::Allow => "review",
        lsn_ops::policy::Outcome::Escalate => "escalated",
        lsn_ops::policy::Outcome::Deny => "approved",
    })
}

impl Risk {
    async fn payment_matters(&self, order_id: &str, customer: &str, device: Option<&str>, card: Option<&str>) -> Result<bool, RiskError> {
        let r = lsn_db::query(
            "SELECT (SELECT CAST(COUNT(*) AS BIGINT) FROM fraud_checks WHERE order_id = $1 AND status IN ('review', 'escalated')), \
             (SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 AS n FROM risk_payment_attempts WHERE customer_key = $2 AND at > $4 AND (outcome = 'declined' OR card <> $5) \
                UNION ALL SELECT 1 AS n FROM risk_payment_attempts WHERE device = $3 AND at > $4 AND (outcome = 'declined' OR card <> $5) LIMIT 1) x)",
        )
        .bind(order_id)
        .bind(customer)
        .bind(device)
        .bind(self.clock.now_ms() - DAY_MS)
        .bind(card.unwrap_or(""))
        .fetch_one(self.db.read())
        .await?;
        Ok(r.try_get::<i64, _>(0)? > 0 || r.try_get::<i64, _>(1)? > 0)
    }
}

/// The reason code a feature's contribution stands for (a feature at its ordinary value gives
/// none).
fn reason_for(i: usize, f: &Features) -> Option<&'static str> {
    let v = f.0[i];
    Some(match i {
        features::ORDERS_CUSTOMER_1H if v >= 2.0 => "velocity_customer",
        features::ORDERS_DEVICE_1H if v >= 2.0 => "velocity_device",
        features::ORDERS_NETWORK_1H if v >= 5.0 => "velocity_network",
        features::DECLINES_24H if v >= 1.0 => "card_testing",
        features::CARDS_24H if v >= 2.0 => "many_cards",
        features::COUNTRY_MISMATCH if v > 0.0 => "country_mismatch",
        features::FIRST_ORDER | features::ORDER_TOTAL_DOLLARS
            if f.0[features::FIRST_ORDER] > 0.0 && f.0[features::ORDER_TOTAL_DOLLARS] >= 500.0 =>
        {
            "first_order_high_value"
        }
        features::DISPOSABLE_EMAIL if v > 0.0 => "disposable_email",
        features::ACCOUNTS_PER_ADDRESS_30D if v >= 2.0 => "shared_address",
        features::ACCOUNTS_PER_DEVICE_30D if v >= 2.0 => "shared_device",
        features::RESHIPPER_ADDRESS if v > 0.0 => "reshipper",
        features::QUANTITY if v >= 5.0 => "quantity_anomaly",
        features::ACCOUNT_AGE_DAYS if f.0[features::ACCOUNT_AGE_DAYS] < 1.0 => "new_account",
        features::LIMITED_OFFER if v > 0.0 => "limited_offer",
        features::DISCOUNT_SHARE if v >= 0.5 => "heavy_discount",
        _ => return None,
    })
}

fn reason_text(code: &str) -> String {
    REASONS.iter().find(|(c, _)| *c == code).map(|(_, t)| t.to_string()).unwrap_or_default()
}

pub(crate) const CHECK_COLS: &str = "order_id, number, score, status, reasons, features, model_version, total, email, decided_by, note, label, checks, at, rescored_at, decided_at";

pub(crate) fn check_row(r: &lsn_db::Row) -> Result<Check, RiskError> {
    let reasons: String = r.try_get(4)?;
    let features: String = r.try_get(5)?;
    Ok(Check {
        order_id: r.try_get(0)?,
        number: r.try_get(1)?,
        score: r.try_get(2)?,
        status: r.try_get(3)?,
        reasons: serde_json::from_str(&reasons).unwrap_or_default(),
        features: serde_json::from_str::<Vec<f64>>(&features)
            .map(|v| Value::Object(features::FEATURES.iter().zip(v).map(|(k, v)| (k.to_string(), json!(v))).collect()))
            .unwrap_or(Value::Null),
        model_version: r.try_get(6)?,
        total: r.try_get(7)?,
        email: r.try_get(8)?,
        decided_by: r.try_get(9)?,
        note: r.try_get(10)?,
        label: r.try_get(11)?,
        checks: r.try_get(12)?,
        at: r.try_get(13)?,
        rescored_at: r.try_get(14)?,
        decided_at: r.try_get(15)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_the_same_whatever_their_spacing_and_case() {
        let a = json!({"line1": "1  Test St", "suburb": "Sydney", "postcode": "2000"});
        let b = json!({"line1": "1 test st", "suburb": "SYDNEY ", "postcode": "2000", "country": "au"});
        assert_eq!(address_key(&a), address_key(&b));
        assert_ne!(address_key(&a), address_key(&json!({"line1": "2 Test St", "suburb": "Sydney", "postcode": "2000"})));
    }

    #[test]
    fn every_reason_a_feature_gives_is_known() {
        let mut f = Features([9.0; features::N]);
        f.0[features::ACCOUNT_AGE_DAYS] = 0.0;
        f.0[features::ORDER_TOTAL_DOLLARS] = 900.0;
        for i in 0..features::N {
            if let Some(code) = reason_for(i, &f) {
                assert!(known_reason(code), "{code}");
            }
        }
        assert_eq!(reason_for(features::DISPOSABLE_EMAIL, &Features([0.0; features::N])), None);
    }
}
