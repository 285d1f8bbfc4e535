//! The Wise client: a personal API token (`Authorization: Bearer`), the business profile, a
//! recipient account per payee, a quote per payout (the amount the recipient gets, paid from
//! the `WISE_SOURCE_CURRENCY` balance), and the transfers of one `pay` call in a **batch group**
//! funded by one balance payment:
//!
//! 1. `POST /v3/profiles/{p}/batch-groups` (recorded in `payout_wise_batch_groups` as open);
//! 2. per payout: `POST /v1/accounts`, `POST /v3/profiles/{p}/quotes` (`targetAmount`),
//!    `POST /v3/profiles/{p}/batch-groups/{g}/transfers` with `customerTransactionId` = the
//!    payout id;
//! 3. `GET` the group (its `transferIds` and `version`), `PATCH` it to `COMPLETED` with that
//!    version, and fund it: `POST /v3/profiles/{p}/batch-payments/{g}/payments {"type":"BALANCE"}`.
//!
//! **Idempotency.** Wise answers a repeated `customerTransactionId` with the transfer it already
//! has, so a retried `pay` never creates a second transfer. A transfer that came back that way
//! and is not in this call's group is one an earlier, interrupted run created: the client first
//! finishes the open groups it recorded (completes and funds them), then funds what still waits
//! on its own (`POST /v3/profiles/{p}/transfers/{id}/payments`). Wise refuses to fund a transfer
//! twice, so none of this can pay twice.
//!
//! **Recipients** are created per payee and remembered in memory by their details (currency,
//! holder, account): one per payee per process; a restart creates the recipient again, which
//! costs a call and pays nothing.
//!
//! **Errors.** 429 (with `Retry-After`), 409 and 5xx are `Unavailable` (retry later; the rest
//! of the batch is not sent after a 429); 4xx `errors[]` are `Invalid` (recipient details, with
//! the field) or `Rejected`, with Wise's message; a balance too low to fund the group is
//! `Unavailable` (the transfers wait and are funded by the next run).
//!
//! Left out: SCA (EU/UK tokens that must sign a 403's `x-2fa-approval`), the ABA recipient's
//! address (Wise may ask for it: its `errors[]` comes back as `Invalid`), quote expiry
//! handling beyond what a retry does (a new quote per attempt).

use crate::signature::WebhookKey;
use crate::{check_transfer, Account, Event, PayoutError, PayoutProvider, State, Submitted, Transfer, MAX_BATCH};
use futures::StreamExt;
use lsn_core::{Config, Secret};
use lsn_db::{Db, RowExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

pub const DEFAULT_BASE: &str = "https://api.wise.com";
/// Payouts of one batch worked on at once (Wise allows 100 requests a second).
const CONCURRENCY: usize = 4;

#[derive(Debug, Clone)]
pub struct WiseOptions {
    pub base: String,
    /// `None`: the first business profile `GET /v2/profiles` lists.
    pub profile_id: Option<i64>,
    /// The balance transfers are paid from.
    pub source_currency: String,
    /// The key webhooks are verified with (`None`: every delivery is refused).
    pub webhook_key: Option<WebhookKey>,
    pub timeout: Duration,
    /// Open batch groups older than this are finished at the start of a `pay` (an interrupted
    /// run's); younger ones may still be filling in another worker.
    pub recover_after_ms: i64,
}

impl WiseOptions {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            profile_id: None,
            source_currency: "AUD".into(),
            webhook_key: None,
            timeout: Duration::from_secs(10),
            recover_after_ms: 30 * 60 * 1000,
        }
    }
}

/// Whether a base URL is one of Wise's sandboxes.
fn is_sandbox_base(base: &str) -> bool {
    base.contains("sandbox.transferwise.tech") || base.contains("wise-sandbox.com")
}

pub struct Wise {
    token: Secret,
    opts: WiseOptions,
    http: reqwest::Client,
    db: Db,
    profile: tokio::sync::OnceCell<i64>,
    recipients: Mutex<HashMap<String, i64>>,
}

impl std::fmt::Debug for Wise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wise").field("base", &self.opts.base).finish()
    }
}

/// A transfer made (or found) at Wise for one payout: its id and status.
type Made = Result<(String, String), PayoutError>;

/// One answer of Wise's.
struct Reply {
    status: u16,
    body: Value,
    retry_after: Option<u64>,
    sca: bool,
}

