//! Test harness: the real server on a random port over a fresh database (SQLite file or a new
//! PostgreSQL database), with a manual clock the test moves and jobs the test runs itself.
#![allow(dead_code)]

use lsn_core::{Config, ManualClock};
use lsn_web::Runtime;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `$scenario(backend)` once on SQLite and once on PostgreSQL (for scenarios that start
/// LSN themselves, with their own configuration or more than once).
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $scenario:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$scenario($crate::common::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::common::postgres_available() {
                    super::$scenario($crate::common::Backend::Postgres).await;
                }
            }
        }
    };
}

/// Whether the PostgreSQL variants can run here (they must when `LSN_TEST_REQUIRE_ALL=1`).
pub fn postgres_available() -> bool {
    let set = std::env::var("LSN_TEST_DATABASE_URL").is_ok();
    assert!(set || !require_all(), "LSN_TEST_DATABASE_URL is not set but LSN_TEST_REQUIRE_ALL=1");
    if !set {
        eprintln!("skipping PostgreSQL variant: LSN_TEST_DATABASE_URL not set (scripts/test.sh sets it)");
    }
    set
}

/// Runs `$scenario(app)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both {
    ($name:ident, $scenario:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(app) = $crate::common::TestApp::spawn($crate::common::Backend::Sqlite, &[]).await {
                    super::$scenario(app).await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::common::TestApp::spawn($crate::common::Backend::Postgres, &[]).await {
                    super::$scenario(app).await;
                }
            }
        }
    };
}

pub fn require_all() -> bool {
    std::env::var("LSN_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// A fresh, empty database of the given kind: the `DATABASE_URL` to use and what to drop after.
pub async fn fresh_database(backend: Backend) -> Option<(String, Option<tempfile::TempDir>)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("lsn.db").display());
            Some((url, Some(dir)))
        }
        Backend::Postgres => {
            let Ok(admin) = std::env::var("LSN_TEST_DATABASE_URL") else {
                assert!(!require_all(), "LSN_TEST_DATABASE_URL is not set but LSN_TEST_REQUIRE_ALL=1");
                eprintln!("skipping PostgreSQL variant: LSN_TEST_DATABASE_URL not set (scripts/test.sh sets it)");
                return None;
            };
            let name = format!("lsn_t_{}", uuid::Uuid::new_v4().simple());
            let pool = pg_admin(&admin).await;
            lsn_db::query(&format!("CREATE DATABASE {name}")).execute(pool.write()).await.expect("create database");
            pool.close().await;
            let mut url = url::Url::parse(&admin).expect("url");
            url.set_path(&format!("/{name}"));
            Some((url.to_string(), None))
        }
    }
}

/// The test PostgreSQL's maintenance database (to create, close and open test databases).
pub async fn pg_admin(url: &str) -> lsn_db::Db {
    let target = lsn_db::DbTarget::parse(url).expect("admin url");
    lsn_db::Db::connect_target(&target, 2, lsn_core::config::Durability::Full, 1).await.expect("connect to test PostgreSQL")
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub rt: Runtime,
    pub clock: ManualClock,
    pub backend: Backend,
    pub database_url: String,
    pub data_dir: tempfile::TempDir,
    _sqlite_dir: Option<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    pairs: Vec<(String, String)>,
    background: bool,
    extra: fn() -> Vec<lsn_ops::Module>,
}

impl TestApp {
    /// Starts LSN with `extra` configuration pairs; `None` when the backend is unavailable here.
    /// Jobs and schedules run only when the test runs them ([`TestApp::run_jobs`]).
    pub async fn spawn(backend: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
        Self::spawn_with(backend, extra, false).await
    }

