//! Allow and block lists: an e-mail, an e-mail domain, an IP address or CIDR range, a browser
//! (its visitor id), a card fingerprint or a shipping address, each with its reason, an optional
//! expiry and an audit of who added and removed it. A block list entry declines an order
//! outright (score 100, reason `blocked_<kind>`); an allow list entry approves it (score 0).

use crate::{Code, Risk, RiskError};
use lsn_core::i18n;
use lsn_db::RowExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::net::IpAddr;

pub const KINDS: &[&str] = &["email", "domain", "ip", "device", "card", "address"];

/// An entry as given by staff.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    pub list: String,
    pub kind: String,
    pub value: String,
    pub reason: String,
    /// When it stops counting (ms since the epoch); none: until removed.
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Entry {
    pub id: String,
    pub list: String,
    pub kind: String,
    pub value: String,
    pub reason: String,
    pub expires_at: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
}

/// An IPv4 or IPv6 network: an address, or an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 3 => {
                p.parse::<u8>().ok().filter(|p| *p <= max)?
            }
            Some(_) => return None,
            None => max,
        };
        Some(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |a: IpAddr| -> (u128, u8) {
            match a {
                IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
                IpAddr::V6(v) => (u128::from(v), 128),
            }
        };
        let ((net, w), (x, w2)) = (bits(self.addr), bits(ip));
        if w != w2 {
            return false;
        }
        if self.prefix == 0 {
            return true;
        }
        let shift = u32::from(w - self.prefix);
        (net >> shift) == (x >> shift)
    }

    /// The canonical text: the network address and its prefix.
    pub fn canonical(&self) -> String {
        let masked = match self.addr {
            IpAddr::V4(v) => {
                let m = if self.prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(self.prefix)) };
                IpAddr::V4((u32::from(v) & m).into())
            }
            IpAddr::V6(v) => {
                let m = if self.prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(self.prefix)) };
                IpAddr::V6((u128::from(v) & m).into())
            }
        };
        format!("{masked}/{}", self.prefix)
    }
}

/// The first address a network string names (`203.0.113.7`, `203.0.113.0/24`, `2001:db8::/48`).
fn network_ip(network: &str) -> Option<IpAddr> {
    network.split(['/', ' ']).next().and_then(|a| a.trim().parse().ok())
}

/// The value as stored, checked and normalised for its kind.
fn normalise(kind: &str, value: &str) -> Result<String, RiskError> {
    let v = value.trim();
    if v.is_empty() || v.len() > 300 {
        return Err(RiskError::field("value", i18n::t("risk-list-value")));
    }
    Ok(match kind {
        "email" => lsn_core::Email::parse(v).map_err(|_| RiskError::field("value", i18n::t("risk-list-email")))?.identity(),
        "domain" => {
            let d = v.trim_start_matches('@').to_ascii_lowercase();
            let ok = d.contains('.')
                && d.split('.').all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
            if !ok {
                return Err(RiskError::field("value", i18n::t("risk-list-domain")));
            }
            d
        }
        "ip" => Cidr::parse(v).ok_or_else(|| RiskError::field("value", i18n::t("risk-list-cidr")))?.canonical(),
        "device" => {
            if !lsn_core::ids::is_valid_id(v) {
                return Err(RiskError::field("value", i18n::t("risk-list-device")));
            }
            v.to_string()
        }
        // A card's fingerprint as the checks store it (a hash), or `brand:last4` to hash here.
        "card" => {
            if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
                v.to_ascii_lowercase()
            } else if let Some((brand, last4)) =
                v.split_once(':').filter(|(b, l)| !b.is_empty() && l.len() == 4 && l.bytes().all(|c| c.is_ascii_digit()))
            {
                lsn_core::ids::hash_token(&format!("{}:{last4}", brand.to_ascii_lowercase()))
            } else {
                return Err(RiskError::field("value", i18n::t("risk-list-card")));
            }
        }
        // An address as the checks key it (see `check::address_key`): given as its JSON.
        "address" => {
            let a: Value = serde_json::from_str(v).map_err(|_| RiskError::field("value", i18n::t("risk-list-address")))?;
            if !a.is_object() || a["line1"].as_str().is_none_or(|l| l.trim().is_empty()) {
                return Err(RiskError::field("value", i18n::t("risk-list-address")));
            }
            crate::check::address_key(&a)
        }
        _ => return Err(RiskError::field("kind", i18n::t("risk-list-kind"))),
    })
}

const COLS: &str = "id, list, kind, value, reason, expires_at, created_by, created_at";

