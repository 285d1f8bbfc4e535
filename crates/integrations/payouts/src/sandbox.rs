//! The default payout provider: Wise without Wise. Its transfers live in
//! `payout_sandbox_transfers`, one row per payout id (a UNIQUE key, so a retried job, a re-run
//! after a SIGKILL or two workers paying the same batch all find the same row: paid once). It
//! refuses what Wise would refuse (the same account validation, amounts ≤ 0, a Stripe connected
//! account) and plays Wise's transfer state machine when [`Sandbox::advance`] moves its clock:
//!
//! `incoming_payment_waiting → processing → funds_converted → outgoing_payment_sent`, one step
//! every `step_ms` (5 s by default, Wise's own simulation spacing; tests use a few ms).
//!
//! **Failure rule**: an account whose number (or IBAN) ends with the bounce suffix (`999` by
//! default, [`Sandbox::with_bounce_suffix`]) is paid and then bounces, as Wise reports it:
//! `… → outgoing_payment_sent → bounced_back → funds_refunded` (Wise may also pass through
//! `processing` and `cancelled` on the way back; the sandbox goes straight to the refund).
//!
//! Each state change comes back from `advance` as a webhook [`Delivery`] in Wise's
//! `transfers#state-change` v2 shape, signed with the sandbox's built-in RSA key (see
//! [`crate::signature`]); [`PayoutProvider::parse_webhook`] verifies it with that key. The
//! creation itself is not delivered (`pay` answers it). Deliveries are handed out once, by the
//! `advance` call whose transaction moved the transfer; `state` answers at any time.

use crate::signature::{sandbox_sign, WebhookKey};
use crate::{check_transfer, Account, Event, PayoutError, PayoutProvider, State, Submitted, Transfer};
use lsn_core::SharedClock;
use lsn_db::{Db, RowExt};
use sha2::Digest;
use std::sync::Arc;

/// The profile id the sandbox's deliveries name.
pub const SANDBOX_PROFILE_ID: i64 = 16_055_450;
/// The subscription id the sandbox's deliveries carry.
pub const SANDBOX_SUBSCRIPTION_ID: &str = "5a1f0e1c-8f5e-4c1b-9a57-0a6b2f0c5e11";

/// Rows per multi-row INSERT: 12 values each stays far below SQLite's and PostgreSQL's limits on
/// bound parameters.
const INSERT_CHUNK: usize = 400;
/// Due transfers moved per transaction in `advance`.
const ADVANCE_PAGE: i64 = 1_000;

/// A webhook delivery as Wise would POST it: the headers and the raw body.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Time between two simulated state changes.
    pub step_ms: i64,
    /// Accounts whose number ends with this bounce after they were paid (`None`: none bounce).
    pub bounce_suffix: Option<String>,
    /// How many times each delivery is handed out (duplicate-webhook tests and benches).
    pub duplicates: usize,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self { step_ms: 5_000, bounce_suffix: Some("999".into()), duplicates: 1 }
    }
}

#[derive(Clone)]
pub struct Sandbox {
    db: Db,
    clock: SharedClock,
    opts: Arc<SandboxOptions>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("opts", &self.opts).finish()
    }
}

/// What one stored transfer says (for tests, benches and the admin).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SandboxTransfer {
    pub id: i64,
    pub payout_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub account_masked: String,
    pub reference: String,
    /// Wise's status name.
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A row to insert.
#[derive(Clone)]
struct NewRow {
    id: i64,
    ctid: String,
    account_id: i64,
    holder: String,
    masked: String,
    amount: i64,
    currency: String,
    reference: String,
    bounces: i64,
}

/// A stored row read back after the insert.
struct Stored {
    id: i64,
    account_id: i64,
    amount: i64,
    currency: String,
    status: String,
}

/// One simulated state change.
struct Change {
    id: i64,
    account_id: i64,
    previous: &'static str,
    current: &'static str,
    at: i64,
}

