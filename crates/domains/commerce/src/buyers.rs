//! Who is buying, as far as limits go. One person may arrive as a guest with `ann+1@…`, as
//! `a.n.n@gmail.com`, signed in, from another tab: per-customer limits (a product's, a deal's, a
//! discount code's) are taken under every identity the buyer shows — the normalised e-mail
//! address, the account, the browser — so none of them gets around another. And the unpaid
//! checkouts one buyer, one network source or one shipping address holds at once are capped
//! (`LSN_MAX_UNPAID_CHECKOUTS`, default 3), so a few carts cannot hold a product's whole stock or
//! a code's every use while nobody pays; what an unpaid order took comes back when it is paid
//! or cancelled (an expired reservation cancels it).

use crate::address::Address;
use crate::Code;
use crate::CommerceError;
use lsn_core::i18n;
use lsn_db::{RowExt, Tx};

/// The buyer behind a checkout: the signed-in user (if any), the network the request came from
/// (`lsn_identity::ClientMeta::network`) and the browser (a cookie it carries), when known.
#[derive(Debug, Clone, Default)]
pub struct Buyer {
    pub user: Option<lsn_identity::User>,
    pub network: String,
    pub device: Option<String>,
    /// The visitor cookie (`VISITOR_COOKIE`) a referral click set: kept with the order so the
    /// creators domain can tie the click to it.
    pub visitor: Option<String>,
}

/// The cookie a referral click sets: one random id per browser.
pub const VISITOR_COOKIE: &str = "lsn_vid";

impl Buyer {
    pub fn new(user: Option<&lsn_identity::User>, meta: &lsn_identity::ClientMeta, device: Option<&str>) -> Self {
        Self { user: user.cloned(), network: meta.network(), device: device.map(str::to_string), visitor: None }
    }

    /// The visitor cookie's value, when it is a well-formed id (anything else is ignored).
    pub fn with_visitor(mut self, visitor: Option<&str>) -> Self {
        self.visitor = visitor.filter(|v| lsn_core::ids::is_valid_id(v)).map(str::to_string);
        self
    }
}

/// The identities per-customer limits are taken under, for a buyer paying from `email`.
pub fn limit_keys(buyer: &Buyer, email: &lsn_core::Email) -> Vec<String> {
    let mut keys = vec![format!("email:{}", email.identity())];
    if let Some(u) = &buyer.user {
        keys.push(format!("user:{}", u.id));
    }
    if let Some(d) = &buyer.device {
        keys.push(format!("device:{}", lsn_core::ids::hash_token(d)));
    }
    keys
}

/// What an unpaid checkout is counted under: each identity of the buyer, the address the goods
/// go to (normalised: case, spaces and punctuation do not make another one) and, unless the cap
/// per network is off, its network. Sorted, so every transaction takes their rows in one order.
pub fn unpaid_keys(limit_keys: &[String], network: &str, address: &Address, per_network: bool) -> Vec<String> {
    let norm = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
    let place = format!("{}|{}|{}", norm(&address.line1), norm(address.line2.as_deref().unwrap_or("")), norm(&address.postcode));
    let mut keys: Vec<String> = limit_keys.iter().map(|k| format!("buyer:{k}")).collect();
    if per_network {
        keys.push(format!("net:{network}"));
    }
    keys.push(format!("addr:{}", lsn_core::ids::hash_token(&place)));
    keys.sort();
    keys
}

/// Counts one more unpaid checkout under every key, or refuses when one of them already holds
/// `limit` (the caller's transaction then changes nothing). One statement for all the keys.
pub async fn take_unpaid(tx: &mut Tx, keys: &[String], limit: i64, per_network: i64) -> Result<(), CommerceError> {
    if keys.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..keys.len()).map(|i| format!("(${}, 1)", i + 3)).collect();
    let sql = format!(
        "INSERT INTO unpaid_checkouts (key, count) VALUES {} \
         ON CONFLICT (key) DO UPDATE SET count = unpaid_checkouts.count + 1 \
         WHERE unpaid_checkouts.count < CASE WHEN unpaid_checkouts.key LIKE 'net:%' THEN $2 ELSE $1 END",
        rows.join(", ")
    );
    let mut q = lsn_db::query(&sql).bind(limit).bind(per_network);
    for k in keys {
        q = q.bind(k);
    }
    if q.execute(&mut **tx).await?.rows_affected() < keys.len() as u64 {
        return Err(CommerceError::rule(
            Code::TooManyUnpaidOrders,
            i18n::t_args("commerce-too-many-unpaid", &[("limit", &limit.to_string())]),
        ));
    }
    Ok(())
}

