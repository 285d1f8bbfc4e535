//! Shows: create, schedule, start, end; the lineup; the stats a show leaves behind.

use crate::room::Hub;
use crate::Code;
use lsn_core::i18n;
use lsn_db::{Db, Row, RowExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("invalid input")]
    Validation(Value),
    #[error("{code}: {message}")]
    Rule { code: Code, message: String },
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error(transparent)]
    Db(#[from] lsn_db::Error),
}

impl lsn_db::TxError for LiveError {
    fn as_db(&self) -> Option<&lsn_db::Error> {
        match self {
            LiveError::Db(e) => Some(e),
            _ => None,
        }
    }
}

impl From<LiveError> for lsn_core::ApiError {
    fn from(e: LiveError) -> Self {
        use lsn_core::ApiError;
        match e {
            LiveError::Validation(v) => ApiError::validation(v),
            LiveError::Rule { code, message } => ApiError::new(code.status(), code.as_str(), message),
            LiveError::NotFound => ApiError::not_found(),
            LiveError::Forbidden => ApiError::forbidden(),
            LiveError::Db(e) if lsn_db::is_unavailable(&e) => ApiError::database_unavailable(e),
            LiveError::Db(e) => ApiError::internal(e),
        }
    }
}

fn invalid(field: &str, msg: &str) -> LiveError {
    LiveError::Validation(json!({ field: msg }))
}

/// Where a show's video comes from. A typed field so self-hosted WebRTC can join later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum VideoSource {
    None,
    Hls { url: String },
}

lsn_db::id!(
    /// A show's id.
    pub ShowId
);

#[derive(Debug, Clone, Serialize)]
pub struct Show {
    pub id: ShowId,
    pub title: String,
    pub description: String,
    pub host_id: String,
    pub host_name: String,
    pub status: String,
    pub scheduled_at: i64,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub video: VideoSource,
    pub slow_mode_secs: i64,
    pub pinned_product_id: Option<String>,
    pub peak_viewers: i64,
    pub lineup: Vec<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowInput {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub scheduled_at: i64,
    #[serde(default)]
    pub video_url: Option<String>,
    /// Product ids or slugs, in order.
    #[serde(default)]
    pub lineup: Vec<String>,
    /// Staff may create a show for another host.
    #[serde(default)]
    pub host_id: Option<String>,
}

const SHOW_COLS: &str = "s.id, s.title, s.description, s.host_id, u.name AS host_name, s.status, s.scheduled_at, s.started_at, s.ended_at, s.video_kind, s.video_url, s.slow_mode_secs, s.pinned_product_id, s.peak_viewers";

fn show_from(r: &Row) -> Result<Show, lsn_db::Error> {
    let kind: String = r.try_get("video_kind")?;
    let url: Option<String> = r.try_get("video_url")?;
    Ok(Show {
        id: r.try_parse("id")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        host_id: r.try_get("host_id")?,
        host_name: r.try_get("host_name")?,
        status: r.try_get("status")?,
        scheduled_at: r.try_get("scheduled_at")?,
        started_at: r.try_get("started_at")?,
        ended_at: r.try_get("ended_at")?,
        video: match (kind.as_str(), url) {
            ("hls", Some(url)) => VideoSource::Hls { url },
            _ => VideoSource::None,
        },
        slow_mode_secs: r.try_get("slow_mode_secs")?,
        pinned_product_id: r.try_get("pinned_product_id")?,
        peak_viewers: r.try_get("peak_viewers")?,
        lineup: Vec::new(),
    })
}

/// The live service, cheap to clone (one reference count).
#[derive(Clone)]
pub struct Live(std::sync::Arc<LiveParts>);

impl std::ops::Deref for Live {
    type Target = LiveParts;
    fn deref(&self) -> &LiveParts {
        &self.0
    }
}

/// What a [`Live`] holds (reached through it by `Deref`).
pub struct LiveParts {
    pub db: Db,
    pub clock: lsn_core::SharedClock,
    pub catalog: lsn_catalog::Catalog,
    pub commerce: lsn_commerce::Commerce,
    pub hub: Arc<Hub>,
}

impl Live {
    pub fn new(commerce: lsn_commerce::Commerce) -> Self {
        let (db, clock) = (commerce.db.clone(), commerce.clock.clone());
        let catalog = commerce.catalog.clone();
        let hub = Arc::new(Hub::new(db.clone(), clock.clone()));
        Self(Arc::new(LiveParts { db, clock, catalog, commerce, hub }))
    }

