//! Creators: applications an admin decides, profiles, tiers and rates, overrides per product
//! and category, collaborations, referral links and the discount codes creators share.

use crate::{Code, Creators, CreatorsError, MAX_RATE_BPS, TIERS};
use lsn_core::i18n;
use lsn_db::RowExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Creator {
    pub id: String,
    pub user_id: String,
    pub handle: String,
    pub display_name: String,
    pub bio: String,
    pub status: String,
    pub tier: String,
    /// The creator's own rate, when staff gave one (else the tier's).
    pub rate_bps: Option<i64>,
    pub payout_currency: String,
    pub abn: Option<String>,
    pub gst_registered: bool,
    pub application: String,
    pub decision_note: String,
    pub applied_at: i64,
    pub decided_at: Option<i64>,
}

const COLS: &str = "id, user_id, handle, display_name, bio, status, tier, rate_bps, payout_currency, abn, gst_registered, application, decision_note, applied_at, decided_at";

/// How many columns `COLS` reads (the first of any columns read after them).
pub(crate) const NCOLS: usize = 15;

/// `COLS` of the table aliased `alias`, for a join.
pub(crate) fn cols(alias: &str) -> String {
    COLS.split(", ").map(|c| format!("{alias}.{c}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn creator_row(r: &lsn_db::Row) -> Result<Creator, lsn_db::Error> {
    Ok(Creator {
        id: r.try_get(0)?,
        user_id: r.try_get(1)?,
        handle: r.try_get(2)?,
        display_name: r.try_get(3)?,
        bio: r.try_get(4)?,
        status: r.try_get(5)?,
        tier: r.try_get(6)?,
        rate_bps: r.try_get(7)?,
        payout_currency: r.try_get(8)?,
        abn: r.try_get(9)?,
        gst_registered: r.try_get::<i64, _>(10)? != 0,
        application: r.try_get(11)?,
        decision_note: r.try_get(12)?,
        applied_at: r.try_get(13)?,
        decided_at: r.try_get(14)?,
    })
}

/// An application to become a creator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub handle: String,
    pub display_name: String,
    #[serde(default)]
    pub bio: String,
    /// Why they apply: their audience, their channels.
    #[serde(default)]
    pub application: String,
    #[serde(default)]
    pub abn: Option<String>,
    #[serde(default)]
    pub gst_registered: bool,
}

/// What a creator may change of their own profile.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub payout_currency: Option<String>,
    pub abn: Option<String>,
    pub gst_registered: Option<bool>,
}

/// The currencies a payout may be received in (Wise's common targets: 50+).
pub const PAYOUT_CURRENCIES: &[&str] = &[
    "AED", "ARS", "AUD", "BDT", "BGN", "BRL", "BWP", "CAD", "CHF", "CLP", "CNY", "COP", "CRC", "CZK", "DKK", "EGP", "EUR", "GBP", "GEL",
    "GHS", "HKD", "HUF", "IDR", "ILS", "INR", "JPY", "KES", "KRW", "LKR", "MAD", "MXN", "MYR", "NGN", "NOK", "NPR", "NZD", "PEN", "PHP",
    "PKR", "PLN", "RON", "SEK", "SGD", "THB", "TRY", "TZS", "UAH", "UGX", "USD", "UYU", "VND", "XOF", "ZAR", "ZMW",
];

/// The latest time anything may be scheduled for: the end of year 9999.
const MAX_TIME_MS: i64 = 253_402_300_799_999;

/// Whether `e` is the unique index `index` refusing a row (PostgreSQL names the index, SQLite
/// the column).
fn unique(e: &lsn_db::Error, index: &str, column: &str) -> bool {
    e.is_unique_violation(Some(index)) || e.is_unique_violation(Some(column))
}

fn valid_handle(h: &str) -> bool {
    (3..=30).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// An Australian Business Number: 11 digits whose weighted sum (first digit less one) is a
/// multiple of 89.
pub fn valid_abn(abn: &str) -> Option<String> {
    let digits: Vec<u32> = abn.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_digit(10)).collect::<Option<_>>()?;
    if digits.len() != 11 {
        return None;
    }
    const W: [u32; 11] = [10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19];
    let sum: u32 =
        digits.iter().enumerate().map(|(i, d)| (if i == 0 { d.checked_sub(1)? } else { *d }).checked_mul(W[i])).sum::<Option<u32>>()?;
    (sum % 89 == 0).then(|| digits.iter().map(|d| char::from_digit(*d, 10).unwrap_or('0')).collect())
}

