//! Stripe's webhook signature, shared by every crate that receives Stripe events (payments in
//! commerce, Connect transfers in payouts).
//!
//! `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`: the expected value is the lower-case hex
//! HMAC-SHA256 of `"{t}.{raw body}"` keyed with the endpoint secret; any `v1` may match (secret
//! rotation), other schemes are ignored; `t` must be within [`TOLERANCE_SECS`] of now.

use hmac::{Mac, SimpleHmac};

pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No `Stripe-Signature` header.
    Missing,
    /// No `t` or `v1`, or no `v1` matches.
    Mismatch,
    /// It matches, but `t` is outside the tolerance.
    Stale,
}

/// Lower-case hex HMAC-SHA256 of `"{t}.{body}"`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = <SimpleHmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a `Stripe-Signature` header against the body at time `now` (Unix seconds).
pub fn verify(header: Option<&str>, body: &[u8], secret: &str, now: i64) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut t: Option<i64> = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse().ok(),
            Some(("v1", v)) => sigs.push(v.to_string()),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Mismatch)?;
    if sigs.is_empty() {
        return Err(SignatureError::Mismatch);
    }
    let expected = sign(secret, t, body);
    use subtle::ConstantTimeEq;
    if !sigs.iter().any(|s| s.len() == expected.len() && bool::from(s.as_bytes().ct_eq(expected.as_bytes()))) {
        return Err(SignatureError::Mismatch);
    }
    if (now - t).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let body = br#"{"id":"evt_1"}"#;
        let s = sign("whsec_test", 1_700_000_000, body);
        assert!(verify(Some(&format!("t=1700000000,v1={s}")), body, "whsec_test", 1_700_000_299).is_ok());
        assert_eq!(verify(Some(&format!("t=1700000000,v1={s}")), body, "whsec_test", 1_700_000_301), Err(SignatureError::Stale));
        assert_eq!(verify(Some(&format!("t=1700000000,v1={s}")), b"{}", "whsec_test", 1_700_000_000), Err(SignatureError::Mismatch));
        assert_eq!(verify(None, body, "whsec_test", 0), Err(SignatureError::Missing));
    }
}