    /// Starts LSN as `lsn serve` runs it: with `background`, its workers and scheduler run on
    /// their own (following the test's manual clock).
    pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)], background: bool) -> Option<TestApp> {
        Self::spawn_with_modules(backend, extra, background, Vec::new).await
    }

    /// [`TestApp::spawn_with`] with the modules `modules` makes folded in beside the app's own
    /// (made again at each restart).
    pub async fn spawn_with_modules(
        backend: Backend,
        extra: &[(&str, &str)],
        background: bool,
        modules: fn() -> Vec<lsn_ops::Module>,
    ) -> Option<TestApp> {
        let (database_url, sqlite_dir) = fresh_database(backend).await?;
        let data_dir = tempfile::tempdir().expect("tempdir");
        let mut pairs: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), database_url.clone()),
            ("LSN_DATA_DIR".into(), data_dir.path().display().to_string()),
            ("LSN_DEMO".into(), "false".into()),
            ("LSN_DB_SYNCHRONOUS".into(), "normal".into()),
            // Every test's buyers come from one loopback address, and many share one e-mail
            // address and one street: the caps on unpaid checkouts are tested where they are
            // set (`hoarding.rs`).
            ("LSN_MAX_UNPAID_PER_NETWORK".into(), "0".into()),
            ("LSN_MAX_UNPAID_CHECKOUTS".into(), "100000".into()),
        ];
        for (k, v) in extra {
            pairs.retain(|(pk, _)| pk != k);
            pairs.push((k.to_string(), v.to_string()));
        }
        let clock = ManualClock::new(chrono::Utc::now());
        let (addr, rt, shutdown, server) = Self::start(&pairs, &clock, background, modules).await;
        Some(TestApp {
            addr,
            base: format!("http://{addr}"),
            rt,
            clock,
            backend,
            database_url,
            data_dir,
            _sqlite_dir: sqlite_dir,
            shutdown: Some(shutdown),
            server: Some(server),
            pairs,
            background,
            extra: modules,
        })
    }

    async fn start(
        pairs: &[(String, String)],
        clock: &ManualClock,
        background: bool,
        modules: fn() -> Vec<lsn_ops::Module>,
    ) -> (SocketAddr, Runtime, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut pairs = pairs.to_vec();
        if !pairs.iter().any(|(k, _)| k == "LSN_PUBLIC_URL") {
            pairs.push(("LSN_PUBLIC_URL".into(), format!("http://{addr}")));
        }
        let cfg = Config::from_sources(None, pairs).expect("config");
        let rt = lsn_web::prepare_with(cfg, Arc::new(clock.clone()), modules()).await.expect("prepare");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serve_rt = rt.clone();
        let server = tokio::spawn(async move {
            let _ = lsn_web::serve(serve_rt, listener, background, async {
                let _ = rx.await;
            })
            .await;
        });
        (addr, rt, tx, server)
    }

    /// Stops this process (draining it as `lsn serve` does on SIGTERM) and starts a new one on the
    /// same database and clock, as after a restart.
    pub async fn restart(mut self) -> TestApp {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        let pairs: Vec<(String, String)> = self.pairs.iter().filter(|(k, _)| k != "LSN_PUBLIC_URL").cloned().collect();
        let (addr, rt, shutdown, server) = Self::start(&pairs, &self.clock, self.background, self.extra).await;
        self.addr = addr;
        self.base = format!("http://{addr}");
        self.rt = rt;
        self.shutdown = Some(shutdown);
        self.server = Some(server);
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A client with its own cookie jar (a browser).
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().expect("client")
    }

    pub async fn run_jobs(&self) -> Vec<lsn_ops::jobs::RunReport> {
        self.rt.run_jobs_until_idle().await.expect("jobs")
    }

    pub fn identity(&self) -> &lsn_identity::Identity {
        &self.rt.state.identity
    }

    /// Creates an active account directly.
    pub async fn user(&self, email: &str, role: lsn_identity::Role) -> lsn_identity::User {
        self.identity().create_user(&lsn_identity::audit::Actor::system(), email, "Test Person", PASSWORD, role).await.expect("create user")
    }

    /// Signs `email` in with a new browser; returns it and its CSRF token.
    pub async fn login(&self, email: &str) -> (reqwest::Client, String) {
        let c = self.client();
        let r = c
            .post(self.url("/api/auth/login"))
            .json(&serde_json::json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), 200, "login of {email}");
        let body: Value = r.json().await.expect("json");
        (c, body["csrf_token"].as_str().expect("csrf").to_string())
    }

    /// Mail in the development mailbox for `to`, newest first (after running the mail jobs).
    pub async fn mails_to(&self, to: &str) -> Vec<lsn_mail::MailboxEntry> {
        self.run_jobs().await;
        lsn_mail::list_mailbox(&self.rt.state.db, Some(to), 50).await.expect("mailbox")
    }

    /// Creates a product from its JSON input (as an admin would post it).
    pub async fn product(&self, input: Value) -> lsn_catalog::Product {
        self.rt.state.commerce.catalog.create(&serde_json::from_value(input).expect("product input")).await.expect("create product")
    }

    /// Receives `qty` units of `variant` into bin A-01-1.
    pub async fn stock(&self, variant: &str, qty: i64) {
        use lsn_core::Clock;
        let now = self.clock.now_ms();
        let v = variant.to_string();
        self.rt
            .state
            .db
            .transaction(move |tx| {
                let v = v.clone();
                Box::pin(async move { lsn_warehouse::stock::receive(tx, now, &v, "A-01-1", qty, "received", "test", None, "test").await })
            })
            .await
            .expect("stock");
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        lsn_identity::audit::list(&self.rt.state.db, None, None, 500).await.expect("audit").into_iter().map(|e| e.action).collect()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The `lsn_session=…` pair a sign-in answer sets (for a `Cookie` header).
pub fn session_cookie(r: &reqwest::Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with("lsn_session="))
        .expect("a session cookie")
        .to_string()
}