/// Gives back what an order counted while unpaid (once: the order forgets its keys).
pub async fn release_unpaid(tx: &mut Tx, order_id: &str) -> Result<(), lsn_db::Error> {
    let keys: Option<String> =
        lsn_db::query("SELECT unpaid_keys FROM orders WHERE id = $1").bind(order_id).fetch_one(&mut **tx).await?.try_get(0)?;
    let Some(keys) = keys else { return Ok(()) };
    let forgot = lsn_db::query("UPDATE orders SET unpaid_keys = NULL WHERE id = $1 AND unpaid_keys = $2")
        .bind(order_id)
        .bind(&keys)
        .execute(&mut **tx)
        .await?;
    if forgot.rows_affected() == 0 {
        return Ok(());
    }
    release_keys(tx, &keys).await
}

/// Counts one unpaid checkout fewer under each of `keys` (an order's `unpaid_keys`, which the
/// caller has just cleared on the order in the same transaction).
pub async fn release_keys(tx: &mut Tx, keys: &str) -> Result<(), lsn_db::Error> {
    // One at a time in the keys' (sorted) order: the order every checkout takes them in. A key
    // that drops to nothing is deleted, so the table holds only what is unpaid now.
    for k in keys.split(' ').filter(|k| !k.is_empty()) {
        let gone = lsn_db::query("DELETE FROM unpaid_checkouts WHERE key = $1 AND count <= 1").bind(k).execute(&mut **tx).await?;
        if gone.rows_affected() == 0 {
            lsn_db::query("UPDATE unpaid_checkouts SET count = count - 1 WHERE key = $1 AND count > 1").bind(k).execute(&mut **tx).await?;
        }
    }
    Ok(())
}

/// The keys an order's per-customer limits were taken under (its customer key alone for orders
/// placed before they were recorded).
pub async fn order_limit_keys(tx: &mut Tx, order_id: &str) -> Result<Vec<String>, lsn_db::Error> {
    let r = lsn_db::query("SELECT limit_keys, customer_key FROM orders WHERE id = $1").bind(order_id).fetch_one(&mut **tx).await?;
    let (keys, customer): (Option<String>, String) = (r.try_get(0)?, r.try_get(1)?);
    Ok(match keys {
        Some(k) if !k.is_empty() => k.split(' ').map(str::to_string).collect(),
        _ => vec![customer],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_person_one_identity() {
        let buyer = Buyer { user: None, network: "192.0.2.1".into(), device: Some("cookie".into()), visitor: None };
        let a = limit_keys(&buyer, &lsn_core::Email::parse("A.N.N+1@gmail.com").expect("email"));
        let b = limit_keys(&buyer, &lsn_core::Email::parse("ann@googlemail.com").expect("email"));
        assert_eq!(a, b);
        assert!(a[0] == "email:ann@gmail.com" && a[1].starts_with("device:"));
        let addr = |line1: &str| Address {
            name: "A".into(),
            line1: line1.into(),
            line2: None,
            suburb: "Sydney".into(),
            state: "NSW".into(),
            postcode: "2000".into(),
            phone: None,
        };
        assert_eq!(unpaid_keys(&a, "n", &addr("1 George St"), true), unpaid_keys(&a, "n", &addr("1 GEORGE ST."), true));
        assert_ne!(unpaid_keys(&a, "n", &addr("1 George St"), true), unpaid_keys(&a, "n", &addr("2 George St"), true));
        let keys = unpaid_keys(&a, "n", &addr("1 George St"), true);
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "sorted: {keys:?}");
        assert!(!unpaid_keys(&a, "n", &addr("1 George St"), false).iter().any(|k| k.starts_with("net:")));
    }
}