fn text(field: &str, v: &str, max: usize, errors: &mut serde_json::Map<String, Value>) -> String {
    let v = v.trim();
    if v.chars().count() > max {
        errors.insert(field.into(), json!(i18n::t_args("creators-too-long", &[("max", &max.to_string())])));
    }
    v.to_string()
}

/// A rate in basis points within 0–80 %.
pub fn check_rate(field: &str, rate_bps: i64) -> Result<i64, CreatorsError> {
    if (0..=MAX_RATE_BPS).contains(&rate_bps) {
        Ok(rate_bps)
    } else {
        Err(CreatorsError::field(field, i18n::t("creators-rate")))
    }
}

impl Creators {
    pub async fn get(&self, id: &str) -> Result<Creator, CreatorsError> {
        if !lsn_core::ids::is_valid_id(id) {
            return Err(CreatorsError::NotFound);
        }
        let r = lsn_db::query(&format!("SELECT {COLS} FROM creators WHERE id = $1")).bind(id).fetch_optional(self.db.read()).await?;
        r.map(|r| creator_row(&r)).transpose()?.ok_or(CreatorsError::NotFound)
    }

    pub async fn by_user(&self, user_id: &str) -> Result<Option<Creator>, CreatorsError> {
        let r =
            lsn_db::query(&format!("SELECT {COLS} FROM creators WHERE user_id = $1")).bind(user_id).fetch_optional(self.db.read()).await?;
        Ok(r.map(|r| creator_row(&r)).transpose()?)
    }

    /// The approved creator profile of `user_id`, or the refusal a portal answers with.
    pub async fn approved_for(&self, user_id: &str) -> Result<Creator, CreatorsError> {
        match self.by_user(user_id).await? {
            Some(c) if c.status == "approved" => Ok(c),
            Some(_) => Err(CreatorsError::rule(Code::CreatorNotApproved, i18n::t("creators-not-approved"))),
            None => Err(CreatorsError::rule(Code::NotACreator, i18n::t("creators-not-a-creator"))),
        }
    }

    pub async fn list(&self, status: Option<&str>, tier: Option<&str>, limit: i64) -> Result<Vec<Creator>, CreatorsError> {
        let limit = limit.clamp(1, 500);
        let rows = lsn_db::query(&format!(
            "SELECT {COLS} FROM creators WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR tier = $2) ORDER BY applied_at DESC LIMIT {limit}"
        ))
        .bind(status)
        .bind(tier)
        .fetch_all(self.db.read())
        .await?;
        Ok(rows.iter().map(creator_row).collect::<Result<_, _>>()?)
    }

