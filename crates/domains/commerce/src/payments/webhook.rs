//! `POST /api/webhooks/stripe`: verify the signature, record the event by id, apply it once.
//!
//! Verification follows Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`; the expected value
//! is HMAC-SHA256 over `"{t}.{raw body}"` with the endpoint secret; any `v1` may match (secret
//! rotation); `t` must be within 300 s of now. The event row and its effects are written in one
//! transaction, keyed by the event id, so a duplicate delivery changes nothing. An event that
//! arrives before the one it depends on (a refund before the payment) is stored as deferred and
//! applied when its predecessor has been (at once for events about the same payment, and by the
//! `webhook_retry` schedule for all of them), or recorded as expired after [`DEFERRED_TTL_MS`]
//! (Stripe stops retrying after three days, so nothing that old is still coming). Event types
//! LSN does not act on are answered 200 and recorded as ignored: Stripe retries every non-2xx
//! answer for three days.

pub use super::events::HANDLED;
use super::events::{Envelope, Event};
use crate::{orders, Commerce, CommerceError};
use lsn_db::RowExt;
use serde_json::Value;

pub use lsn_core::stripe_signature::TOLERANCE_SECS;
/// How long a deferred event waits for the event it depends on: Stripe's own retry window.
pub const DEFERRED_TTL_MS: i64 = 3 * 24 * 3600 * 1000;
/// The job that retries deferred events (the `webhook_retry` schedule).
pub const RETRY_JOB: &str = "payments.retry_deferred_events";
/// Deferred events looked at per page, and at most per run.
const PAGE: i64 = 100;
const RUN_LIMIT: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("missing Stripe-Signature header")]
    MissingSignature,
    #[error("signature does not match")]
    BadSignature,
    #[error("timestamp outside the tolerance")]
    Stale,
    #[error("body is not a Stripe event")]
    Malformed,
    #[error(transparent)]
    Apply(#[from] CommerceError),
}

impl WebhookError {
    pub fn is_client_error(&self) -> bool {
        !matches!(self, WebhookError::Apply(CommerceError::Db(_)) | WebhookError::Apply(CommerceError::Internal(_)))
    }
}

impl From<WebhookError> for lsn_core::ApiError {
    fn from(e: WebhookError) -> Self {
        use lsn_core::ApiError;
        match e {
            WebhookError::MissingSignature | WebhookError::BadSignature => {
                ApiError::bad_request("invalid_signature", "The Stripe-Signature header does not verify.")
            }
            WebhookError::Stale => ApiError::bad_request("stale_timestamp", "The signature timestamp is outside the 300-second tolerance."),
            WebhookError::Malformed => ApiError::bad_request("malformed_event", "The body is not a Stripe event."),
            WebhookError::Apply(e) => e.into(),
        }
    }
}

/// Lower-case hex HMAC-SHA256 of `"{t}.{body}"` (the kernel's, shared with Stripe Connect payouts).
pub use lsn_core::stripe_signature::sign;