    pub async fn create(&self, caller: &lsn_identity::User, input: &ShowInput) -> Result<Show, LiveError> {
        let title = input.title.trim();
        if title.is_empty() || title.chars().count() > 200 {
            return Err(invalid("title", &i18n::t("live-title")));
        }
        if input.description.chars().count() > 5000 {
            return Err(invalid("description", &i18n::t_args("live-too-long", &[("max", "5000")])));
        }
        let now = self.clock.now_ms();
        if input.scheduled_at < now - 24 * 3600 * 1000 || input.scheduled_at > now + 366 * 24 * 3600 * 1000 {
            return Err(invalid("scheduled_at", &i18n::t("live-scheduled-at")));
        }
        let video = match input.video_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            None => None,
            Some(u)
                if (u.starts_with("https://") || u.starts_with("http://")) && u.len() <= 1000 && !u.chars().any(char::is_whitespace) =>
            {
                Some(u.to_string())
            }
            Some(_) => return Err(invalid("video_url", &i18n::t("live-video-url"))),
        };
        if input.lineup.len() > 100 {
            return Err(invalid("lineup", &i18n::t("live-lineup-max")));
        }
        let host = match &input.host_id {
            Some(h) if h != &caller.id => {
                if !caller.role.is_staff() {
                    return Err(LiveError::Forbidden);
                }
                h.clone()
            }
            _ => caller.id.to_string(),
        };
        let mut lineup = Vec::new();
        for (i, p) in input.lineup.iter().enumerate() {
            match self.catalog.get(p, true).await.map_err(|_| invalid(&format!("lineup.{i}"), &i18n::t("live-unknown-product")))? {
                Some(prod) if prod.status == "active" => lineup.push(prod.id),
                _ => return Err(invalid(&format!("lineup.{i}"), &i18n::t("live-inactive-product"))),
            }
        }
        let id = lsn_core::ids::new_id();
        let (id2, title, desc, host2, sched) = (id.clone(), title.to_string(), input.description.clone(), host, input.scheduled_at);
        self.db
            .transaction(move |tx| {
                let (id, title, desc, host, video, lineup) = (id2.clone(), title.clone(), desc.clone(), host2.clone(), video.clone(), lineup.clone());
                Box::pin(async move {
                    let exists: i64 = lsn_db::query("SELECT COUNT(*) FROM user_names WHERE id = $1").bind(&host).fetch_one(&mut **tx).await?.try_get(0)?;
                    if exists == 0 {
                        return Err(invalid("host_id", &i18n::t("live-unknown-host")));
                    }
                    lsn_db::query("INSERT INTO live_shows (id, title, description, host_id, status, scheduled_at, video_kind, video_url, created_at, updated_at) VALUES ($1, $2, $3, $4, 'scheduled', $5, $6, $7, $8, $8)")
                        .bind(&id)
                        .bind(&title)
                        .bind(&desc)
                        .bind(&host)
                        .bind(sched)
                        .bind(if video.is_some() { "hls" } else { "none" })
                        .bind(&video)
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                    for (i, p) in lineup.iter().enumerate() {
                        lsn_db::query("INSERT INTO live_lineup (show_id, product_id, position) VALUES ($1, $2, $3) ON CONFLICT (show_id, product_id) DO NOTHING").bind(&id).bind(p).bind(i as i64).execute(&mut **tx).await?;
                    }
                    Ok::<_, LiveError>(())
                })
            })
            .await?;
        self.get(&id).await
    }