    /// A user applies to become a creator (one application per user).
    pub async fn apply(&self, user: &lsn_identity::User, a: &Application) -> Result<Creator, CreatorsError> {
        let mut errors = serde_json::Map::new();
        let handle = a.handle.trim().to_lowercase();
        if !valid_handle(&handle) {
            errors.insert("handle".into(), json!(i18n::t("creators-handle")));
        }
        let name = text("display_name", &a.display_name, 80, &mut errors);
        if name.is_empty() {
            errors.insert("display_name".into(), json!(i18n::t("creators-display-name")));
        }
        let bio = text("bio", &a.bio, 2000, &mut errors);
        let application = text("application", &a.application, 4000, &mut errors);
        let abn = match a.abn.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(abn) => match valid_abn(abn) {
                Some(v) => Some(v),
                None => {
                    errors.insert("abn".into(), json!(i18n::t("creators-abn")));
                    None
                }
            },
            None => None,
        };
        if !errors.is_empty() {
            return Err(CreatorsError::Validation(Value::Object(errors)));
        }
        if self.by_user(&user.id).await?.is_some() {
            return Err(CreatorsError::rule(Code::AlreadyApplied, i18n::t("creators-already-applied")));
        }
        let id = lsn_core::ids::new_id();
        let now = self.clock.now_ms();
        let r = lsn_db::query(
            "INSERT INTO creators (id, user_id, handle, display_name, bio, status, application, abn, gst_registered, applied_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'applied', $6, $7, $8, $9, $9)",
        )
        .bind(&id)
        .bind(&user.id)
        .bind(&handle)
        .bind(&name)
        .bind(&bio)
        .bind(&application)
        .bind(&abn)
        .bind(i64::from(a.gst_registered))
        .bind(now)
        .execute(self.db.write())
        .await;
        match r {
            Ok(_) => self.get(&id).await,
            Err(e) if unique(&e, "creators_handle_key", "creators.handle") => {
                Err(CreatorsError::rule(Code::HandleTaken, i18n::t("creators-handle-taken")))
            }
            Err(e) if unique(&e, "creators_user_key", "creators.user_id") => {
                Err(CreatorsError::rule(Code::AlreadyApplied, i18n::t("creators-already-applied")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Staff decide an application or a creator's standing: `approve`, `reject`, `suspend`,
    /// `reinstate`. Approving makes the user a creator (their role), suspending takes it back.
    pub async fn decide(&self, id: &str, action: &str, note: &str, staff: &lsn_identity::User) -> Result<Creator, CreatorsError> {
        let c = self.get(id).await?;
        let to = match (action, c.status.as_str()) {
            ("approve", "applied" | "rejected") | ("reinstate", "suspended") => "approved",
            ("reject", "applied") => "rejected",
            ("suspend", "approved") => "suspended",
            ("approve" | "reject" | "suspend" | "reinstate", _) => {
                return Err(CreatorsError::rule(
                    Code::InvalidTransition,
                    i18n::t_args("creators-transition", &[("action", action), ("status", &c.status)]),
                ))
            }
            _ => return Err(CreatorsError::field("action", i18n::t("creators-action"))),
        };
        let note = note.trim().chars().take(1000).collect::<String>();
        let now = self.clock.now_ms();
        let r = lsn_db::query(
            "UPDATE creators SET status = $1, decision_note = $2, decided_at = $3, decided_by = $4, updated_at = $3 WHERE id = $5 AND status = $6",
        )
        .bind(to)
        .bind(&note)
        .bind(now)
        .bind(&staff.id)
        .bind(id)
        .bind(&c.status)
        .execute(self.db.write())
        .await?;
        if r.rows_affected() == 0 {
            return Err(CreatorsError::rule(Code::InvalidTransition, i18n::t("creators-changed-meanwhile")));
        }
        // The role follows the standing; staff keep theirs.
        if let Ok(Some(u)) = self.identity.user_by_id(&c.user_id).await {
            let role = if to == "approved" { lsn_identity::Role::Creator } else { lsn_identity::Role::Customer };
            if !u.role.is_staff() && u.role != role && (to == "approved" || u.role == lsn_identity::Role::Creator) {
                let actor = lsn_identity::audit::Actor {
                    id: Some(staff.id.to_string()),
                    label: format!("creators:{action}"),
                    ip: None,
                    user_agent: None,
                };
                if let Err(e) = self.identity.change_role(&actor, None, &c.user_id, role).await {
                    tracing::warn!(error = %e, creator = id, "the creator's role was not changed");
                }
            }
        }
        self.get(id).await
    }

    pub async fn update_profile(&self, id: &str, p: &ProfilePatch) -> Result<Creator, CreatorsError> {
        let c = self.get(id).await?;
        let mut errors = serde_json::Map::new();
        let name = p.display_name.as_deref().map(|v| text("display_name", v, 80, &mut errors)).unwrap_or(c.display_name);
        if name.is_empty() {
            errors.insert("display_name".into(), json!(i18n::t("creators-display-name")));
        }
        let bio = p.bio.as_deref().map(|v| text("bio", v, 2000, &mut errors)).unwrap_or(c.bio);
        let currency = match p.payout_currency.as_deref().map(|v| v.trim().to_uppercase()) {
            Some(cur) if PAYOUT_CURRENCIES.contains(&cur.as_str()) => cur,
            Some(_) => {
                errors.insert("payout_currency".into(), json!(i18n::t("creators-currency")));
                c.payout_currency
            }
            None => c.payout_currency,
        };
        let abn = match p.abn.as_deref().map(str::trim) {
            Some("") => None,
            Some(v) => valid_abn(v).or_else(|| {
                errors.insert("abn".into(), json!(i18n::t("creators-abn")));
                None
            }),
            None => c.abn,
        };
        if !errors.is_empty() {
            return Err(CreatorsError::Validation(Value::Object(errors)));
        }
        lsn_db::query("UPDATE creators SET display_name = $1, bio = $2, payout_currency = $3, abn = $4, gst_registered = $5, updated_at = $6 WHERE id = $7")
            .bind(&name)
            .bind(&bio)
            .bind(&currency)
            .bind(&abn)
            .bind(i64::from(p.gst_registered.unwrap_or(c.gst_registered)))
            .bind(self.clock.now_ms())
            .bind(id)
            .execute(self.db.write())
            .await?;
        self.get(id).await
    }

    /// Staff set a creator's tier and, optionally, their own rate (`null` clears it).
    pub async fn set_terms(&self, id: &str, tier: Option<&str>, rate_bps: Option<Option<i64>>) -> Result<Creator, CreatorsError> {
        let c = self.get(id).await?;
        let tier = match tier {
            Some(t) if TIERS.contains(&t) => t.to_string(),
            Some(_) => return Err(CreatorsError::field("tier", i18n::t("creators-tier"))),
            None => c.tier,
        };
        let rate = match rate_bps {
            Some(Some(r)) => Some(check_rate("rate_bps", r)?),
            Some(None) => None,
            None => c.rate_bps,
        };
        lsn_db::query("UPDATE creators SET tier = $1, rate_bps = $2, updated_at = $3 WHERE id = $4")
            .bind(&tier)
            .bind(rate)
            .bind(self.clock.now_ms())
            .bind(id)
            .execute(self.db.write())
            .await?;
        self.get(id).await
    }

    /// The tiers with their rates and the 90-day sales each asks for.
    pub async fn tiers(&self) -> Result<Vec<Value>, CreatorsError> {
        let rows =
            lsn_db::query("SELECT tier, rank, rate_bps, min_sales_90d FROM creator_tiers ORDER BY rank").fetch_all(self.db.read()).await?;
        rows.iter()
            .map(|r| {
                Ok(json!({"tier": r.try_get::<String, _>(0)?, "rank": r.try_get::<i64, _>(1)?, "rate_bps": r.try_get::<i64, _>(2)?, "min_sales_90d": r.try_get::<i64, _>(3)?}))
            })
            .collect::<Result<_, lsn_db::Error>>()
            .map_err(Into::into)
    }

    pub async fn set_tier_rate(&self, tier: &str, rate_bps: i64, min_sales_90d: Option<i64>) -> Result<Vec<Value>, CreatorsError> {
        if !TIERS.contains(&tier) {
            return Err(CreatorsError::NotFound);
        }
        let rate = check_rate("rate_bps", rate_bps)?;
        if min_sales_90d.is_some_and(|m| !(0..=100_000_000_000).contains(&m)) {
            return Err(CreatorsError::field("min_sales_90d", i18n::t("creators-min-sales")));
        }
        lsn_db::query("UPDATE creator_tiers SET rate_bps = $1, min_sales_90d = COALESCE($2, min_sales_90d) WHERE tier = $3")
            .bind(rate)
            .bind(min_sales_90d)
            .bind(tier)
            .execute(self.db.write())
            .await?;
        self.tiers().await
    }

    /// A commission rate for a product or a category, for every creator (`creator_id` None) or one.
    pub async fn set_override(
        &self,
        scope: &str,
        target_id: &str,
        creator_id: Option<&str>,
        rate_bps: i64,
    ) -> Result<Value, CreatorsError> {
        if !["product", "category"].contains(&scope) {
            return Err(CreatorsError::field("scope", i18n::t("creators-scope")));
        }
        if !lsn_core::ids::is_valid_id(target_id) {
            return Err(CreatorsError::field("target_id", i18n::t("creators-target")));
        }
        if let Some(c) = creator_id {
            self.get(c).await?;
        }
        let rate = check_rate("rate_bps", rate_bps)?;
        let id = lsn_core::ids::new_id();
        lsn_db::query(
            "INSERT INTO creator_rate_overrides (id, scope, target_id, creator_id, rate_bps, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (scope, target_id, creator_id) DO UPDATE SET rate_bps = excluded.rate_bps",
        )
        .bind(&id)
        .bind(scope)
        .bind(target_id)
        .bind(creator_id.unwrap_or(""))
        .bind(rate)
        .bind(self.clock.now_ms())
        .execute(self.db.write())
        .await?;
        Ok(json!({"scope": scope, "target_id": target_id, "creator_id": creator_id, "rate_bps": rate}))
    }

    pub async fn overrides(&self) -> Result<Vec<Value>, CreatorsError> {
        let rows = lsn_db::query("SELECT scope, target_id, creator_id, rate_bps FROM creator_rate_overrides ORDER BY scope, target_id")
            .fetch_all(self.db.read())
            .await?;
        rows.iter()
            .map(|r| {
                let c: String = r.try_get(2)?;
                Ok(json!({"scope": r.try_get::<String, _>(0)?, "target_id": r.try_get::<String, _>(1)?, "creator_id": (!c.is_empty()).then_some(c), "rate_bps": r.try_get::<i64, _>(3)?}))
            })
            .collect::<Result<_, lsn_db::Error>>()
            .map_err(Into::into)
    }
}

/// A new collaboration (staff).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollaborationInput {
    pub kind: String,
    pub title: String,
    pub scope: String,
    pub target_id: String,
    pub rate_bps: i64,
    #[serde(default)]
    pub starts_at: Option<i64>,
    #[serde(default)]
    pub ends_at: Option<i64>,
    /// Targeted collaborations: the creators invited.
    #[serde(default)]
    pub invite: Vec<String>,
}

impl Creators {
    pub async fn create_collaboration(&self, c: &CollaborationInput) -> Result<Value, CreatorsError> {
        let mut errors = serde_json::Map::new();
        if !["open", "targeted"].contains(&c.kind.as_str()) {
            errors.insert("kind".into(), json!(i18n::t("creators-collab-kind")));
        }
        if !["product", "category"].contains(&c.scope.as_str()) {
            errors.insert("scope".into(), json!(i18n::t("creators-scope")));
        }
        if !lsn_core::ids::is_valid_id(&c.target_id) {
            errors.insert("target_id".into(), json!(i18n::t("creators-target")));
        }
        let title = text("title", &c.title, 120, &mut errors);
        if title.is_empty() {
            errors.insert("title".into(), json!(i18n::t("creators-title")));
        }
        if !(0..=MAX_RATE_BPS).contains(&c.rate_bps) {
            errors.insert("rate_bps".into(), json!(i18n::t("creators-rate")));
        }
        let now = self.clock.now_ms();
        let starts = c.starts_at.unwrap_or(now);
        if c.ends_at.is_some_and(|e| e <= starts) || !(0..=MAX_TIME_MS).contains(&starts) {
            errors.insert("ends_at".into(), json!(i18n::t("creators-collab-dates")));
        }
        if c.kind == "open" && !c.invite.is_empty() || c.invite.len() > 1000 {
            errors.insert("invite".into(), json!(i18n::t("creators-collab-invite")));
        }
        if !errors.is_empty() {
            return Err(CreatorsError::Validation(Value::Object(errors)));
        }
        for who in &c.invite {
            self.get(who).await.map_err(|_| CreatorsError::field("invite", i18n::t("creators-collab-invite")))?;
        }
        let id = lsn_core::ids::new_id();
        let (c2, id2, title2) = (c.clone(), id.clone(), title.clone());
        self.db
            .transaction(move |tx| {
                let (c, id, title) = (c2.clone(), id2.clone(), title2.clone());
                Box::pin(async move {
                    lsn_db::query("INSERT INTO creator_collaborations (id, kind, title, scope, target_id, rate_bps, starts_at, ends_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                        .bind(&id)
                        .bind(&c.kind)
                        .bind(&title)
                        .bind(&c.scope)
                        .bind(&c.target_id)
                        .bind(c.rate_bps)
                        .bind(starts)
                        .bind(c.ends_at)
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                    for who in &c.invite {
                        lsn_db::query("INSERT INTO creator_collaboration_members (collaboration_id, creator_id, status, at) VALUES ($1, $2, 'invited', $3) ON CONFLICT DO NOTHING")
                            .bind(&id)
                            .bind(who)
                            .bind(now)
                            .execute(&mut **tx)
                            .await?;
                    }
                    Ok::<_, lsn_db::Error>(())
                })
            })
            .await?;
        Ok(
            json!({"id": id, "kind": c.kind, "title": title, "scope": c.scope, "target_id": c.target_id, "rate_bps": c.rate_bps, "starts_at": starts, "ends_at": c.ends_at, "invited": c.invite.len()}),
        )
    }

    /// The collaborations a creator may see: every open one and those they were invited to.
    pub async fn collaborations_for(&self, creator_id: &str) -> Result<Vec<Value>, CreatorsError> {
        let rows = lsn_db::query(
            "SELECT c.id, c.kind, c.title, c.scope, c.target_id, c.rate_bps, c.starts_at, c.ends_at, m.status FROM creator_collaborations c \
             LEFT JOIN creator_collaboration_members m ON m.collaboration_id = c.id AND m.creator_id = $1 \
             WHERE c.kind = 'open' OR m.creator_id IS NOT NULL ORDER BY c.created_at DESC LIMIT 200",
        )
        .bind(creator_id)
        .fetch_all(self.db.read())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(json!({"id": r.try_get::<String, _>(0)?, "kind": r.try_get::<String, _>(1)?, "title": r.try_get::<String, _>(2)?, "scope": r.try_get::<String, _>(3)?,
                    "target_id": r.try_get::<String, _>(4)?, "rate_bps": r.try_get::<i64, _>(5)?, "starts_at": r.try_get::<i64, _>(6)?, "ends_at": r.try_get::<Option<i64>, _>(7)?,
                    "membership": r.try_get::<Option<String>, _>(8)?}))
            })
            .collect::<Result<_, lsn_db::Error>>()
            .map_err(Into::into)
    }

    /// A creator joins an open collaboration, or accepts (or declines) an invitation.
    pub async fn join_collaboration(&self, creator: &Creator, collaboration_id: &str, accept: bool) -> Result<Value, CreatorsError> {
        if !lsn_core::ids::is_valid_id(collaboration_id) {
            return Err(CreatorsError::NotFound);
        }
        let Some(r) = lsn_db::query(
            "SELECT c.kind, m.status FROM creator_collaborations c LEFT JOIN creator_collaboration_members m ON m.collaboration_id = c.id AND m.creator_id = $2 WHERE c.id = $1",
        )
        .bind(collaboration_id)
        .bind(&creator.id)
        .fetch_optional(self.db.read())
        .await?
        else {
            return Err(CreatorsError::NotFound);
        };
        let (kind, member): (String, Option<String>) = (r.try_get(0)?, r.try_get(1)?);
        if kind == "targeted" && member.is_none() {
            return Err(CreatorsError::rule(Code::NotInvited, i18n::t("creators-not-invited")));
        }
        let status = if accept { "joined" } else { "declined" };
        lsn_db::query(
            "INSERT INTO creator_collaboration_members (collaboration_id, creator_id, status, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (collaboration_id, creator_id) DO UPDATE SET status = excluded.status, at = excluded.at",
        )
        .bind(collaboration_id)
        .bind(&creator.id)
        .bind(status)
        .bind(self.clock.now_ms())
        .execute(self.db.write())
        .await?;
        Ok(json!({"collaboration_id": collaboration_id, "status": status}))
    }

    /// The rate a creator earns on each of `lines` (`(product, category)`): the best of their
    /// product rates (an override for them, a collaboration they joined, an override for
    /// everyone), else of their category rates, else their own rate, else their tier's. One read
    /// for all the lines (and one more for the tier's rate when a line needs it).
    pub async fn rates_for(
        &self,
        creator: &Creator,
        lines: &[(String, Option<String>)],
        at: i64,
    ) -> Result<Vec<(i64, &'static str)>, CreatorsError> {
        let mut targets: Vec<&str> =
            lines.iter().flat_map(|(p, c)| [Some(p.as_str()), c.as_deref()]).flatten().filter(|t| !t.is_empty()).collect();
        targets.sort_unstable();
        targets.dedup();
        let mut best: std::collections::HashMap<(String, String), i64> = std::collections::HashMap::new();
        if !targets.is_empty() {
            let list = lsn_ops::jobs::placeholders(3, targets.len(), 1);
            let sql = format!(
                "SELECT scope, target_id, MAX(rate_bps) FROM (\
                 SELECT scope, target_id, rate_bps FROM creator_rate_overrides WHERE scope IN ('product', 'category') AND target_id IN ({list}) AND creator_id IN ($1, '') \
                 UNION ALL SELECT c.scope, c.target_id, c.rate_bps FROM creator_collaborations c JOIN creator_collaboration_members m ON m.collaboration_id = c.id \
                   WHERE c.target_id IN ({list}) AND m.creator_id = $1 AND m.status = 'joined' AND c.starts_at <= $2 AND (c.ends_at IS NULL OR c.ends_at > $2)) x \
                 GROUP BY scope, target_id"
            );
            let mut q = lsn_db::query(&sql).bind(&creator.id).bind(at);
            for t in &targets {
                q = q.bind(*t);
            }
            for r in q.fetch_all(self.db.read()).await? {
                if let Some(rate) = r.try_get::<Option<i64>, _>(2)? {
                    best.insert((r.try_get(0)?, r.try_get(1)?), rate);
                }
            }
        }
        let mut tier_rate = None;
        let mut out = Vec::with_capacity(lines.len());
        for (product, category) in lines {
            let found = best
                .get(&("product".to_string(), product.clone()))
                .map(|r| (*r, "product_rate"))
                .or_else(|| category.as_ref().and_then(|c| best.get(&("category".to_string(), c.clone()))).map(|r| (*r, "category_rate")));
            let rate = match (found, creator.rate_bps) {
                (Some(f), _) => f,
                (None, Some(r)) => (r, "creator_rate"),
                (None, None) => {
                    if tier_rate.is_none() {
                        let r = lsn_db::query("SELECT rate_bps FROM creator_tiers WHERE tier = $1")
                            .bind(&creator.tier)
                            .fetch_optional(self.db.read())
                            .await?;
                        tier_rate = Some(r.map(|r| r.try_get(0)).transpose()?.unwrap_or(0));
                    }
                    (tier_rate.unwrap_or(0), "tier_rate")
                }
            };
            out.push(rate);
        }
        Ok(out)
    }
}

// ----------------------------------------------------------------------------- links and codes

/// A referral link.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Link {
    pub id: String,
    pub code: String,
    pub target: String,
    pub label: String,
    pub active: bool,
    pub created_at: i64,
}

fn valid_link_code(c: &str) -> bool {
    (3..=32).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Only a local path is a link's target (no open redirect).
pub fn valid_target(t: &str) -> bool {
    t.starts_with('/') && !t.starts_with("//") && !t.contains('\\') && t.len() <= 300 && !t.chars().any(char::is_control)
}

impl Creators {
    /// A creator's new link to `target` (a page of the shop), with their own code or a random one.
    pub async fn create_link(&self, creator: &Creator, target: &str, label: &str, code: Option<&str>) -> Result<Link, CreatorsError> {
        if creator.status != "approved" {
            return Err(CreatorsError::rule(Code::CreatorNotApproved, i18n::t("creators-not-approved")));
        }
        let target = if target.trim().is_empty() { "/" } else { target.trim() };
        if !valid_target(target) {
            return Err(CreatorsError::field("target", i18n::t("creators-link-target")));
        }
        let code = match code.map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) if valid_link_code(c) => c.to_string(),
            Some(_) => return Err(CreatorsError::field("code", i18n::t("creators-link-code"))),
            None => format!("{}-{}", creator.handle, &lsn_core::ids::random_token(6)[..6]).replace('_', "-"),
        };
        let label = label.trim().chars().take(80).collect::<String>();
        let id = lsn_core::ids::new_id();
        let now = self.clock.now_ms();
        let r =
            lsn_db::query("INSERT INTO creator_links (id, creator_id, code, target, label, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&id)
                .bind(&creator.id)
                .bind(&code)
                .bind(target)
                .bind(&label)
                .bind(now)
                .execute(self.db.write())
                .await;
        match r {
            Ok(_) => Ok(Link { id, code, target: target.to_string(), label, active: true, created_at: now }),
            Err(e) if unique(&e, "creator_links_code_key", "creator_links.code") => {
                Err(CreatorsError::rule(Code::LinkCodeTaken, i18n::t("creators-link-taken")))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn links(&self, creator_id: &str) -> Result<Vec<Link>, CreatorsError> {
        let rows = lsn_db::query("SELECT id, code, target, label, active, created_at FROM creator_links WHERE creator_id = $1 ORDER BY created_at DESC LIMIT 500")
            .bind(creator_id)
            .fetch_all(self.db.read())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Link {
                    id: r.try_get(0)?,
                    code: r.try_get(1)?,
                    target: r.try_get(2)?,
                    label: r.try_get(3)?,
                    active: r.try_get::<i64, _>(4)? != 0,
                    created_at: r.try_get(5)?,
                })
            })
            .collect::<Result<_, lsn_db::Error>>()
            .map_err(Into::into)
    }

    /// Staff give a creator a discount code of their own: an order that uses it is theirs.
    pub async fn create_code(&self, creator_id: &str, input: &lsn_commerce::discounts::DiscountInput) -> Result<Value, CreatorsError> {
        let c = self.get(creator_id).await?;
        let now = self.clock.now_ms();
        let code = lsn_commerce::discounts::create(&self.db, now, input).await.map_err(|e| match e {
            lsn_commerce::CommerceError::Validation(v) => CreatorsError::Validation(v),
            lsn_commerce::CommerceError::Db(e) => CreatorsError::Db(e),
            other => CreatorsError::field("code", other.to_string()),
        })?;
        lsn_db::query("INSERT INTO creator_codes (discount_code_id, creator_id, code, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&code.id)
            .bind(&c.id)
            .bind(&code.code)
            .bind(now)
            .execute(self.db.write())
            .await?;
        Ok(json!({"creator_id": c.id, "discount": code}))
    }

    pub async fn codes(&self, creator_id: &str) -> Result<Vec<Value>, CreatorsError> {
        let rows =
            lsn_db::query("SELECT discount_code_id, code, created_at FROM creator_codes WHERE creator_id = $1 ORDER BY created_at DESC")
                .bind(creator_id)
                .fetch_all(self.db.read())
                .await?;
        rows.iter()
            .map(|r| Ok(json!({"discount_code_id": r.try_get::<String, _>(0)?, "code": r.try_get::<String, _>(1)?, "created_at": r.try_get::<i64, _>(2)?})))
            .collect::<Result<_, lsn_db::Error>>()
            .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ncols_counts_the_columns() {
        assert_eq!(COLS.split(", ").count(), NCOLS);
        assert!(cols("c").starts_with("c.id, c.user_id, "));
    }

    #[test]
    fn abns_are_checked_by_their_weights() {
        assert_eq!(valid_abn("51 824 753 556").as_deref(), Some("51824753556"));
        assert_eq!(valid_abn("51 824 753 557"), None);
        assert_eq!(valid_abn("5182475355"), None);
        assert_eq!(valid_abn("0000000000a"), None);
    }

    #[test]
    fn handles_codes_and_targets() {
        assert!(valid_handle("ann_b-2"));
        assert!(!valid_handle("An"));
        assert!(!valid_handle("ann b"));
        assert!(valid_link_code("ANN-10"));
        assert!(!valid_link_code("a/b"));
        assert!(valid_target("/products/x?y=1"));
        assert!(!valid_target("//evil.example"));
        assert!(!valid_target("https://evil.example"));
        assert!(PAYOUT_CURRENCIES.len() >= 50);
    }
}
