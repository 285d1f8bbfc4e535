//! Payouts: bank details (sealed at rest, shown masked), the daily run (2 AM) that turns each
//! approved balance of at least the minimum into a payout, the payout policy
//! (`payout_approval`: auto-approved, or the approval queue with the policy's reason), and the
//! provider (`lsn_payouts`: the sandbox by default, Wise with `WISE_API_TOKEN`, Stripe Connect
//! for creators paid to a connected account).
//!
//! Paying never happens twice: a payout and its debit of the balance are one transaction (the
//! creator's row taken first, so two runs cannot both spend one balance); the payout's id is the
//! provider's idempotency key, so a retried job or a run after a SIGKILL sends the same payout
//! again and gets the same transfer back; a webhook delivery is applied once (by its key) and a
//! state only ever moves a payout forward. A payout that fails or comes back returns its amount
//! to the balance, once.

use crate::ledger::Entry;
use crate::{Code, Creators, CreatorsError};
use lsn_core::i18n;
use lsn_db::RowExt;
use lsn_payouts::{Account, PayoutError, PayoutProvider, Recipient, State, Transfer};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub const RUN_JOB: &str = "creators.payout_run";
pub const SANDBOX_JOB: &str = "creators.payout_sandbox";
pub const RECONCILE_JOB: &str = "creators.payout_reconcile";
/// The alert raised for a payout over the policy's limit.
pub const APPROVAL_ALERT: lsn_ops::AlertType = lsn_ops::AlertType {
    name: "payout_approval_needed",
    description: "A creator payout waits for a person's approval (over $500, or a creator below silver)",
    cooldown_secs: 3_600,
    incident: lsn_ops::Priority::P3,
};

/// The providers payouts go through.
#[derive(Clone)]
pub struct Providers {
    /// Bank transfers: Wise, or the sandbox.
    pub bank: Arc<dyn PayoutProvider>,
    /// The sandbox itself when it is the bank provider (its time moves in a job).
    pub sandbox: Option<Arc<lsn_payouts::Sandbox>>,
    /// Stripe Connect, when configured with a real key.
    pub connect: Option<Arc<dyn PayoutProvider>>,
}

impl Providers {
    fn for_account(&self, a: &Account) -> Option<&Arc<dyn PayoutProvider>> {
        if self.bank.supports(a) {
            return Some(&self.bank);
        }
        self.connect.as_ref().filter(|c| c.supports(a))
    }

    fn by_name(&self, name: &str) -> Option<&Arc<dyn PayoutProvider>> {
        if self.bank.name() == name {
            return Some(&self.bank);
        }
        self.connect.as_ref().filter(|c| c.name() == name)
    }
}

/// A payout as recorded.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Payout {
    pub id: String,
    pub creator_id: String,
    pub amount: i64,
    pub currency: String,
    pub target_currency: String,
    pub status: String,
    pub reason: String,
    pub provider: String,
    pub provider_ref: Option<String>,
    pub failure: Option<String>,
    pub created_at: i64,
    pub submitted_at: Option<i64>,
    pub finished_at: Option<i64>,
}

const COLS: &str = "id, creator_id, amount, currency, target_currency, status, reason, provider, provider_ref, failure, created_at, submitted_at, finished_at";

fn payout_row(r: &lsn_db::Row) -> Result<Payout, lsn_db::Error> {
    Ok(Payout {
        id: r.try_get(0)?,
        creator_id: r.try_get(1)?,
        amount: r.try_get(2)?,
        currency: r.try_get(3)?,
        target_currency: r.try_get(4)?,
        status: r.try_get(5)?,
        reason: r.try_get(6)?,
        provider: r.try_get(7)?,
        provider_ref: r.try_get(8)?,
        failure: r.try_get(9)?,
        created_at: r.try_get(10)?,
        submitted_at: r.try_get(11)?,
        finished_at: r.try_get(12)?,
    })
}