    pub async fn get(&self, id: &str) -> Result<Show, LiveError> {
        let r = lsn_db::query(&format!("SELECT {SHOW_COLS} FROM live_shows s JOIN user_names u ON u.id = s.host_id WHERE s.id = $1"))
            .bind(id)
            .fetch_optional(self.db.read())
            .await?;
        let mut show = show_from(&r.ok_or(LiveError::NotFound)?)?;
        let items = lsn_db::query(
            "SELECT p.id, p.slug, p.title, p.min_price, COALESCE((SELECT CAST(SUM(s.available) AS BIGINT) FROM catalog_variants v JOIN variant_stock s ON s.variant_id = v.id WHERE v.product_id = p.id AND v.status = 'active'), 0) \
             FROM live_lineup l JOIN catalog_products p ON p.id = l.product_id WHERE l.show_id = $1 ORDER BY l.position",
        )
        .bind(id)
        .fetch_all(self.db.read())
        .await?;
        show.lineup = items
            .iter()
            .map(|r| Ok::<_, lsn_db::Error>(json!({"product_id": r.try_get::<String, _>(0)?, "slug": r.try_get::<String, _>(1)?, "title": r.try_get::<String, _>(2)?, "price": r.try_get::<i64, _>(3)?, "available": r.try_get::<i64, _>(4)?.max(0)})))
            .collect::<Result<_, _>>()?;
        Ok(show)
    }

    pub async fn list(&self, status: Option<&str>, limit: i64) -> Result<Vec<Show>, LiveError> {
        if let Some(s) = status {
            if !["scheduled", "live", "ended"].contains(&s) {
                return Err(invalid("status", &i18n::t("live-status")));
            }
        }
        let rows = lsn_db::query(&format!(
            "SELECT {SHOW_COLS} FROM live_shows s JOIN user_names u ON u.id = s.host_id WHERE ($1 = '' OR s.status = $1) \
             ORDER BY CASE s.status WHEN 'live' THEN 0 WHEN 'scheduled' THEN 1 ELSE 2 END, s.scheduled_at LIMIT $2"
        ))
        .bind(status.unwrap_or(""))
        .bind(limit.clamp(1, 200))
        .fetch_all(self.db.read())
        .await?;
        Ok(rows.iter().map(show_from).collect::<Result<_, _>>()?)
    }

    /// The show's host or staff may run it.
    pub async fn authorize_host(&self, show_id: &str, user: &lsn_identity::User) -> Result<Show, LiveError> {
        let show = self.get(show_id).await?;
        if show.host_id == user.id || user.role.is_staff() {
            Ok(show)
        } else {
            Err(LiveError::Forbidden)
        }
    }

    pub async fn start(&self, show_id: &str, user: &lsn_identity::User) -> Result<Show, LiveError> {
        self.authorize_host(show_id, user).await?;
        let now = self.clock.now_ms();
        let r =
            lsn_db::query("UPDATE live_shows SET status = 'live', started_at = $1, updated_at = $1 WHERE id = $2 AND status = 'scheduled'")
                .bind(now)
                .bind(show_id)
                .execute(self.db.write())
                .await?;
        if r.rows_affected() == 0 {
            return Err(LiveError::Rule { code: Code::InvalidTransition, message: i18n::t("live-only-scheduled-start") });
        }
        let room = self.hub.room(show_id).await?;
        room.publish("show_started", json!({"started_at": now}), true).await;
        self.get(show_id).await
    }

    pub async fn end(&self, show_id: &str, user: &lsn_identity::User) -> Result<Show, LiveError> {
        self.authorize_host(show_id, user).await?;
        let now = self.clock.now_ms();
        let r = lsn_db::query("UPDATE live_shows SET status = 'ended', ended_at = $1, updated_at = $1 WHERE id = $2 AND status = 'live'")
            .bind(now)
            .bind(show_id)
            .execute(self.db.write())
            .await?;
        if r.rows_affected() == 0 {
            return Err(LiveError::Rule { code: Code::InvalidTransition, message: i18n::t("live-only-live-end") });
        }
        let room = self.hub.room(show_id).await?;
        let last = room.publish("show_ended", json!({"ended_at": now}), true).await;
        room.wait_seen(last.seq).await;
        let peak = room.peak_viewers();
        room.flush().await;
        self.hub.close(show_id).await;
        lsn_db::query("UPDATE live_shows SET peak_viewers = CASE WHEN peak_viewers > $1 THEN peak_viewers ELSE $1 END WHERE id = $2")
            .bind(peak)
            .bind(show_id)
            .execute(self.db.write())
            .await?;
        lsn_db::query("UPDATE live_viewers SET left_at = $1 WHERE show_id = $2 AND left_at IS NULL")
            .bind(now)
            .bind(show_id)
            .execute(self.db.write())
            .await?;
        self.get(show_id).await
    }