fn entry_row(r: &lsn_db::Row) -> Result<Entry, lsn_db::Error> {
    Ok(Entry {
        id: r.try_get(0)?,
        list: r.try_get(1)?,
        kind: r.try_get(2)?,
        value: r.try_get(3)?,
        reason: r.try_get(4)?,
        expires_at: r.try_get(5)?,
        created_by: r.try_get(6)?,
        created_at: r.try_get(7)?,
    })
}

impl Risk {
    /// Adds an entry (staff). Bad input is refused with its field named; nothing is written.
    pub async fn add_entry(&self, e: &NewEntry, who: &str) -> Result<Entry, RiskError> {
        if !["block", "allow"].contains(&e.list.as_str()) {
            return Err(RiskError::field("list", i18n::t("risk-list-list")));
        }
        if !KINDS.contains(&e.kind.as_str()) {
            return Err(RiskError::field("kind", i18n::t("risk-list-kind")));
        }
        let value = normalise(&e.kind, &e.value)?;
        let reason = e.reason.trim().to_string();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(RiskError::field("reason", i18n::t("risk-list-reason")));
        }
        let now = self.clock.now_ms();
        if e.expires_at.is_some_and(|x| x <= now || x > now + 3_650 * 86_400_000) {
            return Err(RiskError::field("expires_at", i18n::t("risk-list-expiry")));
        }
        let entry = Entry {
            id: lsn_core::ids::new_id(),
            list: e.list.clone(),
            kind: e.kind.clone(),
            value,
            reason,
            expires_at: e.expires_at,
            created_by: who.to_string(),
            created_at: now,
        };
        let en = entry.clone();
        let added = self
            .db
            .transaction(move |tx| {
                let e = en.clone();
                Box::pin(async move {
                    // An expired entry of the same value gives way to the new one.
                    lsn_db::query("DELETE FROM risk_lists WHERE list = $1 AND kind = $2 AND value = $3 AND expires_at IS NOT NULL AND expires_at <= $4")
                        .bind(&e.list)
                        .bind(&e.kind)
                        .bind(&e.value)
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                    let r = lsn_db::query(&format!("INSERT INTO risk_lists ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (list, kind, value) DO NOTHING"))
                        .bind(&e.id)
                        .bind(&e.list)
                        .bind(&e.kind)
                        .bind(&e.value)
                        .bind(&e.reason)
                        .bind(e.expires_at)
                        .bind(&e.created_by)
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                    if r.rows_affected() == 0 {
                        return Ok(false);
                    }
                    audit(tx, now, &e, "added", &e.created_by).await?;
                    Ok::<_, lsn_db::Error>(true)
                })
            })
            .await?;
        if !added {
            return Err(RiskError::rule(Code::ListEntryExists, i18n::t("risk-list-exists")));
        }
        Ok(entry)
    }

    /// Removes an entry (staff), with the audit's record of who did.
    pub async fn remove_entry(&self, id: &str, who: &str) -> Result<Entry, RiskError> {
        let r = lsn_db::query(&format!("SELECT {COLS} FROM risk_lists WHERE id = $1")).bind(id).fetch_optional(self.db.read()).await?;
        let e = r.map(|r| entry_row(&r)).transpose()?.ok_or(RiskError::NotFound)?;
        let now = self.clock.now_ms();
        let (en, who) = (e.clone(), who.to_string());
        let removed = self
            .db
            .transaction(move |tx| {
                let (e, who) = (en.clone(), who.clone());
                Box::pin(async move {
                    let r = lsn_db::query("DELETE FROM risk_lists WHERE id = $1").bind(&e.id).execute(&mut **tx).await?;
                    if r.rows_affected() == 0 {
                        return Ok(false);
                    }
                    audit(tx, now, &e, "removed", &who).await?;
                    Ok::<_, lsn_db::Error>(true)
                })
            })
            .await?;
        if !removed {
            return Err(RiskError::NotFound);
        }
        Ok(e)
    }

    /// The entries in force (unexpired), newest first.
    pub async fn entries(&self, list: Option<&str>) -> Result<Vec<Entry>, RiskError> {
        let now = self.clock.now_ms();
        let rows = lsn_db::query(&format!(
            "SELECT {COLS} FROM risk_lists WHERE ($1 = '' OR list = $1) AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at DESC, id LIMIT 1000"
        ))
        .bind(list.unwrap_or(""))
        .bind(now)
        .fetch_all(self.db.read())
        .await?;
        Ok(rows.iter().map(entry_row).collect::<Result<_, _>>()?)
    }

    /// The audit of the lists, newest first.
    pub async fn list_audit(&self, limit: i64) -> Result<Vec<Value>, RiskError> {
        let rows = lsn_db::query(
            "SELECT entry_id, action, list, kind, value, reason, actor, at FROM risk_list_audit ORDER BY at DESC, id DESC LIMIT $1",
        )
        .bind(limit.clamp(1, 1000))
        .fetch_all(self.db.read())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(json!({
                    "entry_id": r.try_get::<String, _>(0)?, "action": r.try_get::<String, _>(1)?, "list": r.try_get::<String, _>(2)?,
                    "kind": r.try_get::<String, _>(3)?, "value": r.try_get::<String, _>(4)?, "reason": r.try_get::<String, _>(5)?,
                    "actor": r.try_get::<String, _>(6)?, "at": r.try_get::<i64, _>(7)?,
                }))
            })
            .collect()
    }

    /// Which block list entries match an order's keys (their reasons), and whether an allow
    /// list entry does.
    pub(crate) async fn listed(
        &self,
        email: &str,
        domain: &str,
        network: Option<&str>,
        device: Option<&str>,
        card: Option<&str>,
        address: &str,
    ) -> Result<(Vec<crate::check::Reason>, bool), RiskError> {
        let now = self.clock.now_ms();
        let rows = lsn_db::query(
            "SELECT list, kind, value, reason FROM risk_lists WHERE (expires_at IS NULL OR expires_at > $1) AND \
             ((kind = 'email' AND value = $2) OR (kind = 'domain' AND value = $3) OR (kind = 'device' AND value = $4) OR (kind = 'card' AND value = $5) OR (kind = 'address' AND value = $6) OR kind = 'ip')",
        )
        .bind(now)
        .bind(email)
        .bind(domain)
        .bind(device.unwrap_or(""))
        .bind(card.unwrap_or(""))
        .bind(address)
        .fetch_all(self.db.read())
        .await?;
        let ip = network.and_then(network_ip);
        let mut blocked = Vec::new();
        let mut allowed = false;
        for r in rows {
            let (list, kind, value, reason): (String, String, String, String) =
                (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
            if kind == "ip" && !(ip.is_some_and(|ip| Cidr::parse(&value).is_some_and(|c| c.contains(ip)))) {
                continue;
            }
            if list == "block" {
                blocked.push(crate::check::Reason { code: format!("blocked_{kind}"), detail: reason, weight: 100.0 });
            } else {
                allowed = true;
            }
        }
        Ok((blocked, allowed))
    }
}