/// Checks a `Stripe-Signature` header against the body at time `now` (Unix seconds).
pub fn verify(header: Option<&str>, body: &[u8], secret: &str, now: i64) -> Result<(), WebhookError> {
    use lsn_core::stripe_signature::SignatureError;
    lsn_core::stripe_signature::verify(header, body, secret, now).map_err(|e| match e {
        SignatureError::Missing => WebhookError::MissingSignature,
        SignatureError::Mismatch => WebhookError::BadSignature,
        SignatureError::Stale => WebhookError::Stale,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    Applied,
    Duplicate,
    Deferred,
    /// A type LSN does not act on: recorded and answered 2xx so Stripe stops retrying it.
    Ignored,
}

/// A stored event, decoded again for a retry (`None`: it no longer decodes, so it never applies).
fn stored(raw: &str) -> Option<Event> {
    let e: Envelope = serde_json::from_str(raw).ok()?;
    Event::decode(&e.kind, &e.data.object).ok().flatten()
}

pub async fn receive(c: &Commerce, body: &[u8], signature: Option<&str>) -> Result<Received, WebhookError> {
    verify(signature, body, &c.webhook_secret, c.clock.now().timestamp())?;
    let envelope: Envelope = serde_json::from_slice(body).map_err(|_| WebhookError::Malformed)?;
    if envelope.id.len() > 255 || envelope.kind.len() > 255 {
        return Err(WebhookError::Malformed);
    }
    // A type LSN acts on must decode before anything is written.
    let event = Event::decode(&envelope.kind, &envelope.data.object).map_err(|_| WebhookError::Malformed)?;
    let now = c.clock.now_ms();
    let created = envelope.created;
    let intent = event.as_ref().and_then(Event::intent).map(str::to_string);
    let (id, event_type, raw) = (envelope.id, envelope.kind, String::from_utf8_lossy(body).to_string());
    let about = intent.clone();
    let result = c
        .db
        .transaction_with((id, event_type, raw, intent, c.clone(), event), move |tx, (id, event_type, raw, intent, c, event)| {
            Box::pin(async move {
                let ins = lsn_db::query("INSERT INTO webhook_events (id, provider, type, object_id, created, received_at, payload) VALUES ($1, 'stripe', $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING")
                    .bind(id)
                    .bind(event_type)
                    .bind(intent)
                    .bind(created)
                    .bind(now)
                    .bind(raw)
                    .execute(&mut **tx)
                    .await?;
                if ins.rows_affected() == 0 {
                    return Ok(Received::Duplicate);
                }
                let Some(event) = event else {
                    lsn_db::query("UPDATE webhook_events SET processed_at = $1, outcome = 'ignored' WHERE id = $2").bind(now).bind(id).execute(&mut **tx).await?;
                    return Ok(Received::Ignored);
                };
                let applied = orders::apply_event(c, tx, now, event).await?;
                let outcome = if applied { "applied" } else { "deferred" };
                lsn_db::query("UPDATE webhook_events SET processed_at = CASE WHEN $1 = 'applied' THEN $2 ELSE NULL END, outcome = $1 WHERE id = $3").bind(outcome).bind(now).bind(id).execute(&mut **tx).await?;
                Ok::<_, CommerceError>(if applied { Received::Applied } else { Received::Deferred })
            })
        })
        .await?;
    if result == Received::Applied {
        // What waited for this event is about the same payment: apply it now.
        if let Some(intent) = &about {
            retry_deferred_for(c, intent).await?;
        }
    }
    Ok(result)
}

/// The key of a deferred event in the retry's order.
type Cursor = (i64, i64, String);

/// Applies every deferred event whose predecessor has arrived, oldest first, and records as
/// expired those older than [`DEFERRED_TTL_MS`]. Walks all of them page by page (events about
/// payments that are not LSN's, which never apply, do not hold the others back), at most
/// `RUN_LIMIT` per run. Returns how many were applied.
pub async fn retry_deferred(c: &Commerce) -> Result<usize, CommerceError> {
    let mut applied = 0;
    let mut seen = 0;
    let mut cursor: Cursor = (i64::MIN, i64::MIN, String::new());
    loop {
        let rows = lsn_db::query(
            "SELECT id, type, payload, created, received_at FROM webhook_events WHERE processed_at IS NULL AND outcome = 'deferred' \
             AND (created, received_at, id) > ($1, $2, $3) ORDER BY created, received_at, id LIMIT $4",
        )
        .bind(cursor.0)
        .bind(cursor.1)
        .bind(&cursor.2)
        .bind(PAGE)
        .fetch_all(c.db.read())
        .await?;
        let last = rows.len() < PAGE as usize;
        for r in rows {
            let (id, event_type, raw, created, received_at): (String, String, String, i64, i64) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?);
            cursor = (created, received_at, id.clone());
            seen += 1;
            if retry_one(c, id, event_type, raw, received_at).await? {
                applied += 1;
            }
        }
        if last || seen >= RUN_LIMIT {
            return Ok(applied);
        }
    }
}

/// Applies the deferred events about one payment intent (after an event about it was applied).
async fn retry_deferred_for(c: &Commerce, intent: &str) -> Result<usize, CommerceError> {
    let rows = lsn_db::query(
        "SELECT id, type, payload, received_at FROM webhook_events WHERE processed_at IS NULL AND outcome = 'deferred' AND object_id = $1 \
         ORDER BY created, received_at, id LIMIT 1000",
    )
    .bind(intent)
    .fetch_all(c.db.read())
    .await?;
    let mut applied = 0;
    for r in rows {
        if retry_one(c, r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?).await? {
            applied += 1;
        }
    }
    Ok(applied)
}

/// Tries one deferred event again in its own transaction; an expired one is recorded as such.
async fn retry_one(c: &Commerce, id: String, event_type: String, raw: String, received_at: i64) -> Result<bool, CommerceError> {
    let now = c.clock.now_ms();
    let expired = now - received_at > DEFERRED_TTL_MS;
    // Decoded once, outside the transaction (which may run more than once).
    let event = stored(&raw);
    c.db.transaction_with((id, event_type, event, c.clone()), move |tx, (id, event_type, event, c)| {
        Box::pin(async move {
            // Claim it: another node may be doing the same.
            let still: i64 = lsn_db::query("SELECT COUNT(*) FROM webhook_events WHERE id = $1 AND processed_at IS NULL")
                .bind(id)
                .fetch_one(&mut **tx)
                .await?
                .try_get(0)?;
            if still == 0 {
                return Ok(false);
            }
            let ok = match event {
                Some(event) => orders::apply_event(c, tx, now, event).await?,
                None => {
                    tracing::warn!(event = %id, event_type = %event_type, "a deferred webhook event no longer decodes: recorded as expired");
                    lsn_db::query("UPDATE webhook_events SET processed_at = $1, outcome = 'expired' WHERE id = $2").bind(now).bind(id).execute(&mut **tx).await?;
                    return Ok(false);
                }
            };
            if ok || expired {
                if !ok {
                    tracing::warn!(event = %id, event_type = %event_type, "deferred webhook event expired: what it waited for never arrived");
                }
                lsn_db::query("UPDATE webhook_events SET processed_at = $1, outcome = $2 WHERE id = $3")
                    .bind(now)
                    .bind(if ok { "applied" } else { "expired" })
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
            }
            Ok::<_, CommerceError>(ok)
        })
    })
    .await
}

/// `payments.retry_deferred_events`: the scheduled sweep of [`retry_deferred`].
pub struct RetryJob {
    pub commerce: Commerce,
}

#[async_trait::async_trait]
impl lsn_ops::JobHandler for RetryJob {
    async fn run(&self, _ctx: &lsn_ops::JobContext, _payload: &Value) -> Result<(), lsn_ops::JobError> {
        let n = retry_deferred(&self.commerce).await.map_err(|e| lsn_ops::JobError::Retry(e.to_string()))?;
        if n > 0 {
            tracing::info!(applied = n, "deferred webhook events applied");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let body = br#"{"id":"evt_1"}"#;
        let s = sign("whsec_test", 1_700_000_000, body);
        let ok = format!("t=1700000000,v1={s}");
        assert!(verify(Some(&ok), body, "whsec_test", 1_700_000_100).is_ok());
        // Several v1 values (secret rotation) and other schemes are fine.
        let rotated = format!("t=1700000000,v0=abc,v1={},v1={s}", "0".repeat(64));
        assert!(verify(Some(&rotated), body, "whsec_test", 1_700_000_000).is_ok());
        assert!(matches!(verify(Some(&ok), body, "whsec_other", 1_700_000_000), Err(WebhookError::BadSignature)));
        assert!(matches!(verify(Some(&ok), b"{\"id\":\"evt_2\"}", "whsec_test", 1_700_000_000), Err(WebhookError::BadSignature)));
        assert!(matches!(verify(Some(&ok), body, "whsec_test", 1_700_000_301), Err(WebhookError::Stale)));
        assert!(matches!(verify(None, body, "whsec_test", 0), Err(WebhookError::MissingSignature)));
        assert!(matches!(verify(Some("garbage"), body, "whsec_test", 0), Err(WebhookError::BadSignature)));
        assert!(matches!(verify(Some("t=abc,v1=00"), body, "whsec_test", 0), Err(WebhookError::BadSignature)));
    }
}

#[cfg(test)]
mod properties {
    use super::{sign, verify, TOLERANCE_SECS};
    use proptest::prelude::*;

    proptest! {
        /// Whatever arrives in the header or body, verification answers; it never panics.
        #[test]
        fn any_header_is_answered(header in ".{0,200}", body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = verify(Some(&header), &body, "whsec_test", 1_700_000_000);
        }

        /// A correct signature within the tolerance verifies, among other parts and other v1 values.
        #[test]
        fn signed_bodies_verify(body in proptest::collection::vec(any::<u8>(), 0..300), skew in -TOLERANCE_SECS..=TOLERANCE_SECS, secret in "[a-zA-Z0-9_]{1,40}") {
            let now = 1_700_000_000;
            let t = now + skew;
            let header = format!("t={t},v0=abc,v1={},v1={}", "0".repeat(64), sign(&secret, t, &body));
            prop_assert!(verify(Some(&header), &body, &secret, now).is_ok());
        }

        /// Any change to the body, or a timestamp outside the tolerance, fails.
        #[test]
        fn tampering_fails(body in proptest::collection::vec(any::<u8>(), 1..300), at in 0usize..300, flip in 1u8..=255, late in (TOLERANCE_SECS + 1)..100_000) {
            let now = 1_700_000_000;
            let header = format!("t={now},v1={}", sign("whsec_test", now, &body));
            let mut changed = body.clone();
            let i = at % changed.len();
            changed[i] ^= flip;
            prop_assert!(verify(Some(&header), &changed, "whsec_test", now).is_err());
            prop_assert!(verify(Some(&header), &body, "whsec_test", now + late).is_err());
        }
    }
}
