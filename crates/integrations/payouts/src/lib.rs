//! Creator payouts through one trait, [`PayoutProvider`], with three implementations:
//!
//! - [`Sandbox`] (the default): keeps its transfers in `payout_sandbox_transfers`, validates
//!   accounts as Wise does and plays Wise's transfer state machine over time, handing back each
//!   state change as a signed `transfers#state-change` webhook delivery;
//! - [`Wise`] (when `WISE_API_TOKEN` is set): recipients, quotes, transfers in a batch group,
//!   one balance payment for the group, the state-change webhook verified by its RSA signature;
//! - [`StripeConnect`] (when `STRIPE_SECRET_KEY` is a real key): `POST /v1/transfers` to a
//!   connected account, `transfer.created` / `transfer.reversed` webhooks.
//!
//! Every payout is idempotent end to end on its `payout_id`: it is Wise's
//! `customerTransactionId`, Stripe's `Idempotency-Key` and the sandbox's unique key, so a retried
//! job, a re-run after a SIGKILL or a repeated webhook never pays twice. Bank details are
//! validated ([`Account::validate`]) before anything is sent; an invalid account is a clear
//! [`PayoutError::Invalid`] and nothing is paid.
//!
//! This crate owns no business rules about who is owed what (the creators domain does) and
//! never touches another domain's tables. It is called from jobs, never inside a request.

mod account;
mod sandbox;
pub mod signature;
mod stripe;
mod wise;

pub use account::{masked_digits, Account, Invalid};
pub use sandbox::{Delivery, Sandbox, SandboxOptions, SandboxTransfer, SANDBOX_PROFILE_ID, SANDBOX_SUBSCRIPTION_ID};
pub use stripe::{is_real_key, StripeConnect};
pub use wise::{Wise, WiseOptions};

use lsn_core::Config;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The schema step of this crate's tables (the sandbox's transfers and the Wise client's open
/// batch groups). The creators domain lists it among its migrations.
pub const MIGRATION: lsn_db::Migration =
    lsn_db::Migration::portable(31, "payout sandbox", include_str!("../migrations/0031_payout_sandbox.sql"));

/// The most transfers one Wise batch group holds; [`PayoutProvider::pay`] takes at most this many.
pub const MAX_BATCH: usize = 1_000;

/// One payout to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// A UUIDv7, the idempotency key everywhere: Wise's `customerTransactionId`, Stripe's
    /// `Idempotency-Key`. The same payout retried must carry the same id.
    pub payout_id: String,
    /// What the recipient receives, in minor units of `currency`.
    pub amount_minor: i64,
    /// ISO 4217, upper case.
    pub currency: String,
    /// When set, `amount_minor` is in this currency instead: what the shop pays out of its
    /// balance, converted into `currency` at the provider's quote (Wise's `sourceAmount`).
    #[serde(default)]
    pub source_currency: Option<String>,
    pub recipient: Recipient,
    /// What the recipient's statement shows (Wise's `details.reference`, Stripe's description
    /// and transfer group). Keep it short: some payout routes cut it at 10 to 18 characters.
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub holder_name: String,
    pub email: Option<String>,
    pub account: Account,
}

/// Where a payout stands, the same words for every provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Created, not yet funded or processing.
    Submitted,
    Processing,
    /// Paid: Wise's `outgoing_payment_sent`, a Stripe transfer created.
    Sent,
    Failed,
    Cancelled,
    /// The money came back: Wise's `bounced_back` / `funds_refunded` / `charged_back`, a Stripe
    /// transfer reversed.
    Returned,
}

impl State {
    /// Wise's transfer status, as its API and its webhooks name it.
    pub fn from_wise(status: &str) -> State {
        match status.trim().to_ascii_lowercase().as_str() {
            "incoming_payment_waiting" | "incoming_payment_initiated" | "waiting_recipient_input_to_proceed" => State::Submitted,
            "processing" | "funds_converted" => State::Processing,
            "outgoing_payment_sent" => State::Sent,
            "cancelled" => State::Cancelled,
            "bounced_back" | "funds_refunded" | "charged_back" => State::Returned,
            "failed" => State::Failed,
            // `unknown` and any status Wise adds later: still moving, ask again later.
            _ => State::Processing,
        }
    }

    /// No further change is expected in the normal course of things. A `Sent` transfer can still
    /// bounce days later (Wise's `bounced_back`, a Stripe reversal): consumers accept
    /// `Sent → Returned`.
    pub fn is_final(self) -> bool {
        matches!(self, State::Sent | State::Failed | State::Cancelled | State::Returned)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Submitted => "submitted",
            State::Processing => "processing",
            State::Sent => "sent",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
            State::Returned => "returned",
        }
    }
}