async fn audit(tx: &mut lsn_db::Tx, now: i64, e: &Entry, action: &str, actor: &str) -> Result<(), lsn_db::Error> {
    lsn_db::query("INSERT INTO risk_list_audit (id, entry_id, action, list, kind, value, reason, actor, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(lsn_core::ids::new_id())
        .bind(&e.id)
        .bind(action)
        .bind(&e.list)
        .bind(&e.kind)
        .bind(&e.value)
        .bind(&e.reason)
        .bind(actor)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_strictly_and_match_their_range() {
        let c = Cidr::parse("203.0.113.0/24").expect("cidr");
        assert!(c.contains("203.0.113.77".parse().expect("ip")));
        assert!(!c.contains("203.0.114.1".parse().expect("ip")));
        assert_eq!(Cidr::parse("203.0.113.9/24").map(|c| c.canonical()).as_deref(), Some("203.0.113.0/24"));
        assert!(Cidr::parse("2001:db8::/32").expect("v6").contains("2001:db8:1::5".parse().expect("ip")));
        assert!(Cidr::parse("0.0.0.0/0").expect("all").contains("8.8.8.8".parse().expect("ip")));
        for bad in ["203.0.113.0/33", "203.0.113.0/", "300.1.1.1", "1.2.3.4/x", "1.2.3.4/-1", "::/129", "", "1.2.3"] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn values_are_checked_for_their_kind() {
        assert!(normalise("email", "not-an-email").is_err());
        assert_eq!(normalise("email", "A@Example.com").ok().as_deref(), Some("a@example.com"));
        assert_eq!(normalise("domain", "@Mailinator.COM").ok().as_deref(), Some("mailinator.com"));
        assert!(normalise("domain", "no_dots").is_err());
        assert!(normalise("card", "visa:12").is_err());
        assert_eq!(normalise("card", "visa:4242").ok().map(|v| v.len()), Some(64));
        assert!(normalise("address", "{\"line2\": \"x\"}").is_err());
        assert!(normalise("device", "not an id").is_err());
        assert!(normalise("fax", "x").is_err());
    }
}
