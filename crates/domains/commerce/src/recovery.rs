//! The runbook's "abandoned-cart recovery: every 2 hours" task: a signed-in customer whose cart
//! has sat with items for more than 2 hours (and less than 7 days), who has not placed an order
//! since, gets one reminder by mail, in their language, per time the cart is left. An autonomous
//! task: it runs only with `ENABLE_AUTONOMOUS=true`.

use crate::Commerce;
use lsn_core::i18n::Locale;
use lsn_db::RowExt;
use serde_json::Value;

pub const ABANDONED_CARTS_JOB: &str = "commerce.abandoned_carts";

/// How long a cart sits before it counts as left behind, and how old a cart is still worth a
/// reminder.
pub const ABANDONED_AFTER_MS: i64 = 2 * 3600 * 1000;
pub const TOO_OLD_MS: i64 = 7 * 24 * 3600 * 1000;

pub fn schedule() -> lsn_ops::Schedule {
    lsn_ops::Schedule {
        name: "abandoned_cart_recovery",
        cron: "0 0 */2 * * *",
        job_kind: ABANDONED_CARTS_JOB,
        payload: serde_json::json!({}),
        description: "Mail one reminder to each signed-in customer whose cart has sat for over 2 hours (every 2 hours)",
        autonomous: true,
    }
}

pub struct AbandonedCarts(pub Commerce);

struct Left {
    cart: String,
    updated_at: i64,
    email: String,
    name: String,
    locale: Option<String>,
    items: i64,
}

#[async_trait::async_trait]
impl lsn_ops::JobHandler for AbandonedCarts {
    async fn run(&self, ctx: &lsn_ops::JobContext, _payload: &Value) -> Result<(), lsn_ops::JobError> {
        let c = &self.0;
        let retry = |e: lsn_db::Error| lsn_ops::JobError::Retry(e.to_string());
        let now = ctx.clock.now_ms();
        // The contact comes from identity's public view; the cart and the orders are commerce's.
        let rows = lsn_db::query(
            "SELECT c.id, c.updated_at, u.email, u.name, u.locale, \
             CAST((SELECT COALESCE(SUM(i.quantity), 0) FROM cart_items i WHERE i.cart_id = c.id) AS BIGINT) AS items \
             FROM carts c JOIN user_contacts u ON u.id = c.user_id \
             WHERE c.updated_at <= $1 AND c.updated_at >= $2 \
             AND (c.recovery_sent_at IS NULL OR c.recovery_sent_at <= c.updated_at) \
             AND EXISTS (SELECT 1 FROM cart_items i WHERE i.cart_id = c.id) \
             AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = c.user_id AND o.placed_at >= c.updated_at) \
             ORDER BY c.updated_at LIMIT 200",
        )
        .bind(now - ABANDONED_AFTER_MS)
        .bind(now - TOO_OLD_MS)
        .fetch_all(c.db.read())
        .await
        .map_err(retry)?;
        let left: Vec<Left> = rows
            .iter()
            .map(|r| {
                Ok(Left {
                    cart: r.try_get("id")?,
                    updated_at: r.try_get("updated_at")?,
                    email: r.try_get("email")?,
                    name: r.try_get("name")?,
                    locale: r.try_get("locale")?,
                    items: r.try_get("items")?,
                })
            })
            .collect::<Result<_, lsn_db::Error>>()
            .map_err(retry)?;
        let link = format!("{}/cart", c.cfg.public_url.trim_end_matches('/'));
        let mut sent = 0;
        for l in left {
            let lang = l.locale.as_deref().and_then(Locale::parse).unwrap_or_default();
            let items = l.items.to_string();
            let msg = lsn_mail::Message {
                to: l.email.clone(),
                subject: lang.t("email-cart-subject"),
                text: [
                    lang.t_args("email-cart-greeting", &[("name", &l.name)]),
                    lang.t_args("email-cart-intro", &[("count", &items), ("shop", &c.cfg.shop_name)]),
                    lang.t_args("email-cart-action", &[("link", &link)]),
                    lang.t("email-cart-ignore"),
                ]
                .join("\n\n"),
                html: None,
                tag: Some("abandoned_cart".into()),
                message_id: Some(format!("cart-recovery-{}-{}", l.cart, l.updated_at)),
                attachments: Vec::new(),
            };
            let (cart, updated_at) = (l.cart.clone(), l.updated_at);
            c.db.transaction(move |tx| {
                let (cart, msg) = (cart.clone(), msg.clone());
                Box::pin(async move {
                    // Once: only the run that marks the cart sends its reminder. A cart changed in
                    // the same millisecond as its mark (`recovery_sent_at = updated_at`) counts as
                    // left again: a mark is always at least 2 hours after the change it answers.
                    let marked = lsn_db::query(
                        "UPDATE carts SET recovery_sent_at = $1 WHERE id = $2 AND updated_at = $3 \
                         AND (recovery_sent_at IS NULL OR recovery_sent_at <= updated_at)",
                    )
                    .bind(now)
                    .bind(&cart)
                    .bind(updated_at)
                    .execute(&mut **tx)
                    .await?;
                    if marked.rows_affected() == 1 {
                        lsn_ops::builtin::queue_mail(tx, now, msg).await?;
                        return Ok::<_, lsn_db::Error>(true);
                    }
                    Ok(false)
                })
            })
            .await
            .map_err(retry)?
            .then(|| sent += 1);
        }
        ctx.report(format!("{sent} reminders sent"));
        Ok(())
    }
}
