//! Start-up and shutdown: connect, migrate, seed, serve, run background work, drain.

use crate::app::{build_router, AppState};
use anyhow::Context;
use lsn_core::{Config, SharedClock};
use lsn_db::Db;
use lsn_ops::{Schedule, Scheduler, Subscriber, Wiring, Worker};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Everything a running LSN process holds.
#[derive(Clone)]
pub struct Runtime {
    pub state: AppState,
    pub worker: Worker,
    pub scheduler: Scheduler,
    /// Every module's durable workflows.
    pub engine: lsn_ops::Engine,
    pub schedules: Vec<Schedule>,
    pub subscribers: Vec<Subscriber>,
    /// Every module, folded (see `lsn_ops::module`).
    pub wiring: Arc<Wiring>,
}

/// Every schema step the app knows: the kernel's history and each domain's own, in version order.
pub fn schema() -> &'static lsn_db::Schema {
    static SCHEMA: std::sync::LazyLock<lsn_db::Schema> = std::sync::LazyLock::new(|| {
        lsn_db::Schema::new(&[
            lsn_db::HISTORY,
            lsn_warehouse::MIGRATIONS,
            lsn_catalog::MIGRATIONS,
            lsn_identity::MIGRATIONS,
            lsn_commerce::MIGRATIONS,
            lsn_live::MIGRATIONS,
            lsn_creators::MIGRATIONS,
            lsn_risk::MIGRATIONS,
        ])
        .expect("two domains ship a migration with one version") // checked by the schema test
    });
    &SCHEMA
}

/// Every module of the app, folded by [`Runtime::new`]: adding a domain is adding its line here
/// (and its migrations to [`schema`]).
pub fn modules(
    state: &AppState,
    transport: Arc<dyn lsn_mail::Transport>,
    sources: lsn_ops::monitor::Sources,
    figures: lsn_ops::analytics::Sources,
) -> Vec<lsn_ops::Module> {
    vec![
        lsn_ops::builtin::module(state.db.clone(), transport, state.cfg.mail_from.clone(), state.cfg.backup_dir()),
        lsn_ops::alerts::module(&state.db, channels(state), sources),
        lsn_ops::analytics::module(figures).api(crate::analytics::routed(state)).openapi(crate::analytics::openapi()),
        state.identity.module(),
        lsn_warehouse::module(
            state.db.clone(),
            lsn_warehouse::alerts::AlertMail { to: alert_email_to(&state.cfg), brand: crate::summary::brand(&state.cfg) },
        ),
        lsn_catalog::module(),
        state.commerce.module(&state.identity),
        state.live.module(&state.identity),
        state.creators.module(&state.identity),
        state.risk.module(&state.identity),
        crate::app::module(state),
    ]
}

/// Who gets alerts by e-mail: `FOUNDER_EMAIL` and `LSN_ALERT_EMAIL_TO`, each once.
pub fn alert_email_to(cfg: &Config) -> Vec<String> {
    let mut to: Vec<String> = cfg.founder_email.iter().cloned().collect();
    to.extend(cfg.alert_email_to.iter().filter(|e| cfg.founder_email.as_ref().is_none_or(|f| f != *e)).cloned());
    to
}

/// Where alerts go, as the configuration says: Slack and SMS (real clients or their sandboxes),
/// and the people who get critical ones by e-mail and SMS.
pub fn channels(state: &AppState) -> lsn_ops::alerts::Channels {
    let cfg = &state.cfg;
    let email_to = alert_email_to(cfg);
    let breaker = |name| state.healing.breaker(name, lsn_ops::healing::BreakerConfig::default());
    // The sandboxes only write a row: a breaker guards the real clients.
    let mut slack = lsn_notify::slack_from_config(cfg, state.db.clone());
    if slack.name() != "sandbox" {
        slack = Arc::new(lsn_ops::healing::GuardedSlack { inner: slack, breaker: breaker("slack") });
    }
    let mut sms = lsn_notify::sms_from_config(cfg, state.db.clone());
    if sms.name() != "sandbox" {
        sms = Arc::new(lsn_ops::healing::GuardedSms { inner: sms, breaker: breaker("twilio") });
    }
    lsn_ops::alerts::Channels {
        slack,
        sms,
        email_to,
        sms_to: cfg.alert_sms_to.clone(),
        admin_url: cfg.public_url.trim_end_matches('/').to_string(),
        escalate_after_mins: cfg.alert_escalate_minutes,
    }
}