    /// Unique viewers, peak concurrent viewers and total watch time.
    pub async fn stats(&self, show_id: &str) -> Result<Value, LiveError> {
        let now = self.clock.now_ms();
        let r = lsn_db::query(
            "SELECT CAST(COUNT(DISTINCT viewer_key) AS BIGINT), CAST(COALESCE(SUM(COALESCE(left_at, $1) - joined_at), 0) AS BIGINT), CAST(COUNT(*) AS BIGINT) FROM live_viewers WHERE show_id = $2",
        )
        .bind(now)
        .bind(show_id)
        .fetch_one(self.db.read())
        .await?;
        let peak: i64 = lsn_db::query("SELECT peak_viewers FROM live_shows WHERE id = $1")
            .bind(show_id)
            .fetch_optional(self.db.read())
            .await?
            .ok_or(LiveError::NotFound)?
            .try_get(0)?;
        // Sales attributed to the show (orders placed from its room), paid and net of refunds.
        let (orders, revenue) = lsn_commerce::orders::read::show_sales(&self.db, show_id).await?;
        let room = self.hub.existing(show_id).await;
        let live_peak = room.as_ref().map(|r| r.peak_viewers()).unwrap_or(0);
        let current = room.as_ref().map(|r| r.viewers()).unwrap_or(0);
        Ok(
            json!({"unique_viewers": r.try_get::<i64, _>(0)?, "watch_time_ms": r.try_get::<i64, _>(1)?, "joins": r.try_get::<i64, _>(2)?, "peak_viewers": peak.max(live_peak), "viewers_now": current, "orders": orders, "revenue": revenue}),
        )
    }

    /// The recorded timeline, for replays: events after `after`, oldest first.
    pub async fn replay(&self, show_id: &str, after: i64, limit: i64) -> Result<Vec<Value>, LiveError> {
        self.hub.flush_existing(show_id).await;
        let rows = lsn_db::query("SELECT seq, type, payload, at FROM live_events WHERE show_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
            .bind(show_id)
            .bind(after)
            .bind(limit.clamp(1, 1000))
            .fetch_all(self.db.read())
            .await?;
        Ok(rows.iter().map(recorded_event).collect::<Result<_, lsn_db::Error>>()?)
    }

    /// The last `limit` recorded events of a show, oldest first (what a page shows on opening).
    pub async fn recent(&self, show_id: &str, limit: i64) -> Result<Vec<Value>, LiveError> {
        self.hub.flush_existing(show_id).await;
        let rows = lsn_db::query("SELECT seq, type, payload, at FROM live_events WHERE show_id = $1 ORDER BY seq DESC LIMIT $2")
            .bind(show_id)
            .bind(limit.clamp(1, 1000))
            .fetch_all(self.db.read())
            .await?;
        Ok(rows.iter().rev().map(recorded_event).collect::<Result<_, lsn_db::Error>>()?)
    }
}

/// A `live_events` row (seq, type, payload, at) as the event a viewer received.
fn recorded_event(r: &lsn_db::Row) -> Result<Value, lsn_db::Error> {
    let payload: Value = serde_json::from_str(&r.try_get::<String, _>(2)?).unwrap_or(Value::Null);
    let mut ev = json!({"v": 1, "seq": r.try_get::<i64, _>(0)?, "type": r.try_get::<String, _>(1)?, "at": r.try_get::<i64, _>(3)?});
    if let (Some(m), Some(p)) = (ev.as_object_mut(), payload.as_object()) {
        for (k, v) in p {
            m.insert(k.clone(), v.clone());
        }
    }
    Ok(ev)
}