impl Reply {
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Wise's messages in an error body (`errors[]`, or the auth shape, or Spring's 500 shape).
fn messages(body: &Value) -> String {
    if let Some(errors) = body["errors"].as_array() {
        let parts: Vec<String> = errors
            .iter()
            .map(|e| {
                let msg = e["message"].as_str().or(e["code"].as_str()).unwrap_or("error");
                match e["path"].as_str() {
                    Some(p) if !p.is_empty() => format!("{msg} ({p})"),
                    _ => msg.to_string(),
                }
            })
            .collect();
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    body["error_description"]
        .as_str()
        .or(body["error"].as_str())
        .or(body["message"].as_str())
        .unwrap_or("no detail")
        .chars()
        .take(300)
        .collect()
}

fn error_code(body: &Value) -> String {
    body["errors"][0]["code"].as_str().or(body["errorCode"].as_str()).unwrap_or("").to_string()
}

/// A failed answer as the caller should treat it.
fn failure(r: &Reply, what: &str) -> PayoutError {
    let detail = messages(&r.body);
    match r.status {
        429 => PayoutError::Unavailable(match r.retry_after {
            Some(s) => format!("Wise is rate-limiting ({what}); retry after {s} s"),
            None => format!("Wise is rate-limiting ({what}); retry later"),
        }),
        409 => PayoutError::Unavailable(format!("Wise reports a concurrent change ({what}): {detail}")),
        s if s >= 500 => PayoutError::Unavailable(format!("Wise answered {s} ({what}): {detail}")),
        403 if r.sca => PayoutError::Rejected(format!("Wise asks for strong customer authentication ({what}), which LSN does not do")),
        401 | 403 => PayoutError::Rejected(format!("Wise refused the API token ({what}): {detail}")),
        s => PayoutError::Rejected(format!("Wise refused {what} ({s}): {detail}")),
    }
}

/// A refused recipient as an invalid field of ours.
fn recipient_failure(r: &Reply) -> PayoutError {
    if !matches!(r.status, 400 | 422) || !r.body["errors"].is_array() {
        return failure(r, "the recipient");
    }
    let path = r.body["errors"][0]["path"].as_str().unwrap_or("").to_ascii_lowercase();
    let field = if path.contains("bsb") {
        "bsb"
    } else if path.contains("iban") {
        "iban"
    } else if path.contains("bic") {
        "bic"
    } else if path.contains("sortcode") {
        "sort_code"
    } else if path.contains("abartn") {
        "routing_number"
    } else if path.contains("accounttype") {
        "account_type"
    } else if path.contains("accountnumber") {
        "account_number"
    } else if path.contains("holder") {
        "holder_name"
    } else if path.contains("currency") {
        "currency"
    } else {
        "account"
    };
    PayoutError::invalid(field, format!("Wise: {}", messages(&r.body)))
}

/// Funding's answer: a 2xx whose `status` is not `REJECTED`; a balance too low is temporary.
fn funding_result(r: &Reply, what: &str) -> Result<(), PayoutError> {
    let code = error_code(&r.body);
    let rejected = r.body["status"].as_str() == Some("REJECTED") || !code.is_empty();
    if r.ok() && !rejected {
        return Ok(());
    }
    if code.contains("insufficient") {
        return Err(PayoutError::Unavailable(format!(
            "the Wise balance is too low to fund {what} ({code}); top it up, the next run funds it"
        )));
    }
    if r.ok() {
        return Err(PayoutError::Rejected(format!("Wise did not fund {what}: {code}")));
    }
    Err(failure(r, what))
}

/// The number or text at `v` as text (Wise's ids are numbers, batch groups' are UUIDs).
fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn parse_time(s: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok().map(|t| t.and_utc().timestamp_millis())
}

/// Verifies and reads a `transfers#state-change` delivery (Wise's, or the sandbox's, which is
/// shaped the same): the signature over the raw body first, then test pings and other event
/// types are answered with no events.
pub(crate) fn parse_delivery(key: Option<&WebhookKey>, headers: &http::HeaderMap, body: &[u8]) -> Result<Vec<Event>, PayoutError> {
    let sig = headers.get("x-signature-sha256").and_then(|v| v.to_str().ok()).ok_or(PayoutError::Signature)?;
    let key = key.ok_or(PayoutError::Signature)?;
    if !key.verify(body, sig) {
        return Err(PayoutError::Signature);
    }
    let test = headers.get("x-test-notification").and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if test {
        return Ok(Vec::new());
    }
    let v: Value = serde_json::from_slice(body).map_err(|_| PayoutError::Rejected("the webhook body is not JSON".into()))?;
    if v["event_type"].as_str() != Some("transfers#state-change") {
        return Ok(Vec::new());
    }
    let data = &v["data"];
    let malformed = || PayoutError::Rejected("the transfers#state-change delivery lacks its resource id, state or time".into());
    let provider_ref = id_text(&data["resource"]["id"]).ok_or_else(malformed)?;
    let state = data["current_state"].as_str().map(State::from_wise).ok_or_else(malformed)?;
    let occurred_at_ms = data["occurred_at"].as_str().and_then(parse_time).ok_or_else(malformed)?;
    let delivery_id = headers.get("x-delivery-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    Ok(vec![Event { provider_ref, payout_id: None, state, occurred_at_ms, delivery_id }])
}

impl Wise {
    pub fn new(token: Secret, opts: WiseOptions, db: Db) -> Self {
        let http = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(5)))
            .build()
            .unwrap_or_default();
        Self { token, opts, http, db, profile: tokio::sync::OnceCell::new(), recipients: Mutex::new(HashMap::new()) }
    }

    /// The client `WISE_API_TOKEN` asks for (`None` when it is unset), with `WISE_API_BASE`,
    /// `WISE_PROFILE_ID`, `WISE_WEBHOOK_PUBLIC_KEY` (Wise's sandbox key by default against its
    /// sandbox; required against production) and `WISE_SOURCE_CURRENCY` (AUD).
    pub fn from_config(cfg: &Config, db: Db) -> Result<Option<Self>, PayoutError> {
        let Some(token) = cfg.provider("WISE_API_TOKEN") else { return Ok(None) };
        let var = |k: &str| cfg.provider(k).map(|s| s.expose().trim().to_string()).filter(|s| !s.is_empty());
        let mut opts = WiseOptions::new(&var("WISE_API_BASE").unwrap_or_else(|| DEFAULT_BASE.to_string()));
        opts.timeout = cfg.provider_timeout;
        if let Some(p) = var("WISE_PROFILE_ID") {
            opts.profile_id = Some(p.parse().map_err(|_| PayoutError::Rejected(format!("WISE_PROFILE_ID must be a number, got {p:?}")))?);
        }
        if let Some(c) = var("WISE_SOURCE_CURRENCY") {
            if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(PayoutError::Rejected(format!("WISE_SOURCE_CURRENCY must be an ISO 4217 code like AUD, got {c:?}")));
            }
            opts.source_currency = c.to_ascii_uppercase();
        }
        opts.webhook_key = match var("WISE_WEBHOOK_PUBLIC_KEY") {
            Some(k) => Some(WebhookKey::parse(&k).map_err(|e| PayoutError::Rejected(format!("WISE_WEBHOOK_PUBLIC_KEY: {e}")))?),
            None if is_sandbox_base(&opts.base) => Some(WebhookKey::wise_sandbox()),
            None => {
                return Err(PayoutError::Rejected(
                    "WISE_WEBHOOK_PUBLIC_KEY is required with Wise's production API (its webhook public key, from Wise's webhook documentation)".into(),
                ))
            }
        };
        Ok(Some(Self::new(token.clone(), opts, db)))
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<Reply, PayoutError> {
        let mut req = self.http.request(method, format!("{}{path}", self.opts.base)).bearer_auth(self.token.expose());
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.map_err(|e| {
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "the request failed"
            };
            PayoutError::Unavailable(format!("Wise unreachable: {what}"))
        })?;
        let status = res.status().as_u16();
        let retry_after = res.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
        let sca = res.headers().contains_key("x-2fa-approval");
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            tracing::info!(status, path, "Wise error");
        }
        Ok(Reply { status, body, retry_after, sca })
    }

    /// The profile payouts are made from.
    pub async fn profile(&self) -> Result<i64, PayoutError> {
        if let Some(p) = self.opts.profile_id {
            return Ok(p);
        }
        self.profile
            .get_or_try_init(|| async {
                let r = self.send(reqwest::Method::GET, "/v2/profiles", None).await?;
                if !r.ok() {
                    return Err(failure(&r, "the profile list"));
                }
                r.body
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| p["type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case("business")))
                    .and_then(|p| p["id"].as_i64())
                    .ok_or_else(|| PayoutError::Rejected("the Wise token has no business profile; set WISE_PROFILE_ID".into()))
            })
            .await
            .copied()
    }

    async fn recipient(&self, profile: i64, t: &Transfer, account: &Account) -> Result<i64, PayoutError> {
        let holder = t.recipient.holder_name.trim();
        let key = format!("{profile}|{}|{holder}|{}", t.currency, serde_json::to_string(account).unwrap_or_default());
        if let Some(id) = self.recipients.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(*id);
        }
        let mut details = match account {
            Account::Australian { bsb, account_number } => json!({"legalType": "PRIVATE", "bsbCode": bsb, "accountNumber": account_number}),
            Account::Iban { iban, bic } => {
                let mut d = json!({"legalType": "PRIVATE", "IBAN": iban});
                if let Some(b) = bic {
                    d["BIC"] = json!(b);
                }
                d
            }
            Account::SortCode { sort_code, account_number } => {
                json!({"legalType": "PRIVATE", "sortCode": sort_code, "accountNumber": account_number})
            }
            Account::Aba { routing_number, account_number, account_type } => json!({
                "legalType": "PRIVATE", "abartn": routing_number, "accountNumber": account_number,
                "accountType": account_type.to_ascii_uppercase(),
            }),
            Account::StripeConnect { .. } => return Err(PayoutError::invalid("account", "Wise pays bank accounts, not Stripe accounts.")),
        };
        if let Some(email) = t.recipient.email.as_deref().filter(|e| !e.trim().is_empty()) {
            details["email"] = json!(email.trim());
        }
        let body = json!({
            "currency": t.currency,
            "type": account.wise_type().unwrap_or("iban"),
            "profile": profile,
            "accountHolderName": holder,
            "ownedByCustomer": false,
            "details": details,
        });
        let r = self.send(reqwest::Method::POST, "/v1/accounts", Some(&body)).await?;
        if !r.ok() {
            return Err(recipient_failure(&r));
        }
        let id = r.body["id"].as_i64().ok_or_else(|| PayoutError::Unavailable("Wise's recipient answer has no id".into()))?;
        self.recipients.lock().unwrap_or_else(|e| e.into_inner()).insert(key, id);
        Ok(id)
    }

    async fn quote(&self, profile: i64, t: &Transfer, recipient: i64) -> Result<String, PayoutError> {
        let mut body = json!({
            "sourceCurrency": self.opts.source_currency,
            "targetCurrency": t.currency,
            "targetAccount": recipient,
            "payOut": "BANK_TRANSFER",
            "preferredPayIn": "BALANCE",
        });
        // An amount in the shop's currency is a source amount (Wise converts it); else it is
        // what the recipient receives.
        match &t.source_currency {
            Some(src) => {
                body["sourceCurrency"] = json!(src);
                body["sourceAmount"] = json!(crate::decimal(t.amount_minor, src).parse::<f64>().unwrap_or(0.0));
            }
            None => body["targetAmount"] = json!(crate::decimal(t.amount_minor, &t.currency).parse::<f64>().unwrap_or(0.0)),
        }
        let r = self.send(reqwest::Method::POST, &format!("/v3/profiles/{profile}/quotes"), Some(&body)).await?;
        if !r.ok() {
            return Err(failure(&r, "the quote"));
        }
        r.body["id"].as_str().map(str::to_string).ok_or_else(|| PayoutError::Unavailable("Wise's quote answer has no id".into()))
    }

    /// Recipient, quote and transfer in `group` for one payout: the transfer's id and status.
    async fn submit(&self, profile: i64, group: &str, t: &Transfer, account: &Account) -> Result<(String, String), PayoutError> {
        let recipient = self.recipient(profile, t, account).await?;
        let quote = self.quote(profile, t, recipient).await?;
        let body = json!({
            "targetAccount": recipient,
            "quoteUuid": quote,
            "customerTransactionId": t.payout_id,
            "details": {"reference": t.reference},
        });
        let r = self.send(reqwest::Method::POST, &format!("/v3/profiles/{profile}/batch-groups/{group}/transfers"), Some(&body)).await?;
        if !r.ok() {
            return Err(failure(&r, "the transfer"));
        }
        let id = id_text(&r.body["id"]).ok_or_else(|| PayoutError::Unavailable("Wise's transfer answer has no id".into()))?;
        Ok((id, r.body["status"].as_str().unwrap_or("incoming_payment_waiting").to_string()))
    }

    async fn group(&self, profile: i64, group: &str) -> Result<Reply, PayoutError> {
        self.send(reqwest::Method::GET, &format!("/v3/profiles/{profile}/batch-groups/{group}"), None).await
    }

    async fn set_group(&self, id: &str, status: &str) -> Result<(), PayoutError> {
        lsn_db::query("UPDATE payout_wise_batch_groups SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status)
            .bind(crate::now_ms())
            .bind(id)
            .execute(self.db.write())
            .await?;
        Ok(())
    }

    /// Completes (when still NEW) and funds a group.
    async fn complete_and_fund(&self, profile: i64, group: &str, reply: &Reply) -> Result<(), PayoutError> {
        let path = format!("/v3/profiles/{profile}/batch-groups/{group}");
        if reply.body["status"].as_str() == Some("NEW") {
            let version = reply.body["version"].as_i64().unwrap_or(0);
            let r = self.send(reqwest::Method::PATCH, &path, Some(&json!({"status": "COMPLETED", "version": version}))).await?;
            if !r.ok() {
                return Err(failure(&r, "completing the batch group"));
            }
        }
        let r = self
            .send(
                reqwest::Method::POST,
                &format!("/v3/profiles/{profile}/batch-payments/{group}/payments"),
                Some(&json!({"type": "BALANCE"})),
            )
            .await?;
        funding_result(&r, "the batch group")
    }

    /// Finishes the batch groups an interrupted run left open (older than `older_than_ms`, all
    /// when `None`), except `skip`: completes and funds those with transfers, cancels the empty.
    /// Returns how many were funded now.
    pub async fn recover(&self, older_than_ms: Option<i64>, skip: Option<&str>) -> Result<usize, PayoutError> {
        let profile = self.profile().await?;
        let cutoff = older_than_ms.map(|a| crate::now_ms() - a).unwrap_or(i64::MAX);
        let rows = lsn_db::query(
            "SELECT id FROM payout_wise_batch_groups WHERE status = 'open' AND profile_id = $1 AND created_at <= $2 ORDER BY created_at LIMIT 100",
        )
        .bind(profile)
        .bind(cutoff)
        .fetch_all(self.db.read())
        .await?;
        let mut funded = 0;
        for r in rows {
            let id: String = r.try_get(0)?;
            if Some(id.as_str()) == skip {
                continue;
            }
            let g = self.group(profile, &id).await?;
            if g.status == 404 {
                self.set_group(&id, "cancelled").await?;
                continue;
            }
            if !g.ok() {
                return Err(failure(&g, "reading a batch group"));
            }
            let status = g.body["status"].as_str().unwrap_or("");
            let empty = g.body["transferIds"].as_array().is_none_or(|a| a.is_empty());
            if !matches!(status, "NEW" | "COMPLETED") {
                self.set_group(&id, "cancelled").await?;
            } else if empty {
                let version = g.body["version"].as_i64().unwrap_or(0);
                let path = format!("/v3/profiles/{profile}/batch-groups/{id}");
                let _ = self.send(reqwest::Method::PATCH, &path, Some(&json!({"status": "CANCELLED", "version": version}))).await;
                self.set_group(&id, "cancelled").await?;
            } else {
                match self.complete_and_fund(profile, &id, &g).await {
                    Ok(()) => {
                        funded += 1;
                        self.set_group(&id, "funded").await?;
                    }
                    // Wise will not fund it (already funded, or its transfers were): done with it.
                    Err(PayoutError::Rejected(why)) => {
                        tracing::info!(group = %id, "Wise will not fund an earlier batch group: {why}");
                        self.set_group(&id, "funded").await?;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(funded)
    }

    /// A transfer an earlier run created: finished groups first, then funded on its own if it
    /// still waits. Its state now.
    async fn settle_existing(&self, profile: i64, id: &str, status: &str) -> Result<State, PayoutError> {
        if State::from_wise(status) != State::Submitted {
            return Ok(State::from_wise(status));
        }
        let now = self.state(id).await?;
        if now != State::Submitted {
            return Ok(now);
        }
        let r = self
            .send(reqwest::Method::POST, &format!("/v3/profiles/{profile}/transfers/{id}/payments"), Some(&json!({"type": "BALANCE"})))
            .await?;
        match funding_result(&r, "the transfer") {
            Ok(()) => Ok(State::Processing),
            // Funded meanwhile (Wise refuses a second funding): ask where it stands.
            Err(PayoutError::Rejected(_)) if r.status == 422 => self.state(id).await,
            Err(e) => Err(e),
        }
    }

    async fn pay_group(&self, profile: i64, batch: &[Transfer]) -> Result<Vec<Result<Submitted, PayoutError>>, PayoutError> {
        let mut out: Vec<Option<Result<Submitted, PayoutError>>> = vec![None; batch.len()];
        let mut valid = Vec::new();
        for (i, t) in batch.iter().enumerate() {
            match check_transfer(t) {
                Ok(a) if a.is_bank() => valid.push((i, a)),
                Ok(_) => {
                    out[i] = Some(Err(PayoutError::invalid(
                        "account",
                        "Wise pays bank accounts; a Stripe connected account is paid through stripe_connect.",
                    )))
                }
                Err(e) => out[i] = Some(Err(e)),
            }
        }
        if valid.is_empty() {
            return Ok(out.into_iter().map(|o| o.unwrap_or_else(|| Err(PayoutError::Unavailable("not processed".into())))).collect());
        }
        let name: String = format!("LSN payouts {}", batch[valid[0].0].payout_id).chars().take(100).collect();
        let r = self
            .send(
                reqwest::Method::POST,
                &format!("/v3/profiles/{profile}/batch-groups"),
                Some(&json!({"sourceCurrency": self.opts.source_currency, "name": name})),
            )
            .await?;
        if !r.ok() {
            return Err(failure(&r, "the batch group"));
        }
        let group = id_text(&r.body["id"]).ok_or_else(|| PayoutError::Unavailable("Wise's batch group answer has no id".into()))?;
        let now = crate::now_ms();
        lsn_db::query(
            "INSERT INTO payout_wise_batch_groups (id, profile_id, status, created_at, updated_at) VALUES ($1, $2, 'open', $3, $3)",
        )
        .bind(&group)
        .bind(profile)
        .bind(now)
        .execute(self.db.write())
        .await?;

        // After a 429 the rest of the batch is not sent: it waits for the retry.
        let throttled = AtomicBool::new(false);
        let results: Vec<(usize, Made)> = futures::stream::iter(0..valid.len())
            .map(|k| {
                let (group, throttled, valid) = (&group, &throttled, &valid);
                async move {
                    let (i, account) = (&valid[k].0, &valid[k].1);
                    if throttled.load(Ordering::Relaxed) {
                        return (*i, Err(PayoutError::Unavailable("Wise is rate-limiting; not sent, retry later".into())));
                    }
                    let res = self.submit(profile, group, &batch[*i], account).await;
                    if matches!(&res, Err(PayoutError::Unavailable(m)) if m.contains("rate-limiting")) {
                        throttled.store(true, Ordering::Relaxed);
                    }
                    (*i, res)
                }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;

        let g = self.group(profile, &group).await?;
        if !g.ok() {
            return Err(failure(&g, "reading the batch group"));
        }
        let in_group: std::collections::HashSet<String> =
            g.body["transferIds"].as_array().into_iter().flatten().filter_map(id_text).collect();
        let mut new = Vec::new();
        let mut existing = Vec::new();
        for (i, res) in results {
            match res {
                Err(e) => out[i] = Some(Err(e)),
                Ok((id, _)) if in_group.contains(&id) => new.push((i, id)),
                Ok((id, status)) => existing.push((i, id, status)),
            }
        }
        if new.is_empty() {
            let version = g.body["version"].as_i64().unwrap_or(0);
            let path = format!("/v3/profiles/{profile}/batch-groups/{group}");
            let _ = self.send(reqwest::Method::PATCH, &path, Some(&json!({"status": "CANCELLED", "version": version}))).await;
            self.set_group(&group, "cancelled").await?;
        } else {
            match self.complete_and_fund(profile, &group, &g).await {
                Ok(()) => {
                    self.set_group(&group, "funded").await?;
                    for (i, id) in new {
                        out[i] = Some(Ok(Submitted { payout_id: batch[i].payout_id.clone(), provider_ref: id, state: State::Processing }));
                    }
                }
                // The transfers exist and wait; the group stays open for the next run to fund.
                Err(e) => {
                    for (i, _) in new {
                        out[i] = Some(Err(e.clone()));
                    }
                }
            }
        }
        if existing.iter().any(|(_, _, s)| State::from_wise(s) == State::Submitted) {
            if let Err(e) = self.recover(None, Some(&group)).await {
                tracing::warn!("finishing earlier Wise batch groups failed: {e}");
            }
        }
        for (i, id, status) in existing {
            out[i] = Some(self.settle_existing(profile, &id, &status).await.map(|state| Submitted {
                payout_id: batch[i].payout_id.clone(),
                provider_ref: id,
                state,
            }));
        }
        Ok(out.into_iter().map(|o| o.unwrap_or_else(|| Err(PayoutError::Unavailable("not processed".into())))).collect())
    }
}

#[async_trait::async_trait]
impl PayoutProvider for Wise {
    fn name(&self) -> &'static str {
        "wise"
    }

    fn supports(&self, account: &Account) -> bool {
        account.is_bank()
    }

    async fn pay(&self, batch: &[Transfer]) -> Result<Vec<Result<Submitted, PayoutError>>, PayoutError> {
        // A batch with nothing payable in it is answered without a word to Wise.
        if !batch.iter().any(|t| matches!(check_transfer(t), Ok(a) if a.is_bank())) {
            return self.pay_group(0, batch).await;
        }
        let profile = self.profile().await?;
        if let Err(e) = self.recover(Some(self.opts.recover_after_ms), None).await {
            tracing::warn!("finishing earlier Wise batch groups failed: {e}");
        }
        let mut out = Vec::with_capacity(batch.len());
        for chunk in batch.chunks(MAX_BATCH) {
            out.extend(self.pay_group(profile, chunk).await?);
        }
        Ok(out)
    }

    async fn state(&self, provider_ref: &str) -> Result<State, PayoutError> {
        if provider_ref.is_empty() || !provider_ref.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PayoutError::UnknownTransfer(provider_ref.to_string()));
        }
        let r = self.send(reqwest::Method::GET, &format!("/v1/transfers/{provider_ref}"), None).await?;
        if r.status == 404 {
            return Err(PayoutError::UnknownTransfer(provider_ref.to_string()));
        }
        if !r.ok() {
            return Err(failure(&r, "the transfer"));
        }
        r.body["status"]
            .as_str()
            .map(State::from_wise)
            .ok_or_else(|| PayoutError::Unavailable("Wise's transfer answer has no status".into()))
    }

    fn parse_webhook(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<Vec<Event>, PayoutError> {
        parse_delivery(self.opts.webhook_key.as_ref(), headers, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: Value) -> Reply {
        Reply { status, body, retry_after: None, sca: false }
    }

    #[test]
    fn errors_are_classified() {
        let mut r = reply(429, Value::Null);
        r.retry_after = Some(7);
        assert!(matches!(failure(&r, "x"), PayoutError::Unavailable(m) if m.contains("7 s")));
        assert!(matches!(failure(&reply(503, Value::Null), "x"), PayoutError::Unavailable(_)));
        let e = json!({"errors": [{"code": "error.route.not.supported", "message": "Route not supported", "path": "sourceAmount"}]});
        assert!(matches!(failure(&reply(422, e), "x"), PayoutError::Rejected(m) if m.contains("Route not supported (sourceAmount)")));
        assert!(
            matches!(failure(&reply(401, json!({"error": "unauthorized"})), "x"), PayoutError::Rejected(m) if m.contains("unauthorized"))
        );
        let bsb = json!({"errors": [{"code": "NOT_VALID", "message": "Please specify a valid BSB code", "path": "bsbCode"}]});
        assert!(
            matches!(recipient_failure(&reply(422, bsb)), PayoutError::Invalid(i) if i.field == "bsb" && i.message.contains("valid BSB"))
        );
        assert!(funding_result(&reply(200, json!({"type": "BALANCE", "status": "COMPLETED", "errorCode": null})), "x").is_ok());
        let low = json!({"type": "BALANCE", "status": "REJECTED", "errorCode": "transfer.insufficient_funds"});
        assert!(matches!(funding_result(&reply(200, low), "x"), Err(PayoutError::Unavailable(m)) if m.contains("too low")));
        assert_eq!(parse_time("2021-08-23T10:12:50Z"), Some(1_629_713_570_000));
        assert_eq!(parse_time("2021-08-23 10:12:50"), Some(1_629_713_570_000));
    }
}