/// The mail transport the configuration asks for, its real client behind a circuit breaker; with
/// both SendGrid and SMTP configured, SendGrid falls back to SMTP (`lsn_ops::healing`).
pub fn mail_transport(state: &AppState) -> anyhow::Result<Arc<dyn lsn_mail::Transport>> {
    use lsn_ops::healing::{BreakerConfig, FallbackTransport, GuardedTransport};
    let cfg = &state.cfg;
    let primary = lsn_mail::from_config(cfg, state.db.clone()).map_err(|e| anyhow::anyhow!("mail transport: {e}"))?;
    if matches!(cfg.mail, lsn_core::config::MailTransport::Mailbox) {
        return Ok(primary);
    }
    let guard = |inner: Arc<dyn lsn_mail::Transport>| -> Arc<dyn lsn_mail::Transport> {
        let breaker = state.healing.breaker(inner.name(), BreakerConfig::default());
        Arc::new(GuardedTransport { inner, breaker })
    };
    let primary = guard(primary);
    match (&cfg.mail, cfg.provider("SMTP_URL")) {
        (lsn_core::config::MailTransport::SendGrid { .. }, Some(url)) => {
            let smtp = lsn_mail::SmtpTransport::from_url(url.expose()).map_err(|e| anyhow::anyhow!("SMTP_URL (the fallback): {e}"))?;
            Ok(Arc::new(FallbackTransport::new(primary, guard(Arc::new(smtp)), state.healing.clone())))
        }
        _ => Ok(primary),
    }
}

impl Runtime {
    /// Builds the process around an open, migrated database. Refuses to build one whose wiring
    /// has a problem (a job without a handler, a schedule nobody runs, a topic nobody hears).
    pub fn new(db: Db, cfg: Arc<Config>, clock: SharedClock) -> anyhow::Result<Self> {
        Self::with_modules(db, cfg, clock, Vec::new())
    }

    /// [`Runtime::new`] with modules beyond the app's own (a test's workflows), folded and
    /// checked like every other.
    pub fn with_modules(db: Db, cfg: Arc<Config>, clock: SharedClock, extra: Vec<lsn_ops::Module>) -> anyhow::Result<Self> {
        let state = AppState::new(db.clone(), cfg.clone(), clock.clone());
        let transport = mail_transport(&state)?;
        let sources = lsn_ops::monitor::Sources::default();
        let figures = lsn_ops::analytics::Sources::default();
        let mut all = modules(&state, transport, sources.clone(), figures.clone());
        all.extend(extra);
        let wiring = Wiring::fold(all);
        sources.set(&wiring.metric_sources);
        figures.set(&wiring.analytics);
        state.policies.set_kinds(&wiring.policy_kinds);
        let mut problems = wiring.problems();
        problems.extend(wiring.schema_problems(schema(), lsn_db::HISTORY));
        anyhow::ensure!(problems.is_empty(), "the modules are wired wrong:\n  {}", problems.join("\n  "));
        let worker = Worker::new(db.clone(), wiring.registry.clone(), clock.clone());
        let engine = lsn_ops::Engine::new(
            db.clone(),
            clock.clone(),
            lsn_ops::workflow::Definitions::new(wiring.workflows.iter().cloned()),
            worker.id(),
        );
        let mut folded = crate::app::Folded::from_wiring(&wiring);
        folded.engine = Some(engine.clone());
        folded.figures = figures.clone();
        let _ = state.site.nav.set(folded.nav.clone());
        let _ = state.folded.set(folded);
        let scheduler = Scheduler::new(db, cfg.timezone, worker.id().to_string(), cfg.enable_autonomous);
        Ok(Self {
            state,
            worker,
            scheduler,
            engine,
            schedules: wiring.schedules.clone(),
            subscribers: wiring.subscribers.clone(),
            wiring: Arc::new(wiring),
        })
    }

    /// The whole HTTP app: every module's routes inside the middleware.
    pub fn router(&self) -> axum::Router {
        build_router(self.state.clone(), self.wiring.router.clone())
    }

    /// Every route and who may call it (the access tests walk it).
    pub fn route_table(&self) -> &[lsn_identity::access::RouteAccess] {
        &self.wiring.routes
    }

    /// Runs every due job and workflow step, dispatching outbox events first (tests and
    /// `lsn jobs run`).
    pub async fn run_jobs_until_idle(&self) -> anyhow::Result<Vec<lsn_ops::jobs::RunReport>> {
        let mut all = Vec::new();
        loop {
            let dispatched = lsn_ops::outbox::dispatch(&self.state.db, &self.subscribers, self.state.clock.now_ms(), 500).await?;
            let ran = self.worker.run_until_idle().await?;
            let steps = self.engine.run_until_idle().await?;
            let idle = dispatched == 0 && ran.is_empty() && steps == 0;
            all.extend(ran);
            if idle {
                return Ok(all);
            }
        }
    }
}