/// The token in a link like `…?token=XYZ` inside a mail body.
pub fn token_in(text: &str) -> String {
    let start = text.find("token=").expect("token in mail") + 6;
    text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

pub async fn json(r: reqwest::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    let text = r.text().await.expect("body");
    (s, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// A Stripe event's body and `Stripe-Signature` header, signed with `secret` at the app's now.
pub fn signed_event(app: &TestApp, secret: &str, event: &Value) -> (String, String) {
    use lsn_core::Clock;
    let body = event.to_string();
    let t = app.clock.now().timestamp();
    let sig = lsn_commerce::payments::webhook::sign(secret, t, body.as_bytes());
    (body, format!("t={t},v1={sig}"))
}

/// Delivers a Stripe event to the webhook as Stripe would, signed with `secret`.
pub async fn deliver_event(app: &TestApp, secret: &str, event: &Value) -> (u16, Value) {
    let (body, sig) = signed_event(app, secret, event);
    json(
        reqwest::Client::new()
            .post(app.url("/api/webhooks/stripe"))
            .header("stripe-signature", sig)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("webhook"),
    )
    .await
}

/// A running `lsn serve` process and its port; killed when dropped.
pub struct Node {
    pub child: std::process::Child,
    pub port: u16,
    /// What the server logged until it listened.
    pub startup: Vec<String>,
    pub log: std::sync::mpsc::Receiver<String>,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `redis-server` of the test's own on a free port, stopped when dropped.
pub struct Redis {
    child: std::process::Child,
    pub url: String,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Redis, or `None` (with a note) where it is not installed and the run allows skipping.
pub async fn start_redis() -> Option<Redis> {
    if std::process::Command::new("redis-server").arg("--version").output().is_err() {
        assert!(!require_all(), "redis-server missing but LSN_TEST_REQUIRE_ALL=1");
        eprintln!("skipping: redis-server not installed (scripts/test.sh installs it)");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let child = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start redis");
    let redis = Redis { child, url: format!("redis://127.0.0.1:{port}/") };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Some(redis)
}

/// Starts `lsn serve` on a free port with `env`, waiting until it listens.
pub fn spawn_node(dir: &std::path::Path, env: &[(&str, &str)]) -> Node {
    use std::io::{BufRead, BufReader};
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_lsn"));
    cmd.current_dir(dir)
        .arg("serve")
        .env("PORT", "0")
        .env("LSN_LOG", "info")
        .env("LSN_DEMO", "false")
        .env_remove("DATABASE_URL")
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn lsn serve");
    let stderr = child.stderr.take();
    let (tx, rx) = std::sync::mpsc::channel();
    // From here on the node is killed and waited for when dropped, panics included.
    let mut node = Node { child, port: 0, startup: Vec::new(), log: rx };
    let stderr = stderr.expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    loop {
        let line = node.log.recv_timeout(std::time::Duration::from_secs(60)).expect("server started");
        let port = line
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse::<u16>().ok());
        node.startup.push(line);
        if let Some(port) = port {
            node.port = port;
            return node;
        }
    }
}

/// What a fake provider does with the requests that reach it; tests switch faults on and off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fault {
    /// Answers normally.
    #[default]
    None,
    /// Answers 503 without doing anything.
    Down,
    /// Accepts the request and never answers.
    Hang,
    /// Answers normally after a delay.
    Slow(std::time::Duration),
    /// Does the work, then never answers: the caller cannot know it happened.
    LoseReply,
}

/// A fault switch shared by a fake server and the test, with a count of requests it saw.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<std::sync::Mutex<(Fault, u64)>>);

impl Faults {
    pub fn set(&self, f: Fault) {
        self.0.lock().expect("faults").0 = f;
    }

    /// Requests that reached the fake, whatever it did with them.
    pub fn seen(&self) -> u64 {
        self.0.lock().expect("faults").1
    }

    /// Puts the switch in front of every route of `router`.
    pub fn wrap(&self, router: axum::Router) -> axum::Router {
        router.layer(axum::middleware::from_fn_with_state(self.clone(), apply_fault))
    }
}

async fn apply_fault(
    axum::extract::State(f): axum::extract::State<Faults>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let fault = {
        let mut g = f.0.lock().expect("faults");
        g.1 += 1;
        g.0
    };
    let never = || tokio::time::sleep(std::time::Duration::from_secs(3600));
    match fault {
        Fault::None => next.run(req).await,
        Fault::Down => (axum::http::StatusCode::SERVICE_UNAVAILABLE, "fake outage").into_response(),
        Fault::Hang => {
            never().await;
            axum::http::StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Fault::Slow(d) => {
            tokio::time::sleep(d).await;
            next.run(req).await
        }
        Fault::LoseReply => {
            let _ = next.run(req).await;
            never().await;
            axum::http::StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}