/// A stable number below 2^52 (JSON-safe, like Wise's ids) from a text.
fn stable_id(kind: &str, s: &str) -> i64 {
    let h = sha2::Sha256::digest(format!("{kind}:{s}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    ((u64::from_be_bytes(b) >> 12) as i64) + 1_000_000
}

/// The next status after `status`, and whether it is the last.
fn next_status(status: &str, bounces: bool) -> Option<&'static str> {
    match status {
        "incoming_payment_waiting" => Some("processing"),
        "processing" => Some("funds_converted"),
        "funds_converted" => Some("outgoing_payment_sent"),
        "outgoing_payment_sent" if bounces => Some("bounced_back"),
        "bounced_back" => Some("funds_refunded"),
        _ => None,
    }
}

fn intern(status: &str) -> &'static str {
    match status {
        "incoming_payment_waiting" => "incoming_payment_waiting",
        "processing" => "processing",
        "funds_converted" => "funds_converted",
        "outgoing_payment_sent" => "outgoing_payment_sent",
        "bounced_back" => "bounced_back",
        "funds_refunded" => "funds_refunded",
        _ => "unknown",
    }
}

/// `2021-08-23T10:12:50Z` as Wise writes it; with milliseconds when there are any (the
/// sandbox's steps may be milliseconds apart, and consumers order by this).
fn wise_time(ms: i64) -> String {
    let t = lsn_core::clock::from_ms(ms);
    if ms % 1000 == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

impl Sandbox {
    pub fn new(db: Db) -> Self {
        Self { db, clock: lsn_core::clock::system(), opts: Arc::new(SandboxOptions::default()) }
    }

    /// The clock `pay` stamps new transfers with (tests pass a manual one).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_options(mut self, opts: SandboxOptions) -> Self {
        self.opts = Arc::new(opts);
        self
    }

    /// Time between two simulated state changes.
    pub fn with_step_ms(mut self, ms: i64) -> Self {
        Arc::make_mut(&mut self.opts).step_ms = ms.max(1);
        self
    }

    /// Accounts whose number ends with `suffix` bounce after they were paid; `None`: none do.
    pub fn with_bounce_suffix(mut self, suffix: Option<&str>) -> Self {
        Arc::make_mut(&mut self.opts).bounce_suffix = suffix.filter(|s| !s.is_empty()).map(str::to_string);
        self
    }

    /// Every delivery `advance` returns is returned `n` times (the whole list, then again), as
    /// a provider retrying deliveries would.
    pub fn with_duplicate_deliveries(mut self, n: usize) -> Self {
        Arc::make_mut(&mut self.opts).duplicates = n.max(1);
        self
    }

    /// Moves the simulated state machine to `now_ms`: every transfer whose next step is due takes
    /// it (several, if several are due), and each change comes back as a signed delivery, oldest
    /// first. Two `advance` calls at once never both report one change.
    pub async fn advance(&self, now_ms: i64) -> Result<Vec<Delivery>, PayoutError> {
        let step = self.opts.step_ms.max(1);
        let mut changes: Vec<Change> = Vec::new();
        for _page in 0..100_000 {
            let rows = lsn_db::query(
                "SELECT id, account_id, status, bounces, next_at FROM payout_sandbox_transfers \
                 WHERE next_at IS NOT NULL AND next_at <= $1 ORDER BY next_at, id LIMIT $2",
            )
            .bind(now_ms)
            .bind(ADVANCE_PAGE)
            .fetch_all(self.db.read())
            .await?;
            if rows.is_empty() {
                break;
            }
            // (id, account_id, old status, old next_at, new status, new next_at, changes)
            let mut plans = Vec::with_capacity(rows.len());
            for r in &rows {
                let (id, account_id, status, bounces, next_at): (i64, i64, String, i64, i64) =
                    (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?);
                let mut cur = intern(&status);
                let mut at = next_at;
                let mut steps = Vec::new();
                while at <= now_ms {
                    let Some(next) = next_status(cur, bounces != 0) else { break };
                    steps.push(Change { id, account_id, previous: cur, current: next, at });
                    cur = next;
                    at += step;
                }
                let new_next = next_status(cur, bounces != 0).map(|_| at);
                plans.push((id, status, next_at, cur, new_next, steps));
            }
            let updates: Vec<(i64, String, i64, &'static str, Option<i64>)> =
                plans.iter().map(|(id, s, n, c, nn, _)| (*id, s.clone(), *n, *c, *nn)).collect();
            let won: Vec<bool> = self
                .db
                .transaction_with(updates, move |tx, updates| {
                    Box::pin(async move {
                        let mut won = Vec::with_capacity(updates.len());
                        for (id, old, old_next, new, new_next) in updates {
                            let done = lsn_db::query(
                                "UPDATE payout_sandbox_transfers SET status = $1, next_at = $2, updated_at = $3 \
                                 WHERE id = $4 AND status = $5 AND next_at = $6",
                            )
                            .bind(*new)
                            .bind(*new_next)
                            .bind(now_ms)
                            .bind(*id)
                            .bind(old)
                            .bind(*old_next)
                            .execute(&mut **tx)
                            .await?;
                            won.push(done.rows_affected() == 1);
                        }
                        Ok::<_, lsn_db::Error>(won)
                    })
                })
                .await?;
            let mut any = false;
            for ((_, _, _, _, _, steps), w) in plans.into_iter().zip(won) {
                if w {
                    any = true;
                    changes.extend(steps);
                }
            }
            if !any && (rows.len() as i64) < ADVANCE_PAGE {
                break;
            }
        }
        changes.sort_by_key(|c| (c.at, c.id));
        let duplicates = self.opts.duplicates.max(1);
        let deliveries = tokio::task::spawn_blocking(move || sign_all(&changes, now_ms))
            .await
            .map_err(|e| PayoutError::Unavailable(format!("signing deliveries: {e}")))?;
        if duplicates == 1 {
            return Ok(deliveries);
        }
        let mut out = Vec::with_capacity(deliveries.len() * duplicates);
        for _ in 0..duplicates {
            out.extend(deliveries.iter().cloned());
        }
        Ok(out)
    }

    /// How many transfers the sandbox holds for a payout id: 1 once it was paid, never more.
    pub async fn transfers_for(&self, payout_id: &str) -> Result<i64, PayoutError> {
        let n: i64 = lsn_db::query("SELECT COUNT(*) FROM payout_sandbox_transfers WHERE customer_transaction_id = $1")
            .bind(payout_id)
            .fetch_one(self.db.read())
            .await?
            .try_get(0)?;
        Ok(n)
    }

    /// How many transfers carry a reference (a consumer that gave a payout a new id on a retry
    /// would show two here for one reference).
    pub async fn transfers_with_reference(&self, reference: &str) -> Result<i64, PayoutError> {
        let n: i64 = lsn_db::query("SELECT COUNT(*) FROM payout_sandbox_transfers WHERE reference = $1")
            .bind(reference)
            .fetch_one(self.db.read())
            .await?
            .try_get(0)?;
        Ok(n)
    }

    /// Every stored transfer, per Wise status: `(status, count, total amount in minor units)`.
    pub async fn totals(&self) -> Result<Vec<(String, i64, i64)>, PayoutError> {
        let rows = lsn_db::query(
            "SELECT status, COUNT(*), CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM payout_sandbox_transfers GROUP BY status ORDER BY status",
        )
        .fetch_all(self.db.read())
        .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
    }

    /// The stored transfer of a payout id.
    pub async fn transfer(&self, payout_id: &str) -> Result<Option<SandboxTransfer>, PayoutError> {
        let row = lsn_db::query(
            "SELECT id, customer_transaction_id, amount_minor, currency, account_masked, reference, status, created_at, updated_at \
             FROM payout_sandbox_transfers WHERE customer_transaction_id = $1",
        )
        .bind(payout_id)
        .fetch_optional(self.db.read())
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(SandboxTransfer {
            id: r.try_get(0)?,
            payout_id: r.try_get(1)?,
            amount_minor: r.try_get(2)?,
            currency: r.try_get(3)?,
            account_masked: r.try_get(4)?,
            reference: r.try_get(5)?,
            status: r.try_get(6)?,
            created_at: r.try_get(7)?,
            updated_at: r.try_get(8)?,
        }))
    }

    /// Inserts one chunk (existing payout ids are left as they are) and reads back every row
    /// of the chunk's payout ids, in one transaction.
    async fn store(&self, chunk: Vec<NewRow>, now: i64, first_step: i64) -> Result<Vec<(String, Stored)>, PayoutError> {
        let stored = self
            .db
            .transaction_with(chunk, move |tx, chunk| {
                Box::pin(async move {
                    const COLS: usize = 14;
                    let mut sql = String::from(
                        "INSERT INTO payout_sandbox_transfers (id, customer_transaction_id, profile_id, account_id, holder_name, account_masked, \
                         amount_minor, currency, reference, status, bounces, created_at, updated_at, next_at) VALUES ",
                    );
                    for i in 0..chunk.len() {
                        if i > 0 {
                            sql.push(',');
                        }
                        sql.push('(');
                        for c in 0..COLS {
                            if c > 0 {
                                sql.push(',');
                            }
                            sql.push_str(&format!("${}", i * COLS + c + 1));
                        }
                        sql.push(')');
                    }
                    sql.push_str(" ON CONFLICT DO NOTHING");
                    let mut q = lsn_db::query(&sql);
                    for r in chunk.iter() {
                        q = q
                            .bind(r.id)
                            .bind(&r.ctid)
                            .bind(SANDBOX_PROFILE_ID)
                            .bind(r.account_id)
                            .bind(&r.holder)
                            .bind(&r.masked)
                            .bind(r.amount)
                            .bind(&r.currency)
                            .bind(&r.reference)
                            .bind("incoming_payment_waiting")
                            .bind(r.bounces)
                            .bind(now)
                            .bind(now)
                            .bind(first_step);
                    }
                    q.execute(&mut **tx).await?;
                    let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
                    let select = format!(
                        "SELECT customer_transaction_id, id, account_id, amount_minor, currency, status FROM payout_sandbox_transfers \
                         WHERE customer_transaction_id IN ({})",
                        placeholders.join(",")
                    );
                    let mut q = lsn_db::query(&select);
                    for r in chunk.iter() {
                        q = q.bind(&r.ctid);
                    }
                    let rows = q.fetch_all(&mut **tx).await?;
                    let mut out = Vec::with_capacity(rows.len());
                    for r in rows {
                        out.push((
                            r.try_get::<String, _>(0)?,
                            Stored { id: r.try_get(1)?, account_id: r.try_get(2)?, amount: r.try_get(3)?, currency: r.try_get(4)?, status: r.try_get(5)? },
                        ));
                    }
                    Ok::<_, lsn_db::Error>(out)
                })
            })
            .await?;
        Ok(stored)
    }
}