/// Connects and migrates as the configuration says; in development an empty shop gets the demo.
pub async fn prepare(cfg: Config, clock: SharedClock) -> anyhow::Result<Runtime> {
    prepare_with(cfg, clock, Vec::new()).await
}

/// [`prepare`] with modules beyond the app's own (see [`Runtime::with_modules`]).
pub async fn prepare_with(cfg: Config, clock: SharedClock, extra: Vec<lsn_ops::Module>) -> anyhow::Result<Runtime> {
    let cfg = Arc::new(cfg);
    let db = Db::connect(&cfg).await?;
    if cfg.auto_migrate {
        db.migrate(schema()).await.context("applying migrations")?;
    } else {
        let st = db.migration_status(schema()).await?;
        anyhow::ensure!(
            st.is_current(),
            "the database is at migration {} of {}: run `lsn migrate` (LSN_AUTO_MIGRATE is off)",
            st.applied,
            st.latest
        );
    }
    let rt = Runtime::with_modules(db.clone(), cfg.clone(), clock.clone(), extra)?;
    if let Some(url) = &cfg.redis_url {
        let bus = lsn_live::bus::Bus::connect(url.expose()).await.context("REDIS_URL: cannot connect")?;
        rt.state.live.hub.attach_bus(bus).await.context("REDIS_URL: cannot subscribe")?;
        tracing::info!("live rooms span nodes through Redis");
        let store = lsn_ops::limit::SharedStore::connect(url.expose()).await.context("REDIS_URL: cannot connect")?;
        for l in &rt.wiring.limits {
            l.share(store.clone());
        }
        tracing::info!(limits = rt.wiring.limits.len(), "rate limits are counted for every node through Redis");
    }
    lsn_warehouse::init(&db, clock.now_ms()).await.context("creating core data")?;
    if cfg.demo && !cfg.is_production() && crate::demo::is_empty(&db).await? {
        let report = crate::demo::load(&rt.state.identity, &rt.state.commerce, &rt.state.live).await?;
        tracing::info!("empty development database: demo shop loaded ({report})");
        let history = crate::demo_history::load(&rt).await?;
        tracing::info!("demo history loaded ({history})");
        let creators = lsn_creators::demo::load(&rt.state.creators, crate::demo::DEMO_PASSWORD).await?;
        tracing::info!("demo creators loaded ({creators})");
    }
    rt.scheduler.register(&rt.schedules, clock.now()).await?;
    // Each policy's default condition is its version 1 the first time LSN runs.
    rt.state.policies.seed().await.map_err(|e| anyhow::anyhow!("seeding the policies: {e}"))?;
    // Records each workflow version's steps (refusing a version whose steps changed while runs
    // of it are unfinished) and puts back steps a stopped process had claimed.
    match rt.engine.prepare().await {
        Ok(0) => {}
        Ok(n) => {
            tracing::warn!(steps = n, "put back workflow steps left running by a process that stopped without finishing them");
            let detail = format!("{n} workflow step(s) left running by a stopped process put back to run again");
            rt.state.healing.record("workflows", "resumed", "healed", &detail).await;
        }
        Err(e) => anyhow::bail!("workflows: {e}"),
    }
    Ok(rt)
}

/// Serves until `shutdown` resolves, with the background workers when `background` is true;
/// then stops taking connections, finishes in-flight requests and running jobs, and returns.
pub async fn serve(
    rt: Runtime,
    listener: TcpListener,
    background: bool,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    if background {
        match rt.worker.reclaim_orphans().await {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(jobs = n, "put back jobs left running by a process that stopped without finishing them");
                let detail = format!("{n} job(s) left running by a stopped process put back in the queue");
                rt.state.healing.record("jobs", "resumed", "healed", &detail).await;
            }
            Err(e) => tracing::warn!("reclaiming jobs at start-up: {e}"),
        }
        for _ in 0..2 {
            tasks.push(tokio::spawn(rt.worker.clone().run(stop_rx.clone())));
        }
        // With no workflow registered there is nothing it could run: no claim every 250 ms on the
        // writer the checkout shares.
        if !rt.engine.definitions().all().is_empty() {
            tasks.push(tokio::spawn(rt.engine.clone().run(stop_rx.clone())));
        }
        tasks.push(tokio::spawn(background_loop(rt.clone(), stop_rx.clone())));
    }
    let router = rt.router();
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = rt.state.db.backend().name(), "LSN listening on http://{addr}");
    // TCP_NODELAY: a live room's frame or a response must leave at once, not wait for the
    // peer's (delayed) acknowledgement of the one before (Nagle's algorithm).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY on a connection: {e}");
        }
    });
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(shutdown).await?;
    tracing::info!("HTTP server drained; stopping background work");
    let _ = stop_tx.send(true);
    for t in tasks {
        if tokio::time::timeout(Duration::from_secs(60), t).await.is_err() {
            tracing::warn!("a background task did not stop within 60 s");
        }
    }
    rt.state.db.close().await;
    tracing::info!("shutdown complete");
    Ok(())
}

