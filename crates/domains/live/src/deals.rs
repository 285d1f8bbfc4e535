//! Flash deals in a live room: the host puts a deal price on the pinned product for a limited
//! quantity, after a countdown (10–300 s) and for a duration (1–20 min), TikTok LIVE's ranges.
//! Viewers buy in one action; the commerce core's offer claim and stock reservation make sure
//! never more is sold than the deal quantity, and every viewer sees the remaining count.

use crate::shows::{Live, LiveError};
use crate::Code;
use lsn_commerce::offers::{self, Offer, OfferInput};
use lsn_core::i18n;
use serde::Deserialize;
use serde_json::json;

pub const COUNTDOWN_SECS: std::ops::RangeInclusive<i64> = 10..=300;
pub const DURATION_SECS: std::ops::RangeInclusive<i64> = 60..=1200;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DealInput {
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub variant_id: Option<String>,
    pub price: i64,
    pub quantity: i64,
    #[serde(default = "default_countdown")]
    pub countdown_secs: i64,
    #[serde(default = "default_duration")]
    pub duration_secs: i64,
    #[serde(default)]
    pub per_customer_limit: Option<i64>,
}

fn default_countdown() -> i64 {
    10
}

fn default_duration() -> i64 {
    300
}

fn invalid(field: &str, msg: &str) -> LiveError {
    LiveError::Validation(json!({ field: msg }))
}

impl Live {
    /// Starts a flash deal on the pinned product of a live show (host or staff).
    pub async fn start_deal(&self, show_id: &str, user: &lsn_identity::User, d: &DealInput) -> Result<Offer, LiveError> {
        let show = self.authorize_host(show_id, user).await?;
        if show.status != "live" {
            return Err(LiveError::Rule { code: Code::ShowNotLive, message: i18n::t("live-deal-not-live") });
        }
        if !COUNTDOWN_SECS.contains(&d.countdown_secs) {
            return Err(invalid("countdown_secs", &i18n::t_args("live-seconds", &[("min", "10"), ("max", "300")])));
        }
        if !DURATION_SECS.contains(&d.duration_secs) {
            return Err(invalid("duration_secs", &i18n::t("live-deal-duration")));
        }
        let room = self.hub.room(show_id).await?;
        let pinned = room.pinned().ok_or_else(|| LiveError::Rule { code: Code::NothingPinned, message: i18n::t("live-pin-first") })?;
        let key = d.variant_id.clone().or(d.sku.clone()).ok_or_else(|| invalid("sku", &i18n::t("live-sku-of-pinned")))?;
        let variant =
            pinned["variants"].as_array().and_then(|vs| vs.iter().find(|v| v["id"] == key.as_str() || v["sku"] == key.as_str()).cloned());
        let variant_id = match variant {
            Some(v) => v["id"].as_str().unwrap_or_default().to_string(),
            None => {
                // The pinned card lists variants by id; accept a SKU of the pinned product too.
                let p = self.catalog.get(pinned["id"].as_str().unwrap_or_default(), true).await.ok().flatten();
                p.and_then(|p| p.variants.into_iter().find(|v| v.sku == key || v.id == key).map(|v| v.id.into_string()))
                    .ok_or_else(|| invalid("sku", &i18n::t("live-variant-of-pinned")))?
            }
        };
        let now = self.clock.now_ms();
        let starts_at = now + d.countdown_secs * 1000;
        let input = OfferInput {
            variant_id,
            show_id: Some(show_id.to_string()),
            price: d.price,
            quantity: d.quantity,
            per_customer_limit: d.per_customer_limit,
            starts_at,
            ends_at: starts_at + d.duration_secs * 1000,
            reserved_for: None,
        };
        let offer = offers::create(&self.db, now, &input).await.map_err(commerce_error)?;
        room.publish("deal_started", json!({"deal": offer}), true).await;
        // Announce the end on time; buying is refused after it whatever happens to this timer.
        let (live, show, deal_id, wait) = (self.clone(), show_id.to_string(), offer.id.clone(), (offer.ends_at - now).max(0) as u64);
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            let _ = live.announce_deal_end(&show, &deal_id, "time_up").await;
        });
        Ok(offer)
    }

    /// Ends a deal early (host or staff).
    pub async fn end_deal(&self, show_id: &str, user: &lsn_identity::User, deal_id: &str) -> Result<Offer, LiveError> {
        self.authorize_host(show_id, user).await?;
        let offer = offers::get(&self.db, self.clock.now_ms(), deal_id).await.map_err(commerce_error)?;
        if offer.show_id.as_deref() != Some(show_id) {
            return Err(LiveError::NotFound);
        }
        offers::end(&self.db, deal_id).await.map_err(commerce_error)?;
        self.announce_deal_end(show_id, deal_id, "stopped").await?;
        offers::get(&self.db, self.clock.now_ms(), deal_id).await.map_err(commerce_error)
    }

    async fn announce_deal_end(&self, show_id: &str, deal_id: &str, reason: &str) -> Result<(), LiveError> {
        if let Some(room) = self.hub.existing(show_id).await {
            let offer = offers::get(&self.db, self.clock.now_ms(), deal_id).await.map_err(commerce_error)?;
            room.publish(
                "deal_ended",
                json!({"deal_id": deal_id, "reason": reason, "sold": offer.sold, "remaining": offer.remaining}),
                true,
            )
            .await;
        }
        Ok(())
    }

    /// After a purchase: tell the room how many are left, and that the deal ended if none are.
    /// The show's deal that is counting down or on sale now, if any (for a viewer who joins late).
    pub async fn current_deal(&self, show_id: &str) -> Result<Option<Offer>, LiveError> {
        let now = self.clock.now_ms();
        match offers::current_for_show(&self.db, now, show_id).await? {
            Some(id) => Ok(Some(offers::get(&self.db, now, &id).await.map_err(commerce_error)?)),
            None => Ok(None),
        }
    }

    pub async fn deal_sold(&self, deal_id: &str) -> Result<Offer, LiveError> {
        let offer = offers::get(&self.db, self.clock.now_ms(), deal_id).await.map_err(commerce_error)?;
        if let Some(show) = &offer.show_id {
            if let Some(room) = self.hub.existing(show).await {
                room.publish("deal_updated", json!({"deal_id": offer.id, "remaining": offer.remaining, "sold": offer.sold}), false).await;
                if offer.remaining == 0 {
                    room.publish(
                        "deal_ended",
                        json!({"deal_id": offer.id, "reason": "sold_out", "sold": offer.sold, "remaining": 0}),
                        true,
                    )
                    .await;
                }
            }
        }
        Ok(offer)
    }
}

fn commerce_error(e: lsn_commerce::CommerceError) -> LiveError {
    match e {
        lsn_commerce::CommerceError::Validation(v) => LiveError::Validation(v),
        lsn_commerce::CommerceError::NotFound => LiveError::NotFound,
        lsn_commerce::CommerceError::Db(e) => LiveError::Db(e),
        other => LiveError::Rule { code: Code::DealRefused, message: other.to_string() },
    }
}