/// Builds and signs the deliveries of `changes`, on every core (RSA signing is the slow part).
fn sign_all(changes: &[Change], now_ms: i64) -> Vec<Delivery> {
    let sent_at = wise_time(now_ms);
    let build = |c: &Change| {
        let previous = if c.previous.is_empty() { "null".to_string() } else { format!("\"{}\"", c.previous) };
        let body = format!(
            r#"{{"data":{{"resource":{{"id":{},"profile_id":{},"account_id":{},"type":"transfer"}},"current_state":"{}","previous_state":{},"occurred_at":"{}"}},"subscription_id":"{}","event_type":"transfers#state-change","schema_version":"2.0.0","sent_at":"{}"}}"#,
            c.id,
            SANDBOX_PROFILE_ID,
            c.account_id,
            c.current,
            previous,
            wise_time(c.at),
            SANDBOX_SUBSCRIPTION_ID,
            sent_at
        );
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        if let Ok(v) = http::HeaderValue::from_str(&sandbox_sign(body.as_bytes())) {
            headers.insert("x-signature-sha256", v);
        }
        if let Ok(v) = http::HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            headers.insert("x-delivery-id", v);
        }
        Delivery { headers, body: body.into_bytes() }
    };
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
    if changes.len() < 64 || threads == 1 {
        return changes.iter().map(build).collect();
    }
    let per = changes.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = changes.chunks(per).map(|part| s.spawn(move || part.iter().map(build).collect::<Vec<_>>())).collect();
        // A signing thread cannot panic on this input; if one did, its deliveries are missing
        // and `state` still answers for those transfers.
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