/// A payout the provider holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Submitted {
    pub payout_id: String,
    /// The provider's id: Wise's transfer id, Stripe's `tr_…`, the sandbox's transfer id.
    pub provider_ref: String,
    pub state: State,
}

/// A state change a webhook reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub provider_ref: String,
    /// When the delivery names it (Stripe's `metadata[payout_id]`; Wise's webhooks do not).
    pub payout_id: Option<String>,
    pub state: State,
    /// When the change happened at the provider (Wise's `data.occurred_at`, Stripe's `created`):
    /// deliveries come late and out of order, so apply changes in this order.
    pub occurred_at_ms: i64,
    /// The delivery's id (Wise's `X-Delivery-Id`, Stripe's event id): a repeated delivery
    /// carries the same one.
    pub delivery_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayoutError {
    /// The bank details or the payout itself are wrong: nothing was paid; fix the input.
    #[error("invalid {}: {}", .0.field, .0.message)]
    Invalid(Invalid),
    /// Permanent: the provider refused, retrying the same request will not help.
    #[error("rejected: {0}")]
    Rejected(String),
    /// Temporary: the provider is down, slow, rate-limiting or short of funds; retry later with
    /// the same payout ids.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A webhook delivery without a valid signature.
    #[error("webhook signature missing or invalid")]
    Signature,
    /// The provider does not know this transfer.
    #[error("unknown transfer {0}")]
    UnknownTransfer(String),
}

impl PayoutError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PayoutError::Unavailable(_))
    }

    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        PayoutError::Invalid(Invalid { field, message: message.into() })
    }
}

impl From<Invalid> for PayoutError {
    fn from(e: Invalid) -> Self {
        PayoutError::Invalid(e)
    }
}

impl From<lsn_db::Error> for PayoutError {
    fn from(e: lsn_db::Error) -> Self {
        PayoutError::Unavailable(format!("database: {e}"))
    }
}

#[async_trait::async_trait]
pub trait PayoutProvider: Send + Sync {
    /// `sandbox`, `wise` or `stripe_connect`.
    fn name(&self) -> &'static str;
    /// Whether this provider can pay into `account`: Stripe Connect only a connected account,
    /// Wise and the sandbox every bank account type.
    fn supports(&self, account: &Account) -> bool;
    /// Pays a batch (≤ [`MAX_BATCH`]) — idempotent per payout_id: repeating a call (after a
    /// crash, a timeout, a retry) with the same payout ids never creates a second transfer; it
    /// returns the existing one. One item's failure does not fail the others. The outer error is
    /// for a failure of the whole call (nothing could be reached); the answers are in the
    /// batch's order.
    async fn pay(&self, batch: &[Transfer]) -> Result<Vec<Result<Submitted, PayoutError>>, PayoutError>;
    /// Asks the provider where a transfer stands now.
    async fn state(&self, provider_ref: &str) -> Result<State, PayoutError>;
    /// Verifies and parses a webhook delivery (raw body); `Signature` on a bad or missing
    /// signature; test pings and event types that say nothing about a transfer's state →
    /// `Ok(vec![])`.
    fn parse_webhook(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<Vec<Event>, PayoutError>;
}

/// The payout provider for bank accounts the configuration asks for: Wise when
/// `WISE_API_TOKEN` is set, else the sandbox.
pub fn from_config(cfg: &Config, db: lsn_db::Db) -> Result<Arc<dyn PayoutProvider>, PayoutError> {
    match Wise::from_config(cfg, db.clone())? {
        Some(w) => Ok(Arc::new(w)),
        None => Ok(Arc::new(Sandbox::new(db))),
    }
}

/// The Stripe Connect provider when `STRIPE_SECRET_KEY` is a real key (`sk_…` or `rk_…`); else
/// `None` (there is no Stripe Connect sandbox: the bank-account sandbox stands in).
pub fn stripe_connect_from_config(cfg: &Config) -> Option<Arc<dyn PayoutProvider>> {
    StripeConnect::from_config(cfg).map(|s| Arc::new(s) as Arc<dyn PayoutProvider>)
}

/// Checks what every provider checks before it sends anything: the amount, the currency, the
/// holder's name, the account (normalised) and the currency the account is paid in.
pub(crate) fn check_transfer(t: &Transfer) -> Result<Account, PayoutError> {
    if t.payout_id.trim().is_empty() || t.payout_id.len() > 255 {
        return Err(PayoutError::invalid("payout_id", "A payout needs an id of 1 to 255 characters."));
    }
    if t.amount_minor <= 0 {
        return Err(PayoutError::invalid("amount", "A payout must be more than zero."));
    }
    if t.currency.len() != 3 || !t.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(PayoutError::invalid("currency", format!("{:?} is not an ISO 4217 code like AUD.", t.currency)));
    }
    let name = t.recipient.holder_name.trim();
    if name.is_empty() || name.chars().count() > 140 {
        return Err(PayoutError::invalid("holder_name", "The account holder's name is required (at most 140 characters)."));
    }
    let account = t.recipient.account.validate()?;
    if let Some(c) = account.currency_hint() {
        if c != t.currency {
            return Err(PayoutError::invalid("currency", format!("{} is paid in {c}, not {}.", account.kind_label(), t.currency)));
        }
    }
    Ok(account)
}