async fn background_loop(rt: Runtime, mut stop: watch::Receiver<bool>) {
    let mut ticks: u64 = 0;
    let sampler = lsn_ops::monitor::Sampler::new(rt.worker.id().to_string());
    let mut watch = DbWatch::default();
    loop {
        if *stop.borrow() {
            break;
        }
        let now = rt.state.clock.now();
        if let Err(e) = lsn_ops::outbox::dispatch(&rt.state.db, &rt.subscribers, now.timestamp_millis(), 500).await {
            tracing::warn!("outbox dispatch: {e}");
        }
        if ticks % 5 == 0 {
            if let Err(e) = rt.scheduler.tick(now).await {
                tracing::warn!("scheduler: {e:#}");
            }
        }
        // Every 10 s: this node's measurements of itself, for the monitoring thresholds.
        if ticks % 50 == 0 {
            if let Err(e) = sampler.record(&rt.state.db, now.timestamp_millis(), process_sample(&rt.state)).await {
                tracing::warn!("recording this node's measurements: {e}");
            }
        }
        // Every 2 s: is the database there? An outage is recorded when it is back.
        if ticks % 10 == 0 {
            watch.tick(&rt.state, now.timestamp_millis()).await;
        }
        if ticks % 300 == 0 {
            match rt.worker.reclaim_stale().await {
                Ok(0) => {}
                Ok(n) => {
                    rt.state
                        .healing
                        .record("jobs", "resumed", "healed", &format!("{n} job(s) whose worker stopped answering put back in the queue"))
                        .await
                }
                Err(e) => tracing::warn!("reclaiming stale jobs: {e}"),
            }
            match rt.engine.reclaim_stale().await {
                Ok(0) => {}
                Ok(n) => {
                    let detail = format!("{n} workflow step(s) whose node stopped answering put back to run again");
                    rt.state.healing.record("workflows", "resumed", "healed", &detail).await;
                }
                Err(e) => tracing::warn!("reclaiming stale workflow steps: {e}"),
            }
        }
        ticks += 1;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = stop.changed() => {}
        }
    }
    let _ = lsn_ops::lease::release(&rt.state.db, "scheduler", rt.worker.id()).await;
}

/// Watches the database from this node: the first failed ping starts an outage, the first
/// good one after it ends it, and then (the database being back) the outage is recorded as a
/// healing event: how long it lasted and that the pool reconnected.
#[derive(Default)]
pub struct DbWatch {
    down_since: Option<(i64, String)>,
}

impl DbWatch {
    pub async fn tick(&mut self, state: &AppState, now: i64) {
        match (state.db.ping().await, &self.down_since) {
            (Ok(()), None) => {}
            (Ok(()), Some((since, why))) => {
                let detail = format!("unreachable for {} s ({why}); the pool reconnected", (now - since).max(0) / 1000);
                tracing::info!("database reachable again: {detail}");
                state.healing.record("database", "reconnected", "healed", &detail).await;
                self.down_since = None;
            }
            (Err(e), None) => {
                tracing::warn!("database unreachable: {e}");
                self.down_since = Some((now, e.to_string().chars().take(200).collect()));
            }
            (Err(_), Some(_)) => {}
        }
    }
}

/// What this process measured of itself, with its fullest database pool's share in use.
pub fn process_sample(state: &AppState) -> lsn_ops::monitor::ProcessSample {
    let mut s = state.metrics.sample();
    let max = f64::from(state.cfg.db_max_connections.max(1));
    s.db_pct = state
        .db
        .pool_stats()
        .iter()
        .map(|(name, size, idle)| {
            let cap = if *name == "write" && state.db.backend() == lsn_db::Backend::Sqlite { 1.0 } else { max };
            (f64::from(*size) - *idle as f64).max(0.0) / cap * 100.0
        })
        .reduce(f64::max);
    s
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown signal received");
}