#[async_trait::async_trait]
impl PayoutProvider for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn supports(&self, account: &Account) -> bool {
        account.is_bank()
    }

    async fn pay(&self, batch: &[Transfer]) -> Result<Vec<Result<Submitted, PayoutError>>, PayoutError> {
        let now = self.clock.now_ms();
        let mut out: Vec<Option<Result<Submitted, PayoutError>>> = vec![None; batch.len()];
        let mut rows: Vec<(usize, NewRow)> = Vec::with_capacity(batch.len());
        for (i, t) in batch.iter().enumerate() {
            let account = match check_transfer(t) {
                Ok(a) if a.is_bank() => a,
                Ok(_) => {
                    out[i] = Some(Err(PayoutError::invalid(
                        "account",
                        "The sandbox pays bank accounts as Wise does; a Stripe connected account is paid through stripe_connect.",
                    )));
                    continue;
                }
                Err(e) => {
                    out[i] = Some(Err(e));
                    continue;
                }
            };
            let account_key = serde_json::to_string(&account).unwrap_or_default();
            let bounces = self.opts.bounce_suffix.as_deref().is_some_and(|s| account.number().ends_with(s));
            rows.push((
                i,
                NewRow {
                    id: stable_id("transfer", &t.payout_id),
                    ctid: t.payout_id.clone(),
                    account_id: stable_id("account", &format!("{}|{account_key}", t.recipient.holder_name.trim())),
                    holder: t.recipient.holder_name.trim().to_string(),
                    masked: account.masked(),
                    amount: t.amount_minor,
                    currency: t.currency.clone(),
                    reference: t.reference.clone(),
                    bounces: i64::from(bounces),
                },
            ));
        }
        let first_step = now + self.opts.step_ms.max(1);
        let mut found: std::collections::HashMap<String, Stored> = std::collections::HashMap::with_capacity(rows.len());
        for chunk in rows.chunks(INSERT_CHUNK) {
            // A payout id twice in one statement is inserted once.
            let mut seen = std::collections::HashSet::new();
            let unique: Vec<NewRow> = chunk.iter().filter(|(_, r)| seen.insert(r.ctid.clone())).map(|(_, r)| r.clone()).collect();
            for (ctid, s) in self.store(unique, now, first_step).await? {
                found.insert(ctid, s);
            }
        }
        for (i, r) in rows {
            out[i] = Some(match found.get(&r.ctid) {
                None => Err(PayoutError::Unavailable(format!("sandbox transfer {} was not stored; retry", r.ctid))),
                Some(s) if s.amount != r.amount || s.currency != r.currency || s.account_id != r.account_id => Err(PayoutError::Rejected(
                    format!("payout id {} was already used for another transfer (amount, currency or account differ)", r.ctid),
                )),
                Some(s) => Ok(Submitted { payout_id: r.ctid.clone(), provider_ref: s.id.to_string(), state: State::from_wise(&s.status) }),
            });
        }
        Ok(out.into_iter().map(|o| o.unwrap_or_else(|| Err(PayoutError::Unavailable("not processed".into())))).collect())
    }

    async fn state(&self, provider_ref: &str) -> Result<State, PayoutError> {
        let Ok(id) = provider_ref.trim().parse::<i64>() else { return Err(PayoutError::UnknownTransfer(provider_ref.to_string())) };
        let row =
            lsn_db::query("SELECT status FROM payout_sandbox_transfers WHERE id = $1").bind(id).fetch_optional(self.db.read()).await?;
        match row {
            Some(r) => Ok(State::from_wise(&r.try_get::<String, _>(0)?)),
            None => Err(PayoutError::UnknownTransfer(provider_ref.to_string())),
        }
    }

    fn parse_webhook(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<Vec<Event>, PayoutError> {
        crate::wise::parse_delivery(Some(&WebhookKey::payout_sandbox()), headers, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine() {
        assert_eq!(next_status("incoming_payment_waiting", false), Some("processing"));
        assert_eq!(next_status("funds_converted", false), Some("outgoing_payment_sent"));
        assert_eq!(next_status("outgoing_payment_sent", false), None);
        assert_eq!(next_status("outgoing_payment_sent", true), Some("bounced_back"));
        assert_eq!(next_status("bounced_back", true), Some("funds_refunded"));
        assert_eq!(next_status("funds_refunded", true), None);
        assert_eq!(wise_time(1_629_713_570_000), "2021-08-23T10:12:50Z");
        assert_eq!(wise_time(1_629_713_570_005), "2021-08-23T10:12:50.005Z");
        let a = stable_id("transfer", "x");
        assert_eq!(a, stable_id("transfer", "x"));
        assert!(a < (1 << 53) && a > 0);
        assert_ne!(a, stable_id("transfer", "y"));
    }
}
