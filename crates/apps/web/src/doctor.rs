//! The checks of `lsn doctor` beyond the database and the schema: each configured provider's
//! credentials (their shape, and where a call exists that changes nothing, whether the provider
//! answers it within a few seconds), the circuit breakers every node recorded, unfinished
//! workflow runs of a version this binary does not have, stuck jobs and the disk space left for
//! backups. Every line says what it checked.

use lsn_core::config::{Config, MailTransport};
use lsn_db::Db;
use std::time::Duration;

/// How a check came out: `✓`, `✗`, or `–` (nothing to check: a client not built yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Ok,
    Fail,
    Skip,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub mark: Mark,
    pub text: String,
}

fn line(ok: bool, text: String) -> Line {
    Line { mark: if ok { Mark::Ok } else { Mark::Fail }, text }
}

/// The timeout of a reachability call.
const PROBE: Duration = Duration::from_secs(3);

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(PROBE).connect_timeout(PROBE).build().unwrap_or_default()
}

/// What a GET that changes nothing came to.
async fn probe(req: reqwest::RequestBuilder, host: &str) -> (bool, String) {
    match req.send().await {
        Ok(r) if r.status().is_success() => (true, format!("{host} answered {}", r.status().as_u16())),
        Ok(r) if matches!(r.status().as_u16(), 401 | 403) => (false, format!("{host} refused the credentials ({})", r.status().as_u16())),
        Ok(r) => (false, format!("{host} answered {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => (false, format!("{host} did not answer within {} s", PROBE.as_secs())),
        Err(_) => (false, format!("{host} unreachable")),
    }
}

fn host_of(base: &str) -> String {
    url::Url::parse(base).ok().and_then(|u| u.host_str().map(|h| h.to_string())).unwrap_or_else(|| base.to_string())
}

/// One line per integration of the configuration's list.
pub async fn providers(cfg: &Config) -> Vec<Line> {
    let mut out = Vec::new();
    for (name, real) in cfg.integration_modes() {
        let vars = lsn_core::config::INTEGRATIONS.iter().find(|(n, _)| *n == name).map(|(_, v)| v.join(", ")).unwrap_or_default();
        if let Some((_, when)) = lsn_core::config::NOT_BUILT.iter().find(|(n, _)| *n == name) {
            let set = if real { format!("; {vars} set but not used") } else { String::new() };
            out.push(Line { mark: Mark::Skip, text: format!("{name}: not built yet, comes with {when}{set}") });
            continue;
        }
        let sandboxed = matches!(name, "Stripe" | "SendGrid" | "SMTP" | "Slack" | "Twilio" | "Wise");
        if !real {
            let what = match name {
                "SendGrid" | "SMTP" => "sandbox: records only, in the development mailbox".to_string(),
                "Wise" => "payout sandbox: records transfers, moves them through Wise's states and sends signed webhooks".to_string(),
                _ if sandboxed => "sandbox: records only".to_string(),
                "Redis" => "in-process (one node)".to_string(),
                "S3" => "local media directory".to_string(),
                _ => "not configured".to_string(),
            };
            out.push(line(true, format!("{name}: {what} ({vars} unset)")));
            continue;
        }
        out.push(real_provider(cfg, name).await);
    }
    out
}

async fn real_provider(cfg: &Config, name: &str) -> Line {
    let get = |v: &str| cfg.provider(v).map(|s| s.expose().to_string()).unwrap_or_default();
    match name {
        "Stripe" => {
            let key = get("STRIPE_SECRET_KEY");
            let shape = ["sk_live_", "sk_test_", "rk_live_", "rk_test_"].iter().any(|p| key.starts_with(p) && key.len() > p.len());
            if !shape {
                return line(false, "Stripe: STRIPE_SECRET_KEY does not look like a Stripe secret key (sk_live_…, sk_test_…)".into());
            }
            let base = cfg.provider("STRIPE_API_BASE").map(|s| s.expose().to_string()).unwrap_or_else(|| "https://api.stripe.com".into());
            let mode = if key.contains("_live_") { "live" } else { "test" };
            let (ok, said) =
                probe(client().get(format!("{}/v1/balance", base.trim_end_matches('/'))).bearer_auth(&key), &host_of(&base)).await;
            line(ok, format!("Stripe: credentials set (real client, {mode} key); balance read: {said}"))
        }
        "SendGrid" => {
            let MailTransport::SendGrid { api_key, base_url } = &cfg.mail else {
                return line(true, "SendGrid: credentials set".into());
            };
            if !api_key.expose().starts_with("SG.") {
                return line(false, "SendGrid: SENDGRID_API_KEY does not look like a SendGrid key (SG.…)".into());
            }
            let req = client().get(format!("{}/v3/scopes", base_url.trim_end_matches('/'))).bearer_auth(api_key.expose());
            let (ok, said) = probe(req, &host_of(base_url)).await;
            let fallback = if cfg.provider("SMTP_URL").is_some() { "; falls back to SMTP" } else { "" };
            line(ok, format!("SendGrid: credentials set (real client{fallback}); scopes read: {said}"))
        }
        "SMTP" => {
            let raw = get("SMTP_URL");
            let Ok(u) = url::Url::parse(&raw) else { return line(false, "SMTP: SMTP_URL is not a URL".into()) };
            let Some(host) = u.host_str().map(str::to_string) else { return line(false, "SMTP: SMTP_URL has no host".into()) };
            let port = u.port().unwrap_or(if u.scheme() == "smtps" { 465 } else { 587 });
            let role = if matches!(cfg.mail, MailTransport::SendGrid { .. }) { "the fallback behind SendGrid" } else { "real client" };
            let ok = matches!(tokio::time::timeout(PROBE, tokio::net::TcpStream::connect((host.as_str(), port))).await, Ok(Ok(_)));
            let said = if ok { "accepts connections".to_string() } else { format!("no connection within {} s", PROBE.as_secs()) };
            line(ok, format!("SMTP: {role}; {host}:{port} {said}"))
        }
        "Slack" => {
            let hook = get("SLACK_WEBHOOK_URL");
            let ok = url::Url::parse(&hook)
                .is_ok_and(|u| u.scheme() == "https" || u.host_str().is_some_and(|h| h == "127.0.0.1" || h == "localhost"));
            line(
                ok,
                format!(
                    "Slack: webhook URL {} (not called: a webhook has no call that posts nothing)",
                    if ok { "well-formed" } else { "is not an https URL" }
                ),
            )
        }
        "Twilio" => {
            let sid = get("TWILIO_ACCOUNT_SID");
            let from = get("TWILIO_PHONE_NUMBER");
            if !(sid.starts_with("AC") && sid.len() == 34) {
                return line(false, "Twilio: TWILIO_ACCOUNT_SID does not look like an account SID (AC and 32 hex digits)".into());
            }
            if !lsn_core::config::is_e164(&from) {
                return line(false, "Twilio: TWILIO_PHONE_NUMBER is not an E.164 number (+61…)".into());
            }
            let (user, password) = match (cfg.provider("TWILIO_API_KEY"), cfg.provider("TWILIO_API_SECRET")) {
                (Some(k), Some(s)) => (k.expose().to_string(), s.expose().to_string()),
                _ => (sid.clone(), get("TWILIO_AUTH_TOKEN")),
            };
            let base = cfg.provider("TWILIO_API_BASE").map(|b| b.expose().to_string()).unwrap_or_else(|| "https://api.twilio.com".into());
            let req =
                client().get(format!("{}/2010-04-01/Accounts/{sid}.json", base.trim_end_matches('/'))).basic_auth(user, Some(password));
            let (ok, said) = probe(req, &host_of(&base)).await;
            line(ok, format!("Twilio: credentials set (real client); account read: {said}"))
        }
        "Wise" => {
            let base = cfg.provider("WISE_API_BASE").map(|s| s.expose().to_string()).unwrap_or_else(|| "https://api.wise.com".into());
            let req = client().get(format!("{}/v2/profiles", base.trim_end_matches('/'))).bearer_auth(get("WISE_API_TOKEN"));
            let (ok, said) = probe(req, &host_of(&base)).await;
            line(ok, format!("Wise: credentials set (real client, payouts in batch groups); profiles read: {said}"))
        }
        other => line(true, format!("{other}: credentials set (real client; not called by doctor)")),
    }
}

/// The circuit breakers every node recorded: an open one fails the check.
pub async fn breakers(db: &Db) -> Line {
    match lsn_ops::healing::breakers(db).await {
        Ok(all) if all.is_empty() => line(true, "circuit breakers: none has ever opened".into()),
        Ok(all) => {
            let bad: Vec<String> =
                all.iter().filter(|b| b.state != "closed").map(|b| format!("{} {} on {}", b.name, b.state, b.node_id)).collect();
            if bad.is_empty() {
                line(true, format!("circuit breakers: all {} recorded closed", all.len()))
            } else {
                line(false, format!("circuit breakers: {} (calls to it fail fast until a probe succeeds)", bad.join(", ")))
            }
        }
        Err(e) => line(false, format!("circuit breakers: {e}")),
    }
}

/// Unfinished workflow runs whose definition version this binary does not have.
pub async fn workflows(db: &Db, known: &[(&'static str, i64)]) -> Line {
    match lsn_ops::autonomy::unfinished_versions(db).await {
        Ok(runs) => {
            let unknown: Vec<String> = runs
                .iter()
                .filter(|(n, v, _)| !known.iter().any(|(kn, kv)| kn == n && kv == v))
                .map(|(n, v, c)| format!("{n} v{v} ({c} runs)"))
                .collect();
            let total: i64 = runs.iter().map(|r| r.2).sum();
            if unknown.is_empty() {
                line(true, format!("workflows: {total} unfinished run(s), every version registered ({} definitions)", known.len()))
            } else {
                line(
                    false,
                    format!(
                        "workflows: unfinished runs of versions this binary does not have: {} — deploy a binary with them",
                        unknown.join(", ")
                    ),
                )
            }
        }
        Err(e) => line(false, format!("workflows: {e}")),
    }
}

/// Jobs running past their lock, and jobs due over an hour ago that nobody ran.
pub async fn jobs(db: &Db, now: i64) -> Line {
    match lsn_ops::autonomy::stuck_jobs(db, now).await {
        Ok(s) if s.running_past_lock == 0 && s.overdue == 0 => {
            line(true, "jobs: none stuck (none running past its lock, none due over an hour ago)".into())
        }
        Ok(s) => line(
            false,
            format!(
                "jobs: {} running past their lock, {} due over an hour ago{} — is a worker (`lsn serve`) running?",
                s.running_past_lock,
                s.overdue,
                s.oldest_due
                    .map(|t| format!(" (oldest due {})", lsn_core::clock::from_ms(t).format("%Y-%m-%d %H:%M UTC")))
                    .unwrap_or_default()
            ),
        ),
        Err(e) => line(false, format!("jobs: {e}")),
    }
}

/// Free space where backups go: at least twice the SQLite file (or 100 MiB).
pub fn disk(cfg: &Config, db: &Db) -> Line {
    let dir = cfg.backup_dir();
    let probe_dir = if dir.exists() { dir.clone() } else { cfg.data_dir.clone() };
    let out = std::process::Command::new("df").arg("-Pk").arg(&probe_dir).output();
    let free_kib = out.ok().filter(|o| o.status.success()).and_then(|o| {
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        text.lines().nth(1).and_then(|l| l.split_whitespace().nth(3)).and_then(|v| v.parse::<u64>().ok())
    });
    let Some(free_kib) = free_kib else {
        return line(false, format!("disk space for backups in {}: cannot be read (df failed)", dir.display()));
    };
    let db_size = match db.target() {
        lsn_db::DbTarget::Sqlite(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
        _ => 0,
    };
    let need = (db_size * 2).max(100 * 1024 * 1024);
    let free = free_kib * 1024;
    let mib = |b: u64| b / (1024 * 1024);
    line(free >= need, format!("disk space for backups in {}: {} MiB free (needs {} MiB)", dir.display(), mib(free), mib(need)))
}