fn invalid(e: lsn_payouts::Invalid) -> CreatorsError {
    CreatorsError::field(e.field, e.message)
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct RunReport {
    pub created: u64,
    pub awaiting_approval: u64,
    pub submitted: u64,
    pub failed: u64,
}

impl Creators {
    /// Saves a creator's bank account (checked like the provider checks it, sealed at rest).
    pub async fn set_bank_account(&self, creator_id: &str, holder_name: &str, account: &Account) -> Result<Value, CreatorsError> {
        let c = self.get(creator_id).await?;
        let holder = holder_name.trim();
        if holder.is_empty() || holder.chars().count() > 140 {
            return Err(CreatorsError::field("holder_name", i18n::t("creators-holder-name")));
        }
        let account = account.validate().map_err(invalid)?;
        if self.providers.for_account(&account).is_none() {
            return Err(CreatorsError::field("account", i18n::t("creators-account-unsupported")));
        }
        let masked = account.masked();
        let sealed = self
            .bank_key
            .seal(&c.id, serde_json::to_string(&json!({"holder_name": holder, "account": account})).unwrap_or_default().as_bytes());
        let currency = account.currency_hint().map(str::to_string).unwrap_or(c.payout_currency.clone());
        lsn_db::query(
            "INSERT INTO creator_bank_accounts (creator_id, holder_name, kind, details, masked, currency, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (creator_id) DO UPDATE SET holder_name = excluded.holder_name, kind = excluded.kind, details = excluded.details, masked = excluded.masked, currency = excluded.currency, updated_at = excluded.updated_at",
        )
        .bind(&c.id)
        .bind(holder)
        .bind(account_kind(&account))
        .bind(&sealed)
        .bind(&masked)
        .bind(&currency)
        .bind(self.clock.now_ms())
        .execute(self.db.write())
        .await?;
        Ok(json!({"holder_name": holder, "kind": account_kind(&account), "masked": masked, "currency": currency}))
    }

    /// The bank account as anyone may see it: masked.
    pub async fn bank_account(&self, creator_id: &str) -> Result<Option<Value>, CreatorsError> {
        let r = lsn_db::query("SELECT holder_name, kind, masked, currency, updated_at FROM creator_bank_accounts WHERE creator_id = $1")
            .bind(creator_id)
            .fetch_optional(self.db.read())
            .await?;
        Ok(r.map(|r| {
            Ok::<_, lsn_db::Error>(json!({"holder_name": r.try_get::<String, _>(0)?, "kind": r.try_get::<String, _>(1)?, "masked": r.try_get::<String, _>(2)?, "currency": r.try_get::<String, _>(3)?, "updated_at": r.try_get::<i64, _>(4)?}))
        })
        .transpose()?)
    }

    async fn recipient(&self, creator_id: &str) -> Result<Option<(Recipient, String)>, CreatorsError> {
        // The bank account and the creator's e-mail address in one read (the payout run asks
        // this for every payout it sends).
        let Some(r) = lsn_db::query(
            "SELECT b.details, b.currency, u.email FROM creator_bank_accounts b JOIN creators c ON c.id = b.creator_id \
             LEFT JOIN user_contacts u ON u.id = c.user_id WHERE b.creator_id = $1",
        )
        .bind(creator_id)
        .fetch_optional(self.db.read())
        .await?
        else {
            return Ok(None);
        };
        let (sealed, currency, email): (String, String, Option<String>) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        let Some(plain) = self.bank_key.open(creator_id, &sealed) else {
            tracing::error!(creator = creator_id, "bank details do not open with this key (LSN_DATA_KEY changed?)");
            return Ok(None);
        };
        let v: Value = serde_json::from_slice(&plain).unwrap_or(Value::Null);
        let Ok(account) = serde_json::from_value::<Account>(v["account"].clone()) else { return Ok(None) };
        Ok(Some((Recipient { holder_name: v["holder_name"].as_str().unwrap_or_default().to_string(), email, account }, currency)))
    }

    pub async fn payout(&self, id: &str) -> Result<Payout, CreatorsError> {
        if !lsn_core::ids::is_valid_id(id) {
            return Err(CreatorsError::NotFound);
        }
        let r = lsn_db::query(&format!("SELECT {COLS} FROM creator_payouts WHERE id = $1")).bind(id).fetch_optional(self.db.read()).await?;
        r.map(|r| payout_row(&r)).transpose()?.ok_or(CreatorsError::NotFound)
    }

    pub async fn payouts(&self, creator_id: Option<&str>, status: Option<&str>, limit: i64) -> Result<Vec<Payout>, CreatorsError> {
        let rows = lsn_db::query(&format!(
            "SELECT {COLS} FROM creator_payouts WHERE ($1 IS NULL OR creator_id = $1) AND ($2 IS NULL OR status = $2) ORDER BY created_at DESC LIMIT {}",
            limit.clamp(1, 1000)
        ))
        .bind(creator_id)
        .bind(status)
        .fetch_all(self.db.read())
        .await?;
        Ok(rows.iter().map(payout_row).collect::<Result<_, _>>()?)
    }

    /// Creates a payout of `amount` (or, with `None`, the whole available balance) for one
    /// creator: the policy decides whether it is approved or waits for a person. `None` when the
    /// balance is below the minimum (the daily run skips such creators quietly).
    pub async fn request_payout(
        &self,
        creator_id: &str,
        amount: Option<i64>,
        currency: Option<&str>,
        requested_by: &str,
    ) -> Result<Option<Payout>, CreatorsError> {
        let c = self.get(creator_id).await?;
        if c.status != "approved" {
            return Err(CreatorsError::rule(Code::CreatorNotApproved, i18n::t("creators-not-approved")));
        }
        let Some((recipient, account_currency)) = self.recipient(&c.id).await? else {
            return Err(CreatorsError::rule(Code::NoBankAccount, i18n::t("creators-no-bank-account")));
        };
        let target = account_currency;
        if let Some(cur) = currency.map(str::to_ascii_uppercase) {
            if cur != target && cur != "AUD" {
                return Err(CreatorsError::rule(
                    Code::CurrencyMismatch,
                    i18n::t_args("creators-currency-mismatch", &[("currency", &target)]),
                ));
            }
        }
        let settings = self.settings().await?;
        if let Some(a) = amount {
            if a < settings.minimum_payout {
                return Err(CreatorsError::rule(
                    Code::BelowMinimum,
                    i18n::t_args(
                        "creators-below-minimum",
                        &[("minimum", &lsn_core::money::Money::aud(settings.minimum_payout).to_string())],
                    ),
                ));
            }
        }
        let provider = self.providers.for_account(&recipient.account).map(|p| p.name()).unwrap_or("none");
        let now = self.clock.now_ms();
        let (me, cid, tier, who, target2) = (self.clone(), c.id.clone(), c.tier.clone(), requested_by.to_string(), target.clone());
        let min = settings.minimum_payout;
        let made = self
            .db
            .transaction(move |tx| {
                let (me, cid, tier, who, target) = (me.clone(), cid.clone(), tier.clone(), who.clone(), target2.clone());
                Box::pin(async move {
                    // The creator's row first: two runs for one creator go one after the other.
                    lsn_db::query("UPDATE creators SET updated_at = updated_at WHERE id = $1").bind(&cid).execute(&mut **tx).await?;
                    let available: i64 = lsn_db::query("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM creator_ledger WHERE creator_id = $1 AND status = 'approved'")
                        .bind(&cid)
                        .fetch_one(&mut **tx)
                        .await?
                        .try_get(0)?;
                    let amount = match amount {
                        Some(a) if a > available => return Ok(Err(Code::InsufficientBalance)),
                        Some(a) => a,
                        None if available < min => return Ok(Err(Code::BelowMinimum)),
                        None => available,
                    };
                    let id = lsn_core::ids::new_id();
                    let facts = json!({"amount": amount as f64 / 100.0, "creator_tier": tier});
                    let decision = me
                        .policies
                        .decide_in(tx, now, "payout_approval", &facts, Some(&id), lsn_ops::policy::OnEscalate::Caller)
                        .await
                        .map_err(|e| lsn_db::Error::decode(format!("payout policy: {e}")))?;
                    let (status, reason) = match decision.outcome {
                        lsn_ops::policy::Outcome::Allow => ("approved", "approved by the payout policy".to_string()),
                        lsn_ops::policy::Outcome::Escalate => ("awaiting_approval", format!("over the policy's limit (${:.2})", amount as f64 / 100.0)),
                        lsn_ops::policy::Outcome::Deny => ("awaiting_approval", format!("the policy does not approve a {tier} creator's payout of ${:.2} by itself", amount as f64 / 100.0)),
                    };
                    lsn_db::query(
                        "INSERT INTO creator_payouts (id, creator_id, amount, currency, target_currency, status, reason, decision_id, provider, requested_by, created_at, updated_at) \
                         VALUES ($1, $2, $3, 'AUD', $4, $5, $6, $7, $8, $9, $10, $10)",
                    )
                    .bind(&id)
                    .bind(&cid)
                    .bind(amount)
                    .bind(&target)
                    .bind(status)
                    .bind(&reason)
                    .bind(&decision.id)
                    .bind(provider)
                    .bind(&who)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                    crate::ledger::insert(tx, now, &[Entry::new(&cid, "payout", "payout", &id, "", -amount, "approved", now, "payout")]).await?;
                    if status == "awaiting_approval" {
                        lsn_ops::alerts::raise(
                            tx,
                            now,
                            &APPROVAL_ALERT,
                            &format!("payout:{id}"),
                            lsn_ops::Severity::Warning,
                            &i18n::t_args("creators-approval-alert", &[("amount", &lsn_core::money::Money::aud(amount).to_string()), ("reason", &reason)]),
                            &json!({"payout_id": id, "creator_id": cid, "amount": amount}).to_string(),
                        )
                        .await?;
                    }
                    Ok::<_, lsn_db::Error>(Ok(id))
                })
            })
            .await?;
        match made {
            Ok(id) => Ok(Some(self.payout(&id).await?)),
            Err(Code::BelowMinimum) if amount.is_none() => Ok(None),
            Err(code) => Err(CreatorsError::rule(code, i18n::t("creators-insufficient-balance"))),
        }
    }

    /// A person approves a payout waiting in the queue.
    pub async fn approve_payout(&self, id: &str, who: &str) -> Result<Payout, CreatorsError> {
        let r = lsn_db::query("UPDATE creator_payouts SET status = 'approved', decided_at = $1, decided_by = $2, updated_at = $1 WHERE id = $3 AND status = 'awaiting_approval'")
            .bind(self.clock.now_ms())
            .bind(who)
            .bind(id)
            .execute(self.db.write())
            .await?;
        if r.rows_affected() == 0 {
            self.payout(id).await?;
            return Err(CreatorsError::rule(Code::PayoutNotAwaiting, i18n::t("creators-payout-not-awaiting")));
        }
        self.payout(id).await
    }

    /// A person rejects a payout: its amount goes back to the balance.
    pub async fn reject_payout(&self, id: &str, who: &str, note: &str) -> Result<Payout, CreatorsError> {
        let p = self.payout(id).await?;
        let now = self.clock.now_ms();
        let (pid, who, note) = (id.to_string(), who.to_string(), note.trim().chars().take(500).collect::<String>());
        let done = self
            .db
            .transaction(move |tx| {
                let (pid, who, note, p) = (pid.clone(), who.clone(), note.clone(), p.clone());
                Box::pin(async move {
                    let r = lsn_db::query("UPDATE creator_payouts SET status = 'rejected', decided_at = $1, decided_by = $2, failure = $3, finished_at = $1, updated_at = $1 WHERE id = $4 AND status = 'awaiting_approval'")
                        .bind(now)
                        .bind(&who)
                        .bind(&note)
                        .bind(&pid)
                        .execute(&mut **tx)
                        .await?;
                    if r.rows_affected() == 0 {
                        return Ok(false);
                    }
                    crate::ledger::insert(tx, now, &[Entry::new(&p.creator_id, "payout_return", "payout", &pid, "", p.amount, "approved", now, "payout rejected")]).await?;
                    Ok::<_, lsn_db::Error>(true)
                })
            })
            .await?;
        if !done {
            return Err(CreatorsError::rule(Code::PayoutNotAwaiting, i18n::t("creators-payout-not-awaiting")));
        }
        self.payout(id).await
    }

    /// Sends every approved payout not yet submitted through its provider, up to a batch per
    /// call of each provider; idempotent (the payout id is the provider's key).
    pub async fn submit_approved(&self) -> Result<(u64, u64), CreatorsError> {
        let mut submitted = 0;
        let mut failed = 0;
        loop {
            let batch = self.payouts(None, Some("approved"), lsn_payouts::MAX_BATCH as i64).await?;
            if batch.is_empty() {
                break;
            }
            let mut by_provider: std::collections::BTreeMap<String, Vec<(Payout, Transfer)>> = Default::default();
            for p in batch.iter().rev() {
                match self.recipient(&p.creator_id).await? {
                    Some((recipient, target)) => {
                        let name = self.providers.for_account(&recipient.account).map(|x| x.name()).unwrap_or("none").to_string();
                        let t = Transfer {
                            payout_id: p.id.clone(),
                            amount_minor: p.amount,
                            currency: target,
                            source_currency: Some(p.currency.clone()),
                            recipient,
                            reference: format!("LSN {}", &p.id[p.id.len().saturating_sub(8)..]),
                        };
                        by_provider.entry(name).or_default().push((p.clone(), t));
                    }
                    None => {
                        failed += self.finish(&p.id, State::Failed, Some("no usable bank account")).await?;
                    }
                }
            }
            let mut progressed = false;
            for (name, items) in by_provider {
                let Some(provider) = self.providers.by_name(&name).cloned() else {
                    for (p, _) in &items {
                        failed += self.finish(&p.id, State::Failed, Some("no provider pays to this account")).await?;
                    }
                    progressed = true;
                    continue;
                };
                let transfers: Vec<Transfer> = items.iter().map(|(_, t)| t.clone()).collect();
                let answers = match provider.pay(&transfers).await {
                    Ok(a) => a,
                    Err(e) if e.is_retryable() => {
                        return Err(CreatorsError::Db(lsn_db::Error::decode(format!("payout provider unavailable: {e}"))))
                    }
                    Err(e) => transfers.iter().map(|_| Err(e.clone())).collect(),
                };
                for ((p, _), answer) in items.iter().zip(answers) {
                    match answer {
                        Ok(s) => {
                            submitted += self.mark_submitted(&p.id, provider.name(), &s.provider_ref).await?;
                            progressed = true;
                            if s.state != State::Submitted && s.state != State::Processing {
                                self.finish(&p.id, s.state, None).await?;
                            }
                        }
                        Err(e) if e.is_retryable() => {}
                        Err(e) => {
                            failed += self.finish(&p.id, State::Failed, Some(&e.to_string())).await?;
                            progressed = true;
                        }
                    }
                }
            }
            if !progressed {
                return Err(CreatorsError::Db(lsn_db::Error::decode("the payout provider took none of the batch; retrying later")));
            }
        }
        Ok((submitted, failed))
    }

    async fn mark_submitted(&self, id: &str, provider: &str, reference: &str) -> Result<u64, CreatorsError> {
        let now = self.clock.now_ms();
        Ok(lsn_db::query("UPDATE creator_payouts SET status = 'submitted', provider = $1, provider_ref = $2, submitted_at = $3, updated_at = $3 WHERE id = $4 AND status = 'approved'")
            .bind(provider)
            .bind(reference)
            .bind(now)
            .bind(id)
            .execute(self.db.write())
            .await?
            .rows_affected())
    }

    /// Moves a payout to what the provider says, only ever forward: paid, or failed/returned
    /// with its amount back in the balance (once).
    async fn finish(&self, id: &str, state: State, failure: Option<&str>) -> Result<u64, CreatorsError> {
        let (to, from): (&str, &[&str]) = match state {
            State::Sent => ("paid", &["approved", "submitted"]),
            State::Failed | State::Cancelled => ("failed", &["approved", "submitted"]),
            State::Returned => ("returned", &["approved", "submitted", "paid"]),
            State::Submitted | State::Processing => return Ok(0),
        };
        let now = self.clock.now_ms();
        let (pid, failure) = (id.to_string(), failure.map(|f| f.chars().take(500).collect::<String>()));
        let from: Vec<String> = from.iter().map(|s| s.to_string()).collect();
        Ok(self
            .db
            .transaction(move |tx| {
                let (pid, failure, from) = (pid.clone(), failure.clone(), from.clone());
                Box::pin(async move {
                    let Some(r) = lsn_db::query("SELECT creator_id, amount, status FROM creator_payouts WHERE id = $1").bind(&pid).fetch_optional(&mut **tx).await? else {
                        return Ok(0);
                    };
                    let (creator, amount, status): (String, i64, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                    if !from.contains(&status) {
                        return Ok(0);
                    }
                    let r = lsn_db::query("UPDATE creator_payouts SET status = $1, failure = COALESCE($2, failure), finished_at = $3, updated_at = $3 WHERE id = $4 AND status = $5")
                        .bind(to)
                        .bind(&failure)
                        .bind(now)
                        .bind(&pid)
                        .bind(&status)
                        .execute(&mut **tx)
                        .await?;
                    if r.rows_affected() == 0 {
                        return Ok(0);
                    }
                    if to != "paid" {
                        crate::ledger::insert(tx, now, &[Entry::new(&creator, "payout_return", "payout", &pid, "", amount, "approved", now, &format!("payout {to}"))]).await?;
                    }
                    Ok::<_, lsn_db::Error>(1)
                })
            })
            .await?)
    }

    /// `creators.processPayout`: one payout of `amount` cents for a creator now, by the policy;
    /// sent straight away when approved.
    pub async fn process_payout(&self, creator_id: &str, amount: i64, currency: Option<&str>, who: &str) -> Result<Payout, CreatorsError> {
        self.approve_due().await?;
        let p = self.request_payout(creator_id, Some(amount), currency, who).await?.ok_or(CreatorsError::NotFound)?;
        if p.status == "approved" {
            self.submit_approved().await?;
            self.sandbox_tick().await?;
        }
        self.payout(&p.id).await
    }

    /// The daily run: commissions due are approved, every creator with an approved balance of
    /// at least the minimum and a bank account gets a payout (by policy), and the approved
    /// payouts are sent.
    pub async fn run_payouts(&self) -> Result<RunReport, CreatorsError> {
        self.approve_due().await?;
        let min = self.settings().await?.minimum_payout;
        let due = lsn_db::query(
            "SELECT l.creator_id FROM creator_ledger l JOIN creators c ON c.id = l.creator_id JOIN creator_bank_accounts b ON b.creator_id = l.creator_id \
             WHERE l.status = 'approved' AND c.status = 'approved' \
             AND NOT EXISTS (SELECT 1 FROM creator_payouts p WHERE p.creator_id = l.creator_id AND p.status = 'awaiting_approval') \
             GROUP BY l.creator_id HAVING SUM(l.amount) >= $1",
        )
        .bind(min)
        .fetch_all(self.db.read())
        .await?;
        let mut report = RunReport::default();
        for r in &due {
            let cid: String = r.try_get(0)?;
            match self.request_payout(&cid, None, None, "payout_run").await {
                Ok(Some(p)) => {
                    report.created += 1;
                    if p.status == "awaiting_approval" {
                        report.awaiting_approval += 1;
                    }
                }
                Ok(None) => {}
                Err(CreatorsError::Db(e)) => return Err(CreatorsError::Db(e)),
                Err(e) => tracing::warn!(creator = %cid, error = %e, "no payout for this creator"),
            }
        }
        let (submitted, failed) = self.submit_approved().await?;
        report.submitted = submitted;
        report.failed = failed;
        Ok(report)
    }

    /// Applies a provider's webhook delivery: verified by the provider, each event once, a
    /// payout only moved forward. `UnknownTransfer` when it names no payout of ours.
    pub async fn apply_webhook(&self, provider: &str, headers: &http::HeaderMap, body: &[u8]) -> Result<usize, CreatorsError> {
        let Some(p) = self.providers.by_name(provider).cloned() else { return Err(CreatorsError::NotFound) };
        let mut events = p.parse_webhook(headers, body).map_err(|e| match e {
            PayoutError::Signature => CreatorsError::rule(Code::BadSignature, i18n::t("creators-bad-signature")),
            other => CreatorsError::field("body", other.to_string()),
        })?;
        events.sort_by_key(|e| e.occurred_at_ms);
        let mut applied = 0;
        for e in events {
            // A step on the way (created, processing, converted) changes nothing here.
            if matches!(e.state, State::Submitted | State::Processing) {
                continue;
            }
            let r = lsn_db::query("SELECT id FROM creator_payouts WHERE provider = $1 AND provider_ref = $2")
                .bind(p.name())
                .bind(&e.provider_ref)
                .fetch_optional(self.db.read())
                .await?;
            let id = match (r, &e.payout_id) {
                (Some(r), _) => r.try_get::<String, _>(0)?,
                (None, Some(pid)) if self.payout(pid).await.is_ok() => {
                    // Sent, and the answer lost before it was recorded: this names it.
                    self.mark_submitted(pid, p.name(), &e.provider_ref).await?;
                    pid.clone()
                }
                _ => return Err(CreatorsError::rule(Code::UnknownTransfer, i18n::t("creators-unknown-transfer"))),
            };
            let key = format!("{}:{}:{}:{}", p.name(), e.provider_ref, e.state.as_str(), e.occurred_at_ms);
            let fresh = lsn_db::query("INSERT INTO creator_payout_events (key, payout_id, state, occurred_at, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING")
                .bind(&key)
                .bind(&id)
                .bind(e.state.as_str())
                .bind(e.occurred_at_ms)
                .bind(self.clock.now_ms())
                .execute(self.db.write())
                .await?
                .rows_affected();
            if fresh == 1 {
                self.finish(&id, e.state, None).await?;
                applied += 1;
            }
        }
        Ok(applied)
    }

    /// Payouts submitted a while ago whose webhook never came: asks the provider.
    pub async fn reconcile(&self, older_than_ms: i64) -> Result<u64, CreatorsError> {
        let before = self.clock.now_ms() - older_than_ms;
        let rows = lsn_db::query("SELECT id, provider, provider_ref FROM creator_payouts WHERE status = 'submitted' AND submitted_at < $1 ORDER BY submitted_at LIMIT 1000")
            .bind(before)
            .fetch_all(self.db.read())
            .await?;
        let mut n = 0;
        for r in &rows {
            let (id, provider, reference): (String, String, Option<String>) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
            let (Some(p), Some(reference)) = (self.providers.by_name(&provider).cloned(), reference) else { continue };
            match p.state(&reference).await {
                Ok(state) => n += self.finish(&id, state, None).await?,
                Err(e) => tracing::warn!(payout = %id, error = %e, "a payout's state could not be read"),
            }
        }
        Ok(n)
    }

    /// The sandbox's time moving: its transfers advance, and their webhooks are delivered here
    /// as Wise would deliver them (each applied once however often it comes).
    pub async fn sandbox_tick(&self) -> Result<usize, CreatorsError> {
        let Some(sb) = self.providers.sandbox.clone() else { return Ok(0) };
        let deliveries = sb.advance(self.clock.now_ms()).await.map_err(|e| CreatorsError::Db(lsn_db::Error::decode(e.to_string())))?;
        let mut n = 0;
        for d in deliveries {
            match self.apply_webhook(sb.name(), &d.headers, &d.body).await {
                Ok(k) => n += k,
                // A transfer whose payout was not recorded yet: the reconciliation finds it.
                Err(CreatorsError::Rule { code: Code::UnknownTransfer, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }
}

fn account_kind(a: &Account) -> &'static str {
    match a {
        Account::Australian { .. } => "australian",
        Account::Iban { .. } => "iban",
        Account::SortCode { .. } => "sort_code",
        Account::Aba { .. } => "aba",
        Account::StripeConnect { .. } => "stripe_connect",
    }
}
