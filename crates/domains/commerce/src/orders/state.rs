//! The order's states and the one way between them: [`transition`], a conditional update on the
//! expected state plus an `order_transitions` row, inside the caller's transaction.

use super::*;
use lsn_core::i18n;

/// Where an order is. Stored and sent as its snake-case name (`pending_payment`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    Processing,
    Shipped,
    Delivered,
    Cancelled,
    Refunded,
    PartiallyRefunded,
}

lsn_db::bind_as_text!(OrderStatus);

impl OrderStatus {
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::PendingPayment,
        OrderStatus::Paid,
        OrderStatus::Processing,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Refunded,
        OrderStatus::PartiallyRefunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::Processing => "processing",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
            OrderStatus::PartiallyRefunded => "partially_refunded",
        }
    }

    /// The state machine: may an order go from `self` to `to`?
    pub fn can_become(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (PendingPayment, Paid | Cancelled)
                | (Paid, Processing | Cancelled | Refunded | PartiallyRefunded)
                | (Processing, Shipped | Refunded | PartiallyRefunded)
                | (Shipped, Delivered | Refunded | PartiallyRefunded)
                | (Delivered, Refunded | PartiallyRefunded)
                | (PartiallyRefunded, Processing | Shipped | Delivered | Refunded | PartiallyRefunded)
        )
        // Never `Cancelled → Paid`: a cancelled order has given its stock, deal units and
        // discount use back, so a payment that arrives for it is refunded, never applied.
    }

    /// Set by payments and refunds only, never by a person moving the order along.
    pub fn set_by_money(self) -> bool {
        matches!(self, OrderStatus::Paid | OrderStatus::Refunded | OrderStatus::PartiallyRefunded)
    }

    /// The money has come (and the goods are owed or on their way).
    pub fn is_paid(self) -> bool {
        matches!(self, OrderStatus::Paid | OrderStatus::Processing | OrderStatus::Shipped | OrderStatus::Delivered)
    }

    /// A status named in a request: the validation error names the field and the choices.
    pub fn from_field(field: &str, value: &str) -> Result<OrderStatus, CommerceError> {
        value.parse().map_err(|_: UnknownStatus| {
            let choices: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
            CommerceError::Validation(json!({ field: i18n::t_args("commerce-status-choice", &[("choices", &choices.join(", "))]) }))
        })
    }
}

/// A status name this program does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl std::fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} is not an order status", self.0)
    }
}

impl std::str::FromStr for OrderStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderStatus::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Moves `order_id` from `from` to `to` if it is still in `from`; records who and why.
pub async fn transition(
    tx: &mut Tx,
    now: i64,
    order_id: &str,
    from: OrderStatus,
    to: OrderStatus,
    actor: &str,
    reason: &str,
) -> Result<bool, CommerceError> {
    if !from.can_become(to) {
        return Err(CommerceError::rule(
            Code::InvalidTransition,
            i18n::t_args("commerce-transition", &[("from", from.as_str()), ("to", to.as_str())]),
        ));
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
    from: Option<OrderStatus>,
    to: OrderStatus,
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
    use super::OrderStatus::{self, *};

    #[test]
    fn state_machine() {
        assert!(PendingPayment.can_become(Paid));
        assert!(Paid.can_become(Processing));
        assert!(!PendingPayment.can_become(Shipped));
        assert!(!Refunded.can_become(Paid));
        assert!(!Delivered.can_become(Processing));
        assert!(!Cancelled.can_become(Shipped));
        assert!(!Cancelled.can_become(Paid), "a cancelled order is never revived");
        for s in OrderStatus::ALL {
            assert!(!s.can_become(PendingPayment), "nothing goes back to unpaid: {s}");
            assert_eq!(s.as_str().parse::<OrderStatus>(), Ok(s));
            assert_eq!(serde_json::to_value(s).expect("json"), serde_json::json!(s.as_str()));
        }
        assert!("unknown".parse::<OrderStatus>().is_err());
        let n = super::order_number();
        assert!(n.starts_with("LSN-") && n.len() == 11);
    }
}