/// Minor-unit exponent of an ISO 4217 currency (most have two decimals).
pub(crate) fn exponent(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF"
        | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// Minor units as the decimal text Wise takes (`12345` AUD → `123.45`).
pub(crate) fn decimal(amount_minor: i64, currency: &str) -> String {
    let e = exponent(currency);
    if e == 0 {
        return amount_minor.to_string();
    }
    let div = 10i64.pow(e);
    let sign = if amount_minor < 0 { "-" } else { "" };
    let a = amount_minor.unsigned_abs();
    format!("{sign}{}.{:0width$}", a / div as u64, a % div as u64, width = e as usize)
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wise_statuses() {
        assert_eq!(State::from_wise("incoming_payment_waiting"), State::Submitted);
        assert_eq!(State::from_wise("processing"), State::Processing);
        assert_eq!(State::from_wise("funds_converted"), State::Processing);
        assert_eq!(State::from_wise("outgoing_payment_sent"), State::Sent);
        assert_eq!(State::from_wise("bounced_back"), State::Returned);
        assert_eq!(State::from_wise("funds_refunded"), State::Returned);
        assert_eq!(State::from_wise("charged_back"), State::Returned);
        assert_eq!(State::from_wise("cancelled"), State::Cancelled);
        assert_eq!(State::from_wise("unknown"), State::Processing);
        assert!(State::Sent.is_final() && State::Returned.is_final() && !State::Processing.is_final() && !State::Submitted.is_final());
        assert_eq!(serde_json::to_value(State::Returned).expect("json"), "returned");
    }

    #[test]
    fn decimals() {
        assert_eq!(decimal(12345, "AUD"), "123.45");
        assert_eq!(decimal(5, "USD"), "0.05");
        assert_eq!(decimal(500, "JPY"), "500");
        assert_eq!(decimal(1234, "KWD"), "1.234");
    }

    fn transfer(account: Account, currency: &str, amount: i64) -> Transfer {
        Transfer {
            source_currency: None,
            payout_id: lsn_core::ids::new_id(),
            amount_minor: amount,
            currency: currency.into(),
            recipient: Recipient { holder_name: "Ann Lee".into(), email: None, account },
            reference: "LSN payout".into(),
        }
    }

    #[test]
    fn transfers_are_checked_before_anything_is_sent() {
        let au = Account::Australian { bsb: "062-000".into(), account_number: "12345678".into() };
        assert!(check_transfer(&transfer(au.clone(), "AUD", 100)).is_ok());
        let field = |r: Result<Account, PayoutError>| match r {
            Err(PayoutError::Invalid(i)) => i.field,
            other => panic!("expected invalid, got {other:?}"),
        };
        assert_eq!(field(check_transfer(&transfer(au.clone(), "AUD", 0))), "amount");
        assert_eq!(field(check_transfer(&transfer(au.clone(), "AUD", -5))), "amount");
        assert_eq!(field(check_transfer(&transfer(au.clone(), "USD", 100))), "currency");
        assert_eq!(field(check_transfer(&transfer(au.clone(), "aud", 100))), "currency");
        let bad = Account::Australian { bsb: "06200".into(), account_number: "12345678".into() };
        assert_eq!(field(check_transfer(&transfer(bad, "AUD", 100))), "bsb");
        let mut t = transfer(au, "AUD", 100);
        t.recipient.holder_name = "  ".into();
        assert_eq!(field(check_transfer(&t)), "holder_name");
    }
}
