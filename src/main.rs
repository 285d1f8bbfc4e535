//! `lsn`: the one binary of the Live Shopping Network. Thin: parses the command line, loads the
//! configuration, and calls into the library crates.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use lsn_core::{clock, Config};
use lsn_db::backup::{self, BackupKind};
use lsn_db::{Db, DbTarget};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// jemalloc instead of the system allocator: it gives memory freed after a burst (thousands of
/// viewers joining at once, a load spike) back to the system within seconds, where glibc's
/// allocator keeps it (docs/BENCHMARKS.md, live room fan-out).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(name = "lsn", version, about = "LSN — Live Shopping Network: a self-hostable live-commerce platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the shop: HTTP server plus background jobs (migrates and seeds as configured).
    Serve {
        /// `all` (default), `web` (HTTP only) or `worker` (jobs and schedules only).
        #[arg(long, default_value = "all")]
        role: String,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Create the runbook's core data (idempotent); `--demo` adds the demo shop.
    Init {
        #[arg(long)]
        demo: bool,
    },
    /// Check the installation: one ✓/✗ line per check, non-zero exit when one fails.
    Doctor,
    /// Take a consistent online backup (gzip) into the backup directory.
    Backup {
        #[arg(long, default_value = "daily")]
        kind: String,
        /// Also delete backups past retention (daily 30 days, hourly 7 days).
        #[arg(long)]
        prune: bool,
        /// Backup directory (default: LSN_DATA_DIR/backups).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Restore a backup file; refuses to replace a live database without --force.
    Restore {
        file: PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Administer accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The daily summary (or, with --weekly, the weekly report): every module's section for one
    /// day (or the seven days ending it) in the shop's time zone. Printed as text, or written as
    /// the mail's HTML to --out with its chart images and CSV files beside it.
    Summary {
        /// The day (YYYY-MM-DD), or the last day of the week; yesterday when left out.
        #[arg(long)]
        date: Option<String>,
        /// The weekly report: the seven days ending --date, against the seven before.
        #[arg(long)]
        weekly: bool,
        /// Write the HTML report to this file (the images and CSV files go beside it).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Scheduled tasks and the job queue.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account with a role (or change the role of an existing one).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "admin")]
        role: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
        /// Read the password from standard input (otherwise LSN_ADMIN_PASSWORD, else one is generated).
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Every schedule with its next and last run (the runbook's getScheduledTasks).
    List,
    /// The latest runs of a schedule or job kind (the runbook's getTaskHistory).
    History {
        name: String,
        #[arg(long, default_value_t = 30)]
        limit: i64,
    },
    /// Run every due job now, then exit.
    Run,
}

fn init_logging(cfg: Option<&Config>) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LSN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if cfg.is_some_and(|c| c.log_format_json) {
        builder.json().flatten_event(true).with_current_span(true).init();
    } else {
        builder.with_target(false).init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            init_logging(None);
            eprintln!("✗ configuration: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(Some(&cfg));
    match run(cli, cfg).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn open(cfg: &Config) -> anyhow::Result<Db> {
    let db = Db::connect(cfg).await?;
    db.migrate(lsn_web::schema()).await.context("applying migrations")?;
    Ok(db)
}

async fn run(cli: Cli, cfg: Config) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { role } => serve(cfg, &role).await?,
        Command::Migrate => {
            let db = Db::connect(&cfg).await?;
            let applied = db.migrate(lsn_web::schema()).await?;
            let st = db.migration_status(lsn_web::schema()).await?;
            println!("✓ {} at migration {} ({} applied now)", db.target().describe(), st.applied, applied.len());
        }
        Command::Init { demo } => {
            let db = open(&cfg).await?;
            let inserted = lsn_warehouse::init(&db, chrono::Utc::now().timestamp_millis()).await?;
            let c = lsn_warehouse::counts(&db).await?;
            if inserted == 0 {
                println!("✓ core data already present; nothing changed");
            } else {
                println!("✓ core data created ({inserted} rows)");
            }
            println!(
                "  warehouses {} · zones {} · bins {} · channels {} · suppliers {}",
                c.warehouses, c.zones, c.bins, c.channels, c.suppliers
            );
            if demo {
                let rt = lsn_web::Runtime::new(db.clone(), std::sync::Arc::new(cfg.clone()), clock::system())?;
                println!("✓ demo: {}", lsn_web::demo::load(&rt.state.identity, &rt.state.commerce, &rt.state.live).await?);
                println!("✓ demo: {}", lsn_web::demo_history::load(&rt).await?);
            }
        }
        Command::Doctor => return doctor(&cfg).await,
        Command::Backup { kind, prune, dir } => {
            let kind = BackupKind::parse(&kind).with_context(|| format!("--kind must be daily or hourly, not {kind:?}"))?;
            let db = Db::connect(&cfg).await?;
            let dir = dir.unwrap_or_else(|| cfg.backup_dir());
            let b = db.backup(&dir, kind, chrono::Utc::now()).await?;
            println!("✓ backup written: {} ({} bytes)", b.path.display(), b.bytes);
            if prune {
                let removed = backup::prune(&dir, chrono::Utc::now())?;
                println!("✓ pruned {} old backup(s)", removed.len());
            }
        }
        Command::Restore { file, force } => {
            let target = DbTarget::from_config(&cfg)?;
            let r = backup::restore(&file, &target, force).await?;
            println!("✓ restored {} into {} (migration {}, {} users)", file.display(), target.describe(), r.migration_version, r.users);
            if let Some(p) = r.moved_aside {
                println!("  the previous database was kept as {}", p.display());
            }
        }
        Command::Admin { command: AdminCommand::Create { email, role, name, password_stdin } } => {
            let role: lsn_identity::Role = role.parse().map_err(anyhow::Error::msg)?;
            let db = open(&cfg).await?;
            let rt = lsn_web::Runtime::new(db, std::sync::Arc::new(cfg.clone()), clock::system())?;
            let id = &rt.state.identity;
            let actor = lsn_identity::audit::Actor::cli();
            let parsed = lsn_core::Email::parse(&email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
            if let Some(existing) = id.user_by_email(parsed.as_str()).await? {
                let u = id.change_role(&actor, None, &existing.id, role).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("✓ {} already existed; role is now {}", parsed, u.role.as_str());
            } else {
                let (password, generated) = if password_stdin {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    (line.trim_end_matches(['\r', '\n']).to_string(), false)
                } else if let Ok(p) = std::env::var("LSN_ADMIN_PASSWORD") {
                    (p, false)
                } else {
                    (lsn_core::ids::random_token(18), true)
                };
                let u = id.create_user(&actor, parsed.as_str(), &name, &password, role).await.map_err(|e| match e {
                    lsn_identity::IdentityError::Validation(v) => {
                        anyhow::anyhow!("invalid: {v}")
                    }
                    other => anyhow::anyhow!("{other}"),
                })?;
                println!("✓ created {} ({})", parsed, u.role.as_str());
                if generated {
                    println!("  password (shown once): {password}");
                }
            }
        }
        Command::Summary { date, weekly, out } => {
            let today = chrono::Utc::now().with_timezone(&cfg.timezone).date_naive();
            let date = match date {
                Some(d) => chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                    .map_err(|_| anyhow::anyhow!("--date: give a day as YYYY-MM-DD, not {d:?}"))?,
                None => today.pred_opt().unwrap_or(today),
            };
            let period = if weekly {
                lsn_ops::summary::Period::weekly(cfg.timezone, date)
            } else {
                lsn_ops::summary::Period::daily(cfg.timezone, date)
            };
            let db = open(&cfg).await?;
            let rt = lsn_web::Runtime::new(db, std::sync::Arc::new(cfg.clone()), clock::system())?;
            let report = lsn_web::summary::report(&rt.state, period).await;
            let images = if out.is_some() { lsn_mails::Images::Files } else { lsn_mails::Images::Inline };
            let mail = lsn_mails::summary(&lsn_web::summary::brand(&cfg), &report, images)?;
            match out {
                None => print!("{}", mail.text),
                Some(path) => {
                    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
                    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
                    std::fs::write(&path, &mail.html).with_context(|| format!("cannot write {}", path.display()))?;
                    println!("✓ {}", path.display());
                    for a in &mail.attachments {
                        let file = dir.join(&a.filename);
                        std::fs::write(&file, &a.content).with_context(|| format!("cannot write {}", file.display()))?;
                        println!("✓ {}", file.display());
                    }
                }
            }
        }
        Command::Jobs { command } => {
            let db = open(&cfg).await?;
            match command {
                JobsCommand::List => {
                    let rt = lsn_web::Runtime::new(db.clone(), std::sync::Arc::new(cfg.clone()), clock::system())?;
                    rt.scheduler.register(&rt.schedules, chrono::Utc::now()).await?;
                    let rows = lsn_ops::schedule::list(&db).await?;
                    println!("{:<20} {:<28} {:<18} {:<25} {:<25} LAST", "NAME", "SCHEDULE", "JOB", "NEXT RUN", "LAST RUN");
                    for r in rows {
                        println!(
                            "{:<20} {:<28} {:<18} {:<25} {:<25} {}{}",
                            r.name,
                            r.cron,
                            r.job_kind,
                            clock::rfc3339(r.next_run_at),
                            r.last_run_at.map(clock::rfc3339).unwrap_or_else(|| "-".into()),
                            r.last_outcome.unwrap_or_else(|| "-".into()),
                            if r.enabled { "" } else { " (disabled)" }
                        );
                    }
                    let depth = lsn_ops::jobs::queue_depth(&db).await?;
                    println!(
                        "queue: {}",
                        if depth.is_empty() {
                            "empty".to_string()
                        } else {
                            depth.iter().map(|(s, n)| format!("{s} {n}")).collect::<Vec<_>>().join(", ")
                        }
                    );
                }
                JobsCommand::History { name, limit } => {
                    let rows = lsn_ops::schedule::history(&db, &name, limit.clamp(1, 1000)).await?;
                    if rows.is_empty() {
                        println!("no runs recorded for {name:?}");
                    }
                    for r in rows {
                        println!(
                            "{}  {:<10} attempt {}  {} ms  {}{}",
                            clock::rfc3339(r.started_at),
                            r.outcome,
                            r.attempt,
                            r.finished_at - r.started_at,
                            r.kind,
                            r.error.map(|e| format!("  error: {e}")).unwrap_or_default()
                        );
                    }
                }
                JobsCommand::Run => {
                    let rt = lsn_web::Runtime::new(db, std::sync::Arc::new(cfg.clone()), clock::system())?;
                    let ran = rt.run_jobs_until_idle().await?;
                    println!("✓ ran {} job(s)", ran.len());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(cfg: Config, role: &str) -> anyhow::Result<()> {
    let (web, background) = match role {
        "all" => (true, true),
        "web" => (true, false),
        "worker" => (false, true),
        other => bail!("--role must be all, web or worker, not {other:?}"),
    };
    let addr = std::net::SocketAddr::new(cfg.host, cfg.port);
    let rt = lsn_web::prepare(cfg, clock::system()).await?;
    if web {
        let listener = listen(addr).with_context(|| format!("cannot listen on {addr} (HOST/PORT)"))?;
        if std::io::stderr().is_terminal() {
            eprintln!(
                "LSN is running at http://{}:{} — Ctrl-C to stop",
                if addr.ip().is_loopback() { "localhost".to_string() } else { addr.ip().to_string() },
                addr.port()
            );
        }
        lsn_web::serve(rt, listener, background, lsn_web::shutdown_signal()).await
    } else {
        // Worker only: no listener, same background loops, same graceful stop.
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        tracing::info!("worker role: HTTP disabled except an internal health port {}", listener.local_addr()?);
        lsn_web::serve(rt, listener, true, lsn_web::shutdown_signal()).await
    }
}

async fn doctor(cfg: &Config) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let mut line = |ok: bool, text: String| {
        println!("{} {text}", if ok { "✓" } else { "✗" });
        failed |= !ok;
    };
    line(true, format!("configuration loaded ({})", if cfg.is_production() { "production" } else { "development" }));
    for p in cfg.production_problems() {
        if cfg.is_production() {
            line(false, p);
        }
    }
    let target = match DbTarget::from_config(cfg) {
        Ok(t) => t,
        Err(e) => {
            line(false, e.to_string());
            return Ok(ExitCode::FAILURE);
        }
    };
    if let DbTarget::Sqlite(p) = &target {
        if !p.exists() {
            line(false, format!("database file {} does not exist yet: run `lsn init` (or `lsn serve`)", p.display()));
            return Ok(ExitCode::FAILURE);
        }
    }
    let db = match Db::connect_target(&target, 2, cfg.durability, 2).await {
        Ok(db) => db,
        Err(e) => {
            line(false, format!("database reachable: {e}"));
            return Ok(ExitCode::FAILURE);
        }
    };
    line(db.ping().await.is_ok(), format!("database reachable ({})", target.describe()));
    match db.migration_status(lsn_web::schema()).await {
        Ok(s) => line(s.is_current(), format!("schema at the latest migration ({} of {})", s.applied, s.latest)),
        Err(e) => line(false, format!("schema: {e}")),
    }
    match lsn_warehouse::counts(&db).await {
        Ok(c) => {
            let problems = c.problems();
            line(
                problems.is_empty(),
                format!(
                    "core data: {} warehouse, {} zones, {} bins, {} channel, {} supplier(s){}",
                    c.warehouses,
                    c.zones,
                    c.bins,
                    c.channels,
                    c.suppliers,
                    if problems.is_empty() { String::new() } else { format!(" — run `lsn init` ({})", problems.join("; ")) }
                ),
            );
        }
        Err(e) => line(false, format!("core data: {e} — run `lsn init`")),
    }
    let dir = &cfg.data_dir;
    let writable = std::fs::create_dir_all(dir).is_ok() && tempfile::tempfile_in(dir).is_ok();
    line(writable, format!("data directory {} writable", dir.display()));
    use lsn_web::doctor::{self, Mark};
    let mut lines = doctor::providers(cfg).await;
    lines.push(doctor::breakers(&db).await);
    // The workflows this binary has, as `lsn serve` folds them.
    match lsn_web::Runtime::new(db.clone(), std::sync::Arc::new(cfg.clone()), lsn_core::clock::system()) {
        Ok(rt) => {
            let known: Vec<(&'static str, i64)> = rt.wiring.workflows.iter().map(|w| (w.name, w.version)).collect();
            lines.push(doctor::workflows(&db, &known).await);
        }
        Err(e) => line(false, format!("modules: {e:#}")),
    }
    lines.push(doctor::jobs(&db, chrono::Utc::now().timestamp_millis()).await);
    lines.push(doctor::disk(cfg, &db));
    for l in lines {
        match l.mark {
            Mark::Ok => line(true, l.text),
            Mark::Fail => line(false, l.text),
            // An integration with no client yet is said to be missing, not checked: no ✓, no ✗.
            Mark::Skip => println!("– {}", l.text),
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The listening socket, with room for a flash crowd's connections: tokio's default backlog
/// (1,024) makes the rest of 2,000 buyers connecting in the same moment wait a second for the
/// retransmitted SYN. The kernel caps it at `net.core.somaxconn` (4,096 by default).
fn listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}
