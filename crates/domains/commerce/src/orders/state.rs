//! The order's states and the one way between them: [`transition`], a conditional update on the
//! expected state plus an `order_transitions` row, inside the caller's transaction.

use super::*;

pub const STATES: &[&str] =
    &["pending_payment", "paid", "processing", "shipped", "delivered", "cancelled", "refunded", "partially_refunded"];

/// The state machine: may an order go from `from` to `to`?
pub fn allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("pending_payment", "paid" | "cancelled")
            | ("paid", "processing" | "cancelled" | "refunded" | "partially_refunded")
            | ("processing", "shipped" | "refunded" | "partially_refunded")
            | ("shipped", "delivered" | "refunded" | "partially_refunded")
            | ("delivered", "refunded" | "partially_refunded")
            | ("partially_refunded", "processing" | "shipped" | "delivered" | "refunded" | "partially_refunded")
    )
    // Never `cancelled → paid`: a cancelled order has given its stock, deal units and discount
    // use back, so a payment that arrives for it is refunded, never applied.
}

/// Moves `order_id` from `from` to `to` if it is still in `from`; records who and why.
pub async fn transition(
    tx: &mut Tx,
    now: i64,
    order_id: &str,
    from: &str,
    to: &str,
    actor: &str,
    reason: &str,
) -> Result<bool, CommerceError> {
    if !allowed(from, to) {
        return Err(CommerceError::rule("invalid_transition", format!("An order cannot go from {from} to {to}.")));
    }
    let r = lsn_db::query("UPDATE orders SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
        .bind(to)
        .bind(now)
        .bind(order_id)
        .bind(from)
        .execute(&mut **tx)
        .await?;
    if r.rows_affected() == 0 {
        return Ok(false);
    }
    record(tx, now, order_id, Some(from), to, actor, reason).await?;
    Ok(true)
}

pub(super) async fn record(
    tx: &mut Tx,
    now: i64,
    order_id: &str,
    from: Option<&str>,
    to: &str,
    actor: &str,
    reason: &str,
) -> Result<(), lsn_db::Error> {
    lsn_db::query(
        "INSERT INTO order_transitions (id, order_id, from_status, to_status, actor, reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(lsn_core::ids::new_id())
    .bind(order_id)
    .bind(from)
    .bind(to)
    .bind(actor)
    .bind(reason)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A short human order number: `LSN-` and six characters without look-alikes.
pub fn order_number() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let s: String = (0..7).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("LSN-{s}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn state_machine() {
        assert!(super::allowed("pending_payment", "paid"));
        assert!(super::allowed("paid", "processing"));
        assert!(!super::allowed("pending_payment", "shipped"));
        assert!(!super::allowed("refunded", "paid"));
        assert!(!super::allowed("delivered", "processing"));
        assert!(!super::allowed("cancelled", "shipped"));
        assert!(!super::allowed("cancelled", "paid"), "a cancelled order is never revived");
        let n = super::order_number();
        assert!(n.starts_with("LSN-") && n.len() == 11);
    }
}
